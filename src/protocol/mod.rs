//! The Gnutella 0.6 wire format, as bytes in and values out: no I/O, no time, no routing.
//!
//! `PROTOCOL.md` (in the shared folder) is our digest of the protocol as real servents
//! (gtk-gnutella, LimeWire) speak it; where this module departs from the old spec it is to
//! follow them.

pub mod cache_mark;
pub mod codec;
pub mod extensions;
pub mod ggep;
pub mod guid;
pub mod handshake;
pub mod http;
pub mod live_since;
pub mod message;
pub mod payload;
pub mod qrp;
pub mod query;
pub mod query_hit;
pub mod urn;
pub mod vendor;

pub use cache_mark::CacheMark;
pub use codec::{
    decode_header, decode_message, encode_header, DecodeError, Frame, FrameDecoder, SkipReason,
    DEFAULT_MAX_PAYLOAD,
};
pub use guid::Guid;
pub use message::*;
pub use payload::PayloadError;
pub use query_hit::{QhdFlags, OUR_VENDOR};
pub use urn::Sha1;
