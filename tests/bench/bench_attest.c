/*
 * bench_attest - end-to-end attestation load on attestd's agent socket. K client threads each
 * loop: socket(), connect(), shutdown(SHUT_WR), read() until EOF, close(). attestd attests every
 * connection at accept and keeps it open for the Workload API; our end-of-input makes it close,
 * so connect->EOF is the client-side round trip of accept + capture + close. The latency to the
 * audit record is the server-side figure (the records' duration_us), which run-all reports.
 *
 *   bench_attest --socket PATH --clients K (--duration-ms D | --count N)
 *
 * With --duration-ms the clients stop starting new connections after D ms; with --count they
 * make N connections in all. Prints one JSON line:
 *   {"clients":K,"ok":n,"errors":e,"wall_s":W,"per_s":n/W,"p50_us":..,"p99_us":..,"max_us":..}
 * where errors counts connections that failed or were not closed by attestd within
 * BA_READ_TIMEOUT_S. Exit status 1 on a usage or set-up error or if no connection succeeded.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BA_MAX_CLIENTS	   1024
#define BA_MAX_DURATION_MS 600000L
#define BA_MAX_COUNT	   10000000L
#define BA_MAX_SAMPLES	   4000000L /* latency samples kept, over all threads */
#define BA_READ_TIMEOUT_S  10
#define BA_EAGAIN_RETRIES  1000 /* connect() EAGAIN retries, 1 ms apart */

struct ba_shared {
	struct sockaddr_un addr;
	atomic_bool stop;
	bool counted;	       /* --count mode (else --duration-ms) */
	atomic_long remaining; /* --count mode: connections left to start */
	uint32_t *lat_us;      /* cap samples; caller frees */
	long cap;
	atomic_long nlat; /* samples taken; may run past cap, only cap are stored */
};

struct ba_thread {
	pthread_t tid;
	struct ba_shared *sh;
	long ok, errors;
	int rc;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool take_one(struct ba_shared *sh)
{
	if (atomic_load(&sh->stop))
		return false;
	if (!sh->counted)
		return true;
	return atomic_fetch_sub(&sh->remaining, 1) > 0;
}

/* One attestation round trip; 0 when attestd closed the connection (EOF), else -errno. */
static int attest_once(const struct sockaddr_un *addr)
{
	struct timeval tv = {.tv_sec = BA_READ_TIMEOUT_S};
	char buf[256];
	ssize_t n;
	int fd, r = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (int i = 0;; i++) {
		if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			break;
		if (errno != EAGAIN || i >= BA_EAGAIN_RETRIES) {
			r = -errno;
			goto out;
		}
		usleep(1000);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    shutdown(fd, SHUT_WR) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
	}
out:
	close(fd);
	return r;
}

static void *client_main(void *arg)
{
	struct ba_thread *t = arg;
	uint64_t t0, dt;
	long slot;

	while (take_one(t->sh)) {
		t0 = now_ns();
		if (attest_once(&t->sh->addr) < 0) {
			t->errors++;
			continue;
		}
		dt = (now_ns() - t0) / 1000u;
		t->ok++;
		slot = atomic_fetch_add(&t->sh->nlat, 1);
		if (slot < t->sh->cap)
			t->sh->lat_us[slot] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static uint32_t percentile(const uint32_t *sorted, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);

	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtol(text, &end, 10);
	if (errno || end == text || *end || *out < min || *out > max) {
		fprintf(stderr, "bench_attest: %s \"%s\": not an integer in [%ld, %ld]\n", opt,
			text, min, max);
		return -EINVAL;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_attest --socket PATH --clients K "
			"(--duration-ms D | --count N)\n");
}

int main(int argc, char **argv)
{
	struct ba_shared sh = {.addr = {.sun_family = AF_UNIX}};
	struct ba_thread *threads = NULL;
	const char *sock = NULL;
	long clients = 0, duration_ms = 0, count = 0, started = 0, ok = 0, errors = 0, nall;
	uint64_t t0, wall_ns;
	int r = -EINVAL;

	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			usage();
			goto out;
		}
		if (strcmp(argv[i], "--socket") == 0) {
			sock = v;
			r = 0;
		} else if (strcmp(argv[i], "--clients") == 0)
			r = parse_long(argv[i], v, 1, BA_MAX_CLIENTS, &clients);
		else if (strcmp(argv[i], "--duration-ms") == 0)
			r = parse_long(argv[i], v, 1, BA_MAX_DURATION_MS, &duration_ms);
		else if (strcmp(argv[i], "--count") == 0)
			r = parse_long(argv[i], v, 1, BA_MAX_COUNT, &count);
		else {
			usage();
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
	}
	r = -EINVAL;
	if (!sock || clients == 0 || (duration_ms == 0) == (count == 0)) {
		usage();
		goto out;
	}
	if (snprintf(sh.addr.sun_path, sizeof(sh.addr.sun_path), "%s", sock) >=
	    (int)sizeof(sh.addr.sun_path)) {
		fprintf(stderr, "bench_attest: socket path \"%s\": too long\n", sock);
		goto out;
	}
	atomic_init(&sh.stop, false);
	sh.counted = count > 0;
	atomic_init(&sh.remaining, count);
	atomic_init(&sh.nlat, 0);
	sh.cap = count > 0 && count < BA_MAX_SAMPLES ? count : BA_MAX_SAMPLES;

	r = -ENOMEM;
	sh.lat_us = calloc((size_t)sh.cap, sizeof(*sh.lat_us));
	threads = calloc((size_t)clients, sizeof(*threads));
	if (!sh.lat_us || !threads)
		goto out;
	for (long i = 0; i < clients; i++)
		threads[i].sh = &sh;

	t0 = now_ns();
	for (long i = 0; i < clients; i++) {
		r = -pthread_create(&threads[i].tid, NULL, client_main, &threads[i]);
		if (r < 0) {
			fprintf(stderr, "bench_attest: pthread_create: %s\n", strerror(-r));
			atomic_store(&sh.stop, true);
			break;
		}
		started++;
	}
	if (duration_ms > 0 && started == clients) {
		struct timespec ts = {.tv_sec = duration_ms / 1000,
				      .tv_nsec = (duration_ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		atomic_store(&sh.stop, true);
	}
	for (long i = 0; i < started; i++)
		pthread_join(threads[i].tid, NULL);
	wall_ns = now_ns() - t0;
	if (started < clients)
		goto out; /* r holds the pthread_create error */

	for (long i = 0; i < clients; i++) {
		ok += threads[i].ok;
		errors += threads[i].errors;
	}
	nall = atomic_load(&sh.nlat);
	if (nall > sh.cap)
		nall = sh.cap;
	r = -EIO;
	if (ok == 0 || nall == 0) {
		fprintf(stderr, "bench_attest: no connection to %s succeeded (%ld errors)\n", sock,
			errors);
		goto out;
	}
	qsort(sh.lat_us, (size_t)nall, sizeof(*sh.lat_us), cmp_u32);
	printf("{\"clients\":%ld,\"ok\":%ld,\"errors\":%ld,\"wall_s\":%.4f,\"per_s\":%.1f,"
	       "\"samples\":%ld,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u}\n",
	       clients, ok, errors, (double)wall_ns / 1e9, (double)ok * 1e9 / (double)wall_ns, nall,
	       percentile(sh.lat_us, nall, 0.50), percentile(sh.lat_us, nall, 0.99),
	       sh.lat_us[nall - 1]);
	r = 0;
out:
	free(threads);
	free(sh.lat_us);
	return r < 0 ? 1 : 0;
}
