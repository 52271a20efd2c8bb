//! virtio-radio long operations over both transports (vhost-user and the Gunyah
//! simulator): asynchronous TUNE_COMPLETE events bounded by the configured tuner timing, one
//! operation at a time (BUSY), CANCEL, band edges and channel spacing, seek, and RDS
//! arriving as events while tuned.

mod support;

use std::time::{Duration, Instant};

use drivervm::devices::radio::constants::*;
use drivervm::devices::radio::rds::{RdsBlock, RdsDecoder};
use drivervm::devices::radio::wire::*;
use drivervm::harness::HarnessOptions;
use support::radio::*;
use support::transport::{Served, Transport};

over_both_transports!(
    tune_completes_with_an_event_after_the_configured_latency,
    a_second_operation_is_busy_and_leaves_the_first_alone,
    cancel_ends_the_pending_operation_with_cancelled_before_answering,
    band_edges_and_spacing_are_enforced,
    seek_finds_the_next_received_station_wrapping_unless_told_not_to,
    rds_updates_arrive_as_program_info_events_while_tuned,
    raw_rds_blocks_come_only_when_negotiated_and_decode_to_the_station,
    force_mono_clears_stereo_in_program_info,
    program_list_sweep_reports_every_received_station_then_completes,
    a_tune_ends_the_sweep_and_a_start_during_an_operation_waits_for_it,
);

fn session(t: Transport) -> (Served, Radio) {
    let svc = Served::start(t, RADIO_CONFIG);
    let r = Radio::connect(&svc, &HarnessOptions::default());
    (svc, r)
}

fn tune_completes_with_an_event_after_the_configured_latency(t: Transport) {
    let (_svc, mut r) = session(t);
    let sent = Instant::now();
    let op = r.start(&tune(89100));
    let answered = sent.elapsed();
    assert!(
        answered < Duration::from_millis(TUNE_MS),
        "the request is answered before the tuner locks ({answered:?})"
    );
    let (status, info, _) = r.completion(op, Duration::from_secs(2));
    let locked = sent.elapsed();
    assert!(
        locked >= Duration::from_millis(TUNE_MS),
        "no lock before the tuner's latency ({locked:?})"
    );
    assert!(locked < Duration::from_millis(TUNE_MS + 500), "{locked:?}");
    assert_eq!(status, S_OK);
    assert_eq!(info.frequency_khz, 89100);
    assert_eq!(info.band, 0);
    assert_eq!(info.signal_quality, 80);
    assert_eq!(info.info_flags, INFO_LIVE | INFO_TUNABLE | INFO_STEREO);
    assert_eq!(info.rds_fields, 0, "RDS is forgotten on a retune");
    // AM works the same way and says which band it is in.
    let op = r.start(&tune(1008));
    let (status, info, _) = r.completion(op, Duration::from_secs(2));
    assert_eq!((status, info.band), (S_OK, 1));
    assert_eq!(info.info_flags, INFO_LIVE | INFO_TUNABLE, "mono station");
}

fn a_second_operation_is_busy_and_leaves_the_first_alone(t: Transport) {
    let (_svc, mut r) = session(t);
    let op = r.start(&tune(89100));
    assert_eq!(r.status(&tune(101700)), S_BUSY);
    assert_eq!(r.status(&seek(SEEK_F_UP)), S_BUSY);
    assert_eq!(r.status(&step(STEP_F_UP)), S_BUSY);
    // Form and values are checked before state: an off-grid tune is INVALID_ARGUMENTS.
    assert_eq!(r.status(&tune(89150)), S_INVALID_ARGUMENTS);
    let (status, info, others) = r.completion(op, Duration::from_secs(2));
    assert_eq!((status, info.frequency_khz), (S_OK, 89100));
    assert!(
        others
            .iter()
            .all(|e| !matches!(e, Event::TuneComplete { .. })),
        "BUSY requests start nothing: {others:?}"
    );
    // Once complete, the next operation is accepted.
    let next = r.start(&tune(101700));
    assert_eq!(next, op + 1);
}

