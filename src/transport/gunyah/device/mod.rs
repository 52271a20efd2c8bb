//! One device label on a backend node: what the transport publishes for it, and how it
//! answers the frontend driver's life cycle (reset, DRIVER_OK, failure, exit) and kicks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use virtio_bindings::virtio_config::{VIRTIO_F_ACCESS_PLATFORM, VIRTIO_F_VERSION_1};
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::Queue;
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::timerfd::TimerFd;

mod driver_ok;
mod probe;
mod publish;

pub use probe::Found;

use super::io::{BackendEvent, DeviceLabel, EventSet, GunyahBackendIo};
use super::GunyahError;
use crate::devices::VirtioDevice;
use crate::logging::DeviceLog;
use crate::status::{DeviceState, LinkState};
use crate::transport::contain;
use crate::transport::kick_budget::{earliest, next_backoff_end, KickBudget};
use crate::transport::log_budget::LogBudget;
use crate::transport::poll::AdaptivePoll;
use crate::transport::ring_guard::RingGuard;
use crate::transport::rings::{poll_device, process_queue, OwnedRings, Session};
use crate::transport::wake::{arm_timer, device_timer, EventWaker};

/// Most config-space bytes published: virtio-mmio's device config area is 0x100..0x1000,
/// and every device of ours has a config of a few dozen bytes at most.
const MAX_CONFIG_PUBLISHED: usize = 256;

/// Events after which the current driver is gone and the device waits for the next one.
/// DRIVER_FAILED is not one of them: the drivers report it only together with a
/// notification parked before the DRIVER_OK ack, possibly long after it was set and by an
/// earlier driver, so it says nothing certain about the current one (which, if it did
/// fail, resets the device before it uses it again).
const GONE: EventSet = EventSet::VM_EXIT
    .union(EventSet::MODULE_EXIT)
    .union(EventSet::APP_EXIT);

/// Features the transport offers on top of the device's own. VIRTIO_F_ACCESS_PLATFORM is
/// offered, and required, because the device can only reach the shared window: with it a
/// Linux guest sends rings and buffers through the DMA API, i.e. through the restricted-DMA
/// pool laid over the window (`vring_use_dma_api()`, drivers/virtio/virtio_ring.c); without
/// it they land in ordinary guest RAM.
pub fn transport_features() -> u64 {
    (1 << VIRTIO_F_VERSION_1)
        | (1 << VIRTIO_F_ACCESS_PLATFORM)
        | (1 << VIRTIO_RING_F_EVENT_IDX)
        | (1 << VIRTIO_RING_F_INDIRECT_DESC)
}

/// A device served on one label, with its fds and the current driver's queues.
///
/// It outlives an open of the node: when the frontend VM exits, the node is closed and
/// reopened, and the same device (reset) is bound to the new open with [`LabelDevice::bind`].
pub struct LabelDevice {
    id: String,
    /// Bounds the log lines a misbehaving driver can cause.
    log_budget: LogBudget,
    label: DeviceLabel,
    /// The open node; `None` between two opens.
    io: Option<Arc<dyn GunyahBackendIo>>,
    /// The shared window of the current open (empty between opens).
    mem: GuestMemoryMmap,
    /// A DRIVER_OK was acknowledged on this open: the 0xBC driver reports no other, so a
    /// driver that resets and starts again is noticed by its first notification.
    driver_ok_acked: bool,
    device: Box<dyn VirtioDevice>,
    offered: u64,
    /// One per queue, registered with GH_IOEVENTFD.
    kicks: Vec<EventFd>,
    /// Registered with GH_IRQFD: writing it interrupts the frontend.
    irqfd: EventFd,
    waker: Arc<EventWaker>,
    timer: TimerFd,
    /// Deadline the timer is armed for, so unchanged deadlines cost no syscall.
    timer_deadline: Option<Instant>,
    /// Bumped whenever a driver goes away, so its tokens are never completed.
    generation: u64,
    event_idx: bool,
    /// The current driver's queues; empty while no driver is set up, `None` for a queue the
    /// driver did not enable or set up outside the window.
    queues: Vec<Option<Queue>>,
    /// Link state and counters for the control plane; written with atomics only.
    status: Arc<DeviceState>,
    /// Busy-polling state per queue.
    polls: Vec<AdaptivePoll>,
    /// Per queue: empty kicks allowed before its kick is not watched for a while.
    kick_budgets: Vec<KickBudget>,
    /// In-flight heads and the ring fault (needs reset) of the current driver.
    guard: RingGuard,
    /// Every line logged while serving this device is charged to its budget.
    log: Arc<DeviceLog>,
    /// A DRIVER_FAILED was logged since the last reset (one line per driver).
    failed_logged: bool,
    /// The "driver already running" report was given since the last reset.
    pub(super) stale_reported: bool,
}

