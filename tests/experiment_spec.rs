//! Sweep specs: good ones resolve into the runs they describe; bad ones get an error that
//! names the place and the problem.

use gnutella::experiment::spec::{ExperimentSpec, TopologySource};
use gnutella::node::{Forwarding, StrategySpec};

fn resolve(text: &str) -> Result<gnutella::experiment::spec::ResolvedSpec, String> {
    ExperimentSpec::parse(text, "spec.json")
        .and_then(|spec| spec.resolve(None))
        .map_err(|e| e.to_string())
}

#[test]
fn a_good_spec_resolves_into_its_runs() {
    let spec = resolve(
        r#"{"name": "t", "topologies": ["random:n=100,d=4", "ring:n=10|label=small ring"],
            "strategies": ["flood", "walk:8", "flood+cache", "ring"],
            "ttls": [2, 3], "ttls_by_strategy": {"walk:8": [32]}, "seeds": [1, 2, 3]}"#,
    )
    .unwrap();
    assert_eq!(spec.topologies[1].label, "small ring");
    assert!(matches!(
        spec.topologies[0].source,
        TopologySource::Generated(_)
    ));
    assert_eq!(
        spec.strategies[1],
        (
            StrategySpec {
                forwarding: Forwarding::Walk { walkers: 8 },
                cache: false
            },
            vec![32]
        )
    );
    assert_eq!(spec.strategies[2].1, vec![2, 3]);
    // 2 topologies x (2 + 1 + 2 + 2 TTLs) x 3 seeds
    assert_eq!(spec.run_count(), 42);
}

#[test]
fn strategy_names_round_trip() {
    for name in ["flood", "ring", "walk:16", "flood+cache"] {
        assert_eq!(name.parse::<StrategySpec>().unwrap().to_string(), name);
    }
    assert!("walk:0"
        .parse::<StrategySpec>()
        .unwrap_err()
        .contains("walk:K"));
    assert!("gossip"
        .parse::<StrategySpec>()
        .unwrap_err()
        .contains("unknown strategy \"gossip\""));
}

#[test]
fn errors_name_the_file_the_key_and_the_problem() {
    let cases = [
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [1], "seedz": [1]}"#,
            "unknown field `seedz`",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [1], "sim": {"latency": 3}}"#,
            "sim",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [300]}"#,
            "ttls",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"]}"#,
            "missing field `ttls`",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["fludd"], "ttls": [1]}"#,
            "`strategies[0]`: unknown strategy \"fludd\"",
        ),
        (
            r#"{"topologies": ["hexagon:n=5"], "strategies": ["flood"], "ttls": [1]}"#,
            "`topologies[0]`",
        ),
        (
            r#"{"topologies": ["file:/nonexistent/x.txt"], "strategies": ["flood"], "ttls": [1]}"#,
            "not found",
        ),
        (
            r#"{"topologies": [], "strategies": ["flood"], "ttls": [1]}"#,
            "at least one topology",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [0]}"#,
            "from 1 to 255",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [1], "ttls_by_strategy": {"ring": [2]}}"#,
            "not in `strategies`",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [1], "workload": {"miss_rate": 2}}"#,
            "miss_rate",
        ),
        (
            r#"{"topologies": ["ring:n=5"], "strategies": ["flood"], "ttls": [1], "workload": {"placement": {"kind": "everywhere"}}}"#,
            "everywhere",
        ),
        ("{not json", "spec.json"),
    ];
    for (text, expected) in cases {
        let err = resolve(text).unwrap_err();
        assert!(
            err.contains(expected),
            "spec {text}\n gave {err:?}, expected it to mention {expected:?}"
        );
    }
}

#[test]
fn a_missing_spec_file_is_named() {
    let err = ExperimentSpec::load(std::path::Path::new("/nonexistent/spec.json")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/spec.json"), "{err}");
}

/// Every example under experiments/ is a spec the command accepts (the README runs them).
#[test]
fn the_shipped_experiments_resolve() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let spec = ExperimentSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(spec.run_count() > 0, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} specs in {}", dir.display());
}
