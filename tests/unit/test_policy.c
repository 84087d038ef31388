// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_policy.c - SPIFFE ID validation, template rendering, policy_new errors, entry and
 * template matching.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "attest/policy.h"

#define A50  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A250 A50 A50 A50 A50 A50

static char *repeat(const char *prefix, char c, size_t total)
{
	char *s = malloc(total + 1);
	size_t n = strlen(prefix);

	assert_non_null(s);
	memcpy(s, prefix, n);
	memset(s + n, c, total - n);
	s[total] = '\0';
	return s;
}

/* ---- SPIFFE IDs ------------------------------------------------------------------------ */

struct id_case {
	const char *name;
	const char *id;
	int rc;
	size_t td_len;	    /* rc == 0 */
	const char *expect; /* rc < 0: substring of err */
};

static const struct id_case id_cases[] = {
	/* the SPIFFE-ID standard's examples */
	{"std: path", "spiffe://trust-domain-name/path", 0, 17, NULL},
	{"std: staging", "spiffe://staging.example.com/payments/mysql", 0, 19, NULL},
	{"std: k8s", "spiffe://k8s-west.example.com/ns/staging/sa/default", 0, 20, NULL},
	{"std: uuid", "spiffe://example.com/9eebccd2-12bf-40a6-b262-65fe0487d453", 0, 11, NULL},
	{"no path", "spiffe://example.org", 0, 11, NULL},
	{"segment charset", "spiffe://example.org/Ab_C-1.2/x.y", 0, 11, NULL},
	{"td charset", "spiffe://a-b_c.9/x", 0, 7, NULL},
	{"dots inside segment", "spiffe://example.org/.../a..b/.x", 0, 11, NULL},
	/* scheme */
	{"empty", "", -EINVAL, 0, "empty SPIFFE ID"},
	{"http", "http://example.org/x", -EINVAL, 0, "does not start with \"spiffe://\""},
	{"uppercase scheme", "SPIFFE://example.org/x", -EINVAL, 0, "must be lowercase"},
	{"no slashes", "spiffe:example.org/x", -EINVAL, 0, "does not start with"},
	{"one slash", "spiffe:/example.org/x", -EINVAL, 0, "does not start with"},
	/* trust domain */
	{"empty td", "spiffe://", -EINVAL, 0, "the trust domain is empty"},
	{"empty td with path", "spiffe:///path", -EINVAL, 0, "the trust domain is empty"},
	{"uppercase td", "spiffe://Example.org/x", -EINVAL, 0, "uppercase letter 'E'"},
	{"port", "spiffe://example.org:8080/x", -EINVAL, 0, "a port is not allowed"},
	{"userinfo", "spiffe://user@example.org/x", -EINVAL, 0, "userinfo"},
	{"td percent", "spiffe://exa%41mple.org/x", -EINVAL, 0, "percent-encoding"},
	{"td space", "spiffe://ex ample.org", -EINVAL, 0, "invalid character ' ' in the trust"},
	{"td query", "spiffe://example.org?x=1", -EINVAL, 0, "a query"},
	{"td fragment", "spiffe://example.org#f", -EINVAL, 0, "a fragment"},
	{"td utf8", "spiffe://\xc3\xa9xample.org", -EINVAL, 0, "byte 0xc3"},
	{"td 256", "spiffe://" A250 "aaaaaa/x", -EINVAL, 0, "longer than 255 bytes"},
	/* path */
	{"trailing slash", "spiffe://example.org/", -EINVAL, 0, "a trailing \"/\" is not allowed"},
	{"trailing slash 2", "spiffe://example.org/a/", -EINVAL, 0, "trailing"},
	{"empty segment", "spiffe://example.org//a", -EINVAL, 0, "path segment 1 is empty"},
	{"empty segment 2", "spiffe://example.org/a//b", -EINVAL, 0, "path segment 2 is empty"},
	{"dot", "spiffe://example.org/a/./b", -EINVAL, 0, "path segment 2 is \".\""},
	{"dotdot", "spiffe://example.org/..", -EINVAL, 0, "path segment 1 is \"..\""},
	{"percent", "spiffe://example.org/a%20b", -EINVAL, 0, "percent-encoding"},
	{"query", "spiffe://example.org/a?b=c", -EINVAL, 0, "a query"},
	{"fragment", "spiffe://example.org/a#b", -EINVAL, 0, "a fragment"},
	{"space", "spiffe://example.org/a b", -EINVAL, 0,
	 "invalid character ' ' in path segment 1"},
	{"colon", "spiffe://example.org/a/b:c", -EINVAL, 0,
	 "invalid character ':' in path segment 2"},
	{"tilde", "spiffe://example.org/~a", -EINVAL, 0, "invalid character '~'"},
	{"utf8 path", "spiffe://example.org/caf\xc3\xa9", -EINVAL, 0, "byte 0xc3"},
	{"backslash", "spiffe://example.org/a\\b", -EINVAL, 0, "invalid character '\\'"},
};

