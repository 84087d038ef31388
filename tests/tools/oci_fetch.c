/*
 * oci_fetch.c - test driver for sigstore/oci.h: resolves an image reference to a digest, fetches
 * its signatures and verifies each v0.3 bundle against a trusted root, printing one JSON object:
 *   oci_fetch [--ca FILE] [--http] [--docker-config FILE]
 *             [--credential-provider-config F --credential-provider-bin-dir D]
 *             [--credential-helper-dir D] [--trusted-root FILE
 *              --identity SUBJECT --issuer ISSUER] [--now UNIX] REF
 * Exit status: 0 fetched (verification results are in the JSON), 2 usage, 1 fetch failed.
 *
 * Image mode (sigstore/image.h), one JSON object {"result", "reason", "digest", "subject",
 * "issuer", "signature", "log_id", "log_index", "integrated_time", "set", "n_found",
 * "n_verified", "provenance_verified", "provenance_type"}:
 *   oci_fetch --verify-image --trusted-root F --allow ISSUER=SUBJECT_GLOB [--allow ...]
 *             [--skip-provenance] [--skip-tlog] [--no-sct] [--rekor-url U] [--ca F] [--http]
 *             [--docker-config F] [credential flags as above] [--timeout-ms N] [--now UNIX] REF
 * Exit status: 0 whenever a result was produced, 2 usage, 1 setup failed (trusted root, REF).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sigstore/bundle.h"
#include "sigstore/identity.h"
#include "sigstore/image.h"
#include "sigstore/oci.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"
#include "sigstore/verify.h"

static const char *const kinds[] = {"bundle", "legacy", "attestation"};

static json_t *verify_one(const struct sigstore_oci_sig *s, const struct sigstore_trust_root *tr,
			  const char *digest, const char *identity, const char *issuer,
			  long long now)
{
	struct sigstore_bundle *b = NULL;
	struct sigstore_verify_result res = {0};
	unsigned char d[32];
	char err[256] = "";
	json_t *o = json_object();
	struct sigstore_verify_opts vo = {
		.trust_root = tr,
		.artifact_sha256 = d,
		.expected_subject = identity,
		.expected_issuer = issuer,
		.now = now,
	};
	int ret;

	ret = sigstore_util_hex_decode(digest + 7, d, 32);
	if (!ret)
		ret = sigstore_bundle_parse(s->data, s->data_len, &b, err);
	if (!ret)
		ret = sigstore_verify_bundle(b, &vo, &res, err);
	json_object_set_new(o, "verified", json_boolean(ret == 0));
	if (ret == 0) {
		json_object_set_new(o, "subject", json_string(res.subject));
		json_object_set_new(o, "issuer", json_string(res.issuer));
		json_object_set_new(o, "log_index", json_integer(res.log_index));
		json_object_set_new(o, "predicate_type",
				    res.predicate_type ? json_string(res.predicate_type)
						       : json_null());
	} else {
		json_object_set_new(o, "error", json_string(err));
	}
	sigstore_verify_result_clear(&res);
	sigstore_bundle_free(b);
	return o;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* A failed tag resolution as an image result. */
static enum sigstore_image_result resolve_result(int ret)
{
	switch (ret) {
	case -EACCES:
	case -EIO:
		return SIGSTORE_IMAGE_NETWORK_ERROR;
	case -ETIMEDOUT:
		return SIGSTORE_IMAGE_TIMEOUT;
	case -ECANCELED:
		return SIGSTORE_IMAGE_CANCELLED;
	default:
		return SIGSTORE_IMAGE_ERROR;
	}
}

