/*
 * oci.c - see oci.h. Registry HTTP API v2 over libcurl, Bearer token auth, and the parsers for
 * references, challenges, manifests/indexes and simple-signing payloads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "sigstore/oci.h"
#include "sigstore/oci_auth.h"
#include "sigstore/util.h"

#define OCI_MAX_HEADER	       4096 /* bytes of one response header value we keep */
#define OCI_MAX_URL	       2048
#define OCI_MAX_TOKEN	       8192 /* bytes of a bearer token */
#define OCI_DEFAULT_TIMEOUT_MS 30000L
#define OCI_MAX_TAG	       128

#define OCI_ACCEPT_MANIFEST                                                                     \
	"application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " \
	"application/vnd.docker.distribution.manifest.v2+json, "                                \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_ACCEPT_INDEX "application/vnd.oci.image.index.v1+json"

struct sigstore_oci_client {
	CURL *curl;
	char *ca_file;
	bool insecure_http;
	long timeout_ms;
	long helper_timeout_ms;		/* credential plugins and helpers; 0 = their default */
	uint64_t deadline_ms;		/* absolute CLOCK_MONOTONIC ms, 0 = none */
	const atomic_bool *cancel;	/* or NULL */
	struct sigstore_oci_auth *auth; /* credential sources */
	bool cred_valid;		/* cred holds the lookup for cred_key */
	char cred_key[600];		/* registry/repo */
	struct sigstore_oci_cred cred;
	char token[OCI_MAX_TOKEN];
	char token_key[768]; /* host + scope the token was issued for */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- parsing ------------------------------------------------------------------------------ */

static bool is_hex_digest(const char *d)
{
	if (strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static bool repo_ok(const char *r)
{
	/* lower-case alphanumerics separated by '.', '_', '__', '-' or '/' */
	size_t n = strlen(r);

	if (n == 0 || !isalnum((unsigned char)r[0]) || !isalnum((unsigned char)r[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)r[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if (ch != '.' && ch != '_' && ch != '-' && ch != '/')
			return false;
		if (ch == '/' && (r[i + 1] == '/' || !isalnum((unsigned char)r[i + 1]) ||
				  !isalnum((unsigned char)r[i - 1])))
			return false;
	}
	return true;
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > OCI_MAX_TAG || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool host_ok(const char *h)
{
	if (!*h)
		return false;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != ':' &&
		    *p != '[' && *p != ']')
			return false;
	return true;
}

int sigstore_oci_ref_parse(const char *ref, struct sigstore_oci_ref *out, char err[256])
{
	char buf[768];
	char *name, *at, *slash, *colon;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (!ref || snprintf(buf, sizeof(buf), "%s", ref) >= (int)sizeof(buf)) {
		snprintf(err, 256, "image reference: empty or longer than %zu bytes", sizeof(buf));
		goto out;
	}
	name = buf;
	at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!is_hex_digest(at + 1)) {
			snprintf(err, 256, "image reference %.80s: digest is not sha256:<64 hex>",
				 ref);
			goto out;
		}
		snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
	}
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) ||
		      memchr(name, ':', (size_t)(slash - name)) ||
		      ((size_t)(slash - name) == 9 && !strncmp(name, "localhost", 9)))) {
		*slash = '\0';
		if (!host_ok(name) || strlen(name) >= sizeof(out->registry)) {
			snprintf(err, 256, "image reference %.80s: bad registry host", ref);
			goto out;
		}
		snprintf(out->registry, sizeof(out->registry), "%s", name);
		name = slash + 1;
	} else {
		snprintf(out->registry, sizeof(out->registry), "docker.io");
	}
	/* a tag is after the last ':' of the path part */
	colon = strrchr(name, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_ok(colon + 1)) {
			snprintf(err, 256, "image reference %.80s: bad tag", ref);
			goto out;
		}
		snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
	}
	if (!repo_ok(name)) {
		snprintf(err, 256, "image reference %.80s: bad repository name", ref);
		goto out;
	}
	if (!strcmp(out->registry, "docker.io") || !strcmp(out->registry, "index.docker.io")) {
		snprintf(out->registry, sizeof(out->registry), "docker.io");
		snprintf(out->host, sizeof(out->host), "registry-1.docker.io");
		if (!strchr(name, '/')) {
			if (snprintf(out->repo, sizeof(out->repo), "library/%s", name) >=
			    (int)sizeof(out->repo)) {
				snprintf(err, 256, "image reference %.80s: repository too long",
					 ref);
				goto out;
			}
		}
	} else {
		snprintf(out->host, sizeof(out->host), "%s", out->registry);
	}
	if (!out->repo[0]) {
		if (strlen(name) >= sizeof(out->repo)) {
			snprintf(err, 256, "image reference %.80s: repository too long", ref);
			goto out;
		}
		snprintf(out->repo, sizeof(out->repo), "%s", name);
	}
	if (!out->tag[0] && !out->digest[0])
		snprintf(out->tag, sizeof(out->tag), "latest");
	ret = 0;
out:
	if (ret)
		memset(out, 0, sizeof(*out));
	return ret;
}

