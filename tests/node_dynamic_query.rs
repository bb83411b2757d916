//! Dynamic querying (strategy `dq`) in a deterministic in-memory network: it stops at
//! the result target, widens when results are few, keeps within the TTL bounds, runs
//! queries for leaves with their guidance, and its records balance like every strategy's.

mod node_support;

use gnutella::node::dynamic_query::LinkProfile;
use gnutella::node::{CacheMode, ConnId, DropReason, PeerInfo, Role, SharedFile, Strategy};
use gnutella::protocol::{kind, Guid, Message, Payload, Vendor};
use node_support::*;

fn dq(results: u32, leaf_results: u32) -> Strategy {
    Strategy::Dynamic {
        results,
        leaf_results,
        wait_ms: 100,
    }
}

fn files(base: u32, n: u32, word: &str) -> Vec<SharedFile> {
    (0..n)
        .map(|i| file(base + i, &format!("{word} {i}.txt")))
        .collect()
}

/// The TTLs of the query copies node `from` put on links, in order.
fn ttls_from(net: &Net, from: usize, guid: Guid) -> Vec<(usize, u8)> {
    net.delivered
        .iter()
        .filter(|(f, _, m)| *f == from && m.guid == guid && m.payload.kind() == kind::QUERY)
        .map(|(_, to, m)| (*to, m.ttl))
        .collect()
}

/// Node 0 in the middle of `spokes` neighbours, each sharing `per_spoke` matching files.
fn star_of_sharers(strategy: Strategy, spokes: usize, per_spoke: u32) -> Net {
    let mut net = Net::new(spokes + 1, |i| config(i, strategy, 7, CacheMode::Off));
    for i in 1..=spokes {
        net.link(0, i);
        net.share(i, files(0, per_spoke, "song"));
    }
    net
}

#[test]
fn a_dynamic_query_stops_once_it_has_its_target() {
    let mut net = star_of_sharers(dq(10, 10), 10, 3);
    let guid = net.search(0, "song", 4);
    let t = net.tally(guid);
    // Probe: 3 links, 9 results; one more link makes 12 >= 10, and the query stops.
    assert_eq!(t.messages, 4, "flooding would have sent 10");
    let records: usize = t.hits.iter().map(|(_, _, h)| h.records.len()).sum();
    assert_eq!(records, 12);
    assert_eq!(t.reached.len(), 4);
    assert_eq!(net.nodes[0].poll_timeout(), None, "nothing left to do");
    let record = net.record(guid).expect("the origin's record");
    assert_eq!(record.strategy, "dq:10");
    assert_eq!(record.messages, 4);

    // Flooding the same network asks every link.
    let mut flood = star_of_sharers(Strategy::Flood, 10, 3);
    let guid = flood.search(0, "song", 4);
    assert_eq!(flood.tally(guid).messages, 10);
}

#[test]
fn few_results_widen_the_query_to_every_link_at_higher_ttl() {
    // Node 0 has 10 links, each the start of a chain of 4; only the far end of the last
    // chain holds the file.
    let chains = 10;
    let depth = 4;
    let n = 1 + chains * depth;
    let mut net = Net::new(n, |i| config(i, dq(150, 50), 7, CacheMode::Off));
    for c in 0..chains {
        let first = 1 + c * depth;
        net.link(0, first);
        for d in 1..depth {
            net.link(first + d - 1, first + d);
        }
    }
    let far = n - 1;
    net.share(far, vec![file(1, "rare thing.txt")]);
    let guid = net.search(0, "rare thing", 4);
    let sent = ttls_from(&net, 0, guid);
    // The probe goes to three links with TTL 3 (more than 9 links may answer: one less
    // than the query's), finds nothing, so each further link gets the full TTL, one at
    // a time; still short of the target, the probed links get it again with the full
    // TTL.
    let mut expected = vec![(1, 3), (5, 3), (9, 3)];
    expected.extend((3..chains).map(|c| (1 + c * depth, 4)));
    expected.extend([(1, 4), (5, 4), (9, 4)]);
    assert_eq!(sent, expected);
    let t = net.tally(guid);
    assert_eq!(t.hits.len(), 1, "the far file is found");
    assert_eq!(t.hits[0].1, 4);
    assert!(net.now.0 > 0, "steps wait for results");
    assert_eq!(net.nodes[0].poll_timeout(), None, "links exhausted: done");
}

