// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * procfs.c - process identity from /proc, and the pidfd / peercred peer backends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/types.h>

#include "attest/procfs.h"

#define PROCFS_ERR_LEN	       256
#define PROCFS_READ_CHUNK      4096
#define PROCFS_FDINFO_MAX      4096
#define PROCFS_MOUNT_FIELDS    4 /* id parent maj:min root: the mount point is the next field */
#define PROCFS_NS_COUNT	       4
#define PROCFS_CLK_TCK_DFLT    100
#define PROCFS_NSEC_PER_SEC    1000000000ull
#define PROCFS_STATE_FIELD     3
#define PROCFS_STARTTIME_FIELD PROCFS_STAT_MIN_FIELDS

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* struct pidfd_info, PIDFD_INFO_SIZE_VER0 (Linux 6.13, include/uapi/linux/pidfd.h). The kernel
 * accepts any size >= 64 encoded in the ioctl number, so this private copy stays valid. */
struct procfs_pidfd_info {
	__u64 mask;
	__u64 cgroupid;
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 ruid;
	__u32 rgid;
	__u32 euid;
	__u32 egid;
	__u32 suid;
	__u32 sgid;
	__u32 fsuid;
	__u32 fsgid;
	__u32 spare0;
};
_Static_assert(sizeof(struct procfs_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
#define PROCFS_PIDFS_IOCTL_MAGIC   0xFF
#define PROCFS_PIDFD_GET_INFO	   _IOWR(PROCFS_PIDFS_IOCTL_MAGIC, 11, struct procfs_pidfd_info)
#define PROCFS_PIDFD_INFO_PID	   (1ull << 0)
#define PROCFS_PIDFD_INFO_CREDS	   (1ull << 1)
#define PROCFS_PIDFD_INFO_CGROUPID (1ull << 2)

/* ---- small helpers ------------------------------------------------------------------------ */

static bool procfs_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Strict unsigned decimal: digits only, no sign, no overflow past max. */
static bool procfs_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned int d;

		if (!procfs_is_digit(s[i]))
			return false;
		d = (unsigned int)(s[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Reads a whole (proc) file of at most max bytes. Caller frees *buf (NUL-terminated). */
static int procfs_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	size_t cap = PROCFS_READ_CHUNK, n = 0;
	char *b = NULL;
	int fd, ret;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap || !b) {
			char *nb;

			if (b)
				cap *= 2;
			if (cap > max + 2)
				cap = max + 2;
			nb = realloc(b, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			b = nb;
		}
		r = read(fd, b + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			ret = -EFBIG;
			goto out;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	ret = 0;
out:
	free(b);
	close(fd);
	return ret;
}

/* ---- parsers ------------------------------------------------------------------------------ */

int procfs_parse_stat_state(const char *text, size_t len, char comm[16], char *state,
			    uint64_t *starttime_ticks, char err[256])
{
	const char *open, *close, *p, *end = text + len;
	size_t i = 0, clen;
	unsigned int field;
	bool have_start = false;

	comm[0] = '\0';
	if (len > PROCFS_STAT_MAX) {
		snprintf(err, PROCFS_ERR_LEN, "stat: %zu bytes, more than %u", len,
			 PROCFS_STAT_MAX);
		return -EPROTO;
	}
	while (i < len && procfs_is_digit(text[i]))
		i++;
	if (i == 0 || i + 1 >= len || text[i] != ' ' || text[i + 1] != '(') {
		snprintf(err, PROCFS_ERR_LEN, "stat: expected \"<pid> (<comm>)\" at the start");
		return -EPROTO;
	}
	open = text + i + 1;
	close = memrchr(open, ')', (size_t)(end - open));
	if (!close) {
		snprintf(err, PROCFS_ERR_LEN, "stat: comm has no closing ')'");
		return -EPROTO;
	}
	clen = (size_t)(close - open - 1);
	if (clen > ATTESTD_COMM_LEN - 1)
		clen = ATTESTD_COMM_LEN - 1;
	memcpy(comm, open + 1, clen);
	comm[clen] = '\0';

	p = close + 1;
	for (field = PROCFS_STATE_FIELD; field <= PROCFS_STARTTIME_FIELD; field++) {
		const char *tok;
		size_t tlen;

		if (p >= end || *p != ' ') {
			snprintf(err, PROCFS_ERR_LEN, "stat: field %u missing", field);
			return -EPROTO;
		}
		tok = ++p;
		while (p < end && *p != ' ' && *p != '\n')
			p++;
		tlen = (size_t)(p - tok);
		if (tlen == 0) {
			snprintf(err, PROCFS_ERR_LEN, "stat: field %u is empty", field);
			return -EPROTO;
		}
		if (field == PROCFS_STATE_FIELD) {
			if (tlen != 1) {
				snprintf(err, PROCFS_ERR_LEN, "stat: state is not one letter");
				return -EPROTO;
			}
			*state = tok[0];
		} else if (field == PROCFS_STARTTIME_FIELD) {
			have_start = procfs_parse_u64(tok, tlen, UINT64_MAX, starttime_ticks);
		}
	}
	if (!have_start) {
		snprintf(err, PROCFS_ERR_LEN, "stat: field %u (starttime) is not a number",
			 PROCFS_STARTTIME_FIELD);
		return -EPROTO;
	}
	return 0;
}

int procfs_parse_stat(const char *text, size_t len, char comm[16], uint64_t *starttime_ticks,
		      char err[256])
{
	char state;

	return procfs_parse_stat_state(text, len, comm, &state, starttime_ticks, err);
}

/* Parses whitespace-separated u32 ids from [p, end) into ids (at most max stored); *total gets
 * the count seen. false on a malformed number. */
static bool procfs_parse_ids(const char *p, const char *end, uint32_t *ids, size_t max,
			     size_t *total)
{
	size_t n = 0;

	for (;;) {
		const char *tok;
		uint64_t v;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end)
			break;
		tok = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		if (!procfs_parse_u64(tok, (size_t)(p - tok), UINT32_MAX, &v))
			return false;
		if (n < max)
			ids[n] = (uint32_t)v;
		n++;
	}
	*total = n;
	return true;
}

int procfs_parse_status(const char *text, size_t len, struct peer_identity *out, char err[256])
{
	static const char *const keys[] = {"Uid:", "Gid:", "Groups:"};
	const char *p = text, *end = text + len;
	bool seen[3] = {false, false, false};
	uint32_t ids[ATTESTD_MAX_GROUPS];
	size_t total;

	if (len > PROCFS_STATUS_MAX) {
		snprintf(err, PROCFS_ERR_LEN, "status: %zu bytes, more than %u", len,
			 PROCFS_STATUS_MAX);
		return -EPROTO;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		for (size_t k = 0; k < 3; k++) {
			size_t klen = strlen(keys[k]);

			if ((size_t)(eol - p) < klen || memcmp(p, keys[k], klen) != 0)
				continue;
			if (seen[k]) {
				snprintf(err, PROCFS_ERR_LEN, "status: %s line repeated", keys[k]);
				return -EPROTO;
			}
			seen[k] = true;
			if (!procfs_parse_ids(p + klen, eol, ids, k == 2 ? ATTESTD_MAX_GROUPS : 2,
					      &total) ||
			    (k < 2 && total != 4)) {
				snprintf(err, PROCFS_ERR_LEN, "status: %s line malformed", keys[k]);
				return -EPROTO;
			}
			if (k == 0) {
				out->uid = ids[0];
				out->euid = ids[1];
			} else if (k == 1) {
				out->gid = ids[0];
				out->egid = ids[1];
			} else {
				out->ngroups = total < ATTESTD_MAX_GROUPS ? (uint32_t)total
									  : ATTESTD_MAX_GROUPS;
				for (uint32_t g = 0; g < out->ngroups; g++)
					out->groups[g] = ids[g];
				out->groups_truncated = total > ATTESTD_MAX_GROUPS;
			}
		}
		p = nl ? nl + 1 : end;
	}
	for (size_t k = 0; k < 3; k++) {
		if (!seen[k]) {
			snprintf(err, PROCFS_ERR_LEN, "status: no %s line", keys[k]);
			return -EPROTO;
		}
	}
	return 0;
}

int procfs_parse_cgroup(const char *text, size_t len, char *path, size_t path_len, char err[256])
{
	const char *p = text, *end = text + len, *found = NULL;
	size_t flen = 0;

	if (path_len)
		path[0] = '\0';
	if (len > PROCFS_CGROUP_MAX) {
		snprintf(err, PROCFS_ERR_LEN, "cgroup: %zu bytes, more than %u", len,
			 PROCFS_CGROUP_MAX);
		return -EPROTO;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if (eol - p >= 3 && memcmp(p, "0::", 3) == 0) {
			if (found) {
				snprintf(err, PROCFS_ERR_LEN, "cgroup: more than one \"0::\" line");
				return -EPROTO;
			}
			found = p + 3;
			flen = (size_t)(eol - found);
		}
		p = nl ? nl + 1 : end;
	}
	if (!found) {
		snprintf(err, PROCFS_ERR_LEN, "cgroup: no cgroup v2 (\"0::\") line");
		return -ENOENT;
	}
	if (flen == 0 || found[0] != '/' || memchr(found, '\0', flen)) {
		snprintf(err, PROCFS_ERR_LEN, "cgroup: v2 path is not an absolute path");
		return -EPROTO;
	}
	if (flen >= path_len) {
		snprintf(err, PROCFS_ERR_LEN, "cgroup: v2 path of %zu bytes does not fit in %zu",
			 flen, path_len);
		return -ENAMETOOLONG;
	}
	memcpy(path, found, flen);
	path[flen] = '\0';
	return 0;
}

/* Copies a mountinfo field, decoding the kernel's \ooo octal escapes. false if it does not fit. */
static bool procfs_unescape(const char *s, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
		    s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= out_len)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

/*
 * Finds the first cgroup2 mount in mountinfo text ("id parent maj:min root mountpoint options
 * [optional...] - fstype source superopts"): its mount point and root. -ENOENT if none.
 */
static int procfs_find_cgroup2(const char *text, size_t len, char *mnt, size_t mnt_len, char *root,
			       size_t root_len)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *f[PROCFS_MOUNT_FIELDS + 1], *fe[PROCFS_MOUNT_FIELDS + 1], *q = p, *sep;
		int nf = 0;

		while (nf <= PROCFS_MOUNT_FIELDS && q < eol) {
			f[nf] = q;
			while (q < eol && *q != ' ')
				q++;
			fe[nf++] = q;
			if (q < eol)
				q++;
		}
		/* q is now at the options field; " - " ends the optional fields. */
		sep = nf > PROCFS_MOUNT_FIELDS && q < eol ? memmem(q, (size_t)(eol - q), " - ", 3)
							  : NULL;
		if (sep && (size_t)(eol - sep) > 3 + 8 && memcmp(sep + 3, "cgroup2 ", 8) == 0 &&
		    procfs_unescape(f[3], (size_t)(fe[3] - f[3]), root, root_len) &&
		    procfs_unescape(f[4], (size_t)(fe[4] - f[4]), mnt, mnt_len))
			return 0;
		p = nl ? nl + 1 : end;
	}
	return -ENOENT;
}

/* Inode of the cgroup2 directory for cgroup path cg (as in /proc/<pid>/cgroup); 0 if unknown. */
static uint64_t procfs_cgroup_id(const char *proc_root, const char *cg)
{
	char path[PATH_MAX], mnt[PATH_MAX], root[PATH_MAX], *text = NULL;
	size_t len, rlen;
	struct stat st;
	uint64_t id = 0;
	int n;

	if ((size_t)snprintf(path, sizeof(path), "%s/self/mountinfo", proc_root) >= sizeof(path))
		goto out;
	if (procfs_read_file(path, PROCFS_MOUNTINFO_MAX, &text, &len) < 0)
		goto out;
	if (procfs_find_cgroup2(text, len, mnt, sizeof(mnt), root, sizeof(root)) < 0)
		goto out;
	/* A mount of a subtree (root != "/") sees only paths below its root. */
	rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (rlen && (strncmp(cg, root, rlen) != 0 || (cg[rlen] != '/' && cg[rlen] != '\0')))
		goto out;
	n = snprintf(path, sizeof(path), "%s%s", mnt, cg + rlen);
	if (n < 0 || (size_t)n >= sizeof(path))
		goto out;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		id = (uint64_t)st.st_ino;
out:
	free(text);
	return id;
}

/* ---- reading a live process --------------------------------------------------------------- */

static int procfs_read_stat(const char *proc_root, pid_t pid, char comm[16], char *state,
			    uint64_t *start, char err[PROCFS_ERR_LEN])
{
	char path[PATH_MAX], sub[PROCFS_ERR_LEN], *text = NULL;
	size_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
	ret = procfs_read_file(path, PROCFS_STAT_MAX, &text, &len);
	if (ret == -ENOENT || ret == -ESRCH) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: not found (exited?)", (int)pid);
		ret = -ENOENT;
		goto out;
	}
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "%.200s: %s", path, strerror(-ret));
		goto out;
	}
	ret = procfs_parse_stat_state(text, len, comm, state, start, sub);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: %.220s", (int)pid, sub);
		goto out;
	}
	if (*state == 'Z' || *state == 'X') {
		snprintf(err, PROCFS_ERR_LEN, "process %d: has exited (state %c)", (int)pid,
			 *state);
		ret = -ESRCH;
	}
