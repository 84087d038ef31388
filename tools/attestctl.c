// SPDX-License-Identifier: Apache-2.0
/*
 * attestctl - the operator's command line for attestd.
 *
 * Talks to attestd's admin API (HTTP/1.1 + JSON on a Unix socket) with libcurl, and for `diag`
 * runs bpftool (fork/exec, JSON output, bounded) to show the kernel-side view: programs, links,
 * pinned maps and a few captured entries. `fetch` and `validate` are SPIFFE Workload API clients
 * on the agent socket, built on the daemon's own gRPC client (daemon/grpc.h) and protobuf code
 * (daemon/proto.h); OpenSSL turns the DER they receive into PEM files. Every failure is one line
 * on stderr naming the socket (or command) and the reason, for the Workload API the gRPC status
 * and the server's message; exit status 1 for runtime errors, 2 for usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/config.h"
#include "daemon/grpc.h"
#include "sigstore/conformance.h"
#include "sigstore/util.h"
#include "daemon/proto.h"

#ifndef ATTESTD_VERSION
#define ATTESTD_VERSION "dev"
#endif

#define DEFAULT_ADMIN_SOCKET  "/run/attestd/admin.sock"
#define ADMIN_SOCKET_ENV      "ATTESTD_ADMIN_SOCKET"
#define DEFAULT_PIN_DIR	      "/sys/fs/bpf/attestd"
#define FALLBACK_BPFTOOL      "/usr/sbin/bpftool"
#define CONNECT_TIMEOUT_MS    2000L
#define TOTAL_TIMEOUT_MS      10000L
#define MAX_RESPONSE_BYTES    (8u << 20)  /* admin API answer */
#define MAX_BPFTOOL_OUTPUT    (16u << 20) /* one bpftool run */
#define BPFTOOL_TIMEOUT_MS    10000
#define MAX_BPFTOOL_ARGS      600 /* argv entries, incl. a key of MAX_MAP_KEY_BYTES hex bytes */
#define MAX_MAP_KEY_BYTES     512
#define MAP_SAMPLE_ENTRIES    3
#define DEFAULT_LIMIT	      20
#define MAX_LIMIT	      100000
#define MAX_PID		      4194304 /* PID_MAX_LIMIT on 64-bit */
#define MAX_PATH_QUERY	      64
#define EXE_COLUMN_WIDTH      36    /* display columns for EXE in `attestations` */
#define MAX_INLINE_JSON	      400   /* bytes of a nested value shown on one line */
#define MAX_ITEMS_SHOWN	      10000 /* rows of any bpftool list we look at */
#define CGROUP2_CANDIDATE_NUM 2
#define DEFAULT_WL_SOCKET     "/run/attestd/agent.sock"
#define WL_SOCKET_ENV	      "SPIFFE_ENDPOINT_SOCKET"
#define DEFAULT_WL_TIMEOUT_MS 5000
#define MAX_WL_TIMEOUT_MS     3600000	  /* --timeout at most 1h */
#define MAX_AUDIENCES	      64	  /* --audience options of one fetch jwt */
#define MAX_CHAIN_CERTS	      64	  /* certificates in one X.509-SVID chain */
#define MAX_BUNDLE_CERTS      1024	  /* certificates in one X.509 bundle */
#define MAX_TOKEN_BYTES	      (64u << 10) /* a JWT given to validate jwt */
#define MAX_SPIFFE_ID	      2048	  /* bytes, per the SPIFFE ID standard */

static const char *const cgroup2_candidates[CGROUP2_CANDIDATE_NUM] = {
	"/sys/fs/cgroup/unified",
	"/sys/fs/cgroup",
};

/* Name prefixes of attestd's BPF programs (bpf/ *.bpf.c: capture_*, track_*). */
static const char *const prog_prefixes[] = {"capture_", "track_", "attestd_"};

/* Maps whose entries live on kernel objects and cannot be enumerated from user space. */
static const char *const storage_map_types[] = {"sk_storage", "inode_storage", "task_storage",
						"cgrp_storage"};

extern char **environ;

struct ctl {
	const char *socket; /* admin API */
	bool json;
	/* Workload API commands */
	const char *wl_socket; /* without a unix: prefix */
	int timeout_ms;
	const char *write_dir;		     /* fetch x509 --write */
	const char *audience[MAX_AUDIENCES]; /* fetch jwt, validate jwt */
	size_t naudience;
	const char *spiffe_id; /* fetch jwt */
	const char *token;     /* validate jwt */
};

/* ---- small helpers ------------------------------------------------------------------------ */

/* json_decrefp() comes with jansson >= 2.9 */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))

/* Fills a caller's err[256]; long inputs are cut, which is fine for a one-line message. */
__attribute__((format(printf, 2, 3))) static void errf(char err[256], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, 256, fmt, ap);
	va_end(ap);
}

static const char *jstr(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Formats any JSON value for humans into buf: null/missing -> "-", bools -> yes/no. */
static const char *fmt_val(const json_t *v, char *buf, size_t n)
{
	char *dump;

	if (!v || json_is_null(v)) {
		snprintf(buf, n, "-");
	} else if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(buf, n, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "no");
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, n, "%s", dump ? dump : "?");
		free(dump);
	}
	return buf;
}

static const char *fmt_key(const json_t *obj, const char *key, char *buf, size_t n)
{
	return fmt_val(json_object_get(obj, key), buf, n);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Number of display columns of a UTF-8 string (counts code points). */
static size_t utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Shortens s from the left with "…" so that it fits in width columns. */
static void shorten_left(const char *s, size_t width, char *buf, size_t n)
{
	size_t w = utf8_width(s);

	if (w <= width || width < 2) {
		snprintf(buf, n, "%s", s);
		return;
	}
	while (w > width - 1) {
		s++;
		while (((unsigned char)*s & 0xc0) == 0x80)
			s++;
		w--;
	}
	snprintf(buf, n, "\xe2\x80\xa6%s", s);
}

/* Prints s and pads it with spaces to width display columns. */
static void print_padded(const char *s, size_t width)
{
	size_t w = utf8_width(s);

	fputs(s, stdout);
	for (; w < width; w++)
		putchar(' ');
	putchar(' ');
}

static int print_json(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return -EIO;
	putchar('\n');
	return 0;
}

/* "2026-11-22T21:40:01.123456Z" -> local "HH:MM:SS"; "-" if unparsable. */
static const char *fmt_local_time(const char *iso, char *buf, size_t n)
{
	struct tm tm = {0}, local;
	time_t t;
	char z;

	snprintf(buf, n, "-");
	if (!iso)
		return buf;
	if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return buf;
	z = iso[strlen(iso) - 1];
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1 || z != 'Z' || !localtime_r(&t, &local))
		return buf;
	strftime(buf, n, "%H:%M:%S", &local);
	return buf;
}

static const char *fmt_duration(const json_t *v, char *buf, size_t n)
{
	long long s, d, h, m;

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fmt_val(v, buf, n);
	s = json_integer_value(v);
	d = s / 86400;
	h = s % 86400 / 3600;
	m = s % 3600 / 60;
	if (d)
		snprintf(buf, n, "%lldd %lldh %lldm %llds", d, h, m, s % 60);
	else if (h)
		snprintf(buf, n, "%lldh %lldm %llds", h, m, s % 60);
	else if (m)
		snprintf(buf, n, "%lldm %llds", m, s % 60);
	else
		snprintf(buf, n, "%llds", s);
	return buf;
}

/* Prints the members of an object as "k=v, k=v"; "-" if not an object. */
static void print_members(const json_t *obj, const char *sep)
{
	const char *k;
	json_t *v;
	char b[MAX_INLINE_JSON];
	bool first = true;

	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		fputs("-", stdout);
		return;
	}
	json_object_foreach ((json_t *)obj, k, v) {
		printf("%s%s=%s", first ? "" : sep, k, fmt_val(v, b, sizeof(b)));
		first = false;
	}
}

/* ---- admin API client --------------------------------------------------------------------- */

