//! Query payloads (PROTOCOL.md §2.3): flags, NUL-terminated criteria, extension area.
//!
//! Both real shapes are read: LimeWire ends the extension area with a NUL, gtk-gnutella
//! does not; `Query::trailing_nul` remembers which, so a relayed query keeps its shape.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::header_bytes;
use super::extensions;
use super::message::{Header, Query, HEADER_LEN};
use super::payload::{first_nul, until_nul, PayloadError};
use super::urn::Sha1;

/// Flags (2 bytes) plus the criteria's NUL.
const MIN_LEN: usize = 3;

impl Query {
    /// The first SHA-1 asked for, from a HUGE string or GGEP `H`/`u` (gtk-gnutella accepts
    /// all three); [`Query::sha1s`] yields the HUGE strings only.
    pub fn find_sha1(&self) -> Option<Sha1> {
        extensions::first_sha1(&self.extensions)
    }
}

pub(crate) fn decode(payload: &[u8]) -> Result<Query, PayloadError> {
    if payload.len() < MIN_LEN {
        return Err(PayloadError::TooShort {
            what: "query",
            len: payload.len(),
            min: MIN_LEN,
        });
    }
    // First wire byte high: gtk-gnutella's peek_be16, and LimeWire's masks land there too.
    let flags = u16::from_be_bytes([payload[0], payload[1]]);
    let body = &payload[2..];
    let nul = first_nul(body).ok_or(PayloadError::QueryWithoutNul)?;
    let criteria = std::str::from_utf8(&body[..nul]).map_err(|_| PayloadError::QueryNotUtf8)?;
    // Most queries have no extension area: no copy (an allocation) and no parse unless
    // there is one to keep.
    let (extensions, trailing_nul) = match payload.get(2 + nul + 1..) {
        Some(area) if !area.is_empty() => {
            extensions::parse_area(&Bytes::copy_from_slice(area), true)?
        }
        _ => (Vec::new(), false),
    };
    Ok(Query {
        flags,
        criteria: criteria.into(),
        extensions,
        trailing_nul,
    })
}

pub(crate) fn encoded_len(query: &Query) -> usize {
    2 + until_nul(query.criteria.as_bytes()).len()
        + 1
        + extensions::area_len(&query.extensions)
        + usize::from(query.trailing_nul)
}

/// Appends `header` (its `payload_len` set here) and `query`'s payload, as
/// `Message::encode` does for any descriptor: the criteria are measured once, and the
/// header and the flags go in as one copy.
pub(crate) fn encode_message(mut header: Header, query: &Query, out: &mut BytesMut) {
    let criteria = until_nul(query.criteria.as_bytes());
    let len = 2
        + criteria.len()
        + 1
        + extensions::area_len(&query.extensions)
        + usize::from(query.trailing_nul);
    header.payload_len = u32::try_from(len).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + len);
    let mut head = [0u8; HEADER_LEN + 2];
    head[..HEADER_LEN].copy_from_slice(&header_bytes(&header));
    head[HEADER_LEN..].copy_from_slice(&query.flags.to_be_bytes());
    out.put_slice(&head);
    out.put_slice(criteria);
    out.put_u8(0);
    if !query.extensions.is_empty() {
        extensions::write_area(&query.extensions, out);
    }
    if query.trailing_nul {
        out.put_u8(0);
    }
}

/// Writes the query as given; our own queries come from `Query::keywords`/`by_urn`, which
/// set the 0x80 flag marker gtk-gnutella requires (PROTOCOL.md §0.2).
pub(crate) fn encode(query: &Query, out: &mut BytesMut) {
    out.put_slice(&query.flags.to_be_bytes());
    out.put_slice(until_nul(query.criteria.as_bytes()));
    out.put_u8(0);
    extensions::write_area(&query.extensions, out);
    if query.trailing_nul {
        out.put_u8(0);
    }
}
