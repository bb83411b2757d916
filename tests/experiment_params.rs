//! Swept parameters (`sweep`: loss, latency, churn, replicas, cache size, walkers): a spec
//! lists values, the sweep runs each, results.csv gets a column per parameter, and bad
//! lists are refused with the place named.

mod experiment_support;

use std::path::Path;

use gnutella::experiment::spec::ExperimentSpec;

fn run_experiment(spec_text: &str, dir: &Path) -> (String, serde_json::Value, String) {
    let spec = dir.join("spec.json");
    std::fs::write(&spec, spec_text).unwrap();
    let out = dir.join("out");
    let stdout = experiment_support::experiment(&spec, &out, 2);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let summary =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    (csv, summary, stdout)
}

/// The CSV as (header, rows of cells).
fn table(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = csv.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn a_swept_loss_list_runs_every_value_with_its_own_column() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, summary, stdout) = run_experiment(
        r#"{
          "name": "loss",
          "topologies": ["ring:n=12"],
          "strategies": ["flood"],
          "ttls": [2, 20],
          "seeds": [1, 2],
          "workload": { "files": 6, "placement": {"kind": "replicas", "per_file": 2}, "queries": 20 },
          "sim": { "latency_ms": 5, "settle_ms": 2000 },
          "sweep": { "loss": [0, 0.5] }
        }"#,
        dir.path(),
    );
    let (header, rows) = table(&csv);
    assert_eq!(
        &header[..7],
        ["topology", "nodes", "links", "strategy", "ttl", "seed", "loss"]
    );
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // 2 TTLs x 2 seeds x 2 loss values
    assert_eq!(rows.len(), 8);
    for loss in ["0", "0.5"] {
        assert_eq!(
            rows.iter().filter(|r| r[col("loss")] == loss).count(),
            4,
            "rows with loss {loss}"
        );
    }
    for row in &rows {
        let messages: f64 = row[col("messages_per_query")].parse().unwrap();
        if row[col("ttl")] == "20" && row[col("loss")] == "0" {
            // Closed form: a flood around a ring of 12 sends 13 query messages.
            assert_eq!(messages, 13.0);
        }
        if row[col("ttl")] == "20" && row[col("loss")] == "0.5" {
            // Half the copies die on their link: the flood stops early.
            assert!(messages < 13.0, "{row:?}");
        }
    }
    // Means are kept apart per loss value and carry it.
    let means = summary["means"].as_array().unwrap();
    assert_eq!(means.len(), 4);
    assert_eq!(means[0]["params"]["loss"], 0.0);
    assert_eq!(summary["runs"][0]["params"]["loss"], 0.0);
    // Success against loss gets its own plot.
    assert!(dir.path().join("out/vs_loss.svg").is_file(), "{stdout}");
}

#[test]
fn walkers_and_cache_size_cross_only_the_strategies_that_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _, _) = run_experiment(
        r#"{
          "topologies": ["random:n=40,d=4|label=r40"],
          "strategies": ["flood", "walk:2", "flood+cache"],
          "ttls": [3],
          "ttls_by_strategy": { "walk:2": [16] },
          "workload": { "files": 5, "placement": {"kind": "replicas", "per_file": 2}, "queries": 10 },
          "sim": { "settle_ms": 2000 },
          "sweep": { "walkers": [1, 4], "cache_capacity": [2, 64], "replicas": [1, 3] }
        }"#,
        dir.path(),
    );
    let (header, rows) = table(&csv);
    assert_eq!(
        &header[6..9],
        ["replicas", "cache_capacity", "walkers"],
        "one column per swept parameter, in a fixed order"
    );
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let strategies: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r[col("strategy")].as_str(),
                r[col("replicas")].as_str(),
                r[col("cache_capacity")].as_str(),
                r[col("walkers")].as_str(),
            )
        })
        .collect();
    // Per replica count: flood once, walk:1 and walk:4, flood+cache per cache size.
    assert_eq!(rows.len(), 2 * (1 + 2 + 2));
    assert!(strategies.contains(&("flood", "1", "", "")));
    assert!(strategies.contains(&("walk:1", "3", "", "1")));
    assert!(strategies.contains(&("walk:4", "3", "", "4")));
    assert!(strategies.contains(&("flood+cache", "1", "64", "")));
    assert_eq!(
        strategies.iter().filter(|s| s.0 == "flood").count(),
        2,
        "flood does not depend on walkers or cache size: one run per replica count"
    );
}

