//! The service's files: a runtime or state dir others could write is refused (naming the
//! key that accepts it), a symlink planted where the RPMB image or its key is opened is
//! refused with its target untouched, and sockets appear with their final mode.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use drivervm::harness::skip::skipped;
use support::{Service, TWO_GUESTS};

const SOCKETS: [&str; 2] = ["vm0-scmi.sock", "vm1-scmi.sock"];

/// Runs drivervm on `config` with the runtime dir `run` and state dir `state` in `dir`,
/// asserting that it refuses to start (exit code 1); returns what it logged. One still
/// running after a generous deadline is killed and reported as started.
fn refused(dir: &Path, config: &str) -> String {
    std::fs::write(dir.join("c.toml"), config).unwrap();
    let log = std::fs::File::create(dir.join("err.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .args([
            "--config",
            "c.toml",
            "--runtime-dir",
            "run",
            "--state-dir",
            "state",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn drivervm");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(dir.join("err.log")).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("drivervm started:\n{err}"));
    assert_eq!(status.code(), Some(1), "{err}");
    err
}

/// Creates directory `name` in `parent` and gives it exactly `mode`.
fn dir_with_mode(parent: &Path, name: &str, mode: u32) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

/// One guest with an RPMB device whose image `vm0.img` lives in the state dir.
const RPMB_CONFIG: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
rpmb = { image = "vm0.img", capacity_blocks = 512 }
"#;

#[test]
fn a_world_writable_runtime_dir_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir_with_mode(dir.path(), "run", 0o777);
    let err = refused(dir.path(), TWO_GUESTS);
    assert!(err.contains("world-writable"), "{err}");
    assert!(err.contains("service.allow_shared_dirs"), "{err}");
    // No socket was made in it.
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 0);

    // Group-writable too; and the key accepts it. As root, the service's default user
    // reaches it through that group.
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o770)).unwrap();
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::chown(&run, None, Some(support::DEFAULT_SERVICE_UID)).unwrap();
    }
    let svc = Service::start_in(
        dir,
        run,
        &format!("[service]\nallow_shared_dirs = true\n{TWO_GUESTS}"),
        &SOCKETS,
    );
    assert!(svc.socket(SOCKETS[0]).exists());
}

#[test]
fn a_runtime_dir_owned_by_someone_else_is_refused() {
    const TEST: &str = "a_runtime_dir_owned_by_someone_else_is_refused";
    if !nix::unistd::geteuid().is_root() {
        skipped(TEST, "needs root to give a directory to another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::os::unix::fs::chown(&run, Some(40_003), None).unwrap();
    let err = refused(dir.path(), TWO_GUESTS);
    assert!(err.contains("owned by uid 40003"), "{err}");
    assert!(err.contains("service.allow_shared_dirs"), "{err}");
    assert!(err.contains("service.user"), "{err}");
}

/// A directory root made (an older release that ran as root, or an admin's mkdir) is not
/// the default user's: refused, naming the directory and the key, and left as it is.
#[test]
fn a_root_owned_runtime_dir_is_refused_for_the_default_user() {
    const TEST: &str = "a_root_owned_runtime_dir_is_refused_for_the_default_user";
    if !nix::unistd::geteuid().is_root() {
        skipped(
            TEST,
            "the default user applies to a service started as root",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let err = refused(dir.path(), TWO_GUESTS);
    assert!(
        err.contains("runtime dir run: owned by uid 0")
            && err.contains("uid 65534")
            && err.contains("service.user"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&run).unwrap().uid(), 0);
    // Given to that user, as the service gives the directories it creates, it is used.
    support::service_dir(&run);
    let svc = Service::start_in(dir, run, TWO_GUESTS, &SOCKETS);
    assert!(svc.socket(SOCKETS[0]).exists());
}

#[test]
fn a_group_writable_state_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir_with_mode(dir.path(), "state", 0o770);
    let err = refused(dir.path(), RPMB_CONFIG);
    assert!(
        err.contains("state dir") && err.contains("group-writable"),
        "{err}"
    );
    assert!(!state.join("vm0.img").exists());
}

#[test]
fn a_symlink_planted_at_the_rpmb_image_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    support::service_dir(&state);
    // What an attacker wants the service to overwrite (as root: any file).
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"not an rpmb image").unwrap();
    std::os::unix::fs::symlink(&victim, state.join("vm0.img")).unwrap();
    let err = refused(dir.path(), RPMB_CONFIG);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"not an rpmb image");
    // A dangling one is not followed into creating the image elsewhere either.
    std::fs::remove_file(&victim).unwrap();
    refused(dir.path(), RPMB_CONFIG);
    assert!(!victim.exists(), "an image was created through the symlink");
}

#[test]
fn sockets_are_born_with_their_final_mode_and_leave_no_temporary_names() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    for s in SOCKETS {
        let meta = std::fs::symlink_metadata(svc.socket(s)).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600, "{s}");
        assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    }
    let names: Vec<String> = std::fs::read_dir(&svc.runtime_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".dvm")),
        "private bind directories left: {names:?}"
    );
    let dir_mode = std::fs::metadata(&svc.runtime_dir).unwrap().mode() & 0o777;
    assert_eq!(dir_mode & 0o022, 0, "runtime dir {dir_mode:o}");
}

#[test]
fn a_socket_configured_in_a_world_writable_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir_with_mode(dir.path(), "shared", 0o1777);
    let config = format!(
        r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "scmi"
transport = {{ vhost-user = {{ socket = "{}" }} }}
"#,
        shared.join("vm0.sock").display()
    );
    let err = refused(dir.path(), &config);
    assert!(
        err.contains("socket dir") && err.contains("world-writable"),
        "{err}"
    );
    assert!(err.contains("service.allow_shared_dirs"), "{err}");
    assert!(!shared.join("vm0.sock").exists());
}
