/*
 * fuzz_bundle.c - drives the Sigstore bundle parser and, on bundles it accepts, the offline
 * verifier against a trust root holding one log (fuzz_sigstore.h's Rekor key under the
 * first entry's log ID) and no CA, so body matching, SET, proof and checkpoint code all run but
 * nothing can verify; plus the DSSE statement checker and the Merkle proof on every entry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/bundle.h"
#include "sigstore/dsse.h"
#include "sigstore/tlog.h"
#include "sigstore/util.h"
#include "sigstore/verify.h"
#include "tests/fuzz/fuzz_sigstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char digest[32];
	struct sigstore_trust_root tr = {0};
	struct sigstore_log log = {0};
	struct sigstore_verify_result res;
	struct sigstore_verify_opts o = {
		.trust_root = &tr,
		.artifact_sha256 = digest,
		.expected_subject = "x",
		.expected_issuer = "y",
		.now = 1700000000,
	};
	struct sigstore_bundle *b = NULL;
	char err[256];
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sigstore_bundle_parse(buf, size, &b, err) == 0) {
		if (b->n_entries)
			(void)fuzz_trust_one_log(&tr, &log, b->entries[0].log_id);
		if (sigstore_verify_bundle(b, &o, &res, err) == 0)
			abort(); /* nothing can verify against an empty trust root */
		if (b->payload)
			(void)sigstore_dsse_check_statement(b->payload, b->payload_len,
							    SIGSTORE_HASH_SHA256, digest, 32, NULL,
							    err);
		for (size_t i = 0; i < b->n_entries; i++) {
			unsigned char leaf[32];

			sigstore_tlog_leaf_hash(b->entries[i].body, b->entries[i].body_len, leaf);
			(void)sigstore_tlog_verify_inclusion(
				(uint64_t)b->entries[i].proof_index,
				(uint64_t)b->entries[i].tree_size, leaf,
				(const unsigned char(*)[32])b->entries[i].hashes,
				b->entries[i].n_hashes, b->entries[i].root_hash);
		}
		sigstore_bundle_free(b);
		EVP_PKEY_free(log.key);
	}
	fuzz_check_err(err);
	free(buf);
	return 0;
}
