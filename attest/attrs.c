// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * attrs.c - attribute sets and the one table that maps attribute names to SPIRE selectors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attrs.h"

#define ATTR_INITIAL_CAP 8

/*
 * How an attribute becomes selectors. A PLAIN row maps the attribute `attr` to
 * "<selector>:<value>" for each value. A KEYED row maps every attribute named "<attr>[<key>]" to
 * "<selector>:<key>:<value>" (e.g. kubernetes.pod.label[app]=web -> k8s:pod-label:app:web).
 * A PRESENT row yields the fixed selector `selector` once when `attr` has any value
 * (kubernetes.image.signature.subject -> k8s:image-signature:verified). A PER_ID row maps each
 * value v of `attr` and each value id of `id_attr` to "<selector>:<id>:<suffix>:<v>"
 * (SPIRE's k8s:<containerID>:image-signature-subject:<s>).
 */
enum attr_row_kind {
	ATTR_ROW_PLAIN,
	ATTR_ROW_KEYED,
	ATTR_ROW_PRESENT,
	ATTR_ROW_PER_ID,
};

struct attr_selector_row {
	enum attr_row_kind kind;
	const char *attr;
	const char *selector; /* "type:key"; PRESENT: the whole selector; PER_ID: "type" */
	const char *id_attr;  /* PER_ID: the attribute whose values become the key */
	const char *suffix;   /* PER_ID: what follows the key */
};

/* Selector order is this table's order, then attribute insertion order, then value order. */
static const struct attr_selector_row attr_selector_table[] = {
	{ATTR_ROW_PLAIN, "unix.uid", "unix:uid", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.user", "unix:user", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.gid", "unix:gid", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.group", "unix:group", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.supplementary_gid", "unix:supplementary_gid", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.supplementary_group", "unix:supplementary_group", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.path", "unix:path", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.sha256", "unix:sha256", NULL, NULL},
	{ATTR_ROW_PLAIN, "unix.pid", "unix:pid", NULL, NULL},
	/* Kubernetes (attest/k8s_attestor.c), in the order SPIRE's k8s attestor emits them. */
	{ATTR_ROW_PLAIN, "kubernetes.pod.service_account", "k8s:sa", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.namespace", "k8s:ns", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.node.name", "k8s:node-name", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.uid", "k8s:pod-uid", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.name", "k8s:pod-name", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.image_count", "k8s:pod-image-count", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.init_image_count", "k8s:pod-init-image-count", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.images", "k8s:pod-image", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.init_images", "k8s:pod-init-image", NULL, NULL},
	{ATTR_ROW_KEYED, "kubernetes.pod.label", "k8s:pod-label", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.owners", "k8s:pod-owner", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.pod.owner_uids", "k8s:pod-owner-uid", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.workload_container.name", "k8s:container-name", NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.workload_container.images", "k8s:container-image", NULL, NULL},
	/* Sigstore image signatures (attest/k8s_attestor.h, k8s_attestor_add_image_signature). */
	{ATTR_ROW_PRESENT, "kubernetes.image.signature.subject", "k8s:image-signature:verified",
	 NULL, NULL},
	{ATTR_ROW_PLAIN, "kubernetes.image.signature.subject", "k8s:image-signature-subject", NULL,
	 NULL},
	{ATTR_ROW_PLAIN, "kubernetes.image.signature.issuer", "k8s:image-signature-issuer", NULL,
	 NULL},
	{ATTR_ROW_PRESENT, "kubernetes.image.provenance.predicate_type",
	 "k8s:image-attestations:verified", NULL, NULL},
	{ATTR_ROW_PER_ID, "kubernetes.image.signature.value", "k8s",
	 "kubernetes.workload_container.id", "image-signature-content"},
	{ATTR_ROW_PER_ID, "kubernetes.image.signature.subject", "k8s",
	 "kubernetes.workload_container.id", "image-signature-subject"},
	{ATTR_ROW_PER_ID, "kubernetes.image.signature.log_id", "k8s",
	 "kubernetes.workload_container.id", "image-signature-logid"},
	{ATTR_ROW_PER_ID, "kubernetes.image.signature.integrated_time", "k8s",
	 "kubernetes.workload_container.id", "image-signature-integrated-time"},
	{ATTR_ROW_PLAIN, "kubernetes.image.sigstore_validation", "k8s:sigstore-validation", NULL,
	 NULL},
};

struct attr_entry {
	char *name;
	char **values;
	size_t n, cap;
};

struct attr_set {
	struct attr_entry *entries;
	size_t n, cap;
};

int attr_set_new(struct attr_set **out)
{
	struct attr_set *set = calloc(1, sizeof(*set));

	if (!set)
		return -ENOMEM;
	*out = set;
	return 0;
}

void attr_set_free(struct attr_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		for (size_t j = 0; j < set->entries[i].n; j++)
			free(set->entries[i].values[j]);
		free(set->entries[i].values);
		free(set->entries[i].name);
	}
	free(set->entries);
	free(set);
}

