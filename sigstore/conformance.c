/*
 * conformance.c - see conformance.h.
 */
#include "sigstore/conformance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/bundle.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"
#include "sigstore/verify.h"

#define DIGEST_PREFIX "sha256:"

struct args {
	const char *bundle;
	const char *identity;
	const char *issuer;
	const char *key;
	const char *trusted_root;
	const char *artifact;
};

static void usage(void)
{
	fprintf(stderr, "usage: verify-bundle --bundle FILE (--certificate-identity ID "
			"--certificate-oidc-issuer URL | --key KEY.pem) [--trusted-root FILE] "
			"FILE_OR_DIGEST\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
		{"--bundle", offsetof(struct args, bundle)},
		{"--certificate-identity", offsetof(struct args, identity)},
		{"--certificate-oidc-issuer", offsetof(struct args, issuer)},
		{"--key", offsetof(struct args, key)},
		{"--trusted-root", offsetof(struct args, trusted_root)},
	};

	memset(a, 0, sizeof(*a));
	if (argc < 1 || strcmp(argv[0], "verify-bundle") != 0) {
		fprintf(stderr, "sigstore: unknown command %s\n", argc >= 1 ? argv[0] : "(none)");
		return -EINVAL;
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;
		bool known = false;

		if (strncmp(arg, "--", 2) != 0 || !strcmp(arg, "--")) {
			if (!strcmp(arg, "--") && i + 1 < argc)
				arg = argv[++i];
			if (a->artifact) {
				fprintf(stderr, "verify-bundle: more than one FILE_OR_DIGEST\n");
				return -EINVAL;
			}
			a->artifact = arg;
			continue;
		}
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
			size_t n = strlen(opts[k].name);

			if (strncmp(arg, opts[k].name, n) != 0)
				continue;
			if (arg[n] == '=') {
				val = arg + n + 1;
			} else if (arg[n] == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "verify-bundle: %s needs a value\n", arg);
					return -EINVAL;
				}
				val = argv[++i];
			} else {
				continue;
			}
			*(const char **)((char *)a + opts[k].off) = val;
			known = true;
			break;
		}
		if (!known) {
			fprintf(stderr, "verify-bundle: unknown option %s\n", arg);
			return -EINVAL;
		}
	}
	if (!a->bundle || !a->artifact || (!a->key && (!a->identity || !a->issuer)) ||
	    (a->key && (a->identity || a->issuer))) {
		usage();
		return -EINVAL;
	}
	return 0;
}

static int run(const struct args *a, char err[256])
{
	struct sigstore_verify_result res = {0};
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_bundle *b = NULL;
	struct sigstore_verify_opts o = {0};
	unsigned char *artifact = NULL, *pem = NULL, digest[32];
	EVP_PKEY *key = NULL;
	size_t len;
	int ret;

	ret = sigstore_trust_root_load(
		a->trusted_root ? a->trusted_root : SIGSTORE_DEFAULT_TRUSTED_ROOT, &tr, err);
	if (ret)
		goto out;
	ret = sigstore_bundle_load(a->bundle, &b, err);
	if (ret)
		goto out;
	if (!strncmp(a->artifact, DIGEST_PREFIX, strlen(DIGEST_PREFIX))) {
		if (sigstore_util_hex_decode(a->artifact + strlen(DIGEST_PREFIX), digest, 32)) {
			snprintf(err, 256, "artifact: not sha256:<64 hex digits>");
			ret = -EINVAL;
			goto out;
		}
		o.artifact_sha256 = digest;
	} else {
		ret = sigstore_util_read_file(a->artifact, SIGSTORE_MAX_FILE_SIZE, &artifact, &len,
					      err);
		if (ret)
			goto out;
		o.artifact = artifact;
		o.artifact_len = len;
	}
	if (a->key) {
		ret = sigstore_util_read_file(a->key, 65536, &pem, &len, err);
		if (ret)
			goto out;
		key = sigstore_util_pkey_from_pem(pem, len);
		if (!key) {
			snprintf(err, 256, "%.200s: not a PEM public key", a->key);
			ret = -EINVAL;
			goto out;
		}
		o.public_key = key;
	}
	o.trust_root = tr;
	o.expected_subject = a->identity;
	o.expected_issuer = a->issuer;
	ret = sigstore_verify_bundle(b, &o, &res, err);
	if (ret)
		goto out;
	if (res.keyed)
		printf("verified: key, tlog entry %lld\n", (long long)res.log_index);
	else
		printf("verified: %s (%s), tlog entry %lld\n", res.subject, res.issuer,
		       (long long)res.log_index);
out:
	sigstore_verify_result_clear(&res);
	EVP_PKEY_free(key);
	free(pem);
	free(artifact);
	sigstore_bundle_free(b);
	sigstore_trust_root_free(tr);
	return ret;
}

int sigstore_conformance_main(int argc, char **argv)
{
	char err[256] = "";
	struct args a;

	if (parse_args(argc, argv, &a))
		return 2;
	if (run(&a, err)) {
		fprintf(stderr, "verify-bundle: %s\n", err[0] ? err : "rejected");
		return 1;
	}
	return 0;
}
