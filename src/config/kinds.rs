//! The device kinds and backends a config may name, and which of them this build implements.

pub use crate::kind::DeviceKind;

/// What each kind may be served from; config-level knowledge kept beside the backends.
impl DeviceKind {
    /// The backends that make sense for this kind, the default first.
    pub fn backends(&self) -> &'static [Backend] {
        match self {
            Self::Scmi => &[Backend::Sim, Backend::Linux],
            Self::Rpmb => &[Backend::File, Backend::Emmc, Backend::Ufs],
            Self::Sound => &[Backend::Sim, Backend::Alsa],
            Self::Radio => &[Backend::Sim, Backend::V4l2],
            // Software only: an extra kind has no hardware class here.
            Self::Extra(_) => &[Backend::Sim],
        }
    }

    /// The backend used when a device names none.
    pub fn default_backend(&self) -> Backend {
        match self {
            Self::Scmi | Self::Sound | Self::Radio | Self::Extra(_) => Backend::Sim,
            Self::Rpmb => Backend::File,
        }
    }

    /// Whether this build implements at least one backend of this kind.
    pub fn is_available(&self) -> bool {
        self.backends().iter().any(|b| implemented(*self, *b))
    }
}

/// What a device is served from: real hardware through a kernel interface, or a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Simulated hardware driven by config (clock tree, stations, generated audio).
    Sim,
    /// The Linux common clock framework via debugfs/sysfs.
    Linux,
    /// A crash-safe RPMB image in a regular file.
    File,
    /// An eMMC RPMB partition through `MMC_IOC_MULTI_CMD`.
    Emmc,
    /// A UFS RPMB well-known LU through `SG_IO`.
    Ufs,
    /// The ALSA kernel PCM interface.
    Alsa,
    /// A V4L2 radio tuner (`/dev/radioN`).
    V4l2,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 7] = [
        Self::Sim,
        Self::Linux,
        Self::File,
        Self::Emmc,
        Self::Ufs,
        Self::Alsa,
        Self::V4l2,
    ];

    /// The backend's name in the config file.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Linux => "linux",
            Self::File => "file",
            Self::Emmc => "emmc",
            Self::Ufs => "ufs",
            Self::Alsa => "alsa",
            Self::V4l2 => "v4l2",
        }
    }

    /// Parses a config file's `backend` value.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Whether this build can serve `kind` from `backend`.
///
/// The one place that says what is implemented: a device or backend lands by adding its
/// line here, and validation, the messages and the tests follow.
pub fn implemented(kind: DeviceKind, backend: Backend) -> bool {
    matches!(
        (kind, backend),
        (DeviceKind::Scmi, Backend::Sim)
            | (DeviceKind::Scmi, Backend::Linux)
            | (DeviceKind::Sound, Backend::Sim)
            | (DeviceKind::Sound, Backend::Alsa)
            | (DeviceKind::Radio, Backend::Sim)
            | (DeviceKind::Radio, Backend::V4l2)
            | (DeviceKind::Extra(_), Backend::Sim)
            | (
                DeviceKind::Rpmb,
                Backend::File | Backend::Emmc | Backend::Ufs
            )
    )
}

/// Joins names as error messages list them: `a, b, c`.
pub(super) fn name_list<T>(items: &[T], name: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in DeviceKind::ALL {
            assert_eq!(DeviceKind::from_name(k.name()), Some(k));
        }
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert_eq!(DeviceKind::from_name("SCMI"), None);
        assert_eq!(Backend::from_name("alsaa"), None);
    }

    #[test]
    fn virtio_ids_match_the_oasis_spec() {
        assert_eq!(DeviceKind::Scmi.virtio_id(), Some(32));
        assert_eq!(DeviceKind::Rpmb.virtio_id(), Some(28));
        assert_eq!(DeviceKind::Sound.virtio_id(), Some(25));
        assert_eq!(DeviceKind::Radio.virtio_id(), None);
    }

    #[test]
    fn default_backends() {
        assert_eq!(DeviceKind::Scmi.default_backend(), Backend::Sim);
        assert_eq!(DeviceKind::Rpmb.default_backend(), Backend::File);
        assert_eq!(DeviceKind::Sound.default_backend(), Backend::Sim);
        assert_eq!(DeviceKind::Radio.default_backend(), Backend::Sim);
        for k in DeviceKind::ALL {
            assert_eq!(
                k.backends().first(),
                Some(&k.default_backend()),
                "{}",
                k.name()
            );
        }
    }

    #[test]
    fn every_backend_belongs_to_some_kind() {
        for b in Backend::ALL {
            assert!(
                DeviceKind::ALL.iter().any(|k| k.backends().contains(&b)),
                "{} is allowed for no kind",
                b.name()
            );
        }
    }

    #[test]
    fn this_build_implements_scmi_sound_radio_and_rpmb() {
        let available: Vec<_> = DeviceKind::ALL
            .iter()
            .flat_map(|k| k.backends().iter().map(move |b| (*k, *b)))
            .filter(|(k, b)| implemented(*k, *b))
            .collect();
        assert_eq!(
            available,
            vec![
                (DeviceKind::Scmi, Backend::Sim),
                (DeviceKind::Scmi, Backend::Linux),
                (DeviceKind::Rpmb, Backend::File),
                (DeviceKind::Rpmb, Backend::Emmc),
                (DeviceKind::Rpmb, Backend::Ufs),
                (DeviceKind::Sound, Backend::Sim),
                (DeviceKind::Sound, Backend::Alsa),
                (DeviceKind::Radio, Backend::Sim),
                (DeviceKind::Radio, Backend::V4l2)
            ]
        );
        assert!(DeviceKind::Radio.is_available());
        assert!(DeviceKind::Scmi.is_available());
        assert!(DeviceKind::Rpmb.is_available());
        assert!(DeviceKind::Sound.is_available());
    }
}
