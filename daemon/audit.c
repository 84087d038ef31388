/*
 * audit.c - fixed-capacity ring of JSON records. slots[(head + i) % capacity] holds the i-th
 * oldest record; the ring owns one reference to each.
 */
#include "daemon/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct audit {
	uint32_t capacity;
	uint32_t head; /* oldest */
	uint32_t size;
	uint64_t count;
	json_t **slots;
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
		json_decref(a->slots[(a->head + i) % a->capacity]);
	free(a->slots);
	free(a);
}

static json_t *u64_or_null(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? json_null() : json_integer((json_int_t)v);
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Adds key -> v (stealing v); a NULL v marks failure. */
static int set_new(json_t *obj, const char *key, json_t *v, int r)
{
	if (!v || json_object_set_new(obj, key, v) < 0)
		return -ENOMEM;
	return r;
}

static json_t *peer_json(const struct peer_identity *p)
{
	json_t *o = json_object(), *groups = json_array(), *ns = json_object();
	char comm[ATTESTD_COMM_LEN + 1];
	int r = 0;

	if (!o || !groups || !ns)
		goto fail;
	for (uint32_t i = 0; i < p->ngroups && i < ATTESTD_MAX_GROUPS; i++) {
		if (json_array_append_new(groups, json_integer(p->groups[i])) < 0)
			goto fail;
	}
	r = set_new(ns, "mnt", p->mnt_ns ? json_integer(p->mnt_ns) : json_null(), r);
	r = set_new(ns, "pid", p->pid_ns ? json_integer(p->pid_ns) : json_null(), r);
	r = set_new(ns, "net", p->net_ns ? json_integer(p->net_ns) : json_null(), r);
	r = set_new(ns, "user", p->user_ns ? json_integer(p->user_ns) : json_null(), r);
	/* comm may fill its array without a NUL */
	memcpy(comm, p->comm, ATTESTD_COMM_LEN);
	comm[ATTESTD_COMM_LEN] = '\0';

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
	r = set_new(o, "cgroup_path",
		    str_or_null(strnlen(p->cgroup_path, PEER_PATH_MAX) < PEER_PATH_MAX
					? p->cgroup_path
					: NULL),
		    r);
	r = set_new(o, "exe",
		    str_or_null(strnlen(p->exe_path, PEER_PATH_MAX) < PEER_PATH_MAX ? p->exe_path
										    : NULL),
		    r);
	r = set_new(o, "exe_dev", p->exe_known ? u64_or_null((uint64_t)p->exe_dev) : json_null(),
		    r);
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

static json_t *attrs_json(const struct attr_set *set)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; set && i < attr_set_count(set); i++) {
		json_t *vals = json_array();

		if (!vals || json_object_set_new(o, attr_set_name(set, i), vals) < 0)
			goto fail;
		for (size_t j = 0; j < attr_set_value_count(set, i); j++) {
			if (json_array_append_new(vals, json_string(attr_set_value(set, i, j))) < 0)
				goto fail;
		}
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *selectors_json(const struct selectors *sel)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; sel && i < sel->n; i++) {
		if (json_array_append_new(arr, json_string(sel->items[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
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

static json_t *strings_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *audit_record_json(uint64_t id, const struct timespec *t, const struct audit_entry *e)
{
	json_t *o = json_object();
	char when[64];
	const char *err = NULL;
	int r = 0;

	if (!o)
		return NULL;
	format_time(t, when, sizeof(when));
	if (e->result != 0)
		err = e->error && e->error[0] ? e->error : strerror(-e->result);
	r = set_new(o, "id", u64_or_null(id), r);
	r = set_new(o, "time", json_string(when), r);
	r = set_new(o, "socket", e->socket ? json_string(e->socket) : json_null(), r);
	r = set_new(o, "peer", e->peer ? peer_json(e->peer) : json_null(), r);
	r = set_new(o, "selectors", selectors_json(e->selectors), r);
	r = set_new(o, "attributes", attrs_json(e->attrs), r);
	r = set_new(o, "result", json_string(e->result == 0 ? "attested" : "error"), r);
	r = set_new(o, "error", err ? json_string(err) : json_null(), r);
	r = set_new(o, "duration_us", u64_or_null(e->duration_us), r);
	r = set_new(o, "rpc", e->rpc ? json_string(e->rpc) : json_null(), r);
	r = set_new(o, "spiffe_ids", strings_json(e->spiffe_ids, e->nspiffe_ids), r);
	r = set_new(o, "policy_errors", strings_json(e->policy_errors, e->npolicy_errors), r);
	if (r < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int64_t audit_append(struct audit *a, const struct audit_entry *e, json_t **rec_out)
{
	struct timespec now;
	uint64_t id = a->count + 1;
	json_t *rec;
	uint32_t slot;

	clock_gettime(CLOCK_REALTIME, &now);
	rec = audit_record_json(id, &now, e);
	if (!rec)
		return -ENOMEM;
	if (a->size == a->capacity) {
		json_decref(a->slots[a->head]);
		a->slots[a->head] = NULL;
		a->head = (a->head + 1) % a->capacity;
		a->size--;
	}
	slot = (uint32_t)(((uint64_t)a->head + a->size) % a->capacity);
	a->slots[slot] = rec;
	a->size++;
	a->count = id;
	if (rec_out)
		*rec_out = rec;
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

		if (json_array_append(arr, a->slots[slot]) < 0) {
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
