/*
 * grpc.c - gRPC over cleartext HTTP/2 (prior knowledge) on libnghttp2.
 *
 * Server. One nghttp2 server session per connection, fed from non-blocking reads
 * (nghttp2_session_mem_recv) and drained with nghttp2_session_mem_send into a small output
 * buffer that is written when the socket is writable (EPOLLOUT only while output is pending).
 * A struct grpc_call is the nghttp2 stream user data: it is created when a request's HEADERS
 * begin and freed only in the stream-close callback (or when the connection is destroyed), never
 * while nghttp2 may still reference it. Response messages wait in the call's own queue and leave
 * through a data provider, so nghttp2 applies the peer's flow-control windows.
 *
 * Re-entrancy: every entry into a connection (fd event, timer, grpc_conn_new) runs between
 * conn_enter() and conn_leave(); output is produced and the connection destroyed only when the
 * outermost level unwinds. So an application callback may call grpc_call_send/finish and
 * grpc_conn_close freely: the work is queued and done after the callback returns. Sends and
 * finishes made outside any callback (e.g. from the application's own timer) are flushed from a
 * 0 ms loop timer, never synchronously, so they cannot re-enter the application either.
 * grpc_conn_close() outside a callback closes at once (on_cancel..., on_close before it returns).
 *
 * Call ownership: the application owns a call from on_call until it calls grpc_call_finish() or
 * receives on_cancel(), whichever comes first. The transport finishes calls itself (after
 * on_cancel) on: a compressed message (UNIMPLEMENTED), a message over GRPC_MAX_MESSAGE
 * (RESOURCE_EXHAUSTED), a request ending inside a message (INTERNAL), and an elapsed grpc-timeout
 * (DEADLINE_EXCEEDED, armed with a loop timer when the request headers are complete).
 *
 * Client. A blocking client over the same framing: poll() with a timeout around non-blocking
 * reads and writes of an nghttp2 client session.
 */
#include "daemon/grpc.h"

#include <errno.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GRPC_PREFIX_LEN		   5	       /* compressed flag + 4-byte big-endian length */
#define GRPC_CALL_MAX_HEADERS	   64	       /* request header fields kept per call */
#define GRPC_CALL_MAX_HEADER_BYTES (64u << 10) /* their total name + value bytes */
#define GRPC_CONN_MAX_RX	   (32u << 20) /* request bytes being reassembled per connection */
#define GRPC_STATUS_MSG_MAX	   1024	       /* grpc-message bytes before percent-encoding */
#define GRPC_OUT_CHUNK		   (64u << 10) /* serialized frames gathered before a write */
#define GRPC_READ_CHUNK		   (32u << 10)
#define GRPC_READS_PER_WAKEUP	   4
#define GRPC_STREAM_WINDOW	   (1u << 20) /* our initial stream receive window */
#define GRPC_CONN_WINDOW	   (4u << 20) /* our connection receive window */
#define GRPC_CLIENT_STREAM_WINDOW  (4u << 20)
#define GRPC_CLIENT_CONN_WINDOW	   (16u << 20)
#define GRPC_CLIENT_MAX_QUEUED	   (64u << 20) /* received, not yet taken, per client call */
#define GRPC_TIMEOUT_MAX_DIGITS	   8	       /* per the gRPC-over-HTTP/2 spec */
#define GRPC_DESTROY_SENDS	   16	       /* best-effort mem_send rounds when closing */
/*
 * Rapid reset (CVE-2023-44487): a client opens calls and resets them at once, so the
 * concurrent-stream limit never bounds the work it starts. nghttp2's own guard counts every
 * RST_STREAM it receives, including the cancel that is the only way a client ends a
 * FetchX509SVID stream once it has its answer: a client fetching at a few thousand calls/s on one
 * connection met GOAWAY (or "stream refused" for a call in flight) whatever the limits. So
 * nghttp2's guard is off and ours counts only early resets, of calls whose response had not
 * begun (the application still had work for them, e.g. a JWT being signed on a worker): per
 * connection, GRPC_EARLY_RST_BURST tokens refilled at GRPC_EARLY_RST_RATE per second (nghttp2's
 * defaults); when they run out, GOAWAY ENHANCE_YOUR_CALM and the connection is closed.
 */
#define GRPC_EARLY_RST_BURST 1000
#define GRPC_EARLY_RST_RATE  33 /* per second */

/* ---------------------------------------------------------------------------------------- */
/* shared helpers                                                                            */