int sigstore_oci_challenge_parse(const char *header, struct sigstore_oci_challenge *out,
				 char err[256])
{
	const char *p = header;
	size_t n;
	int ret = -EPROTO;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n == 0 || n >= sizeof(out->scheme)) {
		snprintf(err, 256, "WWW-Authenticate: no scheme");
		goto out;
	}
	memcpy(out->scheme, p, n);
	if (strcasecmp(out->scheme, "Bearer") && strcasecmp(out->scheme, "Basic")) {
		snprintf(err, 256, "WWW-Authenticate: unsupported scheme %.16s", out->scheme);
		goto out;
	}
	p += n;
	for (;;) {
		char key[32], val[512];
		size_t kl, vl = 0;
		char *dst = NULL;
		size_t dst_size = 0;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		kl = strcspn(p, "= \t,");
		if (kl == 0 || kl >= sizeof(key) || p[kl] != '=') {
			snprintf(err, 256, "WWW-Authenticate: malformed parameter");
			goto out;
		}
		memcpy(key, p, kl);
		key[kl] = '\0';
		p += kl + 1;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (vl + 1 >= sizeof(val)) {
					snprintf(err, 256, "WWW-Authenticate: %s too long", key);
					goto out;
				}
				val[vl++] = *p++;
			}
			if (*p != '"') {
				snprintf(err, 256, "WWW-Authenticate: unterminated %s", key);
				goto out;
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t') {
				if (vl + 1 >= sizeof(val)) {
					snprintf(err, 256, "WWW-Authenticate: %s too long", key);
					goto out;
				}
				val[vl++] = *p++;
			}
		}
		val[vl] = '\0';
		if (!strcasecmp(key, "realm")) {
			dst = out->realm;
			dst_size = sizeof(out->realm);
		} else if (!strcasecmp(key, "service")) {
			dst = out->service;
			dst_size = sizeof(out->service);
		} else if (!strcasecmp(key, "scope")) {
			dst = out->scope;
			dst_size = sizeof(out->scope);
		}
		if (dst) {
			if (dst[0]) {
				snprintf(err, 256, "WWW-Authenticate: duplicate %s", key);
				goto out;
			}
			if (vl >= dst_size) {
				snprintf(err, 256, "WWW-Authenticate: %s too long", key);
				goto out;
			}
			memcpy(dst, val, vl + 1);
		}
	}
	if (!strcasecmp(out->scheme, "Bearer") && strncmp(out->realm, "https://", 8) &&
	    strncmp(out->realm, "http://", 7)) {
		snprintf(err, 256, "WWW-Authenticate: Bearer realm is not an http(s) URL");
		goto out;
	}
	ret = 0;
out:
	return ret;
}

static void desc_clear(struct sigstore_oci_desc *d)
{
	free(d->signature);
	free(d->certificate);
	free(d->chain);
	free(d->bundle);
	memset(d, 0, sizeof(*d));
}

static int copy_str(json_t *o, const char *key, bool required, char *dst, size_t size,
		    const char *what, char err[256])
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (required) {
			snprintf(err, 256, "%s: missing %s", what, key);
			return -EPROTO;
		}
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, 256, "%s: %s is not a string of at most %zu bytes", what, key,
			 size - 1);
		return -EPROTO;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int annotation(json_t *ann, const char *key, char **dst, const char *what, char err[256])
{
	json_t *v = json_object_get(ann, key);

	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > SIGSTORE_OCI_MAX_ANNOTATION) {
		snprintf(err, 256, "%s: annotation %s is not a string of at most %u bytes", what,
			 key, SIGSTORE_OCI_MAX_ANNOTATION);
		return -EPROTO;
	}
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : -ENOMEM;
}

static int desc_parse(json_t *o, struct sigstore_oci_desc *d, const char *what, char err[256])
{
	json_t *size, *ann;
	int ret;

	if (!json_is_object(o)) {
		snprintf(err, 256, "%s: not an object", what);
		return -EPROTO;
	}
	if ((ret = copy_str(o, "mediaType", true, d->media_type, sizeof(d->media_type), what,
			    err)) ||
	    (ret = copy_str(o, "artifactType", false, d->artifact_type, sizeof(d->artifact_type),
			    what, err)) ||
	    (ret = copy_str(o, "digest", true, d->digest, sizeof(d->digest), what, err)))
		return ret;
	if (!is_hex_digest(d->digest)) {
		snprintf(err, 256, "%s: digest is not sha256:<64 lower-case hex>", what);
		return -EPROTO;
	}
	size = json_object_get(o, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0) {
		snprintf(err, 256, "%s: size is not a non-negative integer", what);
		return -EPROTO;
	}
	d->size = json_integer_value(size);
	ann = json_object_get(o, "annotations");
	if (ann) {
		if (!json_is_object(ann)) {
			snprintf(err, 256, "%s: annotations is not an object", what);
			return -EPROTO;
		}
		if ((ret = annotation(ann, "dev.cosignproject.cosign/signature", &d->signature,
				      what, err)) ||
		    (ret = annotation(ann, "dev.sigstore.cosign/certificate", &d->certificate, what,
				      err)) ||
		    (ret = annotation(ann, "dev.sigstore.cosign/chain", &d->chain, what, err)) ||
		    (ret = annotation(ann, "dev.sigstore.cosign/bundle", &d->bundle, what, err)))
			return ret;
	}
	return 0;
}

