//! Byte layouts of docs/virtio-radio.md: every structure parses from and serializes to the
//! exact little-endian layout the document gives, and the tests at the bottom pin each
//! offset and size to the document's tables.
//!
//! Parsing of what the driver sends (requests) is strict: exact sizes, defined values and
//! flag bits only, because it is guest input. Parsing of what the device sends (responses,
//! events, configuration space; the driver's side, used by tests and harnesses) checks
//! structure but ignores flag and capability bits it does not know, so that a newer device
//! revision stays readable. Reserved fields are ignored on input and written as zero.

use super::constants::*;

/// Why bytes do not form a valid virtio-radio message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message is shorter or longer than its layout.
    #[error("{what}: {len} bytes, expected {expected}")]
    Length {
        /// The structure being parsed.
        what: &'static str,
        /// Bytes present.
        len: usize,
        /// Bytes the layout needs.
        expected: usize,
    },
    /// The request code is not defined.
    #[error("unknown request code {0:#x}")]
    UnknownRequest(u32),
    /// The event type is not defined.
    #[error("unknown event type {0:#x}")]
    UnknownEvent(u32),
    /// A field holds a value its definition does not allow.
    #[error("{field} = {value:#x} is not valid")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

impl WireError {
    /// The status a device answers this error with (§6.3).
    pub fn status(&self) -> u32 {
        match self {
            WireError::Length { .. } => S_BAD_MSG,
            WireError::UnknownRequest(_) => S_NOT_SUPPORTED,
            WireError::UnknownEvent(_) => S_BAD_MSG,
            WireError::Invalid { .. } => S_INVALID_ARGUMENTS,
        }
    }
}

fn exact<'a, const N: usize>(what: &'static str, b: &'a [u8]) -> Result<&'a [u8; N], WireError> {
    b.try_into().map_err(|_| WireError::Length {
        what,
        len: b.len(),
        expected: N,
    })
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

fn bool8(field: &'static str, v: u8) -> Result<bool, WireError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Invalid {
            field,
            value: v.into(),
        }),
    }
}

fn check_bits(field: &'static str, v: u32, allowed: u32) -> Result<u32, WireError> {
    if v & !allowed != 0 {
        return Err(WireError::Invalid {
            field,
            value: v.into(),
        });
    }
    Ok(v)
}

/// Reads a NUL-terminated, NUL-padded UTF-8 field: text up to the first NUL (which must
/// exist), and only NULs after it.
fn read_str(field: &'static str, b: &[u8]) -> Result<String, WireError> {
    let bad = |value: u64| WireError::Invalid { field, value };
    let end = b.iter().position(|&c| c == 0).ok_or(bad(b.len() as u64))?;
    if b[end..].iter().any(|&c| c != 0) {
        return Err(bad(end as u64));
    }
    String::from_utf8(b[..end].to_vec()).map_err(|e| bad(e.utf8_error().valid_up_to() as u64))
}

/// Writes `s` NUL-padded into `out`, cut at a character boundary to fit.
fn write_str(out: &mut [u8], s: &str) {
    let mut end = s.len().min(out.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&s.as_bytes()[..end]);
    out[end..].fill(0);
}

/// Cuts `s` to at most `max` bytes at a character boundary.
fn fit(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// `virtio_radio_req_hdr` (§6.1): starts every control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReqHeader {
    /// One of the `REQ_*` codes.
    pub code: u32,
}

impl ReqHeader {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses the header at the start of `b` (which may hold a payload after it).
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let h = b.get(..Self::SIZE).ok_or(WireError::Length {
            what: "request header",
            len: b.len(),
            expected: Self::SIZE,
        })?;
        Ok(Self { code: le32(h, 0) })
    }

    /// Serializes the header.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.code);
        b
    }
}

/// `virtio_radio_resp_hdr` (§6.1): starts every control response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RespHeader {
    /// One of the `S_*` statuses.
    pub status: u32,
}

impl RespHeader {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let h = b.get(..Self::SIZE).ok_or(WireError::Length {
            what: "response header",
            len: b.len(),
            expected: Self::SIZE,
        })?;
        Ok(Self { status: le32(h, 0) })
    }

    /// Serializes the header.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.status);
        b
    }
}

/// `virtio_radio_event_hdr` (§6.6): starts every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    /// One of the `EVT_*` types.
    pub kind: u32,
    /// `EVT_F_*` flags.
    pub flags: u32,
}

impl EventHeader {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses the header at the start of `b`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let h = b.get(..Self::SIZE).ok_or(WireError::Length {
            what: "event header",
            len: b.len(),
            expected: Self::SIZE,
        })?;
        Ok(Self {
            kind: le32(h, 0),
            flags: le32(h, 4),
        })
    }

    /// Serializes the header.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.kind);
        put32(&mut b, 4, self.flags);
        b
    }
}

