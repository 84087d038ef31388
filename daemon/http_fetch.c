/*
 * http_fetch.c - libcurl multi-socket on daemon/loop.h. curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> loop_add_fd/loop_mod_fd/loop_del_fd) and when to call it back
 * (CURLMOPT_TIMERFUNCTION -> one loop timer); events are fed to curl_multi_socket_action() and
 * finished transfers are collected with curl_multi_info_read(). User callbacks run after the
 * easy handle is gone, never from inside a curl callback, so they may start or cancel requests.
 */
#include "daemon/http_fetch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define HTTP_FETCH_CONNECT_TO_MAX (KUBELET_MAX_HOST + 32)
#define HTTP_FETCH_CA_CACHE_S	  60 /* seconds libcurl may keep a parsed CA file */

struct http_fetch_req {
	struct http_fetch *hf;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	char *url;
	char *body;
	size_t len, cap, max_body;
	bool too_large;
	http_fetch_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct http_fetch_req *prev, *next;
};

struct http_fetch {
	struct loop *loop;
	CURLM *multi;
	uint64_t timer_id; /* 0 = none armed */
	struct http_fetch_req *reqs;
	size_t pending;
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

/* ---- request bookkeeping -------------------------------------------------------------- */

static void req_unlink(struct http_fetch_req *r)
{
	struct http_fetch *hf = r->hf;

	if (r->prev)
		r->prev->next = r->next;
	else
		hf->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	hf->pending--;
}

/* Removes the easy handle from the multi handle and frees everything but the body. */
static void req_destroy(struct http_fetch_req *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->hf->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->connect_to);
	free(r->url);
	free(r);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_fetch_req *r = userp;
	size_t n = size * nmemb;

	if (n > r->max_body - r->len) {
		r->too_large = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		size_t ncap = r->cap ? r->cap : 16384;
		char *p;

		while (ncap < r->len + n + 1)
			ncap *= 2;
		p = realloc(r->body, ncap);
		if (!p)
			return 0;
		r->body = p;
		r->cap = ncap;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static int curl_rc_to_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* The transfer r finished with curl code c: unlink, build the result, free, call back. */
static void req_complete(struct http_fetch_req *r, CURLcode c)
{
	struct http_result res = {0};
	http_fetch_cb cb = r->cb;
	void *arg = r->arg;
	const char *why;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &res.status);
	res.rc = curl_rc_to_errno(c);
	if (r->too_large) {
		res.rc = -EFBIG;
		errfmt(res.err, sizeof(res.err), "GET %.160s: body larger than %zu bytes", r->url,
		       r->max_body);
	} else if (c == CURLE_FILESIZE_EXCEEDED) {
		errfmt(res.err, sizeof(res.err),
		       "GET %.160s: body larger than %zu bytes (Content-Length)", r->url,
		       r->max_body);
	} else if (res.rc < 0) {
		why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(c);
		errfmt(res.err, sizeof(res.err), "GET %.160s: %s", r->url, why);
	}
	if (res.rc == 0) {
		if (!r->body) {
			r->body = malloc(1);
			if (r->body)
				r->body[0] = '\0';
		}
		if (!r->body) {
			res.rc = -ENOMEM;
			errfmt(res.err, sizeof(res.err), "GET %.160s: out of memory", r->url);
		}
	}
	if (res.rc == 0) {
		res.body = r->body;
		res.len = r->len;
	} else {
		free(r->body);
	}
	r->body = NULL;
	req_unlink(r);
	req_destroy(r);
	cb(arg, &res);
	free(res.body);
}

/* Collects finished transfers. */
static void check_done(struct http_fetch *hf)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(hf->multi, &left))) {
		struct http_fetch_req *r = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			req_complete(r, msg->data.result);
	}
}

/* ---- curl <-> loop --------------------------------------------------------------------- */

static void on_fd(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct http_fetch *hf = arg;
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(hf->multi, fd, flags, &running);
	check_done(hf);
}

static void on_timer(struct loop *loop, void *arg)
{
	struct http_fetch *hf = arg;
	int running;

	hf->timer_id = 0;
	curl_multi_socket_action(hf->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(hf);
}

/* CURLMOPT_SOCKETFUNCTION. socketp is non-NULL (hf) once the fd is watched. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_fetch *hf = userp;
	uint32_t ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (socketp) {
			loop_del_fd(hf->loop, s);
			curl_multi_assign(hf->multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= EPOLLOUT;
	if (socketp)
		return loop_mod_fd(hf->loop, s, ev) < 0 ? -1 : 0;
	if (loop_add_fd(hf->loop, s, ev, on_fd, hf) < 0)
		return -1;
	curl_multi_assign(hf->multi, s, hf);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 = delete the timer, otherwise (re)arm it. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_fetch *hf = userp;

	if (hf->timer_id) {
		loop_cancel_timer(hf->loop, hf->timer_id);
		hf->timer_id = 0;
	}
	if (timeout_ms < 0)
		return 0;
	/* never call curl_multi_socket_action from here: a 0 ms timer runs it next iteration */
	return loop_add_timer(hf->loop, (uint64_t)timeout_ms, on_timer, hf, &hf->timer_id) < 0 ? -1
											       : 0;
}

