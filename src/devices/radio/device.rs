//! The virtio-radio device model (docs/virtio-radio.md) over a [`Tuner`]: control requests
//! validated and answered, one tune/seek/step at a time completing asynchronously with a
//! TUNE_COMPLETE event, CANCEL, RDS decoded into PROGRAM_INFO_CHANGED events while tuned,
//! and raw RDS_BLOCKS events when the driver asks for them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::devices::{Completer, Request, VirtioDevice, Wake};
use crate::hw::tuner::{Reception, SeekRequest, Tuner, TunerEvent};
use crate::status::{RadioBand, RadioCell, RadioDetail, RdsDetail};

use super::constants::*;
use super::events::EventQueue;
#[cfg(test)]
use super::events::MAX_HELD_BUFFERS;
use super::rds::RdsDecoder;
use super::wire::*;

/// Vendor parameter: signal strength (percent) from which a frequency is a station.
pub const PARAM_SIGNAL_THRESHOLD: &str = "com.drivervm.signal_threshold";
/// Vendor parameter: audio volume, percent.
pub const PARAM_VOLUME: &str = "com.drivervm.volume";

/// Queue sizes offered for controlq and eventq.
const QUEUE_SIZES: [u16; NUM_QUEUES] = [256, 256];

/// Largest device-readable request (SET_PARAMETER), rounded up.
const MAX_REQUEST: usize = 256;
/// Most writable bytes accepted per buffer on either queue: a page, above every response
/// and event (checked below), so drivers that post page-sized buffers are served.
const MAX_WRITABLE: usize = 4096;
const _: () = assert!(
    RespHeader::SIZE + RegionConfig::MAX_SIZE <= MAX_WRITABLE
        && RespHeader::SIZE + Properties::SIZE <= MAX_WRITABLE
        && RespHeader::SIZE + ProgramInfo::SIZE <= MAX_WRITABLE
        && RespHeader::SIZE + Parameter::SIZE <= MAX_WRITABLE
);

/// Most TUNE_COMPLETE events waiting for buffers before new operations are answered BUSY.
const MAX_WAITING_COMPLETIONS: usize = 4;

/// How the device presents its tuner (from config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadioSettings {
    /// Virtio device ID (§1; 56 unless configured).
    pub device_id: u32,
    /// The region's bands (also the configuration space's bands).
    pub bands: Vec<Band>,
    /// The region's FM de-emphasis: `DEEMPHASIS_D50` or `DEEMPHASIS_D75`.
    pub fm_deemphasis: u8,
    /// virtio-snd stream carrying the tuner's audio, or `SND_ID_NONE`.
    pub snd_stream_id: u32,
    /// Its `hda_fn_nid`.
    pub snd_hda_fn_nid: u32,
    /// virtio-snd jack of the tuner input, or `SND_ID_NONE`.
    pub snd_jack_id: u32,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    op_id: u32,
    from_khz: u32,
    deadline: Instant,
}

/// The virtio-radio device (see the module documentation).
pub struct RadioDevice {
    name: String,
    settings: RadioSettings,
    tuner: Box<dyn Tuner>,
    config: ConfigSpace,
    properties: Properties,
    seek: bool,
    rds_blocks: bool,
    events: EventQueue,
    pending: Option<Pending>,
    last_op: u32,
    current: Option<ProgramInfo>,
    reception: Option<Reception>,
    decoder: RdsDecoder,
    force_mono: bool,
    volume: u8,
    /// The filter of the program list sweep running now.
    sweep: Option<ProgramFilter>,
    /// A START_PROGRAM_LIST that waits for the pending operation to finish.
    sweep_after_op: Option<ProgramFilter>,
    status: Arc<RadioCell>,
    scratch: Vec<TunerEvent>,
}

