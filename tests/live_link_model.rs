//! The link model in the live driver: a launch of a config that gives its links a
//! latency holds each descriptor on each link for it, so a hit `h` hops away comes back
//! after at least `2 × h × latency`, as in the simulator; a link that loses everything
//! cuts the network there, and every lost copy is counted as lost on the link, so the
//! records still add up, as the simulator's do.

use std::path::Path;
use std::process::Command;

use gnutella::node::record::QueryRecord;

const LATENCY_MS: f64 = 20.0;

/// A line p0 - p1 - p2 - p3 on ephemeral ports, 20 ms per link; p3 holds the file p0
/// searches for (3 hops away). `links` may override a link.
fn line(links: &str) -> String {
    format!(
        r#"{{
  "name": "line-20ms",
  "defaults": {{ "seed": 11, "latency_ms": {LATENCY_MS} }},
  "peers": [
    {{ "id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1"] }},
    {{ "id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"] }},
    {{ "id": "p2", "listen": "127.0.0.1:0", "neighbours": ["p3"] }},
    {{ "id": "p3", "listen": "127.0.0.1:0",
      "share": {{ "files": [ {{ "name": "far-away-song.ogg", "size": 1000 }} ] }} }}
  ],
  "links": [ {links} ],
  "workload": {{ "queries": [ {{ "from": "p0", "words": "far away song" }} ] }}
}}"#
    )
}

fn records_of(json: &serde_json::Value) -> Vec<QueryRecord> {
    serde_json::from_value(json["queries"].clone()).expect("records in the report")
}

fn gnutella(args: &[&str], config: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg(args[0])
        .args(&args[1..])
        .arg(config)
        .arg("--json")
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "gnutella {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report on stdout")
}

/// The one record of `gnutella launch` (with `mode`'s flags) and of `gnutella sim` of
/// the config.
fn launch_and_sim(config: &str, mode: &[&str]) -> (QueryRecord, QueryRecord) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.json");
    std::fs::write(&path, config).unwrap();
    let mut launch = vec!["launch"];
    launch.extend_from_slice(mode);
    launch.extend_from_slice(&["--run-workload", "--overlay-timeout", "20"]);
    let live = records_of(&gnutella(&launch, &path));
    let sim = records_of(&gnutella(&["sim", "--quiet", "--topology"], &path));
    assert_eq!(
        (live.len(), sim.len()),
        (1, 1),
        "one query: {live:?} {sim:?}"
    );
    (live[0].clone(), sim[0].clone())
}

fn assert_balanced(what: &str, r: &QueryRecord) {
    assert_eq!(
        r.unaccounted(),
        0,
        "{what}: messages {} != reached {} + duplicates {} + reforwards {} + refused {} + \
         lost {}",
        r.messages,
        r.peers_reached,
        r.duplicates,
        r.reforwards,
        r.refused,
        r.lost
    );
}

#[test]
fn a_launched_line_with_20_ms_links_answers_after_two_latencies_per_hop_like_the_simulator() {
    for mode in [&[][..], &["--shards", "2"][..]] {
        let (live, sim) = launch_and_sim(&line(""), mode);
        let what = format!("launch {mode:?}");
        assert_eq!(live.first_hit_hops, Some(3), "{what}: {live:?}");
        let floor = 2.0 * 3.0 * LATENCY_MS;
        let sim_ms = sim.first_hit_ms.expect("the simulator finds it");
        assert!((sim_ms - floor).abs() < 1.0, "sim: {sim_ms} ms");
        let live_ms = live.first_hit_ms.expect("the launch finds it");
        // Never earlier than the links allow; not much later (generous: loaded machine).
        assert!(live_ms >= floor, "{what}: first hit after {live_ms} ms");
        assert!(
            live_ms <= floor * 1.5,
            "{what}: first hit after {live_ms} ms"
        );
        let figures = |r: &QueryRecord| {
            (
                r.messages,
                r.peers_reached,
                r.duplicates,
                r.hits,
                r.first_hit_hops,
                r.hit_messages,
                r.lost,
            )
        };
        assert_eq!(
            figures(&live),
            figures(&sim),
            "{what}\nlive {live:?}\nsim {sim:?}"
        );
        assert_balanced(&what, &live);
    }
}

#[test]
fn a_link_that_loses_everything_cuts_the_line_and_the_counts_still_add_up() {
    let cut = r#"{ "between": ["p1", "p2"], "loss": 1.0 }"#;
    for mode in [&[][..], &["--shards", "2"][..]] {
        let (live, sim) = launch_and_sim(&line(cut), mode);
        let what = format!("launch {mode:?}");
        assert!(!live.success && live.hits == 0, "{what}: {live:?}");
        assert_eq!(live.peers_reached, 1, "{what}: only p1 hears it: {live:?}");
        assert!(live.lost >= 1, "{what}: the copy to p2 is lost: {live:?}");
        assert_eq!(
            live.query_drops.get("link_loss").copied().unwrap_or(0),
            live.lost,
            "{what}: lost on the link: {:?}",
            live.query_drops
        );
        assert_balanced(&what, &live);
        assert_eq!(
            (live.messages, live.peers_reached, live.lost, live.hits),
            (sim.messages, sim.peers_reached, sim.lost, sim.hits),
            "{what}\nlive {live:?}\nsim {sim:?}"
        );
    }
}
