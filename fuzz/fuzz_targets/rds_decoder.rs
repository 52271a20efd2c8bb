//! Fuzzes the RDS decoder with arbitrary `v4l2_rds_data` streams, as a V4L2 radio's read()
//! returns them: it must never panic and never publish fields outside their definitions.
#![no_main]

use drivervm::devices::radio::constants::{PS_LEN, RT_MAX_LEN};
use drivervm::devices::radio::rds::RdsDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut dec = RdsDecoder::new();
    for chunk in input.chunks(3 * 16) {
        dec.push_v4l2(chunk);
        let st = dec.state();
        assert!(st.pty.is_none_or(|p| p < 32));
        assert!(st.ps.is_none_or(|ps| ps.len() == PS_LEN));
        assert!(st.rt.as_ref().is_none_or(|rt| rt.len() <= RT_MAX_LEN));
    }
});
