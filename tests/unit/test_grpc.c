/* test_grpc.c - the gRPC transport over real Unix sockets: a server in a real event loop on its
 * own thread, driven by the blocking grpc_client_* and by a raw nghttp2 client (byte-at-a-time
 * writes, odd methods, compressed messages, GOAWAY) and raw garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/grpc.h"

#define TMO_MS	  5000
#define MAX_CONNS 16
#define ONE_MIB	  (1u << 20)
#define N_STREAMS 200 /* more than GRPC_MAX_STREAMS: the client queues the rest */

/* ---- test server (runs on its own thread; everything below runs there) ---- */

struct srv;

struct conn_ctx {
	struct srv *srv;
	struct grpc_conn *conn;
};

struct srv {
	struct loop *loop;
	pthread_t thread;
	int lfd;
	int stop[2];
	char dir[64];
	char path[108];
	struct conn_ctx *conns[MAX_CONNS];
	atomic_int n_call, n_message, n_half_close, n_cancel, n_close, n_accept, max_calls;
	atomic_int send_errors;
	atomic_int flood_result;
	uint32_t rst_burst; /* > 0: grpc_conn_set_reset_limit(burst, 0/s) on new connections */
};

struct call_ctx {
	struct srv *srv;
	struct conn_ctx *cc;
	struct grpc_call *call;
	char method[64];
	char text[ONE_MIB / 64];
	uint64_t timer;
	int ticks;
};

static void ctx_finish(struct call_ctx *ctx, enum grpc_status st, const char *msg)
{
	struct loop *loop = ctx->srv->loop;

	if (ctx->timer)
		loop_cancel_timer(loop, ctx->timer);
	if (grpc_call_finish(ctx->call, st, msg) < 0)
		atomic_fetch_add(&ctx->srv->send_errors, 1);
	free(ctx);
}

static void ctx_send(struct call_ctx *ctx, const void *p, size_t n)
{
	if (grpc_call_send(ctx->call, p, n) < 0)
		atomic_fetch_add(&ctx->srv->send_errors, 1);
}

static void on_tick(struct loop *loop, void *arg)
{
	struct call_ctx *ctx = arg;

	ctx->timer = 0;
	if (ctx->ticks-- > 0) {
		ctx_send(ctx, "tick", 4);
		loop_add_timer(loop, 10, on_tick, ctx, &ctx->timer);
		return;
	}
	ctx_finish(ctx, GRPC_OK, NULL);
}

static void s_on_call(struct grpc_call *call, const char *path, void *conn_arg)
{
	struct conn_ctx *cc = conn_arg;
	struct srv *srv = cc->srv;
	struct call_ctx *ctx;
	int n = (int)grpc_conn_call_count(cc->conn);

	atomic_fetch_add(&srv->n_call, 1);
	if (n > atomic_load(&srv->max_calls))
		atomic_store(&srv->max_calls, n);
	ctx = calloc(1, sizeof(*ctx));
	assert_non_null(ctx);
	ctx->srv = srv;
	ctx->cc = cc;
	ctx->call = call;
	snprintf(ctx->method, sizeof(ctx->method), "%s", path);
	grpc_call_set_data(call, ctx);
	if (strncmp(path, "/t.T/", 5) != 0)
		ctx_finish(ctx, GRPC_UNIMPLEMENTED, "unknown method");
}

static void s_on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct call_ctx *ctx = grpc_call_data(call);
	const char *m = ctx->method + 5;

	atomic_fetch_add(&ctx->srv->n_message, 1);
	snprintf(ctx->text, sizeof(ctx->text), "%.*s",
		 (int)(len < sizeof(ctx->text) - 1 ? len : sizeof(ctx->text) - 1),
		 (const char *)msg);
	if (strcmp(m, "Echo") == 0) {
		ctx_send(ctx, msg, len);
	} else if (strcmp(m, "Once") == 0) {
		ctx_send(ctx, "one", 3); /* and the stream stays open, as FetchX509SVID's does */
	} else if (strcmp(m, "Stream") == 0) {
		int n = atoi(ctx->text);
		char buf[32];

		for (int i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "msg-%d", i);
			ctx_send(ctx, buf, strlen(buf));
		}
	} else if (strcmp(m, "Big") == 0) {
		unsigned long size = 0, count = 0;
		uint8_t *p;

		sscanf(ctx->text, "%lu %lu", &size, &count);
		p = malloc(size ? size : 1);
		assert_non_null(p);
		for (unsigned long c = 0; c < count; c++) {
			for (unsigned long i = 0; i < size; i++)
				p[i] = (uint8_t)(i * 7 + c);
			ctx_send(ctx, p, size);
		}
		free(p);
	} else if (strcmp(m, "Header") == 0) {
		const char *v = grpc_call_header(call, ctx->text);

		v = v ? v : "(none)";
		ctx_send(ctx, v, strlen(v));
	} else if (strcmp(m, "Flood") == 0) {
		/* queue more than GRPC_MAX_OUTBUF before anything can be written */
		uint8_t *p = calloc(1, ONE_MIB);
		int r = 0;

		assert_non_null(p);
		for (int i = 0; i < 32 && r == 0; i++)
			r = grpc_call_send(call, p, ONE_MIB);
		free(p);
		atomic_store(&ctx->srv->flood_result, r);
	} else if (strcmp(m, "Close") == 0) {
		grpc_conn_close(ctx->cc->conn); /* deferred: we are inside a callback */
	}
}

