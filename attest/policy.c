// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * policy.c - SPIFFE ID validation, registration entries and templates (see policy.h).
 *
 * Template values are checked per field so a rendered identity is never malformed or surprising:
 * - spiffe_id: a substituted value must consist of path-segment characters only (a-z A-Z 0-9
 *   . - _); in particular it may not contain "/", so one value can never add path segments.
 *   References may appear only in the path (the trust domain is literal). The rendered ID must
 *   then pass spiffe_id_validate (so a value "." or ".." forming a whole segment is refused).
 * - dns_names: a substituted value may hold a-z A-Z 0-9 . - only; the result must be a DNS
 *   name (labels of 1..63 letters, digits and inner hyphens, at most 253 bytes; a literal "*"
 *   first label is allowed as a wildcard).
 * - hint, x509_subject fields and jwt_claims values are free text: valid UTF-8 without control
 *   characters, bounded (RFC 5280 upper bounds for the subject; country is two ASCII letters).
 */
#include "attest/policy.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPIFFE_SCHEME	      "spiffe://"
#define SPIFFE_SCHEME_LEN     9
#define POLICY_SHOW_MAX	      48   /* characters of a value quoted in an error */
#define POLICY_SELECTOR_MAX   8192 /* bytes of one selector */
#define POLICY_SEL_TYPE_MAX   64   /* bytes of a selector's type */
#define POLICY_HINT_MAX	      256  /* bytes of a rendered hint */
#define POLICY_CLAIM_NAME_MAX 128
#define DNS_NAME_MAX	      253
#define DNS_LABEL_MAX	      63
#define X509_CN_MAX	      64  /* RFC 5280 ub-common-name */
#define X509_ORG_MAX	      64  /* ub-organization-name */
#define X509_OU_MAX	      64  /* ub-organizational-unit-name */
#define X509_PROVINCE_MAX     128 /* ub-state-name */
#define X509_LOCALITY_MAX     128 /* ub-locality-name */
#define POLICY_PLACEHOLDER    "x" /* stands for a reference when a template is checked */

/* What a rendered string is, which decides the checks on substituted values and the result. */
enum field_kind {
	FIELD_ANY, /* policy_render: no checks */
	FIELD_SPIFFE_ID,
	FIELD_DNS,
	FIELD_HINT,
	FIELD_CN,
	FIELD_ORG,
	FIELD_OU,
	FIELD_COUNTRY,
	FIELD_PROVINCE,
	FIELD_LOCALITY,
	FIELD_CLAIM,
};

static const char *const reserved_claims[] = {"sub", "aud", "exp", "iat", "nbf", "iss", "jti"};

struct policy {
	char trust_domain[SPIFFE_TRUST_DOMAIN_MAX + 1];
	struct policy_entry *entries;
	size_t nentries;
	struct policy_template *templates;
	size_t ntemplates;
};

/* vsnprintf that may truncate on purpose (error messages). */
static void __attribute__((format(printf, 2, 3)))
errfmt(char err[POLICY_ERR_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, POLICY_ERR_MAX, fmt, ap);
	va_end(ap);
}

/* Up to POLICY_SHOW_MAX bytes of s[0..n) for an error message, '?' for unprintable bytes. */
static const char *show(const char *s, size_t n, char buf[POLICY_SHOW_MAX + 4])
{
	size_t o = 0;

	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o == POLICY_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
	return buf;
}

/* "'c'" for a printable character, else "byte 0xNN". */
static const char *show_char(char c, char buf[16])
{
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", u);
	return buf;
}

/* ---- SPIFFE IDs ------------------------------------------------------------------------ */

