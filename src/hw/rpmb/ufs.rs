//! UFS RPMB through `SG_IO` on the RPMB well-known logical unit's SCSI generic node.
//!
//! Request frames go out with SECURITY PROTOCOL OUT (0xB5) and responses come back with
//! SECURITY PROTOCOL IN (0xA2), security protocol 0xEC (JEDEC UFS), protocol-specific
//! 0x0001 (RPMB region 0), as JESD220 and Trusty's `storageproxyd` use them. A reliable
//! write or a read request that meets a UNIT ATTENTION for power-on/reset (ASC 0x29) is
//! retried once; a result request after a write is not, because the reset lost the result.
//! Layouts follow `include/scsi/sg.h`; the unit tests pin them.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use super::frames::{flatten, unflatten, FrameIoError, RawFrame, RpmbFrameDevice, FRAME_BYTES};

/// The `SG_IO` ioctl.
pub const SG_IO: u32 = 0x2285;
/// `sg_io_hdr.dxfer_direction`: data to the device.
pub const SG_DXFER_TO_DEV: i32 = -2;
/// `sg_io_hdr.dxfer_direction`: data from the device.
pub const SG_DXFER_FROM_DEV: i32 = -3;
/// SECURITY PROTOCOL IN.
pub const SECURITY_PROTOCOL_IN: u8 = 0xa2;
/// SECURITY PROTOCOL OUT.
pub const SECURITY_PROTOCOL_OUT: u8 = 0xb5;
/// Security protocol of JEDEC UFS (RPMB).
pub const SECURITY_PROTOCOL_UFS: u8 = 0xec;
/// Command timeout, milliseconds.
const TIMEOUT_MS: u32 = 30_000;
/// Sense buffer size.
const SENSE_LEN: usize = 32;
/// Sense key UNIT ATTENTION.
const SENSE_UNIT_ATTENTION: u8 = 0x6;
/// ASC of "power on, reset, or bus device reset occurred".
const ASC_POWER_ON_RESET: u8 = 0x29;

/// `struct sg_io_hdr` (`sg_io_hdr_t`) as laid out on LP64.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SgIoHdr {
    /// Always `'S'`.
    pub interface_id: i32,
    /// One of the `SG_DXFER_*` values.
    pub dxfer_direction: i32,
    /// CDB length.
    pub cmd_len: u8,
    /// Sense buffer size.
    pub mx_sb_len: u8,
    /// 0: `dxferp` is a plain buffer.
    pub iovec_count: u16,
    /// Data length.
    pub dxfer_len: u32,
    /// Data buffer.
    pub dxferp: *mut libc::c_void,
    /// CDB.
    pub cmdp: *const u8,
    /// Sense buffer.
    pub sbp: *mut u8,
    /// Timeout in milliseconds.
    pub timeout: u32,
    /// `SG_FLAG_*`.
    pub flags: u32,
    /// Unused by the kernel.
    pub pack_id: i32,
    /// Unused by the kernel.
    pub usr_ptr: *mut libc::c_void,
    /// SCSI status.
    pub status: u8,
    /// Status shifted and masked.
    pub masked_status: u8,
    /// Messaging status.
    pub msg_status: u8,
    /// Sense bytes written.
    pub sb_len_wr: u8,
    /// Host adapter status.
    pub host_status: u16,
    /// Driver status.
    pub driver_status: u16,
    /// Bytes not transferred.
    pub resid: i32,
    /// Duration in milliseconds.
    pub duration: u32,
    /// `SG_INFO_*`.
    pub info: u32,
}

/// The 12-byte SECURITY PROTOCOL IN/OUT CDB for RPMB region 0 and `len` bytes.
pub fn security_cdb(opcode: u8, len: u32) -> [u8; 12] {
    let l = len.to_be_bytes();
    [
        opcode,
        SECURITY_PROTOCOL_UFS,
        0x00,
        0x01,
        0x00,
        0x00,
        l[0],
        l[1],
        l[2],
        l[3],
        0x00,
        0x00,
    ]
}

/// The data of one SCSI command.
#[derive(Debug)]
pub enum ScsiData<'a> {
    /// Sent to the device.
    ToDevice(&'a [u8]),
    /// Filled by the device.
    FromDevice(&'a mut [u8]),
}

/// How a SCSI command completed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScsiOutcome {
    /// SCSI status byte.
    pub status: u8,
    /// Host adapter status.
    pub host_status: u16,
    /// Driver status.
    pub driver_status: u16,
    /// Sense data the device returned.
    pub sense: Vec<u8>,
}

/// What to do after a command.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    Retry,
    Fail(u8),
}

impl ScsiOutcome {
    fn sense_key_and_asc(&self) -> (u8, u8) {
        let s = &self.sense;
        let code = s.first().map_or(0, |b| b & 0x7f);
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        match code {
            // Descriptor format (SPC 4.4.2).
            0x72 | 0x73 => (at(1) & 0xf, at(2)),
            // Fixed format (SPC 4.4.3).
            0x70 | 0x71 => (at(2) & 0xf, at(12)),
            _ => (0xff, 0),
        }
    }

    fn verdict(&self) -> Verdict {
        if self.status == 0 && self.host_status == 0 && self.driver_status == 0 {
            return Verdict::Ok;
        }
        let (key, asc) = self.sense_key_and_asc();
        match key {
            // NO SENSE and COMPLETED carry information, not an error.
            0x0 | 0xf => Verdict::Ok,
            SENSE_UNIT_ATTENTION if asc == ASC_POWER_ON_RESET => Verdict::Retry,
            _ => Verdict::Fail(if key == 0xff { 0 } else { key }),
        }
    }
}

