//! An ALSA PCM device node driven through [`super::uapi`].

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use log::warn;

use super::uapi::{self, HwParams, SwParams, XferI};
use crate::hw::pcm::{PcmCapture, PcmError, PcmParams, PcmPlayback};
use crate::transport::log_budget::LogBudget;

/// `/dev/snd/pcmC<card>D<device>{p,c}`.
pub fn node_path(card: u32, device: u32, capture: bool) -> PathBuf {
    PathBuf::from(format!(
        "/dev/snd/pcmC{card}D{device}{}",
        if capture { 'c' } else { 'p' }
    ))
}

/// Fewest periods in the codec's ring buffer.
const MIN_PERIODS: u32 = 8;
/// Periods of silence written ahead of a playback stream at START.
const CUSHION_PERIODS: u32 = 2;

/// One open PCM node.
struct Node {
    path: PathBuf,
    fd: Option<OwnedFd>,
    params: Option<PcmParams>,
    /// Xruns and short reads follow the guest's pacing and may come from a feed thread, not
    /// the device's worker: this PCM's own budget bounds their lines.
    log_budget: LogBudget,
}

impl Node {
    /// Whether one more guest-paced line about this PCM may be logged now.
    fn admit_line(&self) -> bool {
        self.log_budget.admit(&self.path.to_string_lossy())
    }
}

