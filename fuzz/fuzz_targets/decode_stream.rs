//! The descriptor stream decoder over arbitrary bytes, fed in arbitrary chunks.
//!
//! Checks, beyond "no panic": the decoder never reserves room for a frame above its
//! limit, every frame consumes bytes, and a decoded message re-encodes to bytes that
//! decode to the same message (the relay path).
#![no_main]

use bytes::BytesMut;
use gnutella::protocol::{Frame, FrameDecoder, Payload, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

const MAX_PAYLOAD: usize = 4096;

/// What the node does with opaque parts: look for SHA-1s and our cache marker in GGEP
/// (COBS, deflate), and mark a hit as a cache answer.
fn look_inside(payload: &Payload) {
    match payload {
        Payload::Query(q) => {
            let _ = q.find_sha1();
        }
        Payload::QueryHit(h) => {
            for record in &h.records {
                let _ = record.sha1();
            }
            // What a result cache and a searcher do with someone's hit.
            let _ = h.cache_mark();
            let marked = h.marked_as_cached(3);
            if !h.records.is_empty() {
                assert_eq!(marked.cache_mark().map(|m| m.holder_hops), Some(3));
            }
            if let Some(trailer) = &h.trailer {
                let _ = trailer.flags();
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // The first 4 bytes choose the chunk sizes the bytes arrive in.
    let (sizes, stream) = data.split_at(data.len().min(4));
    let sizes: Vec<usize> = sizes.iter().map(|&b| usize::from(b) + 1).collect();
    let mut sizes = sizes.iter().copied().cycle();
    let mut dec = FrameDecoder::with_max_payload(MAX_PAYLOAD);
    let mut buf = BytesMut::new();
    let mut rest = stream;
    'feed: while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            let before = buf.len();
            match dec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(
                        buf.len() + HEADER_LEN <= before,
                        "a frame consumes its bytes"
                    );
                    if let Frame::Message(msg) = frame {
                        look_inside(&msg.payload);
                        let wire = msg.to_bytes();
                        assert_eq!(wire.len(), msg.encoded_len());
                        let mut again = BytesMut::from(&wire[..]);
                        let mut relaxed = FrameDecoder {
                            max_payload: usize::MAX,
                            max_query_payload: usize::MAX,
                            max_hit_payload: usize::MAX,
                        };
                        let back = relaxed.decode(&mut again).expect("our own bytes");
                        assert_eq!(back, Some(Frame::Message(msg)), "re-encoding is stable");
                        assert!(again.is_empty());
                    }
                }
                Ok(None) => {
                    assert!(buf.capacity() <= 4 * (HEADER_LEN + MAX_PAYLOAD) + stream.len());
                    break;
                }
                Err(_) => break 'feed,
            }
        }
    }
});
