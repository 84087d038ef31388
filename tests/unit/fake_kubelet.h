/*
 * fake_kubelet.h - test helper (static functions, header-only): runs tests/tools/fake_kubelet.py
 * with /usr/bin/python3 as a child process, generates its PKI with the script's make_test_pki
 * (openssl CLI), and talks to its control endpoints with blocking libcurl (test code only).
 * Tests call fk_available() first and skip with the reason it prints.
 */
#ifndef TESTS_UNIT_FAKE_KUBELET_H
#define TESTS_UNIT_FAKE_KUBELET_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define FK_FN	    static __attribute__((unused))
#define FK_PYTHON   "/usr/bin/python3"
#define FK_MAX_ARGS 32
#define FK_PATH_MAX 512

/* snprintf that may truncate (gcc's -Wformat-truncation does not look into it) */
FK_FN void __attribute__((format(printf, 3, 4)))
fk_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

struct fk {
	pid_t pid;
	int port;
	bool tls;
	char dir[FK_PATH_MAX];
};

/* tests/tools/fake_kubelet.py, found from $ATTESTD_SRCDIR or this file's path. */
FK_FN const char *fk_script(char path[FK_PATH_MAX])
{
	const char *src = getenv("ATTESTD_SRCDIR");
	const char *slash = strrchr(__FILE__, '/');

	if (src && src[0])
		fk_fmt(path, FK_PATH_MAX, "%s/tests/tools/fake_kubelet.py", src);
	else if (slash)
		fk_fmt(path, FK_PATH_MAX, "%.*s/../tools/fake_kubelet.py", (int)(slash - __FILE__),
		       __FILE__);
	else
		fk_fmt(path, FK_PATH_MAX, "../tools/fake_kubelet.py");
	return path;
}

