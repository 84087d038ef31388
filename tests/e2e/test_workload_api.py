"""The SPIFFE Workload API (issue 4) end to end: a real attestd, and a real, independent client
(Debian's python3-grpcio with stubs generated from tests/e2e/workload.proto). What attestd issues
is checked with python3-cryptography and the openssl CLI against the SPIFFE X509-SVID and
JWT-SVID standards. Needs root (BPF, setuid to other uids)."""

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import time

import pytest

grpc = pytest.importorskip("grpc", reason="needs python3-grpcio (Debian)")
json_format = pytest.importorskip("google.protobuf.json_format",
                                  reason="needs python3-protobuf (Debian)")

import wlapi  # noqa: E402

TD = "example.org"
ID_UID0 = "spiffe://example.org/test/uid0"
ID_TEMPLATE_UID0 = "spiffe://example.org/uid/0"
ID_ADDED = "spiffe://example.org/test/added"
OTHER_UID = 1000
OTHER_GID = 1000
X509_TTL_S = 3600
JWT_TTL_S = 300
ROTATION_TTL_S = 10  # the entry `ttl:` of the rotation test
STREAMS = 500
STREAM_CHANNELS = 10  # 50 streams per connection (attestd allows 128)
SC = grpc.StatusCode

BASE_YAML = """\
ca: {generate: true}
svid: {x509_ttl: 1h, jwt_ttl: 5m}
entries:
  - {spiffe_id: "%s", selectors: ["unix:uid:0"], hint: root}
templates:
  - spiffe_id: "spiffe://example.org/uid/{{unix.uid}}"
""" % ID_UID0

# Only uid 0 has an identity: no template.
UID0_ONLY_YAML = """\
ca: {generate: true}
svid: {x509_ttl: 1h, jwt_ttl: 5m}
entries:
  - {spiffe_id: "%s", selectors: ["unix:uid:0"], hint: root}
templates: []
""" % ID_UID0

ADDED_ENTRY_YAML = '  - {spiffe_id: "%s", selectors: ["unix:uid:0", "unix:gid:0"]}\n' % ID_ADDED

ROTATION_YAML = """\
ca: {generate: true}
svid: {x509_ttl: 1h, jwt_ttl: 5m}
entries:
  - {spiffe_id: "spiffe://example.org/test/short", selectors: ["unix:uid:0"], ttl: %ds}
templates: []
""" % ROTATION_TTL_S

METHODS = ("FetchX509SVID", "FetchX509Bundles", "FetchJWTSVID", "FetchJWTBundles",
           "ValidateJWTSVID")


@pytest.fixture
def spiffe(attestd, wl_client):
    """Starts attestd with BASE_YAML (or the given YAML); returns (daemon, client as root)."""

    def start(yaml=BASE_YAML):
        d = attestd(extra_yaml=yaml)
        return d, wl_client(d.socket)

    return start


def run_as(uid, gid, stubs, sock, audience="e2e", extra=()):
    """Runs the wlapi CLI as uid/gid in a child python; returns its JSON result."""

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    p = subprocess.run(
        ["/usr/bin/python3", wlapi.__file__, "--stubs", stubs.dir, "--socket", sock,
         "--audience", audience] + list(extra),
        preexec_fn=drop, capture_output=True, text=True, timeout=120, cwd="/",
        env={"PATH": "/usr/bin:/bin", "HOME": "/"},
    )
    assert p.returncode == 0, "client as uid %d failed (%d): %s" % (uid, p.returncode, p.stderr)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["uid"] == uid, out
    return out


def check_status(err, code, what):
    assert err.code() == code, "%s: got %s %r, want %s" % (what, err.code(), err.details(), code)


def jwt_bundle_keys(client):
    resp = client.fetch_jwt_bundles()
    assert sorted(resp.bundles) == [TD], "JWT bundles for %r" % sorted(resp.bundles)
    return wlapi.jwks_keys(resp.bundles[TD])


# ---- every RPC -------------------------------------------------------------------------------


