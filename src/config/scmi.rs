//! The SCMI platform a config describes once (`[[soc.clock]]`, `[[soc.power_domain]]`,
//! `[[soc.reset_domain]]`, `[[soc.perf_domain]]`, `[[soc.sensor]]`, `[soc.linux_clocks]`,
//! `[soc.linux_sensors]`),
//! and what each scmi device grants its guest (`clocks = [...]` and friends).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::hw::clock::sim::{SimClockSpec, SimClockTree};
use crate::hw::clock::{ClockDesc, RatePolicy, RateSpec};
use crate::hw::perf::{Opp, PerfDesc};
use crate::hw::reset::ResetDesc;
use crate::hw::sensor::{SensorDesc, SimSource};
use crate::hw::sensor_set::SensorSource;
use crate::hw::sysfs_sensors::SysfsSource;

use super::error::ConfigError;
use super::kind_config::{KindConfig, TableInput};
use super::kinds::{Backend, DeviceKind};
use super::raw::{RawDevice, RawInt, RawSoc};
use super::raw_scmi::{RawClock, RawOpp, RawPerfDomain, RawSensor};
use super::schema::DeviceSpec;

/// Where sensors read from sysfs are found unless `soc.linux_sensors.sysfs` says otherwise.
pub const LINUX_SENSOR_ROOT: &str = crate::hw::sysfs_sensors::DEFAULT_ROOT;
/// Where the Linux backend finds clocks unless `soc.linux_clocks.debugfs` says otherwise.
pub const LINUX_CLOCK_ROOT: &str = crate::hw::clock::linux::DEFAULT_ROOT;

/// Longest resource name: SCMI extended names are 64 bytes including the NUL.
const MAX_NAME: usize = 63;
/// Most entries in one list (rates, operating points): bounds what a config can allocate.
const MAX_LIST: usize = 4096;
/// Suffix of a grant that allows reading only.
const READ_ONLY: &str = ":read-only";
/// Sensor types a config may name, with their SCMI codes (DEN0056 sensor type table) and
/// the prefix of the IIO channels that measure them (in the units IIO reports them in).
const SENSOR_TYPES: [(&str, u8, &str); 4] = [
    ("temperature", 2, "in_temp"),
    ("voltage", 5, "in_voltage"),
    ("current", 6, "in_current"),
    ("power", 7, "in_power"),
];

/// One simulated clock and how agents sharing it are arbitrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockConfig {
    /// The clock (parents as indices into [`ScmiPlatformConfig::clocks`]).
    pub spec: SimClockSpec,
    /// `policy`: how conflicting rate requests resolve.
    pub policy: RatePolicy,
}

impl ScmiPlatformConfig {
    /// The debugfs clock root (when `linux_clocks`: a device uses the `linux` backend) and
    /// the sysfs root (when a sensor reads sysfs): what the sandbox must let the service
    /// reach after start-up.
    pub fn linux_paths(&self, linux_clocks: bool) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if linux_clocks {
            out.push(self.linux_clock_root.clone());
        }
        if self
            .sensors
            .iter()
            .any(|(_, source)| matches!(source, SensorSource::Sysfs(_)))
        {
            out.push(self.linux_sensor_root.clone());
        }
        out
    }
}

/// The SCMI hardware of the SoC: simulated resources and where real clocks are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScmiPlatformConfig {
    /// `[[soc.clock]]`, in file order.
    pub clocks: Vec<ClockConfig>,
    /// `[[soc.power_domain]]`: name and power-on state.
    pub power_domains: Vec<(String, bool)>,
    /// `[[soc.reset_domain]]`.
    pub reset_domains: Vec<ResetDesc>,
    /// `[[soc.perf_domain]]`.
    pub perf_domains: Vec<PerfDesc>,
    /// `[[soc.sensor]]` with what each reads.
    pub sensors: Vec<(SensorDesc, SensorSource)>,
    /// `soc.linux_sensors.sysfs`: the sysfs root sensors with `iio` or `thermal_zone` read.
    pub linux_sensor_root: PathBuf,
    /// `soc.linux_clocks.debugfs`: the clk directory the linux backend reads.
    pub linux_clock_root: PathBuf,
    /// `soc.linux_clocks.names`: the clocks the linux backend offers (empty: all).
    pub linux_clock_names: Vec<String>,
}

