"""Peer identity capture against the real kernel: what attestd records for a connection must
describe the process that called connect(), even when that process has exited, exec'd, lost its
cgroup or had its pid reused before attestd looked."""

import os
import shutil
import time
import uuid

import pytest

import helpers
from helpers import PEER_CLIENT, BPF_BACKENDS, check_record_matches, sha256_file, ticks_match_ns

SLEEP = "/usr/bin/sleep"


def need_race_free(d):
    if d.chosen_backend not in BPF_BACKENDS:
        pytest.skip("needs a BPF capture backend: auto chose %r on this kernel" % d.chosen_backend)


def pc_real():
    return os.path.realpath(PEER_CLIENT)


def test_auto_selects_bpf_backend(attestd):
    """On kernels that have cgroup/connect_unix (>= 6.7) auto must never fall back to a racy
    backend; the choice is reported in the log and in /v1/status."""
    d = attestd()
    status, doc = d.get("/v1/status")
    assert status == 200, doc
    assert doc["backend"] == d.chosen_backend, (doc, d.chosen)
    if helpers.kernel_version() >= (6, 7):
        assert d.chosen_backend in BPF_BACKENDS, d.chosen


def test_connect_exit_cgroup_removed(attestd, cgroup):
    """The client connects and exits and its (kubelet-style) cgroup is removed, all before
    attestd accepts: the record still names the process, exe, uid and cgroup."""
    d = attestd()
    need_race_free(d)
    pod = uuid.uuid4()
    cg = cgroup(
        "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/"
        "cri-containerd-%s.scope" % (str(pod).replace("-", "_"), uuid.uuid4().hex * 2)
    )
    with d.paused():
        info = helpers.run_client(d.socket, cgroup=cg, uid=1000, gid=1000)
        helpers.rmdir_retry(cg)
        assert not os.path.exists(cg)
    (rec,) = d.wait_pid(info["pid"])
    check_record_matches(rec, info, exe=pc_real(), uid=1000, cgroup_rel=cgroup.rel(cg))
    peer = rec["peer"]
    assert peer["backend"] == d.chosen_backend, rec
    assert peer["race_free"] is True, rec
    assert peer["comm"] == "peer_client", rec
    assert peer["tid"] == info["tid"], rec
    assert rec["socket"] == d.socket, rec
    assert "unix:sha256:" + sha256_file(PEER_CLIENT) in rec["selectors"], rec
    assert "unix:uid:1000" in rec["selectors"], rec
    assert "unix:path:" + pc_real() in rec["selectors"], rec
    st = os.stat(PEER_CLIENT)
    assert peer["exe_ino"] == st.st_ino and peer["exe_dev"] == st.st_dev, rec
    assert peer["namespaces"]["pid"] == os.stat("/proc/self/ns/pid").st_ino, rec
    assert isinstance(rec["duration_us"], int) and rec["duration_us"] >= 0, rec


def _exec_after_connect(d, clients, cg):
    """Connects, then execs sleep while attestd is stopped; returns (record, info)."""
    with d.paused():
        pc = clients(d.socket, cgroup=cg, fork_keep=True, hold_ms=10000, exec_argv=[SLEEP, "8"])
        info = pc.expect_info()
        deadline = time.monotonic() + 10
        exe = None
        while time.monotonic() < deadline:
            exe = os.readlink("/proc/%d/exe" % info["pid"])
            if exe == SLEEP:
                break
            time.sleep(0.01)
        assert exe == SLEEP, "peer_client did not exec %s (exe %s)" % (SLEEP, exe)
    (rec,) = d.wait_pid(info["pid"])
    return rec, info


def test_exec_after_connect(attestd, clients, cgroup):
    """A race-free backend records the binary that connected, not the one exec'd after."""
    d = attestd()
    need_race_free(d)
    rec, info = _exec_after_connect(d, clients, cgroup())
    peer = rec["peer"]
    assert rec["result"] == "attested", rec
    assert peer["exe"] == pc_real(), rec
    assert peer["comm"] == "peer_client", rec
    assert peer["race_free"] is True, rec
    assert "unix:sha256:" + sha256_file(PEER_CLIENT) in rec["selectors"], rec
    assert "unix:sha256:" + sha256_file(SLEEP) not in rec["selectors"], rec
    assert ticks_match_ns(info["start_time_ticks"], peer["start_time_ns"]), rec


def test_exec_after_connect_peercred_is_racy(attestd, clients, cgroup):
    """The peercred backend (what SPIRE does) reads /proc late: it sees the new binary and must
    say the record is not race-free."""
    d = attestd(backend="peercred")
    assert d.chosen_backend == "peercred", d.chosen
    rec, _ = _exec_after_connect(d, clients, cgroup())
    peer = rec["peer"]
    assert peer["backend"] == "peercred", rec
    assert peer["race_free"] is False, rec
    assert peer["exe"] == SLEEP, rec
    assert "unix:sha256:" + sha256_file(SLEEP) in rec["selectors"], rec


NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"
PID_REUSE_TRIES = 200


