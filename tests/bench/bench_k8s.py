#!/usr/bin/python3
"""Section 4 of `make bench`: the Kubernetes attestor (issue 5).

Usage: tests/bench/bench_k8s.py BUILD_DIR   (or through tests/bench/run-all, BENCH_SECTIONS=4)

A fake kubelet (tests/tools/fake_kubelet.py, plain HTTP: the read-only port) serves 250
synthetic pods (--generate 250, about 5 MB of JSON) plus one pod of ours; the bench client
(bench_attest: connect, shutdown(SHUT_WR), read to EOF) runs with its own pid in a kubepods-style
cgroup directory of that pod (cgroupfs layout <cgroup2>/attestd-bench-k8s-<pid>/kubepods/
besteffort/pod<uid>/<64 hex>), so every connection is a Kubernetes workload for attestd.

Latency: attestd with attestors.kubernetes enabled (read_only_port; refresh interval 1 h, so no
refresh falls in the runs: checked), the cache warmed (the first list loaded, one attestation
from the pod, then 400 more so the client executable's hash is cached), then 1 and 16 clients
for BENCH_ATTEST_MS (3000) ms each: server-side accept->record p50/p99 (the audit records'
duration_us, every record of the run) and client-side connect->EOF p50/p99 (bench_attest).
Baseline, same run and same cgroup: the same daemon config with attestors.kubernetes disabled
(unix attestor only); the ratio is k8s / unix only. Then the same with the list refreshed every
1 s during the runs (p50/p99/max: a refresh parses the list on the event loop thread, which
shows as the client-side max). Each figure is the median of BENCH_K8S_ROUNDS (3) rounds; every
round starts fresh daemons. The kubelet's request count (GET /_count) over the runs is reported
with the daemon's own counters (lookups, hits, refreshes).

Memory: attestd's VmRSS after one attestation, for (a) unix only, (b) Kubernetes enabled with
a kubelet listing only our pod, (c) Kubernetes enabled with the 250-pod list; and for (b) and (c)
again after BENCH_K8S_MEM_REFRESHES (5) more refreshes at a 1 s interval (steady state: a
refresh parses the whole list again and swaps the snapshot). /v1/status "kubernetes" reports the
pod count but no size figure, so the live heap (glibc malloc_stats() "in use", called in attestd
through gdb -p; skipped without gdb) separates the cache from freed heap that malloc keeps.

Needs root (BPF capture, cgroup directories); skips with the reason otherwise. Everything it
starts or creates (daemons, fake kubelets, cgroup directories, bpffs pins) is removed on the way
out, also on an error or SIGTERM.
"""

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))

import fake_kubelet as fk  # noqa: E402
from benchlib import log, section_main, sigterm_as_interrupt  # noqa: E402

PYTHON = "/usr/bin/python3"
ATTEST_MS = int(os.environ.get("BENCH_ATTEST_MS", "3000"))
K8S_PODS = int(os.environ.get("BENCH_K8S_PODS", "250"))  # synthetic pods besides ours
K8S_LIST_MB = 5.0  # --generate-mb: size of the synthetic part of the list
MEM_REFRESHES = int(os.environ.get("BENCH_K8S_MEM_REFRESHES", "5"))
MEM_INTERVAL = "1s"  # refresh interval of the memory daemons
REFRESH_INTERVAL = "1s"  # the "k8s-refresh" variant: runs that include refreshes
QUIET_INTERVAL = "1h"  # the "k8s" variant: no refresh during the runs (checked)
ROUNDS = int(os.environ.get("BENCH_K8S_ROUNDS", "3"))  # latency figures: median of the rounds
CLIENTS = (1, 16)
WARMUP_COUNT = 400  # connections before the runs: the client executable's hash gets cached
AUDIT_ENTRIES = 131072  # one run's records must fit (about 25k/s here)
ATTEST_TIMEOUT = "5s"  # attestors.kubernetes.attestation_timeout
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LIST_TIMEOUT = 30.0  # for the first pod list to be loaded
REFRESH_TIMEOUT = 30.0  # for MEM_REFRESHES refreshes at MEM_INTERVAL
RUN_TIMEOUT = 120.0  # one bench_attest run
RMDIR_TIMEOUT = 5.0
GDB_TIMEOUT = 60.0
HEAP_READINGS = 3
POD_NS, POD_NAME, POD_CONTAINER, POD_SA = "bench", "bench-k8s", "app", "bench-sa"


