// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_k8s_pods.c - the kubelet pod list parser and its indexes, against SPIRE's recorded pod
 * lists in ../shared/fixtures/k8s (read in place; a missing file skips the test, naming it) and
 * hand-written lists for every error path.
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

#include "attest/k8s_pods.h"

/* ---- fixtures --------------------------------------------------------------------------- */

#include "k8s_test.h"

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_non_null(got), assert_string_equal(got, want);
}

/* ---- fixtures: every field -------------------------------------------------------------- */

static void test_pod_list_fields(void **state)
{
	static const char *const flannel_ann[][2] = {
		{"kubernetes.io/config.seen", "2017-10-16T23:24:09.173358106Z"},
		{"kubernetes.io/config.source", "api"},
	};
	struct k8s_pods *pods;
	const struct k8s_pod *p;
	const struct k8s_container_status *st;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	assert_int_equal(k8s_pods_count(pods), 4);
	assert_int_equal(k8s_pods_dropped(pods), 0);
	assert_null(k8s_pods_at(pods, 4));

	/* kube-flannel: one owner, an init container, seven annotations. */
	p = k8s_pods_at(pods, 0);
	assert_string_equal(p->ns, "kube-system");
	assert_string_equal(p->name, "kube-flannel-ds-gp1g9");
	assert_string_equal(p->uid, "d488cae9-b2a0-11e7-9350-020968147796");
	assert_string_equal(p->service_account, "flannel");
	assert_string_equal(p->node_name, "k8s-node-1");
	assert_string_equal(p->phase, "Running");
	assert_int_equal(p->n_labels, 4);
	assert_string_equal(p->labels[0].key, "app");
	assert_string_equal(p->labels[0].value, "flannel");
	assert_string_equal(p->labels[3].key, "tier");
	assert_string_equal(p->labels[3].value, "node");
	assert_int_equal(p->n_annotations, 7);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(p->annotations[i].key, flannel_ann[i][0]);
		assert_string_equal(p->annotations[i].value, flannel_ann[i][1]);
	}
	assert_int_equal(p->n_owners, 1);
	assert_string_equal(p->owners[0].kind, "DaemonSet");
	assert_string_equal(p->owners[0].name, "kube-flannel-ds");
	assert_string_equal(p->owners[0].uid, "2f0350fc-b29d-11e7-9350-020968147796");
	assert_int_equal(p->n_spec[K8S_CONTAINER], 1);
	assert_int_equal(p->n_spec[K8S_INIT_CONTAINER], 1);
	assert_int_equal(p->n_spec[K8S_EPHEMERAL_CONTAINER], 0);
	assert_string_equal(p->spec[K8S_INIT_CONTAINER][0].name, "install-cni");
	assert_string_equal(p->spec[K8S_INIT_CONTAINER][0].image,
			    "quay.io/coreos/flannel:v0.9.0-amd64");
	assert_int_equal(p->n_status[K8S_INIT_CONTAINER], 1);
	st = &p->status[K8S_INIT_CONTAINER][0];
	assert_string_equal(st->name, "install-cni");
	assert_string_equal(st->image, "quay.io/coreos/flannel:v0.9.0-amd64");
	assert_string_equal(st->image_id,
			    "docker-pullable://quay.io/coreos/flannel@sha256:"
			    "1b401bf0c30bada9a539389c3be652b58fe38463361edf488e6543c8761d4970");
	assert_string_equal(st->container_id,
			    "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41");
	assert_string_equal(st->runtime, "docker");
	assert_string_equal(st->state, "terminated");
	st = &p->status[K8S_CONTAINER][0];
	assert_string_equal(st->name, "kube-flannel");
	assert_string_equal(st->state, "running");

	/* blog: two containers, statuses in a different order than the spec. */
	p = k8s_pods_at(pods, 3);
	assert_string_equal(p->ns, "default");
	assert_string_equal(p->name, "blog-24ck7");
	assert_string_equal(p->service_account, "default");
	assert_int_equal(p->n_spec[K8S_CONTAINER], 2);
	assert_string_equal(p->spec[K8S_CONTAINER][0].name, "ghostunnel");
	assert_string_equal(p->spec[K8S_CONTAINER][1].name, "blog");
	assert_string_equal(p->spec[K8S_CONTAINER][1].image, "localhost/spiffe/blog:latest");
	assert_int_equal(p->n_status[K8S_CONTAINER], 2);
	assert_string_equal(p->status[K8S_CONTAINER][0].name, "blog");
	assert_string_equal(p->status[K8S_CONTAINER][1].name, "ghostunnel");
	assert_int_equal(p->n_status[K8S_INIT_CONTAINER], 0);
	assert_null(p->status[K8S_INIT_CONTAINER]);
	assert_string_equal(p->owners[0].kind, "ReplicationController");
	k8s_pods_free(pods);
}

