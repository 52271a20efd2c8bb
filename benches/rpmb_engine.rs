//! Micro-benchmarks of the RPMB request path without the transport: what an authenticated
//! write and 1- and 8-block reads cost in the engine (HMAC-SHA256 verify/sign, frame
//! handling) on memory, and what a write costs on the crash-safe image file (fsync), so
//! docs/perf.md can say which of the two bounds the end-to-end figures.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use drivervm::devices::rpmb::frame::Frame;
use drivervm::hw::rpmb::file::FileRpmb;
use drivervm::hw::rpmb::memory::MemoryRpmb;
use drivervm::hw::rpmb::RpmbStorage;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const KEY: [u8; 32] = [0x42; 32];

fn limits() -> EngineLimits {
    EngineLimits {
        max_write_blocks: 2,
        max_read_blocks: 8,
    }
}

fn keyed<S: RpmbStorage>(storage: S) -> RpmbEngine<S> {
    let mut e = RpmbEngine::new(storage, limits()).unwrap();
    let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
    pk.set_key_mac(&KEY);
    e.process(&[pk], 0);
    e
}

/// A signed 1-block write at `counter` followed by RESULT_READ, as a client sends it.
fn write_request(counter: u32) -> Vec<Frame> {
    let mut w = Frame::with_type(REQ_DATA_WRITE);
    w.set_block_count(1);
    w.set_address((counter % 512) as u16);
    w.set_write_counter(counter);
    w.set_data(&[counter as u8; 256]);
    let mut m = <Hmac<Sha256>>::new_from_slice(&KEY).unwrap();
    m.update(w.mac_input());
    let tag: [u8; 32] = m.finalize().into_bytes().into();
    w.set_key_mac(&tag);
    vec![w, Frame::with_type(REQ_RESULT_READ)]
}

fn hmac_one_frame(c: &mut Criterion) {
    let f = Frame::with_type(REQ_DATA_WRITE);
    c.bench_function("rpmb HMAC-SHA256 over one frame (284 B)", |b| {
        b.iter(|| {
            let mut m = <Hmac<Sha256>>::new_from_slice(&KEY).unwrap();
            m.update(black_box(f.mac_input()));
            m.finalize()
        })
    });
}

fn engine_memory(c: &mut Criterion) {
    let mut e = keyed(MemoryRpmb::new(512).unwrap());
    let next = std::cell::Cell::new(0u32);
    c.bench_function("rpmb engine write 1 block (memory)", |b| {
        b.iter_batched(
            || {
                // Every write succeeds, so the device's counter is the next one.
                let c = next.get();
                next.set(c + 1);
                write_request(c)
            },
            |req| {
                let r = e.process(&req, 1);
                assert_eq!(
                    r[0].result(),
                    RES_OK,
                    "the benchmark must measure real writes"
                );
                r
            },
            BatchSize::SmallInput,
        )
    });
    for n in [1u16, 8] {
        let mut r = Frame::with_type(REQ_DATA_READ);
        r.set_block_count(n);
        let req = [r];
        c.bench_function(&format!("rpmb engine read {n} block(s) (memory)"), |b| {
            b.iter(|| e.process(black_box(&req), usize::from(n)))
        });
    }
}

fn engine_file(c: &mut Criterion) {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let file = FileRpmb::create(&dir.path().join("bench.img"), 512).unwrap();
    let mut e = keyed(file);
    let next = std::cell::Cell::new(0u32);
    let mut g = c.benchmark_group("file");
    g.sample_size(20);
    g.bench_function("rpmb engine write 1 block (image file, 2 fdatasync)", |b| {
        b.iter_batched(
            || {
                // Every write succeeds, so the device's counter is the next one.
                let c = next.get();
                next.set(c + 1);
                write_request(c)
            },
            |req| {
                let r = e.process(&req, 1);
                assert_eq!(
                    r[0].result(),
                    RES_OK,
                    "the benchmark must measure real writes"
                );
                r
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hmac_one_frame, engine_memory, engine_file);
criterion_main!(benches);
