//! virtio-snd over both transports, driven as a guest driver would: over a real vhost-user
//! socket by the harness (playing the VMM too), and over the Gunyah simulator by its
//! virtio-mmio driver. Every control request and error, paced I/O measured on the driver
//! side, xruns, STOP/RELEASE buffer return, jack and control events.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drivervm::devices::sound::topology::{
    ControlKind, ControlSpec, JackSpec, SoundTopology, StreamBackend, StreamSpec, CAPS_OUT,
    DEFCONF_LINE_OUT,
};
use drivervm::devices::sound::{SoundDevice, SoundHandle};
use drivervm::harness::{Completion, Driver, HarnessOptions};
use drivervm::hw::pcm::tone::ToneCapture;
use drivervm::hw::pcm::{PcmError, PcmParams, PcmPlayback, SampleFormat};
use support::transport::{serve_device, DeviceServer, Transport};

over_both_transports!(
    config_space_and_every_info_request,
    every_control_error_over_the_wire,
    controls_read_write_enum_tlv_and_notify,
    playback_is_paced_driver_side_and_sample_exact,
    capture_is_paced_and_filled_from_the_source,
    underrun_is_reported_on_the_event_queue,
    stop_holds_and_release_returns_every_buffer,
    jack_events_reach_the_driver,
    exclusive_start_failure_is_io_err_over_the_wire,
);

const CONTROLQ: u16 = 0;
const EVENTQ: u16 = 1;
const TXQ: u16 = 2;
const RXQ: u16 = 3;

const OK: u32 = 0x8000;
const BAD_MSG: u32 = 0x8001;
const NOT_SUPP: u32 = 0x8002;
const IO_ERR: u32 = 0x8003;

const JACK_INFO: u32 = 1;
const JACK_REMAP: u32 = 2;
const PCM_INFO: u32 = 0x100;
const SET_PARAMS: u32 = 0x101;
const PREPARE: u32 = 0x102;
const RELEASE: u32 = 0x103;
const START: u32 = 0x104;
const STOP: u32 = 0x105;
const CHMAP_INFO: u32 = 0x200;
const CTL_INFO: u32 = 0x300;
const CTL_ENUM_ITEMS: u32 = 0x301;
const CTL_READ: u32 = 0x302;
const CTL_WRITE: u32 = 0x303;
const CTL_TLV_READ: u32 = 0x304;
const CTL_TLV_WRITE: u32 = 0x305;
const CTL_TLV_COMMAND: u32 = 0x306;

const OUT: u32 = 0;
const IN: u32 = 1;
/// 48 kHz stereo S16: 10 ms = 1920 bytes.
const PERIOD: usize = 1920;
const PERIODS: usize = 8;
const S16: u8 = 5;
const R48000: u8 = 7;
const EVT_XRUNS: u32 = 1 << 4;

/// A playback backend keeping what it is given, shared with the test.
struct Keep(Arc<Mutex<Vec<u8>>>);

impl PcmPlayback for Keep {
    fn describe(&self) -> String {
        "test sink".into()
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

struct Rig {
    h: Box<dyn Driver>,
    played: Arc<Mutex<Vec<u8>>>,
    jacks: SoundHandle,
    _server: DeviceServer,
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Serves a sound device in this process over `t` and attaches a driver.
fn rig(t: Transport) -> Rig {
    let played = Arc::new(Mutex::new(Vec::new()));
    let topo = SoundTopology {
        device: "t-snd".into(),
        jacks: vec![JackSpec {
            name: "line-out".into(),
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
                formats: vec![SampleFormat::S16],
                rates: vec![48000],
                channels_min: 2,
                channels_max: 2,
                backend: StreamBackend::Playback(Box::new(Keep(played.clone()))),
            },
            StreamSpec {
                name: "Capture".into(),
                hda_fn_nid: 0,
                formats: vec![SampleFormat::S16],
                rates: vec![48000],
                channels_min: 2,
                channels_max: 2,
                backend: StreamBackend::Capture(Box::new(ToneCapture::new(1000.0, 0.25))),
            },
        ],
        chmaps: Vec::new(),
        controls: vec![ControlSpec {
            name: "Route".into(),
            index: 0,
            kind: ControlKind::Enumerated {
                items: vec!["A".into(), "B".into(), "C".into()],
            },
        }],
    }
    .with_default_chmaps_and_controls();
    let dev = SoundDevice::new(topo);
    let jacks = dev.handle();
    let opts = HarnessOptions {
        device_features: 1, // VIRTIO_SND_F_CTLS
        ..HarnessOptions::default()
    };
    let (h, server) = serve_device(t, "t-snd", Box::new(dev), 4, &opts);
    Rig {
        h,
        played,
        jacks,
        _server: server,
    }
}

impl Rig {
    fn ctl(&mut self, req: &[u8], room: u32) -> Vec<u8> {
        self.h.request(CONTROLQ, req, room).unwrap()
    }

    fn status(&mut self, req: &[u8]) -> u32 {
        le32(&self.ctl(req, 1024), 0)
    }

    fn set_params(&mut self, stream: u32, features: u32, format: u8, rate: u8, ch: u8) -> u32 {
        let mut r = words(&[
            SET_PARAMS,
            stream,
            (PERIODS * PERIOD) as u32,
            PERIOD as u32,
            features,
        ]);
        r.extend_from_slice(&[ch, format, rate, 0]);
        self.status(&r)
    }

    fn pcm(&mut self, req: u32, stream: u32) -> u32 {
        self.status(&words(&[req, stream]))
    }

    fn tx(&mut self, data: &[u8]) -> u16 {
        let mut r = OUT.to_le_bytes().to_vec();
        r.extend_from_slice(data);
        self.h.submit(TXQ, &r, 8).unwrap()
    }

    fn wait(&mut self, queue: u16, n: usize, timeout: Duration) -> Vec<(Instant, Completion)> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "only {} of {n} completions on queue {queue}",
                got.len()
            );
            if let Ok(cs) = self.h.wait_completions(queue, left) {
                let now = Instant::now();
                got.extend(cs.into_iter().map(|c| (now, c)));
            }
        }
        got
    }