static json_t *load_json(const char *s, size_t len, size_t max, const char *what, char err[256])
{
	json_error_t jerr;
	json_t *j;

	if (len > max) {
		snprintf(err, 256, "%s: larger than %zu bytes", what, max);
		return NULL;
	}
	if (!sigstore_util_json_depth_ok(s, len, SIGSTORE_OCI_MAX_JSON_DEPTH)) {
		snprintf(err, 256, "%s: nested deeper than %d", what, SIGSTORE_OCI_MAX_JSON_DEPTH);
		return NULL;
	}
	j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		snprintf(err, 256, "%s: invalid JSON: %.120s", what, jerr.text);
	else if (!json_is_object(j)) {
		snprintf(err, 256, "%s: not a JSON object", what);
		json_decref(j);
		j = NULL;
	}
	return j;
}

int sigstore_oci_manifest_parse(const char *json, size_t len, struct sigstore_oci_manifest *out,
				char err[256])
{
	json_t *j = NULL, *sv, *arr, *cfg, *subj;
	char what[64];
	size_t i;
	int ret = -EPROTO;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	j = load_json(json, len, SIGSTORE_OCI_MAX_MANIFEST, "manifest", err);
	if (!j)
		goto out;
	sv = json_object_get(j, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		snprintf(err, 256, "manifest: schemaVersion is not 2");
		goto out;
	}
	if ((ret = copy_str(j, "mediaType", false, out->media_type, sizeof(out->media_type),
			    "manifest", err)) ||
	    (ret = copy_str(j, "artifactType", false, out->artifact_type,
			    sizeof(out->artifact_type), "manifest", err)))
		goto out;
	ret = -EPROTO;
	arr = json_object_get(j, "manifests");
	if (arr) {
		out->is_index = true;
		if (json_object_get(j, "layers") || json_object_get(j, "config")) {
			snprintf(err, 256, "manifest: both manifests and layers/config");
			goto out;
		}
	} else {
		arr = json_object_get(j, "layers");
		cfg = json_object_get(j, "config");
		if (!cfg) {
			snprintf(err, 256, "manifest: missing config");
			goto out;
		}
		out->has_config = true;
		if ((ret = desc_parse(cfg, &out->config, "manifest: config", err)))
			goto out;
		ret = -EPROTO;
		if (!out->artifact_type[0])
			memcpy(out->artifact_type, out->config.media_type,
			       sizeof(out->artifact_type));
	}
	if (!json_is_array(arr)) {
		snprintf(err, 256, "manifest: %s is not an array",
			 out->is_index ? "manifests" : "layers");
		goto out;
	}
	if (json_array_size(arr) > SIGSTORE_OCI_MAX_LAYERS) {
		snprintf(err, 256, "manifest: more than %d %s", SIGSTORE_OCI_MAX_LAYERS,
			 out->is_index ? "manifests" : "layers");
		ret = -E2BIG;
		goto out;
	}
	subj = json_object_get(j, "subject");
	if (subj) {
		out->has_subject = true;
		if ((ret = desc_parse(subj, &out->subject, "manifest: subject", err)))
			goto out;
	}
	if (json_array_size(arr)) {
		out->items = calloc(json_array_size(arr), sizeof(*out->items));
		if (!out->items) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < json_array_size(arr); i++) {
		snprintf(what, sizeof(what), "manifest: %s[%zu]",
			 out->is_index ? "manifests" : "layers", i);
		out->n_items = i + 1;
		if ((ret = desc_parse(json_array_get(arr, i), &out->items[i], what, err)))
			goto out;
	}
	ret = 0;
out:
	json_decref(j);
	if (ret)
		sigstore_oci_manifest_clear(out);
	return ret;
}

void sigstore_oci_manifest_clear(struct sigstore_oci_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_items; i++)
		desc_clear(&m->items[i]);
	free(m->items);
	desc_clear(&m->config);
	desc_clear(&m->subject);
	memset(m, 0, sizeof(*m));
}

/* The member named exactly key; fails when another member's name differs only in case. */
static json_t *get_exact(json_t *o, const char *key, const char *what, char err[256])
{
	const char *k;
	json_t *v, *found = NULL;

	if (!json_is_object(o)) {
		snprintf(err, 256, "%s: not an object", what);
		return NULL;
	}
	json_object_foreach (o, k, v) {
		if (!strcasecmp(k, key) && strcmp(k, key)) {
			snprintf(err, 256, "%s: key %.40s is a case variant of %s", what, k, key);
			return NULL;
		}
		if (!strcmp(k, key))
			found = v;
	}
	if (!found)
		snprintf(err, 256, "%s: missing %s", what, key);
	return found;
}

