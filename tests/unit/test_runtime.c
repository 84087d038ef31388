// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_runtime.c - container runtime metadata: the config.json parser (table-driven, both
 * runtimes) and runtime_lookup on state trees this test writes (containerd and CRI-O layouts,
 * symlinks, FIFOs, oversize files, bad IDs).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "attest/runtime.h"

#define ID_A   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_B   "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define NAME63 "a123456789b123456789c123456789d123456789e123456789f123456789z12"
#define UID    "7c8e1f3a-2b4d-4e6f-8a9b-0c1d2e3f4a5b"

/* containerd 1.6 CRI annotations of a workload container, and of its sandbox. */
#define CTRD_CONTAINER                                                           \
	"{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"/bin/sleep\"]}," \
	"\"annotations\":{"                                                      \
	"\"io.kubernetes.cri.container-type\":\"container\","                    \
	"\"io.kubernetes.cri.container-name\":\"web\","                          \
	"\"io.kubernetes.cri.sandbox-id\":\"" ID_B "\","                         \
	"\"io.kubernetes.cri.sandbox-name\":\"web-7d4b9c-x2x9q\","               \
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","                      \
	"\"io.kubernetes.cri.sandbox-uid\":\"" UID "\","                         \
	"\"io.kubernetes.cri.image-name\":\"ghcr.io/acme/web:1.2\"}}"
#define CTRD_SANDBOX                                               \
	"{\"annotations\":{"                                       \
	"\"io.kubernetes.cri.container-type\":\"sandbox\","        \
	"\"io.kubernetes.cri.sandbox-id\":\"" ID_B "\","           \
	"\"io.kubernetes.cri.sandbox-name\":\"web-7d4b9c-x2x9q\"," \
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","        \
	"\"io.kubernetes.cri.sandbox-uid\":\"" UID "\","           \
	"\"io.kubernetes.cri.sandbox-log-directory\":\"/var/log/pods/x\"}}"
/* CRI-O: its own annotations plus the kubelet's labels, copied into the annotations. */
#define CRIO_CONTAINER                                                                       \
	"{\"annotations\":{"                                                                 \
	"\"io.kubernetes.cri-o.ContainerType\":\"container\","                               \
	"\"io.kubernetes.cri-o.ContainerName\":\"k8s_web_web-7d4b9c-x2x9q_prod_" UID "_0\"," \
	"\"io.kubernetes.cri-o.SandboxID\":\"" ID_B "\","                                    \
	"\"io.kubernetes.cri-o.ImageName\":\"quay.io/acme/web:1.2\","                        \
	"\"io.kubernetes.cri-o.Image\":\"sha256:" ID_A "\","                                 \
	"\"io.kubernetes.container.name\":\"web\","                                          \
	"\"io.kubernetes.pod.name\":\"web-7d4b9c-x2x9q\","                                   \
	"\"io.kubernetes.pod.namespace\":\"prod\","                                          \
	"\"io.kubernetes.pod.uid\":\"" UID "\"}}"

/* ---- the parser ---------------------------------------------------------------------------- */

struct parse_row {
	const char *name;
	enum runtime_kind kind;
	const char *json;
	int want;
	bool sandbox;
	const char *container_name, *pod_uid, *pod_name, *ns, *image, *sandbox_id;
	const char *err_has; /* a substring of err on failure */
};

static void check_parse_row(const struct parse_row *r)
{
	struct runtime_container c;
	char err[256] = "";
	int ret;

	memset(&c, 0xa5, sizeof(c));
	ret = runtime_parse_config(r->json, strlen(r->json), r->kind, "t.json", &c, err);
	if (ret != r->want)
		fail_msg("%s: got %d (%s), want %d", r->name, ret, err, r->want);
	if (ret != 0) {
		assert_non_null(strstr(err, "t.json"));
		if (r->err_has && !strstr(err, r->err_has))
			fail_msg("%s: err \"%s\" lacks \"%s\"", r->name, err, r->err_has);
		return;
	}
	assert_int_equal(c.runtime, r->kind);
	if (c.sandbox != r->sandbox)
		fail_msg("%s: sandbox %d", r->name, c.sandbox);
	assert_string_equal(c.container_name, r->container_name);
	assert_string_equal(c.pod_uid, r->pod_uid);
	assert_string_equal(c.pod_name, r->pod_name);
	assert_string_equal(c.pod_namespace, r->ns);
	assert_string_equal(c.image, r->image);
	assert_string_equal(c.sandbox_id, r->sandbox_id);
}

