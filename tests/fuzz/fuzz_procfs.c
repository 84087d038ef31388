// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_procfs.c - drives the /proc text parsers (stat, status, cgroup) with the same input.
 * The input is copied into an exact-size heap buffer, so ASan catches any read past len.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peer_identity *p = calloc(1, sizeof(*p));
	char *buf = malloc(size ? size : 1);
	char comm[16], err[256], path[64], state;
	uint64_t start;

	if (!p || !buf)
		goto out;
	memcpy(buf, data, size);

	if (procfs_parse_stat_state(buf, size, comm, &state, &start, err) == 0 &&
	    strlen(comm) >= sizeof(comm))
		abort();
	if (procfs_parse_status(buf, size, p, err) == 0 && p->ngroups > ATTESTD_MAX_GROUPS)
		abort();
	if (procfs_parse_cgroup(buf, size, path, sizeof(path), err) == 0 &&
	    (path[0] != '/' || strlen(path) >= sizeof(path)))
		abort();
	/* A one-byte path buffer: nothing fits but the NUL. */
	if (procfs_parse_cgroup(buf, size, path, 1, err) == 0)
		abort();
	if (strnlen(err, sizeof(err)) >= sizeof(err))
		abort();
out:
	free(buf);
	free(p);
	return 0;
}
