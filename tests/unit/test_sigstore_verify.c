/*
 * test_sigstore_verify.c - the whole offline verification on real public-good bundles from
 * ../shared/fixtures/sigstore/conformance (read in place; missing files skip, naming them),
 * each tampered in one place: every row must be rejected except the untampered ones.
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

#include <jansson.h>
#include <openssl/evp.h>

#include "sigstore/bundle.h"
#include "sigstore/identity.h"
#include "sigstore/trust_root.h"
#include "sigstore/verify.h"
#include "tests/unit/sigstore_test.h"

#define IDENTITY                                                                                  \
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/" \
	"workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define ISSUER "https://token.actions.githubusercontent.com"

static json_t *entry0(json_t *root)
{
	return json_array_get(
		json_object_get(json_object_get(root, "verificationMaterial"), "tlogEntries"), 0);
}

static json_t *proof0(json_t *root)
{
	return json_object_get(entry0(root), "inclusionProof");
}

/* ---- mutations ----------------------------------------------------------------------- */

static int m_none(json_t *r)
{
	return 0;
}

static int m_sig(json_t *r)
{
	return sst_flip_b64(json_object_get(r, "messageSignature"), "signature", 20, 0);
}

static int m_set(json_t *r)
{
	return sst_flip_b64(json_object_get(entry0(r), "inclusionPromise"), "signedEntryTimestamp",
			    12, 3);
}

static int m_no_set(json_t *r)
{
	return json_object_del(entry0(r), "inclusionPromise");
}

static int m_proof_hash(json_t *r)
{
	json_t *h = json_object_get(proof0(r), "hashes");
	json_t *wrap = json_object();
	int ret;

	json_object_set(wrap, "h", json_array_get(h, 3));
	ret = sst_flip_b64(wrap, "h", 31, 7);
	json_array_set(h, 3, json_object_get(wrap, "h"));
	json_decref(wrap);
	return ret;
}

static int m_root_hash(json_t *r)
{
	return sst_flip_b64(proof0(r), "rootHash", 0, 0);
}

static int m_checkpoint(json_t *r)
{
	json_t *cp = json_object_get(proof0(r), "checkpoint");
	const char *env = json_string_value(json_object_get(cp, "envelope"));
	char *copy = strdup(env);
	size_t n = strlen(copy);

	copy[n - 5] = copy[n - 5] == 'A' ? 'B' : 'A'; /* inside the signature */
	json_object_set_new(cp, "envelope", json_string(copy));
	free(copy);
	return 0;
}

static int m_no_checkpoint(json_t *r)
{
	return json_object_del(proof0(r), "checkpoint");
}

static int m_no_proof(json_t *r)
{
	return json_object_del(entry0(r), "inclusionProof");
}

static int m_log_id(json_t *r)
{
	return sst_flip_b64(json_object_get(entry0(r), "logId"), "keyId", 5, 1);
}

static int m_integrated_time(json_t *r)
{
	json_int_t t = 0;

	sscanf(json_string_value(json_object_get(entry0(r), "integratedTime")), "%lld", &t);
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)t + 1);
	return json_object_set_new(entry0(r), "integratedTime", json_string(buf));
}

static int m_log_index(json_t *r)
{
	return json_object_set_new(entry0(r), "logIndex", json_string("1"));
}

static int m_body(json_t *r)
{
	return sst_flip_b64(entry0(r), "canonicalizedBody", 40, 2);
}

static int m_no_entries(json_t *r)
{
	return json_object_set_new(json_object_get(r, "verificationMaterial"), "tlogEntries",
				   json_array());
}

static int m_duplicate_entry(json_t *r)
{
	return json_array_append_new(
		json_object_get(json_object_get(r, "verificationMaterial"), "tlogEntries"),
		json_deep_copy(entry0(r)));
}

static int m_digest(json_t *r)
{
	return sst_flip_b64(
		json_object_get(json_object_get(r, "messageSignature"), "messageDigest"), "digest",
		0, 0);
}

static int m_payload_type(json_t *r)
{
	return json_object_set_new(json_object_get(r, "dsseEnvelope"), "payloadType",
				   json_string("application/json"));
}

static int m_payload(json_t *r)
{
	return sst_flip_b64(json_object_get(r, "dsseEnvelope"), "payload", 30, 0);
}

static int m_dsse_sig(json_t *r)
{
	json_t *s = json_array_get(
		json_object_get(json_object_get(r, "dsseEnvelope"), "signatures"), 0);

	return sst_flip_b64(s, "sig", 20, 0);
}

static int m_two_sigs(json_t *r)
{
	json_t *sigs = json_object_get(json_object_get(r, "dsseEnvelope"), "signatures");

	return json_array_append_new(sigs, json_deep_copy(json_array_get(sigs, 0)));
}

