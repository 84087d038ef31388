"""Image signatures made by our own test signer (tests/tools/sigstore_signer, its private Fulcio,
Rekor, CT log and TSA written as a trusted root), verified end to end.

1. Bundle level, no registry: every signer knob against `attestctl sigstore verify-bundle`, and
   the legacy/att layer descriptions against an independent checker written here with Python's
   `cryptography`, so the signer is validated without the image verifier.
2. Image level: a random image pushed to Debian's docker-registry (TLS, 127.0.0.1), signatures
   attached as cosign does (referrer bundles under the sha256-<hex> fallback tag, legacy .sig and
   .att manifests), verified with `oci_fetch --verify-image` (sigstore/image.h).

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_sigstore_signed.py
"""

import base64
import calendar
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

import helpers
from sigstore_env import (COSIGN_SIGN_V1, DEFAULT_IDENTITY, DEFAULT_ISSUER, OCI_CONFIG,
                          OCI_FETCH, OCI_MANIFEST, SIGNER, SIMPLESIGN, SLSA_V02, SLSA_V1,
                          QuietHandler, Signer, TLSServer, attach_layers,
                          attach_referrer_bundle, compact, fallback_tag, need_binary, oci_fetch,
                          push_random_image, registry_prereqs, running_registry, serving)

OTHER_IDENTITY = "someone@example.com"
OTHER_ISSUER = "https://accounts.google.com"
ANN_SIG = "dev.cosignproject.cosign/signature"
ANN_CERT = "dev.sigstore.cosign/certificate"
ANN_CHAIN = "dev.sigstore.cosign/chain"
ANN_BUNDLE = "dev.sigstore.cosign/bundle"


def crypto():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.exceptions import InvalidSignature
    except ImportError:
        pytest.skip("needs python3-cryptography: apt-get install python3-cryptography")
    return x509, hashes, serialization, ec, InvalidSignature


def random_digest():
    return "sha256:" + os.urandom(32).hex()


def knob_id(opts):
    return "-".join("%s=%s" % kv for kv in opts.items()) or "good"


def issued_by(cert, issuer):
    """True when issuer's key signed cert (cryptography 38 has no verify_directly_issued_by)."""
    _, _, _, ec, InvalidSignature = crypto()
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                   ec.ECDSA(cert.signature_hash_algorithm))
        return cert.issuer == issuer.subject
    except InvalidSignature:
        return False


def unix(dt):
    return calendar.timegm(dt.utctimetuple())


def load_pems(x509, text):
    end = "-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate((p + end + "\n").encode())
            for p in text.split(end) if p.strip()]


@pytest.fixture(scope="module")
def signer():
    need_binary(SIGNER)
    tmp = tempfile.mkdtemp(prefix="attestd-signer-", dir="/tmp")
    try:
        yield Signer(tmp).init()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 1. bundle level -------------------------------------------------------------------------

def verify_bundle(signer, bundle, digest, identity=DEFAULT_IDENTITY, issuer=DEFAULT_ISSUER):
    need_binary(helpers.ATTESTCTL)
    path = os.path.join(signer.dir, "verify.json")
    with open(path, "wb") as f:
        f.write(bundle)
    p = subprocess.run([helpers.ATTESTCTL, "sigstore", "verify-bundle", "--bundle", path,
                        "--certificate-identity", identity, "--certificate-oidc-issuer", issuer,
                        "--trusted-root", signer.trusted_root, digest],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), (p.returncode, p.stderr)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("message", [False, True], ids=["dsse", "message"])
def test_bundle_verifies(signer, message):
    """Several signatures: each lands at another place of another small Merkle tree."""
    for _ in range(6):
        digest = random_digest()
        rc, out = verify_bundle(signer, signer.sign(digest, "bundle", message=message), digest)
        assert rc == 0, out
        assert "verified: %s (%s)" % (DEFAULT_IDENTITY, DEFAULT_ISSUER) in out, out


BUNDLE_KNOBS = [
    # (signer options, message signature?, the verifier's reason)
    ({"tamper": "payload"}, False, "signature: does not verify over the DSSE envelope"),
    ({"tamper": "payload"}, True, "signature: does not verify over the artifact"),
    ({"tamper": "set"}, False, "signed entry timestamp does not verify"),
    ({"tamper": "set"}, True, "signed entry timestamp does not verify"),
    ({"tamper": "body"}, False, "dsse signature or key is not the envelope's"),
    ({"tamper": "body"}, True, "hashedrekord signature is not the bundle's"),
    ({"tamper": "digest"}, False, "no subject has the artifact's sha256 digest"),
    ({"tamper": "digest"}, True, "messageDigest is not the artifact's digest"),
    ({"expired": True}, False, "signing certificate not valid at"),
    ({"expired": True}, True, "signing certificate not valid at"),
    ({"identity": OTHER_IDENTITY}, False, "not the expected identity"),
    ({"issuer": OTHER_ISSUER}, True, "is not the expected issuer"),
]


