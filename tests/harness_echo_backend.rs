//! The harness end to end against a small in-process vhost-user backend built on rust-vmm's
//! `vhost-user-backend`: a test-only "echo" device that answers each request with its bytes
//! reversed and returns malformed chains with a used length of 0. It offers what
//! vhost-device-scmi does not (CONFIG, REPLY_ACK, MQ, a device feature bit), so those paths
//! of the harness run in every test run.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use drivervm::harness::{
    ChainLayout, Error, Harness, HarnessOptions, Malformed, Segment, VIRTIO_F_VERSION_1,
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
};
use vhost::vhost_user::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost_user_backend::{VhostUserBackend, VhostUserDaemon, VringRwLock, VringT};
use virtio_queue::QueueOwnedT;
use vm_memory::{Bytes, GuestAddressSpace, GuestMemoryAtomic, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

/// Device feature bit the echo device offers, to check that caller bits are negotiated.
const ECHO_F_TEST: u64 = 1 << 3;
const CONFIG: &[u8; 16] = b"echo-device-cfg!";
const QUEUE_SIZE: usize = 256;
/// Largest request the echo device accepts.
const MAX_REQUEST: usize = 4096;

struct EchoBackend {
    mem: Mutex<Option<GuestMemoryAtomic<GuestMemoryMmap>>>,
    event_idx: Mutex<bool>,
    /// Lets the daemon stop its worker thread when the connection ends.
    exit: (EventConsumer, EventNotifier),
}

impl EchoBackend {
    fn new() -> Self {
        Self {
            mem: Mutex::new(None),
            event_idx: Mutex::new(false),
            exit: new_event_consumer_and_notifier(EventFlag::NONBLOCK).unwrap(),
        }
    }

    /// Validates one chain and answers it; returns the used length (0 = refused).
    fn answer(mem: &GuestMemoryMmap, descs: &[virtio_queue::desc::split::Descriptor]) -> u32 {
        let mut request = Vec::new();
        let mut writable = Vec::new();
        for d in descs {
            if !mem.check_range(d.addr(), d.len() as usize) {
                return 0;
            }
            if d.is_write_only() {
                writable.push(*d);
            } else {
                // Readable after writable is the wrong direction.
                if !writable.is_empty() || request.len() + d.len() as usize > MAX_REQUEST {
                    return 0;
                }
                let mut b = vec![0u8; d.len() as usize];
                if mem.read_slice(&mut b, d.addr()).is_err() {
                    return 0;
                }
                request.extend_from_slice(&b);
            }
        }
        // A chain cut short by the iterator's length limit still has NEXT set: a loop.
        if descs.is_empty() || descs.last().is_some_and(|d| d.has_next()) {
            return 0;
        }
        request.reverse();
        let cap: usize = writable.iter().map(|d| d.len() as usize).sum();
        if request.len() > cap {
            return 0;
        }
        let mut at = 0;
        for d in writable {
            let n = (d.len() as usize).min(request.len() - at);
            if mem.write_slice(&request[at..at + n], d.addr()).is_err() {
                return 0;
            }
            at += n;
        }
        at as u32
    }

    fn process(&self, vring: &VringRwLock) -> std::io::Result<()> {
        let Some(atomic) = self.mem.lock().unwrap().clone() else {
            return Ok(());
        };
        let mem = atomic.memory();
        let chains: Vec<_> = vring
            .get_mut()
            .get_queue_mut()
            .iter(atomic.memory())
            .map_err(std::io::Error::other)?
            .collect();
        for chain in chains {
            let head = chain.head_index();
            if usize::from(head) >= QUEUE_SIZE {
                // No descriptor to return: skip it and keep serving.
                continue;
            }
            let descs: Vec<_> = chain.collect();
            let len = Self::answer(&mem, &descs);
            vring.add_used(head, len).map_err(std::io::Error::other)?;
        }
        if vring.needs_notification().map_err(std::io::Error::other)? {
            vring.signal_used_queue()?;
        }
        Ok(())
    }
}

impl VhostUserBackend for EchoBackend {
    type Bitmap = ();
    type Vring = VringRwLock;

    fn num_queues(&self) -> usize {
        1
    }

    fn max_queue_size(&self) -> usize {
        QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        (1 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | (1 << VIRTIO_RING_F_INDIRECT_DESC)
            | ECHO_F_TEST
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::REPLY_ACK
    }

    fn set_event_idx(&self, enabled: bool) {
        *self.event_idx.lock().unwrap() = enabled;
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let start = (offset as usize).min(CONFIG.len());
        let end = (offset as usize + size as usize).min(CONFIG.len());
        let mut out = CONFIG[start..end].to_vec();
        out.resize(size as usize, 0);
        out
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        Some((self.exit.0.try_clone().ok()?, self.exit.1.try_clone().ok()?))
    }

    fn update_memory(&self, mem: GuestMemoryAtomic<GuestMemoryMmap>) -> std::io::Result<()> {
        *self.mem.lock().unwrap() = Some(mem);
        Ok(())
    }

    fn handle_event(
        &self,
        device_event: u16,
        _evset: EventSet,
        vrings: &[VringRwLock],
        _thread_id: usize,
    ) -> std::io::Result<()> {
        let Some(vring) = vrings.get(usize::from(device_event)) else {
            return Ok(());
        };
        if *self.event_idx.lock().unwrap() {
            loop {
                vring
                    .disable_notification()
                    .map_err(std::io::Error::other)?;
                self.process(vring)?;
                if !vring.enable_notification().map_err(std::io::Error::other)? {
                    return Ok(());
                }
            }
        }
        self.process(vring)
    }
}

/// The echo device serving one connection on a fresh socket.
struct Echo {
    socket: PathBuf,
    thread: Option<JoinHandle<()>>,
}

impl Echo {
    fn start(name: &str) -> Self {
        let socket =
            std::env::temp_dir().join(format!("drivervm-echo-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let path = socket.clone();
        let thread = std::thread::spawn(move || {
            let mut daemon = VhostUserDaemon::new(
                "echo".into(),
                Arc::new(EchoBackend::new()),
                GuestMemoryAtomic::new(GuestMemoryMmap::new()),
            )
            .unwrap();
            // Returns when the frontend disconnects.
            let _ = daemon.serve(&path);
        });
        wait_for_socket(&socket);
        Echo {
            socket,
            thread: Some(thread),
        }
    }

    fn connect(&self, options: &HarnessOptions) -> Harness {
        Harness::connect(&self.socket, 1, options).expect("connect to the echo device")
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            if !std::thread::panicking() {
                t.join().unwrap();
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn wait_for_socket(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        assert!(Instant::now() < deadline, "echo device never listened");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn options() -> HarnessOptions {
    HarnessOptions {
        device_features: ECHO_F_TEST,
        ..HarnessOptions::default()
    }
}

#[test]
fn negotiation_config_and_reply_ack() {
    let echo = Echo::start("negotiate");
    let mut h = echo.connect(&options());
    assert_eq!(
        h.acked_features(),
        (1 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | (1 << VIRTIO_RING_F_INDIRECT_DESC)
            | ECHO_F_TEST
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    );
    assert_eq!(
        h.protocol_features(),
        (VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::REPLY_ACK)
            .bits()
    );
    assert_eq!(h.get_config(0, 16).unwrap(), CONFIG);
    assert_eq!(h.get_config(5, 6).unwrap(), b"device");
    assert_eq!(h.request(0, b"abc", 8).unwrap(), b"cba");
    // Every message after negotiation carried NEED_REPLY; teardown must still line up.
    h.disconnect().unwrap();
}

#[test]
fn options_switch_ring_features_off() {
    let echo = Echo::start("options");
    let h = echo.connect(&HarnessOptions {
        event_idx: false,
        indirect_desc: false,
        ..HarnessOptions::default()
    });
    assert_eq!(
        h.acked_features(),
        (1 << VIRTIO_F_VERSION_1) | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    );
    h.disconnect().unwrap();
}

#[test]
fn requests_in_both_layouts_with_and_without_event_idx() {
    for event_idx in [true, false] {
        let echo = Echo::start(if event_idx { "evidx" } else { "noevidx" });
        let mut h = echo.connect(&HarnessOptions {
            event_idx,
            ..options()
        });
        for (i, layout) in [ChainLayout::Direct, ChainLayout::Indirect]
            .into_iter()
            .cycle()
            .take(200)
            .enumerate()
        {
            let req = format!("request number {i}");
            let head = h
                .add_chain(
                    0,
                    &[
                        Segment::Readable(&req.as_bytes()[..4]),
                        Segment::Readable(&req.as_bytes()[4..]),
                        Segment::Writable(5),
                        Segment::Writable(64),
                    ],
                    layout,
                )
                .unwrap();
            h.kick(0).unwrap();
            let c = h.wait_for(0, head, Duration::from_secs(2)).unwrap();
            let want: Vec<u8> = req.bytes().rev().collect();
            assert_eq!(c.len as usize, want.len());
            assert_eq!(c.data, want);
        }
        assert_eq!(h.free_descriptors(0).unwrap(), 256);
        h.disconnect().unwrap();
    }
}

#[test]
fn pipelined_keeps_many_in_flight() {
    let echo = Echo::start("pipelined");
    let mut h = echo.connect(&options());
    let mut outstanding = std::collections::HashMap::new();
    let mut sent = 0u32;
    let mut received = 0u32;
    while received < 5000 {
        while outstanding.len() < 100 && sent < 5000 {
            let req = sent.to_be_bytes();
            let head = h
                .add_chain(
                    0,
                    &[Segment::Readable(&req), Segment::Writable(4)],
                    ChainLayout::Direct,
                )
                .unwrap();
            outstanding.insert(head, sent);
            sent += 1;
        }
        h.kick(0).unwrap();
        for c in h.wait_completions(0, Duration::from_secs(2)).unwrap() {
            let n = outstanding.remove(&c.head).expect("head was in flight");
            assert_eq!(
                c.data,
                n.to_le_bytes(),
                "reversed big-endian is little-endian"
            );
            received += 1;
        }
    }
    assert_eq!(h.in_flight(0).unwrap(), 0);
    h.disconnect().unwrap();
}

#[test]
fn malformed_chains_come_back_empty_and_the_device_keeps_serving() {
    let echo = Echo::start("malformed");
    let mut h = echo.connect(&options());
    for kind in Malformed::ALL {
        let head = h.add_malformed(0, kind, b"ping", 16).unwrap();
        if kind == Malformed::HeadOutOfRange {
            assert_eq!(head, 256);
        } else {
            let c = h.wait_for(0, head, Duration::from_secs(2)).unwrap();
            assert_eq!((c.len, c.data.len()), (0, 0), "{kind:?}");
        }
        assert_eq!(
            h.request(0, b"ping", 16).unwrap(),
            b"gnip",
            "after {kind:?}"
        );
        assert_eq!(h.free_descriptors(0).unwrap(), 256, "after {kind:?}");
    }
    h.disconnect().unwrap();
}

#[test]
fn too_many_queues_is_refused() {
    let echo = Echo::start("mq");
    match Harness::connect(&echo.socket, 2, &options()) {
        Err(Error::TooManyQueues { wanted: 2, max: 1 }) => {}
        Err(e) => panic!("expected TooManyQueues, got {e}"),
        Ok(_) => panic!("expected TooManyQueues, got a session"),
    }
}

#[test]
fn abrupt_disconnect_ends_the_session() {
    let echo = Echo::start("abrupt");
    let mut h = echo.connect(&options());
    h.submit(0, b"x", 1).unwrap();
    h.disconnect_abruptly();
    // Drop joins the daemon thread: it must have seen the hang-up.
}
