//! The interface every SCMI protocol implements, and the dispatcher that routes messages.

use super::constants::{common, Status, MSG_TYPE_COMMAND};
use super::message::{encode_response, Header, Params, Reply};

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
    fn handle(
        &mut self,
        message_id: u8,
        params: Params<'_>,
        reply: &mut Reply,
    ) -> Result<(), Status>;
}

/// Routes agent commands to the protocols a platform serves.
pub struct Dispatcher {
    protocols: Vec<Box<dyn Protocol>>,
}

impl Dispatcher {
    /// Serves `protocols`; their IDs must be distinct.
    pub fn new(protocols: Vec<Box<dyn Protocol>>) -> Self {
        Self { protocols }
    }

    /// Handles one command message; None when it is too short to carry a header.
    pub fn process(&mut self, message: &[u8]) -> Option<Vec<u8>> {
        let (word, payload) = message.split_first_chunk::<4>()?;
        let header = Header::from_word(u32::from_le_bytes(*word));
        let mut reply = Reply::default();
        let status = match self.dispatch(header, Params::new(payload), &mut reply) {
            Ok(()) => Status::Success,
            Err(status) => status,
        };
        Some(encode_response(header, status, &reply.into_bytes()))
    }

    fn dispatch(
        &mut self,
        header: Header,
        mut params: Params<'_>,
        reply: &mut Reply,
    ) -> Result<(), Status> {
        if header.message_type != MSG_TYPE_COMMAND {
            return Err(Status::ProtocolError);
        }
        let protocol = self
            .protocols
            .iter_mut()
            .find(|p| p.id() == header.protocol_id)
            .ok_or(Status::NotSupported)?;
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
                        | common::PROTOCOL_MESSAGE_ATTRIBUTES => Some(0),
                        _ => protocol.message_attributes(id),
                    })
                    .ok_or(Status::NotFound)?;
                reply.u32(attrs);
                Ok(())
            }
            id => {
                if protocol.message_attributes(id).is_none() {
                    return Err(Status::NotSupported);
                }
                protocol.handle(id, params, reply)
            }
        }
    }
}
