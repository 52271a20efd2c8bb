//! The harness against a virtio-scmi backend nobody here wrote (rust-vmm's
//! `vhost-device-scmi`), so that the harness is proven before drivervm's own transport exists.
//!
//! The backend is `DRIVERVM_THIRD_PARTY_SCMI` if set, else the one `.ci/run` installs in
//! `${DRIVERVM_CACHE:-~/.cache/drivervm}/vhost-device-scmi-0.4.0-v1/bin`; without either the
//! tests print a SKIPPED notice and pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drivervm::harness::{
    ChainLayout, Error, Harness, HarnessOptions, Segment, VIRTIO_F_VERSION_1,
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
};

const ENV: &str = "DRIVERVM_THIRD_PARTY_SCMI";
/// Where `.ci/run` installs vhost-device-scmi, under the cache directory.
const CACHED: &str = "vhost-device-scmi-0.4.0-v1/bin/vhost-device-scmi";

/// The backend binary: `ENV`, else the cached install if it exists.
fn backend_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os(ENV) {
        return Some(bin.into());
    }
    let cache = match std::env::var_os("DRIVERVM_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/drivervm"),
    };
    Some(cache.join(CACHED)).filter(|p| p.is_file())
}
const CMDQ: u16 = 0;
const EVENTQ: u16 = 1;

/// SCMI header: message_id bits 7:0, type 9:8, protocol_id 17:10, token 27:18.
fn scmi_header(protocol: u32, message: u32, token: u32) -> u32 {
    (token & 0x3FF) << 18 | (protocol & 0xFF) << 10 | (message & 0xFF)
}

fn base_version(token: u32) -> [u8; 4] {
    scmi_header(0x10, 0, token).to_le_bytes()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A running backend process, killed on drop.
struct Backend {
    child: Child,
    socket: PathBuf,
}

impl Backend {
    fn start(name: &str) -> Option<Self> {
        let Some(bin) = backend_binary() else {
            drivervm::harness::skip::skipped(
                &format!("third_party_scmi {name}"),
                &format!(
                    "no vhost-device-scmi: set {ENV} to one, or run .ci/run once to install \
                     it in the cache"
                ),
            );
            return None;
        };
        let socket = std::env::temp_dir().join(format!(
            "drivervm-harness-{}-{name}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&socket);
        let child = Command::new(&bin)
            .arg("--socket-path")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", Path::new(&bin).display()));
        let backend = Backend { child, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !backend.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "backend never created its socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(backend)
    }

    fn connect(&self, options: &HarnessOptions) -> Harness {
        Harness::connect(&self.socket, 2, options).expect("connect to vhost-device-scmi")
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn check_version_reply(reply: &[u8], token: u32) {
    assert_eq!(reply.len(), 12, "header + status + version");
    assert_eq!(u32_at(reply, 0), scmi_header(0x10, 0, token));
    assert_eq!(u32_at(reply, 4), 0, "status SUCCESS");
    assert!(u32_at(reply, 8) >> 16 >= 1, "major version at least 1");
}

#[test]
fn base_version_round_trip_and_features() {
    let Some(backend) = Backend::start("roundtrip") else {
        return;
    };
    let mut h = backend.connect(&HarnessOptions::default());
    let acked = h.acked_features();
    assert_ne!(acked & (1 << VIRTIO_F_VERSION_1), 0);
    assert_ne!(acked & (1 << VIRTIO_RING_F_EVENT_IDX), 0);
    assert_ne!(acked & (1 << VIRTIO_RING_F_INDIRECT_DESC), 0);
    for token in [0, 1, 0x3FF] {
        let reply = h.request(CMDQ, &base_version(token), 12).unwrap();
        check_version_reply(&reply, token);
    }
    assert_eq!(h.in_flight(CMDQ).unwrap(), 0);
    assert_eq!(h.free_descriptors(CMDQ).unwrap(), 256);
    // This backend offers no CONFIG protocol feature; the harness says so plainly.
    assert!(matches!(h.get_config(0, 4), Err(Error::NoConfigSpace)));
    h.disconnect().unwrap();
}

#[test]
fn pipelined_requests_come_back_with_their_tokens() {
    let Some(backend) = Backend::start("pipelined") else {
        return;
    };
    let mut h = backend.connect(&HarnessOptions::default());
    for round in 0..20u32 {
        let mut expected = std::collections::HashMap::new();
        for i in 0..64u32 {
            let token = (round * 64 + i) & 0x3FF;
            let head = h.submit(CMDQ, &base_version(token), 12).unwrap();
            expected.insert(head, token);
        }
        while !expected.is_empty() {
            for c in h.wait_completions(CMDQ, Duration::from_secs(2)).unwrap() {
                let token = expected
                    .remove(&c.head)
                    .expect("completion for a submitted head");
                assert_eq!(c.len, 12);
                check_version_reply(&c.data, token);
            }
        }
    }
    assert_eq!(h.free_descriptors(CMDQ).unwrap(), 256);
}

#[test]
fn indirect_chains_and_no_event_idx() {
    let Some(backend) = Backend::start("indirect") else {
        return;
    };
    let options = HarnessOptions {
        event_idx: false,
        queue_size: 16,
        ..HarnessOptions::default()
    };
    let mut h = backend.connect(&options);
    assert_eq!(h.acked_features() & (1 << VIRTIO_RING_F_EVENT_IDX), 0);
    for token in 0..40 {
        let req = base_version(token);
        let head = h
            .add_chain(
                CMDQ,
                &[Segment::Readable(&req), Segment::Writable(12)],
                ChainLayout::Indirect,
            )
            .unwrap();
        h.kick(CMDQ).unwrap();
        let c = h.wait_for(CMDQ, head, Duration::from_secs(2)).unwrap();
        check_version_reply(&c.data, token);
    }
}

#[test]
fn timeout_names_the_queue_and_reconnect_works() {
    let Some(backend) = Backend::start("timeout") else {
        return;
    };
    let mut h = backend.connect(&HarnessOptions::default());
    // The event queue holds buffers until there is a notification to deliver.
    h.submit(EVENTQ, &[], 16).unwrap();
    let err = h
        .wait_completions(EVENTQ, Duration::from_millis(200))
        .unwrap_err();
    assert_eq!(err.to_string(), "no used buffer on queue 1 after 200ms");
    h.disconnect_abruptly();

    // The backend goes back to listening; a fresh session works from scratch.
    let options = HarnessOptions {
        connect_timeout: Duration::from_secs(5),
        ..HarnessOptions::default()
    };
    let mut h = Harness::connect(&backend.socket, 2, &options).expect("reconnect");
    check_version_reply(&h.request(CMDQ, &base_version(7), 12).unwrap(), 7);
}

#[test]
fn connect_error_names_the_socket() {
    let err = Harness::connect("/nonexistent/x.sock", 2, &HarnessOptions::default())
        .err()
        .expect("no socket there");
    assert_eq!(
        err.to_string(),
        "cannot connect to /nonexistent/x.sock: No such file or directory"
    );
}

#[test]
fn backend_death_is_reported_as_disconnect_not_timeout() {
    let Some(mut backend) = Backend::start("death") else {
        return;
    };
    let mut h = backend.connect(&HarnessOptions::default());
    h.submit(EVENTQ, &[], 16).unwrap();
    backend.child.kill().unwrap();
    backend.child.wait().unwrap();
    let started = Instant::now();
    let err = h
        .wait_completions(EVENTQ, Duration::from_secs(5))
        .unwrap_err();
    assert!(matches!(err, Error::Disconnected), "got {err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}
