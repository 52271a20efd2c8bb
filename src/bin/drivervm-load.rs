//! drivervm-load: end-to-end load generator for any vhost-user backend of a device type we
//! know, built on the driver-side harness (it plays VMM and guest driver).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use drivervm::harness::{ChainLayout, Harness, HarnessOptions, Segment};
use hdrhistogram::Histogram;

#[path = "drivervm-load/rpmb_load.rs"]
mod rpmb_load;

const ABOUT: &str = "Drives a vhost-user backend socket as a VMM + guest driver would and \
measures it: keeps --outstanding requests in flight on the device's request queue for \
--duration seconds (after --warmup seconds that are not counted) and reports throughput \
(completed ops per second), latency percentiles (submit to completion seen by the driver), \
total ops, errors (replies that fail the op's check) and, with --pid, the backend's CPU use \
over the measured window (utime+stime from /proc/PID/stat, as % of one core).

Devices and ops:
  scmi  base-version   SCMI BASE PROTOCOL_VERSION on the command queue (queue 0); the reply \
must echo the header (token = sequence number mod 1024) with status SUCCESS.
  rpmb  write          authenticated 1-block DATA_WRITE + RESULT_READ (virtio-rpmb, queue 0), MACed with --rpmb-key, counter = the device's counter + sequence number (the device takes its queue in order, so pipelined writes stay valid); the reply must be OK with the next counter and a valid MAC. A blank device gets the key programmed first.
  rpmb  read1, read8   authenticated DATA_READ of 1 or 8 blocks (needs max_rd_cnt >= 8); every frame OK, nonce and address echoed, MAC valid.
  scmi  clock-rate-get SCMI CLOCK_RATE_GET of clock --clock (the guest's numbering) on the \
command queue; the reply must echo the header with status SUCCESS and carry a 64-bit rate.
  radio radio-get-properties, radio-get-bands, radio-get-program-info, radio-get-config-flag \
(FORCE_MONO), radio-get-parameter (com.drivervm.signal_threshold), radio-cancel (nothing \
pending: op_id 0): one virtio-radio control request on the control queue (queue 0); the \
reply must have status OK and the body's exact size. Before the window the tool supplies \
eventq buffers and seeks up twice, so a program is tuned.
  radio radio-tune, radio-seek: long operations, --outstanding 1 only. The latency is from \
submitting TUNE (alternating between the first two stations a seek finds) or SEEK (up) to \
the TUNE_COMPLETE event with status OK for its op_id on the eventq (queue 1): the \
tune-to-locked and seek times.

Exits 1 with a one-line message if the socket cannot be used or a request times out.";

/// Command line.
#[derive(Parser, Debug)]
#[command(name = "drivervm-load", version, about = "vhost-user load generator", long_about = ABOUT)]
struct Args {
    /// vhost-user socket of the backend.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// Virtio device type the backend serves.
    #[arg(long, value_enum)]
    device: Device,
    /// Request to send, repeatedly.
    #[arg(long, value_enum)]
    op: Op,
    /// Requests kept in flight at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    outstanding: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    duration: f64,
    /// Unmeasured warm-up before the measured window, in seconds.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    warmup: f64,
    /// Backend process whose CPU use to report.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Give up when nothing comes back for this many seconds.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    timeout: f64,
    /// Keep retrying a missing or refusing socket for this many seconds.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    connect_timeout: f64,
    /// Do not negotiate VIRTIO_RING_F_EVENT_IDX.
    #[arg(long)]
    no_event_idx: bool,
    /// Send each request as one indirect descriptor table.
    #[arg(long)]
    indirect: bool,
    /// RPMB authentication key, 64 hex digits (rpmb ops).
    #[arg(long, value_name = "HEX", default_value = DEFAULT_RPMB_KEY)]
    rpmb_key: String,
    /// Pace the requests: submit each at least this many microseconds after the previous
    /// one (with --outstanding 1, one request every N us), to see what a backend costs at a
    /// given request rate rather than flat out. The tool busy-waits between requests, so its
    /// own CPU figure means nothing in this mode.
    #[arg(long, value_name = "US")]
    interval_us: Option<u64>,
    /// Clock ID for clock-rate-get, in the guest's numbering.
    #[arg(long, default_value_t = 0, value_name = "ID")]
    clock: u32,
}

/// The key rpmb ops use unless told otherwise; programmed into a blank device.
const DEFAULT_RPMB_KEY: &str = "6472697665727666206c6f61642d746f6f6c20524d504220746573742d6b6579";

/// A device type the tool can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Device {
    /// virtio-scmi (device ID 32): queue 0 commands, queue 1 events.
    Scmi,
    /// virtio-rpmb (device ID 28): queue 0 requests.
    Rpmb,
    /// virtio-radio (docs/virtio-radio.md, ID 56): queue 0 control, queue 1 events.
    Radio,
}

