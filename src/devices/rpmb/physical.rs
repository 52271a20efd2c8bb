//! The host's side of the RPMB protocol against a physical part: authenticated reads and
//! writes signed and checked with the device key, over any [`RpmbFrameDevice`].
//!
//! This is what the per-guest multiplexer ([`super::virtual_rpmb`]) stands on. A simulated
//! part is an [`RpmbEngine`] over an image file: it implements [`RpmbFrameDevice`] here, so
//! the file backend and real eMMC/UFS parts are driven by the same code.

use super::constants::*;
use super::engine::RpmbEngine;
use super::frame::Frame;
use crate::hw::rpmb::frames::{FrameIoError, RawFrame, RpmbFrameDevice};
use crate::hw::rpmb::{RpmbKey, RpmbStorage, BLOCK_SIZE};

impl<S: RpmbStorage> RpmbFrameDevice for RpmbEngine<S> {
    fn send(
        &mut self,
        reliable_write: &[RawFrame],
        write: &[RawFrame],
        read: &mut [RawFrame],
    ) -> Result<(), FrameIoError> {
        let frames: Vec<Frame> = reliable_write
            .iter()
            .chain(write.iter())
            .map(|raw| Frame::from_slice(raw))
            .collect::<Result<_, _>>()
            .map_err(|e| FrameIoError::Request(e.to_string()))?;
        let responses = self.process(&frames, read.len());
        for (slot, frame) in read.iter_mut().zip(responses.iter()) {
            slot.copy_from_slice(frame.as_bytes());
        }
        Ok(())
    }
}

/// Why an operation on the physical RPMB failed.
#[derive(Debug, thiserror::Error)]
pub enum PhysicalError {
    /// The frame exchange itself failed.
    #[error(transparent)]
    Io(#[from] FrameIoError),
    /// The part answered with an error result.
    #[error("{op}: the RPMB answered result {result:#06x}")]
    Result {
        /// The operation.
        op: &'static str,
        /// The result field.
        result: u16,
    },
    /// A response's MAC does not verify under the device key: wrong key, or tampering.
    #[error("{op}: response MAC does not verify under the device key")]
    BadMac {
        /// The operation.
        op: &'static str,
    },
    /// A response that does not answer the request (type, nonce, address, counter).
    #[error("{op}: unexpected response: {why}")]
    BadResponse {
        /// The operation.
        op: &'static str,
        /// What did not match.
        why: String,
    },
    /// A range or size the part cannot take.
    #[error("{0}")]
    Range(String),
    /// No randomness for nonces.
    #[error("getrandom: {0}")]
    Random(std::io::Error),
}

/// The geometry the part was configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysicalGeometry {
    /// Partition size in blocks.
    pub capacity_blocks: u32,
    /// Most blocks one authenticated write carries.
    pub max_write_blocks: u16,
    /// Most blocks one authenticated read returns.
    pub max_read_blocks: u16,
}

/// A physical RPMB driven with the device key.
pub struct PhysicalRpmb {
    dev: Box<dyn RpmbFrameDevice>,
    key: RpmbKey,
    counter: u32,
    geometry: PhysicalGeometry,
}

impl std::fmt::Debug for PhysicalRpmb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysicalRpmb")
            .field("counter", &self.counter)
            .field("geometry", &self.geometry)
            .finish_non_exhaustive()
    }
}

/// Fills `out` with random bytes from the kernel's CSPRNG (`getrandom(2)`: one syscall,
/// no fd, so a nonce per physical request stays cheap).
pub(crate) fn random_bytes(out: &mut [u8]) -> Result<(), PhysicalError> {
    let mut filled = 0;
    while filled < out.len() {
        let rest = &mut out[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, exclusively borrowed
        // buffer; getrandom writes at most that many bytes into it.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(PhysicalError::Random(e));
        }
        filled += n as usize;
    }
    Ok(())
}

fn nonce() -> Result<[u8; NONCE_SIZE], PhysicalError> {
    let mut n = [0u8; NONCE_SIZE];
    random_bytes(&mut n)?;
    Ok(n)
}

