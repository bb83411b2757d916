//! A living overlay over real sockets: peers that know only a bootstrap peer find each
//! other, keep their degree between the policy's bounds, heal when peers leave, and
//! point the handshakes they refuse at other hosts (`X-Try`).

mod live_support;

use std::collections::HashSet;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnutella::net::launch::{start_in_process, start_with_factory};
use gnutella::net::network::Network;
use gnutella::node::{HostEntry, HostSource};
use gnutella::protocol::handshake::{parse_response, Limits, Parsed, PeerCapabilities};
use gnutella::topology::TopologyConfig;
use live_support::peer_process::PeerProcess;
use live_support::{bounded, search, test_net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous bound on the overlay coming up (it takes a few seconds here).
const UP_WITHIN: Duration = Duration::from_secs(15);

/// `n` peers with no neighbours, all bootstrapping from p0; `files` at the given peers.
fn dynamic(n: usize, min: usize, max: usize, files: &[(usize, &str)]) -> TopologyConfig {
    let peers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut peer = serde_json::json!({"id": format!("p{i}"), "listen": "127.0.0.1:0"});
            let shared: Vec<serde_json::Value> = files
                .iter()
                .filter(|f| f.0 == i)
                .map(|f| serde_json::json!({"name": f.1, "size": 1000}))
                .collect();
            if !shared.is_empty() {
                peer["share"] = serde_json::json!({ "files": shared });
            }
            peer
        })
        .collect();
    let text = serde_json::json!({
        "name": format!("dynamic-{n}"),
        "defaults": {"ttl": 7, "max_ttl": 7, "seed": 11, "cache": {"mode": "off"}},
        "overlay": {"mode": "dynamic", "min_degree": min, "max_degree": max, "bootstrap": ["p0"]},
        "peers": peers,
    })
    .to_string();
    TopologyConfig::parse(&text).expect("test config is valid")
}

fn degrees(network: &Network) -> Vec<usize> {
    network
        .peers()
        .iter()
        .filter(|p| !p.is_stopped())
        .map(|p| p.peer.shared.linked().len())
        .collect()
}

/// Waits for the overlay while checking, every few milliseconds, that no peer ever holds
/// more than `max` links (the listener refuses past it, and dials take a place first).
async fn up_without_exceeding(network: &Network, max: usize) -> Duration {
    let started = Instant::now();
    let waiting = network.wait_overlay(UP_WITHIN);
    tokio::pin!(waiting);
    loop {
        tokio::select! {
            up = &mut waiting => {
                up.unwrap_or_else(|e| panic!("{e}; degrees {:?}", degrees(network)));
                break;
            }
            _ = tokio::time::sleep(Duration::from_millis(3)) => {
                for p in network.peers() {
                    let d = p.peer.shared.degree();
                    assert!(d <= max, "{} holds {d} link places, more than {max}", p.id);
                }
            }
        }
    }
    started.elapsed()
}

