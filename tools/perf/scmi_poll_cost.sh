#!/usr/bin/env bash
# What adaptive queue polling costs and buys at a given request rate: SCMI BASE
# PROTOCOL_VERSION, one request in flight, paced at one request every N us
# (drivervm-load --interval-us), against drivervm with polling at its default, with polling
# off (service.queue_poll_max_us = 0), and, if found, vhost-device-scmi.
#
# Usage: tools/perf/scmi_poll_cost.sh [DURATION_S] [INTERVALS_US...]
# Needs: cargo build --release --features harness; vhost-device-scmi on PATH or in $VHOST_DEVICE_SCMI (optional).
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-3}
shift || true
intervals=("${@:-0 10 20 50 100 1000}")
read -r -a intervals <<<"${intervals[*]}"
theirs=${VHOST_DEVICE_SCMI:-$(command -v vhost-device-scmi || true)}
load=target/release/drivervm-load
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

cat >"$tmp/row.py" <<'PY'
import json, sys
d = json.load(sys.stdin)
lat = d["latency_us"]
row = [sys.argv[1], sys.argv[2], f"{d['ops_per_sec']:,.0f}", f"{lat['p50']:.1f}",
       f"{lat['p99']:.1f}", f"{d['backend_cpu_percent']:.1f}"]
print("| " + " | ".join(row) + " |")
PY

wait_sock() { for _ in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done; echo "no socket $1" >&2; exit 1; }

start_ours() { # $1 name, $2 queue_poll_max_us or "" for the default
  local dir="$tmp/$1" config=()
  mkdir -p "$dir"
  if [ -n "$2" ]; then
    { printf '[service]\nqueue_poll_max_us = %s\n' "$2"; target/release/drivervm --print-default-config; } >"$dir/config.toml"
    config=(--config "$dir/config.toml")
  fi
  RUST_LOG=warn target/release/drivervm "${config[@]}" --runtime-dir "$dir/run" --state-dir "$dir/state" &
  echo $! >"$dir/pid"
  wait_sock "$dir/run/vm0-scmi.sock"
  echo "$dir/run/vm0-scmi.sock" >"$dir/sock"
}

start_ours polled ""
start_ours unpolled 0
if [ -x "$theirs" ]; then
  "$theirs" --socket-path "$tmp/theirs.sock" >/dev/null 2>&1 &
  echo $! >"$tmp/theirs.pid"
  wait_sock "$tmp/theirs.sock"
fi

echo "# $(date -u +%FT%TZ) $(nproc) cores; duration ${dur}s; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| interval µs | backend | ops/s | p50 µs | p99 µs | backend CPU % |"
echo "|---|---|---|---|---|---|"
for iv in "${intervals[@]}"; do
  for who in polled unpolled theirs; do
    case $who in
      theirs) [ -x "$theirs" ] || continue; sock=$tmp/theirs.sock; pid=$(cat "$tmp/theirs.pid");
              name="vhost-device-scmi" ;;
      polled) sock=$(cat "$tmp/$who/sock"); pid=$(cat "$tmp/$who/pid"); name="drivervm (poll ≤ 32 µs)" ;;
      unpolled) sock=$(cat "$tmp/$who/sock"); pid=$(cat "$tmp/$who/pid"); name="drivervm (no polling)" ;;
    esac
    pace=()
    [ "$iv" -gt 0 ] && pace=(--interval-us "$iv")
    "$load" --socket "$sock" --device scmi --op base-version --outstanding 1 "${pace[@]}" \
      --duration "$dur" --pid "$pid" --json |
      python3 "$tmp/row.py" \
        "$([ "$iv" -gt 0 ] && echo "$iv" || echo "flat out")" "$name"
  done
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
