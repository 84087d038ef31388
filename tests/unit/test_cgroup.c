// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_cgroup.c - pod UID / container ID from cgroup paths and /proc/<pid>/cgroup files:
 * our own lines for every layout (table-driven), every cgroups_*.txt in ../shared/fixtures/k8s,
 * the containerinfo trees' cgroup files, and their mountinfo cgroup roots read as cgroup paths.
 * Fixtures are read in place from $ATTESTD_FIXTURES (default <repo>/../shared/fixtures); a test
 * whose fixture is missing skips and names it.
 */
#include <dirent.h>
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

#include "attest/cgroup.h"

#define UID   "2c48913c-b29f-11e7-9350-020968147796"
#define UIDU  "2c48913c_b29f_11e7_9350_020968147796" /* systemd's rendering of UID */
#define UID2  "d488cae9-b2a0-11e7-9350-020968147796"
#define UID2U "d488cae9_b2a0_11e7_9350_020968147796"
#define UIDUP "2C48913C-B29F-11E7-9350-020968147796"
#define UIDMX "2c48913c_b29f-11e7-9350-020968147796" /* mixed separators */
#define STAT  "0fb386ed7a9f3e4462d5182de8ccaa2b"     /* static pod: kubelet's config hash */
#define CID   "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961"
#define CID2  "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41"
#define CIDUP "9BCA8D63D5FA610783847915BCFF0ECAC1273E5B4BED3F6FA1B07350E0135961"
#define HEX63 "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e013596"
#define NODE  "93529524695bb00d91c1f6dba692ea8d3550c3b94fb2463af7bc9ec82f992d26"

#define SD_BE "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
#define SD_BU "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
#define KIND2                                                                       \
	"/system.slice/docker-" NODE ".scope/kubelet.slice/kubelet-kubepods.slice/" \
	"kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod"

#define NONE	   CGROUP_RUNTIME_NONE
#define UNKNOWN	   CGROUP_RUNTIME_UNKNOWN
#define CONTAINERD CGROUP_RUNTIME_CONTAINERD
#define CRIO	   CGROUP_RUNTIME_CRIO
#define DOCKER	   CGROUP_RUNTIME_DOCKER
#define Q_UNK	   CGROUP_QOS_UNKNOWN
#define Q_BE	   CGROUP_QOS_BESTEFFORT
#define Q_BU	   CGROUP_QOS_BURSTABLE
#define Q_GU	   CGROUP_QOS_GUARANTEED

#define W(pod, ctr, rt, qos)                      \
	{                                         \
		0, pod, ctr, rt, qos, false, NULL \
	}
#define WC(pod, ctr, rt, qos)                    \
	{                                        \
		0, pod, ctr, rt, qos, true, NULL \
	} /* crio-conmon */
#define WERR(ret, err_substring)                               \
	{                                                      \
		ret, "", "", NONE, Q_UNK, false, err_substring \
	}

struct want {
	int ret;
	const char *pod, *ctr;
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
	bool conmon;
	const char *err; /* substring of err when ret != 0 */
};

static void check(const char *name, int ret, const struct cgroup_info *got, const char *err,
		  const struct want *w)
{
	bool ok = ret == w->ret && strcmp(got->pod_uid, w->pod) == 0 &&
		  strcmp(got->container_id, w->ctr) == 0 && got->runtime == w->runtime &&
		  got->qos == w->qos && got->crio_conmon == w->conmon &&
		  (!w->err || strstr(err, w->err));

	if (!ok)
		print_error("%s: got ret=%d pod=\"%s\" ctr=\"%s\" runtime=%s qos=%s conmon=%d "
			    "err=\"%s\"; want ret=%d pod=\"%s\" ctr=\"%s\" runtime=%s qos=%s "
			    "conmon=%d err~\"%s\"\n",
			    name, ret, got->pod_uid, got->container_id,
			    cgroup_runtime_name(got->runtime), cgroup_qos_name(got->qos),
			    got->crio_conmon, ret ? err : "", w->ret, w->pod, w->ctr,
			    cgroup_runtime_name(w->runtime), cgroup_qos_name(w->qos), w->conmon,
			    w->err ? w->err : "");
	assert_true(ok);
}

