//! Per-node totals of what the router did, for logs, reports and tests.
//!
//! Events carry the per-query detail; these counters are the cheap always-on summary
//! (including what has no query GUID to hang on, such as skipped frames).

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