def test_fetch_x509_svid(spiffe, tmp_path):
    d, c = spiffe()
    now = time.time()
    resp = c.fetch_x509()
    assert wlapi.ids_of(resp) == [ID_UID0, ID_TEMPLATE_UID0], "want the entry (default) first"
    assert resp.svids[0].hint == "root" and resp.svids[1].hint == "", resp.svids
    assert list(resp.crl) == [] and dict(resp.federated_bundles) == {}, resp
    serials, keys = set(), set()
    for i, svid in enumerate(resp.svids):
        leaf, chain, key, cas = wlapi.check_x509_svid(svid, TD, X509_TTL_S, now)
        wlapi.openssl_verify(chain, cas, str(tmp_path / str(i)))
        serials.add(leaf.serial_number)
        keys.add(svid.x509_svid_key)
    assert len(serials) == 2 and len(keys) == 2, "two identities share a serial or a key"
    assert resp.svids[0].bundle == resp.svids[1].bundle
    # The CA generated in the state dir: its certificate is the bundle's.
    assert os.listdir(d.state_dir), "ca: {generate: true} left nothing in state_dir"


def test_x509_key_reused_across_callers(spiffe, wl_client):
    """One key per identity, reused by every caller with that identity until rotation."""
    d, c1 = spiffe()
    c2 = wl_client(d.socket)
    a, b = c1.fetch_x509(), c2.fetch_x509()
    assert wlapi.ids_of(a) == wlapi.ids_of(b)
    for s1, s2 in zip(a.svids, b.svids):
        assert s1.x509_svid_key == s2.x509_svid_key, "%s: a new key per caller" % s1.spiffe_id


def test_fetch_x509_bundles(spiffe):
    d, c = spiffe()
    resp = c.fetch_x509_bundles()
    assert sorted(resp.bundles) == [TD], sorted(resp.bundles)
    assert list(resp.crl) == []
    cas = wlapi.load_certs(resp.bundles[TD])
    assert cas
    assert resp.bundles[TD] == c.fetch_x509().svids[0].bundle, "X509 bundle != X509SVID.bundle"


def test_fetch_jwt_svid_verified_with_jwks(spiffe):
    d, c = spiffe()
    keys = jwt_bundle_keys(c)
    now = time.time()

    resp = c.fetch_jwt(["svc-a"])
    assert resp.svids, "FetchJWTSVID returned no SVID"
    assert resp.svids[0].spiffe_id == ID_UID0, "first JWT-SVID is not the default identity"
    assert {s.spiffe_id for s in resp.svids} <= {ID_UID0, ID_TEMPLATE_UID0}
    svid = resp.svids[0]
    assert svid.hint == "root", svid
    header, claims = wlapi.verify_es256(svid.svid, keys)
    assert header["alg"] == "ES256" and header["typ"] == "JWT" and header["kid"], header
    assert claims["sub"] == ID_UID0, claims
    assert claims["aud"] in ("svc-a", ["svc-a"]), claims
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int), claims
    assert abs(claims["iat"] - now) <= 5, "iat %d, now %.0f" % (claims["iat"], now)
    assert abs(claims["exp"] - claims["iat"] - JWT_TTL_S) <= 1, claims

    # Several audiences, and a named non-default identity.
    resp = c.fetch_jwt(["svc-a", "svc-b"], spiffe_id=ID_TEMPLATE_UID0)
    assert [s.spiffe_id for s in resp.svids] == [ID_TEMPLATE_UID0], resp
    _, claims = wlapi.verify_es256(resp.svids[0].svid, keys)
    assert claims["sub"] == ID_TEMPLATE_UID0 and claims["aud"] == ["svc-a", "svc-b"], claims

    # Not entitled to this ID.
    err = wlapi.rpc_error(c.fetch_jwt, ["svc-a"], spiffe_id="spiffe://example.org/not/mine")
    check_status(err, SC.PERMISSION_DENIED, "FetchJWTSVID for an ID the caller does not have")
    # The Workload API requires an audience.
    err = wlapi.rpc_error(c.fetch_jwt, [])
    check_status(err, SC.INVALID_ARGUMENT, "FetchJWTSVID without audience")


