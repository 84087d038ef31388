/*
 * workload_api.c - the SPIFFE Workload API service. See workload_api.h.
 *
 * Lifetimes: a wconn lives while its gRPC connection is open or its attestation
 * is still running (refs). A wcall lives while its gRPC stream is open or
 * asynchronous work for it (SVID issuance, JWT signing on a worker) is
 * outstanding (refs); work that completes for a cancelled call is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/grpc.h"
#include "daemon/proto.h"
#include "daemon/workload_api.h"

enum wmethod {
	M_X509_SVID,
	M_X509_BUNDLES,
	M_JWT_SVID,
	M_JWT_BUNDLES,
	M_VALIDATE,
};

static const struct {
	const char *path;
	enum wmethod method;
} methods[] = {
	{"/SpiffeWorkloadAPI/FetchX509SVID", M_X509_SVID},
	{"/SpiffeWorkloadAPI/FetchX509Bundles", M_X509_BUNDLES},
	{"/SpiffeWorkloadAPI/FetchJWTSVID", M_JWT_SVID},
	{"/SpiffeWorkloadAPI/FetchJWTBundles", M_JWT_BUNDLES},
	{"/SpiffeWorkloadAPI/ValidateJWTSVID", M_VALIDATE},
};

struct wcall;

struct wconn {
	struct workload_api *api;
	struct grpc_conn *grpc; /* NULL once closed */
	unsigned refs;
	bool attested;
	int attest_rc;
	char attest_err[WORKLOAD_API_ERR_MAX];
	bool have_peer;
	struct peer_identity peer;
	struct attr_set *attrs;
	struct selectors sel;
	struct wcall *calls;
	bool had_call;
	uint64_t first_call_timer; /* 0 = none */
	struct wconn *prev, *next;
};

struct wcall {
	struct wconn *conn;
	struct grpc_call *grpc; /* NULL once finished or cancelled */
	unsigned refs;
	enum wmethod method;
	const char *path;
	uint8_t *req;
	size_t req_len;
	bool have_req;
	bool dispatched;
	bool audited;
	uint64_t start_us;
	/* FetchX509SVID stream */
	struct policy_match match;
	char *signature; /* what the current identities look like, to detect changes */
	struct svid_x509 **svids;
	size_t nsvids;
	size_t pending;
	unsigned generation;
	struct wcall *prev, *next;
};

