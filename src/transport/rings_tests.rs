//! `process_queue` against a driver that never lets the queue run dry: polling must still
//! hand the worker back to its event loop, and the device's own work must not wait.

use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::{process_queue, OwnedRings, Rings, Session};
use crate::devices::{Completer, Request, VirtioDevice, Wake};
use crate::status::DeviceState;
use crate::transport::log_budget::LogBudget;
use crate::transport::poll::{AdaptivePoll, POLL_SHARE};
use crate::transport::ring_guard::RingGuard;

const F_WRITE: u16 = 2;

/// Entries of the test queue.
const SIZE: u16 = 16;

/// Queue 0 (EVENT_IDX) in `mem` holding one request chain at head 0: 4 readable bytes, 4
/// writable. Returns the queue and its available ring's address.
fn one_request_queue(mem: &GuestMemoryMmap) -> (Queue, GuestAddress) {
    let vq = MockSplitQueue::new(mem, SIZE);
    let descs = [
        RawDescriptor::from(SplitDescriptor::new(0x10_0000, 4, 0, 0)),
        RawDescriptor::from(SplitDescriptor::new(0x10_1000, 4, F_WRITE, 0)),
    ];
    vq.build_desc_chain(&descs).unwrap();
    let mut queue: Queue = vq.create_queue().unwrap();
    queue.set_event_idx(true);
    (queue, vq.avail_addr())
}

/// Memory for [`one_request_queue`], and what a [`Session`] on it borrows.
struct Fixture {
    mem: GuestMemoryMmap,
    status: DeviceState,
    budget: LogBudget,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            mem: GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap(),
            status: DeviceState::detached("counting", 0xfff2, 1),
            budget: LogBudget::default(),
        }
    }

    fn session(&self) -> Session<'_> {
        Session {
            id: "counting",
            mem: &self.mem,
            generation: 0,
            event_idx: true,
            log_budget: &self.budget,
            status: &self.status,
        }
    }
}

/// Makes the one-request chain (head 0) available again on queue 0 of `rings` if the
/// device has taken everything: a driver that answers each completion instantly.
fn refill(rings: &mut impl Rings, mem: &GuestMemoryMmap, avail: GuestAddress) {
    let mut next = None;
    rings.with_queue(0, &mut |q| {
        let idx = q.avail_idx(mem, Ordering::Acquire).expect("avail idx").0;
        if idx == q.next_avail() {
            next = Some(idx);
        }
    });
    if let Some(idx) = next {
        let slot = avail.0 + 4 + 2 * u64::from(idx % SIZE);
        mem.write_obj(0u16.to_le(), GuestAddress(slot)).unwrap();
        mem.write_obj(idx.wrapping_add(1).to_le(), GuestAddress(avail.0 + 2))
            .unwrap();
    }
}

/// `inner` with `look` run before each look at a queue (`with_queue`), the rest forwarded.
struct Watched<R, L> {
    inner: R,
    look: L,
}

impl<R: Rings, L: FnMut(&mut R, u16)> Rings for Watched<R, L> {
    fn count(&self) -> usize {
        self.inner.count()
    }
    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool {
        (self.look)(&mut self.inner, queue);
        self.inner.with_queue(queue, f)
    }
    fn add_used(&mut self, queue: u16, head: u16, len: u32) -> Result<(), String> {
        self.inner.add_used(queue, head, len)
    }
    fn enable_notification(&mut self, queue: u16) -> Result<bool, String> {
        self.inner.enable_notification(queue)
    }
    fn disable_notification(&mut self, queue: u16) -> Result<(), String> {
        self.inner.disable_notification(queue)
    }
    fn needs_notification(&mut self, queue: u16) -> Result<bool, String> {
        self.inner.needs_notification(queue)
    }
    fn signal(&mut self, queue: u16) -> std::io::Result<()> {
        self.inner.signal(queue)
    }
}

/// Answers every request at once and counts its `poll` calls.
#[derive(Default)]
struct Counting {
    handled: u64,
    polls: u64,
}