int sigstore_oci_simplesign_check(const char *payload, size_t len, const char *digest,
				  char err[256])
{
	json_t *j = NULL, *crit, *type, *image, *d;
	int ret = -EPROTO;

	err[0] = '\0';
	j = load_json(payload, len, SIGSTORE_OCI_MAX_BLOB, "simple-signing payload", err);
	if (!j)
		goto out;
	if (!(crit = get_exact(j, "critical", "simple-signing payload", err)) ||
	    !(type = get_exact(crit, "type", "simple-signing payload: critical", err)) ||
	    !(image = get_exact(crit, "image", "simple-signing payload: critical", err)) ||
	    !(d = get_exact(image, "docker-manifest-digest",
			    "simple-signing payload: critical.image", err)))
		goto out;
	if (!json_is_string(type) ||
	    strcmp(json_string_value(type), "cosign container image signature")) {
		snprintf(err, 256,
			 "simple-signing payload: critical.type is not "
			 "\"cosign container image signature\"");
		goto out;
	}
	if (!json_is_string(d) || strlen(json_string_value(d)) != json_string_length(d)) {
		snprintf(err, 256,
			 "simple-signing payload: critical.image.docker-manifest-digest is not a "
			 "string");
		goto out;
	}
	if (strcmp(json_string_value(d), digest)) {
		snprintf(err, 256,
			 "simple-signing payload: docker-manifest-digest %.80s is not the image "
			 "digest %.80s",
			 json_string_value(d), digest);
		ret = -EBADMSG;
		goto out;
	}
	ret = 0;
out:
	json_decref(j);
	return ret;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

struct resp {
	char *body;
	size_t len;
	size_t max;
	bool too_big;
	long status;
	char content_type[256];
	char www_auth[OCI_MAX_HEADER];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;
	char *nb;

	if (r->len + n > r->max) {
		r->too_big = true;
		return 0;
	}
	nb = realloc(r->body, r->len + n + 1);
	if (!nb)
		return 0;
	r->body = nb;
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static void header_value(const char *line, size_t n, size_t name_len, char *dst, size_t size)
{
	const char *v = line + name_len;
	size_t vl;

	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	vl = (size_t)(line + n - v);
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= size)
		vl = size - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;

	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new response (redirect or retry): forget the previous headers */
		r->content_type[0] = '\0';
		r->www_auth[0] = '\0';
	} else if (n > 13 && !strncasecmp(line, "content-type:", 13)) {
		header_value(line, n, 13, r->content_type, sizeof(r->content_type));
	} else if (n > 17 && !strncasecmp(line, "www-authenticate:", 17)) {
		header_value(line, n, 17, r->www_auth, sizeof(r->www_auth));
	}
	return n;
}

static void resp_reset(struct resp *r, size_t max)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->max = max;
}

/* Stops the transfer in flight once the client's cancel flag is set. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct sigstore_oci_client *c = ud;

	return c->cancel && atomic_load(c->cancel) ? 1 : 0;
}

/*
 * One GET; auth is an "Authorization: ..." header or NULL, cred Basic credentials or NULL.
 * The request's timeout is capped by the time left before the client's deadline.
 */
static int http_get(struct sigstore_oci_client *c, const char *url, const char *accept,
		    const char *auth, const struct sigstore_oci_cred *cred, struct resp *r,
		    char err[256])
{
	struct curl_slist *hdrs = NULL, *tmp;
	char line[OCI_MAX_TOKEN + 64];
	long timeout = c->timeout_ms;
	CURLcode rc;
	bool by_deadline = false; /* the request's timeout is the time left to the deadline */
	int ret = -EIO;

	if (c->cancel && atomic_load(c->cancel)) {
		snprintf(err, 256, "GET %.180s: cancelled", url);
		ret = -ECANCELED;
		goto out;
	}
	if (c->deadline_ms) {
		uint64_t now = now_ms();

		if (now >= c->deadline_ms) {
			snprintf(err, 256, "GET %.180s: deadline reached", url);
			ret = -ETIMEDOUT;
			goto out;
		}
		if (c->deadline_ms - now < (uint64_t)timeout) {
			timeout = (long)(c->deadline_ms - now);
			by_deadline = true;
		}
	}
	curl_easy_reset(c->curl);
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		if (!(tmp = curl_slist_append(hdrs, line)))
			goto nomem;
		hdrs = tmp;
	}
	if (auth) {
		if (!(tmp = curl_slist_append(hdrs, auth)))
			goto nomem;
		hdrs = tmp;
	}
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	if (c->cancel) {
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	}
	/* registries redirect blob GETs to storage; never send credentials there */
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c->curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, c->insecure_http ? "http,https" : "https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR,
			 c->insecure_http ? "http,https" : "https");
	if (c->ca_file)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
	if (cred) {
		/* separately: a user name may hold ':' */
		curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c->curl, CURLOPT_USERNAME, cred->username);
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, cred->password);
	}
	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (cred) /* curl keeps a copy of the password: drop it now */
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, "");
	if (r->too_big) {
		snprintf(err, 256, "GET %.180s: response larger than %zu bytes", url, r->max);
		ret = -E2BIG;
		goto out;
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(err, 256, "GET %.180s: cancelled", url);
		ret = -ECANCELED;
		goto out;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		/* curl's clock may fire a little before ours reaches the deadline */
		if (by_deadline || (c->deadline_ms && now_ms() >= c->deadline_ms))
			snprintf(err, 256, "GET %.180s: deadline reached", url);
		else
			snprintf(err, 256, "GET %.180s: timed out", url);
		ret = -ETIMEDOUT;
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(err, 256, "GET %.180s: %s", url, curl_easy_strerror(rc));
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	ret = -ENOMEM;
out:
	curl_slist_free_all(hdrs);
	return ret;
}

/*
 * Credentials for ref's registry and repository (*out NULL: anonymous), looked up once per
 * registry/repository and client. A failing plugin or helper is -EACCES with err naming it.
 */
