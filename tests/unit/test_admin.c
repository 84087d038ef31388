/* test_admin.c - the admin API server over a real Unix socket in a temporary directory. A client
 * thread does blocking I/O and records what it saw; the test thread runs the event loop and
 * checks the records afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/admin.h"

#define MAX_RESP 8

struct response {
	int status;
	char headers[1024];
	char body[1024];
	bool closed_after; /* server closed the connection after this response */
};

struct fixture {
	char dir[64];
	char path[100];
	struct loop *loop;
	struct log lg;
	struct admin *admin;
	int done_pipe[2];
	/* client script and results */
	void (*client)(struct fixture *f);
	struct response resp[MAX_RESP];
	int nresp;
	char client_err[256];
	/* deferred handling */
	struct admin_request *held;
	int handler_calls;
	bool close_now;
	uint64_t elapsed_ms;
};

/* ---- client side (runs on its own thread; no cmocka asserts here) ---- */

static int client_connect(struct fixture *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(f->client_err, sizeof(f->client_err), "connect: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool send_all(struct fixture *f, int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0) {
			snprintf(f->client_err, sizeof(f->client_err), "send: %s", strerror(errno));
			return false;
		}
		s += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads one response into f->resp[f->nresp++]; false on error/EOF. Leftover bytes of a
 * following response stay in *buf. */
static bool read_response(struct fixture *f, int fd, char *buf, size_t *blen, size_t cap)
{
	struct response *r = &f->resp[f->nresp];
	char *end, *cl;
	size_t hlen, clen, total;

	for (;;) {
		buf[*blen] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			hlen = (size_t)(end - buf) + 4;
			cl = strcasestr(buf, "Content-Length: ");
			clen = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
			if (*blen >= hlen + clen)
				break;
		}
		ssize_t n = recv(fd, buf + *blen, cap - 1 - *blen, 0);
		if (n <= 0) {
			snprintf(f->client_err, sizeof(f->client_err), "recv: %s after %zu bytes",
				 n == 0 ? "EOF" : strerror(errno), *blen);
			return false;
		}
		*blen += (size_t)n;
	}
	total = hlen + clen;
	if (sscanf(buf, "HTTP/1.1 %d ", &r->status) != 1)
		r->status = -1;
	snprintf(r->headers, sizeof(r->headers), "%.*s", (int)hlen, buf);
	snprintf(r->body, sizeof(r->body), "%.*s", (int)clen, buf + hlen);
	memmove(buf, buf + total, *blen - total);
	*blen -= total;
	f->nresp++;
	return true;
}

/* True if the server closed the connection (EOF, or a reset because it left request bytes
 * unread) within timeout_ms. */
