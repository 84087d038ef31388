/*
 * unix_attestor.h - the unix attestor: turns the captured credentials and executable of a peer
 * into unix.* attributes (unix.uid, unix.user, unix.gid, unix.group, unix.supplementary_gid,
 * unix.supplementary_group, unix.path, unix.pid, unix.real_uid, unix.real_gid). Runs on the
 * loop thread; the only blocking calls are NSS name lookups, which a caller-owned
 * struct unix_names_cache remembers for a short TTL (names can change), "no such entry" included.
 * unix.sha256 is added by the caller once attest/exe_hash.h has hashed the executable on a worker.
 */
#ifndef ATTEST_UNIX_ATTESTOR_H
#define ATTEST_UNIX_ATTESTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "attest/attrs.h"
#include "attest/peer.h"

#define UNIX_ATTESTOR_DELETED_SUFFIX " (deleted)"

#define UNIX_NAMES_CACHE_SLOTS		1024 /* direct-mapped by (uid|gid, id) */
#define UNIX_NAMES_CACHE_NAME_MAX	256  /* longer names are valid but looked up every time */
#define UNIX_NAMES_CACHE_TTL_MAX_MS	(24ull * 3600 * 1000)
#define UNIX_NAMES_CACHE_TTL_DEFAULT_MS 30000

struct unix_attestor_opts {
	uint64_t hash_size_limit; /* 0 = none */
};

/*
 * uid/gid -> name cache, negative entries included. Not thread-safe: one owner (the loop thread).
 * An NSS failure other than "not found" is never cached.
 */
struct unix_names_cache;

struct unix_names_cache_stats {
	uint64_t hits;	 /* answered from the cache, names and "no entry" alike */
	uint64_t misses; /* NSS lookups made */
};

/* ttl_ms 1..UNIX_NAMES_CACHE_TTL_MAX_MS. Caller frees with unix_names_cache_free(). -EINVAL,
 * -ENOMEM. */
int unix_names_cache_new(uint64_t ttl_ms, struct unix_names_cache **out);
void unix_names_cache_free(struct unix_names_cache *c);
void unix_names_cache_get_stats(const struct unix_names_cache *c,
				struct unix_names_cache_stats *out);

/*
 * Name of a uid (is_group false) or gid into name[name_len]: 0 with the name, 0 with "" when NSS
 * has no entry, -ENAMETOOLONG when it does not fit, or another negative errno from NSS. now_ms is
 * a CLOCK_MONOTONIC time in ms; an entry older than the TTL is looked up again. c may be NULL
 * (no caching).
 */
int unix_names_cache_lookup(struct unix_names_cache *c, bool is_group, uint32_t id, uint64_t now_ms,
			    char *name, size_t name_len);

/*
 * Cache misses resolved off the loop thread. unix_names_cache_missing() lists the ids of *peer
 * whose names are not cached (fresh at now_ms); unix_names_resolve() looks them up through NSS
 * on any thread (it touches only the batch); unix_names_cache_store() keeps the answers (loop
 * thread). After that, unix_attestor_attest_cached() for the same peer makes no NSS call, unless
 * a lookup failed (not cached: it is tried again there and reported) or two of its ids share a
 * cache slot.
 */
#define UNIX_NAMES_BATCH_MAX (2 + ATTESTD_MAX_GROUPS)

struct unix_names_item {
	uint32_t id;
	bool is_group;
	int rc; /* unix_names_cache_lookup() result */
	char name[UNIX_NAMES_CACHE_NAME_MAX];
};

struct unix_names_batch {
	unsigned n;
	struct unix_names_item item[UNIX_NAMES_BATCH_MAX];
};

/* Fills *out with the missing ids (each once); returns how many. c must not be NULL. */
unsigned unix_names_cache_missing(const struct unix_names_cache *c,
				  const struct peer_identity *peer, uint64_t now_ms,
				  struct unix_names_batch *out);
/* NSS lookups of every item of b; thread-safe (no cache). */
void unix_names_resolve(struct unix_names_batch *b);
void unix_names_cache_store(struct unix_names_cache *c, const struct unix_names_batch *b,
			    uint64_t now_ms);

/*
 * Adds the unix.* attributes of *peer to attrs. uid/gid are the effective ids (as SPIRE uses);
 * user/group names are omitted when NSS has none; unix.path is omitted when the executable path is
 * unknown or ends in " (deleted)". names (may be NULL: no cache) remembers NSS answers. Returns
 * 0, or a negative errno with err filled (an NSS lookup failure other than "not found", or an
 * attr_set_add error).
 */
int unix_attestor_attest_cached(struct unix_names_cache *names, const struct peer_identity *peer,
				struct attr_set *attrs, char err[256]);
/* Same with no cache. */
int unix_attestor_attest(const struct peer_identity *peer, struct attr_set *attrs, char err[256]);

#endif /* ATTEST_UNIX_ATTESTOR_H */
