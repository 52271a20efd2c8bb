//! Byte-level tests of the virtio-snd device against the layouts of virtio 1.3 §5.14, with
//! a virtual clock for the paced data path.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::constants::{code, pcm_feature, CONTROLQ, EVENTQ, RXQ, TXQ};
use super::layout::SetParams;
use super::topology::{
    ControlKind, ControlSpec, JackSpec, SoundTopology, StreamBackend, StreamSpec, CAPS_IN,
    CAPS_OUT, DEFCONF_LINE_OUT, DEFCONF_MIC_IN,
};
use super::*;
use crate::devices::{CompleteError, Token};
use crate::hw::pcm::shared::{OutputPolicy, SharedOutput};
use crate::hw::pcm::tone::ToneCapture;
use crate::hw::pcm::{PcmError, PcmParams, PcmPlayback, SampleFormat};

/// Completions in order: (queue, head, bytes).
#[derive(Default)]
struct Sink(Vec<(u16, u16, Vec<u8>)>);

impl Completer for Sink {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.0.push((token.queue, token.head, response.to_vec()));
        Ok(())
    }
}

/// Playback backend that keeps what it was given.
struct Recorder(Arc<Mutex<Vec<u8>>>);

impl PcmPlayback for Recorder {
    fn describe(&self) -> String {
        "test recorder".into()
    }
    fn open(&mut self, _p: &PcmParams) -> Result<(), PcmError> {
        Ok(())
    }
    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
    fn close(&mut self) {}
}

const OUT: u32 = 0;
const IN: u32 = 1;
/// 48 kHz, stereo, S16: 192000 bytes/s; 10 ms periods.
const PERIOD: u32 = 1920;
const BUFFER: u32 = 4 * PERIOD;
const S16: u8 = 5;
const R44100: u8 = 6;
const R48000: u8 = 7;

struct Rig {
    dev: SoundDevice,
    played: Arc<Mutex<Vec<u8>>>,
    next_head: u16,
}

fn rig_with(playback: Option<Box<dyn PcmPlayback>>) -> Rig {
    let played = Arc::new(Mutex::new(Vec::new()));
    let playback = playback.unwrap_or_else(|| Box::new(Recorder(played.clone())));
    let topo = SoundTopology {
        device: "vm0-snd".into(),
        jacks: vec![
            JackSpec {
                name: "line-out".into(),
                hda_fn_nid: 0,
                hda_reg_defconf: DEFCONF_LINE_OUT,
                hda_reg_caps: CAPS_OUT,
                connected: true,
                remappable: true,
            },
            JackSpec {
                name: "mic".into(),
                hda_fn_nid: 0,
                hda_reg_defconf: DEFCONF_MIC_IN,
                hda_reg_caps: CAPS_IN,
                connected: false,
                remappable: false,
            },
        ],
        streams: vec![
            StreamSpec {
                name: "Master".into(),
                hda_fn_nid: 0,
                formats: vec![SampleFormat::S16, SampleFormat::S32],
                rates: vec![44100, 48000],
                channels_min: 1,
                channels_max: 2,
                backend: StreamBackend::Playback(playback),
            },
            StreamSpec {
                name: "Capture".into(),
                hda_fn_nid: 0,
                formats: vec![SampleFormat::S16],
                rates: vec![48000],
                channels_min: 2,
                channels_max: 2,
                backend: StreamBackend::Capture(Box::new(ToneCapture::new(1000.0, 0.5))),
            },
        ],
        chmaps: Vec::new(),
        controls: vec![ControlSpec {
            name: "Output Route".into(),
            index: 0,
            kind: ControlKind::Enumerated {
                items: vec!["Speaker".into(), "Headphones".into()],
            },
        }],
    }
    .with_default_chmaps_and_controls();
    let mut dev = SoundDevice::new(topo);
    struct NoWake;
    impl Wake for NoWake {
        fn wake(&self) {}
    }
    dev.activate(1 << VIRTIO_SND_F_CTLS, Arc::new(NoWake));
    Rig {
        dev,
        played,
        next_head: 0,
    }
}

