//! Byte-level tests of the power (0x11), performance (0x13), sensor (0x15) and reset (0x16)
//! protocols through the virtio-scmi device.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{call_all, words, Sink};
use crate::devices::scmi::grant::Grant;
use crate::devices::scmi::perf::PerfProtocol;
use crate::devices::scmi::power::PowerProtocol;
use crate::devices::scmi::reset::ResetProtocol;
use crate::devices::scmi::sensor::SensorProtocol;
use crate::devices::scmi::*;
use crate::hw::perf::{Opp, PerfDesc, SharedPerf, SimPerf};
use crate::hw::power::{SharedPower, SimPower};
use crate::hw::reset::{ResetDesc, SharedResets, SimReset};
use crate::hw::sensor::{SensorDesc, SharedSensors, SimSensors, SimSource};

const SUCCESS: u32 = 0;
const NOT_SUPPORTED: u32 = -1i32 as u32;
const INVALID_PARAMETERS: u32 = -2i32 as u32;
const DENIED: u32 = -3i32 as u32;
const NOT_FOUND: u32 = -4i32 as u32;
const OUT_OF_RANGE: u32 = -5i32 as u32;
const PROTOCOL_ERROR: u32 = -10i32 as u32;

struct NoWake;
impl Wake for NoWake {
    fn wake(&self) {}
}

struct Platform {
    power: Arc<SharedPower>,
    perf: Arc<SharedPerf>,
    resets: Arc<SharedResets>,
    sensors: Arc<SharedSensors>,
}

fn platform(temp: SimSource) -> Platform {
    let power = SharedPower::new(Box::new(SimPower::new(vec![
        ("gpu".into(), false),
        ("modem".into(), true),
        ("display-subsystem-power-domain".into(), false),
    ])));
    let opp = |level, freq_khz| Opp {
        level,
        power_uw: level * 10,
        latency_us: 30,
        freq_khz,
    };
    let perf = SharedPerf::new(Box::new(SimPerf::new(vec![PerfDesc {
        name: "cpu-big".into(),
        opps: (1..=12).map(|i| opp(i * 100, i * 200_000)).collect(),
        initial_level: 100,
    }])));
    let resets = SharedResets::new(Box::new(SimReset::new(vec![
        ResetDesc {
            name: "usb".into(),
            latency_us: Some(50),
        },
        ResetDesc {
            name: "ufs".into(),
            latency_us: None,
        },
    ])));
    let sensors = SharedSensors::new(Box::new(SimSensors::new(vec![
        (
            SensorDesc {
                name: "soc-thermal".into(),
                sensor_type: 2,
                scale: -3,
                update_interval_s: 1,
                range: (-40_000, 125_000),
            },
            temp,
        ),
        (
            SensorDesc {
                name: "battery-voltage".into(),
                sensor_type: 5,
                scale: -6,
                update_interval_s: 5,
                range: (0, 5_000_000),
            },
            SimSource::Fixed(3_900_000),
        ),
    ])));
    for (id, name) in [(1, "vm0"), (2, "vm1")] {
        power.attach(id, name);
        perf.attach(id, name);
        resets.attach(id, name);
    }
    Platform {
        power: Arc::new(power),
        perf: Arc::new(perf),
        resets: Arc::new(resets),
        sensors: Arc::new(sensors),
    }
}

fn g(hw: usize, control: bool) -> Grant {
    Grant { hw, control }
}

/// Agent `agent` sees power domains gpu (control), modem (read-only), display (control);
/// perf cpu-big; resets usb (control) and ufs (read-only); both sensors (thermal control).
fn device(p: &Platform, agent: u32) -> ScmiDevice {
    let view = AgentView {
        device: "vm-scmi".into(),
        agents: vec!["vm0".into(), "vm1".into()],
        agent_id: agent,
        max_message_len: 128,
    };
    let protocols: Vec<Box<dyn Protocol>> = vec![
        Box::new(PowerProtocol::new(
            p.power.clone(),
            agent,
            vec![g(0, true), g(1, false), g(2, true)],
        )),
        Box::new(PerfProtocol::new(p.perf.clone(), agent, vec![g(0, true)])),
        Box::new(ResetProtocol::new(
            p.resets.clone(),
            agent,
            vec![g(0, true), g(1, false)],
        )),
        Box::new(SensorProtocol::new(
            p.sensors.clone(),
            agent,
            vec![g(0, true), g(1, false)],
        )),
    ];
    let mut dev = ScmiDevice::new(SocIdentity::default(), view, protocols);
    dev.activate(1 << VIRTIO_SCMI_F_P2A_CHANNELS, Arc::new(NoWake));
    dev
}

