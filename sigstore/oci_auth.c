/*
 * oci_auth.c - see oci_auth.h. Kubelet credential-provider plugins (CredentialProviderConfig
 * in YAML or JSON, exec with a CredentialProviderRequest on stdin), docker config.json
 * (credHelpers, auths, credsStore) and docker-credential-<helper> executables. Children run
 * through posix_spawn in their own process group, with bounded output and a timeout after
 * which the group is killed; stdin is a socket so that a child that never reads it cannot
 * raise SIGPIPE in the daemon.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "sigstore/oci_auth.h"
#include "sigstore/util.h"

#define AUTH_MAX_NAME	   255 /* bytes of a plugin / helper name */
#define AUTH_MAX_PATH	   4096
#define AUTH_MAX_STDERR	   512 /* bytes of a child's stderr kept for messages */
#define AUTH_POLL_SLICE_MS 50  /* how often cancel is looked at while a child runs */
#define AUTH_BASE_PATH	   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define AUTH_DOCKER_HUB	   "https://index.docker.io/v1/"

extern char **environ;

struct provider {
	char *name;
	char *path; /* bin_dir/name */
	char **match;
	size_t n_match;
	char *api_version;
	char **argv; /* path, args..., NULL */
	char **envp; /* minimal PATH + env, NULL-terminated */
};

struct sigstore_oci_auth {
	char *bin_dir;
	char *helper_dir;
	struct provider *prov;
	size_t n_prov;
	json_t *docker;	   /* config.json, or NULL */
	char *docker_what; /* its name, for messages */
};

/* snprintf into a caller's err[256] (messages are cut at 255 bytes, by design). */
__attribute__((format(printf, 2, 3))) static void auth_err(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, 256, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void provider_clear(struct provider *p)
{
	free(p->name);
	free(p->path);
	for (size_t i = 0; i < p->n_match; i++)
		free(p->match[i]);
	free(p->match);
	free(p->api_version);
	free_strv(p->argv);
	free_strv(p->envp);
	memset(p, 0, sizeof(*p));
}

void sigstore_oci_cred_clear(struct sigstore_oci_cred *c)
{
	if (c)
		explicit_bzero(c, sizeof(*c));
}

/* ---- image patterns ----------------------------------------------------------------------- */

struct target {
	char host[SIGSTORE_OCI_AUTH_MAX_PATTERN]; /* without brackets and port */
	char port[8];
	const char *path; /* "" or "/..." inside the parsed string */
};

/*
 * Splits host[:port][/path] like the kubelet (url.Parse + net.SplitHostPort). '*' is allowed
 * in host labels only, '?', '#', '\\', blanks nowhere, '[' only around an IPv6 literal.
 */
static int split_target(const char *s, struct target *t)
{
	size_t hl = strcspn(s, "/");
	const char *colon = NULL, *h = s;
	size_t hostlen;

	memset(t, 0, sizeof(*t));
	t->path = s + hl;
	if (hl == 0 || hl >= sizeof(t->host) || strlen(s) >= SIGSTORE_OCI_AUTH_MAX_PATTERN)
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#' ||
		    *p == '\\' || (p >= t->path && *p == '*'))
			return -EINVAL;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', hl);

		if (!rb)
			return -EINVAL;
		h = s + 1;
		hostlen = (size_t)(rb - h);
		for (size_t i = 0; i < hostlen; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
				return -EINVAL;
		if (rb + 1 < s + hl) {
			if (rb[1] != ':')
				return -EINVAL;
			colon = rb + 1;
		}
	} else {
		const char *c1 = memchr(s, ':', hl);

		if (c1 && memchr(c1 + 1, ':', (size_t)(s + hl - c1 - 1)))
			return -EINVAL; /* more than one ':' outside brackets */
		colon = c1;
		hostlen = colon ? (size_t)(colon - s) : hl;
		for (size_t i = 0; i < hostlen; i++) {
			unsigned char ch = (unsigned char)s[i];

			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_' && ch != '*')
				return -EINVAL;
		}
	}
	if (hostlen == 0)
		return -EINVAL;
	memcpy(t->host, h, hostlen);
	t->host[hostlen] = '\0';
	if (colon) {
		size_t pl = (size_t)(s + hl - colon - 1);

		if (pl == 0 || pl >= sizeof(t->port))
			return -EINVAL;
		memcpy(t->port, colon + 1, pl);
		for (size_t i = 0; i < pl; i++)
			if (!isdigit((unsigned char)t->port[i]))
				return -EINVAL;
	}
	return 0;
}

/* '*' matches any run of characters (a label holds no '.'); everything else is literal. */
static bool glob_label(const char *p, size_t pl, const char *s, size_t sl)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pl && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pl && p[pi] == '*')
		pi++;
	return pi == pl;
}

static size_t count_labels(const char *h)
{
	size_t n = 1;

	for (; *h; h++)
		n += *h == '.';
	return n;
}

int sigstore_oci_auth_match_image(const char *pattern, const char *image)
{
	struct target p, t;
	const char *ph, *th;

	if (!pattern || split_target(pattern, &p))
		return -EINVAL;
	if (!image || split_target(image, &t))
		return 0;
	if (strcmp(p.port, t.port) || count_labels(p.host) != count_labels(t.host) ||
	    strncmp(t.path, p.path, strlen(p.path)))
		return 0;
	ph = p.host;
	th = t.host;
	for (;;) {
		size_t pl = strcspn(ph, "."), tl = strcspn(th, ".");

		if (!glob_label(ph, pl, th, tl))
			return 0;
		if (!ph[pl])
			break;
		ph += pl + 1;
		th += tl + 1;
	}
	return 1;
}

/* ---- documents ---------------------------------------------------------------------------- */

static int parse_json_object(const char *text, size_t len, size_t max, const char *what,
			     json_t **out, char err[256])
{
	int ret;

	*out = NULL;
	if (len > max) {
		auth_err(err, "%.120s: larger than %zu bytes", what, max);
		return -EPROTO;
	}
	if ((ret = sigstore_util_json_parse(text, len, SIGSTORE_OCI_AUTH_MAX_DEPTH, what, out,
					    err)))
		return ret;
	if (!json_is_object(*out)) {
		auth_err(err, "%.120s: not a JSON object", what);
		json_decref(*out);
		*out = NULL;
		return -EPROTO;
	}
	return 0;
}

struct yctx {
	yaml_parser_t p;
	size_t nodes;
	const char *what;
	char *err;
};

