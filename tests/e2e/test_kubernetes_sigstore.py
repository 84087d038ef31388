"""Sigstore image signatures in the Kubernetes attestor, end to end (issue 6): a real attestd, the
fake kubelet, real containerd + runc containers, Debian's docker-registry over TLS on 127.0.0.1
and the test signer (tests/tools/sigstore_signer) with its own Fulcio, Rekor and CT keys.

The containers really run the images that are verified: each image (busybox + peer_client + a
marker file naming it) is built as an OCI archive by containerd_env, imported into containerd
and pushed byte for byte to the registry with `skopeo copy --preserve-digests`; the registry's
manifest digest, skopeo's and containerd's must all be the same, and the marker file read inside
the running container names the image. The signed image then gets a v0.3 referrer bundle plus a
SLSA provenance bundle; the unsigned one nothing.

  1. a container of the signed image (imageID <registry>/<repo>@sha256:<manifest>, as a kubelet
     over containerd reports a pulled image) gets kubernetes.image.signature.* attributes and the
     SPIRE selectors; a container of the unsigned image (imageID in containerd's bare sha256:
     form) gets none, is still attested, and a warning names the image; /v1/status counts
     verified 1 and not_signed 1; attesting the signed workload again is a cache hit
  2. a container status without imageID whose image is a tag only: attestd resolves the tag
     through the registry and verifies the digest it names (signed: attributes; unsigned: none)
  3. an image in skip_images gets k8s:sigstore-validation:passed only, without any verification
  4. SIGHUP with another identity policy applies at once and drops the cache
  5. imageID in containerd's bare form naming the image CONFIG digest (an image imported
     without a repo digest: `ctr images import`, `kind load`): attestd resolves the image
     name's tag and verifies the manifest it names, because that manifest's config is the
     bare digest (signed: attributes, cached under both digests; unsigned: none)

Needs root, containerd + runc + busybox-static, docker-registry, skopeo, openssl and
/usr/bin/python3; missing pieces skip with the reason.
Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e/test_kubernetes_sigstore.py
"""

import json
import os
import signal
import shutil
import subprocess
import tempfile
import time

import pytest

import helpers
from sigstore_env import (DEFAULT_IDENTITY, DEFAULT_ISSUER, OCI_MANIFEST, SIGNER, SLSA_V1,
                          Registry, Signer, attach_referrer_bundle, registry_prereqs, sha256)
# test_kubernetes puts tests/tools on sys.path; its fixtures are used here as they are
from test_kubernetes import (NS, containers, ctrd, k8s_yaml, kubelet,  # noqa: F401
                             make_pod, pod_list, read_container_json, rt_dirs, status, yq)
import containerd_env as ce  # noqa: E402

SIG_ATTRS = ("kubernetes.image.signature.subject", "kubernetes.image.signature.issuer",
             "kubernetes.image.signature.value", "kubernetes.image.signature.log_id",
             "kubernetes.image.signature.log_index",
             "kubernetes.image.signature.integrated_time",
             "kubernetes.image.signature.signed_entry_timestamp")
SIG_SELECTOR_PREFIXES = ("k8s:image-signature", "k8s:image-attestations",
                         "k8s:sigstore-validation")
SKOPEO = "/usr/bin/skopeo"
MARKER = "/etc/attestd-e2e-image"  # in each image: the name of the image, one line


def push_image(ctrd, reg, tmp, repo, tag="v1"):
    """Builds busybox + peer_client + attestctl + MARKER (holding repo, so every image differs) as an OCI
    archive named <registry>/<repo>:<tag>, imports it into containerd and pushes the same archive
    to the registry with skopeo --preserve-digests. Returns (Image, manifest size) once skopeo,
    the registry and containerd all name the same manifest digest."""
    marker = os.path.join(tmp, "marker-" + repo.replace("/", "-"))
    with open(marker, "w") as f:
        f.write(repo + "\n")
    ref = "%s/%s:%s" % (reg.host, repo, tag)
    img = ctrd.build_image(ref=ref, files={"/usr/bin/peer_client": helpers.PEER_CLIENT,
                                           "/usr/bin/attestctl": helpers.ATTESTCTL,
                                           MARKER: marker})
    certs = os.path.join(tmp, "skopeo-certs")
    os.makedirs(certs, exist_ok=True)
    shutil.copyfile(reg.ca, os.path.join(certs, "ca.crt"))
    policy = os.path.join(tmp, "skopeo-policy.json")
    with open(policy, "w") as f:
        json.dump({"default": [{"type": "insecureAcceptAnything"}]}, f)
    digestfile = os.path.join(tmp, "digest-" + repo.replace("/", "-"))
    p = subprocess.run([SKOPEO, "--policy", policy, "copy", "--quiet", "--preserve-digests",
                        "--dest-cert-dir", certs, "--digestfile", digestfile,
                        "oci-archive:" + img.archive, "docker://" + ref],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TMPDIR=tmp))
    assert p.returncode == 0, p.stderr
    with open(digestfile) as f:
        assert f.read().strip() == img.digest, "skopeo changed the manifest"
    st, body = reg.get_manifest(repo, tag, OCI_MANIFEST)
    assert st == 200 and sha256(body) == img.digest, (st, body[:200])
    assert ctrd.image_digest(ref) == img.digest, (ref, ctrd.image_digest(ref), img.digest)
    return img, len(body)


