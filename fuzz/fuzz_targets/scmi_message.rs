//! Fuzzes the SCMI message parser and every protocol behind it: a sequence of guest
//! commands (each with the size of the driver's response buffer) goes through the
//! dispatcher of a platform serving base, clock, power, perf, sensor and reset, with time
//! moving between commands so asynchronous work and notifications run too.
//!
//! Input: repeated [writable_len: u8][message_len: u8][message bytes].
//! Invariants checked besides "no panic": a message of 4 bytes or more always gets a
//! response that echoes its header (bits 27:0; reserved bits 31:28 are zero), carries a
//! defined status, and has no payload unless the status is SUCCESS; shorter ones get none.

#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use drivervm::devices::scmi::base::BaseProtocol;
use drivervm::devices::scmi::clock::{ClockGrant, ClockProtocol};
use drivervm::devices::scmi::grant::Grant;
use drivervm::devices::scmi::perf::PerfProtocol;
use drivervm::devices::scmi::power::PowerProtocol;
use drivervm::devices::scmi::protocol::{Dispatcher, Protocol};
use drivervm::devices::scmi::reset::ResetProtocol;
use drivervm::devices::scmi::sensor::SensorProtocol;
use drivervm::hw::clock::sim::{SimClockSpec, SimClockTree};
use drivervm::hw::clock::{ClockDesc, RateSpec, SharedClocks};
use drivervm::hw::perf::{Opp, PerfDesc, SharedPerf, SimPerf};
use drivervm::hw::power::{SharedPower, SimPower};
use drivervm::hw::reset::{ResetDesc, SharedResets, SimReset};
use drivervm::hw::sensor::{SensorDesc, SharedSensors, SimSensors, SimSource};
use drivervm::hw::soc::SocIdentity;
use libfuzzer_sys::fuzz_target;

fn clock(name: &str, rates: RateSpec, rate: u64, parents: Vec<usize>, on: bool) -> SimClockSpec {
    SimClockSpec {
        desc: ClockDesc {
            name: name.into(),
            possible_parents: parents.clone(),
            rates,
            enable_latency_us: 10,
        },
        initial_rate: rate,
        initial_parent: parents.first().copied(),
        always_on: on,
    }
}

fn platform() -> Dispatcher {
    let tree = SimClockTree::new(vec![
        clock(
            "xo",
            RateSpec::Discrete(vec![19_200_000]),
            19_200_000,
            vec![],
            true,
        ),
        clock(
            "pll",
            RateSpec::Range {
                min: 100,
                max: 1_000_000,
                step: 100,
            },
            1000,
            vec![0],
            false,
        ),
        clock(
            "mux",
            RateSpec::Discrete((1..=40).collect()),
            1,
            vec![0, 1],
            false,
        ),
        clock(
            "long-name-clock-with-many-characters-in-it-0123456789abcdefghij",
            RateSpec::Range {
                min: 5,
                max: 5,
                step: 0,
            },
            5,
            vec![2],
            false,
        ),
    ])
    .expect("valid tree");
    let clocks = Arc::new(SharedClocks::new(Box::new(tree)));
    let power = Arc::new(SharedPower::new(Box::new(SimPower::new(vec![
        ("gpu".into(), false),
        ("modem".into(), true),
    ]))));
    let opp = |level| Opp {
        level,
        power_uw: level,
        latency_us: 1,
        freq_khz: level * 10,
    };
    let perf = Arc::new(SharedPerf::new(Box::new(SimPerf::new(vec![PerfDesc {
        name: "cpu".into(),
        opps: (1..=20).map(opp).collect(),
        initial_level: 1,
    }]))));
    let resets = Arc::new(SharedResets::new(Box::new(SimReset::new(vec![
        ResetDesc {
            name: "usb".into(),
            latency_us: Some(3),
        },
    ]))));
    let sensors = Arc::new(SharedSensors::new(Box::new(SimSensors::new(vec![(
        SensorDesc {
            name: "t".into(),
            sensor_type: 2,
            scale: -3,
            update_interval_s: 1,
            range: (0, 100),
        },
        SimSource::Triangle {
            min: 0,
            max: 100,
            period: Duration::from_millis(50),
        },
    )]))));
    for (id, name) in [(1, "vm0"), (2, "vm1")] {
        clocks.attach(id, name);
        power.attach(id, name);
        perf.attach(id, name);
        resets.attach(id, name);
    }
    let g = |hw, control| Grant { hw, control };
    let clock_grants = [(2, true), (0, false), (1, true), (3, true)]
        .into_iter()
        .map(|(clock, control)| ClockGrant { clock, control })
        .collect();
    let protocols: Vec<Box<dyn Protocol>> = vec![
        Box::new(BaseProtocol::new(
            SocIdentity::default(),
            vec!["vm0".into(), "vm1".into()],
            1,
            vec![0x11, 0x13, 0x14, 0x15, 0x16],
        )),
        Box::new(ClockProtocol::new(clocks, 1, clock_grants)),
        Box::new(PowerProtocol::new(power, 1, vec![g(0, true), g(1, false)])),
        Box::new(PerfProtocol::new(perf, 1, vec![g(0, true)])),
        Box::new(SensorProtocol::new(sensors, 1, vec![g(0, true)])),
        Box::new(ResetProtocol::new(resets, 1, vec![g(0, true)])),
    ];
    Dispatcher::new(protocols)
}

fuzz_target!(|data: &[u8]| {
    let mut d = platform();
    let mut now = Instant::now();
    let mut rest = data;
    while let [writable, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (message, after) = tail.split_at(len);
        rest = after;
        let writable = usize::from(*writable);
        match d.process(message, writable) {
            None => assert!(message.len() < 4, "a header always gets an answer"),
            Some(reply) => {
                assert!(message.len() >= 4);
                assert!(reply.len() >= 8);
                // Bits 27:0 are echoed; the reserved bits 31:28 are not carried over.
                let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                assert_eq!(word(&reply) & 0x0fff_ffff, word(message) & 0x0fff_ffff);
                assert_eq!(word(&reply) >> 28, 0, "reserved bits zero");
                let status = i32::from_le_bytes([reply[4], reply[5], reply[6], reply[7]]);
                assert!((-11..=0).contains(&status), "status {status}");
                if status != 0 {
                    assert_eq!(reply.len(), 8, "errors carry no payload");
                }
                assert!(reply.len() <= 8 + 4 + 64 + 8 * 0xfff, "bounded reply");
            }
        }
        now += Duration::from_millis(7);
        let mut out = Vec::new();
        for p in d.protocols_mut() {
            p.poll(now, &mut out);
        }
        for m in &out {
            assert!(
                m.len() >= 4 && m.len() <= 128,
                "P2A message of {} bytes",
                m.len()
            );
        }
    }
});
