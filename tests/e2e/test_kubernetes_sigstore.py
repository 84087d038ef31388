"""Sigstore image signatures in the Kubernetes attestor, end to end (issue 6): a real attestd, the
fake kubelet, real containerd + runc containers, Debian's docker-registry over TLS on 127.0.0.1
and the test signer (tests/tools/sigstore_signer) with its own Fulcio, Rekor and CT keys.

  1. a container whose pod's imageID names a signed image (a v0.3 referrer bundle plus a SLSA
     provenance bundle) gets kubernetes.image.signature.* attributes and the SPIRE selectors;
     a container of an unsigned image gets none, is still attested, and a warning names the
     image; /v1/status counts verified 1 and not_signed 1; attesting the signed workload again
     is a cache hit
  2. an image in skip_images gets k8s:sigstore-validation:passed only, without any registry

Needs root, containerd + runc + busybox-static, docker-registry, openssl and /usr/bin/python3;
missing pieces skip with the reason.
Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_kubernetes_sigstore.py
"""

import os
import signal
import shutil
import tempfile
import time

import pytest

from sigstore_env import (DEFAULT_IDENTITY, DEFAULT_ISSUER, SIGNER, SLSA_V1, Registry, Signer,
                          attach_referrer_bundle, push_random_image, registry_prereqs)
# test_kubernetes puts tests/tools on sys.path; its fixtures are used here as they are
from test_kubernetes import (NS, containers, ctrd, image, k8s_yaml, kubelet,  # noqa: F401
                             make_pod, pod_list, read_container_json, rt_dirs, status, yq)
import containerd_env as ce  # noqa: E402

SIG_ATTRS = ("kubernetes.image.signature.subject", "kubernetes.image.signature.issuer",
             "kubernetes.image.signature.value", "kubernetes.image.signature.log_id",
             "kubernetes.image.signature.log_index",
             "kubernetes.image.signature.integrated_time",
             "kubernetes.image.signature.signed_entry_timestamp")
SIG_SELECTOR_PREFIXES = ("k8s:image-signature", "k8s:image-attestations",
                         "k8s:sigstore-validation")


@pytest.fixture(scope="module")
def sig_env():
    """A registry holding a signed image (signature + provenance bundles) and an unsigned one,
    and the signer whose trusted root verifies them."""
    why = registry_prereqs()
    if why:
        pytest.skip(why)
    if not os.access(SIGNER, os.X_OK):
        pytest.skip("needs %s: build it with `make all`" % SIGNER)
    tmp = tempfile.mkdtemp(prefix="attestd-k8s-sig-", dir="/tmp")
    reg = Registry(tmp)
    try:
        reg.start()
        signer = Signer(tmp).init()
        signed, size = push_random_image(reg, "apps/signed")
        attach_referrer_bundle(reg, "apps/signed", signed, size, signer.sign(signed, "bundle"))
        attach_referrer_bundle(reg, "apps/signed", signed, size,
                               signer.sign(signed, "bundle", predicate_type=SLSA_V1))
        unsigned, _ = push_random_image(reg, "apps/unsigned")
        yield {"reg": reg, "signer": signer, "signed": signed, "unsigned": unsigned}
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def sigstore_yaml(env, skip_images=()):
    """The attestors.kubernetes.sigstore block (indented for k8s_yaml's kubernetes map)."""
    return (
        "    sigstore:\n"
        "      enabled: true\n"
        "      allowed_identities: {%s: [%s]}\n"
        "      trusted_root: %s\n"
        "      rekor_url: https://rekor.attestd.test\n"
        "      timeout: 20s\n"
        "      skip_images: [%s]\n"
        "      registry: {ca_file: %s}\n"
        % (yq(DEFAULT_ISSUER), yq("https://github.com/attestd/*"), yq(env["signer"].trusted_root),
           ", ".join(yq(d) for d in skip_images), yq(env["reg"].ca)))


def config(kubelet_port, env, rt_dirs, state, skip_images=()):
    text = k8s_yaml({"read_only_port": kubelet_port}, state, rt_dirs[1], template=False)
    head, tail = text.split("templates:", 1)
    return head + sigstore_yaml(env, skip_images) + "templates:" + tail


