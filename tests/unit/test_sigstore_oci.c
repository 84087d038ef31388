/*
 * test_sigstore_oci.c - the pure parsers of sigstore/oci.c: image references (docker.io
 * defaults, ports, tags, digests), WWW-Authenticate challenges, manifests and indexes (caps,
 * cosign annotations, subject), simple-signing payloads (digest rule, duplicate and case-variant
 * keys); the client's deadline and cancel flag against a local listener that never answers,
 * registry credentials from a credential-provider plugin against a tiny Basic-auth server, and
 * finding the manifest of a config digest through a tag against a tiny routing registry.
 * The rest of the network half is covered by tests/e2e/test_sigstore_registry.py.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sigstore/oci.h"
#include "sigstore/util.h"

#define D64 "732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
#define DIG "sha256:" D64

static const struct {
	const char *name;
	const char *in;
	int ret;
	const char *registry, *host, *repo, *tag, *digest;
} ref_rows[] = {
	{"docker hub short", "busybox", 0, "docker.io", "registry-1.docker.io", "library/busybox",
	 "latest", ""},
	{"docker hub user", "user/app:1.2", 0, "docker.io", "registry-1.docker.io", "user/app",
	 "1.2", ""},
	{"docker.io explicit", "docker.io/nginx@" DIG, 0, "docker.io", "registry-1.docker.io",
	 "library/nginx", "", DIG},
	{"index.docker.io", "index.docker.io/library/x:y", 0, "docker.io", "registry-1.docker.io",
	 "library/x", "y", ""},
	{"registry with port", "127.0.0.1:5000/a/b:v1@" DIG, 0, "127.0.0.1:5000", "127.0.0.1:5000",
	 "a/b", "v1", DIG},
	{"localhost", "localhost/app", 0, "localhost", "localhost", "app", "latest", ""},
	{"ghcr", "ghcr.io/org/team/img@" DIG, 0, "ghcr.io", "ghcr.io", "org/team/img", "", DIG},
	{.name = "upper-case repo", .in = "ghcr.io/Org/img", .ret = -EINVAL},
	{.name = "empty", .in = "", .ret = -EINVAL},
	{.name = "bad digest algo", .in = "x@sha512:" D64, .ret = -EINVAL},
	{.name = "short digest", .in = "x@sha256:abcd", .ret = -EINVAL},
	{"upper-case digest",
	 "x@sha256:732112270D7E59418A8C080B134B24CABD67D250D0D0147A97ED95BA5C280AA4", -EINVAL, NULL,
	 NULL, NULL, NULL, NULL},
	{.name = "empty tag", .in = "x:", .ret = -EINVAL},
	{.name = "bad tag char", .in = "ghcr.io/x:a!b@" DIG, .ret = -EINVAL},
	{.name = "double slash", .in = "ghcr.io/a//b", .ret = -EINVAL},
	{.name = "trailing slash", .in = "ghcr.io/a/", .ret = -EINVAL},
	{.name = "space", .in = "ghcr.io/a b", .ret = -EINVAL},
	{"tag too long",
	 "x:"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "a"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 -EINVAL, NULL, NULL, NULL, NULL, NULL},
};

static void test_ref_parse(void **state)
{
	for (size_t i = 0; i < sizeof(ref_rows) / sizeof(ref_rows[0]); i++) {
		struct sigstore_oci_ref r;
		char err[256];
		int ret = sigstore_oci_ref_parse(ref_rows[i].in, &r, err);

		if (ret != ref_rows[i].ret)
			fail_msg("%s: got %d (%s)", ref_rows[i].name, ret, err);
		if (ret) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_string_equal(r.registry, ref_rows[i].registry);
		assert_string_equal(r.host, ref_rows[i].host);
		assert_string_equal(r.repo, ref_rows[i].repo);
		assert_string_equal(r.tag, ref_rows[i].tag);
		assert_string_equal(r.digest, ref_rows[i].digest);
	}
}

static void test_ref_parse_long(void **state)
{
	char buf[2000], err[256];
	struct sigstore_oci_ref r;

	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(sigstore_oci_ref_parse(buf, &r, err), -EINVAL);
	/* fits the input buffer but not repo[] */
	buf[600] = '\0';
	assert_int_equal(sigstore_oci_ref_parse(buf, &r, err), -EINVAL);
	assert_non_null(strstr(err, "too long"));
}

