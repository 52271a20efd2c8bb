//! RPMB storage: the replay-protected block store behind the RPMB protocol engine.
//!
//! An [`RpmbStorage`] is what an eMMC's RPMB partition keeps internally: the one-time key, the
//! monotonic write counter and the 256-byte blocks. It computes MACs itself so the key never
//! leaves it, and it commits a block write together with its counter increment, atomically.
//! Backends: [`file::FileRpmb`] (crash-safe image file, persistent) and
//! [`memory::MemoryRpmb`] (volatile, for tests and throwaway guests).

pub mod crypto;
pub mod emmc;
pub mod file;
pub mod frames;
pub mod key_file;

/// Names the reason when an `O_NOFOLLOW` open met a symlink (ELOOP says "too many levels").
pub(crate) fn refuse_symlink(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        std::io::Error::new(
            e.kind(),
            "is a symbolic link (refused: state files are opened without following links)",
        )
    } else {
        e
    }
}
pub mod memory;
pub mod owner;
pub mod ufs;

/// Bytes in one RPMB block.
pub const BLOCK_SIZE: usize = 256;
/// Most blocks an RPMB partition can hold: addresses are 16 bits (16 MiB).
pub const MAX_BLOCKS: u32 = 1 << 16;
/// Most blocks one authenticated write may carry (the virtio `max_wr_cnt` field is a u8).
pub const MAX_WRITE_BLOCKS: u16 = 255;

pub use crypto::RpmbMac;

/// The 256-bit RPMB authentication key. Never printed: `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RpmbKey([u8; 32]);

impl RpmbKey {
    /// Wraps raw key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A MAC instance keyed with this key.
    pub(crate) fn mac(&self) -> RpmbMac {
        RpmbMac::new(&self.0)
    }

    /// The raw bytes, for backends that persist the key.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for RpmbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpmbKey(<redacted>)")
    }
}

impl Drop for RpmbKey {
    fn drop(&mut self) {
        // Best effort: the compiler may elide this, but it costs nothing where it does not.
        self.0.fill(0);
    }
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is already programmed; it is one-time programmable.
    #[error("authentication key already programmed")]
    KeyAlreadyProgrammed,
    /// An authenticated operation was attempted before the key was programmed.
    #[error("authentication key not programmed")]
    NoKey,
    /// The write counter has reached its maximum; no further writes are possible.
    #[error("write counter expired")]
    CounterExpired,
    /// The guest has used its write budget on a shared part; it may retry later.
    #[error("write budget on the shared RPMB used up")]
    WriteBudget,
    /// The block range lies outside the partition or the buffer is not whole blocks.
    #[error("block range {address}+{blocks} outside the {capacity}-block partition")]
    OutOfRange {
        /// First block.
        address: u32,
        /// Number of blocks.
        blocks: u32,
        /// Partition size in blocks.
        capacity: u32,
    },
    /// The write carries more blocks than the backend commits atomically.
    #[error("{0} blocks exceeds the atomic write limit")]
    TooManyBlocks(usize),
    /// The image on disk is not a valid RPMB image.
    #[error("corrupt RPMB image: {0}")]
    Corrupt(String),
    /// Invalid parameters for creating a backend.
    #[error("invalid RPMB geometry: {0}")]
    Geometry(String),
    /// The operating system reported an I/O error.
    #[error("RPMB image I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// The physical RPMB: key, counter and blocks, with authenticated writes committed atomically.
pub trait RpmbStorage: Send {
    /// Partition size in 256-byte blocks (1..=65536).
    fn capacity_blocks(&self) -> u32;

    /// Whether the authentication key has been programmed.
    fn key_programmed(&self) -> bool;

    /// Current write counter (number of successful authenticated writes).
    fn write_counter(&self) -> u32;

    /// Programs the one-time key; durable before it returns `Ok`.
    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError>;

    /// A MAC instance keyed with the stored key, or `None` before the key is programmed.
    fn keyed_mac(&self) -> Option<RpmbMac>;

    /// Reads whole blocks starting at `address` into `out` (a multiple of 256 bytes).
    fn read_blocks(&mut self, address: u16, out: &mut [u8]) -> Result<(), StorageError>;

    /// Writes whole blocks at `address` and increments the write counter as one atomic,
    /// durable step; returns the new counter.
    fn write_blocks(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError>;
}

impl<T: RpmbStorage + ?Sized> RpmbStorage for Box<T> {
    fn capacity_blocks(&self) -> u32 {
        (**self).capacity_blocks()
    }

    fn key_programmed(&self) -> bool {
        (**self).key_programmed()
    }

    fn write_counter(&self) -> u32 {
        (**self).write_counter()
    }

    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError> {
        (**self).program_key(key)
    }

    fn keyed_mac(&self) -> Option<RpmbMac> {
        (**self).keyed_mac()
    }

    fn read_blocks(&mut self, address: u16, out: &mut [u8]) -> Result<(), StorageError> {
        (**self).read_blocks(address, out)
    }

    fn write_blocks(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError> {
        (**self).write_blocks(address, data)
    }
}

/// Checks that `len` bytes at `address` are whole blocks inside a `capacity`-block partition;
/// returns the number of blocks.
pub(crate) fn check_range(address: u16, len: usize, capacity: u32) -> Result<u32, StorageError> {
    let blocks = u32::try_from(len / BLOCK_SIZE).unwrap_or(u32::MAX);
    let out_of_range = StorageError::OutOfRange {
        address: address.into(),
        blocks,
        capacity,
    };
    if len % BLOCK_SIZE != 0 || len == 0 {
        return Err(out_of_range);
    }
    match u32::from(address).checked_add(blocks) {
        Some(end) if end <= capacity => Ok(blocks),
        _ => Err(out_of_range),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_debug_is_redacted() {
        let key = RpmbKey::new([0x42; 32]);
        assert_eq!(format!("{key:?}"), "RpmbKey(<redacted>)");
    }

    #[test]
    fn range_check_covers_the_partition_end() {
        assert_eq!(check_range(0, 256, 1).unwrap(), 1);
        assert_eq!(check_range(510, 512, 512).unwrap(), 2);
        assert!(check_range(511, 512, 512).is_err());
        assert!(check_range(0, 0, 512).is_err());
        assert!(check_range(0, 255, 512).is_err());
        assert!(check_range(u16::MAX, 256, MAX_BLOCKS).is_ok());
        assert!(check_range(u16::MAX, 512, MAX_BLOCKS).is_err());
    }
}
