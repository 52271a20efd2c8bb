//! RPMB devices and the physical RPMB stores they may share: schema and validation.
//!
//! A guest's RPMB lives either in its own image file (`rpmb.image`, file backend) or in a
//! slot of an `[[rpmb_store]]` (`rpmb.store`): a physical RPMB (image file, eMMC or UFS)
//! multiplexed between guests, each with its own key and counter. Hardware is only ever
//! reached through a store, so no guest handles the device key.

use std::collections::HashMap;
use std::path::{Component, PathBuf};

use super::error::ConfigError;
use super::kind_config::{KindConfig, TableInput};
use super::kinds::{name_list, Backend, DeviceKind};
use super::raw::RawDevice;
use super::raw::{RawInt, RawRpmb, RawRpmbStore};
use super::schema::{DeviceSpec, GuestConfig, TransportConfig};
use super::validate::Validator;

/// Default capacity of a guest's RPMB: 512 blocks, one virtio-rpmb unit (128 KiB).
pub const DEFAULT_CAPACITY_BLOCKS: u32 = 512;
/// Default `max_wr_cnt` and `max_rd_cnt`: two blocks, what Trusty sends.
pub const DEFAULT_MAX_BLOCKS: u8 = 2;
/// Largest RPMB: 16-bit block addresses.
const MAX_CAPACITY_BLOCKS: i64 = 65536;
/// Blocks in one virtio-rpmb capacity unit.
const VIRTIO_UNIT: u32 = 512;

/// How an RPMB device is presented to its guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpmbInterface {
    /// virtio-rpmb (ID 28) over vhost-user.
    VirtioRpmb,
    /// The `rpmb_dev` stream on a virtio-console port (ID 3) over vhost-user.
    VirtioConsole,
    /// The `rpmb_dev` protocol on a unix socket (`transport.rpmb-dev`).
    RpmbDevSocket,
}

impl RpmbInterface {
    /// Values `rpmb.interface` accepts (the socket face is chosen by the transport).
    const NAMES: [&'static str; 2] = ["virtio-rpmb", "virtio-console"];

    /// The name in the config file and in logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::VirtioRpmb => "virtio-rpmb",
            Self::VirtioConsole => "virtio-console",
            Self::RpmbDevSocket => "rpmb-dev",
        }
    }
}

/// Where a guest's RPMB keeps its key, counter and blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpmbStorageConfig {
    /// Its own crash-safe image file; relative paths are relative to the state dir.
    Image {
        /// The image file.
        path: PathBuf,
    },
    /// A slot of a shared physical RPMB.
    Shared {
        /// The `[[rpmb_store]]` name.
        store: String,
        /// First physical block of the slot.
        offset: u32,
    },
}

/// `rpmb` options of an rpmb device, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmbConfig {
    /// Where the blocks live.
    pub storage: RpmbStorageConfig,
    /// Blocks the guest sees (1..=65536; a multiple of 512 for virtio-rpmb).
    pub capacity_blocks: u32,
    /// Most blocks per authenticated write (1..=255).
    pub max_wr_cnt: u8,
    /// Most blocks per authenticated read (1..=255).
    pub max_rd_cnt: u8,
    /// How the guest reaches it.
    pub interface: RpmbInterface,
}

impl RpmbConfig {
    /// Physical blocks a shared slot occupies: header, journal, data.
    pub fn slot_footprint(&self) -> u32 {
        1 + u32::from(self.max_wr_cnt) + self.capacity_blocks
    }
}

