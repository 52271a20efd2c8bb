//! The rpmb ops of drivervm-load: a key, the device's counter at the start, and the
//! requests and checks of authenticated writes and reads.

use anyhow::{bail, Context, Result};
use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::frame::Frame;
use drivervm::harness::Harness;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What rpmb requests need to be built and checked.
pub struct Session {
    key: [u8; 32],
    counter_base: u32,
    capacity_blocks: u32,
}

fn parse_key(hex: &str) -> Result<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        bail!(
            "--rpmb-key must be 64 hex digits, not {} characters",
            bytes.len()
        );
    }
    let mut key = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).context("--rpmb-key is not hex")?;
        key[i] = u8::from_str_radix(s, 16).context("--rpmb-key is not hex")?;
    }
    Ok(key)
}

fn mac(key: &[u8; 32], frames: &[Frame]) -> [u8; 32] {
    let mut m = match <Hmac<Sha256>>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes any key length"),
    };
    for f in frames {
        m.update(f.mac_input());
    }
    m.finalize().into_bytes().into()
}

fn nonce(seq: u64) -> [u8; 16] {
    let mut n = [0u8; 16];
    n[..8].copy_from_slice(&seq.to_le_bytes());
    n[8..].copy_from_slice(b"drvmload");
    n
}

impl Session {
    /// A session for non-rpmb ops.
    pub fn unused() -> Self {
        Self {
            key: [0; 32],
            counter_base: 0,
            capacity_blocks: 1,
        }
    }

    /// Reads the device's geometry and counter, programming `key_hex` into a blank device.
    pub fn start(h: &mut Harness, key_hex: &str) -> Result<Self> {
        let key = parse_key(key_hex)?;
        let cfg = h
            .get_config(0, 3)
            .context("reading the virtio-rpmb config space")?;
        let capacity_blocks = u32::from(*cfg.first().unwrap_or(&0)) * BLOCKS_PER_CAPACITY_UNIT;
        if capacity_blocks < 8 {
            bail!("the device reports capacity {capacity_blocks} blocks");
        }
        let mut this = Self {
            key,
            counter_base: 0,
            capacity_blocks,
        };
        let (result, _) = this.counter(h)?;
        if result == RES_NO_AUTH_KEY {
            let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
            pk.set_key_mac(&key);
            let req = Frame::serialize_all(&[pk, Frame::with_type(REQ_RESULT_READ)]);
            let r = h.request(0, &req, 512)?;
            let r = Frame::from_slice(&r).context("program-key reply")?;
            if r.result() != RES_OK {
                bail!("programming the key failed: result {:#x}", r.result());
            }
        }
        let (result, counter) = this.counter(h)?;
        if result != RES_OK {
            bail!("reading the write counter failed: result {result:#x}");
        }
        this.counter_base = counter;
        Ok(this)
    }

    fn counter(&self, h: &mut Harness) -> Result<(u16, u32)> {
        let mut req = Frame::with_type(REQ_GET_WRITE_COUNTER);
        req.set_nonce(&nonce(u64::MAX));
        let r = h.request(0, req.as_bytes(), 512)?;
        let r = Frame::from_slice(&r).context("counter reply")?;
        if r.result() == RES_OK && r.key_mac() != &mac(&self.key, std::slice::from_ref(&r)) {
            bail!("the device's counter reply does not verify under --rpmb-key");
        }
        Ok((r.result(), r.write_counter()))
    }

    fn address(&self, seq: u64, blocks: u32) -> u16 {
        (seq % u64::from(self.capacity_blocks - blocks + 1)) as u16
    }

    /// Write number `seq`: one block at a rotating address, MACed.
    pub fn write_request(&self, seq: u64) -> Vec<u8> {
        let mut w = Frame::with_type(REQ_DATA_WRITE);
        w.set_address(self.address(seq, 1));
        w.set_block_count(1);
        w.set_write_counter(self.counter_base.wrapping_add(seq as u32));
        let mut data = [0u8; 256];
        data[..8].copy_from_slice(&seq.to_le_bytes());
        w.set_data(&data);
        let tag = mac(&self.key, std::slice::from_ref(&w));
        w.set_key_mac(&tag);
        Frame::serialize_all(&[w, Frame::with_type(REQ_RESULT_READ)])
    }

