/*
 * agent.h - the agent socket and the attestation pipeline. Every connection accepted on the
 * agent socket is attested at once (capture -> names the names cache lacks, from NSS on the
 * worker pool -> unix attestor -> exe hash on the worker pool -> selectors) and recorded in the
 * audit ring; the connection is then closed (the Workload API will serve it once it exists).
 * The same pipeline attests a live pid for the admin API.
 * Loop thread only.
 */
#ifndef DAEMON_AGENT_H
#define DAEMON_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/capture.h"
#include "attest/k8s_workload.h"
#include "daemon/audit.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/workers.h"

#define AGENT_LISTEN_BACKLOG  4096
#define AGENT_HASH_CACHE_SIZE 4096
#define AGENT_MAX_INFLIGHT    65536 /* attestations in progress; more are refused and recorded */
#define AGENT_ERR_MAX	      256

struct agent_counters {
	uint64_t connections;	   /* accepted on the agent socket */
	uint64_t attested;	   /* records with result "attested" */
	uint64_t errors;	   /* records with result "error" */
	uint64_t captures_missing; /* BPF backend had no record; fell back or failed */
	uint64_t hashes;	   /* executables hashed (cache misses) */
};

/*
 * What happens to an accepted connection after capture. Without ops it is closed once
 * attested. open() takes the fd (it closes it itself on failure and returns NULL); attested()
 * receives the result later, with ownership of attrs and sel (either may be empty).
 */
struct agent_conn_ops {
	void *(*open)(void *arg, int fd);
	void (*attested)(void *conn, const struct peer_identity *peer, struct attr_set *attrs,
			 struct selectors *sel, int rc, const char *err);
	void *arg;
};

struct agent_opts {
	const struct agent_conn_ops *conn_ops; /* NULL: close after attesting */
	const char *socket_path;
	bool require_race_free;
	bool unix_enabled;
	uint64_t hash_size_limit;
	const struct k8s_workload_opts *k8s; /* NULL: the Kubernetes attestor is off */
};

struct agent;

/* Binds the agent socket (mode 0777), registers it with capture, starts accepting.
 * All pointers must outlive the agent. Caller frees with agent_free(). */
int agent_new(const struct agent_opts *opts, struct loop *loop, struct log *lg, struct capture *cap,
	      struct workers *workers, struct audit *audit, struct agent **out,
	      char err[AGENT_ERR_MAX]);
/* Stops accepting, unlinks the socket. In-flight attestations finish first if the loop still
 * runs; otherwise they are dropped when the workers are freed. */
void agent_free(struct agent *agent);

const struct agent_counters *agent_get_counters(const struct agent *agent);

/*
 * Attests a live pid now (backend "proc", race_free false) and calls done with the audit
 * record (borrowed) or, if the pid cannot be read, with a negative errno and a message.
 */
typedef void (*agent_done_fn)(void *arg, int rc, json_t *record, const char *err);
int agent_attest_pid(struct agent *agent, pid_t pid, agent_done_fn done, void *arg);

#endif /* DAEMON_AGENT_H */
