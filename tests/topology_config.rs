//! Topology configs: every shipped config loads, and each kind of mistake a user makes
//! in one is refused with an error that names its place.

use std::path::Path;

use gnutella::node::CacheMode;
use gnutella::topology::{ConfigError, TopologyConfig};

const SHIPPED: &[&str] = &[
    "quickstart.json",
    "ring-16.json",
    "star-10.json",
    "grid-5x5.json",
    "tree-31.json",
    "random-50.json",
];

fn shipped(name: &str) -> TopologyConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topology-configs")
        .join(name);
    TopologyConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_shipped_config_loads() {
    for name in SHIPPED {
        let c = shipped(name);
        assert!(!c.peers.is_empty(), "{name}");
        assert!(!c.links().is_empty(), "{name}");
    }
    let expected = [
        ("ring-16.json", 16, 16),
        ("star-10.json", 10, 9),
        ("grid-5x5.json", 25, 40),
        ("tree-31.json", 31, 30),
    ];
    for (name, peers, links) in expected {
        let c = shipped(name);
        assert_eq!((c.peers.len(), c.links().len()), (peers, links), "{name}");
    }
}

#[test]
fn shipped_configs_use_distinct_real_ports() {
    for name in SHIPPED {
        let c = shipped(name);
        assert!(c.peers.iter().all(|p| p.listen.port() >= 1024), "{name}");
    }
}

const GOOD: &str = r#"{
  "name": "t",
  "defaults": { "ttl": 5, "max_ttl": 7, "seed": 9,
                "cache": { "capacity": 10, "max_age_secs": 30, "mode": "answer-and-stop" } },
  "peers": [
    { "id": "a", "listen": "127.0.0.1:7001", "neighbours": ["b"], "share": { "dir": "files/a" } },
    { "id": "b", "listen": "127.0.0.1:7002", "neighbours": [],
      "share": { "files": [ { "name": "x.bin", "size": 10 } ] } },
    { "id": "c", "listen": "127.0.0.1:0", "neighbours": ["a"] },
    { "id": "d", "listen": "127.0.0.1:0", "neighbours": ["a", "c"], "max_ttl": 4 }
  ],
  "links": [ { "between": ["b", "c"], "latency_ms": 12.5 } ],
  "workload": { "queries": [ { "from": "a", "words": "x", "at_ms": 5 }, { "from": "d", "words": "y z", "ttl": 2 } ] }
}"#;

