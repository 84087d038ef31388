/*
 * audit.h - the audit ring: the last N attestation records, newest first, read as JSON objects.
 * Every attestation (Workload API connection, RPC or /v1/attest) is appended; the admin API and
 * attestctl read it. Loop thread only. Records are stored compactly (one flat allocation each)
 * and rendered to JSON when read, so appending costs no JSON tree.
 */
#ifndef DAEMON_AUDIT_H
#define DAEMON_AUDIT_H

#include <jansson.h>
#include <stdint.h>
#include <time.h>

#include "attest/attrs.h"
#include "attest/peer.h"

#define AUDIT_MAX_CAPACITY (1u << 20)

struct audit;

/* capacity 1..AUDIT_MAX_CAPACITY records. Caller frees with audit_free(). -EINVAL, -ENOMEM. */
int audit_new(uint32_t capacity, struct audit **out);
void audit_free(struct audit *a);

/* Input of one record. */
struct audit_entry {
	const char *socket; /* path of the listening socket, or "admin" for /v1/attest */
	const struct peer_identity *peer;  /* may be NULL if nothing was captured */
	const struct attr_set *attrs;	   /* may be NULL */
	const struct selectors *selectors; /* may be NULL */
	int result;			   /* 0 = attested, else -errno */
	const char *error;		   /* message when result != 0 (NULL: strerror(-result)) */
	uint64_t duration_us;
	const char *rpc;	       /* Workload API method path; NULL for the connection */
	const char *const *spiffe_ids; /* identities issued by the RPC */
	size_t nspiffe_ids;
	const char *const *policy_errors; /* templates that matched but could not render */
	size_t npolicy_errors;
};

/*
 * Copies a record (see audit_record_json) with the next id (1, 2, ...) and the current
 * CLOCK_REALTIME time into the ring, dropping the oldest when full. Returns the new id (> 0) or
 * -ENOMEM. If rec_out is not NULL, *rec_out receives the record as JSON, borrowed: valid until
 * the next audit_append() or audit_free() (json_incref() it to keep it). Pass NULL when the JSON
 * is not needed: rendering it is most of the cost.
 */
int64_t audit_append(struct audit *a, const struct audit_entry *e, json_t **rec_out);
/* New reference: a JSON array of the newest min(limit, stored) records, newest first, rendered
 * now (each call builds new objects). limit 0 means all stored. NULL on allocation failure. */
json_t *audit_list(const struct audit *a, uint32_t limit);
/* Records ever appended (the newest id). */
uint64_t audit_count(const struct audit *a);
/* Records currently stored (<= capacity). */
uint32_t audit_size(const struct audit *a);

/*
 * New reference, NULL on allocation failure:
 * {"id": 1, "time": "2026-11-22T21:40:01.123456Z", "socket": "/run/attestd/agent.sock",
 *  "peer": {"pid", "tid", "start_time_ns", "uid", "gid", "euid", "egid",
 *           "supplementary_gids": [..], "cgroup_id", "cgroup_path", "exe", "exe_dev", "exe_ino",
 *           "comm", "namespaces": {"mnt", "pid", "net", "user"}, "backend", "race_free"},
 *  "selectors": ["unix:uid:0", ...], "attributes": {"unix.uid": ["0"], ...},
 *  "result": "attested" | "error", "error": null | "...", "duration_us": 123,
 *  "rpc": null | "/SpiffeWorkloadAPI/FetchX509SVID", "spiffe_ids": ["spiffe://..."],
 *  "policy_errors": ["templates[0]: spiffe_id: attribute ... is missing"]}
 * Unknown values are null: "peer" when e->peer is NULL; cgroup_id 0, cgroup_path "", exe "",
 * comm "", a namespace inode 0, exe_dev/exe_ino when !exe_known. 64-bit numbers are JSON
 * integers (jansson's long long); a value above INT64_MAX (not seen for real cgroup ids or
 * inodes) is emitted as null rather than wrapped. exe_dev is the user-space dev_t (st_dev).
 * "selectors" is [] and "attributes" {} when not given. Strings that are not valid UTF-8 (paths,
 * comm, attribute values come from outside) have each offending byte replaced by U+FFFD.
 */
json_t *audit_record_json(uint64_t id, const struct timespec *t, const struct audit_entry *e);

#endif /* DAEMON_AUDIT_H */
