//! What the service needs from each device kind: build a configured device, say what it
//! publishes as status, in which phase it is built, and how its status reads on the control
//! plane and in drivervmctl. The kinds are listed in [`super::registry`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Config, DeviceConfig, GuestConfig};
use crate::control::iface::{self, IDriverVm::IDriverVm};
use crate::control::Status;
use crate::devices::VirtioDevice;
use crate::kind::DeviceKind;
use crate::status::{DetailSource, DeviceDetail};

use super::ServiceError;

/// When a kind's devices are built: every device of one phase before any of the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Devices that provide something other devices are built with (a radio's tuner audio,
    /// which a sound device captures).
    Providers,
    /// Every other device.
    Devices,
}

impl Phase {
    /// The phases in build order.
    pub const ORDER: [Phase; 2] = [Phase::Providers, Phase::Devices];
}

/// How a built device meets its transport.
pub enum Served {
    /// A virtio device, for vhost-user or Gunyah.
    Virtio(Box<dyn VirtioDevice>),
    /// A device speaking its own protocol on a unix socket (RPMB's `rpmb_dev`): called once,
    /// on its own thread, with the bound socket.
    OwnSocket(Box<dyn FnOnce(UnixListener) + Send>),
}

impl Served {
    /// Virtqueues the device has (none for a device with its own socket protocol).
    pub fn queues(&self) -> usize {
        match self {
            Self::Virtio(d) => d.queue_max_sizes().len(),
            Self::OwnSocket(_) => 0,
        }
    }
}

/// A device ready to serve, with what it publishes beyond link state and counters.
pub struct Built {
    /// The device.
    pub served: Served,
    /// Its per-kind status detail, if it has any.
    pub detail: Option<Arc<dyn DetailSource>>,
}

/// One device kind, as the service builds it.
pub trait KindService: Sync {
    /// The kind this entry builds.
    fn kind(&self) -> DeviceKind;

    /// The phase its devices are built in.
    fn phase(&self) -> Phase {
        Phase::Devices
    }

    /// Builds `device` of `guest`; state shared between devices lives in `cx`.
    fn build(
        &self,
        cx: &mut BuildContext<'_>,
        guest: &GuestConfig,
        device: &DeviceConfig,
    ) -> Result<Built, ServiceError>;

    /// `detail`, as a device of this kind publishes it, as the kind's arm of
    /// vendor.drivervm's `union DeviceDetail`; `None` for a kind without an arm.
    fn to_aidl(&self, detail: &DeviceDetail) -> Option<iface::DeviceDetail::DeviceDetail> {
        let _ = detail;
        None
    }

    /// drivervmctl's view of `arm`, if it is this kind's arm of `union DeviceDetail`.
    fn view(&self, arm: &iface::DeviceDetail::DeviceDetail) -> Option<Box<dyn DetailView>> {
        let _ = arm;
        None
    }

    /// drivervmctl's view of device `id` read from a V1 service (no `getDetail`) through
    /// this kind's V1 getter; `None` for a kind V1 has no getter for.
    fn view_v1(
        &self,
        svc: &dyn IDriverVm,
        id: &str,
    ) -> Option<Result<Box<dyn DetailView>, Status>> {
        let _ = (svc, id);
        None
    }
}

/// What drivervmctl prints of one kind's detail: one serializable view, printed as JSON or
/// as text lines, so the two never disagree.
pub trait DetailView {
    /// The view as JSON.
    fn json(&self) -> serde_json::Value;

    /// The view as text lines.
    fn lines(&self) -> Vec<String>;
}

/// `view` as JSON (`null` if it cannot be, which a derived `Serialize` never is).
pub fn json_of(view: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// What every device build may use: the config, the service's directories and the
/// resources devices share (a clock tree, sound outputs, RPMB stores), made on first use.
pub struct BuildContext<'a> {
    /// The whole validated config.
    pub config: &'a Config,
    /// Where sockets and relative sound files live.
    pub runtime_dir: &'a Path,
    /// Where persistent state (RPMB images and keys) lives.
    pub state_dir: &'a Path,
    shared: HashMap<TypeId, Box<dyn Any>>,
}

impl<'a> BuildContext<'a> {
    /// A context with no shared resource made yet.
    pub fn new(config: &'a Config, runtime_dir: &'a Path, state_dir: &'a Path) -> Self {
        Self {
            config,
            runtime_dir,
            state_dir,
            shared: HashMap::new(),
        }
    }

    /// The shared resource of type `T`, made by `make` the first time it is asked for.
    pub fn shared<T: Any>(
        &mut self,
        make: impl FnOnce(&Self) -> Result<T, ServiceError>,
    ) -> Result<&mut T, ServiceError> {
        let id = TypeId::of::<T>();
        if !self.shared.contains_key(&id) {
            let value = make(self)?;
            self.shared.insert(id, Box::new(value));
        }
        self.shared
            .get_mut(&id)
            .and_then(|b| b.downcast_mut::<T>())
            .ok_or_else(|| ServiceError::Os {
                device: "service".into(),
                why: "shared build resource of the wrong type".into(),
            })
    }
}
