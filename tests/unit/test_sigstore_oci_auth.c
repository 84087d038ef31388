/*
 * test_sigstore_oci_auth.c - sigstore/oci_auth.h: the kubelet's matchImages rule (table),
 * CredentialProviderConfig parsing in YAML and JSON (good, bad, unknown fields), responses and
 * helper output (tables), docker config.json checks, and real exec of plugins and
 * docker-credential-* helpers: shell scripts written into a temporary directory (success,
 * bad JSON, non-zero exit, timeout, deadline, cancel, oversized output, precedence).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sigstore/oci_auth.h"

#define API "credentialprovider.kubelet.k8s.io/v1"
#define REG "127.0.0.1:5000"

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct env {
	char dir[64];  /* temp root */
	char bin[128]; /* plugins */
	char hlp[128]; /* docker-credential-* */
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void script(const char *dir, const char *name, const char *body)
{
	char path[256], text[8192];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(text, sizeof(text), "#!/bin/sh\n%s\n", body);
	write_file(path, text, 0755);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/test_oci_auth_XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->bin, sizeof(e->bin), "%s/bin", e->dir);
	snprintf(e->hlp, sizeof(e->hlp), "%s/helpers", e->dir);
	if (mkdir(e->bin, 0755) || mkdir(e->hlp, 0755))
		return -1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		return -1;
	free(e);
	return 0;
}

/* An auth object with the bin/helper dirs of e and the given provider config / docker config
 * texts (NULL: none). */
static struct sigstore_oci_auth *make_auth(const struct env *e, const char *providers,
					   const char *docker, char err[256])
{
	struct sigstore_oci_auth_opts o = {.provider_bin_dir = e->bin, .helper_dir = e->hlp};
	struct sigstore_oci_auth *a = NULL;

	assert_int_equal(sigstore_oci_auth_new(&o, &a, err), 0);
	if (providers && sigstore_oci_auth_load_providers(a, providers, strlen(providers),
							  "providers.yaml", err)) {
		sigstore_oci_auth_free(a);
		return NULL;
	}
	if (docker &&
	    sigstore_oci_auth_load_docker_config(a, docker, strlen(docker), "config.json", err)) {
		sigstore_oci_auth_free(a);
		return NULL;
	}
	return a;
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A provider config with one plugin `name` matching `match` (a YAML flow list body). */
static const char *one_provider(const char *name, const char *match)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "apiVersion: kubelet.config.k8s.io/v1\n"
		 "kind: CredentialProviderConfig\n"
		 "providers:\n"
		 "  - name: %s\n"
		 "    matchImages: [%s]\n"
		 "    defaultCacheDuration: 10m\n"
		 "    apiVersion: " API "\n",
		 name, match);
	return buf;
}

#define RESP(auth)                                                             \
	"{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\"," \
	"\"cacheKeyType\":\"Registry\",\"cacheDuration\":\"6h0m0s\",\"auth\":{" auth "}}"
#define UP(u, p) "{\"username\":\"" u "\",\"password\":\"" p "\"}"

/* ---- matchImages -------------------------------------------------------------------------- */

static const struct {
	const char *pattern, *image;
	int want;
} match_rows[] = {
	{"registry.io", "registry.io/a/b", 1},
	{"registry.io", "registry.io", 1},
	{"*.example.com", "a.example.com/x", 1},
	{"*.example.com", "a.b.example.com/x", 0},
	{"*.example.com", "example.com/x", 0},
	{"example.*", "example.com/x", 1},
	{"app*.k8s.io", "app1.k8s.io/x", 1},
	{"app*.k8s.io", "api.k8s.io/x", 0},
	{"*.*.registry.io", "a.b.registry.io/x", 1},
	{"*.*.registry.io", "a.registry.io/x", 0},
	{"*", "localhost/x", 1},
	{"*", "a.b/x", 0},
	{"*.io", "k8s.gcr.io/x", 0},
	{"registry.io:8080/path", "registry.io:8080/path/img", 1},
	{"registry.io:8080/path", "registry.io/path/img", 0},
	{"registry.io:8080", "registry.io:8081/a", 0},
	{"registry.io", "registry.io:5000/a", 0}, /* no port in the pattern: none in the image */
	{"registry.io/path", "registry.io/other/img", 0},
	{"registry.io/path", "registry.io/path", 1},
	{"registry.io/pa", "registry.io/path/x", 1}, /* a string prefix, as the kubelet does */
	{"*.registry.io/team", "eu.registry.io/team/app", 1},
	{"*.registry.io/team", "eu.registry.io/other/app", 0},
	{"127.0.0.1:5000", "127.0.0.1:5000/a", 1},
	{"127.0.0.*:5000", "127.0.0.1:5000/a", 1},
	{"[::1]:5000", "[::1]:5000/a", 1},
	{"[::1]", "[::1]:5000/a", 0},
	{"REGISTRY.io", "registry.io/a", 0}, /* case-sensitive, as the kubelet */
	{"registry.io", "", 0},
	/* bad patterns */
	{"", "registry.io/a", -EINVAL},
	{"/path", "registry.io/path", -EINVAL},
	{"reg?stry.io", "registry.io/a", -EINVAL},
	{"reg[i]stry.io", "registry.io/a", -EINVAL},
	{"registry.io/pa*", "registry.io/path", -EINVAL},
	{"registry.io:*", "registry.io:1/a", -EINVAL},
	{"registry.io:", "registry.io/a", -EINVAL},
	{"registry.io:80a", "registry.io/a", -EINVAL},
	{"a:b:c", "a/b", -EINVAL},
	{"[abc", "a/b", -EINVAL},
	{"a b.io", "a/b", -EINVAL},
	{"reg\\istry.io", "a/b", -EINVAL},
	{"https://registry.io", "registry.io/a", -EINVAL},
};

