//! The seam between the tokio driver and the routing state machine.
//!
//! The driver only needs the core's inputs and outputs, so it is written against this trait
//! rather than a concrete type: `node::Node` implements it (see `node_core.rs`).

use std::sync::Arc;

use crate::node::{ConnId, Output, PeerInfo, RoutingConfig, SearchRequest, Time};
use crate::protocol::{Guid, Header, Message};

/// What the live driver needs from a peer's routing core.
pub trait RoutingCore: Send + 'static {
    /// The routing configuration the core runs.
    fn routing(&self) -> &Arc<RoutingConfig>;
    /// The servent GUID of the core's hits.
    fn servent_guid(&self) -> Guid;
    fn on_connected(&mut self, now: Time, conn: ConnId, info: PeerInfo);
    fn on_message(&mut self, now: Time, from: ConnId, msg: Message);
    /// A complete descriptor the codec skipped (unknown type, bad payload).
    fn on_skipped(&mut self, now: Time, from: ConnId, header: Header);
    fn on_disconnected(&mut self, now: Time, conn: ConnId);
    fn start_search(&mut self, now: Time, request: &SearchRequest) -> Guid;
    fn on_timeout(&mut self, now: Time);
    /// Sends a Ping with this TTL on one link (keep-alive of an idle link).
    fn send_ping(&mut self, now: Time, conn: ConnId, ttl: u8);
    /// The core's next output; after every input, drain until `Output::Timeout` (see
    /// `Node::poll_output`).
    fn poll_output(&mut self) -> Output;
}
