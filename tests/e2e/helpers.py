"""Shared helpers for the attestd end-to-end suite (stdlib only).

The fixtures in conftest.py build on these: a real attestd process (Attestd), real cgroup v2
directories (CgroupFactory), the admin API over its Unix socket, and peer_client runs.
"""

import contextlib
import errno
import hashlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid

BUILD = os.path.abspath(os.environ.get("ATTESTD_BUILD", "build"))
ATTESTD = os.path.join(BUILD, "attestd")
ATTESTCTL = os.path.join(BUILD, "attestctl")
PEER_CLIENT = os.path.join(BUILD, "tests", "peer_client")

READY_MSG = "peer capture backend chosen"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
RECORD_TIMEOUT = 20.0
BPF_BACKENDS = ("lsm", "fexit", "connect_unix")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NS_PER_TICK = 1_000_000_000 // CLK_TCK


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cgroup2_mount():
    """Mount point of the cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return left.split()[4]
    return None


def ticks_match_ns(ticks, ns):
    """True if a /proc/<pid>/stat starttime (clock ticks) and a start time in ns agree."""
    return ticks * NS_PER_TICK <= ns < (ticks + 1) * NS_PER_TICK


# ---- admin API over a Unix socket -------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def admin_request(sock_path, method, path, body=None):
    """Returns (status, parsed JSON or None, raw body bytes)."""
    conn = UnixHTTPConnection(sock_path)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
    finally:
        conn.close()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, doc, raw


def admin_raw(sock_path, data, timeout=5.0):
    """Sends raw bytes, returns everything the server answers until it closes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def records_of(doc):
    """The list of records in a /v1/attestations answer."""
    if isinstance(doc, list):
        return doc
    assert isinstance(doc, dict), "attestations: not a JSON object or array: %r" % (doc,)
    for key in ("attestations", "records", "items"):
        if isinstance(doc.get(key), list):
            return doc[key]
    raise AssertionError("attestations: no list of records in %r" % (sorted(doc),))


# ---- attestd ----------------------------------------------------------------------------------


def yaml_quote(s):
    return json.dumps(str(s))  # a JSON string is a valid YAML double-quoted scalar


