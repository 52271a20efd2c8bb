#!/usr/bin/env bash
# Repeated short device-paced virtio-snd runs against a fresh drivervm each, to hunt lost
# wake-ups (a run fails when the bench sees no completion for 2 s). Load the host yourself
# (e.g. a few `yes > /dev/null`) to reproduce the conditions of docs/perf.md's sound section.
#
# Usage: tools/perf/snd_stall_stress.sh BINDIR RUNS DURATION_S OUTDIR
#        PACE=device|driver, LOG=<RUST_LOG for the daemon>, ARGS=<extra bench options>
# A failed run keeps its daemon log (OUTDIR/dN.log) next to the bench's (OUTDIR/bN.log).
set -uo pipefail
bin=$1 runs=$2 dur=$3 out=$4
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '[[guest]]\nname = "vm0"\n[[guest.device]]\nkind = "sound"\n' >"$tmp/snd.toml"
pass=0 fail=0
for i in $(seq "$runs"); do
  rm -rf "$tmp/run"
  RUST_LOG=${LOG:-info} "$bin/drivervm" --config "$tmp/snd.toml" --runtime-dir "$tmp/run" >"$out/d$i.log" 2>&1 &
  d=$!
  for _ in $(seq 500); do [ -S "$tmp/run/vm0-sound.sock" ] && break; sleep 0.01; done
  # shellcheck disable=SC2086
  if "$bin/drivervm-snd-bench" --socket "$tmp/run/vm0-sound.sock" --pid "$d" --pace "${PACE:-device}" \
    --duration "$dur" --period-ms 10 --periods 4 --queue-size 64 ${ARGS:-} >"$out/b$i.log" 2>&1; then
    pass=$((pass + 1))
    rm -f "$out/d$i.log"
  else
    fail=$((fail + 1))
    echo "run $i FAILED: $(tail -1 "$out/b$i.log")"
  fi
  kill "$d"
  wait "$d" 2>/dev/null
done
echo "pass=$pass fail=$fail loadavg=$(cut -d' ' -f1 /proc/loadavg)"
