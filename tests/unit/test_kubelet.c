/*
 * test_kubelet.c - the kubelet pod cache on the real event loop and http_fetch, against
 * tests/tools/fake_kubelet.py: token / client-certificate / anonymous auth, the read-only port,
 * node name vs host name URLs, lookups by pod UID and container ID, warm hits answered
 * synchronously, many concurrent misses -> one request, the minimum interval, background
 * refresh, deadlines with a clear message, kubelet faults (500, truncated JSON, garbage, early
 * close, 401), token rotation, snapshot lifetime, cancel and free. Skips (naming the reason)
 * without /usr/bin/python3 or openssl.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "attest/kubelet.h"
#include "daemon/http_fetch.h"
#include "daemon/loop.h"
#include "tests/unit/fake_kubelet.h"

#define UID_A "aaaaaaaa-0000-4000-8000-00000000000a"
#define UID_B "bbbbbbbb-0000-4000-8000-00000000000b"
#define UID_C "cccccccc-0000-4000-8000-00000000000c"
#define UID_X "ffffffff-0000-4000-8000-0000000000ff" /* never in any list */
#define CID_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define CID_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define CID_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define CID_X "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"

/* A running pod with one container "app"; cid "" = no containerID yet (postStart hook). */
#define POD(uid, name, cid)                                                                 \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"prod\",\"uid\":\"" uid "\"}," \
	"\"spec\":{\"serviceAccountName\":\"web\",\"nodeName\":\"n1\","                     \
	"\"containers\":[{\"name\":\"app\",\"image\":\"reg/app:1\"}]},"                     \
	"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\","       \
	"\"image\":\"reg/app:1\",\"imageID\":\"reg/app@sha256:00\"" cid "}]}}"
#define CID(id)	  ",\"containerID\":\"containerd://" id "\""
#define LIST(...) "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[" __VA_ARGS__ "]}"

#define LIST_AB LIST(POD(UID_A, "web-1", CID(CID_A)) "," POD(UID_B, "web-2", CID(CID_B)))
#define LIST_ABC                                                                          \
	LIST(POD(UID_A, "web-1", CID(CID_A)) "," POD(UID_B, "web-2", CID(CID_B)) "," POD( \
		UID_C, "web-3", CID(CID_C)))

struct res {
	int calls;
	int rc;
	char name[64];
	char cname[64];
	bool has_ref;
	char err[KUBELET_ERR_MAX];
	uint64_t at_ms;
	struct loop *loop;
	int *counter; /* shared completion counter (may be NULL) */
	int stop_at;  /* loop_stop when *counter (or calls) reaches this */
	bool in_lookup;
	/* snapshot test */
	struct kubelet *k;
	bool hold;
	struct kubelet_snapshot *snap;
	const struct k8s_pod *pod;
};

static void on_lookup(void *arg, int rc, const struct k8s_pod *pod,
		      const struct k8s_container_ref *ref, const char *err)
{
	struct res *r = arg;
	int n;

	r->calls++;
	r->rc = rc;
	r->has_ref = ref != NULL;
	r->name[0] = r->cname[0] = '\0';
	assert_non_null(err);
	if (rc == 0) {
		assert_non_null(pod);
		fk_fmt(r->name, sizeof(r->name), "%s", pod->name);
		if (ref && ref->status)
			fk_fmt(r->cname, sizeof(r->cname), "%s", ref->status->name);
	} else {
		assert_null(pod);
		assert_null(ref);
		assert_true(err[0] != '\0');
	}
	fk_fmt(r->err, sizeof(r->err), "%s", err);
	if (r->hold && rc == 0) {
		r->snap = kubelet_snapshot_hold(r->k);
		assert_non_null(r->snap);
		r->pod = pod;
	}
	if (r->loop)
		r->at_ms = loop_now_ms(r->loop);
	n = r->counter ? ++*r->counter : r->calls;
	if (r->loop && !r->in_lookup && n >= r->stop_at)
		loop_stop(r->loop);
}

