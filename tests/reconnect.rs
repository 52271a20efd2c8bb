//! A VMM restart must not need a service restart: the same socket serves frontend after
//! frontend, the device is reset in between, and nothing leaks.

mod support;

use std::os::unix::fs::MetadataExt;

use drivervm::harness::HarnessOptions;
use support::scmi::*;
use support::{Service, TWO_GUESTS};

fn version_ok(h: &mut drivervm::harness::Harness, token: u16) {
    let r = Response::parse(&h.request(CMDQ, &command(0x10, 0, token, &[]), 16).unwrap());
    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
}

#[test]
fn ten_reconnects_on_the_same_socket_leak_no_fds_or_threads() {
    let svc = Service::start(TWO_GUESTS, &["vm0-scmi.sock", "vm1-scmi.sock"]);
    let path = svc.socket("vm0-scmi.sock");
    let inode = std::fs::metadata(&path).unwrap().ino();

    // One full cycle first, so lazily created resources exist before counting.
    let mut h = svc.connect("vm0-scmi.sock", &HarnessOptions::default());
    version_ok(&mut h, 0);
    h.disconnect().unwrap();
    let settle = || std::thread::sleep(std::time::Duration::from_millis(100));
    settle();
    let (fds, threads) = (svc.fd_count(), svc.thread_count());
    assert!(fds > 0 && threads > 0);

    for cycle in 0..10u16 {
        let mut h = svc.connect("vm0-scmi.sock", &HarnessOptions::default());
        for i in 0..5 {
            version_ok(&mut h, cycle * 8 + i);
        }
        // Alternate a clean stop with a VMM that just dies.
        if cycle % 2 == 0 {
            h.disconnect().unwrap();
        } else {
            h.disconnect_abruptly();
        }
        settle();
        assert!(path.exists(), "socket vanished after cycle {cycle}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            inode,
            "same socket"
        );
    }
    settle();
    assert_eq!(
        svc.fd_count(),
        fds,
        "fds leaked over 10 reconnects:\n{}",
        svc.log()
    );
    assert_eq!(
        svc.thread_count(),
        threads,
        "threads leaked over 10 reconnects"
    );
    let resets = svc.log().matches("vm0-scmi: device reset").count();
    assert_eq!(resets, 11, "one reset per disconnect:\n{}", svc.log());
}

#[test]
fn buffers_left_in_flight_by_a_dead_frontend_do_not_reach_the_next_one() {
    let svc = Service::start(TWO_GUESTS, &["vm0-scmi.sock", "vm1-scmi.sock"]);
    let mut h = svc.connect("vm0-scmi.sock", &HarnessOptions::default());
    for i in 0..32 {
        h.submit(CMDQ, &command(0x10, 0, i, &[]), 16).unwrap();
    }
    // Kicked but never collected: the VMM dies with requests in flight.
    h.kick(CMDQ).unwrap();
    h.disconnect_abruptly();
    let mut h = svc.connect("vm0-scmi.sock", &HarnessOptions::default());
    for i in 0..8 {
        version_ok(&mut h, 100 + i);
    }
    assert!(
        h.poll_completions(CMDQ).unwrap().is_empty(),
        "no stray completions"
    );
    h.disconnect().unwrap();
}
