//! virtio-rpmb as a [`VirtioDevice`]: one request queue, each buffer one RPMB request.
//!
//! The device-readable part of a buffer is the request frames (for a write, the data
//! frames and optionally a RESULT_READ frame); the device-writable part receives the
//! response frames, as many as fit (OASIS virtio §5.12).

use super::constants::BLOCKS_PER_CAPACITY_UNIT;
use super::constants::{FRAME_SIZE, RES_GENERAL_FAILURE, VIRTIO_ID_RPMB};
use super::engine::{EngineLimits, RpmbEngine};
use super::frame::Frame;
use crate::devices::{Completer, Request, VirtioDevice, Wake};
use crate::hw::rpmb::RpmbStorage;
use crate::status::RpmbCell;
use std::sync::Arc;

/// Size of the request queue.
pub const QUEUE_SIZE: u16 = 64;

/// Why a virtio-rpmb device could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// virtio-rpmb reports capacity in whole 128 KiB units, from 128 KiB to 16 MiB.
    #[error("virtio-rpmb needs a capacity of 512..=65536 blocks in multiples of 512, got {0}")]
    Capacity(u32),
    /// The engine refused the limits.
    #[error(transparent)]
    Engine(#[from] super::engine::EngineError),
}

/// A virtio-rpmb device over one RPMB storage backend.
#[derive(Debug)]
pub struct RpmbDevice<S> {
    engine: RpmbEngine<S>,
    config: [u8; 3],
}

impl<S: RpmbStorage> RpmbDevice<S> {
    /// A device serving `storage` with the given per-request limits.
    pub fn new(storage: S, limits: EngineLimits) -> Result<Self, DeviceError> {
        Self::from_engine(RpmbEngine::new(storage, limits)?)
    }

    /// A device in front of `engine`; its storage must be a whole number of 128 KiB units
    /// (what the config space can state), at most 64 Ki blocks.
    pub fn from_engine(engine: RpmbEngine<S>) -> Result<Self, DeviceError> {
        let blocks = engine.storage().capacity_blocks();
        if blocks == 0 || blocks % BLOCKS_PER_CAPACITY_UNIT != 0 || blocks > 1 << 16 {
            return Err(DeviceError::Capacity(blocks));
        }
        let config = engine.config_space();
        Ok(Self { engine, config })
    }

    /// What the device publishes to the control plane: capacity, write counter and whether
    /// a key is programmed, updated after every request.
    pub fn detail_source(&self) -> Arc<RpmbCell> {
        self.engine.status()
    }

    /// The protocol engine, for status queries.
    pub fn engine(&self) -> &RpmbEngine<S> {
        &self.engine
    }
}

