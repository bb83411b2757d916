//! The HTTP request-head parser over arbitrary bytes, as a peer's upload server sees them.
//!
//! Checks, beyond "no panic": limits hold, a head never consumes more than it was given,
//! every prefix of the bytes before the end of a head is "incomplete" (never a different
//! head), and the target, Range and Content-Range parsers accept whatever the head holds.
#![no_main]

use gnutella::protocol::http::{
    parse_range, parse_request_head, parse_response_head, ContentRange, HeadLimits, Parsed, Target,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits {
        max_line: 512,
        max_headers: 16,
        max_head: 2048,
    };
    let whole = parse_request_head(data, &limits);
    if let Ok(Parsed::Done { consumed, head }) = &whole {
        assert!(*consumed <= data.len() && *consumed <= limits.max_head);
        assert!(head.headers.0.len() <= limits.max_headers);
        // A server reading byte by byte sees "incomplete" until the very end of the head.
        let cut = data.len().min(*consumed).saturating_sub(1);
        let early = parse_request_head(&data[..cut], &limits);
        assert!(
            matches!(early, Ok(Parsed::Incomplete) | Err(_)),
            "head ended early: {early:?}"
        );
        if let Ok(Target::Get { name, .. }) = Target::parse(&head.target) {
            assert!(!name.contains('/') && name != "..");
        }
        for (_, value) in &head.headers.0 {
            let _ = parse_range(value);
            let _ = ContentRange::parse(value);
        }
    }
    let _ = parse_response_head(data, &limits);
});
