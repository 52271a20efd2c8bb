//! The kinds of virtio device the service serves: a leaf every layer may name.

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
}

impl DeviceKind {
    /// Every kind, in the order error messages list them.
    pub const ALL: [DeviceKind; 4] = [Self::Scmi, Self::Rpmb, Self::Sound, Self::Radio];

    /// The kind's name in the config file and in device ids.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Scmi => "scmi",
            Self::Rpmb => "rpmb",
            Self::Sound => "sound",
            Self::Radio => "radio",
        }
    }

    /// Parses a config file's `kind` value.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
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
        }
    }
}
