/*
 * cosign.h - cosign's legacy signature formats as Sigstore bundles: a .sig layer (simple-signing
 * payload + signature/certificate/chain/bundle annotations) or an .att layer (a DSSE envelope +
 * the same annotations) becomes a struct sigstore_bundle of v0.1 semantics (the signed entry
 * timestamp is required, an inclusion proof is not) that sigstore/verify.h checks like any
 * other. Parsing is strict and bounded; err names the annotation and the reason.
 */
#ifndef SIGSTORE_COSIGN_H
#define SIGSTORE_COSIGN_H

#include "sigstore/bundle.h"
#include "sigstore/oci.h"

#define SIGSTORE_COSIGN_MAX_CERT       16384	  /* bytes of the certificate annotation */
#define SIGSTORE_COSIGN_MAX_CHAIN      65536	  /* bytes of the chain annotation */
#define SIGSTORE_COSIGN_MAX_BUNDLE     (1u << 20) /* bytes of the bundle annotation */
#define SIGSTORE_COSIGN_MAX_ENVELOPE   (8u << 20) /* bytes of an .att DSSE envelope */
#define SIGSTORE_COSIGN_MAX_SIG	       1024	  /* bytes of a decoded signature or SET */
#define SIGSTORE_COSIGN_MAX_DEPTH      16	  /* JSON nesting of annotations / envelopes */
#define SIGSTORE_COSIGN_MAX_BODY_DEPTH 16	  /* JSON nesting of the tlog entry body */

#define SIGSTORE_COSIGN_ANN_SIGNATURE	"dev.cosignproject.cosign/signature"
#define SIGSTORE_COSIGN_ANN_CERTIFICATE "dev.sigstore.cosign/certificate"
#define SIGSTORE_COSIGN_ANN_CHAIN	"dev.sigstore.cosign/chain"
#define SIGSTORE_COSIGN_ANN_BUNDLE	"dev.sigstore.cosign/bundle"

/*
 * Converts s (kind SIGSTORE_OCI_SIG_LEGACY or SIGSTORE_OCI_SIG_ATTESTATION) into a bundle:
 * leaf from the certificate annotation, the chain annotation minus self-signed roots, one tlog
 * entry from cosign's bundle annotation {SignedEntryTimestamp, Payload{body, integratedTime,
 * logIndex, logID}}; legacy: a message signature (the signature annotation) whose artifact is
 * s->data, the simple-signing payload; attestation: the envelope in s->data (exactly one
 * signature), whose statement subject must be the image digest. *out is owned by the caller
 * (sigstore_bundle_free). 0, or -EPROTO (malformed) / -EINVAL (another kind) / -ENOMEM.
 */
int sigstore_cosign_bundle(const struct sigstore_oci_sig *s, struct sigstore_bundle **out,
			   char err[256]);

#endif
