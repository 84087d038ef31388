/*
 * test_proto.c - the hand-written protobuf codec of the Workload API messages: byte vectors
 * produced by the real protobuf implementation, hand-assembled vectors, round trips, every error
 * class and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal as bytes. Mind C's greedy \x escapes: split "\x0a" "a". */
#define LIT(s) (const uint8_t *)(s), sizeof(s) - 1
#define PB(s)                                       \
	(struct proto_bytes)                        \
	{                                           \
		(const uint8_t *)(s), sizeof(s) - 1 \
	}

static void assert_pb(const struct proto_bytes *b, const char *want)
{
	size_t n = strlen(want);

	if (b->len != n || (n && memcmp(b->data, want, n) != 0))
		fail_msg("bytes '%.*s' (%zu), want '%s'", (int)b->len,
			 b->len ? (const char *)b->data : "", b->len, want);
}

static void assert_buf(const struct proto_buf *b, const uint8_t *want, size_t n, const char *what)
{
	if (b->len != n || (n && memcmp(b->data, want, n) != 0)) {
		for (size_t i = 0; i < b->len; i++)
			fprintf(stderr, "%02x%s", b->data[i], i + 1 < b->len ? " " : "\n");
		fail_msg("%s: encoded %zu bytes, want %zu (or contents differ)", what, b->len, n);
	}
}

/*
 * ---- expected bytes from the real protobuf implementation ----
 * Produced with Debian's python3-protobuf 4.21.12 (/usr/bin/python3): the messages were declared
 * from the field list of issue 4 in a descriptor_pb2.FileDescriptorProto (map fields as
 * map_entry nested types, claims as google.protobuf.Struct), filled as in the comment above each
 * array, and serialized with SerializeToString(deterministic=True) (map keys sorted).
 */

/* struct_pb2.Struct().update(json.loads(CLAIMS_JSON)) */
#define CLAIMS_JSON                                                                           \
	"{\"aud\": [\"a\", \"b\"], \"e\": {}, \"exp\": 1700000000, \"f\": false, \"l\": [], " \
	"\"n\": null, \"neg\": -2.25, \"nested\": {\"deep\": {\"t\": true, \"x\": 1.5}, "     \
	"\"list\": "                                                                          \
	"[1, \"two\", [null]]}, \"s\": \"h\\u00e9llo\"}"
static const uint8_t py_struct[] = {
	0x0a, 0x13, 0x0a, 0x03, 0x61, 0x75, 0x64, 0x12, 0x0c, 0x32, 0x0a, 0x0a, 0x03, 0x1a, 0x01,
	0x61, 0x0a, 0x03, 0x1a, 0x01, 0x62, 0x0a, 0x07, 0x0a, 0x01, 0x65, 0x12, 0x02, 0x2a, 0x00,
	0x0a, 0x10, 0x0a, 0x03, 0x65, 0x78, 0x70, 0x12, 0x09, 0x11, 0x00, 0x00, 0x00, 0x40, 0xfc,
	0x54, 0xd9, 0x41, 0x0a, 0x07, 0x0a, 0x01, 0x66, 0x12, 0x02, 0x20, 0x00, 0x0a, 0x07, 0x0a,
	0x01, 0x6c, 0x12, 0x02, 0x32, 0x00, 0x0a, 0x07, 0x0a, 0x01, 0x6e, 0x12, 0x02, 0x08, 0x00,
	0x0a, 0x10, 0x0a, 0x03, 0x6e, 0x65, 0x67, 0x12, 0x09, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x02, 0xc0, 0x0a, 0x57, 0x0a, 0x06, 0x6e, 0x65, 0x73, 0x74, 0x65, 0x64, 0x12, 0x4d,
	0x2a, 0x4b, 0x0a, 0x23, 0x0a, 0x04, 0x64, 0x65, 0x65, 0x70, 0x12, 0x1b, 0x2a, 0x19, 0x0a,
	0x07, 0x0a, 0x01, 0x74, 0x12, 0x02, 0x20, 0x01, 0x0a, 0x0e, 0x0a, 0x01, 0x78, 0x12, 0x09,
	0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x0a, 0x24, 0x0a, 0x04, 0x6c, 0x69,
	0x73, 0x74, 0x12, 0x1c, 0x32, 0x1a, 0x0a, 0x09, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xf0, 0x3f, 0x0a, 0x05, 0x1a, 0x03, 0x74, 0x77, 0x6f, 0x0a, 0x06, 0x32, 0x04, 0x0a, 0x02,
	0x08, 0x00, 0x0a, 0x0d, 0x0a, 0x01, 0x73, 0x12, 0x08, 0x1a, 0x06, 0x68, 0xc3, 0xa9, 0x6c,
	0x6c, 0x6f,
};

/* ValidateJWTSVIDResponse(spiffe_id="spiffe://example.org/web"), claims.update(VALIDATE_JSON) */
#define VALIDATE_JSON \
	"{\"aud\": [\"x\"], \"exp\": 1700000000, \"sub\": \"spiffe://example.org/web\"}"
static const uint8_t py_validate_response[] = {
	0x0a, 0x18, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x65, 0x78, 0x61,
	0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x2f, 0x77, 0x65, 0x62, 0x12, 0x45,
	0x0a, 0x0e, 0x0a, 0x03, 0x61, 0x75, 0x64, 0x12, 0x07, 0x32, 0x05, 0x0a, 0x03, 0x1a,
	0x01, 0x78, 0x0a, 0x10, 0x0a, 0x03, 0x65, 0x78, 0x70, 0x12, 0x09, 0x11, 0x00, 0x00,
	0x00, 0x40, 0xfc, 0x54, 0xd9, 0x41, 0x0a, 0x21, 0x0a, 0x03, 0x73, 0x75, 0x62, 0x12,
	0x1a, 0x1a, 0x18, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x65, 0x78,
	0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x2f, 0x77, 0x65, 0x62,
};

/*
 * X509SVIDResponse: svids[0] = {spiffe_id "spiffe://td/a", x509_svid 30 01 02, x509_svid_key
 * 30 00, bundle 30 03, hint "int"}, svids[1] = {spiffe_id "spiffe://td/b"}, crl = [aa, ""],
 * federated_bundles = {"spiffe://other": 30 09}
 */
static const uint8_t py_x509svid_response[] = {
	0x0a, 0x21, 0x0a, 0x0d, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74,
	0x64, 0x2f, 0x61, 0x12, 0x03, 0x30, 0x01, 0x02, 0x1a, 0x02, 0x30, 0x00, 0x22, 0x02,
	0x30, 0x03, 0x2a, 0x03, 0x69, 0x6e, 0x74, 0x0a, 0x0f, 0x0a, 0x0d, 0x73, 0x70, 0x69,
	0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74, 0x64, 0x2f, 0x62, 0x12, 0x01, 0xaa, 0x12,
	0x00, 0x1a, 0x14, 0x0a, 0x0e, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f,
	0x6f, 0x74, 0x68, 0x65, 0x72, 0x12, 0x02, 0x30, 0x09,
};

/* X509BundlesResponse: crl = [01 02], bundles = {"spiffe://b": "", "spiffe://td": 30 04} */
static const uint8_t py_x509bundles_response[] = {
	0x0a, 0x02, 0x01, 0x02, 0x12, 0x0e, 0x0a, 0x0a, 0x73, 0x70, 0x69, 0x66, 0x66,
	0x65, 0x3a, 0x2f, 0x2f, 0x62, 0x12, 0x00, 0x12, 0x11, 0x0a, 0x0b, 0x73, 0x70,
	0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74, 0x64, 0x12, 0x02, 0x30, 0x04,
};

