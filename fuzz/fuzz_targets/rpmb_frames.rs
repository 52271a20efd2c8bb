//! RPMB frame parsing and the engine behind it: arbitrary request bytes (as a virtio-rpmb
//! buffer's readable part) and response slot counts, against a keyed partition.
#![no_main]

use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::engine::{EngineLimits, RpmbEngine};
use drivervm::devices::rpmb::frame::Frame;
use drivervm::hw::rpmb::memory::MemoryRpmb;
use drivervm::hw::rpmb::RpmbStorage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&slots, rest)) = data.split_first() else {
        return;
    };
    let Ok(storage) = MemoryRpmb::new(512) else {
        return;
    };
    let limits = EngineLimits {
        max_write_blocks: 4,
        max_read_blocks: 8,
    };
    let Ok(mut engine) = RpmbEngine::new(storage, limits) else {
        return;
    };
    // Half the inputs run against a programmed key, so the MAC and counter paths run too.
    if slots & 0x80 != 0 {
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(&[0x5a; 32]);
        engine.process(&[pk], 0);
    }
    let slots = usize::from(slots & 0x7f);
    let before = engine.storage().write_counter();
    assert_eq!(Frame::parse_all(rest).is_ok(), rest.len() % FRAME_SIZE == 0);
    // Whole frames from the input, whatever its length, so the engine sees every input.
    let frames: Vec<Frame> = rest
        .chunks_exact(FRAME_SIZE)
        .filter_map(|c| Frame::from_slice(c).ok())
        .collect();
    let out = engine.process(&frames, slots);
    assert!(out.len() <= slots);
    for f in &out {
        assert_eq!(f.req_resp() & 0x00ff, 0, "responses carry req << 8");
    }
    // Without a valid MAC under the key (which the fuzzer would have to forge) no write
    // can land.
    assert_eq!(engine.storage().write_counter(), before);
});
