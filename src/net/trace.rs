//! The live side of a flood trace (`launch --trace`, `demo --trace`).
//!
//! Peers run on their own tasks, so the [`Tracer`] lives with the recorder in the one task
//! that folds every peer's events: while a trace is on, each actor also sends
//! [`TraceNote`]s down the same channel, in order with its events (the copy an input
//! brought before its verdict, each copy it sends before it goes on the wire, the end of
//! the input). Actors know their neighbours by listening address; this fold names them by
//! peer index, as the trace's header lists them. The actor flushes after every input
//! while a trace is on (as under `RUST_LOG=trace`), so an input's events follow its note.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddrV4;

use super::peer::PeerEvent;
use crate::node::record::QueryRecord;
use crate::node::Time;
use crate::trace::{TracePeer, TracedCopy, Tracer};

/// What an actor tells the trace besides its events.
#[derive(Clone, Debug)]
pub enum TraceNote {
    /// `copy` arrived at `peer` on its link with the neighbour listening at `from`.
    Arrival {
        peer: u32,
        from: Option<SocketAddrV4>,
        copy: TracedCopy,
    },
    /// `peer` put `copy` on its link with the neighbour listening at `to`.
    Sent {
        peer: u32,
        at: Time,
        to: Option<SocketAddrV4>,
        copy: TracedCopy,
    },
    /// `peer` has drained its outputs for the input.
    Done { peer: u32 },
}

/// The tracer and the address book that turns actors' notes into trace calls.
pub struct LiveTrace {
    tracer: Tracer,
    index: HashMap<SocketAddrV4, u32>,
}

impl LiveTrace {
    /// A live trace into `tracer` of peers listening at the given addresses.
    pub fn new(tracer: Tracer, peers: impl IntoIterator<Item = (SocketAddrV4, u32)>) -> LiveTrace {
        LiveTrace {
            tracer,
            index: peers.into_iter().collect(),
        }
    }

    fn peer_at(&self, addr: Option<SocketAddrV4>) -> Option<u32> {
        addr.and_then(|a| self.index.get(&a).copied())
    }

    pub fn note(&mut self, note: TraceNote) {
        match note {
            TraceNote::Arrival { peer, from, copy } => {
                let copy = TracedCopy {
                    from: self.peer_at(from),
                    to: Some(peer),
                    ..copy
                };
                self.tracer.arrival(peer, copy);
            }
            TraceNote::Sent { peer, at, to, copy } => {
                let copy = TracedCopy {
                    from: Some(peer),
                    to: self.peer_at(to),
                    ..copy
                };
                self.tracer.sent(at, &copy);
            }
            TraceNote::Done { peer } => self.tracer.input_done(peer),
        }
    }

    pub fn event(&mut self, e: &PeerEvent) {
        self.tracer.event(e.peer, e.at, &e.event);
    }

    /// Writes the traced queries' records and puts the file in place.
    pub fn finish(self, records: &[QueryRecord]) -> io::Result<()> {
        self.tracer.finish(records)
    }
}

/// The trace header's peers of a live network: config id and listening address.
pub fn trace_peers(peers: &[(String, SocketAddrV4)]) -> Vec<TracePeer> {
    peers
        .iter()
        .map(|(id, addr)| TracePeer {
            id: id.clone(),
            addr: Some(addr.to_string()),
        })
        .collect()
}

/// A flood trace a launch was asked to write.
#[derive(Clone, Debug)]
pub struct TraceRequest {
    pub path: std::path::PathBuf,
    pub filter: crate::trace::TraceFilter,
}

impl TraceRequest {
    /// Starts tracing `network` (call once its overlay is up: the header lists the links
    /// up now) into the requested file.
    pub fn start(&self, network: &super::network::Network, name: Option<String>) -> io::Result<()> {
        start_tracing(network, name, Some(self), None)
    }
}

/// Starts tracing `network` into the requested file, the live page's feed, or both (with
/// both, the file's filter holds for the page too). Nothing when neither is asked for.
pub fn start_tracing(
    network: &super::network::Network,
    name: Option<String>,
    file: Option<&TraceRequest>,
    feed: Option<&super::live_feed::LiveFeed>,
) -> io::Result<()> {
    let Some((output, filter)) = trace_output(file, feed)? else {
        return Ok(());
    };
    let (peers, links) = network.trace_overlay();
    let mut header =
        crate::trace::TraceHeader::new(crate::trace::schema::World::Live, peers, links, filter);
    header.name = name;
    network.start_trace(Tracer::new(&header, output)?);
    Ok(())
}

/// Where a launch's trace goes (the requested file, the live page's feed, or both) and
/// its filter (the file's, else the page's first [`LIVE_QUERIES`](super::live_feed::LIVE_QUERIES)
/// queries); `None` when neither is asked for.
pub fn trace_output(
    file: Option<&TraceRequest>,
    feed: Option<&super::live_feed::LiveFeed>,
) -> io::Result<
    Option<(
        Box<dyn crate::trace::TraceOutput>,
        crate::trace::TraceFilter,
    )>,
> {
    let filter = match (file, feed) {
        (Some(request), _) => request.filter.clone(),
        (None, Some(_)) => crate::trace::TraceFilter::First(super::live_feed::LIVE_QUERIES),
        (None, None) => return Ok(None),
    };
    let output: Box<dyn crate::trace::TraceOutput> = match (file, feed) {
        (Some(request), None) => Box::new(crate::trace::TraceFile::create(&request.path)?),
        (None, Some(feed)) => Box::new(feed.output()),
        (Some(request), Some(feed)) => Box::new(super::live_feed::Tee(
            Box::new(crate::trace::TraceFile::create(&request.path)?),
            Box::new(feed.output()),
        )),
        (None, None) => return Ok(None),
    };
    Ok(Some((output, filter)))
}
