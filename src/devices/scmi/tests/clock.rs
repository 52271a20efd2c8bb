//! Byte-level tests of the clock protocol (DEN0056 §4.6) through the virtio-scmi device.

use std::sync::Arc;

use super::{call, call_all, call_sized, words, Sink};
use crate::devices::scmi::clock::{ClockGrant, ClockProtocol};
use crate::devices::scmi::protocol::{Call, Protocol};
use crate::devices::scmi::*;
use crate::hw::clock::sim::{SimClockSpec, SimClockTree};
use crate::hw::clock::{ClockDesc, RateSpec, SharedClocks};

const SUCCESS: u32 = 0;
const NOT_SUPPORTED: u32 = -1i32 as u32;
const INVALID_PARAMETERS: u32 = -2i32 as u32;
const DENIED: u32 = -3i32 as u32;
const NOT_FOUND: u32 = -4i32 as u32;
const OUT_OF_RANGE: u32 = -5i32 as u32;
const PROTOCOL_ERROR: u32 = -10i32 as u32;

const MHZ: u64 = 1_000_000;

struct NoWake;
impl Wake for NoWake {
    fn wake(&self) {}
}

fn spec(name: &str, rates: RateSpec, rate: u64, parents: &[usize], on: bool) -> SimClockSpec {
    SimClockSpec {
        desc: ClockDesc {
            name: name.into(),
            possible_parents: parents.to_vec(),
            rates,
            enable_latency_us: 20,
        },
        initial_rate: rate,
        initial_parent: parents.first().copied(),
        always_on: on,
    }
}

/// xo, gpll0 (range), uart_mux (discrete, two parents), sdcc_core_clk (20 rates), secret.
fn shared() -> Arc<SharedClocks> {
    let sdcc: Vec<u64> = (1..=20).map(|i| i * 10 * MHZ).collect();
    let tree = SimClockTree::new(vec![
        spec(
            "xo",
            RateSpec::Discrete(vec![19_200_000]),
            19_200_000,
            &[],
            true,
        ),
        spec(
            "gpll0",
            RateSpec::range(300 * MHZ, 1200 * MHZ, 100 * MHZ).unwrap(),
            600 * MHZ,
            &[0],
            false,
        ),
        spec(
            "uart_mux",
            RateSpec::Discrete(vec![19_200_000, 50 * MHZ, 100 * MHZ]),
            19_200_000,
            &[0, 1],
            false,
        ),
        spec(
            "sdcc_core_clk",
            RateSpec::Discrete(sdcc),
            10 * MHZ,
            &[1],
            false,
        ),
        spec("secret", RateSpec::Discrete(vec![MHZ]), MHZ, &[], false),
    ])
    .unwrap();
    let s = Arc::new(SharedClocks::new(Box::new(tree)));
    s.attach(1, "vm0");
    s.attach(2, "vm1");
    s
}

fn grants() -> Vec<ClockGrant> {
    [(2, true), (1, true), (0, false), (3, true)]
        .into_iter()
        .map(|(clock, control)| ClockGrant { clock, control })
        .collect()
}

fn device_for(clocks: &Arc<SharedClocks>, agent: u32) -> ScmiDevice {
    let view = AgentView {
        device: format!("vm{}-scmi", agent - 1),
        agents: vec!["vm0".into(), "vm1".into()],
        agent_id: agent,
        max_message_len: 128,
    };
    let clock = ClockProtocol::new(clocks.clone(), agent, grants());
    let mut dev = ScmiDevice::new(SocIdentity::default(), view, vec![Box::new(clock)]);
    dev.activate(1 << VIRTIO_SCMI_F_P2A_CHANNELS, Arc::new(NoWake));
    dev
}

fn device() -> ScmiDevice {
    device_for(&shared(), 2)
}

fn clk(msg: u32, token: u32) -> u32 {
    msg | (0x14 << 10) | (token << 18)
}

