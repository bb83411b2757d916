//! QRP Route-Table-Update payloads over arbitrary bytes, fed to one link's receiver.
//!
//! The input is a series of `len u16 LE | payload` records; each payload is decoded as a
//! 0x30 descriptor and applied. Checks, beyond "no panic": a decoded update re-encodes to
//! the bytes it came from; the receiver never holds more than two tables of the largest
//! size it accepts (whatever a PATCH inflates to: decompression bombs stop at the
//! table's size); a completed table is at most 2^21 slots and, sent again as our own
//! RESET + PATCH sequence, rebuilds exactly.
#![no_main]

use bytes::Bytes;
use gnutella::node::qrp_receiver::{QrpProgress, QrpReceiver};
use gnutella::node::qrp_table::MAX_BITS;
use gnutella::protocol::{decode_message, kind, Guid, Header, Message, Payload, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

/// Two tables of 2^21 one-bit slots, an inflater and some slack.
const MAX_HEAP: usize = 2 * (1 << MAX_BITS) / 8 + 128 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut rx = QrpReceiver::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let (payload, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        let header = Header {
            guid: Guid([0; 16]),
            kind: kind::ROUTE_TABLE_UPDATE,
            ttl: 1,
            hops: 0,
            payload_len: payload.len() as u32,
        };
        let Ok(msg) = decode_message(&header, Bytes::copy_from_slice(payload)) else {
            continue;
        };
        let wire = msg.to_bytes();
        assert_eq!(&wire[HEADER_LEN..], payload, "re-encodes to its own bytes");
        let Message {
            payload: Payload::RouteTableUpdate(update),
            ..
        } = msg
        else {
            panic!("a 0x30 payload decodes as a route table update");
        };
        match rx.apply(&update) {
            Ok(QrpProgress::Complete) => {
                let table = rx.table().expect("a complete sequence leaves a table").clone();
                assert!(table.bits() <= MAX_BITS);
                if table.bits() <= 16 {
                    let mut again = QrpReceiver::new();
                    for u in table.update_messages(None) {
                        again.apply(&u).expect("our own updates are accepted");
                    }
                    assert_eq!(again.table(), Some(&table));
                }
            }
            Ok(_) => {}
            // The link would be closed; a new one starts from nothing.
            Err(_) => rx = QrpReceiver::new(),
        }
        assert!(rx.heap_bytes() <= MAX_HEAP, "{} bytes", rx.heap_bytes());
    }
});
