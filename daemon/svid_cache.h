/*
 * svid_cache.h - the loop-side cache of X.509-SVIDs: one key and certificate per identity,
 * shared by every caller with that identity, issued on a worker (concurrent requests share one
 * issuance) and rotated at half-life with jitter. Subscribers hear which SPIFFE ID rotated.
 * Loop thread only. The CA and the worker pool must outlive the cache's work in flight: free
 * the cache, then workers_free() (which completes the orphaned work), then svid_ca_free().
 * (workers_free() first is fine too, if nothing but svid_cache_free() follows.)
 */
#ifndef DAEMON_SVID_CACHE_H
#define DAEMON_SVID_CACHE_H

#include <stdint.h>

#include "attest/policy.h"
#include "daemon/loop.h"
#include "daemon/svid.h"
#include "daemon/workers.h"

#define SVID_CACHE_MAX_ENTRIES	  65536 /* identities cached at once; beyond: -ENOSPC */
#define SVID_CACHE_RETRY_MS	  5000	/* after a failed rotation (the old SVID is kept) */
#define SVID_CACHE_JITTER_PCT	  10	/* rotation at 50% +- 10% of the lifetime */
#define SVID_CACHE_MAX_ROTATE_PCT 75	/* never later than this share of the lifetime */

struct svid_cache;

typedef void (*svid_cache_done_fn)(void *arg, struct svid_x509 *svid, int rc, const char *err);
typedef void (*svid_cache_rotated_fn)(void *arg, const char *spiffe_id);

/* default_x509_ttl_s applies to identities with x509_ttl_s == 0. Caller frees. -ENOMEM. */
int svid_cache_new(struct loop *loop, struct workers *workers, const struct svid_ca *ca,
		   uint64_t default_x509_ttl_s, struct svid_cache **out);
/* Cancels timers, calls the done of every pending get with -ECANCELED, drops the entries.
 * Issuances in flight finish on their worker and are discarded when their completion runs
 * (the memory is released then, at the latest in workers_free()). Not from a callback. */
void svid_cache_free(struct svid_cache *c);

/*
 * The current X.509-SVID for id. The cache key is the SPIFFE ID plus everything that changes
 * the certificate (ttl, dns names, subject, hint); the cache copies what it needs of id.
 * A valid cached SVID: done(arg, svid, 0, NULL) runs before this returns. Otherwise the SVID
 * is issued on a worker (one issuance for all concurrent callers) and done runs later on the
 * loop thread, with svid, or with svid NULL, rc < 0 and err (the issuance error).
 * svid is borrowed for the duration of done: svid_x509_ref() it to keep it.
 * Returns 0 when done was or will be called exactly once (unless svid_cache_cancel()ed),
 * or -ENOMEM, -ENOSPC, -ESHUTDOWN (cache being freed), a workers_submit() error: then done
 * is never called.
 */
int svid_cache_get(struct svid_cache *c, const struct policy_identity *id, svid_cache_done_fn done,
		   void *arg);
/* Forgets every pending get whose arg is arg (their done will not run); for a stream that goes
 * away while waiting. Returns how many were cancelled. */
unsigned svid_cache_cancel(struct svid_cache *c, void *arg);

/*
 * Rotation: at 50% +- SVID_CACHE_JITTER_PCT of an SVID's lifetime (never past
 * SVID_CACHE_MAX_ROTATE_PCT), an entry that was handed out since its last (re)issuance is
 * re-issued on a worker, replaced, and every subscriber hears rotated(arg, spiffe_id); the
 * subscriber then calls svid_cache_get() to obtain the new SVID (which marks it fetched
 * again). An entry nobody fetched since its last rotation is dropped instead.
 * Subscribers may subscribe/unsubscribe and get from inside rotated. -ENOMEM.
 */
int svid_cache_subscribe(struct svid_cache *c, svid_cache_rotated_fn rotated, void *arg,
			 uint64_t *token_out);
void svid_cache_unsubscribe(struct svid_cache *c, uint64_t token);

struct svid_cache_stats {
	uint64_t entries;   /* identities cached now */
	uint64_t issued;    /* successful issuances, first and rotations */
	uint64_t rotations; /* successful re-issuances of an entry */
	uint64_t dropped;   /* entries dropped at rotation time because nobody fetched them */
	uint64_t failures;  /* failed issuances */
	uint64_t hits;	    /* gets answered from the cache */
};
void svid_cache_stats(const struct svid_cache *c, struct svid_cache_stats *out);

#endif /* DAEMON_SVID_CACHE_H */
