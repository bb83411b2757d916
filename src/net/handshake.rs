//! The Gnutella 0.6 connect handshake over a socket (PROTOCOL.md §4): the 3-way exchange
//! from either side, under size and time limits.
//!
//! This is the I/O half; parsing and formatting are `protocol::handshake`'s pure functions.
//! A peer that sends an endless line, too many headers or nothing at all costs us one
//! bounded buffer and one timer, and loses only its own connection. Bytes read past the
//! final header block (the start of the binary stream) are handed back, never lost.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::node::{LinkRefusal, Role, TierPolicy};
use crate::protocol::handshake::{
    parse_request, parse_response, ConnectRequest, Headers, LocalCapabilities, Parsed,
    PeerCapabilities, Rejection, Response,
};
pub use crate::protocol::handshake::{Limits, USER_AGENT};
use crate::protocol::Guid;

/// Whether a remote takes our QRP tables (PROTOCOL.md §4.4, §6.2): as a leaf, an
/// ultrapeer that said `X-Query-Routing`; as an ultrapeer, another that said
/// `X-Ultrapeer-Query-Routing` (last-hop QRP). A flat peer sends none.
pub fn takes_our_tables(ours: &TierPolicy, remote: &PeerCapabilities) -> bool {
    let remote_up = role_of(remote) == Role::Ultrapeer;
    match ours.role {
        Some(Role::Leaf) => remote_up && remote.query_routing,
        Some(Role::Ultrapeer) => remote_up && remote.ultrapeer_query_routing,
        None => false,
    }
}

/// The 503 of a role budget (PROTOCOL.md §4.3: a leaf says it is one, an ultrapeer that
/// it has enough leaves).
pub fn role_rejection(why: LinkRefusal) -> Rejection {
    Rejection::Unavailable(match why {
        LinkRefusal::LeafToLeaf => "I am a shielded leaf node",
        LinkRefusal::EnoughUltrapeers => "Enough ultrapeers",
        LinkRefusal::LeavesFull => "Too many leaves",
    })
}

/// The role a remote's `X-Ultrapeer` header claims (PROTOCOL.md §4.4): a leaf only on
/// `False`; a peer that says nothing relays, so it counts as an ultrapeer.
pub fn role_of(remote: &PeerCapabilities) -> Role {
    match remote.ultrapeer {
        Some(false) => Role::Leaf,
        _ => Role::Ultrapeer,
    }
}

/// Limits on what a remote may send during the handshake, and how long it may take.
#[derive(Clone, Copy, Debug)]
pub struct HandshakeLimits {
    pub parse: Limits,
    /// The whole handshake must finish within this time (LimeWire: 8 s).
    pub timeout: Duration,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            parse: Limits::default(),
            timeout: Duration::from_secs(8),
        }
    }
}

/// Why a handshake failed; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("i/o error during handshake: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake timed out")]
    Timeout,
    #[error("connection closed during handshake")]
    Closed,
    #[error("bad handshake: {0}")]
    Protocol(#[from] crate::protocol::handshake::HandshakeError),
    #[error("refused by the remote: {code} {reason}")]
    Refused {
        code: u16,
        reason: String,
        /// Hosts its refusal suggested instead (`X-Try`, `X-Try-Ultrapeers`).
        try_hosts: Vec<SocketAddrV4>,
    },
    #[error("we refused the remote: {0:?}")]
    WeRefused(Rejection),
}

/// What we tell the remote about ourselves.
#[derive(Clone, Debug)]
pub struct LocalInfo {
    pub listen_addr: SocketAddrV4,
    pub max_ttl: u8,
    /// We offer to receive, and agree to send, a deflated stream.
    pub deflate: bool,
    /// Our servent GUID, sent as `GUID` (as gtk-gnutella does), so the remote knows which
    /// hits are our own.
    pub servent_guid: Option<Guid>,
    /// Our role and its budgets (`X-Ultrapeer`, the QRP headers, which links we take).
    pub tier: TierPolicy,
    /// `X-Degree`: the most links we keep with relays (a static peer's `max_links`, a
    /// dynamic one's `max_degree`, a leaf's `leaf_ultrapeers`); see [`LocalInfo::degree_of`].
    pub degree: u32,
    /// When this peer started (seconds since the Unix epoch, from the driver's wall
    /// clock), sent as `X-Live-Since`: an `auto` ultrapeer takes the leaf guidance of an
    /// ultrapeer only if it started earlier ([`TierPolicy::takes_guidance`]).
    pub live_since: Option<i64>,
}

