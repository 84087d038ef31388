"""The Kubernetes attestor end to end (issue 5): a real attestd, a fake kubelet (tests/tools/
fake_kubelet.py), real containerd + runc containers in kubepods-style cgroups of both drivers
(tests/tools/containerd_env.py), and kubepods-style cgroup directories where containers are not
needed (load, faults).

  1. a workload inside a real container gets the full SPIRE selector set and SPIRL attribute set,
     and an SVID from a template, fetched from inside the container
  2. lifecycle hook: the kubelet lists the container without a containerID; the runtime's bundle
     names it (and disable_container_selectors gives pod-level selectors only)
  3. a container that connects, exits and is removed (container and cgroup) while attestd is
     stopped is still attested correctly
  4. 200 attestations per second for 10 s: the kubelet sees at most one request per refresh
     interval plus one per miss interval (the counts are printed)
  5. kubelet faults (slow, 500, truncated, garbage, cut, wrong credentials, untrusted
     certificate), a container ID claimed by two pods and an unknown pod give clear errors within
     the deadline, and attestd keeps serving

Needs root; containers need containerd, runc and busybox-static; the fake kubelet needs
/usr/bin/python3 and openssl. Missing pieces skip with the reason.
Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs -s tests/e2e/test_kubernetes.py
"""

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

import helpers
from conftest import need_binary

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

import containerd_env as ce  # noqa: E402
import fake_kubelet as fk  # noqa: E402

PYTHON = "/usr/bin/python3"
DRIVERS = ("cgroupfs", "systemd")
NS = "prod"
SA = "web-sa"
NODE = "node-e2e-1"
TEMPLATE_ID = "spiffe://example.org/ns/{{kubernetes.pod.namespace}}/sa/" \
              "{{kubernetes.pod.service_account}}"
POD_SVID = "spiffe://example.org/ns/%s/sa/%s" % (NS, SA)
# Slack on top of a deadline, for the daemon's own work and for scheduling on a busy host.
DEADLINE_SLACK_S = 0.75
# Helper attributes the daemon derives the SPIRE selectors from (attest/attrs.c's table); they
# are not SPIRL names, so the exact comparison of SPIRL attributes leaves them out.
DERIVATION_ATTRS = {
    "kubernetes.pod.images", "kubernetes.pod.init_images", "kubernetes.pod.owners",
    "kubernetes.pod.owner_uids", "kubernetes.workload_container.name",
    "kubernetes.workload_container.images",
}


# ---- pod JSON -----------------------------------------------------------------------------


def status(name, image, image_id="", container_id=None, state="running"):
    """One container status as a kubelet reports it. container_id None: no containerID (a
    container whose postStart hook is still running)."""
    st = {"name": name, "image": image, "imageID": image_id, "ready": state == "running",
          "restartCount": 0}
    if state == "running":
        st["state"] = {"running": {"startedAt": "2024-05-01T10:00:00Z"}}
        st["started"] = True
    elif state == "terminated":
        st["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                      "startedAt": "2024-05-01T10:00:00Z",
                                      "finishedAt": "2024-05-01T10:00:01Z"}}
        st["started"] = False
    else:
        st["state"] = {"waiting": {"reason": "ContainerCreating"}}
        st["started"] = False
    if container_id:
        st["containerID"] = "containerd://" + container_id
    return st


def make_pod(uid, name, statuses, init_statuses=(), ns=NS, sa=SA, node=NODE, labels=None,
             annotations=None, owners=None, phase="Running"):
    """A v1 Pod. statuses / init_statuses: status() dicts (the spec lists the same names with
    the same images)."""
    if labels is None:
        labels = {"app": "web", "tier": "front"}
    if annotations is None:
        annotations = {"example.com/team": "payments", "other.io/note": "not included"}
    if owners is None:
        owners = [("Deployment", "web", str(uuid.uuid4())),
                  ("ReplicaSet", "web-7d4b9c", str(uuid.uuid4()))]
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "namespace": ns, "uid": uid, "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": k, "name": n, "uid": u,
                                 "controller": i == len(owners) - 1}
                                for i, (k, n, u) in enumerate(owners)],
        },
        "spec": {
            "serviceAccountName": sa, "nodeName": node,
            "initContainers": [{"name": s["name"], "image": s["image"]} for s in init_statuses],
            "containers": [{"name": s["name"], "image": s["image"]} for s in statuses],
        },
        "status": {
            "phase": phase, "podIP": "10.244.0.7",
            "initContainerStatuses": list(init_statuses),
            "containerStatuses": list(statuses),
        },
    }