static void s_on_half_close(struct grpc_call *call)
{
	struct call_ctx *ctx = grpc_call_data(call);
	const char *m = ctx->method + 5;

	atomic_fetch_add(&ctx->srv->n_half_close, 1);
	if (strcmp(m, "Status") == 0) {
		ctx_finish(ctx, GRPC_INVALID_ARGUMENT, ctx->text);
	} else if (strcmp(m, "Tick") == 0) {
		ctx->ticks = 3;
		loop_add_timer(ctx->srv->loop, 10, on_tick, ctx, &ctx->timer);
	} else if (strcmp(m, "Hang") != 0 && strcmp(m, "Close") != 0 && strcmp(m, "Flood") != 0 &&
		   strcmp(m, "Once") != 0) {
		ctx_finish(ctx, GRPC_OK, NULL);
	}
}

static void s_on_cancel(struct grpc_call *call)
{
	struct call_ctx *ctx = grpc_call_data(call);

	atomic_fetch_add(&ctx->srv->n_cancel, 1);
	if (ctx->timer)
		loop_cancel_timer(ctx->srv->loop, ctx->timer);
	free(ctx);
}

static void s_on_close(void *conn_arg)
{
	struct conn_ctx *cc = conn_arg;
	struct srv *srv = cc->srv;

	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i] == cc)
			srv->conns[i] = NULL;
	free(cc);
	atomic_fetch_add(&srv->n_close, 1);
}

static const struct grpc_server_ops s_ops = {
	.on_call = s_on_call,
	.on_message = s_on_message,
	.on_half_close = s_on_half_close,
	.on_cancel = s_on_cancel,
	.on_close = s_on_close,
};

static void on_listen(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct srv *srv = arg;
	struct conn_ctx *cc;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot = -1;

	if (cfd < 0)
		return;
	for (int i = 0; i < MAX_CONNS; i++)
		if (!srv->conns[i]) {
			slot = i;
			break;
		}
	assert_true(slot >= 0);
	cc = calloc(1, sizeof(*cc));
	assert_non_null(cc);
	cc->srv = srv;
	assert_int_equal(grpc_conn_new(loop, cfd, &s_ops, cc, &cc->conn), 0);
	if (srv->rst_burst)
		grpc_conn_set_reset_limit(cc->conn, srv->rst_burst, 0);
	srv->conns[slot] = cc;
	atomic_fetch_add(&srv->n_accept, 1);
}

static void on_stop(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct srv *srv = arg;

	for (int i = 0; i < MAX_CONNS; i++)
		if (srv->conns[i])
			grpc_conn_close(srv->conns[i]->conn);
	loop_stop(loop);
}

static void *srv_main(void *arg)
{
	struct srv *srv = arg;

	loop_run(srv->loop);
	return NULL;
}

