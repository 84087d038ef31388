/* test_svid.c - the CA (generated and reused, loaded from files with a chain), X.509-SVIDs
 * checked by the openssl CLI and python3-cryptography (tests/tools/check_svid.sh), JWT-SVIDs
 * verified independently against the JWKS, and ValidateJWTSVID against crafted tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon/svid.h"

#define CHECK_SCRIPT "tests/tools/check_svid.sh"
#define TD	     "example.org"

struct fixture {
	char dir[64];
	struct svid_ca *ca;
};

/* ---- helpers ------------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes concatenated DER certificates as PEM; returns how many. */
static int der_certs_to_pem(const uint8_t *der, size_t len, const char *path)
{
	const unsigned char *p = der, *end = der + len;
	FILE *f = fopen(path, "w");
	int n = 0;

	assert_non_null(f);
	while (p < end) {
		X509 *x = d2i_X509(NULL, &p, end - p);

		assert_non_null(x);
		assert_true(PEM_write_X509(f, x));
		X509_free(x);
		n++;
	}
	assert_int_equal(fclose(f), 0);
	return n;
}

/* Runs the check script; skips the test when a tool is missing (exit 77). */
static void run_check(const char *const argv[])
{
	char cmd[8192];
	size_t off;
	int st;

	if (access(CHECK_SCRIPT, X_OK) != 0)
		fail_msg("%s not found: run the unit tests from the repository root", CHECK_SCRIPT);
	off = (size_t)snprintf(cmd, sizeof(cmd), "%s", CHECK_SCRIPT);
	for (size_t i = 0; argv[i]; i++) {
		assert_null(strchr(argv[i], '\'')); /* quoted below */
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " '%s'", argv[i]);
		assert_true(off < sizeof(cmd));
	}
	st = system(cmd);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	if (WEXITSTATUS(st) != 0)
		fail_msg("%s failed (exit %d)", cmd, WEXITSTATUS(st));
}