# ---- admin API, /proc ---------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def admin_get(sock_path, path):
    conn = UnixHTTPConnection(sock_path)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"admin GET {path}: HTTP {resp.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        conn.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status: no VmRSS line")


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p * (len(s) - 1))))]


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split(" ", 1)[0] == "cgroup2":
                return left.split()[4]
    return None


# ---- the pod of ours and its cgroup -------------------------------------------------------


def our_pod(uid, cid):
    image = "registry.example/bench:1"
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": POD_NAME, "namespace": POD_NS, "uid": uid,
                     "labels": {"app": "bench"}, "annotations": {}},
        "spec": {"serviceAccountName": POD_SA, "nodeName": "fake-node",
                 "containers": [{"name": POD_CONTAINER, "image": image}]},
        "status": {"phase": "Running", "containerStatuses": [{
            "name": POD_CONTAINER, "image": image,
            "imageID": "registry.example/bench@sha256:" + hashlib.sha256(b"bench").hexdigest(),
            "containerID": "containerd://" + cid, "ready": True, "restartCount": 0,
            "started": True, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]},
    }


class PodCgroup:
    """<cgroup2>/attestd-bench-k8s-<pid>/kubepods/besteffort/pod<uid>/<cid> (cgroupfs layout)."""

    def __init__(self, mount, uid, cid):
        self.mount = mount
        self.base = os.path.join(mount, f"attestd-bench-k8s-{os.getpid()}")
        self.path = os.path.join(self.base, "kubepods", "besteffort", "pod" + uid, cid)
        self.rel = "/" + os.path.relpath(self.path, mount)
        self.created = []

    def create(self):
        path = self.mount
        for part in os.path.relpath(self.path, self.mount).split("/"):
            path = os.path.join(path, part)
            os.mkdir(path)
            self.created.append(path)

    def remove(self):
        """Leaf first; a process still inside (only ours can be: the directory is ours) is
        killed through cgroup.kill, or moved to the root where that file does not exist."""
        problems = []
        for path in reversed(self.created):
            deadline = time.monotonic() + RMDIR_TIMEOUT
            while os.path.isdir(path):
                try:
                    os.rmdir(path)
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        problems.append(f"rmdir {path}: {e}")
                        break
                    evict(path, self.mount)
                    time.sleep(0.05)
        self.created = []
        return problems


def evict(path, mount):
    with contextlib.suppress(OSError):
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
        return
    with contextlib.suppress(OSError):
        with open(os.path.join(path, "cgroup.procs")) as f:
            pids = f.read().split()
        for pid in pids:
            with contextlib.suppress(OSError):
                with open(os.path.join(mount, "cgroup.procs"), "w") as f:
                    f.write(pid)


