//! What the simulated node holds, split as the real system splits it: per label the
//! kernel driver's `virtio_backend_device` (what the backend published, its fds, pending
//! events, `ack_driver_ok`) and the hypervisor's virtio-mmio register file (what the
//! frontend sees); per node the driver's `virt_machine` (`state`, `app_ready`) and the
//! frontend VM's life (booting, running, exiting) on a simulated clock.
//!
//! Sources modelled (read, not copied):
//! - 0xBC: `drivers/virt/gunyah/gh_virtio_backend.c`, `MiCode/Xiaomi_Kernel_OpenSource` @
//!   `060fe1f9c6e52299ffab46e94f5330e4e375db0c` ("0xBC driver" below);
//! - 0xB2: `drivers/virt/gunyah/gh_secure_vm_virtio_backend.c`,
//!   `CodeLinaro-mirror/le_platform_vendor_qcom-opensource_gunyah-drivers` @
//!   `0a15e3e0904e6e4376a63abf66e58135c18f79eb` ("0xB2 driver"). The newer 0xB2 variant
//!   that also clears `ack_driver_ok` and drops the ioeventfds on a reset
//!   ([`Flavour::VmFdResetDrops`]) was not found in the code index; it is modelled from
//!   issue 21's description of it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::super::io::{EventSet, QueueInfo};

/// Queues per label of the 0xBC driver (`MAX_QUEUES`); the 0xB2 driver allows 16.
pub const SIM_MAX_QUEUES: u32 = 4;

/// How long the 0xBC driver's `gh_virtio_mmio_init` waits at guest boot for
/// GH_SET_APP_READY (`wait_event_interruptible_timeout(..., 60*HZ)`).
pub const BOOT_APP_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes of the frontend's config page (one page; the device config is at its offset 0).
pub const CONFIG_PAGE: usize = 4096;

/// Which driver the node behaves as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// The device-node driver, ioctl magic 0xBC (what the transport opens).
    DeviceNode,
    /// The secure-VM-loader driver, type 0xB2 on the VM fd: no app-ready handshake,
    /// features/queue maxima/config pushed to the hypervisor at once (so only once the VM
    /// booted), no `state` check, 16 queues, nothing released on close.
    VmFd,
    /// [`Flavour::VmFd`], newer: a reset also clears `ack_driver_ok` and drops every
    /// ioeventfd, so DRIVER_OK is reported once per reset, not once per open.
    VmFdResetDrops,
}

impl Flavour {
    /// `MAX_QUEUES` of the driver.
    pub fn max_queues(self) -> u32 {
        match self {
            Flavour::DeviceNode => SIM_MAX_QUEUES,
            Flavour::VmFd | Flavour::VmFdResetDrops => 16,
        }
    }

    /// The 0xB2 drivers push what the backend sets straight to the hypervisor.
    pub fn pushes_at_once(self) -> bool {
        self != Flavour::DeviceNode
    }
}

/// The hypervisor's virtio-mmio registers of one label, as the frontend sees them.
#[derive(Default)]
pub struct MmioRegs {
    /// DeviceFeatures (low, high) as last pushed.
    pub device_features: [u32; 2],
    /// QueueNumMax per queue as last pushed.
    pub queue_num_max: BTreeMap<u32, u32>,
    /// The config page's device-config bytes as last written (zeros past them).
    pub config: Vec<u8>,
    /// DriverFeatures (low, high).
    pub driver_features: [u32; 2],
    /// Queue registers as the driver wrote them.
    pub queues: BTreeMap<u32, QueueInfo>,
}

/// One label: the kernel's `virtio_backend_device` and the hypervisor's registers.
#[derive(Default)]
pub struct LabelState {
    /// GH_SET_DEVICE_FEATURES words, held by the kernel.
    pub features: [u32; 2],
    /// GH_SET_QUEUE_NUM_MAX values, held by the kernel.
    pub queue_num_max: BTreeMap<u32, u32>,
    /// GH_SET_DEVICE_CONFIG_DATA bytes (`config_data`); set once per open.
    pub config_data: Option<Vec<u8>>,
    /// Per-queue ioeventfds (`ioctx`).
    pub ioeventfds: BTreeMap<u32, File>,
    /// The irqfd.
    pub irqfd: Option<File>,
    /// `vdev_event`: events raised and not yet reported.
    pub pending: EventSet,
    /// `vdev_event_data`: queue bits of notifications not yet passed on.
    pub pending_data: u32,
    /// `evt_avail`.
    pub event_available: bool,
    /// `ack_driver_ok`: notifications go straight to the ioeventfds; DRIVER_OK is no
    /// longer reported.
    pub ack_driver_ok: bool,
    /// GH_WAIT_FOR_EVENT calls in progress (the driver's `refcount`, as far as the exit
    /// handler waits for it).
    pub waiting: u32,
    /// Of those, the ones that began before the frontend VM's exit (the handler waits for
    /// these, not for waits a reopened backend starts meanwhile).
    pub waiting_since_exit: u32,
    /// Bumped by each exit of the frontend VM; a wait remembers it at its start.
    pub exits: u64,
    /// `gh_virtio_mmio_init` set this label up for the running frontend VM (its
    /// capability, interrupt and config page exist).
    pub booted: bool,
    /// What the frontend sees.
    pub regs: MmioRegs,
    /// Count of GH_ACK_RESET calls.
    pub resets_acked: u64,
    /// Count of GH_ACK_DRIVER_OK calls.
    pub driver_ok_acks: u64,
}

