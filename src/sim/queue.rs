//! The simulator's event queue: events ordered by (time, sequence number).
//!
//! The sequence number breaks ties in insertion order, so two events at the same virtual
//! instant always run in the same order and a run is a pure function of its seed.
//!
//! Most events are scheduled at or after the latest one already queued (a constant link
//! latency makes every delivery monotone), so those go to a FIFO lane that costs O(1); only
//! the out-of-order rest pays for the binary heap. Popping takes the smaller head of the two
//! lanes, which keeps the global (time, seq) order exact.
//!
//! Items planned up front (the searches of a run, seconds apart) get a third in-order lane
//! of their own: in the FIFO lane they would sit at its back, far in the future, and send
//! every delivery queued after them to the heap.
//!
//! The FIFO lane is a chain of fixed-size blocks ([`Fifo`]) rather than one ring buffer:
//! a million-peer flood queues over a million deliveries at its widest, and a ring that
//! doubles would copy every entry at each growth, hold the old and the new buffer at once
//! (the peak of the run's memory) and end up to twice the size of the wave. Blocks cost
//! only what is in flight, are never copied, and a spare one is kept for reuse.
//!
//! FIFO entries carry no time of their own either: their times never decrease, so a block
//! keeps them as runs of equal times, each a 32-bit offset from the block's first time
//! and a count (an entry more than 2^32 µs, 71 minutes, after it starts a new block). A
//! flood's wave, all due at one instant under a constant latency, is one run per block,
//! and a simulator's delivery is its 20 bytes in the lane (32 with a full time, 24 with
//! an offset each).
//!
//! FIFO entries carry no sequence number (a million-entry wave saves 8 bytes an entry),
//! yet ties between lanes still break in insertion order. Let `since` be the sequence
//! number of the push that last made the FIFO lane non-empty:
//! - an item goes to the heap only while the FIFO's back is due later than it; that back
//!   entry cannot be popped before the item (it is due later), so the FIFO stays non-empty
//!   and every later FIFO entry is due later too: the FIFO entries due at the item's time
//!   were all queued before it, and `since` is below its number;
//! - a planned item is queued in its own lane (or, out of order, the heap) only while the
//!   FIFO is empty (else it takes the FIFO rule above), so every FIFO entry is queued after
//!   it, and `since` is above its number.
//!
//! So the FIFO's head sorts as (its time, `since`) against the other lanes' (time, sequence
//! number), which is exactly the (time, sequence number) order of all items.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::node::Time;

/// An item as it leaves the queue: its due time and the item.
#[derive(Debug)]
pub struct Due<T> {
    pub time: Time,
    pub item: T,
}