static struct attr_entry *attr_find(const struct attr_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->entries[i].name, name) == 0)
			return &set->entries[i];
	return NULL;
}

/* Grows *arr (of elements of size `elem`) so that it holds at least n + 1 elements. */
static int attr_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : ATTR_INITIAL_CAP;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int attr_set_add(struct attr_set *set, const char *name, const char *value)
{
	struct attr_entry *e;
	char *v = NULL;
	size_t nlen, vlen;
	int ret;

	if (!name || !value)
		return -EINVAL;
	nlen = strnlen(name, ATTR_NAME_MAX);
	vlen = strnlen(value, ATTR_VALUE_MAX);
	if (nlen == 0 || nlen >= ATTR_NAME_MAX || vlen >= ATTR_VALUE_MAX)
		return -EINVAL;
	/* Empty values only for keyed names: a Kubernetes label may be "" (SPIRE then has the
	 * selector k8s:pod-label:key:), a uid or a path never is. */
	if (vlen == 0 && name[nlen - 1] != ']')
		return -EINVAL;

	e = attr_find(set, name);
	if (e) {
		for (size_t j = 0; j < e->n; j++)
			if (strcmp(e->values[j], value) == 0)
				return 0;
		if (e->n >= ATTR_MAX_VALUES)
			return -E2BIG;
	} else if (set->n >= ATTR_MAX_NAMES) {
		return -E2BIG;
	}

	v = strdup(value);
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	if (!e) {
		ret = attr_grow((void **)&set->entries, &set->cap, set->n, sizeof(*set->entries));
		if (ret < 0)
			goto out;
		e = &set->entries[set->n];
		memset(e, 0, sizeof(*e));
		e->values = malloc(ATTR_INITIAL_CAP * sizeof(*e->values));
		e->name = strdup(name);
		if (!e->values || !e->name) {
			free(e->values);
			free(e->name);
			ret = -ENOMEM;
			goto out;
		}
		e->cap = ATTR_INITIAL_CAP;
		set->n++;
	}
	ret = attr_grow((void **)&e->values, &e->cap, e->n, sizeof(*e->values));
	if (ret < 0)
		goto out;
	e->values[e->n++] = v;
	v = NULL;
	ret = 0;
out:
	free(v);
	return ret;
}

int attr_set_addf(struct attr_set *set, const char *name, const char *fmt, ...)
{
	char buf[ATTR_VALUE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return attr_set_add(set, name, buf);
}

size_t attr_set_count(const struct attr_set *set)
{
	return set->n;
}

const char *attr_set_name(const struct attr_set *set, size_t i)
{
	return i < set->n ? set->entries[i].name : NULL;
}

size_t attr_set_value_count(const struct attr_set *set, size_t i)
{
	return i < set->n ? set->entries[i].n : 0;
}

const char *attr_set_value(const struct attr_set *set, size_t i, size_t j)
{
	if (i >= set->n || j >= set->entries[i].n)
		return NULL;
	return set->entries[i].values[j];
}

const char *const *attr_set_get(const struct attr_set *set, const char *name, size_t *n)
{
	const struct attr_entry *e = attr_find(set, name);

	*n = e ? e->n : 0;
	return e ? (const char *const *)e->values : NULL;
}

int attr_name_split_key(const char *name, size_t *prefix_len, const char **key, size_t *key_len)
{
	const char *open, *close;
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, ATTR_NAME_MAX);
	if (len == 0 || len >= ATTR_NAME_MAX)
		return -EINVAL;
	open = strchr(name, '[');
	close = strchr(name, ']');
	if (!open || open == name || !close || close != name + len - 1 || close <= open + 1)
		return -EINVAL;
	if (memchr(open + 1, '[', (size_t)(close - open - 1)))
		return -EINVAL;
	*prefix_len = (size_t)(open - name);
	*key = open + 1;
	*key_len = (size_t)(close - open - 1);
	return 0;
}

static void selectors_clear(struct selectors *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		free(sel->items[i]);
	free(sel->items);
	sel->items = NULL;
	sel->n = 0;
}

void selectors_free(struct selectors *sel)
{
	if (sel)
		selectors_clear(sel);
}

