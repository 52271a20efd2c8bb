//! HMAC-SHA256 and SHA-256 for RPMB, behind one seam.
//!
//! The Cargo build uses the RustCrypto `hmac` and `sha2` crates. AOSP has no `hmac` crate and
//! opens its `sha2` only to one project, so the Android build (`cfg(soong)`) uses AOSP's
//! `libring` (vendor_available, visible to all; docs/aosp.md says why ring and not
//! BoringSSL's bindings). Both produce the same bytes: the unit tests run each against
//! RFC 4231 and FIPS 180-2 vectors.

/// HMAC-SHA256 keyed with an RPMB authentication key.
pub struct RpmbMac(imp::Mac);

impl RpmbMac {
    /// A MAC keyed with `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(imp::Mac::new(key))
    }

    /// Feeds `data` into the MAC.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The 32-byte tag.
    pub fn finalize(self) -> [u8; 32] {
        self.0.finalize()
    }

    /// Whether `tag` is the tag of what was fed, compared in constant time.
    pub fn verify(self, tag: &[u8]) -> bool {
        constant_time_eq(&self.finalize(), tag)
    }
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    imp::sha256(parts)
}

/// Byte-slice equality whose time does not depend on where the slices differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(not(soong))]
use rustcrypto as imp;
#[cfg(soong)]
use with_ring as imp;

/// RustCrypto's hmac and sha2 (the Cargo build).
#[cfg(not(soong))]
mod rustcrypto {
    use hmac::Mac as _;
    use sha2::Digest as _;

    pub struct Mac(hmac::Hmac<sha2::Sha256>);

    impl Mac {
        pub fn new(key: &[u8; 32]) -> Self {
            // HMAC zero-pads a key shorter than the 64-byte block, so the padded block is the
            // same key; taking it as a fixed-size block leaves no error path.
            let mut block = [0u8; 64];
            block[..32].copy_from_slice(key);
            Self(hmac::Hmac::<sha2::Sha256>::new(&block.into()))
        }

        pub fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        pub fn finalize(self) -> [u8; 32] {
            self.0.finalize().into_bytes().into()
        }
    }

    pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}

/// AOSP's libring (the Android build; compiled by the unit tests too).
#[cfg(any(soong, test))]
mod with_ring {
    pub struct Mac(ring::hmac::Context);

    impl Mac {
        pub fn new(key: &[u8; 32]) -> Self {
            Self(ring::hmac::Context::with_key(&ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                key,
            )))
        }

        pub fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        pub fn finalize(self) -> [u8; 32] {
            let mut out = [0u8; 32];
            out.copy_from_slice(self.0.sign().as_ref());
            out
        }
    }

    pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        for p in parts {
            h.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(h.finish().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231 test case 2's message and tag, with its 4-byte key zero-padded to 32 bytes
    /// (HMAC pads short keys with zeros, so the tag is the same).
    const KEY: &[u8] = b"Jefe";
    const MSG: &[u8] = b"what do ya want for nothing?";
    const TAG: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    fn padded_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        k[..KEY.len()].copy_from_slice(KEY);
        k
    }

    #[test]
    fn both_hmac_implementations_match_rfc_4231() {
        let mut ours = RpmbMac::new(&padded_key());
        ours.update(&MSG[..10]);
        ours.update(&MSG[10..]);
        assert_eq!(ours.finalize().to_vec(), hex(TAG));
        let mut ring = with_ring::Mac::new(&padded_key());
        ring.update(MSG);
        assert_eq!(ring.finalize().to_vec(), hex(TAG));
    }

    #[test]
    fn both_sha256_implementations_match_fips_180_2() {
        let want = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256(&[b"a", b"bc"]).to_vec(), want);
        assert_eq!(with_ring::sha256(&[b"ab", b"c"]).to_vec(), want);
    }

    #[test]
    fn verify_accepts_the_tag_and_refuses_any_other() {
        let tag = hex(TAG);
        let mac = || {
            let mut m = RpmbMac::new(&padded_key());
            m.update(MSG);
            m
        };
        assert!(mac().verify(&tag));
        let mut bad = tag.clone();
        bad[31] ^= 1;
        assert!(!mac().verify(&bad));
        assert!(!mac().verify(&tag[..31]));
    }
}
