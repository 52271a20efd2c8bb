//! SCMI message framing: the 32-bit header and the little-endian payload cursor.

use super::constants::Status;

/// The 32-bit SCMI message header (§4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Bits 7:0.
    pub message_id: u8,
    /// Bits 9:8: 0 command, 2 delayed response, 3 notification.
    pub message_type: u8,
    /// Bits 17:10.
    pub protocol_id: u8,
    /// Bits 27:18, echoed in the response.
    pub token: u16,
}

impl Header {
    /// Decodes a header word; reserved bits 31:28 are ignored.
    pub fn from_word(w: u32) -> Self {
        Self {
            message_id: (w & 0xff) as u8,
            message_type: ((w >> 8) & 0x3) as u8,
            protocol_id: ((w >> 10) & 0xff) as u8,
            token: ((w >> 18) & 0x3ff) as u16,
        }
    }

    /// Encodes the header word.
    pub fn to_word(self) -> u32 {
        u32::from(self.message_id)
            | (u32::from(self.message_type & 0x3) << 8)
            | (u32::from(self.protocol_id) << 10)
            | (u32::from(self.token & 0x3ff) << 18)
    }
}

/// Reads a command's parameters; every read is bounds-checked.
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Params<'a> {
    /// Wraps the payload that follows the header.
    pub fn new(payload: &'a [u8]) -> Self {
        Self { rest: payload }
    }

    /// Takes the next little-endian u32, or PROTOCOL_ERROR if the message is too short.
    pub fn u32(&mut self) -> Result<u32, Status> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or(Status::ProtocolError)?;
        self.rest = rest;
        Ok(u32::from_le_bytes(*head))
    }

    /// Takes a u64 sent as two words, low first.
    pub fn u64(&mut self) -> Result<u64, Status> {
        let lo = self.u32()?;
        let hi = self.u32()?;
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// Succeeds only when every byte was consumed: oversized messages are PROTOCOL_ERROR.
    pub fn finish(self) -> Result<(), Status> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Status::ProtocolError)
        }
    }
}

/// Builds a response payload (after header and status).
#[derive(Default)]
pub struct Reply {
    bytes: Vec<u8>,
    /// Bytes reserved in front of the payload for a response's header and status, so that
    /// the response is built in one buffer (0 for a bare payload).
    prefix: usize,
}

/// Size of a response's header and status words.
const RESPONSE_PREFIX: usize = 8;

/// Payload capacity reserved up front: most responses are a few words.
const TYPICAL_PAYLOAD: usize = 56;

impl Reply {
    /// A payload that [`Reply::into_response`] turns into a whole response in place.
    pub fn for_response() -> Self {
        let mut bytes = Vec::with_capacity(RESPONSE_PREFIX + TYPICAL_PAYLOAD);
        bytes.resize(RESPONSE_PREFIX, 0);
        Self {
            bytes,
            prefix: RESPONSE_PREFIX,
        }
    }

    /// The response message: `header`, `status` and, on success, the payload (as
    /// [`encode_response`] lays it out).
    pub fn into_response(mut self, header: Header, status: Status) -> Vec<u8> {
        if self.prefix != RESPONSE_PREFIX {
            return encode_response(header, status, &self.into_bytes());
        }
        self.bytes[..4].copy_from_slice(&header.to_word().to_le_bytes());
        self.bytes[4..8].copy_from_slice(&(status as i32).to_le_bytes());
        if status != Status::Success {
            self.bytes.truncate(RESPONSE_PREFIX);
        }
        self.bytes
    }

    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends `s` as a NUL-padded fixed-size ASCII field of `N` bytes, always NUL-terminated.
    pub fn name<const N: usize>(&mut self, s: &str) -> &mut Self {
        let mut field = [0u8; N];
        let n = s.len().min(N - 1);
        field[..n].copy_from_slice(&s.as_bytes()[..n]);
        self.bytes.extend_from_slice(&field);
        self
    }

    /// Appends a u64 as two little-endian words, low first (how SCMI carries rates).
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.u32(v as u32).u32((v >> 32) as u32)
    }

    /// Bytes appended so far.
    pub fn len(&self) -> usize {
        self.bytes.len() - self.prefix
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(b);
        self
    }

    /// The payload built so far.
    pub fn into_bytes(mut self) -> Vec<u8> {
        if self.prefix == 0 {
            return self.bytes;
        }
        self.bytes.split_off(self.prefix)
    }
}