/// Whether every running peer is linked, over the links they hold, to every other one.
fn connected(network: &Network) -> bool {
    let alive: Vec<_> = network.peers().iter().filter(|p| !p.is_stopped()).collect();
    let Some(first) = alive.first() else {
        return true;
    };
    let mut seen = HashSet::from([first.listen]);
    let mut queue = vec![first.listen];
    while let Some(at) = queue.pop() {
        let Some(p) = alive.iter().find(|p| p.listen == at) else {
            continue;
        };
        for n in p.peer.shared.linked() {
            if seen.insert(n) {
                queue.push(n);
            }
        }
    }
    alive.iter().all(|p| seen.contains(&p.listen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_peers_from_one_bootstrap_reach_their_degree_and_a_search_reaches_everyone() {
    bounded("a dynamic overlay of 30", async {
        let config = dynamic(30, 3, 6, &[(17, "far-away-song.ogg")]);
        let mut network = start_in_process(Arc::new(config), test_net())
            .await
            .expect("network starts");
        let took = up_without_exceeding(&network, 6).await;
        eprintln!("30 peers at degree >= 3 after {took:?}");
        let d = degrees(&network);
        assert!(d.iter().all(|&d| (3..=6).contains(&d)), "degrees {d:?}");
        assert!(connected(&network), "one overlay, not islands");
        // Nobody configured a link: what carries the search is what the peers grew.
        let (record, _) = search(&network, 5, "far away song", 7).await;
        assert!(record.hits >= 1, "the only sharer answers: {record:?}");
        assert_eq!(record.peers_reached, 29, "TTL 7 reaches every other peer");
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_thirty_percent_of_the_peers_leave_the_others_get_back_to_their_degree() {
    bounded("healing after 30% leave", async {
        let config = dynamic(30, 3, 6, &[]);
        let (mut network, mut factory) = start_with_factory(Arc::new(config), test_net())
            .await
            .expect("network starts");
        up_without_exceeding(&network, 6).await;
        // The bootstrap peer goes too: the others heal from what they learnt. So does
        // every neighbour of one survivor (chosen from the overlay the peers grew), so
        // that the stop surely leaves someone short, whatever shape the overlay took.
        let (orphan, leaving) = leavers(&network, 9);
        let gone: HashSet<SocketAddrV4> =
            leaving.iter().map(|&i| network.peers()[i].listen).collect();
        // What the orphan learnt is all it has to heal from: its links came up a moment
        // ago, and it asked each for hosts then (Pongs). Wait until it knows one host that
        // stays; what that one's Pongs tell it must do the rest.
        knows_survivors(&network, orphan, &gone, 1).await;
        // Survivors the stop leaves below their minimum: they must dial replacements.
        let left_short = network
            .peers()
            .iter()
            .enumerate()
            .filter(|(i, _)| !leaving.contains(i))
            .filter(|(_, p)| {
                let linked = p.peer.shared.linked();
                linked.iter().filter(|n| !gone.contains(n)).count() < 3
            })
            .count();
        assert!(left_short > 0, "the stop leaves some survivor short");
        let stopped = Instant::now();
        for &i in &leaving {
            network.stop_peer(i).await;
        }
        // The survivors see the links go (a Bye, or the socket closing)...
        let stale = |network: &Network| -> Vec<(String, SocketAddrV4)> {
            network
                .peers()
                .iter()
                .filter(|p| !p.is_stopped())
                .flat_map(|p| {
                    let id = p.id.clone();
                    p.peer
                        .shared
                        .linked()
                        .into_iter()
                        .filter(|n| gone.contains(n))
                        .map(move |n| (id.clone(), n))
                })
                .collect()
        };
        while !stale(&network).is_empty() {
            assert!(
                stopped.elapsed() < UP_WITHIN,
                "links to stopped peers stay up: {:?}",
                stale(&network)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // ...and the ones left short dial others from their host caches.
        up_without_exceeding(&network, 6).await;
        eprintln!(
            "{left_short} of 21 survivors left short; all back at degree >= 3 {:?} after the stop",
            stopped.elapsed()
        );
        let d = degrees(&network);
        assert_eq!(d.len(), 21);
        assert!(d.iter().all(|&d| (3..=6).contains(&d)), "degrees {d:?}");
        assert!(stale(&network).is_empty());
        assert!(connected(&network), "the survivors form one overlay");

        // A stopped peer started again knows the hosts it knew (as a `gnutella peer`
        // reads back its hosts file), not just the bootstrap p0, which stays down.
        let own = network.peers()[3].listen;
        network
            .revive_peer(3, &mut factory)
            .await
            .expect("p3 starts again");
        let known = network.known_hosts(3).await.expect("p3 runs");
        let survivors_known = known
            .iter()
            .filter(|h| !gone.contains(&h.addr) && h.addr != own)
            .count();
        assert!(
            survivors_known >= 3,
            "p3 starts knowing survivors from its old host cache: {known:?}"
        );
        network.shutdown().await;
    })
    .await;
}

/// Waits until peer `index` knows at least `least` running hosts besides itself, its
/// neighbours and the `gone`.
async fn knows_survivors(
    network: &Network,
    index: usize,
    gone: &HashSet<SocketAddrV4>,
    least: usize,
) {
    let started = Instant::now();
    let own = network.peers()[index].listen;
    loop {
        let known = network.known_hosts(index).await.expect("the peer runs");
        let linked = network.peers()[index].peer.shared.linked();
        let spare = known
            .iter()
            .filter(|h| h.addr != own && !gone.contains(&h.addr) && !linked.contains(&h.addr))
            .count();
        if spare >= least {
            eprintln!("p{index} knows {spare} hosts that stay, besides its neighbours");
            return;
        }
        assert!(
            started.elapsed() < UP_WITHIN,
            "p{index} learnt only {spare} hosts that stay, besides its neighbours: {known:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `count` peers to stop: p0 (the bootstrap) and p3 (revived later), every neighbour of
/// one other peer, the orphan (which the stop then leaves with no link at all), then every
/// third peer (and any other, should those not be enough). Returns the orphan and the
/// peers to stop.
fn leavers(network: &Network, count: usize) -> (usize, Vec<usize>) {
    let peers = network.peers();
    let index_of = |addr: SocketAddrV4| peers.iter().position(|p| p.listen == addr);
    let mut leaving = vec![0, 3];
    let orphan = (1..peers.len())
        .filter(|i| !leaving.contains(i))
        .map(|i| {
            let around: Vec<usize> = peers[i]
                .peer
                .shared
                .linked()
                .into_iter()
                .filter_map(index_of)
                .collect();
            (i, around)
        })
        .find(|(_, around)| {
            around.iter().filter(|n| !leaving.contains(n)).count() + leaving.len() <= count
        });
    let (orphan, around) = orphan.expect("some peer has few enough neighbours");
    for n in around {
        if !leaving.contains(&n) {
            leaving.push(n);
        }
    }
    for i in (0..peers.len()).step_by(3).chain(0..peers.len()) {
        if leaving.len() < count && i != orphan && !leaving.contains(&i) {
            leaving.push(i);
        }
    }
    (orphan, leaving)
}

/// Sends a CONNECT claiming to listen at `claim` and returns the answer's status code and
/// the hosts it suggests.
async fn knock(at: SocketAddrV4, claim: &str) -> (u16, Vec<SocketAddrV4>) {
    let mut socket = tokio::net::TcpStream::connect(at).await.expect("connects");
    let hello = format!(
        "GNUTELLA CONNECT/0.6\r\nUser-Agent: test\r\nListen-IP: {claim}\r\nX-Ultrapeer: True\r\n\r\n"
    );
    socket.write_all(hello.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = socket.read(&mut chunk).await.expect("reads");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        if let Ok(Parsed::Done { value, .. }) = parse_response(&buf, &Limits::default()) {
            let text = String::from_utf8_lossy(&buf).to_string();
            assert!(
                value.is_ok() || value.headers.contains("X-Try-Ultrapeers") || value.code != 503,
                "a 503 names hosts in X-Try-Ultrapeers too: {text}"
            );
            return (
                value.code,
                PeerCapabilities::from_headers(&value.headers).try_hosts,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_peer_refuses_with_503_and_names_other_hosts_to_try() {
    bounded("503 with X-Try", async {
        // Three peers that want two links each: each is linked to both others, full.
        let config = dynamic(3, 2, 2, &[]);
        let mut network = start_in_process(Arc::new(config), test_net())
            .await
            .expect("network starts");
        up_without_exceeding(&network, 2).await;
        let p0 = network.peers()[0].listen;
        let others: HashSet<SocketAddrV4> = network.peers()[1..].iter().map(|p| p.listen).collect();
        // Give the actor a moment to publish its list after the last link came up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (code, hosts) = knock(p0, "127.0.0.1:1").await;
        assert_eq!(code, 503);
        assert!(!hosts.is_empty(), "a refusal names hosts to try");
        assert!(hosts.iter().all(|h| others.contains(h)), "{hosts:?}");
        assert!(!hosts.contains(&p0), "never itself");
        // It remembers who knocked: peers that all find one bootstrap full learn of each
        // other from its refusals.
        let first: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        let started = Instant::now();
        loop {
            let known = network.known_hosts(0).await.expect("p0 runs");
            let knocked = |h: &HostEntry| h.addr == first && h.source == HostSource::Knocked;
            if known.iter().any(knocked) {
                break;
            }
            assert!(started.elapsed() < UP_WITHIN, "{known:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        loop {
            let (code, hosts) = knock(p0, "127.0.0.1:2").await;
            assert_eq!(code, 503);
            assert!(
                !hosts.contains(&"127.0.0.1:2".parse().unwrap()),
                "{hosts:?}"
            );
            if hosts.contains(&first) {
                break;
            }
            assert!(
                started.elapsed() < UP_WITHIN,
                "the first knocker is never named: {hosts:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_rejoins_from_its_saved_host_cache_without_a_bootstrap() {
    bounded("a peer rejoins from its hosts file", async {
        let dir = tempfile::tempdir().unwrap();
        let (share_a, share_b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&share_a).unwrap();
        std::fs::create_dir(&share_b).unwrap();
        std::fs::write(share_b.join("bee-song.ogg"), b"buzz").unwrap();
        let (a_dir, b_dir) = (share_a.to_str().unwrap(), share_b.to_str().unwrap());
        let mut a = PeerProcess::start(&["--listen", "127.0.0.1:0", "--share", a_dir]);
        let a_addr = a.listening().await;
        let a_text = a_addr.to_string();
        let b_args = ["--listen", "127.0.0.1:0", "--share", b_dir];
        let mut b = PeerProcess::start(&[&b_args[..], &["--bootstrap", &a_text]].concat());
        b.listening().await;
        b.linked_to(a_addr).await;
        b.stop().await;
        // Beside the shared folder, named after it.
        let hosts = std::fs::read_to_string(dir.path().join("b.hosts")).expect("hosts file");
        assert!(
            hosts.starts_with('#'),
            "a header says what the columns are: {hosts}"
        );
        assert!(
            hosts
                .lines()
                .any(|l| l.starts_with(&format!("{a_text} 0 "))),
            "A is listed with no failures: {hosts}"
        );
        // The same command without --bootstrap: the saved file makes it dynamic, and it
        // dials A from there.
        let mut again = PeerProcess::start(&b_args);
        again
            .wait_for("the hosts read back", |l| {
                l.starts_with("read 1 hosts from").then_some(())
            })
            .await;
        again.linked_to(a_addr).await;
        again.stop().await;
        a.stop().await;
    })
    .await;
}
