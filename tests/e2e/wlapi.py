"""SPIFFE Workload API client helpers for the e2e suite: Python stubs generated at test time from
tests/e2e/workload.proto (protoc + grpc_python_plugin, Debian's python3-grpcio), and independent
checks of what attestd issues (python3-cryptography and the openssl CLI, never attestd's code).

Also a small CLI, run by the tests as another uid in a child process:
    /usr/bin/python3 wlapi.py --stubs DIR --socket PATH [--audience A] [--then-setuid U:G]
prints one JSON object: {"<Method>": {"code": "OK"|"<grpc status>", "details": "...",
"ids": [spiffe ids]}} for FetchX509SVID, FetchJWTSVID, FetchX509Bundles and FetchJWTBundles.
"""

import base64
import datetime
import glob
import hashlib
import hmac
import importlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "workload.proto")
PROTOC = "/usr/bin/protoc"
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"
PROTO_INCLUDE = "/usr/include"  # google/protobuf/struct.proto (libprotobuf-dev)
HEADER = (("workload.spiffe.io", "true"),)
SERVICE = "/SpiffeWorkloadAPI/"
RPC_TIMEOUT = 15.0
FIRST_MESSAGE_TIMEOUT = 15.0

# ---- stubs -----------------------------------------------------------------------------------


def missing_tools():
    """None if stubs can be generated and used, else the reason (for pytest.skip)."""
    for path, pkg in ((PROTOC, "protobuf-compiler"), (GRPC_PLUGIN, "protobuf-compiler-grpc")):
        if not os.access(path, os.X_OK):
            return "needs %s (Debian package %s)" % (path, pkg)
    if not os.path.exists(os.path.join(PROTO_INCLUDE, "google/protobuf/struct.proto")):
        return "needs %s/google/protobuf/struct.proto (libprotobuf-dev)" % PROTO_INCLUDE
    for mod, pkg in (("grpc", "python3-grpcio"), ("google.protobuf", "python3-protobuf"),
                     ("cryptography", "python3-cryptography")):
        try:
            importlib.import_module(mod)
        except ImportError:
            return "needs the Python module %s (Debian package %s)" % (mod, pkg)
    if not shutil.which("openssl"):
        return "needs the openssl CLI (Debian package openssl)"
    return None


class Stubs:
    """workload_pb2 (pb) and workload_pb2_grpc (rpc) loaded from `outdir`."""

    def __init__(self, outdir):
        self.dir = outdir
        if outdir not in sys.path:
            sys.path.insert(0, outdir)
        self.pb = importlib.import_module("workload_pb2")
        self.rpc = importlib.import_module("workload_pb2_grpc")


def generate(outdir):
    """Runs protoc into outdir; returns Stubs. Raises RuntimeError with protoc's output."""
    argv = [
        PROTOC,
        "--python_out=" + outdir,
        "--grpc_python_out=" + outdir,
        "--plugin=protoc-gen-grpc_python=" + GRPC_PLUGIN,
        "-I", HERE,
        "-I", PROTO_INCLUDE,
        PROTO,
    ]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("protoc failed (%d): %s" % (p.returncode, p.stderr))
    return Stubs(outdir)


# ---- client ------------------------------------------------------------------------------------


def channel(sock):
    """A channel with its own connection (no subchannel sharing between channels)."""
    import grpc

    return grpc.insecure_channel(
        "unix:" + sock,
        options=[("grpc.use_local_subchannel_pool", 1), ("grpc.enable_retries", 0)],
    )


