//! The simulated jack: its state is the content of a file, "1" (plugged in) or "0"
//! (unplugged), so an operator or a test plugs it with `echo 0 > FILE`. Writes are noticed
//! through inotify on the file's directory (a close after writing, or a file renamed into
//! place). While the file reads fine the watcher sleeps until inotify wakes it (at most
//! [`super::HEALTHY_SLICE`]); while it does not, or if its directory cannot be watched, the
//! file is re-read every [`super::WAIT_SLICE`]. A directory removed or moved away is
//! watched again, on its path, once the file reads again.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::warn;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::{JackError, JackSource};

/// Most bytes read from the file: "1\n" fits many times over.
const MAX_READ: u64 = 16;

/// A jack whose state lives in a file.
pub struct SimJack {
    path: PathBuf,
    /// The file name inotify reports for it in its directory.
    file_name: Option<OsString>,
    /// `None` if the directory cannot be watched (yet, or any more): the watcher then reads
    /// once per wait slice, and each read tries to watch it again.
    inotify: Option<Inotify>,
}

impl SimJack {
    /// A jack reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let file_name = path.file_name().map(|n| n.to_owned());
        let inotify = match watch_dir(&path) {
            Ok(i) => Some(i),
            Err(e) => {
                warn!(
                    "{}: cannot watch with inotify ({e}); polling it instead",
                    path.display()
                );
                None
            }
        };
        Self {
            path,
            file_name,
            inotify,
        }
    }

    /// Writes `connected` to the file if it does not exist yet, so it starts in that state
    /// and an operator finds it.
    pub fn create_if_missing(&self, connected: bool) -> Result<(), JackError> {
        if self.path.exists() {
            return Ok(());
        }
        write_state(&self.path, connected)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Sets a simulated jack's state: writes "1" or "0" to a temporary file beside `path` and
/// renames it over `path`, so a reader never sees a partial write.
pub fn write_state(path: &Path, connected: bool) -> Result<(), JackError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, if connected { "1\n" } else { "0\n" })
        .map_err(|e| JackError::io(format!("write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| JackError::io(format!("rename to {}", path.display()), e))
}

fn watch_dir(path: &Path) -> nix::Result<Inotify> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(
        dir,
        AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVE_SELF,
    )?;
    Ok(inotify)
}

impl JackSource for SimJack {
    fn describe(&self) -> String {
        format!("simulated jack file {}", self.path.display())
    }

    fn read(&mut self) -> Result<bool, JackError> {
        if self.inotify.is_none() {
            self.inotify = watch_dir(&self.path).ok();
        }
        let what = || format!("read {}", self.path.display());
        let file = std::fs::File::open(&self.path).map_err(|e| JackError::io(what(), e))?;
        let mut text = Vec::new();
        file.take(MAX_READ)
            .read_to_end(&mut text)
            .map_err(|e| JackError::io(what(), e))?;
        match text.trim_ascii() {
            b"1" => Ok(true),
            b"0" => Ok(false),
            other => Err(JackError::Malformed {
                path: self.path.clone(),
                found: String::from_utf8_lossy(other).into_owned(),
            }),
        }
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool, JackError> {
        let Some(inotify) = &self.inotify else {
            // Nothing would wake us: read at the unhealthy pace, however long the caller
            // was ready to wait.
            std::thread::sleep(timeout.min(super::WAIT_SLICE));
            return Ok(true);
        };
        let deadline = Instant::now() + timeout;
        // Events about other files in the directory do not end the wait.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let ms = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(JackError::io("poll inotify", e.into())),
            }
            let events = match inotify.read_events() {
                Ok(ev) => ev,
                Err(nix::errno::Errno::EAGAIN) => continue,
                Err(e) => return Err(JackError::io("read inotify", e.into())),
            };
            // The directory went away or moved: the watch is dead (the kernel says
            // IN_IGNORED), and the next read sets up a new one on the path.
            if events.iter().any(|ev| {
                ev.mask
                    .intersects(AddWatchFlags::IN_IGNORED | AddWatchFlags::IN_MOVE_SELF)
            }) {
                self.inotify = None;
                return Ok(true);
            }
            if events
                .iter()
                .any(|ev| ev.name.is_some() && ev.name == self.file_name)
            {
                return Ok(true);
            }
        }
    }
}