static int srv_setup(void **state)
{
	struct srv *srv = calloc(1, sizeof(*srv));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(srv);
	snprintf(srv->dir, sizeof(srv->dir), "/tmp/test_grpc.XXXXXX");
	assert_non_null(mkdtemp(srv->dir));
	snprintf(srv->path, sizeof(srv->path), "%s/s.sock", srv->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", srv->path);
	assert_int_equal(loop_new(&srv->loop), 0);
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(srv->lfd >= 0);
	assert_int_equal(bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(srv->lfd, 64), 0);
	assert_int_equal(pipe2(srv->stop, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(loop_add_fd(srv->loop, srv->lfd, EPOLLIN, on_listen, srv), 0);
	assert_int_equal(loop_add_fd(srv->loop, srv->stop[0], EPOLLIN, on_stop, srv), 0);
	assert_int_equal(pthread_create(&srv->thread, NULL, srv_main, srv), 0);
	*state = srv;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *srv = *state;

	assert_int_equal(write(srv->stop[1], "x", 1), 1);
	pthread_join(srv->thread, NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		assert_null(srv->conns[i]);
	loop_free(srv->loop);
	close(srv->lfd);
	close(srv->stop[0]);
	close(srv->stop[1]);
	unlink(srv->path);
	rmdir(srv->dir);
	free(srv);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_for(atomic_int *v, int want)
{
	int64_t end = mono_ms() + TMO_MS;

	while (atomic_load(v) < want && mono_ms() < end)
		usleep(1000);
	assert_int_equal(atomic_load(v), want);
}

/* ---- blocking-client helpers ---- */

static struct grpc_client *connect_client(struct srv *srv)
{
	struct grpc_client *c = NULL;
	char err[GRPC_ERR_MAX], path[128];

	snprintf(path, sizeof(path), "unix:%s", srv->path);
	assert_int_equal(grpc_client_connect(path, TMO_MS, &c, err), 0);
	return c;
}

/* One call: collects up to max messages into msgs (caller frees), returns the status. */
static enum grpc_status do_call(struct grpc_client *c, const char *path, const char *const *md,
				size_t nmd, const void *req, size_t req_len, uint8_t **msgs,
				size_t *lens, size_t max, size_t *n, char err[GRPC_ERR_MAX])
{
	struct grpc_client_call *call;
	enum grpc_status st = GRPC_UNKNOWN;
	uint8_t *m;
	size_t len;
	int r;

	*n = 0;
	assert_int_equal(grpc_client_start(c, path, md, nmd, req, req_len, &call, err), 0);
	while ((r = grpc_client_next(call, &m, &len, &st, err)) == 1) {
		assert_true(*n < max);
		msgs[*n] = m;
		lens[*n] = len;
		(*n)++;
	}
	assert_int_equal(r, 0);
	grpc_client_call_free(call);
	return st;
}

static void free_msgs(uint8_t **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
}

/* ---- raw nghttp2 client (byte-at-a-time writes, arbitrary requests) ---- */

#define RAW_MAX_STREAMS 4

struct raw_stream {
	int32_t id;
	const uint8_t *body;
	size_t body_len, body_off;
	int status;
	char grpc_status[16];
	char grpc_message[512];
	int header_frames, data_frames;
	bool end_in_headers;
	bool closed;
	uint32_t error_code;
	uint8_t data[4096];
	size_t data_len;
};

struct raw {
	int fd;
	nghttp2_session *s;
	size_t write_chunk; /* bytes per write() */
	size_t data_chunk;  /* bytes per DATA frame */
	struct raw_stream st[RAW_MAX_STREAMS];
	int nst;
	bool eof;
};

static ssize_t raw_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct raw *r = ud;
	size_t n = len < r->write_chunk ? len : r->write_chunk;
	ssize_t w = write(r->fd, data, n);

	return w < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : w;
}

static struct raw_stream *raw_find(struct raw *r, int32_t id)
{
	for (int i = 0; i < r->nst; i++)
		if (r->st[i].id == id)
			return &r->st[i];
	return NULL;
}

static int raw_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
			 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			 void *ud)
{
	struct raw_stream *st = raw_find(ud, f->hd.stream_id);

	if (!st)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0)
		st->status = atoi((const char *)value);
	else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
		snprintf(st->grpc_status, sizeof(st->grpc_status), "%.*s", (int)valuelen, value);
	else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
		snprintf(st->grpc_message, sizeof(st->grpc_message), "%.*s", (int)valuelen, value);
	return 0;
}

static int raw_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct raw_stream *st = raw_find(ud, f->hd.stream_id);

	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS) {
		st->header_frames++;
		if (f->hd.flags & NGHTTP2_FLAG_END_STREAM && st->header_frames == 1)
			st->end_in_headers = true;
	} else if (f->hd.type == NGHTTP2_DATA) {
		st->data_frames++;
	}
	return 0;
}

static int raw_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
		       size_t len, void *ud)
{
	struct raw_stream *st = raw_find(ud, id);

	if (st && st->data_len + len <= sizeof(st->data)) {
		memcpy(st->data + st->data_len, data, len);
		st->data_len += len;
	}
	return 0;
}

static int raw_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
	struct raw_stream *st = raw_find(ud, id);

	if (st) {
		st->closed = true;
		st->error_code = code;
	}
	return 0;
}

