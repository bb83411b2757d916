//! Descriptors to bytes and a byte stream back into descriptors (PROTOCOL.md §1).
//!
//! A connection's stream is `header(23) || payload(len)` records with no resync marker, so
//! the only fatal error is a length we refuse to buffer: it is checked before any byte is
//! reserved, and the connection that sent it is closed. Everything else about a single
//! descriptor (unknown type, malformed payload, too big to pass on) skips that descriptor
//! and keeps the connection, as gtk-gnutella and LimeWire do.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::guid::Guid;
use super::message::{kind, Header, Message, Payload, HEADER_LEN};
use super::payload::{self, PayloadError};
use super::query;

/// Default cap on a payload we accept (PROTOCOL.md §1.3: both major servents stop at 64 KiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024;
/// gtk-gnutella neither relays nor handles a Query above 256 bytes (PROTOCOL.md §1.3).
pub const DEFAULT_MAX_QUERY_PAYLOAD: usize = 256;
/// ... nor a QueryHit above 16 KiB.
pub const DEFAULT_MAX_HIT_PAYLOAD: usize = 16 * 1024;
/// gtk-gnutella drops a Ping or Pong carrying more than 1,536 bytes of GGEP
/// (PROTOCOL.md §1.3); the routing core does too, and relays neither whole.
pub const MAX_PING_GGEP: usize = 1536;

/// Why a byte stream cannot go on: the connection that sent it must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload length {len} exceeds the limit of {max} bytes")]
    TooLarge { len: u32, max: usize },
}

/// Why a complete descriptor was skipped; the connection goes on and the node counts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// A payload type we do not handle (HSEP, ...). Never forwarded.
    #[error("unknown payload type 0x{0:02x}")]
    UnknownType(u8),
    /// The payload does not parse.
    #[error("bad payload: {0}")]
    BadPayload(PayloadError),
    /// Larger than real servents pass on for its type (not handled, not relayed).
    #[error("payload of {len} bytes is above the limit of {limit} for its type")]
    TooBigToForward { len: usize, limit: usize },
}

impl From<PayloadError> for SkipReason {
    fn from(e: PayloadError) -> SkipReason {
        match e {
            PayloadError::UnknownType(kind) => SkipReason::UnknownType(kind),
            other => SkipReason::BadPayload(other),
        }
    }
}

/// One item out of the stream decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A well-formed descriptor.
    Message(Message),
    /// A complete descriptor that was skipped; its bytes are consumed.
    Skipped { header: Header, reason: SkipReason },
}

/// Incremental decoder over a connection's receive buffer.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// A larger declared length is fatal for the connection; nothing is reserved for it.
    pub max_payload: usize,
    /// Queries above this are skipped with [`SkipReason::TooBigToForward`].
    pub max_query_payload: usize,
    /// QueryHits above this are skipped with [`SkipReason::TooBigToForward`].
    pub max_hit_payload: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_query_payload: DEFAULT_MAX_QUERY_PAYLOAD,
            max_hit_payload: DEFAULT_MAX_HIT_PAYLOAD,
        }
    }
}

impl FrameDecoder {
    /// A decoder with the real servents' limits.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// The same, with another fatal payload limit.
    pub fn with_max_payload(max_payload: usize) -> FrameDecoder {
        FrameDecoder {
            max_payload,
            ..FrameDecoder::default()
        }
    }

    /// Takes one frame off the front of `buf`: `Ok(None)` = need more bytes (`buf` is
    /// untouched, with room reserved for the rest of the frame). An `Err` leaves `buf` as it
    /// was and repeats on every later call: close the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
        let Some(header) = decode_header(buf) else {
            buf.reserve(HEADER_LEN - buf.len());
            return Ok(None);
        };
        let too_large = DecodeError::TooLarge {
            len: header.payload_len,
            max: self.max_payload,
        };
        let len = usize::try_from(header.payload_len).map_err(|_| too_large.clone())?;
        if len > self.max_payload {
            return Err(too_large);
        }
        let total = HEADER_LEN + len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let limit = match header.kind {
            kind::QUERY => self.max_query_payload,
            kind::QUERY_HIT => self.max_hit_payload,
            _ => usize::MAX,
        };
        if len > limit {
            buf.advance(total);
            let reason = SkipReason::TooBigToForward { len, limit };
            return Ok(Some(Frame::Skipped { header, reason }));
        }
        // Payloads are copied out, so that a message kept for long (result cache) does not
        // pin the whole receive buffer it arrived in; a Query, the most common payload,
        // is read straight from the buffer (it copies its criteria anyway).
        let body = buf.get(HEADER_LEN..total).unwrap_or_default();
        let decoded = match header.kind {
            kind::QUERY => payload::decode_query(body).map(|payload| Message {
                guid: header.guid,
                ttl: header.ttl,
                hops: header.hops,
                payload,
            }),
            _ => decode_message(&header, Bytes::copy_from_slice(body)),
        };
        buf.advance(total);
        Ok(Some(match decoded {
            Ok(message) => Frame::Message(message),
            Err(e) => Frame::Skipped {
                header,
                reason: e.into(),
            },
        }))
    }
}

/// Reads the 23-byte header at the start of `bytes`; `None` if fewer bytes are there.
pub fn decode_header(bytes: &[u8]) -> Option<Header> {
    let h = bytes.get(..HEADER_LEN)?;
    let mut guid = [0u8; 16];
    guid.copy_from_slice(h.get(..16)?);
    Some(Header {
        guid: Guid(guid),
        kind: h[16],
        ttl: h[17],
        hops: h[18],
        payload_len: u32::from_le_bytes([h[19], h[20], h[21], h[22]]),
    })
}