#define NV(n, v)                                                                               \
	{                                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

struct grpc_buf {
	uint8_t *p;
	size_t off, len, cap; /* bytes [off, len) are pending */
};

static size_t buf_pending(const struct grpc_buf *b)
{
	return b->len - b->off;
}

static int buf_reserve(struct grpc_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->off == b->len) {
		b->off = 0;
		b->len = 0;
	} else if (b->off > 0 && b->off >= b->cap / 2) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (extra > SIZE_MAX - b->len)
		return -ENOMEM;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct grpc_buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);

	if (r < 0)
		return r;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static void buf_free(struct grpc_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Writes pending bytes without blocking: 0 (all written or EAGAIN) or -errno. */
static int buf_write(struct grpc_buf *b, int fd)
{
	while (buf_pending(b) > 0) {
		ssize_t n = send(fd, b->p + b->off, buf_pending(b), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		b->off += (size_t)n;
	}
	b->off = b->len = 0;
	return 0;
}

static void put_prefix(uint8_t p[GRPC_PREFIX_LEN], uint32_t len)
{
	p[0] = 0;
	p[1] = (uint8_t)(len >> 24);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 8);
	p[4] = (uint8_t)len;
}

static uint32_t get_len(const uint8_t p[GRPC_PREFIX_LEN])
{
	return (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
}

/* grpc-message: bytes outside 0x20..0x7e, and '%', become %XX (gRPC over HTTP/2 spec). */
static char *pct_encode(const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = in ? strnlen(in, GRPC_STATUS_MSG_MAX) : 0, o = 0;
	char *out = malloc(n * 3 + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch < 0x20 || ch > 0x7e || ch == '%') {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes into out (NUL-terminated, truncated to outsz); invalid escapes are kept literally. */
static void pct_decode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outsz; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < n && (hi = hexval(in[i + 1])) >= 0 &&
		    (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = (char)in[i];
		}
	}
	out[o] = '\0';
}

/* "<1-8 digits><H|M|S|m|u|n>" -> ms, rounded up. */
static int parse_timeout(const char *s, uint64_t *ms)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i >= GRPC_TIMEOUT_MAX_DIGITS)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0 || s[i] == '\0' || s[i + 1] != '\0')
		return -EINVAL;
	switch (s[i]) {
	case 'H':
		*ms = v * 3600000u;
		break;
	case 'M':
		*ms = v * 60000u;
		break;
	case 'S':
		*ms = v * 1000u;
		break;
	case 'm':
		*ms = v;
		break;
	case 'u':
		*ms = (v + 999u) / 1000u;
		break;
	case 'n':
		*ms = (v + 999999u) / 1000000u;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* server                                                                                    */

struct grpc_header {
	char *name; /* "name\0value\0" in one allocation */
	const char *value;
};

struct grpc_call {
	struct grpc_conn *conn;
	struct grpc_call *prev, *next;
	int32_t stream_id;
	void *data;
	struct grpc_header hdrs[GRPC_CALL_MAX_HEADERS];
	unsigned nhdrs;
	size_t hdr_bytes;
	bool hdr_overflow;
	bool app_owned;	       /* on_call delivered, neither finished by the app nor cancelled */
	bool finished;	       /* the end of the response is submitted; input is discarded */
	bool headers_sent;     /* response HEADERS submitted with a data provider */
	bool trailers_pending; /* finished after messages: trailers follow the queued data */
	bool deferred;	       /* the data provider returned NGHTTP2_ERR_DEFERRED */
	enum grpc_status status;
	char *status_msg; /* percent-encoded */
	uint64_t timer_id;
	/* request message being reassembled */
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_len;
	uint8_t *msg;
	size_t msg_len, msg_have, msg_cap;
	/* response bytes (framed messages) not yet handed to nghttp2 */
	struct grpc_buf out;
};

struct grpc_conn {
	struct loop *loop;
	int fd;
	const struct grpc_server_ops *ops;
	void *arg;
	nghttp2_session *session;
	struct grpc_call *calls;
	unsigned ncalls;
	struct grpc_buf out; /* serialized frames waiting for the socket */
	size_t queued;	     /* response bytes queued in calls */
	size_t rx_buffered;  /* request bytes being reassembled in calls */
	uint32_t events;
	unsigned depth;
	uint64_t kick_id;
	uint32_t goaway_code;
	uint64_t rst_tokens; /* early-reset guard */
	uint64_t rst_stamp_ms;
	uint32_t rst_burst, rst_rate;
	bool started; /* the first kick (server SETTINGS) ran */
	bool close_requested;
	bool closing;
	bool peer_gone; /* do not try to write a GOAWAY */
};

static void conn_process(struct grpc_conn *conn);
static void conn_destroy(struct grpc_conn *conn);

static void conn_enter(struct grpc_conn *conn)
{
	conn->depth++;
}

/* The outermost leave produces output, or destroys the connection: conn may be gone after. */
static void conn_leave(struct grpc_conn *conn)
{
	if (--conn->depth == 0)
		conn_process(conn);
}

static void conn_read(struct grpc_conn *conn);

static void on_kick(struct loop *loop, void *arg)
{
	struct grpc_conn *conn = arg;

	conn->kick_id = 0;
	conn_enter(conn);
	if (!conn->started) {
		/*
		 * The server SETTINGS go out now. A client usually sends its preface and first
		 * request right after connect() without waiting for ours (RFC 9113 3.4), so they
		 * are often here already: read them first, and the SETTINGS, the SETTINGS ACK and
		 * an answer given at once leave in one write (one wake-up of the client, not two).
		 * Nothing there: the SETTINGS go alone, as before.
		 */
		conn->started = true;
		conn_read(conn);
	}
	conn_leave(conn);
}

/* Makes sure conn_process() runs soon: at the end of the current dispatch, or from a timer. */
static void conn_schedule(struct grpc_conn *conn)
{
	if (conn->depth > 0 || conn->kick_id || conn->closing)
		return;
	if (loop_add_timer(conn->loop, 0, on_kick, conn, &conn->kick_id) < 0) {
		/* no memory for a timer: a writable socket wakes us up instead */
		if (loop_mod_fd(conn->loop, conn->fd, EPOLLIN | EPOLLOUT) == 0)
			conn->events = EPOLLIN | EPOLLOUT;
	}
}

static void conn_fail(struct grpc_conn *conn, uint32_t goaway_code)
{
	if (!conn->close_requested)
		conn->goaway_code = goaway_code;
	conn->close_requested = true;
}

static void call_free(struct grpc_call *call)
{
	struct grpc_conn *conn = call->conn;

	if (call->timer_id)
		loop_cancel_timer(conn->loop, call->timer_id);
	if (call->prev)
		call->prev->next = call->next;
	else
		conn->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	conn->ncalls--;
	conn->queued -= buf_pending(&call->out);
	conn->rx_buffered -= call->msg_cap;
	for (unsigned i = 0; i < call->nhdrs; i++)
		free(call->hdrs[i].name);
	free(call->msg);
	free(call->status_msg);
	buf_free(&call->out);
	free(call);
}

static ssize_t call_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			      size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			      void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
	size_t n;

	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = buf_pending(&call->out);
	if (n > length)
		n = length;
	if (n) {
		memcpy(buf, call->out.p + call->out.off, n);
		call->out.off += n;
		conn->queued -= n;
	}
	if (buf_pending(&call->out) > 0)
		return (ssize_t)n;
	if (call->trailers_pending) {
		char code[16];

		snprintf(code, sizeof(code), "%d", (int)call->status);
		nghttp2_nv nva[2] = {NV("grpc-status", code), NV("grpc-message", call->status_msg)};

		call->trailers_pending = false;
		*data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(session, stream_id, nva, call->status_msg[0] ? 2 : 1) !=
		    0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		return (ssize_t)n;
	}
	if (n == 0) {
		call->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

static void call_resume(struct grpc_call *call)
{
	if (call->deferred) {
		call->deferred = false;
		nghttp2_session_resume_data(call->conn->session, call->stream_id);
	}
	conn_schedule(call->conn);
}

/* Submits the end of the response. Trailers-Only if nothing was sent yet. */
static void call_end(struct grpc_call *call, enum grpc_status status, const char *message)
{
	struct grpc_conn *conn = call->conn;
	char *msg = pct_encode(message);
	char code[16];
	int r;

	call->finished = true;
	if (call->timer_id) {
		loop_cancel_timer(conn->loop, call->timer_id);
		call->timer_id = 0;
	}
	if (!msg) {
		nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
		conn_schedule(conn);
		return;
	}
	if (call->headers_sent) {
		call->status = status;
		call->status_msg = msg;
		call->trailers_pending = true;
		call_resume(call);
		return;
	}
	snprintf(code, sizeof(code), "%d", (int)status);
	nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
			    NV("grpc-status", code), NV("grpc-message", msg)};
	r = nghttp2_submit_response(conn->session, call->stream_id, nva, msg[0] ? 4 : 3, NULL);
	free(msg);
	if (r != 0)
		nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
	conn_schedule(conn);
}

/* The transport ends a call: the application is told (on_cancel) if it owns it. */
static void call_fail(struct grpc_call *call, enum grpc_status status, const char *message)
{
	if (call->finished)
		return;
	if (call->app_owned) {
		call->app_owned = false;
		call->conn->ops->on_cancel(call);
	}
	if (!call->conn->closing)
		call_end(call, status, message);
}

/* A non-gRPC request: an HTTP status, with a gRPC status for gRPC clients. */
static void call_reject(struct grpc_call *call, const char *http_status, const char *message)
{
	struct grpc_conn *conn = call->conn;
	nghttp2_nv nva[] = {NV(":status", http_status), NV("grpc-status", "13"),
			    NV("grpc-message", message)};

	call->finished = true;
	if (nghttp2_submit_response(conn->session, call->stream_id, nva, 3, NULL) != 0)
		nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
}

static void on_deadline(struct loop *loop, void *arg)
{
	struct grpc_call *call = arg;
	struct grpc_conn *conn = call->conn;

	call->timer_id = 0;
	conn_enter(conn);
	call_fail(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
	conn_leave(conn);
}

static void call_request_ready(struct grpc_call *call)
{
	struct grpc_conn *conn = call->conn;
	const char *method = grpc_call_header(call, ":method");
	const char *path = grpc_call_header(call, ":path");
	const char *ctype = grpc_call_header(call, "content-type");
	const char *timeout = grpc_call_header(call, "grpc-timeout");
	uint64_t ms = 0;

	if (call->hdr_overflow) {
		call_end(call, GRPC_RESOURCE_EXHAUSTED, "request headers too large");
		return;
	}
	if (!method || strcmp(method, "POST") != 0) {
		call_reject(call, "405", "method must be POST");
		return;
	}
	if (!ctype || strncmp(ctype, "application/grpc", 16) != 0 ||
	    (ctype[16] != '\0' && ctype[16] != '+' && ctype[16] != ';')) {
		call_reject(call, "415", "content-type must be application/grpc");
		return;
	}
	if (!path || path[0] != '/') {
		call_end(call, GRPC_UNIMPLEMENTED, "bad :path");
		return;
	}
	if (timeout && parse_timeout(timeout, &ms) < 0) {
		call_end(call, GRPC_INTERNAL, "malformed grpc-timeout");
		return;
	}
	if (timeout && ms == 0) {
		call_end(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
		return;
	}
	if (conn->close_requested) {
		call->finished = true;
		return;
	}
	if (timeout && loop_add_timer(conn->loop, ms, on_deadline, call, &call->timer_id) < 0) {
		call_end(call, GRPC_RESOURCE_EXHAUSTED, "no memory for the deadline timer");
		return;
	}
	call->app_owned = true;
	conn->ops->on_call(call, path, conn->arg);
}

static void call_half_close(struct grpc_call *call)
{
	if (call->finished)
		return;
	if (call->prefix_len > 0) {
		call_fail(call, GRPC_INTERNAL, "request ended inside a message");
		return;
	}
	if (call->app_owned && !call->conn->close_requested)
		call->conn->ops->on_half_close(call);
}

/*
 * Moves bytes of a gRPC message prefix (flags + 4-byte length) from *p into prefix, which may
 * arrive split across DATA frames. True once all GRPC_PREFIX_LEN bytes are there.
 */
static bool prefix_fill(uint8_t prefix[GRPC_PREFIX_LEN], size_t *have, const uint8_t **p, size_t *n)
{
	size_t k = GRPC_PREFIX_LEN - *have;

	if (*n == 0)
		return false; /* (*p may be NULL) */
	k = k < *n ? k : *n;
	memcpy(prefix + *have, *p, k);
	*have += k;
	*p += k;
	*n -= k;
	return *have == GRPC_PREFIX_LEN;
}

static void call_recv(struct grpc_call *call, const uint8_t *p, size_t n)
{
	static const uint8_t empty[1];
	struct grpc_conn *conn = call->conn;
	char msg[96];

	while (!call->finished) {
		size_t k;

		if (call->prefix_len < GRPC_PREFIX_LEN) {
			if (!prefix_fill(call->prefix, &call->prefix_len, &p, &n))
				break;
			if (call->prefix[0] == 1) {
				call_fail(call, GRPC_UNIMPLEMENTED, "compression not supported");
				break;
			}
			if (call->prefix[0] != 0) {
				call_fail(call, GRPC_INTERNAL, "bad message flags");
				break;
			}
			call->msg_len = get_len(call->prefix);
			call->msg_have = 0;
			if (call->msg_len > GRPC_MAX_MESSAGE) {
				snprintf(msg, sizeof(msg),
					 "request message larger than max (%zu vs. %u)",
					 call->msg_len, GRPC_MAX_MESSAGE);
				call_fail(call, GRPC_RESOURCE_EXHAUSTED, msg);
				break;
			}
		}
		k = call->msg_len - call->msg_have;
		k = k < n ? k : n;
		if (k > 0) {
			if (call->msg_have + k > call->msg_cap) {
				size_t cap = call->msg_cap ? call->msg_cap * 2 : 16384;
				uint8_t *np;

				if (cap > call->msg_len)
					cap = call->msg_len;
				if (cap < call->msg_have + k)
					cap = call->msg_have + k;
				if (conn->rx_buffered - call->msg_cap + cap > GRPC_CONN_MAX_RX) {
					call_fail(call, GRPC_RESOURCE_EXHAUSTED,
						  "too many request bytes buffered on connection");
					break;
				}
				np = realloc(call->msg, cap);
				if (!np) {
					call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
					break;
				}
				conn->rx_buffered += cap - call->msg_cap;
				call->msg = np;
				call->msg_cap = cap;
			}
			memcpy(call->msg + call->msg_have, p, k);
			call->msg_have += k;
			p += k;
			n -= k;
		}
		if (call->msg_have < call->msg_len)
			break;
		/* one whole message */
		call->prefix_len = 0;
		if (call->app_owned && !conn->close_requested)
			conn->ops->on_message(call, call->msg ? call->msg : empty, call->msg_len);
		conn->rx_buffered -= call->msg_cap;
		free(call->msg);
		call->msg = NULL;
		call->msg_cap = call->msg_len = call->msg_have = 0;
	}
}

static int srv_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
				void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	call = calloc(1, sizeof(*call));
	if (!call)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	call->conn = conn;
	call->stream_id = frame->hd.stream_id;
	call->next = conn->calls;
	if (conn->calls)
		conn->calls->prev = call;
	conn->calls = call;
	conn->ncalls++;
	if (nghttp2_session_set_stream_user_data(session, call->stream_id, call) != 0) {
		call_free(call);
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int srv_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
			 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			 void *user_data)
{
	struct grpc_call *call;
	struct grpc_header *h;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* request trailers are ignored */
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!call || call->hdr_overflow)
		return 0;
	if (call->nhdrs >= GRPC_CALL_MAX_HEADERS || valuelen > GRPC_MAX_HEADER ||
	    namelen > GRPC_MAX_HEADER ||
	    call->hdr_bytes + namelen + valuelen > GRPC_CALL_MAX_HEADER_BYTES) {
		call->hdr_overflow = true;
		return 0;
	}
	h = &call->hdrs[call->nhdrs];
	h->name = malloc(namelen + valuelen + 2);
	if (!h->name)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(h->name, name, namelen);
	h->name[namelen] = '\0';
	memcpy(h->name + namelen + 1, value, valuelen);
	h->name[namelen + 1 + valuelen] = '\0';
	h->value = h->name + namelen + 1;
	call->nhdrs++;
	call->hdr_bytes += namelen + valuelen;
	return 0;
}

/* One early reset: takes a token, or closes the connection when none is left. */
static void conn_early_reset(struct grpc_conn *conn)
{
	uint64_t now = loop_now_ms(conn->loop), gain;

	if (conn->rst_rate && now > conn->rst_stamp_ms) {
		gain = (now - conn->rst_stamp_ms) * conn->rst_rate / 1000u;
		if (gain > 0) {
			conn->rst_tokens = gain >= conn->rst_burst - conn->rst_tokens
						   ? conn->rst_burst
						   : conn->rst_tokens + gain;
			conn->rst_stamp_ms = now;
		}
	}
	if (conn->rst_tokens > 0) {
		conn->rst_tokens--;
		return;
	}
	conn_fail(conn, NGHTTP2_ENHANCE_YOUR_CALM);
}

static int srv_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_call *call;

	if (frame->hd.type == NGHTTP2_RST_STREAM) {
		/* called before nghttp2 closes the stream: the call is still there */
		call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
		if (call && !call->headers_sent && !call->finished)
			conn_early_reset(user_data);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!call)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		call_request_ready(call);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		call_half_close(call);
	return 0;
}

static int srv_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			     const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

	if (call && !call->finished)
		call_recv(call, data, len);
	return 0;
}

