/*
 * test_capture.c - attest/capture against the host kernel: the backend chosen here captures a
 * client that has already exited, exec'd or lost its cgroup; pins survive an unclean stop and
 * are reused; a clean stop removes them. Needs root (skips otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <bpf/libbpf.h>

#include "attest/capture.h"

struct fixture {
	char dir[PATH_MAX];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pin_dir[PATH_MAX];
	int listen_fd;
	struct capture *cap;
};

static int make_listener(struct fixture *f)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->sock);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(f->listen_fd, 16) < 0)
		return -errno;
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/attestd-capture-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/agent.sock", f->dir);
	snprintf(f->pin_dir, sizeof(f->pin_dir), "/sys/fs/bpf/attestd-unit-%d", getpid());
	f->listen_fd = -1;
	*state = f;
	return make_listener(f);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	capture_free(f->cap, true);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void skip_unless_root(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (loads BPF programs)\n");
		skip();
	}
}

/* Opens capture with `backend`; skips when it cannot work on this kernel, saying why. */
static void open_capture(struct fixture *f, enum peer_backend backend)
{
	struct capture_opts o = {
		.backend = backend,
		.pin_dir = f->pin_dir,
		.tracking = true,
	};
	char err[CAPTURE_ERR_MAX] = "";
	int rc;

	skip_unless_root();
	rc = capture_open(&o, &f->cap, err);
	if (rc < 0 && backend != PEER_BACKEND_AUTO) {
		fprintf(stderr, "skipped: backend %s unavailable here: %s\n",
			peer_backend_name(backend), err);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(capture_add_listener(f->cap, f->sock, err), 0);
}

/* Child: optionally join a cgroup, connect, then exit or exec. Returns the child's pid. */
static pid_t spawn_client(struct fixture *f, const char *cgroup_procs, const char *exec_path)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int s;

		close(ready[0]);
		if (cgroup_procs) {
			FILE *cg = fopen(cgroup_procs, "w");

			if (!cg || fprintf(cg, "%d\n", getpid()) < 0 || fclose(cg) != 0)
				_exit(10);
		}
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->sock);
		s = socket(AF_UNIX, SOCK_STREAM, 0); /* no CLOEXEC: survives the exec */
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(11);
		if (write(ready[1], "x", 1) != 1)
			_exit(12);
		if (exec_path) {
			execl(exec_path, exec_path, "2", (char *)NULL);
			_exit(13);
		}
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	assert_true(n > 0);
	buf[n] = 0;
}

