//! The byte-stream framing Android's `rpmb_dev` speaks with Trusty's `storageproxyd`
//! (`-t sock` over a unix socket, `-t virt` over a virtio-console port).
//!
//! A message is `u16 res_count`, `u16 cmd_count` (native byte order, as both ends are C
//! programs writing host integers), then `cmd_count` 512-byte request frames. The answer is
//! exactly `res_count` 512-byte frames and nothing else. `rpmb_dev` drops the connection on
//! a count of 0 or above its frame limit (8); [`Decoder`] reports those as errors so the
//! server can do the same.

use super::constants::{FRAME_SIZE, RES_GENERAL_FAILURE};
use super::engine::RpmbEngine;
use super::frame::Frame;
use crate::hw::rpmb::RpmbStorage;

/// Size of the message header.
pub const HEADER_SIZE: usize = 4;
/// `rpmb_dev`'s limit on either count (its `MAX_PACKET_COUNT`).
pub const DEFAULT_MAX_FRAMES: u16 = 8;

/// A protocol violation; the connection cannot be resynchronised and must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// `res_count` is 0 or above the limit.
    #[error("response count {count} outside 1..={max}")]
    ResCount {
        /// The count received.
        count: u16,
        /// The configured limit.
        max: u16,
    },
    /// `cmd_count` is 0 or above the limit.
    #[error("command count {count} outside 1..={max}")]
    CmdCount {
        /// The count received.
        count: u16,
        /// The configured limit.
        max: u16,
    },
}

/// The two counts that open a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Frames the client will read back.
    pub res_count: u16,
    /// Request frames that follow the header.
    pub cmd_count: u16,
}

impl Header {
    /// Decodes and validates a header against `max_frames`.
    pub fn parse(bytes: [u8; HEADER_SIZE], max_frames: u16) -> Result<Self, WireError> {
        let res_count = u16::from_ne_bytes([bytes[0], bytes[1]]);
        let cmd_count = u16::from_ne_bytes([bytes[2], bytes[3]]);
        if res_count == 0 || res_count > max_frames {
            return Err(WireError::ResCount {
                count: res_count,
                max: max_frames,
            });
        }
        if cmd_count == 0 || cmd_count > max_frames {
            return Err(WireError::CmdCount {
                count: cmd_count,
                max: max_frames,
            });
        }
        Ok(Self {
            res_count,
            cmd_count,
        })
    }

    /// The header's wire bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let [a, b] = self.res_count.to_ne_bytes();
        let [c, d] = self.cmd_count.to_ne_bytes();
        [a, b, c, d]
    }
}

/// One complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Frames the client expects back.
    pub res_count: u16,
    /// The request frames, in order.
    pub commands: Vec<Frame>,
}

/// Reassembles messages from a byte stream that arrives in arbitrary pieces.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    max_frames: u16,
}

impl Decoder {
    /// A decoder accepting at most `max_frames` frames each way per message.
    pub fn new(max_frames: u16) -> Self {
        Self {
            buf: Vec::new(),
            max_frames,
        }
    }

    /// How many more bytes the decoder can use before it holds a whole message; lets a
    /// reader size its reads so the buffer stays bounded by one message.
    pub fn wanted(&self) -> usize {
        if self.buf.len() < HEADER_SIZE {
            return HEADER_SIZE - self.buf.len();
        }
        match self.header() {
            Ok(h) => {
                (HEADER_SIZE + usize::from(h.cmd_count) * FRAME_SIZE).saturating_sub(self.buf.len())
            }
            Err(_) => 0,
        }
    }

    /// Appends received bytes, at most [`Decoder::wanted`] of them; returns how many it took.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let take = bytes.len().min(self.wanted());
        self.buf.extend_from_slice(&bytes[..take]);
        take
    }

    /// Takes the next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        if self.buf.len() < HEADER_SIZE {
            return Ok(None);
        }
        let header = self.header()?;
        let end = HEADER_SIZE + usize::from(header.cmd_count) * FRAME_SIZE;
        if self.buf.len() < end {
            return Ok(None);
        }
        let commands = self.buf[HEADER_SIZE..end]
            .chunks_exact(FRAME_SIZE)
            .filter_map(|chunk| Frame::from_slice(chunk).ok())
            .collect();
        self.buf.drain(..end);
        Ok(Some(Message {
            res_count: header.res_count,
            commands,
        }))
    }

    /// Whether a message has started but not finished (a disconnect now is abnormal).
    pub fn is_mid_message(&self) -> bool {
        !self.buf.is_empty()
    }

    fn header(&self) -> Result<Header, WireError> {
        let mut raw = [0u8; HEADER_SIZE];
        raw.copy_from_slice(&self.buf[..HEADER_SIZE]);
        Header::parse(raw, self.max_frames)
    }
}

