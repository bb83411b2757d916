//! The LRU result cache: recent hits by normalised query, so a repeated query can be
//! answered by a peer near the searcher instead of by a flood to the far holders.
//!
//! Entries are filled from QueryHits that pass through this peer (or reach it as the
//! origin). The hits are kept whole, behind the same `Arc` the routed message carries, so
//! an answer from the cache names the real holder's address and servent GUID: downloads
//! and pushes still go to the holder. An entry expires `max_age_secs` after it was
//! created, so a cached answer is never older than that.
//!
//! A cached answer must not pass for the holder's own hit (gtk-gnutella counts such hits
//! as "weird" and bans the sender after five, see `link_servents`): each hit keeps the
//! hops it had made when it reached this peer, which the answer carries instead of 0, and
//! is answered with our cache marker (`protocol::cache_mark`) so our searchers can tell.
//! The marked copy is made the first time the hit answers a query, so hits that never do
//! cost no copy. The node says which holders may answer a given query (never the
//! neighbour that sent it).
//!
//! Memory: the cache is created on first use and does not preallocate its capacity (the
//! `lru` crate's `new(cap)` would), so peers that never see a hit pay no entries: only
//! the note of the queries they answered (`asked_log`, 48 bytes a query and a 4-byte
//! index slot or two once there are more than a few).

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::aged_map::Bounds;
use super::asked_log::AskedLog;
use super::fast_hash::KeyedHash;
use super::library::normalise;
// Query words are sorted on the stack (`INLINE_WORDS`); more spill to the heap.
use super::query_words::{QueryWords, INLINE_WORDS};
use super::types::{CacheConfig, Time};
use crate::protocol::{Guid, Query, QueryHit};

/// Most hits kept for one query (one per responder, newest wins).
const MAX_HITS_PER_ENTRY: usize = 16;

/// A hit as a cache answer sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedHit {
    /// The hit, carrying our cache marker once it has answered a query.
    pub hit: Arc<QueryHit>,
    /// Hops from the holder to this peer (1 to 254): the hop count the answer carries.
    pub hops: u8,
}

#[derive(Debug)]
struct Stored {
    cached: CachedHit,
    marked: bool,
}

#[derive(Debug)]
struct CacheEntry {
    created: Time,
    hits: Vec<Stored>,
}

/// Cached hits by normalised query, plus which in-flight query GUID asked what.
#[derive(Debug)]
pub struct ResultCache {
    /// Keyed by the key's bytes (ASCII and whole UTF-8 words): a lookup needs no UTF-8
    /// check.
    entries: LruCache<Box<[u8]>, CacheEntry, KeyedHash>,
    /// Query GUID -> its key, for the queries whose hits we may still see. (Holding the
    /// query instead, to build its key only when a hit comes, was tried: slower, as a
    /// query is two larger allocations kept alive.)
    asked: AskedLog,
    /// Where keys are built, kept so that building one allocates nothing.
    scratch: Vec<u8>,
}

/// The key a query is cached under: its words lower-cased, sorted and de-duplicated,
/// then its URNs, so "Debian  NETINST" and "netinst debian" share an entry.
pub fn cache_key(query: &Query) -> String {
    let mut key = Vec::new();
    write_key(query, None, &mut key);
    // Whole words of a `str` and ASCII, so always UTF-8.
    String::from_utf8_lossy(&key).into_owned()
}

/// Writes `query`'s cache key into `key` (cleared first); `split`: its criteria's words,
/// when [`QueryWords::split`] applies to them.
fn write_key(query: &Query, split: Option<&QueryWords<'_>>, key: &mut Vec<u8>) {
    key.clear();
    match split {
        Some(split) => write_split_words(split, key),
        None => write_words(query.criteria.as_str(), key),
    }
    for sha1 in query.sha1s() {
        key.push(b' ');
        key.extend_from_slice(&sha1.urn_bytes());
    }
}

