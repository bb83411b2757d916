//! The live network over real loopback sockets: flooding counts, reverse-path hits,
//! TTL limits and a peer dying mid-run.

mod live_support;

use gnutella::node::Event;
use live_support::{bounded, ring, search, start};

// One thread runs ready tasks in FIFO order, so both directions of the ring advance
// in step, as on links of equal latency. (On a multi-threaded runtime one direction can
// race ahead; the node then re-forwards the later copy that has more TTL left, as
// gtk-gnutella does, and the count exceeds N+1.)
#[tokio::test(flavor = "current_thread")]
async fn ring_of_16_with_ttl_16_carries_17_queries_and_hits_go_to_the_origin_only() {
    bounded("ring test", async {
        let config = ring(16, 16, &[(8, "far-away-file.bin", 5000)]);
        let mut network = start(config).await;
        let (record, events) = search(&network, 0, "far away", 16).await;
        // Both directions around the ring, each copy stopping at the peer that already
        // saw it: 16 peers reached by 16 links, plus the one duplicate where they meet.
        assert_eq!(record.messages, 17, "{record:?}");
        assert_eq!(record.peers_reached, 15);
        assert_eq!(
            record.duplicates, 2,
            "the two copies meet: each side drops one"
        );
        assert!(record.success);
        assert_eq!(record.hits, 1);
        assert_eq!(record.first_hit_hops, Some(8));
        // The hit travels the reverse path, 8 links, and surfaces only at the origin.
        assert_eq!(record.hit_messages, 8);
        for e in &events {
            if let Event::HitReceived { .. } = e.event {
                assert_eq!(e.peer, 0, "a hit surfaced at a peer that did not search");
            }
        }
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_bounds_the_flood() {
    bounded("ttl test", async {
        let config = ring(
            10,
            7,
            &[(3, "three-hops.bin", 100), (7, "seven-back.bin", 100)],
        );
        let mut network = start(config).await;
        let (near, _) = search(&network, 0, "three hops", 3).await;
        assert!(near.success);
        assert_eq!(
            near.peers_reached, 6,
            "TTL 3 on a ring reaches 3 peers each way"
        );
        let (short, _) = search(&network, 0, "three hops", 2).await;
        assert!(
            !short.success,
            "a file 3 hops away is out of reach of TTL 2"
        );
        assert_eq!(short.peers_reached, 4);
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_peer_leaves_the_rest_answering() {
    bounded("kill test", async {
        // A ring: stopping one peer leaves a line, so everything is still reachable.
        let config = ring(8, 7, &[(4, "survivor.bin", 100), (2, "doomed.bin", 100)]);
        let mut network = start(config).await;
        let (before, _) = search(&network, 0, "survivor", 7).await;
        assert!(before.success);
        network.stop_peer(2).await;
        let (after, _) = search(&network, 0, "survivor", 7).await;
        assert!(after.success, "peers that are still up keep answering");
        assert_eq!(after.first_hit_hops, Some(4));
        let (gone, _) = search(&network, 0, "doomed", 7).await;
        assert!(!gone.success, "a stopped peer answers nothing");
        // Its former neighbours still answer searches from the far side.
        let (from_other_side, _) = search(&network, 3, "survivor", 7).await;
        assert!(from_other_side.success);
        network.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_links_are_kept_alive_by_pings() {
    bounded("keepalive test", async {
        use std::sync::Arc;
        use std::time::Duration;
        let mut net = live_support::test_net();
        // Readers give up after 600 ms of silence; actors ping links quiet for 200 ms.
        net.link.idle_timeout = Duration::from_millis(600);
        let config = ring(4, 7, &[(2, "kept.bin", 10)]);
        let mut network = gnutella::net::launch::start_in_process(Arc::new(config), net)
            .await
            .unwrap();
        network.wait_overlay(Duration::from_secs(10)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2000)).await;
        assert_eq!(
            network.missing_links(),
            0,
            "an idle but healthy link was dropped"
        );
        let (record, _) = search(&network, 0, "kept", 7).await;
        assert!(record.success);
        network.shutdown().await;
    })
    .await;
}
