# Sourced by the x86 guest scripts (control-guest.sh, radio-driver.sh, radio-vivid.sh,
# sound-guest.sh, vsock-two-vm.sh): the one guest kernel they all boot (Debian's 6.12, from
# apt, cached), the host-tool check they share, how they fill an initramfs from host files,
# the QEMU machine they boot it in, and the scripts' own command line. One copy, so the
# kernel version and the cache key cannot drift apart between them.
#
# Cache: ${DRIVERVM_CACHE:-~/.cache/drivervm}/guest-x86-6.12-v1 (the unpacked kernel package;
# delete it to download again).
# shellcheck shell=bash

KVER=6.12.95+deb12-amd64
KPKG="linux-image-$KVER"
DCACHE="${DRIVERVM_CACHE:-$HOME/.cache/drivervm}"
CACHE="$DCACHE/guest-x86-6.12-v1"
KERNEL="$CACHE/root/boot/vmlinuz-$KVER"
QEMU="${QEMU:-qemu-system-x86_64}"
GUEST_INIT_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/guest-init-lib.sh"

# What the host lacks, one entry per item; each script adds its own to this list and ends
# its `check` with report_missing.
MISSING=()

# Adds each command of "$@" that is not on PATH to MISSING.
need_cmds() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || MISSING+=("$t"); done
}

# Adds what building and booting any x86 guest needs: a static busybox (the guest's whole
# userland), the initramfs tools, and apt-get while the kernel is not cached.
need_guest_base() {
  # A dynamically linked busybox would need its libraries in every initramfs.
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
    MISSING+=("static /bin/busybox (busybox-static)")
  need_cmds modprobe depmod xz cpio gzip ldd
  [ -f "$KERNEL" ] || command -v apt-get >/dev/null || MISSING+=("apt-get (to download $KPKG)")
}

# Adds $QEMU if it is not there, and each frontend device of "$@" it cannot create.
need_qemu() {
  local d devices
  if ! command -v "$QEMU" >/dev/null; then
    MISSING+=("$QEMU (qemu-system-x86 from bookworm-backports)")
    return
  fi
  # Captured first: grep -q stopping early would fail the pipe under pipefail.
  devices="$("$QEMU" -device help 2>/dev/null || true)"
  for d in "$@"; do
    grep -qF "\"$d\"" <<<"$devices" || MISSING+=("$QEMU with $d")
  done
}

