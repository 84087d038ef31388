/*
 * fuzz_docker_config.c - drives the credential parsers of sigstore/oci_auth.h on the same
 * input: docker config.json, CredentialProviderConfig (YAML and JSON), CredentialProviderResponse
 * and docker-credential-helper output, and the matchImages rule (input split at its first
 * newline into pattern and image). Checks the promises: err filled on failure, a found
 * credential only on success, NUL-terminated fields. Nothing is executed (no plugin exists in
 * the bin dir).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/oci_auth.h"

static void check_cred(int ret, const struct sigstore_oci_cred *c, const char *err)
{
	if (ret && (c->found || !err[0]))
		abort();
	if (strnlen(c->username, sizeof(c->username)) >= sizeof(c->username) ||
	    strnlen(c->password, sizeof(c->password)) >= sizeof(c->password) ||
	    strnlen(err, 256) >= 256)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sigstore_oci_auth_opts o = {.provider_bin_dir = "/nonexistent/attestd-fuzz"};
	struct sigstore_oci_auth *a = NULL;
	struct sigstore_oci_cred c;
	char err[256], *buf = malloc(size + 1), *nl;
	int ret;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (sigstore_oci_auth_new(&o, &a, err) == 0) {
		ret = sigstore_oci_auth_load_docker_config(a, buf, size, "config.json", err);
		if (ret && !err[0])
			abort();
		ret = sigstore_oci_auth_load_providers(a, buf, size, "providers.yaml", err);
		if (ret == 0 || !err[0]) /* the plugin can never exist */
			abort();
		sigstore_oci_auth_free(a);
	}
	ret = sigstore_oci_auth_parse_response(buf, size, SIGSTORE_OCI_AUTH_PROVIDER_API,
					       "eu.registry.io/team/app", &c, err);
	check_cred(ret, &c, err);
	ret = sigstore_oci_auth_parse_helper_output(buf, size, &c, err);
	check_cred(ret, &c, err);
	if (ret == 0 && (!c.found || !c.password[0]))
		abort();
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		ret = sigstore_oci_auth_match_image(buf, nl + 1);
		if (ret != 0 && ret != 1 && ret != -EINVAL)
			abort();
	}
	free(buf);
	return 0;
}