static int m_timestamp(json_t *r)
{
	json_t *ts = json_array_get(
		json_object_get(json_object_get(json_object_get(r, "verificationMaterial"),
						"timestampVerificationData"),
				"rfc3161Timestamps"),
		0);

	return sst_flip_b64(ts, "signedTimestamp", (size_t)-10, 0); /* in the signature */
}

static int m_no_timestamps(json_t *r)
{
	return json_object_del(json_object_get(r, "verificationMaterial"),
			       "timestampVerificationData");
}

/* ---- the table ----------------------------------------------------------------------- */

enum variant {
	V_DEFAULT,
	V_WRONG_IDENTITY,
	V_WRONG_ISSUER,
	V_POLICY_ALLOWS,
	V_POLICY_REJECTS,
	V_DIGEST,
	V_WRONG_DIGEST,
	V_OTHER_ARTIFACT,
	V_KEY,
	V_OTHER_KEY,
	V_REKOR_URL,
	V_OTHER_REKOR_URL,
};

static const struct {
	const char *name;
	const char *dir;
	int (*mutate)(json_t *);
	enum variant v;
	bool ok;
} rows[] = {
	{"v0.3 untampered", "happy-path-v0.3", m_none, V_DEFAULT, true},
	{"v0.1 untampered", "happy-path-v0.1", m_none, V_DEFAULT, true},
	{"signature bit flip", "happy-path-v0.3", m_sig, V_DEFAULT, false},
	{"SET bit flip", "happy-path-v0.3", m_set, V_DEFAULT, false},
	{"SET bit flip (v0.1)", "happy-path-v0.1", m_set, V_DEFAULT, false},
	{"v0.1 without SET", "happy-path-v0.1", m_no_set, V_DEFAULT, false},
	{"v0.3 without SET: no verified time", "happy-path-v0.3", m_no_set, V_DEFAULT, false},
	{"proof hash bit flip", "happy-path-v0.3", m_proof_hash, V_DEFAULT, false},
	{"root hash bit flip", "happy-path-v0.3", m_root_hash, V_DEFAULT, false},
	{"checkpoint signature changed", "happy-path-v0.3", m_checkpoint, V_DEFAULT, false},
	{"checkpoint removed", "happy-path-v0.3", m_no_checkpoint, V_DEFAULT, false},
	{"v0.3 without inclusion proof", "happy-path-v0.3", m_no_proof, V_DEFAULT, false},
	{"wrong log id", "happy-path-v0.3", m_log_id, V_DEFAULT, false},
	{"integrated time + 1", "happy-path-v0.3", m_integrated_time, V_DEFAULT, false},
	{"log index changed", "happy-path-v0.3", m_log_index, V_DEFAULT, false},
	{"entry body bit flip", "happy-path-v0.3", m_body, V_DEFAULT, false},
	{"no tlog entries", "happy-path-v0.3", m_no_entries, V_DEFAULT, false},
	{"duplicate tlog entries", "happy-path-v0.3", m_duplicate_entry, V_DEFAULT, false},
	{"message digest changed", "happy-path-v0.3", m_digest, V_DEFAULT, false},
	{"wrong identity", "happy-path-v0.3", m_none, V_WRONG_IDENTITY, false},
	{"wrong issuer", "happy-path-v0.3", m_none, V_WRONG_ISSUER, false},
	{"policy glob allows", "happy-path-v0.3", m_none, V_POLICY_ALLOWS, true},
	{"policy glob rejects", "happy-path-v0.3", m_none, V_POLICY_REJECTS, false},
	{"artifact by digest", "happy-path-v0.3", m_none, V_DIGEST, true},
	{"wrong artifact digest", "happy-path-v0.3", m_none, V_WRONG_DIGEST, false},
	{"other artifact", "happy-path-v0.3", m_none, V_OTHER_ARTIFACT, false},
	{"key expected, certificate given", "happy-path-v0.3", m_none, V_KEY, false},
	{"required log present", "happy-path-v0.3", m_none, V_REKOR_URL, true},
	{"required log absent", "happy-path-v0.3", m_none, V_OTHER_REKOR_URL, false},
	{"DSSE untampered", "happy-path-intoto-in-dsse-v3", m_none, V_DEFAULT, true},
	{"DSSE payloadType", "happy-path-intoto-in-dsse-v3", m_payload_type, V_DEFAULT, false},
	{"DSSE payload bit flip", "happy-path-intoto-in-dsse-v3", m_payload, V_DEFAULT, false},
	{"DSSE signature bit flip", "happy-path-intoto-in-dsse-v3", m_dsse_sig, V_DEFAULT, false},
	{"DSSE two signatures", "happy-path-intoto-in-dsse-v3", m_two_sigs, V_DEFAULT, false},
	{"DSSE subject is not the artifact", "happy-path-intoto-in-dsse-v3", m_none,
	 V_OTHER_ARTIFACT, false},
	{"Rekor v2 untampered", "rekor2-happy-path", m_none, V_DEFAULT, true},
	{"Rekor v2 timestamp bit flip", "rekor2-happy-path", m_timestamp, V_DEFAULT, false},
	{"Rekor v2 without timestamps", "rekor2-happy-path", m_no_timestamps, V_DEFAULT, false},
	{"Rekor v2 proof hash bit flip", "rekor2-happy-path", m_proof_hash, V_DEFAULT, false},
	{"Rekor v2 checkpoint changed", "rekor2-happy-path", m_checkpoint, V_DEFAULT, false},
	{"Rekor v2 DSSE untampered", "rekor2-dsse-happy-path", m_none, V_DEFAULT, true},
	{"Rekor v2 DSSE payload bit flip", "rekor2-dsse-happy-path", m_payload, V_DEFAULT, false},
	{"keyed untampered", "managed-key-happy-path", m_none, V_KEY, true},
	{"keyed with another key", "managed-key-happy-path", m_none, V_OTHER_KEY, false},
	{"keyed signature bit flip", "managed-key-happy-path", m_sig, V_KEY, false},
	{"keyed without key given", "managed-key-happy-path", m_none, V_DEFAULT, false},
};

