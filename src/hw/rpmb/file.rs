//! Crash-safe RPMB image file (format and recovery rules: docs/rpmb-image.md).
//!
//! Two checksummed superblock slots hold the key, the write counter and a generation number;
//! the newer valid slot is current. A block write is a redo-journal record (checksummed,
//! fsynced), then the data in place, then the next generation's superblock in the other slot,
//! fsynced before the write is acknowledged. Opening an image replays a complete journal
//! record that the superblock does not yet cover, so an acknowledged write is never lost and
//! a torn one is either finished (its journal record is whole) or never happened.

use super::crypto::sha256;
use super::owner::FileOwner;
use super::MAX_WRITE_BLOCKS;
use super::{check_range, RpmbKey, RpmbMac, RpmbStorage, StorageError, BLOCK_SIZE, MAX_BLOCKS};
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Size of one superblock slot.
const SLOT_SIZE: usize = 512;
/// Offsets of the two superblock slots, a page apart so one torn page cannot hit both.
const SLOT_OFFSETS: [u64; 2] = [0, 4096];
/// Offset of the redo journal.
const JOURNAL_OFFSET: u64 = 8192;
/// Size of the journal record header that precedes its data.
const JOURNAL_HEADER_SIZE: usize = 64;
/// Bytes reserved for the journal: header plus the largest write, rounded up to pages.
const JOURNAL_REGION: u64 = 69632;
/// Offset of block 0.
const DATA_OFFSET: u64 = JOURNAL_OFFSET + JOURNAL_REGION;

const SUPERBLOCK_MAGIC: &[u8; 8] = b"DVRPMBSB";
const JOURNAL_MAGIC: &[u8; 8] = b"DVRPMBJR";
const FORMAT_VERSION: u32 = 1;
const FLAG_KEY_PROGRAMMED: u32 = 1;
/// Superblock bytes covered by its checksum; the SHA-256 follows them.
const SLOT_CHECKED: usize = SLOT_SIZE - 32;

const _: () = assert!(
    JOURNAL_HEADER_SIZE as u64 + MAX_WRITE_BLOCKS as u64 * BLOCK_SIZE as u64 <= JOURNAL_REGION
);

/// The persistent state one superblock slot records.
#[derive(Clone, PartialEq, Eq)]
struct Superblock {
    generation: u64,
    capacity_blocks: u32,
    write_counter: u32,
    key: Option<RpmbKey>,
}

impl Superblock {
    fn encode(&self) -> [u8; SLOT_SIZE] {
        let mut b = [0u8; SLOT_SIZE];
        b[0..8].copy_from_slice(SUPERBLOCK_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        let flags = if self.key.is_some() {
            FLAG_KEY_PROGRAMMED
        } else {
            0
        };
        b[12..16].copy_from_slice(&flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.generation.to_le_bytes());
        b[24..28].copy_from_slice(&self.capacity_blocks.to_le_bytes());
        b[28..32].copy_from_slice(&self.write_counter.to_le_bytes());
        if let Some(key) = &self.key {
            b[32..64].copy_from_slice(key.expose());
        }
        let sum = sha256(&[&b[..SLOT_CHECKED]]);
        b[SLOT_CHECKED..].copy_from_slice(&sum);
        b
    }

    /// Decodes a slot; `None` if it is torn, blank or from another format.
    fn decode(b: &[u8; SLOT_SIZE]) -> Option<Self> {
        if &b[0..8] != SUPERBLOCK_MAGIC || sha256(&[&b[..SLOT_CHECKED]])[..] != b[SLOT_CHECKED..] {
            return None;
        }
        if le_u32(&b[8..12]) != FORMAT_VERSION {
            return None;
        }
        let flags = le_u32(&b[12..16]);
        let key = if flags & FLAG_KEY_PROGRAMMED != 0 {
            let mut raw = [0u8; 32];
            raw.copy_from_slice(&b[32..64]);
            Some(RpmbKey::new(raw))
        } else {
            None
        };
        Some(Self {
            generation: le_u64(&b[16..24]),
            capacity_blocks: le_u32(&b[24..28]),
            write_counter: le_u32(&b[28..32]),
            key,
        })
    }
}

/// A journal record's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JournalHeader {
    seq: u64,
    address: u16,
    blocks: u16,
    new_counter: u32,
}

