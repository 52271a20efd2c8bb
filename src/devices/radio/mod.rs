//! virtio-radio (experimental device ID, see docs/virtio-radio.md): an AM/FM broadcast tuner
//! with RDS, designed to map onto Android's `IBroadcastRadio` HAL and onto a V4L2 radio.
//!
//! This module holds the parts every implementation shares: the specification's numbers
//! ([`constants`]), its byte layouts ([`wire`]), an RDS decoder and encoder ([`rds`]) and the RDS character
//! set ([`charset`]).
//! The device model itself (request handling, the one-operation-at-a-time state machine,
//! event delivery over the `VirtioDevice` interface) and the tuner backends are pending.

pub mod charset;
pub mod constants;
pub mod rds;
pub mod wire;

#[cfg(test)]
mod spec_sync_tests;
