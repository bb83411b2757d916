//! Outbound links to the neighbours a peer is told about, kept up with retries.
//!
//! A dial that fails (nobody listening yet, a refused handshake) is retried after an
//! exponentially growing delay with seeded jitter, so a thousand peers started at once do
//! not retry in lockstep, and a run with the same seed retries the same way. A link that
//! drops is dialled again. The slot for a neighbour is claimed before dialling, so a
//! connection accepted from that neighbour meanwhile is refused (409) rather than doubled.
//!
//! In a dynamic overlay (`node::overlay`) configured links are only a start: a dialer
//! gives up once its link has come up and dropped, or after [`GIVE_UP_AFTER`] failed
//! attempts in a row, and the core's degree policy dials replacements
//! ([`Redial::UntilReplaced`]). The core's own dials are one attempt each
//! ([`dial_placed`]): the core decides whether and when to try a host again.
//!
//! A refusal's `X-Try` hosts are passed to the peer (`PeerInput::Hosts`) before the
//! dial reports its failure, so a core that learns of the failure already knows where
//! else to go.
//!
//! An inbound link that claims the address holds the slot only softly: anyone can say
//! `Listen-IP: <a configured neighbour>`. We dial anyway; if the handshake with the
//! configured address succeeds, we reached the real listener, so the inbound link was an
//! impostor (or a duplicate) and is closed in favour of the dialled one.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;

use super::config::NetConfig;
use super::connect::connect_from;
use super::handshake::{self, HandshakeError, LocalInfo};
use super::link::{self, LinkCompression};
use super::logs::Clean;
use super::peer::{DegreePlace, DialClaim, LinkOrigin, LinkPlaces, PeerInput, PeerRef, SlotClaim};
use crate::node::{ConnId, HostSource, PeerInfo, Role};

/// How one dial attempt ended.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("connect to {0} timed out")]
    ConnectTimeout(SocketAddrV4),
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddrV4,
        source: std::io::Error,
    },
    #[error("handshake with {addr}: {source}")]
    Handshake {
        addr: SocketAddrV4,
        source: HandshakeError,
    },
    #[error("already linked with {0}")]
    AlreadyLinked(SocketAddrV4),
    #[error("the peer is stopping")]
    Stopping,
}

/// Failed attempts in a row after which a configured link of a dynamic overlay is left
/// to the degree policy.
pub const GIVE_UP_AFTER: u32 = 3;

/// How long a dialer keeps a configured link up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redial {
    /// Static overlay: for as long as the peer runs, whatever happens.
    Always,
    /// Dynamic overlay: until the link has come up and dropped, or after
    /// [`GIVE_UP_AFTER`] failures in a row; the degree policy replaces it.
    UntilReplaced,
}

impl Redial {
    /// Whether to dial again after a link that `was_up` ended, or after `failures`
    /// failed attempts in a row.
    pub fn again(self, was_up: bool, failures: u32) -> bool {
        match self {
            Redial::Always => true,
            Redial::UntilReplaced => !was_up && failures < GIVE_UP_AFTER,
        }
    }
}

/// Dials `addr` from `source` (the peer's listening IP, see `connect`) and keeps the link
/// up until the peer stops (or, as `redial` says, until the link is left to the degree
/// policy).
pub fn spawn_dialer(
    addr: SocketAddrV4,
    source: Ipv4Addr,
    peer: PeerRef,
    local: LocalInfo,
    net: NetConfig,
    seed: u64,
    redial: Redial,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stopping = peer.stopping.clone();
        let mut failures: u32 = 0;
        loop {
            if *stopping.borrow() {
                return;
            }
            let mut was_up = false;
            match dial_once(addr, source, &peer, &local, &net).await {
                Ok(down) => {
                    failures = 0;
                    was_up = true;
                    tokio::select! {
                        _ = down => {}
                        _ = stopping.wait_for(|s| *s) => return,
                    }
                }
                Err(DialError::Stopping) => return,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    log::debug!(
                        "{}: dial failed: {} (attempt {failures})",
                        peer.name,
                        Clean(&e)
                    );
                }
            }
            if !redial.again(was_up, failures) {
                log::debug!(
                    "{}: configured link to {addr} left to the degree policy",
                    peer.name
                );
                return;
            }
            let delay = backoff(&net, failures, &mut rng);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopping.wait_for(|s| *s) => return,
            }
        }
    })
}

