//! One direct dial that says why a peer cannot be joined.
//!
//! A network's dialers retry with backoff and only log why an attempt failed, which is
//! right for a peer that keeps its links up for hours but wrong for a one-shot searcher:
//! `gnutella search --via` at a closed port used to wait 10 s and then guess. A probe makes
//! one attempt and names the cause: nobody listens (connection refused), nobody answers
//! (timed out), something that is not a Gnutella 0.6 peer answered (an HTTP server, say),
//! or a Gnutella peer refused us with a status code and reason (503 when it is full).
//!
//! A probe that is accepted declines the remote's 200 with its own status instead of the
//! final 200 (the 0.6 handshake lets the client refuse at that step), so the remote never
//! brings a link up for it; the caller then joins for real.

use std::net::SocketAddrV4;
use std::time::Duration;

use tokio::net::TcpStream;

use super::config::NetConfig;
use super::handshake::{self, HandshakeError, LocalInfo};
use crate::protocol::handshake::{Headers, Response, Version};

/// The status a probe declines an accepted handshake with.
pub const PROBE_DECLINE_CODE: u16 = 503;
/// Its reason phrase (what the remote logs).
pub const PROBE_DECLINE_REASON: &str = "Probe only, joining next";

/// Why a peer could not be joined, in the user's terms.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("connection refused by {0}: no program listens on that port")]
    Refused(SocketAddrV4),
    #[error("connecting to {addr} timed out after {secs:.0} s: the host is down, unreachable or behind a firewall")]
    ConnectTimeout { addr: SocketAddrV4, secs: f64 },
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("{addr} is not a Gnutella peer: it answered {answer:?} to a Gnutella 0.6 handshake")]
    NotGnutella { addr: SocketAddrV4, answer: String },
    #[error(
        "{0} is not a Gnutella peer: it closed the connection without answering the handshake"
    )]
    ClosedSilently(SocketAddrV4),
    #[error("{addr} accepted the connection but did not answer the handshake within {secs:.0} s (not a Gnutella peer?)")]
    HandshakeTimeout { addr: SocketAddrV4, secs: f64 },
    #[error("the Gnutella peer at {addr} refused us: {code} {reason}")]
    Rejected {
        addr: SocketAddrV4,
        code: u16,
        reason: String,
    },
    #[error("handshake with {addr} failed: {source}")]
    Handshake {
        addr: SocketAddrV4,
        source: HandshakeError,
    },
}

/// Dials `addr` once and runs the handshake up to the remote's answer. `Ok` when a
/// Gnutella 0.6 peer would accept us.
pub async fn probe(
    addr: SocketAddrV4,
    local: &LocalInfo,
    net: &NetConfig,
) -> Result<(), ProbeError> {
    let secs = |d: Duration| d.as_secs_f64();
    let mut stream = match tokio::time::timeout(net.connect_timeout, TcpStream::connect(addr)).await
    {
        Err(_) => {
            return Err(ProbeError::ConnectTimeout {
                addr,
                secs: secs(net.connect_timeout),
            })
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(ProbeError::Refused(addr))
        }
        Ok(Err(source)) => return Err(ProbeError::Connect { addr, source }),
        Ok(Ok(stream)) => stream,
    };
    let remote = stream.peer_addr().ok();
    let local = local.on_socket(stream.local_addr().ok());
    let decline = Response {
        version: Version::V0_6,
        code: PROBE_DECLINE_CODE,
        reason: PROBE_DECLINE_REASON.to_string(),
        headers: Headers::new(),
    };
    let outcome = handshake::probe(&mut stream, &local, remote, &net.handshake, &decline).await;
    match outcome {
        Ok(_) => Ok(()),
        Err(HandshakeError::Refused { code, reason, .. }) => {
            Err(ProbeError::Rejected { addr, code, reason })
        }
        Err(HandshakeError::Protocol(
            crate::protocol::handshake::HandshakeError::BadStartLine(answer),
        )) => Err(ProbeError::NotGnutella { addr, answer }),
        Err(HandshakeError::Closed) => Err(ProbeError::ClosedSilently(addr)),
        Err(HandshakeError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Err(ProbeError::ClosedSilently(addr))
        }
        Err(HandshakeError::Timeout) => Err(ProbeError::HandshakeTimeout {
            addr,
            secs: secs(net.handshake.timeout),
        }),
        Err(source) => Err(ProbeError::Handshake { addr, source }),
    }
}
