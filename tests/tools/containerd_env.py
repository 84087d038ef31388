"""A private containerd + runc for end-to-end tests (Debian bookworm's containerd 1.6, runc 1.1).

    env = ContainerdEnv()            # nothing runs yet
    reason = env.missing()           # None, or why it cannot run here (not root, no package...)
    env.start()                      # containerd with its own root, state, socket, runc root
    img = env.build_image(files={"/peer_client": "build/tests/peer_client"})
    img.archive, img.digest          # the OCI archive kept under the env; its manifest digest
    env.image_digest(img.ref)        # the manifest digest containerd records for that name
    c = env.run_container("web", pod_uid, "systemd", ["/bin/sleep", "600"], image=img)
    c.id, c.pid, c.cgroup, c.bundle  # 64-hex id, host pid of its init, cgroup2 path, bundle dir
    env.exec(c, ["/bin/cat", "/etc/hostname"])
    env.container_image(c)           # the image name containerd records for the container
    env.remove(c)
    env.stop()                       # always cleans: tasks, containers, daemon, mounts, dirs, cgroups

Everything lives under one temporary directory (root, state, sockets, FIFOs, runc root, logs);
the only exception is the shim's socket, which containerd 1.6 always puts in /run/containerd/s/
(it is removed when the shim exits). Images are built offline as OCI archives (busybox-static
plus whatever files the test adds, with their shared libraries) and imported with
`ctr images import`: no registry is involved.

Containers are created in the `k8s.io` namespace with the OCI annotations the CRI plugin would
set (io.kubernetes.cri.container-name, sandbox-uid, ...), so the bundle's config.json under
<state>/io.containerd.runtime.v2.task/k8s.io/<id>/ looks like one a kubelet caused. They are put
in kubelet-style cgroups of either driver:
    cgroupfs: /kubepods/<qos>/pod<uid>/<id>
    systemd:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice/
              cri-containerd-<id>.scope
runc always runs with its cgroupfs driver: the systemd-style path is just a directory name.

On a hybrid cgroup v1/v2 host (cgroup2 at /sys/fs/cgroup/unified) runc 1.1 joins the v1
hierarchies AND the same path in the unified hierarchy; if a runc does not, run_container moves
the container's init into the cgroup2 directory itself (before the command runs: the init waits
for it, see _HYBRID_WAIT) and says so in Container.moved_by_harness.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass, field

NAMESPACE = "k8s.io"
DEFAULT_IMAGE = "docker.io/attestd/e2e:1"
BUSYBOX = "/bin/busybox"
BUSYBOX_APPLETS = ("sh", "sleep", "cat", "ls", "grep", "echo", "true", "false", "id", "env",
                   "usleep", "test", "[", "ps", "readlink", "kill")
START_TIMEOUT = 20.0
CMD_TIMEOUT = 60.0
TASK_TIMEOUT = 15.0
QOS_CLASSES = ("besteffort", "burstable", "guaranteed")
HOST_CGROUP2_IN_CONTAINER = "/run/host-cgroup2"
# containerd 1.6 puts shim sockets here whatever its configured state directory is.
SHIM_SOCKET_DIR = "/run/containerd/s"
ID_RE = re.compile(r"^[0-9a-f]{64}$")
# The init of a container waits until its cgroup2 membership is right before running the
# command: on hosts where runc does not join the unified hierarchy, the harness moves it there
# itself. Bounded: gives up (exit 125) after about 10 s.
_HYBRID_WAIT = ('i=0; while ! grep -qx "0::$ATTESTD_E2E_CGROUP" /proc/self/cgroup; do '
                'i=$((i+1)); [ $i -gt 1000 ] && exit 125; usleep 10000; done; exec "$@"')


class EnvError(Exception):
    pass


@dataclass
class Container:
    id: str
    name: str
    pod_uid: str
    pod_name: str
    namespace: str
    pid: int
    cgroup: str           # path relative to the cgroup2 root, e.g. /kubepods/besteffort/pod.../id
    cgroup_driver: str
    bundle: str           # <state>/io.containerd.runtime.v2.task/k8s.io/<id>
    log: str              # stdout+stderr of the container's init
    image: str
    annotations: dict = field(default_factory=dict)
    moved_by_harness: bool = False

    @property
    def config_json(self):
        return os.path.join(self.bundle, "config.json")


@dataclass
class Image:
    ref: str              # docker.io/attestd/e2e:1
    digest: str           # sha256:<manifest digest>, what a kubelet reports as imageID
    archive: str


def cgroup_mounts():
    """[(mount point, fstype, options)] of every cgroup and cgroup2 mount of this process."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _src, opts = (right.split() + ["", "", ""])[:3]
            if fstype in ("cgroup", "cgroup2"):
                out.append((left.split()[4], fstype, opts))
    return out