impl RadioDevice {
    /// A device named `name` presenting `tuner` as `settings` describe.
    pub fn new(name: impl Into<String>, settings: RadioSettings, tuner: Box<dyn Tuner>) -> Self {
        let d = tuner.description();
        let mut caps = 0;
        if d.rds {
            caps |= CAP_RDS;
        }
        if d.stereo {
            caps |= CAP_STEREO;
        }
        if d.seek {
            caps |= CAP_SEEK;
        }
        if tuner.can_scan() {
            caps |= CAP_PROGRAM_LIST;
        }
        let config = ConfigSpace {
            capabilities: caps,
            config_flags: 1 << FLAG_FORCE_MONO,
            num_antennas: 1,
            antenna_connected: 1,
            snd_stream_id: settings.snd_stream_id,
            snd_hda_fn_nid: settings.snd_hda_fn_nid,
            snd_jack_id: settings.snd_jack_id,
            bands: settings.bands.iter().take(MAX_BANDS).copied().collect(),
        };
        let properties = Properties::new(
            &d.maker,
            &d.product,
            &d.version,
            &d.serial,
            1 << ID_AMFM_FREQUENCY_KHZ,
            caps,
        );
        Self {
            name: name.into(),
            settings,
            tuner,
            config,
            properties,
            seek: d.seek,
            rds_blocks: false,
            events: EventQueue::default(),
            pending: None,
            last_op: 0,
            current: None,
            reception: None,
            decoder: RdsDecoder::new(),
            force_mono: false,
            volume: 100,
            sweep: None,
            sweep_after_op: None,
            status: Arc::new(RadioCell::new()),
            scratch: Vec::new(),
        }
    }

    /// What the device publishes for the control plane (tuned program and RDS).
    pub fn status(&self) -> Arc<RadioCell> {
        self.status.clone()
    }

    /// Publishes the current program to the control plane.
    fn publish_status(&self) {
        let detail = match &self.current {
            None => RadioDetail {
                band: RadioBand::Fm,
                frequency_khz: 0,
                signal_percent: 0,
                stereo: false,
                rds: None,
            },
            Some(i) => RadioDetail {
                band: match self.bands().get(usize::from(i.band)).map(|b| b.kind) {
                    Some(BAND_AM) => RadioBand::Am,
                    _ => RadioBand::Fm,
                },
                frequency_khz: i.frequency_khz,
                signal_percent: i.signal_quality,
                stereo: i.info_flags & INFO_STEREO != 0,
                rds: (i.rds_fields & RDS_PI != 0).then(|| RdsDetail {
                    pi: i.pi,
                    ps: if i.rds_fields & RDS_PS != 0 {
                        super::charset::decode(&i.ps).trim_end().to_string()
                    } else {
                        String::new()
                    },
                    rt: if i.rds_fields & RDS_RT != 0 {
                        super::charset::decode(&i.rt)
                    } else {
                        String::new()
                    },
                    pty: if i.rds_fields & RDS_PTY != 0 {
                        i.pty
                    } else {
                        0
                    },
                }),
            },
        };
        self.status.update(detail);
    }

    /// The tuned station's audio, when the tuner produces it in software (the sim).
    pub fn audio(&self) -> Option<Arc<crate::hw::tuner::TunerAudio>> {
        self.tuner.audio()
    }

    /// The bands of the region in force.
    fn bands(&self) -> &[Band] {
        &self.config.bands
    }

    fn band_of(&self, khz: u32) -> Option<usize> {
        self.bands().iter().position(|b| b.contains(khz))
    }

    fn busy(&self) -> bool {
        self.pending.is_some() || self.events.tune_completes_waiting() >= MAX_WAITING_COMPLETIONS
    }

    fn next_op_id(&mut self) -> u32 {
        self.last_op = if self.last_op == u32::MAX {
            1
        } else {
            self.last_op + 1
        };
        self.last_op
    }

    /// Where a seek or step starts: the tuned frequency, or before any tune the lowest (up)
    /// or highest (down) channel of the first band.
    fn start_point(&self, up: bool) -> Option<(u32, Band)> {
        if let Some(info) = &self.current {
            let b = self.band_of(info.frequency_khz)?;
            return Some((info.frequency_khz, self.bands()[b]));
        }
        let b = *self.bands().first()?;
        Some((if up { b.low_khz } else { top_channel(&b) }, b))
    }

    fn info_from(&self, r: &Reception) -> ProgramInfo {
        let mut info = ProgramInfo::new(r.frequency_khz);
        info.band = self.band_of(r.frequency_khz).unwrap_or(0) as u8;
        info.signal_quality = r.signal.min(100);
        if r.tunable {
            info.info_flags |= INFO_LIVE | INFO_TUNABLE;
        } else {
            info.info_flags |= INFO_MUTED;
        }
        if r.tunable && r.stereo && !self.force_mono {
            info.info_flags |= INFO_STEREO;
        }
        info
    }