static const struct {
	const char *name;
	const char *in;
	int ret;
	const char *scheme, *realm, *service, *scope;
} ch_rows[] = {
	{"docker hub",
	 "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
	 "scope=\"repository:library/x:pull\"",
	 0, "Bearer", "https://auth.docker.io/token", "registry.docker.io",
	 "repository:library/x:pull"},
	{"spaces and case", "  bearer Realm=\"https://a/t\" , SERVICE=s", 0, "bearer",
	 "https://a/t", "s", ""},
	{"escaped quote", "Bearer realm=\"https://a/t\",service=\"a\\\"b\"", 0, "Bearer",
	 "https://a/t", "a\"b", ""},
	{"unknown param ignored", "Bearer realm=\"https://a\",error=\"insufficient_scope\"", 0,
	 "Bearer", "https://a", "", ""},
	{"basic", "Basic realm=\"Registry Realm\"", 0, "Basic", "Registry Realm", "", ""},
	{.name = "empty", .in = "", .ret = -EPROTO},
	{.name = "unsupported scheme", .in = "Negotiate abc", .ret = -EPROTO},
	{.name = "bearer without realm", .in = "Bearer service=x", .ret = -EPROTO},
	{.name = "realm not http", .in = "Bearer realm=\"file:///etc/passwd\"", .ret = -EPROTO},
	{.name = "unterminated", .in = "Bearer realm=\"https://a", .ret = -EPROTO},
	{.name = "no equals", .in = "Bearer realm", .ret = -EPROTO},
	{.name = "duplicate realm",
	 .in = "Bearer realm=\"https://a\",realm=\"https://b\"",
	 .ret = -EPROTO},
};

static void test_challenge_parse(void **state)
{
	for (size_t i = 0; i < sizeof(ch_rows) / sizeof(ch_rows[0]); i++) {
		struct sigstore_oci_challenge c;
		char err[256];
		int ret = sigstore_oci_challenge_parse(ch_rows[i].in, &c, err);

		if (ret != ch_rows[i].ret)
			fail_msg("%s: got %d (%s)", ch_rows[i].name, ret, err);
		if (ret)
			continue;
		assert_string_equal(c.scheme, ch_rows[i].scheme);
		assert_string_equal(c.realm, ch_rows[i].realm);
		assert_string_equal(c.service, ch_rows[i].service);
		assert_string_equal(c.scope, ch_rows[i].scope);
	}
}

static void test_challenge_long(void **state)
{
	char buf[1200], err[256];
	struct sigstore_oci_challenge c;
	int n = snprintf(buf, sizeof(buf), "Bearer realm=\"https://");

	memset(buf + n, 'a', 900);
	memcpy(buf + n + 900, "\"", 2);
	assert_int_equal(sigstore_oci_challenge_parse(buf, &c, err), -EPROTO);
	assert_non_null(strstr(err, "too long"));
}

#define CFG                                                                                 \
	"\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"" DIG \
	"\",\"size\":2}"
#define LAYER(ann)                                                                              \
	"{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"digest\":\"" DIG \
	"\",\"size\":10" ann "}"
#define MAN(x) \
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," x "}"

