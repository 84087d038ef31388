/* Unit tests for daemon/config.c: table-driven YAML cases, defaults, files, durations. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"
#include "sigstore/identity.h"

#define DUMP_MAX (8 * CONFIG_PATH_MAX)

struct dumpbuf {
	char *buf;
	size_t size, o;
};

static void __attribute__((format(printf, 2, 3))) put(struct dumpbuf *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->o >= d->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->buf + d->o, d->size - d->o, fmt, ap);
	va_end(ap);
	d->o += n > 0 ? (size_t)n : 0;
}

/* "name[a,b]" for a string list ("" when empty). */
static void put_list(struct dumpbuf *d, const char *name, char *const *v, size_t n)
{
	if (!n)
		return;
	put(d, "%s[", name);
	for (size_t i = 0; i < n; i++)
		put(d, "%s%s", i ? "," : "", v[i]);
	put(d, "]");
}

/* A one-line summary of every field, so a row can check any of them with a substring. */
static void dump(const struct config *c, char *buf, size_t size)
{
	struct dumpbuf d = {buf, size, 0};

	put(&d,
	    "td=%s;socket=%s;admin=%s;state=%s;level=%s;backend=%s;rrf=%d;pin=%s;audit=%u;"
	    "threads=%u;unix=%d;hash=%llu;",
	    c->trust_domain, c->socket_path, c->admin_socket_path, c->state_dir,
	    log_level_name(c->log_level), peer_backend_name(c->peer_backend), c->require_race_free,
	    c->bpf_pin_dir, c->audit_entries, c->worker_threads, c->unix_enabled,
	    (unsigned long long)c->hash_size_limit);
	if (c->ca_generate)
		put(&d, "ca=gen;");
	else
		put(&d, "ca=cert:%s,key:%s,bundle:%s;", c->ca_cert, c->ca_key, c->ca_bundle);
	put(&d, "x509=%llu;jwt=%llu;", (unsigned long long)c->x509_ttl_s,
	    (unsigned long long)c->jwt_ttl_s);
	put(&d,
	    "k8s=%d;sport=%u;roport=%u;kca=%s;skip=%d;token=%s;kcert=%s;kkey=%s;anon=%d;"
	    "nenv=%s;node=%s;minint=%llu;int=%llu;atimeout=%llu;containerd=%s;crio=%s;"
	    "nocsel=%d;cattrs=%d;",
	    c->k8s_enabled, c->k8s_secure_port, c->k8s_read_only_port, c->k8s_ca,
	    c->k8s_skip_verification, c->k8s_token_path, c->k8s_cert, c->k8s_key, c->k8s_anonymous,
	    c->k8s_node_name_env, c->k8s_node_name, (unsigned long long)c->k8s_min_interval_ms,
	    (unsigned long long)c->k8s_interval_ms,
	    (unsigned long long)c->k8s_attestation_timeout_ms, c->k8s_containerd_state,
	    c->k8s_crio_state, c->k8s_disable_container_selectors,
	    c->k8s_include_container_attributes);
	put_list(&d, "prefixes", c->k8s_annotation_prefixes, c->k8s_n_annotation_prefixes);
	put(&d, "entries=%zu;", c->nentries);
	for (size_t i = 0; i < c->nentries; i++) {
		const struct policy_entry *e = &c->entries[i];

		put(&d, "e%zu=%s", i, e->spiffe_id ? e->spiffe_id : "(null)");
		put_list(&d, "sel", e->selectors, e->nselectors);
		if (e->x509_ttl_s)
			put(&d, "ttl=%llu", (unsigned long long)e->x509_ttl_s);
		put_list(&d, "dns", e->dns_names, e->ndns_names);
		if (e->hint)
			put(&d, "hint=%s", e->hint);
		put(&d, ";");
	}
	put(&d, "templates=%zu;", c->ntemplates);
	for (size_t i = 0; i < c->ntemplates; i++) {
		const struct policy_template *t = &c->templates[i];
		const struct policy_subject *s = &t->x509_subject;

		put(&d, "t%zu=%s", i, t->spiffe_id ? t->spiffe_id : "(null)");
		put_list(&d, "when", t->when, t->nwhen);
		if (t->x509_ttl_s)
			put(&d, "ttl=%llu", (unsigned long long)t->x509_ttl_s);
		put_list(&d, "dns", t->dns_names, t->ndns_names);
		if (t->hint)
			put(&d, "hint=%s", t->hint);
		if (s->common_name)
			put(&d, "cn=%s", s->common_name);
		put_list(&d, "o", s->organization, s->norganization);
		put_list(&d, "ou", s->organizational_unit, s->norganizational_unit);
		put_list(&d, "c", s->country, s->ncountry);
		put_list(&d, "st", s->province, s->nprovince);
		put_list(&d, "l", s->locality, s->nlocality);
		for (size_t j = 0; j < t->njwt_claims; j++)
			put(&d, "%s%s=%s", j ? "," : "claims{", t->jwt_claims[j].name,
			    t->jwt_claims[j].value);
		put(&d, "%s;", t->njwt_claims ? "}" : "");
	}
	{
		const struct config_sigstore *g = &c->k8s_sigstore;

		put(&d,
		    "sig=%d;rekor=%s;root=%s;noprov=%d;notlog=%d;sct=%d;stimeout=%llu;dcfg=%s;"
		    "rca=%s;cpc=%s;cpb=%s;",
		    g->enabled, g->rekor_url, g->trusted_root, g->skip_provenance,
		    g->skip_transparency_log, g->enforce_sct, (unsigned long long)g->timeout_ms,
		    g->docker_config, g->ca_file, g->credential_provider_config,
		    g->credential_provider_bin_dir);
		for (size_t i = 0; i < g->n_identities; i++)
			put_list(&d, g->identities[i].issuer, g->identities[i].subjects,
				 g->identities[i].n_subjects);
		put_list(&d, "skip", g->skip_images, g->n_skip_images);
	}
}

struct parse_case {
	const char *name;
	const char *yaml;
	int rc;
	const char *expect; /* rc == 0: substring of dump(); else: substring of err */
};

