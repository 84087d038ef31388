/*
 * k8s_attestor.h - the Kubernetes attestor's output: turns a pod from the kubelet's pod list (and,
 * when known, the workload's container in it) into kubernetes.* attributes. The SPIRL names are
 * kept exactly; a few more attributes carry what SPIRE's k8s selectors need, so that the
 * attrs.c table derives SPIRE's selectors (k8s:ns, k8s:pod-owner, k8s:container-image, ...)
 * from the set. Pure: no I/O, no state.
 */
#ifndef ATTEST_K8S_ATTESTOR_H
#define ATTEST_K8S_ATTESTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "attest/attrs.h"
#include "attest/k8s_pods.h"

#define K8S_ATTESTOR_MAX_PREFIXES 64

struct k8s_attestor_options {
	bool disable_container_selectors;  /* pod-level output only */
	bool include_container_attributes; /* kubernetes.container.* (SPIRL) */
	const char *const *include_annotation_prefixes;
	size_t n_include_annotation_prefixes; /* at most K8S_ATTESTOR_MAX_PREFIXES */
};

/*
 * Adds to set, for pod:
 *   kubernetes.pod.{name, namespace, uid, node.name, service_account}
 *   kubernetes.pod.{image_count, init_image_count}   count of container/init container statuses
 *   kubernetes.pod.owner = "Kind:Name", kubernetes.pod.owner_uid = UID   (the LAST owner)
 *   kubernetes.pod.owners = "Kind:Name", kubernetes.pod.owner_uids = "Kind:UID" (EVERY owner)
 *   kubernetes.pod.container.<name>.image.{name,id}, kubernetes.pod.init_container.<name>...
 *   kubernetes.pod.images, kubernetes.pod.init_images   image and imageID of every status
 *   kubernetes.pod.label[<key>], kubernetes.pod.annotation[<key>] (keys matching a prefix)
 * and, when container is not NULL and container selectors are not disabled:
 *   kubernetes.workload_container.{name, images}  (what k8s:container-name/-image come from)
 *   kubernetes.container.{name, image.name, image.id}  only with include_container_attributes
 * Empty strings are not added (an attribute value cannot be empty). container must belong to
 * pod. Returns 0, or a negative errno (attr_set_add's, e.g. -EINVAL for a label key too long for
 * an attribute name) with err naming the pod and the attribute.
 */
int k8s_attestor_attest(const struct k8s_pod *pod, const struct k8s_container_ref *container,
			const struct k8s_attestor_options *opts, struct attr_set *set,
			char err[256]);

#endif /* ATTEST_K8S_ATTESTOR_H */