@pytest.fixture(scope="module")
def sig_env(ctrd):
    """A registry holding a signed image (signature + provenance bundles) and an unsigned one,
    both also imported into containerd, and the signer whose trusted root verifies them."""
    why = registry_prereqs()
    if why:
        pytest.skip(why)
    if not os.access(SKOPEO, os.X_OK):
        pytest.skip("needs skopeo: apt-get install skopeo")
    if not os.access(SIGNER, os.X_OK):
        pytest.skip("needs %s: build it with `make all`" % SIGNER)
    if not os.access(helpers.PEER_CLIENT, os.X_OK):
        pytest.skip("needs %s: build it with `make all`" % helpers.PEER_CLIENT)
    tmp = tempfile.mkdtemp(prefix="attestd-k8s-sig-", dir="/tmp")
    reg = Registry(tmp)
    try:
        reg.start()
        signer = Signer(tmp).init()
        signed, size = push_image(ctrd, reg, tmp, "apps/signed")
        attach_referrer_bundle(reg, "apps/signed", signed.digest, size,
                               signer.sign(signed.digest, "bundle"))
        attach_referrer_bundle(reg, "apps/signed", signed.digest, size,
                               signer.sign(signed.digest, "bundle", predicate_type=SLSA_V1))
        unsigned, _ = push_image(ctrd, reg, tmp, "apps/unsigned")
        assert unsigned.digest != signed.digest
        yield {"reg": reg, "signer": signer, "signed": signed, "unsigned": unsigned}
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def repo_digest(img):
    """What a kubelet over containerd reports as imageID for a pulled image: repo@sha256:..."""
    return "%s@%s" % (img.ref.rsplit(":", 1)[0], img.digest)


def config_digest(reg, img):
    """The image's config digest, as the registry's manifest names it (config.digest)."""
    repo, tag = img.ref.split("/", 1)[1].rsplit(":", 1)
    st, body = reg.get_manifest(repo, tag, OCI_MANIFEST)
    assert st == 200 and sha256(body) == img.digest, (st, body[:200])
    cfg = json.loads(body)["config"]["digest"]
    assert cfg.startswith("sha256:") and cfg != img.digest, cfg
    return cfg


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


# Trust policy on the signer: only a workload whose image was signed by the release workflow
# gets this identity.
RELEASE_ID = "spiffe://example.org/ns/%s/release" % NS


def config(kubelet_port, env, rt_dirs, state, skip_images=()):
    text = k8s_yaml({"read_only_port": kubelet_port}, state, rt_dirs[1], template=False)
    head, tail = text.split("templates:", 1)
    return (head + sigstore_yaml(env, skip_images) + "templates:" + tail +
            "entries:\n  - spiffe_id: %s\n    selectors: [%s, %s]\n"
            % (yq(RELEASE_ID), yq("k8s:ns:" + NS),
               yq("k8s:image-signature-subject:" + DEFAULT_IDENTITY)))


def sig_selectors(rec):
    return sorted(s for s in rec["selectors"]
                  if s.startswith(SIG_SELECTOR_PREFIXES) or ":image-signature-" in s)


def sigstore_status(d):
    st, doc = d.get("/v1/status")
    assert st == 200, doc
    sig = doc["sigstore"]
    assert sig["attestor"] == "kubernetes" and sig["enabled"] is True, sig
    return sig


