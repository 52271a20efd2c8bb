//! The real PCM backend: the kernel's ALSA PCM uAPI on `/dev/snd/pcmC<card>D<device>{p,c}`,
//! driven with its ioctls directly (like tinyalsa), so it works on Android and Linux with no
//! alsa-lib.
//!
//! The device is opened non-blocking: the virtio device paces writes and reads itself and
//! must never stall its worker thread on the codec. The codec runs on its own clock, so
//! over long runs the two can drift; the ALSA pointer absorbs it up to one buffer, beyond
//! which ALSA reports an xrun and the stream is re-prepared (logged).

pub mod pcm;
pub mod uapi;

pub use pcm::{AlsaCapture, AlsaPlayback};
