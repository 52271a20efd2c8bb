#!/usr/bin/env bash
# Side-by-side SCMI BASE PROTOCOL_VERSION round trips: drivervm vs rust-vmm's vhost-device-scmi,
# in one run, with drivervm-load at --outstanding 1 and 64.
#
# Usage: tools/perf/scmi_compare.sh [DURATION_S]
# Needs: cargo build --release; vhost-device-scmi on PATH or in $VHOST_DEVICE_SCMI
#        (cargo install vhost-device-scmi --root DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-5}
theirs=${VHOST_DEVICE_SCMI:-$(command -v vhost-device-scmi || true)}
[ -x "$theirs" ] || { echo "vhost-device-scmi not found: set VHOST_DEVICE_SCMI" >&2; exit 1; }
load=target/release/drivervm-load
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_sock() { for _ in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done; echo "no socket $1" >&2; exit 1; }

# A fresh vhost-device-scmi per measurement, stopped afterwards.
run_theirs() {
  rm -f "$tmp/theirs.sock"
  "$theirs" --socket-path "$tmp/theirs.sock" >/dev/null 2>&1 &
  local pid=$!
  wait_sock "$tmp/theirs.sock"
  "$load" --socket "$tmp/theirs.sock" --device scmi --op base-version \
    --outstanding "$1" --duration "$dur" --pid "$pid" --json
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

RUST_LOG=warn target/release/drivervm --runtime-dir "$tmp/ours" --state-dir "$tmp/state" &
ours_pid=$!
wait_sock "$tmp/ours/vm0-scmi.sock"

echo "# $(date -u +%FT%TZ) $(nproc) cores; duration ${dur}s; $("$theirs" --version)"
for n in 1 64; do
  printf 'drivervm          outstanding=%-3s ' "$n"
  "$load" --socket "$tmp/ours/vm0-scmi.sock" --device scmi --op base-version \
    --outstanding "$n" --duration "$dur" --pid "$ours_pid" --json
  printf 'vhost-device-scmi outstanding=%-3s ' "$n"
  run_theirs "$n"
done
