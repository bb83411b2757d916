//! Search strategies: expanding ring and random walkers against flooding.

mod node_support;

use gnutella::node::{CacheMode, Strategy};
use gnutella::protocol::kind;
use node_support::*;

#[test]
fn expanding_ring_stops_after_the_round_that_finds_a_hit() {
    let mut net = Net::new(10, |i| {
        config(
            i,
            Strategy::ExpandingRing { wait_ms: 500 },
            7,
            CacheMode::Off,
        )
    });
    line(&mut net);
    net.share(2, vec![file(1, "two hops away.txt")]);
    let guid = net.search(0, "two hops", 7);
    let t = net.tally(guid);
    // Round 1 (TTL 1): 0->1. Round 2 (TTL 2): 0->1, 1->2, which answers. No round 3.
    assert_eq!(t.messages, 3);
    assert_eq!(t.hits.len(), 1);
    assert_eq!(t.hits[0].1, 2);
    assert_eq!(t.reached.iter().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(
        t.duplicates, 0,
        "round 2 is forwarded by node 1, not dropped"
    );
    assert_eq!(net.nodes[0].poll_timeout(), None, "no round is pending");
    let ttls: Vec<u8> = net
        .delivered
        .iter()
        .filter(|(from, _, m)| *from == 0 && m.payload.kind() == kind::QUERY)
        .map(|(_, _, m)| m.ttl)
        .collect();
    assert_eq!(ttls, vec![1, 2]);
}

#[test]
fn expanding_ring_without_hits_grows_to_the_requested_ttl() {
    let mut net = Net::new(12, |i| {
        config(
            i,
            Strategy::ExpandingRing { wait_ms: 100 },
            7,
            CacheMode::Off,
        )
    });
    line(&mut net);
    let guid = net.search(0, "nothing matches", 7);
    let ttls: Vec<u8> = net
        .delivered
        .iter()
        .filter(|(from, _, m)| *from == 0 && m.guid == guid)
        .map(|(_, _, m)| m.ttl)
        .collect();
    assert_eq!(ttls, vec![1, 2, 4, 7]);
    let t = net.tally(guid);
    assert_eq!(
        t.messages,
        1 + 2 + 4 + 7,
        "each round floods its whole radius again"
    );
    assert_eq!(t.reached.len(), 7);
    assert!(
        net.now.0 >= 300_000,
        "three waits of 100 ms between four rounds"
    );
}

#[test]
fn random_walkers_use_far_fewer_messages_than_flooding_on_a_random_graph() {
    let n = 1000;
    let replicas = [17usize, 211, 333, 498, 640, 777, 901, 955, 123, 450];
    let build = |strategy: Strategy, max_ttl: u8| {
        let mut net = Net::new(n, |i| config(i, strategy, max_ttl, CacheMode::Off));
        random_graph(&mut net, 8, 5);
        for &r in &replicas {
            net.share(r, vec![file(1, "popular tune.mp3")]);
        }
        net
    };
    let origins = [0usize, 100, 250, 500, 750];
    let mut flood_messages = 0;
    let mut flood_found = 0;
    let mut walk_messages = 0;
    let mut walk_found = 0;
    for &o in &origins {
        let mut flood = build(Strategy::Flood, 7);
        let g = flood.search(o, "popular tune", 7);
        flood_messages += flood.tally(g).messages;
        flood_found += usize::from(!flood.tally(g).hits.is_empty());
        let mut walk = build(
            Strategy::RandomWalk {
                walkers: 16,
                check_every: 4,
            },
            255,
        );
        let g = walk.search(o, "popular tune", 255);
        let t = walk.tally(g);
        walk_messages += t.messages;
        walk_found += usize::from(!t.hits.is_empty());
        assert!(t.check_backs > 0, "walkers checked back with the origin");
    }
    eprintln!("flood: {flood_messages} messages, walkers: {walk_messages} messages");
    assert_eq!(flood_found, origins.len());
    assert_eq!(
        walk_found,
        origins.len(),
        "walkers find a file held by 1% of peers"
    );
    assert!(
        walk_messages * 5 < flood_messages,
        "walkers {walk_messages} messages vs flooding {flood_messages}"
    );
}

#[test]
fn walkers_go_to_distinct_neighbours_and_stop_when_the_origin_is_satisfied() {
    let mut net = Net::new(9, |i| {
        config(
            i,
            Strategy::RandomWalk {
                walkers: 3,
                check_every: 2,
            },
            255,
            CacheMode::Off,
        )
    });
    star(&mut net);
    // Every leaf has the file, so the first hop already finds it.
    for leaf in 1..9 {
        net.share(leaf, vec![file(1, "everywhere.txt")]);
    }
    let guid = net.search(0, "everywhere", 200);
    let first_hop: Vec<usize> = net
        .delivered
        .iter()
        .filter(|(f, _, m)| *f == 0 && m.guid == guid && m.hops == 0)
        .map(|(_, t, _)| *t)
        .collect();
    let mut distinct = first_hop.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(first_hop.len(), 3);
    assert_eq!(distinct.len(), 3);
    let t = net.tally(guid);
    assert_eq!(t.hits.len(), 3);
    // Each walker: leaf -> hub (hops 2, checks back, origin satisfied, stops).
    assert_eq!(t.messages, 3 + 3);
    assert_eq!(t.check_backs, 3);
}

#[test]
fn more_walkers_than_links_share_links_and_each_walks_the_full_length() {
    // A ring: every peer has 2 links, so 8 walkers start 4 to a link. Nothing matches, so
    // no walker stops early: each makes exactly `ttl` hops.
    let walkers_run = |walkers: u32| {
        let mut net = Net::new(64, |i| {
            config(
                i,
                Strategy::RandomWalk {
                    walkers,
                    check_every: 0,
                },
                255,
                CacheMode::Off,
            )
        });
        ring(&mut net);
        let guid = net.search(0, "nothing matches", 20);
        let first_hop: Vec<usize> = net
            .delivered
            .iter()
            .filter(|(f, _, m)| *f == 0 && m.guid == guid && m.hops == 0)
            .map(|(_, t, _)| *t)
            .collect();
        (first_hop, net.tally(guid).messages)
    };
    let (two, two_messages) = walkers_run(2);
    let (eight, eight_messages) = walkers_run(8);
    assert_eq!(two.len(), 2);
    assert_eq!(two_messages, 2 * 20);
    assert_eq!(eight.len(), 8, "all 8 walkers leave the degree-2 origin");
    for side in [1, 63] {
        assert_eq!(eight.iter().filter(|&&t| t == side).count(), 4);
    }
    assert_eq!(eight_messages, 8 * 20);
}

#[test]
fn more_walkers_reach_more_peers_on_a_low_degree_graph() {
    let reach = |walkers: u32| {
        let mut net = Net::new(500, |i| {
            config(
                i,
                Strategy::RandomWalk {
                    walkers,
                    check_every: 0,
                },
                255,
                CacheMode::Off,
            )
        });
        random_graph(&mut net, 3, 11);
        let guid = net.search(0, "nothing matches", 32);
        let t = net.tally(guid);
        (t.reached.len(), t.messages)
    };
    let (reach4, messages4) = reach(4);
    let (reach16, messages16) = reach(16);
    let (reach32, messages32) = reach(32);
    eprintln!("walk:4 {reach4}/{messages4}, walk:16 {reach16}/{messages16}, walk:32 {reach32}/{messages32}");
    assert_eq!(
        (messages4, messages16, messages32),
        (4 * 32, 16 * 32, 32 * 32)
    );
    assert!(reach4 < reach16 && reach16 < reach32);
}
