//! drivervm-ctlbench: measures the control plane from a client's side: calls
//! `IDriverVm.listDevices` (what `drivervmctl status` asks) repeatedly and reports round-trip
//! latency percentiles. With --interval it is also the "client polling status" load for
//! measuring what polling costs the devices (tools/perf/control_bench.sh).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use drivervm::control::{self, iface::IDriverVm::IDriverVm, Target};
use hdrhistogram::Histogram;

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "drivervm-ctlbench",
    version,
    about = "control plane round-trip benchmark"
)]
struct Args {
    /// The service: unix:PATH or vsock:CID:PORT.
    #[arg(long, value_name = "TARGET")]
    connect: Target,
    /// Pause between calls in milliseconds; 0 calls back to back.
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    interval: f64,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    duration: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn run(args: &Args) -> Result<()> {
    if !(args.interval >= 0.0 && args.duration > 0.0) {
        bail!("--interval must be >= 0 and --duration > 0");
    }
    let conn = control::connect(&args.connect, false)?;
    let svc = &conn.service;
    let devices = svc
        .r#listDevices()
        .map_err(|s| anyhow::anyhow!(control::describe_status(&s).1))?
        .len();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).context("histogram")?;
    let interval = Duration::from_secs_f64(args.interval / 1000.0);
    let end = Instant::now() + Duration::from_secs_f64(args.duration);
    let mut calls = 0u64;
    while Instant::now() < end {
        let t = Instant::now();
        let list = svc
            .r#listDevices()
            .map_err(|s| anyhow::anyhow!(control::describe_status(&s).1))?;
        let us = t.elapsed().as_micros() as u64;
        if list.len() != devices {
            bail!("device list changed size: {} then {}", devices, list.len());
        }
        hist.record(us.max(1)).context("record")?;
        calls += 1;
        if !interval.is_zero() {
            std::thread::sleep(interval);
        }
    }
    let q = |p: f64| hist.value_at_quantile(p);
    if args.json {
        println!(
            "{{\"devices\":{devices},\"calls\":{calls},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
            q(0.5),
            q(0.99),
            hist.max()
        );
    } else {
        println!(
            "listDevices ({devices} devices): {calls} calls, p50 {} us, p99 {} us, max {} us",
            q(0.5),
            q(0.99),
            hist.max()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drivervm-ctlbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
