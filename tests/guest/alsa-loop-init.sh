#!/bin/busybox sh
# PID 1 of the ALSA-backend guest: loads snd-aloop and runs drivervm's ALSA uAPI backend
# (drivervm-pcm) against it, with alsa-utils on the other end of each loopback.
#   loop card 0: playback hw:0,0,N is heard on capture hw:0,1,N.
# shellcheck source=tests/guest/guest-init-lib.sh
. /lib/guest-init.sh
for m in soundcore snd snd-timer snd-pcm; do insmod /lib/modules/$m.ko; done
insmod /lib/modules/snd-aloop.ko index=0 pcm_substreams=2
i=0
while [ ! -e /dev/snd/pcmC0D1c ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
say "=== cards"
cat /proc/asound/cards >&3 2>&1

# 100 ms periods: TCG on a loaded shared host stalls the guest for tens of ms at a time, and
# the backend's two-period silence cushion must cover the worst stall (40 ms periods
# underran once at host load average 11).
# Backend plays: drivervm-pcm writes into pcmC0D0p (first free subdevice, 0) while arecord
# listens on the matching capture subdevice.
arecord -B 1000000 -D hw:0,1,0 -f S16_LE -r 48000 -c 2 -d 3 /tmp/heard.wav >/tmp/arecord.log 2>&1 &
rec=$!
sleep 0.5
drivervm-pcm --card 0 --device 0 --period-frames 4800 play /data/play.raw >/tmp/play.log 2>&1
say "=== play rc=$?"
cat /tmp/play.log >&3
wait $rec
say "=== arecord rc=$?"
cat /tmp/arecord.log >&3

# Backend records: drivervm-pcm reads pcmC0D1c (subdevice 0) while aplay plays into hw:0,0,0.
drivervm-pcm --card 0 --device 1 --period-frames 4800 record 144000 /tmp/got.raw >/tmp/rec.log 2>&1 &
rec=$!
sleep 0.5
aplay -B 1000000 -D hw:0,0,0 /data/source.wav >/tmp/aplay.log 2>&1
say "=== aplay rc=$?"
cat /tmp/aplay.log >&3
wait $rec
say "=== record rc=$?"
cat /tmp/rec.log >&3

# Jack detection: a user boolean control stands in for a codec's "Headphone Jack";
# drivervm-pcm follows it through drivervm's ALSA jack backend while amixer toggles it.
drivervm-pcm --card 0 jack --add "Headphone Jack" 2 >/tmp/jack.log 2>&1 &
jack=$!
i=0
while ! grep -q "jack: initial" /tmp/jack.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
amixer -c 0 cset iface=CARD,name='Headphone Jack' on >/tmp/amixer.log 2>&1
sleep 0.5
amixer -c 0 cset iface=CARD,name='Headphone Jack' off >>/tmp/amixer.log 2>&1
wait $jack
say "=== jack rc=$?"
cat /tmp/jack.log >&3
cat /tmp/amixer.log >&3

say "=== base64 heard"
base64 /tmp/heard.wav >&3
say "=== base64 got"
base64 /tmp/got.raw >&3
say "=== done"
sync
poweroff -f
