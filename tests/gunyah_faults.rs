//! Faults of a Gunyah frontend, over the simulated backend node: rings or buffers outside
//! the shared window, a reset while a request is held, DRIVER_FAILED, the frontend VM
//! vanishing, and the node itself failing. Each must be logged, must not kill the serving
//! threads, and must leave the device serving the next driver.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use drivervm::devices::{Completer, Request, VirtioDevice, Wake};
use drivervm::harness::{Driver, HarnessOptions, Malformed, DEFAULT_MEMORY_SIZE};
use drivervm::transport::gunyah::sim::{SimDriver, SimGuest, SimNode};
use drivervm::transport::gunyah::{start_node, DeviceLabel, NodeDevice, QueueInfo};
use drivervm::transport::poll::DEFAULT_POLL_MAX;
use support::logs;
use support::scmi::*;
use support::transport::{GunyahServed, SIM_WINDOW_BASE};
use support::TWO_GUESTS;
use vm_memory::{Bytes, GuestAddress};

const WINDOW: usize = 1 << 20;
const HOLD: Duration = Duration::from_millis(150);

/// Holds every request for [`HOLD`], then answers with the request bytes reversed. With
/// `sticky`, it ignores resets and still completes what it held (a buggy device), so the
/// transport's own protection against stale completions is what is tested.
struct Holding {
    sticky: bool,
    held: Vec<(Request, Instant)>,
    /// Requests received so far, so a test can fault the driver while one is held.
    received: Arc<AtomicUsize>,
}

impl VirtioDevice for Holding {
    fn device_type(&self) -> u32 {
        0xfff1
    }
    fn name(&self) -> &str {
        "holding"
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[16]
    }
    fn features(&self) -> u64 {
        0
    }
    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
    fn handle(&mut self, request: Request, _completer: &mut dyn Completer) {
        self.held.push((request, Instant::now() + HOLD));
        self.received.fetch_add(1, Ordering::SeqCst);
    }
    fn poll(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(_, at)| *at <= now);
        self.held = later;
        for (r, _) in due {
            let mut reply = r.data;
            reply.reverse();
            let _ = completer.complete(r.token, &reply);
        }
        self.held.iter().map(|(_, at)| *at).min()
    }
    fn reset(&mut self) {
        if !self.sticky {
            self.held.clear();
        }
    }
}

/// A node serving one [`Holding`] device on label 1, named `id`, and the device's count of
/// received requests.
fn holding_node(id: &str, sticky: bool) -> (SimNode, Vec<JoinHandle<()>>, Arc<AtomicUsize>) {
    let received = Arc::new(AtomicUsize::new(0));
    logs::init();
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1]).expect("sim node");
    let dev = NodeDevice {
        id: id.to_owned(),
        label: DeviceLabel::new(1).expect("label"),
        device: Box::new(Holding {
            sticky,
            held: Vec::new(),
            received: received.clone(),
        }),
        status: None,
        poll_max: DEFAULT_POLL_MAX,
    };
    let supervisor =
        start_node("sim", Box::new(node.opener()), SIM_WINDOW_BASE, vec![dev]).expect("start node");
    (node, vec![supervisor], received)
}

