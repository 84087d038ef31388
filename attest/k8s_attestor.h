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

/* ---- Sigstore image signatures ------------------------------------------------------------ */

#define K8S_IMAGE_REF_MAX    512 /* bytes of an image reference with its digest, NUL included */
#define K8S_IMAGE_DIGEST_LEN 72	 /* "sha256:" + 64 hex + NUL */

/*
 * The image reference to verify for a container: "<repository>@sha256:<hex>" from the status's
 * imageID, which is "docker-pullable://repo@sha256:<hex>", "repo@sha256:<hex>", or a bare
 * "sha256:<hex>" (containerd reports the config digest that way; then the repository comes from
 * the image name, e.g. "registry:5000/app:v1" gives "registry:5000/app@sha256:<hex>"). When
 * imageID names no digest, the image name is returned as it is (a tag: the verifier resolves it
 * through the registry). digest receives "sha256:<hex>" or "".
 * config_tag_ref receives, only for a bare imageID combined with an image name that pins no
 * digest, that name as "<repository>:<tag>" (":latest" when it has no tag): the verifier may
 * resolve it when ref has no signatures, and accept the manifest it names only if that
 * manifest's config digest is the bare digest (containerd's bare imageID of an imported image
 * is its config digest, not the signed manifest digest). Else "". -EINVAL with err naming the
 * container when neither names an image, -ENAMETOOLONG when ref does not fit.
 */
int k8s_attestor_image_ref(const char *image, const char *image_id, char ref[K8S_IMAGE_REF_MAX],
			   char digest[K8S_IMAGE_DIGEST_LEN],
			   char config_tag_ref[K8S_IMAGE_REF_MAX], char err[256]);

/* A verified image signature, as the Kubernetes attestor turns it into attributes. */
struct k8s_image_signature {
	const char *subject, *issuer; /* required */
	const char *signature_b64;    /* required */
	const char *log_id_hex;	      /* NULL or "" = unknown */
	long long log_index;	      /* < 0 = unknown */
	long long integrated_time;    /* <= 0 = unknown */
	const char *set_b64;	      /* signed entry timestamp; NULL for Rekor v2 entries */
	const char *provenance_type;  /* predicateType of the verified provenance, or NULL */
};

/*
 * Adds the outcome of Sigstore validation for the workload container container_id:
 *   sig != NULL: kubernetes.image.signature.{subject, issuer, value, log_id, log_index,
 *     integrated_time, signed_entry_timestamp}, kubernetes.image.provenance.predicate_type
 *     (when provenance verified), kubernetes.workload_container.id and
 *     kubernetes.image.sigstore_validation=passed
 *   sig == NULL (the image is in skip_images): kubernetes.image.sigstore_validation=passed only.
 * attrs.c derives k8s:image-signature:verified, k8s:image-signature-subject:<s>, ...,
 * k8s:<containerID>:image-signature-content:<b64>, ... and k8s:sigstore-validation:passed.
 * Nothing is added on error (-EINVAL for a missing field, or attr_set_add's error), err says why.
 */
int k8s_attestor_add_image_signature(const struct k8s_image_signature *sig,
				     const char *container_id, struct attr_set *set, char err[256]);

#endif /* ATTEST_K8S_ATTESTOR_H */