static void make_tmpdir(char dir[64])
{
	snprintf(dir, 64, "/tmp/test_svid.XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static int open_generated(const char *dir, const char *td, struct svid_ca **ca)
{
	struct svid_ca_opts o = {
		.trust_domain = td, .state_dir = dir, .generate = true, .ca_ttl_s = 3600 * 24};
	char err[SVID_ERR_MAX];
	int ret = svid_ca_open(&o, ca, err);

	if (ret < 0)
		print_message("svid_ca_open: %s\n", err);
	return ret;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	make_tmpdir(f->dir);
	assert_int_equal(open_generated(f->dir, TD, &f->ca), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	svid_ca_free(f->ca);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static struct policy_identity make_id(const char *spiffe_id)
{
	struct policy_identity id = {0};

	snprintf(id.spiffe_id, sizeof(id.spiffe_id), "%s", spiffe_id);
	snprintf(id.source, sizeof(id.source), "entries[0]");
	return id;
}

/* Writes chain.pem, key.der and bundle.pem for the check script into a fresh directory. */
static void write_svid_files(const struct svid_ca *ca, const struct svid_x509 *s, char dir[64])
{
	char path[128];
	const uint8_t *bundle;
	size_t blen;

	make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/chain.pem", dir);
	der_certs_to_pem(s->chain_der, s->chain_len, path);
	snprintf(path, sizeof(path), "%s/key.der", dir);
	write_file(path, s->key_pkcs8, s->key_len);
	svid_ca_bundle_der(ca, &bundle, &blen);
	snprintf(path, sizeof(path), "%s/bundle.pem", dir);
	der_certs_to_pem(bundle, blen, path);
}

static mode_t file_mode(const char *dir, const char *name)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* ---- the CA ------------------------------------------------------------------------------- */

static void test_ca_generated_then_reused(void **state)
{
	struct fixture *f = *state;
	struct svid_ca *again = NULL;
	const uint8_t *b1, *b2;
	size_t l1, l2;
	json_t *jwks;

	assert_string_equal(svid_ca_generated(f->ca), "no CA in state_dir");
	assert_int_equal(file_mode(f->dir, "ca.key"), 0600);
	assert_int_equal(file_mode(f->dir, "jwt.key"), 0600);
	assert_int_equal(strlen(svid_ca_kid(f->ca)), 32);
	assert_true(svid_ca_not_after(f->ca) > time(NULL) + 3600 * 23);

	assert_int_equal(open_generated(f->dir, TD, &again), 0);
	assert_null(svid_ca_generated(again));
	svid_ca_bundle_der(f->ca, &b1, &l1);
	svid_ca_bundle_der(again, &b2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	assert_string_equal(svid_ca_kid(f->ca), svid_ca_kid(again));

	jwks = svid_ca_jwks(again, 7, 150);
	assert_non_null(jwks);
	assert_int_equal(json_integer_value(json_object_get(jwks, "spiffe_sequence")), 7);
	assert_int_equal(json_integer_value(json_object_get(jwks, "spiffe_refresh_hint")), 150);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(jwks, "keys"), 0), "use")),
			    "jwt-svid");
	json_decref(jwks);
	svid_ca_free(again);
}

static void test_ca_regenerated(void **state)
{
	struct fixture *f = *state;
	struct svid_ca *other = NULL;
	char path[128];
	const uint8_t *b1, *b2;
	size_t l1, l2;

	/* another trust domain: a new CA, for that trust domain */
	assert_int_equal(open_generated(f->dir, "other.test", &other), 0);
	assert_string_equal(svid_ca_generated(other), "the stored CA is for another trust domain");
	svid_ca_bundle_der(f->ca, &b1, &l1);
	svid_ca_bundle_der(other, &b2, &l2);
	assert_false(l1 == l2 && memcmp(b1, b2, l1) == 0);
	svid_ca_free(other);

	/* a broken certificate file is ours to replace */
	snprintf(path, sizeof(path), "%s/ca.crt", f->dir);
	write_file(path, "garbage\n", 8);
	assert_int_equal(open_generated(f->dir, TD, &other), 0);
	assert_string_equal(svid_ca_generated(other), "the stored CA does not parse");
	svid_ca_free(other);

	/* the key of another CA */
	snprintf(path, sizeof(path), "%s/ca.key", f->dir);
	unlink(path);
	assert_int_equal(open_generated(f->dir, TD, &other), 0);
	assert_string_equal(svid_ca_generated(other), "no CA in state_dir");
	svid_ca_free(other);
}

struct files_case {
	const char *name;
	const char *cert, *key, *bundle; /* names in the chain dir; NULL = unset */
	int want;
	const char *err_contains;
};

static const struct files_case files_cases[] = {
	{"intermediate with bundle", "chain.pem", "int.key", "root.pem", 0, NULL},
	{"intermediate, root from chain", "chain.pem", "int.key", NULL, 0, NULL},
	{"root itself", "root.pem", "root.key", NULL, 0, NULL},
	{"missing cert", "nope.pem", "int.key", NULL, -ENOENT, "ca.cert "},
	{"missing key", "chain.pem", "nope.key", NULL, -ENOENT, "ca.key "},
	{"key mismatch", "chain.pem", "root.key", NULL, -EINVAL, "does not match ca.cert"},
	{"key is a cert", "chain.pem", "root.pem", NULL, -EINVAL, "not an unencrypted PEM"},
	{"cert is a key", "int.key", "int.key", NULL, -EINVAL, "not a PEM certificate"},
	{"not a CA", "leaf.pem", "leaf.key", NULL, -EINVAL, "not a CA certificate"},
	{"wrong bundle", "chain.pem", "int.key", "other.pem", -EINVAL, "does not chain"},
	{"no key path", "chain.pem", NULL, NULL, -EINVAL, "needs cert and key"},
};

static void test_ca_from_files(void **state)
{
	struct fixture *f = *state;
	char dir[64], path[4][160], err[SVID_ERR_MAX];
	const char *argv[] = {"mkchain", dir, NULL};
	struct policy_identity id = make_id("spiffe://" TD "/web");
	struct svid_x509 *s = NULL;
	EVP_PKEY *leaf_key;
	FILE *fp;

	make_tmpdir(dir);
	run_check(argv);
	/* a leaf (not a CA) and an unrelated root for the negative rows */
	assert_int_equal(svid_issue_x509(f->ca, &id, 600, &s, err), 0);
	snprintf(path[0], sizeof(path[0]), "%s/leaf.pem", dir);
	der_certs_to_pem(s->chain_der, s->chain_len, path[0]);
	{
		const unsigned char *p = s->key_pkcs8;

		leaf_key = d2i_AutoPrivateKey(NULL, &p, (long)s->key_len);
		assert_non_null(leaf_key);
		snprintf(path[0], sizeof(path[0]), "%s/leaf.key", dir);
		fp = fopen(path[0], "w");
		assert_non_null(fp);
		assert_true(PEM_write_PrivateKey(fp, leaf_key, NULL, NULL, 0, NULL, NULL));
		fclose(fp);
		EVP_PKEY_free(leaf_key);
	}
	svid_x509_unref(s);
	{
		const uint8_t *b;
		size_t bl;

		svid_ca_bundle_der(f->ca, &b, &bl);
		snprintf(path[0], sizeof(path[0]), "%s/other.pem", dir);
		der_certs_to_pem(b, bl, path[0]);
	}

	for (size_t i = 0; i < sizeof(files_cases) / sizeof(files_cases[0]); i++) {
		const struct files_case *c = &files_cases[i];
		struct svid_ca_opts o = {.trust_domain = TD};
		struct svid_ca *ca = NULL;
		int ret;

		if (c->cert)
			snprintf(path[1], sizeof(path[1]), "%s/%s", dir, c->cert);
		if (c->key)
			snprintf(path[2], sizeof(path[2]), "%s/%s", dir, c->key);
		if (c->bundle)
			snprintf(path[3], sizeof(path[3]), "%s/%s", dir, c->bundle);
		o.cert_path = c->cert ? path[1] : NULL;
		o.key_path = c->key ? path[2] : NULL;
		o.bundle_path = c->bundle ? path[3] : NULL;
		ret = svid_ca_open(&o, &ca, err);
		if (ret != c->want || (c->err_contains && !strstr(err, c->err_contains)))
			fail_msg("%s: ret %d (want %d), err \"%s\"", c->name, ret, c->want, err);
		if (ret < 0) {
			assert_null(ca);
			continue;
		}
		assert_null(svid_ca_generated(ca));
		/* issue and check the chain against the bundle, leaf first then the
		 * intermediate (when the CA is one) */
		{
			char sdir[64];
			const char *xargv[] = {"x509", sdir, id.spiffe_id, NULL};
			const uint8_t *b;
			size_t bl;

			assert_int_equal(svid_issue_x509(ca, &id, 600, &s, err), 0);
			write_svid_files(ca, s, sdir);
			snprintf(path[0], sizeof(path[0]), "%s/chain_count.pem", sdir);
			assert_int_equal(der_certs_to_pem(s->chain_der, s->chain_len, path[0]),
					 strcmp(c->cert, "chain.pem") == 0 ? 2 : 1);
			svid_ca_bundle_der(ca, &b, &bl);
			snprintf(path[0], sizeof(path[0]), "%s/bundle_count.pem", sdir);
			assert_int_equal(der_certs_to_pem(b, bl, path[0]), 1);
			run_check(xargv);
			rm_tree(sdir);
			svid_x509_unref(s);
		}
		svid_ca_free(ca);
	}
	rm_tree(dir);
}

/* ---- X.509-SVIDs -------------------------------------------------------------------------- */

static void test_issue_x509_checked(void **state)
{
	struct fixture *f = *state;
	char *orgs[] = {"Acme", "Acme Labs"}, *dns[] = {"web.example.org", "*.web.svc"};
	struct policy_identity id = make_id("spiffe://" TD "/ns/prod/sa/web");
	struct svid_x509 *s1 = NULL, *s2 = NULL;
	char err[SVID_ERR_MAX], dir[64];
	const char *argv[] = {"x509", dir, id.spiffe_id, dns[0], dns[1], NULL};
	const char *argv_bare[] = {"x509", dir, "spiffe://" TD "/bare", NULL};
	int64_t now = time(NULL);

	id.subject.common_name = "web";
	id.subject.organization = orgs;
	id.subject.norganization = 2;
	id.dns_names = dns;
	id.ndns_names = 2;
	id.hint = "internal";
	id.x509_ttl_s = 900;
	assert_int_equal(svid_issue_x509(f->ca, &id, 3600, &s1, err), 0);
	assert_string_equal(s1->spiffe_id, id.spiffe_id);
	assert_string_equal(s1->hint, "internal");
	assert_int_equal(s1->refs, 1);
	assert_true(s1->not_before <= now - SVID_BACKDATE_S + 1);
	assert_true(s1->not_after >= now + 900 && s1->not_after <= now + 902);
	write_svid_files(f->ca, s1, dir);
	run_check(argv);
	rm_tree(dir);

	/* a second issuance: a new key and a new serial */
	assert_int_equal(svid_issue_x509(f->ca, &id, 3600, &s2, err), 0);
	assert_false(s1->key_len == s2->key_len &&
		     memcmp(s1->key_pkcs8, s2->key_pkcs8, s1->key_len) == 0);
	assert_false(s1->chain_len == s2->chain_len &&
		     memcmp(s1->chain_der, s2->chain_der, s1->chain_len) == 0);
	assert_ptr_equal(svid_x509_ref(s2), s2);
	assert_int_equal(s2->refs, 2);
	svid_x509_unref(s2);
	svid_x509_unref(s2);
	svid_x509_unref(s1);

	/* empty subject: the SAN must be critical (checked by the script); default ttl */
	id = make_id("spiffe://" TD "/bare");
	assert_int_equal(svid_issue_x509(f->ca, &id, 120, &s1, err), 0);
	assert_null(s1->hint);
	assert_true(s1->not_after >= now + 120 && s1->not_after <= now + 122);
	write_svid_files(f->ca, s1, dir);
	run_check(argv_bare);
	rm_tree(dir);
	svid_x509_unref(s1);
}

/* The leaf's PKCS#8 and SubjectPublicKeyInfo are written without OpenSSL's encoders: they must
 * be byte for byte what OpenSSL writes for the same key, and the key must match the certificate.
 * Enough issuances that some private scalars have leading zero bytes (1 in 256). */
static void test_issue_x509_key_encoding(void **state)
{
	struct fixture *f = *state;
	struct policy_identity id = make_id("spiffe://" TD "/enc");
	char err[SVID_ERR_MAX];

	for (int i = 0; i < 600; i++) {
		struct svid_x509 *s = NULL;
		const unsigned char *p;
		unsigned char *der = NULL, *spki_der = NULL, *ref_spki_der = NULL;
		PKCS8_PRIV_KEY_INFO *p8;
		X509_PUBKEY *ref_spki = NULL;
		EVP_PKEY *key;
		X509 *cert;
		int n, m, k;

		assert_int_equal(svid_issue_x509(f->ca, &id, 600, &s, err), 0);
		p = s->key_pkcs8;
		key = d2i_AutoPrivateKey(NULL, &p, (long)s->key_len);
		assert_non_null(key);
		assert_ptr_equal(p, s->key_pkcs8 + s->key_len);
		p8 = EVP_PKEY2PKCS8(key);
		assert_non_null(p8);
		n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
		assert_int_equal(n, (int)s->key_len);
		assert_memory_equal(der, s->key_pkcs8, s->key_len);

		p = s->chain_der;
		cert = d2i_X509(NULL, &p, (long)s->chain_len);
		assert_non_null(cert);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1);
		assert_int_equal(X509_check_private_key(cert, key), 1);
		assert_int_equal(X509_PUBKEY_set(&ref_spki, key), 1);
		m = i2d_X509_PUBKEY(ref_spki, &ref_spki_der);
		k = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki_der);
		assert_true(m > 0);
		assert_int_equal(k, m);
		assert_memory_equal(spki_der, ref_spki_der, (size_t)m);

		OPENSSL_free(spki_der);
		OPENSSL_free(ref_spki_der);
		X509_PUBKEY_free(ref_spki);
		X509_free(cert);
		OPENSSL_clear_free(der, (size_t)n);
		PKCS8_PRIV_KEY_INFO_free(p8);
		EVP_PKEY_free(key);
		svid_x509_unref(s);
	}
}

