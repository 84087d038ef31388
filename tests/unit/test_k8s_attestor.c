// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_k8s_attestor.c - kubernetes.* attributes and the k8s:* selectors the attrs.c table derives
 * from them, against SPIRE's recorded pod lists in ../shared/fixtures/k8s (read in place; a
 * missing file skips the test, naming it) and hand-written pods. Expected lists are written out in
 * full; the blog pod's selectors are also compared with SPIRE's own expected set.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "attest/attrs.h"
#include "attest/k8s_attestor.h"
#include "attest/k8s_pods.h"
#include "attest/policy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define BLOG_UID "2c48913c-b29f-11e7-9350-020968147796"
#define BLOG_CID "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961"
#define BLOG_IMG "localhost/spiffe/blog:latest"
#define BLOG_IMG_ID                           \
	"docker-pullable://localhost/spiffe/" \
	"blog@sha256:0cfdaced91cb46dd7af48309799a3c351e4ca2d5e1ee9737ca0cbd932cb79898"
#define GHOST_IMG "localhost/spiffe/ghostunnel:latest"
#define GHOST_IMG_ID                          \
	"docker-pullable://localhost/spiffe/" \
	"ghostunnel@sha256:b2fc20676c92a433b9a91f3f4535faddec0c2c3613849ac12f02c1d5cfcd4c3a"
#define RC_UID	  "2c401175-b29f-11e7-9350-020968147796"
#define CRIO_CID  "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6"
#define AGENT_IMG "gcr.io/spiffe-io/spire-agent:0.8.1"
#define AGENT_IMG_ID        \
	"gcr.io/spiffe-io/" \
	"spire-agent@sha256:1e4c481d76e9ecbd3d8684891e0e46aa021a30920ca04936e1fdcc552747d941"
#define FLANNEL_IMG "quay.io/coreos/flannel:v0.9.0-amd64"
#define FLANNEL_ID                          \
	"docker-pullable://quay.io/coreos/" \
	"flannel@sha256:1b401bf0c30bada9a539389c3be652b58fe38463361edf488e6543c8761d4970"

/* ---- fixtures --------------------------------------------------------------------------- */

#include "k8s_test.h"

/* ---- checks ----------------------------------------------------------------------------- */