static int y_next(struct yctx *y, yaml_event_t *ev)
{
	if (yaml_parser_parse(&y->p, ev))
		return 0;
	auth_err(y->err, "%.120s: invalid YAML at line %zu: %.80s", y->what,
		 y->p.problem_mark.line + 1, y->p.problem ? y->p.problem : "parse error");
	return -EPROTO;
}

static bool y_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
		!strcmp(v, "NULL"));
}

/* Builds the JSON value of the node that ev starts (ev is consumed). Scalars are strings. */
static int y_node(struct yctx *y, yaml_event_t *ev, int depth, json_t **out)
{
	yaml_event_t kev = {0}, vev = {0};
	json_t *v = NULL, *child = NULL;
	bool is_map;
	int ret = -EPROTO;

	*out = NULL;
	if (++y->nodes > SIGSTORE_OCI_AUTH_MAX_NODES) {
		auth_err(y->err, "%.120s: more than %d YAML nodes", y->what,
			 SIGSTORE_OCI_AUTH_MAX_NODES);
		goto out;
	}
	if (depth > SIGSTORE_OCI_AUTH_MAX_DEPTH) {
		auth_err(y->err, "%.120s: nested deeper than %d", y->what,
			 SIGSTORE_OCI_AUTH_MAX_DEPTH);
		goto out;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		auth_err(y->err, "%.120s: line %zu: YAML aliases are not supported", y->what,
			 ev->start_mark.line + 1);
		goto out;
	case YAML_SCALAR_EVENT:
		v = y_is_null(ev) ? json_null()
				  : json_stringn_nocheck((const char *)ev->data.scalar.value,
							 ev->data.scalar.length);
		ret = v ? 0 : -ENOMEM;
		goto out;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		break;
	default:
		auth_err(y->err, "%.120s: line %zu: unexpected YAML event", y->what,
			 ev->start_mark.line + 1);
		goto out;
	}
	is_map = ev->type == YAML_MAPPING_START_EVENT;
	v = is_map ? json_object() : json_array();
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		const char *key = NULL;

		if ((ret = y_next(y, &kev)))
			goto out;
		if (kev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT))
			break;
		ret = -EPROTO;
		if (is_map) {
			if (kev.type != YAML_SCALAR_EVENT ||
			    strlen((const char *)kev.data.scalar.value) != kev.data.scalar.length) {
				auth_err(y->err, "%.120s: line %zu: a key is not a string", y->what,
					 kev.start_mark.line + 1);
				goto out;
			}
			key = (const char *)kev.data.scalar.value;
			if (json_object_get(v, key)) {
				auth_err(y->err, "%.120s: line %zu: duplicate key %.40s", y->what,
					 kev.start_mark.line + 1, key);
				goto out;
			}
			if ((ret = y_next(y, &vev)) || (ret = y_node(y, &vev, depth + 1, &child)))
				goto out;
			ret = json_object_set_new_nocheck(v, key, child) ? -ENOMEM : 0;
		} else {
			if ((ret = y_node(y, &kev, depth + 1, &child)))
				goto out;
			ret = json_array_append_new(v, child) ? -ENOMEM : 0;
		}
		child = NULL;
		yaml_event_delete(&kev);
		memset(&kev, 0, sizeof(kev));
		if (ret)
			goto out;
	}
	ret = 0;
out:
	yaml_event_delete(&kev);
	yaml_event_delete(ev);
	if (ret)
		json_decref(v);
	else
		*out = v;
	return ret;
}

/* One YAML document (no aliases, duplicate keys refused) as JSON, which must be an object. */
static int parse_yaml_object(const char *text, size_t len, const char *what, json_t **out,
			     char err[256])
{
	struct yctx y = {.what = what, .err = err};
	yaml_event_t ev = {0};
	json_t *root = NULL;
	int ret = -EPROTO;

	*out = NULL;
	if (len > SIGSTORE_OCI_AUTH_MAX_CONFIG) {
		auth_err(err, "%.120s: larger than %u bytes", what, SIGSTORE_OCI_AUTH_MAX_CONFIG);
		return -EPROTO;
	}
	if (!yaml_parser_initialize(&y.p))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
	if ((ret = y_next(&y, &ev)))
		goto out;
	yaml_event_delete(&ev); /* stream start */
	if ((ret = y_next(&y, &ev)))
		goto out;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		auth_err(err, "%.120s: empty document", what);
		ret = -EPROTO;
		goto out;
	}
	yaml_event_delete(&ev);
	if ((ret = y_next(&y, &ev)) || (ret = y_node(&y, &ev, 1, &root)))
		goto out;
	if ((ret = y_next(&y, &ev))) /* document end */
		goto out;
	yaml_event_delete(&ev);
	if ((ret = y_next(&y, &ev)))
		goto out;
	ret = -EPROTO;
	if (ev.type != YAML_STREAM_END_EVENT) {
		auth_err(err, "%.120s: more than one YAML document", what);
		goto out;
	}
	if (!json_is_object(root)) {
		auth_err(err, "%.120s: not a mapping", what);
		goto out;
	}
	*out = root;
	root = NULL;
	ret = 0;
out:
	yaml_event_delete(&ev);
	yaml_parser_delete(&y.p);
	json_decref(root);
	return ret;
}

/* Fails on a member not named in allowed (NULL-terminated). */
static int check_fields(json_t *o, const char *const *allowed, const char *what, const char *ctx,
			char err[256])
{
	const char *k;
	json_t *v;

	json_object_foreach (o, k, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], k); i++)
			;
		if (!allowed[i]) {
			auth_err(err, "%.100s: %s%sunknown field \"%.40s\"", what, ctx,
				 ctx[0] ? ": " : "", k);
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * String member key of o: *out NULL when absent or null (an error if required). At most max
 * bytes, no NUL.
 */
static int get_str(json_t *o, const char *key, bool required, size_t max, const char *what,
		   const char *ctx, const char **out, char err[256])
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return 0;
		auth_err(err, "%.100s: %s%s%s is required", what, ctx, ctx[0] ? "." : "", key);
		return -EPROTO;
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		auth_err(err, "%.100s: %s%s%s is not a string of at most %zu bytes", what, ctx,
			 ctx[0] ? "." : "", key, max);
		return -EPROTO;
	}
	*out = json_string_value(v);
	return 0;
}

