//! What every transport does with a device's split virtqueues once they are set up: pop
//! chains, validate them, hand them to the device, put completions on the used ring and
//! interrupt the driver as EVENT_IDX allows.
//!
//! Transports differ only in where the queues live and how the driver is interrupted (a
//! vhost-user call eventfd per queue, one Gunyah irqfd per device); [`Rings`] is that
//! difference, and [`process_queue`] / [`poll_device`] are the rest, written once.

use std::num::Wrapping;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use log::{debug, error, warn};

use super::log_budget::LogBudget;
use super::poll::{AdaptivePoll, POLL_SHARE};
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::GuestMemoryMmap;

use super::chain::{parse_chain, write_response, write_response_at, ChainError, ChainLimits};
use super::ring_guard::{RingFault, RingGuard};
use crate::devices::{CompleteError, Completer, Request, Token, VirtioDevice};
use crate::status::{DeviceState, LinkState};

/// The queues of one device as a transport holds them.
pub trait Rings {
    /// Number of queues.
    fn count(&self) -> usize;

    /// Runs `f` on queue `queue` if it exists and may be used; returns whether it ran.
    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool;

    /// Puts `(head, len)` on queue `queue`'s used ring.
    fn add_used(&mut self, queue: u16, head: u16, len: u32) -> Result<(), String>;

    /// Asks the driver for notifications again (EVENT_IDX); true if buffers arrived meanwhile.
    fn enable_notification(&mut self, queue: u16) -> Result<bool, String>;

    /// Asks the driver not to notify while the device is processing (EVENT_IDX).
    fn disable_notification(&mut self, queue: u16) -> Result<(), String>;

    /// Whether the driver wants an interrupt for what was just used on `queue`.
    fn needs_notification(&mut self, queue: u16) -> Result<bool, String>;

    /// Interrupts the driver for `queue`.
    fn signal(&mut self, queue: u16) -> std::io::Result<()>;
}

/// Completes buffers on a [`Rings`], dropping tokens from an earlier generation.
pub struct RingCompleter<'a, R: Rings + ?Sized> {
    rings: &'a mut R,
    /// Heads in flight: only those go back on the used ring, each once.
    guard: &'a mut RingGuard,
    mem: &'a GuestMemoryMmap,
    generation: u64,
    id: &'a str,
    /// Where completions are counted (bytes written, failures).
    status: &'a DeviceState,
    /// Bit per queue that got used entries and may need an interrupt.
    dirty: u64,
}

impl<'a, R: Rings + ?Sized> RingCompleter<'a, R> {
    /// A completer for the current session of the device.
    pub fn new(rings: &'a mut R, guard: &'a mut RingGuard, s: &Session<'a>) -> Self {
        Self {
            rings,
            guard,
            mem: s.mem,
            generation: s.generation,
            id: s.id,
            status: s.status,
            dirty: 0,
        }
    }

    fn add_used(&mut self, queue: u16, head: u16, len: u32) -> Result<(), CompleteError> {
        // A head the driver does not think the device holds would corrupt its used ring
        // (returned twice, or never made available); a fault stops all ring writes.
        if self.guard.fault().is_some() {
            return Err(CompleteError::Queue("device needs reset".into()));
        }
        if !self.guard.release_head(queue, head) {
            return Err(CompleteError::Queue(format!(
                "head {head} is not in flight"
            )));
        }
        self.rings
            .add_used(queue, head, len)
            .map_err(CompleteError::Queue)?;
        self.dirty |= 1 << (queue % 64);
        Ok(())
    }

    /// Gives a refused chain back with nothing written (virtio: used length 0).
    pub fn return_unused(&mut self, queue: u16, head: u16) {
        if let Err(e) = self.add_used(queue, head, 0) {
            warn!(
                "{}: queue {queue}: cannot return chain {head}: {e}",
                self.id
            );
        }
    }

    /// Whether the driver wants an interrupt for what `queue` got since the last decision.
    ///
    /// Asking records the decision (EVENT_IDX remembers what was signalled), so a `true`
    /// must be followed by [`Self::interrupt`].
    fn needs_interrupt(&mut self, queue: u16) -> bool {
        let bit = 1 << (queue % 64);
        if self.dirty & bit == 0 {
            return false;
        }
        self.dirty &= !bit;
        match self.rings.needs_notification(queue) {
            Ok(wanted) => wanted,
            Err(e) => {
                warn!("{}: queue {queue}: {e}", self.id);
                false
            }
        }
    }

    fn interrupt(&mut self, queue: u16) {
        if let Err(e) = self.rings.signal(queue) {
            warn!("{}: queue {queue}: cannot signal driver: {e}", self.id);
        }
    }