def pod_list(*pods):
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": list(pods)}


def sidecar_status():
    return status("sidecar", "registry.example/envoy:1.29",
                  "registry.example/envoy@sha256:" + "5" * 64, "c" * 64)


def init_status():
    return status("init-db", "registry.example/migrate:3",
                  "registry.example/migrate@sha256:" + "6" * 64, "d" * 64, state="terminated")


def expected_selectors(pod, container=None):
    """The k8s:* selectors SPIRE's k8s workload attestor gives a workload in `pod` (in the
    container named `container`, or pod-level only if None)."""
    md, spec, st = pod["metadata"], pod["spec"], pod["status"]
    out = {"k8s:ns:" + md["namespace"], "k8s:sa:" + spec["serviceAccountName"],
           "k8s:node-name:" + spec["nodeName"], "k8s:pod-uid:" + md["uid"],
           "k8s:pod-name:" + md["name"],
           "k8s:pod-image-count:%d" % len(st["containerStatuses"]),
           "k8s:pod-init-image-count:%d" % len(st["initContainerStatuses"])}
    for k, v in md["labels"].items():
        out.add("k8s:pod-label:%s:%s" % (k, v))
    for o in md["ownerReferences"]:
        out.add("k8s:pod-owner:%s:%s" % (o["kind"], o["name"]))
        out.add("k8s:pod-owner-uid:%s:%s" % (o["kind"], o["uid"]))
    for key, sel in (("containerStatuses", "pod-image"), ("initContainerStatuses",
                                                          "pod-init-image")):
        for s in st[key]:
            for v in (s["image"], s["imageID"]):
                if v:
                    out.add("k8s:%s:%s" % (sel, v))
    if container is not None:
        out.add("k8s:container-name:" + container)
        for s in st["containerStatuses"] + st["initContainerStatuses"]:
            if s["name"] == container:
                for v in (s["image"], s["imageID"]):
                    if v:
                        out.add("k8s:container-image:" + v)
    return out


def expected_attributes(pod, container=None, prefixes=(), container_attrs=False):
    """The SPIRL kubernetes.* attributes (name -> sorted values) for a workload in `pod`."""
    md, spec, st = pod["metadata"], pod["spec"], pod["status"]
    last = md["ownerReferences"][-1]
    out = {
        "kubernetes.pod.name": [md["name"]], "kubernetes.pod.namespace": [md["namespace"]],
        "kubernetes.pod.uid": [md["uid"]], "kubernetes.pod.node.name": [spec["nodeName"]],
        "kubernetes.pod.service_account": [spec["serviceAccountName"]],
        "kubernetes.pod.image_count": [str(len(st["containerStatuses"]))],
        "kubernetes.pod.init_image_count": [str(len(st["initContainerStatuses"]))],
        "kubernetes.pod.owner": ["%s:%s" % (last["kind"], last["name"])],
        "kubernetes.pod.owner_uid": [last["uid"]],
    }
    for key, kind in (("containerStatuses", "container"),
                      ("initContainerStatuses", "init_container")):
        for s in st[key]:
            out["kubernetes.pod.%s.%s.image.name" % (kind, s["name"])] = [s["image"]]
            if s["imageID"]:
                out["kubernetes.pod.%s.%s.image.id" % (kind, s["name"])] = [s["imageID"]]
    for k, v in md["labels"].items():
        out["kubernetes.pod.label[%s]" % k] = [v]
    for k, v in md["annotations"].items():
        if any(k.startswith(p) for p in prefixes):
            out["kubernetes.pod.annotation[%s]" % k] = [v]
    if container is not None and container_attrs:
        s = [x for x in st["containerStatuses"] if x["name"] == container][0]
        out["kubernetes.container.name"] = [container]
        out["kubernetes.container.image.name"] = [s["image"]]
        if s["imageID"]:
            out["kubernetes.container.image.id"] = [s["imageID"]]
    return out


def k8s_selectors(rec):
    return {s for s in rec["selectors"] if s.startswith("k8s:")}


def spirl_attributes(rec):
    return {k: sorted(v) for k, v in rec["attributes"].items()
            if k.startswith("kubernetes.") and k not in DERIVATION_ATTRS}


