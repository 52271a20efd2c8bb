//! One PCM stream: the SET_PARAMS/PREPARE/START/STOP/RELEASE state machine (virtio 1.3
//! §5.14.6.6.1) and the paced data path.
//!
//! Pacing: at START the stream takes an anchor instant; the buffer at the head of its queue
//! completes when `anchor + (bytes done + its length) / byte rate` has passed. Deadlines are
//! computed from the anchor, never from the previous completion, so rounding and wake-up
//! latency never accumulate into drift. A playback buffer's samples go to the backend at its
//! deadline (its play time has elapsed); a capture buffer is filled from the backend at its
//! deadline (its capture time has elapsed).
//!
//! Xruns: when the queue runs dry, the codec would keep running; if no buffer arrives within
//! one period of the last deadline, the stream has underrun (playback) or overrun (capture):
//! an XRUN event goes to the driver (if it selected VIRTIO_SND_PCM_F_EVT_XRUNS) and the next
//! buffer starts a fresh anchor.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use log::warn;

use super::constants::{code, pcm_feature, RATES};
use super::layout::{pcm_status, SetParams};
use super::topology::{sample_format, StreamBackend, StreamSpec};
use crate::devices::{Completer, Token};
use crate::hw::pcm::PcmParams;

/// Largest ring buffer a guest may configure (bounds what one stream can hold queued).
pub const MAX_BUFFER_BYTES: u32 = 4 << 20;

/// Most driver buffers one stream holds at once: a queue's worth, whatever their sizes.
pub const MAX_QUEUED_BUFFERS: usize = super::IO_QUEUE as usize;

/// Shortest period (and I/O message) a guest may use unless config says otherwise: each
/// message costs a timer wake-up, so one-frame periods would cost tens of thousands a second.
pub const DEFAULT_MIN_PERIOD: Duration = Duration::from_millis(1);

/// Where a stream is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Never configured.
    Idle,
    /// SET_PARAMS accepted.
    ParamsSet,
    /// PREPARE accepted: buffers may be queued.
    Prepared,
    /// START accepted: buffers are consumed at the stream's rate.
    Running,
    /// STOP accepted: queued buffers wait for START or RELEASE.
    Stopped,
    /// RELEASE accepted: every buffer has been returned.
    Released,
}

/// A PCM control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// PCM_SET_PARAMS.
    SetParams,
    /// PCM_PREPARE.
    Prepare,
    /// PCM_START.
    Start,
    /// PCM_STOP.
    Stop,
    /// PCM_RELEASE.
    Release,
}

impl State {
    /// Whether `cmd` is a transition the specification allows from this state.
    pub fn allows(self, cmd: Command) -> bool {
        use Command as C;
        use State as S;
        matches!(
            (self, cmd),
            (
                S::Idle | S::ParamsSet | S::Prepared | S::Released,
                C::SetParams
            ) | (S::ParamsSet | S::Prepared | S::Released, C::Prepare)
                | (S::Prepared | S::Stopped, C::Start)
                | (S::Running, C::Stop)
                | (S::Prepared | S::Stopped, C::Release)
        )
    }
}

/// A driver buffer waiting on a stream.
struct Io {
    token: Token,
    /// Playback: the samples. Capture: empty.
    data: Vec<u8>,
    /// Bytes of audio the buffer covers.
    len: usize,
    /// Where `virtio_snd_pcm_status` goes: the last 8 bytes of the writable part.
    status_at: usize,
}

/// Clock of a running stream.
struct Clock {
    anchor: Instant,
    /// Bytes completed since `anchor`.
    done: u64,
    /// Deadline of the last completed buffer (when the queue last ran dry).
    last_deadline: Instant,
    /// An xrun was reported; the next buffer re-anchors.
    xrun: bool,
}

/// Stream counters for status and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Buffers completed after being played or captured.
    pub buffers: u64,
    /// Bytes played or captured.
    pub bytes: u64,
    /// Xruns detected.
    pub xruns: u64,
    /// Buffers returned unplayed by RELEASE or refused.
    pub returned: u64,
}

