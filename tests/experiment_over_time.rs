//! A sweep over `overlay` (static or dynamic) with figures over virtual time: every run
//! writes its buckets to `over_time.csv`, `summary.json` gets their means over seeds,
//! `over_time.svg` draws them, and bad values are refused with the place named.

mod experiment_support;

use gnutella::experiment::spec::ExperimentSpec;

const SPEC: &str = r#"{"name": "heal",
    "topologies": ["regular:n=300,d=4|label=regular"], "strategies": ["flood"], "ttls": [4],
    "seeds": [1, 2],
    "workload": { "files": 10, "placement": {"kind": "replicas", "per_file": 3},
                  "queries": 40, "arrival": {"kind": "fixed", "every_ms": 500} },
    "sim": { "latency_ms": 5, "settle_ms": 1000, "remove_fraction": 0.3, "remove_at_ms": 6000,
             "overlay": {"mode": "static", "min_degree": 4, "max_degree": 8} },
    "sweep": { "overlay": ["static", "dynamic"] },
    "over_time": { "bucket_secs": 2 }}"#;

fn experiment(spec: &std::path::Path, out: &std::path::Path) -> String {
    experiment_support::experiment(spec, out, 2)
}

#[test]
fn an_overlay_sweep_over_time_shows_the_dynamic_overlay_healing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("heal.json");
    std::fs::write(&spec, SPEC).unwrap();
    let out = dir.path().join("out");
    experiment(&spec, &out);

    let csv = std::fs::read_to_string(out.join("over_time.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 4 runs of 20 s of queries: at least 10 buckets of 2 s each.
    assert!(rows.len() >= 4 * 10, "{} rows", rows.len());
    let (overlay, from, degree) = (col("overlay"), col("from_s"), col("mean_degree"));
    let degree_at = |mode: &str, seed: &str, second: &str| -> f64 {
        rows.iter()
            .find(|r| r[overlay] == mode && r[col("seed")] == seed && r[from] == second)
            .map(|r| r[degree].parse().unwrap())
            .unwrap()
    };
    for seed in ["1", "2"] {
        assert_eq!(degree_at("static", seed, "4"), 4.0, "before the removal");
        assert_eq!(degree_at("dynamic", seed, "4"), 4.0);
        assert!(degree_at("static", seed, "10") < 3.2);
        assert!(degree_at("dynamic", seed, "10") >= 4.0);
    }
    col("success_rate");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let lines = summary["over_time"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["params"]["overlay"], "static");
    assert_eq!(lines[1]["params"]["overlay"], "dynamic");
    assert_eq!(lines[1]["seeds"], 2);
    let point = &lines[1]["points"][5];
    assert_eq!(point["from_s"], 10);
    assert!(point["mean_degree"]["mean"].as_f64().unwrap() >= 4.0);
    assert!(point["mean_degree"]["std"].is_number());
    // Only the dynamic runs dial.
    let means = summary["means"].as_array().unwrap();
    assert!(means[0]["summary"].get("dials").is_none());
    assert!(means[1]["summary"]["dials"].as_u64().unwrap() > 0);

    let svg = std::fs::read_to_string(out.join("over_time.svg")).unwrap();
    for text in [
        "mean degree of online peers",
        "virtual time (s)",
        "static",
        "dynamic",
    ] {
        assert!(svg.contains(text), "{text} not in over_time.svg");
    }
    assert!(out.join("vs_overlay.svg").is_file());

    // The same spec again gives the same bytes.
    let again = dir.path().join("again");
    experiment(&spec, &again);
    for file in ["over_time.csv", "summary.json", "over_time.svg"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file}"
        );
    }

    // Without `over_time` the sweep drops an earlier sweep's over-time files.
    let without = SPEC.replace(",\n    \"over_time\": { \"bucket_secs\": 2 }", "");
    assert!(!without.contains("over_time"));
    std::fs::write(&spec, without).unwrap();
    let stdout = experiment(&spec, &out);
    assert!(!out.join("over_time.csv").exists());
    assert!(!out.join("over_time.svg").exists());
    assert!(
        stdout.contains("over_time.svg: the spec has no `over_time`"),
        "{stdout}"
    );
}

#[test]
fn bad_overlay_settings_are_refused_with_their_place() {
    let refused = |text: &str| -> String {
        match ExperimentSpec::parse(text, "spec.json").and_then(|s| s.resolve(None)) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    };
    let with = |extra: &str| {
        format!(r#"{{"topologies": ["ring:n=10"], "strategies": ["flood"], "ttls": [2], {extra}}}"#)
    };
    let e = refused(&with(
        r#""sim": {"overlay": {"mode": "dynamic", "min_degree": 0}}"#,
    ));
    assert!(e.contains("sim.overlay.min_degree"), "{e}");
    let e = refused(&with(r#""sweep": {"overlay": ["static", "fluid"]}"#));
    assert!(e.contains("sweep.overlay"), "{e}");
    let e = refused(&with(r#""over_time": {"bucket_secs": 0}"#));
    assert!(e.contains("over_time.bucket_secs"), "{e}");
    let e = refused(&with(r#""over_time": {"bucket": 5}"#));
    assert!(e.contains("over_time"), "{e}");
}
