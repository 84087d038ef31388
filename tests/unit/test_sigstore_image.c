/*
 * test_sigstore_image.c - the image decision (sigstore_image_verify_sigs) on real public-good
 * signatures, without a registry: the cosign attestation of one image as a referrer bundle and
 * as an .att layer, a SLSA provenance attestation (custom trust root), a Rekor v2 message
 * signature with skip_transparency_log; each outcome (verified, missing provenance, identity
 * mismatch, not signed, wrong digest, tampered items) with a reason naming the digest.
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

#include "sigstore/identity.h"
#include "sigstore/image.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"
#include "tests/unit/cosign_test.h"
#include "tests/unit/sigstore_test.h"

#define DIGEST	"sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
#define SUBJECT "cody@soyland.com"
#define ISSUER	"https://github.com/login/oauth"
#define CONFORMANCE_IDENTITY                                                                      \
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/" \
	"workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define CONFORMANCE_ISSUER "https://token.actions.githubusercontent.com"

struct fx {
	struct sigstore_trust_root *public_good;
	char *bundle; /* the cosign attestation bundle JSON */
	size_t bundle_len;
	struct sigstore_identity_policy *policy; /* cody@soyland.com */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *tr_json, err[256];
	size_t len;

	assert_non_null(f);
	*state = f;
	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &len);
	f->bundle =
		sst_read_fixture("sigstore/cosign-image/attestation.sigstore.json", &f->bundle_len);
	if (tr_json && f->bundle)
		assert_int_equal(sigstore_trust_root_parse(tr_json, len, &f->public_good, err), 0);
	free(tr_json);
	f->policy = ct_policy(ISSUER, SUBJECT);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sigstore_identity_policy_free(f->policy);
	sigstore_trust_root_free(f->public_good);
	free(f->bundle);
	free(f);
	return 0;
}

/* Appends a copy of s (heap strings) to sigs. */
static void add(struct sigstore_oci_sigs *sigs, const struct sigstore_oci_sig *s)
{
	struct sigstore_oci_sig *nv = realloc(sigs->v, (sigs->n + 1) * sizeof(*nv));

	assert_non_null(nv);
	sigs->v = nv;
	nv[sigs->n++] = *s;
}

static void add_bundle(struct sigstore_oci_sigs *sigs, const char *json)
{
	struct sigstore_oci_sig s = {.kind = SIGSTORE_OCI_SIG_BUNDLE};

	s.data = strdup(json);
	assert_non_null(s.data);
	s.data_len = strlen(json);
	snprintf(s.media_type, sizeof(s.media_type), "%s", SIGSTORE_OCI_BUNDLE_TYPE);
	add(sigs, &s);
}

static void add_layer(struct sigstore_oci_sigs *sigs, const char *bundle_json, const char *artifact,
		      size_t len)
{
	struct sigstore_oci_sig s;

	assert_int_equal(ct_layer_from_bundle(bundle_json, artifact, len, &s), 0);
	add(sigs, &s);
}

/* A .sig layer: the attestation's annotations over another (simple-signing) payload. */
static void add_legacy(struct sigstore_oci_sigs *sigs, const char *bundle_json, const char *payload)
{
	add_layer(sigs, bundle_json, NULL, 0);
	free(sigs->v[sigs->n - 1].data);
	sigs->v[sigs->n - 1].data = strdup(payload);
	assert_non_null(sigs->v[sigs->n - 1].data);
	sigs->v[sigs->n - 1].data_len = strlen(payload);
	sigs->v[sigs->n - 1].kind = SIGSTORE_OCI_SIG_LEGACY;
}

static void assert_has(const char *s, const char *want)
{
	if (!strstr(s, want))
		fail_msg("'%s' does not contain '%s'", s, want);
}

static void test_result_names(void **state)
{
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_VERIFIED), "verified");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_NOT_SIGNED), "not_signed");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_IDENTITY_MISMATCH),
			    "identity_mismatch");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_NETWORK_ERROR),
			    "network_error");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_TIMEOUT), "timeout");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_CANCELLED), "cancelled");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_ERROR), "error");
	assert_string_equal(sigstore_image_result_name(SIGSTORE_IMAGE_RESULT_COUNT), "error");
}

