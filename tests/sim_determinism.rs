//! The simulator's promise: the same seed and inputs give byte-identical output, and a
//! different seed gives a different run. Checked through the real command line, so every
//! layer (generator, workload, engine, nodes, recorder, writers) is covered.

use std::process::Command;

fn sim(args: &[&str]) -> Vec<u8> {
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
    out.stdout
}

fn with_seed<'a>(base: &[&'a str], seed: &'a str) -> Vec<&'a str> {
    let mut args = base.to_vec();
    args.extend(["--seed", seed]);
    args
}

#[test]
fn same_seed_gives_identical_csv_bytes_and_another_seed_differs() {
    let base = [
        "--gen",
        "random:n=500,d=6",
        "--ttl",
        "4",
        "--queries",
        "40",
        "--replicas",
        "5",
        "--latency",
        "5..40",
        "--csv",
    ];
    let a = sim(&with_seed(&base, "11"));
    let b = sim(&with_seed(&base, "11"));
    let c = sim(&with_seed(&base, "12"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let text = String::from_utf8(a).unwrap();
    assert_eq!(text.lines().count(), 41, "a header and one row per query");
    assert!(text.starts_with("guid,query,origin,"));
}

#[test]
fn churn_and_loss_runs_stay_deterministic() {
    let base = [
        "--gen",
        "ba:n=400,m=2",
        "--ttl",
        "5",
        "--queries",
        "30",
        "--every-ms",
        "500",
        "--churn",
        "4000:2000",
        "--loss",
        "0.05",
        "--latency",
        "5..50",
        "--latency-per-message",
        "--json",
    ];
    let a = sim(&with_seed(&base, "3"));
    let b = sim(&with_seed(&base, "3"));
    assert_eq!(a, b);
    let report: serde_json::Value = serde_json::from_slice(&a).unwrap();
    let queries = report["queries"].as_array().unwrap();
    // With a third of the peers away at any time some origins are offline and skipped.
    assert!(
        !queries.is_empty() && queries.len() < 30,
        "{} queries ran",
        queries.len()
    );
    assert!(report["summary"]["success_rate"].as_f64().unwrap() > 0.0);
    assert_ne!(a, sim(&with_seed(&base, "4")));
}

#[test]
fn json_report_has_the_summary_fields_users_compare() {
    let out = sim(&[
        "--gen",
        "ring:n=12",
        "--ttl",
        "12",
        "--queries",
        "3",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for field in [
        "success_rate",
        "messages_per_query",
        "duplicates_fraction",
        "peers_reached_per_query",
        "first_hit_hops_mean",
        "latency_ms_mean",
        "messages_per_node_mean",
        "messages_per_node_max",
        "cache_hit_rate",
    ] {
        assert!(
            report["summary"].get(field).is_some(),
            "summary lacks {field}"
        );
    }
    assert_eq!(report["summary"]["messages_per_query"], 13.0);
    assert_eq!(report["queries"].as_array().unwrap().len(), 3);
}

#[test]
fn bad_arguments_are_clear_errors() {
    for (args, needle) in [
        (
            vec!["--gen", "ring:n=12", "--strategy", "teleport"],
            "unknown strategy",
        ),
        (vec!["--gen", "moebius:n=3"], "unknown topology kind"),
        (vec!["--gen", "ring:n=12", "--loss", "2"], "probability"),
        (
            vec!["--topology", "/nonexistent/topology.json"],
            "cannot read",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .arg("sim")
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_topology_config_runs_its_own_workload_with_its_peer_names() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/topology-configs/quickstart.json"
    );
    if !std::path::Path::new(path).exists() {
        eprintln!("skipped: {path} is absent");
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let planned = config["workload"]["queries"].as_array().unwrap();
    let out = sim(&["--topology", path, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), planned.len());
    for (ran, plan) in queries.iter().zip(planned) {
        assert_eq!(ran["origin"], plan["from"]);
        assert_eq!(ran["query"], plan["words"]);
    }
}