impl LabelState {
    /// The hypervisor raises `event` (with queue bits `data` for NEW_BUFFER), as the
    /// drivers' `vdev_interrupt` takes it: a notification after the ack goes to the
    /// ioeventfds at once (0xBC: its bits replace the parked ones, which are lost), anything
    /// else is parked and wakes the waiter.
    ///
    /// Returns whether an event was parked (only then is there a waiter to wake).
    pub fn interrupt(&mut self, flavour: Flavour, event: EventSet, data: u32) -> bool {
        if !self.booted {
            // No interrupt handler outside gh_virtio_mmio_init .. gh_virtio_mmio_exit.
            return false;
        }
        if event == EventSet::NEW_BUFFER && self.ack_driver_ok {
            if flavour == Flavour::DeviceNode {
                self.pending_data = data;
            } else {
                self.pending_data |= data;
            }
            self.signal_queues();
            return false;
        }
        self.pending |= event;
        self.pending_data |= data;
        self.event_available = true;
        true
    }

    /// `signal_vqs`: each pending queue bit with an ioeventfd is signalled and cleared.
    fn signal_queues(&mut self) {
        for (&q, efd) in &self.ioeventfds {
            let bit = 1u32.checked_shl(q).unwrap_or(0);
            if self.pending_data & bit != 0 {
                let mut f: &File = efd;
                let _ = f.write_all(&1u64.to_ne_bytes());
                self.pending_data &= !bit;
            }
        }
    }

    /// One pass of GH_WAIT_FOR_EVENT's loop, in the drivers' order: exit, reset,
    /// DRIVER_OK (only before the ack), NEW_BUFFER (passing parked notifications on if
    /// acked, and reporting whatever else is pending with it: this is the only way
    /// DRIVER_FAILED is ever reported), INTERRUPT_ACK. `None`: keep waiting.
    pub fn take_event(&mut self) -> Option<(EventSet, u32)> {
        if !self.event_available {
            return None;
        }
        self.event_available = false;
        let p = self.pending;
        let mut reported = EventSet::empty();
        let mut data = 0;
        if p.intersects(EventSet::VM_EXIT | EventSet::MODULE_EXIT) {
            // Not cleared: but `evt_avail` is, so a later wait blocks (0xB2) or, on 0xBC,
            // finds the node inactive and fails with EINVAL before it gets here.
            reported = EventSet::APP_EXIT;
        } else if p.contains(EventSet::RESET_RQST) {
            self.pending = p.difference(EventSet::RESET_RQST);
            reported = EventSet::RESET_RQST;
            self.event_available = !self.pending.is_empty();
        } else if p.contains(EventSet::DRIVER_OK) {
            self.pending = p.difference(EventSet::DRIVER_OK);
            if !self.ack_driver_ok {
                reported = EventSet::DRIVER_OK;
                self.event_available = !self.pending.is_empty();
            }
        } else if p.contains(EventSet::NEW_BUFFER) {
            self.pending = p.difference(EventSet::NEW_BUFFER);
            if self.pending_data != 0 && self.ack_driver_ok {
                self.signal_queues();
            }
            if !self.pending.is_empty() {
                reported = std::mem::take(&mut self.pending);
                data = std::mem::take(&mut self.pending_data);
            }
        } else if p.contains(EventSet::INTERRUPT_ACK) {
            self.pending = p.difference(EventSet::INTERRUPT_ACK);
            self.pending_data = 0;
            reported = EventSet::INTERRUPT_ACK;
        }
        (!reported.is_empty()).then_some((reported, data))
    }

    /// `init_vb_dev_open`: pending events forgotten.
    pub fn clear_events(&mut self) {
        self.pending = EventSet::empty();
        self.pending_data = 0;
        self.event_available = false;
    }

