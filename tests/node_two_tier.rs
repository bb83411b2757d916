//! The two-tier network in memory (issue 12): leaves publish QRP tables to their
//! ultrapeers and never relay; ultrapeers flood among themselves and hand a query to a
//! leaf only when its table matches (also when the TTL ran out there); last-hop QRP
//! between ultrapeers; the leaf and ultrapeer budgets.

mod node_support;

use gnutella::node::{
    ConnId, Library, LinkRefusal, PeerInfo, Role, RoleSetting, RoutingConfig, SharedFile,
};
use gnutella::protocol::{kind, Guid, Message, Payload, Query, RouteTableUpdate};
use node_support::*;
use std::sync::Arc;

/// Ultrapeers u0 - u1 - u2 in a line; leaf 3 under u0 (the searcher, nothing shared),
/// leaf 4 under u1 ("blue ocean"), leaf 5 under u2 ("red desert"), leaf 6 under u1
/// (nothing shared).
const LEAVES: [(usize, usize); 4] = [(3, 0), (4, 1), (5, 2), (6, 1)];

fn config_of(i: usize) -> RoutingConfig {
    RoutingConfig {
        role: Some(if i < 3 {
            RoleSetting::Ultrapeer
        } else {
            RoleSetting::Leaf
        }),
        ..RoutingConfig::default()
    }
}

fn role_of(net: &Net, i: usize) -> Role {
    net.nodes[i].role().unwrap_or(Role::Ultrapeer)
}

/// Links `a` and `b` as a two-tier driver does: each learns the other's role, and both
/// exchange QRP tables.
fn link(net: &mut Net, a: usize, b: usize) {
    let now = net.now;
    for (x, y) in [(a, b), (b, a)] {
        let info = PeerInfo {
            role: role_of(net, y),
            query_routing: true,
            ..said(y)
        };
        net.nodes[x].on_connected(now, ConnId(y as u32), info);
    }
}

fn two_tier() -> Net {
    let mut net = Net::new(7, config_of);
    net.share(4, vec![file(0, "blue ocean.mp3")]);
    net.share(5, vec![file(0, "red desert.ogg")]);
    link(&mut net, 0, 1);
    link(&mut net, 1, 2);
    for (leaf, up) in LEAVES {
        link(&mut net, leaf, up);
    }
    // Delivers the tables, and the ultrapeers' merged tables once due.
    net.run();
    net
}

