// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_pod_list.c - drives the kubelet pod-list parser, every lookup it offers, and the k8s
 * attestor plus selector derivation on every pod and container it finds. The input is copied into
 * an exact-size heap buffer (no NUL), so ASan catches any read past len.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attrs.h"
#include "attest/k8s_attestor.h"
#include "attest/k8s_pods.h"

static void attest_one(const struct k8s_pod *pod, const struct k8s_container_ref *ref)
{
	static const char *const prefixes[] = {"", "example.com/"};
	const struct k8s_attestor_options opts = {
		.include_container_attributes = true,
		.include_annotation_prefixes = prefixes,
		.n_include_annotation_prefixes = 2,
	};
	struct selectors sel;
	struct attr_set *set;
	char err[256];

	if (attr_set_new(&set) < 0)
		return;
	if (k8s_attestor_attest(pod, ref, &opts, set, err) < 0 &&
	    strnlen(err, sizeof(err)) >= sizeof(err))
		abort();
	if (attr_set_selectors(set, &sel) == 0)
		selectors_free(&sel);
	attr_set_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct k8s_pods *pods = NULL;
	char err[256];

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (k8s_pods_parse(buf, size, &pods, err) < 0) {
		if (pods || strnlen(err, sizeof(err)) >= sizeof(err) ||
		    strncmp(err, "pod list: ", 10))
			abort();
		goto out;
	}
	for (size_t i = 0; i < k8s_pods_count(pods); i++) {
		const struct k8s_pod *pod = k8s_pods_at(pods, i), *found;
		struct k8s_container_ref ref;

		if (k8s_pods_by_uid(pods, pod->uid, &found, err) == 0 &&
		    strcmp(found->uid, pod->uid))
			abort();
		attest_one(pod, NULL);
		for (int k = 0; k < K8S_CONTAINER_KINDS; k++) {
			for (size_t j = 0; j < pod->n_status[k]; j++) {
				const struct k8s_container_status *st = &pod->status[k][j];

				if (k8s_pod_container_by_name(pod, st->name, &ref) != 0)
					abort();
				attest_one(pod, &ref);
				if (!st->container_id)
					continue;
				if (k8s_pods_by_container_id(pods, st->container_id, &found, &ref,
							     err) == 0) {
					if (strcmp(ref.status->container_id, st->container_id))
						abort();
					attest_one(found, &ref);
				}
			}
			for (size_t j = 0; j < pod->n_spec[k]; j++)
				if (k8s_pod_container_by_name(pod, pod->spec[k][j].name, &ref) != 0)
					abort();
		}
	}
	k8s_pods_free(pods);
out:
	free(buf);
	return 0;
}