static void test_exited_client(void **state)
{
	struct fixture *f = *state;
	struct peer_identity id;
	char err[CAPTURE_ERR_MAX] = "", exe[PATH_MAX];
	struct stat st;
	pid_t pid;
	int status, fd;

	open_capture(f, PEER_BACKEND_AUTO);
	if (!capture_get_report(f->cap)->race_free) {
		fprintf(stderr, "skipped: no race-free backend on this kernel\n");
		skip();
	}
	pid = spawn_client(f, NULL, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fd = accept(f->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(capture_peer(f->cap, fd, &id, err), 0);
	close(fd);
	self_exe(exe, sizeof(exe));
	assert_int_equal(stat(exe, &st), 0);
	assert_int_equal(id.pid, pid);
	assert_int_equal(id.euid, geteuid());
	assert_true(id.race_free);
	assert_true(id.exe_known);
	assert_int_equal(id.exe_ino, st.st_ino);
	assert_int_equal(id.exe_dev, st.st_dev);
	assert_string_equal(id.exe_path, exe);
	assert_true(id.cgroup_id != 0);
	assert_true(id.cgroup_path[0] == '/');
	assert_true(id.mnt_ns != 0 && id.pid_ns != 0 && id.net_ns != 0 && id.user_ns != 0);
}

static void test_exec_after_connect(void **state)
{
	struct fixture *f = *state;
	char err[CAPTURE_ERR_MAX] = "", exe[PATH_MAX], link[64], now[PATH_MAX];
	struct peer_identity id;
	pid_t pid;
	int fd, status;

	open_capture(f, PEER_BACKEND_AUTO);
	if (!capture_get_report(f->cap)->race_free) {
		fprintf(stderr, "skipped: no race-free backend on this kernel\n");
		skip();
	}
	pid = spawn_client(f, NULL, "/bin/sleep");
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	/* Wait until the exec has happened, then read the capture. */
	for (int i = 0; i < 200; i++) {
		ssize_t n = readlink(link, now, sizeof(now) - 1);

		if (n > 0) {
			now[n] = 0;
			if (strstr(now, "sleep"))
				break;
		}
		usleep(10000);
	}
	assert_non_null(strstr(now, "sleep"));
	fd = accept(f->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(capture_peer(f->cap, fd, &id, err), 0);
	close(fd);
	self_exe(exe, sizeof(exe));
	assert_int_equal(id.pid, pid);
	assert_string_equal(id.exe_path, exe); /* the connect-time binary, not sleep */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void test_cgroup_removed(void **state)
{
	struct fixture *f = *state;
	char err[CAPTURE_ERR_MAX] = "", cg[PATH_MAX], procs[PATH_MAX + 16], rel[PATH_MAX];
	const struct capture_report *r;
	struct peer_identity id;
	struct stat st;
	pid_t pid;
	int fd, status;

	open_capture(f, PEER_BACKEND_AUTO);
	r = capture_get_report(f->cap);
	if (!r->race_free || !r->cgroup_tracking) {
		fprintf(stderr, "skipped: needs a race-free backend and cgroup tracking\n");
		skip();
	}
	snprintf(rel, sizeof(rel), "/attestd-unit-%d", getpid());
	snprintf(cg, sizeof(cg), "%s%s", r->cgroup2_root, rel);
	assert_int_equal(mkdir(cg, 0755), 0);
	assert_int_equal(stat(cg, &st), 0);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	pid = spawn_client(f, procs, NULL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The cgroup is gone before attestd looks at the connection. */
	for (int i = 0; i < 100 && rmdir(cg) < 0; i++)
		usleep(10000);
	assert_int_equal(access(cg, F_OK), -1);
	fd = accept(f->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(capture_peer(f->cap, fd, &id, err), 0);
	close(fd);
	assert_int_equal(id.cgroup_id, st.st_ino);
	assert_string_equal(id.cgroup_path, rel);
}

static void test_pins_survive_unclean_stop(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];

	open_capture(f, PEER_BACKEND_AUTO);
	if (capture_get_report(f->cap)->chosen > PEER_BACKEND_CONNECT_UNIX) {
		fprintf(stderr, "skipped: no BPF backend on this kernel\n");
		skip();
	}
	assert_false(capture_get_report(f->cap)->pins_reused);
	capture_free(f->cap, false); /* like a crash: pins stay */
	f->cap = NULL;
	snprintf(path, sizeof(path), "%s/peer_storage", f->pin_dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/exe_map", f->pin_dir);
	assert_int_equal(access(path, F_OK), 0);

	open_capture(f, PEER_BACKEND_AUTO);
	assert_true(capture_get_report(f->cap)->pins_reused);
	capture_free(f->cap, true); /* clean stop: everything goes */
	f->cap = NULL;
	assert_int_equal(access(f->pin_dir, F_OK), -1);
}

static void test_forced_backends(void **state)
{
	static const enum peer_backend bpf[] = {PEER_BACKEND_LSM, PEER_BACKEND_FEXIT,
						PEER_BACKEND_CONNECT_UNIX};
	static const char *const feature[] = {"BPF LSM", "trampolines", "connect_unix"};
	struct fixture *f = *state;
	struct capture_opts o = {.pin_dir = f->pin_dir};
	char err[CAPTURE_ERR_MAX];

	skip_unless_root();
	for (size_t i = 0; i < sizeof(bpf) / sizeof(bpf[0]); i++) {
		struct capture *cap = NULL;
		int rc;

		err[0] = 0;
		o.backend = bpf[i];
		rc = capture_open(&o, &cap, err);
		if (rc == 0) {
			assert_int_equal(capture_get_report(cap)->chosen, bpf[i]);
			capture_free(cap, true);
			continue;
		}
		/* A forced backend that cannot load names the kernel feature it lacks. */
		assert_null(cap);
		assert_non_null(strstr(err, peer_backend_name(bpf[i])));
		assert_non_null(strstr(err, feature[i]));
		assert_int_equal(access(f->pin_dir, F_OK), -1); /* nothing left pinned */
	}
}

static void test_peercred_is_racy(void **state)
{
	struct fixture *f = *state;
	char err[CAPTURE_ERR_MAX] = "";
	struct peer_identity id;
	pid_t pid;
	int fd, status;

	open_capture(f, PEER_BACKEND_PEERCRED);
	pid = spawn_client(f, NULL, "/bin/sleep");
	usleep(100000);
	fd = accept(f->listen_fd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(capture_peer(f->cap, fd, &id, err), 0);
	close(fd);
	assert_int_equal(id.pid, pid);
	assert_false(id.race_free);
	assert_int_equal(id.backend, PEER_BACKEND_PEERCRED);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exited_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_after_connect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pins_survive_unclean_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forced_backends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peercred_is_racy, setup, teardown),
	};

	/* Probing failures are expected on kernels without BPF LSM or trampolines. */
	if (!getenv("TEST_VERBOSE"))
		libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
