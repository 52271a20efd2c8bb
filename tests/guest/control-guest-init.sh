#!/bin/busybox sh
# PID 1 of the control guest: drivervm's status interface over kernel binder (binder_linux +
# rsbinder's service manager) and over vsock (vsock_loopback, CID 1), driven by drivervmctl;
# the report goes to the second serial port (ttyS1), which tests/guest_control.rs parses.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
mount -t tmpfs tmp /tmp
load_modules vsock vmw_vsock_virtio_transport_common vsock_loopback

# Waits up to 20 s for a file (a socket) to appear.
wait_for() {
  i=0
  while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "$1" ] || say "timed out waiting for $1"
}
# Waits up to 20 s until file $1 holds $2 lines matching $3.
wait_lines() {
  i=0
  while [ "$(grep -c "$3" "$1" 2>/dev/null)" -lt "$2" ] && [ $i -lt 200 ]; do
    sleep 0.1; i=$((i + 1))
  done
}
# Voluntary context switches (wake-ups) of every thread of pid $1: "tid name count".
switches() {
  for t in /proc/$1/task/*; do
    echo "${t##*/} $(cat $t/comm) $(sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' $t/status)"
  done
}

# A drivervm whose vsock allowlist leaves this guest out, started before kernel binder
# exists so it registers nothing there.
drivervm --config /data/refusing.toml --runtime-dir /tmp/run2 --state-dir /tmp/state2 \
  >/tmp/refusing.log 2>&1 &
REFUSING=$!
# "ready", not the socket: it looks for kernel binder after binding it.
wait_lines /tmp/refusing.log 1 "] ready: "

# Kernel binder. Debian's kernel has binder_linux without binderfs
# (CONFIG_ANDROID_BINDERFS unset): the driver registers /dev/binder itself, and
# rsb_hub, which opens /dev/binderfs/NAME, is pointed at it.
insmod /lib/modules/binder_linux.ko || say "insmod binder_linux failed"
say "=== binder node"
ls -l /dev/binder >&3 2>&1
# devtmpfs makes it root's, 0600; drivervm registers after dropping to its default user
# (65534), so open it to everyone, as Android's ueventd.rc does for /dev/binder.
chmod 0666 /dev/binder
mkdir -p /dev/binderfs
ln -s /dev/binder /dev/binderfs/binder
RUST_LOG=warn rsb_hub --config /data/hub.toml >/tmp/hub.log 2>&1 &
sleep 1

drivervm --config /data/control.toml --runtime-dir /tmp/run --state-dir /tmp/state \
  >/tmp/drivervm.log 2>&1 &
SVC=$!
wait_for /tmp/run/control.sock
wait_lines /tmp/drivervm.log 1 "registered vendor.drivervm.IDriverVm/default"

for t in binder vsock:1:5680; do
  ctl_queries $t "$t "
done

say "=== refused"
drivervmctl --connect vsock:1:5681 status >&3 2>&1
say "=== rc=$?"
# A burst of refused peers: the log stays within its budget.
start=$(date +%s)
n=0
while [ $n -lt 40 ]; do drivervmctl --connect vsock:1:5681 status >/dev/null 2>&1; n=$((n + 1)); done
say "=== refused-burst"
echo "attempts 41 seconds $(( $(date +%s) - start + 1 )) lines $(grep -c "refused vsock peer CID 1" /tmp/refusing.log)" >&3
# The budget reports what it dropped at the first line of a later second: one more refusal
# then, so the burst's summary is in the log even when the burst fit in one second.
sleep 1.1
drivervmctl --connect vsock:1:5681 status >/dev/null 2>&1
say "=== refusing log"
cat /tmp/refusing.log >&3

# Watchers over both binders see a link change made by a vhost-user frontend.
drivervmctl --connect binder --json watch >/tmp/watch-binder.out 2>/tmp/watch-binder.err &
WB=$!
drivervmctl --connect vsock:1:5680 --json watch >/tmp/watch-vsock.out 2>/tmp/watch-vsock.err &
WV=$!
wait_lines /tmp/drivervm.log 2 "listener registered"
drivervm-load --socket /tmp/run/vm0-scmi.sock --device scmi --op base-version \
  --warmup 0 --duration 1 --timeout 5 >/dev/null 2>&1
wait_lines /tmp/watch-binder.out 2 '"event":"link"'
wait_lines /tmp/watch-vsock.out 2 '"event":"link"'
say "=== watch binder"
cat /tmp/watch-binder.out >&3
say "=== watch vsock"
cat /tmp/watch-vsock.out >&3

# Latency of a status call (listDevices) per binder, TCG guest.
for t in binder vsock:1:5680 unix:/tmp/run/control.sock; do
  say "=== bench $t"
  drivervm-ctlbench --connect $t --duration 3 >&3 2>&1
  say "=== rc=$?"
done

# Idle: with the watchers' sessions open, no thread of the service wakes in 2 s, the
# accept loops (unix and vsock) included.
sleep 1
switches $SVC >/tmp/idle.before
sleep 2
switches $SVC >/tmp/idle.after
say "=== idle"
awk 'NR == FNR { b[$1] = $3; next } { print $2 "[" $1 "] " $3 - b[$1] }' \
  /tmp/idle.before /tmp/idle.after >&3

# The service dies: both watchers are told by the binder, not by polling.
# Reaps watcher $1, killing it if it is still running 10 s after the service died.
reap() {
  i=0
  while kill -0 $1 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 $1 2>/dev/null && { say "=== $2 still running 10 s after the service died"; kill -9 $1; }
  wait $1
}
kill -9 $SVC
reap $WB "watch binder"
say "=== watch binder died rc=$?"
cat /tmp/watch-binder.err >&3
reap $WV "watch vsock"
say "=== watch vsock died rc=$?"
cat /tmp/watch-vsock.err >&3

say "=== drivervm log"
cat /tmp/drivervm.log >&3
say "=== hub log"
cat /tmp/hub.log >&3
kill $REFUSING 2>/dev/null
say "=== done"
sync
poweroff -f
