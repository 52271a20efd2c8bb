#!/usr/bin/env bash
# Runs the kernel's scripts/checkpatch.pl --strict on this driver, taken from Debian's
# linux-source-6.12 (/usr/src/linux-source-6.12.tar.xz; only the script and its data files
# are unpacked, into ${DRIVERVM_CACHE:-~/.cache/drivervm}/checkpatch-6.12-v1).
#
#   checkpatch.sh check    lists what is missing (exit 3 if anything)
#   checkpatch.sh run      checks virtio_radio.c and virtio_radio.h; fails on any finding
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}/checkpatch-6.12-v1"
FILES=(checkpatch.pl spelling.txt const_structs.checkpatch)

tarball() { ls /usr/src/linux-source-6.12*.tar.* 2>/dev/null | head -n 1; }

case "${1:-}" in
  check)
    miss=()
    command -v perl >/dev/null || miss+=(perl)
    [ -f "$CACHE/scripts/checkpatch.pl" ] || [ -n "$(tarball)" ] ||
      miss+=("/usr/src/linux-source-6.12.tar.xz (linux-source-6.12)")
    if [ ${#miss[@]} -gt 0 ]; then printf 'missing: %s\n' "${miss[*]}"; exit 3; fi
    ;;
  run)
    if [ ! -f "$CACHE/scripts/checkpatch.pl" ]; then
      tmp="$(mktemp -d)"
      top="$(basename "$(tarball)" | sed "s/\.tar\..*//")"
      tar -xf "$(tarball)" -C "$tmp" "${FILES[@]/#/$top/scripts/}"
      mkdir -p "$CACHE"
      rm -rf "$CACHE/scripts"
      mv "$tmp/$top/scripts" "$CACHE/scripts"
      rm -rf "$tmp"
    fi
    cd "$HERE"
    perl "$CACHE/scripts/checkpatch.pl" --strict --no-tree --no-summary --terse -f \
      virtio_radio.c virtio_radio.h
    perl "$CACHE/scripts/checkpatch.pl" --strict --no-tree -f virtio_radio.c virtio_radio.h |
      grep '^total:'
    ;;
  *)
    echo "usage: $0 check | run" >&2
    exit 2
    ;;
esac