/* The referrer bundle and the same statement as an .att layer both verify the image: cosign's
 * generic attestation predicate vouches for it (SIGSTORE_COSIGN_ATTESTATION_V1). */
static void test_verified(void **state)
{
	struct fx *f = *state;
	struct sigstore_image_opts o = {.policy = f->policy, .skip_provenance = true};
	struct sigstore_image_verification v;

	CT_NEED_FIXTURES(f);
	o.trust_root = f->public_good;
	for (int kind = 0; kind < 2; kind++) {
		struct sigstore_oci_sigs sigs = {0};

		if (kind == 0)
			add_bundle(&sigs, f->bundle);
		else
			add_layer(&sigs, f->bundle, NULL, 0);
		assert_int_equal(sigstore_image_verify_sigs(&sigs, DIGEST, &o, &v), 0);
		assert_int_equal(v.result, SIGSTORE_IMAGE_VERIFIED);
		assert_string_equal(v.subject, SUBJECT);
		assert_string_equal(v.issuer, ISSUER);
		assert_non_null(v.signature_b64);
		assert_non_null(v.set_b64);
		assert_int_equal(v.log_index, 175508996);
		assert_int_equal(v.integrated_time, 1740770291);
		assert_string_equal(
			v.log_id_hex,
			"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d");
		assert_int_equal(v.n_found, 1);
		assert_int_equal(v.n_verified, 1);
		assert_false(v.provenance_verified);
		assert_null(v.provenance_type);
		assert_has(v.reason, DIGEST);
		print_message("  %s: %s\n", kind ? ".att layer" : "referrer", v.reason);
		sigstore_image_verification_clear(&v);
		sigstore_oci_sigs_clear(&sigs);
	}
}

static void test_outcomes(void **state)
{
	static const struct {
		const char *name;
		bool skip_provenance, skip_tlog, other_policy;
		const char *digest;
		int n_items; /* copies of the referrer bundle */
		int ret;
		enum sigstore_image_result result;
		const char *reason;
	} rows[] = {
		{"provenance required", false, false, false, DIGEST, 1, -EBADMSG,
		 SIGSTORE_IMAGE_ERROR, "no SLSA provenance from an allowed identity"},
		{"another identity", true, false, true, DIGEST, 1, -EACCES,
		 SIGSTORE_IMAGE_IDENTITY_MISMATCH, "no signature from an allowed identity"},
		{"no signatures", true, false, false, DIGEST, 0, -ENOENT, SIGSTORE_IMAGE_NOT_SIGNED,
		 "no signatures found"},
		{"transparency log skipped", true, true, false, DIGEST, 1, -EBADMSG,
		 SIGSTORE_IMAGE_ERROR, "keyless signatures need the transparency log"},
		{"another image", true, false, false,
		 "sha256:0000000000000000000000000000000000000000000000000000000000000000", 1,
		 -EBADMSG, SIGSTORE_IMAGE_ERROR, "no subject has the artifact's sha256 digest"},
		{"not a digest", true, false, false, "sha256:abc", 1, -EBADMSG,
		 SIGSTORE_IMAGE_ERROR, "not an image digest"},
		{"two copies", true, false, false, DIGEST, 2, 0, SIGSTORE_IMAGE_VERIFIED,
		 "2 of 2 verified"},
	};
	struct fx *f = *state;
	struct sigstore_identity_policy *other = ct_policy(ISSUER, "alice@*");

	CT_NEED_FIXTURES(f);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sigstore_image_opts o = {
			.trust_root = f->public_good,
			.policy = rows[i].other_policy ? other : f->policy,
			.skip_provenance = rows[i].skip_provenance,
			.skip_transparency_log = rows[i].skip_tlog,
		};
		struct sigstore_oci_sigs sigs = {0};
		struct sigstore_image_verification v;
		int ret;

		for (int k = 0; k < rows[i].n_items; k++)
			add_bundle(&sigs, f->bundle);
		ret = sigstore_image_verify_sigs(&sigs, rows[i].digest, &o, &v);
		if (ret != rows[i].ret || v.result != rows[i].result)
			fail_msg("%s: ret %d result %s (%s)", rows[i].name, ret,
				 sigstore_image_result_name(v.result), v.reason);
		assert_has(v.reason, rows[i].digest);
		assert_has(v.reason, rows[i].reason);
		assert_int_equal(v.n_found,
				 (size_t)rows[i].n_items * (strlen(rows[i].digest) == 71));
		if (v.result != SIGSTORE_IMAGE_VERIFIED) {
			assert_null(v.subject);
			assert_false(v.provenance_verified);
		}
		print_message("  %-26s %s: %s\n", rows[i].name,
			      sigstore_image_result_name(v.result), v.reason);
		sigstore_image_verification_clear(&v);
		sigstore_oci_sigs_clear(&sigs);
	}
	sigstore_identity_policy_free(other);
}