/// Executes SCSI commands: the sg node, or a fake in tests.
pub trait ScsiHost: Send {
    /// Runs one command with `cdb` and `data`.
    fn execute(&mut self, cdb: &[u8; 12], data: ScsiData<'_>) -> std::io::Result<ScsiOutcome>;
}

/// The RPMB well-known LU's SCSI generic node (`/dev/sgN`, or a bsg node).
#[derive(Debug)]
pub struct SgNode {
    file: File,
}

impl SgNode {
    /// Opens the node read-write.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Self { file })
    }
}

/// Builds the `SG_IO` header; its pointers borrow from the arguments.
fn build_hdr(cdb: &[u8; 12], data: &mut ScsiData<'_>, sense: &mut [u8; SENSE_LEN]) -> SgIoHdr {
    let (direction, ptr, len) = match data {
        ScsiData::ToDevice(d) => (SG_DXFER_TO_DEV, d.as_ptr() as *mut libc::c_void, d.len()),
        ScsiData::FromDevice(d) => (
            SG_DXFER_FROM_DEV,
            d.as_mut_ptr() as *mut libc::c_void,
            d.len(),
        ),
    };
    SgIoHdr {
        interface_id: i32::from(b'S'),
        dxfer_direction: direction,
        cmd_len: cdb.len() as u8,
        mx_sb_len: SENSE_LEN as u8,
        iovec_count: 0,
        dxfer_len: u32::try_from(len).unwrap_or(u32::MAX),
        dxferp: ptr,
        cmdp: cdb.as_ptr(),
        sbp: sense.as_mut_ptr(),
        timeout: TIMEOUT_MS,
        flags: 0,
        pack_id: 0,
        usr_ptr: std::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    }
}

impl ScsiHost for SgNode {
    fn execute(&mut self, cdb: &[u8; 12], mut data: ScsiData<'_>) -> std::io::Result<ScsiOutcome> {
        let mut sense = [0u8; SENSE_LEN];
        let mut hdr = build_hdr(cdb, &mut data, &mut sense);
        // SAFETY: `hdr` is a valid sg_io_hdr whose CDB, data and sense pointers refer to
        // live buffers of the stated lengths (`cdb`, `data`, `sense`) that outlive the
        // call; the data buffer of a read is exclusively borrowed.
        let rc =
            unsafe { libc::ioctl(self.file.as_raw_fd(), SG_IO as _, &mut hdr as *mut SgIoHdr) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let written = usize::from(hdr.sb_len_wr).min(SENSE_LEN);
        Ok(ScsiOutcome {
            status: hdr.status,
            host_status: hdr.host_status,
            driver_status: hdr.driver_status,
            sense: sense[..written].to_vec(),
        })
    }
}

/// A UFS RPMB well-known LU driven through a [`ScsiHost`].
#[derive(Debug)]
pub struct UfsRpmb<H = SgNode> {
    host: H,
}

impl UfsRpmb<SgNode> {
    /// Opens the RPMB LU's sg node at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self::new(SgNode::open(path)?))
    }
}

impl<H: ScsiHost> UfsRpmb<H> {
    /// Drives the LU behind `host`.
    pub fn new(host: H) -> Self {
        Self { host }
    }

    fn run(
        &mut self,
        what: &'static str,
        opcode: u8,
        mut data: ScsiData<'_>,
        retries: u32,
    ) -> Result<(), FrameIoError> {
        let len = match &data {
            ScsiData::ToDevice(d) => d.len(),
            ScsiData::FromDevice(d) => d.len(),
        };
        let cdb = security_cdb(opcode, u32::try_from(len).unwrap_or(u32::MAX));
        let mut left = retries;
        loop {
            let reborrowed = match &mut data {
                ScsiData::ToDevice(d) => ScsiData::ToDevice(d),
                ScsiData::FromDevice(d) => ScsiData::FromDevice(d),
            };
            let outcome = self
                .host
                .execute(&cdb, reborrowed)
                .map_err(|source| FrameIoError::Os { what, source })?;
            match outcome.verdict() {
                Verdict::Ok => return Ok(()),
                Verdict::Retry if left > 0 => left -= 1,
                Verdict::Retry | Verdict::Fail(_) => {
                    let sense_key = match outcome.verdict() {
                        Verdict::Fail(k) => k,
                        _ => SENSE_UNIT_ATTENTION,
                    };
                    return Err(FrameIoError::Scsi {
                        what,
                        status: outcome.status,
                        host: outcome.host_status,
                        driver: outcome.driver_status,
                        sense_key,
                    });
                }
            }
        }
    }
}

impl<H: ScsiHost> RpmbFrameDevice for UfsRpmb<H> {
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError> {
        if reliable_write.is_empty() && write.is_empty() && read.is_empty() {
            return Err(FrameIoError::Request("empty sequence".into()));
        }
        if !reliable_write.is_empty() {
            let out = flatten(reliable_write);
            self.run(
                "SECURITY PROTOCOL OUT (write)",
                SECURITY_PROTOCOL_OUT,
                ScsiData::ToDevice(&out),
                1,
            )?;
        }
        if !write.is_empty() {
            let out = flatten(write);
            let retries = if reliable_write.is_empty() { 1 } else { 0 };
            self.run(
                "SECURITY PROTOCOL OUT (request)",
                SECURITY_PROTOCOL_OUT,
                ScsiData::ToDevice(&out),
                retries,
            )?;
        }
        if !read.is_empty() {
            let mut response = vec![0u8; read.len() * FRAME_BYTES];
            self.run(
                "SECURITY PROTOCOL IN",
                SECURITY_PROTOCOL_IN,
                ScsiData::FromDevice(&mut response),
                0,
            )?;
            unflatten(&response, read);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ufs_tests.rs"]
mod tests;