def cgroup2_mount():
    for mnt, fstype, _ in cgroup_mounts():
        if fstype == "cgroup2":
            return mnt
    return None


def kubepods_cgroup(driver, qos, pod_uid, container_id):
    """The cgroup a kubelet (with containerd) gives a container, relative to the cgroup root."""
    if qos not in QOS_CLASSES:
        raise ValueError("qos %r" % qos)
    if driver == "cgroupfs":
        if qos == "guaranteed":
            return "/kubepods/pod%s/%s" % (pod_uid, container_id)
        return "/kubepods/%s/pod%s/%s" % (qos, pod_uid, container_id)
    if driver == "systemd":
        u = pod_uid.replace("-", "_")
        if qos == "guaranteed":
            return "/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope" % (
                u, container_id)
        return ("/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice/"
                "cri-containerd-%s.scope" % (qos, qos, u, container_id))
    raise ValueError("cgroup driver %r (cgroupfs or systemd)" % driver)


def cri_annotations(name, pod_uid, pod_name, namespace, sandbox_id, image):
    """The OCI annotations containerd 1.6's CRI plugin puts on a (non-sandbox) container."""
    return {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": name,
        "io.kubernetes.cri.sandbox-id": sandbox_id,
        "io.kubernetes.cri.sandbox-name": pod_name,
        "io.kubernetes.cri.sandbox-namespace": namespace,
        "io.kubernetes.cri.sandbox-uid": pod_uid,
        "io.kubernetes.cri.image-name": image,
    }


def _go_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def _shared_libs(path):
    """Absolute paths of the shared libraries (and ELF interpreter) `path` needs; [] if static."""
    try:
        out = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return []
    libs = []
    for line in out.stdout.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


