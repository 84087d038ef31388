/*
 * bench_svid - X.509-SVID fetch rate over the SPIFFE Workload API, and the floors it is compared
 * with. tests/bench/run-all drives it (section 3); every mode prints one JSON line.
 *
 *   bench_svid sign|keygen-sign|connect --threads T --duration-ms D
 *	floors: ECDSA P-256 signatures (EVP_DigestSign, SHA-256, 512-byte message, from a
 *	context initialised once per thread and copied per signature), P-256 key generation +
 *	one such signature (what one issuance costs at least), and Unix
 *	socket+connect+accept+close+close on a private listener (one per thread, both ends in the
 *	thread, as bench_connect does). T threads for D ms: {"op":..,"threads":T,"n":..,"per_s":..}
 *
 *   bench_svid fetch --socket P --conn fresh|reused --clients K --uid U (--cached|--unique)
 *		      --duration-ms D [--canned] [--trust-domain TD]
 *	K client processes (fork; root only): each makes one warm-up fetch as root (uid 0's SVID;
 *	so phase 1 does not time the process's own cold start), sets its uid to U (--cached: one
 *	identity for all) or U+i (--unique: one identity each), waits at a barrier, then
 *	phase 1: one FetchX509SVID each, all at once (with --unique this is the issuance burst),
 *	then, once every client has its first answer, phase 2 (steady state) for D ms:
 *	fresh = connect, FetchX509SVID, read the first message, close; reused = the same call again
 *	and again on one connection per client (each call cancelled after its first message).
 *	Each answer must name spiffe://TD/uid/<uid>, else it counts as wrong_id.
 *	--first-samples S (--unique, 1 client): before that run, S-1 more client processes, one
 *	at a time, each with a new identity (U+1 .. U+S-1) and only phase 1; "first" then gives
 *	the p50/max of the S first-fetch latencies, wall_s their sum and per_s 1/p50
 *	("sequential": true).
 *	--canned: fetch one answer from P (as the caller), then serve exactly those bytes from a
 *	private server built on the same transport (daemon/grpc.c, daemon/loop.c, one loop
 *	thread) with no attestation, policy or cache behind it, and run the clients against it:
 *	the HTTP/2 round-trip floor.
 *
 * Exit status 1 on a usage or set-up error or if no fetch succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/grpc.h"
#include "daemon/loop.h"
#include "daemon/proto.h"

#define BS_MAX_CLIENTS	     256
#define BS_MAX_FIRST_SAMPLES 256 /* --first-samples */
#define BS_MAX_THREADS	     64
#define BS_MAX_DURATION_MS   600000L
#define BS_MAX_UID	     4000000000L
#define BS_MAX_SAMPLES	     4000000L /* steady-state latency samples kept, over all clients */
#define BS_TIMEOUT_MS	     10000    /* every gRPC wait */
#define BS_BARRIER_TIMEOUT   30000    /* ms: clients ready, first answers in */
#define BS_SIGN_MSG_LEN	     512      /* about a TBSCertificate */
#define BS_BACKLOG	     1024
#define BS_ERR_MAX	     320
#define BS_MAX_SPIFFE_ID     256
#define BS_FETCH_PATH	     "/SpiffeWorkloadAPI/FetchX509SVID"
#define BS_DEFAULT_TD	     "example.org"
#define BS_POLL_US	     200 /* barrier polling interval */

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                   */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtol(text, &end, 10);
	if (errno || end == text || *end || *out < min || *out > max) {
		fprintf(stderr, "bench_svid: %s \"%s\": not an integer in [%ld, %ld]\n", opt, text,
			min, max);
		return -EINVAL;
	}
	return 0;
}

/* Prints s as a JSON string body (no quotes). */
static void json_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
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

