//! eMMC RPMB through the MMC block driver's `MMC_IOC_MULTI_CMD` on `/dev/mmcblkNrpmb`.
//!
//! One frame sequence is one ioctl of up to three commands, as Trusty's `storageproxyd`
//! issues them: CMD25 with the reliable-write flag for the request frames of a write or key
//! programming, CMD25 for a plain request (read, counter, result read), CMD18 for the
//! responses. The kernel wraps each in CMD23 (SET_BLOCK_COUNT, bit 31 from the reliable
//! flag) and keeps the sequence atomic with respect to other RPMB users.
//! Layouts follow `include/uapi/linux/mmc/ioctl.h`; the unit tests pin them.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use super::frames::{flatten, unflatten, FrameIoError, RawFrame, RpmbFrameDevice, FRAME_BYTES};

/// The MMC block driver's major number, the ioctl type of its commands.
pub const MMC_BLOCK_MAJOR: u32 = 179;
/// `_IOWR(MMC_BLOCK_MAJOR, 0, struct mmc_ioc_cmd)`.
pub const MMC_IOC_CMD: u32 = iowr(MMC_BLOCK_MAJOR, 0, std::mem::size_of::<MmcIocCmd>());
/// `_IOWR(MMC_BLOCK_MAJOR, 1, struct mmc_ioc_multi_cmd)`.
pub const MMC_IOC_MULTI_CMD: u32 = iowr(MMC_BLOCK_MAJOR, 1, std::mem::size_of::<u64>());
/// Most commands one `MMC_IOC_MULTI_CMD` carries.
pub const MMC_IOC_MAX_CMDS: usize = 255;

/// READ_MULTIPLE_BLOCK.
pub const MMC_READ_MULTIPLE_BLOCK: u32 = 18;
/// WRITE_MULTIPLE_BLOCK.
pub const MMC_WRITE_MULTIPLE_BLOCK: u32 = 25;
/// `write_flag` bit that makes the kernel set the reliable-write bit of CMD23.
pub const MMC_RELIABLE_WRITE_FLAG: i32 = i32::MIN;
/// `write_flag` of a read.
pub const MMC_WRITE_FLAG_R: i32 = 0;
/// `write_flag` of a plain write.
pub const MMC_WRITE_FLAG_W: i32 = 1;
/// `write_flag` of a reliable write.
pub const MMC_WRITE_FLAG_RELW: i32 = MMC_WRITE_FLAG_W | MMC_RELIABLE_WRITE_FLAG;
/// Response type R1 (present, CRC, opcode) plus SPI R1 and "addressed data transfer".
pub const MMC_RPMB_CMD_FLAGS: u32 = MMC_RSP_SPI_S1 | MMC_RSP_R1 | MMC_CMD_ADTC;
const MMC_RSP_PRESENT: u32 = 1 << 0;
const MMC_RSP_CRC: u32 = 1 << 2;
const MMC_RSP_OPCODE: u32 = 1 << 4;
const MMC_CMD_ADTC: u32 = 1 << 5;
const MMC_RSP_SPI_S1: u32 = 1 << 7;
const MMC_RSP_R1: u32 = MMC_RSP_PRESENT | MMC_RSP_CRC | MMC_RSP_OPCODE;
/// eMMC data block size; one RPMB frame per block.
pub const MMC_BLOCK_SIZE: u32 = 512;