/* The set as "name=value" lines, names in insertion order, each name's values in order. */
static void expect_attrs(const struct attr_set *s, const char *const *want, size_t n)
{
	size_t k = 0;
	char line[8192];

	for (size_t i = 0; i < attr_set_count(s); i++)
		for (size_t j = 0; j < attr_set_value_count(s, i); j++) {
			snprintf(line, sizeof(line), "%s=%s", attr_set_name(s, i),
				 attr_set_value(s, i, j));
			print_message("  %s\n", line);
			if (k >= n)
				fail_msg("unexpected attribute %s", line);
			assert_string_equal(line, want[k]);
			k++;
		}
	assert_int_equal(k, n);
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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Order-free comparison, for SPIRE's expectations (SPIRE's order is map order). */
static void expect_selector_set(const struct attr_set *s, const char *const *want, size_t n)
{
	struct selectors sel;
	const char **w = calloc(n, sizeof(*w));

	memcpy(w, want, n * sizeof(*w));
	qsort(w, n, sizeof(*w), cmp_str);
	assert_int_equal(attr_set_selectors(s, &sel), 0);
	qsort(sel.items, sel.n, sizeof(*sel.items), cmp_str);
	assert_int_equal(sel.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(sel.items[i], w[i]);
	selectors_free(&sel);
	free(w);
}

/* Attests container_id (or, with uid and name, the container by name) in pods. */
static struct attr_set *attest(const struct k8s_pods *pods, const char *container_id,
			       const char *uid, const char *name,
			       const struct k8s_attestor_options *opts)
{
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	struct attr_set *s;
	char err[256];

	if (container_id) {
		if (k8s_pods_by_container_id(pods, container_id, &pod, &ref, err))
			fail_msg("%s", err);
	} else {
		if (k8s_pods_by_uid(pods, uid, &pod, err))
			fail_msg("%s", err);
		if (name)
			assert_int_equal(k8s_pod_container_by_name(pod, name, &ref), 0);
	}
	assert_int_equal(attr_set_new(&s), 0);
	if (k8s_attestor_attest(pod, container_id || name ? &ref : NULL, opts, s, err))
		fail_msg("%s", err);
	return s;
}

/* ---- pod_list.json: blog ---------------------------------------------------------------- */

static const char *const blog_pod_attrs[] = {
	"kubernetes.pod.name=blog-24ck7",
	"kubernetes.pod.namespace=default",
	"kubernetes.pod.uid=" BLOG_UID,
	"kubernetes.pod.node.name=k8s-node-1",
	"kubernetes.pod.service_account=default",
	"kubernetes.pod.image_count=2",
	"kubernetes.pod.init_image_count=0",
	"kubernetes.pod.owner=ReplicationController:blog",
	"kubernetes.pod.owner_uid=" RC_UID,
	"kubernetes.pod.owners=ReplicationController:blog",
	"kubernetes.pod.owner_uids=ReplicationController:" RC_UID,
	"kubernetes.pod.container.blog.image.name=" BLOG_IMG,
	"kubernetes.pod.container.blog.image.id=" BLOG_IMG_ID,
	"kubernetes.pod.images=" BLOG_IMG_ID,
	"kubernetes.pod.images=" BLOG_IMG,
	"kubernetes.pod.images=" GHOST_IMG_ID,
	"kubernetes.pod.images=" GHOST_IMG,
	"kubernetes.pod.container.ghostunnel.image.name=" GHOST_IMG,
	"kubernetes.pod.container.ghostunnel.image.id=" GHOST_IMG_ID,
	"kubernetes.pod.label[k8s-app]=blog",
	"kubernetes.pod.label[version]=v0",
};

static const char *const blog_pod_selectors[] = {
	"k8s:sa:default",
	"k8s:ns:default",
	"k8s:node-name:k8s-node-1",
	"k8s:pod-uid:" BLOG_UID,
	"k8s:pod-name:blog-24ck7",
	"k8s:pod-image-count:2",
	"k8s:pod-init-image-count:0",
	"k8s:pod-image:" BLOG_IMG_ID,
	"k8s:pod-image:" BLOG_IMG,
	"k8s:pod-image:" GHOST_IMG_ID,
	"k8s:pod-image:" GHOST_IMG,
	"k8s:pod-label:k8s-app:blog",
	"k8s:pod-label:version:v0",
	"k8s:pod-owner:ReplicationController:blog",
	"k8s:pod-owner-uid:ReplicationController:" RC_UID,
};

/* SPIRE's k8s_test.go testPodAndContainerSelectors, verbatim values (its order). */
static const char *const spire_blog_selectors[] = {
	"k8s:node-name:k8s-node-1",
	"k8s:ns:default",
	"k8s:pod-image-count:2",
	"k8s:pod-image:" BLOG_IMG_ID,
	"k8s:pod-image:" GHOST_IMG_ID,
	"k8s:pod-image:" BLOG_IMG,
	"k8s:pod-image:" GHOST_IMG,
	"k8s:pod-init-image-count:0",
	"k8s:pod-label:k8s-app:blog",
	"k8s:pod-label:version:v0",
	"k8s:pod-name:blog-24ck7",
	"k8s:pod-owner-uid:ReplicationController:" RC_UID,
	"k8s:pod-owner:ReplicationController:blog",
	"k8s:pod-uid:" BLOG_UID,
	"k8s:sa:default",
	"k8s:container-image:" BLOG_IMG_ID,
	"k8s:container-image:" BLOG_IMG,
	"k8s:container-name:blog",
};

static void test_blog_container(void **state)
{
	const char *want_attrs[N(blog_pod_attrs) + 3], *want_sel[N(blog_pod_selectors) + 3];
	struct k8s_pods *pods;
	struct attr_set *s;

	memcpy(want_attrs, blog_pod_attrs, sizeof(blog_pod_attrs));
	want_attrs[N(blog_pod_attrs)] = "kubernetes.workload_container.name=blog";
	want_attrs[N(blog_pod_attrs) + 1] = "kubernetes.workload_container.images=" BLOG_IMG_ID;
	want_attrs[N(blog_pod_attrs) + 2] = "kubernetes.workload_container.images=" BLOG_IMG;
	memcpy(want_sel, blog_pod_selectors, sizeof(blog_pod_selectors));
	want_sel[N(blog_pod_selectors)] = "k8s:container-name:blog";
	want_sel[N(blog_pod_selectors) + 1] = "k8s:container-image:" BLOG_IMG_ID;
	want_sel[N(blog_pod_selectors) + 2] = "k8s:container-image:" BLOG_IMG;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	s = attest(pods, BLOG_CID, NULL, NULL, NULL);
	expect_attrs(s, want_attrs, N(want_attrs));
	expect_selectors(s, want_sel, N(want_sel));
	expect_selector_set(s, spire_blog_selectors, N(spire_blog_selectors));
	attr_set_free(s);
	k8s_pods_free(pods);
}

/* SPIRE's TestAttestWhenContainerReadyButContainerSelectorsDisabled: testPodSelectors only. */
static void test_blog_disable_container_selectors(void **state)
{
	const struct k8s_attestor_options opts = {.disable_container_selectors = true,
						  .include_container_attributes = true};
	struct k8s_pods *pods;
	struct attr_set *s;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	s = attest(pods, BLOG_CID, NULL, NULL, &opts);
	expect_attrs(s, blog_pod_attrs, N(blog_pod_attrs));
	expect_selectors(s, blog_pod_selectors, N(blog_pod_selectors));
	expect_selector_set(s, spire_blog_selectors, N(spire_blog_selectors) - 3);
	attr_set_free(s);
	/* pod only (no container known) gives the same */
	s = attest(pods, NULL, BLOG_UID, NULL, NULL);
	expect_attrs(s, blog_pod_attrs, N(blog_pod_attrs));
	attr_set_free(s);
	k8s_pods_free(pods);
}

/* The lifecycle-hook case: blog's status has no containerID; found by pod UID + name. */
static void test_blog_not_running_by_name(void **state)
{
	static const char *const want_tail[] = {
		"k8s:container-name:blog",
		("k8s:container-image:" BLOG_IMG_ID),
		("k8s:container-image:" BLOG_IMG),
	};
	const char *want_sel[N(blog_pod_selectors) + N(want_tail)];
	struct k8s_pods *pods;
	struct attr_set *s;

	memcpy(want_sel, blog_pod_selectors, sizeof(blog_pod_selectors));
	memcpy(want_sel + N(blog_pod_selectors), want_tail, sizeof(want_tail));
	FIXTURE_OR_SKIP(pods, "pod_list_not_running.json");
	s = attest(pods, NULL, BLOG_UID, "blog", NULL);
	expect_selectors(s, want_sel, N(want_sel));
	attr_set_free(s);
	k8s_pods_free(pods);
}

/* ---- crio_pod_list.json: every option ---------------------------------------------------- */

static void test_crio_all_options(void **state)
{
	static const char *const prefixes[] = {"example.com/"};
	static const char *const want_attrs[] = {
		"kubernetes.pod.name=sample-workload-6658cb9566-5n4b4",
		"kubernetes.pod.namespace=sfh-199",
		"kubernetes.pod.uid=a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80",
		"kubernetes.pod.node.name=a37b7d23-d32a-4932-8f33-40950ac16ee9",
		"kubernetes.pod.service_account=default",
		"kubernetes.pod.image_count=1",
		"kubernetes.pod.init_image_count=0",
		"kubernetes.pod.owner=ReplicaSet:sample-workload-6658cb9566",
		"kubernetes.pod.owner_uid=349d135e-3781-43e3-bc25-c900aedf1d0c",
		"kubernetes.pod.owners=ReplicaSet:sample-workload-6658cb9566",
		"kubernetes.pod.owner_uids=ReplicaSet:349d135e-3781-43e3-bc25-c900aedf1d0c",
		"kubernetes.pod.container.workload-api-client.image.name=" AGENT_IMG,
		"kubernetes.pod.container.workload-api-client.image.id=" AGENT_IMG_ID,
		"kubernetes.pod.images=" AGENT_IMG_ID,
		"kubernetes.pod.images=" AGENT_IMG,
		"kubernetes.pod.label[app]=sample-workload",
		"kubernetes.pod.label[pod-template-hash]=6658cb9566",
		"kubernetes.workload_container.name=workload-api-client",
		"kubernetes.workload_container.images=" AGENT_IMG_ID,
		"kubernetes.workload_container.images=" AGENT_IMG,
		"kubernetes.container.name=workload-api-client",
		"kubernetes.container.image.name=" AGENT_IMG,
		"kubernetes.container.image.id=" AGENT_IMG_ID,
	};
	static const char *const want_sel[] = {
		"k8s:sa:default",
		"k8s:ns:sfh-199",
		"k8s:node-name:a37b7d23-d32a-4932-8f33-40950ac16ee9",
		"k8s:pod-uid:a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80",
		"k8s:pod-name:sample-workload-6658cb9566-5n4b4",
		"k8s:pod-image-count:1",
		"k8s:pod-init-image-count:0",
		"k8s:pod-image:" AGENT_IMG_ID,
		"k8s:pod-image:" AGENT_IMG,
		"k8s:pod-label:app:sample-workload",
		"k8s:pod-label:pod-template-hash:6658cb9566",
		"k8s:pod-owner:ReplicaSet:sample-workload-6658cb9566",
		"k8s:pod-owner-uid:ReplicaSet:349d135e-3781-43e3-bc25-c900aedf1d0c",
		"k8s:container-name:workload-api-client",
		"k8s:container-image:" AGENT_IMG_ID,
		"k8s:container-image:" AGENT_IMG,
	};
	const struct k8s_attestor_options opts = {
		.include_container_attributes = true,
		.include_annotation_prefixes = prefixes,
		.n_include_annotation_prefixes = N(prefixes),
	};
	struct k8s_pods *pods;
	struct attr_set *s;

	FIXTURE_OR_SKIP(pods, "crio_pod_list.json");
	s = attest(pods, CRIO_CID, NULL, NULL, &opts);
	expect_attrs(s, want_attrs, N(want_attrs));
	expect_selectors(s, want_sel, N(want_sel));
	attr_set_free(s);
	k8s_pods_free(pods);
}

/* ---- pod_list.json: flannel's init container --------------------------------------------- */

static void test_flannel_init_container(void **state)
{
	static const char *const prefixes[] = {"kubernetes.io/config.", "nothing/"};
	static const char *const want_sel[] = {
		"k8s:sa:flannel",
		"k8s:ns:kube-system",
		"k8s:node-name:k8s-node-1",
		"k8s:pod-uid:d488cae9-b2a0-11e7-9350-020968147796",
		"k8s:pod-name:kube-flannel-ds-gp1g9",
		"k8s:pod-image-count:1",
		"k8s:pod-init-image-count:1",
		"k8s:pod-image:" FLANNEL_ID,
		"k8s:pod-image:" FLANNEL_IMG,
		"k8s:pod-init-image:" FLANNEL_ID,
		"k8s:pod-init-image:" FLANNEL_IMG,
		"k8s:pod-label:app:flannel",
		"k8s:pod-label:controller-revision-hash:1846323910",
		"k8s:pod-label:pod-template-generation:1",
		"k8s:pod-label:tier:node",
		"k8s:pod-owner:DaemonSet:kube-flannel-ds",
		"k8s:pod-owner-uid:DaemonSet:2f0350fc-b29d-11e7-9350-020968147796",
		"k8s:container-name:install-cni",
		"k8s:container-image:" FLANNEL_ID,
		"k8s:container-image:" FLANNEL_IMG,
	};
	const struct k8s_attestor_options opts = {
		.include_annotation_prefixes = prefixes,
		.n_include_annotation_prefixes = N(prefixes),
	};
	const char *const *v;
	struct k8s_pods *pods;
	struct attr_set *s;
	size_t n;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	s = attest(pods, "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41", NULL,
		   NULL, &opts);
	expect_selectors(s, want_sel, N(want_sel));
	v = attr_set_get(s, "kubernetes.pod.init_container.install-cni.image.name", &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], FLANNEL_IMG);
	v = attr_set_get(s, "kubernetes.pod.init_container.install-cni.image.id", &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], FLANNEL_ID);
	v = attr_set_get(s, "kubernetes.pod.annotation[kubernetes.io/config.seen]", &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "2017-10-16T23:24:09.173358106Z");
	v = attr_set_get(s, "kubernetes.pod.annotation[kubernetes.io/config.source]", &n);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "api");
	/* not under a prefix */
	assert_null(attr_set_get(s, "kubernetes.pod.annotation[kubernetes.io/created-by]", &n));
	/* include_container_attributes is off */
	assert_null(attr_set_get(s, "kubernetes.container.name", &n));
	attr_set_free(s);
	k8s_pods_free(pods);
}

