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
