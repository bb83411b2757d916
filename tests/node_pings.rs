//! Pings and Pongs in the routing core: a Ping is answered from the pong cache and never
//! relayed, Pings are throttled per link, oversized ones are dropped (PROTOCOL.md §2.1,
//! §2.2, §1.3).

mod node_support;

use bytes::Bytes;
use gnutella::node::{DropReason, Time};
use gnutella::protocol::{kind, Guid, Message, Payload, Ping, Pong};
use node_support::*;

fn ping(guid: u8, ttl: u8) -> Message {
    Message {
        guid: Guid([guid; 16]),
        ttl,
        hops: 0,
        payload: Payload::Ping(Ping::default()),
    }
}

/// Pongs node `from` sent to `to` for the Ping `guid`: (hops, address they name).
fn pongs(net: &Net, from: usize, to: usize, guid: u8) -> Vec<(u8, std::net::SocketAddrV4)> {
    net.delivered
        .iter()
        .filter(|(f, t, m)| *f == from && *t == to && m.guid == Guid([guid; 16]))
        .filter_map(|(_, _, m)| match &m.payload {
            Payload::Pong(p) => Some((m.hops, std::net::SocketAddrV4::new(p.ip, p.port))),
            _ => None,
        })
        .collect()
}

/// Copies of the Ping `guid` delivered anywhere but to `first`.
fn relayed(net: &Net, guid: u8, first: usize) -> usize {
    net.delivered
        .iter()
        .filter(|(_, t, m)| {
            *t != first && m.guid == Guid([guid; 16]) && matches!(m.payload, Payload::Ping(_))
        })
        .count()
}

#[test]
fn a_ping_is_answered_with_our_pong_and_never_relayed() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    net.share(1, vec![file(1, "one.txt"), file(2, "two.txt")]);
    // A keep-alive: exactly one Pong, ours, with enough TTL to get back.
    net.inject(0, 1, ping(1, 1));
    let back: Vec<&Message> = net
        .delivered
        .iter()
        .filter(|(f, t, m)| (*f, *t) == (1, 0) && m.guid == Guid([1; 16]))
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(back.len(), 1);
    match &back[0].payload {
        Payload::Pong(pong) => {
            assert_eq!(
                (pong.ip, pong.port, pong.files),
                (*addr(1).ip(), addr(1).port(), 2)
            );
            assert_eq!(back[0].hops, 0);
            assert!(back[0].ttl >= 1);
        }
        other => panic!("expected a pong, got {other:?}"),
    }
    assert!(
        net.delivered.iter().all(|(_, t, _)| *t != 2),
        "a keep-alive costs nobody else anything"
    );
    // A TTL 7 Ping: our Pong, and the Ping goes no further. Node 1 pings its neighbours
    // to fill its pong cache (its own Ping, another GUID), and node 2's answer follows
    // ours to node 0 (under node 0's GUID, one hop further).
    net.inject(0, 1, ping(2, 7));
    assert_eq!(pongs(&net, 1, 0, 2), vec![(0, addr(1)), (1, addr(2))]);
    assert_eq!(relayed(&net, 2, 1), 0, "Pings are never relayed");
    let refresh: Vec<&Message> = net
        .delivered
        .iter()
        .filter(|(f, t, m)| (*f, *t) == (1, 2) && matches!(m.payload, Payload::Ping(_)))
        .map(|(_, _, m)| m)
        .collect();
    assert_eq!(refresh.len(), 1);
    assert_eq!((refresh[0].hops, refresh[0].ttl), (0, 4));
    // Node 2's answer to it is cached at node 1; nothing else went back to node 0.
    let cache = net.nodes[1].pong_cache().expect("node 1 has a pong cache");
    assert!(cache.iter().any(|c| c.addr() == addr(2) && c.hops == 1));
    assert_eq!(net.nodes[1].counters().no_route, 0);
}

#[test]
fn later_pings_get_cached_pongs_in_hops_order_never_their_own() {
    let mut net = Net::flood(4, 7);
    line(&mut net);
    // Node 2 fills its cache first (node 3's Pong), then node 1 fills its own from node 2.
    net.inject(3, 2, ping(1, 7));
    net.now = Time::from_secs(1);
    net.inject(0, 1, ping(2, 7));
    net.now = Time::from_secs(5);
    net.inject(0, 1, ping(3, 7));
    let got = pongs(&net, 1, 0, 3);
    assert_eq!(got.first(), Some(&(0, addr(1))), "ours first: {got:?}");
    assert!(got.contains(&(1, addr(2))), "{got:?}");
    assert!(got.contains(&(2, addr(3))), "{got:?}");
    assert!(
        got.iter().all(|(_, a)| *a != addr(0)),
        "a Pong never goes back to the link it came from: {got:?}"
    );
    assert!(
        got.windows(2).all(|w| w[0].0 <= w[1].0),
        "hops order: {got:?}"
    );
    assert!(got.len() <= 11);
    // A crawler Ping (TTL 2) reaches one hop beyond us: only neighbours' Pongs.
    net.now = Time::from_secs(10);
    net.inject(0, 1, ping(4, 2));
    let got = pongs(&net, 1, 0, 4);
    assert_eq!(got, vec![(0, addr(1)), (1, addr(2))]);
    assert_eq!(relayed(&net, 3, 1) + relayed(&net, 4, 1), 0);
}

