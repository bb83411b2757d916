//! One traced query's mark on each peer, for graph tools: the hop at which the query
//! first reached it, whether it was the origin, whether it answered from its own files
//! (a holder of a matching file). `gnutella topology export --trace` writes them as node
//! attributes, so a researcher colours a graph in Gephi or Graphviz by first hop.

use super::schema::{Trace, TraceLine};

/// What one query did to each peer of its trace (indexed like the trace header's peers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloodMarks {
    /// The query (lower-case hex GUID).
    pub guid: String,
    /// The least hop at which each peer took its first copy (0 for the origin); `None`
    /// where the query never arrived.
    pub first_hop: Vec<Option<u8>>,
    /// The peer that started the search, if the trace holds its start.
    pub origin: Option<u32>,
    /// Peers that answered from their own files.
    pub holder: Vec<bool>,
}

/// Why no marks could be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarksError {
    #[error("the trace holds no query")]
    NoQuery,
    #[error("the trace holds no query {0} (its queries: {1})")]
    UnknownQuery(String, String),
}

/// The marks of query `guid` (the trace's first query when `None`).
pub fn flood_marks(trace: &Trace, guid: Option<&str>) -> Result<FloodMarks, MarksError> {
    let guid = match guid {
        Some(g) => {
            let g = g.to_ascii_lowercase();
            if !trace.lines.iter().any(|l| l.query() == g) {
                return Err(MarksError::UnknownQuery(g, queries(trace)));
            }
            g
        }
        None => trace
            .lines
            .first()
            .map(|l| l.query().to_string())
            .ok_or(MarksError::NoQuery)?,
    };
    let n = trace.header.peers.len();
    let mut marks = FloodMarks {
        guid,
        first_hop: vec![None; n],
        origin: None,
        holder: vec![false; n],
    };
    for line in trace.lines.iter().filter(|l| l.query() == marks.guid) {
        match line {
            TraceLine::Start { peer, .. } => {
                marks.origin.get_or_insert(*peer);
            }
            TraceLine::First { peer, hop, .. } => {
                if let Some(at) = marks.first_hop.get_mut(*peer as usize) {
                    *at = Some(at.map_or(*hop, |h| h.min(*hop)));
                }
            }
            TraceLine::Answered {
                peer,
                from_cache: false,
                ..
            } => {
                if let Some(h) = marks.holder.get_mut(*peer as usize) {
                    *h = true;
                }
            }
            _ => {}
        }
    }
    if let Some(at) = marks
        .origin
        .and_then(|o| marks.first_hop.get_mut(o as usize))
    {
        *at = Some(0);
    }
    Ok(marks)
}

/// The trace's queries, in order of first appearance, for an error message (at most 10).
fn queries(trace: &Trace) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for line in &trace.lines {
        let q = line.query();
        if !seen.contains(&q) {
            seen.push(q);
        }
    }
    let more = seen.len().saturating_sub(10);
    let mut text = seen.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    if text.is_empty() {
        text.push_str("none");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::schema::{TraceFilter, TraceHeader, TracePeer, World};

    fn trace() -> Trace {
        let peers = (0..4)
            .map(|i| TracePeer {
                id: format!("p{i}"),
                addr: None,
            })
            .collect();
        let header = TraceHeader::new(World::Sim, peers, vec![], TraceFilter::First(1));
        let q = "ab".repeat(16);
        let first = |peer, hop| TraceLine::First {
            t: 0.0,
            q: q.clone(),
            peer,
            from: Some(0),
            hop,
            ttl: None,
        };
        Trace {
            header,
            lines: vec![
                TraceLine::Start {
                    t: 0.0,
                    q: q.clone(),
                    peer: 0,
                    words: "x".into(),
                    ttl: 7,
                    strategy: "flood".into(),
                },
                first(1, 1),
                first(2, 3),
                first(2, 2),
                TraceLine::Answered {
                    t: 0.0,
                    q: q.clone(),
                    peer: 2,
                    records: 1,
                    from_cache: false,
                },
                TraceLine::Answered {
                    t: 0.0,
                    q,
                    peer: 1,
                    records: 1,
                    from_cache: true,
                },
            ],
        }
    }

    #[test]
    fn each_peer_gets_its_least_first_hop_and_only_own_files_make_a_holder() {
        let m = flood_marks(&trace(), None).unwrap();
        assert_eq!(m.first_hop, [Some(0), Some(1), Some(2), None]);
        assert_eq!(m.origin, Some(0));
        assert_eq!(m.holder, [false, false, true, false]);
    }

    #[test]
    fn an_unknown_query_is_a_clear_error() {
        let e = flood_marks(&trace(), Some(&"cd".repeat(16))).unwrap_err();
        assert!(e.to_string().contains(&"ab".repeat(16)), "{e}");
        let upper = "AB".repeat(16);
        assert!(flood_marks(&trace(), Some(&upper)).is_ok());
        let empty = Trace {
            lines: vec![],
            ..trace()
        };
        assert_eq!(flood_marks(&empty, None), Err(MarksError::NoQuery));
    }
}
