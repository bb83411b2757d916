//! Vendor messages (payload types 0x31 and 0x32, PROTOCOL.md §2.8): the few a dynamic
//! query needs, read and written as real servents do, and every other one kept as bytes.
//!
//! Why its own module: vendor messages are a little protocol of their own (a 4-byte vendor
//! code, a selector and a version before the body), link-local and never relayed. Those
//! we speak:
//! - **Messages Supported** (`00000000`/0 v0): sent first on a link, it lists the vendor
//!   messages the sender understands (`count u16 LE`, then `vendor[4] selector u16 LE
//!   version u16 LE` each).
//! - **Query Status Request** (`BEAR`/11 v1, empty body, the query's GUID as the message
//!   GUID): an ultrapeer running a dynamic query for a leaf asks it how many results it
//!   kept so far ("leaf guidance").
//! - **Query Status Response** (`BEAR`/12 v1, `kept u16 LE`): the leaf's answer, also
//!   sent unsolicited; `0xFFFF` asks the ultrapeer to stop the query.
//!
//! These are the codes gtk-gnutella (`vmsg.c`) and LimeWire (`QueryStatusRequest`,
//! `QueryStatusResponse`) use; LimeWire's `LIME`/12 is the unrelated out-of-band reply
//! indication. Decoding is total: hostile bytes are a [`PayloadError`], never a panic.

use bytes::{BufMut, Bytes, BytesMut};

use super::payload::{u16_le, PayloadError};

/// Payload type of an experimental (vendor-specific) vendor message.
pub const KIND_VENDOR: u8 = 0x31;
/// Payload type of a "standard" vendor message (same layout).
pub const KIND_STANDARD_VENDOR: u8 = 0x32;

/// Vendor code, selector and version: what names one vendor message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VendorId {
    pub vendor: [u8; 4],
    pub selector: u16,
    pub version: u16,
}

impl VendorId {
    pub const MESSAGES_SUPPORTED: VendorId = VendorId {
        vendor: [0; 4],
        selector: 0,
        version: 0,
    };
    pub const QUERY_STATUS_REQUEST: VendorId = VendorId {
        vendor: *b"BEAR",
        selector: 11,
        version: 1,
    };
    pub const QUERY_STATUS_RESPONSE: VendorId = VendorId {
        vendor: *b"BEAR",
        selector: 12,
        version: 1,
    };

    /// Whether `self` names the same message as `other`, any version at or above
    /// `other`'s (what a Messages Supported entry promises).
    pub fn covers(&self, other: &VendorId) -> bool {
        self.vendor == other.vendor
            && self.selector == other.selector
            && self.version >= other.version
    }
}

/// The `kept` value of a Query Status Response that asks the ultrapeer to stop querying.
pub const STOP_QUERY: u16 = 0xFFFF;

/// Bytes before a vendor message's body: vendor code, selector, version.
const PREFIX_LEN: usize = 8;

/// One vendor message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// The vendor messages the sender understands.
    MessagesSupported(Vec<VendorId>),
    /// "How many results have you kept for this query?" (the message GUID is the query's).
    QueryStatusRequest,
    /// "I kept this many results" (`STOP_QUERY`: stop).
    QueryStatusResponse { kept: u16 },
    /// Any other vendor message, kept as it came (`kind` 0x31 or 0x32).
    Other { kind: u8, id: VendorId, body: Bytes },
}

impl Vendor {
    /// The payload type this message is sent as.
    pub fn kind(&self) -> u8 {
        match self {
            Vendor::Other { kind, .. } => *kind,
            _ => KIND_VENDOR,
        }
    }

    /// The vendor code, selector and version this message is sent with.
    pub fn id(&self) -> VendorId {
        match self {
            Vendor::MessagesSupported(_) => VendorId::MESSAGES_SUPPORTED,
            Vendor::QueryStatusRequest => VendorId::QUERY_STATUS_REQUEST,
            Vendor::QueryStatusResponse { .. } => VendorId::QUERY_STATUS_RESPONSE,
            Vendor::Other { id, .. } => *id,
        }
    }
}

/// Reads a vendor message of payload type `kind` (0x31 or 0x32).
pub fn decode(kind: u8, payload: Bytes) -> Result<Vendor, PayloadError> {
    if payload.len() < PREFIX_LEN {
        return Err(PayloadError::TooShort {
            what: "vendor message",
            len: payload.len(),
            min: PREFIX_LEN,
        });
    }
    let id = read_id(&payload, 0);
    let body = payload.slice(PREFIX_LEN..);
    if kind == KIND_VENDOR && id == VendorId::MESSAGES_SUPPORTED {
        return decode_supported(&body);
    }
    if kind == KIND_VENDOR && id == VendorId::QUERY_STATUS_REQUEST {
        return Ok(Vendor::QueryStatusRequest);
    }
    if kind == KIND_VENDOR && id == VendorId::QUERY_STATUS_RESPONSE {
        // gtk-gnutella accepts a longer body and reads the first two bytes.
        if body.len() < 2 {
            return Err(PayloadError::TooShort {
                what: "query status response",
                len: payload.len(),
                min: PREFIX_LEN + 2,
            });
        }
        return Ok(Vendor::QueryStatusResponse {
            kept: u16_le(&body, 0),
        });
    }
    Ok(Vendor::Other { kind, id, body })
}

fn read_id(b: &[u8], at: usize) -> VendorId {
    let mut vendor = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        vendor.copy_from_slice(s);
    }
    VendorId {
        vendor,
        selector: u16_le(b, at + 4),
        version: u16_le(b, at + 6),
    }
}

