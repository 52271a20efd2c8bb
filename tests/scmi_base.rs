//! The SCMI base protocol end to end, over both transports: the real service behind a
//! vhost-user socket driven by the harness as a VMM and guest would, and the service on a
//! simulated Gunyah backend node driven by the simulator's virtio-mmio frontend driver.

mod support;

use std::time::Duration;

use drivervm::harness::{Driver, HarnessOptions, Malformed};
use support::scmi::*;
use support::transport::{Served, Transport};
use support::TWO_GUESTS;

const BASE: u8 = 0x10;

over_both_transports!(
    every_base_message_answers_as_the_spec_lays_out,
    truncated_and_oversized_messages_get_protocol_error_and_service_continues,
    malformed_chains_are_returned_empty_and_the_device_keeps_serving,
    sixty_four_outstanding_requests_all_complete,
    two_guests_are_served_concurrently,
);

/// vhost-user only: the config space is reachable because CONFIG is offered.
#[test]
fn vhost_user_offers_the_config_protocol_feature() {
    let svc = support::Service::start(TWO_GUESTS, &["vm0-scmi.sock", "vm1-scmi.sock"]);
    let h = svc.connect("vm0-scmi.sock", &HarnessOptions::default());
    assert_ne!(
        h.protocol_features() & (1 << 9),
        0,
        "CONFIG protocol feature"
    );
    h.disconnect().unwrap();
}

fn ask(h: &mut dyn Driver, msg: u8, token: u16, params: &[u32]) -> Response {
    let reply = h
        .request(CMDQ, &command(BASE, msg, token, params), 128)
        .expect("request");
    let r = Response::parse(&reply);
    assert_eq!(
        r.header,
        header(BASE, msg, token),
        "header echoed with token"
    );
    r
}

fn all_options() -> Vec<HarnessOptions> {
    let mut v = Vec::new();
    for event_idx in [false, true] {
        for indirect_desc in [false, true] {
            v.push(HarnessOptions {
                event_idx,
                indirect_desc,
                ..HarnessOptions::default()
            });
        }
    }
    v
}

fn every_base_message_answers_as_the_spec_lays_out(t: Transport) {
    let svc = Served::start(t, TWO_GUESTS);
    for opts in all_options() {
        let mut d = svc.connect("vm1-scmi", 2, &opts);
        let h = d.as_mut();
        let offered = h.offered_features();
        assert_ne!(offered & (1 << 32), 0, "VERSION_1 offered");
        assert_ne!(offered & (1 << 29), 0, "EVENT_IDX offered");
        assert_ne!(offered & (1 << 28), 0, "INDIRECT_DESC offered");
        assert_eq!(
            h.config(0, 8).unwrap(),
            [0; 8],
            "virtio-scmi has no config space"
        );

        let r = ask(h, 0, 1, &[]);
        assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001), "{opts:?}");
        let r = ask(h, 1, 2, &[]);
        assert_eq!(
            (r.status, r.word(0)),
            (SUCCESS, 2 << 8),
            "two agents, no other protocols"
        );
        for id in 0..=7 {
            let r = ask(h, 2, 3, &[id]);
            assert_eq!(
                (r.status, r.word(0)),
                (SUCCESS, 0),
                "message {id} implemented"
            );
        }
        // NEGOTIATE_PROTOCOL_VERSION (base v2.1) is implemented; BASE_NOTIFY_ERRORS is not.
        assert_eq!(ask(h, 2, 3, &[0x10]).status, SUCCESS);
        assert_eq!(ask(h, 2, 3, &[8]).status, NOT_FOUND);
        let r = ask(h, 3, 4, &[]);
        assert_eq!((r.status, r.name(0).as_str()), (SUCCESS, "drivervm-test"));
        assert_eq!(r.payload.len(), 16);
        assert_eq!(ask(h, 4, 5, &[]).name(0), "twin");
        assert_eq!(ask(h, 5, 6, &[]).word(0), 0x0001_0203);
        let r = ask(h, 6, 7, &[0]);
        assert_eq!((r.status, r.word(0), r.payload.len()), (SUCCESS, 0, 4));
        assert_eq!(ask(h, 6, 7, &[1]).status, INVALID_PARAMETERS);
        let r = ask(h, 7, 8, &[0xffff_ffff]);
        assert_eq!(
            (r.status, r.word(0), r.name(4).as_str()),
            (SUCCESS, 2, "vm1")
        );
        assert_eq!(ask(h, 7, 8, &[1]).name(4), "vm0");
        assert_eq!(ask(h, 7, 8, &[3]).status, NOT_FOUND);
        d.disconnect().expect("disconnect");
    }
}

