//! The record behind BASE_NOTIFY_ERRORS / BASE_ERROR_EVENT (DEN0056 §4.2.2.9, §4.2.3.1):
//! messages from one agent that the platform could not process, kept while the agent is
//! subscribed and turned into notifications for that agent only.
//!
//! Layout of one BASE_ERROR_EVENT payload, as this platform sends it:
//!
//! | word    | content                                                                 |
//! |---------|-------------------------------------------------------------------------|
//! | 0       | `agent_id`: the agent that caused the errors (always the subscriber)    |
//! | 1       | `error_status`: bit 31 error type (0, see below), bits 30:10 zero,      |
//! |         | bits 9:0 the number of entries in `msg_reports`                         |
//! | 2..     | `msg_reports[N]`, 64 bits each, low word first                          |
//!
//! Choices where the specification leaves room, and why:
//!
//! - Bit 31 of `error_status`: Linux, the agent our guests run, decodes it as "fatal error"
//!   (`IS_FATAL_ERROR`); an error here never stops the platform from serving the agent (the
//!   faulty message gets its status and the next one is processed), so the bit is always 0.
//!   Setting it to say "some errors were not listed" would make Linux report a fatal error.
//! - Errors that cannot be listed are still reported: the specification allows a command
//!   count of zero when an error cannot be attributed to a message. A message too short to
//!   carry a header, and the errors beyond what the log holds while the agent drains no
//!   notifications, are each reported as one event with a count of zero.
//! - Each `msg_reports` entry identifies the faulty message and when it arrived: bits 31:0
//!   are the message header exactly as the agent sent it (protocol, message ID, type and
//!   token, so the agent can match it to its command); bits 63:32 are the arrival time in
//!   microseconds since the service set up this agent's device, modulo 2^32 (the field
//!   wraps after about 71 minutes; it orders and spaces errors, it is not a clock).
//! - Which errors count: a message the platform could not process as sent. That is every
//!   PROTOCOL_ERROR (truncated or oversized parameters, a message type other than command,
//!   no header) and every message for a protocol or message ID this agent is not served
//!   (NOT_SUPPORTED from routing). A well-formed command that fails on its merits (NOT_FOUND,
//!   DENIED, OUT_OF_RANGE, ...) is an answer, not a communication error.
//! - Scope: each agent's device keeps its own log, so an agent is only ever told of its own
//!   errors. The specification lets a platform report other agents' errors to a privileged
//!   subscriber; guests here are isolated from one another, so none is privileged.

use std::collections::VecDeque;
use std::time::Instant;

use super::constants::{base, PROTOCOL_BASE};
use super::message::{encode_notification, Reply};

/// Most reports kept waiting for a notification; further errors are counted, not listed.
pub const MAX_LOGGED: usize = 32;
/// Most reports in one BASE_ERROR_EVENT: 12 + 8 × 8 = 76 bytes, inside the 128-byte
/// eventq buffers Linux posts.
pub const REPORTS_PER_EVENT: usize = 8;
/// `error_status` bits 9:0: the number of entries in `msg_reports`.
const COUNT_MASK: u32 = 0x3ff;

/// Communication errors of one agent, recorded while it subscribes to BASE_ERROR_EVENT.
pub struct ErrorLog {
    /// Origin of the report timestamps.
    epoch: Instant,
    subscribed: bool,
    /// Encoded `msg_reports` entries not yet notified, oldest first.
    reports: VecDeque<u64>,
    /// Errors not yet notified that no report describes: no header, or the log was full.
    unattributed: u32,
}

impl ErrorLog {
    /// An empty log, not subscribed, whose timestamps count from `epoch`.
    pub fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            subscribed: false,
            reports: VecDeque::new(),
            unattributed: 0,
        }
    }

    /// Subscribes or unsubscribes; unsubscribing forgets what was not yet notified.
    pub fn set_subscribed(&mut self, on: bool) {
        self.subscribed = on;
        if !on {
            self.clear();
        }
    }

    /// Forgets what was not yet notified (the subscription stays).
    fn clear(&mut self) {
        self.reports.clear();
        self.unattributed = 0;
    }

    /// Records an error at `at` caused by the message with header word `header` (None when
    /// the message had no complete header). Nothing is kept while unsubscribed.
    pub fn record(&mut self, header: Option<u32>, at: Instant) {
        if !self.subscribed {
            return;
        }
        match header {
            Some(word) if self.reports.len() < MAX_LOGGED => {
                let micros = at.saturating_duration_since(self.epoch).as_micros();
                // Modulo 2^32 by design: the field is 32 bits wide.
                let stamp = (micros & u128::from(u32::MAX)) as u64;
                self.reports.push_back((stamp << 32) | u64::from(word));
            }
            _ => self.unattributed = self.unattributed.saturating_add(1),
        }
    }

    /// Encodes what was recorded as BASE_ERROR_EVENT notifications for agent `agent_id`
    /// and appends them to `out`: listed errors in order, then one unattributed event.
    pub fn drain(&mut self, agent_id: u32, out: &mut Vec<Vec<u8>>) {
        while !self.reports.is_empty() {
            let n = self.reports.len().min(REPORTS_PER_EVENT);
            let batch: Vec<u64> = self.reports.drain(..n).collect();
            out.push(error_event(agent_id, &batch));
        }
        if self.unattributed > 0 {
            out.push(error_event(agent_id, &[]));
            self.unattributed = 0;
        }
    }
}

