//! The LRU result cache: recent hits by normalised query, so a repeated query can be
//! answered by a peer near the searcher instead of by a flood to the far holders.
//!
//! Entries are filled from QueryHits that pass through this peer (or reach it as the
//! origin). The hits are kept whole, behind the same `Arc` the routed message carries, so
//! an answer from the cache names the real holder's address and servent GUID: downloads
//! and pushes still go to the holder. An entry expires `max_age_secs` after it was
//! created, so a cached answer is never older than that.
//!
//! Memory: the cache is created on first use and does not preallocate its capacity (the
//! `lru` crate's `new(cap)` would), so peers that never see a hit pay nothing.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::aged_map::Bounds;
use super::fast_hash::KeyedHash;
use super::generations::Generations;
use super::library::normalise;
use super::types::{CacheConfig, Time};
use crate::protocol::{Guid, Query, QueryHit};

/// Most hits kept for one query (one per responder, newest wins).
const MAX_HITS_PER_ENTRY: usize = 16;

#[derive(Debug)]
struct CacheEntry {
    created: Time,
    hits: Vec<Arc<QueryHit>>,
}

/// Cached hits by normalised query, plus which in-flight query GUID asked what.
#[derive(Debug)]
pub struct ResultCache {
    entries: LruCache<Box<str>, CacheEntry, KeyedHash>,
    /// Query GUID -> normalised query, for the queries whose hits we may still see.
    asked: Generations<Guid, Arc<str>>,
}

/// The key a query is cached under: its words lower-cased, sorted and de-duplicated,
/// then its URNs, so "Debian  NETINST" and "netinst debian" share an entry.
pub fn cache_key(query: &Query) -> Arc<str> {
    let criteria = query.criteria.as_str();
    let normal;
    let text = if criteria
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        criteria
    } else {
        normal = normalise(criteria);
        normal.as_str()
    };
    let mut words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();
    let mut key = words.join(" ");
    for sha1 in query.sha1s() {
        key.push(' ');
        key.push_str(&sha1.to_urn());
    }
    Arc::from(key)
}

impl ResultCache {
    pub fn new(hash: KeyedHash) -> ResultCache {
        ResultCache {
            entries: LruCache::unbounded_with_hasher(hash),
            asked: Generations::new(hash),
        }
    }

    /// Remembers that query `guid` asked `key`, so its hits can be filed under it.
    pub fn note_query(&mut self, guid: Guid, key: Arc<str>, now: Time, bounds: Bounds) {
        self.asked.insert(guid, key, now, bounds);
    }

    /// Files a hit for query `guid` (if we noted it) under that query's key.
    pub fn add_hit(
        &mut self,
        guid: &Guid,
        hit: &Arc<QueryHit>,
        now: Time,
        config: &CacheConfig,
        asked_bounds: Bounds,
    ) {
        let Some(key) = self.asked.get(guid, now, asked_bounds).cloned() else {
            return;
        };
        if hit.records.is_empty() {
            return;
        }
        let max_age = Bounds::new(config.capacity, config.max_age_secs);
        let fresh = match self.entries.get_mut(&*key) {
            Some(entry) if !max_age_expired(entry.created, now, max_age) => {
                entry.hits.retain(|h| h.servent_guid != hit.servent_guid);
                if entry.hits.len() >= MAX_HITS_PER_ENTRY {
                    entry.hits.remove(0);
                }
                entry.hits.push(Arc::clone(hit));
                true
            }
            _ => false,
        };
        if !fresh {
            self.entries.put(
                Box::from(&*key),
                CacheEntry {
                    created: now,
                    hits: vec![Arc::clone(hit)],
                },
            );
            let capacity = NonZeroUsize::new(config.capacity).map_or(1, NonZeroUsize::get);
            while self.entries.len() > capacity {
                self.entries.pop_lru();
            }
        }
    }

    /// The live cached hits for `key`, most recently filed last.
    pub fn lookup(
        &mut self,
        key: &str,
        now: Time,
        config: &CacheConfig,
    ) -> Option<Vec<Arc<QueryHit>>> {
        let max_age = Bounds::new(config.capacity, config.max_age_secs);
        let expired = match self.entries.get(key) {
            None => return None,
            Some(entry) if !max_age_expired(entry.created, now, max_age) => {
                return Some(entry.hits.clone());
            }
            Some(_) => true,
        };
        if expired {
            self.entries.pop(key);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn max_age_expired(created: Time, now: Time, bounds: Bounds) -> bool {
    now.saturating_sub(created).0 > bounds.max_age_micros
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HitRecord;
    use std::net::Ipv4Addr;

    fn hit(servent: u8) -> Arc<QueryHit> {
        Arc::new(QueryHit {
            port: 6346,
            ip: Ipv4Addr::new(10, 0, 0, servent),
            speed: 0,
            records: vec![HitRecord {
                index: 1,
                size: 5,
                name: "a.txt".into(),
                extensions: vec![],
            }],
            trailer: None,
            servent_guid: Guid([servent; 16]),
        })
    }

    #[test]
    fn key_ignores_case_order_and_punctuation() {
        assert_eq!(
            cache_key(&Query::keywords("Debian  NETINST")),
            cache_key(&Query::keywords("netinst-debian"))
        );
    }

    #[test]
    fn hits_are_filed_under_the_asking_query_and_expire() {
        let config = CacheConfig {
            capacity: 2,
            max_age_secs: 10,
            mode: Default::default(),
        };
        let bounds = Bounds::new(100, 600);
        let mut cache = ResultCache::new(KeyedHash::new(3));
        let key = cache_key(&Query::keywords("debian"));
        cache.note_query(Guid([1; 16]), Arc::clone(&key), Time::ZERO, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([1; 16]), &hit(7), Time::ZERO, &config, bounds);
        cache.add_hit(&Guid([2; 16]), &hit(8), Time::ZERO, &config, bounds);
        let hits = cache
            .lookup(&key, Time::from_secs(10), &config)
            .unwrap_or_default();
        assert_eq!(
            hits.len(),
            1,
            "one hit per responder; unasked GUIDs ignored"
        );
        assert_eq!(hits[0].ip, Ipv4Addr::new(10, 0, 0, 7));
        assert!(cache.lookup(&key, Time::from_secs(11), &config).is_none());
    }
}
