"""sigstore/oci.c against a real registry: Debian's docker-registry on 127.0.0.1 over TLS.

The cosign-image fixture (../shared/fixtures/sigstore/cosign-image: a real public-good cosign
attestation of an image whose manifest and config are there, byte for byte) is pushed through
the registry API, with the bundle as an OCI 1.1 referrer artifact listed under the
sha256-<hex> fallback tag (docker-registry 2.8 has no referrers API), and fetched and verified
with tests/tools/oci_fetch ($ATTESTD_BUILD/tests/oci_fetch).

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_sigstore_registry.py
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

import helpers

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.environ.get("ATTESTD_FIXTURES",
                          os.path.join(os.path.dirname(REPO_ROOT), "shared", "fixtures"))
IMAGE_DIR = os.path.join(FIXTURES, "sigstore", "cosign-image")
TRUSTED_ROOT = os.path.join(FIXTURES, "sigstore", "public-good", "trusted_root.json")
OCI_FETCH = os.path.join(helpers.BUILD, "tests", "oci_fetch")
REGISTRY = "/usr/bin/docker-registry"

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_DIGEST = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
IDENTITY = "cody@soyland.com"
ISSUER = "https://github.com/login/oauth"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read(name):
    with open(os.path.join(IMAGE_DIR, name), "rb") as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A docker-registry process with its own CA, certificate and storage under tmp."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.ca = os.path.join(tmp, "ca.pem")
        self.proc = None
        self.log = None

    def _openssl(self, *args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)

    def make_certs(self):
        t = self.tmp
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-nodes", "-keyout", t + "/ca.key", "-out", self.ca, "-days", "2",
                      "-subj", "/CN=attestd test CA")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", t + "/srv.key", "-out", t + "/srv.csr", "-subj", "/CN=127.0.0.1")
        with open(t + "/ext.cnf", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth\n")
        self._openssl("x509", "-req", "-in", t + "/srv.csr", "-CA", self.ca, "-CAkey",
                      t + "/ca.key", "-CAcreateserial", "-out", t + "/srv.pem", "-days", "2",
                      "-extfile", t + "/ext.cnf")

    def start(self):
        self.make_certs()
        cfg = os.path.join(self.tmp, "config.yml")
        with open(cfg, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: warn\n"
                    "storage:\n  filesystem:\n    rootdirectory: %s/data\n"
                    "  delete:\n    enabled: true\n"
                    "http:\n  addr: %s\n  tls:\n    certificate: %s/srv.pem\n"
                    "    key: %s/srv.key\n" % (self.tmp, self.host, self.tmp, self.tmp))
        self.log = open(os.path.join(self.tmp, "registry.log"), "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        deadline = time.time() + 15
        while True:
            try:
                if self.request("GET", "/v2/")[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("docker-registry did not start: %s" % self.log_text())
            time.sleep(0.1)

    def log_text(self):
        try:
            with open(os.path.join(self.tmp, "registry.log"), "rb") as f:
                return f.read()[-2000:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.log:
            self.log.close()

    def request(self, method, path, data=None, headers=None):
        url = path if path.startswith("https://") else "https://%s%s" % (self.host, path)
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def put_blob(self, repo, data):
        digest = sha256(data)
        st, hdrs, body = self.request("POST", "/v2/%s/blobs/uploads/" % repo, b"")
        assert st == 202, (st, body)
        loc = hdrs["Location"]
        if loc.startswith("/"):
            loc = "https://%s%s" % (self.host, loc)
        loc += ("&" if "?" in loc else "?") + "digest=" + digest
        st, _, body = self.request("PUT", loc, data,
                                   {"Content-Type": "application/octet-stream"})
        assert st == 201, (st, body)
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, repo, ref, data, media_type):
        st, hdrs, body = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), data,
                                      {"Content-Type": media_type})
        assert st == 201, (st, body)
        assert hdrs.get("Docker-Content-Digest") == sha256(data), "registry changed the bytes"
        return sha256(data)


@pytest.fixture
def registry():
    if os.geteuid() != 0:
        pytest.skip("needs root: starts docker-registry on 127.0.0.1")
    if not os.access(REGISTRY, os.X_OK):
        pytest.skip("needs docker-registry: apt-get install docker-registry (make deps)")
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl: apt-get install openssl")
    if not os.access(OCI_FETCH, os.X_OK):
        pytest.skip("needs %s: build it with `make all` (ATTESTD_BUILD=%s)"
                    % (OCI_FETCH, helpers.BUILD))
    for f in ("manifest.json", "config.json", "attestation.sigstore.json"):
        if not os.path.exists(os.path.join(IMAGE_DIR, f)):
            pytest.skip("needs fixture %s/%s (set ATTESTD_FIXTURES)" % (IMAGE_DIR, f))
    tmp = tempfile.mkdtemp(prefix="attestd-oci-", dir="/tmp")
    reg = Registry(tmp)
    try:
        reg.start()
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def push_image(reg, repo, tag="v1"):
    """The fixture image, byte for byte; returns its digest."""
    reg.put_blob(repo, read("config.json"))
    digest = reg.put_manifest(repo, tag, read("manifest.json"), DOCKER_MANIFEST)
    assert digest == IMAGE_DIGEST
    return digest


def push_referrer(reg, repo, subject_digest, subject_size, bundle):
    """A cosign v3-style referrer artifact manifest holding bundle; returns its descriptor."""
    empty = reg.put_blob(repo, b"{}")
    layer = reg.put_blob(repo, bundle)
    m = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
        "layers": [{"mediaType": BUNDLE_TYPE, **layer}],
        "subject": {"mediaType": DOCKER_MANIFEST, "digest": subject_digest,
                    "size": subject_size},
    }, separators=(",", ":")).encode()
    digest = reg.put_manifest(repo, sha256(m), m, OCI_MANIFEST)
    return {"mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE, "digest": digest,
            "size": len(m)}


def push_fallback_index(reg, repo, subject_digest, descs):
    idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs},
                     separators=(",", ":")).encode()
    reg.put_manifest(repo, "sha256-" + subject_digest[7:], idx, OCI_INDEX)


def oci_fetch(reg, ref, identity=IDENTITY, issuer=ISSUER, extra=()):
    args = [OCI_FETCH, "--ca", reg.ca, "--trusted-root", TRUSTED_ROOT, "--identity", identity,
            "--issuer", issuer] + list(extra) + [ref]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
    return p.returncode, json.loads(p.stdout)


@pytest.fixture
def signed_image(registry):
    repo = "cosign/image"
    push_image(registry, repo)
    bundle = read("attestation.sigstore.json")
    desc = push_referrer(registry, repo, IMAGE_DIGEST, len(read("manifest.json")), bundle)
    push_fallback_index(registry, repo, IMAGE_DIGEST, [desc])
    return registry, repo


def test_referrer_bundle_verifies_by_digest(signed_image):
    reg, repo = signed_image
    rc, out = oci_fetch(reg, "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST))
    assert rc == 0, out
    assert out["digest"] == IMAGE_DIGEST
    assert out["referrers_api"] is False  # docker-registry 2.8: the fallback tag was used
    sigs = out["signatures"]
    assert len(sigs) == 1, sigs
    assert sigs[0]["kind"] == "bundle"
    assert sigs[0]["sha256"] == hashlib.sha256(read("attestation.sigstore.json")).hexdigest()
    v = sigs[0]["verification"]
    assert v["verified"] is True, v
    assert v["subject"] == IDENTITY and v["issuer"] == ISSUER
    assert v["predicate_type"] == "https://cosign.sigstore.dev/attestation/v1"


def test_tag_reference_resolves_to_digest(signed_image):
    reg, repo = signed_image
    rc, out = oci_fetch(reg, "%s/%s:v1" % (reg.host, repo))
    assert rc == 0, out
    assert out["digest"] == IMAGE_DIGEST
    assert out["signatures"][0]["verification"]["verified"] is True


@pytest.mark.parametrize("identity,issuer", [
    ("someone@example.com", ISSUER),
    (IDENTITY, "https://accounts.google.com"),
])
def test_other_identity_policy_fails(signed_image, identity, issuer):
    reg, repo = signed_image
    rc, out = oci_fetch(reg, "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST), identity, issuer)
    assert rc == 0, out
    v = out["signatures"][0]["verification"]
    assert v["verified"] is False and v["error"], v


def test_unsigned_image_is_not_signed(registry):
    repo = "plain/image"
    cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    c = registry.put_blob(repo, cfg)
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
                    "layers": []}, separators=(",", ":")).encode()
    digest = registry.put_manifest(repo, "latest", m, OCI_MANIFEST)
    rc, out = oci_fetch(registry, "%s/%s" % (registry.host, repo))
    assert rc == 1
    assert out["digest"] == digest
    assert out["errno"] == 2 and "no signatures" in out["error"], out  # ENOENT


def test_referrer_of_another_image_is_ignored(registry):
    """A fallback index listing an artifact whose subject is another image yields nothing."""
    repo = "cosign/image"
    push_image(registry, repo)
    other = registry.put_blob(repo, b'{"other":true}')
    desc = push_referrer(registry, repo, other["digest"], other["size"],
                         read("attestation.sigstore.json"))
    push_fallback_index(registry, repo, IMAGE_DIGEST, [desc])
    rc, out = oci_fetch(registry, "%s/%s@%s" % (registry.host, repo, IMAGE_DIGEST))
    assert rc == 1 and out["errno"] == 2, out


def test_legacy_sig_layers_checked_against_digest(registry):
    """Legacy sha256-<hex>.sig: a layer whose simple-signing payload names the image is
    returned with its annotations; one naming another digest is skipped."""
    repo = "cosign/image"
    push_image(registry, repo)

    def payload(digest):
        return json.dumps({"critical": {"identity": {"docker-reference": "x"},
                                        "image": {"docker-manifest-digest": digest},
                                        "type": "cosign container image signature"},
                           "optional": None}).encode()

    good = registry.put_blob(repo, payload(IMAGE_DIGEST))
    bad = registry.put_blob(repo, payload("sha256:" + "0" * 64))
    empty = registry.put_blob(repo, b"{}")
    layer_type = "application/vnd.dev.cosign.simplesigning.v1+json"
    m = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **empty},
                    "layers": [
                        {"mediaType": layer_type, **bad,
                         "annotations": {"dev.cosignproject.cosign/signature": "AAAA"}},
                        {"mediaType": layer_type, **good,
                         "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}},
                    ]}, separators=(",", ":")).encode()
    registry.put_manifest(repo, "sha256-%s.sig" % IMAGE_DIGEST[7:], m, OCI_MANIFEST)
    rc, out = oci_fetch(registry, "%s/%s@%s" % (registry.host, repo, IMAGE_DIGEST))
    assert rc == 0, out
    assert out["skipped"] == 1
    assert [s["kind"] for s in out["signatures"]] == ["legacy"]
    assert out["signatures"][0]["sha256"] == good["digest"][7:]
    assert out["signatures"][0]["has_signature_annotation"] is True


def test_untrusted_ca_fails(signed_image, tmp_path):
    reg, repo = signed_image
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "k"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True)
    p = subprocess.run([OCI_FETCH, "--ca", str(other), "%s/%s@%s" % (reg.host, repo,
                                                                    IMAGE_DIGEST)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout
    assert json.loads(p.stdout)["errno"] == 5  # EIO: TLS verification failed


# ---- token auth and the referrers API, through a front server --------------------------------

USER, PASSWORD, TOKEN = "alice", "s3cret", "tok-0123456789"


class Front(http.server.ThreadingHTTPServer):
    """TLS front for the registry that demands registry token auth (Bearer challenge, token
    endpoint taking Basic credentials) and answers the OCI 1.1 referrers API that
    docker-registry 2.8 lacks; everything else is proxied to the registry."""

    daemon_threads = True

    def __init__(self, reg, referrers):
        self.reg = reg
        self.referrers = referrers  # digest -> list of descriptors
        self.seen = []
        super().__init__(("127.0.0.1", 0), FrontHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(reg.tmp + "/srv.pem", reg.tmp + "/srv.key")
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
        srv.seen.append(self.path)
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token?"):
            want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            ok = auth == want and "scope=repository%3Acosign%2Fimage%3Apull" in self.path \
                and "service=test-registry" in self.path
            if ok:
                return self.reply(200, json.dumps({"token": TOKEN}).encode())
            return self.reply(401, b'{"errors":[]}',
                              extra={"WWW-Authenticate": 'Basic realm="token"'})
        if auth != "Bearer " + TOKEN:
            chal = ('Bearer realm="https://%s/token",service="test-registry",'
                    'scope="repository:cosign/image:pull"' % srv.host)
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              extra={"WWW-Authenticate": chal})
        parts = self.path.split("?")[0].split("/")
        if len(parts) >= 5 and parts[-2] == "referrers":
            descs = srv.referrers.get(parts[-1], [])
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                               "manifests": descs}).encode()
            return self.reply(200, body, OCI_INDEX)
        hdrs = {"Accept": self.headers.get("Accept", "*/*")}
        st, rh, body = srv.reg.request("GET", self.path, headers=hdrs)
        return self.reply(st, body, rh.get("Content-Type", "application/octet-stream"))


@pytest.fixture
def front(registry):
    repo = "cosign/image"
    push_image(registry, repo)
    desc = push_referrer(registry, repo, IMAGE_DIGEST, len(read("manifest.json")),
                         read("attestation.sigstore.json"))
    srv = Front(registry, {IMAGE_DIGEST: [desc]})
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv, repo
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def docker_config(tmp_path, host, user=USER, password=PASSWORD):
    p = tmp_path / "config.json"
    auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    p.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return str(p)


def test_token_auth_and_referrers_api(front, tmp_path):
    srv, repo = front
    cfg = docker_config(tmp_path, srv.host)
    rc, out = oci_fetch(srv.reg, "%s/%s:v1" % (srv.host, repo),
                        extra=["--docker-config", cfg])
    assert rc == 0, out
    assert out["digest"] == IMAGE_DIGEST
    assert out["referrers_api"] is True
    assert [s["kind"] for s in out["signatures"]] == ["bundle"]
    assert out["signatures"][0]["verification"]["verified"] is True
    # one token fetch, then the token was reused; the fallback tag was never needed
    assert sum(p.startswith("/token?") for p in srv.seen) == 1, srv.seen
    assert not any(p.endswith("/manifests/sha256-" + IMAGE_DIGEST[7:]) for p in srv.seen)
    assert any("/referrers/" + IMAGE_DIGEST in p for p in srv.seen)


@pytest.mark.parametrize("creds", ["none", "wrong"])
def test_token_auth_refused(front, tmp_path, creds):
    srv, repo = front
    extra = []
    if creds == "wrong":
        extra = ["--docker-config", docker_config(tmp_path, srv.host, password="nope")]
    rc, out = oci_fetch(srv.reg, "%s/%s@%s" % (srv.host, repo, IMAGE_DIGEST), extra=extra)
    assert rc == 1, out
    assert out["errno"] == 13, out  # EACCES