def check_selectors(rec, pod, container):
    assert rec["result"] == "attested" and rec["error"] is None, rec
    got, want = k8s_selectors(rec), expected_selectors(pod, container)
    assert got == want, "k8s selectors differ:\n  missing %s\n  unexpected %s" % (
        sorted(want - got), sorted(got - want))


def check_attributes(rec, pod, container, prefixes=(), container_attrs=False):
    got = spirl_attributes(rec)
    want = {k: sorted(v) for k, v in
            expected_attributes(pod, container, prefixes, container_attrs).items()}
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    assert not missing and not extra, "SPIRL attributes differ:\n  want %s\n  unexpected %s" % (
        missing, extra)


# ---- configuration ------------------------------------------------------------------------


def yq(s):
    return helpers.yaml_quote(s)


def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return yq(v)


def k8s_yaml(kubelet, containerd_state, crio_state, timeout="5s", min_interval="500ms",
             interval="10s", disable=False, container_attrs=False, prefixes=(), template=True):
    """extra_yaml for attestd: the unix and kubernetes attestors, and (template=True) the
    template spiffe://example.org/ns/{{namespace}}/sa/{{service account}} for namespace prod."""
    text = (
        "attestors:\n"
        "  unix: {enabled: true}\n"
        "  kubernetes:\n"
        "    enabled: true\n"
        "    kubelet: {%s}\n"
        "    refresh: {min_interval: %s, interval: %s}\n"
        "    attestation_timeout: %s\n"
        "    runtime: {containerd_state: %s, crio_state: %s}\n"
        "    disable_container_selectors: %s\n"
        "    include_container_attributes: %s\n"
        "    include_annotation_prefixes: [%s]\n"
        % (", ".join("%s: %s" % (k, yaml_scalar(v)) for k, v in kubelet.items()),
           min_interval, interval, timeout, yq(containerd_state), yq(crio_state),
           "true" if disable else "false", "true" if container_attrs else "false",
           ", ".join(yq(p) for p in prefixes))
    )
    if template:
        text += ("templates:\n"
                 "  - spiffe_id: %s\n"
                 "    when: [%s]\n" % (yq(TEMPLATE_ID), yq("k8s:ns:" + NS)))
    else:
        text += "templates: []\n"
    return text


def within_deadline(rec, timeout_s):
    took = rec["duration_us"] / 1e6
    assert took <= timeout_s + DEADLINE_SLACK_S, "attestation took %.2f s, deadline %.2f s: %r" % (
        took, timeout_s, rec)
    return took


# ---- fixtures -----------------------------------------------------------------------------


def need_kubelet_tools():
    if not os.access(PYTHON, os.X_OK):
        pytest.skip("needs %s to run the fake kubelet" % PYTHON)


@pytest.fixture
def kubelet(workdir):
    """Factory: kubelet(args) starts a fake kubelet (stopped at teardown)."""
    need_kubelet_tools()
    started = []

    def start(args):
        k = fk.FakeKubelet(workdir, args, python=PYTHON)
        started.append(k)
        return k.start()

    yield start
    for k in started:
        k.stop()


@pytest.fixture
def pki(workdir):
    """make_test_pki for the node's host name (what attestd verifies without a node name)."""
    need_kubelet_tools()
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl CLI to make the fake kubelet's certificates")
    d = os.path.join(workdir, "pki")
    os.mkdir(d)
    return fk.make_test_pki(d, os.uname().nodename)


@pytest.fixture
def rt_dirs(workdir):
    """Empty containerd and CRI-O state dirs, so the host's own runtimes are never consulted."""
    out = []
    for n in ("containerd-state", "crio-state"):
        p = os.path.join(workdir, n)
        os.mkdir(p)
        out.append(p)
    return out


@pytest.fixture(scope="module")
def ctrd():
    """One private containerd for the module; stop() must leave nothing behind."""
    reason = ce.ContainerdEnv.missing()
    if reason:
        pytest.skip(reason)
    env = ce.ContainerdEnv()
    try:
        env.start()
        yield env
    finally:
        problems = env.stop()
    assert not problems, problems


@pytest.fixture(scope="module")
def image(ctrd):
    """busybox + peer_client + attestctl (with their shared libraries)."""
    need_binary(helpers.PEER_CLIENT)
    need_binary(helpers.ATTESTCTL)
    return ctrd.build_image(files={"/usr/bin/peer_client": helpers.PEER_CLIENT,
                                   "/usr/bin/attestctl": helpers.ATTESTCTL})


