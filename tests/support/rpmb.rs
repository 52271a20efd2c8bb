//! A host-side RPMB client, as Trusty's storage service is one: builds request frames,
//! MACs them with its key (HMAC-SHA256 from the `hmac` crate, not the service's code), and
//! checks responses. It speaks over any of the service's three faces.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use drivervm::devices::rpmb::constants::*;
use drivervm::devices::rpmb::frame::Frame;
use drivervm::harness::{Driver, HarnessOptions};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of the MAC input of `frames` under `key`.
pub fn mac(key: &[u8; 32], frames: &[Frame]) -> [u8; 32] {
    let mut m = <Hmac<Sha256>>::new_from_slice(key).expect("any key length");
    for f in frames {
        m.update(&f.as_bytes()[228..]);
    }
    m.finalize().into_bytes().into()
}

/// Harness options for RPMB devices (queues of 64).
pub fn options() -> HarnessOptions {
    HarnessOptions {
        queue_size: 64,
        timeout: Duration::from_secs(5),
        ..HarnessOptions::default()
    }
}

/// One of the service's RPMB faces.
pub enum Link {
    /// virtio-rpmb: one request queue, a request per buffer (over either transport).
    Virtio(Box<dyn Driver>),
    /// rpmb_dev on a unix socket.
    Socket(UnixStream),
    /// rpmb_dev on a virtio-console port (queue 0 receive, queue 1 transmit).
    Console(Box<dyn Driver>),
}

impl Link {
    /// Sends `cmds`, returns `res_count` response frames.
    pub fn exchange(&mut self, cmds: &[Frame], res_count: usize) -> Vec<Frame> {
        let bytes = match self {
            Link::Virtio(h) => h
                .request(0, &Frame::serialize_all(cmds), (res_count * 512) as u32)
                .expect("virtio-rpmb request"),
            Link::Socket(s) => {
                // As storageproxyd's send_virt_rpmb_req: three writes, one read.
                s.write_all(&(res_count as u16).to_ne_bytes()).unwrap();
                s.write_all(&(cmds.len() as u16).to_ne_bytes()).unwrap();
                s.write_all(&Frame::serialize_all(cmds)).unwrap();
                let mut out = vec![0u8; res_count * 512];
                s.read_exact(&mut out).expect("rpmb_dev response");
                out
            }
            Link::Console(h) => {
                h.submit(0, &[], (res_count * 512) as u32).unwrap();
                h.request(1, &(res_count as u16).to_ne_bytes(), 0).unwrap();
                h.request(1, &(cmds.len() as u16).to_ne_bytes(), 0).unwrap();
                h.request(1, &Frame::serialize_all(cmds), 0).unwrap();
                let mut out = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(5);
                while out.len() < res_count * 512 {
                    assert!(Instant::now() < deadline, "console response timed out");
                    for c in h.wait_completions(0, Duration::from_secs(5)).unwrap() {
                        out.extend(c.data);
                    }
                }
                out
            }
        };
        Frame::parse_all(&bytes).expect("whole frames")
    }
}

/// An RPMB client with a key.
pub struct Client {
    /// How it reaches the device.
    pub link: Link,
    /// Its authentication key.
    pub key: [u8; 32],
    nonce: u8,
}

impl Client {
    /// A client on `link` with `key`.
    pub fn new(link: Link, key: [u8; 32]) -> Self {
        Self {
            link,
            key,
            nonce: 0,
        }
    }

    fn next_nonce(&mut self) -> [u8; 16] {
        self.nonce = self.nonce.wrapping_add(1);
        [self.nonce; 16]
    }

    /// PROGRAM_KEY with a RESULT_READ; returns the result.
    pub fn program_key(&mut self) -> u16 {
        let mut pk = Frame::with_type(REQ_PROGRAM_KEY);
        pk.set_key_mac(&self.key);
        let r = self
            .link
            .exchange(&[pk, Frame::with_type(REQ_RESULT_READ)], 1);
        assert_eq!(r[0].req_resp(), RESP_PROGRAM_KEY);
        r[0].result()
    }

    /// GET_WRITE_COUNTER: (result, counter); an OK answer's nonce and MAC are checked.
    pub fn counter(&mut self) -> (u16, u32) {
        let nonce = self.next_nonce();
        let mut req = Frame::with_type(REQ_GET_WRITE_COUNTER);
        req.set_nonce(&nonce);
        let r = self.link.exchange(&[req], 1);
        assert_eq!(r[0].req_resp(), RESP_GET_WRITE_COUNTER);
        if r[0].result() == RES_OK {
            assert_eq!(r[0].nonce(), &nonce, "nonce echoed");
            assert_eq!(r[0].key_mac(), &mac(&self.key, &r), "counter response MAC");
        }
        (r[0].result(), r[0].write_counter())
    }

    /// An authenticated write of `blocks` at `address` with counter `counter`, MACed with
    /// `key`; returns the write response.
    pub fn write_as(
        &mut self,
        key: &[u8; 32],
        counter: u32,
        address: u16,
        blocks: &[[u8; 256]],
    ) -> Frame {
        let mut frames: Vec<Frame> = blocks
            .iter()
            .map(|b| {
                let mut f = Frame::with_type(REQ_DATA_WRITE);
                f.set_address(address);
                f.set_block_count(blocks.len() as u16);
                f.set_write_counter(counter);
                f.set_data(b);
                f
            })
            .collect();
        let tag = mac(key, &frames);
        frames.last_mut().unwrap().set_key_mac(&tag);
        frames.push(Frame::with_type(REQ_RESULT_READ));
        let r = self.link.exchange(&frames, 1).remove(0);
        assert_eq!(r.req_resp(), RESP_DATA_WRITE);
        if r.result() == RES_OK {
            assert_eq!(r.key_mac(), &mac(&self.key, std::slice::from_ref(&r)));
        }
        r
    }

    /// An authenticated write with this client's key at the device's current counter.
    pub fn write(&mut self, address: u16, blocks: &[[u8; 256]]) -> Frame {
        let (_, c) = self.counter();
        let key = self.key;
        self.write_as(&key, c, address, blocks)
    }

    /// An authenticated read of `n` blocks: the frames, MAC and nonce checked when OK.
    pub fn read(&mut self, address: u16, n: u16) -> Vec<Frame> {
        let nonce = self.next_nonce();
        let mut req = Frame::with_type(REQ_DATA_READ);
        req.set_address(address);
        req.set_block_count(n);
        req.set_nonce(&nonce);
        let r = self.link.exchange(&[req], usize::from(n));
        if r[0].result() == RES_OK {
            for f in &r {
                assert_eq!(f.nonce(), &nonce);
                assert_eq!(f.address(), address);
            }
            assert_eq!(r.last().unwrap().key_mac(), &mac(&self.key, &r), "read MAC");
        }
        r
    }
}