@pytest.mark.parametrize("opts,message,reason", BUNDLE_KNOBS,
                         ids=["%s-%s" % (knob_id(o), "msg" if m else "dsse")
                              for o, m, _ in BUNDLE_KNOBS])
def test_bundle_knob_rejected(signer, opts, message, reason):
    digest = random_digest()
    rc, out = verify_bundle(signer, signer.sign(digest, "bundle", message=message, **opts),
                            digest)
    assert rc == 1 and reason in out, out


@pytest.mark.parametrize("identity,issuer", [
    (OTHER_IDENTITY, DEFAULT_ISSUER),
    ("https://gitlab.com/attestd/test//.gitlab-ci.yml@refs/heads/main", "https://gitlab.com"),
])
def test_bundle_other_identity_verifies_under_its_own_policy(signer, identity, issuer):
    digest = random_digest()
    bundle = signer.sign(digest, "bundle", identity=identity, issuer=issuer)
    rc, out = verify_bundle(signer, bundle, digest, identity, issuer)
    assert rc == 0 and "verified: %s (%s)" % (identity, issuer) in out, out


def test_integrated_time_option(signer):
    digest = random_digest()
    t = int(time.time()) - 86400
    b = json.loads(signer.sign(digest, "bundle", integrated_time=t))
    assert b["verificationMaterial"]["tlogEntries"][0]["integratedTime"] == str(t)
    assert verify_bundle(signer, json.dumps(b).encode(), digest)[0] == 0


def test_signer_usage_errors(signer):
    assert signer.run("sign", signer.dir, "--digest", "sha256:00", "--format", "bundle",
                      "--out", "/dev/null").returncode == 1
    assert signer.run("sign", signer.dir, "--format", "bundle").returncode == 2
    assert signer.run("sign", signer.dir, "--digest", random_digest(), "--format", "legacy",
                      "--message", "--out", "/dev/null").returncode == 2
    assert signer.run("sign", signer.dir, "--digest", random_digest(), "--format", "bundle",
                      "--tamper", "nothing", "--out", "/dev/null").returncode == 2
    assert signer.run("frobnicate").returncode == 2


def test_trusted_root_shape(signer):
    x509, hashes, serialization, ec, _ = crypto()
    with open(signer.trusted_root) as f:
        tr = json.load(f)
    assert tr["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    for key in ("tlogs", "ctlogs"):
        (log,) = tr[key]
        der = base64.b64decode(log["publicKey"]["rawBytes"])
        pub = serialization.load_der_public_key(der)
        assert isinstance(pub.curve, ec.SECP256R1)
        assert base64.b64decode(log["logId"]["keyId"]) == hashlib.sha256(der).digest()
        assert log["publicKey"]["validFor"]["start"]
    assert tr["tlogs"][0]["baseUrl"] == "https://rekor.attestd.test"
    (ca,) = tr["certificateAuthorities"]
    inter, root = [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
                   for c in ca["certChain"]["certificates"]]
    assert issued_by(root, root) and issued_by(inter, root)
    assert inter.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    (tsa,) = tr["timestampAuthorities"]
    leaf, troot = [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
                   for c in tsa["certChain"]["certificates"]]
    assert issued_by(leaf, troot)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]


