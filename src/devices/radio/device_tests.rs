use super::*;
use crate::devices::{CompleteError, Token};
use crate::hw::tuner::sim::{SimStation, SimTuner, SimTunerConfig};

const FM: Band = Band {
    kind: BAND_FM,
    low_khz: 87500,
    high_khz: 108000,
    spacing_khz: 100,
    seek_spacing_khz: 0,
};

#[derive(Default)]
struct Sink(Vec<(u16, u16, Vec<u8>)>);

impl Completer for Sink {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.0.push((token.queue, token.head, response.to_vec()));
        Ok(())
    }
}

fn device() -> RadioDevice {
    let tuner = SimTuner::new(SimTunerConfig {
        bands: vec![FM],
        stations: vec![SimStation {
            frequency_khz: 98700,
            pi: Some(0xD3C4),
            ps: "TEST FM".into(),
            rt: "Hello".into(),
            pty: 5,
            signal: 70,
            stereo: true,
            tone_hz: 800,
        }],
        tune_latency: Duration::from_millis(40),
        seek_dwell: Duration::from_millis(2),
        signal_threshold: 25,
        audio_name: "fm0".into(),
    })
    .unwrap();
    RadioDevice::new(
        "vm0-radio",
        RadioSettings {
            device_id: 56,
            bands: vec![FM],
            fm_deemphasis: DEEMPHASIS_D50,
            snd_stream_id: SND_ID_NONE,
            snd_hda_fn_nid: 0,
            snd_jack_id: SND_ID_NONE,
        },
        Box::new(tuner),
    )
}

fn ask(d: &mut RadioDevice, req: &ControlRequest, now: Instant) -> Response {
    let r = d.control(&req.to_bytes(), req.response_len(), now);
    Response::parse(req.code(), &r.to_bytes()).unwrap()
}

fn op(r: &Response) -> u32 {
    match r.body {
        ResponseBody::Op(o) => o.op_id,
        _ => panic!("not an op response: {r:?}"),
    }
}

fn events(d: &mut RadioDevice, now: Instant) -> Vec<Event> {
    let mut sink = Sink::default();
    d.poll(now, &mut sink);
    for head in 0..70 {
        d.handle(
            Request {
                token: Token {
                    queue: EVENTQ,
                    head,
                    generation: 0,
                    writable: Vec::new(),
                },
                data: Vec::new(),
                writable_len: 256,
            },
            &mut sink,
        );
    }
    let out = sink
        .0
        .iter()
        .map(|(_, _, b)| Event::parse(b).unwrap().1)
        .collect();
    d.reset();
    out
}

#[test]
fn tune_completes_asynchronously_after_the_tuner_locks() {
    let mut d = device();
    let t0 = Instant::now();
    let r = ask(
        &mut d,
        &ControlRequest::Tune(Selector::frequency(98700)),
        t0,
    );
    assert_eq!(op(&r), 1);
    assert_eq!(
        ask(&mut d, &ControlRequest::GetProgramInfo, t0).status,
        S_INVALID_STATE
    );
    let mut sink = Sink::default();
    assert_eq!(d.poll(t0, &mut sink), Some(t0 + Duration::from_millis(40)));
    d.poll(t0 + Duration::from_millis(40), &mut sink);
    let info = match ask(&mut d, &ControlRequest::GetProgramInfo, t0).body {
        ResponseBody::ProgramInfo(i) => i,
        b => panic!("{b:?}"),
    };
    assert_eq!(info.frequency_khz, 98700);
    assert_eq!(info.signal_quality, 70);
    assert_eq!(
        info.info_flags,
        INFO_LIVE | INFO_TUNABLE | INFO_STEREO,
        "{:#x}",
        info.info_flags
    );
    let ev = events(&mut d, t0 + Duration::from_millis(40));
    assert!(matches!(
        ev[0],
        Event::TuneComplete {
            op_id: 1,
            status: S_OK,
            ..
        }
    ));
}

