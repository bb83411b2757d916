//! Closed forms a flood must reproduce exactly, whatever the implementation: these pin the
//! simulator (and the routing core it drives) to arithmetic a user can check by hand.

use gnutella::node::Time;
use gnutella::sim::{Links, Placement, PlannedQuery, SimConfig, SimReport, Simulation};

fn ring(n: u32) -> Links {
    Links::from_edges(n, (0..n).map(|i| (i, (i + 1) % n)))
}

/// A complete k-ary tree with `n` nodes, node i's parent (i - 1) / k.
fn tree(n: u32, k: u32) -> Links {
    Links::from_edges(n, (1..n).map(|i| ((i - 1) / k, i)))
}

fn grid(w: u32, h: u32) -> Links {
    let id = |x: u32, y: u32| y * w + x;
    let mut edges = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if x + 1 < w {
                edges.push((id(x, y), id(x + 1, y)));
            }
            if y + 1 < h {
                edges.push((id(x, y), id(x, y + 1)));
            }
        }
    }
    Links::from_edges(w * h, edges)
}

fn flood_once(links: Links, origin: u32, ttl: u8, max_ttl: u8) -> SimReport {
    let mut config = SimConfig::default();
    config.routing.max_ttl = max_ttl;
    let query = PlannedQuery {
        at: Time::ZERO,
        origin,
        words: "nothing matches this".to_string(),
        sha1: None,
        ttl,
    };
    Simulation::new(links, config, Placement::new(), 7).run(&[query])
}

#[test]
fn ring_of_n_with_a_large_ttl_carries_n_plus_one_query_messages() {
    for n in [5u32, 12, 16, 31] {
        let ttl = 60;
        let report = flood_once(ring(n), 0, ttl, ttl);
        let r = &report.records[0];
        assert_eq!(r.messages, u64::from(n) + 1, "ring of {n}");
        assert_eq!(r.peers_reached, u64::from(n) - 1, "ring of {n}");
        // The two waves meet: one copy (odd n) or two (even n) arrive as duplicates.
        assert_eq!(r.duplicates, 2, "ring of {n}");
    }
}

#[test]
fn a_tree_carries_no_duplicates_and_reaches_everyone() {
    let (n, k) = (364u32, 3u32); // 1 + 3 + 9 + 27 + 81 + 243: depth 5
    let report = flood_once(tree(n, k), 0, 7, 7);
    let r = &report.records[0];
    assert_eq!(r.duplicates, 0);
    assert_eq!(r.peers_reached, u64::from(n) - 1);
    // Every peer but the leaves forwards to its children: one message per tree edge.
    assert_eq!(r.messages, u64::from(n) - 1);
    // From a leaf the flood climbs and descends: still no duplicates.
    let from_leaf = flood_once(tree(n, k), n - 1, 7, 7);
    assert_eq!(from_leaf.records[0].duplicates, 0);
}

#[test]
fn a_grid_flood_reaches_exactly_the_manhattan_ball() {
    for t in 1u8..=5 {
        let side = 2 * u32::from(t) + 5;
        let centre = (side / 2) * side + side / 2;
        let report = flood_once(grid(side, side), centre, t, 7);
        let t = u64::from(t);
        assert_eq!(report.records[0].peers_reached, 2 * t * (t + 1), "ttl {t}");
    }
}
