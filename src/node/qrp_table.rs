//! A Query Routing Protocol table (PROTOCOL.md §6.2): which keyword hashes a peer's shared
//! files can answer, built from a [`Library`], tested against a [`Query`], and turned into
//! the RESET + PATCH messages that send it to an ultrapeer.
//!
//! A table is 2^bits slots of one bit each ("present" or "absent"): only presence
//! matters between a leaf and its ultrapeer, as both gtk-gnutella (compacted 1-bit
//! arenas) and LimeWire (a `BitSet`) store it.
//!
//! **What goes in** (decided here, a superset of both real servents' choices):
//! - every word of every file name, split and lower-cased exactly as [`Library`] matches
//!   names (on every non-alphanumeric character), then folded
//!   ([`crate::protocol::qrp::fold_keyword`]: accents stripped); a word whose fold
//!   differs is also inserted unfolded, for an ultrapeer that does not strip accents;
//! - the whole word whatever its length (LimeWire inserts short words too and hashes
//!   every query word), and **every prefix of 3 bytes or more**. LimeWire inserts a
//!   word of 5+ characters with its last 1 and 2 characters cut, gtk-gnutella up to 5
//!   cuts down to 4 bytes; our [`Library`] answers a query word that is *any* prefix of
//!   a name word, so only all prefixes make the table never refuse a query the library
//!   would answer. The price is a fuller table (a 7-letter word fills up to 5 slots);
//! - each file's `urn:sha1:` URN, so URN queries reach only the leaves holding the file
//!   (LimeWire's `contains` looks URNs up the same way; without them a URN query would
//!   pass no table).
//!
//! **What a query needs** ([`QrpTable::contains_query`], the ultrapeer's test before
//! handing a query to a leaf): one of its SHA-1 URNs present, or every query word of 3
//! bytes or more (gtk-gnutella's `QRP_MIN_WORD_LENGTH` counts bytes, so every word of 3
//! characters or more) present: AND, as LimeWire and gtk-gnutella do. A query with only
//! shorter words cannot be judged and passes, as in both (their loops find nothing to
//! refuse); an empty query passes nothing.
//!
//! **Size**: [`DEFAULT_BITS`] = 17, 128 Ki slots, LimeWire's default and gtk-gnutella's
//! largest inter-ultrapeer table; 16 KiB in memory. Every ultrapeer accepts it
//! (gtk-gnutella takes 2^14..2^21 slots, shrinking larger ones). Measured
//! (`tests/qrp.rs`, `qrp_figures`): names of 4–9-letter words fill about 5 slots per
//! distinct word, so 2^17 slots are 1.5 % full for 421 distinct words, 10 % for 2,966 and
//! 22 % for 4,998 — the share of single-word queries for absent words that still pass.
//! A peer sharing that many words wants 2^20 (3 % full at 4,998 words, 42 KB to send).
//!
//! **Sending** ([`QrpTable::update_messages`]) follows LimeWire's `QueryRouteTable.encode`:
//! a RESET (`infinity` 7) when the ultrapeer has no table of this size yet, then the
//! slot-by-slot difference as 4-bit signed entries (present = 1 − 7 = −6 = nibble 0xA,
//! gone = +6, unchanged 0; the first slot in the high nibble), zlib-compressed when that
//! is smaller, cut into PATCH messages of at most [`MAX_PATCH_DATA`] bytes (LimeWire's
//! 4 KiB), more per message only when 255 would not hold it (gtk-gnutella's rule). Like
//! gtk-gnutella, a RESET is always followed by a PATCH sequence, even for an empty table,
//! so the receiver always ends with a complete table.

use std::io::Write;

use bytes::Bytes;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::library::{normalise, Library};
use crate::protocol::qrp::{
    fold_keyword_into, hash_code, restrict, Patch, RouteTableUpdate, COMPRESSOR_NONE,
    COMPRESSOR_ZLIB,
};
use crate::protocol::{Query, Sha1};

/// Default table size: 2^17 slots (LimeWire's default).
pub const DEFAULT_BITS: u8 = 17;
/// Largest table we build or accept: 2^21 slots (gtk-gnutella's `MAX_TABLE_BITS`).
pub const MAX_BITS: u8 = 21;
/// The "infinity" our RESETs announce (LimeWire's `DEFAULT_INFINITY`).
pub const INFINITY: u8 = 7;
/// Most patch bytes in one PATCH message (LimeWire's `MAX_PATCH_SIZE`).
pub const MAX_PATCH_DATA: usize = 4096;
/// Most messages in one PATCH sequence (`seq_size` is one byte).
pub const MAX_SEQ_SIZE: usize = 255;
/// Query words shorter than this (in UTF-8 bytes) are not looked up.
pub const MIN_WORD_BYTES: usize = 3;