/// Encodes a full response: header, status and payload.
pub fn encode_response(header: Header, status: Status, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&header.to_word().to_le_bytes());
    out.extend_from_slice(&(status as i32).to_le_bytes());
    if status == Status::Success {
        out.extend_from_slice(payload);
    }
    out
}

/// Encodes a delayed response: the command's header with type 2, a status and, on success,
/// the return values.
pub fn encode_delayed_response(
    protocol_id: u8,
    message_id: u8,
    token: u16,
    status: Status,
    payload: &[u8],
) -> Vec<u8> {
    let header = Header {
        message_id,
        message_type: super::constants::MSG_TYPE_DELAYED_RESPONSE,
        protocol_id,
        token,
    };
    encode_response(header, status, payload)
}

/// Encodes a notification: header with type 3 and token 0, then the payload (no status).
pub fn encode_notification(protocol_id: u8, message_id: u8, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        message_id,
        message_type: super::constants::MSG_TYPE_NOTIFICATION,
        protocol_id,
        token: 0,
    };
    let mut out = header.to_word().to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bit_layout() {
        // message 0x6, command, protocol 0x10, token 0x3ff
        let w = 0x6 | (0x10 << 10) | (0x3ff << 18);
        let h = Header::from_word(w);
        assert_eq!(
            h,
            Header {
                message_id: 6,
                message_type: 0,
                protocol_id: 0x10,
                token: 0x3ff
            }
        );
        assert_eq!(h.to_word(), w);
        // Reserved bits are dropped, type bits decoded.
        let h = Header::from_word(0xf000_0000 | (3 << 8) | (0x14 << 10));
        assert_eq!(
            (h.message_type, h.protocol_id, h.to_word()),
            (3, 0x14, 0x5300)
        );
    }

    #[test]
    fn params_are_bounds_checked_and_exact() {
        let mut p = Params::new(&[1, 0, 0, 0, 2, 0]);
        assert_eq!(p.u32(), Ok(1));
        assert_eq!(p.u32(), Err(Status::ProtocolError));
        assert_eq!(Params::new(&[0; 5]).finish(), Err(Status::ProtocolError));
    }

    #[test]
    fn names_are_nul_terminated_and_truncated() {
        let mut r = Reply::default();
        r.name::<16>("0123456789abcdefXYZ");
        let b = r.into_bytes();
        assert_eq!(b.len(), 16);
        assert_eq!(&b[..15], b"0123456789abcde");
        assert_eq!(b[15], 0);
    }

    #[test]
    fn responses_built_in_place_match_the_encoder() {
        let header = Header::from_word(0x0001_5006);
        for status in [Status::Success, Status::NotFound] {
            let mut r = Reply::for_response();
            assert!(r.is_empty());
            r.u32(7).u64(1 << 40);
            assert_eq!(r.len(), 12, "the reserved prefix is not payload");
            let mut plain = Reply::default();
            plain.u32(7).u64(1 << 40);
            assert_eq!(
                r.into_response(header, status),
                encode_response(header, status, &plain.into_bytes())
            );
        }
        let mut r = Reply::for_response();
        r.u32(9);
        assert_eq!(r.into_bytes(), [9, 0, 0, 0]);
    }

    #[test]
    fn p2a_messages_carry_their_types() {
        let d = encode_delayed_response(0x14, 5, 0x2a, Status::Success, &[1, 0, 0, 0]);
        assert_eq!(d, [0x05, 0x52, 0xa8, 0x00, 0, 0, 0, 0, 1, 0, 0, 0]);
        let n = encode_notification(0x14, 1, &[7, 0, 0, 0]);
        assert_eq!(n, [0x01, 0x53, 0, 0, 7, 0, 0, 0]);
    }

    #[test]
    fn error_responses_carry_no_payload() {
        let h = Header::from_word(0x4000);
        assert_eq!(
            encode_response(h, Status::NotFound, &[9, 9, 9, 9]),
            [0x00, 0x40, 0, 0, 0xfc, 0xff, 0xff, 0xff]
        );
    }
}
