//! Loading a topology from a file, whichever form it is in: our topology-config JSON, or
//! a SNAP edge list such as the 2002 Gnutella crawls (`p2p-Gnutella08.txt`).
//!
//! `sim --topology`, `topology stats` and the experiments take either, so the form is
//! told by content (JSON starts with `{`), not by file name.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::topology::{ConfigError, Graph, TopologyConfig};

/// Which form a topology came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Config,
    Snap,
}

/// A loaded topology: its graph, a name per node, and the config when it was one.
#[derive(Clone, Debug)]
pub struct Topology {
    pub graph: Graph,
    /// Node `i`'s name: the peer id of a config, the original label of a SNAP file.
    pub names: Vec<String>,
    /// The whole config (peers, shares, workload) when loaded from one.
    pub config: Option<TopologyConfig>,
    pub format: Format,
}

/// Why a topology file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}line {line}: {message}", file_prefix(.path))]
    Snap {
        path: Option<PathBuf>,
        line: usize,
        message: String,
    },
    #[error("{}no links found (expected a topology config or a SNAP edge list)", file_prefix(.path))]
    Empty { path: Option<PathBuf> },
}

fn file_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

/// Loads a topology config or a SNAP edge list, told apart by content.
pub fn load(path: impl AsRef<Path>) -> Result<Topology, LoadError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if looks_like_json(&text) {
        let config = TopologyConfig::parse_from_file(&text, path)?;
        Ok(from_config(config))
    } else {
        parse_snap(&text).map_err(|e| with_path(e, path))
    }
}

/// Parses a topology config or a SNAP edge list held in memory.
pub fn parse(text: &str) -> Result<Topology, LoadError> {
    if looks_like_json(text) {
        Ok(from_config(TopologyConfig::parse(text)?))
    } else {
        parse_snap(text)
    }
}

fn looks_like_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

fn with_path(e: LoadError, path: &Path) -> LoadError {
    match e {
        LoadError::Snap { line, message, .. } => LoadError::Snap {
            path: Some(path.to_path_buf()),
            line,
            message,
        },
        LoadError::Empty { .. } => LoadError::Empty {
            path: Some(path.to_path_buf()),
        },
        other => other,
    }
}

/// The topology of an already validated config.
pub fn from_config(config: TopologyConfig) -> Topology {
    Topology {
        graph: Graph::from_config(&config),
        names: config.peers.iter().map(|p| p.id.clone()).collect(),
        config: Some(config),
        format: Format::Config,
    }
}

/// Parses a SNAP edge list: one `FROM TO` pair of integers per line, separated by
/// whitespace; `#` starts a comment; blank lines are skipped. Every line is an
/// undirected link (a directed crawl's `a b` and `b a` become one link); labels are
/// renumbered densely in order of first appearance.
pub fn parse_snap(text: &str) -> Result<Topology, LoadError> {
    parse_snap_lines(text.lines().map(|l| Ok(l.to_string())))
}

/// Like [`parse_snap`], streaming from a reader (for edge lists too big to hold twice).
pub fn read_snap(reader: impl BufRead) -> Result<Topology, LoadError> {
    parse_snap_lines(reader.lines())
}

fn parse_snap_lines(
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> Result<Topology, LoadError> {
    let mut ids: HashMap<i64, u32> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let snap_err = |line: usize, message: String| LoadError::Snap {
        path: None,
        line,
        message,
    };
    for (i, line) in lines.enumerate() {
        let number = i + 1;
        let line = line.map_err(|e| snap_err(number, e.to_string()))?;
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut fields = content.split_whitespace();
        let (from, to) = match (fields.next(), fields.next(), fields.next()) {
            (Some(a), Some(b), None) => (a, b),
            _ => {
                return Err(snap_err(
                    number,
                    format!("expected two node labels \"FROM TO\", got {content:?}"),
                ))
            }
        };
        let mut id_of = |label: &str| -> Result<u32, LoadError> {
            let value: i64 = label
                .parse()
                .map_err(|_| snap_err(number, format!("node label {label:?} is not an integer")))?;
            if let Some(&id) = ids.get(&value) {
                return Ok(id);
            }
            let id = u32::try_from(names.len())
                .map_err(|_| snap_err(number, "more than 4 billion nodes".to_string()))?;
            ids.insert(value, id);
            names.push(value.to_string());
            Ok(id)
        };
        let a = id_of(from)?;
        let b = id_of(to)?;
        edges.push((a, b));
    }
    if names.is_empty() {
        return Err(LoadError::Empty { path: None });
    }
    Ok(Topology {
        graph: Graph::from_edges(names.len(), &edges),
        names,
        config: None,
        format: Format::Snap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_lines_become_undirected_links() {
        let t = parse("# comment\n10 20\n20 10\n\n20\t30 # trailing\n30 30\n").unwrap();
        assert_eq!(t.format, Format::Snap);
        assert_eq!(t.names, vec!["10", "20", "30"]);
        assert_eq!(t.graph.link_count(), 2);
    }

    #[test]
    fn bad_snap_line_is_named() {
        let e = parse("1 2\n2 x\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("1 2 3\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
