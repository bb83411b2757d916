//! Routing rules of one node and a few neighbours: replies without a route, TTL limits,
//! Push by servent GUID, Bye, unknown and refused descriptors (Ping/Pong: `node_pings`).

mod node_support;

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use gnutella::node::{ConnId, DropReason, Event, Output, OverMaxTtl, Request, Time};
use gnutella::protocol::{
    kind, Bye, Guid, Header, HitRecord, Message, Payload, Push, Query, QueryHit,
};
use node_support::*;

fn query_msg(guid: u8, ttl: u8, hops: u8, words: &str) -> Message {
    Message {
        guid: Guid([guid; 16]),
        ttl,
        hops,
        payload: Payload::Query(Arc::new(Query::keywords(words))),
    }
}

fn hit_msg(guid: Guid, ttl: u8, holder: usize) -> Message {
    let hit = QueryHit {
        port: 6346,
        ip: *addr(holder).ip(),
        speed: 0,
        records: vec![HitRecord {
            index: 1,
            size: 10,
            name: "x.txt".into(),
            extensions: vec![],
        }],
        trailer: None,
        servent_guid: servent(holder),
    };
    Message {
        guid,
        ttl,
        hops: 0,
        payload: Payload::QueryHit(Arc::new(hit)),
    }
}

/// Messages node `from` put on links to `to` (as delivered).
fn sent_between(net: &Net, from: usize, to: usize) -> Vec<Message> {
    net.delivered
        .iter()
        .filter(|(f, t, _)| *f == from && *t == to)
        .map(|(_, _, m)| m.clone())
        .collect()
}

#[test]
fn reply_with_unknown_guid_is_dropped_and_counted() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    net.inject(2, 1, hit_msg(Guid([9; 16]), 5, 2));
    assert_eq!(net.nodes[1].counters().no_route, 1);
    assert!(
        sent_between(&net, 1, 0).is_empty(),
        "never broadcast a reply as a fallback"
    );
    assert_eq!(
        net.tally(Guid([9; 16]))
            .drops
            .get(&(kind::QUERY_HIT, DropReason::NoRoute)),
        Some(&1)
    );
}

#[test]
fn reply_whose_route_went_away_is_dropped_and_counted() {
    let mut net = Net::flood(4, 7);
    line(&mut net);
    let guid = net.search(0, "gone", 3);
    net.unlink(0, 1);
    net.inject(3, 2, hit_msg(guid, 5, 3));
    assert_eq!(
        net.nodes[2].counters().no_route,
        0,
        "node 2 still has its route to 1"
    );
    assert_eq!(
        net.nodes[1].counters().no_route,
        1,
        "node 1's route to 0 is gone"
    );
    assert!(net.tally(guid).hits.is_empty());
}

#[test]
fn over_max_ttl_is_trimmed_and_counted() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    net.inject(0, 1, query_msg(1, 10, 0, "trim me"));
    assert_eq!(net.nodes[1].counters().ttl_trimmed, 1);
    let forwarded = sent_between(&net, 1, 2);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(
        (forwarded[0].ttl, forwarded[0].hops),
        (6, 1),
        "hops+TTL = max_ttl after trimming"
    );
    // Already at hops >= max_ttl: TTL becomes 1, handled here, not forwarded.
    net.inject(0, 1, query_msg(2, 3, 9, "trim me"));
    assert!(sent_between(&net, 1, 2)
        .iter()
        .all(|m| m.guid != Guid([2; 16])));
    assert!(net.tally(Guid([2; 16])).reached.contains(&1));
}

#[test]
fn over_max_ttl_is_dropped_when_the_policy_says_drop() {
    let mut net = Net::new(3, |i| {
        let mut c = config(
            i,
            gnutella::node::Strategy::Flood,
            7,
            gnutella::node::CacheMode::Off,
        );
        c.over_max_ttl = OverMaxTtl::Drop;
        c
    });
    line(&mut net);
    net.inject(0, 1, query_msg(1, 8, 0, "drop me"));
    assert_eq!(net.nodes[1].counters().over_max_ttl, 1);
    assert!(sent_between(&net, 1, 2).is_empty());
    assert!(net.tally(Guid([1; 16])).reached.is_empty());
}

#[test]
fn a_user_max_ttl_of_sixteen_is_not_overridden_by_a_hard_limit() {
    let mut net = Net::flood(3, 16);
    line(&mut net);
    net.inject(0, 1, query_msg(1, 16, 0, "sixteen"));
    let forwarded = sent_between(&net, 1, 2);
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].ttl, 15);
    assert_eq!(net.nodes[1].counters().ttl_trimmed, 0);
}

#[test]
fn ttl_zero_and_hops_255_on_receipt_are_dropped() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    net.inject(0, 1, query_msg(1, 0, 1, "zero ttl"));
    net.inject(0, 1, query_msg(2, 3, 255, "max hops"));
    assert_eq!(net.nodes[1].counters().bad_ttl, 2);
    assert!(sent_between(&net, 1, 2).is_empty());
    assert!(
        net.tally(Guid([1; 16])).reached.is_empty() && net.tally(Guid([2; 16])).reached.is_empty()
    );
}

#[test]
fn too_short_too_long_and_ancient_queries_are_neither_answered_nor_relayed() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    net.share(1, vec![file(1, "a.txt")]);
    net.inject(0, 1, query_msg(1, 3, 0, "a"));
    net.inject(0, 1, query_msg(2, 3, 0, &"long ".repeat(60)));
    let mut ancient = Query::keywords("ancient");
    ancient.flags = 0;
    net.inject(
        0,
        1,
        Message {
            guid: Guid([3; 16]),
            ttl: 3,
            hops: 0,
            payload: Payload::Query(Arc::new(ancient)),
        },
    );
    assert_eq!(net.nodes[1].counters().bad_queries, 3);
    assert!(sent_between(&net, 1, 2).is_empty());
    assert!(
        sent_between(&net, 1, 0).is_empty(),
        "no hits for refused queries"
    );
}