fn rig() -> Rig {
    rig_with(None)
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Rig {
    fn token(&mut self, queue: u16) -> Token {
        self.next_head = self.next_head.wrapping_add(1);
        Token {
            queue,
            head: self.next_head,
            generation: 0,
            writable: vec![],
        }
    }

    fn send(&mut self, queue: u16, data: Vec<u8>, writable_len: usize, now: Instant) -> Sink {
        let token = self.token(queue);
        let mut sink = Sink::default();
        self.dev.handle_at(
            Request {
                token,
                data,
                writable_len,
            },
            &mut sink,
            now,
        );
        sink
    }

    /// A control request answered at once; returns the response bytes.
    fn ctl_with_room(&mut self, data: Vec<u8>, writable_len: usize) -> Vec<u8> {
        let sink = self.send(CONTROLQ, data, writable_len, Instant::now());
        let controlq: Vec<_> = sink.0.iter().filter(|c| c.0 == CONTROLQ).collect();
        assert_eq!(controlq.len(), 1, "a control request is answered at once");
        controlq[0].2.clone()
    }

    fn ctl(&mut self, data: Vec<u8>) -> Vec<u8> {
        self.ctl_with_room(data, 4096)
    }

    fn ctl_status(&mut self, data: Vec<u8>) -> u32 {
        le32(&self.ctl(data), 0)
    }

    fn set_params(&mut self, stream: u32, p: SetParams) -> u32 {
        self.ctl_status(p.request(stream))
    }

    fn pcm(&mut self, req: u32, stream: u32) -> u32 {
        self.ctl_status(words(&[req, stream]))
    }

    fn pcm_at(&mut self, req: u32, stream: u32, now: Instant) -> (u32, Sink) {
        let sink = self.send(CONTROLQ, words(&[req, stream]), 4, now);
        let st = sink
            .0
            .iter()
            .find(|c| c.0 == CONTROLQ)
            .map(|c| le32(&c.2, 0))
            .unwrap();
        (st, sink)
    }

    fn prepare_output(&mut self, features: u32) {
        let st = self.set_params(OUT, params(features));
        assert_eq!(st, code::S_OK);
        assert_eq!(self.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    }

    fn tx(&mut self, stream: u32, payload: &[u8], now: Instant) -> Sink {
        let mut data = stream.to_le_bytes().to_vec();
        data.extend_from_slice(payload);
        self.send(TXQ, data, 8, now)
    }

    fn poll(&mut self, now: Instant) -> (Sink, Option<Instant>) {
        let mut sink = Sink::default();
        let next = self.dev.poll(now, &mut sink);
        (sink, next)
    }
}

fn params(features: u32) -> SetParams {
    SetParams {
        buffer_bytes: BUFFER,
        period_bytes: PERIOD,
        features,
        channels: 2,
        format: S16,
        rate: R48000,
    }
}

fn period_data(seed: u8) -> Vec<u8> {
    (0..PERIOD)
        .map(|i| (i as u8).wrapping_mul(7) ^ seed)
        .collect()
}

const MS10: Duration = Duration::from_millis(10);

#[test]
fn config_space_counts_every_item() {
    let r = rig();
    let mut b = [0u8; 16];
    r.dev.read_config(0, &mut b);
    // 2 jacks, 2 streams, 2 chmaps, 1 enum + 2x(volume, switch) = 5 controls.
    assert_eq!(b.to_vec(), words(&[2, 2, 2, 5]));
    let mut tail = [0xffu8; 6];
    r.dev.read_config(12, &mut tail);
    assert_eq!(tail, [5, 0, 0, 0, 0, 0]);
    assert_eq!(r.dev.features(), 1 << VIRTIO_SND_F_CTLS);
    assert_eq!(r.dev.device_type(), 25);
    assert_eq!(r.dev.queue_max_sizes().len(), 4);
}

#[test]
fn jack_info_reports_every_field() {
    let mut r = rig();
    let resp = r.ctl(words(&[code::JACK_INFO, 0, 2, 24]));
    assert_eq!(resp.len(), 4 + 48);
    assert_eq!(le32(&resp, 0), code::S_OK);
    let j0 = &resp[4..28];
    assert_eq!(le32(j0, 4), 1 << 0, "remap feature");
    assert_eq!(le32(j0, 8), DEFCONF_LINE_OUT);
    assert_eq!(le32(j0, 12), CAPS_OUT);
    assert_eq!(j0[16], 1);
    let j1 = &resp[28..52];
    assert_eq!(le32(j1, 4), 0);
    assert_eq!(le32(j1, 8), DEFCONF_MIC_IN);
    assert_eq!(j1[16], 0);
}

#[test]
fn query_info_errors_and_padding() {
    let mut r = rig();
    // Past the last jack.
    assert_eq!(
        r.ctl_status(words(&[code::JACK_INFO, 1, 2, 24])),
        code::S_BAD_MSG
    );
    // Item size smaller than the structure.
    assert_eq!(
        r.ctl_status(words(&[code::JACK_INFO, 0, 1, 20])),
        code::S_BAD_MSG
    );
    // Truncated request.
    assert_eq!(
        r.ctl_status(words(&[code::JACK_INFO, 0, 1])),
        code::S_BAD_MSG
    );
    // Trailing garbage.
    assert_eq!(
        r.ctl_status(words(&[code::JACK_INFO, 0, 1, 24, 0])),
        code::S_BAD_MSG
    );
    // Overflowing start + count.
    assert_eq!(
        r.ctl_status(words(&[code::PCM_INFO, u32::MAX, 2, 32])),
        code::S_BAD_MSG
    );
    // Response buffer too small for the items.
    let resp = r.ctl_with_room(words(&[code::PCM_INFO, 0, 2, 32]), 4 + 63);
    assert_eq!(resp, code::S_BAD_MSG.to_le_bytes());
    // Larger item size: each item padded with zeros.
    let resp = r.ctl(words(&[code::JACK_INFO, 1, 1, 40]));
    assert_eq!(resp.len(), 44);
    assert_eq!(le32(&resp, 4 + 8), DEFCONF_MIC_IN);
    assert!(resp[28..].iter().all(|&b| b == 0));
    // Zero items is a valid, empty answer.
    assert_eq!(
        r.ctl(words(&[code::CHMAP_INFO, 2, 0, 24])),
        code::S_OK.to_le_bytes()
    );
    // A request shorter than its header.
    assert_eq!(r.ctl(vec![1, 0]), code::S_BAD_MSG.to_le_bytes());
    // Unknown request code.
    assert_eq!(r.ctl_status(words(&[0x0400, 0])), code::S_NOT_SUPP);
}

#[test]
fn jack_remap_changes_association_and_sequence() {
    let mut r = rig();
    assert_eq!(
        r.ctl_status(words(&[code::JACK_REMAP, 0, 3, 5])),
        code::S_OK
    );
    let resp = r.ctl(words(&[code::JACK_INFO, 0, 1, 24]));
    assert_eq!(le32(&resp, 4 + 8), (DEFCONF_LINE_OUT & !0xff) | 0x35);
    assert_eq!(
        r.ctl_status(words(&[code::JACK_REMAP, 1, 3, 5])),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.ctl_status(words(&[code::JACK_REMAP, 2, 3, 5])),
        code::S_BAD_MSG
    );
    assert_eq!(
        r.ctl_status(words(&[code::JACK_REMAP, 0, 16, 0])),
        code::S_BAD_MSG
    );
    assert_eq!(
        r.ctl_status(words(&[code::JACK_REMAP, 0, 3])),
        code::S_BAD_MSG
    );
}

#[test]
fn pcm_info_reports_formats_rates_and_direction() {
    let mut r = rig();
    let resp = r.ctl(words(&[code::PCM_INFO, 0, 2, 32]));
    assert_eq!(le32(&resp, 0), code::S_OK);
    let s0 = &resp[4..36];
    assert_eq!(le32(s0, 4), 1 << pcm_feature::EVT_XRUNS);
    let formats = u64::from_le_bytes(s0[8..16].try_into().unwrap());
    assert_eq!(formats, (1 << 5) | (1 << 17));
    let rates = u64::from_le_bytes(s0[16..24].try_into().unwrap());
    assert_eq!(rates, (1 << 6) | (1 << 7));
    assert_eq!(&s0[24..27], &[0, 1, 2]);
    let s1 = &resp[36..68];
    assert_eq!(&s1[24..27], &[1, 2, 2]);
}

#[test]
fn chmap_info_matches_each_stream() {
    let mut r = rig();
    let resp = r.ctl(words(&[code::CHMAP_INFO, 0, 2, 24]));
    assert_eq!(le32(&resp, 0), code::S_OK);
    assert_eq!(&resp[8..12], &[0, 2, 3, 4]);
    assert_eq!(&resp[32..36], &[1, 2, 3, 4]);
}

#[test]
fn set_params_refuses_what_the_stream_does_not_offer() {
    let mut r = rig();
    let ok = params(0);
    assert_eq!(
        r.set_params(OUT, SetParams { format: 19, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(OUT, SetParams { format: 200, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(OUT, SetParams { rate: 0, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(OUT, SetParams { rate: 99, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(OUT, SetParams { channels: 3, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(OUT, SetParams { channels: 0, ..ok }),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(
            OUT,
            SetParams {
                features: 1 << pcm_feature::SHMEM_HOST,
                ..ok
            }
        ),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.set_params(
            OUT,
            SetParams {
                period_bytes: 0,
                ..ok
            }
        ),
        code::S_BAD_MSG
    );
    assert_eq!(
        r.set_params(
            OUT,
            SetParams {
                period_bytes: 1921,
                ..ok
            }
        ),
        code::S_BAD_MSG
    );
    assert_eq!(
        r.set_params(
            OUT,
            SetParams {
                buffer_bytes: PERIOD - 4,
                ..ok
            }
        ),
        code::S_BAD_MSG
    );
    assert_eq!(
        r.set_params(
            OUT,
            SetParams {
                buffer_bytes: 8 << 20,
                period_bytes: 4096,
                ..ok
            }
        ),
        code::S_NOT_SUPP
    );
    assert_eq!(r.set_params(7, ok), code::S_BAD_MSG);
    let mut short = ok.request(OUT);
    short.truncate(20);
    assert_eq!(r.ctl_status(short), code::S_BAD_MSG);
    assert_eq!(r.dev.streams()[0].state(), stream::State::Idle);
    assert_eq!(
        r.set_params(OUT, SetParams { rate: R44100, ..ok }),
        code::S_OK
    );
    assert_eq!(r.dev.streams()[0].params().unwrap().rate, 44100);
}

#[test]
fn lifecycle_out_of_order_is_bad_msg() {
    let mut r = rig();
    for req in [
        code::PCM_PREPARE,
        code::PCM_START,
        code::PCM_STOP,
        code::PCM_RELEASE,
    ] {
        assert_eq!(
            r.pcm(req, OUT),
            code::S_BAD_MSG,
            "{req:#x} before SET_PARAMS"
        );
    }
    assert_eq!(r.set_params(OUT, params(0)), code::S_OK);
    assert_eq!(r.pcm(code::PCM_START, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_RELEASE, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    assert_eq!(
        r.pcm(code::PCM_PREPARE, OUT),
        code::S_OK,
        "PREPARE may repeat"
    );
    assert_eq!(r.pcm(code::PCM_STOP, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_START, OUT), code::S_OK);
    assert_eq!(r.pcm(code::PCM_START, OUT), code::S_BAD_MSG);
    assert_eq!(r.set_params(OUT, params(0)), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_RELEASE, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_STOP, OUT), code::S_OK);
    assert_eq!(r.pcm(code::PCM_STOP, OUT), code::S_BAD_MSG);
    assert_eq!(
        r.pcm(code::PCM_START, OUT),
        code::S_OK,
        "START after STOP resumes"
    );
    assert_eq!(r.pcm(code::PCM_STOP, OUT), code::S_OK);
    assert_eq!(r.pcm(code::PCM_RELEASE, OUT), code::S_OK);
    assert_eq!(r.pcm(code::PCM_RELEASE, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_START, OUT), code::S_BAD_MSG);
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    assert_eq!(r.pcm(code::PCM_START, 9), code::S_BAD_MSG);
    assert_eq!(
        r.ctl_status(words(&[code::PCM_START, OUT, 0])),
        code::S_BAD_MSG
    );
}

#[test]
fn playback_is_paced_at_the_stream_rate_and_sample_exact() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    for i in 0..4 {
        let s = r.tx(OUT, &period_data(i), t0);
        assert!(s.0.is_empty(), "tx buffers are held until played");
    }
    assert!(
        r.poll(t0 + MS10 * 5).0 .0.is_empty(),
        "nothing plays before START"
    );
    let (st, _) = r.pcm_at(code::PCM_START, OUT, t0);
    assert_eq!(st, code::S_OK);
    let (s, next) = r.poll(t0 + MS10 - Duration::from_nanos(1));
    assert!(s.0.is_empty());
    assert_eq!(next, Some(t0 + MS10));
    let (s, next) = r.poll(t0 + MS10);
    assert_eq!(s.0.len(), 1);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_OK, 0));
    assert_eq!(next, Some(t0 + MS10 * 2));
    let (s, _) = r.poll(t0 + MS10 * 4);
    assert_eq!(s.0.len(), 3);
    let expect: Vec<u8> = (0..4).flat_map(period_data).collect();
    assert_eq!(*r.played.lock().unwrap(), expect);
}

#[test]
fn pacing_does_not_drift_over_ten_minutes() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    r.pcm_at(code::PCM_START, OUT, t0);
    let data = period_data(1);
    r.tx(OUT, &data, t0);
    r.tx(OUT, &data, t0);
    // 60000 periods of 10 ms, each re-queued as soon as one completes.
    let mut now = t0;
    for n in 1..=60_000u32 {
        let (s, next) = r.poll(now);
        for _ in &s.0 {
            r.tx(OUT, &data, now);
        }
        let next = next.unwrap();
        assert_eq!(next, t0 + MS10 * n, "deadline of period {n}");
        now = next;
    }
    assert_eq!(r.dev.streams()[0].stats.xruns, 0);
}

#[test]
fn underrun_reports_an_xrun_event_then_reanchors() {
    let mut r = rig();
    r.prepare_output(1 << pcm_feature::EVT_XRUNS);
    let t0 = Instant::now();
    assert!(
        r.send(EVENTQ, vec![], 8, t0).0.is_empty(),
        "event buffer held"
    );
    r.tx(OUT, &period_data(0), t0);
    r.pcm_at(code::PCM_START, OUT, t0);
    let (s, next) = r.poll(t0 + MS10);
    assert_eq!(s.0.len(), 1);
    // Grace of one period before the queue running dry counts as an underrun.
    assert_eq!(next, Some(t0 + MS10 * 2));
    let (s, _) = r.poll(t0 + MS10 * 2 - Duration::from_nanos(1));
    assert!(s.0.is_empty());
    let (s, next) = r.poll(t0 + MS10 * 2);
    assert_eq!(s.0.len(), 1);
    assert_eq!(s.0[0].0, EVENTQ);
    assert_eq!(s.0[0].2, words(&[code::EVT_PCM_XRUN, OUT]));
    assert_eq!(next, None);
    assert_eq!(r.dev.streams()[0].stats.xruns, 1);
    // The next buffer starts a new clock from its arrival.
    let late = t0 + MS10 * 5;
    r.tx(OUT, &period_data(1), late);
    let (_, next) = r.poll(late);
    assert_eq!(next, Some(late + MS10));
}

#[test]
fn xrun_without_the_feature_is_counted_but_not_sent() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    r.send(EVENTQ, vec![], 8, t0);
    r.pcm_at(code::PCM_START, OUT, t0);
    let (s, _) = r.poll(t0 + MS10);
    assert!(s.0.is_empty());
    assert_eq!(r.dev.streams()[0].stats.xruns, 1);
}

#[test]
fn stop_holds_buffers_and_release_returns_every_one() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    for i in 0..3 {
        r.tx(OUT, &period_data(i), t0);
    }
    r.pcm_at(code::PCM_START, OUT, t0);
    assert_eq!(r.poll(t0 + MS10).0 .0.len(), 1);
    let (st, s) = r.pcm_at(code::PCM_STOP, OUT, t0 + MS10);
    assert_eq!(st, code::S_OK);
    assert_eq!(s.0.len(), 1, "STOP answers only itself");
    assert!(
        r.poll(t0 + MS10 * 10).0 .0.is_empty(),
        "nothing plays while stopped"
    );
    let (st, s) = r.pcm_at(code::PCM_RELEASE, OUT, t0 + MS10 * 10);
    assert_eq!(st, code::S_OK);
    let tx: Vec<_> = s.0.iter().filter(|c| c.0 == TXQ).collect();
    assert_eq!(tx.len(), 2, "RELEASE returns both held buffers");
    assert!(tx.iter().all(|c| c.2 == layout::pcm_status(code::S_OK, 0)));
    assert_eq!(r.dev.streams()[0].stats.returned, 2);
    // After RELEASE, I/O is refused until PREPARE.
    let s = r.tx(OUT, &period_data(9), t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    assert_eq!(r.played.lock().unwrap().len(), PERIOD as usize);
}

#[test]
fn malformed_io_gets_bad_msg_and_the_device_keeps_serving() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    // Not a whole frame.
    let s = r.tx(OUT, &[0; 3], t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    // More than the configured buffer.
    let s = r.tx(OUT, &vec![0; BUFFER as usize + 4], t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    // Playback data for the capture stream, and for no stream.
    let s = r.tx(IN, &[0; 4], t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    let s = r.tx(5, &[0; 4], t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    // No header at all.
    let s = r.send(TXQ, vec![1], 8, t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    // Capture message for the playback stream: status after the data area.
    let s = r.send(RXQ, words(&[OUT]), 16, t0);
    assert_eq!(s.0[0].2.len(), 16);
    assert_eq!(&s.0[0].2[8..], &layout::pcm_status(code::S_BAD_MSG, 0));
    // Queued room is still intact: a whole buffer is accepted.
    for i in 0..4 {
        assert!(r.tx(OUT, &period_data(i), t0).0.is_empty());
    }
    let s = r.tx(OUT, &period_data(5), t0);
    assert_eq!(
        s.0[0].2,
        layout::pcm_status(code::S_BAD_MSG, 0),
        "ring full"
    );
}

#[test]
fn capture_fills_buffers_with_the_source_at_the_stream_rate() {
    let mut r = rig();
    assert_eq!(r.set_params(IN, params(0)), code::S_OK);
    assert_eq!(r.pcm(code::PCM_PREPARE, IN), code::S_OK);
    let t0 = Instant::now();
    for _ in 0..2 {
        assert!(r
            .send(RXQ, words(&[IN]), PERIOD as usize + 8, t0)
            .0
            .is_empty());
    }
    r.pcm_at(code::PCM_START, IN, t0);
    let (s, _) = r.poll(t0 + MS10 - Duration::from_nanos(1));
    assert!(s.0.is_empty());
    let (s, _) = r.poll(t0 + MS10 * 2);
    assert_eq!(s.0.len(), 2);
    let p = r.dev.streams()[1].params().unwrap();
    let tone = ToneCapture::new(1000.0, 0.5);
    let frames = (PERIOD / 4) as usize;
    for (k, c) in s.0.iter().enumerate() {
        assert_eq!(c.0, RXQ);
        assert_eq!(c.2.len(), PERIOD as usize + 8);
        assert_eq!(
            &c.2[..PERIOD as usize],
            &tone.expected(&p, (k * frames) as u64, frames)[..]
        );
        assert_eq!(&c.2[PERIOD as usize..], &layout::pcm_status(code::S_OK, 0));
    }
}

#[test]
fn jack_events_follow_host_plugging() {
    let mut r = rig();
    let t0 = Instant::now();
    r.send(EVENTQ, vec![], 8, t0);
    r.send(EVENTQ, vec![], 8, t0);
    let h = r.dev.handle();
    h.set_jack_connected(0, false);
    h.set_jack_connected(1, true);
    h.set_jack_connected(1, true);
    h.set_jack_connected(9, true);
    let (s, _) = r.poll(t0);
    assert_eq!(s.0.len(), 2);
    assert_eq!(s.0[0].2, words(&[code::EVT_JACK_DISCONNECTED, 0]));
    assert_eq!(s.0[1].2, words(&[code::EVT_JACK_CONNECTED, 1]));
    let resp = r.ctl(words(&[code::JACK_INFO, 0, 2, 24]));
    assert_eq!((resp[4 + 16], resp[28 + 16]), (0, 1));
    // An event with no buffer posted waits for one.
    h.set_jack_connected(0, true);
    assert!(r.poll(t0).0 .0.is_empty());
    let s = r.send(EVENTQ, vec![], 8, t0);
    assert_eq!(s.0[0].2, words(&[code::EVT_JACK_CONNECTED, 0]));
    // A too-small event buffer is returned unused.
    let s = r.send(EVENTQ, vec![], 4, t0);
    assert_eq!(s.0[0].2, Vec::<u8>::new());
}

#[test]
fn reset_keeps_host_plugging_and_weak_handles_lapse_with_the_device() {
    let mut r = rig();
    let t0 = Instant::now();
    let weak = r.dev.handle().downgrade();
    weak.upgrade().unwrap().set_jack_connected(0, false);
    r.poll(t0);
    r.dev.reset();
    let resp = r.ctl(words(&[code::JACK_INFO, 0, 1, 24]));
    assert_eq!(resp[4 + 16], 0, "still unplugged after a reset");
    // Host changes queued while nothing polls are bounded; the newest survive.
    let h = weak.upgrade().unwrap();
    for k in 0..1000u32 {
        h.set_jack_connected(0, k % 2 == 1);
    }
    r.send(EVENTQ, vec![], 8, t0);
    let (s, _) = r.poll(t0);
    assert_eq!(s.0[0].2, words(&[code::EVT_JACK_CONNECTED, 0]));
    let resp = r.ctl(words(&[code::JACK_INFO, 0, 1, 24]));
    assert_eq!(resp[4 + 16], 1, "the last change is the state");
    drop(h);
    drop(r);
    assert!(weak.upgrade().is_none(), "the device is gone");
}

fn find_control(r: &mut Rig, name: &str) -> u32 {
    let resp = r.ctl(words(&[code::CTL_INFO, 0, 5, 96]));
    assert_eq!(le32(&resp, 0), code::S_OK);
    for i in 0..5 {
        let info = &resp[4 + i * 96..4 + (i + 1) * 96];
        let n = info[24..68].iter().position(|&b| b == 0).unwrap();
        if &info[24..24 + n] == name.as_bytes() {
            return i as u32;
        }
    }
    panic!("no control {name}");
}

#[test]
fn control_info_describes_volume_switch_and_enum() {
    let mut r = rig();
    let resp = r.ctl(words(&[code::CTL_INFO, 0, 5, 96]));
    assert_eq!(resp.len(), 4 + 5 * 96);
    let vol = find_control(&mut r, "Master Playback Volume") as usize;
    let info = &resp[4 + vol * 96..4 + (vol + 1) * 96];
    assert_eq!(le32(info, 4), 1, "role VOLUME");
    assert_eq!(le32(info, 8), 1, "type INTEGER");
    assert_eq!(le32(info, 12), 0b1_0011, "READ|WRITE|TLV_READ");
    assert_eq!(le32(info, 16), 1, "count");
    assert_eq!(
        (le32(info, 72), le32(info, 76), le32(info, 80)),
        (0, 100, 1)
    );
    let sw = find_control(&mut r, "Capture Capture Switch") as usize;
    let info = &resp[4 + sw * 96..4 + (sw + 1) * 96];
    assert_eq!((le32(info, 4), le32(info, 8)), (2, 0), "role MUTE, BOOLEAN");
    let en = find_control(&mut r, "Output Route") as usize;
    let info = &resp[4 + en * 96..4 + (en + 1) * 96];
    assert_eq!(
        (le32(info, 8), le32(info, 72)),
        (3, 2),
        "ENUMERATED, 2 items"
    );
}

#[test]
fn control_read_write_enum_and_tlv() {
    let mut r = rig();
    let t0 = Instant::now();
    r.send(EVENTQ, vec![], 8, t0);
    let vol = find_control(&mut r, "Master Playback Volume");
    let en = find_control(&mut r, "Output Route");
    let resp = r.ctl(words(&[code::CTL_READ, vol]));
    assert_eq!(resp.len(), 4 + 512);
    assert_eq!((le32(&resp, 0), le32(&resp, 4)), (code::S_OK, 100));
    // CTL_READ with no room for the value.
    assert_eq!(
        r.ctl_with_room(words(&[code::CTL_READ, vol]), 100),
        code::S_BAD_MSG.to_le_bytes()
    );

    let mut write = words(&[code::CTL_WRITE, vol, 40]);
    write.resize(8 + 512, 0);
    let sink = r.send(CONTROLQ, write.clone(), 4, t0);
    assert_eq!(sink.0.len(), 2, "status plus a VALUE notification");
    assert_eq!(sink.0[0].0, EVENTQ);
    assert_eq!(sink.0[0].2, [0x00, 0x12, 0, 0, vol as u8, 0, 1, 0]);
    assert_eq!(sink.0[1].2, code::S_OK.to_le_bytes());
    assert_eq!(le32(&r.ctl(words(&[code::CTL_READ, vol])), 4), 40);
    // Out of range, short value, unknown control.
    let mut bad = words(&[code::CTL_WRITE, vol, 101]);
    bad.resize(8 + 512, 0);
    assert_eq!(r.ctl_status(bad), code::S_BAD_MSG);
    assert_eq!(
        r.ctl_status(words(&[code::CTL_WRITE, vol, 1])),
        code::S_BAD_MSG
    );
    assert_eq!(r.ctl_status(words(&[code::CTL_READ, 77])), code::S_BAD_MSG);

    let resp = r.ctl(words(&[code::CTL_ENUM_ITEMS, en]));
    assert_eq!(resp.len(), 4 + 128);
    assert_eq!(&resp[4..12], b"Speaker\0");
    assert_eq!(&resp[68..79], b"Headphones\0");
    assert_eq!(
        r.ctl_status(words(&[code::CTL_ENUM_ITEMS, vol])),
        code::S_BAD_MSG
    );

    let resp = r.ctl(words(&[code::CTL_TLV_READ, vol]));
    assert_eq!(
        resp[4..].to_vec(),
        words(&[1, 8, (-5000i32) as u32, 0x10032])
    );
    assert_eq!(
        r.ctl_status(words(&[code::CTL_TLV_READ, en])),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.ctl_status(words(&[code::CTL_TLV_WRITE, vol, 1, 8, 0, 0])),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.ctl_status(words(&[code::CTL_TLV_COMMAND, vol])),
        code::S_NOT_SUPP
    );
    assert_eq!(
        r.ctl_status(words(&[code::CTL_TLV_WRITE, 99])),
        code::S_BAD_MSG
    );
}

#[test]
fn controls_need_the_feature() {
    let mut r = rig();
    struct NoWake;
    impl Wake for NoWake {
        fn wake(&self) {}
    }
    r.dev.activate(0, Arc::new(NoWake));
    assert_eq!(
        r.ctl_status(words(&[code::CTL_INFO, 0, 1, 96])),
        code::S_NOT_SUPP
    );
    assert_eq!(r.ctl_status(words(&[code::CTL_READ, 0])), code::S_NOT_SUPP);
}

#[test]
fn volume_and_switch_scale_the_played_samples() {
    let mut r = rig();
    let vol = find_control(&mut r, "Master Playback Volume");
    let sw = find_control(&mut r, "Master Playback Switch");
    r.prepare_output(0);
    let t0 = Instant::now();
    let loud: Vec<u8> = std::iter::repeat_n(20000i16.to_le_bytes(), (PERIOD / 2) as usize)
        .flatten()
        .collect();
    r.tx(OUT, &loud, t0);
    r.tx(OUT, &loud, t0);
    r.pcm_at(code::PCM_START, OUT, t0);
    let mut write = words(&[code::CTL_WRITE, vol, 88]); // -6 dB
    write.resize(8 + 512, 0);
    assert_eq!(r.ctl_status(write), code::S_OK);
    r.poll(t0 + MS10);
    let mut mute = words(&[code::CTL_WRITE, sw, 0]);
    mute.resize(8 + 512, 0);
    assert_eq!(r.ctl_status(mute), code::S_OK);
    r.poll(t0 + MS10 * 2);
    let played = r.played.lock().unwrap().clone();
    let first = i16::from_le_bytes([played[0], played[1]]);
    assert_eq!(first, (20000.0 * 10f64.powf(-6.0 / 20.0)).round() as i16);
    assert!(played[PERIOD as usize..].iter().all(|&b| b == 0));
}

#[test]
fn exclusive_output_refuses_a_second_guest_with_io_err() {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let p = PcmParams {
        format: SampleFormat::S16,
        rate: 48000,
        channels: 2,
        period_bytes: PERIOD,
        buffer_bytes: BUFFER,
    };
    let shared = SharedOutput::new(
        "codec",
        Box::new(Recorder(sink)),
        p,
        OutputPolicy::Exclusive,
    );
    let mut a = rig_with(Some(Box::new(shared.client("vm0", 1.0))));
    let mut b = rig_with(Some(Box::new(shared.client("vm1", 1.0))));
    a.prepare_output(0);
    b.prepare_output(0);
    assert_eq!(a.pcm(code::PCM_START, OUT), code::S_OK);
    assert_eq!(b.pcm(code::PCM_START, OUT), code::S_IO_ERR);
    assert_eq!(a.pcm(code::PCM_STOP, OUT), code::S_OK);
    assert_eq!(a.pcm(code::PCM_RELEASE, OUT), code::S_OK);
    assert_eq!(b.pcm(code::PCM_START, OUT), code::S_OK);
    // The shared output fixes the format: 44.1 kHz is refused at SET_PARAMS.
    let mut c = rig_with(Some(Box::new(shared.client("vm2", 1.0))));
    assert_eq!(
        c.set_params(
            OUT,
            SetParams {
                rate: R44100,
                ..params(0)
            }
        ),
        code::S_NOT_SUPP
    );
}

#[test]
fn reset_forgets_streams_events_and_controls() {
    let mut r = rig();
    r.prepare_output(0);
    let t0 = Instant::now();
    r.tx(OUT, &period_data(0), t0);
    r.send(EVENTQ, vec![], 8, t0);
    let vol = find_control(&mut r, "Master Playback Volume");
    let mut write = words(&[code::CTL_WRITE, vol, 10]);
    write.resize(8 + 512, 0);
    r.ctl(write);
    r.dev.reset();
    assert_eq!(r.dev.streams()[0].state(), stream::State::Idle);
    assert_eq!(r.dev.controls()[vol as usize].value, 100);
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_BAD_MSG);
}

/// Stream `id` as the control plane sees it: (state, format, rate, channels, xruns).
fn published(r: &Rig, id: usize) -> (AudioStreamState, String, u32, u8, u64) {
    use crate::status::{AudioStreamDetail, DetailSource};
    let detail = r.dev.status().detail();
    let streams: &Vec<AudioStreamDetail> = detail.get().expect("sound streams");
    let s = &streams[id];
    (s.state, s.format.clone(), s.rate_hz, s.channels, s.xruns)
}

#[test]
fn status_follows_each_stream_transition_and_xrun() {
    use AudioStreamState as S;
    let mut r = rig();
    let s16 = |state| (state, "S16_LE".to_owned(), 48000, 2, 0);
    assert_eq!(published(&r, 0), (S::Idle, String::new(), 0, 0, 0));
    // A refused SET_PARAMS publishes nothing new.
    let bad = SetParams {
        rate: R44100,
        channels: 3,
        ..params(0)
    };
    assert_eq!(r.set_params(OUT, bad), code::S_NOT_SUPP);
    assert_eq!(published(&r, 0), (S::Idle, String::new(), 0, 0, 0));
    assert_eq!(r.set_params(OUT, params(0)), code::S_OK);
    assert_eq!(published(&r, 0), s16(S::ParametersSet));
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    assert_eq!(published(&r, 0), s16(S::Prepared));
    let t0 = Instant::now();
    r.pcm_at(code::PCM_START, OUT, t0);
    assert_eq!(published(&r, 0), s16(S::Running));
    // No buffer for a period: an underrun, published while the stream keeps running.
    r.poll(t0 + MS10);
    assert_eq!(published(&r, 0), (S::Running, "S16_LE".into(), 48000, 2, 1));
    assert_eq!(r.pcm(code::PCM_STOP, OUT), code::S_OK);
    assert_eq!(published(&r, 0).0, S::Stopped);
    // Out of order: still STOPPED.
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_BAD_MSG);
    assert_eq!(published(&r, 0).0, S::Stopped);
    assert_eq!(r.pcm(code::PCM_RELEASE, OUT), code::S_OK);
    assert_eq!(
        published(&r, 0),
        (S::Idle, "S16_LE".into(), 48000, 2, 1),
        "RELEASED is IDLE; the parameters stay in force for the next PREPARE"
    );
    // Xruns count from the last PREPARE.
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    assert_eq!(published(&r, 0), s16(S::Prepared));
    assert_eq!(published(&r, 1), (S::Idle, String::new(), 0, 0, 0));
    r.dev.reset();
    assert_eq!(published(&r, 0), (S::Idle, String::new(), 0, 0, 0));
}

mod hostile;
