//! The tokio driver: real peers over TCP, the handshake, HTTP file transfers.
pub mod share;
