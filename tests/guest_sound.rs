//! The proof with software nobody here wrote: a real Linux guest (Debian's 6.12 kernel,
//! snd-virtio, alsa-utils' aplay/arecord/amixer) on QEMU TCG plays into and records from the
//! real `drivervm` service over vhost-user, and every sample is checked.
//!
//! Needs the host tools listed by `tests/guest/sound-guest.sh check`. Without them the test
//! is skipped with a notice, except under CI (`CI=true`), where it fails.

mod support;

use std::path::Path;
use std::process::Command;

use drivervm::hw::pcm::tone::ToneCapture;
use drivervm::hw::pcm::wav::{header, parse, WavFormat};
use drivervm::hw::pcm::{PcmParams, SampleFormat};
use support::guest::{section, tools_ready, GuestRun};
use support::readme::{vmm_line, README};
use support::sound_guest::{base64_decode, noise, FRAME, SCRIPT};
use support::Service;

const RATE: u32 = 48000;
/// Frames per period the guest's aplay/arecord are told to use.
const PERIOD_FRAMES: usize = 960;

fn wav(data: &[u8]) -> Vec<u8> {
    let fmt = WavFormat {
        format: SampleFormat::S16,
        rate: RATE,
        channels: 2,
    };
    let mut v = header(&fmt, data.len() as u32)
        .expect("s16 header")
        .to_vec();
    v.extend_from_slice(data);
    v
}

