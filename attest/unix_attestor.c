// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * unix_attestor.c - unix.* attributes from a captured peer identity.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/unix_attestor.h"

#define UNIX_NSS_BUF_INITIAL 1024
#define UNIX_NSS_BUF_MAX     (1u << 20) /* members lists of huge groups can be long */

#define UNIX_ERR_LEN 256

/* errno values getpwuid_r/getgrgid_r may return for "no such entry" (see getpwnam(3)). */
static bool unix_nss_not_found(int e)
{
	return e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/*
 * Looks up the name of a uid (is_group false) or gid. 0 with name filled, 0 with name "" when
 * there is no entry, or a negative errno.
 */
static int unix_lookup_name(bool is_group, unsigned int id, char *name, size_t name_len)
{
	size_t buflen = UNIX_NSS_BUF_INITIAL;
	char *buf = NULL;
	const char *found = NULL;
	int ret;

	name[0] = '\0';
	for (;;) {
		struct passwd pw, *pwres = NULL;
		struct group gr, *grres = NULL;
		char *nbuf = realloc(buf, buflen);

		if (!nbuf) {
			ret = -ENOMEM;
			goto out;
		}
		buf = nbuf;
		if (is_group) {
			ret = getgrgid_r((gid_t)id, &gr, buf, buflen, &grres);
			found = grres ? grres->gr_name : NULL;
		} else {
			ret = getpwuid_r((uid_t)id, &pw, buf, buflen, &pwres);
			found = pwres ? pwres->pw_name : NULL;
		}
		if (ret == ERANGE && buflen < UNIX_NSS_BUF_MAX) {
			buflen *= 2;
			continue;
		}
		break;
	}
	if (ret != 0) {
		ret = unix_nss_not_found(ret) ? 0 : -ret;
		goto out;
	}
	if (found && found[0]) {
		if ((size_t)snprintf(name, name_len, "%s", found) >= name_len) {
			name[0] = '\0';
			ret = -ENAMETOOLONG;
			goto out;
		}
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

struct unix_names_slot {
	uint64_t expires_ms;
	uint32_t id;
	bool used;
	bool is_group;
	char name[UNIX_NAMES_CACHE_NAME_MAX]; /* "" = no entry */
};

struct unix_names_cache {
	uint64_t ttl_ms;
	struct unix_names_cache_stats stats;
	struct unix_names_slot slots[UNIX_NAMES_CACHE_SLOTS];
};

int unix_names_cache_new(uint64_t ttl_ms, struct unix_names_cache **out)
{
	struct unix_names_cache *c;

	if (ttl_ms == 0 || ttl_ms > UNIX_NAMES_CACHE_TTL_MAX_MS)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ttl_ms = ttl_ms;
	*out = c;
	return 0;
}

void unix_names_cache_free(struct unix_names_cache *c)
{
	free(c);
}

void unix_names_cache_get_stats(const struct unix_names_cache *c,
				struct unix_names_cache_stats *out)
{
	*out = c->stats;
}

static size_t unix_names_index(bool is_group, uint32_t id)
{
	/* Fibonacci hashing of (id, kind): consecutive ids and uid/gid pairs spread out. */
	uint64_t h = (((uint64_t)id << 1) | is_group) * 0x9e3779b97f4a7c15ull;

	return (h >> 32) % UNIX_NAMES_CACHE_SLOTS;
}

static struct unix_names_slot *unix_names_slot(struct unix_names_cache *c, bool is_group,
					       uint32_t id)
{
	return &c->slots[unix_names_index(is_group, id)];
}

int unix_names_cache_lookup(struct unix_names_cache *c, bool is_group, uint32_t id, uint64_t now_ms,
			    char *name, size_t name_len)
{
	struct unix_names_slot *slot = c ? unix_names_slot(c, is_group, id) : NULL;
	int ret;

	if (slot && slot->used && slot->id == id && slot->is_group == is_group &&
	    now_ms < slot->expires_ms) {
		c->stats.hits++;
		if ((size_t)snprintf(name, name_len, "%s", slot->name) >= name_len) {
			name[0] = '\0';
			return -ENAMETOOLONG;
		}
		return 0;
	}
	ret = unix_lookup_name(is_group, id, name, name_len);
	if (!c)
		return ret;
	c->stats.misses++;
	if (ret < 0 || strlen(name) >= sizeof(slot->name))
		return ret;
	slot->used = true;
	slot->id = id;
	slot->is_group = is_group;
	slot->expires_ms = now_ms + c->ttl_ms;
	memcpy(slot->name, name, strlen(name) + 1);
	return 0;
}

static bool unix_names_fresh(const struct unix_names_cache *c, bool is_group, uint32_t id,
			     uint64_t now_ms)
{
	const struct unix_names_slot *slot = &c->slots[unix_names_index(is_group, id)];

	return slot->used && slot->id == id && slot->is_group == is_group &&
	       now_ms < slot->expires_ms;
}

static void unix_names_want(const struct unix_names_cache *c, bool is_group, uint32_t id,
			    uint64_t now_ms, struct unix_names_batch *out)
{
	if (unix_names_fresh(c, is_group, id, now_ms))
		return;
	for (unsigned i = 0; i < out->n; i++)
		if (out->item[i].id == id && out->item[i].is_group == is_group)
			return;
	if (out->n >= UNIX_NAMES_BATCH_MAX)
		return;
	memset(&out->item[out->n], 0, sizeof(out->item[0]));
	out->item[out->n].id = id;
	out->item[out->n].is_group = is_group;
	out->n++;
}

unsigned unix_names_cache_missing(const struct unix_names_cache *c,
				  const struct peer_identity *peer, uint64_t now_ms,
				  struct unix_names_batch *out)
{
	uint32_t ngroups = peer->ngroups < ATTESTD_MAX_GROUPS ? peer->ngroups : ATTESTD_MAX_GROUPS;

	out->n = 0;
	unix_names_want(c, false, peer->euid, now_ms, out);
	unix_names_want(c, true, peer->egid, now_ms, out);
	for (uint32_t i = 0; i < ngroups; i++)
		unix_names_want(c, true, peer->groups[i], now_ms, out);
	return out->n;
}

void unix_names_resolve(struct unix_names_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct unix_names_item *it = &b->item[i];

		it->rc = unix_lookup_name(it->is_group, it->id, it->name, sizeof(it->name));
	}
}

void unix_names_cache_store(struct unix_names_cache *c, const struct unix_names_batch *b,
			    uint64_t now_ms)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct unix_names_item *it = &b->item[i];
		struct unix_names_slot *slot = unix_names_slot(c, it->is_group, it->id);

		c->stats.misses++;
		if (it->rc < 0)
			continue; /* failures are never cached */
		slot->used = true;
		slot->id = it->id;
		slot->is_group = it->is_group;
		slot->expires_ms = now_ms + c->ttl_ms;
		memcpy(slot->name, it->name, sizeof(slot->name));
	}
}

