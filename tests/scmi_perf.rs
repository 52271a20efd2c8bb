//! The SCMI performance domain protocol end to end over both transports:
//! vhost-user and the Gunyah simulator.

mod support;

use std::time::Duration;

use support::agent::Agent;
use support::platform::{DEVICES, PLATFORM};
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    every_perf_message_and_error,
    level_and_limit_notifications_follow_the_other_guest,
);

const PERF: u8 = 0x13;

fn every_perf_message_and_error(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    assert_eq!(a.ok(PERF, 0, &[]), [0x0003_0000]);
    assert_eq!(a.ok(PERF, 1, &[]), [(1 << 17) | 1, 0, 0, 0]);
    for m in (3..=0xa).chain([0xc, 0x10]) {
        assert_eq!(a.ok(PERF, 2, &[m]), [0], "message {m:#x}");
    }
    assert_eq!(a.status(PERF, 2, &[0xb]), NOT_FOUND, "no fast channels");
    let r = a.ask(PERF, 3, &[0]);
    assert_eq!(r.words()[..4], [0xf400_0000, 0, 300_000, 300]);
    assert_eq!(r.name(16), "cpu");
    assert_eq!(a.ask(PERF, 0xc, &[0]).long_name(4, 64), "cpu");
    assert_eq!(
        a.ok(PERF, 4, &[0, 0]),
        [3, 100, 1000, 10, 200, 2000, 10, 300, 3000, 10]
    );
    let r = a.ask_sized(PERF, 4, &[0, 1], 8 + 4 + 12);
    assert_eq!(r.words(), [(1 << 16) | 1, 200, 2000, 10], "paged");
    assert_eq!(a.status(PERF, 4, &[0, 4]), INVALID_PARAMETERS);
    assert_eq!(a.ok(PERF, 8, &[0]), [100]);
    a.ok(PERF, 7, &[0, 300]);
    assert_eq!(a.ok(PERF, 8, &[0]), [300]);
    assert_eq!(a.status(PERF, 7, &[0, 250]), OUT_OF_RANGE);
    assert_eq!(a.ok(PERF, 6, &[0]), [300, 100]);
    a.ok(PERF, 5, &[0, 200, 100]);
    assert_eq!(a.ok(PERF, 8, &[0]), [200], "clamped by the limit");
    assert_eq!(a.status(PERF, 7, &[0, 300]), OUT_OF_RANGE);
    assert_eq!(a.status(PERF, 5, &[0, 100, 200]), INVALID_PARAMETERS);
    assert_eq!(a.status(PERF, 5, &[0, 400, 100]), OUT_OF_RANGE);
    assert_eq!(a.status(PERF, 7, &[1, 100]), NOT_FOUND);
    assert_eq!(a.status(PERF, 7, &[0]), PROTOCOL_ERROR);
}

fn level_and_limit_notifications_follow_the_other_guest(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = Agent::attach(&svc, DEVICES[0], true);
    let mut b = Agent::attach(&svc, DEVICES[1], true);
    a.post_event_buffers(3);
    b.ok(PERF, 7, &[0, 200]);
    a.assert_no_event(Duration::from_millis(100));
    a.ok(PERF, 0xa, &[0, 1]);
    a.ok(PERF, 9, &[0, 1]);
    b.ok(PERF, 7, &[0, 300]);
    assert_eq!(
        a.events(Duration::from_secs(2)),
        [vec![header(PERF, 1, 0) | NOTIFICATION, 2, 0, 300]]
    );
    b.ok(PERF, 5, &[0, 300, 200]);
    assert_eq!(
        a.events(Duration::from_secs(2)),
        [vec![header(PERF, 0, 0) | NOTIFICATION, 2, 0, 300, 200]]
    );
    // vm0 asking for less than vm1 changes nothing: the highest request wins.
    a.ok(PERF, 7, &[0, 200]);
    assert_eq!(b.ok(PERF, 8, &[0]), [300]);
}
