/*
 * bench_sigstore - Sigstore image verification cost (issue 6), for one signed image in a real
 * registry (tests/bench/bench_sigstore.py sets one up and runs this):
 *
 *   bench_sigstore --ref HOST/REPO@sha256:HEX --trusted-root F --rekor-url U --ca F
 *                  --allow ISSUER=SUBJECT_GLOB [--allow ...] [--skip-provenance]
 *                  [--iters N] [--offline-iters N] [--service-iters N] [--lookups N]
 *                  [--phase-ms MS]
 *
 * 1. cold: N x (fresh OCI client, sigstore_image_verify, free): what daemon/image_sigs.c runs
 *    per job on a worker: TLS connection, registry round trips, hashing, crypto.
 * 2. offline (baseline): the signatures fetched once (sigstore_oci_fetch_bundles), then N x
 *    sigstore_image_verify_sigs: the crypto and parsing alone.
 * 3. service: the real daemon/image_sigs service (event loop, 2 workers, sigstore_image_verify):
 *    N x (drop the cache, image_sigs_verify, run the loop until the callback), then
 *    --lookups cached lookups on the loop thread, each timed from the image_sigs_verify call to
 *    its callback (a cache hit calls back before image_sigs_verify returns), then the same
 *    number untimed for the mean per lookup.
 * 4. full cache: a second service whose verify function is a stub that verifies any digest,
 *    filled with IMAGE_SIGS_MAX_CACHE images; lookups cycle over all of them (the cache is a
 *    linear scan, so this is its average cost when full).
 * The first two cold verifications are warm-up (process-wide OpenSSL and curl set-up) and are
 * reported apart. Each phase stops after its count or after --phase-ms, whichever comes first.
 * Every result must be "verified" (with provenance unless --skip-provenance): others are
 * counted as failures, the first one's reason kept. Prints one JSON object:
 *   {"ref", "n_found", "warmup_us": [..], "cold": S, "offline": S, "service_cold": S,
 *    "cached": {"n", "p50_ns", "p99_ns", "max_ns", "mean_ns"}, "cached_full": {"entries", "n",
 *    "mean_ns"}, "failures": n, "first_failure": "..."}
 * with S = {"n", "p50_us", "p99_us", "max_us", "mean_us"}. Exit 0 when it printed that, 1 on a
 * set-up error, 2 on usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/config.h"
#include "daemon/image_sigs.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/workers.h"
#include "sigstore/identity.h"
#include "sigstore/image.h"
#include "sigstore/oci.h"
#include "sigstore/trust_root.h"

#define BS_MAX_ALLOW	16
#define BS_MAX_ITERS	100000L
#define BS_MAX_LOOKUPS	10000000L
#define BS_MAX_PHASE_MS 600000L
#define BS_WARMUP	2      /* cold verifications not counted */
#define BS_WORKERS	2      /* the daemon's default workers.threads */
#define BS_TIMEOUT_MS	30000u /* per image, as attestors.kubernetes.sigstore.timeout */
#define BS_WATCHDOG_MS	60000u /* one service verification */
#define BS_FILL_BATCH	200    /* < IMAGE_SIGS_MAX_JOBS */
#define BS_STUB_SUBJECT "https://github.com/attestd/bench/.github/workflows/r.yml@refs/heads/main"
#define BS_STUB_ISSUER	"https://token.actions.githubusercontent.com"

struct bs_opts {
	const char *ref;
	const char *trusted_root;
	const char *rekor_url;
	const char *ca;
	const char *issuer[BS_MAX_ALLOW];
	const char *subject[BS_MAX_ALLOW];
	size_t n_allow;
	bool skip_provenance;
	long iters, offline_iters, service_iters, lookups, phase_ms;
};

struct bs_stats {
	size_t n;
	double p50, p99, max, mean; /* in the unit of the samples */
};

struct bs_failures {
	unsigned long n;
	char first[320];
};