static ssize_t raw_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
			     uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct raw *r = ud;
	struct raw_stream *st = &r->st[src->fd];
	size_t n = st->body_len - st->body_off;

	n = n < len ? n : len;
	n = n < r->data_chunk ? n : r->data_chunk;
	memcpy(buf, st->body + st->body_off, n);
	st->body_off += n;
	if (st->body_off == st->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static void raw_connect(struct raw *r, struct srv *srv, size_t write_chunk, size_t data_chunk)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	nghttp2_session_callbacks *cbs;

	memset(r, 0, sizeof(*r));
	r->write_chunk = write_chunk;
	r->data_chunk = data_chunk;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", srv->path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_send_callback(cbs, raw_send);
	nghttp2_session_callbacks_set_on_header_callback(cbs, raw_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, raw_on_frame);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, raw_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, raw_on_close);
	assert_int_equal(nghttp2_session_client_new(&r->s, cbs, r), 0);
	nghttp2_session_callbacks_del(cbs);
	assert_int_equal(nghttp2_submit_settings(r->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void raw_close(struct raw *r)
{
	nghttp2_session_del(r->s);
	close(r->fd);
}

#define MKNV(n, v)                                                                         \
	{                                                                                  \
		(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

static struct raw_stream *raw_request(struct raw *r, const char *method, const char *path,
				      const char *ctype, const uint8_t *body, size_t body_len)
{
	struct raw_stream *st = &r->st[r->nst];
	nghttp2_nv nva[] = {MKNV(":method", method),	 MKNV(":scheme", "http"),
			    MKNV(":path", path),	 MKNV(":authority", "x"),
			    MKNV("content-type", ctype), MKNV("te", "trailers")};
	nghttp2_data_provider prd = {.source.fd = r->nst, .read_callback = raw_read_body};

	assert_true(r->nst < RAW_MAX_STREAMS);
	st->body = body;
	st->body_len = body_len;
	st->id = nghttp2_submit_request(r->s, NULL, nva, 6, body ? &prd : NULL, NULL);
	assert_true(st->id > 0);
	r->nst++;
	return st;
}

/* Runs the session until *done (or EOF if done is NULL). */
static void raw_run(struct raw *r, bool *done)
{
	int64_t end = mono_ms() + TMO_MS;
	uint8_t buf[16384];

	for (;;) {
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		ssize_t n;

		assert_int_equal(nghttp2_session_send(r->s), 0);
		if (done ? *done : r->eof)
			return;
		assert_true(mono_ms() < end);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(r->fd, buf, sizeof(buf));
		if (n <= 0) {
			r->eof = true;
			assert_null(done); /* EOF before the awaited stream closed */
			return;
		}
		assert_true(nghttp2_session_mem_recv(r->s, buf, (size_t)n) >= 0);
	}
}

static size_t frame(uint8_t *out, const uint8_t *msg, size_t len, uint8_t flag)
{
	out[0] = flag;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
	memcpy(out + 5, msg, len);
	return len + 5;
}

/* ---- tests ---- */

static void test_unary_echo(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX], req[32];

	for (int i = 0; i < 5; i++) { /* sequential calls on one connection */
		snprintf(req, sizeof(req), "hello %d", i);
		assert_int_equal(
			do_call(c, "/t.T/Echo", NULL, 0, req, strlen(req), msgs, lens, 4, &n, err),
			GRPC_OK);
		assert_int_equal(n, 1);
		assert_int_equal(lens[0], strlen(req));
		assert_memory_equal(msgs[0], req, lens[0]);
		free_msgs(msgs, n);
	}
	/* an empty message is a message */
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, "", 0, msgs, lens, 4, &n, err), GRPC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(lens[0], 0);
	free_msgs(msgs, n);
	/* unknown method: the application's UNIMPLEMENTED, Trailers-Only */
	assert_int_equal(do_call(c, "/x.Y/Z", NULL, 0, "", 0, msgs, lens, 4, &n, err),
			 GRPC_UNIMPLEMENTED);
	assert_string_equal(err, "unknown method");
	assert_int_equal(n, 0);
	grpc_client_free(c);
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), 0);
	assert_int_equal(atomic_load(&srv->send_errors), 0);
}

static void test_metadata_headers(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	const char *md[] = {"x-test", "value-1", "workload.spiffe.io", "true"};
	char *big = malloc(GRPC_MAX_HEADER + 2);
	const char *md_big[] = {"x-big", big};
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];

	assert_int_equal(
		do_call(c, "/t.T/Header", md, 2, "workload.spiffe.io", 18, msgs, lens, 4, &n, err),
		GRPC_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(msgs[0], "true", 4);
	free_msgs(msgs, n);
	assert_int_equal(do_call(c, "/t.T/Header", md, 2, ":path", 5, msgs, lens, 4, &n, err),
			 GRPC_OK);
	assert_int_equal(lens[0], 11);
	assert_memory_equal(msgs[0], "/t.T/Header", 11);
	free_msgs(msgs, n);
	assert_int_equal(do_call(c, "/t.T/Header", NULL, 0, "x-test", 6, msgs, lens, 4, &n, err),
			 GRPC_OK);
	assert_memory_equal(msgs[0], "(none)", 6);
	free_msgs(msgs, n);
	/* a header value over GRPC_MAX_HEADER: refused before the application sees it */
	memset(big, 'a', GRPC_MAX_HEADER + 1);
	big[GRPC_MAX_HEADER + 1] = '\0';
	assert_int_equal(do_call(c, "/t.T/Echo", md_big, 1, "x", 1, msgs, lens, 4, &n, err),
			 GRPC_RESOURCE_EXHAUSTED);
	assert_int_equal(n, 0);
	free(big);
	assert_int_equal(atomic_load(&srv->n_call), 3);
	grpc_client_free(c);
}

