//! Virtio device models: wire formats, protocol state machines and per-guest policy.
//!
//! A device sees the driver's buffers only as [`Request`]s (the device-readable bytes, copied
//! out of guest memory and bounded, plus the size of the device-writable part) and hands
//! responses back through a [`Completer`]. It never touches guest memory, sockets or fds, so
//! the same device is served unchanged by every transport (vhost-user, Gunyah).

pub mod radio;
pub mod rpmb;
pub mod scmi;
pub mod sound;

use std::time::Instant;

/// Default cap on the device-readable bytes of one request; larger chains are refused.
pub const DEFAULT_MAX_REQUEST_LEN: usize = 64 * 1024;

/// Default cap on the device-writable bytes of one chain; larger chains are refused.
///
/// A driver may describe up to 4 GiB of (overlapping) writable buffers per chain; a device
/// answers with far less, so the transport honours no more than this unless the device says
/// its queue needs more ([`VirtioDevice::max_writable_len`]).
pub const DEFAULT_MAX_WRITABLE_LEN: usize = 64 * 1024;

/// Most bytes a [`Completer`] without a direct guest-memory path builds in memory to serve
/// [`Completer::complete_at`] (test sinks, fuzz checkers).
pub const MAX_MATERIALIZED_RESPONSE: usize = 1 << 20;

/// Identifies one driver buffer until the device completes it.
///
/// Opaque to devices: only the transport that issued it can resolve it. A token outlives
/// neither a reset nor a reconnect; completing a stale one is ignored by the transport.
#[derive(Debug)]
pub struct Token {
    pub(crate) queue: u16,
    pub(crate) head: u16,
    pub(crate) generation: u64,
    /// Device-writable regions of the chain (guest address, length), already bounds-checked.
    pub(crate) writable: Vec<(u64, u32)>,
}

impl Token {
    /// The queue this buffer came from.
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// A buffer the driver made available on one of the device's queues.
#[derive(Debug)]
pub struct Request {
    /// Handle used to return the buffer to the driver.
    pub token: Token,
    /// The device-readable part of the chain, gathered in order.
    pub data: Vec<u8>,
    /// Total size of the device-writable part of the chain.
    pub writable_len: usize,
}

/// Why a buffer could not be returned to the driver.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// The response does not fit the buffer's device-writable part.
    #[error("response of {len} bytes exceeds the {cap}-byte writable buffer")]
    TooLarge {
        /// Bytes the device tried to write.
        len: usize,
        /// Writable capacity of the buffer.
        cap: usize,
    },
    /// A response placed at `offset` does not lie within the used length `used`, or the
    /// used length exceeds what the used ring can carry.
    #[error("response of {len} bytes at offset {offset} does not fit a used length of {used}")]
    Misplaced {
        /// Where the response was to be written in the writable part.
        offset: usize,
        /// Bytes of the response.
        len: usize,
        /// The used length asked for.
        used: usize,
    },
    /// Writing guest memory or the used ring failed.
    #[error("cannot return buffer to the driver: {0}")]
    Queue(String),
}

/// The transport's side of a device: returns buffers to the driver.
pub trait Completer {
    /// Writes `response` into the buffer's writable part and puts it on the used ring.
    ///
    /// On [`CompleteError::TooLarge`] the buffer is still returned, with a used length of 0,
    /// so the driver never loses a buffer to a device bug.
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError>;

    /// Writes `data` at `offset` bytes into the buffer's writable part, leaves every other
    /// byte as the driver left it, and returns the buffer with a used length of `used_len`.
    ///
    /// This is how a device answers where the driver looks at the end of a buffer (a
    /// virtio-snd status after a capture area) without writing or allocating the guest-sized
    /// part before it. `offset + data.len()` must not exceed `used_len`, nor `used_len` the
    /// writable part; otherwise the buffer is returned with a used length of 0.
    ///
    /// The default builds the response in memory (zeros before `data`), for completers with
    /// no direct path to guest memory; it refuses used lengths above
    /// [`MAX_MATERIALIZED_RESPONSE`] rather than allocate a guest-chosen size.
    fn complete_at(
        &mut self,
        token: Token,
        offset: usize,
        data: &[u8],
        used_len: usize,
    ) -> Result<(), CompleteError> {
        let placed = match check_placement(offset, data.len(), used_len) {
            Ok(end) if used_len <= MAX_MATERIALIZED_RESPONSE => end,
            Ok(_) => {
                let _ = self.complete(token, &[]);
                return Err(CompleteError::TooLarge {
                    len: used_len,
                    cap: MAX_MATERIALIZED_RESPONSE,
                });
            }
            Err(e) => {
                let _ = self.complete(token, &[]);
                return Err(e);
            }
        };
        let mut response = vec![0; used_len];
        response[offset..placed].copy_from_slice(data);
        self.complete(token, &response)
    }
}

