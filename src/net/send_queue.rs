//! A connection's bounded output queue with the priorities real servents use.
//!
//! A slow neighbour must not make a peer buffer without limit, and when something has to
//! go it should be what costs the network least: PROTOCOL.md §7.2 (gtk-gnutella's `mq`,
//! the RFC draft's flow control) drops Ping and Query before Pong and QueryHit, because a
//! lost hit wastes the whole flood that produced it. Messages are encoded when queued, so
//! the size bound is exact and the writer task only copies bytes.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::protocol::{kind, Guid, Message};

/// Default byte budget of one connection's queue (gtk-gnutella's `node_sendqueue_size`).
pub const DEFAULT_QUEUE_BYTES: usize = 96 * 1024;

/// Priority classes, least important first (PROTOCOL.md §7.2).
const CLASSES: usize = 6;

fn class_of(kind_code: u8) -> usize {
    match kind_code {
        kind::PING => 0,
        kind::QUERY => 1,
        kind::PONG => 2,
        kind::QUERY_HIT => 3,
        kind::PUSH => 4,
        _ => 5,
    }
}

/// A message waiting to be written, already in wire form.
#[derive(Clone, Debug)]
pub struct Queued {
    pub guid: Guid,
    pub kind: u8,
    pub bytes: Bytes,
    /// When it may leave: a link model's latency holds it until then (`None`: at once).
    pub due: Option<std::time::Instant>,
}

/// What the queue refused or evicted to stay within its budget, for the driver to count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueDrop {
    pub guid: Guid,
    pub kind: u8,
}

/// The bounded priority queue of one connection.
#[derive(Debug)]
pub struct SendQueue {
    classes: [VecDeque<Queued>; CLASSES],
    bytes: usize,
    max_bytes: usize,
    dropped: u64,
}

impl SendQueue {
    pub fn new(max_bytes: usize) -> SendQueue {
        SendQueue {
            classes: Default::default(),
            bytes: 0,
            max_bytes,
            dropped: 0,
        }
    }

    /// Bytes waiting.
    pub fn len_bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0 && self.classes.iter().all(VecDeque::is_empty)
    }

    /// Messages dropped so far by this queue.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues `msg`, evicting less important messages if the budget requires it. Returns what
    /// was dropped (possibly `msg` itself). A Bye is always accepted and clears the queue,
    /// as it is the last thing the link will carry.
    pub fn push(&mut self, msg: &Message, due: Option<std::time::Instant>) -> Vec<QueueDrop> {
        let mut buf = BytesMut::new();
        msg.encode(&mut buf);
        self.push_encoded(Queued {
            guid: msg.guid,
            kind: msg.payload.kind(),
            bytes: buf.freeze(),
            due,
        })
    }

    /// As [`SendQueue::push`], for a message already encoded.
    pub fn push_encoded(&mut self, item: Queued) -> Vec<QueueDrop> {
        let mut drops = Vec::new();
        if item.kind == kind::BYE {
            for class in &mut self.classes {
                for q in class.drain(..) {
                    drops.push(QueueDrop {
                        guid: q.guid,
                        kind: q.kind,
                    });
                }
            }
            self.bytes = 0;
        }
        let class = class_of(item.kind);
        let size = item.bytes.len();
        // Evict the newest entries of the least important classes below this one.
        let mut lower = 0;
        while self.bytes + size > self.max_bytes && lower < class {
            match self.classes[lower].pop_back() {
                Some(q) => {
                    self.bytes -= q.bytes.len();
                    drops.push(QueueDrop {
                        guid: q.guid,
                        kind: q.kind,
                    });
                }
                None => lower += 1,
            }
        }
        // An empty queue always takes one message, however large, so nothing is starved.
        if self.bytes + size > self.max_bytes && self.bytes > 0 {
            drops.push(QueueDrop {
                guid: item.guid,
                kind: item.kind,
            });
        } else {
            self.bytes += size;
            self.classes[class].push_back(item);
        }
        self.dropped += drops.len() as u64;
        drops
    }

    /// The most important waiting message, first in first out within a class.
    pub fn pop(&mut self) -> Option<Queued> {
        for class in self.classes.iter_mut().rev() {
            if let Some(q) = class.pop_front() {
                self.bytes -= q.bytes.len();
                return Some(q);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: u8, n: u8, size: usize) -> Queued {
        let mut g = [0u8; 16];
        g[0] = n;
        Queued {
            guid: Guid(g),
            kind,
            bytes: Bytes::from(vec![0u8; size]),
            due: None,
        }
    }

    #[test]
    fn full_queue_drops_queries_before_hits() {
        let mut q = SendQueue::new(300);
        assert!(q.push_encoded(item(kind::QUERY, 1, 100)).is_empty());
        assert!(q.push_encoded(item(kind::QUERY, 2, 100)).is_empty());
        assert!(q.push_encoded(item(kind::QUERY_HIT, 3, 100)).is_empty());
        // A hit evicts the newest query rather than being dropped.
        let drops = q.push_encoded(item(kind::QUERY_HIT, 4, 100));
        assert_eq!(
            drops,
            vec![QueueDrop {
                guid: item(0, 2, 0).guid,
                kind: kind::QUERY
            }]
        );
        // A query cannot evict hits: the new query is the one dropped.
        let drops = q.push_encoded(item(kind::QUERY, 5, 100));
        assert_eq!(drops.len(), 1);
        assert_eq!(drops[0].kind, kind::QUERY);
        assert_eq!(q.dropped(), 2);
        // Hits leave first, then the surviving query.
        let order: Vec<u8> = std::iter::from_fn(|| q.pop())
            .map(|q| q.guid.0[0])
            .collect();
        assert_eq!(order, vec![3, 4, 1]);
        assert!(q.is_empty());
    }

    #[test]
    fn bye_clears_the_queue_and_is_always_taken() {
        let mut q = SendQueue::new(150);
        q.push_encoded(item(kind::QUERY_HIT, 1, 100));
        let drops = q.push_encoded(item(kind::BYE, 2, 120));
        assert_eq!(drops.len(), 1);
        assert_eq!(q.pop().map(|q| q.kind), Some(kind::BYE));
        assert!(q.pop().is_none());
    }

    #[test]
    fn oversized_message_goes_through_an_empty_queue() {
        let mut q = SendQueue::new(10);
        assert!(q.push_encoded(item(kind::QUERY_HIT, 1, 100)).is_empty());
        assert_eq!(q.push_encoded(item(kind::PING, 2, 1)).len(), 1);
    }
}