/// Encodes exactly `res_count` frames: the engine's responses, then, if it produced fewer
/// (a write whose result was not asked for), frames carrying GENERAL_FAILURE, because the
/// client will block until it has read all `res_count` of them.
pub fn encode_response(responses: &[Frame], res_count: u16) -> Vec<u8> {
    let res_count = usize::from(res_count);
    let mut frames: Vec<Frame> = responses.iter().take(res_count).cloned().collect();
    while frames.len() < res_count {
        let mut filler = Frame::default();
        filler.set_result(RES_GENERAL_FAILURE);
        frames.push(filler);
    }
    Frame::serialize_all(&frames)
}

/// Runs one message through the engine and returns the bytes to send back.
pub fn respond<S: RpmbStorage>(engine: &mut RpmbEngine<S>, message: &Message) -> Vec<u8> {
    let responses = engine.process(&message.commands, usize::from(message.res_count));
    encode_response(&responses, message.res_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rpmb::constants::*;
    use crate::devices::rpmb::engine::EngineLimits;
    use crate::devices::rpmb::test_hmac::hmac_sha256;
    use crate::hw::rpmb::memory::MemoryRpmb;

    fn message_bytes(res_count: u16, frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&res_count.to_ne_bytes());
        out.extend_from_slice(&(frames.len() as u16).to_ne_bytes());
        out.extend_from_slice(&Frame::serialize_all(frames));
        out
    }

    #[test]
    fn header_is_two_native_endian_u16() {
        let h = Header {
            res_count: 2,
            cmd_count: 3,
        };
        let bytes = h.encode();
        assert_eq!(&bytes[..2], &2u16.to_ne_bytes());
        assert_eq!(&bytes[2..], &3u16.to_ne_bytes());
        assert_eq!(Header::parse(bytes, 8), Ok(h));
    }

    #[test]
    fn counts_outside_the_limit_are_protocol_errors() {
        let raw = |r: u16, c: u16| {
            Header {
                res_count: r,
                cmd_count: c,
            }
            .encode()
        };
        assert_eq!(
            Header::parse(raw(0, 1), 8),
            Err(WireError::ResCount { count: 0, max: 8 })
        );
        assert_eq!(
            Header::parse(raw(9, 1), 8),
            Err(WireError::ResCount { count: 9, max: 8 })
        );
        assert_eq!(
            Header::parse(raw(1, 0), 8),
            Err(WireError::CmdCount { count: 0, max: 8 })
        );
        assert_eq!(
            Header::parse(raw(1, 0xffff), 8),
            Err(WireError::CmdCount {
                count: 0xffff,
                max: 8
            })
        );
        assert!(Header::parse(raw(8, 8), 8).is_ok());
        let mut d = Decoder::new(8);
        d.push(&raw(1, 9));
        assert_eq!(d.wanted(), 0);
        assert!(d.next_message().is_err());
    }

    #[test]
    fn decoder_reassembles_byte_by_byte_and_stops_at_message_boundaries() {
        let mut a = Frame::with_type(REQ_GET_WRITE_COUNTER);
        a.set_nonce(&[1; 16]);
        let b = Frame::with_type(REQ_RESULT_READ);
        let mut stream = message_bytes(1, &[a.clone()]);
        stream.extend(message_bytes(2, &[b.clone(), a.clone()]));
        let mut d = Decoder::new(8);
        let mut got = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            assert!(d.wanted() > 0);
            let took = d.push(&rest[..1]);
            assert_eq!(took, 1);
            rest = &rest[1..];
            if let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        assert!(!d.is_mid_message());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].res_count, 1);
        assert_eq!(got[0].commands, vec![a.clone()]);
        assert_eq!(got[1].res_count, 2);
        assert_eq!(got[1].commands, vec![b, a]);
    }

    #[test]
    fn push_never_takes_past_the_current_message() {
        let f = Frame::with_type(REQ_GET_WRITE_COUNTER);
        let mut stream = message_bytes(1, std::slice::from_ref(&f));
        stream.extend_from_slice(&[0xaa; 100]);
        let mut d = Decoder::new(8);
        assert_eq!(d.push(&stream), HEADER_SIZE);
        assert_eq!(d.push(&stream[HEADER_SIZE..]), FRAME_SIZE);
        assert_eq!(d.wanted(), 0);
        assert_eq!(d.next_message().unwrap().unwrap().commands, vec![f]);
        assert_eq!(d.wanted(), HEADER_SIZE);
        assert_eq!(d.next_message().unwrap(), None);
    }

    #[test]
    fn response_is_exactly_res_count_frames() {
        let mut ok = Frame::with_type(RESP_DATA_WRITE);
        ok.set_write_counter(5);
        let out = encode_response(std::slice::from_ref(&ok), 1);
        assert_eq!(out.len(), 512);
        assert_eq!(&out[..], &ok.as_bytes()[..]);
        let out = encode_response(&[], 2);
        assert_eq!(out.len(), 1024);
        assert_eq!(&out[508..510], &RES_GENERAL_FAILURE.to_be_bytes());
        assert_eq!(&out[1020..1022], &RES_GENERAL_FAILURE.to_be_bytes());
        assert_eq!(encode_response(&[ok.clone(), ok], 1).len(), 512);
    }

    #[test]
    fn trusty_style_session_over_the_wire() {
        let key = [0x42u8; 32];
        let mut engine =
            RpmbEngine::new(MemoryRpmb::new(512).unwrap(), EngineLimits::default()).unwrap();
        let mut d = Decoder::new(DEFAULT_MAX_FRAMES);
        let mut roundtrip = |engine: &mut RpmbEngine<MemoryRpmb>, bytes: Vec<u8>| {
            let mut taken = 0;
            while taken < bytes.len() {
                let n = d.push(&bytes[taken..]);
                assert!(n > 0);
                taken += n;
            }
            let m = d.next_message().unwrap().unwrap();
            let out = respond(engine, &m);
            assert_eq!(out.len(), usize::from(m.res_count) * 512);
            Frame::parse_all(&out).unwrap()
        };
        // Program key: [PROGRAM_KEY, RESULT_READ], one frame back.
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(&key);
        let r = roundtrip(
            &mut engine,
            message_bytes(1, &[pk, Frame::with_type(REQ_RESULT_READ)]),
        );
        assert_eq!(r[0].req_resp(), RESP_PROGRAM_KEY);
        assert_eq!(r[0].result(), RES_OK);
        // Write one block: [DATA_WRITE, RESULT_READ].
        let mut w = Frame::with_type(REQ_DATA_WRITE);
        w.set_data(&[0x61; 256]);
        w.set_address(9);
        w.set_block_count(1);
        let mac = hmac_sha256(&key, &w.as_bytes()[228..]);
        w.set_key_mac(&mac);
        let r = roundtrip(
            &mut engine,
            message_bytes(1, &[w, Frame::with_type(REQ_RESULT_READ)]),
        );
        assert_eq!(r[0].result(), RES_OK);
        assert_eq!(r[0].write_counter(), 1);
        assert_eq!(
            &r[0].key_mac()[..],
            &hmac_sha256(&key, &r[0].as_bytes()[228..])
        );
        // Read it back with block count 0 (eMMC): res_count sets the count.
        let mut rd = Frame::with_type(REQ_DATA_READ);
        rd.set_address(9);
        rd.set_nonce(&[7; 16]);
        let r = roundtrip(&mut engine, message_bytes(1, &[rd]));
        assert_eq!(r[0].result(), RES_OK);
        assert_eq!(r[0].data(), &[0x61; 256]);
        assert_eq!(r[0].nonce(), &[7; 16]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_overbuffer() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut d = Decoder::new(DEFAULT_MAX_FRAMES);
            for _ in 0..50 {
                // Small counts are likelier to pass the header check, reaching the body path.
                let mut chunk: Vec<u8> = (0..next() % 700).map(|_| next() as u8).collect();
                if chunk.len() >= 4 && next() % 2 == 0 {
                    chunk[..2].copy_from_slice(&((next() % 9) as u16).to_ne_bytes());
                    chunk[2..4].copy_from_slice(&((next() % 9) as u16).to_ne_bytes());
                }
                let mut rest = &chunk[..];
                let mut failed = false;
                while !rest.is_empty() && !failed {
                    let took = d.push(rest);
                    rest = &rest[took..];
                    assert!(d.buf.len() <= HEADER_SIZE + 8 * FRAME_SIZE);
                    match d.next_message() {
                        Ok(Some(m)) => assert!((1..=8).contains(&m.commands.len())),
                        Ok(None) => assert!(took > 0 || rest.is_empty()),
                        Err(_) => failed = true,
                    }
                }
                if failed {
                    break;
                }
            }
        }
    }
}
