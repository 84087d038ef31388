/*
 * identity.c - see identity.h.
 */
#include "sigstore/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	char *issuer;
	char *pattern;
};

struct sigstore_identity_policy {
	struct rule rules[SIGSTORE_IDENTITY_MAX_RULES];
	size_t n;
};

/* Iterative glob with single-star backtracking: O(len(pattern) * len(s)) worst case. */
bool sigstore_glob_match(const char *pattern, const char *s)
{
	const char *p = pattern, *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == 0;
}

struct sigstore_identity_policy *sigstore_identity_policy_new(void)
{
	return calloc(1, sizeof(struct sigstore_identity_policy));
}

void sigstore_identity_policy_free(struct sigstore_identity_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->rules[i].issuer);
		free(p->rules[i].pattern);
	}
	free(p);
}

int sigstore_identity_policy_add(struct sigstore_identity_policy *p, const char *issuer,
				 const char *subject_pattern, char err[256])
{
	struct rule r = {0};

	if (!issuer || !*issuer || !subject_pattern || !*subject_pattern) {
		snprintf(err, 256, "allowed_identities: empty issuer or subject pattern");
		return -EINVAL;
	}
	if (strlen(issuer) > SIGSTORE_IDENTITY_MAX_PATTERN ||
	    strlen(subject_pattern) > SIGSTORE_IDENTITY_MAX_PATTERN) {
		snprintf(err, 256, "allowed_identities: issuer or pattern longer than %d bytes",
			 SIGSTORE_IDENTITY_MAX_PATTERN);
		return -EINVAL;
	}
	if (p->n >= SIGSTORE_IDENTITY_MAX_RULES) {
		snprintf(err, 256, "allowed_identities: more than %d patterns",
			 SIGSTORE_IDENTITY_MAX_RULES);
		return -EINVAL;
	}
	r.issuer = strdup(issuer);
	r.pattern = strdup(subject_pattern);
	if (!r.issuer || !r.pattern) {
		free(r.issuer);
		free(r.pattern);
		return -ENOMEM;
	}
	p->rules[p->n++] = r;
	return 0;
}

size_t sigstore_identity_policy_count(const struct sigstore_identity_policy *p)
{
	return p->n;
}

bool sigstore_identity_policy_allows(const struct sigstore_identity_policy *p, const char *issuer,
				     const char *subject)
{
	if (!issuer || !subject)
		return false;
	for (size_t i = 0; i < p->n; i++)
		if (sigstore_glob_match(p->rules[i].issuer, issuer) &&
		    sigstore_glob_match(p->rules[i].pattern, subject))
			return true;
	return false;
}
