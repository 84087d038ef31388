/*
 * main.c - attestd: command line, start-up, signals, admin routes, shutdown.
 * The only file with global mutable state: libbpf's print callback takes no argument, so the
 * logger it writes to lives here.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <bpf/libbpf.h>
#include <jansson.h>

#include "attest/capture.h"
#include "attest/policy.h"
#include "daemon/admin.h"
#include "daemon/agent.h"
#include "daemon/audit.h"
#include "daemon/config.h"
#include "daemon/http_fetch.h"
#include "daemon/image_sigs.h"
#include "daemon/log.h"
#include "daemon/loop.h"
#include "daemon/svid.h"
#include "daemon/svid_cache.h"
#include "daemon/workers.h"
#include "daemon/workload_api.h"

#define PID_MAX_LIMIT		   4194304 /* kernel's upper bound for pid_max */
#define ATTESTATIONS_LIMIT_DEFAULT 100
#define CA_TTL_S		   (365u * 24u * 3600u) /* a generated CA certificate */

/* libbpf's print callback has no user argument; these are its only way to the logger. */
static struct log *libbpf_log;
static bool libbpf_probing; /* auto-probe failures are expected: keep libbpf's noise at debug */

struct daemon {
	const char *config_path;
	struct config cfg;
	struct log log;
	struct loop *loop;
	struct workers *workers;
	struct audit *audit;
	struct capture *cap;
	struct agent *agent;
	struct admin *admin;
	struct svid_ca *ca;
	struct svid_cache *svid_cache;
	struct policy *policy;
	struct workload_api *wapi;
	struct agent_conn_ops conn_ops;
	struct http_fetch *http;
	struct http_fetch_io http_io;
	struct kubelet_io kubelet_io;
	struct kubelet *kubelet;
	struct k8s_workload_opts k8s;
	struct image_sigs *image_sigs; /* with the Kubernetes attestor (sigstore may be off) */
	/* Registry I/O gets threads of its own: a slow registry (up to the sigstore timeout per
	 * image) must not hold up the hashing and parsing of every other attestation. */
	struct workers *registry_workers;
	struct k8s_image_verifier image_verifier;
	int signal_fd;
	uint64_t start_mono_ms;
	uint64_t admin_requests;
	char kernel[128];
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;
	enum log_level lv = level == LIBBPF_WARN && !libbpf_probing ? LOG_WARN : LOG_DEBUG;

	if (!libbpf_log || !log_enabled(libbpf_log, lv))
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = 0;
	if (n > 0)
		log_emit(libbpf_log, lv, "libbpf", (struct log_kv[]){log_kv_s_("detail", msg)}, 1);
	return 0;
}