struct cid_row {
	const char *name;
	const char *id;
	int want;
	const char *pod, *container;
	enum k8s_container_kind kind;
	const char *state;
};

static void check_cid_rows(struct k8s_pods *pods, const struct cid_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct k8s_pod *pod = (void *)1;
		struct k8s_container_ref ref;
		char err[256] = "";
		int ret;

		print_message("%s\n", rows[i].name);
		ret = k8s_pods_by_container_id(pods, rows[i].id, &pod, &ref, err);
		assert_int_equal(ret, rows[i].want);
		if (ret) {
			assert_null(pod);
			assert_non_null(strstr(err, "pod list: "));
			continue;
		}
		assert_string_equal(pod->name, rows[i].pod);
		assert_int_equal(ref.kind, rows[i].kind);
		assert_non_null(ref.status);
		assert_string_equal(ref.status->name, rows[i].container);
		assert_string_equal(ref.status->container_id, rows[i].id);
		assert_str_or_null(ref.status->state, rows[i].state);
		assert_non_null(ref.spec);
		assert_string_equal(ref.spec->name, rows[i].container);
	}
}

static void test_pod_list_by_container_id(void **state)
{
	static const struct cid_row rows[] = {
		{"flannel init", "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41",
		 0, "kube-flannel-ds-gp1g9", "install-cni", K8S_INIT_CONTAINER, "terminated"},
		{"flannel", "2d64c78289951810fc0362ef4f25b72ac2cfde1886d8c64246a0000157eee258", 0,
		 "kube-flannel-ds-gp1g9", "kube-flannel", K8S_CONTAINER, "running"},
		{"kube-proxy", "c5004fc7c5ed294951e7908ea5c4e70b6eaa8da75ae4f25e08f8c320b1fc5947",
		 0, "kube-proxy-wlzdn", "kube-proxy", K8S_CONTAINER, "running"},
		{"registry", "dcbcf657e66cdb24d6f5df28f781810326173844b2c63954172b2a358528a77f", 0,
		 "kube-registry-proxy-z41lj", "kube-registry-proxy", K8S_CONTAINER, "running"},
		{"blog", "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961", 0,
		 "blog-24ck7", "blog", K8S_CONTAINER, "running"},
		{"ghostunnel", "acc5d907ec963e5054b7e14526da265b4335b24548bf6e58379cfd3ba8baba3d",
		 0, "blog-24ck7", "ghostunnel", K8S_CONTAINER, "running"},
		{"with scheme",
		 "docker://9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961",
		 -ENOENT, NULL, NULL, 0, NULL},
		{"prefix only", "9bca8d63d5fa", -ENOENT, NULL, NULL, 0, NULL},
		{"unknown", "0000000000000000000000000000000000000000000000000000000000000000",
		 -ENOENT, NULL, NULL, 0, NULL},
		{"empty", "", -ENOENT, NULL, NULL, 0, NULL},
	};
	struct k8s_pods *pods;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	check_cid_rows(pods, rows, sizeof(rows) / sizeof(rows[0]));
	k8s_pods_free(pods);
}

static void test_pod_list_by_uid(void **state)
{
	static const struct {
		const char *uid;
		int want;
		const char *name;
	} rows[] = {
		{"d488cae9-b2a0-11e7-9350-020968147796", 0, "kube-flannel-ds-gp1g9"},
		{"d488d63b-b2a0-11e7-9350-020968147796", 0, "kube-proxy-wlzdn"},
		{"d48d002f-b2a0-11e7-9350-020968147796", 0, "kube-registry-proxy-z41lj"},
		{"2c48913c-b29f-11e7-9350-020968147796", 0, "blog-24ck7"},
		{"2c48913c-b29f-11e7-9350-02096814779", -ENOENT, NULL},
		{"", -ENOENT, NULL},
	};
	struct k8s_pods *pods;

	FIXTURE_OR_SKIP(pods, "pod_list.json");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct k8s_pod *pod;
		char err[256];

		print_message("%s\n", rows[i].uid);
		assert_int_equal(k8s_pods_by_uid(pods, rows[i].uid, &pod, err), rows[i].want);
		if (rows[i].want)
			assert_null(pod);
		else
			assert_string_equal(pod->name, rows[i].name);
	}
	k8s_pods_free(pods);
}

