//! The rpmb_dev byte-stream framing (socket and virtio-console faces): arbitrary bytes in
//! arbitrary pieces; every complete message is answered with exactly res_count frames and
//! the decoder never holds more than one message.
#![no_main]

use drivervm::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use drivervm::devices::rpmb::rpmb_dev_wire::{respond, Decoder, DEFAULT_MAX_FRAMES, HEADER_SIZE};
use drivervm::hw::rpmb::memory::MemoryRpmb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, mut rest)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let (Ok(storage), limits) = (MemoryRpmb::new(64), EngineLimits::default()) else {
        return;
    };
    let Ok(mut engine) = RpmbEngine::new(storage, limits) else {
        return;
    };
    let mut decoder = Decoder::new(DEFAULT_MAX_FRAMES);
    while !rest.is_empty() {
        let n = piece.min(rest.len());
        let mut chunk = &rest[..n];
        rest = &rest[n..];
        while !chunk.is_empty() {
            let taken = decoder.push(chunk);
            chunk = &chunk[taken..];
            match decoder.next_message() {
                Ok(Some(m)) => {
                    let out = respond(&mut engine, &m);
                    assert_eq!(out.len(), usize::from(m.res_count) * 512);
                }
                Ok(None) => assert!(taken > 0 || chunk.is_empty()),
                // A protocol error: the server drops the connection.
                Err(_) => return,
            }
            assert!(decoder.wanted() <= HEADER_SIZE + usize::from(DEFAULT_MAX_FRAMES) * 512);
        }
    }
});
