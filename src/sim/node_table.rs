//! The simulator's nodes, one per peer, created on first use.
//!
//! Why not a `Vec<Option<Node>>` of every peer: writing a million empty slots at start
//! touched hundreds of megabytes (the kernel zeroing pages was a third of a million-peer
//! flood), and a TTL-7 query that reaches 2 % of the peers paid for all of them. Here a
//! peer costs 4 bytes of index until its node exists (the index is allocated zeroed, so
//! even those pages stay untouched until used), and nodes live densely in a slab in the
//! order they were created — in a flood, about the order deliveries reach them.

use std::mem::size_of;

use slab::Slab;

use crate::node::Node;

/// Bytes of slab reserved up front (fewer when the peers' nodes take less). An
/// allocation this large gets pages of its own from the allocator (glibc maps any of 32
/// MiB or more by itself), which cost nothing until a node is written to them and which
/// the slab's doublings move rather than copy. Grown from empty, the slab passed through
/// sizes the allocator serves from its heap, and each copy it outgrew stayed resident:
/// a million-peer flood of 88-byte nodes left 23 MB so, more than the nodes' last 8
/// bytes saved.
const FIRST_SLAB_BYTES: usize = 32 << 20;

/// Nodes by peer index (see the module documentation).
#[derive(Debug, Default)]
pub struct NodeTable {
    /// Per peer: 0 without a node, else its slab key + 1.
    index: Vec<u32>,
    nodes: Slab<Node>,
}

impl NodeTable {
    /// A table of `peers` peers, none with a node yet.
    pub fn new(peers: usize) -> NodeTable {
        NodeTable {
            // Zero is "no node": `vec!` of zeros is one zeroed allocation (calloc),
            // whose pages the OS provides on first touch.
            index: vec![0; peers],
            nodes: Slab::with_capacity(peers.min(FIRST_SLAB_BYTES / size_of::<Node>())),
        }
    }

    /// Peers in the table (with or without a node).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn key(&self, peer: usize) -> Option<usize> {
        match self.index.get(peer) {
            Some(&k) if k > 0 => Some(k as usize - 1),
            _ => None,
        }
    }

    /// Whether `peer` has a node.
    pub fn contains(&self, peer: usize) -> bool {
        self.key(peer).is_some()
    }

    pub fn get(&self, peer: usize) -> Option<&Node> {
        self.key(peer).and_then(|k| self.nodes.get(k))
    }

    pub fn get_mut(&mut self, peer: usize) -> Option<&mut Node> {
        let k = self.key(peer)?;
        self.nodes.get_mut(k)
    }

    /// Gives `peer` its node (replacing any it had); returns it.
    ///
    /// # Panics
    /// If `peer` is out of range (a driver bug, never external input).
    pub fn insert(&mut self, peer: usize, node: Node) -> &mut Node {
        self.remove(peer);
        let k = self.nodes.insert(node);
        // At most one node per peer lives at a time and the slab reuses freed keys, so
        // keys stay below the peer count, itself a u32.
        self.index[peer] = u32::try_from(k + 1).expect("more nodes than peers");
        &mut self.nodes[k]
    }

    /// Takes `peer`'s node away, if it has one.
    pub fn remove(&mut self, peer: usize) -> Option<Node> {
        let k = self.key(peer)?;
        self.index[peer] = 0;
        self.nodes.try_remove(k)
    }

    /// Where `peer`'s index entry lies, for a prefetch.
    pub fn index_hint(&self, peer: usize) -> Option<*const u8> {
        self.index.get(peer).map(|k| k as *const u32 as *const u8)
    }

    /// Where `peer`'s node lies, for a prefetch (reads its index entry).
    pub fn node_hint(&self, peer: usize) -> Option<*const u8> {
        self.get(peer).map(|n| n as *const Node as *const u8)
    }
}
