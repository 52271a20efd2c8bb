//! Simulated file backends: a RIFF/WAVE sink that records a playback stream, and a WAVE
//! source that a capture stream plays back.
//!
//! Only the plain `fmt ` chunk formats are used (PCM integer 8/16/24/32-bit and IEEE float),
//! which is what aplay/arecord and every WAV reader handle.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{PcmCapture, PcmError, PcmParams, PcmPlayback, SampleFormat};

/// `WAVE_FORMAT_PCM`.
const FORMAT_PCM: u16 = 1;
/// `WAVE_FORMAT_IEEE_FLOAT`.
const FORMAT_FLOAT: u16 = 3;
/// Size of the canonical header this sink writes.
pub const HEADER_LEN: u64 = 44;
/// Largest source file loaded into memory.
const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// The audio format of a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    /// Sample format.
    pub format: SampleFormat,
    /// Frames per second.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
}

fn wav_tag(format: SampleFormat) -> Option<(u16, u16)> {
    match format {
        SampleFormat::U8 => Some((FORMAT_PCM, 8)),
        SampleFormat::S16 => Some((FORMAT_PCM, 16)),
        SampleFormat::S24_3 => Some((FORMAT_PCM, 24)),
        SampleFormat::S32 => Some((FORMAT_PCM, 32)),
        SampleFormat::Float => Some((FORMAT_FLOAT, 32)),
        // A 24-in-32 container needs WAVE_FORMAT_EXTENSIBLE, which this sink does not write.
        SampleFormat::S24 => None,
    }
}

/// The 44-byte canonical header for `data_len` bytes of `fmt` audio.
pub fn header(fmt: &WavFormat, data_len: u32) -> Option<[u8; 44]> {
    let (tag, bits) = wav_tag(fmt.format)?;
    let block_align = u32::from(fmt.channels) * u32::from(bits / 8);
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&tag.to_le_bytes());
    h[22..24].copy_from_slice(&fmt.channels.to_le_bytes());
    h[24..28].copy_from_slice(&fmt.rate.to_le_bytes());
    h[28..32].copy_from_slice(&(fmt.rate.saturating_mul(block_align)).to_le_bytes());
    h[32..34].copy_from_slice(&(block_align as u16).to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    Some(h)
}

/// A parsed WAV file: its format and its `data` chunk.
#[derive(Debug, Clone)]
pub struct WavFile {
    /// Audio format.
    pub format: WavFormat,
    /// The sample bytes.
    pub data: Vec<u8>,
}

/// Parses a RIFF/WAVE image.
pub fn parse(bytes: &[u8]) -> Result<WavFile, PcmError> {
    let bad = |m: &str| PcmError::Format(format!("not a usable WAV file: {m}"));
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut pos = 12usize;
    let mut format = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body_start = pos + 8;
        let body_end = body_start.saturating_add(len).min(bytes.len());
        let body = &bytes[body_start..body_end];
        if id == b"fmt " {
            if body.len() < 16 {
                return Err(bad("short fmt chunk"));
            }
            let tag = u16::from_le_bytes([body[0], body[1]]);
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            let sf = match (tag, bits) {
                (FORMAT_PCM, 8) => SampleFormat::U8,
                (FORMAT_PCM, 16) => SampleFormat::S16,
                (FORMAT_PCM, 24) => SampleFormat::S24_3,
                (FORMAT_PCM, 32) => SampleFormat::S32,
                (FORMAT_FLOAT, 32) => SampleFormat::Float,
                _ => return Err(bad(&format!("format tag {tag} with {bits} bits"))),
            };
            if channels == 0 || rate == 0 {
                return Err(bad("zero channels or rate"));
            }
            format = Some(WavFormat {
                format: sf,
                rate,
                channels,
            });
        } else if id == b"data" {
            let format = format.ok_or_else(|| bad("data chunk before fmt chunk"))?;
            return Ok(WavFile {
                format,
                data: body.to_vec(),
            });
        }
        // Chunks are padded to even sizes.
        pos = body_start.saturating_add(len).saturating_add(len & 1);
    }
    Err(bad("no data chunk"))
}

/// Records a playback stream into a WAV file, kept valid after every write.
#[derive(Debug)]
pub struct WavSink {
    path: PathBuf,
    file: Option<(File, WavFormat)>,
    data_len: u32,
}

impl WavSink {
    /// Records into `path` (created, or truncated at the first `open`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: None,
            data_len: 0,
        }
    }

    /// Where the recording goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn format_of(params: &PcmParams) -> WavFormat {
        WavFormat {
            format: params.format,
            rate: params.rate,
            channels: u16::from(params.channels),
        }
    }
}

impl PcmPlayback for WavSink {
    fn describe(&self) -> String {
        format!("sim WAV sink {}", self.path.display())
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        wav_tag(params.format).map(|_| ()).ok_or_else(|| {
            PcmError::Unsupported(format!("WAV sink cannot store {}", params.format.name()))
        })
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.check(params)?;
        let fmt = Self::format_of(params);
        // A new session with the same format continues the recording (a guest's xrun
        // recovery re-prepares mid-stream); another format starts a new file.
        if matches!(&self.file, Some((_, f)) if *f == fmt) {
            return Ok(());
        }
        // Opened at a guest's request, possibly as root: never through a symlink planted at
        // the path, which would have the guest's audio overwrite any file.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(|e| PcmError::io(format!("create {}", self.path.display()), e))?;
        let h = header(&fmt, 0).ok_or_else(|| PcmError::Unsupported("WAV format".into()))?;
        file.write_all(&h)
            .map_err(|e| PcmError::io(format!("write {}", self.path.display()), e))?;
        self.file = Some((file, fmt));
        self.data_len = 0;
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        let (file, fmt) = self.file.as_mut().ok_or(PcmError::NotOpen)?;
        let ctx = || format!("write {}", self.path.display());
        let len = u32::try_from(data.len())
            .ok()
            .and_then(|n| self.data_len.checked_add(n))
            .filter(|&n| n <= u32::MAX - 36)
            .ok_or_else(|| PcmError::Format("WAV file would exceed 4 GiB".into()))?;
        file.seek(SeekFrom::End(0))
            .and_then(|_| file.write_all(data))
            .map_err(|e| PcmError::io(ctx(), e))?;
        let h = header(fmt, len).ok_or_else(|| PcmError::Unsupported("WAV format".into()))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&h))
            .map_err(|e| PcmError::io(ctx(), e))?;
        self.data_len = len;
        Ok(())
    }

    fn close(&mut self) {
        if let Some((file, _)) = self.file.as_mut() {
            if let Err(e) = file.sync_data() {
                log::warn!("{}: {e}", self.path.display());
            }
        }
    }
}