/* blog is ContainerCreating: a status with no containerID. Lookup by ID fails; by pod UID and
 * container name works (the lifecycle-hook path). */
static void test_pod_list_not_running(void **state)
{
	static const struct cid_row rows[] = {
		{"blog has no ID yet",
		 "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961", -ENOENT, NULL,
		 NULL, 0, NULL},
		{"ghostunnel", "acc5d907ec963e5054b7e14526da265b4335b24548bf6e58379cfd3ba8baba3d",
		 0, "blog-24ck7", "ghostunnel", K8S_CONTAINER, "running"},
	};
	struct k8s_pods *pods;
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	char err[256];

	FIXTURE_OR_SKIP(pods, "pod_list_not_running.json");
	check_cid_rows(pods, rows, sizeof(rows) / sizeof(rows[0]));

	assert_int_equal(k8s_pods_by_uid(pods, "2c48913c-b29f-11e7-9350-020968147796", &pod, err),
			 0);
	assert_int_equal(k8s_pod_container_by_name(pod, "blog", &ref), 0);
	assert_int_equal(ref.kind, K8S_CONTAINER);
	assert_non_null(ref.spec);
	assert_string_equal(ref.spec->image, "localhost/spiffe/blog:latest");
	assert_non_null(ref.status);
	assert_null(ref.status->container_id);
	assert_null(ref.status->runtime);
	assert_string_equal(ref.status->state, "waiting");
	assert_string_equal(ref.status->image_id,
			    "docker-pullable://localhost/spiffe/blog@sha256:"
			    "0cfdaced91cb46dd7af48309799a3c351e4ca2d5e1ee9737ca0cbd932cb79898");
	assert_int_equal(k8s_pod_container_by_name(pod, "nope", &ref), -ENOENT);
	assert_null(ref.spec);
	assert_null(ref.status);

	assert_int_equal(k8s_pods_by_uid(pods, "d488cae9-b2a0-11e7-9350-020968147796", &pod, err),
			 0);
	assert_int_equal(k8s_pod_container_by_name(pod, "install-cni", &ref), 0);
	assert_int_equal(ref.kind, K8S_INIT_CONTAINER);
	assert_string_equal(ref.status->container_id,
			    "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41");
	k8s_pods_free(pods);
}

static void test_crio_and_kind(void **state)
{
	static const char *const files[] = {"crio_pod_list.json", "kind_pod_list.json"};
	static const char *const ns[] = {"sfh-199", "default"};
	static const char *const node[] = {"a37b7d23-d32a-4932-8f33-40950ac16ee9",
					   "kind-control-plane"};

	for (size_t i = 0; i < 2; i++) {
		const struct k8s_pod *pod;
		struct k8s_container_ref ref;
		struct k8s_pods *pods;
		char err[256];

		FIXTURE_OR_SKIP(pods, files[i]);
		print_message("%s\n", files[i]);
		assert_int_equal(k8s_pods_count(pods), 1);
		assert_int_equal(
			k8s_pods_by_container_id(
				pods,
				"09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6",
				&pod, &ref, err),
			0);
		assert_string_equal(pod->ns, ns[i]);
		assert_string_equal(pod->node_name, node[i]);
		assert_string_equal(pod->name, "sample-workload-6658cb9566-5n4b4");
		assert_string_equal(pod->uid, "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80");
		assert_string_equal(ref.status->runtime, "containerd");
		assert_string_equal(ref.status->name, "workload-api-client");
		assert_string_equal(ref.status->image, "gcr.io/spiffe-io/spire-agent:0.8.1");
		assert_string_equal(
			ref.status->image_id,
			"gcr.io/spiffe-io/spire-agent@sha256:"
			"1e4c481d76e9ecbd3d8684891e0e46aa021a30920ca04936e1fdcc552747d941");
		assert_int_equal(pod->n_owners, 1);
		assert_string_equal(pod->owners[0].kind, "ReplicaSet");
		assert_string_equal(pod->owners[0].name, "sample-workload-6658cb9566");
		assert_string_equal(pod->owners[0].uid, "349d135e-3781-43e3-bc25-c900aedf1d0c");
		assert_int_equal(pod->n_labels, 2);
		assert_string_equal(pod->labels[1].key, "pod-template-hash");
		assert_string_equal(pod->labels[1].value, "6658cb9566");
		k8s_pods_free(pods);
	}
}