#define UNSUP "not supported by this attestd version yet (see README \"Configuration\")"
#define A100                                                                                       \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaa"
#define A50   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct parse_case parse_cases[] = {
	/* valid */
	{"empty file", "", 0, "td=example.org;socket=/run/attestd/agent.sock;"},
	{"only comments", "# nothing here\n\n", 0, "audit=4096;threads=2;unix=1;hash=0;"},
	{"empty document", "---\n", 0, "level=info;backend=auto;rrf=0;"},
	{"null document", "~\n", 0, "pin=/sys/fs/bpf/attestd;"},
	{"explicit end", "trust_domain: a.b\n...\n", 0, "td=a.b;"},
	{"flow top level", "{trust_domain: prod.example, socket: /run/a.sock}", 0,
	 "td=prod.example;socket=/run/a.sock;admin=/run/attestd/admin.sock;"},
	{"all keys",
	 "trust_domain: corp-1.example_x\n"
	 "socket: /tmp/a.sock\n"
	 "admin_socket: \"/tmp/b.sock\"\n"
	 "state_dir: '/srv/attestd'\n"
	 "log:\n  level: debug\n"
	 "peer:\n  backend: connect_unix\n  require_race_free: true\n  pin_dir: /sys/fs/bpf/x\n"
	 "audit: {entries: 1048576}\n"
	 "workers: {threads: 64}\n"
	 "attestors:\n  unix:\n    enabled: false\n    hash_size_limit: 64MiB\n",
	 0,
	 "td=corp-1.example_x;socket=/tmp/a.sock;admin=/tmp/b.sock;state=/srv/attestd;level=debug;"
	 "backend=connect_unix;rrf=1;pin=/sys/fs/bpf/x;audit=1048576;threads=64;unix=0;"
	 "hash=67108864;"},
	{"empty sections keep defaults", "log:\npeer: ~\nattestors: {unix: }\n", 0,
	 "level=info;backend=auto;"},
	{"empty flow section", "peer: {}\n", 0, "backend=auto;"},
	{"backend lsm", "peer: {backend: lsm}", 0, "backend=lsm;"},
	{"backend fexit", "peer: {backend: fexit}", 0, "backend=fexit;"},
	{"backend pidfd", "peer: {backend: pidfd}", 0, "backend=pidfd;"},
	{"backend peercred", "peer: {backend: peercred}", 0, "backend=peercred;"},
	{"backend auto", "peer: {backend: auto}", 0, "backend=auto;"},
	{"level warn", "log: {level: warn}", 0, "level=warn;"},
	{"level error", "log: {level: error}", 0, "level=error;"},
	{"threads min", "workers: {threads: 1}", 0, "threads=1;"},
	{"audit min", "audit: {entries: 1}", 0, "audit=1;"},
	{"hash plain", "attestors: {unix: {hash_size_limit: 1048576}}", 0, "hash=1048576;"},
	{"hash KiB", "attestors: {unix: {hash_size_limit: 512KiB}}", 0, "hash=524288;"},
	{"hash GiB", "attestors: {unix: {hash_size_limit: 2GiB}}", 0, "hash=2147483648;"},
	{"hash max", "attestors: {unix: {hash_size_limit: 18446744073709551615}}", 0,
	 "hash=18446744073709551615;"},
	{"trust domain 255", "trust_domain: " A100 A100 A50 "aaaaa", 0, "td=" A100},
	{"socket 107 bytes", "socket: /" A100 "aaaaaa", 0, "socket=/" A100 "aaaaaa;"},
	{"crlf line ends", "log:\r\n  level: debug\r\n", 0, "level=debug;"},

	/* unknown keys */
	{"unknown top key", "trust_domain: a\nbogus: 1\n", -EINVAL,
	 "cfg.yaml:2:1: bogus: unknown key (known: trust_domain, socket, admin_socket, state_dir, "
	 "log, peer, audit, workers, attestors, ca, svid, entries, templates)"},
	{"unknown peer key", "peer:\n  backend: lsm\n  bakend: lsm\n", -EINVAL,
	 "cfg.yaml:3:3: peer.bakend: unknown key (known: backend, require_race_free, pin_dir)"},
	{"unknown unix key", "attestors:\n  unix:\n    hash: 1\n", -EINVAL,
	 "cfg.yaml:3:5: attestors.unix.hash: unknown key (known: enabled, hash_size_limit)"},
	{"unknown attestor", "attestors: {docker: {}}", -EINVAL,
	 "attestors.docker: unknown key (known: unix, kubernetes)"},
	{"key case matters", "Trust_domain: a", -EINVAL, "Trust_domain: unknown key"},
	{"unprintable key", "\"a\\tb\": 1", -EINVAL, "a?b: unknown key"},

	/* DESIGN.md keys this build does not have */
	{"metrics", "metrics: {listen: \"127.0.0.1:9988\"}", -EINVAL,
	 "cfg.yaml:1:1: metrics: " UNSUP},
	/* attestors.kubernetes.sigstore (enabled cases that load a trusted root: test_sigstore) */
	{"sigstore defaults", "attestors:\n  kubernetes:\n    sigstore: {}\n", 0,
	 "sig=0;rekor=https://rekor.sigstore.dev;root=;noprov=0;notlog=0;sct=1;stimeout=30000;"
	 "dcfg=;rca=;cpc=;cpb=;"},
	{"sigstore disabled keeps every key",
	 "attestors:\n  kubernetes:\n    sigstore:\n      enabled: false\n"
	 "      allowed_identities:\n        https://token.actions.githubusercontent.com:\n"
	 "          - https://github.com/org/*\n          - https://github.com/other/x@*\n"
	 "        https://accounts.google.com: [\"*@example.com\"]\n"
	 "      trusted_root: /etc/r.json\n      rekor_url: https://rekor.example\n"
	 "      skip_provenance: true\n      skip_transparency_log: true\n"
	 "      enforce_sct: false\n      timeout: 1m\n"
	 "      skip_images: [\"sha256:" HEX64 "\"]\n"
	 "      registry: {docker_config: /d.json, ca_file: /ca.pem,\n"
	 "                 credential_provider_config: /cp.yaml, credential_provider_bin_dir: "
	 "/b}\n",
	 0,
	 "sig=0;rekor=https://rekor.example;root=/etc/r.json;noprov=1;notlog=1;sct=0;"
	 "stimeout=60000;dcfg=/d.json;rca=/ca.pem;cpc=/cp.yaml;cpb=/b;"
	 "https://token.actions.githubusercontent.com[https://github.com/org/*,"
	 "https://github.com/other/x@*]https://accounts.google.com[*@example.com]"
	 "skip[sha256:" HEX64 "]"},
	{"sigstore enabled needs kubernetes",
	 "attestors:\n  kubernetes:\n    sigstore: {enabled: true}\n", -EINVAL,
	 "cfg.yaml: attestors.kubernetes.sigstore.enabled: true needs "
	 "attestors.kubernetes.enabled: "
	 "true"},
	{"sigstore enabled needs identities",
	 "attestors:\n  kubernetes:\n    enabled: true\n    sigstore: {enabled: true}\n", -EINVAL,
	 "attestors.kubernetes.sigstore.allowed_identities: at least one issuer with one subject "
	 "pattern is required"},
	{"sigstore issuer without subjects",
	 "attestors:\n  kubernetes:\n    sigstore:\n      allowed_identities: {\"https://i\": "
	 "[]}\n",
	 -EINVAL,
	 "cfg.yaml:4:41: attestors.kubernetes.sigstore.allowed_identities.https://i: at least one "
	 "subject pattern is required"},
	{"sigstore subjects not a list",
	 "attestors:\n  kubernetes:\n    sigstore:\n      allowed_identities: {\"https://i\": x}\n",
	 -EINVAL, "allowed_identities.https://i: expected a sequence, got a scalar"},
	{"sigstore duplicate issuer",
	 "attestors:\n  kubernetes:\n    sigstore:\n      allowed_identities: {a: [x], a: [y]}\n",
	 -EINVAL, "allowed_identities.a: duplicate issuer"},
	{"sigstore identities not a mapping",
	 "attestors:\n  kubernetes:\n    sigstore:\n      allowed_identities: [a]\n", -EINVAL,
	 "allowed_identities: expected a mapping of OIDC issuer to a list of subject patterns"},
	{"sigstore rekor_url http",
	 "attestors:\n  kubernetes:\n    sigstore: {rekor_url: \"http://rekor.sigstore.dev\"}\n",
	 -EINVAL,
	 "attestors.kubernetes.sigstore.rekor_url: \"http://rekor.sigstore.dev\": must be an "
	 "https:// URL"},
	{"sigstore rekor_url with a space",
	 "attestors:\n  kubernetes:\n    sigstore: {rekor_url: \"https://a b\"}\n", -EINVAL,
	 "URL contains a space or control character"},
	{"sigstore skip_images bad digest",
	 "attestors:\n  kubernetes:\n    sigstore:\n      skip_images: [\"sha256:" HEX64
	 "\", \"sha256:ABC\"]\n",
	 -EINVAL,
	 "attestors.kubernetes.sigstore.skip_images[1]: \"sha256:ABC\": expected an image digest "
	 "sha256:<64 lower-case hex digits>"},
	{"sigstore timeout too short",
	 "attestors:\n  kubernetes:\n    sigstore: {timeout: 500ms}\n", -EINVAL,
	 "attestors.kubernetes.sigstore.timeout: expected a duration from 1s to 10m"},
	{"sigstore relative trusted_root",
	 "attestors:\n  kubernetes:\n    sigstore: {trusted_root: r.json}\n", -EINVAL,
	 "attestors.kubernetes.sigstore.trusted_root: \"r.json\": must be an absolute path"},
	{"sigstore credential provider half",
	 "attestors:\n  kubernetes:\n    sigstore: {registry: {credential_provider_config: /c}}\n",
	 -EINVAL,
	 "attestors.kubernetes.sigstore.registry: credential_provider_config is set but "
	 "credential_provider_bin_dir is missing"},
	{"sigstore unknown key", "attestors:\n  kubernetes:\n    sigstore: {enable: true}\n",
	 -EINVAL, "attestors.kubernetes.sigstore.enable: unknown key (known: enabled, "},

	/* attestors.kubernetes */
	{"k8s defaults", "attestors:\n  unix: {enabled: true}\n  kubernetes:\n    enabled: false\n",
	 0,
	 "k8s=0;sport=10250;roport=0;kca=;skip=0;token=;kcert=;kkey=;anon=0;nenv=MY_NODE_NAME;"
	 "node=;minint=500;int=10000;atimeout=5000;containerd=/run/containerd;"
	 "crio=/run/containers/storage;nocsel=0;cattrs=0;entries=0;"},
	{"k8s all keys",
	 "attestors:\n"
	 "  kubernetes:\n"
	 "    enabled: true\n"
	 "    kubelet: {secure_port: 4443, ca: /etc/k/ca.pem, skip_verification: true,\n"
	 "              cert: /etc/k/c.pem, key: /etc/k/c.key, node_name_env: NODE_1,\n"
	 "              node_name: node-a.example}\n"
	 "    refresh: {min_interval: 250ms, interval: 1m}\n"
	 "    attestation_timeout: 2s500ms\n"
	 "    runtime: {containerd_state: /host/containerd, crio_state: /host/crio}\n"
	 "    disable_container_selectors: true\n"
	 "    include_container_attributes: true\n"
	 "    include_annotation_prefixes: [example.com/, team]\n",
	 0,
	 "k8s=1;sport=4443;roport=0;kca=/etc/k/ca.pem;skip=1;token=;kcert=/etc/k/c.pem;"
	 "kkey=/etc/k/c.key;anon=0;nenv=NODE_1;node=node-a.example;minint=250;int=60000;"
	 "atimeout=2500;containerd=/host/containerd;crio=/host/crio;nocsel=1;cattrs=1;"
	 "prefixes[example.com/,team]entries=0;"},
	{"k8s read-only port", "attestors: {kubernetes: {kubelet: {read_only_port: 10255}}}", 0,
	 "sport=10250;roport=10255;"},
	{"k8s design example ports",
	 "attestors: {kubernetes: {kubelet: {secure_port: 10250, read_only_port: 0}}}", 0,
	 "sport=10250;roport=0;"},
	{"k8s token", "attestors: {kubernetes: {kubelet: {token_path: /t}}}", 0, "token=/t;"},
	{"k8s anonymous", "attestors: {kubernetes: {kubelet: {anonymous: true}}}", 0, "anon=1;"},
	{"k8s empty prefixes", "attestors: {kubernetes: {include_annotation_prefixes: []}}", 0,
	 "cattrs=0;entries=0;"},
	{"k8s both ports",
	 "attestors: {kubernetes: {kubelet: {secure_port: 10250, read_only_port: 10255}}}", -EINVAL,
	 "attestors.kubernetes.kubelet: read_only_port and secure_port are mutually exclusive"},
	{"k8s cert without key", "attestors: {kubernetes: {kubelet: {cert: /c.pem}}}", -EINVAL,
	 "attestors.kubernetes.kubelet: cert is set but key is missing"},
	{"k8s key without cert", "attestors: {kubernetes: {kubelet: {key: /c.key}}}", -EINVAL,
	 "key is set but cert is missing"},
	{"k8s anonymous and token",
	 "attestors: {kubernetes: {kubelet: {anonymous: true, token_path: /t}}}", -EINVAL,
	 "anonymous: true excludes token_path"},
	{"k8s anonymous and cert",
	 "attestors: {kubernetes: {kubelet: {anonymous: true, cert: /c, key: /k}}}", -EINVAL,
	 "anonymous: true excludes cert/key"},
	{"k8s token and cert",
	 "attestors: {kubernetes: {kubelet: {token_path: /t, cert: /c, key: /k}}}", -EINVAL,
	 "token_path and cert/key are mutually exclusive"},
	{"k8s port 0", "attestors: {kubernetes: {kubelet: {secure_port: 0}}}", -EINVAL,
	 "attestors.kubernetes.kubelet.secure_port: expected an integer from 1 to 65535"},
	{"k8s port too big", "attestors: {kubernetes: {kubelet: {read_only_port: 65536}}}", -EINVAL,
	 "read_only_port: expected an integer from 0 to 65535, got \"65536\""},
	{"k8s relative ca", "attestors: {kubernetes: {kubelet: {ca: ca.pem}}}", -EINVAL,
	 "attestors.kubernetes.kubelet.ca: \"ca.pem\": must be an absolute path"},
	{"k8s bad node name", "attestors: {kubernetes: {kubelet: {node_name: \"a b\"}}}", -EINVAL,
	 "kubelet.node_name: \"a b\": not a host name"},
	{"k8s bad env name", "attestors: {kubernetes: {kubelet: {node_name_env: 1NODE}}}", -EINVAL,
	 "kubelet.node_name_env: \"1NODE\": not an environment variable name"},
	{"k8s min interval too small", "attestors: {kubernetes: {refresh: {min_interval: 5ms}}}",
	 -EINVAL, "attestors.kubernetes.refresh.min_interval: expected a duration from 10ms to 1m"},
	{"k8s interval below min",
	 "attestors: {kubernetes: {refresh: {min_interval: 2s, interval: 1s}}}", -EINVAL,
	 "attestors.kubernetes.refresh: interval (1000 ms) is shorter than min_interval (2000 ms)"},
	{"k8s timeout too long", "attestors: {kubernetes: {attestation_timeout: 11m}}", -EINVAL,
	 "attestation_timeout: expected a duration from 100ms to 10m (e.g. 500ms, 10s, 1m), got "
	 "\"11m\""},
	{"k8s bad duration", "attestors: {kubernetes: {attestation_timeout: 5}}", -EINVAL,
	 "attestation_timeout: expected a duration"},
	{"k8s prefixes not a list", "attestors: {kubernetes: {include_annotation_prefixes: a}}",
	 -EINVAL, "include_annotation_prefixes: expected a sequence, got a scalar"},
	{"k8s empty prefix", "attestors: {kubernetes: {include_annotation_prefixes: [\"\"]}}",
	 -EINVAL, "include_annotation_prefixes[0]: expected a string, got an empty string"},
	{"k8s unknown key", "attestors: {kubernetes: {kubelet: {port: 1}}}", -EINVAL,
	 "attestors.kubernetes.kubelet.port: unknown key (known: secure_port, read_only_port, ca, "
	 "skip_verification, token_path, cert, key, anonymous, node_name_env, node_name)"},
	{"k8s spire name", "attestors: {kubernetes: {skip_kubelet_verification: true}}", -EINVAL,
	 "attestors.kubernetes.skip_kubelet_verification: unknown key"},

	/* duplicates */
	{"duplicate top key", "socket: /a\nsocket: /b\n", -EINVAL,
	 "cfg.yaml:2:1: socket: duplicate key"},
	{"duplicate nested key", "log: {level: info, level: debug}", -EINVAL,
	 "log.level: duplicate key"},
	{"duplicate section", "peer: {backend: lsm}\npeer: {pin_dir: /x}\n", -EINVAL,
	 "peer: duplicate key"},

	/* wrong types */
	{"scalar for mapping", "log: info", -EINVAL,
	 "cfg.yaml:1:6: log: expected a mapping, got a scalar"},
	{"sequence for mapping", "peer: [lsm]", -EINVAL,
	 "peer: expected a mapping, got a sequence"},
	{"mapping for scalar", "socket: {path: /a}", -EINVAL,
	 "socket: expected a value, got a mapping"},
	{"sequence for scalar", "trust_domain: [a, b]", -EINVAL,
	 "trust_domain: expected a value, got a sequence"},
	{"empty scalar", "trust_domain:\n", -EINVAL,
	 "trust_domain: expected a value, got an empty value"},
	{"null scalar", "state_dir: null\n", -EINVAL,
	 "state_dir: expected a value, got an empty value"},
	{"top level sequence", "- a\n- b\n", -EINVAL,
	 "cfg.yaml:1:1: the top level must be a mapping, not a sequence"},
	{"top level scalar", "hello\n", -EINVAL, "the top level must be a mapping, not a scalar"},
	{"complex key", "? {a: 1}\n: 2\n", -EINVAL, "a key must be a string, not a mapping"},
	{"deep nesting",
	 "trust_domain: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	 -EINVAL, "trust_domain: expected a value, got a sequence"},

	/* YAML features refused */
	{"alias", "log: &l {level: info}\npeer: *l\n", -EPROTO,
	 "cfg.yaml:2:7: peer: YAML aliases (*name) are not supported"},
	{"tag", "trust_domain: !!str example.org\n", -EPROTO, "trust_domain: YAML tags"},
	{"two documents", "trust_domain: a\n---\ntrust_domain: b\n", -EPROTO,
	 "cfg.yaml:2:1: more than one YAML document"},
	{"syntax error", "log: {level: info\n", -EPROTO, "cfg.yaml:2:1: YAML syntax error"},
	{"bad indentation", "peer:\n  backend: lsm\n pin_dir: /x\n", -EPROTO, "YAML syntax error"},
	{"tab indentation", "peer:\n\tbackend: lsm\n", -EPROTO, "YAML syntax error"},
	{"invalid utf8", "trust_domain: \xff\n", -EPROTO, "cfg.yaml: invalid input at byte 14"},

	/* trust_domain */
	{"td uppercase", "trust_domain: Example.org", -EINVAL,
	 "cfg.yaml:1:15: trust_domain: \"Example.org\": uppercase letters are not allowed (SPIFFE "
	 "trust domains are lowercase)"},
	{"td with scheme", "trust_domain: spiffe://example.org", -EINVAL, "without spiffe://"},
	{"td space", "trust_domain: \"exa mple\"", -EINVAL, "invalid character at position 4"},
	{"td slash", "trust_domain: example.org/x", -EINVAL, "invalid character at position 12"},
	{"td port", "trust_domain: \"example.org:8080\"", -EINVAL, "invalid character"},
	{"td empty quoted", "trust_domain: \"\"", -EINVAL,
	 "trust_domain: expected a value, got an empty string"},
	{"td too long", "trust_domain: " A100 A100 A50 "aaaaaa", -EINVAL, "longer than 255"},
	{"td nul", "trust_domain: \"a\\0b\"", -EINVAL, "trust_domain: value contains a NUL"},

	/* paths */
	{"socket relative", "socket: run/a.sock", -EINVAL,
	 "socket: \"run/a.sock\": must be an absolute path"},
	{"socket too long", "socket: /" A100 "aaaaaaa", -EINVAL,
	 "socket: path is 108 bytes; a Unix socket path must be shorter than 108 bytes"},
	{"admin socket too long", "admin_socket: /" A100 "aaaaaaaaaaaaaaa", -EINVAL,
	 "admin_socket: path is 116 bytes"},
	{"sockets equal", "socket: /run/x.sock\nadmin_socket: /run/x.sock\n", -EINVAL,
	 "cfg.yaml: socket and admin_socket must differ (both are /run/x.sock)"},
	{"state_dir relative", "state_dir: var/lib", -EINVAL,
	 "state_dir: \"var/lib\": must be an absolute"},
	{"pin_dir relative", "peer: {pin_dir: bpf}", -EINVAL,
	 "peer.pin_dir: \"bpf\": must be an absolute"},
	{"path newline", "state_dir: \"/var/\\nlib\"", -EINVAL,
	 "state_dir: path contains a control"},
	{"path nul", "state_dir: \"/var\\0/lib\"", -EINVAL, "state_dir: value contains a NUL"},

	/* log.level and peer.backend */
	{"level unknown", "log: {level: verbose}", -EINVAL,
	 "log.level: unknown level \"verbose\" (expected debug, info, warn or error)"},
	{"level uppercase", "log: {level: INFO}", -EINVAL, "unknown level \"INFO\""},
	{"backend typo", "peer: {backend: bfp}", -EINVAL,
	 "peer.backend: unknown backend \"bfp\" (expected auto, lsm, fexit, connect_unix, pidfd or "
	 "peercred)"},
	{"backend proc", "peer: {backend: proc}", -EINVAL, "unknown backend \"proc\""},
	{"backend number", "peer: {backend: 1}", -EINVAL, "unknown backend \"1\""},

	/* booleans */
	{"bool yes", "peer: {require_race_free: yes}", -EINVAL,
	 "peer.require_race_free: expected true or false, got \"yes\" (YAML 1.1 forms like "
	 "yes/no/on/off are not accepted)"},
	{"bool off", "attestors: {unix: {enabled: off}}", -EINVAL,
	 "attestors.unix.enabled: expected true or false"},
	{"bool True", "peer: {require_race_free: True}", -EINVAL,
	 "expected true or false, got \"True\""},
	{"bool 1", "peer: {require_race_free: 1}", -EINVAL, "expected true or false"},
	{"racy backend, race-free required", "peer: {backend: peercred, require_race_free: true}",
	 -EINVAL, "peer.backend peercred reads /proc after accept() and is not race-free"},
	{"pidfd, race-free required", "peer: {backend: pidfd, require_race_free: true}", -EINVAL,
	 "but peer.require_race_free is true"},
	{"bool quoted", "peer: {require_race_free: \"true\"}", -EINVAL,
	 "got the quoted string \"true\""},

	/* integers */
	{"audit zero", "audit: {entries: 0}", -EINVAL,
	 "audit.entries: expected an integer from 1 to 1048576, got \"0\""},
	{"audit too big", "audit: {entries: 1048577}", -EINVAL, "from 1 to 1048576"},
	{"audit negative", "audit: {entries: -1}", -EINVAL, "got \"-1\""},
	{"audit hex", "audit: {entries: 0x10}", -EINVAL, "got \"0x10\""},
	{"audit leading zero", "audit: {entries: 010}", -EINVAL, "got \"010\""},
	{"audit exponent", "audit: {entries: 1e3}", -EINVAL, "got \"1e3\""},
	{"audit overflow", "audit: {entries: 99999999999999999999999}", -EINVAL, "from 1 to"},
	{"audit quoted", "audit: {entries: \"4096\"}", -EINVAL, "from 1 to"},
	{"audit underscore", "audit: {entries: 4_096}", -EINVAL, "from 1 to"},
	{"threads zero", "workers: {threads: 0}", -EINVAL,
	 "workers.threads: expected an integer from 1 to 64"},
	{"threads 65", "workers: {threads: 65}", -EINVAL, "from 1 to 64, got \"65\""},
	{"threads float", "workers: {threads: 2.0}", -EINVAL, "got \"2.0\""},

	/* sizes */
	{"size MB", "attestors: {unix: {hash_size_limit: 10MB}}", -EINVAL,
	 "attestors.unix.hash_size_limit: expected a size in bytes, optionally with KiB, MiB or "
	 "GiB"},
	{"size space", "attestors: {unix: {hash_size_limit: 10 MiB}}", -EINVAL, "got \"10 MiB\""},
	{"size no digits", "attestors: {unix: {hash_size_limit: MiB}}", -EINVAL, "got \"MiB\""},
	{"size negative", "attestors: {unix: {hash_size_limit: -1}}", -EINVAL, "got \"-1\""},
	{"size lowercase", "attestors: {unix: {hash_size_limit: 1kib}}", -EINVAL, "got \"1kib\""},
	{"size overflow", "attestors: {unix: {hash_size_limit: 17179869184GiB}}", -EINVAL,
	 "\"17179869184GiB\": too large"},
	{"size overflow plain", "attestors: {unix: {hash_size_limit: 18446744073709551616}}",
	 -EINVAL, "too large"},

	/* ca */
	{"ca generate", "ca: {generate: true}", 0, "ca=gen;"},
	{"ca empty section", "ca:\n", 0, "ca=gen;"},
	{"ca files", "ca: {cert: /etc/a/ca.pem, key: /etc/a/ca.key}", 0,
	 "ca=cert:/etc/a/ca.pem,key:/etc/a/ca.key,bundle:;"},
	{"ca files, generate false, bundle",
	 "ca:\n  generate: false\n  cert: /c.pem\n  key: /k.pem\n  bundle: /b.pem\n", 0,
	 "ca=cert:/c.pem,key:/k.pem,bundle:/b.pem;"},
	{"ca generate and files", "ca: {generate: true, cert: /a, key: /b}", -EINVAL,
	 "cfg.yaml: ca: generate: true and cert/key/bundle are mutually exclusive"},
	{"ca cert only", "ca: {cert: /a}", -EINVAL, "cfg.yaml: ca: cert is set but key is missing"},
	{"ca key only", "ca: {key: /a}", -EINVAL, "ca: key is set but cert is missing"},
	{"ca bundle only", "ca: {bundle: /a}", -EINVAL, "ca: bundle is set but cert is missing"},
	{"ca nothing", "ca: {generate: false}", -EINVAL,
	 "ca: generate is false, so cert and key (PEM files) are required"},
	{"ca relative", "ca: {cert: ca.pem, key: /k}", -EINVAL,
	 "cfg.yaml:1:12: ca.cert: \"ca.pem\": must be an absolute path"},
	{"ca generate yes", "ca: {generate: yes}", -EINVAL, "ca.generate: expected true or false"},
	{"ca unknown key", "ca: {gen: true}", -EINVAL,
	 "ca.gen: unknown key (known: generate, cert, key, bundle)"},
	{"ca scalar", "ca: generate", -EINVAL, "ca: expected a mapping, got a scalar"},

	/* svid */
	{"svid ttls", "svid: {x509_ttl: 30m, jwt_ttl: 90s}", 0, "x509=1800;jwt=90;"},
	{"svid mixed units", "svid: {x509_ttl: 1h30m}", 0, "x509=5400;jwt=300;"},
	{"svid x509 min", "svid: {x509_ttl: 10s}", 0, "x509=10;"},
	{"svid x509 max", "svid: {x509_ttl: 720h}", 0, "x509=2592000;"},
	{"svid jwt min", "svid: {jwt_ttl: 30s}", 0, "jwt=30;"},
	{"svid jwt max", "svid: {jwt_ttl: 24h}", 0, "jwt=86400;"},
	{"svid whole seconds in ms", "svid: {jwt_ttl: 60000ms}", 0, "jwt=60;"},
	{"svid x509 too short", "svid: {x509_ttl: 9s}", -EINVAL,
	 "cfg.yaml:1:18: svid.x509_ttl: expected a duration in whole seconds from 10s to 720h "
	 "(e.g. "
	 "90s, 5m, 1h), got \"9s\""},
	{"svid x509 too long", "svid: {x509_ttl: 720h1s}", -EINVAL, "from 10s to 720h"},
	{"svid jwt too short", "svid: {jwt_ttl: 29s}", -EINVAL,
	 "svid.jwt_ttl: expected a duration in whole seconds from 30s to 24h"},
	{"svid jwt too long", "svid: {jwt_ttl: 25h}", -EINVAL, "got \"25h\""},
	{"svid fraction", "svid: {jwt_ttl: 30500ms}", -EINVAL, "in whole seconds"},
	{"svid no unit", "svid: {jwt_ttl: 60}", -EINVAL, "got \"60\""},
	{"svid days", "svid: {x509_ttl: 1d}", -EINVAL, "got \"1d\""},
	{"svid quoted", "svid: {x509_ttl: \"1h\"}", -EINVAL, "got \"1h\""},
	{"svid unknown", "svid: {ttl: 1h}", -EINVAL,
	 "svid.ttl: unknown key (known: x509_ttl, jwt_ttl)"},

	/* entries and templates: shapes */
	{"default template", "", 0,
	 "entries=0;templates=1;t0=spiffe://example.org/uid/{{unix.uid}};"},
	{"default template follows trust_domain", "trust_domain: prod.example\n", 0,
	 "entries=0;templates=1;t0=spiffe://prod.example/uid/{{unix.uid}};"},
	{"entries replace the default template",
	 "entries:\n"
	 "  - {spiffe_id: \"spiffe://example.org/web\", selectors: [\"unix:uid:1000\"], ttl: 10m,\n"
	 "     dns_names: [web.example.org], hint: web}\n",
	 0,
	 "entries=1;e0=spiffe://example.org/websel[unix:uid:1000]ttl=600dns[web.example.org]"
	 "hint=web;templates=0;"},
	{"block entries",
	 "trust_domain: td\n"
	 "entries:\n"
	 "  - spiffe_id: spiffe://td/a\n"
	 "    selectors:\n"
	 "      - unix:uid:1\n"
	 "      - \"k8s:pod-label:app:web\"\n"
	 "  - spiffe_id: spiffe://td/b\n"
	 "    selectors: [unix:gid:2]\n"
	 "    dns_names: [b.td, \"*.b.td\"]\n",
	 0,
	 "entries=2;e0=spiffe://td/asel[unix:uid:1,k8s:pod-label:app:web];"
	 "e1=spiffe://td/bsel[unix:gid:2]dns[b.td,*.b.td];templates=0;"},
	{"templates replace the default template",
	 "templates:\n"
	 "  - spiffe_id: \"spiffe://example.org/ns/{{kubernetes.pod.namespace}}/sa/"
	 "{{kubernetes.pod.service_account}}\"\n"
	 "    when: [\"k8s:ns:prod\", \"k8s:sa:web\"]\n"
	 "    ttl: 30m\n"
	 "    dns_names: [\"{{unix.user}}.example.org\"]\n"
	 "    hint: \"{{ unix.user }}\"\n"
	 "    x509_subject:\n"
	 "      common_name: \"{{unix.user}}\"\n"
	 "      organization: [Example, \"Team {{kubernetes.pod.label[team]}}\"]\n"
	 "      organizational_unit: [ops]\n"
	 "      country: [US]\n"
	 "      province: [CA]\n"
	 "      locality: [\"San Francisco\"]\n"
	 "    jwt_claims: {team: \"{{kubernetes.pod.label[team]}}\", \"https://x.example/k\": v}\n",
	 0,
	 "entries=0;templates=1;t0=spiffe://example.org/ns/{{kubernetes.pod.namespace}}/sa/"
	 "{{kubernetes.pod.service_account}}when[k8s:ns:prod,k8s:sa:web]ttl=1800"
	 "dns[{{unix.user}}.example.org]hint={{ unix.user }}cn={{unix.user}}"
	 "o[Example,Team {{kubernetes.pod.label[team]}}]ou[ops]c[US]st[CA]l[San Francisco]"
	 "claims{team={{kubernetes.pod.label[team]}},https://x.example/k=v};"},
	{"entries and templates",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: [a:b:c]}]\n"
	 "templates: [{spiffe_id: \"spiffe://example.org/u/{{unix.uid}}\", when: []}]\n",
	 0,
	 "entries=1;e0=spiffe://example.org/asel[a:b:c];templates=1;"
	 "t0=spiffe://example.org/u/{{unix.uid}};"},
	{"empty templates: no identities", "templates: []\n", 0, "entries=0;templates=0;"},
	{"empty entries: no identities", "entries:\n", 0, "entries=0;templates=0;"},
	{"null lists", "templates: [{spiffe_id: spiffe://example.org/x, when: ~, dns_names: }]", 0,
	 "templates=1;t0=spiffe://example.org/x;"},
	{"entries not a sequence", "entries: {a: 1}", -EINVAL,
	 "cfg.yaml:1:10: entries: expected a sequence, got a mapping"},
	{"entry not a mapping", "entries: [spiffe://example.org/a]", -EINVAL,
	 "cfg.yaml:1:11: entries[0]: expected a mapping, got a scalar"},
	{"entry unknown key",
	 "entries:\n  - spiffe_id: spiffe://example.org/a\n    selector: [a:b:c]\n", -EINVAL,
	 "cfg.yaml:3:5: entries[0].selector: unknown key (known: spiffe_id, selectors, ttl, "
	 "dns_names, hint)"},
	{"entry duplicate key",
	 "entries: [{spiffe_id: spiffe://example.org/a, spiffe_id: spiffe://example.org/b}]",
	 -EINVAL, "entries[0].spiffe_id: duplicate key"},
	{"entry selectors scalar",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: a:b:c}]", -EINVAL,
	 "entries[0].selectors: expected a sequence, got a scalar"},
	{"selector not a string",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: [[a:b:c]]}]", -EINVAL,
	 "entries[0].selectors[0]: expected a string, got a sequence"},
	{"selector empty string",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: [a:b:c, \"\"]}]", -EINVAL,
	 "entries[0].selectors[1]: expected a string, got an empty string"},
	{"selector null", "entries: [{spiffe_id: spiffe://example.org/a, selectors: [~]}]", -EINVAL,
	 "entries[0].selectors[0]: expected a string, got an empty value"},
	{"entry spiffe_id null", "entries: [{spiffe_id: , selectors: [a:b:c]}]", -EINVAL,
	 "entries[0].spiffe_id: expected a value, got an empty value"},
	{"entry ttl too short",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: [a:b:c], ttl: 1s}]", -EINVAL,
	 "entries[0].ttl: expected a duration in whole seconds from 10s to 720h"},
	{"template unknown key",
	 "templates:\n  - spiffe_id: spiffe://example.org/a\n    whne: []\n", -EINVAL,
	 "cfg.yaml:3:5: templates[0].whne: unknown key (known: spiffe_id, when, ttl, dns_names, "
	 "hint, x509_subject, jwt_claims)"},
	{"subject unknown key",
	 "templates: [{spiffe_id: spiffe://example.org/a, x509_subject: {cn: x}}]", -EINVAL,
	 "templates[0].x509_subject.cn: unknown key (known: common_name, organization, "
	 "organizational_unit, country, province, locality)"},
	{"claims sequence", "templates: [{spiffe_id: spiffe://example.org/a, jwt_claims: [a]}]",
	 -EINVAL, "templates[0].jwt_claims: expected a mapping, got a sequence"},
	{"claim value mapping",
	 "templates: [{spiffe_id: spiffe://example.org/a, jwt_claims: {a: {b: c}}}]", -EINVAL,
	 "templates[0].jwt_claims.a: expected a string, got a mapping"},
	{"claim duplicate",
	 "templates: [{spiffe_id: spiffe://example.org/a, jwt_claims: {a: x, a: y}}]", -EINVAL,
	 "templates[0].jwt_claims.a: duplicate key"},
	{"claim key not a string",
	 "templates: [{spiffe_id: spiffe://example.org/a, jwt_claims: {[a]: x}}]", -EINVAL,
	 "templates[0].jwt_claims: a claim name must be a string, not a sequence"},

	/* entries and templates: policy_new errors, with the item's line:col */
	{"entry missing spiffe_id", "entries:\n  - {selectors: [\"a:b:c\"]}\n", -EINVAL,
	 "cfg.yaml:2:5: entries[0].spiffe_id: missing"},
	{"entry trailing slash",
	 "entries:\n"
	 "  - {spiffe_id: \"spiffe://example.org/a\", selectors: [\"unix:uid:1\"]}\n"
	 "  - spiffe_id: \"spiffe://example.org/b/\"\n"
	 "    selectors: [\"unix:uid:2\"]\n",
	 -EINVAL,
	 "cfg.yaml:3:5: entries[1].spiffe_id: \"spiffe://example.org/b/\": a trailing \"/\" is not "
	 "allowed"},
	{"entry other trust domain",
	 "trust_domain: prod.example\n"
	 "entries: [{spiffe_id: \"spiffe://example.org/a\", selectors: [\"a:b:c\"]}]\n",
	 -EINVAL,
	 "cfg.yaml:2:11: entries[0].spiffe_id: \"spiffe://example.org/a\": not in the trust domain "
	 "prod.example"},
	{"entry without selectors", "entries: [{spiffe_id: spiffe://example.org/a}]", -EINVAL,
	 "entries[0].selectors: at least one selector is required"},
	{"entry bad selector", "entries: [{spiffe_id: spiffe://example.org/a, selectors: [unix]}]",
	 -EINVAL,
	 "cfg.yaml:1:11: entries[0].selectors[0]: \"unix\": not a selector (want type:key:value)"},
	{"entry bad dns",
	 "entries: [{spiffe_id: spiffe://example.org/a, selectors: [a:b:c], dns_names: [a..b]}]",
	 -EINVAL, "entries[0].dns_names[0]: DNS name has an empty label (label 2)"},
	{"template bad when",
	 "templates:\n"
	 "  - spiffe_id: \"spiffe://example.org/{{unix.uid}}\"\n"
	 "  - spiffe_id: \"spiffe://example.org/x/{{unix.uid}}\"\n"
	 "    when: [\"prod\"]\n",
	 -EINVAL,
	 "cfg.yaml:3:5: templates[1].when[0]: \"prod\": not a selector (want type:key:value)"},
	{"template unclosed", "templates: [{spiffe_id: \"spiffe://example.org/{{unix.uid\"}]",
	 -EINVAL, "cfg.yaml:1:13: templates[0].spiffe_id: offset 21: unclosed \"{{\""},
	{"template reference in trust domain",
	 "templates: [{spiffe_id: \"spiffe://{{unix.uid}}/x\"}]", -EINVAL,
	 "templates[0].spiffe_id: \"spiffe://x/x\": not in the trust domain example.org"},
	{"template reserved claim",
	 "templates: [{spiffe_id: spiffe://example.org/a, jwt_claims: {aud: x}}]", -EINVAL,
	 "templates[0].jwt_claims[0]: claim \"aud\" is set by attestd and cannot be templated"},
	{"template country",
	 "templates: [{spiffe_id: spiffe://example.org/a, x509_subject: {country: [USA]}}]",
	 -EINVAL, "templates[0].x509_subject.country[0]: \"USA\": not a two-letter country code"},
	{"template dns literal",
	 "templates: [{spiffe_id: spiffe://example.org/a, dns_names: [\"{{unix.user}}_x.org\"]}]",
	 -EINVAL, "templates[0].dns_names[0]: invalid character '_' in DNS label 1"},
	{"template hint control",
	 "templates: [{spiffe_id: spiffe://example.org/a, hint: \"a\\tb\"}]", -EINVAL,
	 "templates[0].hint: control character (byte 0x09) at byte 2"},
};