impl JournalHeader {
    fn encode(&self, data: &[u8]) -> Vec<u8> {
        let mut rec = vec![0u8; JOURNAL_HEADER_SIZE + data.len()];
        rec[0..8].copy_from_slice(JOURNAL_MAGIC);
        rec[8..16].copy_from_slice(&self.seq.to_le_bytes());
        rec[16..18].copy_from_slice(&self.address.to_le_bytes());
        rec[18..20].copy_from_slice(&self.blocks.to_le_bytes());
        rec[20..24].copy_from_slice(&self.new_counter.to_le_bytes());
        rec[JOURNAL_HEADER_SIZE..].copy_from_slice(data);
        let sum = journal_checksum(&rec[..32], data);
        rec[32..64].copy_from_slice(&sum);
        rec
    }

    fn decode(h: &[u8; JOURNAL_HEADER_SIZE]) -> Option<Self> {
        if &h[0..8] != JOURNAL_MAGIC {
            return None;
        }
        Some(Self {
            seq: le_u64(&h[8..16]),
            address: u16::from_le_bytes([h[16], h[17]]),
            blocks: u16::from_le_bytes([h[18], h[19]]),
            new_counter: le_u32(&h[20..24]),
        })
    }
}

fn journal_checksum(header: &[u8], data: &[u8]) -> [u8; 32] {
    sha256(&[header, data])
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Where a simulated crash stops a write (tests only).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    /// After the journal record is durable, before the data is written in place.
    AfterJournal,
    /// After the data is written in place, before the superblock commit.
    AfterData,
}

/// What opening an image found and did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The image was consistent.
    Clean,
    /// A journalled write that was durable but not committed was replayed and committed.
    Replayed {
        /// The write counter after the replay.
        write_counter: u32,
    },
}

/// An RPMB partition persisted in an image file, crash-safe; the file is locked while open.
pub struct FileRpmb {
    file: Flock<File>,
    path: PathBuf,
    sb: Superblock,
    /// Slot holding `sb`; the next commit goes to the other one.
    current_slot: usize,
    /// Set when an I/O error left memory possibly out of step with the disk.
    stale: bool,
    recovery: Recovery,
    #[cfg(test)]
    crash_at: Option<CrashPoint>,
}

impl std::fmt::Debug for FileRpmb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRpmb")
            .field("path", &self.path)
            .field("capacity_blocks", &self.sb.capacity_blocks)
            .field("key_programmed", &self.sb.key.is_some())
            .field("write_counter", &self.sb.write_counter)
            .field("generation", &self.sb.generation)
            .finish()
    }
}

impl FileRpmb {
    /// Creates a blank image (no key, counter 0, zeroed blocks) at `path`, which must not
    /// exist, owned by the process's user. The image appears atomically: it is built under a
    /// temporary name, then linked.
    pub fn create(path: &Path, capacity_blocks: u32) -> Result<Self, StorageError> {
        Self::create_for(path, capacity_blocks, &FileOwner::process())
    }