/// One `[[rpmb_store]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmbStoreConfig {
    /// `[a-z0-9_-]{1,32}`, unique among stores.
    pub name: String,
    /// file, emmc or ufs.
    pub backend: Backend,
    /// Image file, `/dev/mmcblkNrpmb`, or the RPMB LU's sg node; relative paths are
    /// relative to the state dir.
    pub path: PathBuf,
    /// Partition size in blocks.
    pub capacity_blocks: u32,
    /// Most blocks one physical write carries.
    pub max_wr_cnt: u8,
    /// Most blocks one physical read returns.
    pub max_rd_cnt: u8,
    /// The 32-byte device key; created (random, mode 0600) when missing. Relative to the
    /// state dir.
    pub key_file: PathBuf,
    /// Writes each guest may make per minute (and in one burst): wear, the write counter
    /// and the part's time are shared.
    pub guest_writes_per_minute: u32,
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// A path with `.` components dropped, to compare configured paths.
fn normal(path: &std::path::Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

impl Validator<'_> {
    fn int_in(
        &self,
        place: &str,
        key: &str,
        value: Option<RawInt>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, super::ConfigError> {
        // The default is checked too: a kind's default must fit the range it is used with.
        let v = value.map_or(default, |RawInt(n)| n);
        super::int::in_range(v, min, max, "").map_err(|why| self.err(format!("{place} {key}"), why))
    }

    fn path_ok(
        &self,
        place: &str,
        key: &str,
        path: &std::path::Path,
    ) -> Result<(), super::ConfigError> {
        use std::os::unix::ffi::OsStrExt;
        if path.as_os_str().is_empty() || path.as_os_str().as_bytes().contains(&0) {
            return Err(self.err(
                format!("{place} {key}"),
                "must be a non-empty path without NUL bytes",
            ));
        }
        Ok(())
    }

    /// Validates the `[[rpmb_store]]` tables.
    pub(in crate::config) fn rpmb_stores(
        &self,
        raw: Vec<RawRpmbStore>,
    ) -> Result<Vec<RpmbStoreConfig>, super::ConfigError> {
        let mut stores: Vec<RpmbStoreConfig> = Vec::with_capacity(raw.len());
        for (i, s) in raw.into_iter().enumerate() {
            let place = format!("rpmb_store {}", i + 1);
            if !valid_name(&s.name) {
                return Err(self.err(
                    place,
                    format!(
                        "invalid name \"{}\" (expected 1 to 32 characters from a-z, 0-9, _ and -)",
                        s.name.escape_debug()
                    ),
                ));
            }
            let place = format!("rpmb_store \"{}\"", s.name);
            if stores.iter().any(|o| o.name == s.name) {
                return Err(self.err(place, "name is already used by another rpmb_store"));
            }
            let allowed = DeviceKind::Rpmb.backends();
            let backend = match &s.backend {
                None => Backend::File,
                Some(b) => match Backend::from_name(b) {
                    Some(b) if allowed.contains(&b) => b,
                    _ => {
                        return Err(self.err(
                            format!("{place} backend"),
                            format!(
                                "unknown backend \"{}\" (expected one of: {})",
                                b.escape_debug(),
                                name_list(allowed, Backend::name)
                            ),
                        ))
                    }
                },
            };
            self.path_ok(&place, "path", &s.path)?;
            let capacity = self.int_in(
                &place,
                "capacity_blocks",
                Some(s.capacity_blocks),
                0,
                1,
                MAX_CAPACITY_BLOCKS,
            )?;
            let max_wr = self.int_in(&place, "max_wr_cnt", s.max_wr_cnt, 2, 1, 255)?;
            let max_rd = self.int_in(&place, "max_rd_cnt", s.max_rd_cnt, 2, 1, 255)?;
            let key_file = s
                .key_file
                .unwrap_or_else(|| PathBuf::from(format!("{}.key", s.name)));
            self.path_ok(&place, "key_file", &key_file)?;
            let writes = self.int_in(
                &place,
                "guest_writes_per_minute",
                s.guest_writes_per_minute,
                i64::from(crate::devices::rpmb::write_budget::DEFAULT_WRITES_PER_MINUTE),
                1,
                60_000,
            )?;
            if let Some(o) = stores.iter().find(|o| normal(&o.path) == normal(&s.path)) {
                return Err(self.err(
                    format!("{place} path"),
                    format!(
                        "\"{}\" is already used by rpmb_store \"{}\"",
                        s.path.display(),
                        o.name
                    ),
                ));
            }
            stores.push(RpmbStoreConfig {
                name: s.name,
                backend,
                path: s.path,
                capacity_blocks: capacity as u32,
                max_wr_cnt: max_wr as u8,
                max_rd_cnt: max_rd as u8,
                key_file,
                guest_writes_per_minute: writes as u32,
            });
        }
        Ok(stores)
    }

    /// Validates one rpmb device's options; returns them with the backend that serves it.
    /// `backend` is the device's backend and whether the file named it.
    pub(in crate::config) fn rpmb_device(
        &self,
        place: &str,
        id: &str,
        (backend, backend_given): (Backend, bool),
        raw: Option<RawRpmb>,
        transport: &TransportConfig,
        stores: &[RpmbStoreConfig],
    ) -> Result<(Backend, RpmbConfig), super::ConfigError> {
        let raw = raw.unwrap_or_default();
        let interface = match (&raw.interface, transport) {
            (Some(_), TransportConfig::RpmbDev { .. }) => {
                return Err(self.err(
                    format!("{place} rpmb.interface"),
                    "not used with transport rpmb-dev (the socket speaks the rpmb_dev protocol)",
                ))
            }
            (None, TransportConfig::RpmbDev { .. }) => RpmbInterface::RpmbDevSocket,
            (None, TransportConfig::VhostUser { .. } | TransportConfig::Gunyah { .. }) => {
                RpmbInterface::VirtioRpmb
            }
            (Some(name), TransportConfig::VhostUser { .. } | TransportConfig::Gunyah { .. }) => {
                match name.as_str() {
                    "virtio-rpmb" => RpmbInterface::VirtioRpmb,
                    "virtio-console" => RpmbInterface::VirtioConsole,
                    other => {
                        return Err(self.err(
                            format!("{place} rpmb.interface"),
                            format!(
                                "unknown interface \"{}\" (expected one of: {})",
                                other.escape_debug(),
                                RpmbInterface::NAMES.join(", ")
                            ),
                        ))
                    }
                }
            }
        };
        let capacity = self.int_in(
            place,
            "rpmb.capacity_blocks",
            raw.capacity_blocks,
            i64::from(DEFAULT_CAPACITY_BLOCKS),
            1,
            MAX_CAPACITY_BLOCKS,
        )? as u32;
        if interface == RpmbInterface::VirtioRpmb && capacity % VIRTIO_UNIT != 0 {
            return Err(self.err(
                format!("{place} rpmb.capacity_blocks"),
                format!(
                    "{capacity} is not a multiple of {VIRTIO_UNIT} (virtio-rpmb reports capacity \
                     in 128 KiB units)"
                ),
            ));
        }
        let def = i64::from(DEFAULT_MAX_BLOCKS);
        let max_wr_cnt = self.int_in(place, "rpmb.max_wr_cnt", raw.max_wr_cnt, def, 1, 255)? as u8;
        let max_rd_cnt = self.int_in(place, "rpmb.max_rd_cnt", raw.max_rd_cnt, def, 1, 255)? as u8;
        let (backend, storage) = match (raw.image, raw.store) {
            (Some(_), Some(_)) => {
                return Err(self.err(
                    format!("{place} rpmb"),
                    "image and store are exclusive (its own image file, or a slot of a store)",
                ))
            }
            (image, None) => {
                if raw.offset.is_some() {
                    return Err(
                        self.err(format!("{place} rpmb.offset"), "only used with rpmb.store")
                    );
                }
                if backend != Backend::File {
                    return Err(self.err(
                        place,
                        format!(
                            "backend \"{}\" is a physical RPMB: declare it as an [[rpmb_store]] \
                             and give this device rpmb.store",
                            backend.name()
                        ),
                    ));
                }
                let path = image.unwrap_or_else(|| PathBuf::from(format!("{id}.img")));
                self.path_ok(place, "rpmb.image", &path)?;
                (Backend::File, RpmbStorageConfig::Image { path })
            }
            (None, Some(store)) => {
                let Some(s) = stores.iter().find(|s| s.name == store) else {
                    return Err(self.err(
                        format!("{place} rpmb.store"),
                        format!("no [[rpmb_store]] named \"{}\"", store.escape_debug()),
                    ));
                };
                if backend_given && backend != s.backend {
                    return Err(self.err(
                        place,
                        format!(
                            "backend \"{}\" differs from rpmb_store \"{}\"'s backend \"{}\"",
                            backend.name(),
                            s.name,
                            s.backend.name()
                        ),
                    ));
                }
                if u16::from(max_wr_cnt) + 1 > u16::from(s.max_wr_cnt) {
                    return Err(self.err(
                        format!("{place} rpmb.max_wr_cnt"),
                        format!(
                            "{max_wr_cnt} needs physical writes of {} blocks; rpmb_store \"{}\" \
                             has max_wr_cnt {}",
                            u16::from(max_wr_cnt) + 1,
                            s.name,
                            s.max_wr_cnt
                        ),
                    ));
                }
                let offset = self.int_in(
                    place,
                    "rpmb.offset",
                    raw.offset,
                    0,
                    0,
                    i64::from(s.capacity_blocks) - 1,
                )? as u32;
                (
                    s.backend,
                    RpmbStorageConfig::Shared {
                        store: s.name.clone(),
                        offset,
                    },
                )
            }
        };
        Ok((
            backend,
            RpmbConfig {
                storage,
                capacity_blocks: capacity,
                max_wr_cnt,
                max_rd_cnt,
                interface,
            },
        ))
    }

    /// Checks what only the whole config shows: image files used once, slots inside their
    /// store and not overlapping.
    pub(in crate::config) fn rpmb_layout(
        &self,
        guests: &[GuestConfig],
        stores: &[RpmbStoreConfig],
    ) -> Result<(), super::ConfigError> {
        let mut images: HashMap<PathBuf, String> = HashMap::new();
        let mut slots: HashMap<&str, Vec<(u32, u32, String)>> = HashMap::new();
        for g in guests {
            for (i, d) in g.devices.iter().enumerate() {
                let DeviceSpec::Rpmb(r) = &d.spec else {
                    continue;
                };
                let place = format!("guest \"{}\" device {}", g.name, i + 1);
                match &r.storage {
                    RpmbStorageConfig::Image { path } => {
                        let key = normal(path);
                        if let Some(owner) = images.get(&key) {
                            return Err(self.err(
                                format!("{place} rpmb.image"),
                                format!("\"{}\" is already used by {owner}", path.display()),
                            ));
                        }
                        if let Some(s) = stores.iter().find(|s| normal(&s.path) == key) {
                            return Err(self.err(
                                format!("{place} rpmb.image"),
                                format!(
                                    "\"{}\" is rpmb_store \"{}\"'s image",
                                    path.display(),
                                    s.name
                                ),
                            ));
                        }
                        images.insert(key, place);
                    }
                    RpmbStorageConfig::Shared { store, offset } => {
                        let capacity = stores
                            .iter()
                            .find(|s| &s.name == store)
                            .map_or(0, |s| s.capacity_blocks);
                        let end = u64::from(*offset) + u64::from(r.slot_footprint());
                        if end > u64::from(capacity) {
                            return Err(self.err(
                                format!("{place} rpmb"),
                                format!(
                                    "the slot needs blocks {offset}..{end} (header, {} journal, \
                                     {} data) but rpmb_store \"{store}\" has {capacity}",
                                    r.max_wr_cnt, r.capacity_blocks
                                ),
                            ));
                        }
                        let taken = slots.entry(store.as_str()).or_default();
                        let end = end as u32;
                        if let Some((a, b, owner)) =
                            taken.iter().find(|(a, b, _)| *offset < *b && *a < end)
                        {
                            return Err(self.err(
                                format!("{place} rpmb"),
                                format!(
                                    "the slot at blocks {offset}..{end} of rpmb_store \"{store}\" \
                                     overlaps {owner}'s at {a}..{b}"
                                ),
                            ));
                        }
                        taken.push((*offset, end, place));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The rpmb kind's config entry: its `[guest.device.rpmb]` table, and the `rpmb-dev`
/// transport only it is served on.
pub(in crate::config) struct RpmbTable;

impl KindConfig for RpmbTable {
    fn backends(&self) -> &'static [Backend] {
        &[Backend::File, Backend::Emmc, Backend::Ufs]
    }

    fn table(
        &self,
        input: &TableInput<'_>,
        raw: &mut RawDevice,
    ) -> Result<(Backend, DeviceSpec), ConfigError> {
        let (backend, rpmb) = input.v.rpmb_device(
            input.place,
            input.id,
            (input.backend, input.backend_given),
            raw.rpmb.take(),
            input.transport,
            &input.sections.rpmb_stores,
        )?;
        Ok((backend, DeviceSpec::Rpmb(rpmb)))
    }

    fn refuse(&self, input: &TableInput<'_>, raw: &mut RawDevice) -> Result<(), ConfigError> {
        let kind = input.kind.name();
        if raw.rpmb.is_some() {
            return Err(input.v.err(
                format!("{} rpmb", input.place),
                format!("rpmb options on a {kind} device"),
            ));
        }
        if matches!(input.transport, TransportConfig::RpmbDev { .. }) {
            return Err(input.v.err(
                format!("{} transport", input.place),
                format!("rpmb-dev serves rpmb devices, not {kind}"),
            ));
        }
        Ok(())
    }
}