static void on_watchdog(struct loop *loop, void *arg)
{
	*(bool *)arg = true;
	loop_stop(loop);
}

static bool run_for(struct loop *loop, uint64_t ms)
{
	bool expired = false;
	uint64_t id;

	assert_int_equal(loop_add_timer(loop, ms, on_watchdog, &expired, &id), 0);
	assert_int_equal(loop_run(loop), 0);
	if (!expired)
		loop_cancel_timer(loop, id);
	return expired;
}

struct env {
	char dir[FK_PATH_MAX];
	char pods[FK_PATH_MAX], ca[FK_PATH_MAX], token[FK_PATH_MAX];
	char host[KUBELET_MAX_HOST + 1];
	struct fk fk;
	struct loop *loop;
	struct http_fetch *hf;
	struct http_fetch_io ioctx;
	struct kubelet_io io;
	struct kubelet_opts opts;
	struct kubelet *k;
};

/*
 * Starts the fake kubelet serving `list` (TLS unless --http is in extra, certificate for this
 * machine's host name and localhost) and the loop; opts get the port and CA (and token_path
 * when with_token, served and read from env->token = "tok-1").
 */
static void env_up(struct env *e, const char *list, bool with_token, const char *const *extra)
{
	char cert[FK_PATH_MAX], key[FK_PATH_MAX];
	const char *args[FK_MAX_ARGS];
	bool http = false;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	unsetenv(KUBELET_DEFAULT_NODE_NAME_ENV);
	assert_int_equal(gethostname(e->host, sizeof(e->host) - 1), 0);
	assert_int_equal(fk_tmpdir(e->dir), 0);
	fk_fmt(e->pods, sizeof(e->pods), "%s/pods.json", e->dir);
	fk_fmt(e->ca, sizeof(e->ca), "%s/ca.pem", e->dir);
	fk_fmt(e->token, sizeof(e->token), "%s/token", e->dir);
	assert_int_equal(fk_write_file(e->pods, list), 0);
	for (size_t i = 0; extra && extra[i]; i++)
		http |= strcmp(extra[i], "--http") == 0;
	if (!http) {
		assert_int_equal(fk_pki(e->dir, e->host), 0);
		fk_fmt(cert, sizeof(cert), "%s/server.pem", e->dir);
		fk_fmt(key, sizeof(key), "%s/server.key", e->dir);
		args[n++] = "--cert";
		args[n++] = cert;
		args[n++] = "--key";
		args[n++] = key;
	}
	args[n++] = "--pods-file";
	args[n++] = e->pods;
	if (with_token) {
		assert_int_equal(fk_write_file(e->token, "tok-1\n"), 0);
		args[n++] = "--token-file";
		args[n++] = e->token;
	}
	for (size_t i = 0; extra && extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	assert_int_equal(fk_start(&e->fk, e->dir, args), 0);
	assert_int_equal(loop_new(&e->loop), 0);
	assert_int_equal(http_fetch_new(e->loop, &e->hf), 0);
	http_fetch_kubelet_io(&e->ioctx, e->hf, NULL, &e->io);
	if (http) {
		e->opts.read_only_port = (uint16_t)e->fk.port;
	} else {
		e->opts.secure_port = (uint16_t)e->fk.port;
		e->opts.ca = e->ca;
		if (with_token)
			e->opts.token_path = e->token;
		else
			e->opts.anonymous = true;
	}
	e->opts.min_interval_ms = 50;
}

static void env_kubelet(struct env *e)
{
	char err[KUBELET_ERR_MAX];
	int rc = kubelet_new(&e->opts, &e->io, &e->k, err);

	if (rc < 0)
		fail_msg("kubelet_new: %d %s", rc, err);
}

static void env_down(struct env *e)
{
	kubelet_free(e->k);
	http_fetch_free(e->hf);
	loop_free(e->loop);
	fk_stop(&e->fk);
	fk_rmdir(e->dir);
}

/* One lookup run to completion (synchronously or through the loop). */
static void lookup(struct env *e, const char *uid, const char *cid, unsigned flags,
		   uint64_t deadline, struct res *r)
{
	struct kubelet_wait *w = NULL;

	memset(r, 0, sizeof(*r));
	r->loop = e->loop;
	r->stop_at = 1;
	r->in_lookup = true; /* a synchronous answer must not stop a loop that is not running */
	assert_int_equal(kubelet_lookup(e->k, uid, cid, flags, deadline, on_lookup, r, &w), 0);
	r->in_lookup = false;
	if (r->calls == 0) {
		assert_non_null(w);
		assert_false(run_for(e->loop, 20000));
	} else {
		assert_null(w);
	}
	assert_int_equal(r->calls, 1);
}

static void test_token_auth_and_lookups(void **state)
{
	struct env e;
	struct res r;
	struct kubelet_stats st;
	struct kubelet_wait *w;
	char url[512];

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, true, NULL);
	env_kubelet(&e);
	/* no node name: the host name in the URL, connecting to 127.0.0.1 */
	fk_fmt(url, sizeof(url), "https://%s:%d/pods", e.host, e.fk.port);
	assert_string_equal(kubelet_url(e.k), url);

	lookup(&e, UID_A, NULL, 0, 0, &r); /* cold: waits for the first refresh */
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.name, "web-1");
	assert_false(r.has_ref);

	/* warm: answered before kubelet_lookup returns */
	memset(&r, 0, sizeof(r));
	assert_int_equal(kubelet_lookup(e.k, UID_B, CID_B, 0, 0, on_lookup, &r, &w), 0);
	assert_int_equal(r.calls, 1);
	assert_null(w);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.name, "web-2");
	assert_string_equal(r.cname, "app");

	lookup(&e, NULL, CID_A, 0, 0, &r); /* container ID alone */
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.name, "web-1");
	assert_true(r.has_ref);

	lookup(&e, "", CID_A, 0, 0, &r);
	assert_int_equal(r.rc, 0);

	lookup(&e, UID_A, CID_B, 0, 0, &r); /* the container is in another pod */
	assert_int_equal(r.rc, -EPROTO);
	assert_non_null(strstr(r.err, "is in pod " UID_B));

	assert_int_equal(kubelet_lookup(e.k, NULL, "", 0, 0, on_lookup, &r, NULL), -EINVAL);
	assert_int_equal(kubelet_lookup(e.k, UID_A, NULL, 0x80, 0, on_lookup, &r, NULL), -EINVAL);

	kubelet_stats(e.k, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.pods, 2);
	assert_int_equal(st.hits, 3);
	assert_int_equal(st.last_rc, 0);
	assert_true(st.last_refresh_age_ms < 20000);
	assert_int_equal(fk_count(&e.fk), 1);
	env_down(&e);
}

