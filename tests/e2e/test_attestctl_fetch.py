"""attestctl as a SPIFFE Workload API client (issue 4): fetch x509 (and --write, checked with the
openssl CLI), fetch jwt, fetch bundles and validate jwt against a real attestd, plus the errors
(no socket, PERMISSION_DENIED, INVALID_ARGUMENT, timeout) and usage errors. The daemon runs with
the embedded defaults (generated CA, template spiffe://example.org/uid/{{unix.uid}}), so
attestctl, run as root, is spiffe://example.org/uid/0. Needs root (BPF, setuid)."""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

import helpers
from conftest import need_binary

TD = "example.org"
ID_UID0 = "spiffe://example.org/uid/0"
ID_ENTRY_UID0 = "spiffe://example.org/test/uid0"
OTHER_UID = 1000
OTHER_GID = 1000

# Only uid 0 has an identity: one entry, no template.
UID0_ONLY_YAML = """\
ca: {generate: true}
entries:
  - {spiffe_id: "%s", selectors: ["unix:uid:0"], hint: root}
templates: []
""" % ID_ENTRY_UID0


def ok(p):
    assert p.returncode == 0, "attestctl exited %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)
    return p.stdout


def fails(p, code=1):
    assert p.returncode == code, "attestctl exited %d, want %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, code, p.stdout, p.stderr)
    assert p.stderr.startswith("attestctl: "), p.stderr
    return p.stderr


def one_line(stderr):
    assert stderr.count("\n") == 1, "want one line on stderr:\n" + stderr
    return stderr


def run_ctl(*args, env=None, uid=None, gid=None, stdin=None, timeout=60):
    """Runs attestctl (as uid/gid if given) with a clean environment unless env is given."""
    need_binary(helpers.ATTESTCTL)
    preexec = None
    if uid is not None:
        def preexec():
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
    if env is None:
        env = {"PATH": "/usr/bin:/bin"}
    return subprocess.run([helpers.ATTESTCTL] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env, input=stdin, preexec_fn=preexec, cwd="/")


@pytest.fixture
def wl(attestd):
    """A daemon with the embedded defaults; wl(*args) runs attestctl --socket <its socket>."""
    d = attestd()

    def run(*args, **kw):
        return run_ctl("--socket", d.socket, *args, **kw)

    run.daemon = d
    return run


@pytest.fixture
def outdir():
    d = tempfile.mkdtemp(prefix="attestctl-e2e-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def openssl(*args, stdin=None):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl CLI (Debian package openssl)")
    p = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, input=stdin,
                       timeout=30)
    assert p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr)
    return p.stdout


def pem_blocks(path, label):
    with open(path) as f:
        text = f.read()
    return re.findall(r"-----BEGIN %s-----\n.+?\n-----END %s-----\n" % (label, label), text,
                      re.S)


# ---- fetch x509 --------------------------------------------------------------------------------


def test_fetch_x509_text_and_json(wl):
    out = ok(wl("fetch", "x509"))
    assert re.search(r"^\s+SPIFFE ID\s+%s$" % re.escape(ID_UID0), out, re.M), out
    assert re.search(r"^\s+chain\s+\d+ certificates?$", out, re.M), out
    for label in ("hint", "serial", "not before", "not after", "bundle", "key"):
        assert re.search(r"^\s+%s\s+\S" % label, out, re.M), "no %r in:\n%s" % (label, out)
    doc = json.loads(ok(wl("fetch", "x509", "--json")))
    svid = doc["svids"][0]
    assert svid["spiffe_id"] == ID_UID0, doc
    assert len(svid["chain"]) >= 1 and len(svid["bundle"]) >= 1, doc
    assert svid["serial"] == svid["chain"][0]["serial"], doc
    assert svid["not_before"] < svid["not_after"], doc
    assert svid["key"] == {"type": "EC", "bits": 256}, doc
    assert re.search(r"^\s+serial\s+%s$" % svid["serial"], out, re.M), (svid["serial"], out)
    assert "files" not in svid, doc


