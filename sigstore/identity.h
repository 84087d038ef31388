/*
 * identity.h - who may sign: a policy mapping OIDC issuers to signer subject patterns
 * (allowed_identities). Patterns are globs anchored at both ends: '*' matches any run of
 * characters (including none), '?' exactly one; every other character matches itself (no
 * classes, no escapes, no regex). Issuers are compared with the same matcher.
 */
#ifndef SIGSTORE_IDENTITY_H
#define SIGSTORE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define SIGSTORE_IDENTITY_MAX_RULES   256  /* issuer/pattern pairs per policy */
#define SIGSTORE_IDENTITY_MAX_PATTERN 1024 /* bytes of an issuer or pattern */

struct sigstore_identity_policy;

/* True when s matches the anchored glob pattern. */
bool sigstore_glob_match(const char *pattern, const char *s);

/* An empty policy; caller frees with sigstore_identity_policy_free. */
struct sigstore_identity_policy *sigstore_identity_policy_new(void);
void sigstore_identity_policy_free(struct sigstore_identity_policy *p);
/* Allows subjects matching subject_pattern from issuer; -EINVAL (err filled) when invalid. */
int sigstore_identity_policy_add(struct sigstore_identity_policy *p, const char *issuer,
				 const char *subject_pattern, char err[256]);
size_t sigstore_identity_policy_count(const struct sigstore_identity_policy *p);
/* True when some rule matches both issuer and subject. An empty policy allows nothing. */
bool sigstore_identity_policy_allows(const struct sigstore_identity_policy *p, const char *issuer,
				     const char *subject);

#endif
