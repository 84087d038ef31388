/*
 * test_sigstore_cosign.c - cosign's legacy .sig and .att layers as bundles: real public-good
 * signatures rewritten into cosign's layer annotations verify (hashedrekord, dsse and intoto
 * 0.0.2 entries, the chain's root dropped), and each malformed annotation or envelope is
 * rejected with an error naming it.
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
#include "sigstore/cosign.h"
#include "sigstore/identity.h"
#include "sigstore/trust_root.h"
#include "sigstore/verify.h"
#include "tests/unit/cosign_test.h"
#include "tests/unit/sigstore_test.h"

#define IDENTITY                                                                                  \
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/" \
	"workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define ISSUER	     "https://token.actions.githubusercontent.com"
#define IMAGE_DIGEST "732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"

struct fx {
	struct sigstore_trust_root *public_good;
	char *a_txt;
	size_t a_len;
	struct sigstore_oci_sig legacy; /* happy-path-v0.1 as a .sig layer over a.txt */
	struct sigstore_oci_sig att;	/* the cosign-image attestation as an .att layer */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *tr_json, *v01, *att, err[256];
	size_t len, v01_len, att_len, n_chain;

	assert_non_null(f);
	*state = f;
	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &len);
	f->a_txt = sst_read_fixture("sigstore/conformance/a.txt", &f->a_len);
	v01 = sst_read_fixture("sigstore/conformance/happy-path-v0.1/bundle.sigstore.json",
			       &v01_len);
	att = sst_read_fixture("sigstore/cosign-image/attestation.sigstore.json", &att_len);
	if (tr_json && f->a_txt && v01 && att) {
		assert_int_equal(sigstore_trust_root_parse(tr_json, len, &f->public_good, err), 0);
		assert_int_equal(ct_layer_from_bundle(v01, f->a_txt, f->a_len, &f->legacy), 0);
		assert_int_equal(ct_layer_from_bundle(att, NULL, 0, &f->att), 0);
		f->att.layer.chain = ct_chain_pem(f->public_good, &n_chain);
		assert_non_null(f->att.layer.chain);
		assert_true(n_chain >= 2);
	}
	free(tr_json);
	free(v01);
	free(att);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ct_layer_clear(&f->legacy);
	ct_layer_clear(&f->att);
	sigstore_trust_root_free(f->public_good);
	free(f->a_txt);
	free(f);
	return 0;
}

/* A .sig layer made of a real hashedrekord v0.1 bundle verifies over its payload. */
static void test_legacy_verifies(void **state)
{
	struct fx *f = *state;
	struct sigstore_identity_policy *p;
	struct sigstore_verify_result res;
	struct sigstore_bundle *b = NULL;
	char err[256] = "";

	CT_NEED_FIXTURES(f);
	assert_int_equal(sigstore_cosign_bundle(&f->legacy, &b, err), 0);
	assert_int_equal(b->minor, 1);
	assert_false(b->is_dsse);
	assert_int_equal(b->n_entries, 1);
	assert_string_equal(b->entries[0].kind, "hashedrekord");
	assert_string_equal(b->entries[0].version, "0.0.1");
	assert_non_null(b->entries[0].set);
	assert_false(b->entries[0].has_proof);
	p = ct_policy(ISSUER, "https://github.com/sigstore-conformance/*");
	{
		struct sigstore_verify_opts o = {.trust_root = f->public_good,
						 .artifact = (const unsigned char *)f->a_txt,
						 .artifact_len = f->a_len,
						 .policy = p};
		int ret = sigstore_verify_bundle(b, &o, &res, err);

		if (ret)
			fail_msg("legacy: %d %s", ret, err);
		assert_string_equal(res.subject, IDENTITY);
		assert_int_equal(res.log_index, 27246492);
		assert_non_null(res.set_b64);
		sigstore_verify_result_clear(&res);
		/* another payload: the hashedrekord digest no longer matches */
		o.artifact_len--;
		assert_int_not_equal(sigstore_verify_bundle(b, &o, &res, err), 0);
		assert_non_null(strstr(err, "digest"));
	}
	sigstore_identity_policy_free(p);
	sigstore_bundle_free(b);
}