fn cancel_ends_the_pending_operation_with_cancelled_before_answering(t: Transport) {
    let (_svc, mut r) = session(t);
    let first = r.start(&tune(89100));
    r.completion(first, Duration::from_secs(2));
    // A seek down from 89.1 MHz finds nothing until it wraps: long enough to cancel.
    let op = r.start(&seek(0));
    let cancelled = r.ask(&ControlRequest::Cancel);
    assert_eq!(cancelled.body, ResponseBody::Op(OpResponse { op_id: op }));
    // The event was queued before the answer, so it is there at once.
    let (flags, ev) = r
        .next_event(Duration::from_millis(20))
        .expect("TUNE_COMPLETE queued before CANCEL was answered");
    assert_eq!(flags, 0);
    match ev {
        Event::TuneComplete {
            op_id,
            status,
            info,
        } => {
            assert_eq!((op_id, status), (op, S_CANCELLED));
            assert_eq!(info.frequency_khz, 89100, "back where it started");
        }
        e => panic!("{e:?}"),
    }
    // Nothing pending any more: CANCEL answers 0, and the seek never completes.
    assert_eq!(
        r.ask(&ControlRequest::Cancel).body,
        ResponseBody::Op(OpResponse { op_id: 0 })
    );
    let later = r.events_for(Duration::from_millis(800));
    assert!(
        later
            .iter()
            .all(|(_, e)| !matches!(e, Event::TuneComplete { .. })),
        "{later:?}"
    );
    assert_eq!(r.program().unwrap().frequency_khz, 89100);
    // And a new operation runs normally.
    let op = r.start(&tune(101700));
    assert_eq!(r.completion(op, Duration::from_secs(2)).0, S_OK);
}

fn band_edges_and_spacing_are_enforced(t: Transport) {
    let (_svc, mut r) = session(t);
    for khz in [87400, 108100, 87550, 98765, 530, 1603, 1000, 0, u32::MAX] {
        assert_eq!(r.status(&tune(khz)), S_INVALID_ARGUMENTS, "{khz} kHz");
    }
    // Both edges are channels.
    for khz in [87500, 108000, 531, 1602] {
        let op = r.start(&tune(khz));
        let (status, info, _) = r.completion(op, Duration::from_secs(2));
        assert_eq!((status, info.frequency_khz), (S_OK, khz));
    }
    // STEP moves one channel and wraps at the edges of the current band.
    let at = |r: &mut Radio, req: ControlRequest| {
        let op = r.start(&req);
        r.completion(op, Duration::from_secs(2)).1.frequency_khz
    };
    assert_eq!(at(&mut r, step(STEP_F_UP)), 531, "1602 + 9 wraps to 531");
    assert_eq!(at(&mut r, step(0)), 1602, "531 - 9 wraps to 1602");
    assert_eq!(at(&mut r, step(0)), 1593);
    assert_eq!(at(&mut r, tune(108000)), 108000);
    assert_eq!(at(&mut r, step(STEP_F_UP)), 87500);
    assert_eq!(at(&mut r, step(0)), 108000);
    assert_eq!(at(&mut r, step(0)), 107900);
}

fn seek_finds_the_next_received_station_wrapping_unless_told_not_to(t: Transport) {
    let (_svc, mut r) = session(t);
    // Before any tune, an upward seek starts at the bottom of the first band.
    let t = Instant::now();
    let op = r.start(&seek(SEEK_F_UP));
    let (status, info, _) = r.completion(op, Duration::from_secs(3));
    let took = t.elapsed();
    assert_eq!((status, info.frequency_khz), (S_OK, 89100));
    // 87.6 .. 89.1 MHz is 16 channels of 2 ms, then 40 ms to lock.
    let floor = Duration::from_millis(16 * DWELL_MS + TUNE_MS);
    assert!(
        took >= floor && took < floor + Duration::from_millis(500),
        "{took:?}"
    );
    assert_ne!(info.info_flags & INFO_TUNABLE, 0);
    // Up skips the weak 95.3 MHz station.
    let op = r.start(&seek(SEEK_F_UP | SEEK_F_SKIP_SUBCHANNEL));
    assert_eq!(
        r.completion(op, Duration::from_secs(3)).1.frequency_khz,
        101700
    );
    // Up again wraps past 108 MHz to 89.1 MHz.
    let op = r.start(&seek(SEEK_F_UP));
    assert_eq!(
        r.completion(op, Duration::from_secs(3)).1.frequency_khz,
        89100
    );
    // Down without wrapping finds nothing below 89.1 MHz: OK, same frequency, not tunable.
    let op = r.start(&seek(SEEK_F_NO_WRAP));
    let (status, info, _) = r.completion(op, Duration::from_secs(3));
    assert_eq!((status, info.frequency_khz), (S_OK, 89100));
    assert_eq!(info.info_flags & INFO_TUNABLE, 0, "nothing found");
    // In the AM band, seek stays in the AM band.
    let op = r.start(&tune(531));
    r.completion(op, Duration::from_secs(2));
    let op = r.start(&seek(SEEK_F_UP));
    assert_eq!(
        r.completion(op, Duration::from_secs(3)).1.frequency_khz,
        1008
    );
}

