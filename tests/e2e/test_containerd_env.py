"""Self-test of the containerd + runc harness (tests/tools/containerd_env.py) and of
attest/runtime against real bundles: containers in kubepods-style cgroups of both drivers carry
the CRI annotations, runtime_lookup (tests/tools/runtime_lookup.c, the real C code) resolves
their IDs, a workload inside a container reaches a host socket, and stop() leaves nothing.

Needs root, containerd, runc and busybox-static; skips with the reason otherwise.
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "tools"))

import containerd_env as ce  # noqa: E402

BUILD = os.path.abspath(os.environ.get("ATTESTD_BUILD", os.path.join(REPO, "build")))
PEER_CLIENT = os.path.join(BUILD, "tests", "peer_client")
DRIVERS = ("cgroupfs", "systemd")
CGROUP_RE = {
    "cgroupfs": r"^/kubepods/besteffort/pod%(uid)s/%(id)s$",
    "systemd": (r"^/kubepods\.slice/kubepods-besteffort\.slice/"
                r"kubepods-besteffort-pod%(uid_)s\.slice/cri-containerd-%(id)s\.scope$"),
}


@pytest.fixture(scope="module")
def lookup_bin():
    """tests/tools/runtime_lookup: from the build tree, or compiled here from the sources."""
    built = os.path.join(BUILD, "tests", "runtime_lookup")
    if os.access(built, os.X_OK):
        yield built
        return
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("needs a C compiler to build tests/tools/runtime_lookup.c")
    d = tempfile.mkdtemp(prefix="attestd-rtl-")
    out = os.path.join(d, "runtime_lookup")
    r = subprocess.run([cc, "-std=c17", "-D_GNU_SOURCE", "-O1", "-I", REPO,
                        os.path.join(REPO, "attest", "runtime.c"),
                        os.path.join(REPO, "tests", "tools", "runtime_lookup.c"),
                        "-ljansson", "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail("building runtime_lookup failed:\n" + r.stderr)
    yield out
    shutil.rmtree(d, ignore_errors=True)


def lookup(binary, env, cid, crio_state=""):
    r = subprocess.run([binary, "--containerd-state", env.state, "--crio-state", crio_state, cid],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def alive(pid):
    """True if pid runs (a zombie waiting for its reaper does not count: the shims daemonize,
    so this host's pid 1 reaps them, in its own time)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def need_env():
    reason = ce.ContainerdEnv.missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def env():
    need_env()
    e = ce.ContainerdEnv()
    try:
        e.start()
        yield e
    finally:
        problems = e.stop()
    assert not problems, problems


@pytest.fixture(scope="module")
def image(env):
    files = {}
    if os.access(PEER_CLIENT, os.X_OK):
        files["/usr/bin/peer_client"] = PEER_CLIENT
    return env.build_image(files=files)


@pytest.mark.parametrize("driver", DRIVERS)
def test_container_cgroup_bundle_and_lookup(env, image, lookup_bin, driver):
    uid = ce.new_pod_uid()
    c = env.run_container("web", uid, driver, ["/bin/sleep", "600"], image=image,
                          pod_name="web-7d4b9c-x2x9q", namespace="prod")
    assert ce.ID_RE.match(c.id)
    # The container's init, as the kernel sees it, is in the kubelet-style cgroup.
    want = CGROUP_RE[driver] % {"uid": re.escape(uid), "uid_": uid.replace("-", "_"),
                                "id": c.id}
    assert re.match(want, c.cgroup), c.cgroup
    assert ce.proc_cgroup2(c.pid) == c.cgroup
    assert os.path.isdir(ce.cgroup2_mount() + c.cgroup)
    with open(os.path.join(ce.cgroup2_mount() + c.cgroup, "cgroup.procs")) as f:
        assert str(c.pid) in f.read().split()
    # A process exec'd into the container lands in the same cgroup.
    r = env.exec(c, ["/bin/cat", "/proc/self/cgroup"])
    assert "0::%s\n" % c.cgroup in r.stdout, r.stdout
    # The bundle carries the CRI annotations, where attestd looks for them.
    assert c.bundle == os.path.join(env.state, "io.containerd.runtime.v2.task", "k8s.io", c.id)
    with open(c.config_json) as f:
        ann = json.load(f)["annotations"]
    assert ann["io.kubernetes.cri.container-name"] == "web"
    assert ann["io.kubernetes.cri.sandbox-uid"] == uid
    assert ann["io.kubernetes.cri.container-type"] == "container"
    # attest/runtime resolves the ID.
    got = lookup(lookup_bin, env, c.id)
    assert got == {
        "ret": 0, "runtime": "containerd", "sandbox": False, "container_name": "web",
        "pod_uid": uid, "pod_name": "web-7d4b9c-x2x9q", "pod_namespace": "prod",
        "sandbox_id": c.annotations["io.kubernetes.cri.sandbox-id"], "image": image.ref,
    }, got
    env.remove(c)
    # Removed: no process, no cgroup in any hierarchy, no bundle, and the lookup says ENOENT.
    assert env.leftovers([c]) == []
    got = lookup(lookup_bin, env, c.id)
    assert got["ret"] == -2 and got["errno"] == "ENOENT", got


def test_sandbox_and_non_cri_containers(env, image, lookup_bin):
    uid = ce.new_pod_uid()
    sb = env.run_container("", uid, "cgroupfs", ["/bin/sleep", "600"], image=image,
                           annotations={"io.kubernetes.cri.container-type": "sandbox",
                                        "io.kubernetes.cri.container-name": None,
                                        "io.kubernetes.cri.image-name": None})
    got = lookup(lookup_bin, env, sb.id)
    assert got["ret"] == 0 and got["sandbox"] is True and got["container_name"] == ""
    assert got["pod_uid"] == uid
    # Created without the CRI (plain `ctr run`): not a Kubernetes container.
    plain = env.run_container("x", uid, "cgroupfs", ["/bin/sleep", "600"], image=image,
                              cri=False)
    got = lookup(lookup_bin, env, plain.id)
    assert got["ret"] == -61 and got["errno"] == "ENODATA", got
    # A required annotation missing: malformed, and the error names the file and the field.
    bad = env.run_container("x", uid, "systemd", ["/bin/sleep", "600"], image=image,
                            annotations={"io.kubernetes.cri.sandbox-uid": None})
    got = lookup(lookup_bin, env, bad.id)
    assert got["ret"] == -71, got
    assert bad.config_json in got["error"] and "sandbox-uid" in got["error"], got
    for c in (sb, plain, bad):
        env.remove(c)
    assert env.leftovers([sb, plain, bad]) == []


def test_workload_in_container_reaches_host_socket(env, image):
    """peer_client inside the container connects to a socket on the host (bind-mounted
    directory); SO_PEERCRED's pid, seen from the host, is in the container's cgroup."""
    if not os.access(PEER_CLIENT, os.X_OK):
        pytest.skip("needs %s: build it with `make all` (ATTESTD_BUILD=%s)" % (PEER_CLIENT,
                                                                               BUILD))
    d = tempfile.mkdtemp(prefix="attestd-ctr-sock-", dir="/tmp")
    os.chmod(d, 0o755)
    path = os.path.join(d, "agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c = None
    try:
        srv.bind(path)
        os.chmod(path, 0o777)
        srv.listen(4)
        srv.settimeout(20)
        uid = ce.new_pod_uid()
        c = env.run_container("client", uid, "systemd",
                              ["/usr/bin/peer_client", "--socket", path, "--hold-ms", "3000"],
                              image=image, mounts=[d], host_cgroup2=True)
        conn, _ = srv.accept()
        with conn:
            pid, _uid, _gid = struct.unpack(
                "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            assert ce.proc_cgroup2(pid) == c.cgroup
        deadline = time.monotonic() + 10
        line = ""
        while time.monotonic() < deadline and not line:
            with open(c.log) as f:
                line = f.readline().strip()
            time.sleep(0.05)
        info = json.loads(line)
        # peer_client is the container's init (pid 1 in its pid namespace); its cgroup, seen
        # through the bind-mounted cgroup2 hierarchy, is the one the host sees.
        assert info["pid"] == 1, info
        assert info["connected"] == 1, info
        assert info["cgroup_id"] == os.stat(ce.cgroup2_mount() + c.cgroup).st_ino, info
    finally:
        srv.close()
        if c:
            env.remove(c)
        shutil.rmtree(d, ignore_errors=True)


def test_stop_cleans_everything():
    """A second, private environment: two running containers, then stop() with them still
    running. Nothing may remain: processes, cgroups (all hierarchies), mounts, shims, dirs."""
    need_env()
    e = ce.ContainerdEnv()
    cs = []
    try:
        e.start()
        base = e.base
        uid = ce.new_pod_uid()
        for drv in DRIVERS:
            cs.append(e.run_container("c-" + drv, uid, drv, ["/bin/sleep", "600"]))
        assert len(e.mounts()) >= 2  # the two rootfs overlays
        shims = e._shim_pids()
        assert shims
    finally:
        problems = e.stop()
    assert problems == []
    assert e.leftovers(cs) == []
    assert not os.path.exists(base)
    for pid in shims:
        assert not alive(pid), "shim %d still running" % pid
    with open("/proc/self/mountinfo") as f:
        assert base not in f.read()
    mnt = ce.cgroup2_mount()
    for c in cs:
        assert not os.path.exists(mnt + c.cgroup)
        assert not os.path.exists(mnt + os.path.dirname(c.cgroup))  # the pod's cgroup too