/// `virtio_radio_band` (§4): one AM or FM frequency range and its channel grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// `BAND_FM` or `BAND_AM`.
    pub kind: u8,
    /// First channel, kHz.
    pub low_khz: u32,
    /// Last channel, kHz.
    pub high_khz: u32,
    /// Channel grid, kHz.
    pub spacing_khz: u16,
    /// Seek grid, kHz: 0 or a multiple of `spacing_khz`.
    pub seek_spacing_khz: u16,
}

impl Band {
    /// Size on the wire.
    pub const SIZE: usize = 16;

    /// Checks the band against §4: known kind, non-empty range, sane grid.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.kind != BAND_FM && self.kind != BAND_AM {
            return Err(WireError::Invalid {
                field: "band kind",
                value: self.kind.into(),
            });
        }
        if self.low_khz == 0 || self.low_khz > self.high_khz {
            return Err(WireError::Invalid {
                field: "band range",
                value: self.low_khz.into(),
            });
        }
        if self.spacing_khz == 0 || self.seek_spacing_khz % self.spacing_khz != 0 {
            return Err(WireError::Invalid {
                field: "band spacing",
                value: self.spacing_khz.into(),
            });
        }
        Ok(())
    }

    /// Whether `khz` lies on this band's channel grid.
    pub fn contains(&self, khz: u32) -> bool {
        khz >= self.low_khz
            && khz <= self.high_khz
            && self.spacing_khz != 0
            && (khz - self.low_khz) % u32::from(self.spacing_khz) == 0
    }

    /// Parses exactly one band.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("band", b)?;
        let band = Self {
            kind: b[0],
            low_khz: le32(b, 4),
            high_khz: le32(b, 8),
            spacing_khz: le16(b, 12),
            seek_spacing_khz: le16(b, 14),
        };
        band.validate()?;
        Ok(band)
    }

    /// Serializes the band.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0] = self.kind;
        put32(&mut b, 4, self.low_khz);
        put32(&mut b, 8, self.high_khz);
        put16(&mut b, 12, self.spacing_khz);
        put16(&mut b, 14, self.seek_spacing_khz);
        b
    }
}

/// `virtio_radio_config` (§4): the device configuration space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSpace {
    /// `CAP_*` bits.
    pub capabilities: u32,
    /// Supported config flags: bit n set means `ConfigFlag` n is supported.
    pub config_flags: u32,
    /// Number of antennas (1..=32).
    pub num_antennas: u8,
    /// Bit n set: antenna n is connected.
    pub antenna_connected: u32,
    /// virtio-snd PCM stream carrying the tuner's audio, or `SND_ID_NONE`.
    pub snd_stream_id: u32,
    /// `hda_fn_nid` the virtio-snd device reports for that stream (disambiguates devices).
    pub snd_hda_fn_nid: u32,
    /// virtio-snd jack of the tuner input, or `SND_ID_NONE`.
    pub snd_jack_id: u32,
    /// Hardware frequency ranges (at most `MAX_BANDS`).
    pub bands: Vec<Band>,
}

impl ConfigSpace {
    /// Size on the wire.
    pub const SIZE: usize = 32 + MAX_BANDS * Band::SIZE;
    /// Offset of `bands[0]`.
    pub const BANDS_OFFSET: usize = 32;

    /// Serializes the space; bands past `MAX_BANDS` are not representable and are left out.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let n = self.bands.len().min(MAX_BANDS);
        put32(&mut b, 0, self.capabilities);
        put32(&mut b, 4, self.config_flags);
        b[8] = n as u8;
        b[9] = self.num_antennas;
        put32(&mut b, 12, self.antenna_connected);
        put32(&mut b, 16, self.snd_stream_id);
        put32(&mut b, 20, self.snd_hda_fn_nid);
        put32(&mut b, 24, self.snd_jack_id);
        for (i, band) in self.bands.iter().take(n).enumerate() {
            let o = Self::BANDS_OFFSET + i * Band::SIZE;
            b[o..o + Band::SIZE].copy_from_slice(&band.to_bytes());
        }
        b
    }

    /// Parses a whole configuration space (the driver's view).
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("config space", b)?;
        let n = usize::from(b[8]);
        if n > MAX_BANDS {
            return Err(WireError::Invalid {
                field: "num_bands",
                value: n as u64,
            });
        }
        let bands = (0..n)
            .map(|i| {
                let o = Self::BANDS_OFFSET + i * Band::SIZE;
                Band::parse(&b[o..o + Band::SIZE])
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            capabilities: le32(b, 0),
            config_flags: le32(b, 4),
            num_antennas: b[9],
            antenna_connected: le32(b, 12),
            snd_stream_id: le32(b, 16),
            snd_hda_fn_nid: le32(b, 20),
            snd_jack_id: le32(b, 24),
            bands,
        })
    }
}