@pytest.fixture
def containers(ctrd):
    """Factory over ctrd.run_container; every container still there is removed at teardown,
    and none may leave a process, cgroup or bundle behind."""
    made = []

    def run(*a, **kw):
        c = ctrd.run_container(*a, **kw)
        made.append(c)
        return c

    run.env = ctrd
    yield run
    for c in made:
        if c.id in ctrd.containers:
            ctrd.remove(c)
    left = ctrd.leftovers(made)
    assert not left, left


def image_id(img):
    return "%s@%s" % (img.ref.rsplit(":", 1)[0], img.digest)


def read_container_json(c, timeout=20.0):
    """The JSON line peer_client (the container's init) wrote to the container's log."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            with open(c.log) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith("{"):
                        return json.loads(line)
        assert time.monotonic() < deadline, "no JSON line from peer_client in %s" % c.log
        time.sleep(0.05)


def in_container(c):
    """The records of processes of container c (by cgroup path)."""
    return lambda r: (r.get("peer") or {}).get("cgroup_path") == c.cgroup


# ---- 1. full selector and attribute set, real containers ----------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("variant", ["defaults", "annotations+container-attributes"])
def test_container_full_selector_and_attribute_set(attestd, kubelet, containers, image,
                                                   rt_dirs, driver, variant):
    env = containers.env
    prefixes = ("example.com/",) if variant != "defaults" else ()
    container_attrs = variant != "defaults"
    pod_uid = ce.new_pod_uid()
    cid = os.urandom(32).hex()
    pod = make_pod(pod_uid, "web-7d4b9c-x2x9q",
                   [status("web", image.ref, image_id(image), cid), sidecar_status()],
                   init_statuses=[init_status()])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, env.state, rt_dirs[1],
                                    container_attrs=container_attrs, prefixes=prefixes))
    c = containers("web", pod_uid, driver,
                   ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "60000"],
                   image=image, pod_name=pod["metadata"]["name"], namespace=NS,
                   container_id=cid, mounts=[d.workdir], host_cgroup2=True)
    info = read_container_json(c)
    assert info["connected"] == 1, info
    rec = d.wait_records(lambda r: r["peer"]["pid"] == c.pid)[0]
    assert rec["peer"]["cgroup_path"] == c.cgroup, rec
    assert rec["peer"]["cgroup_id"] == info["cgroup_id"], (rec, info)
    assert "unix:uid:0" in rec["selectors"], rec
    check_selectors(rec, pod, "web")
    check_attributes(rec, pod, "web", prefixes, container_attrs)
    # The image digest of the container the harness really runs is in the selectors.
    assert "k8s:container-image:" + image_id(image) in rec["selectors"], rec
    if not prefixes:
        assert not [a for a in rec["attributes"] if "annotation" in a], rec
    if not container_attrs:
        assert not [a for a in rec["attributes"] if a.startswith("kubernetes.container.")], rec

    # An SVID from the template, fetched from inside the container by attestctl.
    r = env.exec(c, ["/usr/bin/attestctl", "--socket", d.socket, "fetch", "x509", "--json"],
                 check=False)
    assert r.returncode == 0, "attestctl in the container: %d\n%s%s" % (r.returncode, r.stdout,
                                                                         r.stderr)
    doc = json.loads(r.stdout)
    assert [s["spiffe_id"] for s in doc["svids"]] == [POD_SVID], doc
    recs = d.wait_records(lambda r: in_container(c)(r) and r["peer"]["pid"] != c.pid
                          and r.get("rpc"))
    assert POD_SVID in recs[0]["spiffe_ids"], recs[0]
    check_selectors(recs[0], pod, "web")


# ---- 2. lifecycle hook: no containerID yet, the runtime names the container ---------------


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("disable", [False, True], ids=["container-selectors",
                                                        "disable_container_selectors"])
def test_lifecycle_hook_container_from_runtime(attestd, kubelet, containers, image, rt_dirs,
                                               driver, disable):
    env = containers.env
    pod_uid = ce.new_pod_uid()
    cid = os.urandom(32).hex()
    # As while a postStart hook runs: the status lists the container, without containerID or
    # imageID, waiting in ContainerCreating.
    pod = make_pod(pod_uid, "hooked-5f6d7-abcde",
                   [status("app", image.ref, "", None, state="waiting"), sidecar_status()])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, env.state, rt_dirs[1],
                                    disable=disable, timeout="3s"))
    c = containers("app", pod_uid, driver,
                   ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "30000"],
                   image=image, pod_name=pod["metadata"]["name"], namespace=NS,
                   container_id=cid, mounts=[d.workdir], host_cgroup2=True)
    with open(c.config_json) as f:
        ann = json.load(f)["annotations"]
    assert ann["io.kubernetes.cri.container-name"] == "app"
    assert ann["io.kubernetes.cri.sandbox-uid"] == pod_uid
    rec = d.wait_records(lambda r: r["peer"]["pid"] == c.pid)[0]
    within_deadline(rec, 3.0)
    if disable:
        check_selectors(rec, pod, None)
        assert not [s for s in rec["selectors"] if s.startswith("k8s:container-")], rec
    else:
        check_selectors(rec, pod, "app")
        assert "k8s:container-name:app" in rec["selectors"], rec
        assert "k8s:container-image:" + image.ref in rec["selectors"], rec
    # The container-name from the runtime is not trusted blindly: in a bundle that names another
    # pod than the cgroup path, it is an error.
    c2 = containers("app", pod_uid, driver,
                    ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "30000"],
                    image=image, namespace=NS, mounts=[d.workdir], host_cgroup2=True,
                    annotations={"io.kubernetes.cri.sandbox-uid": ce.new_pod_uid()})
    rec = d.wait_records(lambda r: r["peer"]["pid"] == c2.pid)[0]
    within_deadline(rec, 3.0)
    if disable:
        # Pod-level only: the runtime is not asked, the container ID does not matter.
        check_selectors(rec, pod, None)
    else:
        assert rec["result"] == "error", rec
        assert pod_uid in rec["error"] and "runtime" in rec["error"], rec
        assert not k8s_selectors(rec), rec


# ---- 3. connect, exit, removed (container and cgroup) while attestd is stopped --------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_container_gone_before_attestation(attestd, kubelet, containers, image, rt_dirs,
                                           driver):
    env = containers.env
    pod_uid = ce.new_pod_uid()
    cid = os.urandom(32).hex()
    # What the kubelet reports right after: the container terminated, with its ID.
    pod = make_pod(pod_uid, "job-x7k2p",
                   [status("once", image.ref, image_id(image), cid, state="terminated"),
                    sidecar_status()])
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, env.state, rt_dirs[1]))
    with d.paused():
        c = containers("once", pod_uid, driver,
                       ["/usr/bin/peer_client", "--socket", d.socket, "--hold-ms", "0"],
                       image=image, pod_name=pod["metadata"]["name"], namespace=NS,
                       container_id=cid, mounts=[d.workdir], host_cgroup2=True)
        info = read_container_json(c)
        assert info["connected"] == 1, info
        env.remove(c)
        assert env.leftovers([c]) == []  # no process, no cgroup (any hierarchy), no bundle
        assert not os.path.exists(ce.cgroup2_mount() + c.cgroup)
    rec = d.wait_records(lambda r: r["peer"]["pid"] == c.pid)[0]
    assert rec["peer"]["cgroup_path"] == c.cgroup, rec
    assert rec["peer"]["cgroup_id"] == info["cgroup_id"], (rec, info)
    assert rec["peer"]["race_free"] is True, rec
    check_selectors(rec, pod, "once")
    check_attributes(rec, pod, "once")


# ---- 4. request rate against the kubelet under load ---------------------------------------

LOAD_SCRIPT = r"""
import collections, json, os, socket, sys, time
path, cg, rate, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
with open(os.path.join(cg, "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()
held = collections.deque()
n = ok = 0
t0 = time.monotonic()
while True:
    el = time.monotonic() - t0
    if el >= secs:
        break
    while n < int(el * rate) + 1:
        n += 1
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            ok += 1
            held.append(s)
        except OSError:
            s.close()
        while len(held) > 64:
            held.popleft().close()
    time.sleep(0.002)
for s in held:
    s.close()
print(json.dumps({"attempts": n, "connected": ok, "seconds": time.monotonic() - t0}))
"""


class Load:
    """A Python process in cgroup `cg` that connects to `sock` `rate` times a second."""

    def __init__(self, sock, cg, rate, secs):
        self.proc = subprocess.Popen([PYTHON, "-c", LOAD_SCRIPT, sock, cg, str(rate), str(secs)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line == "ready\n", "load generator did not start: %r" % line

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self, timeout=60):
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, out
        return json.loads(out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def fake_pod(uid, name, cid, ns=NS):
    img = "registry.example/%s:1" % name
    return make_pod(uid, name, [status(name, img, "registry.example/%s@sha256:%s" % (name,
                                                                                    "7" * 64),
                                       cid)], ns=ns)


def kubepods_dir(cgroup, uid, cid, driver="cgroupfs"):
    """A kubelet-style cgroup directory (no container in it) below the test's cgroup."""
    return cgroup(ce.kubepods_cgroup(driver, "besteffort", uid, cid).lstrip("/"))


LOAD_RATE = 200
LOAD_SECONDS = 10.0
INTERVAL_S = 10.0
MIN_INTERVAL_S = 0.5


@pytest.mark.parametrize("misses", [False, True], ids=["one-known-pod", "with-unknown-pod"])
def test_kubelet_request_rate_under_load(attestd, kubelet, cgroup, rt_dirs, misses):
    need_kubelet_tools()
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    pod = fake_pod(uid, "api", cid)
    k = kubelet(["--http"])
    k.post_pods(pod_list(pod))
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, rt_dirs[0], rt_dirs[1],
                                    timeout="1s", min_interval="500ms", interval="10s",
                                    template=False))
    known = kubepods_dir(cgroup, uid, cid)
    known_rel = cgroup.rel(known)
    # Warm: the pod is in the cache before the measurement starts.
    info = helpers.run_client(d.socket, cgroup=known, hold_ms=0)
    rec = d.wait_pid(info["pid"])[0]
    check_selectors(rec, pod, "api")
    loads = []
    unknown_rel = None
    try:
        if misses:
            # 10 % of the attestations come from a pod the kubelet never lists: every one is a
            # miss (and fails at its deadline).
            u2, c2 = ce.new_pod_uid(), os.urandom(32).hex()
            unknown = kubepods_dir(cgroup, u2, c2)
            unknown_rel = cgroup.rel(unknown)
            loads.append(Load(d.socket, known, LOAD_RATE * 0.9, LOAD_SECONDS))
            loads.append(Load(d.socket, unknown, LOAD_RATE * 0.1, LOAD_SECONDS))
        else:
            loads.append(Load(d.socket, known, LOAD_RATE, LOAD_SECONDS))
        before = d.records()[0]["id"]
        k.reset()
        t0 = time.monotonic()
        for ld in loads:
            ld.go()
        results = [ld.result() for ld in loads]
        elapsed = time.monotonic() - t0
        count = k.count()
    finally:
        for ld in loads:
            ld.kill()
    connected = sum(r["connected"] for r in results)
    assert connected >= LOAD_RATE * LOAD_SECONDS * 0.95, results
    background = math.floor(elapsed / INTERVAL_S) + 1
    miss_bound = math.floor(elapsed / MIN_INTERVAL_S) + 1 if misses else 0
    print("\nkubelet requests during %.1f s at %d attestations/s (%s): %d "
          "(bound: %d background + %d miss = %d; %d connections)"
          % (elapsed, LOAD_RATE, "10 % from an unknown pod" if misses else "one known pod",
             count["pods"], background, miss_bound, background + miss_bound, connected))
    assert count["pods"] <= background + miss_bound, count
    if misses:
        # Misses do refresh (not starved), at the min_interval pace.
        assert count["pods"] >= 5, count
    # Every attestation of the known pod succeeded with the pod's selectors.
    deadline = time.monotonic() + 30
    while True:
        recs = [r for r in d.records() if r["id"] > before]
        mine = [r for r in recs if r["peer"]["cgroup_path"] == known_rel]
        if len(mine) >= results[0]["connected"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(mine) == results[0]["connected"], (len(mine), results)
    bad = [r for r in mine if r["result"] != "attested" or "k8s:pod-uid:" + uid not in
           r["selectors"] or "k8s:container-name:api" not in r["selectors"]]
    assert not bad, bad[:3]
    if misses:
        others = [r for r in recs if r["peer"]["cgroup_path"] == unknown_rel]
        assert others and all(r["result"] == "error" for r in others), others[:3]
        assert all("not found" in r["error"] for r in others), others[:3]


# ---- 5. faults ----------------------------------------------------------------------------


def outside_pod_ok(d, cgroup):
    """A process outside any pod is attested, without k8s selectors and without error."""
    plain = cgroup("plain")
    info = helpers.run_client(d.socket, cgroup=plain, hold_ms=0)
    rec = d.wait_pid(info["pid"])[0]
    helpers.check_record_matches(rec, info, cgroup_rel=cgroup.rel(plain))
    assert not k8s_selectors(rec), rec
    assert not [a for a in rec["attributes"] if a.startswith("kubernetes.")], rec
    assert rec["duration_us"] < 1_000_000, rec  # the kubelet is not consulted
    return rec


def attest_in(d, cg):
    info = helpers.run_client(d.socket, cgroup=cg, hold_ms=0)
    return d.wait_pid(info["pid"])[0]


FAULTS = [
    # (name, faults, what the error must say); the deadline (attestation_timeout) is 1 s.
    ("slow", {"delay_ms": 3000}, ("kubelet", "not found after 1.0 s", "in flight")),
    ("500", {"status": 500}, ("kubelet", "/pods", "HTTP 500")),
    ("truncated", {"truncate": True}, ("kubelet", "/pods", "invalid JSON")),
    ("garbage", {"garbage": True}, ("kubelet", "/pods", "invalid JSON")),
    ("cut", {"close": True}, ("kubelet", "/pods", "transfer closed")),
]
NO_FAULTS = {"delay_ms": 0, "status": 0, "truncate": False, "garbage": False, "close": False}


def test_kubelet_faults_read_only_port(attestd, kubelet, cgroup, rt_dirs):
    """One daemon through every fault: each gives an error within the deadline that names the
    kubelet; meanwhile a process outside any pod is attested without error, and once the fault
    is gone the same pod attests again."""
    k = kubelet(["--http"])
    pods = []
    k.post_pods(pod_list())
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, rt_dirs[0], rt_dirs[1],
                                    timeout="1s", min_interval="100ms", template=False))
    errors = {}
    for name, faults, words in FAULTS:
        uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
        pod = fake_pod(uid, "f-" + name, cid)
        pods.append(pod)
        k.post_pods(pod_list(*pods))  # new pod: not in the cache, so a miss goes to the kubelet
        k.set_faults(**dict(NO_FAULTS, **faults))
        cg = kubepods_dir(cgroup, uid, cid)
        t0 = time.monotonic()
        rec = attest_in(d, cg)
        wall = time.monotonic() - t0
        assert rec["result"] == "error", (name, rec)
        took = within_deadline(rec, 1.0)
        assert wall < 1.0 + 5.0, (name, wall)
        if name != "slow":
            assert took < 1.0, (name, rec)  # the kubelet's failure, not the deadline
        for w in words:
            assert w in rec["error"], (name, w, rec["error"])
        assert not k8s_selectors(rec), rec
        errors[name] = (round(took, 2), rec["error"])
        outside_pod_ok(d, cgroup)
        k.set_faults(**NO_FAULTS)
        # Recovered: the pod attests (a slow request may still be in flight: retry).
        deadline = time.monotonic() + 15
        while True:
            rec = attest_in(d, cg)
            if rec["result"] == "attested" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check_selectors(rec, pod, "f-" + name)
        outside_pod_ok(d, cgroup)
    for name, (took, err) in errors.items():
        print("\n%-9s %.2f s  %s" % (name, took, err), end="")
    print()


