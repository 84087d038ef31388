/*
 * Unit tests for daemon/image_sigs.c: cache (hits, TTL, failures never cached), coalescing,
 * cancel, reload, skip_images, metrics. A fake replaces sigstore_image_verify, so no registry is
 * needed; jobs run on a real worker pool and complete through a real event loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/image_sigs.h"
#include "daemon/loop.h"
#include "daemon/workers.h"
#include "sigstore/identity.h"
#include "sigstore/trust_root.h"

#define HEX64(c)                                                                                  \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
		c c c c c c c c c c c c c c c c c c c
#define DIGEST_OK     "sha256:" HEX64("a") /* the fake verifies it (2 signatures) */
#define DIGEST_NOSIG  "sha256:" HEX64("b") /* the fake says not_signed */
#define DIGEST_SLOW   "sha256:" HEX64("c") /* the fake verifies it after 300 ms */
#define DIGEST_SKIP   "sha256:" HEX64("d") /* in skip_images */
#define DIGEST_NOPROV "sha256:" HEX64("e") /* verified, no provenance */
#define DIGEST_CFG    "sha256:" HEX64("1") /* a config digest: not signed as such */
#define REF(d)	      "registry.test/app@" d

/* The fake's only way to report: it gets no argument of ours, and runs on worker threads
 * (where cmocka's asserts must not run). */
static atomic_int fake_calls;
static atomic_int fake_bad_opts;
static atomic_int fake_resolve_calls;

/*
 * The fake registry's tags, as sigstore_oci_find_manifest_for_config would answer: app:v1's
 * manifest DIGEST_OK has config DIGEST_CFG; app:moved now names a manifest with another config;
 * app:slow times out.
 */
static int fake_resolve(struct sigstore_oci_client *c, const struct sigstore_oci_ref *tag_ref,
			const char *config_digest, char manifest_digest[SIGSTORE_OCI_DIGEST_LEN],
			char err[256])
{
	atomic_fetch_add(&fake_resolve_calls, 1);
	manifest_digest[0] = '\0';
	if (strcmp(tag_ref->repo, "app") != 0 || tag_ref->digest[0])
		atomic_fetch_add(&fake_bad_opts, 1);
	if (strcmp(tag_ref->tag, "slow") == 0) {
		snprintf(err, 256, "GET app:slow: timed out");
		return -ETIMEDOUT;
	}
	if (strcmp(tag_ref->tag, "v1") == 0 && strcmp(config_digest, DIGEST_CFG) == 0) {
		snprintf(manifest_digest, SIGSTORE_OCI_DIGEST_LEN, "%s", DIGEST_OK);
		return 0;
	}
	snprintf(err, 256, "app:%s names manifest sha256:5555... with config sha256:6666...",
		 tag_ref->tag);
	return -ENOENT;
}

static int fake_verify(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
		       const struct sigstore_image_opts *o, struct sigstore_image_verification *out)
{
	bool ok = strcmp(ref->digest, DIGEST_OK) == 0 || strcmp(ref->digest, DIGEST_SLOW) == 0 ||
		  strcmp(ref->digest, DIGEST_NOPROV) == 0;

	atomic_fetch_add(&fake_calls, 1);
	memset(out, 0, sizeof(*out));
	if (!o->trust_root || !o->policy || !o->rekor_url ||
	    strcmp(o->rekor_url, "https://rekor.sigstore.dev") != 0 ||
	    !o->skip_sct /* enforce_sct: false below */)
		atomic_fetch_add(&fake_bad_opts, 1);
	if (strcmp(ref->digest, DIGEST_SLOW) == 0)
		nanosleep(&(struct timespec){.tv_nsec = 300 * 1000000L}, NULL);
	if (!ok) {
		out->result = SIGSTORE_IMAGE_NOT_SIGNED;
		snprintf(out->reason, sizeof(out->reason), "image %s: no signatures", ref->digest);
		return -ENOENT;
	}
	out->result = SIGSTORE_IMAGE_VERIFIED;
	out->subject = strdup("https://github.com/org/app/.github/workflows/r.yml@refs/heads/main");
	out->issuer = strdup("https://token.actions.githubusercontent.com");
	out->signature_b64 = strdup("MEUCIQDsig==");
	snprintf(out->log_id_hex, sizeof(out->log_id_hex), "%s", HEX64("f"));
	out->log_index = 42;
	out->integrated_time = 1700000000;
	out->set_b64 = strdup("MEQCIset==");
	out->n_found = 3;
	out->n_verified = 2;
	if (strcmp(ref->digest, DIGEST_NOPROV) != 0) {
		out->provenance_verified = true;
		out->provenance_type = strdup(SIGSTORE_SLSA_PROVENANCE_V1);
	}
	return 0;
}

