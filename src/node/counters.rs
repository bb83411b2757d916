//! Per-node totals of what the router did, for logs, reports and tests.
//!
//! Events carry the per-query detail; these counters are the cheap summary (including
//! what has no query GUID to hang on, such as skipped frames), kept by every live node
//! and by simulated ones when something reads them (`NodeSetting::counting`).

use serde::Serialize;

/// Running totals since the node was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Descriptors handed to `on_message`.
    pub received: u64,
    /// Descriptors put on links (forwarded, answered or originated).
    pub sent: u64,
    /// Copies dropped as already seen.
    pub duplicates: u64,
    /// Duplicates forwarded (not handled again) because they had more TTL left than the
    /// first copy, or random walkers passed on again.
    pub reforwarded: u64,
    /// Broadcasts whose TTL was lowered to respect `max_ttl`.
    pub ttl_trimmed: u64,
    /// Broadcasts dropped for exceeding `max_ttl` (policy `drop`).
    pub over_max_ttl: u64,
    /// Descriptors that arrived with TTL 0 or hops 255.
    pub bad_ttl: u64,
    /// Replies (QueryHit, Pong, Push) dropped because their route is unknown or gone.
    pub no_route: u64,
    /// Descriptors of a payload type we do not handle.
    pub unknown_type: u64,
    /// Frames the decoder skipped as malformed or too big to relay, and QRP tables
    /// refused as hostile (their link is closed with Bye 413).
    pub bad_payload: u64,
    /// Queries refused by the query rules (too short, too long, ancient).
    pub bad_queries: u64,
    /// Queries answered from our library.
    pub answered: u64,
    /// Queries answered from the result cache.
    pub answered_from_cache: u64,
    /// Pings dropped by the per-link Ping throttle.
    pub pings_throttled: u64,
    /// Pongs sent from the pong cache in answer to Pings.
    pub cached_pongs_sent: u64,
}

/// Descriptors by payload type, in one direction: the per-peer statistics' "messages in"
/// and "messages out". `u32` and inline (64 bytes for both directions): a simulator holds
/// a million nodes, and no peer of a run sees four billion descriptors of one type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByType(pub [u32; ByType::SLOTS]);

impl ByType {
    /// One slot per name in [`ByType::NAMES`].
    pub const SLOTS: usize = 8;
    /// The slots' names, as reports and pages show them. `route_table` is QRP's
    /// Route-Table-Update; `other` is any other payload type (vendor messages included).
    pub const NAMES: [&'static str; ByType::SLOTS] = [
        "ping",
        "pong",
        "query",
        "query_hit",
        "push",
        "bye",
        "route_table",
        "other",
    ];

    /// The slot of payload type `kind`.
    pub fn slot(kind: u8) -> usize {
        use crate::protocol::kind;
        match kind {
            kind::PING => 0,
            kind::PONG => 1,
            kind::QUERY => 2,
            kind::QUERY_HIT => 3,
            kind::PUSH => 4,
            kind::BYE => 5,
            kind::ROUTE_TABLE_UPDATE => 6,
            _ => 7,
        }
    }

    /// Counts `n` descriptors of payload type `kind` (saturating: a counter stuck at the
    /// top says "at least", never wraps to a small lie).
    #[inline]
    pub fn add(&mut self, kind: u8, n: u32) {
        let slot = &mut self.0[Self::slot(kind)];
        *slot = slot.saturating_add(n);
    }

    /// The count of slot `name` (one of [`ByType::NAMES`]).
    pub fn get(&self, name: &str) -> Option<u32> {
        let i = Self::NAMES.iter().position(|n| *n == name)?;
        Some(self.0[i])
    }

    /// All slots together.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|&n| u64::from(n)).sum()
    }

    /// Adds another count slot by slot (saturating).
    pub fn merge(&mut self, other: &ByType) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.saturating_add(b);
        }
    }
}

/// Serialized as an object `{"ping": n, ..., "other": n}` in [`ByType::NAMES`] order.
impl Serialize for ByType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(Self::SLOTS))?;
        for (name, n) in Self::NAMES.iter().zip(self.0) {
            map.serialize_entry(name, &n)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for ByType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u32>::deserialize(deserializer)?;
        let mut out = ByType::default();
        for (name, n) in map {
            let i = Self::NAMES
                .iter()
                .position(|k| *k == name)
                .ok_or_else(|| serde::de::Error::unknown_field(&name, &Self::NAMES))?;
            out.0[i] = n;
        }
        Ok(out)
    }
}

/// Descriptors a node took in and put out, by payload type (see [`ByType`]).
///
/// `received` counts what reached [`Node::on_message`](super::Node::on_message) (so its
/// total equals [`Counters::received`]); `sent` counts every descriptor the node put on
/// a link (its total equals [`Counters::sent`]) plus the Byes of the links it closed
/// with one, which the driver writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Traffic {
    pub received: ByType,
    pub sent: ByType,
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::kind;

    #[test]
    fn every_payload_type_has_its_slot_and_the_rest_is_other() {
        let mut t = ByType::default();
        for k in [
            kind::PING,
            kind::PONG,
            kind::QUERY,
            kind::QUERY_HIT,
            kind::PUSH,
            kind::BYE,
            kind::ROUTE_TABLE_UPDATE,
            0x31,
        ] {
            t.add(k, 1);
        }
        t.add(0x42, 2);
        assert_eq!(t.0, [1, 1, 1, 1, 1, 1, 1, 3]);
        assert_eq!(t.total(), 10);
        assert_eq!(t.get("query_hit"), Some(1));
        assert_eq!(t.get("nope"), None);
    }

    #[test]
    fn by_type_round_trips_as_a_named_object() {
        let mut t = ByType::default();
        t.add(kind::QUERY, 7);
        let json = serde_json::to_string(&t).unwrap();
        assert!(
            json.starts_with(r#"{"ping":0,"pong":0,"query":7,"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<ByType>(&json).unwrap(), t);
        assert!(serde_json::from_str::<ByType>(r#"{"nope":1}"#).is_err());
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        let mut t = ByType::default();
        t.add(kind::PING, u32::MAX);
        t.add(kind::PING, 5);
        assert_eq!(t.get("ping"), Some(u32::MAX));
    }
}
