// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_unix_attestor.c - unix.* attributes from a peer identity (NSS lookups against this host's
 * passwd/group files: uid/gid 0 is "root" everywhere; a uid without an entry is searched for).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "attest/unix_attestor.h"

static const char *one(const struct attr_set *s, const char *name)
{
	size_t n;
	const char *const *v = attr_set_get(s, name, &n);

	return v && n == 1 ? v[0] : NULL;
}

static void base_peer(struct peer_identity *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = 4242;
	p->tid = 4242;
	p->exe_known = true;
	snprintf(p->exe_path, sizeof(p->exe_path), "/usr/bin/curl");
}

static void test_root(void **state)
{
	struct peer_identity p;
	struct attr_set *s;
	char err[256] = "";
	size_t n;

	base_peer(&p);
	p.uid = 1000; /* real ids differ from effective: setuid root binary */
	p.gid = 1000;
	p.euid = 0;
	p.egid = 0;
	p.ngroups = 2;
	p.groups[0] = 0;
	p.groups[1] = 0; /* duplicate: one value */
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(unix_attestor_attest(&p, s, err), 0);
	assert_string_equal(one(s, "unix.uid"), "0");
	assert_string_equal(one(s, "unix.user"), "root");
	assert_string_equal(one(s, "unix.gid"), "0");
	assert_string_equal(one(s, "unix.group"), "root");
	assert_string_equal(one(s, "unix.supplementary_gid"), "0");
	assert_string_equal(one(s, "unix.supplementary_group"), "root");
	assert_string_equal(one(s, "unix.path"), "/usr/bin/curl");
	assert_string_equal(one(s, "unix.pid"), "4242");
	assert_string_equal(one(s, "unix.real_uid"), "1000");
	assert_string_equal(one(s, "unix.real_gid"), "1000");
	assert_null(attr_set_get(s, "unix.sha256", &n));
	attr_set_free(s);
}

/* A uid and gid with no passwd/group entry: numeric attributes only. */
static void test_unknown_ids(void **state)
{
	struct peer_identity p;
	struct attr_set *s;
	char err[256] = "", want[32];
	unsigned int id;
	size_t n;

	for (id = 3999000000u; id < 3999000100u; id++)
		if (!getpwuid(id) && !getgrgid(id))
			break;
	if (id == 3999000100u)
		skip();
	base_peer(&p);
	p.uid = p.euid = id;
	p.gid = p.egid = id;
	p.ngroups = 2;
	p.groups[0] = id;
	p.groups[1] = 0;
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(unix_attestor_attest(&p, s, err), 0);
	snprintf(want, sizeof(want), "%u", id);
	assert_string_equal(one(s, "unix.uid"), want);
	assert_string_equal(one(s, "unix.gid"), want);
	assert_null(attr_set_get(s, "unix.user", &n));
	assert_null(attr_set_get(s, "unix.group", &n));
	assert_int_equal(attr_set_get(s, "unix.supplementary_gid", &n) != NULL, 1);
	assert_int_equal(n, 2);
	/* Only gid 0 has a name. */
	assert_string_equal(one(s, "unix.supplementary_group"), "root");
	attr_set_free(s);
}

