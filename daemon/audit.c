/*
 * audit.c - fixed-capacity ring of compact records. slots[(head + i) % capacity] holds the i-th
 * oldest record. Appending copies what the JSON needs into one flat allocation (no JSON tree on
 * the hot path); the JSON is built when the records are read.
 */
#include "daemon/audit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One record. The strings follow the struct in one allocation, each NUL-terminated, in this
 * order: socket, cgroup_path, exe, comm, error, rpc, then nselectors selectors, then for each of
 * nattrs attributes its name and its values, then nspiffe_ids ids, then npolicy_errors errors.
 * attr_nvalues[] (nattrs counts) sits between the struct and the strings.
 */
struct audit_rec {
	uint64_t id;
	struct timespec time;
	uint64_t duration_us;
	int result;
	bool has_socket, has_error, has_rpc, has_peer;
	/* peer */
	bool groups_truncated, exe_known, race_free;
	enum peer_backend backend;
	pid_t pid, tid;
	uid_t uid, euid;
	gid_t gid, egid;
	uint32_t ngroups;
	gid_t groups[ATTESTD_MAX_GROUPS];
	uint64_t start_time_ns, cgroup_id, exe_ino;
	uint64_t exe_dev;
	uint32_t mnt_ns, pid_ns, net_ns, user_ns;
	/* counts */
	uint32_t nselectors, nattrs, nspiffe_ids, npolicy_errors;
	uint32_t attr_nvalues[]; /* nattrs entries, then the strings */
};

struct audit {
	uint32_t capacity;
	uint32_t head; /* oldest */
	uint32_t size;
	uint64_t count;
	struct audit_rec **slots;
	json_t *last; /* the newest record as JSON, when audit_append was asked for it */
};

int audit_new(uint32_t capacity, struct audit **out)
{
	struct audit *a;

	if (capacity == 0 || capacity > AUDIT_MAX_CAPACITY)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->slots = calloc(capacity, sizeof(*a->slots));
	if (!a->slots) {
		free(a);
		return -ENOMEM;
	}
	a->capacity = capacity;
	*out = a;
	return 0;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < a->size; i++)
		free(a->slots[(a->head + i) % a->capacity]);
	json_decref(a->last);
	free(a->slots);
	free(a);
}

/* ---- packing ------------------------------------------------------------------------------ */

/* A string field of the peer, "" when it fills its array without a NUL (rendered null). */
static const char *bounded(const char *s, size_t max)
{
	return strnlen(s, max) < max ? s : "";
}

struct packer {
	char *p;     /* NULL while sizing */
	size_t size; /* bytes needed (sizing) or written */
};

static void pack_str(struct packer *k, const char *s)
{
	size_t n = strlen(s ? s : "") + 1;

	if (k->p)
		memcpy(k->p + k->size, s ? s : "", n);
	k->size += n;
}

static void pack_strs(struct packer *k, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pack_str(k, v[i]);
}

/* Sizes (k->p NULL) or writes the strings of a record. */
static void pack_strings(struct packer *k, const struct audit_entry *e, const char *comm,
			 const char *err)
{
	const struct peer_identity *p = e->peer;
	const struct attr_set *set = e->attrs;

	pack_str(k, e->socket);
	pack_str(k, p ? bounded(p->cgroup_path, PEER_PATH_MAX) : "");
	pack_str(k, p ? bounded(p->exe_path, PEER_PATH_MAX) : "");
	pack_str(k, comm);
	pack_str(k, err);
	pack_str(k, e->rpc);
	if (e->selectors)
		pack_strs(k, (const char *const *)e->selectors->items, e->selectors->n);
	for (size_t i = 0; set && i < attr_set_count(set); i++) {
		pack_str(k, attr_set_name(set, i));
		for (size_t j = 0; j < attr_set_value_count(set, i); j++)
			pack_str(k, attr_set_value(set, i, j));
	}
	pack_strs(k, e->spiffe_ids, e->nspiffe_ids);
	pack_strs(k, e->policy_errors, e->npolicy_errors);
}