static int get_creds(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
		     const struct sigstore_oci_cred **out, char err[256])
{
	char key[sizeof(c->cred_key)];
	int ret;

	*out = NULL;
	snprintf(key, sizeof(key), "%s/%s", ref->registry, ref->repo);
	if (!c->cred_valid || strcmp(key, c->cred_key)) {
		c->cred_valid = false;
		ret = sigstore_oci_auth_lookup(c->auth, ref->registry, ref->repo,
					       c->helper_timeout_ms, c->deadline_ms, c->cancel,
					       &c->cred, err);
		if (ret)
			return ret == -ETIMEDOUT || ret == -ECANCELED || ret == -ENOMEM ? ret
											: -EACCES;
		memcpy(c->cred_key, key, sizeof(key));
		c->cred_valid = true;
	}
	if (c->cred.found)
		*out = &c->cred;
	return 0;
}

static int url_escape(CURL *curl, const char *s, char *dst, size_t size)
{
	char *e = curl_easy_escape(curl, s, 0);
	int ret = 0;

	if (!e)
		return -ENOMEM;
	if (snprintf(dst, size, "%s", e) >= (int)size)
		ret = -ENAMETOOLONG;
	curl_free(e);
	return ret;
}

/* Fetches a Bearer token for the challenge into c->token. */
static int fetch_token(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
		       const struct sigstore_oci_challenge *ch, char err[256])
{
	char url[OCI_MAX_URL], svc[512], scope[768], want_scope[512];
	const struct sigstore_oci_cred *creds = NULL;
	struct resp r = {.max = SIGSTORE_OCI_MAX_TOKEN_RESP};
	json_t *j = NULL, *t;
	int ret;

	snprintf(want_scope, sizeof(want_scope), "repository:%s:pull", ref->repo);
	if ((ret = url_escape(c->curl, ch->service, svc, sizeof(svc))) ||
	    (ret = url_escape(c->curl, ch->scope[0] ? ch->scope : want_scope, scope,
			      sizeof(scope))))
		goto out;
	if (snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", ch->realm,
		     strchr(ch->realm, '?') ? "&" : "?", svc, scope) >= (int)sizeof(url)) {
		snprintf(err, 256, "token realm %.100s: URL too long", ch->realm);
		ret = -ENAMETOOLONG;
		goto out;
	}
	if ((ret = get_creds(c, ref, &creds, err)) ||
	    (ret = http_get(c, url, "application/json", NULL, creds, &r, err)))
		goto out;
	if (r.status != 200) {
		snprintf(err, 256, "token %.150s: HTTP %ld", ch->realm, r.status);
		ret = r.status == 401 || r.status == 403 ? -EACCES : -EIO;
		goto out;
	}
	ret = -EPROTO;
	if (!(j = load_json(r.body ? r.body : "", r.len, SIGSTORE_OCI_MAX_TOKEN_RESP,
			    "token response", err)))
		goto out;
	t = json_object_get(j, "token");
	if (!json_is_string(t))
		t = json_object_get(j, "access_token");
	if (!json_is_string(t) || !json_string_length(t) ||
	    json_string_length(t) >= sizeof(c->token) - 1) {
		snprintf(err, 256, "token response from %.150s: no usable token", ch->realm);
		goto out;
	}
	for (const char *p = json_string_value(t); *p; p++)
		if (*p <= ' ' || *p > '~') {
			snprintf(err, 256, "token response from %.150s: token has bad bytes",
				 ch->realm);
			goto out;
		}
	snprintf(c->token, sizeof(c->token), "%s", json_string_value(t));
	snprintf(c->token_key, sizeof(c->token_key), "%s %s", ref->host, ref->repo);
	ret = 0;
out:
	json_decref(j);
	free(r.body);
	return ret;
}

/* GET https://<host>/v2/<repo>/<path>, with token auth. r->status tells the result. */
static int registry_get(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			const char *path, const char *accept, size_t max, struct resp *r,
			char err[256])
{
	char url[OCI_MAX_URL], key[768], auth[OCI_MAX_TOKEN + 32];
	struct sigstore_oci_challenge ch;
	const struct sigstore_oci_cred *creds = NULL;
	int ret;

	if (snprintf(url, sizeof(url), "%s://%s/v2/%s/%s", c->insecure_http ? "http" : "https",
		     ref->host, ref->repo, path) >= (int)sizeof(url)) {
		snprintf(err, 256, "%.100s: URL too long", ref->repo);
		ret = -ENAMETOOLONG;
		goto out;
	}
	snprintf(key, sizeof(key), "%s %s", ref->host, ref->repo);
	auth[0] = '\0';
	if (c->token[0] && !strcmp(key, c->token_key))
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	for (int attempt = 0;; attempt++) {
		resp_reset(r, max);
		if ((ret = http_get(c, url, accept, auth[0] ? auth : NULL, creds, r, err)))
			goto out;
		if (r->status != 401 || attempt > 0)
			break;
		if (sigstore_oci_challenge_parse(r->www_auth, &ch, err)) {
			sigstore_util_err_prefix(err, url);
			ret = -EACCES;
			goto out;
		}
		if (!strcasecmp(ch.scheme, "Bearer")) {
			if ((ret = fetch_token(c, ref, &ch, err)))
				goto out;
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		} else {
			if ((ret = get_creds(c, ref, &creds, err)))
				goto out;
			if (!creds)
				break;
			auth[0] = '\0';
		}
	}
	if (r->status == 401 || r->status == 403) {
		snprintf(err, 256, "GET %.180s: HTTP %ld (unauthorized)", url, r->status);
		ret = -EACCES;
	} else if (r->status >= 500 ||
		   (r->status != 200 && r->status != 404 && r->status != 400 && r->status != 405)) {
		snprintf(err, 256, "GET %.180s: HTTP %ld", url, r->status);
		ret = -EIO;
	}
out:
	return ret;
}