def test_leaf_certificate_fields(signer):
    x509, hashes, serialization, ec, _ = crypto()
    b = json.loads(signer.sign(random_digest(), "bundle", identity=OTHER_IDENTITY))
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(b["verificationMaterial"]["certificate"]["rawBytes"]))
    it = int(b["verificationMaterial"]["tlogEntries"][0]["integratedTime"])
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [OTHER_IDENTITY]
    issuer_v1 = leaf.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")).value.value
    issuer_v2 = leaf.extensions.get_extension_for_oid(
        x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")).value.value
    assert issuer_v1 == DEFAULT_ISSUER.encode()
    assert issuer_v2 == b"\x0c" + bytes([len(DEFAULT_ISSUER)]) + DEFAULT_ISSUER.encode()
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]
    scts = leaf.extensions.get_extension_for_class(
        x509.PrecertificateSignedCertificateTimestamps).value
    with open(signer.trusted_root) as f:
        ct_id = base64.b64decode(json.load(f)["ctlogs"][0]["logId"]["keyId"])
    assert [s.log_id for s in scts] == [ct_id]
    nb, na = unix(leaf.not_valid_before), unix(leaf.not_valid_after)
    assert nb <= it <= na and na - nb == 600
    exp = json.loads(signer.sign(random_digest(), "bundle", expired=True))
    leaf = x509.load_der_x509_certificate(
        base64.b64decode(exp["verificationMaterial"]["certificate"]["rawBytes"]))
    assert unix(leaf.not_valid_after) < int(
        exp["verificationMaterial"]["tlogEntries"][0]["integratedTime"])


def pae(ptype, payload):
    return b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload)