static uint32_t us_u32(uint64_t ns)
{
	uint64_t us = ns / 1000u;

	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* ---------------------------------------------------------------------------------------- */
/* floors                                                                                    */

enum bs_floor {
	BS_FLOOR_SIGN,
	BS_FLOOR_KEYGEN_SIGN,
	BS_FLOOR_CONNECT,
};

struct bs_floor_thread {
	pthread_t tid;
	enum bs_floor op;
	uint64_t deadline;
	long n;
	int rc;
	char err[BS_ERR_MAX];
};

/* One signature: a copy of the initialised template context, then EVP_DigestSign (one-shot). */
static int sign_one(EVP_MD_CTX *md, const EVP_MD_CTX *tmpl, const uint8_t *msg, size_t len)
{
	uint8_t sig[128];
	size_t siglen = sizeof(sig);

	if (EVP_MD_CTX_copy_ex(md, tmpl) != 1 || EVP_DigestSign(md, sig, &siglen, msg, len) != 1)
		return -EIO;
	return 0;
}

static void *floor_sign_main(void *arg)
{
	struct bs_floor_thread *t = arg;
	uint8_t msg[BS_SIGN_MSG_LEN];
	EVP_MD_CTX *md = EVP_MD_CTX_new(), *tmpl = EVP_MD_CTX_new();
	EVP_PKEY *key = NULL, *nk;

	memset(msg, 0xa5, sizeof(msg));
	t->rc = -EIO;
	key = EVP_EC_gen("P-256"); /* the "CA" key */
	if (!md || !tmpl || !key || EVP_DigestSignInit(tmpl, NULL, EVP_sha256(), NULL, key) != 1) {
		snprintf(t->err, sizeof(t->err), "P-256 key or signing context: OpenSSL failed");
		goto out;
	}
	while (now_ns() < t->deadline) {
		if (t->op == BS_FLOOR_KEYGEN_SIGN) {
			/* the SVID's own key pair */
			nk = EVP_EC_gen("P-256");
			if (!nk) {
				snprintf(t->err, sizeof(t->err), "EVP_EC_gen(P-256) failed");
				goto out;
			}
			EVP_PKEY_free(nk);
		}
		msg[t->n % sizeof(msg)]++;
		if (sign_one(md, tmpl, msg, sizeof(msg)) < 0) {
			snprintf(t->err, sizeof(t->err), "EVP_DigestSign failed");
			goto out;
		}
		t->n++;
	}
	t->rc = 0;
out:
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(tmpl);
	EVP_MD_CTX_free(md);
	return NULL;
}

struct bs_listener {
	char dir[64];
	struct sockaddr_un addr;
	int fd;
};

static void listener_close(struct bs_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->addr.sun_path[0])
		unlink(l->addr.sun_path);
	if (l->dir[0])
		rmdir(l->dir);
}

/* A listener in a fresh temp dir; world-accessible when `open` (clients may setuid). */
static int listener_open(struct bs_listener *l, const char *prefix, bool open, int flags,
			 char err[BS_ERR_MAX])
{
	int r;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->addr.sun_family = AF_UNIX;
	snprintf(l->dir, sizeof(l->dir), "/tmp/%s.XXXXXX", prefix);
	if (!mkdtemp(l->dir)) {
		r = -errno;
		snprintf(err, BS_ERR_MAX, "mkdtemp /tmp/%s: %s", prefix, strerror(-r));
		l->dir[0] = 0;
		return r;
	}
	r = snprintf(l->addr.sun_path, sizeof(l->addr.sun_path), "%s/l.sock", l->dir);
	if (r < 0 || (size_t)r >= sizeof(l->addr.sun_path)) {
		snprintf(err, BS_ERR_MAX, "%s: socket path too long", l->dir);
		l->addr.sun_path[0] = 0;
		return -ENAMETOOLONG;
	}
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&l->addr, sizeof(l->addr)) < 0 ||
	    listen(l->fd, BS_BACKLOG) < 0 ||
	    (open && (chmod(l->dir, 0755) < 0 || chmod(l->addr.sun_path, 0777) < 0))) {
		r = -errno;
		snprintf(err, BS_ERR_MAX, "listener %s: %s", l->addr.sun_path, strerror(-r));
		return r;
	}
	return 0;
}

static void *floor_connect_main(void *arg)
{
	struct bs_floor_thread *t = arg;
	struct bs_listener l;
	int c, a;

	t->rc = listener_open(&l, "attestd-bench-svid-floor", false, 0, t->err);
	if (t->rc < 0)
		goto out;
	while (now_ns() < t->deadline) {
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c < 0 || connect(c, (const struct sockaddr *)&l.addr, sizeof(l.addr)) < 0) {
			t->rc = -errno;
			snprintf(t->err, sizeof(t->err), "connect %s: %s", l.addr.sun_path,
				 strerror(errno));
			if (c >= 0)
				close(c);
			goto out;
		}
		a = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0) {
			t->rc = -errno;
			snprintf(t->err, sizeof(t->err), "accept: %s", strerror(errno));
			close(c);
			goto out;
		}
		close(a);
		close(c);
		t->n++;
	}
