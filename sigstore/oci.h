/*
 * oci.h - fetching Sigstore signatures for an image digest from an OCI registry (blocking
 * libcurl; call it from the worker pool). Image references, registry Bearer token auth with
 * credentials from sigstore/oci_auth.h (kubelet credential-provider plugins, docker config.json
 * and credential helpers), an overall deadline and a cancel flag, cosign v3 referrer bundles (OCI 1.1 referrers API, falling
 * back to the sha256-<hex> index tag), legacy sha256-<hex>.sig and .att layers. Every manifest
 * and blob is fetched by digest and hashed; tags are only ever resolved to a digest.
 * Nothing here verifies a signature: sigstore/verify.h does.
 */
#ifndef SIGSTORE_OCI_H
#define SIGSTORE_OCI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGSTORE_OCI_MAX_LAYERS	       1000	   /* layers or index entries per manifest */
#define SIGSTORE_OCI_MAX_MANIFEST      (4u << 20)  /* bytes of one manifest or index */
#define SIGSTORE_OCI_MAX_BLOB	       (8u << 20)  /* bytes of one signature blob */
#define SIGSTORE_OCI_MAX_TOKEN_RESP    (1u << 20)  /* bytes of a token endpoint response */
#define SIGSTORE_OCI_MAX_SIGS	       64	   /* signatures collected per image */
#define SIGSTORE_OCI_MAX_TOTAL	       (32u << 20) /* bytes of all collected signatures */
#define SIGSTORE_OCI_MAX_ANNOTATION    (1u << 20)  /* bytes of one cosign annotation value */
#define SIGSTORE_OCI_MAX_JSON_DEPTH    32
#define SIGSTORE_OCI_MAX_DOCKER_CONFIG (1u << 20)
#define SIGSTORE_OCI_MAX_INDEX_FETCH   16 /* child manifests of an index fetched by config */

#define SIGSTORE_OCI_BUNDLE_TYPE "application/vnd.dev.sigstore.bundle.v0.3+json"

/* "sha256:" + 64 lower-case hex digits + NUL */
#define SIGSTORE_OCI_DIGEST_LEN 72

struct sigstore_oci_ref {
	char registry[256]; /* as written ("docker.io" when omitted); may carry ":port" */
	char host[256];	    /* API host: registry-1.docker.io for docker.io */
	char repo[256];	    /* "library/x" for a docker.io single-name repository */
	char tag[129];	    /* "" when absent ("latest" only if neither tag nor digest given) */
	char digest[SIGSTORE_OCI_DIGEST_LEN]; /* "sha256:<hex>" or "" */
};

/*
 * [registry/]repo[:tag][@sha256:<hex>]. The first component is a registry when it holds '.'
 * or ':' or is "localhost"; docker.io defaults apply otherwise. Only sha256 digests.
 */
int sigstore_oci_ref_parse(const char *ref, struct sigstore_oci_ref *out, char err[256]);

/* A WWW-Authenticate challenge: scheme Bearer or Basic, with its parameters ("" if absent). */
struct sigstore_oci_challenge {
	char scheme[16];
	char realm[512];
	char service[256];
	char scope[512];
};
int sigstore_oci_challenge_parse(const char *header, struct sigstore_oci_challenge *out,
				 char err[256]);

/* A descriptor, with cosign's annotations (NULL when absent; owned by the descriptor). */
struct sigstore_oci_desc {
	char media_type[128];
	char artifact_type[128];
	char digest[SIGSTORE_OCI_DIGEST_LEN];
	int64_t size;
	char *signature;   /* dev.cosignproject.cosign/signature */
	char *certificate; /* dev.sigstore.cosign/certificate */
	char *chain;	   /* dev.sigstore.cosign/chain */
	char *bundle;	   /* dev.sigstore.cosign/bundle */
};

/* An image manifest (items = layers) or an index (items = manifests). */
struct sigstore_oci_manifest {
	bool is_index;
	char media_type[128];
	char artifact_type[128]; /* artifactType, else the config media type of a manifest */
	bool has_config;
	struct sigstore_oci_desc config;
	bool has_subject;
	struct sigstore_oci_desc subject;
	struct sigstore_oci_desc *items;
	size_t n_items;
};

/* Parses manifest or index JSON (duplicate keys rejected); clear with _manifest_clear. */
int sigstore_oci_manifest_parse(const char *json, size_t len, struct sigstore_oci_manifest *out,
				char err[256]);
void sigstore_oci_manifest_clear(struct sigstore_oci_manifest *m);

/*
 * Checks a cosign simple-signing payload: critical.type is "cosign container image signature"
 * and critical.image.docker-manifest-digest equals digest ("sha256:<hex>"). Duplicate keys
 * anywhere, or case variants of critical/type/image/docker-manifest-digest, are rejected.
 * 0, or -EPROTO (malformed) / -EBADMSG (other digest).
 */
