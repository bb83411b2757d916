//! The flood trace of a launch over child processes (`launch --shards K --trace FILE`,
//! and the live page's floods with `--shards`).
//!
//! Each child traces its own peers (a headless [`Tracer`](crate::trace::Tracer) naming
//! every peer by config index) and says each step as a `TRACE` line; the parent writes
//! the one header, merges the children's steps as they come, and ends the file with the
//! merged records. Which queries a `--trace-queries N` trace keeps is decided here, by the
//! order their `start` steps arrive: the children trace every query, because a child that
//! only relays a query cannot know whether it is among the first N started anywhere.
//! Steps of a query whose start has not arrived yet wait (boundedly) for it.

use std::collections::{HashMap, HashSet};
use std::io;

use crate::node::record::QueryRecord;
use crate::protocol::Guid;
use crate::trace::sink::TraceSink;
use crate::trace::tracer::record_lines;
use crate::trace::{TraceFilter, TraceHeader, TraceLine, TraceOutput};

/// Steps held for queries whose start has not arrived; beyond, steps are dropped.
const MAX_WAITING: usize = 200_000;

/// The parent's merge of its children's trace lines into one trace.
pub struct ShardTrace {
    sink: TraceSink,
    filter: TraceFilter,
    /// Admitted queries, in the order their start arrived.
    order: Vec<String>,
    admitted: HashSet<String>,
    refused: HashSet<String>,
    waiting: HashMap<String, Vec<TraceLine>>,
    waiting_lines: usize,
    /// Steps dropped because too many waited for their query's start.
    pub dropped: u64,
}

impl ShardTrace {
    /// Writes `header` to `out` and starts merging.
    pub fn start(header: &TraceHeader, out: Box<dyn TraceOutput>) -> io::Result<ShardTrace> {
        let mut sink = TraceSink::new(out);
        sink.write_now(header)?;
        Ok(ShardTrace {
            sink,
            filter: header.filter.clone(),
            order: Vec::new(),
            admitted: HashSet::new(),
            refused: HashSet::new(),
            waiting: HashMap::new(),
            waiting_lines: 0,
            dropped: 0,
        })
    }

    /// What the children are asked to trace: the one query of a GUID filter, else all.
    pub fn child_filter(&self) -> Option<Guid> {
        match &self.filter {
            TraceFilter::Guid(hex) => Guid::from_hex(&hex.to_ascii_lowercase()),
            TraceFilter::First(_) => None,
        }
    }

    /// One step from a child.
    pub fn line(&mut self, line: TraceLine) {
        if matches!(line, TraceLine::Record { .. }) {
            return; // the records are the parent's, written at the end
        }
        let q = line.query().to_string();
        if self.admitted.contains(&q) {
            return self.write(&line);
        }
        if self.refused.contains(&q) {
            return;
        }
        let decides = match &self.filter {
            TraceFilter::Guid(_) => Some(true),
            TraceFilter::First(n) => {
                matches!(line, TraceLine::Start { .. }).then_some(self.order.len() < *n)
            }
        };
        match decides {
            Some(true) => {
                self.admitted.insert(q.clone());
                self.order.push(q.clone());
                let held = self.waiting.remove(&q).unwrap_or_default();
                self.waiting_lines -= held.len();
                self.write(&line);
                for l in &held {
                    self.write(l);
                }
            }
            Some(false) => {
                if let Some(held) = self.waiting.remove(&q) {
                    self.waiting_lines -= held.len();
                }
                self.refused.insert(q);
            }
            None if self.waiting_lines < MAX_WAITING => {
                self.waiting.entry(q).or_default().push(line);
                self.waiting_lines += 1;
            }
            None => self.dropped += 1,
        }
    }

    /// Ends the trace: the admitted queries' `record` lines from `records`, then the
    /// file is put in place.
    pub fn finish(self, records: &[QueryRecord]) -> io::Result<()> {
        self.sink.finish(record_lines(self.order, records))
    }

    fn write(&mut self, line: &TraceLine) {
        self.sink.write(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::schema::{TracePeer, World};
    use crate::trace::{read_trace, MemoryTrace};

    fn header(filter: TraceFilter) -> TraceHeader {
        let peers = (0..3)
            .map(|i| TracePeer {
                id: format!("p{i}"),
                addr: None,
            })
            .collect();
        TraceHeader::new(World::Live, peers, vec![[0, 1], [1, 2]], filter)
    }

    fn start(q: &str, peer: u32) -> TraceLine {
        TraceLine::Start {
            t: 0.0,
            q: q.into(),
            peer,
            words: "w".into(),
            ttl: 3,
            strategy: "flood".into(),
        }
    }

    fn first(q: &str, peer: u32) -> TraceLine {
        TraceLine::First {
            t: 1.0,
            q: q.into(),
            peer,
            from: Some(0),
            hop: 1,
            ttl: None,
        }
    }

    #[test]
    fn the_first_n_starts_decide_and_early_steps_wait_for_theirs() {
        let memory = MemoryTrace::new();
        let mut trace =
            ShardTrace::start(&header(TraceFilter::First(1)), Box::new(memory.clone())).unwrap();
        let (a, b) = ("a".repeat(32), "b".repeat(32));
        trace.line(first(&a, 1)); // from another child, before a's start
        trace.line(start(&a, 0));
        trace.line(start(&b, 2)); // one query only: b is refused
        trace.line(first(&b, 1));
        trace.line(first(&a, 2));
        trace.finish(&[]).unwrap();
        let read = read_trace(memory.text().as_bytes()).unwrap();
        let qs: Vec<&str> = read.lines.iter().map(|l| l.query()).collect();
        assert_eq!(qs, [a.as_str(), a.as_str(), a.as_str()]);
        assert!(
            matches!(read.lines[0], TraceLine::Start { .. }),
            "the start first"
        );
        assert_eq!(trace_child_filter(TraceFilter::First(1)), None);
    }

    fn trace_child_filter(filter: TraceFilter) -> Option<Guid> {
        ShardTrace::start(&header(filter), Box::new(MemoryTrace::new()))
            .unwrap()
            .child_filter()
    }

    #[test]
    fn a_guid_filter_is_the_childrens_and_keeps_its_query_whatever_comes_first() {
        let g = "c".repeat(32);
        assert_eq!(
            trace_child_filter(TraceFilter::Guid(g.to_uppercase())),
            Guid::from_hex(&g)
        );
        let memory = MemoryTrace::new();
        let mut trace = ShardTrace::start(
            &header(TraceFilter::Guid(g.clone())),
            Box::new(memory.clone()),
        )
        .unwrap();
        trace.line(first(&g, 1));
        trace.finish(&[]).unwrap();
        assert_eq!(read_trace(memory.text().as_bytes()).unwrap().lines.len(), 1);
    }
}
