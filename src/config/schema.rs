//! The validated config the service consumes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hw::soc::SocIdentity;

use super::kinds::{Backend, DeviceKind};
pub use super::registry::DeviceSpec;
pub use super::rpmb::{RpmbConfig, RpmbInterface, RpmbStorageConfig, RpmbStoreConfig};
use super::scmi::ScmiPlatformConfig;

/// A validated config: everything the service needs to start its devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Process-wide settings.
    pub service: ServiceConfig,
    /// What the platform reports about itself.
    pub soc: SocConfig,
    /// The guests served, in file order; never empty.
    pub guests: Vec<GuestConfig>,
    /// Physical outputs shared by several guests' playback streams.
    pub outputs: Vec<super::sound::OutputConfig>,
    /// Physical RPMBs shared by guests' virtual RPMBs, in file order.
    pub rpmb_stores: Vec<RpmbStoreConfig>,
}

impl Config {
    /// Every device with its guest, guests and devices in file order.
    pub fn devices(&self) -> impl Iterator<Item = (&GuestConfig, &DeviceConfig)> + '_ {
        self.guests
            .iter()
            .flat_map(|g| g.devices.iter().map(move |d| (g, d)))
    }
}

/// `[service]`: process-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Where sockets and state live; see [`super::resolve_runtime_dir`] for the fallbacks.
    pub runtime_dir: Option<PathBuf>,
    /// Where persistent state (RPMB images, keys) lives; see [`super::resolve_state_dir`].
    pub state_dir: Option<PathBuf>,
    /// Group owning the sockets, which are then mode 0660; without it they are 0600.
    pub socket_group: Option<String>,
    /// One of `error`, `warn`, `info`, `debug`, `trace`; overridden by `RUST_LOG`.
    pub log_level: Option<String>,
    /// The control plane's unix socket; relative to the runtime dir; default `control.sock`.
    pub control_socket: Option<PathBuf>,
    /// Group owning the control socket (mode 0660); default `socket_group`, else the
    /// service's own group.
    pub control_group: Option<String>,
    /// The control plane over vsock, when configured.
    pub control_vsock: Option<VsockControl>,
    /// Longest a request queue is busy-polled after its work before sleeping; `None` is
    /// the default ([`ServiceConfig::DEFAULT_QUEUE_POLL_MAX`]), zero turns polling off.
    pub queue_poll_max: Option<Duration>,
    /// The user the service runs as after start-up (when started as root).
    pub user: Option<String>,
    /// Its group after start-up; default the user's primary group.
    pub group: Option<String>,
    /// Supplementary groups kept after start-up; every other one is dropped.
    pub supplementary_groups: Vec<String>,
    /// `false` turns the seccomp filters off (debugging); `None` is on.
    pub sandbox: Option<bool>,
    /// Uids allowed on the control socket (checked with SO_PEERCRED); empty: anyone the
    /// socket's mode lets in.
    pub control_uids: Vec<u32>,
    /// Accept a runtime or state dir that others can write (`service.allow_shared_dirs`).
    pub allow_shared_dirs: bool,
}

impl ServiceConfig {
    /// Default for the longest polling window: QEMU's default poll-max-ns.
    pub const DEFAULT_QUEUE_POLL_MAX: Duration = Duration::from_micros(32);

    /// Default control socket name, in the runtime dir.
    pub const DEFAULT_CONTROL_SOCKET: &'static str = "control.sock";

    /// The control socket path with a relative one placed in `runtime_dir`.
    pub fn control_socket_path(&self, runtime_dir: &Path) -> PathBuf {
        runtime_dir.join(
            self.control_socket
                .as_deref()
                .unwrap_or(Path::new(Self::DEFAULT_CONTROL_SOCKET)),
        )
    }

    /// Upper bound of every queue's adaptive polling window.
    pub fn queue_poll_max(&self) -> Duration {
        self.queue_poll_max.unwrap_or(Self::DEFAULT_QUEUE_POLL_MAX)
    }

