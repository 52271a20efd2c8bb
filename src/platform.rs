//! The SCMI hardware a config describes, built once and shared by every guest's device:
//! arbitration between guests happens in these shared objects, not in the devices.

use std::sync::Arc;

use log::info;

use crate::config::{Backend, Config, DeviceConfig, DeviceSpec, ScmiGrants};
use crate::devices::scmi::clock::{ClockGrant, ClockProtocol};
use crate::devices::scmi::grant::Grant;
use crate::devices::scmi::perf::PerfProtocol;
use crate::devices::scmi::power::PowerProtocol;
use crate::devices::scmi::protocol::Protocol;
use crate::devices::scmi::reset::ResetProtocol;
use crate::devices::scmi::sensor::SensorProtocol;
use crate::hw::clock::linux::LinuxClocks;
use crate::hw::clock::sim::SimClockTree;
use crate::hw::clock::SharedClocks;
use crate::hw::perf::{SharedPerf, SimPerf};
use crate::hw::power::{SharedPower, SimPower};
use crate::hw::reset::{SharedResets, SimReset};
use crate::hw::sensor::SharedSensors;
use crate::hw::sensor_set::SensorSet;

/// Why the platform could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The simulated clock tree is inconsistent (config validation should have caught it).
    #[error("simulated clock tree: {0}")]
    SimClocks(String),
    /// A sensor read from sysfs cannot be opened.
    #[error("sysfs sensors: {0}")]
    Sensors(#[from] crate::hw::sysfs_sensors::SysfsSensorError),
    /// The Linux clock backend cannot be opened.
    #[error("linux clock backend: {0}")]
    LinuxClocks(String),
    /// A device grants a resource the backend does not have.
    #[error("device {device}: {what} \"{name}\" does not exist in the {backend} backend")]
    UnknownResource {
        /// Device ID.
        device: String,
        /// Resource class.
        what: &'static str,
        /// Resource name.
        name: String,
        /// Backend name.
        backend: &'static str,
    },
}

/// Every SCMI agent of the config (guests with an scmi device), in agent-ID order from 1.
pub fn scmi_agents(config: &Config) -> Vec<String> {
    config
        .guests
        .iter()
        .filter(|g| {
            g.devices
                .iter()
                .any(|d| d.kind() == crate::config::DeviceKind::Scmi)
        })
        .map(|g| g.name.clone())
        .collect()
}

/// The shared SCMI hardware: simulated resources, and real clocks when a device uses them.
pub struct ScmiPlatform {
    sim_clocks: Arc<SharedClocks>,
    linux_clocks: Option<Arc<SharedClocks>>,
    power: Arc<SharedPower>,
    resets: Arc<SharedResets>,
    perf: Arc<SharedPerf>,
    sensors: Arc<SharedSensors>,
}

impl ScmiPlatform {
    /// Builds the hardware `config` describes and registers its agents.
    pub fn build(config: &Config) -> Result<Self, PlatformError> {
        let scmi = &config.soc.scmi;
        let specs = scmi.clocks.iter().map(|c| c.spec.clone()).collect();
        let tree = SimClockTree::new(specs).map_err(|e| PlatformError::SimClocks(e.to_string()))?;
        let sim_clocks = Arc::new(SharedClocks::new(Box::new(tree)));
        for (i, c) in scmi.clocks.iter().enumerate() {
            sim_clocks
                .set_policy(i, c.policy.clone())
                .map_err(|e| PlatformError::SimClocks(e.to_string()))?;
        }
        let uses_linux = config.devices().any(|(_, d)| d.backend == Backend::Linux);
        let linux_clocks = if uses_linux {
            let hw = LinuxClocks::open(&scmi.linux_clock_root, &scmi.linux_clock_names)
                .map_err(|e| PlatformError::LinuxClocks(e.to_string()))?;
            info!(
                "linux clock backend: {} clocks from {}",
                hw.clocks_len(),
                scmi.linux_clock_root.display()
            );
            Some(Arc::new(SharedClocks::new(Box::new(hw))))
        } else {
            None
        };
        let sensors = SensorSet::open(&scmi.linux_sensor_root, scmi.sensors.clone())?;
        let platform = Self {
            sim_clocks,
            linux_clocks,
            power: Arc::new(SharedPower::new(Box::new(SimPower::new(
                scmi.power_domains.clone(),
            )))),
            resets: Arc::new(SharedResets::new(Box::new(SimReset::new(
                scmi.reset_domains.clone(),
            )))),
            perf: Arc::new(SharedPerf::new(Box::new(SimPerf::new(
                scmi.perf_domains.clone(),
            )))),
            sensors: Arc::new(SharedSensors::new(Box::new(sensors))),
        };
        for (i, name) in scmi_agents(config).iter().enumerate() {
            let id = i as u32 + 1;
            platform.sim_clocks.attach(id, name);
            if let Some(l) = &platform.linux_clocks {
                l.attach(id, name);
            }
            platform.power.attach(id, name);
            platform.resets.attach(id, name);
            platform.perf.attach(id, name);
        }
        Ok(platform)
    }

