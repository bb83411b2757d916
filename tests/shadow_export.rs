//! `gnutella export shadow` and `gnutella report shadow`.
//!
//! The export of a small config is compared with golden files in
//! `tests/data/shadow-export/golden/` (the export folder's path written as `$OUT`).
//! After an intended change of the export, regenerate them with
//!
//! ```sh
//! GNUTELLA_BLESS=1 cargo test --test shadow_export
//! ```
//!
//! and review the diff. The report is read from the recorded Shadow run in
//! `data/shadow-sample/` (a searcher host, as recorded) and from a fixture in the same
//! layout with the peers' `counters` lines (`tests/data/shadow-export/shadow.data/`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gnutella::export::shadow_hosts::read_hosts;
use gnutella::topology::synthetic::sha1_of;
use serde_json::Value;

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn gnutella(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn export(config: &Path, out: &Path) {
    ok(&gnutella(&[
        "export",
        "shadow",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--binary",
        "/opt/gnutella/bin/gnutella",
    ]));
}

#[test]
fn the_export_of_a_small_config_matches_the_golden_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("line");
    export(&data("shadow-export/line.json"), &out);
    let golden = data("shadow-export/golden");
    let bless = std::env::var_os("GNUTELLA_BLESS").is_some();
    for name in ["shadow.yaml", "network.gml"] {
        let text = std::fs::read_to_string(out.join(name))
            .unwrap()
            .replace(out.to_str().unwrap(), "$OUT");
        let path = golden.join(name);
        if bless {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text,
            want,
            "{name} differs from {} (GNUTELLA_BLESS=1 to regenerate)",
            path.display()
        );
    }
    // The synthetic file is written out with the bytes (and so the URN) every engine
    // computes; the peer with its own settings reads its own routing file.
    let bytes = std::fs::read(out.join("shares/p2/far-away-song.ogg")).unwrap();
    assert_eq!(bytes.len(), 1000);
    assert_eq!(
        gnutella::protocol::Sha1::of_bytes(&bytes),
        sha1_of(3, "far-away-song.ogg", 1000)
    );
    let p1: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("routing/p1.json")).unwrap())
            .unwrap();
    assert_eq!(p1["max_ttl"], 5);
}

#[test]
fn every_peer_of_the_quickstart_is_a_host_that_dials_its_lower_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("quickstart");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("topology-configs/quickstart.json");
    export(&config, &out);
    let hosts = read_hosts(&std::fs::read_to_string(out.join("shadow.yaml")).unwrap()).unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"]
    );
    let ip = |name: &str| hosts.iter().find(|h| h.name == name).unwrap().ip.unwrap();
    let process = |name: &str| &hosts.iter().find(|h| h.name == name).unwrap().processes[0];
    // p4's neighbours are p1, p3, p5, p7: it dials p1 and p3, p5 and p7 dial it.
    let dials: Vec<String> = process("p4")
        .flag_values("--connect")
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(
        dials,
        [format!("{}:6347", ip("p1")), format!("{}:6349", ip("p3"))]
    );
    assert_eq!(process("p4").flag_values("--index"), ["4"]);
    // p0 runs five of the six searches, p9 the last one, after every peer has started.
    assert_eq!(process("p0").flag_values("--search-at").len(), 5);
    let last = process("p9").flag_values("--search-at");
    assert!(last[0].ends_with(":7:ubuntu server"), "{last:?}");
    // p0 shares its real folder and a synthetic file: both in its exported folder.
    let share = PathBuf::from(process("p0").flag_values("--share")[0]);
    assert!(share.join("welcome-to-gnutella.txt").is_file());
    assert!(share.join("gnutella-protocol-0.6-notes.txt").is_file());
    // Every link has the default latency: one vertex holds every host.
    let gml = std::fs::read_to_string(out.join("network.gml")).unwrap();
    assert_eq!(gml.matches("node [").count(), 1);
    assert!(gml.contains("latency \"10 ms\""), "{gml}");
    assert!(
        !gml.lines().any(|l| l.contains('[') && l.contains(']')),
        "Shadow's GML parser refuses one-line blocks"
    );
}

#[test]
fn an_export_refuses_a_missing_shared_folder_by_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.json");
    std::fs::write(
        &config,
        r#"{ "peers": [ { "id": "p0", "listen": "127.0.0.1:0", "share": { "dir": "nowhere" } } ] }"#,
    )
    .unwrap();
    let out = gnutella(&[
        "export",
        "shadow",
        config.to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("peer \"p0\"") && err.contains("nowhere"),
        "{err}"
    );
}

