/*
 * admin.c - admin API server. Each connection has a fixed input buffer (HTTP_MAX_REQUEST bytes),
 * at most one request being handled and at most one response being written; while either is in
 * progress the connection does not read (so pipelined requests wait in the kernel buffer).
 *
 * Lifetimes: a struct admin_request points at its connection; closing the connection detaches
 * the request (req->conn = NULL), so a deferred answer after the client left, or after
 * admin_free(), only frees. A connection closed while its own code is on the stack (depth > 0)
 * releases its fd, timer and request at once and frees its memory when the stack unwinds.
 */
#include "daemon/admin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ADMIN_ACCEPT_BATCH 32 /* accept() calls per wakeup */
#define ADMIN_BACKLOG	   64
#define ADMIN_ALLOW_MAX	   256 /* "Allow: GET, POST\r\n" */

struct admin_route_entry {
	char method[HTTP_METHOD_MAX];
	char path[HTTP_PATH_MAX];
	admin_handler_fn fn;
	void *arg;
};

struct admin_conn {
	struct admin *a;
	int fd;
	uint32_t events; /* currently registered with the loop */
	char in[HTTP_MAX_REQUEST];
	size_t in_len;
	char *out; /* response being written; NULL if none */
	size_t out_len, out_off;
	struct admin_request *req; /* being handled; NULL if none */
	bool close_after_write;
	bool peer_eof; /* client shut down its sending side */
	bool processing;
	bool dead;
	unsigned depth;
	uint64_t timer_id;
	uint64_t last_active_ms;
	struct admin_conn *prev, *next;
};

struct admin_request {
	struct admin_conn *conn; /* NULL once the client went away or the server was freed */
	struct http_request http;
	uint64_t start_ms;
};

struct admin {
	struct loop *loop;
	struct log *lg;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
	uint64_t idle_ms;
	struct admin_route_entry routes[ADMIN_MAX_ROUTES];
	unsigned nroutes;
	struct admin_conn *conns;
	unsigned nconns;
	bool full_warned;
};

static void conn_process(struct admin_conn *c);

static void conn_enter(struct admin_conn *c)
{
	c->depth++;
}

static void conn_leave(struct admin_conn *c)
{
	if (--c->depth == 0 && c->dead)
		free(c);
}

/* Releases everything but the struct itself, which goes when nobody is using it. */
static void conn_kill(struct admin_conn *c)
{
	struct admin *a = c->a;

	if (c->dead)
		return;
	c->dead = true;
	if (c->req) {
		c->req->conn = NULL;
		c->req = NULL;
	}
	if (c->timer_id)
		loop_cancel_timer(a->loop, c->timer_id);
	loop_del_fd(a->loop, c->fd);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nconns--;
	if (a->nconns < ADMIN_MAX_CLIENTS)
		a->full_warned = false;
	if (c->depth == 0)
		free(c);
}

static void conn_update_events(struct admin_conn *c)
{
	uint32_t ev = 0;

	if (c->out)
		ev = EPOLLOUT;
	else if (!c->req && !c->peer_eof && !c->close_after_write && c->in_len < sizeof(c->in))
		ev = EPOLLIN;
	if (ev != c->events && loop_mod_fd(c->a->loop, c->fd, ev) == 0)
		c->events = ev;
}

static void conn_flush(struct admin_conn *c)
{
	while (c->out && c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_debug(c->a->lg, "admin: client went away while writing", "errno",
				  errno);
			conn_kill(c);
			return;
		}
		c->out_off += (size_t)n;
		c->last_active_ms = loop_now_ms(c->a->loop);
	}
	free(c->out);
	c->out = NULL;
	if (c->close_after_write)
		conn_kill(c);
}

static void conn_read(struct admin_conn *c)
{
	while (c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_debug(c->a->lg, "admin: read failed", "errno", errno);
			conn_kill(c);
			return;
		}
		if (n == 0) {
			c->peer_eof = true;
			return;
		}
		c->in_len += (size_t)n;
		c->last_active_ms = loop_now_ms(c->a->loop);
	}
}

