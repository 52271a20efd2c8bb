//! What hostile rings cost the device: refusing a chain whose writable part is far over the
//! queue's cap (four overlapping 4 MiB writable descriptors), entering "needs reset" on a
//! ring fault, a kick on a device already in "needs reset" (which the transports no longer
//! even deliver), and a kick with nothing new on a live device (a kick flood). Served
//! through `process_queue` to the SCMI device, as a transport serves it.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use drivervm::devices::VirtioDevice;
use drivervm::status::DeviceState;
use drivervm::transport::log_budget::LogBudget;
use drivervm::transport::poll::{AdaptivePoll, DEFAULT_POLL_MAX};
use drivervm::transport::ring_fuzz::devices;
use drivervm::transport::ring_guard::RingGuard;
use drivervm::transport::rings::{process_queue, OwnedRings, Session};
use virtio_queue::desc::{split::Descriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const MEM: usize = 4 << 20;

fn scmi() -> Box<dyn VirtioDevice> {
    devices()
        .into_iter()
        .find(|d| d.name() == "scmi")
        .expect("scmi device")
}

fn serve(mem: &GuestMemoryMmap, q: Queue, guard: &mut RingGuard, dev: &mut dyn VirtioDevice) {
    let mut poll = AdaptivePoll::new(Duration::ZERO);
    serve_with(mem, q, guard, dev, false, &mut poll);
}

fn serve_with(
    mem: &GuestMemoryMmap,
    q: Queue,
    guard: &mut RingGuard,
    dev: &mut dyn VirtioDevice,
    event_idx: bool,
    poll: &mut AdaptivePoll,
) {
    let status = DeviceState::detached("bench", dev.device_type(), 2);
    let budget = LogBudget::default();
    let s = Session {
        id: "bench",
        mem,
        generation: 0,
        event_idx,
        log_budget: &budget,
        status: &status,
    };
    let mut queues = [Some(q), None];
    let mut rings = OwnedRings {
        queues: &mut queues,
        mem,
        signal: |_| Ok(()),
    };
    process_queue(&s, &mut rings, guard, dev, 0, poll);
}

/// A kick flood on a live device: each wake-up finds nothing new. EVENT_IDX and polling
/// as deployed (default window), the polling state kept from kick to kick as a worker
/// keeps it.
fn bare_kick(c: &mut Criterion) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).unwrap();
    let mut dev = scmi();
    let mut guard = RingGuard::new(2);
    let mut poll = AdaptivePoll::new(DEFAULT_POLL_MAX);
    c.bench_function("kick with nothing new on a live device (polling on)", |b| {
        b.iter_batched(
            || {
                let vq = MockSplitQueue::new(&mem, 64);
                let mut q: Queue = vq.create_queue().unwrap();
                q.set_event_idx(true);
                q
            },
            |q| serve_with(&mem, q, &mut guard, dev.as_mut(), true, &mut poll),
            BatchSize::SmallInput,
        )
    });
}

fn oversized_writable(c: &mut Criterion) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).unwrap();
    mem.write_slice(&0x0000_4000u32.to_le_bytes(), GuestAddress(0x8000))
        .unwrap();
    let whole = MEM as u32;
    let mut descs = vec![RawDescriptor::from(Descriptor::new(0x8000, 4, F_NEXT, 1))];
    for i in 1..5u16 {
        let last = i == 4;
        descs.push(RawDescriptor::from(Descriptor::new(
            0,
            whole,
            F_WRITE | if last { 0 } else { F_NEXT },
            if last { 0 } else { i + 1 },
        )));
    }
    let mut dev = scmi();
    c.bench_function("refuse a chain with 16 MiB writable (cap 64 KiB)", |b| {
        b.iter_batched(
            || {
                let vq = MockSplitQueue::new(&mem, 64);
                vq.build_desc_chain(&descs).unwrap();
                let q: Queue = vq.create_queue().unwrap();
                (q, RingGuard::new(2))
            },
            |(q, mut guard)| {
                serve(&mem, q, &mut guard, dev.as_mut());
                assert!(guard.fault().is_none());
            },
            BatchSize::SmallInput,
        )
    });
}

fn avail_too_far_ahead(c: &mut Criterion) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).unwrap();
    let mut dev = scmi();
    let queue = |mem: &GuestMemoryMmap| {
        let vq = MockSplitQueue::new(mem, 64);
        vq.avail().idx().store(65);
        let q: Queue = vq.create_queue().unwrap();
        q
    };
    c.bench_function("ring fault: avail.idx 65 ahead enters needs-reset", |b| {
        b.iter_batched(
            || (queue(&mem), RingGuard::new(2)),
            |(q, mut guard)| {
                serve(&mem, q, &mut guard, dev.as_mut());
                assert!(guard.fault().is_some());
            },
            BatchSize::SmallInput,
        )
    });
    let mut guard = RingGuard::new(2);
    serve(&mem, queue(&mem), &mut guard, dev.as_mut());
    c.bench_function("kick on a device in needs-reset", |b| {
        b.iter_batched(
            || queue(&mem),
            |q| serve(&mem, q, &mut guard, dev.as_mut()),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, oversized_writable, avail_too_far_ahead, bare_kick);
criterion_main!(benches);