static int srv_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	int32_t sid = frame->hd.stream_id;

	/* A complete response while the client is still sending: ask it to stop (RFC 9113
	 * 8.1), which also closes the stream and frees the call. */
	if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
	    nghttp2_session_get_stream_remote_close(session, sid) == 0)
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, sid, NGHTTP2_NO_ERROR);
	return 0;
}

static int srv_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			       void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!call)
		return 0;
	if (call->app_owned) {
		call->app_owned = false;
		conn->ops->on_cancel(call);
	}
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	call_free(call);
	return 0;
}

static void conn_update_events(struct grpc_conn *conn)
{
	uint32_t ev = EPOLLIN;

	if (buf_pending(&conn->out) > 0)
		ev |= EPOLLOUT;
	if (ev != conn->events && loop_mod_fd(conn->loop, conn->fd, ev) == 0)
		conn->events = ev;
}

/* Serializes frames and writes them until the socket or nghttp2 has no more room. */
static void conn_flush(struct grpc_conn *conn)
{
	for (;;) {
		const uint8_t *data;
		ssize_t n;
		int r;

		while (!conn->close_requested && buf_pending(&conn->out) < GRPC_OUT_CHUNK &&
		       nghttp2_session_want_write(conn->session)) {
			n = nghttp2_session_mem_send(conn->session, &data);
			if (n < 0) {
				conn_fail(conn, NGHTTP2_INTERNAL_ERROR);
				return;
			}
			if (n == 0)
				break;
			if (buf_append(&conn->out, data, (size_t)n) < 0) {
				conn_fail(conn, NGHTTP2_INTERNAL_ERROR);
				return;
			}
		}
		if (conn->close_requested)
			return;
		if (buf_pending(&conn->out) == 0)
			return;
		r = buf_write(&conn->out, conn->fd);
		if (r < 0) {
			conn->peer_gone = true;
			conn_fail(conn, NGHTTP2_NO_ERROR);
			return;
		}
		if (buf_pending(&conn->out) > 0)
			return; /* socket full: EPOLLOUT */
	}
}

