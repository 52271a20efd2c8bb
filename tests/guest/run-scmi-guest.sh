#!/bin/sh
# Boots an arm64 Linux guest (TCG) whose virtio-scmi device is served by drivervm over
# vhost-user, and prints the guest console. The guest's /init (scmi-guest-init.c) prints
# the kernel's view of the SCMI platform and the replies to the raw messages in CHECKS.
#
# Usage: run-scmi-guest.sh DRIVERVM_BINARY WORKDIR CHECKS [DRIVERVM_ARGS...]
# With VMM_LINE set (a README command using $KERNEL, $INITRD, $DTB and $XDG_RUNTIME_DIR),
# that line boots the guest.
# Needs: qemu-system-aarch64 (>= 7.2, vhost-user-scmi-pci), dtc, cpio, gzip,
#        aarch64-linux-gnu-gcc with a static libc, and what build-kernel-arm64.sh needs.
# Exit status: 0 when the guest ran to its end, 3 when a tool is missing, else failure.
set -eu

DRIVERVM=$1
WORK=$2
CHECKS=$3
shift 3
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in qemu-system-aarch64 dtc cpio gzip aarch64-linux-gnu-gcc; do
    command -v "$tool" >/dev/null || { echo "run-scmi-guest: $tool missing" >&2; exit 3; }
done
IMAGE=$("$HERE/build-kernel-arm64.sh") || { echo "run-scmi-guest: no kernel" >&2; exit 3; }

mkdir -p "$WORK"
# initramfs: the static init and the checks (init takes its console from devtmpfs).
ROOT=$WORK/root
rm -rf "$ROOT"
mkdir -p "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/tmp"
aarch64-linux-gnu-gcc -static -O2 -o "$ROOT/init" "$HERE/scmi-guest-init.c"
cp "$CHECKS" "$ROOT/checks.txt"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"

MEM="-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem"
MACHINE="-M virt,gic-version=3 -accel tcg,thread=multi -cpu max -m 512 -smp 2"
# The machine's own device tree plus the SCMI firmware node (PCI devices are not in it).
# shellcheck disable=SC2086
qemu-system-aarch64 $MACHINE $MEM -nodefaults -no-user-config -display none \
    -machine dumpdtb="$WORK/virt.dtb" >/dev/null 2>&1
dtc -q -I dtb -O dts -o "$WORK/virt.dts" "$WORK/virt.dtb"
cat >>"$WORK/virt.dts" <<'DTS'
/ {
	firmware {
		scmi {
			compatible = "arm,scmi-virtio";
			#address-cells = <1>;
			#size-cells = <0>;
			scmi_power: protocol@11 {
				reg = <0x11>;
				#power-domain-cells = <1>;
			};
			scmi_perf: protocol@13 {
				reg = <0x13>;
				#power-domain-cells = <1>;
			};
			scmi_clk: protocol@14 {
				reg = <0x14>;
				#clock-cells = <1>;
			};
			scmi_sensors: protocol@15 {
				reg = <0x15>;
				#thermal-sensor-cells = <1>;
			};
			scmi_reset: protocol@16 {
				reg = <0x16>;
				#reset-cells = <1>;
			};
		};
	};
};
DTS
dtc -q -I dts -O dtb -o "$WORK/virt-scmi.dtb" "$WORK/virt.dts"

# The runtime dir a user's service has, $XDG_RUNTIME_DIR/drivervm, for the README line.
XDG_RUNTIME_DIR=$WORK/xdg
export XDG_RUNTIME_DIR
RUN=$XDG_RUNTIME_DIR/drivervm
rm -rf "$RUN"
# State (the default config's RPMB image) stays in the work dir too, never the host's
# /var/lib/drivervm, which an earlier run may have left to another user.
"$DRIVERVM" --runtime-dir "$RUN" --state-dir "$WORK/state" "$@" >"$WORK/drivervm.log" 2>&1 &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null || true' EXIT
i=0
while [ ! -S "$RUN/vm0-scmi.sock" ]; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 $SERVICE 2>/dev/null; then
        echo "run-scmi-guest: drivervm did not start:" >&2
        cat "$WORK/drivervm.log" >&2
        exit 1
    fi
    sleep 0.05
done

if [ -n "${VMM_LINE:-}" ]; then
    # A README line, run as written with its variables set.
    KERNEL=$IMAGE INITRD=$WORK/initrd.gz DTB=$WORK/virt-scmi.dtb \
        timeout 180 bash -c "$VMM_LINE -no-reboot" </dev/null
    exit
fi
# shellcheck disable=SC2086
timeout 180 qemu-system-aarch64 $MACHINE $MEM -nodefaults -no-user-config -display none \
    -serial stdio -no-reboot -kernel "$IMAGE" -initrd "$WORK/initrd.gz" \
    -dtb "$WORK/virt-scmi.dtb" -append "console=ttyAMA0 panic=-1" \
    -chardev socket,id=scmi0,path="$RUN/vm0-scmi.sock" \
    -device vhost-user-scmi-pci,chardev=scmi0 </dev/null
