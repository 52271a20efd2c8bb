//! The RPMB partition's side of the frame protocol: authenticates, applies and answers one
//! request (a sequence of frames) at a time over an [`RpmbStorage`].
//!
//! Behaviour follows OASIS virtio §5.12 and JEDEC eMMC §6.6.22 as Android's `rpmb_dev`
//! implements them, with these choices where the sources leave room:
//! - PROGRAM_KEY, GET_WRITE_COUNTER and RESULT_READ accept a block count of 0 (eMMC clients
//!   such as Trusty leave it 0) or 1 (virtio drivers set 1); any other value is a general
//!   failure.
//! - DATA_WRITE takes its block count from the number of write frames; a non-zero block
//!   count field must agree with it.
//! - DATA_READ reads the block count field (virtio, UFS) or, when it is 0, as many blocks as
//!   the caller has response slots for (eMMC, where the transfer length sets it).
//! - Reprogramming the key is refused with WRITE_FAILURE, as `rpmb_dev` does (the virtio spec
//!   maps a failed key programming to it); some eMMC parts answer GENERAL_FAILURE instead.
//! - A trailing RESULT_READ frame asks for the result of a PROGRAM_KEY or DATA_WRITE in the
//!   same request; a RESULT_READ on its own returns the result of the last one (the eMMC
//!   result register, kept in memory only).
//! - The PROGRAM_KEY response carries a MAC under the key just programmed, as virtio §5.12
//!   describes; `rpmb_dev` leaves it zero and Trusty does not check it.
//! - Once the write counter is at its maximum every response carries
//!   WRITE_COUNTER_EXPIRED, and a write is refused with WRITE_FAILURE | WRITE_COUNTER_EXPIRED.

use super::constants::*;
use super::frame::Frame;
use crate::hw::rpmb::{RpmbKey, RpmbMac, RpmbStorage, StorageError};
use crate::status::RpmbCell;
use std::sync::Arc;

/// Per-request block limits, reported to virtio drivers as `max_wr_cnt` / `max_rd_cnt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// Most blocks one DATA_WRITE may carry (1..=255).
    pub max_write_blocks: u8,
    /// Most blocks one DATA_READ may return (1..=255).
    pub max_read_blocks: u8,
}

impl Default for EngineLimits {
    /// Two blocks each way: one 512-byte eMMC reliable-write sector, what Trusty sends.
    fn default() -> Self {
        Self {
            max_write_blocks: 2,
            max_read_blocks: 2,
        }
    }
}

/// Why an engine could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A block limit is zero; the engine must bound what one request can carry.
    #[error("RPMB max_write_blocks and max_read_blocks must be at least 1")]
    ZeroLimit,
}

/// The RPMB protocol state machine over one storage backend.
#[derive(Debug)]
pub struct RpmbEngine<S> {
    storage: S,
    limits: EngineLimits,
    /// The response of the last PROGRAM_KEY or DATA_WRITE, as RESULT_READ returns it.
    result_register: Option<Frame>,
    /// Counter, key state and capacity for the control plane; every face (virtio-rpmb,
    /// console, rpmb_dev socket) goes through [`RpmbEngine::process`], so it is kept here.
    status: Arc<RpmbCell>,
}

impl<S: RpmbStorage> RpmbEngine<S> {
    /// An engine over `storage` that accepts requests within `limits`.
    pub fn new(storage: S, limits: EngineLimits) -> Result<Self, EngineError> {
        if limits.max_write_blocks == 0 || limits.max_read_blocks == 0 {
            return Err(EngineError::ZeroLimit);
        }
        let status = Arc::new(RpmbCell::new(
            u64::from(storage.capacity_blocks()) * BLOCK_SIZE as u64,
            storage.write_counter(),
            storage.key_programmed(),
        ));
        Ok(Self {
            storage,
            limits,
            result_register: None,
            status,
        })
    }

    /// What the engine publishes to the control plane: capacity, write counter and whether a
    /// key is programmed (never the key), updated after every request.
    pub fn status(&self) -> Arc<RpmbCell> {
        self.status.clone()
    }

    /// The backend, for status queries (counter, key state, capacity).
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The backend, mutably, for tests that inspect the medium.
    #[cfg(test)]
    pub(crate) fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Forgets the result register, as a power cycle does; the storage is untouched.
    pub fn reset(&mut self) {
        self.result_register = None;
    }

    /// The per-request block limits.
    pub fn limits(&self) -> EngineLimits {
        self.limits
    }

