/*
 * config.c - attestd's YAML configuration, read with libyaml's event API against a table of
 * known keys (the schema below). The first problem stops the parse with a message naming the
 * input, the line:column, the key path and the reason; *out changes only on success.
 * Registration entries and templates are parsed into policy.h structs (heap strings owned by
 * the config) and then checked as a whole with policy_new().
 */
#include "daemon/config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "sigstore/identity.h"
#include "sigstore/trust_root.h"

#define CONFIG_KEY_SHOW_MAX	    48 /* characters of a key or value quoted in an error message */
#define CONFIG_KEYPATH_MAX	    160
#define CONFIG_TABLE_MAX	    32 /* keys in one mapping of the schema (a bitmask tracks them) */
#define CONFIG_AUDIT_MAX	    1048576u
#define CONFIG_THREADS_MAX	    64u
#define CONFIG_TD_MAX		    255 /* SPIFFE: a trust domain name is at most 255 characters */
#define CONFIG_DURATION_MAX	    32	/* characters of a duration string */
#define CONFIG_DEFAULT_TEMPLATE_FMT "spiffe://%s/uid/{{unix.uid}}"
#define CONFIG_UNSUPPORTED_HINT \
	"not supported by this attestd version yet (see README \"Configuration\")"

static const char defaults_yaml[] =
	"# attestd embedded defaults\n"
	"trust_domain: example.org\n"
	"socket: /run/attestd/agent.sock\n"
	"admin_socket: /run/attestd/admin.sock\n"
	"state_dir: /var/lib/attestd\n"
	"log: {level: info}\n"
	"peer: {backend: auto, require_race_free: false, pin_dir: "
	"/sys/fs/bpf/attestd}\n"
	"audit: {entries: 4096}\n"
	"workers: {threads: 2}\n"
	"attestors:\n"
	"  unix: {enabled: true, hash_size_limit: 0}\n"
	"  kubernetes:\n"
	"    enabled: false\n"
	"    # ca and token_path default to the service account's files\n"
	"    kubelet: {secure_port: 10250, read_only_port: 0, skip_verification: false,\n"
	"              anonymous: false, node_name_env: MY_NODE_NAME}\n"
	"    refresh: {min_interval: 500ms, interval: 10s}\n"
	"    attestation_timeout: 5s\n"
	"    runtime: {containerd_state: /run/containerd, crio_state: /run/containers/storage}\n"
	"    disable_container_selectors: false\n"
	"    include_container_attributes: false\n"
	"    include_annotation_prefixes: []\n"
	"    sigstore:\n"
	"      enabled: false\n"
	"      allowed_identities: {}\n"
	"      # trusted_root: /etc/attestd/trusted_root.json if present, else the built-in copy\n"
	"      rekor_url: https://rekor.sigstore.dev\n"
	"      skip_provenance: false\n"
	"      skip_transparency_log: false\n"
	"      enforce_sct: true\n"
	"      resolve_tags: true\n"
	"      skip_images: []\n"
	"      timeout: 30s\n"
	"      # registry: docker_config, ca_file, credential_provider_config and _bin_dir\n"
	"      registry: {}\n"
	"ca: {generate: true}\n"
	"svid: {x509_ttl: 1h, jwt_ttl: 5m}\n"
	"# Without entries and templates in a file, this template applies, "
	"with the file's trust_domain:\n"
	"templates:\n"
	"  - spiffe_id: \"spiffe://example.org/uid/{{unix.uid}}\"\n";

/* snprintf that may truncate on purpose (gcc's -Wformat-truncation does not look into it) */
static void __attribute__((format(printf, 3, 4)))
errfmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* The defaults of every scalar key; no entries or templates. */
static void defaults_base(struct config *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->trust_domain, sizeof(out->trust_domain), "%s", "example.org");
	snprintf(out->socket_path, sizeof(out->socket_path), "%s", "/run/attestd/agent.sock");
	snprintf(out->admin_socket_path, sizeof(out->admin_socket_path), "%s",
		 "/run/attestd/admin.sock");
	snprintf(out->state_dir, sizeof(out->state_dir), "%s", "/var/lib/attestd");
	out->log_level = LOG_INFO;
	out->peer_backend = PEER_BACKEND_AUTO;
	out->require_race_free = false;
	snprintf(out->bpf_pin_dir, sizeof(out->bpf_pin_dir), "%s", "/sys/fs/bpf/attestd");
	out->audit_entries = 4096;
	out->worker_threads = 2;
	out->unix_enabled = true;
	out->hash_size_limit = 0;
	out->ca_generate = true;
	out->x509_ttl_s = 3600;
	out->jwt_ttl_s = 300;
	out->k8s_enabled = false;
	out->k8s_secure_port = KUBELET_DEFAULT_SECURE_PORT;
	out->k8s_read_only_port = 0;
	snprintf(out->k8s_node_name_env, sizeof(out->k8s_node_name_env), "%s",
		 KUBELET_DEFAULT_NODE_NAME_ENV);
	out->k8s_min_interval_ms = KUBELET_DEFAULT_MIN_INTERVAL_MS;
	out->k8s_interval_ms = KUBELET_DEFAULT_INTERVAL_MS;
	out->k8s_attestation_timeout_ms = KUBELET_DEFAULT_DEADLINE_MS;
	snprintf(out->k8s_containerd_state, sizeof(out->k8s_containerd_state), "%s",
		 "/run/containerd");
	snprintf(out->k8s_crio_state, sizeof(out->k8s_crio_state), "%s", "/run/containers/storage");
	snprintf(out->k8s_sigstore.rekor_url, sizeof(out->k8s_sigstore.rekor_url), "%s",
		 CONFIG_SIGSTORE_DEFAULT_REKOR);
	out->k8s_sigstore.enforce_sct = true;
	out->k8s_sigstore.resolve_tags = true;
	out->k8s_sigstore.timeout_ms = CONFIG_SIGSTORE_DEFAULT_TIMEOUT_MS;
}

static void sigstore_free(struct config_sigstore *s)
{
	for (size_t i = 0; i < s->n_identities; i++) {
		for (size_t j = 0; j < s->identities[i].n_subjects; j++)
			free(s->identities[i].subjects[j]);
		free(s->identities[i].subjects);
		free(s->identities[i].issuer);
	}
	free(s->identities);
	s->identities = NULL;
	s->n_identities = 0;
	for (size_t i = 0; i < s->n_skip_images; i++)
		free(s->skip_images[i]);
	free(s->skip_images);
	s->skip_images = NULL;
	s->n_skip_images = 0;
	sigstore_trust_root_free(s->trust_root);
	s->trust_root = NULL;
	sigstore_identity_policy_free(s->policy);
	s->policy = NULL;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nentries; i++)
		policy_entry_clear(&c->entries[i]);
	free(c->entries);
	c->entries = NULL;
	c->nentries = 0;
	for (size_t i = 0; i < c->ntemplates; i++)
		policy_template_clear(&c->templates[i]);
	free(c->templates);
	c->templates = NULL;
	c->ntemplates = 0;
	for (size_t i = 0; i < c->k8s_n_annotation_prefixes; i++)
		free(c->k8s_annotation_prefixes[i]);
	free(c->k8s_annotation_prefixes);
	c->k8s_annotation_prefixes = NULL;
	c->k8s_n_annotation_prefixes = 0;
	sigstore_free(&c->k8s_sigstore);
}

/* Sets the one default template, spiffe://<c->trust_domain>/uid/{{unix.uid}}. -ENOMEM. */
static int default_template(struct config *c)
{
	struct policy_template *t = calloc(1, sizeof(*t));
	size_t n = strlen(CONFIG_DEFAULT_TEMPLATE_FMT) + strlen(c->trust_domain) + 1;

	if (!t)
		return -ENOMEM;
	t->spiffe_id = malloc(n);
	if (!t->spiffe_id) {
		free(t);
		return -ENOMEM;
	}
	snprintf(t->spiffe_id, n, CONFIG_DEFAULT_TEMPLATE_FMT, c->trust_domain);
	c->templates = t;
	c->ntemplates = 1;
	return 0;
}

int config_defaults(struct config *out)
{
	defaults_base(out);
	return default_template(out);
}

const char *config_defaults_yaml(void)
{
	return defaults_yaml;
}

/* daemon/trusted_root_blob.S: deploy/trusted_root.json, built in with .incbin */
extern const char attestd_trusted_root_blob[];
extern const unsigned long long attestd_trusted_root_blob_size;