out:
	listener_close(&l);
	return NULL;
}

static int run_floor(enum bs_floor op, const char *name, long threads, long duration_ms)
{
	struct bs_floor_thread t[BS_MAX_THREADS];
	long started = 0, n = 0;
	uint64_t t0, wall;
	int r = 0;

	memset(t, 0, sizeof(t));
	t0 = now_ns();
	for (long i = 0; i < threads; i++) {
		t[i].op = op;
		t[i].deadline = t0 + (uint64_t)duration_ms * 1000000u;
		r = -pthread_create(&t[i].tid, NULL,
				    op == BS_FLOOR_CONNECT ? floor_connect_main : floor_sign_main,
				    &t[i]);
		if (r < 0) {
			fprintf(stderr, "bench_svid: pthread_create: %s\n", strerror(-r));
			break;
		}
		started++;
	}
	for (long i = 0; i < started; i++)
		pthread_join(t[i].tid, NULL);
	wall = now_ns() - t0;
	if (r < 0)
		return r;
	for (long i = 0; i < threads; i++) {
		if (t[i].rc < 0) {
			fprintf(stderr, "bench_svid: %s: %s\n", name, t[i].err);
			return t[i].rc;
		}
		n += t[i].n;
	}
	printf("{\"op\":\"%s\",\"threads\":%ld,\"n\":%ld,\"wall_s\":%.4f,\"per_s\":%.1f}\n", name,
	       threads, n, (double)wall / 1e9, (double)n * 1e9 / (double)wall);
	return n > 0 ? 0 : -EIO;
}

/* ---------------------------------------------------------------------------------------- */
/* fetch clients                                                                             */

struct bs_opts {
	const char *socket; /* where the clients connect */
	bool reuse;
	bool unique;
	bool canned;
	long clients;
	long uid;
	long duration_ms;
	long first_samples; /* --unique, 1 client: new identities timed one at a time */
	const char *trust_domain;
	char canned_id[BS_MAX_SPIFFE_ID]; /* --canned: the SPIFFE ID in the canned answer */
};

/* Per client, in memory shared with the parent. */
struct bs_client {
	long ok, errors, wrong_id; /* phase 2 */
	int first_rc;		   /* phase 1: 0, -EBADMSG (wrong id) or another -errno */
	uint64_t first_ns;	   /* phase 1 latency */
	char err[BS_ERR_MAX];	   /* the first error this client saw */
};

struct bs_shared {
	atomic_int ready;    /* clients past set-up */
	atomic_int firsts;   /* clients with their phase-1 answer (or error) */
	atomic_ullong t1;    /* phase 2 start: set by the last client to finish phase 1 */
	atomic_ullong t_end; /* latest phase-2 end */
	atomic_long nlat;
	long cap;
	struct bs_client client[BS_MAX_CLIENTS];
	uint32_t lat_us[]; /* cap */
};

/*
 * One FetchX509SVID: connects if *cp is NULL, reads the first message, checks the SPIFFE ID,
 * cancels the call. Closes the connection unless `reuse` (or on error). 0, -EBADMSG for an
 * answer that does not name want_id, or another -errno (err filled).
 */
