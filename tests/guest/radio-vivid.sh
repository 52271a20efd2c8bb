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
# The kernel comes from x86-guest-lib.sh (cached, shared with the other x86 guest tests).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/guest/x86-guest-lib.sh
. "$HERE/x86-guest-lib.sh"
MODULES=(rc-core cec mc videobuf2-common videodev videobuf2-v4l2 videobuf2-memops
  videobuf2-vmalloc videobuf2-dma-contig v4l2-dv-timings v4l2-tpg vivid)

missing_tools() {
  need_qemu
  need_guest_base
}

run_guest() {
  local bindir="$1" work="$2"
  fetch_kernel
  local root
  root="$(new_root data)"
  add_modules "$root" "${MODULES[@]}"
  copy_with_libs "$root" "$bindir/drivervm" /usr/bin/drivervm
  copy_with_libs "$root" "$bindir/drivervm-load" /usr/bin/drivervm-load
  install -m 0755 "$HERE/radio-vivid-init.sh" "$root/init"
  install -m 0644 "$HERE/radio-vivid.toml" "$root/data/radio.toml"
  pack_initrd "$root" "$work/initrd.gz"
  rm -rf "$root"
  boot_guest "$work" 240 512
}

guest_script_main "BINDIR WORKDIR" "$@"
