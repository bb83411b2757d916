//! The seam between the tokio driver and the routing state machine.
//!
//! The driver only needs the core's inputs and outputs, so it is written against this trait
//! rather than a concrete type: `node::Node` implements it (see `node_core.rs`).

use crate::node::{Action, ConnId, Event, PeerInfo, Request, SearchRequest, Time};
use crate::protocol::{Guid, Header, Message, SkipReason};

/// What the live driver needs from a peer's routing core.
pub trait RoutingCore: Send + 'static {
    fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo);
    fn on_message(&mut self, now: Time, from: ConnId, msg: Message);
    /// A complete descriptor the codec skipped (unknown type, bad payload).
    fn on_skipped(&mut self, now: Time, from: ConnId, header: Header, reason: &SkipReason);
    fn on_disconnected(&mut self, now: Time, conn: ConnId);
    fn start_search(&mut self, now: Time, request: &SearchRequest) -> Guid;
    /// When the core next wants `on_timeout`.
    fn poll_timeout(&self) -> Option<Time>;
    fn on_timeout(&mut self, now: Time);
    fn poll_action(&mut self) -> Option<Action>;
    fn poll_event(&mut self) -> Option<Event>;
    /// Our servent GUID, which the handshake tells neighbours (`GUID`).
    fn servent_guid(&self) -> Option<Guid> {
        None
    }
    /// Sends a Ping with this TTL on one link (keep-alive of an idle link).
    fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8);
    /// Requests beyond send/close (walker check-backs, pushes for us). The live driver
    /// does not carry check-backs across the network; the core falls back to its timeout.
    fn poll_request(&mut self) -> Option<Request> {
        None
    }
}
