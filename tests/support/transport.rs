//! One suite, two transports: a config served over vhost-user (the real `drivervm` process,
//! driven by the harness over its sockets) or over Gunyah (the service in-process on
//! simulated backend nodes, driven by the simulator's frontend driver).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use drivervm::config::{self, TransportConfig};
use drivervm::devices::VirtioDevice;
use drivervm::harness::{Driver, HarnessOptions, DEFAULT_MEMORY_SIZE};
use drivervm::service;
use drivervm::transport::gunyah::sim::{SimDriver, SimNode};
use drivervm::transport::gunyah::{start_node, DeviceLabel, GunyahBackendIo, NodeDevice};
use drivervm::transport::poll::DEFAULT_POLL_MAX;
use drivervm::transport::vhost_user::{serve, VhostUserDevice};

use super::{logs, Service};

/// Which transport a test runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// vhost-user sockets of a `drivervm` process.
    VhostUser,
    /// Gunyah backend nodes, simulated, served in-process.
    Gunyah,
}

/// Guest-physical base of every simulated node's window (not zero, not the harness's
/// vhost-user base, so a transport mixing them up is caught).
pub const SIM_WINDOW_BASE: u64 = 0x8000_0000;

/// A config being served over one transport.
pub enum Served {
    /// The daemon with vhost-user sockets.
    VhostUser(Service),
    /// The service in-process on simulated nodes.
    Gunyah(GunyahServed),
}

/// The in-process service and the simulated nodes it serves on.
pub struct GunyahServed {
    /// Device id → (node path, label).
    devices: HashMap<String, (String, u32)>,
    nodes: Arc<HashMap<String, SimNode>>,
    _service: service::Service,
    dir: tempfile::TempDir,
}

impl Drop for GunyahServed {
    fn drop(&mut self) {
        // The service's threads hold the opener (and so the nodes): remove the nodes so
        // that they stop.
        for n in self.nodes.values() {
            n.close();
        }
    }
}

impl Served {
    /// Serves `config` (written for the default vhost-user transport) over `transport`.
    pub fn start(transport: Transport, config: &str) -> Served {
        match transport {
            Transport::VhostUser => {
                let parsed = config::parse(config, "test config").expect("test config");
                let sockets: Vec<String> = parsed
                    .devices()
                    .map(|(_, d)| format!("{}.sock", d.id))
                    .collect();
                let names: Vec<&str> = sockets.iter().map(String::as_str).collect();
                Served::VhostUser(Service::start(config, &names))
            }
            Transport::Gunyah => Served::Gunyah(GunyahServed::start(config)),
        }
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        match self {
            Served::VhostUser(_) => Transport::VhostUser,
            Served::Gunyah(_) => Transport::Gunyah,
        }
    }

    /// A driver for device `id` with `queues` queues set up.
    pub fn connect(&self, id: &str, queues: usize, options: &HarnessOptions) -> Box<dyn Driver> {
        match self {
            Served::VhostUser(svc) => Box::new(
                drivervm::harness::Harness::connect(
                    svc.socket(&format!("{id}.sock")),
                    queues,
                    options,
                )
                .unwrap_or_else(|e| panic!("connect {id}: {e}\n{}", svc.log())),
            ),
            Served::Gunyah(g) => Box::new(g.attach(id, queues, options)),
        }
    }

    /// The service's runtime dir (sockets that stay sockets, such as `rpmb_dev`, are here).
    pub fn runtime_dir(&self) -> PathBuf {
        match self {
            Served::VhostUser(svc) => svc.runtime_dir.clone(),
            Served::Gunyah(g) => g.runtime_dir(),
        }
    }

    /// The service's state dir (RPMB images and keys), private to this test.
    pub fn state_dir(&self) -> PathBuf {
        match self {
            Served::VhostUser(svc) => svc.dir.path().join("state"),
            Served::Gunyah(g) => g.state_dir(),
        }
    }