/// `_IOWR(type, nr, size)` with the generic Linux encoding (dir 3 in bits 30..32).
const fn iowr(ty: u32, nr: u32, size: usize) -> u32 {
    (3 << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `struct mmc_ioc_cmd`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MmcIocCmd {
    /// Non-zero for a write; bit 31 asks for a reliable write.
    pub write_flag: i32,
    /// Non-zero for an application command (ACMD).
    pub is_acmd: i32,
    /// Command index.
    pub opcode: u32,
    /// Command argument.
    pub arg: u32,
    /// The card's response, filled by the kernel.
    pub response: [u32; 4],
    /// Response and command type flags.
    pub flags: u32,
    /// Data block size.
    pub blksz: u32,
    /// Number of data blocks.
    pub blocks: u32,
    /// Minimum sleep after the command, in microseconds.
    pub postsleep_min_us: u32,
    /// Maximum sleep after the command, in microseconds.
    pub postsleep_max_us: u32,
    /// Data timeout override.
    pub data_timeout_ns: u32,
    /// Command timeout override.
    pub cmd_timeout_ms: u32,
    /// Explicit padding so `data_ptr` is 8-aligned on every ABI.
    pub pad: u32,
    /// User address of the data buffer.
    pub data_ptr: u64,
}

/// `struct mmc_ioc_multi_cmd` with room for the three commands an RPMB sequence needs.
#[repr(C)]
#[derive(Debug, Default)]
struct MmcIocMultiCmd3 {
    num_of_cmds: u64,
    cmds: [MmcIocCmd; 3],
}

/// The data of one command.
#[derive(Debug)]
pub enum MmcData<'a> {
    /// Sent to the card.
    Write(&'a [u8]),
    /// Filled from the card.
    Read(&'a mut [u8]),
}

/// One command of a sequence, before it becomes an [`MmcIocCmd`].
#[derive(Debug)]
pub struct MmcCommand<'a> {
    /// [`MMC_WRITE_FLAG_R`], [`MMC_WRITE_FLAG_W`] or [`MMC_WRITE_FLAG_RELW`].
    pub write_flag: i32,
    /// [`MMC_WRITE_MULTIPLE_BLOCK`] or [`MMC_READ_MULTIPLE_BLOCK`].
    pub opcode: u32,
    /// [`MMC_RPMB_CMD_FLAGS`].
    pub flags: u32,
    /// Number of 512-byte blocks.
    pub blocks: u32,
    /// The data.
    pub data: MmcData<'a>,
}

/// Executes a command sequence atomically: the MMC block device, or a fake in tests.
pub trait MmcHost: Send {
    /// Runs `cmds` as one `MMC_IOC_MULTI_CMD`.
    fn multi_cmd(&mut self, cmds: &mut [MmcCommand<'_>]) -> std::io::Result<()>;
}

/// An RPMB partition's block device node (`/dev/mmcblkNrpmb`).
#[derive(Debug)]
pub struct MmcRpmbNode {
    file: File,
}

impl MmcRpmbNode {
    /// Opens the node read-write.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self { file })
    }
}

/// Builds the ioctl argument; the pointers it holds borrow from `cmds`.
fn build_multi(cmds: &mut [MmcCommand<'_>]) -> std::io::Result<MmcIocMultiCmd3> {
    let mut multi = MmcIocMultiCmd3::default();
    if cmds.is_empty() || cmds.len() > multi.cmds.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} commands in one RPMB sequence", cmds.len()),
        ));
    }
    for (raw, cmd) in multi.cmds.iter_mut().zip(cmds.iter_mut()) {
        let (ptr, len) = match &mut cmd.data {
            MmcData::Write(d) => (d.as_ptr() as u64, d.len()),
            MmcData::Read(d) => (d.as_mut_ptr() as u64, d.len()),
        };
        if len != cmd.blocks as usize * MMC_BLOCK_SIZE as usize {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "data length does not match the block count",
            ));
        }
        *raw = MmcIocCmd {
            write_flag: cmd.write_flag,
            opcode: cmd.opcode,
            flags: cmd.flags,
            blksz: MMC_BLOCK_SIZE,
            blocks: cmd.blocks,
            data_ptr: ptr,
            ..MmcIocCmd::default()
        };
    }
    multi.num_of_cmds = cmds.len() as u64;
    Ok(multi)
}

impl MmcHost for MmcRpmbNode {
    fn multi_cmd(&mut self, cmds: &mut [MmcCommand<'_>]) -> std::io::Result<()> {
        let mut multi = build_multi(cmds)?;
        // SAFETY: `multi` is a valid `mmc_ioc_multi_cmd` followed by `num_of_cmds` commands
        // whose data pointers and lengths come from the live, correctly sized slices in
        // `cmds`, which outlive the call; read buffers are exclusively borrowed.
        let rc = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                MMC_IOC_MULTI_CMD as _,
                &mut multi as *mut MmcIocMultiCmd3,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// An eMMC RPMB partition driven through an [`MmcHost`].
#[derive(Debug)]
pub struct EmmcRpmb<H = MmcRpmbNode> {
    host: H,
}

impl EmmcRpmb<MmcRpmbNode> {
    /// Opens `/dev/mmcblkNrpmb` (or wherever `path` points).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self::new(MmcRpmbNode::open(path)?))
    }
}

impl<H: MmcHost> EmmcRpmb<H> {
    /// Drives the partition behind `host`.
    pub fn new(host: H) -> Self {
        Self { host }
    }
}

fn blocks(frames: usize) -> u32 {
    u32::try_from(frames).unwrap_or(u32::MAX)
}

impl<H: MmcHost> RpmbFrameDevice for EmmcRpmb<H> {
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError> {
        let reliable = flatten(reliable_write);
        let plain = flatten(write);
        let mut response = vec![0u8; read.len() * FRAME_BYTES];
        let mut cmds = Vec::with_capacity(3);
        if !reliable.is_empty() {
            cmds.push(MmcCommand {
                write_flag: MMC_WRITE_FLAG_RELW,
                opcode: MMC_WRITE_MULTIPLE_BLOCK,
                flags: MMC_RPMB_CMD_FLAGS,
                blocks: blocks(reliable_write.len()),
                data: MmcData::Write(&reliable),
            });
        }
        if !plain.is_empty() {
            cmds.push(MmcCommand {
                write_flag: MMC_WRITE_FLAG_W,
                opcode: MMC_WRITE_MULTIPLE_BLOCK,
                flags: MMC_RPMB_CMD_FLAGS,
                blocks: blocks(write.len()),
                data: MmcData::Write(&plain),
            });
        }
        if !response.is_empty() {
            cmds.push(MmcCommand {
                write_flag: MMC_WRITE_FLAG_R,
                opcode: MMC_READ_MULTIPLE_BLOCK,
                flags: MMC_RPMB_CMD_FLAGS,
                blocks: blocks(read.len()),
                data: MmcData::Read(&mut response),
            });
        }
        if cmds.is_empty() {
            return Err(FrameIoError::Request("empty sequence".into()));
        }
        self.host
            .multi_cmd(&mut cmds)
            .map_err(|source| FrameIoError::Os {
                what: "MMC_IOC_MULTI_CMD",
                source,
            })?;
        drop(cmds);
        unflatten(&response, read);
        Ok(())
    }
}

#[cfg(test)]
#[path = "emmc_tests.rs"]
mod tests;
