//! Settings of the live driver that are not routing settings: timeouts, queue sizes,
//! compression and reconnection backoff.

use std::time::Duration;

use super::handshake::HandshakeLimits;
use super::link::LinkConfig;

/// How a live peer handles its sockets.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    pub handshake: HandshakeLimits,
    pub link: LinkConfig,
    /// Offer and accept `deflate` stream compression (PROTOCOL.md §4.5).
    pub deflate: bool,
    /// TCP connect timeout (LimeWire: 6 s).
    pub connect_timeout: Duration,
    /// First retry delay after a failed dial; doubles per failure up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Most links a peer holds; an inbound handshake beyond it is answered 503 (configured
    /// neighbours we dial are always linked).
    pub max_links: usize,
    /// Most accepted sockets still in their handshake or HTTP exchange; more are closed at
    /// once, so a flood of idle connections cannot use up our descriptors.
    pub max_pending: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            handshake: HandshakeLimits::default(),
            link: LinkConfig::default(),
            deflate: true,
            connect_timeout: Duration::from_secs(6),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            max_links: 32,
            max_pending: 64,
        }
    }
}
