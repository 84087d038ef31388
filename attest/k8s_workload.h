/*
 * k8s_workload.h - the Kubernetes attestor end to end: the connect-time cgroup path gives the
 * pod UID and container ID (attest/cgroup), the kubelet pod cache gives the pod
 * (attest/kubelet), and when the kubelet does not list the container yet (a postStart hook is
 * running, SPIRE #3092) the runtime's own bundle names it (attest/runtime). The result is added
 * as kubernetes.* attributes (attest/k8s_attestor). A process outside any pod gets nothing and
 * no error. Loop thread only.
 */
#ifndef ATTEST_K8S_WORKLOAD_H
#define ATTEST_K8S_WORKLOAD_H

#include <stdint.h>

#include "attest/attrs.h"
#include "attest/k8s_attestor.h"
#include "attest/kubelet.h"
#include "attest/peer.h"
#include "attest/runtime.h"

#define K8S_WORKLOAD_ERR_MAX 256

struct k8s_workload_opts {
	struct kubelet *kubelet;
	struct runtime_paths runtime;
	struct k8s_attestor_options attestor;
	uint64_t deadline_ms; /* 0 = the kubelet's default */
};

struct k8s_workload_req;

/* rc 0: attributes added (or none: not in a pod). err names the step that failed. */
typedef void (*k8s_workload_done)(void *arg, int rc, const char *err);

/*
 * Attests peer into attrs (which must stay valid until done). done runs exactly once, possibly
 * before this returns (cgroup says "not in a pod", or a warm cache). Returns 0, or -errno
 * without calling done. *req (may be NULL) is for k8s_workload_cancel until done starts.
 */
int k8s_workload_attest(const struct k8s_workload_opts *opts, const struct peer_identity *peer,
			struct attr_set *attrs, k8s_workload_done done, void *arg,
			struct k8s_workload_req **req);
/* done is not called after this. */
void k8s_workload_cancel(const struct k8s_workload_opts *opts, struct k8s_workload_req *req);

#endif /* ATTEST_K8S_WORKLOAD_H */