/// The delay before the next attempt: `backoff_min * 2^(failures-1)`, capped, times a
/// jitter factor in [0.5, 1.5).
pub fn backoff<R: Rng>(net: &NetConfig, failures: u32, rng: &mut R) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = net
        .backoff_min
        .saturating_mul(1u32 << exp)
        .min(net.backoff_max);
    base.mul_f64(rng.gen_range(0.5..1.5))
}

/// One attempt: connect, handshake, hand the link to the actor. Returns a receiver that
/// completes when the link goes down. The link takes a place beyond the listener's
/// bound: a configured neighbour is always linked.
pub async fn dial_once(
    addr: SocketAddrV4,
    source: Ipv4Addr,
    peer: &PeerRef,
    local: &LocalInfo,
    net: &NetConfig,
) -> Result<tokio::sync::oneshot::Receiver<()>, DialError> {
    dial_with(addr, source, peer, local, net, None).await
}

/// One attempt holding `place`, a link place taken before dialling (the degree policy's
/// dials count against the peer's maximum while they are under way).
pub async fn dial_placed(
    addr: SocketAddrV4,
    source: Ipv4Addr,
    peer: &PeerRef,
    local: &LocalInfo,
    net: &NetConfig,
    place: DegreePlace,
) -> Result<tokio::sync::oneshot::Receiver<()>, DialError> {
    dial_with(addr, source, peer, local, net, Some(place)).await
}