    /// [`FileRpmb::create`] with the image given to `owner` (mode 0600) before it appears
    /// at `path`.
    pub fn create_for(
        path: &Path,
        capacity_blocks: u32,
        owner: &FileOwner,
    ) -> Result<Self, StorageError> {
        if capacity_blocks == 0 || capacity_blocks > MAX_BLOCKS {
            return Err(StorageError::Geometry(format!(
                "capacity of {capacity_blocks} blocks is outside 1..={MAX_BLOCKS}"
            )));
        }
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists", path.display()),
            )));
        }
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".creating");
        let tmp = PathBuf::from(tmp_name);
        // A leftover from a crash during an earlier create holds nothing acknowledged.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        // The image holds the key: readable by its owner only. O_EXCL: never through a
        // symlink, never someone else's file.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        let built = Self::format(&file, capacity_blocks, owner);
        drop(file);
        if let Err(e) = built {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // A hard link, unlike rename, never replaces an image (and its key) that appeared
        // at `path` meanwhile.
        let linked = std::fs::hard_link(&tmp, path);
        std::fs::remove_file(&tmp)?;
        linked?;
        sync_parent_dir(path)?;
        Self::open_for(path, owner)
    }

    /// Writes a blank image's superblocks into the new `file` and gives it to `owner`, all
    /// made durable by one fsync before the caller links it into place.
    fn format(file: &File, capacity_blocks: u32, owner: &FileOwner) -> Result<(), StorageError> {
        file.set_len(DATA_OFFSET + u64::from(capacity_blocks) * BLOCK_SIZE as u64)?;
        let sb = Superblock {
            generation: 0,
            capacity_blocks,
            write_counter: 0,
            key: None,
        };
        let encoded = sb.encode();
        for offset in SLOT_OFFSETS {
            file.write_all_at(&encoded, offset)?;
        }
        owner.give(file).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot give it to the service's user: {e}"),
            )
        })?;
        file.sync_all()?;
        Ok(())
    }

    /// Opens an existing image owned by the process's user, replaying a durable but
    /// uncommitted write if there is one.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_for(path, &FileOwner::process())
    }

    /// [`FileRpmb::open`] of an image that must be `owner`'s (see [`super::owner`]): it is
    /// refused, unread and unwritten, if another user owns it.
    pub fn open_for(path: &Path, owner: &FileOwner) -> Result<Self, StorageError> {
        // Never through a symlink: one planted at the image path would have the service
        // write (and keep a key in) whatever file it points to.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| {
                let e = super::refuse_symlink(e);
                std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
            })?;
        if let Err(foreign) = owner.check(&file)? {
            return Err(StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{}: {foreign}", path.display()),
            )));
        }
        let file = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            StorageError::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("{} is in use by another process: {errno}", path.display()),
            ))
        })?;
        let (sb, current_slot) = read_superblock(&file)?;
        let mut this = Self {
            file,
            path: path.to_owned(),
            sb,
            current_slot,
            stale: false,
            recovery: Recovery::Clean,
            #[cfg(test)]
            crash_at: None,
        };
        this.recover()?;
        Ok(this)
    }

    /// Opens `path` if it exists (its capacity must be `capacity_blocks`), else creates it;
    /// for the process's user.
    pub fn open_or_create(path: &Path, capacity_blocks: u32) -> Result<Self, StorageError> {
        Self::open_or_create_for(path, capacity_blocks, &FileOwner::process())
    }

    /// [`FileRpmb::open_or_create`] for `owner`: an existing image must be its, a new one
    /// is given to it before it appears.
    pub fn open_or_create_for(
        path: &Path,
        capacity_blocks: u32,
        owner: &FileOwner,
    ) -> Result<Self, StorageError> {
        if std::fs::symlink_metadata(path).is_err() {
            return Self::create_for(path, capacity_blocks, owner);
        }
        let this = Self::open_for(path, owner)?;
        if this.sb.capacity_blocks != capacity_blocks {
            return Err(StorageError::Geometry(format!(
                "{} holds {} blocks, configured {capacity_blocks}",
                path.display(),
                this.sb.capacity_blocks
            )));
        }
        Ok(this)
    }

    /// What opening the image found.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// The image file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg(test)]
    pub(crate) fn crash_at(&mut self, point: CrashPoint) {
        self.crash_at = Some(point);
    }

    /// Checks the file size and replays the journal record the superblock does not cover.
    fn recover(&mut self) -> Result<(), StorageError> {
        let need = DATA_OFFSET + u64::from(self.sb.capacity_blocks) * BLOCK_SIZE as u64;
        let len = self.file.metadata()?.len();
        if len < need {
            return Err(StorageError::Corrupt(format!(
                "file is {len} bytes, its superblock needs {need}"
            )));
        }
        if self.sb.capacity_blocks == 0 || self.sb.capacity_blocks > MAX_BLOCKS {
            return Err(StorageError::Corrupt(format!(
                "superblock capacity {} blocks",
                self.sb.capacity_blocks
            )));
        }
        let Some((header, data)) = self.read_journal()? else {
            return Ok(());
        };
        if header.seq == self.sb.generation && header.new_counter == self.sb.write_counter {
            // The last committed write: its in-place data may not have reached the disk
            // (data and superblock share one fsync), so rewriting it is required and harmless.
            self.write_data(header.address, &data)?;
            self.file.sync_data()?;
        } else if header.seq == self.sb.generation.wrapping_add(1)
            && Some(header.new_counter) == self.sb.write_counter.checked_add(1)
            && self.sb.key.is_some()
        {
            self.write_data(header.address, &data)?;
            let next = Superblock {
                generation: header.seq,
                write_counter: header.new_counter,
                ..self.sb.clone()
            };
            self.commit_superblock(next)?;
            self.recovery = Recovery::Replayed {
                write_counter: header.new_counter,
            };
            log::warn!(
                "rpmb image {}: replayed an interrupted write (counter now {})",
                self.path.display(),
                header.new_counter
            );
        }
        Ok(())
    }

    /// Reads the journal record if it is whole and its range fits the partition.
    fn read_journal(&self) -> Result<Option<(JournalHeader, Vec<u8>)>, StorageError> {
        let mut raw = [0u8; JOURNAL_HEADER_SIZE];
        self.file.read_exact_at(&mut raw, JOURNAL_OFFSET)?;
        let Some(header) = JournalHeader::decode(&raw) else {
            return Ok(None);
        };
        if header.blocks == 0 || header.blocks > MAX_WRITE_BLOCKS {
            return Ok(None);
        }
        let len = usize::from(header.blocks) * BLOCK_SIZE;
        if check_range(header.address, len, self.sb.capacity_blocks).is_err() {
            return Ok(None);
        }
        let mut data = vec![0u8; len];
        self.file
            .read_exact_at(&mut data, JOURNAL_OFFSET + JOURNAL_HEADER_SIZE as u64)?;
        if journal_checksum(&raw[..32], &data)[..] != raw[32..64] {
            return Ok(None);
        }
        Ok(Some((header, data)))
    }

    fn write_data(&self, address: u16, data: &[u8]) -> Result<(), StorageError> {
        let offset = DATA_OFFSET + u64::from(address) * BLOCK_SIZE as u64;
        self.file.write_all_at(data, offset)?;
        Ok(())
    }

    /// Writes `next` into the slot not holding the current superblock, fsyncs, adopts it.
    fn commit_superblock(&mut self, next: Superblock) -> Result<(), StorageError> {
        let slot = 1 - self.current_slot;
        self.file.write_all_at(&next.encode(), SLOT_OFFSETS[slot])?;
        self.file.sync_data()?;
        self.sb = next;
        self.current_slot = slot;
        Ok(())
    }

    /// Re-reads the on-disk state after an I/O error so memory never claims what the disk
    /// does not hold (or misses what it does).
    fn refresh_if_stale(&mut self) -> Result<(), StorageError> {
        if self.stale {
            let (sb, slot) = read_superblock(&self.file)?;
            self.sb = sb;
            self.current_slot = slot;
            self.recover()?;
            self.stale = false;
        }
        Ok(())
    }

    fn journalled_write(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError> {
        let blocks = data.len() / BLOCK_SIZE;
        let blocks = u16::try_from(blocks)
            .ok()
            .filter(|&b| b <= MAX_WRITE_BLOCKS)
            .ok_or(StorageError::TooManyBlocks(blocks))?;
        let new_counter = self
            .sb
            .write_counter
            .checked_add(1)
            .ok_or(StorageError::CounterExpired)?;
        let header = JournalHeader {
            seq: self.sb.generation.wrapping_add(1),
            address,
            blocks,
            new_counter,
        };
        self.file
            .write_all_at(&header.encode(data), JOURNAL_OFFSET)?;
        self.file.sync_data()?;
        #[cfg(test)]
        if self.crash_at == Some(CrashPoint::AfterJournal) {
            return Err(simulated_crash());
        }
        self.write_data(address, data)?;
        #[cfg(test)]
        if self.crash_at == Some(CrashPoint::AfterData) {
            return Err(simulated_crash());
        }
        let next = Superblock {
            generation: header.seq,
            write_counter: new_counter,
            ..self.sb.clone()
        };
        self.commit_superblock(next)?;
        Ok(new_counter)
    }
}