    /// `close_vb_dev` (0xBC): fds, events, the ack and the config data are released; the
    /// hypervisor's registers, pushed at the guest's boot, stay as they are.
    pub fn release(&mut self) {
        self.ioeventfds.clear();
        self.irqfd = None;
        self.clear_events();
        self.ack_driver_ok = false;
        self.config_data = None;
    }

    /// Copies `data` to the config page word by word, as the drivers do (`config_size / 4`
    /// words: trailing bytes of a partial word are not copied).
    pub fn write_config_page(&mut self, data: &[u8]) {
        let words = data.len() / 4;
        self.regs.config = data[..words * 4].to_vec();
    }

    /// `gh_virtio_mmio_init`'s pushes of the 0xBC driver: nonzero feature words and queue
    /// maxima, and the config data, into the hypervisor.
    pub fn push_published(&mut self) {
        for (w, &f) in self.features.iter().enumerate() {
            if f != 0 {
                self.regs.device_features[w] = f;
            }
        }
        for (&q, &max) in &self.queue_num_max {
            if max != 0 {
                self.regs.queue_num_max.insert(q, max);
            }
        }
        if let Some(c) = self.config_data.clone() {
            self.write_config_page(&c);
        }
    }
}

/// Where the frontend VM is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmPhase {
    /// Not running.
    Off,
    /// Booting: the kernel waits for GH_SET_APP_READY until `deadline` on the simulated
    /// clock.
    Booting {
        /// Simulated time at which the wait gives up.
        deadline: Duration,
    },
    /// Running (with or without this node's devices, see [`LabelState::booted`]).
    Running,
    /// `gh_virtio_mmio_exit` is between its loop over the devices and its last step.
    Exiting,
}

/// The whole node.
pub struct NodeState {
    /// Which driver is modelled.
    pub flavour: Flavour,
    /// Labels the node serves (as listed in the device tree).
    pub labels: BTreeMap<u32, LabelState>,
    /// `vm->state == VM_STATE_ACTIVE` (0xBC): set by open, cleared by close and by the
    /// frontend VM's exit; every label request fails with EINVAL while it is clear.
    pub active: bool,
    /// `vm->app_ready`.
    pub app_ready: bool,
    /// A backend has the node open (it is exclusive).
    pub open: bool,
    /// Bumped when the backend process is killed: its open is released and its
    /// leftover handles fail.
    pub epoch: u64,
    /// The node is gone: opening fails and every wait fails.
    pub closed: bool,
    /// The frontend VM.
    pub vm: VmPhase,
    /// Simulated time (only [`super::SimNode::advance`] moves it).
    pub clock: Duration,
    /// 0xB2: the VM fd's `fw_name` is set. The loader writes it only once
    /// `GH_VM_SET_FW_NAME` loaded the VM and populated its resources (which is when
    /// `gh_virtio_mmio_init` runs), and clears it only when the VM is destroyed.
    pub fw_named: bool,
}

/// The node's state and the condition every waiter sleeps on.
pub struct Shared {
    state: Mutex<NodeState>,
    changed: Condvar,
}

/// `ENODEV`-like error for a closed node.
pub fn closed_error() -> io::Error {
    io::Error::from_raw_os_error(libc::ENODEV)
}

/// `EINVAL` as the kernel answers for an unknown label or queue, or an inactive node.
pub fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} (EINVAL, os error {})", libc::EINVAL),
    )
}