class Attestd:
    """A real attestd process with its own sockets, state dir and BPF pin dir."""

    def __init__(self, workdir, backend="auto", extra_yaml="", peer_yaml=""):
        self.workdir = workdir
        self.backend = backend
        self.socket = os.path.join(workdir, "agent.sock")
        self.admin_socket = os.path.join(workdir, "admin.sock")
        self.state_dir = os.path.join(workdir, "state")
        self.pin_dir = "/sys/fs/bpf/attestd-test-" + uuid.uuid4().hex[:12]
        self.config_path = os.path.join(workdir, "attestd.yaml")
        self.extra_yaml = extra_yaml  # more top-level keys
        self.peer_yaml = peer_yaml  # more keys in the peer map, e.g. "require_race_free: true"
        self.proc = None
        self.lines = []  # raw stderr lines
        self.logs = []  # parsed JSON log lines
        self._lock = threading.Lock()
        self._reader = None
        self.chosen = None  # the "peer capture backend chosen" log line
        self.pinned = []  # what was in pin_dir once the daemon was ready
        self.returncode = None

    def write_config(self):
        os.makedirs(self.state_dir, exist_ok=True)
        text = (
            "trust_domain: example.org\n"
            "socket: %s\n"
            "admin_socket: %s\n"
            "state_dir: %s\n"
            "log: {level: info}\n"
            "peer: {backend: %s, pin_dir: %s%s}\n"
            % (
                yaml_quote(self.socket),
                yaml_quote(self.admin_socket),
                yaml_quote(self.state_dir),
                self.backend,
                yaml_quote(self.pin_dir),
                ", " + self.peer_yaml if self.peer_yaml else "",
            )
        ) + self.extra_yaml
        with open(self.config_path, "w") as f:
            f.write(text)

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict):
                    self.logs.append(doc)
                    if doc.get("msg") == READY_MSG and self.chosen is None:
                        self.chosen = doc

    def log_tail(self, n=40):
        with self._lock:
            return "\n".join(self.lines[-n:])

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen(
            [ATTESTD, "--config", self.config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise AssertionError(
                    "attestd exited with %d during start-up:\n%s"
                    % (self.proc.returncode, self.log_tail())
                )
            if self.chosen is not None and os.path.exists(self.admin_socket):
                if os.path.isdir(self.pin_dir):
                    self.pinned = sorted(os.listdir(self.pin_dir))
                return self
            time.sleep(0.05)
        raise AssertionError(
            "attestd not ready within %.0f s (want log %r and %s):\n%s"
            % (START_TIMEOUT, READY_MSG, self.admin_socket, self.log_tail())
        )

    def stop(self):
        """SIGTERM, wait, SIGKILL. Returns the exit status (negative = killed by a signal)."""
        if self.proc is None or self.returncode is not None:
            return self.returncode
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader:
            self._reader.join(5)
        self.returncode = self.proc.returncode
        return self.returncode

    @contextlib.contextmanager
    def paused(self):
        """SIGSTOP attestd for the duration of the block (SIGCONT whatever happens)."""
        self.proc.send_signal(signal.SIGSTOP)
        try:
            yield self
        finally:
            self.proc.send_signal(signal.SIGCONT)

    @property
    def chosen_backend(self):
        return self.chosen.get("backend") if self.chosen else None

    def get(self, path):
        status, doc, _ = admin_request(self.admin_socket, "GET", path)
        return status, doc

    def request(self, method, path, body=None):
        return admin_request(self.admin_socket, method, path, body)

    def records(self, limit=4096):
        status, doc = self.get("/v1/attestations?limit=%d" % limit)
        assert status == 200, "/v1/attestations: HTTP %d %r" % (status, doc)
        return records_of(doc)

    def wait_records(self, pred, count=1, timeout=RECORD_TIMEOUT, limit=4096):
        """Polls /v1/attestations until at least `count` records satisfy pred; returns them."""
        deadline = time.monotonic() + timeout
        found = []
        while True:
            assert self.proc.poll() is None, "attestd died (status %d):\n%s" % (
                self.proc.returncode,
                self.log_tail(),
            )
            found = [r for r in self.records(limit) if pred(r)]
            if len(found) >= count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(found) >= count, "%d of %d records after %.0f s; attestd log:\n%s" % (
            len(found),
            count,
            timeout,
            self.log_tail(),
        )
        return found

    def wait_pid(self, pid, count=1, timeout=RECORD_TIMEOUT):
        return self.wait_records(lambda r: r.get("peer", {}).get("pid") == pid, count, timeout)


# ---- cgroups ----------------------------------------------------------------------------------


class CgroupFactory:
    """Real cgroup v2 directories under <cgroup2 mount>/attestd-e2e-<uuid>/, removed at the end."""

    def __init__(self, mount):
        self.mount = mount
        self.base = os.path.join(mount, "attestd-e2e-" + uuid.uuid4().hex)
        self.created = []

    def __call__(self, rel="x"):
        """Creates base/rel (and its parents); returns the absolute path."""
        path = self.base
        for part in [""] + [p for p in rel.split("/") if p]:
            path = os.path.join(path, part) if part else path
            if not os.path.isdir(path):
                os.mkdir(path)
                self.created.append(path)
        return path

    def rel(self, path):
        """The path as attestd reports it: relative to the cgroup2 root, with a leading '/'."""
        return "/" + os.path.relpath(path, self.mount)

    def cleanup(self):
        root_procs = os.path.join(self.mount, "cgroup.procs")
        for path in sorted(self.created, key=lambda p: p.count("/"), reverse=True):
            if not os.path.isdir(path):
                continue
            with contextlib.suppress(OSError):
                with open(os.path.join(path, "cgroup.procs")) as f:
                    pids = f.read().split()
                for pid in pids:
                    with contextlib.suppress(OSError):
                        with open(root_procs, "w") as f:
                            f.write(pid)
            rmdir_retry(path)


def rmdir_retry(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# ---- peer_client ------------------------------------------------------------------------------


class PeerClient:
    """One peer_client process; .info is the JSON line it printed."""

    def __init__(self, sock, binary=None, cgroup=None, uid=None, gid=None, connections=None,
                 hold_ms=None, fork_keep=False, wait_stdin=False, exec_argv=None, wrap=None):
        argv = [binary or PEER_CLIENT, "--socket", sock]
        if cgroup:
            argv += ["--cgroup", cgroup]
        if gid is not None:
            argv += ["--gid", str(gid)]
        if uid is not None:
            argv += ["--uid", str(uid)]
        if connections is not None:
            argv += ["--connections", str(connections)]
        if hold_ms is not None:
            argv += ["--hold-ms", str(hold_ms)]
        if fork_keep:
            argv.append("--fork-keep")
        if wait_stdin:
            argv.append("--wait-stdin")
        if exec_argv:
            argv += ["--exec"] + list(exec_argv)
        if wrap:
            argv = wrap(argv)
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: teardown kills forked children
        )
        self.fork_keep = fork_keep
        self.info = None

    def read_info(self, timeout=10.0):
        """Waits for the JSON line; returns it, or None if the process exited without one."""
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("peer_client: no JSON line within %.0f s" % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buf += chunk
        self.info = json.loads(buf.split(b"\n", 1)[0])
        return self.info

    def expect_info(self, timeout=10.0):
        info = self.read_info(timeout)
        if info is None:
            self.proc.wait(5)
            raise AssertionError(
                "peer_client %r failed (status %s): %s"
                % (self.argv, self.proc.returncode, self.proc.stderr.read().decode())
            )
        return info

    def wait(self, timeout=30.0):
        rc = self.proc.wait(timeout)
        return rc

    def kill(self):
        # Once reaped, its group id may belong to someone else unless a forked child holds it.
        if self.proc.returncode is None or self.fork_keep:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                f.close()


def run_client(sock, **kw):
    """Runs peer_client to completion; returns its JSON line."""
    pc = PeerClient(sock, **kw)
    try:
        info = pc.expect_info()
        rc = pc.wait()
        assert rc == 0, "peer_client exited %d: %s" % (rc, pc.proc.stderr.read().decode())
        return info
    finally:
        pc.kill()


def check_record_matches(rec, info, exe=None, uid=None, cgroup_rel=None):
    """Asserts the fields every attested record of a peer_client must have."""
    peer = rec["peer"]
    assert rec["result"] == "attested", rec
    assert rec.get("error") is None, rec
    assert peer["pid"] == info["pid"], rec
    assert peer["uid"] == info["uid"] and peer["euid"] == info["uid"], rec
    assert peer["gid"] == info["gid"] and peer["egid"] == info["gid"], rec
    if exe is not None:
        assert peer["exe"] == exe, rec
    if uid is not None:
        assert peer["uid"] == uid, rec
    assert peer["cgroup_id"] == info["cgroup_id"], rec
    if cgroup_rel is not None:
        assert peer["cgroup_path"] == cgroup_rel, rec
    assert ticks_match_ns(info["start_time_ticks"], peer["start_time_ns"]), (
        "start_time_ns %d does not match /proc starttime %d ticks"
        % (peer["start_time_ns"], info["start_time_ticks"])
    )


def kernel_version():
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
