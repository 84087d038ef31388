"""Self-test of the fake kubelet (tests/tools/fake_kubelet.py): every auth mode, every fault,
live pod lists, the request counter. Needs the openssl CLI (skips naming it); curl is used for
one request when present. No root needed.

Run: /usr/bin/python3 -m pytest -q -rs tests/e2e/test_fake_kubelet.py
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))

import fake_kubelet  # noqa: E402

NODE = "node-a.example"
POD_LIST = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
    {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1"},
     "spec": {"containers": [{"name": "c", "image": "img:1"}]},
     "status": {"phase": "Running", "containerStatuses": [
         {"name": "c", "image": "img:1", "imageID": "img@sha256:00",
          "containerID": "containerd://" + "ab" * 32, "state": {"running": {}}}]}}]}


@pytest.fixture(scope="module")
def pki():
    if not shutil.which("openssl"):
        pytest.skip("needs openssl: generates the test CA and certificates")
    d = tempfile.mkdtemp(prefix="fake-kubelet-pki-")
    yield fake_kubelet.make_test_pki(d, NODE)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="fake-kubelet-")
    with open(os.path.join(d, "pods.json"), "w") as f:
        json.dump(POD_LIST, f)
    with open(os.path.join(d, "token"), "w") as f:
        f.write("good-token\n")
    with open(os.path.join(d, "forbidden-token"), "w") as f:
        f.write("forbidden-token")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def kubelet(pki, workdir):
    started = []

    def start(*extra, pods=True):
        args = ["--cert", pki["server.pem"], "--key", pki["server.key"], "--node-name", NODE]
        if pods:
            args += ["--pods-file", os.path.join(workdir, "pods.json")]
        k = fake_kubelet.FakeKubelet(workdir, args + list(extra)).start()
        started.append(k)
        return k

    yield start
    for k in started:
        assert k.stop() == 0, "fake kubelet did not exit cleanly on SIGTERM"


def client_ctx(pki, cert=None, hostname_check=True):
    ctx = ssl.create_default_context(cafile=pki["ca.pem"])
    ctx.check_hostname = hostname_check
    if cert:
        ctx.load_cert_chain(pki[cert + ".pem"], pki[cert + ".key"])
    return ctx


def get(k, pki, path="/pods", token=None, cert=None, host="127.0.0.1", timeout=30):
    """(status, body bytes) of one GET, verifying the server certificate for `host`."""
    ctx = client_ctx(pki, cert)
    raw = socket.create_connection(("127.0.0.1", k.port), timeout=timeout)
    conn = http.client.HTTPSConnection(host, k.port, context=ctx, timeout=timeout)
    conn.sock = ctx.wrap_socket(raw, server_hostname=host)
    try:
        headers = {"Authorization": "Bearer " + token} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_anonymous_serves_file_verbatim_and_live(kubelet, pki, workdir):
    k = kubelet()
    with open(os.path.join(workdir, "pods.json"), "rb") as f:
        want = f.read()
    for host in ("127.0.0.1", "localhost", NODE):  # every SAN verifies
        status, body = get(k, pki, host=host)
        assert status == 200 and body == want
    # the file is re-read per request
    with open(os.path.join(workdir, "pods.json"), "w") as f:
        f.write('{"items":[]}')
    assert get(k, pki) == (200, b'{"items":[]}')
    assert get(k, pki, path="/other")[0] == 404
    assert k.count() == {"pods": 4, "ok": 4, "unauthorized": 0, "forbidden": 0}


def test_wrong_hostname_fails_verification(kubelet, pki):
    k = kubelet()
    with pytest.raises(ssl.SSLCertVerificationError):
        get(k, pki, host="not-the-node")


def test_token_auth(kubelet, pki, workdir):
    k = kubelet("--token-file", os.path.join(workdir, "token"),
                "--forbidden-token-file", os.path.join(workdir, "forbidden-token"))
    assert get(k, pki) == (401, b"Unauthorized")
    assert get(k, pki, token="bad-token") == (401, b"Unauthorized")
    status, body = get(k, pki, token="forbidden-token")
    assert status == 403 and body.startswith(b"Forbidden")
    status, body = get(k, pki, token="good-token")
    assert status == 200 and json.loads(body) == POD_LIST
    # token rotation: the file is re-read per request
    with open(os.path.join(workdir, "token"), "w") as f:
        f.write("rotated")
    assert get(k, pki, token="good-token")[0] == 401
    assert get(k, pki, token="rotated")[0] == 200
    assert k.count() == {"pods": 6, "ok": 2, "unauthorized": 3, "forbidden": 1}


def test_token_auth_with_curl(kubelet, pki, workdir):
    if not shutil.which("curl"):
        pytest.skip("needs curl")
    k = kubelet("--token-file", os.path.join(workdir, "token"))
    out = subprocess.run(
        ["curl", "-sS", "--cacert", pki["ca.pem"], "-H", "Authorization: Bearer good-token",
         "--resolve", "%s:%d:127.0.0.1" % (NODE, k.port), "https://%s:%d/pods" % (NODE, k.port),
         "-w", "\n%{http_code}"], capture_output=True, check=True, text=True).stdout
    body, code = out.rsplit("\n", 1)
    assert code == "200" and json.loads(body) == POD_LIST
    code = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki["ca.pem"],
         "https://127.0.0.1:%d/pods" % k.port], capture_output=True, text=True).stdout
    assert code == "401"


def test_client_cert_auth(kubelet, pki):
    k = kubelet("--client-ca", pki["client-ca.pem"], "--allowed-cn", "attestd")
    assert get(k, pki) == (401, b"Unauthorized")  # no certificate
    status, body = get(k, pki, cert="client")
    assert status == 200 and json.loads(body) == POD_LIST
    assert get(k, pki, cert="other-client")[0] == 403  # chains, but CN not allowed
    with pytest.raises((ssl.SSLError, ConnectionError)):  # does not chain: handshake fails
        get(k, pki, cert="rogue-client")
    assert k.count()["ok"] == 1


def test_token_or_cert(kubelet, pki, workdir):
    k = kubelet("--client-ca", pki["client-ca.pem"], "--token-file",
                os.path.join(workdir, "token"))
    assert get(k, pki, cert="other-client")[0] == 200  # no CN list: any chained cert
    assert get(k, pki, token="good-token")[0] == 200
    assert get(k, pki, token="nope")[0] == 401


def test_posted_pods_then_file_again(kubelet, pki):
    k = kubelet()
    posted = {"kind": "PodList", "items": [{"metadata": {"uid": "posted"}}]}
    k.post_pods(posted)
    assert json.loads(get(k, pki)[1]) == posted
    k._control("DELETE", "/_pods")
    assert json.loads(get(k, pki)[1]) == POD_LIST
    with pytest.raises(RuntimeError, match="400"):
        k._control("POST", "/_pods", b"{not json")


def test_no_pods_source_is_empty_list(kubelet, pki):
    k = kubelet(pods=False)
    assert json.loads(get(k, pki)[1])["items"] == []


def test_fault_delay(kubelet, pki):
    k = kubelet("--delay-ms", "400")
    t = time.monotonic()
    assert get(k, pki)[0] == 200
    assert time.monotonic() - t >= 0.4
    # the counter answers while a slow /pods is in flight
    k.set_faults(delay_ms=3000)
    import threading
    th = threading.Thread(target=get, args=(k, pki))
    th.start()
    time.sleep(0.3)
    t = time.monotonic()
    assert k.count()["pods"] == 2
    assert time.monotonic() - t < 1.0
    th.join()
    with pytest.raises(socket.timeout):
        get(k, pki, timeout=0.5)


def test_fault_status(kubelet, pki):
    k = kubelet("--status", "500")
    assert get(k, pki) == (500, b"injected failure")
    k.set_faults(status=0)
    assert get(k, pki)[0] == 200
    k.set_faults(status=503)
    assert get(k, pki)[0] == 503
    with pytest.raises(RuntimeError, match="400"):
        k.set_faults(bogus=1)


def test_fault_truncate_and_garbage(kubelet, pki, workdir):
    with open(os.path.join(workdir, "pods.json"), "rb") as f:
        full = f.read()
    k = kubelet("--truncate")
    status, body = get(k, pki)
    assert status == 200 and body == full[:len(full) // 2]
    with pytest.raises(ValueError):
        json.loads(body)
    k.set_faults(truncate=False, garbage=True)
    status, body = get(k, pki)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    k.set_faults(garbage=False, close=True)
    with pytest.raises(http.client.IncompleteRead):
        get(k, pki)


def test_generate_250(kubelet, pki, workdir):
    count_file = os.path.join(workdir, "count.json")
    k = kubelet("--generate", "250", "--count-file", count_file)
    status, body = get(k, pki)
    assert status == 200
    assert len(body) >= 5_000_000, len(body)
    items = json.loads(body)["items"]
    assert len(items) == 251  # the file's pod first, then 250 generated
    assert items[0] == POD_LIST["items"][0]
    cids = [s["containerID"] for p in items for key in ("containerStatuses",
            "initContainerStatuses") for s in p["status"].get(key, [])]
    assert len(cids) == len(set(cids)) == 1 + 250 * 3
    assert all(c.startswith("containerd://") and len(c) == 13 + 64 for c in cids)
    assert len({p["metadata"]["uid"] for p in items}) == 251
    assert all(p["spec"].get("nodeName") == NODE for p in items[1:])
    with open(count_file) as f:
        assert json.load(f) == {"pods": 1, "ok": 1, "unauthorized": 0, "forbidden": 0}
    k.reset()
    assert k.count()["pods"] == 0


def test_plain_http(workdir):
    k = fake_kubelet.FakeKubelet(workdir, ["--http", "--pods-file",
                                           os.path.join(workdir, "pods.json")]).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", k.port, timeout=10)
        conn.request("GET", "/pods")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == POD_LIST
        conn.close()
    finally:
        assert k.stop() == 0


def test_prints_port(pki, workdir):
    proc = subprocess.Popen(
        ["/usr/bin/python3", fake_kubelet.__file__, "--cert", pki["server.pem"], "--key",
         pki["server.key"]], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("port ")
        port = int(line.split()[1])
        assert 0 < port < 65536
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
