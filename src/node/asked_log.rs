//! Which cache key each recent query GUID asked: the result cache's note of the queries
//! whose hits may still pass, so that a hit can be filed under its query's key.
//!
//! Every fresh query an answering peer sees is noted, and nearly none is ever looked up
//! (only the few that a hit comes back for), so the note must be cheap to write. It has
//! the rules of the route table ([`Generations`](super::generations::Generations)): two
//! generations, the current one turned into the previous one when it holds half the
//! capacity or is older than half the age limit, both dropped when everything has
//! expired, each entry found only while younger than the age limit. The layout is what
//! differs. A route table of 50,000 entries per generation in 48-byte hash-map slots
//! made every note a write to a random line of megabytes (a cache miss that the store
//! buffer then waited for) plus a probe for the GUID in the map before inserting it.
//! Here a generation is a log of entries appended in order (sequential writes, which the
//! hardware streams) and a small open-addressing index of 4-byte slots (a 16-bit tag and
//! the entry's position: 512 KB for 50,000 entries, a sixth of the old table) that finds
//! a GUID with one probe and, as nearly every GUID is new, ends where the new slot goes.
//! Under a router's traffic an index slot's line still misses L2, and a note that probed
//! it at once stalled on that load (perf put a tenth of a router's query time there), so
//! a note only appends to the log: every [`BATCH`] entries are indexed together, their
//! slots' loads overlapping, and a GUID noted again is then folded into its first entry.
//! A lookup (rare: only for a hit coming back) scans the waiting entries before the
//! index, and the rotation counts each GUID once, so what the table answers is unchanged.
//! A rotation empties the log and zeroes the index, keeping both allocations.
//!
//! A short log (up to [`SCAN`] entries, as in most simulated peers) has no index and is
//! searched from end to end; a peer that notes one query holds that one 48-byte entry,
//! and the previous generation is boxed, allocated at the first rotation. Keys that do
//! not fit an entry (over [`SHORT_KEY`] bytes) are held apart, so that entries are plain
//! bytes and emptying a log frees nothing.

use super::aged_map::Bounds;
use super::fast_hash::KeyedHash;
use super::generations::{turn, Turn, KEEP_ALLOCATION_UP_TO};
use super::types::Time;
use crate::protocol::Guid;
use std::hash::{BuildHasher, Hasher};

/// Entries a log holds before it builds its index.
const SCAN: usize = 8;

/// Entries an indexed log appends before it indexes them together.
const BATCH: usize = 32;

/// The longest key held in an entry.
const SHORT_KEY: usize = 22;

/// An entry's key: inline, or the index of a boxed key in the generation's `long`.
#[derive(Clone, Copy, Debug)]
enum KeyRef {
    Short { len: u8, bytes: [u8; SHORT_KEY] },
    Long(u32),
}

/// One noted query: 48 bytes, no heap of its own.
#[derive(Clone, Copy, Debug)]
struct Noted {
    guid: Guid,
    at: Time,
    key: KeyRef,
}

#[derive(Clone, Debug, Default)]
struct Generation {
    /// The entries in the order they were first noted. Those the index holds have each
    /// GUID once (a GUID noted again overwrites its entry when it is indexed); those
    /// waiting may repeat one.
    log: Vec<Noted>,
    /// Keys longer than [`SHORT_KEY`].
    long: Vec<Box<[u8]>>,
    /// Empty while the log is short; else the index: a power of two of slots, each 0
    /// (free) or the entry's position plus one in the low bits and the rest of the GUID's
    /// hash above ([`Generation::tag`]), at most 4/5 full so that a probe always ends;
    /// then one more holding how many of the log's first entries the index holds (the
    /// rest, fewer than [`BATCH`], wait to be indexed together). Not a field of its own,
    /// so that a peer with a result cache pays no byte more for it.
    slots: Vec<u32>,
}

/// A slot's bits above `mask` (the position bits), taken from the hash's upper half (the
/// lower half picks the slot).
fn tag(hash: u64, mask: u32) -> u32 {
    ((hash >> 32) as u32) & !mask
}

/// A GUID's hash for the index: its two halves mixed as two words (what `Hash` for an
/// array would add, its length, is the same for every GUID).
#[inline]
fn guid_hash(hash: KeyedHash, guid: &Guid) -> u64 {
    let mut hasher = hash.build_hasher();
    let (lo, hi) = guid.0.split_at(8);
    let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
    hasher.write_u64(word(lo));
    hasher.write_u64(word(hi));
    hasher.finish()
}

/// What looking a GUID up in the index found.
enum Probe {
    /// The entry's position in the log.
    At(usize),
    /// Not there; the free slot where it would go.
    Free(usize),
}

