//! Where servents are: the link a servent's hits came in on (Push routing), and which
//! servent is at the other end of each link (so no hit is handed to the servent it names).
//!
//! **Push routes** (PROTOCOL.md §3.2): a Push for servent X goes out on the link its hits
//! came in on; entries age out like the reverse routes.
//!
//! **The servent on each link.** gtk-gnutella counts a hit naming its own servent GUID,
//! coming back from a neighbour with hops 0, as a "weird" message, and after five it
//! closes the link with `BYE 412 Security violation` and shuns the address; it also never
//! routes a hit to the servent it names. So neither do we: a result cache never answers
//! a query with a hit of the neighbour that sent the query, and a hit (someone's cache
//! answer) whose next hop is its own holder is dropped. A neighbour says who it is twice:
//! in the handshake's `GUID` header (gtk-gnutella sends it, and so do we) and in its own
//! hits, the ones that arrive with hops 0 (a relayed hit has hops of at least 1). Both are
//! kept: a servent that re-sent cached hits with hops 0 (as we once did) would otherwise
//! teach us a wrong GUID and hide its real one. One entry per live link, removed when the
//! link goes (drivers never reuse a `ConnId`, so a leftover could not name a later link).
//!
//! The node allocates this on its first hit or named neighbour, so peers that see neither
//! pay nothing.

use std::collections::HashMap;

use super::aged_map::{AgedMap, Bounds};
use super::fast_hash::KeyedHash;
use super::types::{ConnId, Time};
use crate::protocol::Guid;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Said {
    /// From the handshake's `GUID` header.
    header: Option<Guid>,
    /// From the latest hit that arrived on the link with hops 0.
    own_hit: Option<Guid>,
}

/// Push routes and the servent on each link.
#[derive(Clone, Debug)]
pub struct ServentRoutes {
    /// Servent GUID -> the link its QueryHits came in on.
    push: AgedMap<Guid, ConnId>,
    links: HashMap<ConnId, Said, KeyedHash>,
}

impl ServentRoutes {
    pub fn new(hash: KeyedHash) -> ServentRoutes {
        ServentRoutes {
            push: AgedMap::new(hash),
            links: HashMap::with_hasher(hash),
        }
    }

    /// A hit of servent `guid` came in on `from`; `own` when it arrived with hops 0, so
    /// that servent is the neighbour on `from`.
    pub fn hit_from(&mut self, from: ConnId, guid: Guid, own: bool, now: Time, bounds: Bounds) {
        self.push.insert(guid, from, now, bounds);
        if own {
            self.links.entry(from).or_default().own_hit = Some(guid);
        }
    }

    /// The neighbour on `conn` gave `guid` in its handshake.
    pub fn from_header(&mut self, conn: ConnId, guid: Guid) {
        self.links.entry(conn).or_default().header = Some(guid);
    }

    /// The link a Push for `target` goes out on, if its hits came by lately.
    pub fn push_route(&self, target: &Guid, now: Time, bounds: Bounds) -> Option<ConnId> {
        self.push.get(target, now, bounds).copied()
    }

    /// Whether the servent `guid` is the neighbour on `conn`, as far as we know.
    pub fn is_on(&self, conn: ConnId, guid: &Guid) -> bool {
        self.links
            .get(&conn)
            .is_some_and(|s| s.header.as_ref() == Some(guid) || s.own_hit.as_ref() == Some(guid))
    }

    /// The GUID the neighbour on `conn` gave in its handshake, else the one its own hits
    /// carry.
    pub fn guid_of(&self, conn: ConnId) -> Option<Guid> {
        self.links.get(&conn).and_then(|s| s.header.or(s.own_hit))
    }

    /// The link went down.
    pub fn forget(&mut self, conn: ConnId) {
        self.links.remove(&conn);
    }

    pub fn heap_bytes(&self) -> usize {
        self.push.heap_bytes() + self.links.capacity() * (std::mem::size_of::<(ConnId, Said)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sources_name_a_link_until_it_goes() {
        let bounds = Bounds::new(10, 60);
        let mut routes = ServentRoutes::new(KeyedHash::new(1));
        let (a, b, far) = (Guid([1; 16]), Guid([2; 16]), Guid([3; 16]));
        routes.from_header(ConnId(3), a);
        routes.hit_from(ConnId(3), b, true, Time::ZERO, bounds);
        routes.hit_from(ConnId(3), far, false, Time::ZERO, bounds);
        assert!(routes.is_on(ConnId(3), &a) && routes.is_on(ConnId(3), &b));
        assert!(
            !routes.is_on(ConnId(3), &far),
            "a relayed hit names no neighbour"
        );
        assert!(!routes.is_on(ConnId(4), &a));
        assert_eq!(routes.guid_of(ConnId(3)), Some(a), "the header first");
        assert_eq!(routes.push_route(&far, Time::ZERO, bounds), Some(ConnId(3)));
        routes.forget(ConnId(3));
        assert!(!routes.is_on(ConnId(3), &a));
        assert_eq!(routes.guid_of(ConnId(3)), None);
    }
}
