#!/usr/bin/env bash
# virtio-snd playback, drivervm vs rust-vmm's vhost-device-sound (null backend), in one run
# with the same harness (drivervm-snd-bench): one output stream, 48 kHz stereo S16, 10 ms
# periods, 4 queued, 64-entry queues. Each round starts both daemons afresh and runs the
# bench against each in both pacing modes (see src/bin/drivervm-snd-bench.rs), reporting
# completion jitter and the daemon's CPU (all its threads, from /proc/<pid>/stat).
#
# Usage: tools/perf/snd_compare.sh [DURATION_S] [ROUNDS]
#        (SND_BENCH_ARGS adds bench options to every run, e.g. --no-event-idx)
# Needs: cargo build --release --features harness --bin drivervm --bin drivervm-snd-bench; vhost-device-sound
#        on PATH or in $VHOST_DEVICE_SOUND (cargo install vhost-device-sound
#        --no-default-features --root DIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10}
rounds=${2:-3}
theirs=${VHOST_DEVICE_SOUND:-$(command -v vhost-device-sound || true)}
[ -x "$theirs" ] || { echo "vhost-device-sound not found: set VHOST_DEVICE_SOUND" >&2; exit 1; }
bin=target/release
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_sock() { for _ in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done; echo "no socket $1" >&2; exit 1; }

# drivervm's default sound device: "Master" output (null sink) and "Capture" (tone) input.
printf '[[guest]]\nname = "vm0"\n[[guest.device]]\nkind = "sound"\n' > "$tmp/snd.toml"

# A failed run is reported and the round goes on: a stalled backend is a result too.
bench() { # LABEL SOCKET PID PACE
  "$bin/drivervm-snd-bench" --label "$1" --socket "$2" --pid "$3" --pace "$4" \
    --duration "$dur" --period-ms 10 --periods 4 --queue-size 64 ${SND_BENCH_ARGS:-} 2>"$tmp/err" ||
    echo "$1 pace=$4 FAILED: $(tail -1 "$tmp/err")"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$theirs" --version 2>&1 | head -1)"
for r in $(seq "$rounds"); do
  for pace in device driver; do
    rm -rf "$tmp/run" "$tmp/theirs.sock"
    RUST_LOG=warn "$bin/drivervm" --config "$tmp/snd.toml" --runtime-dir "$tmp/run" &
    ours=$!
    RUST_LOG=warn "$theirs" --socket "$tmp/theirs.sock" --backend null &
    vds=$!
    wait_sock "$tmp/run/vm0-sound.sock"
    wait_sock "$tmp/theirs.sock"
    # Alternate who goes first so slow drift of a shared machine hits both.
    if [ $((r % 2)) -eq 1 ]; then
      bench "round=$r drivervm" "$tmp/run/vm0-sound.sock" "$ours" "$pace"
      bench "round=$r vhost-device-sound" "$tmp/theirs.sock" "$vds" "$pace"
    else
      bench "round=$r vhost-device-sound" "$tmp/theirs.sock" "$vds" "$pace"
      bench "round=$r drivervm" "$tmp/run/vm0-sound.sock" "$ours" "$pace"
    fi
    kill "$ours" "$vds" 2>/dev/null || true
    wait "$ours" "$vds" 2>/dev/null || true
  done
done
