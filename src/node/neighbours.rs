//! A node's links and what it keeps of each neighbour, stored without a heap list when
//! the links are the simulator's static overlay.
//!
//! Why its own module: a live node's links come and go in any order, so it needs a
//! growable list; a simulated peer of a static overlay has links `0..degree`, all alike
//! (same role, all take Bye, no address kept: the simulator knows each link's far end
//! itself), and a list of those cost a million-peer flood one heap object per peer
//! (80 bytes at degree 4 with the allocator's header). [`Neighbours`] keeps such links
//! as a count and the traits they share (12 bytes inline), and turns into a list the
//! first time a link breaks the pattern. The list lives in the node's cold box, not
//! inline: a pointer to it would cost every node 8 bytes more, and a node whose links
//! broke the pattern (a live peer, a dynamic overlay's, a two-tier one's) has a cold
//! box anyway or nearly. Routing reads both through the same iterator, so the routing
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

/// The list of links that broke the dense pattern, kept in the node's cold box (a
/// flood's peer has none). Boxed: 8 bytes there, not a `Vec`'s 24, so the cold box of a
/// node whose links are dense stays in its allocator size class.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)]
pub(super) struct NeighbourList(Option<Box<Vec<Neighbour>>>);

impl NeighbourList {
    /// The list, allocated on first use.
    fn vec(&mut self) -> &mut Vec<Neighbour> {
        self.0.get_or_insert_with(Box::default)
    }
}

/// The links up, in the order they came up (see the module documentation): 12 bytes
/// inline. Dense: links `0..count`, all with `traits` and no listen address;
/// `reserved`: the links the driver said are coming (`reserve`), the list's size if it
/// must become one. Listed: the links are the [`NeighbourList`] the caller passes in
/// (the node's cold box), and `count`, `reserved` and `traits` mean nothing.
#[derive(Clone, Copy, Debug)]
pub(super) struct Neighbours {
    count: u32,
    reserved: u32,
    traits: Traits,
    listed: bool,
}

impl Default for Neighbours {
    fn default() -> Self {
        Neighbours {
            count: 0,
            reserved: 0,
            traits: Traits {
                accepts_bye: false,
                role: Role::Ultrapeer,
                query_routing: false,
            },
            listed: false,
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

/// The list's links (none if the node has no cold box: then it has no list either).
fn links(list: Option<&NeighbourList>) -> &[Neighbour] {
    list.and_then(|l| l.0.as_deref()).map_or(&[], |l| &l[..])
}

/// Each reading method takes `list`, the node's [`NeighbourList`] if it has a cold box
/// (a pointer it need not follow: a dense run never reads it); each changing method a
/// function that gives the list, allocating the cold box, called only when the links
/// are or become a list.
impl Neighbours {
    #[inline]
    pub fn iter<'a>(&self, list: Option<&'a NeighbourList>) -> Iter<'a> {
        if self.listed {
            Iter::List(links(list).iter())
        } else {
            Iter::Dense {
                next: 0,
                count: self.count,
                traits: self.traits,
            }
        }
    }

    pub fn len(&self, list: Option<&NeighbourList>) -> usize {
        if self.listed {
            links(list).len()
        } else {
            self.count as usize
        }
    }

    /// The neighbour on `conn`, if that link is up.
    #[inline]
    pub fn get(&self, list: Option<&NeighbourList>, conn: ConnId) -> Option<Neighbour> {
        if self.listed {
            links(list).iter().find(|n| n.conn == conn).copied()
        } else {
            (conn.0 < self.count).then(|| self.traits.neighbour(conn.0))
        }
    }

    pub fn contains(&self, list: Option<&NeighbourList>, conn: ConnId) -> bool {
        if self.listed {
            links(list).iter().any(|n| n.conn == conn)
        } else {
            conn.0 < self.count
        }
    }

    /// Where the list lives, for a prefetch hint (null without one).
    pub fn as_ptr(&self, list: Option<&NeighbourList>) -> *const u8 {
        match list.and_then(|l| l.0.as_deref()) {
            Some(list) if self.listed => list.as_ptr() as *const u8,
            _ => std::ptr::null(),
        }
    }

    /// Heap bytes of the list (its pointer is counted with the cold box).
    pub fn heap_bytes(&self, list: Option<&NeighbourList>) -> usize {
        list.and_then(|l| l.0.as_deref()).map_or(0, |l| {
            std::mem::size_of::<Vec<Neighbour>>() + l.capacity() * std::mem::size_of::<Neighbour>()
        })
    }

    /// Room for `links` more links without regrowing, should they need a list.
    pub fn reserve<'a>(&mut self, list: impl FnOnce() -> &'a mut NeighbourList, links: usize) {
        if self.listed {
            list().vec().reserve_exact(links);
        } else {
            let links = u32::try_from(links).unwrap_or(u32::MAX);
            self.reserved = self.count.saturating_add(links).max(self.reserved);
        }
    }

