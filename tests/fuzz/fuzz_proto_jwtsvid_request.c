/* fuzz_proto_jwtsvid_request.c - libFuzzer target for the JWTSVIDRequest decoder: whatever it
 * accepts must re-encode and decode to the same request. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/proto.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct proto_bytes *a, const struct proto_bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int inside(const struct proto_bytes *b, const uint8_t *data, size_t size)
{
	return b->len == 0 ||
	       (b->data >= data && b->len <= size && b->data - data <= (ptrdiff_t)(size - b->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_jwtsvid_request *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	CHECK(a && b);
	r = proto_decode_jwtsvid_request(data, size, a, err);
	if (r < 0) {
		CHECK(r == -EPROTO || r == -EMSGSIZE);
		CHECK(strnlen(err, sizeof(err)) < sizeof(err) &&
		      strncmp(err, "JWTSVIDRequest", 14) == 0);
		CHECK(a->naudience == 0 && a->spiffe_id.len == 0);
		goto out;
	}
	CHECK(a->naudience <= PROTO_MAX_REPEATED);
	CHECK(inside(&a->spiffe_id, data, size));
	for (size_t i = 0; i < a->naudience; i++)
		CHECK(inside(&a->audience[i], data, size));

	r = proto_encode_jwtsvid_request(a, &out);
	CHECK(r == 0 && out.len <= size);
	r = proto_decode_jwtsvid_request(out.data, out.len, b, err);
	CHECK(r == 0 && b->naudience == a->naudience && same(&a->spiffe_id, &b->spiffe_id));
	for (size_t i = 0; i < a->naudience; i++)
		CHECK(same(&a->audience[i], &b->audience[i]));
out:
	proto_buf_free(&out);
	free(a);
	free(b);
	return 0;
}
