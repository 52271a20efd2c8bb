# Sourced first by the init script (PID 1, busybox sh) of every x86 test guest; new_root
# (x86-guest-lib.sh) puts it in the initramfs as /lib/guest-init.sh. It puts busybox's
# applets on PATH, mounts /proc, /sys and /dev, and opens the guest's report: fd 3 on the
# second serial port (ttyS1), which the host test parses.
# shellcheck shell=sh

/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 3>/dev/ttyS1

# Writes its arguments as one line to the report.
say() { echo "$*" >&3; }

# Loads /lib/modules/NAME.ko for each NAME of "$@", in that order (their dependencies
# first), saying in the report which failed.
load_modules() {
  for m in "$@"; do
    insmod "/lib/modules/$m.ko" || say "insmod $m failed"
  done
}

# Queries the drivervm service at --connect address $1 with drivervmctl: status and a
# device, each as text and as JSON, output and exit status into the report under
# "=== $2NAME" and "=== rc=N" ($2 prefixes the section names; it may be empty).
ctl_queries() {
  say "=== $2status"
  drivervmctl --connect "$1" status >&3 2>&1
  say "=== rc=$?"
  say "=== $2status-json"
  drivervmctl --connect "$1" --json status >&3 2>&1
  say "=== rc=$?"
  say "=== $2device"
  drivervmctl --connect "$1" device vm0-scmi >&3 2>&1
  say "=== rc=$?"
  say "=== $2device-json"
  drivervmctl --connect "$1" --json device vm0-rpmb >&3 2>&1
  say "=== rc=$?"
}