impl PhysicalRpmb {
    /// Opens the part: reads its counter, programming `key` first if the part has none.
    ///
    /// Fails with [`PhysicalError::BadMac`] if the part holds a different key.
    pub fn open(
        dev: Box<dyn RpmbFrameDevice>,
        key: RpmbKey,
        geometry: PhysicalGeometry,
    ) -> Result<Self, PhysicalError> {
        if geometry.capacity_blocks == 0
            || geometry.capacity_blocks > crate::hw::rpmb::MAX_BLOCKS
            || geometry.max_write_blocks == 0
            || geometry.max_read_blocks == 0
        {
            return Err(PhysicalError::Range(format!(
                "invalid physical RPMB geometry {geometry:?}"
            )));
        }
        let mut this = Self {
            dev,
            key,
            counter: 0,
            geometry,
        };
        match this.read_counter() {
            Ok(c) => this.counter = c,
            Err(PhysicalError::Result { result, .. }) if result & 0x7f == RES_NO_AUTH_KEY => {
                log::info!("rpmb: programming the device key into a blank part");
                this.program_key()?;
                this.counter = this.read_counter()?;
            }
            Err(e) => return Err(e),
        }
        Ok(this)
    }

    /// The part's write counter as last seen.
    pub fn write_counter(&self) -> u32 {
        self.counter
    }

    /// The configured geometry.
    pub fn geometry(&self) -> PhysicalGeometry {
        self.geometry
    }

    /// A value derived from the device key and `label` (HMAC-SHA256), for keys that must
    /// be as secret as it.
    pub fn derive(&self, label: &[u8]) -> [u8; KEY_MAC_SIZE] {
        let mut mac = self.key.mac();
        mac.update(label);
        mac.finalize()
    }

    fn verify(&self, op: &'static str, frames: &[Frame]) -> Result<(), PhysicalError> {
        let mut mac = self.key.mac();
        for f in frames {
            mac.update(f.mac_input());
        }
        let last = frames.last().ok_or(PhysicalError::BadResponse {
            op,
            why: "no response".into(),
        })?;
        if mac.verify(last.key_mac()) {
            Ok(())
        } else {
            Err(PhysicalError::BadMac { op })
        }
    }

    fn sign(&self, frames: &mut [Frame]) {
        let mut mac = self.key.mac();
        for f in frames.iter() {
            mac.update(f.mac_input());
        }
        let tag: [u8; KEY_MAC_SIZE] = mac.finalize();
        if let Some(last) = frames.last_mut() {
            last.set_key_mac(&tag);
        }
    }

    fn exchange(
        &mut self,
        reliable: &[Frame],
        write: &[Frame],
        responses: usize,
    ) -> Result<Vec<Frame>, PhysicalError> {
        let reliable: Vec<RawFrame> = reliable.iter().map(|f| *f.as_bytes()).collect();
        let write: Vec<RawFrame> = write.iter().map(|f| *f.as_bytes()).collect();
        let mut read = vec![[0u8; FRAME_SIZE]; responses];
        self.dev.send(&reliable, &write, &mut read)?;
        read.iter()
            .map(|raw| {
                Frame::from_slice(raw).map_err(|e| PhysicalError::BadResponse {
                    op: "exchange",
                    why: e.to_string(),
                })
            })
            .collect()
    }

    fn check(op: &'static str, frame: &Frame, resp: u16) -> Result<(), PhysicalError> {
        if frame.req_resp() != resp {
            return Err(PhysicalError::BadResponse {
                op,
                why: format!("response type {:#06x}", frame.req_resp()),
            });
        }
        if frame.result() & 0x7f != RES_OK {
            return Err(PhysicalError::Result {
                op,
                result: frame.result(),
            });
        }
        Ok(())
    }

    fn program_key(&mut self) -> Result<(), PhysicalError> {
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(self.key.expose());
        let rr = Frame::with_type(REQ_RESULT_READ);
        let resp = self.exchange(&[pk], &[rr], 1)?;
        Self::check("program key", &resp[0], RESP_PROGRAM_KEY)
    }