#define MAX_RESULTS 16

struct env {
	struct loop *loop;
	struct workers *workers;
	struct log log;
	struct image_sigs *s;
	uint64_t clock_ms;
	/* results received */
	int n, want;
	struct {
		bool verified, skipped;
		char result[32];
		char subject[256];
		char provenance[128];
		char reason[256];
		size_t n_verified;
	} got[MAX_RESULTS];
};

static uint64_t fake_clock(void *arg)
{
	return ((struct env *)arg)->clock_ms;
}

static void on_result(void *arg, const struct k8s_image_verdict *v)
{
	struct env *e = arg;

	assert_true(e->n < MAX_RESULTS);
	e->got[e->n].verified = v->verified;
	e->got[e->n].skipped = v->skipped;
	snprintf(e->got[e->n].result, sizeof(e->got[e->n].result), "%s", v->result);
	snprintf(e->got[e->n].subject, sizeof(e->got[e->n].subject), "%s",
		 v->verified ? v->sig.subject : "");
	snprintf(e->got[e->n].provenance, sizeof(e->got[e->n].provenance), "%s",
		 v->verified && v->sig.provenance_type ? v->sig.provenance_type : "");
	e->got[e->n].n_verified = v->n_verified;
	snprintf(e->got[e->n].reason, sizeof(e->got[e->n].reason), "%s",
		 v->reason ? v->reason : "");
	if (v->verified) {
		assert_string_equal(v->sig.issuer, "https://token.actions.githubusercontent.com");
		assert_string_equal(v->sig.signature_b64, "MEUCIQDsig==");
		assert_int_equal(v->sig.log_index, 42);
		assert_int_equal(v->sig.integrated_time, 1700000000);
		assert_string_equal(v->sig.set_b64, "MEQCIset==");
	} else if (!v->skipped) {
		assert_non_null(v->reason);
	}
	e->n++;
	if (e->want && e->n >= e->want) /* only while wait_for runs the loop */
		loop_stop(e->loop);
}

static void on_watchdog(struct loop *loop, void *arg)
{
	fail_msg("timed out waiting for verification results");
}

/* Runs the loop until e->n reaches want. */
static void wait_for(struct env *e, int want)
{
	uint64_t id;

	if (e->n >= want)
		return;
	e->want = want;
	assert_int_equal(loop_add_timer(e->loop, 10000, on_watchdog, e, &id), 0);
	assert_int_equal(loop_run(e->loop), 0);
	loop_cancel_timer(e->loop, id);
	e->want = 0;
}

/* A sigstore block as config.c would produce it (built-in trusted root). */
static void sigstore_cfg(struct config_sigstore *c, bool enabled)
{
	char err[256];
	size_t len;
	const char *root = config_builtin_trusted_root(&len);

	memset(c, 0, sizeof(*c));
	c->enabled = enabled;
	snprintf(c->rekor_url, sizeof(c->rekor_url), "%s", CONFIG_SIGSTORE_DEFAULT_REKOR);
	snprintf(c->trusted_root_source, sizeof(c->trusted_root_source), "%s",
		 CONFIG_SIGSTORE_BUILTIN_ROOT);
	c->timeout_ms = 5000;
	c->enforce_sct = false;
	c->resolve_tags = true;
	c->skip_images = calloc(1, sizeof(char *));
	assert_non_null(c->skip_images);
	c->skip_images[0] = strdup(DIGEST_SKIP);
	c->n_skip_images = 1;
	if (!enabled)
		return;
	assert_int_equal(sigstore_trust_root_parse(root, len, &c->trust_root, err), 0);
	c->policy = sigstore_identity_policy_new();
	assert_non_null(c->policy);
	assert_int_equal(sigstore_identity_policy_add(c->policy,
						      "https://token.actions.githubusercontent.com",
						      "https://github.com/org/*", err),
			 0);
}

