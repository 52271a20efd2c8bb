#!/usr/bin/env bash
# Builds qemu-system-x86_64 from Debian's QEMU source package (bookworm-backports) with the
# generic `vhost-user-device-pci` made user-creatable and the virtio-radio ID (56) added to
# QEMU's device-name table, so a guest can be given a virtio-radio device served over
# vhost-user (tests/guest_radio_driver.rs). Release QEMU hides that generic device
# ("Parameter 'driver' expects a pluggable device type") and asserts on IDs it has no name
# for. Nothing of QEMU is committed: the edits are made by sed below, and checked.
#
#   build-qemu-x86.sh check    prints what is missing to build (exit 3 if anything)
#   build-qemu-x86.sh path     builds if needed (minutes at -j2), prints the binary's path
#
# Cached under ${DRIVERVM_CACHE:-~/.cache/drivervm}/qemu-10.0.2-radio-v1 (delete to rebuild).
# Needs a deb-src entry for bookworm-backports (.ci/apt-deb-src.sh adds one, as root).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
VER=10.0.2
SRCPKG="qemu=1:10.0.2+ds-2+deb13u1~bpo12+1"
CACHE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}/qemu-$VER-radio-v1"
BIN="$CACHE/bin/qemu-system-x86_64"
TOOLS=(cc make ninja meson pkg-config tar xz sed flex bison)
# Debian's python: its meson and pycotap modules are what QEMU's configure imports.
PY=/usr/bin/python3

missing() {
  [ -x "$BIN" ] && return
  local t
  for t in "${TOOLS[@]}"; do command -v "$t" >/dev/null || echo "$t"; done
  [ -e /usr/share/seabios/bios-256k.bin ] || echo "/usr/share/qemu firmware (qemu-system-data, seabios)"
  pkg-config --exists glib-2.0 2>/dev/null || echo "glib-2.0 (libglib2.0-dev)"
  echo "#include <libfdt.h>" | cc -E - >/dev/null 2>&1 || echo "libfdt.h (libfdt-dev)"
  "$PY" -c 'import pycotap' 2>/dev/null || echo "pycotap (python3-pycotap, bookworm-backports)"
  # QEMU 10 wants meson >= 1.5 (bookworm-backports); its bundled copy is stripped (+ds).
  if command -v meson >/dev/null; then
    local mv
    mv="$(meson --version)"
    [ "$(printf '%s\n' 1.5.0 "$mv" | sort -V | head -1)" = 1.5.0 ] ||
      echo "meson >= 1.5 (bookworm-backports; have $mv)"
  fi
}

fetch_source() {
  mkdir -p "$CACHE/dl"
  local orig="$CACHE/dl/qemu_$VER+ds.orig.tar.xz"
  if [ ! -f "$orig" ]; then
    if ! apt-cache showsrc qemu 2>/dev/null | grep -q "^Version: ${SRCPKG#qemu=}$"; then
      bash "$HERE/../../.ci/apt-deb-src.sh" bookworm-backports
    fi
    # apt verifies each file's hash before keeping it. Only the upstream tarball is used
    # (Debian's packaging is not needed to build one target), so a missing .dsc or
    # .debian.tar.xz on a mirror does not matter as long as the tarball arrived.
    (cd "$CACHE/dl" && apt-get source -qq --download-only "$SRCPKG") ||
      [ -f "$orig" ] || { echo "apt-get source $SRCPKG failed" >&2; exit 1; }
  fi
  rm -rf "$CACHE/src"
  mkdir -p "$CACHE/src"
  tar -xf "$orig" -C "$CACHE/src" --strip-components=1
}

patch_source() {
  local pci="$CACHE/src/hw/virtio/vhost-user-device-pci.c" names="$CACHE/src/hw/virtio/virtio.c"
  sed -i 's/dc->user_creatable = false;/dc->user_creatable = true;/' "$pci"
  grep -q 'dc->user_creatable = true;' "$pci" || { echo "sed missed $pci" >&2; exit 1; }
  sed -i 's/\[VIRTIO_ID_GPIO\] = "virtio-gpio"$/&,\n    [56] = "virtio-radio"/' "$names"
  grep -q '\[56\] = "virtio-radio"' "$names" || { echo "sed missed $names" >&2; exit 1; }
  # The +ds tarball has no firmware blobs (Debian ships them in seabios, qemu-system-data):
  # skip unpacking the EDK2 images, and use the installed firmware at run time.
  sed -i 's/unpack_edk2_blobs = bzip2.found()/unpack_edk2_blobs = false # patched/' "$CACHE/src/meson.build"
  grep -q '^ *unpack_edk2_blobs = false # patched$' "$CACHE/src/meson.build" ||
    { echo "sed missed meson.build" >&2; exit 1; }
}

build() {
  [ -x "$BIN" ] && return
  # One build at a time (tests run in parallel); a waiter finds the binary built.
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9
  [ -x "$BIN" ] && return
  fetch_source
  patch_source
  rm -rf "$CACHE/build"
  mkdir -p "$CACHE/build"
  (
    cd "$CACHE/build"
    # Only what the guest tests use: TCG x86_64 with vhost-user, memfd and PCI devices.
    nice -n 5 ../src/configure --prefix="$CACHE" --python="$PY" --target-list=x86_64-softmmu \
      --without-default-features --disable-docs --disable-werror --disable-download \
      --enable-vhost-user --enable-fdt=system --disable-user \
      --disable-install-blobs --firmwarepath=/usr/share/qemu:/usr/share/seabios >configure.log 2>&1 ||
      { tail -40 configure.log >&2; exit 1; }
    # The emulator alone: `make all` would also build the tools and tests (3x the work).
    nice -n 5 ninja -j"${JOBS:-2}" qemu-system-x86_64 >make.log 2>&1 ||
      { tail -40 make.log >&2; exit 1; }
  )
  install -D -m 0755 "$CACHE/build/qemu-system-x86_64" "$BIN"
  "$BIN" -device help | grep -q '"vhost-user-device-pci"' ||
    { echo "built QEMU lacks a user-creatable vhost-user-device-pci" >&2; exit 1; }
  rm -rf "$CACHE/src" "$CACHE/build"
}

case "${1:-}" in
  check)
    m="$(missing)"
    if [ -n "$m" ]; then printf 'missing: %s\n' "$m"; exit 3; fi
    ;;
  path)
    m="$(missing)"
    if [ -n "$m" ]; then printf 'missing: %s\n' "$m" >&2; exit 3; fi
    build
    echo "$BIN"
    ;;
  *)
    echo "usage: $0 check | path" >&2
    exit 2
    ;;
esac