    /// Most a queue may be configured to poll: beyond a millisecond spinning costs more than
    /// any wake-up it saves.
    pub const MAX_QUEUE_POLL_US: u64 = 1000;

    /// Whether the seccomp filters are installed (`service.sandbox`, default true).
    pub fn sandbox(&self) -> bool {
        self.sandbox.unwrap_or(true)
    }

    /// The group that owns the control socket, if any is configured.
    pub fn control_group(&self) -> Option<&str> {
        self.control_group
            .as_deref()
            .or(self.socket_group.as_deref())
    }

    /// The control socket's group with the key that sets it: `control_group`, else the
    /// `socket_group` it defaults to.
    pub fn control_group_setting(&self) -> Option<(&'static str, &str)> {
        match (&self.control_group, &self.socket_group) {
            (Some(g), _) => Some(("service.control_group", g.as_str())),
            (None, Some(g)) => Some(("service.socket_group", g.as_str())),
            (None, None) => None,
        }
    }
}

/// `service.control_vsock_*`: RPC binder over vsock for the host VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VsockControl {
    /// Port listened on (any local CID).
    pub port: u32,
    /// Peer CIDs allowed to connect; every other peer is refused and logged.
    pub allowed_cids: Vec<u32>,
}

/// `[soc]`: the platform identity reported to guests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocConfig {
    /// Vendor, sub-vendor and implementation version (SCMI BASE protocol).
    pub identity: SocIdentity,
    /// Clocks, power/reset/performance domains and sensors served over SCMI.
    pub scmi: ScmiPlatformConfig,
}

impl SocConfig {
    /// The Linux clock and sensor roots the config uses ([`ScmiPlatformConfig::linux_paths`]).
    pub fn linux_paths(&self, linux_clocks: bool) -> Vec<PathBuf> {
        self.scmi.linux_paths(linux_clocks)
    }
}

/// One `[[guest]]`: a VM and the devices served to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestConfig {
    /// `[a-z0-9_-]{1,32}`, unique among guests.
    pub name: String,
    /// Owner of this guest's device sockets (a user name or uid), instead of the service.
    pub socket_user: Option<String>,
    /// Group of this guest's device sockets (mode 0660), instead of `service.socket_group`.
    pub socket_group: Option<String>,
    /// Limits applied to this guest's requests.
    pub policy: GuestPolicy,
    /// The guest's devices, in file order; never empty.
    pub devices: Vec<DeviceConfig>,
}

/// `[guest.policy]`: what the service accepts from one guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPolicy {
    /// The most device-readable bytes accepted in one request (512 to 16 MiB).
    pub max_request_bytes: usize,
}

impl GuestPolicy {
    /// Smallest accepted `max_request_bytes`: below it no device's largest request fits.
    pub const MIN_MAX_REQUEST_BYTES: usize = 512;
    /// Largest accepted `max_request_bytes`: bounds what one guest can make the service copy.
    pub const MAX_MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
}

impl Default for GuestPolicy {
    fn default() -> Self {
        Self {
            max_request_bytes: crate::devices::DEFAULT_MAX_REQUEST_LEN,
        }
    }
}

/// One `[[guest.device]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// `<guest>-<kind>`, or `<guest>-<kind>-<n>` (n from 0 in file order) when the guest has
    /// several devices of that kind; unique in the config.
    pub id: String,
    /// What serves it; allowed for `kind` and implemented in this build.
    pub backend: Backend,
    /// How it is put in front of the guest.
    pub transport: TransportConfig,
    /// The kind and its own settings.
    pub spec: DeviceSpec,
    /// Who may connect to the device's socket; open when empty.
    pub peers: PeerAllowlist,
}

/// `peer_uids` / `peer_gids` of a device: the frontends (by SO_PEERCRED) allowed on its
/// socket. A peer is admitted when its uid or its (primary) gid is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerAllowlist {
    /// Allowed peer uids.
    pub uids: Vec<u32>,
    /// Allowed peer gids.
    pub gids: Vec<u32>,
}

