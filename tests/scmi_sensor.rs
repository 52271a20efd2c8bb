//! The SCMI sensor protocol end to end over both transports:
//! vhost-user and the Gunyah simulator.

mod support;

use std::time::Duration;

use support::agent::Agent;
use support::platform::{DEVICES, PLATFORM};
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    every_sensor_message_and_error,
    continuous_updates_arrive_once_subscribed,
);

const SENSOR: u8 = 0x15;

fn every_sensor_message_and_error(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    assert_eq!(a.ok(SENSOR, 0, &[]), [0x0003_0000]);
    assert_eq!(a.ok(SENSOR, 1, &[]), [2, 0, 0, 0]);
    for m in [3, 4, 5, 6, 8, 9, 0xa, 0xb, 0xc, 0x10] {
        assert_eq!(a.ok(SENSOR, 2, &[m]), [0], "message {m:#x}");
    }
    assert_eq!(a.status(SENSOR, 2, &[7]), NOT_FOUND, "no axes");
    let r = a.ask(SENSOR, 3, &[0]);
    let w = r.words();
    assert_eq!(w[..4], [2, 0, 0x6000_5e04, (0x1d << 11) | 2]);
    assert_eq!(r.name(16), "thermal");
    let r = a.ask_sized(SENSOR, 3, &[1], 8 + 4 + 28);
    assert_eq!(r.words()[..2], [1, 1], "one descriptor, none remaining");
    assert_eq!(r.name(16), "vbat");
    assert_eq!(a.status(SENSOR, 3, &[3]), INVALID_PARAMETERS);
    let r = a.ok(SENSOR, 6, &[0, 0]);
    assert_eq!((r.len(), r[0], r[1]), (4, 42_000, 0));
    assert_eq!(
        a.status(SENSOR, 6, &[0, 1]),
        NOT_SUPPORTED,
        "no async reads"
    );
    assert_eq!(a.status(SENSOR, 6, &[2, 0]), NOT_FOUND);
    assert_eq!(a.ok(SENSOR, 8, &[1, 0]), [1, 1 << 5]);
    assert_eq!(a.ok(SENSOR, 9, &[0]), [(1 << 16) | 3]);
    a.ok(SENSOR, 0xa, &[0, 0]);
    assert_eq!(a.ok(SENSOR, 9, &[0]), [1 << 16]);
    assert_eq!(a.status(SENSOR, 0xa, &[0, (5 << 16) | 1]), OUT_OF_RANGE);
    assert_eq!(a.status(SENSOR, 0xa, &[0, 1 << 5]), INVALID_PARAMETERS);
    assert_eq!(a.status(SENSOR, 0xa, &[1, 1]), DENIED);
    assert_eq!(a.status(SENSOR, 5, &[1, 1, 0, 0]), DENIED);
    assert_eq!(
        a.status(SENSOR, 5, &[0, (4 << 4) | 1, 0, 0]),
        INVALID_PARAMETERS
    );
    a.ok(SENSOR, 5, &[0, (1 << 4) | 1, 50_000, 0]);
    assert_eq!(a.status(SENSOR, 5, &[0, 1, 0]), PROTOCOL_ERROR);
    assert_eq!(a.ask(SENSOR, 0xc, &[1]).long_name(4, 64), "vbat");
}

fn continuous_updates_arrive_once_subscribed(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut b = Agent::attach(&svc, DEVICES[1], true);
    b.post_event_buffers(2);
    b.assert_no_event(Duration::from_millis(200));
    b.ok(SENSOR, 0xb, &[0, 1]);
    let ev = b.events(Duration::from_secs(3));
    assert_eq!(ev.len(), 1, "{ev:x?}");
    assert_eq!(
        ev[0][..5],
        [header(SENSOR, 1, 0) | NOTIFICATION, 2, 0, 3_800_000, 0]
    );
    assert_eq!(ev[0].len(), 7, "value and timestamp");
    // The next one a second later (update_interval_s = 1).
    let ev = b.events(Duration::from_secs(3));
    assert_eq!(ev.len(), 1, "{ev:x?}");
    b.ok(SENSOR, 0xb, &[0, 0]);
    b.post_event_buffers(1);
    b.assert_no_event(Duration::from_millis(1500));
}
