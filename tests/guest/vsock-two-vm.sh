#!/usr/bin/env bash
# drivervm's status interface between two VMs over vsock (x86_64, QEMU TCG, Debian's 6.12
# kernel in both): a "driver VM" (CID 3) runs drivervm serving RPC binder on vsock port 5680
# to CID 4 only, and a second drivervm on port 5681 for another VM's CID (5); a "host VM"
# (CID 4) runs drivervmctl and drivervm-ctlbench against both. Each VM has a
# vhost-user-vsock-pci device, and one rust-vmm vhost-device-vsock process serves both
# devices and carries packets between them (sibling VMs in one group), as it would between
# a phone's host VM and its driver VM.
#
#   vsock-two-vm.sh check               lists missing host tools (exit 3 if any)
#   vsock-two-vm.sh run BINDIR WORKDIR  boots both VMs with the binaries from BINDIR; writes
#                                       to WORKDIR: report.log and console.log (host VM),
#                                       driver-report.log, driver-console.log, drivervm.log
#                                       and refusing.log (driver VM: its init's report and
#                                       the two services' logs), vhost-vsock.log
#
# vhost-device-vsock: set VHOST_VSOCK to a built one, else it is looked for in
# ${DRIVERVM_CACHE:-~/.cache/drivervm}/vhost-device-vsock-0.3.0-v1/bin (what .ci/run installs
# there with `cargo install --locked vhost-device-vsock --version 0.3.0 --root DIR`).
# The kernel comes from x86-guest-lib.sh (shared with the other x86 guest tests).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/guest/x86-guest-lib.sh
. "$HERE/x86-guest-lib.sh"
VHOST_VSOCK="${VHOST_VSOCK:-$DCACHE/vhost-device-vsock-0.3.0-v1/bin/vhost-device-vsock}"
MODULES=(vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)
DRIVER_CID=3
HOST_CID=4
# Guest RAM; the initramfs (stripped binaries) is a few MB of it.
MEM=512

missing_tools() {
  need_qemu vhost-user-vsock-pci
  need_guest_base
  need_cmds strip
  [ -x "$VHOST_VSOCK" ] || MISSING+=("vhost-device-vsock at $VHOST_VSOCK (cargo install --locked vhost-device-vsock --version 0.3.0 --root $(dirname "$(dirname "$VHOST_VSOCK")"))")
}

# An initramfs at $2 with busybox, the vsock modules, the init script $3, the files of
# directory $4 in /data and the binaries "${@:5}" from $1, stripped: the guest needs no
# debug information, and a debug build's would make the initramfs many times larger.
build_initrd() {
  local bindir="$1" out="$2" init="$3" data="$4" root b
  shift 4
  root="$(new_root usr/bin)"
  add_modules "$root" "${MODULES[@]}"
  for b in "$@"; do
    strip -o "$root/tmp/$b" "$bindir/$b"
    copy_with_libs "$root" "$root/tmp/$b" "/usr/bin/$b"
    rm "$root/tmp/$b"
  done
  install -m 0755 "$init" "$root/init"
  cp -a "$data" "$root/data"
  pack_initrd "$root" "$out"
  rm -rf "$root"
}

# Boots one VM in the background: name $1, initrd $2, vhost-user socket $3, serial ports
# after the console: "${@:4}" (files in WORKDIR). Sets QEMU_PID.
boot() {
  local name="$1" initrd="$2" sock="$3" p
  shift 3
  local serial=(-serial file:"$WORK/$name-console.log")
  for p in "$@"; do serial+=(-serial file:"$WORK/$p"); done
  run_qemu --background --shared-ram "$initrd" 300 "$MEM" \
    -chardev socket,id=vsock0,path="$sock" -device vhost-user-vsock-pci,chardev=vsock0 \
    "${serial[@]}" >"$WORK/$name-qemu.log" 2>&1
  QEMU_PID=$!
}