struct body {
	char *data;
	size_t len;
	bool overflow;
};

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (n > MAX_RESPONSE_BYTES - b->len) {
		b->overflow = true;
		return 0;
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static const char *connect_hint(long os_errno)
{
	if (os_errno == EACCES || os_errno == EPERM)
		return " (the admin socket is mode 0600: run as root?)";
	return " (is attestd running?)";
}

/*
 * GET path from attestd's admin API on socket. On 2xx, *out is the parsed JSON (caller
 * decrefs). On failure returns -errno and fills err with one line naming the socket and reason.
 */
static int admin_get(const char *socket, const char *path, json_t **out, char err[256])
{
	struct body body = {0};
	char url[256], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	CURL *curl = NULL;
	CURLcode rc;
	long status = 0, os_errno = 0;
	int ret = 0;

	*out = NULL;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!curl || !hdrs) {
		errf(err, "%s: out of memory", socket);
		ret = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_PROXY, "");

	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
	if (rc == CURLE_COULDNT_CONNECT) {
		if (os_errno)
			errf(err, "cannot connect to %s: %s%s", socket, strerror(os_errno),
			     connect_hint(os_errno));
		else
			errf(err, "cannot connect to %s: %s (is attestd running?)", socket,
			     curl_err[0] ? curl_err : curl_easy_strerror(rc));
		ret = os_errno ? -(int)os_errno : -ECONNREFUSED;
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		errf(err, "%s: GET %s: no complete answer within %ld s", socket, path,
		     TOTAL_TIMEOUT_MS / 1000);
		ret = -ETIMEDOUT;
		goto out;
	}
	if (body.overflow) {
		errf(err, "%s: GET %s: answer larger than %u MiB", socket, path,
		     MAX_RESPONSE_BYTES >> 20);
		ret = -EFBIG;
		goto out;
	}
	if (rc != CURLE_OK) {
		errf(err, "%s: GET %s: %s", socket, path,
		     curl_err[0] ? curl_err : curl_easy_strerror(rc));
		ret = -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (body.len)
		j = json_loadb(body.data, body.len, 0, &jerr);
	if (status >= 400) {
		const char *msg = jstr(j, "error");

		errf(err, "%s: GET %s: HTTP %ld: %s", socket, path, status,
		     msg ? msg : "(no error message)");
		ret = status == 404 ? -ENOENT : -EIO;
		goto out;
	}
	if (status < 200 || status > 299) {
		errf(err, "%s: GET %s: unexpected HTTP status %ld", socket, path, status);
		ret = -EPROTO;
		goto out;
	}
	if (!j) {
		if (body.len)
			errf(err, "%s: GET %s: invalid JSON at line %d column %d: %s", socket, path,
			     jerr.line, jerr.column, jerr.text);
		else
			errf(err, "%s: GET %s: empty answer", socket, path);
		ret = -EPROTO;
		goto out;
	}
	*out = j;
	j = NULL;
out:
	json_decref(j);
	free(body.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(curl);
	return ret;
}

/* ---- attestctl status --------------------------------------------------------------------- */

static void print_backends(const json_t *backends, const char *indent)
{
	char b1[64], b2[64], b3[512];
	size_t i;
	json_t *be;

	if (!json_is_array(backends) || json_array_size(backends) == 0) {
		printf("%s(attestd did not report its backends)\n", indent);
		return;
	}
	printf("%s%-14s %-10s %s\n", indent, "NAME", "STATUS", "REASON");
	json_array_foreach (backends, i, be) {
		printf("%s%-14s %-10s %s\n", indent, fmt_key(be, "name", b1, sizeof(b1)),
		       fmt_key(be, "status", b2, sizeof(b2)),
		       fmt_key(be, "reason", b3, sizeof(b3)));
	}
}

static void print_status(const json_t *st)
{
	char b[512], b2[64];
	const json_t *audit = json_object_get(st, "audit");

	printf("%-14s %s\n", "version", fmt_key(st, "version", b, sizeof(b)));
	printf("%-14s %s\n", "pid", fmt_key(st, "pid", b, sizeof(b)));
	printf("%-14s %s\n", "kernel", fmt_key(st, "kernel", b, sizeof(b)));
	printf("%-14s %s\n", "uptime", fmt_duration(json_object_get(st, "uptime_s"), b, sizeof(b)));
	printf("%-14s %s", "backend", fmt_key(st, "backend", b, sizeof(b)));
	if (json_is_true(json_object_get(st, "race_free")))
		printf(" (race-free: identity captured in the kernel at connect time)\n");
	else if (json_is_false(json_object_get(st, "race_free")))
		printf(" (NOT race-free: identity read from /proc after accept)\n");
	else
		printf("\n");
	printf("%-14s %s\n", "trust domain", fmt_key(st, "trust_domain", b, sizeof(b)));
	printf("%-14s %s\n", "workload API", fmt_key(st, "socket", b, sizeof(b)));
	printf("%-14s %s\n", "admin API", fmt_key(st, "admin_socket", b, sizeof(b)));
	printf("%-14s %s\n", "pin dir", fmt_key(st, "pin_dir", b, sizeof(b)));
	printf("%-14s ", "tracking");
	print_members(json_object_get(st, "tracking"), ", ");
	printf("\n%-14s ", "counters");
	print_members(json_object_get(st, "counters"), ", ");
	printf("\n%-14s %s of %s entries\n", "audit ring", fmt_key(audit, "entries", b, sizeof(b)),
	       fmt_key(audit, "capacity", b2, sizeof(b2)));
	printf("\nbackends (probed in this order; the first that attaches is chosen):\n");
	print_backends(json_object_get(st, "backends"), "  ");
}

static int cmd_status(const struct ctl *ctl)
{
	_cleanup_json_ json_t *st = NULL;
	char err[256];
	int ret;

	ret = admin_get(ctl->socket, "/v1/status", &st, err);
	if (ret < 0) {
		fprintf(stderr, "attestctl: %s\n", err);
		return 1;
	}
	if (!json_is_object(st)) {
		fprintf(stderr, "attestctl: %s: GET /v1/status: expected a JSON object\n",
			ctl->socket);
		return 1;
	}
	if (ctl->json)
		return print_json(st) < 0 ? 1 : 0;
	print_status(st);
	return 0;
}

/* ---- attestctl attestations --------------------------------------------------------------- */

static int cmd_attestations(const struct ctl *ctl, long limit)
{
	_cleanup_json_ json_t *arr = NULL;
	char path[MAX_PATH_QUERY], err[256], b[PATH_MAX], exe[PATH_MAX], t[32];
	const json_t *rec, *peer;
	size_t i;
	int ret;

	snprintf(path, sizeof(path), "/v1/attestations?limit=%ld", limit);
	ret = admin_get(ctl->socket, path, &arr, err);
	if (ret < 0) {
		fprintf(stderr, "attestctl: %s\n", err);
		return 1;
	}
	if (!json_is_array(arr)) {
		fprintf(stderr, "attestctl: %s: GET %s: expected a JSON array\n", ctl->socket,
			path);
		return 1;
	}
	if (ctl->json)
		return print_json(arr) < 0 ? 1 : 0;
	if (json_array_size(arr) == 0) {
		printf("no attestations recorded yet\n");
		return 0;
	}
	printf("%-6s %-8s %-8s %-6s ", "ID", "TIME", "PID", "UID");
	print_padded("EXE", EXE_COLUMN_WIDTH);
	printf("%-13s %-9s %-9s %s\n", "BACKEND", "RACE_FREE", "RESULT", "SELECTORS");
	json_array_foreach (arr, i, rec) {
		peer = json_object_get(rec, "peer");
		printf("%-6s ", fmt_key(rec, "id", b, sizeof(b)));
		printf("%-8s ", fmt_local_time(jstr(rec, "time"), t, sizeof(t)));
		printf("%-8s ", fmt_key(peer, "pid", b, sizeof(b)));
		printf("%-6s ", fmt_key(peer, "uid", b, sizeof(b)));
		shorten_left(fmt_key(peer, "exe", b, sizeof(b)), EXE_COLUMN_WIDTH, exe,
			     sizeof(exe));
		print_padded(exe, EXE_COLUMN_WIDTH);
		printf("%-13s ", fmt_key(peer, "backend", b, sizeof(b)));
		printf("%-9s ", fmt_key(peer, "race_free", b, sizeof(b)));
		printf("%-9s ", fmt_key(rec, "result", b, sizeof(b)));
		if (json_is_array(json_object_get(rec, "selectors")))
			printf("%zu\n", json_array_size(json_object_get(rec, "selectors")));
		else
			printf("-\n");
	}
	return 0;
}

/* ---- attestctl explain -------------------------------------------------------------------- */

struct fact {
	const char *key;
	const char *label;
};

static const struct fact peer_facts[] = {
	{"pid", "process id (tgid)"},
	{"tid", "thread id"},
	{"start_time_ns", "start time (ns since boot)"},
	{"comm", "command name"},
	{"exe", "executable"},
	{"exe_dev", "executable device"},
	{"exe_ino", "executable inode"},
	{"uid", "real uid"},
	{"euid", "effective uid"},
	{"gid", "real gid"},
	{"egid", "effective gid"},
	{"supplementary_gids", "supplementary gids"},
	{"cgroup_id", "cgroup v2 id"},
	{"cgroup_path", "cgroup path"},
};

static const char *const ns_names[] = {"mnt", "pid", "net", "user"};

static void print_peer(const json_t *peer)
{
	const json_t *v, *ns = json_object_get(peer, "namespaces");
	char b[PATH_MAX], label[64];
	const char *backend = jstr(peer, "backend");
	size_t i;

	for (i = 0; i < sizeof(peer_facts) / sizeof(peer_facts[0]); i++) {
		v = json_object_get(peer, peer_facts[i].key);
		if (strcmp(peer_facts[i].key, "exe_dev") == 0 && json_is_integer(v)) {
			/* user-space dev_t, as in struct stat */
			dev_t d = (dev_t)json_integer_value(v);

			snprintf(b, sizeof(b), "%u:%u (%" JSON_INTEGER_FORMAT ")", major(d),
				 minor(d), json_integer_value(v));
		} else {
			fmt_val(v, b, sizeof(b));
		}
		printf("  %-28s %s\n", peer_facts[i].label, b);
	}
	for (i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		snprintf(label, sizeof(label), "%s namespace (inode)", ns_names[i]);
		printf("  %-28s %s\n", label, fmt_key(ns, ns_names[i], b, sizeof(b)));
	}
	printf("\nsource\n");
	printf("  %-28s %s\n", "backend", backend ? backend : "-");
	v = json_object_get(peer, "race_free");
	printf("  %-28s %s\n", "race-free", fmt_val(v, b, sizeof(b)));
	if (json_is_true(v))
		printf("  captured by BPF in the kernel at connect() time: immune to exec, exit\n"
		       "  and pid reuse after connect\n");
	else if (backend && strcmp(backend, "proc") == 0)
		printf("  read from /proc now, not captured at connect time: exec/exit/pid reuse\n"
		       "  races are possible\n");
	else
		printf("  read from /proc after accept(), not captured at connect time: "
		       "exec/exit/\n"
		       "  pid reuse races are possible\n");
}

static int cmd_explain(const struct ctl *ctl, long pid)
{
	_cleanup_json_ json_t *rec = NULL;
	char path[MAX_PATH_QUERY], err[256], b[PATH_MAX];
	const json_t *peer, *sels, *attrs, *v, *vals;
	const char *k;
	size_t i, j;
	int ret;

	snprintf(path, sizeof(path), "/v1/attest?pid=%ld", pid);
	ret = admin_get(ctl->socket, path, &rec, err);
	if (ret < 0) {
		fprintf(stderr, "attestctl: %s\n", err);
		return 1;
	}
	if (!json_is_object(rec)) {
		fprintf(stderr, "attestctl: %s: GET %s: expected a JSON object\n", ctl->socket,
			path);
		return 1;
	}
	if (ctl->json)
		return print_json(rec) < 0 ? 1 : 0;

	printf("pid %ld: %s", pid, fmt_key(rec, "result", b, sizeof(b)));
	printf(" in %s us\n", fmt_key(rec, "duration_us", b, sizeof(b)));
	if (json_is_string(json_object_get(rec, "error")))
		printf("error: %s\n", jstr(rec, "error"));

	peer = json_object_get(rec, "peer");
	printf("\npeer\n");
	if (json_is_object(peer))
		print_peer(peer);
	else
		printf("  - (no peer facts: the process could not be read)\n");

	sels = json_object_get(rec, "selectors");
	printf("\nselectors (%zu)\n", json_is_array(sels) ? json_array_size(sels) : (size_t)0);
	json_array_foreach (sels, i, v) {
		printf("  %s\n", fmt_val(v, b, sizeof(b)));
	}
	if (!json_array_size(sels))
		printf("  -\n");

	attrs = json_object_get(rec, "attributes");
	printf("\nattributes (%zu)\n", json_is_object(attrs) ? json_object_size(attrs) : (size_t)0);
	json_object_foreach ((json_t *)attrs, k, vals) {
		if (!json_is_array(vals)) {
			printf("  %s = %s\n", k, fmt_val(vals, b, sizeof(b)));
			continue;
		}
		json_array_foreach (vals, j, v) {
			printf("  %s = %s\n", k, fmt_val(v, b, sizeof(b)));
		}
	}
	if (!json_object_size(attrs))
		printf("  -\n");
	return 0;
}

/* ---- running bpftool ---------------------------------------------------------------------- */

/* Finds bpftool on PATH, else at FALLBACK_BPFTOOL. Returns 0 and fills out, or -ENOENT. */
static int bpftool_find(char *out, size_t n)
{
	const char *path = getenv("PATH");
	const char *p, *end;
	int len;

	for (p = path; p && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p)
			continue;
		len = snprintf(out, n, "%.*s/bpftool", (int)(end - p), p);
		if (len > 0 && (size_t)len < n && access(out, X_OK) == 0)
			return 0;
	}
	if (access(FALLBACK_BPFTOOL, X_OK) == 0) {
		snprintf(out, n, "%s", FALLBACK_BPFTOOL);
		return 0;
	}
	return -ENOENT;
}

static void describe_cmd(const char *const *args, char *buf, size_t n)
{
	size_t used = 0;
	int len;

	buf[0] = '\0';
	for (; *args && used < n; args++) {
		len = snprintf(buf + used, n - used, "%s%s", used ? " " : "", *args);
		if (len < 0)
			break;
		used += (size_t)len;
	}
}

/* Reads fd to EOF into a malloc'd, NUL-terminated buffer bounded by MAX_BPFTOOL_OUTPUT. */
static int read_bounded(int fd, char **out, size_t *outlen)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec start, now;
	char *buf = NULL, *p;
	size_t len = 0, cap = 0;
	ssize_t r;
	int ret = 0, left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = BPFTOOL_TIMEOUT_MS - (int)((now.tv_sec - start.tv_sec) * 1000 +
						  (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			ret = -ETIMEDOUT;
			goto out;
		}
		r = poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			continue;
		if (len == cap) {
			if (cap >= MAX_BPFTOOL_OUTPUT + 1) {
				ret = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_BPFTOOL_OUTPUT + 1)
				cap = MAX_BPFTOOL_OUTPUT + 1;
			p = realloc(buf, cap + 1);
			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > MAX_BPFTOOL_OUTPUT) {
			ret = -EFBIG;
			goto out;
		}
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf) {
			ret = -ENOMEM;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	return ret;
}

/*
 * bpftool -j reports failures as {"error": "..."}, alone or as the last element of a list it
 * was printing (e.g. [{"error": "can't get next program: Operation not permitted"}]).
 */
static const char *bpftool_error(const json_t *j)
{
	const json_t *last;

	if (json_is_object(j))
		return jstr(j, "error");
	if (!json_is_array(j) || json_array_size(j) == 0)
		return NULL;
	last = json_array_get(j, json_array_size(j) - 1);
	if (json_is_object(last) && !json_object_get(last, "id"))
		return jstr(last, "error");
	return NULL;
}

/*
 * Runs `bpftool -j args...` (no shell) and parses its JSON output into *out (caller decrefs).
 * bpftool's stderr goes to /dev/null: in JSON mode it reports errors as {"error": "..."} on
 * stdout. On failure returns -errno and fills err naming the command and the reason.
 */
static int bpftool_run(const char *bpftool, const char *const *args, json_t **out, char err[256])
{
	const char *argv[MAX_BPFTOOL_ARGS + 3];
	posix_spawn_file_actions_t fa;
	bool fa_init = false;
	int pipefd[2] = {-1, -1};
	char cmd[160], *data = NULL;
	size_t nargs = 0, len = 0;
	pid_t pid = -1;
	json_error_t jerr;
	json_t *j = NULL;
	const char *msg;
	int ret, status = 0, rc;

	*out = NULL;
	describe_cmd(args, cmd, sizeof(cmd));
	argv[nargs++] = bpftool;
	argv[nargs++] = "-j";
	for (; *args; args++) {
		if (nargs >= MAX_BPFTOOL_ARGS + 2) {
			errf(err, "bpftool %s: too many arguments", cmd);
			ret = -E2BIG;
			goto out;
		}
		argv[nargs++] = *args;
	}
	argv[nargs] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = -errno;
		errf(err, "bpftool %s: pipe: %s", cmd, strerror(-ret));
		goto out;
	}
	rc = posix_spawn_file_actions_init(&fa);
	if (rc) {
		ret = -rc;
		errf(err, "bpftool %s: %s", cmd, strerror(rc));
		goto out;
	}
	fa_init = true;
	rc = posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (!rc)
		rc = posix_spawn(&pid, bpftool, &fa, NULL, (char *const *)argv, environ);
	if (rc) {
		pid = -1;
		ret = -rc;
		errf(err, "cannot run %s: %s", bpftool, strerror(rc));
		goto out;
	}
	close(pipefd[1]);
	pipefd[1] = -1;

	ret = read_bounded(pipefd[0], &data, &len);
	if (ret == -EFBIG) {
		errf(err, "bpftool %s: output larger than %u MiB", cmd, MAX_BPFTOOL_OUTPUT >> 20);
		goto out;
	} else if (ret == -ETIMEDOUT) {
		errf(err, "bpftool %s: no answer within %d s", cmd, BPFTOOL_TIMEOUT_MS / 1000);
		goto out;
	} else if (ret < 0) {
		errf(err, "bpftool %s: reading its output: %s", cmd, strerror(-ret));
		goto out;
	}
	close(pipefd[0]);
	pipefd[0] = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;

	j = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
	msg = bpftool_error(j);
	if (msg) {
		errf(err, "bpftool %s: %s", cmd, msg);
		ret = -EIO;
		goto out;
	}
	if (j && !json_is_null(j) && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		errf(err, "bpftool %s: exit status %d", cmd, WEXITSTATUS(status));
		ret = -EIO;
		goto out;
	}
	if (!j) {
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			errf(err, "bpftool %s: exit status %d", cmd, WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			errf(err, "bpftool %s: killed by signal %d", cmd, WTERMSIG(status));
		else
			errf(err, "bpftool %s: invalid JSON at line %d column %d: %s", cmd,
			     jerr.line, jerr.column, jerr.text);
		ret = -EPROTO;
		goto out;
	}
	*out = j;
	j = NULL;
	ret = 0;
out:
	if (pid > 0) {
		kill(pid, SIGKILL); /* only the child we started */
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	json_decref(j);
	free(data);
	return ret;
}

/* ---- attestctl diag ----------------------------------------------------------------------- */

struct diag {
	char bpftool[PATH_MAX];
	const char *pin_dir;
	json_t *status; /* /v1/status or NULL */
	json_t *progs;	/* bpftool -j -f prog show, filtered to attestd's */
	json_t *links;
	json_t *maps; /* pinned under pin_dir, with "entries"/"entries_note"/"sample" added */
};

/* The first of obj's "pinned" paths that lies under dir, or NULL. */
static const char *pinned_path_under(const json_t *obj, const char *dir)
{
	size_t i, n = strlen(dir);
	const json_t *p;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	json_array_foreach (json_object_get(obj, "pinned"), i, p) {
		const char *s = json_string_value(p);

		if (s && strncmp(s, dir, n) == 0 && s[n] == '/')
			return s;
	}
	return NULL;
}

static bool pinned_under(const json_t *obj, const char *dir)
{
	return pinned_path_under(obj, dir) != NULL;
}

static bool id_in(const json_t *ids, json_int_t id)
{
	size_t i;
	const json_t *v;

	json_array_foreach (ids, i, v) {
		if (json_integer_value(v) == id)
			return true;
	}
	return false;
}

static bool is_attestd_prog(const json_t *prog, const char *pin_dir, const json_t *map_ids,
			    const json_t *link_prog_ids)
{
	const char *name = jstr(prog, "name");
	const json_t *v;
	size_t i;

	for (i = 0; i < sizeof(prog_prefixes) / sizeof(prog_prefixes[0]); i++)
		if (starts_with(name, prog_prefixes[i]))
			return true;
	if (pinned_under(prog, pin_dir))
		return true;
	if (id_in(link_prog_ids, json_integer_value(json_object_get(prog, "id"))))
		return true;
	json_array_foreach (json_object_get(prog, "map_ids"), i, v) {
		if (id_in(map_ids, json_integer_value(v)))
			return true;
	}
	return false;
}

/*
 * Name of the kernel function or type a tracing/LSM program attaches to, from its BTF ids.
 * Fills name ("" if unknown). Returns 0 or -errno.
 */
static int prog_attach_btf_name(uint32_t prog_id, char *name, size_t n)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);
	const struct btf_type *t;
	struct btf *btf = NULL;
	int fd, ret = 0;

	name[0] = '\0';
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		ret = -errno;
		goto out;
	}
	if (!info.attach_btf_id) {
		ret = -ENOENT;
		goto out;
	}
	btf = info.attach_btf_obj_id ? btf__load_from_kernel_by_id(info.attach_btf_obj_id)
				     : btf__load_vmlinux_btf();
	if (!btf) {
		ret = -errno;
		goto out;
	}
	t = btf__type_by_id(btf, info.attach_btf_id);
	if (!t) {
		ret = -ENOENT;
		goto out;
	}
	snprintf(name, n, "%s", btf__name_by_offset(btf, t->name_off));
