//! The simulator is a faithful model of the live network: for the same small topology
//! and the same query, the real network over loopback TCP and the simulator over
//! virtual links report the same flooding figures, because both drive the same `Node`.
//!
//! The live side runs on one thread, so ready tasks run in FIFO order and every link
//! behaves like a link of the same latency: the simulator's constant-latency model.
//! The same holds for a two-tier config (roles in the config): both worlds exchange the
//! same QRP tables as RESET/PATCH messages before the searches.

mod live_support;

use std::time::Duration;

use gnutella::node::record::QueryRecord;
use gnutella::node::{RoleSetting, Time};
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

/// Searches a launched config one after another, once the ultrapeers' merged QRP
/// tables are out (leaves send theirs at once, ultrapeers merge 5 s later).
async fn live_after_tables(
    config: TopologyConfig,
    searches: &[(usize, &str, u8)],
) -> Vec<QueryRecord> {
    let network = start(config).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let mut records = Vec::new();
    for &(origin, words, ttl) in searches {
        records.push(search(&network, origin, words, ttl).await.0);
    }
    let mut network = network;
    network.shutdown().await;
    records
}

#[tokio::test(flavor = "current_thread")]
async fn a_two_tier_config_searches_alike_in_both_worlds() {
    // Roles in the config; the simulator exchanges the QRP tables before its searches,
    // the live side waits for them (`live_after_tables`).
    let config = two_tier();
    let searches = [
        (3, "harbour lights", 4),
        (5, "harbour lights", 2),
        (0, "ultra notes", 3),
    ];
    let live = bounded(
        "two-tier live network",
        live_after_tables(config.clone(), &searches),
    )
    .await;
    for (&(origin, words, ttl), live) in searches.iter().zip(&live) {
        let sim = simulate(&config, origin, words, ttl);
        assert_same(
            &format!("two-tier p{origin} {words:?} ttl {ttl}"),
            &sim,
            live,
        );
        assert!(sim.success, "p{origin} finds {words:?}");
    }
}