async fn dial_with(
    addr: SocketAddrV4,
    source: Ipv4Addr,
    peer: &PeerRef,
    local: &LocalInfo,
    net: &NetConfig,
    place: Option<DegreePlace>,
) -> Result<tokio::sync::oneshot::Receiver<()>, DialError> {
    let conn = peer.shared.alloc_conn();
    let claim = match peer.shared.claim_dial(addr, conn) {
        DialClaim::Held => return Err(DialError::AlreadyLinked(addr)),
        DialClaim::Free(claim) => Some(claim),
        DialClaim::HeldInbound => None,
    };
    // A failed attempt drops its claim, which frees the slot.
    let result = dial_claimed(addr, source, conn, claim, place, peer, local, net).await;
    if result.is_err() && !matches!(result, Err(DialError::Stopping)) {
        peer.shared
            .failed_handshakes
            .fetch_add(1, Ordering::Relaxed);
    }
    if let Err(DialError::Handshake {
        source: HandshakeError::Refused { try_hosts, .. },
        ..
    }) = &result
    {
        if !try_hosts.is_empty() {
            let hosts = PeerInput::Hosts {
                hosts: try_hosts.clone(),
                source: HostSource::XTry,
            };
            if peer.tx.send(hosts).await.is_err() {
                return Err(DialError::Stopping);
            }
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn dial_claimed(
    addr: SocketAddrV4,
    source: Ipv4Addr,
    conn: ConnId,
    claim: Option<SlotClaim>,
    place: Option<DegreePlace>,
    peer: &PeerRef,
    local: &LocalInfo,
    net: &NetConfig,
) -> Result<tokio::sync::oneshot::Receiver<()>, DialError> {
    let mut stream =
        match tokio::time::timeout(net.connect_timeout, connect_from(source, addr)).await {
            Err(_) => return Err(DialError::ConnectTimeout(addr)),
            Ok(Err(source)) => return Err(DialError::Connect { addr, source }),
            Ok(Ok(stream)) => stream,
        };
    let remote = stream.peer_addr().ok();
    let local = local
        .now(peer.shared.is_leaf_now())
        .on_socket(stream.local_addr().ok());
    // Our role's budget, now that the server said what it is (a leaf dials only
    // ultrapeers, and few).
    let shared = Arc::clone(&peer.shared);
    let tier = local.tier;
    let live_since = local.live_since;
    let (negotiated, leftover, (role_place, guidance)) =
        handshake::connect_checked(&mut stream, &local, remote, &net.handshake, |server| {
            let theirs = handshake::role_of(server);
            let place = shared
                .reserve_role(&tier, theirs)
                .map_err(handshake::role_rejection)?;
            // An `auto` ultrapeer without leaves becomes the leaf of an ultrapeer that
            // asks it to (X-Ultrapeer-Needed: False), as gtk-gnutella's auto mode does;
            // its other links close once this one is up. We are a leaf only from then
            // (the actor sets it): a failure before gives the claim back.
            let guidance = if theirs == Role::Ultrapeer
                && tier.takes_guidance(
                    server.ultrapeer_needed,
                    shared.role_counts().0,
                    server.live_since,
                    live_since,
                ) {
                shared.claim_guidance()
            } else {
                None
            };
            let guided = guidance.is_some();
            Ok(((place, guidance), guided))
        })
        .await
        .map_err(|source| DialError::Handshake { addr, source })?;
    // The configured address answered: the slot is ours, and whoever claimed it from
    // inside an inbound link goes.
    let (slot, displaced) = match claim {
        // Unless the remote's own dial to us won a simultaneous open meanwhile.
        Some(claim) if !peer.shared.settle_dial(&claim) => {
            log::debug!(
                "{}: dial reached {addr}, whose own dial to us holds the slot now",
                peer.name
            );
            return Err(DialError::AlreadyLinked(addr));
        }
        Some(claim) => (claim, None),
        None => peer
            .shared
            .take_over(addr, conn)
            .ok_or(DialError::AlreadyLinked(addr))?,
    };
    if let Some(old) = displaced {
        log::info!(
            "{}: dial reached {addr}; closing the inbound link that claimed it",
            peer.name
        );
        if peer
            .tx
            .send(PeerInput::Displace { conn: old })
            .await
            .is_err()
        {
            return Err(DialError::Stopping);
        }
    }
    let places = LinkPlaces {
        degree: place.unwrap_or_else(|| peer.shared.add_degree()),
        slot: Some(slot),
        role: role_place,
        guidance,
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
    let (down_tx, down_rx) = tokio::sync::oneshot::channel();
    let info = PeerInfo {
        listen_addr: Some(addr),
        accepts_bye: negotiated.remote.accepts_bye,
        servent_guid: negotiated.remote.servent_guid,
        role: handshake::role_of(&negotiated.remote),
        query_routing: handshake::takes_our_tables(
            &local.now(negotiated.became_leaf).tier,
            &negotiated.remote,
        ),
    };
    let up = PeerInput::LinkUp {
        conn,
        info,
        link: handle,
        down: Some(down_tx),
        origin: Box::new(LinkOrigin {
            outbound: true,
            negotiated,
        }),
        places,
    };
    if peer.tx.send(up).await.is_err() {
        return Err(DialError::Stopping);
    }
    let _ = go.send(());
    Ok(down_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_repeats_with_the_seed() {
        let net = NetConfig::default();
        let mut a = ChaCha8Rng::seed_from_u64(3);
        let mut b = ChaCha8Rng::seed_from_u64(3);
        let first = backoff(&net, 1, &mut a);
        assert!(first >= Duration::from_millis(50) && first < Duration::from_millis(150));
        assert_eq!(first, backoff(&net, 1, &mut b));
        let late = backoff(&net, 40, &mut a);
        assert!(late < net.backoff_max.mul_f64(1.5));
        assert!(late >= net.backoff_max.mul_f64(0.5));
    }

    #[test]
    fn a_dynamic_overlays_configured_link_is_dialled_until_it_was_up_or_keeps_failing() {
        assert!(Redial::Always.again(true, 0) && Redial::Always.again(false, 1000));
        assert!(Redial::UntilReplaced.again(false, GIVE_UP_AFTER - 1));
        assert!(!Redial::UntilReplaced.again(false, GIVE_UP_AFTER));
        assert!(
            !Redial::UntilReplaced.again(true, 0),
            "a link that came up and dropped is replaced, not redialled"
        );
    }
}