def sig_selectors(rec):
    return sorted(s for s in rec["selectors"]
                  if s.startswith(SIG_SELECTOR_PREFIXES) or ":image-signature-" in s)


def sigstore_status(d):
    st, doc = d.get("/v1/status")
    assert st == 200, doc
    sig = doc["sigstore"]
    assert sig["attestor"] == "kubernetes" and sig["enabled"] is True, sig
    return sig


def run_workload(containers, image, d, pod_uid, pod, cid):
    c = containers("web", pod_uid, "cgroupfs",
                   ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "60000"],
                   image=image, pod_name=pod["metadata"]["name"], namespace=NS,
                   container_id=cid, mounts=[d.workdir], host_cgroup2=True)
    info = read_container_json(c)
    assert info["connected"] == 1, info
    return c


def test_signed_and_unsigned_images(attestd, kubelet, containers, image, rt_dirs, sig_env):
    env, reg = sig_env, sig_env["reg"]
    signed_ref = "%s/apps/signed@%s" % (reg.host, env["signed"])
    unsigned_ref = "%s/apps/unsigned@%s" % (reg.host, env["unsigned"])
    uid_a, uid_b = ce.new_pod_uid(), ce.new_pod_uid()
    cid_a, cid_b = os.urandom(32).hex(), os.urandom(32).hex()
    pod_a = make_pod(uid_a, "signed-1", [status("web", reg.host + "/apps/signed:v1",
                                                "docker-pullable://" + signed_ref, cid_a)])
    # containerd style: a bare digest, combined with the image name's repository
    pod_b = make_pod(uid_b, "unsigned-1", [status("web", reg.host + "/apps/unsigned:v1",
                                                  env["unsigned"], cid_b)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod_a, pod_b))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state))
    assert any(l.get("msg") == "sigstore: image signature verification on" and
               l.get("trusted_root") == env["signer"].trusted_root for l in d.logs), d.log_tail()

    ca = run_workload(containers, image, d, uid_a, pod_a, cid_a)
    cb = run_workload(containers, image, d, uid_b, pod_b, cid_b)
    rec_a = d.wait_pid(ca.pid)[0]
    rec_b = d.wait_pid(cb.pid)[0]

    # signed: every signature attribute, and the selectors derived from them
    assert rec_a["result"] == "attested" and rec_a["error"] is None, rec_a
    attrs = rec_a["attributes"]
    for name in SIG_ATTRS:
        assert len(attrs.get(name, [])) == 1 and attrs[name][0], (name, attrs)
    assert attrs["kubernetes.image.signature.subject"] == [DEFAULT_IDENTITY]
    assert attrs["kubernetes.image.signature.issuer"] == [DEFAULT_ISSUER]
    assert attrs["kubernetes.image.provenance.predicate_type"] == [SLSA_V1]
    assert attrs["kubernetes.image.sigstore_validation"] == ["passed"]
    assert attrs["kubernetes.workload_container.id"] == [cid_a]
    sig = attrs["kubernetes.image.signature.value"][0]
    log_id = attrs["kubernetes.image.signature.log_id"][0]
    itime = attrs["kubernetes.image.signature.integrated_time"][0]
    assert int(itime) > 0 and int(attrs["kubernetes.image.signature.log_index"][0]) >= 0
    assert sig_selectors(rec_a) == sorted([
        "k8s:image-signature:verified",
        "k8s:image-signature-subject:" + DEFAULT_IDENTITY,
        "k8s:image-signature-issuer:" + DEFAULT_ISSUER,
        "k8s:image-attestations:verified",
        "k8s:%s:image-signature-content:%s" % (cid_a, sig),
        "k8s:%s:image-signature-subject:%s" % (cid_a, DEFAULT_IDENTITY),
        "k8s:%s:image-signature-logid:%s" % (cid_a, log_id),
        "k8s:%s:image-signature-integrated-time:%s" % (cid_a, itime),
        "k8s:sigstore-validation:passed",
    ]), rec_a["selectors"]
    assert "k8s:ns:" + NS in rec_a["selectors"]

    # unsigned: attested all the same, without any signature attribute or selector
    assert rec_b["result"] == "attested" and rec_b["error"] is None, rec_b
    assert not [n for n in rec_b["attributes"] if n.startswith("kubernetes.image.")], rec_b
    assert sig_selectors(rec_b) == [], rec_b["selectors"]
    assert "k8s:ns:" + NS in rec_b["selectors"]
    deadline = time.monotonic() + 5
    while not any(l.get("level") == "warn" and unsigned_ref in (l.get("image") or "")
                  for l in d.logs):
        assert time.monotonic() < deadline, "no warning naming %s:\n%s" % (unsigned_ref,
                                                                           d.log_tail())
        time.sleep(0.05)

    s = sigstore_status(d)
    total = s["attestd_sigstore_image_verification_total"]
    assert total["verified"] == 1 and total["not_signed"] == 1, s
    assert sum(total.values()) == 2, s
    assert s["attestd_sigstore_signature_count"] >= 1, s
    assert s["attestd_sigstore_verification_cache_total"] == {"hit": 0, "miss": 2}, s
    dur = s["attestd_sigstore_image_verification_duration_seconds"]
    assert dur["verified"]["count"] == 1 and dur["verified"]["buckets"]["+Inf"] == 1, s
    assert s["cache_entries"] == 1, s

    # the same image again: from the cache, with the same attributes
    st, again = d.get("/v1/attest?pid=%d" % ca.pid)
    assert st == 200, again
    assert again["attributes"]["kubernetes.image.signature.value"] == [sig], again
    assert sig_selectors(again) == sig_selectors(rec_a)
    s = sigstore_status(d)
    assert s["attestd_sigstore_verification_cache_total"] == {"hit": 1, "miss": 2}, s
    assert s["attestd_sigstore_image_verification_total"]["verified"] == 1, s