    /// Interrupts the driver for every queue that got used entries, as EVENT_IDX allows.
    pub fn signal(&mut self) {
        for q in 0..self.rings.count() {
            let q = q as u16;
            if self.needs_interrupt(q) {
                self.interrupt(q);
            }
        }
        self.dirty = 0;
    }
}

impl<R: Rings + ?Sized> RingCompleter<'_, R> {
    /// Returns `token`'s buffer with the used length `write` produced, counting the outcome.
    fn finish(
        &mut self,
        token: Token,
        write: impl FnOnce(&GuestMemoryMmap, &Token) -> Result<u32, CompleteError>,
    ) -> Result<(), CompleteError> {
        if token.generation != self.generation {
            debug!("{}: dropping completion from before a reset", self.id);
            return Ok(());
        }
        let queue = token.queue;
        let counters = self.status.queue(queue);
        let result = match write(self.mem, &token) {
            Ok(len) => {
                if let Some(c) = counters {
                    c.add(0, 0, u64::from(len));
                }
                self.add_used(queue, token.head, len)
            }
            Err(e) => {
                self.return_unused(queue, token.head);
                Err(e)
            }
        };
        if let Err(e) = &result {
            if let Some(c) = counters {
                c.add(0, 1, 0);
            }
            self.status.record_error(format!("queue {queue}: {e}"));
        }
        result
    }
}

impl<R: Rings + ?Sized> Completer for RingCompleter<'_, R> {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.finish(token, |mem, t| write_response(mem, t, response))
    }

    fn complete_at(
        &mut self,
        token: Token,
        offset: usize,
        data: &[u8],
        used_len: usize,
    ) -> Result<(), CompleteError> {
        self.finish(token, |mem, t| {
            write_response_at(mem, t, offset, data, used_len)
        })
    }
}

/// What [`process_queue`] and [`poll_device`] need to know about the device's current driver.
pub struct Session<'a> {
    /// Device name for logs.
    pub id: &'a str,
    /// The driver's memory (the guest's, or the Gunyah shared window).
    pub mem: &'a GuestMemoryMmap,
    /// Tokens of other generations are dropped.
    pub generation: u64,
    /// Whether VIRTIO_RING_F_EVENT_IDX was negotiated.
    pub event_idx: bool,
    /// Limits the log lines this driver's misbehaviour can cause.
    pub log_budget: &'a LogBudget,
    /// The device's live status: per-queue counters and last error, atomics only.
    pub status: &'a DeviceState,
}

