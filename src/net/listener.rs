//! A peer's listening socket: one port for both Gnutella and HTTP, as real servents do.
//!
//! The first line decides: `GNUTELLA CONNECT/0.6` opens the handshake, `GET`/`HEAD` goes to
//! the file server with the bytes already read, anything else (including the refused 0.4
//! handshake) is closed. Each accepted socket gets its own task, so a slow or hostile client
//! holds only itself up, for at most the handshake timeout.
//!
//! Bounds keep a flood of clients from using the peer up, without letting a few of them
//! lock everyone else out (`admission`):
//! - at most `max_pending` sockets may be in their first line or handshake, at most
//!   `max_pending_per_ip` from one address; when they are all taken, the socket idle the
//!   longest (of that address, when it is the address that is at its cap) is closed to
//!   make room. A socket has `first_line_timeout` to say what it is, and counts as idle
//!   until it does; a handshake under way is idle once it has taken `BUSY_GRACE`.
//! - once its first line says HTTP, a socket leaves those places for one of `max_http`
//!   (`max_http_per_ip` per address); a keep-alive connection waiting between requests
//!   is closed when a newcomer needs its place, and a newcomer finding none idle is
//!   answered 503;
//! - at most `max_links` links may be up (a further handshake is answered 503 with a few
//!   hosts to try instead in `X-Try` and `X-Try-Ultrapeers`, as gtk-gnutella and
//!   LimeWire do: the hosts the core published, see `discovery`, then neighbours). In a
//!   dynamic overlay `max_links` is the policy's `max_degree`, and the 200s name hosts
//!   too, which speeds up discovery;
//! - a peer with a two-tier role takes links by its `TierPolicy` (`node::role`): a leaf
//!   answers another leaf, or an ultrapeer past `leaf_ultrapeers`, with 503; an ultrapeer
//!   past `max_leaves` leaves answers the next leaf with `503 Too many leaves`. An
//!   ultrapeer's leaves take no place of `max_links`: the leaf budget bounds them. An
//!   ultrapeer's 200 carries leaf guidance (`X-Ultrapeer-Needed`, `TierPolicy::
//!   ultrapeer_needed`), and refusals name relays only, never our leaves.
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
use tokio::task::JoinHandle;

use super::admission::{Budget, BudgetLimits, Place, Refused, BUSY_GRACE};
use super::config::NetConfig;
use super::discovery::try_list;
use super::handshake::{self, HandshakeError, LocalInfo, Refusal};
use super::link::{self, LinkCompression};
use super::logs::{Clean, Quoted};
use super::peer::{DegreePlace, LinkOrigin, LinkPlaces, PeerInput, PeerRef, RolePlace, SlotClaim};
use crate::node::{HostSource, PeerInfo, Role};
use crate::protocol::handshake::{try_headers, Rejection};

