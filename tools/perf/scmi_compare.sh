#!/usr/bin/env bash
# Side-by-side SCMI BASE PROTOCOL_VERSION round trips: drivervm vs rust-vmm's vhost-device-scmi,
# in one run, with drivervm-load at --outstanding 1 and 64.
#
# Usage: tools/perf/scmi_compare.sh [DURATION_S] [ROUNDS]
# Each round measures both backends at both depths, in alternating order (ours first in odd
# rounds, theirs first in even ones), so that host load drifting during the run falls on both;
# the summary gives each side's median ops/s and the median of the per-round ratios.
# Needs: cargo build --release --features harness; vhost-device-scmi on PATH or in $VHOST_DEVICE_SCMI
#        (cargo install vhost-device-scmi --root DIR).
# QUEUE_POLL_MAX_US=N runs drivervm with service.queue_poll_max_us = N (0: no polling);
# unset, drivervm runs its embedded default (32 us).
# SAME_CPU=N runs both backends and the load tool on CPU N only (taskset), as a driver VM
# whose vCPU shares a physical CPU with the guest it serves.
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-5}
rounds=${2:-1}
theirs=${VHOST_DEVICE_SCMI:-$(command -v vhost-device-scmi || true)}
[ -x "$theirs" ] || { echo "vhost-device-scmi not found: set VHOST_DEVICE_SCMI" >&2; exit 1; }
load=target/release/drivervm-load
pin=()
[ -n "${SAME_CPU:-}" ] && pin=(taskset -c "$SAME_CPU")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_sock() { for _ in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done; echo "no socket $1" >&2; exit 1; }

# A fresh vhost-device-scmi per measurement, stopped afterwards.
run_theirs() {
  rm -f "$tmp/theirs.sock"
  "${pin[@]}" "$theirs" --socket-path "$tmp/theirs.sock" >/dev/null 2>&1 &
  local pid=$!
  wait_sock "$tmp/theirs.sock"
  "${pin[@]}" "$load" --socket "$tmp/theirs.sock" --device scmi --op base-version \
    --outstanding "$1" --duration "$dur" --pid "$pid" --json
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

config=()
if [ -n "${QUEUE_POLL_MAX_US:-}" ]; then
  { printf '[service]\nqueue_poll_max_us = %s\n' "$QUEUE_POLL_MAX_US"
    target/release/drivervm --print-default-config; } >"$tmp/config.toml"
  config=(--config "$tmp/config.toml")
fi
RUST_LOG=warn "${pin[@]}" target/release/drivervm "${config[@]}" --runtime-dir "$tmp/ours" --state-dir "$tmp/state" &
ours_pid=$!
wait_sock "$tmp/ours/vm0-scmi.sock"

echo "# $(date -u +%FT%TZ) $(nproc) cores; duration ${dur}s; rounds $rounds; queue_poll_max_us ${QUEUE_POLL_MAX_US:-default}; same cpu ${SAME_CPU:-no}; $("$theirs" --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
run_ours() {
  "${pin[@]}" "$load" --socket "$tmp/ours/vm0-scmi.sock" --device scmi --op base-version \
    --outstanding "$1" --duration "$dur" --pid "$ours_pid" --json
}
for r in $(seq "$rounds"); do
  for n in 1 64; do
    if [ $((r % 2)) -eq 1 ]; then order="ours theirs"; else order="theirs ours"; fi
    for who in $order; do
      printf '%s %s %s ' "$r" "$who" "$n"
      "run_$who" "$n"
    done
  done
done | tee "$tmp/runs"
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$tmp/runs" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r, who, n, js = line.split(" ", 3)
    runs.setdefault((int(n), who), {})[int(r)] = json.loads(js)
print("| outstanding | backend | median ops/s | min..max ops/s | median p99 µs | median CPU % |")
print("|---|---|---|---|---|---|")
for n in (1, 64):
    for who, name in (("ours", "drivervm"), ("theirs", "vhost-device-scmi")):
        v = list(runs[(n, who)].values())
        ops = [x["ops_per_sec"] for x in v]
        print(f"| {n} | {name} | {statistics.median(ops):,.0f} | {min(ops):,.0f}..{max(ops):,.0f} "
              f"| {statistics.median(x['latency_us']['p99'] for x in v):.1f} "
              f"| {statistics.median(x['backend_cpu_percent'] or 0 for x in v):.0f} |")
for n in (1, 64):
    a, b = runs[(n, "ours")], runs[(n, "theirs")]
    ratios = sorted(a[r]["ops_per_sec"] / b[r]["ops_per_sec"] for r in a if r in b)
    wins = sum(x >= 1 for x in ratios)
    print(f"outstanding {n}: ours/theirs per round median {statistics.median(ratios):.2f} "
          f"(min {ratios[0]:.2f}, max {ratios[-1]:.2f}); ours >= theirs in {wins}/{len(ratios)} rounds")
PY