static void sigstore_cfg_free(struct config_sigstore *c)
{
	struct config cfg;

	/* config_free releases the block's owned fields */
	memset(&cfg, 0, sizeof(cfg));
	cfg.k8s_sigstore = *c;
	config_free(&cfg);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct image_sigs_opts o = {
		.verify = fake_verify, .resolve = fake_resolve, .now_ms = fake_clock};
	struct config_sigstore c;
	char err[IMAGE_SIGS_ERR_MAX];

	assert_non_null(e);
	atomic_store(&fake_calls, 0);
	atomic_store(&fake_bad_opts, 0);
	atomic_store(&fake_resolve_calls, 0);
	e->clock_ms = 1000000;
	log_init(&e->log, LOG_ERROR, 2);
	assert_int_equal(loop_new(&e->loop), 0);
	assert_int_equal(workers_new(e->loop, 2, &e->workers), 0);
	o.now_arg = e;
	assert_int_equal(image_sigs_new(&o, e->workers, &e->log, &e->s), 0);
	assert_false(image_sigs_enabled(e->s));
	sigstore_cfg(&c, true);
	assert_int_equal(image_sigs_configure(e->s, &c, err), 0);
	assert_null(c.trust_root); /* taken */
	assert_null(c.policy);
	sigstore_cfg_free(&c);
	assert_true(image_sigs_enabled(e->s));
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	image_sigs_cancel_all(e->s);
	workers_free(e->workers);
	image_sigs_free(e->s);
	loop_free(e->loop);
	free(e);
	assert_int_equal(atomic_load(&fake_bad_opts), 0);
	return 0;
}

static void stop_loop(struct loop *loop, void *arg)
{
	loop_stop(loop);
}

static json_int_t status_int(struct env *e, const char *section, const char *key)
{
	json_t *st = image_sigs_status_json(e->s), *v;
	json_int_t n;

	assert_non_null(st);
	v = section ? json_object_get(json_object_get(st, section), key) : json_object_get(st, key);
	assert_non_null(v);
	n = json_integer_value(v);
	json_decref(st);
	return n;
}

static void test_verified_then_cached(void **state)
{
	struct env *e = *state;
	struct image_sigs_req *req = NULL;

	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, &req), 0);
	assert_non_null(req);
	assert_int_equal(e->n, 0); /* never before the job ran */
	wait_for(e, 1);
	assert_true(e->got[0].verified);
	assert_string_equal(e->got[0].result, "verified");
	assert_string_equal(e->got[0].provenance, SIGSTORE_SLSA_PROVENANCE_V1);
	assert_int_equal(e->got[0].n_verified, 2);

	/* the second request is answered from the cache, before verify returns */
	req = NULL;
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, &req), 0);
	assert_int_equal(e->n, 2);
	assert_null(req);
	assert_true(e->got[1].verified);
	assert_string_equal(e->got[1].subject,
			    "https://github.com/org/app/.github/workflows/r.yml@refs/heads/main");
	/* the same digest under another repository is the same image */
	assert_int_equal(image_sigs_verify(e->s, "other.test/x@" DIGEST_OK, on_result, e, NULL), 0);
	assert_int_equal(e->n, 3);
	assert_int_equal(atomic_load(&fake_calls), 1);

	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "verified"), 1);
	assert_int_equal(status_int(e, "attestd_sigstore_verification_cache_total", "hit"), 2);
	assert_int_equal(status_int(e, "attestd_sigstore_verification_cache_total", "miss"), 1);
	assert_int_equal(status_int(e, NULL, "attestd_sigstore_signature_count"), 2);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 1);

	/* 5 minutes later the entry has expired */
	e->clock_ms += IMAGE_SIGS_CACHE_TTL_MS;
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, NULL), 0);
	assert_int_equal(e->n, 3);
	wait_for(e, 4);
	assert_string_equal(e->got[3].result, "verified");
	assert_true(e->got[3].verified);
	assert_int_equal(atomic_load(&fake_calls), 2);
	assert_int_equal(status_int(e, "attestd_sigstore_verification_cache_total", "miss"), 2);

	/* a reload drops the cache */
	image_sigs_drop_cache(e->s);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 0);
}

