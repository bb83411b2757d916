//! The Query Routing Protocol on the wire (PROTOCOL.md §2.7, §6.2): the keyword hash, the
//! keyword folding both ends must agree on, and the Route-Table-Update message (0x30).
//!
//! A leaf tells its ultrapeer which keywords it can answer by sending a table of 2^bits
//! slots, one per hash value, as a RESET (the table's size and "infinity") followed by a
//! sequence of PATCH messages carrying the difference to the previous table. The tables
//! themselves, the patch sequence and its hostile-input rules live in
//! `node::qrp_table`; this module is only the bytes.
//!
//! **The hash** is the one every servent uses (LimeWire `HashFunction`, gtk-gnutella
//! `qrp_hashcode`): the low 8 bits of each UTF-16 code unit of the keyword are XOR-ed into
//! a 32-bit word, byte by byte, little-endian and wrapping every 4 units; the word is
//! multiplied by 0x4F1BBCDC modulo 2^32 and the top `bits` bits are the slot. A character
//! outside the Basic Multilingual Plane counts as its two surrogates, high first (what
//! Java's `charAt` yields and what gtk-gnutella's `utf16_encode_char_compact` rebuilds).
//! Lower-casing follows LimeWire (`Character.toLowerCase(char)`): each BMP character is
//! mapped by its simple (one-to-one) lower-case mapping, surrogates are left alone.
//! gtk-gnutella hashes its canonical, already lower-cased form, so both agree on
//! [`fold_keyword`]'s output. Because the slot is the top bits of one 32-bit product, a
//! word's slot in a 2^(b-r) table is its slot in a 2^b table shifted right by r: tables
//! of different sizes interpolate (§6.2).
//!
//! **Folding**: keywords are lower-cased and stripped of accents (compatibility
//! decomposition, NFKD, then every combining mark dropped) before hashing, as
//! gtk-gnutella canonises names and queries and LimeWire's `I18NConvert` normalises them.
//! The fold is per character, so the fold of a word's prefix is a prefix of the word's
//! fold: prefix matching survives it.
//!
//! **Messages** (`payload type 0x30`, sent with TTL 1 and hops 0, never relayed):
//! - RESET: `00 | table_len u32 LE | infinity u8`, exactly 6 bytes;
//! - PATCH: `01 | seq_no u8 | seq_size u8 | compressor u8 | entry_bits u8 | data`, with at
//!   least one byte of data.
//!
//! This is the layout gtk-gnutella writes (`qrp_send_reset`, `qrp_send_patch`: the table
//! length little-endian, compressor 1 for zlib) and reads (`qrp_recv_reset` wants exactly
//! 6 bytes, `qrp_recv_patch` more than 5), and LimeWire's `ResetTableMessage` /
//! `PatchTableMessage`. gtk-gnutella drops (does not kick) a RESET of another length, a PATCH without data and
//! an unknown variant; here they are payload errors, which skip the descriptor and keep
//! the link. Out-of-range *values* (a table length that is not a power of two, infinity
//! 0, entry bits outside {1, 2, 4, 8}, ...) decode fine: they are judged by the receiving
//! table, which closes the link (gtk-gnutella: Bye 413).

use bytes::{BufMut, Bytes, BytesMut};
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::payload::{u32_le, PayloadError};

/// The RESET variant byte.
pub const VARIANT_RESET: u8 = 0x00;
/// The PATCH variant byte.
pub const VARIANT_PATCH: u8 = 0x01;
/// PATCH `compressor`: the data is sent as is.
pub const COMPRESSOR_NONE: u8 = 0x00;
/// PATCH `compressor`: the sequence's data, concatenated, is one zlib stream.
pub const COMPRESSOR_ZLIB: u8 = 0x01;
/// A RESET payload is exactly this long.
pub const RESET_LEN: usize = 6;
/// A PATCH payload's fixed part (variant, seq_no, seq_size, compressor, entry_bits).
pub const PATCH_HEADER_LEN: usize = 5;

/// The multiplier of the QRP hash (⌊(√5 − 1)/2 · 2^31⌋, Knuth's multiplicative hashing).
const A_INT: u32 = 0x4F1B_BCDC;

/// The full 32-bit QRP hash of `word`: restrict it to a table of 2^bits slots with
/// [`restrict`] (or call [`hash`]).
pub fn hash_code(word: &str) -> u32 {
    let mut x: u32 = 0;
    let mut shift: u32 = 0;
    let mut units = [0u16; 2];
    for c in word.chars() {
        for &unit in simple_lowercase(c).encode_utf16(&mut units).iter() {
            x ^= u32::from(unit & 0xFF) << shift;
            shift = (shift + 8) & 24;
        }
    }
    x.wrapping_mul(A_INT)
}

/// The slot of a hash code in a table of 2^bits slots (`bits` ≤ 32).
pub fn restrict(code: u32, bits: u8) -> u32 {
    match bits {
        0 => 0,
        1..=31 => code >> (32 - u32::from(bits)),
        _ => code,
    }
}