    fn ctl_write(&mut self, id: u32, value: u32) -> u32 {
        let mut r = words(&[CTL_WRITE, id, value]);
        r.resize(8 + 512, 0);
        self.status(&r)
    }
}

fn period(seed: u8) -> Vec<u8> {
    (0..PERIOD)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn config_space_and_every_info_request(t: Transport) {
    let mut r = rig(t);
    assert_ne!(r.h.acked_features() & 1, 0, "VIRTIO_SND_F_CTLS negotiated");
    assert_eq!(r.h.config(0, 16).unwrap(), words(&[1, 2, 2, 5]));

    let j = r.ctl(&words(&[JACK_INFO, 0, 1, 24]), 28);
    assert_eq!(j.len(), 28);
    assert_eq!(
        (le32(&j, 0), le32(&j, 8), le32(&j, 12), j[20]),
        (OK, 1, DEFCONF_LINE_OUT, 1)
    );

    let p = r.ctl(&words(&[PCM_INFO, 0, 2, 32]), 68);
    assert_eq!(le32(&p, 0), OK);
    assert_eq!(le32(&p, 8), EVT_XRUNS);
    assert_eq!(u64::from_le_bytes(p[12..20].try_into().unwrap()), 1 << 5);
    assert_eq!(u64::from_le_bytes(p[20..28].try_into().unwrap()), 1 << 7);
    assert_eq!(&p[28..31], &[0, 2, 2]);
    assert_eq!(&p[60..63], &[1, 2, 2]);

    let c = r.ctl(&words(&[CHMAP_INFO, 0, 2, 24]), 52);
    assert_eq!(le32(&c, 0), OK);
    assert_eq!(&c[8..12], &[0, 2, 3, 4]);
    assert_eq!(&c[32..36], &[1, 2, 3, 4]);

    let i = r.ctl(&words(&[CTL_INFO, 0, 5, 96]), 4 + 5 * 96);
    assert_eq!(le32(&i, 0), OK);
    let names: Vec<String> = (0..5)
        .map(|k| {
            let n = &i[4 + k * 96 + 24..4 + k * 96 + 68];
            String::from_utf8_lossy(&n[..n.iter().position(|&b| b == 0).unwrap()]).into()
        })
        .collect();
    assert_eq!(
        names,
        [
            "Route",
            "Master Playback Volume",
            "Master Playback Switch",
            "Capture Capture Volume",
            "Capture Capture Switch"
        ]
    );
}

fn every_control_error_over_the_wire(t: Transport) {
    let mut r = rig(t);
    // Query errors.
    assert_eq!(r.status(&words(&[JACK_INFO, 0, 2, 24])), BAD_MSG);
    assert_eq!(r.status(&words(&[PCM_INFO, 0, 1, 16])), BAD_MSG);
    assert_eq!(r.status(&words(&[CHMAP_INFO, 0])), BAD_MSG);
    assert_eq!(
        r.ctl(&words(&[PCM_INFO, 0, 2, 32]), 40),
        BAD_MSG.to_le_bytes()
    );
    assert_eq!(r.status(&[1, 0]), BAD_MSG);
    assert_eq!(r.status(&words(&[0x0777])), NOT_SUPP);
    // Jack remap.
    assert_eq!(r.status(&words(&[JACK_REMAP, 0, 2, 3])), OK);
    let j = r.ctl(&words(&[JACK_INFO, 0, 1, 24]), 28);
    assert_eq!(le32(&j, 12) & 0xff, 0x23);
    assert_eq!(r.status(&words(&[JACK_REMAP, 1, 2, 3])), BAD_MSG);
    // Parameters.
    assert_eq!(r.set_params(OUT, 0, 17, R48000, 2), NOT_SUPP);
    assert_eq!(r.set_params(OUT, 0, S16, 6, 2), NOT_SUPP);
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 1), NOT_SUPP);
    assert_eq!(r.set_params(OUT, 1, S16, R48000, 2), NOT_SUPP);
    assert_eq!(r.set_params(9, 0, S16, R48000, 2), BAD_MSG);
    // Lifecycle out of order.
    assert_eq!(r.pcm(PREPARE, OUT), BAD_MSG);
    assert_eq!(r.pcm(START, OUT), BAD_MSG);
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 2), OK);
    assert_eq!(r.pcm(START, OUT), BAD_MSG);
    assert_eq!(r.pcm(STOP, OUT), BAD_MSG);
    assert_eq!(r.pcm(RELEASE, OUT), BAD_MSG);
    assert_eq!(r.pcm(PREPARE, OUT), OK);
    assert_eq!(r.pcm(STOP, OUT), BAD_MSG);
    assert_eq!(r.pcm(START, OUT), OK);
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 2), BAD_MSG);
    assert_eq!(r.pcm(RELEASE, OUT), BAD_MSG);
    assert_eq!(r.pcm(STOP, OUT), OK);
    assert_eq!(r.pcm(RELEASE, OUT), OK);
    // Controls.
    assert_eq!(r.status(&words(&[CTL_READ, 99])), BAD_MSG);
    assert_eq!(r.ctl_write(1, 101), BAD_MSG);
    assert_eq!(r.ctl_write(0, 3), BAD_MSG, "enum has 3 items");
    assert_eq!(r.status(&words(&[CTL_ENUM_ITEMS, 1])), BAD_MSG);
    assert_eq!(r.status(&words(&[CTL_TLV_READ, 0])), NOT_SUPP);
    assert_eq!(r.status(&words(&[CTL_TLV_WRITE, 1, 0, 0])), NOT_SUPP);
    assert_eq!(r.status(&words(&[CTL_TLV_COMMAND, 1])), NOT_SUPP);
    // I/O errors: wrong stream, not prepared.
    let head = r.h.submit(TXQ, &words(&[IN, 0]), 8).unwrap();
    let c = r.h.wait_for(TXQ, head, Duration::from_secs(2)).unwrap();
    assert_eq!(c.data, words(&[BAD_MSG, 0]));
    let head = r.tx(&period(0));
    let c = r.h.wait_for(TXQ, head, Duration::from_secs(2)).unwrap();
    assert_eq!(c.data, words(&[BAD_MSG, 0]), "released stream refuses I/O");
    // The device still serves.
    assert_eq!(r.pcm(PREPARE, OUT), OK);
}

