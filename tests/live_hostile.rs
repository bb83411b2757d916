//! Hostile clients against a live peer: each loses only its own connection, and the
//! network keeps answering.

mod live_support;

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::from_config::ConfigFactory;
use gnutella::net::handshake::{connect, HandshakeError, HandshakeLimits, LocalInfo};
use gnutella::net::network::{bind_all, Network, RemoteLink};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;
use gnutella::node::Event;
use gnutella::protocol::{Guid, Message, Payload, Query};
use gnutella::topology::TopologyConfig;
use live_support::{bounded, config, search, start, test_net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Starts a config's peers in this process with links to peers elsewhere (`remote`).
async fn start_with(config: TopologyConfig, remote: Vec<RemoteLink>, net: NetConfig) -> Network {
    let config = Arc::new(config);
    let members = (0..config.peers.len()).collect();
    let mut factory = ConfigFactory::new(config.clone(), members).expect("config prepares");
    let mut plans = factory.plans();
    let listeners = bind_all(&mut plans).await.expect("binds");
    let names = plans.iter().map(|p| p.id.clone()).collect();
    Network::start(
        plans,
        listeners,
        config.links(),
        remote,
        &mut factory,
        net,
        Recorder::with_names(names),
    )
}

/// A raw client's word on who it is.
fn claiming(addr: &str) -> LocalInfo {
    LocalInfo {
        listen_addr: addr.parse().expect("address"),
        max_ttl: 7,
        deflate: false,
        servent_guid: None,
        tier: Default::default(),
        degree: 32,
        live_since: None,
    }
}

/// Waits (bounded) until `cond` holds.
async fn until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn neighbours_of(network: &Network, peer: usize) -> Vec<SocketAddrV4> {
    network.peers()[peer].peer.shared.linked()
}

/// Whether the remote has closed the connection (or has not, within `within`).
async fn still_open(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return true,
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(_)) => {}
        }
    }
}

