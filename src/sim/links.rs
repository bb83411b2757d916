//! The simulator's view of the overlay: each peer's links in a fixed order, so that a
//! link's position in that order is the `ConnId` the peer's `Node` knows it by.
//!
//! Delivering a message from `u` to `v` needs the `ConnId` under which `v` knows `u`.
//! Every neighbour list is sorted, so it is the position of `u` in `v`'s list, a binary
//! search ([`Links::conn_of`]); but a delivery to a hub would search thousands of links,
//! and in a scale-free graph most deliveries go to hubs (a search per delivery cost a
//! BA load some 5 % of its time). So the table keeps it for every slot in one byte
//! (`reverse`) whenever it is below 255, and only the links a peer has beyond its 255th
//! are searched: a million-peer graph of degree 8 keeps 8 MB instead of the 32 MB of a
//! `u32` mirror per slot, and searches nothing.

use std::sync::Arc;

use crate::node::ConnId;
use crate::topology::Graph;

/// Compressed adjacency (CSR): each peer's neighbours, sorted and without repeats.
///
/// The arrays are shared (`Arc`): a clone costs a few reference counts, so the threads
/// of a parallel run (`super::parallel`) all read one table.
#[derive(Clone, Debug, Default)]
pub struct Links {
    offsets: Arc<[u32]>,
    /// Each peer's neighbours in ascending order (which [`Links::conn_of`] relies on).
    targets: Arc<[u32]>,
    /// For every slot `u -> v`, the `ConnId` under which `v` knows `u` when it is below
    /// [`SEARCH`], else `SEARCH` (see the module documentation).
    reverse: Arc<[u8]>,
    /// Per-slot latency in microseconds, when the topology gives one per link.
    latency_us: Option<Arc<[u32]>>,
    /// Per-slot loss rate, when the topology gives links their own (its link model).
    loss: Option<Arc<[f32]>>,
}

impl Links {
    /// Builds the link table from undirected edges over peers `0..nodes`. Self-loops and
    /// repeated edges are dropped (a peer keeps one connection to a given neighbour), and
    /// edges naming a peer outside the range are ignored.
    pub fn from_edges(nodes: u32, edges: impl IntoIterator<Item = (u32, u32)>) -> Links {
        let mut degree = vec![0u32; nodes as usize + 1];
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (a, b) in edges {
            if a == b || a >= nodes || b >= nodes {
                continue;
            }
            pairs.push((a, b));
            pairs.push((b, a));
        }
        pairs.sort_unstable();
        pairs.dedup();
        for &(a, _) in &pairs {
            degree[a as usize + 1] += 1;
        }
        let mut offsets = degree;
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        // Sorted pairs: each peer's neighbours come in ascending order.
        let targets: Vec<u32> = pairs.iter().map(|&(_, b)| b).collect();
        let reverse = mirror_positions(&offsets, &targets);
        Links {
            offsets: offsets.into(),
            targets: targets.into(),
            reverse: reverse.into(),
            latency_us: None,
            loss: None,
        }
    }

    /// The link table of a topology graph (neighbour lists already sorted and simple), with
    /// the graph's per-link latencies and loss rates if it has them.
    pub fn from_graph(graph: &Graph) -> Links {
        let (offsets, targets) = graph.csr();
        let offsets: Vec<u32> = offsets.iter().map(|&o| o as u32).collect();
        let reverse = mirror_positions(&offsets, targets);
        let mut links = Links {
            offsets: offsets.into(),
            targets: targets.into(),
            reverse: reverse.into(),
            latency_us: None,
            loss: None,
        };
        if graph.has_latencies() {
            let mut lat = Vec::with_capacity(links.targets.len());
            for a in 0..links.node_count() {
                if let Some(ms) = graph.latencies(a) {
                    lat.extend(ms.iter().map(|&m| (f64::from(m.max(0.0)) * 1000.0) as u32));
                }
            }
            links.latency_us = Some(lat.into());
        }
        if graph.has_losses() {
            let mut loss = Vec::with_capacity(links.targets.len());
            for a in 0..links.node_count() {
                loss.extend_from_slice(graph.losses(a).unwrap_or(&[]));
            }
            links.loss = Some(loss.into());
        }
        links
    }

