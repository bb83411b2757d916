//! Encoding descriptors to bytes and decoding a byte stream into descriptors.
//!
//! SKELETON: signatures are the contract for the other layers; bodies are being written.

use bytes::BytesMut;

use super::message::{Header, Message};

/// Default cap on a payload we accept (PROTOCOL.md §1.3: both major servents stop at 64 KiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024;

/// Why a byte stream cannot go on: the connection that sent it must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload length {len} exceeds the limit of {max} bytes")]
    TooLarge { len: u32, max: usize },
}

/// One item out of the stream decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A well-formed descriptor.
    Message(Message),
    /// A complete descriptor that was skipped (unknown type, malformed payload); the
    /// connection goes on, the caller counts it.
    Skipped { header: Header, reason: String },
}

/// Incremental decoder over a connection's receive buffer.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    pub max_payload: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder { max_payload: DEFAULT_MAX_PAYLOAD }
    }
}

impl FrameDecoder {
    /// Takes one frame off the front of `buf`: `Ok(None)` = need more bytes.
    pub fn decode(&mut self, _buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        todo!("protocol codec")
    }
}

impl Message {
    /// Appends the 23-byte header and the payload to `out`.
    pub fn encode(&self, _out: &mut BytesMut) {
        todo!("protocol codec")
    }
}
