//! vhost-user transport: serves one device on one unix socket to crosvm, QEMU or any
//! vhost-user frontend, one frontend at a time, for as long as the service runs.
//!
//! Each connection gets a fresh `VhostUserDaemon` (the crate's handler keeps ownership and
//! negotiation state that cannot be reset from outside), while the listening socket and the
//! device object persist: a VMM restart reconnects to the same path and finds a reset device.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost::vhost_user::Listener;
use vhost_user_backend::{VhostUserBackendMut, VhostUserDaemon, VringRwLock, VringT};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};
use virtio_queue::{Queue, QueueT};
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};
use vmm_sys_util::timerfd::TimerFd;

use super::contain;
use super::kick_budget::{earliest, next_backoff_end, KickBudget};
use super::log_budget::LogBudget;
use super::peer;
use super::poll::AdaptivePoll;
use super::ring_guard::RingGuard;
use super::rings::{poll_device, process_queue, Rings, Session};
use super::vhost_user_relay::{Handoff, Relay};
use super::wake::{arm_timer, EventWaker};
use crate::config::PeerAllowlist;
use crate::devices::VirtioDevice;
use crate::logging::{self, DeviceLog};
use crate::status::{DeviceState, LinkState};

type Memory = GuestMemoryAtomic<GuestMemoryMmap>;

/// Most configuration-space bytes one GET_CONFIG may ask for (vhost-user caps it at 256).
const MAX_CONFIG_READ: u32 = 4096;

/// A device as the vhost-user-backend crate sees it.
pub struct VhostUserDevice {
    id: String,
    guest: String,
    /// Locked only by `&self` queries; the worker thread reaches it through `get_mut`.
    device: Mutex<Box<dyn VirtioDevice>>,
    mem: Memory,
    event_idx: bool,
    /// Bumped on every reset so tokens from an earlier connection are never completed.
    generation: u64,
    /// The device was activated (SET_FEATURES) since the last reset.
    activated: bool,
    waker: Arc<EventWaker>,
    timer: TimerFd,
    /// Deadline the timer is armed for, so unchanged deadlines cost no syscall.
    timer_deadline: Option<Instant>,
    /// Bounds the log lines a misbehaving driver can cause.
    log_budget: LogBudget,
    /// Number of queues; event IDs for the waker and timer follow the queue IDs.
    num_queues: u16,
    /// Exit-event read ends the crate registers in its epoll set with `into_raw_fd` and never
    /// closes; reclaimed once the connection's worker threads have been joined.
    orphaned_exit_fds: Mutex<Vec<RawFd>>,
    /// Link state and counters for the control plane; written with atomics only.
    status: Arc<DeviceState>,
    /// Busy-polling state per queue.
    polls: Vec<AdaptivePoll>,
    /// In-flight heads and the ring fault (needs reset) of the current driver.
    guard: RingGuard,
    /// Every line logged while serving this device is charged to its budget.
    log: Arc<DeviceLog>,
    /// Whether this frontend was told its configuration space is too small (once).
    config_warned: AtomicBool,
    /// The epoll instance of the current connection's vring worker (-1 between
    /// connections), where the crate watches the kick eventfds.
    worker_epoll: AtomicI32,
    /// The vrings whose kicks were taken out of the worker's epoll after a fault, so that
    /// they can be watched again when the driver starts the device again.
    unwatched: Vec<VringRwLock>,
    /// Per queue: empty kicks allowed before its kick is not watched for a while.
    kick_budgets: Vec<KickBudget>,
}

impl VhostUserDevice {
    /// Wraps `device`, named `id` in logs and serving `guest`.
    pub fn new(id: String, guest: String, device: Box<dyn VirtioDevice>) -> std::io::Result<Self> {
        let num_queues = u16::try_from(device.queue_max_sizes().len())
            .map_err(|_| std::io::Error::other("too many queues"))?;
        let status = Arc::new(DeviceState::detached(
            &id,
            device.device_type(),
            usize::from(num_queues),
        ));
        Ok(Self {
            status,
            timer_deadline: None,
            log_budget: LogBudget::default(),
            num_queues,
            guest,
            device: Mutex::new(device),
            mem: GuestMemoryAtomic::new(GuestMemoryMmap::new()),
            event_idx: false,
            generation: 0,
            activated: false,
            waker: Arc::new(EventWaker(EventFd::new(EFD_NONBLOCK)?)),
            timer: crate::transport::wake::device_timer()?,
            orphaned_exit_fds: Mutex::new(Vec::new()),
            polls: vec![AdaptivePoll::default(); usize::from(num_queues)],
            guard: RingGuard::new(usize::from(num_queues)),
            log: DeviceLog::new(&id),
            id,
            config_warned: AtomicBool::new(false),
            worker_epoll: AtomicI32::new(-1),
            unwatched: Vec::new(),
            kick_budgets: vec![KickBudget::default(); usize::from(num_queues)],
        })
    }

