//! virtio-rpmb (device ID 28) and the RPMB frame protocol it carries.
//!
//! [`engine::RpmbEngine`] implements the RPMB partition's side of the JEDEC frame protocol
//! over an [`crate::hw::rpmb::RpmbStorage`]; the virtio device and the Android `rpmb_dev`
//! socket framing both feed it request frames and return its response frames.

pub mod constants;
pub mod device;
pub mod engine;
pub mod frame;
pub mod rpmb_dev_wire;

#[cfg(test)]
mod test_hmac;
