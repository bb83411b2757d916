//! The routing core the live driver runs: `node::Node` behind the driver's seam.

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::clock;
use super::core::RoutingCore;
use crate::node::dynamic_query::LinkProfile;
use crate::node::{
    ConnId, HostEntry, HostSource, Library, Node, Output, OverlayConfig, PeerIdentity, PeerInfo,
    RoutingConfig, SearchRequest, Time,
};
use crate::protocol::handshake::PeerCapabilities;
use crate::protocol::{Guid, Header, Message};

/// The core of peer `identity`, advertising `addr`, routing by `routing`.
pub fn node_core(
    routing: Arc<RoutingConfig>,
    identity: PeerIdentity,
    addr: SocketAddrV4,
    library: Library,
) -> Box<dyn RoutingCore> {
    node_core_with(routing, identity, addr, library, None)
}

/// How a peer of a dynamic overlay starts: its degree policy, the hosts it is given
/// (`--bootstrap`, a config's `overlay.bootstrap`) and those a previous run saved.
#[derive(Clone, Debug, Default)]
pub struct OverlayStart {
    pub policy: OverlayConfig,
    pub bootstrap: Vec<SocketAddrV4>,
    /// (address, failed dials, time since last heard of), as `host_file` reads them.
    pub saved: Vec<(SocketAddrV4, u8, Time)>,
}

/// [`node_core`], running the dynamic overlay `overlay` starts (a static policy, or
/// `None`, leaves the core static).
pub fn node_core_with(
    routing: Arc<RoutingConfig>,
    identity: PeerIdentity,
    addr: SocketAddrV4,
    library: Library,
    overlay: Option<&OverlayStart>,
) -> Box<dyn RoutingCore> {
    let mut node = Node::new(routing, identity, addr, library);
    // The control API may ask any live peer for its per-peer statistics.
    node.count_traffic();
    if let Some(start) = overlay.filter(|s| s.policy.is_dynamic()) {
        let now = clock::now();
        node.enable_overlay(start.policy);
        // Bootstrap first: a host both given and saved stays a bootstrap host (never
        // evicted), with what the saved file knew of it.
        node.learn_hosts(now, start.bootstrap.iter().copied(), HostSource::Bootstrap);
        node.restore_hosts(now, start.saved.iter().copied());
    }
    Box::new(node)
}

impl RoutingCore for Node {
    fn routing(&self) -> &Arc<RoutingConfig> {
        Node::config_arc(self)
    }

    fn servent_guid(&self) -> Guid {
        Node::servent_guid(self)
    }

    fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo) {
        Node::on_connected(self, now, conn, info)
    }

    fn on_link_capabilities(&mut self, _now: Time, conn: ConnId, remote: &PeerCapabilities) {
        if !self.runs_dynamic_queries() {
            return;
        }
        self.set_link_profile(
            conn,
            LinkProfile {
                degree: remote.degree,
                max_ttl: remote.max_ttl,
                query_status: false,
            },
        );
        if remote.vendor_messages {
            self.send_messages_supported(conn);
        }
    }

    fn become_leaf(&mut self, now: Time) {
        Node::become_leaf(self, now);
    }

    fn on_message(&mut self, now: Time, from: ConnId, msg: Message) {
        Node::on_message(self, now, from, msg)
    }

    fn on_skipped(&mut self, now: Time, from: ConnId, header: Header) {
        Node::on_skipped(self, now, from, header)
    }

    fn on_disconnected(&mut self, now: Time, conn: ConnId) {
        Node::on_disconnected(self, now, conn)
    }

    fn start_search(&mut self, now: Time, request: &SearchRequest) -> Guid {
        Node::start_search(self, now, request.clone())
    }

    fn on_timeout(&mut self, now: Time) {
        Node::on_timeout(self, now)
    }

    fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8) {
        Node::send_ping(self, now, conn, ttl);
    }

    fn poll_output(&mut self) -> Output {
        Node::poll_output(self)
    }

    fn overlay(&self) -> Option<OverlayConfig> {
        Node::overlay(self).map(|o| *o.config())
    }

    fn learn_hosts(&mut self, now: Time, hosts: &[SocketAddrV4], source: HostSource) {
        Node::learn_hosts(self, now, hosts.iter().copied(), source);
    }

    fn on_dial_failed(&mut self, now: Time, addr: SocketAddrV4) {
        Node::on_dial_failed(self, now, addr);
    }

    fn restore_hosts(&mut self, now: Time, hosts: &[(SocketAddrV4, u8, Time)]) {
        Node::restore_hosts(self, now, hosts.iter().copied());
    }

    fn overlay_full(&self) -> bool {
        Node::overlay_full(self)
    }

    fn tables_due(&self) -> bool {
        Node::merged_table_due(self)
    }

    fn try_hosts(&self, n: usize) -> Vec<SocketAddrV4> {
        Node::try_hosts(self, n)
    }

    fn tally(&self) -> crate::node::PeerTally {
        crate::node::PeerTally::of_node(self)
    }

    fn known_hosts(&self) -> Vec<HostEntry> {
        Node::overlay(self)
            .map(|o| o.hosts().iter().copied().collect())
            .unwrap_or_default()
    }
}