class Client:
    """One connection to the agent socket and the SpiffeWorkloadAPI stub on it."""

    def __init__(self, stubs, sock):
        self.stubs = stubs
        self.pb = stubs.pb
        self.sock = sock
        self.channel = channel(sock)
        self.stub = stubs.rpc.SpiffeWorkloadAPIStub(self.channel)

    def close(self):
        self.channel.close()

    def _md(self, header):
        return HEADER if header else None

    # Streams: the call object is both an iterator of responses and a grpc.Call.
    def x509_stream(self, header=True, timeout=None):
        return self.stub.FetchX509SVID(self.pb.X509SVIDRequest(), metadata=self._md(header),
                                       timeout=timeout)

    def x509_bundles_stream(self, header=True, timeout=None):
        return self.stub.FetchX509Bundles(self.pb.X509BundlesRequest(),
                                          metadata=self._md(header), timeout=timeout)

    def jwt_bundles_stream(self, header=True, timeout=None):
        return self.stub.FetchJWTBundles(self.pb.JWTBundlesRequest(), metadata=self._md(header),
                                         timeout=timeout)

    def _first(self, call):
        try:
            return next(call)
        finally:
            call.cancel()

    def fetch_x509(self, header=True, timeout=FIRST_MESSAGE_TIMEOUT):
        """The first X509SVIDResponse of a FetchX509SVID stream (the stream is then cancelled)."""
        return self._first(self.x509_stream(header, timeout))

    def fetch_x509_bundles(self, header=True, timeout=FIRST_MESSAGE_TIMEOUT):
        return self._first(self.x509_bundles_stream(header, timeout))

    def fetch_jwt_bundles(self, header=True, timeout=FIRST_MESSAGE_TIMEOUT):
        return self._first(self.jwt_bundles_stream(header, timeout))

    def fetch_jwt(self, audience, spiffe_id="", header=True, timeout=RPC_TIMEOUT):
        req = self.pb.JWTSVIDRequest(audience=list(audience), spiffe_id=spiffe_id)
        return self.stub.FetchJWTSVID(req, metadata=self._md(header), timeout=timeout)

    def validate_jwt(self, audience, token, header=True, timeout=RPC_TIMEOUT):
        req = self.pb.ValidateJWTSVIDRequest(audience=audience, svid=token)
        return self.stub.ValidateJWTSVID(req, metadata=self._md(header), timeout=timeout)

    def raw_unary(self, method_path, payload=b"", header=True, timeout=RPC_TIMEOUT):
        """Calls any path with raw request bytes; returns the raw response bytes."""
        fn = self.channel.unary_unary(method_path, request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        return fn(payload, metadata=self._md(header), timeout=timeout)


def rpc_error(fn, *args, **kw):
    """Calls fn; returns the grpc.RpcError it raises (AssertionError if it succeeds)."""
    import grpc

    try:
        res = fn(*args, **kw)
    except grpc.RpcError as e:
        return e
    raise AssertionError("expected an RPC error, got %r" % (res,))


class StreamReader:
    """Drains a server stream on a thread; next(timeout) returns the next message or None if
    nothing arrived in time; .error is the grpc.RpcError that ended it (None = still open or
    ended OK)."""

    def __init__(self, call):
        self.call = call
        self.q = queue.Queue()
        self.error = None
        self.done = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import grpc

        try:
            for msg in self.call:
                self.q.put((time.monotonic(), msg))
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.done.set()
            self.q.put(None)

    def next(self, timeout):
        """(monotonic arrival time, message), or None on timeout / end of stream."""
        try:
            item = self.q.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is None:
            self.q.put(None)  # stay ended for later calls
            return None
        self.count += 1
        return item

    def wait_for(self, pred, timeout):
        """The first message (arrival, msg) satisfying pred within timeout, or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            item = self.next(left)
            if item is None:
                return None
            if pred(item[1]):
                return item

    def cancel(self):
        self.call.cancel()
        self.thread.join(10)


def ids_of(x509_resp):
    return [s.spiffe_id for s in x509_resp.svids]


# ---- X.509 checks ------------------------------------------------------------------------------


def split_der(data):
    """Splits concatenated DER SEQUENCEs (certificates) into a list of bytes objects."""
    out = []
    i = 0
    while i < len(data):
        tag, _, end = der_tlv(data, i)
        assert tag == 0x30, "DER at offset %d: not a SEQUENCE (0x%02x)" % (i, tag)
        out.append(data[i:end])
        i = end
    return out


def der_tlv(data, i):
    """(tag, value start, value end) of the DER TLV at offset i."""
    assert i + 2 <= len(data), "DER at offset %d: truncated" % i
    tag, first = data[i], data[i + 1]
    if first < 0x80:
        start, n = i + 2, first
    else:
        nb = first & 0x7F
        assert 1 <= nb <= 4 and i + 2 + nb <= len(data), "DER at %d: bad length" % i
        start, n = i + 2 + nb, int.from_bytes(data[i + 2:i + 2 + nb], "big")
    assert start + n <= len(data), "DER at offset %d: overrun" % i
    return tag, start, start + n


def is_pkcs8(der):
    """PrivateKeyInfo ::= SEQUENCE { INTEGER 0, AlgorithmIdentifier SEQUENCE, OCTET STRING }
    (SEC1 ECPrivateKey starts with INTEGER 1; PKCS#1 RSA has INTEGER 0 then an INTEGER)."""
    tag, start, end = der_tlv(der, 0)
    if tag != 0x30 or end != len(der):
        return False
    tag, vs, ve = der_tlv(der, start)
    if tag != 0x02 or der[vs:ve] != b"\x00":
        return False
    tag, s2, e2 = der_tlv(der, ve)
    if tag != 0x30:
        return False
    tag, _, _ = der_tlv(der, e2)
    return tag == 0x04


def load_certs(der):
    from cryptography import x509

    return [x509.load_der_x509_certificate(d) for d in split_der(der)]


def utc_ts(dt):
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def verify_signed_by(cert, issuer):
    """Raises if cert's signature does not verify with issuer's public key."""
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    pub = issuer.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                   cert.signature_hash_algorithm)
    else:
        raise AssertionError("unexpected CA key type %r" % type(pub))
    assert cert.issuer == issuer.subject, "issuer %s != CA subject %s" % (cert.issuer,
                                                                             issuer.subject)


def ext(cert, oid):
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def check_x509_svid(svid, trust_domain, ttl_s, now=None, ttl_slack_s=120):
    """Checks one X509SVID message against the SPIFFE X509-SVID standard, field by field.
    Returns (leaf, chain certs, private key, bundle certs)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

    now = time.time() if now is None else now
    assert svid.spiffe_id.startswith("spiffe://%s/" % trust_domain), svid.spiffe_id
    chain = load_certs(svid.x509_svid)
    assert chain, "x509_svid: no certificate"
    leaf = chain[0]
    cas = load_certs(svid.bundle)
    assert cas, "bundle: no certificate"

    # Exactly one URI SAN, equal to the SPIFFE ID.
    san = ext(leaf, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert san is not None, "leaf: no subjectAltName"
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    assert uris == [svid.spiffe_id], "leaf URI SANs %r, want exactly [%r]" % (uris,
                                                                                svid.spiffe_id)

    # Key matches the certificate (PKCS#8 DER).
    assert svid.x509_svid_key[:1] == b"\x30", "x509_svid_key: not DER"
    key = serialization.load_der_private_key(svid.x509_svid_key, password=None)
    pub_der = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    key_pub_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    assert pub_der == key_pub_der, "x509_svid_key does not match the leaf certificate"
    assert is_pkcs8(svid.x509_svid_key), "x509_svid_key: not a PKCS#8 PrivateKeyInfo"
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert key.curve.name == "secp256r1", key.curve.name

    # KeyUsage: critical, digitalSignature (+ keyEncipherment for RSA only), nothing else.
    ku = ext(leaf, ExtensionOID.KEY_USAGE)
    assert ku is not None and ku.critical, "leaf: KeyUsage missing or not critical"
    k = ku.value
    assert k.digital_signature, "leaf: KeyUsage without digitalSignature"
    assert not k.key_cert_sign and not k.crl_sign, "leaf: KeyUsage allows signing certs/CRLs"
    assert not k.content_commitment and not k.data_encipherment and not k.key_agreement, k
    assert is_rsa or not k.key_encipherment, "leaf: keyEncipherment on a non-RSA key"

    # BasicConstraints cA=false.
    bc = ext(leaf, ExtensionOID.BASIC_CONSTRAINTS)
    assert bc is not None, "leaf: no BasicConstraints"
    assert bc.value.ca is False, "leaf: cA=true"
    assert bc.value.path_length is None, bc.value

    # EKU serverAuth + clientAuth.
    eku = ext(leaf, ExtensionOID.EXTENDED_KEY_USAGE)
    assert eku is not None, "leaf: no ExtendedKeyUsage"
    usages = set(eku.value)
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages, usages
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages, usages

    # No unexpected critical extension (verifiers must reject unknown critical ones).
    for e in leaf.extensions:
        if e.critical:
            assert e.oid in (ExtensionOID.KEY_USAGE, ExtensionOID.BASIC_CONSTRAINTS,
                             ExtensionOID.SUBJECT_ALTERNATIVE_NAME), "leaf: critical %s" % e.oid

    # Serial: positive, from a CSPRNG (>= 8 random bytes: fewer than 49 significant bits would
    # be a 1 in 65536 accident for 64 random bits).
    assert leaf.serial_number > 0, "serial %d not positive" % leaf.serial_number
    assert leaf.serial_number.bit_length() >= 49, "serial %#x too short" % leaf.serial_number
    assert leaf.version == x509.Version.v3

    # Validity: NotBefore slightly in the past, NotAfter = now + TTL.
    nb = utc_ts(leaf.not_valid_before)
    na = utc_ts(leaf.not_valid_after)
    # Backdated "slightly" (attestd: SVID_BACKDATE_S = 30): between 2 s and 10 min ago.
    assert now - 600 <= nb <= now - 2, "NotBefore %s is not slightly before now (%s)" % (
        leaf.not_valid_before, datetime.datetime.utcfromtimestamp(now))
    assert ttl_s - ttl_slack_s <= na - now <= ttl_s + 5, (
        "NotAfter %s is now + %.0f s, want the TTL %d s" % (leaf.not_valid_after, na - now, ttl_s))

    # Chain: each certificate signed by the next, the last by a bundle CA.
    for c, issuer in zip(chain, chain[1:]):
        verify_signed_by(c, issuer)
    top = chain[-1]
    anchors = [ca for ca in cas if ca.subject == top.issuer]
    assert anchors, "no bundle CA has the subject %s" % top.issuer
    verify_signed_by(top, anchors[0])
    for ca in cas:
        cbc = ext(ca, ExtensionOID.BASIC_CONSTRAINTS)
        assert cbc is not None and cbc.value.ca, "bundle certificate is not a CA"
        cku = ext(ca, ExtensionOID.KEY_USAGE)
        assert cku is not None and cku.value.key_cert_sign, "bundle CA without keyCertSign"
        curis = []
        csan = ext(ca, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        if csan is not None:
            curis = csan.value.get_values_for_type(x509.UniformResourceIdentifier)
        assert all(u == "spiffe://" + trust_domain for u in curis), curis
    return leaf, chain, key, cas


def pem(certs):
    from cryptography.hazmat.primitives import serialization

    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def openssl_verify(chain, cas, tmpdir):
    """`openssl verify -x509_strict -purpose any -CAfile bundle.pem [-untrusted inter.pem]
    leaf.pem`; raises AssertionError with openssl's output unless it says OK."""
    os.makedirs(tmpdir, exist_ok=True)
    paths = {}
    for name, certs in (("leaf", chain[:1]), ("inter", chain[1:]), ("bundle", cas)):
        paths[name] = os.path.join(tmpdir, name + ".pem")
        with open(paths[name], "wb") as f:
            f.write(pem(certs))
    argv = ["openssl", "verify", "-x509_strict", "-CAfile", paths["bundle"]]
    if len(chain) > 1:
        argv += ["-untrusted", paths["inter"]]
    argv.append(paths["leaf"])
    for purpose in ("sslserver", "sslclient"):
        p = subprocess.run(argv[:2] + ["-purpose", purpose] + argv[2:], capture_output=True,
                           text=True, timeout=30)
        out = p.stdout + p.stderr
        assert p.returncode == 0 and out.strip().endswith("OK"), "openssl verify (%s): %s" % (
            purpose, out)


# ---- JWT ---------------------------------------------------------------------------------------


def b64url_decode(s):
    assert "=" not in s, "JWT segment with padding: %r" % s
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt_split(token):
    """(header dict, claims dict, signing input bytes, signature bytes)."""
    parts = token.split(".")
    assert len(parts) == 3, "JWT with %d parts" % len(parts)
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    return header, claims, (parts[0] + "." + parts[1]).encode(), b64url_decode(parts[2])


def jwks_keys(jwks_json):
    """Checks a JWT bundle (JWKS JSON bytes) and returns {kid: EC public key}."""
    from cryptography.hazmat.primitives.asymmetric import ec

    doc = json.loads(jwks_json)
    assert isinstance(doc.get("keys"), list) and doc["keys"], "JWKS without keys: %r" % doc
    assert isinstance(doc.get("spiffe_sequence"), int), "JWKS: spiffe_sequence %r" % (
        doc.get("spiffe_sequence"),)
    assert isinstance(doc.get("spiffe_refresh_hint"), int) and doc["spiffe_refresh_hint"] > 0, (
        "JWKS: spiffe_refresh_hint %r" % (doc.get("spiffe_refresh_hint"),))
    out = {}
    for k in doc["keys"]:
        assert "d" not in k, "JWKS publishes a private key!"
        assert k.get("use") == "jwt-svid", k
        assert isinstance(k.get("kid"), str) and k["kid"], k
        assert k.get("kty") == "EC" and k.get("crv") == "P-256", k
        x, y = b64url_decode(k["x"]), b64url_decode(k["y"])
        assert len(x) == 32 and len(y) == 32, "JWK x/y not 32 bytes: %r" % k
        pub = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                            ec.SECP256R1()).public_key()
        assert k["kid"] not in out, "duplicate kid %r" % k["kid"]
        out[k["kid"]] = pub
    return out


