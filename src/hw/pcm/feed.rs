//! Capture fed by another device instead of a file or a codec: the FM tuner's demodulated
//! audio reaches a guest as a virtio-snd capture stream through this slot.

use std::sync::Arc;
use std::time::Instant;

use super::{PcmCapture, PcmError, PcmParams};

/// A producer of PCM audio that a capture stream can record (implemented by the radio device).
pub trait AudioFeed: Send + Sync {
    /// Name for logs.
    fn name(&self) -> String;

    /// Whether the feed can produce `params`.
    fn supports(&self, params: &PcmParams) -> bool;

    /// Fills `buf` with the next frames; returns how many bytes were real audio (the rest of
    /// `buf` is left to the caller to silence).
    fn pull(&self, params: &PcmParams, buf: &mut [u8]) -> usize;

    /// Like [`AudioFeed::pull`] for frames whose capture time ends at `end`, which may lie
    /// in the past: a feed that changes at known times (a tuner muting while it tunes)
    /// gives each frame what it carried then, however late the caller runs.
    fn pull_until(&self, params: &PcmParams, buf: &mut [u8], end: Instant) -> usize {
        let _ = end;
        self.pull(params, buf)
    }
}

/// A capture stream whose source is an [`AudioFeed`].
pub struct FeedCapture {
    feed: Arc<dyn AudioFeed>,
    params: Option<PcmParams>,
    /// Bytes the feed could not supply since `open` (recorded as silence).
    pub missing_bytes: u64,
}

impl FeedCapture {
    /// Records from `feed`.
    pub fn new(feed: Arc<dyn AudioFeed>) -> Self {
        Self {
            feed,
            params: None,
            missing_bytes: 0,
        }
    }
}

impl PcmCapture for FeedCapture {
    fn describe(&self) -> String {
        format!("capture fed by {}", self.feed.name())
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        if self.feed.supports(params) {
            Ok(())
        } else {
            Err(PcmError::Unsupported(format!(
                "{} cannot produce {:?}",
                self.feed.name(),
                params
            )))
        }
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.check(params)?;
        self.params = Some(*params);
        self.missing_bytes = 0;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError> {
        let params = self.params.ok_or(PcmError::NotOpen)?;
        let got = self.feed.pull(&params, buf).min(buf.len());
        params.format.fill_silence(&mut buf[got..]);
        self.missing_bytes += (buf.len() - got) as u64;
        Ok(())
    }

    fn read_until(&mut self, buf: &mut [u8], end: Instant) -> Result<(), PcmError> {
        let params = self.params.ok_or(PcmError::NotOpen)?;
        let got = self.feed.pull_until(&params, buf, end).min(buf.len());
        params.format.fill_silence(&mut buf[got..]);
        self.missing_bytes += (buf.len() - got) as u64;
        Ok(())
    }

    fn close(&mut self) {
        self.params = None;
    }
}

/// An [`AudioFeed`] that a producer pushes bytes into (bounded; oldest audio is dropped
/// when the consumer falls behind, as a real tuner's FIFO would).
pub struct PushFeed {
    name: String,
    params: PcmParams,
    fifo: std::sync::Mutex<std::collections::VecDeque<u8>>,
    capacity: usize,
}

impl PushFeed {
    /// A feed named `name` producing `params`, holding at most `capacity` bytes.
    pub fn new(name: impl Into<String>, params: PcmParams, capacity: usize) -> Self {
        Self {
            name: name.into(),
            params,
            fifo: std::sync::Mutex::new(std::collections::VecDeque::new()),
            capacity,
        }
    }

    /// Appends produced audio.
    pub fn push(&self, data: &[u8]) {
        let mut fifo = match self.fifo.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        fifo.extend(data.iter().copied());
        let excess = fifo.len().saturating_sub(self.capacity);
        // Drop whole frames only, so channels never swap.
        let frame = self.params.frame_bytes().max(1) as usize;
        let drop = excess.div_ceil(frame) * frame;
        let n = drop.min(fifo.len());
        fifo.drain(..n);
    }
}

impl AudioFeed for PushFeed {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn supports(&self, params: &PcmParams) -> bool {
        params.format == self.params.format
            && params.rate == self.params.rate
            && params.channels == self.params.channels
    }

    fn pull(&self, _params: &PcmParams, buf: &mut [u8]) -> usize {
        let mut fifo = match self.fifo.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        let n = buf.len().min(fifo.len());
        for (dst, src) in buf.iter_mut().zip(fifo.drain(..n)) {
            *dst = src;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::pcm::SampleFormat;

    fn params() -> PcmParams {
        PcmParams {
            format: SampleFormat::S16,
            rate: 48000,
            channels: 2,
            period_bytes: 8,
            buffer_bytes: 32,
        }
    }

    #[test]
    fn records_what_was_pushed_then_silence() {
        let feed = Arc::new(PushFeed::new("fm0", params(), 64));
        let mut cap = FeedCapture::new(feed.clone());
        cap.open(&params()).unwrap();
        feed.push(&[1, 2, 3, 4]);
        let mut buf = [9u8; 8];
        cap.read(&mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 0, 0, 0, 0]);
        assert_eq!(cap.missing_bytes, 4);
    }

    #[test]
    fn overflow_drops_whole_oldest_frames() {
        let feed = PushFeed::new("fm0", params(), 8);
        feed.push(&[1, 1, 1, 1, 2, 2, 2, 2, 3, 3]);
        let mut buf = [0u8; 8];
        assert_eq!(feed.pull(&params(), &mut buf), 6);
        assert_eq!(&buf[..6], &[2, 2, 2, 2, 3, 3]);
    }

    #[test]
    fn refuses_other_formats() {
        let feed = Arc::new(PushFeed::new("fm0", params(), 8));
        let cap = FeedCapture::new(feed);
        let mut p = params();
        p.rate = 44100;
        assert!(cap.check(&p).is_err());
    }
}
