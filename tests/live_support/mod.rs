//! Helpers shared by the live-network tests: configs built in code, a network on
//! ephemeral loopback ports, and searches whose every event is collected.
#![allow(dead_code)]

pub mod launch_process;
pub mod peer_process;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::handshake::{HandshakeLimits, LocalInfo};
use gnutella::net::launch::start_in_process;
use gnutella::net::network::Network;
use gnutella::net::peer::PeerEvent;
use gnutella::net::NetConfig;
use gnutella::node::record::QueryRecord;
use gnutella::node::{Role, SearchRequest, TierPolicy};
use gnutella::protocol::Guid;
use gnutella::topology::TopologyConfig;

/// A client that says it is `role`, with the QRP headers of a two-tier peer and no
/// compression, listening (it says) on 127.0.0.1:`port`.
pub fn as_role(role: Role, port: u16) -> LocalInfo {
    LocalInfo {
        listen_addr: std::net::SocketAddrV4::new([127, 0, 0, 1].into(), port),
        max_ttl: 4,
        deflate: false,
        servent_guid: None,
        tier: TierPolicy {
            role: Some(role),
            max_leaves: 30,
            leaf_ultrapeers: 3,
            dynamic_querying: false,
            auto: false,
        },
        degree: 32,
        live_since: None,
    }
}

/// Every test body runs under this bound.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);

pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TEST_LIMIT, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {TEST_LIMIT:?}"),
    }
}

/// Loopback settings with short handshake limits, so hostile-client tests stay quick.
pub fn test_net() -> NetConfig {
    NetConfig {
        handshake: HandshakeLimits {
            timeout: Duration::from_millis(800),
            ..HandshakeLimits::default()
        },
        ..NetConfig::default()
    }
}

/// One peer of a test config: its neighbours (by position) and its synthetic files.
pub type PeerSpec<'a> = (Vec<usize>, Vec<(&'a str, u64)>);

/// A config from peers given as (neighbours, synthetic files) on ephemeral ports. The
/// result cache is off, so each search shows the flood itself.
pub fn config(name: &str, max_ttl: u8, peers: &[PeerSpec<'_>]) -> TopologyConfig {
    let peers: Vec<serde_json::Value> = peers
        .iter()
        .enumerate()
        .map(|(i, (neighbours, files))| {
            let files: Vec<serde_json::Value> = files
                .iter()
                .map(|(name, size)| serde_json::json!({"name": name, "size": size}))
                .collect();
            let mut peer = serde_json::json!({
                "id": format!("p{i}"),
                "listen": "127.0.0.1:0",
                "neighbours": neighbours.iter().map(|n| format!("p{n}")).collect::<Vec<_>>(),
            });
            if !files.is_empty() {
                peer["share"] = serde_json::json!({ "files": files });
            }
            peer
        })
        .collect();
    let text = serde_json::json!({
        "name": name,
        "defaults": {"ttl": 7, "max_ttl": max_ttl, "seed": 7, "cache": {"mode": "off"}},
        "peers": peers,
    })
    .to_string();
    TopologyConfig::parse(&text).expect("test config is valid")
}

/// A ring of `n` peers; `files` are placed at the given peers.
pub fn ring(n: usize, max_ttl: u8, files: &[(usize, &str, u64)]) -> TopologyConfig {
    let peers: Vec<PeerSpec<'_>> = (0..n)
        .map(|i| {
            let shared = files
                .iter()
                .filter(|f| f.0 == i)
                .map(|f| (f.1, f.2))
                .collect();
            (vec![(i + 1) % n], shared)
        })
        .collect();
    config(&format!("ring-{n}"), max_ttl, &peers)
}

/// Starts a config in this process and waits for its overlay.
pub async fn start(config: TopologyConfig) -> Network {
    let network = start_in_process(Arc::new(config), test_net())
        .await
        .expect("network starts");
    network
        .wait_overlay(Duration::from_secs(20))
        .await
        .expect("overlay comes up");
    network
}

/// A shipped config of `topology-configs/`, every port made 0 (ephemeral).
pub fn shipped_on_ephemeral_ports(file: &str) -> TopologyConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topology-configs")
        .join(file);
    let mut config = TopologyConfig::load(&path).unwrap_or_else(|e| panic!("{file} loads: {e}"));
    for peer in &mut config.peers {
        peer.listen.set_port(0);
    }
    config
}

/// Searches from `origin` and returns the query's record and every event of every peer
/// about it, once the network has settled.
pub async fn search(
    network: &Network,
    origin: usize,
    words: &str,
    ttl: u8,
) -> (QueryRecord, Vec<PeerEvent>) {
    let (tap, mut rx) = tokio::sync::mpsc::unbounded_channel();
    network.set_tap(tap);
    let guid = network
        .search(origin, SearchRequest::from_words(words, ttl))
        .await
        .expect("search starts");
    network
        .settle(Duration::from_millis(300), Duration::from_secs(10))
        .await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if guid_of(&e) == Some(guid) {
            events.push(e);
        }
    }
    let record = network
        .records()
        .await
        .into_iter()
        .find(|r| r.guid == guid.to_hex())
        .expect("the query has a record");
    (record, events)
}

fn guid_of(e: &PeerEvent) -> Option<Guid> {
    Some(e.event.guid())
}

/// Hop distances from `from` over the config's links.
pub fn distances(config: &TopologyConfig, from: usize) -> Vec<Option<usize>> {
    let n = config.peers.len();
    let mut adj = vec![Vec::new(); n];
    for (a, b) in config.links() {
        adj[a].push(b);
        adj[b].push(a);
    }
    let mut dist = vec![None; n];
    dist[from] = Some(0);
    let mut queue = VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        for &v in &adj[u] {
            if dist[v].is_none() {
                dist[v] = Some(dist[u].unwrap_or(0) + 1);
                queue.push_back(v);
            }
        }
    }
    dist
}
