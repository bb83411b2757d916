//! One model, two worlds: for every shipped topology config, the live network's build of
//! each peer and the simulator's build of the same peer are the same peer — the same
//! routing settings, the same servent GUID, the same RNG stream (the GUID of its first
//! search) — and a simulated record carries the strategy the config sets.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use gnutella::net::from_config::ConfigFactory;
use gnutella::net::network::PeerFactory;
use gnutella::node::{SearchRequest, Time};
use gnutella::sim::{Links, SimConfig, Simulation};
use gnutella::topology::{synthetic_placement, Scenario, TopologyConfig};

fn shipped_configs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topology-configs");
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("topology-configs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 6, "shipped configs: {configs:?}");
    configs
}

#[test]
fn live_and_simulated_builds_of_every_shipped_config_are_the_same_peers() {
    let search = SearchRequest::from_words("anything at all", 3);
    for path in shipped_configs() {
        let config = TopologyConfig::load(&path).expect("a shipped config loads");
        let scenario = Scenario::from_config(&config);
        let n = config.peers.len();
        let mut live = ConfigFactory::new(Arc::new(config.clone()), (0..n).collect())
            .expect("shares of a shipped config");
        let mut simulation = Simulation::new(
            Links::from_graph(&scenario.graph),
            SimConfig::default(),
            synthetic_placement(&config),
            scenario.seed,
        );
        simulation.set_peers(scenario.seed, scenario.routing());
        let mut guids = std::collections::HashSet::new();
        for i in 0..n {
            let what = format!("{} peer {}", path.display(), config.peers[i].id);
            let listen = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40000 + i as u16);
            let mut core = live.core(i, listen);
            let mut node = simulation.build_node(i as u32);
            assert_eq!(**core.routing(), *node.config(), "{what}: routing");
            assert_eq!(**core.routing(), config.routing_of(i), "{what}: routing");
            assert_eq!(core.servent_guid(), node.servent_guid(), "{what}: servent");
            assert!(
                guids.insert(node.servent_guid()),
                "{what}: servent is unique"
            );
            assert_eq!(
                core.start_search(Time::ZERO, &search),
                node.start_search(Time::ZERO, search.clone()),
                "{what}: the RNG streams differ"
            );
        }
    }
}

#[test]
fn sim_of_a_config_runs_the_strategy_the_config_sets_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("walk.json");
    std::fs::write(
        &path,
        r#"{"name": "walk", "defaults": {"ttl": 8, "max_ttl": 8, "seed": 3,
            "cache": {"mode": "off"}, "strategy": {"kind": "random-walk", "walkers": 2, "check_every": 4}},
          "peers": [
            {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["b", "c"]},
            {"id": "b", "listen": "127.0.0.1:0", "neighbours": ["c"]},
            {"id": "c", "listen": "127.0.0.1:0", "share": {"files": [{"name": "x.txt", "size": 10}]}}],
          "workload": {"queries": [{"from": "a", "words": "x"}]}}"#,
    )
    .unwrap();
    let strategy_of = |extra: &[&str]| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_gnutella"))
            .args(["sim", "--topology"])
            .arg(&path)
            .args(["--json"])
            .args(extra)
            .output()
            .expect("gnutella runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["queries"][0]["strategy"].as_str().unwrap().to_string()
    };
    assert_eq!(strategy_of(&[]), "walk:2");
    assert_eq!(strategy_of(&["--strategy", "flood+cache"]), "flood+cache");
}
