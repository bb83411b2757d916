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
//! In a simulated flood each peer sees one GUID and many copies of it, so the table
//! keeps that entry inline and everything else (the other entries, the Bloom filters,
//! the previous generation, the hash, the generation's start) behind one pointer
//! allocated when a second key or a rotation comes: a flood peer's table is 40 bytes and
//! no heap. A copy of the newest GUID is answered without hashing or touching the heap;
//! once there is more, a new GUID is told apart from the spill's and the previous
//! generation's keys by small Bloom filters kept next to the spill's pointer, so that
//! the previous generation's box (another cache miss in a table of a million peers) is
//! rarely read. A small table's older entries sit in a short array, not a hash map.
//! More of them go into a hash map; a generation of 1,024 keys or more (a live node's
//! route table, not a simulated peer's) puts them in a log appended in the order they
//! came, found through an index of 4-byte slots (as the result cache's `asked_log`
//! does): in a table of 50,000 entries per generation, a fresh GUID then writes its
//! 32-byte entry at the log's end (sequential writes, which the hardware streams) and
//! one slot at a random place of a 256 KB index, where the map's slot and control byte
//! were two writes to random lines of 2 MB that missed the cache and held up the store
//! buffer. Such a log also keeps a blocked Bloom filter of one to two bytes per key
//! (`KeyFilter`), so that a fresh GUID is told apart with one load in a small table
//! instead of a probe into each generation's index.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU64;

use super::aged_map::Bounds;
use super::fast_hash::KeyedHash;
use super::types::Time;

/// What a two-generation table does before an operation (the rule of LimeWire's route
/// tables, PROTOCOL.md §3.4), shared by [`Generations`] and the result cache's
/// `asked_log`, whose entries must live exactly as long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// Nothing: the current generation is neither full nor old.
    Keep,
    /// The current generation becomes the previous one (the old previous one goes): it
    /// holds half the capacity or is older than half the age limit.
    Rotate,
    /// Both generations are older than the age limit: everything goes.
    Expire,
}

/// The [`Turn`] for a current generation started at `since` and holding `current_len`
/// entries.
#[inline]
pub(super) fn turn(since: Time, now: Time, current_len: usize, bounds: Bounds) -> Turn {
    let age = now.saturating_sub(since).0;
    let half = (bounds.capacity / 2).max(1);
    if age > bounds.max_age_micros {
        Turn::Expire
    } else if age > bounds.max_age_micros / 2 || current_len >= half {
        Turn::Rotate
    } else {
        Turn::Keep
    }
}

/// On [`Turn::Expire`], a table whose generations can hold more entries than this frees
/// them (a node idle since a burst gives the burst's memory back); a smaller one keeps
/// its allocations.
pub(super) const KEEP_ALLOCATION_UP_TO: usize = 64;

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
    /// More, up to [`FILTER_MIN_KEYS`]: a hash map (cleared, not shrunk, on rotation), as
    /// in a simulated peer that remembers tens or hundreds of searches.
    Map(HashMap<K, Slot<V>, KeyedHash>),
    /// More still (a live node's table): an indexed log and its filter from then on
    /// (cleared, not shrunk, on rotation).
    Many(Indexed<K, V>),
}

/// A map's value.
#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    value: V,
    at: Stamp,
}

/// A spill that reached [`FILTER_MIN_KEYS`] entries: the entries in a log, appended in
/// the order they were spilled (sequential writes, which the hardware streams), found
/// through an open-addressing index of 4-byte slots, behind a [`KeyFilter`].
///
/// Why not a hash map of the entries: in a live node's table (50,000 entries per
/// generation) every fresh GUID put a 32-byte entry and a control byte at two random
/// places of a map of megabytes, two cache-missing writes the store buffer waited for.
/// Here the entry goes at the log's end and only a 4-byte slot goes at a random place,
/// in an index an eighth of the map's size that stays in the core's L2 cache more
/// often. Sized between half and four fifths full (as a hash map is up to seven
/// eighths), a log and its index take about the memory the map did. Smaller spills keep
/// the map: a simulated peer's table of a few hundred entries is probed faster through
/// a map's control bytes, and the cache misses this saves are a large table's.
#[derive(Clone, Debug)]
struct Indexed<K, V> {
    /// The entries, each key once. A removed entry's place is taken by the last one.
    log: Vec<Entry<K, V>>,
    /// A power of two of slots (empty only before the first push), each 0 (free),
    /// [`GONE`]'s value (a removed entry's: probes pass over it), or the entry's position
    /// plus one in the low bits and the rest of the key's hash above ([`slot_tag`]).
    /// Free slots stay more than a fifth of them, so a probe always ends.
    slots: Vec<u32>,
    /// Slots holding a removed entry's mark, counted as used until the index is rebuilt.
    gone: usize,
    /// Spares the index's probes for most keys it does not hold, in a large log.
    filter: KeyFilter,
    /// The table's hash.
    hash: KeyedHash,
    /// The hash of the generation's newest key, the next one pushed here (it was hashed
    /// when it came), or [`UNHASHED`] when not known. Set at each push, forgotten when
    /// the log is emptied (which a generation's first push after a rotation does).
    next_hash: u64,
}

/// A slot's bits above `mask` (the position bits), from the hash's upper half (its lower
/// half picks the slot).
#[inline]
fn slot_tag(hash: u64, mask: u32) -> u32 {
    ((hash >> 32) as u32) & !mask
}

