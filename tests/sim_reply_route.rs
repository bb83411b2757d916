//! A hit must get back even when the copy of the query its responder answered travelled a
//! shorter path than the first copy a relay saw: the relay's reverse route has to follow
//! the copy it actually forwarded, or the hit (whose TTL comes from the shorter hop count)
//! runs out of TTL on the longer way back.

use gnutella::node::Time;
use gnutella::sim::{Latency, Links, Placement, PlannedQuery, SimConfig, SimFile, Simulation};
use gnutella::topology::Graph;

#[test]
fn a_hit_follows_the_route_of_the_copy_that_reached_its_responder() {
    // 0 = origin, 4 = relay M, 5 = responder R (a leaf behind M).
    // Fast long way 0-1-2-3-4 (4 hops, 1 ms links) and a slow short link 0-4 (100 ms).
    // With TTL 4, M first hears the query at 4 hops with no TTL left (not forwarded),
    // then at 1 hop over the slow link with TTL 3, which it re-forwards to R. R answers
    // at 2 hops, so its hit has TTL 4: enough for R-M-0, not for R-M-3-2-1-0.
    let edges = [
        (0, 1, 1.0),
        (1, 2, 1.0),
        (2, 3, 1.0),
        (3, 4, 1.0),
        (0, 4, 100.0),
        (4, 5, 1.0),
    ];
    let graph = Graph::from_edges_with_latency(6, &edges);
    let mut config = SimConfig {
        latency: Latency::Topology { default: 1_000 },
        ..SimConfig::default()
    };
    config.routing.max_ttl = 4;
    let mut placement = Placement::new();
    placement.insert(5, vec![SimFile::named("needle in the haystack.txt", 1000)]);
    let sim = Simulation::new(Links::from_graph(&graph), config, placement, 1);
    let query = PlannedQuery {
        at: Time::ZERO,
        origin: 0,
        words: "needle haystack".into(),
        sha1: None,
        ttl: 4,
    };
    let report = sim.run(&[query]);
    let record = &report.records[0];
    assert_eq!(record.peers_reached, 5, "every peer is within 4 hops");
    assert_eq!(record.hits, 1, "the hit must reach the origin: {record:?}");
    assert_eq!(record.first_hit_hops, Some(2));
    assert!(record.success);
}
