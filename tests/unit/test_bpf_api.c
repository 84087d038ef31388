// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_bpf_api.c - the layout of every struct in bpf/attestd_api.h, computed by hand from the
 * fixed-width types (and checked against the BTF of a clang -target bpf object). If this fails,
 * user space and the BPF programs disagree on where a field lives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "bpf/attestd_api.h"

struct layout_row {
	const char *name;
	size_t actual;
	size_t expected;
};

#define OFF(type, field, exp)                                         \
	{                                                             \
#type "." #field, offsetof(struct type, field), (exp) \
	}
#define SIZE(type, exp)                                     \
	{                                                   \
		"sizeof " #type, sizeof(struct type), (exp) \
	}
#define FSIZE(type, field, exp)                                                      \
	{                                                                            \
		"sizeof " #type "." #field, sizeof(((struct type *)0)->field), (exp) \
	}

static const struct layout_row layout_rows[] = {
	SIZE(attestd_peer_identity, 232),
	OFF(attestd_peer_identity, tgid, 0),
	OFF(attestd_peer_identity, tid, 4),
	OFF(attestd_peer_identity, start_boottime_ns, 8),
	OFF(attestd_peer_identity, capture_boottime_ns, 16),
	OFF(attestd_peer_identity, uid, 24),
	OFF(attestd_peer_identity, gid, 28),
	OFF(attestd_peer_identity, euid, 32),
	OFF(attestd_peer_identity, egid, 36),
	OFF(attestd_peer_identity, cgroup_id, 40),
	OFF(attestd_peer_identity, mnt_ns, 48),
	OFF(attestd_peer_identity, pid_ns, 52),
	OFF(attestd_peer_identity, net_ns, 56),
	OFF(attestd_peer_identity, user_ns, 60),
	OFF(attestd_peer_identity, exe_dev, 64),
	OFF(attestd_peer_identity, flags, 68),
	OFF(attestd_peer_identity, exe_ino, 72),
	OFF(attestd_peer_identity, hook, 80),
	OFF(attestd_peer_identity, ngroups, 84),
	OFF(attestd_peer_identity, groups, 88),
	FSIZE(attestd_peer_identity, groups, 128),
	OFF(attestd_peer_identity, comm, 216),
	FSIZE(attestd_peer_identity, comm, 16),

	SIZE(attestd_exe_key, 24),
	OFF(attestd_exe_key, tgid, 0),
	OFF(attestd_exe_key, exe_dev, 4),
	OFF(attestd_exe_key, start_ticks, 8),
	OFF(attestd_exe_key, exe_ino, 16),

	SIZE(attestd_exe_value, 528),
	OFF(attestd_exe_value, exec_boottime_ns, 0),
	OFF(attestd_exe_value, flags, 8),
	OFF(attestd_exe_value, path_len, 12),
	OFF(attestd_exe_value, path, 16),
	FSIZE(attestd_exe_value, path, 512),

	SIZE(attestd_cgroup_value, 536),
	OFF(attestd_cgroup_value, mkdir_boottime_ns, 0),
	OFF(attestd_cgroup_value, rmdir_boottime_ns, 8),
	OFF(attestd_cgroup_value, flags, 16),
	OFF(attestd_cgroup_value, path_len, 20),
	OFF(attestd_cgroup_value, path, 24),
	FSIZE(attestd_cgroup_value, path, 512),

	SIZE(attestd_listener_key, 16),
	OFF(attestd_listener_key, ino, 0),
	OFF(attestd_listener_key, dev, 8),
	OFF(attestd_listener_key, pad, 12),

	SIZE(attestd_listener_path, 112),
	OFF(attestd_listener_path, len, 0),
	OFF(attestd_listener_path, path, 4),
	FSIZE(attestd_listener_path, path, 108),

	SIZE(attestd_config, 8),
	OFF(attestd_config, daemon_tgid, 0),
	OFF(attestd_config, pad, 4),
};

static void test_layout(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < sizeof(layout_rows) / sizeof(layout_rows[0]); i++) {
		if (layout_rows[i].actual != layout_rows[i].expected) {
			print_error("%s: %zu, expected %zu\n", layout_rows[i].name,
				    layout_rows[i].actual, layout_rows[i].expected);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* No implicit padding anywhere: the sum of the field sizes is the struct size. */
static void test_no_implicit_padding(void **state)
{
	struct attestd_peer_identity id;
	struct attestd_listener_path l;

	assert_int_equal(sizeof(id), 4 * 2 + 8 * 2 + 4 * 4 + 8 + 4 * 4 + 4 * 2 + 8 + 4 * 2 +
					     sizeof(id.groups) + sizeof(id.comm));
	assert_int_equal(sizeof(l), 4 + sizeof(l.path));
}

static void test_constants(void **state)
{
	assert_int_equal(ATTESTD_HOOK_CONNECT_UNIX, 3);
	assert_int_equal(ATTESTD_ID_GROUPS_TRUNCATED, 1);
	assert_int_equal(ATTESTD_ID_NO_EXE, 2);
	assert_int_equal(ATTESTD_ID_COPIED, 4);
	assert_int_equal(_Alignof(struct attestd_peer_identity), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_no_implicit_padding),
		cmocka_unit_test(test_constants),
	};

	return cmocka_run_group_tests_name("bpf_api", tests, NULL, NULL);
}
