//! The SCMI clock protocol end to end over both transports (vhost-user and the Gunyah
//! simulator): every message and error, paging of long rate lists, asynchronous rate
//! changes with their delayed responses, notifications after subscription only, and one
//! clock shared by two guests.

mod support;

use std::time::Duration;

use support::agent::Agent;
use support::platform::{DEVICES, PLATFORM};
use support::scmi::*;
use support::transport::{Served, Transport};

over_both_transports!(
    discovery_names_and_attributes,
    rates_are_described_in_pages_that_fit_the_buffer,
    rate_set_get_and_every_error,
    config_and_parents,
    async_rate_set_answers_then_sends_the_delayed_response,
    too_many_async_requests_get_busy,
    notifications_only_after_subscription,
    shared_clocks_count_enables_and_follow_their_policy,
);

const CLOCK: u8 = 0x14;
const MHZ: u32 = 1_000_000;
const QUIET: Duration = Duration::from_millis(100);
const SOON: Duration = Duration::from_secs(2);

fn vm(svc: &Served, i: usize) -> Agent {
    Agent::attach(svc, DEVICES[i], true)
}

fn rate(a: &mut Agent, id: u32) -> u32 {
    let r = a.ok(CLOCK, 6, &[id]);
    assert_eq!(r[1], 0, "high word");
    r[0]
}

fn discovery_names_and_attributes(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    assert_eq!(a.ok(CLOCK, 0, &[]), [0x0003_0000]);
    assert_eq!(a.ok(CLOCK, 1, &[]), [(4 << 16) | 6]);
    for m in (0..=0xe).chain([0x10]) {
        assert_eq!(a.ok(CLOCK, 2, &[m]), [0], "message {m:#x} implemented");
    }
    assert_eq!(
        a.status(CLOCK, 2, &[0xf]),
        NOT_FOUND,
        "no GET_PERMISSIONS in 3.0"
    );
    assert_eq!(a.ok(CLOCK, 0x10, &[0x0003_0000]), Vec::<u32>::new());
    assert_eq!(a.status(CLOCK, 0x10, &[0x0002_0000]), NOT_SUPPORTED);
    let r = a.ask(CLOCK, 3, &[2]);
    assert_eq!(r.status, SUCCESS);
    assert_eq!(
        r.word(0),
        0xf000_0000,
        "notifications, long name, parent; gated"
    );
    assert_eq!(r.name(4), "pll");
    assert_eq!(r.word(5), 50, "enable latency");
    assert_eq!(
        a.ask(CLOCK, 3, &[1]).word(0),
        0xe000_0001,
        "xo: on, no parent"
    );
    let r = a.ask(CLOCK, 8, &[3]);
    assert_eq!((r.word(0), r.long_name(4, 64).as_str()), (0, "sdcc"));
    assert_eq!(r.payload.len(), 68);
    // vm1 sees its own three clocks only, renumbered.
    let mut b = vm(&svc, 1);
    assert_eq!(b.ok(CLOCK, 1, &[]), [(4 << 16) | 3]);
    assert_eq!(b.ask(CLOCK, 3, &[2]).name(4), "uart");
    assert_eq!(
        b.ask(CLOCK, 3, &[2]).word(0) & (1 << 28),
        0,
        "its parents are not granted"
    );
    assert_eq!(b.status(CLOCK, 3, &[3]), NOT_FOUND);
}