const char *config_builtin_trusted_root(size_t *len)
{
	*len = (size_t)attestd_trusted_root_blob_size;
	return attestd_trusted_root_blob;
}

/* ---- schema ---------------------------------------------------------------------------- */

enum cfg_kind {
	CFG_MAP,
	CFG_TRUST_DOMAIN,
	CFG_SOCKET,  /* absolute path that fits in sun_path */
	CFG_ABSPATH, /* absolute path */
	CFG_BOOL,
	CFG_U32,
	CFG_SIZE, /* bytes, or with a KiB/MiB/GiB suffix */
	CFG_LOG_LEVEL,
	CFG_BACKEND,
	CFG_CA_GENERATE, /* a CFG_BOOL whose presence matters (generate vs cert/key) */
	CFG_DURATION_S,	 /* "90s", "1h" -> uint64_t seconds, min..max seconds */
	CFG_STRING,	 /* heap string (char *), at most CONFIG_STRING_MAX bytes */
	CFG_STRING_LIST, /* sequence of strings: char ** at off, size_t count at cnt_off */
	CFG_CLAIMS,	 /* mapping name -> string: struct policy_claim * and count */
	CFG_ENTRIES,	 /* sequence of entry mappings: struct policy_entry * and count */
	CFG_TEMPLATES,	 /* sequence of template mappings: struct policy_template * and count */
	CFG_UNSUPPORTED, /* a DESIGN.md key this build does not implement yet */
	CFG_SECURE_PORT, /* a CFG_U32 whose presence matters (vs read_only_port) */
	CFG_DURATION_MS, /* "500ms", "10s" -> uint64_t milliseconds, min..max ms */
	CFG_HOSTNAME,	 /* a DNS name or IPv4 address, into a char buffer */
	CFG_ENV_NAME,	 /* an environment variable name [A-Za-z_][A-Za-z0-9_]*, char buffer */
	CFG_HTTPS_URL,	 /* an https:// URL without spaces or control characters, char buffer */
	CFG_IDENTITIES,	 /* mapping issuer -> sequence of subject patterns: config_identity */
};

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	size_t off;	   /* offset of the field in the struct being filled (struct config, ...) */
	size_t size;	   /* size of the field (string buffers) */
	uint32_t min, max; /* lists: max = most items */
	const struct cfg_key *children; /* CFG_MAP: terminated by a NULL name */
	size_t cnt_off;			/* lists: offset of the size_t count */
};

