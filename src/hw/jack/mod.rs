//! Jack presence detection: where a virtio-snd jack's "something is plugged in" comes from.
//!
//! One trait, [`JackSource`], with two backends:
//! - real: [`alsa`] reads a boolean ALSA control element (the kernel's "Headphone Jack" and
//!   friends) through the control uAPI on `/dev/snd/controlC<card>`, woken by its events;
//! - simulated: [`sim`] reads "1" or "0" from a file an operator or a test writes, woken by
//!   inotify.
//!
//! [`spawn_watch`] runs a source on its own thread and reports each change to a
//! [`JackListener`] (the service's is the sound device's host handle).

pub mod alsa;
pub mod ctl_uapi;
pub mod sim;

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use log::{info, warn};

/// Why a jack's state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JackError {
    /// An OS call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The card has no control element of that name.
    #[error("card {card} has no control \"{control}\"")]
    NotFound {
        /// ALSA card number.
        card: u32,
        /// The element name looked for.
        control: String,
    },
    /// The element is not a readable boolean.
    #[error("control \"{control}\" on card {card} is not a readable boolean (type {elem_type}, {count} values)")]
    NotBoolean {
        /// ALSA card number.
        card: u32,
        /// The element name.
        control: String,
        /// Its `SNDRV_CTL_ELEM_TYPE_*`.
        elem_type: i32,
        /// Its value count.
        count: u32,
    },
    /// A simulated jack's file holds something other than "1" or "0".
    #[error("{}: expected \"1\" or \"0\", found {found:?}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it held (at most 16 bytes of it).
        found: String,
    },
}

impl JackError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// A source of truth for one jack's plugged state.
pub trait JackSource: Send {
    /// Description for logs.
    fn describe(&self) -> String;

    /// Whether something is plugged in now.
    fn read(&mut self) -> Result<bool, JackError>;

    /// Waits at most `timeout` for a sign that the state may have changed; `Ok(true)` if
    /// one came (the caller then reads), `Ok(false)` on timeout.
    fn wait(&mut self, timeout: Duration) -> Result<bool, JackError>;
}

/// Receives a watched jack's changes.
pub trait JackListener: Send + 'static {
    /// The jack is now `connected`; `false` ends the watch.
    fn changed(&mut self, connected: bool) -> bool;

    /// Whether anyone still wants changes; `false` ends the watch.
    fn wanted(&self) -> bool;
}

/// Longest wait between two reads while the source cannot be read (a card not there yet or
/// gone, a missing file): bounds how late it is noticed coming back.
pub const WAIT_SLICE: Duration = Duration::from_millis(500);

/// Longest wait while the source reads fine: its own events (control element changes,
/// inotify, a card going away) wake the watcher, so this only bounds how long a watcher
/// outlives a listener that left. A driver VM's idle jacks thus cost no wake-ups.
pub const HEALTHY_SLICE: Duration = Duration::from_secs(30);

/// Reads `source` once, falling back to `fallback` (with a warning) if it cannot be read:
/// the state a jack starts in.
pub fn initial_state(name: &str, source: &mut dyn JackSource, fallback: bool) -> bool {
    match source.read() {
        Ok(s) => s,
        Err(e) => {
            warn!(
                "{name}: {}: {e}; starting {}",
                source.describe(),
                if fallback {
                    "connected"
                } else {
                    "disconnected"
                }
            );
            fallback
        }
    }
}

/// Watches `source` on a new thread named `name`, starting from state `initial`, and tells
/// `listener` of every change until it no longer wants them.
pub fn spawn_watch(
    name: &str,
    mut source: Box<dyn JackSource>,
    initial: bool,
    mut listener: impl JackListener,
) -> std::io::Result<JoinHandle<()>> {
    let tag = name.to_owned();
    std::thread::Builder::new()
        .name(thread_name(name))
        .spawn(move || {
            crate::thread_role::enter(crate::thread_role::ThreadRole::JackWatch);
            info!("{tag}: watching {}", source.describe());
            let mut last = initial;
            // The last error logged: a source that stays broken is reported once.
            let mut failing: Option<String> = None;
            // Whether the last read worked; not known before the first one here (the initial
            // state may have been a fallback), so that one comes after a short wait.
            let mut healthy = false;
            while listener.wanted() {
                let slice = if healthy { HEALTHY_SLICE } else { WAIT_SLICE };
                let waited = source.wait(slice).and_then(|_| source.read());
                healthy = waited.is_ok();
                match waited {
                    Ok(state) => {
                        if failing.take().is_some() {
                            info!("{tag}: {} readable again", source.describe());
                        }
                        if state != last {
                            last = state;
                            info!("{tag}: {}", if state { "plugged in" } else { "unplugged" });
                            if !listener.changed(state) {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if failing.as_deref() != Some(msg.as_str()) {
                            warn!(
                                "{tag}: {msg}; keeping {}",
                                if last { "connected" } else { "disconnected" }
                            );
                            failing = Some(msg);
                        }
                        // A failing source may fail at once: do not spin on it.
                        std::thread::sleep(WAIT_SLICE);
                    }
                }
            }
        })
}

/// Thread names are cut at 15 bytes by the kernel; keep the end, which names the jack.
fn thread_name(name: &str) -> String {
    let mut start = name.len().saturating_sub(15);
    while !name.is_char_boundary(start) {
        start += 1;
    }
    name[start..].to_owned()
}

#[cfg(test)]
mod tests;
