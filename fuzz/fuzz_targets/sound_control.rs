//! Fuzzes virtio-snd's control queue (and the I/O and event queues it drives): any byte
//! sequence of requests must get answers within the driver's buffers and never panic.
//!
//! Run: `cargo +nightly fuzz run sound_control` from the repository root.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    drivervm::devices::sound::fuzz::exercise(data);
});