out:
	free(text);
	return ret;
}

static uint64_t procfs_ticks_to_ns(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0 || (uint64_t)hz > PROCFS_NSEC_PER_SEC)
		hz = PROCFS_CLK_TCK_DFLT;
	return ticks * (PROCFS_NSEC_PER_SEC / (uint64_t)hz);
}

static void procfs_read_exe(const char *proc_root, pid_t pid, struct peer_identity *out)
{
	char path[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	if (stat(path, &st) < 0)
		return;
	out->exe_dev = st.st_dev;
	out->exe_ino = (uint64_t)st.st_ino;
	out->exe_known = true;
	n = readlink(path, out->exe_path, sizeof(out->exe_path));
	if (n <= 0 || (size_t)n >= sizeof(out->exe_path))
		n = 0; /* unknown or truncated: no path rather than a wrong one */
	out->exe_path[n] = '\0';
}

static void procfs_read_ns(const char *proc_root, pid_t pid, struct peer_identity *out)
{
	static const char *const names[PROCFS_NS_COUNT] = {"mnt", "pid", "net", "user"};
	uint32_t *fields[PROCFS_NS_COUNT] = {&out->mnt_ns, &out->pid_ns, &out->net_ns,
					     &out->user_ns};
	char path[PATH_MAX];
	struct stat st;

	for (int i = 0; i < PROCFS_NS_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%d/ns/%s", proc_root, (int)pid, names[i]);
		*fields[i] = stat(path, &st) == 0 ? (uint32_t)st.st_ino : 0;
	}
}

int procfs_read_identity(const char *proc_root, pid_t pid, struct peer_identity *out, char err[256])
{
	char path[PATH_MAX], sub[PROCFS_ERR_LEN], comm2[ATTESTD_COMM_LEN], state, *text = NULL;
	uint64_t start, start2;
	size_t len;
	int ret;

	memset(out, 0, sizeof(*out));
	if (pid <= 0) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: not a valid pid", (int)pid);
		return -EINVAL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)pid) >=
	    sizeof(path)) {
		snprintf(err, PROCFS_ERR_LEN, "proc root too long");
		return -ENAMETOOLONG;
	}
	ret = procfs_read_stat(proc_root, pid, out->comm, &state, &start, err);
	if (ret < 0)
		goto out;

	ret = procfs_read_file(path, PROCFS_STATUS_MAX, &text, &len);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: status: %s", (int)pid, strerror(-ret));
		if (ret == -ESRCH)
			ret = -ENOENT;
		goto out;
	}
	ret = procfs_parse_status(text, len, out, sub);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: %.220s", (int)pid, sub);
		goto out;
	}
	free(text);
	text = NULL;

	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, (int)pid);
	ret = procfs_read_file(path, PROCFS_CGROUP_MAX, &text, &len);
	if (ret == 0) {
		ret = procfs_parse_cgroup(text, len, out->cgroup_path, sizeof(out->cgroup_path),
					  sub);
		if (ret == -ENOENT) {
			ret = 0; /* cgroup v1 only: no v2 path */
		} else if (ret < 0) {
			snprintf(err, PROCFS_ERR_LEN, "process %d: %.220s", (int)pid, sub);
			goto out;
		} else {
			out->cgroup_id = procfs_cgroup_id(proc_root, out->cgroup_path);
		}
	} else if (ret != -ENOENT) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: cgroup: %s", (int)pid, strerror(-ret));
		goto out;
	}
	ret = 0;

	procfs_read_exe(proc_root, pid, out);
	procfs_read_ns(proc_root, pid, out);

	/* Same process throughout? A reused pid has a different start time. */
	ret = procfs_read_stat(proc_root, pid, comm2, &state, &start2, err);
	if (ret < 0) {
		if (ret == -ENOENT)
			ret = -ESRCH;
		goto out;
	}
	if (start2 != start) {
		snprintf(err, PROCFS_ERR_LEN, "process %d: replaced while reading /proc", (int)pid);
		ret = -ESRCH;
		goto out;
	}
	out->pid = pid;
	out->tid = pid;
	out->start_time_ns = procfs_ticks_to_ns(start);
