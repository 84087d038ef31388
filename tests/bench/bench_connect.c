/*
 * bench_connect - cost of Unix-socket operations on a socket that is NOT attestd's: a private
 * listener in a fresh temp directory. tests/bench/run-all runs it with and without attestd's
 * cgroup/connect_unix + cgroup/getsockname_unix programs attached at the cgroup2 root, which
 * then run on every Unix connect()/getsockname() on the host.
 *
 *   bench_connect connect N       N x (socket + connect + accept + close + close), one thread
 *   bench_connect getsockname N   N x getsockname() on the accepted end of a connected pair
 *
 * Pins itself to the last CPU, runs N/10 untimed operations to warm up, then N timed ones, and
 * prints one JSON line: {"op":"connect","n":N,"ns_per_op":X}. Errors: stderr, exit status 1.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BC_MIN_OPS	  1000L
#define BC_MAX_OPS	  100000000L
#define BC_WARMUP_DIVISOR 10
#define BC_BACKLOG	  16

enum bc_op {
	BC_OP_CONNECT,
	BC_OP_GETSOCKNAME,
};

struct bc_listener {
	char dir[64];
	struct sockaddr_un addr;
	int fd;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_last_cpu(void)
{
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)(ncpu - 1), &set);
	/* best effort: an unpinned run is only noisier */
	(void)sched_setaffinity(0, sizeof(set), &set);
}

static int listener_open(struct bc_listener *l)
{
	int r;

	l->fd = -1;
	snprintf(l->dir, sizeof(l->dir), "/tmp/attestd-bench-unrelated.XXXXXX");
	if (!mkdtemp(l->dir)) {
		l->dir[0] = 0;
		return -errno;
	}
	memset(&l->addr, 0, sizeof(l->addr));
	l->addr.sun_family = AF_UNIX;
	r = snprintf(l->addr.sun_path, sizeof(l->addr.sun_path), "%s/l.sock", l->dir);
	if (r < 0 || (size_t)r >= sizeof(l->addr.sun_path))
		return -ENAMETOOLONG;
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	if (bind(l->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0)
		return -errno;
	if (listen(l->fd, BC_BACKLOG) < 0)
		return -errno;
	return 0;
}

static void listener_close(struct bc_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	if (l->addr.sun_path[0])
		unlink(l->addr.sun_path);
	if (l->dir[0])
		rmdir(l->dir);
}

/* One round trip: the connect completes into the backlog, so one thread can do both ends. */
static int connect_once(const struct bc_listener *l)
{
	int c, a = -1, r = 0;

	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (const struct sockaddr *)&l->addr, sizeof(l->addr)) < 0) {
		r = -errno;
		goto out;
	}
	a = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0)
		r = -errno;
out:
	if (a >= 0)
		close(a);
	close(c);
	return r;
}

static int run_connect(const struct bc_listener *l, long n, uint64_t *elapsed_ns)
{
	uint64_t t0;
	int r;

	for (long i = 0; i < n / BC_WARMUP_DIVISOR; i++) {
		r = connect_once(l);
		if (r < 0)
			return r;
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		r = connect_once(l);
		if (r < 0)
			return r;
	}
	*elapsed_ns = now_ns() - t0;
	return 0;
}

static int run_getsockname(const struct bc_listener *l, long n, uint64_t *elapsed_ns)
{
	struct sockaddr_un sa;
	socklen_t len;
	uint64_t t0;
	int c, a = -1, r = 0;

	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (const struct sockaddr *)&l->addr, sizeof(l->addr)) < 0) {
		r = -errno;
		goto out;
	}
	a = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (a < 0) {
		r = -errno;
		goto out;
	}
	for (long i = 0; i < n / BC_WARMUP_DIVISOR; i++) {
		len = sizeof(sa);
		if (getsockname(a, (struct sockaddr *)&sa, &len) < 0) {
			r = -errno;
			goto out;
		}
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		len = sizeof(sa);
		if (getsockname(a, (struct sockaddr *)&sa, &len) < 0) {
			r = -errno;
			goto out;
		}
	}
	*elapsed_ns = now_ns() - t0;
out:
	if (a >= 0)
		close(a);
	close(c);
	return r;
}

int main(int argc, char **argv)
{
	struct bc_listener l = {.fd = -1};
	uint64_t elapsed = 0;
	enum bc_op op;
	char *end = NULL;
	long n;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_connect connect|getsockname N\n");
		return 1;
	}
	if (strcmp(argv[1], "connect") == 0) {
		op = BC_OP_CONNECT;
	} else if (strcmp(argv[1], "getsockname") == 0) {
		op = BC_OP_GETSOCKNAME;
	} else {
		fprintf(stderr, "bench_connect: unknown operation \"%s\"\n", argv[1]);
		return 1;
	}
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno || end == argv[2] || *end || n < BC_MIN_OPS || n > BC_MAX_OPS) {
		fprintf(stderr, "bench_connect: N \"%s\": not an integer in [%ld, %ld]\n", argv[2],
			BC_MIN_OPS, BC_MAX_OPS);
		return 1;
	}
	pin_last_cpu();
	r = listener_open(&l);
	if (r < 0) {
		fprintf(stderr, "bench_connect: private listener in %s: %s\n", l.dir, strerror(-r));
		goto out;
	}
	r = op == BC_OP_CONNECT ? run_connect(&l, n, &elapsed) : run_getsockname(&l, n, &elapsed);
	if (r < 0) {
		fprintf(stderr, "bench_connect: %s on %s: %s\n", argv[1], l.addr.sun_path,
			strerror(-r));
		goto out;
	}
	printf("{\"op\":\"%s\",\"n\":%ld,\"ns_per_op\":%.2f}\n", argv[1], n,
	       (double)elapsed / (double)n);
out:
	listener_close(&l);
	return r < 0 ? 1 : 0;
}
