//! Status snapshots to AIDL parcelables. Integers the AIDL carries signed are clamped, never
//! wrapped, so a huge counter reads as i64::MAX rather than negative.

use super::shim::iface;
use crate::kind::DeviceKind;
use crate::status::{
    AudioDirection, AudioStreamDetail, AudioStreamState, ClockDetail, DeviceDetail, DeviceSnapshot,
    LinkState, RadioBand, RadioDetail, RpmbDetail, TransportKind,
};

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn clamp32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The AIDL device kind.
pub fn kind(k: DeviceKind) -> iface::DeviceKind::DeviceKind {
    use iface::DeviceKind::DeviceKind as K;
    match k {
        DeviceKind::Scmi => K::SCMI,
        DeviceKind::Rpmb => K::RPMB,
        DeviceKind::Sound => K::SOUND,
        DeviceKind::Radio => K::RADIO,
        // No value of its own; DeviceStatus.kindName names it.
        DeviceKind::Extra(_) => K(-1),
    }
}

/// The device kind an AIDL value names, if it names one.
pub fn kind_from_aidl(k: iface::DeviceKind::DeviceKind) -> Option<DeviceKind> {
    DeviceKind::ALL.into_iter().find(|d| kind(*d) == k)
}

/// The AIDL link state.
pub fn link(l: LinkState) -> iface::LinkState::LinkState {
    use iface::LinkState::LinkState as L;
    match l {
        LinkState::Listening => L::LISTENING,
        LinkState::Connected => L::CONNECTED,
        LinkState::DriverOk => L::DRIVER_OK,
        LinkState::Failed => L::FAILED,
    }
}

/// The link state an AIDL value names, if it names one.
pub fn link_from_aidl(l: iface::LinkState::LinkState) -> Option<LinkState> {
    use iface::LinkState::LinkState as L;
    [
        (L::LISTENING, LinkState::Listening),
        (L::CONNECTED, LinkState::Connected),
        (L::DRIVER_OK, LinkState::DriverOk),
        (L::FAILED, LinkState::Failed),
    ]
    .into_iter()
    .find(|(a, _)| *a == l)
    .map(|(_, s)| s)
}

fn transport(t: TransportKind) -> iface::TransportKind::TransportKind {
    use iface::TransportKind::TransportKind as T;
    match t {
        TransportKind::VhostUser => T::VHOST_USER,
        TransportKind::Gunyah => T::GUNYAH,
        TransportKind::RpmbDev => T::RPMB_DEV,
    }
}

/// A device's status parcelable.
pub fn device_status(s: DeviceSnapshot) -> iface::DeviceStatus::DeviceStatus {
    iface::DeviceStatus::DeviceStatus {
        r#id: s.id,
        // Only a detached state (never registered with the service) has no kind; it reads
        // as a value outside the enum, which clients print as unknown.
        r#kind: s.kind.map_or(iface::DeviceKind::DeviceKind(-1), kind),
        r#guest: s.guest,
        r#transport: transport(s.transport),
        r#endpoint: s.endpoint,
        r#link: link(s.link),
        // The 64 feature bits travel as the bit pattern of an AIDL long.
        r#negotiatedFeatures: s.features as i64,
        r#queues: s
            .queues
            .into_iter()
            .map(|q| iface::QueueCounters::QueueCounters {
                r#index: i32::from(q.index),
                r#requests: clamp(q.requests),
                r#errors: clamp(q.errors),
                r#bytes: clamp(q.bytes),
            })
            .collect(),
        r#lastError: s.last_error,
        r#kindName: s.kind.map(|k| k.name().to_owned()).unwrap_or_default(),
    }
}

/// One clock.
pub fn clock(c: ClockDetail) -> iface::ClockInfo::ClockInfo {
    iface::ClockInfo::ClockInfo {
        r#id: clamp32(c.id),
        r#name: c.name,
        r#rateHz: clamp(c.rate_hz),
        r#enabled: c.enabled,
        r#owner: c.owner,
    }
}

/// RPMB state; the type has no field that could carry the key.
pub fn rpmb(r: RpmbDetail) -> iface::RpmbInfo::RpmbInfo {
    iface::RpmbInfo::RpmbInfo {
        r#capacityBytes: clamp(r.capacity_bytes),
        r#writeCounter: i64::from(r.write_counter),
        r#keyProgrammed: r.key_programmed,
    }
}

/// Tuner state.
pub fn radio(r: RadioDetail) -> iface::RadioInfo::RadioInfo {
    use iface::RadioBand::RadioBand as B;
    iface::RadioInfo::RadioInfo {
        r#band: match r.band {
            RadioBand::Fm => B::FM,
            RadioBand::Am => B::AM,
        },
        r#frequencyKhz: clamp32(r.frequency_khz),
        r#signalPercent: i32::from(r.signal_percent.min(100)),
        r#stereo: r.stereo,
        r#rds: r.rds.map(|d| iface::RdsInfo::RdsInfo {
            r#pi: i32::from(d.pi),
            r#ps: d.ps,
            r#rt: d.rt,
            r#pty: i32::from(d.pty),
        }),
    }
}

/// One PCM stream.
pub fn stream(s: AudioStreamDetail) -> iface::AudioStream::AudioStream {
    use iface::AudioDirection::AudioDirection as D;
    use iface::AudioStreamState::AudioStreamState as S;
    iface::AudioStream::AudioStream {
        r#id: clamp32(s.id),
        r#direction: match s.direction {
            AudioDirection::Output => D::OUTPUT,
            AudioDirection::Input => D::INPUT,
        },
        r#state: match s.state {
            AudioStreamState::Idle => S::IDLE,
            AudioStreamState::ParametersSet => S::PARAMETERS_SET,
            AudioStreamState::Prepared => S::PREPARED,
            AudioStreamState::Running => S::RUNNING,
            AudioStreamState::Stopped => S::STOPPED,
        },
        r#format: s.format,
        r#rateHz: clamp32(s.rate_hz),
        r#channels: i32::from(s.channels),
        r#xruns: clamp(s.xruns),
    }
}

/// A device's detail as the union `getDetail` returns; the arm follows the detail's kind.
pub fn detail(d: DeviceDetail) -> iface::DeviceDetail::DeviceDetail {
    use iface::DeviceDetail::DeviceDetail as D;
    match d {
        DeviceDetail::Scmi { clocks } => D::Scmi(iface::ScmiDetail::ScmiDetail {
            r#clocks: clocks.into_iter().map(clock).collect(),
        }),
        DeviceDetail::Rpmb(r) => D::Rpmb(rpmb(r)),
        DeviceDetail::Sound { streams } => D::Sound(iface::SoundDetail::SoundDetail {
            r#streams: streams.into_iter().map(stream).collect(),
        }),
        DeviceDetail::Radio(r) => D::Radio(radio(r)),
    }
}
