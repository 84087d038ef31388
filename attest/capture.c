/*
 * capture.c - backend probing, BPF loading/pinning and per-connection lookup. See capture.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attest/capture.h"
#include "attest/procfs.h"
#include "bpf/peer_capture.skel.h"
#include "bpf/task_track.skel.h"

#define BPFFS_ROOT		     "/sys/fs/bpf"
#define BPF_CGROUP_UNIX_CONNECT_     49 /* enum bpf_attach_type, kernel >= 6.7 */
#define BPF_CGROUP_UNIX_GETSOCKNAME_ 53
#define FILEID_KERNFS_		     0xfe
#define MOUNTINFO_LINE_MAX	     8192
#define CAPTURE_MAX_LINKS	     2
#define TRACK_MAX_LINKS		     4

struct capture {
	enum peer_backend backend;
	bool require_race_free;
	char pin_dir[PATH_MAX];
	capture_log_fn log;
	void *log_arg;
	struct capture_report report;
	struct peer_capture_bpf *skel;
	struct bpf_link *links[CAPTURE_MAX_LINKS];
	struct task_track_bpf *track;
	struct bpf_link *track_links[TRACK_MAX_LINKS];
	int cgroup_root_fd;
	uint64_t ns_per_tick;
	uint32_t nlisteners;
};