static void test_hostname_mismatch(void **state)
{
	struct env e;
	struct res r;
	struct kubelet_stats st;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, true, NULL);
	e.opts.hostname = "not-this-node.test";
	env_kubelet(&e);
	lookup(&e, UID_A, NULL, 0, 0, &r);
	assert_int_equal(r.rc, -EPROTO);
	assert_non_null(strstr(r.err, "https://not-this-node.test:"));
	assert_non_null(strstr(r.err, "not-this-node.test'")); /* curl names the host */
	kubelet_stats(e.k, &st);
	assert_int_equal(st.failures, 1);
	assert_string_equal(st.last_error, r.err);

	/* skip_verification accepts it */
	kubelet_free(e.k);
	e.opts.skip_verification = true;
	env_kubelet(&e);
	lookup(&e, UID_A, NULL, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	env_down(&e);
}

static void test_client_cert_and_node_name(void **state)
{
	struct env e;
	struct res r;
	char dir[FK_PATH_MAX], client_ca[FK_PATH_MAX], cert[FK_PATH_MAX], key[FK_PATH_MAX];
	char url[256];

	FK_SKIP_UNLESS(true);
	assert_int_equal(fk_tmpdir(dir), 0);
	assert_int_equal(fk_pki(dir, "unused"), 0);
	fk_fmt(client_ca, sizeof(client_ca), "%s/client-ca.pem", dir);
	fk_fmt(cert, sizeof(cert), "%s/client.pem", dir);
	fk_fmt(key, sizeof(key), "%s/client.key", dir);
	env_up(&e, LIST_AB, false, (const char *const[]){"--client-ca", client_ca, NULL});
	e.opts.anonymous = false;
	e.opts.cert = cert;
	e.opts.key = key;
	/* node name from the environment: https://localhost:<port>/pods, resolved and verified */
	setenv("ATTESTD_TEST_NODE", "localhost", 1);
	e.opts.node_name_env = "ATTESTD_TEST_NODE";
	env_kubelet(&e);
	fk_fmt(url, sizeof(url), "https://localhost:%d/pods", e.fk.port);
	assert_string_equal(kubelet_url(e.k), url);
	lookup(&e, UID_A, CID_A, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.cname, "app");

	/* node_name wins over the variable; 127.0.0.1 is in the certificate too */
	kubelet_free(e.k);
	e.opts.node_name = "127.0.0.1";
	env_kubelet(&e);
	fk_fmt(url, sizeof(url), "https://127.0.0.1:%d/pods", e.fk.port);
	assert_string_equal(kubelet_url(e.k), url);
	lookup(&e, UID_B, NULL, 0, 0, &r);
	assert_int_equal(r.rc, 0);

	/* without the client certificate: 401 */
	kubelet_free(e.k);
	e.opts.cert = e.opts.key = NULL;
	e.opts.anonymous = true;
	env_kubelet(&e);
	lookup(&e, UID_B, NULL, 0, 0, &r);
	assert_int_equal(r.rc, -EACCES);
	assert_non_null(strstr(r.err, "HTTP 401"));
	assert_non_null(strstr(r.err, url));
	unsetenv("ATTESTD_TEST_NODE");
	env_down(&e);
	fk_rmdir(dir);
}

