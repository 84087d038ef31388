/*
 * test_sigstore_cert.c - Fulcio certificate checks with a CA generated here (validity at the
 * +/- 1 s boundaries, CA windows, EKU, missing SCT, SAN and issuer extraction), and SCTs on the
 * real public-good certificate of ../shared/fixtures/sigstore/conformance/happy-path-v0.3.
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

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "sigstore/bundle.h"
#include "sigstore/cert.h"
#include "sigstore/trust_root.h"
#include "tests/unit/sigstore_test.h"

#define T0 1700000000

struct leaf_spec {
	int64_t not_before, not_after;
	const char *eku;       /* e.g. "codeSigning", or NULL for none */
	const char *san;       /* e.g. "URI:https://x, email:a@b", or NULL */
	const char *issuer_v2; /* DER UTF8String in .1.8, or NULL */
	const char *issuer_v1; /* raw bytes in .1.1, or NULL */
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void add_raw_ext(X509 *x, const char *oid, const unsigned char *der, int len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	assert_int_equal(ASN1_OCTET_STRING_set(os, der, len), 1);
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
}

static X509 *make_cert(EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const char *cn,
		       int64_t nb, int64_t na, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(nb & 0xffffff));
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb);
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
	X509_set_pubkey(x, key);
	if (ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign");
	}
	return x;
}

static void sign(X509 *x, EVP_PKEY *key)
{
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
}

struct test_ca {
	EVP_PKEY *key;
	X509 *cert;
	struct sigstore_trust_root tr;
	struct sigstore_ca ca;
};

static void test_ca_init(struct test_ca *c, int64_t start)
{
	memset(c, 0, sizeof(*c));
	c->key = EVP_EC_gen("P-256");
	c->cert = make_cert(c->key, NULL, NULL, "test fulcio", T0 - 86400, T0 + 86400, true);
	sign(c->cert, c->key);
	c->ca.chain[0] = c->cert;
	c->ca.n_chain = 1;
	c->ca.valid.start = start;
	c->tr.cas = &c->ca;
	c->tr.n_cas = 1;
}

static void test_ca_free(struct test_ca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

static X509 *make_leaf(struct test_ca *c, const struct leaf_spec *s)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = make_cert(key, c->cert, c->key, "", s->not_before, s->not_after, false);

	add_ext(x, c->cert, NID_key_usage, "critical,digitalSignature");
	if (s->eku)
		add_ext(x, c->cert, NID_ext_key_usage, s->eku);
	if (s->san)
		add_ext(x, c->cert, NID_subject_alt_name, s->san);
	if (s->issuer_v2) {
		unsigned char der[512];
		size_t n = strlen(s->issuer_v2);

		assert_true(n < 120);
		der[0] = V_ASN1_UTF8STRING;
		der[1] = (unsigned char)n;
		memcpy(der + 2, s->issuer_v2, n);
		add_raw_ext(x, "1.3.6.1.4.1.57264.1.8", der, (int)n + 2);
	}
	if (s->issuer_v1)
		add_raw_ext(x, "1.3.6.1.4.1.57264.1.1", (const unsigned char *)s->issuer_v1,
			    (int)strlen(s->issuer_v1));
	sign(x, c->key);
	EVP_PKEY_free(key);
	return x;
}

static const struct leaf_spec good = {
	.not_before = T0,
	.not_after = T0 + 600,
	.eku = "codeSigning",
	.san = "URI:https://github.com/org/repo/.github/workflows/w.yml@refs/heads/main",
	.issuer_v2 = "https://token.actions.githubusercontent.com",
};

