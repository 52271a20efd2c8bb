//! Real sensors of the driver VM's kernel, read through sysfs: Linux IIO channels
//! (`bus/iio/devices/iio:deviceN/in_<channel>_raw`, `_scale`, `_offset`) and thermal zones
//! (`class/thermal/thermal_zoneN/temp`).
//!
//! Every path is taken relative to a sysfs root (normally `/sys`), so tests point the
//! backend at a fake tree. Files are read on every reading: sysfs attributes are cheap and
//! the kernel computes them on read.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::sensor::{Reading, SensorDesc, SensorError, SensorHw, SensorId};

/// Where the kernel exposes sysfs.
pub const DEFAULT_ROOT: &str = "/sys";

/// Where one sensor's readings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysfsSource {
    /// An IIO channel: `<root>/bus/iio/devices/<device>/<channel>_raw`, with `_scale`
    /// (default 1) and `_offset` (default 0). Processed values are in the IIO ABI's units:
    /// milli-degrees Celsius, millivolts, milliamps, milliwatts.
    Iio {
        /// The IIO device directory, e.g. `iio:device0`.
        device: String,
        /// The channel prefix, e.g. `in_temp` or `in_voltage0`.
        channel: String,
    },
    /// A thermal zone: `<root>/class/thermal/<zone>/temp`, in milli-degrees Celsius.
    ThermalZone(String),
}

impl SysfsSource {
    /// The file whose presence makes the source usable (the one read for every reading).
    pub fn reading_path(&self, root: &Path) -> PathBuf {
        match self {
            SysfsSource::Iio { device, channel } => {
                iio_dir(root, device).join(format!("{channel}_raw"))
            }
            SysfsSource::ThermalZone(zone) => root.join("class/thermal").join(zone).join("temp"),
        }
    }
}

fn iio_dir(root: &Path, device: &str) -> PathBuf {
    root.join("bus/iio/devices").join(device)
}

/// Why the sysfs sensors cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SysfsSensorError {
    /// A configured sensor's file does not exist.
    #[error("sensor `{name}`: {path} does not exist")]
    Missing {
        /// The sensor's configured name.
        name: String,
        /// The file that is missing.
        path: PathBuf,
    },
}

/// Sensors read from sysfs.
#[derive(Debug)]
pub struct SysfsSensors {
    root: PathBuf,
    descs: Vec<SensorDesc>,
    sources: Vec<SysfsSource>,
    start: Instant,
}

impl SysfsSensors {
    /// Opens `sensors` under sysfs `root`; fails naming the first file that is missing.
    pub fn open(
        root: &Path,
        sensors: Vec<(SensorDesc, SysfsSource)>,
    ) -> Result<Self, SysfsSensorError> {
        for (desc, source) in &sensors {
            let path = source.reading_path(root);
            if !path.is_file() {
                return Err(SysfsSensorError::Missing {
                    name: desc.name.clone(),
                    path,
                });
            }
        }
        let (descs, sources) = sensors.into_iter().unzip();
        Ok(Self {
            root: root.to_owned(),
            descs,
            sources,
            start: Instant::now(),
        })
    }

    /// The sensor's value in thousandths of its base unit (the IIO and thermal units).
    fn read_milli(&self, source: &SysfsSource) -> Result<f64, SensorError> {
        match source {
            SysfsSource::ThermalZone(_) => read_number(&source.reading_path(&self.root)),
            SysfsSource::Iio { device, channel } => {
                let dir = iio_dir(&self.root, device);
                let raw = read_number(&dir.join(format!("{channel}_raw")))?;
                let offset = read_optional(&dir.join(format!("{channel}_offset")), 0.0)?;
                let scale = read_optional(&dir.join(format!("{channel}_scale")), 1.0)?;
                Ok((raw + offset) * scale)
            }
        }
    }
}

/// Reads a file holding one decimal number (sysfs writes a trailing newline).
fn read_number(path: &Path) -> Result<f64, SensorError> {
    let text = fs::read_to_string(path)
        .map_err(|e| SensorError::Io(format!("cannot read {}: {e}", path.display())))?;
    parse_number(path, &text)
}

/// Like [`read_number`], but an absent file means `default` (the IIO ABI's rule for
/// `_scale` and `_offset`).
fn read_optional(path: &Path, default: f64) -> Result<f64, SensorError> {
    match fs::read_to_string(path) {
        Ok(text) => parse_number(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default),
        Err(e) => Err(SensorError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn parse_number(path: &Path, text: &str) -> Result<f64, SensorError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            SensorError::Io(format!(
                "{}: \"{}\" is not a number",
                path.display(),
                text.trim().escape_debug()
            ))
        })
}

/// Converts thousandths of the base unit to units of 10^`scale`.
fn to_scale(milli: f64, scale: i8) -> Option<i64> {
    let v = (milli * 10f64.powi(-3 - i32::from(scale))).round();
    // i64::MAX as f64 rounds up to 2^63, which no i64 holds: compare strictly below it.
    (v.is_finite() && v >= i64::MIN as f64 && v < i64::MAX as f64).then_some(v as i64)
}

impl SensorHw for SysfsSensors {
    fn sensors(&self) -> &[SensorDesc] {
        &self.descs
    }