impl Generation {
    /// The index's slot count (a power of two below 2^32, see `build_index`), or 0.
    fn table_len(&self) -> usize {
        self.slots.len().saturating_sub(1)
    }

    /// How many of the log's first entries the index holds (see `slots`).
    fn indexed(&self) -> usize {
        self.slots.last().map_or(0, |&n| n as usize)
    }

    fn set_indexed(&mut self, n: usize) {
        if let Some(last) = self.slots.last_mut() {
            // The log is shorter than the index (see `build_index`).
            *last = n as u32;
        }
    }

    /// The bits of a slot that hold a position.
    fn low_mask(&self) -> u32 {
        (self.table_len() as u32).wrapping_sub(1)
    }

    /// [`tag`] for this generation's index.
    fn tag(&self, hash: u64) -> u32 {
        tag(hash, self.low_mask())
    }

    /// Looks `guid` (hash `hash`) up in the index, which must not be empty.
    fn probe(&self, guid: &Guid, hash: u64) -> Probe {
        let mask = self.low_mask();
        let tag = self.tag(hash);
        let mut i = hash as usize & mask as usize;
        loop {
            let slot = self.slots.get(i).copied().unwrap_or(0);
            if slot == 0 {
                return Probe::Free(i);
            }
            if slot & !mask == tag {
                let pos = (slot & mask) as usize - 1;
                if self.log.get(pos).is_some_and(|n| n.guid == *guid) {
                    return Probe::At(pos);
                }
            }
            i = (i + 1) & mask as usize;
        }
    }

    /// The latest note of `guid` (hash `hash`).
    fn get(&self, guid: &Guid, hash: u64) -> Option<&Noted> {
        if self.slots.is_empty() {
            return self.log.iter().find(|n| n.guid == *guid);
        }
        // The waiting entries first, newest first: they are the latest notes.
        let waiting = self.log.get(self.indexed()..).unwrap_or_default();
        if let Some(noted) = waiting.iter().rev().find(|n| n.guid == *guid) {
            return Some(noted);
        }
        match self.probe(guid, hash) {
            Probe::At(pos) => self.log.get(pos),
            Probe::Free(_) => None,
        }
    }

