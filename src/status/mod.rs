//! Live status of every device, kept where the control plane can read it without slowing
//! the device threads.
//!
//! Transports write link state, negotiated features and per-queue counters into a
//! [`DeviceState`] with atomics (no lock is held across a request); devices publish their
//! per-kind detail through a [`DetailSource`]. The control plane reads snapshots and
//! subscribes to [`StatusEvent`]s. Nothing here knows about binder.

mod audio_cell;
mod cells;
mod counters;
mod detail;
mod device_state;
mod events;
mod radio_cell;
mod registry;

#[cfg(test)]
mod tests;

pub use crate::generation::{DetailBell, Generation};
pub use audio_cell::{
    AudioDirection, AudioStreamDetail, AudioStreamState, AudioStreams, StreamShape,
};
pub use cells::{ClockDetail, ClockTable, ClockView, RpmbCell, RpmbDetail};
pub use counters::{QueueCounters, QueueSnapshot};
pub use detail::{DetailSource, DeviceDetail, KindDetail};
pub use device_state::{DeviceSnapshot, DeviceState, LinkState, TransportKind};
pub use events::{EventBus, StatusEvent, Subscription, SUBSCRIBER_BACKLOG};
pub use radio_cell::{RadioBand, RadioCell, RadioDetail, RdsDetail};
pub use registry::Registry;
