/*
 * peer_client - a test workload for the end-to-end suite (tests/e2e). It moves itself into a
 * cgroup, drops to a uid/gid, connects to attestd's agent socket, prints one JSON line that
 * describes itself (what attestd should record), then waits, forks, execs or holds as asked.
 *
 *   peer_client --socket PATH [--cgroup DIR] [--uid N] [--gid N] [--fork-keep]
 *               [--exec PROG [ARGS...]] [--hold-ms N] [--connections N] [--wait-stdin]
 *
 * Order: join the cgroup, drop ids, connect N sockets (retrying EAGAIN), print the JSON line,
 * wait for a stdin line, fork a child that keeps the sockets for --hold-ms (default 5 s), then
 * exec PROG with the sockets still open, or hold them for --hold-ms (not with --fork-keep: the
 * child holds them) and exit 0.
 * Errors: a message on stderr and exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PC_MAX_CONNECTIONS 4096
#define PC_DEFAULT_KEEP_MS 5000
#define PC_CONNECT_RETRIES 2000 /* EAGAIN retries per connection, 1 ms apart */
#define PC_LINE_MAX	   4096
#define PC_STAT_MAX	   4096
#define PC_MAX_HOLD_MS	   (24L * 3600 * 1000)
#define PC_STARTTIME_FIELD 22

struct pc_opts {
	const char *socket_path;
	const char *cgroup_dir;
	long uid, gid; /* -1 = keep */
	bool fork_keep;
	bool wait_stdin;
	long hold_ms; /* -1 = not given */
	long connections;
	char **exec_argv; /* NULL = no exec */
};

static void usage(void)
{
	fprintf(stderr, "usage: peer_client --socket PATH [--cgroup DIR] [--uid N] [--gid N] "
			"[--fork-keep] [--exec PROG [ARGS...]] [--hold-ms N] [--connections N] "
			"[--wait-stdin]\n");
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (!text) {
		fprintf(stderr, "peer_client: %s: missing value\n", opt);
		return -EINVAL;
	}
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max) {
		fprintf(stderr, "peer_client: %s: not an integer in [%ld, %ld]: \"%s\"\n", opt, min,
			max, text);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct pc_opts *o)
{
	int i;

	*o = (struct pc_opts){.uid = -1, .gid = -1, .hold_ms = -1, .connections = 1};
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int err = 0;

		if (!strcmp(a, "--socket") && v) {
			o->socket_path = v;
			i++;
		} else if (!strcmp(a, "--cgroup") && v) {
			o->cgroup_dir = v;
			i++;
		} else if (!strcmp(a, "--uid")) {
			err = parse_long(a, v, 0, (long)UINT32_MAX - 1, &o->uid);
			i++;
		} else if (!strcmp(a, "--gid")) {
			err = parse_long(a, v, 0, (long)UINT32_MAX - 1, &o->gid);
			i++;
		} else if (!strcmp(a, "--hold-ms")) {
			err = parse_long(a, v, 0, PC_MAX_HOLD_MS, &o->hold_ms);
			i++;
		} else if (!strcmp(a, "--connections")) {
			err = parse_long(a, v, 0, PC_MAX_CONNECTIONS, &o->connections);
			i++;
		} else if (!strcmp(a, "--fork-keep")) {
			o->fork_keep = true;
		} else if (!strcmp(a, "--wait-stdin")) {
			o->wait_stdin = true;
		} else if (!strcmp(a, "--exec") && v) {
			o->exec_argv = &argv[i + 1];
			break;
		} else {
			fprintf(stderr, "peer_client: unknown or incomplete option \"%s\"\n", a);
			usage();
			return -EINVAL;
		}
		if (err)
			return err;
	}
	if (!o->socket_path) {
		fprintf(stderr, "peer_client: --socket is required\n");
		usage();
		return -EINVAL;
	}
	return 0;
}

static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

static int join_cgroup(const char *dir)
{
	char path[PATH_MAX], pid[32];
	int n, ret;

	n = snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "peer_client: --cgroup %s: path too long\n", dir);
		return -ENAMETOOLONG;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	ret = write_file(path, pid);
	if (ret)
		fprintf(stderr, "peer_client: %s: %s\n", path, strerror(-ret));
	return ret;
}

static int drop_ids(const struct pc_opts *o)
{
	if (o->gid < 0 && o->uid < 0)
		return 0;
	if (setgroups(0, NULL)) {
		fprintf(stderr, "peer_client: setgroups: %s\n", strerror(errno));
		return -errno;
	}
	if (o->gid >= 0 && setgid((gid_t)o->gid)) {
		fprintf(stderr, "peer_client: setgid(%ld): %s\n", o->gid, strerror(errno));
		return -errno;
	}
	if (o->uid >= 0 && setuid((uid_t)o->uid)) {
		fprintf(stderr, "peer_client: setuid(%ld): %s\n", o->uid, strerror(errno));
		return -errno;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Returns a connected fd or a negative errno. */
static int connect_one(const char *path, bool cloexec)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = -1, ret = -EIO, tries;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "peer_client: --socket %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (tries = 0; tries < PC_CONNECT_RETRIES; tries++) {
		fd = socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
		if (fd < 0) {
			ret = -errno;
			fprintf(stderr, "peer_client: socket: %s\n", strerror(errno));
			goto out;
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		ret = -errno;
		close(fd);
		fd = -1;
		if (ret != -EAGAIN && ret != -EINTR)
			break;
		sleep_ms(1);
	}
	fprintf(stderr, "peer_client: connect %s: %s\n", path, strerror(-ret));
out:
	return ret;
}

/* Field 22 (starttime, clock ticks since boot) of /proc/self/stat. */
static int read_start_ticks(unsigned long long *out)
{
	char buf[PC_STAT_MAX];
	char *p, *save = NULL, *tok;
	ssize_t n;
	int fd, field, ret = -EPROTO;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p)
		goto out;
	/* after ") " comes field 3 (state) */
	field = 3;
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == PC_STARTTIME_FIELD) {
			*out = strtoull(tok, NULL, 10);
			ret = 0;
			break;
		}
	}
