#!/usr/bin/python3
"""A fake kubelet for tests: serves GET /pods over HTTPS on 127.0.0.1 (Python 3 stdlib only).

Run:  /usr/bin/python3 tests/tools/fake_kubelet.py --cert S.pem --key S.key \
          [--pods-file F] [--token-file T] [--client-ca CA.pem] [--port-file P] ...
It binds an ephemeral port (or --port), prints "port <N>" on stdout and writes N to --port-file.

/pods body: the --pods-file, re-read on every request (tests rewrite it live; served verbatim,
so a broken file is served broken), or the JSON last POSTed to /_pods; plus --generate N
synthetic pods appended (then the base must be valid JSON, and the list is re-encoded).

Authentication on /pods (the real kubelet's answers): with neither --token-file nor --client-ca,
anonymous. Otherwise any configured method may pass:
  --token-file T    "Authorization: Bearer <T's contents, stripped>" (T re-read per request)
  --client-ca CA    a client certificate chained to CA (TLS asks for one; a certificate that
                    does not verify fails the handshake)
No credentials or a wrong token: 401 "Unauthorized". A token listed in --forbidden-token-file,
or a client certificate whose CN is not in --allowed-cn (when given): 403 "Forbidden".

Faults (command line, or live through POST /_faults {"delay_ms":..,"status":..,"truncate":..,
"garbage":..,"close":..}): --delay-ms N before answering; --status C answers C with a short body;
--truncate cuts the JSON body in half (with a matching Content-Length); --garbage answers
non-JSON bytes; --close sends headers announcing the full length, half the body, then closes.

Control endpoints (no authentication): GET /_count -> {"pods": N, "ok": N, "unauthorized": N,
"forbidden": N}; POST /_reset zeroes the counts; POST /_pods sets the list (body = JSON);
DELETE /_pods goes back to --pods-file; POST /_faults sets faults (omitted keys keep values).
--count-file F is rewritten with the /_count JSON after every /pods request.
--http serves plain HTTP (the read-only port) instead of TLS.

As a module: make_test_pki(dir, node_name) creates a CA, a server certificate (SAN 127.0.0.1,
localhost, node_name), a client CA and client certificates with the openssl CLI; FakeKubelet(...)
starts this script as a subprocess and stops it (context manager).
"""

import argparse
import hashlib
import http.server
import json
import os
import shutil
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time

HANDSHAKE_TIMEOUT = 10.0
MAX_CONTROL_BODY = 256 << 20


# ---- synthetic pods -----------------------------------------------------------------------

def _hex(seed, n=64):
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def _uid(seed):
    h = _hex(seed, 32)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def generated_pod(i, node_name, pad):
    """One synthetic running pod: 2 containers (containerd IDs), 1 init container, labels,
    owner, an annotation padded to `pad` bytes so the list reaches the requested size."""
    ns = "gen-%d" % (i % 10)
    name = "gen-%d-%s" % (i, _hex("name%d" % i, 5))
    images = ["registry.example/app:%d" % (i % 7), "registry.example/sidecar:1"]
    containers, statuses = [], []
    for c, image in enumerate(images):
        cname = "app" if c == 0 else "sidecar"
        containers.append({
            "name": cname, "image": image,
            "env": [{"name": "VAR_%d" % k, "value": _hex("env%d-%d-%d" % (i, c, k), 32)}
                    for k in range(8)],
            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
        })
        statuses.append({
            "name": cname, "image": image,
            "imageID": "registry.example/%s@sha256:%s" % (image.split("/")[1].split(":")[0],
                                                          _hex("img" + image)),
            "containerID": "containerd://" + _hex("pod%d-c%d" % (i, c)),
            "ready": True, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
        })
    return {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "namespace": ns, "uid": _uid("pod%d" % i),
            "labels": {"app": "gen-%d" % (i % 25), "pod-template-hash": _hex("h%d" % i, 10)},
            "annotations": {"example.com/padding": "x" * max(0, pad)},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": "gen-rs-%d" % (i % 25), "uid": _uid("rs%d" % (i % 25)),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "serviceAccountName": "sa-%d" % (i % 5), "nodeName": node_name,
            "initContainers": [{"name": "init", "image": "registry.example/init:1"}],
            "containers": containers,
        },
        "status": {
            "phase": "Running",
            "initContainerStatuses": [{
                "name": "init", "image": "registry.example/init:1",
                "imageID": "registry.example/init@sha256:" + _hex("init"),
                "containerID": "containerd://" + _hex("pod%d-init" % i),
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }],
            "containerStatuses": statuses,
        },
    }