/// Reads until the peer closes the connection; returns what it sent before closing.
/// Panics if it is still open after `within`.
async fn closed_by_peer(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("the peer kept a hostile connection open for {within:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn three_peers() -> gnutella::topology::TopologyConfig {
    config(
        "hostile",
        7,
        &[
            (vec![1], vec![]),
            (vec![2], vec![]),
            (vec![], vec![("still-here.bin", 1000)]),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_lose_only_their_own_connection() {
    bounded("hostile test", async {
        let mut network = start(three_peers()).await;
        let target: SocketAddrV4 = network.peers()[1].listen;

        // Garbage instead of a handshake: closed without an answer.
        let mut garbage = TcpStream::connect(target).await.unwrap();
        garbage.write_all(b"\x00\xffHELLO?\r\n\r\n").await.unwrap();
        assert!(closed_by_peer(&mut garbage, Duration::from_secs(3))
            .await
            .is_empty());

        // The 0.4 handshake is refused by closing, as gtk-gnutella and LimeWire do.
        let mut old = TcpStream::connect(target).await.unwrap();
        old.write_all(b"GNUTELLA CONNECT/0.4\n\n").await.unwrap();
        assert!(closed_by_peer(&mut old, Duration::from_secs(3))
            .await
            .is_empty());

        // A header line far above the limit: answered 413, then closed.
        let mut long = TcpStream::connect(target).await.unwrap();
        let mut request = b"GNUTELLA CONNECT/0.6\r\nX-Junk: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 5000));
        request.extend_from_slice(b"\r\n\r\n");
        long.write_all(&request).await.unwrap();
        let answer = closed_by_peer(&mut long, Duration::from_secs(3)).await;
        assert!(
            answer.starts_with(b"GNUTELLA/0.6 413"),
            "got {:?}",
            String::from_utf8_lossy(&answer)
        );

        // A handshake that stalls halfway is cut at the handshake timeout.
        let mut slow = TcpStream::connect(target).await.unwrap();
        slow.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Agent: slow")
            .await
            .unwrap();
        assert!(closed_by_peer(&mut slow, Duration::from_secs(5))
            .await
            .is_empty());

        // A proper handshake, then a descriptor claiming a 16 MiB payload: the stream
        // cannot be trusted any more, so that link (only) is closed.
        let mut liar = TcpStream::connect(target).await.unwrap();
        let me = LocalInfo {
            listen_addr: "127.0.0.1:9".parse().unwrap(),
            max_ttl: 7,
            deflate: false,
            servent_guid: None,
            tier: Default::default(),
            degree: 32,
            live_since: None,
        };
        connect(&mut liar, &me, None, &HandshakeLimits::default())
            .await
            .expect("handshake");
        let mut header = vec![0x11u8; 16];
        header.extend_from_slice(&[0x80, 7, 0]);
        header.extend_from_slice(&(16u32 << 20).to_le_bytes());
        liar.write_all(&header).await.unwrap();
        closed_by_peer(&mut liar, Duration::from_secs(3)).await;

        // A peer that sends an unknown descriptor type is only skipped: the link stays.
        let mut odd = TcpStream::connect(target).await.unwrap();
        let me = LocalInfo {
            listen_addr: "127.0.0.1:10".parse().unwrap(),
            max_ttl: 7,
            deflate: false,
            servent_guid: None,
            tier: Default::default(),
            degree: 32,
            live_since: None,
        };
        connect(&mut odd, &me, None, &HandshakeLimits::default())
            .await
            .expect("handshake");
        let mut frame = vec![0x22u8; 16];
        frame.extend_from_slice(&[0x77, 1, 0, 3, 0, 0, 0, 1, 2, 3]);
        odd.write_all(&frame).await.unwrap();

        // Through all of it the network answers.
        let (record, _) = search(&network, 0, "still here", 7).await;
        assert!(record.success, "the network stopped answering");
        assert_eq!(record.first_hit_hops, Some(2));
        let totals = network.totals();
        assert!(totals.bad_streams >= 1, "{totals:?}");
        assert!(totals.skipped_frames >= 1, "{totals:?}");
        assert!(totals.failed_handshakes >= 4, "{totals:?}");
        // The odd peer is a neighbour like any other: it even got the flooded query.
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(300), odd.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => panic!("a skipped frame must not cost the link"),
            Ok(Ok(_)) | Err(_) => {}
        }
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_claiming_a_neighbours_address_cannot_keep_it_from_linking() {
    bounded("impostor test", async {
        // The configured neighbour's port is held by a stand-in that closes every
        // connection, so our peer's dials fail until the real neighbour starts there.
        let stand_in = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let real: SocketAddrV4 = match stand_in.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("not IPv4: {other}"),
        };
        let refuser = tokio::spawn(async move {
            while let Ok((s, _)) = stand_in.accept().await {
                drop(s);
            }
        });
        let mut ours = start_with(
            config("dialler", 7, &[(vec![], vec![])]),
            vec![RemoteLink {
                local: 0,
                addr: real,
                dial: true,
            }],
            test_net(),
        )
        .await;
        let target = ours.peers()[0].listen;

        // A claim to an address that is not the socket's is not believed.
        let mut liar = TcpStream::connect(target).await.unwrap();
        connect(
            &mut liar,
            &claiming("10.9.8.7:6346"),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("the link itself is accepted");
        // The impostor says it is the configured neighbour, from the right IP: believed
        // for now, so it holds the slot. While our dialler is in the middle of a dial to
        // that address it holds the slot itself and the impostor gets 409 (on a loaded
        // machine a failing dial can take a while): it tries again, as a real client would.
        let give_up = std::time::Instant::now() + Duration::from_secs(20);
        let mut impostor = loop {
            let mut stream = TcpStream::connect(target).await.unwrap();
            match connect(
                &mut stream,
                &claiming(&real.to_string()),
                None,
                &HandshakeLimits::default(),
            )
            .await
            {
                Ok(_) => break stream,
                Err(HandshakeError::Refused { code: 409, .. })
                    if std::time::Instant::now() < give_up =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("handshake: {e}"),
            }
        };
        until("the impostor's link is up", Duration::from_secs(5), || {
            neighbours_of(&ours, 0).contains(&real)
        })
        .await;
        assert!(!neighbours_of(&ours, 0).contains(&"10.9.8.7:6346".parse().unwrap()));

        // The real neighbour comes up at its address: our dial reaches it and the
        // impostor's link is closed in its favour.
        refuser.abort();
        let _ = refuser.await;
        let mut theirs_config = config("real", 7, &[(vec![], vec![("the-real-one.bin", 1234)])]);
        theirs_config.peers[0].listen = real;
        let mut theirs = start_with(theirs_config, vec![], test_net()).await;
        closed_by_peer(&mut impostor, Duration::from_secs(20)).await;
        ours.wait_overlay(Duration::from_secs(20))
            .await
            .expect("the configured link comes up");
        let (record, _) = search(&ours, 0, "the real one", 7).await;
        assert!(
            record.success,
            "the real neighbour answers through the link"
        );
        assert!(still_open(&mut liar, Duration::from_millis(200)).await);
        ours.shutdown().await;
        theirs.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_listening_on_all_interfaces_advertises_the_address_it_is_reached_at() {
    bounded("0.0.0.0 test", async {
        let mut searcher = start_with(
            config("searcher", 7, &[(vec![], vec![])]),
            vec![],
            test_net(),
        )
        .await;
        let searcher_addr = searcher.peers()[0].listen;
        let mut wide_config = config("wide", 7, &[(vec![], vec![("everywhere.bin", 4321)])]);
        wide_config.peers[0].listen = "0.0.0.0:0".parse().unwrap();
        // The wide peer dials the searcher over loopback.
        let mut wide = start_with(
            wide_config,
            vec![RemoteLink {
                local: 0,
                addr: searcher_addr,
                dial: true,
            }],
            test_net(),
        )
        .await;
        let port = wide.peers()[0].listen.port();
        let reached_at = SocketAddrV4::new([127, 0, 0, 1].into(), port);
        wide.wait_overlay(Duration::from_secs(20))
            .await
            .expect("link up");
        until(
            "the searcher knows its neighbour",
            Duration::from_secs(5),
            || !neighbours_of(&searcher, 0).is_empty(),
        )
        .await;
        assert_eq!(
            neighbours_of(&searcher, 0),
            vec![reached_at],
            "the handshake gave the address the link runs over, not 0.0.0.0"
        );
        let (record, events) = search(&searcher, 0, "everywhere", 7).await;
        assert!(record.success);
        let hits: Vec<(std::net::Ipv4Addr, u16)> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::HitReceived { hit, .. } => Some((hit.ip, hit.port)),
                _ => None,
            })
            .collect();
        assert!(!hits.is_empty());
        for (ip, hit_port) in hits {
            assert_eq!(
                (ip, hit_port),
                (*reached_at.ip(), port),
                "a downloadable address"
            );
        }

        // A second machine running the same command is not taken for ourselves: its
        // unspecified claim means "the address you reach me at".
        let mut twin = TcpStream::connect(reached_at).await.unwrap();
        connect(
            &mut twin,
            &claiming(&format!("0.0.0.0:{}", port + 1)),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("not refused as self");
        let twin_addr = SocketAddrV4::new([127, 0, 0, 1].into(), port + 1);
        until(
            "the twin is known by its socket IP",
            Duration::from_secs(5),
            || neighbours_of(&wide, 0).contains(&twin_addr),
        )
        .await;
        searcher.shutdown().await;
        wide.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_peer_answers_503_and_keeps_its_links() {
    bounded("max links test", async {
        let net = NetConfig {
            max_links: 2,
            ..test_net()
        };
        let mut network = start_with(
            config(
                "full",
                7,
                &[(vec![1], vec![]), (vec![], vec![("kept.bin", 99)])],
            ),
            vec![],
            net,
        )
        .await;
        network
            .wait_overlay(Duration::from_secs(20))
            .await
            .expect("overlay");
        let target = network.peers()[1].listen;
        let first = network.peers()[0].listen;

        // Link 2 of 2.
        let mut second = TcpStream::connect(target).await.unwrap();
        connect(
            &mut second,
            &claiming("127.0.0.1:11"),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("a second link fits");
        until("the second link is up", Duration::from_secs(5), || {
            neighbours_of(&network, 1).len() == 2
        })
        .await;

        // A third handshake: 503, with neighbours to try instead, then closed.
        let mut third = TcpStream::connect(target).await.unwrap();
        third
            .write_all(
                b"GNUTELLA CONNECT/0.6\r\nUser-Agent: third\r\nListen-IP: 127.0.0.1:12\r\n\r\n",
            )
            .await
            .unwrap();
        let answer =
            String::from_utf8_lossy(&closed_by_peer(&mut third, Duration::from_secs(3)).await)
                .to_string();
        assert!(answer.starts_with("GNUTELLA/0.6 503"), "got {answer:?}");
        let tries = answer
            .lines()
            .find_map(|l| l.strip_prefix("X-Try-Ultrapeers:"))
            .unwrap_or_default();
        assert!(tries.contains(&first.to_string()), "got {answer:?}");
        let mut fourth = TcpStream::connect(target).await.unwrap();
        let refused = connect(
            &mut fourth,
            &claiming("127.0.0.1:13"),
            None,
            &HandshakeLimits::default(),
        )
        .await;
        assert!(
            matches!(refused, Err(HandshakeError::Refused { code: 503, .. })),
            "{refused:?}"
        );

        // The links we have keep working.
        let (record, _) = search(&network, 0, "kept", 7).await;
        assert!(record.success, "the existing link still answers");
        assert!(still_open(&mut second, Duration::from_millis(200)).await);
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_neighbour_that_stops_reading_is_dropped() {
    bounded("stalled reader test", async {
        let mut net = test_net();
        net.link.send_timeout = Duration::from_millis(500);
        let names: Vec<String> = (0..50)
            .map(|i| format!("flood-{i:03}-some-long-name.bin"))
            .collect();
        let files: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 1000)).collect();
        let mut network = start_with(
            config(
                "stall",
                7,
                &[(vec![1], files), (vec![], vec![("other.bin", 5)])],
            ),
            vec![],
            net,
        )
        .await;
        network
            .wait_overlay(Duration::from_secs(20))
            .await
            .expect("overlay");
        let target = network.peers()[0].listen;

        // A client with a tiny receive window that asks and asks and never reads.
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut sink = socket.connect(target.into()).await.unwrap();
        let claim: SocketAddrV4 = "127.0.0.1:14".parse().unwrap();
        connect(
            &mut sink,
            &claiming(&claim.to_string()),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("handshake");
        until("the sink is linked", Duration::from_secs(5), || {
            neighbours_of(&network, 0).contains(&claim)
        })
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        let mut n: u32 = 0;
        while neighbours_of(&network, 0).contains(&claim) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "a stalled neighbour was kept"
            );
            let mut batch = bytes::BytesMut::new();
            for _ in 0..100 {
                n += 1;
                let mut guid = [0x5au8; 16];
                guid[..4].copy_from_slice(&n.to_le_bytes());
                Message {
                    guid: Guid(guid),
                    ttl: 1,
                    hops: 0,
                    payload: Payload::Query(Arc::new(Query::keywords("flood"))),
                }
                .encode(&mut batch);
            }
            if sink.write_all(&batch).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        until(
            "the stalled neighbour is dropped",
            Duration::from_secs(10),
            || !neighbours_of(&network, 0).contains(&claim),
        )
        .await;
        let (record, _) = search(&network, 1, "flood", 7).await;
        assert!(record.success, "the others keep answering");
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pending_budget_closes_the_socket_idle_the_longest() {
    bounded("pending cap test", async {
        let net = NetConfig {
            max_pending: 2,
            handshake: HandshakeLimits {
                // Long, so the idle sockets below are still pending when the third comes.
                timeout: Duration::from_secs(30),
                ..HandshakeLimits::default()
            },
            first_line_timeout: Duration::from_secs(30),
            ..test_net()
        };
        let mut network = start_with(config("pending", 7, &[(vec![], vec![])]), vec![], net).await;
        let target = network.peers()[0].listen;
        let mut oldest = TcpStream::connect(target).await.unwrap();
        // Let the listener take them one after the other.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut newer = TcpStream::connect(target).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Both places are taken by sockets that said nothing: a newcomer still gets in,
        // and the socket idle the longest goes to make room.
        let mut late = TcpStream::connect(target).await.unwrap();
        connect(
            &mut late,
            &claiming("127.0.0.1:15"),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("a newcomer links while idle sockets hold every pending place");
        assert!(closed_by_peer(&mut oldest, Duration::from_secs(5))
            .await
            .is_empty());
        assert!(
            still_open(&mut newer, Duration::from_millis(100)).await,
            "only one idle socket had to go"
        );
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_cap_never_refuses_a_configured_neighbour() {
    bounded("hub test", async {
        let net = NetConfig {
            max_links: 2,
            ..test_net()
        };
        // Three leaves dial a hub with a cap of 2: all three are configured, all link.
        let mut network = start_with(
            config(
                "hub",
                7,
                &[
                    (vec![3], vec![]),
                    (vec![3], vec![]),
                    (vec![3], vec![]),
                    (vec![], vec![("at-the-hub.bin", 7)]),
                ],
            ),
            vec![],
            net,
        )
        .await;
        network
            .wait_overlay(Duration::from_secs(20))
            .await
            .expect("every configured link comes up");
        let (record, _) = search(&network, 2, "at the hub", 7).await;
        assert!(record.success);
        network.shutdown().await;
    })
    .await;
}