/* ---- hand-written pods ------------------------------------------------------------------ */

static void test_owners_ephemeral_and_empty_values(void **state)
{
	static const char json[] =
		"{\"items\":[{\"metadata\":{\"uid\":\"u1\",\"name\":\"p\",\"namespace\":\"n\","
		"\"labels\":{\"empty\":\"\",\"a\":\"b:c\"},"
		"\"annotations\":{\"x.io/a\":\"1\",\"x.io/empty\":\"\",\"y.io/b\":\"2\"},"
		"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"o1\"},"
		"{\"kind\":\"Thing\",\"name\":\"t\",\"uid\":\"o2\"}]},"
		"\"spec\":{\"serviceAccountName\":\"\",\"nodeName\":\"node\",\"containers\":["
		"{\"name\":\"a\",\"image\":\"img-a\"},{\"name\":\"b\",\"image\":\"img-b\"}],"
		"\"ephemeralContainers\":[{\"name\":\"dbg\",\"image\":\"busybox\"}]},"
		"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\","
		"\"image\":\"img-a\",\"imageID\":\"\",\"containerID\":\"containerd://ca\"}],"
		"\"ephemeralContainerStatuses\":[{\"name\":\"dbg\",\"image\":\"busybox\","
		"\"imageID\":\"busybox@sha256:11\",\"containerID\":\"containerd://ce\"}]}}]}";
	static const char *const prefixes[] = {"x.io/"};
	static const char *const want_attrs[] = {
		"kubernetes.pod.name=p",
		"kubernetes.pod.namespace=n",
		"kubernetes.pod.uid=u1",
		"kubernetes.pod.node.name=node",
		"kubernetes.pod.image_count=1",
		"kubernetes.pod.init_image_count=0",
		"kubernetes.pod.owner=Thing:t",
		"kubernetes.pod.owner_uid=o2",
		"kubernetes.pod.owners=ReplicaSet:rs",
		"kubernetes.pod.owners=Thing:t",
		"kubernetes.pod.owner_uids=ReplicaSet:o1",
		"kubernetes.pod.owner_uids=Thing:o2",
		"kubernetes.pod.container.a.image.name=img-a",
		"kubernetes.pod.images=img-a",
		"kubernetes.pod.container.b.image.name=img-b",
		"kubernetes.pod.label[empty]=",
		"kubernetes.pod.label[a]=b:c",
		"kubernetes.pod.annotation[x.io/a]=1",
		"kubernetes.pod.annotation[x.io/empty]=",
		"kubernetes.workload_container.name=dbg",
		"kubernetes.workload_container.images=busybox@sha256:11",
		"kubernetes.workload_container.images=busybox",
		"kubernetes.container.name=dbg",
		"kubernetes.container.image.name=busybox",
		"kubernetes.container.image.id=busybox@sha256:11",
	};
	static const char *const want_sel[] = {
		"k8s:ns:n",
		"k8s:node-name:node",
		"k8s:pod-uid:u1",
		"k8s:pod-name:p",
		"k8s:pod-image-count:1",
		"k8s:pod-init-image-count:0",
		"k8s:pod-image:img-a",
		"k8s:pod-label:empty:", /* an empty label value, as SPIRE emits it */
		"k8s:pod-label:a:b:c",
		"k8s:pod-owner:ReplicaSet:rs",
		"k8s:pod-owner:Thing:t",
		"k8s:pod-owner-uid:ReplicaSet:o1",
		"k8s:pod-owner-uid:Thing:o2",
		"k8s:container-name:dbg",
		"k8s:container-image:busybox@sha256:11",
		"k8s:container-image:busybox",
	};
	const struct k8s_attestor_options opts = {
		.include_container_attributes = true,
		.include_annotation_prefixes = prefixes,
		.n_include_annotation_prefixes = N(prefixes),
	};
	struct k8s_pods *pods = parse_ok(json);
	struct attr_set *s = attest(pods, "ce", NULL, NULL, &opts);

	expect_attrs(s, want_attrs, N(want_attrs));
	expect_selectors(s, want_sel, N(want_sel));
	attr_set_free(s);

	/* b has a spec entry but no status yet: by name, container selectors from the spec */
	s = attest(pods, NULL, "u1", "b", NULL);
	{
		const char *const *v;
		size_t n;

		v = attr_set_get(s, "kubernetes.workload_container.name", &n);
		assert_int_equal(n, 1);
		assert_string_equal(v[0], "b");
		v = attr_set_get(s, "kubernetes.workload_container.images", &n);
		assert_int_equal(n, 1);
		assert_string_equal(v[0], "img-b");
	}
	attr_set_free(s);
	k8s_pods_free(pods);
}

