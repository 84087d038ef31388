/* fuzz_http.c - libFuzzer target for the admin API's HTTP request parser and query helper. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/http.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"pid", "limit", "", "a b", "%"};
	struct http_request req;
	char err[HTTP_ERR_MAX], out[64], tiny[2];
	const char *buf = (const char *)data;
	size_t off = 0;
	int status, r;

	/* parse back-to-back (pipelined) requests the way the admin server does */
	while (off < size) {
		r = http_parse_request(buf + off, size - off, &req, &status, err);
		if (r <= 0) {
			if (r < 0)
				CHECK(status == 400 || status == 413 || status == 414 ||
				      status == 431 || status == 501 || status == 505);
			CHECK(strlen(err) < HTTP_ERR_MAX);
			break;
		}
		CHECK((size_t)r <= size - off && r <= HTTP_MAX_REQUEST);
		CHECK(req.path[0] == '/' && strlen(req.path) < HTTP_PATH_MAX);
		CHECK(strlen(req.query) < HTTP_QUERY_MAX && strlen(req.method) < HTTP_METHOD_MAX);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			int q = http_query_get(&req, keys[i], out, sizeof(out));

			CHECK(q == 0 || q == -ENOENT || q == -EINVAL || q == -ENOSPC);
			if (q == 0)
				CHECK(strlen(out) < sizeof(out));
			q = http_query_get(&req, keys[i], tiny, sizeof(tiny));
			CHECK(q == 0 || q == -ENOENT || q == -EINVAL || q == -ENOSPC);
		}
		off += (size_t)r;
	}
	return 0;
}
