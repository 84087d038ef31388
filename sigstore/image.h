/*
 * image.h - is this container image signed by an allowed identity? Collects every signature of
 * one image digest from its registry (sigstore/oci.h): cosign v3 referrer bundles, legacy .sig
 * layers and .att attestations; verifies each offline against the trust root (sigstore/verify.h,
 * sigstore/cosign.h), applies the identity policy, and unless skip_provenance requires a SLSA
 * provenance attestation (predicate v0.2 or v1) from an allowed identity as well.
 * Blocking (libcurl): call it from a worker thread. Knows nothing of Kubernetes.
 */
#ifndef SIGSTORE_IMAGE_H
#define SIGSTORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sigstore/identity.h"
#include "sigstore/oci.h"
#include "sigstore/trust_root.h"

#define SIGSTORE_SLSA_PROVENANCE_V02 "https://slsa.dev/provenance/v0.2"
#define SIGSTORE_SLSA_PROVENANCE_V1  "https://slsa.dev/provenance/v1"
/*
 * DSSE statements that vouch for the image: cosign v3's signature statement, and the generic
 * predicate `cosign attest` writes without --type. Typed attestations (SBOMs, scan results,
 * SLSA provenance...) are statements about an image, not a signature of it.
 */
#define SIGSTORE_COSIGN_SIGN_V1	       "https://sigstore.dev/cosign/sign/v1"
#define SIGSTORE_COSIGN_ATTESTATION_V1 "https://cosign.sigstore.dev/attestation/v1"

/* The outcome, as the metrics' `result` label names it. */
enum sigstore_image_result {
	SIGSTORE_IMAGE_VERIFIED,
	SIGSTORE_IMAGE_NOT_SIGNED,	  /* no signature at all, or none for this digest */
	SIGSTORE_IMAGE_IDENTITY_MISMATCH, /* valid signatures, none from an allowed identity */
	SIGSTORE_IMAGE_NETWORK_ERROR,	  /* registry unreachable, 401/403, 5xx */
	SIGSTORE_IMAGE_TIMEOUT,		  /* a request or the overall deadline expired */
	SIGSTORE_IMAGE_CANCELLED,	  /* *cancel became true */
	SIGSTORE_IMAGE_ERROR,		  /* anything else: bad signatures, missing provenance... */
	SIGSTORE_IMAGE_RESULT_COUNT
};

/* "verified", "not_signed", "identity_mismatch", "network_error", "timeout", "cancelled",
 * "error". */
const char *sigstore_image_result_name(enum sigstore_image_result r);

struct sigstore_image_opts {
	const struct sigstore_trust_root *trust_root;  /* required */
	const struct sigstore_identity_policy *policy; /* required, at least one rule */
	const char *rekor_url;			       /* NULL = any trusted log */
	bool skip_provenance;			       /* do not require SLSA provenance */
	bool skip_transparency_log;		       /* keyless signatures then fail */
	bool skip_sct;				       /* enforce_sct: false */
	int64_t now;				       /* Unix seconds; 0 = the current time */
};

struct sigstore_image_verification {
	enum sigstore_image_result result;
	char reason[256]; /* why it is not verified (names the image and the failed check) */
	/* When verified: the first verified signature (registry order: referrers, .sig, .att). */
	char *subject;
	char *issuer;
	char *signature_b64;
	char log_id_hex[65];
	int64_t log_index;
	int64_t integrated_time;
	char *set_b64;	   /* signed entry timestamp, NULL for Rekor v2 entries */
	size_t n_found;	   /* signatures fetched */
	size_t n_verified; /* signatures that verified under the policy (>1: "several") */
	bool provenance_verified;
	char *provenance_type; /* predicateType of the verified provenance, or NULL */
};

/*
 * Verifies the image ref->digest (must be set; resolve tags with sigstore_oci_resolve_digest
 * first) through client c. Always fills out (result and reason); returns 0 when verified, else
 * a negative errno matching out->result (-ENOENT not_signed, -EACCES identity_mismatch, -EIO
 * network_error, -ETIMEDOUT timeout, -ECANCELED cancelled, other error). Clear out with
 * sigstore_image_verification_clear.
 */
int sigstore_image_verify(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			  const struct sigstore_image_opts *o,
			  struct sigstore_image_verification *out);
void sigstore_image_verification_clear(struct sigstore_image_verification *v);

/*
 * The decision alone, without a registry: verifies every item of sigs (as fetched for the
 * image digest "sha256:<hex>") under o and fills out exactly as sigstore_image_verify does
 * (no items: not_signed). A referrer bundle is checked against the image digest (DSSE
 * statement subject, or message signature over the manifest digest); a .sig layer against its
 * simple-signing payload, which must name digest; an .att layer against the digest. Items with
 * a SLSA provenance predicate (v0.2 or v1, a JSON object) count as provenance, all other
 * verified items as signatures. Same return values as sigstore_image_verify.
 */
int sigstore_image_verify_sigs(const struct sigstore_oci_sigs *sigs, const char *digest,
			       const struct sigstore_image_opts *o,
			       struct sigstore_image_verification *out);

#endif
