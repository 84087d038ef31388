/* fuzz_jwt.c - libFuzzer target for JWT-SVID parsing and validation (svid_validate_jwt).
 * Input: the token, optionally followed by "\n" and the audience (default "A"). The CA's JWT
 * key is fixed (below) so that seeds can carry a valid kid and signature. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/svid.h"

/* not CHECK(): must hold in NDEBUG builds too */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* test-only key; the seeds in corpus/jwt were signed with it */
static const char fuzz_jwt_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMRei64VISQJgHuH2\n"
	"OEVYgnsMPJiC3biK6NOEzPdZEO2hRANCAAQnkb2raIRGvpOaFzBHo3wnInJ3oRW6\n"
	"GN6oz9n7gBfm9VUWmoh+bmWoBXE7DxSs1qcJWtd0uePt4fxEEeiqYhs6\n"
	"-----END PRIVATE KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct svid_ca *fuzz_ca(void)
{
	static struct svid_ca *ca; /* the harness's one CA, made on the first input */
	struct svid_ca_opts o = {.trust_domain = "example.org", .generate = true};
	char dir[] = "/tmp/fuzz_jwt.XXXXXX", path[64], err[SVID_ERR_MAX];
	FILE *f;

	if (ca)
		return ca;
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/jwt.key", dir);
	f = fopen(path, "w");
	CHECK(f && fputs(fuzz_jwt_key, f) >= 0 && fclose(f) == 0);
	o.state_dir = dir;
	if (svid_ca_open(&o, &ca, err) < 0) {
		fprintf(stderr, "fuzz_jwt: %s\n", err);
		__builtin_trap();
	}
	/* everything is in memory now */
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir,
			 (const char *[]){"ca.crt", "ca.key", "jwt.key"}[i]);
		unlink(path);
	}
	rmdir(dir);
	return ca;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct svid_ca *ca = fuzz_ca();
	char *buf = malloc(size + 1), *aud = "A", *nl, err[SVID_ERR_MAX];
	char id[SPIFFE_ID_MAX + 1];
	json_t *claims = NULL;
	int r;

	CHECK(buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		aud = nl + 1;
	}
	r = svid_validate_jwt(ca, buf, aud, id, &claims, err);
	CHECK(strlen(err) < SVID_ERR_MAX);
	if (r == 0) {
		CHECK(json_is_object(claims));
		CHECK(strncmp(id, "spiffe://example.org", 20) == 0);
		json_decref(claims);
	} else {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(err[0] != '\0');
	}
	free(buf);
	return 0;
}