    fn start(&mut self, now: Instant, run: impl FnOnce(&mut dyn Tuner) -> bool) -> Response {
        // The user wins over a foreground sweep: it ends with what it found (nothing yet).
        if self.sweep.is_some() {
            self.end_sweep(now);
            self.events.push(Event::ProgramListUpdate {
                flags: LIST_F_COMPLETE,
                entry: ProgramInfo::new(0),
            });
        }
        let from_khz = self.current.as_ref().map_or(0, |i| i.frequency_khz);
        if !run(self.tuner.as_mut()) {
            return Response::status(S_INTERNAL_ERROR);
        }
        let op_id = self.next_op_id();
        self.pending = Some(Pending {
            op_id,
            from_khz,
            deadline: now + Duration::from_millis(TUNER_TIMEOUT_MS),
        });
        debug!("{}: operation {op_id} started", self.name);
        Response::ok(ResponseBody::Op(OpResponse { op_id }))
    }

    fn tune(&mut self, sel: &Selector, now: Instant) -> Response {
        let Some(khz) = sel.frequency_khz() else {
            // RDS PI selection needs a program list, which this device does not build.
            return Response::status(S_NOT_SUPPORTED);
        };
        if self.band_of(khz).is_none() {
            return Response::status(S_INVALID_ARGUMENTS);
        }
        if self.busy() {
            return Response::status(S_BUSY);
        }
        let name = self.name.clone();
        self.start(now, |t| match t.tune(khz, now) {
            Ok(()) => true,
            Err(e) => {
                warn!("{name}: tune to {khz} kHz: {e}");
                false
            }
        })
    }

    fn seek(&mut self, flags: u32, spacing_khz: u16, now: Instant) -> Response {
        if !self.seek {
            return Response::status(S_NOT_SUPPORTED);
        }
        let up = flags & SEEK_F_UP != 0;
        let Some((from_khz, mut band)) = self.start_point(up) else {
            return Response::status(S_INTERNAL_ERROR);
        };
        // A requested grid must be whole channels of the band the seek runs in (§6.4.4).
        if spacing_khz != 0 {
            if band.spacing_khz == 0 || spacing_khz % band.spacing_khz != 0 {
                return Response::status(S_INVALID_ARGUMENTS);
            }
            band.seek_spacing_khz = spacing_khz;
        }
        if self.busy() {
            return Response::status(S_BUSY);
        }
        let req = SeekRequest {
            from_khz,
            up,
            wrap: flags & SEEK_F_NO_WRAP == 0,
            band,
        };
        let name = self.name.clone();
        self.start(now, |t| match t.seek(req, now) {
            Ok(()) => true,
            Err(e) => {
                warn!("{name}: seek: {e}");
                false
            }
        })
    }

    fn step(&mut self, flags: u32, now: Instant) -> Response {
        if self.busy() {
            return Response::status(S_BUSY);
        }
        let up = flags & STEP_F_UP != 0;
        let Some((from, b)) = self.start_point(up) else {
            return Response::status(S_INTERNAL_ERROR);
        };
        let spacing = u32::from(b.spacing_khz);
        let to = if up {
            match from.checked_add(spacing) {
                Some(n) if n <= b.high_khz => n,
                _ => b.low_khz,
            }
        } else {
            match from.checked_sub(spacing) {
                Some(n) if n >= b.low_khz => n,
                _ => top_channel(&b),
            }
        };
        let name = self.name.clone();
        self.start(now, |t| match t.tune(to, now) {
            Ok(()) => true,
            Err(e) => {
                warn!("{name}: step to {to} kHz: {e}");
                false
            }
        })
    }

    /// The program now tuned after an operation that did not complete.
    fn fallback_info(&mut self, khz: u32) -> ProgramInfo {
        match &self.current {
            Some(i) if i.frequency_khz == khz => i.clone(),
            _ => {
                let mut info = ProgramInfo::new(khz);
                info.band = self.band_of(khz).unwrap_or(0) as u8;
                info.info_flags = INFO_MUTED;
                info
            }
        }
    }

    fn end_pending(&mut self, status: u32, now: Instant) -> u32 {
        let Some(p) = self.pending.take() else {
            return 0;
        };
        let khz = self.tuner.cancel(now);
        let khz = if khz == 0 { p.from_khz } else { khz };
        let info = self.fallback_info(khz);
        self.events.push(Event::TuneComplete {
            op_id: p.op_id,
            status,
            info,
        });
        debug!(
            "{}: operation {} ended with status {status}",
            self.name, p.op_id
        );
        p.op_id
    }

    /// Stops the sweep running now and unmutes the program it interrupted.
    fn end_sweep(&mut self, now: Instant) {
        if self.sweep.take().is_some() {
            self.tuner.cancel_scan(now);
            self.set_sweep_mute(false);
        }
    }

