/*
 * test_sigstore_identity.c - the anchored glob matcher and the issuer -> subject policy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "sigstore/identity.h"

static const struct {
	const char *name;
	const char *pattern;
	const char *s;
	bool match;
} globs[] = {
	{"exact", "https://github.com/org/repo", "https://github.com/org/repo", true},
	{"exact differs", "https://github.com/org/repo", "https://github.com/org/repo2", false},
	{"prefix only is not a match", "https://github.com/org", "https://github.com/org/x", false},
	{"star any run", "https://github.com/org/*", "https://github.com/org/a/b@refs/heads/main",
	 true},
	{"star matches empty", "https://github.com/org/*", "https://github.com/org/", true},
	{"star needs the prefix", "https://github.com/org/*", "https://github.com/orgx/a", false},
	{"unanchored-looking suffix star (the seed's warning)", "https://*.github.com*",
	 "https://x.github.com.attacker.example", true},
	{"anchored form rejects the attacker", "https://*.github.com/*",
	 "https://x.github.com.attacker.example", false},
	{"anchored form accepts", "https://*.github.com/*", "https://x.github.com/a", true},
	{"question one char", "a?c", "abc", true},
	{"question not zero chars", "a?c", "ac", false},
	{"question not two chars", "a?c", "abbc", false},
	{"no classes", "[ab]", "a", false},
	{"brackets literal", "[ab]", "[ab]", true},
	{"no regex dot", "a.c", "abc", false},
	{"backslash literal", "a\\*", "a\\xyz", true},
	{"star only", "*", "", true},
	{"empty pattern empty string", "", "", true},
	{"empty pattern", "", "x", false},
	{"many stars", "*a*b*c*", "xxaxxbxxcxx", true},
	{"many stars fail", "*a*b*c*", "xxaxxcxxbxx", false},
	{"backtracking", "*ab", "aab", true},
	{"trailing text after star", "a*", "a", true},
	{"email", "*@example.com", "alice@example.com", true},
	{"email suffix attack", "*@example.com", "alice@example.com.evil", false},
};

static void test_glob_table(void **state)
{
	for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		bool got = sigstore_glob_match(globs[i].pattern, globs[i].s);

		if (got != globs[i].match)
			fail_msg("%s: glob(%s, %s) = %d", globs[i].name, globs[i].pattern,
				 globs[i].s, got);
	}
}

static void test_glob_pathological(void **state)
{
	char s[4097], p[64];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = 0;
	snprintf(p, sizeof(p), "*a*a*a*a*a*a*a*a*a*b");
	assert_false(sigstore_glob_match(p, s)); /* terminates quickly (no exponential blowup) */
}

static void test_policy(void **state)
{
	struct sigstore_identity_policy *p = sigstore_identity_policy_new();
	char err[256];

	assert_non_null(p);
	assert_false(sigstore_identity_policy_allows(p, "https://accounts.google.com", "a@b"));
	assert_int_equal(sigstore_identity_policy_add(p,
						      "https://token.actions.githubusercontent.com",
						      "https://github.com/org/*", err),
			 0);
	assert_int_equal(sigstore_identity_policy_add(p, "https://github.com/login/oauth",
						      "cody@soyland.com", err),
			 0);
	assert_int_equal(sigstore_identity_policy_add(p, "", "x", err), -EINVAL);
	assert_int_equal(sigstore_identity_policy_add(p, "x", "", err), -EINVAL);
	assert_int_equal(sigstore_identity_policy_count(p), 2);
	assert_true(sigstore_identity_policy_allows(p,
						    "https://token.actions.githubusercontent.com",
						    "https://github.com/org/repo/.github/w.yml@x"));
	/* right subject, wrong issuer */
	assert_false(sigstore_identity_policy_allows(p, "https://github.com/login/oauth",
						     "https://github.com/org/repo"));
	assert_true(sigstore_identity_policy_allows(p, "https://github.com/login/oauth",
						    "cody@soyland.com"));
	assert_false(sigstore_identity_policy_allows(p, "https://github.com/login/oauth",
						     "cody@soyland.com.evil"));
	assert_false(sigstore_identity_policy_allows(p, NULL, "cody@soyland.com"));
	sigstore_identity_policy_free(p);
}

static void test_policy_limits(void **state)
{
	struct sigstore_identity_policy *p = sigstore_identity_policy_new();
	char err[256], big[SIGSTORE_IDENTITY_MAX_PATTERN + 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(sigstore_identity_policy_add(p, "i", big, err), -EINVAL);
	for (int i = 0; i < SIGSTORE_IDENTITY_MAX_RULES; i++)
		assert_int_equal(sigstore_identity_policy_add(p, "i", "s", err), 0);
	assert_int_equal(sigstore_identity_policy_add(p, "i", "s", err), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	sigstore_identity_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_table),
		cmocka_unit_test(test_glob_pathological),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
