/*
 * oci_fetch.c - test driver for sigstore/oci.h: resolves an image reference to a digest, fetches
 * its signatures and verifies each v0.3 bundle against a trusted root, printing one JSON object:
 *   oci_fetch [--ca FILE] [--http] [--docker-config FILE] [--trusted-root FILE
 *              --identity SUBJECT --issuer ISSUER] [--now UNIX] REF
 * Exit status: 0 fetched (verification results are in the JSON), 2 usage, 1 fetch failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sigstore/bundle.h"
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
		if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			co.ca_file = argv[++i];
		else if (!strcmp(argv[i], "--http"))
			co.insecure_http = true;
		else if (!strcmp(argv[i], "--docker-config") && i + 1 < argc)
			co.docker_config = argv[++i];
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