#[test]
fn ttl_stays_within_the_query_the_cap_and_each_links_max_ttl() {
    let mut net = Net::new(8, |i| config(i, dq(150, 50), 7, CacheMode::Off));
    for i in 1..8 {
        net.link(0, i);
    }
    // Link 6 says X-Max-TTL 1; the others say nothing.
    net.nodes[0].set_link_profile(
        ConnId(6),
        LinkProfile {
            max_ttl: Some(1),
            ..LinkProfile::default()
        },
    );
    let guid = net.search(0, "nothing here", 7);
    let sent = ttls_from(&net, 0, guid);
    // The probe at TTL 5 (7 links: the query's TTL, capped), then every other link
    // one after the other; all had the highest TTL they take, so none goes again.
    assert_eq!(sent.len(), 7, "{sent:?}");
    for (to, ttl) in sent {
        assert!((1..=5).contains(&ttl), "never above dq's TTL 5: {to} {ttl}");
        if to == 6 {
            assert_eq!(ttl, 1, "link 6 accepts TTL 1 only");
        }
    }
}

/// Node 0 is a leaf of ultrapeer 1; node 1 has `ups` ultrapeer links (2..), each
/// sharing 10 matching files.
fn leaf_and_ultrapeer(ups: usize, leaf_guides: bool) -> Net {
    let mut net = Net::new(ups + 2, |i| {
        let strategy = if i == 0 { Strategy::Flood } else { dq(150, 40) };
        config(i, strategy, 7, CacheMode::Off)
    });
    net.link(0, 1);
    for i in 2..ups + 2 {
        net.link(1, i);
        net.share(i, files(0, 10, "tune"));
    }
    // Node 1 learns from the handshake that node 0 is its leaf.
    let now = net.now;
    net.nodes[1].on_connected(
        now,
        ConnId(0),
        PeerInfo {
            role: Role::Leaf,
            ..said(0)
        },
    );
    if leaf_guides {
        // The leaf's Messages Supported lists Query Status: it will guide.
        net.nodes[0].send_messages_supported(ConnId(1));
        net.run();
    }
    net
}

#[test]
fn an_ultrapeer_widens_its_leafs_query_and_asks_the_leaf_how_many_it_kept() {
    let mut net = leaf_and_ultrapeer(8, true);
    let guid = net.search(0, "tune", 4);
    let sent = ttls_from(&net, 1, guid);
    assert_eq!(
        &sent[..3],
        &[(2, 3), (3, 3), (4, 3)],
        "probe for the leaf with the TTL it has left, never back to the leaf"
    );
    assert!(sent.iter().all(|(to, _)| *to != 0));
    // 30 results after the probe: the ultrapeer asks the leaf (BEAR/11, the query's
    // GUID), the leaf answers with the 30 records it received (BEAR/12).
    let asked: Vec<&Message> = net
        .delivered
        .iter()
        .filter(|(f, t, m)| {
            (*f, *t) == (1, 0)
                && m.guid == guid
                && m.payload == Payload::Vendor(Vendor::QueryStatusRequest)
        })
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(asked.len(), 1);
    let answers: Vec<u16> = net
        .delivered
        .iter()
        .filter(|(f, t, m)| (*f, *t) == (0, 1) && m.guid == guid)
        .filter_map(|(_, _, m)| match m.payload {
            Payload::Vendor(Vendor::QueryStatusResponse { kept }) => Some(kept),
            _ => None,
        })
        .collect();
    assert_eq!(answers, vec![30]);
    // The leaf's 30 count as 30 / 3 ultrapeers = 10 of 40: the query went on, and
    // stopped once 10 + the results routed since reached 40 (three more links).
    assert_eq!(sent.len(), 6, "{sent:?}");
    let t = net.tally(guid);
    let records: usize = t.hits.iter().map(|(_, _, h)| h.records.len()).sum();
    assert_eq!(records, 60);
    assert_eq!(net.nodes[1].poll_timeout(), None);
}

#[test]
fn without_guidance_the_routed_results_count() {
    let mut net = leaf_and_ultrapeer(8, false);
    let guid = net.search(0, "tune", 4);
    assert!(!net
        .delivered
        .iter()
        .any(|(_, _, m)| matches!(m.payload, Payload::Vendor(_))));
    // 30 after the probe, 40 after one more link: stop.
    assert_eq!(ttls_from(&net, 1, guid).len(), 4);
}

