//! Simulated null backends: playback discards, capture records silence. The device paces
//! both at the stream's rate, so a guest sees a codec with real timing and no sound.

use super::{PcmCapture, PcmError, PcmParams, PcmPlayback, SampleFormat};

/// Playback into nothing.
#[derive(Debug, Default)]
pub struct NullPlayback {
    open: bool,
    /// Bytes accepted since the last `open`.
    pub bytes_written: u64,
}

impl PcmPlayback for NullPlayback {
    fn describe(&self) -> String {
        "sim null output".into()
    }

    fn open(&mut self, _params: &PcmParams) -> Result<(), PcmError> {
        self.open = true;
        self.bytes_written = 0;
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        if !self.open {
            return Err(PcmError::NotOpen);
        }
        self.bytes_written += data.len() as u64;
        Ok(())
    }

    fn close(&mut self) {
        self.open = false;
    }
}

/// Capture of silence.
#[derive(Debug, Default)]
pub struct NullCapture {
    format: Option<SampleFormat>,
}

impl PcmCapture for NullCapture {
    fn describe(&self) -> String {
        "sim null input (silence)".into()
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.format = Some(params.format);
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError> {
        self.format.ok_or(PcmError::NotOpen)?.fill_silence(buf);
        Ok(())
    }

    fn close(&mut self) {
        self.format = None;
    }
}