/* Appends "<prefix>:<key>:<value>" (key may be NULL; value may be NULL: "<prefix>"). */
static int selectors_push(struct selectors *sel, size_t *cap, const char *prefix, const char *key,
			  size_t key_len, const char *value)
{
	size_t len = strlen(prefix) + 1 + (key ? key_len + 1 : 0) + (value ? strlen(value) : 0) + 1;
	char *s;
	int ret;

	ret = attr_grow((void **)&sel->items, cap, sel->n, sizeof(*sel->items));
	if (ret < 0)
		return ret;
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	if (!value)
		snprintf(s, len, "%s", prefix);
	else if (key)
		snprintf(s, len, "%s:%.*s:%s", prefix, (int)key_len, key, value);
	else
		snprintf(s, len, "%s:%s", prefix, value);
	sel->items[sel->n++] = s;
	return 0;
}

/* PER_ID rows: "<type>:<id>:<suffix>:<value>" for every id and value. */
static int selectors_per_id(const struct attr_set *set, const struct attr_selector_row *row,
			    struct selectors *sel, size_t *cap)
{
	const struct attr_entry *ids = attr_find(set, row->id_attr), *e = attr_find(set, row->attr);
	char key[ATTR_VALUE_MAX + 128];
	int ret;

	for (size_t i = 0; ids && e && i < ids->n; i++) {
		int n = snprintf(key, sizeof(key), "%s:%s", ids->values[i], row->suffix);

		if (n < 0 || (size_t)n >= sizeof(key))
			return -E2BIG;
		for (size_t j = 0; j < e->n; j++) {
			ret = selectors_push(sel, cap, row->selector, key, (size_t)n, e->values[j]);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int selectors_from_row(const struct attr_set *set, const struct attr_selector_row *row,
			      struct selectors *sel, size_t *cap)
{
	const struct attr_entry *e;
	int ret;

	if (row->kind == ATTR_ROW_PER_ID)
		return selectors_per_id(set, row, sel, cap);
	if (row->kind == ATTR_ROW_PRESENT) {
		e = attr_find(set, row->attr);
		return e && e->n ? selectors_push(sel, cap, row->selector, NULL, 0, NULL) : 0;
	}
	if (row->kind == ATTR_ROW_PLAIN) {
		e = attr_find(set, row->attr);
		for (size_t j = 0; e && j < e->n; j++) {
			ret = selectors_push(sel, cap, row->selector, NULL, 0, e->values[j]);
			if (ret < 0)
				return ret;
		}
		return 0;
	}

	for (size_t i = 0; i < set->n; i++) {
		const char *key;
		size_t plen, klen;

		e = &set->entries[i];
		if (attr_name_split_key(e->name, &plen, &key, &klen) < 0)
			continue;
		if (plen != strlen(row->attr) || strncmp(e->name, row->attr, plen) != 0)
			continue;
		for (size_t j = 0; j < e->n; j++) {
			ret = selectors_push(sel, cap, row->selector, key, klen, e->values[j]);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

struct sel_index {
	const char *s;
	size_t i;
};

static int sel_index_cmp(const void *a, const void *b)
{
	const struct sel_index *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Drops later duplicates, keeping the first occurrence of each selector in place. */
static int selectors_dedup(struct selectors *sel)
{
	struct sel_index *idx;
	size_t w = 0;

	if (sel->n < 2)
		return 0;
	idx = calloc(sel->n, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < sel->n; i++)
		idx[i] = (struct sel_index){.s = sel->items[i], .i = i};
	qsort(idx, sel->n, sizeof(*idx), sel_index_cmp);
	/* Runs of equal strings are ordered by index: all but the first of a run go. Mark first,
	 * free afterwards, so every comparison reads a live string. */
	for (size_t k = sel->n - 1; k > 0; k--)
		if (strcmp(idx[k].s, idx[k - 1].s) == 0)
			idx[k].s = NULL;
	for (size_t k = 1; k < sel->n; k++) {
		if (!idx[k].s) {
			free(sel->items[idx[k].i]);
			sel->items[idx[k].i] = NULL;
		}
	}
	free(idx);
	for (size_t i = 0; i < sel->n; i++)
		if (sel->items[i])
			sel->items[w++] = sel->items[i];
	sel->n = w;
	return 0;
}

int attr_set_selectors(const struct attr_set *set, struct selectors *out)
{
	struct selectors sel = {0};
	size_t cap = 0;
	int ret = 0;

	for (size_t r = 0; r < sizeof(attr_selector_table) / sizeof(attr_selector_table[0]); r++) {
		ret = selectors_from_row(set, &attr_selector_table[r], &sel, &cap);
		if (ret < 0)
			goto out;
	}
	ret = selectors_dedup(&sel);
out:
	if (ret < 0)
		selectors_clear(&sel);
	*out = sel;
	return ret;
}