static void test_read_only_port(void **state)
{
	struct env e;
	struct res r;
	char url[128];

	FK_SKIP_UNLESS(false);
	env_up(&e, LIST_AB, false, (const char *const[]){"--http", NULL});
	env_kubelet(&e);
	fk_fmt(url, sizeof(url), "http://127.0.0.1:%d/pods", e.fk.port);
	assert_string_equal(kubelet_url(e.k), url);
	lookup(&e, NULL, CID_B, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.name, "web-2");
	env_down(&e);
}

static void test_concurrent_misses_one_request(void **state)
{
	enum {
		N = 50
	};
	struct env e;
	struct res r, many[N];
	struct kubelet_stats st;
	int done = 0;
	long before;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	e.opts.min_interval_ms = 300;
	e.opts.interval_ms = 60000;
	env_kubelet(&e);
	lookup(&e, UID_A, NULL, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(fk_count(&e.fk), 1);

	/* pod C appears; 50 lookups miss at once: one request answers all of them */
	assert_int_equal(fk_write_file(e.pods, LIST_ABC), 0);
	memset(many, 0, sizeof(many));
	for (int i = 0; i < N; i++) {
		many[i].loop = e.loop;
		many[i].counter = &done;
		many[i].stop_at = N;
		assert_int_equal(kubelet_lookup(e.k, UID_C, i % 2 ? CID_C : NULL, 0, 0, on_lookup,
						&many[i], NULL),
				 0);
		assert_int_equal(many[i].calls, 0);
	}
	assert_false(run_for(e.loop, 10000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(many[i].calls, 1);
		assert_int_equal(many[i].rc, 0);
		assert_string_equal(many[i].name, "web-3");
	}
	assert_int_equal(fk_count(&e.fk), 2);

	/* a pod that never appears: refreshes no more often than min_interval until the deadline */
	before = fk_count(&e.fk);
	done = 0;
	memset(many, 0, sizeof(many));
	for (int i = 0; i < N; i++) {
		many[i].loop = e.loop;
		many[i].counter = &done;
		many[i].stop_at = N;
		assert_int_equal(
			kubelet_lookup(e.k, UID_X, NULL, 0, 1000, on_lookup, &many[i], NULL), 0);
	}
	assert_false(run_for(e.loop, 10000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(many[i].rc, -ETIMEDOUT);
		assert_non_null(
			strstr(many[i].err, "kubelet: pod " UID_X " not found after 1.0 s"));
		assert_non_null(strstr(many[i].err, "last refresh: "));
		assert_non_null(strstr(many[i].err, "ms ago, 3 pods"));
	}
	/* 1000 ms / 300 ms: at most 4 requests (one right away, then every 300 ms) */
	print_message("kubelet requests for a 1 s miss with min_interval 300 ms: %ld\n",
		      fk_count(&e.fk) - before);
	assert_true(fk_count(&e.fk) - before >= 2);
	assert_true(fk_count(&e.fk) - before <= 4);
	kubelet_stats(e.k, &st);
	assert_int_equal(st.timeouts, N);
	assert_int_equal(st.waiting, 0);
	env_down(&e);
}

static void test_background_refresh(void **state)
{
	struct env e;
	struct kubelet_stats st;
	struct res r;
	long n;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	e.opts.interval_ms = 200;
	env_kubelet(&e);
	assert_true(run_for(e.loop, 1100));
	n = fk_count(&e.fk);
	print_message("background refreshes in 1.1 s at a 200 ms interval: %ld\n", n);
	assert_true(n >= 4 && n <= 7);
	kubelet_stats(e.k, &st);
	assert_true(st.refreshes + 1 >= (uint64_t)n && st.refreshes <= (uint64_t)n);
	/* a pod that appeared is found by the background refresh alone */
	assert_int_equal(fk_write_file(e.pods, LIST_ABC), 0);
	assert_true(run_for(e.loop, 450));
	memset(&r, 0, sizeof(r));
	assert_int_equal(kubelet_lookup(e.k, UID_C, NULL, 0, 0, on_lookup, &r, NULL), 0);
	assert_int_equal(r.calls, 1); /* synchronously: already cached */
	assert_int_equal(r.rc, 0);
	env_down(&e);
}

static void test_deadline(void **state)
{
	struct env e;
	struct res r;
	uint64_t t0;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	e.opts.deadline_ms = 400; /* the default deadline of lookups */
	env_kubelet(&e);
	t0 = loop_now_ms(e.loop);
	lookup(&e, UID_X, NULL, 0, 0, &r);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_true(r.at_ms - t0 >= 400 && r.at_ms - t0 < 1500);
	assert_non_null(
		strstr(r.err, "kubelet: pod " UID_X " not found after 0.4 s (last refresh: "));

	/* the container is not reported (yet) in a known pod */
	lookup(&e, UID_A, CID_X, 0, 300, &r);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_non_null(strstr(r.err, "container " CID_X " not reported in pod prod/web-1"));
	lookup(&e, NULL, CID_X, 0, 300, &r);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_non_null(strstr(r.err, "container " CID_X " not found after 0.3 s"));

	/* a kubelet too slow to answer: the deadline still holds */
	kubelet_free(e.k);
	assert_int_equal(fk_control(&e.fk, "POST", "/_faults", "{\"delay_ms\": 3000}", NULL), 200);
	env_kubelet(&e);
	t0 = loop_now_ms(e.loop);
	lookup(&e, UID_A, NULL, 0, 300, &r);
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_true(r.at_ms - t0 < 1500);
	assert_non_null(strstr(r.err, "no pod list from https://"));
	assert_non_null(strstr(r.err, "request in flight for"));
	env_down(&e);
}

static void test_faults(void **state)
{
	static const struct {
		const char *name, *faults;
		int rc;
		const char *msg;
	} cases[] = {
		{"500", "{\"status\": 500}", -EIO, "HTTP 500: injected failure"},
		{"truncated", "{\"truncate\": true}", -EPROTO, "pod list"},
		{"garbage", "{\"garbage\": true}", -EPROTO, "pod list"},
		{"early close", "{\"close\": true}", -EIO, "GET https://"},
		{"too slow", "{\"delay_ms\": 2000}", -ETIMEDOUT, "timed out"},
	};
	struct env e;
	struct res r;
	struct kubelet_stats st;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	e.opts.request_timeout_ms = 500;
	env_kubelet(&e);
	lookup(&e, UID_A, NULL, 0, 0, &r);
	assert_int_equal(r.rc, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(fk_control(&e.fk, "POST", "/_faults", cases[i].faults, NULL), 200);
		lookup(&e, UID_C, NULL, 0, 3000, &r); /* a miss: refresh, which fails */
		print_message("%s: %d %s\n", cases[i].name, r.rc, r.err);
		assert_int_equal(r.rc, cases[i].rc);
		assert_non_null(strstr(r.err, cases[i].msg));
		assert_non_null(strstr(r.err, kubelet_url(e.k)));
		/* the cache still answers what it has */
		lookup(&e, UID_A, CID_A, 0, 0, &r);
		if (r.rc != 0)
			fail_msg("after %s: %d %s", cases[i].name, r.rc, r.err);
		assert_int_equal(fk_control(&e.fk, "POST", "/_faults",
					    "{\"status\": 0, \"truncate\": false, \"garbage\": "
					    "false, \"close\": false, \"delay_ms\": 0}",
					    NULL),
				 200);
	}
	kubelet_stats(e.k, &st);
	assert_int_equal(st.failures, sizeof(cases) / sizeof(cases[0]));
	assert_true(st.last_rc < 0);
	/* recovery */
	assert_int_equal(fk_write_file(e.pods, LIST_ABC), 0);
	lookup(&e, UID_C, NULL, 0, 3000, &r);
	assert_int_equal(r.rc, 0);
	kubelet_stats(e.k, &st);
	assert_int_equal(st.last_rc, 0);
	assert_int_equal(st.pods, 3);
	env_down(&e);
}

static void test_token_rotation(void **state)
{
	struct env e;
	struct res r;
	char client_token[FK_PATH_MAX];
	struct timespec ts = {0, 30 * 1000 * 1000};

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, true, NULL); /* the server accepts the contents of e.token */
	fk_fmt(client_token, sizeof(client_token), "%s/client-token", e.dir);
	assert_int_equal(fk_write_file(client_token, "  tok-1\n"), 0);
	e.opts.token_path = client_token;
	env_kubelet(&e);
	lookup(&e, UID_A, NULL, 0, 0, &r);
	assert_int_equal(r.rc, 0);

	/* the server rotates; our file not yet: 401 */
	assert_int_equal(fk_write_file(e.token, "tok-2"), 0);
	lookup(&e, UID_C, NULL, 0, 3000, &r);
	assert_int_equal(r.rc, -EACCES);
	assert_non_null(strstr(r.err, "HTTP 401"));
	/* the file is replaced (new inode, as kubelet's atomic writer does): the new token is used */
	assert_int_equal(fk_write_file(client_token, "tok-2\n"), 0);
	assert_int_equal(fk_write_file(e.pods, LIST_ABC), 0);
	lookup(&e, UID_C, NULL, 0, 3000, &r);
	assert_int_equal(r.rc, 0);

	/* rewritten in place, same size: mtime changes */
	assert_int_equal(fk_write_file(e.token, "tok-3"), 0);
	nanosleep(&ts, NULL);
	{
		FILE *f = fopen(client_token, "r+");

		assert_non_null(f);
		assert_int_equal(fputs("tok-3\n", f) >= 0, 1);
		assert_int_equal(fclose(f), 0);
	}
	assert_int_equal(fk_write_file(e.pods, LIST_AB), 0);
	lookup(&e, NULL, CID_X, 0, 400, &r); /* forces refreshes; must not be a 401 */
	assert_int_equal(r.rc, -ETIMEDOUT);
	assert_null(strstr(r.err, "401"));

	/* token file gone: a clear error naming it */
	assert_int_equal(unlink(client_token), 0);
	lookup(&e, UID_X, NULL, 0, 3000, &r);
	assert_int_equal(r.rc, -ENOENT);
	assert_non_null(strstr(r.err, "token_path"));
	assert_non_null(strstr(r.err, client_token));
	env_down(&e);
}

static void test_container_optional(void **state)
{
	struct env e;
	struct res r;
	struct kubelet_stats st;

	FK_SKIP_UNLESS(true);
	/* pod A's container has no containerID yet (a postStart hook is running) */
	env_up(&e, LIST(POD(UID_A, "web-1", "") "," POD(UID_B, "web-2", CID(CID_B))), false, NULL);
	env_kubelet(&e);
	lookup(&e, UID_B, NULL, 0, 0, &r); /* warm the cache */
	assert_int_equal(r.rc, 0);
	/* not answered from the cache at once: waits for one fresh list, then the pod alone */
	lookup(&e, UID_A, CID_A, KUBELET_CONTAINER_OPTIONAL, 3000, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.name, "web-1");
	assert_false(r.has_ref);
	kubelet_stats(e.k, &st);
	assert_int_equal(st.requests, 2);
	/* once the container is reported, the flag makes no difference */
	assert_int_equal(fk_write_file(e.pods, LIST_AB), 0);
	lookup(&e, UID_A, CID_A, KUBELET_CONTAINER_OPTIONAL, 3000, &r);
	assert_int_equal(r.rc, 0);
	assert_true(r.has_ref);
	assert_string_equal(r.cname, "app");
	env_down(&e);
}

static void test_duplicate_container_id(void **state)
{
	struct env e;
	struct res r;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST(POD(UID_A, "web-1", CID(CID_A)) "," POD(UID_B, "web-2", CID(CID_A))), false,
	       NULL);
	env_kubelet(&e);
	lookup(&e, UID_A, CID_A, 0, 0, &r);
	assert_int_equal(r.rc, -ENOTUNIQ);
	assert_non_null(strstr(r.err, "kubelet: "));
	lookup(&e, UID_B, NULL, 0, 0, &r); /* the pods themselves are fine */
	assert_int_equal(r.rc, 0);
	env_down(&e);
}

static void test_snapshot_outlives_refresh(void **state)
{
	struct env e;
	struct res r, r2;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	env_kubelet(&e);
	memset(&r, 0, sizeof(r));
	r.loop = e.loop;
	r.stop_at = 1;
	r.k = e.k;
	r.hold = true;
	assert_int_equal(kubelet_lookup(e.k, UID_A, NULL, 0, 0, on_lookup, &r, NULL), 0);
	assert_false(run_for(e.loop, 20000));
	assert_int_equal(r.rc, 0);
	assert_non_null(r.snap);
	assert_null(kubelet_snapshot_hold(e.k)); /* outside a callback */
	/* a refresh replaces the list; the held pod stays readable, even after kubelet_free */
	assert_int_equal(fk_write_file(e.pods, LIST_ABC), 0);
	lookup(&e, UID_C, NULL, 0, 3000, &r2);
	assert_int_equal(r2.rc, 0);
	kubelet_free(e.k);
	e.k = NULL;
	assert_string_equal(r.pod->name, "web-1");
	assert_string_equal(r.pod->uid, UID_A);
	kubelet_snapshot_release(r.snap);
	env_down(&e);
}

static void test_cancel_and_free(void **state)
{
	struct env e;
	struct res r, r2;
	struct kubelet_wait *w;
	struct kubelet_stats st;

	FK_SKIP_UNLESS(true);
	env_up(&e, LIST_AB, false, NULL);
	env_kubelet(&e);
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	assert_int_equal(kubelet_lookup(e.k, UID_X, NULL, 0, 300, on_lookup, &r, &w), 0);
	assert_non_null(w);
	kubelet_cancel(e.k, w);
	assert_true(run_for(e.loop, 600));
	assert_int_equal(r.calls, 0);
	kubelet_stats(e.k, &st);
	assert_int_equal(st.waiting, 0);
	assert_int_equal(kubelet_lookup(e.k, UID_X, NULL, 0, 3000, on_lookup, &r2, &w), 0);
	kubelet_free(e.k); /* the waiting lookup is told */
	e.k = NULL;
	assert_int_equal(r2.calls, 1);
	assert_int_equal(r2.rc, -ECANCELED);
	env_down(&e);
}

static void test_bad_options(void **state)
{
	static const struct {
		const char *name;
		struct kubelet_opts o;
		const char *msg;
	} cases[] = {
		{"both ports", {.secure_port = 1, .read_only_port = 2}, "mutually exclusive"},
		{"cert without key", {.cert = "/c.pem"}, "cert is set but key is missing"},
		{"key without cert", {.key = "/k.pem"}, "key is set but cert is missing"},
		{"anonymous and token", {.anonymous = true, .token_path = "/t"}, "anonymous"},
		{"anonymous and cert", {.anonymous = true, .cert = "/c", .key = "/k"}, "anonymous"},
		{"token and cert", {.token_path = "/t", .cert = "/c", .key = "/k"}, "exclusive"},
		{"bad node name", {.node_name = "a b"}, "not a host name"},
		{"bad host name", {.hostname = "under_score"}, "set node_name"},
		{"min interval", {.min_interval_ms = 1}, "min_interval"},
	};
	struct loop *loop;
	struct http_fetch *hf;
	struct http_fetch_io ctx;
	struct kubelet_io io;
	struct kubelet *k;
	char err[KUBELET_ERR_MAX];

	unsetenv(KUBELET_DEFAULT_NODE_NAME_ENV);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(http_fetch_new(loop, &hf), 0);
	http_fetch_kubelet_io(&ctx, hf, NULL, &io);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k = (struct kubelet *)1;
		assert_int_equal(kubelet_new(&cases[i].o, &io, &k, err), -EINVAL);
		assert_null(k);
		if (!strstr(err, cases[i].msg))
			fail_msg("%s: %s", cases[i].name, err);
	}
	/* defaults: secure port 10250 on the host name */
	assert_int_equal(kubelet_new(&(struct kubelet_opts){.hostname = "node-z"}, &io, &k, err),
			 0);
	assert_string_equal(kubelet_url(k), "https://node-z:10250/pods");
	kubelet_free(k);
	setenv(KUBELET_DEFAULT_NODE_NAME_ENV, "node-y", 1);
	assert_int_equal(kubelet_new(&(struct kubelet_opts){.secure_port = 4443}, &io, &k, err), 0);
	assert_string_equal(kubelet_url(k), "https://node-y:4443/pods");
	kubelet_free(k);
	unsetenv(KUBELET_DEFAULT_NODE_NAME_ENV);
	http_fetch_free(hf);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_token_auth_and_lookups),
		cmocka_unit_test(test_hostname_mismatch),
		cmocka_unit_test(test_client_cert_and_node_name),
		cmocka_unit_test(test_read_only_port),
		cmocka_unit_test(test_concurrent_misses_one_request),
		cmocka_unit_test(test_background_refresh),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_token_rotation),
		cmocka_unit_test(test_container_optional),
		cmocka_unit_test(test_duplicate_container_id),
		cmocka_unit_test(test_snapshot_outlives_refresh),
		cmocka_unit_test(test_cancel_and_free),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