def run_in_cgroup(cg_path, argv, timeout=RUN_TIMEOUT):
    """argv with its own pid in cg_path from its first instruction (sh writes $$, then execs);
    returns the last line of its stdout as JSON."""
    wrapper = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg_path] + argv
    out = subprocess.run(wrapper, check=True, capture_output=True, text=True, timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- attestd ------------------------------------------------------------------------------


class Attestd:
    def __init__(self, build, workdir, name, attestors_yaml):
        self.build = build
        self.name = name
        self.dir = os.path.join(workdir, name)
        self.attestors_yaml = attestors_yaml
        self.pin_dir = f"/sys/fs/bpf/attestd-bench-k8s-{os.getpid()}-{name}"
        self.sock = os.path.join(self.dir, "agent.sock")
        self.admin = os.path.join(self.dir, "admin.sock")
        self.proc = None
        self.logf = None
        self.pid = None

    def start(self):
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "attestd.yaml")
        with open(cfg, "w") as f:
            f.write(f"socket: {self.sock}\nadmin_socket: {self.admin}\n"
                    f"state_dir: {os.path.join(self.dir, 'state')}\nlog: {{level: warn}}\n"
                    f"audit: {{entries: {AUDIT_ENTRIES}}}\n"
                    f"peer: {{backend: auto, pin_dir: {self.pin_dir}}}\n" + self.attestors_yaml)
        self.logf = open(os.path.join(self.dir, "attestd.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(self.build, "attestd"), "--config", cfg],
                                     stdout=subprocess.DEVNULL, stderr=self.logf)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"attestd ({self.name}) exited with {self.proc.returncode}:"
                                   f"\n{self.log_tail()}")
            try:
                return self.status()
            except (OSError, RuntimeError, ValueError):
                time.sleep(0.05)
        raise RuntimeError(f"attestd ({self.name}) not ready in {START_TIMEOUT} s:\n"
                           f"{self.log_tail()}")

    def status(self):
        return admin_get(self.admin, "/v1/status")

    def wait_k8s(self, pods, refreshes, timeout):
        """Until /v1/status kubernetes shows `pods` pods after at least `refreshes` refreshes."""
        deadline = time.monotonic() + timeout
        while True:
            k = self.status().get("kubernetes") or {}
            if k.get("pods") == pods and k.get("refreshes", 0) >= refreshes:
                return k
            if time.monotonic() > deadline:
                raise RuntimeError(f"attestd ({self.name}): kubelet cache not at {pods} pods "
                                   f"after {refreshes} refreshes within {timeout:.0f} s: {k}")
            time.sleep(0.05)

    def records_since(self, last_id, n):
        recs = admin_get(self.admin, f"/v1/attestations?limit={min(max(n, 1), AUDIT_ENTRIES)}")
        return [r for r in recs if r["id"] > last_id]

    def last_id(self):
        recs = admin_get(self.admin, "/v1/attestations?limit=1")
        return recs[0]["id"] if recs else 0

    def stop(self):
        """SIGTERM; raises if it fails to exit cleanly or leaves its pins."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.abandon()
            raise RuntimeError(f"attestd ({self.name}) ignored SIGTERM")
        rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        if rc != 0:
            raise RuntimeError(f"attestd ({self.name}) exited with {rc}:\n{self.log_tail()}")
        if os.path.exists(self.pin_dir):
            raise RuntimeError(f"attestd ({self.name}) stopped but left {self.pin_dir}")

    def abandon(self):
        """Error path: no attestd of ours outlives the bench, nor its pins."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self.logf.close()
        if os.path.isdir(self.pin_dir):
            shutil.rmtree(self.pin_dir, ignore_errors=True)

    def log_tail(self):
        try:
            with open(os.path.join(self.dir, "attestd.log"), errors="replace") as f:
                return "".join(f.readlines()[-15:])
        except OSError:
            return "(no log)"

    def log_lines(self):
        with open(os.path.join(self.dir, "attestd.log"), errors="replace") as f:
            return [ln.strip() for ln in f if ln.strip()]


def attestors_yaml(kubelet_port, rt_dirs, interval=None):
    if kubelet_port is None:
        return "attestors:\n  unix: {enabled: true}\n  kubernetes: {enabled: false}\n"
    refresh = f"    refresh: {{interval: {interval}}}\n" if interval else ""
    return ("attestors:\n"
            "  unix: {enabled: true}\n"
            "  kubernetes:\n"
            "    enabled: true\n"
            f"    kubelet: {{read_only_port: {kubelet_port}}}\n" + refresh +
            f"    attestation_timeout: {ATTEST_TIMEOUT}\n"
            # empty state dirs: the host's own container runtimes are never consulted
            f"    runtime: {{containerd_state: {rt_dirs[0]}, crio_state: {rt_dirs[1]}}}\n")


# ---- measurements -------------------------------------------------------------------------


def check_record(rec, cg_rel, uid, k8s):
    """None if rec is a good attestation of our pod's process, else the reason."""
    if rec.get("result") != "attested":
        return f"result {rec.get('result')}: {rec.get('error')}"
    if rec.get("peer", {}).get("cgroup_path") != cg_rel:
        return f"cgroup_path {rec.get('peer', {}).get('cgroup_path')}"
    has = "k8s:pod-uid:" + uid in rec.get("selectors", [])
    if k8s and not (has and "k8s:container-name:" + POD_CONTAINER in rec["selectors"]):
        return "no k8s:pod-uid / k8s:container-name selector"
    if not k8s and any(s.startswith("k8s:") for s in rec.get("selectors", [])):
        return "k8s selectors with the Kubernetes attestor disabled"
    return None


