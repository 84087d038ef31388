/*
 * agent.c - agent socket and attestation pipeline. See agent.h.
 *
 * One attestation: capture (loop thread, microseconds) -> user and group names the names cache
 * lacks, looked up on a worker (NSS may read files or ask a directory server: 100-500 us here for
 * an id it does not know, far more with LDAP, stalling every other connection), shared by every
 * attestation waiting for the same ids (alone in flight with a fast NSS: on the loop, see
 * AGENT_NSS_INLINE_MAX_US) -> unix attestor (loop thread, names from the cache) -> open the
 * connect-time executable by (dev, ino) (loop thread) -> SHA-256 on a worker, shared by every
 * attestation waiting for the same file -> selectors -> audit record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "attest/attrs.h"
#include "attest/exe_hash.h"
#include "attest/procfs.h"
#include "attest/unix_attestor.h"
#include "daemon/agent.h"

struct attestation {
	struct agent *agent;
	struct peer_identity peer;
	bool have_peer;
	struct attr_set *attrs;
	uint64_t start_us;
	const char *socket; /* agent socket path, or "admin" */
	int result;
	char error[AGENT_ERR_MAX];
	agent_done_fn done;
	void *done_arg;
	void *conn; /* agent_conn_ops context of the connection, if any */
	struct k8s_workload_req *k8s_req;
	struct attestation *next_waiter;
};

/*
 * Name lookups the cache cannot answer run on a worker (NSS may ask a directory server), except
 * for an attestation alone in flight while NSS has been answering within this time.
 */
#define AGENT_NSS_INLINE_MAX_US 1000

/* NSS lookups in flight for the names one attestation lacks; others lacking no more wait on it. */
struct names_job {
	struct agent *agent;
	uint64_t took_us; /* the lookups, on the worker */
	struct unix_names_batch batch;
	struct attestation *waiters;
	struct names_job *next;
};

/* One SHA-256 in flight for one file; attestations of the same file wait on it. */
struct hash_job {
	struct agent *agent;
	struct exe_file_key key;
	int fd;
	uint64_t size_limit;
	int rc;
	char hex[EXE_HASH_HEX_LEN + 1];
	char err[256];
	struct attestation *waiters;
	struct hash_job *next;
};

