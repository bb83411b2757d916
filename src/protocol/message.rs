//! Gnutella descriptors as values: the 23-byte header fields and the typed payloads.
//!
//! These types are the contract between the wire codec (`encode`/`decode` in this module's
//! siblings), the routing core and both drivers. Payloads that fan out to many neighbours
//! (Query, QueryHit) sit behind `Arc`, so forwarding one to N links clones a pointer, not
//! the bytes. Everything a real servent may attach that we do not interpret (GGEP, XML,
//! unknown extensions) is kept as opaque bytes and forwarded untouched (PROTOCOL.md §2.9).

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
pub use compact_str::CompactString;

use super::guid::Guid;
pub use super::qrp::{Patch, RouteTableUpdate};
use super::urn::Sha1;
pub use super::vendor::{Vendor, VendorId};

/// Size of the descriptor header on the wire.
pub const HEADER_LEN: usize = 23;

/// Payload type codes (PROTOCOL.md §1.1).
pub mod kind {
    pub const PING: u8 = 0x00;
    pub const PONG: u8 = 0x01;
    pub const BYE: u8 = 0x02;
    pub const ROUTE_TABLE_UPDATE: u8 = 0x30;
    pub const VENDOR: u8 = super::super::vendor::KIND_VENDOR;
    pub const STANDARD_VENDOR: u8 = super::super::vendor::KIND_STANDARD_VENDOR;
    pub const PUSH: u8 = 0x40;
    pub const QUERY: u8 = 0x80;
    pub const QUERY_HIT: u8 = 0x81;
}

/// The decoded 23-byte descriptor header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub guid: Guid,
    pub kind: u8,
    pub ttl: u8,
    pub hops: u8,
    pub payload_len: u32,
}

/// One descriptor: header fields plus a typed payload. The payload length is derived
/// when encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub guid: Guid,
    pub ttl: u8,
    pub hops: u8,
    pub payload: Payload,
}

/// The typed payloads we understand; anything else is `Unknown` and is never forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Ping(Ping),
    Pong(Pong),
    Bye(Bye),
    Push(Push),
    Query(Arc<Query>),
    QueryHit(Arc<QueryHit>),
    /// A QRP Route-Table-Update (RESET or PATCH): link-local, never relayed.
    RouteTableUpdate(RouteTableUpdate),
    /// A vendor message (0x31 or 0x32): link-local, never relayed.
    Vendor(Vendor),
    /// A payload type we do not handle (HSEP, ...), kept as bytes.
    Unknown {
        kind: u8,
        body: Bytes,
    },
}

impl Payload {
    /// The payload type code of this payload.
    pub fn kind(&self) -> u8 {
        match self {
            Payload::Ping(_) => kind::PING,
            Payload::Pong(_) => kind::PONG,
            Payload::Bye(_) => kind::BYE,
            Payload::Push(_) => kind::PUSH,
            Payload::Query(_) => kind::QUERY,
            Payload::QueryHit(_) => kind::QUERY_HIT,
            Payload::RouteTableUpdate(_) => kind::ROUTE_TABLE_UPDATE,
            Payload::Vendor(v) => v.kind(),
            Payload::Unknown { kind, .. } => *kind,
        }
    }
}

/// Ping: empty, or a GGEP block kept opaque (starts with 0xC3 when present).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Ping {
    pub ggep: Bytes,
}

/// Pong: a host's listening address and what it shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pong {
    pub port: u16,
    /// Network byte order on the wire.
    pub ip: Ipv4Addr,
    pub files: u32,
    pub kbytes: u32,
    /// Optional GGEP block after the 14 fixed bytes, opaque.
    pub ggep: Bytes,
}

/// Bye: why the sender closes the link (PROTOCOL.md §2.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bye {
    pub code: u16,
    /// The text after the code, without the terminating NUL (may include `\r\n` headers).
    pub message: String,
}

/// Push: ask the servent `servent_guid` to connect back to `ip:port` and serve `index`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    pub servent_guid: Guid,
    pub index: u32,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub ggep: Bytes,
}

/// An extension block found in a Query's extension area or in a hit record, in wire order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// A `urn:sha1:` (or `urn:bitprint:`, reduced to its SHA-1) HUGE string.
    Sha1(Sha1),
    /// A GGEP block (starting with 0xC3), opaque.
    Ggep(Bytes),
    /// Anything else (XML, plain metadata, other URNs, the bare `urn:` request), opaque.
    Other(Bytes),
}

