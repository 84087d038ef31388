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
#include "tests/fuzz/fuzz_sigstore.h"

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
	char err[256] = "";

	s.data = malloc(env_len + 1);
	s.layer.bundle =
		nul ? strndup((const char *)nul + 1, size - env_len - 1) : strdup(default_bundle);
	if (!s.data || !s.layer.bundle)
		goto out;
	memcpy(s.data, data, env_len);
	s.data[env_len] = '\0';
	s.data_len = env_len;
	s.layer.certificate = (char *)fuzz_leaf_pem;
	s.layer.signature = (char *)"";
	if (fuzz_cosign_bundle(&s, &b, err) == 0) {
		if (!b->is_dsse || b->n_sigs != 1 || b->n_entries != 1 || !b->entries[0].set)
			abort();
		(void)fuzz_trust_one_log(&tr, &log, b->entries[0].log_id);
		if (sigstore_verify_bundle(b, &o, &res, err) == 0)
			abort(); /* no CA: nothing can verify */
		(void)sigstore_dsse_check_statement(b->payload, b->payload_len,
						    SIGSTORE_HASH_SHA256, digest, 32, NULL, err);
		EVP_PKEY_free(log.key);
		sigstore_bundle_free(b);
		fuzz_check_err(err);
	}
out:
	free(s.data);
	free(s.layer.bundle);
	return 0;
}