def test_validate_jwt_svid(spiffe):
    d, c = spiffe()
    token = c.fetch_jwt(["svc-a"]).svids[0].svid

    resp = c.validate_jwt("svc-a", token)
    assert resp.spiffe_id == ID_UID0, resp
    claims = json_format.MessageToDict(resp.claims)
    assert claims["sub"] == ID_UID0, claims
    assert claims["aud"] in ("svc-a", ["svc-a"]), claims
    assert claims["exp"] > time.time() and "iat" in claims, claims

    header, payload, _, sig = wlapi.jwt_split(token)
    h64, p64, s64 = token.split(".")
    forged = dict(payload, sub=ID_TEMPLATE_UID0)
    tampered = h64 + "." + wlapi.b64url(json.dumps(forged).encode()) + "." + s64
    flipped = h64 + "." + p64 + "." + wlapi.b64url(bytes([sig[0] ^ 1]) + sig[1:])
    none_tok = wlapi.sign_jwt(dict(header, alg="none"), payload, alg="none")
    jwks = c.fetch_jwt_bundles().bundles[TD]
    hs256 = wlapi.sign_jwt(dict(header, alg="HS256"), payload, alg="HS256", secret=jwks)
    bad = [
        ("tampered payload", "svc-a", tampered, r"(?i)signature|verif"),
        ("flipped signature", "svc-a", flipped, r"(?i)signature|verif"),
        ("wrong audience", "svc-b", token, r"(?i)aud"),
        ("alg none", "svc-a", none_tok, r"(?i)alg|none"),
        ("alg HS256", "svc-a", hs256, r"(?i)alg|HS256"),
        ("garbage", "svc-a", "not.a-jwt", r"."),
        ("two parts", "svc-a", h64 + "." + p64, r"."),
    ]
    for what, aud, tok, reason in bad:
        err = wlapi.rpc_error(c.validate_jwt, aud, tok)
        check_status(err, SC.INVALID_ARGUMENT, "ValidateJWTSVID, " + what)
        assert re.search(reason, err.details() or ""), "%s: reason %r does not match %r" % (
            what, err.details(), reason)
    for what, aud, tok in (("no audience", "", token), ("no token", "svc-a", "")):
        err = wlapi.rpc_error(c.validate_jwt, aud, tok)
        check_status(err, SC.INVALID_ARGUMENT, "ValidateJWTSVID, " + what)


def test_validate_jwt_svid_crafted(spiffe):
    """Tokens we sign ourselves with attestd's JWT key (found in its state dir): a valid one is
    accepted (so the others fail for the reason they are built for), expired / not yet valid /
    unknown kid / foreign key are rejected."""
    from cryptography.hazmat.primitives.asymmetric import ec

    d, c = spiffe()
    keys = jwt_bundle_keys(c)
    kid, pub = next(iter(keys.items()))
    priv = wlapi.find_private_key(d.state_dir, pub)
    if priv is None:
        pytest.skip("no private key matching the JWKS under %s (kept elsewhere?)" % d.state_dir)
    now = int(time.time())
    hdr = {"alg": "ES256", "kid": kid, "typ": "JWT"}
    good = {"sub": ID_UID0, "aud": ["svc-a"], "iat": now, "exp": now + 300}

    resp = c.validate_jwt("svc-a", wlapi.sign_jwt(hdr, good, priv))
    assert resp.spiffe_id == ID_UID0

    other = ec.generate_private_key(ec.SECP256R1())
    bad = [
        ("expired", wlapi.sign_jwt(hdr, dict(good, iat=now - 900, exp=now - 600), priv),
         r"(?i)expire|exp"),
        ("not yet valid", wlapi.sign_jwt(hdr, dict(good, nbf=now + 600), priv),
         r"(?i)nbf|not.*valid|yet"),
        ("unknown kid", wlapi.sign_jwt(dict(hdr, kid="nope"), good, priv), r"(?i)kid|key"),
        ("foreign key", wlapi.sign_jwt(hdr, good, other), r"(?i)signature|verif"),
        ("sub not a SPIFFE ID", wlapi.sign_jwt(hdr, dict(good, sub="https://x/y"), priv),
         r"(?i)sub|spiffe"),
        ("no exp", wlapi.sign_jwt(hdr, {k: v for k, v in good.items() if k != "exp"}, priv),
         r"(?i)exp"),
    ]
    for what, tok, reason in bad:
        err = wlapi.rpc_error(c.validate_jwt, "svc-a", tok)
        check_status(err, SC.INVALID_ARGUMENT, "ValidateJWTSVID, " + what)
        assert re.search(reason, err.details() or ""), "%s: reason %r does not match %r" % (
            what, err.details(), reason)


# ---- the Workload Endpoint rules -------------------------------------------------------------


def call_method(c, method, header, token):
    if method == "FetchX509SVID":
        return c.fetch_x509(header=header)
    if method == "FetchX509Bundles":
        return c.fetch_x509_bundles(header=header)
    if method == "FetchJWTBundles":
        return c.fetch_jwt_bundles(header=header)
    if method == "FetchJWTSVID":
        return c.fetch_jwt(["svc-a"], header=header)
    return c.validate_jwt("svc-a", token, header=header)