static char *read_case(const char *dir, const char *file, bool optional, size_t *len)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "sigstore/conformance/%s/%s", dir, file);
	return optional ? sst_read_optional(rel, len) : sst_read_fixture(rel, len);
}

static int run_row(size_t i, const struct sigstore_trust_root *public_good, const char *artifact,
		   size_t artifact_len, const char *other, size_t other_len, char err[256])
{
	struct sigstore_trust_root *own_tr = NULL;
	struct sigstore_identity_policy *policy = NULL;
	struct sigstore_verify_result res;
	struct sigstore_bundle *b = NULL;
	struct sigstore_verify_opts o = {0};
	unsigned char digest[32];
	char *json = NULL, *text = NULL, *tr_json = NULL, *key_pem = NULL;
	size_t len;
	json_t *root = NULL;
	EVP_PKEY *key = NULL;
	int ret = -ENOENT;

	json = read_case(rows[i].dir, "bundle.sigstore.json", false, &len);
	if (!json)
		goto out;
	tr_json = read_case(rows[i].dir, "trusted_root.json", true, &len);
	if (tr_json)
		assert_int_equal(sigstore_trust_root_parse(tr_json, len, &own_tr, err), 0);
	root = json_loads(json, 0, NULL);
	assert_non_null(root);
	assert_int_equal(rows[i].mutate(root), 0);
	text = json_dumps(root, JSON_COMPACT);
	ret = sigstore_bundle_parse(text, strlen(text), &b, err);
	if (ret)
		goto out;
	o.trust_root = own_tr ? own_tr : public_good;
	o.artifact = (const unsigned char *)artifact;
	o.artifact_len = artifact_len;
	o.expected_subject = IDENTITY;
	o.expected_issuer = ISSUER;
	switch (rows[i].v) {
	case V_DEFAULT:
		break;
	case V_WRONG_IDENTITY:
		o.expected_subject = IDENTITY "x";
		break;
	case V_WRONG_ISSUER:
		o.expected_issuer = "https://accounts.google.com";
		break;
	case V_POLICY_ALLOWS:
	case V_POLICY_REJECTS:
		policy = sigstore_identity_policy_new();
		assert_int_equal(sigstore_identity_policy_add(
					 policy, ISSUER,
					 rows[i].v == V_POLICY_ALLOWS
						 ? "https://github.com/sigstore-conformance/*"
						 : "https://github.com/sigstore/*",
					 err),
				 0);
		o.policy = policy;
		o.expected_subject = o.expected_issuer = NULL;
		break;
	case V_DIGEST:
	case V_WRONG_DIGEST:
		sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)artifact,
				   artifact_len, digest);
		if (rows[i].v == V_WRONG_DIGEST)
			digest[31] ^= 1;
		o.artifact = NULL;
		o.artifact_sha256 = digest;
		break;
	case V_OTHER_ARTIFACT:
		o.artifact = (const unsigned char *)other;
		o.artifact_len = other_len;
		break;
	case V_KEY:
	case V_OTHER_KEY:
		key_pem = read_case(rows[i].dir, "key.pub", true, &len);
		if (rows[i].v == V_OTHER_KEY || !key_pem)
			key = EVP_EC_gen("P-256");
		else
			key = sigstore_util_pkey_from_pem((unsigned char *)key_pem, len);
		assert_non_null(key);
		o.public_key = key;
		break;
	case V_REKOR_URL:
		o.rekor_url = "https://rekor.sigstore.dev/";
		break;
	case V_OTHER_REKOR_URL:
		o.rekor_url = "https://log2025-1.rekor.sigstore.dev";
		break;
	}
	ret = sigstore_verify_bundle(b, &o, &res, err);
	if (!ret) {
		assert_non_null(res.signature_b64);
		if (!res.keyed) {
			assert_string_equal(res.subject, IDENTITY);
			assert_string_equal(res.issuer, ISSUER);
		}
		sigstore_verify_result_clear(&res);
	}
