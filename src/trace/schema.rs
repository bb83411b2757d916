//! The trace file format (JSON Lines), written by both worlds and read by `gnutella view`.
//!
//! ```text
//! {"schema":"gnutella-trace","version":1,"world":"sim","peers":[{"id":"p0","addr":"10.0.0.1:6346"},..],"links":[[0,1],..],"filter":{"first":10}}
//! {"ev":"send","t":0.0,"q":"6f1c..","peer":0,"to":1,"hop":1,"ttl":6}
//! {"ev":"start","t":0.0,"q":"6f1c..","peer":0,"words":"jazz","ttl":7,"strategy":"flood"}
//! {"ev":"first","t":10.0,"q":"6f1c..","peer":1,"from":0,"hop":1,"ttl":6}
//! ...
//! {"ev":"record","q":"6f1c..","record":{"guid":"6f1c..","messages":13,..}}
//! ```
//!
//! Line 1 is the [`TraceHeader`]: the peers (index = position, with their id and address)
//! and the overlay's links, so a trace is self-contained. Every other line is one
//! [`TraceLine`], tagged by `ev`; peers are named by index. Times `t` are milliseconds of
//! driver time (virtual in the simulator, since the process's clock epoch live).
//!
//! A *copy* is one descriptor put on one link. Lines about a copy carry its `hop` (the
//! number of links it has crossed once it arrives: the origin's own copies make hop 1)
//! and its `ttl` (the TTL it has left after that hop: 0 means the receiver forwards it no
//! further), so the send of a copy and its arrival carry the same two numbers.
//!
//! Lines of one query appear in the order the driver saw them: the origin's first sends
//! come before its `start` line, and in a live trace peers' lines interleave. Sort by `t`
//! (then by file order) for a timeline. The counts in a query's lines add up to its
//! `record`: `send` lines = `messages`, `duplicate` lines = `duplicates`, distinct `first`
//! peers other than the origin = `peers_reached`, `hit_delivered` lines = `hits`.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::node::record::QueryRecord;
use crate::node::DropReason;

/// The `schema` value of a trace header.
pub const SCHEMA: &str = "gnutella-trace";
/// The schema version this build writes and reads.
pub const VERSION: u32 = 1;

/// Which world wrote the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum World {
    /// The discrete-event simulator (`gnutella sim`).
    Sim,
    /// Real peers over TCP (`gnutella launch`, `gnutella demo`).
    Live,
}

/// Which searches a trace follows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFilter {
    /// The first N searches started (in the order their first copy left the origin).
    First(usize),
    /// Only the search with this GUID (32 hex digits).
    Guid(String),
}

/// One peer of the traced network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracePeer {
    /// The peer's name: a config id (`p3`), a SNAP label, or its index.
    pub id: String,
    /// Its listening address, when it has one (made up in the simulator: 10.0.0.0/8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
}

/// Line 1 of a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`VERSION`] when written by this build.
    pub version: u32,
    pub world: World,
    /// The network's name (a config's `name`, a generator spec, a file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The run's seed, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub peers: Vec<TracePeer>,
    /// Links between peers, by index, each once.
    pub links: Vec<[u32; 2]>,
    pub filter: TraceFilter,
}

impl TraceHeader {
    /// A header for a network of `peers` and `links`, current schema and version.
    pub fn new(
        world: World,
        peers: Vec<TracePeer>,
        links: Vec<[u32; 2]>,
        filter: TraceFilter,
    ) -> TraceHeader {
        TraceHeader {
            schema: SCHEMA.to_string(),
            version: VERSION,
            world,
            name: None,
            seed: None,
            peers,
            links,
            filter,
        }
    }
}

