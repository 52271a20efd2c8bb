//! A Linux V4L2 radio receiver (`/dev/radioN`) as a [`Tuner`].
//!
//! Two descriptors on the node: a non-blocking one for queries, controls and the RDS
//! `read()` of `v4l2_rds_data` triples, and a blocking one owned by a worker thread that runs
//! `VIDIOC_S_FREQUENCY` and `VIDIOC_S_HW_FREQ_SEEK` (which blocks until the seek ends, and
//! fails with EAGAIN on a non-blocking descriptor). V4L2 has no way to stop a seek, so a
//! cancelled operation is left to finish on the worker, which then retunes to the frequency
//! the operation started from; the device has already reported it cancelled.

pub mod uapi;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::band::{Band, BAND_AM, BAND_FM};
use super::rds::{RdsBlock, RDS_GROUP_PERIOD};
use crate::wake::Wake;

use super::{Reception, SeekRequest, Tuner, TunerAudio, TunerDescription, TunerError, TunerEvent};
use uapi::*;

/// How often reception (signal, stereo) is re-read while nothing else happens.
const RECEPTION_PERIOD: Duration = Duration::from_secs(1);

/// Frequency units of a V4L2 tuner (from its capability bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// 62.5 kHz.
    Tv,
    /// 62.5 Hz (`V4L2_TUNER_CAP_LOW`).
    Low,
    /// 1 Hz (`V4L2_TUNER_CAP_1HZ`).
    Hz,
}

impl Units {
    /// The units a tuner with `capability` uses.
    pub fn of(capability: u32) -> Self {
        if capability & V4L2_TUNER_CAP_1HZ != 0 {
            Self::Hz
        } else if capability & V4L2_TUNER_CAP_LOW != 0 {
            Self::Low
        } else {
            Self::Tv
        }
    }

    /// kHz to tuner units (rounded to the nearest unit, saturating).
    pub fn from_khz(self, khz: u32) -> u32 {
        let k = u64::from(khz);
        let v = match self {
            Self::Tv => (k * 16 + 500) / 1000,
            Self::Low => k * 16,
            Self::Hz => k * 1000,
        };
        u32::try_from(v).unwrap_or(u32::MAX)
    }

    /// Tuner units to kHz (rounded to the nearest kHz).
    pub fn to_khz(self, units: u32) -> u32 {
        let u = u64::from(units);
        let v = match self {
            Self::Tv => u * 1000 / 16,
            Self::Low => (u + 8) / 16,
            Self::Hz => (u + 500) / 1000,
        };
        u32::try_from(v).unwrap_or(u32::MAX)
    }
}

/// What the worker does.
#[derive(Debug, Clone)]
enum Job {
    Tune(u32),
    /// A hardware seek when the driver has one; a software seek over `channels` (units)
    /// otherwise, or when the hardware seek reports success without moving (vivid's does).
    Seek {
        hw: Option<HwFreqSeek>,
        channels: Vec<u32>,
        min_signal: i32,
        /// The seek should wrap but the hardware cannot: its ENODATA at the edge means
        /// "go on in software", not "nothing found".
        wrap_in_software: bool,
    },
}

/// Time a software seek leaves the tuner on a channel before reading its signal.
const SOFT_SEEK_SETTLE: Duration = Duration::from_millis(15);

