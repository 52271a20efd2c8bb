#!/usr/bin/env bash
# The sandbox's cost on the request path: SCMI BASE_PROTOCOL_VERSION and RPMB 1-block
# reads and writes through drivervm-load against the embedded default config, with the
# seccomp filters on (the default) and off (service.sandbox = false), alternating per
# round so load drifting during the run falls on both sides. Also prints each start's
# "sandbox: ..." line (lock_down's own time).
#
#   cargo build --release --features harness --bin drivervm --bin drivervm-load
#   tools/perf/sandbox_ab.sh [ROUNDS]
set -euo pipefail
ROUNDS=${1:-3}
BIN=${BIN:-target/release}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN/drivervm" --print-default-config > "$work/on.toml"
{ cat "$work/on.toml"; printf '\n[service]\nsandbox = false\n'; } > "$work/off.toml"

run() { # mode op device socket
  local mode=$1 op=$2 device=$3 socket=$4
  rm -rf "$work/run" "$work/state"
  "$BIN/drivervm" --config "$work/$mode.toml" --runtime-dir "$work/run" \
    --state-dir "$work/state" 2> "$work/log" &
  pid=$!
  for _ in $(seq 200); do grep -q "ready:" "$work/log" 2>/dev/null && break; sleep 0.05; done
  local out
  out=$("$BIN/drivervm-load" --socket "$work/run/$socket" --device "$device" --op "$op" \
    --duration 3 --warmup 1 --pid "$pid" 2>&1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$op" \
    "$(grep -o 'throughput [0-9]* ops/s' <<<"$out")" \
    "$(grep -o 'p50 [0-9.]*  p99 [0-9.]*' <<<"$out")" \
    "$(grep -o 'sandbox: uid.*' "$work/log" | sed 's/.*landlock/landlock/')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then modes="on off"; else modes="off on"; fi
  for mode in $modes; do
    run "$mode" base-version scmi vm0-scmi.sock
    run "$mode" read1 rpmb vm0-rpmb.sock
    run "$mode" write rpmb vm0-rpmb.sock
  done
done