static void test_errors(void **state)
{
	char json[2048], key[700], err[256];
	const struct k8s_pod *pod;
	struct k8s_container_ref ref = {0};
	struct k8s_pods *pods;
	struct attr_set *s;
	char *big;
	size_t n;
	static const char *const all[] = {""};
	const struct k8s_attestor_options opts_all = {.include_annotation_prefixes = all,
						      .n_include_annotation_prefixes = 1};
	const struct k8s_attestor_options opts_bad = {.n_include_annotation_prefixes =
							      K8S_ATTESTOR_MAX_PREFIXES + 1,
						      .include_annotation_prefixes = all};

	/* a label key too long for an attribute name (Kubernetes allows 317 bytes; more is
	 * malformed input) */
	memset(key, 'k', 600);
	key[600] = '\0';
	snprintf(json, sizeof(json),
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"namespace\":\"n\",\"name\":\"p\","
		 "\"labels\":{\"%s\":\"v\"}}}]}",
		 key);
	pods = parse_ok(json);
	assert_int_equal(k8s_pods_by_uid(pods, "u", &pod, err), 0);
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(k8s_attestor_attest(pod, NULL, NULL, s, err), -ENAMETOOLONG);
	print_message("%s\n", err);
	assert_non_null(
		strstr(err, "kubernetes: pod n/p: attribute name kubernetes.pod.label[kkk"));
	attr_set_free(s);
	k8s_pods_free(pods);

	/* an included annotation value too long for an attribute value; excluded, it is fine */
	big = malloc(ATTR_VALUE_MAX + 200);
	n = (size_t)snprintf(big, 200,
			     "{\"items\":[{\"metadata\":{\"uid\":\"u\","
			     "\"annotations\":{\"a\":\"");
	memset(big + n, 'v', ATTR_VALUE_MAX);
	snprintf(big + n + ATTR_VALUE_MAX, 200, "\"}}}]}");
	pods = parse_ok(big);
	assert_int_equal(k8s_pods_by_uid(pods, "u", &pod, err), 0);
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(k8s_attestor_attest(pod, NULL, NULL, s, err), 0);
	assert_int_equal(k8s_attestor_attest(pod, NULL, &opts_all, s, err), -E2BIG);
	assert_string_equal(err, "kubernetes: pod /: kubernetes.pod.annotation[a]: value longer "
				 "than 4095 bytes");
	assert_int_equal(k8s_attestor_attest(pod, NULL, &opts_bad, s, err), -EINVAL);
	assert_int_equal(k8s_attestor_attest(pod, &ref, NULL, s, err), -EINVAL);
	assert_string_equal(err, "kubernetes: empty container reference");
	attr_set_free(s);
	k8s_pods_free(pods);
	free(big);
}