static void test_match_image(void **state)
{
	for (size_t i = 0; i < sizeof(match_rows) / sizeof(match_rows[0]); i++) {
		int got = sigstore_oci_auth_match_image(match_rows[i].pattern, match_rows[i].image);

		if (got != match_rows[i].want)
			fail_msg("pattern \"%s\" image \"%s\": got %d, want %d",
				 match_rows[i].pattern, match_rows[i].image, got,
				 match_rows[i].want);
	}
}

/* ---- CredentialProviderConfig ------------------------------------------------------------- */

#define HEAD "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n"
#define PROV(extra)                                                                          \
	HEAD "providers:\n- name: plug\n  matchImages: [\"*.example.com\", \"" REG "/x\"]\n" \
	     "  defaultCacheDuration: 1h30m\n  apiVersion: " API "\n" extra
#define JHEAD "{\"apiVersion\":\"kubelet.config.k8s.io/v1\",\"kind\":\"CredentialProviderConfig\","
#define JPROV(extra)                                                            \
	JHEAD "\"providers\":[{\"name\":\"plug\",\"matchImages\":[\"gcr.io\"]," \
	      "\"defaultCacheDuration\":\"0s\",\"apiVersion\":\"" API "\"" extra "}]}"

static const struct {
	const char *name, *text;
	int ret;
	const char *msg; /* expected in err */
} cfg_rows[] = {
	{"yaml", PROV(""), 0, NULL},
	{"yaml args env",
	 PROV("  args: [get-credentials, --v=2]\n  env:\n  - {name: A, value: b}\n"
	      "  - name: PATH\n    value: /opt/bin\n"),
	 0, NULL},
	{"yaml null args", PROV("  args:\n  env: ~\n"), 0, NULL},
	{"json", JPROV(""), 0, NULL},
	{"json args env", JPROV(",\"args\":[\"a\"],\"env\":[{\"name\":\"X\",\"value\":\"\"}]"), 0,
	 NULL},
	{"two providers",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n- {name: plug2, matchImages: [b.io], defaultCacheDuration: "
	      "\"5m\", apiVersion: " API "}\n",
	 0, NULL},
	{"unknown top field", HEAD "providers: []\nextra: 1\n", -EPROTO, "unknown field \"extra\""},
	{"unknown provider field", PROV("  tokenAttributes: {}\n"), -EPROTO,
	 "providers[0]: unknown field \"tokenAttributes\""},
	{"json unknown field", JPROV(",\"cache\":true"), -EPROTO, "unknown field \"cache\""},
	{"unknown env field", PROV("  env: [{name: a, value: b, secret: c}]\n"), -EPROTO,
	 "providers[0].env[0]: unknown field \"secret\""},
	{"env without value", PROV("  env: [{name: a}]\n"), -EPROTO, "env[0].value is required"},
	{"env name with =", PROV("  env: [{name: a=b, value: c}]\n"), -EPROTO, "'='"},
	{"args not list", PROV("  args: get\n"), -EPROTO, "args: not a list"},
	{"args nested", PROV("  args: [[a]]\n"), -EPROTO, "args[0]"},
	{"wrong apiVersion",
	 "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: "
	 "CredentialProviderConfig\nproviders: []\n",
	 -EPROTO, "apiVersion \"kubelet.config.k8s.io/v1beta1\" is not"},
	{"wrong kind", "apiVersion: kubelet.config.k8s.io/v1\nkind: Config\nproviders: []\n",
	 -EPROTO, "kind \"Config\""},
	{"no providers", HEAD, -EPROTO, "providers: required"},
	{"empty providers", HEAD "providers: []\n", -EPROTO, "providers: required"},
	{"provider apiVersion",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: credentialprovider.kubelet.k8s.io/v1alpha1}\n",
	 -EPROTO, "providers[0].apiVersion"},
	{"no cache duration",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], apiVersion: " API "}\n", -EPROTO,
	 "providers[0].defaultCacheDuration is required"},
	{"bad duration",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], defaultCacheDuration: 5x, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "is not a duration"},
	{"negative duration",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], defaultCacheDuration: -1s, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "is not a duration"},
	{"json duration number",
	 JHEAD "\"providers\":[{\"name\":\"plug\",\"matchImages\":[\"gcr.io\"],"
	       "\"defaultCacheDuration\":0,\"apiVersion\":\"" API "\"}]}",
	 -EPROTO, "defaultCacheDuration is not a string"},
	{"no matchImages",
	 HEAD "providers:\n- {name: plug, defaultCacheDuration: 0s, apiVersion: " API "}\n",
	 -EPROTO, "matchImages: required"},
	{"empty matchImages",
	 HEAD "providers:\n- {name: plug, matchImages: [], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "matchImages: required"},
	{"bad pattern",
	 HEAD "providers:\n- {name: plug, matchImages: [\"a.io/*\"], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "matchImages[0]: not an image pattern"},
	{"name with slash",
	 HEAD "providers:\n- {name: ../plug, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "not a plain file name"},
	{"name dotdot",
	 HEAD "providers:\n- {name: .., matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -EPROTO, "not a plain file name"},
	{"missing plugin",
	 HEAD "providers:\n- {name: nothere, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -ENOENT, "nothere is not an executable file"},
	{"not executable",
	 HEAD "providers:\n- {name: noexec, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n",
	 -ENOENT, "noexec is not an executable file"},
	{"duplicate provider",
	 HEAD "providers:\n- {name: plug, matchImages: [a.io], defaultCacheDuration: 0s, "
	      "apiVersion: " API "}\n- {name: plug, matchImages: [b.io], defaultCacheDuration: "
	      "0s, apiVersion: " API "}\n",
	 -EPROTO, "duplicate provider"},
	{"yaml alias", PROV("  args: &a [x]\n  env: *a\n"), -EPROTO, "aliases"},
	{"yaml duplicate key", PROV("  args: [a]\n  args: [b]\n"), -EPROTO, "duplicate key args"},
	{"json duplicate key", JPROV(",\"args\":[],\"args\":[]"), -EPROTO, "invalid JSON"},
	{"two documents", PROV("---\n" HEAD), -EPROTO, "more than one YAML document"},
	{"not a mapping", "- a\n- b\n", -EPROTO, "not a mapping"},
	{"empty", "", -EPROTO, "empty document"},
	{"bad yaml", HEAD "providers: [\n", -EPROTO, "invalid YAML"},
	{"json not object", "{\"a\":[}", -EPROTO, "invalid JSON"},
	{"name not string", HEAD "providers:\n- {name: [x]}\n", -EPROTO, "providers[0].name"},
};

static void test_provider_config(void **state)
{
	struct env *e = *state;
	char path[256];

	script(e->bin, "plug", "exit 0");
	script(e->bin, "plug2", "exit 0");
	snprintf(path, sizeof(path), "%s/noexec", e->bin);
	write_file(path, "#!/bin/sh\n", 0644);
	for (size_t i = 0; i < sizeof(cfg_rows) / sizeof(cfg_rows[0]); i++) {
		struct sigstore_oci_auth_opts o = {.provider_bin_dir = e->bin};
		struct sigstore_oci_auth *a = NULL;
		char err[256] = "";
		int ret;

		assert_int_equal(sigstore_oci_auth_new(&o, &a, err), 0);
		ret = sigstore_oci_auth_load_providers(
			a, cfg_rows[i].text, strlen(cfg_rows[i].text), "/etc/kp.yaml", err);
		if (ret != cfg_rows[i].ret)
			fail_msg("%s: got %d (%s), want %d", cfg_rows[i].name, ret, err,
				 cfg_rows[i].ret);
		if (ret && (!strstr(err, "/etc/kp.yaml") || !strstr(err, cfg_rows[i].msg)))
			fail_msg("%s: err \"%s\" lacks the file or \"%s\"", cfg_rows[i].name, err,
				 cfg_rows[i].msg);
		sigstore_oci_auth_free(a);
	}
}

static void test_new_from_files(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth_opts o = {0};
	struct sigstore_oci_auth *a = NULL;
	char cfg[256], err[256];

	script(e->bin, "plug", "exit 0");
	snprintf(cfg, sizeof(cfg), "%s/kp.json", e->dir);
	write_file(cfg, JPROV(""), 0644);
	o.provider_config = cfg;
	/* a config without a bin dir is a configuration error */
	assert_int_equal(sigstore_oci_auth_new(&o, &a, err), -EINVAL);
	assert_null(a);
	assert_non_null(strstr(err, "bin dir"));
	o.provider_bin_dir = e->bin;
	assert_int_equal(sigstore_oci_auth_new(&o, &a, err), 0);
	sigstore_oci_auth_free(a);
	o.provider_config = "/nonexistent/kp.yaml";
	assert_true(sigstore_oci_auth_new(&o, &a, err) < 0);
	assert_non_null(strstr(err, "/nonexistent/kp.yaml"));
	o.provider_config = NULL;
	o.docker_config = "/nonexistent/config.json";
	assert_true(sigstore_oci_auth_new(&o, &a, err) < 0);
	assert_null(a);
}

/* ---- docker config.json ------------------------------------------------------------------- */

static const struct {
	const char *name, *json;
	int ret;
	const char *msg;
} docker_rows[] = {
	{"empty", "{}", 0, NULL},
	{"auths", "{\"auths\":{\"r.io\":{\"auth\":\"dTpw\"},\"s.io\":{},\"t.io\":{\"auth\":\"\"}}}",
	 0, NULL},
	{"helpers", "{\"credHelpers\":{\"r.io\":\"ecr-login\"},\"credsStore\":\"pass\"}", 0, NULL},
	{"empty store", "{\"credsStore\":\"\",\"psFormat\":\"x\"}", 0, NULL},
	{"auths not object", "{\"auths\":[]}", -EPROTO, "auths is not an object"},
	{"entry not object", "{\"auths\":{\"r.io\":\"x\"}}", -EPROTO, "auths[r.io] is not"},
	{"auth not base64", "{\"auths\":{\"r.io\":{\"auth\":\"!!\"}}}", -EPROTO,
	 "auths[r.io].auth is not base64"},
	{"auth without colon", "{\"auths\":{\"r.io\":{\"auth\":\"dXNlcg==\"}}}", -EPROTO,
	 "auths[r.io].auth is not base64"},
	{"auth number", "{\"auths\":{\"r.io\":{\"auth\":1}}}", -EPROTO, "auths[r.io].auth"},
	{"helper path", "{\"credHelpers\":{\"r.io\":\"../x\"}}", -EPROTO,
	 "credHelpers[r.io] is not a helper name"},
	{"helper not string", "{\"credHelpers\":{\"r.io\":true}}", -EPROTO, "credHelpers[r.io]"},
	{"store path", "{\"credsStore\":\"a/b\"}", -EPROTO, "credsStore is not a helper name"},
	{"not json", "{\"auths\":", -EPROTO, "invalid JSON"},
	{"array", "[]", -EPROTO, "not a JSON object"},
};

static void test_docker_config(void **state)
{
	for (size_t i = 0; i < sizeof(docker_rows) / sizeof(docker_rows[0]); i++) {
		struct sigstore_oci_auth_opts o = {0};
		struct sigstore_oci_auth *a = NULL;
		char err[256] = "";
		int ret;

		assert_int_equal(sigstore_oci_auth_new(&o, &a, err), 0);
		ret = sigstore_oci_auth_load_docker_config(a, docker_rows[i].json,
							   strlen(docker_rows[i].json),
							   "/root/.docker/config.json", err);
		if (ret != docker_rows[i].ret)
			fail_msg("%s: got %d (%s)", docker_rows[i].name, ret, err);
		if (ret &&
		    (!strstr(err, "/root/.docker/config.json") || !strstr(err, docker_rows[i].msg)))
			fail_msg("%s: err \"%s\" lacks \"%s\"", docker_rows[i].name, err,
				 docker_rows[i].msg);
		sigstore_oci_auth_free(a);
	}
}

/* ---- responses and helper output ---------------------------------------------------------- */

static const struct {
	const char *name, *json, *image;
	int ret;
	bool found;
	const char *user;
} resp_rows[] = {
	{"exact registry", RESP("\"" REG "\":" UP("u1", "p1")), REG "/a/b", 0, true, "u1"},
	{"no key matches", RESP("\"other.io\":" UP("u1", "p1")), REG "/a/b", 0, false, NULL},
	{"no auth",
	 "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\","
	 "\"cacheKeyType\":\"Image\"}",
	 REG "/a/b", 0, false, NULL},
	{"path beats host", RESP("\"" REG "\":" UP("host", "p") ",\"" REG "/a\":" UP("path", "p")),
	 REG "/a/b", 0, true, "path"},
	{"literal beats glob",
	 RESP("\"*.example.com\":" UP("glob", "p") ",\"eu.example.com\":" UP("lit", "p")),
	 "eu.example.com/x", 0, true, "lit"},
	{"glob one label only", RESP("\"*.example.com\":" UP("glob", "p")), "a.eu.example.com/x", 0,
	 false, NULL},
	{"scheme and /v2/ dropped", RESP("\"https://" REG "/v2/\":" UP("v2", "p")), REG "/a/b", 0,
	 true, "v2"},
	{"other path", RESP("\"" REG "/c\":" UP("u", "p")), REG "/a/b", 0, false, NULL},
	{"empty credentials", RESP("\"" REG "\":" UP("", "")), REG "/a/b", 0, false, NULL},
	{"wrong apiVersion",
	 "{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\",\"kind\":"
	 "\"CredentialProviderResponse\",\"cacheKeyType\":\"Image\"}",
	 REG "/a", -EPROTO, false, NULL},
	{"wrong kind",
	 "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderRequest\",\"cacheKeyType\":"
	 "\"Image\"}",
	 REG "/a", -EPROTO, false, NULL},
	{"no cacheKeyType", "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\"}",
	 REG "/a", -EPROTO, false, NULL},
	{"bad cacheKeyType",
	 "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\",\"cacheKeyType\":"
	 "\"Node\"}",
	 REG "/a", -EPROTO, false, NULL},
	{"bad cacheDuration",
	 "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\",\"cacheKeyType\":"
	 "\"Image\",\"cacheDuration\":\"soon\"}",
	 REG "/a", -EPROTO, false, NULL},
	{"auth not object",
	 "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderResponse\",\"cacheKeyType\":"
	 "\"Image\",\"auth\":[]}",
	 REG "/a", -EPROTO, false, NULL},
	{"password not string", RESP("\"" REG "\":{\"username\":\"u\",\"password\":1}"), REG "/a",
	 -EPROTO, false, NULL},
	{"bad key", RESP("\"reg?.io\":" UP("u", "p")), REG "/a", -EPROTO, false, NULL},
	{"not json", "Username: x", REG "/a", -EPROTO, false, NULL},
	{"duplicate key", RESP("\"" REG "\":" UP("a", "p") ",\"" REG "\":" UP("b", "p")), REG "/a",
	 -EPROTO, false, NULL},
};

static void test_parse_response(void **state)
{
	for (size_t i = 0; i < sizeof(resp_rows) / sizeof(resp_rows[0]); i++) {
		struct sigstore_oci_cred c;
		char err[256];
		int ret = sigstore_oci_auth_parse_response(resp_rows[i].json,
							   strlen(resp_rows[i].json), API,
							   resp_rows[i].image, &c, err);

		if (ret != resp_rows[i].ret || c.found != resp_rows[i].found)
			fail_msg("%s: got %d found %d (%s)", resp_rows[i].name, ret, c.found, err);
		if (ret)
			assert_non_null(strstr(err, "CredentialProviderResponse"));
		if (c.found)
			assert_string_equal(c.username, resp_rows[i].user);
	}
}

static const struct {
	const char *name, *json;
	int ret;
} helper_rows[] = {
	{"good", "{\"ServerURL\":\"r.io\",\"Username\":\"u\",\"Secret\":\"s\"}", 0},
	{"token user", "{\"Username\":\"<token>\",\"Secret\":\"refresh\"}", 0},
	{"no secret", "{\"Username\":\"u\"}", -EPROTO},
	{"empty secret", "{\"Username\":\"u\",\"Secret\":\"\"}", -EPROTO},
	{"secret number", "{\"Username\":\"u\",\"Secret\":1}", -EPROTO},
	{"secret with NUL", "{\"Username\":\"u\",\"Secret\":\"a\\u0000b\"}", -EPROTO},
	{"not json", "credentials not found", -EPROTO},
};

static void test_parse_helper_output(void **state)
{
	for (size_t i = 0; i < sizeof(helper_rows) / sizeof(helper_rows[0]); i++) {
		struct sigstore_oci_cred c;
		char err[256];
		int ret = sigstore_oci_auth_parse_helper_output(
			helper_rows[i].json, strlen(helper_rows[i].json), &c, err);

		if (ret != helper_rows[i].ret)
			fail_msg("%s: got %d (%s)", helper_rows[i].name, ret, err);
		assert_int_equal(c.found, ret == 0);
	}
}

/* ---- exec: plugins ------------------------------------------------------------------------ */

static void test_plugin_success(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	char body[1024], cfg[1024], err[256], *t;

	snprintf(body, sizeof(body),
		 "cat > '%s/req'\n"
		 "echo \"$# $1 $2 HOME=${HOME-unset} A=$A PATH=$PATH\" > '%s/argv'\n"
		 "printf '%%s' '" RESP("\"" REG "\":" UP("u1", "p1")) "'",
		 e->dir, e->dir);
	script(e->bin, "ok", body);
	snprintf(cfg, sizeof(cfg),
		 HEAD "providers:\n"
		      "- {name: skipped, matchImages: [other.io], defaultCacheDuration: 0s, "
		      "apiVersion: " API "}\n"
		      "- name: ok\n  matchImages: [\"" REG "/team\"]\n  defaultCacheDuration: 0s\n"
		      "  apiVersion: " API "\n  args: [get-credentials, \"--x=1 2\"]\n"
		      "  env: [{name: A, value: va}]\n");
	script(e->bin, "skipped", "exit 1"); /* matches other.io only: never run */
	a = make_auth(e, cfg, NULL, err);
	if (!a)
		fail_msg("config: %s", err);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "team/app", 0, 0, NULL, &c, err), 0);
	assert_true(c.found);
	assert_string_equal(c.username, "u1");
	assert_string_equal(c.password, "p1");
	assert_string_equal(c.source, "credential provider ok");
	t = read_text(strcat(strcpy(body, e->dir), "/req"));
	assert_non_null(t);
	assert_string_equal(t, "{\"apiVersion\":\"" API "\",\"kind\":\"CredentialProviderRequest\","
			       "\"image\":\"" REG "/team/app\"}");
	t = read_text(strcat(strcpy(body, e->dir), "/argv"));
	assert_non_null(t);
	/* the daemon's environment is not passed on: only PATH and the configured env */
	assert_string_equal(t,
			    "2 get-credentials --x=1 2 HOME=unset A=va "
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
	/* an image outside the plugin's matchImages: no plugin, no credentials */
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "other/app", 0, 0, NULL, &c, err), 0);
	assert_false(c.found);
	sigstore_oci_auth_free(a);
}

static const struct {
	const char *name, *body;
	long timeout_ms;
	int ret;
	const char *msg;
} fail_rows[] = {
	{"bad JSON", "echo '{not json'", 0, -EACCES, "credential provider p: "},
	{"wrong apiVersion",
	 "echo '{\"apiVersion\":\"v2\",\"kind\":\"CredentialProviderResponse\","
	 "\"cacheKeyType\":\"Image\"}'",
	 0, -EACCES, "apiVersion \"v2\""},
	{"non-zero exit", "echo boom >&2; exit 3", 0, -EACCES, "exit status 3: boom"},
	{"signal", "kill -9 $$", 0, -EACCES, "killed by signal 9"},
	{"timeout", "sleep 20", 300, -EACCES, "timed out after 300 ms"},
	{"stdout closed, still running", "exec >&- 2>&-; sleep 20", 300, -EACCES, "timed out"},
	{"oversized output", "head -c 1100000 /dev/zero | tr '\\000' a", 0, -EACCES,
	 "printed more than 1048576 bytes"},
	{"empty output", "exit 0", 0, -EACCES, "invalid JSON"},
};

static void test_plugin_failures(void **state)
{
	struct env *e = *state;

	for (size_t i = 0; i < sizeof(fail_rows) / sizeof(fail_rows[0]); i++) {
		struct sigstore_oci_auth *a;
		struct sigstore_oci_cred c;
		char err[256];
		uint64_t t0;
		int ret;

		script(e->bin, "p", fail_rows[i].body);
		a = make_auth(e, one_provider("p", "\"" REG "\""), NULL, err);
		if (!a)
			fail_msg("%s: config: %s", fail_rows[i].name, err);
		t0 = mono_ms();
		ret = sigstore_oci_auth_lookup(a, REG, "a/b", fail_rows[i].timeout_ms, 0, NULL, &c,
					       err);
		if (ret != fail_rows[i].ret || !strstr(err, fail_rows[i].msg))
			fail_msg("%s: got %d (%s)", fail_rows[i].name, ret, err);
		assert_false(c.found);
		if (mono_ms() - t0 > 5000)
			fail_msg("%s: took %llu ms", fail_rows[i].name,
				 (unsigned long long)(mono_ms() - t0));
		sigstore_oci_auth_free(a);
	}
}

/* A timed-out plugin's whole process group is killed, its children too. */
static void test_plugin_timeout_kills_children(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	char body[512], path[256], stat_path[64], err[256], *t;
	long pid;

	snprintf(path, sizeof(path), "%s/child.pid", e->dir);
	snprintf(body, sizeof(body), "sleep 30 &\necho $! > '%s'\nwait", path);
	script(e->bin, "p", body);
	a = make_auth(e, one_provider("p", "\"" REG "\""), NULL, err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 300, 0, NULL, &c, err), -EACCES);
	t = read_text(path);
	assert_non_null(t);
	pid = strtol(t, NULL, 10);
	assert_true(pid > 1);
	snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
	for (int i = 0; i < 100; i++) { /* gone, or a zombie awaiting its new parent */
		t = read_text(stat_path);
		if (!t || strstr(t, ") Z "))
			break;
		usleep(20000);
	}
	if (t && !strstr(t, ") Z "))
		fail_msg("the plugin's child %ld survived: %s", pid, t);
	sigstore_oci_auth_free(a);
}

