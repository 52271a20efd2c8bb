//! Per-guest virtual RPMB multiplexed on one physical RPMB (the ACRN approach): each guest
//! has its own block range, its own key and its own write counter; the guest's MAC is
//! checked with the guest's key (by the engine, through [`RpmbStorage::keyed_mac`]) and the
//! physical write is signed with the device key, which no guest ever sees.
//!
//! A guest's slot on the physical part is `1 + journal + capacity` blocks:
//!
//! | block            | holds                                                         |
//! |------------------|---------------------------------------------------------------|
//! | `offset`         | header: magic, guest name, geometry, counter, encrypted key, pending write |
//! | `offset + 1 ..`  | journal: the data of the guest's latest write (`journal` blocks) |
//! | after the journal| the guest's blocks 0..capacity                                |
//!
//! A guest write is two physical writes: first header and journal together (one atomic
//! authenticated write, so the guest's counter and the journalled data commit as one), then
//! the data in place. Opening a slot re-applies the journal if the data in place differs,
//! which completes a write torn between the two. The guest's key is stored XORed with a
//! pad derived from the device key, so reading the raw part does not reveal it.
//! Isolation: the engine bounds every guest address by the slot's capacity, and this
//! module only ever addresses the physical part inside the slot.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::physical::{PhysicalError, PhysicalRpmb};
use super::write_budget::{WriteBudget, DEFAULT_WRITES_PER_MINUTE};
use crate::hw::rpmb::{check_range, RpmbKey, RpmbMac, RpmbStorage, StorageError, BLOCK_SIZE};

/// A physical RPMB shared by several guests' devices.
pub type SharedPhysical = Arc<Mutex<PhysicalRpmb>>;

const MAGIC: &[u8; 8] = b"DVMVRPMB";
const VERSION: u32 = 1;
const FLAG_KEY: u32 = 1;
/// Longest guest name a header records.
const NAME_LEN: usize = 32;

/// Where one guest's virtual RPMB lives on the physical part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualSlot {
    /// The guest's name; recorded in the header so a slot never changes hands silently.
    pub guest: String,
    /// First physical block of the slot (the header).
    pub offset: u32,
    /// Blocks the guest sees.
    pub capacity_blocks: u32,
    /// Most blocks one guest write carries (the guest's `max_wr_cnt`).
    pub journal_blocks: u16,
}

impl VirtualSlot {
    /// Physical blocks the slot occupies.
    pub fn footprint(&self) -> u32 {
        1 + u32::from(self.journal_blocks) + self.capacity_blocks
    }

    fn data_base(&self) -> u32 {
        self.offset + 1 + u32::from(self.journal_blocks)
    }
}

/// Why a virtual RPMB could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum VirtualError {
    /// The slot does not fit the part, or the part cannot write header and journal at once.
    #[error("slot for guest \"{guest}\": {why}")]
    Geometry {
        /// The guest.
        guest: String,
        /// What does not fit.
        why: String,
    },
    /// The header block holds something else than this guest's header.
    #[error("slot for guest \"{guest}\" at block {offset}: {why}")]
    Header {
        /// The guest.
        guest: String,
        /// Header block.
        offset: u32,
        /// What is wrong.
        why: String,
    },
    /// The physical part failed.
    #[error("slot for guest \"{guest}\": {source}")]
    Physical {
        /// The guest.
        guest: String,
        /// The failure.
        source: PhysicalError,
    },
}

/// The state a header records.
#[derive(Clone, PartialEq, Eq)]
struct Header {
    counter: u32,
    key_enc: Option<[u8; 32]>,
    pending: Option<(u16, u16)>,
}

impl Header {
    fn encode(&self, slot: &VirtualSlot) -> [u8; BLOCK_SIZE] {
        let mut b = [0u8; BLOCK_SIZE];
        b[0..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&self.counter.to_le_bytes());
        let flags = if self.key_enc.is_some() { FLAG_KEY } else { 0 };
        b[16..20].copy_from_slice(&flags.to_le_bytes());
        let (addr, count) = self.pending.unwrap_or((0, 0));
        b[20..22].copy_from_slice(&addr.to_le_bytes());
        b[22..24].copy_from_slice(&count.to_le_bytes());
        b[24..28].copy_from_slice(&slot.capacity_blocks.to_le_bytes());
        b[28..30].copy_from_slice(&slot.journal_blocks.to_le_bytes());
        if let Some(k) = &self.key_enc {
            b[32..64].copy_from_slice(k);
        }
        b[64..64 + NAME_LEN].copy_from_slice(&name_field(&slot.guest));
        b
    }