/// One PCM stream.
pub struct Stream {
    /// What the stream offers and its backend.
    pub spec: StreamSpec,
    state: State,
    params: Option<(SetParams, PcmParams)>,
    queue: VecDeque<Io>,
    queued_bytes: usize,
    clock: Option<Clock>,
    /// Counters.
    pub stats: StreamStats,
    /// `stats.xruns` when the stream was last prepared (or reset).
    prepared_xruns: u64,
    /// Shortest period and I/O message accepted.
    min_period: Duration,
}

/// What a data-path step asks of the device besides completions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The stream underran or overran.
    pub xrun: bool,
    /// Send an XRUN event for this stream.
    pub xrun_event: bool,
}

impl Stream {
    /// A stream in its initial state.
    pub fn new(spec: StreamSpec) -> Self {
        Self {
            spec,
            state: State::Idle,
            params: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            clock: None,
            stats: StreamStats::default(),
            prepared_xruns: 0,
            min_period: DEFAULT_MIN_PERIOD,
        }
    }

    /// Refuses periods and I/O messages shorter than `min` (a config policy).
    pub fn set_min_period(&mut self, min: Duration) {
        self.min_period = min;
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The parameters in force, once SET_PARAMS succeeded.
    pub fn params(&self) -> Option<PcmParams> {
        self.params.map(|(_, p)| p)
    }

    /// Xruns since the last PREPARE, as the status interface reports them.
    pub fn xruns_since_prepare(&self) -> u64 {
        self.stats.xruns.saturating_sub(self.prepared_xruns)
    }

    /// Feature bits offered in PCM_INFO.
    pub fn offered_features(&self) -> u32 {
        1 << pcm_feature::EVT_XRUNS
    }

    fn period(&self) -> Duration {
        match self.params {
            Some((_, p)) => bytes_to_duration(u64::from(p.period_bytes), p.byte_rate()),
            None => Duration::ZERO,
        }
    }

    fn xruns_selected(&self) -> bool {
        self.params
            .is_some_and(|(s, _)| s.features & (1 << pcm_feature::EVT_XRUNS) != 0)
    }

    /// PCM_SET_PARAMS: validates against what the stream offers and its backend can do.
    pub fn set_params(&mut self, sp: SetParams) -> u32 {
        if !self.state.allows(Command::SetParams) {
            return code::S_BAD_MSG;
        }
        let Some(format) = sample_format(sp.format).filter(|f| self.spec.formats.contains(f))
        else {
            return code::S_NOT_SUPP;
        };
        let Some(&rate) = RATES
            .get(usize::from(sp.rate))
            .filter(|r| self.spec.rates.contains(r))
        else {
            return code::S_NOT_SUPP;
        };
        if sp.channels < self.spec.channels_min || sp.channels > self.spec.channels_max {
            return code::S_NOT_SUPP;
        }
        if sp.features & !self.offered_features() != 0 {
            return code::S_NOT_SUPP;
        }
        let params = PcmParams {
            format,
            rate,
            channels: sp.channels,
            period_bytes: sp.period_bytes,
            buffer_bytes: sp.buffer_bytes,
        };
        let frame = params.frame_bytes();
        if sp.period_bytes == 0
            || sp.period_bytes % frame != 0
            || sp.buffer_bytes < sp.period_bytes
            || sp.buffer_bytes % frame != 0
        {
            return code::S_BAD_MSG;
        }
        if sp.buffer_bytes > MAX_BUFFER_BYTES
            || bytes_to_duration(u64::from(sp.period_bytes), params.byte_rate()) < self.min_period
        {
            return code::S_NOT_SUPP;
        }
        let checked = match &self.spec.backend {
            StreamBackend::Playback(b) => b.check(&params),
            StreamBackend::Capture(b) => b.check(&params),
        };
        if let Err(e) = checked {
            warn!("stream {}: {e}", self.spec.name);
            return code::S_NOT_SUPP;
        }
        self.params = Some((sp, params));
        self.state = State::ParamsSet;
        code::S_OK
    }

    /// PCM_PREPARE: opens the backend with the parameters in force.
    pub fn prepare(&mut self) -> u32 {
        if !self.state.allows(Command::Prepare) {
            return code::S_BAD_MSG;
        }
        let Some((_, params)) = self.params else {
            return code::S_BAD_MSG;
        };
        let opened = match &mut self.spec.backend {
            StreamBackend::Playback(b) => b.open(&params),
            StreamBackend::Capture(b) => b.open(&params),
        };
        if let Err(e) = opened {
            warn!("stream {}: cannot prepare: {e}", self.spec.name);
            return code::S_IO_ERR;
        }
        self.prepared_xruns = self.stats.xruns;
        self.state = State::Prepared;
        code::S_OK
    }

    /// PCM_START: starts the backend and the stream's clock at `now`.
    pub fn start(&mut self, now: Instant) -> u32 {
        if !self.state.allows(Command::Start) {
            return code::S_BAD_MSG;
        }
        let started = match &mut self.spec.backend {
            StreamBackend::Playback(b) => b.start(),
            StreamBackend::Capture(b) => b.start(),
        };
        if let Err(e) = started {
            warn!("stream {}: cannot start: {e}", self.spec.name);
            return code::S_IO_ERR;
        }
        self.clock = Some(Clock {
            anchor: now,
            done: 0,
            last_deadline: now,
            xrun: false,
        });
        self.state = State::Running;
        code::S_OK
    }

    /// PCM_STOP: stops consuming; queued buffers wait for START or RELEASE.
    pub fn stop(&mut self) -> u32 {
        if !self.state.allows(Command::Stop) {
            return code::S_BAD_MSG;
        }
        match &mut self.spec.backend {
            StreamBackend::Playback(b) => b.stop(),
            StreamBackend::Capture(b) => b.stop(),
        }
        self.clock = None;
        self.state = State::Stopped;
        code::S_OK
    }

    /// PCM_RELEASE: returns every queued buffer and closes the backend.
    pub fn release(&mut self, completer: &mut dyn Completer) -> u32 {
        if !self.state.allows(Command::Release) {
            return code::S_BAD_MSG;
        }
        self.return_all(completer);
        match &mut self.spec.backend {
            StreamBackend::Playback(b) => b.close(),
            StreamBackend::Capture(b) => b.close(),
        }
        self.clock = None;
        self.state = State::Released;
        code::S_OK
    }

    /// Hands every queued buffer back unplayed (playback) or silent (capture).
    pub fn return_all(&mut self, completer: &mut dyn Completer) {
        while let Some(io) = self.queue.pop_front() {
            self.stats.returned += 1;
            self.respond(io, None, code::S_OK, 0, completer);
        }
        self.queued_bytes = 0;
    }

    /// Drops every buffer without completing it (device reset: the tokens are void).
    pub fn reset(&mut self) {
        if matches!(
            self.state,
            State::Prepared | State::Running | State::Stopped
        ) {
            match &mut self.spec.backend {
                StreamBackend::Playback(b) => b.close(),
                StreamBackend::Capture(b) => b.close(),
            }
        }
        self.queue.clear();
        self.queued_bytes = 0;
        self.clock = None;
        self.params = None;
        self.prepared_xruns = self.stats.xruns;
        self.state = State::Idle;
    }

    /// Completes `io`: capture data (or silence, for an admitted capture buffer) then
    /// `virtio_snd_pcm_status` at the end of its writable part.
    fn respond(
        &self,
        io: Io,
        captured: Option<&[u8]>,
        status: u32,
        latency: u32,
        completer: &mut dyn Completer,
    ) {
        let status = pcm_status(status, latency);
        // Playback buffers have only the status device-writable; an admitted capture buffer
        // is at most the negotiated ring buffer, so building it here is bounded by config.
        let result = if self.spec.direction() == super::topology::Direction::Input {
            let mut resp = Vec::with_capacity(io.len + status.len());
            match captured {
                Some(d) => resp.extend_from_slice(d),
                None => {
                    resp.resize(io.len, 0);
                    if let Some((_, p)) = self.params {
                        p.format.fill_silence(&mut resp);
                    }
                }
            }
            resp.extend_from_slice(&status);
            completer.complete(io.token, &resp)
        } else {
            complete_status(completer, io.token, io.status_at, &status)
        };
        if let Err(e) = result {
            warn!("stream {}: {e}", self.spec.name);
        }
    }

    /// Why a buffer of `len` audio bytes cannot be queued now, as a status.
    fn admit(&self, len: usize) -> Result<(), u32> {
        if !matches!(
            self.state,
            State::Prepared | State::Running | State::Stopped
        ) {
            return Err(code::S_BAD_MSG);
        }
        let Some((_, p)) = self.params else {
            return Err(code::S_BAD_MSG);
        };
        if len == 0
            || len % p.frame_bytes() as usize != 0
            || self.queued_bytes + len > p.buffer_bytes as usize
            || self.queue.len() >= MAX_QUEUED_BUFFERS
            || bytes_to_duration(len as u64, p.byte_rate()) < self.min_period
        {
            return Err(code::S_BAD_MSG);
        }
        Ok(())
    }

    /// Queues a playback buffer (`data` after the xfer header; its status goes at
    /// `status_at` in the writable part) or completes it with an error.
    pub fn queue_playback(
        &mut self,
        token: Token,
        data: Vec<u8>,
        status_at: usize,
        now: Instant,
        completer: &mut dyn Completer,
    ) {
        let len = data.len();
        if let Err(status) = self.admit(len) {
            self.stats.returned += 1;
            if let Err(e) = complete_status(completer, token, status_at, &pcm_status(status, 0)) {
                warn!("stream {}: {e}", self.spec.name);
            }
            return;
        }
        self.enqueue(
            Io {
                token,
                data,
                len,
                status_at,
            },
            now,
        );
    }

    /// Queues a capture buffer with room for `len` audio bytes, or completes it with an
    /// error status at the end of its writable part (nothing else is written: the area
    /// before it is guest-sized and the driver discards it on an error).
    pub fn queue_capture(
        &mut self,
        token: Token,
        len: usize,
        now: Instant,
        completer: &mut dyn Completer,
    ) {
        if let Err(status) = self.admit(len) {
            self.stats.returned += 1;
            if let Err(e) = complete_status(completer, token, len, &pcm_status(status, 0)) {
                warn!("stream {}: {e}", self.spec.name);
            }
            return;
        }
        self.enqueue(
            Io {
                token,
                data: Vec::new(),
                len,
                status_at: len,
            },
            now,
        );
    }

    fn enqueue(&mut self, io: Io, now: Instant) {
        if self.queue.is_empty() {
            if let Some(c) = self.clock.as_mut().filter(|c| c.xrun) {
                // The codec ran on without data; restart the clock with this buffer.
                *c = Clock {
                    anchor: now,
                    done: 0,
                    last_deadline: now,
                    xrun: false,
                };
            }
        }
        self.queued_bytes += io.len;
        self.queue.push_back(io);
    }

    fn deadline(&self, c: &Clock, upto: u64) -> Instant {
        let rate = self.params.map_or(1, |(_, p)| p.byte_rate());
        c.anchor + bytes_to_duration(upto, rate)
    }

    /// Completes every buffer whose time has come; returns when to be polled next.
    pub fn poll(
        &mut self,
        now: Instant,
        gain: f64,
        completer: &mut dyn Completer,
        out: &mut Outcome,
    ) -> Option<Instant> {
        if self.state != State::Running {
            return None;
        }
        loop {
            let clock = self.clock.as_ref()?;
            let Some(head) = self.queue.front() else {
                if clock.xrun {
                    return None;
                }
                let xrun_at = clock.last_deadline + self.period();
                if now < xrun_at {
                    return Some(xrun_at);
                }
                self.stats.xruns += 1;
                out.xrun = true;
                out.xrun_event |= self.xruns_selected();
                if let Some(c) = self.clock.as_mut() {
                    c.xrun = true;
                }
                warn!("stream {}: xrun", self.spec.name);
                return None;
            };
            let upto = clock.done + head.len as u64;
            let due = self.deadline(clock, upto);
            if due > now {
                return Some(due);
            }
            let io = self.queue.pop_front()?;
            self.queued_bytes -= io.len;
            if let Some(c) = self.clock.as_mut() {
                c.done = upto;
                c.last_deadline = due;
            }
            self.complete_elapsed(io, due, gain, completer);
        }
    }

    /// Completes `io`, whose time span ended at `due`.
    fn complete_elapsed(
        &mut self,
        mut io: Io,
        due: Instant,
        gain: f64,
        completer: &mut dyn Completer,
    ) {
        let Some((_, p)) = self.params else {
            return;
        };
        let (status, latency, captured) = match &mut self.spec.backend {
            StreamBackend::Playback(b) => {
                p.format.apply_gain(&mut io.data, gain);
                match b.write(&io.data) {
                    Ok(()) => (code::S_OK, b.delay_bytes(), None),
                    Err(e) => {
                        warn!("stream {}: {e}", self.spec.name);
                        (code::S_IO_ERR, 0, None)
                    }
                }
            }
            StreamBackend::Capture(b) => {
                let mut buf = vec![0; io.len];
                match b.read_until(&mut buf, due) {
                    Ok(()) => {
                        p.format.apply_gain(&mut buf, gain);
                        (code::S_OK, b.delay_bytes(), Some(buf))
                    }
                    Err(e) => {
                        warn!("stream {}: {e}", self.spec.name);
                        (code::S_IO_ERR, 0, None)
                    }
                }
            }
        };
        self.stats.buffers += 1;
        self.stats.bytes += io.len as u64;
        self.respond(io, captured.as_deref(), status, latency, completer);
    }
}

/// Returns `token` with `status` at `status_at` of its writable part, the used length
/// covering it; the bytes before it are left as the driver put them.
pub fn complete_status(
    completer: &mut dyn Completer,
    token: Token,
    status_at: usize,
    status: &[u8],
) -> Result<(), crate::devices::CompleteError> {
    completer.complete_at(
        token,
        status_at,
        status,
        status_at.saturating_add(status.len()),
    )
}

/// How long `bytes` take at `rate` bytes per second, to the nanosecond.
pub fn bytes_to_duration(bytes: u64, rate: u64) -> Duration {
    let ns = u128::from(bytes) * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_spec() {
        use Command as C;
        use State as S;
        let table = [
            (S::Idle, [true, false, false, false, false]),
            (S::ParamsSet, [true, true, false, false, false]),
            (S::Prepared, [true, true, true, false, true]),
            (S::Running, [false, false, false, true, false]),
            (S::Stopped, [false, false, true, false, true]),
            (S::Released, [true, true, false, false, false]),
        ];
        for (state, allowed) in table {
            for (cmd, ok) in [C::SetParams, C::Prepare, C::Start, C::Stop, C::Release]
                .into_iter()
                .zip(allowed)
            {
                assert_eq!(state.allows(cmd), ok, "{state:?} -> {cmd:?}");
            }
        }
    }

    #[test]
    fn durations_are_exact() {
        assert_eq!(bytes_to_duration(1920, 192_000), Duration::from_millis(10));
        // 1 hour of 44.1 kHz stereo S16 is exactly 3600 s: no accumulated rounding.
        assert_eq!(
            bytes_to_duration(176_400 * 3600, 176_400),
            Duration::from_secs(3600)
        );
    }
}