struct issue_case {
	const char *name;
	const char *spiffe_id;
	const char *dns;
	const char *country;
	const char *cn;
	uint64_t ttl;
	int want;
	const char *err_contains;
};

static const struct issue_case issue_cases[] = {
	{"plain", "spiffe://" TD "/a", NULL, NULL, NULL, 60, 0, NULL},
	{"other trust domain", "spiffe://other.org/a", NULL, NULL, NULL, 60, -EINVAL,
	 "not in trust domain example.org"},
	{"not a SPIFFE ID", "https://" TD "/a", NULL, NULL, NULL, 60, -EINVAL, "spiffe_id"},
	{"dns with comma", "spiffe://" TD "/a", "a.com,URI:spiffe://x", NULL, NULL, 60, -EINVAL,
	 "not a DNS name"},
	{"dns empty label", "spiffe://" TD "/a", "a..com", NULL, NULL, 60, -EINVAL,
	 "not a DNS name"},
	{"dns leading hyphen", "spiffe://" TD "/a", "-a.com", NULL, NULL, 60, -EINVAL,
	 "not a DNS name"},
	{"dns wildcard ok", "spiffe://" TD "/a", "*.a-b.com", NULL, NULL, 60, 0, NULL},
	{"country of 3 letters", "spiffe://" TD "/a", NULL, "USA", NULL, 60, -EINVAL,
	 "x509_subject.country"},
	{"country ok", "spiffe://" TD "/a", NULL, "DE", NULL, 60, 0, NULL},
	{"common name too long", "spiffe://" TD "/a", NULL, NULL,
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 60, -EINVAL,
	 "x509_subject.common_name"},
	{"zero ttl", "spiffe://" TD "/a", NULL, NULL, NULL, 0, -EINVAL, "ttl"},
	{"ttl clamped to the CA", "spiffe://" TD "/a", NULL, NULL, NULL, 3600 * 24 * 365, 0, NULL},
};

