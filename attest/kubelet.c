/*
 * kubelet.c - the kubelet pod cache. State machine on one timer and at most one request:
 *   - a lookup that the current snapshot answers is answered at once (synchronously);
 *   - otherwise it waits (a list of waiters) and marks a refresh as wanted;
 *   - a refresh starts when wanted and min_interval has passed since the last request started,
 *     or when interval has passed (background), and never while one is in flight;
 *   - a successful refresh replaces the snapshot (refcounted: callbacks and holders keep the old
 *     one alive) and answers the waiters it can; a failed one fails every waiter with its error;
 *   - the one timer fires at the earliest of: the next refresh due, the earliest deadline.
 * Waiters to answer are first detached into a local list, then called back, so callbacks may
 * start lookups or cancel others.
 */
#include "attest/kubelet.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KUBELET_MIN_INTERVAL_FLOOR_MS 10 /* smallest min_interval accepted */
#define KUBELET_URL_MAX		      (KUBELET_MAX_HOST + 64)
#define KUBELET_AUTH_PREFIX	      "Authorization: Bearer "
#define KUBELET_BODY_SHOW	      96 /* bytes of an error body quoted in a message */

struct kubelet_snapshot {
	unsigned refs;
	struct k8s_pods *pods;
	uint64_t seq;	     /* of the request that fetched it */
	uint64_t fetched_ms; /* when that request completed */
};

struct kubelet_wait {
	struct kubelet *k;
	char pod_uid[KUBELET_MAX_ID + 1];
	char container_id[KUBELET_MAX_ID + 1];
	unsigned flags;
	uint64_t start_ms, deadline_ms, timeout_ms;
	uint64_t need_seq; /* a snapshot from this request (or later) counts as "fresh" */
	kubelet_lookup_cb cb;
	void *arg;
	struct kubelet_wait *prev, *next; /* k->waiters (newest first) while waiting */
	/* the outcome, once detached for delivery */
	bool detached, cancelled, has_ref;
	int rc;
	const struct k8s_pod *pod;
	struct k8s_container_ref ref;
	struct kubelet_wait *dnext;
	char err[KUBELET_ERR_MAX];
};

struct kubelet_parse_job;

struct kubelet {
	struct kubelet_io io;
	struct kubelet_parse_job *parsing; /* a pod list being parsed off-thread */
	char url[KUBELET_URL_MAX];
	char connect_host[16];
	uint16_t connect_port;
	bool secure, skip_verify;
	char *ca, *cert, *key, *token_path;
	uint64_t min_interval, interval, deadline, req_timeout;
	size_t max_body;

	/* token cache: re-read when the file's identity changes */
	char *auth; /* "Authorization: Bearer <token>" */
	struct stat token_st;

	struct kubelet_snapshot *snap;	     /* current pod list, or NULL */
	struct kubelet_snapshot *delivering; /* during callbacks (kubelet_snapshot_hold) */
	void *fetch;			     /* request in flight */
	uint64_t fetch_start_ms;
	bool ever_started, refresh_wanted;
	uint64_t last_start_ms, seq;
	void *timer;
	uint64_t timer_at;
	struct kubelet_wait *waiters;
	size_t nwaiting;
	bool failing; /* the last request failed (for logging state changes) */

	struct kubelet_stats st;
};

/* snprintf that may truncate on purpose (gcc's -Wformat-truncation does not look into it) */
static void __attribute__((format(printf, 3, 4)))
errfmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(const struct kubelet *k)
{
	return k->io.now_ms(k->io.ctx);
}

static void note(struct kubelet *k, bool warn, const char *msg)
{
	if (k->io.log)
		k->io.log(k->io.ctx, warn, msg);
}

/* ---- snapshots ------------------------------------------------------------------------- */

static struct kubelet_snapshot *snap_ref(struct kubelet_snapshot *s)
{
	if (s)
		s->refs++;
	return s;
}

void kubelet_snapshot_release(struct kubelet_snapshot *s)
{
	if (!s || --s->refs > 0)
		return;
	k8s_pods_free(s->pods);
	free(s);
	/* A pod list is megabytes of small allocations (and its parse, on a worker thread, as
	 * much again in that thread's arena): glibc keeps the freed pages, so without this RSS
	 * settles at about three pod lists. Once per refresh, about a millisecond. */
	malloc_trim(0);
}