#[test]
fn a_leaf_that_closed_its_search_stops_the_query() {
    let mut net = leaf_and_ultrapeer(8, true);
    let guid = Guid([9; 16]);
    // A query the leaf never started (or closed): asked, it answers 0xFFFF.
    net.inject(
        0,
        1,
        Message {
            guid,
            ttl: 4,
            hops: 0,
            payload: Payload::Query(std::sync::Arc::new(gnutella::protocol::Query::keywords(
                "tune",
            ))),
        },
    );
    let stop: Vec<u16> = net
        .delivered
        .iter()
        .filter(|(f, _, m)| *f == 0 && m.guid == guid)
        .filter_map(|(_, _, m)| match m.payload {
            Payload::Vendor(Vendor::QueryStatusResponse { kept }) => Some(kept),
            _ => None,
        })
        .collect();
    assert_eq!(stop, vec![0xFFFF]);
    assert_eq!(
        ttls_from(&net, 1, guid).len(),
        3,
        "only the probe went out before the leaf said stop"
    );
}

#[test]
fn vendor_messages_are_link_local_and_a_relayed_one_is_dropped() {
    let mut net = leaf_and_ultrapeer(3, false);
    let relayed = Message {
        guid: Guid([7; 16]),
        ttl: 1,
        hops: 1,
        payload: Payload::Vendor(Vendor::QueryStatusRequest),
    };
    net.inject(0, 1, relayed);
    assert_eq!(net.nodes[1].counters().bad_ttl, 1);
    assert!(net.closed.is_empty(), "the link stays up");
    assert!(!net
        .delivered
        .iter()
        .any(|(f, _, m)| *f == 1 && m.guid == Guid([7; 16])));
    let t = net.tally(Guid([7; 16]));
    assert_eq!(t.drops.get(&(0x31, DropReason::BadTtl)), Some(&1));
}

#[test]
fn a_leaf_running_dq_hands_its_search_to_all_its_ultrapeers() {
    let mut net = Net::new(4, |i| {
        let mut c = config(i, dq(150, 50), 7, CacheMode::Off);
        if i == 0 {
            c.role = Some(gnutella::node::RoleSetting::Leaf);
        }
        c
    });
    for up in 1..4 {
        net.link(0, up);
    }
    let guid = net.search(0, "anything", 4);
    assert_eq!(ttls_from(&net, 0, guid), vec![(1, 4), (2, 4), (3, 4)]);
    // Its queries say it guides (it answers Query Status Requests).
    let flagged = net.delivered.iter().any(|(f, _, m)| {
        *f == 0
            && matches!(&m.payload, Payload::Query(q)
                if q.flags & gnutella::protocol::query_flags::LEAF_GUIDED != 0)
    });
    assert!(flagged);
}

/// Links `a` and `b` as a two-tier driver does: each learns the other's role and both
/// exchange QRP tables.
fn link_tiers(net: &mut Net, a: usize, b: usize) {
    let now = net.now;
    for (x, y) in [(a, b), (b, a)] {
        let info = PeerInfo {
            role: net.nodes[y].role().unwrap_or(Role::Ultrapeer),
            query_routing: true,
            ..said(y)
        };
        net.nodes[x].on_connected(now, ConnId(y as u32), info);
    }
}

#[test]
fn in_a_two_tier_network_matching_leaves_get_the_query_at_once_and_steps_go_to_ultrapeers() {
    // Ultrapeer 0 (dq:1) with leaves 1 (the searcher) and 2 (shares the file), and
    // ultrapeers 3..=7 (nothing shared).
    let mut net = Net::new(8, |i| {
        let mut c = config(i, dq(1, 1), 7, CacheMode::Off);
        c.role = Some(if i == 1 || i == 2 {
            gnutella::node::RoleSetting::Leaf
        } else {
            gnutella::node::RoleSetting::Ultrapeer
        });
        c
    });
    net.share(2, vec![file(0, "blue ocean.mp3")]);
    for i in 1..8 {
        link_tiers(&mut net, 0, i);
    }
    net.run();
    let guid = net.search(1, "blue ocean", 4);
    let sent = ttls_from(&net, 0, guid);
    // The matching leaf at once (TTL 1). No ultrapeer's last-hop table matches, so no
    // probe: the first step at once, with the TTL left (nothing found yet); the leaf's
    // hit meets the target, so no step follows.
    assert_eq!(sent, vec![(2, 1), (3, 3)]);
    let t = net.tally(guid);
    assert_eq!(t.hits.len(), 1);
    assert_eq!(t.hits[0].0, 1, "the hit reached the searching leaf");
    assert_eq!(net.nodes[0].poll_timeout(), None);
}