fn rds_updates_arrive_as_program_info_events_while_tuned(t: Transport) {
    let (_svc, mut r) = session(t);
    let op = r.start(&tune(101700));
    r.completion(op, Duration::from_secs(2));
    let mut last = None;
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        if let Some((_, Event::ProgramInfoChanged(info))) = r.next_event(Duration::from_secs(1)) {
            assert_eq!(info.frequency_khz, 101700);
            let done = info.rds_fields & RDS_RT != 0;
            last = Some(info);
            if done {
                break;
            }
        }
    }
    let info = last.expect("PROGRAM_INFO_CHANGED events while tuned");
    assert_eq!(info.rds_fields, RDS_PI | RDS_PTY | RDS_PS | RDS_RT);
    assert_eq!((info.pi, info.pty), (0xC203, 14));
    assert_eq!(&info.ps, b"THREE   ");
    assert_eq!(info.rt, b"Third station text");
    assert_eq!(r.program().unwrap(), info, "GET_PROGRAM_INFO agrees");
    // Retuning forgets the old station's RDS.
    let op = r.start(&tune(89100));
    let (_, info, _) = r.completion(op, Duration::from_secs(2));
    assert_eq!(info.rds_fields, 0);
    // A station without a PI sends no RDS at all.
    let op = r.start(&tune(1008));
    r.completion(op, Duration::from_secs(2));
    let evs = r.events_for(Duration::from_secs(1));
    assert!(
        evs.iter()
            .all(|(_, e)| !matches!(e, Event::ProgramInfoChanged(i) if i.rds_fields != 0)),
        "{evs:?}"
    );
}

fn raw_rds_blocks_come_only_when_negotiated_and_decode_to_the_station(t: Transport) {
    let svc = Served::start(t, RADIO_CONFIG);
    for negotiate in [false, true] {
        let opts = HarnessOptions {
            device_features: if negotiate {
                1 << VIRTIO_RADIO_F_RDS_BLOCKS
            } else {
                0
            },
            ..HarnessOptions::default()
        };
        let mut r = Radio::connect(&svc, &opts);
        let op = r.start(&tune(89100));
        r.completion(op, Duration::from_secs(2));
        let mut dec = RdsDecoder::new();
        let mut blocks = 0;
        for (_, e) in r.events_for(Duration::from_secs(3)) {
            if let Event::RdsBlocks(b) = e {
                assert!(b.len() <= RDS_BLOCKS_MAX);
                blocks += b.len();
                for raw in b {
                    dec.push(RdsBlock::from_v4l2(raw));
                }
            }
        }
        if negotiate {
            // 3 s of groups at about 11.4 groups per second, 4 blocks each.
            assert!((100..=150).contains(&blocks), "{blocks} blocks");
            let st = dec.state();
            assert_eq!(st.pi, Some(0xC201));
            assert_eq!(st.ps_text().as_deref(), Some("ONE"));
            assert_eq!(st.rt_text().as_deref(), Some("Station one"));
        } else {
            assert_eq!(blocks, 0, "RDS_BLOCKS without the feature");
        }
        r.h.disconnect().unwrap();
    }
}

fn force_mono_clears_stereo_in_program_info(t: Transport) {
    let (_svc, mut r) = session(t);
    let op = r.start(&tune(89100));
    r.completion(op, Duration::from_secs(2));
    let flag = |value| {
        ControlRequest::SetConfigFlag(ConfigFlagArgs {
            flag: FLAG_FORCE_MONO,
            value,
        })
    };
    assert_eq!(r.status(&flag(true)), S_OK);
    assert_eq!(r.program().unwrap().info_flags & INFO_STEREO, 0);
    let evs = r.events_for(Duration::from_millis(300));
    assert!(evs.iter().any(
        |(_, e)| matches!(e, Event::ProgramInfoChanged(i) if i.info_flags & INFO_STEREO == 0)
    ));
    assert_eq!(r.status(&flag(false)), S_OK);
    assert_ne!(r.program().unwrap().info_flags & INFO_STEREO, 0);
}

/// Events in arrival order until a program list COMPLETE (or `limit`).
fn events_until_complete(r: &mut Radio, limit: Duration) -> Vec<Event> {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Ok(done) = r.h.wait_completions(EVENTQ, left) else {
            break;
        };
        for c in done {
            r.give_event_buffer(EVENT_BUF_MIN as u32);
            out.push(Event::parse(&c.data).expect("event parses").1);
        }
        if out.iter().any(
            |e| matches!(e, Event::ProgramListUpdate { flags, .. } if flags & LIST_F_COMPLETE != 0),
        ) {
            break;
        }
    }
    out
}

/// The program list updates among `events`: (flags, entry frequency).
fn updates(events: &[Event]) -> Vec<(u32, Option<u32>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ProgramListUpdate { flags, entry } => Some((
                *flags,
                (flags & LIST_F_ENTRY != 0).then_some(entry.frequency_khz),
            )),
            _ => None,
        })
        .collect()
}

fn list(r: &mut Radio, limit: Duration) -> Vec<(u32, Option<u32>)> {
    updates(&events_until_complete(r, limit))
}

