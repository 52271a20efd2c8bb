//! The device kinds config validation knows, each checking its own table: config's half
//! of the kind registry (the service's half, `service::registry`, builds them; config
//! sits below the service and cannot call it). A kind with keys of its own adds its line
//! here and in the service registry.

use super::kind_config::{KindConfig, SettingsLess};
use super::kinds::DeviceKind;

/// Every built-in kind's config entry, in the order error messages list kinds.
pub(super) static KINDS: &[(DeviceKind, &dyn KindConfig)] = &[
    (DeviceKind::Scmi, &super::scmi::ScmiTable),
    (DeviceKind::Rpmb, &super::rpmb::RpmbTable),
    (DeviceKind::Sound, &super::sound::SoundTable),
    (DeviceKind::Radio, &super::radio::RadioTable),
];

/// The entry that validates `kind`: its own, or for a kind the service registry adds, the
/// entry of a kind without settings. `None` if this build has no entry for a built-in.
pub(super) fn find(kind: DeviceKind) -> Option<&'static dyn KindConfig> {
    match kind {
        DeviceKind::Extra(_) => Some(&SettingsLess),
        _ => KINDS.iter().find(|(k, _)| *k == kind).map(|(_, c)| *c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_kind_has_exactly_one_entry() {
        for kind in DeviceKind::ALL {
            let n = KINDS.iter().filter(|(k, _)| *k == kind).count();
            assert_eq!(n, 1, "{}", kind.name());
        }
        assert_eq!(KINDS.len(), DeviceKind::ALL.len());
        let order: Vec<DeviceKind> = KINDS.iter().map(|(k, _)| *k).collect();
        assert_eq!(order, DeviceKind::ALL, "listed in DeviceKind::ALL's order");
    }
}