fn recording(report: &str, name: &str) -> Vec<u8> {
    let b64 = section(report, &format!("base64 {name}"));
    let wav = parse(&base64_decode(b64)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(wav.format.rate, RATE);
    assert_eq!(wav.format.channels, 2);
    assert_eq!(wav.format.format, SampleFormat::S16);
    wav.data
}

fn config(work: &Path, controls: bool) -> String {
    format!(
        r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "sound"
controls = {controls}
[[guest.device.jack]]
name = "line-out"
[[guest.device.stream]]
name = "Master"
channels_min = 2
sink = "wav"
wav = "{out}"
[[guest.device.stream]]
name = "Capture"
direction = "input"
channels_min = 2
source = "wav"
wav = "{src}"
[[guest.device.stream]]
name = "Tone"
direction = "input"
channels_min = 2
source = "tone"
tone_hz = 1000
tone_amplitude_percent = 50
"#,
        out = work.join("out.wav").display(),
        src = work.join("source.wav").display(),
    )
}

/// One guest run: the report it printed, and everything to show when an assertion fails.
struct Run {
    report: String,
    context: String,
    play: Vec<u8>,
    source: Vec<u8>,
    work: tempfile::TempDir,
}

/// Boots the sound guest against the service on the test config; with `vmm_line`, QEMU is
/// started by that README command (its `$XDG_RUNTIME_DIR` set to find the socket).
fn run(controls: bool, vmm_line: Option<&str>) -> Run {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    std::fs::create_dir_all(w.join("in")).expect("in dir");
    // 60 periods of playback, not a multiple of anything else aplay might pick.
    let play = noise(1, 60 * PERIOD_FRAMES);
    std::fs::write(w.join("in/play.wav"), wav(&play)).expect("play.wav");
    let source = noise(2, 2 * RATE as usize);
    std::fs::write(w.join("source.wav"), wav(&source)).expect("source.wav");
    // The service writes out.wav here after dropping privileges.
    support::owned_by_the_service(w);

    // The runtime dir a user's service has: $XDG_RUNTIME_DIR/drivervm.
    let svc_dir = tempfile::tempdir().expect("tempdir");
    let xdg = svc_dir.path().join("xdg");
    let svc = Service::start_in(
        svc_dir,
        xdg.join("drivervm"),
        &config(w, controls),
        &["vm0-sound.sock"],
    );
    let mut cmd = Command::new(SCRIPT);
    cmd.arg("run").arg(svc.socket("vm0-sound.sock")).arg(w);
    if let Some(line) = vmm_line {
        cmd.env("VMM_LINE", line).env("XDG_RUNTIME_DIR", &xdg);
    }
    let run = GuestRun::run(cmd, w);
    let context = run.context(Some(&svc.log()));
    run.assert_done(&context);
    assert!(
        run.report.contains("VirtIO SoundCard"),
        "no card\n{context}"
    );
    Run {
        report: run.report,
        context,
        play,
        source,
        work,
    }
}

/// aplay reached the WAV sink sample for sample, and arecord got the WAV source's.
fn assert_exact_play_and_record(r: &Run) {
    let (report, context) = (&r.report, &r.context);
    // aplay: what reached the WAV sink is the file, sample for sample.
    assert!(report.contains("=== aplay rc=0"), "aplay failed\n{context}");
    let out = parse(&std::fs::read(r.work.path().join("out.wav")).expect("out.wav"))
        .expect("out.wav parses");
    let play = &r.play;
    assert!(
        out.data.len() >= play.len(),
        "sink got {} of {} bytes\n{context}",
        out.data.len(),
        play.len()
    );
    assert!(
        out.data[..play.len()] == play[..],
        "played samples differ from the file\n{context}"
    );
    // aplay pads its last chunk with silence; nothing else may follow.
    let tail = &out.data[play.len()..];
    assert!(tail.len() < PERIOD_FRAMES * FRAME && tail.iter().all(|&b| b == 0));

    // arecord from the WAV source: the first second of the file, sample for sample.
    assert!(
        report.contains("=== arecord-wav rc=0"),
        "arecord failed\n{context}"
    );
    let rec = recording(report, "rec-wav");
    assert_eq!(rec.len(), RATE as usize * FRAME, "one second recorded");
    assert!(
        rec[..] == r.source[..rec.len()],
        "recorded samples differ\n{context}"
    );
}

/// The README's QEMU sound line as a user copies it (no `controls=on`), against a device
/// with the default `controls`: the card is found, and playback and capture are exact.
#[test]
fn stock_qemu_line_from_the_readme_plays_and_records_exactly() {
    if !tools_ready(SCRIPT, "the stock-QEMU-line guest sound test") {
        return;
    }
    let line = vmm_line(README, "qemu-sound").unwrap_or_else(|e| panic!("{e}"));
    let r = run(false, Some(&line));
    assert_exact_play_and_record(&r);
    assert!(
        !r.context.contains("too small"),
        "the service found the config space too small\n{}",
        r.context
    );
    // No VIRTIO_SND_F_CTLS offered: the card has only its jack, no mixer controls.
    let controls = section(&r.report, "amixer controls");
    assert!(
        controls.contains("name='Line Out Jack'") && !controls.contains("Volume"),
        "unexpected controls\n{}",
        r.context
    );
}

#[test]
fn linux_guest_plays_records_and_sees_controls_and_jacks() {
    if !tools_ready(SCRIPT, "the Linux guest sound test") {
        return;
    }
    // The script's own line: the README's plus controls=on.
    let r = run(true, None);
    assert_exact_play_and_record(&r);
    let (report, context) = (&r.report, &r.context);

    // arecord from the tone generator: exactly the generator's samples.
    assert!(
        report.contains("=== arecord-tone rc=0"),
        "arecord tone failed\n{context}"
    );
    let rec = recording(report, "rec-tone");
    let params = PcmParams {
        format: SampleFormat::S16,
        rate: RATE,
        channels: 2,
        period_bytes: (PERIOD_FRAMES * FRAME) as u32,
        buffer_bytes: (8 * PERIOD_FRAMES * FRAME) as u32,
    };
    let expected = ToneCapture::new(1000.0, 0.5).expected(&params, 0, RATE as usize);
    assert!(rec == expected, "tone recording differs\n{context}");

    // amixer: our controls and our jack, and a value written through CTL_WRITE reads back.
    let controls = section(report, "amixer controls");
    for name in [
        "Master Playback Volume",
        "Master Playback Switch",
        "Capture Capture Volume",
        "Capture Capture Switch",
        "Tone Capture Volume",
        "Line Out Jack",
    ] {
        assert!(
            controls.contains(&format!("name='{name}'")),
            "amixer lacks {name}\n{context}"
        );
    }
    let get = section(report, "amixer get");
    assert!(
        get.contains(": values=42"),
        "volume did not read back\n{context}"
    );
    assert!(
        get.contains(": values=on"),
        "jack not reported plugged\n{context}"
    );
}
