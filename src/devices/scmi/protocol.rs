//! The interface every SCMI protocol implements, and the dispatcher that routes messages.

use std::sync::Arc;
use std::time::Instant;

use super::constants::{common, Status, MSG_TYPE_COMMAND, PROTOCOL_BASE};
use super::message::{Header, Params, Reply};
use crate::devices::Wake;

/// How long asynchronous work (a rate change, a reset) takes at the least before its
/// delayed response is sent.
///
/// Completing it at once would let the delayed response reach the eventq while the
/// command's own response is still on its way up the cmdq: drivers handle the two queues'
/// interrupts independently, and Linux then sees the delayed response first and drops the
/// late immediate one as invalid (found with a real guest). Real hardware takes this long
/// to relock a PLL or hold a reset anyway.
pub const ASYNC_SETTLE: std::time::Duration = std::time::Duration::from_millis(5);

/// What a protocol learns about the command it is handling besides its parameters.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The message ID (0x3 and up).
    pub message_id: u8,
    /// The command's token, needed to address a delayed response.
    pub token: u16,
    /// Most return-value bytes the driver's buffer holds (after header and status): paged
    /// replies return no more entries than fit.
    pub max_reply: usize,
}

/// One SCMI protocol as served to one agent.
pub trait Protocol: Send {
    /// The protocol ID (e.g. 0x10 for base).
    fn id(&self) -> u8;

    /// The protocol version reported by PROTOCOL_VERSION (major << 16 | minor).
    fn version(&self) -> u32;

    /// The payload of PROTOCOL_ATTRIBUTES.
    fn attributes(&self, reply: &mut Reply);

    /// Attributes of an implemented message, or None when the message is not implemented.
    fn message_attributes(&self, message_id: u8) -> Option<u32>;

    /// Handles a protocol-specific message (IDs 0x3 and up); common ones never reach here.
    fn handle(&mut self, call: Call, params: Params<'_>, reply: &mut Reply) -> Result<(), Status>;

    /// Called when the transport is ready; `waker` requests a [`Protocol::poll`] from any thread.
    fn activate(&mut self, waker: Arc<dyn Wake>) {
        let _ = waker;
    }

    /// Does deferred work; appends encoded P2A messages (notifications, delayed responses)
    /// to `out` and returns when it next needs polling.
    fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Option<Instant> {
        let _ = (now, out);
        None
    }

    /// Forgets per-connection state: subscriptions, pending asynchronous work.
    fn reset(&mut self) {}

    /// Told, on the base protocol only, of a message from the agent that the platform could
    /// not process: `header` is its header word as sent (None when it had none) and `at`
    /// when it arrived. The base protocol reports these as BASE_ERROR_EVENT.
    fn comms_error(&mut self, header: Option<u32>, at: Instant) {
        let _ = (header, at);
    }
}

/// Why a command was not carried out.
enum Rejected {
    /// The platform could not process the message as sent: no protocol or message of that
    /// ID is served to this agent. A communication error.
    Unroutable(Status),
    /// The protocol handled the command and answered with this status. PROTOCOL_ERROR
    /// (the parameters were cut short or ran over) is a communication error too.
    Failed(Status),
}

impl From<Status> for Rejected {
    fn from(status: Status) -> Self {
        Rejected::Failed(status)
    }
}

/// Routes agent commands to the protocols a platform serves.
pub struct Dispatcher {
    protocols: Vec<Box<dyn Protocol>>,
}

impl Dispatcher {
    /// Every protocol, for activation, polling and reset.
    pub fn protocols_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn Protocol>> {
        self.protocols.iter_mut()
    }
}

impl Dispatcher {
    /// Serves `protocols`; their IDs must be distinct.
    pub fn new(protocols: Vec<Box<dyn Protocol>>) -> Self {
        Self { protocols }
    }

    /// Handles one command message for a driver buffer of `writable_len` bytes; None when
    /// the message is too short to carry a header.
    ///
    /// Messages the platform cannot process are also reported to the base protocol.
    pub fn process(&mut self, message: &[u8], writable_len: usize) -> Option<Vec<u8>> {
        let Some((word, payload)) = message.split_first_chunk::<4>() else {
            self.comms_error(None);
            return None;
        };
        let word = u32::from_le_bytes(*word);
        let header = Header::from_word(word);
        let mut reply = Reply::for_response();
        let max_reply = writable_len.saturating_sub(8);
        let (status, comms_error) =
            match self.dispatch(header, Params::new(payload), &mut reply, max_reply) {
                Ok(()) => (Status::Success, false),
                Err(Rejected::Unroutable(status)) => (status, true),
                Err(Rejected::Failed(status)) => (status, status == Status::ProtocolError),
            };
        if comms_error {
            self.comms_error(Some(word));
        }
        Some(reply.into_response(header, status))
    }

    fn comms_error(&mut self, header: Option<u32>) {
        let now = Instant::now();
        if let Some(base) = self.protocols.iter_mut().find(|p| p.id() == PROTOCOL_BASE) {
            base.comms_error(header, now);
        }
    }

    fn dispatch(
        &mut self,
        header: Header,
        mut params: Params<'_>,
        reply: &mut Reply,
        max_reply: usize,
    ) -> Result<(), Rejected> {
        if header.message_type != MSG_TYPE_COMMAND {
            return Err(Status::ProtocolError.into());
        }
        let protocol = self
            .protocols
            .iter_mut()
            .find(|p| p.id() == header.protocol_id)
            .ok_or(Rejected::Unroutable(Status::NotSupported))?;
        match header.message_id {
            common::PROTOCOL_VERSION => {
                params.finish()?;
                reply.u32(protocol.version());
                Ok(())
            }
            common::PROTOCOL_ATTRIBUTES => {
                params.finish()?;
                protocol.attributes(reply);
                Ok(())
            }
            common::PROTOCOL_MESSAGE_ATTRIBUTES => {
                let id = params.u32()?;
                params.finish()?;
                let attrs = u8::try_from(id)
                    .ok()
                    .and_then(|id| match id {
                        common::PROTOCOL_VERSION
                        | common::PROTOCOL_ATTRIBUTES
                        | common::PROTOCOL_MESSAGE_ATTRIBUTES
                        | common::NEGOTIATE_PROTOCOL_VERSION => Some(0),
                        _ => protocol.message_attributes(id),
                    })
                    .ok_or(Status::NotFound)?;
                reply.u32(attrs);
                Ok(())
            }
            common::NEGOTIATE_PROTOCOL_VERSION => {
                let version = params.u32()?;
                params.finish()?;
                // Each protocol implements exactly one version: agreeing to any other
                // would promise behaviour that is not there.
                if version == protocol.version() {
                    Ok(())
                } else {
                    Err(Status::NotSupported.into())
                }
            }
            id => {
                if protocol.message_attributes(id).is_none() {
                    return Err(Rejected::Unroutable(Status::NotSupported));
                }
                let call = Call {
                    message_id: id,
                    token: header.token,
                    max_reply,
                };
                Ok(protocol.handle(call, params, reply)?)
            }
        }
    }
}
