#!/usr/bin/env bash
# Runs drivervm's V4L2 radio backend against the kernel's vivid radio receiver, inside a real
# Linux guest (x86_64, QEMU TCG, Debian's 6.12 kernel): the guest loads vivid (radio receiver
# node only), starts `drivervm` on /dev/radio0 and drives the virtio-radio device with
# `drivervm-load` over a local vhost-user socket; the report goes to the second serial port.
#
#   radio-vivid.sh check               lists missing host tools (exit 3 if any)
#   radio-vivid.sh run BINDIR WORKDIR  boots the guest with BINDIR/drivervm and
#                                      BINDIR/drivervm-load; the report lands in
#                                      WORKDIR/report.log, the console in WORKDIR/console.log
#
# The kernel is cached under ${DRIVERVM_CACHE:-~/.cache/drivervm}/guest-x86-6.12-v1 (shared
# with the sound guest test; delete it to download again).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
KVER=6.12.95+deb12-amd64
KPKG="linux-image-$KVER"
CACHE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}/guest-x86-6.12-v1"
QEMU="${QEMU:-qemu-system-x86_64}"
MODULES=(rc-core cec mc videobuf2-common videodev videobuf2-v4l2 videobuf2-memops
  videobuf2-vmalloc videobuf2-dma-contig v4l2-dv-timings v4l2-tpg vivid)

missing_tools() {
  local miss=()
  command -v "$QEMU" >/dev/null || miss+=("$QEMU")
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || miss+=("static /bin/busybox (busybox-static)")
  for t in modprobe depmod xz cpio gzip ldd; do command -v "$t" >/dev/null || miss+=("$t"); done
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
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,data,lib/modules}
  install -m 0755 /bin/busybox "$root/bin/busybox"
  local m ko
  for m in "${MODULES[@]}"; do
    ko="$(modprobe -d "$CACHE/root" -S "$KVER" --show-depends "$m" | awk '{print $2}' | tail -1)"
    xz -dc "$ko" > "$root/lib/modules/$m.ko"
  done
  copy_with_libs "$root" "$bindir/drivervm" /usr/bin/drivervm
  copy_with_libs "$root" "$bindir/drivervm-load" /usr/bin/drivervm-load
  install -m 0755 "$HERE/radio-vivid-init.sh" "$root/init"
  install -m 0644 "$HERE/radio-vivid.toml" "$root/data/radio.toml"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"
  rm -rf "$root"
  : > "$work/report.log"
  timeout "${GUEST_TIMEOUT:-240}" "$QEMU" -M q35 -accel tcg -cpu max -m 512 -smp 2 \
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