impl LocalInfo {
    /// What we say once `became_leaf` (an `auto` ultrapeer that took leaf guidance,
    /// `PeerShared::became_leaf`): a leaf's role, budget and `X-Degree`.
    pub fn now(&self, became_leaf: bool) -> LocalInfo {
        let mut info = self.clone();
        if became_leaf && self.tier.role == Some(Role::Ultrapeer) {
            info.tier = self.tier.as_leaf();
            info.degree = LocalInfo::degree_of(&info.tier, 0);
        }
        info
    }

    /// What we say on one socket: listening on an unspecified address (0.0.0.0) says
    /// nothing a remote could dial, so we give the address this socket's remote reaches us
    /// at instead (and a second machine run with the same command is not taken for us).
    pub fn on_socket(&self, socket_local: Option<SocketAddr>) -> LocalInfo {
        let mut info = self.clone();
        if self.listen_addr.ip().is_unspecified() {
            if let Some(ip) = ipv4_of(socket_local) {
                if !ip.is_unspecified() {
                    info.listen_addr = SocketAddrV4::new(ip, self.listen_addr.port());
                }
            }
        }
        info
    }

    /// The honest `X-Degree` of a peer of policy `tier` whose relay links are capped at
    /// `link_cap`: a leaf holds at most `leaf_ultrapeers` links, any other peer
    /// `link_cap`. gtk-gnutella reads it as the "enforced outdegree" (`nodes.c`,
    /// `node_process_handshake_header`), and its leaves want at least 16 from an
    /// ultrapeer ([`crate::node::role::GTKG_LEAF_MIN_DEGREE`]).
    pub fn degree_of(tier: &TierPolicy, link_cap: usize) -> u32 {
        let links = match tier.role {
            Some(Role::Leaf) => tier.leaf_ultrapeers,
            _ => link_cap,
        };
        u32::try_from(links).unwrap_or(u32::MAX)
    }

    fn capabilities(&self) -> LocalCapabilities {
        LocalCapabilities {
            listen_addr: Some(self.listen_addr),
            max_ttl: self.max_ttl,
            degree: self.degree,
            accept_deflate: self.deflate,
            send_deflate: self.deflate,
            ggep: true,
            servent_guid: self.servent_guid,
            // A leaf says so; a flat peer relays, as an ultrapeer does.
            ultrapeer: self.tier.role != Some(Role::Leaf),
            // Both tiers exchange tables (gtk-gnutella sends both headers as a leaf too).
            query_routing: self.tier.role.is_some(),
            ultrapeer_query_routing: self.tier.role.is_some(),
            dynamic_querying: self.tier.dynamic_querying,
            live_since: self.live_since,
            ..LocalCapabilities::default()
        }
    }
}

/// What the handshake settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// What the remote said about itself (listening address, Bye support, ...).
    pub remote: PeerCapabilities,
    /// We deflate what we send.
    pub deflate_out: bool,
    /// The remote deflates what it sends.
    pub deflate_in: bool,
    /// We took the server's leaf guidance (`X-Ultrapeer-Needed: False`) and said
    /// `X-Ultrapeer: False` in our final 200: we are its leaf from now on.
    pub became_leaf: bool,
    /// Our side presented us as a leaf (`X-Ultrapeer: False`), guided or configured.
    pub as_leaf: bool,
}

/// Why `admit` turned a remote away, and headers to send with it (`X-Try-Ultrapeers`).
#[derive(Clone, Debug)]
pub struct Refusal {
    pub rejection: Rejection,
    pub headers: Headers,
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal {
            rejection,
            headers: Headers::new(),
        }
    }
}

