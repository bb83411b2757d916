//! A per-peer value that costs no memory until some peer's value changes.
//!
//! The simulator keeps, per peer, whether it is online, whether it was removed, its
//! session number and its timer's due time. A plain flood changes none of them, yet as
//! vectors made up front they cost a million-peer run some 14 MB: a zeroed vector
//! (calloc) costs nothing only while its pages are fresh from the OS, and by the time a
//! run starts the allocator hands out the generator's and the graph's freed memory,
//! which it must clear by writing. A column allocates on its first write, so a run that
//! never writes one holds nothing.

use std::ops::{Index, IndexMut};

/// `len` values, all `default` until the first write.
#[derive(Clone, Debug)]
pub struct PeerColumn<T> {
    len: usize,
    default: T,
    values: Vec<T>,
}

impl<T: Copy> PeerColumn<T> {
    pub fn new(len: usize, default: T) -> PeerColumn<T> {
        PeerColumn {
            len,
            default,
            values: Vec::new(),
        }
    }

    /// Peer `i`'s value; `None` past the last peer.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        match self.values.get(i) {
            Some(v) => Some(v),
            None if i < self.len && self.values.is_empty() => Some(&self.default),
            None => None,
        }
    }

    /// The values written so far: every peer's, or none (all still the default).
    pub fn as_slice(&self) -> &[T] {
        &self.values
    }
}

impl<T: Copy> Index<usize> for PeerColumn<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("peer {i} out of range (0..{})", self.len),
        }
    }
}

impl<T: Copy> IndexMut<usize> for PeerColumn<T> {
    /// Allocates every peer's value on the first write.
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        if self.values.is_empty() {
            self.values = vec![self.default; self.len];
        }
        &mut self.values[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_without_memory_until_a_write() {
        let mut column = PeerColumn::new(4, true);
        assert_eq!(column.get(3), Some(&true));
        assert_eq!(column.get(4), None);
        assert!(column.as_slice().is_empty());
        column[2] = false;
        assert_eq!(column.as_slice(), &[true, true, false, true]);
        assert!(!column[2] && column[1]);
        assert_eq!(column.get(4), None);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn an_index_past_the_last_peer_panics_like_a_vector() {
        let column = PeerColumn::new(2, 0u32);
        let _ = column[2];
    }
}
