/*
 * grpc.h - gRPC over cleartext HTTP/2 (prior knowledge) on libnghttp2, for the Workload API.
 * Server side: one struct grpc_conn per accepted socket, driven by the daemon's event loop
 * (non-blocking, no threads); calls are reported through callbacks with whole messages
 * (length-prefixed frames reassembled across DATA frames, capped at GRPC_MAX_MESSAGE).
 * Client side: a small blocking client for attestctl and tests. The transport knows nothing of
 * the Workload API: method paths and message bytes are opaque here.
 */
#ifndef DAEMON_GRPC_H
#define DAEMON_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/loop.h"

#define GRPC_MAX_MESSAGE (4u << 20)  /* received message bytes; larger: RESOURCE_EXHAUSTED */
#define GRPC_MAX_STREAMS 128	     /* concurrent streams per connection (SETTINGS) */
#define GRPC_MAX_HEADER	 8192	     /* bytes of one header value kept */
#define GRPC_MAX_OUTBUF	 (16u << 20) /* queued output per connection before it is dropped */
#define GRPC_ERR_MAX	 256

/* gRPC status codes used here. */
enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
};

struct grpc_conn;
struct grpc_call; /* one HTTP/2 stream = one RPC */

struct grpc_server_ops {
	/* Request headers complete (":path" is the method, e.g. "/SpiffeWorkloadAPI/FetchX509SVID").
	 * Not a POST, or content-type not application/grpc*: answered by the transport itself. */
	void (*on_call)(struct grpc_call *call, const char *path, void *conn_arg);
	/* One whole request message. */
	void (*on_message)(struct grpc_call *call, const uint8_t *msg, size_t len);
	/* The client finished sending (END_STREAM). */
	void (*on_half_close)(struct grpc_call *call);
	/* The call is over before grpc_call_finish: RST_STREAM, GOAWAY or the connection closed.
	 * The call must not be used after this returns. */
	void (*on_cancel)(struct grpc_call *call);
	/* The connection is gone (peer closed, protocol error, or grpc_conn_close); every open
	 * call got on_cancel first. The conn must not be used after this returns. */
	void (*on_close)(void *conn_arg);
};

/* Takes ownership of fd (non-blocking, already accepted); sends the server SETTINGS and starts
 * reading in `loop`. */
int grpc_conn_new(struct loop *loop, int fd, const struct grpc_server_ops *ops, void *conn_arg,
		  struct grpc_conn **out);
/* Sends GOAWAY, cancels open calls (on_cancel), closes the fd, then on_close. Idempotent. */
void grpc_conn_close(struct grpc_conn *conn);
unsigned grpc_conn_call_count(const struct grpc_conn *conn);
/*
 * Rapid-reset guard (CVE-2023-44487): RST_STREAMs from the client for calls whose response had not
 * begun take a token from a bucket of `burst` refilled at `per_s` per second (defaults 1000 and
 * 33/s); with none left the connection gets GOAWAY ENHANCE_YOUR_CALM and is closed. Resetting a
 * call that already had an answer (how a client ends a stream it is done with) costs nothing.
 */
void grpc_conn_set_reset_limit(struct grpc_conn *conn, uint32_t burst, uint32_t per_s);

/* A request header value, or NULL (names are lowercase, as HTTP/2 sends them). */
const char *grpc_call_header(const struct grpc_call *call, const char *name);
void grpc_call_set_data(struct grpc_call *call, void *data);
void *grpc_call_data(const struct grpc_call *call);
/* Queues one response message (the first also sends the response headers). */
int grpc_call_send(struct grpc_call *call, const uint8_t *msg, size_t len);
/* Ends the call with trailers grpc-status / grpc-message (percent-encoded). The call is freed
 * once sent; no callbacks for it follow. */
int grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message);

/* ---- blocking client (attestctl, tests) ---- */

struct grpc_client;
/* Connects to a Unix socket path ("unix:" prefix accepted). timeout_ms bounds every wait. */
int grpc_client_connect(const char *socket_path, int timeout_ms, struct grpc_client **out,
			char err[GRPC_ERR_MAX]);
void grpc_client_free(struct grpc_client *c);

struct grpc_client_call;
/* Starts a call: sends headers (with the given extra metadata, name/value pairs, e.g.
 * "workload.spiffe.io", "true") and one request message, then half-closes. */
int grpc_client_start(struct grpc_client *c, const char *path, const char *const *metadata,
		      size_t nmetadata, const uint8_t *req, size_t req_len,
		      struct grpc_client_call **out, char err[GRPC_ERR_MAX]);
/* Waits for the next response message: 1 = *msg (malloc'd, caller frees) filled, 0 = the call
 * ended (status in *status, message in err), <0 = transport error or timeout. */
int grpc_client_next(struct grpc_client_call *call, uint8_t **msg, size_t *len,
		     enum grpc_status *status, char err[GRPC_ERR_MAX]);
/* Cancels (RST_STREAM CANCEL) if still open, and frees. */
void grpc_client_call_free(struct grpc_client_call *call);

#endif /* DAEMON_GRPC_H */
