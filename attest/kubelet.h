/*
 * kubelet.h - the kubelet pod cache: GET /pods from the node's kubelet (options as SPIRE's k8s
 * workload attestor), parsed into a k8s_pods index, looked up by pod UID and container ID.
 * One request in flight at a time; a miss triggers a refresh no more often than min_interval;
 * a background refresh runs every interval; a lookup never waits past its deadline and fails
 * with a reason naming the kubelet URL. Single-threaded: all I/O goes through struct kubelet_io
 * (daemon/http_fetch.h fills it from the event loop), so this module has no daemon dependency.
 */
#ifndef ATTEST_KUBELET_H
#define ATTEST_KUBELET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/k8s_pods.h"

#define KUBELET_DEFAULT_SECURE_PORT	10250
#define KUBELET_DEFAULT_CA		"/run/secrets/kubernetes.io/serviceaccount/ca.crt"
#define KUBELET_DEFAULT_TOKEN		"/var/run/secrets/kubernetes.io/serviceaccount/token"
#define KUBELET_DEFAULT_NODE_NAME_ENV	"MY_NODE_NAME"
#define KUBELET_DEFAULT_MIN_INTERVAL_MS 500
#define KUBELET_DEFAULT_INTERVAL_MS	10000
#define KUBELET_DEFAULT_DEADLINE_MS	5000
#define KUBELET_MAX_TOKEN		16384 /* bytes of the token file */
#define KUBELET_MAX_WAITERS		4096  /* lookups waiting at once; more get -EAGAIN */
#define KUBELET_MAX_ID			256   /* bytes of a pod UID or container ID */
#define KUBELET_MAX_HOST		253   /* bytes of a node name / host name */
#define KUBELET_MAX_DEADLINE_MS		(10u * 60u * 1000u)
#define KUBELET_ERR_MAX			256

/* ---- the I/O the cache needs (filled by the daemon; fakes in tests) ---------------------- */

/* One GET the cache asks for. Strings are valid during the fetch() call only. */
struct kubelet_fetch {
	const char *url;
	const char *connect_host; /* NULL, or connect here and verify TLS against the URL host */
	uint16_t connect_port;	  /* with connect_host: 0 = the URL's port */
	const char *ca_file;	  /* NULL: no CA file given (system default) */
	bool skip_verify;
	const char *cert, *key;	   /* client certificate, or NULL */
	const char *authorization; /* "Authorization: Bearer ..." header line, or NULL */
	uint64_t timeout_ms;
	size_t max_body;
};

/*
 * Completion of a fetch: rc 0 with an HTTP status and body (len bytes, borrowed for the call),
 * or rc < 0 with err naming the URL and the problem (timeout, TLS, too large, ...).
 */
typedef void (*kubelet_fetch_done)(void *arg, int rc, long status, const char *body, size_t len,
				   const char *err);
typedef void (*kubelet_timer_fn)(void *arg);

struct kubelet_io {
	void *ctx; /* first argument of every function below */
	/* Starts a GET; done(arg, ...) later, never from inside fetch(). *handle is for
	 * fetch_cancel() and invalid once done has started. 0 or -errno (err not needed). */
	int (*fetch)(void *ctx, const struct kubelet_fetch *req, kubelet_fetch_done done, void *arg,
		     void **handle);
	void (*fetch_cancel)(void *ctx, void *handle);
	/* One-shot timer; *handle invalid once fn has started. 0 or -errno. */
	int (*timer_add)(void *ctx, uint64_t delay_ms, kubelet_timer_fn fn, void *arg,
			 void **handle);
	void (*timer_cancel)(void *ctx, void *handle);
	uint64_t (*now_ms)(void *ctx); /* monotonic */
	/* Optional (may be NULL): a state change worth one log line (refresh failing, recovered). */
	void (*log)(void *ctx, bool warn, const char *msg);
	/*
	 * Optional (may be NULL: parse on the calling thread): run fn(arg) on another thread and
	 * done(arg) back on this one. A 5 MB pod list takes ~70 ms to parse; this keeps that off
	 * the event loop. fn touches only its argument. 0 or -errno (then neither runs).
	 */
	int (*work)(void *ctx, void (*fn)(void *arg), void (*done)(void *arg), void *arg);
};

/* ---- options ----------------------------------------------------------------------------- */

/* Zero / NULL / "" fields take the default named. Same meaning as SPIRE's k8s attestor. */
struct kubelet_opts {
	uint16_t secure_port;	   /* HTTPS port; default KUBELET_DEFAULT_SECURE_PORT */
	uint16_t read_only_port;   /* plain HTTP to 127.0.0.1:<port>; excludes secure_port */
	const char *ca;		   /* default KUBELET_DEFAULT_CA */
	bool skip_verification;	   /* do not verify the kubelet's certificate */
	const char *token_path;	   /* default KUBELET_DEFAULT_TOKEN unless cert or anonymous */
	const char *cert, *key;	   /* client certificate auth (both or neither) */
	bool anonymous;		   /* no credentials; excludes token_path, cert, key */
	const char *node_name_env; /* default KUBELET_DEFAULT_NODE_NAME_ENV */
	const char *node_name;	   /* wins over the environment variable */
	/* Without a node name: the name the certificate must match (default gethostname()). */
	const char *hostname;
	uint64_t min_interval_ms;    /* default KUBELET_DEFAULT_MIN_INTERVAL_MS */
	uint64_t interval_ms;	     /* background refresh; default KUBELET_DEFAULT_INTERVAL_MS */
	uint64_t deadline_ms;	     /* lookups; default KUBELET_DEFAULT_DEADLINE_MS */
	uint64_t request_timeout_ms; /* one GET; default: the deadline */
	size_t max_body;	     /* default (and at most) K8S_PODS_MAX_BYTES */
};