impl LabelDevice {
    /// Prepares `device` for label `label`; it is bound to no node yet.
    pub fn new(
        id: String,
        label: DeviceLabel,
        device: Box<dyn VirtioDevice>,
    ) -> Result<Self, GunyahError> {
        let os = |what: &'static str| {
            let id = id.clone();
            move |source: std::io::Error| GunyahError::Os {
                device: id,
                what,
                source,
            }
        };
        let kicks = (0..device.queue_max_sizes().len())
            .map(|_| EventFd::new(EFD_NONBLOCK))
            .collect::<Result<Vec<_>, _>>()
            .map_err(os("eventfd"))?;
        let kicks_len = kicks.len();
        let irqfd = EventFd::new(EFD_NONBLOCK).map_err(os("eventfd"))?;
        let waker = Arc::new(EventWaker(
            EventFd::new(EFD_NONBLOCK).map_err(os("eventfd"))?,
        ));
        let timer = device_timer().map_err(os("timerfd"))?;
        let offered = device.features() | transport_features();
        let status = Arc::new(DeviceState::detached(
            &id,
            device.device_type(),
            device.queue_max_sizes().len(),
        ));
        Ok(Self {
            status,
            log_budget: LogBudget::default(),
            guard: RingGuard::new(kicks_len),
            log: DeviceLog::new(&id),
            id,
            label,
            io: None,
            mem: GuestMemoryMmap::new(),
            driver_ok_acked: false,
            device,
            offered,
            kicks,
            irqfd,
            waker,
            timer,
            timer_deadline: None,
            generation: 0,
            event_idx: false,
            queues: Vec::new(),
            polls: vec![AdaptivePoll::default(); kicks_len],
            kick_budgets: vec![KickBudget::default(); kicks_len],
            failed_logged: false,
            stale_reported: false,
        })
    }

    /// Polls each queue for up to `max` after its work before sleeping (zero: never).
    pub fn with_poll_max(mut self, max: Duration) -> Self {
        self.polls = vec![AdaptivePoll::new(max); self.polls.len()];
        self
    }

    /// Reports link state and counters into `status` (one counter set per queue).
    pub fn with_status(mut self, status: Arc<DeviceState>) -> Self {
        self.status = status;
        self
    }

    /// The device id (for logs and thread names).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The budget every line logged for this device is charged to.
    pub fn log(&self) -> &Arc<DeviceLog> {
        &self.log
    }

    /// Resets the device after a panic while handling an event (of `queue`, if a kick) and
    /// puts it in needs reset until the driver resets it or goes away.
    pub fn contain_panic(&mut self, queue: u16, payload: &(dyn std::any::Any + Send)) {
        self.generation += 1;
        contain::after_panic(
            &self.id,
            &self.status,
            &mut self.guard,
            self.device.as_mut(),
            queue,
            payload,
        );
    }

    /// Whether the device is in needs reset (a ring fault or a panic) for its current driver.
    pub fn needs_reset(&self) -> bool {
        self.guard.fault().is_some()
    }

    /// Whether the worker should watch `queue`'s kick: not in needs reset (each kick would
    /// only look at the fault), nor while the queue is backing off after a flood of empty
    /// kicks ([`KickBudget`]).
    pub fn kick_watched(&self, queue: u16) -> bool {
        !self.needs_reset()
            && !self
                .kick_budgets
                .get(usize::from(queue))
                .is_some_and(KickBudget::backing_off)
    }

    /// The label served.
    pub fn label(&self) -> DeviceLabel {
        self.label
    }

    /// Per-queue kick eventfds, in queue order.
    pub fn kicks(&self) -> &[EventFd] {
        &self.kicks
    }

    /// The eventfd the device's [`crate::devices::Wake`] writes.
    pub fn waker_fd(&self) -> &EventFd {
        &self.waker.0
    }

    /// The timer behind the device's poll deadlines.
    pub fn timer(&self) -> &TimerFd {
        &self.timer
    }

    /// Binds the device to a new open of its node, whose window is `mem`.
    pub fn bind(&mut self, io: Arc<dyn GunyahBackendIo>, mem: GuestMemoryMmap) {
        self.io = Some(io);
        self.mem = mem;
        self.driver_ok_acked = false;
    }

    /// Drops the current driver and lets go of the node and its window, so it can be closed.
    pub fn unbind(&mut self) {
        self.teardown();
        self.io = None;
        self.mem = GuestMemoryMmap::new();
        self.driver_ok_acked = false;
    }

    /// The open node the device is bound to, if any.
    pub fn io_handle(&self) -> Option<Arc<dyn GunyahBackendIo>> {
        self.io.clone()
    }

    fn io(&self) -> std::io::Result<&dyn GunyahBackendIo> {
        self.io.as_deref().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotConnected, "not bound to a node")
        })
    }

    /// Answers one GH_WAIT_FOR_EVENT result.
    pub fn handle_event(&mut self, ev: BackendEvent) {
        let e = ev.events;
        debug!("{}: event {e:?} data {:#x}", self.id, ev.data);
        if e.intersects(GONE) {
            warn!(
                "{}: frontend gone ({e:?}); waiting for the next driver",
                self.id
            );
            self.teardown();
        }
        if e.contains(EventSet::DRIVER_FAILED) && !self.failed_logged {
            self.failed_logged = true;
            warn!(
                "{}: the frontend reported DRIVER_FAILED (the kernel passes it on only with a \
                 notification, so it may come from an earlier driver); the device stays as it \
                 is until the driver resets it",
                self.id
            );
        }
        if e.contains(EventSet::RESET_RQST) {
            info!("{}: reset requested by the driver", self.id);
            self.teardown();
            self.failed_logged = false;
            self.stale_reported = false;
            if let Err(err) = self.io().and_then(|io| io.ack_reset(self.label)) {
                error!("{}: GH_ACK_RESET: {err}", self.id);
            }
            self.reregister_kicks();
        }
        if e.contains(EventSet::DRIVER_OK) {
            self.driver_ok();
        }
        if e.contains(EventSet::NEW_BUFFER) {
            self.scan_queues();
        }
        if e.unknown() != 0 {
            warn!(
                "{}: ignoring unknown event bits {:#x}",
                self.id,
                e.unknown()
            );
        }
        self.poll();
    }

    /// Registers each queue's ioeventfd again after a reset: the newer 0xB2 driver drops
    /// them on every reset; the others keep them and answer EBUSY, which is fine.
    fn reregister_kicks(&self) {
        let Ok(io) = self.io() else { return };
        for (q, kick) in self.kicks.iter().enumerate() {
            match io.register_ioeventfd(self.label, q as u32, fd(kick)) {
                Ok(()) => debug!("{}: ioeventfd of queue {q} registered again", self.id),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => warn!("{}: GH_IOEVENTFD {q} after a reset: {e}", self.id),
            }
        }
    }

    /// Forgets the current driver: its tokens, queues and pending kicks.
    fn teardown(&mut self) {
        self.status.set_link(LinkState::Listening);
        self.generation += 1;
        self.guard.clear();
        if let Err(p) = contain::run(|| self.device.reset()) {
            self.contain_panic(0, p.as_ref());
        }
        self.queues.clear();
        self.event_idx = false;
        if let Err(e) = self.timer.clear() {
            warn!("{}: cannot disarm timer: {e}", self.id);
        }
        self.timer_deadline = None;
        self.kick_budgets.iter_mut().for_each(KickBudget::clear);
        for kick in &self.kicks {
            let _ = kick.read();
        }
    }

    /// Processes every set-up queue once.
    fn scan_queues(&mut self) {
        for q in 0..self.queues.len() {
            self.process(q as u16);
        }
    }

    /// The frontend kicked `queue` (its ioeventfd fired).
    pub fn kicked(&mut self, queue: u16) {
        if let Some(kick) = self.kicks.get(usize::from(queue)) {
            let _ = kick.read();
        }
        if self.queues.is_empty() && self.driver_ok_acked {
            // A driver notifies only after DRIVER_OK, which the node reports once per open:
            // this is a driver that reset the device and started again.
            info!(
                "{}: notified after a reset without a DRIVER_OK event; setting up the \
                 driver's queues",
                self.id
            );
            self.driver_ok();
            self.poll();
            return;
        }
        let chains = match self.queues.get(usize::from(queue)) {
            Some(Some(_)) => self.process(queue),
            _ => {
                debug!("{}: kick on queue {queue}, which is not set up", self.id);
                0
            }
        };
        if !self.needs_reset() {
            if let Some(budget) = self.kick_budgets.get_mut(usize::from(queue)) {
                // Past the budget the worker stops watching this kick (`kick_watched`)
                // until the backoff ends, at the timer.
                budget.kicked(chains, Instant::now());
            }
        }
        self.poll();
    }

    /// Ends the backoffs that are due: the kicks that arrived meanwhile are taken from the
    /// eventfd (they wake nobody now) and the ring is looked at instead, so a chain added
    /// meanwhile is served now.
    fn end_backoffs(&mut self) {
        let now = Instant::now();
        for q in 0..self.kick_budgets.len() {
            if !self.kick_budgets[q].end_backoff(now) || self.needs_reset() {
                continue;
            }
            if let Some(kick) = self.kicks.get(q) {
                let _ = kick.read();
            }
            if matches!(self.queues.get(q), Some(Some(_))) {
                self.process(q as u16);
            }
        }
    }

    /// The device's waker fired.
    pub fn woken(&mut self) {
        let _ = self.waker.0.read();
        self.poll();
    }

    /// The device's timer expired.
    pub fn timer_expired(&mut self) {
        let _ = self.timer.wait();
        // A one-shot timer that fired is disarmed: the same deadline must be armed again.
        self.timer_deadline = None;
        self.poll();
    }

    fn process(&mut self, queue: u16) -> usize {
        let Self {
            id,
            mem,
            device,
            irqfd,
            queues,
            generation,
            event_idx,
            log_budget,
            status,
            polls,
            guard,
            ..
        } = self;
        let Some(poll) = polls.get_mut(usize::from(queue)) else {
            return 0;
        };
        let session = Session {
            id,
            mem,
            generation: *generation,
            event_idx: *event_idx,
            log_budget,
            status,
        };
        let mut rings = OwnedRings {
            queues,
            mem,
            signal: |_| irqfd.write(1),
        };
        process_queue(&session, &mut rings, guard, device.as_mut(), queue, poll)
    }

    /// Lets the device do timed work and re-arms the timer for its next deadline (or the
    /// end of a queue's kick backoff).
    fn poll(&mut self) {
        self.end_backoffs();
        let Self {
            id,
            mem,
            device,
            irqfd,
            queues,
            generation,
            event_idx,
            timer,
            timer_deadline,
            log_budget,
            status,
            guard,
            kick_budgets,
            ..
        } = self;
        let session = Session {
            id,
            mem,
            generation: *generation,
            event_idx: *event_idx,
            log_budget,
            status,
        };
        let mut rings = OwnedRings {
            queues,
            mem,
            signal: |_| irqfd.write(1),
        };
        let now = Instant::now();
        let next = poll_device(&session, &mut rings, guard, device.as_mut(), now);
        let next = earliest(next, next_backoff_end(kick_budgets));
        if next == *timer_deadline {
            return;
        }
        match arm_timer(timer, next, now) {
            Ok(()) => *timer_deadline = next,
            Err(e) => warn!("{id}: cannot arm timer: {e}"),
        }
    }
}

/// Borrows an eventfd's descriptor for as long as the eventfd itself is borrowed.
pub(super) fn fd(e: &EventFd) -> std::os::fd::BorrowedFd<'_> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `e`, which stays open for the returned lifetime
    // (tied to the borrow of `e`); vmm-sys-util's EventFd does not implement AsFd itself.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(e.as_raw_fd()) }
}
