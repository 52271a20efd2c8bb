//! The real daemon, sandboxed: every one of its threads (ours, the vhost-user crate's,
//! rsbinder's) runs with a seccomp filter, no_new_privs and no capability, as the configured
//! user when started as root (without one: the default user, 65534); and a forbidden
//! syscall ends the process with a log line naming it.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drivervm::harness::HarnessOptions;
use support::scmi::{command, Response, CMDQ};
use support::Service;

/// Every socket of the embedded default config (one device of each kind, and control).
const SOCKETS: [&str; 5] = [
    "vm0-scmi.sock",
    "vm0-sound.sock",
    "vm0-radio.sock",
    "vm0-rpmb.sock",
    "control.sock",
];

/// The embedded default config with `service` keys set.
fn default_with(keys: &[(&str, toml::Value)]) -> String {
    let mut doc: toml::Table = drivervm::config::DEFAULT_CONFIG_TEXT
        .parse()
        .expect("the default config is TOML");
    let service = doc
        .entry("service")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = service.as_table_mut() {
        for (k, v) in keys {
            t.insert((*k).to_owned(), v.clone());
        }
    }
    toml::to_string(&doc).expect("serialise")
}

/// One thread's sandbox as /proc shows it.
#[derive(Debug)]
struct ThreadState {
    name: String,
    seccomp: String,
    no_new_privs: String,
    cap_eff: String,
    cap_prm: String,
    uids: String,
}

fn threads(pid: u32) -> Vec<ThreadState> {
    let mut out = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir");
    for task in tasks.flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        out.push(ThreadState {
            name: field("Name:"),
            seccomp: field("Seccomp:"),
            no_new_privs: field("NoNewPrivs:"),
            cap_eff: field("CapEff:"),
            cap_prm: field("CapPrm:"),
            uids: field("Uid:"),
        });
    }
    out
}

/// What keeps the crates' threads alive while the test looks at them.
struct Exercised {
    _frontends: Vec<drivervm::harness::Harness>,
    watcher: std::process::Child,
}

impl Drop for Exercised {
    fn drop(&mut self) {
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
    }
}

