//! The config file exactly as written: serde structs that refuse unknown keys.
//!
//! Values stay loosely typed here (kinds and backends as strings, integers as i64) so that
//! validation can say what was wrong in the schema's own words.

use std::path::PathBuf;

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::raw_scmi::{
    RawClock, RawLinuxClocks, RawLinuxSensors, RawPerfDomain, RawPowerDomain, RawResetDomain,
    RawSensor,
};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub service: RawService,
    #[serde(default)]
    pub soc: RawSoc,
    #[serde(default, rename = "guest")]
    pub guests: Vec<RawGuest>,
    #[serde(default, rename = "output")]
    pub outputs: Vec<super::sound::RawOutput>,
    #[serde(default, rename = "rpmb_store")]
    pub rpmb_stores: Vec<RawRpmbStore>,
}

/// `[service]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub runtime_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub socket_group: Option<String>,
    pub log_level: Option<String>,
    pub control_socket: Option<PathBuf>,
    pub control_group: Option<String>,
    pub control_vsock_port: Option<RawInt>,
    pub control_vsock_cids: Option<Vec<RawInt>>,
    pub queue_poll_max_us: Option<RawInt>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Option<Vec<String>>,
    pub sandbox: Option<bool>,
    pub control_uids: Option<Vec<RawInt>>,
    pub allow_shared_dirs: Option<bool>,
}

/// `[soc]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSoc {
    pub vendor: Option<String>,
    pub sub_vendor: Option<String>,
    pub implementation_version: Option<RawInt>,
    #[serde(default, rename = "clock")]
    pub clocks: Vec<RawClock>,
    #[serde(default, rename = "power_domain")]
    pub power_domains: Vec<RawPowerDomain>,
    #[serde(default, rename = "reset_domain")]
    pub reset_domains: Vec<RawResetDomain>,
    #[serde(default, rename = "perf_domain")]
    pub perf_domains: Vec<RawPerfDomain>,
    #[serde(default, rename = "sensor")]
    pub sensors: Vec<RawSensor>,
    pub linux_clocks: Option<RawLinuxClocks>,
    pub linux_sensors: Option<RawLinuxSensors>,
}

/// One `[[guest]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGuest {
    pub name: String,
    pub socket_user: Option<String>,
    pub socket_group: Option<String>,
    #[serde(default)]
    pub policy: RawPolicy,
    #[serde(default, rename = "device")]
    pub devices: Vec<RawDevice>,
}

/// `[guest.policy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub max_request_bytes: Option<RawInt>,
}

/// One `[[guest.device]]`: its common keys and every kind's, declared by the registry.
pub(super) use super::registry::RawDevice;

/// `transport = { <kind> = { ... } }`: exactly one transport per device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) enum RawTransport {
    VhostUser(RawVhostUser),
    Gunyah(RawGunyah),
    RpmbDev(RawRpmbDev),
}

/// `transport.vhost-user`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVhostUser {
    pub socket: Option<PathBuf>,
}

/// `transport.gunyah`: every key is required (no value is safe to guess), and exactly one
/// of `node` (a 0xBC device node) and `vm_fd` (an inherited 0xB2 VM fd).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGunyah {
    pub node: Option<PathBuf>,
    pub vm_fd: Option<RawInt>,
    pub label: RawInt,
    pub window_base: RawInt,
}

/// A TOML integer, range-checked by validation so the message can state the range.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawInt(pub i64);

impl<'de> Deserialize<'de> for RawInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_i64(IntVisitor)
    }
}

/// Accepts integers only; says "an integer" rather than serde's "i64" when given anything else.
struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = RawInt;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawInt, E> {
        Ok(RawInt(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawInt, E> {
        i64::try_from(v)
            .map(RawInt)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
}

/// `transport.rpmb-dev`: the Android `rpmb_dev` protocol on a unix socket.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRpmbDev {
    pub socket: Option<PathBuf>,
}

/// `[guest.device.rpmb]`: where an RPMB device keeps its blocks and how it is presented.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRpmb {
    pub image: Option<PathBuf>,
    pub store: Option<String>,
    pub offset: Option<RawInt>,
    pub capacity_blocks: Option<RawInt>,
    pub max_wr_cnt: Option<RawInt>,
    pub max_rd_cnt: Option<RawInt>,
    pub interface: Option<String>,
}

/// One `[[rpmb_store]]`: a physical RPMB that guests' virtual RPMBs share.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRpmbStore {
    pub name: String,
    pub backend: Option<String>,
    pub path: PathBuf,
    pub capacity_blocks: RawInt,
    pub max_wr_cnt: Option<RawInt>,
    pub max_rd_cnt: Option<RawInt>,
    pub key_file: Option<PathBuf>,
    pub guest_writes_per_minute: Option<RawInt>,
}
