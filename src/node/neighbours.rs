//! A node's links and what it keeps of each neighbour, stored without a heap list when
//! the links are the simulator's static overlay.
//!
//! Why its own module: a live node's links come and go in any order, so it needs a
//! growable list; a simulated peer of a static overlay has links `0..degree`, all alike
//! (same role, all take Bye, no address kept: the simulator knows each link's far end
//! itself), and a list of those cost a million-peer flood one heap object per peer
//! (80 bytes at degree 4 with the allocator's header). [`Neighbours`] keeps such links
//! as a count and the traits they share, and turns into a list the first time a link
//! breaks the pattern. Routing reads both through the same iterator, so the routing
//! code is the same for the simulator and the live network.

use std::net::SocketAddrV4;

use super::role::Role;
use super::types::{ConnId, PeerInfo};

/// A link and what the node keeps of its `PeerInfo` (16 bytes: flooding walks these).
/// The neighbour's servent GUID is kept in the node's cold `servents` box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Neighbour {
    pub conn: ConnId,
    pub listen_addr: Option<SocketAddrV4>,
    pub accepts_bye: bool,
    /// What the neighbour is (`PeerInfo::role`).
    pub role: Role,
    /// It takes our QRP table (`PeerInfo::query_routing`).
    pub query_routing: bool,
}

impl Neighbour {
    pub fn new(conn: ConnId, info: &PeerInfo) -> Neighbour {
        Neighbour {
            conn,
            listen_addr: info.listen_addr,
            accepts_bye: info.accepts_bye,
            role: info.role,
            query_routing: info.query_routing,
        }
    }

    fn traits(&self) -> Option<Traits> {
        self.listen_addr.is_none().then_some(Traits {
            accepts_bye: self.accepts_bye,
            role: self.role,
            query_routing: self.query_routing,
        })
    }
}

/// What every link of a dense run shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Traits {
    accepts_bye: bool,
    role: Role,
    query_routing: bool,
}

impl Traits {
    fn neighbour(self, conn: u32) -> Neighbour {
        Neighbour {
            conn: ConnId(conn),
            listen_addr: None,
            accepts_bye: self.accepts_bye,
            role: self.role,
            query_routing: self.query_routing,
        }
    }
}

/// The links up, in the order they came up (see the module documentation).
#[derive(Clone, Debug)]
pub(super) enum Neighbours {
    /// Links `0..count`, all with `traits` and no listen address; `reserved`: the links
    /// the driver said are coming (`reserve`), the list's size if it must become one.
    Dense {
        count: u32,
        reserved: u32,
        traits: Traits,
    },
    /// Boxed: a node pays 16 bytes inline for its links, not a `Vec`'s 24 (the
    /// simulator's nodes are nearly all dense).
    #[allow(clippy::box_collection)]
    List(Box<Vec<Neighbour>>),
}

impl Default for Neighbours {
    fn default() -> Self {
        Neighbours::Dense {
            count: 0,
            reserved: 0,
            traits: Traits {
                accepts_bye: false,
                role: Role::Ultrapeer,
                query_routing: false,
            },
        }
    }
}

/// The neighbours of [`Neighbours::iter`], by value (they are 16-byte copies).
#[derive(Clone)]
pub(super) enum Iter<'a> {
    Dense {
        next: u32,
        count: u32,
        traits: Traits,
    },
    List(std::slice::Iter<'a, Neighbour>),
}

impl Iterator for Iter<'_> {
    type Item = Neighbour;

    #[inline]
    fn next(&mut self) -> Option<Neighbour> {
        match self {
            Iter::Dense {
                next,
                count,
                traits,
            } => {
                if next < count {
                    *next += 1;
                    Some(traits.neighbour(*next - 1))
                } else {
                    None
                }
            }
            Iter::List(list) => list.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            Iter::Dense { next, count, .. } => (count - next) as usize,
            Iter::List(list) => list.len(),
        };
        (n, Some(n))
    }
}

