// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_peer.c - backend names, kernel dev_t conversion, BPF capture -> struct peer_identity.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "attest/peer.h"

static void test_backend_names(void **state)
{
	static const struct {
		const char *name;
		enum peer_backend b;
	} rows[] = {
		{"auto", PEER_BACKEND_AUTO},   {"lsm", PEER_BACKEND_LSM},
		{"fexit", PEER_BACKEND_FEXIT}, {"connect_unix", PEER_BACKEND_CONNECT_UNIX},
		{"pidfd", PEER_BACKEND_PIDFD}, {"peercred", PEER_BACKEND_PEERCRED},
		{"proc", PEER_BACKEND_PROC},
	};
	enum peer_backend b;

	assert_int_equal(sizeof(rows) / sizeof(rows[0]), PEER_BACKEND_COUNT);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_string_equal(peer_backend_name(rows[i].b), rows[i].name);
		assert_int_equal(peer_backend_from_name(rows[i].name, &b), 0);
		assert_int_equal(b, rows[i].b);
	}
}

static void test_backend_bad_names(void **state)
{
	static const char *const bad[] = {"", "LSM", "bpf", "auto ", "unknown", "peer_cred"};
	enum peer_backend b = PEER_BACKEND_LSM;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(peer_backend_from_name(bad[i], &b), -EINVAL);
		assert_int_equal(b, PEER_BACKEND_LSM);
	}
	assert_int_equal(peer_backend_from_name(NULL, &b), -EINVAL);
	assert_non_null(peer_backend_name(PEER_BACKEND_COUNT));
	assert_non_null(peer_backend_name((enum peer_backend) - 1));
}

static void test_dev_from_kernel(void **state)
{
	static const struct {
		uint32_t kdev;
		unsigned int major, minor;
	} rows[] = {
		{0, 0, 0},
		{(8u << 20) | 1, 8, 1},	    /* sda1 */
		{(259u << 20) | 3, 259, 3}, /* nvme0n1p3 */
		{(0u << 20) | 38, 0, 38},   /* anonymous (overlayfs, tmpfs) */
		{(4095u << 20) | 0xfffff, 4095, 0xfffff},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		dev_t d = peer_dev_from_kernel(rows[i].kdev);

		assert_int_equal(major(d), rows[i].major);
		assert_int_equal(minor(d), rows[i].minor);
	}
}

/* The running binary's own dev, converted to the kernel encoding and back. */
static void test_dev_round_trip_real_file(void **state)
{
	struct stat st;
	uint32_t kdev;

	assert_int_equal(stat("/proc/self/exe", &st), 0);
	kdev = (major(st.st_dev) << 20) | minor(st.st_dev);
	assert_true(peer_dev_from_kernel(kdev) == st.st_dev);
}

static void fill_bpf(struct attestd_peer_identity *in)
{
	memset(in, 0, sizeof(*in));
	in->tgid = 1234;
	in->tid = 1240;
	in->start_boottime_ns = 5000000000ull;
	in->capture_boottime_ns = 6000000000ull;
	in->uid = 1000;
	in->gid = 1001;
	in->euid = 0;
	in->egid = 5;
	in->cgroup_id = 0x123456789ull;
	in->mnt_ns = 4026531841u;
	in->pid_ns = 4026531836u;
	in->net_ns = 4026531840u;
	in->user_ns = 4026531837u;
	in->exe_dev = (259u << 20) | 2;
	in->exe_ino = 987654321ull;
	in->hook = ATTESTD_HOOK_CONNECT_UNIX;
	in->ngroups = 3;
	in->groups[0] = 10;
	in->groups[1] = 20;
	in->groups[2] = 30;
	memcpy(in->comm, "curl", 4);
}

