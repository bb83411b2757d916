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
//!
//! In a simulated run of many searches each peer sees one new GUID per search and many
//! copies of the newest one, so the layout is chosen to keep those off the heap: the
//! newest entry is inline, a copy of it is answered without hashing or touching the boxed
//! previous generation, and a new GUID is told apart from the previous generation's keys
//! by a small Bloom filter kept inline (each of those boxes is a cache miss in a table of
//! a million peers). A small table's older entries sit in a short array, not a hash map.

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

/// How many older entries a generation keeps in a plain array before it moves them into
/// a hash map: a table of capacity 8 (the benchmark's `--seen-capacity 8`) holds at most
/// four entries per generation, the newest inline and three here, found by comparing
/// keys without hashing and in one heap object instead of a map's two.
const FEW: usize = 3;

/// A generation's entries other than the newest.
#[derive(Clone, Debug)]
enum Spill<K, V> {
    /// Up to [`FEW`] entries, in the first `spill_len` slots (any later ones are
    /// leftovers, dropped when overwritten).
    Few([Option<Entry<K, V>>; FEW]),
    /// More: kept as a map from then on (cleared, not shrunk, on rotation).
    Many(HashMap<K, Slot<V>, KeyedHash>),
}

/// One generation: its newest entry inline, older ones in a [`Spill`].
///
/// In a simulated flood almost every peer sees one GUID; holding that entry inside the
/// node instead of in a freshly allocated table saves a heap object and a cache miss
/// per peer. When searches follow one another, the GUID in flight is the newest entry, so
/// its many duplicates are found inline too; a 64-bit Bloom filter of the spill's keys
/// lets a lookup of a new GUID skip the spill (and its cache misses) nearly always. Once a
/// generation has held two entries it keeps its spill (cleared, not freed, on rotation)
/// until the whole table idles out.
#[derive(Clone, Debug)]
#[repr(C)]
struct Generation<K, V> {
    newest: Option<Entry<K, V>>,
    /// Two bits per key ever put in `spill` since the last clear (removals leave theirs:
    /// a stale bit only costs a lookup).
    bloom: u64,
    /// How many entries `spill` holds, kept here so that counting entries reads no heap.
    /// When 0 the spill's contents are leftovers of a cleared generation, emptied only
    /// when the spill is next written: a rotation then touches no spill.
    spill_len: u32,
    /// In the current generation only: a 32-bit Bloom filter ([`fold`]) of every key of
    /// the previous one, so that a new key need not look into the boxed previous
    /// generation (0: it is empty; all ones: too many keys to tell). It fills what would
    /// otherwise be padding.
    older: u32,
    /// Boxed so an inline-only generation costs one word for it.
    spill: Option<Box<Spill<K, V>>>,
}

/// Past this many keys in a spill its Bloom filter is nearly all ones: it is then set to
/// all ones and no longer computed (a large table, as in a live node, pays no extra hash).
const BLOOM_MAX_KEYS: u32 = 16;

fn bloom_bits(hash: u64) -> u64 {
    (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63))
}

/// A 64-bit Bloom filter (or a key's bits) folded to 32 bits: the same filter with each
/// bit position taken modulo 32.
fn fold(bits: u64) -> u32 {
    (bits as u32) | ((bits >> 32) as u32)
}

impl<K: Hash + Eq, V> Generation<K, V> {
    fn new() -> Self {
        Generation {
            newest: None,
            bloom: 0,
            spill_len: 0,
            older: 0,
            spill: None,
        }
    }

    fn len(&self) -> usize {
        self.spill_len as usize + usize::from(self.newest.is_some())
    }

    fn is_newest(&self, key: &K) -> bool {
        matches!(&self.newest, Some(e) if e.key == *key)
    }

    /// Whether the spill may hold a key with these Bloom bits (all ones: bits not
    /// computed, so it may).
    fn maybe_in_spill(&self, bits: u64) -> bool {
        self.spill_len > 0 && (bits == u64::MAX || self.bloom & bits == bits)
    }

    /// Whether this generation's Bloom filter is worth a key's hash.
    fn bloom_useful(&self) -> bool {
        self.spill_len > 0 && self.bloom != u64::MAX
    }

