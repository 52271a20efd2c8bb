#!/usr/bin/env bash
# The control plane over kernel binder and vsock in a real kernel (x86_64, QEMU TCG, Debian's
# 6.12 kernel). The guest loads binder_linux and vsock_loopback, runs rsbinder's service
# manager (rsb_hub), starts drivervm so that it registers vendor.drivervm.IDriverVm/default
# there and serves vsock, and runs drivervmctl, drivervm-ctlbench and drivervm-load against
# it; the report goes to the second serial port (see control-guest-init.sh).
#
#   control-guest.sh check               lists missing host tools (exit 3 if any)
#   control-guest.sh run BINDIR WORKDIR  boots the guest with drivervm, drivervmctl,
#                                        drivervm-load and drivervm-ctlbench from BINDIR;
#                                        report in WORKDIR/report.log, console in
#                                        WORKDIR/console.log
#
# rsb_hub comes from the rsbinder-tools crate: set RSB_HUB to a built one, else it is looked
# for in ${DRIVERVM_CACHE:-~/.cache/drivervm}/rsbinder-tools-0.12-v1/bin (what .ci/run
# installs there with `cargo install --locked rsbinder-tools --version 0.12.0 --root DIR`).
# The kernel is cached under .../guest-x86-6.12-v1 (shared with the other x86 guest tests).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
KVER=6.12.95+deb12-amd64
KPKG="linux-image-$KVER"
BASE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}"
CACHE="$BASE/guest-x86-6.12-v1"
RSB_HUB="${RSB_HUB:-$BASE/rsbinder-tools-0.12-v1/bin/rsb_hub}"
QEMU="${QEMU:-qemu-system-x86_64}"
MODULES=(binder_linux vsock vmw_vsock_virtio_transport_common vsock_loopback)

missing_tools() {
  local miss=()
  command -v "$QEMU" >/dev/null || miss+=("$QEMU")
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || miss+=("static /bin/busybox (busybox-static)")
  for t in modprobe depmod xz cpio gzip ldd; do command -v "$t" >/dev/null || miss+=("$t"); done
  [ -x "$RSB_HUB" ] || miss+=("rsb_hub at $RSB_HUB (cargo install --locked rsbinder-tools --version 0.12.0 --root $(dirname "$(dirname "$RSB_HUB")"))")
  if [ ! -f "$CACHE/root/boot/vmlinuz-$KVER" ]; then
    command -v apt-get >/dev/null || miss+=("apt-get (to download $KPKG)")
  fi
  printf '%s\n' "${miss[@]+"${miss[@]}"}"
}

fetch_kernel() {
  [ -f "$CACHE/root/boot/vmlinuz-$KVER" ] && return
  mkdir -p "$CACHE"
  local tmp
  tmp="$(mktemp -d "$CACHE/dl.XXXXXX")"
  (cd "$tmp" && apt-get download "$KPKG" >/dev/null 2>&1) || {
    apt-get update -qq && (cd "$tmp" && apt-get download "$KPKG")
  }
  dpkg -x "$tmp"/*.deb "$tmp/root"
  depmod -b "$tmp/root" "$KVER"
  rm -rf "$CACHE/root"
  mv "$tmp/root" "$CACHE/root"
  rm -rf "$tmp"
}

# Installs a host binary and the shared libraries it loads.
copy_with_libs() {
  local dest="$1" bin="$2" as="$3"
  install -D -m 0755 "$bin" "$dest$as"
  ldd "$bin" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    [ -n "$lib" ] && [ -e "$lib" ] && install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
  done
}

run_guest() {
  local bindir="$1" work="$2"
  fetch_kernel
  local root
  root="$(mktemp -d)"
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,data,etc,lib/modules}
  install -m 0755 /bin/busybox "$root/bin/busybox"
  local m ko
  for m in "${MODULES[@]}"; do
    ko="$(modprobe -d "$CACHE/root" -S "$KVER" --show-depends "$m" | awk '{print $2}' | tail -1)"
    xz -dc "$ko" > "$root/lib/modules/$m.ko"
  done
  local b
  for b in drivervm drivervmctl drivervm-load drivervm-ctlbench; do
    copy_with_libs "$root" "$bindir/$b" "/usr/bin/$b"
  done
  copy_with_libs "$root" "$RSB_HUB" /usr/bin/rsb_hub
  # rsb_hub resolves the user and groups of a caller's uid.
  printf 'root:x:0:0:root:/:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
  install -m 0755 "$HERE/control-guest-init.sh" "$root/init"
  install -m 0644 "$HERE/control-hub.toml" "$root/data/hub.toml"
  # Control over unix, vsock (CID 1 is vsock_loopback's, i.e. this guest) and kernel binder.
  { printf '[service]\ncontrol_vsock_port = 5680\ncontrol_vsock_cids = [1]\n'
    "$bindir/drivervm" --print-default-config; } > "$root/data/control.toml"
  # A second instance whose allowlist does not hold this guest's CID.
  { printf '[service]\ncontrol_vsock_port = 5681\ncontrol_vsock_cids = [42]\n'
    "$bindir/drivervm" --print-default-config; } > "$root/data/refusing.toml"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"
  rm -rf "$root"
  : > "$work/report.log"
  timeout "${GUEST_TIMEOUT:-300}" "$QEMU" -M q35 -accel tcg -cpu max -m 1024 -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$CACHE/root/boot/vmlinuz-$KVER" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 loglevel=3" \
    -serial file:"$work/console.log" -serial file:"$work/report.log" \
    </dev/null
}

case "${1:-}" in
  check)
    m="$(missing_tools)"
    if [ -n "$m" ]; then printf 'missing: %s\n' "$m"; exit 3; fi
    ;;
  run)
    [ $# -eq 3 ] || { echo "usage: $0 run BINDIR WORKDIR" >&2; exit 2; }
    run_guest "$2" "$3"
    ;;
  *)
    echo "usage: $0 check | run BINDIR WORKDIR" >&2
    exit 2
    ;;
esac