/// A word's first 8 bytes as a big-endian integer, zero-padded. When two words' prefixes
/// differ, their order is the words' byte order (where a shorter word's padding differs
/// from the other's byte, the shorter is a prefix of the longer, so sorts first); only
/// equal prefixes need the words compared.
#[inline]
fn prefix(word: &[u8]) -> u64 {
    let len = word.len();
    // Two overlapping loads for each length class: no loop, no call.
    let (hi, lo) = if let Some(head) = word.first_chunk::<8>() {
        return u64::from_be_bytes(*head);
    } else if len >= 4 {
        let head = word.first_chunk::<4>().copied().unwrap_or_default();
        let tail = word.last_chunk::<4>().copied().unwrap_or_default();
        (
            u64::from(u32::from_be_bytes(head)) << 32,
            u64::from(u32::from_be_bytes(tail)),
        )
    } else if len >= 2 {
        let head = word.first_chunk::<2>().copied().unwrap_or_default();
        let tail = word.last_chunk::<2>().copied().unwrap_or_default();
        (
            u64::from(u16::from_be_bytes(head)) << 48,
            u64::from(u16::from_be_bytes(tail)),
        )
    } else {
        let first = word.first().copied().unwrap_or(0);
        return u64::from(first) << 56;
    };
    // The tail's last byte goes to byte `len - 1` from the top (the bytes it shares with
    // the head are the same).
    hi | lo << (8 * (8 - len))
}

/// A word with its [`prefix`].
#[derive(Clone, Copy)]
struct Word<'w> {
    prefix: u64,
    bytes: &'w [u8],
}

impl Word<'_> {
    /// Byte order (`str` order), through the prefixes first.
    #[inline]
    fn after(&self, other: &Word<'_>) -> bool {
        if self.prefix != other.prefix {
            self.prefix > other.prefix
        } else {
            self.bytes > other.bytes
        }
    }
}

/// The key of split words: nearly every query, so no normalising and no heap: the words
/// (at most `INLINE_WORDS`) sorted on the stack by their prefixes, then written out,
/// repeats once, with `key` grown once.
fn write_split_words(split: &QueryWords<'_>, key: &mut Vec<u8>) {
    if let Some((a, b)) = split.pair() {
        // The most common query, without the array.
        let (pa, pb) = (prefix(a), prefix(b));
        let (first, second) = if pa < pb || (pa == pb && a <= b) {
            (a, b)
        } else {
            (b, a)
        };
        key.reserve(a.len() + b.len() + 1);
        key.extend_from_slice(first);
        if pa != pb || a != b {
            key.push(b' ');
            key.extend_from_slice(second);
        }
        return;
    }
    let mut words = [Word {
        prefix: 0,
        bytes: &[],
    }; INLINE_WORDS];
    let mut n = 0;
    let mut bytes = 0;
    for (slot, word) in words.iter_mut().zip(split.iter()) {
        *slot = Word {
            prefix: prefix(word),
            bytes: word,
        };
        n += 1;
        bytes += word.len() + 1;
    }
    let words = words.get_mut(..n).unwrap_or_default();
    for i in 1..words.len() {
        let mut j = i;
        while j > 0 && words[j - 1].after(&words[j]) {
            words.swap(j - 1, j);
            j -= 1;
        }
    }
    key.reserve(bytes);
    let mut last: Option<&Word<'_>> = None;
    for word in words.iter() {
        if let Some(last) = last {
            if last.prefix == word.prefix && last.bytes == word.bytes {
                continue;
            }
            key.push(b' ');
        }
        key.extend_from_slice(word.bytes);
        last = Some(word);
    }
}

/// The key's words of any criteria: normalised first unless lower-case ASCII, any number
/// of words.
fn write_words(criteria: &str, key: &mut Vec<u8>) {
    let normal;
    let mut inline: [&[u8]; INLINE_WORDS] = [&[]; INLINE_WORDS];
    let mut spilled: Vec<&[u8]> = Vec::new();
    let mut n = 0;
    if criteria
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        // Split as bytes: the same words, without decoding UTF-8.
        for word in criteria
            .as_bytes()
            .split(|b| !b.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            keep_word(&mut inline, &mut spilled, &mut n, word);
        }
    } else {
        normal = normalise(criteria);
        for word in normal
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            keep_word(&mut inline, &mut spilled, &mut n, word.as_bytes());
        }
    }
    let words: &mut [&[u8]] = if spilled.is_empty() {
        inline.get_mut(..n).unwrap_or_default()
    } else {
        &mut spilled
    };
    // Byte order is `str` order. An insertion sort for the few inline words: nearly every
    // query has two or three, where the general sort's set-up costs more than the sort.
    // More (our own searches have no length cap) take the general sort, not a quadratic one.
    if words.len() > INLINE_WORDS {
        words.sort_unstable();
    } else {
        for i in 1..words.len() {
            let mut j = i;
            while j > 0 && words[j - 1] > words[j] {
                words.swap(j - 1, j);
                j -= 1;
            }
        }
    }
    let mut last: Option<&[u8]> = None;
    for &word in words.iter() {
        if last == Some(word) {
            continue;
        }
        if last.is_some() {
            key.push(b' ');
        }
        key.extend_from_slice(word);
        last = Some(word);
    }
}

