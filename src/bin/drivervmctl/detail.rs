//! Per-kind device detail as one serializable view: `--json` prints the view, text prints
//! its lines, so the two never disagree.

use serde::Serialize;
use serde_json::Value;

use drivervm::control::iface::{self, IDriverVm::IDriverVm};
use drivervm::control::{self, Status};

/// One clock as an SCMI agent sees it.
#[derive(Debug, Serialize)]
pub struct ClockView {
    id: i32,
    name: String,
    rate_hz: i64,
    enabled: bool,
    owner: String,
}

/// An RPMB partition's public state.
#[derive(Debug, Serialize)]
pub struct RpmbView {
    capacity_bytes: i64,
    write_counter: i64,
    key_programmed: bool,
}

/// The RDS a tuner decoded.
#[derive(Debug, Serialize)]
pub struct RdsView {
    pi: i32,
    ps: String,
    rt: String,
    pty: i32,
}

/// A radio's tuner state.
#[derive(Debug, Serialize)]
pub struct RadioView {
    band: &'static str,
    frequency_khz: i32,
    signal_percent: i32,
    stereo: bool,
    rds: Option<RdsView>,
}

/// One virtio-snd stream.
#[derive(Debug, Serialize)]
pub struct StreamView {
    id: i32,
    direction: &'static str,
    state: String,
    format: String,
    rate_hz: i32,
    channels: i32,
    xruns: i64,
}

/// What `drivervmctl device` shows beyond link state and counters.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DetailView {
    /// virtio-scmi: the agent's clocks.
    Clocks {
        /// In SCMI id order.
        clocks: Vec<ClockView>,
    },
    /// virtio-rpmb (every face).
    Rpmb(RpmbView),
    /// virtio-radio.
    Radio(RadioView),
    /// virtio-snd: its streams.
    Sound {
        /// In stream id order.
        streams: Vec<StreamView>,
    },
    /// The service could not give the detail (a backend that is not there).
    Unavailable {
        /// Why, as the service put it.
        unavailable: String,
    },
    /// A kind this drivervmctl does not know.
    None,
}

/// Names an AIDL stream state for humans.
pub fn stream_state_name(s: iface::AudioStreamState::AudioStreamState) -> String {
    use iface::AudioStreamState::AudioStreamState as S;
    match s {
        S::IDLE => "idle".into(),
        S::PARAMETERS_SET => "parameters-set".into(),
        S::PREPARED => "prepared".into(),
        S::RUNNING => "running".into(),
        S::STOPPED => "stopped".into(),
        other => format!("unknown({})", other.0),
    }
}

/// The first vendor.drivervm version with `getDetail`.
pub const GET_DETAIL_VERSION: i32 = 2;

impl DetailView {
    /// Asks a service speaking interface `version` for device `d`'s detail: one `getDetail`
    /// from V2 on, the per-kind getters of V1 before. An error becomes
    /// [`DetailView::Unavailable`].
    pub fn fetch(svc: &dyn IDriverVm, d: &iface::DeviceStatus::DeviceStatus, version: i32) -> Self {
        let got = if version >= GET_DETAIL_VERSION {
            svc.r#getDetail(&d.r#id).map(Self::from)
        } else {
            Self::fetch_v1(svc, d)
        };
        got.unwrap_or_else(|s: Status| Self::Unavailable {
            unavailable: control::describe_status(&s).1,
        })
    }