/// Serves one HTTP connection, given the bytes already read from it and its place in the
/// peer's HTTP budget (or why it got none: it is then answered 503).
pub type HttpHandler = Arc<
    dyn Fn(TcpStream, BytesMut, Result<Place, Refused>) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

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
        let pending = Budget::new(BudgetLimits {
            total: net.max_pending,
            per_ip: net.max_pending_per_ip,
        });
        let http_places = Budget::new(BudgetLimits {
            total: net.max_http,
            per_ip: net.max_http_per_ip,
        });
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stopping.wait_for(|s| *s) => return,
            };
            match accepted {
                Ok((stream, remote)) => {
                    let evicted_before = pending.evictions();
                    let place = match pending.admit(remote.ip(), true) {
                        Ok(place) => place,
                        Err(why) => {
                            log::debug!("{}: inbound {remote} closed unanswered: {why}", peer.name);
                            peer.shared
                                .failed_handshakes
                                .fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                            continue;
                        }
                    };
                    if pending.evictions() > evicted_before {
                        log::debug!(
                            "{}: inbound {remote} took the place of the socket idle the longest",
                            peer.name
                        );
                    }
                    let peer = peer.clone();
                    let local = local.clone();
                    let http = http.clone().map(|h| (h, http_places.clone()));
                    tokio::spawn(async move {
                        incoming(stream, remote, peer, local, net, http, place).await;
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
    http: Option<(HttpHandler, Budget)>,
    mut place: Place,
) {
    // Held through the first line and the handshake, and given up if a newcomer needs
    // it (the socket then closes); an established link is no longer pending (max_links
    // bounds those), an HTTP connection takes a place of the HTTP budget instead.
    let local = local
        .now(peer.shared.is_leaf_now())
        .on_socket(stream.local_addr().ok());
    let mut buf = BytesMut::with_capacity(1024);
    let first_line_timeout = net.first_line_timeout.min(net.handshake.timeout);
    let first = place
        .unless_evicted(tokio::time::timeout(
            first_line_timeout,
            handshake::peek_first_line(&mut stream, &mut buf, &net.handshake),
        ))
        .await;
    let Some(first) = first else {
        log::debug!(
            "{}: inbound {remote} closed: its place went to a newer socket",
            peer.name
        );
        peer.shared
            .failed_handshakes
            .fetch_add(1, Ordering::Relaxed);
        return;
    };
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
            Some((serve, budget)) => {
                let http_place = budget.admit(remote.ip(), false);
                drop(place);
                if let Err(why) = &http_place {
                    log::debug!("{}: inbound {remote} HTTP answered 503: {why}", peer.name);
                }
                serve(stream, buf, http_place).await
            }
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
    let mut role_place: Option<RolePlace> = None;
    // Refused for want of room: where it listens (`HostSource::Knocked`).
    let mut knocked: Option<SocketAddrV4> = None;
    // What the remote said about itself, for the log of a refusal.
    let mut said_agent: Option<String> = None;
    let mut said_listen = None;
    let accepting = handshake::accept_with(
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
                    match shared.claim_inbound(addr, conn, local.listen_addr) {
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
            let remote_listen = claimed.as_ref().map(SlotClaim::addr);
            // Our role's budget: a leaf takes only ultrapeers, and few; an ultrapeer
            // only so many leaves (PROTOCOL.md §4.4).
            let theirs = handshake::role_of(n);
            match shared.reserve_role(&local.tier, theirs) {
                Ok(place) => role_place = Some(place),
                Err(why) => {
                    claimed = None;
                    let hosts =
                        try_list(&shared.try_hosts(), &shared.linked_relays(), remote_listen);
                    return Err(Refusal {
                        rejection: handshake::role_rejection(why),
                        headers: try_headers(&hosts),
                    });
                }
            }
            // An ultrapeer's leaves are bounded by `max_leaves`, not by the link places.
            if local.tier.role == Some(Role::Ultrapeer) && theirs == Role::Leaf {
                reserved = Some(shared.leaf_place());
            } else {
                match shared.reserve_degree(net.max_links) {
                    Some(place) => reserved = Some(place),
                    None => {
                        claimed = None;
                        role_place = None;
                        knocked = remote_listen;
                        let hosts =
                            try_list(&shared.try_hosts(), &shared.linked_relays(), remote_listen);
                        return Err(busy(&hosts));
                    }
                }
            }
            // A dynamic peer names hosts in its 200s too (a static one publishes none).
            let mut extra = try_headers(&try_list(&shared.try_hosts(), &[], remote_listen));
            // An ultrapeer's leaf guidance, counting the links other than this one
            // (gtk-gnutella counts only established ones).
            let (leaves, ultrapeers) = shared.role_counts();
            let (leaves, ultrapeers) = match theirs {
                Role::Leaf => (leaves.saturating_sub(1), ultrapeers),
                Role::Ultrapeer => (leaves, ultrapeers.saturating_sub(1)),
            };
            if let Some(needed) = local
                .tier
                .ultrapeer_needed(ultrapeers, net.max_links, leaves)
            {
                extra.append("X-Ultrapeer-Needed", if needed { "True" } else { "False" });
            }
            Ok(extra)
        },
    );
    // Busy for a grace (an honest handshake is over by then), then a stalled one may
    // lose its place to a newcomer.
    let grace = tokio::time::Instant::now() + BUSY_GRACE;
    let Some(result) = place.busy_then_idle(grace, accepting).await else {
        log::debug!(
            "{}: inbound handshake from {remote} closed: its place went to a newer socket",
            peer.name
        );
        peer.shared
            .failed_handshakes
            .fetch_add(1, Ordering::Relaxed);
        return;
    };
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
                HandshakeError::Refused { code, reason, .. } => log::debug!(
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
            if let Some(addr) = knocked {
                let hosts = PeerInput::Hosts {
                    hosts: vec![addr],
                    source: HostSource::Knocked,
                };
                let _ = peer.tx.send(hosts).await;
            }
            return;
        }
    };
    let (Some(mut degree), Some(mut role_place)) = (reserved, role_place) else {
        // accept() succeeds only past the checks that reserve the places.
        return;
    };
    // It said hello as an ultrapeer and took our leaf guidance in its final 200: its
    // place moves from our ultrapeers to our leaves (and, as an ultrapeer's leaf, out of
    // `max_links`). Rare: our 200 says `X-Ultrapeer-Needed: False` only with no room
    // for ultrapeers, and an ultrapeer gets that far only with a place of `max_links`
    // (see docs/interop.md).
    let theirs = handshake::role_of(&negotiated.remote);
    if theirs != role_place.role() {
        match peer.shared.reserve_role(&local.tier, theirs) {
            Ok(place) => role_place = place,
            Err(why) => {
                log::debug!(
                    "{}: inbound {remote} closed: became our leaf past our budget: {why}",
                    peer.name
                );
                peer.shared
                    .failed_handshakes
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if local.tier.role == Some(Role::Ultrapeer) && theirs == Role::Leaf {
            degree = peer.shared.leaf_place();
        }
    }
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
        role: handshake::role_of(&negotiated.remote),
        query_routing: handshake::takes_our_tables(&local.tier, &negotiated.remote),
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
            origin: Box::new(origin),
            places: LinkPlaces {
                degree,
                slot: claimed,
                role: role_place,
                guidance: None,
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

/// The 503 of a full peer, with a few hosts to try instead.
fn busy(hosts: &[SocketAddrV4]) -> Refusal {
    Refusal {
        rejection: Rejection::Busy,
        headers: try_headers(hosts),
    }
}