    fn get(&self, key: &K, bits: u64) -> Option<(&V, Stamp)> {
        if let Some(e) = &self.newest {
            if e.key == *key {
                return Some((&e.value, e.at));
            }
        }
        self.spill_get(key, bits)
    }

    fn spill_get(&self, key: &K, bits: u64) -> Option<(&V, Stamp)> {
        if !self.maybe_in_spill(bits) {
            return None;
        }
        match self.spill.as_deref()? {
            Spill::Few(entries) => entries[..self.spill_len as usize]
                .iter()
                .flatten()
                .find(|e| e.key == *key)
                .map(|e| (&e.value, e.at)),
            Spill::Many(map) => map.get(key).map(|s| (&s.value, s.at)),
        }
    }

    fn get_mut(&mut self, key: &K, bits: u64) -> Option<(&mut V, &mut Stamp)> {
        if self.is_newest(key) {
            return self.newest.as_mut().map(|e| (&mut e.value, &mut e.at));
        }
        self.spill_get_mut(key, bits)
    }

    fn spill_get_mut(&mut self, key: &K, bits: u64) -> Option<(&mut V, &mut Stamp)> {
        if !self.maybe_in_spill(bits) {
            return None;
        }
        match self.spill.as_deref_mut()? {
            Spill::Few(entries) => entries[..self.spill_len as usize]
                .iter_mut()
                .flatten()
                .find(|e| e.key == *key)
                .map(|e| (&mut e.value, &mut e.at)),
            Spill::Many(map) => map.get_mut(key).map(|s| (&mut s.value, &mut s.at)),
        }
    }

    /// Stores `key` as the newest entry (replacing any older value for it; `absent`:
    /// the caller just looked it up and it is not here, so the spill need not be probed).
    fn insert(&mut self, key: K, bits: u64, value: V, at: Stamp, hash: KeyedHash, absent: bool) {
        match self.newest.take() {
            Some(old) if old.key == key => {}
            Some(old) => {
                if !absent {
                    self.remove_from_spill(&key, bits);
                }
                self.bloom |= if self.spill_len < BLOOM_MAX_KEYS {
                    bloom_bits(hash.hash_one(&old.key))
                } else {
                    u64::MAX
                };
                self.push_to_spill(old, hash);
            }
            None if absent => {}
            None => self.remove_from_spill(&key, bits),
        }
        self.newest = Some(Entry { key, value, at });
    }

    /// Puts a former newest entry into the spill, replacing any entry with its key (there
    /// is none: the newest key is never also in the spill, but a map would replace).
    fn push_to_spill(&mut self, entry: Entry<K, V>, hash: KeyedHash) {
        let spill = self
            .spill
            .get_or_insert_with(|| Box::new(Spill::Few(std::array::from_fn(|_| None))));
        let len = self.spill_len as usize;
        match &mut **spill {
            Spill::Few(entries) => {
                if let Some(e) = entries[..len]
                    .iter_mut()
                    .flatten()
                    .find(|e| e.key == entry.key)
                {
                    *e = entry;
                } else if len < FEW {
                    entries[len] = Some(entry);
                    self.spill_len += 1;
                } else {
                    let mut map = HashMap::with_capacity_and_hasher(2 * FEW + 1, hash);
                    for e in entries.iter_mut().filter_map(Option::take).chain([entry]) {
                        map.insert(
                            e.key,
                            Slot {
                                value: e.value,
                                at: e.at,
                            },
                        );
                    }
                    self.spill_len = map.len() as u32;
                    **spill = Spill::Many(map);
                }
            }
            Spill::Many(map) => {
                if len == 0 {
                    map.clear();
                }
                let slot = Slot {
                    value: entry.value,
                    at: entry.at,
                };
                map.insert(entry.key, slot);
                self.spill_len = map.len() as u32;
            }
        }
    }

    fn remove(&mut self, key: &K, bits: u64) {
        if self.is_newest(key) {
            self.newest = None;
        } else {
            self.remove_from_spill(key, bits);
        }
    }

    fn remove_from_spill(&mut self, key: &K, bits: u64) {
        if !self.maybe_in_spill(bits) {
            return;
        }
        match self.spill.as_deref_mut() {
            Some(Spill::Few(entries)) => {
                let len = self.spill_len as usize;
                if let Some(i) = entries[..len]
                    .iter()
                    .position(|s| matches!(s, Some(e) if e.key == *key))
                {
                    entries.swap(i, len - 1);
                    entries[len - 1] = None;
                    self.spill_len -= 1;
                }
            }
            Some(Spill::Many(map)) => {
                map.remove(key);
                self.spill_len = map.len() as u32;
            }
            None => {}
        }
    }