/* One service (daemon/image_sigs.c) with its loop and workers. */
struct bs_svc {
	struct loop *loop;
	struct workers *workers;
	struct log log;
	struct image_sigs *s;
	struct bs_failures *fail;
	bool want_provenance;
	/* the last callback */
	unsigned long calls;
	uint64_t cb_ns;
	bool waiting; /* loop_run is running until the next callback */
	bool timed_out;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank index of percentile pct among n > 0 sorted samples. */
static size_t rank(size_t n, size_t pct)
{
	return (n * pct + 99) / 100 - 1;
}

/* Nearest-rank percentiles of v (sorted in place), in ns divided by div. */
static void stats_of(uint64_t *v, size_t n, double div, struct bs_stats *out)
{
	double sum = 0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	out->p50 = (double)v[rank(n, 50)] / div;
	out->p99 = (double)v[rank(n, 99)] / div;
	out->max = (double)v[n - 1] / div;
	out->mean = sum / (double)n / div;
}

static void fail_note(struct bs_failures *f, const char *what, const char *detail)
{
	if (f->n++ == 0)
		snprintf(f->first, sizeof(f->first), "%s: %s", what, detail);
}

/* A verification as the benchmark expects it: verified, with provenance unless skipped. */
static void check_verification(struct bs_failures *f, const char *what, int rc,
			       const struct sigstore_image_verification *v, bool want_provenance)
{
	char msg[300];

	if (rc == 0 && v->result == SIGSTORE_IMAGE_VERIFIED && v->n_verified >= 1 &&
	    (!want_provenance || v->provenance_verified))
		return;
	snprintf(msg, sizeof(msg), "%s (rc %d, %zu verified, provenance %s): %.200s",
		 sigstore_image_result_name(v->result), rc, v->n_verified,
		 v->provenance_verified ? "yes" : "no", v->reason);
	fail_note(f, what, msg);
}

static int bs_policy_new(const struct bs_opts *o, struct sigstore_identity_policy **out,
			 char err[256])
{
	struct sigstore_identity_policy *p = sigstore_identity_policy_new();
	int rc = 0;

	*out = NULL;
	if (!p) {
		snprintf(err, 256, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < o->n_allow; i++) {
		rc = sigstore_identity_policy_add(p, o->issuer[i], o->subject[i], err);
		if (rc < 0)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	sigstore_identity_policy_free(p);
	return rc;
}

static void client_opts(const struct bs_opts *o, struct sigstore_oci_client_opts *co)
{
	memset(co, 0, sizeof(*co));
	co->ca_file = o->ca;
	co->timeout_ms = (long)BS_TIMEOUT_MS;
}

/*
 * One cold verification as a daemon job runs it: a fresh client, verify, free. *ns stays 0 when
 * no client could be made (nothing was timed).
 */
static int cold_once(const struct bs_opts *o, const struct sigstore_oci_ref *ref,
		     const struct sigstore_image_opts *io, struct bs_failures *f, uint64_t *ns,
		     size_t *n_found)
{
	struct sigstore_oci_client_opts co;
	struct sigstore_oci_client *c = NULL;
	struct sigstore_image_verification v;
	char err[256] = "";
	uint64_t t0 = now_ns();
	int rc;

	*ns = 0;
	memset(&v, 0, sizeof(v));
	client_opts(o, &co);
	co.deadline_ms = t0 / 1000000u + BS_TIMEOUT_MS;
	rc = sigstore_oci_client_new(&co, &c, err);
	if (rc < 0) {
		fail_note(f, "cold: oci client", err);
		goto out;
	}
	rc = sigstore_image_verify(c, ref, io, &v);
	sigstore_oci_client_free(c);
	*ns = now_ns() - t0;
	check_verification(f, "cold", rc, &v, !io->skip_provenance);
	*n_found = v.n_found;
out:
	sigstore_image_verification_clear(&v);
	return rc;
}

static void phase_cold(const struct bs_opts *o, const struct sigstore_oci_ref *ref,
		       const struct sigstore_image_opts *io, struct bs_failures *f,
		       uint64_t warmup[BS_WARMUP], uint64_t *samples, struct bs_stats *st,
		       size_t *n_found)
{
	uint64_t t_end;
	size_t n = 0;

	for (size_t i = 0; i < BS_WARMUP; i++)
		cold_once(o, ref, io, f, &warmup[i], n_found);
	t_end = now_ns() + (uint64_t)o->phase_ms * 1000000u;
	while (n < (size_t)o->iters && (n == 0 || now_ns() < t_end)) {
		cold_once(o, ref, io, f, &samples[n], n_found);
		if (samples[n] == 0)
			break; /* could not even make a client */
		n++;
	}
	stats_of(samples, n, 1000.0, st);
}

/* Fetches once, then verifies offline again and again. */
static int phase_offline(const struct bs_opts *o, const struct sigstore_oci_ref *ref,
			 const struct sigstore_image_opts *io, struct bs_failures *f,
			 uint64_t *samples, struct bs_stats *st)
{
	struct sigstore_oci_client_opts co;
	struct sigstore_oci_client *c = NULL;
	struct sigstore_oci_sigs sigs;
	char err[256] = "";
	uint64_t t_end;
	size_t n = 0;
	int rc;

	memset(&sigs, 0, sizeof(sigs));
	memset(st, 0, sizeof(*st));
	client_opts(o, &co);
	rc = sigstore_oci_client_new(&co, &c, err);
	if (rc == 0)
		rc = sigstore_oci_fetch_bundles(c, ref, &sigs, err);
	if (rc < 0) {
		fail_note(f, "offline: fetch", err);
		goto out;
	}
	t_end = now_ns() + (uint64_t)o->phase_ms * 1000000u;
	while (n < (size_t)o->offline_iters && (n == 0 || now_ns() < t_end)) {
		struct sigstore_image_verification v;
		uint64_t t0 = now_ns();
		int r;

		memset(&v, 0, sizeof(v));
		r = sigstore_image_verify_sigs(&sigs, ref->digest, io, &v);
		samples[n++] = now_ns() - t0;
		check_verification(f, "offline", r, &v, !io->skip_provenance);
		sigstore_image_verification_clear(&v);
	}
	stats_of(samples, n, 1000.0, st);
out:
	sigstore_oci_sigs_clear(&sigs);
	sigstore_oci_client_free(c);
	return rc;
}

/* ---- the daemon's service ----------------------------------------------------------------- */

static void svc_cb(void *arg, const struct k8s_image_verdict *v)
{
	struct bs_svc *e = arg;
	char msg[300];

	e->cb_ns = now_ns();
	e->calls++;
	if (!v->verified || (e->want_provenance && !v->sig.provenance_type)) {
		snprintf(msg, sizeof(msg), "%s (provenance %s): %.200s", v->result,
			 v->verified && v->sig.provenance_type ? "yes" : "no",
			 v->reason ? v->reason : "");
		fail_note(e->fail, "service", msg);
	}
	if (e->waiting)
		loop_stop(e->loop);
}

static void svc_watchdog(struct loop *loop, void *arg)
{
	struct bs_svc *e = arg;

	e->timed_out = true;
	loop_stop(loop);
}

/* A stub verifier for the full-cache service: any digest is verified at once. */
static int stub_verify(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
		       const struct sigstore_image_opts *o, struct sigstore_image_verification *out)
{
	memset(out, 0, sizeof(*out));
	out->subject = strdup(BS_STUB_SUBJECT);
	out->issuer = strdup(BS_STUB_ISSUER);
	out->provenance_type = strdup(SIGSTORE_SLSA_PROVENANCE_V1);
	if (!out->subject || !out->issuer || !out->provenance_type) {
		out->result = SIGSTORE_IMAGE_ERROR;
		snprintf(out->reason, sizeof(out->reason), "stub: out of memory");
		return -ENOMEM;
	}
	out->result = SIGSTORE_IMAGE_VERIFIED;
	out->n_found = 1;
	out->n_verified = 1;
	out->provenance_verified = true;
	return 0;
}

static void svc_free(struct bs_svc *e)
{
	if (e->s)
		image_sigs_cancel_all(e->s);
	if (e->workers)
		workers_free(e->workers);
	image_sigs_free(e->s);
	if (e->loop)
		loop_free(e->loop);
	memset(e, 0, sizeof(*e));
}

/* A service configured as attestors.kubernetes.sigstore would be for these options. */
static int svc_new(struct bs_svc *e, const struct bs_opts *o, image_sigs_verify_fn verify,
		   struct bs_failures *f, char err[256])
{
	struct image_sigs_opts so = {.verify = verify};
	struct config_sigstore cfg;
	int rc;

	memset(e, 0, sizeof(*e));
	memset(&cfg, 0, sizeof(cfg));
	e->fail = f;
	e->want_provenance = !o->skip_provenance;
	log_init(&e->log, LOG_ERROR, 2);
	cfg.enabled = true;
	cfg.skip_provenance = o->skip_provenance;
	cfg.enforce_sct = true;
	cfg.timeout_ms = BS_TIMEOUT_MS;
	if (snprintf(cfg.rekor_url, sizeof(cfg.rekor_url), "%s", o->rekor_url) >=
		    (int)sizeof(cfg.rekor_url) ||
	    snprintf(cfg.ca_file, sizeof(cfg.ca_file), "%s", o->ca) >= (int)sizeof(cfg.ca_file) ||
	    snprintf(cfg.trusted_root_source, sizeof(cfg.trusted_root_source), "%s",
		     o->trusted_root) >= (int)sizeof(cfg.trusted_root_source)) {
		snprintf(err, 256, "service: --rekor-url, --ca or --trusted-root too long");
		rc = -ENAMETOOLONG;
		goto out;
	}
	rc = sigstore_trust_root_load(o->trusted_root, &cfg.trust_root, err);
	if (rc < 0)
		goto out;
	rc = bs_policy_new(o, &cfg.policy, err);
	if (rc < 0)
		goto out;
	rc = loop_new(&e->loop);
	if (rc == 0)
		rc = workers_new(e->loop, BS_WORKERS, &e->workers);
	if (rc == 0)
		rc = image_sigs_new(&so, e->workers, &e->log, &e->s);
	if (rc < 0) {
		snprintf(err, 256, "service: loop, workers or image_sigs: %s", strerror(-rc));
		goto out;
	}
	rc = image_sigs_configure(e->s, &cfg, err);
out:
	/* image_sigs_configure took them when it succeeded (NULL then) */
	sigstore_trust_root_free(cfg.trust_root);
	sigstore_identity_policy_free(cfg.policy);
	if (rc < 0)
		svc_free(e);
	return rc;
}

/* Runs the loop until `want` callbacks have run (or the watchdog fires). */
static int svc_wait(struct bs_svc *e, unsigned long want)
{
	uint64_t id = 0;
	int rc;

	if (e->calls >= want)
		return 0;
	e->timed_out = false;
	rc = loop_add_timer(e->loop, BS_WATCHDOG_MS, svc_watchdog, e, &id);
	if (rc < 0)
		return rc;
	e->waiting = true;
	while (e->calls < want && !e->timed_out && rc == 0)
		rc = loop_run(e->loop);
	e->waiting = false;
	loop_cancel_timer(e->loop, id);
	if (rc == 0 && e->timed_out)
		rc = -ETIMEDOUT;
	return rc;
}

/* One request through the service, waiting for its answer: its loop-thread latency. */
static int svc_request(struct bs_svc *e, const char *ref, uint64_t *ns)
{
	unsigned long want = e->calls + 1;
	uint64_t t0 = now_ns();
	int rc;

	rc = image_sigs_verify(e->s, ref, svc_cb, e, NULL);
	if (rc == 0)
		rc = svc_wait(e, want);
	*ns = e->cb_ns - t0;
	return rc;
}

struct bs_cached {
	struct bs_stats timed; /* ns */
	double mean_ns;	       /* untimed batch */
	unsigned long misses;  /* lookups that did not call back synchronously */
};

/*
 * Cached lookups of ref: each timed, then a batch untimed. Stops at the first lookup that is not
 * answered from the cache at once (counted in misses; its callback is waited for).
 */
static void cached_lookups(struct bs_svc *e, const char *ref, long count, uint64_t *samples,
			   struct bs_cached *out)
{
	uint64_t t0;
	long i;
	int rc;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < count; i++) {
		unsigned long before = e->calls;

		t0 = now_ns();
		rc = image_sigs_verify(e->s, ref, svc_cb, e, NULL);
		samples[i] = e->cb_ns - t0;
		if (rc < 0 || e->calls != before + 1) {
			/* not cached (the cold request failed?): no point in going on */
			out->misses++;
			if (rc == 0)
				svc_wait(e, before + 1);
			break;
		}
	}
	stats_of(samples, (size_t)i, 1.0, &out->timed);
	t0 = now_ns();
	for (i = 0; i < count && !out->misses; i++) {
		unsigned long before = e->calls;

		rc = image_sigs_verify(e->s, ref, svc_cb, e, NULL);
		if (rc < 0 || e->calls != before + 1) {
			/* not cached (the cold request failed?): no point in going on */
			out->misses++;
			if (rc == 0)
				svc_wait(e, before + 1);
			break;
		}
	}
	out->mean_ns = i ? (double)(now_ns() - t0) / (double)i : 0;
}

static int phase_service(const struct bs_opts *o, struct bs_failures *f, uint64_t *cold_samples,
			 struct bs_stats *cold, uint64_t *lookup_samples, struct bs_cached *cached,
			 char err[256])
{
	struct bs_svc e;
	uint64_t t_end;
	size_t n = 0;
	int rc;

	rc = svc_new(&e, o, NULL, f, err);
	if (rc < 0)
		return rc;
	t_end = now_ns() + (uint64_t)o->phase_ms * 1000000u;
	while (n < (size_t)o->service_iters && (n == 0 || now_ns() < t_end)) {
		image_sigs_drop_cache(e.s);
		rc = svc_request(&e, o->ref, &cold_samples[n]);
		if (rc < 0) {
			snprintf(err, 256, "service: %s: %s", o->ref, strerror(-rc));
			goto out;
		}
		n++;
	}
	stats_of(cold_samples, n, 1000.0, cold);
	/* the last cold request left the image in the cache */
	cached_lookups(&e, o->ref, o->lookups, lookup_samples, cached);
	if (cached->misses)
		fail_note(f, "cached", "a lookup of a cached image did not call back at once");
out:
	svc_free(&e);
	return rc;
}

/* The stub service filled with IMAGE_SIGS_MAX_CACHE images; lookups cycle over all of them. */
static int phase_full_cache(const struct bs_opts *o, struct bs_failures *f, double *mean_ns,
			    size_t *entries, long *n_lookups, char err[256])
{
	static const char hex[] = "0123456789abcdef";
	struct bs_svc e;
	char(*refs)[160] = NULL;
	json_t *st = NULL;
	unsigned long misses = 0;
	uint64_t t0;
	size_t i;
	long k;
	int rc;

	*mean_ns = 0;
	*entries = 0;
	*n_lookups = 0;
	rc = svc_new(&e, o, stub_verify, f, err);
	if (rc < 0)
		return rc;
	refs = calloc(IMAGE_SIGS_MAX_CACHE, sizeof(*refs));
	if (!refs) {
		rc = -ENOMEM;
		snprintf(err, 256, "full cache: out of memory");
		goto out;
	}
	for (i = 0; i < IMAGE_SIGS_MAX_CACHE; i++) {
		unsigned char d[32];
		char dhex[65];

		/* distinct digests, differing early and late (strcmp sees both) */
		for (size_t b = 0; b < sizeof(d); b++)
			d[b] = (unsigned char)(i * 131u + b * 7u);
		d[0] = (unsigned char)(i >> 8);
		d[31] = (unsigned char)i;
		d[30] = (unsigned char)(i >> 8);
		for (size_t b = 0; b < sizeof(d); b++) {
			dhex[2 * b] = hex[d[b] >> 4];
			dhex[2 * b + 1] = hex[d[b] & 15];
		}
		dhex[64] = '\0';
		snprintf(refs[i], sizeof(refs[i]), "registry.bench.test/app/n%zu@sha256:%s", i,
			 dhex);
	}
	for (i = 0; i < IMAGE_SIGS_MAX_CACHE;) {
		unsigned long want = e.calls;
		size_t end = i + BS_FILL_BATCH < IMAGE_SIGS_MAX_CACHE ? i + BS_FILL_BATCH
								      : IMAGE_SIGS_MAX_CACHE;

		for (; i < end; i++) {
			rc = image_sigs_verify(e.s, refs[i], svc_cb, &e, NULL);
			if (rc < 0) {
				snprintf(err, 256, "full cache: fill: %s", strerror(-rc));
				goto out;
			}
			want++;
		}
		rc = svc_wait(&e, want);
		if (rc < 0) {
			snprintf(err, 256, "full cache: fill: %s", strerror(-rc));
			goto out;
		}
	}
	st = image_sigs_status_json(e.s);
	*entries = (size_t)json_integer_value(json_object_get(st, "cache_entries"));
	if (*entries != IMAGE_SIGS_MAX_CACHE)
		fail_note(f, "full cache", "the cache does not hold every image verified");
	t0 = now_ns();
	for (k = 0; k < o->lookups; k++) {
		unsigned long before = e.calls;

		rc = image_sigs_verify(e.s, refs[(size_t)k % IMAGE_SIGS_MAX_CACHE], svc_cb, &e,
				       NULL);
		if (rc < 0 || e.calls != before + 1) {
			misses++;
			if (rc == 0)
				svc_wait(&e, before + 1);
			break;
		}
	}
	*mean_ns = k ? (double)(now_ns() - t0) / (double)k : 0;
	*n_lookups = k;
	if (misses)
		fail_note(f, "full cache", "a lookup of a cached image did not call back at once");
	rc = 0;
out:
	json_decref(st);
	free(refs);
	svc_free(&e);
	return rc;
}

/* ---- main --------------------------------------------------------------------------------- */

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "bench_sigstore: %s \"%s\": not an integer in [%ld, %ld]\n", opt, s,
			lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_sigstore --ref HOST/REPO@sha256:HEX --trusted-root F "
			"--rekor-url U --ca F --allow ISSUER=SUBJECT_GLOB [--allow ...] "
			"[--skip-provenance] [--iters N] [--offline-iters N] [--service-iters N] "
			"[--lookups N] [--phase-ms MS]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct bs_opts *o)
{
	o->iters = 40;
	o->offline_iters = 200;
	o->service_iters = 10;
	o->lookups = 200000;
	o->phase_ms = 5000;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long *num = NULL, hi = BS_MAX_ITERS;

		if (!strcmp(a, "--skip-provenance")) {
			o->skip_provenance = true;
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (!strcmp(a, "--ref")) {
			o->ref = v;
		} else if (!strcmp(a, "--trusted-root")) {
			o->trusted_root = v;
		} else if (!strcmp(a, "--rekor-url")) {
			o->rekor_url = v;
		} else if (!strcmp(a, "--ca")) {
			o->ca = v;
		} else if (!strcmp(a, "--allow")) {
			const char *eq = strchr(v, '=');
			char *issuer;

			if (!eq || eq == v || !eq[1] || o->n_allow == BS_MAX_ALLOW)
				return -EINVAL;
			issuer = argv[i]; /* split in place: argv is ours */
			issuer[eq - v] = '\0';
			o->issuer[o->n_allow] = issuer;
			o->subject[o->n_allow++] = eq + 1;
		} else if (!strcmp(a, "--iters")) {
			num = &o->iters;
		} else if (!strcmp(a, "--offline-iters")) {
			num = &o->offline_iters;
		} else if (!strcmp(a, "--service-iters")) {
			num = &o->service_iters;
		} else if (!strcmp(a, "--lookups")) {
			num = &o->lookups;
			hi = BS_MAX_LOOKUPS;
		} else if (!strcmp(a, "--phase-ms")) {
			num = &o->phase_ms;
			hi = BS_MAX_PHASE_MS;
		} else {
			return -EINVAL;
		}
		if (num && parse_long(a, v, 1, hi, num) < 0)
			return -EINVAL;
	}
	if (!o->ref || !o->trusted_root || !o->rekor_url || !o->ca || !o->n_allow)
		return -EINVAL;
	return 0;
}

static json_t *stats_json(const struct bs_stats *s)
{
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)s->n, "p50_us", s->p50,
			 "p99_us", s->p99, "max_us", s->max, "mean_us", s->mean);
}