/// One BASE_ERROR_EVENT for `agent_id` listing `reports` (at most 1023).
fn error_event(agent_id: u32, reports: &[u64]) -> Vec<u8> {
    let count = (reports.len() as u32) & COUNT_MASK;
    let mut r = Reply::default();
    r.u32(agent_id).u32(count);
    for &report in reports {
        r.u64(report);
    }
    encode_notification(PROTOCOL_BASE, base::ERROR_EVENT, &r.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn words(b: &[u8]) -> Vec<u32> {
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    #[test]
    fn nothing_is_kept_while_unsubscribed() {
        let t0 = Instant::now();
        let mut log = ErrorLog::new(t0);
        log.record(Some(0x4000), t0);
        log.record(None, t0);
        let mut out = Vec::new();
        log.drain(1, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_report_carries_header_and_microsecond_stamp() {
        let t0 = Instant::now();
        let mut log = ErrorLog::new(t0);
        log.set_subscribed(true);
        log.record(Some(0x0123_4567), t0 + Duration::from_micros(0x2a));
        let mut out = Vec::new();
        log.drain(3, &mut out);
        assert_eq!(out.len(), 1);
        // Notification 0x0 of protocol 0x10, agent 3, one report, header then stamp.
        assert_eq!(words(&out[0]), [0x4300, 3, 1, 0x0123_4567, 0x2a]);
        out.clear();
        log.drain(3, &mut out);
        assert!(out.is_empty(), "drained once");
    }

    #[test]
    fn stamps_wrap_at_32_bits() {
        let t0 = Instant::now();
        let mut log = ErrorLog::new(t0);
        log.set_subscribed(true);
        log.record(Some(1), t0 + Duration::from_micros((1 << 32) + 5));
        let mut out = Vec::new();
        log.drain(1, &mut out);
        assert_eq!(words(&out[0])[3..], [1, 5]);
    }

    #[test]
    fn reports_are_split_and_overflow_is_unattributed() {
        let t0 = Instant::now();
        let mut log = ErrorLog::new(t0);
        log.set_subscribed(true);
        for i in 0..(MAX_LOGGED as u32 + 3) {
            log.record(Some(i), t0);
        }
        let mut out = Vec::new();
        log.drain(2, &mut out);
        // 32 listed in events of 8, then one zero-count event for the 3 beyond the log.
        assert_eq!(out.len(), MAX_LOGGED / REPORTS_PER_EVENT + 1);
        for (e, event) in out[..4].iter().enumerate() {
            let w = words(event);
            assert_eq!(w.len(), 3 + 2 * REPORTS_PER_EVENT);
            assert_eq!(w[..3], [0x4300, 2, REPORTS_PER_EVENT as u32]);
            let headers: Vec<u32> = w[3..].iter().step_by(2).copied().collect();
            let first = (e * REPORTS_PER_EVENT) as u32;
            assert_eq!(headers, (first..first + 8).collect::<Vec<_>>());
        }
        assert_eq!(words(&out[4]), [0x4300, 2, 0]);
    }

    #[test]
    fn headerless_errors_are_unattributed_and_unsubscribing_forgets() {
        let t0 = Instant::now();
        let mut log = ErrorLog::new(t0);
        log.set_subscribed(true);
        log.record(None, t0);
        log.record(None, t0);
        let mut out = Vec::new();
        log.drain(1, &mut out);
        assert_eq!(
            out.iter().map(|e| words(e)).collect::<Vec<_>>(),
            [[0x4300, 1, 0]]
        );
        log.record(Some(7), t0);
        log.set_subscribed(false);
        log.set_subscribed(true);
        out.clear();
        log.drain(1, &mut out);
        assert!(out.is_empty());
    }
}
