//! The real jack: a boolean ALSA control element, such as the "Headphone Jack" a codec
//! driver creates for each jack it can sense, read through the control uAPI on
//! `/dev/snd/controlC<card>` with its ioctls directly (no alsa-lib).
//!
//! The node is opened read-only and subscribed to events, so a plug wakes the watcher at
//! once. If the card or the element goes away (a USB card unplugged, a user element
//! removed), the next read reopens the node and looks the element up again by name.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::ctl_uapi::{self, ElemId, ElemInfo, ElemList, ElemValue, Event};
use super::{JackError, JackSource};

/// Most element IDs listed from one card: far above any real card, and bounds the
/// allocation whatever count the kernel reports.
const MAX_ELEMENTS: u32 = 8192;
/// Events read at once.
const EVENT_BATCH: usize = 16;

/// `/dev/snd/controlC<card>`.
pub fn control_path(card: u32) -> PathBuf {
    PathBuf::from(format!("/dev/snd/controlC{card}"))
}

fn ioctl_ptr<T>(fd: &OwnedFd, req: u32, arg: *mut T) -> std::io::Result<libc::c_int> {
    // SAFETY: `fd` is an open ALSA control node; `req` is a control ioctl whose argument type
    // is `T` (sizes checked against the kernel's in ctl_uapi's tests) and `arg` points to a
    // live, properly aligned `T` for the duration of the call. ELEM_LIST's `pids` pointer is
    // set by the caller to a buffer of `space` IDs that outlives the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as libc::c_ulong as _, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Opens a control node; `write` for adding and setting elements (tests, tools).
fn open_control(card: u32, write: bool) -> Result<OwnedFd, JackError> {
    let path = control_path(card);
    let what = || format!("open {}", path.display());
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| JackError::io(what(), std::io::ErrorKind::InvalidInput.into()))?;
    let mode = if write { libc::O_RDWR } else { libc::O_RDONLY };
    // SAFETY: `c` is a NUL-terminated path; the returned descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), mode | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(JackError::io(what(), std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Finds the element named `name` (any interface, the lowest index) on an open node.
fn find_element(fd: &OwnedFd, card: u32, name: &str) -> Result<ElemId, JackError> {
    let mut list = ElemList {
        offset: 0,
        space: 0,
        used: 0,
        count: 0,
        pids: std::ptr::null_mut(),
        reserved: [0; 50],
    };
    ioctl_ptr(fd, ctl_uapi::ELEM_LIST, &mut list)
        .map_err(|e| JackError::io("SNDRV_CTL_IOCTL_ELEM_LIST", e))?;
    let count = list.count.min(MAX_ELEMENTS);
    let mut ids = vec![ElemId::zeroed(); count as usize];
    list.space = count;
    list.pids = ids.as_mut_ptr();
    ioctl_ptr(fd, ctl_uapi::ELEM_LIST, &mut list)
        .map_err(|e| JackError::io("SNDRV_CTL_IOCTL_ELEM_LIST", e))?;
    let used = (list.used as usize).min(ids.len());
    ids.truncate(used);
    ids.into_iter()
        .filter(|id| id.name_bytes() == name.as_bytes())
        .min_by_key(|id| id.index)
        .ok_or_else(|| JackError::NotFound {
            card,
            control: name.to_owned(),
        })
}

/// Checks that `id` is a readable boolean; returns its ID as the kernel completed it.
fn check_boolean(fd: &OwnedFd, card: u32, name: &str, id: ElemId) -> Result<ElemId, JackError> {
    let mut info = ElemInfo::for_id(id);
    ioctl_ptr(fd, ctl_uapi::ELEM_INFO, &mut info)
        .map_err(|e| JackError::io(format!("SNDRV_CTL_IOCTL_ELEM_INFO \"{name}\""), e))?;
    if info.elem_type != ctl_uapi::TYPE_BOOLEAN
        || info.count < 1
        || info.access & ctl_uapi::ACCESS_READ == 0
    {
        return Err(JackError::NotBoolean {
            card,
            control: name.to_owned(),
            elem_type: info.elem_type,
            count: info.count,
        });
    }
    Ok(info.id)
}

fn read_value(fd: &OwnedFd, id: ElemId, name: &str) -> Result<bool, JackError> {
    let mut value = ElemValue::for_id(id);
    ioctl_ptr(fd, ctl_uapi::ELEM_READ, &mut value)
        .map_err(|e| JackError::io(format!("SNDRV_CTL_IOCTL_ELEM_READ \"{name}\""), e))?;
    Ok(value.integer[0] != 0)
}

/// The open node and the element found on it.
struct Element {
    fd: OwnedFd,
    id: ElemId,
}

/// A jack read from ALSA control element `control` of card `card`.
pub struct AlsaJack {
    card: u32,
    control: String,
    element: Option<Element>,
}

impl AlsaJack {
    /// A jack on element `control` of `/dev/snd/controlC<card>`; opened on first read.
    pub fn new(card: u32, control: &str) -> Self {
        Self {
            card,
            control: control.to_owned(),
            element: None,
        }
    }

    fn open(&self) -> Result<Element, JackError> {
        let fd = open_control(self.card, false)?;
        let mut on: libc::c_int = 1;
        ioctl_ptr(&fd, ctl_uapi::SUBSCRIBE_EVENTS, &mut on)
            .map_err(|e| JackError::io("SNDRV_CTL_IOCTL_SUBSCRIBE_EVENTS", e))?;
        let id = find_element(&fd, self.card, &self.control)?;
        let id = check_boolean(&fd, self.card, &self.control, id)?;
        Ok(Element { fd, id })
    }
}

impl JackSource for AlsaJack {
    fn describe(&self) -> String {
        format!(
            "ALSA control \"{}\" on {}",
            self.control,
            control_path(self.card).display()
        )
    }

    fn read(&mut self) -> Result<bool, JackError> {
        let element = match self.element.take() {
            Some(e) => e,
            None => self.open()?,
        };
        let state = read_value(&element.fd, element.id, &self.control)?;
        // Kept only after a good read: a failed one reopens next time.
        self.element = Some(element);
        Ok(state)
    }

    fn wait(&mut self, timeout: Duration) -> Result<bool, JackError> {
        let deadline = Instant::now() + timeout;
        // Events about the card's other elements do not end the wait.
        loop {
            let Some(element) = &self.element else {
                // Not open (yet, or any more): the caller's read retries the open.
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                return Ok(true);
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let ms = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(element.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(JackError::io("poll control", e.into())),
            }
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                // The card is going away: reopen on the next read.
                self.element = None;
                return Ok(true);
            }
            let mut buf = [0u8; Event::SIZE * EVENT_BATCH];
            let n = match crate::nix_compat::read(element.fd.as_fd(), &mut buf) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN) => continue,
                Err(e) => return Err(JackError::io("read control events", e.into())),
            };
            let mut ours = false;
            let mut removed = false;
            for ev in buf[..n].chunks_exact(Event::SIZE).filter_map(Event::parse) {
                if ev.event_type != ctl_uapi::EVENT_ELEM || ev.id.numid != element.id.numid {
                    continue;
                }
                ours = true;
                removed |= ev.mask == ctl_uapi::EVENT_MASK_REMOVE;
            }
            if removed {
                self.element = None;
            }
            if ours {
                return Ok(true);
            }
        }
    }
}