    /// Polls each queue for up to `max` after its work before sleeping (zero: never).
    pub fn with_poll_max(mut self, max: Duration) -> Self {
        self.polls = vec![AdaptivePoll::new(max); self.polls.len()];
        self
    }

    /// Reports link state and counters into `status` (which must have one counter set per
    /// queue) instead of a private, unwatched one.
    pub fn with_status(mut self, status: Arc<DeviceState>) -> Self {
        self.status = status;
        self
    }

    /// The live state this transport reports into.
    pub fn status(&self) -> &Arc<DeviceState> {
        &self.status
    }

    /// The device, for the worker thread that holds `&mut self`.
    fn dev(&mut self) -> &mut dyn VirtioDevice {
        match self.device.get_mut() {
            Ok(d) => d.as_mut(),
            Err(poisoned) => poisoned.into_inner().as_mut(),
        }
    }

    /// Runs a read-only query on the device from a `&self` context.
    fn query<R>(&self, f: impl FnOnce(&dyn VirtioDevice) -> R) -> R {
        match self.device.lock() {
            Ok(d) => f(d.as_ref()),
            Err(poisoned) => f(poisoned.into_inner().as_ref()),
        }
    }

    fn waker_event(&self) -> u16 {
        self.num_queues + 1
    }

    fn timer_event(&self) -> u16 {
        self.waker_event() + 1
    }

    /// Returns the device to its power-on state and forgets the previous frontend.
    fn reset(&mut self) {
        self.generation += 1;
        self.activated = false;
        self.guard.clear();
        // The crate disables every vring on RESET_DEVICE (their kicks leave the epoll) and
        // watches them again when the frontend enables them; at the end of a connection the
        // epoll is gone.
        self.unwatched.clear();
        self.kick_budgets.iter_mut().for_each(KickBudget::clear);
        self.reset_model();
        self.event_idx = false;
        self.config_warned.store(false, Ordering::Relaxed);
        if let Err(e) = self.timer.clear() {
            warn!("{}: cannot disarm timer: {e}", self.id);
        }
        self.timer_deadline = None;
        self.mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
    }

    /// Resets the device model; a panic in its reset leaves it in needs reset (it is reset
    /// again before its next driver).
    fn reset_model(&mut self) {
        if let Err(p) = contain::run(|| self.dev().reset()) {
            self.contain_panic(0, p.as_ref());
        }
    }

    /// Closes the exit-event fds of a connection whose daemon has been dropped.
    fn reclaim_exit_fds(&self) {
        let fds = match self.orphaned_exit_fds.lock() {
            Ok(mut fds) => std::mem::take(&mut *fds),
            Err(_) => return,
        };
        for fd in fds {
            // SAFETY: `fd` came from `EventConsumer::into_raw_fd` in `exit_event`; the crate
            // only registered it with its epoll instance, which was closed when the daemon
            // and its worker threads were dropped, so nothing else owns or uses it.
            unsafe { libc::close(fd) };
        }
    }

    fn process_queue(&mut self, queue: u16, vrings: &[VringRwLock]) -> usize {
        let mem = self.mem.memory();
        let session = Session {
            id: &self.id,
            mem: &mem,
            generation: self.generation,
            event_idx: self.event_idx,
            log_budget: &self.log_budget,
            status: &self.status,
        };
        let device = match self.device.get_mut() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(poll) = self.polls.get_mut(usize::from(queue)) else {
            return 0;
        };
        process_queue(
            &session,
            &mut VringSet(vrings),
            &mut self.guard,
            device.as_mut(),
            queue,
            poll,
        )
    }

