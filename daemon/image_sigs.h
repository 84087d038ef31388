/*
 * image_sigs.h - Sigstore image-signature verification for the Kubernetes attestor, driven from
 * the loop thread (attestors.kubernetes.sigstore). Verified results are cached per image digest
 * for IMAGE_SIGS_CACHE_TTL_MS (monotonic clock); failures never are. Concurrent requests for one
 * image share one job on the worker pool, which runs sigstore_image_verify with its own OCI
 * client, an overall deadline (timeout) and a cancel flag that reload and shutdown raise (its
 * waiters then get "cancelled"). Counts results, durations, signatures and cache hits for
 * /v1/status. Loop thread only.
 */
#ifndef DAEMON_IMAGE_SIGS_H
#define DAEMON_IMAGE_SIGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/k8s_workload.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/workers.h"
#include "sigstore/image.h"

#define IMAGE_SIGS_CACHE_TTL_MS (5u * 60u * 1000u)
#define IMAGE_SIGS_MAX_CACHE	1024 /* cached images; the oldest goes first */
#define IMAGE_SIGS_MAX_JOBS	256  /* images being verified at once; more get -EAGAIN */
#define IMAGE_SIGS_MAX_WAITERS	4096 /* requests waiting at once; more get -EAGAIN */
#define IMAGE_SIGS_ERR_MAX	256
#define IMAGE_SIGS_THREADS	4 /* registry worker threads (mostly waiting on I/O) */

/* sigstore_image_verify's signature: tests replace it (no registry needed). */
typedef int (*image_sigs_verify_fn)(struct sigstore_oci_client *c,
				    const struct sigstore_oci_ref *ref,
				    const struct sigstore_image_opts *o,
				    struct sigstore_image_verification *out);

/* sigstore_oci_find_manifest_for_config's signature: tests replace it as well. */
typedef int (*image_sigs_resolve_fn)(struct sigstore_oci_client *c,
				     const struct sigstore_oci_ref *tag_ref,
				     const char *config_digest,
				     char manifest_digest[SIGSTORE_OCI_DIGEST_LEN], char err[256]);

struct image_sigs_opts {
	image_sigs_verify_fn verify;   /* NULL = sigstore_image_verify */
	image_sigs_resolve_fn resolve; /* NULL = sigstore_oci_find_manifest_for_config */
	/* monotonic clock in ms for the cache and durations; NULL = CLOCK_MONOTONIC */
	uint64_t (*now_ms)(void *arg);
	void *now_arg;
	bool insecure_http; /* registry over plain http (tests only) */
};

struct image_sigs;
struct image_sigs_req;

/* Starts disabled (configure it). All pointers must outlive the service. -ENOMEM. */
int image_sigs_new(const struct image_sigs_opts *o, struct workers *w, struct log *lg,
		   struct image_sigs **out);
/*
 * Applies attestors.kubernetes.sigstore: takes cfg->trust_root and cfg->policy (they are NULL
 * afterwards) and copies the rest. Jobs in flight are cancelled (their waiters get "cancelled"
 * once the worker stops) and the cache is dropped. Logs the trusted root in use and, with
 * skip_transparency_log, that keyless signatures will fail. -EINVAL (enabled without trust
 * root or policy), -ENOMEM; the previous configuration then stays.
 */
int image_sigs_configure(struct image_sigs *s, struct config_sigstore *cfg,
			 char err[IMAGE_SIGS_ERR_MAX]);
/* Drops the cached results (every config reload does, even when sigstore did not change). */
void image_sigs_drop_cache(struct image_sigs *s);
/* Cancels every job in flight (shutdown: call before workers_free, so it does not wait). */
void image_sigs_cancel_all(struct image_sigs *s);
/* After workers_free (every job's completion has run). */
void image_sigs_free(struct image_sigs *s);

bool image_sigs_enabled(const struct image_sigs *s);

/*
 * Verifies image_ref ("repo@sha256:<hex>", or a tag resolved through the registry). cb runs
 * exactly once on the loop thread: before this returns for a cached result or a digest in
 * skip_images (then *req is not written), else when the job completes. *req is for
 * image_sigs_cancel until cb starts. 0, or -ENOTCONN (disabled), -EAGAIN (limits), -ENOMEM,
 * -EINVAL (image_ref too long): cb then never runs.
 */
int image_sigs_verify(struct image_sigs *s, const char *image_ref, k8s_image_verify_done cb,
		      void *arg, struct image_sigs_req **req);
/*
 * The same, with config_tag_ref ("<repository>:<tag>", NULL or "" = none; see
 * k8s_attestor_image_ref): when image_ref's digest X has no signatures (not_signed), the job
 * resolves that tag through the registry and verifies the manifest M it names (or one of its
 * index's children) if and only if M's config digest is X; a verified result is then cached
 * under M and X. When the tag names no such manifest the result stays not_signed, with a reason
 * saying what the tag names instead. -EINVAL also when config_tag_ref is too long.
 */
int image_sigs_verify_with_tag(struct image_sigs *s, const char *image_ref,
			       const char *config_tag_ref, k8s_image_verify_done cb, void *arg,
			       struct image_sigs_req **req);
/* cb is not called after this; the job goes on for the other waiters (or is cancelled). */
void image_sigs_cancel(struct image_sigs *s, struct image_sigs_req *req);

/* The attestor's interface (attest/k8s_workload.h) backed by this service. */
void image_sigs_k8s_verifier(struct image_sigs *s, struct k8s_image_verifier *out);

/*
 * The "sigstore" section of /v1/status: {"attestor": "kubernetes", "enabled", "trusted_root",
 * "rekor_url", "cache_entries", "jobs", "waiting",
 * "attestd_sigstore_image_verification_total": {<result>: n, ...},
 * "attestd_sigstore_image_verification_duration_seconds": {<result>: {"count", "sum",
 *   "buckets": {"<le>": cumulative n, ..., "+Inf": n}}},
 * "attestd_sigstore_signature_count": n (verified signatures seen by completed verifications:
 *   the sum of n_verified),
 * "attestd_sigstore_verification_cache_total": {"hit": n, "miss": n}}. NULL on ENOMEM.
 */
json_t *image_sigs_status_json(const struct image_sigs *s);

#endif /* DAEMON_IMAGE_SIGS_H */
