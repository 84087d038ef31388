/*
 * config.h - attestd's YAML configuration (DESIGN.md §7), parsed with libyaml.
 * Every key is checked: unknown keys, wrong types and bad values are errors that name the key
 * path and the reason. Keys that belong to capabilities this build does not have yet are
 * rejected with a message saying so, never silently ignored. With no file, the embedded
 * defaults (config_defaults) apply. Registration entries and templates are validated with
 * policy_new() at parse time, so every policy error is a config error. A struct config owns
 * heap memory (entries, templates, k8s annotation prefixes): release it with config_free().
 */
#ifndef DAEMON_CONFIG_H
#define DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/k8s_attestor.h"
#include "attest/kubelet.h"
#include "attest/peer.h"
#include "attest/policy.h"
#include "daemon/log.h"

#define CONFIG_MAX_FILE_SIZE   (1u << 20) /* bytes */
#define CONFIG_MAX_DEPTH       16
#define CONFIG_SOCKET_PATH_MAX 108 /* sizeof(sun_path) */
#define CONFIG_PATH_MAX	       4096
#define CONFIG_NAME_MAX	       256
#define CONFIG_ERR_MAX	       256
#define CONFIG_STRING_MAX      8192 /* bytes of one string of entries/templates */
/* svid.x509_ttl and the `ttl` of entries/templates: 10s .. 30 days (written 720h) */
#define CONFIG_X509_TTL_MIN_S 10u
#define CONFIG_X509_TTL_MAX_S (720u * 3600u)
/* svid.jwt_ttl: 30s .. 24h */
#define CONFIG_JWT_TTL_MIN_S 30u
#define CONFIG_JWT_TTL_MAX_S (24u * 3600u)
/* attestors.kubernetes durations, in ms */
#define CONFIG_K8S_MIN_INTERVAL_MIN_MS 10u /* refresh.min_interval: 10ms .. 1m */
#define CONFIG_K8S_MIN_INTERVAL_MAX_MS 60000u
#define CONFIG_K8S_INTERVAL_MIN_MS     100u /* refresh.interval: 100ms .. 1h */
#define CONFIG_K8S_INTERVAL_MAX_MS     3600000u
#define CONFIG_K8S_TIMEOUT_MIN_MS      100u /* attestation_timeout: 100ms .. 10m */
#define CONFIG_K8S_TIMEOUT_MAX_MS      KUBELET_MAX_DEADLINE_MS
#define CONFIG_K8S_MAX_PREFIXES	       K8S_ATTESTOR_MAX_PREFIXES /* include_annotation_prefixes */
/* attestors.kubernetes.sigstore */
#define CONFIG_SIGSTORE_MAX_ISSUERS	   64	 /* allowed_identities issuers */
#define CONFIG_SIGSTORE_MAX_SUBJECTS	   256	 /* patterns per issuer, and in all */
#define CONFIG_SIGSTORE_MAX_SKIP	   1024	 /* skip_images */
#define CONFIG_SIGSTORE_TIMEOUT_MIN_MS	   1000u /* timeout: 1s .. 10m */
#define CONFIG_SIGSTORE_TIMEOUT_MAX_MS	   600000u
#define CONFIG_SIGSTORE_DEFAULT_TIMEOUT_MS 30000u
#define CONFIG_SIGSTORE_URL_MAX		   512
#define CONFIG_SIGSTORE_DEFAULT_ROOT	   "/etc/attestd/trusted_root.json"
#define CONFIG_SIGSTORE_DEFAULT_REKOR	   "https://rekor.sigstore.dev"
#define CONFIG_SIGSTORE_BUILTIN_ROOT	   "built-in" /* trusted_root_source of the embedded copy */

struct sigstore_trust_root;
struct sigstore_identity_policy;

/* One issuer of allowed_identities and its subject patterns (owned heap strings). */
struct config_identity {
	char *issuer;
	char **subjects;
	size_t n_subjects;
};