/// One step of a traced query (every line after the header).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum TraceLine {
    /// `peer` started the search.
    Start {
        t: f64,
        q: String,
        peer: u32,
        words: String,
        ttl: u8,
        strategy: String,
    },
    /// `peer` put a Query copy on its link to `to` (`None`: a link the driver no longer had).
    Send {
        t: f64,
        q: String,
        peer: u32,
        to: Option<u32>,
        hop: u8,
        ttl: u8,
    },
    /// `peer` handled its first copy of the query, which came from `from`.
    First {
        t: f64,
        q: String,
        peer: u32,
        from: Option<u32>,
        hop: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u8>,
    },
    /// A later copy from `from` that `peer` had already seen: dropped.
    Duplicate {
        t: f64,
        q: String,
        peer: u32,
        from: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hop: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u8>,
    },
    /// A later copy with more TTL left than any before (or a random walker passing again):
    /// forwarded again, not handled again.
    Reforward {
        t: f64,
        q: String,
        peer: u32,
        from: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hop: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u8>,
    },
    /// A Query copy dropped at `peer`: on arrival (from `from`), after handling (TTL
    /// expired, answered from the cache), or lost on the way to `to` (queue, link).
    Drop {
        t: f64,
        q: String,
        peer: u32,
        reason: DropReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hop: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl: Option<u8>,
    },
    /// `peer` answered with `records` results, from its library or its result cache.
    Answered {
        t: f64,
        q: String,
        peer: u32,
        records: u32,
        from_cache: bool,
    },
    /// `peer` put a QueryHit of servent `servent` on its link to `to` (the responder's
    /// own, or routed back one more hop).
    HitRouted {
        t: f64,
        q: String,
        peer: u32,
        to: Option<u32>,
        hop: u8,
        ttl: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        servent: Option<String>,
    },
    /// A QueryHit dropped at `peer` on its way back.
    HitDropped {
        t: f64,
        q: String,
        peer: u32,
        reason: DropReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        servent: Option<String>,
    },
    /// A QueryHit reached the search's origin `peer` over its link from `from`; the
    /// answering peer was `hops` hops away (`cached`: it answered from its cache, the
    /// holder being that many hops further).
    HitDelivered {
        t: f64,
        q: String,
        peer: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<u32>,
        hops: u8,
        records: u32,
        servent: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cached: Option<u8>,
    },
    /// The query's record (the same as in the run's report), after all its lines.
    Record { q: String, record: Box<QueryRecord> },
}

impl TraceLine {
    /// The query the line is about (lower-case hex GUID).
    pub fn query(&self) -> &str {
        match self {
            TraceLine::Start { q, .. }
            | TraceLine::Send { q, .. }
            | TraceLine::First { q, .. }
            | TraceLine::Duplicate { q, .. }
            | TraceLine::Reforward { q, .. }
            | TraceLine::Drop { q, .. }
            | TraceLine::Answered { q, .. }
            | TraceLine::HitRouted { q, .. }
            | TraceLine::HitDropped { q, .. }
            | TraceLine::HitDelivered { q, .. }
            | TraceLine::Record { q, .. } => q,
        }
    }

    /// Every peer index the line names (to check them against the header).
    fn peers(&self) -> impl Iterator<Item = u32> {
        let (a, b, c): (Option<u32>, Option<u32>, Option<u32>) = match self {
            TraceLine::Start { peer, .. } | TraceLine::Answered { peer, .. } => {
                (Some(*peer), None, None)
            }
            TraceLine::Send { peer, to, .. } | TraceLine::HitRouted { peer, to, .. } => {
                (Some(*peer), *to, None)
            }
            TraceLine::First { peer, from, .. }
            | TraceLine::Duplicate { peer, from, .. }
            | TraceLine::Reforward { peer, from, .. }
            | TraceLine::HitDelivered { peer, from, .. } => (Some(*peer), *from, None),
            TraceLine::Drop { peer, from, to, .. }
            | TraceLine::HitDropped { peer, from, to, .. } => (Some(*peer), *from, *to),
            TraceLine::Record { .. } => (None, None, None),
        };
        [a, b, c].into_iter().flatten()
    }
}

/// A whole trace file, read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub header: TraceHeader,
    pub lines: Vec<TraceLine>,
}