static void capture_log(void *arg, int level, const char *msg)
{
	static const enum log_level map[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
	struct log *lg = arg;

	if (level < 0 || level > 3)
		level = 1;
	log_emit(lg, map[level], msg, NULL, 0);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- admin routes ----------------------------------------------------------------------- */

static const char *backend_status_name(enum capture_backend_status s)
{
	switch (s) {
	case CAPTURE_SKIPPED:
		return "skipped";
	case CAPTURE_FAILED:
		return "failed";
	case CAPTURE_CHOSEN:
		return "chosen";
	default:
		return "not tried";
	}
}

static json_t *status_json(struct daemon *d)
{
	const struct capture_report *r = capture_get_report(d->cap);
	const struct agent_counters *c = agent_get_counters(d->agent);
	json_t *backends = json_array();
	int64_t exe_n = capture_exe_entries(d->cap), cg_n = capture_cgroup_entries(d->cap);

	for (int b = PEER_BACKEND_LSM; b <= PEER_BACKEND_PEERCRED; b++) {
		const struct capture_backend_report *br = &r->backends[b];

		json_array_append_new(backends,
				      json_pack("{s:s, s:s, s:s?}", "name", peer_backend_name(b),
						"status", backend_status_name(br->status), "reason",
						br->reason[0] ? br->reason : NULL));
	}
	return json_pack("{s:s, s:I, s:s, s:I, s:s, s:b, s:s, s:s, s:s, s:s, s:b, s:o,"
			 " s:{s:s?, s:s?, s:s?, s:o, s:o, s:I, s:I},"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I},"
			 " s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I}}",
			 "version", ATTESTD_VERSION, "pid", (json_int_t)getpid(), "kernel",
			 d->kernel, "uptime_s", (json_int_t)((mono_ms() - d->start_mono_ms) / 1000),
			 "backend", peer_backend_name(r->chosen), "race_free", r->race_free,
			 "trust_domain", d->cfg.trust_domain, "socket", d->cfg.socket_path,
			 "admin_socket", d->cfg.admin_socket_path, "pin_dir", d->cfg.bpf_pin_dir,
			 "pins_reused", r->pins_reused, "backends", backends, "tracking", "exec",
			 r->exec_tracking ? "tp_btf/sched_process_exec+sched_process_fork" : NULL,
			 "cgroup", r->cgroup_tracking ? "tp_btf/cgroup_mkdir+cgroup_rmdir" : NULL,
			 "reason", r->tracking_reason[0] ? r->tracking_reason : NULL, "exe_entries",
			 exe_n >= 0 ? json_integer(exe_n) : json_null(), "cgroup_entries",
			 cg_n >= 0 ? json_integer(cg_n) : json_null(), "exe_seeded",
			 (json_int_t)r->exe_seeded, "cgroup_seeded", (json_int_t)r->cgroup_seeded,
			 "counters", "connections", (json_int_t)c->connections, "attested",
			 (json_int_t)c->attested, "errors", (json_int_t)c->errors,
			 "captures_missing", (json_int_t)c->captures_missing, "hashes",
			 (json_int_t)c->hashes, "admin_requests", (json_int_t)d->admin_requests,
			 "audit", "entries", (json_int_t)audit_size(d->audit), "capacity",
			 (json_int_t)d->cfg.audit_entries, "total",
			 (json_int_t)audit_count(d->audit), "workload_api", "connections",
			 (json_int_t)workload_api_connection_count(d->wapi), "streams",
			 (json_int_t)workload_api_stream_count(d->wapi), "entries",
			 (json_int_t)d->cfg.nentries, "templates", (json_int_t)d->cfg.ntemplates);
}

/* attestors.kubernetes: null when off. */
static json_t *kubernetes_json(const struct daemon *d)
{
	struct kubelet_stats st;

	if (!d->kubelet)
		return json_null();
	kubelet_stats(d->kubelet, &st);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s?}", "kubelet",
			 kubelet_url(d->kubelet), "pods", (json_int_t)st.pods, "requests",
			 (json_int_t)st.requests, "refreshes", (json_int_t)st.refreshes, "failures",
			 (json_int_t)st.failures, "lookups", (json_int_t)st.lookups, "hits",
			 (json_int_t)st.hits, "timeouts", (json_int_t)st.timeouts, "waiting",
			 (json_int_t)st.waiting, "last_refresh_age_ms",
			 st.last_refresh_age_ms == UINT64_MAX
				 ? json_null()
				 : json_integer((json_int_t)st.last_refresh_age_ms),
			 "last_error", st.last_error[0] ? st.last_error : NULL);
}

static void route_status(struct admin_request *req, void *arg)
{
	struct daemon *d = arg;
	json_t *body;

	d->admin_requests++;
	body = status_json(d);
	if (body)
		json_object_set_new(body, "kubernetes", kubernetes_json(d));
	if (body && d->image_sigs) {
		json_t *sig = image_sigs_status_json(d->image_sigs);

		if (!sig) {
			json_decref(body);
			body = NULL;
		} else {
			json_object_set_new(body, "sigstore", sig);
		}
	} else if (body) {
		json_object_set_new(body, "sigstore", json_null());
	}
	if (!body) {
		admin_respond_error(req, 500, "cannot build status: out of memory");
		return;
	}
	admin_respond(req, 200, body);
}