impl Device {
    fn name(self) -> &'static str {
        match self {
            Device::Scmi => "scmi",
            Device::Rpmb => "rpmb",
            Device::Radio => "radio",
        }
    }

    fn num_queues(self) -> usize {
        match self {
            Device::Scmi | Device::Radio => 2,
            Device::Rpmb => 1,
        }
    }

    fn device_features(self) -> u64 {
        match self {
            Device::Scmi | Device::Radio | Device::Rpmb => 0,
        }
    }
}

/// One kind of request; each belongs to one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Op {
    /// SCMI BASE PROTOCOL_VERSION.
    BaseVersion,
    /// RPMB authenticated 1-block write.
    Write,
    /// RPMB authenticated 1-block read.
    Read1,
    /// RPMB authenticated 8-block read.
    Read8,
    /// SCMI CLOCK_RATE_GET.
    ClockRateGet,
    /// virtio-radio GET_PROPERTIES.
    RadioGetProperties,
    /// virtio-radio GET_BANDS (region in force).
    RadioGetBands,
    /// virtio-radio GET_PROGRAM_INFO.
    RadioGetProgramInfo,
    /// virtio-radio GET_CONFIG_FLAG FORCE_MONO.
    RadioGetConfigFlag,
    /// virtio-radio GET_PARAMETER com.drivervm.signal_threshold.
    RadioGetParameter,
    /// virtio-radio CANCEL with nothing pending.
    RadioCancel,
    /// virtio-radio TUNE, measured to its TUNE_COMPLETE event.
    RadioTune,
    /// virtio-radio SEEK up, measured to its TUNE_COMPLETE event.
    RadioSeek,
}