static void test_server_stream(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	uint8_t *msgs[64];
	size_t lens[64], n;
	char err[GRPC_ERR_MAX], want[32];

	assert_int_equal(do_call(c, "/t.T/Stream", NULL, 0, "50", 2, msgs, lens, 64, &n, err),
			 GRPC_OK);
	assert_int_equal(n, 50);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "msg-%zu", i);
		assert_int_equal(lens[i], strlen(want));
		assert_memory_equal(msgs[i], want, lens[i]);
	}
	free_msgs(msgs, n);
	/* sends from a loop timer, outside any transport callback */
	assert_int_equal(do_call(c, "/t.T/Tick", NULL, 0, "", 0, msgs, lens, 64, &n, err), GRPC_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(msgs[2], "tick", 4);
	free_msgs(msgs, n);
	grpc_client_free(c);
}

/* Every byte of the request in its own write() and every message byte in its own DATA frame;
 * two messages in one request. */
static void test_split_frames(void **state)
{
	struct srv *srv = *state;
	static const char body_msg[] = "split across many frames";
	uint8_t body[128];
	size_t len;
	struct raw r;
	struct raw_stream *st;

	len = frame(body, (const uint8_t *)body_msg, strlen(body_msg), 0);
	len += frame(body + len, (const uint8_t *)"two", 3, 0);
	raw_connect(&r, srv, 1, 1);
	st = raw_request(&r, "POST", "/t.T/Echo", "application/grpc", body, len);
	raw_run(&r, &st->closed);
	assert_int_equal(st->status, 200);
	assert_string_equal(st->grpc_status, "0");
	assert_int_equal(st->data_len, len); /* both echoed, framed the same way */
	assert_memory_equal(st->data, body, len);
	assert_int_equal(atomic_load(&srv->n_message), 2);
	raw_close(&r);
}

static void test_big_messages(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	uint8_t *req = malloc(GRPC_MAX_MESSAGE + 1), *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];

	for (size_t i = 0; i < GRPC_MAX_MESSAGE + 1; i++)
		req[i] = (uint8_t)(i * 31 + 7);
	/* 1 MiB each way */
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, req, ONE_MIB, msgs, lens, 4, &n, err),
			 GRPC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(lens[0], ONE_MIB);
	assert_memory_equal(msgs[0], req, ONE_MIB);
	free_msgs(msgs, n);
	/* exactly the limit */
	assert_int_equal(
		do_call(c, "/t.T/Echo", NULL, 0, req, GRPC_MAX_MESSAGE, msgs, lens, 4, &n, err),
		GRPC_OK);
	assert_int_equal(lens[0], GRPC_MAX_MESSAGE);
	assert_memory_equal(msgs[0], req, GRPC_MAX_MESSAGE);
	free_msgs(msgs, n);
	/* a stream of three 1 MiB responses */
	assert_int_equal(do_call(c, "/t.T/Big", NULL, 0, "1048576 3", 9, msgs, lens, 4, &n, err),
			 GRPC_OK);
	assert_int_equal(n, 3);
	for (size_t m = 0; m < 3; m++) {
		assert_int_equal(lens[m], ONE_MIB);
		for (size_t i = 0; i < ONE_MIB; i += 4099)
			assert_int_equal(msgs[m][i], (uint8_t)(i * 7 + m));
	}
	free_msgs(msgs, n);
	/* one byte over: RESOURCE_EXHAUSTED, and the connection stays usable */
	assert_int_equal(
		do_call(c, "/t.T/Echo", NULL, 0, req, GRPC_MAX_MESSAGE + 1, msgs, lens, 4, &n, err),
		GRPC_RESOURCE_EXHAUSTED);
	assert_non_null(strstr(err, "larger than max"));
	assert_int_equal(n, 0);
	wait_for(&srv->n_cancel, 1); /* the application was told */
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, "ok", 2, msgs, lens, 4, &n, err),
			 GRPC_OK);
	free_msgs(msgs, n);
	free(req);
	grpc_client_free(c);
}