/* ---- public ---------------------------------------------------------------------------- */

int http_fetch_new(struct loop *loop, struct http_fetch **out)
{
	struct http_fetch *hf = NULL;
	int rc = -ENOMEM;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	hf = calloc(1, sizeof(*hf));
	if (!hf)
		goto fail;
	hf->loop = loop;
	hf->multi = curl_multi_init();
	if (!hf->multi) {
		rc = -EIO;
		goto fail;
	}
	if (curl_multi_setopt(hf->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
	    curl_multi_setopt(hf->multi, CURLMOPT_SOCKETDATA, hf) != CURLM_OK ||
	    curl_multi_setopt(hf->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
	    curl_multi_setopt(hf->multi, CURLMOPT_TIMERDATA, hf) != CURLM_OK) {
		rc = -EIO;
		goto fail;
	}
	*out = hf;
	return 0;
fail:
	if (hf && hf->multi)
		curl_multi_cleanup(hf->multi);
	free(hf);
	curl_global_cleanup();
	return rc;
}

void http_fetch_free(struct http_fetch *hf)
{
	if (!hf)
		return;
	while (hf->reqs)
		http_fetch_cancel(hf, hf->reqs);
	curl_multi_cleanup(hf->multi); /* may report sockets to remove: the loop must still exist */
	if (hf->timer_id)
		loop_cancel_timer(hf->loop, hf->timer_id);
	free(hf);
	curl_global_cleanup();
}

void http_fetch_cancel(struct http_fetch *hf, struct http_fetch_req *r)
{
	if (!r)
		return;
	req_unlink(r);
	free(r->body);
	req_destroy(r);
}

size_t http_fetch_pending(const struct http_fetch *hf)
{
	return hf->pending;
}

struct loop *http_fetch_loop(const struct http_fetch *hf)
{
	return hf->loop;
}

static bool header_ok(const char *h)
{
	size_t n = strnlen(h, HTTP_FETCH_MAX_HEADER + 1);

	if (n == 0 || n > HTTP_FETCH_MAX_HEADER || !strchr(h, ':') || h[0] == ':')
		return false;
	return strpbrk(h, "\r\n") == NULL;
}

static int check_opts(const struct http_fetch_opts *o)
{
	size_t n;

	if (!o->url)
		return -EINVAL;
	n = strnlen(o->url, HTTP_FETCH_MAX_URL + 1);
	if (n > HTTP_FETCH_MAX_URL || strpbrk(o->url, " \r\n"))
		return -EINVAL;
	if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
		return -EINVAL;
	if (!o->client_cert != !o->client_key)
		return -EINVAL;
	if (o->max_body > HTTP_FETCH_MAX_BODY || o->n_headers > HTTP_FETCH_MAX_HEADERS)
		return -EINVAL;
	for (size_t i = 0; i < o->n_headers; i++)
		if (!o->headers[i] || !header_ok(o->headers[i]))
			return -EINVAL;
	if (o->connect_host && (!o->connect_host[0] || strlen(o->connect_host) > KUBELET_MAX_HOST ||
				strpbrk(o->connect_host, ":/ \r\n")))
		return -EINVAL;
	return 0;
}

/* Sets every option of r->easy from o. -ENOMEM or -EIO. */
static int setup_easy(struct http_fetch_req *r, const struct http_fetch_opts *o)
{
	CURL *e = r->easy;
	CURLcode c = CURLE_OK;
	char connect_to[HTTP_FETCH_CONNECT_TO_MAX];

	for (size_t i = 0; i < o->n_headers; i++) {
		struct curl_slist *l = curl_slist_append(r->headers, o->headers[i]);

		if (!l)
			return -ENOMEM;
		r->headers = l;
	}
	if (o->connect_host) {
		/* "::host:port": any URL host and port goes to host:port (port empty = same) */
		if (o->connect_port)
			snprintf(connect_to, sizeof(connect_to), "::%s:%u", o->connect_host,
				 (unsigned)o->connect_port);
		else
			snprintf(connect_to, sizeof(connect_to), "::%s:", o->connect_host);
		r->connect_to = curl_slist_append(NULL, connect_to);
		if (!r->connect_to)
			return -ENOMEM;
	}
#define SET(opt, val)                                      \
	do {                                               \
		if (c == CURLE_OK)                         \
			c = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, r->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PRIVATE, (char *)r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_TIMEOUT_MS, (long)(o->timeout_ms ? o->timeout_ms : HTTP_FETCH_DEFAULT_TIMEOUT));
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
	SET(CURLOPT_ACCEPT_ENCODING, ""); /* any encoding curl can decode */
	if (r->headers)
		SET(CURLOPT_HTTPHEADER, r->headers);
	if (r->connect_to)
		SET(CURLOPT_CONNECT_TO, r->connect_to);
	if (o->ca_file)
		SET(CURLOPT_CAINFO, o->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87: re-read a rotated CA file within a minute */
	SET(CURLOPT_CA_CACHE_TIMEOUT, (long)HTTP_FETCH_CA_CACHE_S);
#endif
	if (o->skip_verify) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		SET(CURLOPT_SSL_VERIFYPEER, 1L);
		SET(CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (o->client_cert) {
		SET(CURLOPT_SSLCERT, o->client_cert);
		SET(CURLOPT_SSLKEY, o->client_key);
	}
#undef SET
	if (c == CURLE_OUT_OF_MEMORY)
		return -ENOMEM;
	return c == CURLE_OK ? 0 : -EIO;
}

int http_fetch_get(struct http_fetch *hf, const struct http_fetch_opts *opts, http_fetch_cb cb,
		   void *arg, struct http_fetch_req **out)
{
	struct http_fetch_req *r;
	int rc;

	if (out)
		*out = NULL;
	rc = check_opts(opts);
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->hf = hf;
	r->cb = cb;
	r->arg = arg;
	r->max_body = opts->max_body ? opts->max_body : HTTP_FETCH_DEFAULT_MAX;
	r->url = strdup(opts->url);
	r->easy = curl_easy_init();
	if (!r->url || !r->easy) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = setup_easy(r, opts);
	if (rc < 0)
		goto fail;
	if (curl_multi_add_handle(hf->multi, r->easy) != CURLM_OK) {
		rc = -EIO;
		goto fail;
	}
	r->next = hf->reqs;
	if (hf->reqs)
		hf->reqs->prev = r;
	hf->reqs = r;
	hf->pending++;
	if (out)
		*out = r;
	return 0;
fail:
	if (r->easy)
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
	req_destroy(r);
	return rc;
}

/* ---- attest/kubelet.h I/O adapter -------------------------------------------------------- */

struct io_fetch {
	struct http_fetch *hf;
	struct http_fetch_req *req;
	kubelet_fetch_done done;
	void *arg;
};

struct io_timer {
	struct loop *loop;
	uint64_t id;
	kubelet_timer_fn fn;
	void *arg;
};

static void io_fetch_done(void *arg, struct http_result *res)
{
	struct io_fetch *f = arg;
	kubelet_fetch_done done = f->done;
	void *darg = f->arg;

	free(f);
	done(darg, res->rc, res->status, res->body, res->len, res->err);
}

static int io_fetch(void *ctx, const struct kubelet_fetch *req, kubelet_fetch_done done, void *arg,
		    void **handle)
{
	struct http_fetch_io *io = ctx;
	const char *hdrs[2];
	size_t nh = 0;
	struct http_fetch_opts o = {
		.url = req->url,
		.ca_file = req->ca_file,
		.skip_verify = req->skip_verify,
		.client_cert = req->cert,
		.client_key = req->key,
		.headers = hdrs,
		.connect_host = req->connect_host,
		.connect_port = req->connect_port,
		.timeout_ms = req->timeout_ms,
		.max_body = req->max_body,
	};
	struct io_fetch *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	hdrs[nh++] = "Accept: application/json";
	if (req->authorization)
		hdrs[nh++] = req->authorization;
	o.n_headers = nh;
	f->hf = io->hf;
	f->done = done;
	f->arg = arg;
	rc = http_fetch_get(io->hf, &o, io_fetch_done, f, &f->req);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*handle = f;
	return 0;
}

static void io_fetch_cancel(void *ctx, void *handle)
{
	struct io_fetch *f = handle;

	http_fetch_cancel(f->hf, f->req);
	free(f);
}

static void io_timer_fired(struct loop *loop, void *arg)
{
	struct io_timer *t = arg;
	kubelet_timer_fn fn = t->fn;
	void *farg = t->arg;

	free(t);
	fn(farg);
}

static int io_timer_add(void *ctx, uint64_t delay_ms, kubelet_timer_fn fn, void *arg, void **handle)
{
	struct http_fetch_io *io = ctx;
	struct io_timer *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->loop = io->hf->loop;
	t->fn = fn;
	t->arg = arg;
	rc = loop_add_timer(t->loop, delay_ms, io_timer_fired, t, &t->id);
	if (rc < 0) {
		free(t);
		return rc;
	}
	*handle = t;
	return 0;
}

static void io_timer_cancel(void *ctx, void *handle)
{
	struct io_timer *t = handle;

	loop_cancel_timer(t->loop, t->id);
	free(t);
}

static uint64_t io_now(void *ctx)
{
	struct http_fetch_io *io = ctx;

	return loop_now_ms(io->hf->loop);
}

static void io_log(void *ctx, bool warn, const char *msg)
{
	struct http_fetch_io *io = ctx;

	if (!io->lg)
		return;
	if (warn)
		log_warn(io->lg, msg);
	else
		log_info(io->lg, msg);
}

void http_fetch_kubelet_io(struct http_fetch_io *ctx, struct http_fetch *hf, const struct log *lg,
			   struct kubelet_io *io)
{
	ctx->hf = hf;
	ctx->lg = lg;
	*io = (struct kubelet_io){
		.ctx = ctx,
		.fetch = io_fetch,
		.fetch_cancel = io_fetch_cancel,
		.timer_add = io_timer_add,
		.timer_cancel = io_timer_cancel,
		.now_ms = io_now,
		.log = io_log,
	};
}