/* Two pods claim one container ID: that lookup fails naming both, the pods themselves work. */
static void test_duplicate_container_id(void **state)
{
	struct k8s_pods *pods;
	const struct k8s_pod *pod = (void *)1;
	struct k8s_container_ref ref;
	char err[256];

	FIXTURE_OR_SKIP(pods, "crio_pod_list_duplicate_containerId.json");
	assert_int_equal(k8s_pods_count(pods), 2);
	assert_int_equal(k8s_pods_by_container_id(
				 pods,
				 "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6",
				 &pod, &ref, err),
			 -ENOTUNIQ);
	assert_null(pod);
	assert_null(ref.status);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "claimed more than once"));
	assert_non_null(strstr(err, "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"));
	assert_non_null(strstr(err, "72631393-dd79-49e5-8450-f68d930b93b4"));
	assert_int_equal(k8s_pods_by_uid(pods, "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80", &pod, err),
			 0);
	assert_int_equal(k8s_pods_by_uid(pods, "72631393-dd79-49e5-8450-f68d930b93b4", &pod, err),
			 0);
	assert_string_equal(pod->name, "sample-workload-6658cb9566-5n4b4");
	k8s_pods_free(pods);
}

/* ---- hand-written lists ----------------------------------------------------------------- */

#define POD(uid, extra)		"{\"metadata\":{\"uid\":\"" uid "\",\"name\":\"p-" uid "\"}" extra "}"
#define STATUS(phase, statuses) ",\"status\":{\"phase\":\"" phase "\"" statuses "}"
#define CS(list, name, cid)	",\"" list "\":[{\"name\":\"" name "\",\"containerID\":\"" cid "\"}]"

static void test_phases_and_dropped(void **state)
{
	static const char json[] = "{\"kind\":\"PodList\",\"items\":["
		/* 0 */ POD("u0",
			    STATUS("Succeeded", CS("containerStatuses", "c", "containerd://a"))) ","
		/* 1 */ POD("u1",
			    STATUS("Failed", CS("containerStatuses", "c", "containerd://b"))) ","
		/* 2 */ POD("u2",
			    STATUS("Running", CS("containerStatuses", "c", "containerd://a"))) ","
		/* 3 */ POD(
			"u3",
			STATUS("Pending",
			       CS("initContainerStatuses", "i",
				  "cri-o://c"))) ","
						 /* 4: no UID */ "{\"metadata\":{\"name\":\"x\"}}"
						 ","
						 /* 5: empty UID */ "{\"metadata\":{\"uid\":\"\"}}"
						 ","
		/* 6: no phase */ POD("u6", "") "]}";
	static const struct cid_row rows[] = {
		{"terminated pod's twin does not conflict", "a", 0, "p-u2", "c", K8S_CONTAINER,
		 NULL},
		{"failed pod dropped", "b", -ENOENT, NULL, NULL, 0, NULL},
		{"pending pod's init container", "c", 0, "p-u3", "i", K8S_INIT_CONTAINER, NULL},
	};
	struct k8s_pods *pods = parse_ok(json);
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	char err[256];

	assert_int_equal(k8s_pods_count(pods), 3);
	assert_int_equal(k8s_pods_dropped(pods), 4);
	assert_int_equal(k8s_pods_by_uid(pods, "u0", &pod, err), -ENOENT);
	assert_string_equal(err, "pod list: no pod with UID u0");
	assert_int_equal(k8s_pods_by_uid(pods, "u6", &pod, err), 0);
	assert_null(pod->phase);
	assert_null(pod->ns);
	assert_int_equal(k8s_pods_by_container_id(pods, "c", &pod, &ref, err), 0);
	assert_string_equal(ref.status->runtime, "cri-o");
	/* a status without a spec entry (never from a kubelet) */
	assert_null(ref.spec);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct k8s_pod *p;

		print_message("%s\n", rows[i].name);
		assert_int_equal(k8s_pods_by_container_id(pods, rows[i].id, &p, &ref, err),
				 rows[i].want);
		if (rows[i].want == 0) {
			assert_string_equal(p->name, rows[i].pod);
			assert_int_equal(ref.kind, rows[i].kind);
		}
	}
	k8s_pods_free(pods);
}