static void cap_logf(const struct capture *cap, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cap_logf(const struct capture *cap, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!cap->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cap->log(cap->log_arg, level, msg);
}

static uint32_t kernel_dev(dev_t dev)
{
	return (major(dev) << 20) | minor(dev);
}

/* ---- bpffs and cgroup2 ----------------------------------------------------------------- */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The dev host boots without bpffs mounted: mount it where libbpf and bpftool expect it. */
static int ensure_pin_dir(struct capture *cap, char err[CAPTURE_ERR_MAX])
{
	int rc;

	if (strncmp(cap->pin_dir, BPFFS_ROOT "/", strlen(BPFFS_ROOT) + 1) == 0 &&
	    !is_bpffs(BPFFS_ROOT)) {
		rc = mkdir_p(BPFFS_ROOT, 0755);
		if (rc == 0 && mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700") < 0)
			rc = -errno;
		if (rc < 0) {
			snprintf(err, CAPTURE_ERR_MAX, "cannot mount bpffs at %s: %s", BPFFS_ROOT,
				 strerror(-rc));
			return rc;
		}
		cap_logf(cap, 1, "mounted bpffs at " BPFFS_ROOT);
	}
	rc = mkdir_p(cap->pin_dir, 0700);
	if (rc < 0) {
		snprintf(err, CAPTURE_ERR_MAX, "peer.pin_dir %s: cannot create: %s", cap->pin_dir,
			 strerror(-rc));
		return rc;
	}
	if (!is_bpffs(cap->pin_dir)) {
		snprintf(err, CAPTURE_ERR_MAX, "peer.pin_dir %s: not on a bpf filesystem",
			 cap->pin_dir);
		return -EINVAL;
	}
	return 0;
}

/* Finds the cgroup2 mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
static int find_cgroup2_root(char *out, size_t out_len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if ((size_t)snprintf(out, out_len, "%s", mnt) >= out_len) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = 0;
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

/* ---- pinning -------------------------------------------------------------------------- */

static int pin_path(const struct capture *cap, const char *name, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", cap->pin_dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int set_map_pins(struct capture *cap, struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int rc;

	bpf_object__for_each_map(map, obj)
	{
		/* .rodata/.bss and scratch maps are private to one load. */
		if (bpf_map__is_internal(map) || strcmp(bpf_map__name(map), "path_scratch") == 0)
			continue;
		rc = pin_path(cap, bpf_map__name(map), path, sizeof(path));
		if (rc < 0)
			return rc;
		rc = bpf_map__set_pin_path(map, path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void unpin_maps(struct capture *cap, struct bpf_object *obj)
{
	struct bpf_map *map;
	char path[PATH_MAX];

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map) || strcmp(bpf_map__name(map), "path_scratch") == 0)
			continue;
		if (pin_path(cap, bpf_map__name(map), path, sizeof(path)) == 0)
			unlink(path);
	}
}

/*
 * Pins a fresh link as link_<prog>. A pin left by an earlier attestd is replaced: its link
 * detaches when the pin goes, after the new one is already attached, so capture never stops.
 */
static int pin_link(struct capture *cap, struct bpf_link *link, struct bpf_program *prog)
{
	char name[128], path[PATH_MAX];
	int rc;

	snprintf(name, sizeof(name), "link_%s", bpf_program__name(prog));
	rc = pin_path(cap, name, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (unlink(path) == 0)
		cap_logf(cap, 1, "replaced pinned link %s left by an earlier attestd", path);
	return bpf_link__pin(link, path);
}

/*
 * Loads an object whose maps are pinned. Returns -ESTALE when pins from an earlier attestd
 * exist and the load failed: they may be incompatible, so they are removed and the caller
 * retries once with a fresh object.
 */
static int load_pinned(struct capture *cap, struct bpf_object *obj)
{
	struct bpf_map *map;
	bool had_pins = false;
	int rc;

	bpf_object__for_each_map(map, obj)
	{
		const char *pin = bpf_map__pin_path(map);

		if (pin && access(pin, F_OK) == 0)
			had_pins = true;
	}
	rc = bpf_object__load(obj);
	if (rc == 0 && had_pins)
		cap->report.pins_reused = true;
	if (rc < 0 && had_pins) {
		cap_logf(cap, 2, "loading with the maps pinned in %s failed (%s); recreating them",
			 cap->pin_dir, strerror(-rc));
		unpin_maps(cap, obj);
		return -ESTALE;
	}
	return rc;
}

/* ---- capture backends ----------------------------------------------------------------- */

static void destroy_capture_skel(struct capture *cap)
{
	for (int i = 0; i < CAPTURE_MAX_LINKS; i++) {
		bpf_link__destroy(cap->links[i]);
		cap->links[i] = NULL;
	}
	peer_capture_bpf__destroy(cap->skel);
	cap->skel = NULL;
}

static const char *hint_for(enum peer_backend b)
{
	switch (b) {
	case PEER_BACKEND_LSM:
		return "needs BPF LSM active (bpf in the lsm= kernel parameter or CONFIG_LSM) and "
		       "BPF trampolines";
	case PEER_BACKEND_FEXIT:
		return "needs BPF trampolines (fexit, kernel >= 5.11 with BTF)";
	case PEER_BACKEND_CONNECT_UNIX:
		return "needs cgroup/connect_unix and cgroup/getsockname_unix (kernel >= 6.7) and "
		       "a "
		       "cgroup2 hierarchy";
	default:
		return "";
	}
}

static int open_capture_skel(struct capture *cap, enum peer_backend b, char why[CAPTURE_REASON_MAX])
{
	struct peer_capture_bpf *skel;
	struct bpf_program *p_lsm, *p_fexit, *p_conn, *p_gsn;
	int rc;

	skel = peer_capture_bpf__open();
	if (!skel) {
		rc = -errno;
		snprintf(why, CAPTURE_REASON_MAX, "cannot open BPF object: %s", strerror(-rc));
		return rc;
	}
	p_lsm = skel->progs.capture_lsm_connect;
	p_fexit = skel->progs.capture_fexit_connect;
	p_conn = skel->progs.capture_connect_unix;
	p_gsn = skel->progs.capture_getsockname_unix;
	bpf_program__set_autoload(p_lsm, b == PEER_BACKEND_LSM);
	bpf_program__set_autoload(p_fexit, b == PEER_BACKEND_FEXIT);
	bpf_program__set_autoload(p_conn, b == PEER_BACKEND_CONNECT_UNIX);
	bpf_program__set_autoload(p_gsn, b == PEER_BACKEND_CONNECT_UNIX);
	/* libbpf 1.1 does not know the *_unix section names: set the types by hand. */
	bpf_program__set_type(p_conn, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
	bpf_program__set_expected_attach_type(p_conn,
					      (enum bpf_attach_type)BPF_CGROUP_UNIX_CONNECT_);
	bpf_program__set_type(p_gsn, BPF_PROG_TYPE_CGROUP_SOCK_ADDR);
	bpf_program__set_expected_attach_type(p_gsn,
					      (enum bpf_attach_type)BPF_CGROUP_UNIX_GETSOCKNAME_);
	rc = set_map_pins(cap, skel->obj);
	if (rc < 0) {
		snprintf(why, CAPTURE_REASON_MAX, "pin path: %s", strerror(-rc));
		goto fail;
	}
	cap->skel = skel;
	return 0;
fail:
	peer_capture_bpf__destroy(skel);
	return rc;
}

/* The active LSM list, for messages; "" when securityfs is not mounted. */
static void read_lsm_list(char *buf, size_t len)
{
	int fd = open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
}

static int lookup_capture(struct capture *cap, int fd, struct attestd_peer_identity *raw)
{
	struct sockaddr_un addr;
	socklen_t alen = sizeof(addr);

	/* connect_unix: getsockname() runs the hook that copies the client's capture onto fd. */
	if (bpf_program__autoload(cap->skel->progs.capture_getsockname_unix) &&
	    getsockname(fd, (struct sockaddr *)&addr, &alen) < 0)
		return -errno;
	if (bpf_map_lookup_elem(bpf_map__fd(cap->skel->maps.peer_storage), &fd, raw) < 0)
		return -errno;
	return 0;
}

/*
 * Connects to a private socket and checks that the capture arrived. Attaching is not proof: an
 * LSM program attaches fine when bpf is not an active LSM, and then never runs.
 */
static int selftest_backend(struct capture *cap, enum peer_backend b, char why[CAPTURE_REASON_MAX])
{
	char dir[] = "/tmp/attestd-selftest-XXXXXX", lsm[256];
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct attestd_listener_path lp = {}, empty = {};
	struct attestd_listener_key key = {};
	struct attestd_config cfg = {.daemon_tgid = (uint32_t)getpid()};
	struct attestd_peer_identity raw = {};
	uint32_t slot = cap->nlisteners, zero = 0;
	int lfd = -1, cfd = -1, afd = -1, rc;
	bool keyed = false;
	struct stat st;

	if (!mkdtemp(dir)) {
		rc = -errno;
		snprintf(why, CAPTURE_REASON_MAX, "self-test: cannot create %s: %s", dir,
			 strerror(-rc));
		return rc;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/s", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(lfd, 1) < 0 || stat(addr.sun_path, &st) < 0) {
		rc = -errno;
		snprintf(why, CAPTURE_REASON_MAX, "self-test: socket: %s", strerror(-rc));
		goto out;
	}
	key.ino = st.st_ino;
	key.dev = kernel_dev(st.st_dev);
	lp.len = (uint32_t)strlen(addr.sun_path);
	memcpy(lp.path, addr.sun_path, lp.len);
	if (bpf_map_update_elem(bpf_map__fd(cap->skel->maps.listen_inodes), &key, &slot, BPF_ANY) <
		    0 ||
	    bpf_map_update_elem(bpf_map__fd(cap->skel->maps.listen_paths), &slot, &lp, BPF_ANY) <
		    0 ||
	    bpf_map_update_elem(bpf_map__fd(cap->skel->maps.capture_config), &zero, &cfg, BPF_ANY) <
		    0) {
		rc = -errno;
		snprintf(why, CAPTURE_REASON_MAX, "self-test: map update: %s", strerror(-rc));
		goto out;
	}
	keyed = true;
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(why, CAPTURE_REASON_MAX, "self-test: connect: %s", strerror(-rc));
		goto out;
	}
	rc = lookup_capture(cap, afd, &raw);
	if (rc == 0 && raw.tgid != (uint32_t)getpid())
		rc = -EPROTO;
	if (rc < 0) {
		read_lsm_list(lsm, sizeof(lsm));
		if (b == PEER_BACKEND_LSM)
			snprintf(why, CAPTURE_REASON_MAX,
				 "attached, but the program never ran: BPF LSM is not active (add "
				 "bpf to the lsm= kernel parameter)%s%s",
				 lsm[0] ? "; active LSMs: " : "", lsm);
		else
			snprintf(why, CAPTURE_REASON_MAX,
				 "attached, but a test connection was not captured: %s",
				 rc == -EPROTO ? "another process was recorded" : strerror(-rc));
		rc = -ENOTSUP;
	}
out:
	if (keyed) {
		bpf_map_delete_elem(bpf_map__fd(cap->skel->maps.listen_inodes), &key);
		bpf_map_update_elem(bpf_map__fd(cap->skel->maps.listen_paths), &slot, &empty,
				    BPF_ANY);
	}
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	unlink(addr.sun_path);
	rmdir(dir);
	return rc;
}

static int try_capture_backend(struct capture *cap, enum peer_backend b,
			       char why[CAPTURE_REASON_MAX])
{
	struct bpf_program *progs[CAPTURE_MAX_LINKS] = {};
	int nprogs = 0, rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		rc = open_capture_skel(cap, b, why);
		if (rc < 0)
			return rc;
		rc = load_pinned(cap, cap->skel->obj);
		if (rc == 0)
			break;
		destroy_capture_skel(cap);
		if (rc != -ESTALE)
			break;
	}
	if (rc < 0) {
		snprintf(why, CAPTURE_REASON_MAX, "load failed: %s; %s", strerror(-rc),
			 hint_for(b));
		return rc;
	}
	switch (b) {
	case PEER_BACKEND_LSM:
		progs[nprogs++] = cap->skel->progs.capture_lsm_connect;
		cap->links[0] = bpf_program__attach_lsm(progs[0]);
		break;
	case PEER_BACKEND_FEXIT:
		progs[nprogs++] = cap->skel->progs.capture_fexit_connect;
		cap->links[0] = bpf_program__attach_trace(progs[0]);
		break;
	case PEER_BACKEND_CONNECT_UNIX:
		progs[nprogs++] = cap->skel->progs.capture_connect_unix;
		progs[nprogs++] = cap->skel->progs.capture_getsockname_unix;
		cap->links[0] = bpf_program__attach_cgroup(progs[0], cap->cgroup_root_fd);
		if (cap->links[0])
			cap->links[1] = bpf_program__attach_cgroup(progs[1], cap->cgroup_root_fd);
		break;
	default:
		rc = -EINVAL;
		goto fail;
	}
	for (int i = 0; i < nprogs; i++) {
		if (!cap->links[i]) {
			rc = -errno;
			snprintf(why, CAPTURE_REASON_MAX, "attach %s failed: %s; %s",
				 bpf_program__section_name(progs[i]), strerror(-rc), hint_for(b));
			goto fail;
		}
	}
	rc = selftest_backend(cap, b, why);
	if (rc < 0)
		goto fail;
	for (int i = 0; i < nprogs; i++) {
		rc = pin_link(cap, cap->links[i], progs[i]);
		if (rc < 0) {
			snprintf(why, CAPTURE_REASON_MAX, "pin link %s: %s",
				 bpf_program__name(progs[i]), strerror(-rc));
			goto fail;
		}
	}
	if (b == PEER_BACKEND_CONNECT_UNIX)
		snprintf(why, CAPTURE_REASON_MAX,
			 "attached cgroup/connect_unix + cgroup/getsockname_unix on %s",
			 cap->report.cgroup2_root);
	else
		snprintf(why, CAPTURE_REASON_MAX, "attached %s",
			 bpf_program__section_name(progs[0]));
	return 0;
fail:
	destroy_capture_skel(cap);
	return rc;
}

static int try_backend(struct capture *cap, enum peer_backend b, char why[CAPTURE_REASON_MAX])
{
	char err[256] = "";
	int rc;

	switch (b) {
	case PEER_BACKEND_LSM:
	case PEER_BACKEND_FEXIT:
	case PEER_BACKEND_CONNECT_UNIX:
		if (b == PEER_BACKEND_CONNECT_UNIX && cap->cgroup_root_fd < 0) {
			snprintf(why, CAPTURE_REASON_MAX, "no cgroup2 hierarchy is mounted; %s",
				 hint_for(b));
			return -ENOENT;
		}
		return try_capture_backend(cap, b, why);
	case PEER_BACKEND_PIDFD:
	case PEER_BACKEND_PEERCRED:
		if (cap->require_race_free) {
			snprintf(why, CAPTURE_REASON_MAX,
				 "refused by peer.require_race_free: reads /proc after accept()");
			return -EPERM;
		}
		if (b == PEER_BACKEND_PEERCRED) {
			snprintf(why, CAPTURE_REASON_MAX,
				 "SO_PEERCRED + /proc: racy with exit, exec and pid reuse");
			return 0;
		}
		rc = procfs_pidfd_probe(err);
		if (rc < 0) {
			snprintf(why, CAPTURE_REASON_MAX,
				 "SO_PEERPIDFD unavailable (kernel >= 6.5): %s", err);
			return rc;
		}
		snprintf(why, CAPTURE_REASON_MAX,
			 "SO_PEERPIDFD + /proc: immune to pid reuse, not to exec after connect");
		return 0;
	default:
		snprintf(why, CAPTURE_REASON_MAX, "not a capture backend");
		return -EINVAL;
	}
}

/* ---- tracking ------------------------------------------------------------------------- */

/* Start time of a live pid, in clock ticks as /proc/<pid>/stat shows it. */
static int proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	char path[64], text[PROCFS_STAT_MAX], comm[ATTESTD_COMM_LEN], err[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = 0;
	return procfs_parse_stat(text, (size_t)n, comm, ticks, err) < 0 ? -EPROTO : 0;
}

static int seed_exe_one(struct capture *cap, int map_fd, pid_t pid)
{
	char path[64], exe[PATH_MAX];
	struct attestd_exe_value val = {};
	struct attestd_exe_key key = {};
	uint64_t ticks;
	struct stat st;
	ssize_t n;
	int rc;

	rc = proc_start_ticks(pid, &ticks);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st) < 0)
		return -errno; /* kernel threads have no exe */
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = 0;
	key.tgid = (uint32_t)pid;
	key.exe_dev = kernel_dev(st.st_dev);
	key.exe_ino = st.st_ino;
	key.start_ticks = ticks;
	if ((size_t)n >= sizeof(val.path)) {
		val.flags |= ATTESTD_EXE_TRUNCATED;
		n = sizeof(val.path) - 1;
	}
	memcpy(val.path, exe, (size_t)n);
	val.path_len = (uint32_t)n;
	val.flags |= ATTESTD_EXE_SEEDED;
	if (bpf_map_update_elem(map_fd, &key, &val, BPF_NOEXIST) == 0)
		cap->report.exe_seeded++;
	return 0;
}

