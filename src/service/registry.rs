//! The device kinds this build serves: the one list a new kind is added to.

use crate::kind::DeviceKind;

use super::kind::KindService;
use super::radio::RadioKind;
use super::rpmb::RpmbKind;
use super::scmi::ScmiKind;
use super::sound::SoundKind;

/// Every kind the service can build, one entry each.
pub static KINDS: &[&dyn KindService] = &[&ScmiKind, &RpmbKind, &SoundKind, &RadioKind];

/// The entry that builds `kind`, if this build has one.
pub fn find(kind: DeviceKind) -> Option<&'static dyn KindService> {
    KINDS.iter().copied().find(|k| k.kind() == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_entry() {
        for kind in DeviceKind::ALL {
            let n = KINDS.iter().filter(|k| k.kind() == kind).count();
            assert_eq!(n, 1, "{}", kind.name());
        }
        assert_eq!(KINDS.len(), DeviceKind::ALL.len());
    }
}
