// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * k8s_attestor.c - kubernetes.* attributes from a pod and, optionally, the workload's container.
 * See k8s_attestor.h for the names; attrs.c holds the rows that turn them into k8s:* selectors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "attest/k8s_attestor.h"

struct emit {
	const struct k8s_pod *pod;
	struct attr_set *set;
	char *err;
};

/* Adds value under the printf-formatted name; NULL or empty values are skipped. */
__attribute__((format(printf, 3, 4))) static int emit(struct emit *e, const char *value,
						      const char *fmt, ...)
{
	char name[ATTR_NAME_MAX];
	va_list ap;
	int n, ret;

	/* Keyed names (labels, annotations) may carry an empty value; others are omitted. */
	if (!value || (!value[0] && fmt[strlen(fmt) - 1] != ']'))
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		ret = -ENAMETOOLONG;
		snprintf(e->err, 256,
			 "kubernetes: pod %.60s/%.60s: attribute name %.60s... is longer "
			 "than %d bytes",
			 e->pod->ns ? e->pod->ns : "", e->pod->name ? e->pod->name : "", name,
			 ATTR_NAME_MAX - 1);
		return ret;
	}
	if (strlen(value) >= ATTR_VALUE_MAX) {
		snprintf(e->err, 256,
			 "kubernetes: pod %.60s/%.60s: %.80s: value longer than %d bytes",
			 e->pod->ns ? e->pod->ns : "", e->pod->name ? e->pod->name : "", name,
			 ATTR_VALUE_MAX - 1);
		return -E2BIG;
	}
	ret = attr_set_add(e->set, name, value);
	if (ret < 0)
		snprintf(e->err, 256, "kubernetes: pod %.60s/%.60s: %.80s: %s",
			 e->pod->ns ? e->pod->ns : "", e->pod->name ? e->pod->name : "", name,
			 strerror(-ret));
	return ret;
}

/* "<a>:<b>" as a value; either part NULL or empty gives no value. */
static int emit_pair(struct emit *e, const char *name, const char *a, const char *b)
{
	char v[ATTR_VALUE_MAX];
	int n;

	if (!a || !a[0] || !b || !b[0])
		return 0;
	n = snprintf(v, sizeof(v), "%s:%s", a, b);
	if (n < 0 || (size_t)n >= sizeof(v)) {
		snprintf(e->err, 256, "kubernetes: pod %.60s/%.60s: %s: value longer than %d bytes",
			 e->pod->ns ? e->pod->ns : "", e->pod->name ? e->pod->name : "", name,
			 ATTR_VALUE_MAX - 1);
		return -E2BIG;
	}
	return emit(e, v, "%s", name);
}