#define FIELD(f)      offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define EFIELD(f)     offsetof(struct policy_entry, f), sizeof(((struct policy_entry *)0)->f)
#define TFIELD(f)     offsetof(struct policy_template, f), sizeof(((struct policy_template *)0)->f)
#define ELIST(f, max) EFIELD(f), 0, max, NULL, offsetof(struct policy_entry, n##f)
#define TLIST(f, max) TFIELD(f), 0, max, NULL, offsetof(struct policy_template, n##f)
#define SLIST(f)                                          \
	TFIELD(x509_subject.f), 0, POLICY_MAX_LIST, NULL, \
		offsetof(struct policy_template, x509_subject.n##f)

static const struct cfg_key unix_keys[] = {
	{"enabled", CFG_BOOL, FIELD(unix_enabled), 0, 0, NULL, 0},
	{"hash_size_limit", CFG_SIZE, FIELD(hash_size_limit), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key kubelet_keys[] = {
	{"secure_port", CFG_SECURE_PORT, FIELD(k8s_secure_port), 1, 65535, NULL, 0},
	{"read_only_port", CFG_U32, FIELD(k8s_read_only_port), 0, 65535, NULL, 0},
	{"ca", CFG_ABSPATH, FIELD(k8s_ca), 0, 0, NULL, 0},
	{"skip_verification", CFG_BOOL, FIELD(k8s_skip_verification), 0, 0, NULL, 0},
	{"token_path", CFG_ABSPATH, FIELD(k8s_token_path), 0, 0, NULL, 0},
	{"cert", CFG_ABSPATH, FIELD(k8s_cert), 0, 0, NULL, 0},
	{"key", CFG_ABSPATH, FIELD(k8s_key), 0, 0, NULL, 0},
	{"anonymous", CFG_BOOL, FIELD(k8s_anonymous), 0, 0, NULL, 0},
	{"node_name_env", CFG_ENV_NAME, FIELD(k8s_node_name_env), 0, 0, NULL, 0},
	{"node_name", CFG_HOSTNAME, FIELD(k8s_node_name), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key refresh_keys[] = {
	{"min_interval", CFG_DURATION_MS, FIELD(k8s_min_interval_ms),
	 CONFIG_K8S_MIN_INTERVAL_MIN_MS, CONFIG_K8S_MIN_INTERVAL_MAX_MS, NULL, 0},
	{"interval", CFG_DURATION_MS, FIELD(k8s_interval_ms), CONFIG_K8S_INTERVAL_MIN_MS,
	 CONFIG_K8S_INTERVAL_MAX_MS, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key runtime_keys[] = {
	{"containerd_state", CFG_ABSPATH, FIELD(k8s_containerd_state), 0, 0, NULL, 0},
	{"crio_state", CFG_ABSPATH, FIELD(k8s_crio_state), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

#define SFIELD(f) FIELD(k8s_sigstore.f)

static const struct cfg_key registry_keys[] = {
	{"docker_config", CFG_ABSPATH, SFIELD(docker_config), 0, 0, NULL, 0},
	{"ca_file", CFG_ABSPATH, SFIELD(ca_file), 0, 0, NULL, 0},
	{"credential_provider_config", CFG_ABSPATH, SFIELD(credential_provider_config), 0, 0, NULL,
	 0},
	{"credential_provider_bin_dir", CFG_ABSPATH, SFIELD(credential_provider_bin_dir), 0, 0,
	 NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key sigstore_keys[] = {
	{"enabled", CFG_BOOL, SFIELD(enabled), 0, 0, NULL, 0},
	{"allowed_identities", CFG_IDENTITIES, SFIELD(identities), 0, CONFIG_SIGSTORE_MAX_ISSUERS,
	 NULL, offsetof(struct config, k8s_sigstore.n_identities)},
	{"trusted_root", CFG_ABSPATH, SFIELD(trusted_root), 0, 0, NULL, 0},
	{"rekor_url", CFG_HTTPS_URL, SFIELD(rekor_url), 0, 0, NULL, 0},
	{"skip_provenance", CFG_BOOL, SFIELD(skip_provenance), 0, 0, NULL, 0},
	{"skip_transparency_log", CFG_BOOL, SFIELD(skip_transparency_log), 0, 0, NULL, 0},
	{"enforce_sct", CFG_BOOL, SFIELD(enforce_sct), 0, 0, NULL, 0},
	{"resolve_tags", CFG_BOOL, SFIELD(resolve_tags), 0, 0, NULL, 0},
	{"skip_images", CFG_STRING_LIST, SFIELD(skip_images), 0, CONFIG_SIGSTORE_MAX_SKIP, NULL,
	 offsetof(struct config, k8s_sigstore.n_skip_images)},
	{"timeout", CFG_DURATION_MS, SFIELD(timeout_ms), CONFIG_SIGSTORE_TIMEOUT_MIN_MS,
	 CONFIG_SIGSTORE_TIMEOUT_MAX_MS, NULL, 0},
	{"registry", CFG_MAP, 0, 0, 0, 0, registry_keys, 0},
	{.name = NULL, 0},
};

static const struct cfg_key kubernetes_keys[] = {
	{"enabled", CFG_BOOL, FIELD(k8s_enabled), 0, 0, NULL, 0},
	{"kubelet", CFG_MAP, 0, 0, 0, 0, kubelet_keys, 0},
	{"refresh", CFG_MAP, 0, 0, 0, 0, refresh_keys, 0},
	{"attestation_timeout", CFG_DURATION_MS, FIELD(k8s_attestation_timeout_ms),
	 CONFIG_K8S_TIMEOUT_MIN_MS, CONFIG_K8S_TIMEOUT_MAX_MS, NULL, 0},
	{"runtime", CFG_MAP, 0, 0, 0, 0, runtime_keys, 0},
	{"disable_container_selectors", CFG_BOOL, FIELD(k8s_disable_container_selectors), 0, 0,
	 NULL, 0},
	{"include_container_attributes", CFG_BOOL, FIELD(k8s_include_container_attributes), 0, 0,
	 NULL, 0},
	{"include_annotation_prefixes", CFG_STRING_LIST, FIELD(k8s_annotation_prefixes), 0,
	 CONFIG_K8S_MAX_PREFIXES, NULL, offsetof(struct config, k8s_n_annotation_prefixes)},
	{"sigstore", CFG_MAP, 0, 0, 0, 0, sigstore_keys, 0},
	{.name = NULL, 0},
};

static const struct cfg_key attestor_keys[] = {
	{"unix", CFG_MAP, 0, 0, 0, 0, unix_keys, 0},
	{"kubernetes", CFG_MAP, 0, 0, 0, 0, kubernetes_keys, 0},
	{.name = NULL, 0},
};

static const struct cfg_key log_keys[] = {
	{"level", CFG_LOG_LEVEL, FIELD(log_level), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key peer_keys[] = {
	{"backend", CFG_BACKEND, FIELD(peer_backend), 0, 0, NULL, 0},
	{"require_race_free", CFG_BOOL, FIELD(require_race_free), 0, 0, NULL, 0},
	{"pin_dir", CFG_ABSPATH, FIELD(bpf_pin_dir), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key audit_keys[] = {
	{"entries", CFG_U32, FIELD(audit_entries), 1, CONFIG_AUDIT_MAX, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key worker_keys[] = {
	{"threads", CFG_U32, FIELD(worker_threads), 1, CONFIG_THREADS_MAX, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key ca_keys[] = {
	{"generate", CFG_CA_GENERATE, FIELD(ca_generate), 0, 0, NULL, 0},
	{"cert", CFG_ABSPATH, FIELD(ca_cert), 0, 0, NULL, 0},
	{"key", CFG_ABSPATH, FIELD(ca_key), 0, 0, NULL, 0},
	{"bundle", CFG_ABSPATH, FIELD(ca_bundle), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key svid_keys[] = {
	{"x509_ttl", CFG_DURATION_S, FIELD(x509_ttl_s), CONFIG_X509_TTL_MIN_S,
	 CONFIG_X509_TTL_MAX_S, NULL, 0},
	{"jwt_ttl", CFG_DURATION_S, FIELD(jwt_ttl_s), CONFIG_JWT_TTL_MIN_S, CONFIG_JWT_TTL_MAX_S,
	 NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key entry_keys[] = {
	{"spiffe_id", CFG_STRING, EFIELD(spiffe_id), 0, 0, NULL, 0},
	{"selectors", CFG_STRING_LIST, ELIST(selectors, POLICY_MAX_SELECTORS)},
	{"ttl", CFG_DURATION_S, EFIELD(x509_ttl_s), CONFIG_X509_TTL_MIN_S, CONFIG_X509_TTL_MAX_S,
	 NULL, 0},
	{"dns_names", CFG_STRING_LIST, ELIST(dns_names, POLICY_MAX_LIST)},
	{"hint", CFG_STRING, EFIELD(hint), 0, 0, NULL, 0},
	{.name = NULL, 0},
};

static const struct cfg_key subject_keys[] = {
	{"common_name", CFG_STRING, TFIELD(x509_subject.common_name), 0, 0, NULL, 0},
	{"organization", CFG_STRING_LIST, SLIST(organization)},
	{"organizational_unit", CFG_STRING_LIST, SLIST(organizational_unit)},
	{"country", CFG_STRING_LIST, SLIST(country)},
	{"province", CFG_STRING_LIST, SLIST(province)},
	{"locality", CFG_STRING_LIST, SLIST(locality)},
	{.name = NULL, 0},
};

static const struct cfg_key template_keys[] = {
	{"spiffe_id", CFG_STRING, TFIELD(spiffe_id), 0, 0, NULL, 0},
	{"when", CFG_STRING_LIST, TLIST(when, POLICY_MAX_SELECTORS)},
	{"ttl", CFG_DURATION_S, TFIELD(x509_ttl_s), CONFIG_X509_TTL_MIN_S, CONFIG_X509_TTL_MAX_S,
	 NULL, 0},
	{"dns_names", CFG_STRING_LIST, TLIST(dns_names, POLICY_MAX_LIST)},
	{"hint", CFG_STRING, TFIELD(hint), 0, 0, NULL, 0},
	{"x509_subject", CFG_MAP, 0, 0, 0, 0, subject_keys, 0},
	{"jwt_claims", CFG_CLAIMS, TLIST(jwt_claims, POLICY_MAX_LIST)},
	{.name = NULL, 0},
};

static const struct cfg_key root_keys[] = {
	{"trust_domain", CFG_TRUST_DOMAIN, FIELD(trust_domain), 0, 0, NULL, 0},
	{"socket", CFG_SOCKET, FIELD(socket_path), 0, 0, NULL, 0},
	{"admin_socket", CFG_SOCKET, FIELD(admin_socket_path), 0, 0, NULL, 0},
	{"state_dir", CFG_ABSPATH, FIELD(state_dir), 0, 0, NULL, 0},
	{"log", CFG_MAP, 0, 0, 0, 0, log_keys, 0},
	{"peer", CFG_MAP, 0, 0, 0, 0, peer_keys, 0},
	{"audit", CFG_MAP, 0, 0, 0, 0, audit_keys, 0},
	{"workers", CFG_MAP, 0, 0, 0, 0, worker_keys, 0},
	{"attestors", CFG_MAP, 0, 0, 0, 0, attestor_keys, 0},
	{"ca", CFG_MAP, 0, 0, 0, 0, ca_keys, 0},
	{"svid", CFG_MAP, 0, 0, 0, 0, svid_keys, 0},
	{"entries", CFG_ENTRIES, FIELD(entries), 0, POLICY_MAX_ENTRIES, NULL,
	 offsetof(struct config, nentries)},
	{"templates", CFG_TEMPLATES, FIELD(templates), 0, POLICY_MAX_TEMPLATES, NULL,
	 offsetof(struct config, ntemplates)},
	{"metrics", CFG_UNSUPPORTED, 0, 0, 0, 0, NULL, 0},
	{.name = NULL, 0},
};

/* ---- parse context and errors ---------------------------------------------------------- */

/* Where each entry/template starts, so a policy_new error can point at its line. */
struct cfg_marks {
	yaml_mark_t *v;
	size_t n, cap;
};

struct cfg_ctx {
	yaml_parser_t parser;
	const char *name;
	char *err;
	struct config *cfg;
	char path[CONFIG_KEYPATH_MAX]; /* dotted path of the key being parsed */
	bool ca_generate_seen;	       /* ca.generate was written */
	bool policy_seen;	       /* entries: or templates: was written */
	bool secure_port_seen;	       /* attestors.kubernetes.kubelet.secure_port was written */
	struct cfg_marks entry_marks, template_marks;
};

/* Copies up to CONFIG_KEY_SHOW_MAX characters of s into buf, with '?' for unprintable bytes. */
static const char *show(const char *s, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == CONFIG_KEY_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
	return buf;
}

/* "name:line:col: path: message" (path omitted when empty). Returns rc. */
static int __attribute__((format(printf, 4, 5)))
cfg_fail(struct cfg_ctx *c, int rc, const yaml_mark_t *mark, const char *fmt, ...)
{
	char msg[CONFIG_ERR_MAX];
	char where[64] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mark)
		snprintf(where, sizeof(where), ":%zu:%zu", mark->line + 1, mark->column + 1);
	errfmt(c->err, CONFIG_ERR_MAX, "%s%s: %s%s%s", c->name, where, c->path,
	       c->path[0] ? ": " : "", msg);
	return rc;
}

static int cfg_syntax_error(struct cfg_ctx *c)
{
	const yaml_parser_t *p = &c->parser;
	const char *problem = p->problem ? p->problem : "unknown error";

	c->path[0] = '\0';
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	case YAML_READER_ERROR:
		errfmt(c->err, CONFIG_ERR_MAX, "%s: invalid input at byte %zu: %s", c->name,
		       p->problem_offset, problem);
		return -EPROTO;
	default:
		if (p->context)
			return cfg_fail(c, -EPROTO, &p->problem_mark, "YAML syntax error: %s %s",
					problem, p->context);
		return cfg_fail(c, -EPROTO, &p->problem_mark, "YAML syntax error: %s", problem);
	}
}

static const yaml_mark_t *event_mark(const yaml_event_t *ev)
{
	return &ev->start_mark;
}

/*
 * Next event. Aliases and explicit tags are refused here, so no caller sees them.
 * On failure the event needs no yaml_event_delete.
 */
static int cfg_next(struct cfg_ctx *c, yaml_event_t *ev)
{
	const unsigned char *tag = NULL;
	int rc = 0;

	if (!yaml_parser_parse(&c->parser, ev))
		return cfg_syntax_error(c);
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		rc = cfg_fail(c, -EPROTO, event_mark(ev), "YAML aliases (*name) are not supported");
		break;
	case YAML_SCALAR_EVENT:
		tag = ev->data.scalar.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		tag = ev->data.sequence_start.tag;
		break;
	default:
		break;
	}
	if (rc == 0 && tag)
		rc = cfg_fail(c, -EPROTO, event_mark(ev), "YAML tags (%s) are not supported",
			      (const char *)tag);
	if (rc < 0)
		yaml_event_delete(ev);
	return rc;
}

/* ---- scalar helpers -------------------------------------------------------------------- */

static bool scalar_is_plain(const yaml_event_t *ev)
{
	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A plain "", "~" or "null": YAML's null. */
static bool scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return scalar_is_plain(ev) &&
	       (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
		strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

static const char *event_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_SCALAR_EVENT:
		return scalar_is_null(ev) ? "an empty value" : "a scalar";
	default:
		return "something else";
	}
}

/* Parses decimal digits only (no sign, no leading zeros, no 0x). */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v))
			return -ERANGE;
	}
	*out = v;
	return 0;
}

static int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {{"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};
	char digits[32];
	size_t n = strspn(s, "0123456789");
	uint64_t mult = 1;
	int rc;

	if (n == 0 || n >= sizeof(digits))
		return n == 0 ? -EINVAL : -ERANGE;
	if (s[n]) {
		mult = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(s + n, units[i].suffix) == 0)
				mult = units[i].mult;
		if (!mult)
			return -EINVAL;
	}
	memcpy(digits, s, n);
	digits[n] = '\0';
	rc = parse_u64(digits, out);
	if (rc < 0)
		return rc;
	if (__builtin_mul_overflow(*out, mult, out))
		return -ERANGE;
	return 0;
}

static int check_trust_domain(struct cfg_ctx *c, const yaml_event_t *ev, const char *v, size_t n)
{
	char shown[CONFIG_KEY_SHOW_MAX + 8];

	if (strncmp(v, "spiffe://", 9) == 0)
		return cfg_fail(
			c, -EINVAL, event_mark(ev),
			"\"%s\": write the trust domain without spiffe:// (e.g. example.org)",
			show(v, n, shown, sizeof(shown)));
	if (n > CONFIG_TD_MAX)
		return cfg_fail(c, -EINVAL, event_mark(ev), "longer than %d characters",
				CONFIG_TD_MAX);
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];

		if (ch >= 'A' && ch <= 'Z')
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"\"%s\": uppercase letters are not allowed (SPIFFE trust "
					"domains are lowercase)",
					show(v, n, shown, sizeof(shown)));
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-' || ch == '_'))
			return cfg_fail(
				c, -EINVAL, event_mark(ev),
				"\"%s\": invalid character at position %zu (allowed: a-z 0-9 "
				". - _)",
				show(v, n, shown, sizeof(shown)), i + 1);
	}
	return 0;
}

static int check_path(struct cfg_ctx *c, const yaml_event_t *ev, const char *v, size_t n,
		      size_t size, bool socket)
{
	char shown[CONFIG_KEY_SHOW_MAX + 8];

	if (v[0] != '/')
		return cfg_fail(c, -EINVAL, event_mark(ev), "\"%s\": must be an absolute path",
				show(v, n, shown, sizeof(shown)));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"path contains a control character");
	if (n >= size) {
		if (socket)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"path is %zu bytes; a Unix socket path must be shorter "
					"than %zu bytes",
					n, size);
		return cfg_fail(c, -EINVAL, event_mark(ev), "path longer than %zu bytes", size - 1);
	}
	return 0;
}

static bool hostname_ok(const char *h)
{
	if (h[0] == '-' || h[0] == '.')
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '-' || *h == '.'))
			return false;
	return true;
}

static bool env_name_ok(const char *s)
{
	if (*s >= '0' && *s <= '9')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* "90s", "5m" or "1h" for a bound in seconds (for messages). */
static const char *duration_text(uint32_t s, char buf[16])
{
	if (s % 3600 == 0)
		snprintf(buf, 16, "%uh", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, 16, "%um", s / 60);
	else
		snprintf(buf, 16, "%us", s);
	return buf;
}

/* "500ms", or as duration_text() for whole seconds (for messages). */
static const char *duration_ms_text(uint32_t ms, char buf[16])
{
	if (ms % 1000 == 0)
		return duration_text(ms / 1000, buf);
	snprintf(buf, 16, "%ums", ms);
	return buf;
}

/* Parses and stores the value of a scalar key into base (struct config or a policy item). */
static int cfg_scalar(struct cfg_ctx *c, const struct cfg_key *k, void *base,
		      const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	char *field = (char *)base + k->off;
	char shown[CONFIG_KEY_SHOW_MAX + 8];
	uint64_t u;
	int rc;

	if (ev->type != YAML_SCALAR_EVENT || scalar_is_null(ev))
		return cfg_fail(c, -EINVAL, event_mark(ev), "expected a value, got %s",
				event_kind(ev));
	if (n == 0)
		return cfg_fail(c, -EINVAL, event_mark(ev),
				"expected a value, got an empty string");
	if (memchr(v, '\0', n))
		return cfg_fail(c, -EINVAL, event_mark(ev), "value contains a NUL character");
	show(v, n, shown, sizeof(shown));

	switch (k->kind) {
	case CFG_TRUST_DOMAIN:
		rc = check_trust_domain(c, ev, v, n);
		if (rc < 0)
			return rc;
		memcpy(field, v, n + 1);
		return 0;
	case CFG_SOCKET:
	case CFG_ABSPATH:
		rc = check_path(c, ev, v, n, k->size, k->kind == CFG_SOCKET);
		if (rc < 0)
			return rc;
		memcpy(field, v, n + 1);
		return 0;
	case CFG_BOOL:
	case CFG_CA_GENERATE:
		if (k->kind == CFG_CA_GENERATE)
			c->ca_generate_seen = true;
		if (scalar_is_plain(ev) && strcmp(v, "true") == 0) {
			*(bool *)field = true;
			return 0;
		}
		if (scalar_is_plain(ev) && strcmp(v, "false") == 0) {
			*(bool *)field = false;
			return 0;
		}
		if (!scalar_is_plain(ev))
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"expected true or false, got the quoted string \"%s\"",
					shown);
		return cfg_fail(c, -EINVAL, event_mark(ev),
				"expected true or false, got \"%s\" (YAML 1.1 forms like yes/no/"
				"on/off are not accepted)",
				shown);
	case CFG_SECURE_PORT:
	case CFG_U32:
		if (k->kind == CFG_SECURE_PORT)
			c->secure_port_seen = true;
		rc = scalar_is_plain(ev) ? parse_u64(v, &u) : -EINVAL;
		if (rc < 0 || u < k->min || u > k->max)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"expected an integer from %u to %u, got \"%s\"", k->min,
					k->max, shown);
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case CFG_SIZE:
		rc = scalar_is_plain(ev) ? parse_size(v, &u) : -EINVAL;
		if (rc == -ERANGE)
			return cfg_fail(c, -EINVAL, event_mark(ev), "\"%s\": too large", shown);
		if (rc < 0)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"expected a size in bytes, optionally with KiB, MiB or "
					"GiB (e.g. 64MiB), got \"%s\"",
					shown);
		*(uint64_t *)field = u;
		return 0;
	case CFG_LOG_LEVEL:
		if (log_level_from_name(v, (enum log_level *)field) < 0)
			return cfg_fail(
				c, -EINVAL, event_mark(ev),
				"unknown level \"%s\" (expected debug, info, warn or error)",
				shown);
		return 0;
	case CFG_BACKEND: {
		enum peer_backend b;

		if (peer_backend_from_name(v, &b) < 0 || b == PEER_BACKEND_PROC ||
		    b >= PEER_BACKEND_COUNT)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"unknown backend \"%s\" (expected auto, lsm, fexit, "
					"connect_unix, pidfd or peercred)",
					shown);
		*(enum peer_backend *)field = b;
		return 0;
	}
	case CFG_DURATION_S: {
		char lo[16], hi[16];

		rc = scalar_is_plain(ev) ? config_parse_duration_ms(v, &u) : -EINVAL;
		if (rc < 0 || u % 1000 != 0 || u / 1000 < k->min || u / 1000 > k->max)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"expected a duration in whole seconds from %s to %s (e.g. "
					"90s, 5m, 1h), got \"%s\"",
					duration_text(k->min, lo), duration_text(k->max, hi),
					shown);
		*(uint64_t *)field = u / 1000;
		return 0;
	}
	case CFG_DURATION_MS: {
		char lo[16], hi[16];

		rc = scalar_is_plain(ev) ? config_parse_duration_ms(v, &u) : -EINVAL;
		if (rc < 0 || u < k->min || u > k->max)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"expected a duration from %s to %s (e.g. 500ms, 10s, 1m), "
					"got \"%s\"",
					duration_ms_text(k->min, lo), duration_ms_text(k->max, hi),
					shown);
		*(uint64_t *)field = u;
		return 0;
	}
	case CFG_HOSTNAME:
		if (n >= k->size || !hostname_ok(v))
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"\"%s\": not a host name (letters, digits, '-' and '.', "
					"at most %zu characters)",
					shown, k->size - 1);
		memcpy(field, v, n + 1);
		return 0;
	case CFG_ENV_NAME:
		if (n >= k->size || !env_name_ok(v))
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"\"%s\": not an environment variable name ([A-Za-z_]"
					"[A-Za-z0-9_]*)",
					shown);
		memcpy(field, v, n + 1);
		return 0;
	case CFG_STRING:
		if (n > CONFIG_STRING_MAX)
			return cfg_fail(c, -EINVAL, event_mark(ev), "longer than %d bytes",
					CONFIG_STRING_MAX);
		assert(*(char **)field == NULL); /* duplicate keys are refused before */
		*(char **)field = strndup(v, n);
		if (!*(char **)field)
			return cfg_fail(c, -ENOMEM, NULL, "out of memory");
		return 0;
	case CFG_HTTPS_URL:
		if (strncmp(v, "https://", 8) != 0 || n == 8)
			return cfg_fail(c, -EINVAL, event_mark(ev),
					"\"%s\": must be an https:// URL", shown);
		if (n >= k->size)
			return cfg_fail(c, -EINVAL, event_mark(ev), "URL longer than %zu bytes",
					k->size - 1);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f)
				return cfg_fail(c, -EINVAL, event_mark(ev),
						"URL contains a space or control character");
		memcpy(field, v, n + 1);
		return 0;
	case CFG_MAP:
	case CFG_IDENTITIES:
	case CFG_STRING_LIST:
	case CFG_CLAIMS:
	case CFG_ENTRIES:
	case CFG_TEMPLATES:
	case CFG_UNSUPPORTED:
		break;
	}
	assert(!"cfg_scalar: not a scalar kind");
	return -EINVAL;
}

static void path_push(struct cfg_ctx *c, const char *key, size_t keylen, size_t *saved)
{
	char shown[CONFIG_KEY_SHOW_MAX + 8];
	size_t len = strlen(c->path);

	*saved = len;
	show(key, keylen, shown, sizeof(shown));
	errfmt(c->path + len, sizeof(c->path) - len, "%s%s", len ? "." : "", shown);
}

static void path_push_index(struct cfg_ctx *c, size_t i, size_t *saved)
{
	size_t len = strlen(c->path);

	*saved = len;
	errfmt(c->path + len, sizeof(c->path) - len, "[%zu]", i);
}

static void known_keys(const struct cfg_key *table, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const struct cfg_key *k = table; k->name && o < size; k++) {
		if (k->kind == CFG_UNSUPPORTED)
			continue;
		o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", k->name);
	}
}