static void test_spiffe_id_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++) {
		const struct id_case *t = &id_cases[i];
		char err[POLICY_ERR_MAX];
		size_t td_len = 999;
		int rc = spiffe_id_validate(t->id, &td_len, err);

		if (rc != t->rc) {
			print_error("%s: rc %d, want %d (%s)\n", t->name, rc, t->rc, err);
			failures++;
		} else if (rc == 0 && (td_len != t->td_len || err[0])) {
			print_error("%s: td_len %zu, want %zu\n", t->name, td_len, t->td_len);
			failures++;
		} else if (rc < 0 && !strstr(err, t->expect)) {
			print_error("%s: err \"%s\" lacks \"%s\"\n", t->name, err, t->expect);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_spiffe_id_lengths(void **state)
{
	char err[POLICY_ERR_MAX];
	char *id = repeat("spiffe://example.org/", 'a', SPIFFE_ID_MAX);
	char td[300];
	size_t td_len;

	assert_int_equal(spiffe_id_validate(id, &td_len, err), 0);
	free(id);
	id = repeat("spiffe://example.org/", 'a', SPIFFE_ID_MAX + 1);
	assert_int_equal(spiffe_id_validate(id, &td_len, err), -EINVAL);
	assert_string_equal(err, "longer than 2048 bytes");
	free(id);
	assert_int_equal(spiffe_id_validate(NULL, NULL, err), -EINVAL);

	snprintf(td, sizeof(td), "spiffe://%s%s/x", A250, "aaaaa"); /* 255 */
	assert_int_equal(spiffe_id_validate(td, &td_len, err), 0);
	assert_int_equal(td_len, 255);
	assert_int_equal(spiffe_trust_domain_validate(A250 "aaaaa", err), 0);
	assert_int_equal(spiffe_trust_domain_validate(A250 "aaaaaa", err), -EINVAL);
}

struct td_case {
	const char *td;
	int rc;
	const char *expect;
};

static const struct td_case td_cases[] = {
	{"example.org", 0, NULL},
	{"a", 0, NULL},
	{"k8s-west.example_1.com", 0, NULL},
	{"", -EINVAL, "the trust domain is empty"},
	{"spiffe://example.org", -EINVAL, "without \"spiffe://\""},
	{"Example.org", -EINVAL, "uppercase letter 'E'"},
	{"example.org/x", -EINVAL, "invalid character '/'"},
	{"example.org:443", -EINVAL, "a port"},
	{"a@b", -EINVAL, "userinfo"},
	{"a%2e", -EINVAL, "percent-encoding"},
};

static void test_trust_domain_table(void **state)
{
	for (size_t i = 0; i < sizeof(td_cases) / sizeof(td_cases[0]); i++) {
		char err[POLICY_ERR_MAX];
		int rc = spiffe_trust_domain_validate(td_cases[i].td, err);

		if (rc != td_cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", td_cases[i].td, rc, td_cases[i].rc,
				 err);
		if (rc < 0 && !strstr(err, td_cases[i].expect))
			fail_msg("\"%s\": err \"%s\" lacks \"%s\"", td_cases[i].td, err,
				 td_cases[i].expect);
	}
	assert_int_equal(spiffe_trust_domain_validate(NULL, (char[POLICY_ERR_MAX]){0}), -EINVAL);
}

/* ---- rendering ------------------------------------------------------------------------- */

/* "name=value" pairs; a name may repeat (several values). */
static struct attr_set *make_attrs(const char *const *kv)
{
	struct attr_set *s;

	assert_int_equal(attr_set_new(&s), 0);
	for (; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		char name[ATTR_NAME_MAX];

		assert_non_null(eq);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - *kv), *kv);
		assert_int_equal(attr_set_add(s, name, eq + 1), 0);
	}
	return s;
}

static const char *const render_attrs[] = {
	"unix.uid=1000",
	"unix.user=alice",
	"kubernetes.pod.namespace=prod",
	"kubernetes.pod.service_account=web-sa",
	"kubernetes.pod.label[app.kubernetes.io/name]=web",
	"kubernetes.pod.label[team-x]=payments",
	"kubernetes.pod.label[a b]=spaced",
	"unix.supplementary_gid=10",
	"unix.supplementary_gid=20",
	"odd=a/b",
	NULL,
};

struct render_case {
	const char *name;
	const char *tmpl;
	int rc;
	const char *expect; /* rc == 0: the output; else a substring of err */
};