def check_layer(signer, desc, digest, kind):
    """Independent checks of a legacy (.sig) or att (.att) layer description; returns the names
    of the checks that fail: chain, set, body, signature, digest, expired."""
    x509, hashes, serialization, ec, InvalidSignature = crypto()
    ecdsa = ec.ECDSA(hashes.SHA256())
    failed = []

    def verifies(key, sig, msg):
        try:
            key.verify(sig, msg, ecdsa)
            return True
        except InvalidSignature:
            return False

    with open(signer.trusted_root) as f:
        tr = json.load(f)
    rekor_der = base64.b64decode(tr["tlogs"][0]["publicKey"]["rawBytes"])
    rekor = serialization.load_der_public_key(rekor_der)
    data = base64.b64decode(desc["data_b64"])
    ann = desc["annotations"]
    leaf = x509.load_pem_x509_certificate(ann[ANN_CERT].encode())
    inter, root = load_pems(x509, ann[ANN_CHAIN])
    if not (issued_by(leaf, inter) and issued_by(inter, root)):
        failed.append("chain")
    rb = json.loads(ann[ANN_BUNDLE])
    pl = rb["Payload"]
    assert pl["logID"] == hashlib.sha256(rekor_der).hexdigest()
    set_msg = compact({"body": pl["body"], "integratedTime": pl["integratedTime"],
                       "logID": pl["logID"], "logIndex": pl["logIndex"]})
    assert set_msg == json.dumps(dict(sorted(json.loads(set_msg).items())),
                                 separators=(",", ":")).encode()
    if not verifies(rekor, base64.b64decode(rb["SignedEntryTimestamp"]), set_msg):
        failed.append("set")
    body = json.loads(base64.b64decode(pl["body"]))
    cert_b64 = base64.b64encode(ann[ANN_CERT].encode()).decode()
    pub = leaf.public_key()
    if kind == "legacy":
        assert desc["mediaType"] == SIMPLESIGN
        assert (body["kind"], body["apiVersion"]) == ("hashedrekord", "0.0.1")
        spec = body["spec"]
        assert spec["data"]["hash"] == {"algorithm": "sha256",
                                        "value": hashlib.sha256(data).hexdigest()}
        assert spec["signature"]["publicKey"]["content"] == cert_b64
        sig = base64.b64decode(ann[ANN_SIG])
        if spec["signature"]["content"] != ann[ANN_SIG]:
            failed.append("body")
        if not verifies(pub, sig, data):
            failed.append("signature")
        crit = json.loads(data)["critical"]
        assert crit["type"] == "cosign container image signature"
        if crit["image"]["docker-manifest-digest"] != digest:
            failed.append("digest")
    else:
        assert desc["mediaType"] == "application/vnd.dsse.envelope.v1+json"
        assert ann[ANN_SIG] == ""
        assert (body["kind"], body["apiVersion"]) == ("intoto", "0.0.2")
        env = json.loads(data)
        payload = base64.b64decode(env["payload"])
        (s,) = env["signatures"]
        content = body["spec"]["content"]
        assert content["hash"]["value"] == hashlib.sha256(data).hexdigest()
        assert content["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
        (logged,) = content["envelope"]["signatures"]
        assert logged["publicKey"] == cert_b64
        if base64.b64decode(logged["sig"]).decode() != s["sig"]:
            failed.append("body")
        if not verifies(pub, base64.b64decode(s["sig"]), pae(env["payloadType"], payload)):
            failed.append("signature")
        st = json.loads(payload)
        assert st["_type"] == "https://in-toto.io/Statement/v1"
        if st["subject"][0]["digest"]["sha256"] != digest[7:]:
            failed.append("digest")
    if not unix(leaf.not_valid_before) <= pl["integratedTime"] <= unix(leaf.not_valid_after):
        failed.append("expired")
    return failed


LAYER_KNOBS = [({}, []), ({"tamper": "payload"}, ["signature"]), ({"tamper": "set"}, ["set"]),
               ({"tamper": "body"}, ["body"]), ({"tamper": "digest"}, ["digest"]),
               ({"expired": True}, ["expired"])]


@pytest.mark.parametrize("kind", ["legacy", "att"])
@pytest.mark.parametrize("opts,failed", LAYER_KNOBS,
                         ids=[knob_id(o) for o, _ in LAYER_KNOBS])
def test_layer_description_fails_exactly_its_knob(signer, kind, opts, failed):
    digest = random_digest()
    desc = json.loads(signer.sign(digest, kind, **opts))
    assert check_layer(signer, desc, digest, kind) == failed


def test_att_predicate(signer):
    digest = random_digest()
    for ptype in (SLSA_V1, SLSA_V02):
        desc = json.loads(signer.sign(digest, "att", predicate_type=ptype))
        st = json.loads(base64.b64decode(json.loads(base64.b64decode(desc["data_b64"]))
                                         ["payload"]))
        assert st["predicateType"] == ptype
        assert st["predicate"]["builder" if ptype == SLSA_V02 else "runDetails"]
    b = json.loads(signer.sign(digest, "bundle"))
    st = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
    assert st["predicateType"] == COSIGN_SIGN_V1


# ---- 2. image level: oci_fetch --verify-image against a real registry -------------------------

def has_verify_image():
    try:
        with open(OCI_FETCH, "rb") as f:
            return b"--verify-image" in f.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry():
    why = registry_prereqs()
    if why:
        pytest.skip(why)
    need_binary(OCI_FETCH)
    if not has_verify_image():
        pytest.skip("needs `oci_fetch --verify-image` (sigstore/image.h) in %s" % OCI_FETCH)
    with running_registry("attestd-signed-") as reg:
        yield reg


@pytest.fixture
def image(registry, request):
    """A fresh random image in its own repository: (registry, repo, digest, size)."""
    # short: the reason (256 bytes) names host/repo and must still hold the failed check
    repo = "s/" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    digest, size = push_random_image(registry, repo)
    return registry, repo, digest, size


def dump(out):
    return json.dumps(out, sort_keys=True)


def verify_image(reg, signer, ref, allow=(DEFAULT_ISSUER + "=" + DEFAULT_IDENTITY,), extra=(),
                 ca=None):
    args = ["--verify-image", "--ca", ca or reg.ca, "--trusted-root", signer.trusted_root]
    for a in allow:
        args += ["--allow", a]
    rc, out = oci_fetch(args + list(extra) + [ref], timeout=90)
    assert rc == 0, out
    return out


def attach(reg, signer, repo, digest, size, how, **opts):
    """One signature of the image: how = "referrer" (v0.3 bundle) or "legacy" (.sig layer)."""
    if how == "referrer":
        attach_referrer_bundle(reg, repo, digest, size, signer.sign(digest, "bundle", **opts))
    else:
        attach_layers(reg, repo, digest, "sig", [signer.sign(digest, "legacy", **opts)])


def test_referrer_bundles_verified(image, signer):
    reg, repo, digest, size = image
    attach_referrer_bundle(reg, repo, digest, size, signer.sign(digest, "bundle"))
    attach_referrer_bundle(reg, repo, digest, size,
                           signer.sign(digest, "bundle", predicate_type=SLSA_V1))
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest))
    assert out["result"] == "verified", dump(out)
    assert out["digest"] == digest
    assert (out["subject"], out["issuer"]) == (DEFAULT_IDENTITY, DEFAULT_ISSUER)
    assert out["n_found"] == 2 and out["n_verified"] >= 1, dump(out)
    assert out["provenance_verified"] is True and out["provenance_type"] == SLSA_V1, dump(out)
    with open(signer.trusted_root) as f:
        log_id = base64.b64decode(json.load(f)["tlogs"][0]["logId"]["keyId"]).hex()
    assert out["log_id"] == log_id
    assert out["log_index"] >= 1000000 and out["integrated_time"] > 0 and out["set"], dump(out)


