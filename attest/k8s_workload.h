/*
 * k8s_workload.h - the Kubernetes attestor end to end: the connect-time cgroup path gives the
 * pod UID and container ID (attest/cgroup), the kubelet pod cache gives the pod
 * (attest/kubelet), and when the kubelet does not list the container yet (a postStart hook is
 * running, SPIRE #3092) the runtime's own bundle names it (attest/runtime). The result is added
 * as kubernetes.* attributes (attest/k8s_attestor). With an image verifier (Sigstore, through
 * struct k8s_image_verifier: the daemon implements it) the workload container's image is then
 * verified and a verified signature adds kubernetes.image.signature.* attributes; any failure
 * only omits them and logs a warning (fail open). A process outside any pod gets nothing and
 * no error. Loop thread only.
 */
#ifndef ATTEST_K8S_WORKLOAD_H
#define ATTEST_K8S_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attrs.h"
#include "attest/k8s_attestor.h"
#include "attest/kubelet.h"
#include "attest/peer.h"
#include "attest/runtime.h"

#define K8S_WORKLOAD_ERR_MAX 256

/* The outcome of one image verification; valid during the done callback only. */
struct k8s_image_verdict {
	bool verified;	    /* sig is set */
	bool skipped;	    /* the digest is in skip_images: validation passed, no signature */
	const char *result; /* "verified", "not_signed", "identity_mismatch", ... (for logs) */
	const char *reason; /* why not verified, naming the image and the failed check */
	struct k8s_image_signature sig;
	size_t n_verified; /* signatures that verified; more than one: the first is used */
};
typedef void (*k8s_image_verify_done)(void *arg, const struct k8s_image_verdict *v);

/* Image signature verification, provided by the daemon (daemon/image_sigs.c); fakes in tests. */
struct k8s_image_verifier {
	void *ctx; /* first argument of every function below */
	/* false: sigstore is off (it may be switched on and off by a config reload) */
	bool (*enabled)(void *ctx);
	/*
	 * Verifies image_ref ("repo@sha256:<hex>", or a tag to resolve). config_tag_ref (NULL or
	 * "" = none) is k8s_attestor_image_ref's: when image_ref's digest has no signatures, the
	 * manifest that tag names is verified instead, if its config digest is image_ref's digest.
	 * done runs exactly once, possibly before this returns (cached result, skipped image):
	 * then *handle is not written. Otherwise *handle is for cancel() until done starts. 0, or
	 * -errno and done never runs.
	 */
	int (*verify)(void *ctx, const char *image_ref, const char *config_tag_ref,
		      k8s_image_verify_done done, void *arg, void **handle);
	void (*cancel)(void *ctx, void *handle); /* done is not called after this */
	/* One log line: msg plus the image and a detail (reason); warn or info. May be NULL. */
	void (*log)(void *ctx, bool warn, const char *msg, const char *image, const char *detail);
};

struct k8s_workload_opts {
	struct kubelet *kubelet;
	struct runtime_paths runtime;
	struct k8s_attestor_options attestor;
	uint64_t deadline_ms;			 /* 0 = the kubelet's default */
	const struct k8s_image_verifier *images; /* NULL: no image signature verification */
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