out:
	free(text);
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

/* ---- peer backends ------------------------------------------------------------------------ */

int procfs_peer_from_peercred(int sock_fd, struct peer_identity *out, char err[256])
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char sub[PROCFS_ERR_LEN];
	int ret;

	memset(out, 0, sizeof(*out));
	if (getsockopt(sock_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		ret = -errno;
		snprintf(err, PROCFS_ERR_LEN, "peer: SO_PEERCRED: %s", strerror(errno));
		return ret;
	}
	if (cred.pid <= 0) {
		snprintf(err, PROCFS_ERR_LEN,
			 "peer: SO_PEERCRED gave no pid (peer outside our pid namespace?)");
		return -ESRCH;
	}
	ret = procfs_read_identity(PROCFS_ROOT, cred.pid, out, sub);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "peer (SO_PEERCRED pid %d): %.200s", (int)cred.pid,
			 sub);
		return ret;
	}
	if (out->euid != cred.uid || out->egid != cred.gid) {
		snprintf(err, PROCFS_ERR_LEN,
			 "peer (SO_PEERCRED pid %d): euid/egid now %u/%u, %u/%u at connect "
			 "(setuid or pid reuse)",
			 (int)cred.pid, (unsigned int)out->euid, (unsigned int)out->egid,
			 (unsigned int)cred.uid, (unsigned int)cred.gid);
		memset(out, 0, sizeof(*out));
		return -ESTALE;
	}
	out->backend = PEER_BACKEND_PEERCRED;
	out->race_free = false;
	return 0;
}

