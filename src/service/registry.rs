//! The device kinds this build serves: the one list a new kind is added to.

use crate::kind::DeviceKind;

use super::kind::KindService;
use super::radio::RadioKind;
use super::rpmb::RpmbKind;
use super::scmi::ScmiKind;
use super::sound::SoundKind;

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
}