static bool td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool segment_char(char c)
{
	return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Why c is not allowed in `where` (the trust domain or path segment N). */
static int bad_char(char c, bool in_td, const char *where, char err[POLICY_ERR_MAX])
{
	char cb[16];

	if (c == '%')
		errfmt(err, "percent-encoding is not allowed (%s)", where);
	else if (c == '?')
		errfmt(err, "a query (\"?\") is not allowed (%s)", where);
	else if (c == '#')
		errfmt(err, "a fragment (\"#\") is not allowed (%s)", where);
	else if (in_td && c == ':')
		errfmt(err, "a port is not allowed in the trust domain");
	else if (in_td && c == '@')
		errfmt(err, "userinfo (\"@\") is not allowed in the trust domain");
	else if (in_td && c >= 'A' && c <= 'Z')
		errfmt(err,
		       "uppercase letter '%c' in the trust domain (trust domains are lowercase)",
		       c);
	else if (in_td)
		errfmt(err, "invalid character %s in the trust domain (allowed: a-z 0-9 . - _)",
		       show_char(c, cb));
	else
		errfmt(err, "invalid character %s in %s (allowed: a-z A-Z 0-9 . - _)",
		       show_char(c, cb), where);
	return -EINVAL;
}

static int td_check(const char *td, size_t n, char err[POLICY_ERR_MAX])
{
	if (n == 0) {
		errfmt(err, "the trust domain is empty");
		return -EINVAL;
	}
	if (n > SPIFFE_TRUST_DOMAIN_MAX) {
		errfmt(err, "the trust domain is longer than %d bytes", SPIFFE_TRUST_DOMAIN_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (!td_char(td[i]))
			return bad_char(td[i], true, "the trust domain", err);
	return 0;
}

int spiffe_trust_domain_validate(const char *td, char err[POLICY_ERR_MAX])
{
	size_t n;

	err[0] = '\0';
	if (!td || !*td) {
		errfmt(err, "the trust domain is empty");
		return -EINVAL;
	}
	if (strncasecmp(td, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0) {
		errfmt(err, "write the trust domain without \"spiffe://\"");
		return -EINVAL;
	}
	n = strnlen(td, SPIFFE_TRUST_DOMAIN_MAX + 1);
	return td_check(td, n, err);
}

int spiffe_id_validate(const char *id, size_t *td_len, char err[POLICY_ERR_MAX])
{
	const char *td, *p;
	size_t n, tdn, seg = 0;
	int rc;

	err[0] = '\0';
	if (!id || !*id) {
		errfmt(err, "empty SPIFFE ID");
		return -EINVAL;
	}
	n = strnlen(id, SPIFFE_ID_MAX + 1);
	if (n > SPIFFE_ID_MAX) {
		errfmt(err, "longer than %d bytes", SPIFFE_ID_MAX);
		return -EINVAL;
	}
	if (strncmp(id, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) != 0) {
		if (strncasecmp(id, SPIFFE_SCHEME, SPIFFE_SCHEME_LEN) == 0)
			errfmt(err, "the scheme must be lowercase \"spiffe://\"");
		else
			errfmt(err, "does not start with \"spiffe://\"");
		return -EINVAL;
	}
	td = id + SPIFFE_SCHEME_LEN;
	tdn = strcspn(td, "/");
	rc = td_check(td, tdn, err);
	if (rc < 0)
		return rc;
	for (p = td + tdn; *p == '/';) {
		const char *s = p + 1;
		size_t sn = strcspn(s, "/");
		char where[48];

		seg++;
		if (sn == 0) {
			if (!s[0])
				errfmt(err, "a trailing \"/\" is not allowed");
			else
				errfmt(err, "path segment %zu is empty", seg);
			return -EINVAL;
		}
		if ((sn == 1 && s[0] == '.') || (sn == 2 && s[0] == '.' && s[1] == '.')) {
			errfmt(err, "path segment %zu is \"%.*s\" (dot segments are not allowed)",
			       seg, (int)sn, s);
			return -EINVAL;
		}
		snprintf(where, sizeof(where), "path segment %zu", seg);
		for (size_t i = 0; i < sn; i++)
			if (!segment_char(s[i]))
				return bad_char(s[i], false, where, err);
		p = s + sn;
	}
	assert(*p == '\0');
	if (td_len)
		*td_len = tdn;
	return 0;
}

/* ---- other field checks ---------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (valid, shortest form, no surrogates), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* Free text: non-empty, at most max bytes, valid UTF-8, no control characters. */
static int text_check(const char *s, size_t max, char err[POLICY_ERR_MAX])
{
	size_t n = strnlen(s, max + 1);

	if (n == 0) {
		errfmt(err, "empty");
		return -EINVAL;
	}
	if (n > max) {
		errfmt(err, "longer than %zu bytes", max);
		return -EINVAL;
	}
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t l;

		if (c < 0x20 || c == 0x7f) {
			errfmt(err, "control character (byte 0x%02x) at byte %zu", c, i + 1);
			return -EINVAL;
		}
		l = utf8_seq((const unsigned char *)s + i);
		if (l == 0) {
			errfmt(err, "invalid UTF-8 at byte %zu", i + 1);
			return -EINVAL;
		}
		i += l;
	}
	return 0;
}

static bool dns_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static int dns_name_check(const char *s, char err[POLICY_ERR_MAX])
{
	size_t n = strnlen(s, DNS_NAME_MAX + 1), label = 0;
	char cb[16];

	if (n == 0) {
		errfmt(err, "empty DNS name");
		return -EINVAL;
	}
	if (n > DNS_NAME_MAX) {
		errfmt(err, "DNS name longer than %d bytes", DNS_NAME_MAX);
		return -EINVAL;
	}
	for (const char *p = s;; p++) {
		size_t ln = strcspn(p, ".");

		label++;
		if (ln == 0) {
			errfmt(err, "DNS name has an empty label (label %zu)", label);
			return -EINVAL;
		}
		if (ln > DNS_LABEL_MAX) {
			errfmt(err, "DNS label %zu is longer than %d bytes", label, DNS_LABEL_MAX);
			return -EINVAL;
		}
		if (label == 1 && ln == 1 && p[0] == '*') {
			if (!p[1]) {
				errfmt(err, "a wildcard \"*\" needs a domain after it");
				return -EINVAL;
			}
		} else {
			for (size_t i = 0; i < ln; i++) {
				if (!dns_char(p[i])) {
					errfmt(err,
					       "invalid character %s in DNS label %zu (allowed: "
					       "a-z A-Z 0-9 -)",
					       show_char(p[i], cb), label);
					return -EINVAL;
				}
			}
			if (p[0] == '-' || p[ln - 1] == '-') {
				errfmt(err, "DNS label %zu starts or ends with '-'", label);
				return -EINVAL;
			}
		}
		p += ln;
		if (!*p)
			return 0;
	}
}

/* "type:key:value": type of a-z 0-9 _ -, key non-empty without ':', value non-empty (may hold
 * ':'), the whole valid UTF-8 without control characters. */
static int selector_check(const char *s, char err[POLICY_ERR_MAX])
{
	const char *c1, *c2;
	char shown[POLICY_SHOW_MAX + 4];
	int rc;

	if (!s) {
		errfmt(err, "missing");
		return -EINVAL;
	}
	rc = text_check(s, POLICY_SELECTOR_MAX, err);
	if (rc < 0)
		return rc;
	c1 = strchr(s, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == s || c2 == c1 + 1 || !c2[1]) {
		errfmt(err, "\"%s\": not a selector (want type:key:value)",
		       show(s, strlen(s), shown));
		return -EINVAL;
	}
	if ((size_t)(c1 - s) > POLICY_SEL_TYPE_MAX)
		goto bad_type;
	for (const char *p = s; p < c1; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			goto bad_type;
	return 0;
bad_type:
	errfmt(err,
	       "\"%s\": not a selector (the type before ':' must be lowercase, like unix or k8s)",
	       show(s, strlen(s), shown));
	return -EINVAL;
}

static int claim_name_check(const char *name, char err[POLICY_ERR_MAX])
{
	size_t n;
	char cb[16];

	if (!name || !*name) {
		errfmt(err, "empty claim name");
		return -EINVAL;
	}
	n = strnlen(name, POLICY_CLAIM_NAME_MAX + 1);
	if (n > POLICY_CLAIM_NAME_MAX) {
		errfmt(err, "claim name longer than %d bytes", POLICY_CLAIM_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ':' || c == '/')) {
			errfmt(err,
			       "invalid character %s in the claim name (allowed: a-z A-Z 0-9 _ - . "
			       ": /)",
			       show_char(c, cb));
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(reserved_claims) / sizeof(reserved_claims[0]); i++) {
		if (strcmp(name, reserved_claims[i]) == 0) {
			errfmt(err,
			       "claim \"%s\" is set by attestd and cannot be templated (reserved: "
			       "sub, aud, exp, iat, nbf, iss, jti)",
			       name);
			return -EINVAL;
		}
	}
	return 0;
}

/* Checks a final (rendered or literal) value of a field. td: the configured trust domain. */
static int field_check(enum field_kind kind, const char *v, const char *td,
		       char err[POLICY_ERR_MAX])
{
	size_t tdn;
	int rc;

	switch (kind) {
	case FIELD_ANY:
		return 0;
	case FIELD_SPIFFE_ID: {
		char why[POLICY_ERR_MAX];
		char shown[POLICY_SHOW_MAX + 4];

		rc = spiffe_id_validate(v, &tdn, why);
		if (rc < 0) {
			errfmt(err, "\"%s\": %s", show(v, strlen(v), shown), why);
			return rc;
		}
		if (tdn != strlen(td) || strncmp(v + SPIFFE_SCHEME_LEN, td, tdn) != 0) {
			errfmt(err, "\"%s\": not in the trust domain %s", show(v, strlen(v), shown),
			       td);
			return -EINVAL;
		}
		return 0;
	}
	case FIELD_DNS:
		return dns_name_check(v, err);
	case FIELD_HINT:
		return text_check(v, POLICY_HINT_MAX, err);
	case FIELD_CN:
		return text_check(v, X509_CN_MAX, err);
	case FIELD_ORG:
		return text_check(v, X509_ORG_MAX, err);
	case FIELD_OU:
		return text_check(v, X509_OU_MAX, err);
	case FIELD_PROVINCE:
		return text_check(v, X509_PROVINCE_MAX, err);
	case FIELD_LOCALITY:
		return text_check(v, X509_LOCALITY_MAX, err);
	case FIELD_CLAIM:
		return text_check(v, POLICY_VALUE_MAX, err);
	case FIELD_COUNTRY:
		if (strlen(v) != 2 ||
		    !((v[0] >= 'A' && v[0] <= 'Z') || (v[0] >= 'a' && v[0] <= 'z')) ||
		    !((v[1] >= 'A' && v[1] <= 'Z') || (v[1] >= 'a' && v[1] <= 'z'))) {
			char shown[POLICY_SHOW_MAX + 4];

			errfmt(err, "\"%s\": not a two-letter country code (ISO 3166, e.g. US)",
			       show(v, strlen(v), shown));
			return -EINVAL;
		}
		return 0;
	}
	return 0;
}

/* ---- templates ------------------------------------------------------------------------- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/*
 * Parses the reference that starts with "{{" at t[pos]. On success *name and *name_len give the
 * attribute name inside t and *end the offset just past "}}".
 */
static int ref_parse(const char *t, size_t pos, const char **name, size_t *name_len, size_t *end,
		     char err[POLICY_ERR_MAX])
{
	size_t i = pos + 2, start;
	char cb[16];

	while (t[i] == ' ')
		i++;
	start = i;
	for (;;) {
		size_t seg = i;

		while (name_char(t[i]))
			i++;
		if (i == seg) {
			if (!t[i])
				goto unclosed;
			if (seg == start && t[i] == '}' && t[i + 1] == '}')
				errfmt(err, "offset %zu: empty reference \"{{}}\"", pos);
			else
				errfmt(err,
				       "offset %zu: bad attribute name: %s at offset %zu (want a "
				       "dotted name like unix.uid or kubernetes.pod.label[key])",
				       pos, show_char(t[i], cb), i);
			return -EINVAL;
		}
		if (t[i] != '.')
			break;
		i++;
	}
	if (t[i] == '[') {
		size_t k = ++i;

		for (; t[i] && t[i] != ']'; i++) {
			unsigned char c = (unsigned char)t[i];

			if (c == '[' || c < 0x20 || c == 0x7f) {
				errfmt(err, "offset %zu: %s not allowed in a [key]", pos,
				       show_char(t[i], cb));
				return -EINVAL;
			}
		}
		if (!t[i]) {
			errfmt(err, "offset %zu: unclosed \"[\" in reference", pos);
			return -EINVAL;
		}
		if (i == k) {
			errfmt(err, "offset %zu: empty key \"[]\" in reference", pos);
			return -EINVAL;
		}
		i++;
	}
	*name = t + start;
	*name_len = i - start;
	while (t[i] == ' ')
		i++;
	if (!t[i])
		goto unclosed;
	if (t[i] != '}' || t[i + 1] != '}') {
		if (t[i] == '}' && !t[i + 1])
			goto unclosed;
		errfmt(err, "offset %zu: unexpected %s in reference (want \"}}\")", pos,
		       show_char(t[i], cb));
		return -EINVAL;
	}
	if (*name_len >= ATTR_NAME_MAX) {
		errfmt(err, "offset %zu: attribute name longer than %d bytes", pos,
		       ATTR_NAME_MAX - 1);
		return -EINVAL;
	}
	*end = i + 2;
	return 0;
unclosed:
	errfmt(err, "offset %zu: unclosed \"{{\"", pos);
	return -EINVAL;
}

/* Checks one substituted value for the field it lands in. */
static int value_check(enum field_kind kind, const char *name, const char *v,
		       char err[POLICY_ERR_MAX])
{
	char shown[POLICY_SHOW_MAX + 4], cb[16];

	for (const char *p = v; *p; p++) {
		if (kind == FIELD_SPIFFE_ID && !segment_char(*p)) {
			if (*p == '/')
				errfmt(err,
				       "attribute %s: value \"%s\" contains '/' (a value must stay "
				       "within one path segment)",
				       name, show(v, strlen(v), shown));
			else
				errfmt(err,
				       "attribute %s: value \"%s\" contains %s, not allowed in a "
				       "SPIFFE ID path (a-z A-Z 0-9 . - _)",
				       name, show(v, strlen(v), shown), show_char(*p, cb));
			return -EINVAL;
		}
		if (kind == FIELD_DNS && !dns_char(*p) && *p != '.') {
			errfmt(err,
			       "attribute %s: value \"%s\" contains %s, not allowed in a DNS name",
			       name, show(v, strlen(v), shown), show_char(*p, cb));
			return -EINVAL;
		}
	}
	return 0;
}

static int out_append(char *out, size_t out_len, size_t *o, const char *s, size_t n,
		      char err[POLICY_ERR_MAX])
{
	if (n >= out_len - *o) {
		errfmt(err, "rendered value longer than %zu bytes", out_len - 1);
		return -E2BIG;
	}
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/*
 * Renders template t into out. With placeholder set, every reference becomes the placeholder
 * (no lookups: checks the template's literal parts); otherwise values come from attrs and are
 * checked for `kind`. -EINVAL parse error or bad value, -ENOENT missing, -E2BIG several values
 * or too long. On failure out is unspecified.
 */
static int render(const char *t, const struct attr_set *attrs, const char *placeholder,
		  enum field_kind kind, char *out, size_t out_len, char err[POLICY_ERR_MAX])
{
	size_t pos = 0, o = 0, tn;
	int rc;

	assert(out_len > 0);
	err[0] = '\0';
	out[0] = '\0';
	if (!t) {
		errfmt(err, "missing");
		return -EINVAL;
	}
	tn = strnlen(t, POLICY_TEMPLATE_MAX + 1);
	if (tn > POLICY_TEMPLATE_MAX) {
		errfmt(err, "template longer than %d bytes", POLICY_TEMPLATE_MAX);
		return -EINVAL;
	}
	while (t[pos]) {
		const char *open = strstr(t + pos, "{{"), *name, *v;
		const char *const *vals;
		char nbuf[ATTR_NAME_MAX];
		size_t lit = open ? (size_t)(open - (t + pos)) : strlen(t + pos), name_len, end, nv;

		rc = out_append(out, out_len, &o, t + pos, lit, err);
		if (rc < 0)
			return rc;
		if (!open)
			break;
		pos = (size_t)(open - t);
		rc = ref_parse(t, pos, &name, &name_len, &end, err);
		if (rc < 0)
			return rc;
		pos = end;
		if (placeholder) {
			v = placeholder;
		} else {
			memcpy(nbuf, name, name_len);
			nbuf[name_len] = '\0';
			vals = attrs ? attr_set_get(attrs, nbuf, &nv) : NULL;
			if (!vals || nv == 0) {
				errfmt(err, "attribute %s is missing", nbuf);
				return -ENOENT;
			}
			if (nv > 1) {
				errfmt(err,
				       "attribute %s has %zu values (a template needs exactly one)",
				       nbuf, nv);
				return -E2BIG;
			}
			v = vals[0];
			rc = value_check(kind, nbuf, v, err);
			if (rc < 0)
				return rc;
		}
		rc = out_append(out, out_len, &o, v, strlen(v), err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int policy_template_check(const char *tmpl, char err[POLICY_ERR_MAX])
{
	char buf[POLICY_TEMPLATE_MAX + 1];

	return render(tmpl, NULL, POLICY_PLACEHOLDER, FIELD_ANY, buf, sizeof(buf), err);
}

int policy_render(const char *tmpl, const struct attr_set *attrs, char *out, size_t out_len,
		  char err[POLICY_ERR_MAX])
{
	int rc;

	if (out_len == 0) {
		err[0] = '\0';
		errfmt(err, "no room for the rendered value");
		return -E2BIG;
	}
	/* parse errors first, so they do not depend on which attributes happen to be present */
	rc = policy_template_check(tmpl, err);
	if (rc < 0)
		return rc;
	return render(tmpl, attrs, NULL, FIELD_ANY, out, out_len, err);
}

/*
 * Config-time check of one template string of a field: it parses, and with every reference
 * replaced by a placeholder, the literal parts already make a valid value (for a spiffe_id,
 * also: the trust domain is written literally and is td). A country with references is only
 * checked when rendered.
 */
static int template_field_check(enum field_kind kind, const char *tmpl, const char *td,
				char err[POLICY_ERR_MAX])
{
	char skel[POLICY_TEMPLATE_MAX + 1];
	size_t tdn = strlen(td);
	int rc;

	rc = render(tmpl, NULL, POLICY_PLACEHOLDER, kind, skel, sizeof(skel), err);
	if (rc < 0)
		return rc;
	if (kind == FIELD_COUNTRY && strstr(tmpl, "{{"))
		return 0;
	rc = field_check(kind, skel, td, err);
	if (rc < 0)
		return rc;
	if (kind == FIELD_SPIFFE_ID &&
	    (strncmp(tmpl + SPIFFE_SCHEME_LEN, td, tdn) != 0 ||
	     (tmpl[SPIFFE_SCHEME_LEN + tdn] != '/' && tmpl[SPIFFE_SCHEME_LEN + tdn] != '\0'))) {
		errfmt(err,
		       "the trust domain must be written literally as %s ({{ }} only in the "
		       "path)",
		       td);
		return -EINVAL;
	}
	return 0;
}

/* ---- memory ---------------------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int str_dup(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int strv_dup(char *const *src, size_t n, char ***out)
{
	char **v;

	*out = NULL;
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i] = strdup(src[i]);
		if (!v[i]) {
			strv_free(v, i);
			return -ENOMEM;
		}
	}
	*out = v;
	return 0;
}

static void subject_clear(struct policy_subject *s)
{
	free(s->common_name);
	strv_free(s->organization, s->norganization);
	strv_free(s->organizational_unit, s->norganizational_unit);
	strv_free(s->country, s->ncountry);
	strv_free(s->province, s->nprovince);
	strv_free(s->locality, s->nlocality);
	memset(s, 0, sizeof(*s));
}

static void claims_free(struct policy_claim *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].value);
	}
	free(c);
}

void policy_entry_clear(struct policy_entry *e)
{
	if (!e)
		return;
	free(e->spiffe_id);
	strv_free(e->selectors, e->nselectors);
	strv_free(e->dns_names, e->ndns_names);
	free(e->hint);
	memset(e, 0, sizeof(*e));
}

void policy_template_clear(struct policy_template *t)
{
	if (!t)
		return;
	free(t->spiffe_id);
	strv_free(t->when, t->nwhen);
	strv_free(t->dns_names, t->ndns_names);
	free(t->hint);
	subject_clear(&t->x509_subject);
	claims_free(t->jwt_claims, t->njwt_claims);
	memset(t, 0, sizeof(*t));
}

static void identity_clear(struct policy_identity *id)
{
	strv_free(id->dns_names, id->ndns_names);
	free(id->hint);
	subject_clear(&id->subject);
	claims_free(id->jwt_claims, id->njwt_claims);
	memset(id, 0, sizeof(*id));
}

static int entry_copy(const struct policy_entry *src, struct policy_entry *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->x509_ttl_s = src->x509_ttl_s;
	if (str_dup(src->spiffe_id, &dst->spiffe_id) < 0 ||
	    strv_dup(src->selectors, src->nselectors, &dst->selectors) < 0)
		goto fail;
	dst->nselectors = src->nselectors;
	if (strv_dup(src->dns_names, src->ndns_names, &dst->dns_names) < 0)
		goto fail;
	dst->ndns_names = src->ndns_names;
	if (str_dup(src->hint, &dst->hint) < 0)
		goto fail;
	return 0;
fail:
	policy_entry_clear(dst);
	return -ENOMEM;
}

/* Copies the string lists of a subject (both shapes are the same struct). */
static int subject_copy(const struct policy_subject *src, struct policy_subject *dst)
{
	memset(dst, 0, sizeof(*dst));
	if (str_dup(src->common_name, &dst->common_name) < 0)
		goto fail;
	if (strv_dup(src->organization, src->norganization, &dst->organization) < 0)
		goto fail;
	dst->norganization = src->norganization;
	if (strv_dup(src->organizational_unit, src->norganizational_unit,
		     &dst->organizational_unit) < 0)
		goto fail;
	dst->norganizational_unit = src->norganizational_unit;
	if (strv_dup(src->country, src->ncountry, &dst->country) < 0)
		goto fail;
	dst->ncountry = src->ncountry;
	if (strv_dup(src->province, src->nprovince, &dst->province) < 0)
		goto fail;
	dst->nprovince = src->nprovince;
	if (strv_dup(src->locality, src->nlocality, &dst->locality) < 0)
		goto fail;
	dst->nlocality = src->nlocality;
	return 0;
fail:
	subject_clear(dst);
	return -ENOMEM;
}

static int template_copy(const struct policy_template *src, struct policy_template *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->x509_ttl_s = src->x509_ttl_s;
	if (str_dup(src->spiffe_id, &dst->spiffe_id) < 0 ||
	    strv_dup(src->when, src->nwhen, &dst->when) < 0)
		goto fail;
	dst->nwhen = src->nwhen;
	if (strv_dup(src->dns_names, src->ndns_names, &dst->dns_names) < 0)
		goto fail;
	dst->ndns_names = src->ndns_names;
	if (str_dup(src->hint, &dst->hint) < 0 ||
	    subject_copy(&src->x509_subject, &dst->x509_subject) < 0)
		goto fail;
	if (src->njwt_claims) {
		dst->jwt_claims = calloc(src->njwt_claims, sizeof(*dst->jwt_claims));
		if (!dst->jwt_claims)
			goto fail;
		for (size_t i = 0; i < src->njwt_claims; i++) {
			dst->njwt_claims = i + 1;
			if (str_dup(src->jwt_claims[i].name, &dst->jwt_claims[i].name) < 0 ||
			    str_dup(src->jwt_claims[i].value, &dst->jwt_claims[i].value) < 0)
				goto fail;
		}
	}
	return 0;
fail:
	policy_template_clear(dst);
	return -ENOMEM;
}

/* ---- policy_new ------------------------------------------------------------------------ */

/* A subject list with its field name and kind, so one loop checks and renders them all. */
struct subject_list {
	const char *name;
	enum field_kind kind;
	char **const *v;
	const size_t *n;
};

static void subject_lists(const struct policy_subject *s, struct subject_list l[5])
{
	l[0] = (struct subject_list){"organization", FIELD_ORG, &s->organization,
				     &s->norganization};
	l[1] = (struct subject_list){"organizational_unit", FIELD_OU, &s->organizational_unit,
				     &s->norganizational_unit};
	l[2] = (struct subject_list){"country", FIELD_COUNTRY, &s->country, &s->ncountry};
	l[3] = (struct subject_list){"province", FIELD_PROVINCE, &s->province, &s->nprovince};
	l[4] = (struct subject_list){"locality", FIELD_LOCALITY, &s->locality, &s->nlocality};
}

static int list_count_check(const char *what, size_t n, size_t max, char err[POLICY_ERR_MAX])
{
	if (n > max) {
		errfmt(err, "%s: more than %zu items", what, max);
		return -EINVAL;
	}
	return 0;
}

static int entry_check(const struct policy_entry *e, size_t i, const char *td,
		       char err[POLICY_ERR_MAX])
{
	char why[POLICY_ERR_MAX];
	int rc;

	if (!e->spiffe_id) {
		errfmt(err, "entries[%zu].spiffe_id: missing", i);
		return -EINVAL;
	}
	rc = field_check(FIELD_SPIFFE_ID, e->spiffe_id, td, why);
	if (rc < 0) {
		errfmt(err, "entries[%zu].spiffe_id: %s", i, why);
		return rc;
	}
	if (e->nselectors == 0) {
		errfmt(err,
		       "entries[%zu].selectors: at least one selector is required (a template "
		       "without `when` matches every workload)",
		       i);
		return -EINVAL;
	}
	if (list_count_check("selectors", e->nselectors, POLICY_MAX_SELECTORS, why) < 0 ||
	    list_count_check("dns_names", e->ndns_names, POLICY_MAX_LIST, why) < 0) {
		errfmt(err, "entries[%zu].%s", i, why);
		return -EINVAL;
	}
	for (size_t j = 0; j < e->nselectors; j++) {
		rc = selector_check(e->selectors[j], why);
		if (rc < 0) {
			errfmt(err, "entries[%zu].selectors[%zu]: %s", i, j, why);
			return rc;
		}
	}
	for (size_t j = 0; j < e->ndns_names; j++) {
		rc = e->dns_names[j] ? dns_name_check(e->dns_names[j], why) : -EINVAL;
		if (rc < 0) {
			errfmt(err, "entries[%zu].dns_names[%zu]: %s", i, j,
			       e->dns_names[j] ? why : "missing");
			return rc;
		}
	}
	if (e->hint) {
		rc = text_check(e->hint, POLICY_HINT_MAX, why);
		if (rc < 0) {
			errfmt(err, "entries[%zu].hint: %s", i, why);
			return rc;
		}
	}
	return 0;
}

static int template_check(const struct policy_template *t, size_t i, const char *td,
			  char err[POLICY_ERR_MAX])
{
	const struct policy_subject *s = &t->x509_subject;
	struct subject_list lists[5];
	char why[POLICY_ERR_MAX];
	int rc;

	if (!t->spiffe_id) {
		errfmt(err, "templates[%zu].spiffe_id: missing", i);
		return -EINVAL;
	}
	rc = template_field_check(FIELD_SPIFFE_ID, t->spiffe_id, td, why);
	if (rc < 0) {
		errfmt(err, "templates[%zu].spiffe_id: %s", i, why);
		return rc;
	}
	subject_lists(s, lists);
	if (list_count_check("when", t->nwhen, POLICY_MAX_SELECTORS, why) < 0 ||
	    list_count_check("dns_names", t->ndns_names, POLICY_MAX_LIST, why) < 0 ||
	    list_count_check("jwt_claims", t->njwt_claims, POLICY_MAX_LIST, why) < 0) {
		errfmt(err, "templates[%zu].%s", i, why);
		return -EINVAL;
	}
	for (size_t k = 0; k < 5; k++) {
		if (*lists[k].n > POLICY_MAX_LIST) {
			errfmt(err, "templates[%zu].x509_subject.%s: more than %d items", i,
			       lists[k].name, POLICY_MAX_LIST);
			return -EINVAL;
		}
	}
	for (size_t j = 0; j < t->nwhen; j++) {
		rc = selector_check(t->when[j], why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].when[%zu]: %s", i, j, why);
			return rc;
		}
	}
	for (size_t j = 0; j < t->ndns_names; j++) {
		rc = template_field_check(FIELD_DNS, t->dns_names[j], td, why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].dns_names[%zu]: %s", i, j, why);
			return rc;
		}
	}
	if (t->hint) {
		rc = template_field_check(FIELD_HINT, t->hint, td, why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].hint: %s", i, why);
			return rc;
		}
	}
	if (s->common_name) {
		rc = template_field_check(FIELD_CN, s->common_name, td, why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].x509_subject.common_name: %s", i, why);
			return rc;
		}
	}
	for (size_t k = 0; k < 5; k++) {
		for (size_t j = 0; j < *lists[k].n; j++) {
			rc = template_field_check(lists[k].kind, (*lists[k].v)[j], td, why);
			if (rc < 0) {
				errfmt(err, "templates[%zu].x509_subject.%s[%zu]: %s", i,
				       lists[k].name, j, why);
				return rc;
			}
		}
	}
	for (size_t j = 0; j < t->njwt_claims; j++) {
		const struct policy_claim *c = &t->jwt_claims[j];
		char shown[POLICY_SHOW_MAX + 4];

		rc = claim_name_check(c->name, why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].jwt_claims[%zu]: %s", i, j, why);
			return rc;
		}
		for (size_t k = 0; k < j; k++) {
			if (strcmp(t->jwt_claims[k].name, c->name) == 0) {
				errfmt(err, "templates[%zu].jwt_claims.%s: duplicate claim", i,
				       show(c->name, strlen(c->name), shown));
				return -EINVAL;
			}
		}
		rc = template_field_check(FIELD_CLAIM, c->value, td, why);
		if (rc < 0) {
			errfmt(err, "templates[%zu].jwt_claims.%s: %s", i, c->name, why);
			return rc;
		}
	}
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nentries; i++)
		policy_entry_clear(&p->entries[i]);
	free(p->entries);
	for (size_t i = 0; i < p->ntemplates; i++)
		policy_template_clear(&p->templates[i]);
	free(p->templates);
	free(p);
}

int policy_new(const char *trust_domain, const struct policy_entry *entries, size_t nentries,
	       const struct policy_template *templates, size_t ntemplates, struct policy **out,
	       char err[POLICY_ERR_MAX])
{
	struct policy *p = NULL;
	char why[POLICY_ERR_MAX];
	int rc;

	err[0] = '\0';
	rc = spiffe_trust_domain_validate(trust_domain, why);
	if (rc < 0) {
		errfmt(err, "trust_domain: %s", why);
		goto out;
	}
	if (nentries > POLICY_MAX_ENTRIES || ntemplates > POLICY_MAX_TEMPLATES) {
		errfmt(err, "%s: more than %d",
		       nentries > POLICY_MAX_ENTRIES ? "entries" : "templates",
		       nentries > POLICY_MAX_ENTRIES ? POLICY_MAX_ENTRIES : POLICY_MAX_TEMPLATES);
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < nentries; i++) {
		rc = entry_check(&entries[i], i, trust_domain, err);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < ntemplates; i++) {
		rc = template_check(&templates[i], i, trust_domain, err);
		if (rc < 0)
			goto out;
	}

	rc = -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto nomem;
	snprintf(p->trust_domain, sizeof(p->trust_domain), "%s", trust_domain);
	if (nentries) {
		p->entries = calloc(nentries, sizeof(*p->entries));
		if (!p->entries)
			goto nomem;
	}
	for (; p->nentries < nentries; p->nentries++)
		if (entry_copy(&entries[p->nentries], &p->entries[p->nentries]) < 0)
			goto nomem;
	if (ntemplates) {
		p->templates = calloc(ntemplates, sizeof(*p->templates));
		if (!p->templates)
			goto nomem;
	}
	for (; p->ntemplates < ntemplates; p->ntemplates++)
		if (template_copy(&templates[p->ntemplates], &p->templates[p->ntemplates]) < 0)
			goto nomem;
	*out = p;
	p = NULL;
	rc = 0;
	goto out;
nomem:
	errfmt(err, "out of memory");
out:
	policy_free(p);
	return rc;
}

/* ---- matching -------------------------------------------------------------------------- */

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether every one of want[0..n) is in the sorted set have[0..nhave). */
static bool selectors_subset(char *const *want, size_t n, const char **have, size_t nhave)
{
	for (size_t i = 0; i < n; i++) {
		const char *key = want[i];

		if (!nhave || !bsearch(&key, have, nhave, sizeof(*have), str_ptr_cmp))
			return false;
	}
	return true;
}

/* Renders one template string of `kind` into a new string (*out, caller frees). Data errors
 * fill err and return -EINVAL/-ENOENT/-E2BIG; -ENOMEM leaves err empty. */
static int render_dup(const struct policy *p, enum field_kind kind, const char *tmpl,
		      const struct attr_set *attrs, char **out, char err[POLICY_ERR_MAX])
{
	char buf[POLICY_VALUE_MAX + 1];
	int rc;

	*out = NULL;
	rc = render(tmpl, attrs, NULL, kind, buf, sizeof(buf), err);
	if (rc == 0)
		rc = field_check(kind, buf, p->trust_domain, err);
	if (rc < 0)
		return rc;
	*out = strdup(buf);
	if (!*out) {
		err[0] = '\0';
		return -ENOMEM;
	}
	return 0;
}

static int render_list(const struct policy *p, enum field_kind kind, const char *field,
		       char *const *src, size_t n, const struct attr_set *attrs, char ***out,
		       size_t *nout, char err[POLICY_ERR_MAX])
{
	char why[POLICY_ERR_MAX];
	int rc;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t j = 0; j < n; j++) {
		rc = render_dup(p, kind, src[j], attrs, &(*out)[j], why);
		if (rc < 0) {
			if (rc != -ENOMEM)
				errfmt(err, "%s[%zu]: %s", field, j, why);
			return rc; /* the caller frees *out (nout counts what was filled) */
		}
		*nout = j + 1;
	}
	return 0;
}

/*
 * Renders template i into *id. Data errors: err = "<field>: <reason>" and -EINVAL/-ENOENT/
 * -E2BIG; -ENOMEM. On failure *id is cleared.
 */
static int template_render(const struct policy *p, size_t i, const struct attr_set *attrs,
			   struct policy_identity *id, char err[POLICY_ERR_MAX])
{
	const struct policy_template *t = &p->templates[i];
	struct subject_list src[5], dst[5];
	char buf[POLICY_VALUE_MAX + 1], why[POLICY_ERR_MAX];
	int rc;

	memset(id, 0, sizeof(*id));
	err[0] = '\0';
	snprintf(id->source, sizeof(id->source), "templates[%zu]", i);
	id->x509_ttl_s = t->x509_ttl_s;
	rc = render(t->spiffe_id, attrs, NULL, FIELD_SPIFFE_ID, buf, sizeof(buf), why);
	if (rc == 0)
		rc = field_check(FIELD_SPIFFE_ID, buf, p->trust_domain, why);
	if (rc < 0) {
		errfmt(err, "spiffe_id: %s", why);
		goto out;
	}
	memcpy(id->spiffe_id, buf, strlen(buf) + 1);
	rc = render_list(p, FIELD_DNS, "dns_names", t->dns_names, t->ndns_names, attrs,
			 &id->dns_names, &id->ndns_names, err);
	if (rc < 0)
		goto out;
	if (t->hint) {
		rc = render_dup(p, FIELD_HINT, t->hint, attrs, &id->hint, why);
		if (rc < 0) {
			if (rc != -ENOMEM)
				errfmt(err, "hint: %s", why);
			goto out;
		}
	}
	if (t->x509_subject.common_name) {
		rc = render_dup(p, FIELD_CN, t->x509_subject.common_name, attrs,
				&id->subject.common_name, why);
		if (rc < 0) {
			if (rc != -ENOMEM)
				errfmt(err, "x509_subject.common_name: %s", why);
			goto out;
		}
	}
	subject_lists(&t->x509_subject, src);
	subject_lists(&id->subject, dst);
	for (size_t k = 0; k < 5; k++) {
		char field[64];

		snprintf(field, sizeof(field), "x509_subject.%s", src[k].name);
		rc = render_list(p, src[k].kind, field, *src[k].v, *src[k].n, attrs,
				 (char ***)dst[k].v, (size_t *)dst[k].n, err);
		if (rc < 0)
			goto out;
	}
	if (t->njwt_claims) {
		id->jwt_claims = calloc(t->njwt_claims, sizeof(*id->jwt_claims));
		if (!id->jwt_claims) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t j = 0; j < t->njwt_claims; j++) {
		struct policy_claim *c = &id->jwt_claims[j];

		id->njwt_claims = j + 1;
		c->name = strdup(t->jwt_claims[j].name);
		if (!c->name) {
			rc = -ENOMEM;
			goto out;
		}
		rc = render_dup(p, FIELD_CLAIM, t->jwt_claims[j].value, attrs, &c->value, why);
		if (rc < 0) {
			if (rc != -ENOMEM)
				errfmt(err, "jwt_claims.%s: %s", c->name, why);
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		identity_clear(id);
	return rc;
}

static int entry_identity(const struct policy_entry *e, size_t i, struct policy_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->source, sizeof(id->source), "entries[%zu]", i);
	memcpy(id->spiffe_id, e->spiffe_id, strlen(e->spiffe_id) + 1); /* validated: fits */
	id->x509_ttl_s = e->x509_ttl_s;
	if (strv_dup(e->dns_names, e->ndns_names, &id->dns_names) < 0 ||
	    str_dup(e->hint, &id->hint) < 0) {
		identity_clear(id);
		return -ENOMEM;
	}
	id->ndns_names = e->ndns_names;
	return 0;
}

static bool have_id(const struct policy_match *m, const char *spiffe_id)
{
	for (size_t i = 0; i < m->nids; i++)
		if (strcmp(m->ids[i].spiffe_id, spiffe_id) == 0)
			return true;
	return false;
}

/* Appends *id (moved: *id is zeroed) unless its SPIFFE ID is already there (then freed). */
static int push_id(struct policy_match *m, size_t *cap, struct policy_identity *id)
{
	if (have_id(m, id->spiffe_id)) {
		identity_clear(id);
		return 0;
	}
	if (m->nids == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct policy_identity *n = realloc(m->ids, ncap * sizeof(*n));

		if (!n) {
			identity_clear(id);
			return -ENOMEM;
		}
		m->ids = n;
		*cap = ncap;
	}
	m->ids[m->nids++] = *id;
	memset(id, 0, sizeof(*id));
	return 0;
}

static int push_error(struct policy_match *m, const char *msg)
{
	char **n = realloc(m->errors, (m->nerrors + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	m->errors = n;
	m->errors[m->nerrors] = strdup(msg);
	if (!m->errors[m->nerrors])
		return -ENOMEM;
	m->nerrors++;
	return 0;
}

void policy_match_free(struct policy_match *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nids; i++)
		identity_clear(&m->ids[i]);
	free(m->ids);
	strv_free(m->errors, m->nerrors);
	memset(m, 0, sizeof(*m));
}

int policy_match(const struct policy *p, const struct attr_set *attrs, const struct selectors *sel,
		 struct policy_match *out)
{
	struct policy_match m = {0};
	struct policy_identity id;
	const char **have = NULL;
	size_t nhave = sel ? sel->n : 0, cap = 0;
	int rc = 0;

	assert(p && out);
	memset(out, 0, sizeof(*out));
	if (nhave) {
		have = malloc(nhave * sizeof(*have));
		if (!have) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nhave; i++)
			have[i] = sel->items[i];
		qsort(have, nhave, sizeof(*have), str_ptr_cmp);
	}
	for (size_t i = 0; i < p->nentries; i++) {
		const struct policy_entry *e = &p->entries[i];

		if (!selectors_subset(e->selectors, e->nselectors, have, nhave))
			continue;
		if (have_id(&m, e->spiffe_id))
			continue;
		rc = entry_identity(e, i, &id);
		if (rc == 0)
			rc = push_id(&m, &cap, &id);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < p->ntemplates; i++) {
		const struct policy_template *t = &p->templates[i];
		char why[POLICY_ERR_MAX], msg[POLICY_ERR_MAX];

		if (!selectors_subset(t->when, t->nwhen, have, nhave))
			continue;
		rc = template_render(p, i, attrs, &id, why);
		if (rc == -ENOMEM)
			goto out;
		if (rc < 0) {
			errfmt(msg, "templates[%zu]: %s", i, why);
			rc = push_error(&m, msg);
		} else {
			rc = push_id(&m, &cap, &id);
		}
		if (rc < 0)
			goto out;
	}
	*out = m;
	memset(&m, 0, sizeof(m));
out:
	policy_match_free(&m);
	free(have);
	return rc;
}
