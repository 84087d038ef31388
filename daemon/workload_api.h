/*
 * workload_api.h - the SPIFFE Workload API (service SpiffeWorkloadAPI, no proto
 * package) on the agent socket. Each connection is attested once, at accept,
 * from the identity captured at connect time; every RPC on it reuses that
 * attestation and matches it against the current policy. Streams carry the full
 * current state and push a new message when an SVID rotates or a config reload
 * changes the caller's identities. Every RPC is recorded in the audit ring.
 * Loop thread only.
 */
#ifndef DAEMON_WORKLOAD_API_H
#define DAEMON_WORKLOAD_API_H

#include <stdint.h>

#include "attest/attrs.h"
#include "attest/peer.h"
#include "attest/policy.h"
#include "daemon/audit.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/svid.h"
#include "daemon/svid_cache.h"
#include "daemon/workers.h"

#define WORKLOAD_API_HEADER		   "workload.spiffe.io" /* must be "true" on every call */
#define WORKLOAD_API_REFRESH_HINT_S	   300			/* JWKS spiffe_refresh_hint */
#define WORKLOAD_API_ERR_MAX		   256
#define WORKLOAD_API_FIRST_CALL_TIMEOUT_MS 10000 /* a connection must start a call by then */

struct workload_api_opts {
	const char *trust_domain;
	const char *socket_path; /* for audit records */
	uint64_t jwt_ttl_s;
};

struct workload_api;

/* All pointers must outlive the api. The policy may be replaced later. Caller
 * frees. */
int workload_api_new(const struct workload_api_opts *opts, struct loop *loop, struct log *lg,
		     struct workers *workers, struct audit *audit, const struct svid_ca *ca,
		     struct svid_cache *cache, const struct policy *policy,
		     struct workload_api **out, char err[WORKLOAD_API_ERR_MAX]);
/*
 * Shutdown is two-phase because pending SVID issuance holds calls: workload_api_shutdown()
 * closes every connection and stops watching rotations; then the caller frees the SVID cache
 * (which completes pending gets); then workload_api_free().
 */
void workload_api_shutdown(struct workload_api *api);
void workload_api_free(struct workload_api *api);

/* Config reload: from now on `policy` decides; open X.509-SVID streams whose
 * identities changed get a new message (or PERMISSION_DENIED when none is
 * left). The caller frees the old policy after this returns. */
void workload_api_set_policy(struct workload_api *api, const struct policy *policy);

/* Open streams and connections, for /v1/status. */
unsigned workload_api_connection_count(const struct workload_api *api);
unsigned workload_api_stream_count(const struct workload_api *api);

/* agent_conn_ops hooks (arg = the api). */
void *workload_api_conn_open(void *api, int fd);
void workload_api_conn_attested(void *conn, const struct peer_identity *peer,
				struct attr_set *attrs, struct selectors *sel, int rc,
				const char *err);

#endif /* DAEMON_WORKLOAD_API_H */
