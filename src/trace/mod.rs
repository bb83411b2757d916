//! Flood traces: every query-related step of some searches, one JSON line each, for both
//! worlds.
//!
//! A per-query record ([`crate::node::record`]) says *how much* a flood cost; a trace says
//! *how it went*: which copy crossed which link at which hop, which peer took its first copy
//! from whom, which copies were duplicates, who answered and which way each hit came back.
//! That is what a teacher replays hop by hop (`gnutella view`) and what lets a live run be
//! compared with the simulated run of the same config copy by copy.
//!
//! The trace is one more fold over what the drivers already see, so it sits just above the
//! routing core and below both drivers: the [`Tracer`] takes the node [`Event`]s (the same
//! ones the recorder folds) plus the two facts only a driver knows, which link a copy
//! arrived on and which link each copy left on (`Output::Send`), with the wire header of
//! that copy. The simulator calls it from its event loop, the live network from the task
//! that folds every peer's events; a run that asks for no trace pays one `Option` test
//! per output.
//!
//! The schema ([`schema`]) is one file format for both worlds: a header line (schema
//! version, world, peers with ids and addresses, links, the filter), then one line per
//! step, then one `record` line per traced query with its [`QueryRecord`]. It is written
//! through a buffer to a temporary file renamed into place at the end ([`file`]), and
//! bounded by a [`TraceFilter`] (the first N searches, or one GUID), so a million-peer run
//! does not write gigabytes by accident.
//!
//! [`Event`]: crate::node::Event
//! [`QueryRecord`]: crate::node::record::QueryRecord

pub mod file;
pub mod first_hops;
pub mod schema;
pub mod sink;
pub mod tracer;

pub use file::{MemoryTrace, TraceFile, TraceOutput};
pub use first_hops::{flood_marks, FloodMarks, MarksError};
pub use schema::{read_trace, Trace, TraceError, TraceFilter, TraceHeader, TraceLine, TracePeer};
pub use tracer::{TracedCopy, Tracer};