struct workload_api {
	char trust_domain[SPIFFE_TRUST_DOMAIN_MAX + 1];
	char socket_path[108];
	uint64_t jwt_ttl_s;
	struct loop *loop;
	struct log *log;
	struct workers *workers;
	struct audit *audit;
	const struct svid_ca *ca;
	struct svid_cache *cache;
	const struct policy *policy;
	uint64_t rotation_token;
	bool subscribed;
	struct wconn *conns;
	unsigned nconns;
	unsigned nstreams;
	uint64_t jwks_sequence;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- lifetimes ---- */

static void wconn_unref(struct wconn *c)
{
	struct workload_api *api = c->api;

	if (--c->refs > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		api->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	api->nconns--;
	if (c->first_call_timer)
		loop_cancel_timer(api->loop, c->first_call_timer);
	attr_set_free(c->attrs);
	selectors_free(&c->sel);
	free(c);
}

static void wcall_clear_svids(struct wcall *k)
{
	for (size_t i = 0; i < k->nsvids; i++)
		if (k->svids[i])
			svid_x509_unref(k->svids[i]);
	free(k->svids);
	k->svids = NULL;
	k->nsvids = 0;
}

static void wcall_unref(struct wcall *k)
{
	struct wconn *c = k->conn;

	if (--k->refs > 0)
		return;
	if (k->prev)
		k->prev->next = k->next;
	else
		c->calls = k->next;
	if (k->next)
		k->next->prev = k->prev;
	wcall_clear_svids(k);
	policy_match_free(&k->match);
	free(k->signature);
	free(k->req);
	free(k);
	wconn_unref(c);
}

/* Ends the call (once). The grpc side's reference goes with it. */
static void wcall_finish(struct wcall *k, enum grpc_status status, const char *msg)
{
	if (!k->grpc)
		return;
	if (k->method == M_X509_SVID || k->method == M_X509_BUNDLES || k->method == M_JWT_BUNDLES)
		if (k->dispatched)
			k->conn->api->nstreams--;
	grpc_call_set_data(k->grpc, NULL);
	grpc_call_finish(k->grpc, status, msg);
	k->grpc = NULL;
	wcall_unref(k);
}

/* ---- audit ---- */

static void audit_rpc_match(struct wcall *k, int rc, const char *err, const char *const *ids,
			    size_t nids, const struct policy_match *m)
{
	struct wconn *c = k->conn;
	struct audit_entry e = {0};

	if (k->audited)
		return;
	k->audited = true;
	e.socket = c->api->socket_path;
	e.peer = c->have_peer ? &c->peer : NULL;
	e.attrs = c->attrs;
	e.selectors = &c->sel;
	e.result = rc;
	e.error = err;
	e.duration_us = now_us() - k->start_us;
	e.rpc = k->path;
	e.spiffe_ids = ids;
	e.nspiffe_ids = nids;
	if (m) {
		e.policy_errors = (const char *const *)m->errors;
		e.npolicy_errors = m->nerrors;
	}
	audit_append(c->api->audit, &e, NULL);
	if (rc)
		log_info(c->api->log, "workload API call refused", "rpc", k->path, "pid",
			 c->have_peer ? c->peer.pid : 0, "error", err);
}

static void audit_rpc(struct wcall *k, int rc, const char *err, const char *const *ids, size_t nids)
{
	audit_rpc_match(k, rc, err, ids, nids, NULL);
}

static void fail_call(struct wcall *k, enum grpc_status status, int rc, const char *msg)
{
	audit_rpc(k, rc, msg, NULL, 0);
	wcall_finish(k, status, msg);
}

/* Identities the caller is entitled to now. Fails the call itself when there
 * are none. */
static int match_identities(struct wcall *k, struct policy_match *m)
{
	struct wconn *c = k->conn;
	int rc;

	memset(m, 0, sizeof(*m));
	if (c->attest_rc || !c->have_peer) {
		char msg[WORKLOAD_API_ERR_MAX + 32];

		snprintf(msg, sizeof(msg), "caller could not be attested: %s",
			 c->attest_err[0] ? c->attest_err : "no identity captured");
		fail_call(k, GRPC_PERMISSION_DENIED, -EPERM, msg);
		return -EPERM;
	}
	rc = policy_match(c->api->policy, c->attrs, &c->sel, m);
	if (rc < 0) {
		fail_call(k, GRPC_INTERNAL, rc, "policy evaluation failed: out of memory");
		return rc;
	}
	for (size_t i = 0; i < m->nerrors; i++)
		log_warn(c->api->log, "template failed for workload", "pid", c->peer.pid, "error",
			 m->errors[i]);
	if (m->nids == 0) {
		char msg[WORKLOAD_API_ERR_MAX + 64];

		snprintf(msg, sizeof(msg), "no identity issued%s%s", m->nerrors ? ": " : "",
			 m->nerrors ? m->errors[0] : "");
		policy_match_free(m);
		fail_call(k, GRPC_PERMISSION_DENIED, -EPERM, msg);
		return -EPERM;
	}
	return 0;
}

static void send_or_fail(struct wcall *k, struct proto_buf *b, int enc_rc)
{
	if (enc_rc < 0) {
		fail_call(k, GRPC_INTERNAL, enc_rc, "cannot encode response");
		return;
	}
	if (grpc_call_send(k->grpc, b->data, b->len) < 0)
		wcall_finish(k, GRPC_UNAVAILABLE, "cannot queue response");
}

/* ---- FetchX509SVID ---- */

/* Everything about the identities that changes the response. */
static char *identities_signature(const struct policy_match *m)
{
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < m->nids; i++) {
		const struct policy_identity *id = &m->ids[i];
		char part[SPIFFE_ID_MAX + 128];
		int n = snprintf(part, sizeof(part), "%s|%llu|%s|%zu;", id->spiffe_id,
				 (unsigned long long)id->x509_ttl_s, id->hint ? id->hint : "",
				 id->ndns_names);

		for (size_t j = 0; n > 0 && j < id->ndns_names; j++)
			n += snprintf(part + n, sizeof(part) - (size_t)n, "%s,", id->dns_names[j]);
		if (n < 0)
			continue;
		if ((size_t)n >= sizeof(part))
			n = (int)sizeof(part) - 1;
		if (len + (size_t)n + 1 > cap) {
			char *g;

			while (len + (size_t)n + 1 > cap)
				cap *= 2;
			g = realloc(s, cap);
			if (!g) {
				free(s);
				return NULL;
			}
			s = g;
		}
		memcpy(s + len, part, (size_t)n + 1);
		len += (size_t)n;
	}
	return s;
}

static void x509_send(struct wcall *k)
{
	struct workload_api *api = k->conn->api;
	struct proto_x509svid *svids;
	struct proto_x509svid_response resp = {0};
	struct proto_buf b = {0};
	const uint8_t *bundle;
	size_t bundle_len, n = 0;
	const char **ids;
	int rc;

	svid_ca_bundle_der(api->ca, &bundle, &bundle_len);
	svids = calloc(k->nsvids ? k->nsvids : 1, sizeof(*svids));
	ids = calloc(k->nsvids ? k->nsvids : 1, sizeof(*ids));
	if (!svids || !ids) {
		free(svids);
		free(ids);
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < k->nsvids; i++) {
		struct svid_x509 *s = k->svids[i];

		if (!s)
			continue; /* issuance failed: logged; the others still go out */
		svids[n].spiffe_id =
			(struct proto_bytes){(const uint8_t *)s->spiffe_id, strlen(s->spiffe_id)};
		svids[n].x509_svid = (struct proto_bytes){s->chain_der, s->chain_len};
		svids[n].x509_svid_key = (struct proto_bytes){s->key_pkcs8, s->key_len};
		svids[n].bundle = (struct proto_bytes){bundle, bundle_len};
		if (s->hint)
			svids[n].hint =
				(struct proto_bytes){(const uint8_t *)s->hint, strlen(s->hint)};
		ids[n] = s->spiffe_id;
		n++;
	}
	if (n == 0) {
		free(svids);
		free(ids);
		fail_call(k, GRPC_UNAVAILABLE, -EIO, "no X.509-SVID could be issued (see the log)");
		return;
	}
	resp.svids = svids;
	resp.nsvids = n;
	rc = proto_encode_x509svid_response(&resp, &b);
	audit_rpc_match(k, 0, NULL, ids, n, &k->match);
	send_or_fail(k, &b, rc);
	proto_buf_free(&b);
	free(svids);
	free(ids);
}

struct x509_wait {
	struct wcall *call;
	unsigned generation;
	size_t index;
};

static void x509_got(void *arg, struct svid_x509 *svid, int rc, const char *err)
{
	struct x509_wait *w = arg;
	struct wcall *k = w->call;

	if (w->generation == k->generation && k->grpc) {
		if (rc == 0)
			k->svids[w->index] = svid_x509_ref(svid);
		else
			log_error(k->conn->api->log, "X.509-SVID issuance failed", "spiffe_id",
				  k->match.ids[w->index].spiffe_id, "error", err);
		if (--k->pending == 0)
			x509_send(k);
	}
	free(w);
	wcall_unref(k);
}

/* (Re)computes the caller's identities and sends the full state once every SVID
 * is ready. */
static void x509_refresh(struct wcall *k, bool only_if_changed)
{
	struct policy_match m;
	char *sig;

	if (match_identities(k, &m) < 0)
		return;
	sig = identities_signature(&m);
	if (only_if_changed && sig && k->signature && strcmp(sig, k->signature) == 0) {
		free(sig);
		policy_match_free(&m);
		return;
	}
	free(k->signature);
	k->signature = sig;
	policy_match_free(&k->match);
	k->match = m;
	wcall_clear_svids(k);
	k->generation++;
	k->svids = calloc(m.nids, sizeof(*k->svids));
	if (!k->svids) {
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
		return;
	}
	k->nsvids = m.nids;
	k->pending = m.nids;
	for (size_t i = 0; i < m.nids; i++) {
		struct x509_wait *w = calloc(1, sizeof(*w));
		int rc;

		if (!w) {
			fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
			return;
		}
		w->call = k;
		w->generation = k->generation;
		w->index = i;
		k->refs++;
		rc = svid_cache_get(k->conn->api->cache, &k->match.ids[i], x509_got, w);
		if (rc < 0) {
			free(w);
			k->refs--;
			fail_call(k, GRPC_INTERNAL, rc, "cannot issue an X.509-SVID");
			return;
		}
		if (!k->grpc)
			return; /* a synchronous answer already ended the call */
	}
}

static bool match_has_id(const struct policy_match *m, const char *spiffe_id)
{
	for (size_t i = 0; i < m->nids; i++)
		if (strcmp(m->ids[i].spiffe_id, spiffe_id) == 0)
			return true;
	return false;
}

/*
 * Refreshes the open X.509-SVID streams that `want` selects. Refreshing may end
 * calls, so each call and its connection are held while it runs.
 */
static void refresh_streams(struct workload_api *api, bool (*want)(struct wcall *, const void *),
			    const void *arg, bool only_if_changed)
{
	struct wconn *c = api->conns;

	while (c) {
		struct wconn *next_conn;
		struct wcall *k;

		c->refs++;
		for (k = c->calls; k; k = k->next)
			k->refs++;
		k = c->calls;
		while (k) {
			struct wcall *next = k->next;

			if (k->grpc && k->dispatched && k->method == M_X509_SVID && want(k, arg))
				x509_refresh(k, only_if_changed);
			wcall_unref(k);
			k = next;
		}
		next_conn = c->next;
		wconn_unref(c);
		c = next_conn;
	}
}

static bool holds_id(struct wcall *k, const void *spiffe_id)
{
	return match_has_id(&k->match, spiffe_id);
}

static bool every_stream(struct wcall *k, const void *unused)
{
	(void)k;
	(void)unused;
	return true;
}

static void on_rotated(void *arg, const char *spiffe_id)
{
	refresh_streams(arg, holds_id, spiffe_id, false);
}

/* ---- bundles ---- */

static void x509_bundles_send(struct wcall *k)
{
	struct workload_api *api = k->conn->api;
	struct proto_x509bundles_response resp = {0};
	struct proto_map_entry entry;
	struct proto_buf b = {0};
	const uint8_t *bundle;
	size_t len;
	int rc;

	svid_ca_bundle_der(api->ca, &bundle, &len);
	entry.key =
		(struct proto_bytes){(const uint8_t *)api->trust_domain, strlen(api->trust_domain)};
	entry.value = (struct proto_bytes){bundle, len};
	resp.bundles = &entry;
	resp.nbundles = 1;
	rc = proto_encode_x509bundles_response(&resp, &b);
	audit_rpc(k, 0, NULL, NULL, 0);
	send_or_fail(k, &b, rc);
	proto_buf_free(&b);
}

static void jwt_bundles_send(struct wcall *k)
{
	struct workload_api *api = k->conn->api;
	struct proto_jwtbundles_response resp = {0};
	struct proto_map_entry entry;
	struct proto_buf b = {0};
	json_t *jwks;
	char *text;
	int rc;

	jwks = svid_ca_jwks(api->ca, api->jwks_sequence, WORKLOAD_API_REFRESH_HINT_S);
	text = jwks ? json_dumps(jwks, JSON_COMPACT) : NULL;
	json_decref(jwks);
	if (!text) {
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "cannot build the JWT bundle");
		return;
	}
	entry.key =
		(struct proto_bytes){(const uint8_t *)api->trust_domain, strlen(api->trust_domain)};
	entry.value = (struct proto_bytes){(const uint8_t *)text, strlen(text)};
	resp.bundles = &entry;
	resp.nbundles = 1;
	rc = proto_encode_jwtbundles_response(&resp, &b);
	audit_rpc(k, 0, NULL, NULL, 0);
	send_or_fail(k, &b, rc);
	proto_buf_free(&b);
	free(text);
}

