//! Serving a backend node, one open of it at a time.
//!
//! An open ("session"): map the window, publish every label, declare the application
//! ready, then per label one thread waiting for the node's events and one worker thread that
//! owns the device and watches its kicks, waker and timer. The 0xBC driver ends a session
//! when the frontend VM exits (or its module goes away): the wait in progress reports
//! APP_EXIT, the node turns inactive, the application's readiness is cleared and the old
//! registrations are kept until the node is closed. So when every label has seen the exit
//! (APP_EXIT or EINVAL), a supervisor thread closes the node
//! (unmapping the window, which holds it open too), reopens it and publishes again, and the
//! next boot of the frontend VM finds the same devices, reset.
//!
//! What the 0xBC driver does around that (`gh_virtio_backend.c`,
//! `MiCode/Xiaomi_Kernel_OpenSource` @ `060fe1f9c6e52299ffab46e94f5330e4e375db0c`):
//! - only the wait in progress sees APP_EXIT; the VM-exit handler marks the node inactive,
//!   and every later request fails with EINVAL until it is reopened: EINVAL from a wait is
//!   therefore the exit too, not an error;
//! - the exit handler clears `app_ready` after its loop over the devices, which may be
//!   after our reopen and GH_SET_APP_READY; the next boot would then wait for 60 s and run
//!   without the devices. So until a guest shows up, the supervisor issues
//!   GH_SET_APP_READY again every [`NodeTiming::reassert_ready`] (it has no other effect);
//! - at boot the kernel waits at most 60 s for the application: when no guest has shown up
//!   [`NodeTiming::boot_deadline`] after the node was ready, the supervisor says once what
//!   that means for a guest that was already running.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet as EpollSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use super::device::{Found, LabelDevice};
use super::io::{BackendEvent, DeviceLabel, EventSet, GunyahBackendIo};
use super::window::map_window;
use super::GunyahError;
use crate::devices::VirtioDevice;

/// One device to serve on a node.
pub struct NodeDevice {
    /// Device id for logs and thread names.
    pub id: String,
    /// Its label on the node (`qcom,label` in the device tree).
    pub label: DeviceLabel,
    /// The device model.
    pub device: Box<dyn VirtioDevice>,
    /// Where link state and counters are reported; `None` for an unwatched one.
    pub status: Option<Arc<crate::status::DeviceState>>,
    /// Longest busy-polling window of its queues (zero: never poll).
    pub poll_max: std::time::Duration,
}

/// Opens the node (again): the real device node, or a simulated one.
pub type OpenNode = Box<dyn Fn() -> io::Result<Arc<dyn GunyahBackendIo>> + Send>;

/// Wait before reopening a node whose session ended in errors rather than an exit.
const REOPEN_BACKOFF: Duration = Duration::from_secs(1);

/// First re-issue of GH_SET_APP_READY after an open: soon, since the race with the VM-exit
/// handler is over within microseconds once our waits have returned.
const FIRST_REASSERT: Duration = Duration::from_millis(100);

/// The timing of a node's supervision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeTiming {
    /// How long the frontend's kernel waits at boot for GH_SET_APP_READY (60 s in the 0xBC
    /// driver's `gh_virtio_mmio_init`).
    pub boot_deadline: Duration,
    /// How often GH_SET_APP_READY is issued again while no guest has shown up.
    pub reassert_ready: Duration,
}

impl Default for NodeTiming {
    fn default() -> Self {
        Self {
            boot_deadline: Duration::from_secs(60),
            reassert_ready: Duration::from_secs(1),
        }
    }
}

/// What the event thread hands the worker: an event to answer, and where to say it is done.
enum Control {
    Event(BackendEvent, SyncSender<()>),
    Stop,
}

/// Why a label's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// APP_EXIT: the frontend VM (or the backend module) went away.
    AppExit,
    /// The node's requests failed.
    Failed,
}