/* {"annotations":{ <type>, <body> }} for containerd. */
#define CTRD(body) "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\"," body "}}"
#define CTRD_REQ                                         \
	"\"io.kubernetes.cri.sandbox-uid\":\"" UID "\"," \
	"\"io.kubernetes.cri.sandbox-name\":\"p\","      \
	"\"io.kubernetes.cri.sandbox-namespace\":\"ns\""

static void test_parse(void **state)
{
	static const struct parse_row rows[] = {
		{"containerd container", RUNTIME_CONTAINERD, CTRD_CONTAINER, 0, false, "web", UID,
		 "web-7d4b9c-x2x9q", "prod", "ghcr.io/acme/web:1.2", ID_B, NULL},
		{"containerd sandbox", RUNTIME_CONTAINERD, CTRD_SANDBOX, 0, true, "", UID,
		 "web-7d4b9c-x2x9q", "prod", "", ID_B, NULL},
		{"cri-o container", RUNTIME_CRIO, CRIO_CONTAINER, 0, false, "web", UID,
		 "web-7d4b9c-x2x9q", "prod", "quay.io/acme/web:1.2", ID_B, NULL},
		{"cri-o sandbox", RUNTIME_CRIO,
		 "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		 "\"io.kubernetes.container.name\":\"POD\",\"io.kubernetes.pod.name\":\"p\","
		 "\"io.kubernetes.pod.namespace\":\"ns\",\"io.kubernetes.pod.uid\":\"" UID "\"}}",
		 0, true, "", UID, "p", "ns", "", "", NULL},
		{"cri-o image id when no image name", RUNTIME_CRIO,
		 "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
		 "\"io.kubernetes.cri-o.Image\":\"sha256:" ID_A "\","
		 "\"io.kubernetes.container.name\":\"c\",\"io.kubernetes.pod.name\":\"p\","
		 "\"io.kubernetes.pod.namespace\":\"ns\",\"io.kubernetes.pod.uid\":\"" UID "\"}}",
		 0, false, "c", UID, "p", "ns", "sha256:" ID_A, "", NULL},
		{"optional image and sandbox id absent", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\"," CTRD_REQ), 0, false, "c", UID,
		 "p", "ns", "", "", NULL},
		{"static pod uid (hash)", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"etcd\","
		      "\"io.kubernetes.cri.sandbox-uid\":\"9f1d2a6c0b3e4d5f8a7b6c5d4e3f2a1b\","
		      "\"io.kubernetes.cri.sandbox-name\":\"etcd-node-1\","
		      "\"io.kubernetes.cri.sandbox-namespace\":\"kube-system\""),
		 0, false, "etcd", "9f1d2a6c0b3e4d5f8a7b6c5d4e3f2a1b", "etcd-node-1", "kube-system",
		 "", "", NULL},
		{"other annotations and fields ignored", RUNTIME_CONTAINERD,
		 "{\"x\":[1,2,{\"y\":null}],\"annotations\":{\"io.kubernetes.cri.container-type\":"
		 "\"container\",\"a\":\"b\",\"n\":5,\"io.kubernetes.cri.container-name\":"
		 "\"c\"," CTRD_REQ "}}",
		 0, false, "c", UID, "p", "ns", "", "", NULL},

		/* not Kubernetes containers */
		{"no annotations", RUNTIME_CONTAINERD, "{\"ociVersion\":\"1.0.2\"}", -ENODATA,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"null annotations", RUNTIME_CONTAINERD, "{\"annotations\":null}", -ENODATA, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"no container type", RUNTIME_CONTAINERD,
		 "{\"annotations\":{\"io.kubernetes.cri.container-name\":\"c\"}}", -ENODATA, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, "io.kubernetes.cri.container-type"},
		{"containerd file read as cri-o", RUNTIME_CRIO, CTRD_CONTAINER, -ENODATA, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"cri-o file read as containerd", RUNTIME_CONTAINERD, CRIO_CONTAINER, -ENODATA,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},

		/* malformed */
		{"empty", RUNTIME_CONTAINERD, "", -EPROTO, false, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL},
		{"truncated", RUNTIME_CONTAINERD, "{\"annotations\":{\"io.kubernetes.cri.con",
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"not an object", RUNTIME_CONTAINERD, "[1,2]", -EPROTO, false, NULL, NULL, NULL,
		 NULL, NULL, NULL, "not a JSON object"},
		{"trailing garbage", RUNTIME_CONTAINERD, "{} x", -EPROTO, false, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL},
		{"annotations not an object", RUNTIME_CONTAINERD, "{\"annotations\":[]}", -EPROTO,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, "annotations"},
		{"duplicate key", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"a\","
		      "\"io.kubernetes.cri.container-name\":\"b\"," CTRD_REQ),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "duplicate"},
		{"duplicate annotations object", RUNTIME_CONTAINERD,
		 "{\"annotations\":{},\"annotations\":{}}", -EPROTO, false, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL},
		{"unknown container type", RUNTIME_CONTAINERD,
		 "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"podman\"}}", -EPROTO,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, "container-type"},
		{"container type not a string", RUNTIME_CONTAINERD,
		 "{\"annotations\":{\"io.kubernetes.cri.container-type\":1}}", -EPROTO, false, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"missing container name", RUNTIME_CONTAINERD, CTRD(CTRD_REQ), -EPROTO, false, NULL,
		 NULL, NULL, NULL, NULL, NULL, "io.kubernetes.cri.container-name\"]: missing"},
		{"missing pod uid", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-name\":\"p\","
		      "\"io.kubernetes.cri.sandbox-namespace\":\"ns\""),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "sandbox-uid"},
		{"missing pod name", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-uid\":\"" UID "\","
		      "\"io.kubernetes.cri.sandbox-namespace\":\"ns\""),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "sandbox-name"},
		{"missing namespace", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-uid\":\"" UID "\","
		      "\"io.kubernetes.cri.sandbox-name\":\"p\""),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "sandbox-namespace"},
		{"null container name", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":null," CTRD_REQ), -EPROTO, false, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name not a string", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":[\"c\"]," CTRD_REQ), -EPROTO, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, "not a string"},
		{"empty container name", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"\"," CTRD_REQ), -EPROTO, false, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL},
		{"uppercase container name", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"Web\"," CTRD_REQ), -EPROTO, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name with slash", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"a/b\"," CTRD_REQ), -EPROTO, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name with dot", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"a.b\"," CTRD_REQ), -EPROTO, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name leading dash", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"-a\"," CTRD_REQ), -EPROTO, false,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name 64 chars", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"" ID_A "\"," CTRD_REQ), -EPROTO,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"container name 63 chars", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"" NAME63 "\"," CTRD_REQ), 0, false,
		 NAME63, UID, "p", "ns", "", "", NULL},
		{"container name with NUL escape", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"a\\u0000b\"," CTRD_REQ), -EPROTO,
		 false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"pod uid with slash", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-uid\":\"../x\","
		      "\"io.kubernetes.cri.sandbox-name\":\"p\","
		      "\"io.kubernetes.cri.sandbox-namespace\":\"ns\""),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"pod name with double dot", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-uid\":\"" UID "\","
		      "\"io.kubernetes.cri.sandbox-name\":\"a..b\","
		      "\"io.kubernetes.cri.sandbox-namespace\":\"ns\""),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
		{"image with space", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.image-name\":\"a b\"," CTRD_REQ),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "image-name"},
		{"sandbox id not hex", RUNTIME_CONTAINERD,
		 CTRD("\"io.kubernetes.cri.container-name\":\"c\","
		      "\"io.kubernetes.cri.sandbox-id\":\"xyz\"," CTRD_REQ),
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "sandbox-id"},
		{"cri-o missing pod uid", RUNTIME_CRIO,
		 "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
		 "\"io.kubernetes.container.name\":\"c\",\"io.kubernetes.pod.name\":\"p\","
		 "\"io.kubernetes.pod.namespace\":\"ns\"}}",
		 -EPROTO, false, NULL, NULL, NULL, NULL, NULL, NULL, "io.kubernetes.pod.uid"},
		{"unknown kind", RUNTIME_NONE, CTRD_CONTAINER, -EINVAL, false, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_parse_row(&rows[i]);
}

