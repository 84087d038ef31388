/* test_svid_cache.c - the loop-side SVID cache with a real loop, worker pool and generated CA:
 * concurrent gets share one issuance, hits answer at once, rotation at half-life notifies
 * subscribers with a new certificate, unfetched entries are dropped, cancel and free with work
 * in flight are clean (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/svid_cache.h"

#define TD	    "example.org"
#define NSAME	    16
#define NDISTINCT   24
#define DEADLINE_MS 8000

struct fixture {
	char dir[64];
	struct svid_ca *ca;
	struct loop *loop;
	struct workers *w;
	struct svid_cache *cache;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct svid_ca_opts o = {.trust_domain = TD, .generate = true, .ca_ttl_s = 86400};
	char err[SVID_ERR_MAX];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_svid_cache.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	o.state_dir = f->dir;
	if (svid_ca_open(&o, &f->ca, err) < 0)
		fail_msg("svid_ca_open: %s", err);
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(workers_new(f->loop, 4, &f->w), 0);
	assert_int_equal(svid_cache_new(f->loop, f->w, f->ca, 3600, &f->cache), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	svid_cache_free(f->cache);
	workers_free(f->w);
	loop_free(f->loop);
	svid_ca_free(f->ca);
	nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- running the loop until a condition holds --------------------------------------------- */

struct poll {
	struct fixture *f;
	bool (*cond)(struct fixture *f, void *arg);
	void *arg;
	uint64_t deadline;
	bool met;
};

static void poll_tick(struct loop *loop, void *arg)
{
	struct poll *p = arg;

	if (p->cond(p->f, p->arg)) {
		p->met = true;
		loop_stop(loop);
		return;
	}
	if (mono_ms() > p->deadline) {
		loop_stop(loop);
		return;
	}
	assert_int_equal(loop_add_timer(loop, 5, poll_tick, p, NULL), 0);
}

static void run_until(struct fixture *f, bool (*cond)(struct fixture *, void *), void *arg,
		      const char *what)
{
	struct poll p = {f, cond, arg, mono_ms() + DEADLINE_MS, false};

	assert_int_equal(loop_add_timer(f->loop, 0, poll_tick, &p, NULL), 0);
	assert_int_equal(loop_run(f->loop), 0);
	if (!p.met)
		fail_msg("timed out waiting for %s", what);
}

/* ---- callbacks ---------------------------------------------------------------------------- */

struct got {
	unsigned calls;
	int rc;
	char err[SVID_ERR_MAX];
	struct svid_x509 *svid; /* ref taken */
};

static void got_done(void *arg, struct svid_x509 *svid, int rc, const char *err)
{
	struct got *g = arg;

	g->calls++;
	g->rc = rc;
	snprintf(g->err, sizeof(g->err), "%s", err ? err : "");
	if (svid) {
		assert_int_equal(rc, 0);
		svid_x509_unref(g->svid);
		g->svid = svid_x509_ref(svid);
	} else {
		assert_true(rc < 0);
	}
}

static bool all_called(struct fixture *f, void *arg)
{
	struct got *g = arg;

	for (size_t i = 0; i < NSAME; i++)
		if (g[i].calls == 0)
			return false;
	return true;
}

static bool one_called(struct fixture *f, void *arg)
{
	return ((struct got *)arg)->calls > 0;
}

static struct policy_identity make_id(const char *spiffe_id, uint64_t ttl)
{
	struct policy_identity id = {0};

	snprintf(id.spiffe_id, sizeof(id.spiffe_id), "%s", spiffe_id);
	id.x509_ttl_s = ttl;
	return id;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_concurrent_gets_share_one_issuance(void **state)
{
	struct fixture *f = *state;
	struct got g[NSAME] = {0}, hit = {0}, other = {0};
	char *dns1[] = {"a.example.org"}, *dns2[] = {"b.example.org"};
	struct policy_identity id = make_id("spiffe://" TD "/web", 0), id2;
	struct svid_cache_stats st;

	id.dns_names = dns1;
	id.ndns_names = 1;
	for (size_t i = 0; i < NSAME; i++)
		assert_int_equal(svid_cache_get(f->cache, &id, got_done, &g[i]), 0);
	for (size_t i = 0; i < NSAME; i++)
		assert_int_equal(g[i].calls, 0); /* nothing synchronous for a miss */
	run_until(f, all_called, g, "the shared issuance");
	for (size_t i = 0; i < NSAME; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].rc, 0);
		assert_ptr_equal(g[i].svid, g[0].svid);
	}
	assert_string_equal(g[0].svid->spiffe_id, id.spiffe_id);
	assert_true(g[0].svid->not_after - g[0].svid->not_before >= 3600);
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.issued, 1);
	assert_int_equal(st.entries, 1);

	/* an equal identity built separately: a hit, answered before get returns */
	id2 = make_id("spiffe://" TD "/web", 0);
	id2.dns_names = (char *[]){"a.example.org"};
	id2.ndns_names = 1;
	assert_int_equal(svid_cache_get(f->cache, &id2, got_done, &hit), 0);
	assert_int_equal(hit.calls, 1);
	assert_ptr_equal(hit.svid, g[0].svid);

	/* another dns name: another certificate and key */
	id2.dns_names = dns2;
	assert_int_equal(svid_cache_get(f->cache, &id2, got_done, &other), 0);
	run_until(f, one_called, &other, "the second identity");
	assert_int_equal(other.rc, 0);
	assert_ptr_not_equal(other.svid, g[0].svid);
	assert_false(other.svid->key_len == g[0].svid->key_len &&
		     memcmp(other.svid->key_pkcs8, g[0].svid->key_pkcs8, other.svid->key_len) == 0);
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.issued, 2);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.hits, 1);

	for (size_t i = 0; i < NSAME; i++)
		svid_x509_unref(g[i].svid);
	svid_x509_unref(hit.svid);
	svid_x509_unref(other.svid);
}

