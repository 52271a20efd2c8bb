//! The SCMI platform tables of the config file as written (see `raw.rs` for the rules).

use std::path::PathBuf;

use serde::Deserialize;

use super::raw::RawInt;

/// One `[[soc.clock]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClock {
    pub name: String,
    pub rates: Option<Vec<RawInt>>,
    pub range: Option<RawRange>,
    pub rate: Option<RawInt>,
    pub parents: Option<Vec<String>>,
    pub parent: Option<String>,
    pub always_on: Option<bool>,
    pub enable_latency_us: Option<RawInt>,
    pub policy: Option<String>,
}

/// `range = { min, max, step }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRange {
    pub min: RawInt,
    pub max: RawInt,
    pub step: RawInt,
}

/// One `[[soc.power_domain]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPowerDomain {
    pub name: String,
    pub on: Option<bool>,
}

/// One `[[soc.reset_domain]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResetDomain {
    pub name: String,
    pub latency_us: Option<RawInt>,
}

/// One `[[soc.perf_domain]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPerfDomain {
    pub name: String,
    pub level: Option<RawInt>,
    #[serde(default, rename = "opp")]
    pub opps: Vec<RawOpp>,
}

/// One `[[soc.perf_domain.opp]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOpp {
    pub level: RawInt,
    pub freq_khz: RawInt,
    pub power_uw: Option<RawInt>,
    pub latency_us: Option<RawInt>,
}

/// One `[[soc.sensor]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSensor {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scale: Option<RawInt>,
    pub update_interval_s: Option<RawInt>,
    pub value: Option<RawInt>,
    pub wave: Option<RawWave>,
    pub iio: Option<String>,
    pub thermal_zone: Option<String>,
}

/// `wave = { min, max, period_ms }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWave {
    pub min: RawInt,
    pub max: RawInt,
    pub period_ms: RawInt,
}

/// `[soc.linux_sensors]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLinuxSensors {
    pub sysfs: Option<PathBuf>,
}

/// `[soc.linux_clocks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLinuxClocks {
    pub debugfs: Option<PathBuf>,
    pub names: Option<Vec<String>>,
}