/// The threads serving one label during one session.
struct Running {
    worker: JoinHandle<LabelDevice>,
    events: JoinHandle<End>,
}

/// One open of the node, as the supervisor watches it.
struct Session {
    io: Arc<dyn GunyahBackendIo>,
    running: Vec<Running>,
    /// One message per label whose event thread ended.
    ended: Receiver<()>,
    /// An event arrived on this open: a guest booted past its wait for the application.
    seen: Arc<AtomicBool>,
    /// A guest already had a device set up when the node was opened.
    guest_found: bool,
    ready_at: Instant,
}

/// epoll tokens past the queue indices.
const TOKEN_WAKER: u64 = 1 << 32;
const TOKEN_TIMER: u64 = TOKEN_WAKER + 1;
const TOKEN_CONTROL: u64 = TOKEN_WAKER + 2;

/// Opens the node with `open`, publishes `devices` (window at guest-physical
/// `window_base`), declares the application ready and serves them, reopening the node
/// whenever the frontend VM exits; returns the supervising thread.
///
/// Everything that can fail on the first open fails here, before any thread runs. The
/// supervisor ends only when the node can no longer be opened (it is gone), which is logged.
pub fn start_node(
    node: &str,
    open: OpenNode,
    window_base: u64,
    devices: Vec<NodeDevice>,
) -> Result<JoinHandle<()>, GunyahError> {
    start_node_with(node, open, window_base, devices, NodeTiming::default())
}

