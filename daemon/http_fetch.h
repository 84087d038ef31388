/*
 * http_fetch.h - asynchronous HTTP(S) GET on the daemon loop (DESIGN.md §6), on libcurl's
 * multi-socket API: curl's sockets and timeout are watched by daemon/loop.h, nothing blocks and
 * no thread is started by this module. Each request has a total timeout and a body size limit;
 * its completion callback runs on the loop thread (never inside http_fetch_get()), with the HTTP
 * status and the body, or an error naming the URL. Also adapts itself + the loop to the
 * attest/kubelet.h I/O interface.
 */
#ifndef DAEMON_HTTP_FETCH_H
#define DAEMON_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/kubelet.h"
#include "daemon/log.h"
#include "daemon/loop.h"

#define HTTP_FETCH_MAX_URL	   2048		/* bytes of a URL */
#define HTTP_FETCH_MAX_HEADERS	   16		/* extra request headers */
#define HTTP_FETCH_MAX_HEADER	   16384	/* bytes of one extra header line */
#define HTTP_FETCH_DEFAULT_TIMEOUT 10000	/* ms, when timeout_ms is 0 */
#define HTTP_FETCH_DEFAULT_MAX	   (16u << 20)	/* body bytes, when max_body is 0 */
#define HTTP_FETCH_MAX_BODY	   (256u << 20) /* the largest max_body accepted */
#define HTTP_FETCH_ERR_MAX	   256

struct http_fetch;
struct http_fetch_req;

struct http_fetch_opts {
	const char *url;	 /* http:// or https:// */
	const char *ca_file;	 /* PEM bundle to verify the server; NULL = the system's */
	bool skip_verify;	 /* no certificate or host name verification at all */
	const char *client_cert; /* PEM client certificate and key (both or neither) */
	const char *client_key;
	const char *const *headers; /* "Name: value" lines, e.g. "Authorization: Bearer x" */
	size_t n_headers;
	/*
	 * Connect here instead of to the URL's host (and port, if connect_port != 0), while TLS
	 * still verifies the certificate against the URL's host: url https://node-a:10250/pods with
	 * connect_host 127.0.0.1 (CURLOPT_CONNECT_TO). NULL = connect to the URL's host.
	 */
	const char *connect_host;
	uint16_t connect_port;
	uint64_t timeout_ms; /* whole request; 0 = HTTP_FETCH_DEFAULT_TIMEOUT */
	size_t max_body;     /* larger bodies fail with -EFBIG; 0 = HTTP_FETCH_DEFAULT_MAX */
};

struct http_result {
	/*
	 * 0 when an HTTP answer arrived (any status: check `status`), else -ETIMEDOUT (timeout),
	 * -EFBIG (body over max_body), -ECONNREFUSED (could not connect), -EHOSTUNREACH (could
	 * not resolve), -EPROTO (TLS handshake or certificate verification failed; bad answer),
	 * -EIO (connection dropped mid-answer, e.g. a body shorter than its Content-Length),
	 * -ENOMEM.
	 */
	int rc;
	long status; /* HTTP status code, 0 if none */
	/* The body (NUL-terminated, len bytes excluding the NUL), also for non-2xx answers. It is
	 * freed after the callback returns unless the callback takes it: set body = NULL, then
	 * free() it later. NULL when rc < 0. */
	char *body;
	size_t len;
	/* rc < 0: "GET https://127.0.0.1:10250/pods: SSL certificate problem: ..." (curl's error
	 * buffer); otherwise "". */
	char err[HTTP_FETCH_ERR_MAX];
};

/* Runs on the loop thread once per request that was not cancelled. The request handle is no
 * longer valid when this is called. It may start or cancel other requests. */
typedef void (*http_fetch_cb)(void *arg, struct http_result *res);

/* Caller frees with http_fetch_free() (before loop_free()). -ENOMEM, -EIO (libcurl init). */
int http_fetch_new(struct loop *loop, struct http_fetch **out);
/* Cancels every outstanding request (their callbacks are not called). Not from a callback. */
void http_fetch_free(struct http_fetch *hf);

/*
 * Starts GET opts->url; every string in opts is copied (libcurl keeps its copies), so opts may
 * go away on return. cb(arg, res) runs later on the loop thread, never from inside this call.
 * *req (may be NULL) receives a handle for http_fetch_cancel(), valid until cb starts.
 * -EINVAL (no URL, scheme not http/https, URL too long, header without ':' or with CR/LF,
 * cert without key, max_body too large), -ENOMEM, -EIO (libcurl refused an option).
 */
int http_fetch_get(struct http_fetch *hf, const struct http_fetch_opts *opts, http_fetch_cb cb,
		   void *arg, struct http_fetch_req **req);

/* Aborts a request whose callback has not run yet; its callback will never run. */
void http_fetch_cancel(struct http_fetch *hf, struct http_fetch_req *req);

/* Requests started and not yet completed or cancelled. */
size_t http_fetch_pending(const struct http_fetch *hf);

struct loop *http_fetch_loop(const struct http_fetch *hf);

/*
 * The attest/kubelet.h I/O interface on top of hf and its loop: fetch = http_fetch_get, timers =
 * loop timers, now = loop_now_ms, log = lg (may be NULL: no logging). ctx is caller-owned
 * storage that must outlive every kubelet using *io; it is filled here.
 */
struct http_fetch_io {
	struct http_fetch *hf;
	const struct log *lg;
	void *work_ctx; /* the caller's, for a work function it sets in the kubelet_io */
};
void http_fetch_kubelet_io(struct http_fetch_io *ctx, struct http_fetch *hf, const struct log *lg,
			   struct kubelet_io *io);

#endif /* DAEMON_HTTP_FETCH_H */
