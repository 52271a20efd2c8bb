//! Wires a validated config to devices and transports, and runs them until told to stop.

pub mod dirs;
pub mod kind;
pub mod registry;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use log::info;
use nix::unistd::{Gid, Uid, User};

use crate::config::{Config, DeviceConfig, DeviceKind, GuestConfig, TransportConfig};
use crate::sandbox::{self, Link, Role};
use crate::service::kind::{BuildContext, Built, Phase, Served};
use crate::service::registry::rpmb::RpmbSetupError;
use crate::status::{DeviceState, EventBus, LinkState, Registry, TransportKind};
use crate::transport::gunyah::{
    self, BackendNode, DeviceLabel, GunyahBackendIo, GunyahError, NodeDevice,
};
use crate::transport::socket::{self, SocketAccess, SocketError};
use crate::transport::vhost_user::{self, Gate, VhostUserDevice};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The runtime or state dir is unusable or others could write it.
    #[error(transparent)]
    Dir(#[from] dirs::DirError),
    /// `service.socket_group` or a guest's `socket_group` names no group.
    #[error(transparent)]
    Group(#[from] crate::config::GroupError),
    /// A guest's `socket_user` names no user.
    #[error("{key} \"{name}\": no such user")]
    NoSuchUser {
        /// The key that names it.
        key: String,
        /// The name given.
        name: String,
    },
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
            if let Err(e) = socket::remove(socket) {
                log::warn!("{}: cannot remove socket: {e}", socket.display());
            }
        }
    }
}

/// Opens a Gunyah backend node by path, again each time the frontend VM exits: the daemon
/// opens the device node, tests hand out simulated nodes.
pub type NodeOpener = Arc<dyn Fn(&Path) -> std::io::Result<Arc<dyn GunyahBackendIo>> + Send + Sync>;

/// Opens the real `/dev/gh_virtio_backend_<vm>` node, or takes over the inherited VM fd a
/// `vm_fd` config names as `/proc/self/fd/<n>`.
pub fn open_backend_node(path: &Path) -> std::io::Result<Arc<dyn GunyahBackendIo>> {
    match gunyah::vm_fd_of(path) {
        Some(n) => Ok(Arc::new(gunyah::VmFdBackend::take_inherited(n)?)),
        None => Ok(Arc::new(BackendNode::open(path)?)),
    }
}

/// Creates `dir` and checks that it is usable and that nobody but the service can write it,
/// unless `allow_shared`. Created 0700, or 0711 when sockets are shared with other users or
/// a group: they must be able to reach the sockets (whose own modes decide who may connect)
/// and the directory's group is the service's, not theirs.
pub fn prepare_runtime_dir(
    dir: &Path,
    shared: bool,
    allow_shared: bool,
) -> Result<(), ServiceError> {
    let mode = if shared { 0o711 } else { 0o700 };
    dirs::prepare(
        "runtime dir",
        dir,
        mode,
        &dirs::service_owners(),
        allow_shared,
    )?;
    Ok(())
}

fn socket_group(config: &Config) -> Result<Option<Gid>, ServiceError> {
    let Some(name) = &config.service.socket_group else {
        return Ok(None);
    };
    Ok(Some(crate::config::resolve_group(
        "service.socket_group",
        name,
    )?))
}

/// Who may open `guest`'s device sockets: its own socket_user and socket_group, else
/// `service.socket_group`.
fn guest_access(
    guest: &GuestConfig,
    service_group: Option<Gid>,
) -> Result<SocketAccess, ServiceError> {
    let owner = match &guest.socket_user {
        None => None,
        Some(name) => Some(match User::from_name(name) {
            Ok(Some(u)) => u.uid,
            _ => name
                .parse::<u32>()
                .map(Uid::from_raw)
                .map_err(|_| ServiceError::NoSuchUser {
                    key: format!("guest \"{}\" socket_user", guest.name),
                    name: name.clone(),
                })?,
        }),
    };
    let group = match &guest.socket_group {
        Some(name) => Some(crate::config::resolve_group("guest socket_group", name)?),
        None => service_group,
    };
    Ok(SocketAccess { owner, group })
}