    fn decode(b: &[u8], slot: &VirtualSlot) -> Result<Option<Self>, String> {
        if b.iter().all(|&x| x == 0) {
            return Ok(None);
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        if &b[0..8] != MAGIC || u32_at(8) != VERSION {
            return Err("not a virtual RPMB header (the slot overlaps other data?)".into());
        }
        if b[64..64 + NAME_LEN] != name_field(&slot.guest) {
            let owner = String::from_utf8_lossy(&b[64..64 + NAME_LEN]);
            return Err(format!(
                "belongs to guest \"{}\"",
                owner.trim_end_matches('\0')
            ));
        }
        if u32_at(24) != slot.capacity_blocks || u16_at(28) != slot.journal_blocks {
            return Err(format!(
                "was made with capacity {} and max_wr_cnt {}, configured {} and {}",
                u32_at(24),
                u16_at(28),
                slot.capacity_blocks,
                slot.journal_blocks
            ));
        }
        let key_enc = (u32_at(16) & FLAG_KEY != 0).then(|| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&b[32..64]);
            k
        });
        let pending = match (u16_at(20), u16_at(22)) {
            (_, 0) => None,
            (a, n) if n <= slot.journal_blocks => Some((a, n)),
            (_, n) => return Err(format!("pending write of {n} blocks exceeds the journal")),
        };
        Ok(Some(Self {
            counter: u32_at(12),
            key_enc,
            pending,
        }))
    }
}

fn name_field(name: &str) -> [u8; NAME_LEN] {
    let mut f = [0u8; NAME_LEN];
    let bytes = name.as_bytes();
    let n = bytes.len().min(NAME_LEN);
    f[..n].copy_from_slice(&bytes[..n]);
    f
}

/// One guest's RPMB, stored in its slot of a shared physical part.
pub struct VirtualRpmb {
    phys: SharedPhysical,
    slot: VirtualSlot,
    header: Header,
    key: Option<RpmbKey>,
    /// Pad the stored key is XORed with; derived from the device key.
    pad: [u8; 32],
    /// Writes this guest may still make to the shared part.
    budget: WriteBudget,
}

impl std::fmt::Debug for VirtualRpmb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualRpmb")
            .field("slot", &self.slot)
            .field("write_counter", &self.header.counter)
            .field("key_programmed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

fn lock(phys: &SharedPhysical) -> MutexGuard<'_, PhysicalRpmb> {
    match phys.lock() {
        Ok(g) => g,
        // A panicking holder left the client as it was; its counter is resynchronised by
        // the next write's result anyway.
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
        *o = x ^ y;
    }
    out
}

fn storage_err(e: PhysicalError) -> StorageError {
    StorageError::Io(std::io::Error::other(e.to_string()))
}

impl VirtualRpmb {
    /// Opens (or, on a blank slot, creates) `slot` on `phys`, completing a torn write.
    pub fn open(phys: SharedPhysical, slot: VirtualSlot) -> Result<Self, VirtualError> {
        let guest = slot.guest.clone();
        let phys_err = |source| VirtualError::Physical {
            guest: guest.clone(),
            source,
        };
        let mut p = lock(&phys);
        let geometry = p.geometry();
        if slot.capacity_blocks == 0 || slot.journal_blocks == 0 {
            return Err(VirtualError::Geometry {
                guest,
                why: "capacity and max_wr_cnt must be at least 1".into(),
            });
        }
        if u64::from(slot.offset) + u64::from(slot.footprint())
            > u64::from(geometry.capacity_blocks)
        {
            return Err(VirtualError::Geometry {
                guest,
                why: format!(
                    "blocks {}..{} exceed the {}-block physical RPMB",
                    slot.offset,
                    u64::from(slot.offset) + u64::from(slot.footprint()),
                    geometry.capacity_blocks
                ),
            });
        }
        if slot.journal_blocks + 1 > geometry.max_write_blocks {
            return Err(VirtualError::Geometry {
                guest,
                why: format!(
                    "a guest write of {} blocks needs physical writes of {} blocks; the part \
                     takes {}",
                    slot.journal_blocks,
                    slot.journal_blocks + 1,
                    geometry.max_write_blocks
                ),
            });
        }
        let mut raw = [0u8; BLOCK_SIZE];
        p.read(slot.offset, &mut raw).map_err(phys_err)?;
        let header = match Header::decode(&raw, &slot) {
            Ok(Some(h)) => h,
            Ok(None) => {
                let fresh = Header {
                    counter: 0,
                    key_enc: None,
                    pending: None,
                };
                Self::clear_slot(&mut p, &slot).map_err(phys_err)?;
                p.write(slot.offset, &fresh.encode(&slot))
                    .map_err(phys_err)?;
                log::info!(
                    "rpmb: new virtual RPMB for guest \"{}\" at physical blocks {}..{}",
                    slot.guest,
                    slot.offset,
                    slot.offset + slot.footprint()
                );
                fresh
            }
            Err(why) => {
                return Err(VirtualError::Header {
                    guest,
                    offset: slot.offset,
                    why,
                })
            }
        };
        if let Some((addr, count)) = header.pending {
            Self::finish_pending(&mut p, &slot, addr, count).map_err(phys_err)?;
        }
        let pad = p.derive(format!("drivervm vRPMB key pad\0{}", slot.guest).as_bytes());
        drop(p);
        let key = header.key_enc.map(|enc| RpmbKey::new(xor(&enc, &pad)));
        Ok(Self {
            phys,
            slot,
            header,
            key,
            pad,
            budget: WriteBudget::new(DEFAULT_WRITES_PER_MINUTE, Instant::now()),
        })
    }