    /// The V1 way: the getter of the device's kind.
    fn fetch_v1(
        svc: &dyn IDriverVm,
        d: &iface::DeviceStatus::DeviceStatus,
    ) -> Result<Self, Status> {
        use iface::DeviceKind::DeviceKind as K;
        let id = d.r#id.as_str();
        match d.r#kind {
            K::SCMI => svc.r#getClocks(id).map(Self::clocks),
            K::RPMB => svc.r#getRpmbInfo(id).map(|r| Self::Rpmb(RpmbView::from(r))),
            K::RADIO => svc
                .r#getRadioInfo(id)
                .map(|r| Self::Radio(RadioView::from(r))),
            K::SOUND => svc.r#getAudioStreams(id).map(Self::streams),
            _ => Ok(Self::None),
        }
    }

    fn clocks(c: Vec<iface::ClockInfo::ClockInfo>) -> Self {
        Self::Clocks {
            clocks: c.into_iter().map(ClockView::from).collect(),
        }
    }

    fn streams(s: Vec<iface::AudioStream::AudioStream>) -> Self {
        Self::Sound {
            streams: s.into_iter().map(StreamView::from).collect(),
        }
    }

    /// The view as JSON (`null` for no detail).
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The view as text lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Self::Clocks { clocks } => {
                let mut lines = vec![format!("clocks: {}", clocks.len())];
                for c in clocks {
                    lines.push(format!(
                        "  {:>3}  {:<24} {:>12} Hz  {:<8} {}",
                        c.id,
                        c.name,
                        c.rate_hz,
                        if c.enabled { "enabled" } else { "disabled" },
                        if c.owner.is_empty() { "-" } else { &c.owner }
                    ));
                }
                lines
            }
            Self::Rpmb(r) => vec![
                format!("capacity    {} bytes", r.capacity_bytes),
                format!("write count {}", r.write_counter),
                format!(
                    "key         {}",
                    if r.key_programmed {
                        "programmed"
                    } else {
                        "not programmed"
                    }
                ),
            ],
            Self::Radio(r) => {
                let mut lines = vec![
                    format!("tuned       {} {} kHz", r.band, r.frequency_khz),
                    format!(
                        "signal      {}%{}",
                        r.signal_percent,
                        if r.stereo { " stereo" } else { "" }
                    ),
                ];
                if let Some(x) = &r.rds {
                    lines.push(format!(
                        "rds         PI {:04X} PS \"{}\" PTY {} RT \"{}\"",
                        x.pi, x.ps, x.pty, x.rt
                    ));
                }
                lines
            }
            Self::Sound { streams } => {
                let mut lines = vec![format!("streams: {}", streams.len())];
                for s in streams {
                    let shape = if s.format.is_empty() {
                        "-".to_owned()
                    } else {
                        format!("{} {} Hz {} ch", s.format, s.rate_hz, s.channels)
                    };
                    lines.push(format!(
                        "  {:>3}  {:<6}  {:<14}  {shape:<24}  xruns {}",
                        s.id, s.direction, s.state, s.xruns
                    ));
                }
                lines
            }
            Self::Unavailable { unavailable } => {
                vec![format!("detail: unavailable ({unavailable})")]
            }
            Self::None => Vec::new(),
        }
    }
}

impl From<iface::DeviceDetail::DeviceDetail> for DetailView {
    fn from(d: iface::DeviceDetail::DeviceDetail) -> Self {
        use iface::DeviceDetail::DeviceDetail as D;
        match d {
            D::Scmi(s) => Self::clocks(s.r#clocks),
            D::Rpmb(r) => Self::Rpmb(RpmbView::from(r)),
            D::Sound(s) => Self::streams(s.r#streams),
            D::Radio(r) => Self::Radio(RadioView::from(r)),
        }
    }
}

impl From<iface::RpmbInfo::RpmbInfo> for RpmbView {
    fn from(r: iface::RpmbInfo::RpmbInfo) -> Self {
        Self {
            capacity_bytes: r.r#capacityBytes,
            write_counter: r.r#writeCounter,
            key_programmed: r.r#keyProgrammed,
        }
    }
}

impl From<iface::ClockInfo::ClockInfo> for ClockView {
    fn from(c: iface::ClockInfo::ClockInfo) -> Self {
        Self {
            id: c.r#id,
            name: c.r#name,
            rate_hz: c.r#rateHz,
            enabled: c.r#enabled,
            owner: c.r#owner,
        }
    }
}

impl From<iface::RadioInfo::RadioInfo> for RadioView {
    fn from(r: iface::RadioInfo::RadioInfo) -> Self {
        Self {
            band: if r.r#band == iface::RadioBand::RadioBand::AM {
                "AM"
            } else {
                "FM"
            },
            frequency_khz: r.r#frequencyKhz,
            signal_percent: r.r#signalPercent,
            stereo: r.r#stereo,
            rds: r.r#rds.map(|x| RdsView {
                pi: x.r#pi,
                ps: x.r#ps,
                rt: x.r#rt,
                pty: x.r#pty,
            }),
        }
    }
}

impl From<iface::AudioStream::AudioStream> for StreamView {
    fn from(s: iface::AudioStream::AudioStream) -> Self {
        Self {
            id: s.r#id,
            direction: if s.r#direction == iface::AudioDirection::AudioDirection::INPUT {
                "input"
            } else {
                "output"
            },
            state: stream_state_name(s.r#state),
            format: s.r#format,
            rate_hz: s.r#rateHz,
            channels: s.r#channels,
            xruns: s.r#xruns,
        }
    }
}
