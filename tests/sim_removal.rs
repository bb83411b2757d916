//! Removal experiments in the simulator (`--remove random:F|targeted:F`): removed peers
//! are gone for good, the pick is a function of the seed, targeted removal takes the
//! highest-degree peers first, and the overlay figures and the per-second timeseries say
//! what is left.

use std::collections::BTreeMap;
use std::process::Command;

use gnutella::node::Time;
use gnutella::sim::{
    overlay_shape, Links, PlannedQuery, Removal, RemovalKind, SimConfig, Simulation,
};

fn sim(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .args(args)
        .output()
        .expect("run gnutella sim");
    assert!(
        out.status.success(),
        "gnutella sim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn summary(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let json: serde_json::Value = serde_json::from_str(&sim(&all)).unwrap();
    json["summary"].clone()
}

/// A star: hub 0 linked to peers 1..n.
fn star(n: u32) -> Links {
    Links::from_edges(n, (1..n).map(|v| (0, v)))
}

fn removal(kind: RemovalKind, fraction: f64) -> Removal {
    Removal {
        kind,
        fraction,
        at_us: 0,
    }
}

#[test]
fn removal_is_deterministic_per_seed() {
    let base = [
        "--gen",
        "ba:n=500,m=2",
        "--ttl",
        "4",
        "--queries",
        "30",
        "--remove",
        "random:0.2",
        "--csv",
    ];
    let with = |seed: &str| {
        let mut args = base.to_vec();
        args.extend(["--seed", seed]);
        sim(&args)
    };
    assert_eq!(with("5"), with("5"));
    assert_ne!(with("5"), with("6"));
    let links = Links::from_edges(100, (0..99).map(|u| (u, u + 1)));
    let pick = |seed| removal(RemovalKind::Random, 0.3).pick(&links, seed);
    assert_eq!(pick(1), pick(1));
    assert_ne!(pick(1), pick(2));
    assert_eq!(pick(1).len(), 30);
}

#[test]
fn targeted_removal_takes_the_highest_degree_peers_first() {
    // Peer 7 has degree 4, peers 3 and 5 degree 3 (ties by index), the rest less.
    let edges = [
        (7, 0),
        (7, 1),
        (7, 2),
        (7, 8),
        (3, 4),
        (3, 6),
        (3, 9),
        (5, 4),
        (5, 6),
        (5, 9),
    ];
    let links = Links::from_edges(10, edges);
    let picked = removal(RemovalKind::Targeted, 0.3).pick(&links, 1);
    assert_eq!(picked, vec![7, 3, 5]);
    // Through the command line: removing a star's hub leaves isolated peers.
    let s = summary(&[
        "--gen",
        "star:n=10",
        "--remove",
        "targeted:0.1",
        "--queries",
        "5",
    ]);
    assert_eq!(s["largest_component_fraction"], 0.1);
    assert_eq!(s["mean_degree_end"], 0.0);
    assert_eq!(s["mean_degree_start"], 1.8);
}

#[test]
fn largest_component_of_a_star_without_its_hub_is_one_peer() {
    let links = star(10);
    let mut online = vec![true; 10];
    let whole = overlay_shape(&links, &online);
    assert_eq!(whole.largest_component_fraction, 1.0);
    assert_eq!(whole.online, 10);
    assert!((whole.mean_degree - 1.8).abs() < 1e-12);
    online[0] = false;
    let broken = overlay_shape(&links, &online);
    assert_eq!(broken.largest_component_fraction, 0.1);
    assert_eq!(broken.online, 9);
    assert_eq!(broken.mean_degree, 0.0);
    // A leaf gone: the rest stays connected, measured against all 10 peers.
    online[0] = true;
    online[4] = false;
    assert_eq!(
        overlay_shape(&links, &online).largest_component_fraction,
        0.9
    );
}

#[test]
fn queries_of_removed_origins_are_skipped_and_counted() {
    let config = SimConfig {
        removal: Some(removal(RemovalKind::Targeted, 0.1)),
        ..SimConfig::default()
    };
    let simulation = Simulation::new(star(10), config, BTreeMap::new(), 1);
    let queries: Vec<PlannedQuery> = (0..4)
        .map(|i| PlannedQuery::new(Time(i * 1_000_000), i as u32, "needle", 3))
        .collect();
    let report = simulation.run(&queries);
    assert_eq!(report.stats.removed, 1);
    assert_eq!(report.stats.skipped_removed, 1, "the hub's query");
    assert_eq!(report.records.len(), 3);
    assert_eq!(report.planned_index, vec![1, 2, 3]);
    // The leaves' floods reach nobody: their only link went with the hub.
    assert!(report.records.iter().all(|r| r.peers_reached == 0));
    let text = sim(&[
        "--gen",
        "star:n=10",
        "--remove",
        "targeted:0.1",
        "--queries",
        "10",
    ]);
    assert!(
        text.contains("removed 1 peers; 1 queries skipped (origin removed)"),
        "{text}"
    );
}

#[test]
fn removal_later_in_the_run_shows_in_the_timeseries() {
    let dir = std::env::temp_dir().join(format!("gnutella-removal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ts.csv");
    let path_s = path.to_str().unwrap();
    sim(&[
        "--gen",
        "star:n=20",
        "--remove",
        "targeted:0.05",
        "--remove-at",
        "3500",
        "--queries",
        "6",
        "--every-ms",
        "1000",
        "--settle-secs",
        "2",
        "--timeseries",
        path_s,
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("second,online_peers,mean_degree,largest_component_fraction,queries_started,queries_succeeded")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // Queries start at 0..5 s, the run settles 2 s after the last: seconds 0 to 7 at most,
    // one row each, numbered in order.
    assert!(rows.len() >= 6, "{text}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 6);
        assert_eq!(row[0], i.to_string());
    }
    // Before 3.5 s everyone is online; from second 3 on the hub is gone.
    assert_eq!(rows[2][1], "20");
    assert_eq!(rows[2][3], "1");
    assert_eq!(rows[3][1], "19");
    assert_eq!(rows[3][3], "0.05");
    let started: u64 = rows.iter().map(|r| r[4].parse::<u64>().unwrap()).sum();
    assert!(started >= 5, "queries by online origins all start: {text}");
    std::fs::remove_dir_all(&dir).ok();
    // A folder that does not exist is refused before the run.
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args([
            "sim",
            "--gen",
            "ring:n=5",
            "--timeseries",
            "/nonexistent-dir/ts.csv",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--timeseries"));
}

#[test]
fn bad_removal_specs_are_refused_with_the_flag_named() {
    for bad in ["random", "sideways:0.1", "random:1.5", "targeted:-0.1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .args(["sim", "--gen", "ring:n=5", "--remove", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--remove"), "{bad}: {err}");
    }
}
