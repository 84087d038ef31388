// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_procfs.c - /proc parsers (table-driven), procfs_read_identity on a fake tree, on this
 * process and on a child, and the peercred / pidfd backends over real Unix sockets with clients
 * that stay, exit, or change uid after connect().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "attest/procfs.h"

/* Fields 4..21 of a stat line, then starttime (22) and a few more. */
#define STAT_MID  "1 2 3 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0"
#define STAT_TAIL "3133440 413 18446744073709551615 0 0\n"

/* ---- stat ---------------------------------------------------------------------------------- */

static void test_parse_stat(void **state)
{
	static const struct {
		const char *name, *text;
		int want;
		const char *comm;
		char state;
		uint64_t start;
	} rows[] = {
		{"plain", "42 (bash) S " STAT_MID " 89427 " STAT_TAIL, 0, "bash", 'S', 89427},
		{"parens and spaces", "42 (a) b (c) R " STAT_MID " 7 " STAT_TAIL, 0, "a) b (c", 'R',
		 7},
		{"spoofed fields", "42 (x) S 1 2 3) Z " STAT_MID " 5 " STAT_TAIL, 0, "x) S 1 2 3",
		 'Z', 5},
		{"long kthread name", "7 (kworker/u8:2-events_unbound) I " STAT_MID " 9 " STAT_TAIL,
		 0, "kworker/u8:2-ev", 'I', 9},
		{"empty comm", "42 () S " STAT_MID " 1 " STAT_TAIL, 0, "", 'S', 1},
		{"newline in comm", "42 (a\nb) S " STAT_MID " 2 " STAT_TAIL, 0, "a\nb", 'S', 2},
		{"starttime last, no newline", "42 (x) S " STAT_MID " 3", 0, "x", 'S', 3},
		{"starttime last, newline", "42 (x) S " STAT_MID " 4\n", 0, "x", 'S', 4},
		{"max u64", "42 (x) S " STAT_MID " 18446744073709551615\n", 0, "x", 'S',
		 UINT64_MAX},
		{"u64 overflow", "42 (x) S " STAT_MID " 18446744073709551616\n", -EPROTO, "", 0, 0},
		{"field 21 missing", "42 (x) S 1 2 3 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1", -EPROTO,
		 "", 0, 0},
		{"starttime empty", "42 (x) S " STAT_MID " \n", -EPROTO, "", 0, 0},
		{"starttime not a number", "42 (x) S " STAT_MID " 12a\n", -EPROTO, "", 0, 0},
		{"starttime negative", "42 (x) S " STAT_MID " -5\n", -EPROTO, "", 0, 0},
		{"two spaces", "42 (x) S  " STAT_MID " 5\n", -EPROTO, "", 0, 0},
		{"state two letters", "42 (x) SS " STAT_MID " 5\n", -EPROTO, "", 0, 0},
		{"truncated in comm", "42 (bas", -EPROTO, "", 0, 0},
		{"truncated after comm", "42 (bash)", -EPROTO, "", 0, 0},
		{"truncated after state", "42 (bash) S", -EPROTO, "", 0, 0},
		{"no pid", "(bash) S " STAT_MID " 5\n", -EPROTO, "", 0, 0},
		{"no space before comm", "42(bash) S " STAT_MID " 5\n", -EPROTO, "", 0, 0},
		{"empty", "", -EPROTO, "", 0, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char comm[16] = "junk", err[256] = "", st = 0;
		uint64_t start = 0, start2 = 0;
		int ret;

		print_message("%s\n", rows[i].name);
		ret = procfs_parse_stat_state(rows[i].text, strlen(rows[i].text), comm, &st, &start,
					      err);
		assert_int_equal(ret, rows[i].want);
		assert_int_equal(
			procfs_parse_stat(rows[i].text, strlen(rows[i].text), comm, &start2, err),
			rows[i].want);
		if (ret < 0) {
			assert_true(strncmp(err, "stat: ", 6) == 0);
			continue;
		}
		assert_string_equal(comm, rows[i].comm);
		assert_int_equal(st, rows[i].state);
		assert_int_equal(start, rows[i].start);
		assert_int_equal(start2, rows[i].start);
	}
}

/* The parser must not read past len: the text is not NUL-terminated. */
static void test_parse_stat_not_terminated(void **state)
{
	const char *line = "42 (x) S " STAT_MID " 123456";
	size_t len = strlen(line);
	char *buf = malloc(len), comm[16], err[256];
	uint64_t start;

	memcpy(buf, line, len);
	assert_int_equal(procfs_parse_stat(buf, len, comm, &start, err), 0);
	assert_int_equal(start, 123456);
	/* Cut the last digit off: 12345. */
	assert_int_equal(procfs_parse_stat(buf, len - 1, comm, &start, err), 0);
	assert_int_equal(start, 12345);
	free(buf);
}

/* ---- status -------------------------------------------------------------------------------- */

#define STATUS_HEAD "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\n"

static void test_parse_status(void **state)
{
	static const struct {
		const char *name, *text;
		int want;
		uint32_t uid, euid, gid, egid, ngroups, g0, glast;
		bool trunc;
	} rows[] = {
		{"plain",
		 STATUS_HEAD "Uid:\t1000\t0\t0\t0\nGid:\t100\t5\t5\t5\nFDSize:\t64\n"
			     "Groups:\t4 24 27 \nNStgid:\t42\n",
		 0, 1000, 0, 100, 5, 3, 4, 27, false},
		{"no groups (kernel prints a space)",
		 "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t \n", 0, 0, 0, 0, 0, 0, 0, 0, false},
		{"no groups, bare", "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:", 0, 0, 0, 0, 0, 0,
		 0, 0, false},
		{"max uid", "Uid:\t4294967295\t1\t2\t3\nGid:\t7\t8\t9\t10\nGroups:\t1\n", 0,
		 4294967295u, 1, 7, 8, 1, 1, 1, false},
		{"uid overflow", "Uid:\t4294967296\t1\t2\t3\nGid:\t7\t8\t9\t10\nGroups:\t1\n",
		 -EPROTO, 0, 0, 0, 0, 0, 0, 0, false},
		{"uid three fields", "Uid:\t1\t2\t3\nGid:\t7\t8\t9\t10\nGroups:\t1\n", -EPROTO, 0,
		 0, 0, 0, 0, 0, 0, false},
		{"uid five fields", "Uid:\t1\t2\t3\t4\t5\nGid:\t7\t8\t9\t10\nGroups:\t1\n", -EPROTO,
		 0, 0, 0, 0, 0, 0, 0, false},
		{"uid not a number", "Uid:\t1\tx\t3\t4\nGid:\t7\t8\t9\t10\nGroups:\t1\n", -EPROTO,
		 0, 0, 0, 0, 0, 0, 0, false},
		{"negative gid", "Uid:\t1\t2\t3\t4\nGid:\t-7\t8\t9\t10\nGroups:\t1\n", -EPROTO, 0,
		 0, 0, 0, 0, 0, 0, false},
		{"bad group", "Uid:\t1\t2\t3\t4\nGid:\t7\t8\t9\t10\nGroups:\t1 2x\n", -EPROTO, 0, 0,
		 0, 0, 0, 0, 0, false},
		{"missing Gid", "Uid:\t1\t2\t3\t4\nGroups:\t1\n", -EPROTO, 0, 0, 0, 0, 0, 0, 0,
		 false},
		{"missing Groups", "Uid:\t1\t2\t3\t4\nGid:\t7\t8\t9\t10\n", -EPROTO, 0, 0, 0, 0, 0,
		 0, 0, false},
		{"missing Uid", "Gid:\t7\t8\t9\t10\nGroups:\t1\n", -EPROTO, 0, 0, 0, 0, 0, 0, 0,
		 false},
		{"repeated Uid", "Uid:\t1\t2\t3\t4\nUid:\t0\t0\t0\t0\nGid:\t7\t8\t9\t10\nGroups:\n",
		 -EPROTO, 0, 0, 0, 0, 0, 0, 0, false},
		{"key not at line start", "Name:\tUid:\t0\t0\t0\t0\nGid:\t7\t8\t9\t10\nGroups:\n",
		 -EPROTO, 0, 0, 0, 0, 0, 0, 0, false},
		{"truncated mid Uid", "Uid:\t1\t2", -EPROTO, 0, 0, 0, 0, 0, 0, 0, false},
		{"empty", "", -EPROTO, 0, 0, 0, 0, 0, 0, 0, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct peer_identity p;
		char err[256] = "";
		int ret;

		memset(&p, 0, sizeof(p));
		print_message("%s\n", rows[i].name);
		ret = procfs_parse_status(rows[i].text, strlen(rows[i].text), &p, err);
		assert_int_equal(ret, rows[i].want);
		if (ret < 0) {
			assert_true(strncmp(err, "status: ", 8) == 0);
			continue;
		}
		assert_int_equal(p.uid, rows[i].uid);
		assert_int_equal(p.euid, rows[i].euid);
		assert_int_equal(p.gid, rows[i].gid);
		assert_int_equal(p.egid, rows[i].egid);
		assert_int_equal(p.ngroups, rows[i].ngroups);
		assert_int_equal(p.groups_truncated, rows[i].trunc);
		if (p.ngroups) {
			assert_int_equal(p.groups[0], rows[i].g0);
			assert_int_equal(p.groups[p.ngroups - 1], rows[i].glast);
		}
	}
}

/* 65536 groups (NGROUPS_MAX): the first ATTESTD_MAX_GROUPS are kept, the rest flagged. */
static void test_parse_status_huge_groups(void **state)
{
	size_t cap = 64 + 65536 * 8, len;
	char *text = malloc(cap), err[256];
	struct peer_identity p;

	len = (size_t)snprintf(text, cap, "Uid:\t1\t1\t1\t1\nGid:\t2\t2\t2\t2\nGroups:\t");
	for (int g = 0; g < 65536; g++)
		len += (size_t)snprintf(text + len, cap - len, "%d ", 100000 + g);
	len += (size_t)snprintf(text + len, cap - len, "\n");
	memset(&p, 0, sizeof(p));
	assert_int_equal(procfs_parse_status(text, len, &p, err), 0);
	assert_int_equal(p.ngroups, ATTESTD_MAX_GROUPS);
	assert_true(p.groups_truncated);
	assert_int_equal(p.groups[ATTESTD_MAX_GROUPS - 1], 100000 + ATTESTD_MAX_GROUPS - 1);

	/* Exactly ATTESTD_MAX_GROUPS: not truncated. */
	len = (size_t)snprintf(text, cap, "Uid:\t1\t1\t1\t1\nGid:\t2\t2\t2\t2\nGroups:\t");
	for (int g = 0; g < ATTESTD_MAX_GROUPS; g++)
		len += (size_t)snprintf(text + len, cap - len, "%d ", g);
	memset(&p, 0, sizeof(p));
	assert_int_equal(procfs_parse_status(text, len, &p, err), 0);
	assert_int_equal(p.ngroups, ATTESTD_MAX_GROUPS);
	assert_false(p.groups_truncated);

	/* Over PROCFS_STATUS_MAX: refused. */
	assert_int_equal(procfs_parse_status(text, (size_t)PROCFS_STATUS_MAX + 1, &p, err),
			 -EPROTO);
	free(text);
}

/* ---- cgroup -------------------------------------------------------------------------------- */

static void test_parse_cgroup(void **state)
{
	static const struct {
		const char *name, *text;
		size_t buf_len;
		int want;
		const char *path;
	} rows[] = {
		{"hybrid host", "9:name=systemd:/\n8:pids:/\n4:memory:/a/b\n1:cpu:/\n0::/\n", 256,
		 0, "/"},
		{"v2 only", "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope\n", 256,
		 0, "/kubepods.slice/kubepods-pod1.slice/cri-containerd-ab.scope"},
		{"no newline", "0::/user.slice", 256, 0, "/user.slice"},
		{"spaces in path", "0::/a b/c\n", 256, 0, "/a b/c"},
		{"v2 line first", "0::/x\n1:name=systemd:/y\n", 256, 0, "/x"},
		{"v1 only", "12:pids:/\n1:name=systemd:/init.scope\n", 256, -ENOENT, ""},
		{"empty", "", 256, -ENOENT, ""},
		{"two v2 lines", "0::/a\n0::/b\n", 256, -EPROTO, ""},
		{"empty v2 path", "0::\n", 256, -EPROTO, ""},
		{"relative v2 path", "0::a/b\n", 256, -EPROTO, ""},
		{"00:: is not 0::", "00::/x\n", 256, -ENOENT, ""},
		{"exactly fits", "0::/abcdefg\n", 9, 0, "/abcdefg"},
		{"one too long", "0::/abcdefgh\n", 9, -ENAMETOOLONG, ""},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char path[256] = "junk", err[256] = "";
		int ret;

		print_message("%s\n", rows[i].name);
		ret = procfs_parse_cgroup(rows[i].text, strlen(rows[i].text), path, rows[i].buf_len,
					  err);
		assert_int_equal(ret, rows[i].want);
		assert_string_equal(path, rows[i].path);
		if (ret < 0)
			assert_true(strncmp(err, "cgroup: ", 8) == 0);
	}
}

/* ---- procfs_read_identity on a fake tree ---------------------------------------------------- */

struct tree {
	char root[64];
};

static void put(const struct tree *t, const char *rel, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void mk(const struct tree *t, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void rm_tree(const struct tree *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	assert_int_equal(system(cmd), 0);
}

static void test_read_identity_fake_tree(void **state)
{
	struct tree t;
	struct peer_identity p;
	char err[256] = "", mountinfo[512], cgdir[256];
	struct stat st;
	long hz = sysconf(_SC_CLK_TCK);

	snprintf(t.root, sizeof(t.root), "/tmp/test_procfs.XXXXXX");
	assert_non_null(mkdtemp(t.root));
	mk(&t, "100");
	mk(&t, "self");
	mk(&t, "cg root");
	mk(&t, "cg root/kubepods");
	mk(&t, "cg root/kubepods/pod1");
	put(&t, "100/stat", "100 (my) proc) S " STAT_MID " 250 " STAT_TAIL);
	put(&t, "100/status",
	    STATUS_HEAD "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\n"
			"Groups:\t5 6 \n");
	put(&t, "100/cgroup", "1:name=systemd:/\n0::/kubepods/pod1\n");
	/* A cgroup2 mount whose mount point has an escaped space. */
	snprintf(mountinfo, sizeof(mountinfo),
		 "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
		 "41 31 0:38 / %s/cg\\040root rw,relatime shared:9 - cgroup2 cgroup2 rw\n",
		 t.root);
	put(&t, "self/mountinfo", mountinfo);
	snprintf(cgdir, sizeof(cgdir), "%s/cg root/kubepods/pod1", t.root);
	assert_int_equal(stat(cgdir, &st), 0);

	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), 0);
	assert_int_equal(p.pid, 100);
	assert_int_equal(p.tid, 100);
	assert_string_equal(p.comm, "my) proc");
	assert_int_equal(p.start_time_ns, 250ull * (1000000000ull / (uint64_t)hz));
	assert_int_equal(p.uid, 1000);
	assert_int_equal(p.euid, 1001);
	assert_int_equal(p.gid, 2000);
	assert_int_equal(p.egid, 2001);
	assert_int_equal(p.ngroups, 2);
	assert_int_equal(p.groups[1], 6);
	assert_string_equal(p.cgroup_path, "/kubepods/pod1");
	assert_int_equal(p.cgroup_id, (uint64_t)st.st_ino);
	assert_false(p.exe_known);
	assert_string_equal(p.exe_path, "");
	assert_int_equal(p.mnt_ns, 0);

	/* Mount of a subtree: root /kubepods mounted at "cg root". */
	snprintf(mountinfo, sizeof(mountinfo),
		 "41 31 0:38 /kubepods %s/cg\\040root rw - cgroup2 cgroup2 rw\n", t.root);
	put(&t, "self/mountinfo", mountinfo);
	put(&t, "100/cgroup", "0::/kubepods/kubepods/pod1\n");
	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), 0);
	assert_int_equal(p.cgroup_id, (uint64_t)st.st_ino);
	/* A path outside the mounted subtree is unknown, not an error. */
	put(&t, "100/cgroup", "0::/other/pod1\n");
	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), 0);
	assert_int_equal(p.cgroup_id, 0);

	/* v1-only cgroup file: no path, no error. */
	put(&t, "100/cgroup", "1:name=systemd:/\n");
	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), 0);
	assert_string_equal(p.cgroup_path, "");
	assert_int_equal(p.cgroup_id, 0);

	/* Malformed status: -EPROTO naming the process. */
	put(&t, "100/status", "Uid:\t1\n");
	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), -EPROTO);
	print_message("%s\n", err);
	assert_non_null(strstr(err, "process 100"));
	assert_int_equal(p.pid, 0);

	/* Zombie. */
	put(&t, "100/status", "Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\n");
	put(&t, "100/stat", "100 (z) Z " STAT_MID " 250 " STAT_TAIL);
	assert_int_equal(procfs_read_identity(t.root, 100, &p, err), -ESRCH);
	print_message("%s\n", err);

	/* Gone. */
	assert_int_equal(procfs_read_identity(t.root, 101, &p, err), -ENOENT);
	assert_int_equal(procfs_read_identity(t.root, 0, &p, err), -EINVAL);
	rm_tree(&t);
}

