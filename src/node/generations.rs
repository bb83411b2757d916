//! The duplicate/route table as two generations, as LimeWire's route tables are
//! (PROTOCOL.md §3.4): new entries go into the current generation; when it holds half the
//! capacity or is older than half the age limit, it becomes the previous generation and
//! the old previous one is dropped whole.
//!
//! Why not [`AgedMap`](super::aged_map::AgedMap)'s strict insertion order: at steady state
//! every insert there also evicts one entry by key, a second random probe into a table of
//! up to 100,000 entries per query. Dropping a generation clears it in one sweep of its
//! control bytes instead, which is what the routing hot path needs. Entries live between
//! half and the whole of the limits; lookups still check each entry's own age, so nothing
//! older than the age limit is ever reported.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU64;

use super::aged_map::Bounds;
use super::fast_hash::KeyedHash;
use super::types::Time;

/// When an entry was stored: a `Time` plus one, so that `Option<Entry>` needs no flag
/// of its own (the inline entry of a route table fits 32 bytes instead of 48).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp(NonZeroU64);

impl Stamp {
    fn new(at: Time) -> Stamp {
        // Saturating: u64::MAX microseconds is half a million years away.
        Stamp(NonZeroU64::new(at.0.saturating_add(1)).unwrap_or(NonZeroU64::MAX))
    }

    fn time(self) -> Time {
        Time(self.0.get() - 1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    value: V,
    at: Stamp,
}

/// The inline entry, flat so that the key's and the value's bytes share one padding.
#[derive(Clone, Copy, Debug)]
struct Entry<K, V> {
    key: K,
    value: V,
    at: Stamp,
}

/// One generation: its newest entry inline, older ones in a hash map.
///
/// In a simulated flood almost every peer sees one GUID; holding that entry inside the
/// node instead of in a freshly allocated hash table saves a heap object and a cache miss
/// per peer. When searches follow one another, the GUID in flight is the newest entry, so
/// its many duplicates are found inline too; a 64-bit Bloom filter of the map's keys lets
/// a lookup of a new GUID skip the map (and its cache misses) nearly always. Once a
/// generation has held two entries it keeps its map (cleared, not freed, on rotation)
/// until the whole table idles out.
#[derive(Clone, Debug)]
#[repr(C)]
struct Generation<K, V> {
    newest: Option<Entry<K, V>>,
    /// Two bits per key ever put in `map` since the last clear (removals leave theirs:
    /// a stale bit only costs a map lookup).
    bloom: u64,
    /// `map`'s length, kept here so that counting entries reads no heap.
    map_len: u32,
    /// Boxed so an inline-only generation costs one word for it, not a map's 40 bytes.
    #[allow(clippy::box_collection)]
    map: Option<Box<HashMap<K, Slot<V>, KeyedHash>>>,
}

/// Past this many keys in a map its Bloom filter is nearly all ones: it is then set to all
/// ones and no longer computed (a large table, as in a live node, pays no extra hash).
const BLOOM_MAX_KEYS: u32 = 16;

fn bloom_bits(hash: u64) -> u64 {
    (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63))
}

impl<K: Hash + Eq, V> Generation<K, V> {
    fn new() -> Self {
        Generation {
            newest: None,
            bloom: 0,
            map_len: 0,
            map: None,
        }
    }

    fn len(&self) -> usize {
        self.map_len as usize + usize::from(self.newest.is_some())
    }

    fn maybe_in_map(&self, bits: u64) -> bool {
        self.map_len > 0 && self.bloom & bits == bits
    }

    fn get(&self, key: &K, bits: u64) -> Option<(&V, Stamp)> {
        if let Some(e) = &self.newest {
            if e.key == *key {
                return Some((&e.value, e.at));
            }
        }
        if !self.maybe_in_map(bits) {
            return None;
        }
        self.map.as_ref()?.get(key).map(|s| (&s.value, s.at))
    }

    fn get_mut(&mut self, key: &K, bits: u64) -> Option<(&mut V, &mut Stamp)> {
        if matches!(&self.newest, Some(e) if e.key == *key) {
            return self.newest.as_mut().map(|e| (&mut e.value, &mut e.at));
        }
        if !self.maybe_in_map(bits) {
            return None;
        }
        self.map
            .as_mut()?
            .get_mut(key)
            .map(|s| (&mut s.value, &mut s.at))
    }

    /// Stores `key` as the newest entry (replacing any older value for it; `absent`:
    /// the caller just looked it up and it is not here, so the map need not be probed).
    fn insert(&mut self, key: K, bits: u64, value: V, at: Stamp, hash: KeyedHash, absent: bool) {
        match self.newest.take() {
            Some(old) if old.key == key => {}
            Some(old) => {
                if !absent {
                    self.remove_from_map(&key, bits);
                }
                let map = self
                    .map
                    .get_or_insert_with(|| Box::new(HashMap::with_capacity_and_hasher(3, hash)));
                self.bloom |= if self.map_len < BLOOM_MAX_KEYS {
                    bloom_bits(hash.hash_one(&old.key))
                } else {
                    u64::MAX
                };
                let slot = Slot {
                    value: old.value,
                    at: old.at,
                };
                map.insert(old.key, slot);
                self.map_len = map.len() as u32;
            }
            None if absent => {}
            None => self.remove_from_map(&key, bits),
        }
        self.newest = Some(Entry { key, value, at });
    }