    /// Marks the current program muted (or not) for a sweep and reports it.
    fn set_sweep_mute(&mut self, muted: bool) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        let tunable = cur.info_flags & INFO_TUNABLE != 0;
        if muted {
            cur.info_flags |= INFO_MUTED;
        } else if tunable {
            cur.info_flags &= !INFO_MUTED;
        }
        let info = cur.clone();
        self.events.push(Event::ProgramInfoChanged(info));
    }

    fn start_sweep(&mut self, filter: ProgramFilter, now: Instant) -> Response {
        let bands = self.bands().to_vec();
        if let Err(e) = self.tuner.scan(&bands, now) {
            warn!("{}: program list sweep: {e}", self.name);
            return Response::status(S_INTERNAL_ERROR);
        }
        self.sweep = Some(filter);
        self.events.push(Event::ProgramListUpdate {
            flags: LIST_F_PURGE,
            entry: ProgramInfo::new(0),
        });
        self.set_sweep_mute(true);
        Response::ok(ResponseBody::None)
    }

    fn sweep_done(&mut self, found: Vec<Reception>) {
        let Some(filter) = self.sweep.take() else {
            return;
        };
        self.set_sweep_mute(false);
        // Entries carry AMFM_FREQUENCY_KHZ only (no PI without listening to each program).
        let keep = filter.identifier_types == 0
            || filter.identifier_types & (1 << ID_AMFM_FREQUENCY_KHZ) != 0;
        let entries: Vec<ProgramInfo> = if keep {
            found
                .iter()
                .filter(|r| self.band_of(r.frequency_khz).is_some())
                .map(|r| self.info_from(r))
                .collect()
        } else {
            Vec::new()
        };
        if entries.is_empty() {
            self.events.push(Event::ProgramListUpdate {
                flags: LIST_F_COMPLETE,
                entry: ProgramInfo::new(0),
            });
        }
        let n = entries.len();
        for (i, entry) in entries.into_iter().enumerate() {
            let last = if i + 1 == n { LIST_F_COMPLETE } else { 0 };
            self.events.push(Event::ProgramListUpdate {
                flags: LIST_F_ENTRY | last,
                entry,
            });
        }
    }

    fn parameter(&self, key: &str) -> Option<String> {
        match key {
            PARAM_SIGNAL_THRESHOLD => Some(self.tuner.signal_threshold().to_string()),
            PARAM_VOLUME => Some(self.volume.to_string()),
            _ => None,
        }
    }

    fn set_parameter(&mut self, p: &Parameter) -> Response {
        if p.key != PARAM_SIGNAL_THRESHOLD && p.key != PARAM_VOLUME {
            return Response::status(S_NOT_SUPPORTED);
        }
        let Some(v) = p.value.parse::<u8>().ok().filter(|v| *v <= 100) else {
            return Response::status(S_INVALID_ARGUMENTS);
        };
        if p.key == PARAM_VOLUME {
            if let Err(e) = self.tuner.set_volume(v) {
                warn!("{}: volume: {e}", self.name);
                return Response::status(S_INTERNAL_ERROR);
            }
            self.volume = v;
        } else {
            self.tuner.set_signal_threshold(v);
        }
        Response::ok(ResponseBody::None)
    }

    /// Answers one control request; `writable_len` is the size of its response buffer.
    pub fn control(&mut self, data: &[u8], writable_len: usize, now: Instant) -> Response {
        let req = match ControlRequest::parse(data) {
            Ok(r) => r,
            Err(e) => {
                debug!("{}: bad request: {e}", self.name);
                return Response::status(e.status());
            }
        };
        if writable_len < req.response_len() {
            return Response::status(S_BAD_MSG);
        }
        match req {
            ControlRequest::GetProperties => {
                Response::ok(ResponseBody::Properties(self.properties.clone()))
            }
            ControlRequest::GetBands(g) => {
                let rds = if self.config.capabilities & CAP_RDS != 0 {
                    FM_RDS
                } else {
                    0
                };
                Response::ok(ResponseBody::Region(RegionConfig {
                    fm_deemphasis: if g.full {
                        DEEMPHASIS_D50 | DEEMPHASIS_D75
                    } else {
                        self.settings.fm_deemphasis
                    },
                    fm_rds: rds,
                    bands: self.bands().to_vec(),
                }))
            }
            ControlRequest::Tune(sel) => self.tune(&sel, now),
            ControlRequest::Seek(a) => self.seek(a.flags, a.spacing_khz, now),
            ControlRequest::Step(a) => self.step(a.flags, now),
            ControlRequest::Cancel => {
                let op_id = self.end_pending(S_CANCELLED, now);
                Response::ok(ResponseBody::Op(OpResponse { op_id }))
            }
            ControlRequest::GetProgramInfo => match &self.current {
                Some(i) => Response::ok(ResponseBody::ProgramInfo(i.clone())),
                None => Response::status(S_INVALID_STATE),
            },
            ControlRequest::GetConfigFlag(f) => {
                if f.flag != FLAG_FORCE_MONO {
                    return Response::status(S_NOT_SUPPORTED);
                }
                Response::ok(ResponseBody::ConfigFlag(ConfigFlagArgs {
                    flag: f.flag,
                    value: self.force_mono,
                }))
            }
            ControlRequest::SetConfigFlag(f) => {
                if f.flag != FLAG_FORCE_MONO {
                    return Response::status(S_NOT_SUPPORTED);
                }
                if let Err(e) = self.tuner.set_force_mono(f.value) {
                    warn!("{}: force mono: {e}", self.name);
                    return Response::status(S_INTERNAL_ERROR);
                }
                self.force_mono = f.value;
                if let (Some(r), None) = (self.reception, self.pending) {
                    self.publish_reception(r);
                }
                Response::ok(ResponseBody::None)
            }
            ControlRequest::GetParameter(key) => match self.parameter(&key) {
                Some(value) => Response::ok(ResponseBody::Parameter(Parameter { key, value })),
                None => Response::status(S_NOT_SUPPORTED),
            },
            ControlRequest::SetParameter(p) => self.set_parameter(&p),
            ControlRequest::StartProgramList(_) | ControlRequest::StopProgramList
                if self.config.capabilities & CAP_PROGRAM_LIST == 0 =>
            {
                Response::status(S_NOT_SUPPORTED)
            }
            ControlRequest::StartProgramList(filter) => {
                self.end_sweep(now);
                if self.pending.is_some() {
                    self.sweep_after_op = Some(filter);
                    return Response::ok(ResponseBody::None);
                }
                self.start_sweep(filter, now)
            }
            ControlRequest::StopProgramList => {
                self.sweep_after_op = None;
                self.end_sweep(now);
                Response::ok(ResponseBody::None)
            }
        }
    }

    /// Applies a new reception to the current program; reports it if it changed visibly
    /// (flags, or signal by 5 points or more).
    fn publish_reception(&mut self, r: Reception) {
        self.reception = Some(r);
        let Some(cur) = &self.current else {
            return;
        };
        let fresh = self.info_from(&r);
        let keep = INFO_TRAFFIC_PROGRAM | INFO_TRAFFIC_ANNOUNCEMENT;
        let flags = (cur.info_flags & keep) | fresh.info_flags;
        let moved = cur.signal_quality.abs_diff(fresh.signal_quality) >= 5;
        if flags == cur.info_flags && !moved {
            return;
        }
        let mut info = cur.clone();
        info.info_flags = flags;
        if moved {
            info.signal_quality = fresh.signal_quality;
        }
        self.current = Some(info.clone());
        self.events.push(Event::ProgramInfoChanged(info));
    }

    fn on_tuner_event(&mut self, ev: TunerEvent) {
        match ev {
            TunerEvent::Done(result) => {
                let Some(p) = self.pending.take() else {
                    return;
                };
                self.decoder.reset();
                let (status, info) = match result {
                    Ok(r) => {
                        self.reception = Some(r);
                        let info = self.info_from(&r);
                        self.current = Some(info.clone());
                        (S_OK, info)
                    }
                    Err(e) => {
                        warn!("{}: operation {} failed: {e}", self.name, p.op_id);
                        (S_INTERNAL_ERROR, self.fallback_info(p.from_khz))
                    }
                };
                self.events.push(Event::TuneComplete {
                    op_id: p.op_id,
                    status,
                    info,
                });
            }
            TunerEvent::Rds(blocks) => {
                if self.pending.is_some() || self.sweep.is_some() || self.current.is_none() {
                    return;
                }
                if self.rds_blocks {
                    for chunk in blocks.chunks(RDS_BLOCKS_MAX) {
                        self.events.push(Event::RdsBlocks(
                            chunk.iter().map(|b| b.to_v4l2()).collect(),
                        ));
                    }
                }
                let mut changed = false;
                for b in blocks {
                    changed |= !self.decoder.push(b).is_empty();
                }
                if changed {
                    if let Some(info) = self.current.as_mut() {
                        self.decoder.state().apply_to(info);
                        let info = info.clone();
                        self.events.push(Event::ProgramInfoChanged(info));
                    }
                }
            }
            TunerEvent::Reception(r) => {
                if self.pending.is_none() && self.sweep.is_none() {
                    self.publish_reception(r);
                }
            }
            TunerEvent::ScanDone(found) => self.sweep_done(found),
        }
    }
}

