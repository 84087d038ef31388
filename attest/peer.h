/*
 * peer.h - what attestd knows about the process on the other end of a connection.
 * A struct peer_identity is filled by a capture backend (attest/capture.h) or from /proc
 * (attest/procfs.h), and is the only input the attestors read. It is plain data: no pointers,
 * safe to copy to the worker pool.
 */
#ifndef ATTEST_PEER_H
#define ATTEST_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "bpf/attestd_api.h"

enum peer_backend {
	PEER_BACKEND_AUTO = 0,
	PEER_BACKEND_LSM,
	PEER_BACKEND_FEXIT,
	PEER_BACKEND_CONNECT_UNIX,
	PEER_BACKEND_PIDFD,
	PEER_BACKEND_PEERCRED,
	PEER_BACKEND_PROC, /* /v1/attest?pid=N: read from /proc now, not at connect time */
	PEER_BACKEND_COUNT,
};

/* "lsm", "fexit", ... ; "auto" for PEER_BACKEND_AUTO. Never NULL. */
const char *peer_backend_name(enum peer_backend b);
/* Parses a name from peer_backend_name(); -EINVAL if unknown. */
int peer_backend_from_name(const char *name, enum peer_backend *out);

#define PEER_PATH_MAX 4096

struct peer_identity {
	pid_t pid; /* tgid, initial pid namespace */
	pid_t tid;
	uint64_t start_time_ns; /* boot-time based, like /proc/<pid>/stat starttime */
	uid_t uid, euid;
	gid_t gid, egid;
	uint32_t ngroups; /* entries in groups[]; see groups_truncated */
	gid_t groups[ATTESTD_MAX_GROUPS];
	bool groups_truncated;
	uint64_t cgroup_id;		 /* 0 = unknown */
	char cgroup_path[PEER_PATH_MAX]; /* relative to the cgroup2 root; "" = unknown */
	uint32_t mnt_ns, pid_ns, net_ns, user_ns;
	dev_t exe_dev; /* user-space dev_t (as in struct stat) */
	uint64_t exe_ino;
	bool exe_known;		      /* exe_dev/exe_ino valid */
	char exe_path[PEER_PATH_MAX]; /* "" = unknown */
	char comm[ATTESTD_COMM_LEN];
	enum peer_backend backend;
	bool race_free; /* captured at connect time, immune to exit/exec/pid reuse */
};

/* Fills the user-space fields from a BPF capture (paths are looked up separately). */
void peer_identity_from_bpf(struct peer_identity *out, const struct attestd_peer_identity *in,
			    enum peer_backend backend);

/* Converts the kernel-internal dev_t (major << 20 | minor) BPF reads to a user-space dev_t. */
dev_t peer_dev_from_kernel(uint32_t kdev);

#endif /* ATTEST_PEER_H */
