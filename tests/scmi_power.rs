//! The SCMI power domain protocol end to end over both transports:
//! vhost-user and the Gunyah simulator.

mod support;

use std::time::Duration;

use support::agent::Agent;
use support::platform::{DEVICES, PLATFORM};
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    every_power_message_and_error,
    a_domain_shared_by_two_guests_and_its_notifications,
);

const POWER: u8 = 0x11;
const ON: u32 = 0;
const OFF: u32 = 1 << 30;

fn every_power_message_and_error(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    assert_eq!(a.ok(POWER, 0, &[]), [0x0003_0000]);
    assert_eq!(a.ok(POWER, 1, &[]), [2, 0, 0, 0]);
    for m in [3, 4, 5, 6, 8, 0x10] {
        assert_eq!(a.ok(POWER, 2, &[m]), [0], "message {m:#x}");
    }
    assert_eq!(a.status(POWER, 2, &[7]), NOT_FOUND);
    let r = a.ask(POWER, 3, &[0]);
    assert_eq!((r.word(0), r.name(4).as_str()), (0xa800_0000, "gpu"));
    assert_eq!(a.status(POWER, 3, &[2]), NOT_FOUND);
    assert_eq!(a.ask(POWER, 8, &[1]).long_name(4, 64), "modem");
    assert_eq!(a.ok(POWER, 5, &[0]), [OFF]);
    assert_eq!(a.ok(POWER, 5, &[1]), [ON]);
    a.ok(POWER, 4, &[0, 0, ON]);
    assert_eq!(a.ok(POWER, 5, &[0]), [ON]);
    assert_eq!(
        a.status(POWER, 4, &[0, 1, OFF]),
        DENIED,
        "modem is read-only"
    );
    assert_eq!(a.status(POWER, 4, &[0, 0, 7]), INVALID_PARAMETERS);
    assert_eq!(a.status(POWER, 4, &[1, 0, OFF]), NOT_SUPPORTED, "no async");
    assert_eq!(a.status(POWER, 4, &[4, 0, OFF]), INVALID_PARAMETERS);
    assert_eq!(a.status(POWER, 4, &[0, 5, OFF]), NOT_FOUND);
    assert_eq!(a.status(POWER, 4, &[0, 0]), PROTOCOL_ERROR);
    assert_eq!(a.status(POWER, 6, &[0, 2]), INVALID_PARAMETERS);
}

fn a_domain_shared_by_two_guests_and_its_notifications(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    let mut b = Agent::attach(&svc, DEVICES[1], true);
    a.post_event_buffers(2);
    b.ok(POWER, 4, &[0, 0, ON]);
    a.assert_no_event(Duration::from_millis(100));
    a.ok(POWER, 6, &[0, 1]);
    a.ok(POWER, 4, &[0, 0, ON]);
    b.ok(POWER, 4, &[0, 0, OFF]);
    assert_eq!(a.ok(POWER, 5, &[0]), [ON], "vm0 still wants it");
    a.assert_no_event(Duration::from_millis(100));
    a.ok(POWER, 4, &[0, 0, OFF]);
    assert_eq!(b.ok(POWER, 5, &[0]), [OFF]);
    assert_eq!(
        a.events(Duration::from_secs(2)),
        [vec![header(POWER, 0, 0) | NOTIFICATION, 1, 0, OFF]]
    );
}