struct rot {
	struct fixture *f;
	struct policy_identity *id;
	struct svid_x509 *first, *second;
	uint64_t issued_ms, rotated_ms;
	unsigned notified, self_unsub_calls;
	uint64_t self_token;
	char rotated_id[SPIFFE_ID_MAX + 1];
};

static void rot_refetch(void *arg, struct svid_x509 *svid, int rc, const char *err)
{
	struct rot *r = arg;

	assert_int_equal(rc, 0);
	assert_null(r->second);
	r->second = svid_x509_ref(svid);
}

static void on_rotated(void *arg, const char *spiffe_id)
{
	struct rot *r = arg;

	r->notified++;
	if (r->notified > 1)
		return;
	r->rotated_ms = mono_ms();
	snprintf(r->rotated_id, sizeof(r->rotated_id), "%s", spiffe_id);
	/* the new SVID is in place: a get inside the notification is a hit */
	assert_int_equal(svid_cache_get(r->f->cache, r->id, rot_refetch, r), 0);
	assert_non_null(r->second);
}

static void on_rotated_unsub(void *arg, const char *spiffe_id)
{
	struct rot *r = arg;

	r->self_unsub_calls++;
	svid_cache_unsubscribe(r->f->cache, r->self_token);
}

static bool rotated_once(struct fixture *f, void *arg)
{
	return ((struct rot *)arg)->notified > 0;
}

static void test_rotation_at_half_life(void **state)
{
	struct fixture *f = *state;
	struct policy_identity id = make_id("spiffe://" TD "/short", 4);
	struct rot r = {.f = f, .id = &id};
	struct got g = {0};
	struct svid_cache_stats st;
	uint64_t tok, elapsed;

	assert_int_equal(svid_cache_subscribe(f->cache, on_rotated_unsub, &r, &r.self_token), 0);
	assert_int_equal(svid_cache_subscribe(f->cache, on_rotated, &r, &tok), 0);
	assert_int_equal(svid_cache_get(f->cache, &id, got_done, &g), 0);
	run_until(f, one_called, &g, "the first issuance");
	r.issued_ms = mono_ms();
	r.first = g.svid;
	run_until(f, rotated_once, &r, "the rotation");
	elapsed = r.rotated_ms - r.issued_ms;
	/* lifetime 3..4 s from issuance (whole seconds), rotation at 50% +- 10% */
	if (elapsed < 1200 || elapsed > 2600)
		fail_msg("rotated after %llu ms, want about 2000", (unsigned long long)elapsed);
	assert_string_equal(r.rotated_id, id.spiffe_id);
	assert_non_null(r.second);
	assert_ptr_not_equal(r.second, r.first);
	assert_false(r.first->chain_len == r.second->chain_len &&
		     memcmp(r.first->chain_der, r.second->chain_der, r.first->chain_len) == 0);
	assert_false(r.first->key_len == r.second->key_len &&
		     memcmp(r.first->key_pkcs8, r.second->key_pkcs8, r.first->key_len) == 0);
	assert_true(r.second->not_after >= r.first->not_after);
	assert_int_equal(r.self_unsub_calls, 1);
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.issued, 2);
	svid_cache_unsubscribe(f->cache, tok);
	svid_x509_unref(r.first);
	svid_x509_unref(r.second);
}

static bool dropped_one(struct fixture *f, void *arg)
{
	struct svid_cache_stats st;

	svid_cache_stats(f->cache, &st);
	return st.dropped > 0;
}