/// SCMI header: message_id bits 7:0, type 9:8, protocol_id 17:10, token 27:18.
fn scmi_header(protocol: u32, message: u32, token: u32) -> u32 {
    (token & 0x3FF) << 18 | (protocol & 0xFF) << 10 | (message & 0xFF)
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::BaseVersion => "base-version",
            Op::Write => "write",
            Op::Read1 => "read1",
            Op::Read8 => "read8",
            Op::ClockRateGet => "clock-rate-get",
            Op::RadioGetProperties => "radio-get-properties",
            Op::RadioGetBands => "radio-get-bands",
            Op::RadioGetProgramInfo => "radio-get-program-info",
            Op::RadioGetConfigFlag => "radio-get-config-flag",
            Op::RadioGetParameter => "radio-get-parameter",
            Op::RadioCancel => "radio-cancel",
            Op::RadioTune => "radio-tune",
            Op::RadioSeek => "radio-seek",
        }
    }

    fn device(self) -> Device {
        match self {
            Op::BaseVersion | Op::ClockRateGet => Device::Scmi,
            Op::Write | Op::Read1 | Op::Read8 => Device::Rpmb,
            _ => Device::Radio,
        }
    }

    fn queue(self) -> u16 {
        0
    }

    /// The virtio-radio request this op sends, if it is a radio op.
    fn radio_request(self) -> Option<radio::ControlRequest> {
        use radio::*;
        Some(match self {
            Op::BaseVersion | Op::ClockRateGet | Op::Write | Op::Read1 | Op::Read8 => return None,
            Op::RadioGetProperties => ControlRequest::GetProperties,
            Op::RadioGetBands => ControlRequest::GetBands(GetBands { full: false }),
            Op::RadioGetProgramInfo => ControlRequest::GetProgramInfo,
            Op::RadioGetConfigFlag => ControlRequest::GetConfigFlag(ConfigFlagArgs {
                flag: FLAG_FORCE_MONO,
                value: false,
            }),
            Op::RadioGetParameter => {
                ControlRequest::GetParameter("com.drivervm.signal_threshold".into())
            }
            Op::RadioCancel => ControlRequest::Cancel,
            Op::RadioTune => ControlRequest::Tune(Selector::frequency(0)),
            Op::RadioSeek => ControlRequest::Seek(DirectionArgs {
                flags: SEEK_F_UP,
                spacing_khz: 0,
            }),
        })
    }

    /// Whether the op is measured to an event rather than to its reply.
    fn is_long(self) -> bool {
        matches!(self, Op::RadioTune | Op::RadioSeek)
    }

    fn writable_len(self) -> u32 {
        match self {
            // header, status, version
            Op::BaseVersion => 12,
            // header, status, rate low, rate high
            Op::ClockRateGet => 16,
            Op::Write | Op::Read1 => 512,
            Op::Read8 => 8 * 512,
            _ => self.radio_request().map_or(8, |r| r.response_len() as u32),
        }
    }

    fn request(self, seq: u64, clock: u32, rpmb: &rpmb_load::Session) -> Vec<u8> {
        match self {
            Op::BaseVersion => scmi_header(0x10, 0, seq as u32).to_le_bytes().to_vec(),
            Op::ClockRateGet => {
                let mut v = scmi_header(0x14, 6, seq as u32).to_le_bytes().to_vec();
                v.extend_from_slice(&clock.to_le_bytes());
                v
            }
            Op::Write => rpmb.write_request(seq),
            Op::Read1 => rpmb.read_request(seq, 1),
            Op::Read8 => rpmb.read_request(seq, 8),
            _ => self
                .radio_request()
                .map(|r| r.to_bytes())
                .unwrap_or_default(),
        }
    }

    /// The header a reply to SCMI request `seq` must echo (0 for RPMB ops, which have none).
    fn reply_header(self, seq: u64) -> u32 {
        match self {
            Op::BaseVersion => scmi_header(0x10, 0, seq as u32),
            Op::ClockRateGet => scmi_header(0x14, 6, seq as u32),
            _ => 0,
        }
    }

    /// Checks a reply; the error says what is wrong with it.
    fn check(self, seq: u64, reply: &[u8], rpmb: &rpmb_load::Session) -> Result<(), String> {
        if let Some(req) = self.radio_request() {
            return radio_check(&req, reply);
        }
        match self {
            Op::Write => rpmb.check_write(seq, reply),
            Op::Read1 => rpmb.check_read(seq, 1, reply),
            Op::Read8 => rpmb.check_read(seq, 8, reply),
            Op::BaseVersion | Op::ClockRateGet => {
                let len = self.writable_len() as usize;
                if reply.len() != len {
                    return Err(format!("reply of {} bytes, expected {len}", reply.len()));
                }
                let word = |at: usize| {
                    u32::from_le_bytes([reply[at], reply[at + 1], reply[at + 2], reply[at + 3]])
                };
                let want = self.reply_header(seq);
                if word(0) != want {
                    return Err(format!("header {:#010x}, expected {want:#010x}", word(0)));
                }
                if word(4) != 0 {
                    return Err(format!("status {}", word(4) as i32));
                }
                Ok(())
            }
            _ => Err("not an SCMI op".into()),
        }
    }
}
/// A virtio-radio reply must be OK with its body (GET_BANDS: any number of bands).
fn radio_check(req: &radio::ControlRequest, reply: &[u8]) -> Result<(), String> {
    let r = radio::Response::parse(req.code(), reply).map_err(|e| e.to_string())?;
    if r.status != radio::S_OK {
        return Err(format!("status {}", r.status));
    }
    Ok(())
}