def test_duplicate_container_id_and_unknown_pod(attestd, kubelet, cgroup, rt_dirs):
    uid_a, uid_b, cid = ce.new_pod_uid(), ce.new_pod_uid(), os.urandom(32).hex()
    a = fake_pod(uid_a, "dup-a", cid)
    b = fake_pod(uid_b, "dup-b", cid)  # claims the same container ID
    ok_uid, ok_cid = ce.new_pod_uid(), os.urandom(32).hex()
    ok_pod = fake_pod(ok_uid, "fine", ok_cid)
    k = kubelet(["--http"])
    k.post_pods(pod_list(a, b, ok_pod))
    d = attestd(extra_yaml=k8s_yaml({"read_only_port": k.port}, rt_dirs[0], rt_dirs[1],
                                    timeout="2s", template=False))
    rec = attest_in(d, kubepods_dir(cgroup, uid_a, cid))
    assert rec["result"] == "error", rec
    within_deadline(rec, 2.0)
    assert cid[:40] in rec["error"] and "more than once" in rec["error"], rec
    assert not k8s_selectors(rec), rec
    # The other pods of the same list still attest.
    check_selectors(attest_in(d, kubepods_dir(cgroup, ok_uid, ok_cid, "systemd")), ok_pod,
                    "fine")
    # A process in a pod the kubelet does not list: an error at the deadline, not a hang.
    ghost_uid, ghost_cid = ce.new_pod_uid(), os.urandom(32).hex()
    t0 = time.monotonic()
    rec = attest_in(d, kubepods_dir(cgroup, ghost_uid, ghost_cid))
    assert time.monotonic() - t0 < 2.0 + 5.0
    assert rec["result"] == "error", rec
    took = within_deadline(rec, 2.0)
    assert took >= 1.5, rec  # it did wait for the pod to appear
    assert "kubelet" in rec["error"] and ghost_uid in rec["error"] and "not found" in \
        rec["error"], rec
    outside_pod_ok(d, cgroup)


