//! The fold that turns what a driver sees into trace lines.
//!
//! A driver tells the [`Tracer`] four things, in the order they happen at each peer:
//! - [`Tracer::arrival`]: a copy arrived at a peer over a link (before the node handles
//!   it), and [`Tracer::input_done`] once the node's outputs for it are drained: the
//!   events in between are that copy's verdict (first, duplicate, re-forward, drop);
//! - [`Tracer::event`]: every node [`Event`], exactly as the recorder gets it;
//! - [`Tracer::sent`]: a copy put on a link (`Output::Send`), with its wire header;
//! - [`Tracer::lost`]: a copy the driver itself lost (queue full, link down or lossy,
//!   still travelling at the end).
//!
//! Peers that run concurrently (the live network) may interleave their calls: the
//! arrival being handled is kept per peer. Only Query and QueryHit copies are traced, and
//! only for the queries the [`TraceFilter`] admits: a search is admitted when it first
//! shows (its origin's first copy leaving, its `SearchStarted`, or, for a search from
//! outside the traced peers, its first arrival), while the filter has room.

use std::collections::{HashMap, HashSet};
use std::io;

use super::file::TraceOutput;
use super::schema::{TraceFilter, TraceHeader, TraceLine};
use super::sink::TraceSink;
use crate::node::record::QueryRecord;
use crate::node::{CopyFate, DropReason, Event, Time};
use crate::protocol::{kind, Guid, Message, Payload};

/// One copy of a Query or QueryHit on one link: its wire header and the link's ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracedCopy {
    pub guid: Guid,
    /// `protocol::kind::QUERY` or `QUERY_HIT`.
    pub kind: u8,
    /// Hops and TTL as on the wire (before the receiver's hop).
    pub hops: u8,
    pub ttl: u8,
    /// The sending peer and the receiving peer, where the driver knows them.
    pub from: Option<u32>,
    pub to: Option<u32>,
    /// The servent a QueryHit names.
    pub servent: Option<Guid>,
}

impl TracedCopy {
    /// The copy of `msg` on the link `from` → `to`; `None` for descriptors other than
    /// Query and QueryHit (pings, pongs, pushes are not traced).
    pub fn of(msg: &Message, from: Option<u32>, to: Option<u32>) -> Option<TracedCopy> {
        let servent = match &msg.payload {
            Payload::Query(_) => None,
            Payload::QueryHit(hit) => Some(hit.servent_guid),
            _ => return None,
        };
        Some(TracedCopy {
            guid: msg.guid,
            kind: msg.payload.kind(),
            hops: msg.hops,
            ttl: msg.ttl,
            from,
            to,
            servent,
        })
    }

    /// Links crossed once it arrives (the origin's own copies make hop 1).
    pub fn hop(&self) -> u8 {
        self.hops.saturating_add(1)
    }

    /// TTL left after this hop.
    pub fn ttl_left(&self) -> u8 {
        self.ttl.saturating_sub(1)
    }
}

/// Writes the trace lines of the admitted queries (see the module docs).
pub struct Tracer {
    /// The output; a write error there skips later lines and is reported at
    /// [`Tracer::finish`].
    sink: TraceSink,
    filter: Admit,
    admitted: HashSet<Guid>,
    order: Vec<Guid>,
    /// The copy each peer is handling now.
    arrivals: HashMap<u32, TracedCopy>,
    /// Copies a peer sent while handling an arrival, held until that arrival's verdict
    /// is written (the node gives its sends first), so a file reads in causal order.
    held: HashMap<u32, Vec<TraceLine>>,
}

enum Admit {
    First(usize),
    Guid(Option<Guid>),
}

/// The `record` lines that end a trace: one per query of `queries` (in that order) that
/// `records` holds.
pub fn record_lines(
    queries: impl IntoIterator<Item = String>,
    records: &[QueryRecord],
) -> Vec<TraceLine> {
    let by_guid: HashMap<&str, &QueryRecord> =
        records.iter().map(|r| (r.guid.as_str(), r)).collect();
    queries
        .into_iter()
        .filter_map(|q| {
            let record = Box::new((*by_guid.get(q.as_str())?).clone());
            Some(TraceLine::Record { q, record })
        })
        .collect()
}