    /// Empties the generation and forgets `older`. The spill is kept for reuse and not
    /// read: its leftovers go when it is next written (or freed).
    fn clear(&mut self) {
        self.newest = None;
        self.bloom = 0;
        self.older = 0;
        self.spill_len = 0;
    }

    /// The 32-bit Bloom filter of every key here (see `older`).
    fn summary(&self, hash: KeyedHash) -> u32 {
        let mut bloom = if self.spill_len > 0 { self.bloom } else { 0 };
        if let Some(e) = &self.newest {
            if bloom != u64::MAX {
                bloom |= bloom_bits(hash.hash_one(&e.key));
            }
        }
        fold(bloom)
    }

    /// Entries the heap part can hold.
    fn capacity(&self) -> usize {
        match self.spill.as_deref() {
            None => 0,
            Some(Spill::Few(_)) => FEW,
            Some(Spill::Many(map)) => map.capacity(),
        }
    }

    /// Heap bytes of the spill.
    fn heap_bytes(&self) -> usize {
        match self.spill.as_deref() {
            None => 0,
            Some(Spill::Few(_)) => std::mem::size_of::<Spill<K, V>>(),
            Some(Spill::Many(map)) => {
                std::mem::size_of::<Spill<K, V>>()
                    + map.capacity() * (std::mem::size_of::<(K, Slot<V>)>() + 1)
            }
        }
    }

    /// Drops everything, heap included.
    fn free(&mut self) {
        self.clear();
        self.spill = None;
    }

    /// Empties the generation and drops its leftovers now, keeping a map's allocation:
    /// for a table that idled out, whose next write may be far away (values such as a
    /// result cache's long keys would otherwise stay alive until then).
    fn clear_now(&mut self) {
        self.clear();
        match self.spill.as_deref_mut() {
            Some(Spill::Few(entries)) => *entries = std::array::from_fn(|_| None),
            Some(Spill::Many(map)) => map.clear(),
            None => {}
        }
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
    /// inline generation would cost it 56 bytes. Looked into only when `current.older`
    /// says it may hold the key.
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

    /// Entries held, counting an entry of the previous generation that a newer one for
    /// its key shadows (see [`Generations::insert`]).
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.as_ref().map_or(0, |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live value for `key`, if any.
    pub fn get(&self, key: &K, now: Time, live: Bounds) -> Option<&V> {
        let fresh = |&(_, at): &(&V, Stamp)| now.saturating_sub(at.time()).0 <= live.max_age_micros;
        if let Some(e) = &self.current.newest {
            if e.key == *key && fresh(&(&e.value, e.at)) {
                return Some(&e.value);
            }
        }
        let bits = self.bits(key);
        self.current
            .spill_get(key, bits)
            .filter(fresh)
            .or_else(|| self.previous(bits)?.get(key, bits).filter(fresh))
            .map(|(value, _)| value)
    }

    /// The key's Bloom bits, or all ones when neither the current generation's filter
    /// nor `older` could use them (the previous generation's own filter is not asked: that
    /// would read its box; with all ones it is looked into).
    fn bits(&self, key: &K) -> u64 {
        let older = self.current.older;
        if self.current.bloom_useful() || (older != 0 && older != u32::MAX) {
            bloom_bits(self.hash.hash_one(key))
        } else {
            u64::MAX
        }
    }

    /// The previous generation, if it may hold a key with these Bloom bits.
    fn previous(&self, bits: u64) -> Option<&Generation<K, V>> {
        let folded = fold(bits);
        if self.current.older & folded != folded {
            return None;
        }
        self.previous.as_deref()
    }

    fn previous_mut(&mut self, bits: u64) -> Option<&mut Generation<K, V>> {
        let folded = fold(bits);
        if self.current.older & folded != folded {
            return None;
        }
        self.previous.as_deref_mut()
    }

    /// Inserts or replaces `key` in the current generation.
    pub fn insert(&mut self, key: K, value: V, now: Time, bounds: Bounds) {
        self.rotate(now, bounds);
        let at = Stamp::new(now);
        if let Some(e) = &mut self.current.newest {
            // Keys are in one generation at most: not in the previous one.
            if e.key == key {
                e.value = value;
                e.at = at;
                return;
            }
        }
        // An older entry for `key` in the previous generation is left there, not looked
        // for (a probe into a large table per insert): every read looks into the current
        // generation first, where this entry now is and stays until the rotation that
        // drops the previous generation whole, and the older entry is older still, so no
        // read can return it. Only the previous generation's count may include it, and
        // nothing but `len` reads that count.
        let bits = self.bits(&key);
        self.current.insert(key, bits, value, at, self.hash, false);
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
        // The copies of the search in flight: no hash, no heap.
        if let Some(e) = &mut self.current.newest {
            if e.key == key {
                if is_live(e.at) {
                    return Some(on_live(&mut e.value));
                }
                e.value = fresh;
                e.at = Stamp::new(now);
                return None;
            }
        }
        let bits = self.bits(&key);
        if let Some((value, at)) = self.current.spill_get_mut(&key, bits) {
            if is_live(*at) {
                return Some(on_live(value));
            }
            *value = fresh;
            *at = Stamp::new(now);
            return None;
        }
        if let Some(previous) = self.previous_mut(bits) {
            if let Some((value, at)) = previous.get_mut(&key, bits) {
                if is_live(*at) {
                    return Some(on_live(value));
                }
                previous.remove(&key, bits);
            }
        }
        // Not in the current generation: just looked.
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
                self.current.clear_now();
                if let Some(previous) = &mut self.previous {
                    previous.clear_now();
                }
            }
            self.since = now;
            return;
        }
        let half = (bounds.capacity / 2).max(1);
        if self.current.len() >= half || age > bounds.max_age_micros / 2 {
            let older = self.current.summary(self.hash);
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
            self.current.older = older;
            self.since = now;
        }
    }