/* Caller frees. NULL on allocation failure or absurd counts. */
static struct audit_rec *rec_pack(uint64_t id, const struct timespec *t,
				  const struct audit_entry *e)
{
	const struct peer_identity *p = e->peer;
	size_t nattrs = e->attrs ? attr_set_count(e->attrs) : 0;
	size_t nsel = e->selectors ? e->selectors->n : 0;
	char comm[ATTESTD_COMM_LEN + 1] = "";
	struct packer k = {0};
	const char *err = NULL;
	struct audit_rec *r;
	size_t head;

	if (nattrs > UINT32_MAX || nsel > UINT32_MAX || e->nspiffe_ids > UINT32_MAX ||
	    e->npolicy_errors > UINT32_MAX)
		return NULL;
	if (e->result != 0)
		err = e->error && e->error[0] ? e->error : strerror(-e->result);
	if (p) /* comm may fill its array without a NUL */
		memcpy(comm, p->comm, ATTESTD_COMM_LEN);
	pack_strings(&k, e, comm, err);
	head = sizeof(*r) + nattrs * sizeof(r->attr_nvalues[0]);
	r = malloc(head + k.size);
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->time = *t;
	r->duration_us = e->duration_us;
	r->result = e->result;
	r->has_socket = e->socket != NULL;
	r->has_error = err != NULL;
	r->has_rpc = e->rpc != NULL;
	r->has_peer = p != NULL;
	if (p) {
		r->groups_truncated = p->groups_truncated;
		r->exe_known = p->exe_known;
		r->race_free = p->race_free;
		r->backend = p->backend;
		r->pid = p->pid;
		r->tid = p->tid;
		r->uid = p->uid;
		r->euid = p->euid;
		r->gid = p->gid;
		r->egid = p->egid;
		r->ngroups = p->ngroups < ATTESTD_MAX_GROUPS ? p->ngroups : ATTESTD_MAX_GROUPS;
		memcpy(r->groups, p->groups, r->ngroups * sizeof(r->groups[0]));
		r->start_time_ns = p->start_time_ns;
		r->cgroup_id = p->cgroup_id;
		r->exe_ino = p->exe_ino;
		r->exe_dev = (uint64_t)p->exe_dev;
		r->mnt_ns = p->mnt_ns;
		r->pid_ns = p->pid_ns;
		r->net_ns = p->net_ns;
		r->user_ns = p->user_ns;
	}
	r->nselectors = (uint32_t)nsel;
	r->nattrs = (uint32_t)nattrs;
	r->nspiffe_ids = (uint32_t)e->nspiffe_ids;
	r->npolicy_errors = (uint32_t)e->npolicy_errors;
	for (size_t i = 0; i < nattrs; i++)
		r->attr_nvalues[i] = (uint32_t)attr_set_value_count(e->attrs, i);
	k = (struct packer){.p = (char *)r + head};
	pack_strings(&k, e, comm, err);
	return r;
}

/* ---- rendering ---------------------------------------------------------------------------- */

static json_t *u64_or_null(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? json_null() : json_integer((json_int_t)v);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or values above
 * U+10FFFF, as jansson checks), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/* Caller frees: s with every byte that starts no valid UTF-8 sequence replaced by U+FFFD. */
static char *utf8_sanitize(const char *s)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *out = malloc(3 * len + 1);

	if (!out)
		return NULL;
	while (*in) {
		size_t n = utf8_seq(in);

		if (n) {
			memcpy(out + o, in, n);
			o += n;
			in += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			in++;
		}
	}
	out[o] = '\0';
	return out;
}

/* A JSON string; outside data (paths, comm, attribute values) may not be UTF-8. */
static json_t *str_json(const char *s)
{
	json_t *v = json_string(s);
	char *fixed;

	if (v)
		return v;
	fixed = utf8_sanitize(s);
	v = fixed ? json_string(fixed) : NULL;
	free(fixed);
	return v;
}

static json_t *str_or_null(const char *s)
{
	return s[0] ? str_json(s) : json_null();
}

