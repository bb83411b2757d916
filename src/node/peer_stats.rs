//! Per-peer statistics: the one row schema both worlds write (`sim`, `launch` and `demo`
//! with `--peer-stats FILE`, the control API's `GET /peers`, the live page).
//!
//! The message-level figures come from the node core ([`Counters`], [`Traffic`]), so the
//! simulator and the live network count them with the same code; a driver adds only
//! what it alone sees: copies that never left on a link (`drops`) and, live, the bytes
//! its HTTP server sent (`bytes_served`, `null` in the simulator, which serves no files).

use serde::{Deserialize, Serialize};

use super::counters::{ByType, Counters, Traffic};
use super::Node;

/// The figures of one peer (without its name): what a driver folds, over the peer's
/// sessions when it leaves and comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerTally {
    /// Descriptors received, by payload type.
    pub messages_in: ByType,
    /// Descriptors sent (forwarded, answered, originated, and Byes), by payload type.
    pub messages_out: ByType,
    /// Copies received and dropped as already seen (Query and Push).
    pub duplicates: u64,
    /// Queries answered from the peer's own files.
    pub answered: u64,
    /// Queries answered from its result cache.
    pub answered_from_cache: u64,
    /// Copies the peer put on a link that never left or never arrived: live, dropped by a
    /// full send queue or lost on a modelled link; simulated, lost on the link (`--loss`)
    /// or sent on a link that was down.
    pub drops: u64,
}

impl PeerTally {
    /// What `node` counted since it was created (no drops: those are the driver's).
    pub fn of_node(node: &Node) -> PeerTally {
        Self::of(&node.counters(), &node.traffic())
    }

    pub fn of(counters: &Counters, traffic: &Traffic) -> PeerTally {
        PeerTally {
            messages_in: traffic.received,
            messages_out: traffic.sent,
            duplicates: counters.duplicates,
            answered: counters.answered,
            answered_from_cache: counters.answered_from_cache,
            drops: 0,
        }
    }

    /// Adds another session's (or process's) figures.
    pub fn merge(&mut self, other: &PeerTally) {
        self.messages_in.merge(&other.messages_in);
        self.messages_out.merge(&other.messages_out);
        self.duplicates += other.duplicates;
        self.answered += other.answered;
        self.answered_from_cache += other.answered_from_cache;
        self.drops += other.drops;
    }
}

/// One peer's row: its name, its figures, and the bytes it served.
///
/// As JSON (one object per line in a `--peer-stats` file):
/// `{"peer": "p0", "messages_in": {"ping": 0, "pong": 0, "query": 3, "query_hit": 1,
/// "push": 0, "bye": 0, "route_table": 0, "other": 0}, "messages_out": {...},
/// "duplicates": 1, "answered": 1, "answered_from_cache": 0, "drops": 0,
/// "bytes_served": 0}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStats {
    /// The peer's config id (or its index when the run names none).
    pub peer: String,
    #[serde(flatten)]
    pub tally: PeerTally,
    /// Bytes of file bodies the peer's HTTP server sent; `None` (`null`) in the
    /// simulator, which transfers no files.
    pub bytes_served: Option<u64>,
}

/// The rows as JSON Lines, one peer per line, in the order given.
pub fn to_json_lines(rows: &[PeerStats]) -> String {
    let mut out = String::new();
    for row in rows {
        // A row of plain numbers and a string cannot fail to serialize.
        out.push_str(&serde_json::to_string(row).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::kind;

    #[test]
    fn a_row_is_one_flat_json_object_that_reads_back() {
        let mut tally = PeerTally {
            duplicates: 2,
            answered: 1,
            ..PeerTally::default()
        };
        tally.messages_in.add(kind::QUERY, 3);
        tally.messages_out.add(kind::QUERY_HIT, 1);
        let row = PeerStats {
            peer: "p0".into(),
            tally,
            bytes_served: None,
        };
        let text = to_json_lines(&[row.clone(), row.clone()]);
        assert_eq!(text.lines().count(), 2);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with(r#"{"peer":"p0","messages_in":{"ping":0,"#),
            "{first}"
        );
        assert!(
            first.ends_with(r#""drops":0,"bytes_served":null}"#),
            "{first}"
        );
        assert_eq!(serde_json::from_str::<PeerStats>(first).unwrap(), row);
    }

    #[test]
    fn sessions_add_up() {
        let mut a = PeerTally::default();
        a.messages_in.add(kind::PING, 2);
        a.drops = 1;
        let mut b = a;
        b.answered_from_cache = 4;
        a.merge(&b);
        assert_eq!(a.messages_in.get("ping"), Some(4));
        assert_eq!((a.drops, a.answered_from_cache), (2, 4));
    }
}
