/*
 * procfs.h - the identity of a live process read from /proc, and the two peer backends that
 * need no BPF: "pidfd" (SO_PEERPIDFD + PIDFD_GET_INFO) and "peercred" (SO_PEERCRED + /proc).
 * Both read the process as it is NOW, not as it was at connect(): they are marked
 * race_free = false. Even pidfd, which pins the right process (no pid reuse), cannot see an exec
 * or setuid done after connect(), and fails once the client has exited. The text parsers are
 * pure, bounded and fuzzed (tests/fuzz/fuzz_procfs.c).
 */
#ifndef ATTEST_PROCFS_H
#define ATTEST_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/peer.h"

#define PROCFS_ROOT	       "/proc"
#define PROCFS_STAT_MAX	       4096	  /* bytes of /proc/<pid>/stat */
#define PROCFS_STATUS_MAX      (1u << 20) /* /proc/<pid>/status (65536 groups fit) */
#define PROCFS_CGROUP_MAX      (64u * 1024)
#define PROCFS_MOUNTINFO_MAX   (4u << 20)
#define PROCFS_STAT_MIN_FIELDS 22 /* starttime is field 22 */

/*
 * Reads <proc_root>/<pid>/{stat,status,cgroup,exe,ns/...} into *out (pid = tid = pid; backend and
 * race_free are left to the caller). cgroup_id is the inode of <cgroup2 mount>/<cgroup path>, the
 * mount found in <proc_root>/self/mountinfo; 0 when unknown. exe_known is false when exe cannot
 * be read (kernel thread, no permission). stat is read again at the end: a changed start time
 * means the pid was reused while reading. Returns 0; -ENOENT if the process does not exist;
 * -ESRCH if it has exited (zombie) or was replaced while reading; -EPROTO for malformed files.
 */
int procfs_read_identity(const char *proc_root, pid_t pid, struct peer_identity *out,
			 char err[256]);

/*
 * /proc/<pid>/stat: comm is the text between the first '(' and the LAST ')' (comm may hold ')'
 * and spaces), truncated to 15 bytes; starttime is field 22 in clock ticks. -EPROTO if malformed.
 */
int procfs_parse_stat(const char *text, size_t len, char comm[16], uint64_t *starttime_ticks,
		      char err[256]);
/* As procfs_parse_stat, also returning the state letter (field 3: 'R', 'S', 'Z', ...). */
int procfs_parse_stat_state(const char *text, size_t len, char comm[16], char *state,
			    uint64_t *starttime_ticks, char err[256]);
/*
 * /proc/<pid>/status: Uid/Gid (real, effective) and Groups. Sets uid, euid, gid, egid, groups,
 * ngroups (at most ATTESTD_MAX_GROUPS) and groups_truncated; leaves other fields alone. -EPROTO if
 * a line is missing, repeated or malformed.
 */
int procfs_parse_status(const char *text, size_t len, struct peer_identity *out, char err[256]);
/*
 * /proc/<pid>/cgroup: the cgroup v2 line "0::<path>" -> path (NUL-terminated). -ENOENT if there
 * is no v2 line (v1-only host), -ENAMETOOLONG if path does not fit, -EPROTO if malformed.
 */
int procfs_parse_cgroup(const char *text, size_t len, char *path, size_t path_len, char err[256]);

/*
 * Backend "peercred": SO_PEERCRED on the accepted socket, then procfs_read_identity(pid); the
 * effective uid/gid in /proc must equal the ones SO_PEERCRED recorded at connect (-ESTALE
 * otherwise). backend = PEER_BACKEND_PEERCRED, race_free = false. -ENOENT/-ESRCH when the client
 * has exited.
 */
int procfs_peer_from_peercred(int sock_fd, struct peer_identity *out, char err[256]);

/*
 * Backend "pidfd": SO_PEERPIDFD (Linux >= 6.5) pins the client process; PIDFD_GET_INFO
 * (>= 6.13; else /proc/self/fdinfo) gives its pid, credentials and cgroup id; /proc gives the
 * rest; then the pidfd proves the process is still alive, so what /proc showed was that process
 * and not a reuse of its pid. backend = PEER_BACKEND_PIDFD, race_free = false (an exec or setuid
 * after connect() is not seen). -EOPNOTSUPP when the kernel lacks SO_PEERPIDFD; -ESRCH/-ENOENT
 * when the client has exited.
 */
int procfs_peer_from_pidfd(int sock_fd, struct peer_identity *out, char err[256]);

/* Whether SO_PEERPIDFD works on this kernel (socketpair + getsockopt): 0 or -EOPNOTSUPP. */
int procfs_pidfd_probe(char err[256]);

#endif /* ATTEST_PROCFS_H */
