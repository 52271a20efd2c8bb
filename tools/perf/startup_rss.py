#!/usr/bin/env python3
"""Measures drivervm's startup time (exec to every socket accepting connections) and idle RSS.

Usage: tools/perf/startup_rss.py [--binary target/release/drivervm] [--runs 20] [--config FILE]

Each run starts the daemon in a fresh runtime dir, connects to every socket its
--check-config lists as soon as it can, and records the elapsed time; after 1 s idle it
reads VmRSS from /proc. Prints min/median/max and exits 0; results go in docs/perf.md.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def sockets_for(binary, config, run_dir):
    args = [binary, "--check-config", "--runtime-dir", run_dir, "--state-dir", run_dir + ".state"]
    if config:
        args += ["--config", config]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("\t")[3] for line in out.splitlines() if line.strip()]


def connectable(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def one_run(binary, config):
    with tempfile.TemporaryDirectory() as d:
        run_dir = os.path.join(d, "run")
        paths = sockets_for(binary, config, run_dir)
        args = [binary, "--runtime-dir", run_dir, "--state-dir", os.path.join(d, "state")]
        if config:
            args += ["--config", config]
        env = dict(os.environ, RUST_LOG="warn")
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pending = list(paths)
        while pending:
            pending = [p for p in pending if not connectable(p)]
            if proc.poll() is not None:
                sys.exit(f"drivervm exited early with {proc.returncode}")
            if time.perf_counter() - t0 > 10:
                sys.exit("sockets never became connectable")
        startup_ms = (time.perf_counter() - t0) * 1000
        # Idle: connections above were accepted and dropped; let it settle back.
        time.sleep(1.0)
        rss = rss_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        return startup_ms, rss, len(paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default="target/release/drivervm")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--config", default=None)
    a = ap.parse_args()
    results = [one_run(a.binary, a.config) for _ in range(a.runs)]
    starts = [r[0] for r in results]
    rss = [r[1] for r in results]
    print(f"devices: {results[0][2]}, runs: {a.runs}")
    print(f"startup to all sockets connectable (ms): min {min(starts):.2f} "
          f"median {statistics.median(starts):.2f} max {max(starts):.2f}")
    print(f"idle RSS (KiB): min {min(rss)} median {statistics.median(rss):.0f} max {max(rss)}")


if __name__ == "__main__":
    main()
