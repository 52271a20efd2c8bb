#!/bin/busybox sh
# PID 1 of the radio driver guest (tests/guest/radio-driver.sh): loads virtio_radio, drives
# /dev/radio0 with v4l2-ctl and rds-ctl, records the tuner's capture stream with arecord,
# unloads and reloads the module, then reboots; the second boot (told apart by a marker on
# the virtio disk) checks the radio again and powers off. The report goes to ttyS1 in
# "=== section" blocks that tests/guest_radio_driver.rs parses.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
mount -t tmpfs tmp /tmp
# Runs a command, its output and exit status into the report under section $1.
step() {
  name="$1"
  shift
  say "=== $name"
  "$@" >&3 2>&1
  say "=== $name rc=$?"
}
# Hundredths of a second since boot.
now() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

load_modules mc videodev soundcore snd snd-timer snd-pcm virtio_snd virtio_blk
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
boot="$(dd if=/dev/vda bs=5 count=1 2>/dev/null)"

load_radio() {
  insmod /lib/modules/virtio_radio.ko || say "insmod virtio_radio failed"
  i=0
  while [ ! -e /dev/radio0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}

if [ "$boot" = "BOOT1" ]; then
  say "=== boot 2"
  load_radio
  step boot2-set-freq v4l2-ctl -d /dev/radio0 --set-freq=94.3
  step boot2-get-tuner v4l2-ctl -d /dev/radio0 --get-tuner
  step boot2-dmesg sh -c 'dmesg | grep -i virtio_radio'
  say "=== done"
  sync
  poweroff -f
fi

load_radio
step probe sh -c 'ls /dev/radio*; dmesg | grep -i virtio_radio; \
  for f in /sys/bus/virtio/drivers/virtio_radio/virtio*/snd_stream_id; do \
    echo "snd_stream_id $(cat "$f")"; done'
step all v4l2-ctl -d /dev/radio0 --all
step bands v4l2-ctl -d /dev/radio0 --list-freq-bands
# The V4L2 API's own conformance checks (before tuning: it moves the frequency itself).
step compliance v4l2-compliance -d /dev/radio0
step set-freq v4l2-ctl -d /dev/radio0 --set-freq=89.1
step get-tuner v4l2-ctl -d /dev/radio0 --get-tuner
step get-freq v4l2-ctl -d /dev/radio0 --get-freq

# RDS as rds-ctl decodes it from the raw blocks read() delivers; it reads until stopped.
say "=== rds"
timeout -s INT 12 rds-ctl -d /dev/radio0 --read-rds --wait-limit 3000 >&3 2>&1
say "=== rds rc=$?"
step rds-controls v4l2-ctl -d /dev/radio0 --list-ctrls
step rds-pi sh -c 'cat /sys/bus/virtio/drivers/virtio_radio/virtio*/rds_pi'

# The tuner's audio: the virtio-snd capture stream the radio's config space names.
say "=== arecord"
arecord -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 2 -t wav /tmp/fm.wav >&3 2>&1
say "=== arecord rc=$?"
say "=== base64 fm"
base64 /tmp/fm.wav >&3
say "=== end base64"

step seek-up v4l2-ctl -d /dev/radio0 --freq-seek=dir=1,wrap=1,spacing=0
step seek-up-freq v4l2-ctl -d /dev/radio0 --get-freq
step seek-up-2 v4l2-ctl -d /dev/radio0 --freq-seek=dir=1,wrap=1,spacing=0
step seek-up-2-freq v4l2-ctl -d /dev/radio0 --get-freq
# On a 200 kHz grid from 87.5 MHz, 96.0 is off-grid: the seek passes it and wraps to 89.1.
step seek-grid v4l2-ctl -d /dev/radio0 --set-freq=94.3 --freq-seek=dir=1,wrap=1,spacing=200000
step seek-grid-freq v4l2-ctl -d /dev/radio0 --get-freq
# Without wrap-around, nothing above the last station: ENODATA, back where it started.
step seek-nowrap v4l2-ctl -d /dev/radio0 --set-freq=96.0 --freq-seek=dir=1,wrap=0,spacing=0
step seek-nowrap-freq v4l2-ctl -d /dev/radio0 --get-freq
# A seek a signal interrupts is cancelled on the device (SIGTERM: a background job of a
# non-interactive shell ignores SIGINT).
# From 96.0 up and around to 89.1 is 136 channels of 20 ms: interrupted long before.
say "=== seek-cancel"
v4l2-ctl -d /dev/radio0 --set-freq=96.0 >/dev/null 2>&1
v4l2-ctl -d /dev/radio0 --freq-seek=dir=1,wrap=1,spacing=0 >&3 2>&1 &
sleep 0.5
kill -TERM $! 2>/dev/null
wait $!
say "seek rc=$?"
v4l2-ctl -d /dev/radio0 --get-freq >&3 2>&1
say "=== seek-cancel rc=0"

# Times the guest sees (TCG): tune-to-locked (S_FREQUENCY returns on TUNE_COMPLETE) and seek.
say "=== perf"
for n in 1 2 3 4 5; do
  t0=$(now)
  v4l2-ctl -d /dev/radio0 --set-freq=89.1 >/dev/null 2>&1
  t1=$(now)
  v4l2-ctl -d /dev/radio0 --freq-seek=dir=1,wrap=1,spacing=0 >/dev/null 2>&1
  t2=$(now)
  say "tune_cs $((t1 - t0)) seek_cs $((t2 - t1))"
done
say "=== perf rc=0"

step rmmod rmmod virtio_radio
step after-rmmod sh -c 'ls /dev/radio0 2>&1; true'
load_radio
step reload-set-freq v4l2-ctl -d /dev/radio0 --set-freq=94.3
step reload-get-tuner v4l2-ctl -d /dev/radio0 --get-tuner

echo -n BOOT1 | dd of=/dev/vda bs=5 count=1 conv=notrunc 2>/dev/null
sync
say "=== rebooting"
reboot -f