static int seed_exes(struct capture *cap)
{
	int map_fd = bpf_map__fd(cap->track->maps.exe_map);
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		seed_exe_one(cap, map_fd, (pid_t)pid);
	}
	closedir(d);
	return 0;
}

static int seed_cgroups(struct capture *cap)
{
	int map_fd = bpf_map__fd(cap->track->maps.cgroup_map);
	const char *root = cap->report.cgroup2_root;
	size_t root_len = strlen(root);
	char **stack = NULL;
	size_t n = 0, cap_n = 0;
	int rc = 0;

	/* Iterative walk (no nftw: its callback cannot carry our state without a global). */
	stack = malloc(sizeof(*stack) * 64);
	if (!stack)
		return -ENOMEM;
	cap_n = 64;
	stack[n++] = strdup(root);
	if (!stack[0]) {
		free(stack);
		return -ENOMEM;
	}
	while (n > 0) {
		char *dir = stack[--n];
		struct attestd_cgroup_value val = {};
		const char *rel = dir + root_len;
		struct stat st;
		DIR *d;
		struct dirent *de;
		uint64_t id;

		if (stat(dir, &st) == 0) {
			id = st.st_ino;
			if (*rel == 0)
				rel = "/";
			val.path_len = (uint32_t)snprintf(val.path, sizeof(val.path), "%s", rel);
			if (val.path_len >= sizeof(val.path)) {
				val.path_len = sizeof(val.path) - 1;
				val.flags |= ATTESTD_CGROUP_TRUNCATED;
			}
			val.flags |= ATTESTD_CGROUP_SEEDED;
			if (bpf_map_update_elem(map_fd, &id, &val, BPF_NOEXIST) == 0)
				cap->report.cgroup_seeded++;
		}
		d = opendir(dir);
		while (d && (de = readdir(d))) {
			char *child;

			if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (asprintf(&child, "%s/%s", dir, de->d_name) < 0) {
				rc = -ENOMEM;
				break;
			}
			if (n == cap_n) {
				char **grown = realloc(stack, sizeof(*stack) * cap_n * 2);

				if (!grown) {
					free(child);
					rc = -ENOMEM;
					break;
				}
				stack = grown;
				cap_n *= 2;
			}
			stack[n++] = child;
		}
		if (d)
			closedir(d);
		free(dir);
		if (rc < 0)
			break;
	}
	while (n > 0)
		free(stack[--n]);
	free(stack);
	return rc;
}