/// A refusal as gtk-gnutella writes one (`send_error`): our own headers first
/// ([`LocalCapabilities::refusal_headers`]), then the caller's (`X-Try-Ultrapeers`).
fn refusal(
    ours: &LocalCapabilities,
    rejection: Rejection,
    extra: Headers,
    remote_ip: Option<Ipv4Addr>,
) -> Response {
    let mut headers = ours.refusal_headers(rejection.code(), remote_ip);
    for (name, value) in extra.iter() {
        headers.append(name, value);
    }
    Response::reject(rejection, headers)
}

fn ipv4_of(addr: Option<SocketAddr>) -> Option<Ipv4Addr> {
    match addr?.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<(), HandshakeError> {
    buf.reserve(1024);
    if stream.read_buf(buf).await? == 0 {
        return Err(HandshakeError::Closed);
    }
    Ok(())
}

/// Reads until `parse` completes a block; the block's bytes leave `buf`, the rest stays.
async fn read_parsed<S, T, P>(
    stream: &mut S,
    buf: &mut BytesMut,
    limits: &Limits,
    parse: P,
) -> Result<T, HandshakeError>
where
    S: AsyncRead + Unpin,
    P: Fn(&[u8], &Limits) -> Result<Parsed<T>, crate::protocol::handshake::HandshakeError>,
{
    loop {
        if !buf.is_empty() {
            if let Parsed::Done { consumed, value } = parse(buf, limits)? {
                let _ = buf.split_to(consumed.min(buf.len()));
                return Ok(value);
            }
        }
        fill(stream, buf).await?;
    }
}

/// Reads the first line only (to decide between Gnutella and HTTP); the line stays in `buf`.
pub async fn peek_first_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    limits: &HandshakeLimits,
) -> Result<String, HandshakeError> {
    let max = limits.parse.max_line_len;
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            if end > max + 1 {
                return Err(crate::protocol::handshake::HandshakeError::LineTooLong { max }.into());
            }
            let line = buf.get(..end).unwrap_or_default();
            return Ok(String::from_utf8_lossy(line)
                .trim_end_matches('\r')
                .to_string());
        }
        if buf.len() > max + 1 {
            return Err(crate::protocol::handshake::HandshakeError::LineTooLong { max }.into());
        }
        fill(stream, buf).await?;
    }
}

/// Whether a first line opens a Gnutella handshake of version 0.6 or later. 0.4 is not
/// answered, as gtk-gnutella and LimeWire do (PROTOCOL.md §4.6).
pub fn is_connect_06(first_line: &str) -> bool {
    let mut probe = first_line.as_bytes().to_vec();
    probe.extend_from_slice(b"\r\n\r\n");
    matches!(
        parse_request(&probe, &Limits::default()),
        Ok(Parsed::Done { .. })
    )
}

/// The client side: CONNECT, read the answer, send the final 200. Returns what was settled
/// and any bytes already read past the server's block.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
) -> Result<(Negotiated, BytesMut), HandshakeError> {
    let (negotiated, buf, ()) =
        connect_checked(stream, local, remote, limits, |_| Ok(((), false))).await?;
    Ok((negotiated, buf))
}

