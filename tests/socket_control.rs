//! The control socket: private without a group, an optional uid allowlist checked before
//! any RPC byte, and a cap on the listeners one peer may hold.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use drivervm::control::iface::{self, IDriverVm::IDriverVm, IDriverVmListener::IDriverVmListener};
use drivervm::control::{self, BinderResult, Interface, Target, MAX_LISTENERS_PER_PEER};
use support::{Service, TWO_GUESTS};

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "vm1-scmi.sock", "control.sock"];

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn status(svc: &Service) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .arg("status")
        .output()
        .expect("run drivervmctl")
}

#[test]
fn the_control_socket_is_owner_only_without_a_group() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let meta = std::fs::symlink_metadata(svc.socket("control.sock")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), me());
    assert!(status(&svc).status.success());
}

#[test]
fn a_uid_outside_control_uids_is_refused_before_any_rpc_byte() {
    let other = me().wrapping_add(1);
    let svc = Service::start(
        &format!("[service]\ncontrol_uids = [{other}]\n{TWO_GUESTS}"),
        &SOCKETS,
    );
    let mut raw = UnixStream::connect(svc.socket("control.sock")).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // As for device sockets: a reset means the bytes were never read, EPIPE that the
    // socket was closed before they were written.
    match raw.write_all(&[0u8; 32]) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::BrokenPipe),
        Ok(()) => {
            let got = raw.read(&mut [0u8; 8]);
            assert!(
                matches!(&got, Err(e) if e.kind() == ErrorKind::ConnectionReset),
                "{got:?}\n{}",
                svc.log()
            );
        }
    }
    let out = status(&svc);
    assert!(!out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = format!(
        "refused unix peer uid {}: not in service.control_uids",
        me()
    );
    while !svc.log().contains(&line) {
        assert!(Instant::now() < deadline, "{}", svc.log());
        std::thread::sleep(Duration::from_millis(10));
    }

    // Listed: served.
    let svc = Service::start(
        &format!(
            "[service]\ncontrol_uids = [{other}, {}]\n{TWO_GUESTS}",
            me()
        ),
        &SOCKETS,
    );
    let out = status(&svc);
    assert!(out.status.success(), "{out:?}\n{}", svc.log());
}

/// A listener that ignores every event.
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
fn one_peer_cannot_hold_every_listener_slot() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let target = Target::Unix(svc.socket("control.sock"));
    let conn = control::connect(&target, true).unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    let mut held = Vec::new();
    for i in 0..MAX_LISTENERS_PER_PEER {
        let l = control::new_listener(Quiet);
        conn.service
            .r#registerListener(&l)
            .unwrap_or_else(|e| panic!("listener {i}: {e:?}\n{}", svc.log()));
        held.push(l);
    }
    let extra = control::new_listener(Quiet);
    let refused = conn.service.r#registerListener(&extra).unwrap_err();
    let (code, text) = control::describe_status(&refused);
    assert_eq!(code, Some(iface::IDriverVm::ERROR_TOO_MANY_LISTENERS));
    assert!(text.contains(&format!("from uid {}", me())), "{text}");
    // Giving one back makes room for it.
    conn.service.r#unregisterListener(&held[0]).unwrap();
    conn.service.r#registerListener(&extra).unwrap();
}