# Prints MISSING after "missing: " and exits 3 if it holds anything (the Rust side skips the
# test with that text, or fails under CI).
report_missing() {
  if [ ${#MISSING[@]} -gt 0 ]; then
    printf 'missing: %s\n' "$(printf '%s\n' "${MISSING[@]}")"
    exit 3
  fi
}

# Downloads the packages "${@:2}" into directory $1, updating the package lists once if the
# first attempt fails (a fresh machine has none).
apt_download() {
  local dir="$1"
  shift
  (cd "$dir" && apt-get download "$@" >/dev/null 2>&1) || {
    apt-get update -qq && (cd "$dir" && apt-get download "$@")
  }
}

# Unpacks the guest kernel package into the cache (not installed) with its module index.
fetch_kernel() {
  [ -f "$KERNEL" ] && return
  mkdir -p "$CACHE"
  local tmp
  tmp="$(mktemp -d "$CACHE/dl.XXXXXX")"
  apt_download "$tmp" "$KPKG"
  dpkg -x "$tmp"/*.deb "$tmp/root"
  depmod -b "$tmp/root" "$KVER"
  rm -rf "$CACHE/root"
  mv "$tmp/root" "$CACHE/root"
  rm -rf "$tmp"
}

# Installs host binary $2 into root $1 as $3 (default: its own path), with the shared
# libraries it loads at their own paths. Debug info is dropped (symbols stay, so a panic's
# backtrace still names functions): the debug builds' DWARF is most of their size, and
# the initramfs is unpacked into guest RAM, where a 512 MiB guest ran out ("Initramfs
# unpacking failed: write error") once the service grew past 100 MB.
copy_with_libs() {
  local dest="$1" bin="$2" as="${3:-$2}"
  install -D -m 0755 "$bin" "$dest$as"
  if command -v strip >/dev/null; then
    strip --strip-debug "$dest$as"
  fi
  ldd "$bin" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    [ -n "$lib" ] && [ -e "$lib" ] && install -D -m 0755 "$(readlink -f "$lib")" "$dest$lib"
  done
}

# Decompresses the guest kernel's modules "${@:2}" into $1/lib/modules/NAME.ko, where the
# guests' init scripts insmod them in the order they need.
add_modules() {
  local root="$1" m ko
  shift
  mkdir -p "$root/lib/modules"
  for m in "$@"; do
    ko="$(modprobe -d "$CACHE/root" -S "$KVER" --show-depends "$m" | awk '{print $2}' | tail -1)"
    xz -dc "$ko" > "$root/lib/modules/$m.ko"
  done
}

# Packs directory $1 into the gzip'd newc cpio $2 (an initramfs).
# Its "." becomes the guest's /, which must be 0755 as on any system (mktemp -d makes it
# 0700): drivervm drops to an unprivileged user and must still reach /dev and /tmp.
pack_initrd() {
  chmod 0755 "$1"
  (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"
}

# Prints the path of a new initramfs root (a temporary directory; the caller removes it)
# holding the static busybox, the start every guest init sources (guest-init-lib.sh, as
# /lib/guest-init.sh) and the directories every guest init uses, plus "$@" (paths relative
# to the root).
new_root() {
  # Run in a command substitution, where errexit does not hold: each step says so itself.
  local root d
  root="$(mktemp -d)" || return
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules} || return
  for d in "$@"; do mkdir -p "$root/$d" || return; done
  install -m 0755 /bin/busybox "$root/bin/busybox" || return
  install -m 0644 "$GUEST_INIT_LIB" "$root/lib/guest-init.sh" || return
  printf '%s\n' "$root"
}

# Runs the guest kernel on initramfs $1 in a 2-CPU q35 TCG machine for at most $2 seconds
# (GUEST_TIMEOUT overrides) with $3 MiB of RAM and the further QEMU arguments "${@:4}"
# (devices, then the serial ports: the first is the guest's console), stdin closed.
# Options before $1: --reboot lets a guest reboot (the machine resets and boots again)
# where by default its reboot ends QEMU; --loglevel=N sets the kernel's console log level
# (default 3); --shared-ram backs the RAM with a shared memfd, which a vhost-user backend
# process must map; --background returns at once, with $! the pid of the timeout process
# (killing it stops QEMU).
run_qemu() {
  local reboot=-no-reboot loglevel=3 shared=no bg=no ram=() cmd
  while :; do
    case "${1:-}" in
      --reboot) reboot= ;;
      --loglevel=*) loglevel="${1#*=}" ;;
      --shared-ram) shared=yes ;;
      --background) bg=yes ;;
      *) break ;;
    esac
    shift
  done
  local initrd="$1" secs="$2" mem="$3"
  shift 3
  if [ "$shared" = yes ]; then
    ram=(-object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -numa node,memdev=mem)
  fi
  cmd=(timeout "${GUEST_TIMEOUT:-$secs}" "$QEMU" -M q35 -accel tcg -cpu max -m "$mem" -smp 2
    -nodefaults -no-user-config -display none ${reboot:+"$reboot"}
    -kernel "$KERNEL" -initrd "$initrd"
    -append "console=ttyS0 panic=-1 loglevel=$loglevel"
    "${ram[@]}" "$@")
  if [ "$bg" = yes ]; then
    "${cmd[@]}" </dev/null &
  else
    "${cmd[@]}" </dev/null
  fi
}

# run_qemu on WORKDIR/initrd.gz: the options of run_qemu, then $1 is WORKDIR, $2 the
# seconds, $3 the RAM in MiB and "${@:4}" further QEMU arguments (devices). The console
# goes to WORKDIR/console.log, the second serial port (the guest's report) to
# WORKDIR/report.log, emptied first.
boot_guest() {
  local opts=()
  while [[ "${1:-}" == --* ]]; do
    opts+=("$1")
    shift
  done
  local work="$1" secs="$2" mem="$3"
  shift 3
  : > "$work/report.log"
  run_qemu "${opts[@]}" "$work/initrd.gz" "$secs" "$mem" "$@" \
    -serial file:"$work/console.log" -serial file:"$work/report.log"
}

# The command line of a guest script whose `run` takes the words of $1 (e.g. "BINDIR
# WORKDIR"; a word in brackets, "[INIT]", may be left out, from the end): `check` runs the
# script's missing_tools and report_missing, `run ARGS` its run_guest ARGS; anything else
# prints the usage and exits 2.
guest_script_main() {
  local args="$1" words w need=0
  shift
  read -ra words <<<"$args"
  for w in "${words[@]}"; do [[ "$w" == \[* ]] || need=$((need + 1)); done
  case "${1:-}" in
    check)
      missing_tools
      report_missing
      ;;
    run)
      shift
      [ $# -ge $need ] && [ $# -le ${#words[@]} ] || { echo "usage: $0 run $args" >&2; exit 2; }
      run_guest "$@"
      ;;
    *)
      echo "usage: $0 check | run $args" >&2
      exit 2
      ;;
  esac
}