#[test]
fn second_operation_is_busy_and_cancel_ends_the_first() {
    let mut d = device();
    let t0 = Instant::now();
    let first = op(&ask(
        &mut d,
        &ControlRequest::Tune(Selector::frequency(98700)),
        t0,
    ));
    let seek = ControlRequest::Seek(DirectionArgs {
        flags: SEEK_F_UP,
        spacing_khz: 0,
    });
    assert_eq!(ask(&mut d, &seek, t0).status, S_BUSY);
    let step = ControlRequest::Step(DirectionArgs {
        flags: 0,
        spacing_khz: 0,
    });
    assert_eq!(ask(&mut d, &step, t0).status, S_BUSY);
    // A malformed request is refused for what it is, even while busy.
    let bad = ControlRequest::Tune(Selector::frequency(98750));
    assert_eq!(ask(&mut d, &bad, t0).status, S_INVALID_ARGUMENTS);
    assert_eq!(op(&ask(&mut d, &ControlRequest::Cancel, t0)), first);
    assert_eq!(op(&ask(&mut d, &ControlRequest::Cancel, t0)), 0);
    let ev = events(&mut d, t0 + Duration::from_secs(1));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(matches!(
        ev[0],
        Event::TuneComplete { op_id, status: S_CANCELLED, .. } if op_id == first
    ));
}

#[test]
fn operations_time_out_after_thirty_seconds() {
    let mut d = device();
    let t0 = Instant::now();
    // Seeking a band with nothing on the grid takes 206 × 2 ms: make it longer than 30 s by
    // polling only the deadline.
    let id = op(&ask(
        &mut d,
        &ControlRequest::Tune(Selector::frequency(98700)),
        t0,
    ));
    d.pending = d.pending.map(|p| Pending {
        deadline: t0 + Duration::from_millis(10),
        ..p
    });
    let ev = events(&mut d, t0 + Duration::from_millis(20));
    assert!(matches!(
        ev[0],
        Event::TuneComplete { op_id, status: S_TIMEOUT, .. } if op_id == id
    ));
}

#[test]
fn step_wraps_at_band_edges() {
    let mut d = device();
    let t0 = Instant::now();
    let mut sink = Sink::default();
    let mut at = |d: &mut RadioDevice, req: ControlRequest, t: Instant| {
        op(&ask(d, &req, t));
        d.poll(t + Duration::from_secs(1), &mut sink);
        match ask(d, &ControlRequest::GetProgramInfo, t).body {
            ResponseBody::ProgramInfo(i) => i.frequency_khz,
            b => panic!("{b:?}"),
        }
    };
    let up = || {
        ControlRequest::Step(DirectionArgs {
            flags: STEP_F_UP,
            spacing_khz: 0,
        })
    };
    let down = || {
        ControlRequest::Step(DirectionArgs {
            flags: 0,
            spacing_khz: 0,
        })
    };
    assert_eq!(
        at(
            &mut d,
            ControlRequest::Tune(Selector::frequency(108000)),
            t0
        ),
        108000
    );
    assert_eq!(at(&mut d, up(), t0), 87500);
    assert_eq!(at(&mut d, down(), t0), 108000);
    assert_eq!(at(&mut d, down(), t0), 107900);
}