/* JWTSVIDResponse: svids = [{spiffe_id "spiffe://td/a", svid "e.y.J", hint ""}, {svid "t"}] */
static const uint8_t py_jwtsvid_response[] = {
	0x0a, 0x16, 0x0a, 0x0d, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74, 0x64,
	0x2f, 0x61, 0x12, 0x05, 0x65, 0x2e, 0x79, 0x2e, 0x4a, 0x0a, 0x03, 0x12, 0x01, 0x74,
};

/* JWTBundlesResponse: bundles = {"spiffe://td": '{"keys":[]}'} */
static const uint8_t py_jwtbundles_response[] = {
	0x0a, 0x1a, 0x0a, 0x0b, 0x73, 0x70, 0x69, 0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74,
	0x64, 0x12, 0x0b, 0x7b, 0x22, 0x6b, 0x65, 0x79, 0x73, 0x22, 0x3a, 0x5b, 0x5d, 0x7d,
};

/* JWTSVIDRequest: audience = ["a1", ""], spiffe_id = "spiffe://td/x" */
static const uint8_t py_jwtsvid_request[] = {
	0x0a, 0x02, 0x61, 0x31, 0x0a, 0x00, 0x12, 0x0d, 0x73, 0x70, 0x69,
	0x66, 0x66, 0x65, 0x3a, 0x2f, 0x2f, 0x74, 0x64, 0x2f, 0x78,
};

/* ValidateJWTSVIDRequest: audience = "aud", svid = "tok" */
static const uint8_t py_validate_request[] = {
	0x0a, 0x03, 0x61, 0x75, 0x64, 0x12, 0x03, 0x74, 0x6f, 0x6b,
};

static void test_python_requests(void **state)
{
	struct proto_jwtsvid_request *jr = calloc(1, sizeof(*jr)), *jr2 = calloc(1, sizeof(*jr2));
	struct proto_validate_request vr = {PB("aud"), PB("tok")}, vr2;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];

	assert_non_null(jr);
	assert_non_null(jr2);
	jr->audience[0] = PB("a1");
	jr->audience[1] = PB("");
	jr->naudience = 2;
	jr->spiffe_id = PB("spiffe://td/x");
	assert_int_equal(proto_encode_jwtsvid_request(jr, &out), 0);
	assert_buf(&out, py_jwtsvid_request, sizeof(py_jwtsvid_request), "JWTSVIDRequest");
	assert_int_equal(proto_decode_jwtsvid_request(py_jwtsvid_request,
						      sizeof(py_jwtsvid_request), jr2, err),
			 0);
	assert_int_equal(jr2->naudience, 2);
	assert_pb(&jr2->audience[0], "a1");
	assert_pb(&jr2->audience[1], "");
	assert_pb(&jr2->spiffe_id, "spiffe://td/x");
	/* decoded bytes are borrowed from the input */
	assert_ptr_equal(jr2->audience[0].data, py_jwtsvid_request + 2);

	out.len = 0;
	assert_int_equal(proto_encode_validate_request(&vr, &out), 0);
	assert_buf(&out, py_validate_request, sizeof(py_validate_request),
		   "ValidateJWTSVIDRequest");
	assert_int_equal(proto_decode_validate_request(py_validate_request,
						       sizeof(py_validate_request), &vr2, err),
			 0);
	assert_pb(&vr2.audience, "aud");
	assert_pb(&vr2.svid, "tok");

	proto_buf_free(&out);
	free(jr);
	free(jr2);
}

static void test_python_x509(void **state)
{
	struct proto_x509svid svids[2] = {
		{PB("spiffe://td/a"), PB("\x30\x01\x02"), PB("\x30\x00"), PB("\x30\x03"),
		 PB("int")},
		{.spiffe_id = PB("spiffe://td/b")},
	};
	struct proto_bytes crl[2] = {PB("\xaa"), PB("")};
	struct proto_map_entry fed[1] = {{PB("spiffe://other"), PB("\x30\x09")}};
	struct proto_x509svid_response in = {svids, 2, crl, 2, fed, 1}, dec;
	struct proto_bytes bcrl[1] = {PB("\x01\x02")};
	struct proto_map_entry bundles[2] = {{PB("spiffe://b"), PB("")},
					     {PB("spiffe://td"), PB("\x30\x04")}};
	struct proto_x509bundles_response bin = {bcrl, 1, bundles, 2}, bdec;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];

	assert_int_equal(proto_encode_x509svid_response(&in, &out), 0);
	assert_buf(&out, py_x509svid_response, sizeof(py_x509svid_response), "X509SVIDResponse");
	assert_int_equal(proto_decode_x509svid_response(py_x509svid_response,
							sizeof(py_x509svid_response), &dec, err),
			 0);
	assert_int_equal(dec.nsvids, 2);
	assert_pb(&dec.svids[0].spiffe_id, "spiffe://td/a");
	assert_int_equal(dec.svids[0].x509_svid.len, 3);
	assert_memory_equal(dec.svids[0].x509_svid.data, "\x30\x01\x02", 3);
	assert_int_equal(dec.svids[0].x509_svid_key.len, 2);
	assert_memory_equal(dec.svids[0].x509_svid_key.data, "\x30\x00", 2);
	assert_int_equal(dec.svids[0].bundle.len, 2);
	assert_memory_equal(dec.svids[0].bundle.data, "\x30\x03", 2);
	assert_pb(&dec.svids[0].hint, "int");
	assert_pb(&dec.svids[1].spiffe_id, "spiffe://td/b");
	assert_int_equal(dec.svids[1].x509_svid.len + dec.svids[1].x509_svid_key.len +
				 dec.svids[1].bundle.len + dec.svids[1].hint.len,
			 0);
	assert_int_equal(dec.ncrl, 2);
	assert_int_equal(dec.crl[0].len, 1);
	assert_int_equal(dec.crl[0].data[0], 0xaa);
	assert_int_equal(dec.crl[1].len, 0);
	assert_int_equal(dec.nfederated_bundles, 1);
	assert_pb(&dec.federated_bundles[0].key, "spiffe://other");
	assert_int_equal(dec.federated_bundles[0].value.len, 2);
	proto_x509svid_response_clear(&dec);
	assert_null(dec.svids);
	assert_int_equal(dec.nsvids, 0);

	out.len = 0;
	assert_int_equal(proto_encode_x509bundles_response(&bin, &out), 0);
	assert_buf(&out, py_x509bundles_response, sizeof(py_x509bundles_response),
		   "X509BundlesResponse");
	assert_int_equal(proto_decode_x509bundles_response(py_x509bundles_response,
							   sizeof(py_x509bundles_response), &bdec,
							   err),
			 0);
	assert_int_equal(bdec.ncrl, 1);
	assert_int_equal(bdec.crl[0].len, 2);
	assert_int_equal(bdec.nbundles, 2);
	assert_pb(&bdec.bundles[0].key, "spiffe://b");
	assert_int_equal(bdec.bundles[0].value.len, 0);
	assert_pb(&bdec.bundles[1].key, "spiffe://td");
	assert_int_equal(bdec.bundles[1].value.len, 2);
	proto_x509bundles_response_clear(&bdec);
	proto_buf_free(&out);
}

