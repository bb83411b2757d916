//! The classic comparisons the simulator exists for, as properties a user can rely on:
//! random walkers find replicated files with far fewer messages than flooding, the
//! result cache saves messages when queries repeat (Zipf popularity), and two-tier
//! flooding with QRP costs several times fewer messages than flat flooding.

use std::process::Command;

fn summary(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .args(args)
        .arg("--json")
        .output()
        .expect("run gnutella sim");
    assert!(
        out.status.success(),
        "gnutella sim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["summary"].clone()
}

fn field(summary: &serde_json::Value, name: &str) -> f64 {
    summary[name]
        .as_f64()
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn random_walkers_cost_far_fewer_messages_than_flooding_and_still_succeed() {
    let common = [
        "--gen",
        "random:n=2000,d=8",
        "--files",
        "50",
        "--replicas",
        "40",
        "--queries",
        "60",
        "--seed",
        "5",
    ];
    let mut flood_args = common.to_vec();
    flood_args.extend(["--strategy", "flood", "--ttl", "7"]);
    let mut walk_args = common.to_vec();
    walk_args.extend(["--strategy", "walk:16", "--ttl", "64"]);
    let flood = summary(&flood_args);
    let walk = summary(&walk_args);
    let (flood_msgs, walk_msgs) = (
        field(&flood, "messages_per_query"),
        field(&walk, "messages_per_query"),
    );
    assert!(
        walk_msgs * 10.0 < flood_msgs,
        "walkers {walk_msgs} vs flooding {flood_msgs} messages per query"
    );
    assert!(field(&flood, "success_rate") > 0.95);
    assert!(
        field(&walk, "success_rate") >= 0.85,
        "walkers succeed {}",
        field(&walk, "success_rate")
    );
}

#[test]
fn expanding_ring_stops_early_when_files_are_near() {
    let common = [
        "--gen",
        "random:n=2000,d=6",
        "--files",
        "20",
        "--replicas",
        "100",
        "--queries",
        "40",
        "--ttl",
        "7",
        "--seed",
        "9",
    ];
    let mut ring = common.to_vec();
    ring.extend(["--strategy", "ring"]);
    let mut flood = common.to_vec();
    flood.extend(["--strategy", "flood"]);
    let (ring, flood) = (summary(&ring), summary(&flood));
    assert!(field(&ring, "success_rate") > 0.95);
    assert!(field(&ring, "messages_per_query") * 3.0 < field(&flood, "messages_per_query"));
}

#[test]
fn the_result_cache_cuts_messages_under_zipf_queries() {
    let common = [
        "--gen",
        "random:n=1000,d=6",
        "--files",
        "100",
        "--replicas",
        "3",
        "--queries",
        "300",
        "--zipf",
        "1.2",
        "--ttl",
        "5",
        "--every-ms",
        "200",
        "--seed",
        "2",
    ];
    let mut plain = common.to_vec();
    plain.extend(["--strategy", "flood"]);
    let mut cached = common.to_vec();
    cached.extend(["--strategy", "flood+cache"]);
    let (plain, cached) = (summary(&plain), summary(&cached));
    assert!(field(&cached, "cache_hit_rate") > 0.3, "{cached}");
    assert_eq!(field(&plain, "cache_hit_rate"), 0.0);
    assert!(
        field(&cached, "messages_per_query") < 0.9 * field(&plain, "messages_per_query"),
        "cache {} vs plain {}",
        field(&cached, "messages_per_query"),
        field(&plain, "messages_per_query")
    );
    assert!(field(&cached, "success_rate") >= field(&plain, "success_rate") - 0.05);
}

#[test]
fn more_walkers_than_the_origins_links_still_add_reach_on_a_degree_4_graph() {
    // Lv et al. send k walkers even when k exceeds the origin's degree: walk:16 and
    // walk:32 must not collapse to walk:4 on a degree-4 graph.
    let common = [
        "--gen",
        "random:n=3000,d=4",
        "--files",
        "20",
        "--replicas",
        "3",
        "--queries",
        "20",
        "--ttl",
        "32",
        "--seed",
        "4",
    ];
    let run = |strategy: &'static str| {
        let mut args = common.to_vec();
        args.extend(["--strategy", strategy]);
        summary(&args)
    };
    let (w4, w16, w32) = (run("walk:4"), run("walk:16"), run("walk:32"));
    let reach = |s: &serde_json::Value| field(s, "peers_reached_per_query");
    let messages = |s: &serde_json::Value| field(s, "messages_per_query");
    assert!(messages(&w4) < messages(&w16) && messages(&w16) < messages(&w32));
    assert!(
        reach(&w4) < reach(&w16) && reach(&w16) < reach(&w32),
        "peers reached: walk:4 {}, walk:16 {}, walk:32 {}",
        reach(&w4),
        reach(&w16),
        reach(&w32)
    );
}

#[test]
fn two_tier_flooding_with_qrp_costs_several_times_fewer_messages_than_flat_flooding() {
    let common = [
        "--files",
        "40",
        "--replicas",
        "10",
        "--queries",
        "40",
        "--seed",
        "3",
        "--ttl",
        "5",
    ];
    let mut flat = vec!["--gen", "random:n=1000,d=6.4", "--strategy", "flood"];
    flat.extend(common);
    let mut qrp = vec![
        "--gen",
        "two-tier:n=1000,up=0.1,leaf_links=3,up_degree=10",
        "--strategy",
        "qrp",
    ];
    qrp.extend(common);
    let (flat, qrp) = (summary(&flat), summary(&qrp));
    assert!(flat.get("ultrapeer_load_mean").is_none(), "{flat}");
    let (flat_msgs, qrp_msgs) = (
        field(&flat, "messages_per_query"),
        field(&qrp, "messages_per_query"),
    );
    assert!(
        qrp_msgs * 3.0 < flat_msgs,
        "qrp {qrp_msgs} vs flat flooding {flat_msgs} messages per query"
    );
    assert!(field(&qrp, "success_rate") >= field(&flat, "success_rate") - 0.05);
    assert!(field(&qrp, "leaf_load_mean") < field(&qrp, "ultrapeer_load_mean"));
}
