//! What the sandbox adds to start-up: building the landlock ruleset (once, in
//! `lock_down`, on the main thread), compiling a role's filters (once per role, by its
//! first thread), and what each thread then does before it serves (clear its
//! capabilities, enforce landlock, install its filters), against starting a plain thread.
//! docs/perf.md adds them up for the embedded default config.

use criterion::{criterion_group, criterion_main, Criterion};
use drivervm::kind::DeviceKind;
use drivervm::sandbox::{bench, Link, Role};

fn startup(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&run).expect("run dir");
    std::fs::create_dir_all(&state).expect("state dir");
    let cfg = drivervm::config::embedded_default().expect("default config");
    c.bench_function("sandbox: plan (landlock ruleset)", |b| {
        b.iter(|| bench::plan(&cfg, &run, &state))
    });
    let device = Role::Device(DeviceKind::Scmi, Link::Socket);
    c.bench_function("sandbox: compile the device/scmi filters", |b| {
        b.iter(|| bench::compile(device))
    });
    c.bench_function("sandbox: compile the control filters", |b| {
        b.iter(|| bench::compile(Role::Control))
    });
    let plan = bench::plan(&cfg, &run, &state);
    c.bench_function("thread: spawn and join (baseline)", |b| {
        b.iter(|| std::thread::spawn(|| ()).join().expect("join"))
    });
    c.bench_function("thread: spawn, sandbox as device/scmi, join", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                s.spawn(|| bench::apply(&plan, device));
            })
        })
    });
    c.bench_function("thread: spawn, sandbox as control, join", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                s.spawn(|| bench::apply(&plan, Role::Control));
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = startup
}
criterion_main!(benches);
