//! The daemon's life cycle and its handling of bad input: signals, stale and live sockets,
//! bad configs, unusable runtime dirs, and a frontend that breaks the protocol.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};

use drivervm::harness::HarnessOptions;
use nix::sys::signal::Signal;
use support::scmi::*;
use support::{run_drivervm, Service, TWO_GUESTS};

const SOCKETS: [&str; 2] = ["vm0-scmi.sock", "vm1-scmi.sock"];

fn version_ok(svc: &Service, sock: &str) {
    let mut h = svc.connect(sock, &HarnessOptions::default());
    let r = Response::parse(&h.request(CMDQ, &command(0x10, 0, 1, &[]), 16).unwrap());
    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
    h.disconnect().unwrap();
}

#[test]
fn sigterm_and_sigint_stop_cleanly_and_remove_sockets() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let svc = Service::start(TWO_GUESTS, &SOCKETS);
        let mode = std::fs::metadata(svc.socket(SOCKETS[0]))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "sockets are private");
        // A connected frontend must not keep the service from stopping.
        let h = svc.connect(SOCKETS[0], &HarnessOptions::default());
        let paths: Vec<_> = SOCKETS.iter().map(|s| svc.socket(s)).collect();
        let status = svc.stop_with(sig);
        assert!(status.success(), "{sig}: {status}");
        for p in paths {
            assert!(!p.exists(), "{} left behind after {sig}", p.display());
        }
        drop(h);
    }
}

#[test]
fn socket_group_makes_sockets_group_accessible() {
    let config = format!("[service]\nsocket_group = \"root\"\n{TWO_GUESTS}");
    let svc = Service::start(&config, &SOCKETS);
    let meta = std::fs::metadata(svc.socket(SOCKETS[0])).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 0);
    let config = format!("[service]\nsocket_group = \"no-such-group-x\"\n{TWO_GUESTS}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let (status, _, err) =
        run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("service.socket_group: no group \"no-such-group-x\""),
        "{err}"
    );
    // The control socket's own group is looked up where the control socket is made, and
    // the error names its key.
    let config = format!("[service]\ncontrol_group = \"no-such-group-y\"\n{TWO_GUESTS}");
    std::fs::write(dir.path().join("c.toml"), config).unwrap();
    let (status, _, err) =
        run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("service.control_group: no group \"no-such-group-y\""),
        "{err}"
    );
    // --check-config resolves them as a start would.
    let (status, _, err) = run_drivervm(&["--config", "c.toml", "--check-config"], dir.path());
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("service.control_group: no group"), "{err}");
}

#[test]
fn stale_socket_from_a_crashed_run_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    support::service_dir(&run);
    // A listener that is closed without unlinking: exactly what SIGKILL leaves.
    drop(UnixListener::bind(run.join(SOCKETS[0])).unwrap());
    let svc = Service::start_in(dir, run, TWO_GUESTS, &SOCKETS);
    version_ok(&svc, SOCKETS[0]);
    assert!(svc.log().contains("replacing stale socket"));
}

#[test]
fn a_live_socket_is_never_taken_over() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let cfg = svc.dir.path().join("drivervm.toml");
    let run = svc.runtime_dir.to_str().unwrap().to_owned();
    let (status, _, err) = run_drivervm(
        &["--config", cfg.to_str().unwrap(), "--runtime-dir", &run],
        svc.dir.path(),
    );
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("in use by another running process"), "{err}");
    assert!(err.contains("vm0-scmi.sock"), "{err}");
    version_ok(&svc, SOCKETS[0]);
}

