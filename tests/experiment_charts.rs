//! What a sweep's plots show: means with their spread over seeds, TTL axes that never mix
//! flooding and walkers, labelled trade-off points, and only the plots with something to
//! compare.

mod experiment_support;

use std::path::Path;

use gnutella::experiment::aggregate::aggregate;
use gnutella::experiment::charts::{plan, Chart, PlotOutcome};
use gnutella::experiment::params::Params;
use gnutella::experiment::spec::ExperimentSpec;
use gnutella::experiment::summary::{Figure, Summary};
use gnutella::experiment::sweep::{run_sweep, RunResult};

fn run(seed: u64, success_rate: f64, first_hit_hops_mean: Option<f64>) -> RunResult {
    RunResult {
        topology: "ring".into(),
        nodes: 10,
        links: 10,
        strategy: "flood".into(),
        ttl: 3,
        seed,
        params: Params::default(),
        summary: Summary {
            queries: 10,
            success_rate,
            messages_per_query: 10.0 * success_rate,
            first_hit_hops_mean,
            ..Summary::default()
        },
        over_time: Vec::new(),
    }
}

#[test]
fn means_come_with_the_standard_deviation_over_seeds_and_its_n() {
    // Success 1.0, 0.5, 0.75: mean 0.75, squares 0.0625 + 0.0625 + 0 over n - 1 = 2,
    // sample standard deviation sqrt(0.0625) = 0.25. Hops are known in two seeds only.
    let rows = aggregate(&[
        run(1, 1.0, Some(2.0)),
        run(2, 0.5, Some(4.0)),
        run(3, 0.75, None),
    ]);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.seeds, 3);
    assert_eq!(row.summary.success_rate, 0.75);
    assert_eq!(row.std.get(Figure::SuccessRate), Some(0.25));
    assert_eq!(row.std.get(Figure::MessagesPerQuery), Some(2.5));
    assert_eq!(row.n.get(Figure::SuccessRate), 3);
    // sqrt(((2-3)^2 + (4-3)^2) / 1) = sqrt(2)
    assert_eq!(row.std.get(Figure::FirstHitHopsMean), Some(2f64.sqrt()));
    assert_eq!(row.n.get(Figure::FirstHitHopsMean), 2);

    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["summary"]["success_rate"], 0.75);
    assert_eq!(json["std"]["success_rate"], 0.25);
    assert_eq!(json["n"]["first_hit_hops_mean"], 2);

    // One seed: a mean without a spread to show.
    let single = aggregate(&[run(1, 0.5, Some(3.0))]);
    assert_eq!(single[0].std.get(Figure::SuccessRate), None);
    let json = serde_json::to_value(&single[0]).unwrap();
    assert!(json["std"]["success_rate"].is_null());
    assert_eq!(json["n"]["success_rate"], 1);
}

fn experiment(spec: &Path, out: &Path) -> String {
    experiment_support::experiment(spec, out, 2)
}

