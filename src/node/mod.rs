//! The routing state machine of one peer: inputs in, actions and events out (sans-IO).
//!
//! A [`Node`] never touches a socket, a clock or a thread: the driver (the tokio network in
//! `net`, or the discrete-event simulator in `sim`) passes `now` in and carries the
//! [`Output`]s out, so the very same routing decisions run over TCP and in simulation.
//! [`Event`]s are the metrics vocabulary both drivers fold into per-query records
//! ([`record`]). Same inputs and seed give the same outputs.
//!
//! Driving a node:
//! ```text
//! node.on_connected(now, conn, info)          // a link is up
//! node.on_message(now, conn, msg)             // a decoded descriptor
//! node.on_skipped(now, conn, header)          // a frame the decoder skipped
//! node.start_search(now, request) -> Guid
//! node.on_timeout(now)                       // when the last Timeout said so
//! loop {                                      // after every input, drain:
//!     match node.poll_output() {
//!         Output::Send { to, msg } => ..,
//!         Output::Close { conn, bye } => ..,
//!         Output::Request(r) => ..,           // optional: walker check-backs, pushes
//!         Output::Event(e) => ..,             // metrics, folded into records
//!         Output::Dial(addr) => ..,           // dynamic overlay: link with this host
//!         Output::Timeout(next) => break,     // when to call on_timeout next
//!     }
//! }
//! ```

pub mod aged_map;
mod answering;
mod asked_log;
pub mod counters;
pub mod dynamic_query;
pub mod fast_hash;
pub mod generations;
pub mod host_cache;
pub mod identity;
pub mod library;
mod neighbours;
#[allow(clippy::module_inception)]
pub mod node;
pub mod overlay;
mod own_searches;
pub mod peer_stats;
pub mod ping_throttle;
pub mod pong_cache;
pub mod qrp_receiver;
pub mod qrp_table;
pub mod query_rules;
pub mod query_words;
pub mod record;
pub mod request;
pub mod result_cache;
pub mod rng;
pub mod role;
mod routes;
pub mod routing;
pub mod servent_routes;
pub mod setting;
pub mod strategy;
mod tier;
pub mod types;
mod walkers;

pub use counters::Counters;
pub use host_cache::{HostCache, HostEntry, HostSource};
pub use identity::PeerIdentity;
pub use library::{Library, SharedFile};
pub use node::{Node, Outbox, CHECK_BACK_TIMEOUT};
pub use overlay::{OverlayConfig, OverlayMode};
pub use peer_stats::{PeerStats, PeerTally};
pub use qrp_receiver::{QrpError, QrpProgress, QrpReceiver};
pub use qrp_table::{QrpTable, QueryKeys};
pub use request::Request;
pub use role::{LinkRefusal, Role, RoleSetting, TierPolicy};
pub use routing::RoutingConfig;
pub use setting::NodeSetting;
pub use strategy::{Forwarding, Strategy, StrategyParams, StrategySpec, MAX_WALKERS};
pub use tier::MERGE_DELAY;
pub use types::*;