/// Hands the chains available on `queue` to `device`, refusing malformed ones with a used
/// length of 0, and interrupts the driver for what was completed.
///
/// A split-ring violation ([`RingFault`]) puts the device in "needs reset" instead: it is
/// logged once, the device model is reset (dropping what it held, releasing shared
/// hardware), its status says why, and neither this nor any queue of the device is touched
/// again until the transport clears `guard` on the driver's reset or a new frontend.
///
/// Returns the number of chains taken (zero: the wake-up found nothing new), which the
/// transport charges to the queue's [`super::kick_budget::KickBudget`].
pub fn process_queue<R: Rings + ?Sized>(
    s: &Session<'_>,
    rings: &mut R,
    guard: &mut RingGuard,
    device: &mut dyn VirtioDevice,
    queue: u16,
    poll: &mut AdaptivePoll,
) -> usize {
    if guard.fault().is_some() {
        return 0;
    }
    // Polling follows work, never bare kicks: a driver may notify as often as it likes with
    // nothing new, and each such wake-up must cost one look at the ring, not a spin. So the
    // window is sized only by wake-ups that brought chains, and a pass that found none goes
    // straight back to waiting.
    let mut woken = false;
    // Polling is off in some deployments; they pay no clock reads for it.
    let entered = poll.enabled().then(Instant::now);
    let limits = ChainLimits {
        max_readable: device.max_request_len(queue),
        max_writable: device.max_writable_len(queue),
    };
    let id = s.id;
    let mut completer = RingCompleter::new(rings, guard, s);
    // Counted locally and published before each interrupt: one atomic add per counter per
    // interrupt, however many chains the batch held.
    let mut counted = Counted::default();
    let mut batch = Vec::new();
    // Chains taken by this call, for the queue's kick budget.
    let mut taken_total = 0usize;
    loop {
        if s.event_idx {
            if let Err(e) = completer.rings.disable_notification(queue) {
                warn!("{id}: queue {queue}: {e}");
            }
        }
        let mut taken = Ok(());
        let guard = &mut *completer.guard;
        let ran = completer.rings.with_queue(queue, &mut |q| {
            taken = take_chains(q, s, guard, queue, limits, &mut batch);
        });
        if let Err(fault) = taken {
            // The chains taken before the fault are dropped with the device's state.
            batch.clear();
            counted.publish(s.status, queue);
            enter_needs_reset(s, completer.guard, device, queue, fault);
            return taken_total;
        }
        if !ran {
            break;
        }
        let found = !batch.is_empty();
        taken_total += batch.len();
        if found && !woken {
            woken = true;
            poll.woken();
        }
        for (head, parsed) in batch.drain(..) {
            counted.requests += 1;
            match parsed {
                Ok(request) => {
                    counted.bytes_in += request.data.len() as u64;
                    device.handle(request, &mut completer)
                }
                Err(e) => {
                    counted.refused += 1;
                    if s.log_budget.admit(id) {
                        warn!("{id}: queue {queue}: chain {head} refused: {e}");
                    }
                    s.status
                        .record_error(format!("queue {queue}: chain {head} refused: {e}"));
                    completer.return_unused(queue, head);
                }
            }
            // Interrupting as soon as the driver asks (EVENT_IDX: when it went to sleep
            // waiting), not after the whole batch, lets it reap and refill while the rest of
            // the batch is served; a driver that is busy has not moved used_event, so this
            // costs no extra interrupts. Without EVENT_IDX every used buffer would interrupt,
            // so there the batch ends first.
            if s.event_idx && completer.needs_interrupt(queue) {
                counted.publish(s.status, queue);
                completer.interrupt(queue);
            }
        }
        if !s.event_idx {
            break;
        }
        // Polling must never delay an interrupt or a count: both go out first.
        counted.publish(s.status, queue);
        completer.signal();
        // Notifications are still suppressed here, so a driver adding work meanwhile does
        // not kick; enable_notification below closes the race once polling gives up. Past
        // its share the queue stops polling, so the event loop gets to the device's other
        // queues (their kicks wait in it meanwhile).
        let rings = &mut *completer.rings;
        let share_left = entered.map_or(Duration::ZERO, |t| POLL_SHARE.saturating_sub(t.elapsed()));
        if found && poll.spin(share_left, || has_available(rings, s.mem, queue)) {
            // Work the device finishes on its own (delayed responses, other threads'
            // completions, deadlines) is otherwise served after each batch by the event
            // loop, which is not running while the queue polls.
            device.poll(Instant::now(), &mut completer);
            continue;
        }
        match completer.rings.enable_notification(queue) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => {
                warn!("{id}: queue {queue}: {e}");
                break;
            }
        }
    }
    // Counted before the driver is interrupted, so a driver that has seen its buffers come
    // back and then asks for status finds them counted.
    counted.publish(s.status, queue);
    completer.signal();
    taken_total
}

/// A chain taken off the available ring: its head and what parsing it gave.
type Taken = (u16, Result<Request, ChainError>);

/// Takes the chains the driver made available on `q`, at most the queue size (one pass),
/// marking each head in flight; fails on the first split-ring violation.
///
/// virtio-queue's `pop_descriptor_chain` is not used: it logs every refusal of the ring at
/// error level and returns nothing, so a driver that sets `avail.idx` too far ahead made the
/// device retry (and log) forever.
fn take_chains(
    q: &mut Queue,
    s: &Session<'_>,
    guard: &mut RingGuard,
    queue: u16,
    limits: ChainLimits,
    batch: &mut Vec<Taken>,
) -> Result<(), RingFault> {
    if !q.ready() {
        return Ok(());
    }
    let size = q.size();
    let avail = q
        .avail_idx(s.mem, Ordering::Acquire)
        .map_err(|e| RingFault::AvailUnreadable(e.to_string()))?;
    let ahead = (avail - Wrapping(q.next_avail())).0;
    if ahead > size {
        return Err(RingFault::AvailTooFarAhead {
            avail: avail.0,
            ahead,
            size,
        });
    }
    if ahead == 0 {
        return Ok(());
    }
    let iter = match q.iter(s.mem) {
        Ok(iter) => iter,
        Err(virtio_queue::Error::QueueNotReady) => return Ok(()),
        Err(e) => return Err(RingFault::AvailUnreadable(e.to_string())),
    };
    let mut count = 0;
    for chain in iter.take(usize::from(ahead)) {
        count += 1;
        let head = chain.head_index();
        if head >= size {
            return Err(RingFault::HeadOutOfRange { head, size });
        }
        if !guard.take_head(queue, head, size) {
            return Err(RingFault::Resubmitted { head });
        }
        match parse_chain(chain, queue, s.generation, limits) {
            Err(source) if source.is_ring_fault() => {
                return Err(RingFault::BadChain { head, source })
            }
            parsed => batch.push((head, parsed)),
        }
    }
    if count < ahead {
        return Err(RingFault::AvailUnreadable(format!(
            "{count} of {ahead} entries could be read"
        )));
    }
    Ok(())
}