static const struct render_case render_cases[] = {
	{"literal", "spiffe://example.org/x", 0, "spiffe://example.org/x"},
	{"empty", "", 0, ""},
	{"one ref", "spiffe://example.org/uid/{{unix.uid}}", 0, "spiffe://example.org/uid/1000"},
	{"spaces", "{{ unix.uid }}-{{unix.user   }}-{{  unix.uid}}", 0, "1000-alice-1000"},
	{"k8s",
	 "spiffe://example.org/ns/{{kubernetes.pod.namespace}}/sa/"
	 "{{kubernetes.pod.service_account}}",
	 0, "spiffe://example.org/ns/prod/sa/web-sa"},
	{"label key with / and .", "{{kubernetes.pod.label[app.kubernetes.io/name]}}", 0, "web"},
	{"label key with -", "team={{ kubernetes.pod.label[team-x] }}", 0, "team=payments"},
	{"label key with space", "{{kubernetes.pod.label[a b]}}", 0, "spaced"},
	{"adjacent", "{{unix.uid}}{{unix.user}}", 0, "1000alice"},
	{"single braces are literal", "{a}-}}-{x", 0, "{a}-}}-{x"},
	{"value with / (no checks in policy_render)", "{{odd}}", 0, "a/b"},
	{"missing", "spiffe://example.org/ns/{{kubernetes.pod.namespace2}}", -ENOENT,
	 "attribute kubernetes.pod.namespace2 is missing"},
	{"missing label", "{{kubernetes.pod.label[nope]}}", -ENOENT,
	 "attribute kubernetes.pod.label[nope] is missing"},
	{"multi-valued", "{{unix.supplementary_gid}}", -E2BIG,
	 "attribute unix.supplementary_gid has 2 values (a template needs exactly one)"},
	{"unclosed", "spiffe://example.org/{{unix.uid", -EINVAL, "offset 21: unclosed \"{{\""},
	{"unclosed one brace", "{{unix.uid}", -EINVAL, "offset 0: unclosed \"{{\""},
	{"unclosed after space", "a{{ unix.uid ", -EINVAL, "offset 1: unclosed \"{{\""},
	{"unclosed empty", "{{", -EINVAL, "unclosed"},
	{"unclosed bracket", "{{kubernetes.pod.label[app}}", -EINVAL, "unclosed \"[\""},
	{"empty ref", "x{{}}", -EINVAL, "offset 1: empty reference"},
	{"empty ref spaces", "{{  }}", -EINVAL, "offset 0: empty reference"},
	{"empty key", "{{kubernetes.pod.label[]}}", -EINVAL, "empty key"},
	{"trailing dot", "{{unix.}}", -EINVAL, "bad attribute name"},
	{"double dot", "{{unix..uid}}", -EINVAL, "bad attribute name"},
	{"leading dot", "{{.uid}}", -EINVAL, "bad attribute name"},
	{"space inside name", "{{unix .uid}}", -EINVAL, "unexpected '.'"},
	{"triple brace", "{{{unix.uid}}}", -EINVAL, "bad attribute name: '{'"},
	{"pipe", "{{unix.uid | upper}}", -EINVAL, "unexpected '|'"},
	{"after key", "{{kubernetes.pod.label[a]x}}", -EINVAL, "unexpected 'x'"},
	{"nested bracket", "{{a[b[c]]}}", -EINVAL, "'[' not allowed in a [key]"},
	{"control in key", "{{a[b\tc]}}", -EINVAL, "byte 0x09 not allowed"},
};

static void test_render_table(void **state)
{
	struct attr_set *attrs = make_attrs(render_attrs);
	int failures = 0;

	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *t = &render_cases[i];
		char out[256], err[POLICY_ERR_MAX], cerr[POLICY_ERR_MAX];
		int crc = policy_template_check(t->tmpl, cerr);
		int rc = policy_render(t->tmpl, attrs, out, sizeof(out), err);
		if (rc != t->rc) {
			print_error("%s: rc %d, want %d (%s)\n", t->name, rc, t->rc, err);
			failures++;
		} else if (rc == 0 && strcmp(out, t->expect) != 0) {
			print_error("%s: rendered \"%s\", want \"%s\"\n", t->name, out, t->expect);
			failures++;
		} else if (rc < 0 && !strstr(err, t->expect)) {
			print_error("%s: err \"%s\" lacks \"%s\"\n", t->name, err, t->expect);
			failures++;
		}
		/* parse errors are exactly what policy_template_check reports */
		if ((crc == -EINVAL) != (t->rc == -EINVAL)) {
			print_error("%s: policy_template_check rc %d\n", t->name, crc);
			failures++;
		}
	}
	attr_set_free(attrs);
	assert_int_equal(failures, 0);
}