def run_workload(containers, img, d, pod_uid, pod, cid):
    """A container of image img (an Image) whose init, peer_client, connects to attestd and
    holds the connection. Checks that containerd runs img and that the container's file system
    is img's (its MARKER)."""
    env = containers.env
    c = containers("web", pod_uid, "cgroupfs",
                   ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "60000"],
                   image=img, pod_name=pod["metadata"]["name"], namespace=NS,
                   container_id=cid, mounts=[d.workdir], host_cgroup2=True)
    info = read_container_json(c)
    assert info["connected"] == 1, info
    assert env.container_image(c) == img.ref
    assert env.image_digest(img.ref) == img.digest
    repo = img.ref.split("/", 1)[1].rsplit(":", 1)[0]
    assert env.exec(c, ["/bin/cat", MARKER]).stdout == repo + "\n"
    return c


def check_signed(rec, cid):
    """rec carries the signed image's signature attributes and selectors; returns them."""
    assert rec["result"] == "attested" and rec["error"] is None, rec
    attrs = rec["attributes"]
    for name in SIG_ATTRS:
        assert len(attrs.get(name, [])) == 1 and attrs[name][0], (name, attrs)
    assert attrs["kubernetes.image.signature.subject"] == [DEFAULT_IDENTITY]
    assert attrs["kubernetes.image.signature.issuer"] == [DEFAULT_ISSUER]
    assert attrs["kubernetes.image.provenance.predicate_type"] == [SLSA_V1]
    assert attrs["kubernetes.image.sigstore_validation"] == ["passed"]
    assert attrs["kubernetes.workload_container.id"] == [cid]
    sig = attrs["kubernetes.image.signature.value"][0]
    log_id = attrs["kubernetes.image.signature.log_id"][0]
    itime = attrs["kubernetes.image.signature.integrated_time"][0]
    assert int(itime) > 0 and int(attrs["kubernetes.image.signature.log_index"][0]) >= 0
    assert sig_selectors(rec) == sorted([
        "k8s:image-signature:verified",
        "k8s:image-signature-subject:" + DEFAULT_IDENTITY,
        "k8s:image-signature-issuer:" + DEFAULT_ISSUER,
        "k8s:image-attestations:verified",
        "k8s:%s:image-signature-content:%s" % (cid, sig),
        "k8s:%s:image-signature-subject:%s" % (cid, DEFAULT_IDENTITY),
        "k8s:%s:image-signature-logid:%s" % (cid, log_id),
        "k8s:%s:image-signature-integrated-time:%s" % (cid, itime),
        "k8s:sigstore-validation:passed",
    ]), rec["selectors"]
    assert "k8s:ns:" + NS in rec["selectors"]
    return attrs


def check_unsigned(rec):
    """rec is attested all the same, without any signature attribute or selector."""
    assert rec["result"] == "attested" and rec["error"] is None, rec
    assert not [n for n in rec["attributes"] if n.startswith("kubernetes.image.")], rec
    assert sig_selectors(rec) == [], rec["selectors"]
    assert "k8s:ns:" + NS in rec["selectors"]


def wait_warning(d, image):
    deadline = time.monotonic() + 5
    while not any(l.get("level") == "warn" and image in (l.get("image") or "")
                  for l in d.logs):
        assert time.monotonic() < deadline, "no warning naming %s:\n%s" % (image, d.log_tail())
        time.sleep(0.05)


