//! The sound tables: what they parse to and every error they can produce.

use std::path::PathBuf;

use super::{err, ivi};
use crate::config::*;
use crate::hw::pcm::SampleFormat;

fn sound(device: &str) -> SoundConfig {
    let c = parse(&ivi(&[device]), "t.toml").expect("parses");
    c.guests[0].devices[0]
        .sound
        .clone()
        .expect("a sound device")
}

#[test]
fn jack_detection_sources_parse() {
    let s = sound(
        r#"kind = "sound"
[[guest.device.jack]]
name = "hp"
detect = { alsa = { card = 2, control = "Headphone Jack" } }
[[guest.device.jack]]
name = "mic"
direction = "input"
detect = { alsa = { control = "Mic Jack" } }
[[guest.device.jack]]
name = "line"
detect = { sim = { file = "jacks/line" } }
"#,
    );
    let detect: Vec<_> = s.jacks.iter().map(|j| j.detect.clone()).collect();
    assert_eq!(
        detect,
        vec![
            JackDetect::Alsa {
                card: 2,
                control: "Headphone Jack".into()
            },
            JackDetect::Alsa {
                card: 0,
                control: "Mic Jack".into()
            },
            JackDetect::Sim {
                file: PathBuf::from("jacks/line")
            },
        ]
    );
}

#[test]
fn bad_jack_detection_is_refused_naming_the_key() {
    let d = |jack: &str| {
        err(&ivi(&[&format!(
            "kind = \"sound\"\n[[guest.device.jack]]\nname = \"hp\"\n{jack}"
        )]))
    };
    assert_eq!(
        d("detect = { alsa = { card = 32, control = \"Headphone Jack\" } }"),
        "etc/x.toml: guest \"ivi\" device 1 jack 1: detect.alsa.card = 32 is out of range \
         (expected 0 to 31)"
    );
    assert_eq!(
        d(&format!(
            "detect = {{ alsa = {{ control = \"{}\" }} }}",
            "x".repeat(44)
        )),
        format!(
            "etc/x.toml: guest \"ivi\" device 1 jack 1: detect.alsa.control \"{}\" is not an \
             ALSA control name (expected 1 to 43 bytes, no NUL)",
            "x".repeat(44)
        )
    );
    assert_eq!(
        d("detect = { alsa = { control = \"\" } }"),
        "etc/x.toml: guest \"ivi\" device 1 jack 1: detect.alsa.control \"\" is not an ALSA \
         control name (expected 1 to 43 bytes, no NUL)"
    );
    assert_eq!(
        d("detect = { sim = { file = \"\" } }"),
        "etc/x.toml: guest \"ivi\" device 1 jack 1: detect.sim.file \"\" does not name a file"
    );
    for bad in [
        "detect = { sim = { path = \"x\" } }",
        "detect = { gpio = { line = 3 } }",
        "detect = { alsa = { card = 0 } }",
        "detect = { sim = { file = \"a\" }, alsa = { control = \"b\" } }",
    ] {
        let e = d(bad);
        assert!(e.contains("detect"), "{bad}: {e}");
    }
}

#[test]
fn full_sound_device_parses() {
    let s = sound(
        r#"kind = "sound"
[[guest.device.jack]]
name = "mic"
direction = "input"
connected = false
remappable = true
defconf = 0x12345678
caps = 0x24
[[guest.device.stream]]
name = "Media"
formats = ["s16", "s32", "s16"]
rates = [44100, 48000]
channels_min = 2
channels_max = 2
sink = "wav"
wav = "media.wav"
[[guest.device.stream]]
name = "Radio"
direction = "input"
source = "tuner"
tuner = "fm1"
[[guest.device.stream]]
name = "Mic"
direction = "input"
source = "wav"
wav = "/tmp/in.wav"
loop = true
"#,
    );
    assert_eq!(
        s.jacks,
        vec![JackConfig {
            name: "mic".into(),
            direction: SoundDirection::Input,
            connected: false,
            remappable: true,
            defconf: 0x1234_5678,
            caps: 0x24,
            detect: JackDetect::Fixed,
        }]
    );
    assert_eq!(
        s.streams[0].formats,
        vec![SampleFormat::S16, SampleFormat::S32]
    );
    assert_eq!(s.streams[0].rates, vec![44100, 48000]);
    assert_eq!(s.streams[0].channels_min, 2);
    assert_eq!(
        s.streams[0].endpoint,
        StreamEndpoint::WavSink(PathBuf::from("media.wav"))
    );
    assert_eq!(s.streams[1].endpoint, StreamEndpoint::Tuner("fm1".into()));
    assert_eq!(
        s.streams[2].endpoint,
        StreamEndpoint::WavSource {
            path: PathBuf::from("/tmp/in.wav"),
            looped: true
        }
    );
}

