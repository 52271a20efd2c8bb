//! Status snapshots to AIDL parcelables, for what every device has. A kind's own detail is
//! converted by that kind's registry entry (`service::registry`), which this layer cannot
//! name, through [`DetailWire`]. Integers the AIDL carries signed are clamped, never wrapped,
//! so a huge counter reads as i64::MAX rather than negative.

use super::shim::iface;
use crate::kind::DeviceKind;
use crate::status::{DeviceDetail, DeviceSnapshot, LinkState, TransportKind};

/// `v` as an AIDL `long`: clamped to i64::MAX, never wrapped to a negative.
pub fn aidl_long(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `v` as an AIDL `int`: clamped to i32::MAX, never wrapped to a negative.
pub fn aidl_int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// How each kind's detail gets onto the wire: the kind registry, handed to
/// [`DriverVm::new`](super::DriverVm::new) by whoever builds the service.
pub trait DetailWire: Send + Sync {
    /// `detail`, published by a device of `kind`, as its arm of `union DeviceDetail`; `None`
    /// for a kind without an arm, or a detail not of its kind's type.
    fn to_aidl(
        &self,
        kind: DeviceKind,
        detail: &DeviceDetail,
    ) -> Option<iface::DeviceDetail::DeviceDetail>;
}

/// The AIDL device kind.
///
/// DeviceKind.aidl numbers the built-in kinds in `DeviceKind::ALL`'s order, which only
/// grows at its end, as an AIDL enum does. A registry kind has no value (-1);
/// DeviceStatus.kindName names it.
pub fn kind(k: DeviceKind) -> iface::DeviceKind::DeviceKind {
    let value = DeviceKind::ALL
        .iter()
        .position(|a| *a == k)
        .and_then(|i| i32::try_from(i).ok());
    iface::DeviceKind::DeviceKind(value.unwrap_or(-1))
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
                r#requests: aidl_long(q.requests),
                r#errors: aidl_long(q.errors),
                r#bytes: aidl_long(q.bytes),
            })
            .collect(),
        r#lastError: s.last_error,
        r#kindName: s.kind.map(|k| k.name().to_owned()).unwrap_or_default(),
    }
}