def test_fetch_x509_write(wl, outdir):
    doc = json.loads(ok(wl("fetch", "x509", "--write", outdir, "--json")))
    svid = doc["svids"][0]
    cert, key, bundle = (os.path.join(outdir, n) for n in ("svid.0.pem", "svid.0.key",
                                                            "bundle.0.pem"))
    assert svid["files"] == {"svid": cert, "key": key, "bundle": bundle}, svid
    assert sorted(os.listdir(outdir)) == ["bundle.0.pem", "svid.0.key", "svid.0.pem"], \
        os.listdir(outdir)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, oct(os.stat(key).st_mode)
    assert stat.S_IMODE(os.stat(cert).st_mode) == 0o644, oct(os.stat(cert).st_mode)
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o644, oct(os.stat(bundle).st_mode)

    # the chain and bundle as PEM, one block per certificate; the key as PKCS#8
    assert len(pem_blocks(cert, "CERTIFICATE")) == len(svid["chain"]), svid["chain"]
    assert len(pem_blocks(bundle, "CERTIFICATE")) == len(svid["bundle"]), svid["bundle"]
    assert len(pem_blocks(key, "PRIVATE KEY")) == 1, open(key).read()

    # verifies against the bundle; the URI SAN is the SPIFFE ID; serial as reported
    assert openssl("verify", "-CAfile", bundle, cert).strip() == cert + ": OK"
    san = openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName")
    assert "URI:" + ID_UID0 in san, san
    serial = openssl("x509", "-in", cert, "-noout", "-serial").strip()
    assert serial == "serial=" + svid["serial"], (serial, svid["serial"])

    # the private key belongs to the certificate
    cert_pub = openssl("x509", "-in", cert, "-noout", "-pubkey")
    key_pub = openssl("pkey", "-in", key, "-pubout")
    assert cert_pub == key_pub, (cert_pub, key_pub)

    # text mode writes again (atomically replacing the files) and says where
    out = ok(wl("fetch", "x509", "--write", outdir))
    assert re.search(r"^\s+wrote\s+%s %s %s$" % (re.escape(cert), re.escape(key),
                                                  re.escape(bundle)), out, re.M), out
    assert sorted(os.listdir(outdir)) == ["bundle.0.pem", "svid.0.key", "svid.0.pem"]
    assert openssl("verify", "-CAfile", bundle, cert).strip() == cert + ": OK"


def test_fetch_x509_write_missing_dir(wl, outdir):
    missing = os.path.join(outdir, "no-such-dir")
    err = one_line(fails(wl("fetch", "x509", "--write", missing)))
    assert missing in err and "No such file or directory" in err, err


# ---- fetch jwt / validate jwt ------------------------------------------------------------------


def fetch_token(wl, audience="e2e"):
    doc = json.loads(ok(wl("fetch", "jwt", "--audience", audience, "--json")))
    return doc["svids"][0]["token"]


def test_fetch_jwt(wl):
    doc = json.loads(ok(wl("fetch", "jwt", "--audience", "db", "--audience", "cache", "--json")))
    assert [s["spiffe_id"] for s in doc["svids"]] == [ID_UID0], doc
    svid = doc["svids"][0]
    assert svid["header"]["alg"] == "ES256" and svid["header"]["typ"] == "JWT", svid
    claims = svid["claims"]
    assert claims["sub"] == ID_UID0, claims
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert sorted(aud) == ["cache", "db"], claims
    assert claims["exp"] > time.time(), claims
    assert svid["token"].count(".") == 2, svid

    # the key id is in the JWKS served by fetch bundles
    bundles = json.loads(ok(wl("fetch", "bundles", "--json")))["bundles"]
    kids = [k.get("kid") for k in bundles[TD]["jwks"]["keys"]]
    assert svid["header"]["kid"] in kids, (svid["header"], kids)

    out = ok(wl("fetch", "jwt", "--audience", "db"))
    assert re.search(r"^\s+SPIFFE ID\s+%s$" % re.escape(ID_UID0), out, re.M), out
    assert re.search(r"^\s+token\s+[\w-]+\.[\w-]+\.[\w-]+$", out, re.M), out
    assert re.search(r"^\s+expires\s+\d{4}-\d\d-\d\dT", out, re.M), out