/* An .att layer of the real cosign attestation (dsse 0.0.1 entry) with cosign's chain. */
static void test_att_verifies(void **state)
{
	struct fx *f = *state;
	struct sigstore_identity_policy *p;
	struct sigstore_verify_result res;
	struct sigstore_bundle *b = NULL;
	unsigned char digest[32];
	char err[256] = "";
	int ret;

	CT_NEED_FIXTURES(f);
	assert_int_equal(sigstore_cosign_bundle(&f->att, &b, err), 0);
	assert_true(b->is_dsse);
	assert_int_equal(b->n_sigs, 1);
	assert_int_equal(b->n_extra, 1); /* the intermediate; the self-signed root is dropped */
	assert_string_equal(b->entries[0].kind, "dsse");
	assert_int_equal(sigstore_util_hex_decode(IMAGE_DIGEST, digest, 32), 0);
	p = ct_policy("https://github.com/login/oauth", "cody@soyland.com");
	{
		struct sigstore_verify_opts o = {
			.trust_root = f->public_good, .artifact_sha256 = digest, .policy = p};

		ret = sigstore_verify_bundle(b, &o, &res, err);
		if (ret)
			fail_msg("att: %d %s", ret, err);
		assert_string_equal(res.subject, "cody@soyland.com");
		assert_string_equal(res.predicate_type,
				    "https://cosign.sigstore.dev/attestation/v1");
		assert_int_equal(res.log_index, 175508996);
		sigstore_verify_result_clear(&res);
		digest[5] ^= 1;
		assert_int_not_equal(sigstore_verify_bundle(b, &o, &res, err), 0);
		assert_non_null(strstr(err, "subject"));
	}
	sigstore_identity_policy_free(p);
	sigstore_bundle_free(b);
}

/* An intoto 0.0.2 entry (signature base64-encoded twice in the body), custom trust root. */
static void test_att_intoto_verifies(void **state)
{
	struct ct_case c;
	struct sigstore_oci_sig s;
	struct sigstore_verify_result res;
	struct sigstore_bundle *b = NULL;
	char err[256] = "";
	int ret;

	if (ct_case_load("intoto-with-custom-trust-root", NULL, &c))
		return;
	assert_int_equal(ct_layer_from_bundle(c.bundle, NULL, 0, &s), 0);
	assert_int_equal(sigstore_cosign_bundle(&s, &b, err), 0);
	assert_string_equal(b->entries[0].kind, "intoto");
	assert_string_equal(b->entries[0].version, "0.0.2");
	{
		struct sigstore_verify_opts o = {.trust_root = c.tr,
						 .artifact = (const unsigned char *)c.artifact,
						 .artifact_len = c.artifact_len,
						 .expected_subject = IDENTITY,
						 .expected_issuer = ISSUER};

		ret = sigstore_verify_bundle(b, &o, &res, err);
		if (ret)
			fail_msg("intoto att: %d %s", ret, err);
		assert_string_equal(res.predicate_type, "https://slsa.dev/provenance/v1");
		sigstore_verify_result_clear(&res);
	}
	ct_layer_clear(&s);
	sigstore_bundle_free(b);
	ct_case_free(&c);
}

/* ---- malformed layers ---------------------------------------------------------------- */

enum field {
	F_SIG,
	F_CERT,
	F_CHAIN,
	F_BUNDLE,
	F_DATA
};

#define ZERO64		  "0000000000000000000000000000000000000000000000000000000000000000"
#define ANN(set, payload) "{\"SignedEntryTimestamp\":" set ",\"Payload\":" payload "}"
#define PAYLOAD(body, it, li, id) \
	"{\"body\":" body ",\"integratedTime\":" it ",\"logIndex\":" li ",\"logID\":" id "}"
#define GOOD_PAYLOAD \
	PAYLOAD("\"eyJraW5kIjoiZHNzZSIsImFwaVZlcnNpb24iOiIwLjAuMSJ9\"", "1", "2", "\"" ZERO64 "\"")
#define BAD_PEM	  "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n"
#define ENV(sigs) "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\"," sigs "}"

