"""The admin API (HTTP/1.1 + JSON on a 0600 Unix socket): status, the audit ring, on-demand
attestation of a pid, and clear errors for bad requests."""

import json
import os
import re
import stat
import subprocess

import pytest

import helpers


@pytest.fixture
def daemon(attestd):
    return attestd()


def test_status(daemon):
    status, doc = daemon.get("/v1/status")
    assert status == 200, doc
    assert doc["backend"] == daemon.chosen_backend, (doc, daemon.chosen)
    assert isinstance(doc["version"], str) and doc["version"], doc
    assert doc["kernel"] == os.uname().release, doc
    assert doc["pin_dir"] == daemon.pin_dir, doc
    assert doc["socket"] == daemon.socket and doc["admin_socket"] == daemon.admin_socket, doc
    assert doc["race_free"] is (daemon.chosen_backend in helpers.BPF_BACKENDS), doc
    chosen = [b["name"] for b in doc["backends"] if b["status"] == "chosen"]
    assert chosen == [daemon.chosen_backend], doc["backends"]
    assert doc["audit"]["capacity"] > 0, doc
    assert isinstance(doc["counters"], dict) and doc["counters"], doc
    for k, v in doc["counters"].items():
        assert isinstance(v, int) and v >= 0, (k, v)
    p = subprocess.run([helpers.ATTESTD, "--version"], capture_output=True, text=True)
    assert doc["version"] in p.stdout + p.stderr, (doc["version"], p.stdout, p.stderr)


def test_counters_grow(daemon, cgroup):
    _, before = daemon.get("/v1/status")
    info = helpers.run_client(daemon.socket, cgroup=cgroup())
    daemon.wait_pid(info["pid"])
    _, after = daemon.get("/v1/status")
    grew = [k for k in after["counters"] if after["counters"][k] > before["counters"].get(k, 0)]
    assert grew, "no counter moved after an attestation: %r -> %r" % (
        before["counters"], after["counters"])


def test_attestations_limit(daemon, cgroup):
    pids = []
    for i in range(5):
        info = helpers.run_client(daemon.socket, cgroup=cgroup("c%d" % i))
        daemon.wait_pid(info["pid"])  # one at a time, so the ring order is known
        pids.append(info["pid"])
    status, doc = daemon.get("/v1/attestations?limit=3")
    assert status == 200, doc
    recs = helpers.records_of(doc)
    assert [r["peer"]["pid"] for r in recs] == pids[:-4:-1], "want the 3 newest, newest first"
    ids = [r["id"] for r in recs]
    assert ids == sorted(ids, reverse=True), ids
    status, doc = daemon.get("/v1/attestations")
    assert status == 200, doc
    assert [r["peer"]["pid"] for r in helpers.records_of(doc)][:5] == pids[::-1]
    rec = helpers.records_of(doc)[0]
    for key in ("id", "time", "socket", "peer", "selectors", "attributes", "result", "error",
                "duration_us"):
        assert key in rec, (key, rec)
    for key in ("pid", "tid", "start_time_ns", "uid", "gid", "euid", "egid",
                "supplementary_gids", "cgroup_id", "cgroup_path", "exe", "exe_dev", "exe_ino",
                "comm", "namespaces", "backend", "race_free"):
        assert key in rec["peer"], (key, rec)
    assert rec["peer"]["namespaces"]["mnt"] == os.stat("/proc/self/ns/mnt").st_ino, rec


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "limit=-1", "limit=", "limit=1x",
                                   "limit=99999999999999999999999"])
def test_attestations_bad_limit(daemon, query):
    status, doc = daemon.get("/v1/attestations?" + query)
    assert status == 400, (query, status, doc)
    assert isinstance(doc, dict) and "limit" in doc.get("error", ""), (query, doc)