static void test_failures_not_cached(void **state)
{
	struct env *e = *state;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_NOSIG), on_result, e, NULL), 0);
		wait_for(e, i + 1);
		assert_false(e->got[i].verified);
		assert_string_equal(e->got[i].result, "not_signed");
	}
	assert_int_equal(atomic_load(&fake_calls), 2);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "not_signed"),
			 2);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "verified"), 0);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 0);
	assert_int_equal(status_int(e, NULL, "attestd_sigstore_signature_count"), 0);
}

static void test_coalesced(void **state)
{
	struct env *e = *state;

	for (int i = 0; i < 3; i++)
		assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SLOW), on_result, e, NULL), 0);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_NOPROV), on_result, e, NULL), 0);
	assert_int_equal(status_int(e, NULL, "jobs"), 2);
	assert_int_equal(status_int(e, NULL, "waiting"), 4);
	wait_for(e, 4);
	for (int i = 0; i < 4; i++)
		assert_true(e->got[i].verified);
	/* the fast one first, without provenance */
	assert_string_equal(e->got[0].provenance, "");
	assert_int_equal(atomic_load(&fake_calls), 2);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "verified"), 2);
	assert_int_equal(status_int(e, NULL, "jobs"), 0);
	assert_int_equal(status_int(e, NULL, "waiting"), 0);
}

static void test_cancel_waiter(void **state)
{
	struct env *e = *state;
	struct image_sigs_req *a = NULL, *b = NULL;

	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SLOW), on_result, e, &a), 0);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SLOW), on_result, e, &b), 0);
	image_sigs_cancel(e->s, a);
	wait_for(e, 1);
	assert_true(e->got[0].verified); /* the other waiter still gets the result */

	/* the last waiter cancelled: the job is cancelled and nothing is cached */
	image_sigs_drop_cache(e->s);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SLOW), on_result, e, &a), 0);
	image_sigs_cancel(e->s, a);
	while (status_int(e, NULL, "jobs") > 0) {
		uint64_t id;

		assert_int_equal(loop_add_timer(e->loop, 50, stop_loop, NULL, &id), 0);
		assert_int_equal(loop_run(e->loop), 0);
	}
	assert_int_equal(e->n, 1);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "cancelled"),
			 1);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 0);
}

static void test_reload_cancels(void **state)
{
	struct env *e = *state;
	struct config_sigstore c;
	char err[IMAGE_SIGS_ERR_MAX];

	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SLOW), on_result, e, NULL), 0);
	sigstore_cfg(&c, true);
	assert_int_equal(image_sigs_configure(e->s, &c, err), 0);
	sigstore_cfg_free(&c);
	wait_for(e, 1);
	assert_false(e->got[0].verified);
	assert_string_equal(e->got[0].result, "cancelled");
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "cancelled"),
			 1);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 0);

	/* enabled without a trusted root is refused and the running settings stay */
	sigstore_cfg(&c, false);
	c.enabled = true;
	assert_int_equal(image_sigs_configure(e->s, &c, err), -EINVAL);
	assert_non_null(strstr(err, "trusted root"));
	sigstore_cfg_free(&c);
	assert_true(image_sigs_enabled(e->s));

	/* switched off: requests are refused, the caller attests without signatures */
	sigstore_cfg(&c, false);
	assert_int_equal(image_sigs_configure(e->s, &c, err), 0);
	sigstore_cfg_free(&c);
	assert_false(image_sigs_enabled(e->s));
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, NULL), -ENOTCONN);
}

