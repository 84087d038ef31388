"""sigstore/oci.c against a real registry: Debian's docker-registry on 127.0.0.1 over TLS.

The cosign-image fixture (../shared/fixtures/sigstore/cosign-image: a real public-good cosign
attestation of an image whose manifest and config are there, byte for byte) is pushed through
the registry API, with the bundle as an OCI 1.1 referrer artifact listed under the
sha256-<hex> fallback tag (docker-registry 2.8 has no referrers API), and fetched and verified
with tests/tools/oci_fetch ($ATTESTD_BUILD/tests/oci_fetch).

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_sigstore_registry.py
"""

import hashlib
import os
import subprocess

import pytest

from sigstore_env import (DOCKER_MANIFEST, OCI_CONFIG, OCI_FETCH, OCI_INDEX, OCI_MANIFEST,
                          SIMPLESIGN, TokenFront, compact, docker_config, fallback_tag,
                          need_binary, oci_fetch, push_referrer, registry_prereqs,
                          running_registry, serving, simplesign_payload)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.environ.get("ATTESTD_FIXTURES",
                          os.path.join(os.path.dirname(REPO_ROOT), "shared", "fixtures"))
IMAGE_DIR = os.path.join(FIXTURES, "sigstore", "cosign-image")
TRUSTED_ROOT = os.path.join(FIXTURES, "sigstore", "public-good", "trusted_root.json")

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
    need_binary(OCI_FETCH)
    for f in ("manifest.json", "config.json", "attestation.sigstore.json"):
        if not os.path.exists(os.path.join(IMAGE_DIR, f)):
            pytest.skip("needs fixture %s/%s (set ATTESTD_FIXTURES)" % (IMAGE_DIR, f))
    with running_registry("attestd-oci-") as reg:
        yield reg


def push_image(reg, repo, tag="v1"):
    """The fixture image, byte for byte; returns its digest."""
    reg.put_blob(repo, read("config.json"))
    digest = reg.put_manifest(repo, tag, read("manifest.json"), DOCKER_MANIFEST)
    assert digest == IMAGE_DIGEST
    return digest


def push_fallback_index(reg, repo, subject_digest, descs):
    idx = compact({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs})
    reg.put_manifest(repo, fallback_tag(subject_digest), idx, OCI_INDEX)


def fetch(reg, ref, identity=IDENTITY, issuer=ISSUER, extra=()):
    return oci_fetch(["--ca", reg.ca, "--trusted-root", TRUSTED_ROOT, "--identity", identity,
                      "--issuer", issuer] + list(extra) + [ref])


@pytest.fixture
def signed_image(registry):
    repo = "cosign/image"
    push_image(registry, repo)
    bundle = read("attestation.sigstore.json")
    desc = push_referrer(registry, repo, IMAGE_DIGEST, len(read("manifest.json")), bundle,
                         DOCKER_MANIFEST)
    push_fallback_index(registry, repo, IMAGE_DIGEST, [desc])
    return registry, repo