static int emit_pod(struct emit *e, const struct k8s_attestor_options *opts)
{
	static const char *const list_attr[] = {
		[K8S_CONTAINER] = "kubernetes.pod.container",
		[K8S_INIT_CONTAINER] = "kubernetes.pod.init_container",
	};
	static const char *const images_attr[] = {
		[K8S_CONTAINER] = "kubernetes.pod.images",
		[K8S_INIT_CONTAINER] = "kubernetes.pod.init_images",
	};
	const struct k8s_pod *pod = e->pod;
	const struct k8s_owner *last;
	char count[32];
	int ret = 0;

	ret = emit(e, pod->name, "kubernetes.pod.name");
	if (ret == 0)
		ret = emit(e, pod->ns, "kubernetes.pod.namespace");
	if (ret == 0)
		ret = emit(e, pod->uid, "kubernetes.pod.uid");
	if (ret == 0)
		ret = emit(e, pod->node_name, "kubernetes.pod.node.name");
	if (ret == 0)
		ret = emit(e, pod->service_account, "kubernetes.pod.service_account");
	snprintf(count, sizeof(count), "%zu", pod->n_status[K8S_CONTAINER]);
	if (ret == 0)
		ret = emit(e, count, "kubernetes.pod.image_count");
	snprintf(count, sizeof(count), "%zu", pod->n_status[K8S_INIT_CONTAINER]);
	if (ret == 0)
		ret = emit(e, count, "kubernetes.pod.init_image_count");
	if (ret < 0)
		return ret;

	if (pod->n_owners) {
		last = &pod->owners[pod->n_owners - 1];
		ret = emit_pair(e, "kubernetes.pod.owner", last->kind, last->name);
		if (ret == 0)
			ret = emit(e, last->uid, "kubernetes.pod.owner_uid");
	}
	for (size_t i = 0; ret == 0 && i < pod->n_owners; i++) {
		ret = emit_pair(e, "kubernetes.pod.owners", pod->owners[i].kind,
				pod->owners[i].name);
		if (ret == 0)
			ret = emit_pair(e, "kubernetes.pod.owner_uids", pod->owners[i].kind,
					pod->owners[i].uid);
	}
	if (ret < 0)
		return ret;

	for (int k = K8S_CONTAINER; k <= K8S_INIT_CONTAINER; k++) {
		for (size_t i = 0; ret == 0 && i < pod->n_status[k]; i++) {
			const struct k8s_container_status *st = &pod->status[k][i];

			ret = emit(e, st->image, "%s.%s.image.name", list_attr[k], st->name);
			if (ret == 0)
				ret = emit(e, st->image_id, "%s.%s.image.id", list_attr[k],
					   st->name);
			/* SPIRE's order within the pod-image set: imageID, then image. */
			if (ret == 0)
				ret = emit(e, st->image_id, "%s", images_attr[k]);
			if (ret == 0)
				ret = emit(e, st->image, "%s", images_attr[k]);
		}
		/* A spec container the kubelet reports no status for yet: its image name. */
		for (size_t i = 0; ret == 0 && i < pod->n_spec[k]; i++) {
			const struct k8s_container_spec *sp = &pod->spec[k][i];
			bool has_status = false;

			for (size_t j = 0; j < pod->n_status[k] && !has_status; j++)
				has_status = strcmp(pod->status[k][j].name, sp->name) == 0;
			if (!has_status)
				ret = emit(e, sp->image, "%s.%s.image.name", list_attr[k],
					   sp->name);
		}
		if (ret < 0)
			return ret;
	}

	for (size_t i = 0; ret == 0 && i < pod->n_labels; i++)
		ret = emit(e, pod->labels[i].value, "kubernetes.pod.label[%s]", pod->labels[i].key);
	for (size_t i = 0; ret == 0 && i < pod->n_annotations; i++) {
		const char *key = pod->annotations[i].key;

		for (size_t p = 0; p < opts->n_include_annotation_prefixes; p++) {
			const char *prefix = opts->include_annotation_prefixes[p];

			if (strncmp(key, prefix, strlen(prefix)) == 0) {
				ret = emit(e, pod->annotations[i].value,
					   "kubernetes.pod.annotation[%s]", key);
				break;
			}
		}
	}
	return ret;
}

static int emit_container(struct emit *e, const struct k8s_container_ref *c,
			  const struct k8s_attestor_options *opts)
{
	const char *name = c->status ? c->status->name : c->spec->name;
	const char *image = c->status ? c->status->image : c->spec->image;
	const char *image_id = c->status ? c->status->image_id : NULL;
	int ret;

	/* A status that lacks the image (never seen from a kubelet): fall back to the spec. */
	if ((!image || !image[0]) && c->spec)
		image = c->spec->image;
	ret = emit(e, name, "kubernetes.workload_container.name");
	if (ret == 0)
		ret = emit(e, image_id, "kubernetes.workload_container.images");
	if (ret == 0)
		ret = emit(e, image, "kubernetes.workload_container.images");
	if (ret < 0 || !opts->include_container_attributes)
		return ret;
	ret = emit(e, name, "kubernetes.container.name");
	if (ret == 0)
		ret = emit(e, image, "kubernetes.container.image.name");
	if (ret == 0)
		ret = emit(e, image_id, "kubernetes.container.image.id");
	return ret;
}

