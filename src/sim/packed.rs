//! A message as it waits in the simulator's event queue: 8 bytes, its payload named by a
//! dense row number in a per-run table.
//!
//! A flood keeps a whole wave of deliveries queued (a million-peer flood: over a million
//! at its peak), so the size of a queued message is a large share of the run's memory and
//! of the bytes every pop and push moves. Nearly all the traffic is copies of a few
//! distinct payloads: one Query per search, fanned out by every peer it reaches, and the
//! QueryHits of that search, each relayed hop by hop. So the GUID and the payload live once
//! in a [`Payloads`] row, and a queued [`PackedMessage`] carries the row's index and what
//! differs per copy (TTL, hops, and whether it is a Query or a QueryHit).
//!
//! Table size: a row lives while a queued copy refers to it (a count per row), so the table
//! holds one row per distinct payload in flight, not one per message: a flood needs one
//! row, concurrent searches a few each (the Query, the hits on their way back); the rarer
//! payloads (pings, byes, QRP tables, pushes) take a row per copy. Freed rows are reused
//! first, so the table never grows past the most payloads in flight at once.
//!
//! Sharing is found without hashing: a node relays the payload it was just handed (the
//! same `Arc`), and a node that sends one payload on several links sends it back to back,
//! so a message to queue is compared with the row last packed or unpacked (GUID and
//! payload pointer). Anything else gets a row of its own: a payload in two rows is still
//! exact, only less compact.
//!
//! Each row also keeps where its GUID's record sits in the recorder ([`RecordHint`]): the
//! events a node emits while handling a message are nearly all about that message's query,
//! and reach its record by index instead of a hash lookup per event.

use std::sync::Arc;

use bytes::Bytes;

use crate::node::record::RecordHint;
use crate::protocol::{kind, Guid, Message, Payload};

/// A [`Message`] in the event queue: its row in the run's [`Payloads`] and the fields of
/// this copy. Not `Clone`: each one holds one count of its row, given back by
/// [`Payloads::unpack`].
#[derive(Debug)]
pub struct PackedMessage {
    row: u32,
    ttl: u8,
    hops: u8,
    /// Kept here (and not only in the row) so that the tally of query traffic needs no
    /// table access, and its spare values let the queue's item enum hide its tag in it.
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Query,
    QueryHit,
    Other,
}

/// The payloads of the messages in flight (see the module documentation).
#[derive(Debug, Default)]
pub struct Payloads {
    rows: Vec<Row>,
    /// Rows no queued copy refers to, reused first.
    free: Vec<u32>,
    /// The row last packed or unpacked: the one a node's next sends most likely share.
    last: u32,
}

#[derive(Debug)]
struct Row {
    guid: Guid,
    /// [`FREE`] while the row is free.
    payload: Payload,
    /// Queued copies referring to the row.
    copies: u32,
    /// Where the recorder keeps the record of `guid`.
    record: RecordHint,
}

/// What a free row holds (no allocation: an empty `Bytes` is a static).
const FREE: Payload = Payload::Unknown {
    kind: 0,
    body: Bytes::new(),
};

impl Payloads {
    /// Queues one more copy of `msg`: into the row last used if it holds the same payload
    /// (same GUID, same shared `Arc`), else into a row of its own. (Inlined, as is
    /// [`Payloads::unpack`]: once per message, and a call would copy the message twice.)
    #[inline]
    pub fn pack(&mut self, msg: Message) -> PackedMessage {
        let guid = msg.guid;
        let (row, kind) = match msg.payload {
            Payload::Query(q) => (self.share(guid, q, Payload::Query, as_query), Kind::Query),
            Payload::QueryHit(h) => (
                self.share(guid, h, Payload::QueryHit, as_query_hit),
                Kind::QueryHit,
            ),
            other => (self.insert(guid, other), Kind::Other),
        };
        PackedMessage {
            row,
            ttl: msg.ttl,
            hops: msg.hops,
            kind,
        }
    }

    /// The row for one more copy of the shared payload `arc` (`wrap` makes it a payload,
    /// `held` finds it in one): the last row if it holds that very `Arc` under `guid`.
    #[inline(always)]
    fn share<T>(
        &mut self,
        guid: Guid,
        arc: Arc<T>,
        wrap: fn(Arc<T>) -> Payload,
        held: fn(&Payload) -> Option<&Arc<T>>,
    ) -> u32 {
        if let Some(row) = self.rows.get_mut(self.last as usize) {
            if row.guid == guid && held(&row.payload).is_some_and(|r| Arc::ptr_eq(r, &arc)) {
                row.copies += 1;
                return self.last;
            }
        }
        self.insert(guid, wrap(arc))
    }

    /// A row holding one copy of `payload`, reused if one is free; it becomes the last row.
    fn insert(&mut self, guid: Guid, payload: Payload) -> u32 {
        let index = match self.free.pop() {
            Some(index) => {
                let row = &mut self.rows[index as usize];
                if row.guid != guid {
                    row.record = RecordHint::NONE;
                }
                row.guid = guid;
                row.payload = payload;
                row.copies = 1;
                index
            }
            None => {
                self.rows.push(Row {
                    guid,
                    payload,
                    copies: 1,
                    record: RecordHint::NONE,
                });
                (self.rows.len() - 1) as u32
            }
        };
        self.last = index;
        index
    }