    /// Charges a kick of `queue` that took `chains` chains to its budget; past the budget
    /// the worker stops watching that kick until the backoff ends ([`Self::end_backoffs`]).
    fn charge_kick(&mut self, queue: u16, chains: usize, vrings: &[VringRwLock]) {
        if self.guard.fault().is_some() {
            return;
        }
        let Some(budget) = self.kick_budgets.get_mut(usize::from(queue)) else {
            return;
        };
        if budget.kicked(chains, Instant::now()).is_none() {
            return;
        }
        let epoll = self.worker_epoll.load(Ordering::Relaxed);
        if let (true, Some(vring)) = (epoll >= 0, vrings.get(usize::from(queue))) {
            if let Some(kick) = vring.get_ref().get_kick() {
                // ENOENT: the ring was disabled meanwhile; the crate watches it again when
                // it is enabled, which only ends the backoff early.
                let _ = epoll_ctl(epoll, libc::EPOLL_CTL_DEL, kick.as_raw_fd(), 0);
            }
        }
    }

    /// Watches again the kicks of queues whose backoff is over and looks at their rings: a
    /// chain the driver added meanwhile is served now (its kick, still pending in the
    /// eventfd, then finds nothing new).
    fn end_backoffs(&mut self, vrings: &[VringRwLock]) {
        let now = Instant::now();
        for queue in 0..self.num_queues {
            let Some(budget) = self.kick_budgets.get_mut(usize::from(queue)) else {
                continue;
            };
            if !budget.end_backoff(now) || self.guard.fault().is_some() {
                continue;
            }
            self.rewatch_kick(queue, vrings);
            self.process_queue(queue, vrings);
        }
    }

    /// Adds `queue`'s kick back to the worker's epoll if the crate would watch it.
    fn rewatch_kick(&self, queue: u16, vrings: &[VringRwLock]) {
        let epoll = self.worker_epoll.load(Ordering::Relaxed);
        let Some(vring) = vrings.get(usize::from(queue)) else {
            return;
        };
        let state = vring.get_ref();
        let Some(kick) = state.get_kick() else {
            return;
        };
        if epoll < 0 || !state.get_queue().ready() || !state.is_enabled() {
            return;
        }
        match epoll_ctl(
            epoll,
            libc::EPOLL_CTL_ADD,
            kick.as_raw_fd(),
            u64::from(queue),
        ) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => {
                if self.log_budget.admit(&self.id) {
                    warn!("{}: cannot watch the kicks of queue {queue}: {e}", self.id);
                }
            }
        }
    }

    /// Lets the device do timed work and re-arms the timer for its next deadline.
    fn poll_device(&mut self, vrings: &[VringRwLock]) {
        let mem = self.mem.memory();
        let session = Session {
            id: &self.id,
            mem: &mem,
            generation: self.generation,
            event_idx: self.event_idx,
            log_budget: &self.log_budget,
            status: &self.status,
        };
        let device = match self.device.get_mut() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        let next = poll_device(
            &session,
            &mut VringSet(vrings),
            &mut self.guard,
            device.as_mut(),
            now,
        );
        let next = earliest(next, next_backoff_end(&self.kick_budgets));
        if next == self.timer_deadline {
            return;
        }
        match arm_timer(&mut self.timer, next, now) {
            Ok(()) => self.timer_deadline = next,
            Err(e) => warn!("{}: cannot arm timer: {e}", self.id),
        }
    }
}

/// The size of the configuration space a frontend shows its driver, when a GET_CONFIG
/// reveals it: QEMU reads the whole space at offset 0 on every driver access, while a
/// frontend forwarding single accesses (crosvm) asks for 1, 2, 4 or 8 bytes at a time.
fn frontend_config_len(offset: u32, size: u32) -> Option<u32> {
    (offset == 0 && !matches!(size, 1 | 2 | 4 | 8)).then_some(size)
}

impl VhostUserDevice {
    /// Logs, once per frontend, that its configuration space cannot hold what the device
    /// offers: the driver would read past its end (QEMU answers all ones there).
    fn warn_config_too_small(&self, why: Option<String>, len: u32) {
        let Some(why) = why else { return };
        if self.config_warned.swap(true, Ordering::Relaxed) {
            return;
        }
        let line = format!(
            "the frontend's configuration space is {len} bytes, too small for what this \
             device offers ({why}); the guest driver will misread it"
        );
        error!("{}: {line}", self.id);
        self.status.record_error(line);
    }
}