#[test]
fn push_is_routed_by_servent_guid_learned_from_hits() {
    let mut net = Net::flood(4, 7);
    line(&mut net);
    net.share(3, vec![file(42, "firewalled song.mp3")]);
    let guid = net.search(0, "firewalled", 4);
    assert_eq!(net.tally(guid).hits.len(), 1);
    let now = net.now;
    let push_guid = net.nodes[0]
        .start_push(now, servent(3), 42, 7)
        .expect("route learned from the hit");
    net.run();
    let path: Vec<(usize, usize)> = net
        .delivered
        .iter()
        .filter(|(_, _, m)| m.guid == push_guid)
        .map(|(f, t, _)| (*f, *t))
        .collect();
    assert_eq!(path, vec![(0, 1), (1, 2), (2, 3)]);
    let connect_back: Vec<&Request> = net
        .requests
        .iter()
        .filter(|(n, _)| *n == 3)
        .map(|(_, r)| r)
        .collect();
    match connect_back.as_slice() {
        [Request::ConnectBack { push, from }] => {
            assert_eq!(push.index, 42);
            assert_eq!((push.ip, push.port), (*addr(0).ip(), addr(0).port()));
            assert_eq!(*from, ConnId(2));
        }
        other => panic!("expected one ConnectBack at node 3, got {other:?}"),
    }
    // An unknown servent has no route: dropped and counted at the relay.
    let stray = Push {
        servent_guid: Guid([0x77; 16]),
        index: 1,
        ip: Ipv4Addr::LOCALHOST,
        port: 1,
        ggep: Bytes::new(),
    };
    net.inject(
        0,
        1,
        Message {
            guid: Guid([5; 16]),
            ttl: 5,
            hops: 0,
            payload: Payload::Push(stray),
        },
    );
    assert_eq!(net.nodes[1].counters().no_route, 1);
    assert!(net.nodes[0]
        .start_push(net.now, Guid([0x77; 16]), 1, 7)
        .is_none());
}

#[test]
fn bye_closes_the_link_without_a_bye_back_and_unknown_types_are_never_forwarded() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    let unknown = Message {
        guid: Guid([4; 16]),
        ttl: 5,
        hops: 0,
        payload: Payload::Unknown {
            kind: 0xCD,
            body: Bytes::from_static(b"HSEP"),
        },
    };
    net.inject(0, 1, unknown);
    assert_eq!(net.nodes[1].counters().unknown_type, 1);
    assert!(sent_between(&net, 1, 2).is_empty());
    let now = net.now;
    let header = Header {
        guid: Guid([6; 16]),
        kind: 0xCD,
        ttl: 1,
        hops: 0,
        payload_len: 6,
    };
    net.nodes[1].on_skipped(now, ConnId(0), header);
    assert_eq!(net.nodes[1].counters().unknown_type, 2);
    let bye = Message {
        guid: Guid([5; 16]),
        ttl: 1,
        hops: 0,
        payload: Payload::Bye(Bye {
            code: 200,
            message: "bye".into(),
        }),
    };
    net.nodes[1].on_message(now, ConnId(0), bye);
    assert_eq!(
        net.nodes[1].poll_output(),
        Output::Close {
            conn: ConnId(0),
            bye: None
        }
    );
    assert_eq!(
        net.nodes[1].neighbours().collect::<Vec<_>>(),
        vec![ConnId(2)]
    );
}

#[test]
fn a_fresh_node_is_small_and_holds_no_heap() {
    let mut net = Net::flood(1, 7);
    let size = std::mem::size_of::<gnutella::node::Node>();
    eprintln!(
        "size_of::<Node>() = {size}, size_of::<RoutingConfig>() = {}",
        std::mem::size_of::<gnutella::node::RoutingConfig>()
    );
    // 80 bytes: what a flood peer uses (setting, lent outbox, links, the newest route
    // entry, its index); everything else (RNG, library, pending work, counters, older
    // routes, per-type traffic counts) is boxed on first use.
    assert!(size <= 80, "Node is {size} bytes");
    assert_eq!(net.nodes[0].heap_bytes(), 0);
    assert_eq!(
        net.nodes[0].poll_output(),
        Output::Timeout(None::<Time>),
        "an idle node needs no ticks"
    );
}

#[test]
fn events_report_what_happened_to_a_query() {
    let mut net = Net::flood(2, 7);
    line(&mut net);
    net.share(1, vec![file(1, "event horizon.txt")]);
    let now = net.now;
    net.nodes[1].on_message(now, ConnId(0), query_msg(8, 1, 0, "event"));
    let mut events = Vec::new();
    loop {
        match net.nodes[1].poll_output() {
            Output::Event(e) => events.push(e),
            Output::Timeout(_) => break,
            Output::Send { .. } | Output::Close { .. } | Output::Request(_) | Output::Dial(_) => {}
        }
    }
    let g = Guid([8; 16]);
    assert_eq!(
        events,
        vec![
            Event::QueryReceived {
                guid: g,
                from: ConnId(0),
                hops: 1
            },
            Event::Answered {
                guid: g,
                records: 1,
                from_cache: false
            },
            Event::Sent {
                guid: g,
                kind: kind::QUERY_HIT,
                count: 1
            },
            Event::Dropped {
                guid: g,
                kind: kind::QUERY,
                reason: DropReason::TtlExpired
            },
        ]
    );
}
