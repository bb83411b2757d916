//! The tokio driver: real peers over TCP, the handshake, HTTP file transfers.
//!
//! One peer is an actor task that owns its routing core ([`peer`]); a listener per peer
//! speaks Gnutella and HTTP on one port ([`listener`]); dialers keep configured links up
//! ([`dialer`]), leaving from the peer's own listening address ([`connect`]); each link is
//! a reader, a writer and a bounded priority queue ([`link`], [`send_queue`]). The driver
//! makes no routing decisions: it feeds the core and carries out its actions. A launch may
//! serve a control API over HTTP ([`control`], [`control_http`]) to stop, restart and
//! search from its peers while it runs.

pub mod admission;
pub mod clock;
pub mod config;
pub mod connect;
pub mod control;
pub mod control_http;
pub mod control_local;
pub mod control_shards;
pub mod core;
pub mod dialer;
pub mod discovery;
pub mod download;
pub mod download_progress;
pub mod from_config;
pub mod handshake;
pub mod hits;
pub mod host_file;
pub mod http_server;
pub mod launch;
pub mod launch_options;
pub mod link;
pub mod link_shaper;
pub mod listener;
pub mod live_feed;
pub mod logs;
pub mod network;
pub mod node_core;
pub mod peer;
pub mod probe;
pub mod report;
pub mod send_queue;
pub mod shard;
pub mod shard_children;
pub mod shard_protocol;
pub mod shard_trace;
pub mod share;
pub mod signal;
pub mod solo;
pub mod trace;
pub mod workload;

pub use config::NetConfig;