/// A user-defined boolean control element (`SNDRV_CTL_IOCTL_ELEM_ADD`), which any card
/// accepts: how tests and tools stand in for a codec's jack detection. Removed on drop.
///
/// The kernel locks a new user element to the descriptor that added it, so each operation
/// opens the node afresh: others (amixer) may then write it too.
pub struct UserElement {
    card: u32,
    id: ElemId,
    name: String,
}

impl UserElement {
    /// Adds a one-value boolean element named `name` to card `card`, on the card interface
    /// where the kernel puts its jack controls.
    pub fn add(card: u32, name: &str) -> Result<Self, JackError> {
        let fd = open_control(card, true)?;
        let id = ElemId::named(ctl_uapi::IFACE_CARD, name).ok_or_else(|| {
            JackError::io(
                format!("control name \"{name}\""),
                std::io::ErrorKind::InvalidInput.into(),
            )
        })?;
        let mut info = ElemInfo::for_id(id);
        info.elem_type = ctl_uapi::TYPE_BOOLEAN;
        info.count = 1;
        info.access = ctl_uapi::ACCESS_READ | ctl_uapi::ACCESS_WRITE;
        // value.integer: min 0, max 1, step 0.
        info.value[1] = 1;
        ioctl_ptr(&fd, ctl_uapi::ELEM_ADD, &mut info)
            .map_err(|e| JackError::io(format!("SNDRV_CTL_IOCTL_ELEM_ADD \"{name}\""), e))?;
        // Looked up by name from now on: the numid is only known to the descriptor's owner.
        Ok(Self {
            card,
            id,
            name: name.to_owned(),
        })
    }

    /// Sets the element's value (which notifies subscribers when it changes).
    pub fn set(&self, on: bool) -> Result<(), JackError> {
        let fd = open_control(self.card, true)?;
        let mut value = ElemValue::for_id(self.id);
        value.integer[0] = libc::c_long::from(on);
        ioctl_ptr(&fd, ctl_uapi::ELEM_WRITE, &mut value).map_err(|e| {
            JackError::io(format!("SNDRV_CTL_IOCTL_ELEM_WRITE \"{}\"", self.name), e)
        })?;
        Ok(())
    }
}

impl Drop for UserElement {
    fn drop(&mut self) {
        let mut id = self.id;
        let removed = open_control(self.card, true).and_then(|fd| {
            ioctl_ptr(&fd, ctl_uapi::ELEM_REMOVE, &mut id)
                .map_err(|e| JackError::io("SNDRV_CTL_IOCTL_ELEM_REMOVE", e))
        });
        if let Err(e) = removed {
            log::warn!("\"{}\": {e}", self.name);
        }
    }
}
