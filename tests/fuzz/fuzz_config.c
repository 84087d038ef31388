/*
 * fuzz_config.c - libFuzzer target for config_parse (and config_parse_duration_ms).
 * Any input must give 0 or a negative errno with a NUL-terminated message, never a crash; an
 * accepted config builds a policy and is freed with config_free (so leaks show).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

#define FUZZ_DURATION_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = config_parse((const char *)data, size, "fuzz.yaml", &cfg, err);
	if (rc != 0 && rc != -EINVAL && rc != -EPROTO && rc != -ENOMEM)
		__builtin_trap();
	if (!memchr(err, '\0', sizeof(err)))
		__builtin_trap();
	if (rc == 0 && (err[0] != '\0' || cfg.worker_threads < 1 || cfg.audit_entries < 1 ||
			cfg.socket_path[0] != '/' || cfg.trust_domain[0] == '\0' ||
			(!cfg.ca_generate && (!cfg.ca_cert[0] || !cfg.ca_key[0]))))
		__builtin_trap();
	if (rc == 0) {
		struct policy *p = NULL;
		char perr[POLICY_ERR_MAX];

		/* an accepted config always builds a policy */
		if (policy_new(cfg.trust_domain, cfg.entries, cfg.nentries, cfg.templates,
			       cfg.ntemplates, &p, perr) != 0)
			__builtin_trap();
		policy_free(p);
		config_free(&cfg);
	}

	if (size < FUZZ_DURATION_MAX) {
		char text[FUZZ_DURATION_MAX];
		uint64_t ms;

		memcpy(text, data, size);
		text[size] = '\0';
		rc = config_parse_duration_ms(text, &ms);
		if (rc != 0 && rc != -EINVAL)
			__builtin_trap();
	}
	return 0;
}