/* ---- one path, every layout ---------------------------------------------------------------- */

static void test_parse_path(void **state)
{
	static const struct {
		const char *name, *path;
		struct want w;
	} rows[] = {
		/* cgroupfs driver (v1 and v2 look the same) */
		{"cgroupfs besteffort", "/kubepods/besteffort/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"cgroupfs burstable", "/kubepods/burstable/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_BU)},
		{"cgroupfs guaranteed", "/kubepods/pod" UID "/" CID, W(UID, CID, UNKNOWN, Q_GU)},
		{"cgroupfs crio", "/kubepods/besteffort/pod" UID "/crio-" CID,
		 W(UID, CID, CRIO, Q_BE)},
		{"cgroupfs crio-conmon", "/kubepods/besteffort/pod" UID "/crio-conmon-" CID,
		 WC(UID, CID, CRIO, Q_BE)},
		{"cgroupfs pod level", "/kubepods/besteffort/pod" UID, W(UID, "", NONE, Q_BE)},
		{"cgroupfs pod level, slash", "/kubepods/burstable/pod" UID "/",
		 W(UID, "", NONE, Q_BU)},
		{"cgroupfs qos level", "/kubepods/besteffort", W("", "", NONE, Q_UNK)},
		{"cgroupfs static pod", "/kubepods/burstable/pod" STAT "/" CID,
		 W(STAT, CID, UNKNOWN, Q_BU)},
		/* systemd driver */
		{"systemd containerd", SD_BE UIDU ".slice/cri-containerd-" CID ".scope",
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"systemd crio", SD_BU UIDU ".slice/crio-" CID ".scope", W(UID, CID, CRIO, Q_BU)},
		{"systemd crio-conmon", SD_BU UIDU ".slice/crio-conmon-" CID ".scope",
		 WC(UID, CID, CRIO, Q_BU)},
		{"systemd docker guaranteed",
		 "/kubepods.slice/kubepods-pod" UIDU ".slice/docker-" CID ".scope",
		 W(UID, CID, DOCKER, Q_GU)},
		{"systemd pod level", SD_BE UIDU ".slice", W(UID, "", NONE, Q_BE)},
		{"systemd uid with dashes", SD_BE UID ".slice/crio-" CID ".scope",
		 W(UID, CID, CRIO, Q_BE)},
		{"systemd static pod", SD_BU STAT ".slice/crio-" CID ".scope",
		 W(STAT, CID, CRIO, Q_BU)},
		{"systemd kubelet.slice root",
		 "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		 "kubelet-kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID ".scope",
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"systemd inside the container",
		 SD_BE UIDU ".slice/cri-containerd-" CID ".scope/init.scope",
		 W(UID, CID, CONTAINERD, Q_BE)},
		/* "<slice>:<runtime>:<id>" as a cgroup name */
		{"colon containerd", "/kubepods-besteffort-pod" UIDU ".slice:cri-containerd:" CID,
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"colon crio guaranteed", "/kubepods-pod" UIDU ".slice:crio:" CID,
		 W(UID, CID, CRIO, Q_GU)},
		{"colon below kubepods",
		 "/kubepods.slice/kubepods-burstable-pod" UIDU ".slice:cri-containerd:" CID,
		 W(UID, CID, CONTAINERD, Q_BU)},
		{"colon docker no pod", "/system.slice:docker:" CID, W("", CID, DOCKER, Q_UNK)},
		{"colon unknown runtime", "/kubepods-pod" UIDU ".slice:runc:" CID,
		 W("", "", NONE, Q_UNK)},
		{"colon four fields", "/kubepods-pod" UIDU ".slice:crio:x:" CID,
		 W("", "", NONE, Q_UNK)},
		{"colon not a slice", "/kubepods-pod" UIDU ".scope:crio:" CID,
		 W("", "", NONE, Q_UNK)},
		/* docker */
		{"docker systemd", "/system.slice/docker-" CID ".scope", W("", CID, DOCKER, Q_UNK)},
		{"docker cgroupfs", "/docker/" CID, W("", CID, DOCKER, Q_UNK)},
		{"docker cgroupfs slash", "/docker/" CID "/", W("", CID, DOCKER, Q_UNK)},
		{"docker, systemd inside",
		 "/system.slice/docker-" CID ".scope/system.slice/a.service",
		 W("", CID, DOCKER, Q_UNK)},
		/* kind: the node is a docker container; its ID sits above the pod and is ignored */
		{"kind v1", "/docker/" NODE "/kubelet/kubepods/besteffort/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"kind guaranteed", "/docker/" NODE "/kubepods/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_GU)},
		{"kind v2 systemd", KIND2 UIDU ".slice/cri-containerd-" CID ".scope",
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"kind pod level", "/docker/" NODE "/kubepods/besteffort/pod" UID,
		 W(UID, "", NONE, Q_BE)},
		{"kind node itself", "/docker/" NODE "/system.slice/containerd.service",
		 W("", NODE, DOCKER, Q_UNK)},
		/* seen from inside a cgroup namespace */
		{"ns cgroupfs", "/../../kubepods/besteffort/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"ns pod parent hidden", "/../pod" UID "/" CID, W(UID, CID, UNKNOWN, Q_UNK)},
		{"ns systemd",
		 "/../../kubepods-besteffort-pod" UIDU ".slice/cri-containerd-" CID ".scope",
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"ns crio sibling", "/../crio-" CID ".scope", W("", CID, CRIO, Q_UNK)},
		{"ns bare id", "/../" CID, W("", CID, UNKNOWN, Q_UNK)},
		{"ns only", "/../..", W("", "", NONE, Q_UNK)},
		/* not containers */
		{"root", "/", W("", "", NONE, Q_UNK)},
		{"session", "/user.slice/user-1000.slice/session-2.scope", W("", "", NONE, Q_UNK)},
		{"service", "/system.slice/containerd.service", W("", "", NONE, Q_UNK)},
		{"conmon outside pods", "/system.slice/crio-conmon-" CID ".scope",
		 WC("", CID, CRIO, Q_UNK)},
		{"uppercase id", "/docker/" CIDUP, W("", "", NONE, Q_UNK)},
		{"63 hex", "/kubepods/pod" UID "/" HEX63, W(UID, "", NONE, Q_GU)},
		{"65 hex", "/docker/" CID "0", W("", "", NONE, Q_UNK)},
		{"docker- 63 hex", "/system.slice/docker-" HEX63 ".scope", W("", "", NONE, Q_UNK)},
		{"unknown prefix", "/machine.slice/libpod-" CID ".scope", W("", "", NONE, Q_UNK)},
		{"prefix without dash", "/system.slice/docker" CID ".scope",
		 W("", "", NONE, Q_UNK)},
		{"id with suffix", "/docker/" CID ".service", W("", "", NONE, Q_UNK)},
		{"uppercase uid", "/kubepods/besteffort/pod" UIDUP "/" CID,
		 W("", CID, UNKNOWN, Q_UNK)},
		{"mixed separators", SD_BE UIDMX ".slice/crio-" CID ".scope",
		 W("", CID, CRIO, Q_UNK)},
		{"short uid", "/kubepods/pod2c48913c-b29f-11e7-9350-02096814779/" CID,
		 W("", CID, UNKNOWN, Q_UNK)},
		{"cgroupfs pod with prefix", "/kubepods/xpod" UID "/" CID,
		 W("", CID, UNKNOWN, Q_UNK)},
		{"pod in a scope", "/kubepods-besteffort-pod" UIDU ".scope",
		 W("", "", NONE, Q_UNK)},
		{"slice without dash", "/kubepods-besteffortpod" UIDU ".slice",
		 W("", "", NONE, Q_UNK)},
		/* conflicts */
		{"two pods", "/kubepods/besteffort/pod" UID "/pod" UID2 "/" CID,
		 WERR(-EPROTO, "two pod UIDs: " UID " and " UID2)},
		{"two pods systemd", SD_BE UIDU ".slice/kubepods-besteffort-pod" UID2U ".slice",
		 WERR(-EPROTO, "two pod UIDs")},
		{"same pod twice", "/kubepods.slice/kubepods-pod" UIDU ".slice/pod" UID "/" CID,
		 W(UID, CID, UNKNOWN, Q_GU)},
		{"two containers in pod", "/kubepods/besteffort/pod" UID "/" CID "/" CID2,
		 WERR(-EPROTO, "two container IDs: " CID " and " CID2)},
		{"two containers no pod", "/docker/" CID "/docker/" CID2,
		 WERR(-EPROTO, "two container IDs")},
		{"nested pod inside a container",
		 "/kubepods/besteffort/pod" UID "/" CID "/kubepods/besteffort/pod" UID2 "/" CID2,
		 WERR(-EPROTO, "two pod UIDs")},
		{"conmon below its container", "/kubepods/pod" UID "/crio-" CID "/crio-conmon-" CID,
		 WC(UID, CID, CRIO, Q_GU)},
		{"container id repeated", "/kubepods/pod" UID "/" CID "/docker-" CID ".scope",
		 W(UID, CID, UNKNOWN, Q_GU)},
		/* not a cgroup path */
		{"empty", "", WERR(-EINVAL, "start with '/'")},
		{"relative", "kubepods/pod" UID, WERR(-EINVAL, NULL)},
		{"dotdot inside", "/kubepods/../pod" UID "/" CID, WERR(-EINVAL, "not canonical")},
		{"dot", "/./kubepods", WERR(-EINVAL, "not canonical")},
		{"newline", "/docker/" CID "\n", WERR(-EINVAL, "newline")},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cgroup_info got;
		char err[256] = "";
		int ret;

		memset(&got, 0xa5, sizeof(got));
		ret = cgroup_parse_path(rows[i].path, &got, err);
		check(rows[i].name, ret, &got, err, &rows[i].w);
		if (ret)
			assert_true(strlen(err) > 0 && strstr(err, "cgroup path:") == err);
	}
}