def test_skip_images(attestd, kubelet, containers, image, rt_dirs, sig_env):
    env, reg = sig_env, sig_env["reg"]
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    skipped = "sha256:" + "7" * 64  # not in the registry at all
    pod = make_pod(uid, "skipped-1", [status("web", reg.host + "/apps/none:v1",
                                             "%s/apps/none@%s" % (reg.host, skipped), cid)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state,
                                  skip_images=[skipped]))
    c = run_workload(containers, image, d, uid, pod, cid)
    rec = d.wait_pid(c.pid)[0]
    assert rec["result"] == "attested", rec
    assert sig_selectors(rec) == ["k8s:sigstore-validation:passed"], rec["selectors"]
    assert rec["attributes"]["kubernetes.image.sigstore_validation"] == ["passed"]
    assert "kubernetes.image.signature.subject" not in rec["attributes"]
    s = sigstore_status(d)
    assert sum(s["attestd_sigstore_image_verification_total"].values()) == 0, s


def test_reload_applies_sigstore(attestd, kubelet, containers, image, rt_dirs, sig_env):
    """SIGHUP with another allowed_identities applies at once (no restart) and drops the cache."""
    env, reg = sig_env, sig_env["reg"]
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    ref = "%s/apps/signed@%s" % (reg.host, env["signed"])
    pod = make_pod(uid, "signed-2", [status("web", reg.host + "/apps/signed:v1", ref, cid)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    good = config(k.port, env, rt_dirs, containers.env.state)
    other = good.replace(yq("https://github.com/attestd/*"), yq("https://github.com/other/*"))
    assert other != good
    d = attestd(extra_yaml=other)
    c = run_workload(containers, image, d, uid, pod, cid)
    rec = d.wait_pid(c.pid)[0]
    assert rec["result"] == "attested" and sig_selectors(rec) == [], rec
    total = sigstore_status(d)["attestd_sigstore_image_verification_total"]
    assert total["identity_mismatch"] == 1, total

    d.extra_yaml = good
    d.write_config()
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while not any(l.get("msg") == "config reloaded" for l in d.logs):
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.05)
    st, again = d.get("/v1/attest?pid=%d" % c.pid)
    assert st == 200, again
    assert "k8s:image-signature:verified" in again["selectors"], again
    s = sigstore_status(d)
    assert s["attestd_sigstore_image_verification_total"]["verified"] == 1, s