/// The slot of `word` in a table of 2^bits slots (PROTOCOL.md §6.2).
pub fn hash(word: &str, bits: u8) -> u32 {
    restrict(hash_code(word), bits)
}

/// LimeWire's `Character.toLowerCase(char)` on a BMP character; other characters (two
/// surrogates in Java) are left as they are.
fn simple_lowercase(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else if u32::from(c) <= 0xFFFF {
        // The first character of the full mapping is the simple mapping (the only
        // one-to-many lower-case mapping, U+0130, starts with its simple one, 'i').
        let lower = c.to_lowercase().next().unwrap_or(c);
        if u32::from(lower) <= 0xFFFF {
            lower
        } else {
            c
        }
    } else {
        c
    }
}

/// Appends the folded form of `word` to `out`: each character decomposed (NFKD), its
/// combining marks dropped, the rest lower-cased. "Ñame" → "name", "ﬁn" → "fin".
pub fn fold_keyword_into(word: &str, out: &mut String) {
    for c in word.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        decompose_compatible(c, |d| {
            if !is_combining_mark(d) {
                out.extend(d.to_lowercase());
            }
        });
    }
}

/// The folded form of `word` (see [`fold_keyword_into`]).
pub fn fold_keyword(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_keyword_into(word, &mut out);
    out
}

/// One Route-Table-Update message (payload type 0x30).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteTableUpdate {
    /// Start a new table of `table_len` slots, all at `infinity` (absent).
    Reset { table_len: u32, infinity: u8 },
    /// One message of a patch sequence.
    Patch(Patch),
}

/// One PATCH message: a piece of the sequence's (possibly compressed) patch data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    /// 1-based position in the sequence.
    pub seq_no: u8,
    /// Messages in the sequence.
    pub seq_size: u8,
    /// [`COMPRESSOR_NONE`] or [`COMPRESSOR_ZLIB`].
    pub compressor: u8,
    /// Bits per slot in the (inflated) data: 1, 2, 4 or 8.
    pub entry_bits: u8,
    /// This message's share of the sequence's data (never empty on the wire).
    pub data: Bytes,
}

/// Reads a Route-Table-Update payload.
pub(crate) fn decode(payload: Bytes) -> Result<RouteTableUpdate, PayloadError> {
    match payload.first() {
        None => Err(PayloadError::TooShort {
            what: "route table update",
            len: 0,
            min: 1,
        }),
        Some(&VARIANT_RESET) => {
            if payload.len() != RESET_LEN {
                return Err(PayloadError::QrpResetLength(payload.len()));
            }
            Ok(RouteTableUpdate::Reset {
                table_len: u32_le(&payload, 1),
                infinity: payload[5],
            })
        }
        Some(&VARIANT_PATCH) => {
            if payload.len() <= PATCH_HEADER_LEN {
                return Err(PayloadError::TooShort {
                    what: "route table patch",
                    len: payload.len(),
                    min: PATCH_HEADER_LEN + 1,
                });
            }
            Ok(RouteTableUpdate::Patch(Patch {
                seq_no: payload[1],
                seq_size: payload[2],
                compressor: payload[3],
                entry_bits: payload[4],
                data: payload.slice(PATCH_HEADER_LEN..),
            }))
        }
        Some(&other) => Err(PayloadError::QrpUnknownVariant(other)),
    }
}

/// The number of bytes [`encode`] writes.
pub(crate) fn encoded_len(update: &RouteTableUpdate) -> usize {
    match update {
        RouteTableUpdate::Reset { .. } => RESET_LEN,
        RouteTableUpdate::Patch(p) => PATCH_HEADER_LEN + p.data.len(),
    }
}

