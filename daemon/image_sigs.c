/*
 * image_sigs.c - see image_sigs.h.
 *
 * A configuration is a refcounted `struct gen` (trust root, identity policy, options): jobs hold
 * the generation they started with, so a reload can replace it while old jobs still run on the
 * workers. Refcounts change on the loop thread only (submit and completion). A job's worker
 * reads its gen and writes only the job's result fields; the cancel flag is the only thing
 * both threads touch while it runs (atomic).
 */
#include "daemon/image_sigs.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IMAGE_SIGS_N_BUCKETS  11
#define IMAGE_SIGS_DIGEST_LEN SIGSTORE_OCI_DIGEST_LEN

/* Histogram bucket upper bounds in ms ("le" in seconds in the status). */
static const uint64_t bucket_ms[IMAGE_SIGS_N_BUCKETS] = {10,   50,   100,   250,   500,	 1000,
							 2500, 5000, 10000, 30000, 60000};
static const char *const bucket_le[IMAGE_SIGS_N_BUCKETS] = {
	"0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60"};

struct gen {
	unsigned refs;
	bool enabled;
	struct sigstore_trust_root *trust_root;
	struct sigstore_identity_policy *policy;
	char rekor_url[CONFIG_SIGSTORE_URL_MAX];
	bool skip_provenance, skip_transparency_log, enforce_sct, resolve_tags;
	char (*skip_images)[IMAGE_SIGS_DIGEST_LEN];
	size_t n_skip_images;
	uint64_t timeout_ms;
	char docker_config[CONFIG_PATH_MAX];
	char ca_file[CONFIG_PATH_MAX];
	char cp_config[CONFIG_PATH_MAX];
	char cp_bin_dir[CONFIG_PATH_MAX];
	char trusted_root_source[CONFIG_PATH_MAX];
};

struct image_sigs_req {
	struct job *job;
	k8s_image_verify_done cb;
	void *arg;
	struct image_sigs_req *next;
};

struct job {
	struct image_sigs *svc;
	struct gen *gen;
	char ref[K8S_IMAGE_REF_MAX]; /* as asked: the coalescing key, with config_tag_ref */
	char config_tag_ref[K8S_IMAGE_REF_MAX]; /* "" = no config-digest fallback */
	bool insecure_http;
	image_sigs_verify_fn verify;
	image_sigs_resolve_fn resolve;
	uint64_t start_ms;
	uint64_t deadline_ms; /* absolute CLOCK_MONOTONIC ms, for the OCI client */
	atomic_bool cancel;
	/* written by the worker */
	struct sigstore_image_verification v;
	char digest[IMAGE_SIGS_DIGEST_LEN];
	char config_digest
		[IMAGE_SIGS_DIGEST_LEN]; /* X, when digest is the manifest M found for it */
	bool skipped;
	/* loop thread */
	struct image_sigs_req *waiters;
	struct job *next;
};

struct cache_entry {
	char digest[IMAGE_SIGS_DIGEST_LEN];
	uint64_t expires_ms;
	struct sigstore_image_verification v; /* owned copy */
};

struct histogram {
	uint64_t count;
	uint64_t sum_ms;
	uint64_t buckets[IMAGE_SIGS_N_BUCKETS]; /* not cumulative here */
};

