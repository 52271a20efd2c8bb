//! The driver's view of a device, whatever the transport: one trait implemented by the
//! vhost-user [`super::Harness`] and by the Gunyah simulator's driver
//! ([`crate::transport::gunyah::sim::SimDriver`]), so one test suite runs over both.

use std::time::{Duration, Instant};

use super::hostile::RingAttack;
use super::malformed::Malformed;
use super::split_ring::{ChainLayout, Completion, Segment};
use super::Error;

/// A guest driver with its device's queues set up, ready for requests.
pub trait Driver: Send {
    /// Feature bits the device offered.
    fn offered_features(&self) -> u64;

    /// Feature bits the driver accepted.
    fn acked_features(&self) -> u64;

    /// How long [`Driver::request`] waits for its buffer.
    fn timeout(&self) -> Duration;

    /// Reads `len` bytes of the device configuration space at `offset`.
    fn config(&mut self, offset: u32, len: u32) -> Result<Vec<u8>, Error>;

    /// Makes a chain of `segments` available on `queue` without notifying; returns its head.
    fn add_chain(
        &mut self,
        queue: u16,
        segments: &[Segment<'_>],
        layout: ChainLayout,
    ) -> Result<u16, Error>;

    /// Makes a deliberately malformed chain available on `queue` and notifies; returns the
    /// head the device sees (for [`Malformed::HeadOutOfRange`], the queue size).
    fn add_malformed(
        &mut self,
        queue: u16,
        kind: Malformed,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error>;

    /// Creates a hostile ring state on `queue` and notifies; returns the head involved (the
    /// queue size when no chain is).
    fn add_hostile(
        &mut self,
        queue: u16,
        attack: RingAttack,
        request: &[u8],
        writable_len: u32,
    ) -> Result<u16, Error>;

    /// Notifies the device on `queue` whatever its suppression state says (as a hostile
    /// driver may).
    fn notify(&mut self, queue: u16) -> Result<(), Error>;

    /// Notifies the device of new buffers on `queue` unless it suppressed notifications;
    /// returns whether a notification was sent.
    fn kick(&mut self, queue: u16) -> Result<bool, Error>;

    /// The completions available on `queue` now (kept ones first), without waiting.
    fn poll_completions(&mut self, queue: u16) -> Result<Vec<Completion>, Error>;

    /// Keeps `c` for the next [`Driver::poll_completions`] on its queue.
    fn keep(&mut self, c: Completion) -> Result<(), Error>;

    /// Blocks until the device may have interrupted for `queue`, or `timeout` passes.
    fn wait_interrupt(&mut self, queue: u16, timeout: Duration) -> Result<(), Error>;

    /// Stops the device in an orderly way (as a VMM or guest driver does on shutdown).
    fn disconnect(self: Box<Self>) -> Result<(), Error>;

    /// Makes `readable` plus a `writable_len`-byte response buffer available on `queue` as
    /// direct descriptors and notifies; returns the head.
    fn submit(&mut self, queue: u16, readable: &[u8], writable_len: u32) -> Result<u16, Error> {
        let mut segments = Vec::with_capacity(2);
        if !readable.is_empty() {
            segments.push(Segment::Readable(readable));
        }
        if writable_len > 0 {
            segments.push(Segment::Writable(writable_len));
        }
        let head = self.add_chain(queue, &segments, ChainLayout::Direct)?;
        self.kick(queue)?;
        Ok(head)
    }

    /// Waits up to `timeout` for at least one buffer on `queue`, then returns all available.
    fn wait_completions(
        &mut self,
        queue: u16,
        timeout: Duration,
    ) -> Result<Vec<Completion>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self.poll_completions(queue)?;
            if !done.is_empty() {
                return Ok(done);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout { queue, timeout });
            }
            self.wait_interrupt(queue, deadline - now)?;
        }
    }

    /// Waits up to `timeout` for `head` to come back on `queue`; other completions seen
    /// meanwhile are kept for later.
    fn wait_for(&mut self, queue: u16, head: u16, timeout: Duration) -> Result<Completion, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut found = None;
            for c in self.poll_completions(queue)? {
                if found.is_none() && c.head == head {
                    found = Some(c);
                } else {
                    self.keep(c)?;
                }
            }
            if let Some(c) = found {
                return Ok(c);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout { queue, timeout });
            }
            self.wait_interrupt(queue, deadline - now)?;
        }
    }

    /// One round trip: sends `readable`, waits for the reply and returns what was written.
    fn request(
        &mut self,
        queue: u16,
        readable: &[u8],
        writable_len: u32,
    ) -> Result<Vec<u8>, Error> {
        let head = self.submit(queue, readable, writable_len)?;
        let timeout = self.timeout();
        Ok(self.wait_for(queue, head, timeout)?.data)
    }
}
