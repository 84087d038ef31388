/*
 * fuzz_dsse_envelope.c - drives the cosign .att layer parser (sigstore/cosign.h): the input is
 * the layer's DSSE envelope JSON, optionally followed by a NUL and cosign's bundle annotation
 * (a fixed valid one otherwise), under a real Fulcio leaf certificate. Accepted layers go
 * through the offline verifier against a trust root holding the public-good Rekor key under
 * the entry's log ID and no CA (body matching and SET checks run; nothing can verify), and
 * the in-toto statement checker.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/bundle.h"
#include "sigstore/cosign.h"
#include "sigstore/dsse.h"
#include "sigstore/util.h"
#include "sigstore/verify.h"

/* The Fulcio leaf of the public cosign attestation in ../shared/fixtures/sigstore/cosign-image. */
static const char leaf_pem[] = "-----BEGIN CERTIFICATE-----\n"
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

/* The public-good Rekor v1 key (SubjectPublicKeyInfo). */
static const char log_key_b64[] = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr"
				  "kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

static const char default_bundle[] =
	"{\"SignedEntryTimestamp\":\"MEUCIQ==\",\"Payload\":{\"body\":\"eyJhcGlWZXJzaW9uIjoiMC4w"
	"LjEiLCJraW5kIjoiZHNzZSIsInNwZWMiOnt9fQ==\",\"integratedTime\":1740770291,\"logIndex\":1,"
	"\"logID\":\"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d\"}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char digest[32];
	const uint8_t *nul = memchr(data, 0, size);
	size_t env_len = nul ? (size_t)(nul - data) : size;
	struct sigstore_trust_root tr = {0};
	struct sigstore_log log = {0};
	struct sigstore_oci_sig s = {.kind = SIGSTORE_OCI_SIG_ATTESTATION};
	struct sigstore_bundle *b = NULL;
	struct sigstore_verify_result res;
	struct sigstore_verify_opts o = {
		.trust_root = &tr,
		.artifact_sha256 = digest,
		.expected_subject = "cody@soyland.com",
		.now = 1740770400,
	};
	unsigned char *der = NULL;
	size_t der_len;
	char err[256] = "";

	s.data = malloc(env_len + 1);
	s.layer.bundle =
		nul ? strndup((const char *)nul + 1, size - env_len - 1) : strdup(default_bundle);
	if (!s.data || !s.layer.bundle)
		goto out;
	memcpy(s.data, data, env_len);
	s.data[env_len] = '\0';
	s.data_len = env_len;
	s.layer.certificate = (char *)leaf_pem;
	s.layer.signature = (char *)"";
	if (sigstore_cosign_bundle(&s, &b, err) == 0) {
		if (!b->is_dsse || b->n_sigs != 1 || b->n_entries != 1 || !b->entries[0].set)
			abort();
		if (!sigstore_util_b64_decode(log_key_b64, strlen(log_key_b64), &der, &der_len)) {
			log.key = sigstore_util_pkey_from_der(der, der_len);
			memcpy(log.log_id, b->entries[0].log_id, 32);
			if (log.key) {
				tr.tlogs = &log;
				tr.n_tlogs = 1;
			}
		}
		if (sigstore_verify_bundle(b, &o, &res, err) == 0)
			abort(); /* no CA: nothing can verify */
		(void)sigstore_dsse_check_statement(b->payload, b->payload_len,
						    SIGSTORE_HASH_SHA256, digest, 32, NULL, err);
		EVP_PKEY_free(log.key);
		sigstore_bundle_free(b);
	} else if (b) {
		abort();
	}
	if (strnlen(err, sizeof(err)) >= sizeof(err))
		abort();
out:
	free(der);
	free(s.data);
	free(s.layer.bundle);
	return 0;
}