static void test_python_jwt(void **state)
{
	struct proto_jwtsvid svids[2] = {{PB("spiffe://td/a"), PB("e.y.J"), PB("")},
					 {.svid = PB("t")}};
	struct proto_jwtsvid_response in = {svids, 2}, dec;
	struct proto_map_entry bundles[1] = {{PB("spiffe://td"), PB("{\"keys\":[]}")}};
	struct proto_jwtbundles_response bin = {bundles, 1}, bdec;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];

	assert_int_equal(proto_encode_jwtsvid_response(&in, &out), 0);
	assert_buf(&out, py_jwtsvid_response, sizeof(py_jwtsvid_response), "JWTSVIDResponse");
	assert_int_equal(proto_decode_jwtsvid_response(py_jwtsvid_response,
						       sizeof(py_jwtsvid_response), &dec, err),
			 0);
	assert_int_equal(dec.nsvids, 2);
	assert_pb(&dec.svids[0].spiffe_id, "spiffe://td/a");
	assert_pb(&dec.svids[0].svid, "e.y.J");
	assert_pb(&dec.svids[0].hint, "");
	assert_pb(&dec.svids[1].spiffe_id, "");
	assert_pb(&dec.svids[1].svid, "t");
	proto_jwtsvid_response_clear(&dec);

	out.len = 0;
	assert_int_equal(proto_encode_jwtbundles_response(&bin, &out), 0);
	assert_buf(&out, py_jwtbundles_response, sizeof(py_jwtbundles_response),
		   "JWTBundlesResponse");
	assert_int_equal(proto_decode_jwtbundles_response(py_jwtbundles_response,
							  sizeof(py_jwtbundles_response), &bdec,
							  err),
			 0);
	assert_int_equal(bdec.nbundles, 1);
	assert_pb(&bdec.bundles[0].key, "spiffe://td");
	assert_pb(&bdec.bundles[0].value, "{\"keys\":[]}");
	proto_jwtbundles_response_clear(&bdec);
	proto_buf_free(&out);
}

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);

	if (!j)
		fail_msg("bad test JSON: %s", jerr.text);
	return j;
}

static void test_python_struct(void **state)
{
	/* ValidateJWTSVIDResponse{claims} = field 2 + length 0xc5 0x01 + the Struct */
	uint8_t wrapped[3 + sizeof(py_struct)] = {0x12, 0xc5, 0x01};
	json_t *claims = load(CLAIMS_JSON), *vclaims = load(VALIDATE_JSON), *dec = NULL;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX], id[64];

	assert_int_equal(sizeof(py_struct), 0xc5);
	memcpy(wrapped + 3, py_struct, sizeof(py_struct));

	/* encoder == protobuf, byte for byte (jansson keeps insertion order = sorted here) */
	assert_int_equal(proto_encode_validate_response(NULL, claims, &out), 0);
	assert_buf(&out, wrapped, sizeof(wrapped), "Struct");
	out.len = 0;
	assert_int_equal(proto_encode_validate_response("spiffe://example.org/web", vclaims, &out),
			 0);
	assert_buf(&out, py_validate_response, sizeof(py_validate_response),
		   "ValidateJWTSVIDResponse");

	/* decoder: protobuf's bytes give the JSON back; integral numbers as integers */
	assert_int_equal(
		proto_decode_validate_response(wrapped, sizeof(wrapped), id, sizeof(id), &dec, err),
		0);
	assert_string_equal(id, "");
	if (!json_equal(dec, claims))
		fail_msg("decoded Struct differs: %s", json_dumps(dec, JSON_COMPACT));
	assert_true(json_is_integer(json_object_get(dec, "exp")));
	assert_int_equal(json_integer_value(json_object_get(dec, "exp")), 1700000000);
	assert_true(json_is_real(json_object_get(dec, "neg")));
	json_decref(dec);
	assert_int_equal(proto_decode_validate_response(py_validate_response,
							sizeof(py_validate_response), id,
							sizeof(id), &dec, err),
			 0);
	assert_string_equal(id, "spiffe://example.org/web");
	assert_true(json_equal(dec, vclaims));
	json_decref(dec);

	json_decref(claims);
	json_decref(vclaims);
	proto_buf_free(&out);
}

/* ---- hand-assembled vectors ---- */

static void test_hand_jwtsvid_request(void **state)
{
	/* written from the spec: audience "au1", unknown varint field 7 (150), unknown
	 * length-delimited field 9 "xyz", audience "au2", unknown fixed32 field 10, unknown fixed64
	 * field 11, spiffe_id "a" then spiffe_id "b" (last one wins), audience "" */
	static const uint8_t in[] = {
		0x0a, 0x03, 'a', 'u', '1',  0x38, 0x96, 0x01, 0x4a, 0x03, 'x',	'y',  'z', 0x0a,
		0x03, 'a',  'u', '2', 0x55, 1,	  2,	3,    4,    0x59, 1,	2,    3,   4,
		5,    6,    7,	 8,   0x12, 0x01, 'a',	0x12, 0x01, 'b',  0x0a, 0x00,
	};
	struct proto_jwtsvid_request *r = calloc(1, sizeof(*r));
	char err[PROTO_ERR_MAX];

	assert_non_null(r);
	assert_int_equal(proto_decode_jwtsvid_request(in, sizeof(in), r, err), 0);
	assert_int_equal(r->naudience, 3);
	assert_pb(&r->audience[0], "au1");
	assert_pb(&r->audience[1], "au2");
	assert_pb(&r->audience[2], "");
	assert_pb(&r->spiffe_id, "b");
	/* the same bytes are a valid X509SVIDRequest{} (all fields unknown) */
	assert_int_equal(proto_decode_empty(in, sizeof(in), "X509SVIDRequest", err), 0);
	/* and the empty message */
	assert_int_equal(proto_decode_jwtsvid_request(NULL, 0, r, err), 0);
	assert_int_equal(r->naudience, 0);
	assert_int_equal(r->spiffe_id.len, 0);
	assert_int_equal(proto_decode_empty(NULL, 0, "X509SVIDRequest", err), 0);
	free(r);
}