/* Queues a formatted response and starts writing it. Frees req. Never frees c's memory. */
static void conn_send(struct admin_conn *c, struct admin_request *req, int status,
		      const char *extra_headers, const char *body, size_t body_len)
{
	bool keep_alive = req->http.keep_alive && !c->peer_eof && !c->close_after_write;
	int r;

	log_debug(c->a->lg, "admin: request", "method", req->http.method, "path", req->http.path,
		  "status", status, "ms", loop_now_ms(c->a->loop) - req->start_ms);
	c->req = NULL;
	free(req);
	r = http_format_response_ex(status, extra_headers, body, body_len, keep_alive, &c->out,
				    &c->out_len);
	if (r < 0) {
		log_warn(c->a->lg, "admin: cannot format response", "status", status, "errno", -r);
		conn_kill(c);
		return;
	}
	c->out_off = 0;
	if (!keep_alive)
		c->close_after_write = true;
	conn_flush(c);
}

static void respond_full(struct admin_request *req, int status, const char *extra_headers,
			 json_t *body)
{
	struct admin_conn *c = req->conn;
	char *s = NULL;

	if (!c) {
		json_decref(body);
		free(req);
		return;
	}
	s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
	json_decref(body);
	conn_enter(c);
	if (!s) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		conn_send(c, req, 500, NULL, oom, sizeof(oom) - 1);
	} else {
		size_t n = strlen(s);
		char *nl = realloc(s, n + 2);

		if (nl) {
			s = nl;
			s[n++] = '\n';
			s[n] = '\0';
		}
		conn_send(c, req, status, extra_headers, s, n);
		free(s);
	}
	if (!c->dead && !c->processing)
		conn_process(c);
	conn_leave(c);
}

void admin_respond(struct admin_request *req, int status, json_t *body)
{
	respond_full(req, status, NULL, body);
}

static json_t *error_body(const char *fmt, va_list ap)
{
	char msg[ADMIN_ERR_MAX * 2];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return json_pack("{s:s}", "error", msg);
}

void admin_respond_error(struct admin_request *req, int status, const char *fmt, ...)
{
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	body = error_body(fmt, ap);
	va_end(ap);
	admin_respond(req, status, body);
}

__attribute__((format(printf, 4, 5))) static void
respond_error_hdr(struct admin_request *req, int status, const char *hdr, const char *fmt, ...)
{
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	body = error_body(fmt, ap);
	va_end(ap);
	respond_full(req, status, hdr, body);
}

static void dispatch(struct admin_conn *c, struct admin_request *req)
{
	struct admin *a = c->a;
	const struct admin_route_entry *match = NULL;
	char allow[ADMIN_ALLOW_MAX] = "Allow: ";
	size_t alen = strlen(allow);
	bool path_known = false;

	for (unsigned i = 0; i < a->nroutes; i++) {
		const struct admin_route_entry *e = &a->routes[i];

		if (strcmp(e->path, req->http.path) != 0)
			continue;
		if (strcmp(e->method, req->http.method) == 0) {
			match = e;
			break;
		}
		/* Cut short (still well-formed) only if one path had dozens of methods. */
		alen += (size_t)snprintf(allow + alen,
					 alen < sizeof(allow) ? sizeof(allow) - alen : 0, "%s%s",
					 path_known ? ", " : "", e->method);
		if (alen >= sizeof(allow))
			alen = sizeof(allow) - 1;
		path_known = true;
	}
	if (match) {
		match->fn(req, match->arg);
	} else if (path_known) {
		if (alen + 3 > sizeof(allow))
			alen = sizeof(allow) - 3;
		memcpy(allow + alen, "\r\n", 3);
		respond_error_hdr(req, 405, allow, "method %s not allowed for %s", req->http.method,
				  req->http.path);
	} else {
		respond_error_hdr(req, 404, NULL, "no such endpoint: %s", req->http.path);
	}
}

