//! A client that dies holding a listener slot gives it back at once: the service links to
//! each listener's death. Without that, `MAX_LISTENERS` clients that die without
//! unregistering would fill every slot for good (nothing else ever calls a silent
//! service's listeners, so no failed call would free them either).

mod support;

use std::process::Child;
use std::time::Duration;

use drivervm::control::iface::{self, IDriverVm::IDriverVm, IDriverVmListener::IDriverVmListener};
use drivervm::control::{
    self, BinderResult, Interface, Target, MAX_LISTENERS, MAX_LISTENERS_PER_PEER,
};
use support::{eventually, watcher, Service, TWO_GUESTS};

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "vm1-scmi.sock", "control.sock"];

/// Client processes alive at once: each holds a session of a few connections, and the
/// control socket admits a bounded number per peer (all of these run as one uid).
const BATCH: usize = 4;

struct Quiet;

impl Interface for Quiet {}

impl IDriverVmListener for Quiet {
    fn r#onLinkStateChanged(&self, _: &str, _: iface::LinkState::LinkState) -> BinderResult<()> {
        Ok(())
    }
    fn r#onDeviceStateChanged(&self, _: &str) -> BinderResult<()> {
        Ok(())
    }
}

#[test]
fn max_listeners_clients_killed_holding_their_slots_leave_every_slot_free() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let registered = || svc.log().matches("control: listener registered (").count();
    let died = || {
        svc.log()
            .matches("control: a listener's client died (")
            .count()
    };

    let mut total = 0;
    while total < MAX_LISTENERS {
        let n = BATCH.min(MAX_LISTENERS - total);
        let mut batch: Vec<Child> = (0..n).map(|_| watcher(&svc)).collect();
        eventually(
            "the batch's listeners register",
            Duration::from_secs(30),
            || registered() == total + n,
        );
        // Killed, not closed: no unregisterListener, no orderly goodbye.
        for c in &mut batch {
            c.kill().expect("kill drivervmctl");
        }
        for c in &mut batch {
            c.wait().expect("wait");
        }
        total += n;
        eventually(
            "every killed client's listener is dropped",
            Duration::from_secs(30),
            || died() == total,
        );
        assert!(
            svc.log().contains("a listener's client died (0 left)"),
            "{}",
            svc.log()
        );
    }
    // Death notifications freed them, not failed calls.
    assert!(!svc.log().contains("dropping a listener whose call failed"));

    // Every slot is free again. All the dead clients ran as this uid, and one uid may hold
    // MAX_LISTENERS_PER_PEER listeners: a further client of this uid gets exactly that
    // many, which it could not if any dead listener were still counted, and the cap holds.
    let conn = control::connect(&Target::Unix(svc.socket("control.sock")), true).expect("connect");
    let mut held = Vec::new();
    for i in 0..MAX_LISTENERS_PER_PEER {
        let l = control::new_listener(Quiet);
        conn.service
            .r#registerListener(&l)
            .unwrap_or_else(|e| panic!("listener {} after the deaths: {e:?}", i + 1));
        held.push(l);
    }
    let extra = control::new_listener(Quiet);
    let refused = conn.service.r#registerListener(&extra).unwrap_err();
    assert_eq!(
        control::describe_status(&refused).0,
        Some(iface::IDriverVm::ERROR_TOO_MANY_LISTENERS)
    );
}
