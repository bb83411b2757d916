//! The two-tier network over sockets (issue 12): a leaf's handshake and QRP table as an
//! ultrapeer sees them on the wire, the role budgets' refusals, and the shipped
//! `two-tier-small` config, launched, whose searches succeed from a leaf and from an
//! ultrapeer while queries reach only the leaves whose tables match.

mod live_support;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::BytesMut;
use gnutella::net::handshake::{connect, HandshakeError, HandshakeLimits};
use gnutella::node::qrp_receiver::{QrpProgress, QrpReceiver};
use gnutella::node::{Event, Role};
use gnutella::protocol::{Frame, FrameDecoder, Payload};
use gnutella::topology::TopologyConfig;
use live_support::{as_role, bounded, search, shipped_on_ephemeral_ports, start};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn an_ultrapeer_receives_a_leafs_table_over_the_socket() {
    bounded("leaf table", async {
        let config = TopologyConfig::parse(
            r#"{"name": "one-leaf", "defaults": {"role": "leaf"},
                "peers": [{"id": "l", "listen": "127.0.0.1:0",
                  "share": {"files": [{"name": "ocean-waves.ogg", "size": 3000}]}}]}"#,
        )
        .unwrap();
        let mut network = start(config).await;
        let leaf = network.peers()[0].listen;

        // A leaf refuses another leaf with 503, before any link comes up.
        let mut other = TcpStream::connect(leaf).await.unwrap();
        let refused = connect(
            &mut other,
            &as_role(Role::Leaf, 9),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect_err("a leaf takes no leaf");
        assert!(
            matches!(&refused, HandshakeError::Refused { code: 503, .. }),
            "{refused}"
        );

        // As an ultrapeer: the leaf says X-Ultrapeer: False and sends its table.
        let mut up = TcpStream::connect(leaf).await.unwrap();
        let (negotiated, leftover) = connect(
            &mut up,
            &as_role(Role::Ultrapeer, 10),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect("the leaf takes an ultrapeer");
        assert_eq!(negotiated.remote.ultrapeer, Some(false));
        assert!(negotiated.remote.query_routing && negotiated.remote.ultrapeer_query_routing);
        assert_eq!(negotiated.remote.max_ttl, Some(7));
        assert_eq!(
            negotiated.remote.degree,
            Some(3),
            "X-Degree: the leaf's leaf_ultrapeers"
        );

        let mut decoder = FrameDecoder::new();
        let mut buf = leftover;
        let mut rx = QrpReceiver::new();
        let mut kinds = Vec::new();
        let table = loop {
            let mut complete = None;
            while let Some(frame) = decoder.decode(&mut buf).expect("a clean stream") {
                let Frame::Message(msg) = frame else { continue };
                if let Payload::RouteTableUpdate(update) = &msg.payload {
                    assert_eq!((msg.ttl, msg.hops), (1, 0));
                    kinds.push(update.clone());
                    if rx.apply(update) == Ok(QrpProgress::Complete) {
                        complete = rx.table().cloned();
                    }
                }
            }
            if let Some(table) = complete {
                break table;
            }
            let mut more = BytesMut::with_capacity(4096);
            let n = up.read_buf(&mut more).await.unwrap();
            assert!(n > 0, "the leaf closed before its table was complete");
            buf.extend_from_slice(&more);
        };
        assert!(matches!(
            kinds[0],
            gnutella::protocol::RouteTableUpdate::Reset { .. }
        ));
        assert!(table.contains_word("ocean") && table.contains_word("waves"));
        assert!(!table.contains_word("desert"));
        network.shutdown().await;
    })
    .await;
}

/// The peers among `among` that received the query of `events`.
fn reached(events: &[gnutella::net::peer::PeerEvent], among: &[u32]) -> Vec<u32> {
    let got: BTreeSet<u32> = events
        .iter()
        .filter(|e| matches!(e.event, Event::QueryReceived { .. }))
        .map(|e| e.peer)
        .filter(|p| among.contains(p))
        .collect();
    got.into_iter().collect()
}

#[tokio::test(flavor = "current_thread")]
async fn the_two_tier_config_finds_from_leaves_and_ultrapeers() {
    bounded("two-tier-small", async {
        let mut network = start(shipped_on_ephemeral_ports("two-tier-small.json")).await;
        // Tables travel right after the links come up: let them land.
        network
            .settle(Duration::from_millis(300), Duration::from_secs(10))
            .await;
        let index = |id: &str| network.peer_index(id).unwrap();
        let leaves: Vec<u32> = ["l0", "l1", "l2", "l3", "l4", "l5"]
            .iter()
            .map(|id| index(id) as u32)
            .collect();

        // From a leaf: only l4's table matches "forest birds".
        let (record, events) = search(&network, index("l3"), "forest birds", 3).await;
        assert!(record.success && record.hits >= 1, "{record:?}");
        assert_eq!(reached(&events, &leaves), [index("l4") as u32]);

        // From an ultrapeer: l1 holds it.
        let (record, events) = search(&network, index("u0"), "mountain echo", 3).await;
        assert!(record.success, "{record:?}");
        assert_eq!(reached(&events, &leaves), [index("l1") as u32]);

        // An ultrapeer's own share answers a leaf; a miss reaches no leaf at all.
        let (record, _) = search(&network, index("l3"), "ultrapeer readme", 3).await;
        assert!(record.success, "{record:?}");
        let (record, events) = search(&network, index("l3"), "zzyzx", 3).await;
        assert!(!record.success);
        assert!(reached(&events, &leaves).is_empty());
        network.shutdown().await;
    })
    .await;
}

/// Reads one handshake block of `parse` from a raw socket.
async fn read_block<T>(
    stream: &mut TcpStream,
    parse: fn(
        &[u8],
        &gnutella::protocol::handshake::Limits,
    ) -> Result<
        gnutella::protocol::handshake::Parsed<T>,
        gnutella::protocol::handshake::HandshakeError,
    >,
) -> (T, BytesMut) {
    use gnutella::protocol::handshake::{Limits, Parsed};
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Parsed::Done { consumed, value } = parse(&buf, &Limits::default()).unwrap() {
            let _ = buf.split_to(consumed);
            return (value, buf);
        }
        assert!(
            stream.read_buf(&mut buf).await.unwrap() > 0,
            "closed mid-block"
        );
    }
}