/// `virtio_radio_properties` (§6.4.1): the GET_PROPERTIES response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    /// Maker of the tuner (at most 31 bytes of UTF-8 fit on the wire).
    pub maker: String,
    /// Product name.
    pub product: String,
    /// Hardware or firmware version.
    pub version: String,
    /// Serial number.
    pub serial: String,
    /// Bit n set: AIDL `IdentifierType` n is accepted in a TUNE selector.
    pub identifier_types: u32,
    /// `CAP_*` bits (same as the configuration space).
    pub capabilities: u32,
}

impl Properties {
    /// Size on the wire.
    pub const SIZE: usize = 4 * PROP_STRING_LEN + 8;

    /// Builds properties, cutting each string to fit its NUL-terminated field.
    pub fn new(
        maker: &str,
        product: &str,
        version: &str,
        serial: &str,
        identifier_types: u32,
        capabilities: u32,
    ) -> Self {
        let max = PROP_STRING_LEN - 1;
        Self {
            maker: fit(maker, max),
            product: fit(product, max),
            version: fit(version, max),
            serial: fit(serial, max),
            identifier_types,
            capabilities,
        }
    }

    /// Parses exactly one properties body.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("properties", b)?;
        let s = |i: usize, name| read_str(name, &b[i * PROP_STRING_LEN..(i + 1) * PROP_STRING_LEN]);
        Ok(Self {
            maker: s(0, "maker")?,
            product: s(1, "product")?,
            version: s(2, "version")?,
            serial: s(3, "serial")?,
            identifier_types: le32(b, 128),
            capabilities: le32(b, 132),
        })
    }

    /// Serializes the body; strings are cut to leave a terminating NUL.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (i, s) in [&self.maker, &self.product, &self.version, &self.serial]
            .into_iter()
            .enumerate()
        {
            let field = &mut b[i * PROP_STRING_LEN..(i + 1) * PROP_STRING_LEN - 1];
            write_str(field, s);
        }
        put32(&mut b, 128, self.identifier_types);
        put32(&mut b, 132, self.capabilities);
        b
    }
}

/// `virtio_radio_get_bands` (§6.4.2): GET_BANDS request payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetBands {
    /// True: full hardware capabilities; false: the current regional configuration.
    pub full: bool,
}

impl GetBands {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses exactly one payload.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("get_bands", b)?;
        Ok(Self {
            full: bool8("full", b[0])?,
        })
    }

    /// Serializes the payload.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0] = self.full.into();
        b
    }
}

/// `virtio_radio_region` + bands (§6.4.2): GET_BANDS response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionConfig {
    /// `DEEMPHASIS_*` bits.
    pub fm_deemphasis: u8,
    /// `FM_RDS` / `FM_RBDS` bits.
    pub fm_rds: u8,
    /// The ranges (at most `MAX_BANDS`).
    pub bands: Vec<Band>,
}

impl RegionConfig {
    /// Size of the fixed part before the bands.
    pub const HEADER_SIZE: usize = 8;
    /// Largest body (with `MAX_BANDS` bands).
    pub const MAX_SIZE: usize = Self::HEADER_SIZE + MAX_BANDS * Band::SIZE;

    /// Parses a body; its length must match `num_bands`.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let head = b.get(..Self::HEADER_SIZE).ok_or(WireError::Length {
            what: "region",
            len: b.len(),
            expected: Self::HEADER_SIZE,
        })?;
        let n = usize::from(head[0]);
        if n > MAX_BANDS {
            return Err(WireError::Invalid {
                field: "num_bands",
                value: n as u64,
            });
        }
        let expected = Self::HEADER_SIZE + n * Band::SIZE;
        if b.len() != expected {
            return Err(WireError::Length {
                what: "region",
                len: b.len(),
                expected,
            });
        }
        let bands = b[Self::HEADER_SIZE..]
            .chunks_exact(Band::SIZE)
            .map(Band::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            fm_deemphasis: head[1],
            fm_rds: head[2],
            bands,
        })
    }

    /// Serializes the body; bands past `MAX_BANDS` are left out.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = self.bands.len().min(MAX_BANDS);
        let mut b = vec![0u8; Self::HEADER_SIZE];
        b[0] = n as u8;
        b[1] = self.fm_deemphasis;
        b[2] = self.fm_rds;
        for band in self.bands.iter().take(n) {
            b.extend_from_slice(&band.to_bytes());
        }
        b
    }
}

/// `virtio_radio_selector` (§6.4.3): TUNE request payload, a reduced `ProgramSelector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector {
    /// `ID_*` type of the primary identifier.
    pub primary_type: u32,
    /// Its value (kHz for frequencies, the 16-bit code for RDS PI).
    pub primary_value: u64,
    /// `ID_*` type of the optional secondary identifier, `ID_INVALID` if absent.
    pub secondary_type: u32,
    /// Its value.
    pub secondary_value: u64,
}