fn rates_are_described_in_pages_that_fit_the_buffer(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    // 40 rates: a 136-byte buffer holds 15 per reply.
    let r = a.ok(CLOCK, 4, &[3, 0]);
    assert_eq!(r[0], (25 << 16) | 15);
    for room in [136u32, 8 + 4 + 8, 8 + 4 + 7 * 8] {
        let mut got = Vec::new();
        let mut index = 0;
        loop {
            let r = a.ask_sized(CLOCK, 4, &[3, index], room);
            assert_eq!(r.status, SUCCESS);
            let w = r.words();
            let (returned, remaining) = (w[0] & 0xfff, w[0] >> 16);
            assert_eq!(w[0] & (1 << 12), 0, "discrete");
            assert_eq!(w.len(), 1 + 2 * returned as usize);
            assert!(8 + 4 + 8 * returned <= room, "reply fits {room}");
            got.extend(w[1..].chunks(2).map(|p| p[0]));
            index += returned;
            assert_eq!(remaining, 40 - index);
            if remaining == 0 {
                break;
            }
        }
        assert_eq!(
            got,
            (1..=40).map(|i| i * MHZ).collect::<Vec<_>>(),
            "room {room}"
        );
    }
    assert_eq!(a.ok(CLOCK, 4, &[3, 40]), [0]);
    assert_eq!(a.status(CLOCK, 4, &[3, 41]), OUT_OF_RANGE);
    // A range is the min/max/step triplet.
    assert_eq!(
        a.ok(CLOCK, 4, &[2, 0]),
        [0x1003, 300 * MHZ, 0, 1200 * MHZ, 0, 100 * MHZ, 0]
    );
    assert_eq!(a.status(CLOCK, 4, &[2, 1]), OUT_OF_RANGE);
    assert_eq!(a.status(CLOCK, 4, &[9, 0]), NOT_FOUND);
    assert_eq!(a.status(CLOCK, 4, &[2]), PROTOCOL_ERROR);
}

fn rate_set_get_and_every_error(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    assert_eq!(rate(&mut a, 0), 19_200_000);
    assert_eq!(a.ok(CLOCK, 5, &[0, 0, 60 * MHZ, 0]), Vec::<u32>::new());
    assert_eq!(rate(&mut a, 0), 48 * MHZ, "rounded down");
    a.ok(CLOCK, 5, &[1 << 2, 0, 60 * MHZ, 0]);
    assert_eq!(rate(&mut a, 0), 100 * MHZ, "rounded up");
    a.ok(CLOCK, 5, &[1 << 3, 0, 40 * MHZ, 0]);
    assert_eq!(rate(&mut a, 0), 48 * MHZ, "nearest");
    a.ok(CLOCK, 5, &[0, 2, 750 * MHZ, 0]);
    assert_eq!(rate(&mut a, 2), 700 * MHZ, "range step");
    assert_eq!(a.status(CLOCK, 5, &[0, 0, 200 * MHZ, 0]), OUT_OF_RANGE);
    assert_eq!(
        a.status(CLOCK, 5, &[0, 2, 0, 1]),
        OUT_OF_RANGE,
        "above 2^32 Hz"
    );
    assert_eq!(
        a.status(CLOCK, 5, &[0, 1, 19_200_000, 0]),
        DENIED,
        "read-only"
    );
    assert_eq!(a.status(CLOCK, 5, &[0, 6, MHZ, 0]), NOT_FOUND);
    assert_eq!(a.status(CLOCK, 5, &[1 << 4, 0, MHZ, 0]), INVALID_PARAMETERS);
    assert_eq!(a.status(CLOCK, 5, &[0, 0, MHZ]), PROTOCOL_ERROR);
    assert_eq!(a.status(CLOCK, 6, &[0, 0]), PROTOCOL_ERROR);
    assert_eq!(a.status(CLOCK, 6, &[]), PROTOCOL_ERROR);
    assert_eq!(a.status(CLOCK, 6, &[6]), NOT_FOUND);
    // A read-only guest reads the rate another guest set.
    let mut b = vm(&svc, 1);
    assert_eq!(rate(&mut b, 2), 48 * MHZ);
    assert_eq!(b.status(CLOCK, 5, &[0, 2, 19_200_000, 0]), DENIED);
}

