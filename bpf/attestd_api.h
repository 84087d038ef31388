/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * attestd_api.h - the only structures shared by the BPF programs and user space.
 * Fixed-width types, no pointers, explicit padding: tests/unit/test_bpf_api.c checks sizes and
 * offsets so that both sides (and `bpftool map dump`) agree on every field.
 */
#ifndef ATTESTD_API_H
#define ATTESTD_API_H

#ifdef __bpf__
/* vmlinux.h provides __u32 and friends */
#else
#include <linux/types.h>
#endif

#define ATTESTD_COMM_LEN	   16
#define ATTESTD_MAX_GROUPS	   32  /* supplementary groups captured; more sets a flag */
#define ATTESTD_EXE_PATH_MAX	   512 /* exe path bytes kept per exec; longer sets a flag */
#define ATTESTD_CGROUP_PATH_MAX	   512 /* cgroup path bytes kept per cgroup */
#define ATTESTD_SUN_PATH_MAX	   108
#define ATTESTD_MAX_LISTENERS	   4
#define ATTESTD_EXE_MAP_ENTRIES	   16384
#define ATTESTD_CGROUP_MAP_ENTRIES 16384
#define ATTESTD_PATH_DEPTH_MAX	   32 /* directory levels walked when rebuilding an exe path */

/* Which kernel hook produced a capture. */
enum attestd_capture_hook {
	ATTESTD_HOOK_NONE = 0,
	ATTESTD_HOOK_LSM = 1,
	ATTESTD_HOOK_FEXIT = 2,
	ATTESTD_HOOK_CONNECT_UNIX = 3,
};

/* attestd_peer_identity.flags */
#define ATTESTD_ID_GROUPS_TRUNCATED (1u << 0) /* more than ATTESTD_MAX_GROUPS groups */
#define ATTESTD_ID_NO_EXE	    (1u << 1) /* task had no mm/exe_file (kernel thread) */
#define ATTESTD_ID_COPIED	    (1u << 2) /* connect_unix: copied onto the accepted socket */

/*
 * The identity of the process that called connect(), read in its own context. Stored in socket
 * storage (BPF_MAP_TYPE_SK_STORAGE) of the socket that attestd's accept() returns.
 */
struct attestd_peer_identity {
	__u32 tgid; /* pids as seen from the initial pid namespace */
	__u32 tid;
	__u64 start_boottime_ns; /* thread-group leader's start_boottime (= /proc/<pid>/stat #22) */
	__u64 capture_boottime_ns; /* bpf_ktime_get_boot_ns() at capture */
	__u32 uid;		   /* real and effective ids, in the initial user namespace */
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u64 cgroup_id; /* cgroup v2 id (the inode number of the cgroup directory) */
	__u32 mnt_ns;	 /* namespace inode numbers, as in /proc/<pid>/ns/ */
	__u32 pid_ns;
	__u32 net_ns;
	__u32 user_ns;
	__u32 exe_dev; /* kernel-internal dev_t: major << 20 | minor */
	__u32 flags;
	__u64 exe_ino;
	__u32 hook;    /* enum attestd_capture_hook */
	__u32 ngroups; /* supplementary groups (total, may exceed ATTESTD_MAX_GROUPS) */
	__u32 groups[ATTESTD_MAX_GROUPS];
	char comm[ATTESTD_COMM_LEN];
};

/* Key of the exe map: one entry per (process, executable) pair ever exec'd. */
struct attestd_exe_key {
	__u32 tgid;
	__u32 exe_dev;	   /* kernel-internal dev_t */
	__u64 start_ticks; /* start_boottime in clock ticks: what /proc/<pid>/stat shows, so
			       * start-up seeding from /proc computes the same key */
	__u64 exe_ino;
};

/* attestd_exe_value.flags */
#define ATTESTD_EXE_TRUNCATED (1u << 0) /* path longer than ATTESTD_EXE_PATH_MAX */
#define ATTESTD_EXE_SEEDED    (1u << 1) /* written by user space at start-up, not by exec */

struct attestd_exe_value {
	__u64 exec_boottime_ns;
	__u32 flags;
	__u32 path_len; /* bytes in path, without the NUL */
	char path[ATTESTD_EXE_PATH_MAX];
};

/* cgroup map: cgroup v2 id -> path relative to the cgroup2 root, e.g. "/kubepods.slice/x". */
#define ATTESTD_CGROUP_TRUNCATED (1u << 0)
#define ATTESTD_CGROUP_REMOVED	 (1u << 1) /* rmdir seen; kept so late lookups still resolve */
#define ATTESTD_CGROUP_SEEDED	 (1u << 2)

struct attestd_cgroup_value {
	__u64 mkdir_boottime_ns;
	__u64 rmdir_boottime_ns;
	__u32 flags;
	__u32 path_len;
	char path[ATTESTD_CGROUP_PATH_MAX];
};

/*
 * The sockets attestd listens on. lsm/fexit see the listening socket and match its bound file
 * by (dev, ino) with one hash lookup; connect_unix sees only the address the client passed, so
 * it compares absolute paths (a relative path is captured anyway: it cannot be resolved here).
 */
struct attestd_listener_key {
	__u64 ino;
	__u32 dev; /* kernel-internal dev_t */
	__u32 pad;
};

struct attestd_listener_path {
	__u32 len; /* 0 = unused slot */
	char path[ATTESTD_SUN_PATH_MAX];
};

/* Single-entry array: whose getsockname() copies captures (attestd's own tgid). */
struct attestd_config {
	__u32 daemon_tgid;
	__u32 pad;
};

/* Map sizes not derived from the above. */
#define ATTESTD_MAX_LISTEN_INODES ATTESTD_MAX_LISTENERS

#endif /* ATTESTD_API_H */
