//! The control plane end to end over RPC binder on the unix socket: the real daemon, real
//! frontends from the harness, queries through the same client drivervmctl uses, and
//! drivervmctl itself.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use drivervm::control::iface::{self, IDriverVm::IDriverVm, IDriverVmListener::IDriverVmListener};
use drivervm::control::{self, BinderResult, Connection, Interface, Target};
use drivervm::harness::{HarnessOptions, Malformed};
use drivervm::status::LinkState;
use serde_json::Value;
use support::scmi::*;
use support::{Service, TWO_GUESTS};

const SOCKETS: [&str; 3] = ["vm0-scmi.sock", "vm1-scmi.sock", "control.sock"];

/// SCMI BASE PROTOCOL_VERSION: 4 bytes out, header + status + version (12 bytes) back.
const VERSION_REQ_BYTES: i64 = 4;
const VERSION_RESP_BYTES: i64 = 12;

fn target(svc: &Service) -> Target {
    Target::Unix(svc.socket("control.sock"))
}

fn client(svc: &Service, callbacks: bool) -> Connection {
    control::connect(&target(svc), callbacks).unwrap_or_else(|e| panic!("{e}\n{}", svc.log()))
}

fn device(conn: &Connection, id: &str) -> iface::DeviceStatus::DeviceStatus {
    conn.service.r#getDevice(id).expect("getDevice")
}

/// Polls `f` until it holds (status updates are published after the reply is signalled).
fn eventually(what: &str, f: impl FnMut() -> bool) {
    support::eventually(what, support::BUSY_HOST, f);
}

fn version_request(token: u16) -> Vec<u8> {
    command(0x10, 0, token, &[])
}