#[cfg(test)]
fn simulated_crash() -> StorageError {
    StorageError::Io(std::io::Error::other("simulated crash"))
}

/// Reads both slots and returns the valid one with the highest generation.
fn read_superblock(file: &File) -> Result<(Superblock, usize), StorageError> {
    let mut best: Option<(Superblock, usize)> = None;
    for (slot, offset) in SLOT_OFFSETS.iter().enumerate() {
        let mut raw = [0u8; SLOT_SIZE];
        match file.read_exact_at(&mut raw, *offset) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => continue,
            Err(e) => return Err(e.into()),
        }
        if let Some(sb) = Superblock::decode(&raw) {
            let newer = match &best {
                Some((b, _)) => sb.generation > b.generation,
                None => true,
            };
            if newer {
                best = Some((sb, slot));
            }
        }
    }
    best.ok_or_else(|| StorageError::Corrupt("no valid superblock".to_owned()))
}

fn sync_parent_dir(path: &Path) -> Result<(), StorageError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()?;
    Ok(())
}

impl RpmbStorage for FileRpmb {
    fn capacity_blocks(&self) -> u32 {
        self.sb.capacity_blocks
    }

    fn key_programmed(&self) -> bool {
        self.sb.key.is_some()
    }

    fn write_counter(&self) -> u32 {
        self.sb.write_counter
    }