/// Checks that `len` bytes at `offset` lie within `used_len`; returns where they end.
pub fn check_placement(offset: usize, len: usize, used_len: usize) -> Result<usize, CompleteError> {
    offset
        .checked_add(len)
        .filter(|&end| end <= used_len && u32::try_from(used_len).is_ok())
        .ok_or(CompleteError::Misplaced {
            offset,
            len,
            used: used_len,
        })
}

/// Wakes a device's transport from another thread (a hardware backend, a timer owner) so
/// that it calls [`VirtioDevice::poll`].
pub trait Wake: Send + Sync {
    /// Requests a call to [`VirtioDevice::poll`] soon.
    fn wake(&self);
}

/// One virtio device, independent of how it is put in front of a guest.
pub trait VirtioDevice: Send {
    /// Virtio device ID (OASIS virtio §5).
    fn device_type(&self) -> u32;

    /// Short name for logs (e.g. `scmi`).
    fn name(&self) -> &str;

    /// Maximum size of each queue, one entry per queue.
    fn queue_max_sizes(&self) -> &[u16];

    /// Device-specific feature bits; the transport adds the ring and version bits itself.
    fn features(&self) -> u64;

    /// Whether the device has a configuration space at all (virtio-scmi has none); without
    /// one, vhost-user does not offer VHOST_USER_PROTOCOL_F_CONFIG, which VMMs warn about.
    fn has_config_space(&self) -> bool {
        true
    }

    /// Reads the device configuration space; bytes past its end read as zero.
    fn read_config(&self, offset: usize, data: &mut [u8]) {
        data.fill(0);
        let _ = offset;
    }

    /// Why a frontend that shows the driver only `frontend_len` bytes of the configuration
    /// space breaks it, naming the fix; `None` when that many bytes hold every field the
    /// offered features give meaning to (the default: no such field).
    ///
    /// A VMM may size the space by its own settings rather than by the features it passes
    /// through (QEMU's vhost-user-snd does), so the driver would read past the end.
    fn config_too_small(&self, frontend_len: usize) -> Option<String> {
        let _ = frontend_len;
        None
    }

    /// Writes the device configuration space; the default ignores writes (read-only space).
    fn write_config(&mut self, offset: usize, data: &[u8]) {
        let _ = (offset, data);
    }

    /// Called once the driver has acknowledged `features` (the device-specific subset
    /// included), before any request arrives.
    fn activate(&mut self, features: u64, waker: std::sync::Arc<dyn Wake>);

    /// Most device-readable bytes accepted in one request on `queue`.
    fn max_request_len(&self, queue: u16) -> usize {
        let _ = queue;
        DEFAULT_MAX_REQUEST_LEN
    }

    /// Most device-writable bytes honoured in one chain on `queue` (the largest legitimate
    /// response); the transport refuses larger chains before the device sees them.
    fn max_writable_len(&self, queue: u16) -> usize {
        let _ = queue;
        DEFAULT_MAX_WRITABLE_LEN
    }

    /// Handles one buffer. The device may complete it now or keep it and complete it later
    /// (event queues, paced streams).
    fn handle(&mut self, request: Request, completer: &mut dyn Completer);

    /// Does time- or event-driven work; returns when it next needs to be polled.
    ///
    /// Transports call it after every batch of handled requests and every wake-up, so work
    /// a request caused (a notification, a delayed response) may wait for it.
    fn poll(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        let _ = (now, completer);
        None
    }

    /// Returns the device to its initial state; every held token is dropped.
    fn reset(&mut self);
}