struct kubelet;
struct kubelet_wait;
struct kubelet_snapshot;

/*
 * Validates opts and builds the kubelet URL:
 *   read_only_port        http://127.0.0.1:<read_only_port>/pods
 *   node name known       https://<node_name>:<secure_port>/pods (resolved, verified against it)
 *   no node name          https://<hostname>:<secure_port>/pods, connecting to 127.0.0.1 and
 *                         verifying the certificate against the host name
 * and starts the first refresh at once. opts strings are copied; io is copied (its ctx must
 * outlive the kubelet). Caller frees *out with kubelet_free(). -EINVAL with err ("kubelet:
 * read_only_port and secure_port are mutually exclusive"), -ENOMEM.
 */
int kubelet_new(const struct kubelet_opts *opts, const struct kubelet_io *io, struct kubelet **out,
		char err[KUBELET_ERR_MAX]);

/*
 * Cancels the request in flight and the timer; every lookup still waiting gets its callback with
 * -ECANCELED (those callbacks must not call kubelet functions). Not from a lookup callback.
 */
void kubelet_free(struct kubelet *k);

/* "https://node-a:10250/pods" */
const char *kubelet_url(const struct kubelet *k);

/*
 * Result of a lookup, on the loop thread. rc 0: pod is set, and ref is set when the container
 * was found (always when a container ID was asked for, unless KUBELET_CONTAINER_OPTIONAL).
 * rc < 0: pod and ref are NULL and err says why:
 *   -ETIMEDOUT  not found before the deadline ("kubelet: pod <uid> not found after 5.0 s (last
 *               refresh: 200 ms ago, 4 pods)"), or no answer from the kubelet in time
 *   -ENOTUNIQ   the container ID (or pod UID) is claimed twice in the pod list
 *   -EPROTO     the container is in another pod than pod_uid; or the pod list is malformed
 *   -EACCES     the kubelet answered 401/403; -EIO another HTTP status or a failed transfer
 *   -ECANCELED  kubelet_free() while waiting
 *   and the fetch's own errors (TLS: -EPROTO, refused: -ECONNREFUSED, ...)
 * pod, ref and everything they point to belong to the pod-list snapshot they came from, valid
 * until the callback returns; kubelet_snapshot_hold() inside the callback keeps them longer.
 */
typedef void (*kubelet_lookup_cb)(void *arg, int rc, const struct k8s_pod *pod,
				  const struct k8s_container_ref *ref, const char *err);

/*
 * With a container ID, complete as soon as the pod is known from a pod list fetched after the
 * lookup started (ref NULL if the container is still missing from it), instead of waiting for
 * the container until the deadline. For when the runtime can name the container (a postStart
 * hook is running and the kubelet reports no containerID yet).
 */
#define KUBELET_CONTAINER_OPTIONAL 0x1u

/*
 * Looks up the pod with pod_uid and, if container_id is neither NULL nor "", its container with
 * that ID (no runtime scheme). pod_uid may be NULL/"" when only the container ID is known: the
 * container's pod is then returned. At least one of them is required.
 *
 * Warm cache: cb runs synchronously, before kubelet_lookup returns, and *wait is set to NULL.
 * Miss: a refresh starts (or is scheduled min_interval after the previous request started; a
 * request in flight is waited for), the lookup waits until the pod/container appears in a
 * refreshed list, a refresh fails (cb gets the kubelet error) or deadline_ms (0 = the default)
 * passes; cb runs later from the loop and *wait (if not NULL) can cancel it until then.
 * Returns 0 (cb will run exactly once, or has run), or -EINVAL (no UID and no ID, too long, bad
 * flags), -EAGAIN (KUBELET_MAX_WAITERS waiting), -ENOMEM; then cb never runs.
 */
int kubelet_lookup(struct kubelet *k, const char *pod_uid, const char *container_id, unsigned flags,
		   uint64_t deadline_ms, kubelet_lookup_cb cb, void *arg,
		   struct kubelet_wait **wait);

/* Cancels a waiting lookup; its callback never runs. */
void kubelet_cancel(struct kubelet *k, struct kubelet_wait *wait);

/*
 * Only inside a lookup callback with rc 0: takes a reference on the snapshot its pod and ref
 * point into, so they stay valid after the callback and across refreshes, even after
 * kubelet_free(). Release with kubelet_snapshot_release(). NULL outside a callback.
 */
struct kubelet_snapshot *kubelet_snapshot_hold(struct kubelet *k);
void kubelet_snapshot_release(struct kubelet_snapshot *snap);

/* For /v1/status and metrics. */
struct kubelet_stats {
	uint64_t requests;	      /* GETs started (or failed to start) */
	uint64_t refreshes;	      /* successful ones */
	uint64_t failures;	      /* failed ones */
	uint64_t lookups;	      /* kubelet_lookup calls accepted */
	uint64_t hits;		      /* answered from the cache at once */
	uint64_t timeouts;	      /* lookups that hit their deadline */
	size_t pods;		      /* in the current pod list */
	size_t waiting;		      /* lookups waiting now */
	bool in_flight;		      /* a request is running */
	uint64_t last_refresh_age_ms; /* since the last successful refresh; UINT64_MAX = never */
	int last_rc;		      /* of the last request: 0 or -errno */
	char last_error[KUBELET_ERR_MAX]; /* of the last failed request ("" if none ever failed) */
};
void kubelet_stats(const struct kubelet *k, struct kubelet_stats *out);

#endif /* ATTEST_KUBELET_H */
