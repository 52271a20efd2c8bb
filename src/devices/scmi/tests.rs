//! Byte-level tests of the SCMI device against the layouts in DEN0056.

use super::*;
use crate::devices::CompleteError;
use crate::devices::Wake;

// Byte-level tests of one protocol each, sharing the helpers below.
mod clock;
mod domain;

pub(super) struct Sink(pub(super) Vec<(u16, Vec<u8>)>);

impl Completer for Sink {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.0.push((token.head, response.to_vec()));
        Ok(())
    }
}

fn device() -> ScmiDevice {
    device_as(2)
}

/// The test platform as seen by agent `agent_id` (1 = vm0, 2 = vm1).
fn device_as(agent_id: u32) -> ScmiDevice {
    let identity = SocIdentity {
        vendor: "acme".into(),
        sub_vendor: "soc-x".into(),
        implementation_version: 0x0001_0203,
    };
    let view = AgentView {
        device: "vm0-scmi".into(),
        agents: vec!["vm0".into(), "vm1".into()],
        agent_id,
        max_message_len: 128,
    };
    ScmiDevice::new(identity, view, Vec::new())
}

pub(super) fn call(dev: &mut ScmiDevice, words: &[u32]) -> Vec<u8> {
    let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    call_bytes(dev, &data)
}

pub(super) fn call_bytes(dev: &mut ScmiDevice, data: &[u8]) -> Vec<u8> {
    call_sized(dev, data, 128)
}

/// Sends one command whose driver buffer has `writable_len` writable bytes.
pub(super) fn call_sized(dev: &mut ScmiDevice, data: &[u8], writable_len: usize) -> Vec<u8> {
    call_all(dev, data, writable_len).remove(0)
}

/// Sends one command; returns every buffer completed meanwhile (the response first, then
/// eventq buffers filled with what the command caused).
pub(super) fn call_all(dev: &mut ScmiDevice, data: &[u8], writable_len: usize) -> Vec<Vec<u8>> {
    let mut sink = Sink(Vec::new());
    let token = Token {
        queue: CMDQ,
        head: 5,
        generation: 0,
        writable: vec![],
    };
    let request = Request {
        token,
        data: data.to_vec(),
        writable_len,
    };
    dev.handle(request, &mut sink);
    // Transports poll the device after every batch of requests.
    dev.poll(std::time::Instant::now(), &mut sink);
    assert!(!sink.0.is_empty(), "every command buffer is returned");
    sink.0.into_iter().map(|(_, b)| b).collect()
}

