//! A test-only fifth device kind, "echo": the proof of docs/adding-a-device.md. Everything
//! about it is in this folder; the registry names it on one line (behind the `harness`
//! feature, so the daemon never serves it). `tests/fifth_kind.rs` serves it over vhost-user
//! and lists it with drivervmctl; `tests/layers.rs` checks that nothing else names it.

mod device;

use crate::config::{DeviceConfig, GuestConfig};
use crate::kind::{DeviceKind, ExtraKind};

use super::super::kind::{BuildContext, Built, KindService, Served};
use super::super::ServiceError;
use device::EchoDevice;

/// The kind: no OASIS device ID (the test transport never sends one).
static ECHO: ExtraKind = ExtraKind {
    name: "echo",
    virtio_id: None,
};

/// The echo entry of the registry.
pub struct EchoKind;

impl KindService for EchoKind {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Extra(&ECHO)
    }

    fn build(
        &self,
        _cx: &mut BuildContext<'_>,
        guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError> {
        Ok(Built {
            served: Served::Virtio(Box::new(EchoDevice::new(guest.policy.max_request_bytes))),
            detail: None,
        })
        .inspect(|_| log::info!("{}: echo device", device.id))
    }
}