impl Shared {
    /// A node serving `labels`, behaving as `flavour`.
    pub fn new(flavour: Flavour, labels: &[u32]) -> Self {
        let state = NodeState {
            flavour,
            labels: labels.iter().map(|&l| (l, LabelState::default())).collect(),
            active: false,
            app_ready: false,
            open: false,
            epoch: 0,
            closed: false,
            vm: VmPhase::Off,
            clock: Duration::ZERO,
            fw_named: false,
        };
        Self {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    /// Locks the state (a poisoned lock is still usable: the state stays consistent
    /// field by field).
    pub fn lock(&self) -> MutexGuard<'_, NodeState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Runs `f` on label `label`'s state (any node state) and wakes every waiter.
    pub fn with_label<R>(
        &self,
        label: u32,
        f: impl FnOnce(Flavour, &mut LabelState) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut st = self.lock();
        if st.closed {
            return Err(closed_error());
        }
        let flavour = st.flavour;
        let l = st
            .labels
            .get_mut(&label)
            .ok_or_else(|| invalid("no such label"))?;
        let r = f(flavour, l);
        drop(st);
        self.changed.notify_all();
        r
    }

    /// Runs `f` on label `label`'s state; wakes every waiter only if `f` says something they
    /// may wait for changed. A notification that goes straight to an ioeventfd does not
    /// wake the backend's GH_WAIT_FOR_EVENT in the kernel either.
    pub fn with_label_quiet<R>(
        &self,
        label: u32,
        f: impl FnOnce(Flavour, &mut LabelState) -> io::Result<(R, bool)>,
    ) -> io::Result<R> {
        let mut st = self.lock();
        if st.closed {
            return Err(closed_error());
        }
        let flavour = st.flavour;
        let l = st
            .labels
            .get_mut(&label)
            .ok_or_else(|| invalid("no such label"))?;
        let r = f(flavour, l);
        drop(st);
        let (r, wake) = r?;
        if wake {
            self.changed.notify_all();
        }
        Ok(r)
    }

    /// Waits until `ready` returns `Some` (checked under the lock), the node closes, or
    /// `timeout` (if any) passes in real time.
    pub fn wait_until<R>(
        &self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(&mut NodeState) -> Option<R>,
    ) -> io::Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err(closed_error());
            }
            if let Some(r) = ready(&mut st) {
                return Ok(r);
            }
            st = match deadline {
                None => match self.changed.wait(st) {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                },
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the simulated node did not answer in time",
                        ));
                    }
                    match self.changed.wait_timeout(st, d - now) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    }
                }
            };
        }
    }

    /// Closes the node: every current and future wait fails.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Wakes every waiter (after a change made through [`Shared::lock`]).
    pub fn notify(&self) {
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booted() -> LabelState {
        LabelState {
            booted: true,
            ..LabelState::default()
        }
    }

    #[test]
    fn events_are_reported_in_the_drivers_order() {
        let f = Flavour::DeviceNode;
        let mut l = booted();
        assert_eq!(l.take_event(), None);
        l.interrupt(f, EventSet::DRIVER_OK, 0);
        l.interrupt(f, EventSet::RESET_RQST, 0);
        assert_eq!(l.take_event(), Some((EventSet::RESET_RQST, 0)));
        assert_eq!(l.take_event(), Some((EventSet::DRIVER_OK, 0)));
        assert_eq!(l.take_event(), None);
        // Once acknowledged, DRIVER_OK is swallowed.
        l.ack_driver_ok = true;
        l.interrupt(f, EventSet::DRIVER_OK, 0);
        assert_eq!(l.take_event(), None);
        // The VM exit wins over everything, once.
        l.interrupt(f, EventSet::VM_EXIT, 0);
        l.interrupt(f, EventSet::RESET_RQST, 0);
        assert_eq!(l.take_event(), Some((EventSet::APP_EXIT, 0)));
        l.release();
        assert_eq!(l.take_event(), None);
        assert!(!l.ack_driver_ok);
    }

    #[test]
    fn driver_failed_surfaces_only_with_a_parked_notification() {
        let f = Flavour::DeviceNode;
        let mut l = booted();
        l.interrupt(f, EventSet::DRIVER_FAILED, 0);
        // No branch of the wait reports it on its own.
        assert_eq!(l.take_event(), None);
        // A reset passes it by; it stays pending.
        l.interrupt(f, EventSet::RESET_RQST, 0);
        assert_eq!(l.take_event(), Some((EventSet::RESET_RQST, 0)));
        assert_eq!(l.take_event(), None);
        // A notification before the ack is parked and carries it out.
        l.interrupt(f, EventSet::NEW_BUFFER, 1);
        assert_eq!(l.take_event(), Some((EventSet::DRIVER_FAILED, 1)));
    }

    #[test]
    fn notifications_before_the_ack_are_parked_and_then_overwritten() {
        let f = Flavour::DeviceNode;
        let mut l = booted();
        let efd = tempfile::tempfile().expect("tempfile");
        l.ioeventfds.insert(0, efd.try_clone().expect("dup"));
        l.interrupt(f, EventSet::NEW_BUFFER, 1);
        assert_eq!(l.take_event(), None);
        assert_eq!(l.pending_data, 1, "parked");
        l.ack_driver_ok = true;
        // The next notification (queue 1) replaces the parked bits: queue 0's is lost.
        l.interrupt(f, EventSet::NEW_BUFFER, 2);
        assert_eq!(
            l.pending_data, 2,
            "queue 1 has no ioeventfd, queue 0's bit is gone"
        );
        assert_eq!(
            efd.metadata().expect("len").len(),
            0,
            "queue 0 never signalled"
        );
    }
}