static void test_chain_validity_boundaries(void **state)
{
	static const struct {
		const char *name;
		int64_t t;
		int ret;
	} rows[] = {
		{"one second before notBefore", T0 - 1, -EKEYEXPIRED},
		{"at notBefore", T0, 0},
		{"inside", T0 + 300, 0},
		{"at notAfter (inclusive)", T0 + 600, 0},
		{"one second after notAfter", T0 + 601, -EKEYEXPIRED},
	};
	struct test_ca c;
	X509 *leaf, *issuer;
	char err[256];

	test_ca_init(&c, T0 - 3600);
	leaf = make_leaf(&c, &good);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ret = sigstore_cert_verify_chain(leaf, &c.tr, rows[i].t, &issuer, err);

		if (ret != rows[i].ret)
			fail_msg("%s: ret %d (%s)", rows[i].name, ret, err);
		if (!ret) {
			assert_int_equal(X509_cmp(issuer, c.cert), 0);
			X509_free(issuer);
		}
	}
	X509_free(leaf);
	test_ca_free(&c);
}

static void test_chain_ca_window(void **state)
{
	struct test_ca c, other;
	X509 *leaf;
	char err[256];

	test_ca_init(&c, T0 + 10); /* CA trusted only from T0+10 */
	test_ca_init(&other, T0 - 3600);
	leaf = make_leaf(&c, &good);
	assert_int_equal(sigstore_cert_verify_chain(leaf, &c.tr, T0 + 9, NULL, err), -ENOENT);
	assert_int_equal(sigstore_cert_verify_chain(leaf, &c.tr, T0 + 10, NULL, err), 0);
	c.ca.valid.has_end = true;
	c.ca.valid.end = T0 + 20;
	assert_int_equal(sigstore_cert_verify_chain(leaf, &c.tr, T0 + 20, NULL, err), 0);
	assert_int_equal(sigstore_cert_verify_chain(leaf, &c.tr, T0 + 21, NULL, err), -ENOENT);
	/* a leaf from another CA */
	assert_int_equal(sigstore_cert_verify_chain(leaf, &other.tr, T0 + 100, NULL, err),
			 -EBADMSG);
	/* the CA certificate itself is not a signing certificate */
	assert_int_not_equal(sigstore_cert_verify_chain(c.cert, &c.tr, T0 + 15, NULL, err), 0);
	X509_free(leaf);
	test_ca_free(&c);
	test_ca_free(&other);
}

static void test_eku(void **state)
{
	static const struct {
		const char *name;
		const char *eku;
		int ret;
	} rows[] = {
		{"codeSigning", "codeSigning", 0},
		{"codeSigning among others", "serverAuth,codeSigning", 0},
		{"serverAuth only", "serverAuth", -EBADMSG},
		{"no EKU", NULL, -EBADMSG},
	};
	struct test_ca c;
	char err[256];

	test_ca_init(&c, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct leaf_spec s = good;
		X509 *leaf;
		int ret;

		s.eku = rows[i].eku;
		leaf = make_leaf(&c, &s);
		ret = sigstore_cert_check_eku(leaf, err);
		if (ret != rows[i].ret)
			fail_msg("%s: ret %d", rows[i].name, ret);
		X509_free(leaf);
	}
	test_ca_free(&c);
}

static void test_missing_sct(void **state)
{
	struct test_ca c;
	X509 *leaf;
	char err[256];

	test_ca_init(&c, 0);
	leaf = make_leaf(&c, &good);
	assert_int_equal(sigstore_cert_verify_sct(leaf, c.cert, &c.tr, (int64_t)T0 * 1000, err),
			 -EBADMSG);
	assert_non_null(strstr(err, "no embedded SCT"));
	X509_free(leaf);
	test_ca_free(&c);
}

