#!/bin/busybox sh
# PID 1 of the sound guest: loads snd-virtio, runs ALSA's tools against the device and
# writes a report to the second serial port (ttyS1), which the host test parses.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
for m in soundcore snd snd-timer snd-pcm virtio_snd; do
  insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
i=0
while [ ! -e /dev/snd/controlC0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
say "=== cards"
cat /proc/asound/cards >&3 2>&1
say "=== pcm"
cat /proc/asound/pcm >&3 2>&1

# Up to a second of buffering (ALSA takes the nearest the driver allows): a TCG guest on a
# busy host can stall for a good part of one, and
# an overrun would restart arecord and leave a gap (the test checks every sample).
BUFFER=48000

# Playback: the known WAV through hw:0,0 (the first output stream).
aplay -D hw:0,0 --period-size=960 --buffer-size=$BUFFER /data/play.wav >/tmp/aplay.log 2>&1
say "=== aplay rc=$?"
cat /tmp/aplay.log >&3

# Capture: the WAV source (hw:0,0 capture) and the tone (hw:0,1 capture), one second each.
arecord -D hw:0,0 -f S16_LE -r 48000 -c 2 -d 1 --period-size=960 --buffer-size=$BUFFER \
  /tmp/rec-wav.wav >/tmp/arecord.log 2>&1
say "=== arecord-wav rc=$?"
cat /tmp/arecord.log >&3
arecord -D hw:0,1 -f S16_LE -r 48000 -c 2 -d 1 --period-size=960 --buffer-size=$BUFFER \
  /tmp/rec-tone.wav >/tmp/arecord.log 2>&1
say "=== arecord-tone rc=$?"
cat /tmp/arecord.log >&3

say "=== amixer controls"
amixer -c 0 controls >&3 2>&1
say "=== amixer set"
amixer -c 0 cset "name=Master Playback Volume" 42 >&3 2>&1
say "=== amixer get"
amixer -c 0 cget "name=Master Playback Volume" >&3 2>&1
amixer -c 0 cget "iface=CARD,name=Line Out Jack" >&3 2>&1

for f in rec-wav rec-tone; do
  say "=== base64 $f"
  base64 /tmp/$f.wav >&3
  say "=== end $f"
done
say "=== done"
sync
poweroff -f
