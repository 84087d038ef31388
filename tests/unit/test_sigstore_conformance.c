/*
 * test_sigstore_conformance.c - every case of ../shared/fixtures/sigstore/conformance through the
 * sigstore-conformance client protocol (sigstore_conformance_main, i.e. `attestctl sigstore
 * verify-bundle`): folders ending in _fail must be rejected (exit 1), all others verified
 * (exit 0). Per-folder overrides: artifact, identity, issuer, key.pub, trusted_root.json.
 * Prints "conformance: N passed, M failed".
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "sigstore/conformance.h"
#include "tests/unit/sigstore_test.h"

#define DEFAULT_IDENTITY                                                                          \
	"https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/" \
	"workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
#define DEFAULT_ISSUER "https://token.actions.githubusercontent.com"
#define MAX_CASES      512

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* First line of a small override file, or def. */
static void read_override(const char *dir, const char *name, const char *def, char *out, size_t n)
{
	char path[2500];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(out, n, "%s", def);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\r\n")] = 0;
	fclose(f);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_case(const char *root, const char *name)
{
	char dir[2400], bundle[2500], artifact[2500], tr[2500], key[2500];
	char identity[1024], issuer[1024];
	char *argv[16];
	int argc = 0;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	snprintf(bundle, sizeof(bundle), "%s/bundle.sigstore.json", dir);
	snprintf(artifact, sizeof(artifact), "%s/artifact", dir);
	if (!exists(artifact))
		snprintf(artifact, sizeof(artifact), "%s/a.txt", root);
	snprintf(tr, sizeof(tr), "%s/trusted_root.json", dir);
	if (!exists(tr))
		snprintf(tr, sizeof(tr), "%s/../public-good/trusted_root.json", root);
	snprintf(key, sizeof(key), "%s/key.pub", dir);
	read_override(dir, "identity", DEFAULT_IDENTITY, identity, sizeof(identity));
	read_override(dir, "issuer", DEFAULT_ISSUER, issuer, sizeof(issuer));

	argv[argc++] = "verify-bundle";
	argv[argc++] = "--bundle";
	argv[argc++] = bundle;
	if (exists(key)) {
		argv[argc++] = "--key";
		argv[argc++] = key;
	} else {
		argv[argc++] = "--certificate-identity";
		argv[argc++] = identity;
		argv[argc++] = "--certificate-oidc-issuer";
		argv[argc++] = issuer;
	}
	argv[argc++] = "--trusted-root";
	argv[argc++] = tr;
	argv[argc++] = artifact;
	argv[argc] = NULL;
	fprintf(stderr, "%s: ", name);
	fflush(stderr);
	return sigstore_conformance_main(argc, argv);
}

static void test_conformance(void **state)
{
	char root[2048], *names[MAX_CASES];
	size_t n = 0, passed = 0, failed = 0;
	struct dirent *de;
	DIR *d;

	sst_fixture_path(root, sizeof(root), "sigstore/conformance");
	d = opendir(root);
	if (!d) {
		printf("SKIP: needs fixture %s (set ATTESTD_FIXTURES)\n", root);
		return;
	}
	while ((de = readdir(d)) && n < MAX_CASES) {
		char p[2400];

		snprintf(p, sizeof(p), "%s/%s/bundle.sigstore.json", root, de->d_name);
		if (de->d_name[0] != '.' && exists(p))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);
		bool want_fail = len > 5 && !strcmp(names[i] + len - 5, "_fail");
		int rc = run_case(root, names[i]);

		if (rc == 0)
			fprintf(stderr, "verified\n");
		if ((want_fail && rc == 1) || (!want_fail && rc == 0)) {
			passed++;
		} else {
			failed++;
			printf("conformance: FAILED %s (exit %d, expected %s)\n", names[i], rc,
			       want_fail ? "rejection" : "verification");
		}
		free(names[i]);
	}
	printf("conformance: %zu passed, %zu failed\n", passed, failed);
	assert_true(n > 0);
	assert_int_equal(failed, 0);
}

static void test_usage(void **state)
{
	char *no_args[] = {"verify-bundle", NULL};
	char *unknown[] = {"verify-bundle", "--bundle", "b", "--frobnicate", "x", "a", NULL};
	char *both[] = {"verify-bundle",
			"--bundle",
			"b",
			"--key",
			"k",
			"--certificate-identity",
			"i",
			"--certificate-oidc-issuer",
			"u",
			"a",
			NULL};
	char *other[] = {"sign-bundle", NULL};
	char *missing[] = {"verify-bundle",	 "--bundle=/nonexistent",
			   "--key=/nonexistent", "--trusted-root=/nonexistent",
			   "sha256:00",		 NULL};

	assert_int_equal(sigstore_conformance_main(1, no_args), 2);
	assert_int_equal(sigstore_conformance_main(6, unknown), 2);
	assert_int_equal(sigstore_conformance_main(10, both), 2);
	assert_int_equal(sigstore_conformance_main(1, other), 2);
	assert_int_equal(sigstore_conformance_main(0, other), 2);
	assert_int_equal(sigstore_conformance_main(5, missing), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
