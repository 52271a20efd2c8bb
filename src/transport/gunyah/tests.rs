//! The transport over the loopback simulator with a small echo device: publication, the
//! driver life cycle and the bounds of the shared window.

use std::sync::Arc;
use std::time::Duration;

use super::sim::{SimDriver, SimNode};
use super::{start_node, transport_features, DeviceLabel, NodeDevice, QueueInfo};
use crate::devices::{Completer, Request, VirtioDevice, Wake};
use crate::harness::{Driver, HarnessOptions, Malformed};
use crate::transport::poll::DEFAULT_POLL_MAX;
use vm_memory::{Bytes, GuestAddress};

const BASE: u64 = 0x8000_0000;
const WINDOW: usize = 1 << 20;

/// Answers each request with its bytes reversed; config space holds 5 bytes.
struct Echo;

impl VirtioDevice for Echo {
    fn device_type(&self) -> u32 {
        0xfff0
    }
    fn name(&self) -> &str {
        "echo"
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[64, 64]
    }
    fn features(&self) -> u64 {
        1 << 3
    }
    fn read_config(&self, offset: usize, data: &mut [u8]) {
        let cfg = [0xde, 0xad, 0xbe, 0xef, 0x01];
        for (i, b) in data.iter_mut().enumerate() {
            *b = cfg.get(offset + i).copied().unwrap_or(0);
        }
    }
    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        let mut reply = request.data;
        reply.reverse();
        let _ = completer.complete(request.token, &reply);
    }
    fn reset(&mut self) {}
}

fn serve(labels: &[u32]) -> SimNode {
    let node = SimNode::new(BASE, WINDOW, labels).expect("sim node");
    let devices = labels
        .iter()
        .map(|&l| NodeDevice {
            id: format!("echo{l}"),
            label: DeviceLabel::new(l).expect("label"),
            device: Box::new(Echo),
            status: None,
            poll_max: DEFAULT_POLL_MAX,
        })
        .collect();
    start_node("sim", Box::new(node.opener()), BASE, devices).expect("start");
    node
}

fn opts() -> HarnessOptions {
    HarnessOptions {
        queue_size: 16,
        ..HarnessOptions::default()
    }
}

#[test]
fn publishes_features_config_and_serves_requests_on_every_label() {
    let node = serve(&[3, 7]);
    for label in [3, 7] {
        let mut d = SimDriver::attach(&node, label, 2, &opts()).expect("attach");
        assert_eq!(d.offered_features(), (1 << 3) | transport_features());
        assert_eq!(
            d.config(0, 9).unwrap(),
            [0xde, 0xad, 0xbe, 0xef, 1, 0, 0, 0, 0]
        );
        // Whole 32-bit words: the 0xBC driver copies the config word by word.
        assert_eq!(d.frontend().config_len().unwrap(), Some(8));
        for q in 0..2 {
            assert_eq!(d.request(q, b"abc", 8).unwrap(), b"cba");
        }
        Box::new(d).disconnect().unwrap();
    }
}

#[test]
fn every_malformed_chain_is_refused_and_the_device_keeps_serving() {
    let node = serve(&[1]);
    for kind in Malformed::ALL {
        let mut d = SimDriver::attach(&node, 1, 2, &opts()).expect("attach");
        let head = d.add_malformed(0, kind, b"xyz", 8).unwrap();
        if kind.is_ring_fault() {
            // Needs reset: the next driver (next iteration) is served.
            Box::new(d).disconnect().unwrap();
            continue;
        }
        let c = d.wait_for(0, head, Duration::from_secs(2)).unwrap();
        assert_eq!(c.len, 0, "{kind:?}");
        assert_eq!(d.request(0, b"ok", 4).unwrap(), b"ko", "{kind:?}");
        Box::new(d).disconnect().unwrap();
    }
    let mut d = SimDriver::attach(&node, 1, 2, &opts()).expect("attach");
    assert_eq!(d.request(0, b"ok", 4).unwrap(), b"ko");
}

