//! drivervm-snd-bench: measures a virtio-snd vhost-user backend's playback pacing as a guest
//! sees it: period completion jitter (each completion against START + k periods) and,
//! with --pid, the backend's CPU use. Works with any virtio-snd backend (ours,
//! vhost-device-sound) whose stream 0 is an output offering S16 stereo 48 kHz.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use drivervm::harness::{Harness, HarnessOptions};

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
    /// Periods queued at once.
    #[arg(long, default_value_t = 4)]
    periods: u32,
    /// Backend process whose CPU use to report.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
}

fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("stat format")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| -> Result<u64> { Ok(f.get(i).context("stat format")?.parse()?) };
    Ok(t(11)? + t(12)?)
}

fn status(h: &mut Harness, req: &[u8]) -> Result<u32> {
    let r = h.request(0, req, 4)?;
    let b = r.get(..4).context("short reply")?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn run(args: Args) -> Result<()> {
    let period_bytes = 48 * 4 * args.period_ms;
    let period = Duration::from_millis(u64::from(args.period_ms));
    let mut h = Harness::connect(&args.socket, 4, &HarnessOptions::default())?;
    let mut sp = words(&[0x101, 0, period_bytes * args.periods, period_bytes, 0]);
    sp.extend_from_slice(&[2, 5, 7, 0]);
    for (what, req) in [("SET_PARAMS", sp), ("PREPARE", words(&[0x102, 0]))] {
        let st = status(&mut h, &req)?;
        if st != 0x8000 {
            bail!("{what} answered {st:#x}");
        }
    }
    let mut msg = 0u32.to_le_bytes().to_vec();
    msg.resize(4 + period_bytes as usize, 0);
    for _ in 0..args.periods {
        h.submit(2, &msg, 8)?;
    }
    let total = (args.duration * 1000.0 / f64::from(args.period_ms)) as usize;
    let cpu0 = args.pid.map(cpu_ticks).transpose()?;
    let t0 = Instant::now();
    if status(&mut h, &words(&[0x104, 0]))? != 0x8000 {
        bail!("START refused");
    }
    let mut lateness = Vec::with_capacity(total);
    while lateness.len() < total {
        for _ in h.wait_completions(2, Duration::from_secs(2))? {
            let k = lateness.len() as u32 + 1;
            let now = Instant::now();
            // Signed offset of this completion from its ideal time, in microseconds.
            let ideal = t0 + period * k;
            let off = if now >= ideal {
                (now - ideal).as_micros() as i64
            } else {
                -((ideal - now).as_micros() as i64)
            };
            lateness.push(off);
            h.submit(2, &msg, 8)?;
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
    // Jitter: spread of the offsets around their median (a constant offset is latency).
    let mut sorted = lateness.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let mut dev: Vec<u64> = lateness.iter().map(|o| o.abs_diff(median)).collect();
    dev.sort_unstable();
    let pct = |p: f64| dev[((dev.len() as f64 * p) as usize).min(dev.len() - 1)];
    println!(
        "periods={total} period_ms={} wall_s={:.3} expected_s={:.3} median_offset_us={median} \
         jitter_us p50={} p99={} max={} early={}{}",
        args.period_ms,
        wall.as_secs_f64(),
        (period * total as u32).as_secs_f64(),
        pct(0.5),
        pct(0.99),
        dev[dev.len() - 1],
        lateness.iter().filter(|o| **o < 0).count(),
        cpu.map_or(String::new(), |c| format!(" backend_cpu_pct={c:.2}")),
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
