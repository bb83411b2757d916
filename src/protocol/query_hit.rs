//! QueryHit payloads (PROTOCOL.md §2.4): records, the QHD trailer, the servent GUID.
//!
//! Decoding follows gtk-gnutella's sanity rules, which drop the whole hit rather than
//! guess: no records, fewer records than declared, or a record without its second NUL.
//! Senders put at most [`MAX_RECORDS_PER_HIT`](super::message::MAX_RECORDS_PER_HIT)
//! records in one hit (LimeWire refuses more); that is the caller's rule, the encoder
//! writes what it is given (up to the 255 the count byte can say).

use bytes::{BufMut, Bytes, BytesMut};

use super::extensions;
use super::message::{HitRecord, QhdTrailer, QueryHit};
use super::payload::{guid, ipv4, u16_le, u32_le, until_nul, PayloadError};

/// The vendor code in the QHD of the hits we send.
pub const OUR_VENDOR: [u8; 4] = *b"GNRS";

/// Count, port, IPv4, speed.
const FIXED_LEN: usize = 11;
const GUID_LEN: usize = 16;
const RECORD_FIXED_LEN: usize = 8;
/// Vendor code plus the open-data size byte.
const TRAILER_MIN: usize = 5;
const MAX_RECORDS_ON_WIRE: usize = 255;

/// QHD open-data bits (byte 0 = "enabler"/validity, byte 1 = values; push reversed).
pub mod qhd_bits {
    pub const PUSH: u8 = 0x01;
    pub const BUSY: u8 = 0x04;
    pub const UPLOADED: u8 = 0x08;
    pub const MEASURED_SPEED: u8 = 0x10;
    pub const GGEP: u8 = 0x20;
}

/// The QHD flags a receiver may rely on: each is set only when its validity bit is too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QhdFlags {
    /// The holder is firewalled: reach it with a Push.
    pub push: bool,
    pub busy: bool,
    pub uploaded: bool,
    pub measured_speed: bool,
    pub ggep: bool,
}

impl QhdTrailer {
    /// Our trailer, written the way gtk-gnutella writes its own: byte 0 = 0x2C (busy,
    /// uploaded and GGEP fields valid), byte 1 = 0x01 (push flag valid, not firewalled)
    /// plus the busy/uploaded values. No private area, so the GGEP value stays clear.
    pub fn ours(busy: bool, uploaded: bool) -> QhdTrailer {
        use qhd_bits::*;
        let enabler = BUSY | UPLOADED | GGEP;
        let mut values = PUSH;
        if busy {
            values |= BUSY;
        }
        if uploaded {
            values |= UPLOADED;
        }
        QhdTrailer {
            vendor: OUR_VENDOR,
            open_data: vec![enabler, values],
            private: Bytes::new(),
        }
    }

    /// Reads the open data as gtk-gnutella does: `status = byte0 & byte1`.
    pub fn flags(&self) -> QhdFlags {
        use qhd_bits::*;
        let (b0, b1) = match self.open_data.as_slice() {
            [b0, b1, ..] => (*b0, *b1),
            _ => return QhdFlags::default(),
        };
        let status = b0 & b1;
        QhdFlags {
            push: status & PUSH != 0,
            busy: status & BUSY != 0,
            uploaded: status & UPLOADED != 0,
            measured_speed: status & MEASURED_SPEED != 0,
            ggep: status & GGEP != 0,
        }
    }

    /// The vendor code compared case-insensitively, as both major servents do.
    pub fn vendor_is(&self, code: &[u8; 4]) -> bool {
        self.vendor.eq_ignore_ascii_case(code)
    }
}

