/*
 * dsse.h - DSSE pre-authentication encoding and in-toto Statement checks (v0.1 and v1): the
 * statement must name the artifact's digest among its subjects.
 */
#ifndef SIGSTORE_DSSE_H
#define SIGSTORE_DSSE_H

#include <stddef.h>

#include "sigstore/util.h"

#define SIGSTORE_DSSE_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define SIGSTORE_DSSE_MAX_SUBJECTS 1024
#define SIGSTORE_DSSE_MAX_DEPTH	   64
#define SIGSTORE_DSSE_MAX_TYPE	   256 /* bytes of a payloadType */

/* PAE(type, payload) = "DSSEv1 <len> <type> <len> <payload>"; caller frees *out. */
int sigstore_dsse_pae(const char *type, const unsigned char *payload, size_t len,
		      unsigned char **out, size_t *out_len);

/*
 * payload is an in-toto Statement (v0.1 or v1) with a subject whose digest under h equals
 * digest. On success *predicate_type (if not NULL) is a copy the caller frees.
 */
int sigstore_dsse_check_statement(const unsigned char *payload, size_t len, enum sigstore_hash h,
				  const unsigned char *digest, size_t digest_len,
				  char **predicate_type, char err[256]);

#endif