    /// Zeroes whatever a previous user left in a slot that has no header yet.
    fn clear_slot(p: &mut PhysicalRpmb, slot: &VirtualSlot) -> Result<(), PhysicalError> {
        let step = u32::from(p.geometry().max_write_blocks);
        let end = slot.offset + slot.footprint();
        let mut at = slot.offset + 1;
        while at < end {
            let n = step.min(end - at);
            let mut buf = vec![0u8; n as usize * BLOCK_SIZE];
            p.read(at, &mut buf)?;
            if buf.iter().any(|&b| b != 0) {
                buf.fill(0);
                p.write(at, &buf)?;
            }
            at += n;
        }
        Ok(())
    }

    /// Re-applies the journalled write if the data in place differs from it.
    fn finish_pending(
        p: &mut PhysicalRpmb,
        slot: &VirtualSlot,
        addr: u16,
        count: u16,
    ) -> Result<(), PhysicalError> {
        let len = usize::from(count) * BLOCK_SIZE;
        if u32::from(addr) + u32::from(count) > slot.capacity_blocks {
            return Err(PhysicalError::Range(format!(
                "journalled write at {addr}+{count} outside the slot"
            )));
        }
        let mut journal = vec![0u8; len];
        p.read(slot.offset + 1, &mut journal)?;
        let mut in_place = vec![0u8; len];
        let target = slot.data_base() + u32::from(addr);
        p.read(target, &mut in_place)?;
        if in_place != journal {
            log::info!(
                "rpmb: completing guest \"{}\"'s torn write of {count} block(s) at {addr}",
                slot.guest
            );
            p.write(target, &journal)?;
        }
        Ok(())
    }

    /// Lets this guest make at most `per_minute` writes a minute (bursts of as many) to
    /// the shared part; further writes fail until the budget refills.
    pub fn with_write_budget(mut self, per_minute: u32) -> Self {
        self.budget = WriteBudget::new(per_minute, Instant::now());
        self
    }

    /// Where this virtual RPMB lives.
    pub fn slot(&self) -> &VirtualSlot {
        &self.slot
    }
}

impl RpmbStorage for VirtualRpmb {
    fn capacity_blocks(&self) -> u32 {
        self.slot.capacity_blocks
    }

    fn key_programmed(&self) -> bool {
        self.key.is_some()
    }

    fn write_counter(&self) -> u32 {
        self.header.counter
    }

    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError> {
        if self.key.is_some() {
            return Err(StorageError::KeyAlreadyProgrammed);
        }
        let next = Header {
            key_enc: Some(xor(key.expose(), &self.pad)),
            ..self.header.clone()
        };
        lock(&self.phys)
            .write(self.slot.offset, &next.encode(&self.slot))
            .map_err(storage_err)?;
        self.header = next;
        self.key = Some(key.clone());
        Ok(())
    }

    fn keyed_mac(&self) -> Option<RpmbMac> {
        self.key.as_ref().map(RpmbKey::mac)
    }

    fn read_blocks(&mut self, address: u16, out: &mut [u8]) -> Result<(), StorageError> {
        check_range(address, out.len(), self.slot.capacity_blocks)?;
        lock(&self.phys)
            .read(self.slot.data_base() + u32::from(address), out)
            .map_err(storage_err)
    }

    fn write_blocks(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError> {
        let blocks = check_range(address, data.len(), self.slot.capacity_blocks)?;
        if self.key.is_none() {
            return Err(StorageError::NoKey);
        }
        if blocks > u32::from(self.slot.journal_blocks) {
            return Err(StorageError::TooManyBlocks(blocks as usize));
        }
        if !self.budget.take(Instant::now()) {
            return Err(StorageError::WriteBudget);
        }
        let counter = self
            .header
            .counter
            .checked_add(1)
            .ok_or(StorageError::CounterExpired)?;
        let next = Header {
            counter,
            pending: Some((address, blocks as u16)),
            ..self.header.clone()
        };
        let mut commit = next.encode(&self.slot).to_vec();
        commit.extend_from_slice(data);
        let mut p = lock(&self.phys);
        p.write(self.slot.offset, &commit).map_err(storage_err)?;
        // Committed: from here the write survives a crash (open re-applies the journal).
        self.header = next;
        let target = self.slot.data_base() + u32::from(address);
        if let Err(e) = p.write(target, data) {
            log::error!(
                "rpmb: guest \"{}\": write journalled but not applied ({e}); retrying once",
                self.slot.guest
            );
            p.write(target, data).map_err(storage_err)?;
        }
        Ok(counter)
    }
}

#[cfg(test)]
#[path = "virtual_rpmb_tests.rs"]
mod tests;
