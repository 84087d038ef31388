/*
 * fuzz_sigstore.h - fixed inputs shared by the Sigstore fuzz targets (fuzz_bundle.c,
 * fuzz_dsse_envelope.c, fuzz_simplesign.c): a real Fulcio leaf certificate and the public-good
 * Rekor v1 key, a trust root holding that key as its only transparency log, and
 * sigstore_cosign_bundle with its contract checked.
 */
#ifndef TESTS_FUZZ_FUZZ_SIGSTORE_H
#define TESTS_FUZZ_FUZZ_SIGSTORE_H

#include <stdlib.h>
#include <string.h>

#include "sigstore/bundle.h"
#include "sigstore/cosign.h"
#include "sigstore/trust_root.h"
#include "sigstore/util.h"

/* The Fulcio leaf of the public cosign attestation in ../shared/fixtures/sigstore/cosign-image. */
static const char fuzz_leaf_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIICzzCCAlWgAwIBAgIUF2e+Ci0YsLnPaFUknbNDtUcqXl0wCgYIKoZIzj0EAwMw\n"
	"NzEVMBMGA1UEChMMc2lnc3RvcmUuZGV2MR4wHAYDVQQDExVzaWdzdG9yZS1pbnRl\n"
	"cm1lZGlhdGUwHhcNMjUwMjI4MTkxODExWhcNMjUwMjI4MTkyODExWjAAMFkwEwYH\n"
	"KoZIzj0CAQYIKoZIzj0DAQcDQgAEk/CiYRmA9zsa7ams/+fI+wGeXOFxng4J0wSj\n"
	"1jub7kxArHhGwvgcVE3ubrGXNQB9X3ksG0F+MiXHG8gRzxrr0KOCAXQwggFwMA4G\n"
	"A1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggrBgEFBQcDAzAdBgNVHQ4EFgQUcPdo\n"
	"tYluBHI4fkYy3yij5SY4728wHwYDVR0jBBgwFoAU39Ppz1YkEZb5qNjpKFWixi4Y\n"
	"ZD8wHgYDVR0RAQH/BBQwEoEQY29keUBzb3lsYW5kLmNvbTAsBgorBgEEAYO/MAEB\n"
	"BB5odHRwczovL2dpdGh1Yi5jb20vbG9naW4vb2F1dGgwLgYKKwYBBAGDvzABCAQg\n"
	"DB5odHRwczovL2dpdGh1Yi5jb20vbG9naW4vb2F1dGgwgYoGCisGAQQB1nkCBAIE\n"
	"fAR6AHgAdgDdPTBqxscRMmMZHhyZZzcCokpeuN48rf+HinKALynujgAAAZVN/q3J\n"
	"AAAEAwBHMEUCIQCdLrw1b9rE6rFd+NAJVPaw4DmH0YNOH2AYIOc4g26WmgIgG7Gu\n"
	"b5hz7gzFpvhdb9HQsObWfTNcUiSOmrnPlmaQaKUwCgYIKoZIzj0EAwMDaAAwZQIx\n"
	"AMwB66cCKVhOYq2JMx20FPfJXD6K6oaUV8aIlCiW/YLLZdkWjTWkXt4qIbPgUeAl\n"
	"6wIwdCmnnSMw9fG7FuKz14RYFSbE1VLhNiWhGYpfCj00FtNRoXF+NFQ7DOKjjq7x\n"
	"Pjza\n"
	"-----END CERTIFICATE-----\n";

/* The public-good Rekor v1 key (SubjectPublicKeyInfo, a P-256 key). */
static const char fuzz_log_key_b64[] =
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr"
	"kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

/*
 * Makes tr hold one log, *log: fuzz_log_key_b64 under log_id, and no CA. 0, or -1 when the key
 * does not load (tr is then left empty). The caller frees log->key with EVP_PKEY_free.
 */
static inline int fuzz_trust_one_log(struct sigstore_trust_root *tr, struct sigstore_log *log,
				     const unsigned char log_id[32])
{
	unsigned char *der = NULL;
	size_t der_len;

	if (sigstore_util_b64_decode(fuzz_log_key_b64, strlen(fuzz_log_key_b64), &der, &der_len))
		return -1;
	log->key = sigstore_util_pkey_from_der(der, der_len);
	free(der);
	if (!log->key)
		return -1;
	memcpy(log->log_id, log_id, 32);
	tr->tlogs = log;
	tr->n_tlogs = 1;
	return 0;
}

/* Aborts unless err (a char[256] the code under test filled) is NUL-terminated. */
static inline void fuzz_check_err(const char *err)
{
	if (strnlen(err, 256) >= 256)
		abort();
}

/* sigstore_cosign_bundle, aborting unless *b is set exactly when it succeeds and err is
 * NUL-terminated. */
static inline int fuzz_cosign_bundle(const struct sigstore_oci_sig *s, struct sigstore_bundle **b,
				     char err[256])
{
	int ret = sigstore_cosign_bundle(s, b, err);

	if ((ret == 0) != (*b != NULL))
		abort();
	fuzz_check_err(err);
	return ret;
}

#endif