out:
	btf__free(btf);
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool is_storage_map(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(storage_map_types) / sizeof(storage_map_types[0]); i++)
		if (type && strcmp(type, storage_map_types[i]) == 0)
			return true;
	return false;
}

/*
 * Counts the entries of the pinned map at path by walking its keys with the bpf() syscall
 * (bounded by 2 * max_entries + 16 steps, since a hash map that changes meanwhile can restart
 * the walk), and keeps up to MAP_SAMPLE_ENTRIES keys in keys[] (key_size bytes each).
 */
static int map_walk(const char *path, uint32_t key_size, uint64_t max_entries, uint64_t *count,
		    unsigned char *keys, size_t *nkeys, bool *complete)
{
	unsigned char cur[MAX_MAP_KEY_BYTES], next[MAX_MAP_KEY_BYTES];
	uint64_t steps = 0, bound = 2 * max_entries + 16;
	bool first = true;
	int fd, ret = 0;

	*count = 0;
	*nkeys = 0;
	*complete = false;
	if (key_size == 0 || key_size > MAX_MAP_KEY_BYTES)
		return -E2BIG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (steps++ >= bound)
			goto out;
		if (bpf_map_get_next_key(fd, first ? NULL : cur, next) < 0) {
			if (errno == ENOENT)
				break;
			ret = -errno;
			goto out;
		}
		first = false;
		memcpy(cur, next, key_size);
		if (*nkeys < MAP_SAMPLE_ENTRIES)
			memcpy(keys + (*nkeys)++ * key_size, next, key_size);
		(*count)++;
	}
	*complete = true;
out:
	close(fd);
	return ret;
}

/* `bpftool -j map lookup pinned PATH key hex XX XX ...` -> its "formatted" (or raw) entry. */
static int map_lookup_formatted(const struct diag *d, const char *path, const unsigned char *key,
				uint32_t key_size, json_t **out, char err[256])
{
	const char *args[MAX_BPFTOOL_ARGS + 1];
	char hex[MAX_MAP_KEY_BYTES][3];
	_cleanup_json_ json_t *res = NULL;
	size_t n = 0, i;
	int ret;

	*out = NULL;
	if (key_size > MAX_MAP_KEY_BYTES)
		return -E2BIG;
	args[n++] = "map";
	args[n++] = "lookup";
	args[n++] = "pinned";
	args[n++] = path;
	args[n++] = "key";
	args[n++] = "hex";
	for (i = 0; i < key_size; i++) {
		snprintf(hex[i], sizeof(hex[i]), "%02x", key[i]);
		args[n++] = hex[i];
	}
	args[n] = NULL;
	ret = bpftool_run(d->bpftool, args, &res, err);
	if (ret < 0)
		return ret;
	if (json_is_null(res))
		return -ENOENT; /* deleted since the walk */
	if (json_object_get(res, "formatted"))
		*out = json_incref(json_object_get(res, "formatted"));
	else
		*out = json_incref(res);
	return 0;
}

static int diag_map(const struct diag *d, json_t *map, const char *path)
{
	const char *type = jstr(map, "type");
	json_int_t key_size = json_integer_value(json_object_get(map, "bytes_key"));
	json_int_t max_entries = json_integer_value(json_object_get(map, "max_entries"));
	_cleanup_free_ unsigned char *keys = NULL;
	json_t *sample = NULL, *entry;
	uint64_t count = 0;
	size_t nkeys = 0, i;
	bool complete = false;
	char note[300], err[256];
	int ret = 0;

	if (is_storage_map(type)) {
		json_object_set_new(map, "entries", json_null());
		snprintf(note, sizeof(note), "not enumerable (%s; per-%s)", type,
			 strcmp(type, "sk_storage") == 0 ? "socket" : "object");
		json_object_set_new(map, "entries_note", json_string(note));
		goto out;
	}
	if (key_size <= 0 || key_size > MAX_MAP_KEY_BYTES || max_entries < 0) {
		json_object_set_new(map, "entries", json_null());
		json_object_set_new(map, "entries_note",
				    json_string("not enumerable (key size unsupported)"));
		goto out;
	}
	keys = calloc(MAP_SAMPLE_ENTRIES, (size_t)key_size);
	if (!keys) {
		ret = -ENOMEM;
		goto out;
	}
	ret = map_walk(path, (uint32_t)key_size, (uint64_t)max_entries, &count, keys, &nkeys,
		       &complete);
	if (ret < 0) {
		json_object_set_new(map, "entries", json_null());
		snprintf(note, sizeof(note), "not enumerable (%s: %s)", type ? type : "?",
			 strerror(-ret));
		json_object_set_new(map, "entries_note", json_string(note));
		ret = 0;
		goto out;
	}
	json_object_set_new(map, "entries", json_integer((json_int_t)count));
	if (!complete)
		json_object_set_new(map, "entries_note",
				    json_string("at least (map changed during the walk)"));
	sample = json_array();
	if (!sample) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		if (map_lookup_formatted(d, path, keys + i * (size_t)key_size, (uint32_t)key_size,
					 &entry, err) < 0) {
			json_array_append_new(sample, json_pack("{ss}", "error", err));
			continue;
		}
		json_array_append_new(sample, entry);
	}
	json_object_set_new(map, "sample", sample);
out:
	return ret;
}

static const char *const diag_command_list[] = {
	"bpftool prog show",
	"bpftool link show",
	"bpftool map show",
	"bpftool -f map show   # with pinned paths",
	"bpftool map dump pinned %s/<map>",
	"bpftool cgroup tree %s",
	"bpftool btf dump id <btf_id>   # types of a map or program",
	"sysctl -w kernel.bpf_stats_enabled=1   # enables run_cnt/run_time_ns",
};

static const char *cgroup2_root(void)
{
	struct stat st;
	size_t i;

	/* cgroup2 roots have inode 1 (kernfs root); v1 hierarchies are not cgroup2. */
	for (i = 0; i < CGROUP2_CANDIDATE_NUM; i++) {
		char probe[PATH_MAX];

		snprintf(probe, sizeof(probe), "%s/cgroup.controllers", cgroup2_candidates[i]);
		if (stat(probe, &st) == 0)
			return cgroup2_candidates[i];
	}
	return "/sys/fs/cgroup";
}

static json_t *diag_commands(const struct diag *d)
{
	json_t *arr = json_array();
	char line[PATH_MAX + 64];
	size_t i;

	for (i = 0; arr && i < sizeof(diag_command_list) / sizeof(diag_command_list[0]); i++) {
		if (strstr(diag_command_list[i], "%s"))
			snprintf(line, sizeof(line), diag_command_list[i],
				 strstr(diag_command_list[i], "cgroup") ? cgroup2_root()
									: d->pin_dir);
		else
			snprintf(line, sizeof(line), "%s", diag_command_list[i]);
		json_array_append_new(arr, json_string(line));
	}
	return arr;
}

static int diag_collect(struct diag *d, char err[256])
{
	static const char *const prog_args[] = {"-f", "prog", "show", NULL};
	static const char *const link_args[] = {"-f", "link", "show", NULL};
	static const char *const map_args[] = {"-f", "map", "show", NULL};
	_cleanup_json_ json_t *progs = NULL, *links = NULL, *maps = NULL, *map_ids = NULL,
			      *link_prog_ids = NULL, *prog_ids = NULL;
	json_t *item, *v;
	char name[128];
	size_t i;
	int ret;

	ret = bpftool_run(d->bpftool, map_args, &maps, err);
	if (ret < 0)
		goto out;
	ret = bpftool_run(d->bpftool, link_args, &links, err);
	if (ret < 0)
		goto out;
	ret = bpftool_run(d->bpftool, prog_args, &progs, err);
	if (ret < 0)
		goto out;
	if (!json_is_array(maps) || !json_is_array(links) || !json_is_array(progs)) {
		errf(err, "bpftool: expected JSON arrays from prog/link/map show");
		ret = -EPROTO;
		goto out;
	}
	d->maps = json_array();
	d->links = json_array();
	d->progs = json_array();
	map_ids = json_array();
	link_prog_ids = json_array();
	prog_ids = json_array();
	if (!d->maps || !d->links || !d->progs || !map_ids || !link_prog_ids || !prog_ids) {
		errf(err, "out of memory");
		ret = -ENOMEM;
		goto out;
	}

	/* (4) maps pinned under the pin dir */
	json_array_foreach (maps, i, item) {
		if (i >= MAX_ITEMS_SHOWN || !pinned_under(item, d->pin_dir))
			continue;
		json_array_append(d->maps, item);
		json_array_append(map_ids, json_object_get(item, "id"));
	}
	/* links pinned under the pin dir point at attestd programs */
	json_array_foreach (links, i, item) {
		if (i < MAX_ITEMS_SHOWN && pinned_under(item, d->pin_dir))
			json_array_append(link_prog_ids, json_object_get(item, "prog_id"));
	}
	/* (2) programs */
	json_array_foreach (progs, i, item) {
		if (i >= MAX_ITEMS_SHOWN ||
		    !is_attestd_prog(item, d->pin_dir, map_ids, link_prog_ids))
			continue;
		v = json_object_get(item, "id");
		if (json_is_integer(v) &&
		    prog_attach_btf_name((uint32_t)json_integer_value(v), name, sizeof(name)) ==
			    0 &&
		    name[0])
			json_object_set_new(item, "attach_btf_name", json_string(name));
		json_array_append(d->progs, item);
		json_array_append(prog_ids, v);
	}
	/* (3) links of those programs, or pinned under the pin dir */
	json_array_foreach (links, i, item) {
		if (i >= MAX_ITEMS_SHOWN)
			continue;
		if (pinned_under(item, d->pin_dir) ||
		    id_in(prog_ids, json_integer_value(json_object_get(item, "prog_id"))))
			json_array_append(d->links, item);
	}
	/* (4, 5) entry counts and samples */
	json_array_foreach (d->maps, i, item) {
		ret = diag_map(d, item, pinned_path_under(item, d->pin_dir));
		if (ret < 0) {
			errf(err, "counting map entries: %s", strerror(-ret));
			goto out;
		}
	}
	ret = 0;
out:
	return ret;
}

