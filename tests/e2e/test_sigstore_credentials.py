"""Registry credentials for sigstore/oci.c from a kubelet credential-provider plugin and from a
docker credential helper (sigstore/oci_auth.c), against a token-authenticated front for a real
docker-registry on 127.0.0.1 over TLS.

The front demands registry token auth (Bearer challenge; the token endpoint takes Basic
credentials) and proxies everything else to the registry. The image carries one legacy
sha256-<hex>.sig layer, so tests/tools/oci_fetch ($ATTESTD_BUILD/tests/oci_fetch) returns a
signature without any trust root. oci_fetch needs the flags
  --credential-provider-config F --credential-provider-bin-dir D --credential-helper-dir D

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs
  tests/e2e/test_sigstore_credentials.py
"""

import json
import os

import pytest

from sigstore_env import (OCI_CONFIG, OCI_FETCH, OCI_MANIFEST, SIMPLESIGN, TokenFront, compact,
                          docker_config, fallback_tag, need_binary, oci_fetch, registry_prereqs,
                          running_registry, serving, simplesign_payload)

FLAGS = (b"--credential-provider-config", b"--credential-provider-bin-dir",
         b"--credential-helper-dir")
REPO = "creds/image"
USER, PASSWORD, TOKEN = "node-user", "node-s3cret", "tok-creds-42"


def push_signed_image(reg):
    """A tiny image plus a sha256-<hex>.sig manifest with one simple-signing layer naming it."""
    cfg = reg.put_blob(REPO, b'{"architecture":"amd64","os":"linux","rootfs":'
                             b'{"type":"layers","diff_ids":[]}}')
    digest = reg.put_manifest(REPO, "v1", compact({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **cfg}, "layers": []}), OCI_MANIFEST)
    payload = reg.put_blob(REPO, simplesign_payload(digest, REPO))
    empty = reg.put_blob(REPO, b"{}")
    reg.put_manifest(REPO, fallback_tag(digest) + ".sig", compact({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **empty},
        "layers": [{"mediaType": SIMPLESIGN, **payload,
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}]}),
        OCI_MANIFEST)
    return digest


@pytest.fixture
def front():
    """A token-auth front (service creds-test) for a registry holding the signed image:
    (front, image digest, scratch directory)."""
    why = registry_prereqs()
    if why:
        pytest.skip(why)
    need_binary(OCI_FETCH)
    with open(OCI_FETCH, "rb") as f:
        exe = f.read()
    if not all(flag in exe for flag in FLAGS):
        pytest.skip("needs oci_fetch with --credential-provider-config, "
                    "--credential-provider-bin-dir and --credential-helper-dir")
    with running_registry("attestd-creds-") as reg:
        digest = push_signed_image(reg)
        with serving(TokenFront(reg, USER, PASSWORD, TOKEN, "creds-test", REPO)) as srv:
            yield srv, digest, reg.tmp


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


def fetch(reg, ref, extra):
    return oci_fetch(["--ca", reg.ca] + list(extra) + [ref])


def test_credential_provider_plugin(front):
    srv, digest, tmp = front
    cfg, bindir, log = provider_setup(tmp, srv.host, USER, PASSWORD)
    rc, out = fetch(srv.reg, "%s/%s:v1" % (srv.host, REPO),
                    ["--credential-provider-config", cfg,
                     "--credential-provider-bin-dir", bindir])
    assert rc == 0, out
    assert out["digest"] == digest
    assert [s["kind"] for s in out["signatures"]] == ["legacy"]
    with open(log) as f:
        req = json.load(f)
    assert req == {"apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                   "kind": "CredentialProviderRequest", "image": "%s/%s" % (srv.host, REPO)}
    assert srv.token_requests() == 1


def test_docker_credential_helper(front):
    srv, digest, tmp = front
    hdir = os.path.join(tmp, "helpers")
    os.makedirs(hdir)
    write_exec(os.path.join(hdir, "docker-credential-attestd-test"),
               '[ "$1" = get ] || exit 3\nread -r server\n'
               '[ "$server" = "%s" ] || { echo "unknown server $server"; exit 1; }\n'
               "echo '%s'" % (srv.host, compact({"ServerURL": srv.host, "Username": USER,
                                                  "Secret": PASSWORD}).decode()))
    dcfg = docker_config(tmp, srv.host, helper="attestd-test")
    rc, out = fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                    ["--docker-config", dcfg, "--credential-helper-dir", hdir])
    assert rc == 0, out
    assert out["digest"] == digest
    assert [s["kind"] for s in out["signatures"]] == ["legacy"]


def test_wrong_credential_is_an_auth_error(front):
    srv, digest, tmp = front
    cfg, bindir, _ = provider_setup(tmp, srv.host, USER, "wrong")
    rc, out = fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                    ["--credential-provider-config", cfg,
                     "--credential-provider-bin-dir", bindir])
    assert rc == 1, out
    assert out["errno"] == 13, out  # EACCES
    assert "token" in out["error"] and "401" in out["error"], out


def test_failing_plugin_is_an_auth_error(front):
    srv, digest, tmp = front
    cfg, bindir, _ = provider_setup(tmp, srv.host, USER, PASSWORD)
    write_exec(os.path.join(bindir, "test-provider"), "echo 'metadata service down' >&2; exit 1")
    rc, out = fetch(srv.reg, "%s/%s@%s" % (srv.host, REPO, digest),
                    ["--credential-provider-config", cfg,
                     "--credential-provider-bin-dir", bindir])
    assert rc == 1, out
    assert out["errno"] == 13, out
    assert "credential provider test-provider" in out["error"], out
    assert "metadata service down" in out["error"], out
    assert srv.token_requests() == 0  # never fell back to an anonymous token request