    fn remove(&mut self, key: &K, bits: u64) {
        if matches!(&self.newest, Some(e) if e.key == *key) {
            self.newest = None;
        } else {
            self.remove_from_map(key, bits);
        }
    }

    fn remove_from_map(&mut self, key: &K, bits: u64) {
        if !self.maybe_in_map(bits) {
            return;
        }
        if let Some(map) = &mut self.map {
            map.remove(key);
            self.map_len = map.len() as u32;
        }
    }

    fn clear(&mut self) {
        self.newest = None;
        self.bloom = 0;
        if self.map_len > 0 {
            if let Some(map) = &mut self.map {
                map.clear();
            }
        }
        self.map_len = 0;
    }

    /// Entries the heap part can hold.
    fn capacity(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.capacity())
    }

    /// Drops everything, heap included.
    fn free(&mut self) {
        self.clear();
        self.map = None;
    }
}

/// Two-generation bounded map with per-entry ages (`repr(C)`: the inline entries first,
/// where a lookup looks, see `Node`'s layout).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Generations<K, V> {
    current: Generation<K, V>,
    /// Boxed, and allocated at the first rotation that has something to keep: a node
    /// that sees a few searches (a simulated peer in a flood) never rotates, and the
    /// inline generation would cost it 72 bytes.
    previous: Option<Box<Generation<K, V>>>,
    hash: KeyedHash,
    /// When the current generation was started.
    since: Time,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    pub fn new(hash: KeyedHash) -> Generations<K, V> {
        Generations {
            current: Generation::new(),
            previous: None,
            hash,
            since: Time::ZERO,
        }
    }

    /// The hash its maps use.
    pub fn hash(&self) -> KeyedHash {
        self.hash
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.previous.as_ref().map_or(0, |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live value for `key`, if any.
    pub fn get(&self, key: &K, now: Time, live: Bounds) -> Option<&V> {
        let fresh = |&(_, at): &(&V, Stamp)| now.saturating_sub(at.time()).0 <= live.max_age_micros;
        let bits = self.bits(key);
        self.current
            .get(key, bits)
            .filter(fresh)
            .or_else(|| {
                self.previous
                    .as_ref()
                    .and_then(|p| p.get(key, bits))
                    .filter(fresh)
            })
            .map(|(value, _)| value)
    }

    /// The key's Bloom bits, or all ones when no generation's filter could use them.
    fn bits(&self, key: &K) -> u64 {
        let useful = |g: &Generation<K, V>| g.map_len > 0 && g.bloom != u64::MAX;
        if useful(&self.current) || self.previous.as_deref().is_some_and(useful) {
            bloom_bits(self.hash.hash_one(key))
        } else {
            u64::MAX
        }
    }

    /// Inserts or replaces `key` in the current generation.
    pub fn insert(&mut self, key: K, value: V, now: Time, bounds: Bounds) {
        self.rotate(now, bounds);
        let bits = self.bits(&key);
        if let Some(previous) = &mut self.previous {
            previous.remove(&key, bits);
        }
        self.current
            .insert(key, bits, value, Stamp::new(now), self.hash, false);
    }

    /// If `key` is live, lets `on_live` update it and returns its answer; otherwise stores
    /// `fresh` and returns `None`.
    pub fn upsert<R>(
        &mut self,
        key: K,
        fresh: V,
        now: Time,
        live: Bounds,
        bounds: Bounds,
        on_live: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        self.rotate(now, bounds);
        let is_live = |at: Stamp| now.saturating_sub(at.time()).0 <= live.max_age_micros;
        let bits = self.bits(&key);
        if let Some((value, at)) = self.current.get_mut(&key, bits) {
            if is_live(*at) {
                return Some(on_live(value));
            }
            *value = fresh;
            *at = Stamp::new(now);
            return None;
        }
        if let Some(previous) = &mut self.previous {
            if let Some((value, at)) = previous.get_mut(&key, bits) {
                if is_live(*at) {
                    return Some(on_live(value));
                }
                previous.remove(&key, bits);
            }
        }
        // Not in the current generation: `get_mut` above just looked.
        self.current
            .insert(key, bits, fresh, Stamp::new(now), self.hash, true);
        None
    }

    /// Starts a new generation when the current one is full or old; frees both when
    /// everything has expired (a node idle since a burst gives the burst's memory back).
    fn rotate(&mut self, now: Time, bounds: Bounds) {
        let age = now.saturating_sub(self.since).0;
        if age > bounds.max_age_micros {
            // Both generations are older than the limit.
            let previous_capacity = self.previous.as_ref().map_or(0, |p| p.capacity());
            if self.current.capacity() > 64 || previous_capacity > 64 {
                self.current.free();
                self.previous = None;
            } else {
                self.current.clear();
                if let Some(previous) = &mut self.previous {
                    previous.clear();
                }
            }
            self.since = now;
            return;
        }
        let half = (bounds.capacity / 2).max(1);
        if self.current.len() >= half || age > bounds.max_age_micros / 2 {
            match &mut self.previous {
                Some(previous) => {
                    std::mem::swap(&mut self.current, previous);
                    self.current.clear();
                }
                // Nothing to keep: an empty previous generation is no generation.
                None if self.current.len() == 0 => {}
                None => {
                    let kept = std::mem::replace(&mut self.current, Generation::new());
                    self.previous = Some(Box::new(kept));
                }
            }
            self.since = now;
        }
    }

    /// Heap bytes held (an estimate, for memory reports).
    pub fn heap_bytes(&self) -> usize {
        let previous = self.previous.as_deref();
        let boxes = usize::from(self.current.map.is_some())
            + usize::from(previous.is_some_and(|p| p.map.is_some()));
        previous.map_or(0, |_| std::mem::size_of::<Generation<K, V>>())
            + boxes * std::mem::size_of::<HashMap<K, Slot<V>, KeyedHash>>()
            + (self.current.capacity() + previous.map_or(0, |p| p.capacity()))
                * (std::mem::size_of::<(K, Slot<V>)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> Generations<u32, u32> {
        Generations::new(KeyedHash::new(1))
    }

    #[test]
    fn fresh_map_allocates_nothing() {
        assert_eq!(map().heap_bytes(), 0);
    }

    #[test]
    fn one_entry_stays_inline_and_more_spill_to_the_heap_without_loss() {
        let b = Bounds::new(100, 600);
        let mut m = map();
        m.insert(1, 10, Time::from_secs(1), b);
        m.insert(1, 11, Time::from_secs(1), b);
        assert_eq!(m.heap_bytes(), 0, "a single key needs no heap");
        assert_eq!(m.get(&1, Time::from_secs(1), b), Some(&11));
        assert_eq!(m.get(&2, Time::from_secs(1), b), None);
        m.insert(2, 20, Time::from_secs(1), b);
        m.insert(3, 30, Time::from_secs(1), b);
        assert!(m.heap_bytes() > 0);
        assert_eq!(m.len(), 3);
        for (k, v) in [(1, 11), (2, 20), (3, 30)] {
            assert_eq!(m.get(&k, Time::from_secs(1), b), Some(&v));
        }
    }

    #[test]
    fn behaves_like_a_plain_map_below_its_limits() {
        // Inline newest entry, Bloom filter and map together must answer exactly as one
        // map would (no rotation: capacity and age far above what is used).
        let b = Bounds::new(1_000_000, 600);
        let t = Time::from_secs(1);
        let mut m = map();
        let mut model = std::collections::HashMap::new();
        let mut x: u64 = 7;
        for step in 0..5000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = ((x >> 33) % 300) as u32;
            match (x >> 20) % 3 {
                0 => {
                    m.insert(key, step, t, b);
                    model.insert(key, step);
                }
                1 => {
                    let got = m.upsert(key, step, t, b, b, |v| *v);
                    assert_eq!(got, model.get(&key).copied());
                    model.entry(key).or_insert(step);
                }
                _ => assert_eq!(m.get(&key, t, b), model.get(&key)),
            }
            assert_eq!(m.len(), model.len());
        }
    }

    #[test]
    fn never_holds_more_than_capacity_and_keeps_the_newest() {
        let b = Bounds::new(10, 600);
        let mut m = map();
        for k in 0..100 {
            m.insert(k, k, Time::from_secs(1), b);
            assert!(m.len() <= 10);
        }
        for k in 95..100 {
            assert_eq!(m.get(&k, Time::from_secs(1), b), Some(&k));
        }
        assert_eq!(m.get(&0, Time::from_secs(1), b), None);
    }

    #[test]
    fn entries_expire_with_age_and_upsert_sees_live_ones() {
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
        assert_eq!(m.get(&1, Time::from_secs(10), b), Some(&6));
        assert_eq!(m.get(&1, Time::from_secs(11), b), None);
        assert_eq!(m.upsert(1, 9, Time::from_secs(11), b, b, |v| *v), None);
        assert_eq!(m.get(&1, Time::from_secs(11), b), Some(&9));
        // Idle past the limit: everything is dropped and the memory freed.
        m.insert(2, 2, Time::from_secs(100), b);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn an_entry_found_in_the_previous_generation_is_still_a_duplicate() {
        let b = Bounds::new(4, 600);
        let mut m = map();
        m.insert(1, 1, Time::from_secs(0), b);
        m.insert(2, 2, Time::from_secs(0), b);
        m.insert(3, 3, Time::from_secs(0), b); // rotation: 1 and 2 now in the previous generation
        assert_eq!(m.upsert(1, 0, Time::from_secs(0), b, b, |v| *v), Some(1));
    }
}