static void test_empty_lists(void **state)
{
	static const char *const rows[] = {
		"{}",
		"{\"items\":null}",
		"{\"items\":[]}",
		"{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[]}",
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct k8s_pods *pods = parse_ok(rows[i]);
		const struct k8s_pod *pod;
		struct k8s_container_ref ref;
		char err[256];

		print_message("%s\n", rows[i]);
		assert_int_equal(k8s_pods_count(pods), 0);
		assert_int_equal(k8s_pods_by_uid(pods, "x", &pod, err), -ENOENT);
		assert_int_equal(k8s_pods_by_container_id(pods, "x", &pod, &ref, err), -ENOENT);
		k8s_pods_free(pods);
	}
}

static void test_nulls_and_ephemeral(void **state)
{
	static const char json[] =
		"{\"items\":[{\"metadata\":{\"uid\":\"u\",\"namespace\":\"n\",\"name\":\"p\","
		"\"labels\":null,\"annotations\":{},\"ownerReferences\":null},"
		"\"spec\":{\"serviceAccountName\":null,\"containers\":[{\"name\":\"a\","
		"\"image\":\"img\"}],\"ephemeralContainers\":[{\"name\":\"debug\","
		"\"image\":\"busybox\"}]},"
		"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\","
		"\"containerID\":\"\",\"state\":{\"waiting\":{}}}],"
		"\"ephemeralContainerStatuses\":[{\"name\":\"debug\",\"image\":\"busybox\","
		"\"imageID\":\"docker.io/library/busybox@sha256:00\",\"containerID\":"
		"\"containerd://e1\",\"state\":{\"waiting\":null,\"running\":{}}}]}}]}";
	struct k8s_pods *pods = parse_ok(json);
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	char err[256];

	assert_int_equal(k8s_pods_by_container_id(pods, "e1", &pod, &ref, err), 0);
	assert_int_equal(ref.kind, K8S_EPHEMERAL_CONTAINER);
	assert_string_equal(ref.spec->image, "busybox");
	assert_string_equal(ref.status->state, "running");
	assert_null(pod->labels);
	assert_int_equal(pod->n_labels, 0);
	assert_int_equal(pod->n_annotations, 0);
	assert_int_equal(pod->n_owners, 0);
	assert_null(pod->service_account);
	assert_null(pod->node_name);
	/* containerID "" is "no container ID yet" */
	assert_null(pod->status[K8S_CONTAINER][0].container_id);
	assert_string_equal(pod->status[K8S_CONTAINER][0].state, "waiting");
	assert_int_equal(k8s_pod_container_by_name(pod, "debug", &ref), 0);
	assert_int_equal(ref.kind, K8S_EPHEMERAL_CONTAINER);
	assert_string_equal(k8s_container_kind_name(K8S_EPHEMERAL_CONTAINER),
			    "ephemeral container");
	k8s_pods_free(pods);
}

static void test_duplicates_hand_written(void **state)
{
	static const char json[] = "{\"items\":[" POD(
		"same",
		STATUS("Running",
		       CS("containerStatuses", "c",
			  "docker://x"))) "," POD("same",
						  STATUS("Running",
							 CS("containerStatuses", "c",
							    "docker://y"))) ","
									    "{\"metadata\":{"
									    "\"uid\":\"twice\"},"
									    "\"status\":{"
									    "\"containerStatuses\":"
									    "["
									    "{\"name\":\"a\","
									    "\"containerID\":"
									    "\"docker://"
									    "z\"}],"
									    "\"initContainerStatuse"
									    "s\":["
									    "{\"name\":\"b\","
									    "\"containerID\":"
									    "\"containerd://z\"}]}}"
									    "]}";
	struct k8s_pods *pods = parse_ok(json);
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	char err[256];

	assert_int_equal(k8s_pods_by_uid(pods, "same", &pod, err), -ENOTUNIQ);
	assert_string_equal(err, "pod list: two pods carry UID same (?/p-same and ?/p-same)");
	assert_int_equal(k8s_pods_by_uid(pods, "twice", &pod, err), 0);
	/* the containers of the two same-UID pods are distinct and still found */
	assert_int_equal(k8s_pods_by_container_id(pods, "x", &pod, &ref, err), 0);
	assert_int_equal(k8s_pods_by_container_id(pods, "y", &pod, &ref, err), 0);
	/* one pod listing an ID twice is as ambiguous as two pods */
	assert_int_equal(k8s_pods_by_container_id(pods, "z", &pod, &ref, err), -ENOTUNIQ);
	assert_string_equal(err,
			    "pod list: container ID z is claimed more than once (pod UIDs twice "
			    "and twice)");
	k8s_pods_free(pods);
}

