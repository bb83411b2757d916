//! Turning a topology config into live peers: addresses, shares, routing cores and file
//! servers.
//!
//! Every peer's routing settings and identity (servent GUID, RNG seed) come from the
//! config's [`Scenario`], the same one the simulator builds from, so a launch and a
//! simulation of one config run the same peers; dialers' jitter derives from the
//! identity's seed, so a launch is repeatable.
//!
//! In a dynamic overlay (the config's `overlay.mode`) every peer runs the config's degree
//! policy and starts knowing the `overlay.bootstrap` hosts (never itself); a bootstrap
//! peer of the config is known by the address it is bound to, which the launcher tells
//! the factory once every listener is bound ([`ConfigFactory::set_addresses`]).

use std::net::SocketAddrV4;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::core::RoutingCore;
use super::http_server::{HttpConfig, HttpServer};
use super::link_shaper::LinkShaper;
use super::listener::HttpHandler;
use super::network::{PeerFactory, PeerPlan};
use super::node_core::{node_core_with, OverlayStart};
use super::share::{Share, ShareError};
use crate::node::library::{Library, SharedFile};
use crate::node::PeerIdentity;
use crate::topology::{BootstrapHost, Scenario, TopologyConfig};

/// Why a config's peers could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("peer {peer}: {source}")]
    Share { peer: String, source: ShareError },
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
    serve_with(HttpServer::new(share, HttpConfig::default()))
}

/// A listener hook that serves with `server` (whose stats the caller may keep reading).
fn serve_with(server: HttpServer) -> HttpHandler {
    Arc::new(move |stream, already, place| {
        let server = server.clone();
        Box::pin(async move {
            match place {
                Ok(place) => {
                    if let Err(e) = server.serve_placed(stream, &already, place).await {
                        log::debug!("http connection ended: {e}");
                    }
                }
                Err(_) => server.refuse_busy(stream).await,
            }
        })
    })
}

/// Builds the peers of a config (all of them, or the ones a shard runs).
pub struct ConfigFactory {
    config: Arc<TopologyConfig>,
    /// Every peer as every driver builds it (routing settings, identity).
    scenario: Scenario,
    /// Config index of each planned peer, in plan order.
    members: Vec<usize>,
    shares: Vec<Arc<Share>>,
    /// The HTTP servers made for each planned peer (one per run of it), for the bytes
    /// it served.
    servers: Vec<Vec<HttpServer>>,
    /// Bound listening address of every peer of the config, by config index, once known.
    addrs: Vec<SocketAddrV4>,
    /// The config's link model, when it gives a latency or a loss (`link_shaper`).
    shaper: Option<Arc<LinkShaper>>,
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
            shaper: LinkShaper::of_config(&config).map(Arc::new),
            scenario: Scenario::from_config(&config),
            config,
            members,
            servers: vec![Vec::new(); shares.len()],
            shares,
            addrs: Vec::new(),
        })
    }

    /// The bound listening address of every peer of the config, by config index (a
    /// config's port 0 becomes a real port only when bound, possibly in another process):
    /// bootstrap peers are dialled there. Unspecified entries are ignored.
    pub fn set_addresses(&mut self, addrs: &[SocketAddrV4]) {
        self.addrs = addrs.to_vec();
        if let Some(shaper) = &self.shaper {
            for (i, &addr) in addrs.iter().enumerate() {
                shaper.learn(addr, i);
            }
        }
    }

    /// Where peer `index` of the config listens: its bound address, or the config's when
    /// it names a port.
    fn address_of(&self, index: usize) -> Option<SocketAddrV4> {
        let bound = self
            .addrs
            .get(index)
            .filter(|a| a.port() != 0 && !a.ip().is_unspecified());
        let configured = self
            .config
            .peers
            .get(index)
            .map(|p| p.listen)
            .filter(|a| a.port() != 0);
        bound.copied().or(configured)
    }

    /// How config peer `index` starts its dynamic overlay (`None` in a static config).
    fn overlay_start(&self, index: usize) -> Option<OverlayStart> {
        if !self.scenario.overlay.is_dynamic() {
            return None;
        }
        let bootstrap = self
            .scenario
            .bootstrap
            .iter()
            .filter_map(|host| match *host {
                BootstrapHost::Peer(j) if j == index => None,
                BootstrapHost::Peer(j) => self.address_of(j),
                BootstrapHost::Addr(addr) => Some(addr),
            })
            .collect();
        Some(OverlayStart {
            policy: self.scenario.overlay,
            bootstrap,
            saved: Vec::new(),
        })
    }

    /// One plan per member, with the config's listening address.
    pub fn plans(&self) -> Vec<PeerPlan> {
        self.members
            .iter()
            .filter_map(|&i| {
                let p = self.scenario.peers.get(i)?;
                Some(PeerPlan {
                    id: p.id.clone(),
                    listen: p.listen,
                    max_ttl: p.routing.max_ttl,
                    seed: p.identity.seed,
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
        let library = self
            .shares
            .get(index)
            .map(|s| library_of(s))
            .unwrap_or_default();
        let (routing, identity) = match self.scenario.peers.get(i) {
            Some(p) => (Arc::clone(&p.routing), p.identity),
            None => (
                Arc::new(self.config.defaults.routing.clone()),
                PeerIdentity::derive(self.config.defaults.seed, i as u32),
            ),
        };
        let overlay = self.overlay_start(i);
        node_core_with(routing, identity, listen, library, overlay.as_ref())
    }

    fn http(&mut self, index: usize, _listen: SocketAddrV4) -> Option<HttpHandler> {
        let share = self.shares.get(index)?;
        let server = HttpServer::new(share.clone(), HttpConfig::default());
        if let Some(made) = self.servers.get_mut(index) {
            made.push(server.clone());
        }
        Some(serve_with(server))
    }

    fn bytes_served(&self, index: usize) -> Option<u64> {
        let made = self.servers.get(index)?;
        Some(
            made.iter()
                .map(|s| s.stats().body_bytes_sent.load(Ordering::Relaxed))
                .sum(),
        )
    }

    fn shaper(&self) -> Option<Arc<LinkShaper>> {
        self.shaper.clone()
    }
}
