//! Fuzzes the virtio-radio control queue: arbitrary device-readable bytes and writable sizes
//! into a device on the simulated tuner, with time moving on so operations complete and RDS
//! flows. The device must never panic, must answer with a header-only error or a response
//! that fits the buffer and parses as the reply to its code.
#![no_main]

use std::time::{Duration, Instant};

use drivervm::devices::radio::constants::*;
use drivervm::devices::radio::wire::{Band, ReqHeader, Response};
use drivervm::devices::radio::{RadioDevice, RadioSettings};
use drivervm::devices::{CompleteError, Completer, Token, VirtioDevice};
use drivervm::hw::tuner::sim::{SimStation, SimTuner, SimTunerConfig};
use libfuzzer_sys::fuzz_target;

struct Discard;

impl Completer for Discard {
    fn complete(&mut self, _: Token, _: &[u8]) -> Result<(), CompleteError> {
        Ok(())
    }
}

fn device() -> RadioDevice {
    let fm = Band {
        kind: BAND_FM,
        low_khz: 87500,
        high_khz: 108000,
        spacing_khz: 100,
        seek_spacing_khz: 200,
    };
    let tuner = SimTuner::new(SimTunerConfig {
        bands: vec![fm],
        stations: vec![SimStation {
            frequency_khz: 89100,
            pi: Some(0x1234),
            ps: "FUZZ".into(),
            rt: "fuzzing".into(),
            pty: 3,
            signal: 70,
            stereo: true,
            tone_hz: 440,
        }],
        tune_latency: Duration::from_millis(3),
        seek_dwell: Duration::from_micros(10),
        signal_threshold: 25,
        audio_name: "fm0".into(),
    })
    .expect("static station");
    RadioDevice::new(
        "fuzz",
        RadioSettings {
            device_id: VIRTIO_ID_RADIO_DEFAULT,
            bands: vec![fm],
            fm_deemphasis: DEEMPHASIS_D50,
            snd_stream_id: SND_ID_NONE,
            snd_hda_fn_nid: 0,
            snd_jack_id: SND_ID_NONE,
        },
        Box::new(tuner),
    )
}

fuzz_target!(|input: &[u8]| {
    let mut dev = device();
    let mut now = Instant::now();
    // Records: [writable_len u16][len u8][len bytes][time step ms u8] ...
    let mut rest = input;
    while rest.len() >= 3 {
        let writable = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        let len = usize::from(rest[2]).min(rest.len() - 3);
        let data = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let resp = dev.control(data, writable, now).to_bytes();
        assert!(resp.len() >= 8);
        if resp.len() > 8 {
            assert!(resp.len() <= writable, "response overflows the buffer");
            let code = ReqHeader::parse(data).expect("only parsed requests succeed").code;
            Response::parse(code, &resp).expect("a successful response parses");
        }
        if let Some((&step, tail)) = rest.split_first() {
            rest = tail;
            now += Duration::from_millis(u64::from(step));
            dev.poll(now, &mut Discard);
        }
    }
});