/// Query flags (PROTOCOL.md §2.3): the 2-byte field read with the first wire byte as the
/// high byte. Bit 15 marks the field as flags; we always send it set.
pub mod query_flags {
    pub const MARKER: u16 = 0x8000;
    pub const FIREWALLED: u16 = 0x4000;
    pub const WANT_XML: u16 = 0x2000;
    pub const LEAF_GUIDED: u16 = 0x1000;
    pub const GGEP_H: u16 = 0x0800;
    pub const OOB: u16 = 0x0400;
    pub const MAX_HITS_MASK: u16 = 0x00FF;
}

/// Query: keywords and/or URNs, plus opaque extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The flags/min-speed field, first wire byte high (see [`query_flags`]).
    pub flags: u16,
    /// Search text (UTF-8), without the terminating NUL. `\` for a pure URN query.
    /// Inline up to 24 bytes (most queries), so a decoded query is one allocation.
    pub criteria: CompactString,
    /// The extension area's blocks, in wire order.
    pub extensions: Vec<Extension>,
    /// Whether the extension area ended with a NUL (LimeWire style) when decoded, so a
    /// relayed query keeps its original shape. Our own queries set it.
    pub trailing_nul: bool,
}

impl Query {
    /// A keyword query as we originate it: flags marker set, plus GGEP-H understood.
    pub fn keywords(criteria: &str) -> Query {
        Query {
            flags: query_flags::MARKER | query_flags::GGEP_H,
            criteria: CompactString::from(criteria),
            extensions: Vec::new(),
            trailing_nul: false,
        }
    }

    /// A query for one file by its SHA-1 (criteria `\`, as LimeWire and gtk-gnutella send).
    pub fn by_urn(sha1: Sha1) -> Query {
        Query {
            flags: query_flags::MARKER | query_flags::GGEP_H,
            criteria: CompactString::const_new("\\"),
            extensions: vec![Extension::Sha1(sha1)],
            trailing_nul: false,
        }
    }

    /// The SHA-1 URNs this query asks for.
    pub fn sha1s(&self) -> impl Iterator<Item = &Sha1> {
        self.extensions.iter().filter_map(|e| match e {
            Extension::Sha1(s) => Some(s),
            _ => None,
        })
    }
}

/// One file in a QueryHit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HitRecord {
    /// The holder's file index (used by `/get/<index>/<name>`).
    pub index: u32,
    /// File size in bytes (0xFFFF_FFFF marks a large file on the wire; we share files < 4 GiB).
    pub size: u32,
    /// File name (UTF-8; decoded lossily from the wire).
    pub name: String,
    /// Extensions between the two NULs, in wire order (the `urn:sha1:` among them).
    pub extensions: Vec<Extension>,
}

impl HitRecord {
    /// The record's SHA-1 in whichever form the holder sent it: a HUGE `urn:sha1:` or
    /// `urn:bitprint:` string, else GGEP `H` or `u` (gtk-gnutella puts it only in `H` when
    /// the query says it reads GGEP `H`). Every user of a hit's hash (display, download
    /// URL, verification) goes through here, so no form is missed by one of them.
    pub fn sha1(&self) -> Option<Sha1> {
        super::extensions::first_sha1(&self.extensions)
    }
}

/// The optional QHD/EQHD block between the last record and the servent GUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QhdTrailer {
    /// 4 ASCII bytes, e.g. `GNUT`; compare case-insensitively.
    pub vendor: [u8; 4],
    /// The open-data bytes (usually 2: enabler mask, setter values; LimeWire sends 4).
    pub open_data: Vec<u8>,
    /// The private area (vendor bytes, GGEP), opaque.
    pub private: Bytes,
}

/// QueryHit: records from one servent, routed back along the query's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryHit {
    /// The holder's HTTP port.
    pub port: u16,
    /// The holder's IPv4 address (network byte order on the wire).
    pub ip: Ipv4Addr,
    /// Speed in kb/s.
    pub speed: u32,
    pub records: Vec<HitRecord>,
    pub trailer: Option<QhdTrailer>,
    /// The holder's stable servent GUID (the last 16 bytes), the target of a Push.
    pub servent_guid: Guid,
}

/// The most records we put in one QueryHit: LimeWire refuses more (PROTOCOL.md §2.4).
pub const MAX_RECORDS_PER_HIT: usize = 10;
