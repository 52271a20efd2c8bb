//! The socket face against clients that stall, hog or reconnect.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use super::*;
use crate::devices::rpmb::constants::*;
use crate::devices::rpmb::engine::EngineLimits;
use crate::devices::rpmb::frame::Frame;
use crate::hw::rpmb::memory::MemoryRpmb;

/// Generous: the server must act within MESSAGE_TIMEOUT; a busy machine may add seconds.
const PATIENCE: Duration = Duration::from_secs(30);

fn server() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmb.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let engine = RpmbEngine::new(MemoryRpmb::new(512).unwrap(), EngineLimits::default()).unwrap();
    std::thread::spawn(move || serve("t-rpmb", engine, listener));
    (dir, path)
}

fn connect(path: &std::path::Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// GET_WRITE_COUNTER as an rpmb_dev message: one response frame, one command frame.
fn counter_request() -> Vec<u8> {
    let mut m = 1u16.to_ne_bytes().to_vec();
    m.extend_from_slice(&1u16.to_ne_bytes());
    m.extend_from_slice(&Frame::serialize_all(&[Frame::with_type(
        REQ_GET_WRITE_COUNTER,
    )]));
    m
}

fn assert_served(s: &mut UnixStream) {
    s.write_all(&counter_request()).unwrap();
    let mut resp = [0u8; 512];
    s.read_exact(&mut resp).unwrap();
    let f = Frame::from_slice(&resp).unwrap();
    assert_eq!(f.req_resp(), RESP_GET_WRITE_COUNTER);
    assert_eq!(f.result(), RES_NO_AUTH_KEY);
}

/// Reads until the server closes the connection; panics if it does not within PATIENCE.
fn assert_closed(s: &mut UnixStream) {
    let mut b = [0u8; 512];
    loop {
        match s.read(&mut b) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

#[test]
fn a_client_stalled_mid_message_is_dropped_after_the_timeout() {
    let (_dir, path) = server();
    let mut stalled = connect(&path);
    stalled.write_all(&counter_request()[..10]).unwrap();
    let t = Instant::now();
    assert_closed(&mut stalled);
    assert!(t.elapsed() >= MESSAGE_TIMEOUT - Duration::from_millis(100));
    let mut next = connect(&path);
    assert_served(&mut next);
}

#[test]
fn a_new_client_replaces_an_idle_one() {
    let (_dir, path) = server();
    let mut first = connect(&path);
    assert_served(&mut first);
    // The first client now sits idle forever: it must not keep the next one out.
    let mut second = connect(&path);
    assert_served(&mut second);
    assert_closed(&mut first);
    assert_served(&mut second);
}

#[test]
fn an_idle_client_is_kept() {
    let (_dir, path) = server();
    let mut c = connect(&path);
    assert_served(&mut c);
    std::thread::sleep(MESSAGE_TIMEOUT + Duration::from_millis(500));
    assert_served(&mut c);
}