/// Puts the `n`th word in `inline`, or from the first that does not fit on, in `spilled`.
fn keep_word<'w>(
    inline: &mut [&'w [u8]; INLINE_WORDS],
    spilled: &mut Vec<&'w [u8]>,
    n: &mut usize,
    word: &'w [u8],
) {
    match inline.get_mut(*n) {
        Some(slot) => *slot = word,
        None => {
            if spilled.is_empty() {
                spilled.extend_from_slice(&inline[..]);
            }
            spilled.push(word);
        }
    }
    *n += 1;
}

impl ResultCache {
    pub fn new(hash: KeyedHash) -> ResultCache {
        ResultCache {
            entries: LruCache::unbounded_with_hasher(hash),
            asked: AskedLog::new(hash),
            scratch: Vec::new(),
        }
    }

    /// Remembers that query `guid` asked `query`, so its hits can be filed under its key.
    pub fn note_query(&mut self, guid: Guid, query: &Query, now: Time, bounds: Bounds) {
        let noting = self.asked.begin(guid, now, bounds);
        write_key(query, None, &mut self.scratch);
        noting.finish(&self.scratch);
    }

    /// [`ResultCache::lookup`] then [`ResultCache::note_query`], building the key once;
    /// `words`: the query's criteria split, when [`QueryWords::split`] applies to them.
    #[allow(clippy::too_many_arguments)]
    pub fn lookup_and_note(
        &mut self,
        guid: Guid,
        query: &Query,
        words: Option<&QueryWords<'_>>,
        now: Time,
        config: &CacheConfig,
        bounds: Bounds,
        may_answer: impl Fn(&Guid) -> bool,
    ) -> Option<Vec<CachedHit>> {
        let noting = self.asked.begin(guid, now, bounds);
        let key = &mut self.scratch;
        write_key(query, words, key);
        let found = if self.entries.is_empty() {
            None
        } else {
            lookup_key(&mut self.entries, key, now, config, may_answer)
        };
        noting.finish(key);
        found
    }

    /// Files a hit for query `guid` (if we noted it) under that query's key; `hops` is the
    /// hop count it reached us with (after our increment).
    pub fn add_hit(
        &mut self,
        guid: &Guid,
        hit: &Arc<QueryHit>,
        hops: u8,
        now: Time,
        config: &CacheConfig,
        asked_bounds: Bounds,
    ) {
        let Some(asked) = self.asked.get(guid, now, asked_bounds) else {
            return;
        };
        if hit.records.is_empty() {
            return;
        }
        // Copied out of the table (which `file_hit` does not touch, but borrows with it).
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        key.extend_from_slice(asked);
        self.file_hit(&key, hit, hops, now, config);
        self.scratch = key;
    }

    fn file_hit(
        &mut self,
        key: &[u8],
        hit: &Arc<QueryHit>,
        hops: u8,
        now: Time,
        config: &CacheConfig,
    ) {
        let stored = || Stored {
            cached: CachedHit {
                hit: Arc::clone(hit),
                hops: hops.clamp(1, u8::MAX - 1),
            },
            marked: false,
        };
        let max_age = Bounds::new(config.capacity, config.max_age_secs);
        let fresh = match self.entries.get_mut(key) {
            Some(entry) if !max_age_expired(entry.created, now, max_age) => {
                entry
                    .hits
                    .retain(|h| h.cached.hit.servent_guid != hit.servent_guid);
                if entry.hits.len() >= MAX_HITS_PER_ENTRY {
                    entry.hits.remove(0);
                }
                entry.hits.push(stored());
                true
            }
            _ => false,
        };
        if !fresh {
            self.entries.put(
                Box::from(key),
                CacheEntry {
                    created: now,
                    hits: vec![stored()],
                },
            );
            let capacity = NonZeroUsize::new(config.capacity).map_or(1, NonZeroUsize::get);
            while self.entries.len() > capacity {
                self.entries.pop_lru();
            }
        }
    }

