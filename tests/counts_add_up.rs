//! Every Query copy sent is accounted for once, in every launch mode and in the simulator:
//! `messages == peers_reached + duplicates + reforwards + refused + lost` for every record.
//! Where a live run had no re-forwards (a timing effect) and no losses, its counts equal
//! the simulator's for the same config and query.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gnutella::node::record::QueryRecord;

const RUNS: usize = 3;

fn config(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("topology-configs")
        .join(name)
}

fn records_of(json: &serde_json::Value) -> Vec<QueryRecord> {
    serde_json::from_value(json["queries"].clone()).expect("records in the report")
}

/// A copy of `config` beside `report` whose peers listen on ephemeral ports (the shipped
/// configs name fixed ports that another program on the machine may hold) and whose
/// shared folders are absolute.
fn port_zero_copy(config: &Path, report: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config).expect("the config reads");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("the config is JSON");
    let base = config.parent().expect("a config folder");
    for peer in json["peers"].as_array_mut().expect("peers") {
        let listen = peer["listen"].as_str().expect("listen").to_string();
        let ip = listen.rsplit_once(':').map_or("127.0.0.1", |(ip, _)| ip);
        peer["listen"] = serde_json::Value::String(format!("{ip}:0"));
        if let Some(dir) = peer["share"]["dir"].as_str() {
            let absolute = base.join(dir).display().to_string();
            peer["share"]["dir"] = serde_json::Value::String(absolute);
        }
    }
    let copy = report.with_extension("config.json");
    std::fs::write(&copy, json.to_string()).expect("the copy is written");
    copy
}

/// Launches `config` with the mode's flags, runs its workload and returns the records.
fn launch(config: &Path, mode: &[&str], report: &Path) -> Vec<QueryRecord> {
    let copy = port_zero_copy(config, report);
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("launch")
        .arg(&copy)
        .args(mode)
        .args(["--run-workload", "--overlay-timeout", "20", "--report"])
        .arg(report)
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "launch {} {mode:?}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report).expect("the report is written");
    records_of(&serde_json::from_str(&text).expect("the report is JSON"))
}

fn simulate(config: &Path, extra: &[&str]) -> Vec<QueryRecord> {
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(["sim", "--topology"])
        .arg(config)
        .arg("--json")
        .args(extra)
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    records_of(&serde_json::from_slice(&out.stdout).expect("sim prints JSON"))
}

fn assert_balanced(what: &str, records: &[QueryRecord]) {
    assert!(!records.is_empty(), "{what}: no records");
    for r in records {
        assert_eq!(
            r.unaccounted(),
            0,
            "{what}: query {:?} from {:?}: messages {} != reached {} + duplicates {} + \
             reforwards {} + refused {} + lost {}",
            r.query,
            r.origin,
            r.messages,
            r.peers_reached,
            r.duplicates,
            r.reforwards,
            r.refused,
            r.lost
        );
        assert!(
            r.origin.is_some() && r.strategy != "unknown",
            "{what}: {r:?}"
        );
    }
}

/// The records of one run keyed by (origin, words, n-th such query).
fn keyed(records: &[QueryRecord]) -> HashMap<(String, String, usize), &QueryRecord> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut out = HashMap::new();
    for r in records {
        let key = (r.origin.clone().unwrap_or_default(), r.query.clone());
        let n = seen.entry(key.clone()).or_default();
        out.insert((key.0, key.1, *n), r);
        *n += 1;
    }
    out
}

#[test]
fn counts_add_up_in_every_launch_mode_and_match_the_simulator_without_timing_effects() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    for name in ["ring-16.json", "random-50.json"] {
        let path = config(name);
        let sim = simulate(&path, &[]);
        assert_balanced(&format!("sim {name}"), &sim);
        assert!(sim.iter().all(|r| r.reforwards == 0 && r.lost == 0));
        let sim = keyed(&sim);
        let mut compared = 0;
        for mode in [&[][..], &["--processes"][..], &["--shards", "2"][..]] {
            for run in 0..RUNS {
                let what = format!("launch {name} {mode:?} run {run}");
                let live = launch(&path, mode, &report);
                assert_balanced(&what, &live);
                assert_eq!(live.len(), sim.len(), "{what}: every query has a record");
                for (key, r) in keyed(&live) {
                    let s = sim.get(&key).unwrap_or_else(|| panic!("{what}: {key:?}"));
                    assert_eq!(r.strategy, s.strategy, "{what}: {key:?}");
                    if r.reforwards == 0 && r.lost == 0 {
                        compared += 1;
                        assert_eq!(
                            (r.messages, r.duplicates, r.peers_reached),
                            (s.messages, s.duplicates, s.peers_reached),
                            "{what}: {key:?} without re-forwards or losses differs from sim"
                        );
                    }
                }
            }
        }
        // One process runs the flood breadth-first, as the simulator does.
        assert!(
            compared >= RUNS * sim.len(),
            "{name}: only {compared} compared"
        );
    }
}

#[test]
fn simulated_counts_add_up_with_loss_and_variable_latency() {
    let path = config("random-50.json");
    let lossy = simulate(
        &path,
        &["--loss", "0.1", "--latency", "1..40", "--seed", "5"],
    );
    assert_balanced("sim with loss", &lossy);
    assert!(lossy.iter().any(|r| r.lost > 0), "10% loss loses copies");
    assert!(
        lossy.iter().any(|r| r.reforwards > 0),
        "unequal latencies re-forward copies"
    );
    // Copies still travelling when the run ends are lost, not forgotten.
    let cut = simulate(&path, &["--latency", "200", "--settle-secs", "0"]);
    assert_balanced("sim cut short", &cut);
    assert!(cut.iter().any(|r| r.query_drops.contains_key("in_flight")));
}

#[test]
fn a_live_and_a_simulated_run_of_every_shipped_config_agree() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let configs =
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topology-configs"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"));
    let mut checked = 0;
    for path in configs {
        let name = path.display().to_string();
        let live = launch(&path, &[], &report);
        assert_balanced(&format!("launch {name}"), &live);
        // A dynamic overlay grows its own links, different each run: its counts add up,
        // but there is no fixed graph for the simulator to run the same floods over.
        let dynamic = gnutella::topology::TopologyConfig::load(&path)
            .is_ok_and(|c| c.overlay.policy().is_dynamic());
        if dynamic {
            continue;
        }
        // A two-tier config: the simulator starts its searches once every QRP table has
        // arrived, and `launch --run-workload` waits for the same (no ultrapeer still
        // owing a merged table), so both run the same floods here too.
        let sim = simulate(&path, &[]);
        assert_balanced(&format!("sim {name}"), &sim);
        assert_eq!(live.len(), sim.len(), "{name}: every query has a record");
        let sim = keyed(&sim);
        for (key, r) in keyed(&live) {
            let s = sim.get(&key).unwrap_or_else(|| panic!("{name}: {key:?}"));
            // One process runs a flood breadth-first, as the simulator does: no timing
            // effects, so the counts are the same.
            assert_eq!((r.reforwards, r.lost), (0, 0), "{name}: {key:?}");
            assert_eq!(
                (r.messages, r.duplicates, r.peers_reached, &r.strategy),
                (s.messages, s.duplicates, s.peers_reached, &s.strategy),
                "{name}: {key:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} queries compared");
}
