/*
 * fuzz_oci_manifest.c - drives the OCI manifest/index parser, the simple-signing payload checker,
 * the WWW-Authenticate challenge parser and the image reference parser of sigstore/oci.h on the
 * same input, and checks the invariants they promise (caps, NUL-terminated strings, err filled).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/oci.h"

#define DIGEST "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigstore_oci_manifest m;
	struct sigstore_oci_challenge ch;
	struct sigstore_oci_ref ref;
	char err[256];
	char *buf = malloc(size + 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (sigstore_oci_manifest_parse(buf, size, &m, err) == 0) {
		if (m.n_items > SIGSTORE_OCI_MAX_LAYERS || (m.n_items && !m.items))
			abort();
		for (size_t i = 0; i < m.n_items; i++)
			if (strlen(m.items[i].digest) != 71 || m.items[i].size < 0)
				abort();
		sigstore_oci_manifest_clear(&m);
	} else if (!err[0]) {
		abort();
	}
	if (sigstore_oci_simplesign_check(buf, size, DIGEST, err) == 0 &&
	    !strstr(buf, "docker-manifest-digest"))
		abort();
	/* the string parsers see the input up to its first NUL */
	if (sigstore_oci_challenge_parse(buf, &ch, err) == 0 && !ch.scheme[0])
		abort();
	if (sigstore_oci_ref_parse(buf, &ref, err) == 0 && (!ref.repo[0] || !ref.host[0]))
		abort();
	if (strnlen(err, sizeof(err)) >= sizeof(err))
		abort();
	free(buf);
	return 0;
}