def test_pid_reuse(attestd, clients, cgroup, workdir):
    """Process A connects and exits; process B (another binary) gets A's global pid and
    connects too, all before attestd accepts. The two records must not be confused."""
    d = attestd()
    need_race_free(d)
    if not os.access(NS_LAST_PID, os.W_OK):
        pytest.skip("needs root in the initial pid namespace: %s is not writable" % NS_LAST_PID)
    copy = os.path.join(workdir, "peer_client_b")
    shutil.copyfile(PEER_CLIENT, copy)
    with open(copy, "ab") as f:
        f.write(b"\0attestd-e2e pid reuse copy\0")  # a different hash, still a valid ELF
    os.chmod(copy, 0o755)
    b = None
    with d.paused():
        a = helpers.run_client(d.socket, cgroup=cgroup("a"))
        pid = a["pid"]
        cg_b = cgroup("b")
        for _ in range(PID_REUSE_TRIES):
            with open(NS_LAST_PID, "w") as f:
                f.write(str(pid - 1))
            # The shell gets the next pid; it execs B only if that pid is A's.
            pc = clients(
                d.socket,
                binary=copy,
                cgroup=cg_b,
                hold_ms=30000,
                wrap=lambda argv: ["/bin/sh", "-c", 'test "$$" = %d || exit 75; exec "$@"' % pid,
                                   "sh"] + argv,
            )
            if pc.proc.pid == pid:
                b = pc.expect_info()
                break
            pc.wait(10)
        if b is None:
            pytest.skip("could not get pid %d again after %d tries (a busy host)" %
                        (pid, PID_REUSE_TRIES))
    assert b["pid"] == pid and b["exe"] == copy
    recs = d.wait_pid(pid, count=2)
    assert len(recs) == 2, recs
    by_exe = {r["peer"]["exe"]: r for r in recs}
    assert set(by_exe) == {pc_real(), copy}, recs
    ra, rb = by_exe[pc_real()], by_exe[copy]
    check_record_matches(ra, a, exe=pc_real())
    check_record_matches(rb, b, exe=copy)
    assert ra["peer"]["start_time_ns"] != rb["peer"]["start_time_ns"]
    assert "unix:sha256:" + sha256_file(PEER_CLIENT) in ra["selectors"], ra
    assert "unix:sha256:" + sha256_file(copy) in rb["selectors"], rb
    status, now = d.get("/v1/attest?pid=%d" % pid)
    assert status == 200, now
    assert now["peer"]["exe"] == copy, now
    assert ticks_match_ns(b["start_time_ticks"], now["peer"]["start_time_ns"]), now


N_CLIENTS = 50
N_CONN = 20
UID_BASE = 2000


def test_concurrent_1000(attestd, clients, cgroup):
    """50 processes, each in its own cgroup with its own uid, hold 20 connections each: all
    1000 are attested to the right process, uid and cgroup."""
    d = attestd()
    pcs = []
    for i in range(N_CLIENTS):
        pcs.append(
            clients(
                d.socket,
                cgroup=cgroup("c%02d" % i),
                uid=UID_BASE + i,
                gid=UID_BASE + i,
                connections=N_CONN,
                hold_ms=3000,
            )
        )
    infos = {}
    for pc in pcs:
        info = pc.expect_info(30)
        assert info["connected"] == N_CONN, info
        infos[info["pid"]] = info
    recs = d.wait_records(lambda r: r["peer"]["pid"] in infos, count=N_CLIENTS * N_CONN,
                          timeout=60)
    per_pid = {}
    for r in recs:
        info = infos[r["peer"]["pid"]]
        assert r["result"] == "attested", r
        assert r["peer"]["uid"] == info["uid"], r
        assert r["peer"]["cgroup_id"] == info["cgroup_id"], r
        assert "unix:uid:%d" % info["uid"] in r["selectors"], r
        per_pid[info["pid"]] = per_pid.get(info["pid"], 0) + 1
    assert sorted(per_pid.values()) == [N_CONN] * N_CLIENTS, per_pid
    ids = [r["id"] for r in recs]
    assert len(set(ids)) == len(ids), "duplicate record ids"
    for pc in pcs:
        assert pc.wait(30) == 0


@pytest.mark.parametrize("backend", ["peercred", "pidfd"])
def test_racy_backend_smoke(attestd, clients, cgroup, backend):
    """The fallback backends attest a plain connect and flag the record as racy."""
    d = attestd(backend=backend)
    assert d.chosen_backend == backend, d.chosen
    cg = cgroup("smoke")
    pc = clients(d.socket, cgroup=cg, uid=1000, gid=1000, hold_ms=5000)
    info = pc.expect_info()
    (rec,) = d.wait_pid(info["pid"])
    check_record_matches(rec, info, exe=pc_real(), uid=1000, cgroup_rel=cgroup.rel(cg))
    assert rec["peer"]["backend"] == backend, rec
    assert rec["peer"]["race_free"] is False, rec
    assert "unix:sha256:" + sha256_file(PEER_CLIENT) in rec["selectors"], rec