fn decode_supported(body: &[u8]) -> Result<Vendor, PayloadError> {
    if body.len() < 2 {
        return Err(PayloadError::TooShort {
            what: "messages supported",
            len: PREFIX_LEN + body.len(),
            min: PREFIX_LEN + 2,
        });
    }
    let count = usize::from(u16_le(body, 0));
    let entries = (body.len() - 2) / PREFIX_LEN;
    if count > entries {
        return Err(PayloadError::VendorCount {
            count,
            room: entries,
        });
    }
    Ok(Vendor::MessagesSupported(
        (0..count)
            .map(|i| read_id(body, 2 + i * PREFIX_LEN))
            .collect(),
    ))
}

/// The number of bytes [`encode`] writes.
pub fn encoded_len(message: &Vendor) -> usize {
    PREFIX_LEN
        + match message {
            Vendor::MessagesSupported(ids) => 2 + ids.len().min(usize::from(u16::MAX)) * 8,
            Vendor::QueryStatusRequest => 0,
            Vendor::QueryStatusResponse { .. } => 2,
            Vendor::Other { body, .. } => body.len(),
        }
}

/// Appends the payload body (no header).
pub fn encode(message: &Vendor, out: &mut BytesMut) {
    write_id(&message.id(), out);
    match message {
        Vendor::MessagesSupported(ids) => {
            let ids = &ids[..ids.len().min(usize::from(u16::MAX))];
            out.put_u16_le(ids.len() as u16);
            for id in ids {
                write_id(id, out);
            }
        }
        Vendor::QueryStatusRequest => {}
        Vendor::QueryStatusResponse { kept } => out.put_u16_le(*kept),
        Vendor::Other { body, .. } => out.put_slice(body),
    }
}

fn write_id(id: &VendorId, out: &mut BytesMut) {
    out.put_slice(&id.vendor);
    out.put_u16_le(id.selector);
    out.put_u16_le(id.version);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(message: &Vendor) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(message, &mut out);
        assert_eq!(out.len(), encoded_len(message));
        out.to_vec()
    }

    #[test]
    fn query_status_messages_have_gtk_gnutellas_bytes() {
        let request = Vendor::QueryStatusRequest;
        assert_eq!(bytes_of(&request), b"BEAR\x0b\x00\x01\x00");
        let response = Vendor::QueryStatusResponse { kept: 0x0123 };
        assert_eq!(bytes_of(&response), b"BEAR\x0c\x00\x01\x00\x23\x01");
        for m in [request, response] {
            assert_eq!(decode(KIND_VENDOR, Bytes::from(bytes_of(&m))).unwrap(), m);
        }
        // A longer response body is read by its first two bytes.
        let long = Bytes::from_static(b"BEAR\x0c\x00\x01\x00\xff\xff\x00");
        assert_eq!(
            decode(KIND_VENDOR, long).unwrap(),
            Vendor::QueryStatusResponse { kept: STOP_QUERY }
        );
    }

    #[test]
    fn messages_supported_lists_vendor_selector_and_version() {
        let m = Vendor::MessagesSupported(vec![
            VendorId::QUERY_STATUS_REQUEST,
            VendorId::QUERY_STATUS_RESPONSE,
        ]);
        let wire = bytes_of(&m);
        assert_eq!(
            wire,
            b"\0\0\0\0\0\0\0\0\x02\x00BEAR\x0b\x00\x01\x00BEAR\x0c\x00\x01\x00".to_vec()
        );
        assert_eq!(decode(KIND_VENDOR, Bytes::from(wire)).unwrap(), m);
        assert!(VendorId {
            version: 2,
            ..VendorId::QUERY_STATUS_REQUEST
        }
        .covers(&VendorId::QUERY_STATUS_REQUEST));
        assert!(!VendorId::QUERY_STATUS_RESPONSE.covers(&VendorId::QUERY_STATUS_REQUEST));
    }

    #[test]
    fn other_vendor_messages_round_trip_untouched() {
        let wire = Bytes::from_static(b"LIME\x0c\x00\x02\x00\x05");
        for kind in [KIND_VENDOR, KIND_STANDARD_VENDOR] {
            let m = decode(kind, wire.clone()).unwrap();
            assert_eq!(m.kind(), kind);
            assert_eq!(
                m.id(),
                VendorId {
                    vendor: *b"LIME",
                    selector: 12,
                    version: 2
                }
            );
            assert_eq!(bytes_of(&m), wire.to_vec());
        }
        // A known id in a 0x32 message, or with another version, is not ours to read.
        let v2 = Bytes::from_static(b"BEAR\x0c\x00\x02\x00");
        assert!(matches!(
            decode(KIND_VENDOR, v2).unwrap(),
            Vendor::Other { .. }
        ));
    }

    #[test]
    fn hostile_bytes_are_errors() {
        for bad in [
            &b""[..],
            b"BEAR\x0c\x00\x01",
            b"BEAR\x0c\x00\x01\x00\x01",
            b"\0\0\0\0\0\0\0\0\x01",
            b"\0\0\0\0\0\0\0\0\x02\x00BEAR\x0b\x00\x01\x00",
            b"\0\0\0\0\0\0\0\0\xff\xffBEAR",
        ] {
            assert!(
                decode(KIND_VENDOR, Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
        // Every prefix of every valid message decodes or fails, never panics.
        let wire = b"\0\0\0\0\0\0\0\0\x02\x00BEAR\x0b\x00\x01\x00BEAR\x0c\x00\x01\x00";
        for n in 0..wire.len() {
            let _ = decode(KIND_VENDOR, Bytes::copy_from_slice(&wire[..n]));
        }
    }
}
