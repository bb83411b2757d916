//! The routing core the live driver runs: `node::Node` behind the driver's seam.

use super::core::RoutingCore;
use crate::node::{
    Action, ConnId, Event, Library, Node, NodeConfig, PeerInfo, Request, SearchRequest, Time,
};
use crate::protocol::{Guid, Header, Message, SkipReason};

/// The core for a peer with these settings.
pub fn node_core(config: NodeConfig, library: Library, seed: u64) -> Box<dyn RoutingCore> {
    Box::new(Node::new(config, library, seed))
}

impl RoutingCore for Node {
    fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo) {
        Node::on_connected(self, now, conn, info)
    }

    fn on_message(&mut self, now: Time, from: ConnId, msg: Message) {
        Node::on_message(self, now, from, msg)
    }

    fn on_skipped(&mut self, now: Time, from: ConnId, header: Header, reason: &SkipReason) {
        Node::on_skipped(self, now, from, header, reason)
    }

    fn on_disconnected(&mut self, now: Time, conn: ConnId) {
        Node::on_disconnected(self, now, conn)
    }

    fn start_search(&mut self, now: Time, request: &SearchRequest) -> Guid {
        Node::start_search(self, now, request.clone())
    }

    fn poll_timeout(&self) -> Option<Time> {
        Node::poll_timeout(self)
    }

    fn on_timeout(&mut self, now: Time) {
        Node::on_timeout(self, now)
    }

    fn poll_action(&mut self) -> Option<Action> {
        Node::poll_action(self)
    }

    fn poll_event(&mut self) -> Option<Event> {
        Node::poll_event(self)
    }

    fn servent_guid(&self) -> Option<Guid> {
        Some(Node::servent_guid(self))
    }

    fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8) {
        Node::send_ping(self, now, conn, ttl);
    }

    fn poll_request(&mut self) -> Option<Request> {
        Node::poll_request(self)
    }
}
