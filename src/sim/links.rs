//! The simulator's view of the overlay: each peer's links in a fixed order, so that a
//! link's position in that order is the `ConnId` the peer's `Node` knows it by.
//!
//! Delivering a message from `u` to `v` needs the `ConnId` under which `v` knows `u`. It
//! is not stored (a table of mirror slots was 4 bytes per directed slot, 16 MB of a
//! million-peer graph): every neighbour list is sorted, so it is a binary search for `u`
//! in `v`'s list ([`Links::conn_of`]), which the delivery reads anyway to forward, a few
//! steps even for a hub of thousands of links.

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
        Links {
            offsets: offsets.into(),
            targets: targets.into(),
            latency_us: None,
            loss: None,
        }
    }

    /// The link table of a topology graph (neighbour lists already sorted and simple), with
    /// the graph's per-link latencies and loss rates if it has them.
    pub fn from_graph(graph: &Graph) -> Links {
        let (offsets, targets) = graph.csr();
        let offsets: Vec<u32> = offsets.iter().map(|&o| o as u32).collect();
        let mut links = Links {
            offsets: offsets.into(),
            targets: targets.into(),
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
        let i = self.neighbours(node).binary_search(&peer).ok()?;
        Some(ConnId(i as u32))
    }

    /// Addresses of what handling a message at `node` will read (its offsets entry;
    /// with `deep`, its neighbour list too), for a driver that prefetches.
    pub fn prefetch_targets(&self, node: u32, deep: bool) -> [*const u8; 2] {
        let i = node as usize;
        let offset = self.offsets.as_ptr().wrapping_add(i) as *const u8;
        if !deep {
            return [offset, std::ptr::null()];
        }
        let a = self.offsets.get(i).copied().unwrap_or(0) as usize;
        [offset, self.targets.as_ptr().wrapping_add(a) as *const u8]
    }

    fn range(&self, node: u32) -> (u32, u32) {
        let i = node as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        }
    }
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
                let conn = links.conn_of(v, u).unwrap();
                let back = links.slot(v, conn).unwrap();
                assert_eq!(links.target(back), u);
                assert_eq!(links.neighbours(v)[conn.0 as usize], u);
            }
        }
        assert_eq!(links.conn_of(0, 3), None);
        assert_eq!(links.conn_of(9, 0), None);
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