def verify_es256(token, keys):
    """Verifies a compact ES256 JWS with {kid: public key}; returns (header, claims)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    header, claims, signing_input, sig = jwt_split(token)
    assert header.get("alg") == "ES256", header
    assert header.get("kid") in keys, "kid %r not in the JWKS %r" % (header.get("kid"),
                                                                     sorted(keys))
    assert len(sig) == 64, "ES256 signature is %d bytes, want raw r||s (64)" % len(sig)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    keys[header["kid"]].verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    return header, claims


def sign_jwt(header, claims, key=None, alg="ES256", secret=b""):
    """Builds a compact JWS ourselves (for tokens attestd must reject or accept)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    c = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = (h + "." + c).encode()
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "HS256":
        sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    elif alg == "none":
        sig = b""
    else:
        raise ValueError(alg)
    return h + "." + c + "." + b64url(sig)


def find_private_key(directory, pub):
    """The private key stored (PEM or DER, any file name) under directory whose public key is
    `pub`, or None."""
    from cryptography.hazmat.primitives import serialization

    want = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    for path in glob.glob(os.path.join(directory, "**"), recursive=True):
        if not os.path.isfile(path) or os.path.getsize(path) > 1 << 20:
            continue
        with open(path, "rb") as f:
            data = f.read()
        for loader in (serialization.load_pem_private_key, serialization.load_der_private_key):
            try:
                key = loader(data, password=None)
            except Exception:  # noqa: BLE001 - not a key, or another format
                continue
            got = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            if got == want:
                return key
    return None