static void test_render_limits(void **state)
{
	struct attr_set *attrs = make_attrs(render_attrs);
	char out[8], err[POLICY_ERR_MAX];
	char *big;

	assert_int_equal(policy_render("{{unix.user}}", attrs, out, 6, err), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(policy_render("{{unix.user}}", attrs, out, 5, err), -E2BIG);
	assert_string_equal(err, "rendered value longer than 4 bytes");
	assert_int_equal(policy_render("abcdefgh", attrs, out, sizeof(out), err), -E2BIG);
	assert_int_equal(policy_render("x", attrs, out, 0, err), -E2BIG);
	assert_int_equal(policy_render("{{unix.uid}}", NULL, out, sizeof(out), err), -ENOENT);

	big = repeat("", 'a', POLICY_TEMPLATE_MAX);
	assert_int_equal(policy_template_check(big, err), 0);
	free(big);
	big = repeat("", 'a', POLICY_TEMPLATE_MAX + 1);
	assert_int_equal(policy_template_check(big, err), -EINVAL);
	assert_non_null(strstr(err, "template longer than 4096 bytes"));
	free(big);
	big = repeat("{{", 'a', ATTR_NAME_MAX + 4); /* a name of ATTR_NAME_MAX bytes */
	memcpy(big + ATTR_NAME_MAX + 2, "}}", 3);
	assert_int_equal(policy_template_check(big, err), -EINVAL);
	assert_non_null(strstr(err, "attribute name longer than 511 bytes"));
	memcpy(big + ATTR_NAME_MAX + 1, "}}", 3); /* ATTR_NAME_MAX - 1 bytes: fine */
	assert_int_equal(policy_template_check(big, err), 0);
	free(big);
	attr_set_free(attrs);
}

/* ---- policy_new ------------------------------------------------------------------------ */

/* A string list and its count: the count initializes the struct's next member (nselectors
 * after selectors, ndns_names after dns_names, ...). */
#define SV(...) (char *[]){__VA_ARGS__}, sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)

struct new_case {
	const char *name;
	struct policy_entry e;	  /* used when e.spiffe_id or e.nselectors is set */
	struct policy_template t; /* used when t.spiffe_id is set (or use_t) */
	int use_t;
	const char *expect; /* NULL: valid; else the exact error */
};

static void test_policy_new_table(void **state)
{
	const struct new_case cases[] = {
		{"valid entry",
		 {.spiffe_id = "spiffe://example.org/web",
		  .selectors = SV("unix:uid:1000", "k8s:pod-label:app:web"),
		  .dns_names = SV("web.example.org", "*.web.example.org"),
		  .hint = "web"},
		 {0},
		 0,
		 NULL},
		{"valid template",
		 {0},
		 {.spiffe_id = "spiffe://example.org/ns/{{kubernetes.pod.namespace}}/sa/"
			       "{{ kubernetes.pod.service_account }}",
		  .when = SV("k8s:ns:prod"),
		  .dns_names = SV("{{unix.user}}.example.org", "{{a}}-{{b}}.svc"),
		  .hint = "{{unix.user}}",
		  .x509_subject = {.common_name = "{{unix.user}}",
				   .organization = SV("Example {{x}}"),
				   .country = SV("US", "{{c}}")},
		  .jwt_claims = (struct policy_claim[]){{"team", "{{kubernetes.pod.label[team]}}"},
							{"https://example.org/x", "v"}},
		  .njwt_claims = 2},
		 1,
		 NULL},
		{"valid template, literal id", {0}, {.spiffe_id = "spiffe://example.org"}, 1, NULL},
		{"entry id missing",
		 {.selectors = SV("a:b:c")},
		 {0},
		 0,
		 "entries[0].spiffe_id: missing"},
		{"entry id invalid",
		 {.spiffe_id = "spiffe://example.org/a//b", .selectors = SV("a:b:c")},
		 {0},
		 0,
		 "entries[0].spiffe_id: \"spiffe://example.org/a//b\": path segment 2 is empty"},
		{"entry other td",
		 {.spiffe_id = "spiffe://other.org/a", .selectors = SV("a:b:c")},
		 {0},
		 0,
		 "entries[0].spiffe_id: \"spiffe://other.org/a\": not in the trust domain "
		 "example.org"},
		{"entry td prefix",
		 {.spiffe_id = "spiffe://example.org.evil/a", .selectors = SV("a:b:c")},
		 {0},
		 0,
		 "not in the trust domain example.org"},
		{"entry no selectors",
		 {.spiffe_id = "spiffe://example.org/a"},
		 {0},
		 0,
		 "entries[0].selectors: at least one selector is required (a template without "
		 "`when` matches every workload)"},
		{"entry bad selector",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("unix:uid:1", "unix:1000")},
		 {0},
		 0,
		 "entries[0].selectors[1]: \"unix:1000\": not a selector (want type:key:value)"},
		{"selector empty value",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("unix:uid:")},
		 {0},
		 0,
		 "entries[0].selectors[0]: \"unix:uid:\": not a selector"},
		{"selector empty key",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("unix::1")},
		 {0},
		 0,
		 "not a selector (want type:key:value)"},
		{"selector uppercase type",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("Unix:uid:1")},
		 {0},
		 0,
		 "entries[0].selectors[0]: \"Unix:uid:1\": not a selector (the type before ':' "
		 "must "
		 "be lowercase"},
		{"selector control char",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("unix:uid:1\n")},
		 {0},
		 0,
		 "entries[0].selectors[0]: control character (byte 0x0a) at byte 11"},
		{"entry bad dns",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("a:b:c"),
		  .dns_names = SV("ok.example", "bad_name.example")},
		 {0},
		 0,
		 "entries[0].dns_names[1]: invalid character '_' in DNS label 1"},
		{"entry dns hyphen",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("a:b:c"),
		  .dns_names = SV("-a.example")},
		 {0},
		 0,
		 "entries[0].dns_names[0]: DNS label 1 starts or ends with '-'"},
		{"entry dns trailing dot",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("a:b:c"),
		  .dns_names = SV("a.example.")},
		 {0},
		 0,
		 "DNS name has an empty label (label 3)"},
		{"entry dns wildcard alone",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("a:b:c"),
		  .dns_names = SV("*")},
		 {0},
		 0,
		 "a wildcard \"*\" needs a domain"},
		{"entry dns wildcard inside",
		 {.spiffe_id = "spiffe://example.org/a",
		  .selectors = SV("a:b:c"),
		  .dns_names = SV("a.*.example")},
		 {0},
		 0,
		 "invalid character '*' in DNS label 2"},
		{"entry hint control",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("a:b:c"), .hint = "a\tb"},
		 {0},
		 0,
		 "entries[0].hint: control character (byte 0x09) at byte 2"},
		{"entry hint utf8",
		 {.spiffe_id = "spiffe://example.org/a", .selectors = SV("a:b:c"), .hint = "a\xc3"},
		 {0},
		 0,
		 "entries[0].hint: invalid UTF-8 at byte 2"},
		{"template id missing", {0}, {.nwhen = 0}, 1, "templates[0].spiffe_id: missing"},
		{"template unclosed",
		 {0},
		 {.spiffe_id = "spiffe://example.org/{{unix.uid"},
		 1,
		 "templates[0].spiffe_id: offset 21: unclosed \"{{\""},
		{"template ref in td",
		 {0},
		 {.spiffe_id = "spiffe://{{td}}/x"},
		 1,
		 "templates[0].spiffe_id: \"spiffe://x/x\": not in the trust domain example.org"},
		{"template ref in td, same skeleton",
		 {0},
		 {.spiffe_id = "spiffe://exampl{{e}}.org/x"},
		 1,
		 "not in the trust domain"},
		{"template empty segment",
		 {0},
		 {.spiffe_id = "spiffe://example.org//{{unix.uid}}"},
		 1,
		 "templates[0].spiffe_id: \"spiffe://example.org//x\": path segment 1 is empty"},
		{"template trailing slash",
		 {0},
		 {.spiffe_id = "spiffe://example.org/{{unix.uid}}/"},
		 1,
		 "a trailing \"/\" is not allowed"},
		{"template bad literal char",
		 {0},
		 {.spiffe_id = "spiffe://example.org/a b/{{unix.uid}}"},
		 1,
		 "invalid character ' ' in path segment 1"},
		{"template other td",
		 {0},
		 {.spiffe_id = "spiffe://other.org/{{unix.uid}}"},
		 1,
		 "not in the trust domain example.org"},
		{"template when",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x", .when = SV("k8s:ns:prod", "prod")},
		 1,
		 "templates[0].when[1]: \"prod\": not a selector (want type:key:value)"},
		{"template dns literal",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x", .dns_names = SV("{{a}}.exa_mple.org")},
		 1,
		 "templates[0].dns_names[0]: invalid character '_' in DNS label 2"},
		{"template dns unclosed",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x", .dns_names = SV("{{a.example.org")},
		 1,
		 "templates[0].dns_names[0]: offset 0: unclosed"},
		{"template hint unclosed",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x", .hint = "{{a"},
		 1,
		 "templates[0].hint: offset 0: unclosed"},
		{"template cn too long",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .x509_subject = {.common_name = A50 "aaaaaaaaaaaaaaa{{x}}"}},
		 1,
		 "templates[0].x509_subject.common_name: longer than 64 bytes"},
		{"template country",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x", .x509_subject = {.country = SV("USA")}},
		 1,
		 "templates[0].x509_subject.country[0]: \"USA\": not a two-letter country code"},
		{"template org bad ref",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .x509_subject = {.organization = SV("a", "{{}}")}},
		 1,
		 "templates[0].x509_subject.organization[1]: offset 0: empty reference"},
		{"reserved claim",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .jwt_claims = (struct policy_claim[]){{"team", "a"}, {"aud", "x"}},
		  .njwt_claims = 2},
		 1,
		 "templates[0].jwt_claims[1]: claim \"aud\" is set by attestd and cannot be "
		 "templated"},
		{"reserved claim sub",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .jwt_claims = (struct policy_claim[]){{"sub", "a"}},
		  .njwt_claims = 1},
		 1,
		 "claim \"sub\" is set by attestd"},
		{"claim name chars",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .jwt_claims = (struct policy_claim[]){{"a b", "a"}},
		  .njwt_claims = 1},
		 1,
		 "templates[0].jwt_claims[0]: invalid character ' ' in the claim name"},
		{"claim duplicate",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .jwt_claims = (struct policy_claim[]){{"t", "a"}, {"t", "b"}},
		  .njwt_claims = 2},
		 1,
		 "templates[0].jwt_claims.t: duplicate claim"},
		{"claim value unclosed",
		 {0},
		 {.spiffe_id = "spiffe://example.org/x",
		  .jwt_claims = (struct policy_claim[]){{"team", "{{x"}},
		  .njwt_claims = 1},
		 1,
		 "templates[0].jwt_claims.team: offset 0: unclosed"},
	};
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct new_case *c = &cases[i];
		struct policy_entry e = c->e;
		struct policy_template t = c->t;
		struct policy *p = (struct policy *)&failures; /* must not be written on error */
		char err[POLICY_ERR_MAX];
		int rc;

		rc = policy_new("example.org", c->use_t ? NULL : &e, c->use_t ? 0 : 1,
				c->use_t ? &t : NULL, c->use_t ? 1 : 0, &p, err);
		if (!c->expect && rc != 0) {
			print_error("%s: rc %d (%s)\n", c->name, rc, err);
			failures++;
		} else if (c->expect && (rc != -EINVAL || !strstr(err, c->expect))) {
			print_error("%s: rc %d, err \"%s\", want \"%s\"\n", c->name, rc, err,
				    c->expect);
			failures++;
		} else if (c->expect && p != (struct policy *)&failures) {
			print_error("%s: *out written on error\n", c->name);
			failures++;
		}
		if (rc == 0)
			policy_free(p);
	}
	assert_int_equal(failures, 0);
}

