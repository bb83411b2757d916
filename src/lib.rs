//! A Gnutella 0.6 peer-to-peer search network and the tools to study flooding search.
//!
//! The crate is layered so that one routing core serves two drivers (see `ARCHITECTURE.md`
//! in the shared folder): arrows point down only.
//!
//! | layer | owns |
//! |---|---|
//! | [`protocol`] | the Gnutella 0.6 wire format: descriptors, handshake, URNs |
//! | [`node`] | the sans-IO routing state machine of one peer |
//! | [`trace`] | flood traces: a fold over node events and sends, one schema for both drivers |
//! | [`topology`] | topology configs, generators and loaders |
//! | [`net`] | the tokio driver: real peers over TCP, HTTP transfers |
//! | [`sim`] | the discrete-event driver: many nodes over virtual links |
//! | [`experiment`] | workloads, per-query records, reports and plots |
//! | [`export`] | configs for other engines (Shadow) and their outputs read back as reports |
//! | [`view`] | the flood page: a trace drawn and replayed in one self-contained HTML file |
//! | [`progress`] | (a leaf) long work deep in the layers, reported to the CLI's bars |
//! | [`validate`] | (a leaf under all of them) one policy for user input: TTL ranges, search
//! words, writable output paths |

pub mod experiment;
pub mod export;
pub mod net;
pub mod node;
pub mod progress;
pub mod protocol;
pub mod sim;
pub mod topology;
pub mod trace;
pub mod validate;
pub mod view;