/* Adds key -> v (stealing v); a NULL v marks failure. */
static int set_new(json_t *obj, const char *key, json_t *v, int r)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		return -ENOMEM;
	return r;
}

/* Reads the next packed string. */
static const char *next_str(const char **cur)
{
	const char *s = *cur;

	*cur += strlen(s) + 1;
	return s;
}

static json_t *peer_json(const struct audit_rec *p, const char *cgroup_path, const char *exe,
			 const char *comm)
{
	json_t *o = json_object(), *groups = json_array(), *ns = json_object();
	int r = 0;

	if (!o || !groups || !ns)
		goto fail;
	for (uint32_t i = 0; i < p->ngroups; i++) {
		if (json_array_append_new(groups, json_integer(p->groups[i])) < 0)
			goto fail;
	}
	r = set_new(ns, "mnt", p->mnt_ns ? json_integer(p->mnt_ns) : json_null(), r);
	r = set_new(ns, "pid", p->pid_ns ? json_integer(p->pid_ns) : json_null(), r);
	r = set_new(ns, "net", p->net_ns ? json_integer(p->net_ns) : json_null(), r);
	r = set_new(ns, "user", p->user_ns ? json_integer(p->user_ns) : json_null(), r);

	r = set_new(o, "pid", json_integer(p->pid), r);
	r = set_new(o, "tid", json_integer(p->tid), r);
	r = set_new(o, "start_time_ns", u64_or_null(p->start_time_ns), r);
	r = set_new(o, "uid", json_integer(p->uid), r);
	r = set_new(o, "gid", json_integer(p->gid), r);
	r = set_new(o, "euid", json_integer(p->euid), r);
	r = set_new(o, "egid", json_integer(p->egid), r);
	r = set_new(o, "supplementary_gids", groups, r);
	groups = NULL;
	/* More groups than BPF captures: policy must not assume the list is complete. */
	r = set_new(o, "supplementary_gids_truncated", json_boolean(p->groups_truncated), r);
	r = set_new(o, "cgroup_id", p->cgroup_id ? u64_or_null(p->cgroup_id) : json_null(), r);
	r = set_new(o, "cgroup_path", str_or_null(cgroup_path), r);
	r = set_new(o, "exe", str_or_null(exe), r);
	r = set_new(o, "exe_dev", p->exe_known ? u64_or_null(p->exe_dev) : json_null(), r);
	r = set_new(o, "exe_ino", p->exe_known ? u64_or_null(p->exe_ino) : json_null(), r);
	r = set_new(o, "comm", str_or_null(comm), r);
	r = set_new(o, "namespaces", ns, r);
	ns = NULL;
	r = set_new(o, "backend", json_string(peer_backend_name(p->backend)), r);
	r = set_new(o, "race_free", json_boolean(p->race_free), r);
	if (r < 0)
		goto fail;
	return o;
fail:
	json_decref(groups);
	json_decref(ns);
	json_decref(o);
	return NULL;
}

