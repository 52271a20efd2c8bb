//! The kinds of virtio device the service serves: a leaf every layer may name.

use std::sync::OnceLock;

/// A kind defined only by its entry in the service's registry (its folder holds everything
/// else): no settings table of its own, served from no hardware backend.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExtraKind {
    /// Its name in the config file and in device ids.
    pub name: &'static str,
    /// Its OASIS virtio device ID, if it has one.
    pub virtio_id: Option<u32>,
}

/// The registry's extra kinds, made known once before any config is parsed.
static EXTRA: OnceLock<Vec<DeviceKind>> = OnceLock::new();

/// Makes `kinds` known to [`DeviceKind::from_name`]; only the first call counts (the
/// registry's list never changes in a process). Returns whether this call set them.
pub fn register_extra(kinds: Vec<DeviceKind>) -> bool {
    EXTRA.set(kinds).is_ok()
}

/// The virtio devices the service can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// virtio-scmi: clocks, power domains, resets and sensors through Arm SCMI.
    Scmi,
    /// virtio-rpmb: a replay-protected memory block.
    Rpmb,
    /// virtio-snd: audio playback and capture.
    Sound,
    /// The FM radio device specified in docs/virtio-radio.md.
    Radio,
    /// A kind the service registry adds (docs/adding-a-device.md).
    Extra(&'static ExtraKind),
}

impl DeviceKind {
    /// Every built-in kind, in the order error messages list them. A kind's place here is
    /// its value in vendor.drivervm's DeviceKind.aidl, so the list only grows at its end.
    pub const ALL: [DeviceKind; 4] = [Self::Scmi, Self::Rpmb, Self::Sound, Self::Radio];

    /// The built-in kinds and then the registered extra ones.
    pub fn known() -> impl Iterator<Item = DeviceKind> {
        Self::ALL
            .into_iter()
            .chain(EXTRA.get().into_iter().flatten().copied())
    }

    /// The kind's name in the config file and in device ids.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Scmi => "scmi",
            Self::Rpmb => "rpmb",
            Self::Sound => "sound",
            Self::Radio => "radio",
            Self::Extra(k) => k.name,
        }
    }

    /// Parses a config file's `kind` value: a built-in or a registered extra kind.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::known().find(|k| k.name() == name)
    }

    /// The OASIS virtio device ID (virtio 1.3 §5).
    ///
    /// `None` for the radio: OASIS defines no radio device, and ours gets its ID when
    /// docs/virtio-radio.md is written.
    pub fn virtio_id(&self) -> Option<u32> {
        match self {
            Self::Scmi => Some(32),
            Self::Rpmb => Some(28),
            Self::Sound => Some(25),
            Self::Radio => None,
            Self::Extra(k) => k.virtio_id,
        }
    }
}