/// A table of 2^bits one-bit slots.
#[derive(Clone, PartialEq, Eq)]
pub struct QrpTable {
    bits: u8,
    /// Slot i is bit (i % 64) of word i / 64.
    words: Box<[u64]>,
}

impl std::fmt::Debug for QrpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrpTable")
            .field("slots", &self.slots())
            .field("present", &self.present_count())
            .finish()
    }
}

impl QrpTable {
    /// An all-absent table of 2^bits slots (`bits` is capped at [`MAX_BITS`]).
    pub fn empty(bits: u8) -> QrpTable {
        let bits = bits.min(MAX_BITS);
        let words = (1usize << bits).div_ceil(64);
        QrpTable {
            bits,
            words: vec![0u64; words].into_boxed_slice(),
        }
    }

    /// The table of a library, at the default size.
    pub fn from_library(library: &Library) -> QrpTable {
        QrpTable::from_library_with_bits(library, DEFAULT_BITS)
    }

    /// The table of a library with 2^bits slots.
    pub fn from_library_with_bits(library: &Library, bits: u8) -> QrpTable {
        let mut table = QrpTable::empty(bits);
        for file in library.files() {
            table.insert_name(&file.name);
            table.insert_sha1(&file.sha1);
        }
        table
    }

    /// log2 of the slot count.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The number of slots (a power of two).
    pub fn slots(&self) -> u32 {
        1u32 << self.bits
    }

    /// How many slots are present.
    pub fn present_count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// Present slots as a share of all slots (0.0..=1.0).
    pub fn fill_ratio(&self) -> f64 {
        f64::from(self.present_count()) / f64::from(self.slots())
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.words.len() * 8
    }

