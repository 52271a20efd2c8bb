#!/usr/bin/env bash
# Boots a real Linux guest (x86_64, QEMU TCG, Debian's 6.12 kernel) with our virtio_radio
# module (guest/linux/virtio-radio, built against that kernel's Debian headers) against a
# virtio-radio and a virtio-snd vhost-user socket, and runs v4l-utils' v4l2-ctl and rds-ctl
# and alsa-utils' arecord in it. The QEMU is the one tests/guest/build-qemu-x86.sh builds
# (release QEMU cannot create a vhost-user device of ID 56).
#
#   radio-driver.sh check                      lists what is missing (exit 3 if anything)
#   radio-driver.sh run RADIO SND WORKDIR      boots the guest twice (the second time by a
#                                              guest reboot); the report lands in
#                                              WORKDIR/report.log, the console in
#                                              WORKDIR/console.log
#
# Caches under ${DRIVERVM_CACHE:-~/.cache/drivervm}: guest-x86-6.12-v1 (the kernel, from
# x86-guest-lib.sh, shared with the other x86 guest tests) and linux-headers-6.12.95+deb12-v1
# (headers + kbuild, extracted).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tests/guest/x86-guest-lib.sh
. "$HERE/x86-guest-lib.sh"
KBASE=6.12.95+deb12
HPKGS=("linux-headers-$KVER" "linux-headers-$KBASE-common" "linux-kbuild-$KBASE")
HCACHE="$DCACHE/linux-headers-$KBASE-v1"
KDIR="$HCACHE/root/usr/src/linux-headers-$KVER"
MODULES=(mc videodev soundcore snd snd-timer snd-pcm virtio_snd virtio_blk)
GUEST_TOOLS=(v4l2-ctl rds-ctl v4l2-compliance arecord)

missing_tools() {
  local t
  bash "$HERE/build-qemu-x86.sh" check >/dev/null 2>&1 ||
    MISSING+=("$(bash "$HERE/build-qemu-x86.sh" check 2>&1 | tr '\n' ' ')")
  need_guest_base
  for t in v4l2-ctl rds-ctl v4l2-compliance; do
    command -v "$t" >/dev/null || MISSING+=("$t (v4l-utils)")
  done
  command -v arecord >/dev/null || MISSING+=("arecord (alsa-utils)")
  need_cmds make dpkg base64
  # Debian's kernel headers build modules with the compiler the kernel was built with.
  command -v x86_64-linux-gnu-gcc-12 >/dev/null || MISSING+=("x86_64-linux-gnu-gcc-12 (gcc-12)")
  if [ ! -f "$KDIR/.config" ]; then
    command -v apt-get >/dev/null || MISSING+=("apt-get (to download the kernel headers)")
  fi
}

# The headers packages of exactly the guest kernel, unpacked (not installed).
fetch_headers() {
  [ -f "$KDIR/.config" ] && return
  mkdir -p "$HCACHE"
  local tmp d
  tmp="$(mktemp -d "$HCACHE/dl.XXXXXX")"
  apt_download "$tmp" "${HPKGS[@]}"
  for d in "$tmp"/*.deb; do dpkg -x "$d" "$tmp/root"; done
  # The arch tree includes the common tree by its installed path; point it at ours.
  sed -i "s|^include /usr/src/|include $HCACHE/root/usr/src/|" \
    "$tmp/root/usr/src/linux-headers-$KVER/Makefile"
  rm -rf "$HCACHE/root"
  mv "$tmp/root" "$HCACHE/root"
  rm -rf "$tmp"
}

# Builds the module in WORKDIR (the source tree stays clean). BTF for modules needs pahole
# and is only debugging information: it is left out.
build_module() {
  local work="$1"
  rm -rf "$work/mod"
  cp -r "$REPO/guest/linux/virtio-radio" "$work/mod"
  nice make -C "$work/mod" KDIR="$KDIR" KMAKEFLAGS="CONFIG_DEBUG_INFO_BTF_MODULES=" \
    >"$work/module-build.log" 2>&1 || { cat "$work/module-build.log" >&2; exit 1; }
  if grep -E 'warning:|error:' "$work/module-build.log" >&2; then
    echo "the module must build without warnings" >&2
    exit 1
  fi
}

build_initrd() {
  local work="$1" root t
  root="$(new_root usr/share usr/bin)"
  add_modules "$root" "${MODULES[@]}"
  install -m 0644 "$work/mod/virtio_radio.ko" "$root/lib/modules/virtio_radio.ko"
  for t in "${GUEST_TOOLS[@]}"; do copy_with_libs "$root" "$(command -v "$t")"; done
  cp -a /usr/share/alsa "$root/usr/share/alsa"
  install -m 0755 "$HERE/radio-driver-init.sh" "$root/init"
  pack_initrd "$root" "$work/initrd.gz"
  rm -rf "$root"
}

run_guest() {
  # The QEMU that can create the radio device, not the host's (boot_guest runs $QEMU).
  local radio="$1" snd="$2" work="$3" QEMU
  QEMU="$(bash "$HERE/build-qemu-x86.sh" path)"
  fetch_kernel
  fetch_headers
  build_module "$work"
  build_initrd "$work"
  # A one-sector disk tells the guest which boot it is in (the reboot check).
  head -c 4096 /dev/zero > "$work/boot.img"
  # The guest's reboot resets the machine and boots it again; the second boot powers off.
  boot_guest --reboot --loglevel=4 --shared-ram "$work" 600 512 \
    -chardev socket,id=radio0,path="$radio" \
    -device vhost-user-device-pci,chardev=radio0,virtio-id=56,num_vqs=2,vq_size=256,config_size=160 \
    -chardev socket,id=snd0,path="$snd" \
    -device vhost-user-snd-pci,chardev=snd0,controls=on \
    -drive file="$work/boot.img",format=raw,if=none,id=boot0 \
    -device virtio-blk-pci,drive=boot0
}

guest_script_main "RADIO_SOCKET SND_SOCKET WORKDIR" "$@"