/// virtio-radio driver steps the radio ops need.
mod radio {
    pub use drivervm::devices::radio::constants::*;
    pub use drivervm::devices::radio::wire::*;

    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};
    use drivervm::harness::Harness;

    /// Eventq buffers kept available.
    const EVENT_BUFFERS: usize = 16;

    /// Supplies the eventq with buffers.
    pub fn fill_eventq(h: &mut Harness) -> Result<()> {
        for _ in 0..EVENT_BUFFERS {
            h.submit(EVENTQ, &[], EVENT_BUF_MIN as u32)?;
        }
        Ok(())
    }

    /// Sends `req`, expects OK with an op_id, then waits for that op's TUNE_COMPLETE; returns
    /// the frequency tuned.
    pub fn operation(h: &mut Harness, req: &ControlRequest, timeout: Duration) -> Result<u32> {
        let reply = h.request(CONTROLQ, &req.to_bytes(), req.response_len() as u32)?;
        let op_id = match Response::parse(req.code(), &reply)? {
            Response {
                status: S_OK,
                body: ResponseBody::Op(o),
            } => o.op_id,
            r => bail!("{req:?} answered status {}", r.status),
        };
        let end = Instant::now() + timeout;
        loop {
            let left = end
                .checked_duration_since(Instant::now())
                .with_context(|| format!("no TUNE_COMPLETE for op {op_id}"))?;
            for c in h.wait_completions(EVENTQ, left)? {
                h.submit(EVENTQ, &[], EVENT_BUF_MIN as u32)?;
                if let Ok((
                    _,
                    Event::TuneComplete {
                        op_id: id,
                        status,
                        info,
                    },
                )) = Event::parse(&c.data)
                {
                    if id == op_id {
                        if status != S_OK {
                            bail!("op {op_id} completed with status {status}");
                        }
                        return Ok(info.frequency_khz);
                    }
                }
            }
        }
    }

    /// One line about the radio: its tuner, the stations found, and the program tuned now
    /// with its RDS.
    pub fn summary(h: &mut Harness, stations: (u32, u32)) -> Result<String> {
        let mut ask = |req: ControlRequest| -> Result<Response> {
            let reply = h.request(CONTROLQ, &req.to_bytes(), req.response_len() as u32)?;
            Ok(Response::parse(req.code(), &reply)?)
        };
        let props = match ask(ControlRequest::GetProperties)?.body {
            ResponseBody::Properties(p) => p,
            b => bail!("GET_PROPERTIES answered {b:?}"),
        };
        let info = match ask(ControlRequest::GetProgramInfo)?.body {
            ResponseBody::ProgramInfo(i) => i,
            b => bail!("GET_PROGRAM_INFO answered {b:?}"),
        };
        let text = |b: &[u8]| drivervm::devices::radio::charset::decode(b);
        Ok(format!(
            "tuner \"{}\" by \"{}\" (version {}, serial \"{}\"); seek found {} and {} kHz; \
             tuned {} kHz flags {:#x} signal {}% rds_fields {:#x} pi {:#06x} pty {} ps \"{}\" \
             rt \"{}\"",
            props.product,
            props.maker,
            props.version,
            props.serial,
            stations.0,
            stations.1,
            info.frequency_khz,
            info.info_flags,
            info.signal_quality,
            info.rds_fields,
            info.pi,
            info.pty,
            text(&info.ps),
            text(&info.rt),
        ))
    }

    /// Seeks up twice and returns the two stations found (for alternating tunes).
    pub fn two_stations(h: &mut Harness, timeout: Duration) -> Result<(u32, u32)> {
        let seek = ControlRequest::Seek(DirectionArgs {
            flags: SEEK_F_UP,
            spacing_khz: 0,
        });
        let a = operation(h, &seek, timeout)?;
        let b = operation(h, &seek, timeout)?;
        if a == b {
            bail!("the radio receives only one station ({a} kHz); radio-tune needs two");
        }
        Ok((a, b))
    }
}

