//! Events a hostile network can provoke must not turn into phantom query records or
//! unbounded recorder memory: junk QueryHits (random GUIDs, no route back) open nothing,
//! queries from outside the recorded peers stay out of the report, and the number of open
//! records is capped, with the oldest relayed ones evicted first.

use std::net::Ipv4Addr;
use std::sync::Arc;

use gnutella::node::record::{Recorder, DEFAULT_MAX_RELAYED};
use gnutella::node::{ConnId, DropReason, Event, StrategySpec, Time};
use gnutella::protocol::{kind, Guid, QueryHit};

fn guid_of(n: u32) -> Guid {
    let mut bytes = [0xA5u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    Guid(bytes)
}

fn junk_hit(g: Guid) -> Event {
    Event::HitReceived {
        guid: g,
        hops: 1,
        hit: Arc::new(QueryHit {
            port: 6346,
            ip: Ipv4Addr::LOCALHOST,
            speed: 0,
            records: Vec::new(),
            trailer: None,
            servent_guid: Guid([7; 16]),
        }),
        cached: None,
    }
}

fn start(rec: &mut Recorder, peer: u32, g: Guid, words: &str) {
    rec.record(
        peer,
        Time::ZERO,
        &Event::SearchStarted {
            guid: g,
            words: words.into(),
            ttl: 4,
            strategy: StrategySpec::FLOOD,
        },
    );
}

#[test]
fn five_thousand_junk_hits_open_no_records() {
    let mut rec = Recorder::with_names(vec!["p0".into(), "p1".into()]);
    start(&mut rec, 0, guid_of(u32::MAX), "debian");
    for n in 0..5_000u32 {
        let g = guid_of(n);
        rec.record(
            1,
            Time::from_millis(1),
            &Event::Dropped {
                guid: g,
                kind: kind::QUERY_HIT,
                reason: DropReason::NoRoute,
            },
        );
        rec.record(0, Time::from_millis(1), &junk_hit(g));
        rec.record(
            1,
            Time::from_millis(1),
            &Event::Answered {
                guid: g,
                records: 1,
                from_cache: false,
            },
        );
    }
    let records = rec.records();
    assert_eq!(records.len(), 1, "only the real search is reported");
    assert_eq!(records[0].query, "debian");
    assert_eq!(rec.open_queries(), 1, "junk hits hold no memory");
}

#[test]
fn queries_from_outside_are_counted_for_a_merge_but_not_reported() {
    let g = guid_of(1);
    let received = Event::QueryReceived {
        guid: g,
        from: ConnId(3),
        hops: 1,
    };
    let mut report_view = Recorder::with_names(vec!["p0".into()]);
    report_view.record(0, Time::ZERO, &received);
    assert!(report_view.records().is_empty());

    // A shard child relaying another shard's query reports its counts to the parent.
    let mut shard_view = Recorder::with_names(vec!["p0".into()]);
    shard_view.keep_relayed();
    shard_view.record(0, Time::ZERO, &received);
    shard_view.record(
        0,
        Time::ZERO,
        &Event::Sent {
            guid: g,
            kind: kind::QUERY,
            count: 3,
        },
    );
    let records = shard_view.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].origin, None);
    assert_eq!(records[0].messages, 3);
    assert_eq!(records[0].peers_reached, 1);
}

#[test]
fn the_cap_evicts_relayed_queries_before_our_own_searches() {
    let mut rec = Recorder::with_names(vec!["p0".into(), "p1".into()]);
    rec.set_max_queries(Some(10));
    start(&mut rec, 0, guid_of(1_000_000), "ours");
    for n in 0..1_000u32 {
        rec.record(
            1,
            Time::from_millis(u64::from(n)),
            &Event::QueryReceived {
                guid: guid_of(n),
                from: ConnId(1),
                hops: 1,
            },
        );
    }
    assert_eq!(rec.open_queries(), 10);
    let records = rec.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].query, "ours");

    // With only our own searches open, the oldest of them goes first.
    let mut own = Recorder::with_names(vec!["p0".into()]);
    own.set_max_queries(Some(2));
    for n in 0..3u32 {
        start(&mut own, 0, guid_of(n), &format!("q{n}"));
    }
    let words: Vec<String> = own.records().into_iter().map(|r| r.query).collect();
    assert_eq!(words, ["q1", "q2"]);
}

/// A long-running peer (`gnutella peer` folds its own events with `Recorder::new()`)
/// relaying a flood of distinct queries keeps at most `DEFAULT_MAX_RELAYED` of them open,
/// and the searches it started itself survive.
#[test]
fn a_relay_flood_is_capped_by_default_and_keeps_our_search() {
    let mut rec = Recorder::new();
    start(&mut rec, 0, guid_of(u32::MAX), "ours");
    let flood = DEFAULT_MAX_RELAYED as u32 + 20_000;
    for n in 0..flood {
        rec.record(
            1,
            Time::ZERO,
            &Event::QueryReceived {
                guid: guid_of(n),
                from: ConnId(1),
                hops: 1,
            },
        );
    }
    assert_eq!(rec.open_queries(), DEFAULT_MAX_RELAYED + 1);
    let records = rec.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].query, "ours");

    // The newest relayed queries are the ones kept: a late copy of the newest one still
    // counts, one of the oldest (evicted) is forgotten.
    let mut shard = Recorder::new();
    shard.keep_relayed();
    shard.set_max_relayed(Some(3));
    for n in 0..5u32 {
        shard.record(
            1,
            Time::from_millis(u64::from(n)),
            &Event::QueryReceived {
                guid: guid_of(n),
                from: ConnId(1),
                hops: 1,
            },
        );
    }
    let kept: Vec<String> = shard.records().into_iter().map(|r| r.guid).collect();
    let expected: Vec<String> = (2..5u32).map(|n| guid_of(n).to_hex()).collect();
    assert_eq!(kept, expected);
}