static void print_prog_attach(const struct diag *d, const json_t *prog)
{
	json_int_t id = json_integer_value(json_object_get(prog, "id"));
	const char *btf_name = jstr(prog, "attach_btf_name");
	char b[128];
	bool any = false;
	size_t i;
	const json_t *l;

	if (starts_with(btf_name, "btf_trace_")) {
		printf("tp_btf %s", btf_name + strlen("btf_trace_"));
		any = true;
	} else if (btf_name) {
		printf("btf %s", btf_name);
		any = true;
	}
	json_array_foreach (d->links, i, l) {
		if (json_integer_value(json_object_get(l, "prog_id")) != id)
			continue;
		if (jstr(l, "tp_name") && starts_with(btf_name, "btf_trace_") &&
		    strcmp(btf_name + strlen("btf_trace_"), jstr(l, "tp_name")) == 0)
			continue; /* tp_btf: the link names the same tracepoint */
		if (jstr(l, "tp_name"))
			printf("%stracepoint %s", any ? ", " : "", jstr(l, "tp_name"));
		else if (jstr(l, "attach_type"))
			printf("%s%s", any ? ", " : "", jstr(l, "attach_type"));
		else
			printf("%slink %s", any ? ", " : "", fmt_key(l, "id", b, sizeof(b)));
		any = true;
	}
	if (!any)
		printf("- (no link: see `bpftool cgroup tree`)");
}

static void print_link_attach(const struct diag *d, const json_t *link)
{
	const json_t *cg = json_object_get(link, "cgroup_id");
	const char *type = jstr(link, "type");
	const char *root = cgroup2_root();
	static const char *const extra_keys[] = {"target_obj_id", "target_btf_id", "prog_type"};
	const json_t *p;
	struct stat st;
	char b[128];
	size_t i;

	if (json_is_integer(cg)) {
		printf("cgroup id %" JSON_INTEGER_FORMAT, json_integer_value(cg));
		if (stat(root, &st) == 0 && (json_int_t)st.st_ino == json_integer_value(cg))
			printf(" (%s, the cgroup2 root)", root);
	}
	if (jstr(link, "tp_name"))
		printf("tracepoint %s", jstr(link, "tp_name"));
	if (jstr(link, "attach_type"))
		printf("%sattach type %s", json_is_integer(cg) ? ", " : "",
		       jstr(link, "attach_type"));
	if (type && (strcmp(type, "tracing") == 0 || strcmp(type, "lsm") == 0)) {
		json_array_foreach (d->progs, i, p) {
			if (json_equal(json_object_get(p, "id"),
				       json_object_get(link, "prog_id")) &&
			    jstr(p, "attach_btf_name"))
				printf(", attach_btf func %s", jstr(p, "attach_btf_name"));
		}
	}
	for (i = 0; i < sizeof(extra_keys) / sizeof(extra_keys[0]); i++)
		if (json_object_get(link, extra_keys[i]))
			printf(", %s %s", extra_keys[i],
			       fmt_key(link, extra_keys[i], b, sizeof(b)));
}

static void print_sample_value(const char *label, const json_t *v)
{
	char b[MAX_INLINE_JSON];

	printf("      %-6s ", label);
	if (json_is_object(v))
		print_members(v, "  ");
	else
		fputs(fmt_val(v, b, sizeof(b)), stdout);
	putchar('\n');
}

static void print_diag(const struct diag *d, const char *socket, const char *status_err)
{
	const json_t *p, *l, *m, *s, *cmds;
	char b[PATH_MAX], b2[64];
	struct stat st;
	size_t i, j;
	bool stats_seen = false, any_sample = false;

	printf("1. attestd (GET /v1/status on %s)\n", socket);
	if (d->status) {
		printf("  backend: %s", fmt_key(d->status, "backend", b, sizeof(b)));
		printf(" (race-free: %s)\n", fmt_key(d->status, "race_free", b, sizeof(b)));
		print_backends(json_object_get(d->status, "backends"), "  ");
	} else {
		printf("  attestd did not answer: %s\n", status_err);
		printf("  continuing with the kernel-side view only\n");
	}

	printf("\n2. BPF programs (names capture_*/track_*, or using maps/links pinned under %s)\n",
	       d->pin_dir);
	if (!json_array_size(d->progs))
		printf("  none loaded\n");
	json_array_foreach (d->progs, i, p) {
		printf("  id %-6s %-18s %-16s attach: ", fmt_key(p, "id", b2, sizeof(b2)),
		       fmt_key(p, "type", b, sizeof(b)), jstr(p, "name") ? jstr(p, "name") : "-");
		print_prog_attach(d, p);
		if (json_object_get(p, "run_cnt")) {
			printf("  run_cnt %s", fmt_key(p, "run_cnt", b, sizeof(b)));
			printf(" run_time_ns %s", fmt_key(p, "run_time_ns", b, sizeof(b)));
			stats_seen = true;
		}
		putchar('\n');
	}
	if (json_array_size(d->progs) && !stats_seen)
		printf("  (run_cnt is shown once `sysctl -w kernel.bpf_stats_enabled=1` is set)\n");

	printf("\n3. BPF links of those programs\n");
	if (!json_array_size(d->links))
		printf("  none\n");
	json_array_foreach (d->links, i, l) {
		printf("  id %-6s ", fmt_key(l, "id", b2, sizeof(b2)));
		printf("%-15s ", fmt_key(l, "type", b, sizeof(b)));
		printf("prog %-6s ", fmt_key(l, "prog_id", b2, sizeof(b2)));
		print_link_attach(d, l);
		if (pinned_under(l, d->pin_dir))
			printf("  pinned %s", pinned_path_under(l, d->pin_dir));
		putchar('\n');
	}

	printf("\n4. maps pinned under %s\n", d->pin_dir);
	if (!json_array_size(d->maps)) {
		if (stat(d->pin_dir, &st) < 0)
			printf("  none: %s: %s (is bpffs mounted, has attestd pinned its maps?)\n",
			       d->pin_dir, strerror(errno));
		else
			printf("  none\n");
	}
	json_array_foreach (d->maps, i, m) {
		printf("  %s\n", pinned_path_under(m, d->pin_dir));
		printf("    id %s, %s", fmt_key(m, "id", b2, sizeof(b2)),
		       fmt_key(m, "type", b, sizeof(b)));
		printf(", key %s B", fmt_key(m, "bytes_key", b, sizeof(b)));
		printf(", value %s B", fmt_key(m, "bytes_value", b, sizeof(b)));
		printf(", max_entries %s", fmt_key(m, "max_entries", b, sizeof(b)));
		printf(", entries: %s", json_is_integer(json_object_get(m, "entries"))
						? fmt_key(m, "entries", b, sizeof(b))
						: "");
		if (json_is_integer(json_object_get(m, "entries")) &&
		    json_integer_value(json_object_get(m, "entries")) >=
			    json_integer_value(json_object_get(m, "max_entries")) &&
		    strstr(fmt_key(m, "type", b, sizeof(b)), "hash"))
			printf(" (full: new entries are dropped or evict old ones)");
		if (jstr(m, "entries_note"))
			printf("%s%s", json_is_integer(json_object_get(m, "entries")) ? " " : "",
			       jstr(m, "entries_note"));
		putchar('\n');
	}

	printf("\n5. sample entries (up to %d per map, fields named from BTF)\n",
	       MAP_SAMPLE_ENTRIES);
	json_array_foreach (d->maps, i, m) {
		const json_t *sample = json_object_get(m, "sample");

		if (!json_array_size(sample))
			continue;
		any_sample = true;
		printf("  %s (%zu of %s):\n", jstr(m, "name") ? jstr(m, "name") : "-",
		       json_array_size(sample), fmt_key(m, "entries", b, sizeof(b)));
		json_array_foreach (sample, j, s) {
			if (jstr(s, "error")) {
				printf("    - %s\n", jstr(s, "error"));
				continue;
			}
			printf("    -\n");
			print_sample_value("key", json_object_get(s, "key"));
			if (json_object_get(s, "values"))
				print_sample_value("values", json_object_get(s, "values"));
			else
				print_sample_value("value", json_object_get(s, "value"));
		}
	}
	if (!any_sample)
		printf("  none (no enumerable map with entries)\n");

	printf("\n6. run these yourself\n");
	cmds = diag_commands(d);
	json_array_foreach (cmds, i, s) {
		printf("  %s\n", json_string_value(s));
	}
	json_decref((json_t *)cmds);
}

static int diag_json(const struct diag *d, const char *status_err)
{
	_cleanup_json_ json_t *out = NULL;

	out = json_pack("{s{sO?ss?}sssO?sO?sO?so}", "attestd", "status", d->status, "error",
			d->status ? NULL : status_err, "pin_dir", d->pin_dir, "programs", d->progs,
			"links", d->links, "maps", d->maps, "commands", diag_commands(d));
	if (!out)
		return -ENOMEM;
	return print_json(out);
}

static int cmd_diag(const struct ctl *ctl, const char *pin_dir_opt)
{
	struct diag d = {0};
	char err[256], status_err[256] = "", pin_dir[PATH_MAX];
	size_t n;
	int ret, rc = 1;

	if (bpftool_find(d.bpftool, sizeof(d.bpftool)) < 0) {
		fprintf(stderr,
			"attestctl: diag needs bpftool: not found on PATH nor at %s "
			"(Debian: apt install bpftool)\n",
			FALLBACK_BPFTOOL);
		return 1;
	}
	if (admin_get(ctl->socket, "/v1/status", &d.status, status_err) == 0 &&
	    !json_is_object(d.status)) {
		json_decref(d.status);
		d.status = NULL;
		snprintf(status_err, sizeof(status_err), "%s: GET /v1/status: not a JSON object",
			 ctl->socket);
	}
	d.pin_dir = pin_dir_opt			? pin_dir_opt
		    : jstr(d.status, "pin_dir") ? jstr(d.status, "pin_dir")
						: DEFAULT_PIN_DIR;
	/* without trailing slashes, so the commands we print are clean */
	n = strlen(d.pin_dir);
	while (n > 1 && d.pin_dir[n - 1] == '/')
		n--;
	snprintf(pin_dir, sizeof(pin_dir), "%.*s", (int)n, d.pin_dir);
	d.pin_dir = pin_dir;
	ret = diag_collect(&d, err);
	if (ret < 0) {
		fprintf(stderr, "attestctl: %s%s\n", err,
			ret == -EIO && geteuid() != 0 ? " (diag needs root)" : "");
		goto out;
	}
	if (ctl->json) {
		if (diag_json(&d, status_err) < 0)
			goto out;
	} else {
		print_diag(&d, ctl->socket, status_err);
	}
	rc = 0;
out:
	json_decref(d.maps);
	json_decref(d.links);
	json_decref(d.progs);
	json_decref(d.status);
	return rc;
}

/* ---- Workload API client: fetch x509 | jwt | bundles, validate jwt ------------------------ */

/* Names of the gRPC status codes, indexed by code. */
static const char *const grpc_status_names[] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
};

static const char *status_name(enum grpc_status st, char *buf, size_t n)
{
	if ((unsigned)st < sizeof(grpc_status_names) / sizeof(grpc_status_names[0]))
		return grpc_status_names[st];
	snprintf(buf, n, "status %d", (int)st);
	return buf;
}

/* Copies s into buf with control characters replaced by '?', so a server's text stays on one
 * line of the terminal. */
