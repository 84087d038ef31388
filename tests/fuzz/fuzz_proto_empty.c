/* fuzz_proto_empty.c - libFuzzer target for the decoder of the empty request messages
 * (X509SVIDRequest, X509BundlesRequest, JWTBundlesRequest): only unknown fields. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "daemon/proto.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[PROTO_ERR_MAX];
	int r, r2;

	r = proto_decode_empty(data, size, "X509SVIDRequest", err);
	CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE);
	if (r < 0)
		CHECK(strnlen(err, sizeof(err)) < sizeof(err) &&
		      strncmp(err, "X509SVIDRequest", 15) == 0);
	/* framing does not depend on the message: the same answer under any name */
	r2 = proto_decode_empty(data, size, NULL, err);
	CHECK(r2 == r);
	if (r2 < 0)
		CHECK(strncmp(err, "message", 7) == 0);
	return 0;
}
