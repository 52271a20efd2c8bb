//! One device's live state, shared between its transport (writer) and the control plane.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::counters::{QueueCounters, QueueSnapshot};
use super::detail::{DetailSource, DeviceDetail};
use super::events::{EventBus, StatusEvent};
use crate::kind::DeviceKind;

/// Where a device stands with its guest driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// The endpoint exists; no frontend is attached.
    Listening,
    /// A frontend is attached; the driver has not reached DRIVER_OK.
    Connected,
    /// The driver reached DRIVER_OK; queues are live.
    DriverOk,
    /// The device stopped serving; the last error says why.
    Failed,
}

impl LinkState {
    /// Lower-case name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Listening => "listening",
            Self::Connected => "connected",
            Self::DriverOk => "driver-ok",
            Self::Failed => "failed",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Connected,
            2 => Self::DriverOk,
            3 => Self::Failed,
            _ => Self::Listening,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Listening => 0,
            Self::Connected => 1,
            Self::DriverOk => 2,
            Self::Failed => 3,
        }
    }
}

/// How a device is put in front of its guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// A vhost-user unix socket.
    VhostUser,
    /// Gunyah shared memory and doorbells.
    Gunyah,
    /// The Android `rpmb_dev` frame protocol on a unix socket (not virtio).
    RpmbDev,
}

impl TransportKind {
    /// Name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::VhostUser => "vhost-user",
            Self::Gunyah => "gunyah",
            Self::RpmbDev => "rpmb-dev",
        }
    }
}

/// A copy of a device's state at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSnapshot {
    /// Device id from the config.
    pub id: String,
    /// Device kind; `None` only for a [`DeviceState::detached`] state whose virtio ID names
    /// no kind.
    pub kind: Option<DeviceKind>,
    /// Guest it serves.
    pub guest: String,
    /// Transport.
    pub transport: TransportKind,
    /// Socket path or Gunyah node.
    pub endpoint: String,
    /// Link state.
    pub link: LinkState,
    /// Features the driver acknowledged; 0 before negotiation.
    pub features: u64,
    /// Per-queue counters.
    pub queues: Vec<QueueSnapshot>,
    /// Last error; empty if none.
    pub last_error: String,
}

/// One device's live state.
pub struct DeviceState {
    id: String,
    kind: Option<DeviceKind>,
    guest: String,
    transport: TransportKind,
    endpoint: String,
    link: AtomicU8,
    features: AtomicU64,
    queues: Box<[QueueCounters]>,
    /// Written only when something fails, never on the request path.
    last_error: Mutex<String>,
    detail: OnceLock<Arc<dyn DetailSource>>,
    events: Arc<EventBus>,
}

impl std::fmt::Debug for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceState")
            .field("id", &self.id)
            .field("link", &self.link())
            .finish_non_exhaustive()
    }
}

impl DeviceState {
    /// A listening device with `queues` zeroed queue counters, publishing on `events`.
    pub fn new(
        id: String,
        kind: DeviceKind,
        guest: String,
        transport: TransportKind,
        endpoint: String,
        queues: usize,
        events: Arc<EventBus>,
    ) -> Self {
        Self {
            id,
            kind: Some(kind),
            guest,
            transport,
            endpoint,
            link: AtomicU8::new(LinkState::Listening.as_u8()),
            features: AtomicU64::new(0),
            queues: (0..queues).map(|_| QueueCounters::default()).collect(),
            last_error: Mutex::new(String::new()),
            detail: OnceLock::new(),
            events,
        }
    }

    /// A state nobody watches, for a transport used without a service (tests, tools).
    ///
    /// The kind is the one whose OASIS device ID is `virtio_id`, and none otherwise: the
    /// ID alone cannot tell a radio (its ID is configurable) or RPMB's console face (ID 3).
    pub fn detached(id: &str, virtio_id: u32, queues: usize) -> Self {
        let mut state = Self::new(
            id.to_owned(),
            DeviceKind::Scmi,
            String::new(),
            TransportKind::VhostUser,
            String::new(),
            queues,
            Arc::new(EventBus::new()),
        );
        state.kind = DeviceKind::ALL
            .into_iter()
            .find(|k| k.virtio_id() == Some(virtio_id));
        state
    }

    /// The device id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The device kind (`None` only for an unrecognised [`DeviceState::detached`] one).
    pub fn kind(&self) -> Option<DeviceKind> {
        self.kind
    }

    /// The current link state.
    pub fn link(&self) -> LinkState {
        LinkState::from_u8(self.link.load(Ordering::Acquire))
    }

    /// Moves the link to `state`; notifies watchers if it changed.
    ///
    /// Entering DRIVER_OK starts a new driver session: the queue counters restart at zero.
    pub fn set_link(&self, state: LinkState) {
        let old = self.link.swap(state.as_u8(), Ordering::AcqRel);
        if old == state.as_u8() {
            return;
        }
        match state {
            LinkState::DriverOk => self.queues.iter().for_each(QueueCounters::clear),
            LinkState::Listening => self.features.store(0, Ordering::Relaxed),
            _ => {}
        }
        self.events.publish(StatusEvent::Link {
            device: self.id.clone(),
            state,
        });
    }

    /// Moves the link from `from` to `to` only if it is still at `from`, so that a state the
    /// connection's own thread already advanced past is not rolled back.
    pub fn advance_link(&self, from: LinkState, to: LinkState) {
        if self
            .link
            .compare_exchange(
                from.as_u8(),
                to.as_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.events.publish(StatusEvent::Link {
                device: self.id.clone(),
                state: to,
            });
        }
    }

    /// Records the features the driver acknowledged.
    pub fn set_features(&self, features: u64) {
        self.features.store(features, Ordering::Relaxed);
    }

    /// Counters of queue `index`, if the device has it.
    pub fn queue(&self, index: u16) -> Option<&QueueCounters> {
        self.queues.get(usize::from(index))
    }

    /// Remembers `message` as the device's last error.
    pub fn record_error(&self, message: impl Into<String>) {
        let message = message.into();
        match self.last_error.lock() {
            Ok(mut e) => *e = message,
            Err(poisoned) => *poisoned.into_inner() = message,
        }
    }

    /// Installs the device's detail publisher; only the first call takes effect.
    pub fn set_detail_source(&self, source: Arc<dyn DetailSource>) {
        source.changes().attach(self.events.detail_bell());
        if self.detail.set(source).is_ok() {
            // Changes made before the bell was attached are caught up on the next look.
            self.events.detail_bell().ring();
        }
    }

    /// The device's detail, if it publishes any.
    pub fn detail(&self) -> Option<DeviceDetail> {
        self.detail.get().map(|s| s.detail())
    }

    /// The detail publisher's change generation (0 without one).
    pub fn detail_generation(&self) -> u64 {
        self.detail.get().map_or(0, |s| s.generation())
    }

    /// Tells watchers the device's detail changed.
    pub fn notify_detail(&self) {
        self.events.publish(StatusEvent::Detail {
            device: self.id.clone(),
        });
    }

    /// A copy of everything but the detail.
    pub fn snapshot(&self) -> DeviceSnapshot {
        DeviceSnapshot {
            id: self.id.clone(),
            kind: self.kind,
            guest: self.guest.clone(),
            transport: self.transport,
            endpoint: self.endpoint.clone(),
            link: self.link(),
            features: self.features.load(Ordering::Relaxed),
            queues: self
                .queues
                .iter()
                .enumerate()
                .map(|(i, q)| q.snapshot(i as u16))
                .collect(),
            last_error: match self.last_error.lock() {
                Ok(e) => e.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
        }
    }
}
