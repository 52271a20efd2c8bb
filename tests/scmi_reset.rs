//! The SCMI reset domain protocol end to end over both transports:
//! vhost-user and the Gunyah simulator.

mod support;

use std::time::Duration;

use support::agent::Agent;
use support::platform::{DEVICES, PLATFORM};
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    every_reset_message_and_error,
    async_reset_and_reset_issued_notifications,
);

const RESET: u8 = 0x16;

fn every_reset_message_and_error(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    assert_eq!(a.ok(RESET, 0, &[]), [0x0003_0000]);
    assert_eq!(a.ok(RESET, 1, &[]), [2]);
    for m in [3, 4, 5, 6, 0x10] {
        assert_eq!(a.ok(RESET, 2, &[m]), [0], "message {m:#x}");
    }
    assert_eq!(a.status(RESET, 2, &[7]), NOT_FOUND);
    let r = a.ask(RESET, 3, &[0]);
    assert_eq!(
        (r.word(0), r.word(1), r.name(8).as_str()),
        (0xe000_0000, 40, "usb")
    );
    assert_eq!(
        a.ask(RESET, 3, &[1]).word(1),
        0x7fff_ffff,
        "latency unknown"
    );
    assert_eq!(a.ask(RESET, 6, &[1]).long_name(4, 64), "ufs");
    a.ok(RESET, 4, &[0, 2, 0]);
    a.ok(RESET, 4, &[0, 0, 0]);
    a.ok(RESET, 4, &[0, 1, 0]);
    assert_eq!(a.status(RESET, 4, &[1, 1, 0]), DENIED);
    assert_eq!(a.status(RESET, 4, &[0, 8, 0]), INVALID_PARAMETERS);
    assert_eq!(a.status(RESET, 4, &[0, 1, 1 << 31]), NOT_SUPPORTED);
    assert_eq!(a.status(RESET, 4, &[0, 1, 2]), INVALID_PARAMETERS);
    assert_eq!(a.status(RESET, 4, &[2, 1, 0]), NOT_FOUND);
    assert_eq!(a.status(RESET, 4, &[0, 1]), PROTOCOL_ERROR);
}

fn async_reset_and_reset_issued_notifications(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    let mut b = Agent::attach(&svc, DEVICES[1], true);
    a.post_event_buffers(2);
    b.post_event_buffers(2);
    b.ok(RESET, 5, &[0, 1]);
    a.ok(RESET, 4, &[0, 0b101, 0]);
    let token = a.last_token();
    assert_eq!(
        a.events(Duration::from_secs(2)),
        [vec![header(RESET, 4, token) | DELAYED, 0, 0]]
    );
    assert_eq!(
        b.events(Duration::from_secs(2)),
        [vec![header(RESET, 0, 0) | NOTIFICATION, 1, 0, 0]]
    );
    // vm0 never subscribed: vm1's reset tells it nothing.
    b.ok(RESET, 4, &[0, 1, 0]);
    a.assert_no_event(Duration::from_millis(100));
}