static void test_concurrent_streams(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	struct grpc_client_call *calls[N_STREAMS];
	char err[GRPC_ERR_MAX], req[32];
	enum grpc_status st;
	uint8_t *m;
	size_t len;

	for (int i = 0; i < N_STREAMS; i++) {
		snprintf(req, sizeof(req), "req-%d", i);
		assert_int_equal(grpc_client_start(c, i % 2 ? "/t.T/Tick" : "/t.T/Echo", NULL, 0,
						   (uint8_t *)req, strlen(req), &calls[i], err),
				 0);
	}
	for (int i = N_STREAMS - 1; i >= 0; i--) { /* read in reverse order */
		int want = i % 2 ? 3 : 1, got = 0;

		while (grpc_client_next(calls[i], &m, &len, &st, err) == 1) {
			if (i % 2 == 0) {
				snprintf(req, sizeof(req), "req-%d", i);
				assert_int_equal(len, strlen(req));
				assert_memory_equal(m, req, len);
			}
			free(m);
			got++;
		}
		assert_int_equal(st, GRPC_OK);
		assert_int_equal(got, want);
		grpc_client_call_free(calls[i]);
	}
	assert_int_equal(atomic_load(&srv->n_call), N_STREAMS);
	assert_true(atomic_load(&srv->max_calls) > 1); /* they really overlapped */
	assert_true(atomic_load(&srv->max_calls) <= GRPC_MAX_STREAMS);
	grpc_client_free(c);
}

static void test_client_cancel(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	struct grpc_client_call *call;
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];

	assert_int_equal(grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"x", 1, &call, err),
			 0);
	wait_for(&srv->n_half_close, 1);
	grpc_client_call_free(call); /* RST_STREAM CANCEL */
	wait_for(&srv->n_cancel, 1);
	/* the connection is still fine */
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, "y", 1, msgs, lens, 4, &n, err), GRPC_OK);
	free_msgs(msgs, n);
	assert_int_equal(atomic_load(&srv->n_close), 0);
	grpc_client_free(c);
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), 1);
}

static void test_peer_close(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	struct grpc_client_call *a, *b;
	char err[GRPC_ERR_MAX];

	assert_int_equal(grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"a", 1, &a, err), 0);
	assert_int_equal(grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"b", 1, &b, err), 0);
	wait_for(&srv->n_half_close, 2);
	grpc_client_free(c); /* calls outlive the client, detached */
	wait_for(&srv->n_cancel, 2);
	wait_for(&srv->n_close, 1);
	grpc_client_call_free(a);
	grpc_client_call_free(b);
}

static void test_server_close_in_callback(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	struct grpc_client_call *call, *hang;
	enum grpc_status st;
	char err[GRPC_ERR_MAX];
	uint8_t *m;
	size_t len;

	assert_int_equal(grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"a", 1, &hang, err),
			 0);
	wait_for(&srv->n_half_close, 1);
	assert_int_equal(grpc_client_start(c, "/t.T/Close", NULL, 0, (uint8_t *)"a", 1, &call, err),
			 0);
	/* EOF, or ECONNRESET if the server closed with our bytes unread */
	assert_true(grpc_client_next(call, &m, &len, &st, err) < 0);
	assert_non_null(strstr(err, "grpc: connection: "));
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), 2); /* Hang and Close, once each */
	grpc_client_call_free(call);
	grpc_client_call_free(hang);
	grpc_client_free(c);
}

/* A client that does not read while the server queues more than GRPC_MAX_OUTBUF: dropped. */
static void test_output_cap(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	struct grpc_client_call *call;
	char err[GRPC_ERR_MAX];

	assert_int_equal(grpc_client_start(c, "/t.T/Flood", NULL, 0, (uint8_t *)"x", 1, &call, err),
			 0);
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->flood_result), -ENOBUFS);
	assert_int_equal(atomic_load(&srv->n_cancel), 1);
	grpc_client_call_free(call);
	grpc_client_free(c);
}

static void read_all(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	int64_t end = mono_ms() + TMO_MS;

	*len = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		assert_true(mono_ms() < end);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = read(fd, buf + *len, cap - *len);
		if (n <= 0)
			return; /* EOF (or reset): the server closed */
		*len += (size_t)n;
		assert_true(*len < cap);
	}
}

/* The error code of the GOAWAY among the frames, or -1. */
static long find_goaway(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off + 9 <= len) {
		size_t flen = (size_t)p[off] << 16 | (size_t)p[off + 1] << 8 | p[off + 2];

		if (off + 9 + flen > len)
			break;
		if (p[off + 3] == NGHTTP2_GOAWAY && flen >= 8)
			return (long)((uint32_t)p[off + 13] << 24 | (uint32_t)p[off + 14] << 16 |
				      (uint32_t)p[off + 15] << 8 | p[off + 16]);
		off += 9 + flen;
	}
	return -1;
}

