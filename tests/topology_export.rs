//! `gnutella topology export`: a topology as GraphML, GEXF or DOT for graph tools, every
//! node and link there, names that would break the markup escaped, the same bytes twice;
//! with `--trace`, a traced query's first hop, origin and holders as node attributes.

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

/// A line p0-p1-p2-p3-p4; p3 holds the file; p0 searches with TTL 3, which stops short
/// of p4.
const LINE_SEARCH: &str = r#"{
  "name": "line-5",
  "defaults": {"seed": 3, "cache": {"mode": "off"}},
  "peers": [
    {"id": "p0", "listen": "127.0.0.1:0", "neighbours": ["p1"]},
    {"id": "p1", "listen": "127.0.0.1:0", "neighbours": ["p2"]},
    {"id": "p2", "listen": "127.0.0.1:0", "neighbours": ["p3"]},
    {"id": "p3", "listen": "127.0.0.1:0", "neighbours": ["p4"],
     "share": {"files": [{"name": "far-away-file.bin", "size": 10}]}},
    {"id": "p4", "listen": "127.0.0.1:0"}
  ],
  "workload": {"queries": [{"from": "p0", "words": "far away", "ttl": 3, "at_ms": 0}]}
}"#;

fn gnutella(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("gnutella runs")
}

#[test]
fn a_traced_query_marks_each_node_with_its_first_hop_origin_and_holder() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("line.json");
    std::fs::write(&config, LINE_SEARCH).unwrap();
    let trace = dir.path().join("flood.jsonl");
    let (config, trace) = (config.to_str().unwrap(), trace.to_str().unwrap());
    let sim = gnutella(&["sim", "--topology", config, "--trace", trace]);
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );

    let run = |format: &str, query: Option<&str>| {
        let mut args = vec![
            "topology", "export", config, "--format", format, "--trace", trace,
        ];
        if let Some(q) = query {
            args.extend(["--query", q]);
        }
        gnutella(&args)
    };
    let out = run("dot", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = String::from_utf8(out.stdout).unwrap();
    let nodes: Vec<&str> = dot.lines().filter(|l| l.contains(" [label=")).collect();
    let address = "address=\"127.0.0.1:0\"";
    assert_eq!(
        nodes,
        [
            format!(
                "  n0 [label=\"p0\", {address}, files=0, first_hop=0, origin=true, holder=false];"
            ),
            format!(
                "  n1 [label=\"p1\", {address}, files=0, first_hop=1, origin=false, holder=false];"
            ),
            format!(
                "  n2 [label=\"p2\", {address}, files=0, first_hop=2, origin=false, holder=false];"
            ),
            format!(
                "  n3 [label=\"p3\", {address}, files=1, first_hop=3, origin=false, holder=true];"
            ),
            // TTL 3 never reaches p4: no first_hop.
            format!("  n4 [label=\"p4\", {address}, files=0, origin=false, holder=false];"),
        ]
    );

    // GraphML and GEXF declare the attributes and carry the same marks.
    let graphml = String::from_utf8(run("graphml", None).stdout).unwrap();
    assert!(graphml.contains("attr.name=\"first_hop\" attr.type=\"int\""));
    assert_eq!(
        graphml.matches("<data key=\"first_hop\">").count(),
        4,
        "{graphml}"
    );
    assert!(graphml.contains(
        "<data key=\"first_hop\">3</data><data key=\"origin\">false</data><data key=\"holder\">true</data>"
    ));
    let gexf = String::from_utf8(run("gexf", None).stdout).unwrap();
    assert!(gexf.contains("<attribute id=\"2\" title=\"first_hop\" type=\"integer\"/>"));
    assert!(gexf.contains("<attvalue for=\"2\" value=\"3\"/><attvalue for=\"3\" value=\"false\"/><attvalue for=\"4\" value=\"true\"/>"));
    // Without --trace, none of it.
    let plain =
        String::from_utf8(gnutella(&["topology", "export", config, "--format", "graphml"]).stdout)
            .unwrap();
    assert!(!plain.contains("first_hop"));

    // The query by its GUID gives the same; an unknown one is a clear error.
    let guid = std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .nth(1)
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["q"].as_str().map(str::to_string))
        .expect("a traced query");
    assert_eq!(
        String::from_utf8(run("dot", Some(&guid)).stdout).unwrap(),
        dot
    );
    let bad = run("dot", Some(&"0".repeat(32)));
    assert!(!bad.status.success());
    let why = String::from_utf8_lossy(&bad.stderr);
    assert!(
        why.contains("holds no query") && why.contains(&guid),
        "{why}"
    );
}

#[test]
fn a_trace_of_another_network_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("line.json");
    std::fs::write(&config, LINE_SEARCH).unwrap();
    let trace = dir.path().join("flood.jsonl");
    let sim = gnutella(&[
        "sim",
        "--gen",
        "ring:n=6",
        "--queries",
        "1",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let out = gnutella(&[
        "topology",
        "export",
        config.to_str().unwrap(),
        "--format",
        "dot",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("none of its 6 peers"), "{why}");
}
