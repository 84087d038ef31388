// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_exe_hash.c - opening the captured executable by (dev, ino) only, hashing (checked against
 * sha256sum), files replaced or changed between capture and hash, and the LRU cache.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "attest/exe_hash.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_exe_hash.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/exe", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void sha256sum(const char *path, char hex[65])
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", hex), 1);
	pclose(p);
}

/* A peer whose captured executable is the file at path (pid 0: no /proc/<pid>/exe). */
static void peer_for(const char *path, struct peer_identity *p)
{
	struct stat st;

	memset(p, 0, sizeof(*p));
	assert_int_equal(stat(path, &st), 0);
	p->exe_known = true;
	p->exe_dev = st.st_dev;
	p->exe_ino = st.st_ino;
	snprintf(p->exe_path, sizeof(p->exe_path), "%s", path);
}

static int open_and_hash(const struct peer_identity *p, uint64_t limit, char hex[65])
{
	struct exe_file_key key;
	char err[256] = "";
	int fd, ret;

	ret = exe_hash_open(p, &fd, &key, err);
	if (ret < 0) {
		print_message("open: %s\n", err);
		assert_true(err[0] != '\0');
		assert_int_equal(fd, -1);
		return ret;
	}
	ret = exe_hash_sha256_fd(fd, &key, limit, hex, err);
	if (ret < 0)
		print_message("hash: %s\n", err);
	close(fd);
	return ret;
}

static void test_hash_matches_sha256sum(void **state)
{
	static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 300000};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct peer_identity p;
		char want[65], got[65];
		unsigned char *data = malloc(sizes[i] + 1);

		for (size_t j = 0; j < sizes[i]; j++)
			data[j] = (unsigned char)(j * 7 + i);
		unlink(f->path);
		write_file(f->path, data, sizes[i]);
		free(data);
		sha256sum(f->path, want);
		peer_for(f->path, &p);
		assert_int_equal(open_and_hash(&p, 0, got), 0);
		assert_string_equal(got, want);
		if (sizes[i] == 0)
			assert_string_equal(got, EMPTY_SHA256);
	}
}

static void test_via_proc_self_exe(void **state)
{
	struct peer_identity p;
	char want[65], got[65], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	peer_for("/proc/self/exe", &p);
	p.pid = getpid();
	p.exe_path[0] = '\0';  /* only /proc/<pid>/exe can succeed */
	sha256sum(self, want); /* not /proc/self/exe: that would be sha256sum itself */
	assert_int_equal(open_and_hash(&p, 0, got), 0);
	assert_string_equal(got, want);
}

static void test_size_limit(void **state)
{
	struct fixture *f = *state;
	struct peer_identity p;
	char got[65];

	write_file(f->path, "0123456789", 10);
	peer_for(f->path, &p);
	assert_int_equal(open_and_hash(&p, 9, got), -EFBIG);
	assert_string_equal(got, "");
	assert_int_equal(open_and_hash(&p, 10, got), 0);
	assert_int_equal(open_and_hash(&p, 0, got), 0);
}

