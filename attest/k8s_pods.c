// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * k8s_pods.c - parse a kubelet PodList (jansson) into an immutable index. Everything a parsed
 * list holds lives in one arena, freed at once; the JSON tree is dropped after parsing, so a
 * cached list costs only the fields the attestor reads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/k8s_pods.h"

#define K8S_ARENA_BLOCK (64u << 10)
#define K8S_ARENA_ALIGN 16u
#define K8S_PATH_MAX	128 /* JSON path of a field inside a pod, in error messages */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(K8S_ARENA_ALIGN) unsigned char data[];
};

struct uid_entry {
	const char *uid;
	size_t pod;
	size_t other; /* SIZE_MAX, or a second pod carrying the same UID */
};

struct cid_entry {
	const char *id;
	size_t pod;
	enum k8s_container_kind kind;
	size_t idx;   /* into pod->status[kind] */
	size_t other; /* SIZE_MAX, or the pod of a second status claiming the ID */
};

struct k8s_pods {
	struct arena_block *arena;
	struct k8s_pod *pods;
	size_t n_pods, dropped;
	struct uid_entry *uids;
	size_t n_uids;
	struct cid_entry *cids;
	size_t n_cids;
};

static const char *const k8s_spec_keys[K8S_CONTAINER_KINDS] = {
	"containers",
	"initContainers",
	"ephemeralContainers",
};

static const char *const k8s_status_keys[K8S_CONTAINER_KINDS] = {
	"containerStatuses",
	"initContainerStatuses",
	"ephemeralContainerStatuses",
};

static const char *const k8s_states[] = {"running", "waiting", "terminated"};

const char *k8s_container_kind_name(enum k8s_container_kind kind)
{
	switch (kind) {
	case K8S_CONTAINER:
		return "container";
	case K8S_INIT_CONTAINER:
		return "init container";
	case K8S_EPHEMERAL_CONTAINER:
		return "ephemeral container";
	default:
		return "?";
	}
}

/* ---- arena ------------------------------------------------------------------------------ */

/* Zeroed memory owned by the arena. NULL on ENOMEM. */
static void *arena_alloc(struct arena_block **arena, size_t n)
{
	struct arena_block *b = *arena;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - K8S_ARENA_ALIGN)
		return NULL;
	n = (n + K8S_ARENA_ALIGN - 1) & ~(size_t)(K8S_ARENA_ALIGN - 1);
	if (!b || b->cap - b->used < n) {
		size_t cap = n > K8S_ARENA_BLOCK ? n : K8S_ARENA_BLOCK;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		/* A block bigger than the standard size goes behind the current one, so the
		 * current block's free space stays in use. */
		if (*arena && cap > K8S_ARENA_BLOCK) {
			b->next = (*arena)->next;
			(*arena)->next = b;
		} else {
			b->next = *arena;
			*arena = b;
		}
	}
	p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void *arena_array(struct arena_block **arena, size_t n, size_t elem)
{
	if (elem && n > SIZE_MAX / elem)
		return NULL;
	return arena_alloc(arena, n * elem);
}

static void arena_free(struct arena_block *b)
{
	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
}

/* ---- JSON helpers ----------------------------------------------------------------------- */

