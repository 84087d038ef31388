/*
 * runtime.h - a container ID resolved to its Kubernetes identity through the container runtime's
 * own state: the OCI bundle's config.json, whose annotations the CRI implementation (containerd's
 * CRI plugin, CRI-O) wrote when the kubelet created the container. This works before the kubelet
 * reports the container ID (e.g. while a postStart hook runs, SPIRE #3092). Reads are bounded,
 * never follow a symlink below the configured state directory, and the parser is pure (fuzzed).
 * The caller must check that pod_uid equals the pod UID of the cgroup path.
 */
#ifndef ATTEST_RUNTIME_H
#define ATTEST_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#define RUNTIME_CONTAINERD_STATE_DEFAULT "/run/containerd"
#define RUNTIME_CRIO_STATE_DEFAULT	 "/run/containers/storage"
#define RUNTIME_CONTAINERD_NAMESPACE	 "k8s.io"   /* the CRI plugin's containerd namespace */
#define RUNTIME_CONFIG_MAX		 (1u << 20) /* bytes of one config.json */
#define RUNTIME_ID_LEN			 64	    /* container IDs: 64 lowercase hex */

#define RUNTIME_CONTAINER_NAME_MAX 63	/* DNS-1123 label */
#define RUNTIME_POD_UID_MAX	   64	/* a UUID (36), or a static pod's hash */
#define RUNTIME_POD_NAME_MAX	   253	/* DNS-1123 subdomain */
#define RUNTIME_POD_NAMESPACE_MAX  63	/* DNS-1123 label */
#define RUNTIME_IMAGE_MAX	   1023 /* image reference */

enum runtime_kind {
	RUNTIME_NONE = 0,
	RUNTIME_CONTAINERD,
	RUNTIME_CRIO,
};

/* Where each runtime keeps its state. NULL = the default above; "" = do not look there. */
struct runtime_paths {
	const char *containerd_state; /* bundle: <this>/io.containerd.runtime.v2.task/k8s.io/<id> */
	const char *crio_state;	      /* bundle: <this>/<driver>-containers/<id>/userdata */
};

/*
 * Every string is NUL-terminated. container_name is "" for a sandbox (pause) container; image
 * and sandbox_id are "" when the runtime did not record them. Names are checked against the
 * Kubernetes rules (DNS-1123 labels/subdomains); pod_uid is [0-9A-Za-z_-], kept as written.
 */
struct runtime_container {
	enum runtime_kind runtime;
	bool sandbox; /* the pod's sandbox (pause) container, not a workload container */
	char container_name[RUNTIME_CONTAINER_NAME_MAX + 1];
	char pod_uid[RUNTIME_POD_UID_MAX + 1];
	char pod_name[RUNTIME_POD_NAME_MAX + 1];
	char pod_namespace[RUNTIME_POD_NAMESPACE_MAX + 1];
	char sandbox_id[RUNTIME_ID_LEN + 1];
	char image[RUNTIME_IMAGE_MAX +
		   1]; /* as in the pod spec, e.g. "docker.io/library/nginx:1" */
};

/*
 * Finds container_id's config.json under containerd's state, then CRI-O's, and parses it.
 * container_id must be exactly 64 lowercase hex digits (-EINVAL otherwise: it becomes a path
 * component). Every directory below the state directory and config.json itself are opened with
 * O_NOFOLLOW: a symlink there is -ELOOP, a config.json that is not a regular file -EINVAL, one
 * larger than RUNTIME_CONFIG_MAX -EFBIG. Returns 0; -ENOENT if neither runtime has the container;
 * -ENODATA if its config.json carries no CRI annotations (not created through Kubernetes);
 * -EPROTO if config.json is malformed (err names the file and the field); other -errno from the
 * file system. err is always filled on failure.
 */
int runtime_lookup(const struct runtime_paths *paths, const char *container_id,
		   struct runtime_container *out, char err[256]);

/*
 * Pure parser: config.json text (len bytes, need not be NUL-terminated) written by `kind` ->
 * *out. name labels err messages (e.g. the file path). Duplicate keys are -EPROTO. Returns 0,
 * -ENODATA (no container-type annotation of that runtime), -EPROTO (not JSON, wrong types, a
 * required annotation missing or invalid), -EINVAL (kind is not a runtime).
 */
int runtime_parse_config(const char *json, size_t len, enum runtime_kind kind, const char *name,
			 struct runtime_container *out, char err[256]);

/* "containerd", "cri-o", or "none". */
const char *runtime_kind_name(enum runtime_kind kind);

/* Whether s is a valid container ID: exactly 64 lowercase hex digits, NUL-terminated. */
bool runtime_id_valid(const char *s);

#endif /* ATTEST_RUNTIME_H */
