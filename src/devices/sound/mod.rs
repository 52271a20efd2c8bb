//! virtio-snd (device ID 25): PCM streams, jacks, channel maps and control elements served
//! over the four queues of OASIS virtio 1.3 §5.14.
//!
//! The controlq carries requests answered at once (see [`control`]); the eventq holds driver
//! buffers for jack, xrun and control notifications; the txq and rxq carry I/O messages that
//! each stream completes at its own rate (see [`stream`]).

pub mod constants;
pub mod control;
pub mod controls;
pub mod events;
pub mod fuzz;
pub mod layout;
pub mod stream;
pub mod topology;

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use log::warn;

use self::constants::{code, CONTROLQ, EVENTQ, RXQ, TXQ, VIRTIO_ID_SOUND, VIRTIO_SND_F_CTLS};
use self::controls::{stream_gain, Control};
use self::events::EventQueue;
use self::layout::{event, Config, Reader, CONFIG_SIZE, PCM_STATUS_SIZE, PCM_XFER_SIZE};
use self::stream::{Outcome, Stream, MAX_BUFFER_BYTES};
use self::topology::{ChmapSpec, Direction, JackSpec, SoundTopology};
use super::{Completer, Request, VirtioDevice, Wake};
use crate::status::{AudioDirection, AudioStreamState, AudioStreams, StreamShape};

/// Size offered for the control and event queues.
const SMALL_QUEUE: u16 = 256;
/// Size offered for the tx and rx queues.
const IO_QUEUE: u16 = 256;
/// Most readable bytes of a control request (header, value, and TLV data).
const MAX_CONTROL_REQUEST: usize = 8 + 4096;
/// Writable bytes accepted on the event and tx queues, whose answers are 8 bytes: a page,
/// so drivers that post page-sized buffers are not refused.
const SMALL_WRITABLE: usize = 4096;
/// Largest `size` of one item a driver may ask for in a query (every info structure is far
/// smaller; the excess is padding the device writes).
pub(crate) const MAX_QUERY_ITEM_SIZE: usize = 1024;

/// A jack and its current state.
#[derive(Debug, Clone)]
pub struct Jack {
    /// What it is, as configured.
    pub spec: JackSpec,
    /// Current pin default configuration (association and sequence as remapped).
    pub defconf: u32,
    /// Whether something is plugged in.
    pub connected: bool,
}

/// Changes requested by the host side (status plane, tests, a codec's jack detection).
#[derive(Default)]
struct HostRequests {
    jacks: std::collections::VecDeque<(u32, bool)>,
}

/// Most jack changes kept until the device applies them (it does at its next poll, so only
/// a jack flapping while no guest is attached reaches this); older ones are dropped.
const MAX_PENDING_JACK_CHANGES: usize = 256;

/// A thread-safe handle on a running device for the host side.
#[derive(Clone, Default)]
pub struct SoundHandle {
    requests: Arc<Mutex<HostRequests>>,
    waker: Arc<Mutex<Option<Arc<dyn Wake>>>>,
}