static void test_errors(void **state)
{
	static const struct {
		const char *name, *json;
		int want;
		const char *err; /* exact, or a prefix when it ends in '*' */
	} rows[] = {
		{"not JSON", "{", -EPROTO, "pod list: invalid JSON at line 1*"},
		{"empty input", "", -EPROTO, "pod list: invalid JSON*"},
		{"trailing garbage", "{} x", -EPROTO, "pod list: invalid JSON*"},
		{"duplicate key", "{\"items\":[],\"items\":[]}", -EPROTO,
		 "pod list: invalid JSON at line 1 column 19: duplicate object key*"},
		{"array root", "[]", -EPROTO, "pod list: not a JSON object"},
		{"items object", "{\"items\":{}}", -EPROTO, "pod list: $.items: not an array"},
		{"item number", "{\"items\":[1]}", -EPROTO, "pod list: items[0]: not an object"},
		{"no metadata", "{\"items\":[{}]}", -EPROTO,
		 "pod list: items[0].metadata: missing"},
		{"metadata string", "{\"items\":[{\"metadata\":\"x\"}]}", -EPROTO,
		 "pod list: items[0].metadata: not an object"},
		{"spec array", "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"spec\":[]}]}", -EPROTO,
		 "pod list: items[0].spec: not an object"},
		{"uid number at 3",
		 "{\"items\":[" POD("a", "") "," POD("b", "") "," POD(
			 "c", "") ",{\"metadata\":{\"uid\":7}}]}",
		 -EPROTO, "pod list: items[3].metadata.uid: not a string"},
		{"phase number", "{\"items\":[{\"metadata\":{},\"status\":{\"phase\":1}}]}",
		 -EPROTO, "pod list: items[0].status.phase: not a string"},
		{"namespace bool",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"namespace\":true}}]}", -EPROTO,
		 "pod list: items[0].metadata.namespace: not a string"},
		{"label value number",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"labels\":{\"app\":1}}}]}", -EPROTO,
		 "pod list: items[0].metadata.labels[app]: not a string"},
		{"annotations array",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"annotations\":[]}}]}", -EPROTO,
		 "pod list: items[0].metadata.annotations: not an object"},
		{"owner no kind",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"ownerReferences\":[{\"name\":\"n\","
		 "\"uid\":\"o\"}]}}]}",
		 -EPROTO, "pod list: items[0].metadata.ownerReferences[0].kind: missing"},
		{"owner not object",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"ownerReferences\":[\"x\"]}}]}",
		 -EPROTO, "pod list: items[0].metadata.ownerReferences[0]: not an object"},
		{"sa number",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"spec\":{"
		 "\"serviceAccountName\":5}}]}",
		 -EPROTO, "pod list: items[0].spec.serviceAccountName: not a string"},
		{"containers object",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"spec\":{"
		 "\"containers\":{}}}]}",
		 -EPROTO, "pod list: items[0].spec.containers: not an array"},
		{"container no name",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"spec\":{"
		 "\"initContainers\":[{\"image\":\"i\"}]}}]}",
		 -EPROTO, "pod list: items[0].spec.initContainers[0].name: missing"},
		{"status image number",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"containerStatuses\":[{\"name\":\"a\",\"image\":1}]}}]}",
		 -EPROTO, "pod list: items[0].status.containerStatuses[0].image: not a string"},
		{"state string",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"containerStatuses\":[{\"name\":\"a\",\"state\":\"x\"}]}}]}",
		 -EPROTO, "pod list: items[0].status.containerStatuses[0].state: not an object"},
		{"cid no scheme",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"initContainerStatuses\":[{\"name\":\"a\",\"containerID\":"
		 "\"abc\"}]}}]}",
		 -EPROTO,
		 "pod list: items[0].status.initContainerStatuses[0].containerID: no runtime "
		 "scheme "
		 "(want <runtime>://<id>)"},
		{"cid empty scheme",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"containerStatuses\":[{\"name\":\"a\",\"containerID\":"
		 "\"://abc\"}]}}]}",
		 -EPROTO,
		 "pod list: items[0].status.containerStatuses[0].containerID: no runtime scheme "
		 "(want <runtime>://<id>)"},
		{"cid bad scheme",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"containerStatuses\":[{\"name\":\"a\",\"containerID\":"
		 "\"Dock er://abc\"}]}}]}",
		 -EPROTO,
		 "pod list: items[0].status.containerStatuses[0].containerID: bad runtime "
		 "scheme"},
		{"cid empty id",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"ephemeralContainerStatuses\":[{\"name\":\"a\",\"containerID\":"
		 "\"docker://\"}]}}]}",
		 -EPROTO,
		 "pod list: items[0].status.ephemeralContainerStatuses[0].containerID: bad "
		 "container id"},
		{"cid slash",
		 "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		 "\"containerStatuses\":[{\"name\":\"a\",\"containerID\":"
		 "\"docker://a/b\"}]}}]}",
		 -EPROTO,
		 "pod list: items[0].status.containerStatuses[0].containerID: bad container id"},
		{"NUL escape", "{\"items\":[{\"metadata\":{\"uid\":\"a\\u0000b\"}}]}", -EPROTO,
		 "pod list: invalid JSON*"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct k8s_pods *pods = (void *)1;
		char err[256];
		size_t n = strlen(rows[i].err);

		print_message("%s\n", rows[i].name);
		assert_int_equal(k8s_pods_parse(rows[i].json, strlen(rows[i].json), &pods, err),
				 rows[i].want);
		assert_null(pods);
		if (rows[i].err[n - 1] == '*')
			assert_memory_equal(err, rows[i].err, n - 1);
		else
			assert_string_equal(err, rows[i].err);
	}
}

/* Appends to a growing buffer; the test's own helper. */
static void sb_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	while (*len + (size_t)n + 1 > *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	va_start(ap, fmt);
	vsnprintf(*buf + *len, *cap - *len, fmt, ap);
	va_end(ap);
	*len += (size_t)n;
}

static void test_limits(void **state)
{
	struct k8s_pods *pods = (void *)1;
	char err[256], *buf = NULL;
	size_t len = 0, cap = 0;

	/* size: checked before anything is read */
	assert_int_equal(k8s_pods_parse("{}", K8S_PODS_MAX_BYTES + 1, &pods, err), -E2BIG);
	assert_null(pods);
	assert_string_equal(err, "pod list: 67108865 bytes, more than the limit of 67108864");

	/* pods */
	sb_printf(&buf, &len, &cap, "{\"items\":[");
	for (int i = 0; i <= K8S_PODS_MAX_PODS; i++)
		sb_printf(&buf, &len, &cap, "%s{}", i ? "," : "");
	sb_printf(&buf, &len, &cap, "]}");
	assert_int_equal(k8s_pods_parse(buf, len, &pods, err), -E2BIG);
	assert_string_equal(err, "pod list: $.items: more than 4096 entries");

	/* owners: at the limit fine, one more too many */
	for (int extra = 0; extra <= 1; extra++) {
		len = 0;
		sb_printf(&buf, &len, &cap,
			  "{\"items\":[{\"metadata\":{\"uid\":\"u\","
			  "\"ownerReferences\":[");
		for (int i = 0; i < K8S_PODS_MAX_OWNERS + extra; i++)
			sb_printf(&buf, &len, &cap,
				  "%s{\"kind\":\"K\",\"name\":\"n%d\",\"uid\":\"%d\"}",
				  i ? "," : "", i, i);
		sb_printf(&buf, &len, &cap, "]}}]}");
		assert_int_equal(k8s_pods_parse(buf, len, &pods, err), extra ? -E2BIG : 0);
		if (extra) {
			assert_string_equal(err,
					    "pod list: items[0].metadata.ownerReferences: more "
					    "than 64 entries");
		} else {
			assert_int_equal(k8s_pods_at(pods, 0)->n_owners, K8S_PODS_MAX_OWNERS);
			k8s_pods_free(pods);
		}
	}

	/* containers */
	len = 0;
	sb_printf(&buf, &len, &cap,
		  "{\"items\":[{\"metadata\":{\"uid\":\"u\"},\"status\":{"
		  "\"containerStatuses\":[");
	for (int i = 0; i <= K8S_PODS_MAX_CONTAINERS; i++)
		sb_printf(&buf, &len, &cap, "%s{\"name\":\"c%d\"}", i ? "," : "", i);
	sb_printf(&buf, &len, &cap, "]}}]}");
	assert_int_equal(k8s_pods_parse(buf, len, &pods, err), -E2BIG);
	assert_string_equal(err,
			    "pod list: items[0].status.containerStatuses: more than 256 entries");

	/* labels */
	len = 0;
	sb_printf(&buf, &len, &cap, "{\"items\":[{\"metadata\":{\"uid\":\"u\",\"labels\":{");
	for (int i = 0; i <= K8S_PODS_MAX_KV; i++)
		sb_printf(&buf, &len, &cap, "%s\"k%d\":\"v\"", i ? "," : "", i);
	sb_printf(&buf, &len, &cap, "}}}]}");
	assert_int_equal(k8s_pods_parse(buf, len, &pods, err), -E2BIG);
	assert_string_equal(err, "pod list: items[0].metadata.labels: more than 4096 entries");

	/* string length: at the limit fine, one more byte too long (value and key) */
	for (int which = 0; which < 3; which++) {
		size_t slen = K8S_PODS_MAX_STRING + (which ? 1 : 0);

		len = 0;
		sb_printf(&buf, &len, &cap,
			  "{\"items\":[{\"metadata\":{\"uid\":\"u\","
			  "\"annotations\":{\"");
		if (which == 2) {
			for (size_t i = 0; i < slen; i++)
				sb_printf(&buf, &len, &cap, "k");
			sb_printf(&buf, &len, &cap, "\":\"v");
		} else {
			sb_printf(&buf, &len, &cap, "k\":\"");
			for (size_t i = 0; i < slen; i++)
				sb_printf(&buf, &len, &cap, "v");
		}
		sb_printf(&buf, &len, &cap, "\"}}}]}");
		print_message("string limit case %d\n", which);
		assert_int_equal(k8s_pods_parse(buf, len, &pods, err), which ? -E2BIG : 0);
		if (which == 0) {
			assert_int_equal(strlen(k8s_pods_at(pods, 0)->annotations[0].value),
					 K8S_PODS_MAX_STRING);
			k8s_pods_free(pods);
		} else if (which == 1) {
			assert_string_equal(err, "pod list: items[0].metadata.annotations: longer "
						 "than 262144 bytes");
		} else {
			assert_string_equal(err, "pod list: items[0].metadata.annotations: key "
						 "longer than 262144 bytes");
		}
	}
	free(buf);
}

/* Input need not be NUL-terminated: parse an exact-size heap copy. */
static void test_not_nul_terminated(void **state)
{
	static const char json[] =
		POD("u", STATUS("Running", CS("containerStatuses", "c", "docker://abc")));
	char wrapped[256];
	struct k8s_pods *pods;
	char err[256];
	char *copy;
	int n;

	n = snprintf(wrapped, sizeof(wrapped), "{\"items\":[%s]}", json);
	copy = malloc((size_t)n);
	memcpy(copy, wrapped, (size_t)n);
	assert_int_equal(k8s_pods_parse(copy, (size_t)n, &pods, err), 0);
	assert_int_equal(k8s_pods_count(pods), 1);
	k8s_pods_free(pods);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_list_fields),
		cmocka_unit_test(test_pod_list_by_container_id),
		cmocka_unit_test(test_pod_list_by_uid),
		cmocka_unit_test(test_pod_list_not_running),
		cmocka_unit_test(test_crio_and_kind),
		cmocka_unit_test(test_duplicate_container_id),
		cmocka_unit_test(test_phases_and_dropped),
		cmocka_unit_test(test_empty_lists),
		cmocka_unit_test(test_nulls_and_ephemeral),
		cmocka_unit_test(test_duplicates_hand_written),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_nul_terminated),
	};

	return cmocka_run_group_tests_name("k8s_pods", tests, NULL, NULL);
}