static void test_parse_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *t = &parse_cases[i];
		struct config cfg;
		char err[CONFIG_ERR_MAX];
		char d[DUMP_MAX];
		int rc;

		memset(err, 'x', sizeof(err));
		rc = config_parse(t->yaml, strlen(t->yaml), "cfg.yaml", &cfg, err);
		if (rc != t->rc) {
			print_error("%s: rc %d, want %d (err: %s)\n", t->name, rc, t->rc,
				    rc < 0 ? err : "");
			failures++;
		} else if (rc == 0) {
			dump(&cfg, d, sizeof(d));
			if (!strstr(d, t->expect) || err[0] != '\0') {
				print_error("%s: config %s does not contain %s (err: %.256s)\n",
					    t->name, d, t->expect, err);
				failures++;
			}
			config_free(&cfg);
		} else if (!memchr(err, '\0', sizeof(err)) || !strstr(err, t->expect)) {
			print_error("%s: err \"%.256s\" does not contain \"%s\"\n", t->name, err,
				    t->expect);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
	char da[DUMP_MAX], db[DUMP_MAX];

	dump(a, da, sizeof(da));
	dump(b, db, sizeof(db));
	assert_string_equal(da, db);
}

static void test_defaults_agree(void **state)
{
	const char *y = config_defaults_yaml();
	struct config def, parsed, empty;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(config_defaults(&def), 0);
	memset(&parsed, 0xa5, sizeof(parsed));
	assert_int_equal(config_parse(y, strlen(y), "defaults", &parsed, err), 0);
	assert_config_equal(&def, &parsed);
	assert_int_equal(config_parse("", 0, "empty", &empty, err), 0);
	assert_config_equal(&def, &empty);
	assert_true(def.ca_generate);
	assert_int_equal(def.x509_ttl_s, 3600);
	assert_int_equal(def.jwt_ttl_s, 300);
	assert_int_equal(def.nentries, 0);
	assert_null(def.entries);
	assert_int_equal(def.ntemplates, 1);
	assert_string_equal(def.templates[0].spiffe_id, "spiffe://example.org/uid/{{unix.uid}}");
	assert_int_equal(def.templates[0].nwhen, 0);
	config_free(&parsed);
	config_free(&empty);
	assert_string_equal(def.trust_domain, "example.org");
	assert_string_equal(def.socket_path, "/run/attestd/agent.sock");
	assert_int_equal(def.log_level, LOG_INFO);
	assert_int_equal(def.peer_backend, PEER_BACKEND_AUTO);
	assert_int_equal(def.worker_threads, 2);
	assert_int_equal(def.audit_entries, 4096);
	assert_true(def.unix_enabled);
	/* a value that differs from the defaults shows the comparison can fail */
	assert_int_equal(config_parse("workers: {threads: 3}", 21, "x", &parsed, err), 0);
	assert_int_equal(parsed.worker_threads, 3);
	config_free(&parsed);
	config_free(&def);
	config_free(&def); /* safe twice */
	assert_int_equal(def.ntemplates, 0);
}