#[test]
fn a_one_strategy_one_topology_sweep_skips_the_comparison_plots() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("one.json");
    std::fs::write(
        &spec,
        r#"{"name": "one", "topologies": ["ring:n=10"], "strategies": ["flood"], "ttls": [1, 2, 3],
            "seeds": [1, 2],
            "workload": {"files": 4, "placement": {"kind": "replicas", "per_file": 2}, "queries": 6},
            "sim": {"settle_ms": 1000}}"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    // A comparison plot from an earlier sweep into the same directory must not survive.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("strategies.svg"), "<svg>old</svg>").unwrap();
    let stdout = experiment(&spec, &out);

    for skipped in [
        "strategies.svg",
        "duplicates_by_topology.svg",
        "success_vs_messages.svg",
        "cache_hit_rate_vs_ttl.svg",
    ] {
        assert!(!out.join(skipped).exists(), "{skipped} was written");
        assert!(
            stdout.contains(&format!("  {skipped}: ")),
            "{skipped} not reported as skipped:\n{stdout}"
        );
    }
    assert!(stdout.contains("strategies.svg: one strategy: nothing to compare"));
    assert!(stdout.contains("duplicates_by_topology.svg: one topology: nothing to compare"));
    for drawn in [
        "messages_vs_ttl.svg",
        "success_vs_ttl.svg",
        "first_hit_hops_vs_ttl.svg",
    ] {
        assert!(out.join(drawn).is_file(), "{drawn} missing:\n{stdout}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let skipped: Vec<&str> = summary["plots"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert!(skipped.contains(&"strategies.svg"), "{skipped:?}");
    assert!(summary["plots"]["drawn"]
        .as_array()
        .unwrap()
        .contains(&"messages_vs_ttl.svg".into()));
}

#[test]
fn walkers_and_floods_get_their_own_ttl_axes_and_trade_off_points_their_ttl() {
    let spec = ExperimentSpec::parse(
        r#"{"name": "mix", "topologies": ["random:n=60,d=4"],
            "strategies": ["flood", "ring", "walk:4"], "ttls": [2, 3],
            "ttls_by_strategy": {"walk:4": [16, 64]}, "seeds": [1, 2],
            "workload": {"files": 6, "placement": {"kind": "replicas", "per_file": 3}, "queries": 8},
            "sim": {"settle_ms": 2000}}"#,
        "mix.json",
    )
    .unwrap()
    .resolve(None)
    .unwrap();
    let rows = aggregate(&run_sweep(&spec, 2, &|_| {}).unwrap());
    let plots = plan(&spec, &rows);
    let chart = |file: &str| -> Chart {
        match &plots.iter().find(|p| p.file == file).unwrap().outcome {
            PlotOutcome::Draw(chart) => chart.clone(),
            PlotOutcome::Skip(why) => panic!("{file} skipped: {why}"),
        }
    };

    for file in [
        "messages_vs_ttl.svg",
        "success_vs_ttl.svg",
        "duplicates_vs_ttl.svg",
    ] {
        let Chart::Lines { panels, title } = chart(file) else {
            panic!("{file} is not a line chart")
        };
        assert!(title.contains("mean of 2 seeds"), "{title}");
        assert_eq!(panels.len(), 2, "{file}: one panel per family");
        let xs = |i: usize| -> Vec<f64> {
            panels[i]
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.x))
                .collect()
        };
        assert_eq!(panels[0].title, "flood and ring");
        assert!(xs(0).iter().all(|x| *x <= 3.0), "{file}: {:?}", xs(0));
        assert_eq!(panels[1].title, "random walkers");
        assert!(xs(1).iter().all(|x| *x >= 16.0), "{file}: {:?}", xs(1));
    }

    let Chart::Lines { panels, .. } = chart("success_vs_messages.svg") else {
        panic!("not a line chart")
    };
    let labels: Vec<(String, Vec<String>)> = panels[0]
        .series
        .iter()
        .map(|s| {
            (
                s.name.clone(),
                s.points.iter().map(|p| p.label.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(labels[0], ("flood".into(), vec!["2".into(), "3".into()]));
    assert_eq!(labels[1], ("ring".into(), vec!["2".into(), "3".into()]));
    // Walks that stop growing land on one spot: one label names the run of TTLs there.
    assert_eq!(labels[2].0, "walk:4");
    assert!(
        labels[2].1 == ["16", "64"] || labels[2].1 == ["16–64", ""],
        "{:?}",
        labels[2]
    );
    // The trade-off carries both spreads: cost across, success up and down.
    let walk = &panels[0].series[2].points[1];
    let walk_row = rows
        .iter()
        .find(|r| r.strategy == "walk:4" && r.ttl == 64)
        .unwrap();
    assert_eq!(walk.x_sd, walk_row.sd(Figure::MessagesPerQuery));
    assert_eq!(walk.y_sd, walk_row.sd(Figure::SuccessRate));
}
