/*
 * test_sigstore_util.c - strict base64 and hex, RFC 3339 times, int64 parsing, PEM/DER keys
 * and signature checks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sigstore/util.h"

static const struct {
	const char *name;
	const char *in;
	int ret;
	const char *out;
} b64[] = {
	{"empty", "", 0, ""},
	{"one byte", "YQ==", 0, "a"},
	{"two bytes", "YWI=", 0, "ab"},
	{"three bytes", "YWJj", 0, "abc"},
	{"no padding", "YQ", -EINVAL, NULL},
	{"bad char", "YW*j", -EINVAL, NULL},
	{"url alphabet", "YW-_", -EINVAL, NULL},
	{"padding in the middle", "YQ==YWJj", -EINVAL, NULL},
	{"whitespace", "YWJj\n", -EINVAL, NULL},
	{"triple padding", "Y===", -EINVAL, NULL},
};

static void test_b64(void **state)
{
	for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
		unsigned char *out = NULL;
		size_t len = 0;
		int ret = sigstore_util_b64_decode(b64[i].in, strlen(b64[i].in), &out, &len);

		if (ret != b64[i].ret)
			fail_msg("%s: ret %d", b64[i].name, ret);
		if (!ret) {
			char *back = sigstore_util_b64_encode(out, len);

			assert_int_equal(len, strlen(b64[i].out));
			assert_memory_equal(out, b64[i].out, len);
			assert_string_equal(back, b64[i].in);
			free(back);
		}
		free(out);
	}
}

static const struct {
	const char *name;
	const char *in;
	int ret;
	const char *out;
} b64url[] = {
	{"empty", "", 0, ""},
	{"one byte", "YQ", 0, "a"},
	{"two bytes", "YWI", 0, "ab"},
	{"three bytes", "YWJj", 0, "abc"},
	{"url alphabet", "-_8", 0, "\xfb\xff"},
	{"standard alphabet", "+/8", -EINVAL, NULL},
	{"padded", "YQ==", -EINVAL, NULL},
	{"impossible length", "YWJjZ", -EINVAL, NULL},
	{"dot", "YW.j", -EINVAL, NULL},
};

static void test_b64url(void **state)
{
	for (size_t i = 0; i < sizeof(b64url) / sizeof(b64url[0]); i++) {
		unsigned char *out = NULL;
		size_t len = 0;
		int ret =
			sigstore_util_b64url_decode(b64url[i].in, strlen(b64url[i].in), &out, &len);

		if (ret != b64url[i].ret)
			fail_msg("%s: ret %d", b64url[i].name, ret);
		if (!ret) {
			assert_int_equal(len, strlen(b64url[i].out));
			assert_memory_equal(out, b64url[i].out, len);
			assert_int_equal(out[len], 0);
		}
		free(out);
	}
}

static void test_hex(void **state)
{
	unsigned char out[2];
	char back[5];

	assert_int_equal(sigstore_util_hex_decode("aB0f", out, 2), 0);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0x0f);
	sigstore_util_hex_encode(out, 2, back);
	assert_string_equal(back, "ab0f");
	assert_int_equal(sigstore_util_hex_decode("ab0", out, 2), -EINVAL);
	assert_int_equal(sigstore_util_hex_decode("ab0fe", out, 2), -EINVAL);
	assert_int_equal(sigstore_util_hex_decode("zz00", out, 2), -EINVAL);
}

static const struct {
	const char *name;
	const char *in;
	int ret;
	int64_t t;
} times[] = {
	{"zulu", "2023-07-12T15:56:36Z", 0, 1689177396},
	{"fraction floors", "2022-12-31T23:59:59.999Z", 0, 1672531199},
	{"offset", "2023-07-12T17:56:36+02:00", 0, 1689177396},
	{"negative offset", "2023-07-12T14:56:36-01:00", 0, 1689177396},
	{"epoch", "1970-01-01T00:00:00Z", 0, 0},
	{"no zone", "2023-07-12T15:56:36", -EINVAL, 0},
	{"date only", "2023-07-12", -EINVAL, 0},
	{"month 13", "2023-13-12T15:56:36Z", -EINVAL, 0},
	{"31 February", "2023-02-31T00:00:00Z", -EINVAL, 0},
	{"trailing junk", "2023-07-12T15:56:36Zx", -EINVAL, 0},
	{"empty fraction", "2023-07-12T15:56:36.Z", -EINVAL, 0},
};

static void test_time(void **state)
{
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t t = -1;
		int ret = sigstore_util_parse_time(times[i].in, &t);

		if (ret != times[i].ret || (!ret && t != times[i].t))
			fail_msg("%s: ret %d t %lld", times[i].name, ret, (long long)t);
	}
}

static void test_int64(void **state)
{
	int64_t v;

	assert_int_equal(sigstore_util_parse_int64("27246492", &v), 0);
	assert_int_equal(v, 27246492);
	assert_int_equal(sigstore_util_parse_int64("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sigstore_util_parse_int64("9223372036854775807", &v), 0);
	assert_int_equal(sigstore_util_parse_int64("9223372036854775808", &v), -ERANGE);
	assert_int_equal(sigstore_util_parse_int64("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(sigstore_util_parse_int64("", &v), -EINVAL);
	assert_int_equal(sigstore_util_parse_int64("-", &v), -EINVAL);
	assert_int_equal(sigstore_util_parse_int64("1 ", &v), -EINVAL);
	assert_int_equal(sigstore_util_parse_int64("0x10", &v), -EINVAL);
}

static void test_sign_verify(void **state)
{
	static const int types[] = {EVP_PKEY_EC, EVP_PKEY_ED25519};

	for (size_t i = 0; i < 2; i++) {
		EVP_PKEY *key = types[i] == EVP_PKEY_EC ? EVP_EC_gen("P-256")
							: EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		const unsigned char msg[] = "hello";
		unsigned char sig[256], *der = NULL, digest[32];
		size_t sig_len = sizeof(sig);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		EVP_PKEY *pub;
		int der_len;

		assert_non_null(key);
		assert_int_equal(EVP_DigestSignInit(ctx, NULL,
						    types[i] == EVP_PKEY_EC ? EVP_sha256() : NULL,
						    NULL, key),
				 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, msg, 5), 1);
		der_len = i2d_PUBKEY(key, &der);
		pub = sigstore_util_pkey_from_der(der, (size_t)der_len);
		assert_non_null(pub);
		assert_int_equal(sigstore_util_verify(pub, msg, 5, sig, sig_len), 0);
		assert_int_equal(sigstore_util_verify(pub, msg, 4, sig, sig_len), -EBADMSG);
		sig[sig_len / 2] ^= 1;
		assert_int_equal(sigstore_util_verify(pub, msg, 5, sig, sig_len), -EBADMSG);
		sig[sig_len / 2] ^= 1;
		sigstore_util_hash(SIGSTORE_HASH_SHA256, msg, 5, digest);
		if (types[i] == EVP_PKEY_EC)
			assert_int_equal(sigstore_util_verify_digest(pub, SIGSTORE_HASH_SHA256,
								     digest, 32, sig, sig_len),
					 0);
		else
			assert_int_equal(sigstore_util_verify_digest(pub, SIGSTORE_HASH_SHA256,
								     digest, 32, sig, sig_len),
					 -ENOTSUP);
		/* trailing garbage after the DER key is refused */
		assert_null(sigstore_util_pkey_from_der(der, (size_t)der_len - 1));
		OPENSSL_free(der);
		EVP_PKEY_free(pub);
		EVP_MD_CTX_free(ctx);
		EVP_PKEY_free(key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),   cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_hex),   cmocka_unit_test(test_time),
		cmocka_unit_test(test_int64), cmocka_unit_test(test_sign_verify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
