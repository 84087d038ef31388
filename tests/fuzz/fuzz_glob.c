/*
 * fuzz_glob.c - the identity glob matcher and policy (sigstore/identity.h): the input is a
 * pattern, a NUL and a subject. Checks properties that must hold for every input: a pattern
 * without wildcards matches exactly itself, "*" matches everything, every string matches
 * itself when it holds no wildcard, '*'-prefixing never loses a match, and the policy agrees
 * with the matcher.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigstore/identity.h"

#define ISSUER "https://token.actions.githubusercontent.com"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	char *pattern, *subject, *star = NULL, err[256];
	struct sigstore_identity_policy *p = NULL;
	bool m;

	if (!nul || size > 4096)
		return 0;
	pattern = strndup((const char *)data, (size_t)(nul - data));
	subject = strndup((const char *)nul + 1, size - (size_t)(nul - data) - 1);
	if (!pattern || !subject)
		goto out;
	m = sigstore_glob_match(pattern, subject);
	if (!strpbrk(pattern, "*?") && m != (strcmp(pattern, subject) == 0))
		abort();
	if (!sigstore_glob_match("*", subject) || !sigstore_glob_match("**", subject))
		abort();
	if (!strpbrk(subject, "*?") && !sigstore_glob_match(subject, subject))
		abort();
	if (m && (star = malloc(strlen(pattern) + 2))) {
		star[0] = '*';
		memcpy(star + 1, pattern, strlen(pattern) + 1);
		if (!sigstore_glob_match(star, subject))
			abort();
	}
	p = sigstore_identity_policy_new();
	if (p && sigstore_identity_policy_add(p, ISSUER, pattern, err) == 0) {
		if (sigstore_identity_policy_allows(p, ISSUER, subject) != m)
			abort();
		if (sigstore_identity_policy_allows(p, ISSUER "x", subject))
			abort();
	}
out:
	sigstore_identity_policy_free(p);
	free(star);
	free(pattern);
	free(subject);
	return 0;
}
