/*
 * http.h - a minimal, bounded HTTP/1.1 request parser and response writer for the admin API.
 * GET-style requests only: a request with a body (Content-Length > 0, Transfer-Encoding) is
 * refused. The parser never reads past len, never allocates, and reports malformed input with
 * the HTTP status to answer (the connection must then be closed).
 */
#ifndef DAEMON_HTTP_H
#define DAEMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_REQUEST 16384 /* request line + headers, bytes */
#define HTTP_MAX_HEADERS 64
#define HTTP_METHOD_MAX	 16
#define HTTP_PATH_MAX	 1024
#define HTTP_QUERY_MAX	 2048
#define HTTP_ERR_MAX	 256

struct http_request {
	char method[HTTP_METHOD_MAX]; /* e.g. "GET" (case-sensitive, as sent) */
	char path[HTTP_PATH_MAX];     /* raw (not percent-decoded), starts with '/' */
	char query[HTTP_QUERY_MAX];   /* raw, without '?'; "" if none */
	int version_minor;	      /* HTTP/1.<version_minor>: 0 or 1 */
	bool keep_alive;	      /* per version default and the Connection header */
	unsigned nheaders;
};

/*
 * Parses one request at the start of buf. Returns >0 = bytes consumed (a complete request),
 * 0 = need more data, <0 = malformed: -EPROTO or -E2BIG, with err filled and *status_out set to
 * 400 (syntax, NUL bytes, Transfer-Encoding, bad Content-Length), 413 (Content-Length > 0),
 * 414 (path or query too long), 431 (headers beyond HTTP_MAX_REQUEST / HTTP_MAX_HEADERS),
 * 501 (unknown method) or 505 (HTTP version other than 1.0/1.1). Absolute-form targets
 * ("http://host/path") are reduced to their path. Lines may end in CRLF or a bare LF.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req, int *status_out,
		       char err[HTTP_ERR_MAX]);

/* Finds key in req->query ("a=1&b=x%20y"; '+' is a space; first match wins; "k" alone has value
 * "") and percent-decodes its value into out. -ENOENT if absent, -EINVAL if the query is
 * malformed up to the match or the value decodes to a NUL, -ENOSPC if out is too small. */
int http_query_get(const struct http_request *req, const char *key, char *out, size_t out_len);

/* "OK", "Not Found", ...; "Unknown" for codes it does not know. */
const char *http_reason(int status);

/* Formats a full response: status line, Content-Type: application/json, Content-Length,
 * Connection (keep-alive or close), then body. Caller frees *out. -EINVAL, -ENOMEM. */
int http_format_response(int status, const char *body, size_t body_len, bool keep_alive, char **out,
			 size_t *out_len);
/* Same, plus extra_headers (each line ending in "\r\n", e.g. "Allow: GET\r\n"; may be NULL). */
int http_format_response_ex(int status, const char *extra_headers, const char *body,
			    size_t body_len, bool keep_alive, char **out, size_t *out_len);

#endif /* DAEMON_HTTP_H */
