//! A driver-side virtio harness: plays the VMM and the guest driver against any vhost-user
//! backend socket, for integration tests and the `drivervm-load` tool.
//!
//! It owns memfd-backed guest memory, negotiates features and protocol features over the
//! socket with the `vhost` crate's frontend, and writes split virtqueues itself (so that tests
//! can also write deliberately malformed chains, see [`Malformed`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use drivervm::harness::{Harness, HarnessOptions};
//!
//! # fn main() -> Result<(), drivervm::harness::Error> {
//! // A virtio-scmi backend: queue 0 is the command queue, queue 1 the event queue.
//! let mut h = Harness::connect("/tmp/scmi.sock", 2, &HarnessOptions::default())?;
//! // SCMI BASE PROTOCOL_VERSION: header with protocol 0x10, message 0, token 0.
//! let reply = h.request(0, &0x0000_4000u32.to_le_bytes(), 12)?;
//! assert_eq!(&reply[4..8], &0i32.to_le_bytes()); // SUCCESS
//!
//! // Pipelined: keep several requests in flight, then collect what came back.
//! let heads: Vec<u16> = (0..4)
//!     .map(|_| h.submit(0, &0x0000_4000u32.to_le_bytes(), 12))
//!     .collect::<Result<_, _>>()?;
//! let mut done = 0;
//! while done < heads.len() {
//!     done += h.wait_completions(0, Duration::from_secs(2))?.len();
//! }
//! h.disconnect()
//! # }
//! ```

mod connection;
mod driver;
pub(crate) mod hostile;
pub(crate) mod malformed;
mod memory;
pub(crate) mod poll;
mod raw_writable;
pub mod skip;
pub(crate) mod split_ring;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use connection::{Harness, HarnessOptions};
pub use driver::Driver;
pub use hostile::{RingAttack, TOO_MANY_DESCRIPTORS};
pub use malformed::{Malformed, OVERSIZE_LEN};
pub use memory::{GuestMemfd, DEFAULT_MEMORY_SIZE, GUEST_MEMORY_BASE};
pub use split_ring::{
    need_event, ChainLayout, Completion, Descriptor, RingLayout, Segment,
    VRING_AVAIL_F_NO_INTERRUPT, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE,
    VRING_USED_F_NO_NOTIFY,
};

/// Feature bit: virtio 1.x device (OASIS virtio §6).
pub const VIRTIO_F_VERSION_1: u32 = 32;
/// Feature bit: indirect descriptors.
pub const VIRTIO_RING_F_INDIRECT_DESC: u32 = 28;
/// Feature bit: `used_event` / `avail_event` notification suppression.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;

/// An I/O error's reason without the " (os error N)" suffix, for one-line messages.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(at) => s[..at].to_string(),
        None => s,
    }
}

/// What can go wrong while driving a backend.
///
/// Each message already includes its cause, so none is exposed as `source()`: printing the
/// error (even with an error chain) gives one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The socket could not be connected.
    #[error("cannot connect to {}: {}", path.display(), io_reason(cause))]
    Connect {
        /// Socket path.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// A vhost-user message failed or was refused by the backend.
    #[error("vhost-user {step} failed: {cause}")]
    Protocol {
        /// The message or step, e.g. `SET_MEM_TABLE`.
        step: &'static str,
        /// The frontend's error.
        cause: vhost::Error,
    },
    /// The backend does not offer VIRTIO_F_VERSION_1.
    #[error("backend does not offer VIRTIO_F_VERSION_1 (offered features {offered:#x})")]
    NoVersion1 {
        /// Feature bits the backend offered.
        offered: u64,
    },
    /// More queues were asked for than the backend has.
    #[error("backend has {max} queues, {wanted} requested")]
    TooManyQueues {
        /// Queues requested.
        wanted: usize,
        /// Queues the backend reports (GET_QUEUE_NUM).
        max: u64,
    },
    /// The backend does not offer the CONFIG protocol feature.
    #[error("backend does not offer config space access (protocol feature CONFIG)")]
    NoConfigSpace,
    /// A queue index past the number of queues set up.
    #[error("queue {queue} does not exist ({count} queues set up)")]
    NoSuchQueue {
        /// Queue asked for.
        queue: u16,
        /// Queues set up.
        count: usize,
    },
    /// A queue size that is zero, not a power of two or above 32768.
    #[error("invalid split queue size {0} (must be a power of two, 1..=32768)")]
    BadQueueSize(u16),
    /// Guest memory could not be created, mapped, read or written.
    #[error("guest memory: {0}")]
    Memory(String),
    /// The harness guest memory is exhausted.
    #[error("out of guest memory allocating {need} bytes (raise the memory size)")]
    OutOfMemory {
        /// Bytes requested.
        need: u64,
    },
    /// Not enough free descriptors for the chain.
    #[error("queue {queue} has {free} free descriptors, the chain needs {need}")]
    QueueFull {
        /// Queue.
        queue: u16,
        /// Free descriptors.
        free: usize,
        /// Descriptors the chain needs.
        need: usize,
    },
    /// A chain without segments.
    #[error("a descriptor chain needs at least one segment")]
    EmptyChain,
    /// More segments than a queue can hold.
    #[error("a chain of {0} segments is too long")]
    ChainTooLong(usize),
    /// A readable segment longer than a descriptor can describe.
    #[error("a segment of {0} bytes does not fit one descriptor")]
    SegmentTooLong(usize),
    /// Nothing came back in time.
    #[error("no used buffer on queue {queue} after {timeout:?}")]
    Timeout {
        /// Queue waited on.
        queue: u16,
        /// How long.
        timeout: Duration,
    },
    /// The device put an id on the used ring that is not an in-flight head.
    #[error("device returned id {id} on queue {queue}, which is not an in-flight head")]
    UnknownHead {
        /// Queue.
        queue: u16,
        /// The used element's id.
        id: u32,
    },
    /// The backend closed the socket.
    #[error("backend closed the vhost-user socket")]
    Disconnected,
    /// An eventfd or poll call failed.
    #[error("{what}: {cause}")]
    Os {
        /// The call.
        what: &'static str,
        /// Why.
        cause: std::io::Error,
    },
}