    fn program_key(&mut self, key: &RpmbKey) -> Result<(), StorageError> {
        self.refresh_if_stale()?;
        if self.sb.key.is_some() {
            return Err(StorageError::KeyAlreadyProgrammed);
        }
        let next = Superblock {
            generation: self.sb.generation.wrapping_add(1),
            key: Some(key.clone()),
            ..self.sb.clone()
        };
        self.commit_superblock(next)
            .inspect_err(|_| self.stale = true)
    }

    fn keyed_mac(&self) -> Option<RpmbMac> {
        self.sb.key.as_ref().map(RpmbKey::mac)
    }

    fn read_blocks(&mut self, address: u16, out: &mut [u8]) -> Result<(), StorageError> {
        self.refresh_if_stale()?;
        check_range(address, out.len(), self.sb.capacity_blocks)?;
        let offset = DATA_OFFSET + u64::from(address) * BLOCK_SIZE as u64;
        self.file.read_exact_at(out, offset)?;
        Ok(())
    }

    fn write_blocks(&mut self, address: u16, data: &[u8]) -> Result<u32, StorageError> {
        self.refresh_if_stale()?;
        if self.sb.key.is_none() {
            return Err(StorageError::NoKey);
        }
        if self.sb.write_counter == u32::MAX {
            return Err(StorageError::CounterExpired);
        }
        check_range(address, data.len(), self.sb.capacity_blocks)?;
        self.journalled_write(address, data)
            .inspect_err(|_| self.stale = true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rpmb::test_hmac::hmac_sha256;

    const KEY: [u8; 32] = [0x5a; 32];

    fn image(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("rpmb.img")
    }

    fn keyed(path: &Path, blocks: u32) -> FileRpmb {
        let mut f = FileRpmb::create(path, blocks).unwrap();
        f.program_key(&RpmbKey::new(KEY)).unwrap();
        f
    }

    fn block(fill: u8, n: usize) -> Vec<u8> {
        vec![fill; n * BLOCK_SIZE]
    }

    fn read(f: &mut FileRpmb, address: u16, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n * BLOCK_SIZE];
        f.read_blocks(address, &mut out).unwrap();
        out
    }

    fn corrupt(path: &Path, offset: u64, bytes: &[u8]) {
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(bytes, offset).unwrap();
        f.sync_all().unwrap();
    }

    #[test]
    fn state_survives_reopen_and_matches_the_documented_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 512);
        assert_eq!(f.write_blocks(10, &block(0xa1, 2)).unwrap(), 1);
        assert_eq!(f.write_blocks(511, &block(0xb2, 1)).unwrap(), 2);
        drop(f);

