use super::*;
use crate::hw::tuner::band::BAND_FM;
use crate::hw::tuner::rds::RdsDecoder;

const FM: Band = Band {
    kind: BAND_FM,
    low_khz: 87500,
    high_khz: 108000,
    spacing_khz: 100,
    seek_spacing_khz: 0,
};

fn station(khz: u32, pi: u16, ps: &str, signal: u8, tone: u32) -> SimStation {
    SimStation {
        frequency_khz: khz,
        pi: Some(pi),
        ps: ps.into(),
        rt: format!("Now on {ps}"),
        pty: 10,
        signal,
        stereo: true,
        tone_hz: tone,
    }
}

fn tuner() -> SimTuner {
    SimTuner::new(SimTunerConfig {
        bands: vec![FM],
        stations: vec![
            station(89100, 0xC201, "ONE", 80, 500),
            station(95300, 0xC202, "WEAK", 10, 600),
            station(101700, 0xC203, "THREE", 60, 700),
        ],
        tune_latency: Duration::from_millis(50),
        seek_dwell: Duration::from_millis(5),
        signal_threshold: 25,
        audio_name: "fm0".into(),
    })
    .unwrap()
}

fn done(t: &mut SimTuner, at: Instant) -> Option<Reception> {
    let mut ev = Vec::new();
    t.poll(at, &mut ev);
    ev.into_iter().find_map(|e| match e {
        TunerEvent::Done(r) => Some(r.unwrap()),
        _ => None,
    })
}

#[test]
fn tune_locks_after_the_configured_latency_and_not_before() {
    let mut t = tuner();
    let t0 = Instant::now();
    t.tune(89100, t0).unwrap();
    assert!(t.audio().unwrap().is_muted());
    let mut ev = Vec::new();
    assert_eq!(
        t.poll(t0 + Duration::from_millis(49), &mut ev),
        Some(t0 + Duration::from_millis(50))
    );
    assert!(ev.is_empty());
    let r = done(&mut t, t0 + Duration::from_millis(50)).unwrap();
    assert_eq!(
        r,
        Reception {
            frequency_khz: 89100,
            signal: 80,
            stereo: true,
            tunable: true
        }
    );
    assert_eq!(
        t.audio().unwrap().on_air(),
        Some(Signature::station(500, true))
    );
}

#[test]
fn seek_skips_weak_stations_and_takes_dwell_per_channel() {
    let mut t = tuner();
    let t0 = Instant::now();
    let seek = SeekRequest {
        from_khz: 89100,
        up: true,
        wrap: true,
        band: FM,
    };
    t.seek(seek, t0).unwrap();
    // 89.2 .. 101.7 MHz is 126 channels of 100 kHz; 95.3 is below the threshold.
    let at = t0 + Duration::from_millis(5 * 126 + 50);
    assert_eq!(done(&mut t, at - Duration::from_millis(1)), None);
    assert_eq!(done(&mut t, at).unwrap().frequency_khz, 101700);
    // Down from 101.7 wraps nowhere: 89.1 is 126 channels below.
    t.seek(
        SeekRequest {
            up: false,
            from_khz: 101700,
            ..seek
        },
        at,
    )
    .unwrap();
    let r = done(&mut t, at + Duration::from_secs(1)).unwrap();
    assert_eq!(r.frequency_khz, 89100);
    // Up from 101.7 wraps past 108.0 to 87.5 and finds 89.1.
    t.seek(
        SeekRequest {
            from_khz: 101700,
            ..seek
        },
        at,
    )
    .unwrap();
    assert_eq!(
        done(&mut t, at + Duration::from_secs(2))
            .unwrap()
            .frequency_khz,
        89100
    );
}

#[test]
fn seek_without_wrap_or_stations_ends_where_it_started_not_tunable() {
    let mut t = tuner();
    let t0 = Instant::now();
    let seek = SeekRequest {
        from_khz: 105000,
        up: true,
        wrap: false,
        band: FM,
    };
    t.seek(seek, t0).unwrap();
    let r = done(&mut t, t0 + Duration::from_secs(2)).unwrap();
    assert_eq!((r.frequency_khz, r.tunable), (105000, false));
    assert!(t.audio().unwrap().is_muted(), "no station: silence");
}

#[test]
fn rds_is_paced_at_the_group_rate_and_decodes_to_the_station() {
    let mut t = tuner();
    let t0 = Instant::now();
    t.tune(101700, t0).unwrap();
    let lock = t0 + Duration::from_millis(50);
    assert!(done(&mut t, lock).is_some());
    let mut dec = RdsDecoder::new();
    let mut groups = 0;
    let mut ev = Vec::new();
    // 3 s of air time: about 34 groups.
    let mut now = lock;
    while now < lock + Duration::from_secs(3) {
        ev.clear();
        let next = t.poll(now, &mut ev).unwrap();
        for e in &ev {
            if let TunerEvent::Rds(b) = e {
                groups += b.len() / 4;
                for blk in b {
                    dec.push(*blk);
                }
            }
        }
        now = next;
    }
    let expected = (3.0 / RDS_GROUP_PERIOD.as_secs_f64()) as usize;
    assert!((expected - 1..=expected + 1).contains(&groups), "{groups}");
    let st = dec.state();
    assert_eq!(st.pi, Some(0xC203));
    assert_eq!(st.ps_text().as_deref(), Some("THREE"));
    assert_eq!(st.rt_text().as_deref(), Some("Now on THREE"));
}

#[test]
fn cancel_leaves_the_tuner_on_its_frequency_with_its_audio() {
    let mut t = tuner();
    let t0 = Instant::now();
    t.tune(89100, t0).unwrap();
    done(&mut t, t0 + Duration::from_secs(1)).unwrap();
    t.tune(101700, t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(t.cancel(t0 + Duration::from_secs(1)), 89100);
    assert_eq!(done(&mut t, t0 + Duration::from_secs(5)), None);
    assert_eq!(
        t.audio().unwrap().on_air(),
        Some(Signature::station(500, true))
    );
}

#[test]
fn force_mono_makes_the_audio_mono_while_the_pilot_is_still_reported() {
    let mut t = tuner();
    let t0 = Instant::now();
    t.set_force_mono(true).unwrap();
    t.tune(89100, t0).unwrap();
    let r = done(&mut t, t0 + Duration::from_secs(1)).unwrap();
    assert!(r.stereo, "the station still sends stereo");
    assert_eq!(
        t.audio().unwrap().on_air(),
        Some(Signature::station(500, false))
    );
}

#[test]
fn unencodable_rds_text_is_refused() {
    let mut cfg = SimTunerConfig {
        bands: vec![FM],
        stations: vec![station(89100, 1, "ONE", 80, 500)],
        tune_latency: Duration::ZERO,
        seek_dwell: Duration::ZERO,
        signal_threshold: 25,
        audio_name: "fm0".into(),
    };
    cfg.stations[0].ps = "日本".into();
    assert!(SimTuner::new(cfg).is_err());
}
