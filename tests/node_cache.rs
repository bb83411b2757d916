//! The LRU result cache: a repeated query is answered near the searcher, with hits that
//! still name the real holder, and costs fewer messages.

mod node_support;

use std::sync::Arc;

use gnutella::node::{CacheMode, ConnId, DropReason, Strategy, Time};
use gnutella::protocol::{kind, CacheMark, Guid, Payload, QueryHit, Sha1};
use node_support::*;

fn line_with_far_file(mode: CacheMode) -> Net {
    let mut net = Net::new(8, |i| config(i, Strategy::Flood, 7, mode));
    line(&mut net);
    net.share(6, vec![file(9, "Rare Recording 1962.flac")]);
    net
}

#[test]
fn repeated_query_is_answered_from_the_cache_with_fewer_messages() {
    let mut net = line_with_far_file(CacheMode::AnswerAndStop);
    let first = net.search(0, "rare recording", 7);
    let t1 = net.tally(first);
    assert_eq!(t1.messages, 7);
    assert_eq!(t1.hits.len(), 1);
    assert_eq!(t1.answered_from_cache, 0);

    // Same words, other case and order, from a peer whose neighbour relayed the hit.
    let second = net.search(0, "RECORDING rare", 7);
    let t2 = net.tally(second);
    assert_eq!(t2.answered_from_cache, 1, "node 1 answers from its cache");
    assert_eq!(
        t2.messages, 1,
        "answer-and-stop: the query goes no further than node 1"
    );
    assert_eq!(t2.hits.len(), 1);
    let (_, hops, hit) = &t2.hits[0];
    assert_eq!(*hops, 1);
    assert_eq!(
        hit.servent_guid,
        servent(6),
        "the hit names the real holder"
    );
    assert_eq!(hit.ip, *addr(6).ip(), "so the download still goes direct");
    assert_eq!(hit.records[0].index, 9);
    assert!(t2.hit_messages < t1.hit_messages);
}

#[test]
fn answer_and_forward_answers_early_and_still_floods() {
    let mut net = line_with_far_file(CacheMode::AnswerAndForward);
    net.search(0, "rare recording", 7);
    let second = net.search(0, "rare recording", 7);
    let t = net.tally(second);
    assert_eq!(t.messages, 7, "the query still travels the whole line");
    assert!(t.answered_from_cache >= 1);
    assert_eq!(
        t.hits.iter().filter(|(_, hops, _)| *hops == 1).count(),
        1,
        "first answer is 1 hop away"
    );
    assert!(t.hits.iter().all(|(_, _, h)| h.servent_guid == servent(6)));
}

#[test]
fn with_the_cache_off_a_repeated_query_costs_the_same() {
    let mut net = line_with_far_file(CacheMode::Off);
    let a = net.search(0, "rare recording", 7);
    let b = net.search(0, "rare recording", 7);
    assert_eq!(net.tally(a).messages, net.tally(b).messages);
    assert_eq!(net.tally(b).answered_from_cache, 0);
}

#[test]
fn cache_entries_expire_after_max_age() {
    let mut net = Net::new(8, |i| {
        let mut c = config(i, Strategy::Flood, 7, CacheMode::AnswerAndStop);
        c.cache.max_age_secs = 60;
        c
    });
    line(&mut net);
    net.share(6, vec![file(9, "Rare Recording 1962.flac")]);
    net.search(0, "rare recording", 7);
    net.now = Time::from_secs(61);
    let later = net.search(0, "rare recording", 7);
    let t = net.tally(later);
    assert_eq!(t.answered_from_cache, 0);
    assert_eq!(t.messages, 7);
}

/// Every QueryHit put on a link with hops 0 names the servent that sent it: a real
/// servent takes a hops-0 hit for its neighbour's own (gtk-gnutella counts any other as
/// "weird" and bans the sender after five).
fn assert_hops_zero_only_for_own_hits(net: &Net) {
    for (from, to, msg) in &net.delivered {
        if let Payload::QueryHit(hit) = &msg.payload {
            if msg.hops == 0 {
                assert_eq!(
                    hit.servent_guid,
                    servent(*from),
                    "node {from} sent {to} a hit of another servent with hops 0"
                );
            }
        }
    }
}