    /// Heap bytes held (an estimate, for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.current.heap_bytes()
            + self.previous.as_deref().map_or(0, |p| {
                std::mem::size_of::<Generation<K, V>>() + p.heap_bytes()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn map() -> Generations<u32, u32> {
        Generations::new(KeyedHash::new(1))
    }

    #[test]
    fn a_table_that_idled_out_drops_its_values_at_the_next_write() {
        use std::sync::Arc;
        let b = Bounds::new(8, 10);
        let mut m: Generations<u32, Arc<u32>> = Generations::new(KeyedHash::new(1));
        let values: Vec<Arc<u32>> = (0..6).map(Arc::new).collect();
        for (i, v) in values.iter().enumerate() {
            m.insert(i as u32, Arc::clone(v), Time::from_secs(1), b);
        }
        // Long past the age limit: the one write that follows clears both generations.
        m.insert(99, Arc::new(99), Time::from_secs(100), b);
        for v in &values {
            assert_eq!(Arc::strong_count(v), 1, "an expired value is still held");
        }
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

    /// The table's meaning, written plainly: two maps and the time the current one was
    /// started, rotated and searched as `Generations` documents.
    #[derive(Default)]
    struct Model {
        current: HashMap<u32, (u32, u64)>,
        previous: HashMap<u32, (u32, u64)>,
        since: u64,
    }

    impl Model {
        fn rotate(&mut self, now: u64, bounds: Bounds) {
            let age = now.saturating_sub(self.since);
            if age > bounds.max_age_micros {
                self.current.clear();
                self.previous.clear();
                self.since = now;
            } else if self.current.len() >= (bounds.capacity / 2).max(1)
                || age > bounds.max_age_micros / 2
            {
                self.previous = std::mem::take(&mut self.current);
                self.since = now;
            }
        }

        fn get(&self, key: u32, now: u64, live: Bounds) -> Option<u32> {
            let fresh = |&&(_, at): &&(u32, u64)| now.saturating_sub(at) <= live.max_age_micros;
            let found = self.current.get(&key).filter(fresh);
            found
                .or_else(|| self.previous.get(&key).filter(fresh))
                .map(|&(v, _)| v)
        }

        fn insert(&mut self, key: u32, value: u32, now: u64, bounds: Bounds) {
            self.rotate(now, bounds);
            // The previous generation keeps any older entry, shadowed (and counted).
            self.current.insert(key, (value, now));
        }

        /// Upsert whose `on_live` adds `fresh` to the value and returns the sum.
        fn upsert(
            &mut self,
            key: u32,
            fresh: u32,
            now: u64,
            live: Bounds,
            bounds: Bounds,
        ) -> Option<u32> {
            self.rotate(now, bounds);
            let is_live = |at: u64| now.saturating_sub(at) <= live.max_age_micros;
            if let Some((value, at)) = self.current.get_mut(&key) {
                if is_live(*at) {
                    *value = value.wrapping_add(fresh);
                    return Some(*value);
                }
                *value = fresh;
                *at = now;
                return None;
            }
            if let Some((value, at)) = self.previous.get_mut(&key) {
                if is_live(*at) {
                    *value = value.wrapping_add(fresh);
                    return Some(*value);
                }
                self.previous.remove(&key);
            }
            self.current.insert(key, (fresh, now));
            None
        }

        fn len(&self) -> usize {
            self.current.len() + self.previous.len()
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u32),
        Upsert(u32, u32),
        Get(u32),
        /// Microseconds to let pass.
        Wait(u64),
    }

    fn op(keys: u32, max_wait: u64) -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            6 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Upsert(k, v)),
            4 => (0..keys).prop_map(Op::Get),
            2 => (0..max_wait).prop_map(Op::Wait),
        ]
    }