#define HEXA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEXB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* imageID (and image name) -> the reference to verify, its digest and the config-digest tag. */
static void test_image_ref(void **state)
{
	static const struct {
		const char *name, *image, *image_id;
		int rc;
		const char *ref, *digest; /* rc 0; or a substring of err */
		const char *tag;	  /* config_tag_ref: "" = no fallback */
	} cases[] = {
		{"docker-pullable", "nginx:1.25", "docker-pullable://nginx@sha256:" HEXA, 0,
		 "nginx@sha256:" HEXA, "sha256:" HEXA, ""},
		{"repo@digest (containerd)", "reg:5000/app:v1", "reg:5000/app@sha256:" HEXA, 0,
		 "reg:5000/app@sha256:" HEXA, "sha256:" HEXA, ""},
		{"bare digest + image name with port and tag", "reg:5000/team/app:v1",
		 "sha256:" HEXB, 0, "reg:5000/team/app@sha256:" HEXB, "sha256:" HEXB,
		 "reg:5000/team/app:v1"},
		{"bare digest + image name without tag: latest", "reg:5000/app", "sha256:" HEXB, 0,
		 "reg:5000/app@sha256:" HEXB, "sha256:" HEXB, "reg:5000/app:latest"},
		{"bare digest + docker.io short name", "busybox", "sha256:" HEXB, 0,
		 "busybox@sha256:" HEXB, "sha256:" HEXB, "busybox:latest"},
		{"bare digest + image name with tag and non-sha256 digest", "app:v1@sha512:abc",
		 "sha256:" HEXB, 0, "app@sha256:" HEXB, "sha256:" HEXB, ""},
		{"pinned image wins over a bare (config) digest", "app@sha256:" HEXA,
		 "sha256:" HEXB, 0, "app@sha256:" HEXA, "sha256:" HEXA, ""},
		{"no imageID: pinned image", "app@sha256:" HEXA, NULL, 0, "app@sha256:" HEXA,
		 "sha256:" HEXA, ""},
		{"no imageID: a tag, resolved later", "reg.io/app:v2", "", 0, "reg.io/app:v2", "",
		 ""},
		{"bare digest without image", NULL, "sha256:" HEXA, -EINVAL, "no repository", NULL,
		 ""},
		{"short digest", "app", "app@sha256:abc", -EINVAL, "not a sha256 digest", NULL, ""},
		{"upper-case digest", "app",
		 "sha256:"
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 -EINVAL, "not a sha256 digest", NULL, ""},
		{"nothing", NULL, NULL, -EINVAL, "neither", NULL, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char ref[K8S_IMAGE_REF_MAX], digest[K8S_IMAGE_DIGEST_LEN], err[256];
		char tag[K8S_IMAGE_REF_MAX] = "stale";
		int rc = k8s_attestor_image_ref(cases[i].image, cases[i].image_id, ref, digest, tag,
						err);

		print_message("case: %s\n", cases[i].name);
		assert_int_equal(rc, cases[i].rc);
		assert_string_equal(tag, cases[i].tag);
		if (rc == 0) {
			assert_string_equal(ref, cases[i].ref);
			assert_string_equal(digest, cases[i].digest);
		} else {
			assert_non_null(strstr(err, cases[i].ref));
		}
	}
}

/* A tag that does not fit beside the repository: the reference is built, the fallback is not. */
static void test_image_ref_long_tag(void **state)
{
	char image[K8S_IMAGE_REF_MAX + 8], ref[K8S_IMAGE_REF_MAX], digest[K8S_IMAGE_DIGEST_LEN];
	char tag[K8S_IMAGE_REF_MAX], err[256];
	size_t n;

	n = (size_t)snprintf(image, sizeof(image), "reg.io/");
	memset(image + n, 'r', 380);
	n += 380;
	image[n++] = ':';
	memset(image + n, 't', 128);
	image[n + 128] = '\0';
	assert_int_equal(k8s_attestor_image_ref(image, "sha256:" HEXB, ref, digest, tag, err), 0);
	assert_non_null(strstr(ref, "@sha256:" HEXB));
	assert_string_equal(tag, "");
}

static void test_image_signature_attrs(void **state)
{
	static const char *const want[] = {
		"kubernetes.workload_container.id=" HEXB,
		"kubernetes.image.signature.subject=https://github.com/o/r/.github/workflows/"
		"w.yml@refs/"
		"heads/main",
		"kubernetes.image.signature.issuer=https://token.actions.githubusercontent.com",
		"kubernetes.image.signature.value=MEUCsig==",
		"kubernetes.image.signature.log_id=" HEXA,
		"kubernetes.image.signature.log_index=7",
		"kubernetes.image.signature.integrated_time=1700000000",
		"kubernetes.image.signature.signed_entry_timestamp=MEQset==",
		"kubernetes.image.provenance.predicate_type=https://slsa.dev/provenance/v1",
		"kubernetes.image.sigstore_validation=passed",
	};
	struct k8s_image_signature sig = {
		.subject = "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
		.issuer = "https://token.actions.githubusercontent.com",
		.signature_b64 = "MEUCsig==",
		.log_id_hex = HEXA,
		.log_index = 7,
		.integrated_time = 1700000000,
		.set_b64 = "MEQset==",
		.provenance_type = "https://slsa.dev/provenance/v1",
	};
	struct attr_set *s;
	char err[256];

	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(k8s_attestor_add_image_signature(&sig, HEXB, s, err), 0);
	expect_attrs(s, want, sizeof(want) / sizeof(want[0]));
	attr_set_free(s);

	/* skipped image: validation passed, no signature */
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(k8s_attestor_add_image_signature(NULL, HEXB, s, err), 0);
	expect_attrs(s, want + 9, 1);
	attr_set_free(s);

	/* Rekor v2 entry (no SET), unknown log index, no provenance */
	sig.set_b64 = NULL;
	sig.log_index = -1;
	sig.provenance_type = NULL;
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(k8s_attestor_add_image_signature(&sig, HEXB, s, err), 0);
	{
		const char *const w2[] = {want[0], want[1], want[2], want[3],
					  want[4], want[6], want[9]};

		expect_attrs(s, w2, sizeof(w2) / sizeof(w2[0]));
	}
	attr_set_free(s);

	/* incomplete input adds nothing */
	assert_int_equal(attr_set_new(&s), 0);
	sig.subject = NULL;
	assert_int_equal(k8s_attestor_add_image_signature(&sig, HEXB, s, err), -EINVAL);
	assert_non_null(strstr(err, "subject"));
	sig.subject = "s";
	assert_int_equal(k8s_attestor_add_image_signature(&sig, "", s, err), -EINVAL);
	assert_non_null(strstr(err, "container ID"));
	assert_int_equal(attr_set_count(s), 0);
	attr_set_free(s);
}

/* A template naming a signature attribute fails for a workload whose image did not verify. */
static void test_template_needs_signature(void **state)
{
	struct policy_template t = {
		.spiffe_id = "spiffe://example.org/signer/{{kubernetes.image.signature.subject}}",
	};
	struct k8s_image_signature sig = {.subject = "ci", .issuer = "i", .signature_b64 = "v"};
	struct policy *p = NULL;
	struct policy_match m;
	struct selectors sel;
	struct attr_set *s;
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_new("example.org", NULL, 0, &t, 1, &p, err), 0);
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(attr_set_add(s, "kubernetes.pod.namespace", "prod"), 0);
	assert_int_equal(attr_set_selectors(s, &sel), 0);
	assert_int_equal(policy_match(p, s, &sel, &m), 0);
	assert_int_equal(m.nids, 0);
	assert_int_equal(m.nerrors, 1);
	assert_non_null(strstr(m.errors[0], "kubernetes.image.signature.subject"));
	policy_match_free(&m);
	selectors_free(&sel);

	/* with the signature it renders */
	assert_int_equal(k8s_attestor_add_image_signature(&sig, "c1", s, err), 0);
	assert_int_equal(attr_set_selectors(s, &sel), 0);
	assert_int_equal(policy_match(p, s, &sel, &m), 0);
	assert_int_equal(m.nids, 1);
	assert_int_equal(m.nerrors, 0);
	policy_match_free(&m);
	selectors_free(&sel);
	attr_set_free(s);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blog_container),
		cmocka_unit_test(test_blog_disable_container_selectors),
		cmocka_unit_test(test_blog_not_running_by_name),
		cmocka_unit_test(test_crio_all_options),
		cmocka_unit_test(test_flannel_init_container),
		cmocka_unit_test(test_owners_ephemeral_and_empty_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_image_ref),
		cmocka_unit_test(test_image_ref_long_tag),
		cmocka_unit_test(test_image_signature_attrs),
		cmocka_unit_test(test_template_needs_signature),
	};

	return cmocka_run_group_tests_name("k8s_attestor", tests, NULL, NULL);
}
