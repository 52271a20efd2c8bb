//! The config Android installs (etc/android/drivervm.toml, installed as the drivervm.json the
//! host tool makes of it) against the init script that
//! starts the service on it (etc/drivervm.rc), the vendor AIDs (etc/config.fs) and the
//! VINTF manifest (vintf/drivervm.xml):
//!
//! - `drivervm --check-config` on the installed JSON file, unchanged: its directories are the
//!   ones the .rc creates for the service's user, its socket groups are groups the .rc
//!   gives the service (so it may hand its sockets to them without CAP_CHOWN), every socket
//!   lies in the sockets directory, and the binder instance it registers is the one VINTF
//!   declares and the .rc names.
//! - The service started on that file in a temporary root laid out as init lays out
//!   /data/vendor/drivervm (same modes and owners), as the service's AID user with the
//!   .rc's groups: every socket appears in sockets/ with the configured group, the RPMB
//!   image in state/, and the status interface answers.
//!
//! Android's groups are AIDs; the config names them by number (src/config/group.rs), so
//! this host resolves them exactly as the device does.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drivervm::control::iface::IDriverVm::IDriverVm;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Platform AIDs the .rc may name, from system/core's android_filesystem_config.h (AIDs
/// are never renumbered).
const PLATFORM_AIDS: [(&str, u32); 2] = [("system", 1000), ("audio", 1005)];

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What the init script says about the service and its directories.
struct InitScript {
    binary: String,
    config: String,
    interface: String,
    user: String,
    groups: Vec<String>,
    /// `mkdir` path → (mode, owner, group).
    dirs: BTreeMap<String, (u32, String, String)>,
}

fn init_script() -> InitScript {
    let text = read("etc/drivervm.rc");
    let mut rc = InitScript {
        binary: String::new(),
        config: String::new(),
        interface: String::new(),
        user: String::new(),
        groups: Vec::new(),
        dirs: BTreeMap::new(),
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["service", _name, binary, args @ ..] => {
                rc.binary = binary.to_string();
                let at = args
                    .iter()
                    .position(|a| *a == "--config")
                    .expect("--config");
                rc.config = args[at + 1].to_string();
            }
            ["interface", "aidl", name] => rc.interface = name.to_string(),
            ["user", user] => rc.user = user.to_string(),
            ["group", groups @ ..] => rc.groups = groups.iter().map(|g| g.to_string()).collect(),
            ["mkdir", path, mode, owner, group] => {
                let mode = u32::from_str_radix(mode, 8).expect("octal mode");
                rc.dirs.insert(
                    path.to_string(),
                    (mode, owner.to_string(), group.to_string()),
                );
            }
            _ => {}
        }
    }
    rc
}

/// Android's name → AID map for the names the .rc uses: platform AIDs and config.fs's
/// vendor AIDs (`[AID_VENDOR_X]` is the name vendor_x, as bionic reads it).
fn aids() -> BTreeMap<String, u32> {
    let mut map: BTreeMap<String, u32> = PLATFORM_AIDS
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    let text = read("etc/config.fs");
    let mut section: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("[AID_").and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_ascii_lowercase());
        } else if let (Some(name), Some(v)) = (&section, line.strip_prefix("value:")) {
            let aid: u32 = v.trim().parse().expect("config.fs value");
            assert!(
                (2900..=2999).contains(&aid) || (5000..=5999).contains(&aid),
                "vendor AID {aid} outside the OEM ranges"
            );
            map.insert(name.clone(), aid);
            section = None;
        }
    }
    map
}

fn aid(aids: &BTreeMap<String, u32>, name: &str) -> u32 {
    *aids
        .get(name)
        .unwrap_or_else(|| panic!("\"{name}\" is neither a platform AID nor in etc/config.fs"))
}

/// `drivervm --check-config` on the installed config: its `key<TAB>value` lines and its
/// device lines (id, guest, kind, where).
struct Checked {
    settings: BTreeMap<String, String>,
    devices: Vec<Vec<String>>,
}

