//! Loading topologies from files: the real 2002 Gnutella crawl in SNAP form, our configs,
//! and bad edge lists refused with the line number.

use std::path::Path;

use gnutella::topology::graph::ConfigOptions;
use gnutella::topology::load::{self, Format};
use gnutella::topology::{GenSpec, LoadError};

/// Links in p2p-Gnutella08.txt once direction and repeats are dropped: the file has
/// 20,777 directed lines and no pair appears in both directions, so the count holds.
const GNUTELLA08_LINKS: usize = 20_777;

#[test]
fn real_gnutella_crawl_loads_with_its_counts() {
    // Shipped with the repository (data/topologies/README.md), so this never skips.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/topologies/p2p-Gnutella08.txt");
    let t = load::load(&path).unwrap();
    assert_eq!(t.format, Format::Snap);
    assert_eq!(t.graph.node_count(), 6_301);
    assert_eq!(t.graph.link_count(), GNUTELLA08_LINKS);
    assert!(t.config.is_none());
    let components = gnutella::topology::stats::components(&t.graph);
    assert_eq!(components.sizes.len(), 2);
    assert_eq!(components.sizes.iter().max(), Some(&6_299));
}

#[test]
fn generated_config_loads_back_as_the_same_graph() {
    let g = GenSpec::parse("ba:n=300,m=2").unwrap().generate(5).unwrap();
    let config = g
        .to_config(&ConfigOptions {
            base_port: None,
            ..Default::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ba.json");
    std::fs::write(&path, config.to_json_pretty()).unwrap();
    let t = load::load(&path).unwrap();
    assert_eq!(t.format, Format::Config);
    assert_eq!(t.graph, g);
    assert_eq!(t.names[7], "p7");
    assert!(t.config.unwrap().peers.iter().all(|p| p.listen.port() == 0));
}

#[test]
fn snap_with_comments_blank_lines_and_tabs() {
    let text = "# Directed graph\n# Nodes: 3 Edges: 3\n\n100\t7\n7 100\n  7   -3  \n";
    let t = load::parse(text).unwrap();
    assert_eq!(t.graph.node_count(), 3);
    assert_eq!(t.graph.link_count(), 2);
    assert_eq!(t.names, vec!["100", "7", "-3"]);
}

#[test]
fn bad_snap_lines_name_the_line_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges.txt");
    std::fs::write(&path, "# c\n1 2\n2 three\n").unwrap();
    let e = load::load(&path).unwrap_err();
    assert!(matches!(e, LoadError::Snap { line: 3, .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("edges.txt") && text.contains("line 3") && text.contains("three"),
        "{text}"
    );
    assert!(matches!(
        load::parse("1\n"),
        Err(LoadError::Snap { line: 1, .. })
    ));
    assert!(matches!(
        load::parse("# only comments\n\n"),
        Err(LoadError::Empty { .. })
    ));
}

#[test]
fn json_is_told_by_content() {
    let e = load::parse("  { \"peers\": [ ] }").unwrap_err();
    assert!(matches!(e, LoadError::Config(_)), "{e:?}");
}
