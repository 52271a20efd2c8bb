//! virtio-rpmb (device ID 28) and the RPMB frame protocol it carries.
//!
//! [`engine::RpmbEngine`] implements the RPMB partition's side of the JEDEC frame protocol
//! over an [`crate::hw::rpmb::RpmbStorage`]; the virtio device and the Android `rpmb_dev`
//! socket framing both feed it request frames and return its response frames.

pub mod console;
pub mod constants;
pub mod device;
pub mod engine;
pub mod frame;
pub mod physical;
pub mod rpmb_dev_wire;
pub mod virtual_rpmb;
pub mod write_budget;

#[cfg(test)]
pub(crate) mod test_hmac;
