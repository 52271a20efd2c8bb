//! The 512-byte JEDEC RPMB frame: one owned buffer with typed, big-endian field accessors.
//!
//! Layout (offsets in bytes): stuff 0..196, key/MAC 196..228, data 228..484, nonce 484..500,
//! write counter 500..504, address 504..506, block count 506..508, result 508..510,
//! request/response type 510..512. The MAC covers bytes 228..512 of every frame of a message.

use super::constants::{BLOCK_SIZE, FRAME_SIZE, KEY_MAC_SIZE, NONCE_SIZE};
use std::ops::Range;

/// Byte range of the stuff (padding) field.
pub const STUFF: Range<usize> = 0..196;
/// Byte range of the key/MAC field.
pub const KEY_MAC: Range<usize> = 196..228;
/// Byte range of the data field.
pub const DATA: Range<usize> = 228..484;
/// Byte range of the nonce field.
pub const NONCE: Range<usize> = 484..500;
/// Byte range of the write counter field (big-endian u32).
pub const WRITE_COUNTER: Range<usize> = 500..504;
/// Byte range of the address field (big-endian u16, in 256-byte blocks).
pub const ADDRESS: Range<usize> = 504..506;
/// Byte range of the block count field (big-endian u16).
pub const BLOCK_COUNT: Range<usize> = 506..508;
/// Byte range of the result field (big-endian u16).
pub const RESULT: Range<usize> = 508..510;
/// Byte range of the request/response type field (big-endian u16).
pub const REQ_RESP: Range<usize> = 510..512;
/// Byte range authenticated by the MAC: data through req/resp (284 bytes).
pub const MAC_INPUT: Range<usize> = 228..512;

/// Why bytes could not be taken as RPMB frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The buffer is not a whole number of 512-byte frames.
    #[error("{0} bytes is not a whole number of 512-byte RPMB frames")]
    Length(usize),
}

/// One RPMB frame, kept as its wire bytes so parsing and serialising are copies, not conversions.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: [u8; FRAME_SIZE],
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            bytes: [0; FRAME_SIZE],
        }
    }
}

// A request frame's key/MAC field may hold the authentication key (PROGRAM_KEY), so it is
// never printed.
impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("req_resp", &format_args!("{:#06x}", self.req_resp()))
            .field("result", &format_args!("{:#06x}", self.result()))
            .field("address", &self.address())
            .field("block_count", &self.block_count())
            .field("write_counter", &self.write_counter())
            .field("key_mac", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Frame {
    /// A zeroed frame carrying the request or response type `req_resp`.
    pub fn with_type(req_resp: u16) -> Self {
        let mut frame = Self::default();
        frame.set_req_resp(req_resp);
        frame
    }

    /// Copies one frame out of exactly 512 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, FrameError> {
        let bytes: [u8; FRAME_SIZE] = bytes
            .try_into()
            .map_err(|_| FrameError::Length(bytes.len()))?;
        Ok(Self { bytes })
    }

    /// Splits a buffer into frames; its length must be a multiple of 512.
    pub fn parse_all(bytes: &[u8]) -> Result<Vec<Self>, FrameError> {
        if bytes.len() % FRAME_SIZE != 0 {
            return Err(FrameError::Length(bytes.len()));
        }
        bytes
            .chunks_exact(FRAME_SIZE)
            .map(Self::from_slice)
            .collect()
    }

    /// Concatenates frames into their wire bytes.
    pub fn serialize_all(frames: &[Self]) -> Vec<u8> {
        let mut out = Vec::with_capacity(frames.len() * FRAME_SIZE);
        for frame in frames {
            out.extend_from_slice(&frame.bytes);
        }
        out
    }

    /// The frame's wire bytes.
    pub fn as_bytes(&self) -> &[u8; FRAME_SIZE] {
        &self.bytes
    }

    /// The bytes the MAC is computed over (data through req/resp).
    pub fn mac_input(&self) -> &[u8] {
        &self.bytes[MAC_INPUT]
    }

    /// The key/MAC field.
    pub fn key_mac(&self) -> &[u8; KEY_MAC_SIZE] {
        self.array(KEY_MAC)
    }

    /// Sets the key/MAC field.
    pub fn set_key_mac(&mut self, value: &[u8; KEY_MAC_SIZE]) {
        self.bytes[KEY_MAC].copy_from_slice(value);
    }

    /// The data field (one 256-byte block).
    pub fn data(&self) -> &[u8; BLOCK_SIZE] {
        self.array(DATA)
    }

    /// Sets the data field.
    pub fn set_data(&mut self, value: &[u8; BLOCK_SIZE]) {
        self.bytes[DATA].copy_from_slice(value);
    }

    /// The nonce field.
    pub fn nonce(&self) -> &[u8; NONCE_SIZE] {
        self.array(NONCE)
    }

    /// Sets the nonce field.
    pub fn set_nonce(&mut self, value: &[u8; NONCE_SIZE]) {
        self.bytes[NONCE].copy_from_slice(value);
    }

    /// The write counter field.
    pub fn write_counter(&self) -> u32 {
        u32::from_be_bytes(*self.array(WRITE_COUNTER))
    }

    /// Sets the write counter field.
    pub fn set_write_counter(&mut self, value: u32) {
        self.bytes[WRITE_COUNTER].copy_from_slice(&value.to_be_bytes());
    }

    /// The address field, in 256-byte blocks.
    pub fn address(&self) -> u16 {
        self.u16_at(ADDRESS)
    }

    /// Sets the address field.
    pub fn set_address(&mut self, value: u16) {
        self.set_u16_at(ADDRESS, value);
    }

    /// The block count field.
    pub fn block_count(&self) -> u16 {
        self.u16_at(BLOCK_COUNT)
    }

    /// Sets the block count field.
    pub fn set_block_count(&mut self, value: u16) {
        self.set_u16_at(BLOCK_COUNT, value);
    }

    /// The result field.
    pub fn result(&self) -> u16 {
        self.u16_at(RESULT)
    }

    /// Sets the result field.
    pub fn set_result(&mut self, value: u16) {
        self.set_u16_at(RESULT, value);
    }

    /// The request/response type field.
    pub fn req_resp(&self) -> u16 {
        self.u16_at(REQ_RESP)
    }

    /// Sets the request/response type field.
    pub fn set_req_resp(&mut self, value: u16) {
        self.set_u16_at(REQ_RESP, value);
    }

    fn array<const N: usize>(&self, range: Range<usize>) -> &[u8; N] {
        // Every range passed here is a constant of this module whose length is N, which the
        // layout test pins down; the fallback is unreachable but keeps this panic-free.
        match self.bytes[range].try_into() {
            Ok(array) => array,
            Err(_) => unreachable_field(),
        }
    }

    fn u16_at(&self, range: Range<usize>) -> u16 {
        u16::from_be_bytes(*self.array(range))
    }

    fn set_u16_at(&mut self, range: Range<usize>, value: u16) {
        self.bytes[range].copy_from_slice(&value.to_be_bytes());
    }
}

