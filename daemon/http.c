/*
 * http.c - bounded HTTP/1.1 request parsing (RFC 9112 subset) and response formatting.
 * Only the request line and the header section are parsed; bodies are refused. All limits are
 * in http.h.
 */
#include "daemon/http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_MAX_RESPONSE_HEAD 1024 /* status line + our headers, without extra_headers */

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

__attribute__((format(printf, 5, 6))) static int fail(int *status_out, int status, int ret,
						      char *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	*status_out = status;
	n = snprintf(err, HTTP_ERR_MAX, "http request: ");
	va_start(ap, fmt);
	vsnprintf(err + n, HTTP_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_field_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Returns the index of the next '\n' in buf[from, end), or -1. */
static long find_lf(const char *buf, size_t from, size_t end)
{
	const char *p;

	if (from >= end)
		return -1;
	p = memchr(buf + from, '\n', end - from);
	return p ? p - buf : -1;
}

static bool token_list_has(const char *v, size_t len, const char *tok)
{
	size_t i = 0, tl = strlen(tok);

	while (i < len) {
		size_t s, e;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return true;
	}
	return false;
}

static int parse_request_line(const char *line, size_t len, struct http_request *req,
			      int *status_out, char *err)
{
	const char *sp1, *sp2, *target, *q, *ver;
	size_t mlen, tlen, plen, qlen;
	bool known = false;

	if (memchr(line, '\0', len))
		return fail(status_out, 400, -EPROTO, err, "request line: NUL byte");
	sp1 = memchr(line, ' ', len);
	if (!sp1)
		return fail(status_out, 400, -EPROTO, err, "request line: no request target");
	mlen = (size_t)(sp1 - line);
	if (mlen == 0)
		return fail(status_out, 400, -EPROTO, err, "request line: empty method");
	for (size_t i = 0; i < mlen; i++) {
		if (!is_tchar((unsigned char)line[i]))
			return fail(status_out, 400, -EPROTO, err,
				    "request line: invalid character in method");
	}
	if (mlen >= HTTP_METHOD_MAX)
		return fail(status_out, 501, -EPROTO, err, "method not implemented");
	memcpy(req->method, line, mlen);
	req->method[mlen] = '\0';
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
		known = known || strcmp(req->method, known_methods[i]) == 0;
	if (!known)
		return fail(status_out, 501, -EPROTO, err, "method %s not implemented",
			    req->method);

	target = sp1 + 1;
	sp2 = memchr(target, ' ', len - (size_t)(target - line));
	if (!sp2)
		return fail(status_out, 400, -EPROTO, err, "request line: no HTTP version");
	tlen = (size_t)(sp2 - target);
	ver = sp2 + 1;
	if ((size_t)(line + len - ver) != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[5] < '0' ||
	    ver[5] > '9' || ver[6] != '.' || ver[7] < '0' || ver[7] > '9')
		return fail(status_out, 400, -EPROTO, err, "request line: malformed HTTP version");
	if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
		return fail(status_out, 505, -EPROTO, err, "HTTP version %.8s not supported", ver);
	req->version_minor = ver[7] - '0';

	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)target[i];

		if (c <= 0x20 || c >= 0x7f)
			return fail(status_out, 400, -EPROTO, err,
				    "request target: invalid character 0x%02x", c);
		if (c == '#')
			return fail(status_out, 400, -EPROTO, err, "request target: fragment");
	}
	/* absolute-form: drop "scheme://authority" */
	if (tlen >= 7 && (strncasecmp(target, "http://", 7) == 0 ||
			  (tlen >= 8 && strncasecmp(target, "https://", 8) == 0))) {
		const char *a = memchr(target, ':', tlen) + 3;
		const char *slash = memchr(a, '/', tlen - (size_t)(a - target));
		const char *qm = memchr(a, '?', tlen - (size_t)(a - target));

		if (!slash || (qm && qm < slash))
			return fail(status_out, 400, -EPROTO, err,
				    "request target: absolute form without a path");
		tlen -= (size_t)(slash - target);
		target = slash;
	}
	if (tlen == 0 || target[0] != '/')
		return fail(status_out, 400, -EPROTO, err, "request target: must start with '/'");
	q = memchr(target, '?', tlen);
	plen = q ? (size_t)(q - target) : tlen;
	qlen = q ? tlen - plen - 1 : 0;
	if (plen >= HTTP_PATH_MAX)
		return fail(status_out, 414, -E2BIG, err, "path longer than %d bytes",
			    HTTP_PATH_MAX - 1);
	if (qlen >= HTTP_QUERY_MAX)
		return fail(status_out, 414, -E2BIG, err, "query longer than %d bytes",
			    HTTP_QUERY_MAX - 1);
	memcpy(req->path, target, plen);
	req->path[plen] = '\0';
	if (q)
		memcpy(req->query, q + 1, qlen);
	req->query[qlen] = '\0';
	req->keep_alive = req->version_minor == 1;
	return 0;
}