pub(crate) fn decode(payload: Bytes) -> Result<QueryHit, PayloadError> {
    let min = FIXED_LEN + GUID_LEN;
    if payload.len() < min {
        return Err(PayloadError::TooShort {
            what: "query hit",
            len: payload.len(),
            min,
        });
    }
    let declared = payload[0];
    if declared == 0 {
        return Err(PayloadError::HitWithoutRecords);
    }
    let guid_at = payload.len() - GUID_LEN;
    let body = payload.slice(FIXED_LEN..guid_at);
    let mut pos = 0usize;
    let mut records = Vec::with_capacity(usize::from(declared));
    for record in 0..declared {
        let truncated = PayloadError::HitRecordTruncated { declared, record };
        let fixed = body
            .get(pos..pos + RECORD_FIXED_LEN)
            .ok_or(truncated.clone())?;
        let (index, size) = (u32_le(fixed, 0), u32_le(fixed, 4));
        pos += RECORD_FIXED_LEN;
        let rest = body.get(pos..).unwrap_or_default();
        let name_len = rest.iter().position(|&b| b == 0).ok_or(truncated)?;
        let name = String::from_utf8_lossy(&rest[..name_len]).into_owned();
        pos += name_len + 1;
        let rest = body.get(pos..).unwrap_or_default();
        let ext_len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(PayloadError::HitRecordWithoutSecondNul { record })?;
        let (extensions, _) = extensions::parse_area(&body.slice(pos..pos + ext_len), false)?;
        pos += ext_len + 1;
        records.push(HitRecord {
            index,
            size,
            name,
            extensions,
        });
    }
    let trailer = decode_trailer(body.slice(pos..))?;
    Ok(QueryHit {
        port: u16_le(&payload, 1),
        ip: ipv4(&payload, 3),
        speed: u32_le(&payload, 7),
        records,
        trailer,
        servent_guid: guid(&payload, guid_at),
    })
}

fn decode_trailer(bytes: Bytes) -> Result<Option<QhdTrailer>, PayloadError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let bad = PayloadError::HitBadTrailer { len: bytes.len() };
    if bytes.len() < TRAILER_MIN {
        return Err(bad);
    }
    let vendor = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let open_end = TRAILER_MIN + usize::from(bytes[4]);
    let open_data = bytes.get(TRAILER_MIN..open_end).ok_or(bad)?.to_vec();
    Ok(Some(QhdTrailer {
        vendor,
        open_data,
        private: bytes.slice(open_end..),
    }))
}

fn records_on_wire(hit: &QueryHit) -> &[HitRecord] {
    hit.records
        .get(..MAX_RECORDS_ON_WIRE)
        .unwrap_or(&hit.records)
}

fn open_data_on_wire(trailer: &QhdTrailer) -> &[u8] {
    trailer.open_data.get(..255).unwrap_or(&trailer.open_data)
}

pub(crate) fn encoded_len(hit: &QueryHit) -> usize {
    let records: usize = records_on_wire(hit)
        .iter()
        .map(|r| {
            RECORD_FIXED_LEN
                + until_nul(r.name.as_bytes()).len()
                + 1
                + extensions::area_len(&r.extensions)
                + 1
        })
        .sum();
    let trailer = hit.trailer.as_ref().map_or(0, |t| {
        TRAILER_MIN + open_data_on_wire(t).len() + t.private.len()
    });
    FIXED_LEN + records + trailer + GUID_LEN
}

pub(crate) fn encode(hit: &QueryHit, out: &mut BytesMut) {
    let records = records_on_wire(hit);
    out.put_u8(records.len() as u8);
    out.put_u16_le(hit.port);
    out.put_slice(&hit.ip.octets());
    out.put_u32_le(hit.speed);
    for record in records {
        out.put_u32_le(record.index);
        out.put_u32_le(record.size);
        out.put_slice(until_nul(record.name.as_bytes()));
        out.put_u8(0);
        extensions::write_area(&record.extensions, out);
        out.put_u8(0);
    }
    if let Some(trailer) = &hit.trailer {
        let open = open_data_on_wire(trailer);
        out.put_slice(&trailer.vendor);
        out.put_u8(open.len() as u8);
        out.put_slice(open);
        out.put_slice(&trailer.private);
    }
    out.put_slice(&hit.servent_guid.0);
}
