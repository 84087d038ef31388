// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_spiffe_id.c - spiffe_id_validate and spiffe_trust_domain_validate. The input is copied
 * into an exact-size heap buffer (NUL-terminated), so ASan catches any read past the end. An
 * accepted ID is re-checked against the standard's rules here, independently of policy.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in(char c, const char *set)
{
	return c && strchr(set, c);
}

#define TD_SET	"abcdefghijklmnopqrstuvwxyz0123456789.-_"
#define SEG_SET TD_SET "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* The standard, written out again: scheme, trust domain, segments. */
static void check_accepted(const char *id, size_t td_len)
{
	const char *td = id + 9, *p;
	char tdbuf[SPIFFE_TRUST_DOMAIN_MAX + 1], err[POLICY_ERR_MAX];

	if (strlen(id) > SPIFFE_ID_MAX || strncmp(id, "spiffe://", 9) != 0)
		__builtin_trap();
	if (td_len == 0 || td_len > SPIFFE_TRUST_DOMAIN_MAX)
		__builtin_trap();
	for (size_t i = 0; i < td_len; i++)
		if (!in(td[i], TD_SET))
			__builtin_trap();
	memcpy(tdbuf, td, td_len);
	tdbuf[td_len] = '\0';
	if (spiffe_trust_domain_validate(tdbuf, err) != 0)
		__builtin_trap();
	for (p = td + td_len; *p;) {
		size_t n;

		if (*p != '/')
			__builtin_trap();
		p++;
		n = strspn(p, SEG_SET);
		if (n == 0 || (p[n] && p[n] != '/'))
			__builtin_trap();
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			__builtin_trap();
		p += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *id = malloc(size + 1);
	char err[POLICY_ERR_MAX];
	size_t td_len = 0;
	int rc;

	if (!id)
		return 0;
	memcpy(id, data, size);
	id[size] = '\0';

	memset(err, 'x', sizeof(err));
	rc = spiffe_id_validate(id, &td_len, err);
	if (rc != 0 && rc != -EINVAL)
		__builtin_trap();
	if (!memchr(err, '\0', sizeof(err)) || (rc < 0 && !err[0]) || (rc == 0 && err[0]))
		__builtin_trap();
	if (rc == 0)
		check_accepted(id, td_len);

	memset(err, 'x', sizeof(err));
	rc = spiffe_trust_domain_validate(id, err);
	if (rc != 0 && rc != -EINVAL)
		__builtin_trap();
	if (!memchr(err, '\0', sizeof(err)))
		__builtin_trap();
	if (rc == 0) {
		size_t n = strlen(id);

		if (n == 0 || n > SPIFFE_TRUST_DOMAIN_MAX || strspn(id, TD_SET) != n)
			__builtin_trap();
	}
	free(id);
	return 0;
}
