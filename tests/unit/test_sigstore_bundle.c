/*
 * test_sigstore_bundle.c - bundle parsing (every media type of the conformance fixtures, read in
 * place, plus one hand-written bundle per error), DSSE PAE and in-toto statement checks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sigstore/bundle.h"
#include "sigstore/dsse.h"
#include "tests/unit/sigstore_test.h"

#define V03  "\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\""
#define V01  "\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.1\""
#define ID32 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\""
#define MSG  "\"messageSignature\":{\"signature\":\"MEUCIQ==\"}"
#define PK   "\"publicKey\":{\"hint\":\"h\"}"
#define KV   "\"kindVersion\":{\"kind\":\"hashedrekord\",\"version\":\"0.0.1\"}"
#define ENTRY(x)                                                 \
	"{\"logIndex\":\"1\",\"logId\":{\"keyId\":" ID32 "}," KV \
	",\"canonicalizedBody\":\"e30=\"" x "}"
#define VM(x) "\"verificationMaterial\":{" PK ",\"tlogEntries\":[" x "]}"

static const struct {
	const char *name;
	const char *json;
	int ret;
	const char *err;
} rows[] = {
	{"minimal keyed", "{" V03 "," VM(ENTRY("")) "," MSG "}", 0, NULL},
	{"integer log index",
	 "{" V03 ",\"verificationMaterial\":{" PK
	 ",\"tlogEntries\":[{\"logIndex\":5,\"logId\":{\"keyId\":" ID32 "}," KV
	 ",\"canonicalizedBody\":\"e30=\"}]}," MSG "}",
	 0, NULL},
	{"unknown media type",
	 "{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.4\"," VM("") "," MSG
											   "}",
	 -EPROTO, "mediaType"},
	{"no content", "{" V03 "," VM("") "}", -EPROTO, "exactly one of"},
	{"both contents", "{" V03 "," VM("") "," MSG ",\"dsseEnvelope\":{}}", -EPROTO,
	 "exactly one of"},
	{"no verification material", "{" V03 "," MSG "}", -EPROTO, "verificationMaterial: missing"},
	{"two kinds of material",
	 "{" V03 ",\"verificationMaterial\":{" PK ",\"certificate\":{\"rawBytes\":\"MAA=\"}}," MSG
	 "}",
	 -EPROTO, "more than one"},
	{"empty chain",
	 "{" V01 ",\"verificationMaterial\":{\"x509CertificateChain\":{\"certificates\":[]}}," MSG
	 "}",
	 -EPROTO, "no certificates"},
	{"chain in v0.3",
	 "{" V03 ",\"verificationMaterial\":{\"x509CertificateChain\":{\"certificates\":[]}}," MSG
	 "}",
	 -EPROTO, "not allowed"},
	{"garbage certificate",
	 "{" V03 ",\"verificationMaterial\":{\"certificate\":{\"rawBytes\":\"MAA=\"}}," MSG "}",
	 -EPROTO, "not a DER certificate"},
	{"negative log index",
	 "{" V03 ",\"verificationMaterial\":{" PK
	 ",\"tlogEntries\":[{\"logIndex\":\"-1\",\"logId\":{\"keyId\":" ID32 "}," KV
	 ",\"canonicalizedBody\":\"e30=\"}]}," MSG "}",
	 -EPROTO, "negative"},
	{"log index not a number",
	 "{" V03 ",\"verificationMaterial\":{" PK
	 ",\"tlogEntries\":[{\"logIndex\":\"1x\",\"logId\":{\"keyId\":" ID32 "}," KV
	 ",\"canonicalizedBody\":\"e30=\"}]}," MSG "}",
	 -EPROTO, "not an integer"},
	{"short log id",
	 "{" V03 ",\"verificationMaterial\":{" PK
	 ",\"tlogEntries\":[{\"logIndex\":\"1\",\"logId\":{\"keyId\":\"AAAA\"}," KV
	 ",\"canonicalizedBody\":\"e30=\"}]}," MSG "}",
	 -EPROTO, "not 32 bytes"},
	{"no kindVersion",
	 "{" V03 ",\"verificationMaterial\":{" PK
	 ",\"tlogEntries\":[{\"logIndex\":\"1\",\"logId\":{\"keyId\":" ID32
	 "},\"canonicalizedBody\":\"e30=\"}]}," MSG "}",
	 -EPROTO, "kindVersion"},
	{"bad base64 signature",
	 "{" V03 "," VM(ENTRY("")) ",\"messageSignature\":{\"signature\":\"MEU!\"}}", -EPROTO,
	 "invalid base64"},
	{"bad base64 body",
	 "{" V03 "," VM("{\"logIndex\":\"1\",\"logId\":{\"keyId\":" ID32 "}," KV
			",\"canonicalizedBody\":\"e30\"}") "," MSG "}",
	 -EPROTO, "invalid base64"},
	{"proof hash not 32 bytes",
	 "{" V03 "," VM(ENTRY(
		 ",\"inclusionProof\":{\"logIndex\":\"0\",\"treeSize\":\"1\",\"rootHash\":" ID32
		 ",\"hashes\":[\"AAAA\"]}")) "," MSG "}",
	 -EPROTO, "hashes[0]"},
	{"proof without tree size",
	 "{" V03 "," VM(ENTRY(",\"inclusionProof\":{\"logIndex\":\"0\",\"rootHash\":" ID32
			      "}")) "," MSG "}",
	 -EPROTO, "treeSize"},
	{"unknown digest algorithm",
	 "{" V03 "," VM("") ",\"messageSignature\":{\"messageDigest\":{\"algorithm\":\"MD5\","
			    "\"digest\":\"AAAA\"},\"signature\":\"MEUCIQ==\"}}",
	 -EPROTO, "algorithm"},
	{"digest of the wrong length",
	 "{" V03 "," VM("") ",\"messageSignature\":{\"messageDigest\":{\"algorithm\":\"SHA2_256\","
			    "\"digest\":\"AAAA\"},\"signature\":\"MEUCIQ==\"}}",
	 -EPROTO, "wrong length"},
	{"DSSE without signatures",
	 "{" V03 "," VM("") ",\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"t\","
			    "\"signatures\":[]}}",
	 -EPROTO, "signatures: none"},
	{"DSSE two signatures parse",
	 "{" V03 "," VM("") ",\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"t\","
			    "\"signatures\":[{\"sig\":\"MAA=\"},{\"sig\":\"MAA=\"}]}}",
	 0, NULL},
	{"string where object", "{" V03 ",\"verificationMaterial\":\"x\"," MSG "}", -EPROTO,
	 "not an object"},
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sigstore_bundle *b = NULL;
		char err[256] = "";
		int ret = sigstore_bundle_parse(rows[i].json, strlen(rows[i].json), &b, err);

		if (ret != rows[i].ret || (rows[i].err && !strstr(err, rows[i].err)))
			fail_msg("%s: ret %d err '%s'", rows[i].name, ret, err);
		if (!ret)
			assert_non_null(b);
		sigstore_bundle_free(b);
	}
}

static void test_fixtures(void **state)
{
	static const struct {
		const char *dir;
		int minor;
		bool dsse, key;
		size_t extra, timestamps;
	} cases[] = {
		{"happy-path-v0.1", 1, false, false, 0, 0},
		{"happy-path-v0.2", 2, false, false, 0, 0},
		{"happy-path-v0.3", 3, false, false, 0, 0},
		{"happy-path-v0.3-new-mediaType", 3, false, false, 0, 0},
		{"happy-path-intoto-in-dsse-v3", 3, true, false, 0, 0},
		{"managed-key-happy-path", 3, false, true, 0, 1},
		{"rekor2-happy-path", 3, false, false, 0, 1},
		{"bundle-with-root-cert_fail", 1, false, false, 2, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sigstore_bundle *b = NULL;
		char rel[256], err[256];
		size_t len;
		char *json;

		snprintf(rel, sizeof(rel), "sigstore/conformance/%s/bundle.sigstore.json",
			 cases[i].dir);
		json = sst_read_fixture(rel, &len);
		if (!json)
			continue;
		if (sigstore_bundle_parse(json, len, &b, err))
			fail_msg("%s: %s", cases[i].dir, err);
		assert_int_equal(b->minor, cases[i].minor);
		assert_int_equal(b->is_dsse, cases[i].dsse);
		assert_int_equal(b->has_public_key, cases[i].key);
		assert_int_equal(b->leaf != NULL, !cases[i].key);
		assert_int_equal(b->n_extra, cases[i].extra);
		assert_int_equal(b->n_timestamps, cases[i].timestamps);
		assert_int_equal(b->n_entries, 1);
		assert_true(b->entries[0].has_proof);
		assert_non_null(b->entries[0].body);
		sigstore_bundle_free(b);
		free(json);
	}
}

static void test_pae(void **state)
{
	unsigned char *out;
	size_t len;

	assert_int_equal(sigstore_dsse_pae("application/vnd.in-toto+json",
					   (const unsigned char *)"{}", 2, &out, &len),
			 0);
	assert_int_equal(len, strlen("DSSEv1 28 application/vnd.in-toto+json 2 {}"));
	assert_memory_equal(out, "DSSEv1 28 application/vnd.in-toto+json 2 {}", len);
	free(out);
	assert_int_equal(sigstore_dsse_pae("", NULL, 0, &out, &len), 0);
	assert_memory_equal(out, "DSSEv1 0  0 ", len);
	free(out);
}

static void test_statement(void **state)
{
	static const char digest_hex[] =
		"a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
	static const struct {
		const char *name;
		const char *json;
		int ret;
	} st[] = {
		{"v1",
		 "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"p\","
		 "\"subject\":[{\"name\":\"a\",\"digest\":{\"sha256\":\"%s\"}}]}",
		 0},
		{"v0.1, second subject",
		 "{\"_type\":\"https://in-toto.io/Statement/v0.1\","
		 "\"subject\":[{\"name\":\"b\",\"digest\":{\"sha512\":\"00\"}},"
		 "{\"name\":\"a\",\"digest\":{\"sha256\":\"%s\"}}]}",
		 0},
		{"upper-case hex",
		 "{\"_type\":\"https://in-toto.io/Statement/v1\","
		 "\"subject\":[{\"digest\":{\"sha256\":"
		 "\"A0CFC71271D6E278E57CD332FF957C3F7043FDDA354C4CBB190A30D56EFA01BF\"}}]%s}",
		 0},
		{"other digest",
		 "{\"_type\":\"https://in-toto.io/Statement/v1\","
		 "\"subject\":[{\"digest\":{\"sha256\":\"00%s\"}}]}",
		 -EBADMSG},
		{"wrong type",
		 "{\"_type\":\"https://in-toto.io/Statement/v2\","
		 "\"subject\":[{\"digest\":{\"sha256\":\"%s\"}}]}",
		 -EPROTO},
		{"no subject", "{\"_type\":\"https://in-toto.io/Statement/v1\",\"x\":\"%s\"}",
		 -EPROTO},
		{"subject without digest",
		 "{\"_type\":\"https://in-toto.io/Statement/v1\","
		 "\"subject\":[{\"name\":\"%s\"}]}",
		 -EPROTO},
	};
	unsigned char digest[32];

	assert_int_equal(sigstore_util_hex_decode(digest_hex, digest, 32), 0);
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		char json[1024], err[256], *pred = NULL;
		int ret;

		snprintf(json, sizeof(json), st[i].json,
			 strstr(st[i].json, "]%s}") ? "" : digest_hex);
		ret = sigstore_dsse_check_statement((unsigned char *)json, strlen(json),
						    SIGSTORE_HASH_SHA256, digest, 32, &pred, err);
		if (ret != st[i].ret)
			fail_msg("%s: ret %d (%s)", st[i].name, ret, err);
		free(pred);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
