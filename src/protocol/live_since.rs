//! The `X-Live-Since` handshake header: when a servent started, as gtk-gnutella sends it
//! (`start_rfc822_date`, an RFC 822 date such as `Mon, 30 Nov 2026 02:48:13 +0000`) and
//! reads it (`node_process_handshake_header`: the remote's `up_date`). gtk-gnutella's
//! auto mode becomes the leaf of a guiding ultrapeer only if that one has been up longer
//! (`n->up_date != 0 && n->up_date < start_stamp`), and so do we: without the header two
//! servents could not agree which of them stays an ultrapeer.
//!
//! Times are whole seconds since the Unix epoch; the clock is the caller's (the node
//! core stays without one). Dates are parsed with `chrono`'s RFC 2822 reader, which
//! takes the `+hhmm` offsets gtk-gnutella writes and the `GMT` of RFC 1123.

use chrono::DateTime;

/// The header's value for a start at `unix_secs` (UTC, with gtk-gnutella's numeric
/// offset); `None` for a time `chrono` cannot represent.
pub fn format(unix_secs: i64) -> Option<String> {
    let at = DateTime::from_timestamp(unix_secs, 0)?;
    Some(at.format("%a, %d %b %Y %H:%M:%S +0000").to_string())
}

/// The start a header's value names, in seconds since the Unix epoch; `None` when it is
/// not an RFC 822 date.
pub fn parse(value: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|at| at.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtk_gnutellas_dates_read_back() {
        let text = format(1_796_006_893).unwrap();
        assert_eq!(text, "Mon, 30 Nov 2026 02:48:13 +0000");
        assert_eq!(parse(&text), Some(1_796_006_893));
        // A servent east of Greenwich writes its local time with its offset.
        assert_eq!(
            parse("Mon, 30 Nov 2026 03:48:13 +0100"),
            Some(1_796_006_893)
        );
        assert_eq!(
            parse(" Mon, 30 Nov 2026 02:48:13 GMT "),
            Some(1_796_006_893)
        );
        for junk in [
            "",
            "yesterday",
            "1796006893",
            "Mon, 31 Nov 2026 02:48:13 +0000",
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }
}
