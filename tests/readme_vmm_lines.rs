//! The README's VMM command lines, which the real-guest tests boot (tests/guest_sound.rs,
//! tests/guest_scmi.rs): their extractor, the socket paths they name, and proof that a
//! broken line in a README copy fails the guest run instead of passing unnoticed.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::guest::tools_ready;
use support::readme::{vmm_line, README};
use support::sound_guest::SCRIPT;
use support::Service;

#[test]
fn every_marked_line_extracts_as_one_command() {
    for (name, frontend) in [
        ("qemu-sound", "-device vhost-user-snd-pci,chardev=snd0 "),
        ("qemu-scmi", "-device vhost-user-scmi-pci,chardev=scmi0 "),
    ] {
        let line = vmm_line(README, name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!line.contains('\\') && !line.contains('\n'), "{line}");
        assert!(line.contains(frontend), "{name}: {line}");
        assert!(
            line.contains("share=on"),
            "{name}: guest memory not shared: {line}"
        );
    }
}

#[test]
fn the_extractor_rejects_what_is_not_one_marked_command() {
    let block = |body: &str| format!("text\n<!-- vmm-line: x -->\n```sh\n{body}\n```\n");
    assert_eq!(
        vmm_line(&block("qemu -a \\\n  -b c \\\n  -d"), "x").as_deref(),
        Ok("qemu -a -b c -d")
    );
    for (readme, why) in [
        (block("qemu -a"), "no marker named y"),
        (format!("{0}{0}", block("qemu")), "marked twice"),
        (
            "<!-- vmm-line: x -->\nprose\n```sh\nqemu\n```\n".to_owned(),
            "marker not followed by the block",
        ),
        ("<!-- vmm-line: x -->\n```sh\nqemu\n".to_owned(), "unclosed"),
        (block("qemu -a\nqemu -b"), "two commands"),
        (block("qemu -a \\"), "dangling continuation"),
    ] {
        let name = if why.starts_with("no marker") {
            "y"
        } else {
            "x"
        };
        assert!(vmm_line(&readme, name).is_err(), "accepted ({why})");
    }
}

/// The README's sound and SCMI sockets are where `cargo run --release` (the embedded
/// default, no options) puts them, going by the paths the service prints.
#[test]
fn readme_socket_paths_are_the_ones_the_default_service_prints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(&xdg).expect("xdg dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drivervm"))
        .env("XDG_RUNTIME_DIR", &xdg)
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn drivervm");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while printed.len() < 2 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            for dev in ["vm0-sound: sound for guest", "vm0-scmi: scmi for guest"] {
                if line.contains(dev) {
                    let path = line.rsplit(" on ").next().unwrap_or_default().to_owned();
                    printed.push((dev, path));
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        printed.len(),
        2,
        "the service did not print both sockets: {printed:?}"
    );
    for (dev, path) in printed {
        let name = if dev.starts_with("vm0-sound") {
            "qemu-sound"
        } else {
            "qemu-scmi"
        };
        let line = vmm_line(README, name).unwrap_or_else(|e| panic!("{e}"));
        let in_readme = line
            .split([',', ' '])
            .find_map(|w| w.strip_prefix("path="))
            .unwrap_or_else(|| panic!("{name}: no path= in {line}"))
            .replace("$XDG_RUNTIME_DIR", &xdg.display().to_string());
        assert_eq!(in_readme, path, "{name}");
    }
}

/// A copy of the README with a typo in the sound line makes the same guest run the sound
/// test does fail: a README line that stops working cannot pass.
#[test]
fn a_broken_readme_line_fails_the_guest_run() {
    if !tools_ready(SCRIPT, "the broken-README-line guest run") {
        return;
    }
    let broken = README.replace(
        "-device vhost-user-snd-pci,chardev=snd0 \\",
        "-device vhost-user-sound-pci,chardev=snd0 \\",
    );
    assert_ne!(broken, README, "the sound line moved; update this test");
    let line = vmm_line(&broken, "qemu-sound").unwrap_or_else(|e| panic!("{e}"));

    let work = tempfile::tempdir().expect("tempdir");
    let svc_dir = tempfile::tempdir().expect("tempdir");
    let xdg = svc_dir.path().join("xdg");
    let svc = Service::start_in(
        svc_dir,
        xdg.join("drivervm"),
        "[[guest]]\nname = \"vm0\"\n[[guest.device]]\nkind = \"sound\"\n",
        &["vm0-sound.sock"],
    );
    let status = Command::new(SCRIPT)
        .arg("run")
        .arg(svc.socket("vm0-sound.sock"))
        .arg(work.path())
        .env("VMM_LINE", &line)
        .env("XDG_RUNTIME_DIR", &xdg)
        .status()
        .expect("run guest script");
    let console = std::fs::read_to_string(work.path().join("console.log")).unwrap_or_default();
    assert!(!status.success(), "the broken line booted:\n{console}");
    assert!(
        console.contains("vhost-user-sound-pci"),
        "QEMU did not name the bad device:\n{console}"
    );
}