/// [`connect`], where `check` may still refuse the server after its answer (a leaf
/// reaching another leaf, or one ultrapeer too many): then our step 3 is that refusal
/// instead of 200. What `check` returns (a place it took) comes back with the result,
/// and whether we take the server's leaf guidance: our 200 then says `X-Ultrapeer:
/// False`, as gtk-gnutella's final acknowledgment does when it becomes a leaf.
pub async fn connect_checked<S, T, F>(
    stream: &mut S,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
    check: F,
) -> Result<(Negotiated, BytesMut, T), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&PeerCapabilities) -> Result<(T, bool), Rejection>,
{
    let work = async {
        let ours = local.capabilities();
        let remote_ip = ipv4_of(remote);
        let (answer, buf) = hello(stream, &ours, remote, limits).await?;
        let remote = PeerCapabilities::from_headers(&answer.headers);
        let (kept, became_leaf) = match check(&remote) {
            Ok(kept) => kept,
            Err(rejection) => {
                let no = refusal(&ours, rejection, Headers::new(), remote_ip);
                let _ = stream.write_all(&no.to_bytes()).await;
                return Err(HandshakeError::WeRefused(rejection));
            }
        };
        let mut fin = ours.final_headers(&answer.headers);
        if became_leaf {
            fin.append("X-Ultrapeer", "False");
        }
        stream.write_all(&Response::ok(fin).to_bytes()).await?;
        let negotiated = Negotiated {
            deflate_out: ours.compresses_to(&answer.headers),
            deflate_in: local.deflate && remote.sends_deflate,
            remote,
            became_leaf,
            as_leaf: became_leaf || local.tier.role == Some(Role::Leaf),
        };
        Ok((negotiated, buf, kept))
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

/// The client side of a probe: CONNECT, read the answer, then decline with
/// `decline` instead of the final 200, so the remote never brings a link up. Returns the
/// remote's accepting answer; a refusal is `Refused`, a non-Gnutella answer `Protocol`.
pub async fn probe<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
    decline: &Response,
) -> Result<Response, HandshakeError> {
    let work = async {
        let (answer, _) = hello(stream, &local.capabilities(), remote, limits).await?;
        let _ = stream.write_all(&decline.to_bytes()).await;
        Ok(answer)
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

/// The client's first two steps, shared by `connect` and `probe`: sends CONNECT and reads
/// the answer, which must accept us; returns it with any bytes read past it.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    ours: &LocalCapabilities,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
) -> Result<(Response, BytesMut), HandshakeError> {
    let hello = ConnectRequest::new(ours.connect_headers(ipv4_of(remote)));
    stream.write_all(&hello.to_bytes()).await?;
    let mut buf = BytesMut::with_capacity(2048);
    let answer = read_parsed(stream, &mut buf, &limits.parse, parse_response).await?;
    if !answer.is_ok() {
        return Err(HandshakeError::Refused {
            try_hosts: PeerCapabilities::from_headers(&answer.headers).try_hosts,
            code: answer.code,
            reason: answer.reason,
        });
    }
    Ok((answer, buf))
}

/// The server side; the first line (still in `buf`) said `GNUTELLA CONNECT/0.6`. Reads the
/// request, answers 200 unless `admit` refuses, reads the final 200. A malformed request
/// is answered with the matching rejection code before closing.
pub async fn accept<S, F>(
    stream: &mut S,
    buf: BytesMut,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
    admit: F,
) -> Result<(Negotiated, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&PeerCapabilities) -> Result<(), Refusal>,
{
    accept_with(stream, buf, local, remote, limits, |peer| {
        admit(peer).map(|()| Headers::new())
    })
    .await
}

/// [`accept`], where `admit` also gives headers to add to our 200 (`X-Try`).
pub async fn accept_with<S, F>(
    stream: &mut S,
    mut buf: BytesMut,
    local: &LocalInfo,
    remote: Option<SocketAddr>,
    limits: &HandshakeLimits,
    admit: F,
) -> Result<(Negotiated, BytesMut), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&PeerCapabilities) -> Result<Headers, Refusal>,
{
    let work = async {
        let ours = local.capabilities();
        let request = match read_parsed(stream, &mut buf, &limits.parse, parse_request).await {
            Ok(request) => request,
            Err(HandshakeError::Protocol(e)) => {
                let no = refusal(&ours, e.rejection(), Headers::new(), ipv4_of(remote));
                let _ = stream.write_all(&no.to_bytes()).await;
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        let peer = PeerCapabilities::from_headers(&request.headers);
        let extra = match admit(&peer) {
            Ok(extra) => extra,
            Err(why) => {
                let no = refusal(&ours, why.rejection, why.headers, ipv4_of(remote));
                stream.write_all(&no.to_bytes()).await?;
                return Err(HandshakeError::WeRefused(why.rejection));
            }
        };
        let mut headers = ours.accept_headers(&request.headers, ipv4_of(remote));
        for (name, value) in extra.iter() {
            headers.append(name, value);
        }
        let ok = Response::ok(headers);
        stream.write_all(&ok.to_bytes()).await?;
        let fin = read_parsed(stream, &mut buf, &limits.parse, parse_response).await?;
        if !fin.is_ok() {
            return Err(HandshakeError::Refused {
                try_hosts: PeerCapabilities::from_headers(&fin.headers).try_hosts,
                code: fin.code,
                reason: fin.reason,
            });
        }
        // An ultrapeer that took our leaf guidance says so in its final 200
        // (`X-Ultrapeer: False`, PROTOCOL.md §4.4): it is our leaf, whatever its hello said.
        let mut peer = peer;
        if fin.headers.get_bool("X-Ultrapeer") == Some(false) {
            peer.ultrapeer = Some(false);
        }
        let negotiated = Negotiated {
            deflate_out: ours.compresses_to(&request.headers),
            deflate_in: local.deflate && fin.headers.has_token("Content-Encoding", "deflate"),
            remote: peer,
            became_leaf: false,
            as_leaf: local.tier.role == Some(Role::Leaf),
        };
        Ok((negotiated, buf))
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| HandshakeError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16, deflate: bool) -> LocalInfo {
        LocalInfo {
            listen_addr: SocketAddrV4::new([127, 0, 0, 1].into(), port),
            max_ttl: 7,
            deflate,
            servent_guid: Some(Guid([port as u8; 16])),
            tier: TierPolicy::default(),
            degree: 32,
            live_since: None,
        }
    }

    #[tokio::test]
    async fn both_sides_agree_and_keep_trailing_bytes() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        let server = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let line = peek_first_line(&mut b, &mut buf, &limits).await.unwrap();
            assert!(is_connect_06(&line));
            let out = accept(&mut b, buf, &local(2, true), None, &limits, |_| Ok(()))
                .await
                .unwrap();
            (out, b)
        });
        let (client, _) = connect(&mut a, &local(1, true), None, &limits)
            .await
            .unwrap();
        a.write_all(b"\x01\x02").await.unwrap();
        let ((server, mut rest), mut b) = server.await.unwrap();
        while rest.len() < 2 {
            b.read_buf(&mut rest).await.unwrap();
        }
        assert_eq!(
            &rest[..],
            b"\x01\x02",
            "the binary stream after the handshake is kept"
        );
        assert_eq!(client.remote.listen_addr.map(|a| a.port()), Some(2));
        assert_eq!(server.remote.listen_addr.map(|a| a.port()), Some(1));
        assert!(client.deflate_out && client.deflate_in && server.deflate_in && server.deflate_out);
        assert!(client.remote.accepts_bye && server.remote.accepts_bye);
        assert_eq!(client.remote.servent_guid, Some(Guid([2; 16])));
        assert_eq!(server.remote.servent_guid, Some(Guid([1; 16])));
    }

    #[test]
    fn roles_say_so_and_only_two_tier_peers_offer_qrp() {
        let headers = |role: Option<Role>| {
            let info = LocalInfo {
                tier: TierPolicy {
                    role,
                    ..TierPolicy::default()
                },
                ..local(1, false)
            };
            info.capabilities().connect_headers(None)
        };
        let leaf = headers(Some(Role::Leaf));
        assert_eq!(leaf.get("X-Ultrapeer"), Some("False"));
        assert_eq!(leaf.get("X-Query-Routing"), Some("0.1"));
        assert_eq!(leaf.get("X-Ultrapeer-Query-Routing"), Some("0.1"));
        assert!(leaf.get("X-Degree").is_some() && leaf.get("X-Max-TTL").is_some());
        let up = headers(Some(Role::Ultrapeer));
        assert_eq!(up.get("X-Ultrapeer"), Some("True"));
        assert_eq!(up.get("X-Query-Routing"), Some("0.1"));
        let flat = headers(None);
        assert_eq!(flat.get("X-Ultrapeer"), Some("True"));
        assert_eq!(flat.get("X-Query-Routing"), None);
        assert_eq!(flat.get("X-Ultrapeer-Query-Routing"), None);
        // Dynamic querying is advertised only by a peer that runs it (strategy dq),
        // with the vendor messages it speaks.
        assert_eq!(up.get("X-Dynamic-Querying"), None);
        assert_eq!(up.get("Vendor-Message"), None);
        let dq = LocalInfo {
            tier: TierPolicy {
                role: Some(Role::Ultrapeer),
                dynamic_querying: true,
                ..TierPolicy::default()
            },
            ..local(1, false)
        }
        .capabilities()
        .connect_headers(None);
        assert_eq!(dq.get("X-Dynamic-Querying"), Some("0.1"));
        assert_eq!(dq.get("Vendor-Message"), Some("0.2"));
        let remote_dq = PeerCapabilities::from_headers(&dq);
        assert!(remote_dq.dynamic_querying && remote_dq.vendor_messages);

        let remote = PeerCapabilities::from_headers(&up);
        let as_leaf = TierPolicy {
            role: Some(Role::Leaf),
            ..TierPolicy::default()
        };
        assert_eq!(role_of(&remote), Role::Ultrapeer);
        assert!(takes_our_tables(&as_leaf, &remote));
        assert!(!takes_our_tables(&TierPolicy::default(), &remote));
        let remote_leaf = PeerCapabilities::from_headers(&leaf);
        assert_eq!(role_of(&remote_leaf), Role::Leaf);
        assert!(!takes_our_tables(&as_leaf, &remote_leaf));
    }

    #[tokio::test]
    async fn a_remote_that_takes_our_leaf_guidance_is_our_leaf() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        let up = |port| LocalInfo {
            tier: TierPolicy {
                role: Some(Role::Ultrapeer),
                ..TierPolicy::default()
            },
            ..local(port, false)
        };
        let server = tokio::spawn(async move {
            let mut buf = BytesMut::new();
            let _ = peek_first_line(&mut b, &mut buf, &limits).await.unwrap();
            accept_with(&mut b, buf, &up(2), None, &limits, |hello| {
                assert_eq!(role_of(hello), Role::Ultrapeer, "it says hello as one");
                let mut guidance = Headers::new();
                guidance.append("X-Ultrapeer-Needed", "False");
                Ok(guidance)
            })
            .await
            .unwrap()
        });
        let (client, _, ()) = connect_checked(&mut a, &up(1), None, &limits, |answer| {
            Ok(((), answer.ultrapeer_needed == Some(false)))
        })
        .await
        .unwrap();
        assert!(client.became_leaf && client.as_leaf);
        let (server, _) = server.await.unwrap();
        assert_eq!(
            role_of(&server.remote),
            Role::Leaf,
            "its final 200 said X-Ultrapeer: False"
        );
    }

    #[tokio::test]
    async fn endless_line_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(8192);
        a.write_all(&[b'A'; 2000]).await.unwrap();
        let mut buf = BytesMut::new();
        let err = peek_first_line(&mut b, &mut buf, &HandshakeLimits::default()).await;
        assert!(matches!(err, Err(HandshakeError::Protocol(_))));
    }

    #[tokio::test]
    async fn refusal_code_and_its_hosts_to_try_reach_the_client() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        let elsewhere: SocketAddrV4 = "10.1.2.3:6346".parse().unwrap();
        tokio::spawn(async move {
            let buf = BytesMut::new();
            let _ = accept(&mut b, buf, &local(2, false), None, &limits, |_| {
                Err(Refusal {
                    rejection: Rejection::Busy,
                    headers: crate::protocol::handshake::try_headers(&[elsewhere]),
                })
            })
            .await;
        });
        let err = connect(&mut a, &local(1, false), None, &limits).await;
        match err {
            Err(HandshakeError::Refused {
                code: 503,
                try_hosts,
                ..
            }) => assert_eq!(try_hosts, vec![elsewhere]),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn headers_admit_adds_reach_the_client_in_the_200() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let limits = HandshakeLimits::default();
        let elsewhere: SocketAddrV4 = "10.1.2.3:6346".parse().unwrap();
        tokio::spawn(async move {
            let buf = BytesMut::new();
            let _ = accept_with(&mut b, buf, &local(2, false), None, &limits, |_| {
                Ok(crate::protocol::handshake::try_headers(&[elsewhere]))
            })
            .await;
        });
        let (negotiated, _) = connect(&mut a, &local(1, false), None, &limits)
            .await
            .unwrap();
        assert_eq!(negotiated.remote.try_hosts, vec![elsewhere]);
    }

    #[test]
    fn versions() {
        assert!(is_connect_06("GNUTELLA CONNECT/0.6"));
        assert!(is_connect_06("GNUTELLA CONNECT/0.7"));
        assert!(!is_connect_06("GNUTELLA CONNECT/0.4"));
        assert!(!is_connect_06("GET / HTTP/1.1"));
    }
}
