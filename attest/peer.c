// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * peer.c - backend names and conversion of a BPF capture into a struct peer_identity.
 */
#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "attest/peer.h"

#define PEER_KDEV_MINOR_BITS 20
#define PEER_KDEV_MINOR_MASK ((1u << PEER_KDEV_MINOR_BITS) - 1)

static const char *const peer_backend_names[PEER_BACKEND_COUNT] = {
	[PEER_BACKEND_AUTO] = "auto",	[PEER_BACKEND_LSM] = "lsm",
	[PEER_BACKEND_FEXIT] = "fexit", [PEER_BACKEND_CONNECT_UNIX] = "connect_unix",
	[PEER_BACKEND_PIDFD] = "pidfd", [PEER_BACKEND_PEERCRED] = "peercred",
	[PEER_BACKEND_PROC] = "proc",
};

const char *peer_backend_name(enum peer_backend b)
{
	if ((unsigned int)b >= PEER_BACKEND_COUNT || !peer_backend_names[b])
		return "unknown";
	return peer_backend_names[b];
}

int peer_backend_from_name(const char *name, enum peer_backend *out)
{
	if (!name)
		return -EINVAL;
	for (unsigned int i = 0; i < PEER_BACKEND_COUNT; i++) {
		if (peer_backend_names[i] && strcmp(name, peer_backend_names[i]) == 0) {
			*out = (enum peer_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

dev_t peer_dev_from_kernel(uint32_t kdev)
{
	return makedev(kdev >> PEER_KDEV_MINOR_BITS, kdev & PEER_KDEV_MINOR_MASK);
}

void peer_identity_from_bpf(struct peer_identity *out, const struct attestd_peer_identity *in,
			    enum peer_backend backend)
{
	uint32_t n = in->ngroups;

	memset(out, 0, sizeof(*out));
	out->pid = (pid_t)in->tgid;
	out->tid = (pid_t)in->tid;
	out->start_time_ns = in->start_boottime_ns;
	out->uid = in->uid;
	out->euid = in->euid;
	out->gid = in->gid;
	out->egid = in->egid;
	if (n > ATTESTD_MAX_GROUPS)
		n = ATTESTD_MAX_GROUPS;
	out->ngroups = n;
	for (uint32_t i = 0; i < n; i++)
		out->groups[i] = in->groups[i];
	out->groups_truncated =
		in->ngroups > ATTESTD_MAX_GROUPS || (in->flags & ATTESTD_ID_GROUPS_TRUNCATED);
	out->cgroup_id = in->cgroup_id;
	out->mnt_ns = in->mnt_ns;
	out->pid_ns = in->pid_ns;
	out->net_ns = in->net_ns;
	out->user_ns = in->user_ns;
	out->exe_known = !(in->flags & ATTESTD_ID_NO_EXE);
	if (out->exe_known) {
		out->exe_dev = peer_dev_from_kernel(in->exe_dev);
		out->exe_ino = in->exe_ino;
	}
	memcpy(out->comm, in->comm, strnlen(in->comm, ATTESTD_COMM_LEN - 1));
	out->backend = backend;
	out->race_free = true;
}