#[test]
fn rings_outside_the_window_are_never_used_and_the_next_driver_is_served() {
    let node = serve(&[1]);
    let fe = node.frontend(1, Duration::from_secs(2));
    fe.wait_app_ready().unwrap();
    fe.reset().unwrap();
    fe.set_driver_features(1 << 32).unwrap();
    // Queue 0 below the window, queue 1 straddling its end.
    let end = BASE + WINDOW as u64;
    for (q, desc) in [(0, 0x1000), (1, end - 0x80)] {
        let info = QueueInfo {
            num: 16,
            ready: true,
            desc,
            driver: BASE,
            device: BASE + 0x1000,
        };
        fe.set_queue(q, info).unwrap();
    }
    // The avail and used rings the driver claims lie in the window: poison them, so that
    // any use of the refused queues would show.
    let poison = vec![0xa5u8; 0x2000];
    {
        let mem = node.memory();
        let m = mem.lock().unwrap();
        m.memory().write_slice(&poison, GuestAddress(BASE)).unwrap();
    }
    fe.driver_ok().unwrap();
    fe.notify(0).unwrap();
    fe.notify(1).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    {
        let mem = node.memory();
        let m = mem.lock().unwrap();
        let mut now = vec![0u8; 0x2000];
        m.memory().read_slice(&mut now, GuestAddress(BASE)).unwrap();
        assert!(now == poison, "a refused queue's rings were touched");
    }
    let mut d = SimDriver::attach(&node, 1, 2, &opts()).expect("attach after bad queues");
    assert_eq!(d.request(1, b"12", 4).unwrap(), b"21");
}

/// A device without config space (like virtio-scmi) still publishes one zero word.
#[test]
fn a_device_without_config_space_publishes_one_zero_word() {
    struct NoConfig;
    impl VirtioDevice for NoConfig {
        fn device_type(&self) -> u32 {
            32
        }
        fn name(&self) -> &str {
            "noconfig"
        }
        fn queue_max_sizes(&self) -> &[u16] {
            &[8]
        }
        fn features(&self) -> u64 {
            0
        }
        fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
        fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
            let _ = completer.complete(request.token, &[]);
        }
        fn reset(&mut self) {}
    }
    let node = SimNode::new(BASE, WINDOW, &[2]).expect("sim node");
    let dev = NodeDevice {
        id: "noconfig".into(),
        label: DeviceLabel::new(2).expect("label"),
        device: Box::new(NoConfig),
        status: None,
        poll_max: DEFAULT_POLL_MAX,
    };
    start_node("sim", Box::new(node.opener()), BASE, vec![dev]).expect("start");
    let fe = node.frontend(2, Duration::from_secs(2));
    fe.wait_app_ready().unwrap();
    assert_eq!(fe.config_len().unwrap(), Some(4));
    assert_eq!(fe.config(0, 4).unwrap(), [0; 4]);
}

#[test]
fn the_node_is_exclusive_and_gone_once_dropped() {
    let node = SimNode::new(BASE, WINDOW, &[1]).expect("sim node");
    let first = node.open().expect("first open");
    let busy = node.open().err().and_then(|e| e.raw_os_error());
    assert_eq!(busy, Some(libc::EBUSY));
    drop(first);
    let open = node.opener();
    assert!(open().is_ok(), "reopened after close");
    drop(node);
    let gone = open().err().and_then(|e| e.raw_os_error());
    assert_eq!(gone, Some(libc::ENODEV));
}

/// The 0xBC driver reports DRIVER_OK once per open of the node: a driver that resets and
/// starts again is noticed by its first notification.
#[test]
fn a_restarted_driver_is_served_without_a_second_driver_ok_event() {
    let node = serve(&[1]);
    for round in 0..3u8 {
        let mut d = SimDriver::attach(&node, 1, 2, &opts()).expect("attach");
        assert_eq!(d.request(0, &[round, 9], 4).unwrap(), [9, round]);
        Box::new(d).disconnect().unwrap();
    }
}

/// After the frontend VM exits the node is closed, reopened and republished, and the next
/// boot of the VM is served.
#[test]
fn the_next_boot_of_the_frontend_vm_is_served_after_a_reopen() {
    let node = serve(&[1, 2]);
    for boot in 0..3u8 {
        let mut a = SimDriver::attach(&node, 1, 2, &opts()).expect("attach 1");
        let mut b = SimDriver::attach(&node, 2, 2, &opts()).expect("attach 2");
        assert_eq!(a.request(1, &[boot, 1], 4).unwrap(), [1, boot]);
        assert_eq!(b.request(0, &[boot, 2], 4).unwrap(), [2, boot]);
        b.submit(0, b"in flight", 16).unwrap();
        a.vanish().unwrap();
        drop(b);
    }
}

