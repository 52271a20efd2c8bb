//! SCMI message builders and decoders for tests (independent of the device's own code).

/// SCMI status codes as they appear on the wire (DEN0056 §4.1.4).
pub const SUCCESS: i32 = 0;
/// NOT_SUPPORTED.
pub const NOT_SUPPORTED: i32 = -1;
/// INVALID_PARAMETERS.
pub const INVALID_PARAMETERS: i32 = -2;
/// NOT_FOUND.
pub const NOT_FOUND: i32 = -4;
/// PROTOCOL_ERROR.
pub const PROTOCOL_ERROR: i32 = -10;

/// Queue index of the command queue.
pub const CMDQ: u16 = 0;

/// Header word: message id, command type, protocol id, token.
pub fn header(protocol: u8, message: u8, token: u16) -> u32 {
    u32::from(message) | (u32::from(protocol) << 10) | (u32::from(token & 0x3ff) << 18)
}

/// A command: header then little-endian u32 parameters.
pub fn command(protocol: u8, message: u8, token: u16, params: &[u32]) -> Vec<u8> {
    let mut v = header(protocol, message, token).to_le_bytes().to_vec();
    for p in params {
        v.extend_from_slice(&p.to_le_bytes());
    }
    v
}

/// A decoded response: header word, status, return values.
#[derive(Debug)]
pub struct Response {
    /// Echoed header.
    pub header: u32,
    /// Status code.
    pub status: i32,
    /// Bytes after the status.
    pub payload: Vec<u8>,
}

impl Response {
    /// Decodes `b`; panics (test failure) if it is shorter than header + status.
    pub fn parse(b: &[u8]) -> Response {
        assert!(b.len() >= 8, "response too short: {b:?}");
        Response {
            header: u32::from_le_bytes(b[0..4].try_into().unwrap()),
            status: i32::from_le_bytes(b[4..8].try_into().unwrap()),
            payload: b[8..].to_vec(),
        }
    }

    /// Return value word `i`.
    pub fn word(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.payload[i * 4..i * 4 + 4].try_into().unwrap())
    }

    /// The NUL-terminated string at byte `at` in a 16-byte field.
    pub fn name(&self, at: usize) -> String {
        let field = &self.payload[at..at + 16];
        let end = field.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
}

/// DENIED.
pub const DENIED: i32 = -3;
/// OUT_OF_RANGE.
pub const OUT_OF_RANGE: i32 = -5;
/// BUSY.
pub const BUSY: i32 = -6;

/// Queue index of the event (P2A) queue.
pub const EVENTQ: u16 = 1;
/// VIRTIO_SCMI_F_P2A_CHANNELS as a feature mask.
pub const P2A: u64 = 1;

/// Message type of a delayed response in the header (bits 9:8).
pub const DELAYED: u32 = 2 << 8;
/// Message type of a notification in the header (bits 9:8).
pub const NOTIFICATION: u32 = 3 << 8;

/// Every little-endian word of `b`.
pub fn words(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Response {
    /// Every return value as words.
    pub fn words(&self) -> Vec<u32> {
        words(&self.payload)
    }

    /// The NUL-terminated string at byte `at` in a field of `len` bytes.
    pub fn long_name(&self, at: usize, len: usize) -> String {
        let field = &self.payload[at..at + len];
        let end = field.iter().position(|&b| b == 0).unwrap_or(len);
        String::from_utf8_lossy(&field[..end]).into_owned()
    }
}