fn controls_read_write_enum_tlv_and_notify(t: Transport) {
    let mut r = rig(t);
    for _ in 0..2 {
        r.h.submit(EVENTQ, &[], 8).unwrap();
    }
    let e = r.ctl(&words(&[CTL_ENUM_ITEMS, 0]), 4 + 3 * 64);
    assert_eq!((le32(&e, 0), e[4], e[68], e[132]), (OK, b'A', b'B', b'C'));
    let v = r.ctl(&words(&[CTL_READ, 1]), 516);
    assert_eq!((le32(&v, 0), le32(&v, 4)), (OK, 100));
    assert_eq!(r.ctl_write(1, 60), OK);
    let ev = r.wait(EVENTQ, 1, Duration::from_secs(2));
    assert_eq!(
        ev[0].1.data,
        [0x00, 0x12, 0, 0, 1, 0, 1, 0],
        "EVT_CTL_NOTIFY value"
    );
    assert_eq!(le32(&r.ctl(&words(&[CTL_READ, 1]), 516), 4), 60);
    let t = r.ctl(&words(&[CTL_TLV_READ, 1]), 4096);
    assert_eq!(t[4..].to_vec(), words(&[1, 8, (-5000i32) as u32, 0x10032]));
}

fn playback_is_paced_driver_side_and_sample_exact(t: Transport) {
    let mut r = rig(t);
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 2), OK);
    assert_eq!(r.pcm(PREPARE, OUT), OK);
    let total = 100; // one second
    let mut sent = Vec::new();
    for k in 0..PERIODS {
        let d = period(k as u8);
        r.tx(&d);
        sent.extend_from_slice(&d);
    }
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        r.h.poll_completions(TXQ).unwrap().is_empty(),
        "nothing completes before START"
    );
    let t0 = Instant::now();
    assert_eq!(r.pcm(START, OUT), OK);
    let mut next = PERIODS;
    let mut times = Vec::new();
    while times.len() < total {
        for (at, c) in r.wait(TXQ, 1, Duration::from_secs(2)) {
            assert_eq!(c.data, words(&[OK, 0]));
            times.push(at);
            if next < total {
                let d = period(next as u8);
                r.tx(&d);
                sent.extend_from_slice(&d);
                next += 1;
            }
        }
    }
    // No period may complete early: the k-th is due 10 ms x (k+1) after START.
    let due = |k: usize| Duration::from_millis(10 * (k as u64 + 1));
    for (k, at) in times.iter().enumerate() {
        assert!(
            *at - t0 + Duration::from_millis(2) >= due(k),
            "period {k} completed after {:?}",
            *at - t0
        );
    }
    // Nor late, beyond what a busy host's scheduling adds now and then: a device running
    // slow drifts further behind with every period, which moves the median, while a
    // stalled test thread only delays a few completions (which then come back to back).
    let mut late: Vec<Duration> = times
        .iter()
        .enumerate()
        .map(|(k, at)| (*at - t0).saturating_sub(due(k)))
        .collect();
    late.sort_unstable();
    let median = late[total / 2];
    assert!(
        median <= Duration::from_millis(20),
        "periods complete {median:?} late (median): the stream runs slow"
    );
    assert_eq!(*r.played.lock().unwrap(), sent);
}