static void test_issue_x509_table(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(issue_cases) / sizeof(issue_cases[0]); i++) {
		const struct issue_case *c = &issue_cases[i];
		struct policy_identity id = make_id(c->spiffe_id);
		char *dns = (char *)c->dns, *country = (char *)c->country;
		struct svid_x509 *s = NULL;
		char err[SVID_ERR_MAX] = "";
		int ret;

		if (dns) {
			id.dns_names = &dns;
			id.ndns_names = 1;
		}
		if (country) {
			id.subject.country = &country;
			id.subject.ncountry = 1;
		}
		id.subject.common_name = (char *)c->cn;
		ret = svid_issue_x509(f->ca, &id, c->ttl, &s, err);
		if (ret != c->want || (c->err_contains && !strstr(err, c->err_contains)))
			fail_msg("%s: ret %d (want %d), err \"%s\"", c->name, ret, c->want, err);
		if (ret == 0) {
			assert_true(s->not_after <= svid_ca_not_after(f->ca));
			if (c->ttl > 3600 * 24 * 2)
				assert_int_equal(s->not_after, svid_ca_not_after(f->ca));
			svid_x509_unref(s);
		} else {
			assert_null(s);
		}
	}
}

/* ---- JWT-SVIDs ---------------------------------------------------------------------------- */