/// The vrings of the current connection, as the shared queue code sees them.
struct VringSet<'a>(&'a [VringRwLock]);

impl VringSet<'_> {
    fn vring(&self, queue: u16) -> Result<&VringRwLock, String> {
        self.0
            .get(usize::from(queue))
            .ok_or_else(|| format!("no queue {queue}"))
    }
}

impl Rings for VringSet<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }

    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool {
        match self.0.get(usize::from(queue)) {
            Some(vring) => {
                f(vring.get_mut().get_queue_mut());
                true
            }
            None => false,
        }
    }

    fn add_used(&mut self, queue: u16, head: u16, len: u32) -> Result<(), String> {
        self.vring(queue)?
            .add_used(head, len)
            .map_err(|e| e.to_string())
    }

    fn enable_notification(&mut self, queue: u16) -> Result<bool, String> {
        self.vring(queue)?
            .enable_notification()
            .map_err(|e| e.to_string())
    }

    fn disable_notification(&mut self, queue: u16) -> Result<(), String> {
        self.vring(queue)?
            .disable_notification()
            .map_err(|e| e.to_string())
    }

    fn needs_notification(&mut self, queue: u16) -> Result<bool, String> {
        self.vring(queue)?
            .needs_notification()
            .map_err(|e| e.to_string())
    }

    fn signal(&mut self, queue: u16) -> std::io::Result<()> {
        self.vring(queue)
            .map_err(std::io::Error::other)?
            .signal_used_queue()
    }
}

impl VhostUserBackendMut for VhostUserDevice {
    type Bitmap = ();
    type Vring = VringRwLock;

    fn num_queues(&self) -> usize {
        usize::from(self.num_queues)
    }

    fn max_queue_size(&self) -> usize {
        self.query(|d| {
            d.queue_max_sizes()
                .iter()
                .copied()
                .max()
                .map_or(0, usize::from)
        })
    }