/* Go's time.ParseDuration syntax ("0", "90s", "1h30m", "1.5h", "300ms"); negative refused. */
static bool duration_ok(const char *s)
{
	static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs",
					    "ms", "s",	"m",	     "h"};

	if (*s == '+')
		s++;
	if (!strcmp(s, "0"))
		return true;
	if (!*s)
		return false;
	while (*s) {
		bool digits = false;
		size_t i, ul = 0;

		while (isdigit((unsigned char)*s)) {
			s++;
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				s++;
				digits = true;
			}
		}
		if (!digits)
			return false;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i]);

			/* longest unit first: "ms" before "m" */
			if (!strncmp(s, units[i], n) && n > ul)
				ul = n;
		}
		if (!ul)
			return false;
		s += ul;
	}
	return true;
}

/* A plain file name: no '/', not "." or "..". helper: also only [A-Za-z0-9._-]. */
static bool name_ok(const char *n, bool helper)
{
	size_t l = strlen(n);

	if (l == 0 || l > AUTH_MAX_NAME || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	if (helper)
		for (const char *p = n; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
				return false;
	return true;
}

static bool executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Sets NAME=value in the NULL-terminated envp (replacing an entry of the same name). */
static int env_set(char ***envp, size_t *n, const char *name, const char *value)
{
	size_t nl = strlen(name);
	char *e = NULL, **nv;

	if (asprintf(&e, "%s=%s", name, value) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*envp)[i], name, nl) && (*envp)[i][nl] == '=') {
			free((*envp)[i]);
			(*envp)[i] = e;
			return 0;
		}
	nv = realloc(*envp, (*n + 2) * sizeof(*nv));
	if (!nv) {
		free(e);
		return -ENOMEM;
	}
	nv[(*n)++] = e;
	nv[*n] = NULL;
	*envp = nv;
	return 0;
}

static int parse_provider(struct sigstore_oci_auth *a, json_t *o, size_t idx, const char *what,
			  struct provider *p, char err[256])
{
	static const char *const fields[] = {
		"name", "matchImages", "defaultCacheDuration", "apiVersion", "args", "env", NULL};
	static const char *const env_fields[] = {"name", "value", NULL};
	char ctx[32], ectx[96];
	const char *name, *dur, *api;
	json_t *arr, *v;
	size_t i, n_env = 0;
	int ret;

	snprintf(ctx, sizeof(ctx), "providers[%zu]", idx);
	if (!json_is_object(o)) {
		auth_err(err, "%.100s: %s is not a mapping", what, ctx);
		return -EPROTO;
	}
	if ((ret = check_fields(o, fields, what, ctx, err)) ||
	    (ret = get_str(o, "name", true, AUTH_MAX_NAME, what, ctx, &name, err)) ||
	    (ret = get_str(o, "defaultCacheDuration", true, 64, what, ctx, &dur, err)) ||
	    (ret = get_str(o, "apiVersion", true, 128, what, ctx, &api, err)))
		return ret;
	ret = -EPROTO;
	if (!name_ok(name, false)) {
		auth_err(err, "%.100s: %s.name: \"%.60s\" is not a plain file name", what, ctx,
			 name);
		return ret;
	}
	for (i = 0; i < a->n_prov; i++)
		if (!strcmp(a->prov[i].name, name)) {
			auth_err(err, "%.100s: %s.name: duplicate provider \"%.60s\"", what, ctx,
				 name);
			return ret;
		}
	if (!duration_ok(dur)) {
		auth_err(err, "%.100s: %s.defaultCacheDuration: \"%.30s\" is not a duration", what,
			 ctx, dur);
		return ret;
	}
	if (strcmp(api, SIGSTORE_OCI_AUTH_PROVIDER_API)) {
		auth_err(err, "%.100s: %s.apiVersion: \"%.60s\" is not %s", what, ctx, api,
			 SIGSTORE_OCI_AUTH_PROVIDER_API);
		return ret;
	}
	arr = json_object_get(o, "matchImages");
	if (!json_is_array(arr) || !json_array_size(arr) ||
	    json_array_size(arr) > SIGSTORE_OCI_AUTH_MAX_MATCH) {
		auth_err(err, "%.100s: %s.matchImages: required, a list of 1 to %d patterns", what,
			 ctx, SIGSTORE_OCI_AUTH_MAX_MATCH);
		return ret;
	}
	if (!(p->name = strdup(name)) || !(p->api_version = strdup(api)) ||
	    !(p->match = calloc(json_array_size(arr), sizeof(*p->match))))
		return -ENOMEM;
	json_array_foreach (arr, i, v) {
		snprintf(ectx, sizeof(ectx), "%s.matchImages[%zu]", ctx, i);
		if (!json_is_string(v) ||
		    sigstore_oci_auth_match_image(json_string_value(v), "") < 0 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			auth_err(err,
				 "%.100s: %s: not an image pattern (host[:port][/path], '*' only "
				 "in host labels)",
				 what, ectx);
			return -EPROTO;
		}
		if (!(p->match[p->n_match] = strdup(json_string_value(v))))
			return -ENOMEM;
		p->n_match++;
	}
	if (asprintf(&p->path, "%s/%s", a->bin_dir ? a->bin_dir : ".", name) < 0) {
		p->path = NULL;
		return -ENOMEM;
	}
	/* argv: the plugin, then args */
	arr = json_object_get(o, "args");
	if (arr && !json_is_null(arr) &&
	    (!json_is_array(arr) || json_array_size(arr) > SIGSTORE_OCI_AUTH_MAX_ARGS)) {
		auth_err(err, "%.100s: %s.args: not a list of at most %d strings", what, ctx,
			 SIGSTORE_OCI_AUTH_MAX_ARGS);
		return -EPROTO;
	}
	if (!(p->argv = calloc(json_array_size(arr) + 2, sizeof(*p->argv))) ||
	    !(p->argv[0] = strdup(p->path)))
		return -ENOMEM;
	json_array_foreach (arr, i, v) {
		if (!json_is_string(v) || json_string_length(v) > SIGSTORE_OCI_AUTH_MAX_ARG_LEN ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			auth_err(err, "%.100s: %s.args[%zu]: not a string of at most %d bytes",
				 what, ctx, i, SIGSTORE_OCI_AUTH_MAX_ARG_LEN);
			return -EPROTO;
		}
		if (!(p->argv[i + 1] = strdup(json_string_value(v))))
			return -ENOMEM;
	}
	/* envp: a minimal PATH, then env (the daemon's own environment is not passed on) */
	if (!(p->envp = calloc(2, sizeof(*p->envp))) || !(p->envp[0] = strdup(AUTH_BASE_PATH)))
		return -ENOMEM;
	n_env = 1;
	arr = json_object_get(o, "env");
	if (arr && !json_is_null(arr) &&
	    (!json_is_array(arr) || json_array_size(arr) > SIGSTORE_OCI_AUTH_MAX_ARGS)) {
		auth_err(err, "%.100s: %s.env: not a list of at most %d {name, value}", what, ctx,
			 SIGSTORE_OCI_AUTH_MAX_ARGS);
		return -EPROTO;
	}
	json_array_foreach (arr, i, v) {
		const char *en, *ev;

		snprintf(ectx, sizeof(ectx), "%s.env[%zu]", ctx, i);
		if (!json_is_object(v)) {
			auth_err(err, "%.100s: %s is not a mapping", what, ectx);
			return -EPROTO;
		}
		if ((ret = check_fields(v, env_fields, what, ectx, err)) ||
		    (ret = get_str(v, "name", true, 256, what, ectx, &en, err)) ||
		    (ret = get_str(v, "value", true, SIGSTORE_OCI_AUTH_MAX_ARG_LEN, what, ectx, &ev,
				   err)))
			return ret;
		if (!en[0] || strchr(en, '=')) {
			auth_err(err, "%.100s: %s.name: empty or holds '='", what, ectx);
			return -EPROTO;
		}
		if ((ret = env_set(&p->envp, &n_env, en, ev)))
			return ret;
	}
	if (!a->bin_dir) {
		auth_err(err, "%.100s: no credential provider bin dir configured", what);
		return -EINVAL;
	}
	if (!executable_file(p->path)) {
		auth_err(err, "%.100s: %s.name: %.100s is not an executable file", what, ctx,
			 p->path);
		return -ENOENT;
	}
	return 0;
}