struct parser {
	struct k8s_pods *pods;
	char *err;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int ret, const char *fmt,
						      ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, 256, "pod list: ");
	va_start(ap, fmt);
	vsnprintf(p->err + n, 256 - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* obj[key] as an object; absent or null gives NULL. */
static int get_object(struct parser *p, json_t *obj, const char *path, const char *key,
		      json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(p, -EPROTO, "%s.%s: not an object", path, key);
	*out = v;
	return 0;
}

/* obj[key] as an array of at most max elements; absent or null gives NULL. */
static int get_array(struct parser *p, json_t *obj, const char *path, const char *key, size_t max,
		     json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(p, -EPROTO, "%s.%s: not an array", path, key);
	if (json_array_size(v) > max)
		return fail(p, -E2BIG, "%s.%s: more than %zu entries", path, key, max);
	*out = v;
	return 0;
}

static int copy_string(struct parser *p, json_t *v, const char *path, const char *key,
		       const char **out)
{
	size_t len = json_string_length(v);
	char *s;

	if (len > K8S_PODS_MAX_STRING)
		return fail(p, -E2BIG, "%s%s%s: longer than %u bytes", path, key ? "." : "",
			    key ? key : "", K8S_PODS_MAX_STRING);
	s = arena_alloc(&p->pods->arena, len + 1);
	if (!s)
		return fail(p, -ENOMEM, "out of memory");
	memcpy(s, json_string_value(v), len);
	s[len] = '\0';
	*out = s;
	return 0;
}

/* obj[key] as a string; absent or null gives NULL; required makes absence an error. */
static int get_string(struct parser *p, json_t *obj, const char *path, const char *key,
		      bool required, const char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return fail(p, -EPROTO, "%s.%s: missing", path, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(p, -EPROTO, "%s.%s: not a string", path, key);
	return copy_string(p, v, path, key, out);
}

/* A map of string to string (labels, annotations). */
static int get_kv(struct parser *p, json_t *obj, const char *path, const char *key,
		  const struct k8s_kv **out, size_t *n_out)
{
	char sub[K8S_PATH_MAX];
	struct k8s_kv *kv;
	const char *k;
	json_t *map, *v;
	size_t n = 0;
	int ret;

	*out = NULL;
	*n_out = 0;
	ret = get_object(p, obj, path, key, &map);
	if (ret < 0 || !map)
		return ret;
	if (json_object_size(map) > K8S_PODS_MAX_KV)
		return fail(p, -E2BIG, "%s.%s: more than %d entries", path, key, K8S_PODS_MAX_KV);
	kv = arena_array(&p->pods->arena, json_object_size(map), sizeof(*kv));
	if (!kv)
		return fail(p, -ENOMEM, "out of memory");
	json_object_foreach (map, k, v) {
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (!json_is_string(v))
			return fail(p, -EPROTO, "%s[%s]: not a string", sub, k);
		if (strlen(k) > K8S_PODS_MAX_STRING)
			return fail(p, -E2BIG, "%s: key longer than %u bytes", sub,
				    K8S_PODS_MAX_STRING);
		kv[n].key = arena_alloc(&p->pods->arena, strlen(k) + 1);
		if (!kv[n].key)
			return fail(p, -ENOMEM, "out of memory");
		memcpy((char *)kv[n].key, k, strlen(k) + 1);
		ret = copy_string(p, v, sub, NULL, &kv[n].value);
		if (ret < 0)
			return ret;
		n++;
	}
	*out = kv;
	*n_out = n;
	return 0;
}

/* ---- pods ------------------------------------------------------------------------------- */

static int parse_owners(struct parser *p, json_t *meta, const char *path, struct k8s_pod *pod)
{
	char sub[K8S_PATH_MAX];
	struct k8s_owner *owners;
	json_t *arr, *o;
	size_t i;
	int ret;

	ret = get_array(p, meta, path, "ownerReferences", K8S_PODS_MAX_OWNERS, &arr);
	if (ret < 0 || !arr)
		return ret;
	owners = arena_array(&p->pods->arena, json_array_size(arr), sizeof(*owners));
	if (!owners)
		return fail(p, -ENOMEM, "out of memory");
	json_array_foreach (arr, i, o) {
		snprintf(sub, sizeof(sub), "%s.ownerReferences[%zu]", path, i);
		if (!json_is_object(o))
			return fail(p, -EPROTO, "%s: not an object", sub);
		ret = get_string(p, o, sub, "kind", true, &owners[i].kind);
		if (ret == 0)
			ret = get_string(p, o, sub, "name", true, &owners[i].name);
		if (ret == 0)
			ret = get_string(p, o, sub, "uid", true, &owners[i].uid);
		if (ret < 0)
			return ret;
	}
	pod->owners = owners;
	pod->n_owners = json_array_size(arr);
	return 0;
}

static int parse_specs(struct parser *p, json_t *spec, const char *path, struct k8s_pod *pod,
		       enum k8s_container_kind kind)
{
	char sub[K8S_PATH_MAX];
	struct k8s_container_spec *cs;
	json_t *arr, *c;
	size_t i;
	int ret;

	ret = get_array(p, spec, path, k8s_spec_keys[kind], K8S_PODS_MAX_CONTAINERS, &arr);
	if (ret < 0 || !arr)
		return ret;
	cs = arena_array(&p->pods->arena, json_array_size(arr), sizeof(*cs));
	if (!cs)
		return fail(p, -ENOMEM, "out of memory");
	json_array_foreach (arr, i, c) {
		snprintf(sub, sizeof(sub), "%s.%s[%zu]", path, k8s_spec_keys[kind], i);
		if (!json_is_object(c))
			return fail(p, -EPROTO, "%s: not an object", sub);
		ret = get_string(p, c, sub, "name", true, &cs[i].name);
		if (ret == 0)
			ret = get_string(p, c, sub, "image", false, &cs[i].image);
		if (ret < 0)
			return ret;
	}
	pod->spec[kind] = cs;
	pod->n_spec[kind] = json_array_size(arr);
	return 0;
}

/* "containerd://<id>" -> runtime "containerd", id "<id>". */
static int split_container_id(struct parser *p, const char *path, char *cid,
			      struct k8s_container_status *st)
{
	char *sep = strstr(cid, "://");
	const char *id;

	if (!sep || sep == cid)
		return fail(p, -EPROTO, "%s.containerID: no runtime scheme (want <runtime>://<id>)",
			    path);
	for (const char *c = cid; c < sep; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
		      *c == '.' || *c == '+'))
			return fail(p, -EPROTO, "%s.containerID: bad runtime scheme", path);
	id = sep + 3;
	if (*id == '\0' || strchr(id, '/'))
		return fail(p, -EPROTO, "%s.containerID: bad container id", path);
	*sep = '\0';
	st->runtime = cid;
	st->container_id = id;
	return 0;
}

static int parse_statuses(struct parser *p, json_t *status, const char *path, struct k8s_pod *pod,
			  enum k8s_container_kind kind)
{
	char sub[K8S_PATH_MAX];
	struct k8s_container_status *cs;
	const char *cid = NULL;
	json_t *arr, *c, *state = NULL;
	size_t i;
	int ret;

	ret = get_array(p, status, path, k8s_status_keys[kind], K8S_PODS_MAX_CONTAINERS, &arr);
	if (ret < 0 || !arr)
		return ret;
	cs = arena_array(&p->pods->arena, json_array_size(arr), sizeof(*cs));
	if (!cs)
		return fail(p, -ENOMEM, "out of memory");
	json_array_foreach (arr, i, c) {
		snprintf(sub, sizeof(sub), "%s.%s[%zu]", path, k8s_status_keys[kind], i);
		if (!json_is_object(c))
			return fail(p, -EPROTO, "%s: not an object", sub);
		ret = get_string(p, c, sub, "name", true, &cs[i].name);
		if (ret == 0)
			ret = get_string(p, c, sub, "image", false, &cs[i].image);
		if (ret == 0)
			ret = get_string(p, c, sub, "imageID", false, &cs[i].image_id);
		if (ret == 0)
			ret = get_string(p, c, sub, "containerID", false, &cid);
		if (ret == 0 && cid && cid[0])
			ret = split_container_id(p, sub, (char *)cid, &cs[i]);
		if (ret == 0)
			ret = get_object(p, c, sub, "state", &state);
		if (ret < 0)
			return ret;
		for (size_t s = 0; state && s < sizeof(k8s_states) / sizeof(k8s_states[0]); s++) {
			json_t *v = json_object_get(state, k8s_states[s]);

			if (v && !json_is_null(v)) {
				cs[i].state = k8s_states[s];
				break;
			}
		}
	}
	pod->status[kind] = cs;
	pod->n_status[kind] = json_array_size(arr);
	return 0;
}

/* Parses items[i] into *pod. *keep is false for a pod that is dropped (terminated, no UID). */
static int parse_pod(struct parser *p, json_t *item, size_t i, struct k8s_pod *pod, bool *keep)
{
	char path[32], sub[48]; /* "items[<n>]" and "items[<n>].metadata" */
	json_t *meta, *spec, *status;
	int ret;

	*keep = false;
	snprintf(path, sizeof(path), "items[%zu]", i);
	if (!json_is_object(item))
		return fail(p, -EPROTO, "%s: not an object", path);
	ret = get_object(p, item, path, "metadata", &meta);
	if (ret == 0)
		ret = get_object(p, item, path, "spec", &spec);
	if (ret == 0)
		ret = get_object(p, item, path, "status", &status);
	if (ret < 0)
		return ret;
	if (!meta)
		return fail(p, -EPROTO, "%s.metadata: missing", path);

	snprintf(sub, sizeof(sub), "%s.status", path);
	if (status) {
		ret = get_string(p, status, sub, "phase", false, &pod->phase);
		if (ret < 0)
			return ret;
	}
	snprintf(sub, sizeof(sub), "%s.metadata", path);
	ret = get_string(p, meta, sub, "uid", false, &pod->uid);
	if (ret < 0)
		return ret;
	if (!pod->uid || !pod->uid[0] ||
	    (pod->phase && (!strcmp(pod->phase, "Succeeded") || !strcmp(pod->phase, "Failed"))))
		return 0;

	ret = get_string(p, meta, sub, "namespace", false, &pod->ns);
	if (ret == 0)
		ret = get_string(p, meta, sub, "name", false, &pod->name);
	if (ret == 0)
		ret = get_kv(p, meta, sub, "labels", &pod->labels, &pod->n_labels);
	if (ret == 0)
		ret = get_kv(p, meta, sub, "annotations", &pod->annotations, &pod->n_annotations);
	if (ret == 0)
		ret = parse_owners(p, meta, sub, pod);
	if (ret < 0)
		return ret;

	snprintf(sub, sizeof(sub), "%s.spec", path);
	if (spec) {
		ret = get_string(p, spec, sub, "serviceAccountName", false, &pod->service_account);
		if (ret == 0)
			ret = get_string(p, spec, sub, "nodeName", false, &pod->node_name);
		for (int k = 0; ret == 0 && k < K8S_CONTAINER_KINDS; k++)
			ret = parse_specs(p, spec, sub, pod, (enum k8s_container_kind)k);
		if (ret < 0)
			return ret;
	}
	snprintf(sub, sizeof(sub), "%s.status", path);
	for (int k = 0; status && k < K8S_CONTAINER_KINDS; k++) {
		ret = parse_statuses(p, status, sub, pod, (enum k8s_container_kind)k);
		if (ret < 0)
			return ret;
	}
	*keep = true;
	return 0;
}

/* ---- indexes ---------------------------------------------------------------------------- */

static int uid_cmp(const void *a, const void *b)
{
	const struct uid_entry *x = a, *y = b;
	int c = strcmp(x->uid, y->uid);

	return c ? c : (x->pod > y->pod) - (x->pod < y->pod);
}

static int cid_cmp(const void *a, const void *b)
{
	const struct cid_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	if (x->pod != y->pod)
		return (x->pod > y->pod) - (x->pod < y->pod);
	if (x->kind != y->kind)
		return (x->kind > y->kind) - (x->kind < y->kind);
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int build_indexes(struct parser *p)
{
	struct k8s_pods *pods = p->pods;
	size_t n = 0, w;

	pods->uids = arena_array(&pods->arena, pods->n_pods, sizeof(*pods->uids));
	if (!pods->uids)
		return fail(p, -ENOMEM, "out of memory");
	for (size_t i = 0; i < pods->n_pods; i++)
		pods->uids[i] = (struct uid_entry){pods->pods[i].uid, i, SIZE_MAX};
	qsort(pods->uids, pods->n_pods, sizeof(*pods->uids), uid_cmp);
	w = 0;
	for (size_t i = 0; i < pods->n_pods; i++) {
		if (w && strcmp(pods->uids[w - 1].uid, pods->uids[i].uid) == 0) {
			if (pods->uids[w - 1].other == SIZE_MAX)
				pods->uids[w - 1].other = pods->uids[i].pod;
			continue;
		}
		pods->uids[w++] = pods->uids[i];
	}
	pods->n_uids = w;

	for (size_t i = 0; i < pods->n_pods; i++)
		for (int k = 0; k < K8S_CONTAINER_KINDS; k++)
			for (size_t j = 0; j < pods->pods[i].n_status[k]; j++)
				n += pods->pods[i].status[k][j].container_id != NULL;
	pods->cids = arena_array(&pods->arena, n, sizeof(*pods->cids));
	if (!pods->cids)
		return fail(p, -ENOMEM, "out of memory");
	n = 0;
	for (size_t i = 0; i < pods->n_pods; i++)
		for (int k = 0; k < K8S_CONTAINER_KINDS; k++)
			for (size_t j = 0; j < pods->pods[i].n_status[k]; j++) {
				const char *id = pods->pods[i].status[k][j].container_id;

				if (id)
					pods->cids[n++] = (struct cid_entry){
						id, i, (enum k8s_container_kind)k, j, SIZE_MAX};
			}
	qsort(pods->cids, n, sizeof(*pods->cids), cid_cmp);
	w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w && strcmp(pods->cids[w - 1].id, pods->cids[i].id) == 0) {
			if (pods->cids[w - 1].other == SIZE_MAX)
				pods->cids[w - 1].other = pods->cids[i].pod;
			continue;
		}
		pods->cids[w++] = pods->cids[i];
	}
	pods->n_cids = w;
	return 0;
}