static void test_plugin_deadline(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	char err[256];
	uint64_t t0 = mono_ms();

	script(e->bin, "slow", "sleep 20");
	a = make_auth(e, one_provider("slow", "\"*:5000\""), NULL, err);
	assert_non_null(a);
	assert_int_equal(
		sigstore_oci_auth_lookup(a, "localhost:5000", "a", 10000, t0 + 300, NULL, &c, err),
		-ETIMEDOUT);
	assert_non_null(strstr(err, "deadline"));
	assert_true(mono_ms() - t0 < 3000);
	/* already past: nothing runs */
	assert_int_equal(
		sigstore_oci_auth_lookup(a, "localhost:5000", "a", 0, mono_ms() - 1, NULL, &c, err),
		-ETIMEDOUT);
	sigstore_oci_auth_free(a);
}

static void *set_after(void *arg)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	nanosleep(&ts, NULL);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

static void test_plugin_cancel(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	atomic_bool cancel = false;
	pthread_t th;
	char err[256];
	uint64_t t0 = mono_ms();

	script(e->bin, "slow", "sleep 20");
	a = make_auth(e, one_provider("slow", "\"" REG "\""), NULL, err);
	assert_non_null(a);
	assert_int_equal(pthread_create(&th, NULL, set_after, &cancel), 0);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 10000, 0, &cancel, &c, err),
			 -ECANCELED);
	pthread_join(th, NULL);
	assert_true(mono_ms() - t0 < 3000);
	assert_non_null(strstr(err, "cancelled"));
	sigstore_oci_auth_free(a);
}

