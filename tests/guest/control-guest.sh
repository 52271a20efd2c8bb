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
# The kernel comes from x86-guest-lib.sh (shared with the other x86 guest tests).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/guest/x86-guest-lib.sh
. "$HERE/x86-guest-lib.sh"
RSB_HUB="${RSB_HUB:-$DCACHE/rsbinder-tools-0.12-v1/bin/rsb_hub}"
MODULES=(binder_linux vsock vmw_vsock_virtio_transport_common vsock_loopback)

missing_tools() {
  need_qemu
  need_guest_base
  [ -x "$RSB_HUB" ] || MISSING+=("rsb_hub at $RSB_HUB (cargo install --locked rsbinder-tools --version 0.12.0 --root $(dirname "$(dirname "$RSB_HUB")"))")
}

run_guest() {
  local bindir="$1" work="$2"
  fetch_kernel
  local root
  root="$(new_root data etc)"
  add_modules "$root" "${MODULES[@]}"
  local b
  for b in drivervm drivervmctl drivervm-load drivervm-ctlbench; do
    copy_with_libs "$root" "$bindir/$b" "/usr/bin/$b"
  done
  copy_with_libs "$root" "$RSB_HUB" /usr/bin/rsb_hub
  # rsb_hub resolves the user and groups of a caller's uid: root's (drivervmctl) and the
  # default user's drivervm drops to (it needs neither file itself).
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  install -m 0755 "$HERE/control-guest-init.sh" "$root/init"
  install -m 0644 "$HERE/control-hub.toml" "$root/data/hub.toml"
  # Control over unix, vsock (CID 1 is vsock_loopback's, i.e. this guest) and kernel binder.
  { printf '[service]\ncontrol_vsock_port = 5680\ncontrol_vsock_cids = [1]\n'
    "$bindir/drivervm" --print-default-config; } > "$root/data/control.toml"
  # A second instance whose allowlist does not hold this guest's CID.
  { printf '[service]\ncontrol_vsock_port = 5681\ncontrol_vsock_cids = [42]\n'
    "$bindir/drivervm" --print-default-config; } > "$root/data/refusing.toml"
  pack_initrd "$root" "$work/initrd.gz"
  rm -rf "$root"
  boot_guest "$work" 300 1024
}

guest_script_main "BINDIR WORKDIR" "$@"