/* ---- public ----------------------------------------------------------------------------- */

int k8s_pods_parse(const char *json, size_t len, struct k8s_pods **out, char err[256])
{
	struct parser p = {.err = err};
	struct k8s_pods *pods = NULL;
	json_error_t jerr;
	json_t *root = NULL, *items;
	size_t i;
	json_t *item;
	int ret;

	*out = NULL;
	err[0] = '\0';
	if (len > K8S_PODS_MAX_BYTES) {
		snprintf(err, 256, "pod list: %zu bytes, more than the limit of %u", len,
			 K8S_PODS_MAX_BYTES);
		return -E2BIG;
	}
	pods = calloc(1, sizeof(*pods));
	if (!pods) {
		snprintf(err, 256, "pod list: out of memory");
		return -ENOMEM;
	}
	p.pods = pods;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ret = fail(&p, -EPROTO, "invalid JSON at line %d column %d: %s", jerr.line,
			   jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		ret = fail(&p, -EPROTO, "not a JSON object");
		goto out;
	}
	ret = get_array(&p, root, "$", "items", K8S_PODS_MAX_PODS, &items);
	if (ret < 0)
		goto out;
	if (items) {
		pods->pods = arena_array(&pods->arena, json_array_size(items), sizeof(*pods->pods));
		if (!pods->pods) {
			ret = fail(&p, -ENOMEM, "out of memory");
			goto out;
		}
	}
	json_array_foreach (items, i, item) {
		struct k8s_pod *pod = &pods->pods[pods->n_pods];
		bool keep;

		ret = parse_pod(&p, item, i, pod, &keep);
		if (ret < 0)
			goto out;
		if (keep) {
			pods->n_pods++;
		} else {
			memset(pod, 0, sizeof(*pod));
			pods->dropped++;
		}
	}
	ret = build_indexes(&p);
	if (ret < 0)
		goto out;
	*out = pods;
	pods = NULL;
out:
	json_decref(root);
	k8s_pods_free(pods);
	return ret;
}