static void write_jwks(const struct svid_ca *ca, const char *path)
{
	json_t *jwks = svid_ca_jwks(ca, 1, 300);

	assert_non_null(jwks);
	assert_int_equal(json_dump_file(jwks, path, JSON_COMPACT), 0);
	json_decref(jwks);
}

static void test_jwt_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct policy_claim claims[] = {{"team", "payments"}, {"env", "prod"}};
	struct policy_identity id = make_id("spiffe://" TD "/ns/prod/sa/web");
	const char *auds[] = {"spire-server", "vault"};
	char err[SVID_ERR_MAX], sub[SPIFFE_ID_MAX + 1], jwks_path[128];
	char *tok = NULL;
	json_t *got = NULL;

	id.jwt_claims = claims;
	id.njwt_claims = 2;
	snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", f->dir);
	write_jwks(f->ca, jwks_path);

	/* one audience: aud is a string */
	assert_int_equal(svid_issue_jwt(f->ca, &id, auds, 1, 300, &tok, err), 0);
	assert_int_equal(svid_validate_jwt(f->ca, tok, "spire-server", sub, &got, err), 0);
	assert_string_equal(sub, id.spiffe_id);
	assert_true(json_is_string(json_object_get(got, "aud")));
	assert_string_equal(json_string_value(json_object_get(got, "team")), "payments");
	assert_string_equal(json_string_value(json_object_get(got, "env")), "prod");
	assert_int_equal(json_integer_value(json_object_get(got, "exp")) -
				 json_integer_value(json_object_get(got, "iat")),
			 300);
	json_decref(got);
	{
		const char *argv[] = {"jwt", jwks_path, tok, "spire-server", id.spiffe_id, NULL};

		run_check(argv);
	}
	assert_int_equal(svid_validate_jwt(f->ca, tok, "vault", sub, &got, err), -EINVAL);
	assert_string_equal(err, "token: audience \"vault\" not in aud");
	free(tok);

	/* two audiences: an array; either validates */
	assert_int_equal(svid_issue_jwt(f->ca, &id, auds, 2, 0, &tok, err), 0);
	assert_int_equal(svid_validate_jwt(f->ca, tok, "vault", sub, &got, err), 0);
	assert_int_equal(json_array_size(json_object_get(got, "aud")), 2);
	json_decref(got);
	{
		const char *argv[] = {"jwt", jwks_path, tok, "vault", id.spiffe_id, NULL};

		run_check(argv);
	}
	free(tok);

	/* issuance errors */
	assert_int_equal(svid_issue_jwt(f->ca, &id, auds, 0, 300, &tok, err), -EINVAL);
	claims[0].name = "sub";
	assert_int_equal(svid_issue_jwt(f->ca, &id, auds, 1, 300, &tok, err), -EINVAL);
	assert_string_equal(err, "jwt_claims: sub is reserved");
	id = make_id("spiffe://other.org/x");
	assert_int_equal(svid_issue_jwt(f->ca, &id, auds, 1, 300, &tok, err), -EINVAL);
}

