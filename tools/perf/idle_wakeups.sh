#!/bin/sh
# Per-thread wake-ups of an idle drivervm: voluntary context switches (a blocked thread
# waking) and on-CPU time from /proc/PID/task/*/{status,schedstat} over a window.
#
# Usage: tools/perf/idle_wakeups.sh [BINARY] [SECONDS] [drivervm args...]
# Default: target/release/drivervm on the embedded default config, 10 s, after 1 s idle.
set -eu
export LC_ALL=C
bin=${1:-target/release/drivervm}
secs=${2:-10}
[ $# -ge 2 ] && shift 2 || shift $#
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$bin" --runtime-dir "$dir/run" --state-dir "$dir/state" "$@" 2>"$dir/log" &
pid=$!
sleep 1
grep -q '] ready: ' "$dir/log" || { cat "$dir/log" >&2; exit 1; }

snap() {
    for t in /proc/"$pid"/task/*; do
        printf '%s %s %s %s\n' "${t##*/}" "$(cat "$t/comm")" \
            "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")" \
            "$(cut -d' ' -f1 "$t/schedstat")"
    done | sort
}
snap >"$dir/a"
sleep "$secs"
snap >"$dir/b"
echo "thread            wake-ups/s   CPU µs/s   (over $secs s idle)"
join "$dir/a" "$dir/b" | awk -v s="$secs" '{
    w = ($6 - $3) / s; c = ($7 - $4) / s / 1000; tw += w; tc += c
    printf "%-8s %-16s %8.1f %10.1f\n", $1, $2, w, c
} END { printf "%-25s %8.1f %10.1f\n", "total", tw, tc }'