struct agent {
	struct agent_conn_ops conn_ops;
	bool have_conn_ops;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool require_race_free;
	bool unix_enabled;
	uint64_t hash_size_limit;
	const struct k8s_workload_opts *k8s;
	int listen_fd;
	struct loop *loop;
	struct log *log;
	struct capture *cap;
	struct workers *workers;
	struct audit *audit;
	struct exe_hash_cache *hash_cache;
	struct unix_names_cache *names; /* uid/gid -> name, for the unix attestor */
	struct hash_job *hash_jobs;
	struct names_job *names_jobs;
	uint64_t nss_last_us; /* how long the last batch of name lookups took */
	uint64_t inflight;
	struct agent_counters counters;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void attestation_free(struct attestation *at)
{
	if (!at)
		return;
	attr_set_free(at->attrs);
	free(at);
}

static void attestation_finish(struct attestation *at)
{
	struct agent *agent = at->agent;
	struct selectors sel = {0};
	struct audit_entry entry = {0};
	json_t *rec = NULL;
	int64_t id;

	if (at->result == 0 && at->attrs && attr_set_selectors(at->attrs, &sel) < 0) {
		at->result = -ENOMEM;
		snprintf(at->error, sizeof(at->error), "cannot derive selectors: out of memory");
	}
	entry.socket = at->socket;
	entry.peer = at->have_peer ? &at->peer : NULL;
	entry.attrs = at->attrs;
	entry.selectors = &sel;
	entry.result = at->result;
	entry.error = at->result ? at->error : NULL;
	entry.duration_us = now_us() - at->start_us;
	id = audit_append(agent->audit, &entry, at->done ? &rec : NULL);
	if (at->result == 0)
		agent->counters.attested++;
	else
		agent->counters.errors++;
	if (at->result)
		log_info(agent->log, "attestation failed", "id", (long long)id, "pid",
			 at->have_peer ? at->peer.pid : 0, "error", at->error);
	else
		log_debug(agent->log, "attested", "id", (long long)id, "pid", at->peer.pid, "uid",
			  at->peer.euid, "backend", peer_backend_name(at->peer.backend),
			  "selectors", (unsigned long)sel.n);
	if (at->done)
		at->done(at->done_arg, id < 0 ? (int)id : 0, id < 0 ? NULL : rec,
			 id < 0 ? "cannot record attestation" : NULL);
	if (at->conn) {
		/* The connection takes the attributes and selectors it will match policy on. */
		agent->conn_ops.attested(at->conn, at->have_peer ? &at->peer : NULL, at->attrs,
					 &sel, at->result, at->result ? at->error : NULL);
		at->attrs = NULL;
		sel = (struct selectors){0};
	}
	selectors_free(&sel);
	agent->inflight--;
	attestation_free(at);
}

static void add_sha256(struct attestation *at, const char *hex)
{
	if (attr_set_add(at->attrs, "unix.sha256", hex) < 0) {
		at->result = -ENOMEM;
		snprintf(at->error, sizeof(at->error), "cannot add unix.sha256: out of memory");
	}
}

/* Worker thread: touches only the job. */
static void hash_job_run(void *arg)
{
	struct hash_job *job = arg;

	job->rc = exe_hash_sha256_fd(job->fd, &job->key, job->size_limit, job->hex, job->err);
}

/* Loop thread. */
static void hash_job_done(void *arg)
{
	struct hash_job *job = arg;
	struct agent *agent = job->agent;
	struct hash_job **pp;
	struct attestation *at, *next;

	close(job->fd);
	for (pp = &agent->hash_jobs; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	}
	agent->counters.hashes++;
	if (job->rc == 0)
		exe_hash_cache_put(agent->hash_cache, &job->key, job->hex);
	else
		log_info(agent->log, "executable not hashed; unix:sha256 omitted", "error",
			 job->err);
	for (at = job->waiters; at; at = next) {
		next = at->next_waiter;
		if (job->rc == 0)
			add_sha256(at, job->hex);
		attestation_finish(at);
	}
	free(job);
}

static bool same_key(const struct exe_file_key *a, const struct exe_file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* Adds unix.sha256 now (cache), later (worker), or never (no matching file). */
static void attestation_hash(struct attestation *at)
{
	struct agent *agent = at->agent;
	char hex[EXE_HASH_HEX_LEN + 1], err[256] = "";
	struct exe_file_key key;
	struct hash_job *job;
	int fd, rc;

	rc = exe_hash_open(&at->peer, &fd, &key, err);
	if (rc < 0) {
		log_debug(agent->log, "executable not opened; unix:sha256 omitted", "pid",
			  at->peer.pid, "error", err);
		attestation_finish(at);
		return;
	}
	if (exe_hash_cache_get(agent->hash_cache, &key, hex)) {
		close(fd);
		add_sha256(at, hex);
		attestation_finish(at);
		return;
	}
	for (job = agent->hash_jobs; job; job = job->next) {
		if (same_key(&job->key, &key)) {
			close(fd);
			at->next_waiter = job->waiters;
			job->waiters = at;
			return;
		}
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		close(fd);
		attestation_finish(at);
		return;
	}
	job->agent = agent;
	job->key = key;
	job->fd = fd;
	job->size_limit = agent->hash_size_limit;
	job->waiters = at;
	rc = workers_submit(agent->workers, hash_job_run, hash_job_done, job);
	if (rc < 0) {
		log_warn(agent->log, "cannot queue hashing; unix:sha256 omitted", "error",
			 strerror(-rc));
		close(fd);
		free(job);
		attestation_finish(at);
		return;
	}
	job->next = agent->hash_jobs;
	agent->hash_jobs = job;
}

/* Last step: the executable's hash, then the record. */
static void attestation_after_attestors(struct attestation *at)
{
	if (at->result || !at->peer.exe_known || !at->agent->unix_enabled) {
		attestation_finish(at);
		return;
	}
	attestation_hash(at);
}

static void k8s_done(void *arg, int rc, const char *err)
{
	struct attestation *at = arg;

	at->k8s_req = NULL;
	if (rc < 0) {
		at->result = rc;
		snprintf(at->error, sizeof(at->error), "%s", err ? err : "kubernetes: failed");
	}
	attestation_after_attestors(at);
}

/* The attestors, once the names the unix attestor needs are cached (or could not be). */
static void attestation_attest(struct attestation *at)
{
	struct agent *agent = at->agent;
	int rc;

	rc = attr_set_new(&at->attrs);
	if (rc < 0) {
		at->result = rc;
		snprintf(at->error, sizeof(at->error), "out of memory");
		attestation_finish(at);
		return;
	}
	if (agent->unix_enabled) {
		rc = unix_attestor_attest_cached(agent->names, &at->peer, at->attrs, at->error);
		if (rc < 0) {
			at->result = rc;
			attestation_finish(at);
			return;
		}
	}
	if (agent->k8s) {
		rc = k8s_workload_attest(agent->k8s, &at->peer, at->attrs, k8s_done, at,
					 &at->k8s_req);
		if (rc < 0) {
			at->result = rc;
			snprintf(at->error, sizeof(at->error), "kubernetes: %s", strerror(-rc));
			attestation_finish(at);
		}
		return; /* k8s_done continues, possibly already has */
	}
	attestation_after_attestors(at);
}

/* Worker thread: touches only the job. */
static void names_job_run(void *arg)
{
	struct names_job *job = arg;
	uint64_t t0 = now_us();

	unix_names_resolve(&job->batch);
	job->took_us = now_us() - t0;
}

/* Loop thread. */
static void names_job_done(void *arg)
{
	struct names_job *job = arg;
	struct agent *agent = job->agent;
	struct names_job **pp;
	struct attestation *at, *next;

	for (pp = &agent->names_jobs; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	}
	agent->nss_last_us = job->took_us;
	unix_names_cache_store(agent->names, &job->batch, now_us() / 1000u);
	for (at = job->waiters; at; at = next) {
		next = at->next_waiter;
		at->next_waiter = NULL;
		attestation_attest(at);
	}
	free(job);
}

static bool batch_covers(const struct unix_names_batch *job, const struct unix_names_batch *want)
{
	for (unsigned i = 0; i < want->n; i++) {
		unsigned j;

		for (j = 0; j < job->n; j++)
			if (job->item[j].id == want->item[i].id &&
			    job->item[j].is_group == want->item[i].is_group)
				break;
		if (j == job->n)
			return false;
	}
	return true;
}

/* True if the attestation now waits for names looked up on a worker; false: go on at once (all
 * cached, looked up here, or no job could be queued: the unix attestor then looks them up
 * itself). */
static bool attestation_wait_names(struct attestation *at)
{
	struct agent *agent = at->agent;
	struct unix_names_batch missing;
	struct names_job *job;
	uint64_t t0;

	if (unix_names_cache_missing(agent->names, &at->peer, now_us() / 1000u, &missing) == 0)
		return false;
	if (agent->inflight <= 1 && !agent->names_jobs &&
	    agent->nss_last_us < AGENT_NSS_INLINE_MAX_US) {
		/*
		 * Alone in flight, with NSS answering fast lately: look up here. The loop has
		 * nothing else to do, and a hop to a worker and back would cost more than it
		 * saves (about 0.1 ms on an idle 2-vCPU VM).
		 */
		t0 = now_us();
		unix_names_resolve(&missing);
		agent->nss_last_us = now_us() - t0;
		unix_names_cache_store(agent->names, &missing, t0 / 1000u);
		return false;
	}
	for (job = agent->names_jobs; job; job = job->next) {
		if (batch_covers(&job->batch, &missing)) {
			at->next_waiter = job->waiters;
			job->waiters = at;
			return true;
		}
	}
	job = malloc(sizeof(*job));
	if (!job)
		return false;
	job->agent = agent;
	job->batch.n = missing.n;
	memcpy(job->batch.item, missing.item, missing.n * sizeof(missing.item[0]));
	job->waiters = at;
	at->next_waiter = NULL;
	if (workers_submit(agent->workers, names_job_run, names_job_done, job) < 0) {
		free(job);
		return false;
	}
	job->next = agent->names_jobs;
	agent->names_jobs = job;
	return true;
}

static void attestation_run(struct attestation *at)
{
	if (at->result || !at->have_peer) {
		attestation_finish(at);
		return;
	}
	if (at->agent->unix_enabled && attestation_wait_names(at))
		return; /* names_job_done continues */
	attestation_attest(at);
}

static struct attestation *attestation_new(struct agent *agent, const char *socket)
{
	struct attestation *at = calloc(1, sizeof(*at));

	if (!at)
		return NULL;
	at->agent = agent;
	at->socket = socket;
	at->start_us = now_us();
	agent->inflight++;
	return at;
}

/* Capture for an accepted socket, with the racy fallbacks when BPF has no record. */
static void capture_connection(struct agent *agent, int fd, struct attestation *at)
{
	char err[CAPTURE_ERR_MAX] = "", fb_err[256] = "";
	int rc;

	rc = capture_peer(agent->cap, fd, &at->peer, err);
	if (rc == -ENODATA) {
		agent->counters.captures_missing++;
		if (agent->require_race_free) {
			at->result = rc;
			snprintf(at->error, sizeof(at->error),
				 "%s; peer.require_race_free forbids "
				 "reading /proc instead",
				 err);
			return;
		}
		rc = procfs_peer_from_pidfd(fd, &at->peer, fb_err);
		if (rc < 0)
			rc = procfs_peer_from_peercred(fd, &at->peer, fb_err);
		if (rc < 0) {
			at->result = rc;
			snprintf(at->error, sizeof(at->error), "%s; fallback failed: %s", err,
				 fb_err);
			return;
		}
		at->peer.race_free = false;
		log_warn(agent->log, "no connect-time capture; fell back to /proc (racy)", "pid",
			 at->peer.pid, "reason", err);
	} else if (rc < 0) {
		at->result = rc;
		snprintf(at->error, sizeof(at->error), "%s", err);
		return;
	}
	at->have_peer = true;
}

static void on_accept(struct loop *loop, int listen_fd, uint32_t events, void *arg)
{
	struct agent *agent = arg;

	for (;;) {
		struct attestation *at;
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn(agent->log, "agent socket: accept failed", "error",
					 strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		agent->counters.connections++;
		at = attestation_new(agent, agent->socket_path);
		if (!at) {
			close(fd);
			continue;
		}
		if (agent->inflight > AGENT_MAX_INFLIGHT) {
			at->result = -EBUSY;
			snprintf(at->error, sizeof(at->error),
				 "too many attestations in progress (%d)", AGENT_MAX_INFLIGHT);
		} else {
			capture_connection(agent, fd, at);
		}
		if (agent->have_conn_ops)
			at->conn = agent->conn_ops.open(agent->conn_ops.arg, fd);
		else
			close(fd);
		attestation_run(at);
	}
}

int agent_attest_pid(struct agent *agent, pid_t pid, agent_done_fn done, void *arg)
{
	char err[CAPTURE_ERR_MAX] = "";
	struct attestation *at;
	int rc;

	at = attestation_new(agent, "admin");
	if (!at)
		return -ENOMEM;
	rc = capture_pid(agent->cap, pid, &at->peer, err);
	if (rc < 0) {
		agent->inflight--;
		attestation_free(at);
		done(arg, rc, NULL, err);
		return 0;
	}
	at->have_peer = true;
	at->done = done;
	at->done_arg = arg;
	attestation_run(at);
	return 0;
}

/* Removes a stale socket file; refuses to steal a socket another process still serves. */
static int prepare_socket_path(const char *path, char err[AGENT_ERR_MAX])
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[sizeof(addr.sun_path)];
	struct stat st;
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			snprintf(err, AGENT_ERR_MAX, "socket %s: cannot create directory %s: %s",
				 path, dir, strerror(errno));
			return -errno;
		}
	}
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, AGENT_ERR_MAX, "socket %s: exists and is not a socket", path);
		return -EEXIST;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	close(fd);
	if (rc == 0) {
		snprintf(err, AGENT_ERR_MAX, "socket %s: another process is serving it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int agent_new(const struct agent_opts *opts, struct loop *loop, struct log *lg, struct capture *cap,
	      struct workers *workers, struct audit *audit, struct agent **out,
	      char err[AGENT_ERR_MAX])
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char cap_err[CAPTURE_ERR_MAX] = "";
	struct agent *agent;
	int rc;

	*out = NULL;
	if (strlen(opts->socket_path) >= sizeof(addr.sun_path)) {
		snprintf(err, AGENT_ERR_MAX, "socket %s: path too long", opts->socket_path);
		return -ENAMETOOLONG;
	}
	agent = calloc(1, sizeof(*agent));
	if (!agent)
		return -ENOMEM;
	agent->listen_fd = -1;
	agent->loop = loop;
	agent->log = lg;
	agent->cap = cap;
	agent->workers = workers;
	agent->audit = audit;
	agent->require_race_free = opts->require_race_free;
	agent->unix_enabled = opts->unix_enabled;
	agent->hash_size_limit = opts->hash_size_limit;
	agent->k8s = opts->k8s;
	if (opts->conn_ops) {
		agent->conn_ops = *opts->conn_ops;
		agent->have_conn_ops = true;
	}
	snprintf(agent->socket_path, sizeof(agent->socket_path), "%s", opts->socket_path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", opts->socket_path);

	rc = exe_hash_cache_new(AGENT_HASH_CACHE_SIZE, &agent->hash_cache);
	if (rc < 0) {
		snprintf(err, AGENT_ERR_MAX, "hash cache: %s", strerror(-rc));
		goto fail;
	}
	rc = unix_names_cache_new(UNIX_NAMES_CACHE_TTL_DEFAULT_MS, &agent->names);
	if (rc < 0) {
		snprintf(err, AGENT_ERR_MAX, "names cache: %s", strerror(-rc));
		goto fail;
	}
	rc = prepare_socket_path(agent->socket_path, err);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, AGENT_ERR_MAX, "socket %s: %s", agent->socket_path,
				 strerror(-rc));
		goto fail;
	}
	agent->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (agent->listen_fd < 0 ||
	    bind(agent->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    /* Any workload may connect: identity comes from attestation, not permissions. */
	    chmod(agent->socket_path, 0777) < 0 ||
	    listen(agent->listen_fd, AGENT_LISTEN_BACKLOG) < 0) {
		rc = -errno;
		snprintf(err, AGENT_ERR_MAX, "socket %s: %s", agent->socket_path, strerror(errno));
		goto fail;
	}
	rc = capture_add_listener(cap, agent->socket_path, cap_err);
	if (rc < 0) {
		snprintf(err, AGENT_ERR_MAX, "%s", cap_err);
		goto fail;
	}
	rc = loop_add_fd(loop, agent->listen_fd, EPOLLIN, on_accept, agent);
	if (rc < 0) {
		snprintf(err, AGENT_ERR_MAX, "socket %s: cannot watch: %s", agent->socket_path,
			 strerror(-rc));
		goto fail;
	}
	*out = agent;
	return 0;
fail:
	agent_free(agent);
	return rc;
}

void agent_free(struct agent *agent)
{
	if (!agent)
		return;
	if (agent->listen_fd >= 0) {
		loop_del_fd(agent->loop, agent->listen_fd);
		close(agent->listen_fd);
		unlink(agent->socket_path);
	}
	/* Jobs still queued were completed by workers_free() before this. */
	exe_hash_cache_free(agent->hash_cache);
	unix_names_cache_free(agent->names);
	free(agent);
}

const struct agent_counters *agent_get_counters(const struct agent *agent)
{
	return &agent->counters;
}
