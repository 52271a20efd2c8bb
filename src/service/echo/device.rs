//! The echo device: one request queue; each buffer comes back holding as many of its
//! device-readable bytes as the driver made writable, in reverse order.

use std::sync::Arc;

use crate::devices::{Completer, Request, VirtioDevice};
use crate::wake::Wake;

/// Entries of the request queue.
const QUEUE_SIZE: u16 = 256;

/// Device type reported to a transport that asks; not an OASIS ID (vhost-user never sends it,
/// and the kind is never served over Gunyah).
const ECHO_DEVICE_TYPE: u32 = 0xffff;

/// The device.
pub struct EchoDevice {
    max_request: usize,
}

impl EchoDevice {
    /// An echo device accepting requests of up to `max_request` readable bytes.
    pub fn new(max_request: usize) -> Self {
        Self { max_request }
    }
}

impl VirtioDevice for EchoDevice {
    fn device_type(&self) -> u32 {
        ECHO_DEVICE_TYPE
    }

    fn name(&self) -> &str {
        "echo"
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        0
    }

    fn activate(&mut self, _features: u64, _waker: Arc<dyn Wake>) {}

    fn max_request_len(&self, _queue: u16) -> usize {
        self.max_request
    }

    fn handle(&mut self, request: Request, completer: &mut dyn Completer) {
        // The transport already bounded both lengths; the response never exceeds either.
        let n = request.data.len().min(request.writable_len);
        let reply: Vec<u8> = request.data[..n].iter().rev().copied().collect();
        // A failed completion has already returned the buffer with a used length of 0.
        let _ = completer.complete(request.token, &reply);
    }

    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{CompleteError, Token};

    struct Sink(Vec<Vec<u8>>);

    impl Completer for Sink {
        fn complete(&mut self, _token: Token, response: &[u8]) -> Result<(), CompleteError> {
            self.0.push(response.to_vec());
            Ok(())
        }
    }

    #[test]
    fn echoes_reversed_and_never_more_than_the_writable_part() {
        let mut d = EchoDevice::new(4096);
        let mut sink = Sink(Vec::new());
        for (data, writable, want) in [
            (&b"abc"[..], 8, &b"cba"[..]),
            (&b"abcdef"[..], 2, &b"ba"[..]),
            (&b""[..], 8, &b""[..]),
        ] {
            d.handle(
                Request {
                    token: Token {
                        queue: 0,
                        head: 0,
                        generation: 0,
                        writable: Vec::new(),
                    },
                    data: data.to_vec(),
                    writable_len: writable,
                },
                &mut sink,
            );
            assert_eq!(sink.0.pop().as_deref(), Some(want));
        }
    }
}