/* ---- JWT-SVIDs and validation, signed and verified on the worker pool ---- */

struct jwt_job {
	struct wcall *call;
	const struct svid_ca *ca;
	uint64_t ttl_s;
	/* FetchJWTSVID */
	struct policy_match match; /* the caller's identities, owned */
	size_t nsign;		   /* sign match.ids[0 .. nsign) */
	char **audiences;
	size_t naudiences;
	char **tokens; /* one per identity, NULL on failure */
	char (*errors)[SVID_ERR_MAX];
	/* ValidateJWTSVID */
	char *token;
	char *audience;
	char spiffe_id[SPIFFE_ID_MAX + 1];
	json_t *claims;
	int rc;
	char err[SVID_ERR_MAX];
};

static void jwt_job_free(struct jwt_job *j)
{
	for (size_t i = 0; i < j->naudiences; i++)
		free(j->audiences[i]);
	free(j->audiences);
	for (size_t i = 0; j->tokens && i < j->nsign; i++)
		free(j->tokens[i]);
	free(j->tokens);
	free(j->errors);
	policy_match_free(&j->match);
	free(j->token);
	free(j->audience);
	json_decref(j->claims);
	free(j);
}

static void jwt_sign_run(void *arg)
{
	struct jwt_job *j = arg;
	const char *const *aud = (const char *const *)j->audiences;

	for (size_t i = 0; i < j->nsign; i++)
		if (svid_issue_jwt(j->ca, &j->match.ids[i], aud, j->naudiences, j->ttl_s,
				   &j->tokens[i], j->errors[i]) < 0)
			j->tokens[i] = NULL;
}

