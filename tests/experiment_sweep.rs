//! A tiny sweep end to end: `gnutella experiment` writes results.csv, summary.json and the
//! plots; the same spec gives the same bytes; the numbers obey the closed forms.

use std::path::Path;
use std::process::Command;

const SPEC: &str = r#"{
  "name": "tiny",
  "topologies": ["ring:n=12", "random:n=60,d=4|label=random60"],
  "strategies": ["flood", "flood+cache"],
  "ttls": [1, 2, 20],
  "seeds": [1, 2],
  "workload": { "files": 10, "placement": {"kind": "replicas", "per_file": 2},
                "popularity": {"kind": "zipf", "alpha": 1.0}, "queries": 12 },
  "sim": { "latency_ms": 5, "settle_ms": 2000 }
}"#;

fn run_experiment(spec: &Path, out: &Path, jobs: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("experiment")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(["--jobs", jobs])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn tiny_sweep_writes_results_summary_and_plots_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tiny.json");
    std::fs::write(&spec, SPEC).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // One worker or two: scheduling must not change a byte.
    run_experiment(&spec, &a, "2");
    run_experiment(&spec, &b, "1");

    for file in [
        "results.csv",
        "summary.json",
        "messages_vs_ttl.svg",
        "success_vs_ttl.svg",
        "duplicates_vs_ttl.svg",
        "first_hit_hops_vs_ttl.svg",
        "cache_hit_rate_vs_ttl.svg",
        "success_vs_messages.svg",
        "duplicates_by_topology.svg",
        "strategies.svg",
    ] {
        let first = std::fs::read(a.join(file)).unwrap();
        assert!(!first.is_empty(), "{file} is empty");
        assert_eq!(
            first,
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs between identical runs"
        );
    }

    let csv = std::fs::read_to_string(a.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..6],
        ["topology", "nodes", "links", "strategy", "ttl", "seed"]
    );
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 2 topologies x 2 strategies x 3 TTLs x 2 seeds
    assert_eq!(rows.len(), 24);
    for row in &rows {
        if row[0] == "ring:n=12" && row[3] == "flood" && row[4] == "20" {
            // A flood around a ring of N with a large TTL: N+1 query messages, 2 of them
            // duplicates, every other peer reached.
            assert_eq!(row[col("messages_per_query")], "13");
            assert_eq!(row[col("peers_reached_per_query")], "11");
            assert_eq!(row[col("success_rate")], "1");
        }
        if row[0] == "ring:n=12" && row[4] == "1" {
            assert_eq!(row[col("messages_per_query")], "2");
        }
    }

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["name"], "tiny");
    assert_eq!(summary["runs"].as_array().unwrap().len(), 24);
    assert_eq!(summary["means"].as_array().unwrap().len(), 12);
    assert_eq!(summary["means"][0]["seeds"], 2);
    // Each mean comes with its spread: the sample standard deviation of the two runs.
    let runs = summary["runs"].as_array().unwrap();
    let first = &summary["means"][0];
    let values: Vec<f64> = runs
        .iter()
        .filter(|r| {
            r["topology"] == first["topology"]
                && r["strategy"] == first["strategy"]
                && r["ttl"] == first["ttl"]
        })
        .map(|r| r["summary"]["messages_per_query"].as_f64().unwrap())
        .collect();
    assert_eq!(values.len(), 2);
    let expected = (values[0] - values[1]).abs() / 2f64.sqrt();
    let sd = first["std"]["messages_per_query"].as_f64().unwrap();
    assert!((sd - expected).abs() < 1e-9, "{sd} vs {expected}");
    assert_eq!(first["n"]["messages_per_query"], 2);

    let svg = std::fs::read_to_string(a.join("messages_vs_ttl.svg")).unwrap();
    assert!(
        svg.contains("random60 / flood+cache"),
        "series names missing from the plot"
    );
}

#[test]
fn a_bad_spec_fails_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.json");
    std::fs::write(
        &spec,
        r#"{"topologies": ["ring:n=5"], "strategies": ["flod"], "ttls": [1]}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args([
            "experiment",
            spec.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown strategy \"flod\""), "{stderr}");
    assert!(
        !dir.path().join("o").exists(),
        "nothing is written for a bad spec"
    );
}
