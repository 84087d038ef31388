/* test_http.c - the admin API's HTTP/1.1 request parser, query helper and response writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http.h"

struct parse_case {
	const char *name;
	const char *input;
	size_t len; /* 0: strlen(input) */
	int ret;    /* >0: expect strlen-consumed (-1 = whole input); 0 need more; <0 errno */
	int status;
	const char *method, *path, *query;
	int keep_alive; /* -1: don't check */
};

#define OK(n, in, m, p, q, ka)               \
	{                                    \
		n, in, 0, -1, 0, m, p, q, ka \
	}
#define MORE(n, in)                                  \
	{                                            \
		n, in, 0, 0, 0, NULL, NULL, NULL, -1 \
	}
#define BAD(n, in, r, st)                             \
	{                                             \
		n, in, 0, r, st, NULL, NULL, NULL, -1 \
	}

static const struct parse_case parse_cases[] = {
	OK("simple get", "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n", "GET", "/v1/status",
	   "", 1),
	OK("curl style",
	   "GET /v1/attestations?limit=5 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\n"
	   "Accept: */*\r\n\r\n",
	   "GET", "/v1/attestations", "limit=5", 1),
	OK("no headers", "GET / HTTP/1.1\r\n\r\n", "GET", "/", "", 1),
	OK("http/1.0 closes", "GET /x HTTP/1.0\r\n\r\n", "GET", "/x", "", 0),
	OK("http/1.0 keep-alive", "GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/x",
	   "", 1),
	OK("connection close", "GET /x HTTP/1.1\r\nconnection: foo, close\r\n\r\n", "GET", "/x", "",
	   0),
	OK("bare LF", "GET /a?b HTTP/1.1\nHost: x\n\n", "GET", "/a", "b", 1),
	OK("leading empty line", "\r\nGET /a HTTP/1.1\r\n\r\n", "GET", "/a", "", 1),
	OK("absolute form", "GET http://localhost/v1/status?x=1 HTTP/1.1\r\n\r\n", "GET",
	   "/v1/status", "x=1", 1),
	OK("content-length 0", "GET /a HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "GET", "/a", "", 1),
	OK("empty query", "GET /a? HTTP/1.1\r\n\r\n", "GET", "/a", "", 1),
	OK("ows around value", "GET /a HTTP/1.1\r\nConnection: \t close \t\r\n\r\n", "GET", "/a",
	   "", 0),
	OK("post parses (routing decides)", "POST /v1/x HTTP/1.1\r\n\r\n", "POST", "/v1/x", "", 1),
	OK("obs-text in value", "GET /a HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", "GET", "/a", "", 1),

	MORE("empty", ""),
	MORE("partial request line", "GET /v1/sta"),
	MORE("no blank line", "GET / HTTP/1.1\r\nHost: x\r\n"),
	MORE("half CRLF", "GET / HTTP/1.1\r\nHost: x\r\n\r"),

	BAD("lowercase version", "GET / http/1.1\r\n\r\n", -EPROTO, 400),
	BAD("no version", "GET /\r\n\r\n", -EPROTO, 400),
	BAD("double space", "GET  / HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("trailing space", "GET / HTTP/1.1 \r\n\r\n", -EPROTO, 400),
	BAD("relative target", "GET v1/status HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("asterisk", "OPTIONS * HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("fragment", "GET /a#b HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("control char in target", "GET /a\x01 HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("non-ascii in target", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("bad method char", "G(T / HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("empty method", " / HTTP/1.1\r\n\r\n", -EPROTO, 400),
	BAD("header without colon", "GET / HTTP/1.1\r\nHost localhost\r\n\r\n", -EPROTO, 400),
	BAD("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -EPROTO, 400),
	BAD("empty header name", "GET / HTTP/1.1\r\n: x\r\n\r\n", -EPROTO, 400),
	BAD("obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", -EPROTO, 400),
	BAD("bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -EPROTO, 400),
	BAD("control char in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", -EPROTO, 400),
	BAD("transfer-encoding", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -EPROTO,
	    400),
	BAD("content-length junk", "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -EPROTO, 400),
	BAD("content-length negative", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EPROTO,
	    400),
	BAD("content-length empty", "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", -EPROTO, 400),
	BAD("body", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", -E2BIG, 413),
	BAD("unknown method", "BREW /pot HTTP/1.1\r\n\r\n", -EPROTO, 501),
	BAD("long method", "GETGETGETGETGETGET / HTTP/1.1\r\n\r\n", -EPROTO, 501),
	BAD("http/2", "GET / HTTP/2.0\r\n\r\n", -EPROTO, 505),
	BAD("http/1.2", "GET / HTTP/1.2\r\n\r\n", -EPROTO, 505),
	BAD("http/0.9", "GET / HTTP/0.9\r\n\r\n", -EPROTO, 505),
	BAD("absolute form without path", "GET http://localhost HTTP/1.1\r\n\r\n", -EPROTO, 400),
	/* errors are reported as soon as the offending line is complete */
	BAD("bad request line, headers incomplete", "GET / HTTP/9.9\r\nHost:", -EPROTO, 505),
	{"NUL in partial line", "GET / HTTP/1.1\r\nHo\0st", 21, -EPROTO, 400, NULL, NULL, NULL, -1},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->input);
		struct http_request req;
		char err[HTTP_ERR_MAX];
		int status = -1, r;

		r = http_parse_request(c->input, len, &req, &status, err);
		if (c->ret == -1) {
			if (r != (int)len)
				fail_msg("%s: ret %d (%s), want %zu", c->name, r, err, len);
			assert_string_equal(req.method, c->method);
			assert_string_equal(req.path, c->path);
			assert_string_equal(req.query, c->query);
			if (c->keep_alive >= 0 && req.keep_alive != (c->keep_alive == 1))
				fail_msg("%s: keep_alive %d", c->name, req.keep_alive);
		} else if (r != c->ret || (c->ret < 0 && status != c->status)) {
			fail_msg("%s: ret %d status %d (%s), want %d %d", c->name, r, status, err,
				 c->ret, c->status);
		}
		if (r < 0 && (strncmp(err, "http request: ", 14) != 0 || strlen(err) < 20))
			fail_msg("%s: err not filled: '%s'", c->name, err);
	}
}

static void test_nul_bytes(void **state)
{
	static const char in[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	static const char in2[] = "GET /\0 HTTP/1.1\r\n\r\n";
	struct http_request req;
	char err[HTTP_ERR_MAX];
	int status;

	assert_int_equal(http_parse_request(in, sizeof(in) - 1, &req, &status, err), -EPROTO);
	assert_int_equal(status, 400);
	assert_int_equal(http_parse_request(in2, sizeof(in2) - 1, &req, &status, err), -EPROTO);
	assert_int_equal(status, 400);
}

/* A request delivered in every possible two-piece split, and byte by byte. */
static void test_split_reads(void **state)
{
	static const char in[] = "GET /v1/attest?pid=42 HTTP/1.1\r\nHost: localhost\r\n"
				 "Connection: close\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
	const size_t first = strstr(in, "GET /next") - in;
	struct http_request req;
	char err[HTTP_ERR_MAX];
	int status, r;

	for (size_t cut = 0; cut < first; cut++) {
		r = http_parse_request(in, cut, &req, &status, err);
		if (r != 0)
			fail_msg("prefix of %zu bytes: ret %d (%s)", cut, r, err);
	}
	for (size_t len = first; len <= sizeof(in) - 1; len++) {
		r = http_parse_request(in, len, &req, &status, err);
		assert_int_equal(r, (int)first);
		assert_string_equal(req.path, "/v1/attest");
		assert_string_equal(req.query, "pid=42");
		assert_false(req.keep_alive);
	}
	/* the pipelined second request parses from where the first ended */
	r = http_parse_request(in + first, sizeof(in) - 1 - first, &req, &status, err);
	assert_int_equal(r, (int)(sizeof(in) - 1 - first));
	assert_string_equal(req.path, "/next");
}

static char *repeat(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s = malloc(pl + n + sl + 1);

	assert_non_null(s);
	memcpy(s, prefix, pl);
	memset(s + pl, c, n);
	memcpy(s + pl + n, suffix, sl + 1);
	return s;
}

static void test_limits(void **state)
{
	struct http_request req;
	char err[HTTP_ERR_MAX];
	int status;
	char *s, big[HTTP_MAX_REQUEST + 64];
	size_t n = 0;

	/* path exactly at the limit, and one over */
	s = repeat("GET /", 'a', HTTP_PATH_MAX - 2, " HTTP/1.1\r\n\r\n");
	assert_int_equal(http_parse_request(s, strlen(s), &req, &status, err), (int)strlen(s));
	assert_int_equal(strlen(req.path), HTTP_PATH_MAX - 1);
	free(s);
	s = repeat("GET /", 'a', HTTP_PATH_MAX - 1, " HTTP/1.1\r\n\r\n");
	assert_int_equal(http_parse_request(s, strlen(s), &req, &status, err), -E2BIG);
	assert_int_equal(status, 414);
	free(s);
	s = repeat("GET /?", 'q', HTTP_QUERY_MAX, " HTTP/1.1\r\n\r\n");
	assert_int_equal(http_parse_request(s, strlen(s), &req, &status, err), -E2BIG);
	assert_int_equal(status, 414);
	free(s);
	/* request line that never ends */
	s = repeat("GET /", 'a', HTTP_MAX_REQUEST, "");
	assert_int_equal(http_parse_request(s, strlen(s), &req, &status, err), -E2BIG);
	assert_int_equal(status, 414);
	free(s);
	/* one huge header */
	s = repeat("GET / HTTP/1.1\r\nX-Big: ", 'b', HTTP_MAX_REQUEST, "\r\n\r\n");
	assert_int_equal(http_parse_request(s, strlen(s), &req, &status, err), -E2BIG);
	assert_int_equal(status, 431);
	/* ... but less than the limit with no end yet is just incomplete */
	assert_int_equal(http_parse_request(s, HTTP_MAX_REQUEST - 1, &req, &status, err), 0);
	free(s);
	/* too many headers */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%d: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(http_parse_request(big, n, &req, &status, err), -E2BIG);
	assert_int_equal(status, 431);
}

struct query_case {
	const char *name;
	const char *query, *key;
	size_t out_len;
	int ret;
	const char *want;
};

static const struct query_case query_cases[] = {
	{"plain", "pid=42", "pid", 64, 0, "42"},
	{"second", "limit=5&pid=42", "pid", 64, 0, "42"},
	{"first match wins", "pid=1&pid=2", "pid", 64, 0, "1"},
	{"absent", "limit=5", "pid", 64, -ENOENT, NULL},
	{"empty query", "", "pid", 64, -ENOENT, NULL},
	{"prefix is not a match", "pidx=1", "pid", 64, -ENOENT, NULL},
	{"no value", "verbose&pid=3", "verbose", 64, 0, ""},
	{"empty value", "pid=", "pid", 64, 0, ""},
	{"percent", "name=a%20b%2Fc", "name", 64, 0, "a b/c"},
	{"plus", "name=a+b", "name", 64, 0, "a b"},
	{"encoded key", "p%69d=7", "pid", 64, 0, "7"},
	{"empty pairs", "&&pid=9&", "pid", 64, 0, "9"},
	{"bad hex", "pid=%zz", "pid", 64, -EINVAL, NULL},
	{"truncated percent", "pid=%4", "pid", 64, -EINVAL, NULL},
	{"lone percent", "pid=%", "pid", 64, -EINVAL, NULL},
	{"encoded NUL", "pid=1%002", "pid", 64, -EINVAL, NULL},
	{"bad key before match", "a%g=1&pid=2", "pid", 64, -EINVAL, NULL},
	{"out too small", "pid=12345", "pid", 5, -ENOSPC, NULL},
	{"out exactly fits", "pid=1234", "pid", 5, 0, "1234"},
};

static void test_query_table(void **state)
{
	for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		struct http_request req = {0};
		char out[64];
		int r;

		snprintf(req.query, sizeof(req.query), "%s", c->query);
		memset(out, 'X', sizeof(out));
		r = http_query_get(&req, c->key, out, c->out_len);
		if (r != c->ret)
			fail_msg("%s: ret %d, want %d", c->name, r, c->ret);
		if (c->want && strcmp(out, c->want) != 0)
			fail_msg("%s: '%s', want '%s'", c->name, out, c->want);
	}
}

static void test_format_response(void **state)
{
	char *out;
	size_t len;
	static const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
				   "Content-Length: 3\r\nConnection: close\r\n\r\n{}\n";
	static const char want405[] = "HTTP/1.1 405 Method Not Allowed\r\n"
				      "Content-Type: application/json\r\nContent-Length: 0\r\n"
				      "Connection: keep-alive\r\nAllow: GET\r\n\r\n";

	assert_int_equal(http_format_response(404, "{}\n", 3, false, &out, &len), 0);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	free(out);
	assert_int_equal(http_format_response_ex(405, "Allow: GET\r\n", NULL, 0, true, &out, &len),
			 0);
	assert_int_equal(len, sizeof(want405) - 1);
	assert_memory_equal(out, want405, len);
	free(out);
	assert_int_equal(http_format_response(42, "", 0, true, &out, &len), -EINVAL);
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(299), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table), cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_split_reads), cmocka_unit_test(test_limits),
		cmocka_unit_test(test_query_table), cmocka_unit_test(test_format_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