fn check_config(config: &Path) -> Checked {
    let out = Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .arg("--config")
        .arg(config)
        .arg("--check-config")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_STATE_HOME")
        .output()
        .expect("run drivervm --check-config");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "--check-config failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = Checked {
        settings: BTreeMap::new(),
        devices: Vec::new(),
    };
    for line in stdout.lines() {
        let cols: Vec<String> = line.split('\t').map(str::to_owned).collect();
        match cols.len() {
            2 => {
                checked.settings.insert(cols[0].clone(), cols[1].clone());
            }
            4 => checked.devices.push(cols),
            _ => panic!("unexpected --check-config line: {line:?}"),
        }
    }
    checked
}

/// The file Android installs: etc/android/drivervm.toml turned into drivervm.json by the
/// host tool, as Android.bp's `drivervm_config_json` genrule runs it.
fn installed_config() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "android-config-{}-{:?}.json",
        std::process::id(),
        std::thread::current().id()
    ));
    let status = Command::new(env!("CARGO_BIN_EXE_drivervm-config-json"))
        .arg(Path::new(ROOT).join("etc/android/drivervm.toml"))
        .arg(&out)
        .status()
        .expect("run drivervm-config-json");
    assert!(status.success(), "drivervm-config-json failed");
    out
}

#[test]
fn installed_config_agrees_with_the_init_script_and_vintf() {
    let rc = init_script();
    let aids = aids();
    let checked = check_config(&installed_config());
    let setting = |k: &str| {
        checked
            .settings
            .get(k)
            .unwrap_or_else(|| panic!("--check-config printed no {k}: {:?}", checked.settings))
            .clone()
    };

    // The service runs as a dedicated vendor AID, in groups Android has.
    assert_eq!(rc.binary, "/vendor/bin/hw/drivervm");
    assert!(rc.user.starts_with("vendor_"), "user {}", rc.user);
    let rc_gids: Vec<u32> = rc.groups.iter().map(|g| aid(&aids, g)).collect();
    assert_eq!(
        rc_gids[0],
        aid(&aids, &rc.user),
        "primary group is the user's own"
    );

    // Its directories are the ones init creates for that user; nothing else exists for it
    // on /data.
    for key in ["runtime_dir", "state_dir"] {
        let dir = setting(key);
        let (mode, owner, _) = rc
            .dirs
            .get(&dir)
            .unwrap_or_else(|| panic!("{key} {dir} is not created by etc/drivervm.rc"));
        assert_eq!(owner, &rc.user, "{dir} is not the service user's");
        assert_eq!(mode & 0o700, 0o700, "{dir}: the owner cannot use it");
        assert_eq!(mode & 0o022, 0, "{dir}: writable by group or others");
        assert!(
            dir.starts_with("/data/vendor/"),
            "{dir} is outside /data/vendor"
        );
    }
    assert_ne!(setting("runtime_dir"), setting("state_dir"));
    let runtime_dir = PathBuf::from(setting("runtime_dir"));

    // A socket group must be one of the service's groups: it chowns its sockets to it,
    // which an unprivileged process may do only for its own groups.
    for key in ["socket_group", "control_group"] {
        if let Some(gid) = checked.settings.get(key) {
            let gid: u32 = gid.parse().expect("numeric gid");
            assert!(
                rc_gids.contains(&gid),
                "{key} {gid} is not among the .rc's groups {:?} = {rc_gids:?}",
                rc.groups
            );
        }
    }

    // Every socket, the control socket included, lies in the sockets directory.
    assert!(!checked.devices.is_empty());
    for dev in &checked.devices {
        let socket = dev[3].trim_end_matches(" (rpmb_dev)");
        assert!(
            Path::new(socket).parent() == Some(runtime_dir.as_path()),
            "device {} is served at {socket}, outside {}",
            dev[0],
            runtime_dir.display()
        );
    }
    if let Some(control) = checked.settings.get("control_socket") {
        if control.starts_with('/') {
            assert_eq!(Path::new(control).parent(), Some(runtime_dir.as_path()));
        }
    }

    // The binder instance registered is the one the VINTF manifest declares and the .rc's
    // `interface` line names, so vts_treble_vintf_vendor_test finds it served.
    let manifest = read("vintf/drivervm.xml");
    let between = |open: &str, close: &str| {
        let from = manifest.find(open).expect(open) + open.len();
        manifest[from..][..manifest[from..].find(close).expect(close)]
            .trim()
            .to_owned()
    };
    let declared = format!(
        "{}.{}",
        between("<name>", "</name>"),
        between("<fqname>", "</fqname>")
    );
    assert_eq!(setting("binder_service"), declared);
    assert_eq!(rc.interface, declared);
}