def generate_items(n, node_name, total_bytes):
    """n pods whose JSON encoding totals about total_bytes; returns the comma-joined items."""
    if n <= 0:
        return ""
    base = len(json.dumps(generated_pod(0, node_name, 0)))
    pad = total_bytes // n - base
    return ",".join(json.dumps(generated_pod(i, node_name, pad)) for i in range(n))


# ---- server -------------------------------------------------------------------------------

class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.posted = None  # bytes of the JSON last POSTed to /_pods
        self.faults = {"delay_ms": args.delay_ms, "status": args.status,
                       "truncate": args.truncate, "garbage": args.garbage, "close": args.close}
        self.counts = {"pods": 0, "ok": 0, "unauthorized": 0, "forbidden": 0}
        self.generated = generate_items(args.generate, args.node_name,
                                        int(args.generate_mb * 1000 * 1000))

    def count(self, key):
        with self.lock:
            self.counts["pods"] += 1 if key == "pods" else 0
            if key != "pods":
                self.counts[key] += 1
            snapshot = json.dumps(self.counts)
        if self.args.count_file:
            tmp = self.args.count_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(snapshot)
            os.replace(tmp, self.args.count_file)

    def body(self):
        with self.lock:
            posted = self.posted
        if posted is not None:
            raw = posted
        elif self.args.pods_file:
            with open(self.args.pods_file, "rb") as f:
                raw = f.read()
        else:
            raw = b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}'
        if not self.generated:
            return raw
        items = json.loads(raw).get("items") or []
        parts = [json.dumps(i) for i in items] + [self.generated]
        return ('{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[%s]}'
                % ",".join(parts)).encode()