static uint64_t unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool unix_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int unix_add_name(struct unix_names_cache *names, uint64_t now_ms, struct attr_set *attrs,
			 const char *attr, bool is_group, unsigned int id, char err[UNIX_ERR_LEN])
{
	char name[ATTR_VALUE_MAX];
	int ret;

	ret = unix_names_cache_lookup(names, is_group, id, now_ms, name, sizeof(name));
	if (ret < 0) {
		snprintf(err, UNIX_ERR_LEN, "unix attestor: %s of %s %u: lookup failed: %s", attr,
			 is_group ? "gid" : "uid", id, strerror(-ret));
		return ret;
	}
	if (!name[0])
		return 0;
	ret = attr_set_add(attrs, attr, name);
	if (ret < 0)
		snprintf(err, UNIX_ERR_LEN, "unix attestor: %s \"%.64s\": %s", attr, name,
			 strerror(-ret));
	return ret;
}

static int unix_addu(struct attr_set *attrs, const char *attr, unsigned long long v,
		     char err[UNIX_ERR_LEN])
{
	int ret = attr_set_addf(attrs, attr, "%llu", v);

	if (ret < 0)
		snprintf(err, UNIX_ERR_LEN, "unix attestor: %s=%llu: %s", attr, v, strerror(-ret));
	return ret;
}

int unix_attestor_attest(const struct peer_identity *peer, struct attr_set *attrs, char err[256])
{
	return unix_attestor_attest_cached(NULL, peer, attrs, err);
}

int unix_attestor_attest_cached(struct unix_names_cache *names, const struct peer_identity *peer,
				struct attr_set *attrs, char err[256])
{
	uint32_t ngroups = peer->ngroups < ATTESTD_MAX_GROUPS ? peer->ngroups : ATTESTD_MAX_GROUPS;
	uint64_t now_ms = names ? unix_now_ms() : 0;
	int ret;

	err[0] = '\0';
	ret = unix_addu(attrs, "unix.uid", peer->euid, err);
	if (ret < 0)
		goto out;
	ret = unix_add_name(names, now_ms, attrs, "unix.user", false, peer->euid, err);
	if (ret < 0)
		goto out;
	ret = unix_addu(attrs, "unix.gid", peer->egid, err);
	if (ret < 0)
		goto out;
	ret = unix_add_name(names, now_ms, attrs, "unix.group", true, peer->egid, err);
	if (ret < 0)
		goto out;
	for (uint32_t i = 0; i < ngroups; i++) {
		ret = unix_addu(attrs, "unix.supplementary_gid", peer->groups[i], err);
		if (ret < 0)
			goto out;
	}
	for (uint32_t i = 0; i < ngroups; i++) {
		ret = unix_add_name(names, now_ms, attrs, "unix.supplementary_group", true,
				    peer->groups[i], err);
		if (ret < 0)
			goto out;
	}
	if (peer->exe_path[0] && !unix_has_suffix(peer->exe_path, UNIX_ATTESTOR_DELETED_SUFFIX)) {
		ret = attr_set_add(attrs, "unix.path", peer->exe_path);
		if (ret < 0) {
			snprintf(err, UNIX_ERR_LEN, "unix attestor: unix.path: %s", strerror(-ret));
			goto out;
		}
	}
	ret = unix_addu(attrs, "unix.pid", (unsigned long long)peer->pid, err);
	if (ret < 0)
		goto out;
	ret = unix_addu(attrs, "unix.real_uid", peer->uid, err);
	if (ret < 0)
		goto out;
	ret = unix_addu(attrs, "unix.real_gid", peer->gid, err);
out:
	return ret;
}
