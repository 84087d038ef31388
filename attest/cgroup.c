// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup.c - pod UID and container ID from a cgroup path. See cgroup.h and README "cgroup
 * layouts". A path is read as a list of components ("/"-separated, leading ".." of a cgroup
 * namespace skipped); each component is classified on its own (with its parent for the cgroupfs
 * QoS and "/docker/<id>"):
 *   pod:       "pod<uid>" (cgroupfs) or "<prefix>-pod<uid>.slice" (systemd), <uid> a UUID with
 *              "-" or (systemd) "_", or 32 hex (a static pod's config hash)
 *   container: "<64hex>", "docker-<64hex>", "cri-containerd-<64hex>", "crio-<64hex>",
 *              "crio-conmon-<64hex>", each with an optional ".scope"
 *   both:      "<pod slice>:<runtime prefix>:<64hex>" (runc's systemd cgroupsPath as a name)
 * Container IDs above the pod component (kind's node container) are enclosing containers and
 * are ignored; every pod UID in the path, and every container ID below the pod, must agree.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "attest/cgroup.h"

#define UUID_LEN	 36 /* 8-4-4-4-12 */
#define STATIC_UID_LEN	 32 /* kubelet's md5 config hash for static pods */
#define CONTAINER_ID_LEN 64
#define HIERARCHY_ID_MAX 10 /* digits of the first field of a /proc/<pid>/cgroup line */
#define WHAT_MAX	 48 /* "cgroup file line 123" */

struct span {
	const char *s;
	size_t n;
};

/* What one path component names. */
struct component {
	bool has_pod;
	char pod_uid[UUID_LEN + 1];
	enum cgroup_qos qos;
	bool has_ctr;
	char ctr[CONTAINER_ID_LEN + 1];
	enum cgroup_runtime runtime;
	bool crio_conmon;
};

static const struct {
	const char *prefix; /* before the ID, in "<prefix><64hex>[.scope]" */
	enum cgroup_runtime runtime;
	bool crio_conmon;
} ctr_prefixes[] = {
	{"docker-", CGROUP_RUNTIME_DOCKER, false},
	{"cri-containerd-", CGROUP_RUNTIME_CONTAINERD, false},
	{"crio-conmon-", CGROUP_RUNTIME_CRIO, true},
	{"crio-", CGROUP_RUNTIME_CRIO, false},
};

static const struct {
	const char *name; /* middle field of "<slice>:<name>:<64hex>" */
	enum cgroup_runtime runtime;
} colon_prefixes[] = {
	{"cri-containerd", CGROUP_RUNTIME_CONTAINERD},
	{"crio", CGROUP_RUNTIME_CRIO},
	{"docker", CGROUP_RUNTIME_DOCKER},
};

static bool span_eq(struct span a, const char *lit)
{
	size_t n = strlen(lit);

	return a.n == n && memcmp(a.s, lit, n) == 0;
}

static bool span_strip_suffix(struct span *a, const char *suffix)
{
	size_t n = strlen(suffix);

	if (a->n < n || memcmp(a->s + a->n - n, suffix, n) != 0)
		return false;
	a->n -= n;
	return true;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

static bool is_container_id(struct span a)
{
	return a.n == CONTAINER_ID_LEN && all_lower_hex(a.s, a.n);
}

/*
 * A pod UID as kubelet writes it in a cgroup name: a lowercase UUID whose four separators are
 * all '-' (cgroupfs) or all '_' (systemd), or 32 lowercase hex (static pod). Canonical form
 * (dashes) into out.
 */
static bool parse_pod_uid(const char *s, size_t n, char out[UUID_LEN + 1])
{
	static const size_t seps[] = {8, 13, 18, 23};
	char sep;

	if (n == STATIC_UID_LEN) {
		if (!all_lower_hex(s, n))
			return false;
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != UUID_LEN)
		return false;
	sep = s[seps[0]];
	if (sep != '-' && sep != '_')
		return false;
	for (size_t i = 0, k = 0; i < n; i++) {
		if (k < 4 && i == seps[k]) {
			if (s[i] != sep)
				return false;
			out[i] = '-';
			k++;
		} else if (is_lower_hex(s[i])) {
			out[i] = s[i];
		} else {
			return false;
		}
	}
	out[n] = '\0';
	return true;
}

static enum cgroup_qos qos_from_word(struct span w)
{
	if (span_eq(w, "besteffort"))
		return CGROUP_QOS_BESTEFFORT;
	if (span_eq(w, "burstable"))
		return CGROUP_QOS_BURSTABLE;
	if (span_eq(w, "kubepods"))
		return CGROUP_QOS_GUARANTEED; /* the pod sits right under kubepods */
	return CGROUP_QOS_UNKNOWN;
}

/*
 * name (unit suffix stripped) ends in "pod<uid>", which is all of it (cgroupfs) or, when
 * allow_prefix (a systemd slice), follows "<prefix>-". The QoS is the last dash-separated word
 * of the prefix ("kubepods-besteffort-pod..."), or the parent component for cgroupfs
 * ("/kubepods/burstable/pod...").
 */
static bool parse_pod_component(struct span name, bool allow_prefix, struct span parent,
				struct component *c)
{
	static const size_t uid_lens[] = {UUID_LEN, STATIC_UID_LEN};

	for (size_t i = 0; i < sizeof(uid_lens) / sizeof(uid_lens[0]); i++) {
		size_t ulen = uid_lens[i], start;
		struct span prefix, word;

		if (name.n < 3 + ulen)
			continue;
		start = name.n - ulen - 3;
		if (memcmp(name.s + start, "pod", 3) != 0)
			continue;
		if (start > 0 && (!allow_prefix || name.s[start - 1] != '-'))
			continue;
		if (!parse_pod_uid(name.s + start + 3, ulen, c->pod_uid))
			continue;
		c->has_pod = true;
		if (start == 0) {
			word = parent;
			span_strip_suffix(&word, ".slice");
		} else {
			prefix = (struct span){name.s, start - 1};
			word = prefix;
			for (size_t k = prefix.n; k > 0; k--) {
				if (prefix.s[k - 1] == '-') {
					word = (struct span){prefix.s + k, prefix.n - k};
					break;
				}
			}
		}
		c->qos = qos_from_word(word);
		return true;
	}
	return false;
}

/* "<pod slice>:<runtime>:<64hex>", e.g. "kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>" */
static void parse_colon_component(struct span comp, struct component *c)
{
	const char *c1 = memchr(comp.s, ':', comp.n), *c2;
	struct span slice, rt, id;

	if (!c1)
		return;
	c2 = memchr(c1 + 1, ':', (size_t)(comp.s + comp.n - c1 - 1));
	if (!c2 || memchr(c2 + 1, ':', (size_t)(comp.s + comp.n - c2 - 1)))
		return;
	slice = (struct span){comp.s, (size_t)(c1 - comp.s)};
	rt = (struct span){c1 + 1, (size_t)(c2 - c1 - 1)};
	id = (struct span){c2 + 1, (size_t)(comp.s + comp.n - c2 - 1)};
	if (!span_strip_suffix(&slice, ".slice") || !is_container_id(id))
		return;
	for (size_t i = 0; i < sizeof(colon_prefixes) / sizeof(colon_prefixes[0]); i++) {
		if (!span_eq(rt, colon_prefixes[i].name))
			continue;
		/* The slice may be a pod's or not ("system.slice:docker:<id>"). */
		parse_pod_component(slice, true, (struct span){"", 0}, c);
		memcpy(c->ctr, id.s, id.n);
		c->ctr[id.n] = '\0';
		c->has_ctr = true;
		c->runtime = colon_prefixes[i].runtime;
		return;
	}
}

static void classify(struct span comp, struct span parent, struct component *c)
{
	struct span name = comp, id = {NULL, 0};

	memset(c, 0, sizeof(*c));
	if (memchr(comp.s, ':', comp.n)) {
		parse_colon_component(comp, c);
		return;
	}
	if (span_strip_suffix(&name, ".slice")) {
		parse_pod_component(name, true, parent, c);
		return;
	}
	span_strip_suffix(&name, ".scope");
	if (parse_pod_component(name, false, parent, c))
		return;
	if (is_container_id(name)) {
		id = name;
		c->runtime =
			span_eq(parent, "docker") ? CGROUP_RUNTIME_DOCKER : CGROUP_RUNTIME_UNKNOWN;
	}
	for (size_t i = 0; !id.n && i < sizeof(ctr_prefixes) / sizeof(ctr_prefixes[0]); i++) {
		size_t plen = strlen(ctr_prefixes[i].prefix);
		struct span rest = {name.s + plen, name.n - plen};

		if (name.n != plen + CONTAINER_ID_LEN ||
		    memcmp(name.s, ctr_prefixes[i].prefix, plen) != 0 || !is_container_id(rest))
			continue;
		id = rest;
		c->runtime = ctr_prefixes[i].runtime;
		c->crio_conmon = ctr_prefixes[i].crio_conmon;
	}
	if (id.n) {
		memcpy(c->ctr, id.s, id.n);
		c->ctr[id.n] = '\0';
		c->has_ctr = true;
	}
}

/*
 * The next non-empty component of path[0..len) from *pos; leading ".." (a cgroup namespace's
 * view of an ancestor) are skipped. false at the end. Assumes validate_path() passed.
 */
static bool next_component(const char *path, size_t len, size_t *pos, struct span *comp)
{
	while (*pos < len) {
		const char *s = path + *pos;
		const char *slash = memchr(s, '/', len - *pos);
		size_t n = slash ? (size_t)(slash - s) : len - *pos;

		*pos += n + (slash ? 1 : 0);
		if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.'))
			continue;
		*comp = (struct span){s, n};
		return true;
	}
	return false;
}

static int validate_path(const char *path, size_t len, const char *what, char err[256])
{
	bool seen_normal = false;
	size_t pos = 0;

	if (len > CGROUP_PATH_MAX) {
		snprintf(err, 256, "%s: path longer than %d bytes", what, CGROUP_PATH_MAX);
		return -EINVAL;
	}
	if (len == 0 || path[0] != '/') {
		snprintf(err, 256, "%s: path does not start with '/'", what);
		return -EINVAL;
	}
	if (memchr(path, '\n', len) || memchr(path, '\0', len)) {
		snprintf(err, 256, "%s: path holds a newline or NUL byte", what);
		return -EINVAL;
	}
	while (pos < len) {
		const char *s = path + pos;
		const char *slash = memchr(s, '/', len - pos);
		size_t n = slash ? (size_t)(slash - s) : len - pos;
		bool dot = n == 1 && s[0] == '.', dotdot = n == 2 && s[0] == '.' && s[1] == '.';

		pos += n + (slash ? 1 : 0);
		if (dot || (dotdot && seen_normal)) {
			snprintf(err, 256, "%s: path is not canonical (\"%s\" component)", what,
				 dot ? "." : "..");
			return -EINVAL;
		}
		if (n > 0 && !dotdot)
			seen_normal = true;
	}
	return 0;
}

static int parse_path(const char *path, size_t len, const char *what, struct cgroup_info *out,
		      char err[256])
{
	struct span comp, parent;
	struct component c;
	size_t pos, idx, pod_idx = 0;
	bool have_pod = false, have_ctr = false;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = validate_path(path, len, what, err);
	if (ret)
		goto out;

	/* Pass 1: pod UIDs. All must agree; the first one's component is the pod. */
	pos = 0;
	idx = 0;
	parent = (struct span){"", 0};
	for (; next_component(path, len, &pos, &comp); idx++, parent = comp) {
		classify(comp, parent, &c);
		if (!c.has_pod)
			continue;
		if (!have_pod) {
			have_pod = true;
			pod_idx = idx;
			snprintf(out->pod_uid, sizeof(out->pod_uid), "%s", c.pod_uid);
			out->qos = c.qos;
		} else if (strcmp(out->pod_uid, c.pod_uid) != 0) {
			snprintf(err, 256, "%s: two pod UIDs: %s and %s", what, out->pod_uid,
				 c.pod_uid);
			ret = -EPROTO;
			goto out;
		}
	}

	/* Pass 2: container IDs in or below the pod's component (or anywhere, if no pod). */
	pos = 0;
	idx = 0;
	parent = (struct span){"", 0};
	for (; next_component(path, len, &pos, &comp); idx++, parent = comp) {
		classify(comp, parent, &c);
		if (!c.has_ctr || (have_pod && idx < pod_idx))
			continue;
		if (!have_ctr) {
			have_ctr = true;
			snprintf(out->container_id, sizeof(out->container_id), "%s", c.ctr);
			out->runtime = c.runtime;
			out->crio_conmon = c.crio_conmon;
		} else if (strcmp(out->container_id, c.ctr) != 0) {
			snprintf(err, 256, "%s: two container IDs: %.64s and %s", what,
				 out->container_id, c.ctr);
			ret = -EPROTO;
			goto out;
		} else {
			out->crio_conmon = out->crio_conmon || c.crio_conmon;
		}
	}
out:
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

int cgroup_parse_path(const char *path, struct cgroup_info *out, char err[256])
{
	assert(path && out && err);
	return parse_path(path, strnlen(path, CGROUP_PATH_MAX + 1), "cgroup path", out, err);
}

/* Merges line result r (from line) into acc (first from acc_line); -EPROTO on disagreement. */
static int merge(struct cgroup_info *acc, unsigned *acc_line, const struct cgroup_info *r,
		 unsigned line, char err[256])
{
	if (*acc_line == 0) {
		*acc = *r;
		*acc_line = line;
		return 0;
	}
	if (strcmp(acc->pod_uid, r->pod_uid) != 0) {
		snprintf(err, 256, "cgroup file: lines %u and %u: two pod UIDs: %s and %s",
			 *acc_line, line, acc->pod_uid, r->pod_uid);
		return -EPROTO;
	}
	if (r->container_id[0] && acc->container_id[0] &&
	    strcmp(acc->container_id, r->container_id) != 0) {
		snprintf(err, 256,
			 "cgroup file: lines %u and %u: two container IDs: %.64s and %.64s",
			 *acc_line, line, acc->container_id, r->container_id);
		return -EPROTO;
	}
	if (r->container_id[0] && !acc->container_id[0]) {
		memcpy(acc->container_id, r->container_id, sizeof(acc->container_id));
		acc->runtime = r->runtime;
	}
	acc->crio_conmon = acc->crio_conmon || r->crio_conmon;
	if (acc->qos == CGROUP_QOS_UNKNOWN)
		acc->qos = r->qos;
	return 0;
}

/* "<hierarchy id>:<controllers>:<path>" -> path; -EINVAL if malformed. */
static int split_line(const char *line, size_t n, const char *what, struct span *path,
		      char err[256])
{
	const char *c1 = memchr(line, ':', n), *c2;
	size_t digits = c1 ? (size_t)(c1 - line) : 0;

	if (!c1 || digits == 0 || digits > HIERARCHY_ID_MAX) {
		snprintf(err, 256, "%s: no \"<hierarchy id>:\" field", what);
		return -EINVAL;
	}
	for (size_t i = 0; i < digits; i++) {
		if (line[i] < '0' || line[i] > '9') {
			snprintf(err, 256, "%s: hierarchy id is not a number", what);
			return -EINVAL;
		}
	}
	c2 = memchr(c1 + 1, ':', (size_t)(line + n - c1 - 1));
	if (!c2) {
		snprintf(err, 256, "%s: no \"<controllers>:\" field", what);
		return -EINVAL;
	}
	*path = (struct span){c2 + 1, (size_t)(line + n - c2 - 1)};
	return 0;
}

int cgroup_parse_proc_file(const char *text, size_t len, struct cgroup_info *out, char err[256])
{
	struct cgroup_info pod_acc = {0}, nopod_acc = {0}, r;
	unsigned pod_line = 0, nopod_line = 0, lineno = 0;
	char what[WHAT_MAX], nopod_err[256] = "";
	size_t pos = 0;
	int ret = 0;

	assert((text || len == 0) && out && err);

	memset(out, 0, sizeof(*out));
	if (len > CGROUP_FILE_MAX) {
		snprintf(err, 256, "cgroup file: longer than %d bytes", CGROUP_FILE_MAX);
		ret = -EINVAL;
		goto out;
	}
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		struct span path;

		pos += n + (nl ? 1 : 0);
		if (++lineno > CGROUP_FILE_LINES_MAX) {
			snprintf(err, 256, "cgroup file: more than %d lines",
				 CGROUP_FILE_LINES_MAX);
			ret = -EINVAL;
			goto out;
		}
		if (n == 0)
			continue;
		snprintf(what, sizeof(what), "cgroup file line %u", lineno);
		ret = split_line(line, n, what, &path, err);
		if (ret)
			goto out;
		ret = parse_path(path.s, path.n, what, &r, err);
		if (ret)
			goto out;
		if (r.pod_uid[0]) {
			ret = merge(&pod_acc, &pod_line, &r, lineno, err);
			if (ret)
				goto out;
		} else if (r.container_id[0] && !nopod_err[0]) {
			/* Only matters if no line names a pod: keep the conflict for the end. */
			if (merge(&nopod_acc, &nopod_line, &r, lineno, nopod_err))
				memset(&nopod_acc, 0, sizeof(nopod_acc));
		}
	}
	if (pod_line) {
		*out = pod_acc;
	} else if (nopod_err[0]) {
		snprintf(err, 256, "%s", nopod_err);
		ret = -EPROTO;
	} else if (nopod_line) {
		*out = nopod_acc;
	}
out:
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

const char *cgroup_runtime_name(enum cgroup_runtime runtime)
{
	switch (runtime) {
	case CGROUP_RUNTIME_NONE:
		return "none";
	case CGROUP_RUNTIME_UNKNOWN:
		return "unknown";
	case CGROUP_RUNTIME_CONTAINERD:
		return "containerd";
	case CGROUP_RUNTIME_CRIO:
		return "crio";
	case CGROUP_RUNTIME_DOCKER:
		return "docker";
	}
	return "invalid";
}

const char *cgroup_qos_name(enum cgroup_qos qos)
{
	switch (qos) {
	case CGROUP_QOS_UNKNOWN:
		return "unknown";
	case CGROUP_QOS_BESTEFFORT:
		return "besteffort";
	case CGROUP_QOS_BURSTABLE:
		return "burstable";
	case CGROUP_QOS_GUARANTEED:
		return "guaranteed";
	}
	return "invalid";
}