static int fetch_once(struct grpc_client **cp, const char *sock, bool reuse, const char *want_id,
		      char err[BS_ERR_MAX])
{
	static const char *const md[] = {"workload.spiffe.io", "true"};
	static const uint8_t empty[1];
	struct proto_x509svid_response resp = {0};
	struct grpc_client_call *call = NULL;
	char gerr[GRPC_ERR_MAX] = "", perr[PROTO_ERR_MAX] = "";
	enum grpc_status st = GRPC_OK;
	uint8_t *msg = NULL;
	size_t len = 0, idlen = strlen(want_id);
	int r;

	if (!*cp) {
		r = grpc_client_connect(sock, BS_TIMEOUT_MS, cp, gerr);
		if (r < 0) {
			snprintf(err, BS_ERR_MAX, "connect: %.250s", gerr);
			goto out;
		}
	}
	r = grpc_client_start(*cp, BS_FETCH_PATH, md, 1, empty, 0, &call, gerr);
	if (r < 0) {
		snprintf(err, BS_ERR_MAX, "start: %.250s", gerr);
		goto out;
	}
	r = grpc_client_next(call, &msg, &len, &st, gerr);
	if (r == 0) {
		snprintf(err, BS_ERR_MAX, "call ended without an answer: status %d: %.250s",
			 (int)st, gerr);
		r = -EPROTO;
		goto out;
	}
	if (r < 0) {
		snprintf(err, BS_ERR_MAX, "next: %.250s", gerr);
		goto out;
	}
	r = proto_decode_x509svid_response(msg, len, &resp, perr);
	if (r < 0) {
		snprintf(err, BS_ERR_MAX, "X509SVIDResponse: %.250s", perr);
		goto out;
	}
	if (resp.nsvids == 0 || resp.svids[0].spiffe_id.len != idlen ||
	    memcmp(resp.svids[0].spiffe_id.data, want_id, idlen) != 0 ||
	    resp.svids[0].x509_svid.len == 0 || resp.svids[0].x509_svid_key.len == 0) {
		snprintf(err, BS_ERR_MAX,
			 "answer does not hold an SVID for %s (%zu SVIDs, first %.*s)", want_id,
			 resp.nsvids,
			 resp.nsvids ? (int)(resp.svids[0].spiffe_id.len > 100
						     ? 100
						     : resp.svids[0].spiffe_id.len)
				     : 0,
			 resp.nsvids ? (const char *)resp.svids[0].spiffe_id.data : "");
		r = -EBADMSG;
		goto out;
	}
	r = 0;
out:
	proto_x509svid_response_clear(&resp);
	free(msg);
	grpc_client_call_free(call);
	if (*cp && (!reuse || r < 0)) {
		grpc_client_free(*cp);
		*cp = NULL;
	}
	return r;
}

static void client_error(struct bs_client *cl, const char *what)
{
	if (!cl->err[0])
		snprintf(cl->err, sizeof(cl->err), "%s", what);
}

/* Waits until *v >= want (or `stop_at` passes). */
static bool wait_at_least(atomic_int *v, int want, uint64_t stop_at)
{
	while (atomic_load(v) < want) {
		if (now_ns() > stop_at)
			return false;
		usleep(BS_POLL_US);
	}
	return true;
}

/* One client process. go_fd: read end of the start barrier (EOF = go). */
static void client_run(struct bs_shared *sh, const struct bs_opts *o, long idx, int go_fd)
{
	struct bs_client *cl = &sh->client[idx];
	struct grpc_client *c = NULL;
	char want[BS_MAX_SPIFFE_ID], warm[BS_MAX_SPIFFE_ID], err[BS_ERR_MAX];
	long uid = o->unique ? o->uid + idx : o->uid;
	uint64_t t, deadline;
	char b;
	int r;

	if (o->canned)
		snprintf(want, sizeof(want), "%s", o->canned_id);
	else
		snprintf(want, sizeof(want), "spiffe://%s/uid/%ld", o->trust_domain, uid);
	cl->first_rc = -EIO;
	/*
	 * Warm-up, still as root: one fetch on a connection of its own (answered for uid 0, whose
	 * SVID attestd issues once and then caches). It pays this process's own cold start (pages
	 * shared with the parent until written, lazy symbol binding, the first nghttp2 session),
	 * which phase 1 would otherwise time as attestd's issuance: about 0.2 ms per process here.
	 */
	if (o->canned)
		snprintf(warm, sizeof(warm), "%s", o->canned_id);
	else
		snprintf(warm, sizeof(warm), "spiffe://%s/uid/0", o->trust_domain);
	if (fetch_once(&c, o->socket, false, warm, err) < 0) {
		char msg[BS_ERR_MAX];

		snprintf(msg, sizeof(msg), "warm-up fetch as root: %.280s", err);
		client_error(cl, msg);
		cl->errors++;
	}
	if (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid((uid_t)uid) < 0) {
		snprintf(err, sizeof(err), "set uid/gid %ld: %s", uid, strerror(errno));
		client_error(cl, err);
		atomic_fetch_add(&sh->ready, 1);
		atomic_fetch_add(&sh->firsts, 1);
		return;
	}
	atomic_fetch_add(&sh->ready, 1);
	while (read(go_fd, &b, 1) < 0 && errno == EINTR)
		;
	close(go_fd);

	/* phase 1: every client's first fetch, all at once */
	t = now_ns();
	r = fetch_once(&c, o->socket, o->reuse, want, err);
	cl->first_ns = now_ns() - t;
	cl->first_rc = r;
	if (r < 0)
		client_error(cl, err);
	if (atomic_fetch_add(&sh->firsts, 1) + 1 == (int)o->clients)
		atomic_store(&sh->t1, now_ns());
	while (atomic_load(&sh->t1) == 0) {
		if (now_ns() - t > (uint64_t)BS_BARRIER_TIMEOUT * 1000000u) {
			client_error(cl, "phase 2 never started (another client hung?)");
			goto out;
		}
		usleep(BS_POLL_US);
	}

	/* phase 2: steady state */
	deadline = atomic_load(&sh->t1) + (uint64_t)o->duration_ms * 1000000u;
	while ((t = now_ns()) < deadline) {
		long slot;

		r = fetch_once(&c, o->socket, o->reuse, want, err);
		if (r < 0) {
			if (r == -EBADMSG)
				cl->wrong_id++;
			else
				cl->errors++;
			client_error(cl, err);
			continue;
		}
		cl->ok++;
		slot = atomic_fetch_add(&sh->nlat, 1);
		if (slot < sh->cap)
			sh->lat_us[slot] = us_u32(now_ns() - t);
	}
out:
	t = now_ns();
	for (unsigned long long e = atomic_load(&sh->t_end); e < t;)
		if (atomic_compare_exchange_weak(&sh->t_end, &e, t))
			break;
	if (c)
		grpc_client_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* canned server: the same transport with nothing behind it                                  */

struct bs_canned {
	struct loop *loop;
	int lfd;
	const uint8_t *resp;
	size_t len;
	long conns;
};

static void canned_on_call(struct grpc_call *call, const char *path, void *conn_arg)
{
	grpc_call_set_data(call, conn_arg);
}

static void canned_on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
}

