/* test_audit.c - the audit ring: ids, wraparound, limits, newest-first order and the exact JSON
 * record format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/audit.h"

static void test_new_bounds(void **state)
{
	struct audit *a;

	assert_int_equal(audit_new(0, &a), -EINVAL);
	assert_int_equal(audit_new(AUDIT_MAX_CAPACITY + 1, &a), -EINVAL);
	assert_int_equal(audit_new(1, &a), 0);
	assert_int_equal(audit_count(a), 0);
	json_t *l = audit_list(a, 10);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	audit_free(a);
	audit_free(NULL);
}

static int64_t append_socket(struct audit *a, const char *sock)
{
	struct audit_entry e = {.socket = sock, .result = -ESRCH, .duration_us = 7};

	return audit_append(a, &e, NULL);
}

static void test_wraparound_and_limit(void **state)
{
	struct audit *a;
	char name[32];
	json_t *l;

	assert_int_equal(audit_new(4, &a), 0);
	for (int i = 1; i <= 10; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(append_socket(a, name), i);
		assert_int_equal(audit_size(a), i < 4 ? i : 4);
	}
	assert_int_equal(audit_count(a), 10);

	struct {
		uint32_t limit;
		size_t want_n;
	} rows[] = {{0, 4}, {1, 1}, {3, 3}, {4, 4}, {100, 4}};
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		l = audit_list(a, rows[r].limit);
		assert_non_null(l);
		assert_int_equal(json_array_size(l), rows[r].want_n);
		for (size_t i = 0; i < json_array_size(l); i++) {
			json_t *rec = json_array_get(l, i);

			/* newest first: ids 10, 9, 8, 7 */
			assert_int_equal(json_integer_value(json_object_get(rec, "id")),
					 10 - (int)i);
			snprintf(name, sizeof(name), "s%d", 10 - (int)i);
			assert_string_equal(json_string_value(json_object_get(rec, "socket")),
					    name);
		}
		json_decref(l);
	}
	/* a list outlives later appends */
	l = audit_list(a, 1);
	for (int i = 0; i < 5; i++)
		append_socket(a, "x");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "id")), 10);
	json_decref(l);
	audit_free(a);
}

static void test_error_record(void **state)
{
	struct audit *a;
	json_t *rec = NULL;
	struct audit_entry e = {.socket = "admin", .result = -ESRCH, .duration_us = 12};

	assert_int_equal(audit_new(8, &a), 0);
	assert_int_equal(audit_append(a, &e, &rec), 1);
	assert_non_null(rec);
	assert_true(json_is_null(json_object_get(rec, "peer")));
	assert_string_equal(json_string_value(json_object_get(rec, "result")), "error");
	assert_string_equal(json_string_value(json_object_get(rec, "error")), strerror(ESRCH));
	assert_int_equal(json_array_size(json_object_get(rec, "selectors")), 0);
	assert_int_equal(json_object_size(json_object_get(rec, "attributes")), 0);
	e.error = "peer: pid 42: no such process";
	assert_int_equal(audit_append(a, &e, &rec), 2);
	assert_string_equal(json_string_value(json_object_get(rec, "error")), e.error);
	audit_free(a);
}

