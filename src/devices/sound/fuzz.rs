//! Drives a sound device with arbitrary bytes, for the cargo-fuzz target
//! (fuzz/fuzz_targets/sound_control.rs) and the randomized test below.
//!
//! The input is a sequence of records: `queue: u8`, `writable_len: u16`, `len: u16`, then
//! `len` bytes of request (all little-endian, truncated records use what is there). Between
//! records the virtual clock advances by the queue byte's top bits in milliseconds and the
//! device is polled, so paced I/O, xruns and RELEASE paths all run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::constants::VIRTIO_SND_F_CTLS;
use super::topology::{
    ControlKind, ControlSpec, JackSpec, SoundTopology, StreamBackend, StreamSpec, CAPS_OUT,
    DEFCONF_LINE_OUT,
};
use super::SoundDevice;
use crate::devices::{CompleteError, Completer, Request, Token, VirtioDevice, Wake};
use crate::hw::pcm::null::NullPlayback;
use crate::hw::pcm::tone::ToneCapture;
use crate::hw::pcm::SampleFormat;

/// Checks what the device returns: never more than the buffer holds, each token once.
struct Checker {
    /// Writable capacity of each outstanding token, by (queue, head).
    outstanding: Vec<((u16, u16), usize)>,
}

impl Completer for Checker {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        let key = (token.queue, token.head);
        let Some(at) = self.outstanding.iter().position(|(k, _)| *k == key) else {
            panic!("buffer {key:?} completed twice or never issued");
        };
        let (_, cap) = self.outstanding.swap_remove(at);
        if response.len() > cap {
            // The transport returns such a buffer empty; the device must still not do it
            // for well-sized buffers, which the fuzzer cannot tell apart here.
            return Err(CompleteError::TooLarge {
                len: response.len(),
                cap,
            });
        }
        Ok(())
    }
}

struct NoWake;

impl Wake for NoWake {
    fn wake(&self) {}
}

/// A device with two streams, a jack and controls of every kind.
pub fn device() -> SoundDevice {
    let topo = SoundTopology {
        device: "fuzz".into(),
        jacks: vec![JackSpec {
            name: "out".into(),
            hda_fn_nid: 0,
            hda_reg_defconf: DEFCONF_LINE_OUT,
            hda_reg_caps: CAPS_OUT,
            connected: true,
            remappable: true,
        }],
        streams: vec![
            StreamSpec {
                name: "Master".into(),
                hda_fn_nid: 0,
                formats: vec![SampleFormat::S16, SampleFormat::U8, SampleFormat::Float],
                rates: vec![8000, 48000],
                channels_min: 1,
                channels_max: 2,
                backend: StreamBackend::Playback(Box::new(NullPlayback::default())),
            },
            StreamSpec {
                name: "Capture".into(),
                hda_fn_nid: 0,
                formats: vec![SampleFormat::S16, SampleFormat::S24_3],
                rates: vec![8000, 48000],
                channels_min: 1,
                channels_max: 2,
                backend: StreamBackend::Capture(Box::new(ToneCapture::new(440.0, 0.5))),
            },
        ],
        chmaps: Vec::new(),
        controls: vec![ControlSpec {
            name: "Route".into(),
            index: 0,
            kind: ControlKind::Enumerated {
                items: vec!["A".into(), "B".into()],
            },
        }],
    }
    .with_default_chmaps_and_controls();
    let mut dev = SoundDevice::new(topo);
    dev.activate(1 << VIRTIO_SND_F_CTLS, Arc::new(NoWake));
    dev
}

/// Runs `data` through a fresh device; panics only on a device bug.
pub fn exercise(data: &[u8]) {
    let mut dev = device();
    let mut checker = Checker {
        outstanding: Vec::new(),
    };
    let mut now = Instant::now();
    let mut rest = data;
    let mut head: u16 = 0;
    while let Some((&sel, tail)) = rest.split_first() {
        let word = |b: &[u8], i: usize| -> usize {
            usize::from(b.get(i).copied().unwrap_or(0))
                | usize::from(b.get(i + 1).copied().unwrap_or(0)) << 8
        };
        let writable_len = word(tail, 0);
        let len = word(tail, 2).min(tail.len().saturating_sub(4));
        let body = tail.get(4..4 + len).unwrap_or(&[]);
        rest = tail.get(4 + len..).unwrap_or(&[]);
        let queue = u16::from(sel & 0x3);
        head = head.wrapping_add(1);
        checker.outstanding.push(((queue, head), writable_len));
        let request = Request {
            token: Token {
                queue,
                head,
                generation: 0,
                writable: Vec::new(),
            },
            data: body.to_vec(),
            writable_len,
        };
        dev.handle_at(request, &mut checker, now);
        now += Duration::from_millis(u64::from(sel >> 2));
        dev.poll(now, &mut checker);
        if sel == 0xff {
            dev.reset();
            checker.outstanding.clear();
        }
    }
    // Control requests are answered at once: none may remain outstanding.
    assert!(
        !checker.outstanding.iter().any(|((q, _), _)| *q == 0),
        "a control request was not answered"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_inputs_never_break_the_device() {
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        };
        for _ in 0..2000 {
            let n = usize::from(next()) * 2;
            let mut input: Vec<u8> = (0..n).map(|_| next()).collect();
            // Bias towards well-formed control codes so deep paths are reached.
            if input.len() > 8 {
                input[5] = [0x01, 0x00, 0x01, 0x02, 0x03][usize::from(input[5]) % 5];
                input[6] = [0x00, 0x01, 0x02, 0x03][usize::from(input[6]) % 4];
            }
            exercise(&input);
        }
    }

    #[test]
    fn a_full_session_in_records() {
        let rec = |q: u8, writable: u16, body: &[u8]| {
            let mut r = vec![q];
            r.extend_from_slice(&writable.to_le_bytes());
            r.extend_from_slice(&(body.len() as u16).to_le_bytes());
            r.extend_from_slice(body);
            r
        };
        let w = |v: &[u32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let mut input = Vec::new();
        let mut sp = w(&[0x101, 0, 7680, 1920, 0]);
        sp.extend_from_slice(&[2, 5, 7, 0]);
        input.extend(rec(0, 4, &sp));
        input.extend(rec(0, 4, &w(&[0x102, 0])));
        input.extend(rec(2, 8, &[vec![0; 4], vec![1; 1920]].concat()));
        input.extend(rec(40, 4, &w(&[0x104, 0])));
        input.extend(rec(0, 4, &w(&[0x105, 0])));
        input.extend(rec(0, 4, &w(&[0x103, 0])));
        exercise(&input);
    }
}