fn config_and_parents(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    assert_eq!(a.ok(CLOCK, 0xb, &[0, 0]), [0, 0, 0]);
    a.ok(CLOCK, 7, &[0, 1, 0]);
    assert_eq!(a.ok(CLOCK, 0xb, &[0, 0]), [0, 1, 0]);
    a.ok(CLOCK, 7, &[0, 3, 0]);
    assert_eq!(a.ok(CLOCK, 0xb, &[0, 0])[1], 1, "3 leaves it unchanged");
    a.ok(CLOCK, 7, &[0, 0, 0]);
    assert_eq!(a.ok(CLOCK, 0xb, &[0, 0])[1], 0);
    assert_eq!(a.status(CLOCK, 7, &[0, 2, 0]), INVALID_PARAMETERS);
    assert_eq!(
        a.status(CLOCK, 7, &[0, 0x1_0001, 9]),
        NOT_SUPPORTED,
        "OEM config"
    );
    assert_eq!(a.status(CLOCK, 7, &[1, 0, 0]), DENIED);
    assert_eq!(a.status(CLOCK, 7, &[6, 1, 0]), NOT_FOUND);
    assert_eq!(a.status(CLOCK, 7, &[0, 1]), PROTOCOL_ERROR);
    assert_eq!(a.status(CLOCK, 0xb, &[0, 3]), NOT_SUPPORTED, "OEM config");
    // uart muxes between xo (agent clock 1) and pll (2).
    assert_eq!(a.ok(CLOCK, 0xc, &[0, 0]), [2, 1, 2]);
    assert_eq!(a.ok(CLOCK, 0xc, &[0, 1]), [1, 2]);
    let r = a.ask_sized(CLOCK, 0xc, &[0, 0], 8 + 8);
    assert_eq!(
        r.words(),
        [(1 << 24) | 1, 1],
        "one per reply in a small buffer"
    );
    assert_eq!(a.status(CLOCK, 0xc, &[0, 3]), INVALID_PARAMETERS);
    assert_eq!(
        a.status(CLOCK, 0xc, &[1, 0]),
        NOT_SUPPORTED,
        "xo has no parent"
    );
    assert_eq!(a.ok(CLOCK, 0xe, &[0]), [1]);
    a.ok(CLOCK, 0xd, &[0, 2]);
    assert_eq!(a.ok(CLOCK, 0xe, &[0]), [2]);
    assert_eq!(
        a.status(CLOCK, 0xd, &[0, 3]),
        INVALID_PARAMETERS,
        "sdcc is no parent"
    );
    assert_eq!(a.status(CLOCK, 0xd, &[0, 9]), NOT_FOUND);
    assert_eq!(a.status(CLOCK, 0xd, &[1, 0]), DENIED);
    assert_eq!(a.status(CLOCK, 0xe, &[4]), NOT_SUPPORTED);
    assert_eq!(a.status(CLOCK, 0xd, &[0]), PROTOCOL_ERROR);
}

fn async_rate_set_answers_then_sends_the_delayed_response(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    a.post_event_buffers(2);
    let r = a.ask(CLOCK, 5, &[1, 2, 900 * MHZ, 0]);
    assert_eq!((r.status, r.payload.len()), (SUCCESS, 0));
    let token = u32::from(a.last_token());
    let ev = a.events(SOON);
    assert_eq!(
        ev,
        [vec![
            header(CLOCK, 5, token as u16) | DELAYED,
            0,
            2,
            900 * MHZ,
            0
        ]]
    );
    assert_eq!(rate(&mut a, 2), 900 * MHZ);
    // "Ignore delayed response": the rate changes, nothing is sent.
    a.ok(CLOCK, 5, &[0b11, 2, 400 * MHZ, 0]);
    a.assert_no_event(QUIET);
    assert_eq!(rate(&mut a, 2), 400 * MHZ);
    // Without the P2A channel, async requests still change the rate.
    let mut b = Agent::attach(&svc, DEVICES[1], false);
    assert_eq!(b.ok(CLOCK, 5, &[1, 0, 300, 0]), Vec::<u32>::new());
    std::thread::sleep(QUIET);
    assert_eq!(b.ok(CLOCK, 6, &[0]), [300, 0]);
}

fn too_many_async_requests_get_busy(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    // Five async requests in one kick: the fifth exceeds the four the platform takes.
    let heads: Vec<u16> = (0..5)
        .map(|i| {
            a.h.submit(CMDQ, &command(CLOCK, 5, 100 + i, &[1, 2, 500 * MHZ, 0]), 16)
                .expect("submit")
        })
        .collect();
    let mut statuses = Vec::new();
    for head in heads {
        let c = a.h.wait_for(CMDQ, head, SOON).expect("reply");
        statuses.push(Response::parse(&c.data).status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == SUCCESS).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == BUSY).count(),
        1,
        "{statuses:?}"
    );
}