/* Parses a decimal query parameter in [min, max]; answers 400 itself on error. */
static bool query_uint(struct admin_request *req, const char *key, uint64_t min, uint64_t max,
		       bool required, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;
	int rc;

	rc = http_query_get(admin_request_http(req), key, buf, sizeof(buf));
	if (rc == -ENOENT && !required)
		return true;
	if (rc == -ENOENT) {
		admin_respond_error(req, 400, "missing query parameter %s", key);
		return false;
	}
	if (rc < 0 || buf[0] < '0' || buf[0] > '9') {
		admin_respond_error(req, 400,
				    "%s: expected a whole number from %" PRIu64 " to %" PRIu64, key,
				    min, max);
		return false;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || v < min || v > max) {
		admin_respond_error(req, 400,
				    "%s=%s: expected a whole number from %" PRIu64 " to %" PRIu64,
				    key, buf, min, max);
		return false;
	}
	*out = v;
	return true;
}

static void route_attestations(struct admin_request *req, void *arg)
{
	struct daemon *d = arg;
	uint64_t limit = ATTESTATIONS_LIMIT_DEFAULT;
	json_t *list;

	d->admin_requests++;
	if (!query_uint(req, "limit", 1, AUDIT_MAX_CAPACITY, false, &limit))
		return;
	list = audit_list(d->audit, (uint32_t)limit);
	if (!list) {
		admin_respond_error(req, 500, "out of memory");
		return;
	}
	admin_respond(req, 200, list);
}

static void attest_pid_done(void *arg, int rc, json_t *record, const char *err)
{
	struct admin_request *req = arg;

	if (rc == -ENOENT || rc == -ESRCH)
		admin_respond_error(req, 404, "%s", err ? err : "no such process");
	else if (rc < 0)
		admin_respond_error(req, 500, "%s", err ? err : strerror(-rc));
	else
		admin_respond(req, 200, json_incref(record));
}

static void route_attest(struct admin_request *req, void *arg)
{
	struct daemon *d = arg;
	uint64_t pid = 0;
	int rc;

	d->admin_requests++;
	if (!query_uint(req, "pid", 1, PID_MAX_LIMIT, true, &pid))
		return;
	rc = agent_attest_pid(d->agent, (pid_t)pid, attest_pid_done, req);
	if (rc < 0)
		admin_respond_error(req, 500, "cannot attest pid %" PRIu64 ": %s", pid,
				    strerror(-rc));
}

/* ---- signals and reload ----------------------------------------------------------------- */

/* attestors.kubernetes as started: any difference needs a restart. */
static bool kubernetes_config_differs(const struct config *a, const struct config *b)
{
	if (a->k8s_n_annotation_prefixes != b->k8s_n_annotation_prefixes)
		return true;
	for (size_t i = 0; i < a->k8s_n_annotation_prefixes; i++)
		if (strcmp(a->k8s_annotation_prefixes[i], b->k8s_annotation_prefixes[i]) != 0)
			return true;
	return a->k8s_enabled != b->k8s_enabled || a->k8s_secure_port != b->k8s_secure_port ||
	       a->k8s_read_only_port != b->k8s_read_only_port ||
	       a->k8s_skip_verification != b->k8s_skip_verification ||
	       a->k8s_anonymous != b->k8s_anonymous || strcmp(a->k8s_ca, b->k8s_ca) != 0 ||
	       strcmp(a->k8s_token_path, b->k8s_token_path) != 0 ||
	       strcmp(a->k8s_cert, b->k8s_cert) != 0 || strcmp(a->k8s_key, b->k8s_key) != 0 ||
	       strcmp(a->k8s_node_name_env, b->k8s_node_name_env) != 0 ||
	       strcmp(a->k8s_node_name, b->k8s_node_name) != 0 ||
	       a->k8s_min_interval_ms != b->k8s_min_interval_ms ||
	       a->k8s_interval_ms != b->k8s_interval_ms ||
	       a->k8s_attestation_timeout_ms != b->k8s_attestation_timeout_ms ||
	       strcmp(a->k8s_containerd_state, b->k8s_containerd_state) != 0 ||
	       strcmp(a->k8s_crio_state, b->k8s_crio_state) != 0 ||
	       a->k8s_disable_container_selectors != b->k8s_disable_container_selectors ||
	       a->k8s_include_container_attributes != b->k8s_include_container_attributes;
}