static void test_open_failures(void **state)
{
	struct fixture *f = *state;
	struct peer_identity p, q;
	char fifo[160], link[160], got[65];

	write_file(f->path, "abc", 3);
	peer_for(f->path, &p);

	q = p;
	q.exe_known = false;
	assert_int_equal(open_and_hash(&q, 0, got), -ENOENT);

	q = p;
	q.exe_ino++;
	assert_int_equal(open_and_hash(&q, 0, got), -ESTALE);

	q = p;
	q.exe_dev++;
	assert_int_equal(open_and_hash(&q, 0, got), -ESTALE);

	q = p;
	snprintf(q.exe_path, sizeof(q.exe_path), "%s/missing", f->dir);
	assert_int_equal(open_and_hash(&q, 0, got), -ENOENT);

	q = p;
	snprintf(q.exe_path, sizeof(q.exe_path), "%s (deleted)", f->path);
	assert_int_equal(open_and_hash(&q, 0, got), -ENOENT);

	q = p;
	snprintf(q.exe_path, sizeof(q.exe_path), "exe");
	assert_int_equal(open_and_hash(&q, 0, got), -ENOENT);

	/* A FIFO at the path must be refused without opening it (open would block). */
	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	q = p;
	snprintf(q.exe_path, sizeof(q.exe_path), "%s", fifo);
	assert_int_equal(open_and_hash(&q, 0, got), -ESTALE);

	/* A symlink to the right file is not followed. */
	snprintf(link, sizeof(link), "%s/link", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	q = p;
	snprintf(q.exe_path, sizeof(q.exe_path), "%s", link);
	assert_int_equal(open_and_hash(&q, 0, got), -ESTALE);

	/* Process gone and no path: -ENOENT. */
	q = p;
	q.pid = 0x3ffffff0;
	q.exe_path[0] = '\0';
	assert_int_equal(open_and_hash(&q, 0, got), -ENOENT);
}

/* The file at the captured path is replaced by rename: never hash the new one. */
static void test_replaced_by_rename(void **state)
{
	struct fixture *f = *state;
	struct peer_identity p;
	char other[160], got[65];

	write_file(f->path, "original", 8);
	peer_for(f->path, &p);
	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "impostor", 8);
	assert_int_equal(rename(other, f->path), 0);
	assert_int_equal(open_and_hash(&p, 0, got), -ESTALE);
}

/*
 * A real process runs a copy of /bin/sleep; its path is then replaced. While it runs,
 * /proc/<pid>/exe still reaches the original file; once it is gone, nothing is hashed.
 */
static void test_running_process_replaced(void **state)
{
	struct fixture *f = *state;
	struct peer_identity p;
	char want[65], got[65], cmd[256], other[160];
	pid_t child;
	int status;

	snprintf(cmd, sizeof(cmd), "cp /bin/sleep '%s'", f->path);
	assert_int_equal(system(cmd), 0);
	sha256sum(f->path, want);
	peer_for(f->path, &p);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl(f->path, "sleep", "30", (char *)NULL);
		_exit(127);
	}
	p.pid = child;
	/* Wait until the child has exec'd. */
	for (int i = 0; i < 500; i++) {
		char exe[64];
		struct stat st;

		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)child);
		if (stat(exe, &st) == 0 && st.st_ino == (ino_t)p.exe_ino)
			break;
		usleep(10000);
	}
	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "impostor", 8);
	assert_int_equal(rename(other, f->path), 0);

	assert_int_equal(open_and_hash(&p, 0, got), 0);
	assert_string_equal(got, want);

	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(open_and_hash(&p, 0, got), -ESTALE);
}

static void test_changed_while_hashing(void **state)
{
	struct fixture *f = *state;
	struct peer_identity p;
	struct exe_file_key key, k2;
	char err[256], got[65];
	struct stat st;
	int fd, wfd;

	write_file(f->path, "0123456789", 10);
	peer_for(f->path, &p);
	assert_int_equal(exe_hash_open(&p, &fd, &key, err), 0);
	assert_int_equal(key.size, 10);

	/* Appended after open: size differs from the key. */
	wfd = open(f->path, O_WRONLY | O_APPEND);
	assert_true(wfd >= 0);
	assert_int_equal(write(wfd, "x", 1), 1);
	close(wfd);
	assert_int_equal(exe_hash_sha256_fd(fd, &key, 0, got, err), -EAGAIN);
	print_message("%s\n", err);

	/* A key whose mtime differs (rewritten in place, same size). */
	assert_int_equal(stat(f->path, &st), 0);
	k2 = key;
	k2.size = st.st_size;
	k2.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	k2.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	assert_int_equal(exe_hash_sha256_fd(fd, &k2, 0, got, err), 0);
	/* mtime restored with utimes() after a rewrite: ctime still tells. */
	k2.ctime_ns--;
	assert_int_equal(exe_hash_sha256_fd(fd, &k2, 0, got, err), -EAGAIN);
	k2.ctime_ns++;
	k2.mtime_ns--;
	assert_int_equal(exe_hash_sha256_fd(fd, &k2, 0, got, err), -EAGAIN);
	close(fd);
}

static void key_n(struct exe_file_key *k, int n)
{
	memset(k, 0, sizeof(*k));
	k->dev = 2049;
	k->ino = (ino_t)(1000 + n);
	k->size = 4096;
	k->mtime_ns = 1700000000000000000ll;
}

