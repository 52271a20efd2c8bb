#!/bin/sh
# Builds the arm64 guest kernel used by the SCMI guest test, from Debian's linux-source-6.12,
# with the configuration fragment below, and caches the Image under a versioned directory.
# Usage: build-kernel-arm64.sh [CACHE_DIR]   (prints the path of the cached Image)
# Needs: linux-source-6.12 gcc-aarch64-linux-gnu libc6-dev-arm64-cross flex bison bc make
set -eu

VERSION=v1
CACHE=${1:-${DRIVERVM_CACHE:-$HOME/.cache/drivervm}/kernel-arm64-6.12-$VERSION}
IMAGE=$CACHE/Image
if [ -s "$IMAGE" ]; then
    echo "$IMAGE"
    exit 0
fi

TARBALL=$(ls /usr/src/linux-source-6.12*.tar.* 2>/dev/null | head -n 1)
if [ -z "$TARBALL" ]; then
    echo "build-kernel-arm64: no /usr/src/linux-source-6.12 tarball (apt-get install linux-source-6.12)" >&2
    exit 2
fi
for tool in aarch64-linux-gnu-gcc flex bison bc make; do
    command -v "$tool" >/dev/null || { echo "build-kernel-arm64: $tool missing" >&2; exit 2; }
done

mkdir -p "$CACHE"
WORK=$CACHE/build
rm -rf "$WORK"
mkdir -p "$WORK"
tar -C "$WORK" -xf "$TARBALL"
SRC=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d | head -n 1)

FRAG=$WORK/scmi.config
for opt in 64BIT SMP PRINTK TTY SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE BLK_DEV_INITRD \
    RD_GZIP DEVTMPFS DEVTMPFS_MOUNT PROC_FS SYSFS TMPFS BINFMT_ELF BINFMT_SCRIPT MULTIUSER \
    FUTEX EPOLL POSIX_TIMERS ARCH_VIRT ARM_GIC_V3 PCI PCI_HOST_GENERIC VIRTIO_MENU VIRTIO_PCI \
    VIRTIO_MMIO COMMON_CLK ARM_SCMI_PROTOCOL ARM_SCMI_TRANSPORT_VIRTIO \
    ARM_SCMI_RAW_MODE_SUPPORT ARM_SCMI_RAW_MODE_SUPPORT_COEX COMMON_CLK_SCMI \
    ARM_SCMI_POWER_DOMAIN RESET_CONTROLLER RESET_SCMI PM_GENERIC_DOMAINS PM \
    HWMON SENSORS_ARM_SCMI THERMAL THERMAL_OF ARM_SCMI_PERF_DOMAIN \
    DEBUG_FS POWER_RESET POWER_RESET_SYSCON ARM_PSCI_FW; do
    echo "CONFIG_$opt=y" >>"$FRAG"
done

JOBS=${JOBS:-2}
make -C "$SRC" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- allnoconfig KCONFIG_ALLCONFIG="$FRAG" >/dev/null
# Fail loudly if a needed option did not survive dependency resolution.
for opt in ARM_SCMI_TRANSPORT_VIRTIO COMMON_CLK_SCMI ARM_SCMI_RAW_MODE_SUPPORT_COEX; do
    grep -q "^CONFIG_$opt=y" "$SRC/.config" || { echo "build-kernel-arm64: CONFIG_$opt not set" >&2; exit 1; }
done
nice make -C "$SRC" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -j"$JOBS" Image >"$CACHE/build.log" 2>&1 ||
    { tail -n 30 "$CACHE/build.log" >&2; exit 1; }
cp "$SRC/arch/arm64/boot/Image" "$IMAGE.tmp"
cp "$SRC/.config" "$CACHE/config"
mv "$IMAGE.tmp" "$IMAGE"
rm -rf "$WORK"
echo "$IMAGE"