/*
 * SIGHUP: a valid new file replaces log.level and the registration entries and templates at
 * once (open streams are updated), and attestors.kubernetes.sigstore (its cache is dropped on
 * every reload); everything else needs a restart and is reported as such.
 * An invalid file changes nothing.
 */
static void reload_config(struct daemon *d)
{
	char err[CONFIG_ERR_MAX] = "", perr[POLICY_ERR_MAX] = "";
	struct policy *policy = NULL;
	struct config next;
	bool restart_needed;
	int rc;

	if (!d->config_path) {
		log_info(&d->log, "SIGHUP: no --config file; embedded defaults stay");
		return;
	}
	rc = config_load_file(d->config_path, &next, err);
	if (rc < 0) {
		log_error(&d->log, "config reload rejected; the running configuration stays",
			  "error", err);
		return;
	}
	if (strcmp(next.trust_domain, d->cfg.trust_domain) != 0) {
		/* The CA and every issued SVID belong to the running trust domain. */
		log_error(&d->log, "config reload rejected: trust_domain changes need a restart",
			  "running", d->cfg.trust_domain, "file", next.trust_domain);
		config_free(&next);
		return;
	}
	rc = policy_new(next.trust_domain, next.entries, next.nentries, next.templates,
			next.ntemplates, &policy, perr);
	if (rc < 0) {
		log_error(&d->log, "config reload rejected; the running configuration stays",
			  "error", perr);
		config_free(&next);
		return;
	}
	restart_needed = strcmp(next.socket_path, d->cfg.socket_path) != 0 ||
			 strcmp(next.admin_socket_path, d->cfg.admin_socket_path) != 0 ||
			 next.peer_backend != d->cfg.peer_backend ||
			 next.require_race_free != d->cfg.require_race_free ||
			 strcmp(next.bpf_pin_dir, d->cfg.bpf_pin_dir) != 0 ||
			 next.audit_entries != d->cfg.audit_entries ||
			 next.worker_threads != d->cfg.worker_threads ||
			 next.unix_enabled != d->cfg.unix_enabled ||
			 next.hash_size_limit != d->cfg.hash_size_limit ||
			 strcmp(next.trust_domain, d->cfg.trust_domain) != 0 ||
			 strcmp(next.state_dir, d->cfg.state_dir) != 0 ||
			 next.ca_generate != d->cfg.ca_generate ||
			 strcmp(next.ca_cert, d->cfg.ca_cert) != 0 ||
			 strcmp(next.ca_key, d->cfg.ca_key) != 0 ||
			 strcmp(next.ca_bundle, d->cfg.ca_bundle) != 0 ||
			 next.x509_ttl_s != d->cfg.x509_ttl_s ||
			 next.jwt_ttl_s != d->cfg.jwt_ttl_s ||
			 kubernetes_config_differs(&next, &d->cfg);
	if (restart_needed) {
		/* Keep running with what was started; the new policy is still applied. */
		log_warn(&d->log,
			 "config reloaded: log.level, entries, templates and "
			 "attestors.kubernetes.sigstore apply now; other changes need a restart",
			 "path", d->config_path);
	} else {
		log_info(&d->log, "config reloaded", "path", d->config_path, "log_level",
			 log_level_name(next.log_level), "entries", (unsigned long)next.nentries,
			 "templates", (unsigned long)next.ntemplates);
	}
	d->log.min_level = next.log_level;
	d->cfg.log_level = next.log_level;
	/* attestors.kubernetes.sigstore applies now; any reload drops the cached results. */
	if (d->image_sigs) {
		image_sigs_drop_cache(d->image_sigs);
		if (config_sigstore_differs(&next.k8s_sigstore, &d->cfg.k8s_sigstore)) {
			char serr[IMAGE_SIGS_ERR_MAX] = "";

			if (image_sigs_configure(d->image_sigs, &next.k8s_sigstore, serr) < 0) {
				log_error(&d->log,
					  "sigstore: new settings not applied; the running "
					  "ones stay",
					  "error", serr);
			} else {
				struct config_sigstore tmp = d->cfg.k8s_sigstore;

				d->cfg.k8s_sigstore = next.k8s_sigstore;
				next.k8s_sigstore = tmp; /* freed with next */
			}
		}
	}
	workload_api_set_policy(d->wapi, policy);
	policy_free(d->policy);
	d->policy = policy;
	/* The running config takes the new entries and templates; `next` frees the old ones. */
	{
		struct policy_entry *e = d->cfg.entries;
		size_t ne = d->cfg.nentries;
		struct policy_template *t = d->cfg.templates;
		size_t nt = d->cfg.ntemplates;

		d->cfg.entries = next.entries;
		d->cfg.nentries = next.nentries;
		d->cfg.templates = next.templates;
		d->cfg.ntemplates = next.ntemplates;
		next.entries = e;
		next.nentries = ne;
		next.templates = t;
		next.ntemplates = nt;
	}
	config_free(&next);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			reload_config(d);
			continue;
		}
		log_info(&d->log, "shutting down", "signal", strsignal((int)si.ssi_signo));
		loop_stop(loop);
	}
}