fn capture_is_paced_and_filled_from_the_source(t: Transport) {
    let mut r = rig(t);
    assert_eq!(r.set_params(IN, 0, S16, R48000, 2), OK);
    assert_eq!(r.pcm(PREPARE, IN), OK);
    for _ in 0..4 {
        r.h.submit(RXQ, &IN.to_le_bytes(), (PERIOD + 8) as u32)
            .unwrap();
    }
    let t0 = Instant::now();
    assert_eq!(r.pcm(START, IN), OK);
    let got = r.wait(RXQ, 4, Duration::from_secs(2));
    // Paced: four 10 ms periods are not captured before 40 ms have passed. (How soon after
    // that they arrive depends on the host's load; the playback test checks the rate.)
    let elapsed = got[3].0 - t0;
    assert!(
        elapsed >= Duration::from_millis(38),
        "4 periods took {elapsed:?}"
    );
    let params = PcmParams {
        format: SampleFormat::S16,
        rate: 48000,
        channels: 2,
        period_bytes: PERIOD as u32,
        buffer_bytes: (PERIODS * PERIOD) as u32,
    };
    let tone = ToneCapture::new(1000.0, 0.25);
    let mut data = Vec::new();
    for (_, c) in &got {
        assert_eq!(c.data.len(), PERIOD + 8);
        assert_eq!(&c.data[PERIOD..], &words(&[OK, 0])[..]);
        data.extend_from_slice(&c.data[..PERIOD]);
    }
    assert_eq!(data, tone.expected(&params, 0, 4 * PERIOD / 4));
}

fn underrun_is_reported_on_the_event_queue(t: Transport) {
    let mut r = rig(t);
    for _ in 0..2 {
        r.h.submit(EVENTQ, &[], 8).unwrap();
    }
    assert_eq!(r.set_params(OUT, EVT_XRUNS, S16, R48000, 2), OK);
    assert_eq!(r.pcm(PREPARE, OUT), OK);
    r.tx(&period(1));
    let t0 = Instant::now();
    assert_eq!(r.pcm(START, OUT), OK);
    r.wait(TXQ, 1, Duration::from_secs(2));
    let ev = r.wait(EVENTQ, 1, Duration::from_secs(2));
    assert_eq!(
        ev[0].1.data,
        words(&[0x1101, OUT]),
        "EVT_PCM_XRUN for stream 0"
    );
    // The queue ran dry at 10 ms; the underrun is declared one period later.
    assert!(
        ev[0].0 - t0 >= Duration::from_millis(19),
        "xrun after {:?}",
        ev[0].0 - t0
    );
}