/// Appends the payload (no header).
pub(crate) fn encode(update: &RouteTableUpdate, out: &mut BytesMut) {
    match update {
        RouteTableUpdate::Reset {
            table_len,
            infinity,
        } => {
            out.put_u8(VARIANT_RESET);
            out.put_u32_le(*table_len);
            out.put_u8(*infinity);
        }
        RouteTableUpdate::Patch(p) => {
            out.put_u8(VARIANT_PATCH);
            out.put_u8(p.seq_no);
            out.put_u8(p.seq_size);
            out.put_u8(p.compressor);
            out.put_u8(p.entry_bits);
            out.put_slice(&p.data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PROTOCOL.md §6.2, checked against LimeWire's and gtk-gnutella's test tables.
    #[test]
    fn hash_matches_the_published_vectors() {
        let vectors: [(&str, u8, u32); 12] = [
            ("", 13, 0),
            ("eb", 13, 6791),
            ("ebc", 13, 7082),
            ("ebck", 13, 6698),
            ("ebcklmenq", 13, 3527),
            ("n", 16, 65003),
            ("nd", 16, 54193),
            ("ndflaleme", 16, 45559),
            ("3NJA9", 10, 581),
            ("zzzzzzzzzzz", 10, 944),
            ("test", 3, 2),
            ("qrp", 3, 7),
        ];
        for (word, bits, slot) in vectors {
            assert_eq!(hash(word, bits), slot, "hash({word:?}, {bits})");
        }
    }

    #[test]
    fn hash_ignores_case_and_interpolates() {
        assert_eq!(hash("NDFLALEME", 16), hash("ndflaleme", 16));
        assert_eq!(hash("ÉTÉ", 20), hash("été", 20));
        for word in ["jazz", "ndflaleme", "été", "音楽"] {
            for bits in 1..=24u8 {
                assert_eq!(hash(word, bits), hash(word, 24) >> (24 - bits));
            }
        }
    }

    /// Non-ASCII characters hash by the low byte of their UTF-16 code units: 'é' is
    /// U+00E9 (0xE9), '音' is U+97F3 (0xF3), and '𝄞' (U+1D11E) is the surrogates
    /// D834 DD1E (0x34, 0x1E) — not the UTF-8 bytes.
    #[test]
    fn hash_uses_utf16_code_units() {
        let by_units = |units: &[u16]| {
            let mut x = 0u32;
            for (i, u) in units.iter().enumerate() {
                x ^= u32::from(u & 0xFF) << (8 * (i % 4));
            }
            x.wrapping_mul(A_INT)
        };
        assert_eq!(hash_code("é"), by_units(&[0xE9]));
        assert_eq!(hash_code("音楽"), by_units(&[0x97F3, 0x697D]));
        assert_eq!(hash_code("a𝄞b"), by_units(&[0x61, 0xD834, 0xDD1E, 0x62]));
        assert_ne!(hash_code("é"), hash_code("\u{c3}\u{a9}"), "not UTF-8 bytes");
        // Supplementary characters are not lower-cased (Java lower-cases code units).
        assert_ne!(hash_code("\u{10400}"), hash_code("\u{10428}"));
        // U+0130 lower-cases to 'i' (its simple mapping), as Java's does.
        assert_eq!(hash_code("\u{130}"), hash_code("i"));
    }

    #[test]
    fn folding_strips_accents_and_compatibility_forms() {
        assert_eq!(fold_keyword("Ñame"), "name");
        assert_eq!(fold_keyword("Ünïcode"), "unicode");
        assert_eq!(fold_keyword("ÉTÉ"), "ete");
        assert_eq!(fold_keyword("ﬁn"), "fin");
        assert_eq!(fold_keyword("ＡＢＣ"), "abc");
        assert_eq!(fold_keyword("音楽"), "音楽");
        assert_eq!(fold_keyword("jazz"), "jazz");
        // Per character: the fold of a prefix is a prefix of the fold.
        let word = "Ñandúes";
        let folded = fold_keyword(word);
        for (i, _) in word.char_indices() {
            assert!(folded.starts_with(&fold_keyword(&word[..i])));
        }
    }

    /// PROTOCOL.md §6.2 (QRP appendix): an 8-slot table holding "test" (slot 2).
    #[test]
    fn golden_reset_and_patch_bytes() {
        let reset = RouteTableUpdate::Reset {
            table_len: 8,
            infinity: 7,
        };
        let mut out = BytesMut::new();
        encode(&reset, &mut out);
        assert_eq!(&out[..], [0x00, 0x08, 0x00, 0x00, 0x00, 0x07]);
        assert_eq!(encoded_len(&reset), out.len());
        assert_eq!(decode(out.freeze()), Ok(reset));

        let patch = RouteTableUpdate::Patch(Patch {
            seq_no: 1,
            seq_size: 1,
            compressor: COMPRESSOR_NONE,
            entry_bits: 4,
            data: Bytes::from_static(&[0x00, 0xA0, 0x00, 0x00]),
        });
        let mut out = BytesMut::new();
        encode(&patch, &mut out);
        assert_eq!(
            &out[..],
            [0x01, 0x01, 0x01, 0x00, 0x04, 0x00, 0xA0, 0x00, 0x00]
        );
        assert_eq!(encoded_len(&patch), out.len());
        assert_eq!(decode(out.freeze()), Ok(patch));
    }

    #[test]
    fn malformed_payloads_are_payload_errors() {
        let err = |bytes: &'static [u8]| decode(Bytes::from_static(bytes)).unwrap_err();
        assert!(matches!(err(&[]), PayloadError::TooShort { .. }));
        assert_eq!(err(&[0x00, 8, 0, 0]), PayloadError::QrpResetLength(4));
        assert_eq!(
            err(&[0x00, 8, 0, 0, 0, 7, 0]),
            PayloadError::QrpResetLength(7)
        );
        assert!(matches!(
            err(&[0x01, 1, 1, 0, 4]),
            PayloadError::TooShort { .. }
        ));
        assert_eq!(err(&[0x02, 1, 2, 3]), PayloadError::QrpUnknownVariant(2));
        // Out-of-range values decode: the receiving table judges them.
        assert!(decode(Bytes::from_static(&[0x00, 3, 0, 0, 0, 0])).is_ok());
        assert!(decode(Bytes::from_static(&[0x01, 9, 2, 7, 3, 0xFF])).is_ok());
    }
}