#[test]
fn a_spec_without_sweep_keeps_its_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, summary, _) = run_experiment(
        r#"{"topologies": ["ring:n=8"], "strategies": ["flood"], "ttls": [1, 2],
            "workload": {"files": 2, "placement": {"kind": "replicas", "per_file": 1}, "queries": 4},
            "sim": {"settle_ms": 1000}}"#,
        dir.path(),
    );
    let (header, _) = table(&csv);
    assert_eq!(
        &header[..7],
        ["topology", "nodes", "links", "strategy", "ttl", "seed", "queries"]
    );
    assert!(summary["means"][0].get("params").is_none());
    assert!(summary["spec"].get("sweep").is_none());
}

#[test]
fn bad_sweep_lists_are_refused_with_the_place_named() {
    let base = r#""topologies": ["ring:n=5"], "strategies": ["flood", "flood+cache"], "ttls": [1]"#;
    let cases = [
        (
            r#""sweep": {"loss": [0, 1.5]}"#,
            "`sweep.loss[1]` must be a probability within 0..=1, not 1.5",
        ),
        (
            r#""sweep": {"loss": []}"#,
            "`sweep.loss` must list at least one value",
        ),
        (
            r#""sweep": {"loss": [0.1, 0.1]}"#,
            "`sweep.loss` lists 0.1 twice",
        ),
        (r#""sweep": {"latency_ms": [-1]}"#, "`sweep.latency_ms[0]`"),
        (
            r#""sweep": {"walkers": [4]}"#,
            "`sweep.walkers` needs a `walk:K` strategy",
        ),
        (
            r#""sweep": {"replicas": [0]}"#,
            "`sweep.replicas[0]` must be within 1..",
        ),
        (
            r#""sweep": {"cache_capacity": [0]}"#,
            "`sweep.cache_capacity[0]`",
        ),
        (
            r#""sweep": {"churn": [null, {"mean_session_ms": 0, "mean_downtime_ms": 5}]}"#,
            "`sweep.churn[1]`: `mean_session_ms` must be",
        ),
        (
            r#""sweep": {"churn": [{"mean_session_ms": 10}]}"#,
            "at `sweep.churn[0]`",
        ),
        (r#""sweep": {"los": [0.1]}"#, "unknown field `los`"),
        (r#""sweep": {"loss": 0.1}"#, "at `sweep.loss`"),
        (
            r#""sim": {"churn": {"mean_session_ms": 100, "mean_downtime_ms": -1}}"#,
            "`sim.churn`: `mean_downtime_ms`",
        ),
    ];
    for (extra, expected) in cases {
        let text = format!("{{{base}, {extra}}}");
        let err = ExperimentSpec::parse(&text, "spec.json")
            .and_then(|spec| spec.resolve(None))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected),
            "spec {text}\n gave {err:?}, expected it to mention {expected:?}"
        );
    }
    // Two walk strategies that a walker sweep would turn into the same runs.
    let err = ExperimentSpec::parse(
        r#"{"topologies": ["ring:n=5"], "strategies": ["walk:2", "walk:8"], "ttls": [4],
            "sweep": {"walkers": [1, 2]}}"#,
        "spec.json",
    )
    .and_then(|spec| spec.resolve(None))
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`walk:2` and `walk:8` would run the same walks"),
        "{err}"
    );
}

#[test]
fn run_count_crosses_only_what_applies() {
    let spec = ExperimentSpec::parse(
        r#"{"topologies": ["ring:n=5", "ring:n=6"], "strategies": ["flood", "walk:2", "ring+cache"],
            "ttls": [1, 2], "seeds": [1, 2, 3],
            "sweep": {"loss": [0, 0.1], "walkers": [1, 2, 3], "cache_capacity": [4, 8]}}"#,
        "spec.json",
    )
    .unwrap()
    .resolve(None)
    .unwrap();
    // per topology and seed: (flood 2 + walk 2x3 + ring+cache 2x2) TTL runs, x 2 losses
    assert_eq!(spec.run_count(), 2 * 3 * (2 + 6 + 4) * 2);
}