impl Selector {
    /// Size on the wire.
    pub const SIZE: usize = 24;

    /// A selector for a frequency alone.
    pub fn frequency(khz: u32) -> Self {
        Self {
            primary_type: ID_AMFM_FREQUENCY_KHZ,
            primary_value: khz.into(),
            secondary_type: ID_INVALID,
            secondary_value: 0,
        }
    }

    /// The frequency this selector names, if any (primary first, then secondary).
    pub fn frequency_khz(&self) -> Option<u32> {
        [
            (self.primary_type, self.primary_value),
            (self.secondary_type, self.secondary_value),
        ]
        .into_iter()
        .find(|(t, _)| *t == ID_AMFM_FREQUENCY_KHZ)
        .and_then(|(_, v)| u32::try_from(v).ok())
    }

    /// The RDS PI this selector names, if any.
    pub fn rds_pi(&self) -> Option<u16> {
        [
            (self.primary_type, self.primary_value),
            (self.secondary_type, self.secondary_value),
        ]
        .into_iter()
        .find(|(t, _)| *t == ID_RDS_PI)
        .and_then(|(_, v)| u16::try_from(v).ok())
    }

    /// Parses exactly one selector; a present identifier's value must fit its type.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("selector", b)?;
        let s = Self {
            primary_type: le32(b, 0),
            secondary_type: le32(b, 4),
            primary_value: le64(b, 8),
            secondary_value: le64(b, 16),
        };
        if s.primary_type == ID_INVALID {
            return Err(WireError::Invalid {
                field: "primary_type",
                value: 0,
            });
        }
        for (t, v) in [
            (s.primary_type, s.primary_value),
            (s.secondary_type, s.secondary_value),
        ] {
            let fits = match t {
                ID_AMFM_FREQUENCY_KHZ => u32::try_from(v).is_ok(),
                ID_RDS_PI => u16::try_from(v).is_ok(),
                _ => true,
            };
            if !fits {
                return Err(WireError::Invalid {
                    field: "identifier value",
                    value: v,
                });
            }
        }
        Ok(s)
    }

    /// Serializes the selector.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.primary_type);
        put32(&mut b, 4, self.secondary_type);
        put64(&mut b, 8, self.primary_value);
        put64(&mut b, 16, self.secondary_value);
        b
    }
}

/// `virtio_radio_seek` / `virtio_radio_step` (§6.4.4, §6.4.5): a flags word, the seek grid
/// and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectionArgs {
    /// `SEEK_F_*` or `STEP_F_*` bits.
    pub flags: u32,
    /// SEEK only: the grid to scan, kHz, 0 = the band's seek grid. Reserved in STEP (parsed,
    /// never used).
    pub spacing_khz: u16,
}

impl DirectionArgs {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses exactly one payload, allowing only the flags in `allowed`.
    pub fn parse(b: &[u8], allowed: u32) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("direction", b)?;
        Ok(Self {
            flags: check_bits("flags", le32(b, 0), allowed)?,
            spacing_khz: le16(b, 4),
        })
    }

    /// Serializes the payload.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.flags);
        put16(&mut b, 4, self.spacing_khz);
        b
    }
}

/// `virtio_radio_op` (§6.4.3): response body of TUNE, SEEK, STEP and CANCEL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpResponse {
    /// Identifier of the operation started (or cancelled; 0 = none).
    pub op_id: u32,
}

impl OpResponse {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses exactly one body.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("op", b)?;
        Ok(Self { op_id: le32(b, 0) })
    }

    /// Serializes the body.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.op_id);
        b
    }
}

/// `virtio_radio_config_flag` (§6.4.7): a config flag and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigFlagArgs {
    /// `FLAG_*` number (AIDL `ConfigFlag`).
    pub flag: u32,
    /// Its value (ignored in a GET_CONFIG_FLAG request).
    pub value: bool,
}

impl ConfigFlagArgs {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses exactly one payload; the flag must be one this revision defines.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("config_flag", b)?;
        let flag = le32(b, 0);
        if flag == 0 || flag > FLAG_MAX {
            return Err(WireError::Invalid {
                field: "flag",
                value: flag.into(),
            });
        }
        Ok(Self {
            flag,
            value: bool8("value", b[4])?,
        })
    }

    /// Serializes the payload.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.flag);
        b[4] = self.value.into();
        b
    }
}

/// `virtio_radio_parameter` (§6.4.8): a vendor key and value, NUL-padded UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Key, non-empty, at most 63 bytes.
    pub key: String,
    /// Value, at most 127 bytes.
    pub value: String,
}

impl Parameter {
    /// Size on the wire.
    pub const SIZE: usize = PARAM_KEY_LEN + PARAM_VALUE_LEN;

