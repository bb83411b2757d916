//! The handshake block parsers over arbitrary bytes, with tight and default limits.
//!
//! Checks, beyond "no panic": a completed block never claims more bytes than it was given
//! or than the limit allows, the same block parses identically from exactly its own bytes,
//! and no shorter prefix already looks complete (so byte-by-byte feeding agrees).
#![no_main]

use gnutella::protocol::handshake::{parse_block, parse_request, parse_response, Limits, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let tight = Limits {
        max_line_len: 64,
        max_headers: 4,
        max_block_len: 256,
    };
    for limits in [tight, Limits::default()] {
        let _ = parse_request(data, &limits);
        let _ = parse_response(data, &limits);
        if let Ok(Parsed::Done { consumed, value }) = parse_block(data, &limits) {
            assert!(consumed <= data.len() && consumed <= limits.max_block_len);
            let exact = parse_block(&data[..consumed], &limits);
            assert_eq!(exact, Ok(Parsed::Done { consumed, value }));
            for n in [0, consumed / 2, consumed.saturating_sub(1)] {
                let early = parse_block(&data[..n], &limits);
                assert!(
                    !matches!(early, Ok(Parsed::Done { .. })),
                    "prefix {n} complete"
                );
            }
        }
    }
});
