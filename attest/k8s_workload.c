/*
 * k8s_workload.c - see k8s_workload.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/cgroup.h"
#include "attest/k8s_workload.h"

struct k8s_workload_req {
	const struct k8s_workload_opts *opts;
	struct attr_set *attrs;
	struct cgroup_info cg;
	k8s_workload_done done;
	void *arg;
	struct kubelet_wait *wait;
	bool in_lookup;	    /* kubelet_lookup has not returned yet */
	bool finished;	    /* done was called from inside kubelet_lookup */
	void *image_handle; /* image verification in flight */
	char image_ref[K8S_IMAGE_REF_MAX];
	char config_tag_ref[K8S_IMAGE_REF_MAX]; /* "" or the tag for a bare (config) digest */
	char container_id[KUBELET_MAX_ID];
};

/* Same pod UID written two ways: the cgroup parser gives the canonical lowercase dashed form. */
static bool same_pod_uid(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

static void finish(struct k8s_workload_req *r, int rc, const char *err)
{
	k8s_workload_done done = r->done;
	void *arg = r->arg;

	if (r->in_lookup) {
		r->finished = true; /* freed by k8s_workload_attest once kubelet_lookup returns */
		done(arg, rc, err);
		return;
	}
	free(r);
	done(arg, rc, err);
}

/*
 * The pod is known but its status does not list this container ID yet: ask the runtime which
 * container it is, and insist that the runtime's pod is the one the cgroup path names.
 */
static int container_from_runtime(struct k8s_workload_req *r, const struct k8s_pod *pod,
				  struct k8s_container_ref *ref, char err[K8S_WORKLOAD_ERR_MAX])
{
	struct runtime_container rc = {0};
	char rerr[256] = "";
	int ret;

	ret = runtime_lookup(&r->opts->runtime, r->cg.container_id, &rc, rerr);
	if (ret < 0) {
		snprintf(err, K8S_WORKLOAD_ERR_MAX,
			 "kubernetes: container %.16s... is not in the kubelet's pod status yet, "
			 "and the runtime does not know it: %s",
			 r->cg.container_id, rerr);
		return ret;
	}
	if (rc.sandbox) {
		snprintf(err, K8S_WORKLOAD_ERR_MAX,
			 "kubernetes: %.16s... is the pod sandbox, not a workload container",
			 r->cg.container_id);
		return -EPERM;
	}
	if (!same_pod_uid(rc.pod_uid, r->cg.pod_uid)) {
		snprintf(err, K8S_WORKLOAD_ERR_MAX,
			 "kubernetes: runtime metadata of container %.16s... names pod %s, but its "
			 "cgroup path names pod %s",
			 r->cg.container_id, rc.pod_uid, r->cg.pod_uid);
		return -EPROTO;
	}
	if (k8s_pod_container_by_name(pod, rc.container_name, ref) < 0) {
		snprintf(err, K8S_WORKLOAD_ERR_MAX,
			 "kubernetes: pod %s has no container named \"%s\" (from the runtime)",
			 r->cg.pod_uid, rc.container_name);
		return -ENOENT;
	}
	/* A status found by name describes another container (the previous instance after a
	 * restart, or none yet): its image and imageID are not this container's, so only the
	 * spec speaks for it. Otherwise a new container could inherit the verified image of
	 * the one before it. */
	if (ref->status &&
	    (!ref->status->container_id || strcmp(ref->status->container_id, r->cg.container_id)))
		ref->status = NULL;
	if (!ref->spec && !ref->status) {
		snprintf(err, K8S_WORKLOAD_ERR_MAX,
			 "kubernetes: pod %s has no spec for container \"%s\" and its status is "
			 "another container's",
			 r->cg.pod_uid, rc.container_name);
		return -ENOENT;
	}
	return 0;
}

static void image_log(struct k8s_workload_req *r, bool warn, const char *msg, const char *detail)
{
	const struct k8s_image_verifier *v = r->opts->images;

	if (v->log)
		v->log(v->ctx, warn, msg, r->image_ref, detail);
}

static void on_image(void *arg, const struct k8s_image_verdict *v)
{
	struct k8s_workload_req *r = arg;
	char err[256] = "";
	int rc = 0;

	r->image_handle = NULL;
	if (v->skipped) {
		rc = k8s_attestor_add_image_signature(NULL, r->container_id, r->attrs, err);
	} else if (v->verified) {
		if (v->n_verified > 1)
			image_log(r, false,
				  "kubernetes: image has several verified signatures; "
				  "using the first",
				  v->sig.subject);
		rc = k8s_attestor_add_image_signature(&v->sig, r->container_id, r->attrs, err);
	} else {
		/* fail open: no signature attributes, the attestation goes on */
		image_log(r, true,
			  "kubernetes: image signature not verified; no signature attributes",
			  v->reason && v->reason[0] ? v->reason : v->result);
	}
	if (rc < 0) {
		char msg[K8S_WORKLOAD_ERR_MAX];

		snprintf(msg, sizeof(msg), "kubernetes: %s", err);
		finish(r, rc, msg);
		return;
	}
	finish(r, 0, NULL);
}

/*
 * Starts verifying the image of container ref (pod and ref are valid during this call only:
 * what is needed later is copied into r). Every failure to start is a warning, not an error.
 */
static void start_image(struct k8s_workload_req *r, const struct k8s_container_ref *ref)
{
	const struct k8s_image_verifier *v = r->opts->images;
	const struct k8s_container_status *st = ref->status;
	const char *image = st && st->image && st->image[0] ? st->image
			    : ref->spec			    ? ref->spec->image
							    : NULL;
	const char *cid = r->cg.container_id[0] ? r->cg.container_id : st ? st->container_id : NULL;
	char digest[K8S_IMAGE_DIGEST_LEN], err[256];
	int rc;

	rc = k8s_attestor_image_ref(image, st ? st->image_id : NULL, r->image_ref, digest,
				    r->config_tag_ref, err);
	if (rc < 0) {
		snprintf(r->image_ref, sizeof(r->image_ref), "%s", image ? image : "(unknown)");
		image_log(r, true, "kubernetes: cannot verify the image signature", err);
		finish(r, 0, NULL);
		return;
	}
	if (!cid || !cid[0] || strlen(cid) >= sizeof(r->container_id)) {
		image_log(r, true, "kubernetes: cannot verify the image signature",
			  "the container has no container ID yet");
		finish(r, 0, NULL);
		return;
	}
	snprintf(r->container_id, sizeof(r->container_id), "%s", cid);
	/* done may run inside verify (a cached result): finish() copes, r is not touched after */
	rc = v->verify(v->ctx, r->image_ref, r->config_tag_ref, on_image, r, &r->image_handle);
	if (rc < 0) {
		image_log(r, true, "kubernetes: cannot verify the image signature", strerror(-rc));
		finish(r, 0, NULL);
	}
}

static void on_lookup(void *arg, int rc, const struct k8s_pod *pod,
		      const struct k8s_container_ref *ref, const char *err)
{
	struct k8s_workload_req *r = arg;
	char msg[K8S_WORKLOAD_ERR_MAX] = "";
	struct k8s_container_ref found;

	r->wait = NULL;
	if (rc < 0) {
		finish(r, rc, err ? err : "kubernetes: kubelet lookup failed");
		return;
	}
	if (!ref && r->cg.container_id[0] && !r->opts->attestor.disable_container_selectors) {
		rc = container_from_runtime(r, pod, &found, msg);
		if (rc < 0) {
			finish(r, rc, msg);
			return;
		}
		ref = &found;
	}
	rc = k8s_attestor_attest(pod, r->opts->attestor.disable_container_selectors ? NULL : ref,
				 &r->opts->attestor, r->attrs, msg);
	if (rc == 0 && ref && r->opts->images && r->opts->images->enabled(r->opts->images->ctx)) {
		start_image(r, ref);
		return;
	}
	finish(r, rc, rc < 0 ? msg : NULL);
}

int k8s_workload_attest(const struct k8s_workload_opts *opts, const struct peer_identity *peer,
			struct attr_set *attrs, k8s_workload_done done, void *arg,
			struct k8s_workload_req **req_out)
{
	char err[K8S_WORKLOAD_ERR_MAX] = "";
	struct k8s_workload_req *r;
	int rc;

	if (req_out)
		*req_out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->opts = opts;
	r->attrs = attrs;
	r->done = done;
	r->arg = arg;
	if (!peer->cgroup_path[0]) {
		/* Without the path nothing can be said: no Kubernetes identity, never a guess. */
		finish(r, 0, NULL);
		return 0;
	}
	rc = cgroup_parse_path(peer->cgroup_path, &r->cg, err);
	if (rc < 0) {
		char msg[K8S_WORKLOAD_ERR_MAX + 32];

		snprintf(msg, sizeof(msg), "kubernetes: cgroup path: %s", err);
		finish(r, rc, msg);
		return 0;
	}
	if (!r->cg.pod_uid[0]) {
		finish(r, 0, NULL); /* not in a pod: no k8s attributes, no error */
		return 0;
	}
	r->in_lookup = true;
	rc = kubelet_lookup(opts->kubelet, r->cg.pod_uid, r->cg.container_id,
			    r->cg.container_id[0] ? KUBELET_CONTAINER_OPTIONAL : 0,
			    opts->deadline_ms, on_lookup, r, &r->wait);
	r->in_lookup = false;
	if (r->finished) {
		free(r);
		return 0;
	}
	if (rc < 0) {
		free(r);
		return rc;
	}
	if (req_out)
		*req_out = r;
	return 0;
}

void k8s_workload_cancel(const struct k8s_workload_opts *opts, struct k8s_workload_req *req)
{
	if (!req)
		return;
	if (req->wait)
		kubelet_cancel(opts->kubelet, req->wait);
	if (req->image_handle)
		opts->images->cancel(opts->images->ctx, req->image_handle);
	free(req);
}
