//! drivervm-pcm: plays a raw file into, or records one from, an ALSA PCM device through
//! drivervm's own ALSA uAPI backend, paced exactly as the virtio-snd device paces it.
//! For codec bring-up on a new board, and for the snd-aloop test of the backend.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use drivervm::hw::pcm::alsa::{AlsaCapture, AlsaPlayback};
use drivervm::hw::pcm::{PcmCapture, PcmParams, PcmPlayback, SampleFormat};

/// Command line.
#[derive(Parser, Debug)]
#[command(
    name = "drivervm-pcm",
    version,
    about = "ALSA PCM I/O through drivervm's backend"
)]
struct Args {
    /// ALSA card number.
    #[arg(long, default_value_t = 0)]
    card: u32,
    /// PCM device number on the card.
    #[arg(long, default_value_t = 0)]
    device: u32,
    /// Sample format: u8, s16, s24, s24_3, s32, float.
    #[arg(long, default_value = "s16")]
    format: String,
    /// Frames per second.
    #[arg(long, default_value_t = 48000)]
    rate: u32,
    /// Channels.
    #[arg(long, default_value_t = 2)]
    channels: u8,
    /// Frames per period.
    #[arg(long, default_value_t = 480)]
    period_frames: u32,
    /// What to do.
    #[command(subcommand)]
    cmd: Cmd,
}

/// Direction.
#[derive(Subcommand, Debug)]
enum Cmd {
    /// Plays the raw interleaved samples of FILE.
    Play {
        /// Raw sample file.
        file: PathBuf,
    },
    /// Records FRAMES frames into FILE (raw interleaved samples).
    Record {
        /// Frames to record.
        frames: u64,
        /// Output file.
        file: PathBuf,
    },
}

fn run(args: Args) -> Result<()> {
    let Some(format) = SampleFormat::from_name(&args.format) else {
        bail!("unknown format {}", args.format);
    };
    let frame = format.bytes() * u32::from(args.channels);
    let params = PcmParams {
        format,
        rate: args.rate,
        channels: args.channels,
        period_bytes: args.period_frames * frame,
        buffer_bytes: 4 * args.period_frames * frame,
    };
    let period = Duration::from_nanos(
        u64::from(params.period_bytes) * 1_000_000_000 / params.byte_rate().max(1),
    );
    let chunk = params.period_bytes as usize;
    match args.cmd {
        Cmd::Play { file } => {
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut pcm = AlsaPlayback::new(args.card, args.device);
            pcm.check(&params)?;
            pcm.open(&params)?;
            pcm.start()?;
            let t0 = Instant::now();
            for (k, piece) in data.chunks(chunk).enumerate() {
                // Each period is handed over when its play time has elapsed, as the device does.
                let due = t0 + period * (k as u32 + 1);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                pcm.write(piece)?;
            }
            std::thread::sleep(period * 3);
            pcm.close();
        }
        Cmd::Record { frames, file } => {
            let mut pcm = AlsaCapture::new(args.card, args.device);
            pcm.check(&params)?;
            pcm.open(&params)?;
            pcm.start()?;
            let total = frames * u64::from(frame);
            let mut out = Vec::with_capacity(total as usize);
            let t0 = Instant::now();
            let mut k = 0u32;
            while (out.len() as u64) < total {
                k += 1;
                let due = t0 + period * k;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let n = chunk.min((total - out.len() as u64) as usize);
                let mut buf = vec![0; n];
                pcm.read(&mut buf)?;
                out.extend_from_slice(&buf);
            }
            pcm.close();
            std::fs::write(&file, out).with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("drivervm-pcm: {e:#}");
            ExitCode::FAILURE
        }
    }
}
