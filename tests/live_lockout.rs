//! No client can lock a peer out: 500 sockets from one address that sit idle, stall
//! halfway through their first exchange, or hold HTTP keep-alive connections open
//! against a peer do not keep a new searcher from searching through it, nor a
//! downloader from asking it for a file (issue 8: 64 such sockets used to refuse
//! everyone for as long as they stayed).

mod live_support;

use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::handshake::HandshakeLimits;
use gnutella::net::launch::start_in_process;
use gnutella::net::network::Network;
use gnutella::net::NetConfig;
use live_support::{bounded, config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::Command;

const HOSTILE: usize = 500;
/// The hostile client's address; the searcher and the downloader come from 127.0.0.1.
const HOSTILE_IP: [u8; 4] = [127, 0, 0, 2];

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Connect and say nothing.
    Idle,
    /// Start a first line, a handshake or an HTTP head, and stall.
    HalfOpen,
    /// One HEAD, answered, then the connection is kept open.
    KeepAlive,
}

/// A peer that shares `here.bin`, linked to one that shares `wanted.bin`: a search
/// through the first finds the file on the second. Timeouts are long, so hostile
/// sockets stay for the whole test unless the peer closes them to make room: getting in
/// must not depend on waiting them out.
async fn network() -> (Network, SocketAddrV4) {
    let cfg = config(
        "lockout",
        7,
        &[
            (vec![1], vec![("here.bin", 1000)]),
            (vec![], vec![("wanted.bin", 4096)]),
        ],
    );
    let net = NetConfig {
        handshake: HandshakeLimits {
            timeout: Duration::from_secs(120),
            ..HandshakeLimits::default()
        },
        first_line_timeout: Duration::from_secs(120),
        ..NetConfig::default()
    };
    let network = start_in_process(Arc::new(cfg), net)
        .await
        .expect("network starts");
    network
        .wait_overlay(Duration::from_secs(20))
        .await
        .expect("overlay comes up");
    let target = network.peers()[0].listen;
    (network, target)
}

async fn connect_from(ip: [u8; 4], to: SocketAddrV4) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::from(ip), 0))?;
    socket.connect(to.into()).await
}