fn table_updates(net: &Net, from: usize, to: usize) -> Vec<RouteTableUpdate> {
    net.delivered
        .iter()
        .filter(|(f, t, _)| (*f, *t) == (from, to))
        .filter_map(|(_, _, m)| match &m.payload {
            Payload::RouteTableUpdate(u) => Some(u.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_leaf_sends_its_table_and_its_ultrapeer_keeps_it() {
    let net = two_tier();
    let updates = table_updates(&net, 4, 1);
    // RESET, then one compressed 4-bit PATCH sequence, numbered from 1.
    assert!(
        matches!(updates[0], RouteTableUpdate::Reset { table_len, infinity: 7 } if table_len == 1 << 17),
        "{updates:?}"
    );
    let patches: Vec<_> = updates[1..]
        .iter()
        .map(|u| match u {
            RouteTableUpdate::Patch(p) => (p.seq_no, p.seq_size, p.compressor, p.entry_bits),
            other => panic!("not a patch: {other:?}"),
        })
        .collect();
    assert_eq!(patches, [(1, 1, 1, 4)]);
    let table = net.nodes[1].neighbour_qrp_table(ConnId(4)).expect("table");
    assert!(table.contains_word("ocean") && table.contains_word("blue"));
    assert!(!table.contains_word("desert"));
    // Leaves send nothing to each other, ultrapeers nothing to their leaves.
    assert!(table_updates(&net, 1, 4).is_empty());
    // Ultrapeers send each other a table merged from their leaves' (last-hop QRP).
    let merged = net.nodes[0].neighbour_qrp_table(ConnId(1)).expect("merged");
    assert!(merged.contains_word("ocean") && !merged.contains_word("desert"));
    let merged = net.nodes[1].neighbour_qrp_table(ConnId(2)).expect("merged");
    assert!(merged.contains_word("desert"));
}

#[test]
fn a_query_reaches_only_the_leaves_whose_tables_match() {
    let mut net = two_tier();
    let guid = net.search(3, "ocean", 4);
    let t = net.tally(guid);
    assert!(t.reached.contains(&4), "{:?}", t.reached);
    assert!(!t.reached.contains(&6) && !t.reached.contains(&5));
    assert_eq!(t.hits.len(), 1);
    assert_eq!(t.hits[0].0, 3);

    let guid = net.search(3, "desert", 4);
    let t = net.tally(guid);
    assert!(t.reached.contains(&5) && !t.reached.contains(&4));
    assert_eq!(t.hits.len(), 1);

    let guid = net.search(3, "jazz", 4);
    let t = net.tally(guid);
    assert!(t.reached.iter().all(|&n| n < 3), "{:?}", t.reached);
    assert!(t.hits.is_empty());
}

#[test]
fn a_leaf_never_relays_a_query() {
    let mut net = Net::new(3, |i| RoutingConfig {
        role: Some(if i == 1 {
            RoleSetting::Leaf
        } else {
            RoleSetting::Ultrapeer
        }),
        ..RoutingConfig::default()
    });
    net.share(1, vec![file(0, "blue ocean.mp3")]);
    // Leaf 1 under ultrapeers 0 and 2, which are not linked.
    link(&mut net, 1, 0);
    link(&mut net, 1, 2);
    net.run();
    let guid = net.search(0, "ocean", 7);
    let t = net.tally(guid);
    assert_eq!(t.reached.iter().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(t.hits.len(), 1);
    assert!(!net
        .delivered
        .iter()
        .any(|(f, _, m)| *f == 1 && m.payload.kind() == kind::QUERY));
}

fn query_msg(ttl: u8, hops: u8, words: &str) -> Message {
    Message {
        guid: Guid([7; 16]),
        ttl,
        hops,
        payload: Payload::Query(Arc::new(Query::keywords(words))),
    }
}

#[test]
fn a_leaf_never_relays_a_later_copy_with_more_ttl() {
    // Leaf 1 under ultrapeers 0, 2 and 3 (not linked to each other). A copy that comes
    // again with more TTL left is what a flat peer re-forwards; a leaf must not.
    let mut net = Net::new(4, |i| RoutingConfig {
        role: Some(if i == 1 {
            RoleSetting::Leaf
        } else {
            RoleSetting::Ultrapeer
        }),
        ..RoutingConfig::default()
    });
    for up in [0, 2, 3] {
        link(&mut net, 1, up);
    }
    net.run();
    net.inject(0, 1, query_msg(1, 3, "anything"));
    net.inject(2, 1, query_msg(2, 2, "anything"));
    net.inject(3, 1, query_msg(4, 1, "anything"));
    assert!(
        !net.delivered
            .iter()
            .any(|(f, _, m)| *f == 1 && m.payload.kind() == kind::QUERY),
        "the leaf relayed a query"
    );
    assert_eq!(net.nodes[1].counters().duplicates, 2);
}

#[test]
fn a_flat_peer_floods_to_a_leaf_that_sent_no_table() {
    // A flat peer offers no QRP, so a leaf attached to it (X-Ultrapeer: False, as a
    // real leaf says) sends no table; it must still get queries, as before roles.
    let mut net = Net::flood(2, 7);
    net.share(1, vec![file(0, "blue ocean.mp3")]);
    let now = net.now;
    let leaf = PeerInfo {
        role: Role::Leaf,
        query_routing: false,
        ..said(1)
    };
    net.nodes[0].on_connected(now, ConnId(1), leaf);
    net.nodes[1].on_connected(now, ConnId(0), said(0));
    net.run();
    let guid = net.search(0, "ocean", 7);
    assert_eq!(net.tally(guid).hits.len(), 1);
}

#[test]
fn a_matching_leaf_gets_a_query_whose_ttl_ran_out_at_its_ultrapeer() {
    let mut net = two_tier();
    // u0 -> u1 (TTL 2) -> u2 (TTL 1, last hop: u2's merged table holds "desert"),
    // whose TTL is then spent, and still hands it to leaf 5 with TTL 1.
    let guid = net.search(0, "desert", 2);
    let t = net.tally(guid);
    assert!(t.reached.contains(&5), "{:?}", t.reached);
    assert_eq!(t.hits.len(), 1);
    let to_leaf: Vec<u8> = net
        .delivered
        .iter()
        .filter(|(f, to, m)| (*f, *to) == (2, 5) && m.guid == guid)
        .map(|(_, _, m)| m.ttl)
        .collect();
    assert_eq!(to_leaf, [1]);
}

#[test]
fn last_hop_qrp_spares_ultrapeers_whose_tables_do_not_match() {
    let mut net = two_tier();
    // TTL 2 from u0: u1 holds leaf 4 ("ocean") and passes the query on to u2 only on
    // its last hop, which u2's merged table (leaf 5: "desert") refuses.
    let guid = net.search(0, "ocean", 2);
    let t = net.tally(guid);
    assert!(t.reached.contains(&1) && t.reached.contains(&4));
    assert!(!t.reached.contains(&2), "{:?}", t.reached);
    assert_eq!(t.hits.len(), 1);
}

#[test]
fn a_changed_share_reaches_the_ultrapeers_as_a_patch() {
    let mut net = two_tier();
    let before = table_updates(&net, 6, 1).len();
    let now = net.now;
    let library = Library::from_files(vec![file(0, "green forest.flac")]);
    net.nodes[6].set_library(now, library);
    net.run();
    let updates = table_updates(&net, 6, 1);
    // An incremental PATCH: no new RESET.
    assert!(updates.len() > before);
    assert!(updates[before..]
        .iter()
        .all(|u| matches!(u, RouteTableUpdate::Patch(_))));
    assert!(net.nodes[1]
        .neighbour_qrp_table(ConnId(6))
        .is_some_and(|t| t.contains_word("forest")));
    // u1's merged table follows, so u0 sees the new keyword too.
    assert!(net.nodes[0]
        .neighbour_qrp_table(ConnId(1))
        .is_some_and(|t| t.contains_word("forest")));
    let guid = net.search(3, "forest", 4);
    let t = net.tally(guid);
    assert!(t.reached.contains(&6));
    assert_eq!(t.hits.len(), 1);
}

#[test]
fn budgets_bound_leaves_and_ultrapeer_links() {
    let mut net = Net::new(4, |i| RoutingConfig {
        role: Some(if i == 0 {
            RoleSetting::Ultrapeer
        } else {
            RoleSetting::Leaf
        }),
        max_leaves: 1,
        leaf_ultrapeers: 1,
        ..RoutingConfig::default()
    });
    assert_eq!(net.nodes[0].admits(Role::Leaf), Ok(()));
    link(&mut net, 0, 1);
    assert_eq!(
        net.nodes[0].admits(Role::Leaf),
        Err(LinkRefusal::LeavesFull)
    );
    assert_eq!(net.nodes[0].admits(Role::Ultrapeer), Ok(()));
    assert_eq!(
        net.nodes[1].admits(Role::Ultrapeer),
        Err(LinkRefusal::EnoughUltrapeers)
    );
    assert_eq!(
        net.nodes[2].admits(Role::Leaf),
        Err(LinkRefusal::LeafToLeaf)
    );
    assert_eq!(net.nodes[2].admits(Role::Ultrapeer), Ok(()));
}

#[test]
fn a_flat_network_sends_no_tables() {
    let mut net = Net::flood(3, 7);
    net.share(
        2,
        vec![SharedFile {
            index: 0,
            name: "flat.txt".into(),
            size: 1,
            sha1: gnutella::protocol::Sha1::of_bytes(b"flat"),
        }],
    );
    net.link(0, 1);
    net.link(1, 2);
    let guid = net.search(0, "flat", 7);
    assert_eq!(net.tally(guid).hits.len(), 1);
    assert!(!net
        .delivered
        .iter()
        .any(|(_, _, m)| m.payload.kind() == kind::ROUTE_TABLE_UPDATE));
}

#[test]
fn a_leafs_dynamic_overlay_wants_no_more_than_its_ultrapeers() {
    use gnutella::node::{OverlayConfig, OverlayMode};
    let mut net = two_tier();
    let policy = OverlayConfig {
        mode: OverlayMode::Dynamic,
        min_degree: 4,
        max_degree: 8,
        host_cache: 100,
    };
    net.nodes[3].enable_overlay(policy);
    let leaf = *net.nodes[3].overlay().expect("dynamic").config();
    assert_eq!((leaf.min_degree, leaf.max_degree), (3, 3));
    // An ultrapeer's leaves do not fill its degree: u1 holds two ultrapeers and two
    // leaves, and still has room under a maximum of 3.
    let up_policy = OverlayConfig {
        min_degree: 1,
        max_degree: 3,
        ..policy
    };
    net.nodes[1].enable_overlay(up_policy);
    assert_eq!(net.nodes[1].neighbours().count(), 4);
    assert!(!net.nodes[1].overlay_full());
}

/// An `auto` peer alone, driven by hand: (dials, messages sent) until its next timer.
fn drain_alone(n: &mut gnutella::node::Node) -> (Vec<std::net::SocketAddrV4>, Vec<Message>) {
    use gnutella::node::Output;
    let (mut dials, mut sent) = (Vec::new(), Vec::new());
    loop {
        match n.poll_output() {
            Output::Dial(a) => dials.push(a),
            Output::Send { msg, .. } => sent.push(msg),
            Output::Timeout(_) => return (dials, sent),
            _ => {}
        }
    }
}

fn auto_peer(strategy: gnutella::node::Strategy) -> gnutella::node::Node {
    let config = RoutingConfig {
        role: Some(RoleSetting::Auto),
        leaf_ultrapeers: 1,
        strategy,
        ..RoutingConfig::default()
    };
    node(0, Arc::new(config), Library::new())
}

#[test]
fn an_auto_peer_that_became_a_leaf_stops_dialling_once_it_has_its_ultrapeer() {
    use gnutella::node::overlay::{CHECK_INTERVAL, DIAL_TIMEOUT};
    use gnutella::node::{HostSource, OverlayConfig, OverlayMode, Strategy, Time};
    let mut n = auto_peer(Strategy::Flood);
    n.enable_overlay(OverlayConfig {
        mode: OverlayMode::Dynamic,
        min_degree: 4,
        max_degree: 32,
        host_cache: 100,
    });
    n.learn_hosts(Time::ZERO, (1..20).map(addr), HostSource::Bootstrap);
    n.on_timeout(Time::ZERO);
    let (dials, _) = drain_alone(&mut n);
    assert_eq!(dials.len(), 4, "an ultrapeer dials up to its minimum");

    // An ultrapeer's guidance: we are its leaf, its link the only one we want.
    n.become_leaf(Time::ZERO);
    let up = PeerInfo {
        role: Role::Ultrapeer,
        query_routing: true,
        ..said(1)
    };
    n.on_connected(Time::ZERO, ConnId(1), up);
    let policy = *n.overlay().expect("dynamic").config();
    assert_eq!((policy.min_degree, policy.max_degree), (1, 1));
    assert!(n.overlay_full(), "inbound links are refused");
    let mut now = Time::ZERO;
    let mut later = Vec::new();
    while now < Time::from_secs(120) {
        now = now.plus_micros(CHECK_INTERVAL.0);
        n.on_timeout(now);
        later.extend(drain_alone(&mut n).0);
    }
    assert!(now > DIAL_TIMEOUT);
    assert_eq!(later, vec![], "a leaf with its ultrapeer dials nobody");
}

#[test]
fn an_auto_peer_that_became_a_leaf_ends_its_dynamic_queries_and_owes_no_merged_table() {
    use gnutella::node::{SearchRequest, Strategy, Time};
    let mut n = auto_peer(Strategy::Dynamic {
        results: 150,
        leaf_results: 50,
        wait_ms: 100,
    });
    for i in 1..=6 {
        let info = PeerInfo {
            role: Role::Ultrapeer,
            query_routing: true,
            ..said(i)
        };
        n.on_connected(Time::ZERO, ConnId(i as u32), info);
    }
    let request = SearchRequest {
        words: "song".to_string(),
        sha1: None,
        ttl: 4,
    };
    n.start_search(Time::ZERO, request);
    let (_, probe) = drain_alone(&mut n);
    assert!(probe.iter().any(|m| m.payload.kind() == kind::QUERY));
    assert!(n.merged_table_due(), "ultrapeers get our merged table");

    n.become_leaf(Time::ZERO);
    assert!(!n.merged_table_due(), "a leaf merges no table");
    // Its new ultrapeer's link.
    let up = PeerInfo {
        role: Role::Ultrapeer,
        query_routing: true,
        ..said(7)
    };
    n.on_connected(Time::ZERO, ConnId(7), up);
    let _ = drain_alone(&mut n);
    let mut now = Time::ZERO;
    let mut later = Vec::new();
    while let Some(next) = n.poll_timeout() {
        assert!(next < Time::from_secs(600), "timers end");
        now = next.max(now);
        n.on_timeout(now);
        later.extend(drain_alone(&mut n).1);
    }
    let kinds: Vec<u8> = later.iter().map(|m| m.payload.kind()).collect();
    assert!(
        !kinds.contains(&kind::QUERY) && !kinds.contains(&kind::ROUTE_TABLE_UPDATE),
        "no more dynamic query steps nor merged tables: {kinds:?}"
    );
}