static int open_tracking(struct capture *cap, char why[CAPTURE_REASON_MAX])
{
	struct bpf_program *progs[TRACK_MAX_LINKS];
	struct task_track_bpf *track;
	int rc = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		track = task_track_bpf__open();
		if (!track) {
			rc = -errno;
			snprintf(why, CAPTURE_REASON_MAX, "cannot open tracking object: %s",
				 strerror(-rc));
			return rc;
		}
		track->rodata->ns_per_tick = cap->ns_per_tick;
		rc = set_map_pins(cap, track->obj);
		if (rc == 0)
			rc = load_pinned(cap, track->obj);
		if (rc == 0)
			break;
		task_track_bpf__destroy(track);
		track = NULL;
		if (rc != -ESTALE)
			break;
	}
	if (rc < 0) {
		snprintf(why, CAPTURE_REASON_MAX,
			 "tracking programs did not load: %s (tp_btf needs kernel >= 5.5 with BTF; "
			 "the libbpf log at debug level has the verifier's reason)",
			 strerror(-rc));
		return rc;
	}
	cap->track = track;
	progs[0] = track->progs.track_exec;
	progs[1] = track->progs.track_cgroup_mkdir;
	progs[2] = track->progs.track_cgroup_rmdir;
	progs[3] = track->progs.track_fork;
	for (int i = 0; i < TRACK_MAX_LINKS; i++) {
		cap->track_links[i] = bpf_program__attach_trace(progs[i]);
		if (!cap->track_links[i]) {
			rc = -errno;
			snprintf(why, CAPTURE_REASON_MAX, "attach %s failed: %s",
				 bpf_program__section_name(progs[i]), strerror(-rc));
			return rc;
		}
		rc = pin_link(cap, cap->track_links[i], progs[i]);
		if (rc < 0) {
			snprintf(why, CAPTURE_REASON_MAX, "pin link %s: %s",
				 bpf_program__name(progs[i]), strerror(-rc));
			return rc;
		}
	}
	/* Attached first, seeded second: nothing exec'd in between is missed. */
	seed_exes(cap);
	if (cap->cgroup_root_fd >= 0)
		seed_cgroups(cap);
	return 0;
}

