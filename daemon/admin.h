/*
 * admin.h - the admin API server: HTTP/1.1 + JSON on a Unix socket (mode 0600), served from the
 * event loop without blocking. Several clients, keep-alive, one request at a time per connection
 * (pipelined requests wait their turn), bounded buffers, idle timeout. Routing is by callbacks,
 * so this module knows nothing of capture or attestors. A handler may answer at once or later
 * (deferred); every struct admin_request must be answered exactly once with admin_respond*().
 */
#ifndef DAEMON_ADMIN_H
#define DAEMON_ADMIN_H

#include <jansson.h>
#include <stdint.h>

#include "daemon/http.h"
#include "daemon/log.h"
#include "daemon/loop.h"

#define ADMIN_MAX_CLIENTS     64
#define ADMIN_MAX_ROUTES      32
#define ADMIN_IDLE_TIMEOUT_MS 30000 /* a connection with no request in progress */
#define ADMIN_ERR_MAX	      256

struct admin;
struct admin_request; /* one pending request; the response may be given later (deferred) */
typedef void (*admin_handler_fn)(struct admin_request *req, void *arg);

/* Unlinks a stale socket file (refuses a non-socket, or a socket someone is listening on),
 * binds, chmod 0600, listens, and watches it in loop. Caller frees with admin_free().
 * lg must outlive the server. -errno with err filled. */
int admin_new(struct loop *loop, struct log *lg, const char *socket_path, struct admin **out,
	      char err[ADMIN_ERR_MAX]);
/* Closes clients and the listener and unlinks the socket (if it is still ours). Requests still
 * pending stay valid: answering them later just frees them. */
void admin_free(struct admin *a);

/* Registers fn for method + exact path (e.g. "GET", "/v1/status"). A path with routes but not
 * for the request's method gets 405 with an Allow header; an unknown path gets 404.
 * -EEXIST, -E2BIG (ADMIN_MAX_ROUTES), -EINVAL (path not starting with '/' or too long). */
int admin_route(struct admin *a, const char *method, const char *path, admin_handler_fn fn,
		void *arg);
/* Idle timeout for connections accepted from now on (tests use short ones). */
void admin_set_idle_timeout(struct admin *a, uint64_t ms);
/* Connected clients. */
unsigned admin_client_count(const struct admin *a);

/* The parsed request; valid until the request is answered. */
const struct http_request *admin_request_http(const struct admin_request *req);
/* false once the client has gone away (answering is then only freeing). */
bool admin_request_connected(const struct admin_request *req);

/* Sends the response and frees req. Takes ownership of body (a json_t *, may be NULL for
 * {}), serialized compactly plus "\n". Exactly once per request. If the client already went
 * away, or the server was freed, it only frees. */
void admin_respond(struct admin_request *req, int status, json_t *body);
/* Body {"error": "<formatted message>"}. */
void admin_respond_error(struct admin_request *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* DAEMON_ADMIN_H */
