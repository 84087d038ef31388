"""attestctl against a real attestd: status, the audit ring, explain, diag, and clear errors."""

import json
import os
import re
import shutil
import subprocess

import pytest

import helpers
from conftest import need_binary


@pytest.fixture
def ctl(attestd):
    need_binary(helpers.ATTESTCTL)
    d = attestd()

    def run(*args, env=None, socket=True):
        argv = [helpers.ATTESTCTL]
        if socket:
            argv += ["--admin-socket", d.admin_socket]
        p = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60,
                           env=env)
        return p

    run.daemon = d
    return run


def ok(p):
    assert p.returncode == 0, "attestctl exited %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)
    return p.stdout


def test_status(ctl):
    d = ctl.daemon
    out = ok(ctl("status"))
    assert re.search(r"^backend\s+%s\b" % re.escape(d.chosen_backend), out, re.M), out
    assert re.search(r"^kernel\s+%s" % re.escape(os.uname().release), out, re.M), out
    assert d.socket in out and d.admin_socket in out, out


def test_status_json(ctl):
    doc = json.loads(ok(ctl("--json", "status")))
    _, api = ctl.daemon.get("/v1/status")
    assert doc["backend"] == api["backend"] == ctl.daemon.chosen_backend
    assert doc["version"] == api["version"]


def test_attestations_table_and_json(ctl, cgroup):
    d = ctl.daemon
    info = helpers.run_client(d.socket, uid=1000, gid=1000, cgroup=cgroup())
    d.wait_pid(info["pid"])
    out = ok(ctl("attestations"))
    rows = [line.split() for line in out.splitlines()]
    assert rows and rows[0][:4] == ["ID", "TIME", "PID", "UID"], out
    assert any(r[2:4] == [str(info["pid"]), "1000"] for r in rows[1:]), out
    recs = json.loads(ok(ctl("attestations", "--json", "--limit", "1")))
    assert isinstance(recs, list) and len(recs) == 1, recs
    assert recs[0]["peer"]["pid"] == info["pid"], recs


def test_explain_pid(ctl):
    pid = os.getpid()
    out = ok(ctl("explain", "--pid", str(pid)))
    assert str(pid) in out, out
    assert os.path.realpath("/proc/self/exe") in out, out
    assert re.search(r"backend\s+proc\b", out), out
    doc = json.loads(ok(ctl("explain", "--json", "--pid", str(pid))))
    assert doc["peer"]["pid"] == pid and doc["peer"]["backend"] == "proc", doc


def test_explain_missing_pid(ctl):
    p = ctl("explain", "--pid", "4194304")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "4194304" in p.stderr and "404" in p.stderr, p.stderr


def test_diag(ctl):
    if not (shutil.which("bpftool") or os.access("/usr/sbin/bpftool", os.X_OK)):
        pytest.skip("needs bpftool (Debian package bpftool)")
    d = ctl.daemon
    out = ok(ctl("diag"))
    assert d.chosen_backend in out, out
    if d.chosen_backend in helpers.BPF_BACKENDS:
        assert d.pin_dir in out, "diag does not show the pinned maps under %s:\n%s" % (
            d.pin_dir, out)
        doc = json.loads(ok(ctl("diag", "--json")))
        pins = json.dumps(doc)
        assert d.pin_dir in pins, doc
        assert doc.get("maps"), "diag --json lists no maps: %r" % (sorted(doc),)


def test_missing_socket(ctl, workdir):
    missing = os.path.join(workdir, "no-such.sock")
    for args in (["--admin-socket", missing, "status"], ["attestations", "--admin-socket",
                                                          missing]):
        p = ctl(*args, socket=False)
        assert p.returncode == 1, (args, p.returncode, p.stderr)
        assert missing in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1, "want one line:\n" + p.stderr
    env = dict(os.environ, ATTESTD_ADMIN_SOCKET=missing)
    p = ctl("status", env=env, socket=False)
    assert p.returncode == 1 and missing in p.stderr, p.stderr


def test_env_socket(ctl):
    env = dict(os.environ, ATTESTD_ADMIN_SOCKET=ctl.daemon.admin_socket)
    out = ok(ctl("status", env=env, socket=False))
    assert ctl.daemon.chosen_backend in out


@pytest.mark.parametrize("args", [[], ["bogus"], ["explain"], ["attestations", "--limit", "0"],
                                  ["status", "--pid", "1"]])
def test_usage_errors(ctl, args):
    p = ctl(*args)
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert p.stderr.startswith("attestctl: "), p.stderr