        let raw = std::fs::read(&path).unwrap();
        assert_eq!(raw.len() as u64, 77824 + 512 * 256);
        assert_eq!(
            &raw[77824 + 10 * 256..77824 + 12 * 256],
            &block(0xa1, 2)[..]
        );
        // Generation 3 (key, write, write) lives in slot 1 (0 -> 1 -> 0 -> 1).
        assert_eq!(&raw[4096..4104], b"DVRPMBSB");
        assert_eq!(le_u64(&raw[4096 + 16..]), 3);
        assert_eq!(le_u32(&raw[4096 + 28..]), 2);
        assert_eq!(&raw[8192..8200], b"DVRPMBJR");

        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Clean);
        assert!(f.key_programmed());
        assert_eq!(f.write_counter(), 2);
        assert_eq!(f.capacity_blocks(), 512);
        assert_eq!(read(&mut f, 10, 2), block(0xa1, 2));
        assert_eq!(read(&mut f, 511, 1), block(0xb2, 1));
        assert_eq!(read(&mut f, 0, 1), block(0, 1));
        assert!(matches!(
            f.program_key(&RpmbKey::new([1; 32])),
            Err(StorageError::KeyAlreadyProgrammed)
        ));
        // The stored key is the programmed one: its MAC matches a MAC keyed independently.
        let mut ours = f.keyed_mac().unwrap();
        ours.update(b"abc");
        assert_eq!(ours.finalize(), hmac_sha256(&KEY, b"abc"));
    }

    #[test]
    fn a_symlink_at_the_image_path_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let path = image(&dir);
        std::os::unix::fs::symlink(&target, &path).unwrap();
        for result in [
            FileRpmb::open(&path),
            FileRpmb::open_or_create(&path, 1024),
            FileRpmb::create(&path, 1024),
        ] {
            assert!(result.is_err());
        }
        let e = FileRpmb::open(&path).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // Dangling: still not followed into creating the target.
        std::fs::remove_file(&target).unwrap();
        assert!(FileRpmb::open_or_create(&path, 1024).is_err());
        assert!(!target.exists());
        std::fs::write(&target, b"precious").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn an_image_another_user_owns_is_refused_unread_unless_shared_dirs_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 16);
        f.crash_at(CrashPoint::AfterJournal);
        assert!(f.write_blocks(0, &block(0x12, 1)).is_err());
        drop(f);
        let before = std::fs::read(&path).unwrap();
        // To a service running as someone else, this image is another user's.
        let me = FileOwner::process();
        let service = FileOwner {
            uid: me.uid.wrapping_add(1),
            ..me
        };
        for result in [
            FileRpmb::open_for(&path, &service),
            FileRpmb::open_or_create_for(&path, 16, &service),
        ] {
            let e = result.unwrap_err().to_string();
            assert!(
                e.contains(&path.display().to_string())
                    && e.contains(&format!("owned by uid {}", me.uid))
                    && e.contains("service.user"),
                "{e}"
            );
        }
        // Not even the torn write was replayed into it.
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let shared = FileOwner {
            accept_others: true,
            ..service
        };
        let f = FileRpmb::open_for(&path, &shared).unwrap();
        assert_eq!(f.recovery(), Recovery::Replayed { write_counter: 1 });
    }

    #[test]
    fn as_root_a_new_image_is_born_the_service_users() {
        use std::os::unix::fs::MetadataExt;
        if !nix::unistd::geteuid().is_root() {
            crate::harness::skip::skipped("giving an RPMB image to another user", "needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let nobody = FileOwner {
            uid: 65534,
            gid: 65534,
            accept_others: false,
        };
        let mut f = FileRpmb::open_or_create_for(&path, 8, &nobody).unwrap();
        f.program_key(&RpmbKey::new(KEY)).unwrap();
        drop(f);
        let st = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (st.uid(), st.gid(), st.mode() & 0o7777, st.nlink()),
            (65534, 65534, 0o600, 1)
        );
        assert!(FileRpmb::open_for(&path, &nobody).unwrap().key_programmed());
        // Root's own image, as a release before this one left it, is refused, not chowned.
        let old = dir.path().join("old.img");
        drop(FileRpmb::create(&old, 8).unwrap());
        let e = FileRpmb::open_or_create_for(&old, 8, &nobody).unwrap_err();
        assert!(e.to_string().contains("owned by uid 0"), "{e}");
        assert_eq!(std::fs::metadata(&old).unwrap().uid(), 0);
    }

    #[test]
    fn create_open_and_geometry_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        assert!(matches!(
            FileRpmb::create(&path, 0),
            Err(StorageError::Geometry(_))
        ));
        assert!(matches!(
            FileRpmb::create(&path, MAX_BLOCKS + 1),
            Err(StorageError::Geometry(_))
        ));
        assert!(FileRpmb::open(&path).is_err());
        let f = FileRpmb::open_or_create(&path, 1024).unwrap();
        assert!(!f.key_programmed());
        assert_eq!(f.write_counter(), 0);
        // A second opener is refused while the first holds the lock.
        assert!(FileRpmb::open(&path).is_err());
        drop(f);
        assert!(FileRpmb::create(&path, 1024).is_err());
        assert!(matches!(
            FileRpmb::open_or_create(&path, 512),
            Err(StorageError::Geometry(_))
        ));
        assert_eq!(
            FileRpmb::open_or_create(&path, 1024)
                .unwrap()
                .capacity_blocks(),
            1024
        );
        assert!(!dir.path().join("rpmb.img.creating").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "image must not be group/other accessible");
    }

    #[test]
    fn range_key_and_size_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = FileRpmb::create(&path, 4).unwrap();
        assert!(matches!(
            f.write_blocks(0, &block(1, 1)),
            Err(StorageError::NoKey)
        ));
        f.program_key(&RpmbKey::new(KEY)).unwrap();
        assert!(matches!(
            f.write_blocks(3, &block(1, 2)),
            Err(StorageError::OutOfRange { .. })
        ));
        assert!(matches!(
            f.write_blocks(0, &[1; 100]),
            Err(StorageError::OutOfRange { .. })
        ));
        let mut big = FileRpmb::create(&dir.path().join("big.img"), 1024).unwrap();
        big.program_key(&RpmbKey::new(KEY)).unwrap();
        assert!(matches!(
            big.write_blocks(0, &block(1, 256)),
            Err(StorageError::TooManyBlocks(256))
        ));
        assert_eq!(big.write_blocks(0, &block(1, 255)).unwrap(), 1);
        assert_eq!(f.write_counter(), 0);
    }

    #[test]
    fn crash_after_journal_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.write_blocks(4, &block(0x11, 2)).unwrap();
        f.crash_at(CrashPoint::AfterJournal);
        assert!(f.write_blocks(4, &block(0x22, 2)).is_err());
        drop(f);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Replayed { write_counter: 2 });
        assert_eq!(f.write_counter(), 2);
        assert_eq!(read(&mut f, 4, 2), block(0x22, 2));
        drop(f);
        let f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Clean);
        assert_eq!(f.write_counter(), 2);
    }

    #[test]
    fn crash_after_data_is_completed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.crash_at(CrashPoint::AfterData);
        assert!(f.write_blocks(0, &block(0x33, 3)).is_err());
        drop(f);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Replayed { write_counter: 1 });
        assert_eq!(read(&mut f, 0, 3), block(0x33, 3));
    }

    #[test]
    fn torn_journal_record_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.write_blocks(8, &block(0x44, 2)).unwrap();
        f.crash_at(CrashPoint::AfterJournal);
        assert!(f.write_blocks(8, &block(0x55, 2)).is_err());
        drop(f);
        // Tear the record: its second block never reached the disk.
        let second_block = JOURNAL_OFFSET + JOURNAL_HEADER_SIZE as u64 + BLOCK_SIZE as u64;
        corrupt(&path, second_block, &[0u8; BLOCK_SIZE]);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Clean);
        assert_eq!(f.write_counter(), 1);
        assert_eq!(read(&mut f, 8, 2), block(0x44, 2));
        // And the device keeps working after the rollback.
        assert_eq!(f.write_blocks(8, &block(0x66, 1)).unwrap(), 2);
        drop(f);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.write_counter(), 2);
        assert_eq!(
            read(&mut f, 8, 2),
            [block(0x66, 1), block(0x44, 1)].concat()
        );
    }

    #[test]
    fn torn_journal_header_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.crash_at(CrashPoint::AfterJournal);
        assert!(f.write_blocks(1, &block(0x77, 1)).is_err());
        drop(f);
        corrupt(&path, JOURNAL_OFFSET + 20, &[0xff]);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Clean);
        assert_eq!(f.write_counter(), 0);
        assert_eq!(read(&mut f, 1, 1), block(0, 1));
    }

    #[test]
    fn torn_superblock_falls_back_and_replays_the_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.write_blocks(2, &block(0x88, 1)).unwrap();
        let slot = f.current_slot;
        drop(f);
        // The commit of the acknowledged write tears (its checksum no longer matches).
        corrupt(&path, SLOT_OFFSETS[slot] + 28, &[0xee]);
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.recovery(), Recovery::Replayed { write_counter: 1 });
        assert_eq!(f.write_counter(), 1);
        assert!(f.key_programmed());
        assert_eq!(read(&mut f, 2, 1), block(0x88, 1));
    }

    #[test]
    fn torn_key_programming_leaves_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = FileRpmb::create(&path, 8).unwrap();
        f.program_key(&RpmbKey::new(KEY)).unwrap();
        let slot = f.current_slot;
        drop(f);
        corrupt(&path, SLOT_OFFSETS[slot] + 40, &[0x00, 0x01]);
        let f = FileRpmb::open(&path).unwrap();
        assert!(!f.key_programmed());
        assert_eq!(f.write_counter(), 0);
    }

    #[test]
    fn committed_write_whose_data_was_lost_is_rewritten_from_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 64);
        f.write_blocks(5, &block(0x99, 2)).unwrap();
        drop(f);
        // Superblock durable, in-place data not (they share one fsync).
        corrupt(&path, DATA_OFFSET + 5 * BLOCK_SIZE as u64, &block(0, 2));
        let mut f = FileRpmb::open(&path).unwrap();
        assert_eq!(f.write_counter(), 1);
        assert_eq!(read(&mut f, 5, 2), block(0x99, 2));
    }

    #[test]
    fn both_superblocks_torn_or_short_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        drop(keyed(&path, 64));
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(DATA_OFFSET + 10).unwrap();
        drop(f);
        assert!(matches!(
            FileRpmb::open(&path),
            Err(StorageError::Corrupt(_))
        ));
        corrupt(&path, 0, &[0; 8]);
        corrupt(&path, 4096, &[0; 8]);
        assert!(matches!(
            FileRpmb::open(&path),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn counter_equals_writes_across_many_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 16);
        let mut expected = [0u8; 16];
        for i in 0..24u8 {
            let address = u16::from(i % 16);
            match i % 3 {
                0 => f.crash_at(CrashPoint::AfterJournal),
                1 => f.crash_at(CrashPoint::AfterData),
                _ => {}
            }
            let acked = f.write_blocks(address, &block(i + 1, 1)).is_ok();
            assert_eq!(acked, i % 3 == 2);
            expected[usize::from(address)] = i + 1;
            drop(f);
            f = FileRpmb::open(&path).unwrap();
            // Every write reached its journal fsync, so each one is durable exactly once.
            assert_eq!(f.write_counter(), u32::from(i) + 1);
        }
        for (address, fill) in expected.iter().enumerate() {
            assert_eq!(read(&mut f, address as u16, 1), block(*fill, 1));
        }
    }

    #[test]
    fn io_error_mid_write_resynchronises_before_the_next_operation() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let mut f = keyed(&path, 16);
        f.crash_at(CrashPoint::AfterData);
        assert!(f.write_blocks(0, &block(1, 1)).is_err());
        f.crash_at = None;
        // The failed write was durable in the journal; the next write must count after it.
        assert_eq!(f.write_blocks(1, &block(2, 1)).unwrap(), 2);
        assert_eq!(read(&mut f, 0, 2), [block(1, 1), block(2, 1)].concat());
    }

    #[test]
    fn debug_output_never_contains_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = image(&dir);
        let f = keyed(&path, 8);
        let text = format!("{f:?}");
        assert!(text.contains("key_programmed: true"), "{text}");
        assert!(!text.contains("90"), "{text}");
    }
}