static const char *one_line(const char *s, char *buf, size_t n)
{
	size_t i;

	snprintf(buf, n, "%s", s);
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

static const char *fmt_timeout(int ms, char *buf, size_t n)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%d s", ms / 1000);
	else
		snprintf(buf, n, "%d ms", ms);
	return buf;
}

/* "unix:///p" and "unix:/p" (the forms go-spiffe accepts) and a bare path -> the path; other
 * URL schemes (tcp://...) are refused: attestd serves the Workload API on a Unix socket only. */
static int wl_socket_path(const char *addr, const char **out)
{
	if (starts_with(addr, "unix://"))
		addr += strlen("unix://");
	else if (starts_with(addr, "unix:"))
		addr += strlen("unix:");
	else if (strstr(addr, "://"))
		return -EPROTONOSUPPORT;
	if (!*addr)
		return -EINVAL;
	*out = addr;
	return 0;
}

static int wl_connect(const struct ctl *ctl, struct grpc_client **out, char err[256])
{
	char gerr[GRPC_ERR_MAX];
	int ret;

	ret = grpc_client_connect(ctl->wl_socket, ctl->timeout_ms, out, gerr);
	if (ret < 0)
		errf(err, "%s%s", gerr,
		     ret == -ENOENT || ret == -ECONNREFUSED ? " (is attestd running?)"
		     : ret == -EACCES			    ? " (no write permission on the socket)"
							    : "");
	return ret;
}

/*
 * Calls /SpiffeWorkloadAPI/<method> with the request message and returns its first response
 * message in *msg (caller frees). A stream is cancelled after that message; a unary call must
 * end with OK. On failure fills err with one line "<socket>: <STATUS>: <server's message>"
 * (or the transport error) and returns -EPERM for PERMISSION_DENIED, -EINVAL for
 * INVALID_ARGUMENT, another -errno otherwise.
 */
static int wl_rpc(const struct ctl *ctl, struct grpc_client *c, const char *method, bool unary,
		  const struct proto_buf *req, uint8_t **msg, size_t *len, char err[256])
{
	static const char *const metadata[] = {"workload.spiffe.io", "true"};
	struct grpc_client_call *call = NULL;
	char path[64], gerr[GRPC_ERR_MAX], line[GRPC_ERR_MAX], sb[32], tb[32];
	enum grpc_status st = GRPC_OK;
	uint8_t *extra = NULL;
	size_t extra_len;
	int ret;

	*msg = NULL;
	snprintf(path, sizeof(path), "/SpiffeWorkloadAPI/%s", method);
	ret = grpc_client_start(c, path, metadata, 1, req->data, req->len, &call, gerr);
	if (ret < 0) {
		errf(err, "%s: %s: %s", ctl->wl_socket, method, one_line(gerr, line, sizeof(line)));
		goto out;
	}
	ret = grpc_client_next(call, msg, len, &st, gerr);
	if (ret == 1 && unary) {
		ret = grpc_client_next(call, &extra, &extra_len, &st, gerr);
		if (ret == 1) {
			errf(err, "%s: %s: more than one response to a unary call", ctl->wl_socket,
			     method);
			ret = -EPROTO;
			goto out;
		}
		if (ret == 0 && st == GRPC_OK)
			ret = 1;
	}
	if (ret == 1) {
		ret = 0;
	} else if (ret == 0 && st == GRPC_OK) {
		errf(err, "%s: %s: the call ended without a response", ctl->wl_socket, method);
		ret = -EPROTO;
	} else if (ret == 0) {
		errf(err, "%s: %s%s%s", ctl->wl_socket, status_name(st, sb, sizeof(sb)),
		     gerr[0] ? ": " : "", one_line(gerr, line, sizeof(line)));
		ret = st == GRPC_PERMISSION_DENIED  ? -EPERM
		      : st == GRPC_INVALID_ARGUMENT ? -EINVAL
						    : -EIO;
	} else if (ret == -ETIMEDOUT) {
		errf(err, "%s: DEADLINE_EXCEEDED: no response to %s within %s", ctl->wl_socket,
		     method, fmt_timeout(ctl->timeout_ms, tb, sizeof(tb)));
	} else {
		errf(err, "%s: %s: %s", ctl->wl_socket, method, one_line(gerr, line, sizeof(line)));
	}
out:
	free(extra);
	if (ret < 0) {
		free(*msg);
		*msg = NULL;
	}
	grpc_client_call_free(call);
	return ret;
}

/* A JSON string from protobuf string bytes; NULL if not UTF-8 or on ENOMEM. */
static json_t *bytes_json(const struct proto_bytes *b)
{
	if (b->len && memchr(b->data, '\0', b->len))
		return NULL;
	return json_stringn(b->len ? (const char *)b->data : "", b->len);
}

/* ---- X.509 -------------------------------------------------------------------------------- */

static void sk_x509_freep(STACK_OF(X509) * *sk)
{
	sk_X509_pop_free(*sk, X509_free);
}
#define _cleanup_certs_ __attribute__((cleanup(sk_x509_freep)))

/* Parses concatenated DER certificates (at least min, at most max) into *out (caller frees
 * with sk_X509_pop_free). what names the field in err. */
static int der_certs(const struct proto_bytes *b, int min, int max, const char *what,
		     STACK_OF(X509) * *out, char err[256])
{
	const unsigned char *p = b->data, *end = b->len ? b->data + b->len : b->data;
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x;
	int ret = 0;

	*out = NULL;
	if (!sk) {
		errf(err, "%s: out of memory", what);
		return -ENOMEM;
	}
	while (p < end) {
		if (sk_X509_num(sk) >= max) {
			errf(err, "%s: more than %d certificates", what, max);
			ret = -E2BIG;
			goto out;
		}
		x = d2i_X509(NULL, &p, end - p);
		if (!x) {
			errf(err, "%s: certificate %d: not a DER X.509 certificate", what,
			     sk_X509_num(sk) + 1);
			ret = -EPROTO;
			goto out;
		}
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			errf(err, "%s: out of memory", what);
			ret = -ENOMEM;
			goto out;
		}
	}
	if (sk_X509_num(sk) < min) {
		errf(err, "%s: no certificate", what);
		ret = -EPROTO;
		goto out;
	}
	*out = sk;
	sk = NULL;
out:
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return ret;
}

/* Takes the contents of a memory BIO into a new NUL-terminated string (caller frees). */
static char *bio_take(BIO *bio, size_t *len)
{
	char *data, *s;
	long n = BIO_get_mem_data(bio, &data);

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	if (n > 0)
		memcpy(s, data, (size_t)n);
	s[n] = '\0';
	if (len)
		*len = (size_t)n;
	return s;
}

/* RFC 2253 form of an X.509 name (caller frees); "" for an empty name. */
static char *x509_name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (!bio)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0)
		s = bio_take(bio, NULL);
	BIO_free(bio);
	return s;
}

/* "2026-11-22T21:40:01Z", or "-" if t cannot be read. */
static const char *asn1_time_text(const ASN1_TIME *t, char *buf, size_t n)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "-");
	return buf;
}

/* {subject, issuer, serial (hex), not_before, not_after} of a certificate; NULL on ENOMEM. */
static json_t *cert_json(X509 *x)
{
	char *subject = x509_name_text(X509_get_subject_name(x));
	char *issuer = x509_name_text(X509_get_issuer_name(x));
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *serial = bn ? BN_bn2hex(bn) : NULL;
	char nb[32], na[32];
	json_t *j = NULL;

	if (subject && issuer && serial)
		j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "subject", subject, "issuer", issuer,
			      "serial", serial, "not_before",
			      asn1_time_text(X509_get0_notBefore(x), nb, sizeof(nb)), "not_after",
			      asn1_time_text(X509_get0_notAfter(x), na, sizeof(na)));
	OPENSSL_free(serial);
	BN_free(bn);
	free(issuer);
	free(subject);
	return j;
}

