//! The fifth kind of docs/adding-a-device.md: "echo", added by its folder
//! (src/service/echo/) and its registry line only, is served over vhost-user by the daemon
//! and listed by drivervmctl like any other kind.

mod support;

use std::process::Command;

use drivervm::control::{self, Target};
use drivervm::harness::{Harness, HarnessOptions};
use serde_json::Value;
use support::Service;

const CONFIG: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "echo"
[[guest.device]]
kind = "scmi"
"#;

const SOCKETS: [&str; 3] = ["vm0-echo.sock", "vm0-scmi.sock", "control.sock"];

fn ctl(svc: &Service, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .args(args)
        .output()
        .expect("run drivervmctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_echo_kind_is_served_over_vhost_user_and_listed_by_drivervmctl() {
    let svc = Service::start(CONFIG, &SOCKETS);
    let mut h = Harness::connect(svc.socket("vm0-echo.sock"), 1, &HarnessOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    assert_eq!(h.request(0, b"hello", 16).unwrap(), b"olleh");
    // Never more than the driver made writable.
    assert_eq!(h.request(0, b"abcdef", 3).unwrap(), b"cba");

    let conn = control::connect(&Target::Unix(svc.socket("control.sock")), false)
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    let d = conn.service.r#getDevice("vm0-echo").unwrap();
    assert_eq!(d.r#kindName, "echo");
    assert_eq!(d.r#kind.0, -1, "no DeviceKind value of its own");
    assert_eq!(
        conn.service.r#getDevice("vm0-scmi").unwrap().r#kindName,
        "scmi"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while conn.service.r#getDevice("vm0-echo").unwrap().r#queues[0].r#requests < 2 {
        assert!(std::time::Instant::now() < until, "requests never counted");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let (code, out, err) = ctl(&svc, &["status"]);
    assert_eq!(code, 0, "{err}");
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("vm0-echo "))
        .unwrap_or_else(|| panic!("no echo row:\n{out}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[..6],
        ["vm0-echo", "echo", "vm0", "driver-ok", "2", "0"]
    );
    assert!(row[7].ends_with("/vm0-echo.sock"), "{out}");

    let (code, out, err) = ctl(&svc, &["--json", "device", "vm0-echo"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["kind"], "echo");
    assert_eq!(v["transport"], "vhost-user");
    // No union arm: the kind publishes nothing beyond link and counters.
    assert!(v["detail"]["unavailable"].is_string(), "{v}");
    h.disconnect().unwrap();
}
