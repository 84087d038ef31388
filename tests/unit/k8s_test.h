/*
 * k8s_test.h - helpers shared by the Kubernetes unit tests: read and parse the recorded kubelet
 * pod lists in ../shared/fixtures/k8s (ATTESTD_FIXTURES overrides the fixtures directory; a
 * missing fixture skips the test, naming the file). Include after cmocka.h, in one .c only.
 */
#ifndef TESTS_UNIT_K8S_TEST_H
#define TESTS_UNIT_K8S_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/k8s_pods.h"

/* The fixture file's contents (caller frees), or NULL after skipping the test. */
static char *fixture_read(const char *name, size_t *len)
{
	char path[4096];
	const char *dir = getenv("ATTESTD_FIXTURES");
	char *buf = NULL;
	FILE *f;
	long n;

	const char *slash = strrchr(__FILE__, '/');

	if (dir && dir[0])
		snprintf(path, sizeof(path), "%s/k8s/%s", dir, name);
	else if (slash) /* <repo>/tests/unit/x.c -> <repo>/../shared/fixtures */
		snprintf(path, sizeof(path), "%.*s/../../../shared/fixtures/k8s/%s",
			 (int)(slash - __FILE__), __FILE__, name);
	else
		snprintf(path, sizeof(path), "../../../shared/fixtures/k8s/%s", name);
	f = fopen(path, "rb");
	if (!f) {
		print_message("SKIP: needs fixture %s (set ATTESTD_FIXTURES)\n", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	assert_non_null(buf);
	return buf;
}

static struct k8s_pods *fixture_parse(const char *name)
{
	struct k8s_pods *pods = NULL;
	char err[256];
	size_t len;
	char *json = fixture_read(name, &len);

	if (!json)
		return NULL;
	if (k8s_pods_parse(json, len, &pods, err) != 0)
		fail_msg("%s: %s", name, err);
	free(json);
	return pods;
}

#define FIXTURE_OR_SKIP(var, name)           \
	do {                                 \
		(var) = fixture_parse(name); \
		if (!(var))                  \
			skip();              \
	} while (0)

static struct k8s_pods *parse_ok(const char *json)
{
	struct k8s_pods *pods = NULL;
	char err[256];

	if (k8s_pods_parse(json, strlen(json), &pods, err) != 0)
		fail_msg("%s", err);
	return pods;
}

#endif /* TESTS_UNIT_K8S_TEST_H */
