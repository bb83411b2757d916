//! Property tests of the wire format: every message type survives encode -> decode, and
//! hostile input (random bytes, truncated frames, huge length fields, garbage handshakes)
//! never panics and never makes the decoder reserve more than its limit allows.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use gnutella::protocol::ggep::{self, GgepEntry};
use gnutella::protocol::handshake::{
    parse_block, parse_request, parse_response, ConnectRequest, Headers, Limits, Parsed,
};
use gnutella::protocol::{
    Bye, DecodeError, Extension, Frame, FrameDecoder, Guid, HitRecord, Message, Patch, Payload,
    Ping, Pong, Push, QhdTrailer, Query, QueryHit, RouteTableUpdate, Sha1, HEADER_LEN,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// No per-type forwarding limit, so that every generated message comes back as a message.
fn unlimited() -> FrameDecoder {
    FrameDecoder {
        max_payload: usize::MAX,
        max_query_payload: usize::MAX,
        max_hit_payload: usize::MAX,
    }
}

fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid)
}

fn sha1() -> impl Strategy<Value = Sha1> {
    any::<[u8; 20]>().prop_map(Sha1)
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

/// A well-formed GGEP block of 1-3 extensions and the (id, data) pairs it holds;
/// `allow_nul` = false for places where NUL is forbidden (hit records: senders COBS-encode
/// there).
fn ggep_with_entries(allow_nul: bool) -> impl Strategy<Value = (Bytes, Vec<GgepEntry>)> {
    let byte = if allow_nul {
        any::<u8>().boxed()
    } else {
        (1u8..=255).boxed()
    };
    let ext = (vec(byte.clone(), 1..=15), vec(byte, 0..80));
    vec(ext, 1..=3).prop_map(|exts| {
        let mut out = vec![0xC3];
        let n = exts.len();
        let mut entries = Vec::new();
        for (i, (id, data)) in exts.into_iter().enumerate() {
            let last = if i + 1 == n { 0x80 } else { 0 };
            out.push(last | id.len() as u8);
            out.extend(&id);
            if data.len() >= 64 {
                out.push(0x80 | (data.len() >> 6) as u8);
            }
            out.push(0x40 | (data.len() & 0x3F) as u8);
            out.extend(&data);
            entries.push(GgepEntry { id, data });
        }
        (Bytes::from(out), entries)
    })
}

fn ggep(allow_nul: bool) -> impl Strategy<Value = Bytes> {
    ggep_with_entries(allow_nul).prop_map(|(block, _)| block)
}

fn extension(allow_nul_in_ggep: bool) -> impl Strategy<Value = Extension> {
    prop_oneof![
        sha1().prop_map(Extension::Sha1),
        ggep(allow_nul_in_ggep).prop_map(Extension::Ggep),
        "[a-zA-Z0-9 .<>=/]{1,24}".prop_map(|s| Extension::Other(Bytes::from(s))),
        Just(Extension::Other(Bytes::from_static(b"urn:"))),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    (
        any::<u16>(),
        "[^\u{0}]{0,40}",
        vec(extension(true), 0..4),
        any::<bool>(),
    )
        .prop_map(|(flags, criteria, extensions, trailing_nul)| Query {
            flags,
            criteria: criteria.into(),
            extensions,
            trailing_nul,
        })
}

fn record() -> impl Strategy<Value = HitRecord> {
    (
        any::<u32>(),
        any::<u32>(),
        "[^\u{0}]{0,30}",
        vec(extension(false), 0..3),
    )
        .prop_map(|(index, size, name, extensions)| HitRecord {
            index,
            size,
            name,
            extensions,
        })
}

fn trailer() -> impl Strategy<Value = QhdTrailer> {
    (
        any::<[u8; 4]>(),
        vec(any::<u8>(), 0..6),
        vec(any::<u8>(), 0..40),
    )
        .prop_map(|(vendor, open_data, private)| QhdTrailer {
            vendor,
            open_data,
            private: Bytes::from(private),
        })
}

fn query_hit() -> impl Strategy<Value = QueryHit> {
    (
        any::<u16>(),
        ipv4(),
        any::<u32>(),
        vec(record(), 1..=10),
        proptest::option::of(trailer()),
        guid(),
    )
        .prop_map(
            |(port, ip, speed, records, trailer, servent_guid)| QueryHit {
                port,
                ip,
                speed,
                records,
                trailer,
                servent_guid,
            },
        )
}

fn opaque() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..64).prop_map(Bytes::from)
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        opaque().prop_map(|ggep| Payload::Ping(Ping { ggep })),
        (any::<u16>(), ipv4(), any::<u32>(), any::<u32>(), opaque()).prop_map(
            |(port, ip, files, kbytes, ggep)| Payload::Pong(Pong {
                port,
                ip,
                files,
                kbytes,
                ggep
            })
        ),
        (any::<u16>(), "[^\u{0}]{0,60}")
            .prop_map(|(code, message)| Payload::Bye(Bye { code, message })),
        (guid(), any::<u32>(), ipv4(), any::<u16>(), opaque()).prop_map(
            |(servent_guid, index, ip, port, ggep)| Payload::Push(Push {
                servent_guid,
                index,
                ip,
                port,
                ggep
            })
        ),
        query().prop_map(|q| Payload::Query(Arc::new(q))),
        query_hit().prop_map(|h| Payload::QueryHit(Arc::new(h))),
        (any::<u32>(), any::<u8>()).prop_map(|(table_len, infinity)| {
            Payload::RouteTableUpdate(RouteTableUpdate::Reset {
                table_len,
                infinity,
            })
        }),
        (any::<[u8; 4]>(), vec(any::<u8>(), 1..200)).prop_map(|(head, data)| {
            Payload::RouteTableUpdate(RouteTableUpdate::Patch(Patch {
                seq_no: head[0],
                seq_size: head[1],
                compressor: head[2],
                entry_bits: head[3],
                data: Bytes::from(data),
            }))
        }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (guid(), any::<u8>(), any::<u8>(), payload()).prop_map(|(guid, ttl, hops, payload)| Message {
        guid,
        ttl,
        hops,
        payload,
    })
}

/// Feeds `wire` to a decoder in chunks of the given sizes and collects what comes out.
fn feed(
    dec: &mut FrameDecoder,
    wire: &[u8],
    chunks: &[usize],
) -> (Vec<Frame>, Option<DecodeError>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut rest = wire;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e), buf),
            }
        }
    }
    (frames, None, buf)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn ggep_blocks_measure_and_read_back((block, expected) in ggep_with_entries(true), tail in vec(any::<u8>(), 0..8)) {
        let mut wire = block.to_vec();
        wire.extend(&tail);
        prop_assert!(ggep::run_len(&wire).is_some_and(|n| n >= block.len()));
        prop_assert_eq!(ggep::block_len(&wire), Some(block.len()));
        prop_assert_eq!(ggep::entries(&block), Ok(expected));
    }

    #[test]
    fn ggep_reader_never_panics(wire in vec(any::<u8>(), 0..200)) {
        let mut wire = wire;
        wire.insert(0, 0xC3);
        let _ = ggep::entries(&wire);
    }

    #[test]
    fn ggep_blocks_we_write_read_back_and_hold_no_nul(
        exts in vec((vec(1u8..=255, 1..=15), vec(any::<u8>(), 0..600)), 1..=4),
    ) {
        let pairs: Vec<(&[u8], &[u8])> =
            exts.iter().map(|(id, data)| (id.as_slice(), data.as_slice())).collect();
        let mut block = Vec::new();
        ggep::write_block(&pairs, &mut block);
        prop_assert!(!block.contains(&0), "room for a hit record");
        prop_assert_eq!(ggep::block_len(&block), Some(block.len()));
        let expected: Vec<GgepEntry> = exts
            .iter()
            .map(|(id, data)| GgepEntry { id: id.clone(), data: data.clone() })
            .collect();
        prop_assert_eq!(ggep::entries(&block), Ok(expected));
    }

    #[test]
    fn a_hit_marked_as_cached_round_trips_and_keeps_its_hashes(
        hit in query_hit(),
        holder_hops in any::<u8>(),
    ) {
        let marked = hit.marked_as_cached(holder_hops);
        let msg = Message { guid: Guid([3; 16]), ttl: 2, hops: holder_hops.max(1), payload: Payload::QueryHit(Arc::new(marked.clone())) };
        let mut buf = BytesMut::from(&msg.to_bytes()[..]);
        let frame = unlimited().decode(&mut buf).unwrap();
        prop_assert_eq!(frame, Some(Frame::Message(msg)));
        let mark = marked.cache_mark().map(|m| m.holder_hops);
        prop_assert_eq!(mark, (!hit.records.is_empty()).then_some(holder_hops.max(1)));
        for (before, after) in hit.records.iter().zip(&marked.records) {
            prop_assert_eq!(before.sha1(), after.sha1());
        }
    }

    #[test]
    fn every_message_round_trips(msg in message()) {
        let wire = msg.to_bytes();
        prop_assert_eq!(wire.len(), msg.encoded_len());
        let mut buf = BytesMut::from(&wire[..]);
        let frame = unlimited().decode(&mut buf).unwrap();
        prop_assert_eq!(frame, Some(Frame::Message(msg)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn streams_split_anywhere_give_the_same_messages(
        msgs in vec(message(), 1..5),
        chunks in vec(1usize..64, 1..8),
    ) {
        let wire: Vec<u8> = msgs.iter().flat_map(|m| m.to_bytes()).collect();
        let (frames, err, rest) = feed(&mut unlimited(), &wire, &chunks);
        prop_assert!(err.is_none());
        prop_assert!(rest.is_empty());
        let expected: Vec<Frame> = msgs.into_iter().map(Frame::Message).collect();
        prop_assert_eq!(frames, expected);
    }

    #[test]
    fn truncated_frames_wait_for_more(msg in message(), cut in any::<prop::sample::Index>()) {
        let wire = msg.to_bytes();
        let keep = cut.index(wire.len());
        let mut buf = BytesMut::from(&wire[..keep]);
        prop_assert_eq!(unlimited().decode(&mut buf).unwrap(), None);
        prop_assert_eq!(buf.len(), keep);
    }

    #[test]
    fn random_bytes_never_panic_nor_overallocate(
        wire in vec(any::<u8>(), 0..4096),
        chunks in vec(1usize..512, 1..8),
    ) {
        let max_payload = 1024;
        let mut dec = FrameDecoder::with_max_payload(max_payload);
        let (frames, err, buf) = feed(&mut dec, &wire, &chunks);
        // Either the stream is consumed frame by frame or it stops at a fatal length.
        let used: usize = frames.len() * HEADER_LEN;
        prop_assert!(used <= wire.len());
        if let Some(DecodeError::TooLarge { len, max }) = err {
            prop_assert!(len as usize > max);
        }
        prop_assert!(buf.capacity() <= 4 * (HEADER_LEN + max_payload) + wire.len());
    }

    #[test]
    fn garbage_payload_behind_a_valid_header_is_skipped_not_fatal(
        kind in prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x40, 0x80, 0x81, 0x30, 0x31]),
        body in vec(any::<u8>(), 0..300),
    ) {
        let mut wire = vec![0u8; 16];
        wire.extend([kind, 3, 0]);
        wire.extend((body.len() as u32).to_le_bytes());
        wire.extend(&body);
        wire.extend(Message { guid: Guid([9; 16]), ttl: 1, hops: 0, payload: Payload::Ping(Ping::default()) }.to_bytes());
        let mut buf = BytesMut::from(&wire[..]);
        let mut dec = FrameDecoder::new();
        prop_assert!(dec.decode(&mut buf).unwrap().is_some());
        let next = dec.decode(&mut buf).unwrap();
        let is_ping = matches!(next, Some(Frame::Message(Message { payload: Payload::Ping(_), .. })));
        prop_assert!(is_ping);
    }

    #[test]
    fn oversized_length_fields_are_fatal(len in (64 * 1024 + 1) as u32..=u32::MAX, head in any::<[u8; 19]>()) {
        let mut wire = head.to_vec();
        wire.extend(len.to_le_bytes());
        let mut buf = BytesMut::from(&wire[..]);
        let cap = buf.capacity();
        let got = FrameDecoder::new().decode(&mut buf);
        prop_assert_eq!(got, Err(DecodeError::TooLarge { len, max: 64 * 1024 }));
        prop_assert_eq!(buf.capacity(), cap);
    }

    #[test]
    fn handshake_parsers_never_panic(wire in vec(any::<u8>(), 0..2048), line in 1usize..64) {
        let limits = Limits { max_line_len: line * 8, max_headers: line, max_block_len: 1024 };
        for n in [0, wire.len() / 2, wire.len()] {
            let prefix = &wire[..n];
            if let Ok(Parsed::Done { consumed, .. }) = parse_block(prefix, &limits) {
                prop_assert!(consumed <= n && consumed <= limits.max_block_len);
            }
            let _ = parse_request(prefix, &limits);
            let _ = parse_response(prefix, &limits);
        }
    }

    #[test]
    fn handshake_blocks_round_trip_and_prefixes_need_more(
        headers in vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~&&[^ ]]([ -~]{0,30}[!-~])?"), 0..10),
    ) {
        let mut h = Headers::new();
        for (name, value) in &headers {
            h.set(name, value);
        }
        let request = ConnectRequest::new(h);
        let wire = request.to_bytes();
        for n in 0..wire.len() {
            prop_assert_eq!(parse_request(&wire[..n], &Limits::default()), Ok(Parsed::NeedMore));
        }
        let parsed = parse_request(&wire, &Limits::default());
        prop_assert_eq!(parsed, Ok(Parsed::Done { consumed: wire.len(), value: request }));
    }
}