static void conn_process(struct grpc_conn *conn)
{
	if (conn->closing)
		return;
	conn->depth++;
	conn_flush(conn);
	if (!conn->close_requested && buf_pending(&conn->out) == 0 &&
	    !nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
		conn->close_requested = true; /* GOAWAY exchanged and every stream done */
	conn->depth--;
	if (conn->close_requested)
		conn_destroy(conn);
	else
		conn_update_events(conn);
}

static void conn_read(struct grpc_conn *conn)
{
	uint8_t buf[GRPC_READ_CHUNK];

	for (int i = 0; i < GRPC_READS_PER_WAKEUP && !conn->close_requested; i++) {
		ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT), rv;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			conn->peer_gone = true;
			conn_fail(conn, NGHTTP2_NO_ERROR);
			return;
		}
		if (n == 0) {
			conn->peer_gone = true;
			conn_fail(conn, NGHTTP2_NO_ERROR);
			return;
		}
		rv = nghttp2_session_mem_recv(conn->session, buf, (size_t)n);
		if (rv < 0) {
			conn_fail(conn,
				  rv == NGHTTP2_ERR_CALLBACK_FAILURE || rv == NGHTTP2_ERR_NOMEM
					  ? NGHTTP2_INTERNAL_ERROR
					  : NGHTTP2_PROTOCOL_ERROR);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

static void on_conn_io(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct grpc_conn *conn = arg;

	conn_enter(conn);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(conn);
	conn_leave(conn);
}

/* Best effort: what is queued, then a GOAWAY, without blocking. */
static void conn_send_goaway(struct grpc_conn *conn)
{
	const uint8_t *data;

	nghttp2_session_terminate_session(conn->session, conn->goaway_code);
	for (int i = 0; i < GRPC_DESTROY_SENDS; i++) {
		ssize_t n;

		if (buf_write(&conn->out, conn->fd) < 0 || buf_pending(&conn->out) > 0)
			return;
		n = nghttp2_session_mem_send(conn->session, &data);
		if (n <= 0 || buf_append(&conn->out, data, (size_t)n) < 0)
			break;
	}
	buf_write(&conn->out, conn->fd);
}

static void conn_destroy(struct grpc_conn *conn)
{
	const struct grpc_server_ops *ops = conn->ops;
	void *arg = conn->arg;

	if (conn->closing)
		return;
	conn->closing = true;
	conn->depth++;
	if (conn->kick_id)
		loop_cancel_timer(conn->loop, conn->kick_id);
	conn->kick_id = 0;
	if (!conn->peer_gone)
		conn_send_goaway(conn);
	for (struct grpc_call *call = conn->calls; call; call = call->next) {
		if (call->app_owned) {
			call->app_owned = false;
			ops->on_cancel(call);
		}
	}
	loop_del_fd(conn->loop, conn->fd);
	close(conn->fd);
	conn->fd = -1;
	nghttp2_session_del(conn->session); /* runs no callbacks */
	conn->session = NULL;
	while (conn->calls)
		call_free(conn->calls);
	buf_free(&conn->out);
	free(conn);
	ops->on_close(arg);
}

int grpc_conn_new(struct loop *loop, int fd, const struct grpc_server_ops *ops, void *conn_arg,
		  struct grpc_conn **out)
{
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, GRPC_MAX_STREAMS},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_STREAM_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, GRPC_CALL_MAX_HEADER_BYTES},
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	};
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	struct grpc_conn *conn;
	int r;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		r = -ENOMEM;
		goto fail;
	}
	conn->loop = loop;
	conn->fd = fd;
	conn->ops = ops;
	conn->arg = conn_arg;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, srv_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, srv_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, srv_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, srv_on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, srv_on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, srv_on_stream_close);
	if (nghttp2_option_new(&opt) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	/* nghttp2's reset guard off: conn_early_reset() instead (see GRPC_EARLY_RST_BURST) */
	nghttp2_option_set_stream_reset_rate_limit(opt, UINT64_MAX, UINT64_MAX);
	conn->rst_burst = GRPC_EARLY_RST_BURST;
	conn->rst_rate = GRPC_EARLY_RST_RATE;
	conn->rst_tokens = GRPC_EARLY_RST_BURST;
	conn->rst_stamp_ms = loop_now_ms(loop);
	if (nghttp2_session_server_new2(&conn->session, cbs, conn, opt) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv,
				    sizeof(iv) / sizeof(iv[0])) != 0 ||
	    nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
						  GRPC_CONN_WINDOW) != 0) {
		r = -ENOMEM;
		goto fail;
	}
	r = loop_add_fd(loop, fd, EPOLLIN, on_conn_io, conn);
	if (r < 0)
		goto fail;
	conn->events = EPOLLIN;
	r = loop_add_timer(loop, 0, on_kick, conn, &conn->kick_id); /* sends the SETTINGS */
	if (r < 0) {
		loop_del_fd(loop, fd);
		goto fail;
	}
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	*out = conn;
	return 0;
