"""Helpers shared by the Python bench sections (bench_k8s.py, bench_sigstore.py): log lines, a
SIGTERM that unwinds like Ctrl-C (so the sections' cleanup runs), and the scripts' main()."""

import os
import shutil
import subprocess
import sys
import tempfile
import time


def log(msg):
    print(msg, flush=True)


def sigterm_as_interrupt(signum, frame):
    """A SIGTERM handler: raises KeyboardInterrupt, so finally blocks clean up."""
    raise KeyboardInterrupt(f"signal {signum}")


def section_main(name, title, missing, run):
    """main() of tests/bench/bench_<name>.py BUILD_DIR: prints the reason missing(build) gives
    and exits 0, or logs title, calls run(build, workdir) in a fresh temporary workdir (always
    removed) and prints the summary lines it returns. Exit 1 on a RuntimeError or a failed
    command, 130 on an interrupt (SIGINT, or SIGTERM with sigterm_as_interrupt), 2 on usage."""
    if len(sys.argv) != 2:
        print(f"usage: tests/bench/bench_{name}.py BUILD_DIR", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    reason = missing(build)
    if reason:
        print(f"bench {name}: SKIPPED: {reason}")
        return 0
    workdir = tempfile.mkdtemp(prefix=f"attestd-bench-{name}.")
    t0 = time.monotonic()
    try:
        log(title)
        lines = run(build, workdir)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", None)
        print(f"bench {name}: FAILED: {e}{': ' + err if err else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(f"bench {name}: interrupted ({e or 'SIGINT'}); cleaned up", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"\nresults ({time.monotonic() - t0:.0f} s):")
    for line in lines:
        log(line)
    return 0