    fn parse_key(b: &[u8]) -> Result<String, WireError> {
        let key = read_str("key", b)?;
        if key.is_empty() {
            return Err(WireError::Invalid {
                field: "key length",
                value: 0,
            });
        }
        Ok(key)
    }

    /// Parses exactly one key-value pair.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("parameter", b)?;
        Ok(Self {
            key: Self::parse_key(&b[..PARAM_KEY_LEN])?,
            value: read_str("value", &b[PARAM_KEY_LEN..])?,
        })
    }

    /// Serializes the pair; both strings are cut to leave a terminating NUL.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        write_str(&mut b[..PARAM_KEY_LEN - 1], &self.key);
        write_str(&mut b[PARAM_KEY_LEN..Self::SIZE - 1], &self.value);
        b
    }
}

/// `virtio_radio_program_filter` (§6.4.9): START_PROGRAM_LIST payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramFilter {
    /// Bit n set: keep entries carrying AIDL `IdentifierType` n; 0 keeps all.
    pub identifier_types: u32,
    /// Include non-tunable category entries (none exist for AM/FM).
    pub include_categories: bool,
    /// Report additions only, never modifications.
    pub exclude_modifications: bool,
}

impl ProgramFilter {
    /// Size on the wire.
    pub const SIZE: usize = 8;

    /// Parses exactly one filter.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("program_filter", b)?;
        Ok(Self {
            identifier_types: le32(b, 0),
            include_categories: bool8("include_categories", b[4])?,
            exclude_modifications: bool8("exclude_modifications", b[5])?,
        })
    }

    /// Serializes the filter.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        put32(&mut b, 0, self.identifier_types);
        b[4] = self.include_categories.into();
        b[5] = self.exclude_modifications.into();
        b
    }
}

/// `virtio_radio_program_info` (§6.5): the state of one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Tuned frequency, kHz.
    pub frequency_khz: u32,
    /// `INFO_*` bits (AIDL `ProgramInfo.FLAG_*`).
    pub info_flags: u32,
    /// `RDS_*` bits: which RDS fields below are valid.
    pub rds_fields: u32,
    /// RDS Programme Identification.
    pub pi: u16,
    /// RDS Programme Type (0..=31).
    pub pty: u8,
    /// Signal quality, percent (0..=100).
    pub signal_quality: u8,
    /// Index of the band (in GET_BANDS full=true order) the frequency belongs to.
    pub band: u8,
    /// Programme Service name, 8 RDS characters.
    pub ps: [u8; PS_LEN],
    /// RadioText, RDS characters without the terminating 0x0D; at most 64 are serialized.
    pub rt: Vec<u8>,
}

impl ProgramInfo {
    /// Size on the wire.
    pub const SIZE: usize = 96;

    /// An empty record for `frequency_khz` with nothing known about it.
    pub fn new(frequency_khz: u32) -> Self {
        Self {
            frequency_khz,
            info_flags: 0,
            rds_fields: 0,
            pi: 0,
            pty: 0,
            signal_quality: 0,
            band: 0,
            ps: [b' '; PS_LEN],
            rt: Vec::new(),
        }
    }

    /// Parses exactly one record, rejecting values outside their definitions.
    pub fn parse(b: &[u8]) -> Result<Self, WireError> {
        let b = exact::<{ Self::SIZE }>("program_info", b)?;
        let bad = |field, value: u8| WireError::Invalid {
            field,
            value: value.into(),
        };
        if b[14] > 31 {
            return Err(bad("pty", b[14]));
        }
        if b[15] > 100 {
            return Err(bad("signal_quality", b[15]));
        }
        let rt_len = usize::from(b[24]);
        if rt_len > RT_MAX_LEN {
            return Err(bad("rt_len", b[24]));
        }
        let mut ps = [0u8; PS_LEN];
        ps.copy_from_slice(&b[16..24]);
        Ok(Self {
            frequency_khz: le32(b, 0),
            info_flags: le32(b, 4),
            rds_fields: le32(b, 8),
            pi: le16(b, 12),
            pty: b[14],
            signal_quality: b[15],
            band: b[25],
            ps,
            rt: b[32..32 + rt_len].to_vec(),
        })
    }

    /// Serializes the record (RadioText cut at 64 characters).
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let rt_len = self.rt.len().min(RT_MAX_LEN);
        put32(&mut b, 0, self.frequency_khz);
        put32(&mut b, 4, self.info_flags);
        put32(&mut b, 8, self.rds_fields);
        put16(&mut b, 12, self.pi);
        b[14] = self.pty;
        b[15] = self.signal_quality;
        b[16..24].copy_from_slice(&self.ps);
        b[24] = rt_len as u8;
        b[25] = self.band;
        b[32..32 + rt_len].copy_from_slice(&self.rt[..rt_len]);
        b
    }
}