static void test_record_json_exact(void **state)
{
	struct peer_identity *p = calloc(1, sizeof(*p));
	struct attr_set *attrs;
	char *sel_items[] = {"unix:uid:0", "unix:gid:0"};
	struct selectors sel = {2, sel_items};
	struct timespec t = {.tv_sec = 1795383601, .tv_nsec = 123456789};
	json_t *rec;
	char *s;
	static const char want[] =
		"{\"id\":1,\"time\":\"2026-11-22T21:40:01.123456Z\","
		"\"socket\":\"/run/attestd/agent.sock\",\"peer\":{\"pid\":1234,\"tid\":1235,"
		"\"start_time_ns\":5000000000,\"uid\":0,\"gid\":0,\"euid\":1000,\"egid\":1001,"
		"\"supplementary_gids\":[4,27],\"supplementary_gids_truncated\":false,\"cgroup_"
		"id\":4242,"
		"\"cgroup_path\":\"/system.slice/x.service\",\"exe\":\"/usr/bin/curl\","
		"\"exe_dev\":2049,\"exe_ino\":123456,\"comm\":\"curl\",\"namespaces\":"
		"{\"mnt\":4026531841,\"pid\":4026531836,\"net\":4026531840,\"user\":null},"
		"\"backend\":\"connect_unix\",\"race_free\":true},"
		"\"selectors\":[\"unix:uid:0\",\"unix:gid:0\"],"
		"\"attributes\":{\"unix.uid\":[\"0\"],\"unix.gid\":[\"0\",\"4\"]},"
		"\"result\":\"attested\",\"error\":null,\"duration_us\":123,\"rpc\":null,"
		"\"spiffe_ids\":[],\"policy_errors\":[]}";

	assert_non_null(p);
	p->pid = 1234;
	p->tid = 1235;
	p->start_time_ns = 5000000000ull;
	p->euid = 1000;
	p->egid = 1001;
	p->ngroups = 2;
	p->groups[0] = 4;
	p->groups[1] = 27;
	p->cgroup_id = 4242;
	strcpy(p->cgroup_path, "/system.slice/x.service");
	strcpy(p->exe_path, "/usr/bin/curl");
	p->exe_dev = 2049;
	p->exe_ino = 123456;
	p->exe_known = true;
	memcpy(p->comm, "curl", 5);
	p->mnt_ns = 4026531841u;
	p->pid_ns = 4026531836u;
	p->net_ns = 4026531840u;
	p->backend = PEER_BACKEND_CONNECT_UNIX;
	p->race_free = true;
	assert_int_equal(attr_set_new(&attrs), 0);
	assert_int_equal(attr_set_add(attrs, "unix.uid", "0"), 0);
	assert_int_equal(attr_set_add(attrs, "unix.gid", "0"), 0);
	assert_int_equal(attr_set_add(attrs, "unix.gid", "4"), 0);

	struct audit_entry e = {.socket = "/run/attestd/agent.sock",
				.peer = p,
				.attrs = attrs,
				.selectors = &sel,
				.duration_us = 123};
	rec = audit_record_json(1, &t, &e);
	assert_non_null(rec);
	s = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s, want);
	free(s);
	json_decref(rec);

	/* unknowns become null; a full comm without NUL is still bounded */
	p->cgroup_id = 0;
	p->cgroup_path[0] = '\0';
	p->exe_path[0] = '\0';
	p->exe_known = false;
	memset(p->comm, 'c', sizeof(p->comm));
	p->ngroups = 0;
	rec = audit_record_json(2, &t, &e);
	json_t *peer = json_object_get(rec, "peer");
	static const char *const nulls[] = {"cgroup_id", "cgroup_path", "exe", "exe_dev",
					    "exe_ino"};
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
		if (!json_is_null(json_object_get(peer, nulls[i])))
			fail_msg("%s should be null", nulls[i]);
	}
	assert_int_equal(strlen(json_string_value(json_object_get(peer, "comm"))),
			 ATTESTD_COMM_LEN);
	assert_int_equal(json_array_size(json_object_get(peer, "supplementary_gids")), 0);
	/* uint64 beyond INT64_MAX is null, not a negative number */
	json_decref(rec);
	p->cgroup_id = UINT64_MAX;
	rec = audit_record_json(3, &t, &e);
	assert_true(json_is_null(json_object_get(json_object_get(rec, "peer"), "cgroup_id")));
	json_decref(rec);
	attr_set_free(attrs);
	free(p);
}

/* An RPC record with ids and policy errors, through the ring: the same JSON as
 * audit_record_json (apart from the time), and the borrowed rec_out. */
