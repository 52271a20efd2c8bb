//! Numeric constants of the RPMB frame protocol (JEDEC eMMC §6.6.22, OASIS virtio §5.12).

/// Virtio device ID of virtio-rpmb.
pub const VIRTIO_ID_RPMB: u32 = 28;

// The frame and block sizes are the hardware's; defined once, in `hw::rpmb`.
pub use crate::hw::rpmb::frames::FRAME_BYTES as FRAME_SIZE;
pub use crate::hw::rpmb::BLOCK_SIZE;
/// Size of the authentication key and of the MAC.
pub const KEY_MAC_SIZE: usize = 32;
/// Size of the nonce field.
pub const NONCE_SIZE: usize = 16;
/// Blocks in one virtio-rpmb capacity unit (128 KiB / 256 B).
pub const BLOCKS_PER_CAPACITY_UNIT: u32 = 512;
/// Largest capacity virtio-rpmb can report, in 128 KiB units (16 MiB).
pub const MAX_CAPACITY_UNITS: u8 = 0x80;

/// Request: program the one-time authentication key.
pub const REQ_PROGRAM_KEY: u16 = 0x0001;
/// Request: read the write counter.
pub const REQ_GET_WRITE_COUNTER: u16 = 0x0002;
/// Request: authenticated data write.
pub const REQ_DATA_WRITE: u16 = 0x0003;
/// Request: authenticated data read.
pub const REQ_DATA_READ: u16 = 0x0004;
/// Request: read the result of the last program-key or data-write.
pub const REQ_RESULT_READ: u16 = 0x0005;

/// Response to [`REQ_PROGRAM_KEY`].
pub const RESP_PROGRAM_KEY: u16 = REQ_PROGRAM_KEY << 8;
/// Response to [`REQ_GET_WRITE_COUNTER`].
pub const RESP_GET_WRITE_COUNTER: u16 = REQ_GET_WRITE_COUNTER << 8;
/// Response to [`REQ_DATA_WRITE`].
pub const RESP_DATA_WRITE: u16 = REQ_DATA_WRITE << 8;
/// Response to [`REQ_DATA_READ`].
pub const RESP_DATA_READ: u16 = REQ_DATA_READ << 8;

/// Result: operation succeeded.
pub const RES_OK: u16 = 0x0000;
/// Result: general failure (malformed request, unsupported sequence).
pub const RES_GENERAL_FAILURE: u16 = 0x0001;
/// Result: MAC mismatch.
pub const RES_AUTH_FAILURE: u16 = 0x0002;
/// Result: write counter mismatch.
pub const RES_COUNT_FAILURE: u16 = 0x0003;
/// Result: address or range out of bounds.
pub const RES_ADDR_FAILURE: u16 = 0x0004;
/// Result: the write (or key programming) failed.
pub const RES_WRITE_FAILURE: u16 = 0x0005;
/// Result: the read failed.
pub const RES_READ_FAILURE: u16 = 0x0006;
/// Result: the authentication key is not programmed yet.
pub const RES_NO_AUTH_KEY: u16 = 0x0007;
/// Result flag: the write counter has reached its maximum and no longer counts.
pub const RES_WRITE_COUNTER_EXPIRED: u16 = 0x0080;

/// The write counter value at which it expires (and stops incrementing).
pub const MAX_WRITE_COUNTER: u32 = u32::MAX;