impl Neighbours {
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Neighbours::Dense { count, traits, .. } => Iter::Dense {
                next: 0,
                count: *count,
                traits: *traits,
            },
            Neighbours::List(list) => Iter::List(list.iter()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Neighbours::Dense { count, .. } => *count as usize,
            Neighbours::List(list) => list.len(),
        }
    }

    /// The neighbour on `conn`, if that link is up.
    #[inline]
    pub fn get(&self, conn: ConnId) -> Option<Neighbour> {
        match self {
            Neighbours::Dense { count, traits, .. } => {
                (conn.0 < *count).then(|| traits.neighbour(conn.0))
            }
            Neighbours::List(list) => list.iter().find(|n| n.conn == conn).copied(),
        }
    }

    pub fn contains(&self, conn: ConnId) -> bool {
        match self {
            Neighbours::Dense { count, .. } => conn.0 < *count,
            Neighbours::List(list) => list.iter().any(|n| n.conn == conn),
        }
    }

    /// Where the list lives, for a prefetch hint (null without one).
    pub fn as_ptr(&self) -> *const u8 {
        match self {
            Neighbours::Dense { .. } => std::ptr::null(),
            Neighbours::List(list) => list.as_ptr() as *const u8,
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Neighbours::Dense { .. } => 0,
            Neighbours::List(list) => {
                std::mem::size_of::<Vec<Neighbour>>()
                    + list.capacity() * std::mem::size_of::<Neighbour>()
            }
        }
    }

    /// Room for `links` more links without regrowing, should they need a list.
    pub fn reserve(&mut self, links: usize) {
        match self {
            Neighbours::Dense {
                count, reserved, ..
            } => {
                let links = u32::try_from(links).unwrap_or(u32::MAX);
                *reserved = count.saturating_add(links).max(*reserved);
            }
            Neighbours::List(list) => list.reserve_exact(links),
        }
    }

    /// Adds the link of `neighbour`, or replaces what we knew of it.
    pub fn insert(&mut self, neighbour: Neighbour) {
        if let Neighbours::Dense {
            count,
            traits,
            reserved,
        } = self
        {
            let conn = neighbour.conn.0;
            let fits = neighbour.traits();
            if *count == 0 && conn == 0 {
                if let Some(t) = fits {
                    *traits = t;
                    *count = 1;
                    return;
                }
            } else if fits == Some(*traits) && conn <= *count {
                // The next link in order, or one we already have, unchanged.
                *count = (*count).max(conn + 1);
                return;
            }
            let mut list = Vec::with_capacity((*reserved).max(*count + 1) as usize);
            list.extend(self.iter());
            *self = Neighbours::List(Box::new(list));
        }
        let Neighbours::List(list) = self else {
            unreachable!("a dense run was just turned into a list")
        };
        // Drivers number links in increasing order: a new highest id is new, with no
        // scan (a simulated hub of thousands of links would otherwise pay quadratically).
        if !matches!(list.last(), Some(last) if last.conn >= neighbour.conn) {
            list.push(neighbour);
        } else {
            match list.iter_mut().find(|n| n.conn == neighbour.conn) {
                Some(existing) => *existing = neighbour,
                None => list.push(neighbour),
            }
        }
    }

    /// Forgets the link `conn`.
    pub fn remove(&mut self, conn: ConnId) {
        match self {
            Neighbours::Dense { count, .. } if conn.0 >= *count => {}
            Neighbours::Dense { count, .. } if conn.0 + 1 == *count => *count -= 1,
            Neighbours::Dense { .. } => {
                let list: Vec<Neighbour> = self.iter().filter(|n| n.conn != conn).collect();
                *self = Neighbours::List(Box::new(list));
            }
            Neighbours::List(list) => list.retain(|n| n.conn != conn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(addr: Option<SocketAddrV4>, role: Role) -> PeerInfo {
        PeerInfo {
            listen_addr: addr,
            accepts_bye: true,
            servent_guid: None,
            role,
            query_routing: false,
        }
    }

    fn conns(n: &Neighbours) -> Vec<u32> {
        n.iter().map(|n| n.conn.0).collect()
    }

    #[test]
    fn links_in_order_without_addresses_need_no_heap() {
        let mut n = Neighbours::default();
        n.reserve(4);
        for c in 0..4 {
            n.insert(Neighbour::new(ConnId(c), &info(None, Role::Ultrapeer)));
        }
        assert!(matches!(n, Neighbours::Dense { count: 4, .. }));
        assert_eq!(n.heap_bytes(), 0);
        assert_eq!(conns(&n), [0, 1, 2, 3]);
        assert_eq!(n.get(ConnId(2)).map(|x| x.accepts_bye), Some(true));
        assert!(n.get(ConnId(4)).is_none());
        n.remove(ConnId(3));
        assert_eq!(conns(&n), [0, 1, 2]);
        assert!(matches!(n, Neighbours::Dense { .. }));
    }

    #[test]
    fn a_link_that_breaks_the_pattern_turns_the_run_into_a_list_with_the_same_answers() {
        let addr: SocketAddrV4 = "10.0.0.1:6346".parse().unwrap();
        let cases: [(u32, PeerInfo); 3] = [
            (2, info(None, Role::Ultrapeer)),       // out of order
            (1, info(None, Role::Leaf)),            // other traits
            (1, info(Some(addr), Role::Ultrapeer)), // an address to keep
        ];
        for (conn, last) in cases {
            let mut n = Neighbours::default();
            n.reserve(3);
            n.insert(Neighbour::new(ConnId(0), &info(None, Role::Ultrapeer)));
            n.insert(Neighbour::new(ConnId(conn), &last));
            assert!(matches!(&n, Neighbours::List(l) if l.capacity() == 3));
            assert_eq!(conns(&n), [0, conn]);
            assert_eq!(
                n.get(ConnId(conn)),
                Some(Neighbour::new(ConnId(conn), &last))
            );
        }
        let mut n = Neighbours::default();
        for c in 0..3 {
            n.insert(Neighbour::new(ConnId(c), &info(None, Role::Ultrapeer)));
        }
        n.remove(ConnId(1));
        assert_eq!(conns(&n), [0, 2]);
        assert!(!n.contains(ConnId(1)));
    }
}
