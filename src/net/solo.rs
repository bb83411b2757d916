//! A single peer outside any topology config: `gnutella peer` and the short-lived
//! searcher of `gnutella search`.

use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;

use super::core::RoutingCore;
use super::from_config::{http_handler, library_of};
use super::link_shaper::LinkShaper;
use super::listener::HttpHandler;
use super::network::PeerFactory;
use super::node_core::{node_core_with, OverlayStart};
use super::share::Share;
use crate::node::{PeerIdentity, RoutingConfig};

/// Builds the one peer of a solo network.
pub struct SoloFactory {
    pub share: Arc<Share>,
    pub routing: Arc<RoutingConfig>,
    pub identity: PeerIdentity,
    /// Serve the share over HTTP on the listening port.
    pub serve: bool,
    /// How the peer starts a dynamic overlay (`None`: a static peer).
    pub overlay: Option<OverlayStart>,
    /// One latency and loss for all of its links (`None`: as the network makes them).
    pub shaper: Option<Arc<LinkShaper>>,
}

impl PeerFactory for SoloFactory {
    fn core(&mut self, _index: usize, listen: SocketAddrV4) -> Box<dyn RoutingCore> {
        node_core_with(
            Arc::clone(&self.routing),
            self.identity,
            listen,
            library_of(&self.share),
            self.overlay.as_ref(),
        )
    }

    fn http(&mut self, _index: usize, _listen: SocketAddrV4) -> Option<HttpHandler> {
        self.serve.then(|| http_handler(self.share.clone()))
    }

    fn shaper(&self) -> Option<Arc<LinkShaper>> {
        self.shaper.clone()
    }
}

/// Resolves `host:port` to its first IPv4 address (Gnutella addresses are IPv4).
pub fn resolve_v4(text: &str) -> Result<SocketAddrV4, String> {
    let addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {text:?}: {e}"))?;
    addrs
        .filter_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| format!("{text:?} has no IPv4 address"))
}

/// A seed from the wall clock and the process id, for peers and searches the user did
/// not give a seed: two of them must not share GUIDs.
pub fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    nanos ^ (u64::from(std::process::id()) << 32)
}