static void test_garbage(void **state)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} cases[] = {
		{"http/1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
		{"tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11},
		/* a valid preface, then a DATA frame on stream 0 */
		{"bad frame",
		 "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		 "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
		 "\x00\x00\x04\x00\x00\x00\x00\x00\x00"
		 "abcd",
		 24 + 9 + 13},
	};
	struct srv *srv = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint8_t buf[65536];
	size_t len;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", srv->path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		print_message("case %s\n", cases[i].name);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(write(fd, cases[i].bytes, cases[i].len), (ssize_t)cases[i].len);
		read_all(fd, buf, sizeof(buf), &len);
		assert_int_equal(find_goaway(buf, len), NGHTTP2_PROTOCOL_ERROR);
		close(fd);
		wait_for(&srv->n_close, (int)i + 1);
	}
	assert_int_equal(atomic_load(&srv->n_call), 0);
}

static void test_not_grpc(void **state)
{
	struct srv *srv = *state;
	uint8_t body[16];
	size_t len = frame(body, (const uint8_t *)"x", 1, 0);
	struct raw r;
	struct raw_stream *get, *text, *comp;

	raw_connect(&r, srv, 4096, 4096);
	get = raw_request(&r, "GET", "/t.T/Echo", "application/grpc", NULL, 0);
	text = raw_request(&r, "POST", "/t.T/Echo", "text/plain", body, len);
	body[0] = 1; /* compressed: not supported */
	comp = raw_request(&r, "POST", "/t.T/Echo", "application/grpc+proto", body, len);
	raw_run(&r, &get->closed);
	raw_run(&r, &text->closed);
	raw_run(&r, &comp->closed);
	assert_int_equal(get->status, 405);
	assert_int_equal(text->status, 415);
	assert_int_equal(comp->status, 200);
	assert_string_equal(comp->grpc_status, "12");
	assert_string_equal(comp->grpc_message, "compression not supported");
	assert_int_equal(atomic_load(&srv->n_call), 1); /* only the compressed one got through */
	assert_int_equal(atomic_load(&srv->n_message), 0);
	wait_for(&srv->n_cancel, 1);
	raw_close(&r);
}

static void test_status_message_and_trailers_only(void **state)
{
	static const char text[] = "h\xc3\xa9llo 100% \n\x01 done";
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	uint8_t *msgs[4], body[64];
	size_t lens[4], n, len;
	char err[GRPC_ERR_MAX];
	struct raw r;
	struct raw_stream *st;

	assert_int_equal(
		do_call(c, "/t.T/Status", NULL, 0, text, strlen(text), msgs, lens, 4, &n, err),
		GRPC_INVALID_ARGUMENT);
	assert_int_equal(n, 0);
	assert_string_equal(err, text);
	grpc_client_free(c);
	/* on the wire: one HEADERS frame with END_STREAM (Trailers-Only), percent-encoded */
	len = frame(body, (const uint8_t *)text, strlen(text), 0);
	raw_connect(&r, srv, 4096, 4096);
	st = raw_request(&r, "POST", "/t.T/Status", "application/grpc", body, len);
	raw_run(&r, &st->closed);
	assert_int_equal(st->status, 200);
	assert_int_equal(st->header_frames, 1);
	assert_true(st->end_in_headers);
	assert_int_equal(st->data_frames, 0);
	assert_string_equal(st->grpc_status, "3");
	assert_string_equal(st->grpc_message, "h%C3%A9llo 100%25 %0A%01 done");
	/* with messages: HEADERS, DATA, then trailers */
	len = frame(body, (const uint8_t *)"3", 1, 0);
	st = raw_request(&r, "POST", "/t.T/Stream", "application/grpc", body, len);
	raw_run(&r, &st->closed);
	assert_int_equal(st->header_frames, 2);
	assert_false(st->end_in_headers);
	assert_true(st->data_frames >= 1);
	assert_string_equal(st->grpc_status, "0");
	assert_string_equal(st->grpc_message, "");
	raw_close(&r);
}

static void test_deadline(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c = connect_client(srv);
	const char *md[] = {"grpc-timeout", "100m"};
	const char *bad[] = {"grpc-timeout", "123456789S"};
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];
	int64_t t0 = mono_ms(), dt;

	assert_int_equal(do_call(c, "/t.T/Hang", md, 1, "x", 1, msgs, lens, 4, &n, err),
			 GRPC_DEADLINE_EXCEEDED);
	dt = mono_ms() - t0;
	assert_true(dt >= 95 && dt < 3000);
	assert_int_equal(atomic_load(&srv->n_cancel), 1);
	/* a deadline that does not elapse changes nothing */
	md[1] = "10S";
	assert_int_equal(do_call(c, "/t.T/Echo", md, 1, "x", 1, msgs, lens, 4, &n, err), GRPC_OK);
	free_msgs(msgs, n);
	assert_int_equal(do_call(c, "/t.T/Echo", bad, 1, "x", 1, msgs, lens, 4, &n, err),
			 GRPC_INTERNAL);
	assert_string_equal(err, "malformed grpc-timeout");
	grpc_client_free(c);
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), 1);
}

