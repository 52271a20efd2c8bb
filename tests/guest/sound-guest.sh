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
# shellcheck source=tests/guest/x86-guest-lib.sh
. "$HERE/x86-guest-lib.sh"
# The static initramfs part is keyed by this script's contents and the libraries' (the
# guest's init library is in it), so changing how it is built rebuilds it.
BASE="$CACHE/base-$(cat "$0" "$HERE/x86-guest-lib.sh" "$GUEST_INIT_LIB" | sha256sum | cut -c1-12).cpio.gz"
# Host binaries whose copies (with their libraries) run inside the guest.
GUEST_TOOLS=(aplay arecord amixer)
MODULES=(soundcore snd snd-timer snd-pcm virtio_snd snd-aloop)

missing_tools() {
  local t
  need_qemu vhost-user-snd-pci
  need_guest_base
  for t in "${GUEST_TOOLS[@]}"; do command -v "$t" >/dev/null || MISSING+=("$t (alsa-utils)"); done
}

build_base() {
  [ -f "$BASE" ] && return
  local root tmp
  root="$(new_root data usr/share)"
  add_modules "$root" "${MODULES[@]}"
  for t in "${GUEST_TOOLS[@]}"; do copy_with_libs "$root" "$(command -v "$t")"; done
  # alsa-lib reads its configuration from here even for hw: devices.
  cp -a /usr/share/alsa "$root/usr/share/alsa"
  # Tests run in parallel: each packs its own copy and renames it into place, so none
  # reads a half-written base or loses its file to another's rename.
  tmp="$(mktemp "$BASE.XXXXXX")"
  pack_initrd "$root" "$tmp"
  mv -f "$tmp" "$BASE"
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
  pack_initrd "$overlay" "$work/run.cpio.gz"
  rm -rf "$overlay"
  # Concatenated cpio archives: the kernel unpacks both into one rootfs.
  cat "$BASE" "$work/run.cpio.gz" > "$work/initrd.gz"
  : > "$work/report.log"
  if [ -n "${VMM_LINE:-}" ]; then
    # A README line, run as written with its variables set; it puts the guest console on
    # stdout (ttyS0), and the report gets the second serial port.
    KERNEL="$KERNEL" INITRD="$work/initrd.gz" REPORT="$work/report.log" \
      timeout "${GUEST_TIMEOUT:-180}" bash -c "$VMM_LINE -no-reboot -serial file:\"\$REPORT\"" \
      </dev/null >"$work/console.log" 2>&1
    return
  fi
  local snd=()
  if [ "$sock" != "-" ]; then
    snd=(-chardev socket,id=snd0,path="$sock" -device vhost-user-snd-pci,chardev=snd0,controls=on)
  fi
  boot_guest --shared-ram "$work" 180 512 "${snd[@]}"
}

guest_script_main "SOCKET WORKDIR [INIT]" "$@"