fn report(dir: &Path) -> Value {
    let out = ok(&gnutella(&[
        "report",
        "shadow",
        dir.to_str().unwrap(),
        "--json",
    ]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn the_recorded_sample_reads_as_the_searchers_view() {
    let r = report(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/shadow-sample"));
    assert_eq!(r["network"]["peers"], 20);
    assert_eq!(r["network"]["processes"], 21);
    let queries = r["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 1);
    let q = &queries[0];
    assert_eq!(q["query"], "deep space");
    assert_eq!(
        (q["hits"].as_u64(), q["responders"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(q["first_hit_hops"], 2);
    assert_eq!(q["first_hit_ms"], 80.017);
    assert_eq!(
        (q["origin"].as_str(), q["via"].as_str()),
        (Some("client"), Some("p0"))
    );
    assert!(q["messages"].is_null() && q["peers_reached"].is_null());
    // Started 10 s into the run, 4 ms after the searcher's own start.
    assert_eq!(q["start_ms"], 10004.009);
    let notes = r["shadow"]["notes"].to_string();
    assert!(
        notes.contains("20 of 20 peers printed no counters line"),
        "{notes}"
    );
}

#[test]
fn the_peers_counters_sum_to_what_sim_reports_for_the_same_config() {
    let r = report(&data("shadow-export/shadow.data"));
    assert_eq!(r["network"]["peers"], 3);
    assert_eq!(r["network"]["links"], 2);
    assert_eq!(r["network"]["frames_in"], 9);
    assert_eq!(r["shadow"]["peers_with_counters"], 3);
    let shadow = &r["queries"][0];
    assert_eq!(shadow["origin"], "p0");
    assert_eq!(shadow["start_ms"], 6502.3);

    let sim: Value = serde_json::from_str(&ok(&gnutella(&[
        "sim",
        "--topology",
        data("shadow-export/line.json").to_str().unwrap(),
        "--json",
        "--quiet",
    ])))
    .unwrap();
    let sim = &sim["queries"][0];
    for field in [
        "query",
        "origin",
        "ttl",
        "messages",
        "duplicates",
        "peers_reached",
        "hits",
        "responders",
        "hit_messages",
        "answered",
        "first_hit_hops",
        "success",
    ] {
        assert_eq!(shadow[field], sim[field], "{field}");
    }
    let (a, b) = (
        shadow["first_hit_ms"].as_f64().unwrap(),
        sim["first_hit_ms"].as_f64().unwrap(),
    );
    assert!((a - b).abs() / b < 0.01, "shadow {a} ms, sim {b} ms");
}

/// A copy of the derived fixture to damage.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = data("shadow-export/shadow.data");
    std::fs::copy(
        from.join("processed-config.yaml"),
        dir.path().join("processed-config.yaml"),
    )
    .unwrap();
    for host in ["p0", "p1", "p2"] {
        let to = dir.path().join("hosts").join(host);
        std::fs::create_dir_all(&to).unwrap();
        for ext in ["stdout", "stderr"] {
            let name = format!("gnutella.1000.{ext}");
            std::fs::copy(from.join("hosts").join(host).join(&name), to.join(&name)).unwrap();
        }
    }
    dir
}

fn refused(dir: &Path) -> String {
    let out = gnutella(&["report", "shadow", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn hostile_outputs_are_refused_with_the_file_that_holds_them() {
    let empty = tempfile::tempdir().unwrap();
    assert!(refused(empty.path()).contains("not a Shadow data directory"));
    assert!(refused(&empty.path().join("missing")).contains("not a Shadow data directory"));

    let dir = fixture_copy();
    let p1 = dir.path().join("hosts/p1/gnutella.1000.stdout");
    std::fs::write(&p1, "\u{1b}[31mjunk\u{0}\nmore junk\n").unwrap();
    let err = refused(dir.path());
    assert!(
        err.contains("hosts/p1/gnutella.1000.stdout") && err.contains("neither"),
        "{err}"
    );

    std::fs::write(
        &p1,
        "listening on 0.0.0.0:6347\ncounters {\"sent\": \"lots\"}\n",
    )
    .unwrap();
    let err = refused(dir.path());
    assert!(err.contains("gnutella.1000.stdout: line 2"), "{err}");

    std::fs::write(&p1, "{\"hits\": []}").unwrap();
    assert!(refused(dir.path()).contains("neither"));

    std::fs::write(
        dir.path().join("processed-config.yaml"),
        "hosts:\n  p0:\n    ip_addr: 999.1.1.1\n",
    )
    .unwrap();
    let err = refused(dir.path());
    assert!(
        err.contains("processed-config.yaml") && err.contains("IPv4"),
        "{err}"
    );
}

#[test]
fn a_peer_that_wrote_nothing_is_a_note_with_its_stderr() {
    let dir = fixture_copy();
    std::fs::write(dir.path().join("hosts/p2/gnutella.1000.stdout"), "").unwrap();
    std::fs::write(
        dir.path().join("hosts/p2/gnutella.1000.stderr"),
        "error: cannot bind 0.0.0.0:6346\n",
    )
    .unwrap();
    let r = report(dir.path());
    assert_eq!(r["network"]["peers"], 2);
    let notes = r["shadow"]["notes"].to_string();
    assert!(notes.contains("cannot bind"), "{notes}");
    // p2's share is missing: it was neither reached nor answered.
    assert_eq!(r["queries"][0]["peers_reached"], 1);
    assert_eq!(r["queries"][0]["hits"], 1);
}

#[test]
fn the_recorded_sample_agrees_with_sim_of_the_same_network() {
    // The sample's network (20 peers, 20 ms links, the two matching files where the run
    // found them) with its searcher as a leaf of p0, as it ran.
    let sim: Value = serde_json::from_str(&ok(&gnutella(&[
        "sim",
        "--topology",
        data("shadow-export/sample-with-searcher.json")
            .to_str()
            .unwrap(),
        "--json",
        "--quiet",
    ])))
    .unwrap();
    let sim = &sim["queries"][0];
    let shadow = report(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/shadow-sample"));
    let shadow = &shadow["queries"][0];
    for field in ["hits", "responders", "first_hit_hops", "ttl", "success"] {
        assert_eq!(shadow[field], sim[field], "{field}");
    }
    let (a, b) = (
        shadow["first_hit_ms"].as_f64().unwrap(),
        sim["first_hit_ms"].as_f64().unwrap(),
    );
    assert!((a - b).abs() / b < 0.01, "shadow {a} ms, sim {b} ms");
}
