//! Checks a raw config against the schema's rules and builds the typed [`Config`].

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::hw::soc::{self, SocIdentity};

use super::error::ConfigError;
use super::int::{in_range, int_or};
use super::kind_config::TableInput;
use super::kinds::{implemented, name_list, Backend, DeviceKind};
use super::raw::{
    RawConfig, RawDevice, RawGuest, RawGunyah, RawInt, RawService, RawSoc, RawTransport,
};
use super::registry;
use super::schema::{
    Config, DeviceConfig, GuestConfig, GuestPolicy, PeerAllowlist, ServiceConfig, SocConfig,
    TransportConfig, VsockControl,
};
use super::scmi::{ScmiPlatformConfig, ScmiValidator};

/// Accepted `service.log_level` values, most to least severe.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Longest guest name: keeps device ids and default socket names short.
const MAX_GUEST_NAME: usize = 32;

/// Longest SCMI vendor string: 16 bytes including the terminating NUL.
const MAX_SOC_NAME: usize = 15;

/// Alignment of a Gunyah shared window's guest-physical base (one page).
const WINDOW_ALIGN: u64 = 0x1000;

/// Longest absolute socket path: `sun_path` is 108 bytes including the NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Validates `raw`; errors name `file`.
pub(super) fn validate(mut raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let v = Validator { file };
    let service = v.service(raw.service)?;
    let guest_names: Vec<String> = raw.guests.iter().map(|g| g.name.clone()).collect();
    let scmi = ScmiValidator { file }.platform(&mut raw.soc, &guest_names)?;
    let mut soc = v.soc(raw.soc)?;
    soc.scmi = scmi;
    let outputs = super::sound::outputs(file, raw.outputs)?;
    let rpmb_stores = v.rpmb_stores(raw.rpmb_stores)?;
    if raw.guests.is_empty() {
        return Err(v.err(
            "guest",
            "no guests configured (expected at least one [[guest]] table)",
        ));
    }
    // The sections a device's table may refer to, validated before the guests.
    let mut config = Config {
        service,
        soc,
        guests: Vec::new(),
        outputs,
        rpmb_stores,
    };
    let mut guests: Vec<GuestConfig> = Vec::with_capacity(raw.guests.len());
    for (i, g) in raw.guests.into_iter().enumerate() {
        let guest = v.guest(i + 1, g, &config)?;
        if let Some(j) = guests.iter().position(|o| o.name == guest.name) {
            return Err(v.err(
                format!("guest {}", i + 1),
                format!("name \"{}\" is already used by guest {}", guest.name, j + 1),
            ));
        }
        guests.push(guest);
    }
    v.unique_sockets(&config.service, &guests)?;
    v.rpmb_layout(&guests, &config.rpmb_stores)?;
    config.guests = guests;
    Ok(config)
}

/// Carries the file name into every error.
pub(super) struct Validator<'a> {
    file: &'a str,
}