static void close_tracking(struct capture *cap)
{
	for (int i = 0; i < TRACK_MAX_LINKS; i++) {
		bpf_link__destroy(cap->track_links[i]);
		cap->track_links[i] = NULL;
	}
	task_track_bpf__destroy(cap->track);
	cap->track = NULL;
}

/* ---- public --------------------------------------------------------------------------- */

int capture_open(const struct capture_opts *opts, struct capture **out, char err[CAPTURE_ERR_MAX])
{
	static const enum peer_backend order[] = {
		PEER_BACKEND_LSM,   PEER_BACKEND_FEXIT,	   PEER_BACKEND_CONNECT_UNIX,
		PEER_BACKEND_PIDFD, PEER_BACKEND_PEERCRED,
	};
	struct capture *cap;
	bool need_bpf;
	long tck;
	int rc;

	*out = NULL;
	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return -ENOMEM;
	cap->backend = opts->backend;
	cap->require_race_free = opts->require_race_free;
	cap->log = opts->log;
	cap->log_arg = opts->log_arg;
	cap->cgroup_root_fd = -1;
	cap->report.chosen = PEER_BACKEND_AUTO;
	tck = sysconf(_SC_CLK_TCK);
	cap->ns_per_tick = tck > 0 ? 1000000000ull / (uint64_t)tck : 10000000ull;
	if ((size_t)snprintf(cap->pin_dir, sizeof(cap->pin_dir), "%s",
			     opts->pin_dir ? opts->pin_dir : BPFFS_ROOT "/attestd") >=
	    sizeof(cap->pin_dir)) {
		snprintf(err, CAPTURE_ERR_MAX, "peer.pin_dir: path too long");
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if (find_cgroup2_root(cap->report.cgroup2_root, sizeof(cap->report.cgroup2_root)) == 0) {
		cap->cgroup_root_fd =
			open(cap->report.cgroup2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}

	need_bpf = opts->tracking || opts->backend == PEER_BACKEND_AUTO ||
		   opts->backend == PEER_BACKEND_LSM || opts->backend == PEER_BACKEND_FEXIT ||
		   opts->backend == PEER_BACKEND_CONNECT_UNIX;
	if (need_bpf) {
		char pin_err[CAPTURE_ERR_MAX] = "";

		rc = ensure_pin_dir(cap, pin_err);
		if (rc < 0 &&
		    (opts->backend == PEER_BACKEND_LSM || opts->backend == PEER_BACKEND_FEXIT ||
		     opts->backend == PEER_BACKEND_CONNECT_UNIX)) {
			snprintf(err, CAPTURE_ERR_MAX, "peer.backend %s: %s",
				 peer_backend_name(opts->backend), pin_err);
			goto fail;
		}
		if (rc < 0) {
			cap_logf(cap, 2, "BPF unavailable: %s", pin_err);
			need_bpf = false;
		}
	}

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum peer_backend b = order[i];
		struct capture_backend_report *r = &cap->report.backends[b];
		bool forced = opts->backend != PEER_BACKEND_AUTO;

		if (forced && b != opts->backend)
			continue;
		if (!need_bpf && b <= PEER_BACKEND_CONNECT_UNIX) {
			r->status = CAPTURE_SKIPPED;
			snprintf(r->reason, sizeof(r->reason), "BPF unavailable (no usable bpffs)");
			continue;
		}
		rc = try_backend(cap, b, r->reason);
		if (rc == 0) {
			r->status = CAPTURE_CHOSEN;
			cap->report.chosen = b;
			cap->report.race_free = b <= PEER_BACKEND_CONNECT_UNIX;
			break;
		}
		r->status = forced ? CAPTURE_FAILED : CAPTURE_SKIPPED;
		if (forced) {
			snprintf(err, CAPTURE_ERR_MAX, "peer.backend %s: %s", peer_backend_name(b),
				 r->reason);
			goto fail;
		}
	}
	if (cap->report.chosen == PEER_BACKEND_AUTO) {
		snprintf(err, CAPTURE_ERR_MAX,
			 "no peer capture backend works here (peer.require_race_free is %s); see "
			 "`attestctl diag`",
			 cap->require_race_free ? "true" : "false");
		rc = -ENOTSUP;
		goto fail;
	}
	if (opts->tracking && need_bpf) {
		rc = open_tracking(cap, cap->report.tracking_reason);
		if (rc < 0) {
			cap_logf(cap, 2, "exec/cgroup tracking off: %s",
				 cap->report.tracking_reason);
			close_tracking(cap);
		} else {
			cap->report.exec_tracking = true;
			cap->report.cgroup_tracking = true;
		}
	} else if (!opts->tracking) {
		snprintf(cap->report.tracking_reason, CAPTURE_REASON_MAX, "disabled");
	} else {
		snprintf(cap->report.tracking_reason, CAPTURE_REASON_MAX, "BPF unavailable");
	}
	*out = cap;
	return 0;
fail:
	/* A daemon that does not start leaves nothing pinned behind. */
	capture_free(cap, true);
	return rc;
}

const struct capture_report *capture_get_report(const struct capture *cap)
{
	return &cap->report;
}

int capture_add_listener(struct capture *cap, const char *path, char err[CAPTURE_ERR_MAX])
{
	struct attestd_listener_path lp = {};
	struct attestd_listener_key key = {};
	struct attestd_config cfg = {};
	uint32_t slot = cap->nlisteners, zero = 0;
	struct stat st;
	size_t len = strlen(path);

	if (!cap->skel)
		return 0; /* non-BPF backends need no filter */
	if (slot >= ATTESTD_MAX_LISTENERS) {
		snprintf(err, CAPTURE_ERR_MAX, "%s: at most %d listening sockets", path,
			 ATTESTD_MAX_LISTENERS);
		return -ENOSPC;
	}
	if (path[0] != '/' || len >= ATTESTD_SUN_PATH_MAX) {
		snprintf(err, CAPTURE_ERR_MAX, "%s: not an absolute socket path that fits sun_path",
			 path);
		return -EINVAL;
	}
	if (stat(path, &st) < 0) {
		snprintf(err, CAPTURE_ERR_MAX, "%s: %s", path, strerror(errno));
		return -errno;
	}
	key.ino = st.st_ino;
	key.dev = kernel_dev(st.st_dev);
	lp.len = (uint32_t)len;
	memcpy(lp.path, path, len);
	cfg.daemon_tgid = (uint32_t)getpid();
	if (bpf_map_update_elem(bpf_map__fd(cap->skel->maps.listen_inodes), &key, &slot, BPF_ANY) <
		    0 ||
	    bpf_map_update_elem(bpf_map__fd(cap->skel->maps.listen_paths), &slot, &lp, BPF_ANY) <
		    0 ||
	    bpf_map_update_elem(bpf_map__fd(cap->skel->maps.capture_config), &zero, &cfg, BPF_ANY) <
		    0) {
		snprintf(err, CAPTURE_ERR_MAX, "%s: cannot register listener in BPF maps: %s", path,
			 strerror(errno));
		return -errno;
	}
	cap->nlisteners++;
	return 0;
}

/* The exe path of the capture: the tracking map, else /proc if it provably is the same file. */
static void resolve_exe(struct capture *cap, const struct attestd_peer_identity *raw,
			struct peer_identity *out)
{
	struct attestd_exe_key key = {};
	struct attestd_exe_value val;
	char path[64];
	uint64_t ticks = 0;
	struct stat st;
	ssize_t n;

	if (raw->flags & ATTESTD_ID_NO_EXE)
		return;
	key.tgid = raw->tgid;
	key.exe_dev = raw->exe_dev;
	key.exe_ino = raw->exe_ino;
	key.start_ticks = raw->start_boottime_ns / cap->ns_per_tick;
	if (cap->track &&
	    bpf_map_lookup_elem(bpf_map__fd(cap->track->maps.exe_map), &key, &val) == 0 &&
	    !(val.flags & ATTESTD_EXE_TRUNCATED) && val.path_len < sizeof(val.path)) {
		val.path[val.path_len] = 0;
		snprintf(out->exe_path, sizeof(out->exe_path), "%s", val.path);
		return;
	}
	/* Fallback: the same process (pid + start time) still runs the same file (dev + ino). */
	if (proc_start_ticks((pid_t)raw->tgid, &ticks) < 0 || ticks != key.start_ticks)
		return;
	snprintf(path, sizeof(path), "/proc/%u/exe", raw->tgid);
	if (stat(path, &st) < 0 || kernel_dev(st.st_dev) != raw->exe_dev ||
	    st.st_ino != raw->exe_ino)
		return;
	n = readlink(path, out->exe_path, sizeof(out->exe_path) - 1);
	if (n <= 0) {
		out->exe_path[0] = 0;
		return;
	}
	out->exe_path[n] = 0;
}

/* The cgroup path of the capture: the tracking map, else the live cgroup by its id. */
static void resolve_cgroup(struct capture *cap, uint64_t id, struct peer_identity *out)
{
	struct attestd_cgroup_value val;
	struct {
		struct file_handle fh;
		uint64_t id;
	} handle = {};
	char link[64], path[PATH_MAX];
	int mount_id, fd;
	ssize_t n;
	size_t root_len;

	if (id == 0)
		return;
	if (cap->track &&
	    bpf_map_lookup_elem(bpf_map__fd(cap->track->maps.cgroup_map), &id, &val) == 0 &&
	    !(val.flags & ATTESTD_CGROUP_TRUNCATED) && val.path_len < sizeof(val.path)) {
		val.path[val.path_len] = 0;
		snprintf(out->cgroup_path, sizeof(out->cgroup_path), "%s", val.path);
		return;
	}
	if (cap->cgroup_root_fd < 0)
		return;
	handle.fh.handle_bytes = sizeof(uint64_t);
	handle.fh.handle_type = FILEID_KERNFS_;
	handle.id = id;
	(void)mount_id;
	fd = open_by_handle_at(cap->cgroup_root_fd, &handle.fh, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0)
		return;
	path[n] = 0;
	root_len = strlen(cap->report.cgroup2_root);
	if (strncmp(path, cap->report.cgroup2_root, root_len) != 0)
		return;
	snprintf(out->cgroup_path, sizeof(out->cgroup_path), "%s",
		 path[root_len] ? path + root_len : "/");
}

int capture_peer(struct capture *cap, int fd, struct peer_identity *out, char err[CAPTURE_ERR_MAX])
{
	struct attestd_peer_identity raw;
	int rc;

	memset(out, 0, sizeof(*out));
	switch (cap->report.chosen) {
	case PEER_BACKEND_CONNECT_UNIX:
	case PEER_BACKEND_LSM:
	case PEER_BACKEND_FEXIT:
		rc = lookup_capture(cap, fd, &raw);
		if (rc == -ENOENT) {
			snprintf(err, CAPTURE_ERR_MAX,
				 "no connect-time capture for this connection (it was made before "
				 "attestd attached, or %s)",
				 cap->report.chosen == PEER_BACKEND_CONNECT_UNIX
					 ? "through a path the connect_unix filter does not know, "
					   "e.g. "
					   "a symlink or bind mount of the socket"
					 : "to a socket file attestd did not register");
			return -ENODATA;
		}
		if (rc < 0) {
			snprintf(err, CAPTURE_ERR_MAX, "socket storage lookup: %s", strerror(-rc));
			return rc;
		}
		peer_identity_from_bpf(out, &raw, cap->report.chosen);
		resolve_exe(cap, &raw, out);
		resolve_cgroup(cap, raw.cgroup_id, out);
		return 0;
	case PEER_BACKEND_PIDFD:
		rc = procfs_peer_from_pidfd(fd, out, err);
		break;
	case PEER_BACKEND_PEERCRED:
		rc = procfs_peer_from_peercred(fd, out, err);
		break;
	default:
		snprintf(err, CAPTURE_ERR_MAX, "no capture backend");
		return -EINVAL;
	}
	if (rc == 0) {
		out->backend = cap->report.chosen;
		out->race_free = false;
	}
	return rc;
}

int capture_pid(struct capture *cap, pid_t pid, struct peer_identity *out,
		char err[CAPTURE_ERR_MAX])
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = procfs_read_identity("/proc", pid, out, err);
	if (rc < 0)
		return rc;
	out->backend = PEER_BACKEND_PROC;
	out->race_free = false;
	(void)cap;
	return 0;
}

