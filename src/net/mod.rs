//! The tokio driver: real peers over TCP, the handshake, HTTP file transfers.
pub mod share;
pub mod download;
pub mod http_server;
