//! Our marker on a QueryHit re-sent from a result cache, so our own searchers can tell a
//! cached answer from the holder's own.
//!
//! A peer answering from its result cache re-sends a hit another servent made. It keeps
//! the hop count the hit arrived with (never 0: real servents take a hops-0 hit for the
//! sending neighbour's own, see `node::Node`), and it adds this marker, saying how many
//! hops the holder was from the cache. A searcher then knows that the answering peer was
//! `hops - holder_hops` away and that the holder may lie beyond the query's TTL.
//!
//! **Where the marker goes.** One GGEP block with the single key `GNRSC` (our vendor code
//! `GNRS` + `C`; vendor-private ids look like gtk-gnutella's `GTKGV`) holding one byte,
//! the holder's hops, appended to the extension area of every record. Not in the QHD
//! trailer: a hit may have none (we would have to invent a vendor code for the holder),
//! the private area's GGEP-valid flag and vendor bytes are the holder's, and LimeWire
//! locates its XML as the last bytes of the private area, so a block appended there would
//! break it. Record extensions are where real servents put their own per-file GGEP (`H`,
//! `ALT`, `LF`); gtk-gnutella ignores unknown record GGEP keys (it logs them at debug
//! level), LimeWire merges a record's GGEP blocks and ignores unknown keys. The byte is
//! at least 1, so the block holds no NUL (gtk-gnutella drops a hit whose record tag does).

use bytes::Bytes;

use super::ggep;
use super::message::{Extension, QueryHit};

/// The GGEP key of the marker.
pub const CACHE_MARK_ID: &[u8] = b"GNRSC";

/// What the marker says about a cached answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheMark {
    /// Hops from the holder to the peer that answered from its cache.
    pub holder_hops: u8,
}

impl QueryHit {
    /// The cache marker, if this hit is a cached answer: the last one in the first record
    /// that has any (a cache appends its marker after what the record already holds).
    pub fn cache_mark(&self) -> Option<CacheMark> {
        self.records
            .iter()
            .find_map(|r| {
                r.extensions.iter().rev().find_map(|e| match e {
                    Extension::Ggep(block) => ggep::find(block, CACHE_MARK_ID),
                    _ => None,
                })
            })
            .and_then(|data| data.first().copied())
            .map(|holder_hops| CacheMark { holder_hops })
    }

    /// This hit as a cache re-sends it: every record carries the marker for
    /// `holder_hops` (at least 1), replacing a marker an earlier cache put there.
    pub fn marked_as_cached(&self, holder_hops: u8) -> QueryHit {
        let hops = [holder_hops.max(1)];
        let mut block = Vec::with_capacity(9);
        ggep::write_block(&[(CACHE_MARK_ID, &hops)], &mut block);
        let block = Bytes::from(block);
        let mut hit = self.clone();
        for record in &mut hit.records {
            record.extensions.retain(|e| !is_marker_block(e));
            record.extensions.push(Extension::Ggep(block.clone()));
        }
        hit
    }
}

/// A GGEP block holding nothing but our marker (what `marked_as_cached` writes).
fn is_marker_block(extension: &Extension) -> bool {
    let Extension::Ggep(block) = extension else {
        return false;
    };
    matches!(ggep::ids(block), Ok(ids)
        if !ids.is_empty() && ids.iter().all(|id| *id == CACHE_MARK_ID))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Guid, HitRecord, Message, Payload, Sha1};
    use bytes::BytesMut;
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    fn hit(extensions: Vec<Extension>) -> QueryHit {
        let record = |index| HitRecord {
            index,
            size: 10,
            name: format!("file {index}.txt"),
            extensions: extensions.clone(),
        };
        QueryHit {
            port: 6346,
            ip: Ipv4Addr::new(10, 0, 0, 9),
            speed: 0,
            records: vec![record(1), record(2)],
            trailer: None,
            servent_guid: Guid([9; 16]),
        }
    }

    fn on_the_wire(hit: QueryHit) -> QueryHit {
        let msg = Message {
            guid: Guid([1; 16]),
            ttl: 3,
            hops: 2,
            payload: Payload::QueryHit(Arc::new(hit)),
        };
        let mut buf = BytesMut::from(&msg.to_bytes()[..]);
        let frame = crate::protocol::FrameDecoder::new()
            .decode(&mut buf)
            .expect("decodes")
            .expect("one frame");
        match frame {
            crate::protocol::Frame::Message(Message {
                payload: Payload::QueryHit(hit),
                ..
            }) => Arc::unwrap_or_clone(hit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_marker_survives_the_wire_and_keeps_the_records_hash() {
        let sha1 = Sha1::of_bytes(b"x");
        let plain = hit(vec![Extension::Sha1(sha1)]);
        assert_eq!(plain.cache_mark(), None);
        let marked = plain.marked_as_cached(3);
        let back = on_the_wire(marked.clone());
        assert_eq!(back, marked);
        assert_eq!(back.cache_mark(), Some(CacheMark { holder_hops: 3 }));
        assert!(back.records.iter().all(|r| r.sha1() == Some(sha1)));
        // The decoder cuts a record's extensions at the first NUL, so getting the same
        // records back means the block put none in the record.
        assert!(back.records.iter().all(|r| r.extensions.len() == 2));
    }

    #[test]
    fn a_second_cache_replaces_the_marker_and_keeps_foreign_ggep() {
        let foreign = Extension::Ggep(Bytes::from_static(&[0xC3, 0x82, b'T', b'T', 0x40]));
        let once = hit(vec![foreign.clone()]).marked_as_cached(1);
        let twice = once.marked_as_cached(4);
        assert_eq!(twice.cache_mark(), Some(CacheMark { holder_hops: 4 }));
        for record in &twice.records {
            assert_eq!(record.extensions.len(), 2, "{:?}", record.extensions);
            assert_eq!(record.extensions[0], foreign);
        }
        // A block that mixes our key with others is not ours to remove; ours, appended
        // after it, is the one read.
        let mut mixed = Vec::new();
        ggep::write_block(&[(b"TT", b"x"), (CACHE_MARK_ID, &[9])], &mut mixed);
        let odd = hit(vec![Extension::Ggep(Bytes::from(mixed))]);
        assert_eq!(odd.cache_mark(), Some(CacheMark { holder_hops: 9 }));
        let marked = odd.marked_as_cached(2);
        assert_eq!(marked.records[0].extensions.len(), 2);
        assert_eq!(marked.cache_mark(), Some(CacheMark { holder_hops: 2 }));
        assert_eq!(
            hit(vec![]).marked_as_cached(0).cache_mark(),
            Some(CacheMark { holder_hops: 1 }),
            "never a NUL byte"
        );
    }
}