/*
 * attestors.kubernetes.sigstore (README "Sigstore image signatures"). When enabled, parsing also
 * loads the trusted root and builds the identity policy, so every problem is a config error;
 * both are owned here (config_free) until image_sigs_configure() takes them.
 */
struct config_sigstore {
	bool enabled;			    /* enabled: false */
	struct config_identity *identities; /* allowed_identities (owned) */
	size_t n_identities;
	char trusted_root[CONFIG_PATH_MAX];	 /* trusted_root: "" = not set */
	char rekor_url[CONFIG_SIGSTORE_URL_MAX]; /* rekor_url: https://rekor.sigstore.dev */
	bool skip_provenance;			 /* skip_provenance: false */
	bool skip_transparency_log;		 /* skip_transparency_log: false */
	bool enforce_sct;			 /* enforce_sct: true */
	bool resolve_tags;			 /* resolve_tags: true */
	char **skip_images;			 /* skip_images: [] (owned) */
	size_t n_skip_images;
	uint64_t timeout_ms;				  /* timeout: 30s, per image */
	char docker_config[CONFIG_PATH_MAX];		  /* registry.docker_config: "" = none */
	char ca_file[CONFIG_PATH_MAX];			  /* registry.ca_file: "" = system CAs */
	char credential_provider_config[CONFIG_PATH_MAX]; /* registry.credential_provider_config */
	char credential_provider_bin_dir
		[CONFIG_PATH_MAX]; /* registry.credential_provider_bin_dir */
	/* Derived when enabled (owned; NULL when disabled or taken by image_sigs_configure). */
	struct sigstore_trust_root *trust_root;
	struct sigstore_identity_policy *policy;
	char trusted_root_source[CONFIG_PATH_MAX]; /* the path loaded, or "built-in" */
	unsigned char trusted_root_sha256[32];	   /* of the trusted root's bytes */
};

/* The trusted_root.json built into the binary (deploy/trusted_root.json). */
const char *config_builtin_trusted_root(size_t *len);

/* True when the two sigstore blocks differ (options, identities or trusted root contents). */
bool config_sigstore_differs(const struct config_sigstore *a, const struct config_sigstore *b);