/* A JSON array with cert_json() of every certificate; NULL on ENOMEM. */
static json_t *certs_json(STACK_OF(X509) * sk)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < sk_X509_num(sk); i++) {
		if (json_array_append_new(arr, cert_json(sk_X509_value(sk, i))) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

/* PEM of every certificate in sk, in order (caller frees); NULL on ENOMEM. */
static char *certs_pem(STACK_OF(X509) * sk, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;
	int i;

	if (!bio)
		return NULL;
	for (i = 0; i < sk_X509_num(sk); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(sk, i)) != 1)
			goto out;
	s = bio_take(bio, len);
out:
	BIO_free(bio);
	return s;
}

/* PKCS#8 PEM ("PRIVATE KEY") of a key (caller frees); NULL on ENOMEM. */
static char *key_pem(EVP_PKEY *key, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (!bio)
		return NULL;
	if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_take(bio, len);
	BIO_free(bio);
	return s;
}

/*
 * Writes dir/name with the given mode, atomically (a temporary file in dir, then rename), so a
 * reader never sees half a file and a key is never readable by others, even for a moment.
 * Fills path with dir/name.
 */
static int write_file(const char *dir, const char *name, const char *data, size_t len, mode_t mode,
		      char path[PATH_MAX], char err[256])
{
	char tmp[PATH_MAX] = "";
	size_t off = 0;
	ssize_t n;
	int fd = -1, ret = 0;

	if (snprintf(path, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(tmp)) {
		errf(err, "%s: path too long", dir);
		tmp[0] = '\0';
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		ret = -errno;
		errf(err, "cannot write %s: %s", path, strerror(-ret));
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		ret = -errno;
		errf(err, "cannot write %s: chmod: %s", path, strerror(-ret));
		goto out;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			errf(err, "cannot write %s: %s", path, strerror(-ret));
			goto out;
		}
		off += (size_t)n;
	}
	n = close(fd);
	fd = -1;
	if (n < 0 || rename(tmp, path) < 0) {
		ret = -errno;
		errf(err, "cannot write %s: %s", path, strerror(-ret));
		goto out;
	}
	tmp[0] = '\0';
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return ret;
}

/* Writes svid.<i>.pem, svid.<i>.key (0600) and bundle.<i>.pem into dir, as
 * `spire-agent api fetch x509 -write` does, and records the paths in files. */
static int write_svid_files(const char *dir, size_t i, STACK_OF(X509) * chain, EVP_PKEY *key,
			    STACK_OF(X509) * bundle, json_t *files, char err[256])
{
	static const char *const kinds[] = {"svid", "key", "bundle"};
	static const char *const fmt[] = {"svid.%zu.pem", "svid.%zu.key", "bundle.%zu.pem"};
	static const mode_t modes[] = {0644, 0600, 0644};
	char name[64], path[PATH_MAX];
	char *pem = NULL;
	size_t k, len = 0;
	int ret = 0;

	for (k = 0; k < 3; k++) {
		pem = k == 0   ? certs_pem(chain, &len)
		      : k == 1 ? key_pem(key, &len)
			       : certs_pem(bundle, &len);
		if (!pem) {
			errf(err, "%s: out of memory", kinds[k]);
			ret = -ENOMEM;
			goto out;
		}
		snprintf(name, sizeof(name), fmt[k], i);
		ret = write_file(dir, name, pem, len, modes[k], path, err);
		if (k == 1)
			OPENSSL_cleanse(pem, len);
		free(pem);
		pem = NULL;
		if (ret < 0)
			goto out;
		if (json_object_set_new(files, kinds[k], json_string(path)) < 0) {
			errf(err, "%s: out of memory", path);
			ret = -ENOMEM;
			goto out;
		}
	}
out:
	free(pem);
	return ret;
}

/*
 * One X509SVID as JSON: spiffe_id, hint, the leaf's serial and validity, chain and bundle
 * (certificate summaries), key type; with dir, also the files written. Checks that the chain
 * and bundle are DER certificates and that the PKCS#8 key matches the leaf. *io_error tells
 * whether a failure was writing a file (else the response was bad).
 */
static int svid_json(const struct proto_x509svid *s, size_t i, const char *dir, json_t **out,
		     bool *io_error, char err[256])
{
	_cleanup_certs_ STACK_OF(X509) *chain = NULL;
	_cleanup_certs_ STACK_OF(X509) *bundle = NULL;
	_cleanup_json_ json_t *o = NULL;
	const unsigned char *p = s->x509_svid_key.data;
	EVP_PKEY *key = NULL;
	json_t *files = NULL, *leaf;
	char what[64];
	int ret;

	*out = NULL;
	*io_error = false;
	snprintf(what, sizeof(what), "svids[%zu].x509_svid", i);
	ret = der_certs(&s->x509_svid, 1, MAX_CHAIN_CERTS, what, &chain, err);
	if (ret < 0)
		goto out;
	snprintf(what, sizeof(what), "svids[%zu].bundle", i);
	ret = der_certs(&s->bundle, 0, MAX_BUNDLE_CERTS, what, &bundle, err);
	if (ret < 0)
		goto out;
	if (s->x509_svid_key.len)
		key = d2i_AutoPrivateKey(NULL, &p, (long)s->x509_svid_key.len);
	if (!key || p != s->x509_svid_key.data + s->x509_svid_key.len) {
		errf(err, "svids[%zu].x509_svid_key: not a PKCS#8 DER private key", i);
		ret = -EPROTO;
		goto out;
	}
	if (X509_check_private_key(sk_X509_value(chain, 0), key) != 1) {
		errf(err, "svids[%zu].x509_svid_key: does not match the certificate", i);
		ret = -EPROTO;
		goto out;
	}
	leaf = cert_json(sk_X509_value(chain, 0));
	o = json_pack("{s:o?, s:o?, s:O?, s:O?, s:O?, s:o?, s:o?, s:{s:s, s:i}}", "spiffe_id",
		      bytes_json(&s->spiffe_id), "hint", bytes_json(&s->hint), "serial",
		      json_object_get(leaf, "serial"), "not_before",
		      json_object_get(leaf, "not_before"), "not_after",
		      json_object_get(leaf, "not_after"), "chain", certs_json(chain), "bundle",
		      certs_json(bundle), "key", "type", EVP_PKEY_get0_type_name(key), "bits",
		      EVP_PKEY_get_bits(key));
	json_decref(leaf);
	if (!o || !json_is_string(json_object_get(o, "spiffe_id")) ||
	    !json_is_string(json_object_get(o, "hint")) || !json_object_get(o, "chain") ||
	    !json_object_get(o, "bundle") || !json_is_string(json_object_get(o, "serial"))) {
		errf(err, "svids[%zu]: spiffe_id or hint not UTF-8, or out of memory", i);
		ret = -EPROTO;
		goto out;
	}
	if (dir) {
		files = json_object();
		if (!files || json_object_set_new(o, "files", files) < 0) {
			errf(err, "svids[%zu]: out of memory", i);
			ret = -ENOMEM;
			goto out;
		}
		ret = write_svid_files(dir, i, chain, key, bundle, files, err);
		*io_error = ret < 0;
		if (ret < 0)
			goto out;
	}
	*out = o;
	o = NULL;
out:
	EVP_PKEY_free(key);
	ERR_clear_error();
	return ret;
}

/* Number of DER certificates in a bundle, for federated bundles; -1 if malformed. */
static int count_certs(const struct proto_bytes *b)
{
	_cleanup_certs_ STACK_OF(X509) *sk = NULL;
	char err[256];

	if (der_certs(b, 0, MAX_BUNDLE_CERTS, "bundle", &sk, err) < 0)
		return -1;
	return sk_X509_num(sk);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_x509(const json_t *doc)
{
	const json_t *svids = json_object_get(doc, "svids"), *s, *files, *fed, *v;
	const char *k;
	char b[64], b2[64];
	size_t i, n;

	printf("received %zu X.509-SVID%s\n", json_array_size(svids),
	       plural(json_array_size(svids), "", "s"));
	json_array_foreach (svids, i, s) {
		printf("\nSVID #%zu%s\n", i, i == 0 ? " (default)" : "");
		printf("  %-12s %s\n", "SPIFFE ID", jstr(s, "spiffe_id"));
		printf("  %-12s %s\n", "hint", *jstr(s, "hint") ? jstr(s, "hint") : "-");
		printf("  %-12s %s\n", "serial", jstr(s, "serial"));
		printf("  %-12s %s\n", "not before", jstr(s, "not_before"));
		printf("  %-12s %s\n", "not after", jstr(s, "not_after"));
		n = json_array_size(json_object_get(s, "chain"));
		printf("  %-12s %zu certificate%s\n", "chain", n, plural(n, "", "s"));
		n = json_array_size(json_object_get(s, "bundle"));
		printf("  %-12s %zu CA certificate%s\n", "bundle", n, plural(n, "", "s"));
		printf("  %-12s %s %s bits (PKCS#8), matches the certificate\n", "key",
		       fmt_key(json_object_get(s, "key"), "type", b, sizeof(b)),
		       fmt_key(json_object_get(s, "key"), "bits", b2, sizeof(b2)));
		files = json_object_get(s, "files");
		if (files)
			printf("  %-12s %s %s %s\n", "wrote", jstr(files, "svid"),
			       jstr(files, "key"), jstr(files, "bundle"));
	}
	fed = json_object_get(doc, "federated_bundles");
	if (json_object_size(fed)) {
		printf("\nfederated bundles\n");
		json_object_foreach ((json_t *)fed, k, v) {
			n = (size_t)json_integer_value(v);
			printf("  %-24s %zu CA certificate%s\n", k, n, plural(n, "", "s"));
		}
	}
}

static int cmd_fetch_x509(const struct ctl *ctl)
{
	struct proto_x509svid_response resp = {0};
	_cleanup_json_ json_t *doc = NULL;
	json_t *svids, *fed, *o;
	struct grpc_client *c = NULL;
	struct proto_buf req = {0};
	char err[256] = "", perr[PROTO_ERR_MAX], key[PROTO_ERR_MAX];
	uint8_t *msg = NULL;
	size_t len, i;
	bool io_error;
	int n, rc = 1;

	if (wl_connect(ctl, &c, err) < 0)
		goto out;
	/* X509SVIDRequest{} is the empty message */
	if (wl_rpc(ctl, c, "FetchX509SVID", false, &req, &msg, &len, err) < 0)
		goto out;
	if (proto_decode_x509svid_response(msg, len, &resp, perr) < 0) {
		errf(err, "%s: FetchX509SVID: bad response: %s", ctl->wl_socket, perr);
		goto out;
	}
	doc = json_pack("{s:[], s:{}, s:I}", "svids", "federated_bundles", "crl",
			(json_int_t)resp.ncrl);
	if (!doc) {
		errf(err, "out of memory");
		goto out;
	}
	if (resp.nsvids == 0) {
		errf(err, "%s: FetchX509SVID: the response holds no SVID", ctl->wl_socket);
		goto out;
	}
	svids = json_object_get(doc, "svids");
	for (i = 0; i < resp.nsvids; i++) {
		if (svid_json(&resp.svids[i], i, ctl->write_dir, &o, &io_error, perr) < 0) {
			if (io_error)
				errf(err, "%s", perr);
			else
				errf(err, "%s: FetchX509SVID: bad response: %s", ctl->wl_socket,
				     perr);
			goto out;
		}
		json_array_append_new(svids, o);
	}
	fed = json_object_get(doc, "federated_bundles");
	for (i = 0; i < resp.nfederated_bundles; i++) {
		const struct proto_map_entry *e = &resp.federated_bundles[i];

		n = count_certs(&e->value);
		snprintf(key, sizeof(key), "%.*s", (int)e->key.len, (const char *)e->key.data);
		if (n < 0 || memchr(e->key.data, '\0', e->key.len) ||
		    json_object_set_new(fed, key, json_integer(n)) < 0) {
			errf(err, "%s: FetchX509SVID: federated_bundles[%zu]: malformed",
			     ctl->wl_socket, i);
			goto out;
		}
	}
	if (ctl->json) {
		rc = print_json(doc) < 0 ? 1 : 0;
	} else {
		print_x509(doc);
		rc = 0;
	}
out:
	if (rc && err[0])
		fprintf(stderr, "attestctl: %s\n", err);
	proto_x509svid_response_clear(&resp);
	free(msg);
	grpc_client_free(c);
	return rc;
}

/* ---- JWT ---------------------------------------------------------------------------------- */

/* The JSON object in segment seg (0 = header, 1 = claims) of a compact JWS; NULL if the token
 * is not one. Only for display: attestctl verifies nothing itself (see validate jwt). */
static json_t *jwt_segment(const char *token, int seg)
{
	const char *p = token, *dot;
	unsigned char *raw;
	size_t len;
	json_t *j;

	for (; seg > 0; seg--) {
		p = strchr(p, '.');
		if (!p)
			return NULL;
		p++;
	}
	dot = strchr(p, '.');
	if (!dot)
		return NULL;
	if (sigstore_util_b64url_decode(p, (size_t)(dot - p), &raw, &len) < 0)
		return NULL;
	j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* "2026-11-22T21:40:01Z" from a NumericDate claim, or "-". */
static const char *numeric_date_text(const json_t *v, char *buf, size_t n)
{
	struct tm tm;
	time_t t;

	snprintf(buf, n, "-");
	if (!json_is_number(v))
		return buf;
	t = (time_t)json_number_value(v);
	if (gmtime_r(&t, &tm))
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static void print_jwt(const json_t *doc)
{
	const json_t *svids = json_object_get(doc, "svids"), *s;
	char b[64];
	size_t i;

	printf("received %zu JWT-SVID%s\n", json_array_size(svids),
	       plural(json_array_size(svids), "", "s"));
	json_array_foreach (svids, i, s) {
		printf("\nSVID #%zu%s\n", i, i == 0 ? " (default)" : "");
		printf("  %-12s %s\n", "SPIFFE ID", jstr(s, "spiffe_id"));
		printf("  %-12s %s\n", "hint", *jstr(s, "hint") ? jstr(s, "hint") : "-");
		printf("  %-12s %s\n", "expires",
		       numeric_date_text(json_object_get(json_object_get(s, "claims"), "exp"), b,
					 sizeof(b)));
		printf("  %-12s %s\n", "token", jstr(s, "token"));
	}
}

static int cmd_fetch_jwt(const struct ctl *ctl)
{
	struct proto_jwtsvid_response resp = {0};
	struct proto_jwtsvid_request *rq = NULL;
	_cleanup_json_ json_t *doc = NULL;
	struct grpc_client *c = NULL;
	struct proto_buf req = {0};
	json_t *svids, *o;
	char err[256] = "", perr[PROTO_ERR_MAX];
	uint8_t *msg = NULL;
	size_t len, i;
	int rc = 1;

	rq = calloc(1, sizeof(*rq));
	if (!rq) {
		errf(err, "out of memory");
		goto out;
	}
	for (i = 0; i < ctl->naudience; i++)
		rq->audience[i] = (struct proto_bytes){(const uint8_t *)ctl->audience[i],
						       strlen(ctl->audience[i])};
	rq->naudience = ctl->naudience;
	if (ctl->spiffe_id)
		rq->spiffe_id = (struct proto_bytes){(const uint8_t *)ctl->spiffe_id,
						     strlen(ctl->spiffe_id)};
	if (proto_encode_jwtsvid_request(rq, &req) < 0) {
		errf(err, "out of memory");
		goto out;
	}
	if (wl_connect(ctl, &c, err) < 0)
		goto out;
	if (wl_rpc(ctl, c, "FetchJWTSVID", true, &req, &msg, &len, err) < 0)
		goto out;
	if (proto_decode_jwtsvid_response(msg, len, &resp, perr) < 0) {
		errf(err, "%s: FetchJWTSVID: bad response: %s", ctl->wl_socket, perr);
		goto out;
	}
	if (resp.nsvids == 0) {
		errf(err, "%s: FetchJWTSVID: the response holds no SVID", ctl->wl_socket);
		goto out;
	}
	doc = json_pack("{s:[]}", "svids");
	svids = json_object_get(doc, "svids");
	for (i = 0; doc && i < resp.nsvids; i++) {
		const struct proto_jwtsvid *s = &resp.svids[i];
		json_t *token = bytes_json(&s->svid);

		o = json_pack("{s:o?, s:o?, s:O?, s:o?, s:o?}", "spiffe_id",
			      bytes_json(&s->spiffe_id), "hint", bytes_json(&s->hint), "token",
			      token, "header",
			      token ? jwt_segment(json_string_value(token), 0) : NULL, "claims",
			      token ? jwt_segment(json_string_value(token), 1) : NULL);
		json_decref(token);
		if (!o || !json_is_string(json_object_get(o, "spiffe_id")) ||
		    !json_is_string(json_object_get(o, "hint")) ||
		    !json_is_string(json_object_get(o, "token"))) {
			json_decref(o);
			errf(err, "%s: FetchJWTSVID: svids[%zu]: not UTF-8, or out of memory",
			     ctl->wl_socket, i);
			goto out;
		}
		json_array_append_new(svids, o);
	}
	if (!doc) {
		errf(err, "out of memory");
		goto out;
	}
	if (ctl->json) {
		rc = print_json(doc) < 0 ? 1 : 0;
	} else {
		print_jwt(doc);
		rc = 0;
	}
out:
	if (rc && err[0])
		fprintf(stderr, "attestctl: %s\n", err);
	proto_jwtsvid_response_clear(&resp);
	proto_buf_free(&req);
	free(rq);
	free(msg);
	grpc_client_free(c);
	return rc;
}

/* Reads a token from stdin (for `validate jwt ... -`), without surrounding white space. */
static int read_token_stdin(char **out, char err[256])
{
	char *buf = malloc(MAX_TOKEN_BYTES + 2);
	size_t len = 0, start = 0;
	ssize_t n;
	int ret = 0;

	*out = NULL;
	if (!buf) {
		errf(err, "stdin: out of memory");
		return -ENOMEM;
	}
	while (len <= MAX_TOKEN_BYTES) {
		n = read(STDIN_FILENO, buf + len, MAX_TOKEN_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			errf(err, "stdin: %s", strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MAX_TOKEN_BYTES) {
		errf(err, "stdin: token longer than %u bytes", MAX_TOKEN_BYTES);
		ret = -E2BIG;
		goto out;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n'))
		start++;
	memmove(buf, buf + start, len - start);
	buf[len - start] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	return ret;
}

static void print_indented_json(const json_t *j, const char *indent)
{
	char *dump = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY), *line, *save = NULL;

	if (!dump) {
		printf("%s?\n", indent);
		return;
	}
	for (line = strtok_r(dump, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("%s%s\n", indent, line);
	free(dump);
}

static int cmd_validate_jwt(const struct ctl *ctl)
{
	struct proto_validate_request rq = {0};
	_cleanup_json_ json_t *claims = NULL;
	_cleanup_json_ json_t *doc = NULL;
	_cleanup_free_ char *stdin_token = NULL;
	struct grpc_client *c = NULL;
	struct proto_buf req = {0};
	char err[256] = "", perr[PROTO_ERR_MAX], id[MAX_SPIFFE_ID + 1];
	const char *token = ctl->token;
	uint8_t *msg = NULL;
	size_t len;
	int rc = 1;

	if (strcmp(token, "-") == 0) {
		if (read_token_stdin(&stdin_token, err) < 0)
			goto out;
		token = stdin_token;
	}
	if (!*token) {
		errf(err, "validate jwt: empty token");
		goto out;
	}
	rq.audience =
		(struct proto_bytes){(const uint8_t *)ctl->audience[0], strlen(ctl->audience[0])};
	rq.svid = (struct proto_bytes){(const uint8_t *)token, strlen(token)};
	if (proto_encode_validate_request(&rq, &req) < 0) {
		errf(err, "out of memory");
		goto out;
	}
	if (wl_connect(ctl, &c, err) < 0)
		goto out;
	if (wl_rpc(ctl, c, "ValidateJWTSVID", true, &req, &msg, &len, err) < 0)
		goto out;
	if (proto_decode_validate_response(msg, len, id, sizeof(id), &claims, perr) < 0) {
		errf(err, "%s: ValidateJWTSVID: bad response: %s", ctl->wl_socket, perr);
		goto out;
	}
	doc = json_pack("{s:s, s:O}", "spiffe_id", id, "claims", claims);
	if (!doc) {
		errf(err, "%s: ValidateJWTSVID: spiffe_id not UTF-8, or out of memory",
		     ctl->wl_socket);
		goto out;
	}
	if (ctl->json) {
		rc = print_json(doc) < 0 ? 1 : 0;
	} else {
		printf("valid JWT-SVID\n");
		printf("  %-12s %s\n", "SPIFFE ID", id);
		printf("  claims\n");
		print_indented_json(claims, "    ");
		rc = 0;
	}
out:
	if (rc && err[0])
		fprintf(stderr, "attestctl: %s\n", err);
	proto_buf_free(&req);
	free(msg);
	grpc_client_free(c);
	return rc;
}

/* ---- bundles ------------------------------------------------------------------------------ */

/* The entry of trust domain key in doc, created with empty X.509 and null JWT parts; NULL if
 * the key is not a UTF-8 string without NUL or on ENOMEM. */
static json_t *td_entry(json_t *doc, const struct proto_bytes *key)
{
	json_t *e;

	if (!key->len || memchr(key->data, '\0', key->len))
		return NULL;
	e = json_object_getn(doc, (const char *)key->data, key->len);
	if (e)
		return e;
	e = json_pack("{s:[], s:n}", "x509_authorities", "jwks");
	if (json_object_setn_new(doc, (const char *)key->data, key->len, e) < 0)
		return NULL;
	return e;
}

static void print_bundles(const json_t *doc)
{
	const json_t *bundles = json_object_get(doc, "bundles"), *e, *x, *c, *keys;
	const char *td;
	size_t i, n;

	json_object_foreach ((json_t *)bundles, td, e) {
		x = json_object_get(e, "x509_authorities");
		n = json_array_size(x);
		printf("trust domain %s\n", td);
		printf("  X.509 authorities: %zu\n", n);
		json_array_foreach (x, i, c) {
			printf("    %s  (not after %s)\n",
			       *jstr(c, "subject") ? jstr(c, "subject") : "(empty subject)",
			       jstr(c, "not_after"));
		}
		keys = json_object_get(json_object_get(e, "jwks"), "keys");
		if (!json_object_get(e, "jwks")) {
			printf("  JWT authorities: none\n");
		} else {
			n = json_array_size(keys);
			printf("  JWT authorities (JWKS, %zu key%s):\n", n, plural(n, "", "s"));
			print_indented_json(json_object_get(e, "jwks"), "    ");
		}
	}
}

static int cmd_fetch_bundles(const struct ctl *ctl)
{
	struct proto_x509bundles_response xr = {0};
	struct proto_jwtbundles_response jr = {0};
	_cleanup_certs_ STACK_OF(X509) *sk = NULL;
	_cleanup_json_ json_t *doc = NULL;
	struct grpc_client *c = NULL;
	struct proto_buf req = {0};
	json_t *bundles, *e, *jwks;
	char err[256] = "", perr[PROTO_ERR_MAX], what[64];
	uint8_t *xmsg = NULL, *jmsg = NULL;
	size_t xlen, jlen, i;
	int rc = 1;

	if (wl_connect(ctl, &c, err) < 0)
		goto out;
	if (wl_rpc(ctl, c, "FetchX509Bundles", false, &req, &xmsg, &xlen, err) < 0 ||
	    wl_rpc(ctl, c, "FetchJWTBundles", false, &req, &jmsg, &jlen, err) < 0)
		goto out;
	if (proto_decode_x509bundles_response(xmsg, xlen, &xr, perr) < 0) {
		errf(err, "%s: FetchX509Bundles: bad response: %s", ctl->wl_socket, perr);
		goto out;
	}
	if (proto_decode_jwtbundles_response(jmsg, jlen, &jr, perr) < 0) {
		errf(err, "%s: FetchJWTBundles: bad response: %s", ctl->wl_socket, perr);
		goto out;
	}
	doc = json_pack("{s:{}}", "bundles");
	bundles = json_object_get(doc, "bundles");
	if (!doc) {
		errf(err, "out of memory");
		goto out;
	}
	for (i = 0; i < xr.nbundles; i++) {
		snprintf(what, sizeof(what), "bundles[%zu]", i);
		e = td_entry(bundles, &xr.bundles[i].key);
		if (!e) {
			errf(err, "%s: FetchX509Bundles: %s: bad trust domain name", ctl->wl_socket,
			     what);
			goto out;
		}
		sk_X509_pop_free(sk, X509_free);
		if (der_certs(&xr.bundles[i].value, 0, MAX_BUNDLE_CERTS, what, &sk, perr) < 0) {
			errf(err, "%s: FetchX509Bundles: %s", ctl->wl_socket, perr);
			goto out;
		}
		if (json_object_set_new(e, "x509_authorities", certs_json(sk)) < 0) {
			errf(err, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < jr.nbundles; i++) {
		e = td_entry(bundles, &jr.bundles[i].key);
		if (!e) {
			errf(err, "%s: FetchJWTBundles: bundles[%zu]: bad trust domain name",
			     ctl->wl_socket, i);
			goto out;
		}
		jwks = json_loadb((const char *)jr.bundles[i].value.data, jr.bundles[i].value.len,
				  0, NULL);
		if (!json_is_object(jwks) || json_object_set_new(e, "jwks", jwks) < 0) {
			if (!json_is_object(jwks))
				json_decref(jwks);
			errf(err, "%s: FetchJWTBundles: bundles[%zu]: not a JWKS JSON object",
			     ctl->wl_socket, i);
			goto out;
		}
	}
	if (ctl->json) {
		rc = print_json(doc) < 0 ? 1 : 0;
	} else {
		if (!json_object_size(bundles))
			printf("no bundles\n");
		print_bundles(doc);
		rc = 0;
	}
out:
	if (rc && err[0])
		fprintf(stderr, "attestctl: %s\n", err);
	proto_jwtbundles_response_clear(&jr);
	proto_x509bundles_response_clear(&xr);
	free(jmsg);
	free(xmsg);
	grpc_client_free(c);
	return rc;
}

/* ---- command line ------------------------------------------------------------------------- */

static const char usage_text[] =
	"NAME\n"
	"    attestctl - inspect a running attestd, and fetch SPIFFE identities from it\n"
	"\n"
	"SYNOPSIS\n"
	"    attestctl [--admin-socket PATH] status [--json]\n"
	"    attestctl [--admin-socket PATH] attestations [--limit N] [--json]\n"
	"    attestctl [--admin-socket PATH] explain --pid N [--json]\n"
	"    attestctl [--admin-socket PATH] diag [--pin-dir DIR] [--json]\n"
	"    attestctl [--socket PATH] fetch x509 [--write DIR] [--timeout D] [--json]\n"
	"    attestctl [--socket PATH] fetch jwt --audience A [--audience A]... [--spiffe-id ID]\n"
	"                                        [--timeout D] [--json]\n"
	"    attestctl [--socket PATH] fetch bundles [--timeout D] [--json]\n"
	"    attestctl [--socket PATH] validate jwt --audience A [--timeout D] [--json] TOKEN|-\n"
	"    attestctl sigstore verify-bundle --bundle FILE (--certificate-identity ID\n"
	"        --certificate-oidc-issuer URL | --key KEY.pem) [--trusted-root FILE] "
	"FILE|sha256:HEX\n"
	"        Verify a Sigstore bundle offline (the sigstore-conformance client protocol):\n"
	"        exit 0 verified, 1 rejected with the reason, 2 usage error.\n"
	"    attestctl --help | --version\n"
	"\n"
	"DESCRIPTION\n"
	"    status, attestations, explain and diag talk to attestd's admin API (HTTP/1.1 + JSON "
	"on\n"
	"    a Unix socket, mode 0600, so run them as root) and, for diag, to the kernel through\n"
	"    bpftool. fetch and validate are SPIFFE Workload API clients (gRPC over HTTP/2 on the\n"
	"    agent socket, like any workload): attestd attests the attestctl process itself, so "
	"run\n"
	"    them as the user, and in the container, whose identity you want to see.\n"
	"\n"
	"COMMANDS\n"
	"    status        Version, kernel, uptime, pid, sockets and counters; the capture\n"
	"                  backend in use, whether it is race-free, and for every backend probed\n"
	"                  whether it was chosen, skipped (and why), failed or not tried.\n"
	"    attestations  The most recent attestations from the audit ring (newest first):\n"
	"                  id, local time, pid, uid, executable, backend, race-free, result and\n"
	"                  number of selectors. --limit N (default 20).\n"
	"    explain       Attests process N now and shows every fact attestd knows about it,\n"
	"                  where each came from, the selectors and attributes derived, and the\n"
	"                  result. Facts read from /proc at this moment are not race-free.\n"
	"    diag          Kernel-side view through bpftool: the active backend and why others\n"
	"                  were skipped (if attestd answers), attestd's BPF programs, their links\n"
	"                  and attach points, maps pinned under the pin dir with entry counts, up\n"
	"                  to 3 entries of each enumerable map, and the bpftool commands to run\n"
	"                  by hand. Needs root and bpftool (PATH or /usr/sbin/bpftool).\n"
	"    fetch x509    FetchX509SVID (first message): every X.509-SVID of the caller, the\n"
	"                  first being the default, with SPIFFE ID, hint, serial, validity, chain\n"
	"                  length and bundle size; checks that the key matches the certificate.\n"
	"                  --write DIR writes svid.<n>.pem (chain, leaf first), svid.<n>.key\n"
	"                  (PKCS#8, mode 0600) and bundle.<n>.pem (CA certificates) into DIR, as\n"
	"                  `spire-agent api fetch x509 -write` does.\n"
	"    fetch jwt     FetchJWTSVID: a JWT-SVID for the audience(s) for every identity of the\n"
	"                  caller, or only for --spiffe-id ID: SPIFFE ID, hint, expiry and token;\n"
	"                  --json adds the decoded header and claims (not verified: use "
	"validate).\n"
	"    fetch bundles FetchX509Bundles and FetchJWTBundles (first messages): for every trust\n"
	"                  domain, the X.509 authorities (subject, expiry) and the JWKS.\n"
	"    validate jwt  ValidateJWTSVID: attestd checks TOKEN (- reads it from stdin) for the\n"
	"                  audience; prints its SPIFFE ID and claims, or fails with the reason.\n"
	"\n"
	"OPTIONS\n"
	"    --admin-socket PATH  attestd's admin socket (default: $ATTESTD_ADMIN_SOCKET, else\n"
	"                         /run/attestd/admin.sock)\n"
	"    --socket PATH        the Workload API socket (default: $SPIFFE_ENDPOINT_SOCKET, else\n"
	"                         /run/attestd/agent.sock); unix:///PATH and unix:PATH also work\n"
	"    --timeout D          fetch, validate: limit on connecting and on each wait for the\n"
	"                         server, e.g. 500ms, 5s, 1m (default 5s)\n"
	"    --json               print JSON (pretty) instead of text\n"
	"    --limit N            attestations: number of records, 1..100000 (default 20)\n"
	"    --pid N              explain: the process to attest\n"
	"    --pin-dir DIR        diag: bpffs directory of attestd's pins (default: pin_dir from\n"
	"                         /v1/status, else /sys/fs/bpf/attestd)\n"
	"    --write DIR          fetch x509: an existing directory to write PEM files into\n"
	"    --audience A         fetch jwt: an audience (repeatable, up to 64); validate jwt: "
	"the\n"
	"                         audience the token must carry (exactly one)\n"
	"    --spiffe-id ID       fetch jwt: only this identity of the caller\n"
	"    -h, --help           this text\n"
	"    -V, --version        attestctl's version\n"
	"\n"
	"ENVIRONMENT\n"
	"    ATTESTD_ADMIN_SOCKET    admin socket path, overridden by --admin-socket\n"
	"    SPIFFE_ENDPOINT_SOCKET  Workload API socket, overridden by --socket\n"
	"\n"
	"EXIT STATUS\n"
	"    0 success, 1 error (attestd unreachable, HTTP error, gRPC error such as\n"
	"    PERMISSION_DENIED or an invalid token, bad answer, bpftool failure), 2 usage error.\n"
	"\n"
	"EXAMPLES\n"
	"    attestctl status\n"
	"    attestctl attestations --limit 5\n"
	"    attestctl explain --pid $$\n"
	"    attestctl diag --json | jq '.maps[].entries'\n"
	"    attestctl fetch x509 --write /tmp/svid\n"
	"    openssl verify -CAfile /tmp/svid/bundle.0.pem /tmp/svid/svid.0.pem\n"
	"    TOKEN=$(attestctl fetch jwt --audience db --json | jq -r '.svids[0].token')\n"
	"    attestctl validate jwt --audience db \"$TOKEN\"\n";

static int usage_error(const char *fmt, const char *arg)
{
	fputs("attestctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'attestctl --help' for more information.\n", stderr);
	return 2;
}

enum opt_id {
	OPT_ADMIN_SOCKET = 256,
	OPT_JSON,
	OPT_LIMIT,
	OPT_PID,
	OPT_PIN_DIR,
	OPT_SOCKET,
	OPT_TIMEOUT,
	OPT_WRITE,
	OPT_AUDIENCE,
	OPT_SPIFFE_ID,
};

static const struct option global_opts[] = {
	{"admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static const struct option command_opts[] = {
	{"admin-socket", required_argument, NULL, OPT_ADMIN_SOCKET},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"json", no_argument, NULL, OPT_JSON},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"pid", required_argument, NULL, OPT_PID},
	{"pin-dir", required_argument, NULL, OPT_PIN_DIR},
	{"write", required_argument, NULL, OPT_WRITE},
	{"audience", required_argument, NULL, OPT_AUDIENCE},
	{"spiffe-id", required_argument, NULL, OPT_SPIFFE_ID},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

enum cmd_id {
	CMD_STATUS,
	CMD_ATTESTATIONS,
	CMD_EXPLAIN,
	CMD_DIAG,
	CMD_FETCH_X509,
	CMD_FETCH_JWT,
	CMD_FETCH_BUNDLES,
	CMD_VALIDATE_JWT,
};

static const struct command {
	const char *verb;
	const char *object; /* second word, or NULL */
	enum cmd_id id;
	bool workload_api; /* else the admin API */
} commands[] = {
	{"status", NULL, CMD_STATUS, false},
	{"attestations", NULL, CMD_ATTESTATIONS, false},
	{"explain", NULL, CMD_EXPLAIN, false},
	{"diag", NULL, CMD_DIAG, false},
	{"fetch", "x509", CMD_FETCH_X509, true},
	{"fetch", "jwt", CMD_FETCH_JWT, true},
	{"fetch", "bundles", CMD_FETCH_BUNDLES, true},
	{"validate", "jwt", CMD_VALIDATE_JWT, true},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command named by verb (and object, for two-word commands); NULL if none. *two_words
 * tells whether verb takes an object at all. */
static const struct command *find_command(const char *verb, const char *object, bool *two_words)
{
	size_t i;

	*two_words = false;
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].verb, verb))
			continue;
		if (!commands[i].object)
			return &commands[i];
		*two_words = true;
		if (object && strcmp(commands[i].object, object) == 0)
			return &commands[i];
	}
	return NULL;
}

/* Which command-specific options each command accepts. */
static bool option_allowed(const struct command *cmd, int opt)
{
	switch (opt) {
	case OPT_ADMIN_SOCKET:
		return !cmd->workload_api;
	case OPT_SOCKET:
	case OPT_TIMEOUT:
		return cmd->workload_api;
	case OPT_LIMIT:
		return cmd->id == CMD_ATTESTATIONS;
	case OPT_PID:
		return cmd->id == CMD_EXPLAIN;
	case OPT_PIN_DIR:
		return cmd->id == CMD_DIAG;
	case OPT_WRITE:
		return cmd->id == CMD_FETCH_X509;
	case OPT_AUDIENCE:
		return cmd->id == CMD_FETCH_JWT || cmd->id == CMD_VALIDATE_JWT;
	case OPT_SPIFFE_ID:
		return cmd->id == CMD_FETCH_JWT;
	default:
		return true;
	}
}

static int parse_timeout(const char *s, int *out_ms)
{
	uint64_t ms;

	if (config_parse_duration_ms(s, &ms) < 0 || ms == 0 || ms > MAX_WL_TIMEOUT_MS)
		return -EINVAL;
	*out_ms = (int)ms;
	return 0;
}

/* Options valid both before and after the command. 0 = taken, 1 = not one of them, 2 = usage
 * error (already reported). */
static int common_option(struct ctl *ctl, int opt, const char **wl_socket)
{
	switch (opt) {
	case OPT_ADMIN_SOCKET:
		ctl->socket = optarg;
		return 0;
	case OPT_SOCKET:
		*wl_socket = optarg;
		return 0;
	case OPT_TIMEOUT:
		if (parse_timeout(optarg, &ctl->timeout_ms) < 0)
			return usage_error("--timeout: not a duration from 1ms to 1h (e.g. 500ms, "
					   "5s): '%s'",
					   optarg);
		return 0;
	case OPT_JSON:
		ctl->json = true;
		return 0;
	default:
		return 1;
	}
}

/* Where the Workload API commands connect: --socket, else $SPIFFE_ENDPOINT_SOCKET, else the
 * default. 0, or 2 after a usage error. */
static int resolve_wl_socket(struct ctl *ctl, const char *opt_socket)
{
	const char *addr = opt_socket, *what = "--socket";
	int ret;

	if (!addr) {
		addr = getenv(WL_SOCKET_ENV);
		what = WL_SOCKET_ENV;
	}
	if (!addr || (!opt_socket && !*addr)) {
		addr = DEFAULT_WL_SOCKET;
		what = "default socket";
	}
	ret = wl_socket_path(addr, &ctl->wl_socket);
	if (ret == -EPROTONOSUPPORT) {
		fprintf(stderr,
			"attestctl: %s: '%s': only Unix sockets are supported (unix:///PATH, "
			"unix:PATH or PATH)\n",
			what, addr);
		return 2;
	}
	if (ret < 0) {
		fprintf(stderr, "attestctl: %s: empty socket path\n", what);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl ctl = {.socket = getenv(ADMIN_SOCKET_ENV), .timeout_ms = DEFAULT_WL_TIMEOUT_MS};
	const char *pin_dir = NULL, *opt_socket = NULL;
	const struct command *cmd;
	long limit = DEFAULT_LIMIT, pid = -1;
	int opt, rc, longidx, shift;
	bool two_words;

	if (!ctl.socket || !*ctl.socket)
		ctl.socket = DEFAULT_ADMIN_SOCKET;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+hV", global_opts, NULL)) != -1) {
		rc = common_option(&ctl, opt, &opt_socket);
		if (rc != 1) {
			if (rc)
				return rc;
			continue;
		}
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("attestctl %s\n", ATTESTD_VERSION);
			return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "missing command (status, attestations, explain, diag, "
					 "fetch, validate)");
	if (strcmp(argv[optind], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	/* Offline Sigstore verification (the sigstore-conformance client protocol). */
	if (strcmp(argv[optind], "sigstore") == 0) {
		if (optind + 1 >= argc)
			return usage_error("%s", "sigstore needs a subcommand (verify-bundle)");
		return sigstore_conformance_main(argc - optind - 1, argv + optind + 1);
	}
	cmd = find_command(argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, &two_words);
	if (!cmd && two_words && optind + 1 >= argc)
		return usage_error("%s needs an object (fetch x509|jwt|bundles, validate jwt)",
				   argv[optind]);
	if (!cmd && two_words)
		return usage_error("unknown object '%s' (fetch x509|jwt|bundles, validate jwt)",
				   argv[optind + 1]);
	if (!cmd)
		return usage_error("unknown command '%s'", argv[optind]);

	/* argv[0] becomes the command's last word; getopt restarts after it (optind = 0) */
	shift = optind + (cmd->object ? 1 : 0);
	argc -= shift;
	argv += shift;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", command_opts, &longidx)) != -1) {
		if (opt >= OPT_ADMIN_SOCKET && !option_allowed(cmd, opt))
			return usage_error("--%s does not apply to this command",
					   command_opts[longidx].name);
		rc = common_option(&ctl, opt, &opt_socket);
		if (rc != 1) {
			if (rc)
				return rc;
			continue;
		}
		switch (opt) {
		case OPT_LIMIT:
			if (parse_long(optarg, 1, MAX_LIMIT, &limit) < 0)
				return usage_error("--limit: not a number in 1..100000: '%s'",
						   optarg);
			break;
		case OPT_PID:
			if (parse_long(optarg, 1, MAX_PID, &pid) < 0)
				return usage_error("--pid: not a process id: '%s'", optarg);
			break;
		case OPT_PIN_DIR:
			pin_dir = optarg;
			break;
		case OPT_WRITE:
			if (!*optarg)
				return usage_error("%s", "--write: empty directory name");
			ctl.write_dir = optarg;
			break;
		case OPT_AUDIENCE:
			if (!*optarg)
				return usage_error("%s", "--audience: empty audience");
			if (ctl.naudience >= MAX_AUDIENCES)
				return usage_error("--audience: more than %s", "64");
			ctl.audience[ctl.naudience++] = optarg;
			break;
		case OPT_SPIFFE_ID:
			if (!*optarg)
				return usage_error("%s", "--spiffe-id: empty SPIFFE ID");
			ctl.spiffe_id = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (cmd->id == CMD_VALIDATE_JWT && optind < argc)
		ctl.token = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (cmd->id == CMD_EXPLAIN && pid < 0)
		return usage_error("%s", "explain needs --pid N");
	if ((cmd->id == CMD_FETCH_JWT || cmd->id == CMD_VALIDATE_JWT) && ctl.naudience == 0)
		return usage_error("%s needs --audience A",
				   cmd->id == CMD_FETCH_JWT ? "fetch jwt" : "validate jwt");
	if (cmd->id == CMD_VALIDATE_JWT && ctl.naudience > 1)
		return usage_error("%s", "validate jwt takes exactly one --audience");
	if (cmd->id == CMD_VALIDATE_JWT && !ctl.token)
		return usage_error("%s", "validate jwt needs a TOKEN (or - to read it from stdin)");
	if (cmd->id == CMD_VALIDATE_JWT && strlen(ctl.token) > MAX_TOKEN_BYTES)
		return usage_error("%s", "validate jwt: TOKEN longer than 64 KiB");

	if (cmd->workload_api) {
		rc = resolve_wl_socket(&ctl, opt_socket);
		if (rc)
			return rc;
		switch (cmd->id) {
		case CMD_FETCH_X509:
			return cmd_fetch_x509(&ctl);
		case CMD_FETCH_JWT:
			return cmd_fetch_jwt(&ctl);
		case CMD_FETCH_BUNDLES:
			return cmd_fetch_bundles(&ctl);
		default:
			return cmd_validate_jwt(&ctl);
		}
	}

	if (!*ctl.socket)
		return usage_error("%s", "--admin-socket: empty path");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "attestctl: cannot initialise libcurl\n");
		return 1;
	}
	libbpf_set_print(NULL);
	if (cmd->id == CMD_STATUS)
		rc = cmd_status(&ctl);
	else if (cmd->id == CMD_ATTESTATIONS)
		rc = cmd_attestations(&ctl, limit);
	else if (cmd->id == CMD_EXPLAIN)
		rc = cmd_explain(&ctl, pid);
	else
		rc = cmd_diag(&ctl, pin_dir);
	curl_global_cleanup();
	return rc;
}
