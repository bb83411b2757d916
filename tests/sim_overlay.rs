//! The simulator runs the dynamic overlay's discovery: peers that start with a bootstrap
//! address or a sparse graph dial up to their minimum degree, survivors of a mass
//! departure relink within seconds of virtual time while a static overlay stays broken,
//! churn is ridden out, runs stay a pure function of the seed, and a static run is the
//! same as before the feature existed.

use std::collections::BTreeMap;
use std::process::Command;

use gnutella::node::{HostSource, OverlayConfig, OverlayMode, Time};
use gnutella::sim::{
    peer_addr, Churn, Links, PlannedQuery, Removal, RemovalKind, SecondRow, SimConfig, SimFile,
    SimReport, Simulation,
};
use gnutella::topology::GenSpec;

fn dynamic(min: usize, max: usize) -> OverlayConfig {
    OverlayConfig {
        mode: OverlayMode::Dynamic,
        min_degree: min,
        max_degree: max,
        host_cache: 100,
    }
}

/// One search a second, TTL `ttl`, from peers spread over the network, for `secs`
/// seconds, for a file every `every`-th peer holds: enough to keep the clock going and to
/// measure success.
fn searches(
    n: u32,
    secs: u64,
    every: u32,
    ttl: u8,
) -> (BTreeMap<u32, Vec<SimFile>>, Vec<PlannedQuery>) {
    let placement = (0..n)
        .filter(|u| u % every == 3)
        .map(|u| (u, vec![SimFile::named("needle in the haystack.txt", 1000)]))
        .collect();
    let queries = (0..secs)
        .map(|i| {
            PlannedQuery::new(
                Time::from_secs(i).plus_micros(500_000),
                (i as u32 * 37) % n,
                "needle",
                ttl,
            )
        })
        .collect();
    (placement, queries)
}

/// Runs a simulation (searches as [`searches`] with a file on every tenth peer, TTL 6)
/// and hands it back with its report (to look at the final links).
fn run(links: Links, config: SimConfig, secs: u64, seed: u64) -> (Simulation, SimReport) {
    run_with(links, config, secs, seed, (10, 6))
}

fn run_with(
    links: Links,
    config: SimConfig,
    secs: u64,
    seed: u64,
    (every, ttl): (u32, u8),
) -> (Simulation, SimReport) {
    let n = links.node_count();
    let (placement, queries) = searches(n, secs, every, ttl);
    let mut sim = Simulation::new(links, config, placement, seed);
    sim.record_timeseries();
    let report = sim.execute(&queries, &mut |_| {});
    (sim, report)
}

fn row(report: &SimReport, second: usize) -> SecondRow {
    report.timeseries[second]
}

#[test]
fn peers_that_know_only_a_bootstrap_host_dial_up_to_their_minimum_degree() {
    // 60 peers, no links at all: every peer knows peer 0's address and nothing else.
    let n = 60;
    let config = SimConfig {
        overlay: dynamic(3, 6),
        bootstrap: vec![peer_addr(0)],
        ..SimConfig::default()
    };
    let (sim, report) = run(Links::from_edges(n, []), config, 40, 1);
    assert_eq!(report.overlay_start.mean_degree, 0.0);
    for u in 0..n {
        let linked = sim.linked_peers(u);
        assert!(
            linked.len() >= 3,
            "peer {u} has {} links: {linked:?}",
            linked.len()
        );
        assert!(linked.len() <= 6 + 3, "peer {u} went far past its maximum");
    }
    assert_eq!(
        report.overlay_end.largest_component_fraction, 1.0,
        "one overlay"
    );
    let stats = &report.stats;
    assert!(
        stats.dials_refused > 0,
        "the bootstrap host fills up and names others to try"
    );
    assert_eq!(
        stats.links_made as f64,
        report.overlay_end.mean_degree * f64::from(n) / 2.0,
        "every link came from a dial"
    );
    // Peer 0 refuses beyond its maximum: inbound links stop there.
    assert!(sim.linked_peers(0).len() <= 6 + 3);
    // ...and remembers who knocked, to name them in its next refusals' X-Try.
    let bootstrap = sim.node(0).and_then(|n| n.overlay()).expect("peer 0 runs");
    let linked = sim.linked_peers(0);
    let knocked: Vec<_> = bootstrap
        .hosts()
        .iter()
        .filter(|h| h.source == HostSource::Knocked)
        .collect();
    assert!(
        knocked
            .iter()
            .any(|h| !linked.iter().any(|&v| peer_addr(v) == h.addr)),
        "peers it refused and never linked with: {knocked:?}"
    );
    let late = report.records.iter().filter(|r| r.start_ms > 20_000.0);
    assert!(late.clone().count() > 10);
    assert!(
        late.into_iter().all(|r| r.success),
        "searches find the file"
    );
}