/* Pid of a pidfd from /proc/self/fdinfo (kernels without PIDFD_GET_INFO): >0, or -ESRCH once the
 * process has exited ("Pid: -1"), or another negative errno. */
static int procfs_pidfd_fdinfo_pid(int pidfd)
{
	char path[64], *text = NULL;
	const char *p;
	uint64_t v = 0;
	size_t len, n = 0;
	int ret;

	snprintf(path, sizeof(path), PROCFS_ROOT "/self/fdinfo/%d", pidfd);
	ret = procfs_read_file(path, PROCFS_FDINFO_MAX, &text, &len);
	if (ret < 0)
		goto out;
	p = strstr(text, "\nPid:\t");
	if (!p) {
		ret = -EPROTO;
		goto out;
	}
	p += strlen("\nPid:\t");
	if (*p == '-') {
		ret = -ESRCH;
		goto out;
	}
	while (procfs_is_digit(p[n]))
		n++;
	if (!procfs_parse_u64(p, n, INT_MAX, &v) || v == 0) {
		ret = v == 0 ? -ESRCH : -EPROTO;
		goto out;
	}
	ret = (int)v;
out:
	free(text);
	return ret;
}

/* The pidfd's pid (and, when *info->mask says so, creds and cgroup id). 0, -ESRCH if exited. */
static int procfs_pidfd_info(int pidfd, struct procfs_pidfd_info *info, pid_t *pid)
{
	int ret;

	memset(info, 0, sizeof(*info));
	info->mask = PROCFS_PIDFD_INFO_PID | PROCFS_PIDFD_INFO_CREDS | PROCFS_PIDFD_INFO_CGROUPID;
	if (ioctl(pidfd, PROCFS_PIDFD_GET_INFO, info) == 0 &&
	    (info->mask & PROCFS_PIDFD_INFO_PID) && info->pid > 0) {
		*pid = (pid_t)info->pid;
		return 0;
	}
	ret = -errno;
	if (ret == -ESRCH)
		return ret;
	/* Kernel < 6.13 (ENOTTY/EINVAL): fall back to fdinfo. */
	info->mask = 0;
	ret = procfs_pidfd_fdinfo_pid(pidfd);
	if (ret < 0)
		return ret;
	*pid = ret;
	return 0;
}

