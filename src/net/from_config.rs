//! Turning a topology config into live peers: addresses, shares, routing cores and file
//! servers.
//!
//! Everything random a peer gets (its servent GUID, its core's RNG, its dialers' jitter)
//! is derived from the config's seed and the peer's position, so a launch is repeatable.

use std::net::SocketAddrV4;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::core::RoutingCore;
use super::http_server::{HttpConfig, HttpServer};
use super::listener::HttpHandler;
use super::network::{PeerFactory, PeerPlan};
use super::node_core::node_core;
use super::share::{Share, ShareError};
use crate::node::library::{Library, SharedFile};
use crate::node::NodeConfig;
use crate::protocol::Guid;
use crate::topology::TopologyConfig;

/// Why a config's peers could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("peer {peer}: {source}")]
    Share { peer: String, source: ShareError },
}

/// A seed for peer `index`, derived from the network's seed.
///
/// Mixed, not merely offset: a node's SplitMix64 generator steps its state by the same
/// constant `(index + 1) * 0x9E37_79B9_7F4A_7C15` used to offset it, so with a small
/// network seed two peers' generators were the same stream a few steps apart and drew the
/// same search GUIDs (seed 5: p0's second search and p2's first), which the network then
/// dropped as duplicates.
pub fn peer_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // SplitMix64's output function: neighbouring inputs land far apart.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The stable servent GUID of peer `index`.
pub fn servent_guid(seed: u64, index: usize) -> Guid {
    Guid::random(&mut ChaCha8Rng::seed_from_u64(
        peer_seed(seed, index) ^ 0x5E47,
    ))
}

/// What peer `index` shares: its folder, if any, then its synthetic files.
pub fn share_of(config: &TopologyConfig, index: usize) -> Result<Share, ShareError> {
    let Some(peer) = config.peers.get(index) else {
        return Ok(Share::new());
    };
    let mut share = match config.share_dir(index) {
        Some(dir) => Share::scan_dir(&dir)?,
        None => Share::new(),
    };
    for file in &peer.share.files {
        share.add_synthetic(config.defaults.seed, &file.name, file.size)?;
    }
    Ok(share)
}

/// The routing core's view of a share.
pub fn library_of(share: &Share) -> Library {
    Library::from_files(share.entries().iter().map(|e| SharedFile {
        index: e.index,
        name: e.name.clone(),
        size: e.size,
        sha1: e.sha1,
    }))
}

/// A listener hook that serves `share` over HTTP.
pub fn http_handler(share: Arc<Share>) -> HttpHandler {
    let server = HttpServer::new(share, HttpConfig::default());
    Arc::new(move |stream, already| {
        let server = server.clone();
        Box::pin(async move {
            if let Err(e) = server.serve(stream, &already).await {
                log::debug!("http connection ended: {e}");
            }
        })
    })
}

/// Builds a peer's core from its settings and library.
pub fn make_core(
    listen: SocketAddrV4,
    servent: Guid,
    max_ttl: u8,
    tune: impl FnOnce(&mut NodeConfig),
    library: Library,
    seed: u64,
) -> Box<dyn RoutingCore> {
    let mut config = NodeConfig::new(listen, servent);
    config.max_ttl = max_ttl;
    tune(&mut config);
    node_core(config, library, seed)
}

/// Builds the peers of a config (all of them, or the ones a shard runs).
pub struct ConfigFactory {
    config: Arc<TopologyConfig>,
    /// Config index of each planned peer, in plan order.
    members: Vec<usize>,
    shares: Vec<Arc<Share>>,
}

impl ConfigFactory {
    /// Prepares the shares of `members` (config indices); plans follow the same order.
    pub fn new(
        config: Arc<TopologyConfig>,
        members: Vec<usize>,
    ) -> Result<ConfigFactory, PrepareError> {
        let mut shares = Vec::with_capacity(members.len());
        for &i in &members {
            let share = share_of(&config, i).map_err(|source| PrepareError::Share {
                peer: config
                    .peers
                    .get(i)
                    .map(|p| p.id.clone())
                    .unwrap_or_default(),
                source,
            })?;
            shares.push(Arc::new(share));
        }
        Ok(ConfigFactory {
            config,
            members,
            shares,
        })
    }

    /// One plan per member, with the config's listening address.
    pub fn plans(&self) -> Vec<PeerPlan> {
        self.members
            .iter()
            .filter_map(|&i| {
                let p = self.config.peers.get(i)?;
                Some(PeerPlan {
                    id: p.id.clone(),
                    listen: p.listen,
                    max_ttl: self.config.max_ttl_of(i),
                    seed: peer_seed(self.config.defaults.seed, i),
                    record_as: i as u32,
                    advertise: None,
                })
            })
            .collect()
    }

    pub fn share(&self, plan_index: usize) -> Option<&Arc<Share>> {
        self.shares.get(plan_index)
    }
}

impl PeerFactory for ConfigFactory {
    fn core(&mut self, index: usize, listen: SocketAddrV4) -> Box<dyn RoutingCore> {
        let i = self.members.get(index).copied().unwrap_or(index);
        let config = &self.config;
        let seed = peer_seed(config.defaults.seed, i);
        let library = self
            .shares
            .get(index)
            .map(|s| library_of(s))
            .unwrap_or_default();
        let cache = config.cache_of(i);
        let strategy = config.strategy_of(i);
        make_core(
            listen,
            servent_guid(config.defaults.seed, i),
            config.max_ttl_of(i),
            |c| {
                c.cache = cache;
                c.strategy = strategy;
            },
            library,
            seed,
        )
    }

    fn http(&mut self, index: usize, _listen: SocketAddrV4) -> Option<HttpHandler> {
        self.shares.get(index).map(|s| http_handler(s.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::rng::NodeRng;
    use rand::RngCore;
    use std::collections::HashSet;

    #[test]
    fn peers_of_one_network_draw_different_random_streams() {
        for seed in 0..64u64 {
            let mut seen = HashSet::new();
            for index in 0..8 {
                let mut rng = NodeRng::seed_from(peer_seed(seed, index));
                for _ in 0..64 {
                    assert!(
                        seen.insert(rng.next_u64()),
                        "seed {seed}: peer {index} repeats another peer's stream"
                    );
                }
            }
        }
    }
}