static void test_failure_keeps_output(void **state)
{
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	const char *bad = "workers: {threads: 8}\nbogus: 1\n";

	memset(&cfg, 0x5a, sizeof(cfg));
	assert_int_equal(config_parse(bad, strlen(bad), "c", &cfg, err), -EINVAL);
	for (size_t i = 0; i < sizeof(cfg); i++)
		assert_int_equal(((unsigned char *)&cfg)[i], 0x5a);
}

static void test_parse_limits(void **state)
{
	size_t n = CONFIG_MAX_FILE_SIZE + 1;
	char *big = malloc(n);
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	static const char with_nul[] = "trust_domain: a\0b\n";

	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(config_parse(big, n, "big.yaml", &cfg, err), -EPROTO);
	assert_string_equal(err, "big.yaml: too large (1048577 bytes, at most 1048576)");
	/* exactly at the limit: a comment-only file is fine */
	assert_int_equal(config_parse(big, n - 1, "big.yaml", &cfg, err), 0);
	config_free(&cfg);
	free(big);

	/* the length, not a NUL, ends the input; a raw NUL byte is not valid YAML */
	assert_int_equal(config_parse(with_nul, sizeof(with_nul) - 1, "n.yaml", &cfg, err),
			 -EPROTO);
	assert_non_null(strstr(err, "n.yaml: invalid input at byte 15"));
	assert_int_equal(config_parse("trust_domain: abcdef", 15, "n.yaml", &cfg, err), 0);
	assert_string_equal(cfg.trust_domain, "a");
	config_free(&cfg);
	assert_int_equal(config_parse(NULL, 0, NULL, &cfg, err), 0);
	config_free(&cfg);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX";
	char path[64], msg[CONFIG_ERR_MAX];
	struct config cfg;
	char err[CONFIG_ERR_MAX];
	int fd;

	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/ok.yaml", dir);
	write_file(path, "trust_domain: file.example\npeer:\n  backend: pidfd\n");
	assert_int_equal(config_load_file(path, &cfg, err), 0);
	assert_string_equal(cfg.trust_domain, "file.example");
	assert_int_equal(cfg.peer_backend, PEER_BACKEND_PIDFD);
	config_free(&cfg);
	unlink(path);

	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	write_file(path, "peer:\n  bakend: lsm\n");
	assert_int_equal(config_load_file(path, &cfg, err), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:2:3: peer.bakend: unknown key", path);
	assert_non_null(strstr(err, msg));
	unlink(path);

	snprintf(path, sizeof(path), "%s/empty.yaml", dir);
	write_file(path, "");
	assert_int_equal(config_load_file(path, &cfg, err), 0);
	assert_string_equal(cfg.trust_domain, "example.org");
	config_free(&cfg);
	unlink(path);

	assert_int_equal(config_load_file("/nonexistent-attestd/x.yaml", &cfg, err), -ENOENT);
	assert_string_equal(err,
			    "/nonexistent-attestd/x.yaml: cannot open: No such file or directory");

	assert_int_equal(config_load_file(dir, &cfg, err), -EINVAL);
	snprintf(msg, sizeof(msg), "%s: not a regular file", dir);
	assert_string_equal(err, msg);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_load_file(path, &cfg, err), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);

	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CONFIG_MAX_FILE_SIZE + 1), 0);
	close(fd);
	assert_int_equal(config_load_file(path, &cfg, err), -EFBIG);
	assert_non_null(strstr(err, "big.yaml: too large (1048577 bytes, at most 1048576)"));
	unlink(path);

	assert_int_equal(rmdir(dir), 0);
}

