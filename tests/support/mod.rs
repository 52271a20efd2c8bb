//! Test-side glue: runs the real `drivervm` binary on a config in a private directory, and
//! builds SCMI messages for the driver-side harness (`drivervm::harness`) to send.

#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod agent;
pub mod guest;
pub mod hostile;
pub mod logs;
pub mod platform;
pub mod radio;
pub mod readme;
pub mod rpmb;
pub mod scmi;
pub mod sound_guest;
pub mod tasks;
pub mod transport;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use drivervm::harness::{Harness, HarnessOptions};

/// Two guests, each with a virtio-scmi device on the simulated SoC.
pub const TWO_GUESTS: &str = r#"
[soc]
vendor = "drivervm-test"
sub_vendor = "twin"
implementation_version = 0x00010203

[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"

[[guest]]
name = "vm1"
[[guest.device]]
kind = "scmi"
"#;

/// A `drivervm` process serving a config from a temporary directory.
pub struct Service {
    child: Option<Child>,
    /// Holds the config, the runtime dir and the service's log.
    pub dir: tempfile::TempDir,
    /// The runtime dir passed with --runtime-dir.
    pub runtime_dir: PathBuf,
    log_path: PathBuf,
    /// Where the current process's part of the (appended) log starts.
    log_from: usize,
    /// The user and group the binary is started as, when not this process's.
    as_user: Option<(u32, u32)>,
}

impl Service {
    /// Starts the service on `config` and waits until each of `sockets` accepts connections.
    pub fn start(config: &str, sockets: &[&str]) -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime_dir = dir.path().join("run");
        Self::start_in(dir, runtime_dir, config, sockets)
    }

    /// Like [`Service::start`] with a chosen runtime dir inside `dir`.
    pub fn start_in(
        dir: tempfile::TempDir,
        runtime_dir: PathBuf,
        config: &str,
        sockets: &[&str],
    ) -> Service {
        reachable_by_the_service(dir.path());
        let config_path = dir.path().join("drivervm.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log_path = dir.path().join("service.log");
        let mut svc = Service {
            child: None,
            dir,
            runtime_dir,
            log_path,
            log_from: 0,
            as_user: None,
        };
        svc.spawn(sockets);
        svc
    }

    /// Like [`Service::start`] in `dir` (which `uid` must be able to write), with the
    /// binary started as `uid`/`gid` (the caller must be root).
    pub fn start_as(
        dir: tempfile::TempDir,
        config: &str,
        sockets: &[&str],
        uid: u32,
        gid: u32,
    ) -> Service {
        let runtime_dir = dir.path().join("run");
        let config_path = dir.path().join("drivervm.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log_path = dir.path().join("service.log");
        let mut svc = Service {
            child: None,
            dir,
            runtime_dir,
            log_path,
            log_from: 0,
            as_user: Some((uid, gid)),
        };
        svc.spawn(sockets);
        svc
    }

    /// Runs the binary on the config in `dir`, appending to the log, and waits for `sockets`.
    fn spawn(&mut self, sockets: &[&str]) {
        // A restarted service appends: only its own "ready" line counts.
        self.log_from = self.log().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_drivervm"));
        if let Some((uid, gid)) = self.as_user {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        let child = command
            .arg("--config")
            .arg(self.dir.path().join("drivervm.toml"))
            .arg("--runtime-dir")
            .arg(&self.runtime_dir)
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn drivervm");
        self.child = Some(child);
        for s in sockets {
            self.wait_socket(s);
        }
    }

    /// Kills the service with SIGKILL, as a crash would, and starts it again on the same
    /// config, runtime and state dirs; waits for `sockets`.
    pub fn crash_and_restart(&mut self, sockets: &[&str]) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A killed service leaves its sockets; they must not pass for the new ones.
        for s in sockets {
            let _ = std::fs::remove_file(self.socket(s));
        }
        self.spawn(sockets);
    }

    /// Path of socket `name` in the runtime dir.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.runtime_dir.join(name)
    }

    /// The service's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What the service logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn wait_socket(&mut self, name: &str) {
        let path = self.socket(name);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // The file exists from bind(), before listen(); "ready:" is logged once every
            // socket listens.
            let log = self.log();
            if path.exists() && log.get(self.log_from..).unwrap_or("").contains("] ready: ") {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "drivervm exited with {status} before {name} appeared:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("{} never appeared:\n{}", path.display(), self.log());
    }

    /// Connects the harness as the frontend of socket `name`.
    pub fn connect(&self, name: &str, options: &HarnessOptions) -> Harness {
        Harness::connect(self.socket(name), 2, options)
            .unwrap_or_else(|e| panic!("connect {name}: {e}\n{}", self.log()))
    }

    /// Number of open fds of the service process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Number of threads of the service process.
    pub fn thread_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Each thread's `(name, voluntary context switches)`, by thread id: a blocked thread
    /// that wakes counts one, whatever the host's load.
    pub fn thread_wakeups(&self) -> std::collections::BTreeMap<u32, (String, u64)> {
        thread_wakeups(self.pid())
    }

    /// Sends `signal` and waits for the process to exit.
    pub fn stop_with(mut self, signal: nix::sys::signal::Signal) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after {signal}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The user a service started as root runs as without `service.user` (docs/sandbox.md,
/// "Privileges").
pub const DEFAULT_SERVICE_UID: u32 = 65534;

/// The uid the service's threads have after start-up when this process starts it without
/// `service.user`: the default user as root, else this process's own.
pub fn service_uid() -> u32 {
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        DEFAULT_SERVICE_UID
    } else {
        euid.as_raw()
    }
}

/// Lets the service reach its directories inside `dir` (a test's private one, mode 0700)
/// once it has dropped to its default user: mode 0711 when root starts it, as `/run` and
/// `/var/lib` are for the real service. Nothing changes for a normal user's test.
pub fn reachable_by_the_service(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if nix::unistd::geteuid().is_root() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .expect("make the test dir passable");
    }
}

/// Creates `dir` as the service's own directory, as an earlier run of the service would
/// have: owned by the user it runs as ([`service_uid`]), mode 0700.
pub fn service_dir(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).expect("create the service's dir");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    if nix::unistd::geteuid().is_root() {
        let id = Some(DEFAULT_SERVICE_UID);
        std::os::unix::fs::chown(dir, id, id).expect("give the dir to the service's user");
    }
}