/// The mark of a removed entry's slot in an index with position bits `mask`: position
/// bits 0 (no entry), tag bits set (not free).
#[inline]
fn gone(mask: u32) -> u32 {
    !mask
}

/// Puts position `pos` of a key with hash `hash` into the first free slot of its probe
/// sequence in `slots` (a power of two of them, with free ones, none for this key).
#[inline]
fn place(slots: &mut [u32], hash: u64, pos: usize) {
    let mask = (slots.len() as u32).wrapping_sub(1);
    let mut i = hash as usize & mask as usize;
    while slots.get(i).is_some_and(|&s| s != 0) {
        i = (i + 1) & mask as usize;
    }
    if let Some(s) = slots.get_mut(i) {
        // Positions fit: the log is shorter than the slot count.
        *s = slot_tag(hash, mask) | (pos as u32 + 1);
    }
}

/// What looking a key up in an [`Indexed`] log found.
enum Found {
    /// At this position of the log, through this slot.
    At(usize, usize),
    /// Not there.
    Absent,
}

impl<K: Hash + Eq, V> Indexed<K, V> {
    /// A log of a map's entries (which it empties), indexed and filtered.
    fn from_map(map: &mut HashMap<K, Slot<V>, KeyedHash>) -> Self {
        let hash = *map.hasher();
        let log = map.drain().map(|(key, s)| Entry {
            key,
            value: s.value,
            at: s.at,
        });
        let mut indexed = Indexed {
            log: log.collect(),
            slots: Vec::new(),
            gone: 0,
            filter: KeyFilter::default(),
            hash,
            next_hash: UNHASHED,
        };
        indexed.rebuild();
        indexed.refill();
        indexed
    }

    /// The key's hash (`hash`, unless it is [`UNHASHED`]).
    #[inline]
    fn hash_of(&self, key: &K, hash: u64) -> u64 {
        if hash == UNHASHED {
            self.hash.hash_one(key)
        } else {
            hash
        }
    }

    /// The bits of a slot that hold a position.
    #[inline]
    fn mask(&self) -> u32 {
        // The slot count is a power of two far below 2^32 (see `rebuild`).
        (self.slots.len() as u32).wrapping_sub(1)
    }

    #[inline]
    fn find(&self, key: &K, hash: u64) -> Found {
        let hash = self.hash_of(key, hash);
        let mask = self.mask();
        let tag = slot_tag(hash, mask);
        let mut i = hash as usize & mask as usize;
        loop {
            let slot = self.slots.get(i).copied().unwrap_or(0);
            if slot == 0 {
                return Found::Absent;
            }
            if slot & !mask == tag && slot & mask != 0 {
                let pos = (slot & mask) as usize - 1;
                if self.log.get(pos).is_some_and(|e| e.key == *key) {
                    return Found::At(pos, i);
                }
            }
            i = (i + 1) & mask as usize;
        }
    }

    /// The entry for `key` (`hash`: its hash, or [`UNHASHED`]).
    #[inline]
    fn get(&self, key: &K, hash: u64) -> Option<&Entry<K, V>> {
        if !self.filter.may_hold(hash) {
            return None;
        }
        match self.find(key, hash) {
            Found::At(pos, _) => self.log.get(pos),
            Found::Absent => None,
        }
    }

    #[inline]
    fn get_mut(&mut self, key: &K, hash: u64) -> Option<&mut Entry<K, V>> {
        if !self.filter.may_hold(hash) {
            return None;
        }
        match self.find(key, hash) {
            Found::At(pos, _) => self.log.get_mut(pos),
            Found::Absent => None,
        }
    }

    /// Adds an entry whose key it does not hold (the generation's newest until now);
    /// `next_hash` is the hash of the generation's new newest key, or [`UNHASHED`].
    fn push(&mut self, entry: Entry<K, V>, next_hash: u64) {
        debug_assert!(matches!(self.find(&entry.key, UNHASHED), Found::Absent));
        debug_assert!(
            self.next_hash == UNHASHED || self.next_hash == self.hash.hash_one(&entry.key),
            "the hash of the newest key is its own"
        );
        let known = std::mem::replace(&mut self.next_hash, next_hash);
        let hash = self.hash_of(&entry.key, known);
        let pos = self.log.len();
        self.log.push(entry);
        if self.log.len() + self.gone > self.slots.len() / 5 * 4 {
            self.rebuild();
        } else {
            place(&mut self.slots, hash, pos);
        }
        self.note(hash);
    }

    /// Notes a key just added in the filter, refilled (doubled) when the log outgrows it.
    fn note(&mut self, hash: u64) {
        if self.log.len() > self.filter.words.len() * KEYS_PER_FILTER_WORD {
            self.refill();
        } else {
            self.filter.set(hash);
        }
    }

    /// Sizes the filter for the log (at least [`FILTER_MIN_KEYS`] keys' worth) and fills
    /// it from the log's keys.
    fn refill(&mut self) {
        let keys = self.log.len().max(FILTER_MIN_KEYS);
        let words = keys.div_ceil(KEYS_PER_FILTER_WORD).next_power_of_two();
        self.filter.words = vec![0; words];
        for e in &self.log {
            self.filter.set(self.hash.hash_one(&e.key));
        }
    }

