//! The live side of a dynamic overlay (`node::overlay`): the core decides whom to dial and
//! which hosts to name in `X-Try`; this carries its dials out and publishes its list.
//!
//! - A dial (`Output::Dial`) is one attempt in its own task ([`DialKit::dial`]): it takes
//!   one of the peer's link places first (so dials under way count against
//!   `max_degree`, and a burst of inbound links cannot push the peer past it), then
//!   connects from the peer's own address and shakes hands (`dialer::dial_placed`, with
//!   its slot claim: never two links per pair). Success brings the link up as any other;
//!   every failure (no place, connect refused or timed out, handshake refused, already
//!   linked) comes back as `PeerInput::DialFailed`. There is no retry here: the core's
//!   host cache decides when a host is worth another try.
//! - The listener runs outside the actor, so the actor publishes the core's `X-Try` list
//!   into `PeerShared` ([`Publisher`]): after a flush, when the degree changed or a short
//!   while passed, never on every frame. The listener names those hosts in the 503 of a
//!   full peer and in its 200s, as gtk-gnutella and LimeWire do.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tokio::time::Instant;

use super::config::NetConfig;
use super::dialer::{dial_placed, DialError};
use super::handshake::LocalInfo;
use super::logs::Clean;
use super::peer::{PeerInput, PeerRef};

/// Hosts named in one `X-Try` header (LimeWire names 10).
pub const TRY_LISTED: usize = 10;
/// Longest time a published `X-Try` list may lag behind the core's host cache.
pub const REPUBLISH: Duration = Duration::from_millis(250);

/// What a dynamic peer's dials need: how it speaks (its handshake headers and the
/// driver's limits), where it dials from, and its most links.
#[derive(Clone, Debug)]
pub struct DialKit {
    pub local: LocalInfo,
    pub net: NetConfig,
    /// The peer's listening IP: dials leave from it (see `connect`).
    pub source: Ipv4Addr,
    pub max_degree: usize,
}

impl DialKit {
    /// Dials `addr` once for `peer`, in a task of its own.
    pub fn dial(&self, addr: SocketAddrV4, peer: PeerRef) {
        let kit = self.clone();
        tokio::spawn(async move {
            let Some(place) = peer.shared.reserve_degree(kit.max_degree) else {
                log::debug!(
                    "{}: dial of {addr} not started: {} links already",
                    peer.name,
                    kit.max_degree
                );
                let _ = peer.tx.send(PeerInput::DialFailed { addr }).await;
                return;
            };
            match dial_placed(addr, kit.source, &peer, &kit.local, &kit.net, place).await {
                // The link is up; its end is the actor's business, not ours.
                Ok(_down) => {}
                Err(DialError::Stopping) => {}
                Err(e) => {
                    log::debug!("{}: dial failed: {}", peer.name, Clean(&e));
                    let _ = peer.tx.send(PeerInput::DialFailed { addr }).await;
                }
            }
        });
    }
}

/// When the actor republishes the core's `X-Try` list: when its degree changed (links
/// came or went, and with them what the cache knows best) or [`REPUBLISH`] passed.
#[derive(Debug, Default)]
pub struct Publisher {
    last: Option<(Instant, usize)>,
}

impl Publisher {
    /// Whether to publish now, at `degree` links; if so, counts it as published.
    pub fn due(&mut self, degree: usize) -> bool {
        let now = Instant::now();
        let due = match self.last {
            None => true,
            Some((at, was)) => was != degree || now.duration_since(at) >= REPUBLISH,
        };
        if due {
            self.last = Some((now, degree));
        }
        due
    }
}

/// Up to [`TRY_LISTED`] hosts for an `X-Try` header: the core's list, then current
/// neighbours, never `except` (the remote we answer, which need not be told to try
/// itself).
pub fn try_list(
    published: &[SocketAddrV4],
    neighbours: &[SocketAddrV4],
    except: Option<SocketAddrV4>,
) -> Vec<SocketAddrV4> {
    let mut list: Vec<SocketAddrV4> = Vec::with_capacity(TRY_LISTED);
    for &addr in published.iter().chain(neighbours) {
        if list.len() >= TRY_LISTED {
            break;
        }
        if Some(addr) != except && !list.contains(&addr) {
            list.push(addr);
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, i), 6346)
    }

    #[test]
    fn a_try_list_is_bounded_distinct_and_never_names_the_remote() {
        let published: Vec<_> = (1..=6).map(addr).collect();
        let neighbours: Vec<_> = (4..=12).map(addr).collect();
        let list = try_list(&published, &neighbours, Some(addr(2)));
        assert_eq!(list.len(), TRY_LISTED);
        assert!(!list.contains(&addr(2)));
        assert_eq!(&list[..5], &[addr(1), addr(3), addr(4), addr(5), addr(6)]);
        let mut sorted = list.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), list.len());
        assert!(try_list(&[], &[], None).is_empty());
    }

    #[tokio::test]
    async fn the_list_is_republished_when_the_degree_changes() {
        let mut p = Publisher::default();
        assert!(p.due(0), "first time");
        assert!(!p.due(0), "nothing changed");
        assert!(p.due(1), "a link came up");
    }
}
