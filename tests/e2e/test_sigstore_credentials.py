"""Registry credentials for sigstore/oci.c from a kubelet credential-provider plugin and from a
docker credential helper (sigstore/oci_auth.c), against a token-authenticated front for a real
docker-registry on 127.0.0.1 over TLS.

The front demands registry token auth (Bearer challenge; the token endpoint takes Basic
credentials) and proxies everything else to the registry. The image carries one legacy
sha256-<hex>.sig layer, so tests/tools/oci_fetch ($ATTESTD_BUILD/tests/oci_fetch) returns a
signature without any trust root. oci_fetch needs the flags
  --credential-provider-config F --credential-provider-bin-dir D --credential-helper-dir D

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_sigstore_credentials.py
"""

import base64
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

import pytest

import helpers

try:
    from sigstore_env import Registry, registry_prereqs
except ImportError:  # before tests/e2e/sigstore_env.py existed
    from test_sigstore_registry import Registry

    def registry_prereqs():
        if os.geteuid() != 0:
            return "needs root: starts docker-registry on 127.0.0.1"
        if not os.access("/usr/bin/docker-registry", os.X_OK):
            return "needs docker-registry: apt-get install docker-registry (make deps)"
        if shutil.which("openssl") is None:
            return "needs openssl: apt-get install openssl"
        return None

OCI_FETCH = os.path.join(helpers.BUILD, "tests", "oci_fetch")
FLAGS = (b"--credential-provider-config", b"--credential-provider-bin-dir",
         b"--credential-helper-dir")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPO = "creds/image"