static void hex_n(char hex[65], int n)
{
	for (int i = 0; i < 64; i++)
		hex[i] = "0123456789abcdef"[(n + i) % 16];
	hex[64] = '\0';
}

static void test_cache_lru(void **state)
{
	struct exe_hash_cache *c;
	struct exe_file_key a, b, d, a2;
	char ha[65], hb[65], hd[65], got[65];

	assert_int_equal(exe_hash_cache_new(0, &c), -EINVAL);
	assert_int_equal(exe_hash_cache_new((size_t)EXE_HASH_CACHE_MAX + 1, &c), -EINVAL);
	assert_int_equal(exe_hash_cache_new(2, &c), 0);
	key_n(&a, 1);
	key_n(&b, 2);
	key_n(&d, 3);
	hex_n(ha, 1);
	hex_n(hb, 2);
	hex_n(hd, 3);

	assert_false(exe_hash_cache_get(c, &a, got));
	assert_int_equal(exe_hash_cache_put(c, &a, ha), 0);
	assert_int_equal(exe_hash_cache_put(c, &b, hb), 0);
	assert_int_equal(exe_hash_cache_size(c), 2);
	assert_true(exe_hash_cache_get(c, &a, got)); /* a is now most recent */
	assert_string_equal(got, ha);
	assert_int_equal(exe_hash_cache_put(c, &d, hd), 0); /* evicts b */
	assert_int_equal(exe_hash_cache_size(c), 2);
	assert_false(exe_hash_cache_get(c, &b, got));
	assert_true(exe_hash_cache_get(c, &a, got));
	assert_true(exe_hash_cache_get(c, &d, got));
	assert_string_equal(got, hd);

	/* Same file, new mtime or size: a different key. */
	a2 = a;
	a2.mtime_ns++;
	assert_false(exe_hash_cache_get(c, &a2, got));
	a2 = a;
	a2.size++;
	assert_false(exe_hash_cache_get(c, &a2, got));

	/* Refresh an existing key: value replaced, no eviction. */
	assert_int_equal(exe_hash_cache_put(c, &d, ha), 0);
	assert_int_equal(exe_hash_cache_size(c), 2);
	assert_true(exe_hash_cache_get(c, &d, got));
	assert_string_equal(got, ha);
	assert_true(exe_hash_cache_get(c, &a, got));

	/* Invalid hex. */
	hb[3] = 'A'; /* uppercase */
	assert_int_equal(exe_hash_cache_put(c, &b, hb), -EINVAL);
	hb[3] = '\0'; /* short */
	assert_int_equal(exe_hash_cache_put(c, &b, hb), -EINVAL);
	hb[3] = 'g';
	assert_int_equal(exe_hash_cache_put(c, &b, hb), -EINVAL);
	exe_hash_cache_free(c);
	exe_hash_cache_free(NULL);
}

/* Many keys through a small cache: exactly the last `cap` survive, in any bucket layout. */
static void test_cache_churn(void **state)
{
	enum {
		CAP = 37,
		N = 1000
	};
	struct exe_hash_cache *c;
	struct exe_file_key k;
	char h[65], got[65];

	assert_int_equal(exe_hash_cache_new(CAP, &c), 0);
	for (int i = 0; i < N; i++) {
		key_n(&k, i);
		hex_n(h, i);
		assert_int_equal(exe_hash_cache_put(c, &k, h), 0);
	}
	assert_int_equal(exe_hash_cache_size(c), CAP);
	for (int i = 0; i < N; i++) {
		key_n(&k, i);
		assert_int_equal(exe_hash_cache_get(c, &k, got), i >= N - CAP);
		if (i >= N - CAP) {
			hex_n(h, i);
			assert_string_equal(got, h);
		}
	}
	exe_hash_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hash_matches_sha256sum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_via_proc_self_exe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_by_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_running_process_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_while_hashing, setup, teardown),
		cmocka_unit_test(test_cache_lru),
		cmocka_unit_test(test_cache_churn),
	};

	return cmocka_run_group_tests_name("exe_hash", tests, NULL, NULL);
}