    /// Whether slot `slot` is present (false beyond the table).
    pub fn is_present(&self, slot: u32) -> bool {
        let i = slot as usize;
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Marks slot `slot` present or absent (ignored beyond the table).
    pub fn set(&mut self, slot: u32, present: bool) {
        let i = slot as usize;
        if let Some(w) = self.words.get_mut(i / 64) {
            let bit = 1u64 << (i % 64);
            if present {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// Whether a 32-bit QRP hash code falls on a present slot.
    pub fn contains_code(&self, code: u32) -> bool {
        self.is_present(restrict(code, self.bits))
    }

    /// Whether `word` (hashed as given: fold it first) falls on a present slot.
    pub fn contains_word(&self, word: &str) -> bool {
        self.contains_code(hash_code(word))
    }

    /// Marks `word` (hashed as given) present.
    pub fn insert_word(&mut self, word: &str) {
        let slot = restrict(hash_code(word), self.bits);
        self.set(slot, true);
    }

    /// Marks a SHA-1 URN present, as `urn:sha1:<base32>`.
    pub fn insert_sha1(&mut self, sha1: &Sha1) {
        self.insert_word(&sha1.to_urn());
    }

    /// Inserts the keywords of one file name (see the module docs: words, folded and
    /// not, whole and every prefix of 3 bytes or more).
    pub fn insert_name(&mut self, name: &str) {
        let mut folded = String::new();
        for word in normalise(name).split(' ').filter(|w| !w.is_empty()) {
            folded.clear();
            fold_keyword_into(word, &mut folded);
            self.insert_with_prefixes(&folded);
            if folded != word {
                self.insert_with_prefixes(word);
            }
        }
    }

    fn insert_with_prefixes(&mut self, word: &str) {
        if word.is_empty() {
            return;
        }
        self.insert_word(word);
        for (end, _) in word
            .char_indices()
            .filter(|&(end, _)| end >= MIN_WORD_BYTES)
        {
            self.insert_word(&word[..end]);
        }
    }

    /// Whether a leaf with this table may answer `query` (see the module docs): one of
    /// its SHA-1s present, or every keyword of 3 bytes or more present.
    pub fn contains_query(&self, query: &Query) -> bool {
        self.matches(&QueryKeys::of(query))
    }

    /// [`QrpTable::contains_query`] for a query already hashed: an ultrapeer hashes a
    /// query once and tests it against each leaf's table.
    pub fn matches(&self, keys: &QueryKeys) -> bool {
        if keys.urns.iter().any(|&code| self.contains_code(code)) {
            return true;
        }
        if !keys.words.iter().all(|&code| self.contains_code(code)) {
            return false;
        }
        // Only short words: nothing to judge by, so pass (as LimeWire and gtk-gnutella).
        !keys.words.is_empty() || keys.any_word
    }

    /// The same keywords in a table of 2^bits slots: a smaller table ORs the slots each
    /// of its slots covers, a larger one repeats each slot (PROTOCOL.md §6.2, "hash is
    /// interpolatable"). A word present here is present in the result.
    pub fn resized(&self, bits: u8) -> QrpTable {
        let bits = bits.min(MAX_BITS);
        let mut out = QrpTable::empty(bits);
        if bits <= self.bits {
            let shift = self.bits - bits;
            for slot in self.present_slots() {
                out.set(slot >> shift, true);
            }
        } else {
            let shift = bits - self.bits;
            let run = 1u32 << shift;
            for slot in self.present_slots() {
                for j in 0..run {
                    out.set((slot << shift) | j, true);
                }
            }
        }
        out
    }

    /// Adds every keyword of `other` (of any size) to this table: what an ultrapeer does
    /// with its leaves' tables to build the one it sends other ultrapeers (last-hop QRP).
    pub fn merge(&mut self, other: &QrpTable) {
        let other = if other.bits == self.bits {
            std::borrow::Cow::Borrowed(other)
        } else {
            std::borrow::Cow::Owned(other.resized(self.bits))
        };
        for (mine, theirs) in self.words.iter_mut().zip(other.words.iter()) {
            *mine |= theirs;
        }
    }

    /// The present slots, ascending.
    pub fn present_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut rest = w;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros();
                rest &= rest - 1;
                Some((i as u32) * 64 + bit)
            })
        })
    }

    /// The messages that bring a peer holding `previous` (the last table it received
    /// from us completely, or `None`) to this table: empty when nothing changed; a
    /// RESET first when it holds nothing or a table of another size.
    pub fn update_messages(&self, previous: Option<&QrpTable>) -> Vec<RouteTableUpdate> {
        let previous = previous.filter(|p| p.bits == self.bits);
        let mut messages = Vec::new();
        if previous.is_none() {
            messages.push(RouteTableUpdate::Reset {
                table_len: self.slots(),
                infinity: INFINITY,
            });
        } else if previous == Some(self) {
            return messages;
        }
        let present = (1 - i16::from(INFINITY)) as u8 & 0x0F; // -6 → 0xA
        let absent = (i16::from(INFINITY) - 1) as u8 & 0x0F; // +6
        let slots = self.slots() as usize;
        let mut raw = vec![0u8; slots.div_ceil(2)];
        for slot in 0..self.slots() {
            let now = self.is_present(slot);
            let before = previous.is_some_and(|p| p.is_present(slot));
            let nibble = match (before, now) {
                (false, true) => present,
                (true, false) => absent,
                _ => 0,
            };
            if nibble != 0 {
                let byte = &mut raw[slot as usize / 2];
                *byte |= if slot % 2 == 0 { nibble << 4 } else { nibble };
            }
        }
        let (data, compressor) = match deflate(&raw) {
            Some(z) if z.len() < raw.len() => (z, COMPRESSOR_ZLIB),
            _ => (raw, COMPRESSOR_NONE),
        };
        let data = Bytes::from(data);
        let chunk = MAX_PATCH_DATA.max(data.len().div_ceil(MAX_SEQ_SIZE)).max(1);
        let seq_size = data.len().div_ceil(chunk).max(1);
        for (i, start) in (0..data.len().max(1)).step_by(chunk).enumerate() {
            let end = (start + chunk).min(data.len());
            messages.push(RouteTableUpdate::Patch(Patch {
                seq_no: (i + 1) as u8,
                seq_size: seq_size as u8,
                compressor,
                entry_bits: 4,
                data: data.slice(start..end),
            }));
        }
        messages
    }
}

/// A query's QRP hash codes, computed once for the tables of many links.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryKeys {
    /// Its SHA-1 URNs (`urn:sha1:...`), any one of which suffices.
    urns: Vec<u32>,
    /// Its folded keywords of [`MIN_WORD_BYTES`] or more, all of which must be present.
    words: Vec<u32>,
    /// It has words at all (shorter ones only pass every table).
    any_word: bool,
}

