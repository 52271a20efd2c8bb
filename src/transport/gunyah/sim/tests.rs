//! The simulator against the drivers it models, driven by hand (no transport): each test
//! is one behaviour of `gh_virtio_backend.c` (0xBC) or `gh_secure_vm_virtio_backend.c`
//! (0xB2) that a backend can observe (sources in `state.rs`).

use std::io;
use std::time::Duration;

use super::super::io::{DeviceLabel, EventSet, FeatureWord, GunyahBackendIo, QueueInfo};
use super::{Flavour, SimNode, BOOT_APP_READY_TIMEOUT};

const BASE: u64 = 0x8000_0000;
const T: Duration = Duration::from_secs(5);

fn label(l: u32) -> DeviceLabel {
    DeviceLabel::new(l).expect("label")
}

fn einval(r: io::Result<impl std::fmt::Debug>) {
    let e = r.expect_err("EINVAL expected");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
}

/// What a backend publishes for one label, in the 0xBC order.
fn publish(b: &dyn GunyahBackendIo, l: u32, features_hi: u32, config: &[u8]) {
    b.set_device_features(label(l), FeatureWord::Low, 0x10)
        .unwrap();
    b.set_device_features(label(l), FeatureWord::High, features_hi)
        .unwrap();
    b.set_queue_num_max(label(l), 0, 64).unwrap();
    b.set_device_config(label(l), config).unwrap();
}

#[test]
fn bc_pushes_what_was_published_only_when_the_vm_boots() {
    let node = SimNode::new(BASE, 1 << 16, &[1]).unwrap();
    let fe = node.frontend(1, T);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[1, 2, 3, 4, 5, 6]);
    assert_eq!(
        fe.device_features().unwrap(),
        0,
        "nothing reaches the hypervisor yet"
    );
    // No VM booted with the device: the requests that need its capability fail.
    einval(b.get_driver_features(label(1), FeatureWord::Low));
    einval(b.get_queue_info(label(1), 0));
    b.set_app_ready().unwrap();
    node.boot_vm(T).unwrap();
    assert_eq!(fe.device_features().unwrap(), 0x1_0000_0010);
    assert_eq!(fe.queue_num_max(0).unwrap(), 64);
    // Copied word by word: the partial last word is not.
    assert_eq!(fe.config_len().unwrap(), Some(4));
    // A reopen republishes, but the hypervisor keeps what it got at boot.
    drop(b);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 3, &[9, 9, 9, 9, 9, 9, 9, 9]);
    assert_eq!(fe.device_features().unwrap(), 0x1_0000_0010);
    assert_eq!(fe.config(0, 4).unwrap(), [1, 2, 3, 4]);
    // The queue limit is MAX_QUEUES = 4.
    einval(b.set_queue_num_max(label(1), 4, 8));
}

#[test]
fn bc_close_forgets_the_ack_and_fds_and_parks_the_running_drivers_kicks() {
    let node = SimNode::new(BASE, 1 << 16, &[1]).unwrap();
    let fe = node.frontend(1, T);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
    let kick = vmm_sys_util::eventfd::EventFd::new(vmm_sys_util::eventfd::EFD_NONBLOCK).unwrap();
    let kick_fd = super::super::device::fd(&kick);
    b.register_ioeventfd(label(1), 0, kick_fd).unwrap();
    // Once per open: a second registration is EBUSY.
    let busy = b.register_ioeventfd(label(1), 0, kick_fd).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(libc::EBUSY));
    b.set_app_ready().unwrap();
    node.boot_vm(T).unwrap();
    fe.set_queue(
        0,
        QueueInfo {
            num: 8,
            ready: true,
            desc: BASE,
            driver: BASE + 0x100,
            device: BASE + 0x200,
        },
    )
    .unwrap();
    // DRIVER_OK, acked: kicks reach the ioeventfd.
    let waiter = std::thread::spawn({
        let b = b.clone();
        move || b.wait_for_event(label(1))
    });
    fe.interrupt_for_test(EventSet::DRIVER_OK);
    let ev = waiter.join().unwrap().unwrap();
    assert_eq!(ev.events, EventSet::DRIVER_OK);
    b.ack_driver_ok(label(1)).unwrap();
    fe.notify(0).unwrap();
    assert_eq!(kick.read().unwrap(), 1);
    // The backend restarts: the guest's driver is still running, its queues still set.
    drop(b);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
    b.register_ioeventfd(label(1), 0, kick_fd).unwrap();
    assert!(b.get_queue_info(label(1), 0).unwrap().ready);
    fe.notify(0).unwrap();
    assert!(
        kick.read().is_err(),
        "a kick before any ack on this open is parked"
    );
    // No DRIVER_OK is raised again; the parked kick is lost to the next notification
    // after an ack (its bits are overwritten, not merged).
    b.ack_driver_ok(label(1)).unwrap();
    fe.notify(1).unwrap();
    assert!(
        kick.read().is_err(),
        "queue 0's parked kick was never passed on"
    );
}