fn hdr(protocol: u32, msg: u32) -> u32 {
    msg | (protocol << 10) | (7 << 18)
}

/// Sends a command; returns (status, return values, P2A messages caused).
fn send(
    dev: &mut ScmiDevice,
    protocol: u32,
    msg: u32,
    params: &[u32],
    room: usize,
) -> (u32, Vec<u32>, Vec<Vec<u32>>) {
    let mut w = vec![hdr(protocol, msg)];
    w.extend_from_slice(params);
    let data: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut all = call_all(dev, &data, room).into_iter().map(|b| words(&b));
    let r = all.next().unwrap_or_default();
    assert_eq!(r[0], hdr(protocol, msg), "header echoed");
    (r[1], r[2..].to_vec(), all.collect())
}

fn ask(dev: &mut ScmiDevice, protocol: u32, msg: u32, params: &[u32]) -> (u32, Vec<u32>) {
    let (s, r, _) = send(dev, protocol, msg, params, 128);
    (s, r)
}

fn st(dev: &mut ScmiDevice, protocol: u32, msg: u32, params: &[u32]) -> u32 {
    ask(dev, protocol, msg, params).0
}

fn post_eventq(dev: &mut ScmiDevice) -> Option<Vec<u32>> {
    let mut sink = Sink(Vec::new());
    let token = Token {
        queue: EVENTQ,
        head: 3,
        generation: 0,
        writable: vec![],
    };
    dev.handle(
        Request {
            token,
            data: vec![],
            writable_len: 64,
        },
        &mut sink,
    );
    // The transport polls the device after every event, as the waker would.
    dev.poll(Instant::now(), &mut sink);
    sink.0.first().map(|(_, b)| words(b))
}

