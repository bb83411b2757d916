//! Removal as a swept experiment parameter (`sweep.remove_kind`, `sweep.remove_fraction`,
//! `sim.remove_*`): each run gets its columns and the overlay figures, and bad values are
//! refused with the place named.

mod experiment_support;

use gnutella::experiment::spec::ExperimentSpec;

const BASE: &str = r#""topologies": ["star:n=20"], "strategies": ["flood"], "ttls": [2],
    "seeds": [1],
    "workload": { "files": 4, "placement": {"kind": "replicas", "per_file": 2}, "queries": 10 },
    "sim": { "latency_ms": 5, "settle_ms": 1000 }"#;

#[test]
fn a_removal_sweep_runs_each_kind_and_fraction_with_the_overlay_figures() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        format!(
            r#"{{"name": "removal", {BASE},
              "sweep": {{"remove_kind": ["random", "targeted"], "remove_fraction": [0, 0.05]}}}}"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    experiment_support::experiment(&spec, &out, 1);
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    let (kind, fraction, lcc) = (
        col("remove_kind"),
        col("remove_fraction"),
        col("largest_component_fraction"),
    );
    col("mean_degree_start");
    col("mean_degree_end");
    for row in &rows {
        let expected = match (row[kind], row[fraction]) {
            (_, "0") => "1",
            // One peer of 20: the hub, under attack, leaves 19 isolated peers (1/20 each).
            ("targeted", "0.05") => "0.05",
            // A random peer: a leaf leaves a star of 19, the hub isolated peers.
            ("random", "0.05") if row[lcc] == "0.05" => "0.05",
            ("random", "0.05") => "0.95",
            other => panic!("unexpected row {other:?}"),
        };
        assert_eq!(row[lcc], expected, "{row:?}");
    }
    assert!(out.join("vs_remove_fraction.svg").exists());
}

#[test]
fn bad_removal_settings_name_their_place() {
    let cases = [
        (
            r#""sweep": {"remove_fraction": [0.1, 1.5]}"#,
            "`sweep.remove_fraction[1]` must be a share of peers within 0..=1, not 1.5",
        ),
        (
            r#""sweep": {"remove_kind": ["sideways"]}"#,
            "sweep.remove_kind",
        ),
    ];
    for (extra, expected) in cases {
        let text = format!("{{{BASE}, {extra}}}");
        let err = ExperimentSpec::parse(&text, "spec.json")
            .and_then(|spec| spec.resolve(None))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected),
            "{text}\n gave {err:?}, expected {expected:?}"
        );
    }
    let text = format!("{{{BASE}}}").replace(
        r#""settle_ms": 1000"#,
        r#""settle_ms": 1000, "remove_fraction": 2"#,
    );
    let err = ExperimentSpec::parse(&text, "spec.json")
        .and_then(|spec| spec.resolve(None))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`sim.remove_fraction`"), "{err}");
}