int sigstore_oci_auth_load_providers(struct sigstore_oci_auth *a, const char *text, size_t len,
				     const char *what, char err[256])
{
	static const char *const fields[] = {"apiVersion", "kind", "providers", NULL};
	json_t *root = NULL, *arr, *v;
	const char *api, *kind;
	const char *t = text;
	struct provider *np, p = {0};
	size_t i, first = a->n_prov;
	int ret;

	err[0] = '\0';
	while (t < text + len && isspace((unsigned char)*t))
		t++;
	if (t < text + len && *t == '{')
		ret = parse_json_object(text, len, SIGSTORE_OCI_AUTH_MAX_CONFIG, what, &root, err);
	else
		ret = parse_yaml_object(text, len, what, &root, err);
	if (ret)
		goto out;
	if ((ret = check_fields(root, fields, what, "", err)) ||
	    (ret = get_str(root, "apiVersion", true, 128, what, "", &api, err)) ||
	    (ret = get_str(root, "kind", true, 128, what, "", &kind, err)))
		goto out;
	ret = -EPROTO;
	if (strcmp(api, SIGSTORE_OCI_AUTH_CONFIG_API)) {
		auth_err(err, "%.100s: apiVersion \"%.60s\" is not %s", what, api,
			 SIGSTORE_OCI_AUTH_CONFIG_API);
		goto out;
	}
	if (strcmp(kind, "CredentialProviderConfig")) {
		auth_err(err, "%.100s: kind \"%.60s\" is not CredentialProviderConfig", what, kind);
		goto out;
	}
	arr = json_object_get(root, "providers");
	if (!json_is_array(arr) || !json_array_size(arr) ||
	    a->n_prov + json_array_size(arr) > SIGSTORE_OCI_AUTH_MAX_PROVIDERS) {
		auth_err(err, "%.100s: providers: required, a list of 1 to %d providers", what,
			 SIGSTORE_OCI_AUTH_MAX_PROVIDERS);
		goto out;
	}
	json_array_foreach (arr, i, v) {
		if ((ret = parse_provider(a, v, i, what, &p, err)))
			goto out;
		np = realloc(a->prov, (a->n_prov + 1) * sizeof(*np));
		if (!np) {
			ret = -ENOMEM;
			goto out;
		}
		a->prov = np;
		a->prov[a->n_prov++] = p;
		memset(&p, 0, sizeof(p));
	}
	ret = 0;
out:
	provider_clear(&p);
	if (ret) {
		while (a->n_prov > first)
			provider_clear(&a->prov[--a->n_prov]);
		if (ret == -ENOMEM && !err[0])
			auth_err(err, "%.100s: out of memory", what);
	}
	json_decref(root);
	return ret;
}

/* "user:password" of an auths entry's "auth" into out; -EPROTO if it is not that. */
static int decode_auth(const char *b64, size_t len, struct sigstore_oci_cred *out)
{
	unsigned char *dec = NULL;
	size_t dec_len;
	char *colon;
	int ret = -EPROTO;

	if (sigstore_util_b64_decode(b64, len, &dec, &dec_len))
		goto out;
	colon = memchr(dec, ':', dec_len);
	if (!colon || strlen((char *)dec) != dec_len || (size_t)(colon - (char *)dec) == 0 ||
	    (size_t)(colon - (char *)dec) >= sizeof(out->username) ||
	    strlen(colon + 1) >= sizeof(out->password))
		goto out;
	memcpy(out->username, dec, (size_t)(colon - (char *)dec));
	out->username[colon - (char *)dec] = '\0';
	snprintf(out->password, sizeof(out->password), "%s", colon + 1);
	out->found = true;
	ret = 0;
out:
	if (dec)
		explicit_bzero(dec, dec_len);
	free(dec);
	return ret;
}

