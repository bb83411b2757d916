//! The machine-readable line `gnutella peer --json-counters` prints when it stops: its
//! share of every query's counts, for reports gathered from the peers' own outputs (a
//! Shadow run, peers on separate hosts).
//!
//! A peer can only count what it did itself (the copies it sent, whether it was reached,
//! its duplicates and hits); the network's record of a query is the sum over peers, which
//! [`merge_records`](crate::node::record::merge_records) makes exactly as it does for the
//! shards of a `launch`. The line is `counters ` followed by one JSON object on one line,
//! so it is found among the peer's human lines by its first word.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::node::record::QueryRecord;

/// The first word of the line.
pub const PREFIX: &str = "counters";

/// One peer's counts, as printed on its `counters` line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerCounters {
    /// Query and QueryHit descriptors the peer put on links (over its records).
    pub sent: u64,
    /// The driver's totals for the report's `network` part (`frames_in`, `queue_drops`,
    /// ...), by name.
    #[serde(default)]
    pub totals: BTreeMap<String, u64>,
    /// Every query the peer took part in: its own searches (with an origin) and the ones
    /// it relayed (origin `null`), in the record shape of reports.
    pub queries: Vec<QueryRecord>,
}

impl PeerCounters {
    /// The counts of a peer that recorded `queries` (relayed ones included).
    pub fn new(queries: Vec<QueryRecord>, totals: BTreeMap<String, u64>) -> PeerCounters {
        let sent = queries.iter().map(|q| q.messages + q.hit_messages).sum();
        PeerCounters {
            sent,
            totals,
            queries,
        }
    }
}

impl fmt::Display for PeerCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Plain structs with string keys always serialise.
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        write!(f, "{PREFIX} {json}")
    }
}

/// Why a `counters` line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    #[error("not a counters line (it starts with \"{PREFIX} {{\")")]
    NotCounters,
    #[error("a counters line with bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl FromStr for PeerCounters {
    type Err = CountersError;

    fn from_str(line: &str) -> Result<PeerCounters, CountersError> {
        let json = line
            .trim_end()
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_prefix(' '))
            .filter(|rest| rest.starts_with('{'))
            .ok_or(CountersError::NotCounters)?;
        Ok(serde_json::from_str(json)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::record::Scope;

    fn record(guid: &str, origin: Option<&str>, messages: u64) -> QueryRecord {
        QueryRecord {
            guid: guid.into(),
            query: "deep space".into(),
            origin: origin.map(String::from),
            strategy: "flood".into(),
            ttl: 7,
            start_ms: 1.5,
            messages,
            duplicates: 1,
            reforwards: 0,
            refused: 0,
            lost: 0,
            peers_reached: 1,
            hits: 0,
            records: 0,
            responders: 0,
            first_hit_hops: None,
            first_hit_ms: None,
            hit_messages: 2,
            answered: 1,
            answered_from_cache: 0,
            query_drops: BTreeMap::from([("duplicate".to_string(), 1)]),
            hit_drops: BTreeMap::new(),
            success: false,
            scope: Scope::Network,
        }
    }

    #[test]
    fn the_line_round_trips_and_counts_what_the_peer_sent() {
        let counters = PeerCounters::new(
            vec![record("aa", Some("0"), 3), record("bb", None, 4)],
            BTreeMap::from([("frames_in".to_string(), 12)]),
        );
        assert_eq!(counters.sent, 3 + 2 + 4 + 2);
        let line = counters.to_string();
        assert!(
            line.starts_with("counters {") && !line.contains('\n'),
            "{line}"
        );
        assert_eq!(line.parse::<PeerCounters>().unwrap(), counters);
    }

    #[test]
    fn other_lines_and_bad_json_are_told_apart() {
        for line in ["neighbours: 11.0.0.11:6346", "counters", "counters: 3", ""] {
            assert!(matches!(
                line.parse::<PeerCounters>(),
                Err(CountersError::NotCounters)
            ));
        }
        let e = "counters {\"sent\": \"many\"}"
            .parse::<PeerCounters>()
            .unwrap_err();
        assert!(matches!(e, CountersError::Json(_)), "{e}");
    }
}
