//! The Gunyah transport over the simulator of the real drivers, through the life of the
//! service and of the guest VM: a guest without VIRTIO_F_ACCESS_PLATFORM, drivervm
//! restarted while the guest runs, a reopen racing the VM-exit handler, drivervm starting
//! after the guest gave up waiting, and the guest VM exiting with several devices. Each
//! behaves as docs/gunyah.md says.

mod support;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use drivervm::devices::{Completer, Request, VirtioDevice, Wake};
use drivervm::harness::{Driver, HarnessOptions};
use drivervm::transport::gunyah::sim::{Flavour, SimDriver, SimGuest, SimNode};
use drivervm::transport::gunyah::{
    start_node_with, transport_features, DeviceLabel, NodeDevice, NodeTiming,
};
use drivervm::transport::poll::DEFAULT_POLL_MAX;
use support::logs;
use support::transport::SIM_WINDOW_BASE;

const WINDOW: usize = 1 << 20;
const ACCESS_PLATFORM: u64 = 1 << 33;

/// Answers each request with its bytes reversed.
struct Echo;

impl VirtioDevice for Echo {
    fn device_type(&self) -> u32 {
        0xfff2
    }
    fn name(&self) -> &str {
        "echo"
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[16]
    }
    fn features(&self) -> u64 {
        0
    }
    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        let mut reply = request.data;
        reply.reverse();
        let _ = completer.complete(request.token, &reply);
    }
    fn reset(&mut self) {}
}

/// Short supervision periods, so a test does not wait a minute for the boot deadline.
fn quick() -> NodeTiming {
    NodeTiming {
        boot_deadline: Duration::from_millis(300),
        reassert_ready: Duration::from_millis(50),
    }
}

/// Serves an [`Echo`] per label of `node`, the device ids `<prefix><label>`: one drivervm.
fn serve(node: &SimNode, prefix: &str, labels: &[u32]) -> JoinHandle<()> {
    logs::init();
    let devices = labels
        .iter()
        .map(|&l| NodeDevice {
            id: format!("{prefix}{l}"),
            label: DeviceLabel::new(l).expect("label"),
            device: Box::new(Echo),
            status: None,
            poll_max: DEFAULT_POLL_MAX,
        })
        .collect();
    start_node_with(
        prefix,
        Box::new(node.opener()),
        SIM_WINDOW_BASE,
        devices,
        quick(),
    )
    .expect("start")
}

fn opts(timeout: Duration) -> HarnessOptions {
    HarnessOptions {
        queue_size: 8,
        timeout,
        ..HarnessOptions::default()
    }
}

/// Lines logged with `id` and all of `words`.
fn count(id: &str, words: &[&str]) -> usize {
    logs::lines_with(id)
        .lines()
        .filter(|l| words.iter().all(|w| l.contains(w)))
        .count()
}