out:
	close(fd);
	return ret;
}

/* Mount point of the cgroup2 hierarchy, from /proc/self/mountinfo. */
static int find_cgroup2_mount(char *out, size_t size)
{
	char line[PC_LINE_MAX];
	FILE *f;
	int ret = -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");
		char mnt[PATH_MAX];

		/* fields: id parent maj:min root mountpoint ... - fstype source opts */
		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if (strlen(mnt) >= size) {
			ret = -ENAMETOOLONG;
			break;
		}
		memcpy(out, mnt, strlen(mnt) + 1);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* The "0::/path" line of /proc/self/cgroup. */
static int read_own_cgroup(char *out, size_t size)
{
	char line[PC_LINE_MAX];
	FILE *f;
	int ret = -ENOENT;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t len;

		if (strncmp(line, "0::", 3))
			continue;
		len = strcspn(line + 3, "\n");
		if (len >= size) {
			ret = -ENAMETOOLONG;
			break;
		}
		memcpy(out, line + 3, len);
		out[len] = '\0';
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static int cgroup_id_of(const char *dir, unsigned long long *out)
{
	char mnt[PATH_MAX], rel[PATH_MAX], path[2 * PATH_MAX];
	struct stat st;
	int ret;

	if (dir) {
		if (stat(dir, &st)) {
			ret = -errno;
			fprintf(stderr, "peer_client: stat %s: %s\n", dir, strerror(errno));
			return ret;
		}
		*out = (unsigned long long)st.st_ino;
		return 0;
	}
	ret = find_cgroup2_mount(mnt, sizeof(mnt));
	if (ret) {
		fprintf(stderr, "peer_client: no cgroup2 mount: %s\n", strerror(-ret));
		return ret;
	}
	ret = read_own_cgroup(rel, sizeof(rel));
	if (ret) {
		fprintf(stderr, "peer_client: /proc/self/cgroup: no 0:: line: %s\n",
			strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s%s", mnt, rel);
	if (stat(path, &st)) {
		ret = -errno;
		fprintf(stderr, "peer_client: stat %s: %s\n", path, strerror(errno));
		return ret;
	}
	*out = (unsigned long long)st.st_ino;
	return 0;
}

/* Writes s as a JSON string (with quotes). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int report(const struct pc_opts *o, long connected)
{
	unsigned long long cgid = 0, start = 0;
	char exe[PATH_MAX];
	ssize_t n;
	int ret;

	ret = cgroup_id_of(o->cgroup_dir, &cgid);
	if (ret)
		return ret;
	ret = read_start_ticks(&start);
	if (ret) {
		fprintf(stderr, "peer_client: /proc/self/stat: %s\n", strerror(-ret));
		return ret;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		ret = -errno;
		fprintf(stderr, "peer_client: readlink /proc/self/exe: %s\n", strerror(errno));
		return ret;
	}
	exe[n] = '\0';
	printf("{\"pid\": %d, \"tid\": %d, \"uid\": %u, \"gid\": %u, \"cgroup_id\": %llu, "
	       "\"exe\": ",
	       (int)getpid(), (int)gettid(), (unsigned)getuid(), (unsigned)getgid(), cgid);
	json_str(stdout, exe);
	printf(", \"start_time_ticks\": %llu, \"connected\": %ld}\n", start, connected);
	if (fflush(stdout)) {
		ret = -errno;
		fprintf(stderr, "peer_client: stdout: %s\n", strerror(errno));
		return ret;
	}
	return 0;
}

static int wait_stdin_line(void)
{
	char c;
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0 || c == '\n')
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct pc_opts o;
	int *fds = NULL;
	long i, connected = 0;
	bool cloexec;
	int ret = 1;

	if (parse_args(argc, argv, &o))
		return 1;
	if (o.cgroup_dir && join_cgroup(o.cgroup_dir))
		goto out;
	if (drop_ids(&o))
		goto out;
	fds = calloc(o.connections ? (size_t)o.connections : 1, sizeof(*fds));
	if (!fds) {
		fprintf(stderr, "peer_client: out of memory\n");
		goto out;
	}
	cloexec = !o.fork_keep && !o.exec_argv;
	for (i = 0; i < o.connections; i++) {
		fds[i] = connect_one(o.socket_path, cloexec);
		if (fds[i] < 0)
			goto out;
		connected++;
	}
	if (report(&o, connected))
		goto out;
	if (o.wait_stdin) {
		int err = wait_stdin_line();

		if (err) {
			fprintf(stderr, "peer_client: stdin: %s\n", strerror(-err));
			goto out;
		}
	}
	if (o.fork_keep) {
		pid_t child = fork();

		if (child < 0) {
			fprintf(stderr, "peer_client: fork: %s\n", strerror(errno));
			goto out;
		}
		if (child == 0) {
			sleep_ms(o.hold_ms >= 0 ? o.hold_ms : PC_DEFAULT_KEEP_MS);
			_exit(0);
		}
	}
	if (o.exec_argv) {
		execvp(o.exec_argv[0], o.exec_argv);
		fprintf(stderr, "peer_client: exec %s: %s\n", o.exec_argv[0], strerror(errno));
		goto out;
	}
	if (!o.fork_keep && o.hold_ms > 0) /* with --fork-keep the child holds */
		sleep_ms(o.hold_ms);
	ret = 0;
out:
	for (i = 0; i < connected; i++)
		close(fds[i]);
	free(fds);
	return ret;
}