    /// Adds the link of `neighbour`, or replaces what we knew of it.
    pub fn insert<'a>(
        &mut self,
        list: impl FnOnce() -> &'a mut NeighbourList,
        neighbour: Neighbour,
    ) {
        if !self.listed {
            let conn = neighbour.conn.0;
            let fits = neighbour.traits();
            if self.count == 0 && conn == 0 {
                if let Some(t) = fits {
                    self.traits = t;
                    self.count = 1;
                    return;
                }
            } else if fits == Some(self.traits) && conn <= self.count {
                // The next link in order, or one we already have, unchanged.
                self.count = self.count.max(conn + 1);
                return;
            }
            let list = self.become_list(list(), self.reserved.max(self.count + 1));
            list.push(neighbour);
            return;
        }
        let list = list().vec();
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
    pub fn remove<'a>(&mut self, list: impl FnOnce() -> &'a mut NeighbourList, conn: ConnId) {
        if self.listed {
            list().vec().retain(|n| n.conn != conn);
        } else if conn.0 + 1 == self.count {
            self.count -= 1;
        } else if conn.0 < self.count {
            let list = self.become_list(list(), self.count);
            list.retain(|n| n.conn != conn);
        }
    }

    /// Turns the dense run into `list` (empty until now), with room for `capacity`.
    fn become_list<'a>(
        &mut self,
        list: &'a mut NeighbourList,
        capacity: u32,
    ) -> &'a mut Vec<Neighbour> {
        let mut links = Vec::with_capacity(capacity as usize);
        links.extend(self.iter(None));
        *self = Neighbours {
            listed: true,
            ..Neighbours::default()
        };
        list.0.insert(Box::new(links))
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

    /// A node's links: the inline part and the list its cold box would hold.
    #[derive(Default)]
    struct Links {
        inline: Neighbours,
        list: NeighbourList,
    }

    impl Links {
        fn conns(&self) -> Vec<u32> {
            self.inline
                .iter(Some(&self.list))
                .map(|n| n.conn.0)
                .collect()
        }

        fn insert(&mut self, n: Neighbour) {
            self.inline.insert(|| &mut self.list, n);
        }

        fn remove(&mut self, conn: ConnId) {
            self.inline.remove(|| &mut self.list, conn);
        }

        fn get(&self, conn: ConnId) -> Option<Neighbour> {
            self.inline.get(Some(&self.list), conn)
        }
    }

    #[test]
    fn links_in_order_without_addresses_need_no_list() {
        let mut n = Links::default();
        n.inline
            .reserve(|| unreachable!("a dense run has no list"), 4);
        for c in 0..4 {
            n.insert(Neighbour::new(ConnId(c), &info(None, Role::Ultrapeer)));
        }
        assert!(!n.inline.listed && n.inline.count == 4);
        assert_eq!(n.inline.len(None), 4);
        assert_eq!(n.conns(), [0, 1, 2, 3]);
        assert_eq!(n.get(ConnId(2)).map(|x| x.accepts_bye), Some(true));
        assert!(n.get(ConnId(4)).is_none());
        n.remove(ConnId(3));
        assert_eq!(n.conns(), [0, 1, 2]);
        assert!(!n.inline.listed);
        assert!(n.list.0.is_none());
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
            let mut n = Links::default();
            n.inline
                .reserve(|| unreachable!("a dense run has no list"), 3);
            n.insert(Neighbour::new(ConnId(0), &info(None, Role::Ultrapeer)));
            n.insert(Neighbour::new(ConnId(conn), &last));
            assert!(n.inline.listed && links(Some(&n.list)).len() == 2);
            assert_eq!(n.list.vec().capacity(), 3);
            assert_eq!(n.conns(), [0, conn]);
            assert_eq!(n.inline.len(Some(&n.list)), 2);
            assert_eq!(
                n.get(ConnId(conn)),
                Some(Neighbour::new(ConnId(conn), &last))
            );
        }
        let mut n = Links::default();
        for c in 0..3 {
            n.insert(Neighbour::new(ConnId(c), &info(None, Role::Ultrapeer)));
        }
        n.remove(ConnId(1));
        assert_eq!(n.conns(), [0, 2]);
        assert!(!n.inline.contains(Some(&n.list), ConnId(1)));
        assert!(n.inline.contains(Some(&n.list), ConnId(2)));
    }
}