static const struct {
	const char *name;
	const char *json;
	int ret;
	size_t n_items;
	bool is_index;
	const char *artifact_type;
} man_rows[] = {
	{"empty layers", MAN(CFG ",\"layers\":[]"), 0, 0, false,
	 "application/vnd.oci.empty.v1+json"},
	{"one layer", MAN(CFG ",\"layers\":[" LAYER("") "]"), 0, 1, false,
	 "application/vnd.oci.empty.v1+json"},
	{"artifactType wins",
	 MAN("\"artifactType\":\"" SIGSTORE_OCI_BUNDLE_TYPE "\"," CFG ",\"layers\":[]"), 0, 0,
	 false, SIGSTORE_OCI_BUNDLE_TYPE},
	{"index",
	 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"artifactType\":\"a\","
	 "\"digest\":\"" DIG "\",\"size\":1}]}",
	 0, 1, true, ""},
	{"schema 1", "{\"schemaVersion\":1," CFG ",\"layers\":[]}", -EPROTO, 0, false, NULL},
	{.name = "no config", .json = MAN("\"layers\":[]"), .ret = -EPROTO},
	{"layers not array", MAN(CFG ",\"layers\":{}"), -EPROTO, 0, false, NULL},
	{"both", "{\"schemaVersion\":2,\"manifests\":[]," CFG ",\"layers\":[]}", -EPROTO, 0, false,
	 NULL},
	{"negative size",
	 MAN(CFG ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"" DIG "\",\"size\":-1}]"), -EPROTO,
	 0, false, NULL},
	{"bad digest",
	 MAN(CFG ",\"layers\":[{\"mediaType\":\"x\",\"digest\":\"sha256:00\",\"size\":1}]"),
	 -EPROTO, 0, false, NULL},
	{.name = "duplicate key", .json = MAN(CFG "," CFG ",\"layers\":[]"), .ret = -EPROTO},
	{"annotation not string",
	 MAN(CFG ",\"layers\":[" LAYER(",\"annotations\":{\"dev.sigstore.cosign/bundle\":1}") "]"),
	 -EPROTO, 0, false, NULL},
	{.name = "array root", .json = "[]", .ret = -EPROTO},
	{"not json", "{", -EPROTO, 0, false, NULL},
	{"deep",
	 "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	 "}",
	 -EPROTO, 0, false, NULL},
};

static void test_manifest_parse(void **state)
{
	for (size_t i = 0; i < sizeof(man_rows) / sizeof(man_rows[0]); i++) {
		struct sigstore_oci_manifest m;
		char err[256];
		int ret = sigstore_oci_manifest_parse(man_rows[i].json, strlen(man_rows[i].json),
						      &m, err);

		if (ret != man_rows[i].ret)
			fail_msg("%s: got %d (%s)", man_rows[i].name, ret, err);
		if (ret) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(m.n_items, man_rows[i].n_items);
		assert_int_equal(m.is_index, man_rows[i].is_index);
		assert_string_equal(m.artifact_type, man_rows[i].artifact_type);
		sigstore_oci_manifest_clear(&m);
	}
}

static void test_manifest_annotations_subject(void **state)
{
	const char *j = MAN(CFG ",\"layers\":[" LAYER(
		",\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEUC\","
		"\"dev.sigstore.cosign/certificate\":\"-----BEGIN\","
		"\"dev.sigstore.cosign/chain\":\"c\",\"dev.sigstore.cosign/bundle\":\"{}\","
		"\"other\":\"x\"}") "],\"subject\":{\"mediaType\":\"m\",\"digest\":\"" DIG
				    "\",\"size\":264}");
	struct sigstore_oci_manifest m;
	char err[256];

	assert_int_equal(sigstore_oci_manifest_parse(j, strlen(j), &m, err), 0);
	assert_int_equal(m.n_items, 1);
	assert_string_equal(m.items[0].signature, "MEUC");
	assert_string_equal(m.items[0].certificate, "-----BEGIN");
	assert_string_equal(m.items[0].chain, "c");
	assert_string_equal(m.items[0].bundle, "{}");
	assert_int_equal(m.items[0].size, 10);
	assert_true(m.has_subject);
	assert_string_equal(m.subject.digest, DIG);
	assert_int_equal(m.subject.size, 264);
	sigstore_oci_manifest_clear(&m);
}

/* Builds a manifest with n layers. */
static char *many_layers(size_t n)
{
	const char *head = "{\"schemaVersion\":2," CFG ",\"layers\":[";
	const char *layer = LAYER("");
	size_t cap = strlen(head) + n * (strlen(layer) + 1) + 8;
	char *s = malloc(cap), *p;

	assert_non_null(s);
	p = s + sprintf(s, "%s", head);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", layer);
	strcpy(p, "]}");
	return s;
}