/* ---- the real /proc ------------------------------------------------------------------------ */

static uint64_t cgroup2_inode(const char *cg)
{
	static const char *const mounts[] = {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"};
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/cgroup.controllers", mounts[i]);
		if (access(probe, F_OK) != 0)
			continue;
		snprintf(path, sizeof(path), "%s%s", mounts[i], cg);
		if (stat(path, &st) == 0)
			return (uint64_t)st.st_ino;
	}
	return 0;
}

static void expect_self(const struct peer_identity *p)
{
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	assert_int_equal(p->pid, getpid());
	assert_int_equal(p->uid, getuid());
	assert_int_equal(p->euid, geteuid());
	assert_int_equal(p->gid, getgid());
	assert_int_equal(p->egid, getegid());
	assert_true(p->start_time_ns > 0);
	assert_true(p->exe_known);
	assert_int_equal(stat("/proc/self/exe", &st), 0);
	assert_true(p->exe_dev == st.st_dev);
	assert_int_equal(p->exe_ino, (uint64_t)st.st_ino);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_string_equal(p->exe_path, exe);
	assert_int_equal(stat("/proc/self/ns/mnt", &st), 0);
	assert_int_equal(p->mnt_ns, (uint32_t)st.st_ino);
	assert_int_equal(stat("/proc/self/ns/user", &st), 0);
	assert_int_equal(p->user_ns, (uint32_t)st.st_ino);
	assert_true(p->cgroup_path[0] == '/');
	assert_int_equal(p->cgroup_id, cgroup2_inode(p->cgroup_path));
}