#[test]
fn a_ring_grows_to_the_minimum_degree_and_a_static_ring_does_not() {
    let n = 200;
    let ring = || Links::from_edges(n, (0..n).map(|u| (u, (u + 1) % n)));
    let (sim, report) = run(
        ring(),
        SimConfig {
            overlay: dynamic(4, 8),
            ..SimConfig::default()
        },
        30,
        3,
    );
    assert_eq!(report.overlay_start.mean_degree, 2.0);
    assert!((0..n).all(|u| sim.linked_peers(u).len() >= 4));
    assert!(report.overlay_end.mean_degree >= 4.0);
    assert!(report.stats.dials >= report.stats.links_made);

    let (fixed, report) = run(ring(), SimConfig::default(), 30, 3);
    assert_eq!(report.overlay_end.mean_degree, 2.0);
    assert_eq!(report.stats.dials, 0, "a static overlay never dials");
    assert!((0..n).all(|u| fixed.linked_peers(u).len() == 2));
}

#[test]
fn after_a_thirty_percent_removal_survivors_relink_and_a_static_overlay_stays_down() {
    let graph = GenSpec::parse("regular:n=1000,d=4")
        .unwrap()
        .generate(5)
        .unwrap();
    let removal = Removal {
        kind: RemovalKind::Random,
        fraction: 0.3,
        at_us: 10_000_000,
    };
    let config = |overlay: OverlayConfig| SimConfig {
        removal: Some(removal),
        overlay,
        ..SimConfig::default()
    };
    // A file on every 50th peer, TTL 4: a search needs a well-knit overlay.
    let scarce = (50, 4);
    let (_, dynamic_run) = run_with(
        Links::from_graph(&graph),
        config(dynamic(4, 8)),
        40,
        5,
        scarce,
    );
    let (_, static_run) = run_with(
        Links::from_graph(&graph),
        config(OverlayConfig::default()),
        40,
        5,
        scarce,
    );
    for report in [&dynamic_run, &static_run] {
        assert_eq!(row(report, 9).overlay.mean_degree, 4.0, "alike before");
        assert_eq!(row(report, 10).overlay.online, 700);
    }
    // Within 5 virtual seconds the survivors are back to at least 90% of the degree
    // they had; the static overlay has lost 30% of its links and keeps that loss.
    let healed = row(&dynamic_run, 15).overlay.mean_degree;
    assert!(healed >= 0.9 * 4.0, "dynamic: mean degree {healed} at 15 s");
    let last = dynamic_run.timeseries.len() - 1;
    assert!(row(&dynamic_run, last).overlay.mean_degree >= 0.9 * 4.0);
    for second in [11, 15, 30] {
        let broken = row(&static_run, second).overlay.mean_degree;
        assert!(
            broken < 0.8 * 4.0,
            "static: mean degree {broken} at {second} s"
        );
    }
    assert!(
        dynamic_run.overlay_end.largest_component_fraction
            > static_run.overlay_end.largest_component_fraction
    );
    // Searches after the removal do better in the healed overlay.
    let success_after = |r: &SimReport| {
        let after: Vec<_> = r.records.iter().filter(|q| q.start_ms > 11_000.0).collect();
        after.iter().filter(|q| q.success).count() as f64 / after.len() as f64
    };
    let (d, s) = (success_after(&dynamic_run), success_after(&static_run));
    assert!(d > s, "success after the removal: dynamic {d}, static {s}");
    assert_eq!(static_run.stats.dials, 0);
}

#[test]
fn under_churn_a_dynamic_overlay_keeps_its_degree_and_a_static_one_loses_a_quarter() {
    let graph = GenSpec::parse("regular:n=600,d=4")
        .unwrap()
        .generate(2)
        .unwrap();
    let churn = Churn {
        mean_session_ms: 20_000.0,
        mean_downtime_ms: 5_000.0,
    };
    let config = |overlay: OverlayConfig| SimConfig {
        churn: Some(churn),
        overlay,
        ..SimConfig::default()
    };
    let (_, dynamic_run) = run(Links::from_graph(&graph), config(dynamic(4, 8)), 60, 2);
    let (_, static_run) = run(
        Links::from_graph(&graph),
        config(OverlayConfig::default()),
        60,
        2,
    );
    assert!(dynamic_run.stats.churn_joins > 100, "peers came back");
    let mean_over = |r: &SimReport| {
        let rows = &r.timeseries[10..60];
        rows.iter().map(|row| row.overlay.mean_degree).sum::<f64>() / rows.len() as f64
    };
    // 80% availability: a static peer keeps 4 x 0.8 of its links on average.
    assert!(mean_over(&static_run) < 3.4, "{}", mean_over(&static_run));
    assert!(
        mean_over(&dynamic_run) >= 4.0,
        "{}",
        mean_over(&dynamic_run)
    );
    assert!(dynamic_run.stats.links_made > dynamic_run.stats.churn_joins);
}

fn sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gnutella"))
        .arg("sim")
        .args(args)
        .output()
        .expect("run gnutella sim")
}