#[test]
fn a_ping_flood_costs_one_answer_per_interval_keep_alives_included() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    let flood = |net: &mut Net, ttl: u8| {
        for i in 0..1000u32 {
            let mut guid = [ttl; 16];
            guid[..4].copy_from_slice(&i.to_le_bytes());
            net.inject(
                0,
                1,
                Message {
                    guid: Guid(guid),
                    ttl,
                    hops: 0,
                    payload: Payload::Ping(Ping::default()),
                },
            );
        }
    };
    let pongs_to_0 = |net: &Net| {
        net.delivered
            .iter()
            .filter(|(f, t, m)| (*f, *t) == (1, 0) && matches!(m.payload, Payload::Pong(_)))
            .count()
    };
    flood(&mut net, 7);
    assert!(pongs_to_0(&net) <= 11, "{} Pongs", pongs_to_0(&net));
    // The flood's 999 others, and node 0's own refresh Ping (node 0's first came with
    // the flood's first).
    assert_eq!(net.nodes[1].counters().pings_throttled, 1000);
    let bystander_pings = net
        .delivered
        .iter()
        .filter(|(f, t, m)| (*f, *t) == (1, 2) && matches!(m.payload, Payload::Ping(_)))
        .count();
    assert_eq!(
        bystander_pings, 1,
        "one cache refresh, not a thousand relays"
    );
    // A flood of keep-alives: one Pong, not one each.
    let before = pongs_to_0(&net);
    flood(&mut net, 1);
    assert_eq!(pongs_to_0(&net) - before, 1);
    // An honest keep-alive, a while later, is answered.
    net.now = Time::from_secs(1);
    let before = pongs_to_0(&net);
    net.inject(0, 1, ping(8, 1));
    assert_eq!(pongs_to_0(&net) - before, 1);
    // Once the interval has passed, a Ping is handled again.
    net.now = Time::from_secs(3);
    let before = pongs_to_0(&net);
    net.inject(0, 1, ping(9, 7));
    assert!(pongs_to_0(&net) > before);
}

#[test]
fn pings_and_pongs_with_oversized_ggep_are_dropped() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    let with_ggep = |guid: u8, len: usize| {
        let mut body = vec![0xC3u8];
        body.resize(len, b'x');
        Message {
            guid: Guid([guid; 16]),
            ttl: 7,
            hops: 0,
            payload: Payload::Ping(Ping {
                ggep: Bytes::from(body),
            }),
        }
    };
    net.inject(0, 1, with_ggep(1, 60 * 1024));
    assert!(pongs(&net, 1, 0, 1).is_empty(), "not answered");
    assert_eq!(relayed(&net, 1, 1), 0, "not relayed");
    assert_eq!(net.nodes[1].counters().bad_payload, 1);
    assert_eq!(
        net.tally(Guid([1; 16]))
            .drops
            .get(&(kind::PING, DropReason::TooBig)),
        Some(&1)
    );
    // At the limit it is an ordinary Ping: answered, still not relayed.
    net.inject(0, 1, with_ggep(2, 1536));
    assert_eq!(pongs(&net, 1, 0, 2).first(), Some(&(0, addr(1))));
    assert_eq!(relayed(&net, 2, 1), 0);
    // A Pong answering node 1's own refresh Ping but carrying 60 KB is not cached.
    let refresh = net
        .delivered
        .iter()
        .find(|(f, t, m)| (*f, *t) == (1, 2) && matches!(m.payload, Payload::Ping(_)))
        .map(|(_, _, m)| m.guid)
        .expect("node 1 pinged node 2");
    let fat = Message {
        guid: refresh,
        ttl: 1,
        hops: 0,
        payload: Payload::Pong(Pong {
            port: 6346,
            ip: [10, 9, 9, 9].into(),
            files: 0,
            kbytes: 0,
            ggep: Bytes::from(vec![0xC3; 4000]),
        }),
    };
    net.inject(2, 1, fat);
    let cache = net.nodes[1].pong_cache().expect("cache");
    assert!(cache.iter().all(|c| c.pong.ip.octets() != [10, 9, 9, 9]));
}

#[test]
fn a_pong_for_a_ping_we_did_not_send_is_dropped_not_routed() {
    let mut net = Net::flood(3, 7);
    line(&mut net);
    let stray = Message {
        guid: Guid([7; 16]),
        ttl: 3,
        hops: 0,
        payload: Payload::Pong(Pong {
            port: 6346,
            ip: [10, 9, 9, 9].into(),
            files: 0,
            kbytes: 0,
            ggep: Bytes::new(),
        }),
    };
    net.inject(2, 1, stray);
    assert_eq!(net.nodes[1].counters().no_route, 1);
    assert!(net.delivered.iter().all(|(f, _, _)| *f != 1));
    assert!(net.nodes[1].pong_cache().map_or(true, |c| c.is_empty()));
}

#[test]
fn the_same_pings_give_the_same_answers() {
    let run = || {
        let mut net = Net::flood(5, 7);
        ring(&mut net);
        for (t, from, to) in [(0, 0, 1), (1, 2, 3), (4, 4, 0), (8, 0, 1)] {
            net.now = Time::from_secs(t);
            net.inject(from, to, ping(t as u8 + 1, 7));
        }
        net.delivered
    };
    assert_eq!(run(), run());
}
