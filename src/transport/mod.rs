//! Transports: put a [`crate::devices::VirtioDevice`] in front of a guest.

pub mod chain;
pub mod rpmb_dev_socket;
pub mod socket;
pub mod vhost_user;
