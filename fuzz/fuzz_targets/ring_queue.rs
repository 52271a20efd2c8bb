//! Fuzzes the shared queue code at the ring level: arbitrary descriptor tables, available
//! rings and indices, served to every device kind through `process_queue` as the
//! transports serve them (`drivervm::transport::ring_fuzz`). A ring violation must put the
//! device in needs-reset and stop all ring access; nothing may panic, hang or be held past
//! the queue size.
//!
//! Run: `cargo +nightly fuzz run ring_queue` from the repository root.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    drivervm::transport::ring_fuzz::exercise(data);
});
