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
import ssl
import subprocess
import tempfile
import threading

import pytest

import helpers
from sigstore_env import (BUNDLE_TYPE, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Registry,
                          registry_prereqs, sha256)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.environ.get("ATTESTD_FIXTURES",
                          os.path.join(os.path.dirname(REPO_ROOT), "shared", "fixtures"))
IMAGE_DIR = os.path.join(FIXTURES, "sigstore", "cosign-image")
TRUSTED_ROOT = os.path.join(FIXTURES, "sigstore", "public-good", "trusted_root.json")
OCI_FETCH = os.path.join(helpers.BUILD, "tests", "oci_fetch")

IMAGE_DIGEST = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
IDENTITY = "cody@soyland.com"
ISSUER = "https://github.com/login/oauth"


def read(name):
    with open(os.path.join(IMAGE_DIR, name), "rb") as f:
        return f.read()


@pytest.fixture
def registry():
    why = registry_prereqs()
    if why:
        pytest.skip(why)
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