    /// What `device` publishes to the control plane: its granted clocks, numbered as its
    /// agent sees them, read from the clock tree's lock-free mirror.
    pub fn clock_detail(&self, device: &DeviceConfig) -> Arc<crate::status::ClockView> {
        let clocks = match (device.backend, &self.linux_clocks) {
            (Backend::Linux, Some(c)) => c,
            _ => &self.sim_clocks,
        };
        let indices: Vec<usize> = grants(device)
            .clocks
            .iter()
            .filter_map(|c| clocks.find(&c.name))
            .collect();
        Arc::new(crate::status::ClockView::new(
            clocks.mirror().clone(),
            &indices,
        ))
    }

    /// The protocols (besides base) that `device` serves to agent `agent`: one per resource
    /// class with at least one grant.
    pub fn protocols(
        &self,
        device: &DeviceConfig,
        agent: u32,
    ) -> Result<Vec<Box<dyn Protocol>>, PlatformError> {
        let g = grants(device);
        let mut out: Vec<Box<dyn Protocol>> = Vec::new();
        let (clocks, backend) = match device.backend {
            Backend::Linux => match &self.linux_clocks {
                Some(c) => (c, "linux"),
                None => return Err(PlatformError::LinuxClocks("not opened".into())),
            },
            _ => (&self.sim_clocks, "sim"),
        };
        let unknown = |what: &'static str, name: &str| PlatformError::UnknownResource {
            device: device.id.clone(),
            what,
            name: name.to_owned(),
            backend,
        };
        if !g.clocks.is_empty() {
            let grants = g
                .clocks
                .iter()
                .map(|c| {
                    clocks
                        .find(&c.name)
                        .map(|clock| ClockGrant {
                            clock,
                            control: c.control,
                        })
                        .ok_or_else(|| unknown("clock", &c.name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Box::new(ClockProtocol::new(clocks.clone(), agent, grants)));
        }
        let resolve = |list: &[crate::config::Grant], names: &[String], what: &'static str| {
            list.iter()
                .map(|g| {
                    names
                        .iter()
                        .position(|n| *n == g.name)
                        .map(|hw| Grant {
                            hw,
                            control: g.control,
                        })
                        .ok_or_else(|| unknown(what, &g.name))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if !g.power_domains.is_empty() {
            let grants = resolve(&g.power_domains, &self.power.names(), "power domain")?;
            out.push(Box::new(PowerProtocol::new(
                self.power.clone(),
                agent,
                grants,
            )));
        }
        if !g.perf_domains.is_empty() {
            let names: Vec<String> = self.perf.domains().into_iter().map(|d| d.name).collect();
            let grants = resolve(&g.perf_domains, &names, "performance domain")?;
            out.push(Box::new(PerfProtocol::new(
                self.perf.clone(),
                agent,
                grants,
            )));
        }
        if !g.sensors.is_empty() {
            let names: Vec<String> = self.sensors.sensors().into_iter().map(|s| s.name).collect();
            let grants = resolve(&g.sensors, &names, "sensor")?;
            out.push(Box::new(SensorProtocol::new(
                self.sensors.clone(),
                agent,
                grants,
            )));
        }
        if !g.reset_domains.is_empty() {
            let names: Vec<String> = self.resets.domains().into_iter().map(|d| d.name).collect();
            let grants = resolve(&g.reset_domains, &names, "reset domain")?;
            out.push(Box::new(ResetProtocol::new(
                self.resets.clone(),
                agent,
                grants,
            )));
        }
        Ok(out)
    }
}

/// What `device` is granted: nothing unless it is an SCMI device.
fn grants(device: &DeviceConfig) -> &ScmiGrants {
    static NONE: std::sync::OnceLock<ScmiGrants> = std::sync::OnceLock::new();
    match &device.spec {
        DeviceSpec::Scmi(g) => g,
        _ => NONE.get_or_init(ScmiGrants::default),
    }
}
