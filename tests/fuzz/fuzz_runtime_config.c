// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_runtime_config.c - drives runtime_parse_config (an OCI config.json's CRI annotations) as
 * both runtimes with the same input, copied into an exact-size heap buffer so ASan catches any
 * read past len. On success every field must be NUL-terminated within its buffer and a workload
 * container must have a name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/runtime.h"

static void fuzz_check(const struct runtime_container *c, enum runtime_kind kind)
{
	if (c->runtime != kind)
		abort();
	if (strnlen(c->container_name, sizeof(c->container_name)) >= sizeof(c->container_name) ||
	    strnlen(c->pod_uid, sizeof(c->pod_uid)) >= sizeof(c->pod_uid) ||
	    strnlen(c->pod_name, sizeof(c->pod_name)) >= sizeof(c->pod_name) ||
	    strnlen(c->pod_namespace, sizeof(c->pod_namespace)) >= sizeof(c->pod_namespace) ||
	    strnlen(c->sandbox_id, sizeof(c->sandbox_id)) >= sizeof(c->sandbox_id) ||
	    strnlen(c->image, sizeof(c->image)) >= sizeof(c->image))
		abort();
	if (!c->pod_uid[0] || !c->pod_name[0] || !c->pod_namespace[0])
		abort();
	if (c->sandbox != (c->container_name[0] == '\0'))
		abort();
	if (strchr(c->container_name, '/') || strchr(c->pod_uid, '/') || strchr(c->pod_name, '/'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum runtime_kind kinds[] = {RUNTIME_CONTAINERD, RUNTIME_CRIO};
	struct runtime_container c;
	char err[256];
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		memset(&c, 0x5a, sizeof(c));
		if (runtime_parse_config(buf, size, kinds[i], "fuzz", &c, err) == 0)
			fuzz_check(&c, kinds[i]);
		else if (strnlen(err, sizeof(err)) >= sizeof(err) || err[0] == '\0')
			abort();
	}
	free(buf);
	return 0;
}