#[test]
fn a_cached_answer_keeps_its_hops_and_says_it_is_cached() {
    for mode in [CacheMode::AnswerAndStop, CacheMode::AnswerAndForward] {
        let mut net = line_with_far_file(mode);
        net.search(0, "rare recording", 7);
        let second = net.search(0, "rare recording", 7);
        assert_hops_zero_only_for_own_hits(&net);
        let into_origin: Vec<(u8, Arc<QueryHit>)> = net
            .delivered
            .iter()
            .filter(|(from, to, m)| *from == 1 && *to == 0 && m.guid == second)
            .filter_map(|(_, _, m)| match &m.payload {
                Payload::QueryHit(hit) => Some((m.hops, Arc::clone(hit))),
                _ => None,
            })
            .collect();
        // The holder (node 6) is 5 hops from node 1: the hit arrived there with hops 4,
        // made its 5th hop into node 1, and node 1's cache answer says so. (With
        // answer-and-forward, the caches further on and the holder answer too; each of
        // those hits also reaches node 1 after 5 hops.)
        assert!(into_origin.iter().all(|(hops, _)| *hops == 5), "{mode:?}");
        let marks: Vec<Option<u8>> = into_origin
            .iter()
            .map(|(_, h)| h.cache_mark().map(|m| m.holder_hops))
            .collect();
        let expected: Vec<Option<u8>> = match mode {
            CacheMode::AnswerAndStop => vec![Some(5)],
            _ => vec![Some(5), Some(4), Some(3), Some(2), Some(1), None],
        };
        assert_eq!(marks, expected, "{mode:?}");
        let hit = &into_origin[0].1;
        assert_eq!(hit.cache_mark(), Some(CacheMark { holder_hops: 5 }));
        assert_eq!(
            hit.records[0].sha1(),
            Some(Sha1::of_bytes(b"Rare Recording 1962.flac")),
            "the marker leaves the record's hash readable"
        );
        // The searcher sees an answer 1 hop away from a cache whose holder was 5 further.
        let t = net.tally(second);
        let first_cached = t
            .hits
            .iter()
            .zip(&t.cached)
            .find(|(_, c)| c.is_some())
            .map(|((_, hops, _), c)| (*hops, *c));
        assert_eq!(first_cached, Some((1, Some(5))), "{mode:?}");
        // Answering distance plus the holder's distance from the cache is the whole way.
        assert!(t
            .hits
            .iter()
            .zip(&t.cached)
            .all(|((_, hops, _), c)| hops + c.unwrap_or(0) == 6));
    }
}

/// Line 0 - 1 - 2 - 3 with the file at node 2. Node 0's search leaves node 2's hit in
/// node 1's cache; then node 3 searches, and node 2 relays that query to node 1.
fn holder_relays_a_repeated_query(link: fn(&mut Net, usize, usize)) -> (Net, Guid) {
    let mut net = Net::new(4, |i| {
        config(i, Strategy::Flood, 7, CacheMode::AnswerAndForward)
    });
    for i in 1..4 {
        link(&mut net, i - 1, i);
    }
    net.share(2, vec![file(9, "Rare Recording 1962.flac")]);
    net.search(0, "rare recording", 7);
    let again = net.search(3, "rare recording", 7);
    (net, again)
}

#[test]
fn a_cached_hit_never_goes_back_to_its_holder() {
    let named = |net: &mut Net, a, b| net.link(a, b);
    let anonymous = |net: &mut Net, a, b| net.link_anonymous(a, b);
    for (how, link) in [
        ("GUID header", named as fn(&mut Net, usize, usize)),
        ("own hits only", anonymous),
    ] {
        let (net, again) = holder_relays_a_repeated_query(link);
        assert_hops_zero_only_for_own_hits(&net);
        let told = net.nodes[1]
            .peer_info(ConnId(2))
            .and_then(|i| i.servent_guid);
        assert_eq!(
            told,
            Some(servent(2)),
            "{how}: node 1 knows who is on the link"
        );
        let back_to_holder = net.delivered.iter().any(|(from, to, m)| {
            *from == 1
                && *to == 2
                && m.guid == again
                && matches!(&m.payload, Payload::QueryHit(h) if h.servent_guid == servent(2))
        });
        assert!(!back_to_holder, "{how}: node 1 sent node 2 its own hit");
        let t = net.tally(again);
        // Node 1 does not answer from its cache. Node 0 does (it cannot know the query
        // came through the holder), and node 1 drops that answer instead of routing it.
        assert_eq!(t.hit_senders.get(&1), None, "{how}");
        assert_eq!(t.answered_from_cache, 1, "{how}");
        assert_eq!(
            t.drops.get(&(kind::QUERY_HIT, DropReason::BackToHolder)),
            Some(&1),
            "{how}"
        );
        assert_eq!(
            t.hits.len(),
            1,
            "{how}: node 3 still gets node 2's own answer"
        );
        assert_eq!((t.hits[0].1, t.cached[0]), (1, None), "{how}");
    }
}

#[test]
fn a_query_from_another_link_is_still_answered_from_the_cache() {
    // Same network, but node 0 repeats the search: node 1 answers it from its cache
    // with node 2's hit, which goes to node 0, not to node 2.
    let mut net = Net::new(4, |i| {
        config(i, Strategy::Flood, 7, CacheMode::AnswerAndForward)
    });
    line(&mut net);
    net.share(2, vec![file(9, "Rare Recording 1962.flac")]);
    net.search(0, "rare recording", 7);
    let again = net.search(0, "rare recording", 7);
    let t = net.tally(again);
    assert_eq!(t.answered_from_cache, 1);
    assert!(t.cached.contains(&Some(1)), "{:?}", t.cached);
    assert_hops_zero_only_for_own_hits(&net);
}