    /// What the service logged (for Gunyah: the lines of this binary's in-process services).
    pub fn log(&self) -> String {
        match self {
            Served::VhostUser(svc) => svc.log(),
            Served::Gunyah(g) => g.log(),
        }
    }

    /// What the service's logger let through: the daemon's log, or for Gunyah the lines of
    /// this binary's in-process services that the service's log budget admits (the test's
    /// collector sees every line, which the service's own logger would not write).
    pub fn budgeted_log(&self) -> String {
        match self {
            Served::VhostUser(svc) => svc.log(),
            Served::Gunyah(_) => logs::budgeted_lines_with(""),
        }
    }
}

/// Serves every virtio device of `config` over Gunyah: the devices of guest `g` on node
/// `/dev/gh_virtio_backend_<g>`, labels from 1 in file order, window at [`SIM_WINDOW_BASE`].
/// An `rpmb-dev` device is no virtio device: it keeps its unix socket.
pub fn gunyah_config(config: &str) -> String {
    let mut doc: toml::Table = config.parse().expect("test config is TOML");
    if let Some(toml::Value::Array(guests)) = doc.get_mut("guest") {
        for g in guests.iter_mut().filter_map(toml::Value::as_table_mut) {
            let name = g
                .get("name")
                .and_then(toml::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(toml::Value::Array(devices)) = g.get_mut("device") {
                for (i, d) in devices
                    .iter_mut()
                    .filter_map(toml::Value::as_table_mut)
                    .enumerate()
                {
                    let rpmb_dev = d
                        .get("transport")
                        .and_then(toml::Value::as_table)
                        .is_some_and(|t| t.contains_key("rpmb-dev"));
                    if rpmb_dev {
                        continue;
                    }
                    let mut gunyah = toml::Table::new();
                    gunyah.insert(
                        "node".into(),
                        format!("/dev/gh_virtio_backend_{name}").into(),
                    );
                    gunyah.insert("label".into(), (i as i64 + 1).into());
                    gunyah.insert("window_base".into(), (SIM_WINDOW_BASE as i64).into());
                    let mut t = toml::Table::new();
                    t.insert("gunyah".into(), gunyah.into());
                    d.insert("transport".into(), t.into());
                }
            }
        }
    }
    toml::to_string(&doc).expect("serialise config")
}

impl GunyahServed {
    /// Serves `config` (rewritten by [`gunyah_config`]) on simulated nodes.
    pub fn start(config: &str) -> GunyahServed {
        logs::init();
        let text = gunyah_config(config);
        let cfg = config::parse(&text, "gunyah test config").expect("gunyah test config");
        let mut labels: HashMap<String, Vec<u32>> = HashMap::new();
        let mut devices = HashMap::new();
        for (_, d) in cfg.devices() {
            if let TransportConfig::Gunyah { node, label, .. } = &d.transport {
                let node = node.display().to_string();
                labels.entry(node.clone()).or_default().push(*label);
                devices.insert(d.id.clone(), (node, *label));
            }
        }
        let nodes: Arc<HashMap<String, SimNode>> = Arc::new(
            labels
                .into_iter()
                .map(|(node, ls)| {
                    let sim =
                        SimNode::new(SIM_WINDOW_BASE, DEFAULT_MEMORY_SIZE, &ls).expect("sim node");
                    (node, sim)
                })
                .collect(),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let by_path = nodes.clone();
        let open: service::NodeOpener = Arc::new(move |p: &Path| {
            let node = by_path
                .get(&p.display().to_string())
                .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOENT))?;
            let backend: Arc<dyn GunyahBackendIo> = node.open()?;
            Ok(backend)
        });
        // Not start_with: that takes the state dir from the environment, and RPMB state must
        // stay in this test's directory.
        let svc = service::start_full(
            &cfg,
            &dir.path().join("run"),
            &dir.path().join("state"),
            open,
        )
        .expect("start service");
        GunyahServed {
            devices,
            nodes,
            _service: svc,
            dir,
        }
    }

    /// The simulated node serving device `id`, and its label there.
    pub fn node(&self, id: &str) -> (&SimNode, u32) {
        let (node, label) = self
            .devices
            .get(id)
            .unwrap_or_else(|| panic!("no device {id}"));
        (&self.nodes[node], *label)
    }

    /// Probes device `id` as the frontend VM's virtio-mmio driver.
    pub fn attach(&self, id: &str, queues: usize, options: &HarnessOptions) -> SimDriver {
        let (node, label) = self.node(id);
        SimDriver::attach(node, label, queues, options)
            .unwrap_or_else(|e| panic!("attach {id}: {e}\n{}", self.log()))
    }

    /// The in-process service's runtime dir.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The in-process service's state dir.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Lines logged by this binary's in-process services.
    pub fn log(&self) -> String {
        logs::lines_with("")
    }
}

