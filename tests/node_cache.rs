//! The LRU result cache: a repeated query is answered near the searcher, with hits that
//! still name the real holder, and costs fewer messages.

mod node_support;

use gnutella::node::{CacheMode, Strategy, Time};
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
