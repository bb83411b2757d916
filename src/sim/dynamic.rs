//! Links that come and go while a run goes on: the link table of a dynamic overlay.
//!
//! A static run reads its links from the fixed CSR table ([`Links`]), where a link's
//! position in a peer's list is its `ConnId`; nothing there can change, and nothing of
//! this module is allocated. A dynamic run (nodes dial hosts from their host caches,
//! `node::overlay`) needs links made and lost at run time, so it keeps them here instead:
//!
//! - per peer, its live links sorted by `ConnId`, each with the far end and the `ConnId`
//!   the far end knows it by (a send needs no search at the far end, as with the CSR's
//!   mirrors); a lookup is a binary search over a handful of links;
//! - per peer, the `ConnId` its next link gets. The graph's links keep the ids the static
//!   table gives them (0..degree), and later links count up from the degree. An id is
//!   never given twice, not even across the peer's sessions (the node's contract: "drivers
//!   must not reuse a `ConnId` for a later link"), so a message still travelling on a link
//!   that went down finds no link under its id and is lost, with no session check.
//!
//! A link is in the table exactly while it is up: it goes at both ends at once (an end
//! left, a node closed it), so the overlay figures read it as it is.

use crate::node::ConnId;

use super::links::Links;

/// One live link as one of its ends sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynLink {
    /// The id this end knows the link by.
    pub conn: ConnId,
    /// The peer at the far end.
    pub peer: u32,
    /// The id the far end knows the link by.
    pub back: ConnId,
    /// The link's slot in the static table when the graph gave it (for a latency the
    /// topology sets per link); `NO_SLOT` for a link made at run time.
    pub slot: u32,
}

/// `DynLink::slot` of a link the graph did not have.
pub const NO_SLOT: u32 = u32::MAX;

/// The live links of every peer of a dynamic run (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct DynamicLinks {
    links: Vec<Vec<DynLink>>,
    next_conn: Vec<u32>,
}

impl DynamicLinks {
    /// The graph's links whose two ends are `online` (a peer past its end is online), under
    /// their static ids; every
    /// peer's next id is its static degree (a link that was down at the start never
    /// comes back under its old id).
    pub fn from_static(links: &Links, online: &[bool]) -> DynamicLinks {
        let n = links.node_count();
        let is_on = |u: u32| online.get(u as usize).copied().unwrap_or(true);
        let mut table = Vec::with_capacity(n as usize);
        let mut next_conn = Vec::with_capacity(n as usize);
        for u in 0..n {
            let degree = links.degree(u);
            next_conn.push(degree);
            let mut own = Vec::new();
            if is_on(u) {
                for conn in 0..degree {
                    let Some(slot) = links.slot(u, ConnId(conn)) else {
                        continue;
                    };
                    let peer = links.target(slot);
                    if is_on(peer) {
                        own.push(DynLink {
                            conn: ConnId(conn),
                            peer,
                            back: links.mirror(u, slot),
                            slot,
                        });
                    }
                }
            }
            table.push(own);
        }
        DynamicLinks {
            links: table,
            next_conn,
        }
    }

    pub fn node_count(&self) -> u32 {
        self.links.len() as u32
    }

    /// `u`'s link `conn`, while it is up.
    #[inline]
    pub fn get(&self, u: u32, conn: ConnId) -> Option<&DynLink> {
        let own = self.links.get(u as usize)?;
        own.binary_search_by_key(&conn, |l| l.conn)
            .ok()
            .map(|i| &own[i])
    }

    /// `u`'s live links, in `ConnId` order.
    pub fn of(&self, u: u32) -> &[DynLink] {
        self.links.get(u as usize).map_or(&[], Vec::as_slice)
    }

    pub fn degree(&self, u: u32) -> usize {
        self.of(u).len()
    }

