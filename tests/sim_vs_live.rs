//! The simulator is a faithful model of the live network: for the same small topology
//! and the same query, the real network over loopback TCP and the simulator over
//! virtual links report the same flooding figures, because both drive the same `Node`.
//!
//! The live side runs on one thread, so ready tasks run in FIFO order and every link
//! behaves like a link of the same latency: the simulator's constant-latency model.

mod live_support;

use gnutella::node::record::QueryRecord;
use gnutella::node::Time;
use gnutella::sim::{Latency, Links, PlannedQuery, SimConfig, Simulation};
use gnutella::topology::{synthetic_placement, Scenario, TopologyConfig};
use live_support::{bounded, config, ring, search, start, PeerSpec};

fn simulate(config: &TopologyConfig, origin: usize, words: &str, ttl: u8) -> QueryRecord {
    // The same peers `launch` builds: the config's scenario (routing, identities).
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

async fn live(config: TopologyConfig, origin: usize, words: &str, ttl: u8) -> QueryRecord {
    let mut network = start(config).await;
    let (record, _) = search(&network, origin, words, ttl).await;
    network.shutdown().await;
    record
}

fn assert_same(what: &str, sim: &QueryRecord, live: &QueryRecord) {
    let figures = |r: &QueryRecord| {
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
    };
    assert_eq!(
        figures(sim),
        figures(live),
        "{what}: (messages, peers_reached, duplicates, hits, responders, first_hit_hops, \
         hit_messages, success) differ\nsim:  {sim:?}\nlive: {live:?}"
    );
}

async fn compare(what: &str, config: TopologyConfig, origin: usize, words: &str, ttl: u8) {
    let sim = simulate(&config, origin, words, ttl);
    let live = bounded(what, live(config, origin, words, ttl)).await;
    assert_same(what, &sim, &live);
}

#[tokio::test(flavor = "current_thread")]
async fn a_ring_floods_alike_in_both_worlds() {
    let config = ring(12, 12, &[(6, "opposite-side.bin", 4000)]);
    compare("ring of 12", config.clone(), 0, "opposite side", 12).await;
    compare("ring of 12, ttl 3", config, 0, "opposite side", 3).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_tree_and_a_grid_flood_alike_in_both_worlds() {
    // A binary tree of 15 peers, the file on two leaves.
    let tree: Vec<PeerSpec<'_>> = (0..15usize)
        .map(|i| {
            let children: Vec<usize> = [2 * i + 1, 2 * i + 2]
                .into_iter()
                .filter(|&c| c < 15)
                .collect();
            let files = if i == 11 || i == 14 {
                vec![("leafy-report.txt", 900)]
            } else {
                vec![]
            };
            (children, files)
        })
        .collect();
    compare("tree of 15", config("tree-15", 7, &tree), 0, "leafy", 7).await;
    compare(
        "tree of 15 from a leaf",
        config("tree-15", 7, &tree),
        7,
        "leafy",
        7,
    )
    .await;

    // A 4x4 grid (many equal-length paths, so many duplicates), a file in a corner.
    let grid: Vec<PeerSpec<'_>> = (0..16usize)
        .map(|i| {
            let (x, y) = (i % 4, i / 4);
            let mut right_down = Vec::new();
            if x + 1 < 4 {
                right_down.push(i + 1);
            }
            if y + 1 < 4 {
                right_down.push(i + 4);
            }
            let files = if i == 15 {
                vec![("corner-stone.dat", 700)]
            } else {
                vec![]
            };
            (right_down, files)
        })
        .collect();
    compare("grid 4x4", config("grid-4", 7, &grid), 0, "corner", 7).await;
    compare(
        "grid 4x4, ttl 3",
        config("grid-4", 7, &grid),
        5,
        "corner",
        3,
    )
    .await;
}