/// Gives `path` and everything under it to the user the service runs as when root starts
/// it (as a debugfs mounted with `uid=`, or a directory an operator makes for the WAV files
/// the service writes): files the service opens after start-up must be open to that user.
/// Nothing changes for a normal user's test.
pub fn owned_by_the_service(path: &Path) {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let id = Some(DEFAULT_SERVICE_UID);
    std::os::unix::fs::lchown(path, id, id).expect("give a test file to the service's user");
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for entry in std::fs::read_dir(path).expect("read dir").flatten() {
            owned_by_the_service(&entry.path());
        }
    }
}

/// Runs `drivervm` with `args` to completion; returns (status, stdout, stderr).
pub fn run_drivervm(args: &[&str], cwd: &Path) -> (ExitStatus, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .args(args)
        .current_dir(cwd)
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn drivervm");
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let status = child.wait().expect("wait");
    (status, out, err)
}

/// Each thread of process `pid`: `(name, voluntary context switches)`, by thread id.
pub fn thread_wakeups(pid: u32) -> std::collections::BTreeMap<u32, (String, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.insert(tid, (name.trim().to_owned(), switches));
    }
    out
}

/// How long to wait for something the service does at once on a quiet host (a log line, a
/// registration, a dropped listener): a loaded 2-core machine can stall a process for
/// seconds, and a passing test never waits this long.
pub const BUSY_HOST: std::time::Duration = std::time::Duration::from_secs(30);

/// Polls `f` until it holds, for up to `within` (a deadline, not a pace: a busy host only
/// makes it take longer).
pub fn eventually(what: &str, within: std::time::Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A `drivervmctl watch` client of `svc`'s control socket, its stderr piped.
pub fn watcher(svc: &Service) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .args([
            "--connect",
            &format!("unix:{}", svc.socket("control.sock").display()),
            "watch",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn drivervmctl")
}