/// A query from a leaf with a GUID made of `i`.
fn leaf_query(i: usize, words: &str) -> Message {
    use gnutella::protocol::Query;
    use std::sync::Arc;
    let mut guid = [0u8; 16];
    guid[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    Message {
        guid: Guid(guid),
        ttl: 4,
        hops: 0,
        payload: Payload::Query(Arc::new(Query::keywords(words))),
    }
}

/// Ultrapeer 0 (dq) with `leaves` leaves (nodes 1..=leaves) and three ultrapeer links
/// (the last three nodes), nothing shared.
fn ultrapeer_with_leaves(leaves: usize) -> Net {
    let n = leaves + 4;
    let mut net = Net::new(n, |i| {
        let strategy = if (1..=leaves).contains(&i) {
            Strategy::Flood
        } else {
            dq(150, 40)
        };
        config(i, strategy, 7, CacheMode::Off)
    });
    for i in 1..n {
        net.link(0, i);
    }
    let now = net.now;
    for leaf in 1..=leaves {
        let info = PeerInfo {
            role: Role::Leaf,
            ..said(leaf)
        };
        net.nodes[0].on_connected(now, ConnId(leaf as u32), info);
    }
    net
}

#[test]
fn a_leaf_beyond_its_share_of_dynamic_queries_is_refused() {
    use gnutella::node::dynamic_query::MAX_QUERIES_PER_LEAF;
    let mut net = ultrapeer_with_leaves(2);
    let ups = [3, 4, 5];
    // Leaf 1 starts one query more than its share, and leaf 2 one query, all before
    // any step's timer.
    let mut queries: Vec<_> = (0..=MAX_QUERIES_PER_LEAF)
        .map(|i| (1, 0, leaf_query(i, "nothing here")))
        .collect();
    let over = queries.last().map(|(_, _, m)| m.guid).expect("queries");
    let other = leaf_query(100, "nothing here");
    let other_guid = other.guid;
    queries.push((2, 0, other));
    net.inject_all(queries);
    // Its share runs (each probed to the three ultrapeers); the one over it goes
    // nowhere and is counted as throttled. The other leaf has its own share.
    let first = leaf_query(0, "").guid;
    assert_eq!(ttls_from(&net, 0, first).len(), ups.len());
    assert!(ttls_from(&net, 0, over).is_empty());
    let t = net.tally(over);
    assert_eq!(t.drops.get(&(kind::QUERY, DropReason::Throttled)), Some(&1));
    assert_eq!(ttls_from(&net, 0, other_guid).len(), ups.len());
    // Once its queries ended, the leaf is served again.
    assert_eq!(
        net.nodes[0].poll_timeout(),
        None,
        "every dynamic query ended"
    );
    let again = leaf_query(200, "nothing here");
    let guid = again.guid;
    net.inject(1, 0, again);
    assert_eq!(ttls_from(&net, 0, guid).len(), ups.len());
}

#[test]
fn beyond_its_dynamic_query_slots_an_ultrapeer_floods_a_leafs_query_with_the_ttl_left() {
    use gnutella::node::dynamic_query::{MAX_QUERIES, MAX_QUERIES_PER_LEAF};
    // Enough leaves at their share to fill every slot, and one more leaf.
    let full = MAX_QUERIES / MAX_QUERIES_PER_LEAF;
    let mut net = ultrapeer_with_leaves(full + 1);
    let mut queries = Vec::new();
    for leaf in 1..=full {
        for q in 0..MAX_QUERIES_PER_LEAF {
            queries.push((leaf, 0, leaf_query(leaf * 1000 + q, "nothing here")));
        }
    }
    let last_leaf = full + 1;
    let last = leaf_query(0, "nothing here");
    let guid = last.guid;
    queries.push((last_leaf, 0, last));
    net.inject_all(queries);
    // The last one is flooded to the three ultrapeers at once, with the TTL the leaf's
    // query has left after the ultrapeer's hop (4 - 1), never back to a leaf.
    let ups: Vec<usize> = (last_leaf + 1..last_leaf + 4).collect();
    let mut sent = ttls_from(&net, 0, guid);
    sent.sort_unstable();
    assert_eq!(sent, ups.iter().map(|&u| (u, 3)).collect::<Vec<_>>());
    let hops: Vec<u8> = net
        .delivered
        .iter()
        .filter(|(f, _, m)| *f == 0 && m.guid == guid && m.payload.kind() == kind::QUERY)
        .map(|(_, _, m)| m.hops)
        .collect();
    assert_eq!(hops, vec![1, 1, 1]);
}

/// Ultrapeer 0 (`dq(target, target)`) linked as an ultrapeer to ultrapeers 1..n, which
/// send it their last-hop tables; each link says `X-Degree` 2.
fn ultrapeer_core(target: u32, shares: &[(usize, u32)], n: usize) -> Net {
    let mut net = Net::new(n, |i| {
        let mut c = config(i, dq(target, target), 7, CacheMode::Off);
        c.role = Some(gnutella::node::RoleSetting::Ultrapeer);
        c
    });
    for &(i, count) in shares {
        net.share(i, files(0, count, "song"));
    }
    for i in 1..n {
        link_tiers(&mut net, 0, i);
        net.nodes[0].set_link_profile(
            ConnId(i as u32),
            LinkProfile {
                degree: Some(2),
                ..LinkProfile::default()
            },
        );
    }
    net.run();
    net
}

#[test]
fn a_step_at_ttl_1_skips_ultrapeers_whose_last_hop_table_does_not_match() {
    // Ultrapeers 1..=3 share 3 songs each, 4 and 5 nothing: their tables do not match.
    let mut net = ultrapeer_core(10, &[(1, 3), (2, 3), (3, 3)], 6);
    for i in 1..6 {
        let matches = net.nodes[0].neighbour_qrp_table(ConnId(i)).map(|t| {
            t.matches(&gnutella::node::qrp_table::QueryKeys::of(
                &gnutella::protocol::Query::keywords("song"),
            ))
        });
        assert_eq!(matches, Some(i <= 3), "ultrapeer {i}'s table");
    }
    let guid = net.search(0, "song", 4);
    // The probe to the three whose tables match: 9 results of 10. One more needs TTL 1,
    // and at TTL 1 neither 4 nor 5 could answer: the query ends there.
    assert_eq!(ttls_from(&net, 0, guid), vec![(1, 4), (2, 4), (3, 4)]);
    assert_eq!(net.nodes[0].poll_timeout(), None);

    // Ultrapeer 6 shares one song: its table matches, it is queried first, at TTL 1,
    // ahead of 4 and 5 in link order.
    let mut net = ultrapeer_core(10, &[(1, 3), (2, 3), (3, 3), (6, 1)], 7);
    let guid = net.search(0, "song", 4);
    assert_eq!(
        ttls_from(&net, 0, guid),
        vec![(1, 4), (2, 4), (3, 4), (6, 1)]
    );
    let records: usize = net
        .tally(guid)
        .hits
        .iter()
        .map(|(_, _, h)| h.records.len())
        .sum();
    assert_eq!(records, 10);
}

#[test]
fn a_leafs_report_of_enough_results_ends_its_dynamic_query() {
    let mut net = leaf_and_ultrapeer(8, true);
    // The leaf's query, and before the probe's results an unsolicited status: it kept
    // 120 (40 per ultrapeer: the target).
    let query = leaf_query(5, "tune");
    let guid = query.guid;
    let status = Message {
        guid,
        ttl: 1,
        hops: 0,
        payload: Payload::Vendor(Vendor::QueryStatusResponse { kept: 120 }),
    };
    net.inject_all(vec![(0, 1, query), (0, 1, status)]);
    assert_eq!(
        ttls_from(&net, 1, guid).len(),
        3,
        "the probe only: no step after the report"
    );
    assert_eq!(net.nodes[1].poll_timeout(), None);
}
