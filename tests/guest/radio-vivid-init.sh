#!/bin/busybox sh
# PID 1 of the vivid guest: loads vivid with only a radio receiver, serves it as a
# virtio-radio device with drivervm's v4l2 backend, drives that device with drivervm-load and
# writes a report to the second serial port (ttyS1), which the host test parses.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
mount -t tmpfs tmp /tmp
for m in rc-core cec mc videobuf2-common videodev videobuf2-v4l2 videobuf2-memops \
  videobuf2-vmalloc videobuf2-dma-contig v4l2-dv-timings v4l2-tpg; do
  insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
# node_types bit 4: the radio receiver alone, so it is /dev/radio0.
insmod /lib/modules/vivid.ko node_types=0x10 || echo "insmod vivid failed"
say "=== nodes"
ls /dev/radio* >&3 2>&1
drivervm --config /data/radio.toml --runtime-dir /tmp/run >/tmp/drivervm.log 2>&1 &
i=0
while [ ! -S /tmp/run/vm0-radio.sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for op in radio-get-program-info radio-seek radio-tune; do
  say "=== $op"
  drivervm-load --socket /tmp/run/vm0-radio.sock --device radio --op $op \
    --warmup 1 --duration 3 --timeout 5 >&3 2>&1
  say "=== rc=$?"
done
say "=== drivervm log"
cat /tmp/drivervm.log >&3
say "=== done"
sync
poweroff -f