def sign_with_provenance(reg, signer, repo, digest, size):
    attach_referrer_bundle(reg, repo, digest, size, signer.sign(digest, "bundle"))
    attach_referrer_bundle(reg, repo, digest, size,
                           signer.sign(digest, "bundle", predicate_type=SLSA_V1))


def test_tag_reference_verified(image, signer):
    reg, repo, digest, size = image
    sign_with_provenance(reg, signer, repo, digest, size)
    out = verify_image(reg, signer, "%s/%s:v1" % (reg.host, repo))
    assert out["result"] == "verified" and out["digest"] == digest, dump(out)


@pytest.mark.parametrize("ptype", [SLSA_V1, SLSA_V02])
def test_legacy_sig_and_att_verified(image, signer, ptype):
    reg, repo, digest, size = image
    attach_layers(reg, repo, digest, "sig", [signer.sign(digest, "legacy")])
    attach_layers(reg, repo, digest, "att", [signer.sign(digest, "att", predicate_type=ptype)])
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest))
    assert out["result"] == "verified", dump(out)
    assert (out["subject"], out["issuer"]) == (DEFAULT_IDENTITY, DEFAULT_ISSUER)
    assert out["n_found"] == 2, dump(out)
    assert out["provenance_verified"] is True and out["provenance_type"] == ptype, dump(out)


def test_allow_glob(image, signer):
    reg, repo, digest, size = image
    sign_with_provenance(reg, signer, repo, digest, size)
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       allow=[DEFAULT_ISSUER + "=https://github.com/attestd/*"])
    assert out["result"] == "verified", dump(out)


@pytest.mark.parametrize("how", ["referrer", "legacy"])
@pytest.mark.parametrize("opts", [{"identity": OTHER_IDENTITY}, {"issuer": OTHER_ISSUER}],
                         ids=["identity", "issuer"])
def test_identity_mismatch(image, signer, how, opts):
    reg, repo, digest, size = image
    attach(reg, signer, repo, digest, size, how, **opts)
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "identity_mismatch", dump(out)
    assert out["n_found"] == 1 and out["n_verified"] == 0, dump(out)


BAD_SIGNATURES = [
    # (signer options, the verifier's reason, as in BUNDLE_KNOBS)
    ({"expired": True}, "not valid at"),
    ({"tamper": "payload"}, "signature: does not verify"),
    ({"tamper": "set"}, "signed entry timestamp does not verify"),
    ({"tamper": "body"}, "tlog entry: "),  # the body names another signature
]


@pytest.mark.parametrize("how", ["referrer", "legacy"])
@pytest.mark.parametrize("opts,reason", BAD_SIGNATURES,
                         ids=[knob_id(o) for o, _ in BAD_SIGNATURES])
def test_bad_signature_is_an_error(image, signer, how, opts, reason):
    reg, repo, digest, size = image
    attach(reg, signer, repo, digest, size, how, **opts)
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "error", dump(out)
    assert reason in out["reason"], dump(out)
    assert out["n_verified"] == 0, dump(out)


def test_digest_mismatch_referrer(image, signer):
    """A bundle attached to the image whose statement names another image."""
    reg, repo, digest, size = image
    attach(reg, signer, repo, digest, size, "referrer", tamper="digest")
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "error", dump(out)
    assert "no subject has the artifact's sha256 digest" in out["reason"], dump(out)


def test_digest_mismatch_legacy(image, signer):
    """A .sig layer whose payload names another image is not a signature of this one."""
    reg, repo, digest, size = image
    attach(reg, signer, repo, digest, size, "legacy", tamper="digest")
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "not_signed", dump(out)


@pytest.mark.parametrize("how", ["referrer", "legacy"])
def test_missing_provenance(image, signer, how):
    reg, repo, digest, size = image
    attach(reg, signer, repo, digest, size, how)
    ref = "%s/%s@%s" % (reg.host, repo, digest)
    out = verify_image(reg, signer, ref)
    assert out["result"] == "error" and "provenance" in out["reason"], dump(out)
    assert out["provenance_verified"] is False
    out = verify_image(reg, signer, ref, extra=["--skip-provenance"])
    assert out["result"] == "verified", dump(out)
    assert out["provenance_verified"] is False, dump(out)


def test_provenance_alone_is_not_a_signature(image, signer):
    """image.h: provenance is required as well as a signature, not instead of one."""
    reg, repo, digest, size = image
    attach_referrer_bundle(reg, repo, digest, size,
                           signer.sign(digest, "bundle", predicate_type=SLSA_V1))
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest))
    assert out["result"] != "verified" and out["provenance_verified"] is True, dump(out)