out:
	EVP_PKEY_free(key);
	sigstore_identity_policy_free(policy);
	sigstore_bundle_free(b);
	sigstore_trust_root_free(own_tr);
	json_decref(root);
	free(text);
	free(json);
	free(tr_json);
	free(key_pem);
	return ret;
}

static void test_tampering(void **state)
{
	struct sigstore_trust_root *tr = NULL;
	char *tr_json, *artifact, *other;
	size_t tr_len, a_len, o_len;
	char err[256];

	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &tr_len);
	artifact = sst_read_fixture("sigstore/conformance/a.txt", &a_len);
	other = sst_read_fixture("sigstore/conformance/wrong-material_fail/artifact", &o_len);
	if (!tr_json || !artifact || !other)
		goto out;
	assert_int_equal(sigstore_trust_root_parse(tr_json, tr_len, &tr, err), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ret;

		err[0] = 0;
		ret = run_row(i, tr, artifact, a_len, other, o_len, err);
		if (ret == -ENOENT && !err[0])
			continue; /* fixture missing: skipped, named above */
		if ((ret == 0) != rows[i].ok)
			fail_msg("%s: ret %d (%s)", rows[i].name, ret, err);
		print_message("  %-40s %s\n", rows[i].name, ret ? err : "verified");
	}
out:
	sigstore_trust_root_free(tr);
	free(tr_json);
	free(artifact);
	free(other);
}

/* The real cosign attestation of an image: its signer only, under an identity policy. */
static void test_cosign_image(void **state)
{
	static const struct {
		const char *name, *issuer, *subject;
		bool ok;
	} policies[] = {
		{"exact", "https://github.com/login/oauth", "cody@soyland.com", true},
		{"glob", "https://github.com/login/oauth", "*@soyland.com", true},
		{"other issuer", "https://accounts.google.com", "cody@soyland.com", false},
		{"other subject", "https://github.com/login/oauth", "alice@soyland.com", false},
	};
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_bundle *b = NULL;
	unsigned char digest[32];
	char *tr_json, *json, err[256];
	size_t tr_len, len;

	tr_json = sst_read_fixture("sigstore/public-good/trusted_root.json", &tr_len);
	json = sst_read_fixture("sigstore/cosign-image/attestation.sigstore.json", &len);
	if (!tr_json || !json)
		goto out;
	assert_int_equal(sigstore_trust_root_parse(tr_json, tr_len, &tr, err), 0);
	assert_int_equal(sigstore_bundle_parse(json, len, &b, err), 0);
	assert_int_equal(
		sigstore_util_hex_decode("732112270d7e59418a8c080b134b24cabd67d250d0d0147a9"
					 "7ed95ba5c280aa4",
					 digest, 32),
		0);
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct sigstore_identity_policy *p = sigstore_identity_policy_new();
		struct sigstore_verify_opts o = {
			.trust_root = tr, .artifact_sha256 = digest, .policy = p};
		struct sigstore_verify_result res;
		int ret;

		assert_int_equal(sigstore_identity_policy_add(p, policies[i].issuer,
							      policies[i].subject, err),
				 0);
		ret = sigstore_verify_bundle(b, &o, &res, err);
		if ((ret == 0) != policies[i].ok)
			fail_msg("%s: ret %d (%s)", policies[i].name, ret, err);
		if (!ret) {
			assert_string_equal(res.subject, "cody@soyland.com");
			assert_string_equal(res.issuer, "https://github.com/login/oauth");
			assert_string_equal(res.predicate_type,
					    "https://cosign.sigstore.dev/attestation/v1");
			assert_int_equal(res.log_index, 175508996);
			assert_non_null(res.set_b64);
			sigstore_verify_result_clear(&res);
		}
		sigstore_identity_policy_free(p);
	}
	digest[0] ^= 1; /* another image */
	{
		struct sigstore_verify_opts o = {.trust_root = tr,
						 .artifact_sha256 = digest,
						 .expected_subject = "cody@soyland.com",
						 .expected_issuer =
							 "https://github.com/login/oauth"};
		struct sigstore_verify_result res;

		assert_int_not_equal(sigstore_verify_bundle(b, &o, &res, err), 0);
	}
out:
	sigstore_bundle_free(b);
	sigstore_trust_root_free(tr);
	free(tr_json);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_cosign_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