impl<'a> Validator<'a> {
    /// The file errors name.
    pub(super) fn file(&self) -> &'a str {
        self.file
    }

    pub(super) fn err(&self, place: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            place: place.into(),
            reason: reason.into(),
        }
    }

    fn service(&self, raw: RawService) -> Result<ServiceConfig, ConfigError> {
        if let Some(dir) = &raw.runtime_dir {
            if dir.as_os_str().is_empty() {
                return Err(self.err("service.runtime_dir", "must not be empty"));
            }
            if has_nul(dir) {
                return Err(self.err("service.runtime_dir", "contains a NUL byte"));
            }
        }
        if let Some(dir) = &raw.state_dir {
            if dir.as_os_str().is_empty() {
                return Err(self.err("service.state_dir", "must not be empty"));
            }
            if has_nul(dir) {
                return Err(self.err("service.state_dir", "contains a NUL byte"));
            }
        }
        for (key, group) in [
            ("service.socket_group", &raw.socket_group),
            ("service.control_group", &raw.control_group),
            ("service.group", &raw.group),
        ] {
            if let Some(group) = group {
                self.group(key, group)?;
            }
        }
        let supplementary_groups = raw.supplementary_groups.unwrap_or_default();
        for (i, group) in supplementary_groups.iter().enumerate() {
            self.group(&format!("service.supplementary_groups[{i}]"), group)?;
        }
        if let Some(user) = &raw.user {
            self.user("service.user", user)?;
        }
        if let Some(socket) = &raw.control_socket {
            self.socket("service.control_socket", socket)?;
        }
        let control_vsock = self.control_vsock(raw.control_vsock_port, raw.control_vsock_cids)?;
        if let Some(level) = &raw.log_level {
            if !LOG_LEVELS.contains(&level.as_str()) {
                return Err(self.err(
                    "service.log_level",
                    format!(
                        "unknown log level \"{}\" (expected one of: {})",
                        level.escape_debug(),
                        LOG_LEVELS.join(", ")
                    ),
                ));
            }
        }
        let queue_poll_max = match raw.queue_poll_max_us {
            None => None,
            Some(RawInt(us)) => {
                let us = in_range(us, 0, ServiceConfig::MAX_QUEUE_POLL_US, " microseconds")
                    .map_err(|why| self.err("service.queue_poll_max_us", why))?;
                Some(Duration::from_micros(us))
            }
        };
        let control_uids = match raw.control_uids {
            None => Vec::new(),
            Some(list) => self.id_list("service.control_uids", list)?,
        };
        Ok(ServiceConfig {
            control_uids,
            allow_shared_dirs: raw.allow_shared_dirs.unwrap_or(false),
            queue_poll_max,
            runtime_dir: raw.runtime_dir,
            state_dir: raw.state_dir,
            socket_group: raw.socket_group,
            log_level: raw.log_level,
            control_socket: raw.control_socket,
            control_group: raw.control_group,
            control_vsock,
            user: raw.user,
            group: raw.group,
            supplementary_groups,
            sandbox: raw.sandbox,
        })
    }

    fn user(&self, key: &str, user: &str) -> Result<(), ConfigError> {
        let bad = |c: char| c.is_whitespace() || c == ':' || c == '/' || c == '\0';
        if user.is_empty() || user.contains(bad) {
            return Err(self.err(
                key,
                format!(
                    "\"{}\" is not a user name (expected a non-empty name without \
                     whitespace, ':' or '/')",
                    user.escape_debug()
                ),
            ));
        }
        // All digits is a numeric uid; one that no uid_t can hold is a typo.
        if user.bytes().all(|b| b.is_ascii_digit())
            && user
                .parse::<u32>()
                .ok()
                .filter(|&u| u != u32::MAX)
                .is_none()
        {
            return Err(self.err(
                key,
                format!("{user} is not a uid (expected 0 to 4294967294)"),
            ));
        }
        Ok(())
    }

    fn group(&self, key: &str, group: &str) -> Result<(), ConfigError> {
        let bad = |c: char| c.is_whitespace() || c == ':' || c == '/' || c == '\0';
        if group.is_empty() || group.contains(bad) {
            return Err(self.err(
                key,
                format!(
                    "\"{}\" is not a group name (expected a non-empty name without \
                     whitespace, ':' or '/')",
                    group.escape_debug()
                ),
            ));
        }
        // All digits is a numeric gid (Android's AIDs); one that no gid_t can hold is a typo.
        if group.bytes().all(|b| b.is_ascii_digit()) && super::numeric_gid(group).is_none() {
            return Err(self.err(
                key,
                format!("{group} is not a gid (expected 0 to 4294967294)"),
            ));
        }
        Ok(())
    }

    /// A uid or gid allowlist: at least one id, each 0 to 4294967294 (-1 is "no id").
    fn id_list(&self, key: &str, list: Vec<RawInt>) -> Result<Vec<u32>, ConfigError> {
        if list.is_empty() {
            return Err(self.err(
                key,
                "empty (omit the key to leave it open; an empty list would admit nobody)",
            ));
        }
        let mut ids = Vec::with_capacity(list.len());
        for RawInt(id) in list {
            let id = in_range(id, 0, u32::MAX - 1, "").map_err(|why| self.err(key, why))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// A user or group name, or a numeric id.
    fn owner_name(&self, key: &str, name: &str, what: &str) -> Result<(), ConfigError> {
        let bad = |c: char| c.is_whitespace() || c == ':' || c == '/' || c == '\0';
        if name.is_empty() || name.contains(bad) {
            return Err(self.err(
                key,
                format!(
                    "\"{}\" is not a {what} name or id (expected a non-empty name without \
                     whitespace, ':' or '/')",
                    name.escape_debug()
                ),
            ));
        }
        Ok(())
    }

    /// Port and allowlist; u32::MAX is VMADDR_PORT_ANY / VMADDR_CID_ANY, never a real peer.
    fn control_vsock(
        &self,
        port: Option<RawInt>,
        cids: Option<Vec<RawInt>>,
    ) -> Result<Option<VsockControl>, ConfigError> {
        let max = u64::from(u32::MAX - 1);
        let Some(RawInt(port)) = port else {
            if cids.is_some() {
                return Err(self.err(
                    "service.control_vsock_cids",
                    "set without service.control_vsock_port (the allowlist needs a port to guard)",
                ));
            }
            return Ok(None);
        };
        let port = in_range(port, 1, u32::MAX - 1, "")
            .map_err(|why| self.err("service.control_vsock_port", why))?;
        let cids = cids.unwrap_or_default();
        if cids.is_empty() {
            return Err(self.err(
                "service.control_vsock_cids",
                "no peer CIDs allowed (expected at least one, e.g. [2] for the host)",
            ));
        }
        let mut allowed_cids = Vec::with_capacity(cids.len());
        for (i, RawInt(cid)) in cids.into_iter().enumerate() {
            let cid = u32::try_from(cid)
                .ok()
                .filter(|c| u64::from(*c) <= max)
                .ok_or_else(|| {
                    self.err(
                        format!("service.control_vsock_cids[{i}]"),
                        format!("{cid} is not a peer CID (expected 0 to {max})"),
                    )
                })?;
            allowed_cids.push(cid);
        }
        Ok(Some(VsockControl { port, allowed_cids }))
    }

    fn soc(&self, raw: RawSoc) -> Result<SocConfig, ConfigError> {
        let defaults = SocIdentity::default();
        let vendor = self.soc_name("soc.vendor", raw.vendor, defaults.vendor)?;
        let sub_vendor = self.soc_name("soc.sub_vendor", raw.sub_vendor, defaults.sub_vendor)?;
        let implementation_version = match raw.implementation_version {
            None => soc::implementation_version(),
            Some(RawInt(n)) => in_range(n, 0, u32::MAX, "")
                .map_err(|why| self.err("soc.implementation_version", why))?,
        };
        Ok(SocConfig {
            identity: SocIdentity {
                vendor,
                sub_vendor,
                implementation_version,
            },
            scmi: ScmiPlatformConfig::default(),
        })
    }

    fn soc_name(
        &self,
        place: &str,
        value: Option<String>,
        default: String,
    ) -> Result<String, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let printable = value.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if value.is_empty() || value.len() > MAX_SOC_NAME || !printable {
            return Err(self.err(
                place,
                format!(
                    "\"{}\" is not a valid name (expected 1 to {MAX_SOC_NAME} printable ASCII \
                     characters)",
                    value.escape_debug()
                ),
            ));
        }
        Ok(value)
    }

    fn guest(
        &self,
        number: usize,
        raw: RawGuest,
        sections: &Config,
    ) -> Result<GuestConfig, ConfigError> {
        if !valid_guest_name(&raw.name) {
            return Err(self.err(
                format!("guest {number}"),
                format!(
                    "invalid name \"{}\" (expected 1 to {MAX_GUEST_NAME} characters from a-z, \
                     0-9, _ and -)",
                    raw.name.escape_debug()
                ),
            ));
        }
        let name = raw.name;
        if let Some(user) = &raw.socket_user {
            self.owner_name(&format!("guest \"{name}\" socket_user"), user, "user")?;
        }
        if let Some(group) = &raw.socket_group {
            self.owner_name(&format!("guest \"{name}\" socket_group"), group, "group")?;
        }
        let max_request_bytes = int_or(
            raw.policy.max_request_bytes,
            GuestPolicy::default().max_request_bytes,
            GuestPolicy::MIN_MAX_REQUEST_BYTES,
            GuestPolicy::MAX_MAX_REQUEST_BYTES,
        )
        .map_err(|why| self.err(format!("guest \"{name}\" policy.max_request_bytes"), why))?;
        if raw.devices.is_empty() {
            return Err(self.err(
                format!("guest \"{name}\""),
                "no devices configured (expected at least one [[guest.device]] table)",
            ));
        }
        let mut parsed = Vec::with_capacity(raw.devices.len());
        for (i, d) in raw.devices.into_iter().enumerate() {
            let place = format!("guest \"{name}\" device {}", i + 1);
            parsed.push((place.clone(), self.device(&place, d)?));
        }
        let mut count: HashMap<DeviceKind, usize> = HashMap::new();
        for (_, d) in &parsed {
            *count.entry(d.kind).or_default() += 1;
        }
        let mut seen: HashMap<DeviceKind, usize> = HashMap::new();
        let mut devices = Vec::with_capacity(parsed.len());
        for (place, parsed) in parsed {
            let ParsedDevice {
                kind,
                backend,
                backend_given,
                mut raw,
                peers,
            } = parsed;
            let n = seen.entry(kind).or_default();
            let id = if count.get(&kind).copied().unwrap_or(0) > 1 {
                format!("{name}-{}-{n}", kind.name())
            } else {
                format!("{name}-{}", kind.name())
            };
            *n += 1;
            let transport = match raw.transport.take() {
                Some(RawTransport::VhostUser(v)) => match v.socket {
                    Some(s) => {
                        self.socket(&place, &s)?;
                        TransportConfig::VhostUser { socket: s }
                    }
                    None => TransportConfig::VhostUser {
                        socket: PathBuf::from(format!("{id}.sock")),
                    },
                },
                None => TransportConfig::VhostUser {
                    socket: PathBuf::from(format!("{id}.sock")),
                },
                Some(RawTransport::Gunyah(g)) => self.gunyah(&place, g)?,
                Some(RawTransport::RpmbDev(r)) => match r.socket {
                    Some(s) => {
                        self.socket(&place, &s)?;
                        TransportConfig::RpmbDev { socket: s }
                    }
                    None => TransportConfig::RpmbDev {
                        socket: PathBuf::from(format!("{id}.sock")),
                    },
                },
            };
            let Some(entry) = registry::find(kind) else {
                return Err(self.err(place, format!("no config entry for kind {}", kind.name())));
            };
            let input = TableInput {
                v: self,
                place: &place,
                id: &id,
                kind,
                backend,
                backend_given,
                transport: &transport,
                sections,
            };
            // Other kinds' keys first: a key in the wrong kind's device is the likelier typo.
            for (other, c) in registry::KINDS {
                if *other != kind {
                    c.refuse(&input, &mut raw)?;
                }
            }
            let (backend, spec) = entry.table(&input, &mut raw)?;
            if !peers.is_open() && matches!(transport, TransportConfig::Gunyah { .. }) {
                return Err(self.err(
                    format!("{place} peer_uids"),
                    "peer allowlists apply to socket transports (a Gunyah node has no peer)",
                ));
            }
            devices.push(DeviceConfig {
                id,
                backend,
                transport,
                spec,
                peers,
            });
        }
        Ok(GuestConfig {
            socket_user: raw.socket_user,
            socket_group: raw.socket_group,
            name,
            policy: GuestPolicy { max_request_bytes },
            devices,
        })
    }

    /// Kind and backend of one device, checked against what this build serves, and its
    /// peer allowlist; the rest of its table waits for its id and transport.
    fn device(&self, place: &str, mut raw: RawDevice) -> Result<ParsedDevice, ConfigError> {
        let kind = DeviceKind::from_name(&raw.kind).ok_or_else(|| {
            self.err(
                place,
                format!(
                    "unknown device kind \"{}\" (expected one of: {})",
                    raw.kind.escape_debug(),
                    name_list(&DeviceKind::known().collect::<Vec<_>>(), DeviceKind::name)
                ),
            )
        })?;
        let allowed = kind.backends();
        let backend = match &raw.backend {
            None => kind.default_backend(),
            Some(b) => match Backend::from_name(b) {
                Some(backend) if allowed.contains(&backend) => backend,
                Some(_) => {
                    return Err(self.err(
                        place,
                        format!(
                            "backend \"{b}\" does not serve kind \"{}\" (expected one of: {})",
                            kind.name(),
                            name_list(allowed, Backend::name)
                        ),
                    ))
                }
                None => {
                    return Err(self.err(
                        place,
                        format!(
                            "unknown backend \"{}\" (expected one of: {})",
                            b.escape_debug(),
                            name_list(allowed, Backend::name)
                        ),
                    ))
                }
            },
        };
        if !kind.is_available() {
            return Err(self.err(
                place,
                format!(
                    "device kind \"{}\" is not available in this build yet",
                    kind.name()
                ),
            ));
        }
        if !implemented(kind, backend) {
            return Err(self.err(
                place,
                format!(
                    "backend \"{}\" for kind \"{}\" is not available in this build yet",
                    backend.name(),
                    kind.name()
                ),
            ));
        }
        let peers = PeerAllowlist {
            uids: match raw.peer_uids.take() {
                Some(l) => self.id_list(&format!("{place} peer_uids"), l)?,
                None => Vec::new(),
            },
            gids: match raw.peer_gids.take() {
                Some(l) => self.id_list(&format!("{place} peer_gids"), l)?,
                None => Vec::new(),
            },
        };
        Ok(ParsedDevice {
            peers,
            kind,
            backend,
            backend_given: raw.backend.is_some(),
            raw,
        })
    }

    fn gunyah(&self, place: &str, raw: RawGunyah) -> Result<TransportConfig, ConfigError> {
        let (node, vm_fd) = match (raw.node, raw.vm_fd) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    place,
                    "gunyah node and vm_fd are both set (give node for a 0xBC device node, or \
                     vm_fd for a secure-VM-loader VM fd, not both)"
                        .to_owned(),
                ))
            }
            (None, None) => {
                return Err(self.err(
                    place,
                    "gunyah needs node (a 0xBC device node such as \
                     /dev/gh_virtio_backend_<vm>) or vm_fd (an inherited secure-VM-loader VM \
                     fd)"
                    .to_owned(),
                ))
            }
            (Some(node), None) => (node, None),
            (None, Some(RawInt(n))) => {
                let fd = u32::try_from(n)
                    .ok()
                    .filter(|&f| f >= 3 && i32::try_from(f).is_ok())
                    .ok_or_else(|| {
                        self.err(
                            place,
                            format!(
                                "gunyah vm_fd {n} is out of range (expected the number of a \
                                 descriptor drivervm inherits, 3 to {}; 0 to 2 are stdin, \
                                 stdout and stderr)",
                                i32::MAX
                            ),
                        )
                    })?;
                (PathBuf::from(super::vm_fd_node(fd)), Some(fd))
            }
        };
        let shown = shown_path(&node);
        if vm_fd.is_none() && super::vm_fd_of(&node).is_some() {
            return Err(self.err(
                place,
                format!(
                    "gunyah node \"{shown}\" is a descriptor, not a device node (give an \
                     inherited VM fd as vm_fd)"
                ),
            ));
        }
        if has_nul(&node) {
            return Err(self.err(
                place,
                format!("gunyah node \"{shown}\" contains a NUL byte"),
            ));
        }
        if !node.is_absolute() || node.file_name().is_none() {
            return Err(self.err(
                place,
                format!(
                    "gunyah node \"{shown}\" is not an absolute path to a device node \
                     (expected e.g. /dev/gh_virtio_backend_<vm>)"
                ),
            ));
        }
        let RawInt(label) = raw.label;
        let label = u32::try_from(label)
            .ok()
            .filter(|&l| l != 0)
            .ok_or_else(|| {
                self.err(
                    place,
                    format!(
                        "gunyah label {label} is out of range (expected 1 to {})",
                        u32::MAX
                    ),
                )
            })?;
        let RawInt(base) = raw.window_base;
        let window_base = u64::try_from(base)
            .ok()
            .filter(|b| b % WINDOW_ALIGN == 0)
            .ok_or_else(|| {
                self.err(
                    place,
                    format!(
                        "gunyah window_base {} is not a {WINDOW_ALIGN:#x}-aligned \
                         guest-physical address",
                        signed_hex(base)
                    ),
                )
            })?;
        Ok(TransportConfig::Gunyah {
            node,
            vm_fd,
            label,
            window_base,
        })
    }

    fn socket(&self, place: &str, socket: &Path) -> Result<(), ConfigError> {
        let shown = shown_path(socket);
        if has_nul(socket) {
            return Err(self.err(place, format!("socket \"{shown}\" contains a NUL byte")));
        }
        if socket.file_name().is_none() {
            return Err(self.err(place, format!("socket \"{shown}\" does not name a file")));
        }
        let len = socket.as_os_str().len();
        if socket.is_absolute() && len > MAX_SOCKET_PATH {
            return Err(self.err(
                place,
                format!(
                    "socket \"{shown}\" is {len} bytes long (a unix socket path holds at most \
                     {MAX_SOCKET_PATH})"
                ),
            ));
        }
        Ok(())
    }

    fn unique_sockets(
        &self,
        service: &ServiceConfig,
        guests: &[GuestConfig],
    ) -> Result<(), ConfigError> {
        let mut owners: HashMap<PathBuf, String> = HashMap::new();
        let mut labels: HashMap<(PathBuf, u32), String> = HashMap::new();
        let mut windows: HashMap<PathBuf, (u64, String)> = HashMap::new();
        let control = service
            .control_socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(ServiceConfig::DEFAULT_CONTROL_SOCKET));
        owners.insert(
            control
                .components()
                .filter(|c| !matches!(c, Component::CurDir))
                .collect(),
            "service.control_socket".to_owned(),
        );
        for g in guests {
            for (i, d) in g.devices.iter().enumerate() {
                let place = format!("guest \"{}\" device {}", g.name, i + 1);
                let socket = match &d.transport {
                    TransportConfig::VhostUser { socket } | TransportConfig::RpmbDev { socket } => {
                        socket
                    }
                    TransportConfig::Gunyah {
                        node,
                        label,
                        window_base,
                        ..
                    } => {
                        let shown = shown_path(node);
                        if let Some(owner) = labels.get(&(node.clone(), *label)) {
                            return Err(self.err(
                                place,
                                format!("gunyah label {label} on \"{shown}\" is already used by {owner}"),
                            ));
                        }
                        if let Some((base, owner)) = windows.get(node) {
                            if base != window_base {
                                return Err(self.err(
                                    place,
                                    format!(
                                        "gunyah window_base {window_base:#x} differs from \
                                         {base:#x} set for \"{shown}\" by {owner} (a node has \
                                         one shared window)"
                                    ),
                                ));
                            }
                        }
                        labels.insert((node.clone(), *label), place.clone());
                        windows.insert(node.clone(), (*window_base, place));
                        continue;
                    }
                };
                // "a.sock" and "./a.sock" are the same socket.
                let key: PathBuf = socket
                    .components()
                    .filter(|c| !matches!(c, Component::CurDir))
                    .collect();
                if let Some(owner) = owners.get(&key) {
                    return Err(self.err(
                        place,
                        format!(
                            "socket \"{}\" is already used by {owner}",
                            shown_path(socket)
                        ),
                    ));
                }
                owners.insert(key, place);
            }
        }
        Ok(())
    }
}

/// One device as written, before its id is known: kind, backend and peer allowlist checked,
/// the rest (its transport and its kind's table) as written.
struct ParsedDevice {
    kind: DeviceKind,
    backend: Backend,
    backend_given: bool,
    raw: RawDevice,
    peers: PeerAllowlist,
}

fn valid_guest_name(name: &str) -> bool {
    (1..=MAX_GUEST_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// `n` in hex with its sign, as a user would have written it.
fn signed_hex(n: i64) -> String {
    if n < 0 {
        format!("-{:#x}", n.unsigned_abs())
    } else {
        format!("{n:#x}")
    }
}

fn has_nul(path: &Path) -> bool {
    path.as_os_str().as_bytes().contains(&0)
}

/// A path as messages quote it: lossy UTF-8 with control characters escaped.
fn shown_path(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}