static void test_manifest_layer_cap(void **state)
{
	struct sigstore_oci_manifest m;
	char err[256];
	char *s = many_layers(SIGSTORE_OCI_MAX_LAYERS);
	int ret = sigstore_oci_manifest_parse(s, strlen(s), &m, err);

	if (ret)
		fail_msg("1000 layers: %d (%s)", ret, err);
	assert_int_equal(m.n_items, SIGSTORE_OCI_MAX_LAYERS);
	sigstore_oci_manifest_clear(&m);
	free(s);
	s = many_layers(SIGSTORE_OCI_MAX_LAYERS + 1);
	assert_int_equal(sigstore_oci_manifest_parse(s, strlen(s), &m, err), -E2BIG);
	assert_non_null(strstr(err, "more than 1000 layers"));
	free(s);
}

static void test_manifest_size_cap(void **state)
{
	size_t n = SIGSTORE_OCI_MAX_MANIFEST + 1;
	char *s = malloc(n + 1);
	struct sigstore_oci_manifest m;
	char err[256];

	assert_non_null(s);
	memset(s, ' ', n);
	s[0] = '{';
	s[n - 1] = '}';
	s[n] = '\0';
	assert_int_equal(sigstore_oci_manifest_parse(s, n, &m, err), -EPROTO);
	assert_non_null(strstr(err, "larger than"));
	free(s);
}

#define TYPE   "\"type\":\"cosign container image signature\""
#define IMG(d) "\"image\":{\"docker-manifest-digest\":\"" d "\"}"

static const struct {
	const char *name;
	const char *json;
	int ret;
} ss_rows[] = {
	{"good",
	 "{\"critical\":{\"identity\":{\"docker-reference\":\"x\"}," IMG(
		 DIG) "," TYPE "},\"optional\":null}",
	 0},
	{"other digest", "{\"critical\":{" IMG("sha256:" D64 "0") "," TYPE "}}", -EBADMSG},
	{"upper-case digest", "{\"critical\":{" IMG("SHA256:" D64) "," TYPE "}}", -EBADMSG},
	{"wrong type", "{\"critical\":{" IMG(DIG) ",\"type\":\"other\"}}", -EPROTO},
	{"type not string", "{\"critical\":{" IMG(DIG) ",\"type\":1}}", -EPROTO},
	{"no critical", "{\"optional\":{}}", -EPROTO},
	{"no image", "{\"critical\":{" TYPE "}}", -EPROTO},
	{"digest not string", "{\"critical\":{\"image\":{\"docker-manifest-digest\":1}," TYPE "}}",
	 -EPROTO},
	{"digest with NUL",
	 "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" DIG "\\u0000x\"}," TYPE "}}",
	 -EPROTO},
	{"duplicate digest key",
	 "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"sha256:" D64
	 "0\",\"docker-manifest-digest\":\"" DIG "\"}," TYPE "}}",
	 -EPROTO},
	{"case-variant digest key",
	 "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" DIG
	 "\",\"Docker-Manifest-Digest\":\"sha256:" D64 "0\"}," TYPE "}}",
	 -EPROTO},
	{"case-variant only",
	 "{\"critical\":{\"image\":{\"DOCKER-MANIFEST-DIGEST\":\"" DIG "\"}," TYPE "}}", -EPROTO},
	{"duplicate image", "{\"critical\":{" IMG(DIG) "," IMG(DIG) "," TYPE "}}", -EPROTO},
	{"case-variant image", "{\"critical\":{" IMG(DIG) ",\"Image\":{}," TYPE "}}", -EPROTO},
	{"case-variant critical", "{\"critical\":{" IMG(DIG) "," TYPE "},\"Critical\":{}}",
	 -EPROTO},
	{"duplicate critical",
	 "{\"critical\":{" IMG("sha256:" D64 "0") "," TYPE "},\"critical\":{" IMG(DIG) "," TYPE
										       "}}",
	 -EPROTO},
	{"case-variant type", "{\"critical\":{" IMG(DIG) "," TYPE ",\"TYPE\":\"x\"}}", -EPROTO},
	{.name = "not json", .json = "critical", .ret = -EPROTO},
};