def test_missing_header(spiffe):
    d, c = spiffe()
    token = c.fetch_jwt(["svc-a"]).svids[0].svid  # valid: only the header can be wrong
    for m in METHODS:
        call_method(c, m, True, token)
        err = wlapi.rpc_error(call_method, c, m, False, token)
        check_status(err, SC.INVALID_ARGUMENT, m + " without workload.spiffe.io")
    # A wrong value is no better than none.
    stream = c.stub.FetchX509SVID(c.pb.X509SVIDRequest(),
                                  metadata=(("workload.spiffe.io", "false"),), timeout=10)
    err = wlapi.rpc_error(next, stream)
    check_status(err, SC.INVALID_ARGUMENT, "FetchX509SVID with workload.spiffe.io: false")
    # The connection still serves a proper request.
    assert wlapi.ids_of(c.fetch_x509())[0] == ID_UID0


def test_permission_denied(spiffe, wl_stubs):
    d, c = spiffe(UID0_ONLY_YAML)
    assert wlapi.ids_of(c.fetch_x509()) == [ID_UID0]
    out = run_as(OTHER_UID, OTHER_GID, wl_stubs, d.socket)
    for m in ("FetchX509SVID", "FetchJWTSVID", "FetchX509Bundles", "FetchJWTBundles"):
        assert out[m]["code"] == "PERMISSION_DENIED", "uid %d, %s: %r" % (OTHER_UID, m, out[m])
    # The refusal is audited, with no identity issued.
    recs = d.wait_records(lambda r: r.get("peer", {}).get("pid") == out["pid"]
                          and r.get("rpc") == "/SpiffeWorkloadAPI/FetchX509SVID")
    assert not recs[0].get("spiffe_ids"), recs[0]


def test_embedded_defaults(spiffe, wl_stubs, tmp_path):
    """No ca/entries/templates keys: generated CA, and the template uid/{{unix.uid}}."""
    d, c = spiffe("")
    now = time.time()
    resp = c.fetch_x509()
    assert wlapi.ids_of(resp) == [ID_TEMPLATE_UID0]
    leaf, chain, key, cas = wlapi.check_x509_svid(resp.svids[0], TD, X509_TTL_S, now)
    wlapi.openssl_verify(chain, cas, str(tmp_path))
    out = run_as(OTHER_UID, OTHER_GID, wl_stubs, d.socket)
    assert out["FetchX509SVID"] == {"code": "OK", "details": "",
                                    "ids": ["spiffe://example.org/uid/%d" % OTHER_UID]}, out
    assert out["FetchJWTSVID"]["ids"][:1] == ["spiffe://example.org/uid/%d" % OTHER_UID], out
    assert out["FetchX509Bundles"]["ids"] == [TD] and out["FetchJWTBundles"]["ids"] == [TD], out


def test_identity_bound_to_connection(spiffe, wl_stubs):
    """A process that changes uid keeps, on its open connection, the identity attested at
    connect time; a new connection is attested afresh."""
    d, c = spiffe("")
    out = run_as(0, 0, wl_stubs, d.socket, extra=["--then-setuid", "%d:%d" % (OTHER_UID,
                                                                             OTHER_GID)])
    assert out["then_uid"] == OTHER_UID
    assert out["FetchX509SVID"]["ids"] == [ID_TEMPLATE_UID0], out
    assert out["SameConnection"]["ids"] == [ID_TEMPLATE_UID0], out
    assert out["NewConnection"]["ids"] == ["spiffe://example.org/uid/%d" % OTHER_UID], out


def test_dns_names_subject_and_jwt_claims(spiffe):
    """Entry dns_names become DNS SANs next to the one URI SAN; a template renders the X.509
    subject and extra JWT claims from attributes."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    d, c = spiffe("""\
ca: {generate: true}
entries:
  - {spiffe_id: "spiffe://example.org/web", selectors: ["unix:uid:0"],
     dns_names: ["web.example.org", "web"]}
templates:
  - spiffe_id: "spiffe://example.org/uid/{{unix.uid}}"
    x509_subject: {common_name: "uid-{{unix.uid}}", organization: ["acme", "{{unix.user}}"]}
    jwt_claims: {user: "{{unix.user}}", gid: "{{unix.gid}}"}
