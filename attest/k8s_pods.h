/*
 * k8s_pods.h - the kubelet's `/pods` answer (a v1 PodList) parsed into an immutable index: pods
 * by UID, containers by container ID (runtime scheme stripped), containers by name within a pod.
 * Parsing is bounded (sizes, counts, string lengths below) and errors name the JSON path.
 * Terminated pods (phase Succeeded or Failed) are dropped. A container ID claimed twice is
 * recorded as a conflict: looking that ID up fails, every other lookup works.
 */
#ifndef ATTEST_K8S_PODS_H
#define ATTEST_K8S_PODS_H

#include <stddef.h>

#define K8S_PODS_MAX_BYTES	(64u << 20)  /* the whole response */
#define K8S_PODS_MAX_PODS	4096	     /* items[] */
#define K8S_PODS_MAX_CONTAINERS 256	     /* per list (containers, initContainers, ...) */
#define K8S_PODS_MAX_KV		4096	     /* labels, annotations per pod */
#define K8S_PODS_MAX_OWNERS	64	     /* ownerReferences per pod */
#define K8S_PODS_MAX_STRING	(256u << 10) /* any one string (annotations may be large) */

/* Which list of the pod a container is in. */
enum k8s_container_kind {
	K8S_CONTAINER = 0,	 /* spec.containers / status.containerStatuses */
	K8S_INIT_CONTAINER,	 /* spec.initContainers / status.initContainerStatuses */
	K8S_EPHEMERAL_CONTAINER, /* spec.ephemeralContainers / status.ephemeralContainerStatuses */
	K8S_CONTAINER_KINDS,
};

/* Every string below is NUL-terminated and owned by the struct k8s_pods. A field that was absent
 * (or null) in the JSON is NULL; empty strings are kept as "". */
struct k8s_kv {
	const char *key, *value;
};

struct k8s_owner {
	const char *kind, *name, *uid;
};

struct k8s_container_spec {
	const char *name, *image;
};

struct k8s_container_status {
	const char *name, *image;
	const char *image_id;	  /* as reported, e.g. "docker-pullable://x@sha256:..." */
	const char *container_id; /* without the scheme; NULL while the container has none */
	const char *runtime;	  /* the scheme: "containerd", "cri-o", "docker", ...; or NULL */
	const char *state;	  /* "running", "waiting", "terminated", or NULL */
};

struct k8s_pod {
	const char *ns, *name, *uid;
	const char *service_account; /* spec.serviceAccountName */
	const char *node_name;	     /* spec.nodeName */
	const char *phase;	     /* status.phase */
	const struct k8s_kv *labels;
	size_t n_labels;
	const struct k8s_kv *annotations;
	size_t n_annotations;
	const struct k8s_owner *owners; /* in the order listed */
	size_t n_owners;
	const struct k8s_container_spec *spec[K8S_CONTAINER_KINDS];
	size_t n_spec[K8S_CONTAINER_KINDS];
	const struct k8s_container_status *status[K8S_CONTAINER_KINDS];
	size_t n_status[K8S_CONTAINER_KINDS];
};

/* One container of a pod: its spec entry and its status entry, either of which may be NULL (no
 * status yet; or a status with no spec entry, which the kubelet should never send). */
struct k8s_container_ref {
	enum k8s_container_kind kind;
	const struct k8s_container_spec *spec;
	const struct k8s_container_status *status;
};

struct k8s_pods;

/*
 * Parses a PodList of len bytes (need not be NUL-terminated). Caller frees *out with
 * k8s_pods_free(). Pods without metadata.uid are skipped (as SPIRE does); a field of the wrong
 * type, a malformed containerID or a bound exceeded fails the whole list with -EPROTO or -E2BIG
 * and err names the path: "pod list: items[3].metadata.uid: not a string". -ENOMEM.
 */
int k8s_pods_parse(const char *json, size_t len, struct k8s_pods **out, char err[256]);
void k8s_pods_free(struct k8s_pods *pods);

/* Pods kept (running/pending/unknown phase, with a UID), in list order. */
size_t k8s_pods_count(const struct k8s_pods *pods);
const struct k8s_pod *k8s_pods_at(const struct k8s_pods *pods, size_t i);
/* Pods dropped: terminated ones, and ones without a UID. */
size_t k8s_pods_dropped(const struct k8s_pods *pods);

/* The pod with this UID. -ENOENT; -ENOTUNIQ if two pods of the list carry it. err is filled. */
int k8s_pods_by_uid(const struct k8s_pods *pods, const char *uid, const struct k8s_pod **pod,
		    char err[256]);

/*
 * The container with this ID (no scheme, e.g. "09bc3d7a..."), its pod, spec and status entries.
 * -ENOENT; -ENOTUNIQ if more than one container status claims the ID (err names both pods).
 */
int k8s_pods_by_container_id(const struct k8s_pods *pods, const char *container_id,
			     const struct k8s_pod **pod, struct k8s_container_ref *ref,
			     char err[256]);

/*
 * The container named `name` in pod (searched in containers, then init, then ephemeral ones),
 * for when the runtime knows the name but the kubelet reports no containerID yet (a postStart
 * hook is running). ref->spec or ref->status may be NULL, not both. -ENOENT.
 */
int k8s_pod_container_by_name(const struct k8s_pod *pod, const char *name,
			      struct k8s_container_ref *ref);

const char *k8s_container_kind_name(enum k8s_container_kind kind);

#endif /* ATTEST_K8S_PODS_H */