struct image_sigs {
	struct image_sigs_opts opts;
	struct workers *workers;
	struct log *log;
	struct gen *gen;
	struct job *jobs;
	size_t n_jobs, n_waiters;
	struct cache_entry *cache;
	size_t n_cache;
	uint64_t results[SIGSTORE_IMAGE_RESULT_COUNT];
	struct histogram durations[SIGSTORE_IMAGE_RESULT_COUNT];
	uint64_t signatures;
	uint64_t cache_hits, cache_misses;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(const struct image_sigs *s)
{
	return s->opts.now_ms ? s->opts.now_ms(s->opts.now_arg) : mono_ms();
}

static void gen_put(struct gen *g)
{
	if (!g || --g->refs > 0)
		return;
	sigstore_trust_root_free(g->trust_root);
	sigstore_identity_policy_free(g->policy);
	free(g->skip_images);
	free(g);
}

static bool gen_skips(const struct gen *g, const char *digest)
{
	for (size_t i = 0; digest[0] && i < g->n_skip_images; i++)
		if (strcmp(g->skip_images[i], digest) == 0)
			return true;
	return false;
}

/* ---- verification results ----------------------------------------------------------------- */

static int verification_copy(struct sigstore_image_verification *dst,
			     const struct sigstore_image_verification *src)
{
	*dst = *src;
	dst->subject = src->subject ? strdup(src->subject) : NULL;
	dst->issuer = src->issuer ? strdup(src->issuer) : NULL;
	dst->signature_b64 = src->signature_b64 ? strdup(src->signature_b64) : NULL;
	dst->set_b64 = src->set_b64 ? strdup(src->set_b64) : NULL;
	dst->provenance_type = src->provenance_type ? strdup(src->provenance_type) : NULL;
	if ((src->subject && !dst->subject) || (src->issuer && !dst->issuer) ||
	    (src->signature_b64 && !dst->signature_b64) || (src->set_b64 && !dst->set_b64) ||
	    (src->provenance_type && !dst->provenance_type)) {
		sigstore_image_verification_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* The attestor's view of a result; v may be NULL (skipped, or failed before verifying). */
static void verdict_fill(struct k8s_image_verdict *out, enum sigstore_image_result result,
			 const struct sigstore_image_verification *v, bool skipped,
			 const char *reason)
{
	memset(out, 0, sizeof(*out));
	out->skipped = skipped;
	out->result = skipped ? "skipped" : sigstore_image_result_name(result);
	out->reason = reason;
	out->verified = !skipped && result == SIGSTORE_IMAGE_VERIFIED && v;
	if (!out->verified)
		return;
	out->sig.subject = v->subject;
	out->sig.issuer = v->issuer;
	out->sig.signature_b64 = v->signature_b64;
	out->sig.log_id_hex = v->log_id_hex;
	out->sig.log_index = v->log_index;
	out->sig.integrated_time = v->integrated_time;
	out->sig.set_b64 = v->set_b64;
	out->sig.provenance_type = v->provenance_verified ? v->provenance_type : NULL;
	out->n_verified = v->n_verified;
}

/* ---- cache -------------------------------------------------------------------------------- */

static void cache_drop(struct image_sigs *s)
{
	for (size_t i = 0; i < s->n_cache; i++)
		sigstore_image_verification_clear(&s->cache[i].v);
	s->n_cache = 0;
}

static void cache_remove(struct image_sigs *s, size_t i)
{
	sigstore_image_verification_clear(&s->cache[i].v);
	s->cache[i] = s->cache[--s->n_cache];
}

static const struct cache_entry *cache_get(struct image_sigs *s, const char *digest)
{
	uint64_t now = now_ms(s);

	for (size_t i = 0; i < s->n_cache; i++) {
		if (strcmp(s->cache[i].digest, digest) != 0)
			continue;
		if (now >= s->cache[i].expires_ms) {
			cache_remove(s, i);
			return NULL;
		}
		return &s->cache[i];
	}
	return NULL;
}

/* Stores a verified result; a full cache drops expired entries, else the oldest. */
static void cache_put(struct image_sigs *s, const char *digest,
		      const struct sigstore_image_verification *v)
{
	uint64_t now = now_ms(s);
	struct cache_entry *e = NULL;
	size_t oldest = 0;

	for (size_t i = 0; i < s->n_cache; i++) {
		if (strcmp(s->cache[i].digest, digest) == 0) {
			cache_remove(s, i);
			break;
		}
	}
	for (size_t i = 0; i < s->n_cache;) {
		if (now >= s->cache[i].expires_ms)
			cache_remove(s, i);
		else
			i++;
	}
	if (s->n_cache == IMAGE_SIGS_MAX_CACHE) {
		for (size_t i = 1; i < s->n_cache; i++)
			if (s->cache[i].expires_ms < s->cache[oldest].expires_ms)
				oldest = i;
		cache_remove(s, oldest);
	}
	e = &s->cache[s->n_cache];
	if (verification_copy(&e->v, v) < 0)
		return; /* out of memory: simply not cached */
	snprintf(e->digest, sizeof(e->digest), "%s", digest);
	e->expires_ms = now + IMAGE_SIGS_CACHE_TTL_MS;
	s->n_cache++;
}

/* ---- jobs --------------------------------------------------------------------------------- */

static enum sigstore_image_result result_from_errno(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		return SIGSTORE_IMAGE_TIMEOUT;
	case -ECANCELED:
		return SIGSTORE_IMAGE_CANCELLED;
	case -EIO:
	case -EACCES:
	case -EPERM:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EHOSTDOWN:
		return SIGSTORE_IMAGE_NETWORK_ERROR;
	default:
		return SIGSTORE_IMAGE_ERROR;
	}
}

/*
 * Worker thread. ref's digest X has no signatures, but X may be an image's config digest:
 * containerd reports a bare config digest as imageID for an image imported without a repo
 * digest, and signatures are made over the manifest digest. Resolve j->config_tag_ref through
 * the registry and verify the manifest M it names instead, if and only if M's config descriptor
 * is X. The tag proves nothing by itself: the config digest equality is the proof. A manifest
 * names its config by digest (content-addressed), so "the image whose config is X was signed as
 * manifest M" stays true whatever the tag names later, and job_done caches a verified result
 * under X as well as M.
 */
static void config_fallback(struct job *j, struct sigstore_oci_client *client,
			    const struct sigstore_oci_ref *ref,
			    const struct sigstore_image_opts *io)
{
	struct sigstore_oci_ref tag, mref;
	char m[IMAGE_SIGS_DIGEST_LEN] = "", err[256] = "";
	int rc;

	rc = sigstore_oci_ref_parse(j->config_tag_ref, &tag, err);
	if (rc == 0 &&
	    (tag.digest[0] || strcmp(tag.host, ref->host) || strcmp(tag.repo, ref->repo))) {
		snprintf(err, sizeof(err), "not a tag of repository %.100s", ref->repo);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = j->resolve(client, &tag, ref->digest, m, err);
	if (rc == 0 && strcmp(m, ref->digest) == 0) {
		/* the tag names manifest X itself: it is a manifest digest, and not signed */
		snprintf(err, sizeof(err), "the tag names this very manifest");
		rc = -ENOENT;
	}
	if (rc == -ENOENT || rc == -EINVAL) {
		snprintf(j->v.reason, sizeof(j->v.reason),
			 "image %.110s: no signatures, and tag %.60s gives no other manifest of "
			 "this image: %s",
			 j->ref, j->config_tag_ref, err);
		return;
	}
	if (rc < 0) {
		j->v.result = result_from_errno(rc);
		snprintf(j->v.reason, sizeof(j->v.reason),
			 "image %.110s: no signatures; resolving tag %.60s failed: %s", j->ref,
			 j->config_tag_ref, err);
		return;
	}
	snprintf(j->config_digest, sizeof(j->config_digest), "%s", ref->digest);
	snprintf(j->digest, sizeof(j->digest), "%s", m);
	if (gen_skips(j->gen, m)) {
		j->skipped = true;
		return;
	}
	mref = *ref;
	snprintf(mref.digest, sizeof(mref.digest), "%s", m);
	sigstore_image_verification_clear(&j->v);
	j->verify(client, &mref, io, &j->v);
	if (j->v.result != SIGSTORE_IMAGE_VERIFIED) {
		char why[sizeof(j->v.reason)];

		snprintf(why, sizeof(why), "%s", j->v.reason);
		snprintf(j->v.reason, sizeof(j->v.reason),
			 "via tag %.60s (its config is %.19s...): %s", j->config_tag_ref,
			 ref->digest, why);
	}
}

/* Worker thread: touches only j and its (immutable) gen. */
static void job_run(void *arg)
{
	struct job *j = arg;
	const struct gen *g = j->gen;
	struct sigstore_oci_client_opts co = {0};
	struct sigstore_oci_client *client = NULL;
	struct sigstore_image_opts io = {0};
	struct sigstore_oci_ref ref;
	char err[256] = "";
	int rc;

	j->v.result = SIGSTORE_IMAGE_ERROR;
	if (atomic_load(&j->cancel)) {
		rc = -ECANCELED;
		snprintf(err, sizeof(err), "cancelled before it started");
		goto fail;
	}
	rc = sigstore_oci_ref_parse(j->ref, &ref, err);
	if (rc < 0)
		goto fail;
	co.ca_file = g->ca_file[0] ? g->ca_file : NULL;
	co.docker_config = g->docker_config[0] ? g->docker_config : NULL;
	co.credential_provider_config = g->cp_config[0] ? g->cp_config : NULL;
	co.credential_provider_bin_dir = g->cp_bin_dir[0] ? g->cp_bin_dir : NULL;
	co.insecure_http = j->insecure_http;
	co.timeout_ms = (long)g->timeout_ms;
	co.deadline_ms = j->deadline_ms;
	co.cancel = &j->cancel;
	rc = sigstore_oci_client_new(&co, &client, err);
	if (rc < 0)
		goto fail;
	if (!ref.digest[0]) {
		/* a tag: resolved through the registry, never trusted as such */
		rc = sigstore_oci_resolve_digest(client, &ref, ref.digest, err);
		if (rc < 0)
			goto fail;
	}
	snprintf(j->digest, sizeof(j->digest), "%s", ref.digest);
	if (gen_skips(g, ref.digest)) {
		j->skipped = true;
		goto out;
	}
	io.trust_root = g->trust_root;
	io.policy = g->policy;
	io.rekor_url = g->rekor_url;
	io.skip_provenance = g->skip_provenance;
	io.skip_transparency_log = g->skip_transparency_log;
	io.skip_sct = !g->enforce_sct;
	j->verify(client, &ref, &io, &j->v);
	if (j->v.result == SIGSTORE_IMAGE_NOT_SIGNED && j->config_tag_ref[0])
		config_fallback(j, client, &ref, &io);
	goto out;
fail:
	j->v.result = result_from_errno(rc);
	snprintf(j->v.reason, sizeof(j->v.reason), "image %.200s: %s", j->ref, err);
out:
	sigstore_oci_client_free(client);
}

static void job_free(struct job *j)
{
	sigstore_image_verification_clear(&j->v);
	gen_put(j->gen);
	free(j);
}

static void job_unlink(struct image_sigs *s, struct job *j)
{
	for (struct job **p = &s->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			s->n_jobs--;
			return;
		}
	}
}

static void record(struct image_sigs *s, enum sigstore_image_result r, uint64_t ms)
{
	struct histogram *h = &s->durations[r];

	s->results[r]++;
	h->count++;
	h->sum_ms += ms;
	for (size_t b = 0; b < IMAGE_SIGS_N_BUCKETS; b++) {
		if (ms <= bucket_ms[b]) {
			h->buckets[b]++;
			break;
		}
	}
}

/* Loop thread: counts, caches and answers the waiters. */
static void job_done(void *arg)
{
	struct job *j = arg;
	struct image_sigs *s = j->svc;
	enum sigstore_image_result r = j->v.result;
	struct k8s_image_verdict verdict;
	char reason[sizeof(j->v.reason)];

	if (!s) { /* the service is gone: nobody waits */
		job_free(j);
		return;
	}
	job_unlink(s, j);
	if (atomic_load(&j->cancel) && !j->skipped) {
		r = SIGSTORE_IMAGE_CANCELLED;
		snprintf(reason, sizeof(reason),
			 "image %.200s: verification cancelled (reload or "
			 "shutdown)",
			 j->ref);
	} else {
		snprintf(reason, sizeof(reason), "%s", j->v.reason);
	}
	if (r >= SIGSTORE_IMAGE_RESULT_COUNT)
		r = SIGSTORE_IMAGE_ERROR;
	if (!j->skipped) {
		record(s, r, now_ms(s) - j->start_ms);
		if (r == SIGSTORE_IMAGE_VERIFIED)
			s->signatures += j->v.n_verified;
		if (r == SIGSTORE_IMAGE_VERIFIED && j->gen == s->gen && j->digest[0])
			cache_put(s, j->digest, &j->v);
		/* see config_fallback: the image whose config is X was signed as manifest M */
		if (r == SIGSTORE_IMAGE_VERIFIED && j->gen == s->gen && j->config_digest[0])
			cache_put(s, j->config_digest, &j->v);
		log_debug(s->log, "sigstore: image verification done", "image", j->ref, "result",
			  sigstore_image_result_name(r), "ms",
			  (unsigned long long)(now_ms(s) - j->start_ms), "manifest",
			  j->config_digest[0] ? j->digest : NULL, "reason",
			  r == SIGSTORE_IMAGE_VERIFIED ? NULL : reason);
	}
	verdict_fill(&verdict, r, &j->v, j->skipped, reason);
	/* One at a time: a callback may cancel another waiter of this job. */
	while (j->waiters) {
		struct image_sigs_req *q = j->waiters;

		j->waiters = q->next;
		s->n_waiters--;
		q->cb(q->arg, &verdict);
		free(q);
	}
	job_free(j);
}

/* ---- public API --------------------------------------------------------------------------- */

int image_sigs_new(const struct image_sigs_opts *o, struct workers *w, struct log *lg,
		   struct image_sigs **out)
{
	struct image_sigs *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cache = calloc(IMAGE_SIGS_MAX_CACHE, sizeof(*s->cache));
	if (!s->cache) {
		free(s);
		return -ENOMEM;
	}
	if (o)
		s->opts = *o;
	if (!s->opts.verify)
		s->opts.verify = sigstore_image_verify;
	if (!s->opts.resolve)
		s->opts.resolve = sigstore_oci_find_manifest_for_config;
	s->workers = w;
	s->log = lg;
	*out = s;
	return 0;
}

void image_sigs_drop_cache(struct image_sigs *s)
{
	cache_drop(s);
}

void image_sigs_cancel_all(struct image_sigs *s)
{
	if (!s)
		return;
	for (struct job *j = s->jobs; j; j = j->next)
		atomic_store(&j->cancel, true);
}

int image_sigs_configure(struct image_sigs *s, struct config_sigstore *cfg,
			 char err[IMAGE_SIGS_ERR_MAX])
{
	struct gen *g;

	err[0] = '\0';
	if (cfg->enabled && (!cfg->trust_root || !cfg->policy)) {
		snprintf(err, IMAGE_SIGS_ERR_MAX,
			 "sigstore: enabled without a trusted root or an "
			 "identity policy");
		return -EINVAL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		goto nomem;
	g->refs = 1;
	if (cfg->n_skip_images) {
		g->skip_images = calloc(cfg->n_skip_images, sizeof(*g->skip_images));
		if (!g->skip_images)
			goto nomem;
	}
	for (size_t i = 0; i < cfg->n_skip_images; i++)
		snprintf(g->skip_images[i], sizeof(g->skip_images[i]), "%s", cfg->skip_images[i]);
	g->n_skip_images = cfg->n_skip_images;
	g->enabled = cfg->enabled;
	snprintf(g->rekor_url, sizeof(g->rekor_url), "%s", cfg->rekor_url);
	g->skip_provenance = cfg->skip_provenance;
	g->skip_transparency_log = cfg->skip_transparency_log;
	g->enforce_sct = cfg->enforce_sct;
	g->resolve_tags = cfg->resolve_tags;
	g->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : CONFIG_SIGSTORE_DEFAULT_TIMEOUT_MS;
	snprintf(g->docker_config, sizeof(g->docker_config), "%s", cfg->docker_config);
	snprintf(g->ca_file, sizeof(g->ca_file), "%s", cfg->ca_file);
	snprintf(g->cp_config, sizeof(g->cp_config), "%s", cfg->credential_provider_config);
	snprintf(g->cp_bin_dir, sizeof(g->cp_bin_dir), "%s", cfg->credential_provider_bin_dir);
	snprintf(g->trusted_root_source, sizeof(g->trusted_root_source), "%s",
		 cfg->trusted_root_source);
	g->trust_root = cfg->trust_root;
	g->policy = cfg->policy;
	cfg->trust_root = NULL;
	cfg->policy = NULL;

	image_sigs_cancel_all(s);
	cache_drop(s);
	gen_put(s->gen);
	s->gen = g;
	if (!g->enabled) {
		log_info(s->log, "sigstore: image signature verification off");
		return 0;
	}
	log_info(s->log, "sigstore: image signature verification on", "trusted_root",
		 g->trusted_root_source, "rekor_url", g->rekor_url, "skip_provenance",
		 g->skip_provenance, "enforce_sct", g->enforce_sct, "resolve_tags", g->resolve_tags,
		 "skip_images", (unsigned long)g->n_skip_images, "timeout_ms",
		 (unsigned long long)g->timeout_ms);
	if (g->skip_transparency_log)
		log_warn(s->log, "sigstore: skip_transparency_log is true: keyless (Fulcio) "
				 "signatures need the log's time and will fail to verify");
	return 0;
nomem:
	if (g)
		free(g->skip_images);
	free(g);
	snprintf(err, IMAGE_SIGS_ERR_MAX, "sigstore: out of memory");
	return -ENOMEM;
}

void image_sigs_free(struct image_sigs *s)
{
	if (!s)
		return;
	/* Normally none left (workers_free ran every completion); else orphan them. */
	for (struct job *j = s->jobs; j; j = j->next) {
		atomic_store(&j->cancel, true);
		j->svc = NULL;
		while (j->waiters) {
			struct image_sigs_req *q = j->waiters;

			j->waiters = q->next;
			free(q);
		}
	}
	cache_drop(s);
	gen_put(s->gen);
	free(s->cache);
	free(s);
}

bool image_sigs_enabled(const struct image_sigs *s)
{
	return s && s->gen && s->gen->enabled;
}

int image_sigs_verify(struct image_sigs *s, const char *image_ref, k8s_image_verify_done cb,
		      void *arg, struct image_sigs_req **req_out)
{
	return image_sigs_verify_with_tag(s, image_ref, NULL, cb, arg, req_out);
}

int image_sigs_verify_with_tag(struct image_sigs *s, const char *image_ref,
			       const char *config_tag_ref, k8s_image_verify_done cb, void *arg,
			       struct image_sigs_req **req_out)
{
	struct k8s_image_verdict verdict;
	const struct cache_entry *e;
	struct image_sigs_req *q = NULL;
	struct job *j = NULL;
	const char *at;
	char digest[IMAGE_SIGS_DIGEST_LEN] = "";
	char reason[256];
	int rc;

	if (!image_sigs_enabled(s))
		return -ENOTCONN;
	if (!config_tag_ref)
		config_tag_ref = "";
	if (strlen(image_ref) >= K8S_IMAGE_REF_MAX || strlen(config_tag_ref) >= K8S_IMAGE_REF_MAX)
		return -EINVAL;
	at = strchr(image_ref, '@');
	if (at && strlen(at + 1) < sizeof(digest))
		snprintf(digest, sizeof(digest), "%s", at + 1);
	if (gen_skips(s->gen, digest)) {
		snprintf(reason, sizeof(reason), "image %.200s: in skip_images", image_ref);
		verdict_fill(&verdict, SIGSTORE_IMAGE_VERIFIED, NULL, true, reason);
		cb(arg, &verdict);
		return 0;
	}
	if (!digest[0] && !s->gen->resolve_tags) {
		/* Without a digest for this container, the registry's word for the tag would be
		 * trusted: refused on request (a registry may answer attestd and the runtime with
		 * different manifests). */
		snprintf(reason, sizeof(reason),
			 "image %.200s: no digest known for this container, and resolve_tags is "
			 "false",
			 image_ref);
		record(s, SIGSTORE_IMAGE_ERROR, 0);
		verdict_fill(&verdict, SIGSTORE_IMAGE_ERROR, NULL, false, reason);
		cb(arg, &verdict);
		return 0;
	}
	if (digest[0] && (e = cache_get(s, digest))) {
		s->cache_hits++;
		verdict_fill(&verdict, SIGSTORE_IMAGE_VERIFIED, &e->v, false, "");
		cb(arg, &verdict);
		return 0;
	}
	if (s->n_waiters >= IMAGE_SIGS_MAX_WAITERS)
		return -EAGAIN;
	for (j = s->jobs; j; j = j->next)
		if (j->gen == s->gen && !atomic_load(&j->cancel) &&
		    strcmp(j->ref, image_ref) == 0 &&
		    strcmp(j->config_tag_ref, config_tag_ref) == 0)
			break;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cb = cb;
	q->arg = arg;
	if (!j) {
		if (s->n_jobs >= IMAGE_SIGS_MAX_JOBS) {
			rc = -EAGAIN;
			goto fail;
		}
		j = calloc(1, sizeof(*j));
		if (!j) {
			rc = -ENOMEM;
			goto fail;
		}
		j->svc = s;
		j->gen = s->gen;
		snprintf(j->ref, sizeof(j->ref), "%s", image_ref);
		snprintf(j->config_tag_ref, sizeof(j->config_tag_ref), "%s", config_tag_ref);
		j->insecure_http = s->opts.insecure_http;
		j->verify = s->opts.verify;
		j->resolve = s->opts.resolve;
		j->start_ms = now_ms(s);
		j->deadline_ms = mono_ms() + s->gen->timeout_ms;
		atomic_init(&j->cancel, false);
		rc = workers_submit(s->workers, job_run, job_done, j);
		if (rc < 0) {
			free(j);
			goto fail;
		}
		s->gen->refs++;
		j->next = s->jobs;
		s->jobs = j;
		s->n_jobs++;
	}
	s->cache_misses++;
	q->job = j;
	q->next = j->waiters;
	j->waiters = q;
	s->n_waiters++;
	if (req_out)
		*req_out = q;
	return 0;
fail:
	free(q);
	return rc;
}

void image_sigs_cancel(struct image_sigs *s, struct image_sigs_req *req)
{
	struct job *j;

	if (!req)
		return;
	j = req->job;
	for (struct image_sigs_req **p = &j->waiters; *p; p = &(*p)->next) {
		if (*p == req) {
			*p = req->next;
			s->n_waiters--;
			break;
		}
	}
	free(req);
	/* Nobody waits any more: stop the registry work early (the result is not cached then). */
	if (!j->waiters)
		atomic_store(&j->cancel, true);
}

/* ---- the Kubernetes attestor's interface -------------------------------------------------- */

static bool k8s_enabled(void *ctx)
{
	return image_sigs_enabled(ctx);
}

static int k8s_verify(void *ctx, const char *image_ref, const char *config_tag_ref,
		      k8s_image_verify_done done, void *arg, void **handle)
{
	struct image_sigs_req *q = NULL;
	int rc;

	/* *handle is written only when done has not run: the caller may be gone once it has. */
	rc = image_sigs_verify_with_tag(ctx, image_ref, config_tag_ref, done, arg, &q);
	if (rc == 0 && q)
		*handle = q;
	return rc;
}

static void k8s_cancel(void *ctx, void *handle)
{
	image_sigs_cancel(ctx, handle);
}

static void k8s_log(void *ctx, bool warn, const char *msg, const char *image, const char *detail)
{
	struct image_sigs *s = ctx;

	if (warn)
		log_warn(s->log, msg, "image", image, "reason", detail);
	else
		log_info(s->log, msg, "image", image, "detail", detail);
}

void image_sigs_k8s_verifier(struct image_sigs *s, struct k8s_image_verifier *out)
{
	out->ctx = s;
	out->enabled = k8s_enabled;
	out->verify = k8s_verify;
	out->cancel = k8s_cancel;
	out->log = k8s_log;
}

/* ---- status ------------------------------------------------------------------------------- */

json_t *image_sigs_status_json(const struct image_sigs *s)
{
	json_t *root = json_object(), *total = json_object(), *dur = json_object();
	json_t *cache = json_object();
	const struct gen *g = s->gen;

	if (!root || !total || !dur || !cache)
		goto fail;
	for (int r = 0; r < SIGSTORE_IMAGE_RESULT_COUNT; r++) {
		const struct histogram *h = &s->durations[r];
		const char *name = sigstore_image_result_name((enum sigstore_image_result)r);
		json_t *buckets = json_object(), *one;
		uint64_t cum = 0;

		if (!buckets)
			goto fail;
		for (size_t b = 0; b < IMAGE_SIGS_N_BUCKETS; b++) {
			cum += h->buckets[b];
			json_object_set_new(buckets, bucket_le[b], json_integer((json_int_t)cum));
		}
		json_object_set_new(buckets, "+Inf", json_integer((json_int_t)h->count));
		one = json_pack("{s:I, s:f, s:o}", "count", (json_int_t)h->count, "sum",
				(double)h->sum_ms / 1000.0, "buckets", buckets);
		if (!one)
			goto fail;
		json_object_set_new(dur, name, one);
		json_object_set_new(total, name, json_integer((json_int_t)s->results[r]));
	}
	json_object_set_new(cache, "hit", json_integer((json_int_t)s->cache_hits));
	json_object_set_new(cache, "miss", json_integer((json_int_t)s->cache_misses));
	json_object_set_new(root, "attestor", json_string("kubernetes"));
	json_object_set_new(root, "enabled", json_boolean(g && g->enabled));
	json_object_set_new(root, "trusted_root",
			    g && g->enabled ? json_string(g->trusted_root_source) : json_null());
	json_object_set_new(root, "rekor_url",
			    g && g->enabled ? json_string(g->rekor_url) : json_null());
	json_object_set_new(root, "cache_entries", json_integer((json_int_t)s->n_cache));
	json_object_set_new(root, "jobs", json_integer((json_int_t)s->n_jobs));
	json_object_set_new(root, "waiting", json_integer((json_int_t)s->n_waiters));
	json_object_set_new(root, "attestd_sigstore_image_verification_total", total);
	json_object_set_new(root, "attestd_sigstore_image_verification_duration_seconds", dur);
	json_object_set_new(root, "attestd_sigstore_signature_count",
			    json_integer((json_int_t)s->signatures));
	json_object_set_new(root, "attestd_sigstore_verification_cache_total", cache);
	return root;
fail:
	json_decref(root);
	json_decref(total);
	json_decref(dur);
	json_decref(cache);
	return NULL;
}