static json_t *strings_json(const char **cur, uint32_t n)
{
	json_t *a = json_array();

	for (uint32_t i = 0; i < n; i++) {
		const char *s = next_str(cur);

		if (a && json_array_append_new(a, str_json(s)) < 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *attrs_json(const struct audit_rec *rec, const char **cur)
{
	json_t *o = json_object();

	for (uint32_t i = 0; i < rec->nattrs; i++) {
		const char *name = next_str(cur);
		json_t *vals = strings_json(cur, rec->attr_nvalues[i]);
		char *fixed = NULL;
		int r = -1;

		if (o && vals) {
			r = json_object_set(o, name, vals);
			if (r < 0 && (fixed = utf8_sanitize(name)))
				r = json_object_set(o, fixed, vals);
		}
		free(fixed);
		json_decref(vals);
		if (r < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static void format_time(const struct timespec *t, char *buf, size_t len)
{
	struct tm tm;
	char date[32];

	if (!gmtime_r(&t->tv_sec, &tm) ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(date, sizeof(date), "1970-01-01T00:00:00");
	snprintf(buf, len, "%s.%06ldZ", date, (long)(t->tv_nsec / 1000));
}

/* New reference, NULL on allocation failure. The field order is the documented one. */
static json_t *rec_json(const struct audit_rec *rec)
{
	const char *cur = (const char *)&rec->attr_nvalues[rec->nattrs];
	const char *socket = next_str(&cur), *cgroup_path = next_str(&cur), *exe = next_str(&cur);
	const char *comm = next_str(&cur), *err = next_str(&cur), *rpc = next_str(&cur);
	json_t *o = json_object(), *sel, *attrs;
	char when[64];
	int r = 0;

	/* Every list is consumed in order, so each is built even if an earlier one failed. */
	sel = strings_json(&cur, rec->nselectors);
	attrs = attrs_json(rec, &cur);
	if (!o || !sel || !attrs)
		goto fail;
	format_time(&rec->time, when, sizeof(when));
	r = set_new(o, "id", u64_or_null(rec->id), r);
	r = set_new(o, "time", json_string(when), r);
	r = set_new(o, "socket", rec->has_socket ? str_json(socket) : json_null(), r);
	r = set_new(o, "peer", rec->has_peer ? peer_json(rec, cgroup_path, exe, comm) : json_null(),
		    r);
	r = set_new(o, "selectors", sel, r);
	sel = NULL;
	r = set_new(o, "attributes", attrs, r);
	attrs = NULL;
	r = set_new(o, "result", json_string(rec->result == 0 ? "attested" : "error"), r);
	r = set_new(o, "error", rec->has_error ? str_json(err) : json_null(), r);
	r = set_new(o, "duration_us", u64_or_null(rec->duration_us), r);
	r = set_new(o, "rpc", rec->has_rpc ? str_json(rpc) : json_null(), r);
	r = set_new(o, "spiffe_ids", strings_json(&cur, rec->nspiffe_ids), r);
	r = set_new(o, "policy_errors", strings_json(&cur, rec->npolicy_errors), r);
	if (r < 0)
		goto fail;
	return o;
fail:
	json_decref(sel);
	json_decref(attrs);
	json_decref(o);
	return NULL;
}

/* ---- public ------------------------------------------------------------------------------- */

json_t *audit_record_json(uint64_t id, const struct timespec *t, const struct audit_entry *e)
{
	struct audit_rec *rec = rec_pack(id, t, e);
	json_t *o = rec ? rec_json(rec) : NULL;

	free(rec);
	return o;
}

int64_t audit_append(struct audit *a, const struct audit_entry *e, json_t **rec_out)
{
	struct timespec now;
	uint64_t id = a->count + 1;
	struct audit_rec *rec;
	json_t *j = NULL;
	uint32_t slot;

	clock_gettime(CLOCK_REALTIME, &now);
	rec = rec_pack(id, &now, e);
	if (!rec)
		return -ENOMEM;
	if (rec_out) {
		j = rec_json(rec);
		if (!j) {
			free(rec);
			return -ENOMEM;
		}
	}
	if (a->size == a->capacity) {
		free(a->slots[a->head]);
		a->slots[a->head] = NULL;
		a->head = (a->head + 1) % a->capacity;
		a->size--;
	}
	slot = (uint32_t)(((uint64_t)a->head + a->size) % a->capacity);
	a->slots[slot] = rec;
	a->size++;
	a->count = id;
	json_decref(a->last);
	a->last = j;
	if (rec_out)
		*rec_out = j;
	return (int64_t)id;
}

json_t *audit_list(const struct audit *a, uint32_t limit)
{
	json_t *arr = json_array();
	uint32_t n = limit == 0 || limit > a->size ? a->size : limit;

	if (!arr)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)(((uint64_t)a->head + a->size - 1 - i) % a->capacity);

		if (json_array_append_new(arr, rec_json(a->slots[slot])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

uint64_t audit_count(const struct audit *a)
{
	return a->count;
}

uint32_t audit_size(const struct audit *a)
{
	return a->size;
}