static int cfg_list(struct cfg_ctx *c, const struct cfg_key *k, void *base,
		    const yaml_event_t *start, int depth);
static int cfg_identities(struct cfg_ctx *c, const struct cfg_key *k, void *base,
			  const yaml_event_t *start, int depth);

/*
 * Parses a mapping whose MAPPING_START event has been consumed, up to and including its
 * MAPPING_END, into base (the struct the table's offsets refer to).
 */
static int cfg_mapping(struct cfg_ctx *c, const struct cfg_key *table, void *base, int depth)
{
	uint32_t seen = 0;
	yaml_event_t kev, vev;
	int rc = 0;

	if (depth > CONFIG_MAX_DEPTH)
		return cfg_fail(c, -EPROTO, NULL, "nested more than %d levels", CONFIG_MAX_DEPTH);
	for (;;) {
		const struct cfg_key *k = NULL;
		size_t saved = 0, idx = 0;
		bool pushed = false, have_vev = false;

		rc = cfg_next(c, &kev);
		if (rc < 0)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			rc = cfg_fail(c, -EINVAL, event_mark(&kev),
				      "a key must be a string, not %s", event_kind(&kev));
			goto out;
		}
		path_push(c, (const char *)kev.data.scalar.value, kev.data.scalar.length, &saved);
		pushed = true;
		for (idx = 0; table[idx].name; idx++) {
			if (strlen(table[idx].name) == kev.data.scalar.length &&
			    memcmp(table[idx].name, kev.data.scalar.value,
				   kev.data.scalar.length) == 0) {
				k = &table[idx];
				break;
			}
		}
		if (!k) {
			char known[CONFIG_ERR_MAX];

			known_keys(table, known, sizeof(known));
			rc = cfg_fail(c, -EINVAL, event_mark(&kev), "unknown key (known: %s)",
				      known);
			goto out;
		}
		if (k->kind == CFG_UNSUPPORTED) {
			rc = cfg_fail(c, -EINVAL, event_mark(&kev), CONFIG_UNSUPPORTED_HINT);
			goto out;
		}
		assert(idx < CONFIG_TABLE_MAX);
		if (seen & (1u << idx)) {
			rc = cfg_fail(c, -EINVAL, event_mark(&kev), "duplicate key");
			goto out;
		}
		seen |= 1u << idx;

		rc = cfg_next(c, &vev);
		if (rc < 0)
			goto out;
		have_vev = true;
		if (k->kind == CFG_MAP) {
			if (vev.type == YAML_MAPPING_START_EVENT)
				rc = cfg_mapping(c, k->children, base, depth + 1);
			else if (vev.type != YAML_SCALAR_EVENT || !scalar_is_null(&vev))
				rc = cfg_fail(c, -EINVAL, event_mark(&vev),
					      "expected a mapping, got %s", event_kind(&vev));
			/* an empty section (e.g. "log:") keeps the defaults */
		} else if (k->kind == CFG_STRING_LIST || k->kind == CFG_CLAIMS ||
			   k->kind == CFG_ENTRIES || k->kind == CFG_TEMPLATES) {
			rc = cfg_list(c, k, base, &vev, depth + 1);
		} else if (k->kind == CFG_IDENTITIES) {
			rc = cfg_identities(c, k, base, &vev, depth + 1);
		} else {
			rc = cfg_scalar(c, k, base, &vev);
		}
	out:
		if (have_vev)
			yaml_event_delete(&vev);
		yaml_event_delete(&kev);
		if (rc < 0)
			return rc;
		if (pushed)
			c->path[saved] = '\0';
	}
}

