//! `gnutella topology gen|stats` as a user runs them: both spellings of a spec write the
//! same config, the config loads back, stats come out as JSON, mistakes exit non-zero
//! with a message.

use std::process::Command;

use gnutella::topology::TopologyConfig;

fn gnutella(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(args)
        .output()
        .expect("run gnutella")
}

#[test]
fn gen_spec_and_flag_forms_write_the_same_config() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let out = gnutella(&[
        "topology",
        "gen",
        "ws:n=40,k=4,beta=0.2",
        "--seed",
        "9",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = gnutella(&[
        "topology",
        "gen",
        "ws",
        "--nodes",
        "40",
        "--param",
        "k=4",
        "--beta",
        "0.2",
        "--seed",
        "9",
        "--out",
        b.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let config = TopologyConfig::load(&a).unwrap();
    assert_eq!(config.peers.len(), 40);
    assert_eq!(config.links().len(), 80);
    assert_eq!(config.defaults.seed, 9);
    assert_eq!(config.peers[39].listen.to_string(), "127.0.0.1:6385");
}

#[test]
fn gen_port_zero_and_base_port() {
    let out = gnutella(&["topology", "gen", "ring", "--nodes", "5", "--port-zero"]);
    assert!(out.status.success());
    let config = TopologyConfig::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert!(config.peers.iter().all(|p| p.listen.port() == 0));
    let out = gnutella(&["topology", "gen", "ring:n=100", "--base-port", "65500"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("65535"), "{err}");
}

#[test]
fn gen_refuses_bad_specs_with_a_message() {
    let out = gnutella(&["topology", "gen", "hypercube:n=8"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown topology kind \"hypercube\""));
    let out = gnutella(&["topology", "gen", "ring", "--nodes", "12", "--k", "3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ring takes no key \"k\""));
}

#[test]
fn stats_prints_json_for_configs_and_specs() {
    let quickstart = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/topology-configs/quickstart.json"
    );
    let out = gnutella(&["topology", "stats", quickstart, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["nodes"], 10);
    assert_eq!(v["links"], 12);
    assert_eq!(v["components"], 1);
    assert_eq!(v["diameter"]["value"], 5.0);
    assert_eq!(v["diameter"]["exact"], true);
    let out = gnutella(&["topology", "stats", "--gen", "ring:n=10"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("diameter           5 (exact"), "{text}");
}

#[test]
fn stats_names_the_bad_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges.txt");
    std::fs::write(&path, "1 2\n2 3 4\n").unwrap();
    let out = gnutella(&["topology", "stats", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("edges.txt: line 2"), "{err}");
}

/// `--out` goes through a temporary file and a rename: an existing (longer) file is
/// replaced whole, and no temporary is left next to it; a target that cannot be replaced
/// (a folder) is an error that leaves the folder's contents as they were.
#[test]
fn gen_out_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.json");
    std::fs::write(&path, "x".repeat(1_000_000)).unwrap();
    let out = gnutella(&[
        "topology",
        "gen",
        "ring:n=5",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = TopologyConfig::load(&path).unwrap();
    assert_eq!(config.peers.len(), 5);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["net.json"]);

    let folder = dir.path().join("taken");
    std::fs::create_dir(&folder).unwrap();
    let out = gnutella(&[
        "topology",
        "gen",
        "ring:n=5",
        "--out",
        folder.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a folder"), "{err}");
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["net.json", "taken"]);
}
