#!/usr/bin/env bash
# Control plane benchmark (issue 7): `status` (IDriverVm.listDevices) round trips over unix
# RPC binder while 4 SCMI devices are under load, and the devices' throughput with and
# without a client polling status every 10 ms.
#
# Usage: tools/perf/control_bench.sh [DURATION_S] [ROUNDS]
# Needs: cargo build --release (drivervm, drivervm-load, drivervm-ctlbench).
# Rounds alternate "no poller" and "poller" so slow drift of a shared machine hits both.
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-5}
rounds=${2:-3}
bin=target/release
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_sock() { for _ in $(seq 500); do [ -S "$1" ] && return 0; sleep 0.01; done; echo "no socket $1" >&2; exit 1; }

guests="vm0 vm1 vm2 vm3"
for g in $guests; do
  printf '[[guest]]\nname = "%s"\n[[guest.device]]\nkind = "scmi"\n' "$g"
done > "$tmp/four.toml"

RUST_LOG=warn "$bin/drivervm" --config "$tmp/four.toml" --runtime-dir "$tmp/run" &
svc=$!
for g in $guests; do wait_sock "$tmp/run/$g-scmi.sock"; done
wait_sock "$tmp/run/control.sock"
ctl="unix:$tmp/run/control.sock"

# utime+stime of the service, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$svc/stat"; }

# Four frontends, one per device, each keeping 8 requests in flight. Prints total ops/s and
# the service's CPU time per request in microseconds (all its threads, control plane included).
load4() {
  local pids=() t0 t1
  t0=$(ticks)
  for g in $guests; do
    "$bin/drivervm-load" --socket "$tmp/run/$g-scmi.sock" --device scmi --op base-version \
      --outstanding 8 --warmup 0 --duration "$dur" --json > "$tmp/$g.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(ticks)
  python3 - "$tmp" "$((t1 - t0))" "$(getconf CLK_TCK)" $guests <<'PY'
import json, sys
d, ticks, hz, guests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
runs = [json.load(open(f"{d}/{g}.json")) for g in guests]
ops = sum(r["ops"] for r in runs)
rate = sum(r["ops_per_sec"] for r in runs)
print(f"{round(rate)} {ticks / hz * 1e6 / ops:.3f}")
PY
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg); ${dur}s per run"
echo "# status round trips, idle devices, back to back; service CPU per call:"
t0=$(ticks)
"$bin/drivervm-ctlbench" --connect "$ctl" --duration "$dur" --json > "$tmp/idle.json"
t1=$(ticks)
cat "$tmp/idle.json"
python3 -c "import json,sys; c=json.load(open('$tmp/idle.json'))['calls']; print(f'service CPU per status call: {($t1-$t0)/$(getconf CLK_TCK)*1e6/c:.1f} us')"
echo "# round: ops/s and service CPU us/request, without poller | with a 10 ms poller; poller latency"
for r in $(seq "$rounds"); do
  base=$(load4)
  "$bin/drivervm-ctlbench" --connect "$ctl" --interval 10 --duration "$((dur + 1))" --json > "$tmp/poll.json" &
  poller=$!
  sleep 0.3
  polled=$(load4)
  wait "$poller"
  echo "round $r: $base | $polled; $(cat "$tmp/poll.json")"
done
echo "# status round trips under load, back to back (4 devices loaded):"
"$bin/drivervm-ctlbench" --connect "$ctl" --duration "$dur" --json > "$tmp/under.json" &
b=$!
load4 > /dev/null
wait "$b"
cat "$tmp/under.json"
kill "$svc"
wait "$svc" 2>/dev/null || true