/* One header line without its line ending. */
static int parse_header(const char *line, size_t len, struct http_request *req, int *status_out,
			char *err)
{
	const char *colon, *v;
	size_t nlen, vlen;

	if (line[0] == ' ' || line[0] == '\t')
		return fail(status_out, 400, -EPROTO, err, "header %u: obsolete line folding",
			    req->nheaders);
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return fail(status_out, 400, -EPROTO, err, "header %u: no field name",
			    req->nheaders);
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++) {
		if (!is_tchar((unsigned char)line[i]))
			return fail(status_out, 400, -EPROTO, err,
				    "header %u: invalid character in field name", req->nheaders);
	}
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (size_t i = 0; i < vlen; i++) {
		if (!is_field_vchar((unsigned char)v[i]))
			return fail(status_out, 400, -EPROTO, err,
				    "header %.*s: invalid character 0x%02x in value", (int)nlen,
				    line, (unsigned char)v[i]);
	}
	if (nlen == 14 && strncasecmp(line, "Content-Length", nlen) == 0) {
		bool nonzero = false;

		if (vlen == 0)
			return fail(status_out, 400, -EPROTO, err, "Content-Length: empty");
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9')
				return fail(status_out, 400, -EPROTO, err,
					    "Content-Length: not a number");
			nonzero = nonzero || v[i] != '0';
		}
		if (nonzero)
			return fail(status_out, 413, -E2BIG, err,
				    "request bodies are not accepted (Content-Length %.*s)",
				    (int)(vlen > 20 ? 20 : vlen), v);
	} else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", nlen) == 0) {
		return fail(status_out, 400, -EPROTO, err,
			    "Transfer-Encoding: request bodies are not accepted");
	} else if (nlen == 10 && strncasecmp(line, "Connection", nlen) == 0) {
		if (token_list_has(v, vlen, "close"))
			req->keep_alive = false;
		else if (token_list_has(v, vlen, "keep-alive"))
			req->keep_alive = true;
	}
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req, int *status_out,
		       char err[HTTP_ERR_MAX])
{
	size_t end = len < HTTP_MAX_REQUEST ? len : HTTP_MAX_REQUEST;
	size_t pos = 0;
	bool have_request_line = false;
	int r;

	memset(req, 0, sizeof(*req));
	*status_out = 0;
	err[0] = '\0';
	for (;;) {
		long lf = find_lf(buf, pos, end);
		size_t llen;

		if (lf < 0) {
			if (memchr(buf + pos, '\0', end - pos))
				return fail(status_out, 400, -EPROTO, err, "NUL byte");
			if (len < HTTP_MAX_REQUEST)
				return 0;
			if (!have_request_line)
				return fail(status_out, 414, -E2BIG, err,
					    "request line longer than %d bytes", HTTP_MAX_REQUEST);
			return fail(status_out, 431, -E2BIG, err,
				    "header section longer than %d bytes", HTTP_MAX_REQUEST);
		}
		llen = (size_t)lf - pos;
		if (llen > 0 && buf[pos + llen - 1] == '\r')
			llen--;
		if (memchr(buf + pos, '\r', llen))
			return fail(status_out, 400, -EPROTO, err, "bare CR");
		if (!have_request_line) {
			if (llen == 0 && pos < 8) { /* RFC 9112 2.2: ignore a leading empty line */
				pos = (size_t)lf + 1;
				continue;
			}
			r = parse_request_line(buf + pos, llen, req, status_out, err);
			if (r < 0)
				return r;
			have_request_line = true;
		} else if (llen == 0) {
			return lf + 1;
		} else {
			if (memchr(buf + pos, '\0', llen))
				return fail(status_out, 400, -EPROTO, err, "NUL byte in header %u",
					    req->nheaders);
			if (req->nheaders >= HTTP_MAX_HEADERS)
				return fail(status_out, 431, -E2BIG, err, "more than %d headers",
					    HTTP_MAX_HEADERS);
			r = parse_header(buf + pos, llen, req, status_out, err);
			if (r < 0)
				return r;
			req->nheaders++;
		}
		pos = (size_t)lf + 1;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0, len) into out (NUL-terminated). -EINVAL, -ENOSPC. */
static int pct_decode(const char *s, size_t len, char *out, size_t out_len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return -EINVAL;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= out_len)
			return -ENOSPC;
		out[o++] = c;
	}
	if (out_len == 0)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int http_query_get(const struct http_request *req, const char *key, char *out, size_t out_len)
{
	const char *q = req->query;
	size_t qlen = strnlen(q, sizeof(req->query));
	size_t i = 0;
	char k[HTTP_QUERY_MAX];
	int r;

	while (i < qlen) {
		const char *pair = q + i, *amp = memchr(pair, '&', qlen - i), *eq;
		size_t plen = amp ? (size_t)(amp - pair) : qlen - i;

		i += plen + 1;
		if (plen == 0)
			continue;
		eq = memchr(pair, '=', plen);
		r = pct_decode(pair, eq ? (size_t)(eq - pair) : plen, k, sizeof(k));
		if (r < 0)
			return -EINVAL;
		if (strcmp(k, key) != 0)
			continue;
		if (!eq)
			return pct_decode(pair, 0, out, out_len);
		return pct_decode(eq + 1, plen - (size_t)(eq + 1 - pair), out, out_len);
	}
	return -ENOENT;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

int http_format_response_ex(int status, const char *extra_headers, const char *body,
			    size_t body_len, bool keep_alive, char **out, size_t *out_len)
{
	char head[HTTP_MAX_RESPONSE_HEAD];
	size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
	size_t total;
	char *p;
	int n;

	if (status < 100 || status > 999 || (body_len && !body))
		return -EINVAL;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		     "Connection: %s\r\n",
		     status, http_reason(status), body_len, keep_alive ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -EINVAL;
	if (body_len > SIZE_MAX - (size_t)n - extra_len - 3)
		return -ENOMEM;
	total = (size_t)n + extra_len + 2 + body_len;
	p = malloc(total + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, head, (size_t)n);
	if (extra_len)
		memcpy(p + n, extra_headers, extra_len);
	memcpy(p + (size_t)n + extra_len, "\r\n", 2);
	if (body_len)
		memcpy(p + (size_t)n + extra_len + 2, body, body_len);
	p[total] = '\0';
	*out = p;
	*out_len = total;
	return 0;
}

int http_format_response(int status, const char *body, size_t body_len, bool keep_alive, char **out,
			 size_t *out_len)
{
	return http_format_response_ex(status, NULL, body, body_len, keep_alive, out, out_len);
}