static void canned_on_half_close(struct grpc_call *call)
{
	struct bs_canned *s = grpc_call_data(call);

	/* like attestd: the answer, and the stream stays open (the client cancels it) */
	if (grpc_call_send(call, s->resp, s->len) < 0)
		grpc_call_finish(call, GRPC_INTERNAL, "send failed");
}

static void canned_on_cancel(struct grpc_call *call)
{
}

static void canned_on_close(void *conn_arg)
{
	struct bs_canned *s = conn_arg;

	s->conns--;
}

static const struct grpc_server_ops canned_ops = {
	.on_call = canned_on_call,
	.on_message = canned_on_message,
	.on_half_close = canned_on_half_close,
	.on_cancel = canned_on_cancel,
	.on_close = canned_on_close,
};

static void canned_on_accept(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct bs_canned *s = arg;
	struct grpc_conn *conn;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		if (grpc_conn_new(loop, cfd, &canned_ops, s, &conn) == 0)
			s->conns++;
	}
}

static void canned_on_stop(struct loop *loop, int fd, uint32_t events, void *arg)
{
	loop_stop(loop);
}

/* The server process: serves until stop_fd reaches EOF. */
static int canned_serve(int lfd, int stop_fd, const uint8_t *resp, size_t len)
{
	struct bs_canned s = {.lfd = lfd, .resp = resp, .len = len};
	int r;

	r = loop_new(&s.loop);
	if (r < 0)
		return r;
	r = loop_add_fd(s.loop, lfd, EPOLLIN, canned_on_accept, &s);
	if (r == 0)
		r = loop_add_fd(s.loop, stop_fd, EPOLLIN, canned_on_stop, &s);
	if (r == 0)
		r = loop_run(s.loop);
	/* open connections die with the process */
	loop_free(s.loop);
	return r;
}

