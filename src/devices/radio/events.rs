//! The eventq side of the radio device: events wait, in order and bounded, for buffers the
//! driver supplies (docs/virtio-radio.md §6.6, §6.8).

use std::collections::VecDeque;

use log::warn;

use crate::devices::{Completer, Token};

use super::constants::EVT_F_LOST;
use super::wire::Event;

/// Queued events beyond which droppable ones go (the spec asks for at least 16).
pub const MAX_QUEUED_EVENTS: usize = 64;
/// Most eventq buffers held: a queue's worth (the eventq's size).
pub const MAX_HELD_BUFFERS: usize = 256;

/// Events waiting for eventq buffers, and buffers waiting for events.
#[derive(Debug, Default)]
pub struct EventQueue {
    events: VecDeque<Event>,
    buffers: VecDeque<(Token, usize)>,
    lost: bool,
}

fn droppable(e: &Event) -> bool {
    matches!(
        e,
        Event::ProgramInfoChanged(_) | Event::RdsBlocks(_) | Event::ProgramListUpdate { .. }
    )
}

impl EventQueue {
    /// Queues `event`: program info and antenna state coalesce to the newest; past the bound
    /// the oldest droppable event goes and the next delivered event carries `EVT_F_LOST`.
    pub fn push(&mut self, event: Event) {
        match &event {
            Event::ProgramInfoChanged(_) => self
                .events
                .retain(|e| !matches!(e, Event::ProgramInfoChanged(_))),
            Event::AntennaState { .. } => self
                .events
                .retain(|e| !matches!(e, Event::AntennaState { .. })),
            _ => {}
        }
        self.events.push_back(event);
        while self.events.len() > MAX_QUEUED_EVENTS {
            match self.events.iter().position(droppable) {
                Some(i) => {
                    self.events.remove(i);
                    self.lost = true;
                }
                None => break,
            }
        }
    }

    /// Keeps an eventq buffer with `writable_len` device-writable bytes; past
    /// [`MAX_HELD_BUFFERS`] the buffer is handed back for the caller to return unused.
    pub fn add_buffer(&mut self, token: Token, writable_len: usize) -> Result<(), Token> {
        if self.buffers.len() >= MAX_HELD_BUFFERS {
            return Err(token);
        }
        self.buffers.push_back((token, writable_len));
        Ok(())
    }

    /// Eventq buffers held.
    pub fn buffers(&self) -> usize {
        self.buffers.len()
    }

    /// TUNE_COMPLETE events waiting for a buffer.
    pub fn tune_completes_waiting(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::TuneComplete { .. }))
            .count()
    }

    /// Events waiting for a buffer.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes waiting events into waiting buffers, in order. A buffer too small for the next
    /// event goes back with nothing written and the event stays queued.
    pub fn deliver(&mut self, completer: &mut dyn Completer) {
        while let Some(event) = self.events.front() {
            let Some((token, cap)) = self.buffers.pop_front() else {
                return;
            };
            let bytes = event.to_bytes(if self.lost { EVT_F_LOST } else { 0 });
            if cap < bytes.len() {
                warn!(
                    "radio: eventq buffer of {cap} bytes is too small for a {}-byte event",
                    bytes.len()
                );
                if let Err(e) = completer.complete(token, &[]) {
                    warn!("radio: cannot return an eventq buffer: {e}");
                }
                continue;
            }
            self.events.pop_front();
            self.lost = false;
            if let Err(e) = completer.complete(token, &bytes) {
                warn!("radio: cannot deliver an event: {e}");
            }
        }
    }

    /// Forgets every event and buffer (device reset).
    pub fn clear(&mut self) {
        self.events.clear();
        self.buffers.clear();
        self.lost = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::radio::wire::ProgramInfo;
    use crate::devices::CompleteError;

    #[derive(Default)]
    struct Sink(Vec<(u16, Vec<u8>)>);

    impl Completer for Sink {
        fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
            self.0.push((token.head, response.to_vec()));
            Ok(())
        }
    }

    fn token(head: u16) -> Token {
        Token {
            queue: 1,
            head,
            generation: 0,
            writable: Vec::new(),
        }
    }

    fn tune(op_id: u32) -> Event {
        Event::TuneComplete {
            op_id,
            status: 0,
            info: ProgramInfo::new(90000),
        }
    }

    #[test]
    fn events_wait_for_buffers_in_order() {
        let mut q = EventQueue::default();
        let mut sink = Sink::default();
        q.push(tune(1));
        q.push(tune(2));
        q.deliver(&mut sink);
        assert!(sink.0.is_empty());
        q.add_buffer(token(7), 256).unwrap();
        q.deliver(&mut sink);
        assert_eq!(sink.0.len(), 1);
        assert_eq!(sink.0[0].0, 7);
        assert_eq!(Event::parse(&sink.0[0].1).unwrap(), (0, tune(1)));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn a_small_buffer_goes_back_empty_and_the_event_stays() {
        let mut q = EventQueue::default();
        let mut sink = Sink::default();
        q.push(tune(1));
        q.add_buffer(token(1), 100).unwrap();
        q.add_buffer(token(2), 112).unwrap();
        q.deliver(&mut sink);
        assert_eq!(sink.0[0], (1, vec![]));
        assert_eq!(sink.0[1].1.len(), 112);
        assert!(q.is_empty());
    }

    #[test]
    fn program_info_coalesces_and_overflow_drops_with_the_lost_flag() {
        let mut q = EventQueue::default();
        q.push(Event::ProgramInfoChanged(ProgramInfo::new(1)));
        q.push(Event::ProgramInfoChanged(ProgramInfo::new(2)));
        assert_eq!(q.len(), 1);
        for i in 0..MAX_QUEUED_EVENTS {
            q.push(Event::RdsBlocks(vec![[i as u8, 0, 0]]));
        }
        q.push(tune(9));
        assert_eq!(q.len(), MAX_QUEUED_EVENTS);
        assert_eq!(q.tune_completes_waiting(), 1);
        let mut sink = Sink::default();
        q.add_buffer(token(1), 256).unwrap();
        q.deliver(&mut sink);
        let (flags, ev) = Event::parse(&sink.0[0].1).unwrap();
        assert_eq!(flags, EVT_F_LOST);
        // The program info and the first block event were the oldest droppable ones.
        assert_eq!(ev, Event::RdsBlocks(vec![[1, 0, 0]]));
        q.add_buffer(token(2), 256).unwrap();
        q.deliver(&mut sink);
        assert_eq!(Event::parse(&sink.0[1].1).unwrap().0, 0, "LOST only once");
    }

    #[test]
    fn tune_completes_are_never_dropped() {
        let mut q = EventQueue::default();
        for i in 0..MAX_QUEUED_EVENTS as u32 + 5 {
            q.push(tune(i));
        }
        assert_eq!(q.tune_completes_waiting(), MAX_QUEUED_EVENTS + 5);
    }
}