/* GOAWAY from the client: the call in flight completes, then the server closes. */
static void test_client_goaway(void **state)
{
	struct srv *srv = *state;
	uint8_t body[16];
	size_t len = frame(body, (const uint8_t *)"x", 1, 0);
	struct raw r;
	struct raw_stream *st;

	raw_connect(&r, srv, 4096, 4096);
	st = raw_request(&r, "POST", "/t.T/Tick", "application/grpc", body, len);
	assert_int_equal(nghttp2_session_send(r.s), 0);
	wait_for(&srv->n_half_close, 1);
	assert_int_equal(
		nghttp2_submit_goaway(r.s, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0), 0);
	raw_run(&r, NULL); /* until EOF */
	assert_true(st->closed);
	assert_string_equal(st->grpc_status, "0");
	assert_int_equal(st->data_len, 3 * 9);
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), 0);
	raw_close(&r);
}

#define RST_BURST 5

/* A client that takes its answer, then cancels the stream (the only way to end FetchX509SVID),
 * again and again on one connection: never cut off, however fast (nghttp2's own guard counted
 * these resets and sent GOAWAY: "stream refused" for the call in flight). */
static void test_reset_after_answer_not_limited(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c;
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];

	srv->rst_burst = RST_BURST; /* read by the server thread at accept, after this */
	c = connect_client(srv);
	for (int i = 0; i < 4 * RST_BURST; i++) {
		struct grpc_client_call *call;
		enum grpc_status st;
		uint8_t *m = NULL;
		size_t len = 0;

		assert_int_equal(
			grpc_client_start(c, "/t.T/Once", NULL, 0, (uint8_t *)"x", 1, &call, err),
			0);
		assert_int_equal(grpc_client_next(call, &m, &len, &st, err), 1);
		assert_int_equal(len, 3);
		assert_memory_equal(m, "one", 3);
		free(m);
		grpc_client_call_free(call); /* RST_STREAM CANCEL after the answer */
	}
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, "y", 1, msgs, lens, 4, &n, err), GRPC_OK);
	free_msgs(msgs, n);
	wait_for(&srv->n_cancel, 4 * RST_BURST);
	assert_int_equal(atomic_load(&srv->n_close), 0);
	grpc_client_free(c);
	wait_for(&srv->n_close, 1);
}

/* Calls reset before any answer (rapid reset): RST_BURST are tolerated, the next one closes the
 * connection. */
static void test_early_resets_limited(void **state)
{
	struct srv *srv = *state;
	struct grpc_client *c;
	struct grpc_client_call *call;
	uint8_t *msgs[4];
	size_t lens[4], n;
	char err[GRPC_ERR_MAX];

	srv->rst_burst = RST_BURST;
	c = connect_client(srv);
	for (int i = 0; i < RST_BURST; i++) {
		assert_int_equal(
			grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"x", 1, &call, err),
			0);
		grpc_client_call_free(call); /* RST_STREAM CANCEL, no answer yet */
	}
	/* still served (and, in order, every reset above was seen first) */
	assert_int_equal(do_call(c, "/t.T/Echo", NULL, 0, "y", 1, msgs, lens, 4, &n, err), GRPC_OK);
	free_msgs(msgs, n);
	wait_for(&srv->n_cancel, RST_BURST);
	assert_int_equal(atomic_load(&srv->n_close), 0);
	assert_int_equal(grpc_client_start(c, "/t.T/Hang", NULL, 0, (uint8_t *)"x", 1, &call, err),
			 0);
	grpc_client_call_free(call); /* one too many */
	wait_for(&srv->n_close, 1);
	assert_int_equal(atomic_load(&srv->n_cancel), RST_BURST + 1);
	grpc_client_free(c);
}

static void test_client_errors(void **state)
{
	struct grpc_client *c = NULL;
	char err[GRPC_ERR_MAX];

	assert_int_equal(grpc_client_connect("unix:/nonexistent/x.sock", 100, &c, err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.sock"));
	assert_int_equal(grpc_client_connect("unix:", 100, &c, err), -EINVAL);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unary_echo, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_headers, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_stream, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_split_frames, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_big_messages, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_streams, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_client_cancel, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_peer_close, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_close_in_callback, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_garbage, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_not_grpc, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_status_message_and_trailers_only, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_deadline, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_client_goaway, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_reset_after_answer_not_limited, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_early_resets_limited, srv_setup, srv_teardown),
		cmocka_unit_test(test_client_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
