"""Configuration errors are clear: `attestd --check-config` and a normal start-up both refuse a bad
file with a non-zero exit status and one message on stderr that names the file, the key path (or
line:col) and the reason."""

import os
import re
import subprocess

import pytest

import helpers
from conftest import need_binary, need_root

GOOD = "trust_domain: example.org\nsocket: {sock}\nadmin_socket: {admin}\nstate_dir: {state}\n"

# (name, text after the good prefix or None = replace it entirely, regexes stderr must match)
BAD = [
    ("unknown_key", "peer: {backend: auto, bakend: lsm}\n", [r"peer\.bakend", r"unknown"]),
    ("unknown_top_key", "trust_domian: example.org\n", [r"trust_domian"]),
    ("bad_backend", "peer: {backend: bfp}\n", [r"peer\.backend", r"bfp"]),
    ("wrong_type_bool", "peer: {require_race_free: [1, 2]}\n", [r"peer\.require_race_free"]),
    ("wrong_type_map", "peer: auto\n", [r"\bpeer\b"]),
    ("wrong_type_int", "audit: {entries: lots}\n", [r"audit\.entries"]),
    (
        "yaml_syntax",
        "log: {level: info}\npeer: {backend: auto]\n",
        # libyaml: "did not find expected ',' or '}'" at line 6, column 21
        [r":6:21\b", r"(?i)yaml"],
    ),
    ("trust_domain_upper", None, [r"trust_domain"]),
    ("relative_state_dir", "state_dir: var/lib/attestd\n", [r"state_dir"]),
    ("unsupported_section", "metrics: {listen: \"127.0.0.1:9988\"}\n", [r"metrics"]),
]


def write_config(workdir, name, tail):
    fmt = dict(
        sock=os.path.join(workdir, "agent.sock"),
        admin=os.path.join(workdir, "admin.sock"),
        state=os.path.join(workdir, "state"),
    )
    if tail is None:  # trust_domain with uppercase letters
        text = GOOD.replace("example.org", "Example.ORG").format(**fmt)
    else:
        text = GOOD.format(**fmt) + tail
    path = os.path.join(workdir, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, timeout=20):
    return subprocess.run(
        [helpers.ATTESTD] + args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check_refused(p, path, patterns):
    assert p.returncode != 0, "accepted a bad config: %s\n%s" % (path, p.stderr)
    assert p.returncode > 0, "killed by signal %d:\n%s" % (-p.returncode, p.stderr)
    assert path in p.stderr, "message does not name the file:\n" + p.stderr
    for pat in patterns:
        assert re.search(pat, p.stderr), "stderr does not match %r:\n%s" % (pat, p.stderr)


@pytest.fixture(autouse=True)
def _binary():
    need_binary(helpers.ATTESTD)


def test_version():
    p = run(["--version"])
    assert p.returncode == 0, p.stderr
    out = (p.stdout + p.stderr).strip()
    assert re.search(r"\d+\.\d+\.\d+|\b[0-9a-f]{7,}\b|\bdev\b", out), out


def test_good_config_checks(workdir):
    path = write_config(workdir, "good", "peer: {backend: auto}\n")
    p = run(["--check-config", "--config", path])
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(os.path.join(workdir, "agent.sock")), "--check-config bound a socket"


@pytest.mark.parametrize("name,tail,patterns", BAD, ids=[b[0] for b in BAD])
def test_bad_config_check(workdir, name, tail, patterns):
    path = write_config(workdir, name, tail)
    check_refused(run(["--check-config", "--config", path]), path, patterns)


@pytest.mark.parametrize("name,tail,patterns", BAD, ids=[b[0] for b in BAD])
def test_bad_config_start(workdir, name, tail, patterns):
    path = write_config(workdir, name, tail)
    check_refused(run(["--config", path]), path, patterns)
    assert not os.path.exists(os.path.join(workdir, "agent.sock"))


@pytest.mark.parametrize("mode", [["--check-config"], []], ids=["check", "start"])
def test_missing_file(workdir, mode):
    path = os.path.join(workdir, "no-such-dir", "attestd.yaml")
    p = run(mode + ["--config", path])
    check_refused(p, path, [r"(?i)no such file"])


def test_bad_option():
    p = run(["--no-such-option"])
    assert p.returncode != 0
    assert "--no-such-option" in p.stderr or "no-such-option" in p.stderr, p.stderr


def lsm_active():
    try:
        with open("/sys/kernel/security/lsm") as f:
            return "bpf" in f.read().split(",")
    except OSError:
        return None  # securityfs not mounted: unknown


def test_forced_lsm_unavailable(workdir):
    """A forced backend that cannot load fails start-up and names the missing kernel feature."""
    need_root()
    if lsm_active():
        pytest.skip("needs a kernel without BPF LSM active (bpf is in the LSM list here)")
    pin = "/sys/fs/bpf/attestd-test-lsm-%d" % os.getpid()
    path = write_config(workdir, "lsm", "peer: {backend: lsm, pin_dir: %s}\n" % pin)
    p = run(["--config", path], timeout=30)
    assert p.returncode > 0, "started with backend lsm where BPF LSM is not active:\n" + p.stderr
    assert re.search(r"peer\.backend", p.stderr), p.stderr
    assert re.search(r"(?i)\bBPF LSM\b", p.stderr), "does not name BPF LSM:\n" + p.stderr
    assert not os.path.exists(os.path.join(workdir, "agent.sock"))
    assert not os.path.exists(pin), "failed start-up left its pin dir"


@pytest.mark.parametrize("backend", ["peercred", "pidfd"])
def test_require_race_free_refuses_racy_backend(workdir, backend):
    """peer.require_race_free: true refuses a backend that reads /proc after accept()."""
    need_root()
    tail = "peer: {backend: %s, require_race_free: true}\n" % backend
    path = write_config(workdir, "rrf", tail)
    p = run(["--config", path], timeout=30)
    assert p.returncode > 0, "started a racy backend despite require_race_free:\n" + p.stderr
    assert "require_race_free" in p.stderr and backend in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(workdir, "agent.sock"))
    # --check-config catches it too: the two keys contradict each other.
    p = run(["--check-config", "--config", path], timeout=30)
    assert p.returncode == 1 and "not race-free" in p.stderr, p.stderr


def test_require_race_free_with_auto(attestd):
    """With auto, require_race_free picks a BPF backend (or fails start-up: never a racy one)."""
    if helpers.kernel_version() < (6, 7):
        pytest.skip("needs kernel >= 6.7 for a BPF backend on every host (cgroup/connect_unix)")
    d = attestd(peer_yaml="require_race_free: true")
    assert d.chosen_backend in helpers.BPF_BACKENDS, d.chosen
    status, doc = d.get("/v1/status")
    assert status == 200 and doc["race_free"] is True, doc