int main(int argc, char **argv)
{
	struct bs_opts o = {0};
	struct sigstore_trust_root *tr = NULL;
	struct sigstore_identity_policy *policy = NULL;
	struct sigstore_oci_ref ref;
	struct sigstore_image_opts io = {0};
	struct bs_failures fail = {0};
	struct bs_stats cold, offline, svc_cold;
	struct bs_cached cached;
	uint64_t warmup[BS_WARMUP] = {0}, *samples = NULL, *lookup_samples = NULL;
	size_t n_found = 0, full_entries = 0;
	long full_n = 0, max_iters;
	double full_mean = 0;
	json_t *out = NULL;
	char err[256] = "";
	char *text = NULL;
	int ret = 1, rc;

	if (parse_args(argc, argv, &o) < 0)
		return usage();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "bench_sigstore: curl_global_init failed\n");
		return 1;
	}
	max_iters = o.iters;
	if (o.offline_iters > max_iters)
		max_iters = o.offline_iters;
	if (o.service_iters > max_iters)
		max_iters = o.service_iters;
	samples = calloc((size_t)max_iters, sizeof(*samples));
	lookup_samples = calloc((size_t)o.lookups, sizeof(*lookup_samples));
	if (!samples || !lookup_samples) {
		fprintf(stderr, "bench_sigstore: out of memory\n");
		goto out;
	}
	if (sigstore_oci_ref_parse(o.ref, &ref, err) < 0 || !ref.digest[0]) {
		fprintf(stderr, "bench_sigstore: --ref %s: %s\n", o.ref,
			err[0] ? err : "needs a digest (@sha256:...)");
		goto out;
	}
	if (sigstore_trust_root_load(o.trusted_root, &tr, err) < 0 ||
	    bs_policy_new(&o, &policy, err) < 0) {
		fprintf(stderr, "bench_sigstore: %s\n", err);
		goto out;
	}
	io.trust_root = tr;
	io.policy = policy;
	io.rekor_url = o.rekor_url;
	io.skip_provenance = o.skip_provenance;

	phase_cold(&o, &ref, &io, &fail, warmup, samples, &cold, &n_found);
	rc = phase_offline(&o, &ref, &io, &fail, samples, &offline);
	if (rc == 0)
		rc = phase_service(&o, &fail, samples, &svc_cold, lookup_samples, &cached, err);
	if (rc == 0)
		rc = phase_full_cache(&o, &fail, &full_mean, &full_entries, &full_n, err);
	if (rc < 0) {
		fprintf(stderr, "bench_sigstore: %s\n", err[0] ? err : fail.first);
		goto out;
	}
	out = json_pack("{s:s, s:I, s:[f,f], s:o, s:o, s:o, s:{s:I, s:f, s:f, s:f, s:f}, "
			"s:{s:I, s:I, s:f}, s:I, s:s}",
			"ref", o.ref, "n_found", (json_int_t)n_found, "warmup_us",
			(double)warmup[0] / 1000.0, (double)warmup[1] / 1000.0, "cold",
			stats_json(&cold), "offline", stats_json(&offline), "service_cold",
			stats_json(&svc_cold), "cached", "n", (json_int_t)cached.timed.n, "p50_ns",
			cached.timed.p50, "p99_ns", cached.timed.p99, "max_ns", cached.timed.max,
			"mean_ns", cached.mean_ns, "cached_full", "entries",
			(json_int_t)full_entries, "n", (json_int_t)full_n, "mean_ns", full_mean,
			"failures", (json_int_t)fail.n, "first_failure", fail.first);
	text = out ? json_dumps(out, JSON_COMPACT) : NULL;
	if (!text) {
		fprintf(stderr, "bench_sigstore: out of memory\n");
		goto out;
	}
	printf("%s\n", text);
	ret = 0;
out:
	free(text);
	json_decref(out);
	sigstore_identity_policy_free(policy);
	sigstore_trust_root_free(tr);
	free(lookup_samples);
	free(samples);
	curl_global_cleanup();
	return ret;
}