static void test_skip_images(void **state)
{
	struct env *e = *state;
	struct image_sigs_req *req = NULL;

	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SKIP), on_result, e, &req), 0);
	assert_int_equal(e->n, 1);
	assert_null(req);
	assert_true(e->got[0].skipped);
	assert_false(e->got[0].verified);
	assert_int_equal(atomic_load(&fake_calls), 0);
	assert_int_equal(status_int(e, "attestd_sigstore_verification_cache_total", "miss"), 0);
}

/* A tag is resolved through the registry first: none here, so a network error, not cached. */
static void test_tag_unreachable_registry(void **state)
{
	struct env *e = *state;

	assert_int_equal(image_sigs_verify(e->s, "127.0.0.1:1/app:v1", on_result, e, NULL), 0);
	wait_for(e, 1);
	assert_false(e->got[0].verified);
	assert_string_equal(e->got[0].result, "network_error");
	assert_int_equal(atomic_load(&fake_calls), 0);
	assert_int_equal(
		status_int(e, "attestd_sigstore_image_verification_total", "network_error"), 1);
}

/* resolve_tags: false refuses a tag-only reference at once (counted as an error); digests and
 * the config-digest fallback, whose proof is the digest, are unaffected. */
static void test_resolve_tags_off(void **state)
{
	struct env *e = *state;
	struct config_sigstore c;
	char err[IMAGE_SIGS_ERR_MAX];

	sigstore_cfg(&c, true);
	c.resolve_tags = false;
	assert_int_equal(image_sigs_configure(e->s, &c, err), 0);
	sigstore_cfg_free(&c);
	assert_int_equal(image_sigs_verify(e->s, "127.0.0.1:1/app:v1", on_result, e, NULL), 0);
	assert_int_equal(e->n, 1); /* synchronously */
	assert_false(e->got[0].verified);
	assert_string_equal(e->got[0].result, "error");
	if (!strstr(e->got[0].reason, "resolve_tags is false"))
		fail_msg("reason: %s", e->got[0].reason);
	assert_int_equal(atomic_load(&fake_calls), 0);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "error"), 1);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_SKIP), on_result, e, NULL), 0);
	assert_int_equal(e->n, 2);
	assert_true(e->got[1].skipped);
}

/*
 * A bare config digest (containerd's imageID of an imported image) with no signatures: the tag
 * is resolved, and its manifest is verified because its config is that digest; the result is
 * cached under both digests.
 */
static void test_config_digest_fallback(void **state)
{
	struct env *e = *state;
	struct image_sigs_req *req = NULL;

	assert_int_equal(image_sigs_verify_with_tag(e->s, REF(DIGEST_CFG), "registry.test/app:v1",
						    on_result, e, &req),
			 0);
	assert_non_null(req);
	wait_for(e, 1);
	assert_true(e->got[0].verified);
	assert_string_equal(e->got[0].result, "verified");
	assert_int_equal(atomic_load(&fake_calls), 2); /* X, then M */
	assert_int_equal(atomic_load(&fake_resolve_calls), 1);
	assert_int_equal(status_int(e, "attestd_sigstore_image_verification_total", "verified"), 1);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 2);

	/* cached under the config digest (whatever the tag names now) and the manifest digest */
	req = NULL;
	assert_int_equal(image_sigs_verify_with_tag(e->s, REF(DIGEST_CFG), "registry.test/app:v1",
						    on_result, e, &req),
			 0);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_CFG), on_result, e, &req), 0);
	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, &req), 0);
	assert_null(req);
	assert_int_equal(e->n, 4);
	for (int i = 1; i < 4; i++)
		assert_true(e->got[i].verified);
	assert_int_equal(atomic_load(&fake_calls), 2);
	assert_int_equal(status_int(e, "attestd_sigstore_verification_cache_total", "hit"), 3);
}