/* A test signer with the CA's own JWT key (state_dir/jwt.key), for crafted tokens. */
static void b64url(const void *in, size_t n, char *out, size_t out_size)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const uint8_t *p = in;
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		size_t chars = n - i >= 3 ? 4 : n - i + 1;

		for (size_t c = 0; c < chars; c++) {
			assert_true(o + 1 < out_size);
			out[o++] = a[(v >> (18 - 6 * c)) & 63];
		}
	}
	out[o] = '\0';
}

enum sig_mode {
	SIG_OK,
	SIG_FLIP,  /* one bit of s flipped */
	SIG_EMPTY, /* "h.p." */
	SIG_DER,   /* the DER signature instead of r||s */
};

static char *craft(const char *dir, const char *header, const char *payload, enum sig_mode mode)
{
	char path[128], *tok = malloc(16384);
	unsigned char der[80];
	size_t der_len = sizeof(der), len;
	const unsigned char *p = der;
	uint8_t raw[64];
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *key;
	FILE *fp;

	assert_non_null(tok);
	snprintf(path, sizeof(path), "%s/jwt.key", dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(key);
	b64url(header, strlen(header), tok, 16384);
	len = strlen(tok);
	tok[len++] = '.';
	b64url(payload, strlen(payload), tok + len, 16384 - len);
	len = strlen(tok);
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(md, der, &der_len, (unsigned char *)tok, len), 1);
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	BN_bn2binpad(r, raw, 32);
	BN_bn2binpad(s, raw + 32, 32);
	tok[len++] = '.';
	tok[len] = '\0';
	if (mode == SIG_FLIP)
		raw[40] ^= 1;
	if (mode == SIG_DER)
		b64url(der, der_len, tok + len, 16384 - len);
	else if (mode != SIG_EMPTY)
		b64url(raw, sizeof(raw), tok + len, 16384 - len);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return tok;
}