static int check_digest(const struct resp *r, const char *digest, const char *what, char err[256])
{
	unsigned char h[32];
	char hex[65];

	sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)(r->body ? r->body : ""),
			   r->len, h);
	sigstore_util_hex_encode(h, 32, hex);
	if (strcmp(hex, digest + 7)) {
		snprintf(err, 256, "%s: content does not match its digest %.80s", what, digest);
		return -EPROTO;
	}
	return 0;
}

/* GET a manifest by tag or digest; -ENOENT on 404. Digest references are hash-checked. */
static int get_manifest(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			const char *tag_or_digest, const char *accept,
			struct sigstore_oci_manifest *m, struct resp *r, char err[256])
{
	char path[300], what[300];
	int ret;

	snprintf(path, sizeof(path), "manifests/%s", tag_or_digest);
	snprintf(what, sizeof(what), "%.100s/%.100s: manifest %.80s", ref->host, ref->repo,
		 tag_or_digest);
	if ((ret = registry_get(c, ref, path, accept, SIGSTORE_OCI_MAX_MANIFEST, r, err)))
		return ret;
	if (r->status != 200) {
		snprintf(err, 256, "%s: HTTP %ld", what, r->status);
		return -ENOENT;
	}
	if (is_hex_digest(tag_or_digest) && (ret = check_digest(r, tag_or_digest, what, err)))
		return ret;
	if (m && (ret = sigstore_oci_manifest_parse(r->body ? r->body : "", r->len, m, err)))
		sigstore_util_err_prefix(err, what);
	return ret;
}

static int get_blob(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
		    const struct sigstore_oci_desc *d, struct resp *r, char err[256])
{
	char path[300], what[300];
	int ret;

	snprintf(what, sizeof(what), "%.100s/%.100s: blob %s", ref->host, ref->repo, d->digest);
	if (d->size > (int64_t)SIGSTORE_OCI_MAX_BLOB) {
		snprintf(err, 256, "%s: size %lld over %u bytes", what, (long long)d->size,
			 SIGSTORE_OCI_MAX_BLOB);
		return -E2BIG;
	}
	snprintf(path, sizeof(path), "blobs/%s", d->digest);
	if ((ret = registry_get(c, ref, path, NULL, SIGSTORE_OCI_MAX_BLOB, r, err)))
		return ret;
	if (r->status != 200) {
		snprintf(err, 256, "%s: HTTP %ld", what, r->status);
		return -EPROTO;
	}
	if ((int64_t)r->len != d->size) {
		snprintf(err, 256, "%s: %zu bytes, descriptor says %lld", what, r->len,
			 (long long)d->size);
		return -EPROTO;
	}
	return check_digest(r, d->digest, what, err);
}

int sigstore_oci_resolve_digest(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
				char digest[SIGSTORE_OCI_DIGEST_LEN], char err[256])
{
	struct resp r = {0};
	unsigned char h[32];
	char hex[65];
	int ret;

	err[0] = '\0';
	if (ref->digest[0]) {
		snprintf(digest, SIGSTORE_OCI_DIGEST_LEN, "%s", ref->digest);
		return 0;
	}
	ret = get_manifest(c, ref, ref->tag, OCI_ACCEPT_MANIFEST, NULL, &r, err);
	if (ret)
		goto out;
	sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)(r.body ? r.body : ""),
			   r.len, h);
	sigstore_util_hex_encode(h, 32, hex);
	snprintf(digest, SIGSTORE_OCI_DIGEST_LEN, "sha256:%s", hex);
out:
	free(r.body);
	return ret;
}

static bool is_image_manifest_type(const char *t)
{
	return !strcmp(t, "application/vnd.oci.image.manifest.v1+json") ||
	       !strcmp(t, "application/vnd.docker.distribution.manifest.v2+json");
}

