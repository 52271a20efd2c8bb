//! virtio-radio (experimental device ID, see docs/virtio-radio.md): an AM/FM broadcast tuner
//! with RDS, designed to map onto Android's `IBroadcastRadio` HAL and onto a V4L2 radio.
//!
//! The specification's numbers ([`constants`]), its byte layouts ([`wire`]), an RDS decoder
//! and encoder ([`rds`]), the RDS character set ([`charset`]), the bounded event queue
//! ([`events`]) and the device model over a `hw::tuner::Tuner` ([`device`]).

pub mod charset;
pub mod constants;
pub mod device;
pub mod events;
pub mod rds;
pub mod wire;

pub use device::{RadioDevice, RadioSettings};

#[cfg(test)]
mod spec_sync_tests;