def _read_token(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _peer_cn(cert):
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kubelet/1"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_TIMEOUT)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def log_message(self, fmt, *a):
        if self.server.state.args.verbose:
            sys.stderr.write("fake-kubelet: %s\n" % (fmt % a))

    def _send(self, code, body, ctype="application/json", length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_CONTROL_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n)

    def _auth(self):
        """None if allowed, else the (code, body) to answer."""
        args = self.server.state.args
        if not args.token_file and not args.client_ca:
            return None
        cert = self.request.getpeercert() if isinstance(self.request, ssl.SSLSocket) else None
        forbidden = False
        if args.client_ca and cert:
            if not args.allowed_cn or _peer_cn(cert) in args.allowed_cn:
                return None
            forbidden = True
        hdr = self.headers.get("Authorization") or ""
        if args.token_file and hdr.startswith("Bearer "):
            token = hdr[len("Bearer "):].strip()
            if args.forbidden_token_file and token == _read_token(args.forbidden_token_file):
                forbidden = True
            elif token and token == _read_token(args.token_file):
                return None
        if forbidden:
            return 403, b"Forbidden (user=system:serviceaccount:test:attestd, verb=get, " \
                        b"resource=nodes, subresource=proxy)"
        return 401, b"Unauthorized"

    def do_GET(self):
        state = self.server.state
        path = self.path.split("?", 1)[0]
        if path == "/_count":
            with state.lock:
                body = json.dumps(state.counts).encode()
            return self._send(200, body)
        if path not in ("/pods", "/pods/"):
            return self._send(404, b"404 page not found", "text/plain")
        state.count("pods")
        denied = self._auth()
        if denied:
            state.count("unauthorized" if denied[0] == 401 else "forbidden")
            return self._send(denied[0], denied[1], "text/plain")
        with state.lock:
            faults = dict(state.faults)
        if faults["delay_ms"]:
            time.sleep(faults["delay_ms"] / 1000.0)
        if faults["status"] and faults["status"] != 200:
            return self._send(int(faults["status"]), b"injected failure", "text/plain")
        if faults["garbage"]:
            return self._send(200, b"\x00\xffnot json at all <html>")
        body = state.body()
        state.count("ok")
        if faults["truncate"]:
            return self._send(200, body[:len(body) // 2])
        if faults["close"]:
            self._send(200, body[:len(body) // 2], length=len(body))
            self.close_connection = True
            return None
        return self._send(200, body)

    def do_POST(self):
        state = self.server.state
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
            if path == "/_reset":
                with state.lock:
                    for k in state.counts:
                        state.counts[k] = 0
                return self._send(200, b"{}")
            if path == "/_pods":
                json.loads(body)
                with state.lock:
                    state.posted = body
                return self._send(200, b"{}")
            if path == "/_faults":
                new = json.loads(body)
                with state.lock:
                    for k, v in new.items():
                        if k not in state.faults:
                            raise ValueError("unknown fault %r" % k)
                        state.faults[k] = v
                return self._send(200, b"{}")
        except ValueError as e:
            return self._send(400, str(e).encode(), "text/plain")
        return self._send(404, b"404 page not found", "text/plain")

    def do_DELETE(self):
        if self.path == "/_pods":
            with self.server.state.lock:
                self.server.state.posted = None
            return self._send(200, b"{}")
        return self._send(404, b"404 page not found", "text/plain")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state, ctx):
        self.state = state
        self.ctx = ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            # The handshake runs in the handler's thread: a stalled client blocks no one.
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if self.state.args.verbose:
            super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="fake kubelet serving /pods over HTTPS")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--http", action="store_true", help="plain HTTP (read-only port)")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--pods-file")
    p.add_argument("--token-file")
    p.add_argument("--forbidden-token-file")
    p.add_argument("--client-ca")
    p.add_argument("--allowed-cn", action="append", default=[])
    p.add_argument("--anonymous", action="store_true",
                   help="explicit: no authentication (the default without token/client CA)")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--status", type=int, default=0)
    p.add_argument("--truncate", action="store_true")
    p.add_argument("--garbage", action="store_true")
    p.add_argument("--close", action="store_true")
    p.add_argument("--generate", type=int, default=0, metavar="N")
    p.add_argument("--generate-mb", type=float, default=5.0)
    p.add_argument("--node-name", default="fake-node")
    p.add_argument("--count-file")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.http and not (args.cert and args.key):
        p.error("--cert and --key are required (or --http)")
    if args.anonymous and (args.token_file or args.client_ca):
        p.error("--anonymous excludes --token-file and --client-ca")
    if args.http and args.client_ca:
        p.error("--client-ca needs TLS")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    ctx = None
    if not args.http:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(args.client_ca)
    server = Server(("127.0.0.1", args.port), State(args), ctx)
    # Before the port is announced, so a SIGTERM right after start-up still exits cleanly.
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("port %d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


# ---- helpers for tests --------------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_test_pki(directory, node_name="fake-node"):
    """Creates in `directory`: ca.pem/ca.key (server CA), server.pem/server.key (SAN IP
    127.0.0.1, DNS localhost, DNS node_name), client-ca.pem, client.pem/client.key (CN
    attestd, from client-ca), other-client.pem/.key (CN other, from client-ca),
    rogue-client.pem/.key (self-signed: does not chain). Returns a dict name -> path."""
    if not shutil.which("openssl"):
        raise FileNotFoundError("openssl")
    d = directory
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=fake-kubelet-ca", cwd=d)
    _openssl("req", "-x509", *ec, "-keyout", "client-ca.key", "-out", "client-ca.pem",
             "-days", "2", "-subj", "/CN=fake-client-ca", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\n"
                "extendedKeyUsage=serverAuth\n" % node_name)
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")

    def leaf(name, cn, ca, ext):
        _openssl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + cn, cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                 ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                 "-extfile", ext, cwd=d)

    leaf("server", node_name, "ca", "server.ext")
    leaf("client", "attestd", "client-ca", "client.ext")
    leaf("other-client", "other", "client-ca", "client.ext")
    _openssl("req", "-x509", *ec, "-keyout", "rogue-client.key", "-out", "rogue-client.pem",
             "-days", "2", "-subj", "/CN=attestd", cwd=d)
    names = ["ca", "server", "client-ca", "client", "other-client", "rogue-client"]
    out = {}
    for n in names:
        out[n + ".pem"] = os.path.join(d, n + ".pem")
        if n != "client-ca":
            out[n + ".key"] = os.path.join(d, n + ".key")
    return out


class FakeKubelet:
    """Starts fake_kubelet.py as a subprocess: FakeKubelet(workdir, ["--cert", ...]).start();
    .port, .url, .count(), .post_pods(obj), .set_faults(**kw), .stop(). Context manager."""

    def __init__(self, workdir, args, python="/usr/bin/python3"):
        self.workdir = workdir
        self.args = list(args)
        self.python = python
        self.proc = None
        self.port = None
        self.tls = "--http" not in self.args

    def start(self, timeout=20.0):
        port_file = os.path.join(self.workdir, "fake-kubelet-%d.port" % id(self))
        log = open(os.path.join(self.workdir, "fake-kubelet.log"), "ab")
        self.proc = subprocess.Popen(
            [self.python, os.path.abspath(__file__), "--port-file", port_file] + self.args,
            stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read())
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("fake kubelet exited with %s" % self.proc.returncode)
            time.sleep(0.02)
        self.stop()
        raise TimeoutError("fake kubelet did not start")

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def _control(self, method, path, body=None):
        import http.client
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data))
            return json.loads(data)
        finally:
            conn.close()

    def count(self):
        return self._control("GET", "/_count")

    def reset(self):
        self._control("POST", "/_reset", b"")

    def post_pods(self, pod_list):
        self._control("POST", "/_pods", json.dumps(pod_list).encode())

    def set_faults(self, **faults):
        self._control("POST", "/_faults", json.dumps(faults).encode())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
