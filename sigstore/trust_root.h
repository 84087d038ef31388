/*
 * trust_root.h - Sigstore TrustedRoot (trusted_root.json): Fulcio CAs, Rekor logs (v1 ECDSA
 * and v2 Ed25519), CT logs and timestamp authorities, each with a validity window whose ends
 * are inclusive. Parsing is strict and bounded; a malformed entry rejects the whole root.
 */
#ifndef SIGSTORE_TRUST_ROOT_H
#define SIGSTORE_TRUST_ROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define SIGSTORE_TR_MAX_SIZE	(4u << 20) /* bytes of JSON */
#define SIGSTORE_TR_MAX_ENTRIES 64	   /* per list */
#define SIGSTORE_TR_MAX_CHAIN	8	   /* certificates per CA / TSA chain */
#define SIGSTORE_TR_MAX_URL	512

/* A closed interval [start, end] in Unix seconds; start is required, end is optional. */
struct sigstore_time_range {
	int64_t start;
	int64_t end;
	bool has_end;
};

/* A Rekor or CT log. */
struct sigstore_log {
	unsigned char log_id[32]; /* logId.keyId */
	EVP_PKEY *key;
	struct sigstore_time_range valid;
	char base_url[SIGSTORE_TR_MAX_URL];
};

/* A Fulcio CA or a TSA: chain[0] is the issuing (or TSA leaf) certificate, the last the root. */
struct sigstore_ca {
	X509 *chain[SIGSTORE_TR_MAX_CHAIN];
	size_t n_chain;
	struct sigstore_time_range valid;
	char uri[SIGSTORE_TR_MAX_URL];
};

struct sigstore_trust_root {
	struct sigstore_log *tlogs;
	size_t n_tlogs;
	struct sigstore_log *ctlogs;
	size_t n_ctlogs;
	struct sigstore_ca *cas;
	size_t n_cas;
	struct sigstore_ca *tsas;
	size_t n_tsas;
};

/* Parses JSON text; *out is owned by the caller (sigstore_trust_root_free). */
int sigstore_trust_root_parse(const char *json, size_t len, struct sigstore_trust_root **out,
			      char err[256]);
int sigstore_trust_root_load(const char *path, struct sigstore_trust_root **out, char err[256]);
void sigstore_trust_root_free(struct sigstore_trust_root *tr);

/* The Rekor log with this log ID, or NULL. */
const struct sigstore_log *sigstore_trust_root_find_tlog(const struct sigstore_trust_root *tr,
							 const unsigned char *log_id, size_t len);
/* The tlog whose base URL equals url (trailing '/' ignored), or NULL. */
const struct sigstore_log *sigstore_trust_root_find_tlog_url(const struct sigstore_trust_root *tr,
							     const char *url);

bool sigstore_time_range_contains(const struct sigstore_time_range *r, int64_t t);

#endif