#[test]
fn bc_reports_app_exit_to_the_wait_in_progress_then_einval_until_reopened() {
    let node = SimNode::new(BASE, 1 << 16, &[1, 2]).unwrap();
    let b = node.open().unwrap();
    for l in [1, 2] {
        publish(b.as_ref(), l, 1, &[0; 4]);
    }
    b.set_app_ready().unwrap();
    node.boot_vm(T).unwrap();
    let waiter = std::thread::spawn({
        let b = b.clone();
        move || b.wait_for_event(label(1))
    });
    while node.inner.shared.lock().labels[&1].waiting == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    node.exit_vm(T).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap().events, EventSet::APP_EXIT);
    einval(b.wait_for_event(label(1)));
    einval(b.wait_for_event(label(2)));
    einval(b.ack_reset(label(2)));
    drop(b);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
}

#[test]
fn bc_exit_handler_clears_app_ready_after_a_fast_reopen_and_the_next_boot_times_out() {
    let node = SimNode::new(BASE, 1 << 16, &[1]).unwrap();
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
    b.set_app_ready().unwrap();
    node.boot_vm(T).unwrap();
    let exit = node.begin_exit(T).unwrap();
    // The backend reopens and declares itself ready before the handler's last step...
    drop(b);
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
    b.set_app_ready().unwrap();
    exit.finish();
    // ...which wipes it: the next boot waits its 60 s and goes on without the device.
    assert!(!node.app_ready());
    let boot = std::thread::spawn({
        let shared = node.inner.shared.clone();
        move || super::frontend::boot(&shared, T)
    });
    while !node.vm_booting() {
        std::thread::sleep(Duration::from_millis(1));
    }
    node.advance(BOOT_APP_READY_TIMEOUT);
    let e = boot.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let fe = node.frontend(1, T);
    assert_eq!(fe.config_len().unwrap(), None, "the VM has no such device");
    assert!(fe.wait_app_ready().is_err());
}

#[test]
fn bc_boot_waits_for_app_ready_in_simulated_time() {
    let node = SimNode::new(BASE, 1 << 16, &[1]).unwrap();
    let boot = std::thread::spawn({
        let shared = node.inner.shared.clone();
        move || super::frontend::boot(&shared, T)
    });
    while !node.vm_booting() {
        std::thread::sleep(Duration::from_millis(1));
    }
    node.advance(BOOT_APP_READY_TIMEOUT - Duration::from_secs(1));
    let b = node.open().unwrap();
    publish(b.as_ref(), 1, 1, &[0; 4]);
    b.set_app_ready().unwrap();
    boot.join().unwrap().unwrap();
    assert_eq!(node.frontend(1, T).config_len().unwrap(), Some(4));
}

#[test]
fn b2_pushes_at_once_needs_the_vm_first_and_has_no_app_ready() {
    let node = SimNode::with_flavour(Flavour::VmFd, BASE, 1 << 16, &[1]).unwrap();
    let fe = node.frontend(1, T);
    let b = node.open().unwrap();
    einval(b.set_device_features(label(1), FeatureWord::Low, 1));
    einval(b.set_device_config(label(1), &[0; 4]));
    let e = b.set_app_ready().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported);
    // What was refused is lost: the frontend sees no features and no config.
    assert_eq!(fe.device_features().unwrap(), 0);
    // GH_VM_GET_FW_NAME is still empty: the VM's devices do not exist yet.
    assert!(!b.vm_resources_ready().unwrap());
    assert_eq!(b.numbering(), super::super::Numbering::VmFd);
    node.boot_vm(T).unwrap();
    assert!(b.vm_resources_ready().unwrap());
    publish(b.as_ref(), 1, 1, &[7; 8]);
    assert_eq!(fe.device_features().unwrap(), 0x1_0000_0010);
    assert_eq!(fe.config(0, 8).unwrap(), [7; 8]);
    // Sixteen queues.
    b.set_queue_num_max(label(1), 15, 8).unwrap();
    einval(b.set_queue_num_max(label(1), 16, 8));
    // The name stays set after the VM's exit, until the VM is destroyed.
    node.exit_vm(T).unwrap();
    assert!(b.vm_resources_ready().unwrap());
}

#[test]
fn b2_newer_reset_clears_the_ack_and_drops_the_ioeventfds() {
    for (flavour, drops) in [(Flavour::VmFd, false), (Flavour::VmFdResetDrops, true)] {
        let node = SimNode::with_flavour(flavour, BASE, 1 << 16, &[1]).unwrap();
        let b = node.open().unwrap();
        node.boot_vm(T).unwrap();
        publish(b.as_ref(), 1, 1, &[0; 4]);
        let kick =
            vmm_sys_util::eventfd::EventFd::new(vmm_sys_util::eventfd::EFD_NONBLOCK).unwrap();
        b.register_ioeventfd(label(1), 0, super::super::device::fd(&kick))
            .unwrap();
        b.ack_driver_ok(label(1)).unwrap();
        b.ack_reset(label(1)).unwrap();
        let st = node.inner.shared.lock();
        let l = &st.labels[&1];
        assert_eq!(l.ack_driver_ok, !drops, "{flavour:?}");
        assert_eq!(l.ioeventfds.is_empty(), drops, "{flavour:?}");
    }
}
