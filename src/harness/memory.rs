//! Guest memory for the harness: one memfd-backed region (shareable with a vhost-user backend)
//! and a first-fit allocator for rings and buffers inside it.

use std::collections::BTreeMap;
use std::fs::File;

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use vm_memory::{FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use super::Error;

/// Guest physical address at which the harness places its memory region.
///
/// Not zero, so that a device treating address 0 as "unset" is caught.
pub const GUEST_MEMORY_BASE: u64 = 0x1_0000;

/// Default size of the harness guest memory.
pub const DEFAULT_MEMORY_SIZE: usize = 4 << 20;

/// Guest memory backed by a memfd, plus a first-fit allocator over it.
pub struct GuestMemfd {
    mem: GuestMemoryMmap,
    base: u64,
    size: u64,
    /// Free blocks keyed by start address, kept coalesced.
    free: BTreeMap<u64, u64>,
}

impl GuestMemfd {
    /// Creates `size` bytes of zeroed guest memory at [`GUEST_MEMORY_BASE`].
    pub fn new(size: usize) -> Result<Self, Error> {
        Self::new_at(GUEST_MEMORY_BASE, size)
    }

    /// Creates `size` bytes of zeroed, memfd-backed guest memory at guest-physical `base`.
    pub fn new_at(base: u64, size: usize) -> Result<Self, Error> {
        if size == 0 {
            return Err(Error::Memory("guest memory size must not be zero".into()));
        }
        let fd = memfd_create(c"drivervm-harness", MemFdCreateFlag::MFD_CLOEXEC)
            .map_err(|e| Error::Memory(format!("memfd_create: {e}")))?;
        let file = File::from(fd);
        file.set_len(size as u64)
            .map_err(|e| Error::Memory(format!("sizing memfd to {size} bytes: {e}")))?;
        if base.checked_add(size as u64).is_none() {
            return Err(Error::Memory(format!(
                "{size} bytes do not fit at {base:#x}"
            )));
        }
        let mem = GuestMemoryMmap::from_ranges_with_files([(
            GuestAddress(base),
            size,
            Some(FileOffset::new(file, 0)),
        )])
        .map_err(|e| Error::Memory(format!("mapping memfd: {e}")))?;
        let mut free = BTreeMap::new();
        free.insert(base, size as u64);
        Ok(Self {
            mem,
            base,
            size: size as u64,
            free,
        })
    }

    /// A new handle on the memfd behind the memory, to share it with a backend.
    pub fn share_file(&self) -> Result<File, Error> {
        self.mem
            .find_region(GuestAddress(self.base))
            .and_then(|r| r.file_offset())
            .ok_or_else(|| Error::Memory("guest memory is not file-backed".into()))?
            .file()
            .try_clone()
            .map_err(|e| Error::Memory(format!("duplicating the memfd: {e}")))
    }

    /// The mapped guest memory.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// First guest physical address of the region.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size of the region in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// First guest physical address past the end of the region.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }

    /// Bytes currently free for allocation (possibly fragmented).
    pub fn free_bytes(&self) -> u64 {
        self.free.values().sum()
    }

    /// Allocates `len` bytes (at least 1) aligned to `align` (a power of two).
    pub fn alloc(&mut self, len: u64, align: u64) -> Result<u64, Error> {
        let len = len.max(1);
        let align = align.max(1);
        if !align.is_power_of_two() {
            return Err(Error::Memory(format!(
                "alignment {align} is not a power of two"
            )));
        }
        let found = self.free.iter().find_map(|(&start, &block)| {
            let aligned = start.checked_add(align - 1)? & !(align - 1);
            let pad = aligned - start;
            (pad.checked_add(len)? <= block).then_some((start, block, aligned))
        });
        let (start, block, aligned) = found.ok_or(Error::OutOfMemory { need: len })?;
        self.free.remove(&start);
        if aligned > start {
            self.free.insert(start, aligned - start);
        }
        let tail = aligned + len;
        let block_end = start + block;
        if tail < block_end {
            self.free.insert(tail, block_end - tail);
        }
        Ok(aligned)
    }

    /// Returns a block obtained from [`GuestMemfd::alloc`] with the same `len`.
    pub fn free(&mut self, addr: u64, len: u64) {
        let mut start = addr;
        let mut len = len.max(1);
        if let Some((&prev, &prev_len)) = self.free.range(..addr).next_back() {
            if prev + prev_len == addr {
                self.free.remove(&prev);
                start = prev;
                len += prev_len;
            }
        }
        if let Some(&next_len) = self.free.get(&(start + len)) {
            self.free.remove(&(start + len));
            len += next_len;
        }
        self.free.insert(start, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_respects_alignment_and_bounds() {
        let mut m = GuestMemfd::new(4096).unwrap();
        let a = m.alloc(3, 1).unwrap();
        assert_eq!(a, GUEST_MEMORY_BASE);
        let b = m.alloc(16, 16).unwrap();
        assert_eq!(b % 16, 0);
        assert!(b >= a + 3);
        assert!(m.alloc(8192, 1).is_err());
        // The alignment padding between the blocks stays free.
        assert_eq!(m.free_bytes(), 4096 - 3 - 16);
    }

    #[test]
    fn free_coalesces_back_to_one_block() {
        let mut m = GuestMemfd::new(4096).unwrap();
        let blocks: Vec<u64> = (0..8).map(|_| m.alloc(100, 4).unwrap()).collect();
        for (i, b) in blocks.iter().enumerate().rev() {
            if i % 2 == 0 {
                m.free(*b, 100);
            }
        }
        for (i, b) in blocks.iter().enumerate() {
            if i % 2 == 1 {
                m.free(*b, 100);
            }
        }
        assert_eq!(m.free.len(), 1);
        assert_eq!(m.free_bytes(), 4096);
        assert_eq!(m.alloc(4096, 1).unwrap(), GUEST_MEMORY_BASE);
    }
}
