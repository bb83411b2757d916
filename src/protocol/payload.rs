//! Payload bodies to and from bytes, per payload type (PROTOCOL.md §2).
//!
//! The fixed-layout payloads (Ping, Pong, Push, Bye) live here; Query, QueryHit and the
//! QRP Route-Table-Update have their own files. Integers are little-endian except IPv4 addresses (network order).

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::extensions::ExtensionError;
use super::guid::Guid;
use super::message::{kind, Bye, Payload, Ping, Pong, Push};
use super::{qrp, query, query_hit, vendor};

/// Why one descriptor's payload cannot be read. The descriptor is skipped; the connection
/// goes on (a misbehaving peer is judged by the node from the counts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("unknown payload type 0x{0:02x}")]
    UnknownType(u8),
    #[error("{what} payload of {len} bytes is shorter than its minimum of {min}")]
    TooShort {
        what: &'static str,
        len: usize,
        min: usize,
    },
    #[error("query criteria are not NUL-terminated")]
    QueryWithoutNul,
    #[error("query criteria are not valid UTF-8")]
    QueryNotUtf8,
    #[error("malformed extension area: {0}")]
    Extensions(#[from] ExtensionError),
    #[error("query hit carries no records")]
    HitWithoutRecords,
    #[error("query hit declares {declared} records but its bytes end inside record {record}")]
    HitRecordTruncated { declared: u8, record: u8 },
    #[error("query hit record {record} lacks the NUL that ends its extensions")]
    HitRecordWithoutSecondNul { record: u8 },
    #[error("query hit trailer of {len} bytes is malformed")]
    HitBadTrailer { len: usize },
    #[error("QRP RESET of {0} bytes (it is always 6)")]
    QrpResetLength(usize),
    #[error("unknown QRP message variant 0x{0:02x}")]
    QrpUnknownVariant(u8),
    #[error("messages supported lists {count} entries but has room for {room}")]
    VendorCount { count: usize, room: usize },
}

const PONG_MIN: usize = 14;
const PUSH_MIN: usize = 26;
const BYE_MIN: usize = 2;

/// Reads a payload of type `kind`. `payload` is the whole body after the header.
pub fn decode_payload(kind: u8, payload: Bytes) -> Result<Payload, PayloadError> {
    Ok(match kind {
        kind::PING => Payload::Ping(Ping { ggep: payload }),
        kind::PONG => Payload::Pong(decode_pong(payload)?),
        kind::BYE => Payload::Bye(decode_bye(&payload)?),
        kind::PUSH => Payload::Push(decode_push(payload)?),
        kind::QUERY => decode_query(&payload)?,
        kind::QUERY_HIT => Payload::QueryHit(Arc::new(query_hit::decode(payload)?)),
        kind::ROUTE_TABLE_UPDATE => Payload::RouteTableUpdate(qrp::decode(payload)?),
        kind::VENDOR | kind::STANDARD_VENDOR => Payload::Vendor(vendor::decode(kind, payload)?),
        other => return Err(PayloadError::UnknownType(other)),
    })
}

/// Reads a Query payload from borrowed bytes: the criteria are copied into the query, and
/// the extension area too when there is one, so the payload need not be copied first.
pub fn decode_query(payload: &[u8]) -> Result<Payload, PayloadError> {
    Ok(Payload::Query(Arc::new(query::decode(payload)?)))
}

/// The number of bytes `encode_payload` writes.
pub fn payload_len(payload: &Payload) -> usize {
    match payload {
        Payload::Ping(p) => p.ggep.len(),
        Payload::Pong(p) => PONG_MIN + p.ggep.len(),
        Payload::Bye(b) => BYE_MIN + until_nul(b.message.as_bytes()).len() + 1,
        Payload::Push(p) => PUSH_MIN + p.ggep.len(),
        Payload::Query(q) => query::encoded_len(q),
        Payload::QueryHit(h) => query_hit::encoded_len(h),
        Payload::RouteTableUpdate(u) => qrp::encoded_len(u),
        Payload::Vendor(v) => vendor::encoded_len(v),
        Payload::Unknown { body, .. } => body.len(),
    }
}

/// Appends the payload body (no header).
pub fn encode_payload(payload: &Payload, out: &mut BytesMut) {
    match payload {
        Payload::Ping(p) => out.put_slice(&p.ggep),
        Payload::Pong(p) => {
            out.put_u16_le(p.port);
            out.put_slice(&p.ip.octets());
            out.put_u32_le(p.files);
            out.put_u32_le(p.kbytes);
            out.put_slice(&p.ggep);
        }
        Payload::Bye(b) => {
            out.put_u16_le(b.code);
            out.put_slice(until_nul(b.message.as_bytes()));
            out.put_u8(0);
        }
        Payload::Push(p) => {
            out.put_slice(&p.servent_guid.0);
            out.put_u32_le(p.index);
            out.put_slice(&p.ip.octets());
            out.put_u16_le(p.port);
            out.put_slice(&p.ggep);
        }
        Payload::Query(q) => query::encode(q, out),
        Payload::QueryHit(h) => query_hit::encode(h, out),
        Payload::RouteTableUpdate(u) => qrp::encode(u, out),
        Payload::Vendor(v) => vendor::encode(v, out),
        Payload::Unknown { body, .. } => out.put_slice(body),
    }
}

