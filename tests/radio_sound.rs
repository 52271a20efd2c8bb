//! The tuned station's audio through virtio-snd, end to end: the real service serves a
//! virtio-snd device with an "FM" capture stream (`source = "tuner"`) and a radio on the
//! simulated tuner feeding it; the driver tunes the radio and records the capture stream
//! over the sound device, as a guest would, over each transport (both devices on vhost-user
//! sockets, or both on labels of one simulated Gunyah node). Each
//! station has its own tone, so the recording says which station was on air, and the
//! stream is silent while the tuner is retuning.

mod support;

use std::time::Duration;

use drivervm::devices::radio::constants::S_OK;
use drivervm::devices::sound::constants::{code, format, RATES, RXQ};
use drivervm::harness::{Driver, HarnessOptions};
use drivervm::hw::tuner::audio::{deinterleave, dominant_hz};
use support::radio::{tune, Radio};
use support::transport::{Served, Transport};

over_both_transports!(the_tuned_station_is_what_the_virtio_snd_capture_stream_records);

/// Sound first, radio second: the service must still connect the feed.
const CONFIG: &str = r#"
[[guest]]
name = "vm0"

[[guest.device]]
kind = "sound"
[[guest.device.stream]]
name = "Master"
[[guest.device.stream]]
name = "FM"
direction = "input"
source = "tuner"
tuner = "fm0"
formats = ["s16"]
rates = [48000]
channels_min = 2
channels_max = 2

[[guest.device]]
kind = "radio"
[guest.device.radio]
audio_feed = "fm0"
snd_stream_id = 1
tune_ms = 40
[[guest.device.radio.station]]
frequency_khz = 89100
pi = 0xC201
ps = "ONE"
tone_hz = 500
[[guest.device.radio.station]]
frequency_khz = 101700
pi = 0xC203
ps = "THREE"
stereo = false
tone_hz = 700
"#;

/// Stream 1 (the FM capture) at 48 kHz stereo S16: 10 ms periods.
const FM: u32 = 1;
const PERIOD: usize = 1920;
const PERIODS: usize = 8;

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn status(h: &mut dyn Driver, req: &[u8]) -> u32 {
    let r = h.request(0, req, 64).expect("sound control request");
    u32::from_le_bytes([r[0], r[1], r[2], r[3]])
}

/// Records `n` periods of the FM stream, keeping every buffer in flight; `at(k)` runs when
/// period `k` has come back.
fn record(h: &mut dyn Driver, n: usize, mut at: impl FnMut(usize)) -> Vec<u8> {
    let mut data = Vec::new();
    let mut submitted = 0;
    while submitted < PERIODS.min(n) {
        h.submit(RXQ, &FM.to_le_bytes(), (PERIOD + 8) as u32)
            .unwrap();
        submitted += 1;
    }
    let mut got = 0;
    while got < n {
        for c in h.wait_completions(RXQ, Duration::from_secs(2)).unwrap() {
            assert_eq!(c.data.len(), PERIOD + 8);
            assert_eq!(&c.data[PERIOD..PERIOD + 4], &code::S_OK.to_le_bytes());
            data.extend_from_slice(&c.data[..PERIOD]);
            got += 1;
            at(got);
            if submitted < n {
                h.submit(RXQ, &FM.to_le_bytes(), (PERIOD + 8) as u32)
                    .unwrap();
                submitted += 1;
            }
        }
    }
    data
}

/// (left Hz, right Hz, peak) of a stretch of stereo S16.
fn tones(pcm: &[u8]) -> (Option<f64>, Option<f64>, i16) {
    let ch = deinterleave(pcm, 2);
    let peak = ch[0].iter().map(|s| s.saturating_abs()).max().unwrap_or(0);
    (dominant_hz(&ch[0], 48000), dominant_hz(&ch[1], 48000), peak)
}

fn near(hz: Option<f64>, want: f64) -> bool {
    hz.is_some_and(|h| (h - want).abs() < 3.0)
}

fn the_tuned_station_is_what_the_virtio_snd_capture_stream_records(t: Transport) {
    let svc = Served::start(t, CONFIG);
    let mut radio = Radio::connect(&svc, &HarnessOptions::default());
    let opts = HarnessOptions {
        connect_timeout: Duration::from_secs(5),
        ..HarnessOptions::default()
    };
    let mut snd = svc.connect("vm0-sound", 4, &opts);
    let snd = snd.as_mut();

    // The radio tells the guest which sound stream carries it.
    let cfg = radio.h.config(16, 4).unwrap();
    assert_eq!(cfg, FM.to_le_bytes(), "snd_stream_id");

    let op = radio.start(&tune(89100));
    assert_eq!(radio.completion(op, Duration::from_secs(2)).0, S_OK);

    let mut p = words(&[
        code::PCM_SET_PARAMS,
        FM,
        (PERIODS * PERIOD) as u32,
        PERIOD as u32,
        0,
    ]);
    let r48000 = RATES.iter().position(|&r| r == 48000).unwrap() as u8;
    p.extend_from_slice(&[2, format::S16, r48000, 0]);
    assert_eq!(status(snd, &p), code::S_OK);
    assert_eq!(status(snd, &words(&[code::PCM_PREPARE, FM])), code::S_OK);
    assert_eq!(status(snd, &words(&[code::PCM_START, FM])), code::S_OK);

    // 300 ms of 89.1 MHz, then a retune to 101.7 MHz while recording, then 500 ms more.
    let mut pending = None;
    let pcm = record(snd, 80, |k| {
        if k == 30 {
            pending = Some(radio.start(&tune(101700)));
        }
    });
    let op = pending.expect("retuned");
    assert_eq!(radio.completion(op, Duration::from_secs(2)).0, S_OK);

    let first = tones(&pcm[..30 * PERIOD]);
    assert!(
        near(first.0, 500.0) && near(first.1, 625.0),
        "89.1 MHz: 500 Hz left, 625 Hz right (stereo): {first:?}"
    );
    assert!(first.2 > 16000, "{first:?}");
    let last = tones(&pcm[60 * PERIOD..]);
    assert!(
        near(last.0, 700.0) && near(last.1, 700.0),
        "101.7 MHz: 700 Hz on both channels (mono): {last:?}"
    );
    // The 40 ms tune muted the stream: at least three whole silent periods in between.
    let silent = pcm[30 * PERIOD..60 * PERIOD]
        .chunks_exact(PERIOD)
        .filter(|p| p.iter().all(|&b| b == 0))
        .count();
    assert!(silent >= 3, "{silent} silent periods during the retune");

    assert_eq!(status(snd, &words(&[code::PCM_STOP, FM])), code::S_OK);
}