/* ---- start-up --------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: attestd [--config FILE] [--check-config] [--version]\n"
		   "  --config FILE   YAML configuration (default: the embedded defaults)\n"
		   "  --check-config  validate the configuration and exit\n"
		   "  --version       print the version and exit\n");
}

static int make_dir(const char *path, mode_t mode, char *err, size_t err_len)
{
	char buf[CONFIG_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			goto fail;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	snprintf(err, err_len, "cannot create %s: %s", buf, strerror(errno));
	return -errno;
}

/* Pod lists are parsed on the worker pool, so a 5 MB list does not stall the event loop. */
static int kubelet_work(void *ctx, void (*fn)(void *arg), void (*done)(void *arg), void *arg)
{
	const struct http_fetch_io *io = ctx;

	return workers_submit(io->work_ctx, fn, done, arg);
}

/* The kubelet client and the Kubernetes attestor's options (attestors.kubernetes). */
static int start_kubernetes(struct daemon *d)
{
	const struct config *c = &d->cfg;
	struct kubelet_opts ko = {0};
	char err[KUBELET_ERR_MAX] = "";
	int rc;

	rc = http_fetch_new(d->loop, &d->http);
	if (rc < 0) {
		log_error(&d->log, "kubernetes: HTTP client", "error", strerror(-rc));
		return rc;
	}
	http_fetch_kubelet_io(&d->http_io, d->http, &d->log, &d->kubelet_io);
	d->http_io.work_ctx = d->workers;
	d->kubelet_io.work = kubelet_work;
	/* secure_port has a default; an explicit read_only_port replaces it. */
	ko.secure_port = c->k8s_read_only_port ? 0 : (uint16_t)c->k8s_secure_port;
	ko.read_only_port = (uint16_t)c->k8s_read_only_port;
	ko.ca = c->k8s_ca[0] ? c->k8s_ca : NULL;
	ko.skip_verification = c->k8s_skip_verification;
	ko.token_path = c->k8s_token_path[0] ? c->k8s_token_path : NULL;
	ko.cert = c->k8s_cert[0] ? c->k8s_cert : NULL;
	ko.key = c->k8s_key[0] ? c->k8s_key : NULL;
	ko.anonymous = c->k8s_anonymous;
	ko.node_name_env = c->k8s_node_name_env[0] ? c->k8s_node_name_env : NULL;
	ko.node_name = c->k8s_node_name[0] ? c->k8s_node_name : NULL;
	ko.min_interval_ms = c->k8s_min_interval_ms;
	ko.interval_ms = c->k8s_interval_ms;
	ko.deadline_ms = c->k8s_attestation_timeout_ms;
	rc = kubelet_new(&ko, &d->kubelet_io, &d->kubelet, err);
	if (rc < 0) {
		log_error(&d->log, "kubernetes: kubelet client", "error", err);
		return rc;
	}
	d->k8s.kubelet = d->kubelet;
	d->k8s.runtime.containerd_state = c->k8s_containerd_state;
	d->k8s.runtime.crio_state = c->k8s_crio_state;
	d->k8s.attestor.disable_container_selectors = c->k8s_disable_container_selectors;
	d->k8s.attestor.include_container_attributes = c->k8s_include_container_attributes;
	d->k8s.attestor.include_annotation_prefixes =
		(const char *const *)c->k8s_annotation_prefixes;
	d->k8s.attestor.n_include_annotation_prefixes = c->k8s_n_annotation_prefixes;
	d->k8s.deadline_ms = c->k8s_attestation_timeout_ms;
	log_info(&d->log, "kubernetes attestor on", "kubelet", kubelet_url(d->kubelet));

	/* attestors.kubernetes.sigstore: the service exists whenever the attestor does, so a
	 * reload can switch verification on and off. */
	{
		char serr[IMAGE_SIGS_ERR_MAX] = "";

		rc = workers_new(d->loop, IMAGE_SIGS_THREADS, &d->registry_workers);
		if (rc < 0) {
			log_error(&d->log, "sigstore: worker threads", "error", strerror(-rc));
			return rc;
		}
		rc = image_sigs_new(NULL, d->registry_workers, &d->log, &d->image_sigs);
		if (rc < 0) {
			log_error(&d->log, "sigstore", "error", strerror(-rc));
			return rc;
		}
		rc = image_sigs_configure(d->image_sigs, &d->cfg.k8s_sigstore, serr);
		if (rc < 0) {
			log_error(&d->log, "sigstore", "error", serr);
			return rc;
		}
		image_sigs_k8s_verifier(d->image_sigs, &d->image_verifier);
		d->k8s.images = &d->image_verifier;
	}
	return 0;
}