/// [`start_node`] with the given supervision timing.
pub fn start_node_with(
    node: &str,
    open: OpenNode,
    window_base: u64,
    devices: Vec<NodeDevice>,
    timing: NodeTiming,
) -> Result<JoinHandle<()>, GunyahError> {
    let labels = devices
        .into_iter()
        .map(|d| {
            let (status, poll_max) = (d.status, d.poll_max);
            LabelDevice::new(d.id, d.label, d.device).map(|l| {
                let l = l.with_poll_max(poll_max);
                match status {
                    Some(s) => l.with_status(s),
                    None => l,
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let io = open().map_err(|source| GunyahError::Node {
        node: node.to_owned(),
        what: "opening the node",
        source,
    })?;
    let ready = io
        .vm_resources_ready()
        .map_err(|source| GunyahError::Node {
            node: node.to_owned(),
            what: "asking whether the guest VM's devices exist",
            source,
        })?;
    let first = if ready {
        Start::Running(session(node, io, window_base, labels).map_err(|(e, _)| e)?)
    } else {
        info!(
            "{node}: the guest VM's devices do not exist yet (its loader has not set it up); \
             publishing once they do, which the VM's launcher must wait for before starting \
             its vCPUs (see docs/gunyah.md)"
        );
        Start::Awaiting(io, labels)
    };
    let name = node.to_owned();
    std::thread::Builder::new()
        .name(format!("gunyah-{}", short(node)))
        .spawn(move || {
            crate::sandbox::enter(crate::sandbox::Role::GunyahNode);
            supervise(&name, &open, window_base, timing, first)
        })
        .map_err(|source| GunyahError::Node {
            node: node.to_owned(),
            what: "spawning the supervisor thread",
            source,
        })
}

/// The last path component, for thread names (which the kernel cuts at 15 bytes).
fn short(node: &str) -> &str {
    node.rsplit('/').next().unwrap_or(node)
}

/// How the supervisor begins: serving, or (0xB2) waiting for the guest VM's devices.
enum Start {
    Running(Session),
    Awaiting(Arc<dyn GunyahBackendIo>, Vec<LabelDevice>),
}

/// How often a 0xB2 VM fd is asked whether the VM's devices exist yet.
const VM_RESOURCES_POLL: Duration = Duration::from_millis(100);

/// Waits for each session to end and starts the next, until the node cannot be opened.
/// A 0xB2 VM fd serves one run of its VM: after the guest's exit the supervisor ends, and
/// its fd is closed so that the VM's loader can tear the VM down.
fn supervise(node: &str, open: &OpenNode, window_base: u64, timing: NodeTiming, first: Start) {
    let mut current = match first {
        Start::Running(s) => s,
        Start::Awaiting(io, labels) => match publish_when_booted(node, io, window_base, labels) {
            Some(s) => s,
            None => return,
        },
    };
    loop {
        current.watch(node, timing);
        let Session { io, running, .. } = current;
        let numbering = io.numbering();
        drop(io);
        let (mut labels, ends) = join(running);
        for l in &mut labels {
            l.unbind();
        }
        if ends.contains(&End::AppExit) {
            if numbering == super::io::Numbering::VmFd {
                info!(
                    "{node}: the guest VM exited; a VM fd serves one run of its VM, so its \
                     devices are no longer served and the fd is closed. The VM's next run has \
                     a new VM fd: its launcher must start drivervm again with it"
                );
                return;
            }
            info!("{node}: frontend VM or backend module exited; reopening the node");
        } else {
            warn!("{node}: every device stopped on errors; reopening the node");
            std::thread::sleep(REOPEN_BACKOFF);
        }
        current = loop {
            let opened = open().map_err(|source| GunyahError::Node {
                node: node.to_owned(),
                what: "opening the node",
                source,
            });
            let attempt = match opened {
                Ok(io) if io.numbering() == super::io::Numbering::VmFd => {
                    match publish_when_booted(node, io, window_base, labels) {
                        Some(s) => break s,
                        None => return,
                    }
                }
                Ok(io) => session(node, io, window_base, labels),
                Err(e) => Err((e, labels)),
            };
            match attempt {
                Ok(r) => break r,
                Err((e, back)) => {
                    labels = back;
                    if let GunyahError::Node { source, .. } = &e {
                        if is_gone(source) {
                            error!("{e}; the node is gone, no longer serving it");
                            return;
                        }
                    }
                    error!("{e}; retrying in {REOPEN_BACKOFF:?}");
                    std::thread::sleep(REOPEN_BACKOFF);
                }
            }
        };
    }
}

impl Session {
    /// Returns once every label's event thread ended; meanwhile, until a guest shows up,
    /// issues GH_SET_APP_READY again and, past the boot deadline, says what that means.
    fn watch(&mut self, node: &str, timing: NodeTiming) {
        let mut left = self.running.len();
        let mut next = Instant::now() + FIRST_REASSERT.min(timing.reassert_ready);
        let mut warned = false;
        while left > 0 {
            let wait = next.saturating_duration_since(Instant::now());
            match self.ended.recv_timeout(wait) {
                Ok(()) => left -= 1,
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    next = Instant::now() + timing.reassert_ready;
                    // The 0xB2 drivers have neither the handshake nor the boot deadline.
                    if self.seen.load(Ordering::Relaxed)
                        || self.io.numbering() == super::io::Numbering::VmFd
                    {
                        continue;
                    }
                    if let Err(e) = self.io.set_app_ready() {
                        debug!("{node}: GH_SET_APP_READY again: {e}");
                    }
                    if !warned
                        && !self.guest_found
                        && self.ready_at.elapsed() >= timing.boot_deadline
                    {
                        warned = true;
                        warn!(
                            "{node}: no guest driver has appeared {:?} after drivervm became \
                             ready. A guest VM waits that long at boot for drivervm: if it was \
                             already booting or running when drivervm started, it runs \
                             without these devices until it is rebooted",
                            timing.boot_deadline
                        );
                    }
                }
            }
        }
    }
}

fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

/// Joins a session's threads; returns the devices and why each label stopped.
fn join(running: Vec<Running>) -> (Vec<LabelDevice>, Vec<End>) {
    let mut labels = Vec::with_capacity(running.len());
    let mut ends = Vec::with_capacity(running.len());
    for r in running {
        match r.events.join() {
            Ok(end) => ends.push(end),
            Err(_) => {
                error!("a Gunyah event thread panicked");
                ends.push(End::Failed);
            }
        }
        match r.worker.join() {
            Ok(dev) => labels.push(dev),
            // The device is lost with the thread; the others go on being served.
            Err(_) => error!("a Gunyah device worker panicked; its device is no longer served"),
        }
    }
    (labels, ends)
}

/// 0xB2: waits until the VM's virtio-mmio devices exist (what is published before is
/// refused by the driver, or would be lost), then publishes and serves. `None` when the fd
/// fails or the first publication does (logged): a VM fd is not reopened.
fn publish_when_booted(
    node: &str,
    io: Arc<dyn GunyahBackendIo>,
    window_base: u64,
    labels: Vec<LabelDevice>,
) -> Option<Session> {
    loop {
        match io.vm_resources_ready() {
            Ok(true) => break,
            Ok(false) => std::thread::sleep(VM_RESOURCES_POLL),
            Err(e) => {
                error!("{node}: asking whether the guest VM's devices exist: {e}; no longer serving it");
                return None;
            }
        }
    }
    info!("{node}: the guest VM's devices exist; publishing");
    match session(node, io, window_base, labels) {
        Ok(s) => Some(s),
        Err((e, _)) => {
            error!("{e}; no longer serving {node}");
            None
        }
    }
}

/// On a 0xB2 VM fd, EBUSY while publishing means an earlier backend's registrations:
/// say so, and what to do.
fn explain(node: &str, io: &dyn GunyahBackendIo, e: GunyahError) -> GunyahError {
    let busy = matches!(&e, GunyahError::Request { source, .. }
        if source.raw_os_error() == Some(libc::EBUSY));
    if busy && io.numbering() == super::io::Numbering::VmFd {
        GunyahError::VmFdTaken {
            node: node.to_owned(),
            source: Box::new(e),
        }
    } else {
        e
    }
}

/// One open of the node: map, publish, SET_APP_READY, spawn. On failure the devices are
/// handed back, unbound.
fn session(
    node: &str,
    io: Arc<dyn GunyahBackendIo>,
    window_base: u64,
    mut labels: Vec<LabelDevice>,
) -> Result<Session, (GunyahError, Vec<LabelDevice>)> {
    let node_err = |what: &'static str| {
        move |source: io::Error| GunyahError::Node {
            node: node.to_owned(),
            what,
            source,
        }
    };
    let published = (|| {
        let window = io
            .map_shared_window()
            .map_err(node_err("mapping the shared window"))?;
        let size = window.size;
        let mem = map_window(window, window_base).map_err(|e| GunyahError::Window {
            node: node.to_owned(),
            why: e.to_string(),
        })?;
        info!("{node}: shared window of {size:#x} bytes at guest-physical {window_base:#x}");
        for l in &mut labels {
            l.bind(io.clone(), mem.clone());
            l.publish()?;
        }
        match io.set_app_ready() {
            // The 0xB2 numbering has no app-ready handshake: its guest does not wait.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                debug!("{node}: no GH_SET_APP_READY in this numbering");
                Ok(())
            }
            r => r.map_err(node_err("GH_SET_APP_READY")),
        }
    })();
    if let Err(e) = published {
        for l in &mut labels {
            l.unbind();
        }
        return Err((explain(node, io.as_ref(), e), labels));
    }
    let found: Vec<Found> = labels.iter_mut().map(|l| l.probe(node)).collect();
    let guest_found = found.iter().any(|f| *f != Found::NoGuest);
    let seen = Arc::new(AtomicBool::new(false));
    if !guest_found && io.numbering() == super::io::Numbering::DeviceNode {
        info!(
            "{node}: ready for the guest VM. A guest VM booting now, or waiting at boot for \
             drivervm (its kernel waits at most 60 s), gets these devices; one that started \
             earlier and gave up waiting must be rebooted to get them"
        );
    }
    let (ended_tx, ended) = mpsc::channel();
    let mut running = Vec::with_capacity(labels.len());
    for dev in labels {
        let id = dev.id().to_owned();
        match spawn_label(dev, ended_tx.clone(), seen.clone()) {
            Ok(r) => running.push(r),
            // Threads fail to start only when the process is out of resources; that device
            // is lost, the others are served.
            Err(e) => error!("{id}: {e}; this device is no longer served"),
        }
    }
    Ok(Session {
        io,
        running,
        ended,
        seen,
        guest_found,
        ready_at: Instant::now(),
    })
}

fn spawn_label(
    dev: LabelDevice,
    ended: mpsc::Sender<()>,
    seen: Arc<AtomicBool>,
) -> Result<Running, io::Error> {
    let id = dev.id().to_owned();
    let label = dev.label();
    let io = dev
        .io_handle()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not bound to a node"))?;
    let dev_log = dev.log().clone();
    let control = Arc::new(EventFd::new(EFD_NONBLOCK)?);
    let (tx, rx) = mpsc::channel();
    let worker_control = control.clone();
    let worker = std::thread::Builder::new()
        .name(id.clone())
        .spawn(move || {
            // A label's worker serves whichever kind its device is: the node's filter.
            crate::sandbox::enter(crate::sandbox::Role::GunyahNode);
            run_worker(dev, &worker_control, &rx)
        })?;
    let events_id = id.clone();
    let log = dev_log;
    let events = std::thread::Builder::new()
        .name(format!("{id}-ev"))
        .spawn(move || {
            crate::sandbox::enter(crate::sandbox::Role::GunyahEvents);
            let _scope = crate::logging::enter(&log);
            let end = run_events(&events_id, label, io.as_ref(), &control, &tx, &seen);
            let _ = ended.send(());
            end
        });
    match events {
        Ok(events) => Ok(Running { worker, events }),
        Err(e) => {
            // The worker's sender went with the failed spawn: it sees a closed channel on its
            // next control wake-up, which never comes; this device is lost with it.
            Err(e)
        }
    }
}

/// Waits for the node's events for one label and hands each to the worker, one at a time,
/// so that the next wait starts only after the previous event was answered (acked). Ends
/// the session on APP_EXIT or when the node fails.
fn run_events(
    id: &str,
    label: DeviceLabel,
    io: &dyn GunyahBackendIo,
    control: &EventFd,
    tx: &mpsc::Sender<Control>,
    seen: &AtomicBool,
) -> End {
    let end = loop {
        match io.wait_for_event(label) {
            Ok(ev) => {
                seen.store(true, Ordering::Relaxed);
                let (done_tx, done_rx) = mpsc::sync_channel(1);
                if tx.send(Control::Event(ev, done_tx)).is_err() {
                    break End::Failed;
                }
                if let Err(e) = control.write(1) {
                    warn!("{id}: cannot wake worker: {e}");
                }
                if done_rx.recv().is_err() {
                    error!("{id}: worker stopped");
                    break End::Failed;
                }
                if ev.events.contains(EventSet::APP_EXIT) {
                    break End::AppExit;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // After a successful publish, EINVAL means the node went inactive: the frontend
            // VM exited and another label's wait (or none) got the APP_EXIT.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                info!("{id}: the node answers EINVAL: the frontend VM exited");
                break End::AppExit;
            }
            Err(e) => {
                error!("{id}: GH_WAIT_FOR_EVENT failed: {e}; stopping this device");
                break End::Failed;
            }
        }
    };
    let _ = tx.send(Control::Stop);
    let _ = control.write(1);
    debug!("{id}: event thread ends ({end:?})");
    end
}

fn run_worker(mut dev: LabelDevice, control: &EventFd, rx: &Receiver<Control>) -> LabelDevice {
    let _scope = crate::logging::enter(dev.log());
    let id = dev.id().to_owned();
    let epoll = match watch(&dev, control) {
        Ok(e) => e,
        Err(e) => {
            error!("{id}: cannot watch the device's fds: {e}; not serving");
            return dev;
        }
    };
    let mut events = vec![EpollEvent::default(); dev.kicks().len() + 3];
    // Whether each kick is in the epoll set: not while the device is in needs reset, where
    // each kick would only wake the worker to look at the fault, for as long as the guest
    // kicks (the reset that ends it arrives as a node event, on the control fd), nor while
    // its queue backs off after a flood of empty kicks (the timer ends that).
    let mut watched = vec![true; dev.kicks().len()];
    loop {
        let n = match epoll.wait(-1, &mut events) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error!("{id}: epoll_wait: {e}; no longer serving");
                return dev;
            }
        };
        for ev in &events[..n] {
            // A panic costs the device its driver (reset, needs reset), never the thread:
            // the device's shared-hardware holds are released and the next driver is served.
            let contained =
                |dev: &mut LabelDevice, queue: u16, f: &mut dyn FnMut(&mut LabelDevice)| {
                    if let Err(p) = crate::transport::contain::run(|| f(dev)) {
                        dev.contain_panic(queue, p.as_ref());
                    }
                };
            match ev.data() {
                TOKEN_WAKER => contained(&mut dev, 0, &mut |d| d.woken()),
                TOKEN_TIMER => contained(&mut dev, 0, &mut |d| d.timer_expired()),
                TOKEN_CONTROL => {
                    let _ = control.read();
                    loop {
                        match rx.try_recv() {
                            Ok(Control::Event(e, done)) => {
                                contained(&mut dev, 0, &mut |d| d.handle_event(e));
                                let _ = done.send(());
                            }
                            Ok(Control::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                                return dev;
                            }
                            Err(mpsc::TryRecvError::Empty) => break,
                        }
                    }
                }
                q => {
                    let queue = q as u16;
                    contained(&mut dev, queue, &mut |d| d.kicked(queue));
                }
            }
        }
        for (q, was) in watched.iter_mut().enumerate() {
            let want = dev.kick_watched(q as u16);
            if want == *was {
                continue;
            }
            *was = want;
            if let Err(e) = watch_kick(&epoll, &dev, q, want) {
                warn!("{id}: cannot change whether the kicks of queue {q} are watched: {e}");
            }
        }
    }
}

/// Adds queue `q`'s kick eventfd to `epoll`, or removes it.
fn watch_kick(epoll: &Epoll, dev: &LabelDevice, q: usize, watched: bool) -> io::Result<()> {
    let Some(kick) = dev.kicks().get(q) else {
        return Ok(());
    };
    let op = if watched {
        ControlOperation::Add
    } else {
        ControlOperation::Delete
    };
    epoll.ctl(
        op,
        kick.as_raw_fd(),
        EpollEvent::new(EpollSet::IN, q as u64),
    )
}

/// Adds every kick eventfd of the device to `epoll`.
fn watch_kicks(epoll: &Epoll, dev: &LabelDevice) -> io::Result<()> {
    for q in 0..dev.kicks().len() {
        watch_kick(epoll, dev, q, true)?;
    }
    Ok(())
}

fn watch(dev: &LabelDevice, control: &EventFd) -> io::Result<Epoll> {
    let epoll = Epoll::new()?;
    let add = |fd: i32, token: u64| {
        epoll.ctl(
            ControlOperation::Add,
            fd,
            EpollEvent::new(EpollSet::IN, token),
        )
    };
    watch_kicks(&epoll, dev)?;
    add(dev.waker_fd().as_raw_fd(), TOKEN_WAKER)?;
    add(dev.timer().as_raw_fd(), TOKEN_TIMER)?;
    add(control.as_raw_fd(), TOKEN_CONTROL)?;
    Ok(epoll)
}