    fn features(&self) -> u64 {
        (1 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | (1 << VIRTIO_RING_F_INDIRECT_DESC)
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
            | self.query(|d| d.features())
    }

    fn acked_features(&mut self, features: u64) {
        let _scope = logging::enter(&self.log);
        info!("{}: driver acknowledged features {features:#x}", self.id);
        // vhost-user carries no DRIVER_OK without the STATUS protocol feature; VMMs send
        // SET_FEATURES when the guest driver sets DRIVER_OK (QEMU's vhost_dev_start, crosvm's
        // activate), so the acknowledged features are what marks it.
        self.status.set_features(features);
        self.status.set_link(LinkState::DriverOk);
        // A second activation on one connection is a new driver session: QEMU carries a
        // guest's device reset (a driver unbinding, say) to the backend only as stopped and
        // restarted rings, never as RESET_DEVICE. Buffers held from the old rings belong to
        // memory the guest has since freed: drop them (new generation) and start the device
        // model afresh, as the guest expects after its reset.
        // This is also how a device in needs-reset (a ring fault or a panic) comes back
        // for a guest driver that resets it: its in-flight heads and fault go too.
        if self.activated {
            info!(
                "{}: driver re-initialised the device: resetting it",
                self.id
            );
            self.generation += 1;
            self.guard.clear();
            self.rewatch_kicks();
            self.reset_model();
        }
        self.activated = true;
        let waker = self.waker.clone();
        if let Err(p) = contain::run(|| self.dev().activate(features, waker)) {
            self.contain_panic(0, p.as_ref());
        }
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        let base = VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::REPLY_ACK
            | VhostUserProtocolFeatures::RESET_DEVICE;
        if self.query(|d| d.has_config_space()) {
            base | VhostUserProtocolFeatures::CONFIG
        } else {
            base
        }
    }

    fn reset_device(&mut self) {
        let _scope = logging::enter(&self.log);
        info!("{}: reset requested by the frontend", self.id);
        self.reset();
    }

    fn set_event_idx(&mut self, enabled: bool) {
        self.event_idx = enabled;
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let mut buf = vec![0; size.min(MAX_CONFIG_READ) as usize];
        self.query(|d| {
            if let Some(len) = frontend_config_len(offset, size) {
                self.warn_config_too_small(d.config_too_small(len as usize), len);
            }
            d.read_config(offset as usize, &mut buf);
        });
        buf
    }

    fn set_config(&mut self, offset: u32, buf: &[u8]) -> std::io::Result<()> {
        let _scope = logging::enter(&self.log);
        if let Err(p) = contain::run(|| self.dev().write_config(offset as usize, buf)) {
            self.contain_panic(0, p.as_ref());
        }
        Ok(())
    }

    fn update_memory(&mut self, mem: Memory) -> std::io::Result<()> {
        self.mem = mem;
        Ok(())
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        let (consumer, notifier) =
            new_event_consumer_and_notifier(EventFlag::NONBLOCK | EventFlag::CLOEXEC).ok()?;
        // The crate will leak the consumer via into_raw_fd; remember it so it can be closed.
        let fd = consumer.as_raw_fd();
        self.orphaned_exit_fds.lock().ok()?.push(fd);
        Some((consumer, notifier))
    }

    fn handle_event(
        &mut self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[VringRwLock],
        _thread_id: usize,
    ) -> std::io::Result<()> {
        // Guest misbehaviour is logged and answered on the rings; returning Err here would
        // stop the worker thread, so this never fails. A panic is contained here, inside the
        // crate's lock on this backend, so the lock is not poisoned (the crate unwraps it on
        // every frontend request) and the next frontend finds the device reset.
        let _scope = logging::enter(&self.log);
        if let Err(p) = contain::run(|| self.handle(device_event, vrings)) {
            let queue = if device_event < self.num_queues {
                device_event
            } else {
                0
            };
            self.contain_panic(queue, p.as_ref());
        }
        // Again on every kick that still arrives: the crate watches a ring's kick again
        // when the frontend enables the ring, which it may do without resetting the device.
        if self.guard.fault().is_some()
            && (self.unwatched.is_empty() || device_event < self.num_queues)
        {
            self.unwatch_kicks(vrings);
        }
        Ok(())
    }
}

impl VhostUserDevice {
    /// One event of the worker thread: a kick, the waker or the timer.
    fn handle(&mut self, device_event: u16, vrings: &[VringRwLock]) {
        // The field, not the device: every event passes here, and asking the device locks it.
        if device_event < self.num_queues {
            let chains = self.process_queue(device_event, vrings);
            self.charge_kick(device_event, chains, vrings);
        } else if device_event == self.waker_event() {
            let _ = self.waker.0.read();
        } else if device_event == self.timer_event() {
            let _ = self.timer.wait();
            // One-shot: it is disarmed now.
            self.timer_deadline = None;
        } else {
            warn!("{}: unexpected event {device_event}", self.id);
        }
        self.end_backoffs(vrings);
        self.poll_device(vrings);
    }

    /// Stops the worker waking for kicks of a device in needs reset: it would only look at
    /// the fault and go back to sleep, once per kick, for as long as the guest kicks. The
    /// kicks are watched again when the driver starts the device again (the crate does so
    /// itself for RESET_DEVICE, a ring enabled again or a new kick eventfd; see
    /// [`Self::rewatch_kicks`] for a second SET_FEATURES).
    fn unwatch_kicks(&mut self, vrings: &[VringRwLock]) {
        let epoll = self.worker_epoll.load(Ordering::Relaxed);
        if epoll < 0 {
            return;
        }
        for vring in vrings {
            if let Some(kick) = vring.get_ref().get_kick() {
                // ENOENT: not watched (a ring not started or disabled); nothing to do.
                let _ = epoll_ctl(epoll, libc::EPOLL_CTL_DEL, kick.as_raw_fd(), 0);
            }
        }
        if self.unwatched.is_empty() {
            debug!(
                "{}: kicks no longer watched until the driver resets the device",
                self.id
            );
        }
        self.unwatched = vrings.to_vec();
    }

    /// Watches again the kicks [`Self::unwatch_kicks`] took out, for the rings the crate
    /// would watch (started and enabled), under the crate's event numbers (queue index).
    fn rewatch_kicks(&mut self) {
        let epoll = self.worker_epoll.load(Ordering::Relaxed);
        for (index, vring) in std::mem::take(&mut self.unwatched).iter().enumerate() {
            let state = vring.get_ref();
            let Some(kick) = state.get_kick() else {
                continue;
            };
            if epoll < 0 || !state.get_queue().ready() || !state.is_enabled() {
                continue;
            }
            match epoll_ctl(epoll, libc::EPOLL_CTL_ADD, kick.as_raw_fd(), index as u64) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => warn!("{}: cannot watch the kicks of queue {index}: {e}", self.id),
            }
        }
    }