#[cold]
fn unreachable_field() -> ! {
    unreachable!("RPMB frame field ranges are constants of the layout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ranges_tile_the_frame_in_jedec_order() {
        let fields = [
            (STUFF, 196),
            (KEY_MAC, 32),
            (DATA, 256),
            (NONCE, 16),
            (WRITE_COUNTER, 4),
            (ADDRESS, 2),
            (BLOCK_COUNT, 2),
            (RESULT, 2),
            (REQ_RESP, 2),
        ];
        let mut next = 0;
        for (range, len) in fields {
            assert_eq!(range.start, next);
            assert_eq!(range.len(), len);
            next = range.end;
        }
        assert_eq!(next, FRAME_SIZE);
        assert_eq!(MAC_INPUT.len(), 284);
        assert_eq!(MAC_INPUT.end, FRAME_SIZE);
    }

    #[test]
    fn setters_write_big_endian_at_the_spec_offsets() {
        let mut f = Frame::default();
        f.set_write_counter(0x0102_0304);
        f.set_address(0x0506);
        f.set_block_count(0x0708);
        f.set_result(0x090a);
        f.set_req_resp(0x0b0c);
        f.set_nonce(&[0xaa; 16]);
        f.set_key_mac(&[0x55; 32]);
        f.set_data(&[0x77; 256]);
        let b = f.as_bytes();
        assert_eq!(&b[500..512], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(b[..196].iter().all(|&x| x == 0));
        assert!(b[196..228].iter().all(|&x| x == 0x55));
        assert!(b[228..484].iter().all(|&x| x == 0x77));
        assert!(b[484..500].iter().all(|&x| x == 0xaa));
        assert_eq!(f.mac_input().len(), 284);
        assert_eq!(f.mac_input()[0], 0x77);
        assert_eq!(f.mac_input()[283], 0x0c);
    }

    #[test]
    fn getters_read_big_endian_from_raw_bytes() {
        let mut raw = [0u8; FRAME_SIZE];
        raw[500..504].copy_from_slice(&[0xff, 0xff, 0xff, 0xfe]);
        raw[504..506].copy_from_slice(&[0x01, 0x00]);
        raw[506..508].copy_from_slice(&[0x00, 0x02]);
        raw[508..510].copy_from_slice(&[0x00, 0x85]);
        raw[510..512].copy_from_slice(&[0x03, 0x00]);
        let f = Frame::from_slice(&raw).unwrap();
        assert_eq!(f.write_counter(), 0xffff_fffe);
        assert_eq!(f.address(), 256);
        assert_eq!(f.block_count(), 2);
        assert_eq!(f.result(), 0x85);
        assert_eq!(f.req_resp(), 0x0300);
        assert_eq!(f.as_bytes(), &raw);
    }

    #[test]
    fn parse_all_requires_whole_frames_and_round_trips() {
        assert_eq!(Frame::parse_all(&[0; 511]), Err(FrameError::Length(511)));
        assert_eq!(Frame::parse_all(&[0; 1025]), Err(FrameError::Length(1025)));
        assert_eq!(Frame::parse_all(&[]).unwrap().len(), 0);
        let mut raw = vec![0u8; 1024];
        raw[511] = 2;
        raw[1023] = 4;
        let frames = Frame::parse_all(&raw).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].req_resp(), 2);
        assert_eq!(frames[1].req_resp(), 4);
        assert_eq!(Frame::serialize_all(&frames), raw);
        assert_eq!(Frame::from_slice(&raw), Err(FrameError::Length(1024)));
    }

    #[test]
    fn debug_never_shows_the_key_field() {
        let mut f = Frame::with_type(1);
        f.set_key_mac(&[0xab; 32]);
        let text = format!("{f:?}");
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("171"), "{text}");
        assert!(!text.to_lowercase().contains("ab, "), "{text}");
    }
}