struct kubelet_snapshot *kubelet_snapshot_hold(struct kubelet *k)
{
	return snap_ref(k->delivering);
}

/* ---- matching -------------------------------------------------------------------------- */

enum match {
	MATCH_FOUND,	/* pod (and container, if asked) found */
	MATCH_POD_ONLY, /* container asked, pod found, container not (yet) in it */
	MATCH_MISSING,
	MATCH_ERROR,
};

static enum match match(const struct kubelet_snapshot *s, struct kubelet_wait *w)
{
	char e[256];
	const struct k8s_pod *p = NULL;
	int r;

	w->has_ref = false;
	w->pod = NULL;
	if (!s)
		return MATCH_MISSING;
	if (w->container_id[0]) {
		r = k8s_pods_by_container_id(s->pods, w->container_id, &p, &w->ref, e);
		if (r == 0 && w->pod_uid[0] && strcmp(p->uid, w->pod_uid) != 0) {
			w->rc = -EPROTO;
			errfmt(w->err, sizeof(w->err),
			       "kubelet: container %.80s is in pod %.64s (%.40s/%.40s), not in pod "
			       "%.64s",
			       w->container_id, p->uid, p->ns ? p->ns : "", p->name ? p->name : "",
			       w->pod_uid);
			return MATCH_ERROR;
		}
		if (r == 0) {
			w->pod = p;
			w->has_ref = true;
			return MATCH_FOUND;
		}
		if (r != -ENOENT) {
			w->rc = r;
			errfmt(w->err, sizeof(w->err), "kubelet: %s", e);
			return MATCH_ERROR;
		}
		if (!w->pod_uid[0])
			return MATCH_MISSING;
		r = k8s_pods_by_uid(s->pods, w->pod_uid, &p, e);
		if (r == 0) {
			w->pod = p;
			return MATCH_POD_ONLY;
		}
	} else {
		r = k8s_pods_by_uid(s->pods, w->pod_uid, &p, e);
		if (r == 0) {
			w->pod = p;
			return MATCH_FOUND;
		}
	}
	if (r == -ENOENT)
		return MATCH_MISSING;
	w->rc = r;
	errfmt(w->err, sizeof(w->err), "kubelet: %s", e);
	return MATCH_ERROR;
}

/* Decides whether w is answered by snapshot s; if so fills its outcome and returns true. */
static bool resolve(struct kubelet_wait *w, const struct kubelet_snapshot *s)
{
	switch (match(s, w)) {
	case MATCH_FOUND:
		w->rc = 0;
		w->err[0] = '\0';
		return true;
	case MATCH_ERROR:
		w->pod = NULL;
		w->has_ref = false;
		return true;
	case MATCH_POD_ONLY:
		if ((w->flags & KUBELET_CONTAINER_OPTIONAL) && s->seq >= w->need_seq) {
			w->rc = 0;
			w->err[0] = '\0';
			return true;
		}
		return false;
	case MATCH_MISSING:
		break;
	}
	return false;
}

/* ---- waiters --------------------------------------------------------------------------- */

static void wait_unlink(struct kubelet *k, struct kubelet_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		k->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	k->nwaiting--;
}

/* Moves w from the waiting list to the front of *list (its outcome must be filled). */
static void wait_detach(struct kubelet *k, struct kubelet_wait *w, struct kubelet_wait **list)
{
	wait_unlink(k, w);
	w->detached = true;
	w->dnext = *list;
	*list = w;
}

/* Calls back every waiter of list (answers from snapshot s, may be NULL) and frees them. */
static void deliver(struct kubelet *k, struct kubelet_wait *list, struct kubelet_snapshot *s)
{
	struct kubelet_snapshot *prev = k->delivering;

	snap_ref(s);
	while (list) {
		struct kubelet_wait *w = list;

		list = w->dnext;
		if (!w->cancelled) {
			k->delivering = w->rc == 0 ? s : NULL;
			w->cb(w->arg, w->rc, w->rc == 0 ? w->pod : NULL,
			      w->rc == 0 && w->has_ref ? &w->ref : NULL, w->err);
		}
		free(w);
	}
	k->delivering = prev;
	kubelet_snapshot_release(s);
}