@pytest.mark.parametrize("how", ["referrer", "att"])
def test_typed_attestation_is_not_a_signature(image, signer, how):
    """A vulnerability-scan attestation by an allowed identity (whoever may sign may also attest
    findings about images it never vouched for) does not make the image signed."""
    reg, repo, digest, size = image
    vuln = "https://cosign.sigstore.dev/attestation/vuln/v1"
    if how == "referrer":
        attach_referrer_bundle(reg, repo, digest, size,
                               signer.sign(digest, "bundle", predicate_type=vuln))
    else:
        attach_layers(reg, repo, digest, "att", [signer.sign(digest, "att", predicate_type=vuln)])
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "error", dump(out)
    assert "no image signature: only attestations verified (%s)" % vuln in out["reason"], \
        dump(out)
    assert out["subject"] is None and out["n_verified"] == 0, dump(out)


def test_provenance_from_other_identity_is_not_enough(image, signer):
    reg, repo, digest, size = image
    attach_referrer_bundle(reg, repo, digest, size, signer.sign(digest, "bundle"))
    attach_layers(reg, repo, digest, "att",
                  [signer.sign(digest, "att", identity=OTHER_IDENTITY)])
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest))
    assert out["result"] != "verified" and out["provenance_verified"] is False, dump(out)


def test_unsigned_image(image, signer):
    reg, repo, digest, size = image
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest))
    assert out["result"] == "not_signed", dump(out)


def test_sig_manifest_over_layer_cap(image, signer):
    """1001 layers in the .sig manifest: rejected, naming the cap, before any layer is read."""
    reg, repo, digest, size = image
    blob = reg.put_blob(repo, b'{"critical":{}}')
    cfg = reg.put_blob(repo, b"{}")
    m = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": OCI_CONFIG, **cfg},
                 "layers": [{"mediaType": SIMPLESIGN, **blob}] * 1001})
    reg.put_manifest(repo, fallback_tag(digest) + ".sig", m, OCI_MANIFEST)
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "error", dump(out)
    assert "more than 1000 layers" in out["reason"], dump(out)


def test_signatures_over_the_cap_are_skipped(image, signer):
    """cosign appends a .sig layer at every re-signing: 70 of them (over the 64 collected) are
    not an error; the first 64 are tried and the rest are not fetched."""
    reg, repo, digest, size = image
    attach_layers(reg, repo, digest, "sig", [signer.sign(digest, "legacy")] * 70)
    out = verify_image(reg, signer, "%s/%s@%s" % (reg.host, repo, digest),
                       extra=["--skip-provenance"])
    assert out["result"] == "verified", dump(out)
    assert out["n_found"] == 64 and out["n_verified"] == 64, dump(out)


# ---- registry failures, through a front server -----------------------------------------------

class FailingFront(TLSServer):
    """TLS server with the registry's certificate that fails every request: mode "401" (a Bearer
    challenge whose token endpoint refuses), "500", or "timeout" (no answer until released)."""

    def __init__(self, reg, mode):
        self.mode = mode
        self.release = threading.Event()
        super().__init__(reg, FailingHandler)


class FailingHandler(QuietHandler):
    def do_GET(self):
        srv = self.server
        srv.seen.append(self.path)
        if srv.mode == "timeout":
            srv.release.wait(30)
            try:
                return self.reply(500, b"{}")
            except OSError:
                return None  # the client gave up long ago
        if srv.mode == "500":
            return self.reply(500, b'{"errors":[{"code":"UNKNOWN"}]}')
        chal = 'Bearer realm="https://%s/token",service="test",scope="repository:x:pull"' \
            % srv.host
        return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                          extra={"WWW-Authenticate": chal})

    do_HEAD = do_GET


@pytest.mark.parametrize("mode,result", [("401", "network_error"), ("500", "network_error"),
                                         ("timeout", "timeout")])
def test_registry_failure(registry, signer, mode, result):
    srv = FailingFront(registry, mode)
    with serving(srv):
        try:
            start = time.monotonic()
            out = verify_image(registry, signer,
                               "%s/signed/any@%s" % (srv.host, random_digest()),
                               extra=["--timeout-ms", "1000"])
            assert out["result"] == result, dump(out)
            assert srv.seen, "the front server saw no request"
            if mode != "timeout":
                assert "HTTP " + mode in out["reason"], dump(out)
            if mode == "timeout":
                assert time.monotonic() - start < 20, dump(out)
        finally:
            srv.release.set()