/// Keeps a device served by [`serve_device`] alive: the directory of its socket, or its
/// simulated node (dropping that closes the node, which stops the transport serving it).
pub enum DeviceServer {
    /// The directory holding the vhost-user socket.
    VhostUser(tempfile::TempDir),
    /// The node the device is published on.
    Gunyah(SimNode),
}

/// Serves one device model built by the test (named `id` in logs) in this process over
/// `transport` and attaches a driver with `queues` queues: the vhost-user backend on a
/// socket in a temporary directory, or the Gunyah transport on label 1 of a simulated node
/// of its own (window at [`SIM_WINDOW_BASE`]).
pub fn serve_device(
    transport: Transport,
    id: &str,
    device: Box<dyn VirtioDevice>,
    queues: usize,
    options: &HarnessOptions,
) -> (Box<dyn Driver>, DeviceServer) {
    serve_device_polled(transport, id, device, queues, options, DEFAULT_POLL_MAX)
}

/// [`serve_device`] with each queue busy-polled for at most `poll_max` (zero: never).
pub fn serve_device_polled(
    transport: Transport,
    id: &str,
    device: Box<dyn VirtioDevice>,
    queues: usize,
    options: &HarnessOptions,
    poll_max: Duration,
) -> (Box<dyn Driver>, DeviceServer) {
    match transport {
        Transport::VhostUser => {
            let dir = tempfile::tempdir().expect("tempdir");
            let sock = dir.path().join(format!("{id}.sock"));
            let backend = VhostUserDevice::new(id.into(), "test".into(), device)
                .expect("backend")
                .with_poll_max(poll_max);
            let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
            std::thread::spawn(move || serve(backend, listener));
            let h = drivervm::harness::Harness::connect(&sock, queues, options)
                .unwrap_or_else(|e| panic!("connect {id}: {e}"));
            (Box::new(h), DeviceServer::VhostUser(dir))
        }
        Transport::Gunyah => {
            logs::init();
            let node = SimNode::new(SIM_WINDOW_BASE, DEFAULT_MEMORY_SIZE, &[1]).expect("sim node");
            let nd = NodeDevice {
                id: id.into(),
                label: DeviceLabel::new(1).expect("label"),
                device,
                status: None,
                poll_max,
            };
            start_node(id, Box::new(node.opener()), SIM_WINDOW_BASE, vec![nd])
                .unwrap_or_else(|e| panic!("serve {id}: {e}"));
            let d = SimDriver::attach(&node, 1, queues, options)
                .unwrap_or_else(|e| panic!("attach {id}: {e}\n{}", logs::lines_with(id)));
            (Box::new(d), DeviceServer::Gunyah(node))
        }
    }
}

/// Declares each named `fn(Transport)` as two tests, `vhost_user::<name>` and
/// `gunyah::<name>`.
#[macro_export]
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {
        mod vhost_user {
            $(
                #[test]
                fn $name() {
                    super::$name(super::support::transport::Transport::VhostUser)
                }
            )*
        }
        mod gunyah {
            $(
                #[test]
                fn $name() {
                    super::$name(super::support::transport::Transport::Gunyah)
                }
            )*
        }
    };
}
