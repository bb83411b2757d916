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
    /// Most accepted sockets still in their first line or handshake (so a flood of idle
    /// connections cannot use up our descriptors). When all are taken, the one idle the
    /// longest is closed to make room (see `admission`).
    pub max_pending: usize,
    /// Most of those from one IP address: beyond it, that address's own oldest goes.
    pub max_pending_per_ip: usize,
    /// Time a new socket has to send its first line (a real client sends it at once).
    pub first_line_timeout: Duration,
    /// Most HTTP connections (uploads and keep-alive waits between requests); when all
    /// are taken, the connection idle the longest between requests is closed, or the
    /// newcomer is answered 503.
    pub max_http: usize,
    /// Most of those from one IP address (gtk-gnutella and LimeWire cap uploads per host).
    pub max_http_per_ip: usize,
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
            max_pending_per_ip: 32,
            first_line_timeout: Duration::from_secs(3),
            max_http: 64,
            max_http_per_ip: 8,
        }
    }
}