/// A parsed control request (§6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// GET_PROPERTIES.
    GetProperties,
    /// GET_BANDS.
    GetBands(GetBands),
    /// TUNE.
    Tune(Selector),
    /// SEEK.
    Seek(DirectionArgs),
    /// STEP.
    Step(DirectionArgs),
    /// CANCEL.
    Cancel,
    /// GET_PROGRAM_INFO.
    GetProgramInfo,
    /// GET_CONFIG_FLAG (the value is ignored).
    GetConfigFlag(ConfigFlagArgs),
    /// SET_CONFIG_FLAG.
    SetConfigFlag(ConfigFlagArgs),
    /// GET_PARAMETER with this key.
    GetParameter(String),
    /// SET_PARAMETER.
    SetParameter(Parameter),
    /// START_PROGRAM_LIST.
    StartProgramList(ProgramFilter),
    /// STOP_PROGRAM_LIST.
    StopProgramList,
}

fn no_payload(what: &'static str, p: &[u8]) -> Result<(), WireError> {
    if p.is_empty() {
        Ok(())
    } else {
        Err(WireError::Length {
            what,
            len: p.len(),
            expected: 0,
        })
    }
}

impl ControlRequest {
    /// Parses the device-readable part of a control queue buffer.
    pub fn parse(data: &[u8]) -> Result<Self, WireError> {
        let hdr = ReqHeader::parse(data)?;
        let p = &data[ReqHeader::SIZE..];
        Ok(match hdr.code {
            REQ_GET_PROPERTIES => no_payload("get_properties", p).map(|_| Self::GetProperties)?,
            REQ_GET_BANDS => Self::GetBands(GetBands::parse(p)?),
            REQ_TUNE => Self::Tune(Selector::parse(p)?),
            REQ_SEEK => Self::Seek(DirectionArgs::parse(p, SEEK_F_ALL)?),
            REQ_STEP => Self::Step(DirectionArgs::parse(p, STEP_F_UP)?),
            REQ_CANCEL => no_payload("cancel", p).map(|_| Self::Cancel)?,
            REQ_GET_PROGRAM_INFO => {
                no_payload("get_program_info", p).map(|_| Self::GetProgramInfo)?
            }
            REQ_GET_CONFIG_FLAG => Self::GetConfigFlag(ConfigFlagArgs::parse(p)?),
            REQ_SET_CONFIG_FLAG => Self::SetConfigFlag(ConfigFlagArgs::parse(p)?),
            REQ_GET_PARAMETER => {
                let key = exact::<PARAM_KEY_LEN>("get_parameter", p)?;
                Self::GetParameter(Parameter::parse_key(key)?)
            }
            REQ_SET_PARAMETER => Self::SetParameter(Parameter::parse(p)?),
            REQ_START_PROGRAM_LIST => Self::StartProgramList(ProgramFilter::parse(p)?),
            REQ_STOP_PROGRAM_LIST => {
                no_payload("stop_program_list", p).map(|_| Self::StopProgramList)?
            }
            other => return Err(WireError::UnknownRequest(other)),
        })
    }

    /// The request code.
    pub fn code(&self) -> u32 {
        match self {
            Self::GetProperties => REQ_GET_PROPERTIES,
            Self::GetBands(_) => REQ_GET_BANDS,
            Self::Tune(_) => REQ_TUNE,
            Self::Seek(_) => REQ_SEEK,
            Self::Step(_) => REQ_STEP,
            Self::Cancel => REQ_CANCEL,
            Self::GetProgramInfo => REQ_GET_PROGRAM_INFO,
            Self::GetConfigFlag(_) => REQ_GET_CONFIG_FLAG,
            Self::SetConfigFlag(_) => REQ_SET_CONFIG_FLAG,
            Self::GetParameter(_) => REQ_GET_PARAMETER,
            Self::SetParameter(_) => REQ_SET_PARAMETER,
            Self::StartProgramList(_) => REQ_START_PROGRAM_LIST,
            Self::StopProgramList => REQ_STOP_PROGRAM_LIST,
        }
    }

