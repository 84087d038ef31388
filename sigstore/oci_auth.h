/*
 * oci_auth.h - registry credentials for the OCI client, looked up per registry and image in
 * the kubelet's order of preference: kubelet credential-provider exec plugins (a
 * CredentialProviderConfig and a plugin bin dir: the node's credentials), then a docker
 * config.json (credHelpers -> docker-credential-<helper>, auths, credsStore). Nothing is cached
 * across lookups (a registry client lives for one job). A plugin or helper that fails is an
 * error for that registry, never a silent anonymous pull.
 */
#ifndef SIGSTORE_OCI_AUTH_H
#define SIGSTORE_OCI_AUTH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGSTORE_OCI_AUTH_MAX_CONFIG	     (1u << 20) /* bytes of a config file */
#define SIGSTORE_OCI_AUTH_MAX_OUTPUT	     (1u << 20) /* bytes a plugin / helper may print */
#define SIGSTORE_OCI_AUTH_MAX_PROVIDERS	     32
#define SIGSTORE_OCI_AUTH_MAX_MATCH	     64	    /* matchImages per provider */
#define SIGSTORE_OCI_AUTH_MAX_ARGS	     64	    /* args or env entries per provider */
#define SIGSTORE_OCI_AUTH_MAX_ARG_LEN	     4096   /* bytes of one arg / env value */
#define SIGSTORE_OCI_AUTH_MAX_AUTH_KEYS	     256    /* entries of a response's auth map */
#define SIGSTORE_OCI_AUTH_MAX_DEPTH	     16	    /* nesting of config / response documents */
#define SIGSTORE_OCI_AUTH_MAX_NODES	     20000  /* YAML nodes of a config */
#define SIGSTORE_OCI_AUTH_MAX_PATTERN	     512    /* bytes of a matchImages / auth key */
#define SIGSTORE_OCI_AUTH_DEFAULT_TIMEOUT_MS 10000L /* a plugin or helper run, by default */

#define SIGSTORE_OCI_AUTH_CONFIG_API   "kubelet.config.k8s.io/v1"
#define SIGSTORE_OCI_AUTH_PROVIDER_API "credentialprovider.kubelet.k8s.io/v1"

struct sigstore_oci_cred {
	bool found; /* false: no credentials, pull anonymously */
	char username[257];
	char password[16385];
	char source[160]; /* where they came from, for logs (never the secret) */
};

struct sigstore_oci_auth_opts {
	const char *provider_config;  /* CredentialProviderConfig (YAML or JSON) path, or NULL */
	const char *provider_bin_dir; /* the plugins' directory; required with provider_config */
	const char *docker_config;    /* docker config.json path, or NULL */
	const char *helper_dir;	      /* docker-credential-* looked up here first, then $PATH */
};

struct sigstore_oci_auth;

/* Reads and checks the configured files; err names the file and the reason. */
int sigstore_oci_auth_new(const struct sigstore_oci_auth_opts *o, struct sigstore_oci_auth **out,
			  char err[256]);
void sigstore_oci_auth_free(struct sigstore_oci_auth *a);

/*
 * Parses a CredentialProviderConfig held in text (JSON when it starts with '{', else YAML;
 * unknown fields, aliases, duplicate keys are errors) and adds its providers to a. Each
 * provider's plugin must be an executable regular file in a's bin dir. what names the input.
 */
int sigstore_oci_auth_load_providers(struct sigstore_oci_auth *a, const char *text, size_t len,
				     const char *what, char err[256]);
/* Parses a docker config.json held in text (auths, credHelpers, credsStore are type-checked). */
int sigstore_oci_auth_load_docker_config(struct sigstore_oci_auth *a, const char *text, size_t len,
					 const char *what, char err[256]);

/*
 * The kubelet's matchImages rule: pattern [host[:port]][/path] against image host[:port]/path.
 * Same number of host labels, each matched by a glob where '*' stands for any run of
 * characters within that one label; ports equal (none = none); the pattern's path a string
 * prefix of the image's. 1 match, 0 no match, -EINVAL bad pattern ('?', '[', '\\', '*' outside
 * the host, empty host...).
 */
int sigstore_oci_auth_match_image(const char *pattern, const char *image);

/*
 * A CredentialProviderResponse for image (api_version as the provider's): auth keys (scheme and
 * a trailing /v1/ or /v2/ dropped, as the kubelet does) are matched like matchImages; of the
 * keys that match, the greatest in byte order wins (the kubelet's keyring order: a longer path
 * or a literal label before '*'). out->found false when none matches. -EPROTO on bad input.
 */
int sigstore_oci_auth_parse_response(const char *text, size_t len, const char *api_version,
				     const char *image, struct sigstore_oci_cred *out,
				     char err[256]);
/* The stdout of `docker-credential-<x> get`: {"ServerURL", "Username", "Secret"}. */
int sigstore_oci_auth_parse_helper_output(const char *text, size_t len,
					  struct sigstore_oci_cred *out, char err[256]);

/*
 * Credentials for repo on registry (as in the image reference: "docker.io", "host:port").
 * Plugins and helpers run for at most timeout_ms (<= 0: the default), cut short by deadline_ms
 * (absolute CLOCK_MONOTONIC ms, 0 = none) and cancel. 0 with out->found true or false;
 * -EACCES when a matching plugin or a helper fails (bad output, non-zero exit, timeout, too
 * much output), -ETIMEDOUT once deadline_ms passed, -ECANCELED, -ENOMEM. out is wiped first.
 */
int sigstore_oci_auth_lookup(const struct sigstore_oci_auth *a, const char *registry,
			     const char *repo, long timeout_ms, uint64_t deadline_ms,
			     const atomic_bool *cancel, struct sigstore_oci_cred *out,
			     char err[256]);

/* Wipes the secret. */
void sigstore_oci_cred_clear(struct sigstore_oci_cred *c);

#endif