/* The shipped example must stay valid and equal to the defaults (run from the repo root). */
static void test_example_file(void **state)
{
	struct config def, ex;
	char err[CONFIG_ERR_MAX];
	char da[DUMP_MAX], de[DUMP_MAX];
	int rc = config_load_file("deploy/attestd.example.yaml", &ex, err);

	if (rc == -ENOENT) {
		print_message(
			"deploy/attestd.example.yaml not found (not run from the repo root)\n");
		skip();
	}
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(config_defaults(&def), 0);
	dump(&def, da, sizeof(da));
	dump(&ex, de, sizeof(de));
	config_free(&def);
	config_free(&ex);
	assert_string_equal(da, de);
}

/* Counted lists stop at their limits, naming the list and the item's line. */
static void test_list_limits(void **state)
{
	size_t size = 64 * 1024, o;
	char *y = malloc(size);
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	assert_non_null(y);
	for (int n = POLICY_MAX_SELECTORS; n <= POLICY_MAX_SELECTORS + 1; n++) {
		o = (size_t)snprintf(y, size,
				     "entries:\n  - spiffe_id: spiffe://example.org/a\n"
				     "    selectors:\n");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(y + o, size - o, "      - unix:uid:%d\n", i);
		if (n == POLICY_MAX_SELECTORS) {
			assert_int_equal(config_parse(y, o, "l.yaml", &cfg, err), 0);
			assert_int_equal(cfg.entries[0].nselectors, POLICY_MAX_SELECTORS);
			config_free(&cfg);
		} else {
			assert_int_equal(config_parse(y, o, "l.yaml", &cfg, err), -EINVAL);
			assert_string_equal(
				err, "l.yaml:68:9: entries[0].selectors: more than 64 items");
		}
	}
	o = (size_t)snprintf(y, size, "templates:\n");
	for (int i = 0; i <= POLICY_MAX_TEMPLATES; i++)
		o += (size_t)snprintf(y + o, size - o, "- {spiffe_id: spiffe://example.org/%d}\n",
				      i);
	assert_int_equal(config_parse(y, o, "l.yaml", &cfg, err), -EINVAL);
	assert_string_equal(err, "l.yaml:1026:3: templates: more than 1024 items");
	o = (size_t)snprintf(y, size,
			     "templates: [{spiffe_id: spiffe://example.org/a, dns_names: [");
	for (int i = 0; i <= POLICY_MAX_LIST; i++)
		o += (size_t)snprintf(y + o, size - o, "%sa%d.example", i ? ", " : "", i);
	o += (size_t)snprintf(y + o, size - o, "]}]");
	assert_int_equal(config_parse(y, o, "l.yaml", &cfg, err), -EINVAL);
	assert_non_null(strstr(err, "templates[0].dns_names: more than 64 items"));
	free(y);
}