/// Runs a seek on the worker; `Ok(found)`.
fn run_seek(
    fd: BorrowedFd<'_>,
    hw: Option<HwFreqSeek>,
    channels: &[u32],
    min_signal: i32,
    start: u32,
    wrap_in_software: bool,
    cancelled: impl Fn() -> bool,
) -> Result<bool, String> {
    if let Some(mut s) = hw {
        match ioctl(fd, VIDIOC_S_HW_FREQ_SEEK, &mut s) {
            // Nothing found: the kernel left the tuner on the start frequency.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) && !wrap_in_software => {
                return Ok(false)
            }
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {
                debug!("radio: hardware seek stopped at the band edge; wrapping in software");
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                debug!("radio: hardware seek refused ({e}); seeking in software");
            }
            Err(e) => return Err(format!("S_HW_FREQ_SEEK: {e}")),
            Ok(()) => {
                let now = get_frequency(fd).map_err(|e| format!("G_FREQUENCY: {e}"))?;
                if now != start {
                    return Ok(true);
                }
                debug!("radio: hardware seek did not move; seeking in software");
            }
        }
    }
    for &ch in channels {
        if cancelled() {
            return Ok(false);
        }
        set_frequency(fd, ch).map_err(|e| format!("S_FREQUENCY: {e}"))?;
        std::thread::sleep(SOFT_SEEK_SETTLE);
        let t = get_tuner(fd).map_err(|e| format!("G_TUNER: {e}"))?;
        if t.signal >= min_signal {
            return Ok(true);
        }
    }
    set_frequency(fd, start).map_err(|e| format!("S_FREQUENCY: {e}"))?;
    Ok(false)
}

struct Command {
    seq: u64,
    job: Job,
    /// Frequency (units) to return to if the operation is cancelled.
    restore: u32,
}

/// (sequence, (frequency units, tuner state, whether a seek found a station)).
type Outcome = (u64, Result<(u32, TunerState, bool), String>);

/// A V4L2 radio tuner (see the module documentation).
pub struct V4l2Tuner {
    path: PathBuf,
    query: File,
    units: Units,
    capability: u32,
    description: TunerDescription,
    bands: Vec<Band>,
    jobs: Sender<Command>,
    outcomes: Receiver<Outcome>,
    waker_slot: Arc<std::sync::Mutex<Option<Arc<dyn Wake>>>>,
    cancelled: Arc<AtomicU64>,
    seq: u64,
    hw_seek: bool,
    pending: Option<(u64, u32)>,
    /// The region band of the pending seek, whose stop must lie in it.
    seek_range: Option<(u32, u32)>,
    freq_khz: u32,
    threshold: u8,
    last: Option<Reception>,
    next_reception: Instant,
    rds_buf: Vec<u8>,
}

fn os(what: &'static str) -> impl FnOnce(std::io::Error) -> TunerError {
    move |source| TunerError::Os { what, source }
}

fn get_tuner(fd: BorrowedFd<'_>) -> std::io::Result<TunerState> {
    let mut t = TunerState::default();
    ioctl(fd, VIDIOC_G_TUNER, &mut t)?;
    Ok(t)
}

fn set_frequency(fd: BorrowedFd<'_>, units: u32) -> std::io::Result<()> {
    let mut f = Frequency {
        kind: V4L2_TUNER_RADIO,
        frequency: units,
        ..Frequency::default()
    };
    ioctl(fd, VIDIOC_S_FREQUENCY, &mut f)
}

fn get_frequency(fd: BorrowedFd<'_>) -> std::io::Result<u32> {
    let mut f = Frequency {
        kind: V4L2_TUNER_RADIO,
        ..Frequency::default()
    };
    ioctl(fd, VIDIOC_G_FREQUENCY, &mut f)?;
    Ok(f.frequency)
}

fn set_control(fd: BorrowedFd<'_>, id: u32, value: i32) -> std::io::Result<()> {
    let mut c = Control { id, value };
    ioctl(fd, VIDIOC_S_CTRL, &mut c)
}

/// Signal 0..=65535 as percent.
fn percent(signal: i32) -> u8 {
    (i64::from(signal.clamp(0, 65535)) * 100 / 65535) as u8
}