#[test]
fn the_same_seed_gives_byte_identical_dynamic_runs() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "--gen",
        "random:n=400,d=3",
        "--overlay",
        "dynamic",
        "--min-degree",
        "3",
        "--max-degree",
        "6",
        "--churn",
        "8000:3000",
        "--remove",
        "random:0.3",
        "--remove-at",
        "10000",
        "--latency",
        "5..40",
        "--queries",
        "30",
        "--every-ms",
        "700",
        "--json",
    ];
    let go = |seed: &str, csv: &str| {
        let path = dir.path().join(csv);
        let mut args = base.to_vec();
        let path_text = path.to_str().unwrap().to_string();
        args.extend(["--seed", seed, "--timeseries", &path_text]);
        let out = sim(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (out.stdout, std::fs::read(&path).unwrap())
    };
    let a = go("4", "a.csv");
    let b = go("4", "b.csv");
    let c = go("5", "c.csv");
    assert_eq!(a, b);
    assert_ne!(a.0, c.0);
    let report: serde_json::Value = serde_json::from_slice(&a.0).unwrap();
    let summary = &report["summary"];
    assert!(summary["dials"].as_u64().unwrap() > 0);
    assert!(summary["links_made"].as_u64().unwrap() > 0);
    assert!(summary["dials_failed"].as_u64().unwrap() <= summary["dials"].as_u64().unwrap());
}

#[test]
fn a_static_run_is_what_it_was_before_the_dynamic_overlay() {
    // Figures of this exact command from the build before dynamic links existed.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let out = sim(&[
        "--gen",
        "random:n=300,d=4",
        "--churn",
        "3000:1000",
        "--remove",
        "random:0.2",
        "--remove-at",
        "5000",
        "--queries",
        "30",
        "--every-ms",
        "200",
        "--replicas",
        "5",
        "--json",
        "--seed",
        "7",
        "--timeseries",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["summary"];
    assert_eq!(s["queries"], 20);
    assert_eq!(s["success_rate"], 0.85);
    assert_eq!(s["messages_per_query"], 416.05);
    assert_eq!(s["duplicates_fraction"], 0.5355125585867083);
    assert_eq!(s["peers_reached_per_query"], 188.4);
    assert_eq!(s["latency_ms_mean"], 62.35294117647059);
    assert_eq!(s["messages_per_node_max"], 104);
    assert_eq!(s["largest_component_fraction"], 0.58);
    assert_eq!(s["mean_degree_start"], 3.2246696035242293);
    assert_eq!(s["mean_degree_end"], 2.6451612903225805);
    assert!(s.get("dials").is_none(), "no dial counts in a static run");
    let rows = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(rows.lines().count(), 67);
    assert!(rows.starts_with(
        "second,online_peers,mean_degree,largest_component_fraction,queries_started,queries_succeeded
0,228,3.026315789473684,0.72,4,4
1,238,3.302521008403361,0.77,3,3
2,242,3.396694214876033,0.7866666666666666,3,2
3,236,3.1271186440677967,0.7366666666666667,3,3
4,223,2.9327354260089686,0.6966666666666667,4,4
5,181,2.430939226519337,0.5366666666666666,3,1
"
    ));
}

#[test]
fn overlay_flags_are_checked() {
    let out = sim(&["--gen", "ring:n=10", "--min-degree", "3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--overlay dynamic"), "{err}");

    let out = sim(&["--gen", "ring:n=10", "--overlay", "bogus"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("static or dynamic"));

    let out = sim(&[
        "--gen",
        "ring:n=10",
        "--overlay",
        "dynamic",
        "--min-degree",
        "5",
        "--max-degree",
        "3",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_degree"));
}

#[test]
fn a_config_overlay_block_and_its_bootstrap_drive_sim_topology() {
    // Twelve peers without a single neighbour; the config makes the overlay dynamic and
    // names p0 as the bootstrap host.
    let peers: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"id": "p{i}", "listen": "127.0.0.1:0"}}"#))
        .collect();
    let config = format!(
        r#"{{"name": "bootstrap-only",
            "overlay": {{"mode": "dynamic", "min_degree": 2, "max_degree": 4, "bootstrap": ["p0"]}},
            "peers": [{}],
            "workload": {{"queries": [{{"from": "p5", "words": "nothing here", "at_ms": 20000}}]}}}}"#,
        peers.join(",")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.json");
    std::fs::write(&path, config).unwrap();
    let out = sim(&["--topology", path.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["summary"];
    assert_eq!(s["mean_degree_start"], 0.0);
    assert!(s["mean_degree_end"].as_f64().unwrap() >= 2.0, "{s}");
    assert_eq!(s["largest_component_fraction"], 1.0);
    // The query of p5 reached every other peer.
    assert_eq!(report["queries"][0]["peers_reached"], 11);

    // --overlay static on the command line wins over the config.
    let out = sim(&[
        "--topology",
        path.to_str().unwrap(),
        "--overlay",
        "static",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["mean_degree_end"], 0.0);
    assert!(report["summary"].get("dials").is_none());
}