static void jwt_sign_done(void *arg)
{
	struct jwt_job *j = arg;
	struct wcall *k = j->call;
	struct proto_jwtsvid_response resp = {0};
	struct proto_jwtsvid *svids = NULL;
	struct proto_buf b = {0};
	const char **ids = NULL;
	size_t n = 0;
	int rc;

	if (!k->grpc)
		goto out;
	svids = calloc(j->nsign, sizeof(*svids));
	ids = calloc(j->nsign, sizeof(*ids));
	if (!svids || !ids) {
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < j->nsign; i++) {
		const struct policy_identity *id = &j->match.ids[i];

		if (!j->tokens[i]) {
			log_error(k->conn->api->log, "JWT-SVID signing failed", "spiffe_id",
				  id->spiffe_id, "error", j->errors[i]);
			continue;
		}
		svids[n].spiffe_id =
			(struct proto_bytes){(const uint8_t *)id->spiffe_id, strlen(id->spiffe_id)};
		svids[n].svid =
			(struct proto_bytes){(const uint8_t *)j->tokens[i], strlen(j->tokens[i])};
		if (id->hint)
			svids[n].hint =
				(struct proto_bytes){(const uint8_t *)id->hint, strlen(id->hint)};
		ids[n++] = id->spiffe_id;
	}
	if (n == 0) {
		fail_call(k, GRPC_UNAVAILABLE, -EIO, "no JWT-SVID could be signed (see the log)");
		goto out;
	}
	resp.svids = svids;
	resp.nsvids = n;
	rc = proto_encode_jwtsvid_response(&resp, &b);
	audit_rpc_match(k, 0, NULL, ids, n, &j->match);
	send_or_fail(k, &b, rc);
	if (k->grpc)
		wcall_finish(k, GRPC_OK, NULL);
out:
	proto_buf_free(&b);
	free(svids);
	free(ids);
	jwt_job_free(j);
	wcall_unref(k);
}