fn program_list_sweep_reports_every_received_station_then_completes(t: Transport) {
    let (_svc, mut r) = session(t);
    let op = r.start(&tune(89100));
    r.completion(op, Duration::from_secs(2));
    let all = ProgramFilter {
        identifier_types: 0,
        include_categories: false,
        exclude_modifications: false,
    };
    let t = Instant::now();
    assert_eq!(r.status(&ControlRequest::StartProgramList(all)), S_OK);
    // The tuned program is muted during the sweep.
    assert_ne!(r.program().unwrap().info_flags & INFO_MUTED, 0);
    let got = list(&mut r, Duration::from_secs(5));
    // 206 FM + 120 AM channels at 2 ms, then 40 ms back to 89.1 MHz.
    assert!(t.elapsed() >= Duration::from_millis(326 * DWELL_MS + TUNE_MS));
    assert_eq!(
        got,
        vec![
            (LIST_F_PURGE, None),
            (LIST_F_ENTRY, Some(89100)),
            (LIST_F_ENTRY, Some(101700)),
            (LIST_F_ENTRY | LIST_F_COMPLETE, Some(1008)),
        ],
        "the weak 95.3 MHz station is not in the list"
    );
    let info = r.program().unwrap();
    assert_eq!(info.frequency_khz, 89100, "back on the program");
    assert_eq!(info.info_flags & INFO_MUTED, 0, "and audible");

    // Only RDS PI entries asked for: none carry one, the list completes empty.
    let pi_only = ProgramFilter {
        identifier_types: 1 << ID_RDS_PI,
        ..all
    };
    assert_eq!(r.status(&ControlRequest::StartProgramList(pi_only)), S_OK);
    assert_eq!(
        list(&mut r, Duration::from_secs(5)),
        vec![(LIST_F_PURGE, None), (LIST_F_COMPLETE, None)]
    );
}

fn a_tune_ends_the_sweep_and_a_start_during_an_operation_waits_for_it(t: Transport) {
    let (_svc, mut r) = session(t);
    let all = ProgramFilter {
        identifier_types: 0,
        include_categories: false,
        exclude_modifications: false,
    };
    assert_eq!(r.status(&ControlRequest::StartProgramList(all)), S_OK);
    let op = r.start(&tune(101700));
    let (status, info, others) = r.completion(op, Duration::from_secs(2));
    assert_eq!((status, info.frequency_khz), (S_OK, 101700));
    let flags: Vec<u32> = others
        .iter()
        .filter_map(|e| match e {
            Event::ProgramListUpdate { flags, .. } => Some(*flags),
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        [LIST_F_PURGE, LIST_F_COMPLETE],
        "ended with nothing found"
    );

    // START while a seek runs: the sweep begins when the seek has finished.
    let op = r.start(&seek(SEEK_F_UP));
    assert_eq!(r.status(&ControlRequest::StartProgramList(all)), S_OK);
    let evs = events_until_complete(&mut r, Duration::from_secs(5));
    let done_at = evs
        .iter()
        .position(|e| matches!(e, Event::TuneComplete { op_id, .. } if *op_id == op))
        .expect("the seek completes");
    let purge_at = evs
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::ProgramListUpdate {
                    flags: LIST_F_PURGE,
                    ..
                }
            )
        })
        .expect("the sweep starts");
    assert!(purge_at > done_at, "{evs:?}");
    assert_eq!(updates(&evs).len(), 4, "{evs:?}");

    // STOP ends a sweep without a COMPLETE.
    assert_eq!(r.status(&ControlRequest::StartProgramList(all)), S_OK);
    assert_eq!(r.status(&ControlRequest::StopProgramList), S_OK);
    let later = r.events_for(Duration::from_secs(1));
    let updates: Vec<_> = later
        .iter()
        .filter(|(_, e)| matches!(e, Event::ProgramListUpdate { .. }))
        .collect();
    assert_eq!(updates.len(), 1, "only the PURGE: {updates:?}");
}

/// vhost-user only: the control socket is served by the `drivervm` process (its main), not
/// by the in-process service the Gunyah simulator runs.
#[test]
fn the_control_plane_shows_the_tuned_program_and_its_rds() {
    let (served, mut r) = session(Transport::VhostUser);
    let Served::VhostUser(svc) = &served else {
        unreachable!("started over vhost-user")
    };
    let op = r.start(&tune(101700));
    r.completion(op, Duration::from_secs(2));
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        if let Some((_, Event::ProgramInfoChanged(i))) = r.next_event(Duration::from_secs(1)) {
            if i.rds_fields & RDS_RT != 0 {
                break;
            }
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .args(["device", "vm0-radio"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("tuned       FM 101700 kHz\n"), "{text}");
    assert!(text.contains("signal      65%\n"), "mono station: {text}");
    assert!(
        text.contains("rds         PI C203 PS \"THREE\" PTY 14 RT \"Third station text\"\n"),
        "{text}"
    );
}