void k8s_pods_free(struct k8s_pods *pods)
{
	if (!pods)
		return;
	arena_free(pods->arena);
	free(pods);
}

size_t k8s_pods_count(const struct k8s_pods *pods)
{
	return pods->n_pods;
}

const struct k8s_pod *k8s_pods_at(const struct k8s_pods *pods, size_t i)
{
	return i < pods->n_pods ? &pods->pods[i] : NULL;
}

size_t k8s_pods_dropped(const struct k8s_pods *pods)
{
	return pods->dropped;
}

static int uid_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct uid_entry *)elem)->uid);
}

static int cid_key_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cid_entry *)elem)->id);
}

int k8s_pods_by_uid(const struct k8s_pods *pods, const char *uid, const struct k8s_pod **pod,
		    char err[256])
{
	const struct uid_entry *e;

	*pod = NULL;
	e = pods->n_uids ? bsearch(uid, pods->uids, pods->n_uids, sizeof(*e), uid_key_cmp) : NULL;
	if (!e) {
		snprintf(err, 256, "pod list: no pod with UID %.64s", uid);
		return -ENOENT;
	}
	if (e->other != SIZE_MAX) {
		snprintf(err, 256,
			 "pod list: two pods carry UID %.64s (%.36s/%.36s and %.36s/%.36s)", uid,
			 pods->pods[e->pod].ns ? pods->pods[e->pod].ns : "?",
			 pods->pods[e->pod].name ? pods->pods[e->pod].name : "?",
			 pods->pods[e->other].ns ? pods->pods[e->other].ns : "?",
			 pods->pods[e->other].name ? pods->pods[e->other].name : "?");
		return -ENOTUNIQ;
	}
	*pod = &pods->pods[e->pod];
	return 0;
}

