//! The routing core the live driver runs: `node::Node` behind the driver's seam.

use std::net::SocketAddrV4;
use std::sync::Arc;

use super::core::RoutingCore;
use crate::node::{
    ConnId, Library, Node, Output, PeerIdentity, PeerInfo, RoutingConfig, SearchRequest, Time,
};
use crate::protocol::{Guid, Header, Message};

/// The core of peer `identity`, advertising `addr`, routing by `routing`.
pub fn node_core(
    routing: Arc<RoutingConfig>,
    identity: PeerIdentity,
    addr: SocketAddrV4,
    library: Library,
) -> Box<dyn RoutingCore> {
    Box::new(Node::new(routing, identity, addr, library))
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
}
