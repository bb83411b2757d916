//! A small keyed hasher for the node's tables, whose keys are mostly random GUIDs.
//!
//! The routing hot path looks a GUID up several times per descriptor, and std's SipHash
//! would cost more than the rest of the lookup. Keys come from the network, so the hash
//! is keyed per node (from the node's seed) to make crafted collisions impractical
//! without knowing the seed; the state stays 8 bytes so a million nodes pay little.

use std::hash::{BuildHasher, Hasher};

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// Builds [`KeyedHasher`]s with this node's key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyedHash {
    key: u64,
}

impl KeyedHash {
    pub fn new(key: u64) -> KeyedHash {
        KeyedHash { key }
    }
}

impl BuildHasher for KeyedHash {
    type Hasher = KeyedHasher;
    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher { state: self.key }
    }
}

/// Multiply-rotate mixing per word, with a full avalanche at the end.
#[derive(Clone, Copy, Debug)]
pub struct KeyedHasher {
    state: u64,
}

impl KeyedHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(MUL).rotate_left(29);
    }
}

impl Hasher for KeyedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n) | 0x100);
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64: hashbrown uses both the top and the bottom bits.
        let mut z = self.state;
        z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        z ^ (z >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash_of<T: Hash>(key: u64, value: &T) -> u64 {
        KeyedHash::new(key).hash_one(value)
    }

    #[test]
    fn key_changes_the_hash_and_kind_is_part_of_it() {
        let guid = [7u8; 16];
        assert_ne!(hash_of(1, &guid), hash_of(2, &guid));
        assert_ne!(hash_of(1, &(guid, 0x80u8)), hash_of(1, &(guid, 0x81u8)));
        assert_eq!(hash_of(5, &(guid, 0x80u8)), hash_of(5, &(guid, 0x80u8)));
    }
}
