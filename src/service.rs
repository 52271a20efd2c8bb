//! Wires a validated config to devices and transports, and runs them until told to stop.

pub mod radio;
pub mod rpmb;
pub mod sound;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use log::info;
use nix::unistd::{Gid, Group};

use crate::config::{Backend, Config, DeviceConfig, DeviceKind, GuestConfig, TransportConfig};
use crate::devices::scmi::{AgentView, ScmiDevice};
use crate::devices::VirtioDevice;
use crate::platform::{scmi_agents, ScmiPlatform};
use crate::service::rpmb::{build_rpmb, prepare_state_dir, RpmbServed, RpmbSetupError, RpmbStores};
use crate::status::{DetailSource, DeviceState, EventBus, LinkState, Registry, TransportKind};
use crate::transport::gunyah::{
    self, BackendNode, DeviceLabel, GunyahBackendIo, GunyahError, NodeDevice,
};
use crate::transport::rpmb_dev_socket;
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
    /// The SCMI hardware could not be built.
    #[error("{0}")]
    Platform(#[from] crate::platform::PlatformError),
    /// The validated config asks for something this build cannot construct.
    #[error("device {0}: kind and backend are not implemented in this build")]
    Unsupported(String),
    /// An RPMB device, its image or its store could not be opened.
    #[error(transparent)]
    Rpmb(#[from] RpmbSetupError),
    /// A Gunyah node or device could not be set up.
    #[error("{0}")]
    Gunyah(GunyahError),
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
    /// The vhost-user socket; `None` for a device served over Gunyah.
    pub socket: Option<PathBuf>,
    /// How it is attached, for logs: the socket, or the Gunyah node and label.
    pub attachment: String,
}

/// The running service: one serving thread per vhost-user device, two per Gunyah device.
pub struct Service {
    endpoints: Vec<Endpoint>,
    status: Arc<Registry>,
    _threads: Vec<JoinHandle<()>>,
}

/// How often device detail changes are turned into notifications.
const DETAIL_WATCH_PERIOD: Duration = Duration::from_millis(100);

impl Service {
    /// The live status of every device, for the control plane.
    pub fn status(&self) -> &Arc<Registry> {
        &self.status
    }

    /// Where each device is served.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Removes every socket so no frontend finds a dead one; call before the process exits.
    pub fn remove_sockets(&self) {
        for socket in self.endpoints.iter().filter_map(|ep| ep.socket.as_ref()) {
            if let Err(e) = std::fs::remove_file(socket) {
                log::warn!("{}: cannot remove socket: {e}", socket.display());
            }
        }
    }
}

/// Opens a Gunyah backend node by path, again each time the frontend VM exits: the daemon
/// opens the device node, tests hand out simulated nodes.
pub type NodeOpener = Arc<dyn Fn(&Path) -> std::io::Result<Arc<dyn GunyahBackendIo>> + Send + Sync>;

/// Opens the real `/dev/gh_virtio_backend_<vm>` node.
pub fn open_backend_node(path: &Path) -> std::io::Result<Arc<dyn GunyahBackendIo>> {
    Ok(Arc::new(BackendNode::open(path)?))
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

/// Builds the device model a config entry describes, on the shared `platform` (shared
/// sound outputs are private to this device; sound files resolve in the current directory).
/// RPMB devices: see [`crate::service::rpmb::build_rpmb`], which also serves the socket face.
pub fn build_device(
    config: &Config,
    platform: &ScmiPlatform,
    guest: &GuestConfig,
    device: &DeviceConfig,
) -> Result<Box<dyn VirtioDevice>, ServiceError> {
    build_device_with(
        config,
        platform,
        guest,
        device,
        &sound::SoundResources::new(config, Path::new(".")),
    )
}

/// Builds the device model a config entry describes, with resources shared by the devices.
pub fn build_device_with(
    config: &Config,
    platform: &ScmiPlatform,
    guest: &GuestConfig,
    device: &DeviceConfig,
    sound_resources: &sound::SoundResources,
) -> Result<Box<dyn VirtioDevice>, ServiceError> {
    match (device.kind, device.backend) {
        (DeviceKind::Radio, Backend::Sim | Backend::V4l2) => {
            Ok(Box::new(build_radio(device, sound_resources)?))
        }
        (DeviceKind::Sound, Backend::Sim | Backend::Alsa) => {
            Ok(Box::new(build_sound(guest, device, sound_resources)?))
        }
        (DeviceKind::Scmi, Backend::Sim | Backend::Linux) => {
            let agents = scmi_agents(config);
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
            let protocols = platform.protocols(device, agent_id)?;
            Ok(Box::new(ScmiDevice::new(
                config.soc.identity.clone(),
                view,
                protocols,
            )))
        }
        _ => Err(ServiceError::Unsupported(device.id.clone())),
    }
}

/// Builds a virtio-snd device from its `sound` config section.
fn build_sound(
    guest: &GuestConfig,
    device: &DeviceConfig,
    sound_resources: &sound::SoundResources,
) -> Result<crate::devices::sound::SoundDevice, ServiceError> {
    let cfg = device
        .sound
        .as_ref()
        .ok_or_else(|| ServiceError::Unsupported(device.id.clone()))?;
    sound::build(guest, device, cfg, sound_resources)
}

/// Builds a radio device and offers the simulated tuner's audio (made in software) to
/// virtio-snd under the radio's `audio_feed` name.
fn build_radio(
    device: &DeviceConfig,
    sound_resources: &sound::SoundResources,
) -> Result<crate::devices::radio::RadioDevice, ServiceError> {
    let cfg = device
        .radio
        .as_ref()
        .ok_or_else(|| ServiceError::Unsupported(device.id.clone()))?;
    let radio = radio::build(device, cfg)?;
    if let Some(audio) = radio.audio() {
        if !sound_resources.provide(&cfg.audio_feed, audio) {
            return Err(ServiceError::Os {
                device: device.id.clone(),
                why: format!(
                    "audio feed \"{}\" is already fed by another radio",
                    cfg.audio_feed
                ),
            });
        }
    }
    Ok(radio)
}

/// What an SCMI device publishes to the control plane beyond link state and counters
/// (devices that own their status cell hand it over when they are built).
fn detail_source(platform: &ScmiPlatform, device: &DeviceConfig) -> Option<Arc<dyn DetailSource>> {
    match device.kind {
        DeviceKind::Scmi => Some(platform.clock_detail(device)),
        _ => None,
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

/// Binds every device's socket and publishes every Gunyah device, then starts serving them
/// all; Gunyah nodes are opened with [`open_backend_node`].
pub fn start(config: &Config, runtime_dir: &Path) -> Result<Service, ServiceError> {
    start_with(config, runtime_dir, Arc::new(open_backend_node))
}

/// A Gunyah node being prepared: its devices and the window base they agree on.
struct PendingNode {
    path: PathBuf,
    window_base: u64,
    devices: Vec<NodeDevice>,
    endpoints: Vec<Endpoint>,
}

/// [`start_full`] with Gunyah nodes opened by `open_node` and the state dir the config and
/// environment give ([`crate::config::resolve_state_dir`]).
pub fn start_with(
    config: &Config,
    runtime_dir: &Path,
    open_node: NodeOpener,
) -> Result<Service, ServiceError> {
    let state_dir = crate::config::resolve_state_dir(
        None,
        config,
        |k| std::env::var(k).ok(),
        nix::unistd::geteuid().as_raw(),
    );
    start_full(config, runtime_dir, &state_dir, open_node)
}

/// [`start`] with persistent state (RPMB images and keys) in `state_dir`.
pub fn start_in(
    config: &Config,
    runtime_dir: &Path,
    state_dir: &Path,
) -> Result<Service, ServiceError> {
    start_full(config, runtime_dir, state_dir, Arc::new(open_backend_node))
}

/// What one device is served as.
enum Served {
    /// A virtio device, for vhost-user or Gunyah.
    Virtio(Box<dyn VirtioDevice>),
    /// An RPMB engine behind an `rpmb_dev` unix socket.
    RpmbDev(Box<crate::devices::rpmb::engine::RpmbEngine<crate::service::rpmb::GuestRpmb>>),
}

/// Starts every device with Gunyah nodes opened by `open_node` and persistent state in
/// `state_dir` (created only if some device needs it).
///
/// Sockets are bound (see [`socket::bind`]) and Gunyah devices published before any thread
/// starts serving, so on success every socket already accepts connections; devices sharing
/// a node share its fd, its window mapping and its GH_SET_APP_READY.
pub fn start_full(
    config: &Config,
    runtime_dir: &Path,
    state_dir: &Path,
    open_node: NodeOpener,
) -> Result<Service, ServiceError> {
    let group = socket_group(config)?;
    // A group that may use the device or control sockets must be able to reach them.
    let shared = group.is_some() || config.service.control_group.is_some();
    prepare_runtime_dir(runtime_dir, shared)?;
    if config.devices().any(|(_, d)| d.kind == DeviceKind::Rpmb) {
        prepare_state_dir(state_dir)?;
    }
    let mut stores = RpmbStores::new(state_dir);
    let platform = ScmiPlatform::build(config)?;
    let events = Arc::new(EventBus::new());
    // In config order, whatever order the transports start in.
    let mut states = Vec::new();
    let mut bound = Vec::new();
    let mut nodes: Vec<PendingNode> = Vec::new();
    let sound_resources = sound::SoundResources::new(config, runtime_dir);
    // Radios first, so the tuner audio they provide exists when sound devices are built.
    let mut radios = std::collections::HashMap::new();
    for (_, dev) in config.devices() {
        if dev.kind == DeviceKind::Radio {
            let radio = build_radio(dev, &sound_resources)?;
            let cell: Arc<dyn DetailSource> = radio.status();
            let device: Box<dyn VirtioDevice> = Box::new(radio);
            radios.insert(dev.id.clone(), (device, cell));
        }
    }
    for guest in &config.guests {
        for dev in &guest.devices {
            let (device, own_detail) = match radios.remove(&dev.id) {
                Some((device, cell)) => (Served::Virtio(device), Some(cell)),
                None => match dev.kind {
                    DeviceKind::Sound if matches!(dev.backend, Backend::Sim | Backend::Alsa) => {
                        let snd = build_sound(guest, dev, &sound_resources)?;
                        let cell: Arc<dyn DetailSource> = snd.status();
                        (Served::Virtio(Box::new(snd)), Some(cell))
                    }
                    DeviceKind::Rpmb => match build_rpmb(config, guest, dev, &mut stores)? {
                        RpmbServed::Virtio(d, cell) => {
                            (Served::Virtio(d), Some(cell as Arc<dyn DetailSource>))
                        }
                        RpmbServed::RpmbDevSocket(e, cell) => {
                            (Served::RpmbDev(e), Some(cell as Arc<dyn DetailSource>))
                        }
                    },
                    _ => (
                        Served::Virtio(build_device_with(
                            config,
                            &platform,
                            guest,
                            dev,
                            &sound_resources,
                        )?),
                        None,
                    ),
                },
            };
            let transport = match dev.transport {
                TransportConfig::VhostUser { .. } => TransportKind::VhostUser,
                // The status interface has no rpmb_dev kind (yet): it is a unix socket too.
                TransportConfig::RpmbDev { .. } => TransportKind::VhostUser,
                TransportConfig::Gunyah { .. } => TransportKind::Gunyah,
            };
            let queues = match &device {
                Served::Virtio(d) => d.queue_max_sizes().len(),
                Served::RpmbDev(_) => 0,
            };
            let state = Arc::new(DeviceState::new(
                dev.id.clone(),
                dev.kind,
                guest.name.clone(),
                transport,
                dev.transport.describe(runtime_dir),
                queues,
                events.clone(),
            ));
            if let Some(detail) = own_detail.or_else(|| detail_source(&platform, dev)) {
                state.set_detail_source(detail);
            }
            states.push(state.clone());
            let mut endpoint = Endpoint {
                device: dev.id.clone(),
                guest: guest.name.clone(),
                kind: dev.kind,
                socket: None,
                attachment: dev.transport.describe(runtime_dir),
            };
            match &dev.transport {
                TransportConfig::VhostUser { socket } | TransportConfig::RpmbDev { socket } => {
                    let path = runtime_dir.join(socket);
                    let listener =
                        socket::bind(&path, group).map_err(|source| ServiceError::Socket {
                            device: dev.id.clone(),
                            source,
                        })?;
                    endpoint.socket = Some(path);
                    bound.push((endpoint, device, listener, state));
                }
                TransportConfig::Gunyah {
                    node,
                    label,
                    window_base,
                } => {
                    let label = DeviceLabel::new(*label).map_err(|e| ServiceError::Os {
                        device: dev.id.clone(),
                        why: e.to_string(),
                    })?;
                    let Served::Virtio(device) = device else {
                        return Err(ServiceError::Unsupported(dev.id.clone()));
                    };
                    let nd = NodeDevice {
                        id: dev.id.clone(),
                        label,
                        device,
                        status: Some(state),
                        poll_max: config.service.queue_poll_max(),
                    };
                    match nodes.iter_mut().find(|n| n.path == *node) {
                        Some(n) => {
                            n.devices.push(nd);
                            n.endpoints.push(endpoint);
                        }
                        None => nodes.push(PendingNode {
                            path: node.clone(),
                            window_base: *window_base,
                            devices: vec![nd],
                            endpoints: vec![endpoint],
                        }),
                    }
                }
            }
        }
    }
    let mut endpoints = Vec::new();
    let mut threads = Vec::new();
    for node in nodes {
        let name = node.path.display().to_string();
        let open = open_node.clone();
        let path = node.path.clone();
        threads.push(
            gunyah::start_node(
                &name,
                Box::new(move || open(&path)),
                node.window_base,
                node.devices,
            )
            .map_err(ServiceError::Gunyah)?,
        );
        for ep in node.endpoints {
            info!(
                "{}: {} for guest \"{}\" on {}",
                ep.device,
                ep.kind.name(),
                ep.guest,
                ep.attachment
            );
            endpoints.push(ep);
        }
    }
    for (endpoint, device, listener, state) in bound {
        let id = endpoint.device.clone();
        let os_err = |why: String| ServiceError::Os {
            device: id.clone(),
            why,
        };
        let spawned = match device {
            Served::Virtio(device) => {
                let backend = VhostUserDevice::new(id.clone(), endpoint.guest.clone(), device)
                    .map_err(|e| os_err(format!("cannot create event fds: {e}")))?
                    .with_status(state.clone())
                    .with_poll_max(config.service.queue_poll_max());
                std::thread::Builder::new()
                    .name(id.clone())
                    .spawn(move || serve_or_fail(backend, listener, &state))
            }
            Served::RpmbDev(engine) => {
                let name = id.clone();
                std::thread::Builder::new()
                    .name(id.clone())
                    .spawn(move || rpmb_dev_socket::serve(&name, *engine, listener))
            }
        };
        let thread = spawned.map_err(|e| os_err(format!("cannot spawn thread: {e}")))?;
        info!(
            "{id}: {} for guest \"{}\" on {}",
            endpoint.kind.name(),
            endpoint.guest,
            endpoint.attachment
        );
        endpoints.push(endpoint);
        threads.push(thread);
    }
    let status = Arc::new(Registry::new(states, events));
    status
        .spawn_detail_watcher(DETAIL_WATCH_PERIOD)
        .map_err(|e| ServiceError::Os {
            device: "status".into(),
            why: format!("cannot spawn detail watcher: {e}"),
        })?;
    Ok(Service {
        endpoints,
        status,
        _threads: threads,
    })
}

/// Serves until the process exits; if serving ever stops (a bug that panicked the thread),
/// the device is reported FAILED with the reason instead of silently disappearing.
fn serve_or_fail(
    backend: VhostUserDevice,
    listener: std::os::unix::net::UnixListener,
    state: &DeviceState,
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vhost_user::serve(backend, listener)
    }));
    let why = match outcome {
        Ok(()) => "serving thread ended".to_owned(),
        Err(panic) => match panic.downcast_ref::<&str>() {
            Some(s) => format!("serving thread panicked: {s}"),
            None => match panic.downcast_ref::<String>() {
                Some(s) => format!("serving thread panicked: {s}"),
                None => "serving thread panicked".to_owned(),
            },
        },
    };
    log::error!("{}: {why}", state.id());
    state.record_error(why);
    state.set_link(LinkState::Failed);
}