def one_attestation(d, ba, cg, uid, k8s):
    """The warm-up attestation from the pod; raises unless it carries what it should."""
    last = d.last_id()
    run_in_cgroup(cg.path, [ba, "--socket", d.sock, "--clients", "1", "--count", "1"])
    deadline = time.monotonic() + 10
    while True:
        recs = d.records_since(last, 16)
        if recs or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(recs) != 1:
        raise RuntimeError(f"attestd ({d.name}): {len(recs)} records for one connection")
    bad = check_record(recs[0], cg.rel, uid, k8s)
    if bad:
        raise RuntimeError(f"attestd ({d.name}): warm-up attestation: {bad}: {recs[0]}")
    return recs[0]


def attest_run(d, ba, cg, uid, k8s, clients):
    before = d.status()["counters"]["attested"]
    last = d.last_id()
    r = run_in_cgroup(cg.path, [ba, "--socket", d.sock, "--clients", str(clients),
                                "--duration-ms", str(ATTEST_MS)])
    delta = d.status()["counters"]["attested"] - before
    recs = d.records_since(last, delta + r["errors"] + 16)
    bad = [b for b in (check_record(x, cg.rel, uid, k8s) for x in recs) if b]
    durs = [x["duration_us"] for x in recs if x.get("result") == "attested"]
    notes = []
    if r["errors"] or delta != r["ok"] or len(recs) != r["ok"]:
        notes.append(f"{d.name}/{clients}: {r['ok']} client round trips, {r['errors']} client "
                     f"errors, {delta} attested, {len(recs)} records")
    if bad:
        notes.append(f"{d.name}/{clients}: {len(bad)} of {len(recs)} records wrong, first: "
                     f"{bad[0]}")
    return {"per_s": delta / r["wall_s"], "n": delta,
            "c50": r["p50_us"], "c99": r["p99_us"], "cmax": r["max_us"],
            "s50": pct(durs, 0.50) if durs else float("nan"),
            "s99": pct(durs, 0.99) if durs else float("nan"),
            "smax": max(durs) if durs else float("nan"),
            "notes": notes}


def latency_daemon(build, workdir, ba, cg, uid, name, yaml, pods, kubelet=None):
    """Start, warm (list loaded, one attestation, client hash cached), then the runs."""
    d = Attestd(build, workdir, name, yaml)
    res = {}
    try:
        st = d.start()
        if pods:
            d.wait_k8s(pods, 1, LIST_TIMEOUT)
        one_attestation(d, ba, cg, uid, pods > 0)
        run_in_cgroup(cg.path, [ba, "--socket", d.sock, "--clients", "4", "--count",
                                str(WARMUP_COUNT)])
        if kubelet:
            kubelet.reset()
        k0 = d.status().get("kubernetes")
        t0 = time.monotonic()
        for c in CLIENTS:
            res[c] = x = attest_run(d, ba, cg, uid, pods > 0, c)
            log(f"  {name}, {c} client(s): {x['per_s']:,.0f}/s ({x['n']} attested), "
                f"accept->record p50/p99/max {x['s50']}/{x['s99']}/{x['smax']} us, connect->EOF "
                f"p50/p99/max "
                f"{x['c50']}/{x['c99']}/{x['cmax']} us")
        res["elapsed"] = time.monotonic() - t0
        res["kubelet_count"] = kubelet.count() if kubelet else None
        res["k8s_before"], res["k8s_after"] = k0, d.status().get("kubernetes")
        res["backend"] = st.get("backend")
        res["warn"] = d.log_lines()
        d.stop()
    finally:
        d.abandon()
    return res