    fn key<'a>(&'a self, noted: &'a Noted) -> &'a [u8] {
        match &noted.key {
            KeyRef::Short { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            KeyRef::Long(i) => self.long.get(*i as usize).map_or(&[], |k| k),
        }
    }

    /// Notes `guid` asking `key` at `now`, replacing any entry it has here. An indexed
    /// log only appends it (a sequential write); every [`BATCH`] entries are indexed
    /// together, so that their index slots (random lines of a large table, nearly always
    /// cache misses) load in parallel instead of one stalled note at a time.
    fn note(&mut self, guid: Guid, key: &[u8], now: Time, hash: KeyedHash) {
        if !self.slots.is_empty() {
            let key = self.key_ref(key);
            self.log.push(Noted { guid, at: now, key });
            if self.log.len() - self.indexed() >= BATCH {
                self.flush(hash);
            }
            return;
        }
        // A short log: scanned.
        if let Some(pos) = self.log.iter().position(|n| n.guid == guid) {
            let key = self.key_ref(key);
            self.replace(pos, Noted { guid, at: now, key });
            return;
        }
        let key = self.key_ref(key);
        if self.log.capacity() == 0 {
            // A peer that notes one query holds one entry, not the four of a first push.
            self.log.reserve_exact(1);
        }
        self.log.push(Noted { guid, at: now, key });
        if self.log.len() > SCAN {
            self.build_index(hash, self.log.len());
        }
    }

    /// Overwrites the entry at `pos` with `noted` (a later note of its GUID).
    fn replace(&mut self, pos: usize, noted: Noted) {
        let Some(old) = self.log.get_mut(pos) else {
            return;
        };
        let old_key = std::mem::replace(old, noted).key;
        if let KeyRef::Long(i) = old_key {
            // Its key is no longer needed; the slot stays, empty, until the log is
            // emptied (a GUID noted again within a generation is rare).
            if let Some(k) = self.long.get_mut(i as usize) {
                *k = Box::default();
            }
        }
    }

    /// Indexes the waiting entries in the order they were noted; one whose GUID is
    /// already indexed replaces that entry and leaves the log.
    fn flush(&mut self, hash: KeyedHash) {
        if self.slots.is_empty() {
            return;
        }
        // First each waiting entry's hash and the load of its first slot, back to back:
        // the loads (nearly all cache misses) overlap, and the probes below then hit.
        let mut hashes = [0u64; BATCH];
        let mask = self.low_mask() as usize;
        let mut loaded = 0;
        let waiting = self.log.get(self.indexed()..).unwrap_or_default();
        for (h, noted) in hashes.iter_mut().zip(waiting) {
            *h = guid_hash(hash, &noted.guid);
            loaded ^= self.slots.get(*h as usize & mask).copied().unwrap_or(0);
        }
        // Kept, so that the loads are made.
        std::hint::black_box(loaded);
        let mut pos = self.indexed();
        // The waiting entry at `pos`, counted from the first one waiting.
        let mut k = 0;
        while let Some(noted) = self.log.get(pos).copied() {
            let h = match hashes.get(k) {
                Some(&h) => h,
                None => guid_hash(hash, &noted.guid),
            };
            match self.probe(&noted.guid, h) {
                Probe::At(old) => {
                    self.replace(old, noted);
                    self.log.remove(pos);
                    k += 1;
                }
                Probe::Free(_) if pos >= self.table_len() / 5 * 4 => {
                    // Full: a larger index for the entries indexed so far, then this one
                    // again.
                    self.build_index(hash, pos);
                }
                Probe::Free(i) => {
                    let slot = self.tag(h) | (pos as u32 + 1);
                    if let Some(s) = self.slots.get_mut(i) {
                        *s = slot;
                    }
                    pos += 1;
                    k += 1;
                }
            }
        }
        self.set_indexed(self.log.len());
    }

    /// GUIDs held, each once, without indexing the waiting entries.
    #[cfg(test)]
    fn held(&self, hash: KeyedHash) -> usize {
        if self.slots.is_empty() {
            return self.log.len();
        }
        let waiting = self.log.get(self.indexed()..).unwrap_or_default();
        let new = waiting.iter().enumerate().filter(|&(k, n)| {
            !waiting[..k].iter().any(|m| m.guid == n.guid)
                && matches!(
                    self.probe(&n.guid, guid_hash(hash, &n.guid)),
                    Probe::Free(_)
                )
        });
        self.indexed() + new.count()
    }

    /// Where `key` is kept: inline, or in `long`.
    fn key_ref(&mut self, key: &[u8]) -> KeyRef {
        let mut bytes = [0; SHORT_KEY];
        if let Some(inline) = bytes.get_mut(..key.len()) {
            inline.copy_from_slice(key);
            return KeyRef::Short {
                len: key.len() as u8,
                bytes,
            };
        }
        self.long.push(Box::from(key));
        KeyRef::Long(self.long.len() as u32 - 1)
    }

    /// (Re)builds the index, with room to grow (at most 2/5 full), for the first
    /// `indexed` entries of the log (which hold each GUID once).
    fn build_index(&mut self, hash: KeyedHash, indexed: usize) {
        let want = (self.log.len() * 5 / 2).next_power_of_two().max(32);
        self.slots.clear();
        self.slots.resize(want + 1, 0);
        self.set_indexed(indexed);
        let mask = self.low_mask();
        for (pos, noted) in self.log.iter().enumerate().take(indexed) {
            let h = guid_hash(hash, &noted.guid);
            let tag = tag(h, mask);
            let mut i = h as usize & mask as usize;
            while self.slots.get(i).is_some_and(|&s| s != 0) {
                i = (i + 1) & mask as usize;
            }
            if let Some(s) = self.slots.get_mut(i) {
                // Positions fit: the log is shorter than the slot count, itself far
                // below 2^32 (a log that long would take hundreds of gigabytes).
                *s = tag | (pos as u32 + 1);
            }
        }
    }

    /// Empties the generation, keeping its allocations (the index zeroed).
    fn clear(&mut self) {
        self.log.clear();
        self.long.clear();
        // The count of entries indexed too.
        self.slots.fill(0);
    }

    fn capacity(&self) -> usize {
        self.log.capacity()
    }

    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.log.capacity() * std::mem::size_of::<Noted>()
            + self.long.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.long.iter().map(|k| k.len()).sum::<usize>()
            + self.slots.capacity() * std::mem::size_of::<u32>()
    }
}

/// A note begun ([`AskedLog::begin`]): holds the log, so nothing changes it before the
/// key is stored.
pub struct Noting<'a> {
    log: &'a mut AskedLog,
    guid: Guid,
    now: Time,
}

impl Noting<'_> {
    /// Stores the key the GUID asked.
    pub fn finish(self, key: &[u8]) {
        let log = self.log;
        log.current.note(self.guid, key, self.now, log.hash);
    }
}