/* "last refresh: 200 ms ago, 4 pods" and what is going on now, for timeout messages. */
static void describe_state(const struct kubelet *k, uint64_t now, char *buf, size_t size)
{
	size_t o = 0;

	if (k->snap)
		o += (size_t)snprintf(buf, size, "last refresh: %llu ms ago, %zu pods",
				      (unsigned long long)(now - k->snap->fetched_ms),
				      k8s_pods_count(k->snap->pods));
	else
		o += (size_t)snprintf(buf, size, "no pod list from %s yet", k->url);
	if (o < size && k->fetch)
		o += (size_t)snprintf(buf + o, size - o, "; request in flight for %llu ms",
				      (unsigned long long)(now - k->fetch_start_ms));
	else if (o < size && k->st.last_rc < 0)
		errfmt(buf + o, size - o, "; last error: %s", k->st.last_error);
}

static void timeout_message(const struct kubelet *k, struct kubelet_wait *w, uint64_t now)
{
	char state[KUBELET_ERR_MAX];
	const struct k8s_pod *p = NULL;
	char e[256];
	double secs = (double)(now - w->start_ms) / 1000.0;

	describe_state(k, now, state, sizeof(state));
	if (w->container_id[0] && w->pod_uid[0] && k->snap &&
	    k8s_pods_by_uid(k->snap->pods, w->pod_uid, &p, e) == 0)
		errfmt(w->err, sizeof(w->err),
		       "kubelet: container %.72s not reported in pod %.40s/%.40s (%.40s) after "
		       "%.1f s (%s)",
		       w->container_id, p->ns ? p->ns : "", p->name ? p->name : "", p->uid, secs,
		       state);
	else if (w->container_id[0] && w->pod_uid[0])
		errfmt(w->err, sizeof(w->err),
		       "kubelet: pod %.40s (container %.72s) not found after %.1f s (%s)",
		       w->pod_uid, w->container_id, secs, state);
	else if (w->container_id[0])
		errfmt(w->err, sizeof(w->err),
		       "kubelet: container %.72s not found after %.1f s (%s)", w->container_id,
		       secs, state);
	else
		errfmt(w->err, sizeof(w->err), "kubelet: pod %.64s not found after %.1f s (%s)",
		       w->pod_uid, secs, state);
}

/* ---- timer and refresh scheduling ------------------------------------------------------ */

static void on_timer(void *arg);

static void arm(struct kubelet *k, uint64_t at)
{
	uint64_t now = now_ms(k);

	if (k->timer && k->timer_at == at)
		return;
	if (k->timer) {
		k->io.timer_cancel(k->io.ctx, k->timer);
		k->timer = NULL;
	}
	if (at == UINT64_MAX)
		return;
	if (k->io.timer_add(k->io.ctx, at > now ? at - now : 0, on_timer, k, &k->timer) < 0) {
		k->timer = NULL;
		note(k, true, "kubelet: cannot add a timer (out of memory?)");
		return;
	}
	k->timer_at = at;
}

/* When the next request may start (UINT64_MAX: not needed). */
static uint64_t refresh_due(const struct kubelet *k)
{
	uint64_t due;

	if (k->fetch || k->parsing)
		return UINT64_MAX;
	if (!k->ever_started)
		return 0;
	due = k->last_start_ms + k->interval;
	if (k->refresh_wanted && k->last_start_ms + k->min_interval < due)
		due = k->last_start_ms + k->min_interval;
	return due;
}

static void start_refresh(struct kubelet *k);

/* Starts a due refresh (if may_start) and arms the timer for whatever comes next. */
static void reschedule(struct kubelet *k, bool may_start)
{
	uint64_t now = now_ms(k), next;

	if (may_start && refresh_due(k) <= now)
		start_refresh(k);
	next = refresh_due(k);
	for (struct kubelet_wait *w = k->waiters; w; w = w->next)
		if (w->deadline_ms < next)
			next = w->deadline_ms;
	arm(k, next);
}