impl Tracer {
    /// Starts a trace: writes `header` to `out`.
    pub fn new(header: &TraceHeader, out: Box<dyn TraceOutput>) -> io::Result<Tracer> {
        let mut tracer = Tracer::headless(&header.filter, out);
        tracer.sink.write_now(header)?;
        Ok(tracer)
    }

    /// A tracer that writes step lines only, no header: a child process of a sharded
    /// launch traces its own peers this way and hands the lines to the parent, which
    /// writes the one header and merges them.
    pub fn headless(filter: &TraceFilter, out: Box<dyn TraceOutput>) -> Tracer {
        let filter = match filter {
            TraceFilter::First(n) => Admit::First(*n),
            TraceFilter::Guid(hex) => Admit::Guid(Guid::from_hex(&hex.to_ascii_lowercase())),
        };
        Tracer {
            sink: TraceSink::new(out),
            filter,
            admitted: HashSet::new(),
            order: Vec::new(),
            arrivals: HashMap::new(),
            held: HashMap::new(),
        }
    }

    /// The queries traced so far, in the order they were admitted.
    pub fn traced(&self) -> &[Guid] {
        &self.order
    }

    /// `copy` arrived at `peer`; its verdict follows in `peer`'s next events.
    pub fn arrival(&mut self, peer: u32, copy: TracedCopy) {
        if self.admitted.contains(&copy.guid) || self.may_admit(&copy.guid) {
            self.arrivals.insert(peer, copy);
        }
    }

    /// `peer`'s node has drained its outputs for the last input.
    pub fn input_done(&mut self, peer: u32) {
        if !self.arrivals.is_empty() {
            self.arrivals.remove(&peer);
            self.release(peer);
        }
    }

    /// Writes the sends `peer` made while handling its arrival.
    fn release(&mut self, peer: u32) {
        if let Some(lines) = self.held.remove(&peer) {
            for line in &lines {
                self.write(line);
            }
        }
    }

    /// One node event at `peer` at `now`.
    pub fn event(&mut self, peer: u32, now: Time, event: &Event) {
        let guid = event.guid();
        let opens = matches!(
            event,
            Event::SearchStarted { .. } | Event::QueryReceived { .. }
        );
        if !self.admit(guid, opens) {
            return;
        }
        let t = now.as_millis_f64();
        let q = guid.to_hex();
        let arrival = self.arrivals.get(&peer).filter(|a| a.guid == guid).copied();
        let from = arrival.and_then(|a| a.from);
        let hop = arrival.map(|a| a.hop());
        let ttl = arrival.map(|a| a.ttl_left());
        let verdict = arrival.is_some()
            && matches!(
                event,
                Event::QueryReceived { .. } | Event::Reforwarded { .. } | Event::Dropped { .. }
            );
        let line = match event {
            Event::SearchStarted {
                words,
                ttl,
                strategy,
                ..
            } => TraceLine::Start {
                t,
                q,
                peer,
                words: words.clone(),
                ttl: *ttl,
                strategy: strategy.to_string(),
            },
            Event::QueryReceived { hops, .. } => TraceLine::First {
                t,
                q,
                peer,
                from,
                hop: *hops,
                ttl,
            },
            Event::Reforwarded { .. } => TraceLine::Reforward {
                t,
                q,
                peer,
                from,
                hop,
                ttl,
            },
            // Copies are traced one by one as they leave (`sent`).
            Event::Sent { .. } => return,
            Event::Dropped {
                kind: k, reason, ..
            } => {
                // A copy lost by the driver is not the one the peer was handling.
                let lost = reason.copy_fate() == Some(CopyFate::Lost);
                let (from, hop, ttl) = if lost {
                    (None, None, None)
                } else {
                    (from, hop, ttl)
                };
                match *k {
                    kind::QUERY if *reason == DropReason::Duplicate => TraceLine::Duplicate {
                        t,
                        q,
                        peer,
                        from,
                        hop,
                        ttl,
                    },
                    kind::QUERY => TraceLine::Drop {
                        t,
                        q,
                        peer,
                        reason: *reason,
                        from,
                        to: None,
                        hop,
                        ttl,
                    },
                    kind::QUERY_HIT => TraceLine::HitDropped {
                        t,
                        q,
                        peer,
                        reason: *reason,
                        from,
                        to: None,
                        servent: if lost {
                            None
                        } else {
                            arrival.and_then(|a| a.servent).map(|s| s.to_hex())
                        },
                    },
                    _ => return,
                }
            }
            Event::Answered {
                records,
                from_cache,
                ..
            } => TraceLine::Answered {
                t,
                q,
                peer,
                records: *records,
                from_cache: *from_cache,
            },
            Event::HitReceived {
                hops, hit, cached, ..
            } => TraceLine::HitDelivered {
                t,
                q,
                peer,
                from,
                hops: *hops,
                records: hit.records.len() as u32,
                servent: hit.servent_guid.to_hex(),
                cached: *cached,
            },
        };
        self.write(&line);
        if verdict {
            self.release(peer);
        }
    }