/// utime + stime from the text of a `/proc/PID/stat` file, in clock ticks.
fn stat_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name the state is field 3, utime field 14 and stime field 15 (proc(5)).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// utime + stime of a process (`self` or a pid), in clock ticks.
fn cpu_ticks(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    stat_ticks(&stat).with_context(|| format!("{path}: unexpected format"))
}

fn clock_ticks_per_sec() -> Result<f64> {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => Ok(t as f64),
        other => bail!("cannot read the clock tick rate: {other:?}"),
    }
}

struct Outcome {
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    window: Duration,
    latency_ns: Histogram<u64>,
    backend_cpu: Option<f64>,
    load_cpu: f64,
    features: u64,
    /// What the device said about itself (radio: tuner, stations found, program tuned).
    device_note: Option<String>,
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|_| s.is_finite())
        .with_context(|| format!("--{what} must be a non-negative number of seconds, not {s}"))
}

fn run(args: &Args) -> Result<Outcome> {
    if args.op.device() != args.device {
        bail!(
            "op {} belongs to device {}, not {}",
            args.op.name(),
            args.op.device().name(),
            args.device.name()
        );
    }
    if args.outstanding == 0 || args.outstanding > 16384 {
        bail!("--outstanding must be 1..=16384, not {}", args.outstanding);
    }
    let duration = secs(args.duration, "duration")?;
    if duration.is_zero() {
        bail!("--duration must be more than 0");
    }
    let warmup = secs(args.warmup, "warmup")?;
    let timeout = secs(args.timeout, "timeout")?;
    let connect_timeout = secs(args.connect_timeout, "connect-timeout")?;
    let tck = clock_ticks_per_sec()?;
    let pid = args.pid.map(|p| p.to_string());
    if let Some(pid) = &pid {
        cpu_ticks(pid)?;
    }

    let op = args.op;
    let queue = op.queue();
    // Each request takes two descriptors when direct.
    let max_queue = match args.device {
        Device::Scmi | Device::Radio => 32768,
        // virtio-rpmb's request queue holds 64.
        Device::Rpmb => 64,
    };
    if args.outstanding * 2 > max_queue {
        bail!(
            "--outstanding for {} is at most {}",
            args.device.name(),
            max_queue / 2
        );
    }
    let queue_size = (args.outstanding * 2)
        .next_power_of_two()
        .clamp(16, max_queue) as u16;
    let options = HarnessOptions {
        queue_size,
        event_idx: !args.no_event_idx,
        indirect_desc: args.indirect,
        device_features: args.device.device_features(),
        timeout,
        connect_timeout,
        memory_size: (4 << 20).max(queue_size as usize * 1024),
    };
    let mut h = Harness::connect(&args.socket, args.device.num_queues(), &options)?;
    let rpmb = match args.device {
        Device::Rpmb => rpmb_load::Session::start(&mut h, &args.rpmb_key)?,
        Device::Scmi | Device::Radio => rpmb_load::Session::unused(),
    };
    if args.indirect
        && h.acked_features() & (1 << drivervm::harness::VIRTIO_RING_F_INDIRECT_DESC) == 0
    {
        bail!("the backend does not offer VIRTIO_RING_F_INDIRECT_DESC (--indirect)");
    }
    let layout = if args.indirect {
        ChainLayout::Indirect
    } else {
        ChainLayout::Direct
    };
    let mut stations = None;
    if op.device() == Device::Radio {
        radio::fill_eventq(&mut h)?;
        // Long enough for a full-band sweep of a slow tuner (the spec's 30 s bound).
        let op_timeout = Duration::from_secs(31);
        let found = radio::two_stations(&mut h, op_timeout)?;
        stations = Some(found);
        if op.is_long() {
            if args.interval_us.is_some() {
                bail!("{} cannot be paced: drop --interval-us", op.name());
            }
            if args.outstanding != 1 {
                bail!(
                    "{} measures one operation at a time: use --outstanding 1",
                    op.name()
                );
            }
            return run_long(args, h, found, op_timeout, warmup, duration, pid, tck);
        }
    }

    let mut latency_ns = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)
        .context("creating the latency histogram")?;
    let mut pending: HashMap<u16, (Instant, u64)> = HashMap::with_capacity(args.outstanding);
    let (mut ops, mut errors, mut first_error) = (0u64, 0u64, None);
    let mut next_seq = 0u64;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut window_start: Option<(Instant, Option<u64>, u64)> = None;
    let mut now = start;
    let interval = args.interval_us.map(Duration::from_micros);
    let mut next_send = start;
    while now < end {
        if window_start.is_none() && now >= measure_from {
            let backend = pid.as_deref().map(cpu_ticks).transpose()?;
            window_start = Some((now, backend, cpu_ticks("self")?));
        }
        let mut added = false;
        while pending.len() < args.outstanding {
            if let Some(interval) = interval {
                // Sleeping would overshoot by tens of microseconds; the pacing is the point.
                while Instant::now() < next_send {
                    std::hint::spin_loop();
                }
                next_send = Instant::now() + interval;
            }
            let req = op.request(next_seq, args.clock, &rpmb);
            let segs = [
                Segment::Readable(&req),
                Segment::Writable(op.writable_len()),
            ];
            let head = h.add_chain(queue, &segs, layout)?;
            pending.insert(head, (Instant::now(), next_seq));
            next_seq += 1;
            added = true;
        }
        if added {
            h.kick(queue)?;
        }
        let done = h.wait_completions(queue, timeout)?;
        now = Instant::now();
        let recording = window_start.is_some();
        for c in done {
            let (sent, seq) = pending
                .remove(&c.head)
                .with_context(|| format!("completion for head {} not in flight", c.head))?;
            if !recording {
                continue;
            }
            match op.check(seq, &c.data, &rpmb) {
                Ok(()) => {
                    ops += 1;
                    let ns = u64::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
                    latency_ns.saturating_record(ns.max(1));
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    let (t0, backend0, self0) = window_start.context("the measured window never started")?;
    let window = now.duration_since(t0);
    let backend_cpu = match (&pid, backend0) {
        (Some(pid), Some(b0)) => {
            let b1 = cpu_ticks(pid)?;
            Some(b1.saturating_sub(b0) as f64 / tck / window.as_secs_f64() * 100.0)
        }
        _ => None,
    };
    let load_cpu =
        cpu_ticks("self")?.saturating_sub(self0) as f64 / tck / window.as_secs_f64() * 100.0;
    // Let the backend finish what is in flight before hanging up cleanly.
    while !pending.is_empty() {
        for c in h.wait_completions(queue, timeout)? {
            pending.remove(&c.head);
        }
    }
    let device_note = match stations {
        Some(st) => Some(radio::summary(&mut h, st)?),
        None => None,
    };
    let features = h.acked_features();
    h.disconnect()?;
    Ok(Outcome {
        ops,
        errors,
        first_error,
        window,
        latency_ns,
        backend_cpu,
        load_cpu,
        features,
        device_note,
    })
}

/// The loop of the radio long operations: one at a time, each measured from submitting the
/// request to its TUNE_COMPLETE event.
#[allow(clippy::too_many_arguments)]
fn run_long(
    args: &Args,
    mut h: Harness,
    stations: (u32, u32),
    op_timeout: Duration,
    warmup: Duration,
    duration: Duration,
    pid: Option<String>,
    tck: f64,
) -> Result<Outcome> {
    let mut latency_ns = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)
        .context("creating the latency histogram")?;
    let (mut ops, mut errors, mut first_error) = (0u64, 0u64, None);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut window_start: Option<(Instant, Option<u64>, u64)> = None;
    let mut now = start;
    let mut seq = 0u64;
    while now < end {
        if window_start.is_none() && now >= measure_from {
            let backend = pid.as_deref().map(cpu_ticks).transpose()?;
            window_start = Some((now, backend, cpu_ticks("self")?));
        }
        let req = match args.op {
            Op::RadioTune => {
                let khz = if seq % 2 == 0 { stations.0 } else { stations.1 };
                radio::ControlRequest::Tune(radio::Selector::frequency(khz))
            }
            _ => radio::ControlRequest::Seek(radio::DirectionArgs {
                flags: radio::SEEK_F_UP,
                spacing_khz: 0,
            }),
        };
        seq += 1;
        let sent = Instant::now();
        let result = radio::operation(&mut h, &req, op_timeout);
        now = Instant::now();
        if window_start.is_none() {
            continue;
        }
        match result {
            Ok(_) => {
                ops += 1;
                let ns = u64::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
                latency_ns.saturating_record(ns.max(1));
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }
    let (t0, backend0, self0) = window_start.context("the measured window never started")?;
    let window = now.duration_since(t0);
    let backend_cpu = match (&pid, backend0) {
        (Some(pid), Some(b0)) => {
            let b1 = cpu_ticks(pid)?;
            Some(b1.saturating_sub(b0) as f64 / tck / window.as_secs_f64() * 100.0)
        }
        _ => None,
    };
    let load_cpu =
        cpu_ticks("self")?.saturating_sub(self0) as f64 / tck / window.as_secs_f64() * 100.0;
    let device_note = Some(radio::summary(&mut h, stations)?);
    let features = h.acked_features();
    h.disconnect()?;
    Ok(Outcome {
        ops,
        errors,
        first_error,
        window,
        latency_ns,
        backend_cpu,
        load_cpu,
        features,
        device_note,
    })
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn report(args: &Args, o: &Outcome) {
    let rate = o.ops as f64 / o.window.as_secs_f64();
    let q = |p: f64| us(o.latency_ns.value_at_quantile(p));
    if args.json {
        let v = serde_json::json!({
            "socket": args.socket.display().to_string(),
            "device": args.device.name(),
            "op": args.op.name(),
            "outstanding": args.outstanding,
            "interval_us": args.interval_us,
            "warmup_s": args.warmup,
            "duration_s": o.window.as_secs_f64(),
            "features": format!("{:#x}", o.features),
            "indirect": args.indirect,
            "ops": o.ops,
            "errors": o.errors,
            "first_error": o.first_error,
            "ops_per_sec": rate,
            "latency_us": {
                "p50": q(0.5), "p99": q(0.99), "p999": q(0.999),
                "max": us(o.latency_ns.max()), "mean": o.latency_ns.mean() / 1000.0,
            },
            "backend_pid": args.pid,
            "backend_cpu_percent": o.backend_cpu,
            "load_cpu_percent": o.load_cpu,
            "device_state": o.device_note,
        });
        println!("{v}");
        return;
    }
    println!(
        "drivervm-load: {} {} on {}, {} outstanding, {:.2} s measured after {} s warm-up",
        args.device.name(),
        args.op.name(),
        args.socket.display(),
        args.outstanding,
        o.window.as_secs_f64(),
        args.warmup
    );
    if let Some(iv) = args.interval_us {
        println!("  paced      one request at least every {iv} us");
    }
    println!("  ops        {} ({} errors)", o.ops, o.errors);
    if let Some(e) = &o.first_error {
        println!("  first error: {e}");
    }
    println!("  throughput {rate:.0} ops/s");
    println!(
        "  latency us p50 {:.1}  p99 {:.1}  p999 {:.1}  max {:.1}",
        q(0.5),
        q(0.99),
        q(0.999),
        us(o.latency_ns.max())
    );
    if let (Some(pid), Some(cpu)) = (args.pid, o.backend_cpu) {
        println!("  backend cpu (pid {pid}) {cpu:.1} % of one core");
    }
    println!("  load tool cpu {:.1} % of one core", o.load_cpu);
    if let Some(note) = &o.device_note {
        println!("  {} {note}", args.device.name());
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(outcome) => {
            report(&args, &outcome);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("drivervm-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_skips_a_tricky_command_name() {
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 456 0 0 20 0 3 0";
        assert_eq!(stat_ticks(stat), Some(123 + 456));
        assert_eq!(stat_ticks("4242 (x) S 1 2"), None);
    }

    #[test]
    fn base_version_request_and_check() {
        let none = rpmb_load::Session::unused();
        assert_eq!(
            Op::BaseVersion.request(0, 0, &none),
            [0x00, 0x40, 0x00, 0x00]
        );
        // Token 5 sits in bits 27:18.
        assert_eq!(
            Op::BaseVersion.request(5, 0, &none),
            (0x4000u32 | 5 << 18).to_le_bytes()
        );
        let mut reply = Vec::new();
        reply.extend_from_slice(&(0x4000u32 | 5 << 18).to_le_bytes());
        reply.extend_from_slice(&0i32.to_le_bytes());
        reply.extend_from_slice(&0x0002_0000u32.to_le_bytes());
        assert_eq!(Op::BaseVersion.check(5, &reply, &none), Ok(()));
        assert!(Op::BaseVersion.check(6, &reply, &none).is_err());
        reply[4..8].copy_from_slice(&(-3i32).to_le_bytes()); // NOT_FOUND
        assert_eq!(
            Op::BaseVersion.check(5, &reply, &none),
            Err("status -3".into())
        );
        assert!(Op::BaseVersion.check(5, &reply[..8], &none).is_err());
    }

    #[test]
    fn clock_rate_get_request_and_check() {
        let none = rpmb_load::Session::unused();
        // CLOCK_RATE_GET (0x6) of protocol 0x14, token 7, clock 4.
        let header = 0x6u32 | 0x14 << 10 | 7 << 18;
        let mut want = header.to_le_bytes().to_vec();
        want.extend_from_slice(&4u32.to_le_bytes());
        assert_eq!(Op::ClockRateGet.request(7, 4, &none), want);
        let mut reply = header.to_le_bytes().to_vec();
        reply.extend_from_slice(&0i32.to_le_bytes());
        reply.extend_from_slice(&19_200_000u32.to_le_bytes());
        reply.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(Op::ClockRateGet.check(7, &reply, &none), Ok(()));
        assert!(Op::ClockRateGet.check(8, &reply, &none).is_err());
        assert!(Op::ClockRateGet.check(7, &reply[..12], &none).is_err());
        reply[4..8].copy_from_slice(&(-4i32).to_le_bytes());
        assert_eq!(
            Op::ClockRateGet.check(7, &reply, &none),
            Err("status -4".into())
        );
    }

    #[test]
    fn radio_requests_and_checks_follow_the_spec() {
        let none = rpmb_load::Session::unused();
        let props = Op::RadioGetProperties.request(0, 0, &none);
        assert_eq!(props, [1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Op::RadioGetProperties.writable_len(), 8 + 136);
        assert_eq!(Op::RadioGetProgramInfo.writable_len(), 8 + 96);
        assert_eq!(
            Op::RadioCancel.request(3, 0, &none),
            [6, 0, 0, 0, 0, 0, 0, 0]
        );
        let mut ok = vec![0u8; 16];
        assert_eq!(Op::RadioCancel.check(0, &ok, &none), Ok(()));
        ok[0] = 8; // BUSY
        ok.truncate(8);
        assert_eq!(Op::RadioCancel.check(0, &ok, &none), Err("status 8".into()));
        assert!(Op::RadioGetProgramInfo.check(0, &[0u8; 16], &none).is_err());
        assert!(Op::RadioTune.is_long() && !Op::RadioGetBands.is_long());
    }

    #[test]
    fn every_op_belongs_to_its_device() {
        for op in Op::value_variants() {
            assert!(Device::value_variants().contains(&op.device()));
        }
    }
}