static void test_from_bpf_fields(void **state)
{
	struct attestd_peer_identity in;
	struct peer_identity out;

	fill_bpf(&in);
	memset(&out, 0xa5, sizeof(out));
	peer_identity_from_bpf(&out, &in, PEER_BACKEND_CONNECT_UNIX);
	assert_int_equal(out.pid, 1234);
	assert_int_equal(out.tid, 1240);
	assert_int_equal(out.start_time_ns, 5000000000ull);
	assert_int_equal(out.uid, 1000);
	assert_int_equal(out.gid, 1001);
	assert_int_equal(out.euid, 0);
	assert_int_equal(out.egid, 5);
	assert_int_equal(out.cgroup_id, 0x123456789ull);
	assert_string_equal(out.cgroup_path, "");
	assert_int_equal(out.mnt_ns, 4026531841u);
	assert_int_equal(out.pid_ns, 4026531836u);
	assert_int_equal(out.net_ns, 4026531840u);
	assert_int_equal(out.user_ns, 4026531837u);
	assert_true(out.exe_known);
	assert_int_equal(major(out.exe_dev), 259);
	assert_int_equal(minor(out.exe_dev), 2);
	assert_int_equal(out.exe_ino, 987654321ull);
	assert_string_equal(out.exe_path, "");
	assert_int_equal(out.ngroups, 3);
	assert_int_equal(out.groups[0], 10);
	assert_int_equal(out.groups[2], 30);
	assert_false(out.groups_truncated);
	assert_string_equal(out.comm, "curl");
	assert_int_equal(out.backend, PEER_BACKEND_CONNECT_UNIX);
	assert_true(out.race_free);
}

static void test_from_bpf_groups_truncated(void **state)
{
	static const struct {
		const char *name;
		uint32_t ngroups, flags, want_n;
		bool want_trunc;
	} rows[] = {
		{"none", 0, 0, 0, false},
		{"exactly max", ATTESTD_MAX_GROUPS, 0, ATTESTD_MAX_GROUPS, false},
		{"max + 1", ATTESTD_MAX_GROUPS + 1, ATTESTD_ID_GROUPS_TRUNCATED, ATTESTD_MAX_GROUPS,
		 true},
		{"huge count, no flag", 65536, 0, ATTESTD_MAX_GROUPS, true},
		{"flag only", 2, ATTESTD_ID_GROUPS_TRUNCATED, 2, true},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct attestd_peer_identity in;
		struct peer_identity out;

		fill_bpf(&in);
		in.ngroups = rows[i].ngroups;
		in.flags = rows[i].flags;
		for (uint32_t g = 0; g < ATTESTD_MAX_GROUPS; g++)
			in.groups[g] = 100 + g;
		peer_identity_from_bpf(&out, &in, PEER_BACKEND_LSM);
		print_message("%s\n", rows[i].name);
		assert_int_equal(out.ngroups, rows[i].want_n);
		assert_int_equal(out.groups_truncated, rows[i].want_trunc);
		if (out.ngroups)
			assert_int_equal(out.groups[out.ngroups - 1], 100 + out.ngroups - 1);
	}
}

static void test_from_bpf_no_exe_and_comm(void **state)
{
	struct attestd_peer_identity in;
	struct peer_identity out;

	fill_bpf(&in);
	in.flags = ATTESTD_ID_NO_EXE;
	memset(in.comm, 'x', sizeof(in.comm)); /* not NUL-terminated */
	peer_identity_from_bpf(&out, &in, PEER_BACKEND_FEXIT);
	assert_false(out.exe_known);
	assert_int_equal(out.exe_ino, 0);
	assert_int_equal(strlen(out.comm), ATTESTD_COMM_LEN - 1);
	assert_int_equal(out.backend, PEER_BACKEND_FEXIT);

	memcpy(in.comm, "a\0bcdef", 7);
	peer_identity_from_bpf(&out, &in, PEER_BACKEND_FEXIT);
	assert_string_equal(out.comm, "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_backend_bad_names),
		cmocka_unit_test(test_dev_from_kernel),
		cmocka_unit_test(test_dev_round_trip_real_file),
		cmocka_unit_test(test_from_bpf_fields),
		cmocka_unit_test(test_from_bpf_groups_truncated),
		cmocka_unit_test(test_from_bpf_no_exe_and_comm),
	};

	return cmocka_run_group_tests_name("peer", tests, NULL, NULL);
}