def test_fetch_jwt_spiffe_id(wl):
    doc = json.loads(ok(wl("fetch", "jwt", "--audience", "a", "--spiffe-id", ID_UID0,
                           "--json")))
    assert [s["spiffe_id"] for s in doc["svids"]] == [ID_UID0], doc
    err = one_line(fails(wl("fetch", "jwt", "--audience", "a", "--spiffe-id",
                            "spiffe://example.org/not-mine")))
    assert "%s: PERMISSION_DENIED: " % wl.daemon.socket in err, err


def test_validate_jwt(wl):
    token = fetch_token(wl, "db")
    out = ok(wl("validate", "jwt", "--audience", "db", token))
    assert re.search(r"^\s+SPIFFE ID\s+%s$" % re.escape(ID_UID0), out, re.M), out
    assert '"sub": "%s"' % ID_UID0 in out, out

    doc = json.loads(ok(wl("validate", "jwt", "--json", "--audience", "db", token)))
    assert doc["spiffe_id"] == ID_UID0, doc
    assert doc["claims"]["sub"] == ID_UID0 and doc["claims"]["aud"] in ("db", ["db"]), doc

    # the token from stdin, with the trailing newline a shell pipeline leaves
    doc = json.loads(ok(wl("validate", "jwt", "--audience", "db", "--json", "-",
                           stdin=token + "\n")))
    assert doc["spiffe_id"] == ID_UID0, doc


def test_validate_jwt_rejected(wl):
    token = fetch_token(wl, "db")
    sock = wl.daemon.socket
    err = one_line(fails(wl("validate", "jwt", "--audience", "not-db", token)))
    assert err.startswith("attestctl: %s: INVALID_ARGUMENT: " % sock), err
    assert "audience" in err, err
    # a signature that does not verify: flip a character of the signature part
    head, _, sig = token.rpartition(".")
    bad = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    err = one_line(fails(wl("validate", "jwt", "--audience", "db", bad)))
    assert err.startswith("attestctl: %s: INVALID_ARGUMENT: " % sock), err
    err = one_line(fails(wl("validate", "jwt", "--audience", "db", "not-a-jwt")))
    assert err.startswith("attestctl: %s: INVALID_ARGUMENT: " % sock), err


# ---- fetch bundles -----------------------------------------------------------------------------


def test_fetch_bundles(wl, outdir):
    doc = json.loads(ok(wl("fetch", "bundles", "--json")))
    assert sorted(doc["bundles"]) == [TD], doc
    b = doc["bundles"][TD]
    assert len(b["x509_authorities"]) >= 1, b
    assert b["jwks"]["keys"] and all(k["use"] == "jwt-svid" for k in b["jwks"]["keys"]), b

    # the X.509 authorities are the bundle that comes with the SVID
    x = json.loads(ok(wl("fetch", "x509", "--json", "--write", outdir)))["svids"][0]
    assert [c["serial"] for c in b["x509_authorities"]] == [c["serial"] for c in x["bundle"]]
    ca_subject = openssl("x509", "-in", os.path.join(outdir, "bundle.0.pem"), "-noout",
                         "-subject", "-nameopt", "RFC2253").strip()
    assert ca_subject == "subject=" + b["x509_authorities"][0]["subject"], (ca_subject, b)

    out = ok(wl("fetch", "bundles"))
    assert re.search(r"^trust domain %s$" % re.escape(TD), out, re.M), out
    assert re.search(r"^\s+X\.509 authorities: %d$" % len(b["x509_authorities"]), out,
                     re.M), out
    assert '"kid": "%s"' % b["jwks"]["keys"][0]["kid"] in out, out


# ---- sockets and errors ------------------------------------------------------------------------


def test_socket_env_and_prefixes(wl):
    sock = wl.daemon.socket
    for env_value in (sock, "unix://" + sock, "unix:" + sock):
        env = {"PATH": "/usr/bin:/bin", "SPIFFE_ENDPOINT_SOCKET": env_value}
        doc = json.loads(ok(run_ctl("fetch", "x509", "--json", env=env)))
        assert doc["svids"][0]["spiffe_id"] == ID_UID0, (env_value, doc)
    doc = json.loads(ok(run_ctl("fetch", "jwt", "--socket", "unix://" + sock, "--audience", "a",
                                "--json")))
    assert doc["svids"][0]["spiffe_id"] == ID_UID0, doc
    # --socket wins over the environment
    env = {"PATH": "/usr/bin:/bin", "SPIFFE_ENDPOINT_SOCKET": "/nonexistent/agent.sock"}
    ok(run_ctl("--socket", sock, "fetch", "bundles", env=env))