/// Query GUID -> the cache key it asked, in two generations bounded as a route table is.
#[derive(Clone, Debug)]
pub struct AskedLog {
    /// When the current generation was started.
    since: Time,
    current: Generation,
    /// Boxed, and allocated at the first rotation: a peer that notes few queries pays
    /// one pointer for it.
    previous: Option<Box<Generation>>,
    hash: KeyedHash,
}

impl AskedLog {
    pub fn new(hash: KeyedHash) -> AskedLog {
        AskedLog {
            since: Time::ZERO,
            current: Generation::default(),
            previous: None,
            hash,
        }
    }

    /// Entries held, a GUID noted in both generations counted twice.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let hash = self.hash;
        self.current.held(hash) + self.previous.as_ref().map_or(0, |p| p.held(hash))
    }

    /// Notes that `guid` asked `key` at `now` (replacing what it asked before), first
    /// rotating the generations as `bounds` say.
    #[cfg(test)]
    pub fn insert(&mut self, guid: Guid, key: &[u8], now: Time, bounds: Bounds) {
        self.begin(guid, now, bounds).finish(key);
    }

    /// [`AskedLog::insert`] in two steps, for a caller that builds the key meanwhile:
    /// this one rotates the generations, [`Noting::finish`] stores the key.
    pub fn begin(&mut self, guid: Guid, now: Time, bounds: Bounds) -> Noting<'_> {
        self.rotate(now, bounds);
        Noting {
            log: self,
            guid,
            now,
        }
    }

    /// The key `guid` asked, if it was noted no longer than `live`'s age limit ago.
    pub fn get(&self, guid: &Guid, now: Time, live: Bounds) -> Option<&[u8]> {
        let h = guid_hash(self.hash, guid);
        let fresh = |n: &&Noted| now.saturating_sub(n.at).0 <= live.max_age_micros;
        if let Some(noted) = self.current.get(guid, h).filter(fresh) {
            return Some(self.current.key(noted));
        }
        let previous = self.previous.as_deref()?;
        let noted = previous.get(guid, h).filter(fresh)?;
        Some(previous.key(noted))
    }

    /// The route table's rotation ([`Generations`](super::generations::Generations)):
    /// everything goes when both generations have expired; the current one becomes the
    /// previous one when it holds half the capacity or is older than half the age limit.
    fn rotate(&mut self, now: Time, bounds: Bounds) {
        // The log's length counts a waiting GUID noted again twice: when that says
        // rotate, the GUIDs are counted once.
        let mut act = turn(self.since, now, self.current.log.len(), bounds);
        if act == Turn::Rotate {
            self.current.flush(self.hash);
            act = turn(self.since, now, self.current.log.len(), bounds);
        }
        if act == Turn::Expire {
            // An idle table gives a burst's memory back.
            let previous_capacity = self.previous.as_ref().map_or(0, |p| p.capacity());
            if self.current.capacity() > KEEP_ALLOCATION_UP_TO
                || previous_capacity > KEEP_ALLOCATION_UP_TO
            {
                self.current = Generation::default();
                self.previous = None;
            } else {
                self.current.clear();
                if let Some(previous) = &mut self.previous {
                    previous.clear();
                }
            }
            self.since = now;
        } else if act == Turn::Rotate {
            match &mut self.previous {
                Some(previous) => {
                    std::mem::swap(&mut self.current, previous);
                    self.current.clear();
                }
                // Nothing to keep: an empty previous generation is no generation.
                None if self.current.log.is_empty() => {}
                None => {
                    let current = std::mem::take(&mut self.current);
                    self.previous = Some(Box::new(current));
                }
            }
            self.since = now;
        }
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.current.heap_bytes()
            + self
                .previous
                .as_ref()
                .map_or(0, |p| std::mem::size_of::<Generation>() + p.heap_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn guid(n: u32) -> Guid {
        let mut g = [0u8; 16];
        g[..4].copy_from_slice(&n.to_le_bytes());
        g[15] = 0xA5;
        Guid(g)
    }

    fn key(n: u32, long: bool) -> Vec<u8> {
        let mut k = format!("k{n}").into_bytes();
        if long {
            k.extend_from_slice(b" a much longer key than fits");
        }
        k
    }

    #[test]
    fn an_entry_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Noted>(), 48);
    }

    #[test]
    fn a_generation_is_its_three_vectors() {
        assert_eq!(
            std::mem::size_of::<Generation>(),
            3 * std::mem::size_of::<Vec<u8>>()
        );
    }

    #[test]
    fn behaves_like_a_plain_map_within_its_limits() {
        let b = Bounds::new(1_000_000, 600);
        let t = Time::from_secs(1);
        let mut log = AskedLog::new(KeyedHash::new(9));
        let mut model: HashMap<Guid, Vec<u8>> = HashMap::new();
        let mut x: u64 = 11;
        for step in 0..20_000u32 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let g = guid(((x >> 33) % 5000) as u32);
            if (x >> 20) % 2 == 0 {
                let k = key(step, (x >> 40) % 7 == 0);
                log.insert(g, &k, t, b);
                model.insert(g, k);
            } else {
                assert_eq!(log.get(&g, t, b), model.get(&g).map(|k| &k[..]));
            }
            assert_eq!(log.len(), model.len());
        }
    }

    #[test]
    fn entries_expire_and_an_idle_table_frees_its_memory() {
        let b = Bounds::new(100_000, 10);
        let mut log = AskedLog::new(KeyedHash::new(1));
        for n in 0..1000 {
            log.insert(guid(n), &key(n, n % 3 == 0), Time::from_secs(1), b);
        }
        assert_eq!(log.get(&guid(7), Time::from_secs(11), b), Some(&b"k7"[..]));
        assert_eq!(log.get(&guid(7), Time::from_secs(12), b), None);
        assert!(log.heap_bytes() > 0);
        log.insert(guid(1), b"x", Time::from_secs(100), b);
        assert_eq!(log.len(), 1);
        assert!(log.heap_bytes() < 1000, "{}", log.heap_bytes());
    }

    #[test]
    fn one_noted_query_costs_one_entry_and_no_index() {
        let b = Bounds::new(100_000, 600);
        let mut log = AskedLog::new(KeyedHash::new(1));
        assert_eq!(log.heap_bytes(), 0);
        log.insert(guid(1), b"debian", Time::ZERO, b);
        assert_eq!(log.heap_bytes(), std::mem::size_of::<Noted>());
        for n in 2..=(SCAN as u32) {
            log.insert(guid(n), b"debian", Time::ZERO, b);
        }
        assert!(log.current.slots.is_empty(), "a short log is scanned");
        log.insert(guid(99), b"debian", Time::ZERO, b);
        assert!(!log.current.slots.is_empty());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u32, bool),
        Get(u32),
        Wait(u64),
    }

    fn op(keys: u32, max_wait: u64) -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (0..keys, any::<u32>(), any::<bool>()).prop_map(|(g, k, l)| Op::Insert(g, k, l)),
            4 => (0..keys).prop_map(Op::Get),
            1 => (0..max_wait).prop_map(Op::Wait),
        ]
    }

    /// Runs `ops` on the log and on the route table's map that the result cache used
    /// before (its rules, model-checked in `generations`), comparing every answer and
    /// the count.
    fn same_as_generations(
        ops: &[Op],
        capacity: usize,
        live_secs: u64,
        table_secs: u64,
        seed: u64,
    ) {
        use super::super::generations::Generations;
        let (live, bounds) = (
            Bounds::new(capacity, live_secs),
            Bounds::new(capacity, table_secs),
        );
        let hash = move || KeyedHash::new(seed);
        let mut log = AskedLog::new(hash());
        let mut oracle: Generations<Guid, Vec<u8>> = Generations::new();
        let mut now = 0u64;
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Insert(g, k, long) => {
                    log.insert(guid(g), &key(k, long), Time(now), bounds);
                    oracle.insert(hash, guid(g), key(k, long), Time(now), bounds);
                }
                Op::Get(g) => {
                    for b in [live, bounds] {
                        let want = oracle.get(&guid(g), Time(now), b).map(|k| &k[..]);
                        assert_eq!(log.get(&guid(g), Time(now), b), want, "step {i}: {op:?}");
                    }
                }
                Op::Wait(dt) => now += dt,
            }
            assert_eq!(log.len(), oracle.len(), "step {i}: {op:?}");
        }
    }

    proptest::proptest! {
        /// Short logs, searched without an index.
        #[test]
        fn a_small_log_answers_as_the_route_tables_map(
            capacity in 1usize..24,
            live_secs in 1u64..4,
            extra_secs in 0u64..3,
            seed in proptest::prelude::any::<u64>(),
            ops in proptest::collection::vec(op(30, 1_500_000), 1..300),
        ) {
            same_as_generations(&ops, capacity, live_secs, live_secs + extra_secs, seed);
        }

        /// Logs that build and grow their index, and hold long keys.
        #[test]
        fn a_large_log_answers_as_the_route_tables_map(
            capacity in 20usize..600,
            live_secs in 1u64..20,
            seed in proptest::prelude::any::<u64>(),
            ops in proptest::collection::vec(op(400, 300_000), 1..1500),
        ) {
            same_as_generations(&ops, capacity, live_secs, live_secs, seed);
        }
    }
}
