//! What the real-guest sound tests share: the guest script, the signals they send, and
//! decoding the files the guest prints in base64 (the rest is in `support::guest`).

/// The script that builds and boots the sound guests (tests/guest/).
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/sound-guest.sh");

/// Bytes per frame of the S16 stereo streams the tests use.
pub const FRAME: usize = 4;

/// `frames` S16 stereo frames of deterministic noise (a 32-bit LCG): every sample differs,
/// so a dropped, repeated or shifted frame cannot go unnoticed, and none is zero, so
/// leading silence can be told from the signal.
pub fn noise(seed: u32, frames: usize) -> Vec<u8> {
    let mut x = seed;
    let mut out = Vec::with_capacity(frames * FRAME);
    for _ in 0..frames * 2 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        out.extend_from_slice(&((x >> 16) as u16 | 1).to_le_bytes());
    }
    out
}

/// Decodes the base64 the guest prints (`base64` of coreutils), ignoring line breaks.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.bytes() {
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