    /// `copy` was put on the link from `copy.from` to `copy.to` at `now`.
    pub fn sent(&mut self, now: Time, copy: &TracedCopy) {
        let Some(peer) = copy.from else { return };
        // The origin's own copies (hops 0) are the first sign of a search; so are the
        // forwards of a peer handling a copy the filter let in (its verdict follows the
        // sends), which a tracer that does not see the origin (a shard's child) meets
        // first.
        let handling = self
            .arrivals
            .get(&peer)
            .is_some_and(|a| a.guid == copy.guid);
        let opens = copy.kind == kind::QUERY && (copy.hops == 0 || handling);
        if !self.admit(copy.guid, opens) {
            return;
        }
        let (t, q) = (now.as_millis_f64(), copy.guid.to_hex());
        let line = match copy.kind {
            kind::QUERY => TraceLine::Send {
                t,
                q,
                peer,
                to: copy.to,
                hop: copy.hop(),
                ttl: copy.ttl_left(),
            },
            kind::QUERY_HIT => TraceLine::HitRouted {
                t,
                q,
                peer,
                to: copy.to,
                hop: copy.hop(),
                ttl: copy.ttl_left(),
                servent: copy.servent.map(|s| s.to_hex()),
            },
            _ => return,
        };
        match self.arrivals.get(&peer) {
            Some(arrival) if arrival.guid == copy.guid => {
                self.held.entry(peer).or_default().push(line)
            }
            _ => self.write(&line),
        }
    }

    /// The driver lost `copy` at `peer` (its sender, or the receiver it never reached).
    pub fn lost(&mut self, now: Time, peer: u32, copy: &TracedCopy, reason: DropReason) {
        if !self.admitted.contains(&copy.guid) {
            return;
        }
        let (t, q) = (now.as_millis_f64(), copy.guid.to_hex());
        let line = match copy.kind {
            kind::QUERY => TraceLine::Drop {
                t,
                q,
                peer,
                reason,
                from: copy.from,
                to: copy.to,
                hop: Some(copy.hop()),
                ttl: Some(copy.ttl_left()),
            },
            kind::QUERY_HIT => TraceLine::HitDropped {
                t,
                q,
                peer,
                reason,
                from: copy.from,
                to: copy.to,
                servent: copy.servent.map(|s| s.to_hex()),
            },
            _ => return,
        };
        self.write(&line);
    }

    /// Ends the trace: one `record` line per traced query found in `records` (in the
    /// order the queries were admitted), then the file is put in place.
    pub fn finish(self, records: &[QueryRecord]) -> io::Result<()> {
        let lines = record_lines(self.order.iter().map(Guid::to_hex), records);
        self.sink.finish(lines)
    }

    fn may_admit(&self, guid: &Guid) -> bool {
        match self.filter {
            Admit::First(n) => self.order.len() < n,
            Admit::Guid(g) => g == Some(*guid),
        }
    }

    /// Whether lines about `guid` are traced, admitting it if `opens` and there is room.
    fn admit(&mut self, guid: Guid, opens: bool) -> bool {
        if self.admitted.contains(&guid) {
            return true;
        }
        if !opens || !self.may_admit(&guid) {
            return false;
        }
        self.admitted.insert(guid);
        self.order.push(guid);
        true
    }