def live_heap(d):
    """Bytes malloc has handed out and not got back (all arenas and mmaps), from glibc's
    malloc_stats() called in attestd through gdb (it prints to attestd's stderr, our log file);
    (None, reason) without gdb or if that fails. attestd is paused for the second gdb needs."""
    if shutil.which("gdb") is None:
        return None, "gdb not installed"
    try:
        subprocess.run(["gdb", "-p", str(d.pid), "-batch", "-nx", "-ex",
                        "call (void)malloc_stats()"], check=True, capture_output=True,
                       text=True, timeout=GDB_TIMEOUT)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        return None, f"gdb: {e}"
    lines = d.log_lines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Total (incl. mmap):"):
            for ln in lines[i + 1:i + 3]:
                if ln.startswith("in use bytes"):
                    return int(ln.split("=")[1]), None
    return None, "no malloc_stats output in attestd's stderr"


def memory_daemon(build, workdir, ba, cg, uid, name, yaml, pods):
    """VmRSS after the first list and one attestation; for Kubernetes, again after
    MEM_REFRESHES more refreshes; then the live heap (live_heap). Returns
    (rss0_kb, rss1_kb or None, kubernetes status or None, (heap bytes or None, why not))."""
    d = Attestd(build, workdir, name, yaml)
    try:
        d.start()
        k = d.wait_k8s(pods, 1, LIST_TIMEOUT) if pods else None
        one_attestation(d, ba, cg, uid, pods > 0)
        rss0, rss1 = rss_kb(d.pid), None
        if pods:
            k = d.wait_k8s(pods, k["refreshes"] + MEM_REFRESHES, REFRESH_TIMEOUT)
            rss1 = rss_kb(d.pid)
        # the least of a few readings: one may fall while a refresh holds a body being received
        heaps = [live_heap(d) for _ in range(HEAP_READINGS)]
        ok = [h for h, _ in heaps if h is not None]
        heap = (min(ok), None) if ok else heaps[0]
        d.stop()
    finally:
        d.abandon()
    return rss0, rss1, k, heap


def mib(kb):
    return kb / 1024.0


def mib_b(b):
    return b / (1024.0 * 1024.0)


def med(runs, c, key):
    """Median over the rounds of one figure."""
    return statistics.median(r[c][key] for r in runs)


def fmt_us(x):
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


