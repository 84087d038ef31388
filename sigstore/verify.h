/*
 * verify.h - offline verification of a Sigstore bundle against a trust root, in the order of
 * the Sigstore client spec: observer times (Rekor v1 SETs, RFC 3161 timestamps), transparency
 * log entries (body matches this signature, key and digest; inclusion proof and checkpoint),
 * the Fulcio certificate at every verified time (chain, EKU, SCT), the signature over the
 * artifact (or DSSE PAE and in-toto subject), and last the signer identity policy.
 */
#ifndef SIGSTORE_VERIFY_H
#define SIGSTORE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sigstore/bundle.h"
#include "sigstore/identity.h"
#include "sigstore/trust_root.h"

#define SIGSTORE_VERIFY_MAX_SKEW 300 /* seconds an integrated time may lie ahead of now */

struct sigstore_verify_opts {
	const struct sigstore_trust_root *trust_root; /* required */
	/* The artifact: its bytes, or else its SHA-256 digest (32 bytes). One is required. */
	const unsigned char *artifact;
	size_t artifact_len;
	const unsigned char *artifact_sha256;
	/* Keyed verification: the signer's public key. NULL = keyless (Fulcio certificate). */
	EVP_PKEY *public_key;
	/* Keyless: exact expected values and/or a policy; at least one must be given. */
	const char *expected_subject;
	const char *expected_issuer;
	const struct sigstore_identity_policy *policy;
	bool skip_sct;	       /* enforce_sct: false (private deployments without CT) */
	const char *rekor_url; /* if set, a verified entry must come from this trusted log */
	int64_t now;	       /* Unix seconds; 0 = the current time */
	/* Ignore transparency log entries: a keyless bundle then needs an RFC 3161 timestamp
	 * for its verified time, else it fails ("keyless signatures need the transparency
	 * log"); the result has log_index -1 and an empty log_id_hex. */
	bool skip_tlog;
};

struct sigstore_verify_result {
	char *subject;	     /* keyless: SAN identity */
	char *issuer;	     /* keyless: OIDC issuer */
	char *signature_b64; /* the verified signature */
	char log_id_hex[65]; /* first verified tlog entry */
	int64_t log_index;
	int64_t signed_time;  /* integrated time (SET) or RFC 3161 time of that entry */
	char *set_b64;	      /* its signed entry timestamp, NULL for Rekor v2 */
	char *predicate_type; /* DSSE: the statement's predicateType */
	bool keyed;
};

/* 0 when verified; -EBADMSG/-EKEYEXPIRED/-EPROTO/-ENOENT... with err naming the failed check. */
int sigstore_verify_bundle(const struct sigstore_bundle *b, const struct sigstore_verify_opts *o,
			   struct sigstore_verify_result *res, char err[256]);
void sigstore_verify_result_clear(struct sigstore_verify_result *res);

#endif