static void test_simplesign(void **state)
{
	for (size_t i = 0; i < sizeof(ss_rows) / sizeof(ss_rows[0]); i++) {
		char err[256];
		int ret = sigstore_oci_simplesign_check(ss_rows[i].json, strlen(ss_rows[i].json),
							DIG, err);

		if (ret != ss_rows[i].ret)
			fail_msg("%s: got %d (%s)", ss_rows[i].name, ret, err);
		if (ret)
			assert_non_null(strstr(err, "simple-signing payload"));
	}
}

static void test_client_bad_docker_config(void **state)
{
	char path[] = "/tmp/test_oci_XXXXXX", err[256];
	struct sigstore_oci_client_opts o = {0};
	struct sigstore_oci_client *c = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"auths\":", 9), 9);
	close(fd);
	o.docker_config = path;
	assert_int_equal(sigstore_oci_client_new(&o, &c, err), -EPROTO);
	assert_null(c);
	assert_non_null(strstr(err, path));
	o.docker_config = "/nonexistent/config.json";
	assert_true(sigstore_oci_client_new(&o, &c, err) < 0);
	assert_null(c);
	o.docker_config = NULL;
	assert_int_equal(sigstore_oci_client_new(&o, &c, err), 0);
	sigstore_oci_client_free(c);
	unlink(path);
}

static void test_fetch_needs_digest(void **state)
{
	struct sigstore_oci_client_opts o = {0};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_oci_ref r;
	struct sigstore_oci_sigs s;
	char err[256];

	assert_int_equal(sigstore_oci_client_new(&o, &c, err), 0);
	assert_int_equal(sigstore_oci_ref_parse("ghcr.io/a/b:v1", &r, err), 0);
	assert_int_equal(sigstore_oci_fetch_bundles(c, &r, &s, err), -EINVAL);
	assert_non_null(strstr(err, "no image digest"));
	sigstore_oci_sigs_clear(&s);
	sigstore_oci_client_free(c);
}

/* ---- deadline, cancel, credentials over a real socket -------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A TCP listener on 127.0.0.1 (connections complete in the backlog; nobody answers). */
static int listener(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void silent_client(int port, const struct sigstore_oci_client_opts *base,
			  struct sigstore_oci_client **c, struct sigstore_oci_ref *r)
{
	struct sigstore_oci_client_opts o = *base;
	char ref[128], err[256];

	o.insecure_http = true;
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/a/b:v1", port);
	assert_int_equal(sigstore_oci_ref_parse(ref, r, err), 0);
	assert_int_equal(sigstore_oci_client_new(&o, c, err), 0);
}

static void test_client_deadline(void **state)
{
	struct sigstore_oci_client_opts o = {.timeout_ms = 20000};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_oci_ref r;
	char digest[SIGSTORE_OCI_DIGEST_LEN], err[256];
	int port, fd = listener(&port);
	uint64_t t0 = mono_ms(), dt;

	o.deadline_ms = t0 + 300;
	silent_client(port, &o, &c, &r);
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -ETIMEDOUT);
	dt = mono_ms() - t0;
	if (dt < 250 || dt > 3000)
		fail_msg("deadline of 300 ms hit after %llu ms", (unsigned long long)dt);
	assert_non_null(strstr(err, "deadline reached"));
	/* past the deadline nothing is sent */
	t0 = mono_ms();
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 100);
	sigstore_oci_client_free(c);
	/* without a deadline the per-request timeout still applies */
	o.deadline_ms = 0;
	o.timeout_ms = 300;
	silent_client(port, &o, &c, &r);
	t0 = mono_ms();
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -ETIMEDOUT);
	assert_true(mono_ms() - t0 < 3000);
	assert_non_null(strstr(err, "timed out"));
	sigstore_oci_client_free(c);
	close(fd);
}

static void *cancel_after(void *arg)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	nanosleep(&ts, NULL);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