static char *dup_bytes(struct proto_bytes b)
{
	char *s = malloc(b.len + 1);

	if (s) {
		memcpy(s, b.data, b.len);
		s[b.len] = 0;
	}
	return s;
}

static void submit_job(struct wcall *k, struct jwt_job *j, work_fn run, work_done_fn done)
{
	int rc;

	j->call = k;
	j->ca = k->conn->api->ca;
	k->refs++;
	rc = workers_submit(k->conn->api->workers, run, done, j);
	if (rc < 0) {
		k->refs--;
		jwt_job_free(j);
		fail_call(k, GRPC_UNAVAILABLE, rc, "worker pool unavailable");
	}
}

static void jwt_svid_start(struct wcall *k)
{
	struct proto_jwtsvid_request req;
	char err[PROTO_ERR_MAX] = "", msg[PROTO_ERR_MAX + 64];
	struct policy_match m;
	struct jwt_job *j;
	int rc;

	rc = proto_decode_jwtsvid_request(k->req, k->req_len, &req, err);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "malformed JWTSVIDRequest: %s", err);
		fail_call(k, GRPC_INVALID_ARGUMENT, rc, msg);
		return;
	}
	if (req.naudience == 0) {
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL, "audience must be specified");
		return;
	}
	if (match_identities(k, &m) < 0)
		return;
	if (req.spiffe_id.len > 0) {
		/* Only the requested identity, and only if the caller is entitled to it. */
		size_t keep = m.nids;

		for (size_t i = 0; i < m.nids; i++)
			if (strlen(m.ids[i].spiffe_id) == req.spiffe_id.len &&
			    memcmp(m.ids[i].spiffe_id, req.spiffe_id.data, req.spiffe_id.len) == 0)
				keep = i;
		if (keep == m.nids) {
			policy_match_free(&m);
			fail_call(k, GRPC_PERMISSION_DENIED, -EPERM,
				  "caller is not entitled to the requested SPIFFE ID");
			return;
		}
		if (keep != 0) {
			struct policy_identity tmp = m.ids[0];

			m.ids[0] = m.ids[keep];
			m.ids[keep] = tmp;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		policy_match_free(&m);
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
		return;
	}
	j->match = m;
	/* A requested ID was moved to ids[0]: sign only it. */
	j->nsign = req.spiffe_id.len > 0 ? 1 : m.nids;
	j->ttl_s = k->conn->api->jwt_ttl_s;
	j->audiences = calloc(req.naudience, sizeof(char *));
	j->tokens = calloc(j->nsign, sizeof(char *));
	j->errors = calloc(j->nsign, sizeof(*j->errors));
	if (!j->audiences || !j->tokens || !j->errors)
		goto oom;
	for (size_t i = 0; i < req.naudience; i++) {
		j->audiences[i] = dup_bytes(req.audience[i]);
		if (!j->audiences[i])
			goto oom;
		j->naudiences++;
	}
	submit_job(k, j, jwt_sign_run, jwt_sign_done);
	return;
oom:
	jwt_job_free(j);
	fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
}