fn ioctl_ptr<T>(fd: &OwnedFd, req: u32, arg: *mut T) -> std::io::Result<libc::c_int> {
    // SAFETY: `fd` is an open ALSA PCM node; `req` is an ALSA PCM ioctl whose argument type is
    // `T` (checked against the kernel's sizes in uapi's tests) and `arg` points to a live,
    // properly aligned `T` for the duration of the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong as _, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ioctl_none(fd: &OwnedFd, req: u32) -> std::io::Result<()> {
    // SAFETY: argument-less ALSA ioctl on an open PCM node; the kernel reads no memory.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong as _, 0) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn open_node(path: &Path) -> Result<OwnedFd, PcmError> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| PcmError::Format(format!("bad path {}", path.display())))?;
    // SAFETY: `c` is a NUL-terminated path; the returned descriptor is owned below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(PcmError::io(
            format!("open {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn hw_params_for(p: &PcmParams) -> HwParams {
    let mut hw = HwParams::any();
    hw.set_mask(uapi::PARAM_ACCESS, uapi::ACCESS_RW_INTERLEAVED);
    hw.set_mask(uapi::PARAM_FORMAT, uapi::format_code(p.format));
    hw.set_mask(uapi::PARAM_SUBFORMAT, uapi::SUBFORMAT_STD);
    hw.set_interval(uapi::PARAM_CHANNELS, u32::from(p.channels));
    hw.set_interval(uapi::PARAM_RATE, p.rate);
    hw
}

impl Node {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            fd: None,
            params: None,
            log_budget: LogBudget::default(),
        }
    }

    fn err(&self, what: &str, e: std::io::Error) -> PcmError {
        PcmError::io(format!("{} on {}", what, self.path.display()), e)
    }

    /// HW_REFINE on a scratch descriptor: can the device run `p` at all?
    fn check(&self, p: &PcmParams) -> Result<(), PcmError> {
        let fd = match &self.fd {
            Some(_) => return Ok(()),
            None => open_node(&self.path)?,
        };
        let mut hw = hw_params_for(p);
        ioctl_ptr(&fd, uapi::HW_REFINE, &mut hw).map_err(|e| {
            PcmError::Unsupported(format!(
                "{} refuses {} {} Hz {} ch: {e}",
                self.path.display(),
                p.format.name(),
                p.rate,
                p.channels
            ))
        })?;
        Ok(())
    }

    fn open(&mut self, p: &PcmParams, playback: bool) -> Result<(), PcmError> {
        self.close();
        let fd = open_node(&self.path)?;
        let frame = p.frame_bytes().max(1);
        let period = (p.period_bytes / frame).max(1);
        // At least MIN_PERIODS: the device hands over one period as each one elapses on its
        // clock, so the codec's ring must absorb the jitter between the two clocks.
        let periods = (p.buffer_bytes / p.period_bytes.max(1)).max(MIN_PERIODS);
        let mut hw = hw_params_for(p);
        hw.set_interval(uapi::PARAM_PERIOD_SIZE, period);
        hw.set_interval(uapi::PARAM_PERIODS, periods);
        ioctl_ptr(&fd, uapi::HW_PARAMS, &mut hw).map_err(|e| self.err("HW_PARAMS", e))?;
        let buffer = hw
            .interval(uapi::PARAM_BUFFER_SIZE)
            .map_or(period * periods, |i| i.max);
        let mut sw = SwParams::zeroed();
        sw.period_step = 1;
        sw.avail_min = libc::c_ulong::from(period);
        // Playback starts with the silence cushion written at START; capture explicitly.
        sw.start_threshold = libc::c_ulong::from(if playback {
            CUSHION_PERIODS * period
        } else {
            buffer
        });
        sw.stop_threshold = libc::c_ulong::from(buffer);
        ioctl_ptr(&fd, uapi::SW_PARAMS, &mut sw).map_err(|e| self.err("SW_PARAMS", e))?;
        ioctl_none(&fd, uapi::PREPARE).map_err(|e| self.err("PREPARE", e))?;
        self.fd = Some(fd);
        self.params = Some(*p);
        Ok(())
    }

    fn recover(&self, fd: &OwnedFd) {
        if self.admit_line() {
            warn!("{}: xrun; re-preparing", self.path.display());
        }
        if let Err(e) = ioctl_none(fd, uapi::PREPARE) {
            if self.admit_line() {
                warn!("{}: PREPARE after xrun: {e}", self.path.display());
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        let (fd, p) = match (&self.fd, &self.params) {
            (Some(fd), Some(p)) => (fd, *p),
            _ => return Err(PcmError::NotOpen),
        };
        let frame = p.frame_bytes().max(1) as usize;
        let mut done = 0usize;
        let mut retried = false;
        while done + frame <= data.len() {
            let mut x = XferI {
                result: 0,
                buf: data[done..].as_ptr() as *mut libc::c_void,
                frames: ((data.len() - done) / frame) as libc::c_ulong,
            };
            match ioctl_ptr(fd, uapi::WRITEI_FRAMES, &mut x) {
                Ok(_) => done += x.result.max(0) as usize * frame,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) && !retried => {
                    retried = true;
                    self.recover(fd);
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if self.admit_line() {
                        warn!(
                            "{}: codec buffer full, {} bytes dropped",
                            self.path.display(),
                            data.len() - done
                        );
                    }
                    break;
                }
                Err(e) => return Err(self.err("WRITEI_FRAMES", e)),
            }
        }
        Ok(())
    }

    /// Reads every frame the codec has ready (up to `max` bytes) onto the end of `out`.
    fn read_available(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), PcmError> {
        let (fd, p) = match (&self.fd, &self.params) {
            (Some(fd), Some(p)) => (fd, *p),
            _ => return Err(PcmError::NotOpen),
        };
        let frame = p.frame_bytes().max(1) as usize;
        let mut buf = vec![0u8; max / frame * frame];
        let mut done = 0usize;
        let mut retried = false;
        while done + frame <= buf.len() {
            let mut x = XferI {
                result: 0,
                buf: buf[done..].as_mut_ptr() as *mut libc::c_void,
                frames: ((buf.len() - done) / frame) as libc::c_ulong,
            };
            match ioctl_ptr(fd, uapi::READI_FRAMES, &mut x) {
                Ok(_) if x.result <= 0 => break,
                Ok(_) => done += x.result as usize * frame,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) && !retried => {
                    retried = true;
                    self.recover(fd);
                    if let Err(e) = ioctl_none(fd, uapi::START) {
                        if self.admit_line() {
                            warn!("{}: START after xrun: {e}", self.path.display());
                        }
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => return Err(self.err("READI_FRAMES", e)),
            }
        }
        out.extend_from_slice(&buf[..done]);
        Ok(())
    }

    fn delay_bytes(&self) -> u32 {
        let (Some(fd), Some(p)) = (&self.fd, &self.params) else {
            return 0;
        };
        let mut frames: libc::c_long = 0;
        match ioctl_ptr(fd, uapi::DELAY, &mut frames) {
            Ok(_) => u32::try_from(frames.max(0))
                .unwrap_or(u32::MAX)
                .saturating_mul(p.frame_bytes()),
            Err(_) => 0,
        }
    }

    fn drop_stream(&self) {
        if let Some(fd) = &self.fd {
            if let Err(e) = ioctl_none(fd, uapi::DROP) {
                warn!("{}: DROP: {e}", self.path.display());
            }
        }
    }

    fn close(&mut self) {
        if let Some(fd) = self.fd.take() {
            if let Err(e) = ioctl_none(&fd, uapi::DRAIN) {
                // Non-blocking DRAIN returns EAGAIN while frames remain; DROP then ends it.
                if e.raw_os_error() != Some(libc::EAGAIN) {
                    warn!("{}: DRAIN: {e}", self.path.display());
                }
                let _ = ioctl_none(&fd, uapi::DROP);
            }
            let _ = ioctl_none(&fd, uapi::HW_FREE);
        }
        self.params = None;
    }
}

/// Playback into an ALSA PCM device.
pub struct AlsaPlayback {
    node: Node,
}

impl AlsaPlayback {
    /// Plays into `/dev/snd/pcmC<card>D<device>p`.
    pub fn new(card: u32, device: u32) -> Self {
        Self::with_path(node_path(card, device, false))
    }

    /// Plays into the PCM node at `path`.
    pub fn with_path(path: PathBuf) -> Self {
        Self {
            node: Node::new(path),
        }
    }
}

impl PcmPlayback for AlsaPlayback {
    fn describe(&self) -> String {
        format!("ALSA {}", self.node.path.display())
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        self.node.check(params)
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.node.open(params, true)
    }

    fn start(&mut self) -> Result<(), PcmError> {
        // Periods of silence in front absorb the jitter between the device's clock and the
        // codec's; DELAY reports them, so the guest's latency stays honest.
        let p = self.node.params.ok_or(PcmError::NotOpen)?;
        let mut cushion = vec![0; (CUSHION_PERIODS * p.period_bytes) as usize];
        p.format.fill_silence(&mut cushion);
        self.node.write(&cushion)
    }

    fn write(&mut self, data: &[u8]) -> Result<(), PcmError> {
        self.node.write(data)
    }

    fn delay_bytes(&self) -> u32 {
        self.node.delay_bytes()
    }

    fn stop(&mut self) {
        self.node.drop_stream();
        if let Some(fd) = &self.node.fd {
            let _ = ioctl_none(fd, uapi::PREPARE);
        }
    }

    fn close(&mut self) {
        self.node.close();
    }
}

/// Capture from an ALSA PCM device.
///
/// Frames the codec has ready are collected into a FIFO that runs one period behind the
/// codec (the first period after START is silence), so that the codec's clock jitter
/// against the device's never cuts a buffer short; `delay_bytes` reports the FIFO.
pub struct AlsaCapture {
    node: Node,
    fifo: std::collections::VecDeque<u8>,
    primed: bool,
}

impl AlsaCapture {
    /// Records from `/dev/snd/pcmC<card>D<device>c`.
    pub fn new(card: u32, device: u32) -> Self {
        Self::with_path(node_path(card, device, true))
    }

    /// Records from the PCM node at `path`.
    pub fn with_path(path: PathBuf) -> Self {
        Self {
            node: Node::new(path),
            fifo: std::collections::VecDeque::new(),
            primed: false,
        }
    }
}

impl PcmCapture for AlsaCapture {
    fn describe(&self) -> String {
        format!("ALSA {}", self.node.path.display())
    }

    fn check(&self, params: &PcmParams) -> Result<(), PcmError> {
        self.node.check(params)
    }

    fn open(&mut self, params: &PcmParams) -> Result<(), PcmError> {
        self.node.open(params, false)
    }

    fn start(&mut self) -> Result<(), PcmError> {
        let fd = self.node.fd.as_ref().ok_or(PcmError::NotOpen)?;
        self.fifo.clear();
        self.primed = false;
        ioctl_none(fd, uapi::START).map_err(|e| self.node.err("START", e))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), PcmError> {
        let p = self.node.params.ok_or(PcmError::NotOpen)?;
        // Keep at most one buffer's worth: beyond that the guest is not reading.
        let room = (p.buffer_bytes as usize).saturating_sub(self.fifo.len());
        let mut fresh = Vec::new();
        self.node.read_available(&mut fresh, room.max(buf.len()))?;
        self.fifo.extend(fresh);
        if !self.primed {
            self.primed = true;
            p.format.fill_silence(buf);
            return Ok(());
        }
        let n = buf.len().min(self.fifo.len());
        for (dst, src) in buf.iter_mut().zip(self.fifo.drain(..n)) {
            *dst = src;
        }
        if n < buf.len() {
            if self.node.admit_line() {
                warn!(
                    "{}: codec delivered {} of {} bytes; silence fills the rest",
                    self.node.path.display(),
                    n,
                    buf.len()
                );
            }
            p.format.fill_silence(&mut buf[n..]);
        }
        Ok(())
    }

    fn delay_bytes(&self) -> u32 {
        u32::try_from(self.fifo.len())
            .unwrap_or(u32::MAX)
            .saturating_add(self.node.delay_bytes())
    }

    fn stop(&mut self) {
        self.node.drop_stream();
        if let Some(fd) = &self.node.fd {
            let _ = ioctl_none(fd, uapi::PREPARE);
        }
    }

    fn close(&mut self) {
        self.node.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::pcm::SampleFormat;

    #[test]
    fn xrun_lines_are_bounded_per_pcm() {
        use crate::transport::log_budget::LINES_PER_SECOND;
        let a = Node::new(node_path(0, 0, false));
        let b = Node::new(node_path(0, 1, false));
        let admitted = (0..1000).filter(|_| a.admit_line()).count();
        // All calls fall in one second, or straddle one boundary.
        assert!(admitted <= 2 * LINES_PER_SECOND as usize, "{admitted}");
        assert!(b.admit_line(), "another PCM has its own budget");
    }

    #[test]
    fn node_paths() {
        assert_eq!(node_path(1, 2, false), PathBuf::from("/dev/snd/pcmC1D2p"));
        assert_eq!(node_path(0, 0, true), PathBuf::from("/dev/snd/pcmC0D0c"));
    }

    #[test]
    fn missing_node_is_a_clear_error() {
        let mut p = AlsaPlayback::with_path(PathBuf::from("/nonexistent/pcmC9D9p"));
        let params = PcmParams {
            format: SampleFormat::S16,
            rate: 48000,
            channels: 2,
            period_bytes: 1920,
            buffer_bytes: 7680,
        };
        let e = p.open(&params).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/pcmC9D9p"), "{e}");
        assert!(matches!(p.write(&[0; 4]), Err(PcmError::NotOpen)));
    }
}
