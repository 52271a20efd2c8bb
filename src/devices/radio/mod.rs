//! virtio-radio (experimental device ID, see docs/virtio-radio.md): an AM/FM broadcast tuner
//! with RDS, designed to map onto Android's `IBroadcastRadio` HAL and onto a V4L2 radio.
//!
//! The specification's numbers ([`constants`]), its byte layouts ([`wire`]), the
//! bounded event queue
//! ([`events`]) and the device model over a `hw::tuner::Tuner` ([`device`]).

pub mod constants;
pub mod device;
pub mod events;
mod program_rds;
pub mod wire;

// RDS is the broadcast standard, not virtio: it lives with the tuner hardware.
pub use crate::hw::tuner::{charset, rds};

pub use device::{RadioDevice, RadioSettings};

#[cfg(test)]
mod tests;