/* ---- exec: docker credential helpers ------------------------------------------------------ */

static void test_helpers(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	char body[512], err[256], path[256], *t;

	snprintf(body, sizeof(body),
		 "[ \"$1\" = get ] || exit 9\ncat > '%s/server'\n"
		 "echo '{\"ServerURL\":\"x\",\"Username\":\"hu\",\"Secret\":\"hs\"}'",
		 e->dir);
	script(e->hlp, "docker-credential-good", body);
	script(e->hlp, "docker-credential-store",
	       "echo '{\"Username\":\"<token>\",\"Secret\":\"st\"}'");
	script(e->hlp, "docker-credential-none",
	       "echo 'credentials not found in native keychain'; exit 1");
	script(e->hlp, "docker-credential-bad", "echo 'no secret service' ; exit 1");
	script(e->hlp, "docker-credential-garbage", "echo '<html>'");
	script(e->hlp, "docker-credential-slow", "sleep 20");

	/* credHelpers beats auths; the helper gets "get" and the server on stdin */
	a = make_auth(e, NULL,
		      "{\"credHelpers\":{\"" REG "\":\"good\"},\"auths\":{\"" REG
		      "\":{\"auth\":\"dTpw\"}},\"credsStore\":\"store\"}",
		      err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 0, 0, NULL, &c, err), 0);
	assert_true(c.found);
	assert_string_equal(c.username, "hu");
	assert_string_equal(c.password, "hs");
	assert_string_equal(c.source, "docker-credential-good");
	snprintf(path, sizeof(path), "%s/server", e->dir);
	t = read_text(path);
	assert_non_null(t);
	assert_string_equal(t, REG);
	/* auths next (u:p), then credsStore ("<token>" user: the secret is used as password) */
	assert_int_equal(sigstore_oci_auth_lookup(a, "r.io", "a", 0, 0, NULL, &c, err), 0);
	assert_true(c.found);
	assert_string_equal(c.username, "<token>");
	assert_string_equal(c.password, "st");
	sigstore_oci_auth_free(a);

	a = make_auth(e, NULL, "{\"auths\":{\"https://" REG "\":{\"auth\":\"dTpwOnE=\"}}}", err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 0, 0, NULL, &c, err), 0);
	assert_true(c.found);
	assert_string_equal(c.username, "u"); /* "u:p:q": the user ends at the first ':' */
	assert_string_equal(c.password, "p:q");
	sigstore_oci_auth_free(a);

	/* docker hub: the helper is asked for https://index.docker.io/v1/ */
	a = make_auth(e, NULL, "{\"credHelpers\":{\"https://index.docker.io/v1/\":\"good\"}}", err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, "docker.io", "library/x", 0, 0, NULL, &c, err),
			 0);
	assert_true(c.found);
	assert_string_equal(read_text(path), "https://index.docker.io/v1/");
	sigstore_oci_auth_free(a);

	/* "credentials not found": anonymous, not an error */
	a = make_auth(e, NULL, "{\"credsStore\":\"none\"}", err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 0, 0, NULL, &c, err), 0);
	assert_false(c.found);
	sigstore_oci_auth_free(a);
}