impl QueryKeys {
    /// The codes of `query` (see the module docs).
    pub fn of(query: &Query) -> QueryKeys {
        let urns = query
            .sha1s()
            .copied()
            .chain(query.find_sha1())
            .map(|sha1| hash_code(&sha1.to_urn()))
            .collect();
        let mut keys = QueryKeys {
            urns,
            ..QueryKeys::default()
        };
        let mut folded = String::new();
        for word in normalise(&query.criteria)
            .split(' ')
            .filter(|w| !w.is_empty())
        {
            keys.any_word = true;
            folded.clear();
            fold_keyword_into(word, &mut folded);
            if folded.len() >= MIN_WORD_BYTES {
                keys.words.push(hash_code(&folded));
            }
        }
        keys
    }
}

/// `bytes` as one zlib stream (None only if the in-memory encoder fails).
fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::SharedFile;
    use crate::protocol::qrp::hash;

    fn library(names: &[&str]) -> Library {
        Library::from_files(names.iter().enumerate().map(|(i, name)| SharedFile {
            index: i as u32,
            name: name.to_string(),
            size: 1000,
            sha1: Sha1::of_bytes(name.as_bytes()),
        }))
    }

    #[test]
    fn golden_update_of_an_eight_slot_table() {
        let mut table = QrpTable::empty(3);
        table.insert_word("test");
        assert_eq!(hash("test", 3), 2);
        let messages = table.update_messages(None);
        assert_eq!(
            messages,
            vec![
                RouteTableUpdate::Reset {
                    table_len: 8,
                    infinity: 7
                },
                RouteTableUpdate::Patch(Patch {
                    seq_no: 1,
                    seq_size: 1,
                    compressor: COMPRESSOR_NONE,
                    entry_bits: 4,
                    data: Bytes::from_static(&[0x00, 0xA0, 0x00, 0x00]),
                })
            ]
        );
        assert!(table.update_messages(Some(&table)).is_empty());
    }

    #[test]
    fn names_insert_folded_words_and_prefixes() {
        let table = QrpTable::from_library(&library(&["Debian-12 Ñandú.iso"]));
        for word in [
            "debian", "debia", "debi", "deb", "12", "iso", "nandu", "nand", "nan", "ñandú", "ñan",
        ] {
            assert!(table.contains_word(word), "{word}");
        }
        let q = |s: &str| table.contains_query(&Query::keywords(s));
        assert!(q("debian"));
        assert!(q("DEB iso"));
        assert!(q("Ñandu"));
        assert!(q("de"), "short words cannot be judged");
        assert!(!q("ubuntu"));
        assert!(!q("debian ubuntu"), "every word must be present");
        assert!(!q(""), "nothing to match");
        let sha1 = Sha1::of_bytes(b"Debian-12 \xc3\x91and\xc3\xba.iso");
        assert!(table.contains_query(&Query::by_urn(sha1)));
        assert!(!table.contains_query(&Query::by_urn(Sha1::of_bytes(b"other"))));
    }

    #[test]
    fn resizing_keeps_every_word() {
        let words = ["jazz", "blues", "ndflaleme", "été", "音楽", "urn:sha1:ABC"];
        let mut table = QrpTable::empty(14);
        for w in words {
            table.insert_word(w);
        }
        for bits in [3, 8, 13, 14, 15, 18, 21] {
            let resized = table.resized(bits);
            assert_eq!(resized.bits(), bits);
            for w in words {
                assert!(resized.contains_word(w), "{w} at {bits} bits");
            }
        }
        let grown = table.resized(17);
        assert_eq!(grown.present_count(), table.present_count() * 8);
        let mut merged = QrpTable::empty(16);
        merged.merge(&table);
        merged.merge(&QrpTable::from_library_with_bits(&library(&["rock"]), 12));
        for w in words.into_iter().chain(["rock"]) {
            assert!(merged.contains_word(w), "{w}");
        }
    }

    #[test]
    fn patch_sequences_stay_within_limits() {
        // An incompressible worst case: every other slot present in a 2^21 table.
        let mut table = QrpTable::empty(MAX_BITS);
        let mut state = 0x1234_5678u32;
        for slot in 0..table.slots() {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if state & 1 == 1 {
                table.set(slot, true);
            }
        }
        let messages = table.update_messages(None);
        let patches = messages.len() - 1;
        assert!(patches <= MAX_SEQ_SIZE, "{patches} messages");
        for m in &messages[1..] {
            let RouteTableUpdate::Patch(p) = m else {
                panic!("a PATCH after the RESET")
            };
            assert_eq!(usize::from(p.seq_size), patches);
            assert!(!p.data.is_empty());
        }
    }
}