static bool closed_within(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	char c;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static bool at_eof(int fd)
{
	return closed_within(fd, 300);
}

/* One request per connection; records whether the server closed afterwards. */
static void request_once(struct fixture *f, const char *req)
{
	char buf[8192];
	size_t blen = 0;
	int fd = client_connect(f);

	if (fd < 0)
		return;
	if (send_all(f, fd, req, strlen(req)) && read_response(f, fd, buf, &blen, sizeof(buf)))
		f->resp[f->nresp - 1].closed_after = at_eof(fd);
	close(fd);
}

static void *client_main(void *arg)
{
	struct fixture *f = arg;

	f->client(f);
	(void)!write(f->done_pipe[1], "x", 1);
	return NULL;
}

/* ---- server side ---- */

static void on_client_done(struct loop *loop, int fd, uint32_t events, void *arg)
{
	loop_stop(loop);
}

static void on_timeout(struct loop *loop, void *arg)
{
	fail_msg("test timed out");
}

static void run_client(struct fixture *f, void (*client)(struct fixture *f))
{
	pthread_t th;
	uint64_t tid, t0 = loop_now_ms(f->loop);

	f->client = client;
	assert_int_equal(loop_add_timer(f->loop, 10000, on_timeout, NULL, &tid), 0);
	assert_int_equal(pthread_create(&th, NULL, client_main, f), 0);
	assert_int_equal(loop_run(f->loop), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	loop_cancel_timer(f->loop, tid);
	f->elapsed_ms = loop_now_ms(f->loop) - t0;
	if (f->client_err[0])
		fail_msg("client: %s", f->client_err);
}

static void h_status(struct admin_request *req, void *arg)
{
	struct fixture *f = arg;
	const struct http_request *h = admin_request_http(req);
	char pid[32];

	f->handler_calls++;
	if (http_query_get(h, "pid", pid, sizeof(pid)) == 0)
		admin_respond(req, 200, json_pack("{s:b,s:s}", "ok", 1, "pid", pid));
	else
		admin_respond(req, 200, json_pack("{s:b}", "ok", 1));
}

static void h_error(struct admin_request *req, void *arg)
{
	admin_respond_error(req, 422, "bad pid %s", "x\"y");
}

static void on_deferred(struct loop *loop, void *arg)
{
	struct fixture *f = arg;
	struct admin_request *req = f->held;

	f->held = NULL;
	admin_respond(req, 200, json_pack("{s:s}", "deferred", "yes"));
}

static void h_defer(struct admin_request *req, void *arg)
{
	struct fixture *f = arg;

	f->handler_calls++;
	f->held = req;
	if (!f->close_now)
		assert_int_equal(loop_add_timer(f->loop, 50, on_deferred, f, NULL), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[ADMIN_ERR_MAX];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_admin.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/admin.sock", f->dir);
	log_init(&f->lg, LOG_ERROR, STDERR_FILENO);
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(pipe2(f->done_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(loop_add_fd(f->loop, f->done_pipe[0], EPOLLIN, on_client_done, f), 0);
	if (admin_new(f->loop, &f->lg, f->path, &f->admin, err) < 0)
		fail_msg("admin_new: %s", err);
	assert_int_equal(admin_route(f->admin, "GET", "/v1/status", h_status, f), 0);
	assert_int_equal(admin_route(f->admin, "GET", "/v1/status", h_status, f), -EEXIST);
	assert_int_equal(admin_route(f->admin, "GET", "v1/x", h_status, f), -EINVAL);
	assert_int_equal(admin_route(f->admin, "GET", "/v1/error", h_error, f), 0);
	assert_int_equal(admin_route(f->admin, "GET", "/v1/defer", h_defer, f), 0);
	assert_int_equal(admin_route(f->admin, "DELETE", "/v1/defer", h_defer, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	admin_free(f->admin);
	loop_del_fd(f->loop, f->done_pipe[0]);
	close(f->done_pipe[0]);
	close(f->done_pipe[1]);
	loop_free(f->loop);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void assert_header(const struct response *r, const char *h)
{
	if (!strstr(r->headers, h))
		fail_msg("header '%s' missing in:\n%s", h, r->headers);
}

/* ---- tests ---- */

static void client_codes(struct fixture *f)
{
	request_once(f, "GET /v1/status?pid=4%32 HTTP/1.1\r\nHost: localhost\r\n\r\n");
	request_once(f, "GET /v1/foo HTTP/1.1\r\nHost: localhost\r\n\r\n");
	request_once(f, "POST /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n");
	request_once(f, "PUT /v1/defer HTTP/1.1\r\nHost: localhost\r\n\r\n");
	request_once(f, "GET /v1/status HTTP/7.0\r\n\r\n");
	request_once(f, "GET no-slash HTTP/1.1\r\n\r\n");
	request_once(f, "GET /v1/error HTTP/1.0\r\n\r\n");
	request_once(f, "this is not http\r\n\r\n");
}

static void test_status_codes(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	run_client(f, client_codes);
	assert_int_equal(f->nresp, 8);
	assert_int_equal(f->resp[0].status, 200);
	assert_string_equal(f->resp[0].body, "{\"ok\":true,\"pid\":\"42\"}\n");
	assert_header(&f->resp[0], "Content-Type: application/json\r\n");
	assert_header(&f->resp[0], "Connection: keep-alive\r\n");
	assert_false(f->resp[0].closed_after);

	assert_int_equal(f->resp[1].status, 404);
	assert_string_equal(f->resp[1].body, "{\"error\":\"no such endpoint: /v1/foo\"}\n");

	assert_int_equal(f->resp[2].status, 405);
	assert_header(&f->resp[2], "\r\nAllow: GET\r\n");
	assert_int_equal(f->resp[3].status, 405);
	assert_header(&f->resp[3], "\r\nAllow: GET, DELETE\r\n");
	assert_false(f->resp[3].closed_after);

	assert_int_equal(f->resp[4].status, 505);
	assert_true(f->resp[4].closed_after);
	assert_header(&f->resp[4], "Connection: close\r\n");
	assert_int_equal(f->resp[5].status, 400);
	assert_true(f->resp[5].closed_after);
	assert_non_null(strstr(f->resp[5].body, "{\"error\":\"http request: "));

	/* HTTP/1.0 without keep-alive: answered, then closed */
	assert_int_equal(f->resp[6].status, 422);
	assert_string_equal(f->resp[6].body, "{\"error\":\"bad pid x\\\"y\"}\n");
	assert_true(f->resp[6].closed_after);
	assert_int_equal(f->handler_calls, 1);
	/* an unknown method token */
	assert_int_equal(f->resp[7].status, 501);
	assert_true(f->resp[7].closed_after);
}

static void client_keepalive(struct fixture *f)
{
	static const char req[] = "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char last[] = "GET /v1/status?pid=3 HTTP/1.1\r\nConnection: close\r\n\r\n";
	char buf[8192], two[256];
	size_t blen = 0;
	int fd = client_connect(f);

	if (fd < 0)
		return;
	/* two requests one after the other, then two pipelined in one write, then a closing one */
	snprintf(two, sizeof(two), "%sGET /v1/defer HTTP/1.1\r\n\r\n", req);
	if (!send_all(f, fd, req, strlen(req)) || !read_response(f, fd, buf, &blen, sizeof(buf)) ||
	    !send_all(f, fd, req, strlen(req)) || !read_response(f, fd, buf, &blen, sizeof(buf)) ||
	    !send_all(f, fd, two, strlen(two)) || !read_response(f, fd, buf, &blen, sizeof(buf)) ||
	    !read_response(f, fd, buf, &blen, sizeof(buf)) ||
	    !send_all(f, fd, last, strlen(last)) || !read_response(f, fd, buf, &blen, sizeof(buf)))
		goto out;
	f->resp[f->nresp - 1].closed_after = at_eof(fd);
out:
	close(fd);
}

static void test_keepalive_pipelined_deferred(void **state)
{
	struct fixture *f = *state;

	run_client(f, client_keepalive);
	assert_int_equal(f->nresp, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(f->resp[i].status, 200);
	assert_string_equal(f->resp[3].body, "{\"deferred\":\"yes\"}\n");
	assert_string_equal(f->resp[4].body, "{\"ok\":true,\"pid\":\"3\"}\n");
	assert_header(&f->resp[4], "Connection: close\r\n");
	assert_true(f->resp[4].closed_after);
	assert_int_equal(f->handler_calls, 5);
	assert_int_equal(admin_client_count(f->admin), 0);
}

static void client_send_and_leave(struct fixture *f)
{
	static const char req[] = "GET /v1/defer HTTP/1.1\r\n\r\n";
	int fd = client_connect(f);

	if (fd < 0)
		return;
	send_all(f, fd, req, strlen(req));
	/* wait until the server holds the request; the loop thread sets handler_calls */
	for (int i = 0; i < 500 && !__atomic_load_n(&f->handler_calls, __ATOMIC_SEQ_CST); i++)
		usleep(2000);
	close(fd);
}

static void on_poll_gone(struct loop *loop, void *arg)
{
	struct fixture *f = arg;

	if (admin_client_count(f->admin) == 0) {
		loop_stop(loop);
		return;
	}
	assert_int_equal(loop_add_timer(loop, 5, on_poll_gone, f, NULL), 0);
}

static void test_client_leaves_before_deferred_reply(void **state)
{
	struct fixture *f = *state;

	f->close_now = true; /* the handler only holds the request */
	run_client(f, client_send_and_leave);
	assert_int_equal(f->handler_calls, 1);
	assert_non_null(f->held);
	/* let the server notice the hang-up */
	assert_int_equal(loop_add_timer(f->loop, 5, on_poll_gone, f, NULL), 0);
	assert_int_equal(loop_run(f->loop), 0);
	assert_int_equal(admin_client_count(f->admin), 0);
	assert_false(admin_request_connected(f->held));
	assert_string_equal(admin_request_http(f->held)->path, "/v1/defer");
	admin_respond(f->held, 200, json_pack("{s:s}", "late", "yes")); /* only frees */
	f->held = NULL;
}

static void client_send_only(struct fixture *f)
{
	static const char req[] = "GET /v1/defer HTTP/1.1\r\n\r\n";
	int fd = client_connect(f);

	if (fd < 0)
		return;
	send_all(f, fd, req, strlen(req));
	for (int i = 0; i < 500 && !__atomic_load_n(&f->handler_calls, __ATOMIC_SEQ_CST); i++)
		usleep(2000);
	close(fd);
}

static void test_free_with_pending_request(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	f->close_now = true;
	run_client(f, client_send_only);
	assert_non_null(f->held);
	admin_free(f->admin);
	f->admin = NULL;
	assert_int_equal(stat(f->path, &st), -1); /* socket unlinked */
	assert_false(admin_request_connected(f->held));
	admin_respond_error(f->held, 500, "too late"); /* safe no-op apart from freeing */
	f->held = NULL;
}

static void client_idle(struct fixture *f)
{
	int fd = client_connect(f);

	if (fd < 0)
		return;
	if (!closed_within(fd, 5000))
		snprintf(f->client_err, sizeof(f->client_err), "idle connection not closed");
	close(fd);
}

static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;

	admin_set_idle_timeout(f->admin, 100);
	run_client(f, client_idle);
	assert_true(f->elapsed_ms >= 100);
	assert_true(f->elapsed_ms < 3000);
	assert_int_equal(admin_client_count(f->admin), 0);
}

static void client_oversized(struct fixture *f)
{
	size_t n = HTTP_MAX_REQUEST + 100;
	char *big = malloc(n + 1);

	if (!big)
		return;
	/* a header section that never ends within HTTP_MAX_REQUEST bytes */
	memset(big, 'a', n);
	memcpy(big, "GET / HTTP/1.1\r\nX-Big: ", 23);
	big[n] = '\0';
	request_once(f, big);
	request_once(f, "GET /v1/status HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
	free(big);
}

static void test_oversized(void **state)
{
	struct fixture *f = *state;

	run_client(f, client_oversized);
	assert_int_equal(f->nresp, 2);
	assert_int_equal(f->resp[0].status, 431);
	assert_true(f->resp[0].closed_after);
	assert_int_equal(f->resp[1].status, 413);
	assert_true(f->resp[1].closed_after);
}

static void test_socket_file_handling(void **state)
{
	struct fixture *f = *state;
	char err[ADMIN_ERR_MAX], other[100], longp[200];
	struct admin *a2;
	struct stat st;
	int fd;

	/* the live server's socket is refused */
	assert_int_equal(admin_new(f->loop, &f->lg, f->path, &a2, err), -EADDRINUSE);
	assert_non_null(strstr(err, "another process is listening"));
	/* a regular file is refused and left alone */
	snprintf(other, sizeof(other), "%s/file", f->dir);
	fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(admin_new(f->loop, &f->lg, other, &a2, err), -EEXIST);
	assert_int_equal(stat(other, &st), 0);
	unlink(other);
	/* a stale socket (nobody listening) is replaced */
	admin_free(f->admin);
	f->admin = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	assert_int_equal(admin_new(f->loop, &f->lg, f->path, &f->admin, err), 0);
	assert_int_equal(admin_route(f->admin, "GET", "/v1/status", h_status, f), 0);
	run_client(f, client_codes);
	assert_int_equal(f->resp[0].status, 200);
	/* a path that does not fit sun_path */
	memset(longp, 'p', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(admin_new(f->loop, &f->lg, longp, &a2, err), -ENAMETOOLONG);
	assert_non_null(strstr(err, "longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_pipelined_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_leaves_before_deferred_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_with_pending_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_file_handling, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