/// Waits until a line with `id` and all of `words` is logged.
fn logged(id: &str, words: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(id, words) == 0 {
        assert!(
            Instant::now() < deadline,
            "no log line with {id} {words:?}:\n{}",
            logs::lines_with(id)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A request gets no answer within a while (no deadline a busy machine could miss: the
/// answer must not come at all).
fn not_served(d: &mut SimDriver) {
    let head = d.submit(0, b"unanswered", 16).unwrap();
    assert!(
        d.wait_for(0, head, Duration::from_millis(500)).is_err(),
        "a driver the device cannot serve got an answer"
    );
}

fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_driver_without_access_platform_is_refused_clearly_and_a_stock_one_works() {
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    let _svc = serve(&node, "ap", &[1]);
    let guest = SimGuest {
        accept_access_platform: false,
        ..SimGuest::default()
    };
    // Probing succeeds (the ack keeps the guest's probe from hanging), but its rings are in
    // ordinary guest RAM: the device refuses the driver and says what the guest needs.
    let mut plain =
        SimDriver::attach_as(&node, 1, 1, &opts(Duration::from_secs(5)), guest).unwrap();
    assert_eq!(plain.acked_features() & ACCESS_PLATFORM, 0);
    logged(
        "ap1",
        &[
            "did not accept VIRTIO_F_ACCESS_PLATFORM",
            "restricted-DMA pool",
        ],
    );
    not_served(&mut plain);
    drop(plain);
    let mut stock = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_ne!(stock.offered_features() & ACCESS_PLATFORM, 0);
    assert_eq!(stock.offered_features(), transport_features());
    assert_ne!(stock.acked_features() & ACCESS_PLATFORM, 0);
    assert_eq!(stock.request(0, b"dma", 8).unwrap(), b"amd");
}

#[test]
fn a_restart_while_the_guest_runs_is_reported_once_and_healed_by_a_driver_reset() {
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    let old = serve(&node, "rr", &[1]);
    let mut a = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(a.request(0, b"before", 8).unwrap(), b"erofeb");
    // drivervm dies and starts again; the guest goes on running with its driver. A dead
    // process's threads are gone with it: wait until the old service's are, or a worker of
    // it still polling the shared window (preempted on a busy machine) would answer.
    node.kill_backend();
    until("the killed service's threads to end", || old.is_finished());
    let _new = serve(&node, "rr", &[1]);
    logged("rr1", &["had this device running", "reboot the guest VM"]);
    // Its notifications are parked by the kernel: it is not served...
    not_served(&mut a);
    // ...until it resets the device (a rebind, or the guest's reboot).
    drop(a);
    let mut b = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(b.request(0, b"after", 8).unwrap(), b"retfa");
    assert_eq!(
        count("rr1", &["had this device running"]),
        1,
        "reported once"
    );
}

#[test]
fn a_reopen_racing_the_exit_handler_still_leaves_the_next_boot_served() {
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    let _svc = serve(&node, "race", &[1]);
    let mut a = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(a.request(0, b"one", 8).unwrap(), b"eno");
    // The guest VM exits; the handler stops before clearing app_ready, the transport
    // reopens and declares itself ready meanwhile, then the handler wipes it.
    let exit = node.begin_exit(Duration::from_secs(5)).unwrap();
    logged("race", &["reopening the node"]);
    until("the reopened node's GH_SET_APP_READY", || node.app_ready());
    exit.finish();
    drop(a);
    // The transport declares itself ready again until a guest shows up, so the next boot
    // does not wait out its 60 s (the simulated clock never moves here).
    let mut b = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(b.request(0, b"two", 8).unwrap(), b"owt");
}

#[test]
fn a_start_after_the_guest_gave_up_is_logged_and_a_guest_reboot_brings_the_devices() {
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    let boot = std::thread::scope(|s| {
        let t = s.spawn(|| node.boot_vm(Duration::from_secs(10)));
        until("the guest to boot", || node.vm_booting());
        node.advance(Duration::from_secs(61));
        t.join().expect("boot thread")
    });
    assert!(boot.is_err(), "the boot gave up on drivervm");
    let _svc = serve(&node, "late", &[1]);
    logged("late", &["ready for the guest VM", "must be rebooted"]);
    logged(
        "late",
        &["no guest driver has appeared", "until it is rebooted"],
    );
    assert!(SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(2))).is_err());
    node.exit_vm(Duration::from_secs(5)).unwrap();
    let mut d = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(d.request(0, b"late", 8).unwrap(), b"etal");
}

#[test]
fn a_guest_exit_with_several_devices_logs_no_errors_and_the_next_boot_is_served() {
    let node = SimNode::new(SIM_WINDOW_BASE, WINDOW, &[1, 2, 3]).unwrap();
    let _svc = serve(&node, "multi", &[1, 2, 3]);
    for boot in 0..3u8 {
        let mut ds: Vec<SimDriver> = (1..=3)
            .map(|l| SimDriver::attach(&node, l, 1, &opts(Duration::from_secs(5))).unwrap())
            .collect();
        for d in &mut ds {
            assert_eq!(d.request(0, &[boot, 7], 4).unwrap(), [7, boot]);
        }
        node.exit_vm(Duration::from_secs(5)).unwrap();
    }
    let errors = logs::lines_with("multi")
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(errors.is_empty(), "false errors: {errors:#?}");
}

/// The newer 0xB2 driver clears the DRIVER_OK ack and drops every ioeventfd on a reset:
/// DRIVER_OK is reported per reset, and the transport registers its ioeventfds again after
/// each one, so driver after driver is served. (Its drivers hand everything to the
/// hypervisor at once, so the guest VM boots first here.)
#[test]
fn the_newer_0xb2_drivers_reset_is_survived_driver_after_driver() {
    let node =
        SimNode::with_flavour(Flavour::VmFdResetDrops, SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    node.boot_vm(Duration::from_secs(5)).unwrap();
    let _svc = serve(&node, "b2", &[1]);
    for round in 0..3u8 {
        let mut d = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
        assert_eq!(d.request(0, &[round, 2], 4).unwrap(), [2, round]);
        Box::new(d).disconnect().unwrap();
    }
}

/// The secure-VM-loader (0xB2) VM fd, guest VM set up first: drivervm publishes at once
/// and the guest's driver is served.
#[test]
fn a_0xb2_vm_fd_whose_vm_is_set_up_first_is_published_at_once_and_served() {
    let node = SimNode::with_flavour(Flavour::VmFd, SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    node.boot_vm(Duration::from_secs(5)).unwrap();
    let _svc = serve(&node, "b2first", &[1]);
    logged("b2first1", &["published on label 1"]);
    let mut d = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(d.request(0, &[1, 2, 3], 4).unwrap(), [3, 2, 1]);
    assert_eq!(count("b2first", &["waiting"]), 0);
}

/// drivervm started before the VM's loader set the VM up: publishing then would be refused
/// by the 0xB2 driver (and lost), so nothing is published and no error is logged until the
/// VM's devices exist; then everything is published and the guest's driver is served.
#[test]
fn drivervm_started_before_the_0xb2_vm_is_set_up_publishes_only_after_it() {
    let node = SimNode::with_flavour(Flavour::VmFd, SIM_WINDOW_BASE, WINDOW, &[1, 2]).unwrap();
    let _svc = serve(&node, "b2early", &[1, 2]);
    logged("b2early", &["do not exist yet"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count("b2early", &["published"]), 0);
    assert_eq!(
        node.frontend(1, Duration::from_secs(1))
            .device_features()
            .unwrap(),
        0
    );
    node.boot_vm(Duration::from_secs(5)).unwrap();
    logged("b2early1", &["published on label 1"]);
    logged("b2early2", &["published on label 2"]);
    for l in [1, 2] {
        let mut d = SimDriver::attach(&node, l, 1, &opts(Duration::from_secs(5))).unwrap();
        assert_eq!(d.request(0, &[l as u8, 9], 4).unwrap(), [9, l as u8]);
        // As a guest's driver does on unbind: dropping the driver gives its rings' memory
        // back, and the next label's driver would reuse it while this device still looks.
        d.frontend().reset().expect("reset acknowledged");
    }
    let errors = logs::lines_with("b2early")
        .lines()
        .filter(|l| l.starts_with("ERROR") || l.starts_with("WARN"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(errors.is_empty(), "false errors: {errors:#?}");
}

/// The restart story of a VM fd: it serves one run of its VM. At the guest's exit drivervm
/// stops serving it without an error and lets go of the fd (so the loader can destroy the
/// VM); the VM's next run is a new VM fd, served by drivervm started again with it.
#[test]
fn a_0xb2_vm_fd_serves_one_run_and_the_next_runs_new_fd_is_served_by_a_new_start() {
    let first = SimNode::with_flavour(Flavour::VmFd, SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    first.boot_vm(Duration::from_secs(5)).unwrap();
    let svc = serve(&first, "b2run", &[1]);
    let mut d = SimDriver::attach(&first, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(d.request(0, &[4, 5], 4).unwrap(), [5, 4]);
    first.exit_vm(Duration::from_secs(5)).unwrap();
    logged("b2run", &["serves one run of its VM"]);
    until("the supervisor to end", || svc.is_finished());
    svc.join().unwrap();
    // The fd was let go of: nobody holds the (exclusive) simulated node any more.
    drop(first.open().expect("the transport still holds the VM fd"));
    drop(d);
    drop(first);

    let next = SimNode::with_flavour(Flavour::VmFd, SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    next.boot_vm(Duration::from_secs(5)).unwrap();
    let _svc = serve(&next, "b2next", &[1]);
    let mut d = SimDriver::attach(&next, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(d.request(0, &[6, 7], 4).unwrap(), [7, 6]);
    let errors = logs::lines_with("b2run")
        .lines()
        .filter(|l| l.starts_with("ERROR"))
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(errors.is_empty(), "false errors: {errors:#?}");
}

/// drivervm restarted while a VM-fd guest runs, the launcher handing the same fd over
/// again: the 0xB2 driver kept the first drivervm's config and fds, so the new one cannot
/// publish; it says so once, with what to do, instead of serving a dead device.
#[test]
fn a_restart_on_a_running_0xb2_vm_fd_is_refused_with_what_to_do() {
    let node = SimNode::with_flavour(Flavour::VmFd, SIM_WINDOW_BASE, WINDOW, &[1]).unwrap();
    node.boot_vm(Duration::from_secs(5)).unwrap();
    let _svc = serve(&node, "b2restart", &[1]);
    let mut d = SimDriver::attach(&node, 1, 1, &opts(Duration::from_secs(5))).unwrap();
    assert_eq!(d.request(0, &[1, 2], 4).unwrap(), [2, 1]);
    node.kill_backend();
    let devices = vec![NodeDevice {
        id: "b2again1".into(),
        label: DeviceLabel::new(1).unwrap(),
        device: Box::new(Echo),
        status: None,
        poll_max: DEFAULT_POLL_MAX,
    }];
    let e = start_node_with(
        "b2again",
        Box::new(node.opener()),
        SIM_WINDOW_BASE,
        devices,
        quick(),
    )
    .expect_err("a second drivervm on a running VM fd cannot publish")
    .to_string();
    assert!(e.contains("EBUSY") || e.contains("busy"), "{e}");
    assert!(e.contains("restart the guest VM"), "{e}");
}
