//! Byte-level tests of the SCMI device against the layouts in DEN0056.

use super::*;
use crate::devices::CompleteError;

pub(super) struct Sink(pub(super) Vec<(u16, Vec<u8>)>);

impl Completer for Sink {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.0.push((token.head, response.to_vec()));
        Ok(())
    }
}

fn device() -> ScmiDevice {
    let identity = SocIdentity {
        vendor: "acme".into(),
        sub_vendor: "soc-x".into(),
        implementation_version: 0x0001_0203,
    };
    let view = AgentView {
        device: "vm0-scmi".into(),
        agents: vec!["vm0".into(), "vm1".into()],
        agent_id: 2,
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
    for id in (0..=7).chain([0x10]) {
        assert_eq!(
            words(&call(&mut dev, &[base(2, 0), id])),
            [base(2, 0), 0, 0]
        );
    }
    // BASE_NOTIFY_ERRORS (8) and the other unlisted IDs are not implemented: NOT_FOUND (-4).
    for id in [8, 0xb, 0x11, 0x100] {
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