int k8s_attestor_attest(const struct k8s_pod *pod, const struct k8s_container_ref *container,
			const struct k8s_attestor_options *opts, struct attr_set *set,
			char err[256])
{
	static const struct k8s_attestor_options defaults = {0};
	struct emit e = {.pod = pod, .set = set, .err = err};
	int ret;

	err[0] = '\0';
	if (!opts)
		opts = &defaults;
	if (opts->n_include_annotation_prefixes > K8S_ATTESTOR_MAX_PREFIXES ||
	    (opts->n_include_annotation_prefixes && !opts->include_annotation_prefixes)) {
		snprintf(err, 256, "kubernetes: more than %d annotation prefixes",
			 K8S_ATTESTOR_MAX_PREFIXES);
		return -EINVAL;
	}
	if (container && !container->spec && !container->status) {
		snprintf(err, 256, "kubernetes: empty container reference");
		return -EINVAL;
	}
	ret = emit_pod(&e, opts);
	if (ret == 0 && container && !opts->disable_container_selectors)
		ret = emit_container(&e, container, opts);
	return ret;
}

/* ---- Sigstore image signatures ------------------------------------------------------------ */

/* "sha256:" followed by exactly 64 lower-case hex digits, then end of string. */
static bool is_sha256_digest(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0)
		return false;
	for (size_t i = 7; i < 7 + 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[7 + 64] == '\0';
}

/* The repository of an image name: without "@digest" and without ":tag". Returns its length. */
static size_t image_repository_len(const char *image)
{
	size_t n = strcspn(image, "@");
	const char *slash, *colon;

	slash = memrchr(image, '/', n);
	colon = memrchr(slash ? slash : image, ':', n - (size_t)((slash ? slash : image) - image));
	return colon ? (size_t)(colon - image) : n;
}

int k8s_attestor_image_ref(const char *image, const char *image_id, char ref[K8S_IMAGE_REF_MAX],
			   char digest[K8S_IMAGE_DIGEST_LEN],
			   char config_tag_ref[K8S_IMAGE_REF_MAX], char err[256])
{
	const char *id = image_id && image_id[0] ? image_id : NULL, *at;
	size_t repo_len;
	int n;

	err[0] = '\0';
	ref[0] = '\0';
	digest[0] = '\0';
	config_tag_ref[0] = '\0';
	if (image && !image[0])
		image = NULL;
	if (id && strstr(id, "://"))
		id = strstr(id, "://") + 3;
	if (id && (at = strchr(id, '@')) && at != id) {
		/* repo@sha256:<hex>: the manifest digest the runtime pulled */
		if (!is_sha256_digest(at + 1)) {
			snprintf(err, 256, "imageID %.200s: not a sha256 digest", image_id);
			return -EINVAL;
		}
		n = snprintf(ref, K8S_IMAGE_REF_MAX, "%s", id);
		if (n < 0 || n >= K8S_IMAGE_REF_MAX)
			goto too_long;
		memcpy(digest, at + 1, K8S_IMAGE_DIGEST_LEN - 1);
		digest[K8S_IMAGE_DIGEST_LEN - 1] = '\0';
		return 0;
	}
	if (image && (at = strchr(image, '@')) && is_sha256_digest(at + 1)) {
		/* the pod spec pins a digest: that is the manifest digest */
		n = snprintf(ref, K8S_IMAGE_REF_MAX, "%s", image);
		if (n < 0 || n >= K8S_IMAGE_REF_MAX)
			goto too_long;
		memcpy(digest, at + 1, K8S_IMAGE_DIGEST_LEN - 1);
		digest[K8S_IMAGE_DIGEST_LEN - 1] = '\0';
		return 0;
	}
	if (id && is_sha256_digest(id)) {
		if (!image) {
			snprintf(err, 256,
				 "imageID %.80s has no repository and the image name is "
				 "unknown",
				 image_id);
			return -EINVAL;
		}
		repo_len = image_repository_len(image);
		n = snprintf(ref, K8S_IMAGE_REF_MAX, "%.*s@%s", (int)repo_len, image, id);
		if (n < 0 || n >= K8S_IMAGE_REF_MAX)
			goto too_long;
		snprintf(digest, K8S_IMAGE_DIGEST_LEN, "%s", id);
		/*
		 * The bare digest may be the config digest (containerd, an image imported without
		 * a repo digest): the tag in the name is what the verifier may fall back to. Only
		 * a plain name (no "@"), and only when it fits; else no fallback.
		 */
		if (!strchr(image, '@')) {
			n = snprintf(config_tag_ref, K8S_IMAGE_REF_MAX, "%s%s", image,
				     image[repo_len] == ':' ? "" : ":latest");
			if (n < 0 || n >= K8S_IMAGE_REF_MAX)
				config_tag_ref[0] = '\0';
		}
		return 0;
	}
	if (id) {
		snprintf(err, 256, "imageID %.200s: not a sha256 digest", image_id);
		return -EINVAL;
	}
	if (!image) {
		snprintf(err, 256, "neither an imageID nor an image name");
		return -EINVAL;
	}
	/* a tag only: the verifier resolves it to a digest through the registry */
	n = snprintf(ref, K8S_IMAGE_REF_MAX, "%s", image);
	if (n < 0 || n >= K8S_IMAGE_REF_MAX)
		goto too_long;
	return 0;
too_long:
	ref[0] = '\0';
	digest[0] = '\0';
	config_tag_ref[0] = '\0';
	snprintf(err, 256, "image reference of %.100s is longer than %d bytes",
		 image_id ? image_id : image, K8S_IMAGE_REF_MAX - 1);
	return -ENAMETOOLONG;
}