/// A legacy driver (no VIRTIO_F_VERSION_1) gets its DRIVER_OK acknowledged, so its probe
/// does not hang, but the device never touches its rings; the next driver is served.
#[test]
fn a_driver_without_version_1_is_acknowledged_but_not_served() {
    let node = serve(&[1]);
    let fe = node.frontend(1, Duration::from_secs(2));
    fe.wait_app_ready().unwrap();
    fe.reset().unwrap();
    fe.set_driver_features(1 << 3).unwrap();
    let info = QueueInfo {
        num: 16,
        ready: true,
        desc: BASE,
        driver: BASE + 0x100,
        device: BASE + 0x200,
    };
    fe.set_queue(0, info).unwrap();
    let poison = vec![0x3cu8; 0x400];
    let mem = node.memory();
    mem.lock()
        .unwrap()
        .memory()
        .write_slice(&poison, GuestAddress(BASE))
        .unwrap();
    fe.driver_ok().unwrap();
    for _ in 0..3 {
        fe.notify(0).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut now = vec![0u8; 0x400];
    mem.lock()
        .unwrap()
        .memory()
        .read_slice(&mut now, GuestAddress(BASE))
        .unwrap();
    assert!(now == poison, "a legacy driver's rings were touched");
    let mut d = SimDriver::attach(&node, 1, 2, &opts()).expect("attach");
    assert_eq!(d.request(0, b"v1", 4).unwrap(), b"1v");
}

#[test]
fn link_state_and_counters_are_reported_for_the_control_plane() {
    use crate::status::{DeviceState, LinkState};
    let node = SimNode::new(BASE, WINDOW, &[4]).expect("sim node");
    let status = Arc::new(DeviceState::detached("echo4", 0xfff0, 2));
    let dev = NodeDevice {
        id: "echo4".into(),
        label: DeviceLabel::new(4).expect("label"),
        device: Box::new(Echo),
        status: Some(status.clone()),
        poll_max: DEFAULT_POLL_MAX,
    };
    start_node("sim", Box::new(node.opener()), BASE, vec![dev]).expect("start");
    assert_eq!(status.link(), LinkState::Listening);
    let mut d = SimDriver::attach(&node, 4, 2, &opts()).expect("attach");
    assert_eq!(status.link(), LinkState::DriverOk);
    assert_eq!(status.snapshot().features, d.acked_features());
    for _ in 0..3 {
        assert_eq!(d.request(1, b"abcd", 8).unwrap(), b"dcba");
    }
    let head = d
        .add_malformed(1, Malformed::WritableBeforeReadable, b"x", 8)
        .unwrap();
    d.wait_for(1, head, Duration::from_secs(2)).unwrap();
    // Counters are published once per batch, after the used ring is written: poll.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while status.snapshot().queues[1].requests < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            status.snapshot()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let q = status.snapshot().queues[1];
    assert_eq!((q.requests, q.errors, q.bytes), (4, 1, 3 * (4 + 4)));
    assert!(status.snapshot().last_error.contains("refused"));
    Box::new(d).disconnect().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while status.link() != LinkState::Listening {
        assert!(
            std::time::Instant::now() < deadline,
            "still {:?}",
            status.link()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_timer_wake_up_with_nothing_due_never_blocks_the_worker() {
    // The worker handles an epoll batch in order: an earlier event of the batch may re-arm
    // the timer (any poll) or disarm it (a reset), which zeroes its expiration count, and
    // the timer's readiness in the same batch is then stale. A fresh timer is disarmed, as
    // after a reset: handling that readiness must return at once, not wait for the next
    // deadline (or forever).
    let label = DeviceLabel::new(1).expect("label");
    let mut dev = super::LabelDevice::new("echo".into(), label, Box::new(Echo)).expect("device");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        dev.timer_expired();
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_ok(),
        "the worker blocked reading a timer that had not expired"
    );
}