#[test]
fn shared_outputs_and_alsa_streams() {
    let text = r#"
[[output]]
name = "codec"
policy = "exclusive"
backend = "alsa"
card = 1
pcm_device = 3
rate = 44100
period_frames = 441

[[guest]]
name = "a"
[[guest.device]]
kind = "sound"
backend = "alsa"
[[guest.device.stream]]
name = "Main"
rates = [44100]
output = "codec"
gain_percent = 50
[[guest.device.stream]]
name = "Mic"
direction = "input"
card = 2
"#;
    let c = parse(text, "t.toml").expect("parses");
    assert_eq!(
        c.outputs,
        vec![OutputConfig {
            name: "codec".into(),
            policy: SharePolicy::Exclusive,
            sink: OutputSink::Alsa { card: 1, device: 3 },
            format: SampleFormat::S16,
            rate: 44100,
            channels: 2,
            period_frames: 441,
            exclusive_idle_timeout_ms: crate::config::sound::DEFAULT_EXCLUSIVE_IDLE_TIMEOUT_MS,
        }]
    );
    let s = c.guests[0].devices[0].sound.clone().unwrap();
    assert_eq!(
        s.streams[0].endpoint,
        StreamEndpoint::Shared {
            output: "codec".into(),
            gain_percent: 50
        }
    );
    assert_eq!(
        s.streams[1].endpoint,
        StreamEndpoint::Alsa { card: 2, device: 0 }
    );
}

#[test]
fn sound_errors_name_the_table_and_key() {
    let d = |body: &str| err(&ivi(&[&format!("kind = \"sound\"\n{body}")]));
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\nformats = [\"s18\"]"),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: format \"s18\" is not one of: u8, s16, s24, s24_3, s32, float"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\nrates = [12345]"),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: rate 12345 is not a virtio-snd rate \
         (expected one of: 5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, \
         96000, 176400, 192000, 384000)"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\nchannels_min = 3\nchannels_max = 2"),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: channels_min = 3 is above channels_max = 2"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\nsink = \"wav\""),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: sink \"wav\" needs a wav path"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\ndirection = \"input\"\nsource = \"mp3\""),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: source \"mp3\" is not one of: null, wav, tone, tuner"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\ntone_hz = 100"),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: tone_hz does not apply to this stream's backend"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\noutput = \"nope\""),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: output \"nope\" is not defined by any [[output]]"
    );
    assert_eq!(
        d("[[guest.device.jack]]\nname = \"j\"\ndirection = \"up\""),
        "etc/x.toml: guest \"ivi\" device 1 jack 1: direction \"up\" is not one of: output, input"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"\""),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: stream name \"\" is not valid \
         (expected 1 to 24 characters from A-Z, a-z, 0-9, space, - and _)"
    );
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\n[[guest.device.stream]]\nname = \"M\""),
        "etc/x.toml: guest \"ivi\" device 1 stream 2: stream name \"M\" is already used in that direction"
    );
    assert_eq!(
        err(&ivi(&[
            "kind = \"scmi\"\n[[guest.device.stream]]\nname = \"M\""
        ])),
        "etc/x.toml: guest \"ivi\" device 1: jack and stream tables apply to sound devices only"
    );
    assert_eq!(
        err(&format!(
            "[[output]]\nname = \"o\"\npolicy = \"shared\"\n{}",
            ivi(&["kind = \"sound\""])
        )),
        "etc/x.toml: output 1: policy \"shared\" is not one of: mixed, exclusive"
    );
    assert_eq!(
        err(&format!(
            "[[output]]\nname = \"o\"\nrate = 44100\n{}",
            ivi(&["kind = \"sound\"\n[[guest.device.stream]]\nname = \"M\"\noutput = \"o\""])
        )),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: output \"o\" runs s16 44100 Hz 2 ch, which \
         this stream does not offer"
    );
}

#[test]
fn periods_and_exclusive_idle_timeouts_are_bounded() {
    let d = |body: &str| err(&ivi(&[&format!("kind = \"sound\"\n{body}")]));
    assert_eq!(
        d("[[guest.device.stream]]\nname = \"M\"\nmin_period_us = 10"),
        "etc/x.toml: guest \"ivi\" device 1 stream 1: min_period_us = 10 is out of range \
         (expected 250 to 1000000)"
    );
    let s = sound("kind = \"sound\"\n[[guest.device.stream]]\nname = \"M\"\nmin_period_us = 5000");
    assert_eq!(s.streams[0].min_period_us, 5000);
    let s = sound("kind = \"sound\"\n[[guest.device.stream]]\nname = \"M\"");
    assert_eq!(s.streams[0].min_period_us, 1000);
    let out = |body: &str| err(&format!("[[output]]\nname = \"o\"\n{body}\n{}", ivi(&[])));
    assert_eq!(
        out("period_frames = 16"),
        "etc/x.toml: output 1: period_frames = 16 is shorter than 1000 us at 48000 Hz \
         (expected at least 48)"
    );
    assert_eq!(
        out("exclusive_idle_timeout_ms = 1000"),
        "etc/x.toml: output 1: exclusive_idle_timeout_ms applies to policy = \"exclusive\" only"
    );
    assert_eq!(
        out("policy = \"exclusive\"\nexclusive_idle_timeout_ms = 1"),
        "etc/x.toml: output 1: exclusive_idle_timeout_ms = 1 is out of range (expected 100 to \
         3600000)"
    );
    let c = parse(
        &format!(
            "[[output]]\nname = \"o\"\npolicy = \"exclusive\"\nexclusive_idle_timeout_ms = 250\n{}",
            ivi(&["kind = \"sound\""])
        ),
        "t.toml",
    )
    .expect("parses");
    assert_eq!(c.outputs[0].exclusive_idle_timeout_ms, 250);
}