/// Drives the devices a little, so the threads the vhost-user crate starts per connection
/// exist, and keeps a control-plane watcher connected, so rsbinder's do.
fn exercise(svc: &Service) -> Exercised {
    let mut frontends = Vec::new();
    for sock in ["vm0-scmi.sock", "vm0-sound.sock", "vm0-radio.sock"] {
        frontends.push(svc.connect(sock, &HarnessOptions::default()));
    }
    // SCMI BASE_PROTOCOL_VERSION through the sandboxed worker.
    let reply = frontends[0]
        .request(CMDQ, &command(0x10, 0, 1, &[]), 128)
        .expect("scmi request");
    assert_eq!(Response::parse(&reply).status, 0, "{}", svc.log());
    let watcher = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .arg("watch")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run drivervmctl watch");
    let exercised = Exercised {
        _frontends: frontends,
        watcher,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !svc.log().contains("listener registered") {
        assert!(Instant::now() < deadline, "no listener:\n{}", svc.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    exercised
}

/// Asserts the sandbox on every thread of `pid`; `uid` is the expected user.
fn assert_sandboxed(pid: u32, uid: u32, seccomp: &str, log: &str) {
    let all = threads(pid);
    // Threads the crates start, not us: they must be covered too.
    for name in ["vring_worker", "rpc-conn"] {
        assert!(
            all.iter().any(|t| t.name == name),
            "no {name} thread: {all:?}"
        );
    }
    for t in &all {
        let ctx = || format!("thread {t:?}\n{log}");
        assert_eq!(t.seccomp, seccomp, "{}", ctx());
        assert_eq!(t.no_new_privs, "1", "{}", ctx());
        assert_eq!(t.cap_eff, "0000000000000000", "{}", ctx());
        assert_eq!(t.cap_prm, "0000000000000000", "{}", ctx());
        let want = format!("{uid}\t{uid}\t{uid}\t{uid}");
        assert_eq!(t.uids, want, "{}", ctx());
    }
}

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Root with `service.user`: the configured user on every thread, everything filtered.
/// As a normal user: that user, everything filtered.
#[test]
fn every_thread_is_filtered_unprivileged_and_without_capabilities() {
    let (config, uid) = if euid() == 0 {
        (
            default_with(&[("user", toml::Value::String("nobody".into()))]),
            nix::unistd::User::from_name("nobody")
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
                .expect("a nobody user"),
        )
    } else {
        (default_with(&[]), euid())
    };
    let svc = Service::start(&config, &SOCKETS);
    let _held = exercise(&svc);
    assert_sandboxed(svc.pid(), uid, "2", &svc.log());
    assert!(svc.log().contains("seccomp on"), "{}", svc.log());
}

/// Started by root as a normal user (as an init system with `user` would): the same.
#[test]
fn started_as_a_normal_user_every_thread_is_filtered() {
    if euid() != 0 {
        // The test above already ran the service as this normal user.
        drivervm::harness::skip::skipped(
            "starting the service as another user",
            "needs root to start it as nobody; covered as this user by the test above",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // nobody must reach its dirs.
    nix::unistd::chown(dir.path(), Some(65534.into()), Some(65534.into())).expect("chown");
    let svc = Service::start_as(dir, &default_with(&[]), &SOCKETS, 65534, 65534);
    let _held = exercise(&svc);
    assert_sandboxed(svc.pid(), 65534, "2", &svc.log());
}

/// Root without `service.user`: the default user (65534) on every thread, every
/// capability gone, and its directories given to that user.
#[test]
fn root_without_a_user_runs_as_the_default_user() {
    if euid() != 0 {
        drivervm::harness::skip::skipped("root without service.user", "needs root");
        return;
    }
    let svc = Service::start(&default_with(&[]), &SOCKETS);
    let _held = exercise(&svc);
    assert_sandboxed(svc.pid(), support::DEFAULT_SERVICE_UID, "2", &svc.log());
    assert!(
        svc.log().contains(
            "started as root without service.user: running as the default user, uid 65534 \
             gid 65534"
        ),
        "{}",
        svc.log()
    );
    use std::os::unix::fs::MetadataExt;
    for dir in [svc.runtime_dir.clone(), svc.dir.path().join("state")] {
        let st = std::fs::metadata(&dir).expect("service dir");
        assert_eq!((st.uid(), st.gid()), (65534, 65534), "{}", dir.display());
    }
}

/// `service.user = "root"`, the explicit opt-in: uid 0 stays, every capability goes, and
/// the log warns.
#[test]
fn root_as_service_user_keeps_uid_0_but_no_capability() {
    if euid() != 0 {
        drivervm::harness::skip::skipped("service.user = \"root\"", "needs root");
        return;
    }
    let svc = Service::start(
        &default_with(&[("user", toml::Value::String("root".into()))]),
        &SOCKETS,
    );
    let _held = exercise(&svc);
    assert_sandboxed(svc.pid(), 0, "2", &svc.log());
    assert!(
        svc.log().contains("service.user = \"root\": staying uid 0"),
        "{}",
        svc.log()
    );
}

/// `service.sandbox = false`: no filters, said loudly; privileges still dropped.
#[test]
fn sandbox_off_is_logged_and_leaves_only_the_filters_out() {
    let svc = Service::start(
        &default_with(&[("sandbox", toml::Value::Boolean(false))]),
        &SOCKETS,
    );
    let _held = exercise(&svc);
    assert_sandboxed(svc.pid(), support::service_uid(), "0", &svc.log());
    assert!(svc.log().contains("SECCOMP IS OFF"), "{}", svc.log());
}

/// A device worker that makes a forbidden syscall (the harness-only hook) ends the
/// process by SIGSYS, and the log names the syscall and the thread's role.
#[test]
fn a_forbidden_syscall_kills_the_process_and_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("drivervm.toml");
    std::fs::write(&config, default_with(&[])).expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .arg("--config")
        .arg(&config)
        .arg("--runtime-dir")
        .arg(dir.path().join("run"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("DRIVERVM_HARNESS_FORBIDDEN_SYSCALL", "rpmb")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn drivervm");
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = out.id();
    let output = wait_with_deadline(out, deadline);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGSYS),
        "pid {pid} ended with {:?}\n{log}",
        output.status
    );
    assert!(
        log.contains("forbidden syscall socket (number") && log.contains("(role device/rpmb"),
        "{log}"
    );
}

fn wait_with_deadline(mut child: std::process::Child, deadline: Instant) -> std::process::Output {
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    child.wait_with_output().expect("output")
}