/* The config fallback never applies without a tag, nor when the tag names another image. */
static void test_config_digest_fallback_refused(void **state)
{
	struct env *e = *state;
	static const struct {
		const char *name, *ref, *tag, *result, *reason;
		int resolves; /* calls of the resolver */
	} cases[] = {
		{"no tag: not signed", REF(DIGEST_CFG), NULL, "not_signed", "no signatures", 0},
		{"the tag moved", REF(DIGEST_CFG), "registry.test/app:moved", "not_signed",
		 "tag registry.test/app:moved gives no other manifest of this image: app:moved "
		 "names",
		 1},
		{"another config under the right tag", REF(DIGEST_NOSIG), "registry.test/app:v1",
		 "not_signed", "gives no other manifest of this image", 1},
		{"a tag of another repository", REF(DIGEST_CFG), "registry.test/other:v1",
		 "not_signed", "not a tag of repository app", 0},
		{"a malformed tag", REF(DIGEST_CFG), "registry.test/app:-bad", "not_signed",
		 "bad tag", 0},
		{"resolving times out", REF(DIGEST_CFG), "registry.test/app:slow", "timeout",
		 "resolving tag registry.test/app:slow failed: GET app:slow: timed out", 1},
	};
	int resolves = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].name);
		assert_int_equal(image_sigs_verify_with_tag(e->s, cases[i].ref, cases[i].tag,
							    on_result, e, NULL),
				 0);
		wait_for(e, (int)i + 1);
		assert_false(e->got[i].verified);
		assert_string_equal(e->got[i].result, cases[i].result);
		if (!strstr(e->got[i].reason, cases[i].reason))
			fail_msg("reason \"%s\" lacks \"%s\"", e->got[i].reason, cases[i].reason);
		resolves += cases[i].resolves;
		assert_int_equal(atomic_load(&fake_resolve_calls), resolves);
	}
	/* a verified digest needs no fallback */
	assert_int_equal(image_sigs_verify_with_tag(e->s, REF(DIGEST_OK), "registry.test/app:v1",
						    on_result, e, NULL),
			 0);
	wait_for(e, 7);
	assert_true(e->got[6].verified);
	assert_int_equal(atomic_load(&fake_resolve_calls), resolves);
	assert_int_equal(status_int(e, NULL, "cache_entries"), 1);
	/* a tag too long for a reference is refused */
	{
		char tag[K8S_IMAGE_REF_MAX + 1];

		memset(tag, 'a', sizeof(tag) - 1);
		tag[sizeof(tag) - 1] = '\0';
		assert_int_equal(
			image_sigs_verify_with_tag(e->s, REF(DIGEST_CFG), tag, on_result, e, NULL),
			-EINVAL);
	}
}

static void test_status_json(void **state)
{
	struct env *e = *state;
	json_t *st, *h;
	static const char *const results[] = {"verified",      "not_signed", "identity_mismatch",
					      "network_error", "timeout",    "cancelled",
					      "error"};

	assert_int_equal(image_sigs_verify(e->s, REF(DIGEST_OK), on_result, e, NULL), 0);
	wait_for(e, 1);
	st = image_sigs_status_json(e->s);
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "attestor")), "kubernetes");
	assert_true(json_is_true(json_object_get(st, "enabled")));
	assert_string_equal(json_string_value(json_object_get(st, "trusted_root")), "built-in");
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		assert_non_null(json_object_get(
			json_object_get(st, "attestd_sigstore_image_verification_total"),
			results[i]));
		assert_non_null(json_object_get(
			json_object_get(st, "attestd_sigstore_image_verification_duration_seconds"),
			results[i]));
	}
	h = json_object_get(
		json_object_get(st, "attestd_sigstore_image_verification_duration_seconds"),
		"verified");
	assert_int_equal(json_integer_value(json_object_get(h, "count")), 1);
	/* the fake clock did not move: 0 ms, in every bucket (cumulative) */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "buckets"), "0.01")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "buckets"), "+Inf")),
			 1);
	json_decref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verified_then_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_not_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coalesced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_waiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_cancels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tag_unreachable_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_tags_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_digest_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_digest_fallback_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_json, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