static void test_policy_new_misc(void **state)
{
	struct policy_entry e = {.spiffe_id = "spiffe://example.org/a",
				 .selectors = (char *[]){"a:b:c"},
				 .nselectors = 1};
	struct policy *p = NULL;
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_new("Example.org", &e, 1, NULL, 0, &p, err), -EINVAL);
	assert_string_equal(err, "trust_domain: uppercase letter 'E' in the trust domain (trust "
				 "domains are lowercase)");
	assert_int_equal(policy_new("", NULL, 0, NULL, 0, &p, err), -EINVAL);
	assert_int_equal(policy_new("example.org", &e, POLICY_MAX_ENTRIES + 1, NULL, 0, &p, err),
			 -EINVAL);
	assert_string_equal(err, "entries: more than 65536");
	e.nselectors = POLICY_MAX_SELECTORS + 1;
	assert_int_equal(policy_new("example.org", &e, 1, NULL, 0, &p, err), -EINVAL);
	assert_string_equal(err, "entries[0].selectors: more than 64 items");
	/* an empty policy is valid and matches nothing */
	assert_int_equal(policy_new("example.org", NULL, 0, NULL, 0, &p, err), 0);
	policy_free(p);
	policy_free(NULL);
	policy_entry_clear(NULL);
	policy_template_clear(NULL);
}