static int64_t count_entries(int map_fd, size_t key_size)
{
	unsigned char key[64], next[64];
	int64_t n = 0;
	void *prev = NULL;

	if (key_size > sizeof(key))
		return -EINVAL;
	while (bpf_map_get_next_key(map_fd, prev, next) == 0) {
		n++;
		memcpy(key, next, key_size);
		prev = key;
	}
	return n;
}

int64_t capture_exe_entries(const struct capture *cap)
{
	if (!cap->track)
		return -1;
	return count_entries(bpf_map__fd(cap->track->maps.exe_map), sizeof(struct attestd_exe_key));
}

int64_t capture_cgroup_entries(const struct capture *cap)
{
	if (!cap->track)
		return -1;
	return count_entries(bpf_map__fd(cap->track->maps.cgroup_map), sizeof(uint64_t));
}

/* Everything attestd may pin: removing these names (and nothing else) empties its pin dir. */
static const char *const pinned_names[] = {
	"peer_storage",
	"listen_inodes",
	"listen_paths",
	"capture_config",
	"exe_map",
	"cgroup_map",
	"link_capture_lsm_connect",
	"link_capture_fexit_connect",
	"link_capture_connect_unix",
	"link_capture_getsockname_unix",
	"link_track_exec",
	"link_track_cgroup_mkdir",
	"link_track_cgroup_rmdir",
	"link_track_fork",
};

static void remove_pins(struct capture *cap)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(pinned_names) / sizeof(pinned_names[0]); i++)
		if (pin_path(cap, pinned_names[i], path, sizeof(path)) == 0)
			unlink(path);
	rmdir(cap->pin_dir); /* fails harmlessly if something else is pinned there */
}

void capture_free(struct capture *cap, bool unpin)
{
	if (!cap)
		return;
	if (unpin)
		remove_pins(cap);
	destroy_capture_skel(cap);
	close_tracking(cap);
	if (cap->cgroup_root_fd >= 0)
		close(cap->cgroup_root_fd);
	free(cap);
}
