//! A peer's listening socket: one port for both Gnutella and HTTP, as real servents do.
//!
//! The first line decides: `GNUTELLA CONNECT/0.6` opens the handshake, `GET`/`HEAD` goes to
//! the file server with the bytes already read, anything else (including the refused 0.4
//! handshake) is closed. Each accepted socket gets its own task, so a slow or hostile client
//! holds only itself up, for at most the handshake timeout.
//!
//! Two bounds keep a flood of clients from using the peer up: at most `max_pending`
//! sockets may be in their first exchange (more are closed unanswered, before we read a
//! byte), and at most `max_links` links may be up (a further handshake is answered 503
//! with a few neighbours to try instead, as gtk-gnutella and LimeWire do).
//!
//! A remote's word on its listening address (`Listen-IP`, `Node`) decides which neighbour
//! slot it takes, so it is believed only when its IP is the socket's, and then only
//! softly: a dial to that address that reaches a real listener displaces it (see
//! `dialer`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::config::NetConfig;
use super::handshake::{self, HandshakeError, LocalInfo, Refusal};
use super::link::{self, LinkCompression};
use super::logs::{Clean, Quoted};
use super::peer::{DegreePlace, LinkOrigin, LinkPlaces, PeerInput, PeerRef, SlotClaim};
use crate::node::PeerInfo;
use crate::protocol::handshake::{Headers, Rejection};

/// Neighbours listed in `X-Try-Ultrapeers` when we are full.
const TRY_LISTED: usize = 10;

/// Serves one HTTP connection, given the bytes already read from it.
pub type HttpHandler =
    Arc<dyn Fn(TcpStream, BytesMut) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Accepts connections until the peer stops.