/// The next message on a plain (uncompressed) link.
async fn next_message(
    stream: &mut TcpStream,
    decoder: &mut FrameDecoder,
    buf: &mut BytesMut,
) -> gnutella::protocol::Message {
    loop {
        if let Some(Frame::Message(msg)) = decoder.decode(buf).expect("a clean stream") {
            return msg;
        }
        assert!(stream.read_buf(buf).await.unwrap() > 0, "the link closed");
    }
}

/// Leaf guidance (PROTOCOL.md §4.4; gtk-gnutella's `node_process_handshake_header`): an
/// `auto` peer without leaves that dials an ultrapeer answering `X-Ultrapeer-Needed:
/// False` and started before it (`X-Live-Since`) becomes its leaf: its final 200 says `X-Ultrapeer: False`, its other links
/// close with Bye 203, it sends the guiding ultrapeer its table, and from then on it
/// refuses leaves as a leaf does.
#[tokio::test]
async fn an_auto_peer_becomes_the_leaf_of_an_ultrapeer_that_asks() {
    use gnutella::protocol::handshake::{parse_request, parse_response};
    use live_support::peer_process::PeerProcess;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    bounded("leaf guidance", async {
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let guide = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let first_addr = first.local_addr().unwrap().to_string();
        let guide_addr = guide.local_addr().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ocean-waves.ogg"), b"waves").unwrap();
        let mut peer = PeerProcess::start(&[
            "--listen",
            "127.0.0.1:0",
            "--role",
            "auto",
            "--share",
            dir.path().to_str().unwrap(),
            "--connect",
            &first_addr,
            "--connect",
            &guide_addr,
        ]);
        let ours = peer.listening().await;

        // An ultrapeer that asks it to be its leaf but started after it (gtk-gnutella's
        // X-Live-Since) links with it as an ultrapeer: the peer up longer stays one.
        let (mut one, _) = first.accept().await.unwrap();
        let (hello, _) = read_block(&mut one, parse_request).await;
        assert_eq!(hello.headers.get("X-Ultrapeer"), Some("True"));
        let started = hello.headers.get("X-Live-Since").expect("X-Live-Since");
        let started = gnutella::protocol::live_since::parse(started).expect("an RFC 822 date");
        let younger = gnutella::protocol::live_since::format(started + 3600).unwrap();
        let answer = format!(
            "GNUTELLA/0.6 200 OK\r\nUser-Agent: up\r\nX-Ultrapeer: True\r\n\
             X-Ultrapeer-Needed: False\r\nX-Live-Since: {younger}\r\nBye-Packet: 0.1\r\n\r\n"
        );
        one.write_all(answer.as_bytes()).await.unwrap();
        let (fin, mut one_buf) = read_block(&mut one, parse_response).await;
        assert_eq!((fin.code, fin.headers.get("X-Ultrapeer")), (200, None));
        peer.linked_to(first_addr.parse().unwrap()).await;

        // An ultrapeer up for longer (gtk-gnutella's date format) that asks it to be
        // its leaf.
        let (mut two, _) = guide.accept().await.unwrap();
        let _ = read_block(&mut two, parse_request).await;
        two.write_all(
            b"GNUTELLA/0.6 200 OK\r\nUser-Agent: up\r\nX-Ultrapeer: True\r\n\
              X-Ultrapeer-Needed: False\r\nX-Live-Since: Mon, 01 Jan 2001 01:00:00 +0100\r\n\
              X-Query-Routing: 0.1\r\nBye-Packet: 0.1\r\n\r\n",
        )
        .await
        .unwrap();
        let (fin, mut two_buf) = read_block(&mut two, parse_response).await;
        assert_eq!(fin.code, 200);
        assert_eq!(fin.headers.get("X-Ultrapeer"), Some("False"), "{fin:?}");

        // The first link goes, with Bye 203.
        let mut decoder = FrameDecoder::new();
        let bye = loop {
            let msg = next_message(&mut one, &mut decoder, &mut one_buf).await;
            if let Payload::Bye(bye) = msg.payload {
                break bye;
            }
        };
        assert_eq!(
            (bye.code, bye.message.as_str()),
            (203, "Becoming a leaf node")
        );

        // The guide gets the new leaf's table.
        let mut decoder = FrameDecoder::new();
        let mut rx = QrpReceiver::new();
        let table = loop {
            let msg = next_message(&mut two, &mut decoder, &mut two_buf).await;
            if let Payload::RouteTableUpdate(update) = &msg.payload {
                if rx.apply(update) == Ok(QrpProgress::Complete) {
                    break rx.table().cloned().unwrap();
                }
            }
        };
        assert!(table.contains_word("ocean"));

        // It is a leaf now: it refuses a leaf, saying what it is.
        let mut other = TcpStream::connect(ours).await.unwrap();
        let refused = connect(
            &mut other,
            &as_role(Role::Leaf, 11),
            None,
            &HandshakeLimits::default(),
        )
        .await
        .expect_err("a leaf takes no leaf");
        assert!(
            matches!(&refused, HandshakeError::Refused { code: 503, reason, .. }
                if reason == "I am a shielded leaf node"),
            "{refused}"
        );
        peer.stop().await;
    })
    .await;
}