struct config {
	char trust_domain[CONFIG_NAME_MAX];		/* trust_domain: example.org */
	char socket_path[CONFIG_SOCKET_PATH_MAX];	/* socket: /run/attestd/agent.sock */
	char admin_socket_path[CONFIG_SOCKET_PATH_MAX]; /* admin_socket: /run/attestd/admin.sock */
	char state_dir[CONFIG_PATH_MAX];		/* state_dir: /var/lib/attestd */
	enum log_level log_level;			/* log: {level: info} */
	enum peer_backend peer_backend;			/* peer: {backend: auto} */
	bool require_race_free;				/* peer: {require_race_free: false} */
	char bpf_pin_dir[CONFIG_PATH_MAX];		/* peer: {pin_dir: /sys/fs/bpf/attestd} */
	uint32_t audit_entries;				/* audit: {entries: 4096} */
	uint32_t worker_threads;			/* workers: {threads: 2} (1..64) */
	bool unix_enabled;				/* attestors: {unix: {enabled: true}} */
	uint64_t hash_size_limit; /* attestors.unix.hash_size_limit: 0 = none */
	/* ca: {generate: true} or {cert, key, bundle?}; exactly one of the two forms */
	bool ca_generate;
	char ca_cert[CONFIG_PATH_MAX];	 /* "" = not set */
	char ca_key[CONFIG_PATH_MAX];	 /* "" = not set */
	char ca_bundle[CONFIG_PATH_MAX]; /* "" = not set (optional with cert/key) */
	uint64_t x509_ttl_s;		 /* svid: {x509_ttl: 1h} */
	uint64_t jwt_ttl_s;		 /* svid: {jwt_ttl: 5m} */
	/*
	 * attestors.kubernetes (meanings: attest/kubelet.h, README "Kubernetes"). A path or name
	 * that is "" was not set: the kubelet module applies its default (ca and token_path: the
	 * service account's files; token_path only without cert and anonymous).
	 */
	bool k8s_enabled;			    /* enabled: false */
	uint32_t k8s_secure_port;		    /* kubelet.secure_port: 10250 */
	uint32_t k8s_read_only_port;		    /* kubelet.read_only_port: 0 = off */
	char k8s_ca[CONFIG_PATH_MAX];		    /* kubelet.ca */
	bool k8s_skip_verification;		    /* kubelet.skip_verification: false */
	char k8s_token_path[CONFIG_PATH_MAX];	    /* kubelet.token_path */
	char k8s_cert[CONFIG_PATH_MAX];		    /* kubelet.cert (with key) */
	char k8s_key[CONFIG_PATH_MAX];		    /* kubelet.key (with cert) */
	bool k8s_anonymous;			    /* kubelet.anonymous: false */
	char k8s_node_name_env[CONFIG_NAME_MAX];    /* kubelet.node_name_env: MY_NODE_NAME */
	char k8s_node_name[KUBELET_MAX_HOST + 1];   /* kubelet.node_name: "" */
	uint64_t k8s_min_interval_ms;		    /* refresh.min_interval: 500ms */
	uint64_t k8s_interval_ms;		    /* refresh.interval: 10s */
	uint64_t k8s_attestation_timeout_ms;	    /* attestation_timeout: 5s */
	char k8s_containerd_state[CONFIG_PATH_MAX]; /* runtime.containerd_state: /run/containerd */
	char k8s_crio_state[CONFIG_PATH_MAX];  /* runtime.crio_state: /run/containers/storage */
	bool k8s_disable_container_selectors;  /* disable_container_selectors: false */
	bool k8s_include_container_attributes; /* include_container_attributes: false */
	char **k8s_annotation_prefixes; /* include_annotation_prefixes: [] (owned, config_free) */
	size_t k8s_n_annotation_prefixes;
	struct config_sigstore k8s_sigstore; /* attestors.kubernetes.sigstore */
	/*
	 * entries: / templates:, owned (config_free). When the file defines neither key, one
	 * default template applies: spiffe://<trust_domain>/uid/{{unix.uid}} without `when`.
	 * `templates: []` turns it off.
	 */
	struct policy_entry *entries;
	size_t nentries;
	struct policy_template *templates;
	size_t ntemplates;
};

/*
 * Fills *out with the embedded defaults (this allocates the default template). Returns 0 or
 * -ENOMEM; either way *out is safe to pass to config_free().
 */
int config_defaults(struct config *out);

/* Frees what a config owns (entries, templates, annotation prefixes) and leaves them empty;
 * safe to call twice. */
void config_free(struct config *c);

/*
 * Parses YAML text into *out, starting from the defaults. `name` names the input in errors
 * (e.g. the file path). Returns 0, or -EINVAL / -EPROTO / -ENOMEM with err filled like
 * "/etc/attestd.yaml: peer.backend: unknown backend \"bfp\" (expected auto, lsm, fexit, ...)".
 * On success *out is overwritten without being freed first (the caller frees the old value
 * with config_free when it is done with it) and must be freed with config_free(); on error
 * *out is untouched and nothing leaks.
 */
int config_parse(const char *yaml, size_t len, const char *name, struct config *out,
		 char err[CONFIG_ERR_MAX]);

/* Reads and parses a file (at most CONFIG_MAX_FILE_SIZE bytes). -ENOENT etc. on I/O errors. */
int config_load_file(const char *path, struct config *out, char err[CONFIG_ERR_MAX]);

/* "90s", "5m", "1h", "2h30m", "250ms" -> milliseconds. -EINVAL on anything else or overflow. */
int config_parse_duration_ms(const char *text, uint64_t *out_ms);

/* The embedded defaults as a YAML document (for `attestd --print-defaults` and the README). */
const char *config_defaults_yaml(void);

#endif /* DAEMON_CONFIG_H */