USER, PASSWORD, TOKEN = "node-user", "node-s3cret", "tok-creds-42"


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def push_signed_image(reg):
    """A tiny image plus a sha256-<hex>.sig manifest with one simple-signing layer naming it."""
    cfg = reg.put_blob(REPO, b'{"architecture":"amd64","os":"linux","rootfs":'
                             b'{"type":"layers","diff_ids":[]}}')
    digest = reg.put_manifest(REPO, "v1", compact({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": []}), OCI_MANIFEST)
    payload = reg.put_blob(REPO, compact({
        "critical": {"identity": {"docker-reference": REPO}, "image":
                     {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"}, "optional": None}))
    empty = reg.put_blob(REPO, b"{}")
    reg.put_manifest(REPO, "sha256-%s.sig" % digest[7:], compact({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **empty},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", **payload,
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}]}),
        OCI_MANIFEST)
    return digest


class Front(http.server.ThreadingHTTPServer):
    """TLS front demanding registry token auth; proxies authorized GETs to the registry."""

    daemon_threads = True

    def __init__(self, reg):
        self.reg = reg
        self.token_requests = 0
        super().__init__(("127.0.0.1", 0), FrontHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(reg.tmp, "srv.pem"), os.path.join(reg.tmp, "srv.key"))
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.host = "127.0.0.1:%d" % self.server_address[1]


class FrontHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token?"):
            srv.token_requests += 1
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if auth == want:
                return self.reply(200, compact({"token": TOKEN}))
            return self.reply(401, b'{"errors":[]}',
                              extra={"WWW-Authenticate": 'Basic realm="token"'})
        if auth != "Bearer " + TOKEN:
            chal = ('Bearer realm="https://%s/token",service="creds-test",'
                    'scope="repository:%s:pull"' % (srv.host, REPO))
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              extra={"WWW-Authenticate": chal})
        st, rh, body = srv.reg.request("GET", self.path,
                                       headers={"Accept": self.headers.get("Accept", "*/*")})
        return self.reply(st, body, rh.get("Content-Type", "application/octet-stream"))


@pytest.fixture
def front():
    why = registry_prereqs()
    if why:
        pytest.skip(why)
    if not os.access(OCI_FETCH, os.X_OK):
        pytest.skip("needs %s: build it with `make all` (ATTESTD_BUILD=%s)"
                    % (OCI_FETCH, helpers.BUILD))
    with open(OCI_FETCH, "rb") as f:
        exe = f.read()
    if not all(flag in exe for flag in FLAGS):
        pytest.skip("needs oci_fetch with --credential-provider-config, "
                    "--credential-provider-bin-dir and --credential-helper-dir")
    tmp = tempfile.mkdtemp(prefix="attestd-creds-", dir="/tmp")
    reg = Registry(tmp)
    srv = None
    t = None
    try:
        reg.start()
        digest = push_signed_image(reg)
        srv = Front(reg)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        yield srv, digest, tmp
    finally:
        if srv:
            srv.shutdown()
            srv.server_close()
            t.join(5)
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def write_exec(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)


def provider_setup(tmp, host, user, password, name="test-provider"):
    """A CredentialProviderConfig with one plugin that logs its request and answers with
    user/password for host; returns (config path, bin dir, request log path)."""
    bindir = os.path.join(tmp, "plugins")
    os.makedirs(bindir, exist_ok=True)
    log = os.path.join(tmp, "plugin-request.json")
    resp = compact({"apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                    "kind": "CredentialProviderResponse", "cacheKeyType": "Registry",
                    "cacheDuration": "1m0s",
                    "auth": {host: {"username": user, "password": password}}}).decode()
    write_exec(os.path.join(bindir, name), "cat > '%s'\nprintf '%%s' '%s'" % (log, resp))
    cfg = os.path.join(tmp, "credential-providers.yaml")
    with open(cfg, "w") as f:
        f.write("apiVersion: kubelet.config.k8s.io/v1\n"
                "kind: CredentialProviderConfig\n"
                "providers:\n"
                "  - name: %s\n"
                "    matchImages: [\"127.0.0.1:%s\"]\n"
                "    defaultCacheDuration: 10m\n"
                "    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"
                % (name, host.split(":")[1]))
    return cfg, bindir, log


def oci_fetch(reg, ref, extra):
    p = subprocess.run([OCI_FETCH, "--ca", reg.ca] + list(extra) + [ref],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
    return p.returncode, json.loads(p.stdout)


def test_credential_provider_plugin(front):
    srv, digest, tmp = front
    cfg, bindir, log = provider_setup(tmp, srv.host, USER, PASSWORD)
    rc, out = oci_fetch(srv.reg, "%s/%s:v1" % (srv.host, REPO),
                        ["--credential-provider-config", cfg,
                         "--credential-provider-bin-dir", bindir])
    assert rc == 0, out
    assert out["digest"] == digest
    assert [s["kind"] for s in out["signatures"]] == ["legacy"]
    with open(log) as f:
        req = json.load(f)
    assert req == {"apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                   "kind": "CredentialProviderRequest", "image": "%s/%s" % (srv.host, REPO)}
    assert srv.token_requests == 1


def test_docker_credential_helper(front):
    srv, digest, tmp = front
    hdir = os.path.join(tmp, "helpers")
    os.makedirs(hdir)
    write_exec(os.path.join(hdir, "docker-credential-attestd-test"),
               '[ "$1" = get ] || exit 3\nread -r server\n'
               '[ "$server" = "%s" ] || { echo "unknown server $server"; exit 1; }\n'
               "echo '%s'" % (srv.host, compact({"ServerURL": srv.host, "Username": USER,
                                                  "Secret": PASSWORD}).decode()))
    dcfg = os.path.join(tmp, "config.json")
    with open(dcfg, "w") as f:
        json.dump({"credHelpers": {srv.host: "attestd-test"}}, f)
    rc, out = oci_fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                        ["--docker-config", dcfg, "--credential-helper-dir", hdir])
    assert rc == 0, out
    assert out["digest"] == digest
    assert [s["kind"] for s in out["signatures"]] == ["legacy"]


def test_wrong_credential_is_an_auth_error(front):
    srv, digest, tmp = front
    cfg, bindir, _ = provider_setup(tmp, srv.host, USER, "wrong")
    rc, out = oci_fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                        ["--credential-provider-config", cfg,
                         "--credential-provider-bin-dir", bindir])
    assert rc == 1, out
    assert out["errno"] == 13, out  # EACCES
    assert "token" in out["error"] and "401" in out["error"], out


def test_failing_plugin_is_an_auth_error(front):
    srv, digest, tmp = front
    cfg, bindir, _ = provider_setup(tmp, srv.host, USER, PASSWORD)
    write_exec(os.path.join(bindir, "test-provider"), "echo 'metadata service down' >&2; exit 1")
    rc, out = oci_fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                        ["--credential-provider-config", cfg,
                         "--credential-provider-bin-dir", bindir])
    assert rc == 1, out
    assert out["errno"] == 13, out
    assert "credential provider test-provider" in out["error"], out
    assert "metadata service down" in out["error"], out
    assert srv.token_requests == 0  # never fell back to an anonymous token request
