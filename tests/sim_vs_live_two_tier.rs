//! The simulator models the two-tier network faithfully too: a small config of
//! ultrapeers and leaves (roles in the config), launched over loopback TCP and simulated,
//! gives the same figures for the same search, QRP tables and all, because both worlds
//! drive the same `Node` and exchange the same RESET/PATCH messages.
//!
//! The live side waits for the ultrapeers' merged tables (`node::tier::MERGE_DELAY`)
//! before searching, as the simulator starts its searches after the table exchange.

mod live_support;

use std::time::Duration;

use gnutella::node::record::QueryRecord;
use gnutella::node::{RoleSetting, Time};
use gnutella::sim::{Latency, Links, PlannedQuery, SimConfig, Simulation};
use gnutella::topology::{synthetic_placement, Scenario, TopologyConfig};
use live_support::{bounded, config, search, start, PeerSpec};

/// Ultrapeers 0, 1, 2 in a triangle; leaves 3..=8 on one or two of them; the file on
/// leaves 6 and 8, a decoy word on leaf 4.
fn two_tier() -> TopologyConfig {
    let peers: Vec<PeerSpec<'_>> = vec![
        (vec![1, 2], vec![]),
        (vec![2], vec![("ultra-notes.txt", 500)]),
        (vec![], vec![]),
        (vec![0], vec![]),
        (vec![0, 1], vec![("decoy-harbour.txt", 300)]),
        (vec![1], vec![]),
        (vec![2], vec![("harbour-lights.mp3", 4000)]),
        (vec![0, 2], vec![]),
        (vec![1, 2], vec![("harbour-lights.mp3", 4000)]),
    ];
    let mut config = config("two-tier-9", 7, &peers);
    for (i, peer) in config.peers.iter_mut().enumerate() {
        peer.role = Some(if i < 3 {
            RoleSetting::Ultrapeer
        } else {
            RoleSetting::Leaf
        });
    }
    config
}

fn simulate(config: &TopologyConfig, origin: usize, words: &str, ttl: u8) -> QueryRecord {
    let scenario = Scenario::from_config(config);
    let sim = SimConfig {
        latency: Latency::Constant { micros: 1000 },
        ..SimConfig::default()
    };
    let mut simulation = Simulation::new(
        Links::from_graph(&scenario.graph),
        sim,
        synthetic_placement(config),
        scenario.seed,
    );
    simulation.set_peers(scenario.seed, scenario.routing());
    let query = PlannedQuery::new(Time::ZERO, origin as u32, words, ttl);
    let report = simulation.run(&[query]);
    report.records.into_iter().next().expect("the query ran")
}

async fn live(config: TopologyConfig, searches: &[(usize, &str, u8)]) -> Vec<QueryRecord> {
    let network = start(config).await;
    // Leaves send their tables at once; ultrapeers merge theirs 5 s later.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut records = Vec::new();
    for &(origin, words, ttl) in searches {
        records.push(search(&network, origin, words, ttl).await.0);
    }
    let mut network = network;
    network.shutdown().await;
    records
}

fn figures(r: &QueryRecord) -> (u64, u64, u64, u64, u64, Option<u8>, u64, bool) {
    (
        r.messages,
        r.peers_reached,
        r.duplicates,
        r.hits,
        r.responders,
        r.first_hit_hops,
        r.hit_messages,
        r.success,
    )
}

#[tokio::test(flavor = "current_thread")]
async fn a_two_tier_config_searches_alike_in_both_worlds() {
    let config = two_tier();
    let searches = [
        (3, "harbour lights", 4),
        (5, "harbour lights", 2),
        (0, "ultra notes", 3),
    ];
    let live = bounded("two-tier live network", live(config.clone(), &searches)).await;
    for (&(origin, words, ttl), live) in searches.iter().zip(&live) {
        let sim = simulate(&config, origin, words, ttl);
        assert_eq!(
            figures(&sim),
            figures(live),
            "p{origin} \"{words}\" ttl {ttl}: (messages, peers_reached, duplicates, hits, \
             responders, first_hit_hops, hit_messages, success) differ\nsim:  {sim:?}\nlive: {live:?}"
        );
        assert!(sim.success, "p{origin} finds \"{words}\"");
    }
}