#[test]
fn bad_config_exits_2_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("x.toml");
    let cases = [
        (
            "[[guest]]\nname = \"ivi\"\n[[guest.device]]\nkind = \"scmi\"\n[[guest.device]]\nkind = \"sound\"\nbackend = \"alsaa\"\n",
            "guest \"ivi\" device 2: unknown backend \"alsaa\" (expected one of: sim, alsa)",
        ),
        ("[[guest]]\nname = \"ivi\"\nbogus = 1\n", "bogus"),
    ];
    for (text, want) in cases {
        std::fs::write(&cfg, text).unwrap();
        let (status, _, err) = run_drivervm(&["--config", cfg.to_str().unwrap()], dir.path());
        assert_eq!(status.code(), Some(2), "{err}");
        assert!(err.starts_with("drivervm: "), "{err}");
        assert!(err.contains("x.toml"), "names the file: {err}");
        assert!(err.contains(want), "wanted {want:?} in {err}");
    }
    let (status, _, err) = run_drivervm(&["--config", "/nonexistent/d.toml"], dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("/nonexistent/d.toml"), "{err}");
}

#[test]
fn unusable_runtime_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plainfile");
    std::fs::write(&file, b"").unwrap();
    let bad = file.join("run");
    let (status, _, err) = run_drivervm(&["--runtime-dir", bad.to_str().unwrap()], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("runtime dir {}", bad.display())),
        "{err}"
    );
}

#[test]
fn default_config_is_printed_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let (status, out, _) = run_drivervm(&["--print-default-config"], dir.path());
    assert!(status.success());
    assert_eq!(out, drivervm::config::DEFAULT_CONFIG_TEXT);
    let (status, out, err) = run_drivervm(&["--check-config", "--runtime-dir", "/r"], dir.path());
    assert!(status.success(), "{err}");
    assert!(out.contains("/r/vm0-scmi.sock"), "{out}");
    // Without --runtime-dir, XDG_RUNTIME_DIR or root, sockets go to ./run.
    if !nix::unistd::geteuid().is_root() {
        let (_, out, _) = run_drivervm(&["--check-config"], dir.path());
        assert!(out.contains("run/vm0-scmi.sock"), "{out}");
    }
}

#[test]
fn a_protocol_error_drops_only_that_frontend() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    // A frontend on vm1 in the middle of its session.
    let mut other = svc.connect(SOCKETS[1], &HarnessOptions::default());
    // vm0: a peer that sends a vhost-user header with an invalid request code and size.
    let mut bad = UnixStream::connect(svc.socket(SOCKETS[0])).unwrap();
    let mut garbage = Vec::new();
    garbage.extend_from_slice(&0xdead_u32.to_le_bytes()); // request
    garbage.extend_from_slice(&0x1_u32.to_le_bytes()); // flags: version 1
    garbage.extend_from_slice(&0xffff_u32.to_le_bytes()); // size
    bad.write_all(&garbage).unwrap();
    let _ = bad.write_all(&[0u8; 64]);
    let mut buf = [0u8; 16];
    // The service hangs up on it.
    let _ = std::io::Read::read(&mut bad, &mut buf);
    drop(bad);
    // vm1's session never noticed; vm0 accepts the next, well-behaved frontend.
    let r = Response::parse(&other.request(CMDQ, &command(0x10, 0, 2, &[]), 16).unwrap());
    assert_eq!(r.status, SUCCESS);
    other.disconnect().unwrap();
    version_ok(&svc, SOCKETS[0]);
    let log = svc.log();
    assert!(
        log.contains("vm0-scmi: guest vm0: dropping frontend after protocol error"),
        "{log}"
    );
}

#[test]
fn a_flood_of_malformed_chains_is_answered_but_not_all_logged() {
    use drivervm::harness::Malformed;
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    for _ in 0..60 {
        let head = h
            .add_malformed(
                CMDQ,
                Malformed::WritableBeforeReadable,
                &command(0x10, 0, 0, &[]),
                64,
            )
            .unwrap();
        h.kick(CMDQ).unwrap();
        let c = h
            .wait_for(CMDQ, head, std::time::Duration::from_secs(2))
            .unwrap();
        assert_eq!(c.len, 0);
    }
    let r = Response::parse(&h.request(CMDQ, &command(0x10, 0, 1, &[]), 16).unwrap());
    assert_eq!(r.status, SUCCESS);
    h.disconnect().unwrap();
    let logged = svc.log().matches("refused").count();
    // 10 per second: 60 chains in well under 3 s log at most 30 lines.
    assert!((1..=30).contains(&logged), "{logged} refusals logged");
}
