//! Driver-side helpers for virtio-radio: a config with simulated stations, and a session
//! that sends control requests and collects events as a guest driver would.

use std::time::{Duration, Instant};

use drivervm::devices::radio::constants::*;
use drivervm::devices::radio::wire::*;
use drivervm::harness::{Driver, HarnessOptions};

use super::transport::Served;

/// Tune-to-lock latency of [`RADIO_CONFIG`].
pub const TUNE_MS: u64 = 40;
/// Seek dwell per channel of [`RADIO_CONFIG`].
pub const DWELL_MS: u64 = 2;

/// The bands [`RADIO_CONFIG`] and the guest driver test's config both offer, as a literal
/// for `concat!`: FM 87.5-108 MHz on a 100 kHz grid, AM 531-1602 kHz on a 9 kHz one.
macro_rules! fm_and_am_bands {
    () => {
        r#"[[guest.device.radio.band]]
kind = "fm"
low_khz = 87500
high_khz = 108000
spacing_khz = 100
[[guest.device.radio.band]]
kind = "am"
low_khz = 531
high_khz = 1602
spacing_khz = 9"#
    };
}

/// [`RADIO_CONFIG`]'s `[[guest.device.radio.band]]` tables, for configs built around them.
pub const BANDS: &str = fm_and_am_bands!();

/// One guest with a simulated radio: an FM band on a 100 kHz grid with seek on 200 kHz
/// (odd channels), an AM band, and four stations, one too weak to be received.
pub const RADIO_CONFIG: &str = concat!(
    r#"
[[guest]]
name = "vm0"
[[guest.device]]
kind = "radio"
[guest.device.radio]
tune_ms = 40
seek_dwell_ms = 2
snd_stream_id = 1
snd_hda_fn_nid = 7
"#,
    fm_and_am_bands!(),
    r#"
[[guest.device.radio.station]]
frequency_khz = 89100
pi = 0xC201
ps = "ONE"
rt = "Station one"
pty = 10
signal = 80
tone_hz = 500
[[guest.device.radio.station]]
frequency_khz = 95300
pi = 0xC202
ps = "WEAK"
signal = 10
tone_hz = 600
[[guest.device.radio.station]]
frequency_khz = 101700
pi = 0xC203
ps = "THREE"
rt = "Third station text"
pty = 14
signal = 65
stereo = false
tone_hz = 700
[[guest.device.radio.station]]
frequency_khz = 1008
signal = 50
stereo = false
tone_hz = 800
"#
);

/// Socket name of [`RADIO_CONFIG`]'s device.
pub const SOCKET: &str = "vm0-radio.sock";

/// Device id of [`RADIO_CONFIG`]'s device.
pub const ID: &str = "vm0-radio";

/// A driver session on a radio device.
pub struct Radio {
    /// The guest driver, over whichever transport.
    pub h: Box<dyn Driver>,
    /// Events that arrived together with an earlier one, oldest first.
    backlog: std::collections::VecDeque<(u32, Event)>,
}

impl Radio {
    /// Connects to `svc`'s radio (device [`ID`]) with `options` and fills the eventq with 8
    /// buffers.
    pub fn connect(svc: &Served, options: &HarnessOptions) -> Radio {
        let mut r = Radio::new(svc.connect(ID, 2, options));
        for _ in 0..8 {
            r.give_event_buffer(EVENT_BUF_MIN as u32);
        }
        r
    }

    /// A session on an already attached driver (no event buffers given yet).
    pub fn new(h: Box<dyn Driver>) -> Radio {
        Radio {
            h,
            backlog: Default::default(),
        }
    }

    /// Makes one eventq buffer of `len` writable bytes available.
    pub fn give_event_buffer(&mut self, len: u32) -> u16 {
        self.h.submit(EVENTQ, &[], len).expect("event buffer")
    }

    /// Sends raw bytes with `writable` response bytes; returns what the device wrote.
    pub fn raw(&mut self, bytes: &[u8], writable: u32) -> Vec<u8> {
        self.h.request(CONTROLQ, bytes, writable).expect("request")
    }

