//! The searches this node started: their query, TTL, hits so far, and the timers of
//! their expanding-ring rounds.
//!
//! Why its own module: an origin's state is not a relay's (a relay keeps only routes),
//! and the ring's rule — double the round's TTL every `wait_ms` until the requested TTL,
//! stop at the first hit — lives here whole. The node starts a search, reports its hits,
//! and asks for due rounds; it never sees the entries.

use std::sync::Arc;

use super::aged_map::{AgedMap, Bounds};
use super::fast_hash::KeyedHash;
use super::types::Time;
use crate::protocol::{Guid, Query};

/// A search this node started.
#[derive(Clone, Debug)]
struct OwnSearch {
    query: Arc<Query>,
    ttl: u8,
    /// TTL of the latest expanding-ring round (equals `ttl` for the other strategies).
    round_ttl: u8,
    hits: u32,
    /// Records in those hits (what a Query Status Response reports).
    records: u32,
}

/// Own searches are looked up whatever their age (they are bounded on insert).
fn any_age() -> Bounds {
    Bounds::new(1, u64::MAX)
}

#[derive(Debug)]
pub(super) struct OwnSearches {
    searches: AgedMap<Guid, OwnSearch>,
    /// When the next expanding-ring round of a search is due.
    ring_timers: Vec<(Time, Guid)>,
}

impl OwnSearches {
    pub(super) fn new(hash: KeyedHash) -> OwnSearches {
        OwnSearches {
            searches: AgedMap::new(hash),
            ring_timers: Vec::new(),
        }
    }

    /// Records a search whose first round goes out with `first_round` of its `ttl`.
    #[inline]
    pub(super) fn start(
        &mut self,
        guid: Guid,
        query: Arc<Query>,
        ttl: u8,
        first_round: u8,
        now: Time,
        bounds: Bounds,
    ) {
        let search = OwnSearch {
            query,
            ttl,
            round_ttl: first_round,
            hits: 0,
            records: 0,
        };
        self.searches.insert(guid, search, now, bounds);
    }

    /// Schedules the next ring round of `guid` at `due`.
    #[inline]
    pub(super) fn schedule_round(&mut self, due: Time, guid: Guid) {
        self.ring_timers.push((due, guid));
    }

    /// Whether search `guid` has had a hit.
    #[inline]
    pub(super) fn satisfied(&self, guid: Guid) -> bool {
        self.searches
            .get(&guid, Time(u64::MAX), any_age())
            .is_some_and(|s| s.hits > 0)
    }

    /// The records our search `guid` received so far; `None` if it is not ours.
    pub(super) fn records(&self, guid: Guid) -> Option<u32> {
        self.searches
            .get(&guid, Time(u64::MAX), any_age())
            .map(|s| s.records)
    }

    /// Counts a hit of `records` records for `guid`; the first hit ends an expanding ring
    /// (no further rounds).
    #[inline]
    pub(super) fn on_hit(&mut self, guid: Guid, records: u32, now: Time) {
        if let Some(search) = self.searches.get_mut(&guid, now, any_age()) {
            search.hits += 1;
            search.records = search.records.saturating_add(records);
            self.ring_timers.retain(|(_, g)| *g != guid);
        }
    }

    /// The next round of `guid` (its TTL and query), scheduling the one after it
    /// `wait_ms` later; `None` once the search has a hit or reached its TTL.
    #[inline]
    pub(super) fn next_round(
        &mut self,
        now: Time,
        guid: Guid,
        wait_ms: u64,
    ) -> Option<(u8, Arc<Query>)> {
        let search = self.searches.get_mut(&guid, now, any_age())?;
        if search.hits > 0 || search.round_ttl >= search.ttl {
            return None;
        }
        let round_ttl = search.round_ttl.saturating_mul(2).min(search.ttl);
        search.round_ttl = round_ttl;
        let query = Arc::clone(&search.query);
        if round_ttl < search.ttl {
            self.ring_timers
                .push((now.plus_micros(wait_ms.saturating_mul(1000)), guid));
        }
        Some((round_ttl, query))
    }

    /// Takes the rounds due at `now`, in time order.
    #[inline]
    pub(super) fn take_due(&mut self, now: Time) -> Vec<(Time, Guid)> {
        let mut due: Vec<(Time, Guid)> = Vec::new();
        self.ring_timers.retain(|timer| {
            if timer.0 <= now {
                due.push(*timer);
                false
            } else {
                true
            }
        });
        due.sort();
        due
    }

    /// When the next round is due.
    #[inline]
    pub(super) fn next_timeout(&self) -> Option<Time> {
        self.ring_timers.iter().map(|(t, _)| *t).min()
    }

    #[inline]
    pub(super) fn heap_bytes(&self) -> usize {
        80 + self.searches.heap_bytes()
    }
}