impl Default for ScmiPlatformConfig {
    fn default() -> Self {
        Self {
            clocks: Vec::new(),
            power_domains: Vec::new(),
            reset_domains: Vec::new(),
            perf_domains: Vec::new(),
            sensors: Vec::new(),
            linux_sensor_root: PathBuf::from(LINUX_SENSOR_ROOT),
            linux_clock_root: PathBuf::from(LINUX_CLOCK_ROOT),
            linux_clock_names: Vec::new(),
        }
    }
}

/// One resource granted to a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The resource's name in `[soc]` (or in debugfs for the linux backend).
    pub name: String,
    /// Whether the guest may change it (`false`: written `"<name>:read-only"`).
    pub control: bool,
}

/// What one scmi device shows its guest, in the order the guest numbers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScmiGrants {
    /// `clocks`.
    pub clocks: Vec<Grant>,
    /// `power_domains`.
    pub power_domains: Vec<Grant>,
    /// `reset_domains`.
    pub reset_domains: Vec<Grant>,
    /// `perf_domains`.
    pub perf_domains: Vec<Grant>,
    /// `sensors`.
    pub sensors: Vec<Grant>,
}

/// Builds config errors naming the file.
pub(in crate::config) struct ScmiValidator<'a> {
    pub file: &'a str,
}

