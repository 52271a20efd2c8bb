//! `IDriverVm`: what the service reports about itself and its devices. Read-only: nothing
//! here can change device or hardware state.

use std::sync::Arc;

use super::convert::{self, DetailWire};
use super::listeners::Listeners;
use super::shim::{self, iface, Interface, Status, Strong};
use super::BinderResult;
use crate::kind::DeviceKind;
use crate::status::{DeviceState, Registry};

use iface::DeviceDetail::DeviceDetail as Arm;
use iface::IDriverVm::IDriverVm;
use iface::IDriverVmListener::IDriverVmListener;

/// The instance name under servicemanager (and in the VINTF manifest).
pub const SERVICE_NAME: &str = "vendor.drivervm.IDriverVm/default";

/// The one implementation of `IDriverVm`, shared by every binder it is served on.
#[derive(Clone)]
pub struct DriverVm {
    registry: Arc<Registry>,
    wire: &'static dyn DetailWire,
    listeners: Arc<Listeners>,
}

impl DriverVm {
    /// A service over `registry`, whose devices' detail `wire` converts (the kind registry,
    /// `service::registry::Kinds`); starts the thread that calls listeners.
    pub fn new(registry: Arc<Registry>, wire: &'static dyn DetailWire) -> std::io::Result<Self> {
        let listeners = Arc::new(Listeners::default());
        listeners.spawn_dispatcher(&registry)?;
        Ok(Self {
            registry,
            wire,
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

    /// Device `id`'s detail as its arm of `union DeviceDetail`, if it publishes one.
    fn arm(&self, dev: &DeviceState) -> Option<Arm> {
        self.wire.to_aidl(dev.kind()?, &dev.detail()?)
    }

    /// The arm of device `id`, which must be of `kind`: what a V1 getter returns a part of.
    fn arm_of(&self, id: &str, kind: DeviceKind) -> Result<Option<Arm>, Status> {
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
        Ok(self.arm(dev))
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

    // V1's getters, one per kind by contract: each is the V2 arm of its kind.

    fn r#getClocks(&self, id: &str) -> BinderResult<Vec<iface::ClockInfo::ClockInfo>> {
        match self.arm_of(id, DeviceKind::Scmi)? {
            Some(Arm::Scmi(s)) => Ok(s.r#clocks),
            _ => Err(unavailable(id)),
        }
    }

    fn r#getRpmbInfo(&self, id: &str) -> BinderResult<iface::RpmbInfo::RpmbInfo> {
        match self.arm_of(id, DeviceKind::Rpmb)? {
            Some(Arm::Rpmb(r)) => Ok(r),
            _ => Err(unavailable(id)),
        }
    }

    fn r#getRadioInfo(&self, id: &str) -> BinderResult<iface::RadioInfo::RadioInfo> {
        match self.arm_of(id, DeviceKind::Radio)? {
            Some(Arm::Radio(r)) => Ok(r),
            _ => Err(unavailable(id)),
        }
    }

    fn r#getAudioStreams(&self, id: &str) -> BinderResult<Vec<iface::AudioStream::AudioStream>> {
        match self.arm_of(id, DeviceKind::Sound)? {
            Some(Arm::Sound(s)) => Ok(s.r#streams),
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
        self.arm(self.device(id)?).ok_or_else(|| unavailable(id))
    }
}