fn name_at(words_: &[u32], at: usize, len: usize) -> String {
    let bytes: Vec<u8> = words_[at..at + len / 4]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

const POWER: u32 = 0x11;
const PERF: u32 = 0x13;
const SENSOR: u32 = 0x15;
const RESET: u32 = 0x16;
const ON: u32 = 0;
const OFF: u32 = 1 << 30;

#[test]
fn base_lists_every_protocol() {
    let p = platform(SimSource::Fixed(0));
    let mut dev = device(&p, 1);
    assert_eq!(ask(&mut dev, 0x10, 1, &[]).1, [(2 << 8) | 4]);
    assert_eq!(ask(&mut dev, 0x10, 6, &[0]).1, [4, 0x1615_1311]);
    for (proto, version) in [
        (POWER, 0x30000),
        (PERF, 0x30000),
        (SENSOR, 0x30000),
        (RESET, 0x30000),
    ] {
        assert_eq!(ask(&mut dev, proto, 0, &[]), (SUCCESS, vec![version]));
        assert_eq!(st(&mut dev, proto, 0x10, &[version]), SUCCESS);
        assert_eq!(st(&mut dev, proto, 0x10, &[version + 1]), NOT_SUPPORTED);
    }
    assert_eq!(
        st(&mut dev, 0x12, 0, &[]),
        NOT_SUPPORTED,
        "system power is not served"
    );
}

#[test]
fn power_domains() {
    let p = platform(SimSource::Fixed(0));
    let mut dev = device(&p, 1);
    assert_eq!(ask(&mut dev, POWER, 1, &[]).1, [3, 0, 0, 0]);
    for m in [3, 4, 5, 6, 8] {
        assert_eq!(ask(&mut dev, POWER, 2, &[m]), (SUCCESS, vec![0]), "msg {m}");
    }
    for m in [7, 9] {
        assert_eq!(st(&mut dev, POWER, 2, &[m]), NOT_FOUND);
    }
    let (s, r) = ask(&mut dev, POWER, 3, &[0]);
    assert_eq!(
        (s, r[0], name_at(&r, 1, 16)),
        (SUCCESS, 0xa800_0000, "gpu".into())
    );
    assert_eq!(st(&mut dev, POWER, 3, &[3]), NOT_FOUND);
    let (_, r) = ask(&mut dev, POWER, 8, &[2]);
    assert_eq!(
        (r[0], name_at(&r, 1, 64)),
        (0, "display-subsystem-power-domain".into())
    );
    assert_eq!(ask(&mut dev, POWER, 5, &[0]).1, [OFF]);
    assert_eq!(ask(&mut dev, POWER, 5, &[1]).1, [ON]);
    assert_eq!(st(&mut dev, POWER, 4, &[0, 0, ON]), SUCCESS);
    assert_eq!(ask(&mut dev, POWER, 5, &[0]).1, [ON]);
    assert_eq!(
        st(&mut dev, POWER, 4, &[0, 1, OFF]),
        DENIED,
        "modem is read-only"
    );
    assert_eq!(st(&mut dev, POWER, 4, &[0, 0, 5]), INVALID_PARAMETERS);
    assert_eq!(
        st(&mut dev, POWER, 4, &[1, 0, OFF]),
        NOT_SUPPORTED,
        "no async"
    );
    assert_eq!(st(&mut dev, POWER, 4, &[2, 0, OFF]), INVALID_PARAMETERS);
    assert_eq!(st(&mut dev, POWER, 4, &[0, 9, OFF]), NOT_FOUND);
    assert_eq!(st(&mut dev, POWER, 4, &[0, 0]), PROTOCOL_ERROR);
    assert_eq!(st(&mut dev, POWER, 5, &[0, 0]), PROTOCOL_ERROR);
}

#[test]
fn power_notifications_follow_subscription_and_sharing() {
    let p = platform(SimSource::Fixed(0));
    let mut vm0 = device(&p, 1);
    let mut vm1 = device(&p, 2);
    assert_eq!(post_eventq(&mut vm0), None);
    assert_eq!(st(&mut vm1, POWER, 4, &[0, 0, ON]), SUCCESS);
    let mut sink = Sink(Vec::new());
    vm0.poll(Instant::now(), &mut sink);
    assert!(sink.0.is_empty(), "not subscribed");
    assert_eq!(st(&mut vm0, POWER, 6, &[0, 1]), SUCCESS);
    assert_eq!(
        st(&mut vm0, POWER, 4, &[0, 0, ON]),
        SUCCESS,
        "already on: no change"
    );
    assert_eq!(st(&mut vm1, POWER, 4, &[0, 0, OFF]), SUCCESS);
    assert_eq!(ask(&mut vm1, POWER, 5, &[0]).1, [ON], "vm0 still wants it");
    // vm0's own command turns it off: the notification fills the held buffer at once.
    let (s, _, ev) = send(&mut vm0, POWER, 4, &[0, 0, OFF], 128);
    let n = (3 << 8) | (POWER << 10);
    assert_eq!((s, ev), (SUCCESS, vec![vec![n, 1, 0, OFF]]));
    assert_eq!(st(&mut vm0, POWER, 6, &[0, 3]), INVALID_PARAMETERS);
    assert_eq!(st(&mut vm0, POWER, 6, &[5, 1]), NOT_FOUND);
}

#[test]
fn perf_levels_limits_and_paging() {
    let p = platform(SimSource::Fixed(0));
    let mut dev = device(&p, 1);
    assert_eq!(ask(&mut dev, PERF, 1, &[]).1, [(1 << 17) | 1, 0, 0, 0]);
    for m in 3..=0xa {
        assert_eq!(st(&mut dev, PERF, 2, &[m]), SUCCESS, "msg {m}");
    }
    assert_eq!(st(&mut dev, PERF, 2, &[0xb]), NOT_FOUND, "no fast channels");
    assert_eq!(st(&mut dev, PERF, 2, &[0xc]), SUCCESS);
    let (s, r) = ask(&mut dev, PERF, 3, &[0]);
    assert_eq!(s, SUCCESS);
    assert_eq!(r[..4], [0xf400_0000, 0, 2_400_000, 1200]);
    assert_eq!(name_at(&r, 4, 16), "cpu-big");
    // 12 levels of 12 bytes; a 64-byte buffer holds 4 per reply.
    let (s, r, _) = send(&mut dev, PERF, 4, &[0, 0], 8 + 4 + 4 * 12 + 4);
    assert_eq!((s, r[0]), (SUCCESS, (8 << 16) | 4));
    assert_eq!(r[1..4], [100, 1000, 30]);
    let (_, r, _) = send(&mut dev, PERF, 4, &[0, 8], 8 + 4 + 4 * 12);
    assert_eq!(r[0], 4);
    assert_eq!(r[10..13], [1200, 12000, 30]);
    assert_eq!(st(&mut dev, PERF, 4, &[0, 13]), INVALID_PARAMETERS);
    assert_eq!(st(&mut dev, PERF, 7, &[0, 500]), SUCCESS);
    assert_eq!(ask(&mut dev, PERF, 8, &[0]).1, [500]);
    assert_eq!(st(&mut dev, PERF, 7, &[0, 550]), OUT_OF_RANGE);
    assert_eq!(st(&mut dev, PERF, 5, &[0, 400, 200]), SUCCESS);
    assert_eq!(ask(&mut dev, PERF, 6, &[0]).1, [400, 200]);
    assert_eq!(ask(&mut dev, PERF, 8, &[0]).1, [400], "clamped");
    assert_eq!(
        st(&mut dev, PERF, 7, &[0, 500]),
        OUT_OF_RANGE,
        "above the limit"
    );
    assert_eq!(st(&mut dev, PERF, 5, &[0, 200, 400]), INVALID_PARAMETERS);
    assert_eq!(st(&mut dev, PERF, 5, &[0, 2000, 100]), OUT_OF_RANGE);
    assert_eq!(st(&mut dev, PERF, 7, &[1, 100]), NOT_FOUND);
    assert_eq!(st(&mut dev, PERF, 7, &[0]), PROTOCOL_ERROR);
    assert_eq!(ask(&mut dev, PERF, 0xc, &[0]).1[0], 0);
}

#[test]
fn perf_notifications() {
    let p = platform(SimSource::Fixed(0));
    let mut vm0 = device(&p, 1);
    let mut vm1 = device(&p, 2);
    assert_eq!(st(&mut vm0, PERF, 0xa, &[0, 1]), SUCCESS);
    assert_eq!(st(&mut vm0, PERF, 9, &[0, 1]), SUCCESS);
    assert_eq!(st(&mut vm1, PERF, 7, &[0, 300]), SUCCESS);
    assert_eq!(
        post_eventq(&mut vm0),
        Some(vec![(3 << 8) | 1 | (PERF << 10), 2, 0, 300])
    );
    assert_eq!(st(&mut vm1, PERF, 5, &[0, 1200, 200]), SUCCESS);
    assert_eq!(
        post_eventq(&mut vm0),
        Some(vec![(3 << 8) | (PERF << 10), 2, 0, 1200, 200])
    );
    assert_eq!(post_eventq(&mut vm0), None);
}

#[test]
fn resets_sync_async_and_notified() {
    let p = platform(SimSource::Fixed(0));
    let mut vm0 = device(&p, 1);
    let mut vm1 = device(&p, 2);
    assert_eq!(ask(&mut vm0, RESET, 1, &[]).1, [2]);
    for m in 3..=6 {
        assert_eq!(st(&mut vm0, RESET, 2, &[m]), SUCCESS);
    }
    assert_eq!(st(&mut vm0, RESET, 2, &[7]), NOT_FOUND);
    let (_, r) = ask(&mut vm0, RESET, 3, &[0]);
    assert_eq!(
        (r[0], r[1], name_at(&r, 2, 16)),
        (0xe000_0000, 50, "usb".into())
    );
    assert_eq!(
        ask(&mut vm0, RESET, 3, &[1]).1[1],
        0x7fff_ffff,
        "latency unknown"
    );
    assert_eq!(ask(&mut vm0, RESET, 6, &[1]).1[0], 0);
    // Synchronous assert and release; autonomous reset.
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 2, 0]), SUCCESS);
    assert_eq!(p.resets.is_asserted(0), Ok(true));
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 0, 0]), SUCCESS);
    assert_eq!(p.resets.is_asserted(0), Ok(false));
    // vm1 subscribes; vm0's asynchronous reset brings vm0 a delayed response and vm1 a
    // RESET_ISSUED notification.
    assert_eq!(st(&mut vm1, RESET, 5, &[0, 1]), SUCCESS);
    assert_eq!(post_eventq(&mut vm0), None);
    assert_eq!(post_eventq(&mut vm1), None);
    let (s, _, ev) = send(&mut vm0, RESET, 4, &[0, 0b101, 0], 128);
    assert_eq!((s, ev.len()), (SUCCESS, 0), "the reset takes a while");
    let mut sink = Sink(Vec::new());
    let next = vm0.poll(Instant::now(), &mut sink).expect("a deadline");
    std::thread::sleep(next.saturating_duration_since(Instant::now()));
    vm0.poll(Instant::now(), &mut sink);
    let ev: Vec<Vec<u32>> = sink.0.drain(..).map(|(_, b)| words(&b)).collect();
    assert_eq!(ev, [vec![hdr(RESET, 4) | (2 << 8), SUCCESS, 0]]);
    vm1.poll(Instant::now(), &mut sink);
    assert_eq!(words(&sink.0[0].1), [(3 << 8) | (RESET << 10), 1, 0, 0]);
    // Errors.
    assert_eq!(st(&mut vm0, RESET, 4, &[1, 1, 0]), DENIED);
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 8, 0]), INVALID_PARAMETERS);
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 1, 1 << 31]), NOT_SUPPORTED);
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 1, 1]), INVALID_PARAMETERS);
    assert_eq!(st(&mut vm0, RESET, 4, &[2, 1, 0]), NOT_FOUND);
    assert_eq!(st(&mut vm0, RESET, 4, &[0, 1]), PROTOCOL_ERROR);
}