static void print_image(const struct sigstore_image_verification *v, const char *digest)
{
	json_t *o = json_object();

	json_object_set_new(o, "result", json_string(sigstore_image_result_name(v->result)));
	json_object_set_new(o, "reason", json_string(v->reason));
	json_object_set_new(o, "digest", str_or_null(digest));
	json_object_set_new(o, "subject", str_or_null(v->subject));
	json_object_set_new(o, "issuer", str_or_null(v->issuer));
	json_object_set_new(o, "signature", str_or_null(v->signature_b64));
	json_object_set_new(o, "log_id", str_or_null(v->log_id_hex));
	json_object_set_new(o, "log_index",
			    v->log_index >= 0 ? json_integer(v->log_index) : json_null());
	json_object_set_new(o, "integrated_time",
			    v->integrated_time ? json_integer(v->integrated_time) : json_null());
	json_object_set_new(o, "set", str_or_null(v->set_b64));
	json_object_set_new(o, "n_found", json_integer((json_int_t)v->n_found));
	json_object_set_new(o, "n_verified", json_integer((json_int_t)v->n_verified));
	json_object_set_new(o, "provenance_verified", json_boolean(v->provenance_verified));
	json_object_set_new(o, "provenance_type", str_or_null(v->provenance_type));
	json_dumpf(o, stdout, JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(o);
}

static int usage_image(void)
{
	fprintf(stderr,
		"usage: oci_fetch --verify-image --trusted-root F --allow ISSUER=SUBJECT_GLOB "
		"[--allow ...] [--skip-provenance] [--skip-tlog] [--no-sct] [--rekor-url U] "
		"[--ca F] [--http] [--docker-config F] [--timeout-ms N] [--now UNIX] REF\n");
	return 2;
}

static int verify_image_main(int argc, char **argv)
{
	struct sigstore_oci_client_opts co = {.timeout_ms = 20000};
	struct sigstore_image_opts io = {0};
	struct sigstore_image_verification v = {0};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_identity_policy *policy = sigstore_identity_policy_new();
	struct sigstore_oci_ref ref;
	const char *trusted_root = NULL, *refstr = NULL;
	char err[256] = "", digest[SIGSTORE_OCI_DIGEST_LEN] = "";
	long timeout_ms = 0;
	int ret, status = 1;

	if (!policy)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--verify-image"))
			continue;
		if (!strcmp(a, "--skip-provenance")) {
			io.skip_provenance = true;
		} else if (!strcmp(a, "--skip-tlog")) {
			io.skip_transparency_log = true;
		} else if (!strcmp(a, "--no-sct")) {
			io.skip_sct = true;
		} else if (!strcmp(a, "--http")) {
			co.insecure_http = true;
		} else if (next && !strcmp(a, "--trusted-root")) {
			trusted_root = argv[++i];
		} else if (next && !strcmp(a, "--allow")) {
			char *eq = strchr(next, '='), issuer[1100];

			if (!eq || eq == next || (size_t)(eq - next) >= sizeof(issuer)) {
				status = usage_image();
				goto out;
			}
			snprintf(issuer, sizeof(issuer), "%.*s", (int)(eq - next), next);
			if (sigstore_identity_policy_add(policy, issuer, eq + 1, err)) {
				fprintf(stderr, "oci_fetch: --allow %s: %s\n", next, err);
				status = 2;
				goto out;
			}
			i++;
		} else if (next && !strcmp(a, "--rekor-url")) {
			io.rekor_url = argv[++i];
		} else if (next && !strcmp(a, "--ca")) {
			co.ca_file = argv[++i];
		} else if (next && !strcmp(a, "--docker-config")) {
			co.docker_config = argv[++i];
		} else if (next && !strcmp(a, "--credential-provider-config")) {
			co.credential_provider_config = argv[++i];
		} else if (next && !strcmp(a, "--credential-provider-bin-dir")) {
			co.credential_provider_bin_dir = argv[++i];
		} else if (next && !strcmp(a, "--credential-helper-dir")) {
			co.credential_helper_dir = argv[++i];
		} else if (next && !strcmp(a, "--timeout-ms")) {
			timeout_ms = atol(argv[++i]);
		} else if (next && !strcmp(a, "--now")) {
			io.now = atoll(argv[++i]);
		} else if (!refstr && a[0] != '-') {
			refstr = a;
		} else {
			status = usage_image();
			goto out;
		}
	}
	if (!refstr || !trusted_root || sigstore_identity_policy_count(policy) == 0) {
		status = usage_image();
		goto out;
	}
	if (timeout_ms > 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		co.timeout_ms = timeout_ms;
		co.deadline_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
				 (uint64_t)timeout_ms;
	}
	io.policy = policy;
	if ((ret = sigstore_trust_root_load(trusted_root, &tr, err)) ||
	    (ret = sigstore_oci_ref_parse(refstr, &ref, err)) ||
	    (ret = sigstore_oci_client_new(&co, &c, err))) {
		fprintf(stderr, "oci_fetch: %s\n", err);
		goto out;
	}
	io.trust_root = tr;
	ret = sigstore_oci_resolve_digest(c, &ref, digest, err);
	if (ret) {
		v.result = resolve_result(ret);
		v.log_index = -1;
		snprintf(v.reason, sizeof(v.reason), "%s", err);
		digest[0] = '\0';
	} else {
		snprintf(ref.digest, sizeof(ref.digest), "%s", digest);
		sigstore_image_verify(c, &ref, &io, &v);
	}
	print_image(&v, digest);
	status = 0;
out:
	sigstore_image_verification_clear(&v);
	sigstore_oci_client_free(c);
	sigstore_trust_root_free(tr);
	sigstore_identity_policy_free(policy);
	return status;
}