static void test_path_rules(void **state)
{
	static const struct {
		const char *name, *exe_path, *want; /* want NULL = no unix.path */
	} rows[] = {
		{"plain", "/usr/bin/curl", "/usr/bin/curl"},
		{"unknown", "", NULL},
		{"deleted", "/tmp/x (deleted)", NULL},
		{"deleted-like middle", "/tmp/x (deleted)/y", "/tmp/x (deleted)/y"},
		{"space", "/opt/my app/bin", "/opt/my app/bin"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct peer_identity p;
		struct attr_set *s;
		char err[256] = "";

		base_peer(&p);
		snprintf(p.exe_path, sizeof(p.exe_path), "%s", rows[i].exe_path);
		assert_int_equal(attr_set_new(&s), 0);
		print_message("%s\n", rows[i].name);
		assert_int_equal(unix_attestor_attest(&p, s, err), 0);
		if (rows[i].want)
			assert_string_equal(one(s, "unix.path"), rows[i].want);
		else
			assert_null(one(s, "unix.path"));
		attr_set_free(s);
	}
}

static void test_selectors_from_attestor(void **state)
{
	static const char *const want[] = {
		"unix:uid:0",	   "unix:user:root",	  "unix:gid:0",
		"unix:group:root", "unix:path:/bin/true", "unix:pid:7",
	};
	struct peer_identity p;
	struct attr_set *s;
	struct selectors sel;
	char err[256] = "";

	base_peer(&p);
	p.pid = 7;
	snprintf(p.exe_path, sizeof(p.exe_path), "/bin/true");
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(unix_attestor_attest(&p, s, err), 0);
	assert_int_equal(attr_set_selectors(s, &sel), 0);
	assert_int_equal(sel.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sel.n; i++)
		assert_string_equal(sel.items[i], want[i]);
	selectors_free(&sel);
	attr_set_free(s);
}

static unsigned int unknown_id(void)
{
	for (unsigned int id = 3999000000u; id < 3999000100u; id++)
		if (!getpwuid(id) && !getgrgid(id))
			return id;
	return 0;
}

static void test_names_cache_bounds(void **state)
{
	struct unix_names_cache *c;

	assert_int_equal(unix_names_cache_new(0, &c), -EINVAL);
	assert_int_equal(unix_names_cache_new(UNIX_NAMES_CACHE_TTL_MAX_MS + 1, &c), -EINVAL);
	assert_int_equal(unix_names_cache_new(UNIX_NAMES_CACHE_TTL_MAX_MS, &c), 0);
	unix_names_cache_free(c);
	unix_names_cache_free(NULL);
}

/* One row per lookup, in order, against one cache with a 1000 ms TTL. */
static void test_names_cache_ttl(void **state)
{
	unsigned int unknown = unknown_id();
	const struct {
		const char *what;
		bool is_group;
		uint32_t id;
		uint64_t now_ms;
		size_t name_len;
		int want_ret;
		const char *want_name;
		uint64_t want_hits, want_misses; /* totals after the row */
	} rows[] = {
		{"uid 0 first", false, 0, 5000, 64, 0, "root", 0, 1},
		{"uid 0 again", false, 0, 5001, 64, 0, "root", 1, 1},
		{"uid 0 just before ttl", false, 0, 5999, 64, 0, "root", 2, 1},
		{"gid 0 is another key", true, 0, 5999, 64, 0, "root", 2, 2},
		{"uid 0 at ttl", false, 0, 6000, 64, 0, "root", 2, 3},
		{"uid 0 refreshed", false, 0, 6500, 64, 0, "root", 3, 3},
		{"cached name too long", false, 0, 6500, 4, -ENAMETOOLONG, "", 4, 3},
		{"unknown uid", false, unknown, 6500, 64, 0, "", 4, 4},
		{"unknown uid negative hit", false, unknown, 6600, 64, 0, "", 5, 4},
		{"unknown gid", true, unknown, 6600, 64, 0, "", 5, 5},
		{"unknown uid expired", false, unknown, 7500, 64, 0, "", 5, 6},
	};
	struct unix_names_cache_stats st;
	struct unix_names_cache *c;
	char name[64];

	if (!unknown)
		skip();
	assert_int_equal(unix_names_cache_new(1000, &c), 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].what);
		memset(name, 'x', sizeof(name));
		assert_int_equal(unix_names_cache_lookup(c, rows[i].is_group, rows[i].id,
							 rows[i].now_ms, name, rows[i].name_len),
				 rows[i].want_ret);
		assert_string_equal(name, rows[i].want_name);
		unix_names_cache_get_stats(c, &st);
		assert_int_equal(st.hits, rows[i].want_hits);
		assert_int_equal(st.misses, rows[i].want_misses);
	}
	/* Slots are shared: many ids evict each other but answers stay right. */
	for (uint32_t id = 0; id < 3 * UNIX_NAMES_CACHE_SLOTS; id++) {
		char want[64];

		assert_int_equal(unix_names_cache_lookup(NULL, false, id, 0, want, sizeof(want)),
				 0);
		assert_int_equal(unix_names_cache_lookup(c, false, id, 7600, name, sizeof(name)),
				 0);
		assert_string_equal(name, want);
		assert_int_equal(unix_names_cache_lookup(c, false, id, 7600, name, sizeof(name)),
				 0);
		assert_string_equal(name, want);
	}
	assert_int_equal(unix_names_cache_lookup(c, false, 0, 7600, name, sizeof(name)), 0);
	assert_string_equal(name, "root");
	unix_names_cache_free(c);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Misses listed once each, resolved apart from the cache (as on a worker), stored: the attestor
 * then asks NSS for nothing; after the TTL the same ids are missing again. */
