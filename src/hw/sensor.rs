//! Sensors: the hardware interface and its simulated backend (fixed values or a triangle
//! wave between two bounds, as a thermal sensor under a changing load reads).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Index of a sensor.
pub type SensorId = usize;

/// What a simulated sensor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimSource {
    /// Always this value.
    Fixed(i64),
    /// Rises linearly from `min` to `max` and back over `period`.
    Triangle {
        /// Lowest value.
        min: i64,
        /// Highest value.
        max: i64,
        /// Full cycle.
        period: Duration,
    },
}

/// Static description of one sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorDesc {
    /// Name.
    pub name: String,
    /// SCMI sensor type (DEN0056 table: 2 = degrees C, 5 = volts, 6 = amps, 7 = watts, ...).
    pub sensor_type: u8,
    /// Power-of-ten exponent applied to readings (-3: milli-units).
    pub scale: i8,
    /// Seconds between continuous updates (SCMI update interval, seconds part).
    pub update_interval_s: u16,
    /// Lowest and highest value the sensor can read.
    pub range: (i64, i64),
}

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The value, in units of 10^scale.
    pub value: i64,
    /// Nanoseconds since the backend started.
    pub timestamp_ns: u64,
}

/// Why a sensor could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SensorError {
    /// No such sensor.
    #[error("no sensor {0}")]
    NoSuchSensor(SensorId),
    /// The backend failed.
    #[error("{0}")]
    Io(String),
}

/// Sensors as the hardware sees them.
pub trait SensorHw: Send {
    /// Every sensor.
    fn sensors(&self) -> &[SensorDesc];
    /// Reads one sensor now.
    fn read(&mut self, id: SensorId) -> Result<Reading, SensorError>;
}

/// Simulated sensors.
#[derive(Debug)]
pub struct SimSensors {
    descs: Vec<SensorDesc>,
    sources: Vec<SimSource>,
    start: Instant,
}

impl SimSensors {
    /// Sensors with their sources.
    pub fn new(sensors: Vec<(SensorDesc, SimSource)>) -> Self {
        let (descs, sources) = sensors.into_iter().unzip();
        Self {
            descs,
            sources,
            start: Instant::now(),
        }
    }

    /// Replaces a sensor's source (tests and demos drive trip points this way).
    pub fn set_source(&mut self, id: SensorId, source: SimSource) -> Result<(), SensorError> {
        *self
            .sources
            .get_mut(id)
            .ok_or(SensorError::NoSuchSensor(id))? = source;
        Ok(())
    }
}

/// The triangle wave's value `elapsed` into its cycle.
fn triangle(min: i64, max: i64, period: Duration, elapsed: Duration) -> i64 {
    let period_ns = period.as_nanos().max(1);
    let phase = elapsed.as_nanos() % period_ns;
    let half = (period_ns / 2).max(1);
    let span = i128::from(max) - i128::from(min);
    let up = if phase < half {
        phase
    } else {
        period_ns - phase
    };
    let offset = span * up as i128 / half as i128;
    (i128::from(min) + offset).clamp(i128::from(min.min(max)), i128::from(max.max(min))) as i64
}

impl SensorHw for SimSensors {
    fn sensors(&self) -> &[SensorDesc] {
        &self.descs
    }

    fn read(&mut self, id: SensorId) -> Result<Reading, SensorError> {
        let source = self.sources.get(id).ok_or(SensorError::NoSuchSensor(id))?;
        let elapsed = self.start.elapsed();
        let value = match *source {
            SimSource::Fixed(v) => v,
            SimSource::Triangle { min, max, period } => triangle(min, max, period, elapsed),
        };
        Ok(Reading {
            value,
            timestamp_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        })
    }
}

/// Sensors shared by agents (reads need no arbitration, only serialisation).
pub struct SharedSensors {
    hw: Mutex<Box<dyn SensorHw>>,
}

impl SharedSensors {
    /// Shares `hw`.
    pub fn new(hw: Box<dyn SensorHw>) -> Self {
        Self { hw: Mutex::new(hw) }
    }

    /// Every sensor.
    pub fn sensors(&self) -> Vec<SensorDesc> {
        self.hw
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sensors()
            .to_vec()
    }

    /// Reads one sensor.
    pub fn read(&self, id: SensorId) -> Result<Reading, SensorError> {
        self.hw.lock().unwrap_or_else(|p| p.into_inner()).read(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triangle_rises_and_falls() {
        let p = Duration::from_secs(10);
        let at = |s: u64| triangle(20_000, 70_000, p, Duration::from_secs(s));
        assert_eq!((at(0), at(5), at(10)), (20_000, 70_000, 20_000));
        assert_eq!((at(2), at(8)), (40_000, 40_000));
    }

    #[test]
    fn fixed_sensors_read_their_value() {
        let desc = SensorDesc {
            name: "soc-thermal".into(),
            sensor_type: 2,
            scale: -3,
            update_interval_s: 1,
            range: (-40_000, 125_000),
        };
        let mut s = SimSensors::new(vec![(desc, SimSource::Fixed(45_000))]);
        assert_eq!(s.read(0).map(|r| r.value), Ok(45_000));
        assert_eq!(s.read(1), Err(SensorError::NoSuchSensor(1)));
        s.set_source(0, SimSource::Fixed(-5)).unwrap();
        assert_eq!(s.read(0).map(|r| r.value), Ok(-5));
    }
}
