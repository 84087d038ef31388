"""Fixtures for the attestd end-to-end suite: a real daemon, real cgroups, the real kernel.

Run: ATTESTD_BUILD=/abs/build /usr/bin/python3 -m pytest -q -rs tests/e2e
Tests that need root or a missing component skip with the reason; they never pass silently.
"""

import os
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import helpers  # noqa: E402


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: loads BPF programs, creates cgroups and changes uid")


def need_binary(path):
    if not os.access(path, os.X_OK):
        pytest.skip("needs %s: build it with `make all` (ATTESTD_BUILD=%s)"
                    % (path, helpers.BUILD))


@pytest.fixture
def workdir():
    """A short private directory (Unix socket paths are limited to 108 bytes), traversable by
    the unprivileged uids peer_client switches to."""
    d = tempfile.mkdtemp(prefix="attestd-e2e-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def attestd(workdir):
    """Factory: attestd(backend="auto", extra_yaml="", peer_yaml="") starts a daemon and waits
    until it is ready. Every daemon is stopped at teardown (SIGTERM, then SIGKILL); a BPF backend
    must have pinned something, and after a clean shutdown its pin directory must be gone."""
    need_root()
    need_binary(helpers.ATTESTD)
    need_binary(helpers.PEER_CLIENT)
    daemons = []

    def start(backend="auto", extra_yaml="", peer_yaml=""):
        sub = os.path.join(workdir, "d%d" % len(daemons))
        os.mkdir(sub)
        os.chmod(sub, 0o755)
        d = helpers.Attestd(sub, backend=backend, extra_yaml=extra_yaml, peer_yaml=peer_yaml)
        daemons.append(d)
        return d.start()

    yield start
    problems = []
    for d in daemons:
        rc = d.stop()
        if d.chosen_backend in helpers.BPF_BACKENDS and not d.pinned:
            problems.append("backend %s pinned nothing under %s" % (d.chosen_backend, d.pin_dir))
        if rc != 0:
            problems.append("attestd exited with %s on SIGTERM:\n%s" % (rc, d.log_tail()))
        elif os.path.exists(d.pin_dir):
            problems.append("pin dir %s left after a clean shutdown" % d.pin_dir)
    assert not problems, "\n".join(problems)


@pytest.fixture
def cgroup():
    """Factory: cgroup("a/b") creates <cgroup2>/attestd-e2e-<uuid>/a/b and returns its path;
    cgroup.rel(path) gives the path relative to the cgroup2 root. Removed at teardown."""
    need_root()
    mount = helpers.cgroup2_mount()
    if not mount:
        pytest.skip("needs a cgroup2 mount (none in /proc/self/mountinfo)")
    f = helpers.CgroupFactory(mount)
    yield f
    f.cleanup()


@pytest.fixture
def clients():
    """Registers PeerClient objects; kills them (and their process groups) at teardown."""
    need_binary(helpers.PEER_CLIENT)
    started = []

    def spawn(sock, **kw):
        pc = helpers.PeerClient(sock, **kw)
        started.append(pc)
        return pc

    yield spawn
    for pc in started:
        pc.kill()


# ---- Workload API (issue 4) ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def wl_stubs():
    """Python stubs generated from tests/e2e/workload.proto into a private directory (readable
    by the other uids the tests switch to). Skips if protoc, the plugin or a module is missing."""
    import wlapi

    reason = wlapi.missing_tools()
    if reason:
        pytest.skip(reason)
    d = tempfile.mkdtemp(prefix="attestd-wlstubs-", dir="/tmp")
    os.chmod(d, 0o755)
    try:
        stubs = wlapi.generate(d)
        for name in os.listdir(d):
            os.chmod(os.path.join(d, name), 0o755 if os.path.isdir(os.path.join(d, name))
                     else 0o644)
        yield stubs
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def wl_client(wl_stubs, attestd):
    """Factory: wl_client(sock) opens a Workload API client (its own connection). Every client
    is closed at teardown, before the daemons are stopped (this fixture depends on attestd)."""
    import wlapi

    opened = []

    def open_client(sock):
        c = wlapi.Client(wl_stubs, sock)
        opened.append(c)
        return c

    yield open_client
    for c in opened:
        c.close()