/* ---- matching -------------------------------------------------------------------------- */

struct match_case {
	const char *name;
	const char *const *attrs; /* "name=value" */
	const char *ids;	  /* "src=id" joined by " " ("" = none), in order */
	const char *errors;	  /* errors joined by "|" ("" = none) */
};

static void describe(const struct policy_match *m, char *ids, size_t ids_len, char *errs,
		     size_t errs_len)
{
	size_t o = 0;

	ids[0] = errs[0] = '\0';
	for (size_t i = 0; i < m->nids; i++)
		o += (size_t)snprintf(ids + o, ids_len - o, "%s%s=%s", i ? " " : "",
				      m->ids[i].source, m->ids[i].spiffe_id);
	o = 0;
	for (size_t i = 0; i < m->nerrors; i++)
		o += (size_t)snprintf(errs + o, errs_len - o, "%s%s", i ? "|" : "", m->errors[i]);
}

static struct policy *match_policy(void)
{
	struct policy_entry entries[] = {
		{.spiffe_id = "spiffe://example.org/web",
		 .selectors = (char *[]){"unix:uid:1000", "unix:user:alice"},
		 .nselectors = 2,
		 .dns_names = (char *[]){"web.example.org"},
		 .ndns_names = 1,
		 .hint = "web",
		 .x509_ttl_s = 600},
		{.spiffe_id = "spiffe://example.org/uid1000",
		 .selectors = (char *[]){"unix:uid:1000"},
		 .nselectors = 1},
		{.spiffe_id = "spiffe://example.org/bob",
		 .selectors = (char *[]){"unix:uid:1001"},
		 .nselectors = 1},
		{.spiffe_id = "spiffe://example.org/web", /* duplicate ID, other selectors */
		 .selectors = (char *[]){"unix:gid:50"},
		 .nselectors = 1},
		{.spiffe_id = "spiffe://example.org/staff",
		 .selectors = (char *[]){"unix:supplementary_gid:20"},
		 .nselectors = 1},
	};
	struct policy_template templates[] = {
		{.spiffe_id = "spiffe://example.org/ns/{{kubernetes.pod.namespace}}",
		 .when = (char *[]){"unix:user:alice"},
		 .nwhen = 1},
		{.spiffe_id = "spiffe://example.org/uid/{{unix.uid}}"},
		{.spiffe_id = "spiffe://example.org/uid1000", /* duplicate of entries[1] */
		 .when = (char *[]){"unix:uid:1000"},
		 .nwhen = 1},
		{.spiffe_id = "spiffe://example.org/user/{{unix.user}}",
		 .when = (char *[]){"unix:gid:50", "unix:uid:1002"},
		 .nwhen = 2},
	};
	struct policy *p = NULL;
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_new("example.org", entries, 5, templates, 4, &p, err), 0);
	return p;
}