static int daemon_start(struct daemon *d)
{
	struct capture_opts copts = {0};
	struct agent_opts aopts = {0};
	char err[CAPTURE_ERR_MAX] = "";
	const struct capture_report *r;
	struct utsname uts;
	sigset_t mask;
	int rc;

	if (uname(&uts) == 0)
		snprintf(d->kernel, sizeof(d->kernel), "%s", uts.release);
	d->start_mono_ms = mono_ms();
	log_info(&d->log, "attestd starting", "version", ATTESTD_VERSION, "config",
		 d->config_path ? d->config_path : "(embedded defaults)", "kernel", d->kernel);

	/* Block before any thread exists, so only the signalfd sees these. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = make_dir(d->cfg.state_dir, 0700, err, sizeof(err));
	if (rc < 0) {
		log_error(&d->log, "state_dir", "error", err);
		return rc;
	}

	copts.backend = d->cfg.peer_backend;
	copts.pin_dir = d->cfg.bpf_pin_dir;
	copts.tracking = true;
	copts.require_race_free = d->cfg.require_race_free;
	copts.log = capture_log;
	copts.log_arg = &d->log;
	libbpf_probing = d->cfg.peer_backend == PEER_BACKEND_AUTO;
	rc = capture_open(&copts, &d->cap, err);
	libbpf_probing = false;
	if (rc < 0) {
		log_error(&d->log, "peer capture unavailable", "error", err);
		return rc;
	}
	r = capture_get_report(d->cap);
	for (int b = PEER_BACKEND_LSM; b <= PEER_BACKEND_PEERCRED; b++)
		if (r->backends[b].status == CAPTURE_SKIPPED)
			log_info(&d->log, "peer capture backend skipped", "backend",
				 peer_backend_name(b), "reason", r->backends[b].reason);
	if (r->pins_reused)
		log_info(&d->log, "reusing BPF maps pinned by an earlier attestd", "pin_dir",
			 d->cfg.bpf_pin_dir);
	if (!r->exec_tracking)
		log_warn(&d->log, "exec/cgroup tracking off: paths of exited processes are unknown",
			 "reason", r->tracking_reason);
	else
		log_info(&d->log, "exec/cgroup tracking on", "exe_seeded",
			 (unsigned long long)r->exe_seeded, "cgroup_seeded",
			 (unsigned long long)r->cgroup_seeded, "cgroup2", r->cgroup2_root);

	if ((rc = loop_new(&d->loop)) < 0 ||
	    (rc = workers_new(d->loop, d->cfg.worker_threads, &d->workers)) < 0 ||
	    (rc = audit_new(d->cfg.audit_entries, &d->audit)) < 0) {
		log_error(&d->log, "start-up failed", "error", strerror(-rc));
		return rc;
	}
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->signal_fd < 0 || loop_add_fd(d->loop, d->signal_fd, EPOLLIN, on_signal, d) < 0) {
		rc = -errno;
		log_error(&d->log, "signalfd failed", "error", strerror(errno));
		return rc;
	}

	{
		struct svid_ca_opts caopts = {
			.trust_domain = d->cfg.trust_domain,
			.state_dir = d->cfg.state_dir,
			.generate = d->cfg.ca_generate,
			.cert_path = d->cfg.ca_cert[0] ? d->cfg.ca_cert : NULL,
			.key_path = d->cfg.ca_key[0] ? d->cfg.ca_key : NULL,
			.bundle_path = d->cfg.ca_bundle[0] ? d->cfg.ca_bundle : NULL,
			.ca_ttl_s = CA_TTL_S,
		};
		struct workload_api_opts wopts = {
			.trust_domain = d->cfg.trust_domain,
			.socket_path = d->cfg.socket_path,
			.jwt_ttl_s = d->cfg.jwt_ttl_s,
		};
		char perr[POLICY_ERR_MAX] = "";

		rc = svid_ca_open(&caopts, &d->ca, err);
		if (rc < 0) {
			log_error(&d->log, "CA unavailable", "error", err);
			return rc;
		}
		if (svid_ca_generated(d->ca))
			log_info(&d->log, "generated a CA in state_dir", "state_dir",
				 d->cfg.state_dir, "why", svid_ca_generated(d->ca));
		rc = policy_new(d->cfg.trust_domain, d->cfg.entries, d->cfg.nentries,
				d->cfg.templates, d->cfg.ntemplates, &d->policy, perr);
		if (rc < 0) {
			log_error(&d->log, "policy", "error", perr);
			return rc;
		}
		rc = svid_cache_new(d->loop, d->workers, d->ca, d->cfg.x509_ttl_s, &d->svid_cache);
		if (rc < 0) {
			log_error(&d->log, "SVID cache", "error", strerror(-rc));
			return rc;
		}
		rc = workload_api_new(&wopts, d->loop, &d->log, d->workers, d->audit, d->ca,
				      d->svid_cache, d->policy, &d->wapi, err);
		if (rc < 0) {
			log_error(&d->log, "Workload API", "error", err);
			return rc;
		}
		d->conn_ops.open = workload_api_conn_open;
		d->conn_ops.attested = workload_api_conn_attested;
		d->conn_ops.arg = d->wapi;
		aopts.conn_ops = &d->conn_ops;
	}
	if (d->cfg.k8s_enabled) {
		rc = start_kubernetes(d);
		if (rc < 0)
			return rc;
		aopts.k8s = &d->k8s;
	}
	aopts.socket_path = d->cfg.socket_path;
	aopts.require_race_free = d->cfg.require_race_free;
	aopts.unix_enabled = d->cfg.unix_enabled;
	aopts.hash_size_limit = d->cfg.hash_size_limit;
	rc = agent_new(&aopts, d->loop, &d->log, d->cap, d->workers, d->audit, &d->agent, err);
	if (rc < 0) {
		log_error(&d->log, "agent socket", "error", err);
		return rc;
	}
	rc = admin_new(d->loop, &d->log, d->cfg.admin_socket_path, &d->admin, err);
	if (rc < 0) {
		log_error(&d->log, "admin socket", "error", err);
		return rc;
	}
	if ((rc = admin_route(d->admin, "GET", "/v1/status", route_status, d)) < 0 ||
	    (rc = admin_route(d->admin, "GET", "/v1/attestations", route_attestations, d)) < 0 ||
	    (rc = admin_route(d->admin, "GET", "/v1/attest", route_attest, d)) < 0) {
		log_error(&d->log, "admin routes", "error", strerror(-rc));
		return rc;
	}
	log_info(&d->log, "peer capture backend chosen", "backend", peer_backend_name(r->chosen),
		 "race_free", r->race_free, "reason", r->backends[r->chosen].reason, "socket",
		 d->cfg.socket_path, "admin_socket", d->cfg.admin_socket_path);
	return 0;
}

/* Reverse order of daemon_start. `clean`: a requested shutdown, which removes the BPF pins. */
static void daemon_stop(struct daemon *d, bool clean)
{
	admin_free(d->admin);
	/* Image verifications stop at their next request rather than run to their deadline. */
	image_sigs_cancel_all(d->image_sigs);
	/* Queued work completes first: its callbacks still use the agent, the Workload API,
	 * the SVID cache and the audit ring. */
	workers_free(d->registry_workers);
	workers_free(d->workers);
	/* Lookups still waiting end with -ECANCELED into the agent, which is still here. */
	kubelet_free(d->kubelet);
	image_sigs_free(d->image_sigs);
	http_fetch_free(d->http);
	workload_api_shutdown(d->wapi);
	svid_cache_free(d->svid_cache);
	workload_api_free(d->wapi);
	agent_free(d->agent);
	policy_free(d->policy);
	svid_ca_free(d->ca);
	audit_free(d->audit);
	if (d->signal_fd >= 0) {
		if (d->loop)
			loop_del_fd(d->loop, d->signal_fd);
		close(d->signal_fd);
	}
	loop_free(d->loop);
	capture_free(d->cap, clean);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct daemon d = {.signal_fd = -1};
	char err[CONFIG_ERR_MAX] = "";
	bool check_only = false;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'V':
			printf("attestd %s\n", ATTESTD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "attestd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (d.config_path) {
		rc = config_load_file(d.config_path, &d.cfg, err);
	} else {
		rc = config_defaults(&d.cfg);
		if (rc < 0)
			snprintf(err, sizeof(err), "embedded defaults: %s", strerror(-rc));
	}
	if (rc < 0) {
		fprintf(stderr, "attestd: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("attestd: configuration OK: %s (%zu entries, %zu templates)\n",
		       d.config_path ? d.config_path : "(embedded defaults)", d.cfg.nentries,
		       d.cfg.ntemplates);
		config_free(&d.cfg);
		return 0;
	}
	log_init(&d.log, d.cfg.log_level, STDERR_FILENO);
	libbpf_log = &d.log;
	libbpf_set_print(libbpf_print);

	rc = daemon_start(&d);
	if (rc == 0)
		rc = loop_run(d.loop);
	daemon_stop(&d, true);
	if (rc < 0) {
		config_free(&d.cfg);
		fprintf(stderr, "attestd: failed to start: %s (see the log above)\n",
			strerror(-rc));
		return 1;
	}
	config_free(&d.cfg);
	log_info(&d.log, "attestd stopped");
	return 0;
}