static void validate_run(void *arg)
{
	struct jwt_job *j = arg;

	j->rc = svid_validate_jwt(j->ca, j->token, j->audience, j->spiffe_id, &j->claims, j->err);
}

static void validate_done(void *arg)
{
	struct jwt_job *j = arg;
	struct wcall *k = j->call;
	struct proto_buf b = {0};
	const char *id = j->spiffe_id;
	int rc;

	if (!k->grpc)
		goto out;
	if (j->rc < 0) {
		fail_call(k, GRPC_INVALID_ARGUMENT, j->rc, j->err);
		goto out;
	}
	rc = proto_encode_validate_response(j->spiffe_id, j->claims, &b);
	audit_rpc(k, 0, NULL, &id, 1);
	send_or_fail(k, &b, rc);
	if (k->grpc)
		wcall_finish(k, GRPC_OK, NULL);
out:
	proto_buf_free(&b);
	jwt_job_free(j);
	wcall_unref(k);
}

static void validate_start(struct wcall *k)
{
	struct proto_validate_request req;
	char err[PROTO_ERR_MAX] = "", msg[PROTO_ERR_MAX + 64];
	struct jwt_job *j;
	int rc;

	rc = proto_decode_validate_request(k->req, k->req_len, &req, err);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "malformed ValidateJWTSVIDRequest: %s", err);
		fail_call(k, GRPC_INVALID_ARGUMENT, rc, msg);
		return;
	}
	if (req.audience.len == 0) {
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL, "audience must be specified");
		return;
	}
	if (req.svid.len == 0) {
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL, "svid must be specified");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->token = dup_bytes(req.svid)) || !(j->audience = dup_bytes(req.audience))) {
		if (j)
			jwt_job_free(j);
		fail_call(k, GRPC_INTERNAL, -ENOMEM, "out of memory");
		return;
	}
	submit_job(k, j, validate_run, validate_done);
}

/* ---- dispatch ---- */