/* Every item is tried: a tampered bundle and a .sig layer for another payload fail, the
 * good .att layer after them verifies; alone, the first failure is the reason. */
static void test_mixed_items(void **state)
{
	struct fx *f = *state;
	struct sigstore_image_opts o = {.policy = f->policy, .skip_provenance = true};
	struct sigstore_oci_sigs sigs = {0};
	struct sigstore_image_verification v;
	json_t *root;
	char *tampered, *payload;

	CT_NEED_FIXTURES(f);
	o.trust_root = f->public_good;
	root = json_loads(f->bundle, 0, NULL);
	assert_non_null(root);
	assert_int_equal(
		sst_flip_b64(json_array_get(json_object_get(json_object_get(root, "dsseEnvelope"),
							    "signatures"),
					    0),
			     "sig", 10, 2),
		0);
	tampered = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	add_bundle(&sigs, tampered);
	/* a .sig layer whose simple-signing payload names another image */
	assert_true(asprintf(&payload,
			     "{\"critical\":{\"identity\":{\"docker-reference\":\"x\"},\"image\":"
			     "{\"docker-manifest-digest\":\"sha256:%064d\"},\"type\":\"cosign "
			     "container image signature\"},\"optional\":null}",
			     0) > 0);
	add_legacy(&sigs, f->bundle, payload);

	assert_int_equal(sigstore_image_verify_sigs(&sigs, DIGEST, &o, &v), -EBADMSG);
	assert_int_equal(v.result, SIGSTORE_IMAGE_ERROR);
	assert_has(v.reason, "referrer bundle 0: ");
	assert_has(v.reason, "signature");
	print_message("  two bad items: %s\n", v.reason);
	sigstore_image_verification_clear(&v);

	add_layer(&sigs, f->bundle, NULL, 0);
	assert_int_equal(sigstore_image_verify_sigs(&sigs, DIGEST, &o, &v), 0);
	assert_int_equal(v.n_found, 3);
	assert_int_equal(v.n_verified, 1);
	assert_string_equal(v.subject, SUBJECT);
	sigstore_image_verification_clear(&v);

	/* the .sig layer alone: its payload is checked against the digest */
	sigstore_oci_sigs_clear(&sigs);
	add_legacy(&sigs, f->bundle, payload);
	assert_int_equal(sigstore_image_verify_sigs(&sigs, DIGEST, &o, &v), -EBADMSG);
	assert_has(v.reason, ".sig layer 0: ");
	print_message("  .sig for another image: %s\n", v.reason);
	sigstore_image_verification_clear(&v);
	sigstore_oci_sigs_clear(&sigs);
	free(payload);
	free(tampered);
}

/* A real SLSA v1 provenance attestation (intoto 0.0.2 entry) counts as provenance, never as
 * a signature of the image. */