    /// (Re)builds the index for the log as it is, with room to grow (at most half full).
    fn rebuild(&mut self) {
        let want = (self.log.len() * 2).next_power_of_two().max(32);
        self.slots.clear();
        self.slots.resize(want, 0);
        self.gone = 0;
        for (pos, e) in self.log.iter().enumerate() {
            place(&mut self.slots, self.hash.hash_one(&e.key), pos);
        }
    }

    /// Removes `key`'s entry, if any; the last entry takes its place in the log.
    fn remove(&mut self, key: &K, hash: u64) {
        if !self.filter.may_hold(hash) {
            return;
        }
        let Found::At(pos, slot) = self.find(key, hash) else {
            return;
        };
        self.log.swap_remove(pos);
        let mask = self.mask();
        if let Some(s) = self.slots.get_mut(slot) {
            *s = gone(mask);
        }
        self.gone += 1;
        // The entry that moved into `pos` (if any): its slot now points there.
        let moved = self.log.len();
        let Some(e) = self.log.get(pos).filter(|_| pos != moved) else {
            return;
        };
        let h = self.hash.hash_one(&e.key);
        let mut i = h as usize & mask as usize;
        loop {
            match self.slots.get_mut(i) {
                Some(s) if *s & mask == moved as u32 + 1 => {
                    *s = (*s & !mask) | (pos as u32 + 1);
                    return;
                }
                Some(0) | None => return,
                Some(_) => i = (i + 1) & mask as usize,
            }
        }
    }

    /// Empties the log, keeping its allocations.
    fn clear(&mut self) {
        self.log.clear();
        self.slots.fill(0);
        self.gone = 0;
        self.filter.clear();
        self.next_hash = UNHASHED;
    }

    fn heap_bytes(&self) -> usize {
        self.log.capacity() * std::mem::size_of::<Entry<K, V>>()
            + self.slots.capacity() * std::mem::size_of::<u32>()
            + self.filter.heap_bytes()
    }
}

/// From this many keys a spill's map becomes an [`Indexed`] log with a [`KeyFilter`]: a
/// live node's table, whose every fresh GUID would otherwise write to two random places
/// of a map of megabytes and probe two maps of tens of thousands of entries (the current
/// generation's and the previous one's) that are not in the core's cache. Smaller maps,
/// such as a simulated peer's, are probed directly and pay nothing.
const FILTER_MIN_KEYS: usize = 1024;

/// Keys per 64-bit filter word before the filter doubles: 8 to 16 bits per key, so a
/// key it does not hold passes about one time in 30.
const KEYS_PER_FILTER_WORD: usize = 8;

/// A blocked Bloom filter of a large log's keys: two bits (`bloom_bits`) in one word
/// chosen by the hash's high half. One load in a table of one to two bytes per key, which
/// stays in the core's cache where the index does not. Keys are never taken
/// out (a removed key's bits only cost a probe); sized for at least [`FILTER_MIN_KEYS`]
/// keys, and kept up to date through every clear.
#[derive(Clone, Debug, Default)]
struct KeyFilter {
    /// A power of two of them, or none.
    words: Vec<u64>,
}

impl KeyFilter {
    /// Whether a key with hash `hash` may be in the log ([`UNHASHED`]: it may).
    #[inline]
    fn may_hold(&self, hash: u64) -> bool {
        if hash == UNHASHED {
            return true;
        }
        let bits = bloom_bits(hash);
        self.words
            .get(self.word_of(hash))
            .map_or(true, |w| w & bits == bits)
    }

    fn word_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.words.len().wrapping_sub(1)
    }

    fn set(&mut self, hash: u64) {
        let i = self.word_of(hash);
        if let Some(w) = self.words.get_mut(i) {
            *w |= bloom_bits(hash);
        }
    }

    fn clear(&mut self) {
        self.words.fill(0);
    }

    fn heap_bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// A generation's filters and its entries other than the newest (the newest is kept
/// apart: inline in the table for the current generation).
///
/// `repr(C)`: the counts first, next to `More::since` (what every operation reads).
#[derive(Clone, Debug)]
#[repr(C)]
struct Tail<K, V> {
    /// How many entries `spill` holds, kept here so that counting entries reads no heap.
    /// When 0 the spill's contents are leftovers of a cleared generation, emptied only
    /// when the spill is next written: a rotation then touches no spill.
    spill_len: u32,
    /// In the current generation only: a 32-bit Bloom filter ([`fold`]) of every key of
    /// the previous one, so that a new key need not look into the boxed previous
    /// generation (0: it is empty; all ones: too many keys to tell). It fills what would
    /// otherwise be padding.
    older: u32,
    /// Two bits per key ever put in `spill` since the last clear (removals leave theirs:
    /// a stale bit only costs a lookup).
    bloom: u64,
    /// Boxed so a generation of one entry costs one word for it.
    spill: Option<Box<Spill<K, V>>>,
}

/// A whole generation (the previous one): its newest entry and the rest.
#[derive(Clone, Debug)]
struct Generation<K, V> {
    newest: Option<Entry<K, V>>,
    tail: Tail<K, V>,
}

/// Past this many keys in a spill its Bloom filter is nearly all ones: it is then set to
/// all ones and no longer computed (a large table, as in a live node, pays no extra hash).
const BLOOM_MAX_KEYS: u32 = 16;