    fn write(&mut self, line: &TraceLine) {
        self.sink.write(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{ConnId, StrategySpec};
    use crate::trace::schema::{read_trace, World};
    use crate::trace::MemoryTrace;

    fn tracer(filter: TraceFilter) -> (Tracer, MemoryTrace) {
        let memory = MemoryTrace::new();
        let peers = (0..3)
            .map(|i| crate::trace::TracePeer {
                id: i.to_string(),
                addr: None,
            })
            .collect();
        let header = TraceHeader::new(World::Sim, peers, vec![[0, 1], [1, 2]], filter);
        (
            Tracer::new(&header, Box::new(memory.clone())).unwrap(),
            memory,
        )
    }

    fn copy(guid: Guid, hops: u8, ttl: u8, from: u32, to: u32) -> TracedCopy {
        TracedCopy {
            guid,
            kind: kind::QUERY,
            hops,
            ttl,
            from: Some(from),
            to: Some(to),
            servent: None,
        }
    }

    fn start(guid: Guid) -> Event {
        Event::SearchStarted {
            guid,
            words: "jazz".into(),
            ttl: 2,
            strategy: StrategySpec::FLOOD,
        }
    }

    /// 0 floods 1 with TTL 2; 1 forwards to 2, whose copy then comes back to 1 as a
    /// duplicate: every step becomes one line, with the link it came over.
    #[test]
    fn a_flood_becomes_lines_with_links_hops_and_verdicts() {
        let (mut t, memory) = tracer(TraceFilter::First(1));
        let g = Guid([1; 16]);
        let now = Time::from_millis(1);
        t.sent(now, &copy(g, 0, 2, 0, 1));
        t.event(0, now, &start(g));
        t.arrival(1, copy(g, 0, 2, 0, 1));
        t.sent(now, &copy(g, 1, 1, 1, 2));
        t.event(
            1,
            now,
            &Event::QueryReceived {
                guid: g,
                from: ConnId(0),
                hops: 1,
            },
        );
        t.input_done(1);
        t.arrival(1, copy(g, 1, 1, 2, 1));
        t.event(
            1,
            now,
            &Event::Dropped {
                guid: g,
                kind: kind::QUERY,
                reason: DropReason::Duplicate,
            },
        );
        t.input_done(1);
        // Another search: the filter has no room left.
        let other = Guid([2; 16]);
        t.sent(now, &copy(other, 0, 2, 0, 1));
        t.event(0, now, &start(other));
        assert_eq!(t.traced(), &[g]);
        t.finish(&[]).unwrap();
        let trace = read_trace(memory.text().as_bytes()).unwrap();
        let lines = trace.lines;
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(matches!(
            lines[0],
            TraceLine::Send {
                peer: 0,
                to: Some(1),
                hop: 1,
                ttl: 1,
                ..
            }
        ));
        assert!(matches!(lines[1], TraceLine::Start { peer: 0, .. }));
        // The verdict comes before the sends it led to.
        assert!(matches!(lines[3], TraceLine::Send { peer: 1, .. }));
        assert!(matches!(
            lines[2],
            TraceLine::First {
                peer: 1,
                from: Some(0),
                hop: 1,
                ttl: Some(1),
                ..
            }
        ));
        assert!(matches!(
            lines[4],
            TraceLine::Duplicate {
                peer: 1,
                from: Some(2),
                hop: Some(2),
                ttl: Some(0),
                ..
            }
        ));
    }

    #[test]
    fn a_guid_filter_traces_that_search_only() {
        let wanted = Guid([7; 16]);
        let (mut t, memory) = tracer(TraceFilter::Guid(wanted.to_hex().to_uppercase()));
        let now = Time::ZERO;
        for g in [Guid([6; 16]), wanted, Guid([8; 16])] {
            t.sent(now, &copy(g, 0, 2, 0, 1));
            t.event(0, now, &start(g));
        }
        assert_eq!(t.traced(), &[wanted]);
        t.finish(&[]).unwrap();
        let text = memory.text();
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains(&Guid([6; 16]).to_hex()));
    }

    #[test]
    fn a_write_error_is_reported_at_the_end() {
        struct Broken;
        impl TraceOutput for Broken {
            fn write_line(&mut self, _: &[u8]) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
            fn finish(self: Box<Self>) -> io::Result<()> {
                Ok(())
            }
        }
        let header = TraceHeader::new(World::Live, Vec::new(), Vec::new(), TraceFilter::First(1));
        assert!(Tracer::new(&header, Box::new(Broken)).is_err());
    }
}
