/*
 * bundle.h - Sigstore bundle parsing (media types v0.1, v0.2, v0.3): verification material
 * (certificate, chain or public-key hint), transparency log entries, RFC 3161 timestamps, and
 * the content (a message signature or a DSSE envelope). Parsing checks shape and bounds only;
 * sigstore/verify.h decides whether the bundle is trustworthy.
 */
#ifndef SIGSTORE_BUNDLE_H
#define SIGSTORE_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "sigstore/util.h"

#define SIGSTORE_BUNDLE_MAX_SIZE       (8u << 20) /* bytes of bundle JSON */
#define SIGSTORE_BUNDLE_MAX_DEPTH      32
#define SIGSTORE_BUNDLE_MAX_CHAIN      8	  /* certificates in x509CertificateChain */
#define SIGSTORE_BUNDLE_MAX_ENTRIES    32	  /* tlog entries */
#define SIGSTORE_BUNDLE_MAX_TIMESTAMPS 32	  /* RFC 3161 timestamps */
#define SIGSTORE_BUNDLE_MAX_PROOF      64	  /* inclusion proof hashes */
#define SIGSTORE_BUNDLE_MAX_SIGS       16	  /* DSSE signatures (exactly one is accepted) */
#define SIGSTORE_BUNDLE_MAX_BLOB       (4u << 20) /* one decoded field (payload, body) */

struct sigstore_tlog_entry {
	int64_t log_index;
	unsigned char log_id[32];
	size_t log_id_len;
	char kind[32];
	char version[16];
	int64_t integrated_time;
	bool has_integrated_time;
	unsigned char *set; /* inclusionPromise.signedEntryTimestamp (DER ECDSA), or NULL */
	size_t set_len;
	bool has_proof;
	int64_t proof_index;
	int64_t tree_size;
	unsigned char root_hash[32];
	unsigned char (*hashes)[32];
	size_t n_hashes;
	char *checkpoint;    /* signed note text, or NULL */
	unsigned char *body; /* canonicalizedBody, decoded */
	size_t body_len;
};

struct sigstore_bundle {
	int minor; /* 1, 2 or 3: media type version 0.<minor> */
	/* verification material: a leaf certificate, or a public key (hint only) */
	X509 *leaf;
	X509 *extra[SIGSTORE_BUNDLE_MAX_CHAIN]; /* the rest of a v0.1/v0.2 chain */
	size_t n_extra;
	bool has_public_key;
	char key_hint[128];
	struct sigstore_tlog_entry *entries;
	size_t n_entries;
	unsigned char *timestamps[SIGSTORE_BUNDLE_MAX_TIMESTAMPS]; /* DER TimeStampResp */
	size_t timestamp_len[SIGSTORE_BUNDLE_MAX_TIMESTAMPS];
	size_t n_timestamps;
	/* content */
	bool is_dsse;
	enum sigstore_hash digest_alg; /* message signature: messageDigest, if present */
	unsigned char digest[SIGSTORE_MAX_DIGEST];
	size_t digest_len;
	unsigned char *sig; /* the (first) signature */
	size_t sig_len;
	size_t n_sigs; /* DSSE: number of signatures in the envelope */
	char *payload_type;
	unsigned char *payload;
	size_t payload_len;
};

/* Parses bundle JSON; *out is owned by the caller (sigstore_bundle_free). */
int sigstore_bundle_parse(const char *json, size_t len, struct sigstore_bundle **out,
			  char err[256]);
int sigstore_bundle_load(const char *path, struct sigstore_bundle **out, char err[256]);
void sigstore_bundle_free(struct sigstore_bundle *b);

#endif
