//! What a hostile driver can make the sound device do: nothing sized by the lengths it
//! declares, no more buffers held than a queue holds, no periods that cost a wake-up per
//! frame.

use super::*;

/// One completion as the transport would see it, nothing materialized.
#[derive(Debug, PartialEq, Eq)]
struct Placed {
    queue: u16,
    offset: usize,
    data: Vec<u8>,
    used: usize,
}

/// A completer that records where responses go instead of building them, so a test can
/// hand the device multi-GiB writable parts; `complete` is the `complete_at(.., 0, ..)` case.
#[derive(Default)]
struct Placements(Vec<Placed>);

impl Completer for Placements {
    fn complete(&mut self, token: Token, response: &[u8]) -> Result<(), CompleteError> {
        self.complete_at(token, 0, response, response.len())
    }

    fn complete_at(
        &mut self,
        token: Token,
        offset: usize,
        data: &[u8],
        used_len: usize,
    ) -> Result<(), CompleteError> {
        crate::devices::check_placement(offset, data.len(), used_len)?;
        self.0.push(Placed {
            queue: token.queue,
            offset,
            data: data.to_vec(),
            used: used_len,
        });
        Ok(())
    }
}

impl Rig {
    fn send_placed(&mut self, queue: u16, data: Vec<u8>, writable_len: usize) -> Placements {
        let token = self.token(queue);
        let mut sink = Placements::default();
        self.dev.handle_at(
            Request {
                token,
                data,
                writable_len,
            },
            &mut sink,
            Instant::now(),
        );
        sink
    }
}

/// Three GiB of writable descriptors (overlapping guest memory is allowed).
const HUGE: usize = 3 << 30;

fn bad_msg_at_end(p: &Placements, queue: u16, writable: usize) {
    assert_eq!(
        p.0,
        vec![Placed {
            queue,
            offset: writable - 8,
            data: layout::pcm_status(code::S_BAD_MSG, 0).to_vec(),
            used: writable,
        }]
    );
}

#[test]
fn io_for_no_stream_writes_only_the_status_at_the_end() {
    let mut r = rig();
    let p = r.send_placed(TXQ, words(&[9]), HUGE);
    bad_msg_at_end(&p, TXQ, HUGE);
    let p = r.send_placed(RXQ, words(&[9]), HUGE);
    bad_msg_at_end(&p, RXQ, HUGE);
    // Wrong direction and malformed capture messages too.
    let p = r.send_placed(RXQ, words(&[OUT]), HUGE);
    bad_msg_at_end(&p, RXQ, HUGE);
    let p = r.send_placed(RXQ, words(&[IN, 0]), HUGE);
    bad_msg_at_end(&p, RXQ, HUGE);
    // No room for a status: returned with nothing written.
    let p = r.send_placed(TXQ, words(&[9]), 7);
    assert_eq!(p.0[0].used, 0);
}

#[test]
fn refused_capture_and_playback_write_only_the_status() {
    let mut r = rig();
    // Capture before PREPARE: refused, status after the (huge) data area only.
    let p = r.send_placed(RXQ, words(&[IN]), HUGE);
    bad_msg_at_end(&p, RXQ, HUGE);
    // Playback refused (not prepared): the status goes at the end of its writable part.
    let mut data = words(&[OUT]);
    data.extend_from_slice(&period_data(1));
    let p = r.send_placed(TXQ, data, HUGE);
    bad_msg_at_end(&p, TXQ, HUGE);
}

#[test]
fn queued_playback_completes_its_status_at_the_end_of_the_writable_part() {
    let mut r = rig();
    r.prepare_output(0);
    let mut data = words(&[OUT]);
    data.extend_from_slice(&period_data(1));
    assert!(r.send_placed(TXQ, data, 64).0.is_empty());
    let mut sink = Placements::default();
    r.dev.streams[0].release(&mut sink);
    assert_eq!(
        sink.0,
        vec![Placed {
            queue: TXQ,
            offset: 56,
            data: layout::pcm_status(code::S_OK, 0).to_vec(),
            used: 64,
        }]
    );
}

#[test]
fn a_stream_holds_at_most_a_queue_of_buffers() {
    let mut r = rig();
    // 1 ms periods in a 4 MiB ring: bytes alone would allow over 20000 messages.
    let p = SetParams {
        buffer_bytes: 192 * 20_000,
        period_bytes: 192,
        ..params(0)
    };
    assert_eq!(r.set_params(OUT, p), code::S_OK);
    assert_eq!(r.pcm(code::PCM_PREPARE, OUT), code::S_OK);
    let t0 = Instant::now();
    for _ in 0..stream::MAX_QUEUED_BUFFERS {
        assert!(r.tx(OUT, &[0; 192], t0).0.is_empty());
    }
    let s = r.tx(OUT, &[0; 192], t0);
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    assert_eq!(r.dev.streams()[0].stats.returned, 1);
}

#[test]
fn periods_and_messages_below_the_minimum_are_refused() {
    let mut r = rig();
    // One-frame periods: 48000 wake-ups a second.
    let one_frame = SetParams {
        period_bytes: 4,
        ..params(0)
    };
    assert_eq!(r.set_params(OUT, one_frame), code::S_NOT_SUPP);
    // A configured minimum of 5 ms refuses the 10 ms stream's 4 ms periods too.
    let mut r = rig();
    r.dev.streams[0].set_min_period(Duration::from_millis(5));
    let short = SetParams {
        period_bytes: 768,
        ..params(0)
    };
    assert_eq!(r.set_params(OUT, short), code::S_NOT_SUPP);
    r.prepare_output(0);
    // Messages shorter than the minimum are refused even with a valid period.
    let s = r.tx(OUT, &[0; 4], Instant::now());
    assert_eq!(s.0[0].2, layout::pcm_status(code::S_BAD_MSG, 0));
    assert!(r.tx(OUT, &period_data(0), Instant::now()).0.is_empty());
}

#[test]
fn query_item_sizes_are_bounded() {
    let mut r = rig();
    let size = (MAX_QUERY_ITEM_SIZE + 4) as u32;
    let resp = r.ctl_with_room(words(&[code::JACK_INFO, 0, 1, size]), 1 << 20);
    assert_eq!(resp, code::S_BAD_MSG.to_le_bytes());
    let size = MAX_QUERY_ITEM_SIZE as u32;
    let resp = r.ctl_with_room(words(&[code::JACK_INFO, 0, 1, size]), 1 << 20);
    assert_eq!(resp.len(), 4 + MAX_QUERY_ITEM_SIZE);
}

#[test]
fn writable_caps_cover_the_largest_answers_only() {
    let r = rig();
    assert_eq!(r.dev.max_writable_len(TXQ), SMALL_WRITABLE);
    assert_eq!(r.dev.max_writable_len(EVENTQ), SMALL_WRITABLE);
    assert_eq!(
        r.dev.max_writable_len(RXQ),
        MAX_BUFFER_BYTES as usize + PCM_STATUS_SIZE
    );
    assert!(r.dev.max_writable_len(CONTROLQ) >= 4 + 9 * MAX_QUERY_ITEM_SIZE);
    assert!(r.dev.max_writable_len(CONTROLQ) < 1 << 20);
}
