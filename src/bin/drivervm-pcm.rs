//! drivervm-pcm: plays a raw file into, or records one from, an ALSA PCM device through
//! drivervm's own ALSA uAPI backend, paced exactly as the virtio-snd device paces it.
//! For codec bring-up on a new board, and for the snd-aloop test of the backend. `jack`
//! does the same for jack detection: it follows a boolean control element through the
//! ALSA jack backend and watcher the service uses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use drivervm::hw::jack::alsa::{AlsaJack, UserElement};
use drivervm::hw::jack::{spawn_watch, JackListener, JackSource};
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
    /// Prints the state of boolean control NAME on --card and each change of it, until
    /// CHANGES changes were seen (fails after --timeout-s seconds).
    Jack {
        /// The control element's name, such as "Headphone Jack".
        name: String,
        /// Changes to wait for.
        changes: u32,
        /// First add NAME as a user control (off), removed on exit: stands in for a
        /// codec's jack detection on cards without one.
        #[arg(long)]
        add: bool,
        /// Seconds to wait for the changes.
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
    },
}

/// Forwards a watched jack's changes to the main thread.
struct Changes(std::sync::mpsc::Sender<bool>);

impl JackListener for Changes {
    fn changed(&mut self, connected: bool) -> bool {
        self.0.send(connected).is_ok()
    }
    fn wanted(&self) -> bool {
        true
    }
}

fn watch_jack(card: u32, name: &str, changes: u32, add: bool, timeout: Duration) -> Result<()> {
    use std::io::Write;
    let _element = if add {
        let e = UserElement::add(card, name)?;
        println!("jack: added");
        Some(e)
    } else {
        None
    };
    let mut jack = AlsaJack::new(card, name);
    let initial = jack.read()?;
    println!("jack: initial {}", u8::from(initial));
    std::io::stdout().flush()?;
    let (tx, rx) = std::sync::mpsc::channel();
    spawn_watch("jack", Box::new(jack), initial, Changes(tx))?;
    let deadline = Instant::now() + timeout;
    for _ in 0..changes {
        let left = deadline.saturating_duration_since(Instant::now());
        let state = rx
            .recv_timeout(left)
            .with_context(|| format!("no change of \"{name}\" within {timeout:?}"))?;
        println!("jack: {}", u8::from(state));
        std::io::stdout().flush()?;
    }
    Ok(())
}

fn run(args: Args) -> Result<()> {
    if let Cmd::Jack {
        name,
        changes,
        add,
        timeout_s,
    } = &args.cmd
    {
        return watch_jack(
            args.card,
            name,
            *changes,
            *add,
            Duration::from_secs(*timeout_s),
        );
    }
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
        Cmd::Jack { .. } => {}
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
