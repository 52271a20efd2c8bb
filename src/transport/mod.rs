//! Transports: put a [`crate::devices::VirtioDevice`] in front of a guest.

pub mod chain;
pub mod contain;
pub mod gunyah;
pub mod kick_budget;
// The guest-caused log budget is a leaf (hardware backends use it too).
pub use crate::log_budget;
pub mod peer;
pub mod poll;
#[cfg(any(test, feature = "harness"))]
pub mod ring_fuzz;
pub mod ring_guard;
pub mod rings;
pub mod rpmb_dev_socket;
pub mod socket;
pub mod vhost_user;
pub mod vhost_user_relay;
pub mod wake;
