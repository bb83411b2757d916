//! A bounded map whose entries also expire with age: the node's duplicate/route tables.
//!
//! Real servents keep their routing tables bounded both in entries and in time (LimeWire:
//! two generations of 5 minutes; gtk-gnutella: about a million slots, recycled after an
//! hour). `lru::LruCache::new(cap)` would preallocate `cap` slots, which a million
//! simulated nodes cannot afford, so this map starts empty, grows with use, evicts the
//! oldest insertion when full, and drops entries older than the age limit lazily on
//! insert (no timer is needed, so an idle node costs nothing). Capacity and age are
//! passed in by the caller so they live once in the shared config, not in every node.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use super::fast_hash::KeyedHash;
use super::types::Time;

#[derive(Clone, Debug)]
struct Slot<V> {
    value: V,
    at: Time,
}

/// Insertion-ordered, capacity- and age-bounded map.
#[derive(Clone, Debug)]
pub struct AgedMap<K, V> {
    map: HashMap<K, Slot<V>, KeyedHash>,
    /// Keys in insertion order with the time they were (re)inserted; an entry whose time
    /// no longer matches the map's slot is a leftover of a refresh and is skipped.
    order: VecDeque<(K, Time)>,
}

/// The limits an [`AgedMap`] is held to.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub capacity: usize,
    pub max_age_micros: u64,
}

impl Bounds {
    pub fn new(capacity: usize, max_age_secs: u64) -> Bounds {
        Bounds {
            capacity: capacity.max(1),
            max_age_micros: max_age_secs.saturating_mul(1_000_000),
        }
    }

    fn expired(&self, at: Time, now: Time) -> bool {
        now.saturating_sub(at).0 > self.max_age_micros
    }
}

impl<K: Hash + Eq + Clone, V> AgedMap<K, V> {
    pub fn new(hash: KeyedHash) -> AgedMap<K, V> {
        AgedMap {
            map: HashMap::with_hasher(hash),
            order: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live value for `key`, if any (an expired one counts as absent).
    pub fn get(&self, key: &K, now: Time, bounds: Bounds) -> Option<&V> {
        self.map
            .get(key)
            .filter(|s| !bounds.expired(s.at, now))
            .map(|s| &s.value)
    }

    pub fn get_mut(&mut self, key: &K, now: Time, bounds: Bounds) -> Option<&mut V> {
        self.map
            .get_mut(key)
            .filter(|s| !bounds.expired(s.at, now))
            .map(|s| &mut s.value)
    }

    /// Inserts or replaces `key` (its age restarts), evicting expired and, when full, the
    /// oldest entries first.
    pub fn insert(&mut self, key: K, value: V, now: Time, bounds: Bounds) {
        self.purge(now, bounds);
        match self.map.entry(key.clone()) {
            Entry::Occupied(mut slot) => {
                *slot.get_mut() = Slot { value, at: now };
            }
            Entry::Vacant(slot) => {
                slot.insert(Slot { value, at: now });
            }
        }
        self.order.push_back((key, now));
        while self.map.len() > bounds.capacity || self.order.len() > 2 * bounds.capacity {
            if !self.pop_oldest() {
                break;
            }
        }
    }

    /// One lookup for the common "seen it?" question: if `key` is live (younger than
    /// `live`), `on_live` may update it and its answer is returned; otherwise `fresh` is
    /// stored (as by [`AgedMap::insert`]) and `None` is returned.
    pub fn upsert<R>(
        &mut self,
        key: K,
        fresh: V,
        now: Time,
        live: Bounds,
        bounds: Bounds,
        on_live: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        self.purge(now, bounds);
        match self.map.entry(key.clone()) {
            Entry::Occupied(mut slot) => {
                if !live.expired(slot.get().at, now) {
                    return Some(on_live(&mut slot.get_mut().value));
                }
                *slot.get_mut() = Slot {
                    value: fresh,
                    at: now,
                };
            }
            Entry::Vacant(slot) => {
                slot.insert(Slot {
                    value: fresh,
                    at: now,
                });
            }
        }
        self.order.push_back((key, now));
        while self.map.len() > bounds.capacity || self.order.len() > 2 * bounds.capacity {
            if !self.pop_oldest() {
                break;
            }
        }
        None
    }

    /// Drops every entry older than the age limit.
    pub fn purge(&mut self, now: Time, bounds: Bounds) {
        while let Some((_, at)) = self.order.front() {
            if !bounds.expired(*at, now) {
                break;
            }
            self.pop_oldest();
        }
        // A table emptied by age gives its memory back: a node that routed a burst of
        // queries long ago should not keep the burst's table.
        if self.map.is_empty() && self.map.capacity() > 64 {
            self.map = HashMap::with_hasher(*self.map.hasher());
            self.order = VecDeque::new();
        }
    }

    /// Removes the front of the insertion order (and its map entry if not refreshed since).
    fn pop_oldest(&mut self) -> bool {
        let Some((key, at)) = self.order.pop_front() else {
            return false;
        };
        if let Entry::Occupied(slot) = self.map.entry(key) {
            if slot.get().at == at {
                slot.remove();
            }
        }
        true
    }

    /// Removes every entry for which `keep` says no (used when a link goes away).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, s| keep(k, &s.value));
    }

    /// Heap bytes held (an estimate for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.map.capacity() * (std::mem::size_of::<(K, Slot<V>)>() + 1)
            + self.order.capacity() * std::mem::size_of::<(K, Time)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> AgedMap<u32, u32> {
        AgedMap::new(KeyedHash::new(1))
    }

    #[test]
    fn fresh_map_allocates_nothing() {
        let m = map();
        assert_eq!(m.heap_bytes(), 0);
    }

    #[test]
    fn capacity_evicts_oldest_insertion() {
        let b = Bounds::new(3, 600);
        let mut m = map();
        for k in 0..5 {
            m.insert(k, k * 10, Time::from_secs(k as u64), b);
        }
        assert_eq!(m.len(), 3);
        assert!(m.get(&0, Time::from_secs(5), b).is_none());
        assert!(m.get(&1, Time::from_secs(5), b).is_none());
        assert_eq!(m.get(&4, Time::from_secs(5), b), Some(&40));
    }

    #[test]
    fn upsert_updates_live_entries_and_replaces_expired_ones() {
        let b = Bounds::new(100, 10);
        let mut m = map();
        assert_eq!(m.upsert(1, 5, Time::from_secs(0), b, b, |v| *v), None);
        assert_eq!(
            m.upsert(1, 6, Time::from_secs(1), b, b, |v| {
                *v += 1;
                *v
            }),
            Some(6)
        );
        assert_eq!(m.upsert(1, 9, Time::from_secs(20), b, b, |v| *v), None);
        assert_eq!(m.get(&1, Time::from_secs(20), b), Some(&9));
    }

    #[test]
    fn entries_expire_with_age() {
        let b = Bounds::new(100, 10);
        let mut m = map();
        m.insert(1, 1, Time::from_secs(0), b);
        assert_eq!(m.get(&1, Time::from_secs(10), b), Some(&1));
        assert_eq!(m.get(&1, Time::from_secs(11), b), None);
        m.insert(2, 2, Time::from_secs(20), b);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn refreshed_entry_survives_its_first_insertion_time() {
        let b = Bounds::new(100, 10);
        let mut m = map();
        m.insert(1, 1, Time::from_secs(0), b);
        m.insert(1, 2, Time::from_secs(8), b);
        m.insert(3, 3, Time::from_secs(15), b);
        assert_eq!(m.get(&1, Time::from_secs(15), b), Some(&2));
    }
}