def test_missing_socket(workdir):
    missing = os.path.join(workdir, "no-such.sock")
    for args in (["fetch", "x509"], ["fetch", "jwt", "--audience", "a"], ["fetch", "bundles"],
                 ["validate", "jwt", "--audience", "a", "x.y.z"]):
        err = one_line(fails(run_ctl("--socket", missing, *args)))
        assert missing in err and "No such file or directory" in err, (args, err)
    env = {"PATH": "/usr/bin:/bin", "SPIFFE_ENDPOINT_SOCKET": "unix://" + missing}
    err = one_line(fails(run_ctl("fetch", "x509", env=env)))
    assert missing in err, err


def test_timeout(workdir):
    """A socket that accepts but never answers: DEADLINE_EXCEEDED after --timeout."""
    path = os.path.join(workdir, "mute.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        srv.bind(path)
        srv.listen(8)
        t0 = time.monotonic()
        err = one_line(fails(run_ctl("--socket", path, "fetch", "x509", "--timeout", "300ms")))
        elapsed = time.monotonic() - t0
        assert err.startswith("attestctl: %s: DEADLINE_EXCEEDED: " % path), err
        assert "300 ms" in err, err
        assert elapsed < 5, elapsed
    finally:
        srv.close()


def test_permission_denied(attestd):
    """uid 1000 has no identity (one entry for uid 0, no template): every fetch is refused with
    PERMISSION_DENIED, named in one line with the socket; uid 0 still gets its entry."""
    d = attestd(extra_yaml=UID0_ONLY_YAML)
    doc = json.loads(ok(run_ctl("--socket", d.socket, "fetch", "x509", "--json")))
    assert [s["spiffe_id"] for s in doc["svids"]] == [ID_ENTRY_UID0], doc
    assert doc["svids"][0]["hint"] == "root", doc
    for args in (["fetch", "x509"], ["fetch", "jwt", "--audience", "a"], ["fetch", "bundles"]):
        p = run_ctl("--socket", d.socket, *args, uid=OTHER_UID, gid=OTHER_GID)
        err = one_line(fails(p))
        assert err.startswith("attestctl: %s: PERMISSION_DENIED: " % d.socket), (args, err)
        if args[1] == "x509":
            assert "no identity" in err, err
        assert p.stdout == "", p.stdout


# ---- usage -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["fetch"],
    ["fetch", "nope"],
    ["validate"],
    ["validate", "x509"],
    ["fetch", "jwt"],
    ["fetch", "jwt", "--audience", ""],
    ["validate", "jwt", "--audience", "a"],
    ["validate", "jwt", "tok"],
    ["validate", "jwt", "--audience", "a", "--audience", "b", "tok"],
    ["validate", "jwt", "--audience", "a", "tok", "extra"],
    ["fetch", "x509", "--audience", "a"],
    ["fetch", "x509", "--limit", "3"],
    ["fetch", "x509", "--admin-socket", "/x"],
    ["fetch", "x509", "extra"],
    ["fetch", "x509", "--timeout", "soon"],
    ["fetch", "x509", "--timeout", "0s"],
    ["fetch", "bundles", "--write", "/tmp"],
    ["fetch", "bundles", "--spiffe-id", "spiffe://example.org/x"],
    ["status", "--socket", "/x"],
    ["--socket", "tcp://127.0.0.1:8081", "fetch", "x509"],
])
def test_usage_errors(args):
    p = run_ctl(*args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("attestctl: "), p.stderr


def test_usage_error_tcp_endpoint():
    env = {"PATH": "/usr/bin:/bin", "SPIFFE_ENDPOINT_SOCKET": "tcp://127.0.0.1:8081"}
    err = fails(run_ctl("fetch", "x509", env=env), code=2)
    assert "SPIFFE_ENDPOINT_SOCKET" in err and "Unix" in err, err


def test_help_lists_workload_commands():
    out = ok(run_ctl("--help"))
    for synopsis in ("fetch x509 [--write DIR]", "fetch jwt --audience A", "fetch bundles",
                     "validate jwt --audience A", "SPIFFE_ENDPOINT_SOCKET"):
        assert synopsis in out, synopsis
