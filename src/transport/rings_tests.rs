//! `process_queue` against a driver that never lets the queue run dry: polling must still
//! hand the worker back to its event loop, and the device's own work must not wait.

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

/// Queue 0 of `inner`, refilled with the same one-request chain (head 0) whenever the
/// device has taken everything: a driver that answers each completion instantly.
struct Endless<'a, R> {
    inner: R,
    mem: &'a GuestMemoryMmap,
    avail: GuestAddress,
    size: u16,
}

impl<R: Rings> Endless<'_, R> {
    fn refill(&mut self) {
        let mem = self.mem;
        let mut next = None;
        self.inner.with_queue(0, &mut |q| {
            let idx = q.avail_idx(mem, Ordering::Acquire).expect("avail idx").0;
            if idx == q.next_avail() {
                next = Some(idx);
            }
        });
        if let Some(idx) = next {
            let slot = self.avail.0 + 4 + 2 * u64::from(idx % self.size);
            mem.write_obj(0u16.to_le(), GuestAddress(slot)).unwrap();
            mem.write_obj(idx.wrapping_add(1).to_le(), GuestAddress(self.avail.0 + 2))
                .unwrap();
        }
    }
}

impl<R: Rings> Rings for Endless<'_, R> {
    fn count(&self) -> usize {
        self.inner.count()
    }
    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool {
        if queue == 0 {
            self.refill();
        }
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
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap();
    let vq = MockSplitQueue::new(&mem, 16);
    let descs = [
        RawDescriptor::from(SplitDescriptor::new(0x10_0000, 4, 0, 0)),
        RawDescriptor::from(SplitDescriptor::new(0x10_1000, 4, F_WRITE, 0)),
    ];
    vq.build_desc_chain(&descs).unwrap();
    let mut queue: Queue = vq.create_queue().unwrap();
    queue.set_event_idx(true);
    let mut queues = [Some(queue)];
    let mut rings = Endless {
        inner: OwnedRings {
            queues: &mut queues,
            mem: &mem,
            signal: |_| Ok(()),
        },
        mem: &mem,
        avail: vq.avail_addr(),
        size: 16,
    };
    let status = DeviceState::detached("counting", 0xfff2, 1);
    let budget = LogBudget::default();
    let session = Session {
        id: "counting",
        mem: &mem,
        generation: 0,
        event_idx: true,
        log_budget: &budget,
        status: &status,
    };
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
    let counted = status.snapshot().queues[0].requests;
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

/// Counts how often the queue is looked at.
struct Looked<R> {
    inner: R,
    looks: u64,
}

impl<R: Rings> Rings for Looked<R> {
    fn count(&self) -> usize {
        self.inner.count()
    }
    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool {
        self.looks += 1;
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

#[test]
fn kicks_with_nothing_new_neither_spin_nor_open_the_polling_window() {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).unwrap();
    let vq = MockSplitQueue::new(&mem, 16);
    let descs = [
        RawDescriptor::from(SplitDescriptor::new(0x10_0000, 4, 0, 0)),
        RawDescriptor::from(SplitDescriptor::new(0x10_1000, 4, F_WRITE, 0)),
    ];
    vq.build_desc_chain(&descs).unwrap();
    let mut queue: Queue = vq.create_queue().unwrap();
    queue.set_event_idx(true);
    let mut queues = [Some(queue)];
    let mut rings = Looked {
        inner: OwnedRings {
            queues: &mut queues,
            mem: &mem,
            signal: |_| Ok(()),
        },
        looks: 0,
    };
    let status = DeviceState::detached("counting", 0xfff2, 1);
    let budget = LogBudget::default();
    let session = Session {
        id: "counting",
        mem: &mem,
        generation: 0,
        event_idx: true,
        log_budget: &budget,
        status: &status,
    };
    // A window that, once open, would spin for the whole of the queue's share.
    let mut poll = AdaptivePoll::new(Duration::from_secs(3600));
    let mut device = Counting::default();
    let mut guard = RingGuard::new(1);
    // The one real request: served, then polling gives up (the window is still closed).
    process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
    assert_eq!(device.handled, 1);
    // A flood of kicks with nothing new, closely spaced (what would grow the window).
    for _ in 0..200 {
        rings.looks = 0;
        process_queue(&session, &mut rings, &mut guard, &mut device, 0, &mut poll);
        // One look to take chains; with EVENT_IDX, one more as notifications are enabled
        // again (`enable_notification` reads the ring); none for polling.
        assert!(rings.looks <= 2, "{} looks at the ring", rings.looks);
        assert!(poll.window().is_zero(), "kicks opened the polling window");
    }
    assert_eq!(device.handled, 1);
}