    /// Serializes the request (the driver's side).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = ReqHeader { code: self.code() }.to_bytes().to_vec();
        match self {
            Self::GetProperties | Self::Cancel | Self::GetProgramInfo | Self::StopProgramList => {}
            Self::GetBands(a) => b.extend_from_slice(&a.to_bytes()),
            Self::Tune(s) => b.extend_from_slice(&s.to_bytes()),
            Self::Seek(a) | Self::Step(a) => b.extend_from_slice(&a.to_bytes()),
            Self::GetConfigFlag(a) | Self::SetConfigFlag(a) => b.extend_from_slice(&a.to_bytes()),
            Self::GetParameter(key) => {
                let mut k = [0u8; PARAM_KEY_LEN];
                write_str(&mut k[..PARAM_KEY_LEN - 1], key);
                b.extend_from_slice(&k);
            }
            Self::SetParameter(p) => b.extend_from_slice(&p.to_bytes()),
            Self::StartProgramList(f) => b.extend_from_slice(&f.to_bytes()),
        }
        b
    }

    /// Device-writable bytes the driver must supply for this request's successful response.
    pub fn response_len(&self) -> usize {
        RespHeader::SIZE
            + match self {
                Self::GetProperties => Properties::SIZE,
                Self::GetBands(_) => RegionConfig::MAX_SIZE,
                Self::Tune(_) | Self::Seek(_) | Self::Step(_) | Self::Cancel => OpResponse::SIZE,
                Self::GetProgramInfo => ProgramInfo::SIZE,
                Self::GetConfigFlag(_) => ConfigFlagArgs::SIZE,
                Self::GetParameter(_) => Parameter::SIZE,
                Self::SetConfigFlag(_)
                | Self::SetParameter(_)
                | Self::StartProgramList(_)
                | Self::StopProgramList => 0,
            }
    }
}

/// The body of a control response after its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body: every error response and the SET/START/STOP successes.
    None,
    /// GET_PROPERTIES.
    Properties(Properties),
    /// GET_BANDS.
    Region(RegionConfig),
    /// TUNE, SEEK, STEP, CANCEL.
    Op(OpResponse),
    /// GET_PROGRAM_INFO.
    ProgramInfo(ProgramInfo),
    /// GET_CONFIG_FLAG.
    ConfigFlag(ConfigFlagArgs),
    /// GET_PARAMETER.
    Parameter(Parameter),
}

/// A control response (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `S_*` status.
    pub status: u32,
    /// Body, present only with `S_OK`.
    pub body: ResponseBody,
}

impl Response {
    /// A header-only response with `status`.
    pub fn status(status: u32) -> Self {
        Self {
            status,
            body: ResponseBody::None,
        }
    }

    /// A successful response carrying `body`.
    pub fn ok(body: ResponseBody) -> Self {
        Self { status: S_OK, body }
    }

    /// Serializes the response (the device's side).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = RespHeader {
            status: self.status,
        }
        .to_bytes()
        .to_vec();
        match &self.body {
            ResponseBody::None => {}
            ResponseBody::Properties(p) => b.extend_from_slice(&p.to_bytes()),
            ResponseBody::Region(r) => b.extend_from_slice(&r.to_bytes()),
            ResponseBody::Op(o) => b.extend_from_slice(&o.to_bytes()),
            ResponseBody::ProgramInfo(i) => b.extend_from_slice(&i.to_bytes()),
            ResponseBody::ConfigFlag(f) => b.extend_from_slice(&f.to_bytes()),
            ResponseBody::Parameter(p) => b.extend_from_slice(&p.to_bytes()),
        }
        b
    }

    /// Parses the response to a request with `code` (the driver's side).
    pub fn parse(code: u32, b: &[u8]) -> Result<Self, WireError> {
        let hdr = RespHeader::parse(b)?;
        let p = &b[RespHeader::SIZE..];
        if hdr.status != S_OK {
            no_payload("error response", p)?;
            return Ok(Self::status(hdr.status));
        }
        let body = match code {
            REQ_GET_PROPERTIES => ResponseBody::Properties(Properties::parse(p)?),
            REQ_GET_BANDS => ResponseBody::Region(RegionConfig::parse(p)?),
            REQ_TUNE | REQ_SEEK | REQ_STEP | REQ_CANCEL => ResponseBody::Op(OpResponse::parse(p)?),
            REQ_GET_PROGRAM_INFO => ResponseBody::ProgramInfo(ProgramInfo::parse(p)?),
            REQ_GET_CONFIG_FLAG => ResponseBody::ConfigFlag(ConfigFlagArgs::parse(p)?),
            REQ_GET_PARAMETER => ResponseBody::Parameter(Parameter::parse(p)?),
            REQ_SET_CONFIG_FLAG
            | REQ_SET_PARAMETER
            | REQ_START_PROGRAM_LIST
            | REQ_STOP_PROGRAM_LIST => {
                no_payload("response", p)?;
                ResponseBody::None
            }
            other => return Err(WireError::UnknownRequest(other)),
        };
        Ok(Self::ok(body))
    }
}

/// One device-to-driver event (§6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A tune, seek or step finished with `status`; `info` is the program now tuned.
    TuneComplete {
        /// The operation's identifier from its OP response.
        op_id: u32,
        /// `S_OK`, `S_CANCELLED`, `S_TIMEOUT`, `S_INTERNAL_ERROR` or `S_NOT_SUPPORTED`.
        status: u32,
        /// Current program information.
        info: ProgramInfo,
    },
    /// The current program's information changed.
    ProgramInfoChanged(ProgramInfo),
    /// Antenna connection changed: bit n = antenna n connected.
    AntennaState {
        /// Connection bitmap.
        connected: u32,
    },
    /// One program list update.
    ProgramListUpdate {
        /// `LIST_F_*` bits.
        flags: u32,
        /// The program, meaningful with `LIST_F_ENTRY`.
        entry: ProgramInfo,
    },
    /// A config flag changed by the device itself.
    ConfigFlagChanged(ConfigFlagArgs),
    /// Raw RDS blocks as `v4l2_rds_data` triples (lsb, msb, block).
    RdsBlocks(Vec<[u8; 3]>),
}

