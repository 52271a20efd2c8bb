//! The SCMI sensor management protocol (0x15, version 3.0): scalar sensors with timestamped
//! readings, trip points and continuous-update notifications.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::warn;

use super::constants::{Status, PROTOCOL_SENSOR};
use super::grant::{page, Grant, View};
use super::message::{encode_notification, Params, Reply};
use super::protocol::{Call, Protocol};
use crate::hw::sensor::{Reading, SensorDesc, SensorError, SharedSensors};

/// Sensor protocol version 3.0.
pub const VERSION: u32 = 0x0003_0000;
/// Trip points each sensor offers.
pub const TRIP_POINTS: usize = 4;
/// How often trip points are evaluated while any is armed.
const TRIP_POLL: Duration = Duration::from_millis(100);
/// Timestamps are in nanoseconds: exponent -9 as a 5-bit two's-complement field.
const TIMESTAMP_EXP_NS: u32 = (-9i32 as u32) & 0x1f;
/// Size of a sensor descriptor without extended attributes.
const DESC_SIZE: usize = 28;

/// Message IDs (§4.7.2).
pub mod msg {
    /// SENSOR_DESCRIPTION_GET.
    pub const DESCRIPTION_GET: u8 = 0x3;
    /// SENSOR_TRIP_POINT_NOTIFY.
    pub const TRIP_POINT_NOTIFY: u8 = 0x4;
    /// SENSOR_TRIP_POINT_CONFIG.
    pub const TRIP_POINT_CONFIG: u8 = 0x5;
    /// SENSOR_READING_GET.
    pub const READING_GET: u8 = 0x6;
    /// SENSOR_LIST_UPDATE_INTERVALS.
    pub const LIST_UPDATE_INTERVALS: u8 = 0x8;
    /// SENSOR_CONFIG_GET.
    pub const CONFIG_GET: u8 = 0x9;
    /// SENSOR_CONFIG_SET.
    pub const CONFIG_SET: u8 = 0xa;
    /// SENSOR_CONTINUOUS_UPDATE_NOTIFY.
    pub const CONTINUOUS_UPDATE_NOTIFY: u8 = 0xb;
    /// SENSOR_NAME_GET.
    pub const NAME_GET: u8 = 0xc;
    /// Notification SENSOR_TRIP_POINT_EVENT.
    pub const TRIP_POINT_EVENT: u8 = 0x0;
    /// Notification SENSOR_UPDATE.
    pub const UPDATE: u8 = 0x1;
}

const KIND_TRIP: usize = 0;
const KIND_UPDATE: usize = 1;

/// Direction a trip point fires on (event control bits 1:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trip {
    Off,
    Up(i64),
    Down(i64),
    Both(i64),
}

#[derive(Debug, Clone)]
struct SensorState {
    enabled: bool,
    timestamps: bool,
    trips: [Trip; TRIP_POINTS],
    last: Option<i64>,
    next_update: Option<Instant>,
    next_trip_check: Option<Instant>,
}

impl Default for SensorState {
    fn default() -> Self {
        Self {
            enabled: true,
            timestamps: true,
            trips: [Trip::Off; TRIP_POINTS],
            last: None,
            next_update: None,
            next_trip_check: None,
        }
    }
}

/// The sensor protocol as served to one agent; trip points and configuration are this
/// agent's own (the hardware keeps running for others).
pub struct SensorProtocol {
    sensors: Arc<SharedSensors>,
    agent: u32,
    view: View,
    descs: Vec<SensorDesc>,
    state: Vec<SensorState>,
}

/// Encodes an update interval of `secs` seconds (exponent 0) in the v3 layout: seconds
/// in bits 20:5, exponent in 4:0.
fn interval(secs: u16) -> u32 {
    u32::from(secs) << 5
}

fn status_of(e: SensorError) -> Status {
    warn!("sensor: {e}");
    match e {
        SensorError::NoSuchSensor(_) => Status::NotFound,
        SensorError::Io(_) => Status::HardwareError,
    }
}

impl SensorProtocol {
    /// Serves `grants` of `sensors` to agent `agent`; control grants may configure.
    pub fn new(sensors: Arc<SharedSensors>, agent: u32, grants: Vec<Grant>) -> Self {
        let all = sensors.sensors();
        let descs: Vec<SensorDesc> = grants
            .iter()
            .filter_map(|g| all.get(g.hw).cloned())
            .collect();
        let grants: Vec<Grant> = grants.into_iter().filter(|g| g.hw < all.len()).collect();
        let n = grants.len();
        Self {
            sensors,
            agent,
            view: View::new(grants, 2),
            descs,
            state: vec![SensorState::default(); n],
        }
    }