static const struct {
	const char *name, *helper;
	long timeout_ms;
	const char *msg;
} helper_fail_rows[] = {
	{"failing", "bad", 0, "docker-credential-bad get: exit status 1: no secret service"},
	{"garbage", "garbage", 0, "docker-credential-garbage get: credential helper output"},
	{"missing", "missing", 0, "docker-credential-missing not found"},
	{"slow", "slow", 300, "timed out after 300 ms"},
};

static void test_helper_failures(void **state)
{
	struct env *e = *state;

	script(e->hlp, "docker-credential-bad", "echo 'no secret service' ; exit 1");
	script(e->hlp, "docker-credential-garbage", "echo '<html>'");
	script(e->hlp, "docker-credential-slow", "sleep 20");
	for (size_t i = 0; i < sizeof(helper_fail_rows) / sizeof(helper_fail_rows[0]); i++) {
		struct sigstore_oci_auth *a;
		struct sigstore_oci_cred c;
		char cfg[256], err[256];
		int ret;

		snprintf(cfg, sizeof(cfg), "{\"credHelpers\":{\"" REG "\":\"%s\"}}",
			 helper_fail_rows[i].helper);
		a = make_auth(e, NULL, cfg, err);
		assert_non_null(a);
		ret = sigstore_oci_auth_lookup(a, REG, "a", helper_fail_rows[i].timeout_ms, 0, NULL,
					       &c, err);
		if (ret != -EACCES || !strstr(err, helper_fail_rows[i].msg) ||
		    !strstr(err, "config.json"))
			fail_msg("%s: got %d (%s)", helper_fail_rows[i].name, ret, err);
		sigstore_oci_auth_free(a);
	}
}