static void test_read_identity_self(void **state)
{
	struct peer_identity p;
	char err[256] = "", comm[32] = "";
	FILE *fp;

	assert_int_equal(procfs_read_identity("/proc", getpid(), &p, err), 0);
	expect_self(&p);
	assert_true(p.cgroup_id != 0);
	fp = fopen("/proc/self/comm", "r");
	assert_non_null(fp);
	assert_non_null(fgets(comm, sizeof(comm), fp));
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';
	assert_string_equal(p.comm, comm);
}

static int wait_state(pid_t pid, char want)
{
	char path[64], buf[512], comm[16], st;
	uint64_t start;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n;
		char err[256];

		if (fd < 0)
			return -1;
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n > 0 && procfs_parse_stat_state(buf, (size_t)n, comm, &st, &start, err) == 0 &&
		    st == want)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* A child with an awkward name, then the same child as a zombie, then reaped. */
static void test_read_identity_child(void **state)
{
	struct peer_identity p, self;
	char err[256] = "";
	int go[2];
	pid_t child;
	int status;

	assert_int_equal(pipe(go), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;

		prctl(PR_SET_NAME, "a) b (c", 0, 0, 0);
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	assert_int_equal(wait_state(child, 'S'), 0);
	for (int i = 0; i < 500; i++) {
		assert_int_equal(procfs_read_identity("/proc", child, &p, err), 0);
		if (strcmp(p.comm, "a) b (c") == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(p.pid, child);
	assert_string_equal(p.comm, "a) b (c");
	assert_int_equal(procfs_read_identity("/proc", getpid(), &self, err), 0);
	assert_true(p.start_time_ns >= self.start_time_ns);
	assert_int_equal(p.exe_ino, self.exe_ino);
	assert_int_equal(p.cgroup_id, self.cgroup_id);

	close(go[1]); /* child exits */
	assert_int_equal(wait_state(child, 'Z'), 0);
	assert_int_equal(procfs_read_identity("/proc", child, &p, err), -ESRCH);
	print_message("zombie: %s\n", err);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(procfs_read_identity("/proc", child, &p, err), -ENOENT);
	print_message("reaped: %s\n", err);
}

/* ---- backends over real sockets ------------------------------------------------------------- */

static void test_backends_socketpair_self(void **state)
{
	struct peer_identity p;
	char err[256] = "";
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(procfs_peer_from_peercred(sv[0], &p, err), 0);
	expect_self(&p);
	assert_int_equal(p.backend, PEER_BACKEND_PEERCRED);
	assert_false(p.race_free);

	assert_int_equal(procfs_peer_from_pidfd(sv[0], &p, err), 0);
	expect_self(&p);
	assert_int_equal(p.backend, PEER_BACKEND_PIDFD);
	assert_false(p.race_free);
	close(sv[0]);
	close(sv[1]);
}

static bool kernel_at_least(int maj, int min)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > maj || (a == maj && b >= min);
}

static void test_pidfd_probe(void **state)
{
	char err[256] = "";
	int ret = procfs_pidfd_probe(err);

	if (kernel_at_least(6, 5))
		assert_int_equal(ret, 0);
	else
		assert_int_equal(ret, -EOPNOTSUPP);
}

struct server {
	char dir[48];
	char path[64];
	int lfd;
};

static void server_start(struct server *s)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(s->dir, sizeof(s->dir), "/tmp/test_procfs_sock.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/s", s->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 8), 0);
}