/* ---- lists: string sequences, jwt_claims, entries, templates --------------------------- */

/* Makes room for item n of the array whose pointer is stored at field (any element type). */
static int array_grow(char *field, size_t *cap, size_t n, size_t elem)
{
	void *arr, *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	memcpy(&arr, field, sizeof(arr));
	p = realloc(arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	memcpy(field, &p, sizeof(p));
	*cap = ncap;
	return 0;
}

static int marks_push(struct cfg_marks *m, const yaml_mark_t *mark)
{
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		yaml_mark_t *v = realloc(m->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->v = v;
		m->cap = ncap;
	}
	m->v[m->n++] = *mark;
	return 0;
}

/* One string of a list or a claim: a non-empty scalar without NUL. *out: heap copy. */
static int cfg_string_item(struct cfg_ctx *c, const yaml_event_t *ev, char **out)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->type != YAML_SCALAR_EVENT || scalar_is_null(ev))
		return cfg_fail(c, -EINVAL, event_mark(ev), "expected a string, got %s",
				event_kind(ev));
	if (n == 0)
		return cfg_fail(c, -EINVAL, event_mark(ev),
				"expected a string, got an empty string");
	if (memchr(v, '\0', n))
		return cfg_fail(c, -EINVAL, event_mark(ev), "value contains a NUL character");
	if (n > CONFIG_STRING_MAX)
		return cfg_fail(c, -EINVAL, event_mark(ev), "longer than %d bytes",
				CONFIG_STRING_MAX);
	*out = strndup(v, n);
	if (!*out)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	return 0;
}