/* Fails every waiter with rc/err (a refresh failed). */
static void fail_waiters(struct kubelet *k, int rc, const char *err)
{
	struct kubelet_wait *list = NULL;

	while (k->waiters) {
		struct kubelet_wait *w = k->waiters;

		w->rc = rc;
		w->pod = NULL;
		w->has_ref = false;
		errfmt(w->err, sizeof(w->err), "%s", err);
		wait_detach(k, w, &list);
	}
	k->refresh_wanted = false;
	deliver(k, list, NULL);
}

static void request_failed(struct kubelet *k, int rc, const char *err)
{
	bool was_failing = k->failing;

	k->st.failures++;
	k->st.last_rc = rc;
	errfmt(k->st.last_error, sizeof(k->st.last_error), "%s", err);
	k->failing = true;
	if (!was_failing)
		note(k, true, err);
	fail_waiters(k, rc, err);
}

static void on_timer(void *arg)
{
	struct kubelet *k = arg;
	struct kubelet_wait *list = NULL, *w, *next;
	uint64_t now = now_ms(k);

	k->timer = NULL;
	for (w = k->waiters; w; w = next) {
		next = w->next;
		if (w->deadline_ms > now)
			continue;
		w->rc = -ETIMEDOUT;
		w->pod = NULL;
		w->has_ref = false;
		timeout_message(k, w, now);
		k->st.timeouts++;
		wait_detach(k, w, &list);
	}
	deliver(k, list, NULL);
	reschedule(k, true);
}

/* Re-reads the token file when its identity (device, inode, size, mtime, ctime) changed. */
static int load_token(struct kubelet *k, char err[KUBELET_ERR_MAX])
{
	struct stat st;
	char *buf = NULL, *auth = NULL, *b, *e;
	ssize_t n;
	size_t len = 0, plen = strlen(KUBELET_AUTH_PREFIX);
	int fd = -1, rc = 0;

	if (!k->token_path)
		return 0;
	if (stat(k->token_path, &st) < 0) {
		rc = -errno;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: %s", k->token_path,
		       strerror(-rc));
		return rc;
	}
	if (k->auth && st.st_dev == k->token_st.st_dev && st.st_ino == k->token_st.st_ino &&
	    st.st_size == k->token_st.st_size && st.st_mtim.tv_sec == k->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == k->token_st.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == k->token_st.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == k->token_st.st_ctim.tv_nsec)
		return 0;
	fd = open(k->token_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: %s", k->token_path,
		       strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: not a regular file",
		       k->token_path);
		goto out;
	}
	buf = malloc(KUBELET_MAX_TOKEN + 1);
	if (!buf) {
		rc = -ENOMEM;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: out of memory");
		goto out;
	}
	while (len <= KUBELET_MAX_TOKEN) {
		n = read(fd, buf + len, KUBELET_MAX_TOKEN + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: %s", k->token_path,
			       strerror(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > KUBELET_MAX_TOKEN) {
		rc = -EFBIG;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: larger than %d bytes",
		       k->token_path, KUBELET_MAX_TOKEN);
		goto out;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		rc = -EINVAL;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: contains a NUL byte",
		       k->token_path);
		goto out;
	}
	for (b = buf; *b == ' ' || *b == '\t' || *b == '\n' || *b == '\r'; b++)
		;
	for (e = buf + len;
	     e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	*e = '\0';
	for (const char *c = b; c < e; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
			rc = -EINVAL;
			errfmt(err, KUBELET_ERR_MAX,
			       "kubelet: token_path %s: the token contains a space or control "
			       "character at byte %zu",
			       k->token_path, (size_t)(c - buf));
			goto out;
		}
	}
	if (b == e) {
		rc = -EINVAL;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: token_path %s: empty file", k->token_path);
		goto out;
	}
	auth = malloc(plen + (size_t)(e - b) + 1);
	if (!auth) {
		rc = -ENOMEM;
		errfmt(err, KUBELET_ERR_MAX, "kubelet: out of memory");
		goto out;
	}
	memcpy(auth, KUBELET_AUTH_PREFIX, plen);
	memcpy(auth + plen, b, (size_t)(e - b) + 1);
	free(k->auth);
	k->auth = auth;
	k->token_st = st;