static void test_identity(void **state)
{
	static const struct {
		const char *name;
		const char *san, *v2, *v1;
		int ret;
		const char *subject, *issuer;
	} rows[] = {
		{"URI before email", "email:a@example.com,URI:https://x.example/w", "https://i",
		 NULL, 0, "https://x.example/w", "https://i"},
		{"email", "email:a@example.com", "https://i", NULL, 0, "a@example.com",
		 "https://i"},
		{"OtherName", "otherName:1.3.6.1.4.1.57264.1.7;UTF8:user@host", "https://i", NULL,
		 0, "user@host", "https://i"},
		{".1.8 before .1.1", "email:a@example.com", "https://v2", "https://v1", 0,
		 "a@example.com", "https://v2"},
		{".1.1 fallback (raw)", "email:a@example.com", NULL, "https://v1", 0,
		 "a@example.com", "https://v1"},
		{"no issuer", "email:a@example.com", NULL, NULL, -EBADMSG, NULL, NULL},
		{"no SAN", NULL, "https://i", NULL, -EBADMSG, NULL, NULL},
		{"DNS only is not an identity", "DNS:x.example", "https://i", NULL, -EBADMSG, NULL,
		 NULL},
	};
	struct test_ca c;

	test_ca_init(&c, 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct leaf_spec s = good;
		char *subject, *issuer, err[256];
		X509 *leaf;
		int ret;

		s.san = rows[i].san;
		s.issuer_v2 = rows[i].v2;
		s.issuer_v1 = rows[i].v1;
		leaf = make_leaf(&c, &s);
		ret = sigstore_cert_identity(leaf, &subject, &issuer, err);
		if (ret != rows[i].ret)
			fail_msg("%s: ret %d", rows[i].name, ret);
		if (!ret) {
			assert_string_equal(subject, rows[i].subject);
			assert_string_equal(issuer, rows[i].issuer);
			free(subject);
			free(issuer);
		}
		X509_free(leaf);
	}
	test_ca_free(&c);
}

/* The real Fulcio certificate: chain, SCT against the public-good CT log, and tampering. */
static void test_public_good_sct(void **state)
{
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_bundle *b = NULL;
	char *tr_json, *b_json, err[256];
	size_t tr_len, b_len, n_ct;
	int64_t t, now = (int64_t)1735689600 * 1000;
	X509 *issuer = NULL;

	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &tr_len);
	b_json = sst_read_fixture("sigstore/conformance/happy-path-v0.3/bundle.sigstore.json",
				  &b_len);
	if (!tr_json || !b_json)
		goto out;
	assert_int_equal(sigstore_trust_root_parse(tr_json, tr_len, &tr, err), 0);
	assert_int_equal(sigstore_bundle_parse(b_json, b_len, &b, err), 0);
	t = b->entries[0].integrated_time;
	assert_int_equal(sigstore_cert_verify_chain(b->leaf, tr, t, &issuer, err), 0);
	assert_int_equal(sigstore_cert_check_eku(b->leaf, err), 0);
	assert_int_equal(sigstore_cert_verify_sct(b->leaf, issuer, tr, now, err), 0);
	/* no CT logs trusted */
	n_ct = tr->n_ctlogs;
	tr->n_ctlogs = 0;
	assert_int_equal(sigstore_cert_verify_sct(b->leaf, issuer, tr, now, err), -EBADMSG);
	tr->n_ctlogs = n_ct;
	/* the CT log's window closed before the SCT */
	for (size_t i = 0; i < tr->n_ctlogs; i++) {
		tr->ctlogs[i].valid.has_end = true;
		tr->ctlogs[i].valid.end = tr->ctlogs[i].valid.start;
	}
	assert_int_equal(sigstore_cert_verify_sct(b->leaf, issuer, tr, now, err), -EBADMSG);
	for (size_t i = 0; i < tr->n_ctlogs; i++)
		tr->ctlogs[i].valid.has_end = false;
	/* evaluated before the SCT was issued: OpenSSL refuses an SCT from the future */
	assert_int_equal(sigstore_cert_verify_sct(b->leaf, issuer, tr, (t - 3600) * 1000, err),
			 -EBADMSG);
	/* the leaf expires ten minutes after issuance */
	assert_int_equal(sigstore_cert_verify_chain(b->leaf, tr, t + 3600, NULL, err),
			 -EKEYEXPIRED);
out:
	X509_free(issuer);
	sigstore_bundle_free(b);
	sigstore_trust_root_free(tr);
	free(tr_json);
	free(b_json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_validity_boundaries),
		cmocka_unit_test(test_chain_ca_window),
		cmocka_unit_test(test_eku),
		cmocka_unit_test(test_missing_sct),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_public_good_sct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