static void test_hand_validate_response(void **state)
{
	static const struct {
		const char *name;
		const uint8_t *in;
		size_t len;
		const char *json;
	} cases[] = {
		{"no fields", LIT(""), "{}"},
		{"empty claims", LIT("\x12\x00"), "{}"},
		{"entry without key or value", LIT("\x12\x02\x0a\x00"), "{\"\": null}"},
		{"value without kind is null",
		 LIT("\x12\x07\x0a\x05\x0a\x01"
		     "a"
		     "\x12\x00"),
		 "{\"a\": null}"},
		{"unknown field in Value skipped",
		 LIT("\x12\x0b\x0a\x09\x0a\x01"
		     "a"
		     "\x12\x04\x48\x05\x20\x01"),
		 "{\"a\": true}"},
		{"oneof: last member wins",
		 LIT("\x12\x0c\x0a\x0a\x0a\x01"
		     "a"
		     "\x12\x05\x20\x01\x1a\x01"
		     "x"),
		 "{\"a\": \"x\"}"},
		{"duplicate key: last wins",
		 LIT("\x12\x12\x0a\x07\x0a\x01"
		     "a"
		     "\x12\x02\x20\x01\x0a\x07\x0a\x01"
		     "a"
		     "\x12\x02\x20\x00"),
		 "{\"a\": false}"},
		{"claims twice: last wins",
		 LIT("\x12\x07\x0a\x05\x0a\x01"
		     "a"
		     "\x12\x00\x12\x07\x0a\x05\x0a\x01"
		     "b"
		     "\x12\x00"),
		 "{\"b\": null}"},
		{"value before key, unknown fields in entry",
		 LIT("\x12\x10\x0a\x0e\x12\x02\x20\x01\x18\x07\x0a\x01"
		     "k"
		     "\x25\x00\x00\x00\x00"),
		 "{\"k\": true}"},
		{"null_value with non-zero enum",
		 LIT("\x12\x09\x0a\x07\x0a\x01"
		     "a"
		     "\x12\x02\x08\x03"),
		 "{\"a\": null}"},
		{"bool_value 2 is true",
		 LIT("\x12\x09\x0a\x07\x0a\x01"
		     "a"
		     "\x12\x02\x20\x02"),
		 "{\"a\": true}"},
		{"NUL inside string value",
		 LIT("\x12\x0a\x0a\x08\x0a\x01"
		     "a"
		     "\x12\x03\x1a\x01\x00"),
		 "{\"a\": \"\\u0000\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char err[PROTO_ERR_MAX], id[8];
		json_t *got = NULL, *want;
		int r;

		r = proto_decode_validate_response(cases[i].in, cases[i].len, id, sizeof(id), &got,
						   err);
		if (r != 0)
			fail_msg("%s: ret %d (%s)", cases[i].name, r, err);
		want = load(cases[i].json);
		if (!json_equal(got, want))
			fail_msg("%s: got %s", cases[i].name, json_dumps(got, 0));
		json_decref(want);
		json_decref(got);
	}
}

/* ---- error classes ---- */

enum kind {
	K_EMPTY,
	K_JWT_REQ,
	K_VAL_REQ,
	K_X509_RESP,
	K_X509B_RESP,
	K_JWT_RESP,
	K_JWTB_RESP,
	K_VAL_RESP,
};

static int decode_kind(enum kind k, const uint8_t *in, size_t len, char *err)
{
	struct proto_jwtsvid_request *jr;
	struct proto_validate_request vr;
	struct proto_x509svid_response xr;
	struct proto_x509bundles_response xb;
	struct proto_jwtsvid_response jw;
	struct proto_jwtbundles_response jb;
	char id[256];
	json_t *claims = NULL;
	int r = -1;

	switch (k) {
	case K_EMPTY:
		return proto_decode_empty(in, len, "X509SVIDRequest", err);
	case K_JWT_REQ:
		jr = calloc(1, sizeof(*jr));
		assert_non_null(jr);
		r = proto_decode_jwtsvid_request(in, len, jr, err);
		free(jr);
		return r;
	case K_VAL_REQ:
		return proto_decode_validate_request(in, len, &vr, err);
	case K_X509_RESP:
		r = proto_decode_x509svid_response(in, len, &xr, err);
		if (r < 0)
			assert_true(xr.svids == NULL && xr.crl == NULL && xr.nsvids == 0);
		proto_x509svid_response_clear(&xr);
		return r;
	case K_X509B_RESP:
		r = proto_decode_x509bundles_response(in, len, &xb, err);
		proto_x509bundles_response_clear(&xb);
		return r;
	case K_JWT_RESP:
		r = proto_decode_jwtsvid_response(in, len, &jw, err);
		proto_jwtsvid_response_clear(&jw);
		return r;
	case K_JWTB_RESP:
		r = proto_decode_jwtbundles_response(in, len, &jb, err);
		proto_jwtbundles_response_clear(&jb);
		return r;
	case K_VAL_RESP:
		r = proto_decode_validate_response(in, len, id, sizeof(id), &claims, err);
		if (r < 0)
			assert_null(claims);
		json_decref(claims);
		return r;
	}
	return r;
}

struct err_case {
	const char *name;
	enum kind kind;
	const uint8_t *in;
	size_t len;
	int ret;
	const char *err; /* substring of the message; NULL when ret == 0 */
};

#define OK(n, k, lit)                   \
	{                               \
		n, k, LIT(lit), 0, NULL \
	}
#define BAD(n, k, lit, e)                  \
	{                                  \
		n, k, LIT(lit), -EPROTO, e \
	}

static const struct err_case err_cases[] = {
	/* varints */
	BAD("truncated tag varint", K_JWT_REQ, "\x80", "JWTSVIDRequest: truncated varint (tag)"),
	BAD("truncated length varint", K_JWT_REQ, "\x0a\x80",
	    "JWTSVIDRequest: truncated varint (length)"),
	BAD("truncated value varint", K_EMPTY, "\x38\xff\xff",
	    "X509SVIDRequest: truncated varint (value)"),
	BAD("11-byte varint", K_JWT_REQ, "\x38\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	    "varint (value) longer than 10 bytes"),
	BAD("11-byte tag", K_EMPTY, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
	    "varint (tag) longer than 10 bytes"),
	BAD("10th byte above 1", K_VAL_REQ, "\x38\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
	    "ValidateJWTSVIDRequest: varint (value) overflows 64 bits"),
	OK("10-byte varint UINT64_MAX", K_JWT_REQ, "\x38\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
	OK("non-minimal varint", K_JWT_REQ,
	   "\x0a\x82\x80\x00"
	   "ab"),
	/* lengths */
	BAD("length beyond buffer", K_JWT_REQ,
	    "\x0a\x05"
	    "a",
	    "JWTSVIDRequest: field 1: length 5 beyond end of buffer (1 bytes left)"),
	BAD("huge length", K_EMPTY, "\x4a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
	    "field 9: length 18446744073709551615 beyond end"),
	BAD("truncated fixed64", K_JWT_REQ, "\x59\x01\x02\x03", "field 11: truncated fixed64"),
	BAD("truncated fixed32", K_JWT_REQ, "\x55\x01", "field 10: truncated fixed32"),
	/* tags and wire types */
	BAD("field number 0", K_JWT_REQ, "\x02\x00", "invalid field number 0"),
	BAD("field number above 2^32", K_EMPTY, "\x80\x80\x80\x80\x80\x01", "invalid field number"),
	BAD("group start", K_JWT_REQ, "\x0b", "JWTSVIDRequest: field 1: group wire type 3"),
	BAD("group end", K_EMPTY, "\x3c", "field 7: group wire type 4"),
	BAD("wire type 6", K_JWT_REQ, "\x3e", "field 7: invalid wire type 6"),
	BAD("wire type 7", K_VAL_RESP, "\x0f", "field 1: invalid wire type 7"),
	BAD("audience as varint", K_JWT_REQ, "\x08\x01",
	    "JWTSVIDRequest.audience[0]: wrong wire type 0 (want 2)"),
	BAD("second audience as fixed64", K_JWT_REQ, "\x0a\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00",
	    "JWTSVIDRequest.audience[1]: wrong wire type 1 (want 2)"),
	BAD("spiffe_id as fixed32", K_JWT_REQ, "\x15\x00\x00\x00\x00",
	    "JWTSVIDRequest.spiffe_id: wrong wire type 5"),
	BAD("validate audience as varint", K_VAL_REQ, "\x08\x00",
	    "ValidateJWTSVIDRequest.audience: wrong wire type 0"),
	BAD("svids as varint", K_X509_RESP, "\x08\x00",
	    "X509SVIDResponse.svids[0]: wrong wire type 0"),
	BAD("crl as varint", K_X509_RESP, "\x10\x00", "X509SVIDResponse.crl[0]: wrong wire type 0"),
	BAD("federated_bundles as fixed32", K_X509_RESP, "\x1d\x00\x00\x00\x00",
	    "X509SVIDResponse.federated_bundles[0]: wrong wire type 5"),
	BAD("x509_svid as varint", K_X509_RESP, "\x0a\x02\x10\x00",
	    "X509SVIDResponse.svids[0].x509_svid: wrong wire type 0"),
	BAD("bundles crl as varint", K_X509B_RESP, "\x08\x00",
	    "X509BundlesResponse.crl[0]: wrong wire type 0"),
	BAD("map value as varint", K_X509B_RESP, "\x12\x02\x10\x00",
	    "X509BundlesResponse.bundles[0].value: wrong wire type 0"),
	BAD("jwt svids as varint", K_JWT_RESP, "\x08\x00",
	    "JWTSVIDResponse.svids[0]: wrong wire type 0"),
	BAD("jwt bundles as fixed32", K_JWTB_RESP, "\x0d\x00\x00\x00\x00",
	    "JWTBundlesResponse.bundles[0]: wrong wire type 5"),
	BAD("claims as varint", K_VAL_RESP, "\x10\x01",
	    "ValidateJWTSVIDResponse.claims: wrong wire type 0"),
	BAD("number_value as varint", K_VAL_RESP,
	    "\x12\x09\x0a\x07\x0a\x01"
	    "a"
	    "\x12\x02\x10\x01",
	    "ValidateJWTSVIDResponse.claims.fields[\"a\"].number_value: wrong wire type 0 (want "
	    "1)"),
	BAD("struct_value as varint", K_VAL_RESP,
	    "\x12\x09\x0a\x07\x0a\x01"
	    "a"
	    "\x12\x02\x28\x01",
	    "claims.fields[\"a\"].struct_value: wrong wire type 0"),
	BAD("list values as varint", K_VAL_RESP,
	    "\x12\x0b\x0a\x09\x0a\x01"
	    "a"
	    "\x12\x04\x32\x02\x08\x00",
	    "claims.fields[\"a\"].list_value.values[0]: wrong wire type 0"),
	/* truncation inside nested messages */
	BAD("truncated svid", K_X509_RESP, "\x0a\x02\x0a\x05",
	    "X509SVIDResponse.svids[0]: field 1: length 5 beyond end"),
	BAD("truncated Value", K_VAL_RESP,
	    "\x12\x07\x0a\x05\x0a\x01"
	    "a"
	    "\x12\x05",
	    "length 5 beyond end"),
	/* UTF-8 in string fields; bytes fields take anything */
	BAD("audience 0xff", K_JWT_REQ, "\x0a\x01\xff",
	    "JWTSVIDRequest.audience[0]: invalid UTF-8"),
	BAD("audience overlong NUL", K_JWT_REQ, "\x0a\x02\xc0\x80", "invalid UTF-8"),
	BAD("audience overlong 3-byte", K_JWT_REQ, "\x0a\x03\xe0\x80\xaf", "invalid UTF-8"),
	BAD("audience surrogate", K_JWT_REQ, "\x0a\x03\xed\xa0\x80", "invalid UTF-8"),
	BAD("audience above U+10FFFF", K_JWT_REQ, "\x0a\x04\xf4\x90\x80\x80", "invalid UTF-8"),
	BAD("audience truncated sequence", K_JWT_REQ, "\x0a\x01\xc3", "invalid UTF-8"),
	BAD("audience bare continuation", K_JWT_REQ, "\x0a\x01\x80", "invalid UTF-8"),
	OK("audience 2/3/4-byte UTF-8", K_JWT_REQ, "\x0a\x09\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
	OK("audience U+10FFFF", K_JWT_REQ, "\x0a\x04\xf4\x8f\xbf\xbf"),
	BAD("spiffe_id invalid", K_JWT_REQ, "\x12\x01\xfe",
	    "JWTSVIDRequest.spiffe_id: invalid UTF-8"),
	BAD("validate svid invalid", K_VAL_REQ, "\x12\x01\xff",
	    "ValidateJWTSVIDRequest.svid: invalid UTF-8"),
	BAD("x509 spiffe_id invalid", K_X509_RESP, "\x0a\x03\x0a\x01\xff",
	    "X509SVIDResponse.svids[0].spiffe_id: invalid UTF-8"),
	BAD("x509 hint invalid", K_X509_RESP, "\x0a\x00\x0a\x03\x2a\x01\xff",
	    "X509SVIDResponse.svids[1].hint: invalid UTF-8"),
	OK("x509_svid bytes not UTF-8", K_X509_RESP, "\x0a\x03\x12\x01\xff"),
	OK("crl bytes not UTF-8", K_X509_RESP, "\x12\x01\xff"),
	BAD("map key invalid", K_X509_RESP, "\x1a\x03\x0a\x01\xff",
	    "X509SVIDResponse.federated_bundles[0].key: invalid UTF-8"),
	OK("map value not UTF-8", K_JWTB_RESP, "\x0a\x03\x12\x01\xff"),
	BAD("jwt bundles key invalid", K_JWTB_RESP, "\x0a\x03\x0a\x01\xff",
	    "JWTBundlesResponse.bundles[0].key: invalid UTF-8"),
	BAD("jwt svid invalid", K_JWT_RESP, "\x0a\x03\x12\x01\xff",
	    "JWTSVIDResponse.svids[0].svid: invalid UTF-8"),
	BAD("jwt hint invalid", K_JWT_RESP, "\x0a\x03\x1a\x01\xff",
	    "JWTSVIDResponse.svids[0].hint: invalid UTF-8"),
	BAD("validate spiffe_id invalid", K_VAL_RESP, "\x0a\x01\xff",
	    "ValidateJWTSVIDResponse.spiffe_id: invalid UTF-8"),
	BAD("Struct key invalid", K_VAL_RESP, "\x12\x09\x0a\x07\x0a\x01\xff\x12\x02\x08\x00",
	    "ValidateJWTSVIDResponse.claims.fields[0].key: invalid UTF-8"),
	BAD("string_value invalid", K_VAL_RESP,
	    "\x12\x0a\x0a\x08\x0a\x01"
	    "a"
	    "\x12\x03\x1a\x01\xff",
	    "claims.fields[\"a\"].string_value: invalid UTF-8"),
	/* other semantic errors */
	BAD("Struct key with NUL", K_VAL_RESP,
	    "\x12\x0a\x0a\x08\x0a\x02"
	    "a\0"
	    "\x12\x02\x08\x00",
	    "ValidateJWTSVIDResponse.claims.fields[0].key: contains a NUL byte"),
	BAD("NaN number", K_VAL_RESP,
	    "\x12\x10\x0a\x0e\x0a\x01"
	    "a"
	    "\x12\x09\x11\x00\x00\x00\x00\x00\x00\xf8\x7f",
	    "claims.fields[\"a\"].number_value: not finite"),
	BAD("infinite number", K_VAL_RESP,
	    "\x12\x10\x0a\x0e\x0a\x01"
	    "a"
	    "\x12\x09\x11\x00\x00\x00\x00\x00\x00\xf0\xff",
	    "not finite"),
	BAD("spiffe_id with NUL", K_VAL_RESP, "\x0a\x01\x00",
	    "ValidateJWTSVIDResponse.spiffe_id: contains a NUL byte"),
	/* zero-length fields */
	OK("zero-length everything", K_X509_RESP, "\x0a\x00\x12\x00\x1a\x00"),
	OK("zero-length unknown", K_VAL_REQ, "\x4a\x00"),
};

static void test_error_table(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(err_cases); i++) {
		const struct err_case *c = &err_cases[i];
		char err[PROTO_ERR_MAX] = "";
		int r = decode_kind(c->kind, c->in, c->len, err);

		if (r != c->ret)
			fail_msg("%s: ret %d (%s), want %d", c->name, r, err, c->ret);
		if (c->err && !strstr(err, c->err))
			fail_msg("%s: err '%s', want '%s'", c->name, err, c->err);
	}
}

/* Every decoder refuses a message over PROTO_MAX_MESSAGE before reading it. */
static void test_max_message(void **state)
{
	size_t big = PROTO_MAX_MESSAGE;
	uint8_t *buf = calloc(1, big + 1);
	char err[PROTO_ERR_MAX];

	assert_non_null(buf);
	for (enum kind k = K_EMPTY; k <= K_VAL_RESP; k++) {
		err[0] = '\0';
		assert_int_equal(decode_kind(k, buf, big + 1, err), -EMSGSIZE);
		assert_non_null(strstr(err, "exceeds the limit of 4194304"));
	}
	/* exactly PROTO_MAX_MESSAGE: one unknown field 9 of (big - 5) bytes, 4-byte length */
	buf[0] = 0x4a;
	buf[1] = (uint8_t)((big - 5) | 0x80);
	buf[2] = (uint8_t)(((big - 5) >> 7) | 0x80);
	buf[3] = (uint8_t)(((big - 5) >> 14) | 0x80);
	buf[4] = (uint8_t)((big - 5) >> 21);
	assert_int_equal((big - 5) >> 28, 0);
	for (enum kind k = K_EMPTY; k <= K_VAL_RESP; k++) {
		int r = decode_kind(k, buf, big, err);

		if (r != 0)
			fail_msg("kind %d: %d (%s)", k, r, err);
	}
	free(buf);
}

/* Appends n copies of the len bytes at item. */
static uint8_t *repeat(const uint8_t *prefix, size_t plen, const uint8_t *item, size_t len,
		       size_t n, size_t *out_len)
{
	uint8_t *buf = malloc(plen + len * n + 1);

	assert_non_null(buf);
	if (plen)
		memcpy(buf, prefix, plen);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + plen + i * len, item, len);
	*out_len = plen + len * n;
	return buf;
}

static void test_max_repeated(void **state)
{
	static const struct {
		const char *name;
		enum kind kind;
		const uint8_t *item;
		size_t len;
		const char *err;
	} cases[] = {
		{"audience", K_JWT_REQ, LIT("\x0a\x00"), "JWTSVIDRequest.audience: more than 1024"},
		{"svids", K_X509_RESP, LIT("\x0a\x00"), "X509SVIDResponse.svids: more than 1024"},
		{"crl", K_X509_RESP, LIT("\x12\x00"), "X509SVIDResponse.crl: more than 1024"},
		/* the same key each time: the cap counts entries on the wire */
		{"federated_bundles", K_X509_RESP, LIT("\x1a\x00"),
		 "federated_bundles: more than 1024"},
		{"bundles crl", K_X509B_RESP, LIT("\x0a\x00"), "X509BundlesResponse.crl: more"},
		{"bundles", K_X509B_RESP, LIT("\x12\x00"), "X509BundlesResponse.bundles: more"},
		{"jwt svids", K_JWT_RESP, LIT("\x0a\x00"), "JWTSVIDResponse.svids: more"},
		{"jwt bundles", K_JWTB_RESP, LIT("\x0a\x00"), "JWTBundlesResponse.bundles: more"},
	};
	char err[PROTO_ERR_MAX];
	uint8_t *buf;
	size_t len;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		buf = repeat(NULL, 0, cases[i].item, cases[i].len, PROTO_MAX_REPEATED, &len);
		r = decode_kind(cases[i].kind, buf, len, err);
		if (r != 0)
			fail_msg("%s: %d at the limit (%s)", cases[i].name, r, err);
		free(buf);
		buf = repeat(NULL, 0, cases[i].item, cases[i].len, PROTO_MAX_REPEATED + 1, &len);
		r = decode_kind(cases[i].kind, buf, len, err);
		if (r != -EPROTO || !strstr(err, cases[i].err))
			fail_msg("%s: %d (%s) over the limit", cases[i].name, r, err);
		free(buf);
	}

	/* Struct fields and ListValue values: 1024 ok, 1025 refused */
	for (size_t n = PROTO_MAX_REPEATED; n <= PROTO_MAX_REPEATED + 1; n++) {
		/* claims (field 2) of n empty entries: 0x12 + 3-byte length + n * "0a 00" */
		uint8_t pre[4] = {0x12, (uint8_t)((2 * n) | 0x80), (uint8_t)((2 * n) >> 7)};

		buf = repeat(pre, 3, LIT("\x0a\x00"), n, &len);
		r = decode_kind(K_VAL_RESP, buf, len, err);
		free(buf);
		if (n == PROTO_MAX_REPEATED)
			assert_int_equal(r, 0);
		else
			assert_true(r == -EPROTO && strstr(err, "claims.fields: more than 1024"));

		/* claims {"a": [n x Value{}]}: list of 2n bytes */
		{
			size_t l = 2 * n, v = l + 3, e = 3 + 1 + 2 + v; /* list, Value, entry */
			uint8_t p[] = {0x12,
				       (uint8_t)((e + 3) | 0x80),
				       (uint8_t)((e + 3) >> 7),
				       0x0a,
				       (uint8_t)(e | 0x80),
				       (uint8_t)(e >> 7),
				       0x0a,
				       0x01,
				       'a',
				       0x12,
				       (uint8_t)(v | 0x80),
				       (uint8_t)(v >> 7),
				       0x32,
				       (uint8_t)(l | 0x80),
				       (uint8_t)(l >> 7)};

			buf = repeat(p, sizeof(p), LIT("\x0a\x00"), n, &len);
			r = decode_kind(K_VAL_RESP, buf, len, err);
			free(buf);
			if (n == PROTO_MAX_REPEATED) {
				if (r != 0)
					fail_msg("list at limit: %d (%s)", r, err);
			} else {
				assert_true(r == -EPROTO &&
					    strstr(err, "list_value.values: more than 1024"));
			}
		}
	}
}

/* ---- Struct depth ---- */

struct tbuf {
	uint8_t b[4096];
	size_t len;
};

/* Test-only writer, independent of the codec: wraps t in a field num, wire type 2. */
static void twrap(struct tbuf *t, unsigned int num, const uint8_t *prefix, size_t plen)
{
	uint8_t hdr[16];
	size_t h = 0, inner = plen + t->len, v = inner;

	hdr[h++] = (uint8_t)(num << 3 | 2);
	while (v >= 0x80) {
		hdr[h++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	hdr[h++] = (uint8_t)v;
	assert_true(h + inner <= sizeof(t->b));
	memmove(t->b + h + plen, t->b, t->len);
	memcpy(t->b, hdr, h);
	if (plen)
		memcpy(t->b + h, prefix, plen);
	t->len = h + inner;
}

/* ValidateJWTSVIDResponse whose claims nest n containers deep: {"a": {"a": ... {}}} or, with
 * lists, {"a": [[...[]]]}. */
static void build_deep(struct tbuf *t, unsigned int n, int lists)
{
	t->len = 0;
	for (unsigned int d = n; d > 1; d--) {
		/* Value{struct_value = t} or Value{list_value = t} */
		twrap(t, lists ? 6 : 5, NULL, 0);
		if (lists && d > 2) {
			/* ListValue{values = [Value]} */
			twrap(t, 1, NULL, 0);
		} else {
			/* Struct{fields = [{key = "a", value = Value}]} */
			twrap(t, 2, NULL, 0);
			twrap(t, 1,
			      LIT("\x0a\x01"
				  "a"));
		}
	}
	twrap(t, 2, NULL, 0); /* claims */
}

static json_t *deep_json(unsigned int n, int lists)
{
	json_t *j = lists ? json_array() : json_object();

	for (unsigned int d = n; d > 1; d--) {
		json_t *p = (lists && d > 2) ? json_array() : json_object();

		if (json_is_array(p))
			json_array_append_new(p, j);
		else
			json_object_set_new(p, "a", j);
		j = p;
	}
	return j;
}

static void test_depth(void **state)
{
	for (int lists = 0; lists <= 1; lists++) {
		for (unsigned int n = PROTO_MAX_DEPTH - 1; n <= PROTO_MAX_DEPTH + 1; n++) {
			struct proto_buf out = {0};
			char err[PROTO_ERR_MAX], id[8];
			json_t *j = deep_json(n, lists), *dec = NULL;
			struct tbuf t;
			int r;

			/* encoder */
			r = proto_encode_validate_response(NULL, j, &out);
			assert_int_equal(r, n <= PROTO_MAX_DEPTH ? 0 : -EINVAL);
			if (r < 0)
				assert_int_equal(out.len, 0);

			/* decoder, on bytes built independently of the encoder */
			build_deep(&t, n, lists);
			if (r == 0)
				assert_buf(&out, t.b, t.len, "deep");
			r = proto_decode_validate_response(t.b, t.len, id, sizeof(id), &dec, err);
			if (n <= PROTO_MAX_DEPTH) {
				if (r != 0)
					fail_msg("depth %u lists %d: %d (%s)", n, lists, r, err);
				assert_true(json_equal(dec, j));
			} else {
				assert_int_equal(r, -EPROTO);
				assert_non_null(strstr(err, "nested deeper than 32"));
			}
			json_decref(dec);
			json_decref(j);
			proto_buf_free(&out);
		}
	}
}

/* ---- numbers ---- */

static void test_numbers(void **state)
{
	static const struct {
		double d;
		int integer; /* 1: json_integer expected */
	} cases[] = {
		{0.0, 1},
		{-0.0, 1},
		{1.0, 1},
		{-7.0, 1},
		{1700000000.0, 1},
		{9007199254740992.0, 1},  /* 2^53 */
		{-9007199254740992.0, 1}, /* -2^53 */
		{9007199254740994.0, 0},  /* 2^53 + 2: integral, but beyond exact range */
		{0.5, 0},
		{-2.25, 0},
		{1e300, 0},
		{5e-324, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t v[9] = {0x11},
			in[18] = {0x12, 0x10, 0x0a, 0x0e, 0x0a, 0x01, 'a', 0x12, 0x09};
		char err[PROTO_ERR_MAX], id[8];
		json_t *dec = NULL, *a;
		uint64_t u;

		memcpy(&u, &cases[i].d, sizeof(u));
		for (int k = 0; k < 8; k++)
			v[1 + k] = (uint8_t)(u >> (8 * k));
		memcpy(in + 9, v, sizeof(v));
		assert_int_equal(
			proto_decode_validate_response(in, sizeof(in), id, sizeof(id), &dec, err),
			0);
		a = json_object_get(dec, "a");
		if (cases[i].integer) {
			assert_true(json_is_integer(a));
			assert_true((double)json_integer_value(a) == cases[i].d);
		} else {
			assert_true(json_is_real(a));
			assert_true(json_real_value(a) == cases[i].d);
		}
		/* and back: the encoder writes the same double */
		{
			struct proto_buf out = {0};

			assert_int_equal(proto_encode_validate_response(NULL, dec, &out), 0);
			if (signbit(cases[i].d) && cases[i].d == 0)
				in[17] = 0; /* -0.0 came back as integer 0 */
			assert_buf(&out, in, sizeof(in), "number");
			proto_buf_free(&out);
		}
		json_decref(dec);
	}
}

/* ---- round trips and encoder rules ---- */

static void test_round_trips(void **state)
{
	static const uint8_t der[300] = {0x30, 0x82, 0x01, 0x28}; /* lengths > 127 */
	struct proto_x509svid svids[3] = {
		{PB("spiffe://example.org/a"),
		 {der, sizeof(der)},
		 {der, 200},
		 {der, 150},
		 PB("external")},
		{PB("spiffe://example.org/b"), {der, 1}, {der, 0}, {NULL, 0}, {NULL, 0}},
		{{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}},
	};
	struct proto_bytes crl[3] = {{der, 130}, {NULL, 0}, {der, 2}};
	struct proto_map_entry fed[2] = {{PB("spiffe://a"), {der, 129}}, {PB(""), {NULL, 0}}};
	struct proto_x509svid_response x = {svids, 3, crl, 3, fed, 2}, xd;
	struct proto_x509bundles_response b = {crl, 3, fed, 2}, bd;
	struct proto_jwtsvid js[2] = {{PB("spiffe://x/y"), PB("a.b.c"), PB("h")},
				      {.svid = {NULL, 0}}};
	struct proto_jwtsvid_response j = {js, 2}, jd;
	struct proto_jwtbundles_response jb = {fed, 2}, jbd;
	struct proto_validate_request v = {PB("aud"), {NULL, 0}}, vd;
	struct proto_jwtsvid_request *r = calloc(1, sizeof(*r)), *rd = calloc(1, sizeof(*rd));
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];

	assert_non_null(r);
	assert_non_null(rd);

	assert_int_equal(proto_encode_x509svid_response(&x, &out), 0);
	assert_int_equal(proto_decode_x509svid_response(out.data, out.len, &xd, err), 0);
	assert_int_equal(xd.nsvids, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct proto_bytes *a[] = {&svids[i].spiffe_id, &svids[i].x509_svid,
						 &svids[i].x509_svid_key, &svids[i].bundle,
						 &svids[i].hint};
		const struct proto_bytes *d[] = {&xd.svids[i].spiffe_id, &xd.svids[i].x509_svid,
						 &xd.svids[i].x509_svid_key, &xd.svids[i].bundle,
						 &xd.svids[i].hint};

		for (size_t k = 0; k < 5; k++) {
			assert_int_equal(a[k]->len, d[k]->len);
			if (a[k]->len)
				assert_memory_equal(a[k]->data, d[k]->data, a[k]->len);
		}
	}
	assert_int_equal(xd.ncrl, 3);
	assert_int_equal(xd.crl[0].len, 130);
	assert_int_equal(xd.crl[1].len, 0);
	assert_int_equal(xd.crl[2].len, 2);
	assert_int_equal(xd.nfederated_bundles, 2);
	assert_pb(&xd.federated_bundles[0].key, "spiffe://a");
	assert_int_equal(xd.federated_bundles[0].value.len, 129);
	assert_pb(&xd.federated_bundles[1].key, "");
	assert_int_equal(xd.federated_bundles[1].value.len, 0);
	proto_x509svid_response_clear(&xd);

	out.len = 0;
	assert_int_equal(proto_encode_x509bundles_response(&b, &out), 0);
	assert_int_equal(proto_decode_x509bundles_response(out.data, out.len, &bd, err), 0);
	assert_int_equal(bd.ncrl, 3);
	assert_int_equal(bd.nbundles, 2);
	assert_int_equal(bd.bundles[0].value.len, 129);
	proto_x509bundles_response_clear(&bd);

	out.len = 0;
	assert_int_equal(proto_encode_jwtsvid_response(&j, &out), 0);
	assert_int_equal(proto_decode_jwtsvid_response(out.data, out.len, &jd, err), 0);
	assert_int_equal(jd.nsvids, 2);
	assert_pb(&jd.svids[0].spiffe_id, "spiffe://x/y");
	assert_pb(&jd.svids[0].svid, "a.b.c");
	assert_pb(&jd.svids[0].hint, "h");
	assert_int_equal(jd.svids[1].svid.len, 0);
	proto_jwtsvid_response_clear(&jd);

	out.len = 0;
	assert_int_equal(proto_encode_jwtbundles_response(&jb, &out), 0);
	assert_int_equal(proto_decode_jwtbundles_response(out.data, out.len, &jbd, err), 0);
	assert_int_equal(jbd.nbundles, 2);
	proto_jwtbundles_response_clear(&jbd);

	out.len = 0;
	assert_int_equal(proto_encode_validate_request(&v, &out), 0);
	assert_buf(&out,
		   LIT("\x0a\x03"
		       "aud"),
		   "empty svid omitted");
	assert_int_equal(proto_decode_validate_request(out.data, out.len, &vd, err), 0);
	assert_pb(&vd.audience, "aud");
	assert_int_equal(vd.svid.len, 0);

	for (size_t i = 0; i < PROTO_MAX_REPEATED; i++)
		r->audience[i] = (i % 2) ? PB("odd") : PB("");
	r->naudience = PROTO_MAX_REPEATED;
	out.len = 0;
	assert_int_equal(proto_encode_jwtsvid_request(r, &out), 0);
	assert_int_equal(out.len, 512 * 2 + 512 * 5);
	assert_int_equal(proto_decode_jwtsvid_request(out.data, out.len, rd, err), 0);
	assert_int_equal(rd->naudience, PROTO_MAX_REPEATED);
	assert_pb(&rd->audience[1023], "odd");
	assert_int_equal(rd->spiffe_id.len, 0);

	proto_buf_free(&out);
	free(r);
	free(rd);
}

static void test_encoder_rules(void **state)
{
	struct proto_x509svid empty_svid = {0};
	struct proto_x509svid_response x = {&empty_svid, 1, NULL, 0, NULL, 0};
	struct proto_jwtsvid_request *r = calloc(1, sizeof(*r));
	struct proto_validate_request bad = {PB("\xff"), {NULL, 0}};
	struct proto_map_entry badkey = {PB("\xc0\x80"), PB("\xff")};
	struct proto_jwtbundles_response jb = {&badkey, 1};
	static const uint8_t big[PROTO_MAX_MESSAGE]; /* zeros, read-only */
	struct proto_bytes crl = {big, sizeof(big)};
	struct proto_x509bundles_response xb = {&crl, 1, NULL, 0};
	struct proto_buf out = {0};
	json_t *j, *arr;

	assert_non_null(r);
	/* empty singular fields are omitted; the (empty) repeated element is still written */
	assert_int_equal(proto_encode_x509svid_response(&x, &out), 0);
	assert_buf(&out, LIT("\x0a\x00"), "empty X509SVID");
	/* map entries carry key and value even when empty (as protobuf writes them; python3-protobuf
	 * serializes X509BundlesResponse{bundles={"": b""}} as 12 04 0a 00 12 00) */
	out.len = 0;
	{
		struct proto_map_entry e = {{NULL, 0}, {NULL, 0}};
		struct proto_x509bundles_response eb = {NULL, 0, &e, 1};

		assert_int_equal(proto_encode_x509bundles_response(&eb, &out), 0);
		assert_buf(&out, LIT("\x12\x04\x0a\x00\x12\x00"), "empty map entry");
	}
	/* empty message: nothing */
	out.len = 0;
	assert_int_equal(proto_encode_jwtsvid_request(r, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(proto_encode_validate_response(NULL, NULL, &out), 0);
	assert_int_equal(proto_encode_validate_response("", NULL, &out), 0);
	assert_int_equal(out.len, 0);
	/* an empty Struct is present (message field set) */
	j = json_object();
	assert_int_equal(proto_encode_validate_response("", j, &out), 0);
	assert_buf(&out, LIT("\x12\x00"), "empty claims");

	/* encoders append, and restore the length on failure */
	assert_int_equal(proto_encode_validate_response("s", j, &out), 0);
	assert_buf(&out,
		   LIT("\x12\x00\x0a\x01"
		       "s"
		       "\x12\x00"),
		   "appended");
	assert_int_equal(proto_encode_validate_request(&bad, &out), -EINVAL);
	assert_int_equal(out.len, 7);
	assert_int_equal(proto_encode_jwtbundles_response(&jb, &out), -EINVAL);
	assert_int_equal(out.len, 7);
	assert_int_equal(proto_encode_validate_response("\xff", j, &out), -EINVAL);
	json_object_setn_new(j, "a\0b", 3, json_null());
	assert_int_equal(proto_encode_validate_response("s", j, &out), -EINVAL);
	json_object_clear(j);
	arr = json_array();
	assert_int_equal(proto_encode_validate_response("s", arr, &out), -EINVAL);
	json_decref(arr);
	assert_int_equal(out.len, 7);
	json_decref(j);

	/* too many repeated elements */
	r->naudience = PROTO_MAX_REPEATED + 1;
	assert_int_equal(proto_encode_jwtsvid_request(r, &out), -E2BIG);
	j = json_object();
	for (int i = 0; i <= PROTO_MAX_REPEATED; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(j, k, json_null());
	}
	assert_int_equal(proto_encode_validate_response("s", j, &out), -E2BIG);
	json_decref(j);
	assert_int_equal(out.len, 7);

	/* message over PROTO_MAX_MESSAGE */
	out.len = 0;
	assert_int_equal(proto_encode_x509bundles_response(&xb, &out), -EMSGSIZE);
	assert_int_equal(out.len, 0);
	crl.len = PROTO_MAX_MESSAGE - 5; /* tag + 4-byte length + data = the limit */
	assert_int_equal(proto_encode_x509bundles_response(&xb, &out), 0);
	assert_int_equal(out.len, PROTO_MAX_MESSAGE);
	{
		struct proto_x509bundles_response d;
		char err[PROTO_ERR_MAX];

		assert_int_equal(proto_decode_x509bundles_response(out.data, out.len, &d, err), 0);
		assert_int_equal(d.ncrl, 1);
		assert_int_equal(d.crl[0].len, PROTO_MAX_MESSAGE - 5);
		proto_x509bundles_response_clear(&d);
	}
	proto_buf_free(&out);
	assert_null(out.data);
	proto_buf_free(&out); /* twice is fine */
	free(r);
}

static void test_map_semantics(void **state)
{
	/* duplicate keys: last one wins and keeps the first position; missing key/value = "" */
	static const uint8_t in[] = {
		0x0a, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, '1', /* a = 1 */
		0x0a, 0x03, 0x0a, 0x01, 'b',		      /* b = "" (no value) */
		0x0a, 0x03, 0x12, 0x01, '3',		      /* "" = 3 (no key) */
		0x0a, 0x06, 0x12, 0x01, '4', 0x0a, 0x01, 'a', /* a = 4, value first */
		0x0a, 0x00,				      /* "" = "" */
	};
	struct proto_jwtbundles_response d;
	char err[PROTO_ERR_MAX];

	assert_int_equal(proto_decode_jwtbundles_response(in, sizeof(in), &d, err), 0);
	assert_int_equal(d.nbundles, 3);
	assert_pb(&d.bundles[0].key, "a");
	assert_pb(&d.bundles[0].value, "4");
	assert_pb(&d.bundles[1].key, "b");
	assert_pb(&d.bundles[1].value, "");
	assert_pb(&d.bundles[2].key, "");
	assert_pb(&d.bundles[2].value, "");
	proto_jwtbundles_response_clear(&d);
}

static void test_validate_response_id(void **state)
{
	static const uint8_t in[] = {0x0a, 0x05, 's', 'p', 'i', 'f', 'f'};
	char err[PROTO_ERR_MAX], id[6];
	json_t *claims = (json_t *)1;

	assert_int_equal(proto_decode_validate_response(in, sizeof(in), id, 5, &claims, err),
			 -ENOSPC);
	assert_null(claims);
	assert_non_null(strstr(err, "spiffe_id: 5 bytes do not fit in 5"));
	assert_int_equal(proto_decode_validate_response(in, sizeof(in), id, 6, &claims, err), 0);
	assert_string_equal(id, "spiff");
	assert_true(json_is_object(claims) && json_object_size(claims) == 0);
	json_decref(claims);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_python_requests),
		cmocka_unit_test(test_python_x509),
		cmocka_unit_test(test_python_jwt),
		cmocka_unit_test(test_python_struct),
		cmocka_unit_test(test_hand_jwtsvid_request),
		cmocka_unit_test(test_hand_validate_response),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_max_message),
		cmocka_unit_test(test_max_repeated),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_encoder_rules),
		cmocka_unit_test(test_map_semantics),
		cmocka_unit_test(test_validate_response_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