static void test_parse_path_length(void **state)
{
	char *path = malloc(CGROUP_PATH_MAX + 2);
	struct cgroup_info got;
	char err[256] = "";
	size_t n;

	assert_non_null(path);
	/* Exactly CGROUP_PATH_MAX bytes, ending in a container: parsed. */
	memset(path, 'a', CGROUP_PATH_MAX);
	n = CGROUP_PATH_MAX - strlen("/docker/" CID);
	path[0] = '/';
	for (size_t i = 100; i < n; i += 100)
		path[i] = '/';
	memcpy(path + n, "/docker/" CID, strlen("/docker/" CID));
	path[CGROUP_PATH_MAX] = '\0';
	assert_int_equal(cgroup_parse_path(path, &got, err), 0);
	assert_string_equal(got.container_id, CID);
	/* One byte more: refused, and nothing past CGROUP_PATH_MAX + 1 is read. */
	path[CGROUP_PATH_MAX] = 'a';
	path[CGROUP_PATH_MAX + 1] = '\0';
	assert_int_equal(cgroup_parse_path(path, &got, err), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	assert_string_equal(got.container_id, "");
	free(path);
}

/* ---- whole /proc/<pid>/cgroup files ------------------------------------------------------- */

#define L_POD	"/kubepods/besteffort/pod" UID "/" CID
#define L_POD2	"/kubepods/besteffort/pod" UID2 "/" CID
#define L_CTR2	"/kubepods/besteffort/pod" UID "/" CID2
#define L_PODLV "/kubepods/besteffort/pod" UID
#define L_KNODE "/docker/" NODE "/system.slice/containerd.service"

static void test_parse_proc_file(void **state)
{
	static const struct {
		const char *name, *text;
		struct want w;
	} rows[] = {
		{"empty", "", W("", "", NONE, Q_UNK)},
		{"blank lines", "\n\n", W("", "", NONE, Q_UNK)},
		{"v2 only, no newline", "0::" L_POD, W(UID, CID, UNKNOWN, Q_BE)},
		{"v1 with root lines",
		 "3:rdma:/\n2:cpu,cpuacct:" L_POD "\n1:name=systemd:" L_POD "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"hybrid v1 + v2 agree", "1:name=systemd:" L_POD "\n0::" L_POD "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"pod level, then container", "2:cpuset:" L_PODLV "\n1:pids:" L_POD "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"container, then pod level", "2:pids:" L_POD "\n1:cpuset:" L_PODLV "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"first runtime wins",
		 "2:pids:" SD_BE UIDU ".slice/crio-" CID ".scope\n0::" L_POD "\n",
		 W(UID, CID, CRIO, Q_BE)},
		{"conmon on one line",
		 "2:pids:" SD_BE UIDU ".slice/crio-" CID ".scope\n1:memory:" SD_BE UIDU
		 ".slice/crio-conmon-" CID ".scope\n",
		 WC(UID, CID, CRIO, Q_BE)},
		{"colon form in the path",
		 "0::/kubepods-besteffort-pod" UIDU ".slice:cri-containerd:" CID "\n",
		 W(UID, CID, CONTAINERD, Q_BE)},
		{"kind: pod outranks node line after",
		 "1:cpuset:/docker/" NODE "/kubepods/pod" UID "/" CID "\n0::" L_KNODE "\n",
		 W(UID, CID, UNKNOWN, Q_GU)},
		{"kind: pod outranks node line before", "0::" L_KNODE "\n1:cpuset:" L_POD "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"non-pod conflict outranked by pod",
		 "3:a:/docker/" CID "\n2:b:/docker/" CID2 "\n1:c:" L_POD "\n",
		 W(UID, CID, UNKNOWN, Q_BE)},
		{"non-pod lines agree", "2:pids:/docker/" CID "\n1:cpu:/\n0::/docker/" CID "\n",
		 W("", CID, DOCKER, Q_UNK)},
		{"two pods", "2:pids:" L_POD "\n1:cpu:" L_POD2 "\n",
		 WERR(-EPROTO, "cgroup file: lines 1 and 2: two pod UIDs: " UID " and " UID2)},
		{"two containers, same pod", "1:pids:" L_POD "\n\n0::" L_CTR2 "\n",
		 WERR(-EPROTO, "lines 1 and 3: two container IDs")},
		{"two containers, no pod", "1:pids:/docker/" CID "\n0::/docker/" CID2 "\n",
		 WERR(-EPROTO, "two container IDs")},
		{"conflict inside a line", "1:pids:/\n0::/docker/" CID "/docker/" CID2 "\n",
		 WERR(-EPROTO, "cgroup file line 2: two container IDs")},
		{"no fields", "garbage\n", WERR(-EINVAL, "line 1")},
		{"hierarchy not a number", "x::/\n", WERR(-EINVAL, "number")},
		{"hierarchy empty", ":cpu:/\n", WERR(-EINVAL, NULL)},
		{"hierarchy too long", "12345678901::/\n", WERR(-EINVAL, NULL)},
		{"no controllers field", "0:/docker/" CID "\n", WERR(-EINVAL, "controllers")},
		{"relative path", "0::docker\n", WERR(-EINVAL, "'/'")},
		{"empty path", "1:pids:\n", WERR(-EINVAL, NULL)},
		{"bad line after good", "0::" L_POD "\n1\n", WERR(-EINVAL, "cgroup file line 2")},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cgroup_info got;
		char err[256] = "";
		int ret;

		memset(&got, 0xa5, sizeof(got));
		ret = cgroup_parse_proc_file(rows[i].text, strlen(rows[i].text), &got, err);
		check(rows[i].name, ret, &got, err, &rows[i].w);
	}
}

static void test_parse_proc_file_bounds(void **state)
{
	size_t cap = CGROUP_FILE_MAX + 64, len = 0;
	char *text = malloc(cap), err[256] = "";
	struct cgroup_info got;
	static const char nul_text[] = "0::/docker/\0" CID "\n";

	assert_non_null(text);
	/* Not NUL-terminated: the byte after len is garbage and must not be read as path. */
	memcpy(text, "0::/docker/" CID "X", strlen("0::/docker/" CID) + 1);
	assert_int_equal(cgroup_parse_proc_file(text, strlen("0::/docker/" CID), &got, err), 0);
	assert_string_equal(got.container_id, CID);

	/* A NUL byte inside a path. */
	assert_int_equal(cgroup_parse_proc_file(nul_text, sizeof(nul_text) - 1, &got, err),
			 -EINVAL);

	/* CGROUP_FILE_LINES_MAX lines parse; one more is refused. */
	for (int i = 0; i < CGROUP_FILE_LINES_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len, "%d:c:/\n", i);
	assert_int_equal(cgroup_parse_proc_file(text, len, &got, err), 0);
	len += (size_t)snprintf(text + len, cap - len, "0::/\n");
	assert_int_equal(cgroup_parse_proc_file(text, len, &got, err), -EINVAL);
	assert_non_null(strstr(err, "lines"));

	/* Over CGROUP_FILE_MAX bytes. */
	memset(text, '\n', cap);
	assert_int_equal(cgroup_parse_proc_file(text, CGROUP_FILE_MAX, &got, err), -EINVAL);
	assert_int_equal(cgroup_parse_proc_file(text, CGROUP_FILE_MAX + 1, &got, err), -EINVAL);
	assert_non_null(strstr(err, "longer than"));
	free(text);
}

static void test_names(void **state)
{
	assert_string_equal(cgroup_runtime_name(CGROUP_RUNTIME_NONE), "none");
	assert_string_equal(cgroup_runtime_name(CGROUP_RUNTIME_UNKNOWN), "unknown");
	assert_string_equal(cgroup_runtime_name(CGROUP_RUNTIME_CONTAINERD), "containerd");
	assert_string_equal(cgroup_runtime_name(CGROUP_RUNTIME_CRIO), "crio");
	assert_string_equal(cgroup_runtime_name(CGROUP_RUNTIME_DOCKER), "docker");
	assert_string_equal(cgroup_qos_name(CGROUP_QOS_UNKNOWN), "unknown");
	assert_string_equal(cgroup_qos_name(CGROUP_QOS_BESTEFFORT), "besteffort");
	assert_string_equal(cgroup_qos_name(CGROUP_QOS_BURSTABLE), "burstable");
	assert_string_equal(cgroup_qos_name(CGROUP_QOS_GUARANTEED), "guaranteed");
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static void fixtures_dir(char *out, size_t n)
{
	const char *env = getenv("ATTESTD_FIXTURES");
	const char *file = __FILE__, *tail = strstr(file, "tests/unit/test_cgroup.c");

	if (env && *env)
		snprintf(out, n, "%s", env);
	else if (file[0] == '/' && tail)
		snprintf(out, n, "%.*s../shared/fixtures", (int)(tail - file), file);
	else
		snprintf(out, n, "../shared/fixtures"); /* relative to the repo root (make unit) */
}

/* Reads <fixtures>/<rel> into a malloc'd buffer (caller frees); NULL if it cannot. */
static char *read_fixture(const char *rel, size_t *len)
{
	char dir[1024], path[2048];
	char *buf = NULL;
	FILE *f;
	long n;

	fixtures_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

#define SKIP_MISSING(rel)                                                                         \
	do {                                                                                      \
		char d_[1024];                                                                    \
		fixtures_dir(d_, sizeof(d_));                                                     \
		print_message("skip: fixture %s/%s not found (set ATTESTD_FIXTURES)\n", d_, rel); \
		skip();                                                                           \
	} while (0)

#define F_UID1 "2c48913c-b29f-11e7-9350-020968147796"
#define F_CID1 "9bca8d63d5fa610783847915bcff0ecac1273e5b4bed3f6fa1b07350e0135961"
#define F_UID2 "a2830d0d-b0f0-4ff0-81b5-0ee4e299cf80"
#define F_CID2 "09bc3d7ade839efec32b6bec4ec79d099027a668ddba043083ec21d3c3b8f1e6"
#define F_UIDI "d488cae9-b2a0-11e7-9350-020968147796"
#define F_CIDI "34a2062fd26c805aa8cf814cdfe479322b791f80afb9ea4db02d50375df14b41"
#define T_UID  "00000000-1111-2222-3333-444444444444"
#define T_CID  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
	const char *file; /* under k8s/ */
	struct want w;
} k8s_files[] = {
	{"cgroups_init_pid_in_pod.txt", W(F_UIDI, F_CIDI, UNKNOWN, Q_BU)},
	{"cgroups_pid_in_crio_pod.txt", W("", F_CID2, CRIO, Q_UNK)},
	{"cgroups_pid_in_kind_pod.txt", W(F_UID2, F_CID2, UNKNOWN, Q_BE)},
	{"cgroups_pid_in_pod.txt", W(F_UID1, F_CID1, UNKNOWN, Q_BU)},
	{"cgroups_pid_not_in_pod.txt", W("", "", NONE, Q_UNK)},
	{"systemd_cgroups_pid_in_pod.txt", W(F_UID1, F_CID1, DOCKER, Q_BU)},
	{"systemd_crio_cgroups_pid_in_pod.txt", W(F_UID2, F_CID2, CRIO, Q_BE)},
};

static void test_fixture_cgroup_files(void **state)
{
	char dir[1024], sub[1100];
	struct dirent *de;
	DIR *d;

	for (size_t i = 0; i < sizeof(k8s_files) / sizeof(k8s_files[0]); i++) {
		char rel[256], err[256] = "";
		struct cgroup_info got;
		size_t len = 0;
		char *text;

		snprintf(rel, sizeof(rel), "k8s/%s", k8s_files[i].file);
		text = read_fixture(rel, &len);
		if (!text)
			SKIP_MISSING(rel);
		check(rel, cgroup_parse_proc_file(text, len, &got, err), &got, err,
		      &k8s_files[i].w);
		/* Each line's path on its own must parse too (none is a conflict by itself). */
		for (char *line = text, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
			char *p = strchr(line, ':');

			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			p = p ? strchr(p + 1, ':') : NULL;
			assert_non_null(p);
			assert_int_equal(cgroup_parse_path(p + 1, &got, err), 0);
			if (!nl)
				break;
		}
		free(text);
	}

	/* Every cgroups_*.txt fixture is in the table above. */
	fixtures_dir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/k8s", dir);
	d = opendir(sub);
	if (!d)
		SKIP_MISSING("k8s");
	while ((de = readdir(d))) {
		bool known = false;

		if (!strstr(de->d_name, "cgroups_") || !strstr(de->d_name, ".txt"))
			continue;
		for (size_t i = 0; i < sizeof(k8s_files) / sizeof(k8s_files[0]); i++)
			known = known || strcmp(de->d_name, k8s_files[i].file) == 0;
		if (!known)
			print_error("fixture k8s/%s has no row in k8s_files\n", de->d_name);
		assert_true(known);
	}
	closedir(d);
}

/* containerinfo trees that have a proc/123/cgroup file: what the cgroup file alone says. */
static void test_fixture_containerinfo_cgroup(void **state)
{
	static const struct {
		const char *tree;
		struct want w;
	} rows[] = {
		{"other/cgroup-primary", W("", T_CID, UNKNOWN, Q_UNK)},
		/* "0::/": nothing; the mountinfo fallback is not implemented (README). */
		{"other/mountinfo-fallback", W("", "", NONE, Q_UNK)},
		{"other/mountinfo-impersonation", W("", T_CID, UNKNOWN, Q_UNK)},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char rel[256], err[256] = "";
		struct cgroup_info got;
		size_t len = 0;
		char *text;

		snprintf(rel, sizeof(rel), "k8s/containerinfo/%s/proc/123/cgroup", rows[i].tree);
		text = read_fixture(rel, &len);
		if (!text)
			SKIP_MISSING(rel);
		check(rel, cgroup_parse_proc_file(text, len, &got, err), &got, err, &rows[i].w);
		free(text);
	}
}

/*
 * The cgroup roots of a mountinfo file's cgroup/cgroup2 mounts, as "0::<root>" lines of a
 * synthetic cgroup file (test-only; attestd reads no mountinfo). NULL if the fixture is missing.
 */
static char *mountinfo_roots_as_cgroup_file(const char *rel, size_t *out_len)
{
	size_t len = 0, cap, n = 0;
	char *text = read_fixture(rel, &len), *out, *save = NULL;

	if (!text)
		return NULL;
	cap = len + 64;
	out = calloc(1, cap);
	assert_non_null(out);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5] = {0}, *sep = strstr(line, " - "), *save2 = NULL, *fstype;
		int k = 0;

		if (!sep)
			continue;
		*sep = '\0';
		fstype = sep + 3;
		for (char *t = strtok_r(line, " ", &save2); t && k < 5;
		     t = strtok_r(NULL, " ", &save2))
			f[k++] = t;
		if (k < 5 || (strncmp(fstype, "cgroup ", 7) != 0 && strncmp(fstype, "cgroup2 ", 8)))
			continue;
		n += (size_t)snprintf(out + n, cap - n, "0::%s\n", f[3]);
	}
	free(text);
	*out_len = n;
	return out;
}

