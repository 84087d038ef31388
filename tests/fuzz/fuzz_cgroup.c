// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_cgroup.c - drives cgroup_parse_proc_file() with the input as a /proc/<pid>/cgroup file
 * and cgroup_parse_path() with it as one path, checks the output's invariants, and checks that
 * a one-line file "0::<path>" and the path itself give the same answer. Inputs are copied into
 * exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/cgroup.h"

static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static void check_info(int ret, const struct cgroup_info *ci, const char err[256])
{
	size_t pod = strnlen(ci->pod_uid, sizeof(ci->pod_uid));
	size_t ctr = strnlen(ci->container_id, sizeof(ci->container_id));

	if (strnlen(err, 256) >= 256 || pod >= sizeof(ci->pod_uid) ||
	    ctr >= sizeof(ci->container_id))
		abort();
	if (ret != 0) {
		if (pod || ctr || ci->runtime || ci->qos || ci->crio_conmon || !err[0])
			abort(); /* zeroed on error, with a reason */
		return;
	}
	if (pod != 0 && pod != 32 && pod != 36)
		abort();
	if (pod == 36 && (ci->pod_uid[8] != '-' || ci->pod_uid[13] != '-' ||
			  ci->pod_uid[18] != '-' || ci->pod_uid[23] != '-'))
		abort();
	if (ctr != 0 && (ctr != 64 || !lower_hex(ci->container_id, ctr)))
		abort();
	if ((ctr == 0) != (ci->runtime == CGROUP_RUNTIME_NONE))
		abort();
	if (pod == 0 && ci->qos != CGROUP_QOS_UNKNOWN)
		abort();
	if (ci->crio_conmon && ci->runtime != CGROUP_RUNTIME_CRIO)
		abort();
}

static int same(const struct cgroup_info *a, const struct cgroup_info *b)
{
	return strcmp(a->pod_uid, b->pod_uid) == 0 &&
	       strcmp(a->container_id, b->container_id) == 0 && a->runtime == b->runtime &&
	       a->qos == b->qos && a->crio_conmon == b->crio_conmon;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1), *path = malloc(size + 1), *line = malloc(size + 3);
	struct cgroup_info a, b;
	char err[256];
	int ra, rb;

	if (!text || !path || !line)
		goto out;
	memcpy(text, data, size);
	memcpy(path, data, size);
	path[size] = '\0';

	memset(err, 0, sizeof(err));
	ra = cgroup_parse_proc_file(text, size, &a, err);
	check_info(ra, &a, err);

	memset(err, 0, sizeof(err));
	ra = cgroup_parse_path(path, &a, err);
	check_info(ra, &a, err);

	/* A one-line file says what its path says. */
	if (size <= CGROUP_PATH_MAX && !memchr(data, '\n', size) && !memchr(data, '\0', size)) {
		memcpy(line, "0::", 3);
		memcpy(line + 3, data, size);
		rb = cgroup_parse_proc_file(line, size + 3, &b, err);
		if (ra != rb || !same(&a, &b))
			abort();
	}
out:
	free(line);
	free(path);
	free(text);
	return 0;
}
