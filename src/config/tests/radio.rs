//! `[guest.device.radio]`: defaults, and every error a user can meet.

use super::super::*;
use super::{err, ivi};
use crate::devices::radio::constants::{DEEMPHASIS_D75, SND_ID_NONE};

fn radio(body: &str) -> RadioConfig {
    let text = ivi(&[&format!("kind = \"radio\"\n{body}")]);
    match parse(&text, "etc/x.toml") {
        Ok(mut c) => c
            .guests
            .remove(0)
            .devices
            .remove(0)
            .radio()
            .cloned()
            .expect("radio"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_bare_radio_gets_every_default() {
    let r = radio("");
    assert_eq!(r.device_id, 56);
    assert_eq!(r.bands.len(), 2);
    assert_eq!((r.bands[0].low_khz, r.bands[0].spacing_khz), (87500, 100));
    assert_eq!((r.bands[1].low_khz, r.bands[1].spacing_khz), (531, 9));
    assert_eq!(r.signal_threshold, 25);
    assert_eq!(r.audio_feed, "fm0");
    assert_eq!((r.snd_stream_id, r.snd_jack_id), (SND_ID_NONE, SND_ID_NONE));
    assert_eq!(
        r.tuner,
        RadioTuner::Sim {
            tune_latency: std::time::Duration::from_millis(60),
            seek_dwell: std::time::Duration::from_millis(10),
            stations: vec![],
        }
    );
}

#[test]
fn values_are_taken_as_written() {
    let r = radio(
        "[guest.device.radio]\ndeemphasis_us = 75\ndevice_id = 50\ntune_ms = 5\n\
         [[guest.device.radio.band]]\nkind = \"fm\"\nlow_khz = 87900\nhigh_khz = 107900\n\
         spacing_khz = 200\n\
         [[guest.device.radio.station]]\nfrequency_khz = 101100\npi = 0x1234\nps = \"KXYZ\"",
    );
    assert_eq!((r.device_id, r.fm_deemphasis), (50, DEEMPHASIS_D75));
    assert_eq!(r.bands.len(), 1);
    match r.tuner {
        RadioTuner::Sim { stations, .. } => {
            assert_eq!(stations[0].pi, Some(0x1234));
            assert_eq!(stations[0].ps, "KXYZ");
            assert_eq!((stations[0].signal, stations[0].tone_hz), (60, 400));
        }
        t => panic!("{t:?}"),
    }
}

#[test]
fn bad_radio_settings_are_refused_with_their_place() {
    let cases = [
        (
            "[guest.device.radio]\ndevice_id = 64",
            "radio.device_id: 64 is out of range (expected 1 to 63)",
        ),
        (
            "[guest.device.radio]\ndeemphasis_us = 60",
            "radio.deemphasis_us: 60 is not 50 or 75",
        ),
        (
            "[guest.device.radio]\naudio_feed = \"FM 0\"",
            "radio.audio_feed: \"FM 0\" is not a feed name (expected 1 to 32 characters from \
             a-z, 0-9, _ and -)",
        ),
        (
            "[guest.device.radio]\ndevice = \"/dev/radio1\"",
            "radio.device: only the v4l2 backend takes this key",
        ),
        (
            "[[guest.device.radio.band]]\nkind = \"fm\"\nlow_khz = 88000\nhigh_khz = 87000\n\
             spacing_khz = 100",
            "radio.band 1: expected 0 < low_khz <= high_khz < 2^32, 0 < spacing_khz < 65536 \
             and seek_spacing_khz 0 or a multiple of spacing_khz",
        ),
        (
            "[[guest.device.radio.band]]\nkind = \"sw\"\nlow_khz = 1\nhigh_khz = 2\n\
             spacing_khz = 1",
            "radio.band 1: kind \"sw\" is not fm or am",
        ),
        (
            "[[guest.device.radio.station]]\nfrequency_khz = 88050",
            "radio.station 1 frequency_khz: 88050 is not a channel of any band",
        ),
        (
            "[[guest.device.radio.station]]\nfrequency_khz = 88000\n\
             [[guest.device.radio.station]]\nfrequency_khz = 88000",
            "radio.station 2 frequency_khz: 88000 is already used by another station",
        ),
        (
            "[[guest.device.radio.station]]\nfrequency_khz = 88000\nps = \"NINE CHRS\"",
            "radio.station 1 ps: longer than 8 characters",
        ),
        (
            "[[guest.device.radio.station]]\nfrequency_khz = 88000\npty = 32",
            "radio.station 1 pty: 32 is out of range (expected 0 to 31)",
        ),
    ];
    for (body, reason) in cases {
        assert_eq!(
            err(&ivi(&[&format!("kind = \"radio\"\n{body}")])),
            format!("etc/x.toml: guest \"ivi\" device 1 {reason}"),
            "{body}"
        );
    }
}

#[test]
fn sim_keys_on_v4l2_and_radio_keys_on_other_kinds_are_refused() {
    assert_eq!(
        err(&ivi(&[
            "kind = \"radio\"\nbackend = \"v4l2\"\n[guest.device.radio]\ntune_ms = 5"
        ])),
        "etc/x.toml: guest \"ivi\" device 1 radio.tune_ms: only the sim backend takes this key"
    );
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\n[guest.device.radio]\ndevice_id = 5"
        ])),
        "etc/x.toml: guest \"ivi\" device 1 radio: a scmi device takes no radio settings"
    );
}