@pytest.mark.parametrize("allow,result", [
    (ISSUER + "=" + IDENTITY, "verified"),
    (ISSUER + "=*@soyland.com", "verified"),
    (ISSUER + "=alice@soyland.com", "identity_mismatch"),
    ("https://accounts.google.com=" + IDENTITY, "identity_mismatch"),
])
def test_image_verified_against_public_good(signed_image, allow, result):
    """The image as a whole (sigstore/image.h): the public-good attestation names cody@soyland.com
    from GitHub's OAuth issuer; any other identity policy rejects it."""
    reg, repo = signed_image
    rc, out = oci_fetch(["--verify-image", "--ca", reg.ca, "--trusted-root", TRUSTED_ROOT,
                         "--allow", allow, "--skip-provenance",
                         "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST)])
    assert rc == 0 and out["result"] == result, out
    if result == "verified":
        assert (out["subject"], out["issuer"]) == (IDENTITY, ISSUER), out
        assert out["digest"] == IMAGE_DIGEST and out["n_verified"] == 1, out
    else:
        assert out["subject"] is None, out


def test_referrer_bundle_verifies_by_digest(signed_image):
    reg, repo = signed_image
    rc, out = fetch(reg, "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST))
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
    rc, out = fetch(reg, "%s/%s:v1" % (reg.host, repo))
    assert rc == 0, out
    assert out["digest"] == IMAGE_DIGEST
    assert out["signatures"][0]["verification"]["verified"] is True


@pytest.mark.parametrize("identity,issuer", [
    ("someone@example.com", ISSUER),
    (IDENTITY, "https://accounts.google.com"),
])
def test_other_identity_policy_fails(signed_image, identity, issuer):
    reg, repo = signed_image
    rc, out = fetch(reg, "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST), identity, issuer)
    assert rc == 0, out
    v = out["signatures"][0]["verification"]
    assert v["verified"] is False and v["error"], v


def test_unsigned_image_is_not_signed(registry):
    repo = "plain/image"
    cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    c = registry.put_blob(repo, cfg)
    m = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": OCI_CONFIG, **c}, "layers": []})
    digest = registry.put_manifest(repo, "latest", m, OCI_MANIFEST)
    rc, out = fetch(registry, "%s/%s" % (registry.host, repo))
    assert rc == 1
    assert out["digest"] == digest
    assert out["errno"] == 2 and "no signatures" in out["error"], out  # ENOENT


def test_referrer_of_another_image_is_ignored(registry):
    """A fallback index listing an artifact whose subject is another image yields nothing."""
    repo = "cosign/image"
    push_image(registry, repo)
    other = registry.put_blob(repo, b'{"other":true}')
    desc = push_referrer(registry, repo, other["digest"], other["size"],
                         read("attestation.sigstore.json"), DOCKER_MANIFEST)
    push_fallback_index(registry, repo, IMAGE_DIGEST, [desc])
    rc, out = fetch(registry, "%s/%s@%s" % (registry.host, repo, IMAGE_DIGEST))
    assert rc == 1 and out["errno"] == 2, out


def test_legacy_sig_layers_checked_against_digest(registry):
    """Legacy sha256-<hex>.sig: a layer whose simple-signing payload names the image is
    returned with its annotations; one naming another digest is skipped."""
    repo = "cosign/image"
    push_image(registry, repo)

    good = registry.put_blob(repo, simplesign_payload(IMAGE_DIGEST, "x"))
    bad = registry.put_blob(repo, simplesign_payload("sha256:" + "0" * 64, "x"))
    empty = registry.put_blob(repo, b"{}")
    m = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": {"mediaType": OCI_CONFIG, **empty},
                 "layers": [
                     {"mediaType": SIMPLESIGN, **bad,
                      "annotations": {"dev.cosignproject.cosign/signature": "AAAA"}},
                     {"mediaType": SIMPLESIGN, **good,
                      "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}},
                 ]})
    registry.put_manifest(repo, fallback_tag(IMAGE_DIGEST) + ".sig", m, OCI_MANIFEST)
    rc, out = fetch(registry, "%s/%s@%s" % (registry.host, repo, IMAGE_DIGEST))
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
    rc, out = oci_fetch(["--ca", str(other), "%s/%s@%s" % (reg.host, repo, IMAGE_DIGEST)])
    assert rc == 1, out
    assert out["errno"] == 5  # EIO: TLS verification failed


# ---- token auth and the referrers API, through a front server --------------------------------

USER, PASSWORD, TOKEN = "alice", "s3cret", "tok-0123456789"


@pytest.fixture
def front(registry):
    """A token-auth front (service test-registry) answering the referrers API for the image."""
    repo = "cosign/image"
    push_image(registry, repo)
    desc = push_referrer(registry, repo, IMAGE_DIGEST, len(read("manifest.json")),
                         read("attestation.sigstore.json"), DOCKER_MANIFEST)
    srv = TokenFront(registry, USER, PASSWORD, TOKEN, "test-registry", repo,
                     referrers={IMAGE_DIGEST: [desc]})
    with serving(srv):
        yield srv, repo


def test_token_auth_and_referrers_api(front, tmp_path):
    srv, repo = front
    cfg = docker_config(tmp_path, srv.host, USER, PASSWORD)
    rc, out = fetch(srv.reg, "%s/%s:v1" % (srv.host, repo),
                    extra=["--docker-config", cfg])
    assert rc == 0, out
    assert out["digest"] == IMAGE_DIGEST
    assert out["referrers_api"] is True
    assert [s["kind"] for s in out["signatures"]] == ["bundle"]
    assert out["signatures"][0]["verification"]["verified"] is True
    # one token fetch, then the token was reused; the fallback tag was never needed
    assert srv.token_requests() == 1, srv.seen
    assert not any(p.endswith("/manifests/sha256-" + IMAGE_DIGEST[7:]) for p in srv.seen)
    assert any("/referrers/" + IMAGE_DIGEST in p for p in srv.seen)


@pytest.mark.parametrize("creds", ["none", "wrong"])
def test_token_auth_refused(front, tmp_path, creds):
    srv, repo = front
    extra = []
    if creds == "wrong":
        extra = ["--docker-config", docker_config(tmp_path, srv.host, USER, "nope")]
    rc, out = fetch(srv.reg, "%s/%s@%s" % (srv.host, repo, IMAGE_DIGEST), extra=extra)
    assert rc == 1, out
    assert out["errno"] == 13, out  # EACCES