#[test]
fn status_and_counters_follow_what_the_guest_does() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let mode = std::fs::metadata(svc.socket("control.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "control socket is owner only without a group"
    );
    let conn = client(&svc, false);
    let info = conn.service.r#getServiceInfo().unwrap();
    assert_eq!(info.r#name, "drivervm");
    assert_eq!(info.r#version, env!("CARGO_PKG_VERSION"));

    let list = conn.service.r#listDevices().unwrap();
    let ids: Vec<_> = list.iter().map(|d| d.r#id.as_str()).collect();
    assert_eq!(ids, ["vm0-scmi", "vm1-scmi"]);
    for d in &list {
        assert_eq!(d.r#link, iface::LinkState::LinkState::LISTENING);
        assert_eq!(d.r#kind, iface::DeviceKind::DeviceKind::SCMI);
        assert_eq!(
            d.r#transport,
            iface::TransportKind::TransportKind::VHOST_USER
        );
        assert_eq!(d.r#negotiatedFeatures, 0);
        assert_eq!(d.r#queues.len(), 2, "cmdq and eventq");
        assert!(
            d.r#endpoint.ends_with(&format!("{}.sock", d.r#id)),
            "{}",
            d.r#endpoint
        );
    }

    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    eventually("vm0 reaches DRIVER_OK", || {
        device(&conn, "vm0-scmi").r#link == iface::LinkState::LinkState::DRIVER_OK
    });
    let d = device(&conn, "vm0-scmi");
    assert_eq!(d.r#negotiatedFeatures as u64, h.acked_features());
    assert_ne!(
        d.r#negotiatedFeatures as u64 & (1 << 32),
        0,
        "VIRTIO_F_VERSION_1"
    );

    const N: i64 = 25;
    for t in 0..N {
        let r = Response::parse(&h.request(CMDQ, &version_request(t as u16), 16).unwrap());
        assert_eq!(r.status, SUCCESS);
    }
    eventually("25 requests counted", || {
        let q = &device(&conn, "vm0-scmi").r#queues[0];
        q.r#requests == N && q.r#bytes == N * (VERSION_REQ_BYTES + VERSION_RESP_BYTES)
    });
    let q = &device(&conn, "vm0-scmi").r#queues[0];
    assert_eq!(q.r#errors, 0);
    assert_eq!(q.r#bytes, N * (VERSION_REQ_BYTES + VERSION_RESP_BYTES));
    assert_eq!(
        device(&conn, "vm1-scmi").r#queues[0].r#requests,
        0,
        "vm1 untouched"
    );

    // A chain the transport must refuse counts as a request and an error.
    let head = h
        .add_malformed(
            CMDQ,
            Malformed::WritableBeforeReadable,
            &version_request(99),
            16,
        )
        .unwrap();
    let c = h.wait_for(CMDQ, head, support::BUSY_HOST).unwrap();
    assert_eq!(c.len, 0);
    eventually("the refused chain is counted", || {
        let q = &device(&conn, "vm0-scmi").r#queues[0];
        q.r#errors == 1 && q.r#requests == N + 1
    });
    let d = device(&conn, "vm0-scmi");
    assert_eq!(d.r#queues[0].r#requests, N + 1);
    assert!(
        d.r#lastError.contains("queue 0") && d.r#lastError.contains("refused"),
        "{}",
        d.r#lastError
    );

    h.disconnect().unwrap();
    eventually("vm0 back to LISTENING", || {
        device(&conn, "vm0-scmi").r#link == iface::LinkState::LinkState::LISTENING
    });
    assert_eq!(device(&conn, "vm0-scmi").r#negotiatedFeatures, 0);

    // A new driver session starts its counters from zero.
    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    h.request(CMDQ, &version_request(1), 16).unwrap();
    eventually("counters restart with the new session", || {
        device(&conn, "vm0-scmi").r#queues[0].r#requests == 1
    });
    h.disconnect().unwrap();
}

#[test]
fn unknown_device_is_a_service_specific_error() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let conn = client(&svc, false);
    let e = conn.service.r#getDevice("vm9-scmi").unwrap_err();
    let (code, msg) = control::describe_status(&e);
    assert_eq!(code, Some(iface::IDriverVm::ERROR_UNKNOWN_DEVICE));
    assert_eq!(msg, "no device \"vm9-scmi\" (devices: vm0-scmi, vm1-scmi)");
    let e = conn.service.r#getRpmbInfo("vm0-scmi").unwrap_err();
    assert_eq!(
        control::describe_status(&e).0,
        Some(iface::IDriverVm::ERROR_WRONG_DEVICE_KIND)
    );
    // This config grants the guests no clocks: an empty, not a failed, list.
    assert!(conn.service.r#getClocks("vm0-scmi").unwrap().is_empty());
}

/// Collects listener calls.
struct Events(Mutex<Sender<(String, Option<LinkState>)>>);

impl Interface for Events {}

impl IDriverVmListener for Events {
    fn r#onLinkStateChanged(
        &self,
        device: &str,
        state: iface::LinkState::LinkState,
    ) -> BinderResult<()> {
        let _ = self
            .0
            .lock()
            .unwrap()
            .send((device.to_owned(), control::link_from_aidl(state)));
        Ok(())
    }

    fn r#onDeviceStateChanged(&self, device: &str) -> BinderResult<()> {
        let _ = self.0.lock().unwrap().send((device.to_owned(), None));
        Ok(())
    }
}

fn next_link(rx: &Receiver<(String, Option<LinkState>)>) -> (String, LinkState) {
    loop {
        // A deadline, not a pace: a loaded host can hold the dispatcher for seconds.
        let (dev, state) = rx
            .recv_timeout(support::BUSY_HOST)
            .unwrap_or_else(|e| panic!("no listener event within {:?}: {e}", support::BUSY_HOST));
        if let Some(s) = state {
            return (dev, s);
        }
    }
}

#[test]
fn listeners_see_connect_and_disconnect() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let conn = client(&svc, true);
    let (tx, rx) = channel();
    let listener = control::new_listener(Events(Mutex::new(tx)));
    conn.service.r#registerListener(&listener).unwrap();

    let h = svc.connect(SOCKETS[1], &HarnessOptions::default());
    let (dev, mut state) = next_link(&rx);
    assert_eq!(dev, "vm1-scmi");
    // CONNECTED is skipped when the frontend's SET_FEATURES wins the race with accept's
    // bookkeeping; DRIVER_OK always follows.
    if state == LinkState::Connected {
        state = next_link(&rx).1;
    }
    assert_eq!(state, LinkState::DriverOk);
    h.disconnect().unwrap();
    assert_eq!(next_link(&rx), ("vm1-scmi".into(), LinkState::Listening));

    // An abrupt hang-up (VMM killed) is reported the same way.
    let h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    let mut got = next_link(&rx);
    while got.1 != LinkState::DriverOk {
        got = next_link(&rx);
    }
    h.disconnect_abruptly();
    assert_eq!(next_link(&rx), ("vm0-scmi".into(), LinkState::Listening));

    conn.service.r#unregisterListener(&listener).unwrap();
    let h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "an unregistered listener hears nothing"
    );
    h.disconnect().unwrap();
}

#[test]
fn clients_that_vanish_do_not_disturb_the_service() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let path = svc.socket("control.sock");

    // Half an RPC connection header, then gone.
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.write_all(&[0x01, 0x00, 0x00]).unwrap();
    drop(raw);
    // Garbage claiming a huge frame, then gone.
    let mut raw = UnixStream::connect(&path).unwrap();
    let _ = raw.write_all(&[0xff; 64]);
    drop(raw);

    // A client hammering the service, whose session is torn down mid-flight.
    let hammer = std::thread::spawn({
        let t = target(&svc);
        move || {
            let conn = control::connect(&t, false).unwrap();
            let service = conn.service.clone();
            let stop = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                drop(conn);
            });
            let mut failures = 0;
            for _ in 0..2000 {
                if service.r#listDevices().is_err() {
                    failures += 1;
                    break;
                }
            }
            stop.join().unwrap();
            failures
        }
    });
    let _ = hammer.join().unwrap();

    // A watcher killed while registered: its session's end drops the listener.
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .args([
            "--connect",
            &format!("unix:{}", path.display()),
            "--json",
            "watch",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed only once registered: on a loaded host a fixed sleep could kill it before.
    eventually("the watcher's listener is registered", || {
        svc.log().contains("control: listener registered")
    });
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    // Generates events for the dead listener.
    let h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    h.disconnect().unwrap();

    // The control plane and the devices still answer.
    let conn = client(&svc, false);
    assert_eq!(conn.service.r#listDevices().unwrap().len(), 2);
    let mut h = svc.connect(SOCKETS[1], &HarnessOptions::default());
    let r = Response::parse(&h.request(CMDQ, &version_request(3), 16).unwrap());
    assert_eq!(r.status, SUCCESS);
    h.disconnect().unwrap();
    let log = svc.log();
    assert!(!log.contains("panicked"), "{log}");
    // Two ways to go, both right, and which comes first is the scheduler's choice: the
    // session's reader sees the watcher's end and its death notification drops the
    // listener, or the dispatcher's call for the events above fails on the dying session
    // before the notification is sent, and dropping the listener unlinks it.
    eventually("the dead watcher's listener is dropped", || {
        let log = svc.log();
        log.contains("control: a listener's client died")
            || log.contains("control: dropping a listener whose call failed")
    });
}

fn ctl(svc: &Service, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", svc.socket("control.sock").display()))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn drivervmctl_prints_tables_and_json() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let mut h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    for t in 0..3 {
        h.request(CMDQ, &version_request(t), 16).unwrap();
    }
    let conn = client(&svc, false);
    eventually("3 requests counted", || {
        let q = &device(&conn, "vm0-scmi").r#queues[0];
        q.r#requests == 3 && q.r#bytes == 48
    });

    let (code, out, err) = ctl(&svc, &["status"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<_> = out.lines().collect();
    assert!(lines[0].starts_with("drivervm 0.1.0, up "), "{out}");
    assert!(lines[0].ends_with(", 2 device(s)"), "{out}");
    let header: Vec<_> = lines[1].split_whitespace().collect();
    assert_eq!(
        header,
        ["DEVICE", "KIND", "GUEST", "LINK", "REQUESTS", "ERRORS", "BYTES", "ENDPOINT"]
    );
    let row0: Vec<_> = lines[2].split_whitespace().collect();
    assert_eq!(
        &row0[..7],
        ["vm0-scmi", "scmi", "vm0", "driver-ok", "3", "0", "48"]
    );
    assert!(row0[7].ends_with("/vm0-scmi.sock"), "{out}");
    let row1: Vec<_> = lines[3].split_whitespace().collect();
    assert_eq!(
        &row1[..7],
        ["vm1-scmi", "scmi", "vm1", "listening", "0", "0", "0"]
    );

    let (code, out, err) = ctl(&svc, &["--json", "status"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["service"]["name"], "drivervm");
    assert_eq!(v["devices"][0]["id"], "vm0-scmi");
    assert_eq!(v["devices"][0]["link"], "driver-ok");
    assert_eq!(v["devices"][0]["queues"][0]["requests"], 3);
    assert_eq!(v["devices"][0]["queues"][0]["bytes"], 48);
    assert_eq!(v["devices"][1]["link"], "listening");

    let (code, out, err) = ctl(&svc, &["device", "vm0-scmi"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("device      vm0-scmi\n"), "{out}");
    assert!(out.contains("link        driver-ok\n"), "{out}");
    assert!(
        out.contains("totals      3 requests, 0 errors, 48 bytes\n"),
        "{out}"
    );
    assert!(out.contains("clocks: 0\n"), "{out}");
    let (code, out, err) = ctl(&svc, &["--json", "device", "vm0-scmi"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["queues"].as_array().unwrap().len(), 2);
    assert_eq!(v["detail"]["clocks"], serde_json::json!([]));
    assert_eq!(
        v["features"],
        format!("{:#x}", h.acked_features()),
        "features as the driver acked them"
    );

    let (code, out, err) = ctl(&svc, &["device", "nope"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "drivervmctl: no device \"nope\" (devices: vm0-scmi, vm1-scmi)\n"
    );
    h.disconnect().unwrap();
}

#[test]
fn drivervmctl_watch_streams_events() {
    let svc = Service::start(TWO_GUESTS, &SOCKETS);
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .args([
            "--connect",
            &format!("unix:{}", svc.socket("control.sock").display()),
            "--json",
            "watch",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watcher.stdout.take().unwrap()).lines();
    // Wait until the watcher is registered: the service logs each registration.
    eventually("the watcher registers", || {
        svc.log().contains("listener registered")
    });
    let h = svc.connect(SOCKETS[0], &HarnessOptions::default());
    h.disconnect().unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&"listening".to_owned()) {
        let line = lines.next().expect("watch output").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "link", "{line}");
        assert_eq!(v["device"], "vm0-scmi", "{line}");
        seen.push(v["state"].as_str().unwrap().to_owned());
    }
    assert!(seen.contains(&"driver-ok".to_owned()), "{seen:?}");
    watcher.kill().unwrap();
    watcher.wait().unwrap();
}

#[test]
fn drivervmctl_says_where_it_could_not_connect() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("control.sock");
    let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .arg("--connect")
        .arg(format!("unix:{}", missing.display()))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "drivervmctl: cannot connect to unix:{}: No such file or directory (is drivervm running?)\n",
            missing.display()
        )
    );
    let out = Command::new(env!("CARGO_BIN_EXE_drivervmctl"))
        .args(["--connect", "tcp:x", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn a_guest_changing_a_clock_shows_up_in_its_detail() {
    use support::agent::Agent;
    use support::platform::{PLATFORM, SOCKETS as SCMI};
    const CLOCK: u8 = 0x14;
    let svc = Service::start(PLATFORM, &[SCMI[0], SCMI[1], "control.sock"]);
    let conn = client(&svc, true);
    let (tx, rx) = channel();
    let listener = control::new_listener(Events(Mutex::new(tx)));
    conn.service.r#registerListener(&listener).unwrap();

    let clocks = |id: &str| conn.service.r#getClocks(id).unwrap();
    let names: Vec<_> = clocks("vm0-scmi")
        .iter()
        .map(|c| c.r#name.clone())
        .collect();
    assert_eq!(names, ["uart", "xo", "pll", "sdcc", "shared", "owned"]);
    let uart = &clocks("vm0-scmi")[0];
    assert_eq!(
        (uart.r#id, uart.r#rateHz, uart.r#enabled),
        (0, 19_200_000, false)
    );
    assert_eq!(uart.r#owner, "");

    let mut vm0 = Agent::connect(&svc, SCMI[0], false);
    // CLOCK_RATE_SET uart to 60 MHz, rounding down: 48 MHz.
    vm0.ok(CLOCK, 5, &[0, 0, 60_000_000, 0]);
    // CLOCK_CONFIG_SET: enable uart.
    vm0.ok(CLOCK, 7, &[0, 1, 0]);
    let uart = &clocks("vm0-scmi")[0];
    assert_eq!((uart.r#rateHz, uart.r#enabled), (48_000_000, true));
    assert_eq!(uart.r#owner, "vm0");
    // vm1 is granted the same uart as its clock 2 and sees the same state.
    let theirs = &clocks("vm1-scmi")[2];
    assert_eq!(
        (
            theirs.r#id,
            theirs.r#name.as_str(),
            theirs.r#rateHz,
            theirs.r#owner.as_str()
        ),
        (2, "uart", 48_000_000, "vm0")
    );
    // The change is announced to listeners (coalesced, within the watcher's period).
    let deadline = Instant::now() + support::BUSY_HOST;
    loop {
        let (dev, state) = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a state-changed event for vm0-scmi");
        if dev == "vm0-scmi" && state.is_none() {
            break;
        }
    }
    // A guest that leaves releases what it held.
    drop(vm0);
    eventually("uart gated after vm0 left", || {
        !clocks("vm0-scmi")[0].r#enabled
    });
    assert_eq!(clocks("vm0-scmi")[0].r#owner, "");
}

#[test]
fn control_socket_group_is_configurable() {
    let config = format!("[service]\ncontrol_group = \"root\"\n{TWO_GUESTS}");
    let svc = Service::start(&config, &SOCKETS);
    let meta = std::fs::metadata(svc.socket("control.sock")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 0);
    // The device sockets keep their own (private) mode.
    let dev = std::fs::metadata(svc.socket(SOCKETS[0])).unwrap();
    assert_eq!(dev.permissions().mode() & 0o777, 0o600);

    let dir = tempfile::tempdir().unwrap();
    let bad = format!("[service]\ncontrol_group = \"no-such-group-y\"\n{TWO_GUESTS}");
    std::fs::write(dir.path().join("c.toml"), bad).unwrap();
    let (status, _, err) =
        support::run_drivervm(&["--config", "c.toml", "--runtime-dir", "run"], dir.path());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("service.control_group: no group \"no-such-group-y\""),
        "{err}"
    );
    assert!(
        !dir.path().join("run/vm0-scmi.sock").exists(),
        "a failed start leaves no device socket behind"
    );
}

/// One guest with a virtio-snd device whose playback stream offers two formats and two
/// rates, so the published format is the one the guest chose.
const SOUND: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "sound"
[[guest.device.stream]]
name = "Master"
formats = ["s16", "s32"]
rates = [44100, 48000]
channels_min = 1
channels_max = 2
[[guest.device.stream]]
name = "Capture"
direction = "input"
source = "tone"
"#;

/// `drivervmctl --json device vm0-sound`, the detail's streams.
fn ctl_streams(svc: &Service) -> Vec<Value> {
    let (code, out, err) = ctl(svc, &["--json", "device", "vm0-sound"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["detail"]["streams"].as_array().expect("streams").clone()
}

/// (state, format, rate_hz, channels, xruns) of a stream in drivervmctl's JSON.
fn shape(s: &Value) -> (String, String, i64, i64, i64) {
    (
        s["state"].as_str().unwrap().to_owned(),
        s["format"].as_str().unwrap().to_owned(),
        s["rate_hz"].as_i64().unwrap(),
        s["channels"].as_i64().unwrap(),
        s["xruns"].as_i64().unwrap(),
    )
}

#[test]
fn a_guest_driving_a_sound_stream_shows_up_in_its_detail() {
    use drivervm::devices::sound::constants::{code, format, RATES, TXQ};
    use drivervm::harness::Harness;
    use iface::AudioStreamState::AudioStreamState as S;
    let svc = Service::start(SOUND, &["vm0-sound.sock", "control.sock"]);
    let conn = client(&svc, false);
    let streams = ctl_streams(&svc);
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["direction"], "output");
    assert_eq!(streams[1]["direction"], "input");
    for s in &streams {
        assert_eq!(shape(s), ("idle".into(), "".into(), 0, 0, 0), "{s}");
    }

    let mut h = Harness::connect(svc.socket("vm0-sound.sock"), 4, &HarnessOptions::default())
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    let pcm = |h: &mut Harness, req: &[u8]| {
        let r = h.request(0, req, 64).expect("control request");
        u32::from_le_bytes([r[0], r[1], r[2], r[3]])
    };
    let words = |v: &[u32]| v.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
    // 44.1 kHz stereo S32: 8-byte frames, 10 ms periods of 441 frames, four per buffer.
    const PERIOD: u32 = 441 * 8;
    let mut set = words(&[code::PCM_SET_PARAMS, 0, 4 * PERIOD, PERIOD, 0]);
    let r44100 = RATES.iter().position(|&r| r == 44100).unwrap() as u8;
    set.extend_from_slice(&[2, format::S32, r44100, 0]);
    assert_eq!(pcm(&mut h, &set), code::S_OK);
    // Published before the reply: no waiting needed.
    let got = conn.service.r#getAudioStreams("vm0-sound").unwrap();
    let s = &got[0];
    assert_eq!(
        (
            s.r#id,
            s.r#state,
            s.r#format.as_str(),
            s.r#rateHz,
            s.r#channels,
            s.r#xruns
        ),
        (0, S::PARAMETERS_SET, "S32_LE", 44100, 2, 0)
    );
    assert_eq!(got[1].r#state, S::IDLE, "the capture stream is untouched");
    assert_eq!(pcm(&mut h, &words(&[code::PCM_PREPARE, 0])), code::S_OK);
    assert_eq!(
        shape(&ctl_streams(&svc)[0]),
        ("prepared".into(), "S32_LE".into(), 44100, 2, 0)
    );
    // Three periods queued before START (so a slow host cannot underrun before they
    // arrive), played in time, then the queue runs dry: exactly one underrun.
    for _ in 0..3 {
        let mut tx = 0u32.to_le_bytes().to_vec();
        tx.resize(4 + PERIOD as usize, 0x11);
        h.submit(TXQ, &tx, 8).unwrap();
    }
    assert_eq!(pcm(&mut h, &words(&[code::PCM_START, 0])), code::S_OK);
    assert_eq!(ctl_streams(&svc)[0]["state"], "running");
    let mut done = 0;
    while done < 3 {
        for c in h.wait_completions(TXQ, Duration::from_secs(2)).unwrap() {
            assert_eq!(&c.data[..4], &code::S_OK.to_le_bytes());
            done += 1;
        }
    }
    eventually("the underrun is published", || {
        conn.service.r#getAudioStreams("vm0-sound").unwrap()[0].r#xruns == 1
    });
    assert_eq!(pcm(&mut h, &words(&[code::PCM_STOP, 0])), code::S_OK);
    assert_eq!(
        shape(&ctl_streams(&svc)[0]),
        ("stopped".into(), "S32_LE".into(), 44100, 2, 1)
    );
    let (code, out, err) = ctl(&svc, &["device", "vm0-sound"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| *l != "streams: 2")
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["0", "output", "stopped", "S32_LE", "44100", "Hz", "2", "ch", "xruns", "1"],
            vec!["1", "input", "idle", "-", "xruns", "0"],
        ],
        "{out}"
    );

    // RELEASE: the stream holds nothing; its parameters stay for the next PREPARE.
    assert_eq!(pcm(&mut h, &words(&[code::PCM_RELEASE, 0])), code::S_OK);
    assert_eq!(ctl_streams(&svc)[0]["state"], "idle");
    // A driver that goes away leaves every stream idle and unconfigured.
    h.disconnect().unwrap();
    eventually("the streams are reset with the session", || {
        let s = &conn.service.r#getAudioStreams("vm0-sound").unwrap()[0];
        s.r#state == S::IDLE && s.r#format.is_empty()
    });
}

/// One guest with virtio-rpmb, another with the rpmb_dev socket face: both publish.
const RPMB: &str = r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "rpmb"
rpmb = { capacity_blocks = 512, max_wr_cnt = 2, max_rd_cnt = 2 }
[[guest]]
name = "vm1"
[[guest.device]]
kind = "rpmb"
transport = { rpmb-dev = { socket = "rpmb_dev.sock" } }
rpmb = { capacity_blocks = 100 }
"#;

/// (capacity_bytes, write_counter, key_programmed) from `drivervmctl --json device ID`.
fn ctl_rpmb(svc: &Service, id: &str) -> (i64, i64, bool) {
    let (code, out, err) = ctl(svc, &["--json", "device", id]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let d = &v["detail"];
    (
        d["capacity_bytes"].as_i64().expect("capacity_bytes"),
        d["write_counter"].as_i64().expect("write_counter"),
        d["key_programmed"].as_bool().expect("key_programmed"),
    )
}

#[test]
fn rpmb_writes_show_up_in_the_detail_on_every_face() {
    use drivervm::devices::rpmb::constants::RES_OK;
    use support::rpmb::{options, Client, Link};
    let svc = Service::start(RPMB, &["vm0-rpmb.sock", "rpmb_dev.sock", "control.sock"]);
    assert_eq!(ctl_rpmb(&svc, "vm0-rpmb"), (512 * 256, 0, false));
    assert_eq!(ctl_rpmb(&svc, "vm1-rpmb"), (100 * 256, 0, false));

    let h = drivervm::harness::Harness::connect(svc.socket("vm0-rpmb.sock"), 1, &options())
        .unwrap_or_else(|e| panic!("{e}\n{}", svc.log()));
    let mut virtio = Client::new(Link::Virtio(Box::new(h)), [0x31; 32]);
    assert_eq!(virtio.program_key(), RES_OK);
    for i in 0..3u16 {
        assert_eq!(virtio.write(i, &[[i as u8 + 1; 256]]).result(), RES_OK);
    }
    eventually("vm0's writes are published", || {
        ctl_rpmb(&svc, "vm0-rpmb") == (512 * 256, 3, true)
    });

    let stream = UnixStream::connect(svc.socket("rpmb_dev.sock")).unwrap();
    let mut socket = Client::new(Link::Socket(stream), [0x32; 32]);
    assert_eq!(socket.program_key(), RES_OK);
    assert_eq!(socket.write(7, &[[9; 256]]).result(), RES_OK);
    eventually("vm1's write is published", || {
        ctl_rpmb(&svc, "vm1-rpmb") == (100 * 256, 1, true)
    });
    // The same numbers through the RPC client, and vm0 untouched by vm1.
    let conn = client(&svc, false);
    let r = conn.service.r#getRpmbInfo("vm0-rpmb").unwrap();
    assert_eq!(
        (r.r#capacityBytes, r.r#writeCounter, r.r#keyProgrammed),
        (512 * 256, 3, true)
    );
}