/* Not NUL-terminated, and exactly at / past the size limit. */
static void test_parse_bounds(void **state)
{
	struct runtime_container c;
	char err[256];
	size_t n = strlen(CTRD_CONTAINER);
	char *buf = malloc(RUNTIME_CONFIG_MAX + 1);

	assert_non_null(buf);
	memcpy(buf, CTRD_CONTAINER, n); /* no NUL after it */
	assert_int_equal(runtime_parse_config(buf, n, RUNTIME_CONTAINERD, NULL, &c, err), 0);
	assert_string_equal(c.container_name, "web");

	/* The valid document padded with spaces to exactly the limit parses; one more byte not. */
	memset(buf + n, ' ', RUNTIME_CONFIG_MAX + 1 - n);
	assert_int_equal(
		runtime_parse_config(buf, RUNTIME_CONFIG_MAX, RUNTIME_CONTAINERD, "big", &c, err),
		0);
	assert_int_equal(runtime_parse_config(buf, RUNTIME_CONFIG_MAX + 1, RUNTIME_CONTAINERD,
					      "big", &c, err),
			 -EFBIG);
	assert_non_null(strstr(err, "big"));

	/* Deep nesting is refused by the JSON parser, not a stack overflow. */
	memset(buf, '[', RUNTIME_CONFIG_MAX);
	assert_int_equal(
		runtime_parse_config(buf, RUNTIME_CONFIG_MAX, RUNTIME_CONTAINERD, "deep", &c, err),
		-EPROTO);
	free(buf);
}