FK_FN bool fk_which(const char *prog)
{
	const char *dirs[] = {"/usr/bin", "/bin", "/usr/local/bin"};
	char p[FK_PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		fk_fmt(p, sizeof(p), "%s/%s", dirs[i], prog);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* NULL if the fake kubelet can run (and openssl if need_openssl), else the reason to skip. */
FK_FN const char *fk_unavailable(bool need_openssl)
{
	char script[FK_PATH_MAX];

	if (access(FK_PYTHON, X_OK) != 0)
		return "needs " FK_PYTHON;
	if (access(fk_script(script), R_OK) != 0)
		return "needs tests/tools/fake_kubelet.py (run from the repository root or set "
		       "ATTESTD_SRCDIR)";
	if (need_openssl && !fk_which("openssl"))
		return "needs the openssl CLI";
	return NULL;
}

#define FK_SKIP_UNLESS(need_openssl)                                     \
	do {                                                             \
		const char *why_ = fk_unavailable(need_openssl);         \
		if (why_) {                                              \
			print_message("SKIP: %s: %s\n", __func__, why_); \
			skip();                                          \
		}                                                        \
	} while (0)

FK_FN int fk_run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* A fresh temporary directory. */
FK_FN int fk_tmpdir(char dir[FK_PATH_MAX])
{
	fk_fmt(dir, FK_PATH_MAX, "/tmp/attestd-fk-XXXXXX");
	return mkdtemp(dir) ? 0 : -errno;
}

FK_FN void fk_rmdir(const char *dir)
{
	char cmd[FK_PATH_MAX + 16];

	if (strncmp(dir, "/tmp/attestd-fk-", 16) != 0)
		return;
	fk_fmt(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* make_test_pki(dir, node_name): ca.pem, server.pem/.key, client.pem/.key, ... */
FK_FN int fk_pki(const char *dir, const char *node_name)
{
	char code[3 * FK_PATH_MAX];
	char tools[FK_PATH_MAX];
	const char *slash;

	fk_script(tools);
	slash = strrchr(tools, '/');
	if (slash)
		tools[slash - tools] = '\0';
	fk_fmt(code, sizeof(code),
	       "import sys; sys.path.insert(0, '%s'); import fake_kubelet; "
	       "fake_kubelet.make_test_pki('%s', '%s')",
	       tools, dir, node_name);
	return fk_run((char *const[]){FK_PYTHON, "-c", code, NULL});
}

FK_FN void fk_path(const struct fk *fk, const char *name, char out[FK_PATH_MAX])
{
	fk_fmt(out, FK_PATH_MAX, "%s/%s", fk->dir, name);
}

/* Starts the fake kubelet with args (NULL-terminated); waits up to 20 s for its port. */
FK_FN int fk_start(struct fk *fk, const char *dir, const char *const *args)
{
	char port_file[FK_PATH_MAX], log_file[FK_PATH_MAX];
	const char *argv[FK_MAX_ARGS + 6];
	char script[FK_PATH_MAX];
	size_t n = 0;
	struct timespec ts = {0, 20 * 1000 * 1000};

	memset(fk, 0, sizeof(*fk));
	fk_fmt(fk->dir, sizeof(fk->dir), "%s", dir);
	fk_fmt(port_file, sizeof(port_file), "%s/fk-%d.port", dir, (int)getpid());
	fk_fmt(log_file, sizeof(log_file), "%s/fake-kubelet.log", dir);
	unlink(port_file);
	argv[n++] = FK_PYTHON;
	argv[n++] = fk_script(script);
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	fk->tls = true;
	for (size_t i = 0; args && args[i] && n < FK_MAX_ARGS; i++) {
		if (strcmp(args[i], "--http") == 0)
			fk->tls = false;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	fk->pid = fork();
	if (fk->pid < 0)
		return -errno;
	if (fk->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		int log = open(log_file, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		if (log >= 0)
			dup2(log, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(port_file, "r");
		int status;

		if (f) {
			int ok = fscanf(f, "%d", &fk->port) == 1;

			fclose(f);
			if (ok)
				return 0;
		}
		if (waitpid(fk->pid, &status, WNOHANG) == fk->pid) {
			fk->pid = 0;
			return -ECHILD;
		}
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

FK_FN void fk_stop(struct fk *fk)
{
	int status;

	if (fk->pid <= 0)
		return;
	kill(fk->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		if (waitpid(fk->pid, &status, WNOHANG) == fk->pid) {
			fk->pid = 0;
			return;
		}
		nanosleep(&ts, NULL);
	}
	kill(fk->pid, SIGKILL);
	waitpid(fk->pid, &status, 0);
	fk->pid = 0;
}

struct fk_buf {
	char data[65536];
	size_t len;
};

FK_FN size_t fk_write(char *p, size_t size, size_t nmemb, void *userp)
{
	struct fk_buf *b = userp;
	size_t n = size * nmemb;

	if (n > sizeof(b->data) - 1 - b->len)
		n = sizeof(b->data) - 1 - b->len;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return size * nmemb;
}

/* Blocking control request (GET /_count, POST /_faults, ...). Returns the HTTP status or -1. */
FK_FN long fk_control(const struct fk *fk, const char *method, const char *path, const char *body,
		      struct fk_buf *out)
{
	char url[256];
	struct fk_buf scratch;
	CURL *c = curl_easy_init();
	long status = -1;

	if (!c)
		return -1;
	if (!out)
		out = &scratch;
	out->len = 0;
	out->data[0] = '\0';
	fk_fmt(url, sizeof(url), "%s://127.0.0.1:%d%s", fk->tls ? "https" : "http", fk->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fk_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cc = curl_easy_perform(c);

	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		fprintf(stderr, "fake kubelet control %s %s: %s\n", method, path,
			curl_easy_strerror(cc));
	curl_easy_cleanup(c);
	return status;
}

/* /_count's "pods" (requests to /pods), or -1. */
FK_FN long fk_count(const struct fk *fk)
{
	struct fk_buf b;
	const char *p;

	long status = -1;

	for (int i = 0; i < 3 && status != 200; i++) /* a transient failure is not the test's */
		status = fk_control(fk, "GET", "/_count", NULL, &b);
	if (status != 200)
		return -1;
	p = strstr(b.data, "\"pods\":");
	return p ? strtol(p + 7, NULL, 10) : -1;
}

FK_FN int fk_write_file(const char *path, const char *text)
{
	char tmp[FK_PATH_MAX + 8];
	FILE *f;

	fk_fmt(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	if (fclose(f) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

#endif /* TESTS_UNIT_FAKE_KUBELET_H */
