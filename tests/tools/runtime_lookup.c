// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * runtime_lookup - a test CLI over attest/runtime: resolves a container ID through the
 * runtimes' state directories and prints one JSON object.
 *
 *   runtime_lookup [--containerd-state DIR] [--crio-state DIR] CONTAINER_ID
 *
 * Success: {"ret":0,"runtime":"containerd","sandbox":false,"container_name":...,"pod_uid":...,
 * "pod_name":...,"pod_namespace":...,"sandbox_id":...,"image":...}, exit 0.
 * Failure: {"ret":-2,"errno":"ENOENT"...,"error":"..."}, exit 1. Usage errors: exit 2.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/runtime.h"

int main(int argc, char **argv)
{
	struct runtime_paths paths = {NULL, NULL};
	struct runtime_container c;
	const char *id = NULL;
	char err[256] = "";
	bool usage = false;
	json_t *o;
	char *s;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--containerd-state") == 0 && i + 1 < argc)
			paths.containerd_state = argv[++i];
		else if (strcmp(argv[i], "--crio-state") == 0 && i + 1 < argc)
			paths.crio_state = argv[++i];
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			usage = true;
	}
	if (!id || usage) {
		fprintf(stderr, "usage: %s [--containerd-state DIR] [--crio-state DIR] ID\n",
			argv[0]);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	ret = runtime_lookup(&paths, id, &c, err);
	if (ret == 0)
		o = json_pack("{s:i, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:s}", "ret", ret,
			      "runtime", runtime_kind_name(c.runtime), "sandbox", c.sandbox,
			      "container_name", c.container_name, "pod_uid", c.pod_uid, "pod_name",
			      c.pod_name, "pod_namespace", c.pod_namespace, "sandbox_id",
			      c.sandbox_id, "image", c.image);
	else
		o = json_pack("{s:i, s:s, s:s}", "ret", ret, "errno", strerrorname_np(-ret) ?: "?",
			      "error", err);
	s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!s) {
		fprintf(stderr, "runtime_lookup: cannot encode the result\n");
		json_decref(o);
		return 2;
	}
	puts(s);
	free(s);
	json_decref(o);
	return ret == 0 ? 0 : 1;
}
