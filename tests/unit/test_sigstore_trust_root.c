/*
 * test_sigstore_trust_root.c - trusted_root.json parsing: the public-good root (fixture, read in
 * place) and the shipped deploy/trusted_root.json, plus one hand-written document per error.
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

#include "sigstore/trust_root.h"
#include "tests/unit/sigstore_test.h"

#define ED_KEY "MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244="
#define ED_ID  "zxGZFVvd0FEmjR8WrFwMdcAJ9vtaY/QXf44Y1wUeP6A="
#define MEDIA  "\"mediaType\":\"application/vnd.dev.sigstore.trustedroot+json;version=0.1\""
#define TLOG(valid)                                                                        \
	"{\"baseUrl\":\"https://log.example\",\"publicKey\":{\"rawBytes\":\"" ED_KEY "\"," \
	"\"validFor\":" valid "},\"logId\":{\"keyId\":\"" ED_ID "\"}}"

static const struct {
	const char *name;
	const char *json;
	int ret;
	const char *err; /* substring of the error */
} rows[] = {
	{"minimal", "{" MEDIA ",\"tlogs\":[" TLOG("{\"start\":\"2025-01-01T00:00:00Z\"}") "]}", 0,
	 NULL},
	{"nulls are absent", "{" MEDIA ",\"tlogs\":null,\"ctlogs\":null,\"x\":null}", 0, NULL},
	{"missing validFor.start",
	 "{" MEDIA ",\"tlogs\":[" TLOG("{\"end\":\"2025-01-01T00:00:00Z\"}") "]}", -EPROTO,
	 "validFor.start: missing"},
	{"empty validFor", "{" MEDIA ",\"tlogs\":[" TLOG("{}") "]}", -EPROTO,
	 "validFor.start: missing"},
	{"end before start",
	 "{" MEDIA ",\"tlogs\":[" TLOG("{\"start\":\"2025-01-02T00:00:00Z\",\"end\":\"2025-01-01T0"
				       "0:00:00Z\"}") "]}",
	 -EPROTO, "ends before"},
	{"bad time", "{" MEDIA ",\"tlogs\":[" TLOG("{\"start\":\"yesterday\"}") "]}", -EPROTO,
	 "RFC 3339"},
	{"no media type", "{\"tlogs\":[]}", -EPROTO, "mediaType: missing"},
	{"other media type", "{\"mediaType\":\"application/json\"}", -EPROTO, "unsupported"},
	{"not JSON", "{", -EPROTO, "invalid JSON"},
	{"duplicate keys", "{" MEDIA "," MEDIA "}", -EPROTO, "invalid JSON"},
	{"not an object", "[]", -EPROTO, "not a JSON object"},
	{"tlogs not an array", "{" MEDIA ",\"tlogs\":{}}", -EPROTO, "not an array"},
	{"bad key",
	 "{" MEDIA ",\"tlogs\":[{\"publicKey\":{\"rawBytes\":\"AAAA\",\"validFor\":{\"start\":"
	 "\"2025-01-01T00:00:00Z\"}},\"logId\":{\"keyId\":\"" ED_ID "\"}}]}",
	 -EPROTO, "not a supported public key"},
	{"short log id",
	 "{" MEDIA ",\"tlogs\":[{\"publicKey\":{\"rawBytes\":\"" ED_KEY "\",\"validFor\":{\"star"
	 "t\":\"2025-01-01T00:00:00Z\"}},\"logId\":{\"keyId\":\"AAAA\"}}]}",
	 -EPROTO, "not 32 bytes"},
	{"CA without certificates",
	 "{" MEDIA ",\"certificateAuthorities\":[{\"certChain\":{\"certificates\":[]},\"validFor"
	 "\":{\"start\":\"2025-01-01T00:00:00Z\"}}]}",
	 -EPROTO, "no certificates"},
	{"CA with garbage certificate",
	 "{" MEDIA ",\"certificateAuthorities\":[{\"certChain\":{\"certificates\":[{\"rawBytes\":"
	 "\"MAA=\"}]},\"validFor\":{\"start\":\"2025-01-01T00:00:00Z\"}}]}",
	 -EPROTO, "not a DER certificate"},
	{"too deep", "{" MEDIA ",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}", -EPROTO,
	 "nested deeper"},
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sigstore_trust_root *tr = NULL;
		char err[256] = "";
		int ret = sigstore_trust_root_parse(rows[i].json, strlen(rows[i].json), &tr, err);

		if (ret != rows[i].ret || (rows[i].err && !strstr(err, rows[i].err)))
			fail_msg("%s: ret %d err '%s'", rows[i].name, ret, err);
		if (!ret)
			assert_non_null(tr);
		else
			assert_null(tr);
		sigstore_trust_root_free(tr);
	}
}

static void test_range(void **state)
{
	struct sigstore_time_range r = {.start = 10, .end = 20, .has_end = true};

	assert_false(sigstore_time_range_contains(&r, 9));
	assert_true(sigstore_time_range_contains(&r, 10));
	assert_true(sigstore_time_range_contains(&r, 20));
	assert_false(sigstore_time_range_contains(&r, 21));
	r.has_end = false;
	assert_true(sigstore_time_range_contains(&r, INT64_MAX));
}

static void check_public_good(const struct sigstore_trust_root *tr)
{
	unsigned char id[32];
	const struct sigstore_log *log;

	assert_int_equal(tr->n_tlogs, 2);
	assert_int_equal(tr->n_ctlogs, 2);
	assert_int_equal(tr->n_cas, 2);
	assert_int_equal(tr->n_tsas, 1);
	assert_int_equal(tr->cas[1].n_chain, 2);
	assert_true(tr->cas[0].valid.has_end); /* 2022-12-31T23:59:59.999Z */
	assert_int_equal(tr->cas[0].valid.end, 1672531199);
	assert_int_equal(sigstore_util_b64_decode("wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=",
						  44, (unsigned char **)&log, &(size_t){0}),
			 0);
	memcpy(id, log, 32);
	free((void *)log);
	log = sigstore_trust_root_find_tlog(tr, id, 32);
	assert_non_null(log);
	assert_string_equal(log->base_url, "https://rekor.sigstore.dev");
	assert_ptr_equal(sigstore_trust_root_find_tlog_url(tr, "https://rekor.sigstore.dev/"), log);
	assert_null(sigstore_trust_root_find_tlog_url(tr, "https://rekor.sigstore.dev.evil"));
	id[0] ^= 1;
	assert_null(sigstore_trust_root_find_tlog(tr, id, 32));
}

static void test_public_good(void **state)
{
	struct sigstore_trust_root *tr = NULL;
	char err[256], path[4096];
	const char *slash = strrchr(__FILE__, '/');
	size_t len;
	char *json = sst_read_fixture("sigstore/public-good/trusted_root.json", &len);

	if (json) {
		assert_int_equal(sigstore_trust_root_parse(json, len, &tr, err), 0);
		check_public_good(tr);
		sigstore_trust_root_free(tr);
		free(json);
	}
	/* the copy shipped as the default */
	snprintf(path, sizeof(path), "%.*s/../../deploy/trusted_root.json",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	assert_int_equal(sigstore_trust_root_load(path, &tr, err), 0);
	check_public_good(tr);
	sigstore_trust_root_free(tr);
	assert_int_equal(sigstore_trust_root_load("/nonexistent/trusted_root.json", &tr, err),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/trusted_root.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_public_good),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