fn worker(
    dev: File,
    jobs: Receiver<Command>,
    out: Sender<Outcome>,
    cancelled: Arc<AtomicU64>,
    waker: Arc<std::sync::Mutex<Option<Arc<dyn Wake>>>>,
) {
    for cmd in jobs {
        let fd = dev.as_fd();
        let res = match cmd.job {
            Job::Tune(units) => set_frequency(fd, units)
                .map(|_| true)
                .map_err(|e| format!("S_FREQUENCY: {e}")),
            Job::Seek {
                hw,
                channels,
                min_signal,
                wrap_in_software,
            } => run_seek(
                fd,
                hw,
                &channels,
                min_signal,
                cmd.restore,
                wrap_in_software,
                || cancelled.load(Ordering::Acquire) >= cmd.seq,
            ),
        };
        if cancelled.load(Ordering::Acquire) >= cmd.seq {
            if let Err(e) = set_frequency(fd, cmd.restore) {
                warn!("radio: cannot return to the frequency before a cancelled operation: {e}");
            }
            continue;
        }
        let state = res.and_then(|found| {
            let f = get_frequency(fd).map_err(|e| format!("G_FREQUENCY: {e}"))?;
            let t = get_tuner(fd).map_err(|e| format!("G_TUNER: {e}"))?;
            Ok((f, t, found))
        });
        if out.send((cmd.seq, state)).is_err() {
            return;
        }
        let w = match waker.lock() {
            Ok(w) => w.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

impl V4l2Tuner {
    /// Opens the radio node at `path`; fails unless it is a radio receiver.
    pub fn open(path: &Path, signal_threshold: u8) -> Result<Self, TunerError> {
        let query = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(os("open"))?;
        let fd = query.as_fd();
        let mut cap = Capability::default();
        ioctl(fd, VIDIOC_QUERYCAP, &mut cap).map_err(os("VIDIOC_QUERYCAP"))?;
        let caps = if cap.capabilities & V4L2_CAP_DEVICE_CAPS != 0 {
            cap.device_caps
        } else {
            cap.capabilities
        };
        if caps & V4L2_CAP_RADIO == 0 || caps & V4L2_CAP_TUNER == 0 {
            return Err(TunerError::NotSupported("not a V4L2 radio receiver"));
        }
        let t = get_tuner(fd).map_err(os("VIDIOC_G_TUNER"))?;
        if t.kind != V4L2_TUNER_RADIO {
            return Err(TunerError::NotSupported("tuner 0 is not a radio tuner"));
        }
        let units = Units::of(t.capability);
        let mut bands = Vec::new();
        if t.capability & V4L2_TUNER_CAP_FREQ_BANDS != 0 {
            for index in 0..16 {
                let mut b = FrequencyBand {
                    kind: V4L2_TUNER_RADIO,
                    index,
                    ..FrequencyBand::default()
                };
                if ioctl(fd, VIDIOC_ENUM_FREQ_BANDS, &mut b).is_err() {
                    break;
                }
                // Band ranges are in the units of the band's own capability.
                let u = Units::of(b.capability);
                let kind = if b.modulation & V4L2_BAND_MODULATION_FM != 0 {
                    BAND_FM
                } else if b.modulation & V4L2_BAND_MODULATION_AM != 0 {
                    BAND_AM
                } else {
                    continue;
                };
                bands.push(range_band(
                    kind,
                    u.to_khz(b.rangelow),
                    u.to_khz(b.rangehigh),
                ));
            }
        }
        if bands.is_empty() {
            let (lo, hi) = (units.to_khz(t.rangelow), units.to_khz(t.rangehigh));
            bands.push(range_band(
                if lo >= 30_000 { BAND_FM } else { BAND_AM },
                lo,
                hi,
            ));
        }
        let rds = t.capability & V4L2_TUNER_CAP_RDS != 0
            && t.capability & V4L2_TUNER_CAP_RDS_BLOCK_IO != 0
            && caps & V4L2_CAP_READWRITE != 0;
        let description = TunerDescription {
            maker: c_str(&cap.driver),
            product: c_str(&cap.card),
            version: format!(
                "{}.{}.{}",
                cap.version >> 16,
                (cap.version >> 8) & 0xFF,
                cap.version & 0xFF
            ),
            serial: c_str(&cap.bus_info),
            rds,
            stereo: t.capability & V4L2_TUNER_CAP_STEREO != 0,
            // Without a hardware seek the backend seeks in software.
            seek: true,
        };
        let hw_seek = caps & V4L2_CAP_HW_FREQ_SEEK != 0;
        let freq_khz = units.to_khz(get_frequency(fd).map_err(os("VIDIOC_G_FREQUENCY"))?);
        let blocking = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(os("open"))?;
        let (jobs, job_rx) = mpsc::channel();
        let (out_tx, outcomes) = mpsc::channel();
        let cancelled = Arc::new(AtomicU64::new(0));
        let waker_slot: Arc<std::sync::Mutex<Option<Arc<dyn Wake>>>> =
            Arc::new(std::sync::Mutex::new(None));
        let (c, w) = (cancelled.clone(), waker_slot.clone());
        std::thread::Builder::new()
            .name("radio-v4l2".into())
            .spawn(move || {
                crate::thread_role::enter(crate::thread_role::ThreadRole::TunerWorker);
                worker(blocking, job_rx, out_tx, c, w)
            })
            .map_err(os("spawn tuner worker"))?;
        debug!(
            "radio: {} is \"{}\" ({}), bands {bands:?}",
            path.display(),
            description.product,
            description.maker
        );
        Ok(Self {
            path: path.to_owned(),
            query,
            units,
            capability: t.capability,
            description,
            bands,
            jobs,
            outcomes,
            waker_slot,
            cancelled,
            seq: 0,
            hw_seek,
            pending: None,
            seek_range: None,
            freq_khz,
            threshold: signal_threshold,
            last: None,
            next_reception: Instant::now(),
            rds_buf: vec![0; 3 * 64],
        })
    }

    fn reception_from(&self, units: u32, t: &TunerState) -> Reception {
        let signal = percent(t.signal);
        Reception {
            frequency_khz: self.units.to_khz(units),
            signal,
            stereo: t.rxsubchans & V4L2_TUNER_SUB_STEREO != 0,
            tunable: signal >= self.threshold,
        }
    }

    fn submit(&mut self, job: Job) -> Result<(), TunerError> {
        self.seq += 1;
        let cmd = Command {
            seq: self.seq,
            job,
            restore: self.units.from_khz(self.freq_khz),
        };
        self.jobs.send(cmd).map_err(|_| TunerError::WorkerGone)?;
        self.pending = Some((self.seq, self.freq_khz));
        self.mute(true);
        Ok(())
    }

    fn mute(&self, on: bool) {
        // Not every receiver has the control; audio then simply stays as the hardware has it.
        if let Err(e) = set_control(self.query.as_fd(), V4L2_CID_AUDIO_MUTE, on.into()) {
            debug!("radio: {}: AUDIO_MUTE: {e}", self.path.display());
        }
    }

    fn read_rds(&mut self) -> Vec<RdsBlock> {
        let mut blocks = Vec::new();
        loop {
            match (&self.query).read(&mut self.rds_buf) {
                Ok(0) => break,
                Ok(n) => {
                    blocks.extend(
                        self.rds_buf[..n - n % 3]
                            .chunks_exact(3)
                            .map(|c| RdsBlock::from_v4l2([c[0], c[1], c[2]])),
                    );
                    if n < self.rds_buf.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("radio: {}: RDS read: {e}", self.path.display());
                    break;
                }
            }
        }
        blocks
    }
}

fn range_band(kind: u8, low_khz: u32, high_khz: u32) -> Band {
    Band {
        kind,
        low_khz,
        high_khz,
        spacing_khz: 1,
        seek_spacing_khz: 0,
    }
}

impl Tuner for V4l2Tuner {
    fn description(&self) -> TunerDescription {
        self.description.clone()
    }

    fn hardware_bands(&self) -> Vec<Band> {
        self.bands.clone()
    }

    fn set_waker(&mut self, waker: Arc<dyn Wake>) {
        match self.waker_slot.lock() {
            Ok(mut w) => *w = Some(waker),
            Err(p) => *p.into_inner() = Some(waker),
        }
    }

    fn tune(&mut self, khz: u32, _now: Instant) -> Result<(), TunerError> {
        if !self
            .bands
            .iter()
            .any(|b| (b.low_khz..=b.high_khz).contains(&khz))
        {
            return Err(TunerError::OutOfRange(khz));
        }
        self.submit(Job::Tune(self.units.from_khz(khz)))
    }

    fn seek(&mut self, seek: SeekRequest, _now: Instant) -> Result<(), TunerError> {
        let grid = if seek.band.seek_spacing_khz != 0 {
            seek.band.seek_spacing_khz
        } else {
            seek.band.spacing_khz
        };
        let hw = self.hw_seek.then(|| {
            let mut s = HwFreqSeek {
                kind: V4L2_TUNER_RADIO,
                seek_upward: seek.up.into(),
                wrap_around: (seek.wrap && self.capability & V4L2_TUNER_CAP_HWSEEK_WRAP != 0)
                    .into(),
                spacing: u32::from(grid) * 1000,
                ..HwFreqSeek::default()
            };
            // Without PROG_LIM a driver only accepts its own band edges (or 0 for "the band
            // of the current frequency"); a stop outside the region is undone in poll().
            if self.capability & V4L2_TUNER_CAP_HWSEEK_PROG_LIM != 0 {
                s.rangelow = self.units.from_khz(seek.band.low_khz);
                s.rangehigh = self.units.from_khz(seek.band.high_khz);
            }
            s
        });
        let channels = super::seek_channels(&seek)
            .into_iter()
            .map(|k| self.units.from_khz(k))
            .collect();
        let from = self.units.from_khz(seek.from_khz);
        if self.units.to_khz(from) != self.freq_khz {
            set_frequency(self.query.as_fd(), from).map_err(os("VIDIOC_S_FREQUENCY"))?;
            self.freq_khz = seek.from_khz;
        }
        self.seek_range = Some((seek.band.low_khz, seek.band.high_khz));
        let min_signal = i32::from(self.threshold) * 65535 / 100;
        self.submit(Job::Seek {
            hw,
            channels,
            min_signal,
            wrap_in_software: seek.wrap && self.capability & V4L2_TUNER_CAP_HWSEEK_WRAP == 0,
        })
    }

    fn cancel(&mut self, _now: Instant) -> u32 {
        if let Some((seq, from)) = self.pending.take() {
            self.cancelled.store(seq, Ordering::Release);
            self.freq_khz = from;
            self.mute(false);
        }
        self.freq_khz
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<TunerEvent>) -> Option<Instant> {
        while let Ok((seq, res)) = self.outcomes.try_recv() {
            if self.pending.map(|p| p.0) != Some(seq) {
                continue;
            }
            let Some((_, from)) = self.pending.take() else {
                continue;
            };
            match res {
                Ok((mut units, mut t, mut found)) => {
                    let khz = self.units.to_khz(units);
                    if let Some((lo, hi)) = self.seek_range.take() {
                        if found && !(lo..=hi).contains(&khz) {
                            // The hardware's band is wider than the region: nothing found.
                            let fd = self.query.as_fd();
                            let back = self.units.from_khz(from);
                            match set_frequency(fd, back).and_then(|_| get_tuner(fd)) {
                                Ok(state) => (units, t, found) = (back, state, false),
                                Err(e) => {
                                    out.push(TunerEvent::Done(Err(format!("S_FREQUENCY: {e}"))));
                                    continue;
                                }
                            }
                        }
                    }
                    let mut r = self.reception_from(units, &t);
                    r.tunable &= found;
                    self.freq_khz = r.frequency_khz;
                    self.mute(!r.tunable);
                    self.last = Some(r);
                    self.next_reception = now + RECEPTION_PERIOD;
                    // Blocks still buffered are from before the retune.
                    let _ = self.read_rds();
                    out.push(TunerEvent::Done(Ok(r)));
                }
                Err(e) => out.push(TunerEvent::Done(Err(e))),
            }
        }
        if self.pending.is_some() {
            return None;
        }
        if self.description.rds {
            let blocks = self.read_rds();
            if !blocks.is_empty() {
                out.push(TunerEvent::Rds(blocks));
            }
        }
        if now >= self.next_reception {
            self.next_reception = now + RECEPTION_PERIOD;
            let fd = self.query.as_fd();
            if let (Ok(units), Ok(t)) = (get_frequency(fd), get_tuner(fd)) {
                let r = self.reception_from(units, &t);
                if self.last != Some(r) {
                    self.last = Some(r);
                    out.push(TunerEvent::Reception(r));
                }
            }
        }
        Some(if self.description.rds {
            now + RDS_GROUP_PERIOD
        } else {
            self.next_reception
        })
    }

    fn set_force_mono(&mut self, mono: bool) -> Result<(), TunerError> {
        let fd = self.query.as_fd();
        let mut t = get_tuner(fd).map_err(os("VIDIOC_G_TUNER"))?;
        t.audmode = if mono {
            V4L2_TUNER_MODE_MONO
        } else {
            V4L2_TUNER_MODE_STEREO
        };
        ioctl(fd, VIDIOC_S_TUNER, &mut t).map_err(os("VIDIOC_S_TUNER"))
    }

    fn signal_threshold(&self) -> u8 {
        self.threshold
    }

    fn set_signal_threshold(&mut self, percent: u8) {
        self.threshold = percent;
    }

    fn set_volume(&mut self, percent: u8) -> Result<(), TunerError> {
        let fd = self.query.as_fd();
        let mut c = QueryCtrl::volume();
        // The control's range is the driver's; scale the percentage into it.
        let value = match ioctl(fd, VIDIOC_QUERYCTRL, &mut c) {
            Ok(()) => {
                c.minimum + (i64::from(c.maximum - c.minimum) * i64::from(percent) / 100) as i32
            }
            Err(_) => i32::from(percent),
        };
        set_control(fd, V4L2_CID_AUDIO_VOLUME, value).map_err(os("VIDIOC_S_CTRL volume"))
    }

    fn audio(&self) -> Option<Arc<TunerAudio>> {
        None
    }

    fn reset(&mut self) {
        let now = Instant::now();
        self.cancel(now);
        self.last = None;
        let _ = self.set_force_mono(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_both_ways_for_every_tuner_kind() {
        assert_eq!(Units::of(0), Units::Tv);
        assert_eq!(Units::of(V4L2_TUNER_CAP_LOW), Units::Low);
        assert_eq!(
            Units::of(V4L2_TUNER_CAP_LOW | V4L2_TUNER_CAP_1HZ),
            Units::Hz
        );
        // 87.5 MHz: 1400 × 62.5 kHz, 1 400 000 × 62.5 Hz, 87 500 000 Hz.
        assert_eq!(Units::Tv.from_khz(87_500), 1400);
        assert_eq!(Units::Low.from_khz(87_500), 1_400_000);
        assert_eq!(Units::Hz.from_khz(87_500), 87_500_000);
        for u in [Units::Low, Units::Hz] {
            for khz in [531, 1602, 87_500, 98_700, 108_000] {
                assert_eq!(u.to_khz(u.from_khz(khz)), khz, "{u:?}");
            }
        }
        assert_eq!(Units::Tv.to_khz(1400), 87_500);
        assert_eq!(Units::Hz.from_khz(u32::MAX), u32::MAX, "saturates");
    }

    #[test]
    fn signal_scales_to_percent() {
        assert_eq!(percent(0), 0);
        assert_eq!(percent(65535), 100);
        assert_eq!(percent(32768), 50);
        assert_eq!(percent(-5), 0);
        assert_eq!(percent(70000), 100);
    }

    #[test]
    fn opening_something_that_is_not_a_radio_fails_cleanly() {
        assert!(V4l2Tuner::open(Path::new("/dev/null"), 20).is_err());
        assert!(V4l2Tuner::open(Path::new("/nonexistent/radio0"), 20).is_err());
    }
}