    /// The loss rate the topology gives the link at `slot`.
    pub fn slot_loss(&self, slot: u32) -> Option<f64> {
        self.loss
            .as_ref()?
            .get(slot as usize)
            .map(|&l| f64::from(l))
    }

    /// The latency the topology gives the link at `slot`, in microseconds.
    pub fn slot_latency_us(&self, slot: u32) -> Option<u64> {
        self.latency_us
            .as_ref()?
            .get(slot as usize)
            .map(|&l| u64::from(l))
    }

    /// Builds the table from an adjacency function over peers `0..nodes` (e.g. a topology
    /// graph's neighbour lists); each undirected link may appear from one side or both.
    pub fn from_adjacency<'a>(nodes: u32, neighbours: impl Fn(u32) -> &'a [u32]) -> Links {
        let edges = (0..nodes).flat_map(|u| neighbours(u).iter().map(move |&v| (u, v)));
        Links::from_edges(nodes, edges.collect::<Vec<_>>())
    }

    pub fn node_count(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    /// Directed slots, i.e. twice the number of links.
    pub fn slot_count(&self) -> usize {
        self.targets.len()
    }

    pub fn degree(&self, node: u32) -> u32 {
        let (a, b) = self.range(node);
        b - a
    }

    /// The peers `node` is linked to, in `ConnId` order.
    pub fn neighbours(&self, node: u32) -> &[u32] {
        let (a, b) = self.range(node);
        self.targets.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// The global slot of `node`'s connection `conn`, if it exists.
    pub fn slot(&self, node: u32, conn: ConnId) -> Option<u32> {
        let (a, b) = self.range(node);
        let slot = a.checked_add(conn.0)?;
        (slot < b).then_some(slot)
    }

    /// The peer at the far end of a slot.
    pub fn target(&self, slot: u32) -> u32 {
        self.targets[slot as usize]
    }

    /// The `ConnId` under which `node` knows its link to `peer`, if they are linked: a
    /// binary search of `node`'s sorted neighbour list.
    #[inline]
    pub fn conn_of(&self, node: u32, peer: u32) -> Option<ConnId> {
        let list = self.neighbours(node);
        let i = lower_bound(list, peer);
        (list.get(i) == Some(&peer)).then_some(ConnId(i as u32))
    }

    /// The `ConnId` under which the far end of `node`'s slot `slot` knows the same link:
    /// from the table, or for a far end's links beyond its 255th a search of its list.
    #[inline]
    pub fn mirror(&self, node: u32, slot: u32) -> ConnId {
        match self.reverse.get(slot as usize) {
            Some(&r) if r < SEARCH => ConnId(u32::from(r)),
            // A symmetric table always finds it; `u32::MAX` names no link at all.
            _ => self
                .conn_of(self.target(slot), node)
                .unwrap_or(ConnId(u32::MAX)),
        }
    }

    /// Addresses of what sending from `node` will read (its offsets entry; with
    /// `deep`, its slots' targets and mirrors too), for a driver that prefetches.
    pub fn prefetch_targets(&self, node: u32, deep: bool) -> [*const u8; 3] {
        let i = node as usize;
        let offset = self.offsets.as_ptr().wrapping_add(i) as *const u8;
        if !deep {
            return [offset, std::ptr::null(), std::ptr::null()];
        }
        let a = self.offsets.get(i).copied().unwrap_or(0) as usize;
        [
            offset,
            self.targets.as_ptr().wrapping_add(a) as *const u8,
            self.reverse.as_ptr().wrapping_add(a),
        ]
    }

    fn range(&self, node: u32) -> (u32, u32) {
        let i = node as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        }
    }
}

/// What `Links::reverse` holds for a mirror it does not keep (one at 255 or beyond).
const SEARCH: u8 = u8::MAX;