/// Status and return values of one clock command.
fn ask(dev: &mut ScmiDevice, msg: u32, params: &[u32]) -> (u32, Vec<u32>) {
    let mut w = vec![clk(msg, 3)];
    w.extend_from_slice(params);
    let r = words(&call(dev, &w));
    assert_eq!(r[0], clk(msg, 3), "header echoed");
    (r[1], r[2..].to_vec())
}

fn status(dev: &mut ScmiDevice, msg: u32, params: &[u32]) -> u32 {
    ask(dev, msg, params).0
}

/// Posts one eventq buffer and returns what the device put in it, if anything.
fn event(dev: &mut ScmiDevice) -> Option<Vec<u8>> {
    let mut sink = Sink(Vec::new());
    let token = Token {
        queue: EVENTQ,
        head: 9,
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
    sink.0.pop().map(|(_, b)| b)
}

fn bytes(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn rate(dev: &mut ScmiDevice, id: u32) -> u64 {
    let (s, r) = ask(dev, 6, &[id]);
    assert_eq!(s, SUCCESS);
    u64::from(r[0]) | (u64::from(r[1]) << 32)
}

#[test]
fn version_attributes_and_message_list_tell_the_truth() {
    let mut dev = device();
    assert_eq!(ask(&mut dev, 0, &[]), (SUCCESS, vec![0x0003_0000]));
    // 4 granted clocks, 4 async requests.
    assert_eq!(ask(&mut dev, 1, &[]), (SUCCESS, vec![(4 << 16) | 4]));
    for id in (0..=0xe).chain([0x10]) {
        assert_eq!(ask(&mut dev, 2, &[id]), (SUCCESS, vec![0]), "msg {id}");
    }
    for id in [0xf, 0x11, 0x100] {
        assert_eq!(status(&mut dev, 2, &[id]), NOT_FOUND);
    }
    assert_eq!(status(&mut dev, 0x0f, &[0]), NOT_SUPPORTED);
}

#[test]
fn clock_attributes_and_names() {
    let mut dev = device();
    let r = call(&mut dev, &[clk(3, 1), 0]);
    assert_eq!(r.len(), 8 + 4 + 16 + 4);
    let attrs = words(&r)[2];
    // rate-changed, change-requested notifications, extended name, parents; disabled.
    assert_eq!(attrs, 0xf000_0000);
    assert_eq!(&r[12..21], b"uart_mux\0");
    assert_eq!(words(&r)[7], 20, "enable latency in us");
    // xo: always on, no parents visible.
    assert_eq!(ask(&mut dev, 3, &[2]).1[0], 0xe000_0001);
    assert_eq!(
        status(&mut dev, 3, &[4]),
        NOT_FOUND,
        "secret is not granted"
    );
    assert_eq!(status(&mut dev, 3, &[]), PROTOCOL_ERROR);
    assert_eq!(status(&mut dev, 3, &[0, 0]), PROTOCOL_ERROR);
    let r = call(&mut dev, &[clk(8, 1), 3]);
    assert_eq!(r.len(), 8 + 4 + 64);
    assert_eq!(words(&r)[2], 0);
    assert_eq!(&r[12..27], b"sdcc_core_clk\0\0");
    assert_eq!(status(&mut dev, 8, &[4]), NOT_FOUND);
}

#[test]
fn describe_rates_range_triplet_and_paged_lists() {
    let mut dev = device();
    let (s, r) = ask(&mut dev, 4, &[1, 0]);
    assert_eq!(s, SUCCESS);
    assert_eq!(
        r,
        [0x1003, 300_000_000, 0, 1_200_000_000, 0, 100_000_000, 0]
    );
    assert_eq!(status(&mut dev, 4, &[1, 1]), OUT_OF_RANGE);
    // 20 rates through a buffer with room for 5 per reply.
    let mut got = Vec::new();
    let mut index = 0u32;
    loop {
        let r = words(&call_sized(
            &mut dev,
            &bytes(&[clk(4, 2), 3, index]),
            8 + 4 + 5 * 8,
        ));
        assert_eq!(r[1], SUCCESS);
        let (returned, remaining) = (r[2] & 0xfff, r[2] >> 16);
        assert_eq!(r[2] & (1 << 12), 0, "discrete");
        assert_eq!(returned, 5.min(20 - index));
        assert_eq!(remaining, 20 - index - returned);
        for pair in r[3..].chunks(2) {
            got.push(u64::from(pair[0]) | (u64::from(pair[1]) << 32));
        }
        index += returned;
        if remaining == 0 {
            break;
        }
    }
    assert_eq!(got, (1..=20).map(|i| i * 10 * MHZ).collect::<Vec<_>>());
    // A 128-byte buffer holds 14 rates.
    assert_eq!(ask(&mut dev, 4, &[3, 0]).1[0], (6 << 16) | 14);
    assert_eq!(ask(&mut dev, 4, &[3, 20]).1, [0]);
    assert_eq!(status(&mut dev, 4, &[3, 21]), OUT_OF_RANGE);
    assert_eq!(status(&mut dev, 4, &[9, 0]), NOT_FOUND);
}

#[test]
fn rate_set_rounds_and_refuses() {
    let mut dev = device();
    let set = |dev: &mut ScmiDevice, flags: u32, id: u32, hz: u64| {
        status(dev, 5, &[flags, id, hz as u32, (hz >> 32) as u32])
    };
    assert_eq!(set(&mut dev, 0, 0, 60 * MHZ), SUCCESS);
    assert_eq!(rate(&mut dev, 0), 50 * MHZ, "rounded down");
    assert_eq!(set(&mut dev, 1 << 2, 0, 60 * MHZ), SUCCESS);
    assert_eq!(rate(&mut dev, 0), 100 * MHZ, "rounded up");
    assert_eq!(set(&mut dev, 1 << 3, 0, 60 * MHZ), SUCCESS);
    assert_eq!(rate(&mut dev, 0), 50 * MHZ, "nearest");
    assert_eq!(set(&mut dev, 0, 1, 750 * MHZ), SUCCESS);
    assert_eq!(rate(&mut dev, 1), 700 * MHZ, "range step");
    assert_eq!(set(&mut dev, 0, 0, 200 * MHZ), OUT_OF_RANGE);
    assert_eq!(set(&mut dev, 0, 1, 5 << 32), OUT_OF_RANGE);
    assert_eq!(set(&mut dev, 0, 2, 19_200_000), DENIED, "xo is read-only");
    assert_eq!(set(&mut dev, 0, 7, MHZ), NOT_FOUND);
    assert_eq!(set(&mut dev, 1 << 4, 0, 50 * MHZ), INVALID_PARAMETERS);
    assert_eq!(status(&mut dev, 5, &[0, 0, 0]), PROTOCOL_ERROR);
    assert_eq!(status(&mut dev, 6, &[7]), NOT_FOUND);
    assert_eq!(ask(&mut dev, 6, &[2]).1, [19_200_000, 0]);
}

/// Sends a command as words; returns the response and the P2A messages it caused.
fn call_events(dev: &mut ScmiDevice, w: &[u32]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let data: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut all = call_all(dev, &data, 128).into_iter().map(|b| words(&b));
    let first = all.next().unwrap_or_default();
    (first, all.collect())
}

/// Lets asynchronous work settle; returns what the device completed meanwhile.
fn settle(dev: &mut ScmiDevice) -> Vec<Vec<u32>> {
    let mut sink = Sink(Vec::new());
    let start = std::time::Instant::now();
    if let Some(next) = dev.poll(start, &mut sink) {
        assert!(sink.0.is_empty(), "nothing completes before it settles");
        std::thread::sleep(next.saturating_duration_since(start));
    }
    let next = dev.poll(std::time::Instant::now(), &mut sink);
    assert_eq!(next, None, "nothing left pending");
    sink.0.iter().map(|(_, b)| words(b)).collect()
}

#[test]
fn async_rate_set_sends_a_delayed_response() {
    let mut dev = device();
    assert_eq!(event(&mut dev), None, "buffer held: nothing to say yet");
    let (r, ev) = call_events(&mut dev, &[clk(5, 0x77), 1, 0, 100 * MHZ as u32, 0]);
    assert_eq!((r, ev.len()), (vec![clk(5, 0x77), SUCCESS], 0));
    // The delayed response fills the held eventq buffer: type 2, the command's token.
    assert_eq!(
        settle(&mut dev),
        [vec![
            clk(5, 0x77) | (2 << 8),
            SUCCESS,
            0,
            100 * MHZ as u32,
            0
        ]]
    );
    assert_eq!(rate(&mut dev, 0), 100 * MHZ);
    // With "ignore delayed response" nothing is sent.
    assert_eq!(event(&mut dev), None);
    let (r, ev) = call_events(&mut dev, &[clk(5, 1), 0b11, 0, 50 * MHZ as u32, 0]);
    assert_eq!((r[1], ev.len()), (SUCCESS, 0));
    assert!(settle(&mut dev).is_empty());
    assert_eq!(rate(&mut dev, 0), 50 * MHZ);
    // An async request that fails reports its error in the delayed response.
    let (r, ev) = call_events(&mut dev, &[clk(5, 2), 1, 1, 0, 1]);
    assert_eq!(r[1], OUT_OF_RANGE, "rounding fails before queuing");
    assert!(ev.is_empty());
}

#[test]
fn delayed_responses_wait_for_an_eventq_buffer() {
    let mut dev = device();
    let (r, ev) = call_events(&mut dev, &[clk(5, 5), 1, 0, 50 * MHZ as u32, 0]);
    assert_eq!((r[1], ev.len()), (SUCCESS, 0), "no buffer yet");
    assert!(settle(&mut dev).is_empty());
    let d = event(&mut dev).map(|b| words(&b));
    assert_eq!(
        d,
        Some(vec![clk(5, 5) | (2 << 8), SUCCESS, 0, 50 * MHZ as u32, 0])
    );
}

#[test]
fn without_p2a_negotiated_nothing_is_queued() {
    let clocks = shared();
    let mut dev = device_for(&clocks, 2);
    dev.activate(0, Arc::new(NoWake));
    let (r, _) = call_events(&mut dev, &[clk(5, 5), 1, 0, 50 * MHZ as u32, 0]);
    assert_eq!(r[1], SUCCESS);
    assert!(settle(&mut dev).is_empty());
    assert_eq!(event(&mut dev), None);
    assert_eq!(rate(&mut dev, 0), 50 * MHZ, "the rate still changed");
}

#[test]
fn config_set_and_get_gate_the_clock() {
    let mut dev = device();
    assert_eq!(ask(&mut dev, 0xb, &[0, 0]), (SUCCESS, vec![0, 0, 0]));
    assert_eq!(status(&mut dev, 7, &[0, 1, 0]), SUCCESS);
    assert_eq!(ask(&mut dev, 0xb, &[0, 0]), (SUCCESS, vec![0, 1, 0]));
    assert_eq!(ask(&mut dev, 3, &[0]).1[0] & 1, 1, "attributes agree");
    assert_eq!(status(&mut dev, 7, &[0, 3, 0]), SUCCESS, "unchanged");
    assert_eq!(ask(&mut dev, 0xb, &[0, 0]).1[1], 1);
    assert_eq!(status(&mut dev, 7, &[0, 0, 0]), SUCCESS);
    assert_eq!(ask(&mut dev, 0xb, &[0, 0]).1[1], 0);
    assert_eq!(status(&mut dev, 7, &[0, 2, 0]), INVALID_PARAMETERS);
    assert_eq!(
        status(&mut dev, 7, &[0, 1 << 16, 5]),
        NOT_SUPPORTED,
        "OEM type"
    );
    assert_eq!(status(&mut dev, 7, &[0, 1 << 8, 0]), INVALID_PARAMETERS);
    assert_eq!(status(&mut dev, 7, &[2, 0, 0]), DENIED, "read-only grant");
    assert_eq!(status(&mut dev, 7, &[8, 1, 0]), NOT_FOUND);
    assert_eq!(status(&mut dev, 7, &[0, 1]), PROTOCOL_ERROR);
    assert_eq!(status(&mut dev, 0xb, &[0, 1]), NOT_SUPPORTED, "OEM type");
    assert_eq!(status(&mut dev, 0xb, &[0, 1 << 9]), INVALID_PARAMETERS);
}

#[test]
fn enables_are_shared_between_agents() {
    let clocks = shared();
    let mut vm0 = device_for(&clocks, 1);
    let mut vm1 = device_for(&clocks, 2);
    assert_eq!(status(&mut vm0, 7, &[0, 1, 0]), SUCCESS);
    assert_eq!(status(&mut vm1, 7, &[0, 1, 0]), SUCCESS);
    assert_eq!(status(&mut vm0, 7, &[0, 0, 0]), SUCCESS);
    assert_eq!(ask(&mut vm0, 0xb, &[0, 0]).1[1], 1, "vm1 still holds it");
    assert_eq!(status(&mut vm1, 7, &[0, 0, 0]), SUCCESS);
    assert_eq!(ask(&mut vm0, 0xb, &[0, 0]).1[1], 0);
}

#[test]
fn notifications_only_after_subscription() {
    let clocks = shared();
    let mut vm0 = device_for(&clocks, 1);
    let mut vm1 = device_for(&clocks, 2);
    let set = |dev: &mut ScmiDevice, hz: u64| {
        assert_eq!(status(dev, 5, &[0, 0, hz as u32, 0]), SUCCESS);
    };
    // No subscription: a change leaves the eventq buffer alone.
    assert_eq!(event(&mut vm0), None);
    set(&mut vm1, 50 * MHZ);
    let mut sink = Sink(Vec::new());
    vm0.poll(std::time::Instant::now(), &mut sink);
    assert!(sink.0.is_empty());
    // Subscribe vm0 to rate changes of clock 0 and to requests.
    assert_eq!(status(&mut vm0, 9, &[0, 1]), SUCCESS);
    assert_eq!(status(&mut vm0, 0xa, &[0, 1]), SUCCESS);
    set(&mut vm1, 100 * MHZ);
    vm0.poll(std::time::Instant::now(), &mut sink);
    let requested = vec![0x1 | (3 << 8) | (0x14 << 10), 2, 0, 100 * MHZ as u32, 0];
    let changed = vec![(3 << 8) | (0x14 << 10), 2, 0, 100 * MHZ as u32, 0];
    assert_eq!(sink.0.len(), 1, "one held buffer");
    assert_eq!(words(&sink.0[0].1), requested);
    assert_eq!(event(&mut vm0).map(|b| words(&b)), Some(changed));
    // Unsubscribe: silence again. A request that changes nothing is still a request.
    assert_eq!(status(&mut vm0, 9, &[0, 0]), SUCCESS);
    assert_eq!(status(&mut vm0, 0xa, &[0, 0]), SUCCESS);
    set(&mut vm1, 100 * MHZ);
    assert_eq!(event(&mut vm0), None);
    assert_eq!(status(&mut vm0, 9, &[0, 2]), INVALID_PARAMETERS);
    assert_eq!(status(&mut vm0, 9, &[5, 1]), NOT_FOUND);
    assert_eq!(status(&mut vm0, 9, &[0]), PROTOCOL_ERROR);
}

#[test]
fn parents_are_listed_set_and_read_in_agent_numbering() {
    let mut dev = device();
    // uart_mux's parents xo and gpll0 are agent clocks 2 and 1.
    assert_eq!(ask(&mut dev, 0xc, &[0, 0]), (SUCCESS, vec![2, 2, 1]));
    assert_eq!(ask(&mut dev, 0xc, &[0, 1]), (SUCCESS, vec![1, 1]));
    let r = words(&call_sized(&mut dev, &bytes(&[clk(0xc, 0), 0, 0]), 8 + 8));
    assert_eq!(r[2..], [(1 << 24) | 1, 2], "paged by buffer size");
    assert_eq!(status(&mut dev, 0xc, &[0, 3]), INVALID_PARAMETERS);
    assert_eq!(
        status(&mut dev, 0xc, &[2, 0]),
        NOT_SUPPORTED,
        "xo has no mux"
    );
    assert_eq!(ask(&mut dev, 0xe, &[0]), (SUCCESS, vec![2]));
    assert_eq!(status(&mut dev, 0xd, &[0, 1]), SUCCESS);
    assert_eq!(ask(&mut dev, 0xe, &[0]), (SUCCESS, vec![1]));
    assert_eq!(status(&mut dev, 0xd, &[0, 3]), INVALID_PARAMETERS);
    assert_eq!(status(&mut dev, 0xd, &[0, 9]), NOT_FOUND);
    assert_eq!(status(&mut dev, 0xd, &[2, 0]), DENIED);
    assert_eq!(
        status(&mut dev, 0xd, &[1, 2]),
        SUCCESS,
        "gpll0 to xo, its only parent"
    );
    assert_eq!(status(&mut dev, 0xe, &[2]), NOT_SUPPORTED);
    assert_eq!(status(&mut dev, 0xd, &[0]), PROTOCOL_ERROR);
}

#[test]
fn a_parent_outside_the_view_reads_as_denied() {
    let clocks = shared();
    let only_mux = vec![ClockGrant {
        clock: 2,
        control: true,
    }];
    let view = AgentView {
        device: "vm0-scmi".into(),
        agents: vec!["vm0".into()],
        agent_id: 1,
        max_message_len: 128,
    };
    let p = ClockProtocol::new(clocks, 1, only_mux);
    let mut dev = ScmiDevice::new(SocIdentity::default(), view, vec![Box::new(p)]);
    // No parent is visible, so the mux looks like a plain clock.
    assert_eq!(ask(&mut dev, 3, &[0]).1[0] & (1 << 28), 0);
    assert_eq!(status(&mut dev, 0xe, &[0]), NOT_SUPPORTED);
    assert_eq!(ask(&mut dev, 1, &[]).1, [(4 << 16) | 1]);
}

#[test]
fn too_many_async_requests_are_busy() {
    let clocks = shared();
    let mut p = ClockProtocol::new(clocks, 2, grants());
    let params: Vec<u8> = [1u32, 0, 50 * MHZ as u32, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let call = Call {
        message_id: 5,
        token: 1,
        max_reply: 120,
    };
    for _ in 0..4 {
        let mut r = message::Reply::default();
        assert_eq!(
            p.handle(call, message::Params::new(&params), &mut r),
            Ok(())
        );
    }
    let mut r = message::Reply::default();
    assert_eq!(
        p.handle(call, message::Params::new(&params), &mut r),
        Err(constants::Status::Busy)
    );
    let mut out = Vec::new();
    p.poll(std::time::Instant::now() + protocol::ASYNC_SETTLE, &mut out);
    assert_eq!(out.len(), 4, "one delayed response each");
}

#[test]
fn only_a_clocks_sole_user_reparents_it_over_the_wire() {
    let clocks = shared();
    let mut vm0 = device_for(&clocks, 1);
    let mut vm1 = device_for(&clocks, 2);
    // vm1 enables uart_mux (agent clock 0): vm0 may no longer move it under vm1.
    assert_eq!(status(&mut vm1, 7, &[0, 1, 0]), SUCCESS);
    assert_eq!(status(&mut vm0, 0xd, &[0, 1]), DENIED);
    assert_eq!(ask(&mut vm0, 0xe, &[0]), (SUCCESS, vec![2]), "unchanged");
    // Once vm1 lets go, vm0 is the sole user and may.
    assert_eq!(status(&mut vm1, 7, &[0, 0, 0]), SUCCESS);
    assert_eq!(status(&mut vm0, 0xd, &[0, 1]), SUCCESS);
    assert_eq!(ask(&mut vm1, 0xe, &[0]), (SUCCESS, vec![1]));
}
