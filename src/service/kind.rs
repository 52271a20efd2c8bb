//! What the service needs from each device kind: build a configured device, say what it
//! publishes as status, and in which phase it is built. The kinds are listed in
//! [`super::registry`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::Arc;

use crate::config::{Config, DeviceConfig, GuestConfig};
use crate::devices::VirtioDevice;
use crate::kind::DeviceKind;
use crate::status::DetailSource;

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
