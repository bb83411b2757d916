//! `gnutella peer --search-at ... --json-counters`: peers run as separate processes (as
//! under Shadow) start their own searches and, when stopped, print their share of every
//! query's counts; merged, the shares are the network's record of the search.

mod live_support;

use std::time::Duration;

use gnutella::export::counters::PeerCounters;
use gnutella::node::record::merge_records;
use live_support::peer_process::PeerProcess;

/// Stops `peer` (SIGTERM, clean exit) and returns its one `counters` line.
async fn counters_of(peer: PeerProcess) -> PeerCounters {
    let said = peer.stop().await;
    let lines: Vec<&String> = said.iter().filter(|l| l.starts_with("counters ")).collect();
    assert_eq!(lines.len(), 1, "one counters line; said {said:?}");
    lines[0].parse().expect("a counters line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peer_processes_count_their_shares_of_a_search_and_the_shares_merge() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("far-away-song.ogg"), b"la la la").unwrap();
    let share = dir.path().to_str().unwrap().to_string();
    let mut holder = PeerProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--share",
        &share,
        "--seed",
        "1",
        "--json-counters",
    ]);
    let at = holder.listening().await.to_string();
    // The searcher is peer 1 of a network of seed 1; it searches 3 s after it starts.
    let mut searcher = PeerProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--connect",
        &at,
        "--seed",
        "1",
        "--index",
        "1",
        "--search-at",
        "3000:4:far away song",
        "--json-counters",
    ]);
    let guid = searcher
        .wait_for("search line", |l| {
            Some(l.strip_prefix("search ")?.split(':').next()?.to_string())
        })
        .await;
    // The hit comes back over loopback within milliseconds; leave it ample time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let theirs = counters_of(searcher).await;
    let mine = counters_of(holder).await;

    let own = theirs
        .queries
        .iter()
        .find(|q| q.guid == guid)
        .expect("the searcher's own record");
    assert_eq!(own.origin.as_deref(), Some("0"));
    assert_eq!((own.messages, own.hits, own.ttl), (1, 1, 4));
    assert_eq!(own.first_hit_hops, Some(1));
    let relayed = mine
        .queries
        .iter()
        .find(|q| q.guid == guid)
        .expect("the holder's share");
    assert_eq!(relayed.origin, None);
    assert_eq!(
        (
            relayed.peers_reached,
            relayed.answered,
            relayed.hit_messages
        ),
        (1, 1, 1)
    );
    assert_eq!(mine.sent, 1, "the holder sent one QueryHit");

    let merged = merge_records(theirs.queries.into_iter().chain(mine.queries).collect());
    let record = merged.iter().find(|q| q.guid == guid).expect("merged");
    assert_eq!(record.messages, 1);
    assert_eq!(record.peers_reached, 1);
    assert_eq!(record.hits, 1);
    assert_eq!(record.hit_messages, 1);
    assert_eq!(record.unaccounted(), 0);
}

#[test]
fn a_bad_search_at_is_refused_with_its_format() {
    for (bad, says) in [
        ("3000:7", "MS:TTL:WORDS"),
        ("soon:7:jazz", "milliseconds"),
        ("10:0:jazz", "TTL"),
        ("10:7:  ", "word"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .args(["peer", "--listen", "127.0.0.1:0", "--search-at", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{bad}: {err}");
    }
}

/// A holder of one file and a searcher linked to it, both with `link` flags (the link
/// model); the searcher searches once. Returns the searcher's own record, merged with
/// the holder's share.
async fn search_over_a_modelled_link(link: &[&str]) -> gnutella::node::record::QueryRecord {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("far-away-song.ogg"), b"la la la").unwrap();
    let share = dir.path().to_str().unwrap().to_string();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--share",
        &share,
        "--seed",
        "1",
        "--json-counters",
    ];
    args.extend_from_slice(link);
    let mut holder = PeerProcess::start(&args);
    let at = holder.listening().await.to_string();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--connect",
        &at,
        "--seed",
        "1",
        "--index",
        "1",
        "--search-at",
        "1500:4:far away song",
        "--json-counters",
    ];
    args.extend_from_slice(link);
    let mut searcher = PeerProcess::start(&args);
    let guid = searcher
        .wait_for("search line", |l| {
            Some(l.strip_prefix("search ")?.split(':').next()?.to_string())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let theirs = counters_of(searcher).await;
    let mine = counters_of(holder).await;
    let merged = merge_records(theirs.queries.into_iter().chain(mine.queries).collect());
    merged
        .into_iter()
        .find(|q| q.guid == guid)
        .expect("the search's record")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_with_a_latency_answer_after_two_latencies_and_a_lossy_link_loses_the_query() {
    let record = search_over_a_modelled_link(&["--latency-ms", "30"]).await;
    assert_eq!((record.hits, record.first_hit_hops), (1, Some(1)));
    let ms = record.first_hit_ms.expect("a first hit");
    // There and back over one 30 ms link: never sooner; not much later (generous bound).
    assert!((60.0..=90.0).contains(&ms), "first hit after {ms} ms");

    let record = search_over_a_modelled_link(&["--loss", "1"]).await;
    assert_eq!((record.messages, record.hits, record.lost), (1, 0, 1));
    assert_eq!(record.query_drops.get("link_loss"), Some(&1));
    assert_eq!(record.unaccounted(), 0);
}

#[test]
fn a_bad_latency_or_loss_is_refused() {
    for (flag, bad, says) in [
        ("--latency-ms", "-5", "latency"),
        ("--latency-ms", "soon", "milliseconds"),
        ("--loss", "1.5", "loss"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .args(["peer", "--listen", "127.0.0.1:0", &format!("{flag}={bad}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flag} {bad}: {err}");
    }
}
