//! Simulated capture source: a sine tone, the same on every channel, from sample 0 at each
//! `open`, so a recording can be checked against [`ToneCapture::expected`].

use std::f64::consts::TAU;

use super::{PcmCapture, PcmError, PcmParams};

/// A sine generator.
#[derive(Debug, Clone)]
pub struct ToneCapture {
    frequency: f64,
    amplitude: f64,
    params: Option<PcmParams>,
    frame: u64,
}

impl ToneCapture {
    /// A tone of `frequency` Hz at `amplitude` (0..=1 of full scale).
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Self {
            frequency,
            amplitude: amplitude.clamp(0.0, 1.0),
            params: None,
            frame: 0,
        }
    }

    /// The bytes this generator produces for frames `first..first + frames` with `params`.
    pub fn expected(&self, params: &PcmParams, first: u64, frames: usize) -> Vec<u8> {
        let mut out = vec![0; frames * params.frame_bytes() as usize];
        self.render(params, first, &mut out);
        out
    }

    fn render(&self, params: &PcmParams, first: u64, buf: &mut [u8]) {
        let ch = usize::from(params.channels.max(1));
        let frames = buf.len() / params.frame_bytes().max(1) as usize;
        params.format.fill_silence(buf);
        for f in 0..frames {
            let n = first + f as u64;
            // Reduce the phase modulo one cycle in integers so long runs keep full precision.
            let period = u64::from(params.rate);
            let phase = ((n % period) as f64) * self.frequency / f64::from(params.rate);
            let v = self.amplitude * (TAU * phase.fract()).sin();
            for c in 0..ch {
                params.format.put_sample(buf, f * ch + c, v);
            }
        }
    }
}

impl PcmCapture for ToneCapture {
    fn describe(&self) -> String {
        format!(
            "sim tone {} Hz at {:.2} of full scale",
            self.frequency, self.amplitude
        )
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        if self.frequency <= 0.0 || self.frequency * 2.0 > f64::from(params.rate) {
            return Err(PcmError::Unsupported(format!(
                "tone of {} Hz cannot be sampled at {} Hz",
                self.frequency, params.rate
            )));
        }
        Ok(())
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.check(params)?;
        self.params = Some(*params);
        self.frame = 0;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError> {
        let params = self.params.ok_or(PcmError::NotOpen)?;
        self.render(&params, self.frame, buf);
        self.frame += (buf.len() / params.frame_bytes().max(1) as usize) as u64;
        Ok(())
    }

    fn close(&mut self) {
        self.params = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::pcm::SampleFormat;

    #[test]
    fn quarter_rate_tone_hits_peaks_and_zeros() {
        let p = PcmParams {
            format: SampleFormat::S16,
            rate: 48000,
            channels: 2,
            period_bytes: 64,
            buffer_bytes: 256,
        };
        let mut t = ToneCapture::new(12000.0, 0.5);
        t.open(&p).unwrap();
        let mut buf = vec![0; 16];
        t.read(&mut buf).unwrap();
        let s: Vec<i16> = buf
            .chunks(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(s, [0, 0, 16384, 16384, 0, 0, -16384, -16384]);
        let mut next = vec![0; 16];
        t.read(&mut next).unwrap();
        assert_eq!(next, t.expected(&p, 4, 4));
    }
}