int main(int argc, char **argv)
{
	struct sigstore_oci_client_opts co = {.timeout_ms = 20000};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_oci_sigs sigs = {0};
	struct sigstore_oci_ref ref;
	const char *trusted_root = NULL, *identity = NULL, *issuer = NULL, *refstr = NULL;
	long long now = 0;
	char err[256] = "", digest[SIGSTORE_OCI_DIGEST_LEN];
	json_t *outj = json_object(), *arr = json_array();
	int ret, status = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verify-image")) {
			json_decref(arr);
			json_decref(outj);
			return verify_image_main(argc, argv);
		}
	}

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			co.ca_file = argv[++i];
		else if (!strcmp(argv[i], "--http"))
			co.insecure_http = true;
		else if (!strcmp(argv[i], "--docker-config") && i + 1 < argc)
			co.docker_config = argv[++i];
		else if (!strcmp(argv[i], "--credential-provider-config") && i + 1 < argc)
			co.credential_provider_config = argv[++i];
		else if (!strcmp(argv[i], "--credential-provider-bin-dir") && i + 1 < argc)
			co.credential_provider_bin_dir = argv[++i];
		else if (!strcmp(argv[i], "--credential-helper-dir") && i + 1 < argc)
			co.credential_helper_dir = argv[++i];
		else if (!strcmp(argv[i], "--trusted-root") && i + 1 < argc)
			trusted_root = argv[++i];
		else if (!strcmp(argv[i], "--identity") && i + 1 < argc)
			identity = argv[++i];
		else if (!strcmp(argv[i], "--issuer") && i + 1 < argc)
			issuer = argv[++i];
		else if (!strcmp(argv[i], "--now") && i + 1 < argc)
			now = atoll(argv[++i]);
		else if (!refstr && argv[i][0] != '-')
			refstr = argv[i];
		else {
			fprintf(stderr,
				"usage: oci_fetch [--ca F] [--http] [--docker-config F] "
				"[--trusted-root F --identity S --issuer I] [--now T] REF\n");
			status = 2;
			goto out;
		}
	}
	if (!refstr || (trusted_root && (!identity || !issuer))) {
		fprintf(stderr,
			"oci_fetch: need REF, and --identity/--issuer with --trusted-root\n");
		status = 2;
		goto out;
	}
	if ((ret = sigstore_oci_ref_parse(refstr, &ref, err)) ||
	    (ret = sigstore_oci_client_new(&co, &c, err)) ||
	    (trusted_root && (ret = sigstore_trust_root_load(trusted_root, &tr, err))) ||
	    (ret = sigstore_oci_resolve_digest(c, &ref, digest, err)))
		goto fail;
	snprintf(ref.digest, sizeof(ref.digest), "%s", digest);
	json_object_set_new(outj, "digest", json_string(digest));
	ret = sigstore_oci_fetch_bundles(c, &ref, &sigs, err);
	json_object_set_new(outj, "referrers_api", json_boolean(sigs.referrers_api));
	json_object_set_new(outj, "skipped", json_integer((json_int_t)sigs.n_skipped));
	if (ret)
		goto fail;
	for (size_t i = 0; i < sigs.n; i++) {
		json_t *o = json_object();
		unsigned char h[32];
		char hex[65];

		sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)sigs.v[i].data,
				   sigs.v[i].data_len, h);
		sigstore_util_hex_encode(h, 32, hex);
		json_object_set_new(o, "kind", json_string(kinds[sigs.v[i].kind]));
		json_object_set_new(o, "media_type", json_string(sigs.v[i].media_type));
		json_object_set_new(o, "sha256", json_string(hex));
		json_object_set_new(o, "has_signature_annotation",
				    json_boolean(sigs.v[i].layer.signature != NULL));
		if (tr && sigs.v[i].kind == SIGSTORE_OCI_SIG_BUNDLE)
			json_object_set_new(
				o, "verification",
				verify_one(&sigs.v[i], tr, digest, identity, issuer, now));
		json_array_append_new(arr, o);
	}
	status = 0;
	goto print;
fail:
	json_object_set_new(outj, "error", json_string(err));
	json_object_set_new(outj, "errno", json_integer(-ret));
print:
	json_object_set_new(outj, "signatures", arr);
	arr = NULL;
	json_dumpf(outj, stdout, JSON_SORT_KEYS);
	fputc('\n', stdout);
out:
	json_decref(arr);
	json_decref(outj);
	sigstore_oci_sigs_clear(&sigs);
	sigstore_trust_root_free(tr);
	sigstore_oci_client_free(c);
	return status;
}