    /// The live cached hits for `query` whose holder `may_answer` allows, most recently
    /// filed last, marked as cached answers.
    pub fn lookup(
        &mut self,
        query: &Query,
        now: Time,
        config: &CacheConfig,
        may_answer: impl Fn(&Guid) -> bool,
    ) -> Option<Vec<CachedHit>> {
        if self.entries.is_empty() {
            return None;
        }
        let mut key = std::mem::take(&mut self.scratch);
        write_key(query, None, &mut key);
        let found = lookup_key(&mut self.entries, &key, now, config, may_answer);
        self.scratch = key;
        found
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What [`ResultCache::lookup`] answers, for a key already built (an expired entry is
/// dropped). A free function, so that a caller may hold other fields of the cache.
fn lookup_key(
    entries: &mut LruCache<Box<[u8]>, CacheEntry, KeyedHash>,
    key: &[u8],
    now: Time,
    config: &CacheConfig,
    may_answer: impl Fn(&Guid) -> bool,
) -> Option<Vec<CachedHit>> {
    let max_age = Bounds::new(config.capacity, config.max_age_secs);
    let expired = match entries.get_mut(key) {
        None => return None,
        Some(entry) if !max_age_expired(entry.created, now, max_age) => {
            let mut out = Vec::with_capacity(entry.hits.len());
            for stored in &mut entry.hits {
                if !may_answer(&stored.cached.hit.servent_guid) {
                    continue;
                }
                if !stored.marked {
                    let marked = stored.cached.hit.marked_as_cached(stored.cached.hops);
                    stored.cached.hit = Arc::new(marked);
                    stored.marked = true;
                }
                out.push(stored.cached.clone());
            }
            return Some(out);
        }
        Some(_) => true,
    };
    if expired {
        entries.pop(key);
    }
    None
}

fn max_age_expired(created: Time, now: Time, bounds: Bounds) -> bool {
    now.saturating_sub(created).0 > bounds.max_age_micros
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HitRecord;
    use std::net::Ipv4Addr;

    fn hit(servent: u8) -> Arc<QueryHit> {
        Arc::new(QueryHit {
            port: 6346,
            ip: Ipv4Addr::new(10, 0, 0, servent),
            speed: 0,
            records: vec![HitRecord {
                index: 1,
                size: 5,
                name: "a.txt".into(),
                extensions: vec![],
            }],
            trailer: None,
            servent_guid: Guid([servent; 16]),
        })
    }

    #[test]
    fn a_key_from_split_words_is_the_key() {
        for text in ["debian netinst", "b a b", "x", "", "a-b c_d 12"] {
            let query = Query::keywords(text);
            let split = QueryWords::split(text);
            assert!(split.is_some(), "{text:?} splits");
            let mut key = Vec::new();
            write_key(&query, split.as_ref(), &mut key);
            assert_eq!(key, cache_key(&query).into_bytes(), "{text:?}");
        }
    }

    /// The key as built before the split words had their own path: normalise unless
    /// lower-case ASCII, split, sort, de-duplicate, join, then the URNs.
    fn model_key(query: &Query) -> Vec<u8> {
        let criteria = query.criteria.as_str();
        let normal = normalise(criteria);
        let mut words: Vec<&[u8]> = normal
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::as_bytes)
            .collect();
        words.sort();
        words.dedup();
        let mut key = words.join(&b' ');
        for sha1 in query.sha1s() {
            key.push(b' ');
            key.extend_from_slice(&sha1.urn_bytes());
        }
        key
    }

    #[test]
    fn prefixes_order_words_as_bytes_do() {
        let words: [&[u8]; 12] = [
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"abc",
            b"abcd",
            b"abcde",
            b"abcdefg",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
        ];
        for a in words {
            for b in words {
                let (wa, wb) = (
                    Word {
                        prefix: prefix(a),
                        bytes: a,
                    },
                    Word {
                        prefix: prefix(b),
                        bytes: b,
                    },
                );
                assert_eq!(wa.after(&wb), a > b, "{a:?} {b:?}");
            }
        }
    }

    proptest::proptest! {
        /// Any word count, order, repeats, case, non-ASCII and URNs: both paths give the
        /// model's key.
        #[test]
        fn keys_are_the_models(
            words in proptest::collection::vec(
                proptest::string::string_regex("[a-c0-9]{1,10}|[A-Cé]{1,3}|[abcdefgh]{7,9}|İ|ß|ǅ").unwrap(),
                0..12,
            ),
            separators in proptest::collection::vec(
                proptest::string::string_regex("[ ,.\\-]{1,2}").unwrap(),
                12,
            ),
            urns in 0u8..3,
        ) {
            let mut text = String::new();
            for (word, sep) in words.iter().zip(&separators) {
                text.push_str(word);
                text.push_str(sep);
            }
            let mut query = Query::keywords(&text);
            for n in 0..urns {
                query.extensions.push(crate::protocol::Extension::Sha1(
                    crate::protocol::Sha1::of_bytes(&[n]),
                ));
            }
            let want = model_key(&query);
            let mut key = Vec::new();
            write_key(&query, None, &mut key);
            proptest::prop_assert_eq!(&key, &want, "{:?}", text);
            if let Some(split) = QueryWords::split(&query.criteria) {
                key.clear();
                key.extend_from_slice(b"stale");
                write_key(&query, Some(&split), &mut key);
                proptest::prop_assert_eq!(&key, &want, "{:?} split", text);
            }
        }
    }

    #[test]
    fn long_keys_are_noted_too() {
        let config = CacheConfig::default();
        let bounds = Bounds::new(100, 600);
        let mut cache = ResultCache::new(KeyedHash::new(3));
        let long = Query::keywords("debian netinst amd64 iso image twelve");
        let short = Query::keywords("debian");
        cache.note_query(Guid([1; 16]), &long, Time::ZERO, bounds);
        cache.note_query(Guid([2; 16]), &short, Time::ZERO, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), 2, Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([2; 16]), &hit(8), 2, Time::ZERO, &config, bounds);
        let servent = |q: &Query, cache: &mut ResultCache| {
            let hits = cache.lookup(q, Time::ZERO, &config, |_| true);
            hits.unwrap_or_default()
                .iter()
                .map(|c| c.hit.servent_guid)
                .collect::<Vec<_>>()
        };
        assert_eq!(servent(&long, &mut cache), vec![Guid([7; 16])]);
        assert_eq!(servent(&short, &mut cache), vec![Guid([8; 16])]);
    }

    #[test]
    fn key_ignores_case_order_and_punctuation() {
        assert_eq!(
            cache_key(&Query::keywords("Debian  NETINST")),
            cache_key(&Query::keywords("netinst-debian"))
        );
    }

    #[test]
    fn key_sorts_and_dedups_many_words_in_both_paths() {
        let many = "j b a c d e f g h i a b";
        assert_eq!(cache_key(&Query::keywords(many)), "a b c d e f g h i j");
        assert_eq!(
            cache_key(&Query::keywords("J B A C D É F G H I A B")),
            "a b c d f g h i j é"
        );
    }

    #[test]
    fn hits_are_filed_under_the_asking_query_and_expire() {
        let config = CacheConfig {
            capacity: 2,
            max_age_secs: 10,
            mode: Default::default(),
        };
        let bounds = Bounds::new(100, 600);
        let mut cache = ResultCache::new(KeyedHash::new(3));
        let key = Query::keywords("debian");
        cache.note_query(Guid([1; 16]), &key, Time::ZERO, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), 2, Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), 3, Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([2; 16]), &hit(8), 1, Time::ZERO, &config, bounds);
        let hits = cache
            .lookup(&key, Time::from_secs(10), &config, |_| true)
            .unwrap_or_default();
        assert_eq!(
            hits.len(),
            1,
            "one hit per responder; unasked GUIDs ignored"
        );
        assert_eq!(hits[0].hit.ip, Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(hits[0].hops, 3, "the hops of the newest copy");
        assert!(cache
            .lookup(&key, Time::from_secs(11), &config, |_| true)
            .is_none());
    }

    #[test]
    fn answers_carry_hops_and_the_marker_and_skip_refused_holders() {
        let config = CacheConfig::default();
        let bounds = Bounds::new(100, 600);
        let mut cache = ResultCache::new(KeyedHash::new(3));
        let key = Query::keywords("debian");
        cache.note_query(Guid([1; 16]), &key, Time::ZERO, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), 4, Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(8), 0, Time::ZERO, &config, bounds);
        let to_holder = cache.lookup(&key, Time::ZERO, &config, |g| *g != Guid([7; 16]));
        let servents: Vec<Guid> = to_holder
            .unwrap_or_default()
            .iter()
            .map(|c| c.hit.servent_guid)
            .collect();
        assert_eq!(servents, vec![Guid([8; 16])], "7's hit is not sent to 7");
        let all = cache
            .lookup(&key, Time::ZERO, &config, |_| true)
            .unwrap_or_default();
        let marks: Vec<(u8, Option<u8>)> = all
            .iter()
            .map(|c| (c.hops, c.hit.cache_mark().map(|m| m.holder_hops)))
            .collect();
        assert_eq!(marks, vec![(4, Some(4)), (1, Some(1))], "hops at least 1");
    }
}