/// Plays a WAV file into a capture stream, from its start at every `open`.
#[derive(Debug)]
pub struct WavSource {
    path: PathBuf,
    wav: WavFile,
    looped: bool,
    pos: usize,
    open: bool,
}

impl WavSource {
    /// Loads `path`; `looped` repeats it, otherwise silence follows its end.
    pub fn load(path: impl Into<PathBuf>, looped: bool) -> Result<Self, PcmError> {
        let path = path.into();
        let ctx = |e| PcmError::io(format!("read {}", path.display()), e);
        let mut f = File::open(&path).map_err(ctx)?;
        let len = f.metadata().map_err(ctx)?.len();
        if len > MAX_SOURCE_BYTES {
            return Err(PcmError::Format(format!(
                "{} is larger than {MAX_SOURCE_BYTES} bytes",
                path.display()
            )));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        f.read_to_end(&mut bytes).map_err(ctx)?;
        let wav = parse(&bytes)?;
        Ok(Self {
            path,
            wav,
            looped,
            pos: 0,
            open: false,
        })
    }

    /// The file's format.
    pub fn format(&self) -> WavFormat {
        self.wav.format
    }
}

impl PcmCapture for WavSource {
    fn describe(&self) -> String {
        format!("sim WAV source {}", self.path.display())
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        let f = self.wav.format;
        if f.format != params.format
            || f.rate != params.rate
            || f.channels != u16::from(params.channels)
        {
            return Err(PcmError::Unsupported(format!(
                "{} holds {} {} Hz {} ch",
                self.path.display(),
                f.format.name(),
                f.rate,
                f.channels
            )));
        }
        Ok(())
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.check(params)?;
        self.pos = 0;
        self.open = true;
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError> {
        if !self.open {
            return Err(PcmError::NotOpen);
        }
        let data = &self.wav.data;
        let mut done = 0;
        while done < buf.len() {
            if self.pos >= data.len() {
                if self.looped && !data.is_empty() {
                    self.pos = 0;
                } else {
                    self.wav.format.format.fill_silence(&mut buf[done..]);
                    break;
                }
            }
            let n = (buf.len() - done).min(data.len() - self.pos);
            buf[done..done + n].copy_from_slice(&data[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
        Ok(())
    }

    fn close(&mut self) {
        self.open = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PcmParams {
        PcmParams {
            format: SampleFormat::S16,
            rate: 8000,
            channels: 1,
            period_bytes: 4,
            buffer_bytes: 16,
        }
    }

    #[test]
    fn header_fields() {
        let h = header(
            &WavFormat {
                format: SampleFormat::S16,
                rate: 48000,
                channels: 2,
            },
            100,
        )
        .unwrap();
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 136);
        assert_eq!(u16::from_le_bytes([h[20], h[21]]), 1);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 192000);
        assert_eq!(u16::from_le_bytes([h[32], h[33]]), 4);
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 100);
    }

    #[test]
    fn sink_refuses_a_symlink_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("out.wav");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let mut sink = WavSink::new(&path);
        assert!(sink.open(&params()).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn sink_then_source_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let mut sink = WavSink::new(&path);
        sink.open(&params()).unwrap();
        sink.write(&[1, 2, 3, 4]).unwrap();
        sink.open(&params()).unwrap();
        sink.write(&[5, 6]).unwrap();
        sink.close();
        let wav = parse(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(wav.data, [1, 2, 3, 4, 5, 6]);
        assert_eq!(wav.format.rate, 8000);

        let mut src = WavSource::load(&path, false).unwrap();
        assert!(src
            .check(&PcmParams {
                rate: 16000,
                ..params()
            })
            .is_err());
        src.open(&params()).unwrap();
        let mut buf = [9u8; 8];
        src.read(&mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 0, 0]);
        let mut looped = WavSource::load(&path, true).unwrap();
        looped.open(&params()).unwrap();
        looped.read(&mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 1, 2]);
    }

    #[test]
    fn parse_refuses_garbage_and_skips_unknown_chunks() {
        assert!(parse(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(parse(b"nonsense").is_err());
        let mut img = header(
            &WavFormat {
                format: SampleFormat::U8,
                rate: 8000,
                channels: 1,
            },
            2,
        )
        .unwrap()
        .to_vec();
        // Insert an odd-sized LIST chunk (padded) between fmt and data.
        let list = [b'L', b'I', b'S', b'T', 3, 0, 0, 0, 1, 2, 3, 0];
        img.splice(36..36, list);
        img.extend_from_slice(&[7, 8]);
        let wav = parse(&img).unwrap();
        assert_eq!(wav.data, [7, 8]);
        assert_eq!(wav.format.format, SampleFormat::U8);
    }
}