    /// Runs `ops` on the table and the model, comparing every answer and the length.
    fn same_as_model(ops: &[Op], capacity: usize, live_secs: u64, table_secs: u64, key: u64) {
        let (live, bounds) = (
            Bounds::new(capacity, live_secs),
            Bounds::new(capacity, table_secs),
        );
        let mut m: Generations<u32, u32> = Generations::new(KeyedHash::new(key));
        let mut model = Model::default();
        let mut now = 0u64;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(k, v) => {
                    m.insert(k, v, Time(now), bounds);
                    model.insert(k, v, now, bounds);
                }
                Op::Upsert(k, v) => {
                    let got = m.upsert(k, v, Time(now), live, bounds, |x| {
                        *x = x.wrapping_add(v);
                        *x
                    });
                    assert_eq!(
                        got,
                        model.upsert(k, v, now, live, bounds),
                        "step {i}: {op:?}"
                    );
                }
                Op::Get(k) => {
                    for b in [live, bounds] {
                        let got = m.get(&k, Time(now), b).copied();
                        assert_eq!(got, model.get(k, now, b), "step {i}: {op:?}");
                    }
                }
                Op::Wait(dt) => now += dt,
            }
            assert_eq!(m.len(), model.len(), "step {i}: {op:?}");
        }
    }

    proptest::proptest! {
        /// Small tables (the simulator's `--seen-capacity 8` and below): the inline entry,
        /// the short spill array, the inline summary of the previous generation.
        #[test]
        fn a_small_table_answers_exactly_as_two_plain_maps(
            capacity in 1usize..12,
            live_secs in 1u64..4,
            extra_secs in 0u64..3,
            key in proptest::prelude::any::<u64>(),
            ops in proptest::collection::vec(op(14, 1_500_000), 1..300),
        ) {
            same_as_model(&ops, capacity, live_secs, live_secs + extra_secs, key);
        }

        /// Larger tables: spills that become maps, Bloom filters that saturate.
        #[test]
        fn a_large_table_answers_exactly_as_two_plain_maps(
            capacity in 8usize..90,
            live_secs in 1u64..20,
            key in proptest::prelude::any::<u64>(),
            ops in proptest::collection::vec(op(70, 400_000), 1..600),
        ) {
            same_as_model(&ops, capacity, live_secs, live_secs, key);
        }
    }

    #[test]
    fn a_small_spill_moves_into_a_map_without_loss() {
        let b = Bounds::new(1000, 600);
        let t = Time::from_secs(1);
        let mut m = map();
        for k in 0..(FEW as u32 + 3) {
            m.insert(k, k + 100, t, b);
        }
        assert!(matches!(m.current.spill.as_deref(), Some(Spill::Many(_))));
        for k in 0..(FEW as u32 + 3) {
            assert_eq!(m.get(&k, t, b), Some(&(k + 100)));
        }
    }
}