static const struct row {
	const char *name;
	bool att;	   /* base layer: the .att one, else the .sig one */
	enum field field;  /* what to change */
	bool replace_only; /* replace `from` with `to` in the original, else set to `to` */
	const char *from;
	const char *to; /* NULL: remove */
	const char *want;
} rows[] = {
	/* the signature annotation (.sig) */
	{"signature missing", false, F_SIG, false, NULL, NULL, "signature: missing or empty"},
	{"signature empty", false, F_SIG, false, NULL, "", "signature: missing or empty"},
	{"signature bad base64", false, F_SIG, false, NULL, "MEUC!!==", "signature: not base64"},
	{"signature with newline", false, F_SIG, false, NULL, "MEUC\nAAAA", "not base64"},
	/* the certificate annotation */
	{"certificate missing", false, F_CERT, false, NULL, NULL, "certificate: missing"},
	{"certificate not PEM", false, F_CERT, false, NULL, "hello", "not PEM certificates"},
	{"certificate bad PEM body", false, F_CERT, false, NULL, BAD_PEM,
	 "certificate 0 is not a valid PEM"},
	{"certificate without END", false, F_CERT, true, "-----END CERTIFICATE-----", "",
	 "has no END line"},
	{"certificate trailing text", false, F_CERT, true, "-----END CERTIFICATE-----",
	 "-----END CERTIFICATE-----\ntrailer", "not PEM certificates"},
	{"certificate twice", false, F_CERT, true, "-----END CERTIFICATE-----\n",
	 "-----END CERTIFICATE-----\n" BAD_PEM, "certificate 1 is not a valid PEM"},
	{"chain garbage", true, F_CHAIN, false, NULL, "garbage", "chain: not PEM"},
	{"chain bad PEM", true, F_CHAIN, false, NULL, BAD_PEM, "chain: certificate 0"},
	/* cosign's bundle annotation */
	{"bundle missing", false, F_BUNDLE, false, NULL, NULL, "bundle: missing"},
	{"bundle not JSON", false, F_BUNDLE, false, NULL, "{", "bundle: invalid JSON"},
	{"bundle not an object", false, F_BUNDLE, false, NULL, "[]", "not a JSON object"},
	{"bundle duplicate top-level key", false, F_BUNDLE, true, "{\"SignedEntryTimestamp\"",
	 "{\"Payload\":{},\"SignedEntryTimestamp\"", "duplicate"},
	{"bundle duplicate Payload key", false, F_BUNDLE, true, "\"Payload\":{",
	 "\"Payload\":{\"logIndex\":1,", "duplicate"},
	{"bundle case variant", false, F_BUNDLE, true, "\"Payload\"", "\"payload\"",
	 "unexpected member \"payload\""},
	{"bundle unknown Payload member", false, F_BUNDLE, true, "\"Payload\":{",
	 "\"Payload\":{\"x\":1,", "Payload: unexpected member \"x\""},
	{"bundle without SET", false, F_BUNDLE, false, NULL, "{\"Payload\":" GOOD_PAYLOAD "}",
	 "no SignedEntryTimestamp"},
	{"bundle SET null", false, F_BUNDLE, false, NULL, ANN("null", GOOD_PAYLOAD),
	 "SignedEntryTimestamp: not a string"},
	{"bundle SET bad base64", false, F_BUNDLE, false, NULL, ANN("\"@@@@\"", GOOD_PAYLOAD),
	 "SignedEntryTimestamp: not base64"},
	{"bundle SET empty", false, F_BUNDLE, false, NULL, ANN("\"\"", GOOD_PAYLOAD),
	 "SignedEntryTimestamp: empty"},
	{"bundle Payload missing", false, F_BUNDLE, false, NULL,
	 "{\"SignedEntryTimestamp\":\"AAAA\"}", "Payload: missing"},
	{"bundle integratedTime string", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30=\"", "\"1\"", "2", "\"" ZERO64 "\"")),
	 "integratedTime: not a non-negative integer"},
	{"bundle logIndex negative", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30=\"", "1", "-2", "\"" ZERO64 "\"")),
	 "logIndex: not a non-negative integer"},
	{"bundle body bad base64", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30\"", "1", "2", "\"" ZERO64 "\"")), "body: not base64"},
	{"bundle logID short", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30=\"", "1", "2", "\"abcd\"")), "logID: not 64 hex"},
	{"bundle logID not hex", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30=\"", "1", "2", "\"zz" ZERO64 "\"")), "logID: not 64 hex"},
	{"bundle body without kind", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"e30=\"", "1", "2", "\"" ZERO64 "\"")),
	 "Payload.body: no short kind"},
	{"bundle body not JSON", false, F_BUNDLE, false, NULL,
	 ANN("\"AAAA\"", PAYLOAD("\"aGVsbG8=\"", "1", "2", "\"" ZERO64 "\"")),
	 "Payload.body: invalid JSON"},
	/* the DSSE envelope (.att data) */
	{"envelope not JSON", true, F_DATA, false, NULL, "{", "DSSE envelope): invalid JSON"},
	{"envelope two signatures", true, F_DATA, false, NULL,
	 ENV("\"signatures\":[{\"keyid\":\"\",\"sig\":\"AAAA\"},{\"keyid\":\"\",\"sig\":\"AAAA\"}"
	     "]"),
	 "more than one (exactly one is accepted)"},
	{"envelope no signatures", true, F_DATA, false, NULL, ENV("\"signatures\":[]"),
	 "signatures: none"},
	{"envelope signatures missing", true, F_DATA, false, NULL,
	 "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\"}",
	 "signatures: missing"},
	{"envelope duplicate key", true, F_DATA, true, "{\"payloadType\"",
	 "{\"payload\":\"e30=\",\"payloadType\"", "duplicate"},
	{"envelope unknown member", true, F_DATA, true, "{\"payloadType\"",
	 "{\"PayloadType\":\"x\",\"payloadType\"", "unexpected member \"PayloadType\""},
	{"envelope payload bad base64", true, F_DATA, false, NULL,
	 "{\"payloadType\":\"t\",\"payload\":\"e30\",\"signatures\":[{\"sig\":\"AAAA\"}]}",
	 "payload: not base64"},
	{"envelope payloadType missing", true, F_DATA, false, NULL,
	 "{\"payload\":\"e30=\",\"signatures\":[{\"sig\":\"AAAA\"}]}", "payloadType missing"},
	{"envelope sig missing", true, F_DATA, false, NULL,
	 ENV("\"signatures\":[{\"keyid\":\"\"}]"), "signatures[0].sig: missing"},
	{"envelope keyid not a string", true, F_DATA, false, NULL,
	 ENV("\"signatures\":[{\"keyid\":1,\"sig\":\"AAAA\"}]"), "keyid: not a string"},
	{"envelope signature case variant", true, F_DATA, false, NULL,
	 ENV("\"signatures\":[{\"Sig\":\"AAAA\"}]"), "unexpected member \"Sig\""},
};