# ---- CLI (a client running as another uid) -----------------------------------------------------


def _cli(argv):
    import argparse

    import grpc

    ap = argparse.ArgumentParser()
    ap.add_argument("--stubs", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--audience", default="e2e")
    ap.add_argument("--then-setuid", metavar="UID:GID",
                    help="afterwards switch to UID:GID and FetchX509SVID again on the same "
                    "connection (SameConnection) and on a new one (NewConnection)")
    a = ap.parse_args(argv)
    cl = Client(Stubs(a.stubs), a.socket)
    out = {"uid": os.getuid(), "pid": os.getpid()}

    def run(name, fn, ids):
        try:
            res = fn()
            out[name] = {"code": "OK", "details": "", "ids": ids(res)}
        except grpc.RpcError as e:
            out[name] = {"code": e.code().name, "details": e.details() or "", "ids": []}

    run("FetchX509SVID", cl.fetch_x509, ids_of)
    run("FetchJWTSVID", lambda: cl.fetch_jwt([a.audience]),
        lambda r: [s.spiffe_id for s in r.svids])
    run("FetchX509Bundles", cl.fetch_x509_bundles, lambda r: sorted(r.bundles))
    run("FetchJWTBundles", cl.fetch_jwt_bundles, lambda r: sorted(r.bundles))
    if a.then_setuid:
        uid, gid = (int(x) for x in a.then_setuid.split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # glibc applies it to every thread, grpc's included
        out["then_uid"] = os.getuid()
        run("SameConnection", cl.fetch_x509, ids_of)
        cl2 = Client(cl.stubs, a.socket)
        run("NewConnection", cl2.fetch_x509, ids_of)
        cl2.close()
    cl.close()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
