//! The simulator's view of the overlay: each peer's links in a fixed order, so that a
//! link's position in that order is the `ConnId` the peer's `Node` knows it by.
//!
//! Delivering a message from `u` to `v` needs the `ConnId` under which `v` knows `u`;
//! looking it up by scanning `v`'s neighbours would cost a hub its degree per message, so
//! the mirror slot of every link is computed once here (`reverse`).

use std::sync::Arc;

use crate::node::ConnId;
use crate::topology::Graph;

/// Compressed adjacency (CSR) with, for every directed slot `u -> v`, the slot `v -> u`.
///
/// The arrays are shared (`Arc`): a clone costs a few reference counts, so the threads
/// of a parallel run (`super::parallel`) all read one table.
#[derive(Clone, Debug, Default)]
pub struct Links {
    offsets: Arc<[u32]>,
    targets: Arc<[u32]>,
    /// For every slot `u -> v`, the `ConnId` under which `v` knows `u` (a local index,
    /// so a send needs no look-up in `v`'s part of the table).
    reverse: Arc<[u32]>,
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

    /// The `ConnId` the far end of `slot` knows the same link by.
    pub fn mirror(&self, slot: u32) -> ConnId {
        ConnId(self.reverse[slot as usize])
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
            self.reverse.as_ptr().wrapping_add(a) as *const u8,
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

/// For every slot `a -> b` of sorted, symmetric neighbour lists, the position of `a` in
/// `b`'s list. Visiting the `a`s in ascending order meets each `b`'s neighbours in their
/// sorted order too, so one cursor per node replaces a search per slot.
fn mirror_positions(offsets: &[u32], targets: &[u32]) -> Vec<u32> {
    let nodes = offsets.len().saturating_sub(1);
    let mut cursor = vec![0u32; nodes];
    let mut reverse = vec![0u32; targets.len()];
    for a in 0..nodes {
        let (start, end) = (offsets[a] as usize, offsets[a + 1] as usize);
        for (slot, &b) in targets[start..end].iter().enumerate() {
            let seen = &mut cursor[b as usize];
            reverse[start + slot] = *seen;
            *seen += 1;
        }
    }
    reverse
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
                let conn = links.mirror(slot);
                let back = links.slot(v, conn).unwrap();
                assert_eq!(links.target(back), u);
                assert_eq!(links.neighbours(v)[conn.0 as usize], u);
            }
        }
    }
}