static int procfs_get_peer_pidfd(int sock_fd, int *pidfd, char err[PROCFS_ERR_LEN])
{
	socklen_t len = sizeof(*pidfd);
	int ret;

	*pidfd = -1;
	if (getsockopt(sock_fd, SOL_SOCKET, SO_PEERPIDFD, pidfd, &len) == 0 && *pidfd >= 0)
		return 0;
	ret = -errno;
	*pidfd = -1;
	if (ret == -ENOPROTOOPT) {
		snprintf(err, PROCFS_ERR_LEN, "peer: SO_PEERPIDFD not supported (Linux >= 6.5)");
		return -EOPNOTSUPP;
	}
	snprintf(err, PROCFS_ERR_LEN, "peer: SO_PEERPIDFD: %s%s", strerror(-ret),
		 ret == -ESRCH || ret == -EINVAL ? " (client exited?)" : "");
	return ret == -EINVAL ? -ESRCH : ret;
}

int procfs_peer_from_pidfd(int sock_fd, struct peer_identity *out, char err[256])
{
	struct procfs_pidfd_info info, info2;
	char sub[PROCFS_ERR_LEN];
	pid_t pid = 0, pid2 = 0;
	int pidfd = -1, ret;

	memset(out, 0, sizeof(*out));
	ret = procfs_get_peer_pidfd(sock_fd, &pidfd, err);
	if (ret < 0)
		goto out;
	ret = procfs_pidfd_info(pidfd, &info, &pid);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "peer pidfd: %s",
			 ret == -ESRCH ? "client has exited" : strerror(-ret));
		goto out;
	}
	ret = procfs_read_identity(PROCFS_ROOT, pid, out, sub);
	if (ret < 0) {
		snprintf(err, PROCFS_ERR_LEN, "peer (pidfd pid %d): %.200s", (int)pid, sub);
		goto out;
	}
	if (info.mask & PROCFS_PIDFD_INFO_CREDS) {
		out->uid = info.ruid;
		out->euid = info.euid;
		out->gid = info.rgid;
		out->egid = info.egid;
	}
	if ((info.mask & PROCFS_PIDFD_INFO_CGROUPID) && info.cgroupid)
		out->cgroup_id = info.cgroupid;

	/* Still alive and still that pid: /proc described the pinned process, not a reuse. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM) {
		ret = errno == ESRCH ? -ESRCH : -errno;
		snprintf(err, PROCFS_ERR_LEN, "peer (pidfd pid %d): %s", (int)pid,
			 ret == -ESRCH ? "client exited while being read" : strerror(-ret));
		goto out;
	}
	ret = procfs_pidfd_info(pidfd, &info2, &pid2);
	if (ret < 0 || pid2 != pid) {
		snprintf(err, PROCFS_ERR_LEN, "peer (pidfd pid %d): client exited while being read",
			 (int)pid);
		ret = -ESRCH;
		goto out;
	}
	out->backend = PEER_BACKEND_PIDFD;
	out->race_free = false;
	ret = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (ret < 0)
		memset(out, 0, sizeof(*out));
	return ret;
}

int procfs_pidfd_probe(char err[256])
{
	int sv[2] = {-1, -1}, pidfd = -1, ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		snprintf(err, PROCFS_ERR_LEN, "pidfd probe: socketpair: %s", strerror(errno));
		goto out;
	}
	ret = procfs_get_peer_pidfd(sv[0], &pidfd, err);
out:
	if (pidfd >= 0)
		close(pidfd);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return ret;
}
