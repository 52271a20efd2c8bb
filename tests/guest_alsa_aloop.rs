//! drivervm's ALSA kernel-uAPI backend against a real kernel ALSA driver: snd-aloop in a
//! Debian 6.12 guest on QEMU TCG. drivervm-pcm plays through `AlsaPlayback` while arecord
//! listens on the loopback, and records through `AlsaCapture` while aplay plays into it;
//! both directions must carry the samples unchanged and in order. Then drivervm-pcm
//! follows a user "Headphone Jack" control through the ALSA jack backend while amixer plugs
//! and unplugs it.
//!
//! Needs the tools listed by `tests/guest/sound-guest.sh check`; skips with a notice
//! without them, except under CI (`CI=true`), where it fails.

mod support;

use std::process::Command;

use drivervm::hw::pcm::wav::{header, parse, WavFormat};
use drivervm::hw::pcm::SampleFormat;
use support::guest::{section, tools_ready, GuestRun};
use support::sound_guest::{base64_decode, noise, FRAME, SCRIPT};

const INIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/alsa-loop-init.sh");
const RATE: usize = 48000;

/// Checks that `got`, after its leading silence, starts with at least `min` bytes of `sent`,
/// unchanged; returns how many matched.
fn carried(got: &[u8], sent: &[u8], min: usize, what: &str) -> usize {
    let start = got
        .chunks(FRAME)
        .position(|f| f.iter().any(|&b| b != 0))
        .unwrap_or_else(|| panic!("{what}: only silence arrived"))
        * FRAME;
    let signal = &got[start..];
    let n = signal.len().min(sent.len());
    let same = signal[..n]
        .iter()
        .zip(&sent[..n])
        .position(|(a, b)| a != b)
        .unwrap_or(n);
    let around = |b: &[u8]| -> Vec<i16> {
        b[same.saturating_sub(8)..(same + 16).min(b.len())]
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect()
    };
    assert!(
        same >= min,
        "{what}: only {same} bytes matched before a difference (need {min}); got {:?}, sent {:?}",
        around(signal),
        around(sent)
    );
    same
}

#[test]
fn alsa_backend_plays_and_records_through_snd_aloop() {
    if !tools_ready(SCRIPT, "the snd-aloop ALSA backend test") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    std::fs::create_dir_all(w.join("in")).unwrap();
    std::fs::create_dir_all(w.join("bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_drivervm-pcm"),
        w.join("bin/drivervm-pcm"),
    )
    .unwrap();
    let play = noise(3, RATE * 3 / 2);
    std::fs::write(w.join("in/play.raw"), &play).unwrap();
    let source = noise(4, RATE * 2);
    let fmt = WavFormat {
        format: SampleFormat::S16,
        rate: RATE as u32,
        channels: 2,
    };
    let mut wav = header(&fmt, source.len() as u32).unwrap().to_vec();
    wav.extend_from_slice(&source);
    std::fs::write(w.join("in/source.wav"), wav).unwrap();

    let mut cmd = Command::new(SCRIPT);
    cmd.args(["run", "-"]).arg(w).arg(INIT);
    let run = GuestRun::run(cmd, w);
    let ctx = run.context(None);
    assert!(run.status.success(), "guest failed ({})\n{ctx}", run.status);
    let report = run.report.as_str();
    assert!(report.contains("Loopback"), "no snd-aloop card\n{ctx}");
    for step in [
        "play rc=0",
        "arecord rc=0",
        "aplay rc=0",
        "record rc=0",
        "jack rc=0",
    ] {
        assert!(
            report.contains(&format!("=== {step}")),
            "{step} missing\n{ctx}"
        );
    }
    // The jack: added off, then amixer's on and off, each seen once and in order.
    let jack = section(report, "jack rc=0");
    let states: Vec<&str> = jack
        .lines()
        .filter_map(|l| l.strip_prefix("jack: "))
        .collect();
    assert_eq!(states, ["added", "initial 0", "1", "0"], "jack\n{ctx}");
    let heard = parse(&base64_decode(section(report, "base64 heard"))).expect("heard.wav");
    // AlsaPlayback -> loopback -> arecord: a full second at least, sample-exact.
    carried(&heard.data, &play, RATE * FRAME, "AlsaPlayback");
    // aplay -> loopback -> AlsaCapture.
    let got = base64_decode(section(report, "base64 got"));
    assert_eq!(got.len(), 144_000 * FRAME, "record length");
    carried(&got, &source, RATE * FRAME, "AlsaCapture");
}
