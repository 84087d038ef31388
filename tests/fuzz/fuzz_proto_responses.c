/* fuzz_proto_responses.c - libFuzzer target for the response decoders used by attestctl
 * (X509SVIDResponse, X509BundlesResponse, JWTSVIDResponse, JWTBundlesResponse,
 * ValidateJWTSVIDResponse with its google.protobuf.Struct): each input goes through all five;
 * whatever one accepts must re-encode and decode to the same value. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct proto_bytes *a, const struct proto_bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int same_map(const struct proto_map_entry *a, const struct proto_map_entry *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!same(&a[i].key, &b[i].key) || !same(&a[i].value, &b[i].value))
			return 0;
	}
	return 1;
}

static int same_list(const struct proto_bytes *a, const struct proto_bytes *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!same(&a[i], &b[i]))
			return 0;
	}
	return 1;
}

static void check_err(int r, const char *err, const char *msg)
{
	CHECK(r == -EPROTO || r == -EMSGSIZE || r == -ENOSPC);
	CHECK(strnlen(err, PROTO_ERR_MAX) < PROTO_ERR_MAX && strncmp(err, msg, strlen(msg)) == 0);
}

static void x509svid(const uint8_t *data, size_t size)
{
	struct proto_x509svid_response a, b;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	r = proto_decode_x509svid_response(data, size, &a, err);
	if (r < 0) {
		check_err(r, err, "X509SVIDResponse");
		CHECK(a.svids == NULL && a.crl == NULL && a.federated_bundles == NULL);
		return;
	}
	CHECK(proto_encode_x509svid_response(&a, &out) == 0);
	CHECK(proto_decode_x509svid_response(out.data, out.len, &b, err) == 0);
	CHECK(a.nsvids == b.nsvids && a.ncrl == b.ncrl &&
	      a.nfederated_bundles == b.nfederated_bundles);
	for (size_t i = 0; i < a.nsvids; i++) {
		CHECK(same(&a.svids[i].spiffe_id, &b.svids[i].spiffe_id));
		CHECK(same(&a.svids[i].x509_svid, &b.svids[i].x509_svid));
		CHECK(same(&a.svids[i].x509_svid_key, &b.svids[i].x509_svid_key));
		CHECK(same(&a.svids[i].bundle, &b.svids[i].bundle));
		CHECK(same(&a.svids[i].hint, &b.svids[i].hint));
	}
	CHECK(same_list(a.crl, b.crl, a.ncrl));
	CHECK(same_map(a.federated_bundles, b.federated_bundles, a.nfederated_bundles));
	proto_x509svid_response_clear(&a);
	proto_x509svid_response_clear(&b);
	proto_buf_free(&out);
}

static void x509bundles(const uint8_t *data, size_t size)
{
	struct proto_x509bundles_response a, b;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	r = proto_decode_x509bundles_response(data, size, &a, err);
	if (r < 0) {
		check_err(r, err, "X509BundlesResponse");
		CHECK(a.crl == NULL && a.bundles == NULL);
		return;
	}
	CHECK(proto_encode_x509bundles_response(&a, &out) == 0);
	CHECK(proto_decode_x509bundles_response(out.data, out.len, &b, err) == 0);
	CHECK(a.ncrl == b.ncrl && a.nbundles == b.nbundles);
	CHECK(same_list(a.crl, b.crl, a.ncrl) && same_map(a.bundles, b.bundles, a.nbundles));
	proto_x509bundles_response_clear(&a);
	proto_x509bundles_response_clear(&b);
	proto_buf_free(&out);
}

static void jwtsvid(const uint8_t *data, size_t size)
{
	struct proto_jwtsvid_response a, b;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	r = proto_decode_jwtsvid_response(data, size, &a, err);
	if (r < 0) {
		check_err(r, err, "JWTSVIDResponse");
		CHECK(a.svids == NULL);
		return;
	}
	CHECK(proto_encode_jwtsvid_response(&a, &out) == 0);
	CHECK(proto_decode_jwtsvid_response(out.data, out.len, &b, err) == 0);
	CHECK(a.nsvids == b.nsvids);
	for (size_t i = 0; i < a.nsvids; i++) {
		CHECK(same(&a.svids[i].spiffe_id, &b.svids[i].spiffe_id));
		CHECK(same(&a.svids[i].svid, &b.svids[i].svid));
		CHECK(same(&a.svids[i].hint, &b.svids[i].hint));
	}
	proto_jwtsvid_response_clear(&a);
	proto_jwtsvid_response_clear(&b);
	proto_buf_free(&out);
}

static void jwtbundles(const uint8_t *data, size_t size)
{
	struct proto_jwtbundles_response a, b;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	r = proto_decode_jwtbundles_response(data, size, &a, err);
	if (r < 0) {
		check_err(r, err, "JWTBundlesResponse");
		CHECK(a.bundles == NULL);
		return;
	}
	CHECK(proto_encode_jwtbundles_response(&a, &out) == 0);
	CHECK(proto_decode_jwtbundles_response(out.data, out.len, &b, err) == 0);
	CHECK(a.nbundles == b.nbundles && same_map(a.bundles, b.bundles, a.nbundles));
	proto_jwtbundles_response_clear(&a);
	proto_jwtbundles_response_clear(&b);
	proto_buf_free(&out);
}

static void validate(const uint8_t *data, size_t size)
{
	char err[PROTO_ERR_MAX], id[256], id2[256];
	json_t *claims = NULL, *claims2 = NULL;
	struct proto_buf out = {0};
	int r;

	r = proto_decode_validate_response(data, size, id, sizeof(id), &claims, err);
	if (r < 0) {
		check_err(r, err, "ValidateJWTSVIDResponse");
		CHECK(claims == NULL);
		return;
	}
	CHECK(json_is_object(claims) && strlen(id) < sizeof(id));
	r = proto_encode_validate_response(id, claims, &out);
	CHECK(r == 0 || r == -EMSGSIZE); /* empty Values come back as null_value: may grow */
	if (r == 0) {
		r = proto_decode_validate_response(out.data, out.len, id2, sizeof(id2), &claims2,
						   err);
		CHECK(r == 0 && strcmp(id, id2) == 0 && json_equal(claims, claims2));
	}
	json_decref(claims);
	json_decref(claims2);
	proto_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	x509svid(data, size);
	x509bundles(data, size);
	jwtsvid(data, size);
	jwtbundles(data, size);
	validate(data, size);
	return 0;
}
