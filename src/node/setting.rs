//! What a node shares with the nodes built alike: its routing configuration and the rule
//! that gives its identity (servent GUID, RNG seed) and advertised address.
//!
//! Why its own type: a simulated network of a million peers derives every peer's
//! identity from (network seed, peer index) ([`PeerIdentity::derive`]) and gives it a
//! made-up address from its index ([`numbered_addr`]). Storing those per node cost each
//! node 22 bytes and its hash key 8 more, for values the node can recompute whenever it
//! needs them (when it answers, pings or searches: rarely). So a node keeps its index and
//! one pointer to a setting that all the peers of that routing configuration share; a
//! live peer (or a test's node) has a setting of its own holding its explicit identity.
//! Both kinds answer the same questions, so the routing code does not know which it has.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use rand::RngCore;

use super::fast_hash::KeyedHash;
use super::identity::PeerIdentity;
use super::rng::NodeRng;
use super::routing::RoutingConfig;

/// A routing configuration and where identities come from (see the module docs).
#[derive(Clone, Debug)]
pub struct NodeSetting {
    pub(super) config: Arc<RoutingConfig>,
    peers: Peers,
    /// Whether its nodes keep their [`Counters`](super::counters::Counters).
    counts: bool,
}

/// Where a node's identity and address come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Peers {
    /// One peer, told explicitly (a live peer, a test's node).
    One {
        identity: PeerIdentity,
        addr: SocketAddrV4,
    },
    /// Peer `u` of a numbered network: identity derived from (`network_seed`, `u`),
    /// address [`numbered_addr`]`(u)`.
    Numbered { network_seed: u64 },
}

impl NodeSetting {
    /// The setting of one peer with this identity, listening at `addr`.
    pub fn one(config: Arc<RoutingConfig>, identity: PeerIdentity, addr: SocketAddrV4) -> Self {
        NodeSetting {
            config,
            peers: Peers::One { identity, addr },
            counts: true,
        }
    }

    /// The setting shared by the peers of a numbered network (the simulator's) that run
    /// `config`: peer `u`'s identity is `PeerIdentity::derive(network_seed, u)`.
    pub fn numbered(config: Arc<RoutingConfig>, network_seed: u64) -> Self {
        NodeSetting {
            config,
            peers: Peers::Numbered { network_seed },
            counts: true,
        }
    }

    /// The same setting with the nodes' counters kept (`true`, the default) or not. A
    /// simulator that reads no per-node totals turns them off: its recorder counts every
    /// search's messages itself, and the counters, touched by every descriptor, would
    /// cost each of a million nodes 8 bytes (in its cold box, allocated by the first
    /// increment, far more). [`Node::counters`](super::Node::counters) of such a node
    /// stays zero.
    pub fn counting(mut self, on: bool) -> Self {
        self.counts = on;
        self
    }

    /// Whether nodes of this setting keep their counters.
    #[inline]
    pub(super) fn counts(&self) -> bool {
        self.counts
    }

    /// The routing configuration.
    #[inline]
    pub fn config(&self) -> &Arc<RoutingConfig> {
        &self.config
    }

    #[inline]
    pub(super) fn peers(&self) -> Peers {
        self.peers
    }
}

impl Peers {
    /// The identity of peer `peer` (ignored by a setting of one peer).
    pub(super) fn identity(self, peer: u32) -> PeerIdentity {
        match self {
            Peers::One { identity, .. } => identity,
            Peers::Numbered { network_seed } => PeerIdentity::derive(network_seed, peer),
        }
    }

    /// The address peer `peer` advertises.
    pub(super) fn addr(self, peer: u32) -> SocketAddrV4 {
        match self {
            Peers::One { addr, .. } => addr,
            Peers::Numbered { .. } => numbered_addr(peer),
        }
    }

    /// Peer `peer`'s routing RNG as it is after the node's construction, which draws
    /// the node's hash key from it first.
    pub(super) fn rng(self, peer: u32) -> NodeRng {
        let mut rng = NodeRng::seed_from(self.identity(peer).seed);
        rng.next_u64();
        rng
    }

    /// Peer `peer`'s keyed hash (the first draw of its routing RNG).
    pub(super) fn hash(self, peer: u32) -> KeyedHash {
        KeyedHash::new(NodeRng::seed_from(self.identity(peer).seed).next_u64())
    }
}

/// Peer `u`'s made-up address in a numbered network: 10.0.0.0/8 numbered from 10.0.0.1,
/// port 6346.
pub fn numbered_addr(u: u32) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(0x0A00_0001u32.wrapping_add(u)), 6346)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_numbered_peer_is_the_peer_its_explicit_twin_is() {
        let config = Arc::new(RoutingConfig::default());
        let shared = NodeSetting::numbered(Arc::clone(&config), 42);
        for u in [0, 1, 77, u32::MAX] {
            let identity = PeerIdentity::derive(42, u);
            let one = NodeSetting::one(Arc::clone(&config), identity, numbered_addr(u));
            let (a, b) = (shared.peers(), one.peers());
            assert_eq!(a.identity(u), b.identity(0));
            assert_eq!(a.addr(u), b.addr(0));
            assert_eq!(a.hash(u), b.hash(0));
            assert_eq!(a.rng(u), b.rng(0));
        }
    }
}
