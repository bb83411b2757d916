//! A message as it waits in the simulator's event queue, in 40 bytes instead of 96.
//!
//! A flood keeps a whole wave of deliveries queued (a million-peer flood: over a million
//! at its peak), so the size of a queued message is a large share of the run's memory and
//! of the cache misses when the wave is popped. Queries and QueryHits, nearly all the
//! traffic, already sit behind an `Arc`; the rarer payloads are boxed. Packing and
//! unpacking only move pointers.

use std::sync::Arc;

use crate::protocol::{Guid, Message, Payload, Query, QueryHit};

/// A [`Message`] with its payload reduced to one pointer.
#[derive(Debug)]
pub struct PackedMessage {
    guid: Guid,
    ttl: u8,
    hops: u8,
    payload: PackedPayload,
}

#[derive(Debug)]
enum PackedPayload {
    Query(Arc<Query>),
    QueryHit(Arc<QueryHit>),
    Other(Box<Payload>),
}

impl PackedMessage {
    pub fn guid(&self) -> Guid {
        self.guid
    }

    /// The payload type code (`protocol::kind`).
    pub fn kind(&self) -> u8 {
        match &self.payload {
            PackedPayload::Query(_) => crate::protocol::kind::QUERY,
            PackedPayload::QueryHit(_) => crate::protocol::kind::QUERY_HIT,
            PackedPayload::Other(p) => p.kind(),
        }
    }
}

impl From<Message> for PackedMessage {
    fn from(msg: Message) -> PackedMessage {
        let payload = match msg.payload {
            Payload::Query(q) => PackedPayload::Query(q),
            Payload::QueryHit(h) => PackedPayload::QueryHit(h),
            other => PackedPayload::Other(Box::new(other)),
        };
        PackedMessage {
            guid: msg.guid,
            ttl: msg.ttl,
            hops: msg.hops,
            payload,
        }
    }
}

impl From<PackedMessage> for Message {
    fn from(packed: PackedMessage) -> Message {
        let payload = match packed.payload {
            PackedPayload::Query(q) => Payload::Query(q),
            PackedPayload::QueryHit(h) => Payload::QueryHit(h),
            PackedPayload::Other(other) => *other,
        };
        Message {
            guid: packed.guid,
            ttl: packed.ttl,
            hops: packed.hops,
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Ping, Query};

    #[test]
    fn packing_keeps_every_field_and_is_small() {
        let query = Message {
            guid: Guid([3; 16]),
            ttl: 5,
            hops: 2,
            payload: Payload::Query(Arc::new(Query::keywords("packed words"))),
        };
        let ping = Message {
            guid: Guid([4; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::Ping(Ping::default()),
        };
        for msg in [query, ping] {
            assert_eq!(Message::from(PackedMessage::from(msg.clone())), msg);
        }
        assert!(std::mem::size_of::<PackedMessage>() <= 40);
    }
}
