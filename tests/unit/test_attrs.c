// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_attrs.c - attribute sets, limits, the selector table and bracketed names.
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

#include "attest/attrs.h"

static void test_add_get_dedup(void **state)
{
	struct attr_set *s;
	const char *const *v;
	size_t n;

	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(attr_set_count(s), 0);
	assert_null(attr_set_get(s, "unix.uid", &n));
	assert_int_equal(n, 0);

	assert_int_equal(attr_set_add(s, "unix.uid", "1000"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_gid", "20"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_gid", "10"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_gid", "20"), 0); /* duplicate */
	assert_int_equal(attr_set_addf(s, "unix.pid", "%d", 42), 0);

	assert_int_equal(attr_set_count(s), 3);
	assert_string_equal(attr_set_name(s, 0), "unix.uid");
	assert_string_equal(attr_set_name(s, 1), "unix.supplementary_gid");
	assert_string_equal(attr_set_name(s, 2), "unix.pid");
	assert_null(attr_set_name(s, 3));
	assert_int_equal(attr_set_value_count(s, 1), 2);
	assert_string_equal(attr_set_value(s, 1, 0), "20");
	assert_string_equal(attr_set_value(s, 1, 1), "10");
	assert_null(attr_set_value(s, 1, 2));
	assert_null(attr_set_value(s, 9, 0));

	v = attr_set_get(s, "unix.supplementary_gid", &n);
	assert_non_null(v);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "20");
	assert_string_equal(v[1], "10");
	v = attr_set_get(s, "unix.pid", &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "42");
	attr_set_free(s);
	attr_set_free(NULL);
}

static void test_add_invalid(void **state)
{
	static const struct {
		const char *name;
		size_t name_len, value_len; /* 0 = use the literal below */
		const char *n, *v;
		int want;
	} rows[] = {
		{"empty name", 0, 0, "", "x", -EINVAL},
		{"empty value", 0, 0, "a", "", -EINVAL},
		{"name at limit", ATTR_NAME_MAX, 0, NULL, "x", -EINVAL},
		{"name just fits", ATTR_NAME_MAX - 1, 0, NULL, "x", 0},
		{"value at limit", 0, ATTR_VALUE_MAX, "a", NULL, -EINVAL},
		{"value just fits", 0, ATTR_VALUE_MAX - 1, "a", NULL, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct attr_set *s;
		char *n = NULL, *v = NULL;

		assert_int_equal(attr_set_new(&s), 0);
		if (rows[i].name_len) {
			n = malloc(rows[i].name_len + 1);
			memset(n, 'n', rows[i].name_len);
			n[rows[i].name_len] = '\0';
		}
		if (rows[i].value_len) {
			v = malloc(rows[i].value_len + 1);
			memset(v, 'v', rows[i].value_len);
			v[rows[i].value_len] = '\0';
		}
		print_message("%s\n", rows[i].name);
		assert_int_equal(attr_set_add(s, n ? n : rows[i].n, v ? v : rows[i].v),
				 rows[i].want);
		assert_int_equal(attr_set_count(s), rows[i].want == 0 ? 1 : 0);
		free(n);
		free(v);
		attr_set_free(s);
	}
}

static void test_addf_too_long(void **state)
{
	struct attr_set *s;
	char *big = malloc(ATTR_VALUE_MAX);

	memset(big, 'x', ATTR_VALUE_MAX - 1);
	big[ATTR_VALUE_MAX - 1] = '\0';
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(attr_set_addf(s, "a", "%s", big), 0);
	assert_int_equal(attr_set_addf(s, "b", "%s!", big), -EINVAL);
	assert_int_equal(attr_set_count(s), 1);
	free(big);
	attr_set_free(s);
}

static void test_limits(void **state)
{
	struct attr_set *s;
	char name[32];

	assert_int_equal(attr_set_new(&s), 0);
	for (int i = 0; i < ATTR_MAX_VALUES; i++)
		assert_int_equal(attr_set_addf(s, "many", "%d", i), 0);
	assert_int_equal(attr_set_addf(s, "many", "%d", ATTR_MAX_VALUES), -E2BIG);
	assert_int_equal(attr_set_add(s, "many", "7"), 0); /* duplicate: still fine */
	for (int i = 1; i < ATTR_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(attr_set_add(s, name, "v"), 0);
	}
	assert_int_equal(attr_set_count(s), ATTR_MAX_NAMES);
	assert_int_equal(attr_set_add(s, "one.too.many", "v"), -E2BIG);
	assert_int_equal(attr_set_add(s, "n5", "w"), 0); /* existing name: new value ok */
	attr_set_free(s);
}

static void expect_selectors(const struct attr_set *s, const char *const *want, size_t n)
{
	struct selectors sel;

	assert_int_equal(attr_set_selectors(s, &sel), 0);
	for (size_t i = 0; i < sel.n; i++)
		print_message("  %s\n", sel.items[i]);
	assert_int_equal(sel.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(sel.items[i], want[i]);
	selectors_free(&sel);
}

static void test_selectors_unix(void **state)
{
	static const char *const want[] = {
		"unix:uid:1000",
		"unix:user:alice",
		"unix:gid:100",
		"unix:group:users",
		"unix:supplementary_gid:27",
		"unix:supplementary_gid:4",
		"unix:supplementary_group:sudo",
		"unix:path:/usr/bin/curl",
		"unix:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"unix:pid:4242",
	};
	struct attr_set *s;

	assert_int_equal(attr_set_new(&s), 0);
	/* Insertion order differs from table order on purpose. */
	assert_int_equal(attr_set_add(s, "unix.pid", "4242"), 0);
	assert_int_equal(attr_set_add(s, "unix.real_uid", "1000"), 0); /* no selector */
	assert_int_equal(attr_set_add(s, "unix.sha256",
				      "0123456789abcdef0123456789abcdef"
				      "0123456789abcdef0123456789abcdef"),
			 0);
	assert_int_equal(attr_set_add(s, "unix.path", "/usr/bin/curl"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_group", "sudo"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_gid", "27"), 0);
	assert_int_equal(attr_set_add(s, "unix.supplementary_gid", "4"), 0);
	assert_int_equal(attr_set_add(s, "unix.group", "users"), 0);
	assert_int_equal(attr_set_add(s, "unix.gid", "100"), 0);
	assert_int_equal(attr_set_add(s, "unix.user", "alice"), 0);
	assert_int_equal(attr_set_add(s, "unix.uid", "1000"), 0);
	assert_int_equal(attr_set_add(s, "made.up", "x"), 0); /* no row: no selector */
	expect_selectors(s, want, sizeof(want) / sizeof(want[0]));
	attr_set_free(s);
}

static void test_selectors_empty_and_values_with_colons(void **state)
{
	static const char *const want[] = {"unix:path:/opt/a:b/c d"};
	struct attr_set *s;

	assert_int_equal(attr_set_new(&s), 0);
	expect_selectors(s, NULL, 0);
	assert_int_equal(attr_set_add(s, "unix.path", "/opt/a:b/c d"), 0);
	expect_selectors(s, want, 1);
	attr_set_free(s);
}

static void test_split_key(void **state)
{
	static const struct {
		const char *name;
		int want;
		const char *prefix, *key;
	} rows[] = {
		{"kubernetes.pod.label[app]", 0, "kubernetes.pod.label", "app"},
		{"kubernetes.pod.annotation[example.com/x-y]", 0, "kubernetes.pod.annotation",
		 "example.com/x-y"},
		{"a[b:c]", 0, "a", "b:c"},
		{"a[ ]", 0, "a", " "},
		{"kubernetes.pod.label", -EINVAL, NULL, NULL},
		{"[app]", -EINVAL, NULL, NULL},
		{"a[]", -EINVAL, NULL, NULL},
		{"a[b", -EINVAL, NULL, NULL},
		{"a]b[", -EINVAL, NULL, NULL},
		{"a[b]c", -EINVAL, NULL, NULL},
		{"a[b]]", -EINVAL, NULL, NULL},
		{"a[b[c]", -EINVAL, NULL, NULL},
		{"a[b][c]", -EINVAL, NULL, NULL},
		{"", -EINVAL, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t plen = 0, klen = 0;
		const char *key = NULL;

		print_message("%s\n", rows[i].name);
		assert_int_equal(attr_name_split_key(rows[i].name, &plen, &key, &klen),
				 rows[i].want);
		if (rows[i].want)
			continue;
		assert_int_equal(plen, strlen(rows[i].prefix));
		assert_memory_equal(rows[i].name, rows[i].prefix, plen);
		assert_int_equal(klen, strlen(rows[i].key));
		assert_memory_equal(key, rows[i].key, klen);
	}
	assert_int_equal(attr_name_split_key(NULL, NULL, NULL, NULL), -EINVAL);
}

/* Many values, many duplicates: selector de-duplication keeps the first of each, in order. */
static void test_selectors_many(void **state)
{
	struct attr_set *s;
	struct selectors sel;
	char want[64];

	assert_int_equal(attr_set_new(&s), 0);
	for (int i = 0; i < ATTR_MAX_VALUES; i++)
		assert_int_equal(attr_set_addf(s, "unix.supplementary_gid", "%d", i), 0);
	assert_int_equal(attr_set_selectors(s, &sel), 0);
	assert_int_equal(sel.n, ATTR_MAX_VALUES);
	for (int i = 0; i < ATTR_MAX_VALUES; i++) {
		snprintf(want, sizeof(want), "unix:supplementary_gid:%d", i);
		assert_string_equal(sel.items[i], want);
	}
	selectors_free(&sel);
	attr_set_free(s);
}

/* The kubernetes rows: every k8s:* selector, from attributes inserted out of table order. */
static void test_selectors_k8s(void **state)
{
	static const char *const want[] = {
		"k8s:sa:web",
		"k8s:ns:prod",
		"k8s:node-name:node-1",
		"k8s:pod-uid:0b5c",
		"k8s:pod-name:web-1",
		"k8s:pod-image-count:2",
		"k8s:pod-init-image-count:1",
		"k8s:pod-image:docker.io/web@sha256:aa",
		"k8s:pod-image:docker.io/web:1",
		"k8s:pod-init-image:docker.io/init:1",
		"k8s:pod-label:app:web",
		"k8s:pod-label:example.com/tier:front:end",
		"k8s:pod-owner:ReplicaSet:web-5f",
		"k8s:pod-owner:Thing:t",
		"k8s:pod-owner-uid:ReplicaSet:r1",
		"k8s:container-name:app",
		"k8s:container-image:docker.io/web@sha256:aa",
	};
	static const char *const rows[][2] = {
		{"kubernetes.workload_container.images", "docker.io/web@sha256:aa"},
		{"kubernetes.workload_container.name", "app"},
		{"kubernetes.pod.owner_uids", "ReplicaSet:r1"},
		{"kubernetes.pod.owners", "ReplicaSet:web-5f"},
		{"kubernetes.pod.owners", "Thing:t"},
		{"kubernetes.pod.label[app]", "web"},
		{"kubernetes.pod.init_images", "docker.io/init:1"},
		{"kubernetes.pod.images", "docker.io/web@sha256:aa"},
		{"kubernetes.pod.images", "docker.io/web:1"},
		{"kubernetes.pod.label[example.com/tier]", "front:end"},
		{"kubernetes.pod.init_image_count", "1"},
		{"kubernetes.pod.image_count", "2"},
		{"kubernetes.pod.name", "web-1"},
		{"kubernetes.pod.uid", "0b5c"},
		{"kubernetes.pod.node.name", "node-1"},
		{"kubernetes.pod.namespace", "prod"},
		{"kubernetes.pod.service_account", "web"},
		/* SPIRL-only names: no selector */
		{"kubernetes.pod.owner", "Thing:t"},
		{"kubernetes.pod.owner_uid", "r2"},
		{"kubernetes.pod.container.app.image.name", "docker.io/web:1"},
		{"kubernetes.pod.annotation[a]", "b"},
		{"kubernetes.container.name", "app"},
		{"kubernetes.pod.label", "not keyed"},
	};
	struct attr_set *s;

	assert_int_equal(attr_set_new(&s), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(attr_set_add(s, rows[i][0], rows[i][1]), 0);
	expect_selectors(s, want, sizeof(want) / sizeof(want[0]));
	attr_set_free(s);
}

/* Sigstore rows: PRESENT (fixed selectors), PLAIN, and PER_ID (one per container ID). */
static void test_selectors_image_signature(void **state)
{
	const struct {
		const char *name;
		const char *const *attrs; /* name, value pairs, NULL-terminated */
		const char *const *want;  /* selectors, NULL-terminated */
	} cases[] = {
		{"verified with provenance",
		 (const char *const[]){"kubernetes.workload_container.id",
				       "c0ffee",
				       "kubernetes.image.signature.subject",
				       "https://gh/a:b",
				       "kubernetes.image.signature.issuer",
				       "https://issuer",
				       "kubernetes.image.signature.value",
				       "MEUCsig==",
				       "kubernetes.image.signature.log_id",
				       "abcd",
				       "kubernetes.image.signature.log_index",
				       "42",
				       "kubernetes.image.signature.integrated_time",
				       "1700000000",
				       "kubernetes.image.signature.signed_entry_timestamp",
				       "MEQset==",
				       "kubernetes.image.provenance.predicate_type",
				       "https://slsa.dev/provenance/v1",
				       "kubernetes.image.sigstore_validation",
				       "passed",
				       NULL},
		 (const char *const[]){"k8s:image-signature:verified",
				       "k8s:image-signature-subject:https://gh/a:b",
				       "k8s:image-signature-issuer:https://issuer",
				       "k8s:image-attestations:verified",
				       "k8s:c0ffee:image-signature-content:MEUCsig==",
				       "k8s:c0ffee:image-signature-subject:https://gh/a:b",
				       "k8s:c0ffee:image-signature-logid:abcd",
				       "k8s:c0ffee:image-signature-integrated-time:1700000000",
				       "k8s:sigstore-validation:passed", NULL}},
		{"verified without provenance",
		 (const char *const[]){"kubernetes.workload_container.id", "c1",
				       "kubernetes.image.signature.subject", "s",
				       "kubernetes.image.signature.issuer", "i",
				       "kubernetes.image.signature.value", "v",
				       "kubernetes.image.sigstore_validation", "passed", NULL},
		 (const char *const[]){
			 "k8s:image-signature:verified", "k8s:image-signature-subject:s",
			 "k8s:image-signature-issuer:i", "k8s:c1:image-signature-content:v",
			 "k8s:c1:image-signature-subject:s", "k8s:sigstore-validation:passed",
			 NULL}},
		{"skipped image",
		 (const char *const[]){"kubernetes.image.sigstore_validation", "passed", NULL},
		 (const char *const[]){"k8s:sigstore-validation:passed", NULL}},
		{"signature without a container ID: no per-container selectors",
		 (const char *const[]){"kubernetes.image.signature.subject", "s",
				       "kubernetes.image.signature.value", "v", NULL},
		 (const char *const[]){"k8s:image-signature:verified",
				       "k8s:image-signature-subject:s", NULL}},
		{"container ID alone: nothing",
		 (const char *const[]){"kubernetes.workload_container.id", "c1", NULL},
		 (const char *const[]){NULL}},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct attr_set *s;
		struct selectors sel;
		size_t n = 0;

		print_message("case: %s\n", cases[c].name);
		assert_int_equal(attr_set_new(&s), 0);
		for (size_t i = 0; cases[c].attrs[i]; i += 2)
			assert_int_equal(attr_set_add(s, cases[c].attrs[i], cases[c].attrs[i + 1]),
					 0);
		assert_int_equal(attr_set_selectors(s, &sel), 0);
		while (cases[c].want[n])
			n++;
		for (size_t i = 0; i < sel.n && i < n; i++)
			assert_string_equal(sel.items[i], cases[c].want[i]);
		assert_int_equal(sel.n, n);
		selectors_free(&sel);
		attr_set_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get_dedup),
		cmocka_unit_test(test_add_invalid),
		cmocka_unit_test(test_addf_too_long),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_selectors_unix),
		cmocka_unit_test(test_selectors_empty_and_values_with_colons),
		cmocka_unit_test(test_split_key),
		cmocka_unit_test(test_selectors_many),
		cmocka_unit_test(test_selectors_k8s),
		cmocka_unit_test(test_selectors_image_signature),
	};

	return cmocka_run_group_tests_name("attrs", tests, NULL, NULL);
}