/// The bytes before the first NUL: a NUL inside a string field would end it early on the
/// wire and shift every later field, so the encoders never write one.
pub(crate) fn until_nul(bytes: &[u8]) -> &[u8] {
    match first_nul(bytes) {
        Some(i) => bytes.get(..i).unwrap_or_default(),
        None => bytes,
    }
}

/// Where the first NUL of `bytes` is. Eight bytes at a time: every Query's criteria are
/// searched for their NUL when decoded and again when encoded, and a byte-by-byte loop
/// was a visible share of a relayed query's cost (criteria are too short for a call to
/// `memchr` to pay off).
#[inline]
pub(crate) fn first_nul(bytes: &[u8]) -> Option<usize> {
    // Some byte of `w` is 0 exactly when this is non-zero (the classic "has zero byte").
    fn has_zero(w: &[u8]) -> bool {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let v = u64::from_ne_bytes(b);
        v.wrapping_sub(LO) & !v & HI != 0
    }
    let len = bytes.len();
    if len < 8 {
        return bytes.iter().position(|&b| b == 0);
    }
    let mut at = 0;
    while at + 8 <= len {
        if has_zero(&bytes[at..at + 8]) {
            return bytes[at..at + 8]
                .iter()
                .position(|&b| b == 0)
                .map(|i| at + i);
        }
        at += 8;
    }
    // The last (overlapping) word; the bytes before `at` hold no NUL.
    if at < len && has_zero(&bytes[len - 8..]) {
        return bytes[at..].iter().position(|&b| b == 0).map(|i| at + i);
    }
    None
}

fn require(what: &'static str, payload: &[u8], min: usize) -> Result<(), PayloadError> {
    if payload.len() < min {
        return Err(PayloadError::TooShort {
            what,
            len: payload.len(),
            min,
        });
    }
    Ok(())
}

pub(crate) fn u16_le(b: &[u8], at: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        v.copy_from_slice(s);
    }
    u16::from_le_bytes(v)
}

pub(crate) fn u32_le(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

pub(crate) fn ipv4(b: &[u8], at: usize) -> Ipv4Addr {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        v.copy_from_slice(s);
    }
    Ipv4Addr::from(v)
}

pub(crate) fn guid(b: &[u8], at: usize) -> Guid {
    let mut v = [0u8; 16];
    if let Some(s) = b.get(at..at + 16) {
        v.copy_from_slice(s);
    }
    Guid(v)
}

fn decode_pong(payload: Bytes) -> Result<Pong, PayloadError> {
    require("pong", &payload, PONG_MIN)?;
    Ok(Pong {
        port: u16_le(&payload, 0),
        ip: ipv4(&payload, 2),
        files: u32_le(&payload, 6),
        kbytes: u32_le(&payload, 10),
        ggep: payload.slice(PONG_MIN..),
    })
}

fn decode_push(payload: Bytes) -> Result<Push, PayloadError> {
    require("push", &payload, PUSH_MIN)?;
    Ok(Push {
        servent_guid: guid(&payload, 0),
        index: u32_le(&payload, 16),
        ip: ipv4(&payload, 20),
        port: u16_le(&payload, 24),
        ggep: payload.slice(PUSH_MIN..),
    })
}

/// `code u16 | text | NUL`; a missing NUL is tolerated, text after a NUL ignored.
fn decode_bye(payload: &[u8]) -> Result<Bye, PayloadError> {
    require("bye", payload, BYE_MIN)?;
    let text = until_nul(payload.get(BYE_MIN..).unwrap_or_default());
    Ok(Bye {
        code: u16_le(payload, 0),
        message: String::from_utf8_lossy(text).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::first_nul;

    #[test]
    fn first_nul_agrees_with_a_byte_by_byte_search() {
        for len in 0..40 {
            let mut bytes: Vec<u8> = (0..len).map(|i| 0x80 | (i as u8) | 1).collect();
            assert_eq!(first_nul(&bytes), None, "len {len}");
            for nul in 0..len {
                bytes[nul] = 0;
                for second in nul..len {
                    let mut two = bytes.clone();
                    two[second] = 0;
                    assert_eq!(first_nul(&two), Some(nul), "len {len} nul {nul} {second}");
                }
                bytes[nul] = 1;
            }
        }
        assert_eq!(first_nul(&[0x01, 0x00]), Some(1));
        assert_eq!(first_nul(&[0xff; 9]), None);
    }
}
