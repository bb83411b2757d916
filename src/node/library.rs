//! The files a peer shares and the keyword index that answers queries against them.
//!
//! Matching follows what real servents do (PROTOCOL.md §6.1): names and queries are
//! lower-cased and split on every non-alphanumeric character; a file matches when every
//! query word is a prefix of some word of its name (LimeWire and gtk-gnutella both match
//! at word starts, AND-ed), or when the query carries the file's `urn:sha1:`. Accents are
//! not stripped (no Unicode normalisation tables here); a repeated query word counts once.
//!
//! The index is built for speed on the routing hot path: the distinct name words sorted
//! into a vocabulary, so all words starting with a prefix are one contiguous range of
//! word ids, found by binary search over 8-byte integer keys rather than strings; and a
//! posting list (ascending file positions) per word. A query is the intersection of its
//! words' posting lists, rarest first, so the work is bounded by the rarest word and
//! reads a few sequential runs of memory instead of chasing every candidate file.
//!
//! Libraries of 256 distinct words or more (not the simulator's peers, which share a few
//! files each) get two more tables, because a query word is nearly always a whole name
//! word and nearly every intersection is empty: a hash table from a word's 8-byte key to
//! its prefix range (one probe instead of a binary search; 16 to 32 bytes a distinct
//! key), and a 64-bit signature per file, two bits per word of its name, so intersecting
//! the rarest word's files with another word reads one signature per candidate rather
//! than the other word's whole posting list (8 bytes a file). On the route bench's
//! 10,000-file library they took a query's match from ≈1,415 to ≈930 instructions.

use std::borrow::Cow;

use super::query_words::{AsciiWords, QueryWords, BYTE_CLASS, INLINE_WORDS, NEEDS_NORMALISING};
use crate::protocol::{Extension, HitRecord, Query, Sha1};

/// One shared file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedFile {
    /// The index hits advertise and `/get/<index>/<name>` asks for.
    pub index: u32,
    pub name: String,
    pub size: u64,
    pub sha1: Sha1,
}

impl SharedFile {
    /// The record describing this file in a QueryHit (`urn:sha1:` attached, as LimeWire
    /// requires). Files of 4 GiB or more advertise 0xFFFF_FFFF, the wire's "large" mark.
    pub fn hit_record(&self) -> HitRecord {
        HitRecord {
            index: self.index,
            size: u32::try_from(self.size).unwrap_or(u32::MAX),
            name: self.name.clone(),
            extensions: vec![Extension::Sha1(self.sha1)],
        }
    }
}