/// One item of the planned and heap lanes: its due time, its tie-breaking sequence number
/// and the payload.
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
    fifo: Fifo<T>,
    /// The sequence number of the push that last made `fifo` non-empty: the FIFO head's
    /// rank among items due at the same time (see the module documentation).
    since: u64,
    planned: VecDeque<Scheduled<T>>,
    heap: BinaryHeap<Reverse<Scheduled<T>>>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            fifo: Fifo::default(),
            since: 0,
            planned: VecDeque::new(),
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
        match self.fifo.back_time() {
            Some(last) if last > time => self.heap.push(Reverse(Scheduled { time, seq, item })),
            back => {
                if back.is_none() {
                    self.since = seq;
                }
                self.fifo.push_back(time, item);
            }
        }
    }

    /// Queues an item planned before the run (same order rules as [`EventQueue::push`]);
    /// planned items pushed in time order cost O(1) and keep the other lanes cheap. (Once
    /// the FIFO lane holds items it is an ordinary push: see the module documentation.)
    pub fn push_planned(&mut self, time: Time, item: T) {
        if self.fifo.len() > 0 {
            return self.push(time, item);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Scheduled { time, seq, item };
        match self.planned.back() {
            Some(last) if last.time > time => self.heap.push(Reverse(entry)),
            _ => self.planned.push_back(entry),
        }
    }

    /// The lane holding the earliest item: 0 FIFO, 1 planned, 2 heap.
    fn earliest_lane(&self) -> Option<usize> {
        [
            self.fifo.front_time().map(|t| (t, self.since)),
            self.planned.front().map(|e| e.key()),
            self.heap.peek().map(|Reverse(e)| e.key()),
        ]
        .iter()
        .enumerate()
        .filter_map(|(lane, key)| key.map(|k| (k, lane)))
        .min()
        .map(|(_, lane)| lane)
    }

    /// Due time of the next item, if any.
    pub fn peek_time(&self) -> Option<Time> {
        match self.earliest_lane()? {
            0 => self.fifo.front_time(),
            1 => self.planned.front().map(|e| e.time),
            _ => self.heap.peek().map(|Reverse(e)| e.time),
        }
    }

    /// Removes and returns the earliest item (ties: first queued first).
    pub fn pop(&mut self) -> Option<Due<T>> {
        let due = |e: Scheduled<T>| Due {
            time: e.time,
            item: e.item,
        };
        match self.earliest_lane()? {
            0 => self.fifo.pop_front(),
            1 => self.planned.pop_front().map(due),
            _ => self.heap.pop().map(|Reverse(e)| due(e)),
        }
    }

    /// The item `ahead` places behind the head of the in-order lane, if any: a hint of
    /// what comes soon (the heap lane is not looked into), for prefetching.
    pub fn upcoming(&self, ahead: usize) -> Option<&T> {
        self.fifo.get(ahead)
    }

    pub fn len(&self) -> usize {
        self.fifo.len() + self.planned.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Entries per block of the FIFO lane: big enough that moving between blocks is rare,
/// small enough that a short run's lane stays small.
const BLOCK: usize = 4096;

/// A first-in first-out queue of timed items (pushed in time order) in fixed-size blocks
/// (see the module documentation).
#[derive(Debug)]
struct Fifo<T> {
    blocks: VecDeque<Block<T>>,
    /// An emptied block kept for the next one needed (allocated once, reused).
    spare: Option<Block<T>>,
    len: usize,
}

/// A block of the FIFO lane: its entries, and their times as runs of equal times (the
/// lane's times never decrease) counted from the block's base time.
#[derive(Debug)]
struct Block<T> {
    base: Time,
    entries: VecDeque<T>,
    /// (offset from `base`, entries at that time), front first.
    runs: VecDeque<(u32, u32)>,
}

impl<T> Block<T> {
    fn new() -> Block<T> {
        Block {
            base: Time::ZERO,
            entries: VecDeque::with_capacity(BLOCK),
            runs: VecDeque::new(),
        }
    }

    fn time(&self, offset: u32) -> Time {
        Time(self.base.0 + u64::from(offset))
    }

    /// `time`'s offset if this block may take an entry at it.
    fn offset_of(&self, time: Time) -> Option<u32> {
        if self.entries.len() >= BLOCK {
            return None;
        }
        u32::try_from(time.0.checked_sub(self.base.0)?).ok()
    }
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo {
            blocks: VecDeque::new(),
            spare: None,
            len: 0,
        }
    }
}

impl<T> Fifo<T> {
    /// Queues `item` at `time`, no earlier than the back's time.
    fn push_back(&mut self, time: Time, item: T) {
        let fits = self.blocks.back().and_then(|b| b.offset_of(time));
        let offset = match fits {
            Some(offset) => offset,
            None => {
                let mut block = self.spare.take().unwrap_or_else(Block::new);
                block.base = time;
                self.blocks.push_back(block);
                0
            }
        };
        if let Some(block) = self.blocks.back_mut() {
            match block.runs.back_mut() {
                Some((at, count)) if *at == offset => *count += 1,
                _ => block.runs.push_back((offset, 1)),
            }
            block.entries.push_back(item);
            self.len += 1;
        }
    }

    fn pop_front(&mut self) -> Option<Due<T>> {
        let block = self.blocks.front_mut()?;
        let item = block.entries.pop_front()?;
        let base = block.base;
        let (offset, count) = block.runs.front_mut()?;
        let time = Time(base.0 + u64::from(*offset));
        *count -= 1;
        if *count == 0 {
            block.runs.pop_front();
        }
        self.len -= 1;
        if block.entries.is_empty() {
            // Keep one emptied block for reuse; the others go back to the allocator.
            self.spare = self.blocks.pop_front();
        }
        Some(Due { time, item })
    }

    fn front_time(&self) -> Option<Time> {
        let block = self.blocks.front()?;
        block.runs.front().map(|&(offset, _)| block.time(offset))
    }

    fn back_time(&self) -> Option<Time> {
        let block = self.blocks.back()?;
        block.runs.back().map(|&(offset, _)| block.time(offset))
    }

    /// The item `index` places behind the front.
    fn get(&self, mut index: usize) -> Option<&T> {
        for block in &self.blocks {
            if index < block.entries.len() {
                return block.entries.get(index);
            }
            index -= block.entries.len();
        }
        None
    }

    fn len(&self) -> usize {
        self.len
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

    #[test]
    fn the_fifo_lane_keeps_order_across_its_blocks() {
        let mut q = EventQueue::new();
        let n = 3 * BLOCK + 17;
        for i in 0..n {
            q.push(Time(i as u64 / 7), i);
        }
        assert_eq!(q.len(), n);
        assert_eq!(q.upcoming(BLOCK + 3), Some(&(BLOCK + 3)));
        for i in 0..n / 2 {
            assert_eq!(q.pop().map(|e| e.item), Some(i));
        }
        // Pushing after popping reuses blocks and keeps the order.
        for i in n..n + BLOCK {
            q.push(Time(i as u64 / 7), i);
        }
        let rest: Vec<usize> = std::iter::from_fn(|| q.pop().map(|e| e.item)).collect();
        assert_eq!(rest, (n / 2..n + BLOCK).collect::<Vec<_>>());
        assert!(q.is_empty());
    }

    #[test]
    fn the_fifo_lane_keeps_times_far_apart() {
        let mut q = EventQueue::new();
        let times = [
            0,
            5,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 6,
            1 << 40,
            1 << 40,
        ];
        for (i, &t) in times.iter().enumerate() {
            q.push(Time(t), i);
        }
        let popped: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| (e.time.0, e.item))).collect();
        let expected: Vec<_> = times.iter().copied().zip(0..).collect();
        assert_eq!(popped, expected);
    }

    /// Any mix of pushes, planned pushes and pops comes out in exactly (time, insertion)
    /// order, whichever lanes the items went through.
    #[test]
    fn every_mix_of_lanes_pops_in_time_then_insertion_order() {
        use rand::{Rng, SeedableRng};
        for seed in 0..200u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, usize)> = Vec::new();
            let mut now = 0u64;
            for id in 0..400usize {
                match rng.gen_range(0..10) {
                    0..=2 => {
                        if let Some(e) = q.pop() {
                            let first = (0..reference.len())
                                .min_by_key(|&i| reference[i])
                                .map(|i| reference.remove(i));
                            assert_eq!(Some((e.time.0, e.item)), first, "seed {seed}");
                            now = e.time.0;
                        }
                    }
                    3 => {
                        let time = now + rng.gen_range(0..6);
                        q.push_planned(Time(time), id);
                        reference.push((time, id));
                    }
                    _ => {
                        let time = now + rng.gen_range(0..6);
                        q.push(Time(time), id);
                        reference.push((time, id));
                    }
                }
            }
            reference.sort();
            let rest: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| (e.time.0, e.item))).collect();
            assert_eq!(rest, reference, "seed {seed}");
        }
    }

    #[test]
    fn planned_items_interleave_exactly_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.push_planned(Time(5), "p5");
        q.push_planned(Time(20), "p20");
        q.push_planned(Time(10), "p10"); // out of order: goes to the heap
        q.push(Time(5), "a5");
        q.push(Time(10), "a10");
        q.push(Time(30), "a30");
        q.push(Time(7), "h7");
        assert_eq!(q.peek_time(), Some(Time(5)));
        assert_eq!(q.len(), 7);
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| e.item)).collect();
        assert_eq!(order, ["p5", "a5", "h7", "p10", "a10", "p20", "a30"]);
    }
}