int sigstore_oci_simplesign_check(const char *payload, size_t len, const char *digest,
				  char err[256]);

struct sigstore_oci_client_opts {
	const char *ca_file;	   /* NULL = system CAs */
	bool insecure_http;	   /* plain http (tests only) */
	const char *docker_config; /* path of a docker config.json, or NULL */
	long timeout_ms;	   /* per request; 0 = 30 s (plugin/helper runs: 10 s) */
	/* kubelet CredentialProviderConfig (YAML/JSON) and its plugins' directory, or NULL */
	const char *credential_provider_config;
	const char *credential_provider_bin_dir;
	/* where docker-credential-<helper> is looked up before $PATH, or NULL */
	const char *credential_helper_dir;
	uint64_t deadline_ms;	   /* absolute CLOCK_MONOTONIC milliseconds; 0 = none. Requests
				      fail with -ETIMEDOUT once it passes (per-request timeout is
				      capped by the time left). */
	const atomic_bool *cancel; /* when it becomes true, the request in flight stops:
				      -ECANCELED (checked between requests too), or NULL */
};

/* Not thread-safe: one client per thread (it keeps a curl handle and the last token). */
struct sigstore_oci_client;
int sigstore_oci_client_new(const struct sigstore_oci_client_opts *o,
			    struct sigstore_oci_client **out, char err[256]);
void sigstore_oci_client_free(struct sigstore_oci_client *c);

/*
 * Resolves ref to a manifest digest: ref->digest when set, else GET the tag's manifest and
 * hash the bytes received (the Docker-Content-Digest header is not trusted).
 */
int sigstore_oci_resolve_digest(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
				char digest[SIGSTORE_OCI_DIGEST_LEN], char err[256]);

/*
 * Finds the image manifest that tag_ref's tag names and whose config descriptor digest is
 * config_digest ("sha256:<hex>"): GET the tag's manifest and hash the bytes; an image manifest
 * must have that config; in an index, up to SIGSTORE_OCI_MAX_INDEX_FETCH child image manifests
 * are fetched by digest (hash-checked) and the first with that config is taken. The tag is
 * never trusted: the config digest equality is the proof, and a manifest names its config by
 * digest, so the manifest found describes the image whose config is config_digest.
 * manifest_digest receives "sha256:<hex>". 0; -ENOENT when the tag is missing or names no
 * manifest with that config (err says what it names); -EINVAL (no tag, bad config_digest);
 * otherwise as sigstore_oci_fetch_bundles.
 */
int sigstore_oci_find_manifest_for_config(struct sigstore_oci_client *c,
					  const struct sigstore_oci_ref *tag_ref,
					  const char *config_digest,
					  char manifest_digest[SIGSTORE_OCI_DIGEST_LEN],
					  char err[256]);

enum sigstore_oci_sig_kind {
	SIGSTORE_OCI_SIG_BUNDLE, /* data = bundle JSON (referrer or fallback tag) */
	SIGSTORE_OCI_SIG_LEGACY, /* data = simple-signing payload (.sig layer), digest checked */
	SIGSTORE_OCI_SIG_ATTESTATION /* data = DSSE envelope JSON (.att layer) */
};

struct sigstore_oci_sig {
	enum sigstore_oci_sig_kind kind;
	char *data; /* NUL-terminated; data_len excludes the NUL */
	size_t data_len;
	char media_type[128];		/* the layer's media type */
	struct sigstore_oci_desc layer; /* legacy: its annotations (signature, certificate...) */
};

struct sigstore_oci_sigs {
	struct sigstore_oci_sig *v;
	size_t n;
	size_t total;	       /* sum of data_len */
	size_t n_skipped;      /* layers dropped (payload names another digest; over MAX_SIGS) */
	char skip_reason[256]; /* the last such reason */
	bool referrers_api;    /* the registry answered the referrers API */
};

/*
 * Collects every signature for ref's image (ref->digest must be set: resolve it first):
 * referrer bundles, then legacy .sig, then .att. 0 with out->n >= 1; -ENOENT when none was
 * found; -EACCES (auth, or a failing credential plugin/helper), -ETIMEDOUT (a request or the
 * deadline), -ECANCELED, -EIO (network, 5xx), -EPROTO (malformed data, digest mismatch),
 * -E2BIG (caps) with err naming the request. out is cleared by the caller.
 */
int sigstore_oci_fetch_bundles(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			       struct sigstore_oci_sigs *out, char err[256]);
void sigstore_oci_sigs_clear(struct sigstore_oci_sigs *s);

#endif
