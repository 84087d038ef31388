/*
 * policy.h - which SPIFFE IDs a workload gets. Registration entries (SPIRE semantics: the
 * selectors of one entry are ANDed, entries are ORed) and templates that render an ID and
 * X.509/JWT fields from attributes ("spiffe://td/ns/{{kubernetes.pod.namespace}}"). A workload
 * gets every matching identity, entries first then templates, in configuration order; the first
 * is its default. A template that names a missing attribute fails for that workload only, with
 * a clear error; it never yields a malformed ID. SPIFFE IDs are validated strictly.
 * A struct policy is immutable once built, so a config reload builds a new one.
 */
#ifndef ATTEST_POLICY_H
#define ATTEST_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "attest/attrs.h"

#define SPIFFE_ID_MAX		2048
#define SPIFFE_TRUST_DOMAIN_MAX 255
#define POLICY_ERR_MAX		256
#define POLICY_MAX_ENTRIES	65536
#define POLICY_MAX_TEMPLATES	1024
#define POLICY_MAX_SELECTORS	64   /* per entry / per template `when` */
#define POLICY_MAX_LIST		64   /* dns_names, organization[], audiences, jwt claims */
#define POLICY_TEMPLATE_MAX	4096 /* bytes of one template string */
#define POLICY_VALUE_MAX	4096 /* bytes of one rendered value */

/*
 * SPIFFE ID standard: "spiffe://" + trust domain (lowercase a-z 0-9 . - _, 1..255 bytes) +
 * optional path of "/"-separated segments, each non-empty, of a-z A-Z 0-9 . - _, not "." or
 * "..", no trailing "/", no query or fragment, at most SPIFFE_ID_MAX bytes in all.
 * On success *td_len is the trust domain's length within id. -EINVAL with err naming the rule.
 */
int spiffe_id_validate(const char *id, size_t *td_len, char err[POLICY_ERR_MAX]);
int spiffe_trust_domain_validate(const char *td, char err[POLICY_ERR_MAX]);

/* X.509 subject fields a template may set; every string is itself a template. */
struct policy_subject {
	char *common_name; /* NULL = none */
	char **organization;
	size_t norganization;
	char **organizational_unit;
	size_t norganizational_unit;
	char **country;
	size_t ncountry;
	char **province;
	size_t nprovince;
	char **locality;
	size_t nlocality;
};

struct policy_claim {
	char *name;  /* JWT claim name; not one of sub, aud, exp, iat, nbf, iss, jti */
	char *value; /* template; rendered as a JSON string */
};

/* One registration entry, as configured (`entries:`). */
struct policy_entry {
	char *spiffe_id;
	char **selectors; /* "type:key:value" */
	size_t nselectors;
	uint64_t x509_ttl_s; /* `ttl`; 0 = the default (svid.x509_ttl) */
	char **dns_names;
	size_t ndns_names;
	char *hint; /* NULL = none */
};

/* One template, as configured (`templates:`). */
struct policy_template {
	char *spiffe_id; /* template */
	char **when;	 /* selectors, ANDed; none = matches every workload */
	size_t nwhen;
	uint64_t x509_ttl_s; /* 0 = default */
	char **dns_names;    /* templates */
	size_t ndns_names;
	char *hint; /* template, NULL = none */
	struct policy_subject x509_subject;
	struct policy_claim *jwt_claims;
	size_t njwt_claims;
};

/* Frees the strings an entry/template owns (not the struct itself). For config teardown. */
void policy_entry_clear(struct policy_entry *e);
void policy_template_clear(struct policy_template *t);

struct policy;

/*
 * Validates and copies entries and templates (the caller keeps its own). Every entry ID must
 * be a valid SPIFFE ID in trust_domain; every selector "type:key:value"-shaped; every template
 * must parse ({{ name }} references closed, names well-formed) and its literal trust domain
 * must be trust_domain. err names the entry: "entries[3].spiffe_id: path segment 2 is empty".
 * Caller frees with policy_free().
 */
int policy_new(const char *trust_domain, const struct policy_entry *entries, size_t nentries,
	       const struct policy_template *templates, size_t ntemplates, struct policy **out,
	       char err[POLICY_ERR_MAX]);
void policy_free(struct policy *p);

/* One identity a workload is entitled to, fully rendered. */
struct policy_identity {
	char spiffe_id[SPIFFE_ID_MAX + 1];
	char source[32];     /* "entries[2]" or "templates[0]", for audit records */
	uint64_t x509_ttl_s; /* 0 = default */
	char **dns_names;
	size_t ndns_names;
	char *hint; /* NULL = none */
	/* Rendered subject: same shape as policy_subject, every string rendered. */
	struct policy_subject subject;
	struct policy_claim *jwt_claims; /* rendered values */
	size_t njwt_claims;
};

struct policy_match {
	struct policy_identity *ids; /* ids[0] is the default */
	size_t nids;
	char **errors; /* one per template that matched `when` but could not render */
	size_t nerrors;
};

/*
 * Matches a workload: entries whose selectors are all in `sel`, then templates whose `when`
 * selectors are all in `sel`, rendered from `attrs`. Duplicate SPIFFE IDs keep the first.
 * A template reference to a missing attribute, or to one with several values, records an error
 * like "templates[0]: spiffe_id: attribute kubernetes.pod.namespace is missing" and yields no
 * identity for that template. Returns 0 (possibly with zero ids), -ENOMEM.
 * Caller frees with policy_match_free().
 */
int policy_match(const struct policy *p, const struct attr_set *attrs, const struct selectors *sel,
		 struct policy_match *out);
void policy_match_free(struct policy_match *m);

/*
 * Renders one template string against attrs. Exposed for tests and fuzzing.
 * "{{ name }}" (spaces optional) is replaced by the single value of attribute `name`; names are
 * dotted and may end in a bracketed key with any characters but "]" ("label[app.k8s.io/name]").
 * "{{" without a matching "}}" is a parse error. -ENOENT missing attribute, -E2BIG several
 * values or result too long, -EINVAL parse error; err says which.
 */
int policy_render(const char *tmpl, const struct attr_set *attrs, char *out, size_t out_len,
		  char err[POLICY_ERR_MAX]);
/* Checks that a template string parses (no attribute lookups). */
int policy_template_check(const char *tmpl, char err[POLICY_ERR_MAX]);

#endif /* ATTEST_POLICY_H */