pub fn spawn_listener(
    listener: TcpListener,
    peer: PeerRef,
    local: LocalInfo,
    net: NetConfig,
    http: Option<HttpHandler>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut stopping = peer.stopping.clone();
        let pending = Arc::new(Semaphore::new(net.max_pending.max(1)));
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopping.wait_for(|s| *s) => return,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let Ok(permit) = pending.clone().try_acquire_owned() else {
                        log::debug!(
                            "{}: inbound {remote} closed unanswered: too many pending sockets",
                            peer.name
                        );
                        peer.shared
                            .failed_handshakes
                            .fetch_add(1, Ordering::Relaxed);
                        drop(stream);
                        continue;
                    };
                    let peer = peer.clone();
                    let local = local.clone();
                    let http = http.clone();
                    tokio::spawn(async move {
                        incoming(stream, remote, peer, local, net, http, permit).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors, typically: wait a little rather than spin.
                    log::warn!("{}: accept failed: {e}", peer.name);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn incoming(
    mut stream: TcpStream,
    remote: SocketAddr,
    peer: PeerRef,
    local: LocalInfo,
    net: NetConfig,
    http: Option<HttpHandler>,
    permit: OwnedSemaphorePermit,
) {
    // Held through the handshake or the HTTP exchange; an established link is no longer
    // pending (max_links bounds those).
    let _permit = permit;
    let local = local.on_socket(stream.local_addr().ok());
    let mut buf = BytesMut::with_capacity(1024);
    let first = tokio::time::timeout(
        net.handshake.timeout,
        handshake::peek_first_line(&mut stream, &mut buf, &net.handshake),
    )
    .await;
    let first = match first {
        Ok(Ok(line)) => line,
        Ok(Err(e)) => {
            log::debug!("{}: inbound {remote} closed: {}", peer.name, Clean(&e));
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            log::debug!(
                "{}: inbound {remote} closed: no first line in time",
                peer.name
            );
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    if first.starts_with("GET ") || first.starts_with("HEAD ") {
        match http {
            Some(serve) => serve(stream, buf).await,
            None => log::debug!(
                "{}: inbound {remote} closed: HTTP request but no file server",
                peer.name
            ),
        }
        return;
    }
    if !handshake::is_connect_06(&first) {
        log::debug!(
            "{}: inbound {remote} closed: not a 0.6 handshake: {}",
            peer.name,
            Quoted(&first)
        );
        peer.shared
            .failed_handshakes
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let shared = peer.shared.clone();
    let conn = shared.alloc_conn();
    let remote_ip = match remote.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    };
    // The slot of the address it claims and its link place: guards, given back when
    // dropped on any way out of the handshake.
    let mut claimed: Option<SlotClaim> = None;
    let mut reserved: Option<DegreePlace> = None;
    // What the remote said about itself, for the log of a refusal.
    let mut said_agent: Option<String> = None;
    let mut said_listen = None;
    let result = handshake::accept(
        &mut stream,
        buf,
        &local,
        Some(remote),
        &net.handshake,
        |n| {
            said_agent = n.user_agent.clone();
            said_listen = n.listen_addr;
            if *peer.stopping.borrow() {
                return Err(Rejection::Busy.into());
            }
            if let Some(said) = n.listen_addr {
                let addr = claimed_addr(said, remote_ip);
                if addr == local.listen_addr {
                    return Err(Rejection::AlreadyConnected.into());
                }
                if Some(*addr.ip()) == remote_ip {
                    match shared.claim_inbound(addr, conn) {
                        Some(claim) => claimed = Some(claim),
                        None => return Err(Rejection::AlreadyConnected.into()),
                    }
                } else {
                    log::debug!(
                        "{}: inbound {remote}: ignoring its claim to listen at {said}",
                        peer.name
                    );
                }
            }
            match shared.reserve_degree(net.max_links) {
                Some(place) => reserved = Some(place),
                None => {
                    claimed = None;
                    return Err(busy(&shared.linked()));
                }
            }
            Ok(())
        },
    )
    .await;
    let (negotiated, leftover) = match result {
        Ok(ok) => ok,
        Err(e) => {
            let me = &peer.name;
            let agent = said_agent.as_deref().map(Quoted);
            let claim = said_listen.map_or(String::new(), |a| format!(" Listen-IP={a}"));
            match &e {
                HandshakeError::WeRefused(no) => log::debug!(
                    "{me}: refused inbound handshake from {remote}: {} {} (agent={}{claim})",
                    no.code(),
                    no.reason(),
                    agent.map_or("none".into(), |a| a.to_string()),
                ),
                // A malformed request is answered with its rejection code before closing.
                HandshakeError::Protocol(bad) if reserved.is_none() => {
                    let no = bad.rejection();
                    log::debug!(
                        "{me}: refused inbound handshake from {remote}: {} {} ({})",
                        no.code(),
                        no.reason(),
                        Clean(bad)
                    );
                }
                HandshakeError::Refused { code, reason } => log::debug!(
                    "{me}: inbound handshake from {remote} refused by the remote: {code} {}",
                    Quoted(reason)
                ),
                _ => log::debug!(
                    "{me}: inbound handshake from {remote} failed: {}",
                    Clean(&e)
                ),
            }
            peer.shared
                .failed_handshakes
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let Some(degree) = reserved else {
        // accept() succeeds only past the check that reserves the place.
        return;
    };
    let compression = LinkCompression {
        deflate_in: negotiated.deflate_in,
        deflate_out: negotiated.deflate_out,
    };
    let (handle, go) = link::start(
        stream,
        leftover,
        conn,
        compression,
        net.link,
        peer.tx.clone(),
    );
    let info = PeerInfo {
        listen_addr: claimed.as_ref().map(SlotClaim::addr),
        accepts_bye: negotiated.remote.accepts_bye,
        servent_guid: negotiated.remote.servent_guid,
    };
    let origin = LinkOrigin {
        outbound: false,
        negotiated,
    };
    if peer
        .tx
        .send(PeerInput::LinkUp {
            conn,
            info,
            link: handle,
            down: None,
            origin,
            places: LinkPlaces {
                degree,
                slot: claimed,
            },
        })
        .await
        .is_ok()
    {
        let _ = go.send(());
    }
}

/// A claimed listening address with an unspecified IP (a peer listening on 0.0.0.0)
/// means "where you reach me": the socket's IP.
fn claimed_addr(said: SocketAddrV4, remote_ip: Option<std::net::Ipv4Addr>) -> SocketAddrV4 {
    match remote_ip {
        Some(ip) if said.ip().is_unspecified() => SocketAddrV4::new(ip, said.port()),
        _ => said,
    }
}

/// The 503 of a full peer, with a few neighbours to try instead.
fn busy(neighbours: &[SocketAddrV4]) -> Refusal {
    let mut headers = Headers::new();
    if !neighbours.is_empty() {
        let list: Vec<String> = neighbours
            .iter()
            .take(TRY_LISTED)
            .map(|a| a.to_string())
            .collect();
        headers.set("X-Try-Ultrapeers", &list.join(","));
    }
    Refusal {
        rejection: Rejection::Busy,
        headers,
    }
}