int sigstore_oci_find_manifest_for_config(struct sigstore_oci_client *c,
					  const struct sigstore_oci_ref *tag_ref,
					  const char *config_digest,
					  char manifest_digest[SIGSTORE_OCI_DIGEST_LEN],
					  char err[256])
{
	struct sigstore_oci_manifest m = {0}, child = {0};
	struct resp r = {0};
	unsigned char h[32];
	char hex[65];
	size_t fetched = 0, skipped = 0;
	int ret;

	err[0] = '\0';
	manifest_digest[0] = '\0';
	if (!tag_ref->tag[0] || !config_digest || !is_hex_digest(config_digest)) {
		snprintf(err, 256, "%.100s: a tag and a sha256 config digest are needed",
			 tag_ref->repo);
		ret = -EINVAL;
		goto out;
	}
	if ((ret = get_manifest(c, tag_ref, tag_ref->tag, OCI_ACCEPT_MANIFEST, &m, &r, err)))
		goto out;
	sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)(r.body ? r.body : ""),
			   r.len, h);
	sigstore_util_hex_encode(h, 32, hex);
	if (!m.is_index) {
		if (m.has_config && !strcmp(m.config.digest, config_digest)) {
			snprintf(manifest_digest, SIGSTORE_OCI_DIGEST_LEN, "sha256:%s", hex);
			goto out;
		}
		snprintf(err, 256,
			 "%.60s/%.80s:%.40s names manifest sha256:%.12s... with config "
			 "%.19s..., not %.19s...",
			 tag_ref->registry, tag_ref->repo, tag_ref->tag, hex,
			 m.has_config ? m.config.digest : "(none)", config_digest);
		ret = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < m.n_items; i++) {
		if (!is_image_manifest_type(m.items[i].media_type))
			continue;
		if (fetched == SIGSTORE_OCI_MAX_INDEX_FETCH) {
			skipped++;
			continue;
		}
		fetched++;
		if ((ret = get_manifest(c, tag_ref, m.items[i].digest, OCI_ACCEPT_MANIFEST, &child,
					&r, err)))
			goto out;
		if (!child.is_index && child.has_config &&
		    !strcmp(child.config.digest, config_digest)) {
			snprintf(manifest_digest, SIGSTORE_OCI_DIGEST_LEN, "%s", m.items[i].digest);
			goto out;
		}
		sigstore_oci_manifest_clear(&child);
	}
	snprintf(err, 256,
		 "%.60s/%.80s:%.40s names index sha256:%.12s...: none of its %zu image "
		 "manifests fetched has config %.19s...%s",
		 tag_ref->registry, tag_ref->repo, tag_ref->tag, hex, fetched, config_digest,
		 skipped ? " (more were not fetched: cap)" : "");
	ret = -ENOENT;
out:
	sigstore_oci_manifest_clear(&child);
	sigstore_oci_manifest_clear(&m);
	free(r.body);
	return ret;
}

/* ---- collecting signatures ---------------------------------------------------------------- */

/*
 * True (and noted as skipped) once SIGSTORE_OCI_MAX_SIGS are collected: cosign appends a layer
 * to .sig at every re-signing, so a long-lived image may carry more; the first ones are tried
 * and the rest are not fetched, rather than failing the image.
 */
static bool sigs_full(struct sigstore_oci_sigs *out, const char *where)
{
	if (out->n < SIGSTORE_OCI_MAX_SIGS)
		return false;
	out->n_skipped++;
	snprintf(out->skip_reason, sizeof(out->skip_reason),
		 "%.100s: more than %d signatures; the rest were not fetched", where,
		 SIGSTORE_OCI_MAX_SIGS);
	return true;
}

static int add_sig(struct sigstore_oci_sigs *out, enum sigstore_oci_sig_kind kind, struct resp *r,
		   struct sigstore_oci_desc *layer, char err[256])
{
	struct sigstore_oci_sig *nv, *s;

	if (out->n >= SIGSTORE_OCI_MAX_SIGS) {
		snprintf(err, 256, "more than %d signatures", SIGSTORE_OCI_MAX_SIGS);
		return -E2BIG;
	}
	if (out->total + r->len > SIGSTORE_OCI_MAX_TOTAL) {
		snprintf(err, 256, "signatures larger than %u bytes in total",
			 SIGSTORE_OCI_MAX_TOTAL);
		return -E2BIG;
	}
	nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	out->v = nv;
	s = &out->v[out->n++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->data = r->body ? r->body : strdup("");
	if (!s->data) {
		out->n--;
		return -ENOMEM;
	}
	s->data_len = r->len;
	out->total += r->len;
	r->body = NULL;
	r->len = 0;
	memcpy(s->media_type, layer->media_type, sizeof(s->media_type));
	s->layer = *layer; /* takes the annotations */
	memset(layer, 0, sizeof(*layer));
	return 0;
}

/* Bundles from one referrer manifest (by digest) whose subject must be the image. */
static int collect_referrer(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			    const char *mdigest, struct sigstore_oci_sigs *out, char err[256])
{
	struct sigstore_oci_manifest m = {0};
	struct resp r = {0};
	int ret;

	if ((ret = get_manifest(c, ref, mdigest, OCI_ACCEPT_MANIFEST, &m, &r, err)))
		goto out;
	if (m.is_index || !m.has_subject || strcmp(m.subject.digest, ref->digest) ||
	    strcmp(m.artifact_type, SIGSTORE_OCI_BUNDLE_TYPE))
		goto out; /* not a bundle for this image: ignore */
	for (size_t i = 0; i < m.n_items; i++) {
		if (strncmp(m.items[i].media_type, "application/vnd.dev.sigstore.bundle", 35))
			continue;
		if (sigs_full(out, mdigest))
			break;
		if ((ret = get_blob(c, ref, &m.items[i], &r, err)) ||
		    (ret = add_sig(out, SIGSTORE_OCI_SIG_BUNDLE, &r, &m.items[i], err)))
			goto out;
	}
out:
	sigstore_oci_manifest_clear(&m);
	free(r.body);
	return ret;
}

static int collect_referrers(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			     struct sigstore_oci_sigs *out, char err[256])
{
	struct sigstore_oci_manifest idx = {0};
	struct resp r = {0};
	char path[300], tag[80];
	int ret;

	snprintf(path, sizeof(path), "referrers/%s?artifactType=%s", ref->digest,
		 "application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson");
	if ((ret = registry_get(c, ref, path, OCI_ACCEPT_INDEX, SIGSTORE_OCI_MAX_MANIFEST, &r,
				err)))
		goto out;
	if (r.status == 200) {
		out->referrers_api = true;
		if ((ret = sigstore_oci_manifest_parse(r.body ? r.body : "", r.len, &idx, err))) {
			sigstore_util_err_prefix(err, "referrers index");
			goto out;
		}
	} else {
		snprintf(tag, sizeof(tag), "sha256-%s", ref->digest + 7);
		ret = get_manifest(c, ref, tag, OCI_ACCEPT_INDEX, &idx, &r, err);
		if (ret == -ENOENT) {
			ret = 0;
			goto out;
		}
		if (ret)
			goto out;
	}
	if (!idx.is_index) {
		snprintf(err, 256, "referrers of %s: not an index", ref->digest);
		ret = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < idx.n_items; i++) {
		if (strcmp(idx.items[i].artifact_type, SIGSTORE_OCI_BUNDLE_TYPE))
			continue;
		if ((ret = collect_referrer(c, ref, idx.items[i].digest, out, err)))
			goto out;
	}
out:
	sigstore_oci_manifest_clear(&idx);
	free(r.body);
	return ret;
}

/* Legacy .sig (kind LEGACY) or .att (ATTESTATION) layers under sha256-<hex>.<suffix>. */
static int collect_legacy(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			  const char *suffix, enum sigstore_oci_sig_kind kind,
			  struct sigstore_oci_sigs *out, char err[256])
{
	struct sigstore_oci_manifest m = {0};
	struct resp r = {0};
	char tag[96], why[256];
	int ret;