    /// The peers `u` is linked to, in `ConnId` order.
    pub fn neighbours(&self, u: u32) -> impl Iterator<Item = u32> + '_ {
        self.of(u).iter().map(|l| l.peer)
    }

    /// Whether `u` and `v` share a live link.
    pub fn linked(&self, u: u32, v: u32) -> bool {
        self.of(u).iter().any(|l| l.peer == v)
    }

    /// A new link between `u` and `v` (distinct peers in range), with a fresh id at
    /// each end: `(u's id, v's id)`.
    pub fn link(&mut self, u: u32, v: u32) -> (ConnId, ConnId) {
        let cu = self.fresh(u);
        let cv = self.fresh(v);
        // Fresh ids are the largest each end has had: pushing keeps the lists sorted.
        self.links[u as usize].push(DynLink {
            conn: cu,
            peer: v,
            back: cv,
            slot: NO_SLOT,
        });
        self.links[v as usize].push(DynLink {
            conn: cv,
            peer: u,
            back: cu,
            slot: NO_SLOT,
        });
        (cu, cv)
    }

    /// Takes `u`'s link `conn` down at both ends; the link as `u` saw it, if it was up.
    pub fn unlink(&mut self, u: u32, conn: ConnId) -> Option<DynLink> {
        let own = self.links.get_mut(u as usize)?;
        let i = own.binary_search_by_key(&conn, |l| l.conn).ok()?;
        let link = own.remove(i);
        if let Some(far) = self.links.get_mut(link.peer as usize) {
            if let Ok(j) = far.binary_search_by_key(&link.back, |l| l.conn) {
                far.remove(j);
            }
        }
        Some(link)
    }

    /// Takes every link of `u` down at both ends (`u` left); the links as `u` saw them.
    pub fn unlink_all(&mut self, u: u32) -> Vec<DynLink> {
        let Some(own) = self.links.get_mut(u as usize) else {
            return Vec::new();
        };
        let gone = std::mem::take(own);
        for link in &gone {
            if let Some(far) = self.links.get_mut(link.peer as usize) {
                if let Ok(j) = far.binary_search_by_key(&link.back, |l| l.conn) {
                    far.remove(j);
                }
            }
        }
        gone
    }

    fn fresh(&mut self, u: u32) -> ConnId {
        let next = &mut self.next_conn[u as usize];
        let conn = ConnId(*next);
        *next = next.wrapping_add(1);
        conn
    }

    /// Heap bytes held (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.links.capacity() * std::mem::size_of::<Vec<DynLink>>()
            + self
                .links
                .iter()
                .map(|l| l.capacity() * std::mem::size_of::<DynLink>())
                .sum::<usize>()
            + self.next_conn.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consistent(t: &DynamicLinks) {
        for u in 0..t.node_count() {
            let own = t.of(u);
            assert!(own.windows(2).all(|w| w[0].conn < w[1].conn), "sorted ids");
            for l in own {
                let far = t.get(l.peer, l.back).expect("the far end has it");
                assert_eq!((far.peer, far.back), (u, l.conn));
            }
        }
    }

    #[test]
    fn the_graph_keeps_its_ids_and_new_links_never_reuse_one() {
        let links = Links::from_edges(4, [(0, 1), (1, 2), (2, 0), (2, 3)]);
        let mut t = DynamicLinks::from_static(&links, &[true, true, true, false]);
        consistent(&t);
        assert_eq!(
            t.neighbours(2).collect::<Vec<_>>(),
            vec![0, 1],
            "3 is offline"
        );
        let before = t.get(0, ConnId(1)).copied().unwrap();
        assert_eq!(before.peer, 2);
        assert_eq!(
            before.back,
            links.mirror(0, links.slot(0, ConnId(1)).unwrap())
        );

        let (c0, c3) = t.link(0, 3);
        assert_eq!((c0, c3), (ConnId(2), ConnId(1)), "above the static degrees");
        consistent(&t);
        assert!(t.linked(3, 0));

        let gone = t.unlink(0, c0).unwrap();
        assert_eq!(gone.peer, 3);
        assert!(t.get(3, c3).is_none(), "down at both ends");
        let (again, _) = t.link(0, 3);
        assert_eq!(again, ConnId(3), "an id is never given twice");

        let lost = t.unlink_all(2);
        assert_eq!(lost.len(), 2);
        assert_eq!(t.degree(0), 2, "1 and 3 left");
        assert_eq!(t.degree(1), 1);
        consistent(&t);
    }
}
