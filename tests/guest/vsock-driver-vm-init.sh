#!/bin/busybox sh
# PID 1 of the driver VM in the two-VM vsock test (vsock-two-vm.sh): two drivervm services
# on vsock, one allowing the host VM's CID and one not, each logging to its own serial port
# (ttyS2, ttyS3) as well as to /tmp; this init's own report goes to ttyS1. When the host
# VM's watcher has registered, a vhost-user frontend comes and goes so that it has a link
# change to see; then the VM serves until vsock-two-vm.sh switches it off.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
mount -t tmpfs tmp /tmp
load_modules vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport

# Waits up to $2 s for a file (a socket) to appear.
wait_for() {
  i=0
  while [ ! -e "$1" ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  [ -e "$1" ] || say "timed out waiting for $1"
}
# Waits up to $4 s until file $1 holds $2 lines matching $3.
wait_lines() {
  i=0
  while [ "$(grep -c "$3" "$1" 2>/dev/null)" -lt "$2" ] && [ $i -lt $(($4 * 10)) ]; do
    sleep 0.1; i=$((i + 1))
  done
  [ "$(grep -c "$3" "$1" 2>/dev/null)" -ge "$2" ] || say "timed out waiting for $3 in $1"
}

# The service for another VM's CID comes up first: when the host VM can reach the one it
# may use, this one listens too.
drivervm --config /data/refusing.toml --runtime-dir /tmp/run2 --state-dir /tmp/state2 2>&1 |
  tee /tmp/refusing.log >/dev/ttyS3 &
wait_for /tmp/run2/control.sock 60
drivervm --config /data/control.toml --runtime-dir /tmp/run --state-dir /tmp/state 2>&1 |
  tee /tmp/drivervm.log >/dev/ttyS2 &
wait_for /tmp/run/control.sock 60
say "=== services up"

# The host VM boots at the same time; under TCG on a loaded machine it may take a while.
wait_lines /tmp/drivervm.log 1 "listener registered" 240
drivervm-load --socket /tmp/run/vm0-scmi.sock --device scmi --op base-version \
  --warmup 0 --duration 1 --timeout 5 >/dev/null 2>&1
say "=== link changed rc=$?"
while :; do sleep 3600; done