/*
 * The containerinfo mountinfo files' cgroup roots are real-world cgroup paths (kubelet.slice,
 * docker on a cgroupfs root, cgroup-namespace views); SPIRE's expected answers for them.
 */
static void test_fixture_containerinfo_mountinfo_roots(void **state)
{
	static const struct {
		const char *tree;
		struct want w;
	} rows[] = {
		{"docker/v1", W("", T_CID, DOCKER, Q_UNK)},
		{"docker/v2", W("", T_CID, UNKNOWN, Q_UNK)},
		{"docker/cgroup-mount-at-slash/v1", W("", T_CID, DOCKER, Q_UNK)},
		{"docker/cgroup-mount-at-slash/v2", W("", T_CID, DOCKER, Q_UNK)},
		{"docker/container-id-conflict", WERR(-EPROTO, "two container IDs")},
		{"docker/no-cgroup-mount", W("", "", NONE, Q_UNK)},
		{"docker/tmpfs-empty-source", W("", T_CID, UNKNOWN, Q_UNK)},
		{"k8s/v1", W(T_UID, T_CID, CONTAINERD, Q_GU)},
		{"k8s/v2", W(T_UID, T_CID, CONTAINERD, Q_BE)},
		{"k8s/container-id-conflict", WERR(-EPROTO, "two container IDs")},
		{"k8s/pod-uid-conflict", WERR(-EPROTO, "two pod UIDs")},
		/* a line naming no pod (another container ID) is outranked by the pod lines */
		{"k8s/pod-uid-override", W(T_UID, T_CID, CONTAINERD, Q_GU)},
		{"k8s/no-cgroup-mount", W("", "", NONE, Q_UNK)},
		{"other/malformed", W("", "", NONE, Q_UNK)},
		{"other/cgroup-primary", W("", "", NONE, Q_UNK)},
		{"other/mountinfo-fallback", W(T_UID, T_CID, CONTAINERD, Q_BE)},
		/* what the spoofed mountinfo claims; the cgroup file (test above) says T_CID */
		{"other/mountinfo-impersonation",
		 W("ffffffff-ffff-ffff-ffff-ffffffffffff",
		   "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef", CONTAINERD,
		   Q_BE)},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char rel[256], err[256] = "";
		struct cgroup_info got;
		size_t len = 0;
		char *text;

		snprintf(rel, sizeof(rel), "k8s/containerinfo/%s/proc/123/mountinfo", rows[i].tree);
		text = mountinfo_roots_as_cgroup_file(rel, &len);
		if (!text)
			SKIP_MISSING(rel);
		check(rel, cgroup_parse_proc_file(text, len, &got, err), &got, err, &rows[i].w);
		free(text);
	}
}

/*
 * other/mountinfo-impersonation: the workload's mountinfo claims pod ffffffff-... and container
 * deadbeef...; its kernel-assigned cgroup says container 0123...; the cgroup file is what
 * attestd reads (mountinfo never), so the claim cannot win.
 */
static void test_fixture_mountinfo_impersonation(void **state)
{
	const char *rel = "k8s/containerinfo/other/mountinfo-impersonation/proc/123/cgroup";
	struct cgroup_info got;
	char err[256] = "";
	size_t len = 0;
	char *text = read_fixture(rel, &len);

	if (!text)
		SKIP_MISSING(rel);
	assert_int_equal(cgroup_parse_proc_file(text, len, &got, err), 0);
	assert_string_equal(got.container_id, T_CID);
	assert_string_equal(got.pod_uid, "");
	assert_null(strstr(text, "deadbeef"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_parse_path_length),
		cmocka_unit_test(test_parse_proc_file),
		cmocka_unit_test(test_parse_proc_file_bounds),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fixture_cgroup_files),
		cmocka_unit_test(test_fixture_containerinfo_cgroup),
		cmocka_unit_test(test_fixture_containerinfo_mountinfo_roots),
		cmocka_unit_test(test_fixture_mountinfo_impersonation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
