//! A topology written for the graph tools researchers already use: GraphML (yEd, Gephi,
//! NetworkX, igraph), GEXF (Gephi) and Graphviz DOT.
//!
//! Nodes carry their name (a config's peer id, a SNAP file's label) and, for a config,
//! the listening address and the number of synthetic files it lists (`share.files`);
//! edges carry their latency when the topology gives one. With a traced query's
//! [`FloodAttributes`] (`export --trace`), nodes also carry `first_hop` (the hop at which
//! the query first reached them, absent where it never did), `origin` and `holder`.
//! Output depends only on its inputs (nodes in index order, edges in the graph's order),
//! so the same files give the same bytes.

use std::fmt::Write;

use super::load::Topology;

/// The formats `gnutella topology export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Graphml,
    Gexf,
    Dot,
}

/// One traced query's marks on the topology's nodes (indexed like them): plain data, so
/// that this layer needs no trace reader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FloodAttributes {
    /// The hop at which the query first reached each node (0: the origin); `None` where
    /// it never arrived.
    pub first_hop: Vec<Option<u8>>,
    /// The node that started the search.
    pub origin: Vec<bool>,
    /// Nodes that answered from their own files (holders of a matching file).
    pub holder: Vec<bool>,
}

/// What is known of one node.
struct NodeInfo {
    name: String,
    address: Option<String>,
    files: Option<usize>,
    /// (first hop, origin, holder) when a flood was given.
    flood: Option<(Option<u8>, bool, bool)>,
}

fn nodes(topology: &Topology, flood: Option<&FloodAttributes>) -> Vec<NodeInfo> {
    (0..topology.graph.node_count())
        .map(|i| {
            let peer = topology.config.as_ref().and_then(|c| c.peers.get(i));
            NodeInfo {
                flood: flood.map(|f| {
                    (
                        f.first_hop.get(i).copied().flatten(),
                        f.origin.get(i).copied().unwrap_or(false),
                        f.holder.get(i).copied().unwrap_or(false),
                    )
                }),
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
    export_with(topology, format, None)
}

/// The topology in `format`, its nodes marked by a traced query's `flood` when given.
pub fn export_with(
    topology: &Topology,
    format: GraphFormat,
    flood: Option<&FloodAttributes>,
) -> String {
    match format {
        GraphFormat::Graphml => graphml(topology, flood),
        GraphFormat::Gexf => gexf(topology, flood),
        GraphFormat::Dot => dot(topology, flood),
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

fn graphml(t: &Topology, flood: Option<&FloodAttributes>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n  \
         <key id=\"name\" for=\"node\" attr.name=\"name\" attr.type=\"string\"/>\n  \
         <key id=\"address\" for=\"node\" attr.name=\"address\" attr.type=\"string\"/>\n  \
         <key id=\"files\" for=\"node\" attr.name=\"files\" attr.type=\"int\"/>\n  \
         <key id=\"latency_ms\" for=\"edge\" attr.name=\"latency_ms\" attr.type=\"double\"/>\n",
    );
    if flood.is_some() {
        out.push_str(
            "  <key id=\"first_hop\" for=\"node\" attr.name=\"first_hop\" attr.type=\"int\"/>\n  \
             <key id=\"origin\" for=\"node\" attr.name=\"origin\" attr.type=\"boolean\"/>\n  \
             <key id=\"holder\" for=\"node\" attr.name=\"holder\" attr.type=\"boolean\"/>\n",
        );
    }
    out.push_str("  <graph id=\"G\" edgedefault=\"undirected\">\n");
    for (i, n) in nodes(t, flood).iter().enumerate() {
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
        if let Some((hop, origin, holder)) = n.flood {
            if let Some(h) = hop {
                let _ = write!(out, "<data key=\"first_hop\">{h}</data>");
            }
            let _ = write!(
                out,
                "<data key=\"origin\">{origin}</data><data key=\"holder\">{holder}</data>"
            );
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

fn gexf(t: &Topology, flood: Option<&FloodAttributes>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gexf xmlns=\"http://gexf.net/1.3\" version=\"1.3\">\n  \
         <graph defaultedgetype=\"undirected\" mode=\"static\">\n    \
         <attributes class=\"node\">\n      \
         <attribute id=\"0\" title=\"address\" type=\"string\"/>\n      \
         <attribute id=\"1\" title=\"files\" type=\"integer\"/>\n",
    );
    if flood.is_some() {
        out.push_str(
            "      <attribute id=\"2\" title=\"first_hop\" type=\"integer\"/>\n      \
             <attribute id=\"3\" title=\"origin\" type=\"boolean\"/>\n      \
             <attribute id=\"4\" title=\"holder\" type=\"boolean\"/>\n",
        );
    }
    out.push_str(
        "    </attributes>\n    \
         <attributes class=\"edge\">\n      \
         <attribute id=\"0\" title=\"latency_ms\" type=\"double\"/>\n    \
         </attributes>\n    <nodes>\n",
    );
    for (i, n) in nodes(t, flood).iter().enumerate() {
        let _ = write!(out, "      <node id=\"{i}\" label=\"{}\"", xml(&n.name));
        if n.address.is_none() && n.files.is_none() && n.flood.is_none() {
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
        if let Some((hop, origin, holder)) = n.flood {
            if let Some(h) = hop {
                let _ = write!(out, "<attvalue for=\"2\" value=\"{h}\"/>");
            }
            let _ = write!(
                out,
                "<attvalue for=\"3\" value=\"{origin}\"/><attvalue for=\"4\" value=\"{holder}\"/>"
            );
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

fn dot(t: &Topology, flood: Option<&FloodAttributes>) -> String {
    let mut out = String::from("graph G {\n");
    for (i, n) in nodes(t, flood).iter().enumerate() {
        let _ = write!(out, "  n{i} [label={}", dot_string(&n.name));
        if let Some(a) = &n.address {
            let _ = write!(out, ", address={}", dot_string(a));
        }
        if let Some(f) = n.files {
            let _ = write!(out, ", files={f}");
        }
        if let Some((hop, origin, holder)) = n.flood {
            if let Some(h) = hop {
                let _ = write!(out, ", first_hop={h}");
            }
            let _ = write!(out, ", origin={origin}, holder={holder}");
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