def test_signed_and_unsigned_images(attestd, kubelet, containers, rt_dirs, sig_env):
    env, reg = sig_env, sig_env["reg"]
    signed, unsigned = env["signed"], env["unsigned"]
    uid_a, uid_b = ce.new_pod_uid(), ce.new_pod_uid()
    cid_a, cid_b = os.urandom(32).hex(), os.urandom(32).hex()
    pod_a = make_pod(uid_a, "signed-1", [status("web", signed.ref, repo_digest(signed), cid_a)])
    # containerd style: a bare digest, combined with the image name's repository
    pod_b = make_pod(uid_b, "unsigned-1", [status("web", unsigned.ref, unsigned.digest, cid_b)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod_a, pod_b))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state))
    assert any(l.get("msg") == "sigstore: image signature verification on" and
               l.get("trusted_root") == env["signer"].trusted_root for l in d.logs), d.log_tail()

    ca = run_workload(containers, signed, d, uid_a, pod_a, cid_a)
    cb = run_workload(containers, unsigned, d, uid_b, pod_b, cid_b)
    rec_a = d.wait_pid(ca.pid)[0]
    rec_b = d.wait_pid(cb.pid)[0]

    attrs = check_signed(rec_a, cid_a)
    sig = attrs["kubernetes.image.signature.value"][0]
    check_unsigned(rec_b)
    wait_warning(d, repo_digest(unsigned))

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

    # Trust policy on the signer: the signed workload gets the release identity from inside its
    # container; the unsigned one (same namespace) gets none.
    r = containers.env.exec(ca, ["/usr/bin/attestctl", "--socket", d.socket, "fetch", "x509",
                                 "--json"], check=False)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert [x["spiffe_id"] for x in json.loads(r.stdout)["svids"]] == [RELEASE_ID], r.stdout
    r = containers.env.exec(cb, ["/usr/bin/attestctl", "--socket", d.socket, "fetch", "x509",
                                 "--json"], check=False)
    assert r.returncode != 0 and "PERMISSION_DENIED" in (r.stdout + r.stderr).upper(), \
        (r.stdout, r.stderr)
    rpc = d.wait_records(lambda x: x.get("rpc") and x["spiffe_ids"], count=1)[0]
    assert rpc["spiffe_ids"] == [RELEASE_ID], rpc
    assert "k8s:image-signature:verified" in rpc["selectors"], rpc


def test_tag_only_image_resolved(attestd, kubelet, containers, rt_dirs, sig_env):
    """No imageID in the container status (as before the runtime reports one) and a tag-only
    image name: attestd resolves the tag through the registry, never trusting it as such."""
    env = sig_env
    signed, unsigned = env["signed"], env["unsigned"]
    uid_a, uid_b = ce.new_pod_uid(), ce.new_pod_uid()
    cid_a, cid_b = os.urandom(32).hex(), os.urandom(32).hex()
    pod_a = make_pod(uid_a, "signed-tag", [status("web", signed.ref, "", cid_a)])
    pod_b = make_pod(uid_b, "unsigned-tag", [status("web", unsigned.ref, "", cid_b)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod_a, pod_b))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state))
    ca = run_workload(containers, signed, d, uid_a, pod_a, cid_a)
    cb = run_workload(containers, unsigned, d, uid_b, pod_b, cid_b)
    rec_a = d.wait_pid(ca.pid)[0]
    rec_b = d.wait_pid(cb.pid)[0]
    check_signed(rec_a, cid_a)
    check_unsigned(rec_b)
    wait_warning(d, unsigned.ref)
    s = sigstore_status(d)
    total = s["attestd_sigstore_image_verification_total"]
    assert total["verified"] == 1 and total["not_signed"] == 1, s
    assert sum(total.values()) == 2, s
    # the result is cached under the digest the tag resolved to
    assert s["cache_entries"] == 1, s


def test_restarted_container_does_not_inherit_the_old_image(attestd, kubelet, containers,
                                                           rt_dirs, sig_env):
    """After a restart the kubelet may still report the previous container (its ID and the
    signed imageID) while the new one already runs, e.g. during a postStart hook; the pod's
    image may have been changed meanwhile. The new container is named by the runtime, but the
    status of the old one says nothing about it: its image is verified from the spec's name."""
    env = sig_env
    signed, unsigned = env["signed"], env["unsigned"]
    uid = ce.new_pod_uid()
    old_cid, new_cid = os.urandom(32).hex(), os.urandom(32).hex()
    pod = make_pod(uid, "restarted-1", [status("web", unsigned.ref, repo_digest(signed),
                                               old_cid)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state))
    c = run_workload(containers, unsigned, d, uid, pod, new_cid)
    rec = d.wait_pid(c.pid)[0]
    check_unsigned(rec)
    assert "k8s:container-name:web" in rec["selectors"], rec["selectors"]
    # (k8s:pod-image lists the pod's statuses as SPIRE does; the container's own are clean)
    assert not [x for x in rec["selectors"]
                if signed.digest in x and not x.startswith("k8s:pod-image:")], rec["selectors"]
    assert "k8s:container-image:" + unsigned.ref in rec["selectors"], rec["selectors"]
    wait_warning(d, unsigned.ref)
    s = sigstore_status(d)
    assert s["attestd_sigstore_image_verification_total"]["verified"] == 0, s


