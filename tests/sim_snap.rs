//! The simulator runs on a real crawl of the Gnutella network (SNAP `p2p-Gnutella08`, 6,301
//! hosts, August 2002), loaded from its edge list.

use std::path::Path;
use std::process::Command;

/// Shipped with the repository (data/topologies/README.md), so the test never skips.
const CRAWL: &str = "data/topologies/p2p-Gnutella08.txt";

#[test]
fn flood_over_the_2002_gnutella_crawl() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CRAWL);
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .args(["sim", "--topology"])
        .arg(&path)
        .args([
            "--ttl",
            "4",
            "--queries",
            "20",
            "--replicas",
            "30",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &report["summary"];
    assert_eq!(report["queries"].as_array().unwrap().len(), 20);
    // TTL 4 over a crawl with mean degree ~6.6 reaches a good share of the 6,301 hosts.
    let reached = summary["peers_reached_per_query"].as_f64().unwrap();
    assert!(reached > 300.0 && reached < 6301.0, "reached {reached}");
    assert!(summary["success_rate"].as_f64().unwrap() > 0.5);
    assert!(summary["duplicates_fraction"].as_f64().unwrap() > 0.0);
}