static void server_stop(struct server *s)
{
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
}

enum client_mode {
	CLIENT_STAY,   /* connect, then wait for the parent to close the pipe */
	CLIENT_EXIT,   /* connect, then exit at once */
	CLIENT_SETUID, /* connect, then become uid 65534 and wait */
};

/* Forks a client that connects to s. ready receives a byte once it has done its part. */
static pid_t client_start(const struct server *s, enum client_mode mode, int *hold_fd,
			  int *ready_fd)
{
	int hold[2], ready[2];
	pid_t pid;

	assert_int_equal(pipe(hold), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		char c = 'x';

		close(hold[1]);
		close(ready[0]);
		prctl(PR_SET_NAME, "peer client", 0, 0, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(2);
		if (mode == CLIENT_EXIT)
			_exit(0);
		if (mode == CLIENT_SETUID && setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		if (write(ready[1], &c, 1) != 1)
			_exit(4);
		if (read(hold[0], &c, 1) < 0)
			_exit(5);
		_exit(0);
	}
	close(hold[0]);
	close(ready[1]);
	*hold_fd = hold[1];
	*ready_fd = ready[0];
	return pid;
}

static void test_backends_live_client(void **state)
{
	struct server s;
	struct peer_identity p;
	char err[256] = "", c;
	int hold, ready, cfd, status;
	pid_t child;

	server_start(&s);
	child = client_start(&s, CLIENT_STAY, &hold, &ready);
	cfd = accept(s.lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(read(ready, &c, 1), 1);
	for (int i = 0; i < 500; i++) {
		assert_int_equal(procfs_peer_from_peercred(cfd, &p, err), 0);
		if (strcmp(p.comm, "peer client") == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(p.pid, child);
	assert_string_equal(p.comm, "peer client");
	assert_int_equal(procfs_peer_from_pidfd(cfd, &p, err), 0);
	assert_int_equal(p.pid, child);
	assert_int_equal(p.euid, geteuid());
	assert_string_equal(p.comm, "peer client");
	assert_true(p.cgroup_id != 0);

	close(hold);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Exited and reaped after the connection was accepted. */
	assert_int_equal(procfs_peer_from_peercred(cfd, &p, err), -ENOENT);
	print_message("peercred after exit: %s\n", err);
	assert_true(procfs_peer_from_pidfd(cfd, &p, err) < 0);
	print_message("pidfd after exit: %s\n", err);
	assert_int_equal(p.pid, 0);
	close(cfd);
	close(ready);
	server_stop(&s);
}

/* The client connects and exits before accept(): both backends must fail, clearly. */
static void test_backends_client_exited(void **state)
{
	struct server s;
	struct peer_identity p;
	char err[256] = "";
	int hold, ready, cfd, status, ret;
	pid_t child;

	server_start(&s);
	child = client_start(&s, CLIENT_EXIT, &hold, &ready);

	/* Zombie first: exited but not reaped. */
	assert_int_equal(wait_state(child, 'Z'), 0);
	cfd = accept(s.lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(procfs_peer_from_peercred(cfd, &p, err), -ESRCH);
	print_message("peercred, zombie: %s\n", err);
	ret = procfs_peer_from_pidfd(cfd, &p, err);
	print_message("pidfd, zombie: %d %s\n", ret, err);
	assert_true(ret == -ESRCH || ret == -ENOENT);

	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(procfs_peer_from_peercred(cfd, &p, err), -ENOENT);
	print_message("peercred, reaped: %s\n", err);
	assert_non_null(strstr(err, "SO_PEERCRED"));
	ret = procfs_peer_from_pidfd(cfd, &p, err);
	print_message("pidfd, reaped: %d %s\n", ret, err);
	assert_true(ret == -ESRCH || ret == -ENOENT);
	assert_int_equal(p.pid, 0);
	close(cfd);
	close(hold);
	close(ready);
	server_stop(&s);
}

/* setuid after connect: peercred notices the mismatch; pidfd reports the current (new) uid. */
static void test_backends_setuid_after_connect(void **state)
{
	struct server s;
	struct peer_identity p;
	char err[256] = "", c;
	int hold, ready, cfd, status;
	pid_t child;

	if (geteuid() != 0)
		skip();
	server_start(&s);
	child = client_start(&s, CLIENT_SETUID, &hold, &ready);
	cfd = accept(s.lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_int_equal(read(ready, &c, 1), 1);
	assert_int_equal(procfs_peer_from_peercred(cfd, &p, err), -ESTALE);
	print_message("peercred: %s\n", err);
	assert_int_equal(procfs_peer_from_pidfd(cfd, &p, err), 0);
	assert_int_equal(p.euid, 65534);
	assert_int_equal(p.uid, 65534);
	assert_false(p.race_free);
	close(hold);
	assert_int_equal(waitpid(child, &status, 0), child);
	close(cfd);
	close(ready);
	server_stop(&s);
}

static void test_bad_socket(void **state)
{
	struct peer_identity p;
	char err[256] = "";
	int fd = open("/dev/null", O_RDONLY);

	assert_int_equal(procfs_peer_from_peercred(fd, &p, err), -ENOTSOCK);
	assert_true(procfs_peer_from_pidfd(fd, &p, err) < 0);
	close(fd);
	assert_int_equal(procfs_peer_from_peercred(-1, &p, err), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_stat_not_terminated),
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_parse_status_huge_groups),
		cmocka_unit_test(test_parse_cgroup),
		cmocka_unit_test(test_read_identity_fake_tree),
		cmocka_unit_test(test_read_identity_self),
		cmocka_unit_test(test_read_identity_child),
		cmocka_unit_test(test_backends_socketpair_self),
		cmocka_unit_test(test_pidfd_probe),
		cmocka_unit_test(test_backends_live_client),
		cmocka_unit_test(test_backends_client_exited),
		cmocka_unit_test(test_backends_setuid_after_connect),
		cmocka_unit_test(test_bad_socket),
	};

	return cmocka_run_group_tests_name("procfs", tests, NULL, NULL);
}