    /// Read number `seq` of `blocks` blocks.
    pub fn read_request(&self, seq: u64, blocks: u16) -> Vec<u8> {
        let mut r = Frame::with_type(REQ_DATA_READ);
        r.set_address(self.address(seq, u32::from(blocks)));
        r.set_block_count(blocks);
        r.set_nonce(&nonce(seq));
        r.as_bytes().to_vec()
    }

    /// Checks the reply of write `seq`.
    pub fn check_write(&self, seq: u64, reply: &[u8]) -> Result<(), String> {
        let r = Frame::from_slice(reply).map_err(|e| e.to_string())?;
        let want = self.counter_base.wrapping_add(seq as u32).wrapping_add(1);
        if r.req_resp() != RESP_DATA_WRITE || r.result() != RES_OK || r.write_counter() != want {
            return Err(format!(
                "write {seq}: response {:#06x} result {:#x} counter {} (expected {want})",
                r.req_resp(),
                r.result(),
                r.write_counter()
            ));
        }
        if r.key_mac() != &mac(&self.key, std::slice::from_ref(&r)) {
            return Err(format!("write {seq}: response MAC does not verify"));
        }
        Ok(())
    }

    /// Checks the reply of read `seq`.
    pub fn check_read(&self, seq: u64, blocks: u16, reply: &[u8]) -> Result<(), String> {
        let frames = Frame::parse_all(reply).map_err(|e| e.to_string())?;
        if frames.len() != usize::from(blocks) {
            return Err(format!(
                "read {seq}: {} frames, expected {blocks}",
                frames.len()
            ));
        }
        let address = self.address(seq, u32::from(blocks));
        for f in &frames {
            if f.result() != RES_OK || f.nonce() != &nonce(seq) || f.address() != address {
                return Err(format!(
                    "read {seq}: result {:#x} or echo wrong",
                    f.result()
                ));
            }
        }
        match frames.last() {
            Some(last) if last.key_mac() == &mac(&self.key, &frames) => Ok(()),
            _ => Err(format!("read {seq}: MAC does not verify")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            key: [7; 32],
            counter_base: 10,
            capacity_blocks: 512,
        }
    }

    #[test]
    fn key_parsing() {
        assert_eq!(parse_key(DEFAULT_KEY_FOR_TESTS).unwrap()[0], 0x64);
        assert!(parse_key("00").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }

    const DEFAULT_KEY_FOR_TESTS: &str = crate::DEFAULT_RPMB_KEY;

    #[test]
    fn writes_carry_consecutive_counters_and_replies_are_checked() {
        let s = session();
        let frames = Frame::parse_all(&s.write_request(3)).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].write_counter(), 13);
        assert_eq!(frames[0].address(), 3);
        assert_eq!(frames[0].key_mac(), &mac(&[7; 32], &frames[..1]));
        assert_eq!(frames[1].req_resp(), REQ_RESULT_READ);
        let mut resp = Frame::with_type(RESP_DATA_WRITE);
        resp.set_write_counter(14);
        let tag = mac(&[7; 32], std::slice::from_ref(&resp));
        resp.set_key_mac(&tag);
        assert_eq!(s.check_write(3, resp.as_bytes()), Ok(()));
        assert!(s.check_write(4, resp.as_bytes()).is_err(), "wrong counter");
        resp.set_result(RES_AUTH_FAILURE);
        assert!(s.check_write(3, resp.as_bytes()).is_err());
    }

    #[test]
    fn eight_block_reads_stay_inside_the_partition() {
        let s = session();
        let req = Frame::from_slice(&s.read_request(509, 8)).unwrap();
        assert_eq!((req.address(), req.block_count()), (509 % 505, 8));
        assert_eq!(req.nonce(), &nonce(509));
    }
}
