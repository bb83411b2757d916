//! The seam between the tokio driver and the routing state machine.
//!
//! The driver only needs the core's inputs and outputs, so it is written against this trait
//! rather than a concrete type: `node::Node` implements it (see `node_core.rs`).

use std::net::SocketAddrV4;
use std::sync::Arc;

use crate::node::{
    ConnId, HostEntry, HostSource, Output, OverlayConfig, PeerInfo, RoutingConfig, SearchRequest,
    Time,
};
use crate::protocol::handshake::PeerCapabilities;
use crate::protocol::{Guid, Header, Message};

/// What the live driver needs from a peer's routing core.
pub trait RoutingCore: Send + 'static {
    /// The routing configuration the core runs.
    fn routing(&self) -> &Arc<RoutingConfig>;
    /// The servent GUID of the core's hits.
    fn servent_guid(&self) -> Guid;
    fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo);
    /// What the handshake of the link `conn` said beyond `PeerInfo` (degree, max TTL,
    /// vendor messages), right after `on_connected`: a core running dynamic queries
    /// keeps it and greets the link with its Messages Supported.
    fn on_link_capabilities(&mut self, _now: Time, _conn: ConnId, _remote: &PeerCapabilities) {}
    fn on_message(&mut self, now: Time, from: ConnId, msg: Message);
    /// A complete descriptor the codec skipped (unknown type, bad payload).
    fn on_skipped(&mut self, now: Time, from: ConnId, header: Header);
    fn on_disconnected(&mut self, now: Time, conn: ConnId);
    fn start_search(&mut self, now: Time, request: &SearchRequest) -> Guid;
    fn on_timeout(&mut self, now: Time);
    /// Sends a Ping with this TTL on one link (keep-alive of an idle link).
    fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8);
    /// We took an ultrapeer's leaf guidance (an `auto` ultrapeer without leaves): from
    /// now on we are a leaf, and every other link closes (`Node::become_leaf`).
    fn become_leaf(&mut self, _now: Time) {}

    /// The core's next output; after every input, drain until `Output::Timeout` (see
    /// `Node::poll_output`).
    fn poll_output(&mut self) -> Output;

    // ----- the dynamic overlay (`node::overlay`); a static core ignores these ---------

    /// The degree policy, when the core runs a dynamic overlay.
    fn overlay(&self) -> Option<OverlayConfig>;
    /// Hosts heard of outside the descriptors (`X-Try` headers, the user).
    fn learn_hosts(&mut self, now: Time, hosts: &[SocketAddrV4], source: HostSource);
    /// A dial the core asked for (`Output::Dial`) did not give a link.
    fn on_dial_failed(&mut self, now: Time, addr: SocketAddrV4);
    /// Whether the core has all the links it accepts.
    fn overlay_full(&self) -> bool;
    /// Whether the core still owes its neighbours a QRP table it is about to send (a
    /// launch waits for none before its workload). A core without tables owes none.
    fn tables_due(&self) -> bool {
        false
    }
    /// Up to `n` hosts to name in an `X-Try` header.
    fn try_hosts(&self, n: usize) -> Vec<SocketAddrV4>;
    /// Every host the core knows, oldest insertion first (to save them).
    fn known_hosts(&self) -> Vec<HostEntry>;
    /// Hosts a previous run of this peer knew: (address, failed dials, age).
    fn restore_hosts(&mut self, now: Time, hosts: &[(SocketAddrV4, u8, Time)]);
    /// What the core counted for the per-peer statistics (message-level figures; the
    /// driver adds its drops). A core that counts nothing says zeros.
    fn tally(&self) -> crate::node::PeerTally {
        crate::node::PeerTally::default()
    }
}