/// Reads one HTTP answer head (or `None` if the connection ends first).
async fn answer_head(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

const HEAD_UNKNOWN: &[u8] =
    b"HEAD /uri-res/N2R?urn:sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\n\r\n";

/// Opens `HOSTILE` sockets of one kind from `HOSTILE_IP`, one after the other.
async fn open_hostile(kind: Kind, to: SocketAddrV4) -> Vec<TcpStream> {
    let mut sockets = Vec::with_capacity(HOSTILE);
    for i in 0..HOSTILE {
        let mut s = connect_from(HOSTILE_IP, to).await.expect("connects");
        match kind {
            Kind::Idle => {}
            Kind::HalfOpen => {
                let half: &[u8] = match i % 3 {
                    0 => b"GNUTELLA CONN",
                    1 => b"GNUTELLA CONNECT/0.6\r\nUser-Agent: stal",
                    _ => b"GET /get/0/here.bin HTTP/1.1\r\nRange: by",
                };
                // The peer may already have closed it to make room: that is fine.
                let _ = s.write_all(half).await;
            }
            Kind::KeepAlive => {
                s.write_all(HEAD_UNKNOWN).await.expect("sends a HEAD");
                let answer = answer_head(&mut s).await.expect("the HEAD is answered");
                assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
                assert!(answer.contains("Connection: Keep-Alive"), "{answer}");
            }
        }
        sockets.push(s);
    }
    sockets
}

/// How many of `sockets` the peer has closed (a short look at each).
async fn closed_by_peer(sockets: &mut [TcpStream]) -> usize {
    let mut closed = 0;
    let mut buf = [0u8; 1024];
    for s in sockets {
        loop {
            match tokio::time::timeout(Duration::from_millis(2), s.read(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    closed
}

/// `gnutella search wanted --via TARGET`, as a user runs it.
async fn search_through(target: SocketAddrV4) -> serde_json::Value {
    let child = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(["search", "wanted", "--via", &target.to_string()])
        .args(["--wait", "1", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the search finishes")
        .expect("output");
    assert!(
        out.status.success(),
        "the search failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// A downloader's first request: HEAD for the peer's file.
async fn head_here(target: SocketAddrV4) -> String {
    let mut s = TcpStream::connect(target).await.expect("connects");
    s.write_all(b"HEAD /get/0/here.bin HTTP/1.1\r\n\r\n")
        .await
        .expect("sends");
    answer_head(&mut s).await.expect("answered")
}

async fn a_fresh_search_succeeds_while(kind: Kind) {
    bounded(&format!("lock-out test ({kind:?})"), async {
        let (mut network, target) = network().await;
        let mut hostile = open_hostile(kind, target).await;
        let json = search_through(target).await;
        let record = &json["queries"][0];
        assert_eq!(record["success"], true, "{json}");
        assert_eq!(record["hits"], 1, "{json}");
        let head = head_here(target).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        // The hostile client lost its own sockets, not everyone else's: the peer keeps
        // no more from one address than its per-address caps.
        let net = NetConfig::default();
        let kept = net.max_pending_per_ip + net.max_http_per_ip;
        let closed = closed_by_peer(&mut hostile).await;
        assert!(
            closed >= HOSTILE - kept,
            "only {closed} of {HOSTILE} closed"
        );
        drop(hostile);
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_gets_through_500_idle_sockets() {
    a_fresh_search_succeeds_while(Kind::Idle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_gets_through_500_half_open_sockets() {
    a_fresh_search_succeeds_while(Kind::HalfOpen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_gets_through_500_keep_alive_connections() {
    a_fresh_search_succeeds_while(Kind::KeepAlive).await;
}

/// A peer with one HTTP place and a large file, for the two tests below.
async fn one_http_place() -> (Network, SocketAddrV4) {
    let cfg = config("one-place", 7, &[(vec![], vec![("large.bin", 32 << 20)])]);
    let net = NetConfig {
        max_http: 1,
        ..NetConfig::default()
    };
    let network = start_in_process(Arc::new(cfg), net)
        .await
        .expect("network starts");
    let target = network.peers()[0].listen;
    (network, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_gives_its_place_to_a_newcomer() {
    bounded("keep-alive eviction test", async {
        let (mut network, target) = one_http_place().await;
        let mut waiting = connect_from(HOSTILE_IP, target).await.unwrap();
        waiting.write_all(HEAD_UNKNOWN).await.unwrap();
        assert!(answer_head(&mut waiting).await.is_some());
        // The only place is held by a connection idle between requests: a newcomer
        // takes it, and the idle one is closed.
        let mut newcomer = TcpStream::connect(target).await.unwrap();
        newcomer
            .write_all(b"HEAD /get/0/large.bin HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let answer = answer_head(&mut newcomer).await.expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(10), waiting.read_to_end(&mut rest))
            .await
            .expect("the idle connection is closed");
        assert!(closed.is_ok() && rest.is_empty(), "{rest:?}");
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_finding_every_http_place_busy_is_answered_503() {
    bounded("busy HTTP test", async {
        let (mut network, target) = one_http_place().await;
        // A download the client does not read: its place stays busy sending.
        let mut busy = connect_from(HOSTILE_IP, target).await.unwrap();
        busy.write_all(b"GET /get/0/large.bin HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let head = answer_head(&mut busy).await.expect("the download starts");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut newcomer = TcpStream::connect(target).await.unwrap();
        newcomer
            .write_all(b"HEAD /get/0/large.bin HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let answer = answer_head(&mut newcomer).await.expect("answered");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("Retry-After:"), "{answer}");
        drop(busy);
        network.shutdown().await;
    })
    .await;
}