static const struct k8s_container_spec *spec_by_name(const struct k8s_pod *pod,
						     enum k8s_container_kind kind, const char *name)
{
	for (size_t i = 0; i < pod->n_spec[kind]; i++)
		if (strcmp(pod->spec[kind][i].name, name) == 0)
			return &pod->spec[kind][i];
	return NULL;
}

int k8s_pods_by_container_id(const struct k8s_pods *pods, const char *container_id,
			     const struct k8s_pod **pod, struct k8s_container_ref *ref,
			     char err[256])
{
	const struct cid_entry *e;
	const struct k8s_pod *pd;

	*pod = NULL;
	memset(ref, 0, sizeof(*ref));
	e = pods->n_cids ? bsearch(container_id, pods->cids, pods->n_cids, sizeof(*e), cid_key_cmp)
			 : NULL;
	if (!e) {
		snprintf(err, 256, "pod list: no container with ID %.80s", container_id);
		return -ENOENT;
	}
	pd = &pods->pods[e->pod];
	if (e->other != SIZE_MAX) {
		snprintf(err, 256,
			 "pod list: container ID %.80s is claimed more than once (pod UIDs %.40s "
			 "and %.40s)",
			 container_id, pd->uid, pods->pods[e->other].uid);
		return -ENOTUNIQ;
	}
	*pod = pd;
	ref->kind = e->kind;
	ref->status = &pd->status[e->kind][e->idx];
	ref->spec = spec_by_name(pd, e->kind, ref->status->name);
	return 0;
}

int k8s_pod_container_by_name(const struct k8s_pod *pod, const char *name,
			      struct k8s_container_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	for (int k = 0; k < K8S_CONTAINER_KINDS; k++) {
		ref->kind = (enum k8s_container_kind)k;
		ref->spec = spec_by_name(pod, ref->kind, name);
		for (size_t i = 0; i < pod->n_status[k]; i++) {
			if (strcmp(pod->status[k][i].name, name) == 0) {
				ref->status = &pod->status[k][i];
				break;
			}
		}
		if (ref->spec || ref->status)
			return 0;
	}
	memset(ref, 0, sizeof(*ref));
	return -ENOENT;
}
