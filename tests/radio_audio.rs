//! The tuned station's audio: a radio device built from config exactly as the service builds
//! it, served in this process over each transport (vhost-user, the Gunyah simulator) and
//! driven as a guest would, with its audio source (the one a virtio-snd "FM tuner" capture
//! stream records) pulled alongside. Each
//! station has its own tone, so the capture tells which station is on air; the source is
//! silent while a tune or seek is pending and where nothing is received.

mod support;

use std::time::Duration;

use drivervm::config::{parse, DeviceSpec};
use drivervm::devices::radio::constants::*;
use drivervm::harness::HarnessOptions;
use drivervm::hw::tuner::audio::{deinterleave, dominant_hz};
use drivervm::hw::tuner::{AudioFormat, TunerAudio};
use drivervm::service::registry::radio::build;
use support::radio::*;
use support::transport::{serve_device, DeviceServer, Transport};

over_both_transports!(the_capture_carries_the_tuned_station_and_is_muted_while_tuning);

const FORMAT: AudioFormat = AudioFormat {
    rate: 48000,
    channels: 2,
};

/// Serves [`RADIO_CONFIG`]'s radio over `t`; returns the driver, the audio and what keeps
/// the device served.
fn rig(t: Transport) -> (Radio, std::sync::Arc<TunerAudio>, DeviceServer) {
    let config = parse(RADIO_CONFIG, "radio test config").expect("config");
    let dev_cfg = &config.guests[0].devices[0];
    let DeviceSpec::Radio(radio) = &dev_cfg.spec else {
        panic!("the test config's device is a radio");
    };
    let device = build(dev_cfg, radio).expect("build");
    let audio = device.audio().expect("the sim tuner produces audio");
    assert_eq!(audio.feed_name(), "fm0");
    let (h, server) = serve_device(
        t,
        "t-radio",
        Box::new(device),
        2,
        &HarnessOptions::default(),
    );
    let mut r = Radio::new(h);
    for _ in 0..8 {
        r.give_event_buffer(EVENT_BUF_MIN as u32);
    }
    (r, audio, server)
}

/// Pulls `ms` of audio and returns the per-channel dominant frequencies (None: silence).
fn listen(audio: &TunerAudio, ms: usize) -> (Option<f64>, Option<f64>, i16) {
    let mut buf = vec![0u8; FORMAT.frame_bytes() * 48 * ms];
    assert_eq!(audio.fill(&FORMAT, &mut buf), buf.len());
    let ch = deinterleave(&buf, 2);
    let peak = ch[0].iter().map(|s| s.saturating_abs()).max().unwrap_or(0);
    (dominant_hz(&ch[0], 48000), dominant_hz(&ch[1], 48000), peak)
}

fn near(hz: Option<f64>, want: f64) -> bool {
    hz.is_some_and(|h| (h - want).abs() < 2.0)
}

fn the_capture_carries_the_tuned_station_and_is_muted_while_tuning(t: Transport) {
    let (mut r, audio, _server) = rig(t);
    assert_eq!(listen(&audio, 100).2, 0, "silent before any tune");

    // 89.1 MHz: stereo, tone 500 Hz left and 625 Hz right.
    let op = r.start(&tune(89100));
    assert_eq!(listen(&audio, 20).2, 0, "muted while the tuner locks");
    assert_eq!(r.completion(op, Duration::from_secs(2)).0, S_OK);
    let (l, rt, peak) = listen(&audio, 500);
    assert!(near(l, 500.0) && near(rt, 625.0), "{l:?} {rt:?}");
    assert!(peak > 16000, "{peak}");

    // 101.7 MHz: a mono station with tone 700 Hz on both channels.
    let op = r.start(&tune(101700));
    assert_eq!(listen(&audio, 20).2, 0, "muted while the tuner locks");
    r.completion(op, Duration::from_secs(2));
    let (l, rt, _) = listen(&audio, 500);
    assert!(near(l, 700.0) && near(rt, 700.0), "{l:?} {rt:?}");

    // A seek mutes until it locks on the next station (wrapping to 89.1 MHz).
    let op = r.start(&seek(SEEK_F_UP));
    assert_eq!(listen(&audio, 20).2, 0, "muted while seeking");
    assert_eq!(
        r.completion(op, Duration::from_secs(3)).1.frequency_khz,
        89100
    );
    assert!(near(listen(&audio, 500).0, 500.0));

    // FORCE_MONO: the right channel carries the left's tone.
    let mono = drivervm::devices::radio::wire::ControlRequest::SetConfigFlag(
        drivervm::devices::radio::wire::ConfigFlagArgs {
            flag: FLAG_FORCE_MONO,
            value: true,
        },
    );
    assert_eq!(r.status(&mono), S_OK);
    let (l, rt, _) = listen(&audio, 500);
    assert!(near(l, 500.0) && near(rt, 500.0), "{l:?} {rt:?}");

    // Between stations: static, muted, silent.
    let op = r.start(&step(STEP_F_UP));
    let (_, info, _) = r.completion(op, Duration::from_secs(2));
    assert_ne!(info.info_flags & INFO_MUTED, 0);
    assert_eq!(listen(&audio, 100).2, 0, "INFO_MUTED means silence");

    // A weak station is not received: silent too.
    let op = r.start(&tune(95300));
    r.completion(op, Duration::from_secs(2));
    assert_eq!(listen(&audio, 100).2, 0);

    // Cancel returns to the station the operation started from, audible again.
    let op = r.start(&tune(89100));
    r.completion(op, Duration::from_secs(2));
    r.start(&tune(101700));
    assert_eq!(
        r.status(&drivervm::devices::radio::wire::ControlRequest::Cancel),
        S_OK
    );
    assert!(near(listen(&audio, 500).0, 500.0));
}