static void test_match_table(void **state)
{
	const struct match_case cases[] = {
		{"nothing but the catch-all template", (const char *const[]){"unix.uid=7", NULL},
		 "templates[1]=spiffe://example.org/uid/7", ""},
		{"no attributes at all", (const char *const[]){NULL}, "",
		 "templates[1]: spiffe_id: attribute unix.uid is missing"},
		{"AND: both selectors, entries first, duplicates dropped",
		 (const char *const[]){"unix.uid=1000", "unix.user=alice",
				       "kubernetes.pod.namespace=prod", NULL},
		 "entries[0]=spiffe://example.org/web entries[1]=spiffe://example.org/uid1000 "
		 "templates[0]=spiffe://example.org/ns/prod "
		 "templates[1]=spiffe://example.org/uid/1000",
		 ""},
		{"AND: one selector missing",
		 (const char *const[]){"unix.uid=1000", "unix.user=bob", NULL},
		 "entries[1]=spiffe://example.org/uid1000 "
		 "templates[1]=spiffe://example.org/uid/1000",
		 ""},
		{"OR: other entry", (const char *const[]){"unix.uid=1001", NULL},
		 "entries[2]=spiffe://example.org/bob templates[1]=spiffe://example.org/uid/1001",
		 ""},
		{"template with missing attribute yields an error, not an id",
		 (const char *const[]){"unix.uid=1000", "unix.user=alice", NULL},
		 "entries[0]=spiffe://example.org/web entries[1]=spiffe://example.org/uid1000 "
		 "templates[1]=spiffe://example.org/uid/1000",
		 "templates[0]: spiffe_id: attribute kubernetes.pod.namespace is missing"},
		{"duplicate entry id matched by its second entry",
		 (const char *const[]){"unix.uid=1003", "unix.gid=50", NULL},
		 "entries[3]=spiffe://example.org/web templates[1]=spiffe://example.org/uid/1003",
		 ""},
		{"multi-valued attribute as selector",
		 (const char *const[]){"unix.uid=5", "unix.supplementary_gid=10",
				       "unix.supplementary_gid=20", NULL},
		 "entries[4]=spiffe://example.org/staff templates[1]=spiffe://example.org/uid/5",
		 ""},
		{"multi-valued attribute in template",
		 (const char *const[]){"unix.uid=1000", "unix.uid=1001", NULL},
		 "entries[1]=spiffe://example.org/uid1000 entries[2]=spiffe://example.org/bob",
		 "templates[1]: spiffe_id: attribute unix.uid has 2 values (a template needs "
		 "exactly "
		 "one)"},
		{"value with / is refused", (const char *const[]){"unix.uid=1/2", NULL}, "",
		 "templates[1]: spiffe_id: attribute unix.uid: value \"1/2\" contains '/' (a value "
		 "must stay within one path segment)"},
		{"value .. is refused", (const char *const[]){"unix.uid=..", NULL}, "",
		 "templates[1]: spiffe_id: \"spiffe://example.org/uid/..\": path segment 2 is "
		 "\"..\""},
		{"value with space is refused", (const char *const[]){"unix.uid=a b", NULL}, "",
		 "templates[1]: spiffe_id: attribute unix.uid: value \"a b\" contains ' ', not "
		 "allowed "
		 "in a SPIFFE ID path"},
		{"value with percent is refused", (const char *const[]){"unix.uid=%2F", NULL}, "",
		 "contains '%'"},
		{"when ANDed: two selectors, two errors",
		 (const char *const[]){"unix.gid=50", "unix.uid=1002", "unix.user=x/y", NULL},
		 "entries[3]=spiffe://example.org/web templates[1]=spiffe://example.org/uid/1002",
		 "templates[3]: spiffe_id: attribute unix.user: value \"x/y\" contains '/'"},
		{"when ANDed: template rendered",
		 (const char *const[]){"unix.gid=50", "unix.uid=1002", "unix.user=Carol_1", NULL},
		 "entries[3]=spiffe://example.org/web templates[1]=spiffe://example.org/uid/1002 "
		 "templates[3]=spiffe://example.org/user/Carol_1",
		 ""},
	};
	struct policy *p = match_policy();
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		struct attr_set *attrs = make_attrs(c->attrs);
		struct selectors sel = {0};
		struct policy_match m;
		char ids[1024], errs[1024];

		assert_int_equal(attr_set_selectors(attrs, &sel), 0);
		assert_int_equal(policy_match(p, attrs, &sel, &m), 0);
		describe(&m, ids, sizeof(ids), errs, sizeof(errs));
		if (strcmp(ids, c->ids) != 0) {
			print_error("%s: ids \"%s\", want \"%s\"\n", c->name, ids, c->ids);
			failures++;
		}
		if (c->errors[0] ? !strstr(errs, c->errors) : errs[0] != '\0') {
			print_error("%s: errors \"%s\", want \"%s\"\n", c->name, errs, c->errors);
			failures++;
		}
		policy_match_free(&m);
		selectors_free(&sel);
		attr_set_free(attrs);
	}
	policy_free(p);
	assert_int_equal(failures, 0);
}

