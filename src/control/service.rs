//! `IDriverVm`: what the service reports about itself and its devices. Read-only: nothing
//! here can change device or hardware state.

use std::sync::Arc;

use super::convert;
use super::listeners::Listeners;
use super::shim::{self, iface, Interface, Status, Strong};
use super::BinderResult;
use crate::kind::DeviceKind;
use crate::status::{DeviceDetail, DeviceState, Registry};

use iface::IDriverVm::IDriverVm;
use iface::IDriverVmListener::IDriverVmListener;

/// The instance name under servicemanager (and in the VINTF manifest).
pub const SERVICE_NAME: &str = "vendor.drivervm.IDriverVm/default";

/// The one implementation of `IDriverVm`, shared by every binder it is served on.
#[derive(Clone)]
pub struct DriverVm {
    registry: Arc<Registry>,
    listeners: Arc<Listeners>,
}

impl DriverVm {
    /// A service over `registry`; starts the thread that calls listeners.
    pub fn new(registry: Arc<Registry>) -> std::io::Result<Self> {
        let listeners = Arc::new(Listeners::default());
        listeners.spawn_dispatcher(&registry)?;
        Ok(Self {
            registry,
            listeners,
        })
    }

    /// How many listeners are registered.
    pub fn listener_count(&self) -> usize {
        self.listeners.len()
    }

    /// The binder object serving this implementation.
    pub fn binder(&self) -> Strong<dyn IDriverVm> {
        shim::new_driver_vm(self.clone())
    }

    fn device(&self, id: &str) -> Result<&Arc<DeviceState>, Status> {
        self.registry.device(id).ok_or_else(|| {
            let known: Vec<_> = self.registry.devices().iter().map(|d| d.id()).collect();
            shim::service_specific(
                iface::IDriverVm::ERROR_UNKNOWN_DEVICE,
                &format!("no device \"{id}\" (devices: {})", known.join(", ")),
            )
        })
    }

    /// The detail of device `id`, which must be of `kind`.
    fn detail(&self, id: &str, kind: DeviceKind) -> Result<Option<DeviceDetail>, Status> {
        let dev = self.device(id)?;
        if dev.kind() != Some(kind) {
            return Err(shim::service_specific(
                iface::IDriverVm::ERROR_WRONG_DEVICE_KIND,
                &format!(
                    "device \"{id}\" is {}, not {}",
                    dev.kind().map_or("of no known kind", |k| k.name()),
                    kind.name()
                ),
            ));
        }
        Ok(dev.detail())
    }
}

fn unavailable(id: &str) -> Status {
    shim::service_specific(
        iface::IDriverVm::ERROR_BACKEND_UNAVAILABLE,
        &format!("device \"{id}\" publishes no state in this build"),
    )
}

impl Interface for DriverVm {}

impl IDriverVm for DriverVm {
    fn r#getServiceInfo(&self) -> BinderResult<iface::ServiceInfo::ServiceInfo> {
        Ok(iface::ServiceInfo::ServiceInfo {
            r#name: "drivervm".into(),
            r#version: env!("CARGO_PKG_VERSION").into(),
            r#uptimeMillis: i64::try_from(self.registry.uptime().as_millis()).unwrap_or(i64::MAX),
        })
    }

    fn r#listDevices(&self) -> BinderResult<Vec<iface::DeviceStatus::DeviceStatus>> {
        Ok(self
            .registry
            .devices()
            .iter()
            .map(|d| convert::device_status(d.snapshot()))
            .collect())
    }

    fn r#getDevice(&self, id: &str) -> BinderResult<iface::DeviceStatus::DeviceStatus> {
        Ok(convert::device_status(self.device(id)?.snapshot()))
    }

    fn r#getClocks(&self, id: &str) -> BinderResult<Vec<iface::ClockInfo::ClockInfo>> {
        match self.detail(id, DeviceKind::Scmi)? {
            Some(DeviceDetail::Scmi { clocks }) => {
                Ok(clocks.into_iter().map(convert::clock).collect())
            }
            _ => Err(unavailable(id)),
        }
    }

    fn r#getRpmbInfo(&self, id: &str) -> BinderResult<iface::RpmbInfo::RpmbInfo> {
        match self.detail(id, DeviceKind::Rpmb)? {
            Some(DeviceDetail::Rpmb(r)) => Ok(convert::rpmb(r)),
            _ => Err(unavailable(id)),
        }
    }

    fn r#getRadioInfo(&self, id: &str) -> BinderResult<iface::RadioInfo::RadioInfo> {
        match self.detail(id, DeviceKind::Radio)? {
            Some(DeviceDetail::Radio(r)) => Ok(convert::radio(r)),
            _ => Err(unavailable(id)),
        }
    }

    fn r#getAudioStreams(&self, id: &str) -> BinderResult<Vec<iface::AudioStream::AudioStream>> {
        match self.detail(id, DeviceKind::Sound)? {
            Some(DeviceDetail::Sound { streams }) => {
                Ok(streams.into_iter().map(convert::stream).collect())
            }
            // A sound device that publishes nothing has no stream open.
            _ => Ok(Vec::new()),
        }
    }

    fn r#registerListener(&self, listener: &Strong<dyn IDriverVmListener>) -> BinderResult<()> {
        self.listeners.register(listener)
    }

    fn r#unregisterListener(&self, listener: &Strong<dyn IDriverVmListener>) -> BinderResult<()> {
        self.listeners.unregister(listener);
        Ok(())
    }

    fn r#getDetail(&self, id: &str) -> BinderResult<iface::DeviceDetail::DeviceDetail> {
        match self.device(id)?.detail() {
            Some(d) => Ok(convert::detail(d)),
            None => Err(unavailable(id)),
        }
    }
}