fail:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (conn)
		nghttp2_session_del(conn->session);
	free(conn);
	close(fd);
	return r;
}

void grpc_conn_close(struct grpc_conn *conn)
{
	if (!conn || conn->closing)
		return;
	conn_fail(conn, NGHTTP2_NO_ERROR);
	if (conn->depth == 0)
		conn_destroy(conn);
}

void grpc_conn_set_reset_limit(struct grpc_conn *conn, uint32_t burst, uint32_t per_s)
{
	conn->rst_burst = burst;
	conn->rst_rate = per_s;
	conn->rst_tokens = burst;
	conn->rst_stamp_ms = loop_now_ms(conn->loop);
}

unsigned grpc_conn_call_count(const struct grpc_conn *conn)
{
	return conn->ncalls;
}

const char *grpc_call_header(const struct grpc_call *call, const char *name)
{
	for (unsigned i = 0; i < call->nhdrs; i++)
		if (strcmp(call->hdrs[i].name, name) == 0)
			return call->hdrs[i].value;
	return NULL;
}

void grpc_call_set_data(struct grpc_call *call, void *data)
{
	call->data = data;
}

void *grpc_call_data(const struct grpc_call *call)
{
	return call->data;
}

int grpc_call_send(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct grpc_conn *conn = call->conn;
	uint8_t prefix[GRPC_PREFIX_LEN];
	int r;

	if (!call->app_owned)
		return -EINVAL;
	if (conn->closing || conn->close_requested)
		return -ESHUTDOWN;
	if (len > UINT32_MAX - GRPC_PREFIX_LEN)
		return -EMSGSIZE;
	if (conn->queued + GRPC_PREFIX_LEN + len > GRPC_MAX_OUTBUF) {
		/* the client does not read: drop it */
		conn_fail(conn, NGHTTP2_ENHANCE_YOUR_CALM);
		conn_schedule(conn);
		return -ENOBUFS;
	}
	put_prefix(prefix, (uint32_t)len);
	r = buf_reserve(&call->out, GRPC_PREFIX_LEN + len);
	if (r < 0)
		return r;
	buf_append(&call->out, prefix, sizeof(prefix));
	buf_append(&call->out, msg, len);
	conn->queued += GRPC_PREFIX_LEN + len;
	if (!call->headers_sent) {
		nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
		nghttp2_data_provider prd = {.source.ptr = call, .read_callback = call_data_read};

		r = nghttp2_submit_response(conn->session, call->stream_id, nva, 2, &prd);
		if (r != 0) {
			call->out.len -= GRPC_PREFIX_LEN + len;
			conn->queued -= GRPC_PREFIX_LEN + len;
			return r == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		}
		call->headers_sent = true;
	}
	call_resume(call);
	return 0;
}

int grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message)
{
	struct grpc_conn *conn = call->conn;

	if (!call->app_owned)
		return -EINVAL;
	call->app_owned = false;
	if (conn->closing)
		return -ESHUTDOWN;
	call_end(call, status, message);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* client                                                                                    */

struct grpc_client_msg {
	struct grpc_client_msg *next;
	size_t len;
	uint8_t data[];
};

struct grpc_client {
	int fd;
	int timeout_ms;
	nghttp2_session *session;
	struct grpc_buf out;
	int broken; /* -errno once the connection is unusable */
	char broken_err[GRPC_ERR_MAX];
	struct grpc_client_call *calls;
};

struct grpc_client_call {
	struct grpc_client *c; /* NULL once the client was freed */
	struct grpc_client_call *prev, *next;
	int32_t stream_id;
	struct grpc_buf req;
	/* response */
	int http_status;
	bool have_status;
	enum grpc_status status;
	char message[GRPC_ERR_MAX];
	bool closed;
	uint32_t error_code;
	bool local_error; /* status/message set by this side */
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_len;
	uint8_t *msg;
	size_t msg_len, msg_have;
	struct grpc_client_msg *head, *tail;
	size_t queued;
};

static void cli_set_broken(struct grpc_client *c, int err, const char *why)
{
	if (c->broken)
		return;
	c->broken = err;
	snprintf(c->broken_err, sizeof(c->broken_err), "grpc: connection: %s (%s)", why,
		 strerror(-err));
}

static ssize_t cli_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			     size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			     void *user_data)
{
	struct grpc_client_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
	size_t n;

	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = buf_pending(&call->req);
	if (n > length)
		n = length;
	memcpy(buf, call->req.p + call->req.off, n);
	call->req.off += n;
	if (buf_pending(&call->req) == 0)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Ends the call locally with a status (the stream is reset). */
static void cli_call_fail(struct grpc_client_call *call, enum grpc_status st, const char *why)
{
	if (call->local_error || call->closed)
		return;
	call->local_error = true;
	call->have_status = true;
	call->status = st;
	snprintf(call->message, sizeof(call->message), "%s", why);
	nghttp2_submit_rst_stream(call->c->session, NGHTTP2_FLAG_NONE, call->stream_id,
				  NGHTTP2_CANCEL);
}

static int cli_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
			 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
			 void *user_data)
{
	struct grpc_client_call *call;
	char tmp[16];

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!call || call->local_error)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		int v = 0;

		for (size_t i = 0; i < valuelen && i < 3 && value[i] >= '0' && value[i] <= '9'; i++)
			v = v * 10 + (value[i] - '0');
		call->http_status = v;
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		char *end;
		long v;

		snprintf(tmp, sizeof(tmp), "%.*s", (int)(valuelen < 15 ? valuelen : 15), value);
		errno = 0;
		v = strtol(tmp, &end, 10);
		call->have_status = true;
		call->status = (valuelen == 0 || *end || errno || v < 0 || v > INT_MAX)
				       ? GRPC_UNKNOWN
				       : (enum grpc_status)v;
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		pct_decode(value, valuelen, call->message, sizeof(call->message));
	}
	return 0;
}

static void cli_recv(struct grpc_client_call *call, const uint8_t *p, size_t n)
{
	while (!call->local_error) {
		size_t k;

		if (call->prefix_len < GRPC_PREFIX_LEN) {
			if (!prefix_fill(call->prefix, &call->prefix_len, &p, &n))
				return;
			call->msg_len = get_len(call->prefix);
			call->msg_have = 0;
			if (call->prefix[0] != 0) {
				cli_call_fail(call, GRPC_INTERNAL, "compressed response message");
				return;
			}
			if (call->msg_len > GRPC_MAX_MESSAGE ||
			    call->queued + call->msg_len > GRPC_CLIENT_MAX_QUEUED) {
				cli_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
					      "response message too large");
				return;
			}
			call->msg = malloc(sizeof(struct grpc_client_msg) + call->msg_len);
			if (!call->msg) {
				cli_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
				return;
			}
		}
		k = call->msg_len - call->msg_have;
		k = k < n ? k : n;
		memcpy(call->msg + sizeof(struct grpc_client_msg) + call->msg_have, p, k);
		call->msg_have += k;
		p += k;
		n -= k;
		if (call->msg_have < call->msg_len)
			return;
		struct grpc_client_msg *m = (struct grpc_client_msg *)(void *)call->msg;

		m->next = NULL;
		m->len = call->msg_len;
		if (call->tail)
			call->tail->next = m;
		else
			call->head = m;
		call->tail = m;
		call->queued += m->len;
		call->msg = NULL;
		call->prefix_len = 0;
	}
}