out:
	if (buf) /* the token is a secret: do not leave it in freed memory */
		explicit_bzero(buf, KUBELET_MAX_TOKEN + 1);
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Printable first line of an error body, for messages. */
static void show_body(const char *body, size_t len, char *out, size_t size)
{
	size_t o = 0, i;

	for (i = 0; i < len && i < KUBELET_BODY_SHOW && o + 4 < size; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '\r' || c == '\n')
			break;
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i == KUBELET_BODY_SHOW && len > i && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* A pod list being parsed on another thread: the body is a copy; the result comes back here. */
struct kubelet_parse_job {
	struct kubelet *k; /* NULL once the kubelet is freed: the result is then dropped */
	char *body;
	size_t len;
	uint64_t seq;
	bool first, was_failing;
	struct k8s_pods *pods;
	int rc;
	char perr[256];
};

/* Installs a parsed pod list (or reports why it did not parse) and wakes the waiters. */
static void apply_pods(struct kubelet *k, int rc, struct k8s_pods *pods, const char *perr,
		       uint64_t seq, bool first, bool was_failing)
{
	struct kubelet_snapshot *s = NULL;
	struct kubelet_wait *list = NULL, *w, *next;
	char err[KUBELET_ERR_MAX];

	if (rc < 0) {
		errfmt(err, sizeof(err), "kubelet: GET %s: %s", k->url, perr);
		request_failed(k, rc == -ENOMEM ? -ENOMEM : -EPROTO, err);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		k8s_pods_free(pods);
		request_failed(k, -ENOMEM, "kubelet: out of memory");
		goto out;
	}
	s->refs = 1;
	s->pods = pods;
	s->seq = seq;
	s->fetched_ms = now_ms(k);
	kubelet_snapshot_release(k->snap);
	k->snap = s;
	k->st.refreshes++;
	k->st.last_rc = 0;
	k->failing = false;
	if (first || was_failing) {
		errfmt(err, sizeof(err), "kubelet: %s pod list from %s (%zu pods)",
		       first ? "first" : "recovered, got the", k->url, k8s_pods_count(pods));
		note(k, false, err);
	}
	k->refresh_wanted = false;
	for (w = k->waiters; w; w = next) {
		next = w->next;
		if (resolve(w, s))
			wait_detach(k, w, &list);
		else
			k->refresh_wanted = true;
	}
	deliver(k, list, s);
out:
	reschedule(k, true);
}

static void parse_run(void *arg)
{
	struct kubelet_parse_job *j = arg;

	j->rc = k8s_pods_parse(j->body, j->len, &j->pods, j->perr);
}

static void parse_done(void *arg)
{
	struct kubelet_parse_job *j = arg;
	struct kubelet *k = j->k;

	free(j->body);
	if (!k) {
		k8s_pods_free(j->pods);
		free(j);
		return;
	}
	k->parsing = NULL;
	apply_pods(k, j->rc, j->pods, j->perr, j->seq, j->first, j->was_failing);
	free(j);
}

static void on_fetched(void *arg, int rc, long status, const char *body, size_t len,
		       const char *ferr)
{
	struct kubelet *k = arg;
	char err[KUBELET_ERR_MAX], perr[256] = "", shown[KUBELET_BODY_SHOW + 8];
	struct k8s_pods *pods = NULL;
	bool was_failing = k->failing, first = k->snap == NULL;
	struct kubelet_parse_job *j;
	uint64_t seq = k->seq;

	k->fetch = NULL;
	if (rc < 0) {
		errfmt(err, sizeof(err), "kubelet: %s", ferr && ferr[0] ? ferr : strerror(-rc));
		request_failed(k, rc, err);
		reschedule(k, true);
		return;
	}
	if (status != 200) {
		show_body(body, len, shown, sizeof(shown));
		errfmt(err, sizeof(err), "kubelet: GET %s: HTTP %ld: %s%s", k->url, status, shown,
		       status == 401   ? " (credentials rejected: check token_path or cert/key)"
		       : status == 403 ? " (not allowed: needs get on nodes/proxy)"
				       : "");
		request_failed(k, status == 401 || status == 403 ? -EACCES : -EIO, err);
		reschedule(k, true);
		return;
	}
	if (k->io.work) {
		j = calloc(1, sizeof(*j));
		if (j)
			j->body = malloc(len + 1);
		if (j && j->body) {
			memcpy(j->body, body, len);
			j->body[len] = 0;
			j->len = len;
			j->k = k;
			j->seq = seq;
			j->first = first;
			j->was_failing = was_failing;
			if (k->io.work(k->io.ctx, parse_run, parse_done, j) == 0) {
				k->parsing = j;
				return;
			}
		}
		if (j)
			free(j->body);
		free(j);
		/* No worker: parse here rather than fail. */
	}
	rc = k8s_pods_parse(body, len, &pods, perr);
	apply_pods(k, rc, pods, perr, seq, first, was_failing);
}

static void start_refresh(struct kubelet *k)
{
	char err[KUBELET_ERR_MAX];
	struct kubelet_fetch f = {
		.url = k->url,
		.connect_host = k->connect_host[0] ? k->connect_host : NULL,
		.connect_port = k->connect_port,
		.ca_file = k->ca,
		.skip_verify = k->skip_verify,
		.cert = k->cert,
		.key = k->key,
		.timeout_ms = k->req_timeout,
		.max_body = k->max_body,
	};
	int rc;

	k->ever_started = true;
	k->last_start_ms = now_ms(k);
	k->refresh_wanted = false;
	k->seq++;
	k->st.requests++;
	rc = load_token(k, err);
	if (rc < 0) {
		request_failed(k, rc, err);
		return;
	}
	f.authorization = k->token_path ? k->auth : NULL;
	rc = k->io.fetch(k->io.ctx, &f, on_fetched, k, &k->fetch);
	if (rc < 0) {
		k->fetch = NULL;
		errfmt(err, sizeof(err), "kubelet: GET %s: cannot start the request: %s", k->url,
		       strerror(-rc));
		request_failed(k, rc, err);
		return;
	}
	k->fetch_start_ms = k->last_start_ms;
}

/* ---- public ---------------------------------------------------------------------------- */

/* A DNS name or IPv4 address usable as a URL host. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > KUBELET_MAX_HOST || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool set(const char *s)
{
	return s && s[0];
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!set(s))
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int check_opts(const struct kubelet_opts *o, char err[KUBELET_ERR_MAX])
{
	if (o->secure_port && o->read_only_port) {
		errfmt(err, KUBELET_ERR_MAX,
		       "kubelet: read_only_port and secure_port are mutually exclusive");
		return -EINVAL;
	}
	if (set(o->cert) != set(o->key)) {
		errfmt(err, KUBELET_ERR_MAX, "kubelet: %s is set but %s is missing",
		       set(o->cert) ? "cert" : "key", set(o->cert) ? "key" : "cert");
		return -EINVAL;
	}
	if (o->anonymous && (set(o->token_path) || set(o->cert))) {
		errfmt(err, KUBELET_ERR_MAX, "kubelet: anonymous excludes %s",
		       set(o->token_path) ? "token_path" : "cert/key");
		return -EINVAL;
	}
	if (set(o->token_path) && set(o->cert)) {
		errfmt(err, KUBELET_ERR_MAX,
		       "kubelet: token_path and cert/key are mutually exclusive");
		return -EINVAL;
	}
	if ((o->min_interval_ms && o->min_interval_ms < KUBELET_MIN_INTERVAL_FLOOR_MS) ||
	    (o->deadline_ms > KUBELET_MAX_DEADLINE_MS) ||
	    (o->request_timeout_ms > KUBELET_MAX_DEADLINE_MS) || o->max_body > K8S_PODS_MAX_BYTES) {
		errfmt(err, KUBELET_ERR_MAX,
		       "kubelet: min_interval below %d ms, a deadline or timeout above %u ms, or "
		       "max_body above %u bytes",
		       KUBELET_MIN_INTERVAL_FLOOR_MS, KUBELET_MAX_DEADLINE_MS, K8S_PODS_MAX_BYTES);
		return -EINVAL;
	}
	return 0;
}

/* Builds k->url (and the connect-to override) from the options. */
static int build_url(struct kubelet *k, const struct kubelet_opts *o, char err[KUBELET_ERR_MAX])
{
	const char *env = set(o->node_name_env) ? o->node_name_env : KUBELET_DEFAULT_NODE_NAME_ENV;
	const char *node = set(o->node_name) ? o->node_name : getenv(env);
	char hostbuf[KUBELET_MAX_HOST + 2] = "";
	uint16_t port;

	if (o->read_only_port) {
		errfmt(k->url, sizeof(k->url), "http://127.0.0.1:%u/pods",
		       (unsigned)o->read_only_port);
		return 0;
	}
	port = o->secure_port ? o->secure_port : KUBELET_DEFAULT_SECURE_PORT;
	if (set(node)) {
		if (!host_ok(node)) {
			errfmt(err, KUBELET_ERR_MAX,
			       "kubelet: node name \"%.64s\" (%s) is not a host name", node,
			       set(o->node_name) ? "node_name" : env);
			return -EINVAL;
		}
		errfmt(k->url, sizeof(k->url), "https://%s:%u/pods", node, (unsigned)port);
		return 0;
	}
	if (set(o->hostname)) {
		errfmt(hostbuf, sizeof(hostbuf), "%s", o->hostname);
	} else if (gethostname(hostbuf, sizeof(hostbuf) - 1) < 0) {
		errfmt(err, KUBELET_ERR_MAX, "kubelet: gethostname: %s; set node_name",
		       strerror(errno));
		return -EINVAL;
	}
	hostbuf[sizeof(hostbuf) - 1] = '\0';
	if (!host_ok(hostbuf)) {
		errfmt(err, KUBELET_ERR_MAX,
		       "kubelet: host name \"%.64s\" cannot name the kubelet; set node_name",
		       hostbuf);
		return -EINVAL;
	}
	errfmt(k->url, sizeof(k->url), "https://%s:%u/pods", hostbuf, (unsigned)port);
	errfmt(k->connect_host, sizeof(k->connect_host), "127.0.0.1");
	k->connect_port = port;
	return 0;
}

int kubelet_new(const struct kubelet_opts *o, const struct kubelet_io *io, struct kubelet **out,
		char err[KUBELET_ERR_MAX])
{
	struct kubelet *k;
	int rc;

	*out = NULL;
	err[0] = '\0';
	rc = check_opts(o, err);
	if (rc < 0)
		return rc;
	k = calloc(1, sizeof(*k));
	if (!k) {
		errfmt(err, KUBELET_ERR_MAX, "kubelet: out of memory");
		return -ENOMEM;
	}
	k->io = *io;
	k->secure = o->read_only_port == 0;
	k->min_interval = o->min_interval_ms ? o->min_interval_ms : KUBELET_DEFAULT_MIN_INTERVAL_MS;
	k->interval = o->interval_ms ? o->interval_ms : KUBELET_DEFAULT_INTERVAL_MS;
	if (k->interval < k->min_interval)
		k->interval = k->min_interval;
	k->deadline = o->deadline_ms ? o->deadline_ms : KUBELET_DEFAULT_DEADLINE_MS;
	k->req_timeout = o->request_timeout_ms ? o->request_timeout_ms : k->deadline;
	k->max_body = o->max_body ? o->max_body : K8S_PODS_MAX_BYTES;
	k->st.last_refresh_age_ms = UINT64_MAX;
	rc = build_url(k, o, err);
	if (rc < 0)
		goto fail;
	if (k->secure) {
		k->skip_verify = o->skip_verification;
		rc = dup_opt(k->skip_verify ? NULL : (set(o->ca) ? o->ca : KUBELET_DEFAULT_CA),
			     &k->ca);
		if (rc == 0)
			rc = dup_opt(o->cert, &k->cert);
		if (rc == 0)
			rc = dup_opt(o->key, &k->key);
		if (rc == 0 && !o->anonymous && !set(o->cert))
			rc = dup_opt(set(o->token_path) ? o->token_path : KUBELET_DEFAULT_TOKEN,
				     &k->token_path);
		if (rc < 0) {
			errfmt(err, KUBELET_ERR_MAX, "kubelet: out of memory");
			goto fail;
		}
	}
	reschedule(k, false); /* the first refresh, from the loop */
	*out = k;
	return 0;
fail:
	kubelet_free(k);
	return rc;
}

void kubelet_free(struct kubelet *k)
{
	struct kubelet_wait *list = NULL;

	if (!k)
		return;
	if (k->timer)
		k->io.timer_cancel(k->io.ctx, k->timer);
	k->timer = NULL;
	if (k->fetch)
		k->io.fetch_cancel(k->io.ctx, k->fetch);
	k->fetch = NULL;
	if (k->parsing)
		k->parsing->k = NULL; /* its result is dropped when it comes back */
	k->parsing = NULL;
	while (k->waiters) {
		struct kubelet_wait *w = k->waiters;

		w->rc = -ECANCELED;
		errfmt(w->err, sizeof(w->err), "kubelet: shutting down");
		wait_detach(k, w, &list);
	}
	deliver(k, list, NULL);
	kubelet_snapshot_release(k->snap);
	if (k->auth)
		explicit_bzero(k->auth, strlen(k->auth));
	free(k->auth);
	free(k->ca);
	free(k->cert);
	free(k->key);
	free(k->token_path);
	free(k);
}

const char *kubelet_url(const struct kubelet *k)
{
	return k->url;
}

static int copy_id(const char *s, char *out, bool *present)
{
	size_t n = s ? strnlen(s, KUBELET_MAX_ID + 1) : 0;

	if (n > KUBELET_MAX_ID)
		return -EINVAL;
	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
	*present = n > 0;
	return 0;
}

int kubelet_lookup(struct kubelet *k, const char *pod_uid, const char *container_id, unsigned flags,
		   uint64_t deadline_ms, kubelet_lookup_cb cb, void *arg,
		   struct kubelet_wait **wait)
{
	struct kubelet_wait *w;
	bool has_uid, has_cid;
	uint64_t now = now_ms(k);

	if (wait)
		*wait = NULL;
	if ((flags & ~KUBELET_CONTAINER_OPTIONAL) || !cb || deadline_ms > KUBELET_MAX_DEADLINE_MS)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (copy_id(pod_uid, w->pod_uid, &has_uid) < 0 ||
	    copy_id(container_id, w->container_id, &has_cid) < 0 || (!has_uid && !has_cid)) {
		free(w);
		return -EINVAL;
	}
	w->k = k;
	w->flags = flags;
	w->cb = cb;
	w->arg = arg;
	w->start_ms = now;
	w->timeout_ms = deadline_ms ? deadline_ms : k->deadline;
	w->deadline_ms = now + w->timeout_ms;
	w->need_seq = k->seq + 1;
	if (k->snap && resolve(w, k->snap)) { /* a hit, or an error waiting cannot fix */
		k->st.lookups++;
		k->st.hits += w->rc == 0;
		w->detached = true;
		deliver(k, w, k->snap);
		return 0;
	}
	if (k->nwaiting >= KUBELET_MAX_WAITERS) {
		free(w);
		return -EAGAIN;
	}
	k->st.lookups++;
	w->rc = 0;
	w->pod = NULL;
	w->has_ref = false;
	w->next = k->waiters;
	if (k->waiters)
		k->waiters->prev = w;
	k->waiters = w;
	k->nwaiting++;
	k->refresh_wanted = true;
	if (wait)
		*wait = w;
	reschedule(k, false);
	return 0;
}

void kubelet_cancel(struct kubelet *k, struct kubelet_wait *w)
{
	if (!w)
		return;
	if (w->detached) { /* being delivered right now: the delivery loop frees it */
		w->cancelled = true;
		return;
	}
	wait_unlink(k, w);
	free(w);
	reschedule(k, false);
}

void kubelet_stats(const struct kubelet *k, struct kubelet_stats *out)
{
	uint64_t now = now_ms(k);

	*out = k->st;
	out->pods = k->snap ? k8s_pods_count(k->snap->pods) : 0;
	out->waiting = k->nwaiting;
	out->in_flight = k->fetch != NULL;
	out->last_refresh_age_ms = k->snap ? now - k->snap->fetched_ms : UINT64_MAX;
}