/* Handles buffered requests one at a time until one is pending, input runs out or c dies. */
static void conn_process(struct admin_conn *c)
{
	conn_enter(c);
	c->processing = true;
	while (!c->dead && !c->req && !c->out && !c->close_after_write) {
		struct admin_request *req;
		char err[HTTP_ERR_MAX];
		int status = 0, r;

		if (c->in_len == 0) {
			if (c->peer_eof)
				conn_kill(c);
			break;
		}
		req = calloc(1, sizeof(*req));
		if (!req) {
			conn_kill(c);
			break;
		}
		req->conn = c;
		req->start_ms = loop_now_ms(c->a->loop);
		c->req = req;
		r = http_parse_request(c->in, c->in_len, &req->http, &status, err);
		if (r == 0) {
			c->req = NULL;
			free(req);
			if (c->peer_eof) /* incomplete request, and no more is coming */
				conn_kill(c);
			break;
		}
		if (r < 0) {
			log_debug(c->a->lg, "admin: malformed request", "status", status, "error",
				  err);
			c->close_after_write = true;
			c->in_len = 0;
			snprintf(req->http.path, sizeof(req->http.path), "-");
			respond_error_hdr(req, status, NULL, "%s", err);
			break;
		}
		memmove(c->in, c->in + r, c->in_len - (size_t)r);
		c->in_len -= (size_t)r;
		dispatch(c, req);
	}
	c->processing = false;
	if (!c->dead)
		conn_update_events(c);
	conn_leave(c);
}

static void on_conn(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct admin_conn *c = arg;

	conn_enter(c);
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Fully closed by the client: nobody is left to read an answer. */
		log_debug(c->a->lg, "admin: client closed the connection");
		conn_kill(c);
		goto out;
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->dead && (events & EPOLLIN))
		conn_read(c);
	if (!c->dead)
		conn_process(c);
out:
	conn_leave(c);
}

static void on_idle(struct loop *loop, void *arg)
{
	struct admin_conn *c = arg;
	uint64_t now = loop_now_ms(loop), idle = now - c->last_active_ms;
	uint64_t next = c->a->idle_ms;

	c->timer_id = 0;
	if (!c->req && idle >= c->a->idle_ms) {
		log_debug(c->a->lg, "admin: closing idle connection", "idle_ms", idle);
		conn_kill(c);
		return;
	}
	if (!c->req)
		next = c->a->idle_ms - idle;
	if (loop_add_timer(loop, next, on_idle, c, &c->timer_id) < 0)
		conn_kill(c); /* without a timer it could stay forever */
}

static void on_listen(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct admin *a = arg;

	for (int i = 0; i < ADMIN_ACCEPT_BATCH; i++) {
		struct admin_conn *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn(a->lg, "admin: accept failed", "errno", errno);
			return;
		}
		if (a->nconns >= ADMIN_MAX_CLIENTS) {
			if (!a->full_warned)
				log_warn(a->lg, "admin: too many clients, refusing connections",
					 "max", ADMIN_MAX_CLIENTS);
			a->full_warned = true;
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->a = a;
		c->fd = cfd;
		c->events = EPOLLIN;
		c->last_active_ms = loop_now_ms(loop);
		if (loop_add_fd(loop, cfd, EPOLLIN, on_conn, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		if (loop_add_timer(loop, a->idle_ms, on_idle, c, &c->timer_id) < 0) {
			loop_del_fd(loop, cfd);
			close(cfd);
			free(c);
			continue;
		}
		c->next = a->conns;
		if (a->conns)
			a->conns->prev = c;
		a->conns = c;
		a->nconns++;
	}
}

/* Removes path if it is a socket nobody listens on; -EADDRINUSE / -EEXIST otherwise. */
static int remove_stale(const struct sockaddr_un *sa, char *err)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: %s", sa->sun_path, strerror(-r));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: exists and is not a socket",
			 sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket: socket(): %s", strerror(-r));
		return r;
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0) {
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: another process is listening on it",
			 sa->sun_path);
		return -EADDRINUSE;
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: removing stale socket: %s",
			 sa->sun_path, strerror(-r));
		return r;
	}
	return 0;
}

