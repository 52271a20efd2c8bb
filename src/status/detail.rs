//! A device's per-kind detail: what it publishes beyond link and counters. This layer does
//! not know the kinds: a detail is a value of whatever type the device's kind publishes
//! (the built-in kinds' types sit beside their cells), and that kind's registry entry reads
//! it back by type.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::generation::Generation;

/// What a kind's detail snapshot is: comparable (a test or watcher tells a change), printable
/// for logs, and shared between threads. Every such type is one; nothing to implement.
pub trait KindDetail: Any + fmt::Debug + Send + Sync {
    /// The value, for [`DeviceDetail::get`]'s downcast.
    fn as_any(&self) -> &dyn Any;

    /// Whether `other` is a detail of the same type and value.
    fn same_as(&self, other: &dyn KindDetail) -> bool;
}

impl<T: Any + fmt::Debug + PartialEq + Send + Sync> KindDetail for T {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn same_as(&self, other: &dyn KindDetail) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// A device's per-kind state, as a snapshot.
#[derive(Clone)]
pub struct DeviceDetail(Arc<dyn KindDetail>);

impl DeviceDetail {
    /// A snapshot holding `detail`.
    pub fn new(detail: impl KindDetail) -> Self {
        Self(Arc::new(detail))
    }

    /// The snapshot as the kind's own type, if it is a `T`.
    pub fn get<T: KindDetail>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }
}

impl fmt::Debug for DeviceDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq for DeviceDetail {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_as(other.0.as_ref())
    }
}

impl Eq for DeviceDetail {}

/// How a device publishes its detail.
///
/// Implementations keep what they publish in atomics or behind a lock the device holds only
/// for the few nanoseconds of an update, never across a request, so that reading a snapshot
/// never waits for a device thread.
pub trait DetailSource: Send + Sync {
    /// The current detail.
    fn detail(&self) -> DeviceDetail;

    /// Bumped on every change, so a watcher can tell cheaply whether to notify; it rings the
    /// watcher's bell once the source is installed on a [`DeviceState`](super::DeviceState).
    fn changes(&self) -> &Generation;

    /// The number of changes so far.
    fn generation(&self) -> u64 {
        self.changes().get()
    }
}
