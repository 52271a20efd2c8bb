//! Who may become a device's frontend: the per-device peer allowlist (SO_PEERCRED, checked
//! before any vhost-user message is read) and per-guest socket owners (one guest's VMM user
//! cannot open another guest's socket).

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use drivervm::harness::skip::skipped;
use drivervm::harness::HarnessOptions;
use support::scmi::*;
use support::Service;

/// vm0's scmi device admits only `uids`.
fn config(peer_uids: &str) -> String {
    format!(
        r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
peer_uids = {peer_uids}

[[guest]]
name = "vm1"
[[guest.device]]
kind = "scmi"
"#
    )
}

const SOCKETS: [&str; 2] = ["vm0-scmi.sock", "vm1-scmi.sock"];

fn me() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// VHOST_USER_GET_FEATURES with no body: the first thing a frontend sends.
const GET_FEATURES: [u8; 12] = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];

fn version_ok(h: &mut drivervm::harness::Harness, token: u16) {
    let r = Response::parse(&h.request(CMDQ, &command(0x10, 0, token, &[]), 16).unwrap());
    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
}

#[test]
fn a_peer_outside_the_allowlist_is_refused_before_any_message() {
    let other = me().wrapping_add(1);
    let svc = Service::start(&config(&format!("[{other}]")), &SOCKETS);
    let mut s = UnixStream::connect(svc.socket(SOCKETS[0])).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The kernel tells which: a socket closed with our bytes still unread in its queue
    // makes our read fail with ECONNRESET (a socket that had read them would give EOF),
    // and one closed before we wrote makes the write fail with EPIPE.
    match s.write_all(&GET_FEATURES) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}"),
        Ok(()) => {
            let mut buf = [0u8; 64];
            let got = s.read(&mut buf);
            assert!(
                matches!(&got, Err(e) if e.kind() == ErrorKind::ConnectionReset),
                "expected a reset with the message unread, got {got:?}\n{}",
                svc.log()
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !svc.log().contains("vm0-scmi: refused a frontend") {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            svc.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = svc.log();
    assert!(log.contains(&format!("uid {}", me())), "{log}");
    assert!(!log.contains("vm0-scmi: frontend connected"), "{log}");
    // The device without an allowlist serves this peer as before.
    let mut h = svc.connect(SOCKETS[1], &HarnessOptions::default());
    version_ok(&mut h, 1);
    h.disconnect().unwrap();
}

#[test]
fn refusals_stay_within_the_log_budget() {
    let svc = Service::start(&config(&format!("[{}]", me().wrapping_add(1))), &SOCKETS);
    let started = Instant::now();
    // A connect beyond the listen backlog waits for the service to accept (and refuse).
    for _ in 0..500 {
        drop(UnixStream::connect(svc.socket(SOCKETS[0])).expect("connect"));
    }
    // The last refusals are logged (or counted) once the service catches up.
    std::thread::sleep(Duration::from_millis(500));
    let seconds = started.elapsed().as_secs() + 2;
    let lines = svc.log().matches("vm0-scmi: refused a frontend").count();
    assert!(lines > 0, "{}", svc.log());
    let budget = drivervm::log_budget::LINES_PER_SECOND as u64 * seconds;
    assert!(
        lines as u64 <= budget,
        "{lines} refusal lines for 500 connections in {seconds} s"
    );
    // The service still serves.
    let mut h = svc.connect(SOCKETS[1], &HarnessOptions::default());
    version_ok(&mut h, 2);
    h.disconnect().unwrap();
}

#[test]
fn an_admitted_peer_is_served_through_the_handoff_and_reconnects() {
    let svc = Service::start(&config(&format!("[{}]", me())), &SOCKETS);
    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    for i in 0..4 {
        version_ok(&mut h, i);
    }
    h.disconnect().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (fds, threads) = (svc.fd_count(), svc.thread_count());
    for cycle in 0..5u16 {
        let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
        version_ok(&mut h, 10 + cycle);
        if cycle % 2 == 0 {
            h.disconnect().unwrap();
        } else {
            h.disconnect_abruptly();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(svc.fd_count(), fds, "fds leaked:\n{}", svc.log());
    assert_eq!(svc.thread_count(), threads, "threads leaked");
    // No private handoff directory is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&svc.runtime_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dvm"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(svc.log().contains("frontend connected for guest vm0 (pid "));
}

/// Forks a child that becomes `uid`/`gid` and connects to `path`; its errno (0: connected).
fn connect_as(uid: u32, gid: u32, path: &std::path::Path) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    // Everything the child needs is prepared before fork: after it, only raw syscalls.
    // SAFETY: an all-zero sockaddr_un is a valid value of the type.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: the child calls only async-signal-safe syscalls and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw syscalls on values prepared before fork; the child never returns.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                libc::_exit(100);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(101);
            }
            let r = libc::connect(
                fd,
                (&addr as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            libc::_exit(if r == 0 { 0 } else { *libc::__errno_location() });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child did not exit: {status}");
    libc::WEXITSTATUS(status)
}

#[test]
fn one_guests_socket_cannot_be_opened_by_another_guests_vmm_user() {
    const TEST: &str = "one_guests_socket_cannot_be_opened_by_another_guests_vmm_user";
    if !nix::unistd::geteuid().is_root() {
        skipped(
            TEST,
            "needs root to give sockets to other users and to become them",
        );
        return;
    }
    // Two VMM users that exist nowhere else: only the numbers matter to the kernel.
    let (vmm0, vmm1) = (40_001u32, 40_002u32);
    let config = format!(
        r#"
[[guest]]
name = "vm0"
socket_user = "{vmm0}"
[[guest.device]]
kind = "scmi"

[[guest]]
name = "vm1"
socket_user = "{vmm1}"
[[guest.device]]
kind = "scmi"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    // The VMM users must be able to reach the runtime dir inside the test's private one.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let run = dir.path().join("run");
    let svc = Service::start_in(dir, run, &config, &SOCKETS);
    let vm0 = svc.socket(SOCKETS[0]);
    let vm1 = svc.socket(SOCKETS[1]);
    let meta = std::fs::metadata(&vm0).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (vmm0, 0o600));
    assert_eq!(std::fs::metadata(&vm1).unwrap().uid(), vmm1);
    // Each VMM user reaches its own guest's socket (so the path itself is reachable)...
    assert_eq!(connect_as(vmm0, vmm0, &vm0), 0, "{}", svc.log());
    assert_eq!(connect_as(vmm1, vmm1, &vm1), 0, "{}", svc.log());
    // ...and not the other guest's.
    assert_eq!(connect_as(vmm1, vmm1, &vm0), libc::EACCES);
    assert_eq!(connect_as(vmm0, vmm0, &vm1), libc::EACCES);
}

#[test]
fn a_socket_group_per_guest_overrides_the_service_group() {
    let gid = nix::unistd::getegid().as_raw();
    let config = format!(
        r#"
[service]
socket_group = "{gid}"

[[guest]]
name = "vm0"
socket_group = "{gid}"
[[guest.device]]
kind = "scmi"

[[guest]]
name = "vm1"
[[guest.device]]
kind = "scmi"
"#
    );
    let svc = Service::start(&config, &SOCKETS);
    for s in SOCKETS {
        let meta = std::fs::metadata(svc.socket(s)).unwrap();
        assert_eq!((meta.gid(), meta.mode() & 0o777), (gid, 0o660), "{s}");
    }
}

#[test]
fn an_rpmb_dev_socket_checks_its_peers_too() {
    let config = |uid: u32| {
        format!(
            r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
transport = {{ rpmb-dev = {{ socket = "vm0-rpmb.sock" }} }}
rpmb = {{ image = "vm0.img", capacity_blocks = 512 }}
peer_uids = [{uid}]
"#
        )
    };
    let svc = Service::start(&config(me().wrapping_add(1)), &["vm0-rpmb.sock"]);
    let mut s = UnixStream::connect(svc.socket("vm0-rpmb.sock")).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // res_count 1, cmd_count 1 and a frame would follow: never read.
    match s.write_all(&[1, 0, 1, 0]) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::BrokenPipe),
        Ok(()) => {
            let got = s.read(&mut [0u8; 8]);
            assert!(
                matches!(&got, Err(e) if e.kind() == ErrorKind::ConnectionReset),
                "{got:?}\n{}",
                svc.log()
            );
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !svc.log().contains("vm0-rpmb: refused an rpmb_dev client") {
        assert!(Instant::now() < deadline, "{}", svc.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!svc.log().contains("rpmb_dev client connected"));
    drop(svc);

    let svc = Service::start(&config(me()), &["vm0-rpmb.sock"]);
    let _s = UnixStream::connect(svc.socket("vm0-rpmb.sock")).expect("connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !svc.log().contains("vm0-rpmb: rpmb_dev client connected") {
        assert!(Instant::now() < deadline, "{}", svc.log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_hostile_admitted_frontend_ends_only_its_own_connection() {
    let svc = Service::start(&config(&format!("[{}]", me())), &SOCKETS);
    // A header announcing a body larger than any vhost-user message: the relay reads no
    // further and ends the connection.
    let mut s = UnixStream::connect(svc.socket(SOCKETS[0])).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut m = GET_FEATURES;
    m[8..12].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    s.write_all(&m).unwrap();
    let mut rest = Vec::new();
    let ended = s.read_to_end(&mut rest);
    assert!(
        ended.is_ok() || matches!(&ended, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "{ended:?}"
    );
    assert!(rest.is_empty(), "no reply to a malformed message");
    // The next frontend is served at once.
    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    version_ok(&mut h, 3);
    h.disconnect().unwrap();
    assert!(
        svc.log()
            .contains("vm0-scmi: ending the frontend connection"),
        "{}",
        svc.log()
    );
}