static void test_unfetched_entry_dropped(void **state)
{
	struct fixture *f = *state;
	struct policy_identity id = make_id("spiffe://" TD "/once", 2);
	struct got g = {0}, again = {0};
	struct svid_cache_stats st;

	assert_int_equal(svid_cache_get(f->cache, &id, got_done, &g), 0);
	run_until(f, one_called, &g, "the issuance");
	/* fetched once (at issuance): rotated once, then dropped since nobody fetched it again */
	run_until(f, dropped_one, NULL, "the drop");
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.entries, 0);

	/* a later get issues afresh */
	assert_int_equal(svid_cache_get(f->cache, &id, got_done, &again), 0);
	run_until(f, one_called, &again, "the re-issuance");
	assert_int_equal(again.rc, 0);
	assert_ptr_not_equal(again.svid, g.svid);
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.issued, 3);
	assert_int_equal(st.entries, 1);
	svid_x509_unref(g.svid);
	svid_x509_unref(again.svid);
}

static bool issued_n(struct fixture *f, void *arg)
{
	struct svid_cache_stats st;

	svid_cache_stats(f->cache, &st);
	return st.issued + st.failures >= *(uint64_t *)arg;
}

static void test_errors_and_cancel(void **state)
{
	struct fixture *f = *state;
	struct policy_identity bad = make_id("spiffe://other.org/x", 0);
	struct policy_identity id = make_id("spiffe://" TD "/c", 0);
	struct got g = {0}, c1 = {0}, c2 = {0};
	struct svid_cache_stats st;
	uint64_t two = 2;

	/* an identity the CA refuses: the error reaches done; nothing stays cached */
	assert_int_equal(svid_cache_get(f->cache, &bad, got_done, &g), 0);
	run_until(f, one_called, &g, "the failed issuance");
	assert_int_equal(g.rc, -EINVAL);
	assert_non_null(strstr(g.err, "not in trust domain"));
	svid_cache_stats(f->cache, &st);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.entries, 0);

	/* a cancelled get never hears back; the other one does */
	assert_int_equal(svid_cache_get(f->cache, &id, got_done, &c1), 0);
	assert_int_equal(svid_cache_get(f->cache, &id, got_done, &c2), 0);
	assert_int_equal(svid_cache_cancel(f->cache, &c1), 1);
	assert_int_equal(svid_cache_cancel(f->cache, &c1), 0);
	run_until(f, issued_n, &two, "the issuance (after the failure)");
	assert_int_equal(c1.calls, 0);
	assert_int_equal(c2.calls, 1);
	svid_x509_unref(c2.svid);
}

static void test_free_with_work_in_flight(void **state)
{
	struct fixture *f = *state;
	struct policy_identity ids[NDISTINCT];
	struct got g[NDISTINCT] = {0};

	for (size_t i = 0; i < NDISTINCT; i++) {
		char sid[64];

		snprintf(sid, sizeof(sid), "spiffe://" TD "/w%zu", i);
		ids[i] = make_id(sid, 0);
		assert_int_equal(svid_cache_get(f->cache, &ids[i], got_done, &g[i]), 0);
	}
	/* free now: every pending get hears -ECANCELED; the jobs finish in workers_free() */
	svid_cache_free(f->cache);
	f->cache = NULL;
	for (size_t i = 0; i < NDISTINCT; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].rc, -ECANCELED);
	}
	workers_free(f->w);
	f->w = NULL;
}

static void test_workers_freed_first(void **state)
{
	struct fixture *f = *state;
	struct policy_identity ids[NDISTINCT];
	struct got g[NDISTINCT] = {0};

	for (size_t i = 0; i < NDISTINCT; i++) {
		char sid[64];

		snprintf(sid, sizeof(sid), "spiffe://" TD "/x%zu", i);
		ids[i] = make_id(sid, 0);
		assert_int_equal(svid_cache_get(f->cache, &ids[i], got_done, &g[i]), 0);
	}
	/* the other teardown order: completions run inside workers_free() */
	workers_free(f->w);
	f->w = NULL;
	for (size_t i = 0; i < NDISTINCT; i++) {
		assert_int_equal(g[i].calls, 1);
		assert_int_equal(g[i].rc, 0);
		svid_x509_unref(g[i].svid);
	}
	/* only the cache may go after the workers (it must not be used any more) */
	svid_cache_free(f->cache);
	f->cache = NULL;
}

static int teardown_partial(void **state)
{
	struct fixture *f = *state;

	if (f->w)
		workers_free(f->w);
	f->w = NULL;
	svid_cache_free(f->cache);
	f->cache = NULL;
	return teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_gets_share_one_issuance, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rotation_at_half_life, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfetched_entry_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_with_work_in_flight, setup,
						teardown_partial),
		cmocka_unit_test_setup_teardown(test_workers_freed_first, setup, teardown_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