def summary(lat, mem, list_bytes):
    lines = []
    u, k, kr = lat["unix"], lat["k8s"], lat["k8s-refresh"]
    npods = K8S_PODS + 1
    rounds = f"median of {len(k)} round{'s' if len(k) > 1 else ''}"
    for c in CLIENTS:
        cl = f"{c} client" + ("s" if c > 1 else "")
        m = {(n, key): med(runs, c, key) for n, runs in (("k", k), ("u", u), ("r", kr))
             for key in ("s50", "s99", "smax", "c50", "c99", "cmax", "per_s")}
        for what, a, b in (("accept->record", "s50", "s99"), ("connect->EOF, client", "c50",
                                                               "c99")):
            lines.append(
                f"k8s attest latency p50/p99 ({what}), {cl}, warm {K8S_PODS}-pod cache: "
                f"{fmt_us(m[('k', a)])}/{fmt_us(m[('k', b)])} us, unix only "
                f"{fmt_us(m[('u', a)])}/{fmt_us(m[('u', b)])} us, ratio "
                f"{m[('k', a)] / m[('u', a)]:.2f} (p99 {m[('k', b)] / m[('u', b)]:.2f}; {rounds})")
        for what, a in (("accept->record", "s"), ("connect->EOF, client", "c")):
            f50, f99, fmax = (a + "50", a + "99", a + "max")
            lines.append(
                f"k8s attest latency p50/p99/max ({what}), {cl}, the {npods}-pod list refreshed "
                f"every {REFRESH_INTERVAL} during the runs: {fmt_us(m[('r', f50)])}/"
                f"{fmt_us(m[('r', f99)])}/{fmt_us(m[('r', fmax)])} us (no refresh in the runs: "
                f"{fmt_us(m[('k', f50)])}/{fmt_us(m[('k', f99)])}/"
                f"{fmt_us(m[('k', fmax)])} us; unix only {fmt_us(m[('u', f50)])}/"
                f"{fmt_us(m[('u', f99)])}/{fmt_us(m[('u', fmax)])} us)")
        lines.append(
            f"k8s attest throughput, {cl}: {m[('k', 'per_s')]:,.0f}/s, unix only "
            f"{m[('u', 'per_s')]:,.0f}/s, ratio {m[('k', 'per_s')] / m[('u', 'per_s')]:.2f} "
            f"(refresh every {REFRESH_INTERVAL}: {m[('r', 'per_s')]:,.0f}/s)")
    r_unix, r_one, r_all = mem["unix"][0], mem["k8s-1pod"][0], mem["k8s"][0]
    s_one, s_all = mem["k8s-1pod"][1], mem["k8s"][1]
    lines.append(
        f"k8s pod cache memory at {K8S_PODS} pods: {mib(r_all - r_unix):+.1f} MiB RSS vs unix "
        f"only, {mib(r_all - r_one):+.1f} MiB vs a 1-pod list; after {MEM_REFRESHES} more "
        f"refreshes {mib(s_all - r_unix):+.1f} / {mib(s_all - s_one):+.1f} MiB (VmRSS: unix only "
        f"{mib(r_unix):.1f} MiB; 1-pod list {mib(r_one):.1f} -> {mib(s_one):.1f} MiB; "
        f"{npods}-pod list {mib(r_all):.1f} -> {mib(s_all):.1f} MiB; list {list_bytes / 1e6:.1f} "
        f"MB of JSON; /v1/status kubernetes: pods {mem['k8s'][2]['pods']}, no size figure)")
    heaps = {n: mem[n][3] for n in ("unix", "k8s-1pod", "k8s")}
    if all(h for h, _ in heaps.values()):
        hu, ho, ha = (heaps[n][0] for n in ("unix", "k8s-1pod", "k8s"))
        lines.append(
            f"k8s pod cache live heap at {K8S_PODS} pods: {mib_b(ha - hu):+.1f} MiB vs unix "
            f"only, {mib_b(ha - ho):+.1f} MiB vs a 1-pod list (malloc_stats in use: unix "
            f"only {mib_b(hu):.1f} MiB, 1-pod list {mib_b(ho):.1f} MiB, {npods}-pod list "
            f"{mib_b(ha):.1f} MiB; the rest of the RSS delta is freed heap malloc keeps)")
    else:
        why = next(w for h, w in heaps.values() if h is None)
        lines.append(f"k8s pod cache live heap: not measured ({why})")
    for name, runs, interval in (("k8s", k, QUIET_INTERVAL), ("k8s-refresh", kr,
                                                                REFRESH_INTERVAL)):
        dk = {key: sum(r["k8s_after"][key] - r["k8s_before"][key] for r in runs)
              for key in ("requests", "refreshes", "lookups", "hits", "timeouts", "failures")}
        lines.append(
            f"k8s kubelet requests during the latency runs (refresh interval {interval}): "
            f"{sum(r['kubelet_count']['pods'] for r in runs)} GET /pods in "
            f"{sum(r['elapsed'] for r in runs):.1f} s over {len(runs)} daemon(s); attestd "
            f"counters over the runs: " + ", ".join(f"{key} +{v}" for key, v in dk.items()))
    notes = []
    for name, runs in lat.items():
        for rnd, r in enumerate(runs):
            for c in CLIENTS:
                notes += r[c]["notes"]
            if r["warn"]:
                notes.append(f"attestd ({name}, round {rnd + 1}) logged {len(r['warn'])} lines "
                             f"at warn or above, first: {r['warn'][0][:300]}")
    for rnd, r in enumerate(k):
        if r["k8s_after"]["refreshes"] != r["k8s_before"]["refreshes"]:
            notes.append(f"k8s round {rnd + 1}: the pod list was refreshed during the runs "
                         f"(refresh interval {QUIET_INTERVAL})")
    backends = {r["backend"] for runs in lat.values() for r in runs}
    if len(backends) != 1:
        notes.append(f"the daemons chose different capture backends: {sorted(backends)}")
    lines.extend("WARNING: " + n for n in notes)
    return lines