/// A key's hash as the filters take it, or this when it was not computed (no filter
/// could use it): then every filter answers "maybe". A real hash of this value is
/// treated the same, which only costs a probe.
const UNHASHED: u64 = u64::MAX;

/// The Bloom bits of a key's hash (all ones when [`UNHASHED`]).
fn mask(hash: u64) -> u64 {
    if hash == UNHASHED {
        u64::MAX
    } else {
        bloom_bits(hash)
    }
}

fn bloom_bits(hash: u64) -> u64 {
    (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63))
}

/// A 64-bit Bloom filter (or a key's bits) folded to 32 bits: the same filter with each
/// bit position taken modulo 32.
fn fold(bits: u64) -> u32 {
    (bits as u32) | ((bits >> 32) as u32)
}

fn is_key<K: Eq, V>(newest: &Option<Entry<K, V>>, key: &K) -> bool {
    matches!(newest, Some(e) if e.key == *key)
}

impl<K: Hash + Eq, V> Tail<K, V> {
    fn new() -> Self {
        Tail {
            bloom: 0,
            spill_len: 0,
            older: 0,
            spill: None,
        }
    }

    /// Whether the spill may hold a key with this hash, by the filter kept inline
    /// ([`UNHASHED`]: it may).
    fn maybe_in_spill(&self, hash: u64) -> bool {
        let bits = mask(hash);
        self.spill_len > 0 && self.bloom & bits == bits
    }

    /// Whether this generation's Bloom filter is worth a key's hash.
    fn bloom_useful(&self) -> bool {
        self.spill_len > 0 && self.bloom != u64::MAX
    }

    fn spill_get(&self, key: &K, hash: u64) -> Option<(&V, Stamp)> {
        if !self.maybe_in_spill(hash) {
            return None;
        }
        match self.spill.as_deref()? {
            Spill::Few(entries) => entries[..self.spill_len as usize]
                .iter()
                .flatten()
                .find(|e| e.key == *key)
                .map(|e| (&e.value, e.at)),
            Spill::Map(map) => map.get(key).map(|s| (&s.value, s.at)),
            Spill::Many(log) => log.get(key, hash).map(|e| (&e.value, e.at)),
        }
    }

    fn spill_get_mut(&mut self, key: &K, hash: u64) -> Option<(&mut V, &mut Stamp)> {
        if !self.maybe_in_spill(hash) {
            return None;
        }
        match self.spill.as_deref_mut()? {
            Spill::Few(entries) => entries[..self.spill_len as usize]
                .iter_mut()
                .flatten()
                .find(|e| e.key == *key)
                .map(|e| (&mut e.value, &mut e.at)),
            Spill::Map(map) => map.get_mut(key).map(|s| (&mut s.value, &mut s.at)),
            Spill::Many(log) => log.get_mut(key, hash).map(|e| (&mut e.value, &mut e.at)),
        }
    }

    /// Stores `key` as the generation's `newest` entry, moving the former newest into the
    /// spill (replacing any older value for `key`; `absent`: the caller just looked it up
    /// and it is not here, so the spill need not be probed).
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        newest: &mut Option<Entry<K, V>>,
        key: K,
        key_hash: u64,
        value: V,
        at: Stamp,
        hash: KeyedHash,
        absent: bool,
    ) {
        match newest.take() {
            Some(old) if old.key == key => {}
            Some(old) => {
                if !absent {
                    self.remove_from_spill(&key, key_hash);
                }
                self.bloom |= if self.spill_len < BLOOM_MAX_KEYS {
                    bloom_bits(hash.hash_one(&old.key))
                } else {
                    u64::MAX
                };
                self.push_to_spill(old, hash, key_hash);
            }
            None if absent => {}
            None => self.remove_from_spill(&key, key_hash),
        }
        *newest = Some(Entry { key, value, at });
    }

    /// Puts a former newest entry into the spill, replacing any entry with its key (there
    /// is none: the newest key is never also in the spill, so a log just appends it).
    ///
    /// `next_hash`: the hash of the generation's new newest key (or [`UNHASHED`]), kept
    /// by a large spill for when that entry comes in turn.
    fn push_to_spill(&mut self, entry: Entry<K, V>, hash: KeyedHash, next_hash: u64) {
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
                    **spill = Spill::Map(map);
                }
            }
            Spill::Map(map) => {
                if len == 0 {
                    map.clear();
                }
                let slot = Slot {
                    value: entry.value,
                    at: entry.at,
                };
                map.insert(entry.key, slot);
                self.spill_len = map.len() as u32;
                if map.len() >= FILTER_MIN_KEYS {
                    let mut log = Indexed::from_map(map);
                    log.next_hash = next_hash;
                    **spill = Spill::Many(log);
                }
            }
            Spill::Many(log) => {
                if len == 0 {
                    log.clear();
                }
                log.push(entry, next_hash);
                self.spill_len = log.log.len() as u32;
            }
        }
    }

    fn remove_from_spill(&mut self, key: &K, key_hash: u64) {
        if !self.maybe_in_spill(key_hash) {
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
            Some(Spill::Map(map)) => {
                map.remove(key);
                self.spill_len = map.len() as u32;
            }
            Some(Spill::Many(log)) => {
                log.remove(key, key_hash);
                self.spill_len = log.log.len() as u32;
            }
            None => {}
        }
    }

    /// Empties the spill and forgets `older`. The spill is kept for reuse and not read:
    /// its leftovers go when it is next written (or freed).
    fn clear(&mut self) {
        self.bloom = 0;
        self.older = 0;
        self.spill_len = 0;
    }

    /// The 32-bit Bloom filter of every key of a generation (see `older`).
    fn summary(&self, newest: &Option<Entry<K, V>>, hash: KeyedHash) -> u32 {
        let mut bloom = if self.spill_len > 0 { self.bloom } else { 0 };
        if let Some(e) = newest {
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
            Some(Spill::Map(map)) => map.capacity(),
            Some(Spill::Many(log)) => log.log.capacity(),
        }
    }

    /// Heap bytes of the spill.
    fn heap_bytes(&self) -> usize {
        match self.spill.as_deref() {
            None => 0,
            Some(Spill::Few(_)) => std::mem::size_of::<Spill<K, V>>(),
            Some(Spill::Map(map)) => {
                std::mem::size_of::<Spill<K, V>>()
                    + map.capacity() * (std::mem::size_of::<(K, Slot<V>)>() + 1)
            }
            Some(Spill::Many(log)) => std::mem::size_of::<Spill<K, V>>() + log.heap_bytes(),
        }
    }

    /// Drops everything, heap included.
    fn free(&mut self) {
        self.clear();
        self.spill = None;
    }

    /// Empties the spill and drops its leftovers now, keeping a log's allocations: for a
    /// table that idled out, whose next write may be far away (values such as a result
    /// cache's long keys would otherwise stay alive until then).
    fn clear_now(&mut self) {
        self.clear();
        match self.spill.as_deref_mut() {
            Some(Spill::Few(entries)) => *entries = std::array::from_fn(|_| None),
            Some(Spill::Map(map)) => map.clear(),
            Some(Spill::Many(log)) => log.clear(),
            None => {}
        }
    }
}