    /// Resets the device after a panic while handling `queue` and puts it in needs reset.
    fn contain_panic(&mut self, queue: u16, payload: &(dyn std::any::Any + Send)) {
        self.generation += 1;
        let device = match self.device.get_mut() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        contain::after_panic(
            &self.id,
            &self.status,
            &mut self.guard,
            device.as_mut(),
            queue,
            payload,
        );
    }
}

/// Who may become a device's frontend.
#[derive(Debug, Clone, Default)]
pub enum Gate {
    /// Whoever the socket file's owner, group and mode let connect: the vhost-user
    /// daemon accepts on the device socket itself.
    #[default]
    Open,
    /// Only peers `allow` admits (SO_PEERCRED), checked before any message is read; an
    /// admitted connection is relayed to the daemon (see `vhost_user_relay`), whose handoff
    /// socket is made in a private directory under `dir`.
    Peers {
        /// The device's peer_uids / peer_gids.
        allow: PeerAllowlist,
        /// A directory only the service can write (the socket's own).
        dir: PathBuf,
    },
}

/// `epoll_ctl(2)` for a readable fd (the crate's worker epoll is only reachable by its fd).
fn epoll_ctl(epoll: RawFd, op: libc::c_int, fd: RawFd, data: u64) -> std::io::Result<()> {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: data,
    };
    // SAFETY: plain syscall on fds owned elsewhere and open for the duration of the call
    // (the worker's epoll while its connection is served, a kick the vring holds); `event`
    // is a valid epoll_event the kernel only reads.
    let r = unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Serves `device` on `listener` until the process exits, one frontend at a time.
pub fn serve(device: VhostUserDevice, listener: UnixListener) {
    serve_gated(device, listener, Gate::Open)
}

