//! Which incoming queries a peer refuses outright (neither answered nor relayed).
//!
//! We apply the subset of PROTOCOL.md §2.3 that both major servents agree on and that does
//! not depend on ultrapeer roles or out-of-band replies:
//! - a flags/speed field of `00 00` is an "ancient query" (gtk-gnutella drops it);
//! - criteria longer than 256 bytes (LimeWire drops text over 256 chars; gtk-gnutella
//!   does not relay queries over 256 bytes);
//! - criteria of at most one character without a SHA-1 URN (gtk-gnutella; LimeWire drops
//!   1-character and empty queries). A URN query's criteria is the single `\`.
//!
//! Not applied: LimeWire's list of forbidden punctuation (gtk-gnutella accepts it), and
//! gtk-gnutella's "≤ 3 bytes when hops > max_ttl/2" rule.

use crate::protocol::Query;

/// Longest criteria we accept, in bytes.
pub const MAX_CRITERIA_BYTES: usize = 256;

/// Why a query is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadQuery {
    #[error("query flags field is zero (ancient query)")]
    ZeroFlags,
    #[error("query criteria longer than {MAX_CRITERIA_BYTES} bytes")]
    TooLong,
    #[error("query criteria of at most one character and no URN")]
    TooShort,
}

/// Checks `query` against the rules above.
pub fn check_query(query: &Query) -> Result<(), BadQuery> {
    if query.flags == 0 {
        return Err(BadQuery::ZeroFlags);
    }
    if query.criteria.len() > MAX_CRITERIA_BYTES {
        return Err(BadQuery::TooLong);
    }
    // At most one character: no second one (without counting a long criteria through).
    // Two leading ASCII letters or digits settle it without the Unicode trim, which
    // every copy of every query would otherwise pay for.
    let short = match query.criteria.as_bytes() {
        [a, b, ..] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => false,
        _ => query.criteria.trim().chars().nth(1).is_none(),
    };
    if short && query.sha1s().next().is_none() {
        return Err(BadQuery::TooShort);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Sha1;

    #[test]
    fn refuses_short_long_and_ancient_queries() {
        assert_eq!(check_query(&Query::keywords("ab")), Ok(()));
        assert_eq!(check_query(&Query::keywords("a")), Err(BadQuery::TooShort));
        assert_eq!(check_query(&Query::keywords("")), Err(BadQuery::TooShort));
        assert_eq!(
            check_query(&Query::keywords(" a ")),
            Err(BadQuery::TooShort)
        );
        assert_eq!(
            check_query(&Query::keywords("\u{b}a")),
            Err(BadQuery::TooShort)
        );
        assert_eq!(check_query(&Query::keywords("é")), Err(BadQuery::TooShort));
        assert_eq!(check_query(&Query::keywords(" éa")), Ok(()));
        assert_eq!(
            check_query(&Query::keywords(&"x".repeat(257))),
            Err(BadQuery::TooLong)
        );
        assert_eq!(check_query(&Query::keywords(&"x".repeat(256))), Ok(()));
        assert_eq!(check_query(&Query::by_urn(Sha1::of_bytes(b""))), Ok(()));
        let mut ancient = Query::keywords("debian");
        ancient.flags = 0;
        assert_eq!(check_query(&ancient), Err(BadQuery::ZeroFlags));
    }
}