int k8s_attestor_add_image_signature(const struct k8s_image_signature *sig,
				     const char *container_id, struct attr_set *set, char err[256])
{
	char num[32];
	int ret = 0;

	err[0] = '\0';
	if (!sig)
		goto passed;
	if (!sig->subject || !sig->subject[0] || !sig->issuer || !sig->issuer[0] ||
	    !sig->signature_b64 || !sig->signature_b64[0]) {
		snprintf(err, 256, "image signature: subject, issuer or signature missing");
		return -EINVAL;
	}
	if (!container_id || !container_id[0]) {
		snprintf(err, 256, "image signature: the container ID is unknown");
		return -EINVAL;
	}
	if (strlen(sig->subject) >= ATTR_VALUE_MAX || strlen(sig->issuer) >= ATTR_VALUE_MAX ||
	    strlen(sig->signature_b64) >= ATTR_VALUE_MAX ||
	    (sig->set_b64 && strlen(sig->set_b64) >= ATTR_VALUE_MAX) ||
	    (sig->provenance_type && strlen(sig->provenance_type) >= ATTR_VALUE_MAX)) {
		snprintf(err, 256, "image signature: a value is longer than %d bytes",
			 ATTR_VALUE_MAX - 1);
		return -E2BIG;
	}
	ret = attr_set_add(set, "kubernetes.workload_container.id", container_id);
	if (ret == 0)
		ret = attr_set_add(set, "kubernetes.image.signature.subject", sig->subject);
	if (ret == 0)
		ret = attr_set_add(set, "kubernetes.image.signature.issuer", sig->issuer);
	if (ret == 0)
		ret = attr_set_add(set, "kubernetes.image.signature.value", sig->signature_b64);
	if (ret == 0 && sig->log_id_hex && sig->log_id_hex[0])
		ret = attr_set_add(set, "kubernetes.image.signature.log_id", sig->log_id_hex);
	if (ret == 0 && sig->log_index >= 0) {
		snprintf(num, sizeof(num), "%lld", sig->log_index);
		ret = attr_set_add(set, "kubernetes.image.signature.log_index", num);
	}
	if (ret == 0 && sig->integrated_time > 0) {
		snprintf(num, sizeof(num), "%lld", sig->integrated_time);
		ret = attr_set_add(set, "kubernetes.image.signature.integrated_time", num);
	}
	if (ret == 0 && sig->set_b64 && sig->set_b64[0])
		ret = attr_set_add(set, "kubernetes.image.signature.signed_entry_timestamp",
				   sig->set_b64);
	if (ret == 0 && sig->provenance_type && sig->provenance_type[0])
		ret = attr_set_add(set, "kubernetes.image.provenance.predicate_type",
				   sig->provenance_type);
	if (ret < 0)
		goto fail;
passed:
	ret = attr_set_add(set, "kubernetes.image.sigstore_validation", "passed");
	if (ret == 0)
		return 0;
fail:
	snprintf(err, 256, "image signature attributes: %s", strerror(-ret));
	return ret;
}
