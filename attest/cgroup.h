/*
 * cgroup.h - the Kubernetes pod UID and the container ID named by a cgroup path (cgroup v1 or v2,
 * cgroupfs or systemd driver, containerd / CRI-O / docker, kind, cgroup-namespace views).
 * Pure, bounded string parsing: no file system access, no allocation. A path that names no
 * container is "not a container" (0, empty IDs), never an error; a path that names two different
 * pod UIDs or container IDs is -EPROTO. Layouts and rules: README "cgroup layouts".
 */
#ifndef ATTEST_CGROUP_H
#define ATTEST_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#define CGROUP_POD_UID_MAX	64
#define CGROUP_CONTAINER_ID_MAX 128
#define CGROUP_PATH_MAX		4096  /* the kernel's limit for a /proc/<pid>/cgroup path */
#define CGROUP_FILE_MAX		65536 /* bytes of a /proc/<pid>/cgroup file */
#define CGROUP_FILE_LINES_MAX	128   /* lines (hierarchies) in a /proc/<pid>/cgroup file */

enum cgroup_runtime {
	CGROUP_RUNTIME_NONE = 0, /* not a container */
	CGROUP_RUNTIME_UNKNOWN,	 /* a bare 64-hex ID: the path does not name the runtime */
	CGROUP_RUNTIME_CONTAINERD,
	CGROUP_RUNTIME_CRIO,
	CGROUP_RUNTIME_DOCKER,
};

enum cgroup_qos {
	CGROUP_QOS_UNKNOWN = 0, /* not in a pod, or the path does not say (cgroup namespace) */
	CGROUP_QOS_BESTEFFORT,
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_GUARANTEED,
};

struct cgroup_info {
	/* canonical form: lowercase, dashes (systemd's underscores converted); "" = not in a pod */
	char pod_uid[CGROUP_POD_UID_MAX + 1];
	/* 64 lowercase hex; "" = not a container */
	char container_id[CGROUP_CONTAINER_ID_MAX + 1];
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
	/*
	 * The path is CRI-O's "crio-conmon-<id>": the container monitor of container <id>, not its
	 * workload. container_id is still set to <id>, as SPIRE does; callers may refuse it.
	 */
	bool crio_conmon;
};

/*
 * One cgroup path (the third field of /proc/<pid>/cgroup, or the path the BPF cgroup map holds:
 * "/kubepods.slice/..."). Fills *out (zeroed on error). 0 = parsed, possibly "not a container";
 * -EPROTO when the path holds two different pod UIDs or two different container IDs below the
 * pod (err says which); -EINVAL when it is not an absolute cgroup path of at most
 * CGROUP_PATH_MAX bytes, or has "." or ".." after a normal component.
 */
int cgroup_parse_path(const char *path, struct cgroup_info *out, char err[256]);

/*
 * A whole /proc/<pid>/cgroup file (v1 and v2 lines; text need not be NUL-terminated). Every
 * line's path is parsed. A line naming a pod outranks lines naming none (kind: the kind node's
 * own "0::/docker/<node>/system.slice/..." line is ignored); the remaining results must agree
 * (same pod UID; non-empty container IDs equal), else -EPROTO; the first non-empty result wins.
 * -EINVAL for a malformed line or a file over CGROUP_FILE_MAX / CGROUP_FILE_LINES_MAX.
 */
int cgroup_parse_proc_file(const char *text, size_t len, struct cgroup_info *out, char err[256]);

/* "none", "unknown", "containerd", "crio", "docker". */
const char *cgroup_runtime_name(enum cgroup_runtime runtime);
/* "unknown", "besteffort", "burstable", "guaranteed" (Kubernetes' QOSClass, lowercased). */
const char *cgroup_qos_name(enum cgroup_qos qos);

#endif /* ATTEST_CGROUP_H */