/// For every slot `a -> b` of sorted, symmetric neighbour lists, the position of `a` in
/// `b`'s list (capped at [`SEARCH`]). Visiting the `a`s in ascending order meets each
/// `b`'s neighbours in their sorted order too, so one cursor per node replaces a search
/// per slot.
fn mirror_positions(offsets: &[u32], targets: &[u32]) -> Vec<u8> {
    let nodes = offsets.len().saturating_sub(1);
    let mut cursor = vec![0u32; nodes];
    let mut reverse = vec![0u8; targets.len()];
    for a in 0..nodes {
        let (start, end) = (offsets[a] as usize, offsets[a + 1] as usize);
        for (slot, &b) in targets[start..end].iter().enumerate() {
            let seen = &mut cursor[b as usize];
            reverse[start + slot] = u8::try_from(*seen).unwrap_or(SEARCH);
            *seen += 1;
        }
    }
    reverse
}

/// The first position of sorted `list` whose value is not below `x` (`list.len()` if
/// none). Branch-free steps (a conditional move each): a delivery to a hub searches a list
/// of thousands, whose comparisons a branch predictor could only guess.
#[inline]
fn lower_bound(list: &[u32], x: u32) -> usize {
    let mut base = 0usize;
    let mut size = list.len();
    if size == 0 {
        return 0;
    }
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        // `mid < base + size <= list.len()`.
        base = if list[mid] < x { mid } else { base };
        size -= half;
    }
    base + usize::from(list[base] < x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_point_back_and_duplicates_vanish() {
        let links = Links::from_edges(4, [(0, 1), (1, 2), (2, 0), (1, 0), (3, 3), (2, 3)]);
        assert_eq!(links.slot_count(), 8);
        assert_eq!(links.neighbours(0), &[1, 2]);
        assert_eq!(links.neighbours(3), &[2]);
        for u in 0..4 {
            for (i, &v) in links.neighbours(u).iter().enumerate() {
                let slot = links.slot(u, ConnId(i as u32)).unwrap();
                assert_eq!(links.target(slot), v);
                let conn = links.mirror(u, slot);
                assert_eq!(Some(conn), links.conn_of(v, u));
                let back = links.slot(v, conn).unwrap();
                assert_eq!(links.target(back), u);
                assert_eq!(links.neighbours(v)[conn.0 as usize], u);
            }
        }
        assert_eq!(links.conn_of(0, 3), None);
        assert_eq!(links.conn_of(9, 0), None);
    }

    #[test]
    fn a_hubs_links_beyond_the_255th_are_found_by_search() {
        let hub = 300;
        let links = Links::from_edges(hub + 1, (0..hub).map(|v| (v, hub)));
        assert_eq!(links.degree(hub), hub);
        for v in 0..hub {
            let slot = links.slot(v, ConnId(0)).unwrap();
            assert_eq!(links.mirror(v, slot), ConnId(v));
            let back = links.slot(hub, ConnId(v)).unwrap();
            assert_eq!(links.mirror(hub, back), ConnId(0));
        }
    }

    #[test]
    fn lower_bound_matches_the_standard_search() {
        let list: Vec<u32> = (0..40).map(|i| i * 3 + 1).collect();
        for len in 0..list.len() {
            let part = &list[..len];
            for x in 0..125 {
                let expected = part.partition_point(|&v| v < x);
                assert_eq!(lower_bound(part, x), expected, "len {len} x {x}");
            }
        }
    }

    #[test]
    fn a_graphs_lists_are_sorted_so_conn_of_finds_every_link() {
        let graph = Graph::from_edges(6, &[(5, 0), (0, 3), (3, 5), (1, 0), (4, 0), (2, 4)]);
        let links = Links::from_graph(&graph);
        for u in 0..6 {
            for (i, &v) in links.neighbours(u).iter().enumerate() {
                assert_eq!(links.conn_of(u, v), Some(ConnId(i as u32)));
                assert!(links.conn_of(v, u).is_some());
            }
        }
    }
}