int sigstore_oci_auth_load_docker_config(struct sigstore_oci_auth *a, const char *text, size_t len,
					 const char *what, char err[256])
{
	json_t *root = NULL, *auths, *helpers, *store, *e;
	struct sigstore_oci_cred tmp;
	const char *k, *s;
	char ctx[160];
	int ret;

	err[0] = '\0';
	if ((ret = parse_json_object(text, len, SIGSTORE_OCI_AUTH_MAX_CONFIG, what, &root, err)))
		goto out;
	ret = -EPROTO;
	auths = json_object_get(root, "auths");
	if (auths && !json_is_object(auths)) {
		auth_err(err, "%.120s: auths is not an object", what);
		goto out;
	}
	json_object_foreach (auths, k, e) {
		const char *auth, *u, *p;

		snprintf(ctx, sizeof(ctx), "auths[%.100s]", k);
		if (!json_is_object(e)) {
			auth_err(err, "%.100s: %s is not an object", what, ctx);
			goto out;
		}
		if ((ret = get_str(e, "auth", false, 65536, what, ctx, &auth, err)) ||
		    (ret = get_str(e, "username", false, sizeof(tmp.username) - 1, what, ctx, &u,
				   err)) ||
		    (ret = get_str(e, "password", false, sizeof(tmp.password) - 1, what, ctx, &p,
				   err)))
			goto out;
		ret = -EPROTO;
		if (auth && auth[0] && decode_auth(auth, strlen(auth), &tmp)) {
			sigstore_oci_cred_clear(&tmp);
			auth_err(err, "%.100s: %s.auth is not base64 of user:password", what, ctx);
			goto out;
		}
		sigstore_oci_cred_clear(&tmp);
	}
	helpers = json_object_get(root, "credHelpers");
	if (helpers && !json_is_object(helpers)) {
		auth_err(err, "%.120s: credHelpers is not an object", what);
		goto out;
	}
	json_object_foreach (helpers, k, e) {
		snprintf(ctx, sizeof(ctx), "credHelpers[%.100s]", k);
		if (!json_is_string(e) || !name_ok(json_string_value(e), true)) {
			auth_err(err, "%.100s: %s is not a helper name", what, ctx);
			goto out;
		}
	}
	store = json_object_get(root, "credsStore");
	if (store && !json_is_null(store)) {
		s = json_is_string(store) ? json_string_value(store) : NULL;
		if (!s || (s[0] && !name_ok(s, true))) {
			auth_err(err, "%.120s: credsStore is not a helper name", what);
			goto out;
		}
	}
	json_decref(a->docker);
	free(a->docker_what);
	a->docker = root;
	root = NULL;
	if (!(a->docker_what = strdup(what))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int sigstore_oci_auth_new(const struct sigstore_oci_auth_opts *o, struct sigstore_oci_auth **out,
			  char err[256])
{
	struct sigstore_oci_auth *a;
	unsigned char *buf = NULL;
	size_t len = 0;
	int ret = -ENOMEM;

	*out = NULL;
	err[0] = '\0';
	a = calloc(1, sizeof(*a));
	if (!a)
		goto out;
	if ((o->provider_bin_dir && !(a->bin_dir = strdup(o->provider_bin_dir))) ||
	    (o->helper_dir && !(a->helper_dir = strdup(o->helper_dir))))
		goto out;
	if (o->provider_config) {
		if (!o->provider_bin_dir) {
			auth_err(err, "%.120s: needs a credential provider bin dir",
				 o->provider_config);
			ret = -EINVAL;
			goto out;
		}
		if ((ret = sigstore_util_read_file(o->provider_config, SIGSTORE_OCI_AUTH_MAX_CONFIG,
						   &buf, &len, err)) ||
		    (ret = sigstore_oci_auth_load_providers(a, (char *)buf, len, o->provider_config,
							    err)))
			goto out;
		free(buf);
		buf = NULL;
	}
	if (o->docker_config) {
		if ((ret = sigstore_util_read_file(o->docker_config, SIGSTORE_OCI_AUTH_MAX_CONFIG,
						   &buf, &len, err)))
			goto out;
		ret = sigstore_oci_auth_load_docker_config(a, (char *)buf, len, o->docker_config,
							   err);
		explicit_bzero(buf, len);
		if (ret)
			goto out;
	}
	*out = a;
	a = NULL;
	ret = 0;
out:
	free(buf);
	sigstore_oci_auth_free(a);
	return ret;
}

void sigstore_oci_auth_free(struct sigstore_oci_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_prov; i++)
		provider_clear(&a->prov[i]);
	free(a->prov);
	json_decref(a->docker);
	free(a->docker_what);
	free(a->bin_dir);
	free(a->helper_dir);
	free(a);
}

/* ---- responses ---------------------------------------------------------------------------- */

/* The kubelet's keyring key: scheme dropped, a trailing /v1/ or /v2/ and '/' dropped. */
static void normalize_key(const char *k, char *dst, size_t size)
{
	size_t n;

	if (!strncmp(k, "https://", 8))
		k += 8;
	else if (!strncmp(k, "http://", 7))
		k += 7;
	snprintf(dst, size, "%s", k);
	n = strlen(dst);
	if (n >= 4 && (!strcmp(dst + n - 4, "/v1/") || !strcmp(dst + n - 4, "/v2/")))
		dst[n -= 4] = '\0';
	while (n && dst[n - 1] == '/')
		dst[--n] = '\0';
}

int sigstore_oci_auth_parse_response(const char *text, size_t len, const char *api_version,
				     const char *image, struct sigstore_oci_cred *out,
				     char err[256])
{
	const char *what = "CredentialProviderResponse";
	char norm[SIGSTORE_OCI_AUTH_MAX_PATTERN], best[SIGSTORE_OCI_AUTH_MAX_PATTERN] = "";
	json_t *root = NULL, *auth, *e, *best_e = NULL;
	const char *api, *kind, *ckt, *dur, *k, *u, *p;
	int ret, m;

	err[0] = '\0';
	sigstore_oci_cred_clear(out);
	if ((ret = parse_json_object(text, len, SIGSTORE_OCI_AUTH_MAX_OUTPUT, what, &root, err)))
		goto out;
	/* unknown members are ignored: newer plugins may add some */
	if ((ret = get_str(root, "apiVersion", true, 128, what, "", &api, err)) ||
	    (ret = get_str(root, "kind", true, 128, what, "", &kind, err)) ||
	    (ret = get_str(root, "cacheKeyType", true, 32, what, "", &ckt, err)) ||
	    (ret = get_str(root, "cacheDuration", false, 64, what, "", &dur, err)))
		goto out;
	ret = -EPROTO;
	if (strcmp(api, api_version)) {
		auth_err(err, "%s: apiVersion \"%.60s\" is not the request's %.60s", what, api,
			 api_version);
		goto out;
	}
	if (strcmp(kind, "CredentialProviderResponse")) {
		auth_err(err, "%s: kind \"%.60s\" is not CredentialProviderResponse", what, kind);
		goto out;
	}
	if (strcmp(ckt, "Image") && strcmp(ckt, "Registry") && strcmp(ckt, "Global")) {
		auth_err(err, "%s: cacheKeyType \"%.30s\" is not Image, Registry or Global", what,
			 ckt);
		goto out;
	}
	if (dur && !duration_ok(dur)) {
		auth_err(err, "%s: cacheDuration \"%.30s\" is not a duration", what, dur);
		goto out;
	}
	auth = json_object_get(root, "auth");
	if (auth && !json_is_null(auth) &&
	    (!json_is_object(auth) || json_object_size(auth) > SIGSTORE_OCI_AUTH_MAX_AUTH_KEYS)) {
		auth_err(err, "%s: auth is not an object of at most %d entries", what,
			 SIGSTORE_OCI_AUTH_MAX_AUTH_KEYS);
		goto out;
	}
	json_object_foreach (auth, k, e) {
		char ctx[80];

		snprintf(ctx, sizeof(ctx), "auth[%.60s]", k);
		if (!json_is_object(e)) {
			auth_err(err, "%s: %s is not an object", what, ctx);
			goto out;
		}
		if ((ret = get_str(e, "username", false, sizeof(out->username) - 1, what, ctx, &u,
				   err)) ||
		    (ret = get_str(e, "password", false, sizeof(out->password) - 1, what, ctx, &p,
				   err)))
			goto out;
		ret = -EPROTO;
		normalize_key(k, norm, sizeof(norm));
		m = sigstore_oci_auth_match_image(norm, image);
		if (m < 0) {
			auth_err(err, "%s: auth key \"%.80s\" is not an image pattern", what, k);
			goto out;
		}
		if (m && (!best_e || strcmp(norm, best) > 0)) {
			best_e = e;
			memcpy(best, norm, sizeof(best));
		}
	}
	if (best_e) {
		get_str(best_e, "username", false, sizeof(out->username) - 1, what, "", &u, err);
		get_str(best_e, "password", false, sizeof(out->password) - 1, what, "", &p, err);
		snprintf(out->username, sizeof(out->username), "%s", u ? u : "");
		snprintf(out->password, sizeof(out->password), "%s", p ? p : "");
		out->found = out->username[0] || out->password[0];
	}
	ret = 0;
out:
	json_decref(root);
	if (ret)
		sigstore_oci_cred_clear(out);
	return ret;
}

int sigstore_oci_auth_parse_helper_output(const char *text, size_t len,
					  struct sigstore_oci_cred *out, char err[256])
{
	const char *what = "credential helper output";
	json_t *root = NULL;
	const char *u, *s, *url;
	int ret;

	err[0] = '\0';
	sigstore_oci_cred_clear(out);
	if ((ret = parse_json_object(text, len, SIGSTORE_OCI_AUTH_MAX_OUTPUT, what, &root, err)) ||
	    (ret = get_str(root, "ServerURL", false, 1024, what, "", &url, err)) ||
	    (ret = get_str(root, "Username", true, sizeof(out->username) - 1, what, "", &u, err)) ||
	    (ret = get_str(root, "Secret", true, sizeof(out->password) - 1, what, "", &s, err)))
		goto out;
	if (!s[0]) {
		auth_err(err, "%s: Secret is empty", what);
		ret = -EPROTO;
		goto out;
	}
	/*
	 * Username "<token>" marks an identity token (an OAuth2 refresh token to exchange at the
	 * token endpoint). That exchange is out of scope: the Secret is sent as a password
	 * anyway, which registries that accept refresh tokens as passwords (e.g. ACR) honour.
	 */
	snprintf(out->username, sizeof(out->username), "%s", u);
	snprintf(out->password, sizeof(out->password), "%s", s);
	out->found = true;
out:
	json_decref(root);
	if (ret)
		sigstore_oci_cred_clear(out);
	return ret;
}

/* ---- running plugins and helpers ---------------------------------------------------------- */

struct run {
	char *out; /* stdout, NUL-terminated */
	size_t out_len;
	char errtxt[AUTH_MAX_STDERR]; /* the start of stderr */
	size_t err_len;
	int status; /* wait status */
};

static void run_clear(struct run *r)
{
	if (r->out) {
		explicit_bzero(r->out, r->out_len);
		free(r->out);
	}
	memset(r, 0, sizeof(*r));
}

/* Printable first line of s (at most 120 bytes) into dst. */
static void excerpt(const char *s, size_t n, char *dst, size_t size)
{
	size_t j = 0;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	for (size_t i = 0; i < n && j + 1 < size && j < 120 && s[i] != '\n'; i++)
		dst[j++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	dst[j] = '\0';
}

static void kill_child(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(-*pid, SIGKILL); /* its process group: a shell's children too */
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = -1;
}

/* Reads what fd has now; -E2BIG past max. *eof on end of file. */
static int drain(int fd, char **buf, size_t *len, size_t max, bool keep_all, bool *eof)
{
	char tmp[65536];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));

		if (n == 0) {
			*eof = true;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (keep_all) {
			char *nb;

			if (*len + (size_t)n > max)
				return -E2BIG;
			nb = realloc(*buf, *len + (size_t)n + 1);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			memcpy(*buf + *len, tmp, (size_t)n);
			*len += (size_t)n;
			(*buf)[*len] = '\0';
		} else if (*len + 1 < max) {
			size_t k = (size_t)n < max - 1 - *len ? (size_t)n : max - 1 - *len;

			memcpy(*buf + *len, tmp, k);
			*len += k;
			(*buf)[*len] = '\0';
		}
		explicit_bzero(tmp, (size_t)n);
	}
}