/// Why a trace file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read the trace: {0}")]
    Io(#[from] std::io::Error),
    #[error("the trace is empty (line 1 should be its header)")]
    Empty,
    #[error("line 1 is not a trace header: {0}")]
    Header(String),
    #[error("not a gnutella trace (schema {0:?}, expected \"gnutella-trace\")")]
    NotATrace(String),
    #[error("trace schema version {0} is not supported (this build reads version {VERSION})")]
    Version(u32),
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// Reads a trace: its header, then every line, checking that each line is a known step
/// and names only peers the header lists. Blank lines are skipped.
pub fn read_trace(reader: impl BufRead) -> Result<Trace, TraceError> {
    let mut lines = reader.lines();
    let first = loop {
        match lines.next() {
            None => return Err(TraceError::Empty),
            Some(line) => {
                let line = line?;
                if !line.trim().is_empty() {
                    break line;
                }
            }
        }
    };
    let raw: serde_json::Value =
        serde_json::from_str(&first).map_err(|e| TraceError::Header(e.to_string()))?;
    let schema = raw.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema != SCHEMA {
        return Err(TraceError::NotATrace(schema.to_string()));
    }
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(VERSION) {
        return Err(TraceError::Version(version.min(u64::from(u32::MAX)) as u32));
    }
    let header: TraceHeader =
        serde_json::from_value(raw).map_err(|e| TraceError::Header(e.to_string()))?;
    let n = header.peers.len() as u64;
    for (i, [a, b]) in header.links.iter().enumerate() {
        if u64::from(*a) >= n || u64::from(*b) >= n {
            return Err(TraceError::Header(format!(
                "link {i} ({a}, {b}) names a peer beyond the {n} listed"
            )));
        }
    }
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let number = i + 2;
        let parsed: TraceLine = serde_json::from_str(&line).map_err(|e| TraceError::Line {
            line: number,
            message: e.to_string(),
        })?;
        if let Some(bad) = parsed.peers().find(|&p| u64::from(p) >= n) {
            return Err(TraceError::Line {
                line: number,
                message: format!("peer {bad} is not among the {n} peers of the header"),
            });
        }
        out.push(parsed);
    }
    Ok(Trace { header, lines: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        let h = TraceHeader::new(
            World::Sim,
            vec![
                TracePeer {
                    id: "a".into(),
                    addr: None,
                },
                TracePeer {
                    id: "b".into(),
                    addr: Some("10.0.0.2:6346".into()),
                },
            ],
            vec![[0, 1]],
            TraceFilter::First(10),
        );
        serde_json::to_string(&h).unwrap()
    }

    #[test]
    fn a_trace_reads_back_line_by_line() {
        let text = format!(
            "{}\n{}\n\n{}\n",
            header(),
            r#"{"ev":"send","t":0.0,"q":"00","peer":0,"to":1,"hop":1,"ttl":6}"#,
            r#"{"ev":"first","t":10.0,"q":"00","peer":1,"from":0,"hop":1,"ttl":6}"#
        );
        let trace = read_trace(text.as_bytes()).unwrap();
        assert_eq!(trace.header.peers.len(), 2);
        assert_eq!(trace.header.filter, TraceFilter::First(10));
        assert_eq!(trace.lines.len(), 2);
        assert!(matches!(
            trace.lines[1],
            TraceLine::First {
                peer: 1,
                from: Some(0),
                hop: 1,
                ..
            }
        ));
    }

    #[test]
    fn bad_files_are_refused_with_the_line_that_is_wrong() {
        let cases = [
            (String::new(), "empty"),
            ("{\"schema\":\"other\"}".to_string(), "not a gnutella trace"),
            (
                "{\"schema\":\"gnutella-trace\",\"version\":99}".to_string(),
                "version 99",
            ),
            (format!("{}\n{{\"ev\":\"warp\"}}", header()), "line 2"),
            (
                format!(
                    "{}\n{}",
                    header(),
                    r#"{"ev":"send","t":0,"q":"00","peer":7,"to":1,"hop":1,"ttl":6}"#
                ),
                "peer 7",
            ),
            ("not json".to_string(), "line 1"),
        ];
        for (text, expected) in cases {
            let err = read_trace(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} should say {expected:?}");
        }
    }
}
