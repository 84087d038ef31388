/*
 * fuzz_simplesign.c - drives the cosign .sig layer path: the input is a simple-signing payload,
 * optionally followed by a NUL, cosign's bundle annotation, another NUL and the signature
 * annotation. The payload goes through sigstore_oci_simplesign_check (against a fixed digest
 * and against the digest it names, when it names one) and, with the annotations and a real
 * Fulcio leaf, through sigstore_cosign_bundle.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/bundle.h"
#include "sigstore/cosign.h"
#include "sigstore/oci.h"
#include "tests/fuzz/fuzz_sigstore.h"

#define DIGEST "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"

/* The next NUL-separated part of [*p, end): a NUL-terminated copy, or NULL when none is left. */
static char *next_part(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul;
	char *out;

	if (!*p)
		return NULL;
	nul = memchr(*p, 0, (size_t)(end - *p));
	out = strndup((const char *)*p, (size_t)((nul ? nul : end) - *p));
	*p = nul ? nul + 1 : NULL;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct sigstore_oci_sig s = {.kind = SIGSTORE_OCI_SIG_LEGACY};
	struct sigstore_bundle *b = NULL;
	char err[256] = "", *named;

	s.data = next_part(&p, end);
	s.layer.bundle = next_part(&p, end);
	s.layer.signature = next_part(&p, end);
	if (!s.data)
		goto out;
	s.data_len = strlen(s.data);
	(void)sigstore_oci_simplesign_check(s.data, s.data_len, DIGEST, err);
	named = strstr(s.data, "sha256:");
	if (named && strlen(named) >= 71) {
		char d[72];

		memcpy(d, named, 71);
		d[71] = '\0';
		(void)sigstore_oci_simplesign_check(s.data, s.data_len, d, err);
	}
	fuzz_check_err(err);
	s.layer.certificate = (char *)fuzz_leaf_pem;
	if (fuzz_cosign_bundle(&s, &b, err) == 0) {
		if (b->is_dsse || !b->sig || b->n_entries != 1 || !b->entries[0].set)
			abort();
		sigstore_bundle_free(b);
	}
out:
	free(s.data);
	free(s.layer.bundle);
	free(s.layer.signature);
	return 0;
}