int admin_new(struct loop *loop, struct log *lg, const char *socket_path, struct admin **out,
	      char err[ADMIN_ERR_MAX])
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct admin *a = NULL;
	struct stat st;
	bool bound = false;
	int r;

	err[0] = '\0';
	if (!socket_path || !socket_path[0] || strlen(socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: path empty or longer than %zu bytes",
			 socket_path ? socket_path : "(null)", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, ADMIN_ERR_MAX, "admin socket: out of memory");
		return -ENOMEM;
	}
	a->loop = loop;
	a->lg = lg;
	a->idle_ms = ADMIN_IDLE_TIMEOUT_MS;
	memcpy(a->path, sa.sun_path, sizeof(a->path));
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket: socket(): %s", strerror(-r));
		goto fail;
	}
	r = remove_stale(&sa, err);
	if (r < 0)
		goto fail;
	if (bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: bind: %s", socket_path,
			 strerror(-r));
		goto fail;
	}
	bound = true;
	/* Before listen(): until then connects are refused, so there is no window at the
	 * umask-given mode. */
	if (chmod(socket_path, 0600) < 0 || stat(socket_path, &st) < 0) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: chmod 0600: %s", socket_path,
			 strerror(-r));
		goto fail;
	}
	a->sock_dev = st.st_dev;
	a->sock_ino = st.st_ino;
	if (listen(a->fd, ADMIN_BACKLOG) < 0) {
		r = -errno;
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: listen: %s", socket_path,
			 strerror(-r));
		goto fail;
	}
	r = loop_add_fd(loop, a->fd, EPOLLIN, on_listen, a);
	if (r < 0) {
		snprintf(err, ADMIN_ERR_MAX, "admin socket %s: event loop: %s", socket_path,
			 strerror(-r));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (bound)
		unlink(socket_path);
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	return r;
}

void admin_free(struct admin *a)
{
	struct stat st;

	if (!a)
		return;
	while (a->conns)
		conn_kill(a->conns);
	loop_del_fd(a->loop, a->fd);
	close(a->fd);
	/* Leave a socket that a newer instance created in our place alone. */
	if (lstat(a->path, &st) == 0 && st.st_dev == a->sock_dev && st.st_ino == a->sock_ino)
		unlink(a->path);
	free(a);
}

int admin_route(struct admin *a, const char *method, const char *path, admin_handler_fn fn,
		void *arg)
{
	struct admin_route_entry *e;

	if (!method || !path || !fn || path[0] != '/' || !method[0] ||
	    strlen(method) >= HTTP_METHOD_MAX || strlen(path) >= HTTP_PATH_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < a->nroutes; i++) {
		if (strcmp(a->routes[i].method, method) == 0 &&
		    strcmp(a->routes[i].path, path) == 0)
			return -EEXIST;
	}
	if (a->nroutes >= ADMIN_MAX_ROUTES)
		return -E2BIG;
	e = &a->routes[a->nroutes++];
	memcpy(e->method, method, strlen(method) + 1);
	memcpy(e->path, path, strlen(path) + 1);
	e->fn = fn;
	e->arg = arg;
	return 0;
}

void admin_set_idle_timeout(struct admin *a, uint64_t ms)
{
	a->idle_ms = ms;
}

unsigned admin_client_count(const struct admin *a)
{
	return a->nconns;
}

const struct http_request *admin_request_http(const struct admin_request *req)
{
	return &req->http;
}

bool admin_request_connected(const struct admin_request *req)
{
	return req->conn != NULL;
}