class ContainerdEnv:
    """A private containerd. Use as a context manager, or call start() and ALWAYS stop()."""

    def __init__(self, base=None, snapshotter="overlayfs"):
        self._own_base = base is None
        self.base = base
        self.snapshotter = snapshotter
        self.proc = None
        self.containers = {}
        self.images = []
        self.cgroup_dirs = []      # (mount point, rel path) the harness created or saw created
        self.problems = []         # cleanup problems, reported by stop()
        self.versions = {}
        self._run_dirs = []        # SHIM_SOCKET_DIR and its parent, if start() found them absent
        self._shim_sockets = set()

    # ---- paths --------------------------------------------------------------------------------
    def _p(self, *parts):
        return os.path.join(self.base, *parts)

    @property
    def address(self):
        return self._p("containerd.sock")

    @property
    def state(self):
        """containerd's state dir: what attestd's runtime.containerd_state must point at."""
        return self._p("state")

    @property
    def root(self):
        return self._p("root")

    def _runc_root(self):
        """runc's state root as the shim uses it: <--runc-root>/<namespace>."""
        return self._p("runc", NAMESPACE)

    def bundle_dir(self, container_id):
        return os.path.join(self.state, "io.containerd.runtime.v2.task", NAMESPACE, container_id)

    # ---- prerequisites ------------------------------------------------------------------------
    @staticmethod
    def missing():
        """None if this host can run the environment, else the reason (for pytest.skip)."""
        if os.geteuid() != 0:
            return "needs root: runs containerd and runc"
        for b in ("containerd", "ctr", "runc", "containerd-shim-runc-v2"):
            if not shutil.which(b):
                return "needs containerd + runc: %s not found (apt-get install containerd runc)" % b
        if not os.access(BUSYBOX, os.X_OK):
            return "needs busybox-static: %s not found (apt-get install busybox-static)" % BUSYBOX
        if not cgroup2_mount():
            return "needs a cgroup2 mount (none in /proc/self/mountinfo)"
        return None

    # ---- lifecycle ----------------------------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        reason = self.missing()
        if reason:
            raise EnvError(reason)
        if self._own_base:
            # Short: the shim's socket path and FIFO paths derive from it.
            self.base = tempfile.mkdtemp(prefix="ctrd-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self._run_dirs = [d for d in (SHIM_SOCKET_DIR, os.path.dirname(SHIM_SOCKET_DIR))
                          if not os.path.isdir(d)]
        self._shim_sockets = set(_listdir(SHIM_SOCKET_DIR))
        for d in ("root", "state", "fifo", "runc", "logs", "images"):
            os.makedirs(self._p(d), exist_ok=True)
        disabled = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.tracing.processor.v1.otlp",
                    "io.containerd.internal.v1.tracing"]
        cfg = "\n".join([
            "version = 2",
            'root = "%s"' % self.root,
            'state = "%s"' % self.state,
            "disabled_plugins = [%s]" % ", ".join('"%s"' % p for p in disabled),
            "[grpc]",
            '  address = "%s"' % self.address,
            "[ttrpc]",
            '  address = "%s.ttrpc"' % self.address,
            "[debug]",
            '  address = ""',
            '  level = "info"',
            "[metrics]",
            '  address = ""',
            '[plugins."io.containerd.monitor.v1.cgroups"]',
            "  no_prometheus = true",
            '[plugins."io.containerd.service.v1.diff-service"]',
            '  default = ["walking"]',
            "",
        ])
        with open(self._p("config.toml"), "w") as f:
            f.write(cfg)
        self.versions = {
            "containerd": self._version(["containerd", "--version"]),
            "runc": self._version(["runc", "--version"]).splitlines()[0],
        }
        self._log = open(self._p("logs", "containerd.log"), "wb")
        self.proc = subprocess.Popen(
            ["containerd", "--config", self._p("config.toml")],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise EnvError("containerd exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.log_tail()))
            if os.path.exists(self.address):
                r = self._ctr(["version"], check=False)
                if r.returncode == 0:
                    break
            if time.monotonic() > deadline:
                raise EnvError("containerd not ready after %.0f s:\n%s" % (START_TIMEOUT,
                                                                          self.log_tail()))
            time.sleep(0.05)
        return self

    def log_tail(self, n=30):
        try:
            with open(self._p("logs", "containerd.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return "(no containerd log)"

    @staticmethod
    def _version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    def _ctr(self, args, check=True, timeout=CMD_TIMEOUT, input=None):
        argv = ["ctr", "--address", self.address, "--namespace", NAMESPACE] + args
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise EnvError("%s: exit %d: %s%s" % (" ".join(argv), r.returncode, r.stderr,
                                                   r.stdout))
        return r

    # ---- images -------------------------------------------------------------------------------
    def build_image(self, ref=DEFAULT_IMAGE, files=None):
        """Builds an OCI archive (one uncompressed layer: busybox-static and its applets, plus
        `files` = {path in image: host path}, with the shared libraries ELF files need) and
        imports it. Returns an Image with the manifest digest."""
        layer = self._layer(files or {})
        layer_digest = hashlib.sha256(layer).hexdigest()
        config = json.dumps({
            "architecture": _go_arch(), "os": "linux",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"],
                       "Cmd": ["/bin/sh"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_digest]},
            "history": [{"created_by": "attestd tests/tools/containerd_env.py"}],
        }, sort_keys=True).encode()
        config_digest = hashlib.sha256(config).hexdigest()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": "sha256:" + layer_digest, "size": len(layer)}],
        }, sort_keys=True).encode()
        manifest_digest = hashlib.sha256(manifest).hexdigest()
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
        index = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": "sha256:" + manifest_digest, "size": len(manifest),
                "platform": {"architecture": _go_arch(), "os": "linux"},
                "annotations": {"io.containerd.image.name": ref,
                                "org.opencontainers.image.ref.name": tag},
            }],
        }, sort_keys=True).encode()
        archive = self._p("images", "%s.tar" % manifest_digest[:16])
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as t:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", index)
            for blob in (layer, config, manifest):
                add("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
        self._ctr(["images", "import", "--snapshotter", self.snapshotter, archive])
        img = Image(ref=ref, digest="sha256:" + manifest_digest, archive=archive)
        self.images.append(img)
        return img

    def image_digest(self, ref):
        """The manifest digest containerd records for the image named `ref` (the DIGEST column
        of `ctr images ls`), or None if there is no such image."""
        r = self._ctr(["images", "ls"])
        for line in r.stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[0] == ref:
                return f[2]
        return None

    def container_image(self, c):
        """The image name containerd records for container c (`ctr containers info`)."""
        cid = c.id if isinstance(c, Container) else c
        return json.loads(self._ctr(["containers", "info", cid]).stdout)["Image"]

    @staticmethod
    def _layer(files):
        entries = {}  # path in image -> (host path or None for a dir, symlink target or None)

        def add_dirs(path):
            d = os.path.dirname(path)
            while d not in ("/", ""):
                entries.setdefault(d, (None, None))
                d = os.path.dirname(d)

        for d in ("/bin", "/lib", "/lib64", "/usr", "/usr/bin", "/etc", "/tmp", "/proc", "/sys",
                  "/dev", "/run", "/root"):
            entries[d] = (None, None)
        entries["/bin/busybox"] = (BUSYBOX, None)
        for a in BUSYBOX_APPLETS:
            entries["/bin/" + a] = (None, "busybox")
        wanted = dict(files)
        for dst, src in files.items():
            for lib in _shared_libs(src):
                wanted.setdefault(lib, lib)
        for dst, src in wanted.items():
            if not dst.startswith("/"):
                raise ValueError("image path %r is not absolute" % dst)
            add_dirs(dst)
            entries[dst] = (os.path.realpath(src), None)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for path in sorted(entries):
                src, link = entries[path]
                ti = tarfile.TarInfo(path.lstrip("/"))
                ti.mtime = 0
                if link is not None:
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = link
                    ti.mode = 0o777
                    t.addfile(ti)
                elif src is None:
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o1777 if path == "/tmp" else 0o755
                    t.addfile(ti)
                else:
                    ti.size = os.path.getsize(src)
                    ti.mode = os.stat(src).st_mode & 0o7777
                    with open(src, "rb") as f:
                        t.addfile(ti, f)
            for name, data in (("etc/hostname", b"attestd-e2e\n"),
                               ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
                               ("etc/group", b"root:x:0:\n")):
                ti = tarfile.TarInfo(name)
                ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
                t.addfile(ti, io.BytesIO(data))
        return buf.getvalue()

    # ---- containers ---------------------------------------------------------------------------
    def run_container(self, name, pod_uid, cgroup_driver, argv, image=None, annotations=None,
                      pod_name=None, namespace="default", qos="besteffort", sandbox_id=None,
                      mounts=(), container_id=None, cri=True, host_cgroup2=False):
        """Runs `argv` detached in a new container. annotations: merged over the CRI ones (a
        value of None removes that key); cri=False sets none of them. mounts: host directories
        bind-mounted read-write at the same path. host_cgroup2: bind-mount the host's cgroup2
        hierarchy read-only at HOST_CGROUP2_IN_CONTAINER (ctr's default spec mounts none on a
        hybrid host; peer_client needs one to report its cgroup id). Returns a Container."""
        if image is None:
            if not self.images:
                self.build_image()
            image = self.images[-1]
        ref = image.ref if isinstance(image, Image) else image
        cid = container_id or secrets.token_hex(32)
        pod_name = pod_name or "pod-" + pod_uid[:8]
        sandbox_id = sandbox_id or hashlib.sha256(pod_uid.encode()).hexdigest()
        rel = kubepods_cgroup(cgroup_driver, qos, pod_uid, cid)
        ann = cri_annotations(name, pod_uid, pod_name, namespace, sandbox_id, ref) if cri else {}
        for k, v in (annotations or {}).items():
            if v is None:
                ann.pop(k, None)
            else:
                ann[k] = v
        self._note_cgroup_parents(rel)
        log = self._p("logs", cid[:12] + ".log")
        args = ["run", "-d", "--snapshotter", self.snapshotter, "--cgroup", rel,
                "--runc-root", self._p("runc"), "--fifo-dir", self._p("fifo"),
                "--log-uri", "file://" + log, "--env", "ATTESTD_E2E_CGROUP=" + rel]
        for k, v in sorted(ann.items()):
            args += ["--annotation", "%s=%s" % (k, v)]
        for m in mounts:
            args += ["--mount", "type=bind,src=%s,dst=%s,options=rbind:rw" % (m, m)]
        if host_cgroup2:
            args += ["--mount", "type=bind,src=%s,dst=%s,options=rbind:ro" % (
                cgroup2_mount(), HOST_CGROUP2_IN_CONTAINER)]
        args += [ref, cid, "/bin/sh", "-c", _HYBRID_WAIT, "sh"] + list(argv)
        c = Container(id=cid, name=name, pod_uid=pod_uid, pod_name=pod_name,
                      namespace=namespace, pid=0, cgroup=rel, cgroup_driver=cgroup_driver,
                      bundle=self.bundle_dir(cid), log=log, image=ref, annotations=ann)
        self.containers[cid] = c
        self._ctr(args)
        c.pid = self._task_pid(cid)
        c.moved_by_harness = self._ensure_cgroup2(c)
        return c

    def _task_pid(self, cid):
        deadline = time.monotonic() + TASK_TIMEOUT
        while True:
            r = self._ctr(["tasks", "ls"], check=False)
            for line in r.stdout.splitlines()[1:]:
                f = line.split()
                if len(f) >= 3 and f[0] == cid and f[1].isdigit() and int(f[1]) > 0:
                    return int(f[1])
            if time.monotonic() > deadline:
                raise EnvError("task %s has no pid after %.0f s: %s" % (cid, TASK_TIMEOUT,
                                                                       r.stdout))
            time.sleep(0.05)

    def _note_cgroup_parents(self, rel):
        """Remembers which directories of `rel` do not exist yet in any hierarchy, to remove
        them at stop()."""
        parts = rel.strip("/").split("/")
        for mnt, _, _ in cgroup_mounts():
            for i in range(1, len(parts) + 1):
                sub = "/" + "/".join(parts[:i])
                if not os.path.isdir(mnt + sub) and (mnt, sub) not in self.cgroup_dirs:
                    self.cgroup_dirs.append((mnt, sub))

    def _ensure_cgroup2(self, c):
        """Puts the container's init in <cgroup2>/<c.cgroup> if runc did not. True if moved."""
        mnt = cgroup2_mount()
        try:
            if proc_cgroup2(c.pid) == c.cgroup:
                return False
        except (FileNotFoundError, ProcessLookupError):
            return False  # already exited (a short-lived workload): nothing to move
        os.makedirs(mnt + c.cgroup, exist_ok=True)
        with open(os.path.join(mnt + c.cgroup, "cgroup.procs"), "w") as f:
            f.write(str(c.pid))
        return True

    def exec(self, c, argv, timeout=CMD_TIMEOUT, check=True):
        """Runs argv in the container (a new process in its namespaces and cgroup) and waits.
        Returns subprocess.CompletedProcess (stdout, stderr as text)."""
        cid = c.id if isinstance(c, Container) else c
        return self._ctr(["tasks", "exec", "--fifo-dir", self._p("fifo"), "--exec-id",
                          "e" + secrets.token_hex(6), cid] + list(argv),
                         check=check, timeout=timeout)

    def remove(self, c, timeout=TASK_TIMEOUT):
        """Kills the container's task (SIGKILL), deletes task, container and snapshot."""
        cid = c.id if isinstance(c, Container) else c
        self._ctr(["tasks", "kill", "--all", "--signal", "SIGKILL", cid], check=False)
        deadline = time.monotonic() + timeout
        while True:
            r = self._ctr(["tasks", "delete", "--force", cid], check=False)
            if r.returncode == 0 or "not found" in r.stderr:
                break
            if time.monotonic() > deadline:
                self.problems.append("tasks delete %s: %s" % (cid, r.stderr.strip()))
                break
            time.sleep(0.1)
        r = self._ctr(["containers", "delete", cid], check=False)
        if r.returncode != 0 and "not found" not in r.stderr:
            self.problems.append("containers delete %s: %s" % (cid, r.stderr.strip()))
        cont = self.containers.pop(cid, None)
        if cont and cont.moved_by_harness:
            with contextlib.suppress(OSError):
                os.rmdir(cgroup2_mount() + cont.cgroup)
        if cont:
            self._prune_cgroups(os.path.dirname(cont.cgroup))

    def _prune_cgroups(self, rel):
        """Removes the now empty cgroup directories the harness created along `rel` (the pod's,
        the QoS class's, kubepods'), deepest first, in every hierarchy. Busy ones stay."""
        for mnt, sub in sorted(self.cgroup_dirs, key=lambda x: -len(x[1])):
            if (rel == sub or rel.startswith(sub + "/")) and os.path.isdir(mnt + sub):
                with contextlib.suppress(OSError):
                    os.rmdir(mnt + sub)

    def list_containers(self):
        r = self._ctr(["containers", "ls", "--quiet"], check=False)
        return [x for x in r.stdout.split() if x]

    # ---- teardown -----------------------------------------------------------------------------
    def stop(self):
        """Removes everything this environment made, whatever state it is in. Returns the list
        of problems met (also kept in self.problems); [] means all clean."""
        if self.base is None:
            return self.problems
        if self.proc and self.proc.poll() is None:
            for cid in set(self.list_containers()) | set(self.containers):
                self.remove(cid)
            for img in self.images:
                self._ctr(["images", "rm", "--sync", img.ref], check=False)
        else:
            # containerd died: ask runc itself (its state is under our runc root) to kill and
            # delete what containerd no longer can; runc removes the containers' cgroups.
            for cid in sorted(set(_listdir(self._runc_root())) | set(self.containers)):
                r = subprocess.run(["runc", "--root", self._runc_root(), "delete", "--force",
                                    cid], capture_output=True, text=True, timeout=CMD_TIMEOUT)
                self.problems.append("containerd was not running at stop: runc delete %s: %s"
                                     % (cid[:12], r.returncode))
        shims = self._shim_pids()
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.problems.append("containerd ignored SIGTERM; killed")
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self._log.close()
        for pid in shims:  # only the shims of this environment (their -address is ours)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                self.problems.append("shim %d still running at stop; killed" % pid)
        for name in set(_listdir(SHIM_SOCKET_DIR)) - self._shim_sockets:
            # A killed shim cannot remove its socket; the names are sha256(address, ns, id).
            if shims:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(SHIM_SOCKET_DIR, name))
        for mnt in self.mounts():
            r = subprocess.run(["umount", "-l", mnt], capture_output=True, text=True)
            self.problems.append("left mounted: %s (umount: %d)" % (mnt, r.returncode))
        for mnt, rel in sorted(self.cgroup_dirs, key=lambda x: -len(x[1])):
            path = mnt + rel
            if os.path.isdir(path):
                try:
                    _rmdir_retry(path)
                except OSError as e:
                    # A parent another user of the same hierarchy still uses is not ours to take.
                    if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        self.problems.append("cgroup %s: %s" % (path, e))
        new_sockets = set(_listdir(SHIM_SOCKET_DIR)) - self._shim_sockets
        if new_sockets:
            self.problems.append("shim sockets left in %s: %s" % (SHIM_SOCKET_DIR,
                                                                 sorted(new_sockets)))
        for d in self._run_dirs:  # only if this environment created them, and only if empty
            with contextlib.suppress(OSError):
                os.rmdir(d)
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        return self.problems

    def _shim_pids(self):
        out = []
        if self.base is None:
            return out
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if (argv and os.path.basename(argv[0]).startswith(b"containerd-shim") and
                    self.address.encode() in argv):
                out.append(int(pid))
        return out

    def mounts(self):
        """Mount points under this environment's directory (should be none when idle)."""
        out = []
        if self.base is None:
            return out
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp == self.base or mp.startswith(self.base + "/"):
                    out.append(mp)
        return sorted(out, key=len, reverse=True)

    def leftovers(self, containers=()):
        """What is left on the host of `containers` (their init process, cgroups in every
        hierarchy, bundle) and, once no container of this env runs, of the cgroup parents it
        created: a list of strings, [] when clean."""
        left = []
        for c in containers:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                with open("/proc/%d/stat" % c.pid) as f:
                    if f.read().rpartition(")")[2].split()[0] != "Z":
                        left.append("process %d of %s" % (c.pid, c.id[:12]))
            for mnt, _, _ in cgroup_mounts():
                if os.path.isdir(mnt + c.cgroup):
                    left.append("cgroup %s%s" % (mnt, c.cgroup))
            if os.path.exists(c.bundle):
                left.append("bundle %s" % c.bundle)
        if not self.containers:  # the parents the harness created go with the last container
            for mnt, rel in self.cgroup_dirs:
                if os.path.isdir(mnt + rel):
                    left.append("cgroup %s%s" % (mnt, rel))
        return left


def proc_cgroup2(pid):
    """The cgroup2 path in /proc/<pid>/cgroup ("0::<path>"), or None."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def _rmdir_retry(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def new_pod_uid():
    return str(uuid.uuid4())