impl ScmiValidator<'_> {
    fn err(&self, place: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            place: place.into(),
            reason: reason.into(),
        }
    }

    fn name(&self, place: &str, name: &str, seen: &mut HashSet<String>) -> Result<(), ConfigError> {
        let ok = (1..=MAX_NAME).contains(&name.len())
            && name
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b':');
        if !ok {
            return Err(self.err(
                place,
                format!(
                    "invalid name \"{}\" (expected 1 to {MAX_NAME} printable ASCII characters \
                     without spaces or ':')",
                    name.escape_debug()
                ),
            ));
        }
        if !seen.insert(name.to_owned()) {
            return Err(self.err(place, format!("name \"{name}\" is already used")));
        }
        Ok(())
    }

    fn int(&self, place: &str, v: RawInt, min: i64, max: i64) -> Result<i64, ConfigError> {
        super::int::in_range(v.0, min, max, "").map_err(|why| self.err(place, why))
    }

    fn u64(&self, place: &str, v: RawInt, min: u64) -> Result<u64, ConfigError> {
        Ok(self.int(place, v, min as i64, i64::MAX)? as u64)
    }

    fn u32(&self, place: &str, v: RawInt, max: u32) -> Result<u32, ConfigError> {
        Ok(self.int(place, v, 0, i64::from(max))? as u32)
    }

    /// Validates the SCMI tables of `[soc]`; `guests` are the configured guest names.
    pub fn platform(
        &self,
        raw: &mut RawSoc,
        guests: &[String],
    ) -> Result<ScmiPlatformConfig, ConfigError> {
        let clocks = self.clocks(std::mem::take(&mut raw.clocks), guests)?;
        let mut seen = HashSet::new();
        let mut power_domains = Vec::new();
        for (i, d) in std::mem::take(&mut raw.power_domains)
            .into_iter()
            .enumerate()
        {
            self.name(&format!("soc.power_domain {}", i + 1), &d.name, &mut seen)?;
            power_domains.push((d.name, d.on.unwrap_or(false)));
        }
        let mut seen = HashSet::new();
        let mut reset_domains = Vec::new();
        for (i, d) in std::mem::take(&mut raw.reset_domains)
            .into_iter()
            .enumerate()
        {
            self.name(&format!("soc.reset_domain {}", i + 1), &d.name, &mut seen)?;
            let place = format!("soc.reset_domain \"{}\" latency_us", d.name);
            let latency_us = d
                .latency_us
                .map(|l| self.u32(&place, l, 0x7fff_fffe))
                .transpose()?;
            reset_domains.push(ResetDesc {
                name: d.name,
                latency_us,
            });
        }
        let mut seen = HashSet::new();
        let mut perf_domains = Vec::new();
        for (i, d) in std::mem::take(&mut raw.perf_domains)
            .into_iter()
            .enumerate()
        {
            self.name(&format!("soc.perf_domain {}", i + 1), &d.name, &mut seen)?;
            perf_domains.push(self.perf(d)?);
        }
        let mut seen = HashSet::new();
        let mut sensors = Vec::new();
        for (i, s) in std::mem::take(&mut raw.sensors).into_iter().enumerate() {
            self.name(&format!("soc.sensor {}", i + 1), &s.name, &mut seen)?;
            sensors.push(self.sensor(s)?);
        }
        let mut platform = ScmiPlatformConfig {
            clocks,
            power_domains,
            reset_domains,
            perf_domains,
            sensors,
            ..ScmiPlatformConfig::default()
        };
        if let Some(root) = raw.linux_sensors.take().and_then(|l| l.sysfs) {
            if root.as_os_str().is_empty() {
                return Err(self.err("soc.linux_sensors.sysfs", "must not be empty"));
            }
            platform.linux_sensor_root = root;
        }
        if let Some(linux) = raw.linux_clocks.take() {
            if let Some(root) = linux.debugfs {
                if root.as_os_str().is_empty() {
                    return Err(self.err("soc.linux_clocks.debugfs", "must not be empty"));
                }
                platform.linux_clock_root = root;
            }
            let mut seen = HashSet::new();
            for n in linux.names.unwrap_or_default() {
                self.name("soc.linux_clocks.names", &n, &mut seen)?;
                platform.linux_clock_names.push(n);
            }
        }
        Ok(platform)
    }

    fn clocks(
        &self,
        raw: Vec<RawClock>,
        guests: &[String],
    ) -> Result<Vec<ClockConfig>, ConfigError> {
        let mut seen = HashSet::new();
        for (i, c) in raw.iter().enumerate() {
            self.name(&format!("soc.clock {}", i + 1), &c.name, &mut seen)?;
        }
        let names: Vec<String> = raw.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::with_capacity(raw.len());
        for c in raw {
            let place = |key: &str| format!("soc.clock \"{}\" {key}", c.name);
            let rates = match (&c.rates, &c.range) {
                (Some(list), None) => {
                    if list.is_empty() || list.len() > MAX_LIST {
                        return Err(self.err(
                            place("rates"),
                            format!("expected 1 to {MAX_LIST} rates, found {}", list.len()),
                        ));
                    }
                    let hz = list
                        .iter()
                        .map(|r| self.u64(&place("rates"), *r, 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    RateSpec::discrete(hz).ok_or_else(|| self.err(place("rates"), "is empty"))?
                }
                (None, Some(r)) => {
                    let min = self.u64(&place("range.min"), r.min, 1)?;
                    let max = self.u64(&place("range.max"), r.max, min)?;
                    let step = self.u64(&place("range.step"), r.step, 0)?;
                    if step == 0 && min != max {
                        return Err(self.err(
                            place("range.step"),
                            "must be positive unless min equals max",
                        ));
                    }
                    RateSpec::Range { min, max, step }
                }
                _ => {
                    return Err(self.err(
                        format!("soc.clock \"{}\"", c.name),
                        "set exactly one of `rates` (a list) or `range` (min, max, step)",
                    ))
                }
            };
            let rate = match c.rate {
                None => rates.min(),
                Some(r) => {
                    let hz = self.u64(&place("rate"), r, 1)?;
                    if rates.round(hz, crate::hw::clock::Rounding::Down) != Some(hz) {
                        return Err(self.err(
                            place("rate"),
                            format!("{hz} Hz is not one of the clock's rates"),
                        ));
                    }
                    hz
                }
            };
            let mut parents = Vec::new();
            for p in c.parents.iter().flatten() {
                let idx = names.iter().position(|n| n == p).ok_or_else(|| {
                    self.err(
                        place("parents"),
                        format!("no clock named \"{}\"", p.escape_debug()),
                    )
                })?;
                if *p == c.name || parents.contains(&idx) {
                    return Err(self.err(
                        place("parents"),
                        format!("\"{p}\" is the clock itself or listed twice"),
                    ));
                }
                parents.push(idx);
            }
            let parent = match &c.parent {
                None => parents.first().copied(),
                Some(p) => Some(
                    names
                        .iter()
                        .position(|n| n == p)
                        .filter(|i| parents.contains(i))
                        .ok_or_else(|| {
                            self.err(
                                place("parent"),
                                format!("\"{}\" is not one of `parents`", p.escape_debug()),
                            )
                        })?,
                ),
            };
            let policy = match &c.policy {
                None => RatePolicy::HighestWins,
                Some(p) => {
                    let policy: RatePolicy = p
                        .parse()
                        .map_err(|e: String| self.err(place("policy"), e))?;
                    if let RatePolicy::Owner(g) = &policy {
                        if !guests.contains(g) {
                            return Err(self.err(
                                place("policy"),
                                format!("owner \"{}\" is not a configured guest", g.escape_debug()),
                            ));
                        }
                    }
                    policy
                }
            };
            let enable_latency_us = c
                .enable_latency_us
                .map(|l| self.u32(&place("enable_latency_us"), l, u32::MAX))
                .transpose()?
                .unwrap_or(0);
            out.push(ClockConfig {
                spec: SimClockSpec {
                    desc: ClockDesc {
                        name: c.name.clone(),
                        possible_parents: parents,
                        rates,
                        enable_latency_us,
                    },
                    initial_rate: rate,
                    initial_parent: parent,
                    always_on: c.always_on.unwrap_or(false),
                },
                policy,
            });
        }
        // The tree's own checks (loops through parents) on the finished list.
        SimClockTree::new(out.iter().map(|c| c.spec.clone()).collect())
            .map_err(|e| self.err("soc.clock", e.to_string()))?;
        Ok(out)
    }

    fn perf(&self, d: RawPerfDomain) -> Result<PerfDesc, ConfigError> {
        let place = |key: &str| format!("soc.perf_domain \"{}\" {key}", d.name);
        if d.opps.is_empty() || d.opps.len() > MAX_LIST {
            return Err(self.err(
                place("opp"),
                format!(
                    "expected 1 to {MAX_LIST} [[soc.perf_domain.opp]] tables, found {}",
                    d.opps.len()
                ),
            ));
        }
        let mut opps: Vec<Opp> = Vec::with_capacity(d.opps.len());
        for RawOpp {
            level,
            freq_khz,
            power_uw,
            latency_us,
        } in &d.opps
        {
            let level = self.u32(&place("opp.level"), *level, u32::MAX)?;
            if level == 0 || opps.iter().any(|o| o.level == level) {
                return Err(self.err(
                    place("opp.level"),
                    format!("level {level} is zero or listed twice"),
                ));
            }
            opps.push(Opp {
                level,
                freq_khz: self.u32(&place("opp.freq_khz"), *freq_khz, u32::MAX)?,
                power_uw: power_uw
                    .map(|p| self.u32(&place("opp.power_uw"), p, u32::MAX))
                    .transpose()?
                    .unwrap_or(0),
                latency_us: latency_us
                    .map(|l| self.u32(&place("opp.latency_us"), l, u32::from(u16::MAX)))
                    .transpose()?
                    .unwrap_or(0) as u16,
            });
        }
        opps.sort_by_key(|o| o.level);
        let initial_level = match d.level {
            None => opps[0].level,
            Some(l) => {
                let l = self.u32(&place("level"), l, u32::MAX)?;
                if !opps.iter().any(|o| o.level == l) {
                    return Err(self.err(place("level"), format!("{l} is not an opp level")));
                }
                l
            }
        };
        Ok(PerfDesc {
            name: d.name,
            opps,
            initial_level,
        })
    }

    fn sensor(&self, s: RawSensor) -> Result<(SensorDesc, SensorSource), ConfigError> {
        let place = |key: &str| format!("soc.sensor \"{}\" {key}", s.name);
        let (sensor_type, iio_prefix) = SENSOR_TYPES
            .iter()
            .find(|(n, _, _)| *n == s.kind)
            .map(|(_, code, prefix)| (*code, *prefix))
            .ok_or_else(|| {
                self.err(
                    place("type"),
                    format!(
                        "unknown sensor type \"{}\" (expected one of: {})",
                        s.kind.escape_debug(),
                        SENSOR_TYPES.map(|(n, _, _)| n).join(", ")
                    ),
                )
            })?;
        let scale = s
            .scale
            .map(|v| self.int(&place("scale"), v, -16, 15))
            .transpose()?
            .unwrap_or(0) as i8;
        let update_interval_s = s
            .update_interval_s
            .map(|v| self.int(&place("update_interval_s"), v, 1, i64::from(u16::MAX)))
            .transpose()?
            .unwrap_or(1) as u16;
        // A real sensor's bounds are the hardware's and unknown here.
        let unbounded = (i64::MIN, i64::MAX);
        let (source, range) = match (s.value, &s.wave, &s.iio, &s.thermal_zone) {
            (Some(v), None, None, None) => (SensorSource::Sim(SimSource::Fixed(v.0)), (v.0, v.0)),
            (None, Some(w), None, None) => {
                let min = w.min.0;
                let max = self.int(&place("wave.max"), w.max, min, i64::MAX)?;
                let ms = self.int(&place("wave.period_ms"), w.period_ms, 1, 86_400_000)?;
                let wave = SimSource::Triangle {
                    min,
                    max,
                    period: Duration::from_millis(ms as u64),
                };
                (SensorSource::Sim(wave), (min, max))
            }
            (None, None, Some(iio), None) => {
                let source = self.iio(&place("iio"), iio, iio_prefix)?;
                (SensorSource::Sysfs(source), unbounded)
            }
            (None, None, None, Some(zone)) => {
                if sensor_type != 2 {
                    return Err(self.err(
                        place("thermal_zone"),
                        "thermal zones read temperatures: set type = \"temperature\"",
                    ));
                }
                if !numbered(zone, "thermal_zone") {
                    return Err(self.err(
                        place("thermal_zone"),
                        format!(
                            "\"{}\" is not a thermal zone (expected thermal_zone<N>)",
                            zone.escape_debug()
                        ),
                    ));
                }
                let source = SysfsSource::ThermalZone(zone.clone());
                (SensorSource::Sysfs(source), unbounded)
            }
            _ => {
                return Err(self.err(
                    format!("soc.sensor \"{}\"", s.name),
                    "set exactly one of `value` (a fixed reading), `wave` (min, max, period_ms), \
                     `iio` (an IIO channel) or `thermal_zone` (a thermal zone)",
                ))
            }
        };
        Ok((
            SensorDesc {
                name: s.name,
                sensor_type,
                scale,
                update_interval_s,
                range,
            },
            source,
        ))
    }

    /// An IIO channel written `iio:device<N>/<channel>`, whose channel measures the sensor's
    /// type (its name starts with `prefix`, e.g. `in_voltage` for a voltage).
    fn iio(&self, place: &str, text: &str, prefix: &str) -> Result<SysfsSource, ConfigError> {
        let parsed = text.split_once('/').filter(|(device, channel)| {
            numbered(device, "iio:device")
                && !channel.is_empty()
                && channel
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        let Some((device, channel)) = parsed else {
            return Err(self.err(
                place,
                format!(
                    "\"{}\" is not an IIO channel (expected iio:device<N>/<channel>, e.g. \
                     iio:device0/in_voltage0)",
                    text.escape_debug()
                ),
            ));
        };
        if !channel.starts_with(prefix) {
            return Err(self.err(
                place,
                format!("channel \"{channel}\" does not measure this sensor's type (expected {prefix}...)"),
            ));
        }
        Ok(SysfsSource::Iio {
            device: device.to_owned(),
            channel: channel.to_owned(),
        })
    }

    /// Validates one device's grant lists against the platform.
    pub fn grants(
        &self,
        place: &str,
        kind: DeviceKind,
        backend: Backend,
        raw: &mut RawDevice,
        platform: &ScmiPlatformConfig,
    ) -> Result<ScmiGrants, ConfigError> {
        let lists = [
            ("clocks", raw.clocks.take()),
            ("power_domains", raw.power_domains.take()),
            ("reset_domains", raw.reset_domains.take()),
            ("perf_domains", raw.perf_domains.take()),
            ("sensors", raw.sensors.take()),
        ];
        let mut out = ScmiGrants::default();
        for (key, list) in lists {
            let Some(list) = list else { continue };
            let here = format!("{place} {key}");
            if kind != DeviceKind::Scmi {
                return Err(self.err(here, format!("only scmi devices take `{key}`")));
            }
            if backend == Backend::Linux && key != "clocks" {
                return Err(self.err(
                    here,
                    "the linux backend serves clocks only (grant domains and sensors from a sim \
                     device; a sensor reads the kernel's sysfs when [[soc.sensor]] sets iio or \
                     thermal_zone)",
                ));
            }
            let known: Vec<&str> = match key {
                "clocks" if backend == Backend::Linux => platform
                    .linux_clock_names
                    .iter()
                    .map(String::as_str)
                    .collect(),
                "clocks" => platform
                    .clocks
                    .iter()
                    .map(|c| c.spec.desc.name.as_str())
                    .collect(),
                "power_domains" => platform
                    .power_domains
                    .iter()
                    .map(|d| d.0.as_str())
                    .collect(),
                "reset_domains" => platform
                    .reset_domains
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect(),
                "perf_domains" => platform
                    .perf_domains
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect(),
                _ => platform.sensors.iter().map(|s| s.0.name.as_str()).collect(),
            };
            // Debugfs names are checked when the service opens debugfs, unless listed here.
            let check = !(backend == Backend::Linux && known.is_empty());
            let mut grants: Vec<Grant> = Vec::with_capacity(list.len());
            for entry in list {
                let (name, control) = match entry.strip_suffix(READ_ONLY) {
                    Some(n) => (n.to_owned(), false),
                    None => (entry.clone(), true),
                };
                if check && !known.contains(&name.as_str()) {
                    return Err(self.err(
                        &here,
                        format!(
                            "\"{}\" is not defined (expected a name from [soc], optionally \
                             followed by \"{READ_ONLY}\")",
                            entry.escape_debug()
                        ),
                    ));
                }
                if grants.iter().any(|g| g.name == name) {
                    return Err(self.err(&here, format!("\"{name}\" is granted twice")));
                }
                grants.push(Grant { name, control });
            }
            match key {
                "clocks" => out.clocks = grants,
                "power_domains" => out.power_domains = grants,
                "reset_domains" => out.reset_domains = grants,
                "perf_domains" => out.perf_domains = grants,
                _ => out.sensors = grants,
            }
        }
        Ok(out)
    }
}

/// Whether `text` is `stem` followed by a decimal number (as sysfs numbers its entries).
fn numbered(text: &str, stem: &str) -> bool {
    text.strip_prefix(stem)
        .is_some_and(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The scmi kind's config entry: its grant lists.
pub(in crate::config) struct ScmiTable;

impl KindConfig for ScmiTable {
    fn backends(&self) -> &'static [Backend] {
        &[Backend::Sim, Backend::Linux]
    }

    fn table(
        &self,
        input: &TableInput<'_>,
        raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError> {
        let grants = ScmiValidator {
            file: input.v.file(),
        }
        .grants(
            input.place,
            DeviceKind::Scmi,
            input.backend,
            raw,
            &input.sections.soc.scmi,
        )?;
        Ok((input.backend, DeviceSpec::Scmi(grants)))
    }

    fn refuse(&self, input: &TableInput<'_>, raw: &mut RawDevice) -> Result<(), ConfigError> {
        ScmiValidator {
            file: input.v.file(),
        }
        .grants(
            input.place,
            input.kind,
            input.backend,
            raw,
            &input.sections.soc.scmi,
        )
        .map(drop)
    }
}
