//! drivervm-snd-bench: measures a virtio-snd vhost-user backend's playback as a guest sees
//! it: period completion timing and, with --pid, the backend's CPU use. Works with any
//! virtio-snd backend (ours, vhost-device-sound) whose stream 0 is an output offering S16
//! stereo 48 kHz.
//!
//! Two ways to feed it:
//! - `--pace device` (default): keep --periods periods queued and refill on each
//!   completion, so the device's completions set the pace (what a guest's ALSA driver sees
//!   from a device that plays in real time);
//! - `--pace driver`: queue --periods periods, then submit one more every period on the
//!   bench's own clock, so a backend that completes buffers on arrival still gets exactly
//!   one period per period of traffic and CPU use compares like for like.
//!
//! Each completion's offset from START + k periods is recorded; jitter is the spread of the
//! offsets around their median (a constant offset is latency), "early" counts completions
//! ahead of their time (audio consumed faster than real time). The first --periods
//! completions (the buffers queued before START) are left out of the statistics: with
//! `--pace driver` a backend that completes on arrival returns them all at START, a
//! start-up transient rather than jitter.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use drivervm::harness::{Harness, HarnessOptions};

const CONTROLQ: u16 = 0;
const TXQ: u16 = 2;
const OK: u32 = 0x8000;

/// Who sets the pace of the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Pace {
    /// Refill on completion: the device's clock.
    Device,
    /// One period per period on the bench's clock.
    Driver,
}

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "drivervm-snd-bench",
    version,
    about = "virtio-snd pacing benchmark"
)]
struct Args {
    /// vhost-user socket of the backend.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// Measured seconds of playback.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Period length in milliseconds (48 kHz stereo S16).
    #[arg(long, default_value_t = 10)]
    period_ms: u32,
    /// Periods queued at START.
    #[arg(long, default_value_t = 4)]
    periods: u32,
    /// Who paces the traffic.
    #[arg(long, value_enum, default_value_t = Pace::Device)]
    pace: Pace,
    /// Entries per virtqueue (vhost-device-sound accepts at most 64).
    #[arg(long, default_value_t = 64)]
    queue_size: u16,
    /// Do not negotiate VIRTIO_RING_F_EVENT_IDX (notify on every buffer).
    #[arg(long)]
    no_event_idx: bool,
    /// Backend process whose CPU use to report (all its threads).
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Name printed at the start of the result line.
    #[arg(long, default_value = "backend")]
    label: String,
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("stat format")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| -> Result<u64> { Ok(f.get(i).context("stat format")?.parse()?) };
    Ok(t(11)? + t(12)?)
}

fn status(h: &mut Harness, req: &[u8]) -> Result<u32> {
    let r = h.request(CONTROLQ, req, 4)?;
    let b = r.get(..4).context("short reply")?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Signed offset of `now` from `ideal`, in microseconds.
fn offset_us(now: Instant, ideal: Instant) -> i64 {
    if now >= ideal {
        (now - ideal).as_micros() as i64
    } else {
        -((ideal - now).as_micros() as i64)
    }
}

fn run(args: Args) -> Result<()> {
    if args.periods == 0 || args.period_ms == 0 {
        bail!("--periods and --period-ms must be at least 1");
    }
    let period_bytes = 48 * 4 * args.period_ms;
    let period = Duration::from_millis(u64::from(args.period_ms));
    let options = HarnessOptions {
        queue_size: args.queue_size,
        event_idx: !args.no_event_idx,
        ..HarnessOptions::default()
    };
    let mut h = Harness::connect(&args.socket, 4, &options)?;
    let mut sp = words(&[0x101, 0, period_bytes * args.periods, period_bytes, 0]);
    sp.extend_from_slice(&[2, 5, 7, 0]);
    for (what, req) in [("SET_PARAMS", sp), ("PREPARE", words(&[0x102, 0]))] {
        let st = status(&mut h, &req)?;
        if st != OK {
            bail!("{what} answered {st:#x}");
        }
    }
    let mut msg = 0u32.to_le_bytes().to_vec();
    msg.resize(4 + period_bytes as usize, 0);
    for _ in 0..args.periods {
        h.submit(TXQ, &msg, 8)?;
    }
    let total = (args.duration * 1000.0 / f64::from(args.period_ms)) as usize;
    if total <= args.periods as usize {
        bail!("--duration must span more than --periods periods");
    }
    let cpu0 = args.pid.map(cpu_ticks).transpose()?;
    let t0 = Instant::now();
    if status(&mut h, &words(&[0x104, 0]))? != OK {
        bail!("START refused");
    }
    let mut offsets = Vec::with_capacity(total);
    let mut submitted = args.periods as usize;
    while offsets.len() < total {
        let wait = match args.pace {
            // Wake for the next submission, or sooner for a completion.
            Pace::Driver if submitted < total => {
                let due = t0 + period * (submitted + 1 - args.periods as usize) as u32;
                if Instant::now() >= due {
                    let now = Instant::now();
                    for _ in h.poll_completions(TXQ)? {
                        let k = offsets.len() as u32 + 1;
                        offsets.push(offset_us(now, t0 + period * k));
                    }
                    h.submit(TXQ, &msg, 8)?;
                    submitted += 1;
                    continue;
                }
                due.saturating_duration_since(Instant::now())
                    .max(Duration::from_micros(50))
            }
            _ => Duration::from_secs(2),
        };
        let done = match h.wait_completions(TXQ, wait) {
            Ok(done) => done,
            // A bench that fell behind its clock collects before it catches up, so only a
            // backend that holds buffers can run the ring out.
            Err(_) if wait < Duration::from_secs(2) => h.poll_completions(TXQ)?,
            Err(e) => return Err(e).context("no completion within 2 s"),
        };
        let now = Instant::now();
        for _ in done {
            let k = offsets.len() as u32 + 1;
            offsets.push(offset_us(now, t0 + period * k));
            if args.pace == Pace::Device {
                h.submit(TXQ, &msg, 8)?;
            }
        }
    }
    let wall = t0.elapsed();
    let cpu = match (args.pid, cpu0) {
        (Some(pid), Some(c0)) => {
            let ticks = cpu_ticks(pid)? - c0;
            let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
                .ok()
                .flatten()
                .unwrap_or(100) as f64;
            Some(ticks as f64 / hz / wall.as_secs_f64() * 100.0)
        }
        _ => None,
    };
    let _ = status(&mut h, &words(&[0x105, 0]));
    let _ = status(&mut h, &words(&[0x103, 0]));
    let offsets = offsets.split_off(args.periods as usize);
    let mut sorted = offsets.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let mut dev: Vec<u64> = offsets.iter().map(|o| o.abs_diff(median)).collect();
    dev.sort_unstable();
    let pct = |p: f64| dev[((dev.len() as f64 * p) as usize).min(dev.len() - 1)];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} pace={:?} periods={total} measured={} period_ms={} wall_s={:.3} expected_s={:.3} \
         median_offset_us={median} jitter_us p50={} p99={} max={} early={}{} loadavg={}",
        args.label,
        args.pace,
        offsets.len(),
        args.period_ms,
        wall.as_secs_f64(),
        (period * total as u32).as_secs_f64(),
        pct(0.5),
        pct(0.99),
        dev[dev.len() - 1],
        offsets.iter().filter(|o| **o < 0).count(),
        cpu.map_or(String::new(), |c| format!(" backend_cpu_pct={c:.2}")),
        load.split_whitespace().next().unwrap_or("?"),
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drivervm-snd-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