struct jwt_case {
	const char *name;
	const char *header;  /* %s = kid */
	const char *payload; /* %1$lld = now + exp_off, %2$lld = now + 600 */
	long long exp_off;
	enum sig_mode sig;
	int want;
	const char *err_contains;
};

#define HDR_OK	  "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JWT\"}"
#define SUB	  "\"sub\":\"spiffe://" TD "/w\""
#define CL(extra) "{" SUB ",\"aud\":\"A\",\"exp\":%1$lld" extra "}"

static const struct jwt_case jwt_cases[] = {
	{"valid", HDR_OK, CL(""), 300, SIG_OK, 0, NULL},
	{"valid, JOSE typ, nbf past, aud array",
	 "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"JOSE\"}",
	 "{" SUB ",\"aud\":[\"B\",\"A\"],\"exp\":%1$lld,\"nbf\":1}", 300, SIG_OK, 0, NULL},
	{"alg none", "{\"alg\":\"none\",\"kid\":\"%s\"}", CL(""), 300, SIG_EMPTY, -EINVAL,
	 "unsupported alg \"none\""},
	{"alg HS256", "{\"alg\":\"HS256\",\"kid\":\"%s\"}", CL(""), 300, SIG_OK, -EINVAL,
	 "unsupported alg \"HS256\""},
	{"alg missing", "{\"kid\":\"%s\"}", CL(""), 300, SIG_OK, -EINVAL, "alg missing"},
	{"alg RS256 for an EC key", "{\"alg\":\"RS256\",\"kid\":\"%s\"}", CL(""), 300, SIG_OK,
	 -EINVAL, "does not match key"},
	{"alg ES384 for a P-256 key", "{\"alg\":\"ES384\",\"kid\":\"%s\"}", CL(""), 300, SIG_OK,
	 -EINVAL, "does not match key"},
	{"kid missing", "{\"alg\":\"ES256\",\"x\":\"%s\"}", CL(""), 300, SIG_OK, -EINVAL,
	 "kid missing"},
	{"kid unknown", "{\"alg\":\"ES256\",\"kid\":\"zz%s\"}", CL(""), 300, SIG_OK, -EINVAL,
	 "not in the JWKS of example.org"},
	{"typ wrong", "{\"alg\":\"ES256\",\"kid\":\"%s\",\"typ\":\"at+jwt\"}", CL(""), 300, SIG_OK,
	 -EINVAL, "typ"},
	{"crit", "{\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"b64\"]}", CL(""), 300, SIG_OK,
	 -EINVAL, "crit"},
	{"header not an object", "[\"%s\"]", CL(""), 300, SIG_OK, -EINVAL, "header is not a JSON"},
	{"duplicate header key", "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"%s\"}", CL(""),
	 300, SIG_OK, -EINVAL, "header is not a JSON object"},
	{"signature flipped", HDR_OK, CL(""), 300, SIG_FLIP, -EINVAL, "signature does not verify"},
	{"signature DER", HDR_OK, CL(""), 300, SIG_DER, -EINVAL, "signature is not 64 bytes"},
	{"signature empty", HDR_OK, CL(""), 300, SIG_EMPTY, -EINVAL, "signature is not 64 bytes"},
	{"expired", HDR_OK, CL(""), -100, SIG_OK, -EINVAL, "token: expired at 20"},
	{"expired within skew", HDR_OK, CL(""), -10, SIG_OK, 0, NULL},
	{"exp missing", HDR_OK, "{" SUB ",\"aud\":\"A\",\"x\":%1$lld}", 300, SIG_OK, -EINVAL,
	 "exp claim missing"},
	{"exp a string", HDR_OK, "{" SUB ",\"aud\":\"A\",\"exp\":\"%1$lld\"}", 300, SIG_OK, -EINVAL,
	 "exp is not a NumericDate"},
	{"nbf future", HDR_OK, CL(",\"nbf\":%2$lld"), 900, SIG_OK, -EINVAL, "not valid before 20"},
	{"aud missing", HDR_OK, "{" SUB ",\"exp\":%1$lld}", 300, SIG_OK, -EINVAL, "aud is missing"},
	{"aud other", HDR_OK, "{" SUB ",\"aud\":[\"B\"],\"exp\":%1$lld}", 300, SIG_OK, -EINVAL,
	 "audience \"A\" not in aud"},
	{"aud array with a number", HDR_OK, "{" SUB ",\"aud\":[1,\"A\"],\"exp\":%1$lld}", 300,
	 SIG_OK, -EINVAL, "aud[0] is not a string"},
	{"sub missing", HDR_OK, "{\"aud\":\"A\",\"exp\":%1$lld}", 300, SIG_OK, -EINVAL,
	 "sub claim missing"},
	{"sub not SPIFFE", HDR_OK, "{\"sub\":\"web\",\"aud\":\"A\",\"exp\":%1$lld}", 300, SIG_OK,
	 -EINVAL, "token: sub \"web\""},
	{"sub other trust domain", HDR_OK,
	 "{\"sub\":\"spiffe://other.org/w\",\"aud\":\"A\",\"exp\":%1$lld}", 300, SIG_OK, -EINVAL,
	 "not in trust domain"},
	{"payload not JSON", HDR_OK, "not json %1$lld", 300, SIG_OK, -EINVAL,
	 "payload is not a JSON object"},
};