static void dispatch(struct wcall *k)
{
	char err[PROTO_ERR_MAX] = "", msg[PROTO_ERR_MAX + 64];
	struct policy_match m;

	if (k->dispatched || !k->have_req || !k->conn->attested || !k->grpc)
		return;
	k->dispatched = true;
	switch (k->method) {
	case M_X509_SVID:
	case M_X509_BUNDLES:
	case M_JWT_BUNDLES:
		if (proto_decode_empty(k->req, k->req_len, "request", err) < 0) {
			snprintf(msg, sizeof(msg), "malformed request: %s", err);
			k->dispatched = false;
			fail_call(k, GRPC_INVALID_ARGUMENT, -EPROTO, msg);
			return;
		}
		k->conn->api->nstreams++;
		if (k->method == M_X509_SVID) {
			x509_refresh(k, false);
			return;
		}
		/* Bundles go to workloads that have an identity, as SPIRE does. */
		if (match_identities(k, &m) < 0)
			return;
		policy_match_free(&m);
		if (k->method == M_X509_BUNDLES)
			x509_bundles_send(k);
		else
			jwt_bundles_send(k);
		return;
	case M_JWT_SVID:
		jwt_svid_start(k);
		return;
	case M_VALIDATE:
		validate_start(k);
		return;
	}
}

/* ---- gRPC callbacks ---- */

static void on_call(struct grpc_call *call, const char *path, void *conn_arg)
{
	struct wconn *c = conn_arg;
	const char *hdr = grpc_call_header(call, WORKLOAD_API_HEADER);
	struct wcall *k;
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(path, methods[i].path) == 0)
			break;
	k = calloc(1, sizeof(*k));
	if (!k) {
		grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	c->had_call = true;
	k->conn = c;
	k->grpc = call;
	k->refs = 1;
	k->start_us = now_us();
	k->path = i < sizeof(methods) / sizeof(methods[0]) ? methods[i].path : "unknown";
	c->refs++;
	k->next = c->calls;
	if (c->calls)
		c->calls->prev = k;
	c->calls = k;
	grpc_call_set_data(call, k);
	if (i == sizeof(methods) / sizeof(methods[0])) {
		char msg[256];

		snprintf(msg, sizeof(msg), "unknown method %.200s", path);
		wcall_finish(k, GRPC_UNIMPLEMENTED, msg);
		return;
	}
	k->method = methods[i].method;
	if (!hdr || strcmp(hdr, "true") != 0) {
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL,
			  "security header missing from request");
		return;
	}
}

static void on_message(struct grpc_call *call, const uint8_t *msg, size_t len)
{
	struct wcall *k = grpc_call_data(call);

	if (!k)
		return;
	if (k->have_req) {
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL, "more than one request message");
		return;
	}
	k->req = malloc(len ? len : 1);
	if (!k->req) {
		fail_call(k, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return;
	}
	memcpy(k->req, msg, len);
	k->req_len = len;
	k->have_req = true;
	dispatch(k);
}

static void on_half_close(struct grpc_call *call)
{
	struct wcall *k = grpc_call_data(call);

	if (k && !k->have_req)
		fail_call(k, GRPC_INVALID_ARGUMENT, -EINVAL, "missing request message");
}

static void on_cancel(struct grpc_call *call)
{
	struct wcall *k = grpc_call_data(call);

	if (!k)
		return;
	if (k->dispatched &&
	    (k->method == M_X509_SVID || k->method == M_X509_BUNDLES || k->method == M_JWT_BUNDLES))
		k->conn->api->nstreams--;
	grpc_call_set_data(call, NULL);
	k->grpc = NULL;
	wcall_unref(k);
}

static void on_close(void *conn_arg)
{
	struct wconn *c = conn_arg;

	c->grpc = NULL;
	wconn_unref(c);
}

static const struct grpc_server_ops server_ops = {
	.on_call = on_call,
	.on_message = on_message,
	.on_half_close = on_half_close,
	.on_cancel = on_cancel,
	.on_close = on_close,
};

/* ---- agent hooks ---- */

/* A connection that never starts a call would hold an fd forever: any local user could run
 * attestd out of them. */
static void first_call_timeout(struct loop *loop, void *arg)
{
	struct wconn *c = arg;

	c->first_call_timer = 0;
	if (!c->had_call && c->grpc) {
		log_info(c->api->log, "workload API: closing a connection that made no call",
			 "timeout_ms", (unsigned)WORKLOAD_API_FIRST_CALL_TIMEOUT_MS);
		grpc_conn_close(c->grpc);
	}
}

