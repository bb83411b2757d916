//! `gnutella topology export`: a topology as GraphML, GEXF or DOT for graph tools, every
//! node and link there, names that would break the markup escaped, the same bytes twice.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gnutella");

fn export(file: &std::path::Path, format: &str) -> String {
    let out = Command::new(BIN)
        .args(["topology", "export"])
        .arg(file)
        .args(["--format", format])
        .output()
        .expect("gnutella runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Three peers in a line, one with a name full of markup, one link with a latency.
const CONFIG: &str = r#"{
  "peers": [
    {"id": "a<&\"'>b", "listen": "127.0.0.1:0", "neighbours": ["p1"],
     "share": {"files": [{"name": "x.bin", "size": 1}, {"name": "y.bin", "size": 2}]}},
    {"id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"]},
    {"id": "p2", "listen": "127.0.0.1:0"}
  ],
  "links": [{"between": ["p1", "p2"], "latency_ms": 25}]
}"#;

#[test]
fn every_format_holds_every_node_and_link_with_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.json");
    std::fs::write(&path, CONFIG).unwrap();

    let graphml = export(&path, "graphml");
    assert_eq!(graphml.matches("<node ").count(), 3);
    assert_eq!(graphml.matches("<edge ").count(), 2);
    assert!(graphml.contains("<data key=\"name\">a&lt;&amp;&quot;&apos;&gt;b</data>"));
    assert!(graphml.contains("<data key=\"files\">2</data>"));
    assert!(graphml.contains("source=\"n1\" target=\"n2\"><data key=\"latency_ms\">25</data>"));
    assert!(!graphml.contains("a<&"), "raw markup leaked");

    let gexf = export(&path, "gexf");
    assert_eq!(gexf.matches("<node ").count(), 3);
    assert_eq!(gexf.matches("<edge ").count(), 2);
    assert!(gexf.contains("label=\"a&lt;&amp;&quot;&apos;&gt;b\""));
    assert!(gexf.contains("<attvalue for=\"0\" value=\"25\"/>"));

    let dot = export(&path, "dot");
    assert!(dot.starts_with("graph G {\n") && dot.ends_with("}\n"));
    assert!(dot.contains("n0 [label=\"a<&\\\"'>b\""), "{dot}");
    assert!(dot.contains("n0 -- n1"), "{dot}");
    assert!(dot.contains("n1 -- n2 [latency_ms=25];"));

    assert_eq!(export(&path, "graphml"), graphml, "same bytes twice");
}

#[test]
fn a_snap_edge_list_exports_and_bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edges.txt");
    std::fs::write(&path, "# a triangle\n10\t20\n20\t30\n30\t10\n").unwrap();
    let graphml = export(&path, "graphml");
    assert_eq!(graphml.matches("<node ").count(), 3);
    assert_eq!(graphml.matches("<edge ").count(), 3);
    assert!(graphml.contains("<data key=\"name\">10</data>"));
    assert!(
        !graphml.contains("key=\"address\">"),
        "no addresses in a SNAP file"
    );

    let out = Command::new(BIN)
        .args(["topology", "export"])
        .arg(&path)
        .args(["--format", "svg"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("graphml"));
    let out = Command::new(BIN)
        .args([
            "topology",
            "export",
            "/no/such/file.json",
            "--format",
            "dot",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.json"));
}