static void test_rpc_record_roundtrip(void **state)
{
	static const char want[] =
		"{\"id\":1,\"socket\":\"/run/a.sock\",\"peer\":null,\"selectors\":[\"unix:uid:7\"],"
		"\"attributes\":{\"unix.uid\":[\"7\"],\"kubernetes.pod.label[a/b]\":[\"x\",\"\"]},"
		"\"result\":\"error\",\"error\":\"templates[1]: missing\",\"duration_us\":9,"
		"\"rpc\":\"/SpiffeWorkloadAPI/FetchX509SVID\",\"spiffe_ids\":[\"spiffe://td/a\","
		"\"spiffe://td/b\"],\"policy_errors\":[\"templates[1]: missing\"]}";
	static const char *const ids[] = {"spiffe://td/a", "spiffe://td/b"};
	static const char *const perrs[] = {"templates[1]: missing"};
	char *sel_items[] = {"unix:uid:7"};
	struct selectors sel = {1, sel_items};
	struct timespec t = {.tv_sec = 1, .tv_nsec = 0};
	struct attr_set *attrs;
	json_t *rec = NULL, *direct, *l;
	struct audit *a;
	char *s1, *s2;

	assert_int_equal(attr_set_new(&attrs), 0);
	assert_int_equal(attr_set_add(attrs, "unix.uid", "7"), 0);
	assert_int_equal(attr_set_add(attrs, "kubernetes.pod.label[a/b]", "x"), 0);
	assert_int_equal(attr_set_add(attrs, "kubernetes.pod.label[a/b]", ""), 0);
	struct audit_entry e = {.socket = "/run/a.sock",
				.attrs = attrs,
				.selectors = &sel,
				.result = -EINVAL,
				.error = "templates[1]: missing",
				.duration_us = 9,
				.rpc = "/SpiffeWorkloadAPI/FetchX509SVID",
				.spiffe_ids = ids,
				.nspiffe_ids = 2,
				.policy_errors = perrs,
				.npolicy_errors = 1};

	assert_int_equal(audit_new(2, &a), 0);
	assert_int_equal(audit_append(a, &e, &rec), 1);
	assert_non_null(rec);
	l = audit_list(a, 0);
	assert_true(json_equal(json_array_get(l, 0), rec));
	direct = audit_record_json(1, &t, &e);
	assert_non_null(direct);
	json_object_del(direct, "time");
	s1 = json_dumps(direct, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s1, want);
	json_object_del(json_array_get(l, 0), "time");
	s2 = json_dumps(json_array_get(l, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(s2, want);
	free(s1);
	free(s2);
	json_decref(direct);
	json_decref(l);
	/* without rec_out, nothing is rendered; the record is still stored */
	assert_int_equal(audit_append(a, &e, NULL), 2);
	assert_int_equal(audit_size(a), 2);
	audit_free(a);
	attr_set_free(attrs);
}

/* Paths, comm and attributes come from outside and may not be UTF-8: the record is kept and
 * each bad byte becomes U+FFFD (the JSON must stay valid). */
static void test_invalid_utf8(void **state)
{
	struct peer_identity *p = calloc(1, sizeof(*p));
	struct timespec t = {0};
	struct attr_set *attrs;
	json_t *rec, *peer;
	char *dump;

	assert_non_null(p);
	strcpy(p->exe_path, "/tmp/\xff\xc3\xa9x\xed\xa0\x80"); /* bad, é, x, a surrogate */
	memcpy(p->comm, "c\x80", 3);
	assert_int_equal(attr_set_new(&attrs), 0);
	assert_int_equal(attr_set_add(attrs, "unix.path", "/tmp/\xfe"), 0);
	assert_int_equal(attr_set_add(attrs, "k.label[\xc0]", "v"), 0);
	struct audit_entry e = {.socket = "s", .peer = p, .attrs = attrs};
	rec = audit_record_json(1, &t, &e);
	assert_non_null(rec);
	peer = json_object_get(rec, "peer");
	assert_string_equal(json_string_value(json_object_get(peer, "exe")),
			    "/tmp/\xef\xbf\xbd\xc3\xa9x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(peer, "comm")), "c\xef\xbf\xbd");
	assert_string_equal(
		json_string_value(json_array_get(
			json_object_get(json_object_get(rec, "attributes"), "unix.path"), 0)),
		"/tmp/\xef\xbf\xbd");
	assert_non_null(
		json_object_get(json_object_get(rec, "attributes"), "k.label[\xef\xbf\xbd]"));
	dump = json_dumps(rec, JSON_COMPACT);
	assert_non_null(dump);
	json_t *back = json_loads(dump, 0, NULL);
	assert_non_null(back);
	json_decref(back);
	free(dump);
	json_decref(rec);
	attr_set_free(attrs);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_bounds),
		cmocka_unit_test(test_wraparound_and_limit),
		cmocka_unit_test(test_error_record),
		cmocka_unit_test(test_record_json_exact),
		cmocka_unit_test(test_rpc_record_roundtrip),
		cmocka_unit_test(test_invalid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