def test_attestations_large_limit(daemon):
    """A limit above the ring's capacity is either clamped or refused with a clear message."""
    status, doc = daemon.get("/v1/attestations?limit=1000000")
    if status == 200:
        assert isinstance(helpers.records_of(doc), list)
    else:
        assert status == 400, (status, doc)
        assert "limit" in doc["error"], doc
    # the bound is named in the message of a refused limit
    status, doc = daemon.get("/v1/attestations?limit=0")
    assert status == 400 and re.search(r"limit.*\b1\b.*\b\d{3,}\b", doc["error"]), doc


def test_attest_own_pid(daemon):
    pid = os.getpid()
    status, doc = daemon.get("/v1/attest?pid=%d" % pid)
    assert status == 200, doc
    peer = doc["peer"]
    assert peer["pid"] == pid, doc
    assert peer["backend"] == "proc", doc
    assert peer["race_free"] is False, doc
    assert peer["uid"] == os.getuid() and peer["euid"] == os.geteuid(), doc
    assert peer["exe"] == os.path.realpath("/proc/self/exe"), doc
    assert doc["result"] == "attested", doc
    assert "unix:uid:%d" % os.getuid() in doc["selectors"], doc
    assert "unix:sha256:" + helpers.sha256_file("/proc/self/exe") in doc["selectors"], doc


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    pytest.skip("no unused pid")


@pytest.mark.parametrize("query,want", [("pid=0", 400), ("pid=abc", 400), ("pid=-5", 400),
                                        ("pid=", 400), ("", 400), ("pid=99999999999", 400),
                                        ("pid=UNUSED", 404)])
def test_attest_bad_pid(daemon, query, want):
    query = query.replace("UNUSED", str(unused_pid()))
    status, doc = daemon.get("/v1/attest?" + query)
    assert status == want, (query, status, doc)
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"], doc


def test_unknown_path(daemon):
    status, doc = daemon.get("/v1/nope")
    assert status == 404, doc
    assert "/v1/nope" in doc["error"], doc


def test_wrong_method(daemon):
    conn = helpers.UnixHTTPConnection(daemon.admin_socket)
    try:
        conn.request("POST", "/v1/status")  # no body: Content-Length: 0 is not sent
        resp = conn.getresponse()
        doc = json.loads(resp.read())
        assert resp.status == 405, doc
        assert "GET" in (resp.getheader("Allow") or ""), resp.getheaders()
        assert "POST" in doc["error"], doc
    finally:
        conn.close()


def test_request_body_refused(daemon):
    """The admin API takes no request bodies: a POST with one is refused, not half-read."""
    status, doc, _ = daemon.request("POST", "/v1/status", body=b"{}")
    assert status in (405, 413), doc
    assert doc["error"], doc
    status, _ = daemon.get("/v1/status")
    assert status == 200


@pytest.mark.parametrize("raw", [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
                                 b"GET /v1/status HTTP/9.9\r\n\r\n"])
def test_garbage_request(daemon, raw):
    out = helpers.admin_raw(daemon.admin_socket, raw)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", out)
    assert m, out[:200]
    assert m.group(1) in (b"400", b"505"), out[:200]
    # the daemon survives
    status, _ = daemon.get("/v1/status")
    assert status == 200


def test_socket_modes(daemon):
    adm = os.stat(daemon.admin_socket)
    agent = os.stat(daemon.socket)
    assert stat.S_ISSOCK(adm.st_mode) and stat.S_ISSOCK(agent.st_mode)
    assert stat.S_IMODE(adm.st_mode) == 0o600, oct(adm.st_mode)
    assert stat.S_IMODE(agent.st_mode) == 0o777, oct(agent.st_mode)


def test_admin_refuses_unprivileged(daemon):
    """The admin socket is 0600 root: an unprivileged process cannot connect."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(1000)
            os.setuid(1000)
            try:
                helpers.admin_request(daemon.admin_socket, "GET", "/v1/status")
                os.write(w, b"connected")
            except PermissionError:
                os.write(w, b"EACCES")
            except Exception as e:  # noqa: BLE001
                os.write(w, repr(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 200)
    os.close(r)
    os.waitpid(pid, 0)
    assert out == b"EACCES", out