impl Event {
    /// The event type code.
    pub fn kind(&self) -> u32 {
        match self {
            Self::TuneComplete { .. } => EVT_TUNE_COMPLETE,
            Self::ProgramInfoChanged(_) => EVT_PROGRAM_INFO_CHANGED,
            Self::AntennaState { .. } => EVT_ANTENNA_STATE,
            Self::ProgramListUpdate { .. } => EVT_PROGRAM_LIST_UPDATE,
            Self::ConfigFlagChanged(_) => EVT_CONFIG_FLAG_CHANGED,
            Self::RdsBlocks(_) => EVT_RDS_BLOCKS,
        }
    }

    /// Serializes the event with header `flags` (`EVT_F_*`); at most `RDS_BLOCKS_MAX` blocks
    /// of an `RdsBlocks` event are written.
    pub fn to_bytes(&self, flags: u32) -> Vec<u8> {
        let mut b = EventHeader {
            kind: self.kind(),
            flags,
        }
        .to_bytes()
        .to_vec();
        match self {
            Self::TuneComplete {
                op_id,
                status,
                info,
            } => {
                b.extend_from_slice(&op_id.to_le_bytes());
                b.extend_from_slice(&status.to_le_bytes());
                b.extend_from_slice(&info.to_bytes());
            }
            Self::ProgramInfoChanged(info) => b.extend_from_slice(&info.to_bytes()),
            Self::AntennaState { connected } => {
                b.extend_from_slice(&connected.to_le_bytes());
                b.extend_from_slice(&[0; 4]);
            }
            Self::ProgramListUpdate { flags, entry } => {
                b.extend_from_slice(&flags.to_le_bytes());
                b.extend_from_slice(&[0; 4]);
                b.extend_from_slice(&entry.to_bytes());
            }
            Self::ConfigFlagChanged(f) => b.extend_from_slice(&f.to_bytes()),
            Self::RdsBlocks(blocks) => {
                let n = blocks.len().min(RDS_BLOCKS_MAX);
                b.extend_from_slice(&(n as u16).to_le_bytes());
                b.extend_from_slice(&[0; 2]);
                for blk in &blocks[..n] {
                    b.extend_from_slice(blk);
                }
            }
        }
        b
    }

    /// Parses one event (the driver's side); returns the header flags with it.
    pub fn parse(b: &[u8]) -> Result<(u32, Self), WireError> {
        let hdr = EventHeader::parse(b)?;
        let p = &b[EventHeader::SIZE..];
        let ev = match hdr.kind {
            EVT_TUNE_COMPLETE => {
                let p = exact::<{ 8 + ProgramInfo::SIZE }>("tune_complete", p)?;
                Self::TuneComplete {
                    op_id: le32(p, 0),
                    status: le32(p, 4),
                    info: ProgramInfo::parse(&p[8..])?,
                }
            }
            EVT_PROGRAM_INFO_CHANGED => Self::ProgramInfoChanged(ProgramInfo::parse(p)?),
            EVT_ANTENNA_STATE => {
                let p = exact::<8>("antenna_state", p)?;
                Self::AntennaState {
                    connected: le32(p, 0),
                }
            }
            EVT_PROGRAM_LIST_UPDATE => {
                let p = exact::<{ 8 + ProgramInfo::SIZE }>("program_list_update", p)?;
                Self::ProgramListUpdate {
                    flags: le32(p, 0),
                    entry: ProgramInfo::parse(&p[8..])?,
                }
            }
            EVT_CONFIG_FLAG_CHANGED => Self::ConfigFlagChanged(ConfigFlagArgs::parse(p)?),
            EVT_RDS_BLOCKS => {
                let head = p.get(..4).ok_or(WireError::Length {
                    what: "rds_blocks",
                    len: p.len(),
                    expected: 4,
                })?;
                let n = usize::from(le16(head, 0));
                if n > RDS_BLOCKS_MAX {
                    return Err(WireError::Invalid {
                        field: "rds block count",
                        value: n as u64,
                    });
                }
                if p.len() != 4 + 3 * n {
                    return Err(WireError::Length {
                        what: "rds_blocks",
                        len: p.len(),
                        expected: 4 + 3 * n,
                    });
                }
                Self::RdsBlocks(p[4..].chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
            }
            other => return Err(WireError::UnknownEvent(other)),
        };
        Ok((hdr.flags, ev))
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
