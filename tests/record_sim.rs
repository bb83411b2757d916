//! Records folded from the real routing core, run by the simulator, meet the closed forms
//! a user can check by hand: reach of a TTL ball on a grid, no duplicates on a tree,
//! N+1 messages around a ring, hits reaching only the origin.

use gnutella::node::Time;
use gnutella::sim::{Links, Placement, PlannedQuery, SimConfig, SimFile, Simulation};
use gnutella::topology::GenSpec;

fn run(
    spec: &str,
    origin: u32,
    ttl: u8,
    placement: Placement,
    words: &str,
) -> gnutella::node::record::QueryRecord {
    let graph = GenSpec::parse(spec).unwrap().generate(1).unwrap();
    let mut config = SimConfig::default();
    config.routing.max_ttl = config.routing.max_ttl.max(ttl);
    let sim = Simulation::new(Links::from_graph(&graph), config, placement, 1);
    let query = PlannedQuery {
        at: Time::ZERO,
        origin,
        words: words.into(),
        sha1: None,
        ttl,
    };
    let mut report = sim.run(&[query]);
    assert_eq!(report.records.len(), 1);
    report.records.remove(0)
}

#[test]
fn a_ttl_t_flood_on_a_grid_reaches_the_manhattan_ball() {
    // 11x11 grid, origin in the middle (5,5): at least 3 cells from every edge.
    let centre = 5 + 5 * 11;
    for t in 1..=3u8 {
        let r = run(
            "grid:w=11,h=11",
            centre,
            t,
            Placement::new(),
            "nothing here",
        );
        let t = u64::from(t);
        assert_eq!(r.peers_reached, 2 * t * (t + 1), "TTL {t}");
        assert_eq!(r.origin.as_deref(), Some(centre.to_string().as_str()));
        assert!(!r.success);
        assert_eq!(r.hits, 0);
    }
}

#[test]
fn a_tree_carries_no_duplicates_and_a_ring_carries_n_plus_one() {
    let tree = run("tree:n=40,k=3", 0, 10, Placement::new(), "nothing");
    assert_eq!(tree.duplicates, 0);
    assert_eq!(tree.peers_reached, 39);
    assert_eq!(tree.messages, 39);

    let ring = run("ring:n=16", 0, 16, Placement::new(), "nothing");
    assert_eq!(ring.messages, 17);
    assert_eq!(ring.peers_reached, 15);
}

#[test]
fn hits_from_two_holders_reach_the_origin_with_their_hops() {
    // A line 0-1-2-3-4-5: holders at 2 and 5, searched from 0.
    let mut placement = Placement::new();
    placement.insert(2, vec![SimFile::named("amber-river-x0001.mp3", 1000)]);
    placement.insert(5, vec![SimFile::named("amber-river-x0001.mp3", 1000)]);
    let r = run("line:n=6", 0, 7, placement.clone(), "amber river");
    assert!(r.success);
    assert_eq!(r.hits, 2);
    assert_eq!(r.responders, 2);
    assert_eq!(r.first_hit_hops, Some(2));
    // Each hit travels its holder's distance back: 2 + 5 QueryHit descriptors.
    assert_eq!(r.hit_messages, 7);
    // With TTL 3 the far holder is out of reach.
    let near = run("line:n=6", 0, 3, placement, "amber river");
    assert_eq!(near.responders, 1);
}