    /// The virtio-rpmb configuration space: capacity in 128 KiB units, max_wr_cnt, max_rd_cnt.
    ///
    /// Capacity is rounded down to whole units (at most 0x80); blocks past it are still
    /// reachable by clients that know the partition size, such as `rpmb_dev` users.
    pub fn config_space(&self) -> [u8; 3] {
        let units = (self.storage.capacity_blocks() / BLOCKS_PER_CAPACITY_UNIT)
            .min(u32::from(MAX_CAPACITY_UNITS));
        [
            u8::try_from(units).unwrap_or(MAX_CAPACITY_UNITS),
            self.limits.max_write_blocks,
            self.limits.max_read_blocks,
        ]
    }

    /// Handles one request and returns at most `response_slots` response frames.
    ///
    /// `requests` is every frame the caller sent for this request, in order (for a write:
    /// the data frames, then optionally a RESULT_READ frame). `response_slots` is how many
    /// frames the caller can receive. A request that needs no answer (a write without a
    /// RESULT_READ) returns no frames.
    pub fn process(&mut self, requests: &[Frame], response_slots: usize) -> Vec<Frame> {
        let Some(first) = requests.first() else {
            return Vec::new();
        };
        let (body, result_read) = match requests.split_last() {
            Some((last, body)) if !body.is_empty() && last.req_resp() == REQ_RESULT_READ => {
                (body, true)
            }
            _ => (requests, false),
        };
        let mut responses = match first.req_resp() {
            REQ_PROGRAM_KEY => self.program_key(body, result_read),
            REQ_GET_WRITE_COUNTER => self.get_write_counter(first, body, result_read),
            REQ_DATA_WRITE => self.data_write(first, body, result_read),
            REQ_DATA_READ => self.data_read(first, body, result_read, response_slots),
            REQ_RESULT_READ => self.result_read(requests),
            other => {
                log::debug!("rpmb: unknown request type {other:#06x}");
                vec![self.finish_one(Frame::with_type(0), RES_GENERAL_FAILURE, false)]
            }
        };
        responses.truncate(response_slots);
        self.status
            .update(self.storage.write_counter(), self.storage.key_programmed());
        responses
    }

    fn program_key(&mut self, body: &[Frame], result_read: bool) -> Vec<Frame> {
        let result = match body {
            [frame] if single_block(frame) => {
                if self.storage.key_programmed() {
                    log::debug!("rpmb: key reprogramming refused");
                    RES_WRITE_FAILURE
                } else {
                    match self.storage.program_key(&RpmbKey::new(*frame.key_mac())) {
                        Ok(()) => RES_OK,
                        Err(e) => {
                            log::error!("rpmb: programming the key failed: {e}");
                            RES_WRITE_FAILURE
                        }
                    }
                }
            }
            _ => RES_GENERAL_FAILURE,
        };
        let response = self.finish_one(Frame::with_type(RESP_PROGRAM_KEY), result, true);
        self.result_register = Some(response.clone());
        if result_read {
            vec![response]
        } else {
            Vec::new()
        }
    }

    fn get_write_counter(
        &mut self,
        first: &Frame,
        body: &[Frame],
        result_read: bool,
    ) -> Vec<Frame> {
        let mut response = Frame::with_type(RESP_GET_WRITE_COUNTER);
        response.set_nonce(first.nonce());
        response.set_write_counter(self.storage.write_counter());
        let result = if result_read || body.len() != 1 || !single_block(first) {
            RES_GENERAL_FAILURE
        } else if !self.storage.key_programmed() {
            RES_NO_AUTH_KEY
        } else {
            RES_OK
        };
        vec![self.finish_one(response, result, true)]
    }

    fn data_write(&mut self, first: &Frame, body: &[Frame], result_read: bool) -> Vec<Frame> {
        let result = self.check_and_write(first, body);
        let mut response = Frame::with_type(RESP_DATA_WRITE);
        response.set_nonce(first.nonce());
        response.set_address(first.address());
        response.set_block_count(u16::try_from(body.len()).unwrap_or(u16::MAX));
        response.set_write_counter(self.storage.write_counter());
        let response = self.finish_one(response, result, true);
        self.result_register = Some(response.clone());
        if result_read {
            vec![response]
        } else {
            Vec::new()
        }
    }

