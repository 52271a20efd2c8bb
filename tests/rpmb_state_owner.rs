//! RPMB state files a root-started service creates (a guest's own image, a physical
//! store's image and its device key file) are born its unprivileged user's, so the same
//! state dir serves a later start as that user (as an init system's `user` line would
//! start it); and one root left behind is refused by name, never taken over.

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use drivervm::devices::rpmb::constants::*;
use support::rpmb::{Client, Link};
use support::{Service, DEFAULT_SERVICE_UID};

/// vm0 has an image of its own, vm1 a slot on a shared physical store (with a key file);
/// both on `rpmb_dev` sockets.
const CONFIG: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "vm0.sock" } }
rpmb = { image = "vm0.img", capacity_blocks = 64 }

[[guest]]
name = "vm1"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "vm1.sock" } }
rpmb = { store = "phys", offset = 0, capacity_blocks = 16, max_wr_cnt = 1 }

[[rpmb_store]]
name = "phys"
path = "phys.img"
capacity_blocks = 64
max_wr_cnt = 2
max_rd_cnt = 4
"#;
const SOCKETS: [&str; 2] = ["vm0.sock", "vm1.sock"];
/// The files the service creates in its state dir.
const STATE_FILES: [&str; 3] = ["vm0.img", "phys.img", "phys.key"];
/// The guests' RPMB keys.
const KEYS: [[u8; 32]; 2] = [[0x10; 32], [0x11; 32]];

fn client(dir: &Path, socket: &str, key: [u8; 32]) -> Client {
    let s = UnixStream::connect(dir.join("run").join(socket)).expect("connect");
    s.set_read_timeout(Some(support::BUSY_HOST))
        .expect("read timeout");
    Client::new(Link::Socket(s), key)
}

/// drivervm on `dir`'s config, run dir and state dir, started by this process as it is,
/// its log appended to `dir`'s `service.log` (where [`Service`] will log too).
fn spawn_here(dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("service.log"))
        .expect("log");
    Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .arg("--config")
        .arg(dir.join("drivervm.toml"))
        .arg("--runtime-dir")
        .arg(dir.join("run"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn drivervm")
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("service.log")).unwrap_or_default()
}

#[test]
fn state_files_made_as_root_are_the_service_users_and_serve_its_next_start() {
    if !nix::unistd::geteuid().is_root() {
        drivervm::harness::skip::skipped(
            "RPMB state files given to the service's user",
            "needs root to start the service as root, then as that user",
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    support::reachable_by_the_service(dir);
    std::fs::write(dir.join("drivervm.toml"), CONFIG).expect("config");

    // First start: root without service.user, a fresh state dir. It drops to 65534.
    let mut first = spawn_here(dir);
    support::eventually("the first start is ready", support::BUSY_HOST, || {
        if let Ok(Some(status)) = first.try_wait() {
            panic!("the first start exited with {status}:\n{}", log(dir));
        }
        log(dir).contains("] ready: ")
    });
    for (socket, key) in SOCKETS.iter().zip(KEYS) {
        let mut c = client(dir, socket, key);
        assert_eq!(c.program_key(), RES_OK, "{socket}\n{}", log(dir));
        assert_eq!(c.write(1, &[[key[0]; 256]]).result(), RES_OK, "{socket}");
    }
    let state = dir.join("state");
    for name in STATE_FILES {
        let st = std::fs::metadata(state.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", log(dir)));
        assert_eq!(
            (st.uid(), st.gid(), st.mode() & 0o7777),
            (DEFAULT_SERVICE_UID, DEFAULT_SERVICE_UID, 0o600),
            "{name}: owner, group and mode"
        );
    }
    let names: Vec<String> = std::fs::read_dir(&state)
        .expect("state dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| STATE_FILES.contains(&n.as_str())),
        "temporary files left: {names:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    support::eventually("the first start exits", support::BUSY_HOST, || {
        matches!(first.try_wait(), Ok(Some(_)))
    });

    // Second start: started as 65534 itself, so it can only open what is its own.
    let svc = Service::start_as(
        tmp,
        CONFIG,
        &SOCKETS,
        DEFAULT_SERVICE_UID,
        DEFAULT_SERVICE_UID,
    );
    let dir = svc.dir.path();
    for (socket, key) in SOCKETS.iter().zip(KEYS) {
        let mut c = client(dir, socket, key);
        assert_eq!(c.counter(), (RES_OK, 1), "{socket}\n{}", svc.log());
        assert_eq!(c.read(1, 1)[0].data(), &[key[0]; 256], "{socket}");
        let w = c.write(2, &[[key[0] ^ 0xff; 256]]);
        assert_eq!((w.result(), w.write_counter()), (RES_OK, 2), "{socket}");
        assert_eq!(c.read(2, 1)[0].data(), &[key[0] ^ 0xff; 256], "{socket}");
    }
    let status = svc.stop_with(nix::sys::signal::Signal::SIGTERM);
    assert!(
        status.success(),
        "the second start exits cleanly on SIGTERM: {status}"
    );
}

#[test]
fn a_state_file_left_root_owned_is_refused_by_name() {
    if !nix::unistd::geteuid().is_root() {
        drivervm::harness::skip::skipped(
            "a root-owned RPMB key file in the service's state dir",
            "needs root to own it",
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    support::reachable_by_the_service(dir);
    std::fs::write(dir.join("drivervm.toml"), CONFIG).expect("config");
    let state = dir.join("state");
    support::service_dir(&state);
    // As a release before this one left it: made by root, kept root's.
    std::fs::write(state.join("phys.key"), [7u8; 32]).expect("key file");
    std::fs::set_permissions(
        state.join("phys.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let mut child = spawn_here(dir);
    support::eventually("the start is refused", support::BUSY_HOST, || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let status = child.wait().expect("wait");
    let text = log(dir);
    assert!(!status.success(), "{text}");
    assert!(
        text.contains(&format!("{}", state.join("phys.key").display()))
            && text.contains("owned by uid 0, not by the service's user (uid 65534"),
        "{text}"
    );
    let st = std::fs::metadata(state.join("phys.key")).expect("key file");
    assert_eq!(st.uid(), 0, "never taken over");
    assert!(
        !state.join("phys.img").exists(),
        "no image made for a refused key"
    );
}