fn notifications_only_after_subscription(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    let mut b = vm(&svc, 1);
    a.post_event_buffers(4);
    // Not subscribed: vm1's change of the shared clock says nothing to vm0.
    b.ok(CLOCK, 5, &[0, 0, 200, 0]);
    a.assert_no_event(QUIET);
    // Subscribed to changes and to requests of "shared" (vm0 clock 4).
    a.ok(CLOCK, 9, &[4, 1]);
    a.ok(CLOCK, 0xa, &[4, 1]);
    b.ok(CLOCK, 5, &[0, 0, 300, 0]);
    let mut ev = a.events(SOON);
    if ev.len() < 2 {
        ev.extend(a.events(SOON));
    }
    // Agent 2 (vm1) asked for 300, and the clock now runs at 300; clock 4 in vm0's view.
    assert_eq!(
        ev,
        [
            vec![header(CLOCK, 1, 0) | NOTIFICATION, 2, 4, 300, 0],
            vec![header(CLOCK, 0, 0) | NOTIFICATION, 2, 4, 300, 0],
        ]
    );
    // A request that changes nothing (vm0's own 300 does not beat vm1's) is still a request.
    a.ok(CLOCK, 0xa, &[4, 0]);
    a.ok(CLOCK, 5, &[0, 4, 100, 0]);
    a.assert_no_event(QUIET);
    assert_eq!(a.ok(CLOCK, 6, &[4]), [300, 0], "highest wins");
    assert_eq!(a.status(CLOCK, 9, &[4, 2]), INVALID_PARAMETERS);
    assert_eq!(a.status(CLOCK, 9, &[6, 1]), NOT_FOUND);
    assert_eq!(a.status(CLOCK, 0xa, &[4]), PROTOCOL_ERROR);
}

fn shared_clocks_count_enables_and_follow_their_policy(t: Transport) {
    let svc = Served::start(t, PLATFORM);
    let mut a = vm(&svc, 0);
    let mut b = vm(&svc, 1);
    // "shared" is vm0's 4 and vm1's 0: on while either wants it.
    a.ok(CLOCK, 7, &[4, 1, 0]);
    b.ok(CLOCK, 7, &[0, 1, 0]);
    a.ok(CLOCK, 7, &[4, 0, 0]);
    assert_eq!(a.ok(CLOCK, 0xb, &[4, 0])[1], 1, "vm1 still holds it");
    b.ok(CLOCK, 7, &[0, 0, 0]);
    assert_eq!(a.ok(CLOCK, 0xb, &[4, 0])[1], 0);
    // "owned" (owner vm1): vm0's requests apply only while vm1 has made none.
    a.ok(CLOCK, 5, &[0, 5, 300, 0]);
    assert_eq!(b.ok(CLOCK, 6, &[1]), [300, 0]);
    b.ok(CLOCK, 5, &[0, 1, 100, 0]);
    a.ok(CLOCK, 5, &[0, 5, 200, 0]);
    assert_eq!(a.ok(CLOCK, 6, &[5]), [100, 0], "the owner's 100 wins");
    // A guest that goes away holds nothing: vm0's enable and its 300 request on "shared"
    // lapse, leaving vm1's 200.
    a.ok(CLOCK, 7, &[4, 1, 0]);
    a.ok(CLOCK, 5, &[0, 4, 300, 0]);
    b.ok(CLOCK, 5, &[0, 0, 200, 0]);
    assert_eq!(b.ok(CLOCK, 0xb, &[0, 0])[1], 1);
    assert_eq!(b.ok(CLOCK, 6, &[0]), [300, 0]);
    a.h.disconnect().expect("disconnect");
    let deadline = std::time::Instant::now() + SOON;
    while b.ok(CLOCK, 0xb, &[0, 0])[1] == 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(b.ok(CLOCK, 0xb, &[0, 0])[1], 0, "gated once vm0 left");
    assert_eq!(b.ok(CLOCK, 6, &[0]), [200, 0]);
}