static void test_names_batch(void **state)
{
	unsigned int unknown = unknown_id();
	struct unix_names_cache_stats st;
	struct unix_names_batch b;
	struct unix_names_cache *c;
	struct peer_identity p;
	struct attr_set *s;
	char err[256] = "";
	uint64_t now = mono_ms();
	size_t n;

	if (!unknown)
		skip();
	base_peer(&p);
	p.ngroups = 3;
	p.groups[0] = 0;
	p.groups[1] = unknown;
	p.groups[2] = 0;
	assert_int_equal(unix_names_cache_new(60000, &c), 0);
	assert_int_equal(unix_names_cache_missing(c, &p, now, &b), 3); /* uid 0, gid 0, unknown */
	assert_false(b.item[0].is_group);
	assert_int_equal(b.item[0].id, 0);
	assert_true(b.item[1].is_group);
	assert_int_equal(b.item[1].id, 0);
	assert_true(b.item[2].is_group);
	assert_int_equal(b.item[2].id, unknown);
	unix_names_resolve(&b);
	assert_int_equal(b.item[0].rc, 0);
	assert_string_equal(b.item[0].name, "root");
	assert_string_equal(b.item[1].name, "root");
	assert_int_equal(b.item[2].rc, 0);
	assert_string_equal(b.item[2].name, ""); /* no such group: cached as such */
	unix_names_cache_store(c, &b, now);
	assert_int_equal(unix_names_cache_missing(c, &p, now, &b), 0);
	unix_names_cache_get_stats(c, &st);
	assert_int_equal(st.misses, 3);
	assert_int_equal(attr_set_new(&s), 0);
	assert_int_equal(unix_attestor_attest_cached(c, &p, s, err), 0);
	assert_string_equal(one(s, "unix.user"), "root");
	assert_string_equal(one(s, "unix.group"), "root");
	assert_string_equal(one(s, "unix.supplementary_group"), "root");
	assert_non_null(attr_set_get(s, "unix.supplementary_gid", &n));
	assert_int_equal(n, 2); /* 0 and the unknown gid */
	attr_set_free(s);
	unix_names_cache_get_stats(c, &st);
	assert_int_equal(st.misses, 3); /* no NSS call from the attestor */
	assert_int_equal(st.hits, 5);	/* user, group, each of the 3 supplementary groups */
	assert_int_equal(unix_names_cache_missing(c, &p, now + 60000, &b), 3);
	unix_names_cache_free(c);
}

/* The cached attestor gives the same attributes and asks NSS only once per id. */
static void test_attest_cached(void **state)
{
	struct unix_names_cache_stats st;
	struct unix_names_cache *c;
	struct peer_identity p;
	struct attr_set *s;
	char err[256] = "";

	base_peer(&p);
	p.ngroups = 1;
	p.groups[0] = 0;
	assert_int_equal(unix_names_cache_new(UNIX_NAMES_CACHE_TTL_DEFAULT_MS, &c), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(attr_set_new(&s), 0);
		assert_int_equal(unix_attestor_attest_cached(c, &p, s, err), 0);
		assert_string_equal(one(s, "unix.user"), "root");
		assert_string_equal(one(s, "unix.group"), "root");
		assert_string_equal(one(s, "unix.supplementary_group"), "root");
		attr_set_free(s);
	}
	unix_names_cache_get_stats(c, &st);
	assert_int_equal(st.misses, 2); /* uid 0, gid 0 */
	assert_int_equal(st.hits, 7);
	unix_names_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_unknown_ids),
		cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_selectors_from_attestor),
		cmocka_unit_test(test_names_cache_bounds),
		cmocka_unit_test(test_names_cache_ttl),
		cmocka_unit_test(test_attest_cached),
		cmocka_unit_test(test_names_batch),
	};

	return cmocka_run_group_tests_name("unix_attestor", tests, NULL, NULL);
}