	snprintf(tag, sizeof(tag), "sha256-%s.%s", ref->digest + 7, suffix);
	ret = get_manifest(c, ref, tag, OCI_ACCEPT_MANIFEST, &m, &r, err);
	if (ret == -ENOENT) {
		ret = 0;
		goto out;
	}
	if (ret)
		goto out;
	if (m.is_index) {
		snprintf(err, 256, "%s: an index, not a manifest", tag);
		ret = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < m.n_items; i++) {
		if (sigs_full(out, tag))
			break;
		if ((ret = get_blob(c, ref, &m.items[i], &r, err)))
			goto out;
		if (kind == SIGSTORE_OCI_SIG_LEGACY &&
		    sigstore_oci_simplesign_check(r.body ? r.body : "", r.len, ref->digest, why)) {
			out->n_skipped++;
			snprintf(out->skip_reason, sizeof(out->skip_reason), "%s layer %zu: %.200s",
				 suffix, i, why);
			continue;
		}
		if ((ret = add_sig(out, kind, &r, &m.items[i], err)))
			goto out;
	}
out:
	sigstore_oci_manifest_clear(&m);
	free(r.body);
	return ret;
}

int sigstore_oci_fetch_bundles(struct sigstore_oci_client *c, const struct sigstore_oci_ref *ref,
			       struct sigstore_oci_sigs *out, char err[256])
{
	int ret;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	if (!is_hex_digest(ref->digest)) {
		snprintf(err, 256, "%.100s: no image digest (resolve the tag first)", ref->repo);
		return -EINVAL;
	}
	if ((ret = collect_referrers(c, ref, out, err)) ||
	    (ret = collect_legacy(c, ref, "sig", SIGSTORE_OCI_SIG_LEGACY, out, err)) ||
	    (ret = collect_legacy(c, ref, "att", SIGSTORE_OCI_SIG_ATTESTATION, out, err)))
		return ret;
	if (out->n == 0) {
		snprintf(err, 256, "%.100s@%s: no signatures found%s%.150s", ref->repo, ref->digest,
			 out->n_skipped ? "; skipped " : "", out->skip_reason);
		return -ENOENT;
	}
	return 0;
}

void sigstore_oci_sigs_clear(struct sigstore_oci_sigs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].data);
		desc_clear(&s->v[i].layer);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- client ------------------------------------------------------------------------------- */

int sigstore_oci_client_new(const struct sigstore_oci_client_opts *o,
			    struct sigstore_oci_client **out, char err[256])
{
	struct sigstore_oci_auth_opts ao = {
		.provider_config = o->credential_provider_config,
		.provider_bin_dir = o->credential_provider_bin_dir,
		.docker_config = o->docker_config,
		.helper_dir = o->credential_helper_dir,
	};
	struct sigstore_oci_client *c;
	int ret = -ENOMEM;

	*out = NULL;
	err[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->insecure_http = o->insecure_http;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : OCI_DEFAULT_TIMEOUT_MS;
	c->helper_timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
	c->deadline_ms = o->deadline_ms;
	c->cancel = o->cancel;
	if (o->ca_file && !(c->ca_file = strdup(o->ca_file)))
		goto out;
	if ((ret = sigstore_oci_auth_new(&ao, &c->auth, err)))
		goto out;
	ret = -ENOMEM;
	c->curl = curl_easy_init();
	if (!c->curl) {
		snprintf(err, 256, "oci client: curl_easy_init failed");
		goto out;
	}
	*out = c;
	c = NULL;
	ret = 0;
out:
	sigstore_oci_client_free(c);
	return ret;
}

void sigstore_oci_client_free(struct sigstore_oci_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	sigstore_oci_auth_free(c->auth);
	free(c->ca_file);
	sigstore_oci_cred_clear(&c->cred);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
}