static void test_match_fields(void **state)
{
	struct policy_entry e = {.spiffe_id = "spiffe://example.org/web",
				 .selectors = (char *[]){"unix:uid:1000"},
				 .nselectors = 1,
				 .dns_names = (char *[]){"web.example.org", "*.web.example.org"},
				 .ndns_names = 2,
				 .hint = "web",
				 .x509_ttl_s = 600};
	struct policy_template t[] = {
		{.spiffe_id = "spiffe://example.org/app/{{kubernetes.pod.label[app.kubernetes.io/"
			      "name]}}",
		 .x509_ttl_s = 1800,
		 .dns_names =
			 (char *[]){"{{kubernetes.pod.name}}.{{ kubernetes.pod.namespace }}.svc"},
		 .ndns_names = 1,
		 .hint = "{{kubernetes.pod.label[app.kubernetes.io/name]}} in "
			 "{{kubernetes.pod.namespace}}",
		 .x509_subject = {.common_name = "{{unix.user}}",
				  .organization =
					  (char *[]){"Example",
						     "Team {{kubernetes.pod.label[team-x]}}"},
				  .norganization = 2,
				  .organizational_unit = (char *[]){"{{kubernetes.pod.namespace}}"},
				  .norganizational_unit = 1,
				  .country = (char *[]){"{{country}}"},
				  .ncountry = 1,
				  .province = (char *[]){"Bavaria"},
				  .nprovince = 1,
				  .locality = (char *[]){"M\xc3\xbcnchen"},
				  .nlocality = 1},
		 .jwt_claims = (struct policy_claim[]){{"team", "{{kubernetes.pod.label[team-x]}}"},
						       {"ns", "{{kubernetes.pod.namespace}}"}},
		 .njwt_claims = 2},
		{.spiffe_id = "spiffe://example.org/dns/{{unix.uid}}",
		 .dns_names = (char *[]){"{{unix.user}}.example.org"},
		 .ndns_names = 1},
		{.spiffe_id = "spiffe://example.org/c/{{unix.uid}}",
		 .x509_subject = {.country = (char *[]){"{{unix.user}}"}, .ncountry = 1}},
		{.spiffe_id = "spiffe://example.org/cn/{{unix.uid}}",
		 .x509_subject = {.common_name = "{{long}}"}},
		{.spiffe_id = "spiffe://example.org/claim/{{unix.uid}}",
		 .jwt_claims = (struct policy_claim[]){{"x", "{{missing}}"}},
		 .njwt_claims = 1},
	};
	static const char *const kv[] = {
		"unix.uid=1000",
		"unix.user=al_ice",
		"kubernetes.pod.name=web-7d9.abc",
		"kubernetes.pod.namespace=prod",
		"kubernetes.pod.label[app.kubernetes.io/name]=web",
		"kubernetes.pod.label[team-x]=payments",
		"country=DE",
		"long=" A50 A50,
		NULL,
	};
	struct attr_set *attrs = make_attrs(kv);
	struct selectors sel = {0};
	struct policy *p = NULL;
	struct policy_match m;
	const struct policy_identity *id;
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_new("example.org", &e, 1, t, 5, &p, err), 0);
	assert_int_equal(attr_set_selectors(attrs, &sel), 0);
	assert_int_equal(policy_match(p, attrs, &sel, &m), 0);
	assert_int_equal(m.nids, 2);

	id = &m.ids[0];
	assert_string_equal(id->spiffe_id, "spiffe://example.org/web");
	assert_string_equal(id->source, "entries[0]");
	assert_int_equal(id->x509_ttl_s, 600);
	assert_int_equal(id->ndns_names, 2);
	assert_string_equal(id->dns_names[1], "*.web.example.org");
	assert_string_equal(id->hint, "web");
	assert_null(id->subject.common_name);
	assert_int_equal(id->njwt_claims, 0);

	id = &m.ids[1];
	assert_string_equal(id->spiffe_id, "spiffe://example.org/app/web");
	assert_string_equal(id->source, "templates[0]");
	assert_int_equal(id->x509_ttl_s, 1800);
	assert_int_equal(id->ndns_names, 1);
	assert_string_equal(id->dns_names[0], "web-7d9.abc.prod.svc");
	assert_string_equal(id->hint, "web in prod");
	assert_string_equal(id->subject.common_name, "al_ice");
	assert_int_equal(id->subject.norganization, 2);
	assert_string_equal(id->subject.organization[0], "Example");
	assert_string_equal(id->subject.organization[1], "Team payments");
	assert_string_equal(id->subject.organizational_unit[0], "prod");
	assert_string_equal(id->subject.country[0], "DE");
	assert_string_equal(id->subject.province[0], "Bavaria");
	assert_string_equal(id->subject.locality[0], "M\xc3\xbcnchen");
	assert_int_equal(id->njwt_claims, 2);
	assert_string_equal(id->jwt_claims[0].name, "team");
	assert_string_equal(id->jwt_claims[0].value, "payments");
	assert_string_equal(id->jwt_claims[1].value, "prod");

	assert_int_equal(m.nerrors, 4);
	assert_string_equal(m.errors[0], "templates[1]: dns_names[0]: attribute unix.user: value "
					 "\"al_ice\" contains '_', not allowed in a DNS name");
	assert_string_equal(m.errors[1], "templates[2]: x509_subject.country[0]: \"al_ice\": not "
					 "a two-letter country code (ISO 3166, e.g. US)");
	assert_string_equal(m.errors[2],
			    "templates[3]: x509_subject.common_name: longer than 64 bytes");
	assert_string_equal(m.errors[3],
			    "templates[4]: jwt_claims.x: attribute missing is missing");
	policy_match_free(&m);
	policy_match_free(&m); /* safe twice */

	/* no selectors at all: only templates without `when` can match */
	assert_int_equal(policy_match(p, attrs, NULL, &m), 0);
	assert_int_equal(m.nids, 1);
	assert_string_equal(m.ids[0].source, "templates[0]");
	policy_match_free(&m);

	selectors_free(&sel);
	attr_set_free(attrs);
	policy_free(p);
}

/* policy_new copies: the caller's strings may go away. */
static void test_policy_copies(void **state)
{
	char id[] = "spiffe://example.org/uid/{{unix.uid}}";
	char sel[] = "unix:uid:1";
	char *sels[] = {sel};
	struct policy_template t = {.spiffe_id = id, .when = sels, .nwhen = 1};
	static const char *const kv[] = {"unix.uid=1", NULL};
	struct attr_set *attrs = make_attrs(kv);
	struct selectors s = {0};
	struct policy *p;
	struct policy_match m;
	char err[POLICY_ERR_MAX];

	assert_int_equal(policy_new("example.org", NULL, 0, &t, 1, &p, err), 0);
	memset(id, 'z', sizeof(id) - 1);
	memset(sel, 'z', sizeof(sel) - 1);
	assert_int_equal(attr_set_selectors(attrs, &s), 0);
	assert_int_equal(policy_match(p, attrs, &s, &m), 0);
	assert_int_equal(m.nids, 1);
	assert_string_equal(m.ids[0].spiffe_id, "spiffe://example.org/uid/1");
	policy_match_free(&m);
	selectors_free(&s);
	attr_set_free(attrs);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spiffe_id_table),	   cmocka_unit_test(test_spiffe_id_lengths),
		cmocka_unit_test(test_trust_domain_table), cmocka_unit_test(test_render_table),
		cmocka_unit_test(test_render_limits),	   cmocka_unit_test(test_policy_new_table),
		cmocka_unit_test(test_policy_new_misc),	   cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_fields),	   cmocka_unit_test(test_policy_copies),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
