//! The result cache between live peers over loopback TCP: cached answers keep their hops
//! and are marked, peers learn each other's servent GUID from the handshake, and no hit
//! is handed to the servent it names.

mod live_support;

use gnutella::node::Event;
use gnutella::protocol::kind;
use gnutella::topology::TopologyConfig;
use live_support::{bounded, search, start};

/// p0 - p1 - p2, every peer with its result cache on, the file at p2.
const LINE: &str = r#"{
  "name": "cache-line",
  "defaults": {"ttl": 7, "max_ttl": 7, "seed": 5, "cache": {"mode": "answer-and-forward"}},
  "peers": [
    {"id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1"]},
    {"id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"]},
    {"id": "p2", "listen": "127.0.0.1:0",
     "share": {"files": [{"name": "rare-recording.flac", "size": 4096}]}}
  ]
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_are_honest_between_live_peers() {
    bounded("live cache", async {
        let config = TopologyConfig::parse(LINE).expect("valid config");
        let mut network = start(config).await;

        let (first, _) = search(&network, 0, "rare recording", 7).await;
        assert!(first.success);
        assert_eq!(first.first_hit_hops, Some(2));

        // Again from p0: p1 answers from its cache. The answer left p1 with hops 1 (p2
        // was 1 hop from p1), so p0 sees it 1 hop away and labelled cached.
        let (again, events) = search(&network, 0, "rare recording", 7).await;
        assert!(again.answered_from_cache >= 1, "{again:?}");
        let cached: Vec<(u8, Option<u8>)> = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::HitReceived { hops, cached, .. } => Some((*hops, *cached)),
                _ => None,
            })
            .collect();
        assert!(cached.contains(&(1, Some(1))), "{cached:?}");
        assert!(cached.contains(&(2, None)), "p2's own answer: {cached:?}");

        // Now the holder asks. p1 knows p2's GUID from the handshake: it does not answer
        // p2 with p2's own hit, and drops p0's cached answer instead of routing it there.
        let (home, events) = search(&network, 2, "rare recording", 7).await;
        let p1_hits = events.iter().any(|e| {
            e.peer == 1 && matches!(e.event, Event::Sent { kind: k, .. } if k == kind::QUERY_HIT)
        });
        assert!(!p1_hits, "p1 sent p2 a hit naming p2");
        assert_eq!(home.hit_drops.get("back_to_holder"), Some(&1), "{home:?}");
        assert!(!home.success, "p2 holds the only copy: {home:?}");
        network.shutdown().await;
    })
    .await;
}