    fn read_counter(&mut self) -> Result<u32, PhysicalError> {
        const OP: &str = "read counter";
        let nonce = nonce()?;
        let mut req = Frame::with_type(REQ_GET_WRITE_COUNTER);
        req.set_nonce(&nonce);
        let resp = self.exchange(&[], &[req], 1)?;
        Self::check(OP, &resp[0], RESP_GET_WRITE_COUNTER)?;
        if resp[0].nonce() != &nonce {
            return Err(PhysicalError::BadResponse {
                op: OP,
                why: "nonce not echoed".into(),
            });
        }
        self.verify(OP, &resp)?;
        Ok(resp[0].write_counter())
    }

    fn range(&self, address: u32, blocks: usize) -> Result<u16, PhysicalError> {
        let end = address as usize + blocks;
        if blocks == 0 || end > self.geometry.capacity_blocks as usize {
            return Err(PhysicalError::Range(format!(
                "blocks {address}..{end} outside the {}-block part",
                self.geometry.capacity_blocks
            )));
        }
        u16::try_from(address).map_err(|_| PhysicalError::Range(format!("address {address}")))
    }

    /// Reads whole blocks at `address` into `out`, every response verified.
    pub fn read(&mut self, address: u32, out: &mut [u8]) -> Result<(), PhysicalError> {
        const OP: &str = "authenticated read";
        let total = out.len() / BLOCK_SIZE;
        if out.len() % BLOCK_SIZE != 0 {
            return Err(PhysicalError::Range("partial block".into()));
        }
        self.range(address, total)?;
        let step = usize::from(self.geometry.max_read_blocks);
        for (i, chunk) in out.chunks_mut(step * BLOCK_SIZE).enumerate() {
            let at = self.range(address + (i * step) as u32, chunk.len() / BLOCK_SIZE)?;
            let n = chunk.len() / BLOCK_SIZE;
            let nonce = nonce()?;
            let mut req = Frame::with_type(REQ_DATA_READ);
            req.set_address(at);
            req.set_nonce(&nonce);
            // Block count stays 0, as Trusty sends it: eMMC takes the count from the
            // transfer length, and UFS and virtio parts accept it.
            let resp = self.exchange(&[], &[req], n)?;
            for f in &resp {
                Self::check(OP, f, RESP_DATA_READ)?;
                if f.nonce() != &nonce || f.address() != at {
                    return Err(PhysicalError::BadResponse {
                        op: OP,
                        why: "nonce or address not echoed".into(),
                    });
                }
            }
            self.verify(OP, &resp)?;
            for (dst, f) in chunk.chunks_exact_mut(BLOCK_SIZE).zip(&resp) {
                dst.copy_from_slice(f.data());
            }
        }
        Ok(())
    }