static int cli_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			     const uint8_t *data, size_t len, void *user_data)
{
	struct grpc_client_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

	if (call)
		cli_recv(call, data, len);
	return 0;
}

static int cli_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			       void *user_data)
{
	struct grpc_client_call *call = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!call)
		return 0;
	call->closed = true;
	call->error_code = error_code;
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Non-blocking: serializes what nghttp2 has (up to GRPC_OUT_CHUNK: the preface, SETTINGS,
 * HEADERS and DATA of a call go in one write, not one per frame) and writes what can be written. */
static void cli_flush(struct grpc_client *c)
{
	const uint8_t *data;

	while (!c->broken) {
		ssize_t n = 0;
		int r;

		while (buf_pending(&c->out) < GRPC_OUT_CHUNK &&
		       nghttp2_session_want_write(c->session)) {
			n = nghttp2_session_mem_send(c->session, &data);
			if (n < 0) {
				cli_set_broken(c, -EPROTO, nghttp2_strerror((int)n));
				return;
			}
			if (n == 0)
				break;
			if (buf_append(&c->out, data, (size_t)n) < 0) {
				cli_set_broken(c, -ENOMEM, "out of memory");
				return;
			}
		}
		if (buf_pending(&c->out) == 0)
			return;
		r = buf_write(&c->out, c->fd);
		if (r < 0) {
			cli_set_broken(c, r, "write failed");
			return;
		}
		if (buf_pending(&c->out) > 0)
			return; /* socket full: the caller polls for POLLOUT */
	}
}

/* One wait: flush, poll until deadline (-1: none), read. 0, or -ETIMEDOUT / broken. */
static int cli_pump(struct grpc_client *c, int64_t deadline)
{
	uint8_t buf[GRPC_READ_CHUNK];
	struct pollfd pfd = {.fd = c->fd};
	int timeout = -1, r;
	ssize_t n, rv;

	cli_flush(c);
	if (c->broken)
		return c->broken;
	pfd.events = POLLIN | (buf_pending(&c->out) > 0 ? POLLOUT : 0);
	if (deadline >= 0) {
		int64_t left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		timeout = left > INT_MAX ? INT_MAX : (int)left;
	}
	r = poll(&pfd, 1, timeout);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		cli_set_broken(c, -errno, "read failed");
		return c->broken;
	}
	if (n == 0) {
		cli_set_broken(c, -ECONNRESET, "connection closed by the server");
		return c->broken;
	}
	rv = nghttp2_session_mem_recv(c->session, buf, (size_t)n);
	if (rv < 0) {
		cli_set_broken(c, -EPROTO, nghttp2_strerror((int)rv));
		return c->broken;
	}
	return 0;
}

static int64_t cli_deadline(const struct grpc_client *c)
{
	return c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
}

int grpc_client_connect(const char *socket_path, int timeout_ms, struct grpc_client **out,
			char err[GRPC_ERR_MAX])
{
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GRPC_CLIENT_STREAM_WINDOW},
	};
	nghttp2_session_callbacks *cbs = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {0};
	struct grpc_client *c = NULL;
	const char *path = socket_path;
	int r;

	if (strncmp(path, "unix://", 7) == 0)
		path += 7;
	else if (strncmp(path, "unix:", 5) == 0)
		path += 5;
	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, GRPC_ERR_MAX, "%s: bad socket path", socket_path);
		r = -EINVAL;
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path));
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, GRPC_ERR_MAX, "%s: out of memory", socket_path);
		r = -ENOMEM;
		goto fail;
	}
	c->timeout_ms = timeout_ms;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		r = -errno;
		snprintf(err, GRPC_ERR_MAX, "%s: socket: %s", socket_path, strerror(-r));
		goto fail;
	}
	/* a blocking AF_UNIX connect() waits for backlog room at most SO_SNDTIMEO */
	if (timeout_ms > 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EINPROGRESS || errno == EAGAIN ? -ETIMEDOUT : -errno;
		snprintf(err, GRPC_ERR_MAX, "%s: connect: %s", socket_path, strerror(-r));
		goto fail;
	}
	if (ioctl(c->fd, FIONBIO, &(int){1}) < 0) {
		r = -errno;
		snprintf(err, GRPC_ERR_MAX, "%s: FIONBIO: %s", socket_path, strerror(-r));
		goto fail;
	}
	r = -ENOMEM;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		goto nomem;
	nghttp2_session_callbacks_set_on_header_callback(cbs, cli_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cli_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cli_on_stream_close);
	if (nghttp2_session_client_new(&c->session, cbs, c) != 0 ||
	    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
	    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
						  GRPC_CLIENT_CONN_WINDOW) != 0)
		goto nomem;
	nghttp2_session_callbacks_del(cbs);
	/* The preface and SETTINGS leave with the first call (one write, one server wake-up). */
	*out = c;
	return 0;
nomem:
	snprintf(err, GRPC_ERR_MAX, "%s: out of memory", socket_path);
fail:
	nghttp2_session_callbacks_del(cbs);
	if (c) {
		nghttp2_session_del(c->session);
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
	return r;
}

static void cli_call_free_msgs(struct grpc_client_call *call)
{
	while (call->head) {
		struct grpc_client_msg *m = call->head;

		call->head = m->next;
		free(m);
	}
	call->tail = NULL;
	free(call->msg);
	call->msg = NULL;
}

static void cli_call_unlink(struct grpc_client_call *call)
{
	struct grpc_client *c = call->c;

	if (!c)
		return;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->c = NULL;
}

void grpc_client_free(struct grpc_client *c)
{
	if (!c)
		return;
	while (c->calls) {
		struct grpc_client_call *call = c->calls;

		if (!call->closed)
			nghttp2_session_set_stream_user_data(c->session, call->stream_id, NULL);
		cli_call_unlink(call);
	}
	nghttp2_session_del(c->session);
	close(c->fd);
	buf_free(&c->out);
	free(c);
}

int grpc_client_start(struct grpc_client *c, const char *path, const char *const *metadata,
		      size_t nmetadata, const uint8_t *req, size_t req_len,
		      struct grpc_client_call **out, char err[GRPC_ERR_MAX])
{
	nghttp2_nv *nva = NULL;
	struct grpc_client_call *call = NULL;
	nghttp2_data_provider prd = {.read_callback = cli_data_read};
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t n = 0;
	int32_t sid;
	int r;