    fn read(&mut self, id: SensorId) -> Result<Reading, SensorError> {
        let (desc, source) = self
            .descs
            .get(id)
            .zip(self.sources.get(id))
            .ok_or(SensorError::NoSuchSensor(id))?;
        let milli = self.read_milli(source)?;
        let value = to_scale(milli, desc.scale).ok_or_else(|| {
            SensorError::Io(format!(
                "sensor `{}`: {milli} thousandths do not fit a 64-bit reading at scale {}",
                desc.name, desc.scale
            ))
        })?;
        Ok(Reading {
            value,
            timestamp_ns: u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str, sensor_type: u8, scale: i8) -> SensorDesc {
        SensorDesc {
            name: name.into(),
            sensor_type,
            scale,
            update_interval_s: 1,
            range: (i64::MIN, i64::MAX),
        }
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn iio(device: &str, channel: &str) -> SysfsSource {
        SysfsSource::Iio {
            device: device.into(),
            channel: channel.into(),
        }
    }

    #[test]
    fn thermal_zones_read_millidegrees_at_the_configured_scale() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "class/thermal/thermal_zone3/temp", "45123\n");
        let mut s = SysfsSensors::open(
            dir.path(),
            vec![
                (
                    desc("soc_milli", 2, -3),
                    SysfsSource::ThermalZone("thermal_zone3".into()),
                ),
                (
                    desc("soc_deci", 2, -1),
                    SysfsSource::ThermalZone("thermal_zone3".into()),
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.read(0).map(|r| r.value), Ok(45_123));
        assert_eq!(s.read(1).map(|r| r.value), Ok(451));
        // The kernel's value is read afresh every time.
        write(dir.path(), "class/thermal/thermal_zone3/temp", "-5000\n");
        assert_eq!(s.read(0).map(|r| r.value), Ok(-5_000));
        assert_eq!(s.read(2), Err(SensorError::NoSuchSensor(2)));
    }

    #[test]
    fn iio_channels_apply_offset_then_scale() {
        let dir = tempfile::tempdir().unwrap();
        let dev = "bus/iio/devices/iio:device0";
        // A die temperature: (raw + offset) * scale = (1200 - 273) * 50 = 46350 m°C.
        write(dir.path(), &format!("{dev}/in_temp_raw"), "1200\n");
        write(dir.path(), &format!("{dev}/in_temp_offset"), "-273\n");
        write(dir.path(), &format!("{dev}/in_temp_scale"), "50.000000\n");
        // A voltage with a fractional scale and no offset: 3000 * 1.2207 = 3662.1 mV.
        write(dir.path(), &format!("{dev}/in_voltage1_raw"), "3000\n");
        write(
            dir.path(),
            &format!("{dev}/in_voltage1_scale"),
            "1.220703125\n",
        );
        // A current with neither: the raw value is already in milliamps.
        write(dir.path(), &format!("{dev}/in_current0_raw"), "-250\n");
        let mut s = SysfsSensors::open(
            dir.path(),
            vec![
                (desc("die", 2, -3), iio("iio:device0", "in_temp")),
                (desc("vbat", 5, -6), iio("iio:device0", "in_voltage1")),
                (desc("ibat", 6, -3), iio("iio:device0", "in_current0")),
            ],
        )
        .unwrap();
        assert_eq!(s.read(0).map(|r| r.value), Ok(46_350));
        assert_eq!(
            s.read(1).map(|r| r.value),
            Ok(3_662_109),
            "microvolts, rounded"
        );
        assert_eq!(s.read(2).map(|r| r.value), Ok(-250));
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = SysfsSensors::open(
            dir.path(),
            vec![(desc("vbat", 5, -3), iio("iio:device7", "in_voltage0"))],
        )
        .unwrap_err();
        let path = dir
            .path()
            .join("bus/iio/devices/iio:device7/in_voltage0_raw");
        assert_eq!(
            err,
            SysfsSensorError::Missing {
                name: "vbat".into(),
                path: path.clone()
            }
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        let err = SysfsSensors::open(
            dir.path(),
            vec![(
                desc("t", 2, -3),
                SysfsSource::ThermalZone("thermal_zone9".into()),
            )],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("class/thermal/thermal_zone9/temp does not exist"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_values_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let zone = "class/thermal/thermal_zone0/temp";
        write(dir.path(), zone, "45000\n");
        let mut s = SysfsSensors::open(
            dir.path(),
            vec![(
                desc("t", 2, -3),
                SysfsSource::ThermalZone("thermal_zone0".into()),
            )],
        )
        .unwrap();
        write(dir.path(), zone, "hot\n");
        let e = s.read(0).unwrap_err().to_string();
        assert!(
            e.contains("thermal_zone0/temp") && e.contains("\"hot\""),
            "{e}"
        );
        fs::remove_file(dir.path().join(zone)).unwrap();
        let e = s.read(0).unwrap_err().to_string();
        assert!(
            e.contains("cannot read") && e.contains("thermal_zone0/temp"),
            "{e}"
        );
        // A value that cannot be expressed at the sensor's scale.
        write(dir.path(), zone, "1e30\n");
        assert!(s.read(0).is_err());
    }
}
