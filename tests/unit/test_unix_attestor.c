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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_unknown_ids),
		cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_selectors_from_attestor),
	};

	return cmocka_run_group_tests_name("unix_attestor", tests, NULL, NULL);
}
