//! The simulator's event queue: events ordered by (time, sequence number).
//!
//! The sequence number breaks ties in insertion order, so two events at the same virtual
//! instant always run in the same order and a run is a pure function of its seed.
//!
//! Most events are scheduled at or after the latest one already queued (a constant link
//! latency makes every delivery monotone), so those go to a FIFO lane that costs O(1); only
//! the out-of-order rest pays for the binary heap. Popping takes the smaller head of the two
//! lanes, which keeps the global (time, seq) order exact.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::node::Time;

/// One queued item: its due time, its tie-breaking sequence number and the payload.
#[derive(Debug)]
pub struct Scheduled<T> {
    pub time: Time,
    pub seq: u64,
    pub item: T,
}

impl<T> Scheduled<T> {
    fn key(&self) -> (Time, u64) {
        (self.time, self.seq)
    }
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<T> Eq for Scheduled<T> {}
impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Scheduled<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A deterministic priority queue of timed items.
#[derive(Debug)]
pub struct EventQueue<T> {
    fifo: VecDeque<Scheduled<T>>,
    heap: BinaryHeap<Reverse<Scheduled<T>>>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `item` to run at `time`, after everything already queued for that instant.
    pub fn push(&mut self, time: Time, item: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Scheduled { time, seq, item };
        match self.fifo.back() {
            Some(last) if last.time > time => self.heap.push(Reverse(entry)),
            _ => self.fifo.push_back(entry),
        }
    }

    /// Due time of the next item, if any.
    pub fn peek_time(&self) -> Option<Time> {
        match (self.fifo.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => Some(a.time.min(b.time)),
            (Some(a), None) => Some(a.time),
            (None, Some(Reverse(b))) => Some(b.time),
            (None, None) => None,
        }
    }

    /// Removes and returns the earliest item (ties: first queued first).
    pub fn pop(&mut self) -> Option<Scheduled<T>> {
        let take_fifo = match (self.fifo.front(), self.heap.peek()) {
            (Some(a), Some(Reverse(b))) => a.key() < b.key(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_fifo {
            self.fifo.pop_front()
        } else {
            self.heap.pop().map(|Reverse(e)| e)
        }
    }

    /// The item `ahead` places behind the head of the in-order lane, if any: a hint of
    /// what comes soon (the heap lane is not looked into), for prefetching.
    pub fn upcoming(&self, ahead: usize) -> Option<&T> {
        self.fifo.get(ahead).map(|e| &e.item)
    }

    pub fn len(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Time(5), "a");
        q.push(Time(9), "b");
        q.push(Time(1), "c");
        q.push(Time(5), "d");
        q.push(Time(9), "e");
        q.push(Time(3), "f");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| e.item)).collect();
        assert_eq!(order, ["c", "f", "a", "d", "b", "e"]);
    }
}