static char **field_of(struct sigstore_oci_sig *s, enum field f)
{
	switch (f) {
	case F_SIG:
		return &s->layer.signature;
	case F_CERT:
		return &s->layer.certificate;
	case F_CHAIN:
		return &s->layer.chain;
	case F_BUNDLE:
		return &s->layer.bundle;
	default:
		return &s->data;
	}
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A deep copy of a test layer. */
static void copy_layer(const struct sigstore_oci_sig *from, struct sigstore_oci_sig *to)
{
	*to = *from;
	to->data = dup_or_null(from->data);
	to->layer.signature = dup_or_null(from->layer.signature);
	to->layer.certificate = dup_or_null(from->layer.certificate);
	to->layer.chain = dup_or_null(from->layer.chain);
	to->layer.bundle = dup_or_null(from->layer.bundle);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;

	CT_NEED_FIXTURES(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct sigstore_oci_sig s;
		struct sigstore_bundle *b = (void *)1;
		char **fp, *nv = NULL, err[256] = "";
		int ret;

		copy_layer(r->att ? &f->att : &f->legacy, &s);
		fp = field_of(&s, r->field);
		if (r->replace_only) {
			const char *at = *fp ? strstr(*fp, r->from) : NULL;

			if (!at)
				fail_msg("%s: '%s' not in the base layer", r->name, r->from);
			assert_true(asprintf(&nv, "%.*s%s%s", (int)(at - *fp), *fp, r->to,
					     at + strlen(r->from)) > 0);
		} else {
			nv = dup_or_null(r->to);
		}
		free(*fp);
		*fp = nv;
		if (r->field == F_DATA)
			s.data_len = strlen(s.data);
		ret = sigstore_cosign_bundle(&s, &b, err);
		if (ret != -EPROTO || b != NULL || !strstr(err, r->want))
			fail_msg("%s: ret %d, err '%s', want '%s'", r->name, ret, err, r->want);
		print_message("  %-36s %s\n", r->name, err);
		ct_layer_clear(&s);
	}
}

static void test_not_a_layer(void **state)
{
	struct fx *f = *state;
	struct sigstore_oci_sig s;
	struct sigstore_bundle *b = NULL;
	char err[256];

	CT_NEED_FIXTURES(f);
	s = f->legacy;
	s.kind = SIGSTORE_OCI_SIG_BUNDLE;
	assert_int_equal(sigstore_cosign_bundle(&s, &b, err), -EINVAL);
	assert_null(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_verifies),	    cmocka_unit_test(test_att_verifies),
		cmocka_unit_test(test_att_intoto_verifies), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_a_layer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
