"""Shared environment for the Sigstore end-to-end tests: a real docker-registry on 127.0.0.1 over
TLS, the test signer (tests/tools/sigstore_signer) and helpers that push images and attach their
signatures the way cosign does (OCI 1.1 referrer bundles under the sha256-<hex> fallback tag,
legacy sha256-<hex>.sig / .att manifests); HTTPS fronts for the registry (registry token auth,
the referrers API, failures) and the tests/tools/oci_fetch runner.
"""

import base64
import contextlib
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import helpers

REGISTRY_BIN = "/usr/bin/docker-registry"
SIGNER = os.path.join(helpers.BUILD, "tests", "sigstore_signer")
OCI_FETCH = os.path.join(helpers.BUILD, "tests", "oci_fetch")

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLESIGN = "application/vnd.dev.cosign.simplesigning.v1+json"

DEFAULT_IDENTITY = "https://github.com/attestd/test/.github/workflows/release.yml@refs/heads/main"
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"
SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
COSIGN_SIGN_V1 = "https://sigstore.dev/cosign/sign/v1"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


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
        self.ctx = None

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
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log,
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

    def get_manifest(self, repo, ref, accept):
        """(status, bytes) of a manifest or index."""
        st, _, body = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                                   headers={"Accept": accept})
        return st, body


def registry_prereqs():
    """Why the registry tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root: starts docker-registry on 127.0.0.1"
    if not os.access(REGISTRY_BIN, os.X_OK):
        return "needs docker-registry: apt-get install docker-registry (make deps)"
    if subprocess.run(["which", "openssl"], capture_output=True).returncode != 0:
        return "needs openssl: apt-get install openssl"
    return None


def need_binary(path):
    """Skips the test unless path (a build output) is executable."""
    if not os.access(path, os.X_OK):
        import pytest
        pytest.skip("needs %s: build it with `make all` (ATTESTD_BUILD=%s)"
                    % (path, helpers.BUILD))


@contextlib.contextmanager
def running_registry(prefix):
    """A started Registry in a fresh directory /tmp/<prefix>*, stopped and removed afterwards."""
    tmp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    reg = Registry(tmp)
    try:
        reg.start()
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def oci_fetch(args, timeout=60):
    """Runs tests/tools/oci_fetch with args (exit 0 or 1 expected): (exit code, its JSON)."""
    p = subprocess.run([OCI_FETCH] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
    return p.returncode, json.loads(p.stdout)


def basic_auth(user, password):
    """The value of an Authorization header with Basic credentials."""
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def docker_config(directory, host, user=None, password=None, helper=None):
    """Writes directory/config.json naming, for host, Basic credentials (auths) or a credential
    helper (credHelpers: docker-credential-<helper>); returns its path."""
    if helper:
        cfg = {"credHelpers": {host: helper}}
    else:
        cfg = {"auths": {host: {"auth": basic_auth(user, password)[len("Basic "):]}}}
    path = os.path.join(str(directory), "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


# ---- HTTPS fronts for the registry ------------------------------------------------------------

class TLSServer(http.server.ThreadingHTTPServer):
    """A threaded HTTPS server on 127.0.0.1 with the registry's certificate (so reg.ca trusts
    it); host = its host:port, seen = the paths requested (handlers append)."""

    daemon_threads = True

    def __init__(self, reg, handler):
        self.reg = reg
        self.seen = []
        super().__init__(("127.0.0.1", 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(reg.tmp, "srv.pem"), os.path.join(reg.tmp, "srv.key"))
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.host = "127.0.0.1:%d" % self.server_address[1]


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing, with reply()."""

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


class TokenFront(TLSServer):
    """A front for the registry that demands registry token auth: a Bearer challenge naming
    https://<host>/token, service and repository:<repo>:pull; the token endpoint takes Basic
    user:password (and that service and scope) and answers token. With referrers (digest -> list
    of descriptors) it also answers the OCI 1.1 referrers API that docker-registry 2.8 lacks;
    everything else is proxied to the registry."""

    def __init__(self, reg, user, password, token, service, repo, referrers=None):
        self.user, self.password, self.token = user, password, token
        self.service, self.repo = service, repo
        self.referrers = referrers
        super().__init__(reg, TokenHandler)

    def token_requests(self):
        return sum(p.startswith("/token?") for p in self.seen)


class TokenHandler(QuietHandler):
    def do_GET(self):
        srv = self.server
        srv.seen.append(self.path)
        auth = self.headers.get("Authorization", "")
        scope = "repository:%s:pull" % srv.repo
        if self.path.startswith("/token?"):
            ok = auth == basic_auth(srv.user, srv.password) \
                and "scope=" + urllib.parse.quote(scope, safe="") in self.path \
                and "service=" + urllib.parse.quote(srv.service, safe="") in self.path
            if ok:
                return self.reply(200, compact({"token": srv.token}))
            return self.reply(401, b'{"errors":[]}',
                              extra={"WWW-Authenticate": 'Basic realm="token"'})
        if auth != "Bearer " + srv.token:
            chal = 'Bearer realm="https://%s/token",service="%s",scope="%s"' % (
                srv.host, srv.service, scope)
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              extra={"WWW-Authenticate": chal})
        parts = self.path.split("?")[0].split("/")
        if srv.referrers is not None and len(parts) >= 5 and parts[-2] == "referrers":
            descs = srv.referrers.get(parts[-1], [])
            body = compact({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs})
            return self.reply(200, body, OCI_INDEX)
        hdrs = {"Accept": self.headers.get("Accept", "*/*")}
        st, rh, body = srv.reg.request("GET", self.path, headers=hdrs)
        return self.reply(st, body, rh.get("Content-Type", "application/octet-stream"))