pub(super) fn words(b: &[u8]) -> Vec<u32> {
    b.chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

/// Header word for a base-protocol command with a token.
fn base(msg: u32, token: u32) -> u32 {
    msg | (0x10 << 10) | (token << 18)
}

#[test]
fn protocol_version_echoes_header_and_reports_2_1() {
    let r = call(&mut device(), &[base(0, 0x155)]);
    assert_eq!(words(&r), [base(0, 0x155), 0, 0x0002_0001]);
}

#[test]
fn protocol_attributes_count_agents_and_protocols() {
    let r = call(&mut device(), &[base(1, 0)]);
    // 2 agents in bits 15:8, no protocols besides base in bits 7:0.
    assert_eq!(words(&r), [base(1, 0), 0, 0x0200]);
}

#[test]
fn message_attributes_tell_what_is_implemented() {
    let mut dev = device();
    for id in (0..=8).chain([0x10]) {
        assert_eq!(
            words(&call(&mut dev, &[base(2, 0), id])),
            [base(2, 0), 0, 0]
        );
    }
    // The permission commands and other unlisted IDs are not implemented: NOT_FOUND (-4).
    for id in [9, 0xa, 0xb, 0x11, 0x100] {
        assert_eq!(
            words(&call(&mut dev, &[base(2, 0), id])),
            [base(2, 0), (-4i32) as u32]
        );
    }
}

#[test]
fn negotiate_accepts_only_the_implemented_version() {
    let mut dev = device();
    let h = base(0x10, 9);
    assert_eq!(words(&call(&mut dev, &[h, 0x0002_0001])), [h, 0]);
    assert_eq!(
        words(&call(&mut dev, &[h, 0x0002_0000])),
        [h, (-1i32) as u32]
    );
    assert_eq!(words(&call(&mut dev, &[h])), [h, (-10i32) as u32]);
}

#[test]
fn vendor_names_are_16_byte_nul_terminated() {
    let mut dev = device();
    let r = call(&mut dev, &[base(3, 1)]);
    assert_eq!(r.len(), 8 + 16);
    assert_eq!(&r[8..12], b"acme");
    assert!(r[12..24].iter().all(|&b| b == 0));
    let r = call(&mut dev, &[base(4, 1)]);
    assert_eq!(&r[8..13], b"soc-x");
    assert_eq!(
        words(&call(&mut dev, &[base(5, 0)])),
        [base(5, 0), 0, 0x0001_0203]
    );
}

#[test]
fn list_protocols_is_empty_with_base_only_and_checks_skip() {
    let mut dev = device();
    assert_eq!(words(&call(&mut dev, &[base(6, 0), 0])), [base(6, 0), 0, 0]);
    // skip beyond the list: INVALID_PARAMETERS (-2).
    assert_eq!(
        words(&call(&mut dev, &[base(6, 0), 1])),
        [base(6, 0), (-2i32) as u32]
    );
}

#[test]
fn discover_agent_resolves_self_and_others() {
    let mut dev = device();
    let r = call(&mut dev, &[base(7, 0), 0xffff_ffff]);
    assert_eq!(words(&r[..12]), [base(7, 0), 0, 2]);
    assert_eq!(&r[12..15], b"vm1");
    let r = call(&mut dev, &[base(7, 0), 0]);
    assert_eq!(&r[12..20], b"platform");
    assert_eq!(
        words(&call(&mut dev, &[base(7, 0), 3])),
        [base(7, 0), (-4i32) as u32]
    );
}

#[test]
fn malformed_commands_get_protocol_errors() {
    let mut dev = device();
    let perr = (-10i32) as u32;
    // Missing parameter, extra parameter, trailing partial word.
    assert_eq!(words(&call(&mut dev, &[base(2, 0)])), [base(2, 0), perr]);
    assert_eq!(words(&call(&mut dev, &[base(0, 0), 7])), [base(0, 0), perr]);
    let mut b = base(6, 0).to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    assert_eq!(words(&call_bytes(&mut dev, &b)), [base(6, 0), perr]);
    // A delayed-response type sent as a command.
    let h = base(0, 0) | (2 << 8);
    assert_eq!(words(&call(&mut dev, &[h])), [h, perr]);
    // Unknown protocol: NOT_SUPPORTED (-1); unknown message in base: NOT_SUPPORTED.
    let clock = 0x14 << 10;
    assert_eq!(words(&call(&mut dev, &[clock])), [clock, (-1i32) as u32]);
    assert_eq!(
        words(&call(&mut dev, &[base(0x42, 0)])),
        [base(0x42, 0), (-1i32) as u32]
    );
    // No header at all: the buffer comes back with nothing written.
    assert!(call_bytes(&mut dev, &[1, 2]).is_empty());
    // And the device still answers afterwards.
    assert_eq!(
        words(&call(&mut dev, &[base(0, 0)])),
        [base(0, 0), 0, 0x0002_0001]
    );
}

#[test]
fn event_buffers_are_held_until_reset() {
    let mut dev = device();
    let mut sink = Sink(Vec::new());
    let token = Token {
        queue: EVENTQ,
        head: 1,
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
    assert!(sink.0.is_empty());
    assert_eq!(dev.event_buffers.len(), 1);
    dev.reset();
    assert!(dev.event_buffers.is_empty());
}

/// The test device with the P2A channel negotiated and `buffers` eventq buffers posted.
fn p2a_device(buffers: u16) -> ScmiDevice {
    let mut dev = device();
    dev.activate(1 << VIRTIO_SCMI_F_P2A_CHANNELS, Arc::new(NoWake));
    for head in 0..buffers {
        post_event_buffer(&mut dev, 100 + head);
    }
    dev
}

struct NoWake;

impl Wake for NoWake {
    fn wake(&self) {}
}

/// Posts one 128-byte eventq buffer; returns what the device put in it at once.
fn post_event_buffer(dev: &mut ScmiDevice, head: u16) -> Vec<Vec<u32>> {
    let mut sink = Sink(Vec::new());
    let token = Token {
        queue: EVENTQ,
        head,
        generation: 0,
        writable: vec![],
    };
    dev.handle(
        Request {
            token,
            data: vec![],
            writable_len: 128,
        },
        &mut sink,
    );
    sink.0.iter().map(|(_, b)| words(b)).collect()
}

/// Sends a command; returns the response words and the P2A messages delivered with it.
fn call_events(dev: &mut ScmiDevice, data: &[u8]) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut all = call_all(dev, data, 128).into_iter().map(|b| words(&b));
    let first = all.next().unwrap_or_default();
    (first, all.collect())
}

fn bytes(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

const PERR: u32 = (-10i32) as u32;
const NOT_SUPPORTED: u32 = (-1i32) as u32;
/// Header of BASE_ERROR_EVENT: message 0x0, type 3 (notification), protocol 0x10, token 0.
const ERROR_EVENT: u32 = (3 << 8) | (0x10 << 10);

/// Checks one BASE_ERROR_EVENT for agent 2 listing exactly `headers`; returns the stamps.
fn error_event_stamps(event: &[u32], headers: &[u32]) -> Vec<u32> {
    assert_eq!(
        event[..3],
        [ERROR_EVENT, 2, headers.len() as u32],
        "{event:x?}"
    );
    assert_eq!(event.len(), 3 + 2 * headers.len(), "{event:x?}");
    let listed: Vec<u32> = event[3..].iter().step_by(2).copied().collect();
    assert_eq!(listed, headers, "each report names the faulty message");
    event[4..].iter().step_by(2).copied().collect()
}

#[test]
fn notify_errors_validates_notify_enable() {
    let mut dev = device();
    let h = base(8, 3);
    assert_eq!(words(&call(&mut dev, &[h, 1])), [h, 0]);
    assert_eq!(words(&call(&mut dev, &[h, 0])), [h, 0]);
    // Reserved bits 31:1 set: INVALID_PARAMETERS (-2), subscription unchanged.
    for bad in [2, 4, 0x8000_0001] {
        assert_eq!(words(&call(&mut dev, &[h, bad])), [h, (-2i32) as u32]);
    }
    assert_eq!(words(&call(&mut dev, &[h])), [h, PERR]);
    assert_eq!(words(&call(&mut dev, &[h, 1, 0])), [h, PERR]);
}

#[test]
fn subscribed_agent_is_told_of_each_message_it_got_wrong() {
    let mut dev = p2a_device(8);
    let (r, ev) = call_events(&mut dev, &bytes(&[base(8, 1), 1]));
    assert_eq!(
        (r, ev.len()),
        (vec![base(8, 1), 0], 0),
        "subscribing is no error"
    );

    // Truncated parameters: PROTOCOL_ERROR, then the event naming that message.
    let (r, ev) = call_events(&mut dev, &bytes(&[base(2, 0x11)]));
    assert_eq!(r, [base(2, 0x11), PERR]);
    assert_eq!(ev.len(), 1);
    let t1 = error_event_stamps(&ev[0], &[base(2, 0x11)]);
    // Oversized: a stray parameter.
    let (r, ev) = call_events(&mut dev, &bytes(&[base(0, 0x12), 7]));
    assert_eq!(r, [base(0, 0x12), PERR]);
    let t2 = error_event_stamps(&ev[0], &[base(0, 0x12)]);
    assert!(t2 >= t1, "stamps count up: {t1:?} then {t2:?}");
    // A trailing partial word.
    let mut b = bytes(&[base(6, 0x13)]);
    b.extend_from_slice(&[0, 0]);
    let (r, ev) = call_events(&mut dev, &b);
    assert_eq!(r, [base(6, 0x13), PERR]);
    error_event_stamps(&ev[0], &[base(6, 0x13)]);
    // A delayed-response type sent as a command: reported with the header as sent.
    let h = base(0, 0x14) | (2 << 8);
    let (r, ev) = call_events(&mut dev, &bytes(&[h]));
    assert_eq!(r, [h, PERR]);
    error_event_stamps(&ev[0], &[h]);
    // An unknown protocol, and an unknown message of a served one.
    let clock = (0x14 << 10) | (0x15 << 18);
    let (r, ev) = call_events(&mut dev, &bytes(&[clock]));
    assert_eq!(r, [clock, NOT_SUPPORTED]);
    error_event_stamps(&ev[0], &[clock]);
    let (r, ev) = call_events(&mut dev, &bytes(&[base(0x42, 0x16)]));
    assert_eq!(r, [base(0x42, 0x16), NOT_SUPPORTED]);
    error_event_stamps(&ev[0], &[base(0x42, 0x16)]);
    // No header at all: unattributed, a count of zero.
    let (r, ev) = call_events(&mut dev, &[1, 2]);
    assert!(r.is_empty());
    assert_eq!(ev, [vec![ERROR_EVENT, 2, 0]]);
    assert_eq!(dev.event_buffers.len(), 1, "seven of eight buffers used");
}

#[test]
fn well_formed_commands_that_fail_are_no_comms_errors() {
    let mut dev = p2a_device(4);
    call_events(&mut dev, &bytes(&[base(8, 1), 1]));
    let cases: [(&[u32], u32); 4] = [
        (&[base(7, 2), 3], (-4i32) as u32), // DISCOVER_AGENT: no such agent
        (&[base(6, 2), 5], (-2i32) as u32), // LIST_PROTOCOLS: skip too far
        (&[base(2, 2), 0x55], (-4i32) as u32), // MESSAGE_ATTRIBUTES: unknown ID
        (&[base(0x10, 2), 0x0001_0000], NOT_SUPPORTED), // NEGOTIATE: other version
    ];
    for (cmd, status) in cases {
        let (r, ev) = call_events(&mut dev, &bytes(cmd));
        assert_eq!(r, [cmd[0], status]);
        assert!(ev.is_empty(), "{cmd:x?} caused {ev:x?}");
    }
    assert_eq!(dev.event_buffers.len(), 4);
}

#[test]
fn without_a_subscription_or_after_unsubscribing_nothing_is_sent() {
    let mut dev = p2a_device(4);
    let (_, ev) = call_events(&mut dev, &bytes(&[base(2, 1)]));
    assert!(ev.is_empty(), "not subscribed");
    call_events(&mut dev, &bytes(&[base(8, 1), 1]));
    let (_, ev) = call_events(&mut dev, &bytes(&[base(2, 2)]));
    assert_eq!(ev.len(), 1);
    let (r, ev) = call_events(&mut dev, &bytes(&[base(8, 3), 0]));
    assert_eq!((r, ev.len()), (vec![base(8, 3), 0], 0));
    let (_, ev) = call_events(&mut dev, &bytes(&[base(2, 4)]));
    assert!(ev.is_empty(), "unsubscribed");
    // A reset forgets the subscription too.
    call_events(&mut dev, &bytes(&[base(8, 5), 1]));
    dev.reset();
    let mut dev2 = dev;
    dev2.activate(1 << VIRTIO_SCMI_F_P2A_CHANNELS, Arc::new(NoWake));
    post_event_buffer(&mut dev2, 1);
    let (_, ev) = call_events(&mut dev2, &bytes(&[base(2, 6)]));
    assert!(ev.is_empty(), "reset unsubscribes");
}

#[test]
fn errors_wait_for_an_eventq_buffer_in_order() {
    let mut dev = p2a_device(0);
    call_events(&mut dev, &bytes(&[base(8, 1), 1]));
    for token in 1..=3 {
        let (r, ev) = call_events(&mut dev, &bytes(&[base(0, token), 9]));
        assert_eq!((r[1], ev.len()), (PERR, 0), "no buffer yet");
    }
    for token in 1..=3 {
        let got = post_event_buffer(&mut dev, token as u16);
        assert_eq!(got.len(), 1);
        error_event_stamps(&got[0], &[base(0, token)]);
    }
    assert!(post_event_buffer(&mut dev, 9).is_empty());
}

#[test]
fn each_agent_hears_only_of_its_own_errors() {
    // Two agents of one platform: agent 2 subscribed, agent 1 sends garbage.
    let mut other = device_as(1);
    let mut mine = p2a_device(2);
    call_events(&mut mine, &bytes(&[base(8, 1), 1]));
    other.activate(1 << VIRTIO_SCMI_F_P2A_CHANNELS, Arc::new(NoWake));
    post_event_buffer(&mut other, 1);
    let (r, ev) = call_events(&mut other, &bytes(&[base(2, 7)]));
    assert_eq!((r[1], ev.len()), (PERR, 0), "agent 1 did not subscribe");
    // Once agent 1 subscribes its own errors reach it, naming agent 1.
    call_events(&mut other, &bytes(&[base(8, 8), 1]));
    let (_, ev) = call_events(&mut other, &bytes(&[base(2, 9)]));
    assert_eq!(ev[0][..4], [ERROR_EVENT, 1, 1, base(2, 9)]);
    let (_, ev) = call_events(&mut mine, &bytes(&[base(0, 1)]));
    assert!(ev.is_empty(), "agent 2 made no error");
    assert_eq!(mine.event_buffers.len(), 2);
}

#[test]
fn writable_caps_bound_a_response_page_and_an_event() {
    let d = device();
    assert_eq!(d.max_writable_len(CMDQ), MAX_RESPONSE);
    assert_eq!(d.max_writable_len(EVENTQ), 4096);
}