#[test]
fn sensor_descriptions_readings_and_config() {
    let p = platform(SimSource::Fixed(45_000));
    let mut dev = device(&p, 1);
    assert_eq!(ask(&mut dev, SENSOR, 1, &[]).1, [2, 0, 0, 0]);
    for m in [3, 4, 5, 6, 8, 9, 0xa, 0xb, 0xc] {
        assert_eq!(st(&mut dev, SENSOR, 2, &[m]), SUCCESS, "msg {m}");
    }
    assert_eq!(st(&mut dev, SENSOR, 2, &[7]), NOT_FOUND, "no axes");
    let (s, r) = ask(&mut dev, SENSOR, 3, &[0]);
    assert_eq!((s, r[0]), (SUCCESS, 2));
    // id, attributes_low (update notify, ext name, ts exp -9, ts, 4 trip points), high.
    assert_eq!(r[1..4], [0, 0x6000_5e04, (0x1d << 11) | 2]);
    assert_eq!(name_at(&r, 4, 16), "soc-thermal");
    assert_eq!(r[8..11], [1, 0x6000_5e04, (0x1a << 11) | 5]);
    // Paging: one descriptor per 40-byte buffer.
    let (_, r, _) = send(&mut dev, SENSOR, 3, &[1], 8 + 4 + 28);
    assert_eq!((r[0], r[1]), (1, 1));
    assert_eq!(st(&mut dev, SENSOR, 3, &[3]), INVALID_PARAMETERS);
    let (s, r) = ask(&mut dev, SENSOR, 6, &[0, 0]);
    assert_eq!((s, r[0], r[1]), (SUCCESS, 45_000, 0));
    assert_eq!(r.len(), 4, "value and timestamp");
    assert_eq!(ask(&mut dev, SENSOR, 6, &[1, 0]).1[0], 3_900_000);
    assert_eq!(
        st(&mut dev, SENSOR, 6, &[0, 1]),
        NOT_SUPPORTED,
        "no async reads"
    );
    assert_eq!(st(&mut dev, SENSOR, 6, &[0, 2]), INVALID_PARAMETERS);
    assert_eq!(st(&mut dev, SENSOR, 6, &[2, 0]), NOT_FOUND);
    assert_eq!(ask(&mut dev, SENSOR, 8, &[1, 0]).1, [1, 5 << 5]);
    assert_eq!(st(&mut dev, SENSOR, 8, &[1, 2]), INVALID_PARAMETERS);
    assert_eq!(ask(&mut dev, SENSOR, 9, &[0]).1, [(1 << 16) | 3]);
    assert_eq!(st(&mut dev, SENSOR, 0xa, &[0, 0]), SUCCESS);
    assert_eq!(ask(&mut dev, SENSOR, 9, &[0]).1, [1 << 16]);
    assert_eq!(st(&mut dev, SENSOR, 0xa, &[0, (1 << 16) | 3]), SUCCESS);
    assert_eq!(st(&mut dev, SENSOR, 0xa, &[0, (2 << 16) | 1]), OUT_OF_RANGE);
    assert_eq!(st(&mut dev, SENSOR, 0xa, &[0, 1 << 4]), INVALID_PARAMETERS);
    assert_eq!(st(&mut dev, SENSOR, 0xa, &[1, 1]), DENIED);
    assert_eq!(st(&mut dev, SENSOR, 5, &[1, 1, 0, 0]), DENIED);
    assert_eq!(
        st(&mut dev, SENSOR, 5, &[0, (4 << 4) | 1, 0, 0]),
        INVALID_PARAMETERS
    );
    assert_eq!(
        st(&mut dev, SENSOR, 5, &[0, 1 << 12, 0, 0]),
        INVALID_PARAMETERS
    );
    assert_eq!(st(&mut dev, SENSOR, 5, &[0, 1, 0]), PROTOCOL_ERROR);
    assert_eq!(
        name_at(&ask(&mut dev, SENSOR, 0xc, &[1]).1, 1, 64),
        "battery-voltage"
    );
}