/// Waits until the device has received `n` requests.
fn received(count: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while count.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "the device never got the request"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn opts() -> HarnessOptions {
    HarnessOptions {
        queue_size: 16,
        ..HarnessOptions::default()
    }
}

fn alive(threads: &[JoinHandle<()>]) {
    assert!(
        threads.iter().all(|t| !t.is_finished()),
        "a serving thread ended"
    );
}

fn version_ok(d: &mut dyn Driver) {
    let r = Response::parse(&d.request(CMDQ, &command(0x10, 0, 1, &[]), 16).unwrap());
    assert_eq!((r.status, r.word(0)), (SUCCESS, 0x0002_0001));
}

/// Waits until a line containing all of `words` is logged.
fn logged(words: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if logs::lines_with(words[0])
            .lines()
            .any(|l| words.iter().all(|w| l.contains(w)))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no log line with {words:?}:\n{}", logs::lines_with(""));
}

#[test]
fn queues_outside_the_window_are_refused_untouched_and_the_next_driver_is_served() {
    let svc = GunyahServed::start(TWO_GUESTS);
    let (node, label) = svc.node("vm0-scmi");
    let fe = node.frontend(label, Duration::from_secs(2));
    fe.wait_app_ready().unwrap();
    fe.reset().unwrap();
    // VERSION_1 and ACCESS_PLATFORM: a driver the transport accepts, rings aside.
    fe.set_driver_features((1 << 32) | (1 << 33)).unwrap();
    let end = SIM_WINDOW_BASE + DEFAULT_MEMORY_SIZE as u64;
    // Queue 0's descriptor table below the window, queue 1's used ring straddling its end.
    let rings = [
        (0, 0x4000, SIM_WINDOW_BASE + 0x100, SIM_WINDOW_BASE + 0x200),
        (
            1,
            SIM_WINDOW_BASE + 0x300,
            SIM_WINDOW_BASE + 0x400,
            end - 0x10,
        ),
    ];
    for (q, desc, driver, device) in rings {
        let info = QueueInfo {
            num: 16,
            ready: true,
            desc,
            driver,
            device,
        };
        fe.set_queue(q, info).unwrap();
    }
    // Poison the in-window parts, so that any use of a refused queue shows.
    let poison = vec![0x5au8; 0x1000];
    node.memory()
        .lock()
        .unwrap()
        .memory()
        .write_slice(&poison, GuestAddress(SIM_WINDOW_BASE))
        .unwrap();
    fe.driver_ok().unwrap();
    fe.notify(0).unwrap();
    fe.notify(1).unwrap();
    logged(&["vm0-scmi", "queue 0 refused", "desc 0x4000"]);
    logged(&["vm0-scmi", "queue 1 refused"]);
    std::thread::sleep(Duration::from_millis(50));
    let mut now = vec![0u8; 0x1000];
    node.memory()
        .lock()
        .unwrap()
        .memory()
        .read_slice(&mut now, GuestAddress(SIM_WINDOW_BASE))
        .unwrap();
    assert!(now == poison, "a refused queue's rings were touched");
    let mut d = svc.attach("vm0-scmi", 2, &opts());
    version_ok(&mut d);
}

#[test]
fn descriptors_outside_the_window_are_refused_and_logged() {
    let svc = GunyahServed::start(TWO_GUESTS);
    let mut d = svc.attach("vm1-scmi", 2, &opts());
    for kind in [
        Malformed::AddressBelowMemory,
        Malformed::AddressOutsideMemory,
    ] {
        let head = d
            .add_malformed(CMDQ, kind, &command(0x10, 0, 0, &[]), 64)
            .unwrap();
        let c = d.wait_for(CMDQ, head, Duration::from_secs(2)).unwrap();
        assert_eq!(c.len, 0, "{kind:?}");
        version_ok(&mut d);
    }
    let below = format!("{:#x}", SIM_WINDOW_BASE - 0x1000);
    let above = format!(
        "{:#x}",
        SIM_WINDOW_BASE + DEFAULT_MEMORY_SIZE as u64 + 0x1000
    );
    logged(&["vm1-scmi", "refused", &below]);
    logged(&["vm1-scmi", "refused", &above]);
}

#[test]
fn a_reset_while_a_request_is_held_drops_its_completion() {
    let (node, threads, count) = holding_node("held-reset", true);
    let mut a = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    a.submit(0, b"old", 8).unwrap();
    received(&count, 1);
    let fe = a.frontend().clone();
    // The guest driver resets the device and frees its rings; the next driver reuses the
    // same memory, so a stale completion would land on its rings.
    drop(a);
    fe.reset().unwrap();
    let mut b = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    // The device completes the old request once its hold expires; the transport drops it.
    logged(&["held-reset", "dropping completion from before a reset"]);
    assert!(
        b.poll_completions(0).unwrap().is_empty(),
        "a completion from before the reset reached the new driver"
    );
    assert_eq!(b.request(0, b"new", 8).unwrap(), b"wen");
    alive(&threads);
}

/// The drivers report DRIVER_FAILED only together with a notification parked before the
/// DRIVER_OK ack, so it can reach the backend long after it was set, from an earlier
/// driver: here driver A gives up during its probe, and the FAILED surfaces only when
/// driver B, healthy, notifies right after its DRIVER_OK. B must keep being served.
#[test]
fn a_stale_driver_failed_does_not_tear_down_the_next_driver() {
    let (node, threads, count) = holding_node("failing", false);
    let fe = node.frontend(1, Duration::from_secs(2));
    fe.wait_app_ready().unwrap();
    fe.reset().unwrap();
    fe.fail().unwrap();
    let guest = SimGuest {
        notify_with_driver_ok: true,
        ..SimGuest::default()
    };
    let mut b = SimDriver::attach_as(&node, 1, 1, &opts(), guest).unwrap();
    logged(&[
        "failing",
        "DRIVER_FAILED",
        "may come from an earlier driver",
    ]);
    let torn_down = logs::lines_with("failing")
        .lines()
        .any(|l| l.contains("waiting for the next driver"));
    assert!(
        !torn_down,
        "the healthy driver was dropped on a stale DRIVER_FAILED"
    );
    let held = b.submit(0, b"held", 8).unwrap();
    received(&count, 1);
    let c = b.wait_for(0, held, Duration::from_secs(2)).unwrap();
    assert_eq!(c.len, 4);
    assert_eq!(b.request(0, b"ok", 8).unwrap(), b"ko");
    alive(&threads);
}

/// A driver that really fails is dropped at its reset, which every next driver starts
/// with: what it left in flight never reaches the next driver.
#[test]
fn a_failed_driver_is_dropped_at_the_next_reset() {
    let (node, threads, count) = holding_node("failed", false);
    let mut a = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    a.submit(0, b"lost", 8).unwrap();
    received(&count, 1);
    a.fail().unwrap();
    let mut b = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    logged(&["failed", "reset requested by the driver"]);
    std::thread::sleep(HOLD + Duration::from_millis(50));
    assert!(b.poll_completions(0).unwrap().is_empty());
    assert_eq!(b.request(0, b"ok", 8).unwrap(), b"ko");
    alive(&threads);
}

#[test]
fn the_frontend_vanishing_mid_request_leaves_the_device_serving() {
    let (node, threads, count) = holding_node("vanishing", true);
    let mut a = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    for i in 0..4u8 {
        a.submit(0, &[i; 4], 8).unwrap();
    }
    received(&count, 4);
    a.vanish().unwrap();
    logged(&["vanishing", "frontend gone"]);
    logged(&["sim", "reopening the node"]);
    let mut b = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    logged(&["vanishing", "dropping completion from before a reset"]);
    assert!(b.poll_completions(0).unwrap().is_empty());
    assert_eq!(b.request(0, b"abc", 8).unwrap(), b"cba");
    alive(&threads);
}

#[test]
fn a_failing_node_stops_its_threads_and_says_so() {
    let (node, threads, _) = holding_node("closing", false);
    let mut a = SimDriver::attach(&node, 1, 1, &opts()).unwrap();
    assert_eq!(a.request(0, b"12", 8).unwrap(), b"21");
    node.close();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !threads.iter().all(JoinHandle::is_finished) {
        assert!(Instant::now() < deadline, "threads still running");
        std::thread::sleep(Duration::from_millis(10));
    }
    for t in threads {
        assert!(t.join().is_ok(), "a serving thread panicked");
    }
    logged(&["closing", "GH_WAIT_FOR_EVENT failed"]);
}