static void test_id_valid(void **state)
{
	static const struct {
		const char *id;
		bool ok;
	} rows[] = {
		{ID_A, true},
		{ID_B, true},
		{"", false},
		{"../x", false},
		{ID_A "0", false},
		{"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd/.", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (runtime_id_valid(rows[i].id) != rows[i].ok)
			fail_msg("id \"%s\": want %d", rows[i].id, rows[i].ok);
	}
	assert_false(runtime_id_valid(NULL));
	assert_string_equal(runtime_kind_name(RUNTIME_CONTAINERD), "containerd");
	assert_string_equal(runtime_kind_name(RUNTIME_CRIO), "cri-o");
	assert_string_equal(runtime_kind_name(RUNTIME_NONE), "none");
}

/* ---- runtime_lookup on a state tree -------------------------------------------------------- */

struct tree {
	char root[64];
	char containerd[128];
	char crio[128];
};

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			(void)mkdir(buf, 0755);
			*p = '/';
		}
	}
	(void)mkdir(buf, 0755);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void ctrd_bundle(const struct tree *t, const char *id, char *dir, size_t dir_len)
{
	snprintf(dir, dir_len, "%s/io.containerd.runtime.v2.task/k8s.io/%s", t->containerd, id);
}

static void put_ctrd(const struct tree *t, const char *id, const char *json)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	ctrd_bundle(t, id, dir, sizeof(dir));
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	write_file(path, json, strlen(json));
}

static void put_crio(const struct tree *t, const char *driver, const char *id, const char *json)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/%s/%s/userdata", t->crio, driver, id);
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	write_file(path, json, strlen(json));
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->root, sizeof(t->root), "/tmp/test_runtime.XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	snprintf(t->containerd, sizeof(t->containerd), "%s/containerd", t->root);
	snprintf(t->crio, sizeof(t->crio), "%s/storage", t->root);
	mkdirs(t->containerd);
	mkdirs(t->crio);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static int lookup(const struct tree *t, const char *id, struct runtime_container *c, char *err)
{
	struct runtime_paths p = {.containerd_state = t->containerd, .crio_state = t->crio};

	memset(c, 0, sizeof(*c));
	return runtime_lookup(&p, id, c, err);
}

static void test_lookup_containerd(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	char err[256];

	put_ctrd(t, ID_A, CTRD_CONTAINER);
	assert_int_equal(lookup(t, ID_A, &c, err), 0);
	assert_int_equal(c.runtime, RUNTIME_CONTAINERD);
	assert_false(c.sandbox);
	assert_string_equal(c.container_name, "web");
	assert_string_equal(c.pod_uid, UID);
	assert_string_equal(c.pod_name, "web-7d4b9c-x2x9q");
	assert_string_equal(c.pod_namespace, "prod");
	assert_string_equal(c.image, "ghcr.io/acme/web:1.2");

	put_ctrd(t, ID_B, CTRD_SANDBOX);
	assert_int_equal(lookup(t, ID_B, &c, err), 0);
	assert_true(c.sandbox);
	assert_string_equal(c.container_name, "");
	assert_string_equal(c.pod_uid, UID);
}