impl VirtioDevice for Counting {
    fn device_type(&self) -> u32 {
        0xfff2
    }
    fn name(&self) -> &str {
        "counting"
    }
    fn queue_max_sizes(&self) -> &[u16] {
        &[16]
    }
    fn features(&self) -> u64 {
        0
    }
    fn read_config(&self, _offset: usize, _data: &mut [u8]) {}
    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}
    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        self.handled += 1;
        let _ = completer.complete(request.token, &request.data);
    }
    fn poll(&mut self, _now: Instant, _completer: &mut dyn Completer) -> Option<Instant> {
        self.polls += 1;
        None
    }
    fn reset(&mut self) {}
}

/// Serves the endless queue once with polling that never gives up on its own; returns the
/// device, the time `process_queue` took and the requests it counted.
fn serve_endless() -> (Counting, Duration, u64) {
    let fx = Fixture::new();
    let mem = &fx.mem;
    let (queue, avail) = one_request_queue(mem);
    let mut queues = [Some(queue)];
    let mut rings = Watched {
        inner: OwnedRings {
            queues: &mut queues,
            mem,
            signal: |_| Ok(()),
        },
        look: |inner: &mut OwnedRings<_>, queue| {
            if queue == 0 {
                refill(inner, mem, avail);
            }
        },
    };
    let session = fx.session();
    let mut poll = AdaptivePoll::new(Duration::from_secs(3600));
    let mut device = Counting::default();
    let mut guard = RingGuard::new(1);
    // First wake-up: the window is still closed; it opens on the next gap.
    process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
    std::thread::sleep(Duration::from_millis(1));
    process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
    assert!(!poll.window().is_zero(), "polling is on");
    let start = Instant::now();
    process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
    let took = start.elapsed();
    let counted = fx.status.snapshot().queues[0].requests;
    (device, took, counted)
}

/// [`serve_endless`] on a thread, failing instead of hanging if it never returns.
fn serve_endless_bounded() -> (Counting, Duration, u64) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(serve_endless()));
    rx.recv_timeout(Duration::from_secs(10))
        .expect("process_queue kept polling an endless queue")
}

#[test]
fn a_queue_that_never_runs_dry_still_returns_to_the_event_loop() {
    let (device, took, counted) = serve_endless_bounded();
    assert!(took >= POLL_SHARE, "left after {took:?}, before its share");
    assert!(device.handled > 3, "served {} requests", device.handled);
    assert_eq!(counted, device.handled, "every request counted");
}

#[test]
fn the_device_is_polled_while_its_queue_is() {
    let (device, _, _) = serve_endless_bounded();
    // Once per batch found by polling: one request per batch here.
    assert!(
        device.polls + 3 >= device.handled,
        "{} polls for {} requests",
        device.polls,
        device.handled
    );
}

#[test]
fn kicks_with_nothing_new_neither_spin_nor_open_the_polling_window() {
    let fx = Fixture::new();
    let (queue, _) = one_request_queue(&fx.mem);
    let mut queues = [Some(queue)];
    // How often the queue is looked at.
    let looks = Cell::new(0u64);
    let mut rings = Watched {
        inner: OwnedRings {
            queues: &mut queues,
            mem: &fx.mem,
            signal: |_| Ok(()),
        },
        look: |_: &mut OwnedRings<_>, _| looks.set(looks.get() + 1),
    };
    let session = fx.session();
    // A window that, once open, would spin for the whole of the queue's share.
    let mut poll = AdaptivePoll::new(Duration::from_secs(3600));
    let mut device = Counting::default();
    let mut guard = RingGuard::new(1);
    // The one real request: served, then polling gives up (the window is still closed).
    process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
    assert_eq!(device.handled, 1);
    // A flood of kicks with nothing new, closely spaced (what would grow the window).
    for _ in 0..200 {
        looks.set(0);
        process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
        // One look to take chains; with EVENT_IDX, one more as notifications are enabled
        // again (`enable_notification` reads the ring); none for polling.
        assert!(looks.get() <= 2, "{} looks at the ring", looks.get());
        assert!(poll.window().is_zero(), "kicks opened the polling window");
    }
    assert_eq!(device.handled, 1);
}
