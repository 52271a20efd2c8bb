//! Wires a validated config to devices and transports, and runs them until told to stop.

pub mod radio;

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use log::info;
use nix::unistd::{Gid, Group};

use crate::config::{Backend, Config, DeviceConfig, DeviceKind, GuestConfig, TransportConfig};
use crate::devices::scmi::{AgentView, ScmiDevice};
use crate::devices::VirtioDevice;
use crate::transport::socket::{self, SocketError};
use crate::transport::vhost_user::{self, VhostUserDevice};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The runtime directory cannot be created or written.
    #[error("runtime dir {path}: {why}")]
    RuntimeDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        why: String,
    },
    /// `service.socket_group` names no group.
    #[error("socket group \"{0}\": no such group")]
    NoSuchGroup(String),
    /// A device's socket could not be created.
    #[error("device {device}: {source}")]
    Socket {
        /// The device ID.
        device: String,
        /// What went wrong.
        source: SocketError,
    },
    /// The validated config asks for something this build cannot construct.
    #[error("device {0}: kind and backend are not implemented in this build")]
    Unsupported(String),
    /// A thread or OS resource could not be created.
    #[error("device {device}: {why}")]
    Os {
        /// The device ID.
        device: String,
        /// What failed.
        why: String,
    },
}

/// One device being served.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Device ID from the config.
    pub device: String,
    /// Guest it serves.
    pub guest: String,
    /// Device kind.
    pub kind: DeviceKind,
    /// The vhost-user socket.
    pub socket: PathBuf,
}

/// The running service: one serving thread per device.
pub struct Service {
    endpoints: Vec<Endpoint>,
    _threads: Vec<JoinHandle<()>>,
}

impl Service {
    /// Where each device is served.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Removes every socket so no frontend finds a dead one; call before the process exits.
    pub fn remove_sockets(&self) {
        for ep in &self.endpoints {
            if let Err(e) = std::fs::remove_file(&ep.socket) {
                log::warn!("{}: cannot remove socket: {e}", ep.socket.display());
            }
        }
    }
}

/// Creates `dir` (0700, or 0750 when sockets are shared with a group) and checks it is usable.
pub fn prepare_runtime_dir(dir: &Path, shared: bool) -> Result<(), ServiceError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |why: String| ServiceError::RuntimeDir {
        path: dir.to_owned(),
        why,
    };
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(if shared { 0o750 } else { 0o700 })
            .create(dir)
            .map_err(|e| err(format!("cannot create: {e}")))?;
    }
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(|e| err(format!("not writable: {}", std::io::Error::from(e))))
}

/// Builds the device model a config entry describes.
pub fn build_device(
    config: &Config,
    guest: &GuestConfig,
    device: &DeviceConfig,
) -> Result<Box<dyn VirtioDevice>, ServiceError> {
    match (device.kind, device.backend) {
        (DeviceKind::Radio, Backend::Sim | Backend::V4l2) => {
            let cfg = device
                .radio
                .as_ref()
                .ok_or_else(|| ServiceError::Unsupported(device.id.clone()))?;
            Ok(Box::new(radio::build(device, cfg)?))
        }
        (DeviceKind::Scmi, Backend::Sim) => {
            let agents: Vec<String> = config
                .guests
                .iter()
                .filter(|g| g.devices.iter().any(|d| d.kind == DeviceKind::Scmi))
                .map(|g| g.name.clone())
                .collect();
            let agent_id = agents
                .iter()
                .position(|a| *a == guest.name)
                .map_or(0, |i| i as u32 + 1);
            let view = AgentView {
                device: device.id.clone(),
                agents,
                agent_id,
                max_message_len: guest.policy.max_request_bytes,
            };
            Ok(Box::new(ScmiDevice::new(
                config.soc.identity.clone(),
                view,
                Vec::new(),
            )))
        }
        _ => Err(ServiceError::Unsupported(device.id.clone())),
    }
}

fn socket_group(config: &Config) -> Result<Option<Gid>, ServiceError> {
    let Some(name) = &config.service.socket_group else {
        return Ok(None);
    };
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(Some(g.gid)),
        _ => Err(ServiceError::NoSuchGroup(name.to_string())),
    }
}

/// Binds every device's socket, then starts serving them all.
///
/// Sockets are bound before any thread starts (see [`socket::bind`]), so on success every
/// socket already accepts connections.
pub fn start(config: &Config, runtime_dir: &Path) -> Result<Service, ServiceError> {
    let group = socket_group(config)?;
    prepare_runtime_dir(runtime_dir, group.is_some())?;
    let mut bound = Vec::new();
    for guest in &config.guests {
        for dev in &guest.devices {
            let device = build_device(config, guest, dev)?;
            let TransportConfig::VhostUser { .. } = &dev.transport;
            let path = dev.transport.socket_path(runtime_dir);
            let listener = socket::bind(&path, group).map_err(|source| ServiceError::Socket {
                device: dev.id.clone(),
                source,
            })?;
            let endpoint = Endpoint {
                device: dev.id.clone(),
                guest: guest.name.clone(),
                kind: dev.kind,
                socket: path,
            };
            bound.push((endpoint, device, listener));
        }
    }
    let mut endpoints = Vec::new();
    let mut threads = Vec::new();
    for (endpoint, device, listener) in bound {
        let id = endpoint.device.clone();
        let os_err = |why: String| ServiceError::Os {
            device: id.clone(),
            why,
        };
        let backend = VhostUserDevice::new(id.clone(), endpoint.guest.clone(), device)
            .map_err(|e| os_err(format!("cannot create event fds: {e}")))?;
        let thread = std::thread::Builder::new()
            .name(id.clone())
            .spawn(move || vhost_user::serve(backend, listener))
            .map_err(|e| os_err(format!("cannot spawn thread: {e}")))?;
        info!(
            "{id}: {} for guest \"{}\" on {}",
            endpoint.kind.name(),
            endpoint.guest,
            endpoint.socket.display()
        );
        endpoints.push(endpoint);
        threads.push(thread);
    }
    Ok(Service {
        endpoints,
        _threads: threads,
    })
}