/// Binds every device's socket and publishes every Gunyah device, then starts serving them
/// all; Gunyah nodes are opened with [`open_backend_node`].
pub fn start(config: &Config, runtime_dir: &Path) -> Result<Service, ServiceError> {
    start_with(config, runtime_dir, Arc::new(open_backend_node))
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
    let shared = group.is_some()
        || config.service.control_group.is_some()
        || config
            .guests
            .iter()
            .any(|g| g.socket_user.is_some() || g.socket_group.is_some());
    prepare_runtime_dir(runtime_dir, shared, config.service.allow_shared_dirs)?;
    let built = build_devices(&mut BuildContext::new(config, runtime_dir, state_dir))?;
    let events = Arc::new(EventBus::new());
    let mut placed = Placed::default();
    for (guest, dev, built) in built {
        placed.add(config, runtime_dir, group, guest, dev, built, &events)?;
    }
    let mut endpoints = Vec::new();
    let mut threads = Vec::new();
    for node in placed.nodes {
        threads.push(start_gunyah_node(node, &open_node, &mut endpoints)?);
    }
    for bound in placed.bound {
        threads.push(start_socket_device(config, bound, &mut endpoints)?);
    }
    let status = Arc::new(Registry::new(placed.states, events));
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

/// Builds every configured device, phase by phase ([`Phase::ORDER`]); returns them in
/// config order whatever order they were built in.
fn build_devices<'c>(
    cx: &mut BuildContext<'c>,
) -> Result<Vec<(&'c GuestConfig, &'c DeviceConfig, Built)>, ServiceError> {
    let config = cx.config;
    let mut slots: Vec<(&GuestConfig, &DeviceConfig, Option<Built>)> = config
        .guests
        .iter()
        .flat_map(|g| g.devices.iter().map(move |d| (g, d, None)))
        .collect();
    for phase in Phase::ORDER {
        for (guest, dev, slot) in &mut slots {
            let kind = registry::find(dev.kind())
                .ok_or_else(|| ServiceError::Unsupported(dev.id.clone()))?;
            if kind.phase() == phase {
                *slot = Some(kind.build(cx, guest, dev)?);
            }
        }
    }
    slots
        .into_iter()
        .map(|(g, d, built)| {
            built
                .map(|b| (g, d, b))
                .ok_or_else(|| ServiceError::Unsupported(d.id.clone()))
        })
        .collect()
}

/// A device whose unix socket is bound, waiting for its serving thread.
struct BoundDevice {
    endpoint: Endpoint,
    served: Served,
    listener: std::os::unix::net::UnixListener,
    state: Arc<DeviceState>,
    /// Who may connect (vhost-user; rpmb_dev checks its own).
    gate: Gate,
}

/// A Gunyah node being prepared: its devices and the window base they agree on.
struct PendingNode {
    path: PathBuf,
    window_base: u64,
    devices: Vec<NodeDevice>,
    endpoints: Vec<Endpoint>,
}

/// Built devices put in front of their transports, not serving yet.
#[derive(Default)]
struct Placed {
    /// Every device's status, in config order.
    states: Vec<Arc<DeviceState>>,
    bound: Vec<BoundDevice>,
    nodes: Vec<PendingNode>,
}

