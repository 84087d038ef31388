"""Daemon lifecycle and path fidelity: the recorded exe path equals readlink(/proc/<pid>/exe)
even when the client was started through a symlink and a relative path and is gone before
attestd reads the record; a restart after a crash reuses the pinned maps and keeps capturing;
SIGHUP reloads a good file and rejects a bad one without stopping."""

import os
import shutil
import signal
import time

import pytest

import helpers
from conftest import need_binary, need_root


def wait_log(d, msg, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with d._lock:
            for doc in d.logs:
                if doc.get("msg") == msg:
                    return doc
        time.sleep(0.05)
    raise AssertionError("no log line %r within %.0f s:\n%s" % (msg, timeout, d.log_tail()))


def test_exe_path_matches_readlink(attestd, workdir):
    """Started as ./link/pc (a relative path through a symlinked directory), the client prints
    readlink(/proc/self/exe) and exits; the record, read afterwards, must say the same."""
    d = attestd("auto")
    if d.chosen_backend not in helpers.BPF_BACKENDS:
        pytest.skip("needs a BPF backend (chose %s)" % d.chosen_backend)
    real_dir = os.path.join(workdir, "real bin")  # a space, too
    os.mkdir(real_dir)
    binary = os.path.join(real_dir, "pc")
    shutil.copy2(helpers.PEER_CLIENT, binary)
    os.symlink(real_dir, os.path.join(workdir, "link"))
    with d.paused():
        pc = helpers.PeerClient(d.socket, binary="./link/pc",
                                wrap=lambda argv: ["/bin/sh", "-c", 'cd "$0" && exec "$@"',
                                                   workdir] + argv)
        try:
            info = pc.expect_info()
            assert pc.wait() == 0
        finally:
            pc.kill()
    assert info["exe"] == os.path.realpath(binary)
    rec = d.wait_pid(info["pid"])[0]
    helpers.check_record_matches(rec, info, exe=info["exe"])
    assert "unix:path:%s" % info["exe"] in rec["selectors"]
    assert "unix:sha256:%s" % helpers.sha256_file(binary) in rec["selectors"]


def test_restart_after_crash_reuses_pins(workdir):
    need_root()
    need_binary(helpers.ATTESTD)
    first = helpers.Attestd(os.path.join(workdir, "first"))
    os.mkdir(first.workdir)
    first.start()
    second = None
    try:
        if first.chosen_backend not in helpers.BPF_BACKENDS:
            pytest.skip("needs a BPF backend (chose %s)" % first.chosen_backend)
        first.proc.send_signal(signal.SIGKILL)  # a crash: nothing is cleaned up
        first.proc.wait(5)
        assert os.path.exists(os.path.join(first.pin_dir, "peer_storage")), \
            "a crash must leave the pins for the next start"
        assert os.path.exists(os.path.join(first.pin_dir, "exe_map"))

        second = helpers.Attestd(first.workdir)
        second.pin_dir = first.pin_dir
        second.start()
        wait_log(second, "reusing BPF maps pinned by an earlier attestd")
        status, doc = second.get("/v1/status")
        assert status == 200 and doc["pins_reused"] is True, doc
        assert doc["backend"] == first.chosen_backend, doc

        info = helpers.run_client(second.socket)
        rec = second.wait_pid(info["pid"])[0]
        helpers.check_record_matches(rec, info, exe=os.path.realpath(helpers.PEER_CLIENT))
        assert rec["peer"]["race_free"] is True
    finally:
        if second is not None:
            assert second.stop() == 0, second.log_tail()
            assert not os.path.exists(second.pin_dir), "a clean stop removes the pins"
        first.stop()
        if os.path.isdir(first.pin_dir):  # only if the test failed before the second start
            shutil.rmtree(first.pin_dir, ignore_errors=True)


def test_sighup_reload(attestd):
    d = attestd("auto")
    good = open(d.config_path).read()
    with open(d.config_path, "w") as f:
        f.write(good + "bogus_key: 1\n")
    d.proc.send_signal(signal.SIGHUP)
    doc = wait_log(d, "config reload rejected; the running configuration stays")
    assert "bogus_key" in doc.get("error", ""), doc
    info = helpers.run_client(d.socket)  # still serving
    assert d.wait_pid(info["pid"])[0]["result"] == "attested"

    with open(d.config_path, "w") as f:
        f.write(good.replace("log: {level: info}", "log: {level: debug}"))
    d.proc.send_signal(signal.SIGHUP)
    doc = wait_log(d, "config reloaded")
    assert doc.get("log_level") == "debug", doc


def test_connection_without_a_call_is_closed(attestd):
    """A client that connects and never speaks HTTP/2 must not hold a file descriptor forever
    (any local user could exhaust attestd's): it is closed after 10 s."""
    import socket

    d = attestd("auto")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(d.socket)
        s.settimeout(20)
        start = time.monotonic()
        data = s.recv(65536)  # the server's SETTINGS frame, then EOF when it gives up
        while data:
            data = s.recv(65536)
        waited = time.monotonic() - start
    finally:
        s.close()
    assert 8 <= waited <= 15, "closed after %.1f s, want about 10 s" % waited
    wait_log(d, "workload API: closing a connection that made no call")
