//! Volatile RPMB held in memory: everything (key included) is lost when it is dropped.
//! For tests and for guests that must not keep state; never a fallback for the file image.

use super::{check_range, RpmbKey, RpmbMac, RpmbStorage, StorageError, BLOCK_SIZE, MAX_BLOCKS};

/// An RPMB partition that lives only in memory.
pub struct MemoryRpmb {
    key: Option<RpmbKey>,
    counter: u32,
    blocks: Vec<u8>,
}

impl std::fmt::Debug for MemoryRpmb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRpmb")
            .field("capacity_blocks", &self.capacity_blocks())
            .field("key_programmed", &self.key.is_some())
            .field("write_counter", &self.counter)
            .finish()
    }
}

impl MemoryRpmb {
    /// A blank partition of `capacity_blocks` zeroed blocks, no key, counter 0.
    pub fn new(capacity_blocks: u32) -> Result<Self, StorageError> {
        if capacity_blocks == 0 || capacity_blocks > MAX_BLOCKS {
            return Err(StorageError::Geometry(format!(
                "capacity of {capacity_blocks} blocks is outside 1..={MAX_BLOCKS}"
            )));
        }
        Ok(Self {
            key: None,
            counter: 0,
            blocks: vec![0; capacity_blocks as usize * BLOCK_SIZE],
        })
    }

    /// Sets the write counter, so tests can reach the counter's end without 2^32 writes.
    pub fn with_write_counter(mut self, counter: u32) -> Self {
        self.counter = counter;
        self
    }
}

impl RpmbStorage for MemoryRpmb {
    fn capacity_blocks(&self) -> u32 {
        (self.blocks.len() / BLOCK_SIZE) as u32
    }

    fn key_programmed(&self) -> bool {
        self.key.is_some()
    }

    fn write_counter(&self) -> u32 {
        self.counter
    }

    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError> {
        if self.key.is_some() {
            return Err(StorageError::KeyAlreadyProgrammed);
        }
        self.key = Some(key.clone());
        Ok(())
    }

    fn keyed_mac(&self) -> Option<RpmbMac> {
        self.key.as_ref().map(RpmbKey::mac)
    }

    fn read_blocks(&mut self, address: u16, out: &mut [u8]) -> Result<(), StorageError> {
        check_range(address, out.len(), self.capacity_blocks())?;
        let start = usize::from(address) * BLOCK_SIZE;
        out.copy_from_slice(&self.blocks[start..start + out.len()]);
        Ok(())
    }

    fn write_blocks(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError> {
        if self.key.is_none() {
            return Err(StorageError::NoKey);
        }
        let next = self
            .counter
            .checked_add(1)
            .ok_or(StorageError::CounterExpired)?;
        check_range(address, data.len(), self.capacity_blocks())?;
        let start = usize::from(address) * BLOCK_SIZE;
        self.blocks[start..start + data.len()].copy_from_slice(data);
        self.counter = next;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_commits_data_and_counter_together() {
        let mut m = MemoryRpmb::new(4).unwrap();
        assert!(matches!(
            m.write_blocks(0, &[1; 256]),
            Err(StorageError::NoKey)
        ));
        m.program_key(&RpmbKey::new([7; 32])).unwrap();
        assert!(matches!(
            m.program_key(&RpmbKey::new([8; 32])),
            Err(StorageError::KeyAlreadyProgrammed)
        ));
        assert_eq!(m.write_blocks(3, &[9; 256]).unwrap(), 1);
        assert!(m.write_blocks(3, &[9; 512]).is_err());
        assert_eq!(m.write_counter(), 1);
        let mut out = [0u8; 512];
        m.read_blocks(2, &mut out).unwrap();
        assert_eq!(&out[..256], &[0; 256]);
        assert_eq!(&out[256..], &[9; 256]);
    }

    #[test]
    fn counter_stops_at_its_maximum() {
        let mut m = MemoryRpmb::new(1).unwrap().with_write_counter(u32::MAX - 1);
        m.program_key(&RpmbKey::new([7; 32])).unwrap();
        assert_eq!(m.write_blocks(0, &[1; 256]).unwrap(), u32::MAX);
        assert!(matches!(
            m.write_blocks(0, &[2; 256]),
            Err(StorageError::CounterExpired)
        ));
        let mut out = [0u8; 256];
        m.read_blocks(0, &mut out).unwrap();
        assert_eq!(out, [1; 256]);
    }

    #[test]
    fn geometry_is_validated() {
        assert!(MemoryRpmb::new(0).is_err());
        assert!(MemoryRpmb::new(MAX_BLOCKS + 1).is_err());
        assert_eq!(
            MemoryRpmb::new(MAX_BLOCKS).unwrap().capacity_blocks(),
            MAX_BLOCKS
        );
    }
}