def kubelet_body_bytes(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/pods")
        resp = conn.getresponse()
        return len(resp.read())
    finally:
        conn.close()


def missing(build):
    """The reason this section cannot run, or None."""
    if os.geteuid() != 0:
        return "needs root (BPF capture, cgroup directories)"
    if not os.access(PYTHON, os.X_OK):
        return f"needs {PYTHON} for the fake kubelet"
    if cgroup2_mount() is None:
        return "no cgroup2 mount"
    for b in ("attestd", "bench/bench_attest"):
        if not os.access(os.path.join(build, b), os.X_OK):
            return f"{os.path.join(build, b)} missing; run `make bench`"
    return None


def bench_k8s(build, workdir):
    """Runs section 4; returns the summary lines. Raises RuntimeError on a failure."""
    ba = os.path.join(build, "bench", "bench_attest")
    uid = fk._uid(f"bench-k8s-{os.getpid()}-{time.time()}")
    cid = hashlib.sha256(uid.encode()).hexdigest()
    base = os.path.join(workdir, "k8s")
    os.makedirs(base)
    rt = [os.path.join(base, n) for n in ("containerd-state", "crio-state")]
    for p in rt:
        os.mkdir(p)
    pods_file = os.path.join(base, "pods.json")
    with open(pods_file, "w") as f:
        json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                   "items": [our_pod(uid, cid)]}, f)
    cg = PodCgroup(cgroup2_mount(), uid, cid)
    many = fk.FakeKubelet(base, ["--http", "--pods-file", pods_file, "--generate",
                                 str(K8S_PODS), "--generate-mb", str(K8S_LIST_MB)], python=PYTHON)
    one = fk.FakeKubelet(base, ["--http", "--pods-file", pods_file], python=PYTHON)
    old_term = signal.signal(signal.SIGTERM, sigterm_as_interrupt)
    problems = []
    try:
        lines = measure(build, base, ba, uid, rt, cg, many, one)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"timed out: {e}") from e
    finally:
        signal.signal(signal.SIGTERM, old_term)
        many.stop()
        one.stop()
        problems = cg.remove()
        for p in problems:
            log(f"WARNING: bench k8s cleanup: {p}")
    if problems:
        raise RuntimeError("cleanup: " + "; ".join(problems))
    return lines


def measure(build, base, ba, uid, rt, cg, many, one):
    """Memory, then the latency rounds; returns the summary lines."""
    cg.create()
    many.start()
    one.start()
    list_bytes = kubelet_body_bytes(many.port)
    npods = K8S_PODS + 1
    log(f"  fake kubelet: {npods} pods, {list_bytes / 1e6:.1f} MB; pod cgroup {cg.rel}")
    mem = {
        "unix": memory_daemon(build, base, ba, cg, uid, "mem-unix",
                              attestors_yaml(None, rt), 0),
        "k8s-1pod": memory_daemon(build, base, ba, cg, uid, "mem-k8s-1pod",
                                  attestors_yaml(one.port, rt, MEM_INTERVAL), 1),
        "k8s": memory_daemon(build, base, ba, cg, uid, "mem-k8s",
                             attestors_yaml(many.port, rt, MEM_INTERVAL), npods),
    }
    log("  VmRSS after one attestation (then after %d refreshes): unix only %d kB, "
        "1-pod list %d (%d) kB, %d-pod list %d (%d) kB" % (
            MEM_REFRESHES, mem["unix"][0], mem["k8s-1pod"][0], mem["k8s-1pod"][1], npods,
            mem["k8s"][0], mem["k8s"][1]))
    one.stop()
    variants = (("unix", attestors_yaml(None, rt), 0),
                ("k8s", attestors_yaml(many.port, rt, QUIET_INTERVAL), npods),
                ("k8s-refresh", attestors_yaml(many.port, rt, REFRESH_INTERVAL), npods))
    lat = {name: [] for name, _, _ in variants}
    for rnd in range(ROUNDS):
        for name, yaml, pods in variants:
            lat[name].append(latency_daemon(build, base, ba, cg, uid, f"{name}-{rnd + 1}",
                                            yaml, pods, kubelet=many if pods else None))
    return summary(lat, mem, list_bytes)


def main():
    return section_main("k8s", f"4. Kubernetes attestation, {ATTEST_MS} ms per run", missing,
                        bench_k8s)


if __name__ == "__main__":
    sys.exit(main())
