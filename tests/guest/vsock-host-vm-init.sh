#!/bin/busybox sh
# PID 1 of the host VM in the two-VM vsock test (vsock-two-vm.sh): drivervmctl and
# drivervm-ctlbench query the driver VM's drivervm over vsock (CID in /data/driver-cid),
# port 5680 (this VM's CID is allowed) and port 5681 (it is not); the report goes to the
# second serial port (ttyS1), which tests/guest_vsock_two_vm.rs parses.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
mount -t tmpfs tmp /tmp
load_modules vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
CID=$(cat /data/driver-cid)
SVC=vsock:$CID:5680

# The driver VM boots alongside: wait (up to 240 s) until its service answers.
start=$(date +%s)
until drivervmctl --connect $SVC status >/dev/null 2>&1; do
  if [ $(( $(date +%s) - start )) -ge 240 ]; then say "=== unreachable"; break; fi
  sleep 0.5
done
say "=== reachable after $(( $(date +%s) - start )) s"

ctl_queries $SVC ""

# The driver VM's other service does not list this VM's CID.
say "=== refused"
drivervmctl --connect vsock:$CID:5681 status >&3 2>&1
say "=== rc=$?"
start=$(date +%s)
n=0
while [ $n -lt 40 ]; do drivervmctl --connect vsock:$CID:5681 status >/dev/null 2>&1; n=$((n + 1)); done
# The budget reports what it dropped at the first line of a later second: one more refusal
# then, so the burst's summary is in the log even when the burst fit in one second.
sleep 1.1
drivervmctl --connect vsock:$CID:5681 status >/dev/null 2>&1
say "=== refused-burst"
say "attempts 42 seconds $(( $(date +%s) - start + 1 ))"

# A watcher across the VMs: the driver VM changes a link once it sees the listener.
drivervmctl --connect $SVC --json watch >/tmp/watch.out 2>/tmp/watch.err &
W=$!
i=0
while [ "$(grep -c '"event":"link"' /tmp/watch.out)" -lt 2 ] && [ $i -lt 1200 ]; do
  sleep 0.1; i=$((i + 1))
done
say "=== watch"
cat /tmp/watch.out >&3
say "=== watch stderr"
cat /tmp/watch.err >&3

# Latency of a status call (listDevices) from one TCG guest to another.
say "=== bench"
drivervm-ctlbench --connect $SVC --duration 5 >&3 2>&1
say "=== rc=$?"

kill $W 2>/dev/null
wait $W
say "=== done"
sync
poweroff -f