/// The service as init would run it: `setpriv` to the .rc's user and groups.
fn spawn_as_service_user(
    rc: &InitScript,
    aids: &BTreeMap<String, u32>,
    args: &[&Path],
    log: std::fs::File,
) -> Child {
    let uid = aid(aids, &rc.user);
    let gids: Vec<String> = rc.groups.iter().map(|g| aid(aids, g).to_string()).collect();
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={}", gids[0]))
        .arg(format!("--groups={}", gids.join(",")))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_drivervm"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn setpriv drivervm")
}

fn wait_for(what: &str, log: &Path, child: &mut Child, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "drivervm exited ({status}) before {what}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn installed_config_serves_in_an_android_layout_as_the_service_user() {
    if !nix::unistd::geteuid().is_root() {
        drivervm::harness::skip::skipped(
            "installed_config_serves_in_an_android_layout_as_the_service_user",
            "needs root to run the service as its Android AID (CI runs as root)",
        );
        return;
    }
    let rc = init_script();
    let aids = aids();
    let checked = check_config(&installed_config());
    let runtime_dir = PathBuf::from(&checked.settings["runtime_dir"]);
    let state_dir = PathBuf::from(&checked.settings["state_dir"]);

    // A root standing in for /: init's mkdirs with their modes and owners, in order (the
    // directories above them are root's, 0755, as on a device).
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let under = |p: &Path| root.path().join(p.strip_prefix("/").unwrap());
    for (dir, (mode, owner, group)) in &rc.dirs {
        let at = under(Path::new(dir));
        std::fs::create_dir_all(&at).unwrap();
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(*mode)).unwrap();
        nix::unistd::chown(
            &at,
            Some(nix::unistd::Uid::from_raw(aid(&aids, owner))),
            Some(nix::unistd::Gid::from_raw(aid(&aids, group))),
        )
        .unwrap();
    }
    let log_path = root.path().join("service.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (run, state) = (under(&runtime_dir), under(&state_dir));
    let config = installed_config();
    let mut child = spawn_as_service_user(
        &rc,
        &aids,
        &[
            Path::new("--config"),
            &config,
            Path::new("--runtime-dir"),
            &run,
            Path::new("--state-dir"),
            &state,
        ],
        log,
    );
    wait_for("the service is ready", &log_path, &mut child, || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("ready:"))
    });

    let socket_gid: u32 = checked.settings["socket_group"].parse().unwrap();
    let service_uid = aid(&aids, &rc.user);
    for dev in &checked.devices {
        let socket = under(Path::new(dev[3].trim_end_matches(" (rpmb_dev)")));
        let meta =
            std::fs::metadata(&socket).unwrap_or_else(|e| panic!("{}: {e}", socket.display()));
        assert_eq!(meta.uid(), service_uid, "{}", socket.display());
        assert_eq!(meta.gid(), socket_gid, "{}", socket.display());
        assert_eq!(meta.mode() & 0o777, 0o660, "{}", socket.display());
    }
    // State is where init made room for it, owned by the service.
    let rpmb_images: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "img"))
        .collect();
    assert_eq!(rpmb_images.len(), 1, "RPMB image in {}", state.display());
    assert_eq!(rpmb_images[0].metadata().unwrap().uid(), service_uid);

    // The status interface answers (RPC on the control socket: this binary is Cargo's).
    let control = under(Path::new(&checked.settings["control_socket"]));
    let conn = drivervm::control::connect(&drivervm::control::Target::Unix(control), false)
        .expect("connect to the control socket");
    let devices = conn.service.r#listDevices().expect("listDevices");
    assert_eq!(devices.len(), checked.devices.len());
    drop(conn);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status}: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    for dev in &checked.devices {
        assert!(
            !under(Path::new(&dev[3])).exists(),
            "{} left behind",
            dev[3]
        );
    }
}