    /// Sends `req` with the writable size the spec asks for; parses the response.
    pub fn ask(&mut self, req: &ControlRequest) -> Response {
        let bytes = self.raw(&req.to_bytes(), req.response_len() as u32);
        Response::parse(req.code(), &bytes)
            .unwrap_or_else(|e| panic!("response to {req:?} does not parse: {e}: {bytes:?}"))
    }

    /// Status of `req`'s response.
    pub fn status(&mut self, req: &ControlRequest) -> u32 {
        self.ask(req).status
    }

    /// Starts an operation; panics unless it was accepted.
    pub fn start(&mut self, req: &ControlRequest) -> u32 {
        match self.ask(req) {
            Response {
                status: S_OK,
                body: ResponseBody::Op(o),
            } => o.op_id,
            r => panic!("{req:?} answered {r:?}"),
        }
    }

    /// The current program, or the failing status.
    pub fn program(&mut self) -> Result<ProgramInfo, u32> {
        match self.ask(&ControlRequest::GetProgramInfo) {
            Response {
                status: S_OK,
                body: ResponseBody::ProgramInfo(i),
            } => Ok(i),
            r => Err(r.status),
        }
    }

    /// Waits up to `timeout` for the next event (header flags, event); re-supplies a buffer.
    pub fn next_event(&mut self, timeout: Duration) -> Option<(u32, Event)> {
        if let Some(e) = self.backlog.pop_front() {
            return Some(e);
        }
        let done = self.h.wait_completions(EVENTQ, timeout).ok()?;
        for c in done {
            self.give_event_buffer(EVENT_BUF_MIN as u32);
            assert_eq!(c.len as usize, c.data.len());
            self.backlog
                .push_back(Event::parse(&c.data).expect("event parses"));
        }
        self.backlog.pop_front()
    }

    /// Every event that arrives within `window`.
    pub fn events_for(&mut self, window: Duration) -> Vec<(u32, Event)> {
        let end = Instant::now() + window;
        let mut out: Vec<(u32, Event)> = self.backlog.drain(..).collect();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let Ok(done) = self.h.wait_completions(EVENTQ, left) else {
                break;
            };
            for c in done {
                self.give_event_buffer(EVENT_BUF_MIN as u32);
                out.push(Event::parse(&c.data).expect("event parses"));
            }
        }
        out
    }

    /// Waits for the TUNE_COMPLETE of `op_id` (other events are returned alongside).
    pub fn completion(&mut self, op_id: u32, timeout: Duration) -> (u32, ProgramInfo, Vec<Event>) {
        let end = Instant::now() + timeout;
        let mut others = Vec::new();
        while let Some((_, e)) = self.backlog.pop_front() {
            match e {
                Event::TuneComplete {
                    op_id: id,
                    status,
                    info,
                } if id == op_id => {
                    others.extend(self.backlog.drain(..).map(|(_, e)| e));
                    return (status, info, others);
                }
                e => others.push(e),
            }
        }
        loop {
            let left = end
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no TUNE_COMPLETE for op {op_id}; saw {others:?}"));
            let done = self
                .h
                .wait_completions(EVENTQ, left)
                .unwrap_or_else(|e| panic!("no TUNE_COMPLETE for op {op_id}: {e}; saw {others:?}"));
            let mut found = None;
            for c in done {
                self.give_event_buffer(EVENT_BUF_MIN as u32);
                match Event::parse(&c.data).expect("event parses").1 {
                    Event::TuneComplete {
                        op_id: id,
                        status,
                        info,
                    } if id == op_id => found = Some((status, info)),
                    e => others.push(e),
                }
            }
            if let Some((status, info)) = found {
                return (status, info, others);
            }
        }
    }
}

/// TUNE to `khz`.
pub fn tune(khz: u32) -> ControlRequest {
    ControlRequest::Tune(Selector::frequency(khz))
}

/// SEEK with `flags`.
pub fn seek(flags: u32) -> ControlRequest {
    ControlRequest::Seek(DirectionArgs {
        flags,
        spacing_khz: 0,
    })
}

/// STEP with `flags`.
pub fn step(flags: u32) -> ControlRequest {
    ControlRequest::Step(DirectionArgs {
        flags,
        spacing_khz: 0,
    })
}