	if (c->broken) {
		snprintf(err, GRPC_ERR_MAX, "%s", c->broken_err);
		return c->broken;
	}
	if (req_len > GRPC_MAX_MESSAGE * 4u || nmetadata > GRPC_CALL_MAX_HEADERS) {
		snprintf(err, GRPC_ERR_MAX, "grpc: %s: request too large", path);
		return -EMSGSIZE;
	}
	call = calloc(1, sizeof(*call));
	nva = calloc(6 + nmetadata, sizeof(*nva));
	if (!call || !nva || buf_reserve(&call->req, GRPC_PREFIX_LEN + req_len) < 0) {
		r = -ENOMEM;
		snprintf(err, GRPC_ERR_MAX, "grpc: %s: out of memory", path);
		goto fail;
	}
	put_prefix(prefix, (uint32_t)req_len);
	buf_append(&call->req, prefix, sizeof(prefix));
	buf_append(&call->req, req, req_len);
	nva[n++] = (nghttp2_nv)NV(":method", "POST");
	nva[n++] = (nghttp2_nv)NV(":scheme", "http");
	nva[n++] = (nghttp2_nv)NV(":path", path);
	nva[n++] = (nghttp2_nv)NV(":authority", "localhost");
	nva[n++] = (nghttp2_nv)NV("content-type", "application/grpc");
	nva[n++] = (nghttp2_nv)NV("te", "trailers");
	for (size_t i = 0; i < nmetadata; i++)
		nva[n++] = (nghttp2_nv){(uint8_t *)metadata[2 * i], (uint8_t *)metadata[2 * i + 1],
					strlen(metadata[2 * i]), strlen(metadata[2 * i + 1]),
					NGHTTP2_NV_FLAG_NONE};
	sid = nghttp2_submit_request(c->session, NULL, nva, n, &prd, call);
	if (sid < 0) {
		r = sid == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		snprintf(err, GRPC_ERR_MAX, "grpc: %s: %s", path, nghttp2_strerror(sid));
		goto fail;
	}
	call->stream_id = sid;
	call->c = c;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	free(nva);
	cli_flush(c);
	*out = call;
	return 0;
fail:
	free(nva);
	if (call)
		buf_free(&call->req);
	free(call);
	return r;
}

static enum grpc_status status_from_http(int http)
{
	switch (http) {
	case 400:
		return GRPC_INTERNAL;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

/* The final status of a closed call. */
static void cli_call_status(struct grpc_client_call *call, enum grpc_status *status, char *err)
{
	if (call->local_error) {
		*status = call->status;
		snprintf(err, GRPC_ERR_MAX, "%s", call->message);
	} else if (call->http_status != 0 && call->http_status != 200) {
		*status = status_from_http(call->http_status);
		snprintf(err, GRPC_ERR_MAX, "HTTP status %d%s%.200s", call->http_status,
			 call->message[0] ? ": " : "", call->message);
	} else if (call->prefix_len > 0) {
		*status = GRPC_INTERNAL;
		snprintf(err, GRPC_ERR_MAX, "response ended inside a message");
	} else if (call->have_status) {
		*status = call->status;
		snprintf(err, GRPC_ERR_MAX, "%s", call->message);
	} else if (call->error_code == NGHTTP2_REFUSED_STREAM) {
		*status = GRPC_UNAVAILABLE;
		snprintf(err, GRPC_ERR_MAX, "stream refused");
	} else if (call->error_code == NGHTTP2_CANCEL) {
		*status = GRPC_CANCELLED;
		snprintf(err, GRPC_ERR_MAX, "stream cancelled by the server");
	} else if (call->error_code != NGHTTP2_NO_ERROR) {
		*status = GRPC_INTERNAL;
		snprintf(err, GRPC_ERR_MAX, "stream reset: %s",
			 nghttp2_http2_strerror(call->error_code));
	} else {
		*status = GRPC_INTERNAL;
		snprintf(err, GRPC_ERR_MAX, "response without grpc-status");
	}
}

int grpc_client_next(struct grpc_client_call *call, uint8_t **msg, size_t *len,
		     enum grpc_status *status, char err[GRPC_ERR_MAX])
{
	struct grpc_client *c = call->c;
	int64_t deadline;
	int r;

	err[0] = '\0';
	deadline = c ? cli_deadline(c) : -1;
	for (;;) {
		if (call->head) {
			struct grpc_client_msg *m = call->head;
			uint8_t *p = malloc(m->len ? m->len : 1);

			if (!p) {
				snprintf(err, GRPC_ERR_MAX, "grpc: out of memory");
				return -ENOMEM;
			}
			memcpy(p, m->data, m->len);
			*msg = p;
			*len = m->len;
			call->head = m->next;
			if (!call->head)
				call->tail = NULL;
			call->queued -= m->len;
			free(m);
			return 1;
		}
		if (call->closed || call->local_error) {
			cli_call_status(call, status, err);
			return 0;
		}
		if (!c) {
			snprintf(err, GRPC_ERR_MAX, "grpc: client already freed");
			return -ENOTCONN;
		}
		r = cli_pump(c, deadline);
		if (r == -ETIMEDOUT) {
			snprintf(err, GRPC_ERR_MAX, "grpc: timed out after %d ms", c->timeout_ms);
			return r;
		}
		if (r < 0 && !call->closed) {
			snprintf(err, GRPC_ERR_MAX, "%s",
				 c->broken ? c->broken_err : "grpc: poll failed");
			return r;
		}
	}
}

void grpc_client_call_free(struct grpc_client_call *call)
{
	struct grpc_client *c;

	if (!call)
		return;
	c = call->c;
	if (c && !call->closed) {
		nghttp2_session_set_stream_user_data(c->session, call->stream_id, NULL);
		nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, call->stream_id,
					  NGHTTP2_CANCEL);
		cli_flush(c);
	}
	cli_call_unlink(call);
	cli_call_free_msgs(call);
	buf_free(&call->req);
	free(call);
}
