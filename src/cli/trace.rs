//! The `--trace` flags shared by `sim`, `launch` and `demo`: where the flood trace goes and
//! which searches it follows (see `gnutella::trace` for the file's schema).

use std::path::PathBuf;

use gnutella::protocol::Guid;
use gnutella::trace::schema::World;
use gnutella::trace::{TraceFile, TraceFilter, TraceHeader, TracePeer, Tracer};

/// Searches a trace follows when neither `--trace-queries` nor `--trace-guid` says.
pub const DEFAULT_TRACED: usize = 10;

/// Flood-trace flags.
#[derive(Debug, Clone, clap::Args)]
pub struct TraceArgs {
    /// Write a flood trace here (JSON Lines: a header with the peers and links, then one
    /// line per copy sent, arrival verdict, answer and hit; see the README's "Watching a
    /// flood"). Open it with `gnutella view`.
    #[arg(long, value_name = "FILE.jsonl")]
    pub trace: Option<PathBuf>,
    /// Trace the first N searches [default: 10].
    #[arg(
        long,
        value_name = "N",
        requires = "trace",
        conflicts_with = "trace_guid"
    )]
    pub trace_queries: Option<usize>,
    /// Trace only the search with this GUID (32 hex digits, as in the report).
    #[arg(long, value_name = "GUID", requires = "trace", value_parser = parse_guid)]
    pub trace_guid: Option<String>,
}

fn parse_guid(s: &str) -> Result<String, String> {
    let lower = s.trim().to_ascii_lowercase();
    match Guid::from_hex(&lower) {
        Some(_) => Ok(lower),
        None => Err(format!("\"{s}\" is not a GUID (32 hex digits)")),
    }
}

impl TraceArgs {
    /// What a live launch (`launch`, `demo`) is asked to trace, if anything.
    pub fn live_request(&self) -> Option<gnutella::net::trace::TraceRequest> {
        self.trace
            .clone()
            .map(|path| gnutella::net::trace::TraceRequest {
                path,
                filter: self.filter(),
            })
    }

    /// The filter the flags ask for.
    pub fn filter(&self) -> TraceFilter {
        match &self.trace_guid {
            Some(guid) => TraceFilter::Guid(guid.clone()),
            None => TraceFilter::First(self.trace_queries.unwrap_or(DEFAULT_TRACED)),
        }
    }

    /// Checks the trace's folder before a long run.
    pub fn check(&self) -> Result<(), String> {
        match &self.trace {
            Some(path) => {
                gnutella::validate::check_output_file(path).map_err(|e| format!("--trace: {e}"))
            }
            None => Ok(()),
        }
    }

    /// Opens the trace file and writes its header; `None` without `--trace`.
    pub fn open(
        &self,
        world: World,
        name: Option<String>,
        seed: Option<u64>,
        peers: Vec<TracePeer>,
        links: Vec<[u32; 2]>,
    ) -> Result<Option<Tracer>, String> {
        let Some(path) = &self.trace else {
            return Ok(None);
        };
        let mut header = TraceHeader::new(world, peers, links, self.filter());
        header.name = name;
        header.seed = seed;
        let file =
            TraceFile::create(path).map_err(|e| format!("--trace {}: {e}", path.display()))?;
        Tracer::new(&header, Box::new(file))
            .map(Some)
            .map_err(|e| format!("--trace {}: {e}", path.display()))
    }

    /// The message for a trace that could not be finished.
    pub fn failed(&self, e: std::io::Error) -> String {
        let path = self.trace.as_deref().unwrap_or(std::path::Path::new("?"));
        format!("--trace {}: {e}", path.display())
    }
}