/*
 * Runs path with argv/envp, input on stdin, until the absolute monotonic time until (the
 * overall deadline_ms, when set, is at or after it or equal). 0 once it exited (r->status);
 * -EACCES (could not run, timed out, too much output: err says which), -ETIMEDOUT (past
 * deadline_ms), -ECANCELED, -ENOMEM.
 */
static int run_child(const char *what, const char *path, char *const argv[], char *const envp[],
		     const char *input, size_t in_len, uint64_t until, uint64_t deadline_ms,
		     long timeout_ms, const atomic_bool *cancel, struct run *r, char err[256])
{
	int sv[2] = {-1, -1}, op[2] = {-1, -1}, ep[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	bool fa_ok = false, at_ok = false, in_done = in_len == 0, out_eof = false, err_eof = false;
	char *errbuf = r->errtxt;
	size_t in_off = 0;
	sigset_t none, dfl;
	pid_t pid = -1;
	int ret, rc;

	memset(r, 0, sizeof(*r));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || pipe2(op, O_CLOEXEC) ||
	    pipe2(ep, O_CLOEXEC)) {
		ret = -errno;
		auth_err(err, "%s: %s", what, strerror(errno));
		goto out;
	}
	ret = -ENOMEM;
	if (posix_spawn_file_actions_init(&fa))
		goto out;
	fa_ok = true;
	if (posix_spawnattr_init(&at))
		goto out;
	at_ok = true;
	sigemptyset(&none);
	sigemptyset(&dfl);
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaddset(&dfl, s);
	if (posix_spawn_file_actions_adddup2(&fa, sv[1], 0) ||
	    posix_spawn_file_actions_adddup2(&fa, op[1], 1) ||
	    posix_spawn_file_actions_adddup2(&fa, ep[1], 2) ||
	    posix_spawn_file_actions_addclosefrom_np(&fa, 3) ||
	    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF) ||
	    posix_spawnattr_setpgroup(&at, 0) || posix_spawnattr_setsigmask(&at, &none) ||
	    posix_spawnattr_setsigdefault(&at, &dfl))
		goto out;
	rc = posix_spawn(&pid, path, &fa, &at, argv, envp);
	if (rc) {
		pid = -1;
		auth_err(err, "%s: cannot run %.100s: %s", what, path, strerror(rc));
		ret = -EACCES;
		goto out;
	}
	close(sv[1]);
	close(op[1]);
	close(ep[1]);
	sv[1] = op[1] = ep[1] = -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(op[0], F_SETFL, O_NONBLOCK);
	fcntl(ep[0], F_SETFL, O_NONBLOCK);
	if (in_done)
		shutdown(sv[0], SHUT_WR);
	for (;;) {
		struct pollfd pf[3];
		int n = 0, in_i = -1, out_i = -1, err_i = -1, status;
		uint64_t now = now_ms(), wait;

		if (cancel && atomic_load(cancel)) {
			auth_err(err, "%s: cancelled", what);
			ret = -ECANCELED;
			goto out;
		}
		if (now >= until) {
			if (deadline_ms && now >= deadline_ms) {
				auth_err(err, "%s: deadline reached", what);
				ret = -ETIMEDOUT;
			} else {
				auth_err(err, "%s: timed out after %ld ms", what, timeout_ms);
				ret = -EACCES;
			}
			goto out;
		}
		wait = until - now;
		if (cancel && wait > AUTH_POLL_SLICE_MS)
			wait = AUTH_POLL_SLICE_MS;
		if (out_eof && err_eof) {
			rc = waitpid(pid, &status, WNOHANG);
			if (rc == pid) {
				r->status = status;
				pid = -1;
				break;
			}
			if (rc < 0 && errno != EINTR) {
				ret = -errno;
				auth_err(err, "%s: waitpid: %s", what, strerror(errno));
				goto out;
			}
			poll(NULL, 0, wait < 10 ? (int)wait : 10);
			continue;
		}
		if (!in_done) {
			in_i = n;
			pf[n++] = (struct pollfd){.fd = sv[0], .events = POLLOUT};
		}
		if (!out_eof) {
			out_i = n;
			pf[n++] = (struct pollfd){.fd = op[0], .events = POLLIN};
		}
		if (!err_eof) {
			err_i = n;
			pf[n++] = (struct pollfd){.fd = ep[0], .events = POLLIN};
		}
		rc = poll(pf, (nfds_t)n, (int)wait);
		if (rc < 0 && errno != EINTR) {
			ret = -errno;
			auth_err(err, "%s: poll: %s", what, strerror(errno));
			goto out;
		}
		if (rc <= 0)
			continue;
		if (in_i >= 0 && pf[in_i].revents) {
			ssize_t w = send(sv[0], input + in_off, in_len - in_off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0)
				in_off += (size_t)w;
			/* a child that does not read its input is not an error by itself */
			if (in_off == in_len || (w < 0 && errno != EAGAIN && errno != EINTR)) {
				in_done = true;
				shutdown(sv[0], SHUT_WR);
			}
		}
		if (out_i >= 0 && pf[out_i].revents) {
			ret = drain(op[0], &r->out, &r->out_len, SIGSTORE_OCI_AUTH_MAX_OUTPUT, true,
				    &out_eof);
			if (ret == -E2BIG) {
				auth_err(err, "%s: printed more than %u bytes", what,
					 SIGSTORE_OCI_AUTH_MAX_OUTPUT);
				ret = -EACCES;
			}
			if (ret)
				goto out;
		}
		if (err_i >= 0 && pf[err_i].revents &&
		    (ret = drain(ep[0], &errbuf, &r->err_len, sizeof(r->errtxt), false, &err_eof)))
			goto out;
	}
	if (!r->out && !(r->out = strdup(""))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = 0;
out:
	kill_child(&pid);
	if (ret == -ENOMEM && !err[0])
		auth_err(err, "%s: out of memory", what);
	if (ret)
		run_clear(r);
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (op[i] >= 0)
			close(op[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	return ret;
}

/* "exit status N" / "killed by signal N" and the child's message into err after prefix. */
static void exit_error(const char *what, const struct run *r, char err[256])
{
	char msg[128];

	excerpt(r->err_len ? r->errtxt : (r->out ? r->out : ""),
		r->err_len ? r->err_len : r->out_len, msg, sizeof(msg));
	if (WIFEXITED(r->status))
		auth_err(err, "%s: exit status %d%s%s", what, WEXITSTATUS(r->status),
			 msg[0] ? ": " : "", msg);
	else
		auth_err(err, "%s: killed by signal %d", what,
			 WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0);
}

static bool run_ok(const struct run *r)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static int run_provider(const struct provider *p, const char *image, uint64_t until,
			uint64_t deadline_ms, long timeout_ms, const atomic_bool *cancel,
			struct sigstore_oci_cred *out, char err[256])
{
	char what[320], perr[256];
	struct run r = {0};
	char *req = NULL;
	json_t *j;
	int ret;

	snprintf(what, sizeof(what), "credential provider %.60s", p->name);
	j = json_pack("{s:s, s:s, s:s}", "apiVersion", p->api_version, "kind",
		      "CredentialProviderRequest", "image", image);
	req = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!req) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = run_child(what, p->path, p->argv, p->envp, req, strlen(req), until, deadline_ms,
			     timeout_ms, cancel, &r, err)))
		goto out;
	ret = -EACCES;
	if (!run_ok(&r)) {
		exit_error(what, &r, err);
		goto out;
	}
	if (sigstore_oci_auth_parse_response(r.out, r.out_len, p->api_version, image, out, perr)) {
		auth_err(err, "%s: %s", what, perr);
		goto out;
	}
	snprintf(out->source, sizeof(out->source), "credential provider %.60s", p->name);
	ret = 0;
