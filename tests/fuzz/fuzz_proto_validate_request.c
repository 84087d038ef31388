/* fuzz_proto_validate_request.c - libFuzzer target for the ValidateJWTSVIDRequest decoder:
 * whatever it accepts must re-encode and decode to the same request. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_validate_request a, b;
	struct proto_buf out = {0};
	char err[PROTO_ERR_MAX];
	int r;

	r = proto_decode_validate_request(data, size, &a, err);
	if (r < 0) {
		CHECK(r == -EPROTO || r == -EMSGSIZE);
		CHECK(strnlen(err, sizeof(err)) < sizeof(err) &&
		      strncmp(err, "ValidateJWTSVIDRequest", 22) == 0);
		return 0;
	}
	CHECK(a.audience.len <= size && a.svid.len <= size);
	r = proto_encode_validate_request(&a, &out);
	CHECK(r == 0 && out.len <= size);
	r = proto_decode_validate_request(out.data, out.len, &b, err);
	CHECK(r == 0 && same(&a.audience, &b.audience) && same(&a.svid, &b.svid));
	proto_buf_free(&out);
	return 0;
}
