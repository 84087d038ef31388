#!/usr/bin/python3
"""Section 5 of `make bench`: Sigstore image verification (issue 6).

Usage: tests/bench/bench_sigstore.py BUILD_DIR   (or through tests/bench/run-all, BENCH_SECTIONS=5)

Debian's docker-registry over TLS on 127.0.0.1 (tests/e2e/sigstore_env.Registry) holds two
random images signed by the test signer (BUILD/tests/sigstore_signer, its own Fulcio, Rekor, CT
log and TSA written as a trusted root):
  referrer: two cosign v3 referrer bundles (a signature, and a SLSA v1 provenance attestation)
            under the sha256-<hex> fallback index (docker-registry 2.8 has no referrers API);
  legacy:   a sha256-<hex>.sig simple-signing layer and a sha256-<hex>.att DSSE layer (SLSA v1).
For each, BUILD/bench/bench_sigstore (tests/bench/bench_sigstore.c) measures:
  - cold verification: a fresh OCI client + sigstore_image_verify per image, as one job of
    daemon/image_sigs.c runs it (TLS connection, every registry round trip, hashing, crypto);
  - baseline: the same signatures verified offline (fetched once, sigstore_image_verify_sigs):
    ratio cold / offline = what the registry and the network cost on top of the crypto;
  - cached lookup through the real daemon/image_sigs service (loop + 2 workers): the image
    verified once through the service (cold through the service: loop thread, call to callback),
    then BENCH_SIGSTORE_LOOKUPS lookups answered from its cache (a hit calls back before
    image_sigs_verify returns): ratio cold / cached = the cache's speed-up;
  - the same lookup with a full cache (IMAGE_SIGS_MAX_CACHE images verified by a stub: the cache
    is a linear scan).
Every verification must be "verified" with provenance; a WARNING line says otherwise.

Needs root (starts docker-registry, like the e2e tests) and /usr/bin/docker-registry; skips with
the reason otherwise. About 10 s. Tunables (environment): BENCH_SIGSTORE_ITERS (40, cold
verifications per image), BENCH_SIGSTORE_OFFLINE_ITERS (200), BENCH_SIGSTORE_SERVICE_ITERS (10),
BENCH_SIGSTORE_LOOKUPS (200000), BENCH_SIGSTORE_PHASE_MS (5000: each phase stops after its count
or this long, whichever comes first).
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import sigstore_env as se  # noqa: E402
from benchlib import log, section_main, sigterm_as_interrupt  # noqa: E402

ITERS = int(os.environ.get("BENCH_SIGSTORE_ITERS", "40"))
OFFLINE_ITERS = int(os.environ.get("BENCH_SIGSTORE_OFFLINE_ITERS", "200"))
SERVICE_ITERS = int(os.environ.get("BENCH_SIGSTORE_SERVICE_ITERS", "10"))
LOOKUPS = int(os.environ.get("BENCH_SIGSTORE_LOOKUPS", "200000"))
PHASE_MS = int(os.environ.get("BENCH_SIGSTORE_PHASE_MS", "5000"))
PHASES = 4  # cold, offline, service, full cache: each bounded by PHASE_MS
RUN_TIMEOUT = 30.0 + PHASES * PHASE_MS / 1000.0  # one bench_sigstore run
IMAGES = (("referrer", "referrer bundles: signature + SLSA provenance"),
          ("legacy", "legacy .sig + .att layers"))


def missing(build):
    """The reason this section cannot run, or None."""
    why = se.registry_prereqs()
    if why:
        return why
    for b in ("bench/bench_sigstore", "tests/sigstore_signer"):
        if not os.access(os.path.join(build, b), os.X_OK):
            return f"{os.path.join(build, b)} missing; run `make bench`"
    return None


def sign_images(reg, signer):
    """Pushes and signs the two images; returns {name: ref with digest}."""
    refs = {}
    for name, _ in IMAGES:
        repo = f"bench/{name}"
        digest, size = se.push_random_image(reg, repo)
        if name == "referrer":
            se.attach_referrer_bundle(reg, repo, digest, size, signer.sign(digest, "bundle"))
            se.attach_referrer_bundle(reg, repo, digest, size,
                                      signer.sign(digest, "bundle", predicate_type=se.SLSA_V1))
        else:
            se.attach_layers(reg, repo, digest, "sig", [signer.sign(digest, "legacy")])
            se.attach_layers(reg, repo, digest, "att",
                             [signer.sign(digest, "att", predicate_type=se.SLSA_V1)])
        refs[name] = f"{reg.host}/{repo}@{digest}"
    return refs


def run_bench(build, reg, signer, ref):
    with open(signer.trusted_root) as f:
        rekor_url = json.load(f)["tlogs"][0]["baseUrl"]
    argv = [os.path.join(build, "bench", "bench_sigstore"), "--ref", ref,
            "--trusted-root", signer.trusted_root, "--rekor-url", rekor_url, "--ca", reg.ca,
            "--allow", f"{se.DEFAULT_ISSUER}={se.DEFAULT_IDENTITY}",
            "--iters", str(ITERS), "--offline-iters", str(OFFLINE_ITERS),
            "--service-iters", str(SERVICE_ITERS), "--lookups", str(LOOKUPS),
            "--phase-ms", str(PHASE_MS)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError(f"bench_sigstore {ref}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def ms(us):
    return f"{us / 1000:.1f}" if us >= 100 else f"{us / 1000:.2f}"


def ratio(a, b):
    if b <= 0:
        return "n/a"
    return f"{a / b:,.0f}" if a / b >= 100 else f"{a / b:.1f}"


def summary(res):
    lines, notes = [], []
    for name, what in IMAGES:
        r = res[name]
        c, o, sc, k, kf = r["cold"], r["offline"], r["service_cold"], r["cached"], \
            r["cached_full"]
        lines.append(
            f"sigstore cold verification ({what}, {r['n_found']} found): {ms(c['p50_us'])} "
            f"ms/image p50/p99 {ms(c['p50_us'])}/{ms(c['p99_us'])} ms, mean "
            f"{ms(c['mean_us'])} ms ({c['n']} runs, fresh OCI client each; first two "
            f"{ms(r['warmup_us'][0])}/{ms(r['warmup_us'][1])} ms); offline verify "
            f"{ms(o['p50_us'])} ms p50 ({o['n']} runs); ratio cold/offline "
            f"{ratio(c['p50_us'], o['p50_us'])}")
        lines.append(
            f"sigstore cached lookup ({name}, daemon/image_sigs, 1 image cached): "
            f"{k['mean_ns']:,.0f} ns/lookup ({k['n']} lookups; timed one by one p50/p99 "
            f"{k['p50_ns']:,.0f}/{k['p99_ns']:,.0f} ns); cold through the service "
            f"{ms(sc['p50_us'])} ms p50 ({sc['n']} runs); ratio cold/cached "
            f"{ratio(sc['p50_us'] * 1000, k['mean_ns'])}")
        if name == IMAGES[0][0]:
            lines.append(
                f"sigstore cached lookup, full cache ({kf['entries']} images, stub verifier): "
                f"{kf['mean_ns']:,.0f} ns/lookup ({kf['n']} lookups over all entries); "
                f"ratio cold/cached {ratio(sc['p50_us'] * 1000, kf['mean_ns'])}")
        if r["failures"]:
            notes.append(f"{name}: {r['failures']} verifications not verified, first: "
                         f"{r['first_failure']}")
    lines.extend("WARNING: " + n for n in notes)
    return lines


def bench_sigstore(build, workdir):
    """Runs section 5; returns the summary lines. Raises RuntimeError on a failure."""
    tmp = os.path.join(workdir, "sigstore")
    os.makedirs(tmp)
    reg = se.Registry(tmp)
    signer = se.Signer(tmp, binary=os.path.join(build, "tests", "sigstore_signer"))
    old_term = signal.signal(signal.SIGTERM, sigterm_as_interrupt)
    try:
        t0 = time.monotonic()
        reg.start()
        signer.init()
        refs = sign_images(reg, signer)
        log(f"  registry {reg.host} up, 2 images pushed and signed in "
            f"{time.monotonic() - t0:.1f} s")
        res = {}
        for name, what in IMAGES:
            res[name] = r = run_bench(build, reg, signer, refs[name])
            log(f"  {name}: cold p50 {ms(r['cold']['p50_us'])} ms, offline p50 "
                f"{ms(r['offline']['p50_us'])} ms, service cold p50 "
                f"{ms(r['service_cold']['p50_us'])} ms, cached {r['cached']['mean_ns']:,.0f} "
                f"ns, full cache {r['cached_full']['mean_ns']:,.0f} ns, "
                f"{r['failures']} failures")
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"timed out: {e}") from e
    except AssertionError as e:
        raise RuntimeError(f"setting up the signed images: {e}") from e
    finally:
        signal.signal(signal.SIGTERM, old_term)
        reg.stop()
    return summary(res)


def main():
    return section_main("sigstore", "5. Sigstore image verification", missing, bench_sigstore)


if __name__ == "__main__":
    sys.exit(main())