out:
	run_clear(&r);
	free(req);
	return ret;
}

/* The absolute path of docker-credential-<name>: helper_dir first, then $PATH. */
static int find_helper(const struct sigstore_oci_auth *a, const char *name, char *path, size_t size)
{
	const char *env = getenv("PATH"), *p;

	if (a->helper_dir &&
	    snprintf(path, size, "%s/docker-credential-%s", a->helper_dir, name) < (int)size &&
	    executable_file(path))
		return 0;
	for (p = env ? env : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t l = strcspn(p, ":");

		/* relative $PATH entries would depend on the daemon's working directory */
		if (l && p[0] == '/' &&
		    snprintf(path, size, "%.*s/docker-credential-%s", (int)l, p, name) <
			    (int)size &&
		    executable_file(path))
			return 0;
		p += l;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}

static int run_helper(const struct sigstore_oci_auth *a, const char *helper, const char *server,
		      uint64_t until, uint64_t deadline_ms, long timeout_ms,
		      const atomic_bool *cancel, struct sigstore_oci_cred *out, char err[256])
{
	char path[AUTH_MAX_PATH], what[320], perr[256];
	char *argv[3] = {path, "get", NULL};
	struct run r = {0};
	int ret = -EACCES;

	snprintf(what, sizeof(what), "%.120s: docker-credential-%.60s get", a->docker_what, helper);
	if (find_helper(a, helper, path, sizeof(path))) {
		auth_err(err, "%.120s: docker-credential-%.60s not found in %.40s%s$PATH",
			 a->docker_what, helper, a->helper_dir ? a->helper_dir : "",
			 a->helper_dir ? " or " : "");
		goto out;
	}
	/* as the docker CLI does, helpers see the daemon's environment (cloud SDK settings) */
	if ((ret = run_child(what, path, argv, environ, server, strlen(server), until, deadline_ms,
			     timeout_ms, cancel, &r, err)))
		goto out;
	ret = -EACCES;
	if (!run_ok(&r)) {
		/* the helpers' protocol for "nothing stored for this server" */
		if (strstr(r.out, "credentials not found")) {
			ret = 0;
			goto out;
		}
		exit_error(what, &r, err);
		goto out;
	}
	if (sigstore_oci_auth_parse_helper_output(r.out, r.out_len, out, perr)) {
		auth_err(err, "%.160s: %s", what, perr);
		goto out;
	}
	snprintf(out->source, sizeof(out->source), "docker-credential-%.60s", helper);
	ret = 0;
out:
	run_clear(&r);
	return ret;
}

static int docker_lookup(const struct sigstore_oci_auth *a, const char *registry, uint64_t until,
			 uint64_t deadline_ms, long timeout_ms, const atomic_bool *cancel,
			 struct sigstore_oci_cred *out, char err[256])
{
	bool hub = !strcmp(registry, "docker.io");
	const char *server = hub ? AUTH_DOCKER_HUB : registry;
	char keys[5][300];
	json_t *helpers, *auths, *store, *e;
	size_t nk = 0;

	snprintf(keys[nk++], sizeof(keys[0]), "%s", registry);
	snprintf(keys[nk++], sizeof(keys[0]), "https://%s", registry);
	if (hub) {
		snprintf(keys[nk++], sizeof(keys[0]), "%s", AUTH_DOCKER_HUB);
		snprintf(keys[nk++], sizeof(keys[0]), "index.docker.io");
		snprintf(keys[nk++], sizeof(keys[0]), "https://index.docker.io");
	}
	helpers = json_object_get(a->docker, "credHelpers");
	for (size_t i = 0; i < nk; i++) {
		e = json_object_get(helpers, keys[i]);
		if (json_is_string(e))
			return run_helper(a, json_string_value(e), server, until, deadline_ms,
					  timeout_ms, cancel, out, err);
	}
	auths = json_object_get(a->docker, "auths");
	for (size_t i = 0; i < nk; i++) {
		json_t *v, *u, *p;

		e = json_object_get(auths, keys[i]);
		if (!json_is_object(e))
			continue;
		v = json_object_get(e, "auth");
		u = json_object_get(e, "username");
		p = json_object_get(e, "password");
		if (json_is_string(v) && json_string_length(v)) {
			/* checked when the file was loaded */
			if (decode_auth(json_string_value(v), json_string_length(v), out))
				continue;
		} else if (json_is_string(u) && json_is_string(p)) {
			snprintf(out->username, sizeof(out->username), "%s", json_string_value(u));
			snprintf(out->password, sizeof(out->password), "%s", json_string_value(p));
			out->found = true;
		} else {
			continue;
		}
		snprintf(out->source, sizeof(out->source), "%.120s auths[%.30s]", a->docker_what,
			 keys[i]);
		return 0;
	}
	store = json_object_get(a->docker, "credsStore");
	if (json_is_string(store) && json_string_length(store))
		return run_helper(a, json_string_value(store), server, until, deadline_ms,
				  timeout_ms, cancel, out, err);
	return 0;
}

int sigstore_oci_auth_lookup(const struct sigstore_oci_auth *a, const char *registry,
			     const char *repo, long timeout_ms, uint64_t deadline_ms,
			     const atomic_bool *cancel, struct sigstore_oci_cred *out,
			     char err[256])
{
	char image[SIGSTORE_OCI_AUTH_MAX_PATTERN];
	uint64_t now = now_ms(), until;
	int ret = 0;

	err[0] = '\0';
	sigstore_oci_cred_clear(out);
	if (timeout_ms <= 0)
		timeout_ms = SIGSTORE_OCI_AUTH_DEFAULT_TIMEOUT_MS;
	until = now + (uint64_t)timeout_ms;
	if (deadline_ms && deadline_ms < until)
		until = deadline_ms;
	if (cancel && atomic_load(cancel)) {
		auth_err(err, "credentials for %.100s: cancelled", registry);
		return -ECANCELED;
	}
	if (deadline_ms && now >= deadline_ms) {
		auth_err(err, "credentials for %.100s: deadline reached", registry);
		return -ETIMEDOUT;
	}
	if (!a)
		return 0;
	/* the image as the kubelet names it to plugins: registry/repository, no tag */
	if (snprintf(image, sizeof(image), "%s/%s", registry, repo) >= (int)sizeof(image)) {
		auth_err(err, "credentials for %.100s: image name too long", registry);
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < a->n_prov && !out->found; i++) {
		const struct provider *p = &a->prov[i];
		bool hit = false;

		for (size_t j = 0; j < p->n_match && !hit; j++)
			hit = sigstore_oci_auth_match_image(p->match[j], image) == 1;
		if (hit && (ret = run_provider(p, image, until, deadline_ms, timeout_ms, cancel,
					       out, err)))
			goto out;
	}
	if (!out->found && a->docker)
		ret = docker_lookup(a, registry, until, deadline_ms, timeout_ms, cancel, out, err);
out:
	if (ret)
		sigstore_oci_cred_clear(out);
	return ret;
}