/* jwt_claims item: the key event is ev; reads the value. */
static int cfg_claim(struct cfg_ctx *c, struct policy_claim *claims, size_t i,
		     const yaml_event_t *ev)
{
	yaml_event_t vev;
	const char *name = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	int rc;

	if (ev->type != YAML_SCALAR_EVENT)
		return cfg_fail(c, -EINVAL, event_mark(ev), "a claim name must be a string, not %s",
				event_kind(ev));
	for (size_t j = 0; j < i; j++)
		if (strlen(claims[j].name) == n && memcmp(claims[j].name, name, n) == 0)
			return cfg_fail(c, -EINVAL, event_mark(ev), "duplicate key");
	rc = cfg_string_item(c, ev, &claims[i].name);
	if (rc < 0)
		return rc;
	rc = cfg_next(c, &vev);
	if (rc < 0)
		return rc;
	rc = cfg_string_item(c, &vev, &claims[i].value);
	yaml_event_delete(&vev);
	return rc;
}

/*
 * Parses a list-like value (start is its first event, already consumed) into base + k->off,
 * with the count at base + k->cnt_off. An empty value ("key:" or "key: ~") is an empty list.
 * Items are counted as soon as they are allocated, so config_free releases a partial parse.
 */
static int cfg_list(struct cfg_ctx *c, const struct cfg_key *k, void *base,
		    const yaml_event_t *start, int depth)
{
	char *field = (char *)base + k->off;
	size_t *count = (size_t *)((char *)base + k->cnt_off);
	bool is_map = k->kind == CFG_CLAIMS;
	size_t cap = 0, elem;
	yaml_event_t ev;
	int rc;

	switch (k->kind) {
	case CFG_STRING_LIST:
		elem = sizeof(char *);
		break;
	case CFG_CLAIMS:
		elem = sizeof(struct policy_claim);
		break;
	case CFG_ENTRIES:
		elem = sizeof(struct policy_entry);
		break;
	default:
		elem = sizeof(struct policy_template);
		break;
	}
	if (k->kind == CFG_ENTRIES || k->kind == CFG_TEMPLATES)
		c->policy_seen = true;
	if (depth > CONFIG_MAX_DEPTH)
		return cfg_fail(c, -EPROTO, NULL, "nested more than %d levels", CONFIG_MAX_DEPTH);
	if (start->type == YAML_SCALAR_EVENT && scalar_is_null(start))
		return 0;
	if (start->type != (is_map ? YAML_MAPPING_START_EVENT : YAML_SEQUENCE_START_EVENT))
		return cfg_fail(c, -EINVAL, event_mark(start), "expected %s, got %s",
				is_map ? "a mapping" : "a sequence", event_kind(start));
	for (;;) {
		size_t saved = 0, i = *count;
		bool pushed = false;
		char *item;

		rc = cfg_next(c, &ev);
		if (rc < 0)
			return rc;
		if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (i >= k->max) {
			rc = cfg_fail(c, -EINVAL, event_mark(&ev), "more than %u items", k->max);
			goto next;
		}
		if (array_grow(field, &cap, i, elem) < 0) {
			rc = cfg_fail(c, -ENOMEM, NULL, "out of memory");
			goto next;
		}
		memcpy(&item, field, sizeof(item));
		item += i * elem;
		memset(item, 0, elem);
		(*count)++;
		if (is_map) {
			if (ev.type == YAML_SCALAR_EVENT) {
				path_push(c, (const char *)ev.data.scalar.value,
					  ev.data.scalar.length, &saved);
				pushed = true;
			}
			memcpy(&item, field, sizeof(item));
			rc = cfg_claim(c, (struct policy_claim *)item, i, &ev);
			goto next;
		}
		path_push_index(c, i, &saved);
		pushed = true;
		if (k->kind == CFG_STRING_LIST) {
			rc = cfg_string_item(c, &ev, (char **)item);
			goto next;
		}
		if (ev.type != YAML_MAPPING_START_EVENT) {
			rc = cfg_fail(c, -EINVAL, event_mark(&ev), "expected a mapping, got %s",
				      event_kind(&ev));
			goto next;
		}
		rc = marks_push(k->kind == CFG_ENTRIES ? &c->entry_marks : &c->template_marks,
				event_mark(&ev));
		if (rc < 0) {
			rc = cfg_fail(c, -ENOMEM, NULL, "out of memory");
			goto next;
		}
		rc = cfg_mapping(c, k->kind == CFG_ENTRIES ? entry_keys : template_keys, item,
				 depth + 1);
	next:
		yaml_event_delete(&ev);
		if (rc < 0)
			return rc;
		if (pushed)
			c->path[saved] = '\0';
	}
}

/*
 * allowed_identities: a mapping of OIDC issuer -> non-empty sequence of subject patterns, into
 * struct config_identity items, counted as soon as allocated (config_free frees a partial parse).
 * The patterns are checked with the identity policy in cfg_validate_sigstore.
 */
static int cfg_identities(struct cfg_ctx *c, const struct cfg_key *k, void *base,
			  const yaml_event_t *start, int depth)
{
	static const struct cfg_key subjects_key = {
		"subjects",
		CFG_STRING_LIST,
		offsetof(struct config_identity, subjects),
		sizeof(char **),
		0,
		CONFIG_SIGSTORE_MAX_SUBJECTS,
		NULL,
		offsetof(struct config_identity, n_subjects),
	};
	char *field = (char *)base + k->off;
	size_t *count = (size_t *)((char *)base + k->cnt_off);
	size_t cap = 0;
	yaml_event_t kev, vev;
	int rc;

	if (depth > CONFIG_MAX_DEPTH)
		return cfg_fail(c, -EPROTO, NULL, "nested more than %d levels", CONFIG_MAX_DEPTH);
	if (start->type == YAML_SCALAR_EVENT && scalar_is_null(start))
		return 0;
	if (start->type != YAML_MAPPING_START_EVENT)
		return cfg_fail(c, -EINVAL, event_mark(start),
				"expected a mapping of OIDC issuer to a list of subject patterns, "
				"got %s",
				event_kind(start));
	for (;;) {
		struct config_identity *arr, *id;
		size_t saved = 0, i = *count;
		bool pushed = false, have_vev = false;

		rc = cfg_next(c, &kev);
		if (rc < 0)
			return rc;
		if (kev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&kev);
			return 0;
		}
		if (kev.type != YAML_SCALAR_EVENT) {
			rc = cfg_fail(c, -EINVAL, event_mark(&kev),
				      "an issuer must be a string, not %s", event_kind(&kev));
			goto next;
		}
		path_push(c, (const char *)kev.data.scalar.value, kev.data.scalar.length, &saved);
		pushed = true;
		if (i >= k->max) {
			rc = cfg_fail(c, -EINVAL, event_mark(&kev), "more than %u issuers", k->max);
			goto next;
		}
		memcpy(&arr, field, sizeof(arr));
		for (size_t j = 0; j < i; j++) {
			if (strlen(arr[j].issuer) == kev.data.scalar.length &&
			    memcmp(arr[j].issuer, kev.data.scalar.value, kev.data.scalar.length) ==
				    0) {
				rc = cfg_fail(c, -EINVAL, event_mark(&kev), "duplicate issuer");
				goto next;
			}
		}
		if (array_grow(field, &cap, i, sizeof(*arr)) < 0) {
			rc = cfg_fail(c, -ENOMEM, NULL, "out of memory");
			goto next;
		}
		memcpy(&arr, field, sizeof(arr));
		id = &arr[i];
		memset(id, 0, sizeof(*id));
		(*count)++;
		rc = cfg_string_item(c, &kev, &id->issuer);
		if (rc < 0)
			goto next;
		rc = cfg_next(c, &vev);
		if (rc < 0)
			goto next;
		have_vev = true;
		rc = cfg_list(c, &subjects_key, id, &vev, depth + 1);
		if (rc == 0 && id->n_subjects == 0)
			rc = cfg_fail(c, -EINVAL, event_mark(&vev),
				      "at least one subject pattern is required");
	next:
		if (have_vev)
			yaml_event_delete(&vev);
		yaml_event_delete(&kev);
		if (rc < 0)
			return rc;
		if (pushed)
			c->path[saved] = '\0';
	}
}