static void test_jwt_validate_table(void **state)
{
	struct fixture *f = *state;
	long long now = (long long)time(NULL);

	for (size_t i = 0; i < sizeof(jwt_cases) / sizeof(jwt_cases[0]); i++) {
		const struct jwt_case *c = &jwt_cases[i];
		char header[512], payload[512], err[SVID_ERR_MAX] = "", sub[SPIFFE_ID_MAX + 1];
		json_t *claims = NULL;
		char *tok;
		int ret;

		snprintf(header, sizeof(header), c->header, svid_ca_kid(f->ca));
		snprintf(payload, sizeof(payload), c->payload, now + c->exp_off, now + 600);
		tok = craft(f->dir, header, payload, c->sig);
		ret = svid_validate_jwt(f->ca, tok, "A", sub, &claims, err);
		if (ret != c->want || (c->err_contains && !strstr(err, c->err_contains)))
			fail_msg("%s: ret %d (want %d), err \"%s\" (payload %s)", c->name, ret,
				 c->want, err, payload);
		if (ret == 0) {
			assert_string_equal(sub, "spiffe://" TD "/w");
			assert_true(json_is_object(claims));
			json_decref(claims);
		}
		free(tok);
	}
}

static void test_jwt_validate_shapes(void **state)
{
	struct fixture *f = *state;
	char err[SVID_ERR_MAX], sub[SPIFFE_ID_MAX + 1], *big;
	json_t *claims = NULL;
	const struct {
		const char *tok, *err;
	} cases[] = {
		{"", "not a compact JWS"},
		{"abc", "not a compact JWS"},
		{"a.b", "not a compact JWS"},
		{"a.b.c.d", "not a compact JWS"},
		{"eyJ=.e30.AA", "header is not base64url"},
		{"e.e30.AA", "header is not base64url"},
		{"eyJhbGciOiJFUzI1NiJ9+.e30.AA", "header is not base64url"},
		{"..", "header is not"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(svid_validate_jwt(f->ca, cases[i].tok, "A", sub, &claims, err),
				 -EINVAL);
		if (!strstr(err, cases[i].err))
			fail_msg("\"%s\": err \"%s\", want \"%s\"", cases[i].tok, err,
				 cases[i].err);
	}
	big = malloc(SVID_JWT_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', SVID_JWT_MAX + 1);
	big[SVID_JWT_MAX + 1] = '\0';
	assert_int_equal(svid_validate_jwt(f->ca, big, "A", sub, &claims, err), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	free(big);
	assert_int_equal(svid_validate_jwt(f->ca, "a.b.c", "", sub, &claims, err), -EINVAL);
	assert_string_equal(err, "audience: missing");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ca_generated_then_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_regenerated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca_from_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_x509_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_x509_key_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_x509_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_validate_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwt_validate_shapes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
