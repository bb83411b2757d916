//! Answering a fresh Query: from our library (our own hits) and from the result cache
//! (other servents' hits, labelled and never sent back towards their holder).
//!
//! Why its own module: what a hit says about us (address, speed, trailer, servent GUID),
//! how records are split into QueryHits, the reply TTL, and the rules of cached answers
//! (the hops they had made, the record budget, never our own, never the querier's) are
//! one concern, apart from routing. The node hands in the parts it owns and the queue to
//! put Sends on; these functions return what they sent, for the node to count.

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::aged_map::Bounds;
use super::library::Library;
use super::query_words::QueryWords;
use super::result_cache::ResultCache;
use super::types::{CacheConfig, Time};
use crate::protocol::{
    Guid, HitRecord, Message, Payload, QhdTrailer, Query, QueryHit, MAX_RECORDS_PER_HIT,
};

/// Vendor code in the trailer of our QueryHits.
pub const VENDOR_CODE: [u8; 4] = *b"GNRS";

/// Speed (kb/s) we advertise in QueryHits.
const HIT_SPEED_KBPS: u32 = 1000;

/// Who we say we are in our hits.
#[derive(Clone, Copy)]
pub(super) struct Responder {
    pub(super) addr: SocketAddrV4,
    pub(super) servent_guid: Guid,
}

/// The TTL of a reply to a query that has made `hops` (after our hop): received hops + 2
/// (LimeWire; the spec's minimum).
#[inline]
pub(super) fn reply_ttl(hops: u8) -> u8 {
    hops.saturating_add(1)
}

/// Our library's records matching `query` (its criteria split: `words`), at most
/// `max_results`.
#[inline]
pub(super) fn library_records(
    library: &Library,
    query: &Query,
    words: Option<&QueryWords<'_>>,
    max_results: usize,
) -> Vec<HitRecord> {
    library
        .search_split(query, words, max_results)
        .iter()
        .map(|f| f.hit_record())
        .collect()
}

/// Splits `records` into QueryHits of at most 10 records and passes each to `send`;
/// returns how many there were.
#[inline]
pub(super) fn send_hits(
    me: Responder,
    guid: Guid,
    ttl: u8,
    mut records: Vec<HitRecord>,
    mut send: impl FnMut(Message),
) -> u32 {
    let mut sent = 0;
    while !records.is_empty() {
        // The records themselves when they fit one hit (nearly always): no copy.
        let rest = if records.len() > MAX_RECORDS_PER_HIT {
            records.split_off(MAX_RECORDS_PER_HIT)
        } else {
            Vec::new()
        };
        let chunk = std::mem::replace(&mut records, rest);
        let hit = QueryHit {
            port: me.addr.port(),
            ip: *me.addr.ip(),
            speed: HIT_SPEED_KBPS,
            records: chunk,
            trailer: Some(QhdTrailer {
                vendor: VENDOR_CODE,
                // Push flag valid (byte 1 bit 0) and clear (byte 0 bit 0): we accept
                // incoming connections; nothing else is claimed.
                open_data: vec![0x00, 0x01],
                private: Default::default(),
            }),
            servent_guid: me.servent_guid,
        };
        let msg = Message {
            guid,
            ttl,
            hops: 0,
            payload: Payload::QueryHit(Arc::new(hit)),
        };
        send(msg);
        sent += 1;
    }
    sent
}

/// What a cached answer sent.
pub(super) struct CachedAnswer {
    /// QueryHits sent.
    pub(super) hits: u32,
    /// Records in them.
    pub(super) records: u32,
}

/// Answers query `guid` (`query`, its criteria split: `words`) from `cache` within a
/// `budget` of records, passing each hit to `send`, and notes the query (so hits coming
/// back for it are cached). Skips hits of ours and hits held by the querier (`held_by_querier`): a hit
/// sent there would go back to its holder.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn answer_from_cache(
    cache: &mut ResultCache,
    config: &CacheConfig,
    me: Responder,
    guid: Guid,
    query: &Arc<Query>,
    words: Option<&QueryWords<'_>>,
    reply_ttl: u8,
    mut budget: usize,
    now: Time,
    bounds: Bounds,
    held_by_querier: impl Fn(&Guid) -> bool,
    mut send: impl FnMut(Message),
) -> CachedAnswer {
    let cached = cache.lookup_and_note(guid, query, words, now, config, bounds, |holder| {
        !held_by_querier(holder)
    });
    let mut answer = CachedAnswer {
        hits: 0,
        records: 0,
    };
    let Some(hits) = cached else {
        return answer;
    };
    for cached in hits {
        let hit = cached.hit;
        if hit.servent_guid == me.servent_guid || hit.records.len() > budget {
            continue;
        }
        budget -= hit.records.len();
        answer.records += hit.records.len() as u32;
        // The hops the hit had made to reach us, never 0: a servent takes a hops-0
        // hit for its neighbour's own (gtk-gnutella counts one naming another servent
        // as "weird" and closes the link after five).
        send(Message {
            guid,
            ttl: reply_ttl,
            hops: cached.hops,
            payload: Payload::QueryHit(hit),
        });
        answer.hits += 1;
    }
    answer
}
