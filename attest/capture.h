/*
 * capture.h - connect-time peer identity capture: probes the backends of DESIGN.md §3 in order
 * (lsm, fexit, connect_unix, pidfd, peercred), keeps the first that works (or the forced one),
 * pins its maps and links under a bpffs directory, and answers "who is on the other end of
 * this accepted socket?". Also loads exec/cgroup tracking so paths outlive their processes.
 * Single-threaded: call everything from the daemon's loop thread.
 */
#ifndef ATTEST_CAPTURE_H
#define ATTEST_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/peer.h"

#define CAPTURE_ERR_MAX	   256
#define CAPTURE_REASON_MAX 256

struct capture;

/* Receives libbpf's messages and capture's own notes; may be NULL. level: 0 debug .. 3 error. */
typedef void (*capture_log_fn)(void *arg, int level, const char *msg);

struct capture_opts {
	enum peer_backend backend; /* PEER_BACKEND_AUTO probes in order */
	const char *pin_dir;	   /* e.g. /sys/fs/bpf/attestd; must be on (or become) a bpffs */
	bool tracking;		   /* load exec + cgroup tracking (tp_btf) */
	bool require_race_free;	   /* never choose pidfd/peercred */
	capture_log_fn log;
	void *log_arg;
};

enum capture_backend_status {
	CAPTURE_NOT_TRIED = 0,
	CAPTURE_SKIPPED, /* tried in auto mode and did not load/attach */
	CAPTURE_FAILED,	 /* forced and did not load/attach */
	CAPTURE_CHOSEN,
};

struct capture_backend_report {
	enum capture_backend_status status;
	char reason[CAPTURE_REASON_MAX];
};

struct capture_report {
	enum peer_backend chosen;
	bool race_free; /* the chosen backend captures at connect time */
	struct capture_backend_report backends[PEER_BACKEND_COUNT]; /* index: enum peer_backend */
	bool exec_tracking;
	bool cgroup_tracking;
	char tracking_reason[CAPTURE_REASON_MAX]; /* why tracking is off, if it is */
	char cgroup2_root[PEER_PATH_MAX];	  /* mount point of the cgroup2 hierarchy */
	uint64_t exe_seeded, cgroup_seeded;	  /* entries written at start-up */
	bool pins_reused; /* maps pinned by an earlier attestd were found and reused */
};

/*
 * Probes and attaches. On failure of a forced backend (or of every backend) returns a negative
 * errno and err names the missing kernel feature, e.g. "peer.backend lsm: BPF LSM is not
 * active (add bpf to the lsm= kernel parameter): attach failed: Operation not permitted".
 * Caller frees with capture_free().
 */
int capture_open(const struct capture_opts *opts, struct capture **out, char err[CAPTURE_ERR_MAX]);

/* Describes what was probed and chosen. */
const struct capture_report *capture_get_report(const struct capture *cap);

/*
 * Registers a listening Unix socket bound at `path` (absolute), so BPF captures connects to it.
 * Call after bind() and before accepting. -ENOSPC past ATTESTD_MAX_LISTENERS.
 */
int capture_add_listener(struct capture *cap, const char *path, char err[CAPTURE_ERR_MAX]);

/*
 * Identity of the peer of an accepted socket, captured at connect time where the backend can.
 * -ENODATA: the BPF backend has no record for this socket (the client used a path the filter
 * does not match, or connected before attestd attached); err says so. Paths (exe, cgroup) are
 * filled from the tracking maps, falling back to /proc only when it provably still describes
 * the same process and file.
 */
int capture_peer(struct capture *cap, int accepted_fd, struct peer_identity *out,
		 char err[CAPTURE_ERR_MAX]);

/* Identity of a live pid read from /proc now (backend "proc", never race-free). */
int capture_pid(struct capture *cap, pid_t pid, struct peer_identity *out,
		char err[CAPTURE_ERR_MAX]);

/* Entries currently in the tracking maps (-1 when tracking is off). */
int64_t capture_exe_entries(const struct capture *cap);
int64_t capture_cgroup_entries(const struct capture *cap);

/* Detaches; with `unpin` the pins (and the pin directory) are removed, a clean shutdown.
 * Without it, pinned maps and links stay for the next attestd to reuse. NULL is fine. */
void capture_free(struct capture *cap, bool unpin);

#endif /* ATTEST_CAPTURE_H */