static void test_provenance(void **state)
{
	struct ct_case c;
	struct sigstore_identity_policy *allowed, *other;
	char digest[80];

	if (ct_case_load("intoto-with-custom-trust-root", NULL, &c))
		return;
	ct_sha256_digest(c.artifact, c.artifact_len, digest);
	allowed = ct_policy(CONFORMANCE_ISSUER, "https://github.com/sigstore-conformance/*");
	other = ct_policy(CONFORMANCE_ISSUER, "https://github.com/attestd/*");
	for (int kind = 0; kind < 2; kind++) {
		for (int skip = 0; skip < 2; skip++) {
			struct sigstore_image_opts o = {
				.trust_root = c.tr, .policy = allowed, .skip_provenance = skip};
			struct sigstore_oci_sigs sigs = {0};
			struct sigstore_image_verification v;

			if (kind == 0)
				add_bundle(&sigs, c.bundle);
			else
				add_layer(&sigs, c.bundle, NULL, 0);
			assert_int_equal(sigstore_image_verify_sigs(&sigs, digest, &o, &v),
					 -EBADMSG);
			assert_int_equal(v.result, SIGSTORE_IMAGE_ERROR);
			assert_true(v.provenance_verified);
			assert_string_equal(v.provenance_type, SIGSTORE_SLSA_PROVENANCE_V1);
			assert_int_equal(v.n_verified, 0);
			assert_null(v.subject);
			assert_has(v.reason, digest);
			assert_has(
				v.reason,
				"no image signature: only attestations verified (SLSA provenance)");
			sigstore_image_verification_clear(&v);

			o.policy = other;
			assert_int_equal(sigstore_image_verify_sigs(&sigs, digest, &o, &v),
					 -EACCES);
			assert_int_equal(v.result, SIGSTORE_IMAGE_IDENTITY_MISMATCH);
			assert_false(v.provenance_verified);
			sigstore_image_verification_clear(&v);
			sigstore_oci_sigs_clear(&sigs);
		}
	}
	sigstore_identity_policy_free(allowed);
	sigstore_identity_policy_free(other);
	ct_case_free(&c);
}

/* A Rekor v2 message signature with an RFC 3161 timestamp: with the transparency log skipped
 * the timestamp alone gives the verified time; the digest is the "manifest" digest. */
static void test_skip_tlog_with_timestamp(void **state)
{
	struct ct_case c;
	struct sigstore_identity_policy *p;
	struct sigstore_oci_sigs sigs = {0};
	struct sigstore_image_verification v;
	char digest[80];

	if (ct_case_load("rekor2-happy-path", "sigstore/conformance/a.txt", &c))
		return;
	ct_sha256_digest(c.artifact, c.artifact_len, digest);
	p = ct_policy(CONFORMANCE_ISSUER, CONFORMANCE_IDENTITY);
	add_bundle(&sigs, c.bundle);
	for (int skip = 0; skip < 2; skip++) {
		struct sigstore_image_opts o = {.trust_root = c.tr,
						.policy = p,
						.skip_provenance = true,
						.skip_transparency_log = skip};
		int ret = sigstore_image_verify_sigs(&sigs, digest, &o, &v);

		if (ret)
			fail_msg("skip_tlog %d: %d %s", skip, ret, v.reason);
		assert_string_equal(v.subject, CONFORMANCE_IDENTITY);
		assert_true(v.integrated_time > 0);
		assert_null(v.set_b64);
		if (skip) {
			assert_int_equal(v.log_index, -1);
			assert_string_equal(v.log_id_hex, "");
		} else {
			assert_true(v.log_index >= 0);
			assert_int_equal(strlen(v.log_id_hex), 64);
		}
		sigstore_image_verification_clear(&v);
	}
	sigstore_identity_policy_free(p);
	sigstore_oci_sigs_clear(&sigs);
	ct_case_free(&c);
}

static void test_bad_opts(void **state)
{
	struct fx *f = *state;
	struct sigstore_identity_policy *empty = sigstore_identity_policy_new();
	struct sigstore_image_opts o = {.policy = empty};
	struct sigstore_oci_sigs sigs = {0};
	struct sigstore_image_verification v;

	CT_NEED_FIXTURES(f);
	o.trust_root = f->public_good;
	add_bundle(&sigs, f->bundle);
	assert_int_equal(sigstore_image_verify_sigs(&sigs, DIGEST, &o, &v), -EBADMSG);
	assert_int_equal(v.result, SIGSTORE_IMAGE_ERROR);
	assert_has(v.reason, "no allowed identities");
	sigstore_image_verification_clear(&v);
	sigstore_oci_sigs_clear(&sigs);
	sigstore_identity_policy_free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_verified),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_mixed_items),
		cmocka_unit_test(test_provenance),
		cmocka_unit_test(test_skip_tlog_with_timestamp),
		cmocka_unit_test(test_bad_opts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
