//! The seccomp policy files the Soong build installs (etc/android/seccomp/<arch>/): fresh
//! (what `drivervm-seccomp-policy` makes from today's role tables), and, loaded and
//! installed by the code the Soong build runs (`sandbox::policy_file`), in force on every
//! thread of every role, trapping what the role may not do.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;

use drivervm::sandbox::policy_file::{self, Policy, FILE_NAME};
use drivervm::sandbox::{policy_gen, Arch, Role};

fn policy_path(arch: Arch) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("etc/android/seccomp")
        .join(arch.android_name())
        .join(FILE_NAME)
}

#[test]
fn the_committed_policy_files_are_what_the_role_tables_compile_to() {
    for arch in Arch::ALL {
        let path = policy_path(arch);
        let have = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = policy_gen::generate(arch).unwrap();
        assert!(
            have == want,
            "{} is stale: the role tables changed; run `cargo run --bin \
             drivervm-seccomp-policy` and commit etc/android/seccomp",
            path.display()
        );
    }
}

/// A field of /proc/self/task/<tid>/status.
fn status_field(tid: i64, field: &str) -> String {
    let path = format!("/proc/self/task/{tid}/status");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("{path} has no {field}"))
}

fn set_no_new_privs() {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "no_new_privs: {}", std::io::Error::last_os_error());
}

fn host_policy() -> std::collections::HashMap<Role, Vec<policy_file::Program>> {
    let arch = Arch::host().expect("a supported host architecture");
    Policy::load(&policy_path(arch), &Role::builtin(), std::process::id())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_role_thread_runs_under_its_filters_from_the_policy_file() {
    let programs = host_policy();
    let (tids_tx, tids_rx) = mpsc::channel();
    let mut release = Vec::new();
    let mut threads = Vec::new();
    for role in Role::builtin() {
        let list = programs[&role].clone();
        let tids_tx = tids_tx.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        release.push(go_tx);
        // Each thread installs its role's programs on itself, as `enter` does under Soong,
        // then waits (futex) until the test has read its status, and exits.
        threads.push(std::thread::spawn(move || {
            set_no_new_privs();
            for p in &list {
                policy_file::install(p).unwrap_or_else(|e| panic!("{role}: {e}"));
            }
            // SAFETY: gettid takes no arguments.
            let tid = unsafe { libc::gettid() } as i64;
            let _ = tids_tx.send((role, tid, list.len()));
            let _ = go_rx.recv();
        }));
    }
    drop(tids_tx);
    let mut seen = 0;
    for (role, tid, count) in tids_rx.iter().take(Role::builtin().len()) {
        assert_eq!(status_field(tid, "Seccomp:"), "2", "{role}");
        assert_eq!(status_field(tid, "NoNewPrivs:"), "1", "{role}");
        // Linux 5.9 and later count the filters; older kernels do not show the line.
        let path = format!("/proc/self/task/{tid}/status");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(n) = text
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp_filters:"))
        {
            assert_eq!(n.trim(), count.to_string(), "{role}");
        }
        seen += 1;
    }
    assert_eq!(seen, Role::builtin().len());
    drop(release);
    for t in threads {
        t.join().expect("a sandboxed thread ended cleanly");
    }
}

const CHILD: &str = "DRIVERVM_TEST_POLICY_CHILD";

/// In a child process (the test re-runs itself): announces the sandbox (no_new_privs, the
/// SIGSYS handler), installs the `status` role's programs from the policy file and creates
/// an IPv4 socket, which no role allows.
#[test]
#[ignore = "run in a child process by a_forbidden_syscall_under_the_loaded_policy_..."]
fn child_makes_a_forbidden_syscall() {
    assert!(std::env::var_os(CHILD).is_some(), "run only as the child");
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the struct it is given.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    drivervm::sandbox::announce().unwrap();
    let programs = host_policy().remove(&Role::Status).unwrap();
    std::thread::spawn(move || {
        for p in &programs {
            policy_file::install(p).unwrap();
        }
        // SAFETY: socket(2) with integer arguments; a descriptor, if any, is leaked.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        eprintln!("the forbidden socket(2) returned {fd}");
    })
    .join()
    .unwrap();
}

#[test]
fn a_forbidden_syscall_under_the_loaded_policy_is_named_and_kills_the_process() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_makes_a_forbidden_syscall",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSYS),
        "{:?}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("drivervm: seccomp: forbidden syscall socket (number"),
        "{stderr}"
    );
    assert!(!stderr.contains("returned"), "{stderr}");
}
