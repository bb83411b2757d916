//! `gnutella view`: a flood trace in, one self-contained HTML page out.

use std::io::BufReader;
use std::path::PathBuf;

use gnutella::topology::TopologyConfig;
use gnutella::trace::read_trace;
use gnutella::view::{render, ViewOptions};

const EXAMPLES: &str = "\
Examples:
  gnutella sim --topology topology-configs/quickstart.json --trace flood.jsonl
  gnutella view flood.jsonl --out flood.html
      then open flood.html in a browser: pick a query, press Play or Step hop; click a
      hit in the list (or its peer) to see its way back to the origin
  gnutella launch topology-configs/tree-31.json --run-workload --trace live.jsonl
  gnutella view live.jsonl --topology topology-configs/tree-31.json --out live.html
      the same for real peers over TCP, drawn with the config's links
  gnutella sim --gen random:n=1000,d=4 --ttl 5 --queries 3 --trace big.jsonl
  gnutella view big.jsonl --seed 2 --out big.html

The page needs no server and fetches nothing (script and data are inline). The same
trace and --seed give the same bytes. Overlays above 20,000 peers are drawn as the peers
the traced queries touched (refused when those are more than 20,000). For scripts the page exposes window.gnutellaView (peers,
queries, select(guid), step(), play(), pause(), hop, totals, ...; see the README).";

/// Arguments of `gnutella view`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The flood trace (written by `sim`, `launch` or `demo` with --trace).
    pub trace: PathBuf,
    /// Draw this topology config's peers and links instead of the trace header's (trace
    /// peers are matched by id).
    #[arg(long, value_name = "CONFIG")]
    pub topology: Option<PathBuf>,
    /// Where to write the page.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    /// Seed of the layout (another seed, another drawing of the same overlay).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The page's title [default: the network's name].
    #[arg(long)]
    pub title: Option<String>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    gnutella::validate::check_output_file(&args.out).map_err(|e| format!("--out: {e}"))?;
    let file = std::fs::File::open(&args.trace)
        .map_err(|e| format!("cannot open {}: {e}", args.trace.display()))?;
    let trace =
        read_trace(BufReader::new(file)).map_err(|e| format!("{}: {e}", args.trace.display()))?;
    let overlay = match &args.topology {
        Some(path) => {
            let config = TopologyConfig::load(path)?;
            let ids = config.peers.iter().map(|p| p.id.clone()).collect();
            let links = config
                .links()
                .into_iter()
                .map(|(a, b)| [a as u32, b as u32])
                .collect();
            Some((ids, links))
        }
        None => None,
    };
    let options = ViewOptions {
        seed: args.seed,
        title: args.title,
        overlay,
    };
    let html = render(&trace, &options).map_err(|e| format!("{}: {e}", args.trace.display()))?;
    gnutella::experiment::atomic_write::atomic_write(&args.out, html)
        .map_err(|e| format!("--out {}: {e}", args.out.display()))?;
    let queries = trace
        .lines
        .iter()
        .filter(|l| matches!(l, gnutella::trace::TraceLine::Record { .. }))
        .count();
    println!(
        "{}: {} peers, {queries} traced queries",
        args.out.display(),
        trace.header.peers.len()
    );
    Ok(())
}