/// Puts the device in "needs reset" for `fault` on `queue` (see [`process_queue`]).
pub fn enter_needs_reset(
    s: &Session<'_>,
    guard: &mut RingGuard,
    device: &mut dyn VirtioDevice,
    queue: u16,
    fault: RingFault,
) {
    let line = format!("queue {queue}: {fault}");
    if !guard.set_fault(queue, fault) {
        return;
    }
    error!(
        target: crate::logging::NEEDS_RESET_TARGET,
        "{}: {line}; device needs reset: its queues are ignored until the driver resets it",
        s.id
    );
    // What the device held (tokens, votes on shared hardware) goes now, not at the reset the
    // driver may never send.
    device.reset();
    s.status.record_error(format!("needs reset: {line}"));
    s.status.set_link(LinkState::Failed);
}

/// A queue's work not yet added to its live counters.
#[derive(Default)]
struct Counted {
    requests: u64,
    refused: u64,
    bytes_in: u64,
}

impl Counted {
    /// Adds what was counted to `queue`'s counters in `status` and starts again from zero.
    fn publish(&mut self, status: &DeviceState, queue: u16) {
        if let Some(counters) = status.queue(queue) {
            counters.add(self.requests, self.refused, self.bytes_in);
        }
        *self = Self::default();
    }
}

/// Whether the driver has made chains available on `queue` that were not popped yet.
fn has_available<R: Rings + ?Sized>(rings: &mut R, mem: &GuestMemoryMmap, queue: u16) -> bool {
    let mut found = false;
    rings.with_queue(queue, &mut |q| {
        found = q
            .avail_idx(mem, Ordering::Acquire)
            .is_ok_and(|idx| idx.0 != q.next_avail());
    });
    found
}

/// Lets the device do timed work; returns when it next wants to be polled.
pub fn poll_device<R: Rings + ?Sized>(
    s: &Session<'_>,
    rings: &mut R,
    guard: &mut RingGuard,
    device: &mut dyn VirtioDevice,
    now: Instant,
) -> Option<Instant> {
    if guard.fault().is_some() {
        return None;
    }
    let mut completer = RingCompleter::new(rings, guard, s);
    let next = device.poll(now, &mut completer);
    completer.signal();
    next
}

/// Queues a transport owns outright, interrupting the driver through one callback.
///
/// `None` entries are queues the driver did not set up (or set up wrongly): they are never
/// touched.
pub struct OwnedRings<'a, S: FnMut(u16) -> std::io::Result<()>> {
    /// The queues, indexed by queue number.
    pub queues: &'a mut [Option<Queue>],
    /// The driver's memory, which the rings live in.
    pub mem: &'a GuestMemoryMmap,
    /// Raises the driver's interrupt for a queue.
    pub signal: S,
}

impl<S: FnMut(u16) -> std::io::Result<()>> OwnedRings<'_, S> {
    fn queue(&mut self, queue: u16) -> Result<&mut Queue, String> {
        self.queues
            .get_mut(usize::from(queue))
            .and_then(Option::as_mut)
            .ok_or_else(|| format!("queue {queue} is not set up"))
    }
}

impl<S: FnMut(u16) -> std::io::Result<()>> Rings for OwnedRings<'_, S> {
    fn count(&self) -> usize {
        self.queues.len()
    }

    fn with_queue(&mut self, queue: u16, f: &mut dyn FnMut(&mut Queue)) -> bool {
        match self.queue(queue) {
            Ok(q) => {
                f(q);
                true
            }
            Err(_) => false,
        }
    }

    fn add_used(&mut self, queue: u16, head: u16, len: u32) -> Result<(), String> {
        let mem = self.mem;
        self.queue(queue)?
            .add_used(mem, head, len)
            .map_err(|e| e.to_string())
    }

    fn enable_notification(&mut self, queue: u16) -> Result<bool, String> {
        let mem = self.mem;
        self.queue(queue)?
            .enable_notification(mem)
            .map_err(|e| e.to_string())
    }

    fn disable_notification(&mut self, queue: u16) -> Result<(), String> {
        let mem = self.mem;
        self.queue(queue)?
            .disable_notification(mem)
            .map_err(|e| e.to_string())
    }

    fn needs_notification(&mut self, queue: u16) -> Result<bool, String> {
        let mem = self.mem;
        self.queue(queue)?
            .needs_notification(mem)
            .map_err(|e| e.to_string())
    }

    fn signal(&mut self, queue: u16) -> std::io::Result<()> {
        (self.signal)(queue)
    }
}

#[cfg(test)]
#[path = "rings_tests.rs"]
mod tests;