impl PeerAllowlist {
    /// Whether any peer may connect (nothing is listed).
    pub fn is_open(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// Whether a peer with these credentials may connect.
    pub fn admits(&self, uid: u32, gid: u32) -> bool {
        self.is_open() || self.uids.contains(&uid) || self.gids.contains(&gid)
    }
}

impl DeviceConfig {
    /// Which virtio device.
    pub fn kind(&self) -> DeviceKind {
        self.spec.kind()
    }
}

/// How a device reaches its guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// A vhost-user backend listening on a unix socket.
    VhostUser {
        /// Socket path; a relative one is relative to the runtime dir.
        socket: PathBuf,
    },
    /// A label on a Gunyah virtio-backend node, serving a virtio-mmio device to the VM the
    /// node belongs to over its shared window.
    Gunyah {
        /// The backend node, e.g. `/dev/gh_virtio_backend_ivi` (absolute); for a VM fd,
        /// `/proc/self/fd/<vm_fd>`.
        node: PathBuf,
        /// The inherited secure-VM-loader VM fd (0xB2 numbering) served instead of a
        /// device node.
        vm_fd: Option<u32>,
        /// The device's label on the node (`qcom,label` in the device tree), nonzero.
        label: u32,
        /// Guest-physical address (in the frontend VM) where the shared window starts,
        /// 4 KiB aligned; the same for every device on a node.
        window_base: u64,
    },
    /// The Android `rpmb_dev` protocol on a unix socket (rpmb devices only).
    RpmbDev {
        /// Socket path; a relative one is relative to the runtime dir.
        socket: PathBuf,
    },
}

impl TransportConfig {
    /// The vhost-user socket path with a relative one placed in `runtime_dir`; `None` for a
    /// transport without a socket.
    pub fn socket_path(&self, runtime_dir: &Path) -> Option<PathBuf> {
        match self {
            // join() keeps an absolute socket as it is.
            Self::VhostUser { socket } | Self::RpmbDev { socket } => Some(runtime_dir.join(socket)),
            Self::Gunyah { .. } => None,
        }
    }

    /// Where a frontend finds the device, for humans: the socket path, or node and label.
    pub fn describe(&self, runtime_dir: &Path) -> String {
        match self {
            Self::VhostUser { socket } => runtime_dir.join(socket).display().to_string(),
            Self::RpmbDev { socket } => {
                format!("{} (rpmb_dev)", runtime_dir.join(socket).display())
            }
            Self::Gunyah {
                vm_fd: Some(fd),
                label,
                window_base,
                ..
            } => format!(
                "VM fd {fd} (0xB2, secure-VM loader; published once the VM is set up) label \
                 {label} window {window_base:#x}"
            ),
            Self::Gunyah {
                node,
                label,
                window_base,
                ..
            } => format!("{} label {label} window {window_base:#x}", node.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_path_resolves_relative_to_runtime_dir() {
        let rel = TransportConfig::VhostUser {
            socket: "vm0-scmi.sock".into(),
        };
        assert_eq!(
            rel.socket_path(Path::new("/run/drivervm")),
            Some(PathBuf::from("/run/drivervm/vm0-scmi.sock"))
        );
        let abs = TransportConfig::VhostUser {
            socket: "/tmp/s.sock".into(),
        };
        assert_eq!(
            abs.socket_path(Path::new("/run/drivervm")),
            Some(PathBuf::from("/tmp/s.sock"))
        );
        let gunyah = TransportConfig::Gunyah {
            node: "/dev/gh_virtio_backend_ivi".into(),
            vm_fd: None,
            label: 3,
            window_base: 0x8000_0000,
        };
        assert_eq!(gunyah.socket_path(Path::new("/run")), None);
        assert_eq!(
            gunyah.describe(Path::new("/run")),
            "/dev/gh_virtio_backend_ivi label 3 window 0x80000000"
        );
    }

    #[test]
    fn default_policy_is_the_device_layer_default() {
        assert_eq!(GuestPolicy::default().max_request_bytes, 65536);
    }
}