fn err(text: &str) -> ConfigError {
    match TopologyConfig::parse(text) {
        Ok(_) => panic!("accepted a bad config:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn good_config_reads_every_key() {
    let c = TopologyConfig::parse(GOOD).unwrap();
    assert_eq!(c.name, "t");
    assert_eq!(
        (c.defaults.ttl, c.defaults.routing.max_ttl, c.defaults.seed),
        (5, 7, 9)
    );
    assert_eq!(c.defaults.routing.cache.mode, CacheMode::AnswerAndStop);
    // One-sided neighbours and explicit links all count, once each.
    assert_eq!(c.links(), vec![(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)]);
    assert_eq!(c.links_with_latency()[3], (1, 2, Some(12.5)));
    assert_eq!(c.routing_of(3).max_ttl, 4);
    assert_eq!(c.routing_of(0).max_ttl, 7);
    assert_eq!(c.ttl_of(&c.workload.queries[0]), 5);
    assert_eq!(c.ttl_of(&c.workload.queries[1]), 2);
    let again = TopologyConfig::parse(&c.to_json_pretty()).unwrap();
    assert_eq!(again, c);
}

#[test]
fn share_dir_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.json");
    std::fs::write(&path, GOOD).unwrap();
    let c = TopologyConfig::load(&path).unwrap();
    assert_eq!(c.share_dir(0).unwrap(), dir.path().join("files/a"));
    assert_eq!(c.share_dir(1), None);
}

#[test]
fn malformed_json_gives_line_and_column() {
    let text = GOOD.replace("\"neighbours\": [\"b\"]", "\"neighbours\": [\"b\",]");
    let e = err(&text);
    assert!(matches!(e, ConfigError::Json { line: 6, .. }), "{e:?}");
    assert!(e.to_string().contains("line 6, column"), "{e}");
}

#[test]
fn unknown_key_is_named_with_its_path() {
    let e = err(&GOOD.replace("\"max_ttl\": 4", "\"maxttl\": 4"));
    let text = e.to_string();
    assert!(
        text.contains("maxttl") && text.contains("peers[3]"),
        "{text}"
    );
    let e = err(&GOOD.replace("\"capacity\"", "\"capacty\"")).to_string();
    assert!(e.contains("defaults.cache") && e.contains("capacty"), "{e}");
    let e = err(&GOOD.replace("\"name\": \"t\"", "\"nmae\": \"t\"")).to_string();
    assert!(e.contains("nmae") && e.contains("line 2"), "{e}");
}

#[test]
fn wrong_types_and_bad_addresses_are_named() {
    let e = err(&GOOD.replace("127.0.0.1:7002", "localhost:7002")).to_string();
    assert!(e.contains("peers[1].listen"), "{e}");
    let e = err(&GOOD.replace("\"size\": 10", "\"size\": -1")).to_string();
    assert!(e.contains("peers[1].share.files[0].size"), "{e}");
    let e = err(&GOOD.replace("answer-and-stop", "sometimes")).to_string();
    assert!(e.contains("defaults.cache.mode"), "{e}");
}

#[test]
fn unknown_neighbour_is_named() {
    let e = err(&GOOD.replace("[\"a\", \"c\"]", "[\"a\", \"p9\"]"));
    assert_eq!(e.to_string(), "peer \"d\": neighbour \"p9\" is not a peer");
}

#[test]
fn duplicate_id_and_address_are_refused() {
    let e = err(&GOOD.replace("\"id\": \"c\"", "\"id\": \"a\""));
    assert!(
        matches!(
            e,
            ConfigError::DuplicateId {
                index: 2,
                first: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(&GOOD.replace("7002", "7001"));
    assert_eq!(
        e.to_string(),
        "peer \"b\": address 127.0.0.1:7001 is already used by peer \"a\""
    );
}

#[test]
fn port_zero_may_repeat() {
    // c and d both listen on port 0: the launcher gives each an ephemeral port.
    assert!(TopologyConfig::parse(GOOD).is_ok());
}

#[test]
fn self_link_empty_peers_and_bad_references_are_refused() {
    let e = err(&GOOD.replace("\"neighbours\": [\"b\"]", "\"neighbours\": [\"a\"]"));
    assert_eq!(e.to_string(), "peer \"a\": lists itself as a neighbour");
    let e = err(r#"{ "name": "x", "peers": [] }"#);
    assert!(matches!(e, ConfigError::NoPeers));
    let e = err(&GOOD.replace("\"from\": \"d\"", "\"from\": \"zz\""));
    assert!(e.to_string().contains("workload.queries[1]"), "{e}");
    let e = err(&GOOD.replace("[\"b\", \"c\"]", "[\"b\", \"q\"]"));
    assert!(e.to_string().contains("links[0]"), "{e}");
    let e = err(&GOOD.replace("x.bin", "../etc/passwd"));
    assert!(e.to_string().contains("peer \"b\": share.files[0]"), "{e}");
    let e = err(&GOOD.replace("\"ttl\": 2", "\"ttl\": 0"));
    assert!(e.to_string().contains("workload.queries[1].ttl"), "{e}");
    let e = err(&GOOD.replace("\"ttl\": 2", "\"ttl\": 300"));
    assert!(e.to_string().contains("workload.queries[1].ttl"), "{e}");
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, GOOD.replace("\"b\"]", "\"nobody\"]")).unwrap();
    let e = TopologyConfig::load(&path).unwrap_err();
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    assert!(matches!(e.inner(), ConfigError::UnknownNeighbour { .. }));
    let missing = TopologyConfig::load(dir.path().join("absent.json")).unwrap_err();
    assert!(matches!(missing, ConfigError::Io { .. }));
}

/// The query rule of the node's library: every query word is a prefix of a word of the
/// file name (case-insensitive, split on non-alphanumerics).
fn matches(words: &str, file: &str) -> bool {
    let name_words: Vec<String> = file
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words
        .split_whitespace()
        .all(|q| name_words.iter().any(|w| w.starts_with(&q.to_lowercase())))
}

fn holders(c: &TopologyConfig, words: &str) -> Vec<usize> {
    (0..c.peers.len())
        .filter(|&i| {
            c.peers[i]
                .share
                .files
                .iter()
                .any(|f| matches(words, &f.name))
        })
        .collect()
}

#[test]
fn quickstart_has_a_far_file_a_replicated_file_and_a_miss() {
    use gnutella::topology::stats::bfs;
    use gnutella::topology::Graph;
    let c = shipped("quickstart.json");
    assert!((8..=12).contains(&c.peers.len()));
    let g = Graph::from_config(&c);
    let degrees: std::collections::BTreeSet<usize> =
        (0..g.node_count() as u32).map(|v| g.degree(v)).collect();
    assert!(degrees.len() >= 3, "varied degrees: {degrees:?}");
    let (mut dist, mut queue) = (Vec::new(), Vec::new());
    bfs(&g, 0, &mut dist, &mut queue);
    // The names and distances topology-configs/README.md promises the demo.
    let far = holders(&c, "deep space");
    assert_eq!(far.len(), 1);
    assert_eq!(c.peers[far[0]].id, "p8");
    assert_eq!(dist[far[0]], 4);
    let replicated = holders(&c, "free software song");
    assert_eq!(replicated.len(), 4);
    assert!(holders(&c, "zzyzx").is_empty());
    let words: Vec<&str> = c
        .workload
        .queries
        .iter()
        .map(|q| q.words.as_str())
        .collect();
    assert_eq!(&words[..3], ["deep space", "free software song", "zzyzx"]);
    assert!(c
        .workload
        .queries
        .iter()
        .all(|q| q.from == "p0" || q.from == "p9"));
    assert!(c
        .share_dir(0)
        .unwrap()
        .join("welcome-to-gnutella.txt")
        .is_file());
}

#[test]
fn generated_configs_match_their_generator() {
    use gnutella::topology::{GenSpec, Graph};
    let cases = [
        ("ring-16.json", "ring:n=16", 1),
        ("star-10.json", "star:n=10", 1),
        ("grid-5x5.json", "grid:w=5,h=5", 1),
        ("tree-31.json", "tree:n=31,k=2", 1),
        ("random-50.json", "random:n=50,d=4", 4),
    ];
    for (file, spec, seed) in cases {
        let shipped = Graph::from_config(&shipped(file));
        let generated = GenSpec::parse(spec).unwrap().generate(seed).unwrap();
        assert_eq!(shipped, generated, "{file} is {spec} with seed {seed}");
    }
}

#[test]
fn generated_style_ids_resolve_and_clash_like_any_other() {
    let peers = |ids: &[&str]| -> String {
        let list: Vec<String> = ids
            .iter()
            .map(|id| format!("{{\"id\": \"{id}\", \"listen\": \"127.0.0.1:0\"}}"))
            .collect();
        format!("{{\"peers\": [{}]}}", list.join(", "))
    };
    let c = TopologyConfig::parse(&peers(&["p0", "p1", "x", "p7", "p01"])).unwrap();
    assert_eq!(c.peer_index("p1"), Some(1));
    assert_eq!(c.peer_index("p7"), Some(3));
    assert_eq!(c.peer_index("p01"), Some(4));
    assert_eq!(c.peer_index("p3"), None);
    let e = TopologyConfig::parse(&peers(&["p0", "p1", "p1"])).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::DuplicateId {
                index: 2,
                first: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let e = TopologyConfig::parse(&peers(&["p2", "q", "p2"])).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::DuplicateId {
                index: 2,
                first: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn an_overlay_block_is_read_checked_and_its_bootstrap_resolved() {
    use gnutella::node::OverlayMode;
    use gnutella::topology::BootstrapHost;
    let peers = r#""peers": [
        {"id": "a", "listen": "127.0.0.1:0"},
        {"id": "b", "listen": "127.0.0.1:0"},
        {"id": "c", "listen": "127.0.0.1:0", "neighbours": ["a"]}]"#;
    let ok = format!(
        r#"{{ {peers}, "overlay": {{"mode": "dynamic", "min_degree": 2, "max_degree": 5,
            "bootstrap": ["a", "10.0.0.9:6346"]}} }}"#
    );
    let c = TopologyConfig::parse(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.overlay.mode, OverlayMode::Dynamic);
    assert_eq!(c.overlay.policy().min_degree, 2);
    assert_eq!(
        c.bootstrap_hosts(),
        vec![
            BootstrapHost::Peer(0),
            BootstrapHost::Addr("10.0.0.9:6346".parse().unwrap())
        ]
    );
    let refused = [
        (
            r#""overlay": {"mode": "dynamic", "min_degre": 2}"#,
            "min_degre",
        ),
        (r#""overlay": {"mode": "living"}"#, "living"),
        (
            r#""overlay": {"mode": "dynamic", "min_degree": 5, "max_degree": 4, "bootstrap": ["a"]}"#,
            "max_degree",
        ),
        (
            r#""overlay": {"mode": "dynamic", "bootstrap": ["zz"]}"#,
            "overlay.bootstrap[0]",
        ),
        // b has no neighbour and nobody to bootstrap from: it could never join.
        (
            r#""overlay": {"mode": "dynamic"}"#,
            "peer \"b\" has no neighbour",
        ),
    ];
    for (overlay, expected) in refused {
        let text = format!("{{ {peers}, {overlay} }}");
        let e = TopologyConfig::parse(&text).expect_err(overlay).to_string();
        assert!(e.contains(expected), "{overlay}: {e}");
    }
    let static_ok = format!("{{ {peers} }}");
    assert_eq!(
        TopologyConfig::parse(&static_ok).unwrap().overlay.mode,
        OverlayMode::Static,
        "static by default, lonely peers allowed"
    );
}

/// `role` in `defaults` and per peer (issue 12): each peer runs its own, a missing one is
/// the flat network, and a bad one is named with its place.
#[test]
fn roles_come_from_defaults_and_peers() {
    use gnutella::node::{Role, RoleSetting};
    let c = TopologyConfig::parse(
        r#"{"name": "t", "defaults": {"role": "ultrapeer", "max_leaves": 2, "leaf_ultrapeers": 1},
            "peers": [
              {"id": "u", "listen": "127.0.0.1:0"},
              {"id": "l", "listen": "127.0.0.1:0", "neighbours": ["u"], "role": "leaf"},
              {"id": "a", "listen": "127.0.0.1:0", "neighbours": ["u"], "role": "auto"}]}"#,
    )
    .unwrap();
    assert_eq!(c.routing_of(0).node_role(), Some(Role::Ultrapeer));
    assert_eq!(c.routing_of(1).node_role(), Some(Role::Leaf));
    assert_eq!(c.routing_of(2).role, Some(RoleSetting::Auto));
    assert_eq!(c.routing_of(2).node_role(), Some(Role::Ultrapeer));
    assert_eq!(
        (c.routing_of(1).max_leaves, c.routing_of(1).leaf_ultrapeers),
        (2, 1)
    );
    assert!(c.overrides_routing(1) && !c.overrides_routing(0));
    let flat = shipped("quickstart.json");
    assert_eq!(flat.routing_of(0).node_role(), None);
    let e = err(r#"{"name": "t", "peers": [{"id": "u", "listen": "127.0.0.1:0", "role": "hub"}]}"#);
    assert!(e.to_string().contains("peers[0].role"), "{e}");
    let e = err(
        r#"{"name": "t", "defaults": {"leaf_ultrapeers": 0}, "peers": [{"id": "u", "listen": "127.0.0.1:0"}]}"#,
    );
    assert!(e.to_string().contains("leaf_ultrapeers"), "{e}");
}
