//! The device kinds this build serves: the one list a new kind is added to. The control
//! plane converts each device's detail through it ([`Kinds`]), and drivervmctl renders
//! it through it ([`find`], [`view`]).

use crate::control::iface::DeviceDetail::DeviceDetail as Arm;
use crate::control::DetailWire;
use crate::kind::DeviceKind;
use crate::status::DeviceDetail;

use super::kind::{DetailView, KindService};
// What the kinds' modules below name as `super::`.
use super::{kind, ServiceError};

#[path = "radio.rs"]
pub mod radio;
#[path = "rpmb.rs"]
pub mod rpmb;
#[path = "scmi.rs"]
pub mod scmi;
#[path = "sound.rs"]
pub mod sound;

use radio::RadioKind;
use rpmb::RpmbKind;
use scmi::ScmiKind;
use sound::SoundKind;

#[cfg(feature = "harness")]
#[path = "echo/mod.rs"]
mod echo;

/// Every kind the service can build, one entry each.
pub static KINDS: &[&dyn KindService] = &[
    &ScmiKind,
    &RpmbKind,
    &SoundKind,
    &RadioKind,
    #[cfg(feature = "harness")]
    &echo::EchoKind,
];

/// Makes the kinds beyond the built-in ones known to config parsing; call before the
/// first config is parsed (later calls change nothing).
pub fn register_kinds() {
    let extra = KINDS
        .iter()
        .map(|k| k.kind())
        .filter(|k| matches!(k, DeviceKind::Extra(_)))
        .collect();
    crate::kind::register_extra(extra);
}

/// The entry that builds `kind`, if this build has one.
pub fn find(kind: DeviceKind) -> Option<&'static dyn KindService> {
    KINDS.iter().copied().find(|k| k.kind() == kind)
}

/// drivervmctl's view of `arm`, from the kind whose arm it is.
pub fn view(arm: &Arm) -> Option<Box<dyn DetailView>> {
    KINDS.iter().find_map(|k| k.view(arm))
}

/// The registry as the control plane uses it (given to
/// [`DriverVm::new`](crate::control::DriverVm::new)): each kind puts its own detail on the
/// wire.
pub struct Kinds;

impl DetailWire for Kinds {
    fn to_aidl(&self, kind: DeviceKind, detail: &DeviceDetail) -> Option<Arm> {
        find(kind)?.to_aidl(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_entry() {
        // Not through register_kinds: config tests in this process expect the built-ins.
        let extra = KINDS
            .iter()
            .filter(|k| matches!(k.kind(), DeviceKind::Extra(_)))
            .count();
        for kind in DeviceKind::ALL {
            let n = KINDS.iter().filter(|k| k.kind() == kind).count();
            assert_eq!(n, 1, "{}", kind.name());
        }
        assert_eq!(KINDS.len(), DeviceKind::ALL.len() + extra);
        for (i, a) in KINDS.iter().enumerate() {
            for b in &KINDS[i + 1..] {
                assert_ne!(a.kind().name(), b.kind().name(), "two entries share a name");
            }
        }
    }

    #[test]
    fn each_kind_puts_only_its_own_detail_on_the_wire_and_views_it() {
        use crate::status::{
            AudioDirection, AudioStreamDetail, AudioStreamState, ClockDetail, RadioBand,
            RadioDetail, RpmbDetail,
        };
        let samples = [
            (
                DeviceKind::Scmi,
                DeviceDetail::new(vec![ClockDetail {
                    id: 0,
                    name: "uart".into(),
                    rate_hz: 48_000_000,
                    enabled: true,
                    owner: "vm0".into(),
                }]),
                "clocks",
            ),
            (
                DeviceKind::Rpmb,
                DeviceDetail::new(RpmbDetail {
                    capacity_bytes: 1 << 17,
                    write_counter: 3,
                    key_programmed: true,
                }),
                "write_counter",
            ),
            (
                DeviceKind::Sound,
                DeviceDetail::new(vec![AudioStreamDetail {
                    id: 0,
                    direction: AudioDirection::Output,
                    state: AudioStreamState::Running,
                    format: "S16_LE".into(),
                    rate_hz: 48_000,
                    channels: 2,
                    xruns: 0,
                }]),
                "streams",
            ),
            (
                DeviceKind::Radio,
                DeviceDetail::new(RadioDetail {
                    band: RadioBand::Fm,
                    frequency_khz: 89_100,
                    signal_percent: 80,
                    stereo: true,
                    rds: None,
                }),
                "frequency_khz",
            ),
        ];
        for (kind, detail, key) in &samples {
            let arm = Kinds
                .to_aidl(*kind, detail)
                .expect("its own detail has an arm");
            let view = view(&arm).expect("the arm has a view");
            assert!(
                view.json().get(*key).is_some(),
                "{}: {}",
                kind.name(),
                view.json()
            );
            assert!(!view.lines().is_empty(), "{}", kind.name());
            for (other, _, _) in samples.iter().filter(|(o, _, _)| o != kind) {
                assert!(
                    Kinds.to_aidl(*other, detail).is_none(),
                    "{} took {}'s detail",
                    other.name(),
                    kind.name()
                );
            }
        }
    }

    #[test]
    fn config_validates_every_kind_the_service_builds() {
        // The two halves of the registry agree: a kind built here has a config entry
        // (config/registry.rs) with a backend this build implements.
        for k in KINDS {
            assert!(
                k.kind().is_available(),
                "{} has no config entry",
                k.kind().name()
            );
        }
    }
}