impl<K: Hash + Eq, V> Generation<K, V> {
    fn len(&self) -> usize {
        self.tail.spill_len as usize + usize::from(self.newest.is_some())
    }

    fn get(&self, key: &K, key_hash: u64) -> Option<(&V, Stamp)> {
        if let Some(e) = &self.newest {
            if e.key == *key {
                return Some((&e.value, e.at));
            }
        }
        self.tail.spill_get(key, key_hash)
    }

    fn get_mut(&mut self, key: &K, key_hash: u64) -> Option<(&mut V, &mut Stamp)> {
        if is_key(&self.newest, key) {
            return self.newest.as_mut().map(|e| (&mut e.value, &mut e.at));
        }
        self.tail.spill_get_mut(key, key_hash)
    }

    fn remove(&mut self, key: &K, key_hash: u64) {
        if is_key(&self.newest, key) {
            self.newest = None;
        } else {
            self.tail.remove_from_spill(key, key_hash);
        }
    }

    fn clear_now(&mut self) {
        self.newest = None;
        self.tail.clear_now();
    }
}

/// What a table holds besides the current generation's newest entry, allocated the first
/// time it has anything to hold: a second key, a rotation, or a generation start other
/// than time zero. `repr(C)`: what every operation reads (the generation's start and
/// counts) in its first 16 bytes, which a driver may prefetch ([`Generations::prefetch_hint`]).
#[derive(Clone, Debug)]
#[repr(C)]
struct More<K, V> {
    /// When the current generation was started.
    since: Time,
    /// The current generation's other entries and filters.
    tail: Tail<K, V>,
    /// The hash of the spill's logs and Bloom filters, given when this was allocated.
    hash: KeyedHash,
    /// Boxed, and allocated at the first rotation that has something to keep. Looked
    /// into only when `tail.older` says it may hold the key.
    previous: Option<Box<Generation<K, V>>>,
}

impl<K: Hash + Eq, V> More<K, V> {
    fn new(hash: KeyedHash) -> Box<Self> {
        Box::new(More {
            tail: Tail::new(),
            previous: None,
            hash,
            since: Time::ZERO,
        })
    }

    /// The key's hash for the filters, or [`UNHASHED`] when none could use it: neither
    /// the current generation's inline filter nor `older`, and the current spill is too
    /// small for a [`KeyFilter`]. (Whether the previous generation has one is not asked:
    /// that would read its box. Right after a rotation its index is probed directly, until
    /// the current spill reaches [`FILTER_MIN_KEYS`].)
    fn key_hash(&self, key: &K) -> u64 {
        let older = self.tail.older;
        if self.tail.bloom_useful()
            || (older != 0 && older != u32::MAX)
            || self.tail.spill_len as usize >= FILTER_MIN_KEYS
        {
            self.hash.hash_one(key)
        } else {
            UNHASHED
        }
    }

    /// The previous generation, if it may hold a key with this hash.
    fn previous(&self, key_hash: u64) -> Option<&Generation<K, V>> {
        let folded = fold(mask(key_hash));
        if self.tail.older & folded != folded {
            return None;
        }
        self.previous.as_deref()
    }

    fn previous_mut(&mut self, key_hash: u64) -> Option<&mut Generation<K, V>> {
        let folded = fold(mask(key_hash));
        if self.tail.older & folded != folded {
            return None;
        }
        self.previous.as_deref_mut()
    }
}

