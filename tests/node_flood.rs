//! Flooding over small in-memory networks: reach within the TTL, duplicates, the closed
//! forms (ring N+1, tree without duplicates, grid diamond), hits back along the reverse path.

mod node_support;

use node_support::*;

#[test]
fn query_on_a_line_reaches_exactly_the_peers_within_its_ttl() {
    for ttl in 1..=6u8 {
        let mut net = Net::flood(10, 7);
        line(&mut net);
        let guid = net.search(0, "debian", ttl);
        let t = net.tally(guid);
        let expected: Vec<usize> = (1..=ttl as usize).collect();
        assert_eq!(
            t.reached.iter().copied().collect::<Vec<_>>(),
            expected,
            "ttl {ttl}"
        );
        assert_eq!(t.messages, u64::from(ttl), "one message per hop on a line");
        assert_eq!(t.duplicates, 0);
    }
}

#[test]
fn ring_of_sixteen_with_ttl_sixteen_carries_seventeen_queries_and_hits_reach_only_the_origin() {
    let mut net = Net::flood(16, 16);
    ring(&mut net);
    net.share(9, vec![file(3, "far away file.txt")]);
    let guid = net.search(0, "far file", 16);
    let t = net.tally(guid);
    assert_eq!(t.messages, 17);
    assert_eq!(t.reached.len(), 15);
    assert_eq!(t.duplicates, 2, "the two waves meet at the far side");
    assert_eq!(t.hits.len(), 1);
    let (at, hops, hit) = &t.hits[0];
    assert_eq!(*at, 0, "only the origin consumes the hit");
    assert_eq!(*hops, 7, "9 is 7 hops from 0 the short way round");
    assert_eq!(hit.servent_guid, servent(9));
    assert_eq!(hit.ip, *addr(9).ip());
    // The hit went back along the path the query came: 9 -> 10 -> ... -> 15 -> 0.
    let hit_path: Vec<usize> = t.hit_senders.keys().copied().collect();
    assert_eq!(hit_path, vec![9, 10, 11, 12, 13, 14, 15]);
}

#[test]
fn ring_of_n_with_large_ttl_carries_n_plus_one_messages() {
    for n in [3usize, 4, 5, 12, 31, 64] {
        let mut net = Net::flood(n, 255);
        ring(&mut net);
        let guid = net.search(0, "anything", 255);
        assert_eq!(net.tally(guid).messages, n as u64 + 1, "ring of {n}");
        assert_eq!(net.tally(guid).reached.len(), n - 1);
    }
}

#[test]
fn tree_carries_no_duplicates() {
    let mut net = Net::flood(121, 10);
    tree(&mut net, 3);
    let guid = net.search(0, "leaf file", 10);
    let t = net.tally(guid);
    assert_eq!(t.duplicates, 0);
    assert_eq!(t.messages, 120, "one message per tree edge");
    assert_eq!(t.reached.len(), 120);
}

#[test]
fn grid_flood_reaches_the_diamond_of_radius_ttl() {
    for ttl in 1..=4u8 {
        let mut net = Net::flood(81, 7);
        grid(&mut net, 9, 9);
        let center = 4 * 9 + 4;
        let guid = net.search(center, "grid", ttl);
        let t = net.tally(guid);
        let t_ = ttl as usize;
        assert_eq!(t.reached.len(), 2 * t_ * (t_ + 1), "ttl {ttl}");
        for &p in &t.reached {
            let (x, y) = (p % 9, p / 9);
            assert!(x.abs_diff(4) + y.abs_diff(4) <= t_);
        }
    }
}

#[test]
fn duplicates_are_dropped_on_a_complete_graph() {
    let n = 6;
    let mut net = Net::flood(n, 7);
    for a in 0..n {
        for b in a + 1..n {
            net.link(a, b);
        }
    }
    let guid = net.search(0, "clique", 2);
    let t = net.tally(guid);
    // Origin sends 5; each of the 5 forwards to its 4 other neighbours (TTL 1 left): 20,
    // every one of which is a duplicate.
    assert_eq!(t.messages, 5 + 5 * 4);
    assert_eq!(t.duplicates, 20);
    assert_eq!(t.reached.len(), 5);
    // Every copy went to a peer other than the origin; only the first one was new.
    let received: usize = net.delivered.iter().filter(|(_, to, _)| *to != 0).count();
    assert_eq!(received, t.messages as usize);
    assert_eq!(received - t.duplicates as usize, t.reached.len());
}

#[test]
fn star_hub_relays_to_every_leaf_but_the_sender() {
    let mut net = Net::flood(8, 7);
    star(&mut net);
    net.share(5, vec![file(1, "debian-12-netinst.iso")]);
    net.share(6, vec![file(2, "Debian Netinst Notes.txt")]);
    let guid = net.search(3, "debian netinst", 4);
    let t = net.tally(guid);
    assert_eq!(t.messages, 1 + 6);
    assert_eq!(t.reached.len(), 7);
    assert_eq!(t.hits.len(), 2);
    assert!(t.hits.iter().all(|(at, hops, _)| *at == 3 && *hops == 2));
    let responders: Vec<_> = t.hits.iter().map(|(_, _, h)| h.servent_guid).collect();
    assert!(responders.contains(&servent(5)) && responders.contains(&servent(6)));
    for (_, _, hit) in &t.hits {
        for record in &hit.records {
            assert!(record.sha1().is_some(), "records carry urn:sha1");
        }
    }
}

#[test]
fn many_matches_are_capped_and_split_into_hits_of_ten_records() {
    let mut net = Net::flood(2, 7);
    line(&mut net);
    let files = (0..35)
        .map(|i| file(i, &format!("song number {i}.mp3")))
        .collect();
    net.share(1, files);
    let guid = net.search(0, "song", 2);
    let t = net.tally(guid);
    let sizes: Vec<usize> = t.hits.iter().map(|(_, _, h)| h.records.len()).collect();
    assert_eq!(sizes, vec![10, 10, 10, 5]);
    let mut capped = Net::new(2, |i| {
        let mut c = config(
            i,
            gnutella::node::Strategy::Flood,
            7,
            gnutella::node::CacheMode::Off,
        );
        c.max_results = 12;
        c
    });
    line(&mut capped);
    capped.share(
        1,
        (0..35).map(|i| file(i, &format!("song {i}.mp3"))).collect(),
    );
    let guid = capped.search(0, "song", 2);
    let sizes: Vec<usize> = capped
        .tally(guid)
        .hits
        .iter()
        .map(|(_, _, h)| h.records.len())
        .collect();
    assert_eq!(sizes, vec![10, 2]);
}

#[test]
fn same_seed_same_inputs_give_the_same_descriptors() {
    let run = || {
        let mut net = Net::flood(30, 7);
        random_graph(&mut net, 4, 11);
        net.share(17, vec![file(1, "needle.bin")]);
        net.search(2, "needle", 5);
        net.delivered.clone()
    };
    assert_eq!(run(), run());
}
