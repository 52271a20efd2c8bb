//! The configured sensors as one backend: each `[[soc.sensor]]` names its own source, a
//! simulation or a sysfs file, and the set routes every reading to that backend.

use std::path::Path;

use super::sensor::{Reading, SensorDesc, SensorError, SensorHw, SensorId, SimSensors, SimSource};
use super::sysfs_sensors::{SysfsSensorError, SysfsSensors, SysfsSource};

/// Where one configured sensor's readings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SensorSource {
    /// A simulated reading (`value` or `wave` in the config).
    Sim(SimSource),
    /// A real sensor of the driver VM's kernel (`iio` or `thermal_zone`).
    Sysfs(SysfsSource),
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Sim(SensorId),
    Sysfs(SensorId),
}

/// Sensors from both backends, numbered in config order.
#[derive(Debug)]
pub struct SensorSet {
    descs: Vec<SensorDesc>,
    routes: Vec<Route>,
    sim: SimSensors,
    sysfs: SysfsSensors,
}

impl SensorSet {
    /// Builds `sensors`, reading the sysfs ones under `sysfs_root`; fails naming the first
    /// sysfs file that is missing.
    pub fn open(
        sysfs_root: &Path,
        sensors: Vec<(SensorDesc, SensorSource)>,
    ) -> Result<Self, SysfsSensorError> {
        let mut descs = Vec::with_capacity(sensors.len());
        let mut routes = Vec::with_capacity(sensors.len());
        let (mut sim, mut sysfs) = (Vec::new(), Vec::new());
        for (desc, source) in sensors {
            descs.push(desc.clone());
            match source {
                SensorSource::Sim(s) => {
                    routes.push(Route::Sim(sim.len()));
                    sim.push((desc, s));
                }
                SensorSource::Sysfs(s) => {
                    routes.push(Route::Sysfs(sysfs.len()));
                    sysfs.push((desc, s));
                }
            }
        }
        Ok(Self {
            descs,
            routes,
            sim: SimSensors::new(sim),
            sysfs: SysfsSensors::open(sysfs_root, sysfs)?,
        })
    }
}

impl SensorHw for SensorSet {
    fn sensors(&self) -> &[SensorDesc] {
        &self.descs
    }

    fn read(&mut self, id: SensorId) -> Result<Reading, SensorError> {
        match self.routes.get(id) {
            Some(Route::Sim(i)) => self.sim.read(*i),
            Some(Route::Sysfs(i)) => self.sysfs.read(*i),
            None => Err(SensorError::NoSuchSensor(id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(name: &str) -> SensorDesc {
        SensorDesc {
            name: name.into(),
            sensor_type: 2,
            scale: -3,
            update_interval_s: 1,
            range: (i64::MIN, i64::MAX),
        }
    }

    #[test]
    fn readings_come_from_each_sensors_own_source() {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("class/thermal/thermal_zone1");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::write(zone.join("temp"), "51000\n").unwrap();
        let mut set = SensorSet::open(
            dir.path(),
            vec![
                (desc("sim_a"), SensorSource::Sim(SimSource::Fixed(7))),
                (
                    desc("zone"),
                    SensorSource::Sysfs(SysfsSource::ThermalZone("thermal_zone1".into())),
                ),
                (desc("sim_b"), SensorSource::Sim(SimSource::Fixed(-9))),
            ],
        )
        .unwrap();
        let names: Vec<&str> = set.sensors().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["sim_a", "zone", "sim_b"]);
        let values: Vec<_> = (0..3).map(|i| set.read(i).map(|r| r.value)).collect();
        assert_eq!(values, [Ok(7), Ok(51_000), Ok(-9)]);
        assert_eq!(set.read(3), Err(SensorError::NoSuchSensor(3)));
    }

    #[test]
    fn a_missing_sysfs_sensor_stops_the_set() {
        let dir = tempfile::tempdir().unwrap();
        let err = SensorSet::open(
            dir.path(),
            vec![(
                desc("zone"),
                SensorSource::Sysfs(SysfsSource::ThermalZone("thermal_zone4".into())),
            )],
        )
        .unwrap_err();
        assert!(err.to_string().contains("thermal_zone4/temp"), "{err}");
    }
}
