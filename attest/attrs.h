/*
 * attrs.h - the attribute set one attestation yields, and the selectors derived from it.
 * Attributes are dotted names with one or more string values ("unix.uid" -> ["1001"]).
 * Selectors (SPIRE's "type:key:value") are computed from attributes through one table
 * (attrs.c), so the two vocabularies never drift. Values are kept in insertion order and
 * de-duplicated per name.
 */
#ifndef ATTEST_ATTRS_H
#define ATTEST_ATTRS_H

#include <stddef.h>

#define ATTR_NAME_MAX	512 /* Kubernetes label keys reach 317 bytes */
#define ATTR_VALUE_MAX	4096
#define ATTR_MAX_NAMES	1024
#define ATTR_MAX_VALUES 1024 /* per name */

struct attr_set;

/* Caller frees with attr_set_free(). -ENOMEM. */
int attr_set_new(struct attr_set **out);
void attr_set_free(struct attr_set *set);

/* Copies name and value; a value already present under the name is not added twice.
 * -EINVAL for an empty/oversized name or value (an empty value is allowed only for keyed
 * names ending in "]", e.g. an empty Kubernetes label), -E2BIG past the limits above. */
int attr_set_add(struct attr_set *set, const char *name, const char *value);
/* printf-style value. */
int attr_set_addf(struct attr_set *set, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

size_t attr_set_count(const struct attr_set *set);		 /* distinct names */
const char *attr_set_name(const struct attr_set *set, size_t i); /* insertion order */
size_t attr_set_value_count(const struct attr_set *set, size_t i);
const char *attr_set_value(const struct attr_set *set, size_t i, size_t j);
/* Values of a name, or NULL if absent; *n receives the count. */
const char *const *attr_set_get(const struct attr_set *set, const char *name, size_t *n);

/* Selectors derived from the set, e.g. "unix:uid:1001". Caller frees with selectors_free(). */
struct selectors {
	size_t n;
	char **items;
};
int attr_set_selectors(const struct attr_set *set, struct selectors *out);
void selectors_free(struct selectors *sel);

/*
 * Splits a bracketed attribute name "prefix[key]" (e.g. "kubernetes.pod.label[app]"): on success
 * *prefix_len is the length of "prefix", *key points at "key" inside name and *key_len is its
 * length. -EINVAL unless prefix and key are non-empty, the name ends with the only ']' and key
 * holds no '[' or ']'.
 */
int attr_name_split_key(const char *name, size_t *prefix_len, const char **key, size_t *key_len);

#endif /* ATTEST_ATTRS_H */
