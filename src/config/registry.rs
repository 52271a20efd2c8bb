//! The device kinds config validation knows, each checking its own table: config's half
//! of the kind registry (the service's half, `service::registry`, builds them; config
//! sits below the service and cannot call it). A kind with keys of its own adds its line
//! here and in the service registry.

// What the kinds' modules below name as `super::`.
use super::{error, int, kind_config, kinds, raw, raw_scmi, schema, validate, ConfigError};

use super::kind_config::{KindConfig, SettingsLess};
use super::kinds::DeviceKind;

#[path = "radio.rs"]
pub(super) mod radio;
#[path = "rpmb.rs"]
pub(super) mod rpmb;
#[path = "scmi.rs"]
pub(super) mod scmi;
#[path = "sound.rs"]
pub(super) mod sound;

pub use radio::{RadioConfig, RadioTuner};
pub use scmi::{ClockConfig, Grant, ScmiGrants, ScmiPlatformConfig, LINUX_CLOCK_ROOT};
pub use sound::{
    JackConfig, JackDetect, OutputConfig, OutputSink, SharePolicy, SoundConfig, SoundDirection,
    StreamConfig, StreamEndpoint,
};

/// A device's kind with the settings only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// virtio-scmi: the resources the guest sees.
    Scmi(ScmiGrants),
    /// virtio-rpmb (or `rpmb_dev`): storage and presentation.
    Rpmb(rpmb::RpmbConfig),
    /// virtio-snd: jacks and streams.
    Sound(SoundConfig),
    /// virtio-radio: the tuner and region.
    Radio(RadioConfig),
    /// A kind the service registry adds: no settings of its own.
    Extra(DeviceKind),
}

impl DeviceSpec {
    /// The kind these settings belong to.
    pub fn kind(&self) -> DeviceKind {
        match self {
            Self::Scmi(_) => DeviceKind::Scmi,
            Self::Rpmb(_) => DeviceKind::Rpmb,
            Self::Sound(_) => DeviceKind::Sound,
            Self::Radio(_) => DeviceKind::Radio,
            Self::Extra(k) => *k,
        }
    }
}

/// One `[[guest.device]]` as written: the keys every device has, then each kind's own
/// (one struct refusing unknown keys, so each kind declares its keys here).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub kind: String,
    pub backend: Option<String>,
    pub transport: Option<raw::RawTransport>,
    pub clocks: Option<Vec<String>>,
    pub power_domains: Option<Vec<String>>,
    pub reset_domains: Option<Vec<String>>,
    pub perf_domains: Option<Vec<String>>,
    pub sensors: Option<Vec<String>>,
    /// Sound devices only.
    pub jack: Option<Vec<sound::RawJack>>,
    /// Sound devices only.
    pub stream: Option<Vec<sound::RawStream>>,
    /// Sound devices only.
    pub controls: Option<bool>,
    /// Radio devices only.
    pub radio: Option<radio::RawRadio>,
    pub rpmb: Option<raw::RawRpmb>,
    /// Socket transports only.
    pub peer_uids: Option<Vec<raw::RawInt>>,
    /// Socket transports only.
    pub peer_gids: Option<Vec<raw::RawInt>>,
}

/// The embedded default config: what every default has (`default.toml`: its guest), then
/// one device of each kind from the kind's folder, in the order the default has always
/// listed them (the order `drivervmctl status` shows). A fragment may add top-level tables
/// after its device (the SCMI device's simulated SoC): TOML allows a table anywhere, and
/// the next `[[guest.device]]` still belongs to the guest.
pub(super) const DEFAULT_CONFIG: &str = concat!(
    include_str!("default.toml"),
    include_str!("scmi/default.toml"),
    include_str!("sound/default.toml"),
    include_str!("radio/default.toml"),
    include_str!("rpmb/default.toml"),
);

/// Every built-in kind's config entry, in the order error messages list kinds.
pub(super) static KINDS: &[(DeviceKind, &dyn KindConfig)] = &[
    (DeviceKind::Scmi, &scmi::ScmiTable),
    (DeviceKind::Rpmb, &rpmb::RpmbTable),
    (DeviceKind::Sound, &sound::SoundTable),
    (DeviceKind::Radio, &radio::RadioTable),
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
