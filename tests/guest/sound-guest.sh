#!/usr/bin/env bash
# Boots a real Linux guest (x86_64, TCG, Debian's 6.12 kernel with snd-virtio) against a
# virtio-snd vhost-user socket and runs ALSA's own tools in it (aplay, arecord, amixer).
#
#   sound-guest.sh check              lists missing host tools (exit 3 if any)
#   sound-guest.sh run SOCKET WORKDIR [INIT]
#                                     boots the guest; WORKDIR/in/* is copied to the guest's
#                                     /data and WORKDIR/bin/* (with their libraries) to
#                                     /usr/bin; the guest's report lands in WORKDIR/report.log
#                                     and its console in WORKDIR/console.log. SOCKET "-" boots
#                                     without a virtio-snd device; INIT (default
#                                     sound-init.sh, next to this script) is the guest's /init.
#                                     With VMM_LINE set (a README command using $KERNEL and
#                                     $INITRD), that line boots the guest instead; SOCKET is
#                                     then only what the line's own path must name.
#
# The kernel and the static part of the initramfs are cached under
# ${DRIVERVM_CACHE:-~/.cache/drivervm}/guest-x86-6.12-v1 (delete it to rebuild).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
KVER=6.12.95+deb12-amd64
KPKG="linux-image-$KVER"
CACHE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}/guest-x86-6.12-v1"
QEMU="${QEMU:-qemu-system-x86_64}"
# The static initramfs part is keyed by this script's contents, so changing how it is built
# rebuilds it.
BASE="$CACHE/base-$(sha256sum "$0" | cut -c1-12).cpio.gz"
# Host binaries whose copies (with their libraries) run inside the guest.
GUEST_TOOLS=(aplay arecord amixer)
MODULES=(soundcore snd snd-timer snd-pcm virtio_snd snd-aloop)

missing_tools() {
  local miss=()
  command -v "$QEMU" >/dev/null || miss+=("$QEMU (qemu-system-x86 from bookworm-backports)")
  if command -v "$QEMU" >/dev/null && ! "$QEMU" -device help 2>/dev/null | grep -q '"vhost-user-snd-pci"'; then
    miss+=("$QEMU with vhost-user-snd-pci (QEMU >= 8.2)")
  fi
  [ -x /bin/busybox ] && file_is_static /bin/busybox || miss+=("static /bin/busybox (busybox-static)")
  for t in "${GUEST_TOOLS[@]}"; do command -v "$t" >/dev/null || miss+=("$t (alsa-utils)"); done
  for t in depmod modprobe xz cpio gzip ldd; do command -v "$t" >/dev/null || miss+=("$t"); done
  if [ ! -f "$CACHE/root/boot/vmlinuz-$KVER" ]; then
    command -v apt-get >/dev/null || miss+=("apt-get (to download $KPKG)")
  fi
  printf '%s\n' "${miss[@]+"${miss[@]}"}"
}

file_is_static() {
  ! ldd "$1" >/dev/null 2>&1
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

copy_with_libs() {
  local dest="$1" bin="$2"
  install -D -m 0755 "$bin" "$dest$bin"
  ldd "$bin" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    [ -n "$lib" ] && [ -e "$lib" ] && install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
  done
}

build_base() {
  [ -f "$BASE" ] && return
  local root
  root="$(mktemp -d)"
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,data,lib/modules,usr/share}
  install -m 0755 /bin/busybox "$root/bin/busybox"
  local m ko
  for m in "${MODULES[@]}"; do
    ko="$(modprobe -d "$CACHE/root" -S "$KVER" --show-depends "$m" | awk '{print $2}' | tail -1)"
    xz -dc "$ko" > "$root/lib/modules/$m.ko"
  done
  for t in "${GUEST_TOOLS[@]}"; do copy_with_libs "$root" "$(command -v "$t")"; done
  # alsa-lib reads its configuration from here even for hw: devices.
  cp -a /usr/share/alsa "$root/usr/share/alsa"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$BASE.tmp"
  mv "$BASE.tmp" "$BASE"
  rm -rf "$root"
}

run_guest() {
  local sock="$1" work="$2" init="${3:-}"
  [ -n "$init" ] || init="$HERE/sound-init.sh"
  fetch_kernel
  build_base
  local overlay
  overlay="$(mktemp -d)"
  mkdir -p "$overlay/data" "$overlay/bin"
  install -m 0755 "$init" "$overlay/init"
  if [ -d "$work/in" ]; then cp -a "$work/in/." "$overlay/data/"; fi
  if [ -d "$work/bin" ]; then
    for b in "$work"/bin/*; do copy_with_libs "$overlay" "$(readlink -f "$b")"; mv "$overlay$(readlink -f "$b")" "$overlay/bin/$(basename "$b")" 2>/dev/null || true; done
  fi
  (cd "$overlay" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/run.cpio.gz"
  rm -rf "$overlay"
  # Concatenated cpio archives: the kernel unpacks both into one rootfs.
  cat "$BASE" "$work/run.cpio.gz" > "$work/initrd.gz"
  : > "$work/report.log"
  if [ -n "${VMM_LINE:-}" ]; then
    # A README line, run as written with its variables set; it puts the guest console on
    # stdout (ttyS0), and the report gets the second serial port.
    KERNEL="$CACHE/root/boot/vmlinuz-$KVER" INITRD="$work/initrd.gz" REPORT="$work/report.log" \
      timeout "${GUEST_TIMEOUT:-180}" bash -c "$VMM_LINE -no-reboot -serial file:\"\$REPORT\"" \
      </dev/null >"$work/console.log" 2>&1
    return
  fi
  local snd=()
  if [ "$sock" != "-" ]; then
    snd=(-chardev socket,id=snd0,path="$sock" -device vhost-user-snd-pci,chardev=snd0,controls=on)
  fi
  timeout "${GUEST_TIMEOUT:-180}" "$QEMU" -M q35 -accel tcg -cpu max -m 512 -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$CACHE/root/boot/vmlinuz-$KVER" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 loglevel=3" \
    -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
    "${snd[@]}" \
    -serial file:"$work/console.log" -serial file:"$work/report.log" \
    </dev/null
}

case "${1:-}" in
  check)
    m="$(missing_tools)"
    if [ -n "$m" ]; then printf 'missing: %s\n' "$m"; exit 3; fi
    ;;
  run)
    [ $# -ge 3 ] && [ $# -le 4 ] || { echo "usage: $0 run SOCKET WORKDIR [INIT]" >&2; exit 2; }
    run_guest "$2" "$3" "${4:-}"
    ;;
  *)
    echo "usage: $0 check | run SOCKET WORKDIR [INIT]" >&2
    exit 2
    ;;
esac