# Waits up to 30 s for socket $1 to appear.
wait_socket() {
  local i=0
  while [ ! -S "$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  [ -S "$1" ] || { echo "vhost-device-vsock did not create $1" >&2; return 1; }
}

# Whether file $1 holds a line starting with $2 (grep -c reads it all: no early exit to
# fail the pipe under pipefail).
has_line() {
  [ "$(tr -d '\r' 2>/dev/null <"$1" | grep -c "^$2")" -gt 0 ]
}

# Waits up to $3 s for file $1 to hold a line starting with $2, while VM $QEMU_PID runs.
wait_report() {
  local i=0
  while ! has_line "$1" "$2" && [ $i -lt $(($3 * 10)) ]; do
    kill -0 "$QEMU_PID" 2>/dev/null || { echo "the driver VM stopped early" >&2; return 1; }
    sleep 0.1
    i=$((i + 1))
  done
  has_line "$1" "$2" || { echo "no '$2' from the driver VM in $3 s" >&2; return 1; }
}

# What run_guest started, vhost-device-vsock first: stopped in reverse, so no QEMU loses its
# backend while it still runs.
PIDS=()
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  PIDS=()
}

run_guest() {
  local bindir="$1"
  WORK="$2"
  fetch_kernel
  trap cleanup EXIT

  # The driver VM's two services: one allows the host VM's CID, one only another VM's.
  local data
  data="$(mktemp -d)"
  { printf '[service]\ncontrol_vsock_port = 5680\ncontrol_vsock_cids = [%s]\n' "$HOST_CID"
    "$bindir/drivervm" --print-default-config; } > "$data/control.toml"
  { printf '[service]\ncontrol_vsock_port = 5681\ncontrol_vsock_cids = [5]\n'
    "$bindir/drivervm" --print-default-config; } > "$data/refusing.toml"
  build_initrd "$bindir" "$WORK/driver-initrd.gz" "$HERE/vsock-driver-vm-init.sh" "$data" \
    drivervm drivervm-load
  rm -rf "$data"
  data="$(mktemp -d)"
  printf '%s\n' "$DRIVER_CID" > "$data/driver-cid"
  build_initrd "$bindir" "$WORK/host-initrd.gz" "$HERE/vsock-host-vm-init.sh" "$data" \
    drivervmctl drivervm-ctlbench
  rm -rf "$data"

  # One device per VM, both in the default group, so each VM reaches the other by CID.
  "$VHOST_VSOCK" \
    --vm guest-cid=$DRIVER_CID,socket="$WORK/driver.vhost",uds-path="$WORK/driver.vsock" \
    --vm guest-cid=$HOST_CID,socket="$WORK/host.vhost",uds-path="$WORK/host.vsock" \
    >"$WORK/vhost-vsock.log" 2>&1 &
  PIDS+=($!)
  wait_socket "$WORK/driver.vhost"
  wait_socket "$WORK/host.vhost"

  : > "$WORK/report.log"
  boot driver "$WORK/driver-initrd.gz" "$WORK/driver.vhost" \
    driver-report.log drivervm.log refusing.log
  PIDS+=("$QEMU_PID")
  # The host VM boots once the driver VM's vsock device runs. vhost-device-vsock 0.3.0
  # handles a packet for a sibling whose guest has not started its device yet as an error
  # that ends that sibling's device thread: a host VM that tries to connect while the
  # driver VM is still booting would leave the driver VM without vsock for good (seen
  # here: the host VM booted 20 s first never got through).
  wait_report "$WORK/driver-report.log" "=== services up" 240
  # The host VM's console and report take the names every guest test reads.
  boot host "$WORK/host-initrd.gz" "$WORK/host.vhost" report.log
  local host=$QEMU_PID rc=0
  wait "$host" || rc=$?
  mv "$WORK/host-console.log" "$WORK/console.log"
  # The driver VM serves until the host VM is done; its logs are already on its serial
  # ports. A moment for the last lines in flight, then it is switched off.
  sleep 1
  cleanup
  return "$rc"
}

guest_script_main "BINDIR WORKDIR" "$@"