impl Placed {
    /// Gives `dev` its status and binds its socket, or queues it on its Gunyah node.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        config: &Config,
        runtime_dir: &Path,
        service_group: Option<Gid>,
        guest: &GuestConfig,
        dev: &DeviceConfig,
        built: Built,
        events: &Arc<EventBus>,
    ) -> Result<(), ServiceError> {
        let transport = match dev.transport {
            TransportConfig::VhostUser { .. } => TransportKind::VhostUser,
            TransportConfig::RpmbDev { .. } => TransportKind::RpmbDev,
            TransportConfig::Gunyah { .. } => TransportKind::Gunyah,
        };
        let state = Arc::new(DeviceState::new(
            dev.id.clone(),
            dev.kind(),
            guest.name.clone(),
            transport,
            dev.transport.describe(runtime_dir),
            built.served.queues(),
            events.clone(),
        ));
        if let Some(detail) = built.detail {
            state.set_detail_source(detail);
        }
        self.states.push(state.clone());
        let mut endpoint = Endpoint {
            device: dev.id.clone(),
            guest: guest.name.clone(),
            kind: dev.kind(),
            socket: None,
            attachment: dev.transport.describe(runtime_dir),
        };
        match &dev.transport {
            TransportConfig::VhostUser { socket } | TransportConfig::RpmbDev { socket } => {
                let path = runtime_dir.join(socket);
                // A socket outside the runtime dir lives in a directory that was not
                // checked yet; whoever can write it could swap the socket.
                if let Some(parent) = path.parent().filter(|p| *p != runtime_dir) {
                    dirs::check_existing(
                        "socket dir",
                        parent,
                        &dirs::service_owners(),
                        config.service.allow_shared_dirs,
                    )?;
                }
                let access = guest_access(guest, service_group)?;
                let listener =
                    socket::bind(&path, access).map_err(|source| ServiceError::Socket {
                        device: dev.id.clone(),
                        source,
                    })?;
                let gate = if dev.peers.is_open() {
                    Gate::Open
                } else {
                    Gate::Peers {
                        allow: dev.peers.clone(),
                        dir: match path.parent() {
                            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
                            _ => PathBuf::from("."),
                        },
                    }
                };
                endpoint.socket = Some(path);
                self.bound.push(BoundDevice {
                    endpoint,
                    served: built.served,
                    listener,
                    state,
                    gate,
                });
            }
            TransportConfig::Gunyah {
                node,
                label,
                window_base,
                ..
            } => {
                let label = DeviceLabel::new(*label).map_err(|e| ServiceError::Os {
                    device: dev.id.clone(),
                    why: e.to_string(),
                })?;
                let Served::Virtio(device) = built.served else {
                    return Err(ServiceError::Unsupported(dev.id.clone()));
                };
                let nd = NodeDevice {
                    id: dev.id.clone(),
                    label,
                    device,
                    status: Some(state),
                    poll_max: config.service.queue_poll_max(),
                };
                match self.nodes.iter_mut().find(|n| n.path == *node) {
                    Some(n) => {
                        n.devices.push(nd);
                        n.endpoints.push(endpoint);
                    }
                    None => self.nodes.push(PendingNode {
                        path: node.clone(),
                        window_base: *window_base,
                        devices: vec![nd],
                        endpoints: vec![endpoint],
                    }),
                }
            }
        }
        Ok(())
    }
}

/// Opens `node` and starts serving its devices; their endpoints are added to `endpoints`.
fn start_gunyah_node(
    node: PendingNode,
    open_node: &NodeOpener,
    endpoints: &mut Vec<Endpoint>,
) -> Result<JoinHandle<()>, ServiceError> {
    let name = node.path.display().to_string();
    let open = open_node.clone();
    let path = node.path.clone();
    let thread = gunyah::start_node(
        &name,
        Box::new(move || open(&path)),
        node.window_base,
        node.devices,
    )
    .map_err(ServiceError::Gunyah)?;
    for ep in node.endpoints {
        log_served(&ep);
        endpoints.push(ep);
    }
    Ok(thread)
}

/// Starts the thread serving a device on its bound socket; its endpoint is added to
/// `endpoints`.
fn start_socket_device(
    config: &Config,
    bound: BoundDevice,
    endpoints: &mut Vec<Endpoint>,
) -> Result<JoinHandle<()>, ServiceError> {
    let BoundDevice {
        endpoint,
        served,
        listener,
        state,
        gate,
    } = bound;
    let id = endpoint.device.clone();
    let role = Role::Device(endpoint.kind, Link::Socket);
    let os_err = |why: String| ServiceError::Os {
        device: id.clone(),
        why,
    };
    let spawned = match served {
        Served::Virtio(device) => {
            let backend = VhostUserDevice::new(id.clone(), endpoint.guest.clone(), device)
                .map_err(|e| os_err(format!("cannot create event fds: {e}")))?
                .with_status(state.clone())
                .with_poll_max(config.service.queue_poll_max());
            std::thread::Builder::new().name(id.clone()).spawn(move || {
                sandbox::enter(role);
                serve_or_fail(backend, listener, gate, &state)
            })
        }
        Served::OwnSocket(serve) => std::thread::Builder::new().name(id.clone()).spawn(move || {
            sandbox::enter(role);
            serve(listener)
        }),
    };
    let thread = spawned.map_err(|e| os_err(format!("cannot spawn thread: {e}")))?;
    log_served(&endpoint);
    endpoints.push(endpoint);
    Ok(thread)
}

fn log_served(ep: &Endpoint) {
    info!(
        "{}: {} for guest \"{}\" on {}",
        ep.device,
        ep.kind.name(),
        ep.guest,
        ep.attachment
    );
}

/// Serves until the process exits; if serving ever stops (a bug that panicked the thread),
/// the device is reported FAILED with the reason instead of silently disappearing.
fn serve_or_fail(
    backend: VhostUserDevice,
    listener: std::os::unix::net::UnixListener,
    gate: Gate,
    state: &DeviceState,
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        vhost_user::serve_gated(backend, listener, gate)
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
