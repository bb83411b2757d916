//! Routes and duplicates: the one table, keyed by (GUID, payload type), that says
//! whether a descriptor was seen before and which link a reply to it goes back on.
//!
//! Why its own module: every descriptor passes through it, and its rules (a duplicate
//! Query with more TTL left is re-forwarded and moves the reverse route; walkers are
//! passed on whenever seen; seen and route entries live by different bounds in one
//! table) are the routing core's. The node asks it one question per descriptor
//! ([`Routes::admit_query`], [`Routes::route_of`]) and never touches its entries.

use super::aged_map::Bounds;
use super::fast_hash::KeyedHash;
use super::generations::Generations;
use super::routing::RoutingConfig;
use super::types::{ConnId, Time};
use crate::protocol::{kind, Guid};

/// Where a descriptor with a given (GUID, type) came from. Packed into 5 bytes
/// (alignment 1) because the table holds up to `seen_capacity` of them per node, and so
/// that the inline newest entry (GUID, type, route, time) fits 32 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed)]
struct Route {
    /// The link it came in on, or `LOCAL` when we originated it.
    from: u32,
    /// The most TTL any copy had left after our hop.
    ttl_left: u8,
}

/// `Route::from` of our own descriptors (drivers never use this `ConnId`).
const LOCAL: u32 = u32::MAX;

/// What a reply to a known descriptor does: it is ours, or it goes back on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    Ours,
    Via(ConnId),
}

/// What to do with a Query copy (its hop already taken).
pub(super) enum Admission {
    /// First copy: handle it, then forward it.
    Fresh,
    /// A random walker seen again: pass it on.
    Walker,
    /// More TTL left than any copy before: forward without handling.
    Reforward,
    /// Drop it.
    Duplicate,
}

/// The duplicate table and the reverse routes in one (see the module docs).
#[derive(Debug)]
#[repr(transparent)]
pub(super) struct Routes {
    table: Generations<(Guid, u8), Route>,
}

impl Routes {
    pub(super) fn new() -> Routes {
        Routes {
            table: Generations::new(),
        }
    }

    /// Judges a Query copy that came on `from` with `ttl` left after our hop, recording
    /// its route when it is new and raising the stored TTL (and moving the route to
    /// `from`) when it re-forwards.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit_query(
        &mut self,
        config: &RoutingConfig,
        hash: impl Fn() -> KeyedHash + Copy,
        guid: Guid,
        from: ConnId,
        ttl: u8,
        walking: bool,
        now: Time,
    ) -> Admission {
        let (seen, bounds) = (seen_bounds(config), table_bounds(config));
        let fresh = Route {
            from: from.0,
            ttl_left: ttl,
        };
        let repeat = self.table.upsert(
            hash,
            (guid, kind::QUERY),
            fresh,
            now,
            seen,
            bounds,
            |route| {
                if walking {
                    Admission::Walker
                } else if ttl > route.ttl_left {
                    route.ttl_left = ttl;
                    // Replies follow the copy we forwarded last: it came the shorter
                    // way, and a responder it reaches sets its hit's TTL from that
                    // shorter hop count.
                    if route.from != LOCAL {
                        route.from = from.0;
                    }
                    Admission::Reforward
                } else {
                    Admission::Duplicate
                }
            },
        );
        repeat.unwrap_or(Admission::Fresh)
    }

    /// Whether a (GUID, type) was seen within the duplicate bounds.
    #[inline]
    pub(super) fn seen(&self, config: &RoutingConfig, guid: Guid, kind: u8, now: Time) -> bool {
        self.table
            .get(&(guid, kind), now, seen_bounds(config))
            .is_some()
    }

    /// Where replies to (GUID, type) go, while its route lives; `None` when unknown.
    #[inline]
    pub(super) fn route_of(
        &self,
        config: &RoutingConfig,
        guid: Guid,
        kind: u8,
        now: Time,
    ) -> Option<Origin> {
        self.table
            .get(&(guid, kind), now, route_bounds(config))
            .map(|r| {
                if r.from == LOCAL {
                    Origin::Ours
                } else {
                    Origin::Via(ConnId(r.from))
                }
            })
    }

    /// Records a descriptor we originated with `ttl`.
    #[inline]
    pub(super) fn remember_ours(
        &mut self,
        config: &RoutingConfig,
        hash: impl Fn() -> KeyedHash + Copy,
        guid: Guid,
        kind: u8,
        ttl: u8,
        now: Time,
    ) {
        self.remember(config, hash, guid, kind, LOCAL, ttl, now);
    }

    /// Records a descriptor that came on `from` with `ttl` left.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn remember_via(
        &mut self,
        config: &RoutingConfig,
        hash: impl Fn() -> KeyedHash + Copy,
        guid: Guid,
        kind: u8,
        from: ConnId,
        ttl: u8,
        now: Time,
    ) {
        self.remember(config, hash, guid, kind, from.0, ttl, now);
    }

    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn remember(
        &mut self,
        config: &RoutingConfig,
        hash: impl Fn() -> KeyedHash + Copy,
        guid: Guid,
        kind: u8,
        from: u32,
        ttl_left: u8,
        now: Time,
    ) {
        let route = Route { from, ttl_left };
        self.table
            .insert(hash, (guid, kind), route, now, table_bounds(config));
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }

    /// Where the table's heap part lives (null without one), for a prefetch hint.
    #[inline]
    pub(super) fn prefetch_hint(&self) -> *const u8 {
        self.table.prefetch_hint()
    }
}

/// Duplicate suppression looks back `seen_max_age_secs`; routes live
/// `route_max_age_secs`; one table holds both, sized for the larger.
#[inline]
fn seen_bounds(config: &RoutingConfig) -> Bounds {
    Bounds::new(config.seen_capacity, config.seen_max_age_secs)
}

/// How long routes (and the other route-like state: push routes, cached hits' queries,
/// own searches) live.
#[inline]
pub(super) fn route_bounds(config: &RoutingConfig) -> Bounds {
    Bounds::new(config.route_capacity, config.route_max_age_secs)
}

#[inline]
fn table_bounds(config: &RoutingConfig) -> Bounds {
    Bounds::new(
        config.seen_capacity.max(config.route_capacity),
        config.seen_max_age_secs.max(config.route_max_age_secs),
    )
}
