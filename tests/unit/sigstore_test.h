/*
 * sigstore_test.h - helpers shared by the tests/unit/test_sigstore_*.c binaries: read a
 * fixture from $ATTESTD_FIXTURES (default <repo>/../shared/fixtures) in place, or skip the
 * test naming the missing file; flip one bit of a base64 JSON member.
 */
#ifndef TESTS_UNIT_SIGSTORE_TEST_H
#define TESTS_UNIT_SIGSTORE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigstore/util.h"

static inline void sst_fixture_path(char *buf, size_t n, const char *rel)
{
	const char *dir = getenv("ATTESTD_FIXTURES");
	const char *slash = strrchr(__FILE__, '/');

	if (dir && dir[0])
		snprintf(buf, n, "%s/%s", dir, rel);
	else if (slash) /* <repo>/tests/unit/x.h -> <repo>/../shared/fixtures */
		snprintf(buf, n, "%.*s/../../../shared/fixtures/%s", (int)(slash - __FILE__),
			 __FILE__, rel);
	else
		snprintf(buf, n, "../../../shared/fixtures/%s", rel);
}

/* The fixture's bytes (NUL-terminated, caller frees), or NULL (quietly: an optional file). */
static inline char *sst_read_optional(const char *rel, size_t *len)
{
	unsigned char *buf = NULL;
	char path[4096], err[256];

	sst_fixture_path(path, sizeof(path), rel);
	if (sigstore_util_read_file(path, SIGSTORE_MAX_FILE_SIZE, &buf, len, err))
		return NULL;
	return (char *)buf;
}

/* The fixture's bytes (NUL-terminated, caller frees), or NULL after printing a SKIP line. */
static inline char *sst_read_fixture(const char *rel, size_t *len)
{
	char path[4096], *buf = sst_read_optional(rel, len);

	if (!buf) {
		sst_fixture_path(path, sizeof(path), rel);
		printf("SKIP: needs fixture %s (set ATTESTD_FIXTURES)\n", path);
	}
	return buf;
}

/*
 * Flips bit `bit` of byte `idx` of the base64 string member obj[key]; 0 on success. An idx of
 * (size_t)-k counts k bytes back from the end.
 */
static inline int sst_flip_b64(json_t *obj, const char *key, size_t idx, int bit)
{
	json_t *v = json_object_get(obj, key);
	unsigned char *d = NULL;
	size_t len;
	char *enc;
	int ret = -1;

	if (!json_is_string(v) ||
	    sigstore_util_b64_decode(json_string_value(v), json_string_length(v), &d, &len))
		return -1;
	if (idx >= len && (size_t)0 - idx <= len)
		idx = len - ((size_t)0 - idx);
	if (idx < len) {
		d[idx] ^= (unsigned char)(1u << bit);
		enc = sigstore_util_b64_encode(d, len);
		if (enc && json_object_set_new(obj, key, json_string(enc)) == 0)
			ret = 0;
		free(enc);
	}
	free(d);
	return ret;
}

#endif
