//! Per-peer statistics (`--peer-stats FILE`, issue 10): one JSON line per peer whose
//! figures add up to the run's per-query records, the same schema in both worlds, and the
//! simulator counting what the live network counts, peer by peer, for the quickstart
//! network (both drive the same `Node`; the launch runs on one thread, so its floods
//! advance as over links of equal latency, the simulator's model).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");
const QUICKSTART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/topology-configs/quickstart.json"
);

/// Runs `gnutella ARGS`, which must succeed; its stdout.
fn gnutella(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "gnutella {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("text")
}

fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the per-peer file is written")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sum(rows: &[Value], field: &str) -> u64 {
    rows.iter()
        .map(|r| {
            field
                .split('.')
                .fold(r, |v, k| &v[k])
                .as_u64()
                .unwrap_or_else(|| panic!("{field} is not a count in {r}"))
        })
        .sum()
}

fn total(row: &Value, direction: &str) -> u64 {
    row[direction]
        .as_object()
        .expect("counts by type")
        .values()
        .map(|n| n.as_u64().expect("a count"))
        .sum()
}

#[test]
fn a_simulated_runs_rows_add_up_to_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("peers.jsonl");
    let report: Value = serde_json::from_str(&gnutella(&[
        "sim",
        "--topology",
        QUICKSTART,
        "--json",
        "--peer-stats",
        file.to_str().unwrap(),
    ]))
    .expect("the JSON report");
    let records = report["queries"].as_array().expect("records").clone();
    let peers = rows(&file);
    let ids: Vec<&str> = peers.iter().map(|r| r["peer"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]
    );
    for (per_peer, per_query) in [
        ("messages_out.query", "messages"),
        ("messages_out.query_hit", "hit_messages"),
        ("duplicates", "duplicates"),
        ("answered_from_cache", "answered_from_cache"),
    ] {
        assert_eq!(
            sum(&peers, per_peer),
            sum(&records, per_query),
            "{per_peer} over the peers vs {per_query} over the queries"
        );
    }
    // A record's `answered` counts the answers from caches too.
    assert_eq!(
        sum(&peers, "answered") + sum(&peers, "answered_from_cache"),
        sum(&records, "answered")
    );
    assert!(sum(&peers, "messages_out.query") > 0);
    // Nothing is lost on these links: every copy sent arrived.
    assert_eq!(sum(&peers, "drops"), 0);
    assert_eq!(
        sum(&peers, "messages_in.query"),
        sum(&peers, "messages_out.query")
    );
    // The simulator serves no files and says so.
    assert!(
        peers.iter().all(|r| r["bytes_served"].is_null()),
        "{peers:?}"
    );
}

#[test]
fn copies_lost_on_links_are_their_senders_drops() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("peers.jsonl");
    gnutella(&[
        "sim",
        "--topology",
        QUICKSTART,
        "--loss",
        "0.3",
        "--peer-stats",
        file.to_str().unwrap(),
    ]);
    let peers = rows(&file);
    let sent: u64 = peers.iter().map(|r| total(r, "messages_out")).sum();
    let received: u64 = peers.iter().map(|r| total(r, "messages_in")).sum();
    let drops = sum(&peers, "drops");
    assert!(drops > 0, "a loss of 0.3 loses some copies: {peers:?}");
    assert_eq!(
        sent,
        received + drops,
        "every copy sent arrived or was dropped"
    );
}

#[test]
fn a_launch_counts_what_the_simulator_counts_peer_by_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, live) = (dir.path().join("sim.jsonl"), dir.path().join("live.jsonl"));
    gnutella(&[
        "sim",
        "--topology",
        QUICKSTART,
        "--peer-stats",
        sim.to_str().unwrap(),
    ]);
    gnutella(&[
        "launch",
        QUICKSTART,
        "--run-workload",
        "--peer-stats",
        live.to_str().unwrap(),
    ]);
    let (sim, live) = (rows(&sim), rows(&live));
    assert_eq!(sim.len(), live.len());
    // The searches' descriptors; Pings and Pongs depend on how long the links were idle.
    let figures = |r: &Value| {
        let mut f = vec![r["peer"].clone()];
        for direction in ["messages_in", "messages_out"] {
            for kind in ["query", "query_hit", "push"] {
                f.push(r[direction][kind].clone());
            }
        }
        for field in ["duplicates", "answered", "answered_from_cache", "drops"] {
            f.push(r[field].clone());
        }
        f
    };
    for (s, l) in sim.iter().zip(&live) {
        assert_eq!(figures(s), figures(l), "\nsim:  {s}\nlive: {l}");
    }
    // The live peers serve files: a number (none downloaded here), never null.
    assert!(live.iter().all(|r| r["bytes_served"] == 0), "{live:?}");
}