    fn read(&self, id: usize) -> Result<Reading, Status> {
        let hw = self.view.get(id as u32)?;
        self.sensors.read(hw).map_err(status_of)
    }

    fn descriptor(&self, id: usize, reply: &mut Reply) {
        let d = &self.descs[id];
        // Continuous updates, extended names, nanosecond timestamps, trip points.
        let low = (1 << 30) | (1 << 29) | (TIMESTAMP_EXP_NS << 10) | (1 << 9) | TRIP_POINTS as u32;
        let scale = (i32::from(d.scale) as u32) & 0x1f;
        let high = (scale << 11) | u32::from(d.sensor_type);
        reply.u32(id as u32).u32(low).u32(high).name::<16>(&d.name);
    }

    fn reading(r: &Reading, reply: &mut Reply) {
        reply.u64(r.value as u64).u64(r.timestamp_ns);
    }

    fn trip_config(&mut self, mut p: Params<'_>) -> Result<(), Status> {
        let id = p.u32()?;
        let control = p.u32()?;
        let value = p.u64()? as i64;
        p.finish()?;
        self.view.control(id)?;
        if control & !0xff3 != 0 {
            return Err(Status::InvalidParameters);
        }
        let trip = ((control >> 4) & 0xff) as usize;
        let slot = self.state[id as usize]
            .trips
            .get_mut(trip)
            .ok_or(Status::InvalidParameters)?;
        *slot = match control & 3 {
            0 => Trip::Off,
            1 => Trip::Up(value),
            2 => Trip::Down(value),
            _ => Trip::Both(value),
        };
        Ok(())
    }

    fn config_set(&mut self, mut p: Params<'_>) -> Result<(), Status> {
        let id = p.u32()?;
        let config = p.u32()?;
        p.finish()?;
        self.view.control(id)?;
        let ours = interval(self.descs[id as usize].update_interval_s);
        // Bits 31:11 request an update interval (0 keeps the current one); 10:9 rounding;
        // 8:2 reserved; 1 timestamps; 0 enable.
        if config & 0x1fc != 0 {
            return Err(Status::InvalidParameters);
        }
        let requested = config >> 11;
        let ours_field = ours >> 5 << 5;
        if requested != 0 && requested != ours_field {
            return Err(Status::OutOfRange);
        }
        let s = &mut self.state[id as usize];
        s.enabled = config & 1 != 0;
        s.timestamps = config & 2 != 0;
        Ok(())
    }

    fn notify_trip(&mut self, now: Instant, id: usize, value: i64, out: &mut Vec<Vec<u8>>) {
        let s = &mut self.state[id];
        let Some(prev) = s.last.replace(value) else {
            return;
        };
        for (n, trip) in s.trips.iter().enumerate() {
            let crossed = match *trip {
                Trip::Off => None,
                Trip::Up(t) => (prev < t && value >= t).then_some(1),
                Trip::Down(t) => (prev > t && value <= t).then_some(0),
                Trip::Both(t) => {
                    if prev < t && value >= t {
                        Some(1)
                    } else if prev > t && value <= t {
                        Some(0)
                    } else {
                        None
                    }
                }
            };
            if let Some(dir) = crossed {
                let mut r = Reply::default();
                r.u32(self.agent)
                    .u32(id as u32)
                    .u32(((n as u32) << 4) | dir);
                out.push(encode_notification(
                    PROTOCOL_SENSOR,
                    msg::TRIP_POINT_EVENT,
                    &r.into_bytes(),
                ));
            }
        }
        s.next_trip_check = Some(now + TRIP_POLL);
    }
}

impl Protocol for SensorProtocol {
    fn id(&self) -> u8 {
        PROTOCOL_SENSOR
    }

    fn version(&self) -> u32 {
        VERSION
    }

    fn attributes(&self, reply: &mut Reply) {
        // Sensors in 15:0, no asynchronous reads pending (23:16); no shared-memory region.
        reply
            .u32(self.view.len().min(0xffff) as u32)
            .u32(0)
            .u32(0)
            .u32(0);
    }

    fn message_attributes(&self, message_id: u8) -> Option<u32> {
        matches!(
            message_id,
            msg::DESCRIPTION_GET
                | msg::TRIP_POINT_NOTIFY
                | msg::TRIP_POINT_CONFIG
                | msg::READING_GET
                | msg::LIST_UPDATE_INTERVALS
                | msg::CONFIG_GET
                | msg::CONFIG_SET
                | msg::CONTINUOUS_UPDATE_NOTIFY
                | msg::NAME_GET
        )
        .then_some(0)
    }