@contextlib.contextmanager
def serving(srv):
    """srv serving in a thread; shut down and closed afterwards."""
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


# ---- images and signatures -------------------------------------------------------------------

def _random_layer():
    """A gzip'd tar holding one file of random bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = os.urandom(256)
        info = tarfile.TarInfo("random.bin")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def push_random_image(reg, repo, tag="v1"):
    """A small OCI image (config + one random layer) under repo:tag; returns (digest, size)."""
    tar_bytes, layer = _random_layer()
    ldesc = reg.put_blob(repo, layer)
    config = compact({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]}})
    cdesc = reg.put_blob(repo, config)
    m = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": OCI_CONFIG, **cdesc},
                 "layers": [{"mediaType": OCI_LAYER, **ldesc}]})
    digest = reg.put_manifest(repo, tag, m, OCI_MANIFEST)
    return digest, len(m)


def simplesign_payload(digest, reference):
    """cosign's simple-signing payload naming the image digest, as compact JSON bytes."""
    return compact({"critical": {"identity": {"docker-reference": reference},
                                 "image": {"docker-manifest-digest": digest},
                                 "type": "cosign container image signature"},
                    "optional": None})


def fallback_tag(digest):
    return "sha256-" + digest.split(":", 1)[1]


def push_referrer(reg, repo, digest, size, bundle_bytes, subject_type=OCI_MANIFEST):
    """A cosign v3-style referrer artifact manifest (subject = the image: digest, size,
    subject_type) holding bundle_bytes, listed nowhere. Returns the artifact's descriptor."""
    empty = reg.put_blob(repo, b"{}")
    layer = reg.put_blob(repo, bundle_bytes)
    m = compact({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": {"mediaType": OCI_EMPTY, **empty},
        "layers": [{"mediaType": BUNDLE_TYPE, **layer}],
        "subject": {"mediaType": subject_type, "digest": digest, "size": size},
    })
    mdigest = reg.put_manifest(repo, sha256(m), m, OCI_MANIFEST)
    return {"mediaType": OCI_MANIFEST, "artifactType": BUNDLE_TYPE, "digest": mdigest,
            "size": len(m)}


def attach_referrer_bundle(reg, repo, digest, size, bundle_bytes, subject_type=OCI_MANIFEST):
    """push_referrer, listed in the sha256-<hex> fallback index (docker-registry 2.8 has no
    referrers API); bundles attached earlier stay listed. Returns the artifact's descriptor."""
    desc = push_referrer(reg, repo, digest, size, bundle_bytes, subject_type)
    st, body = reg.get_manifest(repo, fallback_tag(digest), OCI_INDEX)
    descs = json.loads(body)["manifests"] if st == 200 else []
    idx = compact({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs + [desc]})
    reg.put_manifest(repo, fallback_tag(digest), idx, OCI_INDEX)
    return desc


def layer_manifest(reg, repo, layer_descs):
    """The bytes of a cosign signature manifest whose layers are the signer's layer
    descriptions (dicts as printed by sigstore_signer --format legacy|att); blobs are pushed."""
    layers = []
    for d in layer_descs:
        data = base64.b64decode(d["data_b64"])
        blob = reg.put_blob(repo, data)
        layers.append({"mediaType": d["mediaType"], **blob,
                       "annotations": dict(d["annotations"])})
    # cosign's signature images: an OCI config listing the layers as its rootfs
    config = compact({"architecture": "", "os": "", "config": {},
                      "created": "0001-01-01T00:00:00Z",
                      "history": [{"created": "0001-01-01T00:00:00Z"}] * len(layers),
                      "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}})
    cdesc = reg.put_blob(repo, config)
    return compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, **cdesc}, "layers": layers})


def attach_layers(reg, repo, digest, suffix, layer_descs):
    """Pushes the sha256-<hex>.<suffix> manifest ("sig" or "att") whose layers are the signer's
    layer descriptions (dicts, or the JSON bytes sigstore_signer printed). Returns its digest."""
    assert suffix in ("sig", "att")
    descs = [json.loads(d) if isinstance(d, (bytes, str)) else d for d in layer_descs]
    m = layer_manifest(reg, repo, descs)
    return reg.put_manifest(repo, "%s.%s" % (fallback_tag(digest), suffix), m, OCI_MANIFEST)


class Signer:
    """tests/tools/sigstore_signer with its own test PKI under tmp."""

    def __init__(self, tmp, binary=SIGNER):
        self.binary = binary
        self.dir = os.path.join(tmp, "signer-pki")
        self.trusted_root = os.path.join(self.dir, "trusted_root.json")
        self._n = 0

    def init(self):
        p = subprocess.run([self.binary, "init", self.dir], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr
        return self

    def run(self, *args):
        return subprocess.run([self.binary] + list(args), capture_output=True, text=True,
                              timeout=60)

    def sign(self, digest, fmt="bundle", **opts):
        """The signer's output for digest: bundle JSON or a layer description, as bytes.
        opts: identity, issuer, predicate_type, tamper, integrated_time, reference (values)
        and message, expired (flags); underscores become dashes."""
        self._n += 1
        out = os.path.join(self.dir, "out-%d.json" % self._n)
        args = ["sign", self.dir, "--digest", digest, "--format", fmt, "--out", out]
        for k, v in opts.items():
            flag = "--" + k.replace("_", "-")
            if v is True:
                args.append(flag)
            elif v not in (None, False):
                args += [flag, str(v)]
        p = self.run(*args)
        assert p.returncode == 0, (args, p.stderr)
        with open(out, "rb") as f:
            return f.read()