/// The highest channel of a band's grid.
fn top_channel(b: &Band) -> u32 {
    let spacing = u32::from(b.spacing_khz).max(1);
    b.low_khz + (b.high_khz - b.low_khz) / spacing * spacing
}

impl VirtioDevice for RadioDevice {
    fn device_type(&self) -> u32 {
        self.settings.device_id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &QUEUE_SIZES
    }

    fn features(&self) -> u64 {
        if self.config.capabilities & CAP_RDS != 0 {
            1 << VIRTIO_RADIO_F_RDS_BLOCKS
        } else {
            0
        }
    }

    fn config_too_small(&self, frontend_len: usize) -> Option<String> {
        let need = ConfigSpace::SIZE;
        (frontend_len < need).then(|| format!("virtio-radio needs {need} bytes"))
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        let space = self.config.to_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = offset
                .checked_add(i)
                .and_then(|o| space.get(o))
                .copied()
                .unwrap_or(0);
        }
    }

    fn activate(&mut self, features: u64, waker: Arc<dyn Wake>) {
        self.rds_blocks = features & (1 << VIRTIO_RADIO_F_RDS_BLOCKS) != 0;
        self.tuner.set_waker(waker);
    }

    fn max_request_len(&self, _queue: u16) -> usize {
        MAX_REQUEST
    }

    fn max_writable_len(&self, _queue: u16) -> usize {
        MAX_WRITABLE
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        let now = Instant::now();
        match request.token.queue() {
            CONTROLQ => {
                // No room for even a status: returned untouched, and not acted on (§6.8).
                let bytes = if request.writable_len < RespHeader::SIZE {
                    Vec::new()
                } else {
                    self.control(&request.data, request.writable_len, now)
                        .to_bytes()
                };
                if let Err(e) = completer.complete(request.token, &bytes) {
                    warn!("{}: cannot answer a request: {e}", self.name);
                }
            }
            EVENTQ => {
                if !request.data.is_empty() {
                    debug!("{}: eventq buffer with a readable part", self.name);
                }
                if let Err(token) = self.events.add_buffer(request.token, request.writable_len) {
                    warn!("{}: more eventq buffers than the queue holds", self.name);
                    if let Err(e) = completer.complete(token, &[]) {
                        warn!("{}: cannot return a buffer: {e}", self.name);
                    }
                }
            }
            q => {
                warn!("{}: buffer on unknown queue {q}", self.name);
                if let Err(e) = completer.complete(request.token, &[]) {
                    warn!("{}: cannot return a buffer: {e}", self.name);
                }
            }
        }
        self.events.deliver(completer);
    }

    fn poll(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        let mut evs = std::mem::take(&mut self.scratch);
        let next = self.tuner.poll(now, &mut evs);
        for ev in evs.drain(..) {
            self.on_tuner_event(ev);
        }
        self.scratch = evs;
        if self.pending.is_some_and(|p| now >= p.deadline) {
            self.end_pending(S_TIMEOUT, now);
        }
        if self.pending.is_none() {
            if let Some(filter) = self.sweep_after_op.take() {
                let r = self.start_sweep(filter, now);
                if r.status != S_OK {
                    self.events.push(Event::ProgramListUpdate {
                        flags: LIST_F_COMPLETE,
                        entry: ProgramInfo::new(0),
                    });
                }
            }
        }
        self.events.deliver(completer);
        self.publish_status();
        [next, self.pending.map(|p| p.deadline)]
            .into_iter()
            .flatten()
            .min()
    }

    fn reset(&mut self) {
        self.tuner.reset();
        self.events.clear();
        self.pending = None;
        self.current = None;
        self.reception = None;
        self.decoder.reset();
        self.force_mono = false;
        self.volume = 100;
        self.rds_blocks = false;
        self.sweep = None;
        self.sweep_after_op = None;
        self.publish_status();
    }
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