/* Fetches one answer from `sock` as the caller. *out: malloc'd, caller frees. */
static int canned_fetch(const char *sock, uint8_t **out, size_t *len, char *id, size_t idsize)
{
	static const char *const md[] = {"workload.spiffe.io", "true"};
	static const uint8_t empty[1];
	struct proto_x509svid_response resp = {0};
	struct grpc_client *c = NULL;
	struct grpc_client_call *call = NULL;
	char gerr[GRPC_ERR_MAX] = "", perr[PROTO_ERR_MAX] = "";
	enum grpc_status st;
	int r;

	*out = NULL;
	r = grpc_client_connect(sock, BS_TIMEOUT_MS, &c, gerr);
	if (r == 0)
		r = grpc_client_start(c, BS_FETCH_PATH, md, 1, empty, 0, &call, gerr);
	if (r == 0) {
		r = grpc_client_next(call, out, len, &st, gerr);
		if (r == 0) {
			snprintf(gerr, sizeof(gerr), "no answer, status %d", (int)st);
			r = -EPROTO;
		}
	}
	if (r < 0) {
		fprintf(stderr, "bench_svid: --canned: fetch from %s: %s\n", sock, gerr);
		goto out;
	}
	r = proto_decode_x509svid_response(*out, *len, &resp, perr);
	if (r == 0 && resp.nsvids == 0)
		r = -EPROTO;
	if (r < 0 || resp.svids[0].spiffe_id.len >= idsize) {
		fprintf(stderr, "bench_svid: --canned: answer from %s: %s\n", sock,
			perr[0] ? perr : "no usable SVID");
		r = r < 0 ? r : -EPROTO;
		goto out;
	}
	memcpy(id, resp.svids[0].spiffe_id.data, resp.svids[0].spiffe_id.len);
	id[resp.svids[0].spiffe_id.len] = 0;
	r = 0;
out:
	proto_x509svid_response_clear(&resp);
	grpc_client_call_free(call);
	grpc_client_free(c);
	if (r < 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* fetch: run the clients, print the figures                                                 */

/* samples/nsamples: first-fetch latencies (us) of the extra --first-samples runs, sample_err
 * their failures. */
static void print_fetch(const struct bs_opts *o, struct bs_shared *sh, uint64_t t0, long died,
			const uint32_t *samples, long nsamples, long sample_err)
{
	uint32_t first[BS_MAX_CLIENTS + BS_MAX_FIRST_SAMPLES];
	long ok = 0, errors = died, wrong = 0, first_ok = 0, first_err = sample_err, nlat;
	double first_per_s;
	uint64_t first_sum = 0;
	uint64_t t1 = atomic_load(&sh->t1), t_end = atomic_load(&sh->t_end);
	double w1 = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0, w2;
	const char *err = "";

	for (long i = 0; i < o->clients; i++) {
		struct bs_client *cl = &sh->client[i];

		ok += cl->ok;
		errors += cl->errors;
		wrong += cl->wrong_id + (cl->first_rc == -EBADMSG);
		if (cl->first_rc == 0)
			first[first_ok++] = us_u32(cl->first_ns);
		else
			first_err++;
		if (!err[0] && cl->err[0])
			err = cl->err;
	}
	for (long i = 0; i < nsamples; i++)
		first[first_ok++] = samples[i];
	nlat = atomic_load(&sh->nlat);
	nlat = nlat > sh->cap ? sh->cap : nlat;
	qsort(first, (size_t)first_ok, sizeof(first[0]), cmp_u32);
	for (long i = 0; i < first_ok; i++)
		first_sum += first[i];
	if (nsamples > 0) {
		/* one at a time: the sum of the latencies, and the rate of the median one */
		w1 = (double)first_sum / 1e6;
		first_per_s = first_ok ? 1e6 / (double)percentile(first, first_ok, 0.5) : 0.0;
	} else {
		first_per_s = w1 > 0 ? (double)first_ok / w1 : 0.0;
	}
	qsort(sh->lat_us, (size_t)nlat, sizeof(sh->lat_us[0]), cmp_u32);
	w2 = t_end > t1 && t1 ? (double)(t_end - t1) / 1e9 : 0;
	printf("{\"target\":\"%s\",\"conn\":\"%s\",\"clients\":%ld,\"identity\":\"%s\","
	       "\"first\":{\"ok\":%ld,\"errors\":%ld,\"sequential\":%s,\"wall_s\":%.4f,"
	       "\"per_s\":%.1f,\"p50_us\":%u,\"max_us\":%u},"
	       "\"ok\":%ld,\"errors\":%ld,\"wrong_id\":%ld,\"wall_s\":%.4f,\"per_s\":%.1f,"
	       "\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"error\":\"",
	       o->canned ? "canned" : "attestd", o->reuse ? "reused" : "fresh", o->clients,
	       o->unique ? "unique" : "cached", first_ok, first_err,
	       nsamples > 0 ? "true" : "false", w1, first_per_s,
	       first_ok ? percentile(first, first_ok, 0.5) : 0, first_ok ? first[first_ok - 1] : 0,
	       ok, errors, wrong, w2, w2 > 0 ? (double)ok / w2 : 0.0,
	       nlat ? percentile(sh->lat_us, nlat, 0.5) : 0,
	       nlat ? percentile(sh->lat_us, nlat, 0.99) : 0, nlat ? sh->lat_us[nlat - 1] : 0);
	json_escape(stdout, err);
	printf("\"}\n");
}

/* Forks the clients, releases them together, waits for them. *died: clients that did not exit
 * cleanly. The caller owns sh. */
static int run_clients(const struct bs_opts *o, struct bs_shared *sh, uint64_t *t0, long *died)
{
	pid_t pids[BS_MAX_CLIENTS];
	int go[2] = {-1, -1}, r = 0, st;
	long forked = 0;

	*died = 0;
	if (pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		fprintf(stderr, "bench_svid: pipe: %s\n", strerror(-r));
		return r;
	}
	fflush(stdout);
	fflush(stderr);
	for (long i = 0; i < o->clients; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			r = -errno;
			fprintf(stderr, "bench_svid: fork: %s\n", strerror(-r));
			break;
		}
		if (pids[i] == 0) {
			close(go[1]);
			client_run(sh, o, i, go[0]);
			_exit(0); /* a forked client: no atexit handlers, no stdio flush */
		}
		forked++;
	}
	close(go[0]);
	if (r == 0 && !wait_at_least(&sh->ready, (int)o->clients,
				     now_ns() + (uint64_t)BS_BARRIER_TIMEOUT * 1000000u)) {
		fprintf(stderr, "bench_svid: clients not ready after %d ms\n", BS_BARRIER_TIMEOUT);
		r = -ETIMEDOUT;
	}
	if (r < 0) {
		for (long i = 0; i < forked; i++)
			kill(pids[i], SIGKILL);
	}
	*t0 = now_ns();
	close(go[1]); /* go */
	for (long i = 0; i < forked; i++) {
		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			(*died)++;
	}
	return r;
}

static int run_fetch(struct bs_opts *o)
{
	struct bs_shared *sh = MAP_FAILED;
	struct bs_listener l = {.fd = -1};
	uint8_t *resp = NULL;
	size_t resp_len = 0, shsize;
	int stop[2] = {-1, -1}, r, st;
	pid_t server = -1;
	uint32_t samples[BS_MAX_FIRST_SAMPLES];
	long nsamples = 0, sample_err = 0;
	uint64_t t0 = 0;
	long died = 0;
	char err[BS_ERR_MAX];

	if (o->canned) {
		r = canned_fetch(o->socket, &resp, &resp_len, o->canned_id, sizeof(o->canned_id));
		if (r < 0)
			goto out;
		r = listener_open(&l, "attestd-bench-svid-canned", true, SOCK_NONBLOCK, err);
		if (r < 0) {
			fprintf(stderr, "bench_svid: --canned: %s\n", err);
			goto out;
		}
		if (pipe2(stop, O_CLOEXEC) < 0) {
			r = -errno;
			goto out;
		}
		fflush(stdout);
		fflush(stderr);
		server = fork();
		if (server < 0) {
			r = -errno;
			fprintf(stderr, "bench_svid: fork: %s\n", strerror(-r));
			goto out;
		}
		if (server == 0) {
			close(stop[1]);
			_exit(canned_serve(l.fd, stop[0], resp, resp_len) < 0 ? 1 : 0);
		}
		close(stop[0]);
		stop[0] = -1;
		close(l.fd);
		l.fd = -1;
		o->socket = l.addr.sun_path;
	}

	shsize = sizeof(*sh) + (size_t)BS_MAX_SAMPLES * sizeof(uint32_t);
	sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		r = -errno;
		fprintf(stderr, "bench_svid: mmap: %s\n", strerror(-r));
		goto out;
	}
	for (long k = 1; k < o->first_samples; k++) {
		/* one new identity (uid U+k) at a time, no phase 2; the main run below is U */
		struct bs_opts so = *o;

		so.uid = o->uid + k;
		so.duration_ms = 0;
		memset(sh, 0, sizeof(*sh));
		r = run_clients(&so, sh, &t0, &died);
		if (r < 0)
			goto out;
		if (sh->client[0].first_rc == 0 && died == 0)
			samples[nsamples++] = us_u32(sh->client[0].first_ns);
		else
			sample_err++;
	}
	memset(sh, 0, sizeof(*sh));
	sh->cap = BS_MAX_SAMPLES;
	r = run_clients(o, sh, &t0, &died);
	if (r < 0)
		goto out;
	print_fetch(o, sh, t0, died, samples, nsamples, sample_err);
	r = -EIO;
	for (long i = 0; i < o->clients; i++)
		if (sh->client[i].ok > 0)
			r = 0;
out:
	if (server > 0) {
		close(stop[1]); /* EOF: the server stops */
		stop[1] = -1;
		while (waitpid(server, &st, 0) < 0 && errno == EINTR)
			;
		if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && r == 0) {
			fprintf(stderr, "bench_svid: canned server failed (status 0x%x)\n", st);
			r = -EIO;
		}
	}
	if (stop[0] >= 0)
		close(stop[0]);
	if (stop[1] >= 0)
		close(stop[1]);
	if (sh != MAP_FAILED)
		munmap(sh, shsize);
	if (o->canned)
		listener_close(&l);
	free(resp);
	return r;
}