/* ca: exactly one of {generate: true} and {cert, key, bundle?}. */
static int cfg_validate_ca(struct cfg_ctx *c)
{
	struct config *cfg = c->cfg;

	snprintf(c->path, sizeof(c->path), "ca");
	if (cfg->ca_cert[0] || cfg->ca_key[0] || cfg->ca_bundle[0]) {
		if (c->ca_generate_seen && cfg->ca_generate)
			return cfg_fail(
				c, -EINVAL, NULL,
				"generate: true and cert/key/bundle are mutually exclusive");
		if (!cfg->ca_cert[0] || !cfg->ca_key[0])
			return cfg_fail(c, -EINVAL, NULL, "%s is set but %s is missing",
					cfg->ca_cert[0]	 ? "cert"
					: cfg->ca_key[0] ? "key"
							 : "bundle",
					cfg->ca_cert[0] ? "key" : "cert");
		cfg->ca_generate = false;
	} else if (!cfg->ca_generate) {
		return cfg_fail(c, -EINVAL, NULL,
				"generate is false, so cert and key (PEM files) are required");
	}
	c->path[0] = '\0';
	return 0;
}

/* Entries and templates: the default template if the file has neither, then policy_new. */
static int cfg_validate_policy(struct cfg_ctx *c)
{
	struct config *cfg = c->cfg;
	const yaml_mark_t *mark = NULL;
	char perr[POLICY_ERR_MAX];
	struct policy *p = NULL;
	size_t i;
	int rc;

	if (!c->policy_seen && default_template(cfg) < 0)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	rc = policy_new(cfg->trust_domain, cfg->entries, cfg->nentries, cfg->templates,
			cfg->ntemplates, &p, perr);
	if (rc == -ENOMEM)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	if (rc < 0) {
		if (sscanf(perr, "entries[%zu]", &i) == 1 && i < c->entry_marks.n)
			mark = &c->entry_marks.v[i];
		else if (sscanf(perr, "templates[%zu]", &i) == 1 && i < c->template_marks.n)
			mark = &c->template_marks.v[i];
		return cfg_fail(c, -EINVAL, mark, "%s", perr);
	}
	policy_free(p);
	return 0;
}

/* attestors.kubernetes: the option combinations SPIRE's k8s attestor refuses too. */
static int cfg_validate_k8s(struct cfg_ctx *c)
{
	struct config *cfg = c->cfg;
	int rc = 0;

	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.kubelet");
	if (cfg->k8s_read_only_port && c->secure_port_seen)
		return cfg_fail(c, -EINVAL, NULL,
				"read_only_port and secure_port are mutually exclusive (set one)");
	if (!cfg->k8s_cert[0] != !cfg->k8s_key[0])
		return cfg_fail(c, -EINVAL, NULL, "%s is set but %s is missing",
				cfg->k8s_cert[0] ? "cert" : "key",
				cfg->k8s_cert[0] ? "key" : "cert");
	if (cfg->k8s_anonymous && (cfg->k8s_token_path[0] || cfg->k8s_cert[0]))
		return cfg_fail(c, -EINVAL, NULL,
				"anonymous: true excludes %s (anonymous means no credentials)",
				cfg->k8s_token_path[0] ? "token_path" : "cert/key");
	if (cfg->k8s_token_path[0] && cfg->k8s_cert[0])
		return cfg_fail(c, -EINVAL, NULL,
				"token_path and cert/key are mutually exclusive (one way to "
				"authenticate)");
	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.refresh");
	if (cfg->k8s_interval_ms < cfg->k8s_min_interval_ms)
		return cfg_fail(c, -EINVAL, NULL,
				"interval (%llu ms) is shorter than min_interval (%llu ms)",
				(unsigned long long)cfg->k8s_interval_ms,
				(unsigned long long)cfg->k8s_min_interval_ms);
	c->path[0] = '\0';
	return rc;
}