void *workload_api_conn_open(void *arg, int fd)
{
	struct workload_api *api = arg;
	struct wconn *c = calloc(1, sizeof(*c));
	int rc;

	if (!c) {
		close(fd);
		return NULL;
	}
	c->api = api;
	c->refs = 2; /* the gRPC connection + the attestation in progress */
	c->next = api->conns;
	if (api->conns)
		api->conns->prev = c;
	api->conns = c;
	api->nconns++;
	rc = grpc_conn_new(api->loop, fd, &server_ops, c, &c->grpc);
	if (rc < 0) {
		log_warn(api->log, "workload API: cannot start HTTP/2", "error", strerror(-rc));
		c->grpc = NULL;
		c->refs = 1; /* grpc_conn_new closed fd; only the attestation reference is left */
	} else if (loop_add_timer(api->loop, WORKLOAD_API_FIRST_CALL_TIMEOUT_MS, first_call_timeout,
				  c, &c->first_call_timer) < 0) {
		c->first_call_timer = 0;
	}
	return c;
}

void workload_api_conn_attested(void *conn, const struct peer_identity *peer,
				struct attr_set *attrs, struct selectors *sel, int rc,
				const char *err)
{
	struct wconn *c = conn;
	struct wcall *k;

	c->attested = true;
	c->attest_rc = rc;
	if (err)
		snprintf(c->attest_err, sizeof(c->attest_err), "%s", err);
	if (peer) {
		c->peer = *peer;
		c->have_peer = true;
	}
	c->attrs = attrs;
	if (sel) {
		c->sel = *sel;
		*sel = (struct selectors){0};
	}
	/* Calls that arrived before the attestation finished. */
	for (k = c->calls; k; k = k->next)
		k->refs++;
	k = c->calls;
	while (k) {
		struct wcall *next = k->next;

		dispatch(k);
		wcall_unref(k);
		k = next;
	}
	wconn_unref(c);
}

/* ---- public ---- */

int workload_api_new(const struct workload_api_opts *opts, struct loop *loop, struct log *lg,
		     struct workers *workers, struct audit *audit, const struct svid_ca *ca,
		     struct svid_cache *cache, const struct policy *policy,
		     struct workload_api **out, char err[WORKLOAD_API_ERR_MAX])
{
	struct workload_api *api = calloc(1, sizeof(*api));
	int rc;

	*out = NULL;
	if (!api)
		return -ENOMEM;
	snprintf(api->trust_domain, sizeof(api->trust_domain), "%s", opts->trust_domain);
	snprintf(api->socket_path, sizeof(api->socket_path), "%s", opts->socket_path);
	api->jwt_ttl_s = opts->jwt_ttl_s;
	api->loop = loop;
	api->log = lg;
	api->workers = workers;
	api->audit = audit;
	api->ca = ca;
	api->cache = cache;
	api->policy = policy;
	api->jwks_sequence = 1;
	rc = svid_cache_subscribe(cache, on_rotated, api, &api->rotation_token);
	if (rc < 0) {
		snprintf(err, WORKLOAD_API_ERR_MAX, "cannot watch SVID rotation: %s",
			 strerror(-rc));
		free(api);
		return rc;
	}
	api->subscribed = true;
	*out = api;
	return 0;
}

void workload_api_shutdown(struct workload_api *api)
{
	struct wconn *c;

	if (!api)
		return;
	/* Closing a connection cancels its calls and may free it, never another one. */
	c = api->conns;
	while (c) {
		struct wconn *next = c->next;

		if (c->grpc)
			grpc_conn_close(c->grpc);
		c = next;
	}
	if (api->subscribed)
		svid_cache_unsubscribe(api->cache, api->rotation_token);
	api->subscribed = false;
}

void workload_api_free(struct workload_api *api)
{
	if (!api)
		return;
	workload_api_shutdown(api);
	/* Connections still referenced here would point at freed memory: the caller frees the
	 * SVID cache (which completes pending gets) before this. */
	if (api->conns)
		log_error(api->log, "workload API freed with connections still referenced", "count",
			  api->nconns);
	free(api);
}

void workload_api_set_policy(struct workload_api *api, const struct policy *policy)
{
	api->policy = policy;
	refresh_streams(api, every_stream, NULL, true);
}

unsigned workload_api_connection_count(const struct workload_api *api)
{
	return api->nconns;
}

unsigned workload_api_stream_count(const struct workload_api *api)
{
	return api->nstreams;
}