static void test_client_cancel(void **state)
{
	atomic_bool cancel = false;
	struct sigstore_oci_client_opts o = {.timeout_ms = 20000, .cancel = &cancel};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_oci_ref r;
	char digest[SIGSTORE_OCI_DIGEST_LEN], err[256];
	int port, fd = listener(&port);
	uint64_t t0 = mono_ms(), dt;
	pthread_t th;

	silent_client(port, &o, &c, &r);
	assert_int_equal(pthread_create(&th, NULL, cancel_after, &cancel), 0);
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -ECANCELED);
	pthread_join(th, NULL);
	dt = mono_ms() - t0;
	if (dt < 150 || dt > 3000)
		fail_msg("cancelled after %llu ms", (unsigned long long)dt);
	assert_non_null(strstr(err, "cancelled"));
	/* still set: the next request is not sent */
	t0 = mono_ms();
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -ECANCELED);
	assert_true(mono_ms() - t0 < 100);
	sigstore_oci_client_free(c);
	close(fd);
}

/*
 * Answers up to 4 requests on fd: 200 with a small manifest when the request carries
 * Authorization: Basic dTE6cDE= (u1:p1), else 401 with a Basic challenge.
 */
/* Reads one request's head (through the blank line) into req, NUL-terminated. */
static void read_request(int fd, char *req, size_t size)
{
	size_t n = 0;

	while (n < size - 1) {
		ssize_t k = read(fd, req + n, size - 1 - n);

		if (k <= 0)
			break;
		n += (size_t)k;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
}

static void *basic_server(void *arg)
{
	int lfd = *(int *)arg;

	for (int i = 0; i < 4; i++) {
		char req[8192], resp[512];
		int fd = accept(lfd, NULL, NULL);
		const char *body = "{\"schemaVersion\":2}";

		if (fd < 0)
			break;
		read_request(fd, req, sizeof(req));
		if (strstr(req, "Authorization: Basic dTE6cDE=\r\n"))
			snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				 strlen(body), body);
		else
			snprintf(resp, sizeof(resp),
				 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
				 "realm=\"r\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		if (write(fd, resp, strlen(resp)) < 0)
			break;
		close(fd);
	}
	return NULL;
}

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

/* A plugin's credentials reach the registry; a failing plugin is -EACCES naming it. */
static void test_client_provider_credentials(void **state)
{
	char dir[] = "/tmp/test_oci_cp_XXXXXX", cfg[128], plug[128], text[1024], err[256];
	char digest[SIGSTORE_OCI_DIGEST_LEN], cmd[160];
	struct sigstore_oci_client_opts o = {.timeout_ms = 5000};
	struct sigstore_oci_client *c = NULL;
	struct sigstore_oci_ref r;
	pthread_t th;
	int port, fd = listener(&port);
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(cfg, sizeof(cfg), "%s/providers.yaml", dir);
	snprintf(plug, sizeof(plug), "%s/plug", dir);
	f = fopen(cfg, "w");
	assert_non_null(f);
	fprintf(f,
		"apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n"
		"providers:\n- name: plug\n  matchImages: [\"127.0.0.1:%d\"]\n"
		"  defaultCacheDuration: 1m\n"
		"  apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
		port);
	assert_int_equal(fclose(f), 0);
	snprintf(text, sizeof(text),
		 "echo '{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"kind\":"
		 "\"CredentialProviderResponse\",\"cacheKeyType\":\"Registry\",\"auth\":"
		 "{\"127.0.0.1:%d\":{\"username\":\"u1\",\"password\":\"p1\"}}}'",
		 port);
	write_script(plug, text);
	o.credential_provider_config = cfg;
	o.credential_provider_bin_dir = dir;
	assert_int_equal(pthread_create(&th, NULL, basic_server, &fd), 0);
	silent_client(port, &o, &c, &r);
	if (sigstore_oci_resolve_digest(c, &r, digest, err))
		fail_msg("with the plugin's credentials: %s", err);
	/* sha256 of the body the server sends only to u1:p1 */
	assert_string_equal(digest, "sha256:bafebd36189ad3688b7b3915ea55d461e0bfcfbdde11e54b0a1239"
				    "99fb6be50f");
	sigstore_oci_client_free(c);
	/* the plugin now fails: an auth error naming it, never an anonymous pull */
	write_script(plug, "echo 'token service down' >&2; exit 2");
	silent_client(port, &o, &c, &r);
	assert_int_equal(sigstore_oci_resolve_digest(c, &r, digest, err), -EACCES);
	assert_non_null(strstr(err, "credential provider plug: exit status 2: token service down"));
	sigstore_oci_client_free(c);
	shutdown(fd, SHUT_RDWR);
	close(fd);
	pthread_join(th, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the manifest of a config digest, through a tag ---------------------------------------- */

#define CFG_X     \
	"sha256:" \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define CFG_Y     \
	"sha256:" \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define MAX_ROUTES 8

struct route {
	char path[160];
	char body[1024];
};

struct routes {
	int lfd;
	size_t n;
	struct route r[MAX_ROUTES];
};

/* Serves GET <path> from the table (200), else 404, one request per connection, until shut. */
static void *route_server(void *arg)
{
	struct routes *rt = arg;

	for (;;) {
		char req[8192], path[256] = "", resp[1400];
		const char *body = NULL;
		int fd = accept(rt->lfd, NULL, NULL);

		if (fd < 0)
			break;
		read_request(fd, req, sizeof(req));
		if (sscanf(req, "GET %255s ", path) == 1)
			for (size_t i = 0; i < rt->n && !body; i++)
				if (!strcmp(rt->r[i].path, path))
					body = rt->r[i].body;
		if (body)
			snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
				 strlen(body), body);
		else
			snprintf(resp, sizeof(resp),
				 "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
				 "Connection: close\r\n\r\n");
		if (write(fd, resp, strlen(resp)) < 0) {
			close(fd);
			break;
		}
		close(fd);
	}
	return NULL;
}

static void sha256_of(const char *s, char out[SIGSTORE_OCI_DIGEST_LEN])
{
	unsigned char h[32];
	char hex[65];

	assert_int_equal(
		sigstore_util_hash(SIGSTORE_HASH_SHA256, (const unsigned char *)s, strlen(s), h),
		0);
	sigstore_util_hex_encode(h, 32, hex);
	snprintf(out, SIGSTORE_OCI_DIGEST_LEN, "sha256:%s", hex);
}

static const char *add_route(struct routes *rt, const char *path, const char *body)
{
	struct route *r = &rt->r[rt->n++];

	assert_true(rt->n <= MAX_ROUTES);
	snprintf(r->path, sizeof(r->path), "/v2/a/b/manifests/%s", path);
	snprintf(r->body, sizeof(r->body), "%s", body);
	return r->body;
}

static void image_manifest(char *buf, size_t size, const char *config)
{
	snprintf(
		buf, size,
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		"\"digest\":\"%s\",\"size\":100},\"layers\":[]}",
		config);
}

static void test_find_manifest_for_config(void **state)
{
	struct routes rt = {0};
	struct sigstore_oci_client_opts o = {.timeout_ms = 5000, .insecure_http = true};
	struct sigstore_oci_client *c = NULL;
	char man_x[512], man_y[512], idx[1024], ref[128], err[256];
	char d_x[SIGSTORE_OCI_DIGEST_LEN], d_y[SIGSTORE_OCI_DIGEST_LEN];
	char got[SIGSTORE_OCI_DIGEST_LEN];
	struct sigstore_oci_ref r;
	pthread_t th;
	int port;
	static const struct {
		const char *name, *tag;
		int ret;
		const char *want; /* "x": man_x's digest; else a substring of err */
	} cases[] = {
		{"the tag names the manifest of config X", "v1", 0, "x"},
		{"the tag moved to another image", "moved", -ENOENT, "names manifest sha256:"},
		{"an index: the child with config X", "multi", 0, "x"},
		{"an index without it", "other-multi", -ENOENT,
		 "none of its 1 image manifests fetched has config sha256:111111111111"},
		{"a child that does not match its digest", "tampered", -EPROTO,
		 "does not match its digest"},
		{"no such tag", "gone", -ENOENT, "HTTP 404"},
	};

	rt.lfd = listener(&port);
	image_manifest(man_x, sizeof(man_x), CFG_X);
	image_manifest(man_y, sizeof(man_y), CFG_Y);
	sha256_of(man_x, d_x);
	sha256_of(man_y, d_y);
	add_route(&rt, "v1", man_x);
	add_route(&rt, "moved", man_y);
	add_route(&rt, d_x, man_x);
	add_route(&rt, d_y, man_y);
	/* an attestation-like child of another type first (not fetched), then Y, then X */
	snprintf(idx, sizeof(idx),
		 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		 "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		 "\"digest\":\"%s\",\"size\":1},"
		 "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
		 "\"size\":%zu},"
		 "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
		 "\"digest\":\"%s\",\"size\":%zu}]}",
		 CFG_Y, d_y, strlen(man_y), d_x, strlen(man_x));
	add_route(&rt, "multi", idx);
	snprintf(idx, sizeof(idx),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1}]}",
		 d_y);
	add_route(&rt, "other-multi", idx);
	/* names X's digest as a child, but the server sends Y's bytes under that digest */
	snprintf(idx, sizeof(idx),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":1}]}",
		 CFG_Y);
	add_route(&rt, "tampered", idx);
	assert_true(rt.n < MAX_ROUTES);
	snprintf(rt.r[rt.n].path, sizeof(rt.r[rt.n].path), "/v2/a/b/manifests/%s", CFG_Y);
	snprintf(rt.r[rt.n].body, sizeof(rt.r[rt.n].body), "%s", man_y);
	rt.n++;
	assert_int_equal(pthread_create(&th, NULL, route_server, &rt), 0);
	assert_int_equal(sigstore_oci_client_new(&o, &c, err), 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		print_message("case: %s\n", cases[i].name);
		snprintf(ref, sizeof(ref), "127.0.0.1:%d/a/b:%s", port, cases[i].tag);
		assert_int_equal(sigstore_oci_ref_parse(ref, &r, err), 0);
		ret = sigstore_oci_find_manifest_for_config(c, &r, CFG_X, got, err);
		if (ret != cases[i].ret)
			fail_msg("returned %d, want %d: %s", ret, cases[i].ret, err);
		if (ret == 0) {
			assert_string_equal(got, d_x);
		} else {
			assert_string_equal(got, "");
			if (!strstr(err, cases[i].want))
				fail_msg("err \"%s\" lacks \"%s\"", err, cases[i].want);
		}
	}
	/* a digest-only reference, or a config that is no digest: refused before any request */
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/a/b@%s", port, CFG_X);
	assert_int_equal(sigstore_oci_ref_parse(ref, &r, err), 0);
	assert_int_equal(sigstore_oci_find_manifest_for_config(c, &r, CFG_X, got, err), -EINVAL);
	snprintf(ref, sizeof(ref), "127.0.0.1:%d/a/b:v1", port);
	assert_int_equal(sigstore_oci_ref_parse(ref, &r, err), 0);
	assert_int_equal(sigstore_oci_find_manifest_for_config(c, &r, "sha256:12", got, err),
			 -EINVAL);
	sigstore_oci_client_free(c);
	shutdown(rt.lfd, SHUT_RDWR);
	close(rt.lfd);
	pthread_join(th, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_parse),
		cmocka_unit_test(test_ref_parse_long),
		cmocka_unit_test(test_challenge_parse),
		cmocka_unit_test(test_challenge_long),
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_manifest_annotations_subject),
		cmocka_unit_test(test_manifest_layer_cap),
		cmocka_unit_test(test_manifest_size_cap),
		cmocka_unit_test(test_simplesign),
		cmocka_unit_test(test_client_bad_docker_config),
		cmocka_unit_test(test_fetch_needs_digest),
		cmocka_unit_test(test_client_deadline),
		cmocka_unit_test(test_client_cancel),
		cmocka_unit_test(test_client_provider_credentials),
		cmocka_unit_test(test_find_manifest_for_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