static void test_lookup_crio(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	char err[256];

	put_crio(t, "overlay-containers", ID_A, CRIO_CONTAINER);
	assert_int_equal(lookup(t, ID_A, &c, err), 0);
	assert_int_equal(c.runtime, RUNTIME_CRIO);
	assert_string_equal(c.container_name, "web");
	assert_string_equal(c.pod_uid, UID);
	assert_string_equal(c.image, "quay.io/acme/web:1.2");

	/* Another storage driver's directory. */
	put_crio(t, "vfs-containers", ID_B, CRIO_CONTAINER);
	assert_int_equal(lookup(t, ID_B, &c, err), 0);
	assert_int_equal(c.runtime, RUNTIME_CRIO);
}

static void test_lookup_order_and_disable(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	struct runtime_paths p = {.containerd_state = t->containerd, .crio_state = ""};
	char err[256];

	put_ctrd(t, ID_A, CTRD_CONTAINER);
	put_crio(t, "overlay-containers", ID_A, CRIO_CONTAINER);
	assert_int_equal(lookup(t, ID_A, &c, err), 0);
	assert_int_equal(c.runtime, RUNTIME_CONTAINERD); /* containerd is looked at first */

	p.containerd_state = "";
	p.crio_state = t->crio;
	assert_int_equal(runtime_lookup(&p, ID_A, &c, err), 0);
	assert_int_equal(c.runtime, RUNTIME_CRIO);

	p.crio_state = "";
	assert_int_equal(runtime_lookup(&p, ID_A, &c, err), -ENOENT);
	assert_non_null(strstr(err, "off"));
}

static void test_lookup_not_found(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	struct runtime_paths missing = {.containerd_state = "/nonexistent/attestd-a",
					.crio_state = "/nonexistent/attestd-b"};
	char err[256];

	assert_int_equal(lookup(t, ID_A, &c, err), -ENOENT);
	assert_non_null(strstr(err, ID_A));
	assert_non_null(strstr(err, t->containerd));
	assert_non_null(strstr(err, t->crio));
	/* The other namespace of containerd is not the CRI's. */
	{
		char dir[PATH_MAX], path[PATH_MAX + 16];

		snprintf(dir, sizeof(dir), "%s/io.containerd.runtime.v2.task/default/%s",
			 t->containerd, ID_A);
		mkdirs(dir);
		snprintf(path, sizeof(path), "%s/config.json", dir);
		write_file(path, CTRD_CONTAINER, strlen(CTRD_CONTAINER));
	}
	assert_int_equal(lookup(t, ID_A, &c, err), -ENOENT);
	/* A bundle directory without config.json (being created) is "not found". */
	{
		char dir[PATH_MAX];

		ctrd_bundle(t, ID_B, dir, sizeof(dir));
		mkdirs(dir);
	}
	assert_int_equal(lookup(t, ID_B, &c, err), -ENOENT);
	assert_int_equal(runtime_lookup(&missing, ID_A, &c, err), -ENOENT);
}

static void test_lookup_bad_ids(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	static const char *const ids[] = {
		"../x",
		"",
		"..",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde/",
		"0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
		ID_A "/../" ID_B,
	};
	char err[256];

	put_ctrd(t, ID_A, CTRD_CONTAINER);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (lookup(t, ids[i], &c, err) != -EINVAL)
			fail_msg("id \"%s\" accepted", ids[i]);
		assert_non_null(strstr(err, "container id"));
	}
	assert_int_equal(lookup(t, NULL, &c, err), -EINVAL);
}