""")
    resp = c.fetch_x509()
    assert wlapi.ids_of(resp) == ["spiffe://example.org/web", ID_TEMPLATE_UID0]
    web, _, _, _ = wlapi.check_x509_svid(resp.svids[0], TD, X509_TTL_S)
    san = wlapi.ext(web, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert san.get_values_for_type(x509.DNSName) == ["web.example.org", "web"], san
    tpl, _, _, _ = wlapi.check_x509_svid(resp.svids[1], TD, X509_TTL_S)
    cn = [a.value for a in tpl.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    org = [a.value for a in tpl.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert cn == ["uid-0"] and org == ["acme", "root"], tpl.subject

    keys = jwt_bundle_keys(c)
    jwt = c.fetch_jwt(["svc-a"], spiffe_id=ID_TEMPLATE_UID0).svids[0].svid
    _, claims = wlapi.verify_es256(jwt, keys)
    assert claims.get("user") == "root" and claims.get("gid") == "0", claims
    resp = c.validate_jwt("svc-a", jwt)
    assert json_format.MessageToDict(resp.claims).get("user") == "root"


def test_unimplemented(spiffe):
    d, c = spiffe()
    for path in ("/SpiffeWorkloadAPI/Nope", "/spire.api.agent.Other/FetchX509SVID",
                 "/SpiffeWorkloadAPI/fetchx509svid"):
        err = wlapi.rpc_error(c.raw_unary, path, b"")
        check_status(err, SC.UNIMPLEMENTED, path)
    assert wlapi.ids_of(c.fetch_x509())[0] == ID_UID0


# ---- streams ---------------------------------------------------------------------------------


def serial_of(resp, i=0):
    return wlapi.load_certs(resp.svids[i].x509_svid)[0].serial_number


def test_rotation(spiffe):
    """A short entry TTL: the open stream gets a new certificate (and key) at half-life with
    jitter, well before expiry, and again after that; never a burst of re-issues."""
    d, c = spiffe(ROTATION_YAML)
    ttl = ROTATION_TTL_S
    reader = wlapi.StreamReader(c.x509_stream())
    try:
        first = reader.next(wlapi.FIRST_MESSAGE_TIMEOUT)
        assert first is not None, "no first message: %r" % (reader.error,)
        t0, m0 = first
        wlapi.check_x509_svid(m0.svids[0], TD, ttl, ttl_slack_s=3)
        prev_t, prev = t0, m0
        for n in (1, 2):
            got = reader.wait_for(lambda m: serial_of(m) != serial_of(prev), ttl + 5)
            assert got is not None, "rotation %d: no new certificate within %d s (%r)" % (
                n, ttl + 5, reader.error)
            t, m = got
            dt = t - prev_t
            assert 0.25 * ttl <= dt <= 0.95 * ttl, (
                "rotation %d after %.1f s; want about half the TTL (%d s)" % (n, dt, ttl))
            wlapi.check_x509_svid(m.svids[0], TD, ttl, ttl_slack_s=3)
            assert m.svids[0].x509_svid_key != prev.svids[0].x509_svid_key, "rotation kept the key"
            assert wlapi.ids_of(m) == wlapi.ids_of(prev)
            prev_t, prev = t, m
        # Stream messages carry the whole state; 2 rotations should not take > 6 messages.
        assert reader.count <= 6, "%d messages for 2 rotations" % reader.count
    finally:
        reader.cancel()


def reload_config(d, yaml):
    d.extra_yaml = yaml
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)


def test_reload_adds_and_removes_entry(spiffe):
    d, c = spiffe(UID0_ONLY_YAML)
    reader = wlapi.StreamReader(c.x509_stream())
    try:
        first = reader.next(wlapi.FIRST_MESSAGE_TIMEOUT)
        assert first is not None, "no first message: %r" % (reader.error,)
        assert wlapi.ids_of(first[1]) == [ID_UID0]

        reload_config(d, UID0_ONLY_YAML.replace("templates:", ADDED_ENTRY_YAML + "templates:"))
        got = reader.wait_for(lambda m: ID_ADDED in wlapi.ids_of(m), 15)
        assert got is not None, "no message with %s after SIGHUP (%r):\n%s" % (
            ID_ADDED, reader.error, d.log_tail())
        assert wlapi.ids_of(got[1]) == [ID_UID0, ID_ADDED], "default must stay first"
        by_id = {s.spiffe_id: s for s in got[1].svids}
        wlapi.check_x509_svid(by_id[ID_ADDED], TD, X509_TTL_S)

        # An invalid file is refused: the old configuration and the stream stay.
        n = reader.count
        bad_entry = '  - {spiffe_id: "spiffe://example.org/a//b", selectors: ["unix:uid:0"]}\n'
        reload_config(d, UID0_ONLY_YAML.replace("templates:", bad_entry + "templates:"))
        assert reader.next(2) is None and reader.error is None, "a refused reload sent a message"
        assert reader.count == n
        assert wlapi.ids_of(c.fetch_x509()) == [ID_UID0, ID_ADDED], "a refused reload applied"

        reload_config(d, UID0_ONLY_YAML)
        got = reader.wait_for(lambda m: ID_ADDED not in wlapi.ids_of(m), 15)
        assert got is not None, "no message without %s after SIGHUP (%r):\n%s" % (
            ID_ADDED, reader.error, d.log_tail())
        assert wlapi.ids_of(got[1]) == [ID_UID0]
        assert reader.error is None, reader.error
    finally:
        reader.cancel()
    assert d.proc.poll() is None


def test_500_concurrent_streams(spiffe, wl_client):
    d, c = spiffe()
    clients = [wl_client(d.socket) for _ in range(STREAM_CHANNELS)]
    calls = [clients[i % STREAM_CHANNELS].x509_stream() for i in range(STREAMS)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=STREAMS) as ex:
            futs = [ex.submit(next, call) for call in calls]
            done, pending = concurrent.futures.wait(futs, timeout=90)
            errors = [f.exception() for f in done if f.exception() is not None]
            firsts = [f.result() for f in done if f.exception() is None]
            for call in calls:  # also unblocks any thread still waiting
                call.cancel()
        assert not pending, "%d of %d streams got no first message in 90 s" % (len(pending),
                                                                                 STREAMS)
        assert not errors, "%d streams failed, e.g. %r" % (len(errors), errors[0])
        assert all(wlapi.ids_of(m) == [ID_UID0, ID_TEMPLATE_UID0] for m in firsts)
    finally:
        for call in calls:
            call.cancel()
    # attestd is still healthy: alive, admin API answers, new and old connections serve.
    assert d.proc.poll() is None, d.log_tail()
    status, _ = d.get("/v1/status")
    assert status == 200
    assert wlapi.ids_of(c.fetch_x509())[0] == ID_UID0
    assert wlapi.ids_of(clients[0].fetch_x509())[0] == ID_UID0


def test_cancelled_streams_and_closed_connections(spiffe, wl_client):
    """RST_STREAM on open streams, then whole connections closed with streams open: attestd
    stays up and serves the next caller."""
    d, c = spiffe()
    for _ in range(3):
        other = wl_client(d.socket)
        readers = [wlapi.StreamReader(other.x509_stream()) for _ in range(5)]
        assert all(r.next(wlapi.FIRST_MESSAGE_TIMEOUT) for r in readers)
        readers[0].cancel()
        other.close()  # GOAWAY / close with 4 streams open
    assert d.proc.poll() is None, d.log_tail()
    assert wlapi.ids_of(c.fetch_x509())[0] == ID_UID0


# ---- audit -----------------------------------------------------------------------------------


def test_audit_records_rpcs(spiffe):
    d, c = spiffe()
    c.fetch_x509()
    token = c.fetch_jwt(["svc-a"]).svids[0].svid
    c.fetch_x509_bundles()
    c.fetch_jwt_bundles()
    c.validate_jwt("svc-a", token)
    pid = os.getpid()

    def of(method):
        recs = d.wait_records(lambda r: r.get("rpc") == wlapi.SERVICE + method
                              and r.get("peer", {}).get("pid") == pid)
        rec = recs[0]
        assert rec["result"] == "attested", rec
        assert rec["peer"]["uid"] == 0, rec
        assert "unix:uid:0" in rec["selectors"], rec
        return rec

    assert of("FetchX509SVID")["spiffe_ids"] == [ID_UID0, ID_TEMPLATE_UID0]
    assert ID_UID0 in of("FetchJWTSVID")["spiffe_ids"]
    for m in ("FetchX509Bundles", "FetchJWTBundles", "ValidateJWTSVID"):
        of(m)