/* Plugins come first; a plugin with no matching key falls through to the docker config. */
static void test_precedence(void **state)
{
	struct env *e = *state;
	struct sigstore_oci_auth *a;
	struct sigstore_oci_cred c;
	char err[256];
	const char *docker = "{\"auths\":{\"" REG "\":{\"username\":\"du\",\"password\":\"dp\"},"
			     "\"r.io\":{\"auth\":\"dTpw\"}}}";

	script(e->bin, "p", "echo '" RESP("\"" REG "\":" UP("pu", "pp")) "'");
	a = make_auth(e, one_provider("p", "\"" REG "\", \"r.io\""), docker, err);
	assert_non_null(a);
	assert_int_equal(sigstore_oci_auth_lookup(a, REG, "a", 0, 0, NULL, &c, err), 0);
	assert_string_equal(c.username, "pu");
	assert_int_equal(sigstore_oci_auth_lookup(a, "r.io", "a", 0, 0, NULL, &c, err), 0);
	assert_true(c.found);
	assert_string_equal(c.username, "u");
	assert_non_null(strstr(c.source, "auths[r.io]"));
	assert_int_equal(sigstore_oci_auth_lookup(a, "s.io", "a", 0, 0, NULL, &c, err), 0);
	assert_false(c.found);
	sigstore_oci_auth_free(a);
	/* no sources at all */
	assert_int_equal(sigstore_oci_auth_lookup(NULL, REG, "a", 0, 0, NULL, &c, err), 0);
	assert_false(c.found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_image),
		cmocka_unit_test_setup_teardown(test_provider_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_from_files, setup, teardown),
		cmocka_unit_test(test_docker_config),
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_parse_helper_output),
		cmocka_unit_test_setup_teardown(test_plugin_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_timeout_kills_children, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plugin_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
