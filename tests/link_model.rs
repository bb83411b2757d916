//! The link model of topology configs: latency (constant or a range drawn per link) and
//! loss, per link or by default, read the same by every engine. Here: the config refuses
//! bad values by their place, and `sim --topology` delivers what the model says.

use std::process::Command;

use gnutella::topology::{LinkModel, TopologyConfig};
use serde_json::Value;

/// A line p0 - p1 - p2; p2 holds the file p0 searches for. `{defaults}` and `{links}`
/// are filled in by each test.
fn line_config(defaults: &str, links: &str) -> String {
    format!(
        r#"{{
  "name": "line",
  "defaults": {{ "seed": 4 {defaults} }},
  "peers": [
    {{ "id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1"] }},
    {{ "id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"] }},
    {{ "id": "p2", "listen": "127.0.0.1:0",
      "share": {{ "files": [ {{ "name": "far-away-song.ogg", "size": 1000 }} ] }} }}
  ],
  "links": [ {links} ],
  "workload": {{ "queries": [ {{ "from": "p0", "words": "far away song" }} ] }}
}}"#
    )
}

/// `gnutella sim --topology` of `config` with `flags`: the JSON report.
fn sim(config: &str, flags: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.json");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .arg("--topology")
        .arg(&path)
        .args(["--json", "--quiet"])
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bad_latency_and_loss_are_refused_by_their_place() {
    let cases = [
        (line_config(r#", "loss": 1.5"#, ""), "defaults.loss"),
        (
            line_config(r#", "latency_ms": {"min": 30, "max": 20}"#, ""),
            "defaults.latency_ms",
        ),
        (
            line_config("", r#"{ "between": ["p0", "p1"], "loss": -0.1 }"#),
            "links[0].loss",
        ),
        (
            line_config("", r#"{ "between": ["p0", "p1"], "latency_ms": -3 }"#),
            "links[0].latency_ms",
        ),
    ];
    for (text, place) in cases {
        let e = TopologyConfig::parse(&text).unwrap_err().to_string();
        assert!(e.contains(place), "{place}: {e}");
    }
    let e = TopologyConfig::parse(&line_config(r#", "latency_ms": {"min": 1, "most": 2}"#, ""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("defaults.latency_ms") && e.contains("most"),
        "{e}"
    );
}

#[test]
fn a_config_round_trips_its_link_model() {
    let text = line_config(
        r#", "latency_ms": {"min": 5, "max": 50}, "loss": 0.01"#,
        r#"{ "between": ["p1", "p2"], "latency_ms": 80, "loss": 0 }"#,
    );
    let config = TopologyConfig::parse(&text).unwrap();
    let back = TopologyConfig::parse(&config.to_json_pretty()).unwrap();
    assert_eq!(LinkModel::of(&back), LinkModel::of(&config));
    let model = LinkModel::of(&config);
    let first = model.link(0, 1);
    assert!((5.0..=50.0).contains(&first.latency_ms.unwrap()));
    assert_eq!(first.loss, 0.01);
    let second = model.link(2, 1);
    assert_eq!((second.latency_ms, second.loss), (Some(80.0), 0.0));
}

#[test]
fn sim_delivers_each_link_after_the_latency_the_model_draws() {
    let text = line_config(r#", "latency_ms": {"min": 5, "max": 50}"#, "");
    let model = LinkModel::of(&TopologyConfig::parse(&text).unwrap());
    let one_way = model.link(0, 1).latency_ms.unwrap() + model.link(1, 2).latency_ms.unwrap();
    let report = sim(&text, &[]);
    let query = &report["queries"][0];
    assert_eq!(query["first_hit_hops"], 2);
    let ms = query["first_hit_ms"].as_f64().unwrap();
    assert!(
        (ms - 2.0 * one_way).abs() < 0.01,
        "first hit after {ms} ms, links say {}",
        2.0 * one_way
    );
}

#[test]
fn sim_loses_messages_on_a_lossy_link_and_loss_flag_overrides_it() {
    // Every message on p1-p2 is lost: the query dies there.
    let text = line_config("", r#"{ "between": ["p1", "p2"], "loss": 1 }"#);
    let report = sim(&text, &[]);
    let query = &report["queries"][0];
    assert_eq!(query["success"], false);
    assert_eq!(query["peers_reached"], 1);
    assert_eq!(query["lost"], 1);
    // --loss sets every link, the config's model included.
    let report = sim(&text, &["--loss", "0"]);
    assert_eq!(report["queries"][0]["success"], true);
    // A default loss of 1 loses the very first copy.
    let report = sim(&line_config(r#", "loss": 1"#, ""), &[]);
    assert_eq!(report["queries"][0]["peers_reached"], 0);
}
