//! Frame-level access to a physical RPMB: the interface real hardware offers.
//!
//! An eMMC or UFS part computes and checks MACs itself with a key the host never reads back,
//! so the host cannot use it as an [`super::RpmbStorage`] (which holds the key). What the
//! host can do is what Trusty's `storageproxyd` does: send a reliable write of request
//! frames, a plain write of request frames, and read response frames, as one sequence
//! (`rpmb_send` with `reliable_write_size`, `write_size`, `read_size`). [`RpmbFrameDevice`]
//! is that operation; the per-guest multiplexer in `devices::rpmb` drives it with the
//! device key.

/// Bytes in one RPMB frame.
pub const FRAME_BYTES: usize = 512;

/// One 512-byte RPMB frame as it travels to and from the device.
pub type RawFrame = [u8; FRAME_BYTES];

/// Why a frame exchange with a physical RPMB failed.
#[derive(Debug, thiserror::Error)]
pub enum FrameIoError {
    /// The kernel refused or failed the request.
    #[error("{what}: {source}")]
    Os {
        /// The call, e.g. `MMC_IOC_MULTI_CMD`.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A SCSI command completed with an error status.
    #[error(
        "SCSI {what} failed: status {status:#04x}, host {host:#06x}, driver {driver:#06x}, \
         sense key {sense_key:#x}"
    )]
    Scsi {
        /// Which command.
        what: &'static str,
        /// SCSI status byte.
        status: u8,
        /// Host adapter status.
        host: u16,
        /// Driver status.
        driver: u16,
        /// Sense key from the sense data, 0 when none.
        sense_key: u8,
    },
    /// The sequence is empty or larger than the device interface can carry.
    #[error("invalid frame sequence: {0}")]
    Request(String),
}

/// A physical RPMB that executes frame sequences (eMMC, UFS, or a simulated part).
pub trait RpmbFrameDevice: Send {
    /// Sends `reliable_write` frames with reliable-write semantics (an authenticated write
    /// or key programming), then `write` frames (a read, counter or result request), then
    /// reads `read.len()` response frames into `read`. Any of the three may be empty.
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError>;
}

impl<T: RpmbFrameDevice + ?Sized> RpmbFrameDevice for Box<T> {
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError> {
        (**self).send(reliable_write, write, read)
    }
}

/// Flattens frames into one contiguous buffer, as the kernel interfaces take them.
pub(crate) fn flatten(frames: &[RawFrame]) -> Vec<u8> {
    frames.iter().flat_map(|f| f.iter().copied()).collect()
}

/// Splits a buffer of whole frames back into `out`.
pub(crate) fn unflatten(bytes: &[u8], out: &mut [RawFrame]) {
    for (frame, chunk) in out.iter_mut().zip(bytes.chunks_exact(FRAME_BYTES)) {
        frame.copy_from_slice(chunk);
    }
}
