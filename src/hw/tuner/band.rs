//! A tuner band: one AM or FM frequency range and its channel grid (the numbers are
//! virtio-radio's, docs/virtio-radio.md §4, which the device layer puts on the wire).

/// Band kind: FM (§4).
pub const BAND_FM: u8 = 1;
/// Band kind: AM (LW, MW or SW).
pub const BAND_AM: u8 = 2;

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
    /// Whether `khz` lies on this band's channel grid.
    pub fn contains(&self, khz: u32) -> bool {
        khz >= self.low_khz
            && khz <= self.high_khz
            && self.spacing_khz != 0
            && (khz - self.low_khz) % u32::from(self.spacing_khz) == 0
    }
}