impl SoundHandle {
    /// Plugs or unplugs jack `jack`; the guest gets a JACK_CONNECTED/DISCONNECTED event.
    pub fn set_jack_connected(&self, jack: u32, connected: bool) {
        {
            let mut r = match self.requests.lock() {
                Ok(r) => r,
                Err(p) => p.into_inner(),
            };
            if r.jacks.len() >= MAX_PENDING_JACK_CHANGES {
                r.jacks.pop_front();
            }
            r.jacks.push_back((jack, connected));
        }
        let waker = match self.waker.lock() {
            Ok(w) => w.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn take(&self) -> std::collections::VecDeque<(u32, bool)> {
        match self.requests.lock() {
            Ok(mut r) => std::mem::take(&mut r.jacks),
            Err(p) => std::mem::take(&mut p.into_inner().jacks),
        }
    }

    /// A handle that does not keep the device's host side alive: for watchers that should
    /// stop once the device and every strong handle are gone.
    pub fn downgrade(&self) -> WeakSoundHandle {
        WeakSoundHandle {
            requests: Arc::downgrade(&self.requests),
            waker: Arc::downgrade(&self.waker),
        }
    }
}

/// A [`SoundHandle`] that lapses when the device and its strong handles are dropped.
#[derive(Clone)]
pub struct WeakSoundHandle {
    requests: Weak<Mutex<HostRequests>>,
    waker: Weak<Mutex<Option<Arc<dyn Wake>>>>,
}

impl WeakSoundHandle {
    /// The handle, while the device (or another strong handle) is alive.
    pub fn upgrade(&self) -> Option<SoundHandle> {
        Some(SoundHandle {
            requests: self.requests.upgrade()?,
            waker: self.waker.upgrade()?,
        })
    }
}

/// The virtio-snd device for one guest.
pub struct SoundDevice {
    device: String,
    jacks: Vec<Jack>,
    streams: Vec<Stream>,
    chmaps: Vec<ChmapSpec>,
    controls: Vec<Control>,
    events: EventQueue,
    ctls_negotiated: bool,
    handle: SoundHandle,
    /// The streams as the control plane sees them, published at each transition.
    status: Arc<AudioStreams>,
    /// Most readable bytes accepted in one tx message (xfer header plus a period).
    max_io_request: usize,
}

impl SoundDevice {
    /// A device serving `topology`.
    pub fn new(topology: SoundTopology) -> Self {
        let directions: Vec<AudioDirection> = topology
            .streams
            .iter()
            .map(|s| match s.direction() {
                Direction::Output => AudioDirection::Output,
                Direction::Input => AudioDirection::Input,
            })
            .collect();
        Self {
            device: topology.device,
            jacks: topology
                .jacks
                .into_iter()
                .map(|spec| Jack {
                    connected: spec.connected,
                    defconf: spec.hda_reg_defconf,
                    spec,
                })
                .collect(),
            streams: topology.streams.into_iter().map(Stream::new).collect(),
            chmaps: topology.chmaps,
            controls: topology.controls.into_iter().map(Control::new).collect(),
            events: EventQueue::default(),
            ctls_negotiated: false,
            handle: SoundHandle::default(),
            status: Arc::new(AudioStreams::new(&directions)),
            max_io_request: PCM_XFER_SIZE + MAX_BUFFER_BYTES as usize,
        }
    }

    /// Caps one tx message at `limit` readable bytes (a guest policy); SET_PARAMS then
    /// refuses output periods that would not fit.
    pub fn with_request_limit(mut self, limit: usize) -> Self {
        self.max_io_request =
            limit.clamp(PCM_XFER_SIZE + 4, PCM_XFER_SIZE + MAX_BUFFER_BYTES as usize);
        self
    }

    /// Refuses periods and I/O messages shorter than `min` on stream `stream` (config).
    pub fn with_min_period(mut self, stream: usize, min: std::time::Duration) -> Self {
        if let Some(s) = self.streams.get_mut(stream) {
            s.set_min_period(min);
        }
        self
    }

    /// A handle for plugging jacks from another thread.
    pub fn handle(&self) -> SoundHandle {
        self.handle.clone()
    }

    /// What the device publishes to the control plane: every stream's state, negotiated
    /// format and xruns, updated at each transition.
    pub fn status(&self) -> Arc<AudioStreams> {
        self.status.clone()
    }

    /// Publishes stream `id` as its state machine has it; RELEASED is reported as IDLE,
    /// the one state the status interface has for a stream holding no buffers or backend.
    fn publish(&self, id: usize) {
        let Some(s) = self.streams.get(id) else {
            return;
        };
        let state = match s.state() {
            stream::State::Idle | stream::State::Released => AudioStreamState::Idle,
            stream::State::ParamsSet => AudioStreamState::ParametersSet,
            stream::State::Prepared => AudioStreamState::Prepared,
            stream::State::Running => AudioStreamState::Running,
            stream::State::Stopped => AudioStreamState::Stopped,
        };
        let shape = s.params().map(|p| StreamShape {
            format: p.format,
            rate_hz: p.rate,
            channels: p.channels,
        });
        self.status.set(id, state, shape);
        self.status.set_xruns(id, s.xruns_since_prepare());
    }

    /// The streams, in stream-ID order.
    pub fn streams(&self) -> &[Stream] {
        &self.streams
    }

    /// The control elements, in control-ID order.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    fn config(&self) -> Config {
        Config {
            jacks: self.jacks.len() as u32,
            streams: self.streams.len() as u32,
            chmaps: self.chmaps.len() as u32,
            controls: self.controls.len() as u32,
        }
    }

    fn handle_io(&mut self, request: Request, completer: &mut dyn Completer, now: Instant) {
        let queue = request.token.queue();
        let mut r = Reader::new(&request.data);
        let stream_id = r.u32();
        let want = if queue == TXQ {
            Direction::Output
        } else {
            Direction::Input
        };
        let stream = stream_id.and_then(|id| {
            self.streams
                .get_mut(id as usize)
                .filter(|s| s.spec.direction() == want)
        });
        let Some(stream) = stream else {
            warn!(
                "{}: queue {queue}: I/O message for no {want:?} stream ({stream_id:?})",
                self.device
            );
            self.refuse_io(request, completer);
            return;
        };
        let Some(status_at) = request.writable_len.checked_sub(PCM_STATUS_SIZE) else {
            warn!("{}: queue {queue}: no room for a status", self.device);
            self.refuse_io(request, completer);
            return;
        };
        if queue == TXQ {
            let data = r.rest().to_vec();
            stream.queue_playback(request.token, data, status_at, now, completer);
        } else if request.data.len() != PCM_XFER_SIZE {
            warn!("{}: malformed capture message", self.device);
            self.refuse_io(request, completer);
        } else {
            let len = request.writable_len - PCM_STATUS_SIZE;
            stream.queue_capture(request.token, len, now, completer);
        }
        // A buffer for a running stream may need a deadline sooner than the armed one;
        // the transport polls after every event, so nothing else is needed here.
    }

    /// Answers an I/O message with BAD_MSG at the end of its writable part, where the driver
    /// looks for the status; nothing else is written, however large the part (a buffer
    /// without room for a status goes back with nothing written).
    fn refuse_io(&self, request: Request, completer: &mut dyn Completer) {
        let result = match request.writable_len.checked_sub(PCM_STATUS_SIZE) {
            Some(at) => stream::complete_status(
                completer,
                request.token,
                at,
                &layout::pcm_status(code::S_BAD_MSG, 0),
            ),
            None => completer.complete(request.token, &[]),
        };
        if let Err(e) = result {
            warn!("{}: {e}", self.device);
        }
    }

    /// Runs the paced data path of every stream; returns the earliest next deadline.
    fn run_streams(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for id in 0..self.streams.len() {
            let gain = stream_gain(&self.controls, id as u32);
            let mut out = Outcome::default();
            let due = match self.streams.get_mut(id) {
                Some(s) => s.poll(now, gain, completer, &mut out),
                None => None,
            };
            if out.xrun {
                self.publish(id);
            }
            if out.xrun_event {
                self.events
                    .push(event(code::EVT_PCM_XRUN, id as u32), completer);
            }
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Handles one buffer as if it arrived at `now` (the clock a START anchors to).
    pub fn handle_at(&mut self, request: Request, completer: &mut dyn Completer, now: Instant) {
        match request.token.queue() {
            CONTROLQ => self.handle_control(request, completer, now),
            EVENTQ => {
                let len = request.writable_len;
                self.events
                    .add_buffer(request.token, len, usize::from(SMALL_QUEUE), completer);
            }
            TXQ | RXQ => self.handle_io(request, completer, now),
            q => {
                warn!("{}: buffer on unknown queue {q}", self.device);
                if let Err(e) = completer.complete(request.token, &[]) {
                    warn!("{}: {e}", self.device);
                }
            }
        }
    }

    fn apply_host_requests(&mut self, completer: &mut dyn Completer) {
        for (id, connected) in self.handle.take() {
            let Some(jack) = self.jacks.get_mut(id as usize) else {
                warn!("{}: no jack {id}", self.device);
                continue;
            };
            if jack.connected == connected {
                continue;
            }
            jack.connected = connected;
            let c = if connected {
                code::EVT_JACK_CONNECTED
            } else {
                code::EVT_JACK_DISCONNECTED
            };
            self.events.push(event(c, id), completer);
        }
    }
}

impl VirtioDevice for SoundDevice {
    fn device_type(&self) -> u32 {
        VIRTIO_ID_SOUND
    }

    fn name(&self) -> &str {
        "sound"
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[SMALL_QUEUE, SMALL_QUEUE, IO_QUEUE, IO_QUEUE]
    }

    fn features(&self) -> u64 {
        if self.controls.is_empty() {
            0
        } else {
            1 << VIRTIO_SND_F_CTLS
        }
    }

    fn config_too_small(&self, frontend_len: usize) -> Option<String> {
        // `controls` is the last field; the other three are always valid.
        let base = CONFIG_SIZE - 4;
        if frontend_len < base {
            Some(format!("virtio-snd needs at least {base} bytes"))
        } else if frontend_len < CONFIG_SIZE && self.features() & (1 << VIRTIO_SND_F_CTLS) != 0 {
            Some(format!(
                "VIRTIO_SND_F_CTLS (the device's `controls = true`) needs {CONFIG_SIZE} bytes \
                 for `controls`: start QEMU's vhost-user-snd-pci with controls=on"
            ))
        } else {
            None
        }
    }

    fn read_config(&self, offset: usize, data: &mut [u8]) {
        let bytes = self.config().to_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = offset
                .checked_add(i)
                .and_then(|o| bytes.get(o))
                .copied()
                .unwrap_or(0);
        }
    }

    fn activate(&mut self, features: u64, waker: Arc<dyn Wake>) {
        self.ctls_negotiated = features & (1 << VIRTIO_SND_F_CTLS) != 0;
        match self.handle.waker.lock() {
            Ok(mut w) => *w = Some(waker),
            Err(p) => *p.into_inner() = Some(waker),
        }
    }

    fn max_request_len(&self, queue: u16) -> usize {
        match queue {
            CONTROLQ => MAX_CONTROL_REQUEST,
            TXQ => self.max_io_request,
            _ => 64,
        }
    }

    fn max_writable_len(&self, queue: u16) -> usize {
        match queue {
            // Queries answer every item padded to the driver's size; TLV reads take the
            // driver's buffer size from user space.
            CONTROLQ => {
                let items = [
                    self.jacks.len(),
                    self.streams.len(),
                    self.chmaps.len(),
                    self.controls.len(),
                ];
                let largest = items.into_iter().max().unwrap_or(0);
                layout::HDR_SIZE
                    + (largest * MAX_QUERY_ITEM_SIZE).max(super::DEFAULT_MAX_WRITABLE_LEN)
            }
            // A capture message holds at most the negotiated ring buffer, then the status.
            RXQ => MAX_BUFFER_BYTES as usize + PCM_STATUS_SIZE,
            _ => SMALL_WRITABLE,
        }
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        self.handle_at(request, completer, Instant::now());
    }
    fn poll(&mut self, now: Instant, completer: &mut dyn Completer) -> Option<Instant> {
        self.apply_host_requests(completer);
        self.run_streams(now, completer)
    }

    fn reset(&mut self) {
        for s in &mut self.streams {
            s.reset();
        }
        for id in 0..self.streams.len() {
            self.publish(id);
        }
        self.events.reset();
        for c in &mut self.controls {
            *c = Control::new(c.spec.clone());
        }
        // Plugging is physical: a reset undoes the guest's remaps, not the host's state.
        for j in &mut self.jacks {
            j.defconf = j.spec.hda_reg_defconf;
        }
        self.ctls_negotiated = false;
    }
}

#[cfg(test)]
mod tests;