/* Reads a regular file of at most max bytes into *out (caller frees). -errno, -EFBIG. */
static int read_file_bounded(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	buf = malloc(max + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	while (n < max + 1) {
		ssize_t r = read(fd, buf + n, max + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		rc = -EFBIG;
		goto out;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* trusted_root: the file set, else the default path if it exists, else the built-in copy. */
static int cfg_load_trust_root(struct cfg_ctx *c, struct config_sigstore *s)
{
	const char *path = s->trusted_root[0] ? s->trusted_root : CONFIG_SIGSTORE_DEFAULT_ROOT;
	char terr[256] = "";
	char *buf = NULL;
	const char *data;
	size_t len = 0;
	int rc;

	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.sigstore.trusted_root");
	rc = read_file_bounded(path, SIGSTORE_TR_MAX_SIZE, &buf, &len);
	if (rc == -ENOENT && !s->trusted_root[0]) {
		data = config_builtin_trusted_root(&len);
		snprintf(s->trusted_root_source, sizeof(s->trusted_root_source), "%s",
			 CONFIG_SIGSTORE_BUILTIN_ROOT);
	} else if (rc == -EFBIG) {
		return cfg_fail(c, -EINVAL, NULL, "%s: larger than %u bytes", path,
				SIGSTORE_TR_MAX_SIZE);
	} else if (rc < 0) {
		return cfg_fail(c, rc == -ENOMEM ? -ENOMEM : -EINVAL, NULL, "%s: cannot read: %s",
				path, rc == -EINVAL ? "not a regular file" : strerror(-rc));
	} else {
		data = buf;
		snprintf(s->trusted_root_source, sizeof(s->trusted_root_source), "%s", path);
	}
	rc = sigstore_trust_root_parse(data, len, &s->trust_root, terr);
	if (rc < 0) {
		rc = cfg_fail(c, rc == -ENOMEM ? -ENOMEM : -EINVAL, NULL, "%s: %s",
			      s->trusted_root_source, terr);
		goto out;
	}
	if (!EVP_Digest(data, len, s->trusted_root_sha256, NULL, EVP_sha256(), NULL)) {
		rc = cfg_fail(c, -ENOMEM, NULL, "cannot hash the trusted root");
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* sha256:<64 lower-case hex digits> */
static bool image_digest_ok(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (s += 7; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* attestors.kubernetes.sigstore: digests, identities, trusted root and its Rekor log. */
static int cfg_validate_sigstore(struct cfg_ctx *c)
{
	struct config_sigstore *s = &c->cfg->k8s_sigstore;
	char serr[256] = "", shown[CONFIG_KEY_SHOW_MAX + 8];
	int rc;

	for (size_t i = 0; i < s->n_skip_images; i++) {
		if (!image_digest_ok(s->skip_images[i])) {
			snprintf(c->path, sizeof(c->path),
				 "attestors.kubernetes.sigstore.skip_images[%zu]", i);
			return cfg_fail(c, -EINVAL, NULL,
					"\"%s\": expected an image digest sha256:<64 lower-case "
					"hex digits>",
					show(s->skip_images[i], strlen(s->skip_images[i]), shown,
					     sizeof(shown)));
		}
	}
	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.sigstore.registry");
	if (!s->credential_provider_config[0] != !s->credential_provider_bin_dir[0])
		return cfg_fail(c, -EINVAL, NULL, "%s is set but %s is missing",
				s->credential_provider_config[0] ? "credential_provider_config"
								 : "credential_provider_bin_dir",
				s->credential_provider_config[0] ? "credential_provider_bin_dir"
								 : "credential_provider_config");
	if (!s->enabled) {
		c->path[0] = '\0';
		return 0;
	}
	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.sigstore.enabled");
	if (!c->cfg->k8s_enabled)
		return cfg_fail(c, -EINVAL, NULL,
				"true needs attestors.kubernetes.enabled: true (signatures are "
				"verified for Kubernetes workloads)");
	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.sigstore.allowed_identities");
	if (s->n_identities == 0)
		return cfg_fail(c, -EINVAL, NULL,
				"at least one issuer with one subject pattern is required when "
				"sigstore is enabled");
	s->policy = sigstore_identity_policy_new();
	if (!s->policy)
		return cfg_fail(c, -ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < s->n_identities; i++) {
		const struct config_identity *id = &s->identities[i];

		for (size_t j = 0; j < id->n_subjects; j++) {
			rc = sigstore_identity_policy_add(s->policy, id->issuer, id->subjects[j],
							  serr);
			if (rc < 0) {
				size_t saved;

				path_push(c, id->issuer, strlen(id->issuer), &saved);
				path_push_index(c, j, &saved);
				return cfg_fail(c, rc == -ENOMEM ? -ENOMEM : -EINVAL, NULL, "%s",
						serr);
			}
		}
	}
	rc = cfg_load_trust_root(c, s);
	if (rc < 0)
		return rc;
	snprintf(c->path, sizeof(c->path), "attestors.kubernetes.sigstore.rekor_url");
	if (!sigstore_trust_root_find_tlog_url(s->trust_root, s->rekor_url))
		return cfg_fail(c, -EINVAL, NULL,
				"\"%s\" is not a transparency log of the trusted root (%s)",
				s->rekor_url, s->trusted_root_source);
	c->path[0] = '\0';
	return 0;
}

static bool str_lists_differ(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return true;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return true;
	return false;
}

bool config_sigstore_differs(const struct config_sigstore *a, const struct config_sigstore *b)
{
	if (a->n_identities != b->n_identities)
		return true;
	for (size_t i = 0; i < a->n_identities; i++)
		if (strcmp(a->identities[i].issuer, b->identities[i].issuer) != 0 ||
		    str_lists_differ(a->identities[i].subjects, a->identities[i].n_subjects,
				     b->identities[i].subjects, b->identities[i].n_subjects))
			return true;
	return a->enabled != b->enabled || strcmp(a->trusted_root, b->trusted_root) != 0 ||
	       strcmp(a->rekor_url, b->rekor_url) != 0 ||
	       a->skip_provenance != b->skip_provenance ||
	       a->skip_transparency_log != b->skip_transparency_log ||
	       a->enforce_sct != b->enforce_sct || a->resolve_tags != b->resolve_tags ||
	       str_lists_differ(a->skip_images, a->n_skip_images, b->skip_images,
				b->n_skip_images) ||
	       a->timeout_ms != b->timeout_ms || strcmp(a->docker_config, b->docker_config) != 0 ||
	       strcmp(a->ca_file, b->ca_file) != 0 ||
	       strcmp(a->credential_provider_config, b->credential_provider_config) != 0 ||
	       strcmp(a->credential_provider_bin_dir, b->credential_provider_bin_dir) != 0 ||
	       strcmp(a->trusted_root_source, b->trusted_root_source) != 0 ||
	       memcmp(a->trusted_root_sha256, b->trusted_root_sha256,
		      sizeof(a->trusted_root_sha256)) != 0;
}

/* Checks that need several keys; runs after the whole file has been read. */
static int cfg_validate(struct cfg_ctx *c)
{
	int rc;

	if (strcmp(c->cfg->socket_path, c->cfg->admin_socket_path) == 0)
		return cfg_fail(c, -EINVAL, NULL,
				"socket and admin_socket must differ (both are %s)",
				c->cfg->socket_path);
	if (c->cfg->require_race_free && (c->cfg->peer_backend == PEER_BACKEND_PIDFD ||
					  c->cfg->peer_backend == PEER_BACKEND_PEERCRED))
		return cfg_fail(c, -EINVAL, NULL,
				"peer.backend %s reads /proc after accept() and is not race-free, "
				"but peer.require_race_free is true",
				peer_backend_name(c->cfg->peer_backend));
	rc = cfg_validate_ca(c);
	if (rc < 0)
		return rc;
	rc = cfg_validate_k8s(c);
	if (rc < 0)
		return rc;
	rc = cfg_validate_sigstore(c);
	if (rc < 0)
		return rc;
	return cfg_validate_policy(c);
}

/* stream := STREAM-START [DOCUMENT-START (MAPPING | null) DOCUMENT-END] STREAM-END */
static int cfg_stream(struct cfg_ctx *c)
{
	yaml_event_t ev;
	int rc;

	rc = cfg_next(c, &ev); /* STREAM-START */
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = cfg_next(c, &ev);
	if (rc < 0)
		return rc;
	if (ev.type == YAML_STREAM_END_EVENT)
		goto out;	/* empty file: the defaults */
	yaml_event_delete(&ev); /* DOCUMENT-START */

	rc = cfg_next(c, &ev);
	if (rc < 0)
		return rc;
	if (ev.type == YAML_MAPPING_START_EVENT)
		rc = cfg_mapping(c, root_keys, c->cfg, 1);
	else if (ev.type != YAML_SCALAR_EVENT || !scalar_is_null(&ev))
		rc = cfg_fail(c, -EINVAL, event_mark(&ev),
			      "the top level must be a mapping, not %s", event_kind(&ev));
	yaml_event_delete(&ev);
	if (rc < 0)
		return rc;

	rc = cfg_next(c, &ev); /* DOCUMENT-END */
	if (rc < 0)
		return rc;
	yaml_event_delete(&ev);
	rc = cfg_next(c, &ev);
	if (rc < 0)
		return rc;
	if (ev.type != YAML_STREAM_END_EVENT)
		rc = cfg_fail(c, -EPROTO, event_mark(&ev),
			      "more than one YAML document (only one is allowed)");
out:
	yaml_event_delete(&ev);
	return rc;
}

int config_parse(const char *yaml, size_t len, const char *name, struct config *out,
		 char err[CONFIG_ERR_MAX])
{
	struct config tmp;
	struct cfg_ctx c = {.name = name ? name : "config", .err = err, .cfg = &tmp};
	bool parser_ready = false;
	int rc;

	err[0] = '\0';
	defaults_base(&tmp);
	if (len > CONFIG_MAX_FILE_SIZE) {
		rc = cfg_fail(&c, -EPROTO, NULL, "too large (%zu bytes, at most %u)", len,
			      CONFIG_MAX_FILE_SIZE);
		goto out;
	}
	if (!yaml_parser_initialize(&c.parser)) {
		rc = cfg_fail(&c, -ENOMEM, NULL, "out of memory");
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)(yaml ? yaml : ""),
				     yaml ? len : 0);
	rc = cfg_stream(&c);
	if (rc < 0)
		goto out;
	rc = cfg_validate(&c);
	if (rc < 0)
		goto out;
	*out = tmp; /* ownership of entries/templates moves to *out */
out:
	if (rc < 0)
		config_free(&tmp);
	if (parser_ready)
		yaml_parser_delete(&c.parser);
	free(c.entry_marks.v);
	free(c.template_marks.v);
	return rc;
}

int config_load_file(const char *path, struct config *out, char err[CONFIG_ERR_MAX])
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	err[0] = '\0';
	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		errfmt(err, CONFIG_ERR_MAX, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errfmt(err, CONFIG_ERR_MAX, "%s: cannot stat: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		errfmt(err, CONFIG_ERR_MAX, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)CONFIG_MAX_FILE_SIZE) {
		rc = -EFBIG;
		errfmt(err, CONFIG_ERR_MAX, "%s: too large (%lld bytes, at most %u)", path,
		       (long long)st.st_size, CONFIG_MAX_FILE_SIZE);
		goto out;
	}
	/* read up to one byte past the limit, in case the file grew since fstat */
	buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (!buf) {
		rc = -ENOMEM;
		errfmt(err, CONFIG_ERR_MAX, "%s: out of memory", path);
		goto out;
	}
	while (len < CONFIG_MAX_FILE_SIZE + 1) {
		ssize_t r = read(fd, buf + len, CONFIG_MAX_FILE_SIZE + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			errfmt(err, CONFIG_ERR_MAX, "%s: cannot read: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CONFIG_MAX_FILE_SIZE) {
		rc = -EFBIG;
		errfmt(err, CONFIG_ERR_MAX, "%s: too large (more than %u bytes)", path,
		       CONFIG_MAX_FILE_SIZE);
		goto out;
	}
	rc = config_parse(buf, len, path, out, err);
out:
	free(buf);
	close(fd);
	return rc;
}

int config_parse_duration_ms(const char *text, uint64_t *out_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
	const char *p = text;
	size_t next = 0; /* units must appear in the table's order, each at most once */
	uint64_t total = 0;

	if (!text || !*text || strlen(text) > CONFIG_DURATION_MAX)
		return -EINVAL;
	while (*p) {
		uint64_t v = 0;
		size_t ndig = 0, ulen = 0, u;

		for (; *p >= '0' && *p <= '9'; p++, ndig++)
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
				return -EINVAL;
		if (ndig == 0)
			return -EINVAL;
		while (p[ulen] >= 'a' && p[ulen] <= 'z')
			ulen++;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (strlen(units[u].unit) == ulen && strncmp(p, units[u].unit, ulen) == 0)
				break;
		if (u == sizeof(units) / sizeof(units[0]) || u < next)
			return -EINVAL;
		if (__builtin_mul_overflow(v, units[u].ms, &v) ||
		    __builtin_add_overflow(total, v, &total))
			return -EINVAL;
		next = u + 1;
		p += ulen;
	}
	*out_ms = total;
	return 0;
}