    /// Writes whole blocks at `address` in one authenticated write (at most
    /// `max_write_blocks`); returns the part's new counter.
    pub fn write(&mut self, address: u32, data: &[u8]) -> Result<u32, PhysicalError> {
        const OP: &str = "authenticated write";
        let n = data.len() / BLOCK_SIZE;
        if data.len() % BLOCK_SIZE != 0 || n > usize::from(self.geometry.max_write_blocks) {
            return Err(PhysicalError::Range(format!(
                "a write of {} bytes (at most {} blocks)",
                data.len(),
                self.geometry.max_write_blocks
            )));
        }
        let at = self.range(address, n)?;
        let mut frames: Vec<Frame> = data
            .chunks_exact(BLOCK_SIZE)
            .map(|block| {
                let mut f = Frame::with_type(REQ_DATA_WRITE);
                let mut b = [0u8; BLOCK_SIZE];
                b.copy_from_slice(block);
                f.set_data(&b);
                f.set_address(at);
                f.set_block_count(n as u16);
                f.set_write_counter(self.counter);
                f
            })
            .collect();
        self.sign(&mut frames);
        let rr = Frame::with_type(REQ_RESULT_READ);
        let outcome = self.exchange(&frames, &[rr], 1).and_then(|resp| {
            Self::check(OP, &resp[0], RESP_DATA_WRITE)?;
            self.verify(OP, &resp)?;
            Ok(resp[0].write_counter())
        });
        match outcome {
            Ok(c) if c == self.counter.wrapping_add(1) => {
                self.counter = c;
                Ok(c)
            }
            Ok(c) => {
                self.counter = c;
                Err(PhysicalError::BadResponse {
                    op: OP,
                    why: format!("counter {c} after a write from {}", self.counter),
                })
            }
            Err(e) => {
                // Whatever happened, learn the part's counter again before the next write.
                if let Ok(c) = self.read_counter() {
                    self.counter = c;
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::rpmb::engine::EngineLimits;
    use crate::devices::rpmb::test_hmac::hmac_sha256;
    use crate::hw::rpmb::memory::MemoryRpmb;

    fn sim(blocks: u32) -> Box<dyn RpmbFrameDevice> {
        let limits = EngineLimits {
            max_write_blocks: 4,
            max_read_blocks: 3,
        };
        Box::new(RpmbEngine::new(MemoryRpmb::new(blocks).unwrap(), limits).unwrap())
    }

    fn geometry(blocks: u32) -> PhysicalGeometry {
        PhysicalGeometry {
            capacity_blocks: blocks,
            max_write_blocks: 4,
            max_read_blocks: 3,
        }
    }

    #[test]
    fn nonces_are_random() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        random_bytes(&mut a).unwrap();
        random_bytes(&mut b).unwrap();
        assert_ne!(a, b);
        let mut big = vec![0u8; 4096];
        random_bytes(&mut big).unwrap();
        assert!(big.iter().any(|&x| x != 0));
    }

    #[test]
    fn blank_part_gets_the_key_then_reads_and_writes_verify() {
        let mut p = PhysicalRpmb::open(sim(64), RpmbKey::new([5; 32]), geometry(64)).unwrap();
        assert_eq!(p.write_counter(), 0);
        let data: Vec<u8> = (0..4 * 256).map(|i| (i % 251) as u8).collect();
        assert_eq!(p.write(10, &data).unwrap(), 1);
        // Seven blocks span three read requests of at most three blocks.
        let mut out = vec![0u8; 7 * 256];
        p.read(8, &mut out).unwrap();
        assert_eq!(&out[..512], &[0u8; 512][..]);
        assert_eq!(&out[512..1536], &data[..]);
        assert!(p.write(62, &data).is_err());
        assert!(p.write(0, &vec![0; 5 * 256]).is_err());
        assert_eq!(
            p.derive(b"x"),
            hmac_sha256(&[5; 32], b"x"),
            "derivation is HMAC-SHA256 under the device key"
        );
    }

    /// One simulated part that several openers share, as a reopened device would be.
    #[derive(Clone)]
    struct SharedSim(std::sync::Arc<std::sync::Mutex<RpmbEngine<MemoryRpmb>>>);

    impl RpmbFrameDevice for SharedSim {
        fn send(
            &mut self,
            reliable_write: &[RawFrame],
            write: &[RawFrame],
            read: &mut [RawFrame],
        ) -> Result<(), FrameIoError> {
            self.0.lock().unwrap().send(reliable_write, write, read)
        }
    }

    #[test]
    fn a_part_with_another_key_is_refused_and_the_right_key_sees_the_counter() {
        let limits = EngineLimits {
            max_write_blocks: 4,
            max_read_blocks: 3,
        };
        let part = SharedSim(std::sync::Arc::new(std::sync::Mutex::new(
            RpmbEngine::new(MemoryRpmb::new(64).unwrap(), limits).unwrap(),
        )));
        let mut p = PhysicalRpmb::open(Box::new(part.clone()), RpmbKey::new([1; 32]), geometry(64))
            .unwrap();
        p.write(0, &[7; 256]).unwrap();
        let err = PhysicalRpmb::open(Box::new(part.clone()), RpmbKey::new([2; 32]), geometry(64))
            .unwrap_err();
        assert!(matches!(err, PhysicalError::BadMac { .. }), "{err}");
        let again =
            PhysicalRpmb::open(Box::new(part), RpmbKey::new([1; 32]), geometry(64)).unwrap();
        assert_eq!(again.write_counter(), 1);
        // The stale opener's next write fails on the counter, then resynchronises.
        let mut stale = p;
        stale.counter = 0;
        assert!(matches!(
            stale.write(0, &[8; 256]),
            Err(PhysicalError::Result {
                result: RES_COUNT_FAILURE,
                ..
            })
        ));
        assert_eq!(stale.write(0, &[8; 256]).unwrap(), 2);
    }
}