    /// Runs the data-write checks in the order virtio §5.12 lists them, then writes.
    fn check_and_write(&mut self, first: &Frame, body: &[Frame]) -> u16 {
        let blocks = body.len();
        if body.iter().any(|f| f.req_resp() != REQ_DATA_WRITE) {
            return RES_GENERAL_FAILURE;
        }
        let Some(mac) = self.storage.keyed_mac() else {
            return RES_NO_AUTH_KEY;
        };
        let declared = usize::from(first.block_count());
        if blocks > usize::from(self.limits.max_write_blocks)
            || (declared != 0 && declared != blocks)
        {
            return RES_GENERAL_FAILURE;
        }
        if self.storage.write_counter() == MAX_WRITE_COUNTER {
            return RES_WRITE_FAILURE;
        }
        if !self.in_range(first.address(), blocks) {
            return RES_ADDR_FAILURE;
        }
        if !mac_matches(mac, body) {
            log::debug!("rpmb: data write with a bad MAC");
            return RES_AUTH_FAILURE;
        }
        if first.write_counter() != self.storage.write_counter() {
            log::debug!(
                "rpmb: data write with counter {} (device at {})",
                first.write_counter(),
                self.storage.write_counter()
            );
            return RES_COUNT_FAILURE;
        }
        let data: Vec<u8> = body.iter().flat_map(|f| f.data().iter().copied()).collect();
        match self.storage.write_blocks(first.address(), &data) {
            Ok(_) => RES_OK,
            Err(StorageError::OutOfRange { .. }) => RES_ADDR_FAILURE,
            // The guest's own doing, and frequent while it floods: not an error of ours.
            Err(StorageError::WriteBudget) => {
                log::debug!("rpmb: data write refused: write budget used up");
                RES_WRITE_FAILURE
            }
            Err(e) => {
                log::error!("rpmb: data write failed: {e}");
                RES_WRITE_FAILURE
            }
        }
    }

    fn data_read(
        &mut self,
        request: &Frame,
        body: &[Frame],
        result_read: bool,
        slots: usize,
    ) -> Vec<Frame> {
        let count = match request.block_count() {
            0 => slots,
            n => usize::from(n),
        };
        let max = usize::from(self.limits.max_read_blocks);
        let frames = count.min(slots).min(max).max(1);
        let mut data = vec![0u8; frames * BLOCK_SIZE];
        let result = if result_read || body.len() != 1 {
            RES_GENERAL_FAILURE
        } else if !self.storage.key_programmed() {
            RES_NO_AUTH_KEY
        } else if count == 0 || count > max || count > slots {
            RES_GENERAL_FAILURE
        } else if !self.in_range(request.address(), count) {
            RES_ADDR_FAILURE
        } else {
            match self.storage.read_blocks(request.address(), &mut data) {
                Ok(()) => RES_OK,
                Err(e) => {
                    log::error!("rpmb: data read failed: {e}");
                    data.fill(0);
                    RES_READ_FAILURE
                }
            }
        };
        let mut responses: Vec<Frame> = data
            .chunks_exact(BLOCK_SIZE)
            .map(|block| {
                let mut f = Frame::with_type(RESP_DATA_READ);
                let mut array = [0u8; BLOCK_SIZE];
                array.copy_from_slice(block);
                f.set_data(&array);
                f.set_nonce(request.nonce());
                f.set_address(request.address());
                f.set_block_count(u16::try_from(count).unwrap_or(u16::MAX));
                f
            })
            .collect();
        self.finish(&mut responses, result, true);
        responses
    }

    fn result_read(&mut self, requests: &[Frame]) -> Vec<Frame> {
        match (requests, &self.result_register) {
            ([frame], Some(register)) if single_block(frame) => vec![register.clone()],
            _ => vec![self.finish_one(Frame::with_type(0), RES_GENERAL_FAILURE, false)],
        }
    }

    fn in_range(&self, address: u16, blocks: usize) -> bool {
        usize::from(address) + blocks <= self.storage.capacity_blocks() as usize
    }

    fn finish_one(&self, mut frame: Frame, result: u16, mac: bool) -> Frame {
        self.finish(std::slice::from_mut(&mut frame), result, mac);
        frame
    }

    /// Sets the result (with the expiry flag when it applies) and, if a key exists and `mac`
    /// is asked for, the MAC over all the frames in the last one.
    fn finish(&self, frames: &mut [Frame], result: u16, mac: bool) {
        let result = if self.storage.write_counter() == MAX_WRITE_COUNTER {
            result | RES_WRITE_COUNTER_EXPIRED
        } else {
            result
        };
        for f in frames.iter_mut() {
            f.set_result(result);
        }
        if !mac {
            return;
        }
        if let Some(mut hmac) = self.storage.keyed_mac() {
            for f in frames.iter() {
                hmac.update(f.mac_input());
            }
            let tag: [u8; KEY_MAC_SIZE] = hmac.finalize();
            if let Some(last) = frames.last_mut() {
                last.set_key_mac(&tag);
            }
        }
    }
}

/// Whether a single-frame request's block count is one the engine accepts (0 or 1).
fn single_block(frame: &Frame) -> bool {
    frame.block_count() <= 1
}

/// Checks, in constant time, the MAC in the last frame against all frames' MAC input.
fn mac_matches(mut mac: RpmbMac, frames: &[Frame]) -> bool {
    for f in frames {
        mac.update(f.mac_input());
    }
    match frames.last() {
        Some(last) => mac.verify(last.key_mac()),
        None => false,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