/* ---------------------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_svid sign|keygen-sign|connect --threads T --duration-ms D\n"
		"       bench_svid fetch --socket P --conn fresh|reused --clients K --uid U "
		"(--cached|--unique) --duration-ms D [--canned] [--trust-domain TD] "
		"[--first-samples S]\n");
}

int main(int argc, char **argv)
{
	struct bs_opts o = {.trust_domain = BS_DEFAULT_TD, .uid = -1};
	const char *mode = argc > 1 ? argv[1] : "";
	const char *conn = NULL;
	long threads = 0;
	bool cached = false;
	int r = -EINVAL;

	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool flag = true;

		if (strcmp(argv[i], "--cached") == 0)
			cached = true;
		else if (strcmp(argv[i], "--unique") == 0)
			o.unique = true;
		else if (strcmp(argv[i], "--canned") == 0)
			o.canned = true;
		else
			flag = false;
		if (flag)
			continue;
		if (!v) {
			usage();
			goto out;
		}
		i++;
		r = 0;
		if (strcmp(argv[i - 1], "--socket") == 0)
			o.socket = v;
		else if (strcmp(argv[i - 1], "--conn") == 0)
			conn = v;
		else if (strcmp(argv[i - 1], "--trust-domain") == 0)
			o.trust_domain = v;
		else if (strcmp(argv[i - 1], "--threads") == 0)
			r = parse_long(argv[i - 1], v, 1, BS_MAX_THREADS, &threads);
		else if (strcmp(argv[i - 1], "--clients") == 0)
			r = parse_long(argv[i - 1], v, 1, BS_MAX_CLIENTS, &o.clients);
		else if (strcmp(argv[i - 1], "--uid") == 0)
			r = parse_long(argv[i - 1], v, 1, BS_MAX_UID, &o.uid);
		else if (strcmp(argv[i - 1], "--first-samples") == 0)
			r = parse_long(argv[i - 1], v, 1, BS_MAX_FIRST_SAMPLES, &o.first_samples);
		else if (strcmp(argv[i - 1], "--duration-ms") == 0)
			r = parse_long(argv[i - 1], v, 1, BS_MAX_DURATION_MS, &o.duration_ms);
		else {
			usage();
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
	}
	r = -EINVAL;
	if (strcmp(mode, "sign") == 0 || strcmp(mode, "keygen-sign") == 0 ||
	    strcmp(mode, "connect") == 0) {
		if (threads == 0 || o.duration_ms == 0) {
			usage();
			goto out;
		}
		r = run_floor(strcmp(mode, "sign") == 0		 ? BS_FLOOR_SIGN
			      : strcmp(mode, "keygen-sign") == 0 ? BS_FLOOR_KEYGEN_SIGN
								 : BS_FLOOR_CONNECT,
			      mode, threads, o.duration_ms);
	} else if (strcmp(mode, "fetch") == 0) {
		if (!o.socket || !conn || o.clients == 0 || o.uid < 0 || o.duration_ms == 0 ||
		    cached == o.unique || (o.first_samples > 1 && (!o.unique || o.clients != 1)) ||
		    (strcmp(conn, "fresh") != 0 && strcmp(conn, "reused") != 0)) {
			usage();
			goto out;
		}
		if (geteuid() != 0) {
			fprintf(stderr, "bench_svid: fetch needs root (clients set their uid)\n");
			goto out;
		}
		o.reuse = strcmp(conn, "reused") == 0;
		r = run_fetch(&o);
	} else {
		usage();
	}
out:
	return r < 0 ? 1 : 0;
}