# Secure port: (case, fake kubelet auth, attestd kubelet options, words in the error); files
# are names in the pki dict, "good"/"wrong" the token files.
AUTH_CASES = [
    ("token-ok", "token", {"token_path": "good"}, None),
    ("token-wrong", "token", {"token_path": "wrong"}, ("kubelet", "401")),
    ("anonymous-refused", "token", {"anonymous": True}, ("kubelet", "401")),
    ("cert-ok", "cert", {"cert": "client.pem", "key": "client.key"}, None),
    ("cert-wrong-cn", "cert", {"cert": "other-client.pem", "key": "other-client.key"},
     ("kubelet", "403")),
    ("cert-untrusted", "cert", {"cert": "rogue-client.pem", "key": "rogue-client.key"},
     ("kubelet",)),
    ("server-untrusted", "token", {"token_path": "good", "ca": "client-ca.pem"},
     ("kubelet",)),
]


@pytest.mark.parametrize("case,mode,opts,words", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_kubelet_secure_port_auth(attestd, kubelet, cgroup, rt_dirs, pki, workdir, case, mode,
                                  opts, words):
    good = os.path.join(workdir, "good.token")
    wrong = os.path.join(workdir, "wrong.token")
    with open(good, "w") as f:
        f.write("tok-" + uuid.uuid4().hex + "\n")
    with open(wrong, "w") as f:
        f.write("tok-" + uuid.uuid4().hex + "\n")
    uid, cid = ce.new_pod_uid(), os.urandom(32).hex()
    pod = fake_pod(uid, "sec", cid)
    pods_file = os.path.join(workdir, "pods.json")
    with open(pods_file, "w") as f:
        json.dump(pod_list(pod), f)
    args = ["--cert", pki["server.pem"], "--key", pki["server.key"], "--pods-file", pods_file]
    if mode == "token":
        args += ["--token-file", good]
    else:
        args += ["--client-ca", pki["client-ca.pem"], "--allowed-cn", "attestd"]
    k = kubelet(args)
    kopts = {"secure_port": k.port, "ca": pki["ca.pem"],
             "node_name_env": "ATTESTD_E2E_NO_NODE_NAME"}  # connect to 127.0.0.1, verify host
    for key, v in opts.items():
        if key == "token_path":
            kopts[key] = good if v == "good" else wrong
        elif key in ("cert", "key", "ca"):
            kopts[key] = pki[v]
        else:
            kopts[key] = v
    timeout = 2.0
    d = attestd(extra_yaml=k8s_yaml(kopts, rt_dirs[0], rt_dirs[1], timeout="2s",
                                    min_interval="100ms", template=False))
    cg = kubepods_dir(cgroup, uid, cid)
    rec = attest_in(d, cg)
    within_deadline(rec, timeout)
    if words is None:
        check_selectors(rec, pod, "sec")
        check_attributes(rec, pod, "sec")
        assert k.count()["ok"] >= 1
    else:
        assert rec["result"] == "error", rec
        for w in words:
            assert w in rec["error"], (w, rec["error"])
        assert not k8s_selectors(rec), rec
        assert k.count()["ok"] == 0, k.count()
        print("\n%s: %s" % (case, rec["error"]))
    outside_pod_ok(d, cgroup)
    if case == "token-wrong":
        # The token file is re-read when it changes: with the right token, the pod attests.
        tmp = wrong + ".new"
        shutil.copy(good, tmp)
        os.replace(tmp, wrong)
        deadline = time.monotonic() + 15
        while True:
            rec = attest_in(d, cg)
            if rec["result"] == "attested" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        check_selectors(rec, pod, "sec")