/* A file that sets everything, then fails late (policy check): nothing leaks (ASan). */
static void test_late_failure_frees(void **state)
{
	const char *y = "ca: {cert: /c, key: /k}\n"
			"entries: [{spiffe_id: spiffe://example.org/a, selectors: [a:b:c], "
			"dns_names: [a.example], hint: h}]\n"
			"templates: [{spiffe_id: spiffe://example.org/b, when: [a:b:c], "
			"x509_subject: {common_name: c, organization: [o]}, jwt_claims: {t: v}},\n"
			"            {spiffe_id: spiffe://example.org//c}]\n";
	struct config cfg;
	char err[CONFIG_ERR_MAX];

	memset(&cfg, 0x5a, sizeof(cfg));
	assert_int_equal(config_parse(y, strlen(y), "late.yaml", &cfg, err), -EINVAL);
	assert_string_equal(err, "late.yaml:4:13: templates[1].spiffe_id: "
				 "\"spiffe://example.org//c\": path segment 1 is empty");
	for (size_t i = 0; i < sizeof(cfg); i++)
		assert_int_equal(((unsigned char *)&cfg)[i], 0x5a);
}

struct duration_case {
	const char *text;
	int rc;
	uint64_t ms;
};

static const struct duration_case duration_cases[] = {
	{"250ms", 0, 250},
	{"90s", 0, 90000},
	{"5m", 0, 300000},
	{"1h", 0, 3600000},
	{"2h30m", 0, 9000000},
	{"1h0m5s", 0, 3605000},
	{"1h1ms", 0, 3600001},
	{"1m30s500ms", 0, 90500},
	{"0s", 0, 0},
	{"18446744073709551615ms", 0, UINT64_MAX},
	{"", -EINVAL, 0},
	{"-5s", -EINVAL, 0},
	{"+5s", -EINVAL, 0},
	{"90", -EINVAL, 0},
	{"0", -EINVAL, 0},
	{"5x", -EINVAL, 0},
	{"5sec", -EINVAL, 0},
	{"5d", -EINVAL, 0},
	{"5S", -EINVAL, 0},
	{"5 s", -EINVAL, 0},
	{" 5s", -EINVAL, 0},
	{"5s ", -EINVAL, 0},
	{"s", -EINVAL, 0},
	{"ms5", -EINVAL, 0},
	{"1.5h", -EINVAL, 0},
	{"30m2h", -EINVAL, 0},
	{"1s1s", -EINVAL, 0},
	{"1h2h", -EINVAL, 0},
	{"5s10ms20ms", -EINVAL, 0},
	{"18446744073709551616ms", -EINVAL, 0},
	{"18446744073709551615s", -EINVAL, 0},
	{"5124095576030h", 0, 18446744073708000000ull},
	{"5124095576030h25m", 0, 18446744073709500000ull},
	{"5124095576031h", -EINVAL, 0},
	{"5124095576030h26m", -EINVAL, 0},
	{"999999999999999999999999999999999h", -EINVAL, 0},
};

