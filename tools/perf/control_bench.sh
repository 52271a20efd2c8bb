#!/usr/bin/env bash
# Control plane benchmark (issue 7): `status` (IDriverVm.listDevices) round trips over unix
# RPC binder, and the throughput of 4 loaded SCMI devices with (B) and without (A) a client
# polling status every 10 ms.
#
# Usage: tools/perf/control_bench.sh [DURATION_S] [PAIRS]
# Needs: cargo build --release --features harness (drivervm, drivervm-load, drivervm-ctlbench).
#
# A shared machine drifts by far more than the 2 % being measured, so the A/B runs are
# interleaved in pairs whose order alternates (AB, BA, AB, ...): slow drift hits both
# conditions alike, and each pair gives one paired difference measured minutes, not
# seconds, apart from the next. Besides ops/s, every run reports the service's CPU time per
# device request (utime+stime of the whole drivervm process from /proc/PID/stat, the
# control plane's threads included), which depends much less on how busy the host is.
# Finally the polling's own cost is measured directly, with the devices idle: the
# service's CPU (scheduler ns) with and without a 10 ms poller, per call.
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-4}
pairs=${2:-8}
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
hz=$(getconf CLK_TCK)

# utime+stime of the service, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$svc/stat"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# CPU time of the service's live threads in ns (the scheduler's own sum, not ticks): for
# costs too small for tick accounting. Only threads alive at both reads count, which holds
# for the devices' and the control plane's fixed threads.
sched_ns() {
  cat /proc/$svc/task/*/sched 2>/dev/null |
    awk '/^se.sum_exec_runtime/ {t += $3} END {printf "%d\n", t * 1e6}'
}

# Four frontends, one per device, each keeping 8 requests in flight. Prints total ops/s and
# the service's CPU time per request in microseconds.
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
  python3 - "$tmp" "$((t1 - t0))" "$hz" $guests <<'PY'
import json, sys
d, ticks, hz, guests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
runs = [json.load(open(f"{d}/{g}.json")) for g in guests]
ops = sum(r["ops"] for r in runs)
rate = sum(r["ops_per_sec"] for r in runs)
print(f"{round(rate)} {ticks / hz * 1e6 / ops:.4f}")
PY
}

# One measured run of condition A (no poller) or B (a client calling status every 10 ms).
run() {
  if [ "$1" = A ]; then
    echo "A $(load4) 0 0"
  else
    "$bin/drivervm-ctlbench" --connect "$ctl" --interval 10 --duration "$((dur + 1))" \
      --json > "$tmp/poll.json" &
    local poller=$!
    sleep 0.3
    local r pt
    r=$(load4)
    # The poller's own CPU (all threads) so far: it outlives the load by about 0.7 s.
    pt=$(awk '{print $14 + $15}' "/proc/$poller/stat" 2>/dev/null || echo 0)
    wait "$poller"
    echo "B $r $(python3 -c "import json; print(json.load(open('$tmp/poll.json'))['calls'])") $pt"
  fi
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(loadavg); ${dur}s per run, $pairs pairs"
echo "# command: tools/perf/control_bench.sh $dur $pairs"
echo "# status round trips, idle devices, back to back; service CPU per call:"
t0=$(ticks)
"$bin/drivervm-ctlbench" --connect "$ctl" --duration "$dur" --json > "$tmp/idle.json"
t1=$(ticks)
cat "$tmp/idle.json"
status_us=$(python3 -c "import json; c=json.load(open('$tmp/idle.json'))['calls']; print(f'{($t1-$t0)/$hz*1e6/c:.2f}')")
echo "service CPU per status call, back to back: $status_us us"

# The polling's own cost, measured directly: the service's CPU over equal windows without
# and with a 10 ms poller while the devices are idle, per status call; three such pairs.
idle_s=$((2 * dur))
poll_alone() {
  local n0 n1 n2 n3 poller
  n0=$(sched_ns); sleep "$idle_s"; n1=$(sched_ns)
  "$bin/drivervm-ctlbench" --connect "$ctl" --interval 10 --duration "$((idle_s + 1))" \
    --json > "$tmp/alone.json" &
  poller=$!
  sleep 0.5
  n2=$(sched_ns); sleep "$idle_s"; n3=$(sched_ns)
  wait "$poller"
  python3 - "$tmp/alone.json" "$n0" "$n1" "$n2" "$n3" "$idle_s" <<'PY'
import json, sys
calls = json.load(open(sys.argv[1]))["calls"]
n0, n1, n2, n3, idle_s = (int(x) for x in sys.argv[2:])
base = (n1 - n0) / idle_s / 1e3           # us/s with nobody asking
polled = (n3 - n2) / idle_s / 1e3         # us/s with the poller
rate = calls / (idle_s + 1)
print(f"{(polled - base) / rate:.2f} {base:.0f} {polled:.0f} {rate:.0f}")
PY
}
echo "# devices idle: service us/call of a 10 ms poller; service us/s alone, with poller; calls/s"
alone=()
for _ in 1 2 3; do
  r=$(poll_alone)
  echo "$r"
  alone+=("${r%% *}")
done
poll_us=$(printf '%s\n' "${alone[@]}" | sort -g | sed -n 2p)
echo "service CPU per status call from a 10 ms poller (devices idle), median of 3: $poll_us us"

echo "# pair cond ops/s cpu_us/req poller_calls poller_cpu_ticks loadavg"
: > "$tmp/runs"
for p in $(seq "$pairs"); do
  if [ $((p % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for c in $order; do
    line="$p $(run "$c") $(loadavg)"
    echo "$line"
    echo "$line" >> "$tmp/runs"
  done
done

echo "# status round trips under load, back to back (4 devices loaded):"
"$bin/drivervm-ctlbench" --connect "$ctl" --duration "$dur" --json > "$tmp/under.json" &
b=$!
load4 > /dev/null
wait "$b"
cat "$tmp/under.json"
echo "# end $(date -u +%FT%TZ), load average $(loadavg)"

python3 - "$tmp/runs" "$poll_us" "$hz" "$dur" <<'PY'
import math, statistics as st, sys
poll_us = float(sys.argv[2])
rows = [l.split() for l in open(sys.argv[1])]
by = {"A": {}, "B": {}}
for r in rows:
    by[r[1]][int(r[0])] = (float(r[2]), float(r[3]))
pairs = sorted(set(by["A"]) & set(by["B"]))

def q(xs, f):
    xs = sorted(xs)
    k = (len(xs) - 1) * f
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

def median_ci(d):
    # Distribution-free confidence interval of the median (sign test): between the k-th
    # smallest and k-th largest paired difference, k the largest with coverage >= 95 %.
    n, d = len(d), sorted(d)
    cdf = lambda k: sum(math.comb(n, j) for j in range(k + 1)) / 2 ** n
    k = max((k for k in range(1, n // 2 + 1) if cdf(k - 1) <= 0.025), default=0)
    if k == 0:
        return "too few pairs for a 95 % interval"
    return f"{100 * (1 - 2 * cdf(k - 1)):.1f} % interval of the median {d[k - 1]:+.2f}..{d[n - k]:+.2f} %"

def summary(name, xs, fmt):
    print(f"{name}: median {fmt(st.median(xs))}, IQR {fmt(q(xs, .25))}..{fmt(q(xs, .75))}, "
          f"min..max {fmt(min(xs))}..{fmt(max(xs))}")

for i, metric, fmt in ((0, "ops/s", lambda v: f"{v:,.0f}"), (1, "CPU us/req", lambda v: f"{v:.4f}")):
    for c, label in (("A", "without poller"), ("B", "with 10 ms poller")):
        summary(f"{metric} {label}", [by[c][p][i] for p in pairs], fmt)
    d = [100 * (by["B"][p][i] - by["A"][p][i]) / by["A"][p][i] for p in pairs]
    print(f"{metric} paired (B-A)/A over {len(d)} pairs: median {st.median(d):+.2f} %, "
          f"IQR {q(d, .25):+.2f}..{q(d, .75):+.2f} %, min..max {min(d):+.2f}..{max(d):+.2f} %; "
          f"B worse in {sum(1 for x in d if (x < 0 if i == 0 else x > 0))} of {len(d)}; "
          f"{median_ci(d)}")
# What 100 status calls a second cost the service (measured directly with idle devices),
# against the service CPU the loaded devices use per second.
a = [by["A"][p][0] * by["A"][p][1] for p in pairs]
poller = [int(r[5]) for r in rows if r[1] == "B"]
print(f"poller process CPU: median {st.median(poller) * 1000 / int(sys.argv[3]):.0f} ms "
      f"over its first {float(sys.argv[4]) + 0.3:.1f} s (clock ticks, so +-10 ms)")
print(f"polling cost: 100 x {poll_us} us = {poll_us * 100 / 1e3:.2f} ms CPU/s, "
      f"{100 * poll_us * 100 / st.median(a):.2f} % of the {st.median(a) / 1e3:.0f} ms/s "
      f"the devices' requests take")
PY
kill "$svc"
wait "$svc" 2>/dev/null || true