/// The shared files with their keyword index. An empty library allocates nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Library {
    files: Vec<SharedFile>,
    /// Built when the library is not empty.
    index: Option<Box<KeywordIndex>>,
    /// (digest, position in `files`), sorted.
    digests: Vec<(Sha1, u32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeywordIndex {
    /// Distinct normalised name words, sorted: word id = position.
    vocab: Vec<Box<str>>,
    /// The first 8 bytes of each word as a big-endian integer (zero-padded), parallel to
    /// `vocab`: since names hold no NUL, integer order is the words' byte order, so a
    /// prefix of up to 8 bytes is an integer range found without touching the strings.
    keys: Vec<u64>,
    /// For vocabularies of `FIRST_BYTE_TABLE_MIN` words or more, the first word id whose
    /// leading byte is >= b, for b in 0..=256: a prefix's search starts in its byte's run.
    first_byte: Vec<u32>,
    /// For vocabularies of `FIRST_BYTE_TABLE_MIN` words or more, an open-addressing hash
    /// table (a power of two of slots, at most half full, linear probing) of the distinct
    /// `keys`: a slot holds the range of word ids a key's bytes start, `lo + 1` in its low
    /// half (0: empty slot) and `hi` in its high half, so the key is `keys[lo]`. Most query
    /// words are whole name words: their range is one probe away, without a binary search
    /// or a gallop. A miss sends a prefix shorter than 8 bytes to the search and ends a
    /// longer one (no word shares its first 8 bytes). 16 to 32 bytes a distinct key.
    exact: Vec<u64>,
    /// Word id -> its postings: `postings[postings_at[id]..postings_at[id + 1]]`.
    postings_at: Vec<u32>,
    /// File positions, ascending within each word.
    postings: Vec<u32>,
    /// How many files the positions index (all are below it).
    file_count: u32,
    /// For vocabularies of `FIRST_BYTE_TABLE_MIN` words or more, a 64-bit Bloom
    /// signature per file position: the OR of its words' [`word_mask`]s. A candidate file
    /// whose signature lacks a word's two bits cannot hold the word, so `intersect` reads
    /// one word per candidate and searches the word's postings only for the few that
    /// pass (a file of 6 or 7 words passes for a word it lacks about 4 % of the time), instead
    /// of reading both lists whole. 8 bytes a file.
    signatures: Vec<u64>,
}

/// A word id's two bits in a file signature.
#[inline]
fn word_mask(id: u32) -> u64 {
    let h = id.wrapping_mul(0x9E37_79B9);
    1 << (h >> 26) | 1 << (h >> 20 & 63)
}

/// Vocabulary size from which the leading-byte table pays for its 1 KiB (and the exact
/// table and the file signatures for theirs).
const FIRST_BYTE_TABLE_MIN: usize = 256;

/// The first 8 bytes of `word`, big-endian, zero-padded.
#[inline]
fn prefix_key(word: &[u8]) -> u64 {
    // Whole loads, not a byte loop or a variable-length copy (this runs once per query
    // word): 8 bytes, or two 4-byte loads that overlap for 4 to 7, or three single bytes
    // that overlap for 1 to 3.
    let n = word.len();
    let bytes = |at: usize| -> [u8; 4] {
        word.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .unwrap_or_default()
    };
    let byte = |at: usize| u64::from(word.get(at).copied().unwrap_or(0));
    if let Some(head) = word.get(..8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        u64::from_be_bytes(head)
    } else if n >= 4 {
        let head = u64::from(u32::from_be_bytes(bytes(0)));
        let tail = u64::from(u32::from_be_bytes(bytes(n - 4)));
        head << 32 | tail << (64 - 8 * n)
    } else if n > 0 {
        byte(0) << 56 | byte(n / 2) << (56 - 8 * (n / 2)) | byte(n - 1) << (56 - 8 * (n - 1))
    } else {
        0
    }
}

/// The exact table's slot for `key` (Fibonacci hashing).
fn exact_slot(key: u64, mask: usize) -> usize {
    ((key ^ key >> 32).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

/// The largest key starting with the significant bytes of `key` (its bytes before the
/// zero padding; a key of 8 significant bytes is its own upper bound).
fn upper_of(key: u64, significant: usize) -> u64 {
    if significant >= 8 {
        key
    } else {
        key | u64::MAX >> (8 * significant)
    }
}

impl KeywordIndex {
    fn build(files: &[SharedFile]) -> KeywordIndex {
        let mut pairs: Vec<(String, u32)> = Vec::new();
        for (position, file) in files.iter().enumerate() {
            let normal = normalise(&file.name);
            for word in normal.split(' ').filter(|w| !w.is_empty()) {
                pairs.push((word.to_string(), position as u32));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut index = KeywordIndex::default();
        for (word, position) in pairs {
            if index.vocab.last().map(|w| &**w) != Some(word.as_str()) {
                index.postings_at.push(index.postings.len() as u32);
                index.keys.push(prefix_key(word.as_bytes()));
                index.vocab.push(word.into_boxed_str());
            }
            index.postings.push(position);
        }
        index.postings_at.push(index.postings.len() as u32);
        index.file_count = u32::try_from(files.len()).unwrap_or(u32::MAX);
        if index.vocab.len() >= FIRST_BYTE_TABLE_MIN {
            index.first_byte = (0..=256u64)
                .map(|b| index.keys.partition_point(|&k| (k >> 56) < b) as u32)
                .collect();
            index.exact = index.exact_table();
            let mut signatures = vec![0; files.len()];
            for id in 0..index.vocab.len() as u32 {
                let mask = word_mask(id);
                for &p in index.postings_of((id, id + 1)) {
                    if let Some(s) = signatures.get_mut(p as usize) {
                        *s |= mask;
                    }
                }
            }
            index.signatures = signatures;
        }
        index
    }

    /// The exact table of the sorted `keys` (see `KeywordIndex::exact`).
    fn exact_table(&self) -> Vec<u64> {
        let keys = &self.keys;
        let distinct = keys.windows(2).filter(|w| w[0] != w[1]).count() + 1;
        let slots = (2 * distinct).next_power_of_two();
        let mask = slots - 1;
        let mut table = vec![0u64; slots];
        for (lo, &key) in keys.iter().enumerate() {
            if lo > 0 && keys.get(lo - 1) == Some(&key) {
                continue;
            }
            let significant = 8 - (key.trailing_zeros() / 8) as usize;
            let hi = self.run_end(lo, upper_of(key, significant));
            let mut slot = exact_slot(key, mask);
            while table.get(slot).is_some_and(|&e| e != 0) {
                slot = (slot + 1) & mask;
            }
            if let Some(e) = table.get_mut(slot) {
                *e = (lo as u64 + 1) | (hi as u64) << 32;
            }
        }
        table
    }

    /// The word ids whose key is `key` (a whole key), when the exact table says:
    /// `Err(true)` when the index has no exact table, `Err(false)` when no word has it.
    #[inline]
    fn exact_range(&self, key: u64) -> Result<(u32, u32), bool> {
        if self.exact.is_empty() {
            return Err(true);
        }
        let mask = self.exact.len() - 1;
        let mut slot = exact_slot(key, mask);
        loop {
            let e = self.exact.get(slot).copied().unwrap_or(0);
            if e == 0 {
                return Err(false);
            }
            let lo = (e as u32).wrapping_sub(1);
            if self.keys.get(lo as usize) == Some(&key) {
                return Ok((lo, (e >> 32) as u32));
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The end of the run of keys from `lo` that are at most `upper` (runs are short:
    /// a gallop from `lo`, not a second full binary search).
    fn run_end(&self, lo: usize, upper: u64) -> usize {
        let mut step = 1;
        let mut hi = lo;
        while self.keys.get(hi).is_some_and(|&k| k <= upper) {
            hi = lo + step;
            step *= 2;
        }
        let probe_from = lo + step / 4;
        probe_from
            + self
                .keys
                .get(probe_from..hi.min(self.keys.len()))
                .unwrap_or(&[])
                .partition_point(|&k| k <= upper)
    }

    /// The range of word ids whose word starts with `prefix` (non-empty prefix).
    #[inline]
    fn prefix_range(&self, prefix: &[u8]) -> (u32, u32) {
        let bytes = prefix;
        let key = prefix_key(bytes);
        let (lo, hi) = match self.exact_range(key) {
            Ok((lo, hi)) => (lo as usize, hi as usize),
            Err(false) if bytes.len() >= 8 => return (0, 0),
            Err(_) => {
                let (mut from, mut to) = (0, self.keys.len());
                let b = (key >> 56) as usize;
                if let (Some(&f), Some(&t)) = (self.first_byte.get(b), self.first_byte.get(b + 1)) {
                    (from, to) = (f as usize, t as usize);
                }
                let keys = self.keys.get(from..to).unwrap_or(&[]);
                let lo = from + keys.partition_point(|&k| k < key);
                (lo, self.run_end(lo, upper_of(key, bytes.len())))
            }
        };
        if bytes.len() <= 8 {
            return (lo as u32, hi as u32);
        }
        // Longer prefixes: the few words sharing the first 8 bytes, compared as strings
        // (nearly always one word).
        let words = self.vocab.get(lo..hi).unwrap_or(&[]);
        if let [word] = words {
            let starts = word.as_bytes().get(..bytes.len()) == Some(bytes);
            return (lo as u32, (lo + usize::from(starts)) as u32);
        }
        let start = lo + words.partition_point(|w| w.as_bytes() < prefix);
        let rest = self.vocab.get(start..hi).unwrap_or(&[]);
        let len = rest.partition_point(|w| w.as_bytes().starts_with(prefix));
        (start as u32, (start + len) as u32)
    }

    fn at(offsets: &[u32], i: u32) -> usize {
        offsets.get(i as usize).copied().unwrap_or(0) as usize
    }

    /// How many (word, file) postings a range of word ids has.
    fn posting_count(&self, (lo, hi): (u32, u32)) -> usize {
        Self::at(&self.postings_at, hi).saturating_sub(Self::at(&self.postings_at, lo))
    }

    /// The postings of a range of word ids as stored: each word's ascending, one after
    /// the other (so a file may repeat).
    fn postings_of(&self, (lo, hi): (u32, u32)) -> &[u32] {
        self.postings
            .get(Self::at(&self.postings_at, lo)..Self::at(&self.postings_at, hi))
            .unwrap_or(&[])
    }

    /// The files (ascending, distinct) named by any word of a range of word ids.
    #[inline]
    fn files_of(&self, (lo, hi): (u32, u32)) -> Cow<'_, [u32]> {
        if hi - lo <= 1 {
            return Cow::Borrowed(self.postings_of((lo, hi)));
        }
        Cow::Owned(self.files_of_many((lo, hi)))
    }

    /// [`KeywordIndex::files_of`] a range of several words: their postings merged.
    fn files_of_many(&self, range: (u32, u32)) -> Vec<u32> {
        let mut files = self.postings_of(range).to_vec();
        files.sort_unstable();
        files.dedup();
        files
    }

    /// Positions of files where every word of `words` starts a word of the name.
    fn matches<'w>(&self, words: impl Iterator<Item = &'w [u8]>) -> Vec<u32> {
        // Up to `INLINE_WORDS` ranges on the stack: nearly every query has that few
        // words, and this runs once per query a node receives.
        let mut inline = [(0u32, 0u32); INLINE_WORDS];
        let mut spilled: Vec<(u32, u32)> = Vec::new();
        let mut n = 0;
        for word in words {
            let range = self.prefix_range(word);
            if range.0 == range.1 {
                return Vec::new();
            }
            // A repeated word (or two with the same prefix range) adds nothing but work:
            // "s s s ... s" must cost what "s" does.
            let seen = if spilled.is_empty() {
                &inline[..n]
            } else {
                &spilled[..]
            };
            if seen.contains(&range) {
                continue;
            }
            match inline.get_mut(n) {
                Some(slot) => *slot = range,
                None => {
                    if spilled.is_empty() {
                        spilled.extend_from_slice(&inline);
                    }
                    spilled.push(range);
                }
            }
            n += 1;
        }
        let ranges: &[(u32, u32)] = if spilled.is_empty() {
            &inline[..n]
        } else {
            &spilled
        };
        self.files_of_all(ranges)
    }

    /// The files named by a word of every range (distinct, non-empty ranges). Not generic
    /// over the words' iterator: one copy of this code, whichever way the query was split.
    fn files_of_all(&self, ranges: &[(u32, u32)]) -> Vec<u32> {
        // Intersect posting lists starting from the rarest, so the work is bounded by the
        // rarest word and stays in a few sequential runs of memory. (A minimum, not a
        // sort: nearly every query has two words.)
        let Some((first, &rarest)) = ranges
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| self.posting_count(**r))
        else {
            return Vec::new();
        };
        let rarest = self.files_of(rarest);
        let mut found: Option<Vec<u32>> = None;
        for (i, &range) in ranges.iter().enumerate() {
            if i == first {
                continue;
            }
            let so_far = found.as_deref().unwrap_or(&rarest);
            if so_far.is_empty() {
                break;
            }
            found = Some(self.intersect(so_far, range));
        }
        found.unwrap_or_else(|| rarest.into_owned())
    }

    /// The files of `candidates` (ascending, distinct) named by a word of `range`.
    #[inline]
    fn intersect(&self, candidates: &[u32], range: (u32, u32)) -> Vec<u32> {
        if !self.signatures.is_empty() && range.1 - range.0 <= CONFIRM_PER_WORD {
            self.intersect_by_signature(candidates, range)
        } else {
            self.intersect_by_filter(candidates, range)
        }
    }

    /// [`KeywordIndex::intersect`] through the file signatures (a range of a few words).
    /// Its own function: the loop keeps its values in registers.
    #[inline(never)]
    fn intersect_by_signature(&self, candidates: &[u32], range: (u32, u32)) -> Vec<u32> {
        let signatures = self.signatures.as_slice();
        let signature = |p: u32| signatures.get(p as usize).copied().unwrap_or(0);
        // Grown on the first match, not sized up front: most intersections are empty,
        // and then cost no allocation.
        let mut kept = Vec::new();
        if range.1 - range.0 == 1 {
            // One word (nearly always): its mask and postings fetched once.
            let mask = word_mask(range.0);
            let own = self.postings_of(range);
            for &p in candidates {
                if !signature(p) & mask == 0 && own.binary_search(&p).is_ok() {
                    kept.push(p);
                }
            }
            return kept;
        }
        // A few words: their masks computed once, not per candidate.
        let mut masks = [0u64; CONFIRM_PER_WORD as usize];
        for (mask, w) in masks.iter_mut().zip(range.0..range.1) {
            *mask = word_mask(w);
        }
        let masks = masks
            .get(..(range.1 - range.0) as usize)
            .unwrap_or_default();
        for &p in candidates {
            let lacks = !signature(p);
            if masks.iter().zip(range.0..).any(|(&mask, w)| {
                lacks & mask == 0 && self.postings_of((w, w + 1)).binary_search(&p).is_ok()
            }) {
                kept.push(p);
            }
        }
        kept
    }

    /// [`KeywordIndex::intersect`] through a Bloom filter of the range's postings, or a
    /// binary search per candidate.
    fn intersect_by_filter(&self, candidates: &[u32], range: (u32, u32)) -> Vec<u32> {
        let mut kept = Vec::new();
        let raw = self.postings_of(range);
        if raw.len() <= candidates.len() * FILTER_RATIO {
            // Lists of like sizes: the word's files go into a one-hash Bloom filter on the
            // stack (independent stores, any order, repeats and all, so no sort), and a
            // candidate passing it is confirmed in the word's own sorted postings. A
            // filter, not a bitset over all files: 256 bytes to clear, not a table the
            // size of the library, and a merge would be a chain of dependent loads.
            const WORDS: usize = FILTER_BITS / 64;
            let mut filter = [0u64; WORDS];
            for &p in raw {
                // The modulo keeps the index in bounds: no check per posting.
                filter[(p as usize / 64) % WORDS] |= 1 << (p % 64);
            }
            let passes = |p: u32| filter[(p as usize / 64) % WORDS] >> (p % 64) & 1 == 1;
            // Confirming in each word's own postings costs a search per word of the
            // range for a candidate that is in none of them: fine for a whole word or a
            // few, not for a short prefix naming hundreds (then the filter is nearly full
            // too), whose files are sorted once instead.
            // Plain loops, not `filter().collect()`: the compiler left that closure out of
            // line in some builds, a call per candidate (the library bench moved ±13 %
            // between builds of unchanged code).
            if range.1 - range.0 <= CONFIRM_PER_WORD {
                for &p in candidates {
                    if passes(p)
                        && (range.0..range.1)
                            .any(|w| self.postings_of((w, w + 1)).binary_search(&p).is_ok())
                    {
                        kept.push(p);
                    }
                }
                return kept;
            }
            let others = self.files_of(range);
            for &p in candidates {
                if passes(p) && others.binary_search(&p).is_ok() {
                    kept.push(p);
                }
            }
            return kept;
        }
        let others = self.files_of(range);
        candidates
            .iter()
            .copied()
            .filter(|p| others.binary_search(p).is_ok())
            .collect()
    }
}

/// The most words a prefix range may name for `intersect` to confirm a candidate in each
/// word's postings; a wider one has its files sorted once.
const CONFIRM_PER_WORD: u32 = 4;

/// A word whose postings are at most `FILTER_RATIO` times the candidates is intersected
/// through a `FILTER_BITS` Bloom filter of its files; a longer one by a binary search per
/// candidate. Same result either way.
const FILTER_RATIO: usize = 16;
const FILTER_BITS: usize = 2048;

impl Library {
    /// The empty library (usable in statics).
    pub const EMPTY: Library = Library {
        files: Vec::new(),
        index: None,
        digests: Vec::new(),
    };

    pub fn new() -> Library {
        Library::default()
    }

    /// A library of `files` (indexes are taken as given).
    pub fn from_files(files: impl IntoIterator<Item = SharedFile>) -> Library {
        let mut library = Library {
            files: files.into_iter().collect(),
            ..Library::new()
        };
        library.reindex();
        library
    }

    /// Adds one file (rebuilds the index: use [`Library::from_files`] for many).
    pub fn add(&mut self, file: SharedFile) {
        self.files.push(file);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.digests = self
            .files
            .iter()
            .enumerate()
            .map(|(p, f)| (f.sha1, p as u32))
            .collect();
        self.digests.sort_unstable();
        self.index = if self.files.is_empty() {
            None
        } else {
            Some(Box::new(KeywordIndex::build(&self.files)))
        };
    }

    pub fn files(&self) -> &[SharedFile] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total size in KiB, for our Pongs.
    pub fn total_kib(&self) -> u32 {
        let bytes: u64 = self.files.iter().map(|f| f.size).sum();
        u32::try_from(bytes / 1024).unwrap_or(u32::MAX)
    }

    /// The file advertised under `index` (for the HTTP server's `/get/<index>/...`).
    pub fn by_index(&self, index: u32) -> Option<&SharedFile> {
        self.files.iter().find(|f| f.index == index)
    }

    /// The file with this digest (for `/uri-res/N2R?urn:sha1:...`).
    pub fn by_sha1(&self, sha1: &Sha1) -> Option<&SharedFile> {
        let start = self.digests.partition_point(|(d, _)| d < sha1);
        self.digests
            .get(start)
            .filter(|(d, _)| d == sha1)
            .and_then(|(_, pos)| self.files.get(*pos as usize))
    }

    /// The files `query` matches, URN matches first, then keyword matches in library
    /// order, at most `limit`.
    pub fn search(&self, query: &Query, limit: usize) -> Vec<&SharedFile> {
        self.search_split(query, None, limit)
    }

    /// [`Library::search`] with the criteria already split (`words`, when
    /// [`QueryWords::split`] applies to them).
    pub fn search_split(
        &self,
        query: &Query,
        words: Option<&QueryWords<'_>>,
        limit: usize,
    ) -> Vec<&SharedFile> {
        let Some(index) = self.index.as_deref() else {
            return Vec::new();
        };
        let mut found: Vec<u32> = Vec::new();
        for sha1 in query.sha1s() {
            let start = self.digests.partition_point(|(d, _)| d < sha1);
            for (digest, pos) in self.digests.iter().skip(start) {
                if digest != sha1 {
                    break;
                }
                if !found.contains(pos) {
                    found.push(*pos);
                }
            }
        }
        // Lower-case ASCII criteria (most queries) are split in place, byte by byte
        // through a class table (once, by the caller or here, when they have up to 8
        // words: one pass, where checking the bytes and then iterating took two);
        // anything else is normalised first.
        let criteria = query.criteria.as_str();
        let split;
        let words = match words {
            Some(words) => Some(words),
            None => {
                split = QueryWords::split(criteria);
                split.as_ref()
            }
        };
        let mut keyword_hits = if let Some(words) = words {
            index.matches(words.iter())
        } else if criteria
            .bytes()
            .all(|b| BYTE_CLASS[usize::from(b)] != NEEDS_NORMALISING)
        {
            index.matches(AsciiWords(criteria.as_bytes()))
        } else {
            let normal = normalise(criteria);
            index.matches(
                normal
                    .as_bytes()
                    .split(|&b| b == b' ')
                    .filter(|w| !w.is_empty()),
            )
        };
        if found.is_empty() {
            if keyword_hits.is_empty() {
                // Most queries: nothing to look up or collect.
                return Vec::new();
            }
            found = keyword_hits;
        } else {
            keyword_hits.retain(|pos| !found.contains(pos));
            found.extend(keyword_hits);
        }
        found
            .into_iter()
            .take(limit)
            .filter_map(|pos| self.files.get(pos as usize))
            .collect()
    }

    /// Heap bytes held (an estimate, for memory reports).
    pub fn heap_bytes(&self) -> usize {
        let files: usize = self
            .files
            .iter()
            .map(|f| std::mem::size_of_val(f) + f.name.len())
            .sum();
        let index = self.index.as_ref().map_or(0, |i| {
            std::mem::size_of::<KeywordIndex>()
                + i.vocab.iter().map(|w| 16 + w.len()).sum::<usize>()
                + 8 * i.keys.len()
                + 8 * (i.exact.len() + i.signatures.len())
                + 4 * (i.first_byte.len() + i.postings_at.len() + i.postings.len())
        });
        files + index + self.digests.capacity() * std::mem::size_of::<(Sha1, u32)>()
    }
}

/// Lower-cases `text` and turns every run of non-alphanumeric characters into one space
/// (no leading or trailing space): the form names, queries and cache keys are compared in.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(index: u32, name: &str) -> SharedFile {
        SharedFile {
            index,
            name: name.to_string(),
            size: 1000,
            sha1: Sha1::of_bytes(name.as_bytes()),
        }
    }

    fn names(found: Vec<&SharedFile>) -> Vec<&str> {
        found.iter().map(|f| f.name.as_str()).collect()
    }

    fn lib() -> Library {
        Library::from_files([
            file(1, "debian-12.5-netinst.iso"),
            file(2, "Ubuntu_Desktop 24.04.iso"),
            file(3, "Debian Reference Card.pdf"),
            file(7, "Ünïcode Ñame.txt"),
            file(8, "supercalifragilistic supercalifornia.ogg"),
        ])
    }

    #[test]
    fn every_word_must_prefix_a_name_word() {
        let l = lib();
        assert_eq!(
            names(l.search(&Query::keywords("debian netinst"), 10)),
            ["debian-12.5-netinst.iso"]
        );
        assert_eq!(names(l.search(&Query::keywords("DEB"), 10)).len(), 2);
        assert_eq!(
            names(l.search(&Query::keywords("deb ref"), 10)),
            ["Debian Reference Card.pdf"]
        );
        assert!(
            l.search(&Query::keywords("ebian"), 10).is_empty(),
            "infix is not a match"
        );
        assert!(l.search(&Query::keywords("debian ubuntu"), 10).is_empty());
        assert_eq!(
            names(l.search(&Query::keywords("ubuntu 24"), 10)),
            ["Ubuntu_Desktop 24.04.iso"]
        );
        assert_eq!(
            names(l.search(&Query::keywords("ñame"), 10)),
            ["Ünïcode Ñame.txt"]
        );
    }

    #[test]
    fn prefixes_longer_than_eight_bytes_match_exactly() {
        let l = lib();
        assert_eq!(l.search(&Query::keywords("supercalif"), 10).len(), 1);
        assert_eq!(l.search(&Query::keywords("supercalifr"), 10).len(), 1);
        assert_eq!(
            l.search(&Query::keywords("supercalifo supercalifr"), 10)
                .len(),
            1
        );
        assert!(l.search(&Query::keywords("supercalifx"), 10).is_empty());
        assert!(l
            .search(&Query::keywords("supercalifragilisticx"), 10)
            .is_empty());
    }

    #[test]
    fn urn_query_matches_by_digest_and_limit_applies() {
        let l = lib();
        let sha1 = Sha1::of_bytes(b"Debian Reference Card.pdf");
        assert_eq!(
            names(l.search(&Query::by_urn(sha1), 10)),
            ["Debian Reference Card.pdf"]
        );
        assert_eq!(l.search(&Query::keywords("iso"), 1).len(), 1);
        assert_eq!(l.by_sha1(&sha1).map(|f| f.index), Some(3));
        assert_eq!(
            l.by_index(7).map(|f| f.name.as_str()),
            Some("Ünïcode Ñame.txt")
        );
    }

    #[test]
    fn index_agrees_with_a_brute_force_scan() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let syllables = ["ka", "lo", "mi", "ra", "tu", "ne", "so", "vi", "x1", "Zé"];
        let word = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
            (0..rng.gen_range(1..4))
                .map(|_| syllables[rng.gen_range(0..syllables.len())])
                .collect()
        };
        let files: Vec<SharedFile> = (0..500)
            .map(|i| {
                let name: Vec<String> = (0..rng.gen_range(1..6)).map(|_| word(&mut rng)).collect();
                file(i, &name.join(if i % 2 == 0 { " " } else { "_-" }))
            })
            .collect();
        let library = Library::from_files(files.clone());
        let index = library.index.as_deref().map(|i| i.first_byte.len());
        assert_eq!(
            index,
            Some(257),
            "large enough to use the leading-byte table"
        );
        for round in 0..300 {
            let mut words: Vec<String> = (0..rng.gen_range(1..4)).map(|_| word(&mut rng)).collect();
            // Short prefixes naming many words, and repeated words, take other paths.
            if round % 3 == 1 {
                words.push(syllables[rng.gen_range(0..syllables.len())][..1].to_lowercase());
            }
            if round % 5 == 2 {
                let again = words[0].clone();
                words.extend([again.clone(), again]);
            }
            let criteria = words.join(" ");
            let expected: Vec<&str> = files
                .iter()
                .filter(|f| {
                    let name = normalise(&f.name);
                    normalise(&criteria)
                        .split(' ')
                        .all(|w| name.split(' ').any(|n| n.starts_with(w)))
                })
                .map(|f| f.name.as_str())
                .collect();
            let query = Query::keywords(&criteria);
            assert_eq!(names(library.search(&query, 1000)), expected, "{criteria}");
            // The words split once for the node (when the split applies).
            let split = QueryWords::split(&criteria);
            assert_eq!(
                names(library.search_split(&query, split.as_ref(), 1000)),
                expected,
                "{criteria} (split)"
            );
        }
    }

    #[test]
    fn a_large_library_with_long_shared_prefixes_agrees_with_a_brute_force_scan() {
        // 300 distinct words, many sharing their first 8 bytes, so the exact table and the
        // signatures are built and a range of several words goes through them.
        let words: Vec<String> = (0..300)
            .map(|i| match i % 3 {
                0 => format!("supercalifragilistic{i}"),
                1 => format!("superca{i}"),
                _ => format!("w{i}"),
            })
            .collect();
        let files: Vec<SharedFile> = (0..400)
            .map(|i| {
                let name = format!("{} {}", words[i % 300], words[(i * 7 + 1) % 300]);
                file(i as u32, &name)
            })
            .collect();
        let library = Library::from_files(files.clone());
        assert!(library
            .index
            .as_deref()
            .is_some_and(|i| !i.exact.is_empty()));
        for criteria in [
            "supercalif",
            "supercalifragilistic3",
            "supercalifragilistic30 superca1",
            "supercalifx",
            "superca",
            "superca1 w2",
            "superca10 supercal",
            "w",
            "w5 w",
            "w29 superca",
            "superc w1",
            "x",
        ] {
            let expected: Vec<&str> = files
                .iter()
                .filter(|f| {
                    let name = normalise(&f.name);
                    criteria
                        .split(' ')
                        .all(|w| name.split(' ').any(|n| n.starts_with(w)))
                })
                .map(|f| f.name.as_str())
                .collect();
            let found = library.search(&Query::keywords(criteria), 1000);
            assert_eq!(names(found), expected, "{criteria}");
        }
    }

    #[test]
    fn prefix_key_is_the_first_eight_bytes_zero_padded() {
        let text = b"abcdefghij";
        for n in 0..=text.len() {
            let mut padded = [0u8; 8];
            let fixed = n.min(8);
            padded[..fixed].copy_from_slice(&text[..fixed]);
            assert_eq!(prefix_key(&text[..n]), u64::from_be_bytes(padded), "{n}");
        }
    }

    #[test]
    fn normalise_splits_on_non_alphanumerics() {
        assert_eq!(normalise("  Foo--BAR.mp3 "), "foo bar mp3");
        assert_eq!(normalise("\\"), "");
    }
}