/// Two-generation bounded map with per-entry ages: the current generation's newest entry
/// inline, everything else behind one pointer ([`More`]).
///
/// In a simulated flood almost every peer sees one GUID: its table is that one entry and
/// a null pointer (40 bytes), with no heap. When searches follow one another, the GUID in
/// flight is the newest entry, so its many duplicates are found inline too; a 64-bit
/// Bloom filter of the spill's keys lets a lookup of a new GUID skip the spill (and its
/// cache misses) nearly always. Once a generation has held two entries it keeps its spill
/// (cleared, not freed, on rotation) until the whole table idles out.
///
/// The table's keyed hash is not stored until `More` is: the methods that may allocate
/// it take a function giving the hash (the node derives it from its identity), so a
/// one-entry table never pays for it.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Generations<K, V> {
    newest: Option<Entry<K, V>>,
    more: Option<Box<More<K, V>>>,
}

impl<K: Hash + Eq, V> Default for Generations<K, V> {
    fn default() -> Self {
        Generations::new()
    }
}

impl<K: Hash + Eq, V> Generations<K, V> {
    pub fn new() -> Generations<K, V> {
        Generations {
            newest: None,
            more: None,
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.newest.is_some())
            + self.more.as_deref().map_or(0, |m| {
                m.tail.spill_len as usize + m.previous.as_ref().map_or(0, |p| p.len())
            })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live value for `key`, if any.
    pub fn get(&self, key: &K, now: Time, live: Bounds) -> Option<&V> {
        let fresh = |&(_, at): &(&V, Stamp)| now.saturating_sub(at.time()).0 <= live.max_age_micros;
        if let Some(e) = &self.newest {
            if e.key == *key && fresh(&(&e.value, e.at)) {
                return Some(&e.value);
            }
        }
        let more = self.more.as_deref()?;
        let key_hash = more.key_hash(key);
        more.tail
            .spill_get(key, key_hash)
            .filter(fresh)
            .or_else(|| more.previous(key_hash)?.get(key, key_hash).filter(fresh))
            .map(|(value, _)| value)
    }

    /// Inserts or replaces `key` in the current generation (`hash`: the table's hash,
    /// asked for only if the table allocates what holds it).
    pub fn insert(
        &mut self,
        hash: impl Fn() -> KeyedHash + Copy,
        key: K,
        value: V,
        now: Time,
        bounds: Bounds,
    ) {
        self.rotate(hash, now, bounds);
        let at = Stamp::new(now);
        if let Some(e) = &mut self.newest {
            // The newest entry is the current generation's; an older entry of the key
            // in the previous generation, if any, stays shadowed (see below).
            if e.key == key {
                e.value = value;
                e.at = at;
                return;
            }
        }
        // With nothing besides, a key that is not the newest is nowhere.
        if self.more.is_none() && self.newest.is_none() {
            self.newest = Some(Entry { key, value, at });
            return;
        }
        // An older entry for `key` in the previous generation is left there, not looked
        // for (a probe into a large table per insert): every read looks into the current
        // generation first, where this entry now is and stays until the rotation that
        // drops the previous generation whole, and the older entry is older still, so no
        // read can return it. Only the previous generation's count may include it, and
        // nothing but `len` reads that count.
        let more = self.more.get_or_insert_with(|| More::new(hash()));
        let key_hash = more.key_hash(&key);
        more.tail
            .insert(&mut self.newest, key, key_hash, value, at, more.hash, false);
    }

    /// If `key` is live, lets `on_live` update it and returns its answer; otherwise stores
    /// `fresh` and returns `None` (`hash` as for [`Generations::insert`]).
    #[allow(clippy::too_many_arguments)]
    pub fn upsert<R>(
        &mut self,
        hash: impl Fn() -> KeyedHash + Copy,
        key: K,
        fresh: V,
        now: Time,
        live: Bounds,
        bounds: Bounds,
        on_live: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        self.rotate(hash, now, bounds);
        let is_live = |at: Stamp| now.saturating_sub(at.time()).0 <= live.max_age_micros;
        // The copies of the search in flight: no hash, no heap.
        if let Some(e) = &mut self.newest {
            if e.key == key {
                if is_live(e.at) {
                    return Some(on_live(&mut e.value));
                }
                e.value = fresh;
                e.at = Stamp::new(now);
                return None;
            }
        }
        if self.more.is_none() && self.newest.is_none() {
            self.newest = Some(Entry {
                key,
                value: fresh,
                at: Stamp::new(now),
            });
            return None;
        }
        let more = self.more.get_or_insert_with(|| More::new(hash()));
        let key_hash = more.key_hash(&key);
        if let Some((value, at)) = more.tail.spill_get_mut(&key, key_hash) {
            if is_live(*at) {
                return Some(on_live(value));
            }
            *value = fresh;
            *at = Stamp::new(now);
            return None;
        }
        if let Some(previous) = more.previous_mut(key_hash) {
            if let Some((value, at)) = previous.get_mut(&key, key_hash) {
                if is_live(*at) {
                    return Some(on_live(value));
                }
                previous.remove(&key, key_hash);
            }
        }
        // Not in the current generation: just looked.
        let at = Stamp::new(now);
        more.tail
            .insert(&mut self.newest, key, key_hash, fresh, at, more.hash, true);
        None
    }

    /// Where the heap part lives (null without one): a hint for a driver of many tables
    /// that prefetches the next one's memory (never dereferenced through this pointer).
    pub fn prefetch_hint(&self) -> *const u8 {
        self.more
            .as_deref()
            .map_or(std::ptr::null(), |m| m as *const More<K, V> as *const u8)
    }

    /// Starts a new generation when the current one is full or old (the check, inline:
    /// every operation makes it, and it rarely acts).
    #[inline]
    fn rotate(&mut self, hash: impl Fn() -> KeyedHash, now: Time, bounds: Bounds) {
        let (since, spill_len) = self
            .more
            .as_deref()
            .map_or((Time::ZERO, 0), |m| (m.since, m.tail.spill_len as usize));
        let current_len = usize::from(self.newest.is_some()) + spill_len;
        match turn(since, now, current_len, bounds) {
            Turn::Keep => {}
            act => self.rotate_now(hash, now, act, current_len),
        }
    }

    /// Starts a new generation; frees both when everything has expired (a node idle since
    /// a burst gives the burst's memory back). The generation's start time lives in the
    /// heap part, so a table first written after half the age limit (a node built
    /// minutes into a run: a late flood, a rejoin after churn) allocates that part for
    /// it: keeping the start inline would cost every node 8 bytes, and not keeping it
    /// would rotate that first entry out early.
    #[inline(never)]
    fn rotate_now(
        &mut self,
        hash: impl Fn() -> KeyedHash,
        now: Time,
        act: Turn,
        current_len: usize,
    ) {
        if act == Turn::Expire {
            self.newest = None;
            let more = self.more.get_or_insert_with(|| More::new(hash()));
            let previous_capacity = more.previous.as_ref().map_or(0, |p| p.tail.capacity());
            if more.tail.capacity() > KEEP_ALLOCATION_UP_TO
                || previous_capacity > KEEP_ALLOCATION_UP_TO
            {
                more.tail.free();
                more.previous = None;
            } else {
                more.tail.clear_now();
                if let Some(previous) = &mut more.previous {
                    previous.clear_now();
                }
            }
            more.since = now;
            return;
        }
        if act == Turn::Rotate {
            let more = self.more.get_or_insert_with(|| More::new(hash()));
            let older = more.tail.summary(&self.newest, more.hash);
            match &mut more.previous {
                Some(previous) => {
                    std::mem::swap(&mut self.newest, &mut previous.newest);
                    std::mem::swap(&mut more.tail, &mut previous.tail);
                    self.newest = None;
                    more.tail.clear();
                }
                // Nothing to keep: an empty previous generation is no generation.
                None if current_len == 0 => {}
                None => {
                    let kept = Generation {
                        newest: self.newest.take(),
                        tail: std::mem::replace(&mut more.tail, Tail::new()),
                    };
                    more.previous = Some(Box::new(kept));
                }
            }
            more.tail.older = older;
            more.since = now;
        }
    }

    /// Heap bytes held (an estimate, for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.more.as_deref().map_or(0, |m| {
            std::mem::size_of::<More<K, V>>()
                + m.tail.heap_bytes()
                + m.previous.as_deref().map_or(0, |p| {
                    std::mem::size_of::<Generation<K, V>>() + p.tail.heap_bytes()
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The hash the tests' tables use.
    const H: fn() -> KeyedHash = || KeyedHash::new(1);

    fn map() -> Generations<u32, u32> {
        Generations::new()
    }

    /// A 64-bit linear congruential sequence from `seed` (the tests' cheap randomness).
    fn lcg(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x
        }
    }

    #[test]
    fn a_table_that_idled_out_drops_its_values_at_the_next_write() {
        use std::sync::Arc;
        let b = Bounds::new(8, 10);
        let mut m: Generations<u32, Arc<u32>> = Generations::new();
        let values: Vec<Arc<u32>> = (0..6).map(Arc::new).collect();
        for (i, v) in values.iter().enumerate() {
            m.insert(H, i as u32, Arc::clone(v), Time::from_secs(1), b);
        }
        // Long past the age limit: the one write that follows clears both generations.
        m.insert(H, 99, Arc::new(99), Time::from_secs(100), b);
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
        m.insert(H, 1, 10, Time::from_secs(1), b);
        m.insert(H, 1, 11, Time::from_secs(1), b);
        assert_eq!(m.heap_bytes(), 0, "a single key needs no heap");
        assert_eq!(m.get(&1, Time::from_secs(1), b), Some(&11));
        assert_eq!(m.get(&2, Time::from_secs(1), b), None);
        m.insert(H, 2, 20, Time::from_secs(1), b);
        m.insert(H, 3, 30, Time::from_secs(1), b);
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
        let mut next = lcg(7);
        for step in 0..5000u32 {
            let x = next();
            let key = ((x >> 33) % 300) as u32;
            match (x >> 20) % 3 {
                0 => {
                    m.insert(H, key, step, t, b);
                    model.insert(key, step);
                }
                1 => {
                    let got = m.upsert(H, key, step, t, b, b, |v| *v);
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
            m.insert(H, k, k, Time::from_secs(1), b);
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
        assert_eq!(m.upsert(H, 1, 5, Time::from_secs(0), b, b, |v| *v), None);
        assert_eq!(
            m.upsert(H, 1, 6, Time::from_secs(1), b, b, |v| {
                *v += 1;
                *v
            }),
            Some(6)
        );
        assert_eq!(m.get(&1, Time::from_secs(10), b), Some(&6));
        assert_eq!(m.get(&1, Time::from_secs(11), b), None);
        assert_eq!(m.upsert(H, 1, 9, Time::from_secs(11), b, b, |v| *v), None);
        assert_eq!(m.get(&1, Time::from_secs(11), b), Some(&9));
        // Idle past the limit: everything is dropped and the memory freed.
        m.insert(H, 2, 2, Time::from_secs(100), b);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn an_entry_found_in_the_previous_generation_is_still_a_duplicate() {
        let b = Bounds::new(4, 600);
        let mut m = map();
        m.insert(H, 1, 1, Time::from_secs(0), b);
        m.insert(H, 2, 2, Time::from_secs(0), b);
        m.insert(H, 3, 3, Time::from_secs(0), b); // rotation: 1 and 2 now in the previous generation
        assert_eq!(m.upsert(H, 1, 0, Time::from_secs(0), b, b, |v| *v), Some(1));
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
        let mut m: Generations<u32, u32> = Generations::new();
        let hash = move || KeyedHash::new(key);
        let mut model = Model::default();
        let mut now = 0u64;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(k, v) => {
                    m.insert(hash, k, v, Time(now), bounds);
                    model.insert(k, v, now, bounds);
                }
                Op::Upsert(k, v) => {
                    let got = m.upsert(hash, k, v, Time(now), live, bounds, |x| {
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
    fn a_large_table_answers_as_the_model_with_its_key_filters() {
        // Generations of up to 5,000 keys: past `FILTER_MIN_KEYS`, so lookups of absent
        // keys (half the key space is never inserted) are answered by the filters, in
        // both generations, through rotations by count and by age.
        let mut lcg = lcg(11);
        let mut next = move || lcg() >> 33;
        let ops: Vec<Op> = (0..60_000)
            .map(|_| {
                let (pick, key, v) = (next() % 16, (next() % 24_000) as u32, next() as u32);
                let inserted = key % 2 == 0;
                match pick {
                    0..=4 if inserted => Op::Insert(key, v),
                    0..=8 if inserted => Op::Upsert(key, v),
                    15 => Op::Wait(next() % 1_000_000),
                    _ => Op::Get(key),
                }
            })
            .collect();
        same_as_model(&ops, 10_000, 600, 3_000, 5);

        let b = Bounds::new(10_000, 600);
        let mut m = map();
        for k in 0..(FILTER_MIN_KEYS as u32 + 10) {
            m.insert(H, k, k, Time::from_secs(1), b);
        }
        let spill = m.more.as_ref().and_then(|m| m.tail.spill.as_deref());
        assert!(
            matches!(spill, Some(Spill::Many(log)) if !log.filter.words.is_empty()),
            "a large spill has its filter"
        );
    }

    #[test]
    fn an_indexed_log_answers_as_a_map_through_removals_and_rebuilds() {
        // Many removals: their marks fill the index until it is rebuilt, and each one
        // moves the log's last entry into the freed place.
        let mut map: HashMap<u32, Slot<u32>, KeyedHash> = HashMap::with_hasher(KeyedHash::new(3));
        let at = Stamp::new(Time::ZERO);
        for k in 0..FILTER_MIN_KEYS as u32 {
            map.insert(k, Slot { value: k, at });
        }
        let mut model: HashMap<u32, u32> = (0..FILTER_MIN_KEYS as u32).map(|k| (k, k)).collect();
        let mut log = Indexed::from_map(&mut map);
        let mut next = lcg(5);
        for step in 0..40_000u32 {
            let x = next();
            let key = ((x >> 33) % 3000) as u32;
            match (x >> 20) % 3 {
                0 if !model.contains_key(&key) => {
                    let entry = Entry {
                        key,
                        value: step,
                        at,
                    };
                    log.push(entry, UNHASHED);
                    model.insert(key, step);
                }
                1 => {
                    log.remove(&key, UNHASHED);
                    model.remove(&key);
                }
                _ => {
                    let got = log.get(&key, UNHASHED).map(|e| e.value);
                    assert_eq!(got, model.get(&key).copied(), "step {step}");
                }
            }
            assert_eq!(log.log.len(), model.len());
        }
    }

    #[test]
    fn a_large_spill_is_no_bigger_than_a_small_one() {
        // A simulated peer's spill box is as big as the enum: the large variant must not
        // make every small one pay (the route table's key and value types).
        type K = (crate::protocol::Guid, u8);
        type V = [u8; 5];
        assert!(
            std::mem::size_of::<Indexed<K, V>>()
                <= std::mem::size_of::<[Option<Entry<K, V>>; FEW]>()
        );
        assert_eq!(std::mem::size_of::<Spill<K, V>>(), 104);
    }

    #[test]
    fn a_small_spill_moves_into_a_map_without_loss() {
        let b = Bounds::new(1000, 600);
        let t = Time::from_secs(1);
        let mut m = map();
        for k in 0..(FEW as u32 + 3) {
            m.insert(H, k, k + 100, t, b);
        }
        assert!(matches!(
            m.more.as_ref().and_then(|m| m.tail.spill.as_deref()),
            Some(Spill::Map(..))
        ));
        for k in 0..(FEW as u32 + 3) {
            assert_eq!(m.get(&k, t, b), Some(&(k + 100)));
        }
    }
}
