//! A topology written for the graph tools researchers already use: GraphML (yEd, Gephi,
//! NetworkX, igraph), GEXF (Gephi) and Graphviz DOT.
//!
//! Nodes carry their name (a config's peer id, a SNAP file's label) and, for a config,
//! the listening address and the number of synthetic files it lists (`share.files`);
//! edges carry their latency when the topology gives one. Output depends only on the
//! topology (nodes in index order, edges in the graph's order), so the same file gives
//! the same bytes.

use std::fmt::Write;

use super::load::Topology;

/// The formats `gnutella topology export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Graphml,
    Gexf,
    Dot,
}

/// What is known of one node.
struct NodeInfo {
    name: String,
    address: Option<String>,
    files: Option<usize>,
}

fn nodes(topology: &Topology) -> Vec<NodeInfo> {
    (0..topology.graph.node_count())
        .map(|i| {
            let peer = topology.config.as_ref().and_then(|c| c.peers.get(i));
            NodeInfo {
                name: topology
                    .names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| i.to_string()),
                address: peer.map(|p| p.listen.to_string()),
                files: peer.map(|p| p.share.files.len()),
            }
        })
        .collect()
}

/// The topology in `format`.
pub fn export(topology: &Topology, format: GraphFormat) -> String {
    match format {
        GraphFormat::Graphml => graphml(topology),
        GraphFormat::Gexf => gexf(topology),
        GraphFormat::Dot => dot(topology),
    }
}

/// `&`, `<`, `>`, `"` and `'` as XML entities; control characters other than tab and
/// line breaks (not allowed in XML 1.0) dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn graphml(t: &Topology) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n  \
         <key id=\"name\" for=\"node\" attr.name=\"name\" attr.type=\"string\"/>\n  \
         <key id=\"address\" for=\"node\" attr.name=\"address\" attr.type=\"string\"/>\n  \
         <key id=\"files\" for=\"node\" attr.name=\"files\" attr.type=\"int\"/>\n  \
         <key id=\"latency_ms\" for=\"edge\" attr.name=\"latency_ms\" attr.type=\"double\"/>\n  \
         <graph id=\"G\" edgedefault=\"undirected\">\n",
    );
    for (i, n) in nodes(t).iter().enumerate() {
        let _ = write!(
            out,
            "    <node id=\"n{i}\"><data key=\"name\">{}</data>",
            xml(&n.name)
        );
        if let Some(a) = &n.address {
            let _ = write!(out, "<data key=\"address\">{}</data>", xml(a));
        }
        if let Some(f) = n.files {
            let _ = write!(out, "<data key=\"files\">{f}</data>");
        }
        out.push_str("</node>\n");
    }
    for (e, (a, b)) in t.graph.links().enumerate() {
        let _ = write!(out, "    <edge id=\"e{e}\" source=\"n{a}\" target=\"n{b}\"");
        match t.graph.latency_of(a, b) {
            Some(ms) => {
                let _ = writeln!(out, "><data key=\"latency_ms\">{ms}</data></edge>");
            }
            None => out.push_str("/>\n"),
        }
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}

fn gexf(t: &Topology) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gexf xmlns=\"http://gexf.net/1.3\" version=\"1.3\">\n  \
         <graph defaultedgetype=\"undirected\" mode=\"static\">\n    \
         <attributes class=\"node\">\n      \
         <attribute id=\"0\" title=\"address\" type=\"string\"/>\n      \
         <attribute id=\"1\" title=\"files\" type=\"integer\"/>\n    \
         </attributes>\n    \
         <attributes class=\"edge\">\n      \
         <attribute id=\"0\" title=\"latency_ms\" type=\"double\"/>\n    \
         </attributes>\n    <nodes>\n",
    );
    for (i, n) in nodes(t).iter().enumerate() {
        let _ = write!(out, "      <node id=\"{i}\" label=\"{}\"", xml(&n.name));
        if n.address.is_none() && n.files.is_none() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str("><attvalues>");
        if let Some(a) = &n.address {
            let _ = write!(out, "<attvalue for=\"0\" value=\"{}\"/>", xml(a));
        }
        if let Some(f) = n.files {
            let _ = write!(out, "<attvalue for=\"1\" value=\"{f}\"/>");
        }
        out.push_str("</attvalues></node>\n");
    }
    out.push_str("    </nodes>\n    <edges>\n");
    for (e, (a, b)) in t.graph.links().enumerate() {
        let _ = write!(out, "      <edge id=\"{e}\" source=\"{a}\" target=\"{b}\"");
        match t.graph.latency_of(a, b) {
            Some(ms) => {
                let _ = writeln!(
                    out,
                    "><attvalues><attvalue for=\"0\" value=\"{ms}\"/></attvalues></edge>"
                );
            }
            None => out.push_str("/>\n"),
        }
    }
    out.push_str("    </edges>\n  </graph>\n</gexf>\n");
    out
}

/// A DOT string literal: quotes and backslashes escaped, line breaks as `\n`.
fn dot_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot(t: &Topology) -> String {
    let mut out = String::from("graph G {\n");
    for (i, n) in nodes(t).iter().enumerate() {
        let _ = write!(out, "  n{i} [label={}", dot_string(&n.name));
        if let Some(a) = &n.address {
            let _ = write!(out, ", address={}", dot_string(a));
        }
        if let Some(f) = n.files {
            let _ = write!(out, ", files={f}");
        }
        out.push_str("];\n");
    }
    for (a, b) in t.graph.links() {
        match t.graph.latency_of(a, b) {
            Some(ms) => {
                let _ = writeln!(out, "  n{a} -- n{b} [latency_ms={ms}];");
            }
            None => {
                let _ = writeln!(out, "  n{a} -- n{b};");
            }
        }
    }
    out.push_str("}\n");
    out
}
