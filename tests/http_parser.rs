//! Hostile bytes into the HTTP head parsers: never a panic, limits always hold, and a
//! well-formed head parses the same however the bytes are split across reads.

use gnutella::protocol::http::{
    parse_range, parse_request_head, parse_response_head, ContentRange, HeadLimits, Method, Parsed,
    Target,
};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = HeadLimits { max_line: 256, max_headers: 8, max_head: 1024 };
        if let Ok(Parsed::Done { consumed, head }) = parse_request_head(&bytes, &limits) {
            prop_assert!(consumed <= bytes.len() && consumed <= limits.max_head);
            prop_assert!(head.headers.0.len() <= limits.max_headers);
            let _ = Target::parse(&head.target);
            if let Some(range) = head.headers.get("Range") {
                let _ = parse_range(range);
            }
        }
        let _ = parse_response_head(&bytes, &limits);
        let text = String::from_utf8_lossy(&bytes);
        let _ = Target::parse(&text);
        let _ = parse_range(&text);
        let _ = ContentRange::parse(&text);
    }

    #[test]
    fn head_like_text_never_panics(
        line in "(GET|HEAD|POST|G E T) (/get/[0-9]{0,12}/[a-z%./0-9]{0,12}|/uri-res/N2R\\?[a-zA-Z0-9:%]{0,50}|/[ -~]{0,20}) HTTP/1\\.[0-9]",
        headers in proptest::collection::vec("[A-Za-z-]{0,10}:[ -~]{0,30}|[ \t][ -~]{0,10}|bytes=[0-9,-]{0,12}", 0..12),
        lf_only in any::<bool>(),
    ) {
        let eol = if lf_only { "\n" } else { "\r\n" };
        let mut text = line + eol;
        for h in headers {
            text.push_str(&h);
            text.push_str(eol);
        }
        text.push_str(eol);
        if let Ok(Parsed::Done { head, .. }) = parse_request_head(text.as_bytes(), &HeadLimits::default()) {
            let _ = Target::parse(&head.target);
            for (_, value) in &head.headers.0 {
                let _ = parse_range(value);
                let _ = ContentRange::parse(value);
            }
        }
    }

    #[test]
    fn split_reads_parse_the_same(index in 0u32..100_000, name in "[a-zA-Z0-9 ._-]{1,30}", cut in 0usize..200) {
        let target = Target::Get { index, name: name.clone() };
        let text = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=5-\r\n\r\n", target.to_request_target());
        let bytes = text.as_bytes();
        let cut = cut.min(bytes.len());
        let limits = HeadLimits::default();
        if cut < bytes.len() {
            prop_assert_eq!(parse_request_head(&bytes[..cut], &limits), Ok(Parsed::Incomplete));
        }
        let Ok(Parsed::Done { consumed, head }) = parse_request_head(bytes, &limits) else {
            return Err(TestCaseError::fail("complete head not parsed"));
        };
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(head.method, Method::Get);
        if name != "." && name != ".." && !name.starts_with("..") && !name.ends_with("..") {
            prop_assert_eq!(Target::parse(&head.target), Ok(target));
        }
    }
}