fn truncated_and_oversized_messages_get_protocol_error_and_service_continues(t: Transport) {
    let svc = Served::start(t, TWO_GUESTS);
    let mut h = svc.connect("vm0-scmi", 2, &HarnessOptions::default());
    let h = h.as_mut();
    // PROTOCOL_MESSAGE_ATTRIBUTES without its parameter.
    assert_eq!(ask(h, 2, 1, &[]).status, PROTOCOL_ERROR);
    // PROTOCOL_VERSION with a stray parameter.
    assert_eq!(ask(h, 0, 1, &[7]).status, PROTOCOL_ERROR);
    // A header cut short: the buffer comes back with nothing written.
    let reply = h.request(CMDQ, &[0x00, 0x40], 128).expect("request");
    assert!(
        reply.is_empty(),
        "no response to a 2-byte message: {reply:?}"
    );
    // Unknown protocol and unknown message.
    let r = Response::parse(&h.request(CMDQ, &command(0x77, 0, 0, &[]), 64).unwrap());
    assert_eq!(r.status, NOT_SUPPORTED);
    assert_eq!(ask(h, 0x33, 0, &[]).status, NOT_SUPPORTED);
    // A response buffer too small for the answer: used length 0.
    let head = h.submit(CMDQ, &command(BASE, 3, 0, &[]), 8).unwrap();
    h.kick(CMDQ).unwrap();
    let c = h.wait_for(CMDQ, head, Duration::from_secs(2)).unwrap();
    assert_eq!(c.len, 0);
    assert_eq!(ask(h, 0, 9, &[]).status, SUCCESS);
}

fn malformed_chains_are_returned_empty_and_the_device_keeps_serving(t: Transport) {
    let svc = Served::start(t, TWO_GUESTS);
    for kind in Malformed::ALL {
        let mut h = svc.connect("vm0-scmi", 2, &HarnessOptions::default());
        let req = command(BASE, 0, 0, &[]);
        let head = h
            .add_malformed(CMDQ, kind, &req, 64)
            .expect("add malformed");
        h.kick(CMDQ).unwrap();
        if kind != Malformed::HeadOutOfRange {
            let c = h
                .wait_for(CMDQ, head, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("{kind:?}: {e}\n{}", svc.log()));
            assert_eq!(c.len, 0, "{kind:?} must come back with used length 0");
        }
        // The same connection still works afterwards.
        let r = ask(h.as_mut(), 0, 5, &[]);
        assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001), "{kind:?}");
        h.disconnect().unwrap();
    }
    assert!(svc.log().contains("refused"), "refusals are logged");
}

fn sixty_four_outstanding_requests_all_complete(t: Transport) {
    let svc = Served::start(t, TWO_GUESTS);
    for opts in all_options() {
        let mut h = svc.connect("vm0-scmi", 2, &opts);
        for round in 0..4u16 {
            let mut heads: Vec<u16> = (0..64u16)
                .map(|i| {
                    h.submit(CMDQ, &command(BASE, 0, round * 64 + i, &[]), 16)
                        .unwrap()
                })
                .collect();
            h.kick(CMDQ).unwrap();
            while !heads.is_empty() {
                for c in h.wait_completions(CMDQ, Duration::from_secs(2)).unwrap() {
                    assert_eq!(c.len, 12);
                    let r = Response::parse(&c.data);
                    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
                    heads.retain(|&x| x != c.head);
                }
            }
        }
        h.disconnect().unwrap();
    }
}

fn two_guests_are_served_concurrently(t: Transport) {
    let svc = Served::start(t, TWO_GUESTS);
    std::thread::scope(|s| {
        for (id, agent) in [("vm0-scmi", 1), ("vm1-scmi", 2)] {
            let svc = &svc;
            s.spawn(move || {
                let mut h = svc.connect(id, 2, &HarnessOptions::default());
                for i in 0..200 {
                    let r = ask(h.as_mut(), 7, i % 1024, &[0xffff_ffff]);
                    assert_eq!(r.word(0), agent);
                }
                h.disconnect().unwrap();
            });
        }
    });
}