#[test]
fn sensor_updates_and_trip_points_notify() {
    // A triangle from 20 C to 80 C over 700 ms crosses a 50 C trip point every 350 ms.
    let p = platform(SimSource::Triangle {
        min: 20_000,
        max: 80_000,
        period: Duration::from_millis(700),
    });
    let mut dev = device(&p, 1);
    let mut sink = Sink(Vec::new());
    let t0 = Instant::now();
    assert_eq!(dev.poll(t0, &mut sink), None, "nothing armed");
    assert_eq!(st(&mut dev, SENSOR, 0xb, &[0, 1]), SUCCESS);
    let (_, _, ev) = send(&mut dev, SENSOR, 0xb, &[1, 1], 128);
    assert!(ev.is_empty(), "no eventq buffer posted yet");
    let first = post_eventq(&mut dev).expect("a continuous update");
    assert_eq!(first[..3], [(3 << 8) | 1 | (SENSOR << 10), 1, 0]);
    assert_eq!(first.len(), 3 + 4);
    let next = dev
        .poll(Instant::now(), &mut sink)
        .expect("next update scheduled");
    assert!(next > Instant::now() + Duration::from_millis(500));
    // Arm a trip point on either crossing of 50 C and subscribe.
    assert_eq!(
        st(&mut dev, SENSOR, 5, &[0, (2 << 4) | 3, 50_000, 0]),
        SUCCESS
    );
    assert_eq!(st(&mut dev, SENSOR, 4, &[0, 1]), SUCCESS);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut trips = Vec::new();
    while trips.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..3 {
            if let Some(w) = post_eventq(&mut dev) {
                if w[0] == (3 << 8) | (SENSOR << 10) {
                    trips.push(w);
                }
            }
        }
    }
    assert_eq!(trips.len(), 2, "{trips:?}");
    for t in &trips {
        assert_eq!(
            (t[1], t[2], t[3] >> 4),
            (1, 0, 2),
            "agent 1, sensor 0, trip 2"
        );
    }
    assert_ne!(trips[0][3] & 1, trips[1][3] & 1, "one up, one down");
}