    /// The message `packed` stands for, giving back its count of the row (the last copy
    /// takes the payload itself, and frees the row). Its row becomes the last row: what the
    /// receiving node relays is that payload.
    #[inline]
    pub fn unpack(&mut self, packed: PackedMessage) -> Message {
        let index = packed.row;
        let row = &mut self.rows[index as usize];
        row.copies -= 1;
        let payload = if row.copies == 0 {
            self.free.push(index);
            std::mem::replace(&mut row.payload, FREE)
        } else {
            // Only Queries and QueryHits are ever shared by several copies.
            match &row.payload {
                Payload::Query(q) => Payload::Query(Arc::clone(q)),
                Payload::QueryHit(h) => Payload::QueryHit(Arc::clone(h)),
                other => other.clone(),
            }
        };
        self.last = index;
        Message {
            guid: row.guid,
            ttl: packed.ttl,
            hops: packed.hops,
            payload,
        }
    }

    /// The payload type code (`protocol::kind`) of `packed`.
    pub fn kind(&self, packed: &PackedMessage) -> u8 {
        match packed.kind {
            Kind::Query => kind::QUERY,
            Kind::QueryHit => kind::QUERY_HIT,
            Kind::Other => self.rows[packed.row as usize].payload.kind(),
        }
    }

    /// Whether `packed` is a Query or a QueryHit (the traffic the per-peer tallies count).
    pub fn is_query_traffic(packed: &PackedMessage) -> bool {
        packed.kind != Kind::Other
    }

    /// Where the recorder last kept the record of `packed`'s GUID (a prefetch hint).
    pub fn record_of(&self, packed: &PackedMessage) -> RecordHint {
        self.rows
            .get(packed.row as usize)
            .map_or(RecordHint::NONE, |row| row.record)
    }

    /// The recorder's hint for an event about `guid`: the last row's when it is that
    /// GUID's (the events of one delivery nearly all are), else `None`.
    pub fn record_hint(&mut self, guid: Guid) -> Option<&mut RecordHint> {
        self.rows
            .get_mut(self.last as usize)
            .filter(|row| row.guid == guid)
            .map(|row| &mut row.record)
    }

    /// Rows in use (payloads in flight).
    pub fn in_use(&self) -> usize {
        self.rows.len() - self.free.len()
    }
}

fn as_query(payload: &Payload) -> Option<&Arc<crate::protocol::Query>> {
    match payload {
        Payload::Query(q) => Some(q),
        _ => None,
    }
}

fn as_query_hit(payload: &Payload) -> Option<&Arc<crate::protocol::QueryHit>> {
    match payload {
        Payload::QueryHit(h) => Some(h),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Ping, Query};

    fn query(guid: u8, ttl: u8, payload: &Arc<Query>) -> Message {
        Message {
            guid: Guid([guid; 16]),
            ttl,
            hops: 7 - ttl,
            payload: Payload::Query(Arc::clone(payload)),
        }
    }

    #[test]
    fn packing_keeps_every_field_and_is_small() {
        let mut table = Payloads::default();
        let words = Arc::new(Query::keywords("packed words"));
        let ping = Message {
            guid: Guid([4; 16]),
            ttl: 1,
            hops: 0,
            payload: Payload::Ping(Ping::default()),
        };
        for msg in [query(3, 5, &words), ping] {
            let packed = table.pack(msg.clone());
            assert_eq!(table.kind(&packed), msg.payload.kind());
            assert_eq!(table.unpack(packed), msg);
        }
        assert_eq!(table.in_use(), 0);
        assert!(std::mem::size_of::<PackedMessage>() <= 8);
        // The spare values of the kind leave room for an enclosing enum's tag.
        assert_eq!(std::mem::size_of::<Option<PackedMessage>>(), 8);
    }

    #[test]
    fn copies_of_one_payload_share_a_row_until_the_last_is_unpacked() {
        let mut table = Payloads::default();
        let words = Arc::new(Query::keywords("shared"));
        // A fan-out: three copies with different TTLs, one row.
        let copies: Vec<_> = (3..6)
            .map(|ttl| table.pack(query(1, ttl, &words)))
            .collect();
        assert_eq!(table.in_use(), 1);
        // The same words under another GUID (another search) are another row.
        let other = table.pack(query(2, 4, &words));
        assert_eq!(table.in_use(), 2);
        assert_eq!(table.unpack(other).guid, Guid([2; 16]));
        let unpacked: Vec<_> = copies.into_iter().map(|c| table.unpack(c)).collect();
        assert_eq!(
            unpacked,
            (3..6).map(|ttl| query(1, ttl, &words)).collect::<Vec<_>>()
        );
        assert_eq!(table.in_use(), 0);
        // Once the messages handed out are gone, only the test's own reference is left:
        // the table kept none.
        drop(unpacked);
        assert_eq!(Arc::strong_count(&words), 1);
    }

    #[test]
    fn a_relay_of_the_payload_just_unpacked_reuses_its_row() {
        let mut table = Payloads::default();
        let words = Arc::new(Query::keywords("relayed"));
        let first = table.pack(query(1, 5, &words));
        let second = table.pack(query(1, 5, &words));
        let handed = table.unpack(first);
        // The receiving node relays the very payload it was handed.
        let relayed = table.pack(Message {
            ttl: 4,
            hops: 2,
            ..handed
        });
        assert_eq!(table.in_use(), 1);
        for packed in [second, relayed] {
            table.unpack(packed);
        }
        assert_eq!(table.in_use(), 0);
    }
}