def test_skip_images(attestd, kubelet, containers, rt_dirs, sig_env):
    env = sig_env
    img = env["unsigned"]
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    pod = make_pod(uid, "skipped-1", [status("web", img.ref, repo_digest(img), cid)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state,
                                  skip_images=[img.digest]))
    c = run_workload(containers, img, d, uid, pod, cid)
    rec = d.wait_pid(c.pid)[0]
    assert rec["result"] == "attested", rec
    assert sig_selectors(rec) == ["k8s:sigstore-validation:passed"], rec["selectors"]
    assert rec["attributes"]["kubernetes.image.sigstore_validation"] == ["passed"]
    assert "kubernetes.image.signature.subject" not in rec["attributes"]
    s = sigstore_status(d)
    assert sum(s["attestd_sigstore_image_verification_total"].values()) == 0, s
    assert s["attestd_sigstore_verification_cache_total"] == {"hit": 0, "miss": 0}, s


def test_reload_applies_sigstore(attestd, kubelet, containers, rt_dirs, sig_env):
    """SIGHUP with another allowed_identities applies at once (no restart) and drops the cache."""
    env = sig_env
    img = env["signed"]
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    # the docker-pullable:// form (dockershim, cri-dockerd)
    pod = make_pod(uid, "signed-2", [status("web", img.ref,
                                            "docker-pullable://" + repo_digest(img), cid)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    good = config(k.port, env, rt_dirs, containers.env.state)
    other = good.replace(yq("https://github.com/attestd/*"), yq("https://github.com/other/*"))
    assert other != good
    d = attestd(extra_yaml=other)
    c = run_workload(containers, img, d, uid, pod, cid)
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
    check_signed(again, cid)
    s = sigstore_status(d)
    assert s["attestd_sigstore_image_verification_total"]["verified"] == 1, s


def test_bare_config_digest(attestd, kubelet, containers, rt_dirs, sig_env):
    """containerd reports an image imported without a repo digest with imageID = the bare
    CONFIG digest. Signatures name the manifest digest, so attestd finds no signatures for it,
    resolves the image name's tag and verifies that manifest because its config descriptor is
    the bare digest; the tag alone is never trusted."""
    env, reg = sig_env, sig_env["reg"]
    signed, unsigned = env["signed"], env["unsigned"]
    cfg_s, cfg_u = config_digest(reg, signed), config_digest(reg, unsigned)
    uid_a, uid_b = ce.new_pod_uid(), ce.new_pod_uid()
    cid_a, cid_b = os.urandom(32).hex(), os.urandom(32).hex()
    pod_a = make_pod(uid_a, "signed-cfg", [status("web", signed.ref, cfg_s, cid_a)])
    pod_b = make_pod(uid_b, "unsigned-cfg", [status("web", unsigned.ref, cfg_u, cid_b)])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod_a, pod_b))
    d = attestd(extra_yaml=config(k.port, env, rt_dirs, containers.env.state))
    ca = run_workload(containers, signed, d, uid_a, pod_a, cid_a)
    cb = run_workload(containers, unsigned, d, uid_b, pod_b, cid_b)
    rec_a = d.wait_pid(ca.pid)[0]
    rec_b = d.wait_pid(cb.pid)[0]
    attrs = check_signed(rec_a, cid_a)
    check_unsigned(rec_b)
    unsigned_ref = "%s@%s" % (unsigned.ref.rsplit(":", 1)[0], cfg_u)
    wait_warning(d, unsigned_ref)
    # the unsigned image's tag did lead to its manifest: that one is what has no signatures
    assert any(l.get("level") == "warn" and l.get("image") == unsigned_ref and
               unsigned.digest in (l.get("reason") or "") for l in d.logs), d.log_tail()
    s = sigstore_status(d)
    total = s["attestd_sigstore_image_verification_total"]
    assert total["verified"] == 1 and total["not_signed"] == 1, s
    assert sum(total.values()) == 2, s
    # cached under the manifest digest and the config digest
    assert s["cache_entries"] == 2, s

    # again: a cache hit under the config digest, with the same signature
    st, again = d.get("/v1/attest?pid=%d" % ca.pid)
    assert st == 200, again
    assert (again["attributes"]["kubernetes.image.signature.value"] ==
            attrs["kubernetes.image.signature.value"]), again
    s = sigstore_status(d)
    assert s["attestd_sigstore_verification_cache_total"] == {"hit": 1, "miss": 2}, s
    assert s["attestd_sigstore_image_verification_total"]["verified"] == 1, s