static void test_lookup_symlinks(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	char dir[PATH_MAX], path[PATH_MAX + 16], target[PATH_MAX + 16];
	char err[256];

	/* config.json is a symlink to a valid file elsewhere: refused. */
	snprintf(target, sizeof(target), "%s/elsewhere.json", t->root);
	write_file(target, CTRD_CONTAINER, strlen(CTRD_CONTAINER));
	ctrd_bundle(t, ID_A, dir, sizeof(dir));
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(lookup(t, ID_A, &c, err), -ELOOP);
	assert_non_null(strstr(err, "symlink"));

	/* The bundle directory is a symlink to a real bundle: refused. */
	put_ctrd(t, ID_B, CTRD_CONTAINER);
	ctrd_bundle(t, ID_B, target, sizeof(target));
	snprintf(dir, sizeof(dir), "%s/link-target", t->root);
	assert_int_equal(rename(target, dir), 0);
	assert_int_equal(symlink(dir, target), 0);
	assert_int_equal(lookup(t, ID_B, &c, err), -ELOOP);

	/* The namespace directory is a symlink: refused for every ID. */
	snprintf(dir, sizeof(dir), "%s/io.containerd.runtime.v2.task", t->containerd);
	snprintf(target, sizeof(target), "%s/moved", t->root);
	assert_int_equal(rename(dir, target), 0);
	assert_int_equal(symlink(target, dir), 0);
	assert_int_equal(lookup(t, ID_B, &c, err), -ELOOP);

	/* The configured state directory itself may be a symlink (/var/run -> /run). */
	snprintf(path, sizeof(path), "%s/state-link", t->root);
	assert_int_equal(symlink(t->crio, path), 0);
	put_crio(t, "overlay-containers", ID_A, CRIO_CONTAINER);
	{
		struct runtime_paths p = {.containerd_state = "", .crio_state = path};

		assert_int_equal(runtime_lookup(&p, ID_A, &c, err), 0);
		assert_int_equal(c.runtime, RUNTIME_CRIO);
	}
}

static void test_lookup_bad_files(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	char err[256];
	char *big;

	/* A FIFO named config.json: refused without blocking. */
	ctrd_bundle(t, ID_A, dir, sizeof(dir));
	mkdirs(dir);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(lookup(t, ID_A, &c, err), -EINVAL);
	assert_non_null(strstr(err, "regular"));
	assert_int_equal(unlink(path), 0);

	/* A directory named config.json. */
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(lookup(t, ID_A, &c, err), -EINVAL);
	assert_int_equal(rmdir(path), 0);

	/* Malformed JSON: -EPROTO naming the file. */
	put_ctrd(t, ID_A, "{\"annotations\":");
	assert_int_equal(lookup(t, ID_A, &c, err), -EPROTO);
	assert_non_null(strstr(err, path));

	/* A missing annotation: -EPROTO naming file and field. */
	put_ctrd(t, ID_A, CTRD(CTRD_REQ));
	assert_int_equal(lookup(t, ID_A, &c, err), -EPROTO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "container-name"));

	/* A container not created through the CRI. */
	put_ctrd(t, ID_A, "{\"ociVersion\":\"1.0.2\",\"annotations\":{}}");
	assert_int_equal(lookup(t, ID_A, &c, err), -ENODATA);

	/* Too large. */
	big = malloc(RUNTIME_CONFIG_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', RUNTIME_CONFIG_MAX + 1);
	memcpy(big, CTRD_CONTAINER, strlen(CTRD_CONTAINER));
	write_file(path, big, RUNTIME_CONFIG_MAX + 1);
	assert_int_equal(lookup(t, ID_A, &c, err), -EFBIG);
	write_file(path, big, RUNTIME_CONFIG_MAX); /* exactly the limit is fine */
	assert_int_equal(lookup(t, ID_A, &c, err), 0);
	free(big);

	/* A found-but-broken containerd bundle is reported, not skipped for CRI-O's. */
	put_ctrd(t, ID_A, "[]");
	put_crio(t, "overlay-containers", ID_A, CRIO_CONTAINER);
	assert_int_equal(lookup(t, ID_A, &c, err), -EPROTO);
}

static void test_lookup_unreadable(void **state)
{
	struct tree *t = *state;
	struct runtime_container c;
	struct runtime_paths p = {.containerd_state = t->containerd, .crio_state = ""};
	char path[PATH_MAX];
	char err[256];

	/* A state "directory" that is a file. */
	snprintf(path, sizeof(path), "%s/file", t->root);
	write_file(path, "x", 1);
	p.containerd_state = path;
	assert_int_equal(runtime_lookup(&p, ID_A, &c, err), -ENOTDIR);
	assert_non_null(strstr(err, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_bounds),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test_setup_teardown(test_lookup_containerd, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_crio, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_order_and_disable, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_not_found, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_bad_ids, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_symlinks, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_bad_files, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_unreadable, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
