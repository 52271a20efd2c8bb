//! One agent's view of a class of shared resources: which ones it sees, renumbered from 0
//! in grant order, and which of them it may change.

use super::constants::Status;
use super::message::Params;

/// One resource an agent may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The resource's index in the shared hardware.
    pub hw: usize,
    /// Whether the agent may change it, or only read it.
    pub control: bool,
}

/// The resources of one protocol granted to one agent, with per-resource subscriptions.
#[derive(Debug, Clone)]
pub struct View {
    grants: Vec<Grant>,
    /// One subscription table per notification kind the protocol has.
    subscribed: Vec<Vec<bool>>,
    /// How many entries of `subscribed` are set, so that polls can skip an unsubscribed view.
    active: usize,
}

impl View {
    /// A view of `grants` with `kinds` notification kinds.
    pub fn new(grants: Vec<Grant>, kinds: usize) -> Self {
        let n = grants.len();
        Self {
            grants,
            subscribed: vec![vec![false; n]; kinds],
            active: 0,
        }
    }

    /// Number of visible resources.
    pub fn len(&self) -> usize {
        self.grants.len()
    }

    /// Whether nothing is visible.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// The hardware index of agent resource `id`, or NOT_FOUND.
    pub fn get(&self, id: u32) -> Result<usize, Status> {
        let i = usize::try_from(id).map_err(|_| Status::NotFound)?;
        self.grants.get(i).map(|g| g.hw).ok_or(Status::NotFound)
    }

    /// The hardware index of agent resource `id` if the agent may change it: NOT_FOUND or DENIED.
    pub fn control(&self, id: u32) -> Result<usize, Status> {
        let i = usize::try_from(id).map_err(|_| Status::NotFound)?;
        match self.grants.get(i) {
            None => Err(Status::NotFound),
            Some(g) if g.control => Ok(g.hw),
            Some(_) => Err(Status::Denied),
        }
    }

    /// Whether agent resource `id` is controllable (for attribute bits).
    pub fn is_control(&self, id: u32) -> bool {
        self.control(id).is_ok()
    }

    /// The agent's number for hardware resource `hw`, if visible.
    pub fn agent_id(&self, hw: usize) -> Option<u32> {
        self.grants
            .iter()
            .position(|g| g.hw == hw)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Handles a `(resource id, notify_enable)` subscription command for `kind`.
    pub fn subscribe(&mut self, kind: usize, mut p: Params<'_>) -> Result<(), Status> {
        let id = p.u32()?;
        let enable = p.u32()?;
        p.finish()?;
        self.get(id)?;
        if enable & !1 != 0 {
            return Err(Status::InvalidParameters);
        }
        if let Some(slot) = self
            .subscribed
            .get_mut(kind)
            .and_then(|t| t.get_mut(id as usize))
        {
            match (*slot, enable == 1) {
                (false, true) => self.active += 1,
                (true, false) => self.active -= 1,
                _ => {}
            }
            *slot = enable == 1;
        }
        Ok(())
    }

    /// Whether the agent subscribed to `kind` for hardware resource `hw`; its agent ID if so.
    pub fn subscribed(&self, kind: usize, hw: usize) -> Option<u32> {
        let id = self.agent_id(hw)?;
        self.subscribed.get(kind)?.get(id as usize)?.then_some(id)
    }

    /// Whether the agent subscribed to anything at all.
    pub fn any_subscribed(&self) -> bool {
        self.active != 0
    }

    /// Drops every subscription.
    pub fn clear_subscriptions(&mut self) {
        self.subscribed.iter_mut().for_each(|t| t.fill(false));
        self.active = 0;
    }
}

/// Returns `items[skip..]` limited to what `max_reply` bytes hold after a `header`-byte
/// count word, each item `size` bytes, capped at `cap`; INVALID_PARAMETERS past the end.
pub fn page<T>(
    items: &[T],
    skip: u32,
    max_reply: usize,
    header: usize,
    size: usize,
    cap: usize,
) -> Result<(&[T], usize), Status> {
    let skip = usize::try_from(skip).map_err(|_| Status::InvalidParameters)?;
    let rest = items.get(skip..).ok_or(Status::InvalidParameters)?;
    let fit = (max_reply.saturating_sub(header) / size.max(1)).clamp(1, cap);
    let n = rest.len().min(fit);
    Ok((&rest[..n], rest.len() - n))
}