/// Appends the 23-byte header.
pub fn encode_header(header: &Header, out: &mut BytesMut) {
    // One copy of the assembled header rather than five capacity-checked puts: every
    // forwarded descriptor comes through here.
    out.put_slice(&header_bytes(header));
}

/// The 23 header bytes.
pub(crate) fn header_bytes(header: &Header) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..16].copy_from_slice(&header.guid.0);
    h[16] = header.kind;
    h[17] = header.ttl;
    h[18] = header.hops;
    h[19..].copy_from_slice(&header.payload_len.to_le_bytes());
    h
}

/// Reads one descriptor whose header is already parsed; `payload` is exactly its body
/// (its length is taken from `payload`, not from `header.payload_len`).
pub fn decode_message(header: &Header, payload: Bytes) -> Result<Message, PayloadError> {
    let payload = payload::decode_payload(header.kind, payload)?;
    Ok(Message {
        guid: header.guid,
        ttl: header.ttl,
        hops: header.hops,
        payload,
    })
}

impl Message {
    /// The header this message is sent with.
    pub fn header(&self) -> Header {
        Header {
            guid: self.guid,
            kind: self.payload.kind(),
            ttl: self.ttl,
            hops: self.hops,
            payload_len: u32::try_from(payload::payload_len(&self.payload)).unwrap_or(u32::MAX),
        }
    }

    /// Bytes on the wire: header plus payload.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + payload::payload_len(&self.payload)
    }

    /// Appends the 23-byte header and the payload to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        if let Payload::Query(query) = &self.payload {
            // The descriptor every node forwards most: its own path (one scan of the
            // criteria, header and flags in one copy).
            let header = Header {
                guid: self.guid,
                kind: kind::QUERY,
                ttl: self.ttl,
                hops: self.hops,
                payload_len: 0,
            };
            return query::encode_message(header, query, out);
        }
        // The payload's length is measured once, for the reservation and the header.
        let len = payload::payload_len(&self.payload);
        out.reserve(HEADER_LEN + len);
        let header = Header {
            guid: self.guid,
            kind: self.payload.kind(),
            ttl: self.ttl,
            hops: self.hops,
            payload_len: u32::try_from(len).unwrap_or(u32::MAX),
        };
        encode_header(&header, out);
        payload::encode_payload(&self.payload, out);
    }

    /// The message as one buffer, ready to share between links.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{Bye, Payload};
    use crate::protocol::{Extension, Query, Sha1};
    use std::sync::Arc;

    #[test]
    fn a_query_encodes_as_header_then_payload() {
        let mut with_urn = Query::keywords("debian\0 netinst");
        with_urn
            .extensions
            .push(Extension::Sha1(Sha1::of_bytes(b"x")));
        with_urn
            .extensions
            .push(Extension::Other(Bytes::from_static(b"abc")));
        with_urn.trailing_nul = true;
        for query in [Query::keywords("a b"), Query::keywords(""), with_urn] {
            let msg = Message {
                guid: Guid([9; 16]),
                ttl: 3,
                hops: 2,
                payload: Payload::Query(Arc::new(query)),
            };
            let mut general = BytesMut::new();
            encode_header(&msg.header(), &mut general);
            payload::encode_payload(&msg.payload, &mut general);
            let mut out = BytesMut::from(&b"before"[..]);
            msg.encode(&mut out);
            assert_eq!(&out[6..], &general[..]);
            assert_eq!(out.len() - 6, msg.encoded_len());
        }
    }

    fn bye() -> Message {
        Message {
            guid: Guid([7; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::Bye(Bye {
                code: 200,
                message: "bye".into(),
            }),
        }
    }

    #[test]
    fn stream_yields_frames_across_arbitrary_splits() {
        let wire = [bye().to_bytes(), bye().to_bytes()].concat();
        for split in 0..wire.len() {
            let mut dec = FrameDecoder::new();
            let mut buf = BytesMut::from(&wire[..split]);
            let mut got = Vec::new();
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                got.push(f);
            }
            buf.extend_from_slice(&wire[split..]);
            while let Some(f) = dec.decode(&mut buf).unwrap() {
                got.push(f);
            }
            assert_eq!(got, vec![Frame::Message(bye()), Frame::Message(bye())]);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn oversized_length_is_fatal_before_reserving() {
        let mut wire = BytesMut::from(&bye().to_bytes()[..HEADER_LEN]);
        wire[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
        let before = wire.capacity();
        let mut dec = FrameDecoder::new();
        assert!(matches!(
            dec.decode(&mut wire),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            dec.decode(&mut wire),
            Err(DecodeError::TooLarge { .. })
        ));
        assert_eq!(wire.capacity(), before);
    }

    #[test]
    fn unknown_type_is_skipped_and_stream_goes_on() {
        let unknown = Message {
            guid: Guid([1; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::Unknown {
                kind: 0xCD,
                body: Bytes::from_static(b"HSEP"),
            },
        };
        let mut buf = BytesMut::new();
        unknown.encode(&mut buf);
        bye().encode(&mut buf);
        let mut dec = FrameDecoder::new();
        let first = dec.decode(&mut buf).unwrap();
        assert!(matches!(
            first,
            Some(Frame::Skipped {
                reason: SkipReason::UnknownType(0xCD),
                ..
            })
        ));
        assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Message(bye())));
    }
}
