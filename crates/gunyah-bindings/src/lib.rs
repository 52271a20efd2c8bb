//! Gunyah userspace API for Rust: request numbers, layout-checked `#[repr(C)]` structs and
//! one thin safe wrapper per ioctl.
//!
//! Three interfaces:
//! - [`vm_manager`]: `/dev/gunyah` (`'G'` and `'A'` ioctls), used by a VMM to build VMs;
//! - [`virtio_backend`]: Qualcomm's virtio-backend driver, used by a VM that serves virtio
//!   devices to another VM over shared memory and doorbells, in both of its numberings;
//! - [`secure_vm_loader`]: the 0xB2 `/dev/gunyah` that hands out the VM fd the second
//!   backend numbering is issued on.
//!
//! Every number and layout is traced to its kernel header in this crate's README.md.

#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod error;
mod flags;
pub mod ioctl_code;
mod ret;
pub mod secure_vm_loader;
pub mod virtio_backend;
pub mod vm_manager;

pub use error::ArgError;
