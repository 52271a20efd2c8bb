//! Sample formats the backends understand, and the per-sample operations the device and the
//! mixer need (silence, gain).

/// An interleaved little-endian sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// Unsigned 8-bit (silence is 0x80).
    U8,
    /// Signed 16-bit.
    S16,
    /// Signed 24-bit in the low three bytes of a 32-bit container.
    S24,
    /// Signed 24-bit packed in three bytes.
    S24_3,
    /// Signed 32-bit.
    S32,
    /// IEEE 754 single precision.
    Float,
}

impl SampleFormat {
    /// Bytes per sample (physical width).
    pub fn bytes(self) -> u32 {
        match self {
            Self::U8 => 1,
            Self::S16 => 2,
            Self::S24_3 => 3,
            Self::S24 | Self::S32 | Self::Float => 4,
        }
    }

    /// Significant bits per sample.
    pub fn bits(self) -> u32 {
        match self {
            Self::U8 => 8,
            Self::S16 => 16,
            Self::S24 | Self::S24_3 => 24,
            Self::S32 | Self::Float => 32,
        }
    }

    /// Lower-case name used in config files and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::S16 => "s16",
            Self::S24 => "s24",
            Self::S24_3 => "s24_3",
            Self::S32 => "s32",
            Self::Float => "float",
        }
    }

    /// The name ALSA gives the format (`snd_pcm_format_name`), as status reports show it.
    pub fn alsa_name(self) -> &'static str {
        match self {
            Self::U8 => "U8",
            Self::S16 => "S16_LE",
            Self::S24 => "S24_LE",
            Self::S24_3 => "S24_3LE",
            Self::S32 => "S32_LE",
            Self::Float => "FLOAT_LE",
        }
    }

    /// Every format, in a fixed order.
    pub const ALL: [SampleFormat; 6] = [
        Self::U8,
        Self::S16,
        Self::S24,
        Self::S24_3,
        Self::S32,
        Self::Float,
    ];

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Fills `buf` with silence.
    pub fn fill_silence(self, buf: &mut [u8]) {
        buf.fill(if self == Self::U8 { 0x80 } else { 0 });
    }

    /// Reads sample `i` of `data` as a value normalised to [-1, 1).
    pub fn sample(self, data: &[u8], i: usize) -> Option<f64> {
        let w = self.bytes() as usize;
        let b = data.get(i * w..i * w + w)?;
        Some(match self {
            Self::U8 => (f64::from(b[0]) - 128.0) / 128.0,
            Self::S16 => f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
            Self::S24 => {
                f64::from(sign_extend_24(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                    / 8_388_608.0
            }
            Self::S24_3 => {
                f64::from(sign_extend_24(u32::from_le_bytes([b[0], b[1], b[2], 0]))) / 8_388_608.0
            }
            Self::S32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0,
            Self::Float => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        })
    }

    /// Writes `v` (normalised, clipped to the format's range) as sample `i` of `data`.
    pub fn put_sample(self, data: &mut [u8], i: usize, v: f64) {
        let w = self.bytes() as usize;
        let Some(b) = data.get_mut(i * w..i * w + w) else {
            return;
        };
        let scaled = |full: f64| (v * full).round().clamp(-full, full - 1.0);
        match self {
            Self::U8 => b[0] = (scaled(128.0) + 128.0) as u8,
            Self::S16 => b.copy_from_slice(&(scaled(32768.0) as i16).to_le_bytes()),
            Self::S24 => b.copy_from_slice(&(scaled(8_388_608.0) as i32).to_le_bytes()),
            Self::S24_3 => b.copy_from_slice(&(scaled(8_388_608.0) as i32).to_le_bytes()[..3]),
            Self::S32 => b.copy_from_slice(&(scaled(2_147_483_648.0) as i32).to_le_bytes()),
            Self::Float => b.copy_from_slice(&(v.clamp(-1.0, 1.0) as f32).to_le_bytes()),
        }
    }

    /// Multiplies every sample of `data` by `gain` (0 = silence), clipping at full scale.
    /// A gain of exactly 1 leaves the bytes untouched, so unity volume stays bit-exact.
    pub fn apply_gain(self, data: &mut [u8], gain: f64) {
        if gain == 1.0 {
            return;
        }
        if gain <= 0.0 {
            self.fill_silence(data);
            return;
        }
        let n = data.len() / self.bytes() as usize;
        for i in 0..n {
            if let Some(v) = self.sample(data, i) {
                self.put_sample(data, i, v * gain);
            }
        }
    }
}

fn sign_extend_24(v: u32) -> i32 {
    ((v << 8) as i32) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unity_gain_is_bit_exact_and_zero_gain_is_silence() {
        let mut d = vec![1, 2, 3, 4, 0xff, 0x7f];
        SampleFormat::S16.apply_gain(&mut d, 1.0);
        assert_eq!(d, [1, 2, 3, 4, 0xff, 0x7f]);
        SampleFormat::S16.apply_gain(&mut d, 0.0);
        assert_eq!(d, [0; 6]);
        let mut u = vec![0u8, 255];
        SampleFormat::U8.apply_gain(&mut u, 0.0);
        assert_eq!(u, [0x80, 0x80]);
    }

    #[test]
    fn half_gain_halves_and_clips() {
        let mut d = 20000i16.to_le_bytes().to_vec();
        SampleFormat::S16.apply_gain(&mut d, 0.5);
        assert_eq!(i16::from_le_bytes([d[0], d[1]]), 10000);
        let mut d = 30000i16.to_le_bytes().to_vec();
        SampleFormat::S16.apply_gain(&mut d, 2.0);
        assert_eq!(i16::from_le_bytes([d[0], d[1]]), i16::MAX);
        let mut d = (-0x40_0000i32).to_le_bytes()[..3].to_vec();
        SampleFormat::S24_3.apply_gain(&mut d, 0.5);
        assert_eq!(d, (-0x20_0000i32).to_le_bytes()[..3]);
    }
}