impl<S: RpmbStorage> VirtioDevice for RpmbDevice<S> {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_RPMB
    }

    fn name(&self) -> &str {
        "rpmb"
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        0
    }

    fn config_too_small(&self, frontend_len: usize) -> Option<String> {
        let need = self.config.len();
        (frontend_len < need).then(|| format!("virtio-rpmb needs {need} bytes"))
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = offset
                .checked_add(i)
                .and_then(|at| self.config.get(at))
                .copied()
                .unwrap_or(0);
        }
    }

    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}

    fn max_request_len(&self, _queue: u16) -> usize {
        // The largest valid request: max_wr_cnt data frames and a RESULT_READ frame.
        (usize::from(self.engine.limits().max_write_blocks) + 1) * FRAME_SIZE
    }

    fn max_writable_len(&self, _queue: u16) -> usize {
        // The largest response: max_rd_cnt data frames (every other response is one frame).
        usize::from(self.engine.limits().max_read_blocks.max(1)) * FRAME_SIZE
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        let slots = request.writable_len / FRAME_SIZE;
        let responses = match Frame::parse_all(&request.data) {
            Ok(frames) => self.engine.process(&frames, slots),
            Err(e) => {
                log::warn!("rpmb: malformed request: {e}");
                let mut failure = Frame::default();
                failure.set_result(RES_GENERAL_FAILURE);
                if slots > 0 {
                    vec![failure]
                } else {
                    Vec::new()
                }
            }
        };
        if let Err(e) = completer.complete(request.token, &Frame::serialize_all(&responses)) {
            log::warn!("rpmb: cannot return a response: {e}");
        }
    }

    fn reset(&mut self) {
        self.engine.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rpmb::constants::*;
    use crate::devices::rpmb::test_hmac::hmac_sha256;
    use crate::devices::{CompleteError, Token};
    use crate::hw::rpmb::memory::MemoryRpmb;

    #[derive(Default)]
    struct Collect(Vec<(u16, Vec<u8>)>);

    impl Completer for Collect {
        fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
            self.0.push((token.head, response.to_vec()));
            Ok(())
        }
    }

    fn request(head: u16, frames: &[Frame], writable_frames: usize) -> Request {
        Request {
            token: Token {
                queue: 0,
                head,
                generation: 0,
                writable: Vec::new(),
            },
            data: Frame::serialize_all(frames),
            writable_len: writable_frames * FRAME_SIZE,
        }
    }

    fn device() -> RpmbDevice<MemoryRpmb> {
        RpmbDevice::new(MemoryRpmb::new(1024).unwrap(), EngineLimits::default()).unwrap()
    }

    #[test]
    fn identity_and_config_space() {
        let d = device();
        assert_eq!(d.device_type(), 28);
        assert_eq!(d.queue_max_sizes(), &[QUEUE_SIZE]);
        assert_eq!(d.features(), 0);
        let mut cfg = [0xffu8; 5];
        d.read_config(0, &mut cfg);
        assert_eq!(cfg, [2, 2, 2, 0, 0]);
        let mut one = [0u8; 1];
        d.read_config(1, &mut one);
        assert_eq!(one, [2]);
        d.read_config(usize::MAX, &mut one);
        assert_eq!(one, [0]);
        assert_eq!(d.max_request_len(0), 3 * 512);
        // The largest response is max_rd_cnt (2) data frames.
        assert_eq!(d.max_writable_len(0), 2 * 512);
        assert!(matches!(
            RpmbDevice::new(MemoryRpmb::new(100).unwrap(), EngineLimits::default()),
            Err(DeviceError::Capacity(100))
        ));
    }

    #[test]
    fn requests_in_a_chain_get_responses_in_its_writable_part() {
        use crate::status::{DetailSource, DeviceDetail, RpmbDetail};
        let key = [9u8; 32];
        let mut d = device();
        let published = d.detail_source();
        let detail = |wc, key_programmed| {
            DeviceDetail::new(RpmbDetail {
                capacity_bytes: 1024 * 256,
                write_counter: wc,
                key_programmed,
            })
        };
        assert_eq!(published.detail(), detail(0, false));
        let mut out = Collect::default();
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(&key);
        pk.set_block_count(1);
        let mut rr = Frame::with_type(REQ_RESULT_READ);
        rr.set_block_count(1);
        d.handle(request(1, &[pk, rr.clone()], 1), &mut out);
        let mut w = Frame::with_type(REQ_DATA_WRITE);
        w.set_block_count(1);
        w.set_address(1023);
        w.set_data(&[0x5c; 256]);
        w.set_key_mac(&hmac_sha256(&key, &w.as_bytes()[228..]));
        d.handle(request(2, &[w, rr], 1), &mut out);
        let mut rd = Frame::with_type(REQ_DATA_READ);
        rd.set_block_count(1);
        rd.set_address(1023);
        d.handle(request(3, &[rd], 1), &mut out);

        assert_eq!(out.0.len(), 3);
        // The key was programmed and one write counted; nothing about the key is published.
        assert_eq!(published.detail(), detail(1, true));
        assert_eq!(published.generation(), 2, "one change per mutating request");
        let frames: Vec<Frame> = out
            .0
            .iter()
            .map(|(_, bytes)| Frame::from_slice(bytes).unwrap())
            .collect();
        assert_eq!(out.0[0].0, 1);
        assert_eq!(frames[0].req_resp(), RESP_PROGRAM_KEY);
        assert_eq!(frames[0].result(), RES_OK);
        assert_eq!(frames[1].req_resp(), RESP_DATA_WRITE);
        assert_eq!(frames[1].result(), RES_OK);
        assert_eq!(frames[1].write_counter(), 1);
        assert_eq!(frames[2].data(), &[0x5c; 256]);
        assert_eq!(
            &frames[2].key_mac()[..],
            &hmac_sha256(&key, &frames[2].as_bytes()[228..])
        );
    }

    #[test]
    fn malformed_chains_are_answered_and_the_device_keeps_serving() {
        let mut d = device();
        let mut out = Collect::default();
        d.handle(
            Request {
                token: request(7, &[], 0).token,
                data: vec![0; 700],
                writable_len: 512,
            },
            &mut out,
        );
        let f = Frame::from_slice(&out.0[0].1).unwrap();
        assert_eq!(f.result(), RES_GENERAL_FAILURE);
        // No writable space: the buffer still comes back, empty.
        d.handle(
            request(8, &[Frame::with_type(REQ_GET_WRITE_COUNTER)], 0),
            &mut out,
        );
        assert_eq!(out.0[1], (8, Vec::new()));
        // Empty request.
        d.handle(request(9, &[], 1), &mut out);
        assert_eq!(out.0[2], (9, Vec::new()));
        // And a valid request still works.
        d.handle(
            request(10, &[Frame::with_type(REQ_GET_WRITE_COUNTER)], 1),
            &mut out,
        );
        let f = Frame::from_slice(&out.0[3].1).unwrap();
        assert_eq!(f.req_resp(), RESP_GET_WRITE_COUNTER);
        assert_eq!(f.result(), RES_NO_AUTH_KEY);
    }

    #[test]
    fn reset_clears_the_result_register_but_not_the_storage() {
        let mut d = device();
        let mut out = Collect::default();
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(&[1; 32]);
        d.handle(request(1, &[pk], 0), &mut out);
        d.reset();
        d.handle(
            request(2, &[Frame::with_type(REQ_RESULT_READ)], 1),
            &mut out,
        );
        let f = Frame::from_slice(&out.0[1].1).unwrap();
        assert_eq!(f.result(), RES_GENERAL_FAILURE);
        assert!(d.engine().storage().key_programmed());
    }
}