fn stop_holds_and_release_returns_every_buffer(t: Transport) {
    let mut r = rig(t);
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 2), OK);
    assert_eq!(r.pcm(PREPARE, OUT), OK);
    let heads: Vec<u16> = (0..4).map(|k| r.tx(&period(k))).collect();
    assert_eq!(r.pcm(START, OUT), OK);
    let first = r.wait(TXQ, 1, Duration::from_secs(2));
    assert_eq!(first[0].1.head, heads[0]);
    assert_eq!(r.pcm(STOP, OUT), OK);
    // On a busy host more periods may have elapsed before the device got the STOP (even
    // in the batch that brought the first one back): they are played, and count.
    let mut back: Vec<u16> = first[1..].iter().map(|(_, c)| c.head).collect();
    back.extend(r.h.poll_completions(TXQ).unwrap().iter().map(|c| c.head));
    std::thread::sleep(Duration::from_millis(60));
    let held = r.h.poll_completions(TXQ).unwrap();
    assert!(
        held.len() <= 1,
        "STOP holds queued buffers ({} came back)",
        held.len()
    );
    assert_eq!(r.pcm(RELEASE, OUT), OK);
    back.extend(held.iter().map(|c| c.head));
    while back.len() < 3 {
        back.extend(
            r.wait(TXQ, 1, Duration::from_secs(2))
                .iter()
                .map(|(_, c)| c.head),
        );
    }
    back.sort_unstable();
    let mut want = heads[1..].to_vec();
    want.sort_unstable();
    assert_eq!(back, want, "every outstanding buffer is returned");
    // Each buffer came back once: nothing more arrives.
    std::thread::sleep(Duration::from_millis(30));
    assert!(r.h.poll_completions(TXQ).unwrap().is_empty());
}

fn jack_events_reach_the_driver(t: Transport) {
    let mut r = rig(t);
    r.h.submit(EVENTQ, &[], 8).unwrap();
    r.h.submit(EVENTQ, &[], 8).unwrap();
    r.jacks.set_jack_connected(0, false);
    let ev = r.wait(EVENTQ, 1, Duration::from_secs(2));
    assert_eq!(ev[0].1.data, words(&[0x1001, 0]));
    r.jacks.set_jack_connected(0, true);
    let ev = r.wait(EVENTQ, 1, Duration::from_secs(2));
    assert_eq!(ev[0].1.data, words(&[0x1000, 0]));
    let j = r.ctl(&words(&[JACK_INFO, 0, 1, 24]), 28);
    assert_eq!(j[20], 1);
}

fn exclusive_start_failure_is_io_err_over_the_wire(t: Transport) {
    // A backend that refuses START (as an exclusive output held by another guest does).
    struct Held;
    impl PcmPlayback for Held {
        fn describe(&self) -> String {
            "held".into()
        }
        fn open(&mut self, _p: &PcmParams) -> Result<(), PcmError> {
            Ok(())
        }
        fn start(&mut self) -> Result<(), PcmError> {
            Err(PcmError::Busy {
                output: "amp".into(),
                owner: "vm1".into(),
            })
        }
        fn write(&mut self, _d: &[u8]) -> Result<(), PcmError> {
            Ok(())
        }
        fn close(&mut self) {}
    }
    let topo = SoundTopology {
        device: "x".into(),
        jacks: vec![],
        streams: vec![StreamSpec {
            name: "Master".into(),
            hda_fn_nid: 0,
            formats: vec![SampleFormat::S16],
            rates: vec![48000],
            channels_min: 2,
            channels_max: 2,
            backend: StreamBackend::Playback(Box::new(Held)),
        }],
        chmaps: vec![],
        controls: vec![],
    };
    let (h, server) = serve_device(
        t,
        "x",
        Box::new(SoundDevice::new(topo)),
        4,
        &HarnessOptions::default(),
    );
    let mut r = Rig {
        h,
        played: Arc::new(Mutex::new(Vec::new())),
        jacks: SoundHandle::default(),
        _server: server,
    };
    assert_eq!(
        r.h.acked_features() & 1,
        0,
        "no controls, no VIRTIO_SND_F_CTLS"
    );
    assert_eq!(r.set_params(OUT, 0, S16, R48000, 2), OK);
    assert_eq!(r.pcm(PREPARE, OUT), OK);
    assert_eq!(r.pcm(START, OUT), IO_ERR);
    assert_eq!(r.status(&words(&[CTL_INFO, 0, 1, 96])), NOT_SUPP);
}
