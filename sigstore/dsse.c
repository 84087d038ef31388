/*
 * dsse.c - see dsse.h.
 */
#include "sigstore/dsse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define STATEMENT_V01 "https://in-toto.io/Statement/v0.1"
#define STATEMENT_V1  "https://in-toto.io/Statement/v1"

int sigstore_dsse_pae(const char *type, const unsigned char *payload, size_t len,
		      unsigned char **out, size_t *out_len)
{
	size_t tlen = strlen(type), hlen, total;
	char head[SIGSTORE_DSSE_MAX_TYPE + 64];
	int n;

	*out = NULL;
	*out_len = 0;
	if (tlen > SIGSTORE_DSSE_MAX_TYPE)
		return -EINVAL;
	n = snprintf(head, sizeof(head), "DSSEv1 %zu %s %zu ", tlen, type, len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -EINVAL;
	hlen = (size_t)n;
	total = hlen + len;
	*out = malloc(total + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, head, hlen);
	if (len)
		memcpy(*out + hlen, payload, len);
	(*out)[total] = 0;
	*out_len = total;
	return 0;
}

static const char *hash_key(enum sigstore_hash h)
{
	switch (h) {
	case SIGSTORE_HASH_SHA256:
		return "sha256";
	case SIGSTORE_HASH_SHA384:
		return "sha384";
	case SIGSTORE_HASH_SHA512:
		return "sha512";
	default:
		return NULL;
	}
}

int sigstore_dsse_check_statement(const unsigned char *payload, size_t len, enum sigstore_hash h,
				  const unsigned char *digest, size_t digest_len,
				  char **predicate_type, char err[256])
{
	const char *type, *pred, *key = hash_key(h);
	json_t *root = NULL, *subjects, *s;
	bool found = false;
	size_t i;
	int ret;

	if (predicate_type)
		*predicate_type = NULL;
	ret = sigstore_util_json_parse((const char *)payload, len, SIGSTORE_DSSE_MAX_DEPTH,
				       "in-toto statement", &root, err);
	if (ret)
		goto out;
	ret = -EPROTO;
	if (!json_is_object(root)) {
		snprintf(err, 256, "in-toto statement: not a JSON object");
		goto out;
	}
	ret = sigstore_util_json_str(root, "_type", "in-toto statement", &type, err);
	if (!ret)
		ret = sigstore_util_json_str(root, "predicateType", "in-toto statement", &pred,
					     err);
	if (!ret)
		ret = sigstore_util_json_arr(root, "subject", "in-toto statement", &subjects, err);
	if (ret)
		goto out;
	ret = -EPROTO;
	if (!type || (strcmp(type, STATEMENT_V01) && strcmp(type, STATEMENT_V1))) {
		snprintf(err, 256, "in-toto statement._type: not Statement v0.1 or v1");
		goto out;
	}
	if (!subjects || json_array_size(subjects) == 0) {
		snprintf(err, 256, "in-toto statement.subject: none");
		goto out;
	}
	if (json_array_size(subjects) > SIGSTORE_DSSE_MAX_SUBJECTS) {
		snprintf(err, 256, "in-toto statement.subject: more than %d",
			 SIGSTORE_DSSE_MAX_SUBJECTS);
		goto out;
	}
	if (!key || digest_len != sigstore_util_hash_len(h)) {
		snprintf(err, 256, "in-toto statement: unsupported artifact digest");
		ret = -EINVAL;
		goto out;
	}
	json_array_foreach (subjects, i, s) {
		unsigned char d[SIGSTORE_MAX_DIGEST];
		json_t *dg = json_is_object(s) ? json_object_get(s, "digest") : NULL;
		json_t *v = json_is_object(dg) ? json_object_get(dg, key) : NULL;

		if (!json_is_object(s) || !json_is_object(dg)) {
			snprintf(err, 256, "in-toto statement.subject[%zu]: no digest object", i);
			goto out;
		}
		if (!json_is_string(v))
			continue;
		if (sigstore_util_hex_decode(json_string_value(v), d, digest_len) == 0 &&
		    !memcmp(d, digest, digest_len))
			found = true;
	}
	if (!found) {
		snprintf(err, 256, "in-toto statement: no subject has the artifact's %s digest",
			 key);
		ret = -EBADMSG;
		goto out;
	}
	if (predicate_type && pred) {
		*predicate_type = strdup(pred);
		if (!*predicate_type) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}
