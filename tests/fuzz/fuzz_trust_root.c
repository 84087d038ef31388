/*
 * fuzz_trust_root.c - drives the trusted_root.json parser and the log lookups on what it
 * accepts. The input is copied into an exact-size heap buffer, so ASan catches over-reads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/trust_root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigstore_trust_root *tr = NULL;
	unsigned char id[32] = {0};
	char err[256];
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (sigstore_trust_root_parse(buf, size, &tr, err) == 0) {
		if (tr->n_tlogs)
			memcpy(id, tr->tlogs[0].log_id, sizeof(id));
		(void)sigstore_trust_root_find_tlog(tr, id, sizeof(id));
		(void)sigstore_trust_root_find_tlog_url(tr, "https://rekor.sigstore.dev");
		sigstore_trust_root_free(tr);
	} else if (strnlen(err, sizeof(err)) >= sizeof(err)) {
		abort();
	}
	free(buf);
	return 0;
}