    fn handle(&mut self, call: Call, mut p: Params<'_>, reply: &mut Reply) -> Result<(), Status> {
        match call.message_id {
            msg::DESCRIPTION_GET => {
                let index = p.u32()?;
                p.finish()?;
                let ids: Vec<usize> = (0..self.descs.len()).collect();
                let (ids, remaining) = page(&ids, index, call.max_reply, 4, DESC_SIZE, 0xffff)?;
                reply.u32(((remaining.min(0xffff) as u32) << 16) | ids.len() as u32);
                for &id in ids {
                    self.descriptor(id, reply);
                }
            }
            msg::TRIP_POINT_NOTIFY => self.view.subscribe(KIND_TRIP, p)?,
            msg::TRIP_POINT_CONFIG => self.trip_config(p)?,
            msg::READING_GET => {
                let id = p.u32()?;
                let flags = p.u32()?;
                p.finish()?;
                self.view.get(id)?;
                if flags & 1 != 0 {
                    return Err(Status::NotSupported);
                }
                if flags != 0 {
                    return Err(Status::InvalidParameters);
                }
                let r = self.read(id as usize)?;
                Self::reading(&r, reply);
            }
            msg::LIST_UPDATE_INTERVALS => {
                let id = p.u32()?;
                let index = p.u32()?;
                p.finish()?;
                self.view.get(id)?;
                let list = [interval(self.descs[id as usize].update_interval_s)];
                let (items, remaining) = page(&list, index, call.max_reply, 4, 4, 0xfff)?;
                reply.u32(((remaining as u32) << 16) | items.len() as u32);
                for i in items {
                    reply.u32(*i);
                }
            }
            msg::CONFIG_GET => {
                let id = p.u32()?;
                p.finish()?;
                self.view.get(id)?;
                let s = &self.state[id as usize];
                let ours = interval(self.descs[id as usize].update_interval_s) >> 5 << 5;
                reply.u32((ours << 11) | (u32::from(s.timestamps) << 1) | u32::from(s.enabled));
            }
            msg::CONFIG_SET => self.config_set(p)?,
            msg::CONTINUOUS_UPDATE_NOTIFY => self.view.subscribe(KIND_UPDATE, p)?,
            msg::NAME_GET => {
                let id = p.u32()?;
                p.finish()?;
                self.view.get(id)?;
                reply.u32(0).name::<64>(&self.descs[id as usize].name);
            }
            _ => return Err(Status::NotSupported),
        }
        Ok(())
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        // Every request is followed by a poll; without subscriptions there is nothing to
        // schedule, so skip the per-sensor lookups and just forget any schedule.
        if !self.view.any_subscribed() {
            for st in &mut self.state {
                st.next_update = None;
                st.next_trip_check = None;
                st.last = None;
            }
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut soonest = |at: Instant| next = Some(next.map_or(at, |n: Instant| n.min(at)));
        for id in 0..self.state.len() {
            let hw = match self.view.get(id as u32) {
                Ok(hw) => hw,
                Err(_) => continue,
            };
            let enabled = self.state[id].enabled;
            let updates = enabled && self.view.subscribed(KIND_UPDATE, hw).is_some();
            let trips = enabled
                && self.view.subscribed(KIND_TRIP, hw).is_some()
                && self.state[id].trips.iter().any(|t| *t != Trip::Off);
            if !updates {
                self.state[id].next_update = None;
            }
            if !trips {
                self.state[id].next_trip_check = None;
                self.state[id].last = None;
            }
            if !updates && !trips {
                continue;
            }
            let due_update = updates && self.state[id].next_update.is_none_or(|t| t <= now);
            let due_trip = trips && self.state[id].next_trip_check.is_none_or(|t| t <= now);
            if due_update || due_trip {
                let reading = match self.sensors.read(hw) {
                    Ok(r) => r,
                    Err(e) => {
                        warn!("sensor {id}: {e}");
                        continue;
                    }
                };
                if due_trip {
                    self.notify_trip(now, id, reading.value, out);
                }
                if due_update {
                    let mut r = Reply::default();
                    r.u32(self.agent).u32(id as u32);
                    Self::reading(&reading, &mut r);
                    out.push(encode_notification(
                        PROTOCOL_SENSOR,
                        msg::UPDATE,
                        &r.into_bytes(),
                    ));
                    let every =
                        Duration::from_secs(u64::from(self.descs[id].update_interval_s.max(1)));
                    self.state[id].next_update = Some(now + every);
                }
            }
            if let Some(t) = self.state[id].next_update {
                soonest(t);
            }
            if let Some(t) = self.state[id].next_trip_check {
                soonest(t);
            }
        }
        next
    }

    fn reset(&mut self) {
        self.view.clear_subscriptions();
        self.state.fill(SensorState::default());
    }
}
