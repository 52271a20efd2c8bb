//! Micro-benchmarks of the per-request path that does not depend on the transport's
//! syscalls: validating a descriptor chain and copying out its request, dispatching an SCMI
//! command, and writing the response back into guest memory.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use drivervm::devices::scmi::base::BaseProtocol;
use drivervm::devices::scmi::protocol::Dispatcher;
use drivervm::hw::soc::SocIdentity;
use drivervm::transport::chain::{parse_chain, write_response, ChainLimits};
use virtio_queue::desc::{split::Descriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueOwnedT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;

fn dispatcher() -> Dispatcher {
    let base = BaseProtocol::new(SocIdentity::default(), vec!["vm0".into()], 1, Vec::new());
    Dispatcher::new(vec![Box::new(base)])
}

fn scmi_dispatch(c: &mut Criterion) {
    let mut d = dispatcher();
    let version = 0x0000_4000u32.to_le_bytes();
    c.bench_function("scmi dispatch BASE PROTOCOL_VERSION", |b| {
        b.iter(|| d.process(black_box(&version), 136))
    });
    let vendor = (0x0000_4003u32).to_le_bytes();
    c.bench_function("scmi dispatch BASE_DISCOVER_VENDOR", |b| {
        b.iter(|| d.process(black_box(&vendor), 136))
    });
}

fn chain_round_trip(c: &mut Criterion) {
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap();
    mem.write_slice(&0x0000_4000u32.to_le_bytes(), GuestAddress(0x8000))
        .unwrap();
    let descs = [
        RawDescriptor::from(Descriptor::new(0x8000, 4, F_NEXT, 1)),
        RawDescriptor::from(Descriptor::new(0x9000, 128, F_WRITE, 0)),
    ];
    let mut d = dispatcher();
    c.bench_function("chain parse + scmi dispatch + response write", |b| {
        b.iter_batched(
            || {
                // A fresh ring each time: the mock's avail index only grows.
                let vq = MockSplitQueue::new(&mem, 256);
                vq.build_desc_chain(&descs).unwrap();
                let q: Queue = vq.create_queue().unwrap();
                q
            },
            |mut q| {
                let chain = q.iter(&mem).unwrap().next().unwrap();
                let limits = ChainLimits {
                    max_readable: 4096,
                    max_writable: 4096,
                };
                let req = parse_chain(chain, 0, 0, limits).unwrap();
                let resp = d.process(&req.data, req.writable_len).unwrap();
                write_response(&mem, &req.token, &resp).unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, scmi_dispatch, chain_round_trip);
criterion_main!(benches);
