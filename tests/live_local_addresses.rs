//! Peers link up on any local address, not only 127.0.0.1.
//!
//! A listener believes a dialler's `Listen-IP` only when the connection comes from that
//! IP, so a dialler must leave from the address it listens on. Every address of 127/8 is
//! local on Linux, which makes them stand-ins for the several addresses of a multi-homed
//! host or of network namespaces: a network on `127.42.9.1`, or spread over several
//! loopback addresses, must come up and answer exactly as one on 127.0.0.1 does.
#![cfg(target_os = "linux")]

use std::process::Command;

/// A line of `n` peers, the last holding a file, with the given listening IPs (cycled),
/// ports 0, and one query from the first peer that reaches the last.
fn line_config(n: usize, ips: &[&str]) -> String {
    let peers: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut peer = serde_json::json!({
                "id": format!("p{i}"),
                "listen": format!("{}:0", ips[i % ips.len()]),
            });
            if i + 1 < n {
                peer["neighbours"] = serde_json::json!([format!("p{}", i + 1)]);
            } else {
                peer["share"] =
                    serde_json::json!({"files": [{"name": "far-away-file.dat", "size": 1000}]});
            }
            peer
        })
        .collect();
    serde_json::json!({
        "name": "local-addresses",
        "defaults": {"ttl": 7, "max_ttl": 7, "seed": 5, "cache": {"mode": "off"}},
        "peers": peers,
        "workload": {"queries": [{"from": "p0", "words": "far away"}]},
    })
    .to_string()
}

/// Launches the config with `--run-workload --json` and returns the parsed report.
fn launch(config: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.json");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("launch")
        .arg(&path)
        .args(["--run-workload", "--json", "--overlay-timeout", "20"])
        .args(extra)
        .output()
        .expect("gnutella runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "launch {extra:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn assert_reached_the_end(report: &serde_json::Value, n: usize) {
    assert!(
        report["network"]["overlay_up_ms"].is_number(),
        "the overlay came up: {report}"
    );
    let query = &report["queries"][0];
    assert_eq!(query["success"], true, "{query}");
    assert_eq!(query["peers_reached"], n - 1, "{query}");
    assert_eq!(query["first_hit_hops"], n - 1, "{query}");
}

#[test]
fn a_network_on_an_address_other_than_127_0_0_1_comes_up() {
    let report = launch(&line_config(6, &["127.42.9.1"]), &[]);
    assert_reached_the_end(&report, 6);
}

#[test]
fn peers_on_several_loopback_addresses_link_with_each_other() {
    let ips = ["127.42.9.1", "127.0.0.1", "127.9.0.77"];
    let report = launch(&line_config(6, &ips), &[]);
    assert_reached_the_end(&report, 6);
}

#[test]
fn peers_in_several_processes_on_several_addresses_link_with_each_other() {
    let ips = ["127.42.9.2", "127.9.0.78"];
    let report = launch(&line_config(5, &ips), &["--shards", "2"]);
    assert_eq!(report["network"]["processes"], 2);
    assert_reached_the_end(&report, 5);
}