#[test]
fn rds_arrives_as_program_info_changes_and_raw_blocks_when_negotiated() {
    let mut d = device();
    struct NoWake;
    impl Wake for NoWake {
        fn wake(&self) {}
    }
    d.activate(1 << VIRTIO_RADIO_F_RDS_BLOCKS, Arc::new(NoWake));
    let t0 = Instant::now();
    ask(
        &mut d,
        &ControlRequest::Tune(Selector::frequency(98700)),
        t0,
    );
    let mut sink = Sink::default();
    let mut now = t0;
    while now < t0 + Duration::from_secs(3) {
        now = d.poll(now, &mut sink).unwrap();
    }
    let info = match ask(&mut d, &ControlRequest::GetProgramInfo, now).body {
        ResponseBody::ProgramInfo(i) => i,
        b => panic!("{b:?}"),
    };
    assert_eq!(info.rds_fields, RDS_PI | RDS_PTY | RDS_PS | RDS_RT);
    assert_eq!((info.pi, info.pty), (0xD3C4, 5));
    assert_eq!(&info.ps, b"TEST FM ");
    assert_eq!(info.rt, b"Hello");
    // The control plane sees the same program.
    use crate::status::{DetailSource, DeviceDetail, RadioBand, RadioDetail, RdsDetail};
    assert_eq!(
        d.status().detail(),
        DeviceDetail::new(RadioDetail {
            band: RadioBand::Fm,
            frequency_khz: 98700,
            signal_percent: 70,
            stereo: true,
            rds: Some(RdsDetail {
                pi: 0xD3C4,
                ps: "TEST FM".into(),
                rt: "Hello".into(),
                pty: 5
            })
        })
    );
    assert!(d.status().generation() > 0);
    let ev = events(&mut d, now);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::RdsBlocks(b) if !b.is_empty())));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::ProgramInfoChanged(i) if i.rds_fields & RDS_RT != 0)));
}

#[test]
fn config_space_describes_the_sim_tuner() {
    let d = device();
    let mut b = vec![0u8; ConfigSpace::SIZE];
    d.read_config(0, &mut b);
    let c = ConfigSpace::parse(&b).unwrap();
    assert_eq!(
        c.capabilities,
        CAP_RDS | CAP_STEREO | CAP_SEEK | CAP_PROGRAM_LIST
    );
    assert_eq!(c.config_flags, 1 << FLAG_FORCE_MONO);
    assert_eq!(c.bands, vec![FM]);
    let mut tail = [0xAAu8; 8];
    d.read_config(ConfigSpace::SIZE - 4, &mut tail);
    assert_eq!(tail[4..], [0; 4], "past the end reads zero");
    assert_eq!(d.device_type(), 56);
}

#[test]
fn eventq_buffers_past_the_queue_size_are_returned_unused() {
    let mut d = device();
    let mut sink = Sink::default();
    for head in 0..(MAX_HELD_BUFFERS as u16 + 3) {
        d.handle(
            Request {
                token: Token {
                    queue: EVENTQ,
                    head,
                    generation: 0,
                    writable: Vec::new(),
                },
                data: Vec::new(),
                writable_len: 256,
            },
            &mut sink,
        );
    }
    assert_eq!(d.events.buffers(), MAX_HELD_BUFFERS);
    let returned: Vec<_> = sink.0.iter().map(|(_, h, b)| (*h, b.len())).collect();
    let extra = MAX_HELD_BUFFERS as u16;
    assert_eq!(returned, [(extra, 0), (extra + 1, 0), (extra + 2, 0)]);
    assert_eq!(d.max_writable_len(EVENTQ), MAX_WRITABLE);
    assert_eq!(d.max_writable_len(CONTROLQ), MAX_WRITABLE);
}

#[test]
fn seek_follows_a_requested_grid_of_whole_channels() {
    let t0 = Instant::now();
    let seek_on = |spacing_khz: u16| {
        let mut d = device();
        let req = ControlRequest::Seek(DirectionArgs {
            flags: SEEK_F_UP,
            spacing_khz,
        });
        let r = ask(&mut d, &req, t0);
        if r.status != S_OK {
            return Err(r.status);
        }
        let mut sink = Sink::default();
        let mut t = t0;
        for _ in 0..100 {
            t += Duration::from_millis(100);
            d.poll(t, &mut sink);
        }
        match ask(&mut d, &ControlRequest::GetProgramInfo, t).body {
            ResponseBody::ProgramInfo(i) => Ok((i.frequency_khz, i.info_flags & INFO_TUNABLE)),
            b => panic!("{b:?}"),
        }
    };
    // 98700 is 56 steps of 200 kHz above 87500, but not on a 300 kHz grid from there.
    assert_eq!(seek_on(200), Ok((98700, INFO_TUNABLE)));
    assert_eq!(seek_on(300), Ok((87500, 0)));
    assert_eq!(seek_on(150), Err(S_INVALID_ARGUMENTS));
}
