//! The control endpoints' own accept loop: admission caps hold, and freed slots are reused.

mod support;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Service, TWO_GUESTS};

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "vm1-scmi.sock", "control.sock"];

/// Connections one peer (here: this uid) may hold on an endpoint.
const MAX_PER_PEER: usize = 16;

fn status(svc: &Service) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .arg("status")
        .output()
        .expect("run drivervmctl")
}

#[test]
fn one_peer_cannot_take_every_connection() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let path = svc.socket("control.sock");
    // Silent peers hold their slots (until rsbinder's 10 s handshake deadline).
    let held: Vec<UnixStream> = (0..MAX_PER_PEER)
        .map(|_| UnixStream::connect(&path).expect("connect"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !svc.log().contains("per-peer connection cap") {
        assert!(Instant::now() < deadline, "never refused:\n{}", svc.log());
        // One more from the same uid: closed at once, before any RPC byte.
        let mut extra = UnixStream::connect(&path).expect("connect");
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 1];
        assert_eq!(extra.read(&mut buf).expect("read"), 0, "expected EOF");
    }
    let out = status(&svc);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // The held connections go; their slots come back without waiting for any deadline.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = status(&svc);
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed: {out:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