/// [`serve`], admitting only the frontends `gate` lets through.
pub fn serve_gated(device: VhostUserDevice, listener: UnixListener, gate: Gate) {
    // The accept loop's lines (a frontend connected, left, broke the protocol) are the
    // VMM's doing, not the guest's, and stay outside the device's budget: they are few per
    // connection, and tools and tests read them. Refused peers have a budget of their own.
    let id = device.id.clone();
    let guest = device.guest.clone();
    let status = device.status.clone();
    let backend = Arc::new(RwLock::new(device));
    let refusals = LogBudget::default();
    let mut accept = match gate {
        Gate::Open => Accept::Daemon(Listener::from(listener)),
        Gate::Peers { allow, dir } => Accept::Checked {
            listener,
            allow,
            dir,
            refusals: &refusals,
        },
    };
    loop {
        match serve_one(&id, &guest, &backend, &mut accept, &status) {
            Ok(()) => {}
            Err(Failure::Frontend(e)) => {
                error!("{id}: guest {guest}: {e}");
                status.record_error(e);
            }
            Err(Failure::Setup(e)) => {
                error!("{id}: guest {guest}: {e}");
                status.record_error(e);
                // Avoid a hot loop if accepting keeps failing (e.g. out of fds).
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let mut dev = match backend.write() {
            Ok(d) => d,
            Err(poisoned) => poisoned.into_inner(),
        };
        dev.worker_epoll.store(-1, Ordering::Relaxed);
        dev.reset();
        dev.reclaim_exit_fds();
        status.set_link(LinkState::Listening);
        info!("{id}: device reset; waiting for the next frontend of guest {guest}");
    }
}

/// How a connection is accepted.
enum Accept<'a> {
    /// By the daemon, on the device socket.
    Daemon(Listener),
    /// By us, checked, then relayed to the daemon.
    Checked {
        listener: UnixListener,
        allow: PeerAllowlist,
        dir: PathBuf,
        refusals: &'a LogBudget,
    },
}

/// Why a connection ended badly.
enum Failure {
    /// Accepting or setting up a connection failed: retried after a pause.
    Setup(String),
    /// The frontend broke the protocol: dropped, and the next one accepted at once.
    Frontend(String),
}

/// Accepts one frontend and serves it until it disconnects or breaks the protocol.
fn serve_one(
    id: &str,
    guest: &str,
    backend: &Arc<RwLock<VhostUserDevice>>,
    accept: &mut Accept<'_>,
    status: &DeviceState,
) -> Result<(), Failure> {
    let setup = |what: &str| {
        let what = what.to_owned();
        move |e: String| Failure::Setup(format!("{what}: {e}"))
    };
    // A checked frontend is accepted, and its credentials checked, before anything else.
    let checked = match accept {
        Accept::Daemon(_) => None,
        Accept::Checked {
            listener,
            allow,
            refusals,
            ..
        } => Some(
            peer::accept_admitted(id, listener, allow, refusals)
                .map_err(|e| setup("cannot accept a frontend")(e.to_string()))?,
        ),
    };
    let mut daemon = VhostUserDaemon::new(
        id.to_owned(),
        backend.clone(),
        GuestMemoryAtomic::new(GuestMemoryMmap::new()),
    )
    .map_err(|e| setup("cannot start vhost-user handler")(e.to_string()))?;
    {
        let dev = backend
            .read()
            .map_err(|_| Failure::Setup("device lock poisoned".to_owned()))?;
        let handlers = daemon.get_epoll_handlers();
        let handler = handlers
            .first()
            .ok_or_else(|| Failure::Setup("no vring worker".to_owned()))?;
        dev.worker_epoll
            .store(handler.as_raw_fd(), Ordering::Relaxed);
        for (fd, event, what) in [
            (
                dev.waker.0.as_raw_fd(),
                dev.waker_event(),
                "cannot watch waker",
            ),
            (
                dev.timer.as_raw_fd(),
                dev.timer_event(),
                "cannot watch timer",
            ),
        ] {
            handler
                .register_listener(fd, EventSet::IN, u64::from(event))
                .map_err(|e| setup(what)(e.to_string()))?;
        }
    }
    let relay = match (accept, checked) {
        (Accept::Daemon(listener), _) => {
            daemon
                .start(listener)
                .map_err(|e| setup("cannot accept a frontend")(e.to_string()))?;
            info!("{id}: frontend connected for guest {guest}");
            None
        }
        (Accept::Checked { dir, .. }, Some((frontend, cred))) => {
            let relay = hand_over(id, &mut daemon, dir, frontend)
                .map_err(|e| setup("cannot hand the frontend over")(e))?;
            info!(
                "{id}: frontend connected for guest {guest} (pid {}, uid {}, gid {})",
                cred.pid, cred.uid, cred.gid
            );
            Some(relay)
        }
        (Accept::Checked { .. }, None) => {
            return Err(Failure::Setup("no checked frontend".to_owned()))
        }
    };
    // The connection's thread may already have seen SET_FEATURES (DRIVER_OK).
    status.advance_link(LinkState::Listening, LinkState::Connected);
    let result = daemon.wait();
    if let Some(relay) = relay {
        relay.stop();
    }
    drop(daemon);
    match result {
        Ok(())
        | Err(vhost_user_backend::Error::HandleRequest(
            vhost::vhost_user::Error::Disconnected | vhost::vhost_user::Error::PartialMessage,
        )) => {
            info!("{id}: guest {guest}'s frontend disconnected");
            Ok(())
        }
        Err(e) => Err(Failure::Frontend(format!(
            "dropping frontend after protocol error: {e}"
        ))),
    }
}

/// Connects the daemon to a private handoff socket and relays `frontend` to it.
fn hand_over(
    id: &str,
    daemon: &mut VhostUserDaemon<Arc<RwLock<VhostUserDevice>>>,
    dir: &Path,
    frontend: std::os::unix::net::UnixStream,
) -> Result<Relay, String> {
    let handoff = Handoff::new(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = handoff
        .path()
        .to_str()
        .ok_or_else(|| format!("{}: not UTF-8", handoff.path().display()))?
        .to_owned();
    daemon.start_client(&path).map_err(|e| e.to_string())?;
    let inner = match handoff.accept_own() {
        Ok(s) => s,
        Err(e) => {
            drop(handoff);
            // The daemon's thread ends with its connection; wait for it.
            let _ = daemon.wait();
            return Err(e.to_string());
        }
    };
    drop(handoff);
    Relay::start(id, frontend, inner).map_err(|e| {
        let _ = daemon.wait();
        e.to_string()
    })
}