static void test_duration_table(void **state)
{
	for (size_t i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
		const struct duration_case *t = &duration_cases[i];
		uint64_t ms = 12345;
		int rc = config_parse_duration_ms(t->text, &ms);

		if (rc != t->rc)
			fail_msg("\"%s\": rc %d, want %d", t->text, rc, t->rc);
		if (rc == 0 && ms != t->ms)
			fail_msg("\"%s\": %llu ms, want %llu", t->text, (unsigned long long)ms,
				 (unsigned long long)t->ms);
		if (rc < 0 && ms != 12345)
			fail_msg("\"%s\": output changed on failure", t->text);
	}
	assert_int_equal(config_parse_duration_ms(NULL, &(uint64_t){0}), -EINVAL);
}

/* Writes len bytes to path. */
static void write_bytes(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Enabled sigstore blocks: the trusted root is loaded, the policy built, rekor_url checked. */
static void test_sigstore(void **state)
{
	char dir[] = "/tmp/attestd-test-config-XXXXXX", root[64], bad[64], yaml[2048];
	char err[CONFIG_ERR_MAX];
	const char *builtin;
	struct config a, b;
	size_t len;
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/root.json", dir);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	builtin = config_builtin_trusted_root(&len);
	assert_true(len > 1000);
	assert_non_null(strstr(builtin, "https://rekor.sigstore.dev"));
	write_bytes(root, builtin, len);
	write_bytes(bad, "{\"tlogs\": 5}", 13);

#define SIG_YAML(extra)                                                                      \
	"attestors:\n  kubernetes:\n    enabled: true\n    sigstore:\n      enabled: true\n" \
	"      allowed_identities: {\"https://token.actions.githubusercontent.com\": "       \
	"[\"https://github.com/org/*\"], \"https://i2\": [a, b]}\n" extra

	/* an explicit trusted root */
	snprintf(yaml, sizeof(yaml), SIG_YAML("      trusted_root: %s\n"), root);
	rc = config_parse(yaml, strlen(yaml), "c", &a, err);
	if (rc)
		fail_msg("%s", err);
	assert_non_null(a.k8s_sigstore.trust_root);
	assert_non_null(a.k8s_sigstore.policy);
	assert_int_equal(sigstore_identity_policy_count(a.k8s_sigstore.policy), 3);
	assert_true(sigstore_identity_policy_allows(a.k8s_sigstore.policy,
						    "https://token.actions.githubusercontent.com",
						    "https://github.com/org/x"));
	assert_false(sigstore_identity_policy_allows(a.k8s_sigstore.policy, "https://i2", "c"));
	assert_string_equal(a.k8s_sigstore.trusted_root_source, root);

	/* the same settings do not differ; the trusted root's contents count */
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &b, err), 0);
	assert_false(config_sigstore_differs(&a.k8s_sigstore, &b.k8s_sigstore));
	config_free(&b);
	write_bytes(root, builtin, len); /* rewritten, same bytes */
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &b, err), 0);
	assert_false(config_sigstore_differs(&a.k8s_sigstore, &b.k8s_sigstore));
	config_free(&b);
	{
		/* one more space: other bytes, same meaning */
		char *copy = malloc(len + 1);

		assert_non_null(copy);
		copy[0] = ' ';
		memcpy(copy + 1, builtin, len);
		write_bytes(root, copy, len + 1);
		free(copy);
	}
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &b, err), 0);
	assert_true(config_sigstore_differs(&a.k8s_sigstore, &b.k8s_sigstore));
	config_free(&b);
	snprintf(yaml, sizeof(yaml), SIG_YAML("      trusted_root: %s\n      timeout: 10s\n"),
		 root);
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &b, err), 0);
	assert_true(config_sigstore_differs(&a.k8s_sigstore, &b.k8s_sigstore));
	config_free(&b);
	config_free(&a);

	/* a missing explicit path is an error, and so is a malformed root */
	snprintf(yaml, sizeof(yaml), SIG_YAML("      trusted_root: %s/none.json\n"), dir);
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &a, err), -EINVAL);
	assert_non_null(strstr(err, "c: attestors.kubernetes.sigstore.trusted_root: "));
	assert_non_null(strstr(err, "none.json: cannot read: No such file or directory"));
	snprintf(yaml, sizeof(yaml), SIG_YAML("      trusted_root: %s\n"), bad);
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &a, err), -EINVAL);
	assert_non_null(strstr(err, "attestors.kubernetes.sigstore.trusted_root: "));
	assert_non_null(strstr(err, "bad.json: "));

	/* rekor_url must name a log of the trusted root */
	snprintf(yaml, sizeof(yaml),
		 SIG_YAML("      trusted_root: %s\n      rekor_url: https://rekor.example\n"),
		 root);
	assert_int_equal(config_parse(yaml, strlen(yaml), "c", &a, err), -EINVAL);
	assert_non_null(strstr(err, "attestors.kubernetes.sigstore.rekor_url: "
				    "\"https://rekor.example\" is not a transparency log of the "
				    "trusted root"));
	snprintf(yaml, sizeof(yaml),
		 SIG_YAML("      trusted_root: %s\n      rekor_url: "
			  "https://log2025-1.rekor.sigstore.dev/\n"),
		 root);
	rc = config_parse(yaml, strlen(yaml), "c", &a, err);
	if (rc)
		fail_msg("%s", err);
	config_free(&a);

	/* an invalid pattern is named by issuer and index */
	{
		/* 1100 characters: longer than SIGSTORE_IDENTITY_MAX_PATTERN */
		char big[4096];

		snprintf(big, sizeof(big),
			 "attestors:\n  kubernetes:\n    enabled: true\n    sigstore:\n"
			 "      enabled: true\n      trusted_root: %s\n"
			 "      allowed_identities: {\"https://i\": [a, %01100d]}\n",
			 root, 0);
		assert_int_equal(config_parse(big, strlen(big), "c", &a, err), -EINVAL);
		assert_non_null(strstr(
			err, "attestors.kubernetes.sigstore.allowed_identities.https://i[1]: "));
	}

	/* without trusted_root: /etc/attestd/trusted_root.json if it exists, else built in */
	snprintf(yaml, sizeof(yaml), SIG_YAML(""));
	rc = config_parse(yaml, strlen(yaml), "c", &a, err);
	if (access(CONFIG_SIGSTORE_DEFAULT_ROOT, F_OK) == 0) {
		print_message("%s exists: the built-in fallback is not tested\n",
			      CONFIG_SIGSTORE_DEFAULT_ROOT);
		if (rc == 0)
			config_free(&a);
	} else {
		if (rc)
			fail_msg("%s", err);
		assert_string_equal(a.k8s_sigstore.trusted_root_source, "built-in");
		assert_non_null(a.k8s_sigstore.trust_root);
		config_free(&a);
	}
#undef SIG_YAML
	unlink(root);
	unlink(bad);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_defaults_agree),
		cmocka_unit_test(test_failure_keeps_output),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_late_failure_frees),
		cmocka_unit_test(test_duration_table),
		cmocka_unit_test(test_sigstore),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
