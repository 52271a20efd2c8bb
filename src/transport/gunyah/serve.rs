//! Serving a backend node: map its window once, publish every label, declare the application
//! ready, then per label one thread waiting for the node's events and one worker thread that
//! owns the device and watches its kicks, waker and timer.

use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use log::{error, info, warn};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet as EpollSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use super::device::LabelDevice;
use super::io::{BackendEvent, DeviceLabel, GunyahBackendIo};
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
}

/// What the event thread hands the worker: an event to answer, and where to say it is done.
enum Control {
    Event(BackendEvent, SyncSender<()>),
    Stop,
}

/// epoll tokens past the queue indices.
const TOKEN_WAKER: u64 = 1 << 32;
const TOKEN_TIMER: u64 = TOKEN_WAKER + 1;
const TOKEN_CONTROL: u64 = TOKEN_WAKER + 2;

/// Publishes `devices` on the node behind `io` (window mapped at guest-physical
/// `window_base`), declares the application ready and starts serving; returns the threads.
///
/// Everything that can fail at start-up fails here, before any thread runs. The threads
/// stop only when the node itself fails (GH_WAIT_FOR_EVENT returns an error other than
/// EINTR), which is logged.
pub fn start_node(
    node: &str,
    io: Arc<dyn GunyahBackendIo>,
    window_base: u64,
    devices: Vec<NodeDevice>,
) -> Result<Vec<JoinHandle<()>>, GunyahError> {
    let window = io.map_shared_window().map_err(|source| GunyahError::Node {
        node: node.to_owned(),
        what: "mapping the shared window",
        source,
    })?;
    let size = window.size;
    let mem = map_window(window, window_base).map_err(|e| GunyahError::Window {
        node: node.to_owned(),
        why: e.to_string(),
    })?;
    info!("{node}: shared window of {size:#x} bytes at guest-physical {window_base:#x}");
    let mut labels = Vec::with_capacity(devices.len());
    for d in devices {
        let dev = LabelDevice::new(d.id, d.label, io.clone(), mem.clone(), d.device)?;
        dev.publish()?;
        labels.push(dev);
    }
    io.set_app_ready().map_err(|source| GunyahError::Node {
        node: node.to_owned(),
        what: "GH_SET_APP_READY",
        source,
    })?;
    let mut threads = Vec::with_capacity(2 * labels.len());
    for dev in labels {
        threads.extend(spawn_label(dev, io.clone())?);
    }
    Ok(threads)
}

fn spawn_label(
    dev: LabelDevice,
    io: Arc<dyn GunyahBackendIo>,
) -> Result<[JoinHandle<()>; 2], GunyahError> {
    let id = dev.id().to_owned();
    let label = dev.label();
    let os = |what: &'static str| {
        let device = id.clone();
        move |source: std::io::Error| GunyahError::Os {
            device,
            what,
            source,
        }
    };
    let control = Arc::new(EventFd::new(EFD_NONBLOCK).map_err(os("eventfd"))?);
    let (tx, rx) = mpsc::channel();
    let worker_control = control.clone();
    let worker = std::thread::Builder::new()
        .name(id.clone())
        .spawn(move || run_worker(dev, &worker_control, &rx))
        .map_err(os("spawning the worker thread"))?;
    let events_id = id.clone();
    let events = std::thread::Builder::new()
        .name(format!("{id}-events"))
        .spawn(move || run_events(&events_id, label, io.as_ref(), &control, &tx))
        .map_err(os("spawning the event thread"))?;
    Ok([worker, events])
}

/// Waits for the node's events for one label and hands each to the worker, one at a time,
/// so that the next wait starts only after the previous event was answered (acked).
fn run_events(
    id: &str,
    label: DeviceLabel,
    io: &dyn GunyahBackendIo,
    control: &EventFd,
    tx: &mpsc::Sender<Control>,
) {
    loop {
        match io.wait_for_event(label) {
            Ok(ev) => {
                let (done_tx, done_rx) = mpsc::sync_channel(1);
                if tx.send(Control::Event(ev, done_tx)).is_err() {
                    return;
                }
                if let Err(e) = control.write(1) {
                    warn!("{id}: cannot wake worker: {e}");
                }
                if done_rx.recv().is_err() {
                    error!("{id}: worker stopped; no longer serving");
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error!("{id}: GH_WAIT_FOR_EVENT failed: {e}; no longer serving this device");
                let _ = tx.send(Control::Stop);
                let _ = control.write(1);
                return;
            }
        }
    }
}

fn run_worker(mut dev: LabelDevice, control: &EventFd, rx: &Receiver<Control>) {
    let id = dev.id().to_owned();
    let epoll = match watch(&dev, control) {
        Ok(e) => e,
        Err(e) => {
            error!("{id}: cannot watch the device's fds: {e}; not serving");
            return;
        }
    };
    let mut events = vec![EpollEvent::default(); dev.kicks().len() + 3];
    loop {
        let n = match epoll.wait(-1, &mut events) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error!("{id}: epoll_wait: {e}; no longer serving");
                return;
            }
        };
        for ev in &events[..n] {
            match ev.data() {
                TOKEN_WAKER => dev.woken(),
                TOKEN_TIMER => dev.timer_expired(),
                TOKEN_CONTROL => {
                    let _ = control.read();
                    while let Ok(c) = rx.try_recv() {
                        match c {
                            Control::Event(e, done) => {
                                dev.handle_event(e);
                                let _ = done.send(());
                            }
                            Control::Stop => return,
                        }
                    }
                }
                q => dev.kicked(q as u16),
            }
        }
    }
}

fn watch(dev: &LabelDevice, control: &EventFd) -> std::io::Result<Epoll> {
    let epoll = Epoll::new()?;
    let add = |fd: i32, token: u64| {
        epoll.ctl(
            ControlOperation::Add,
            fd,
            EpollEvent::new(EpollSet::IN, token),
        )
    };
    for (q, kick) in dev.kicks().iter().enumerate() {
        add(kick.as_raw_fd(), q as u64)?;
    }
    add(dev.waker_fd().as_raw_fd(), TOKEN_WAKER)?;
    add(dev.timer().as_raw_fd(), TOKEN_TIMER)?;
    add(control.as_raw_fd(), TOKEN_CONTROL)?;
    Ok(epoll)
}
