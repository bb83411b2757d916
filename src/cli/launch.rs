//! `gnutella launch`: every peer of a topology config, in one process or several.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::launch::launch_in_process;
use gnutella::net::launch_options::{LaunchError, LaunchOptions};
use gnutella::net::shard::{launch_sharded, run_child, ChildOptions};
use gnutella::topology::TopologyConfig;

const EXAMPLES: &str = "\
Examples:
  gnutella launch topology-configs/quickstart.json
      run every peer in this process until Ctrl-C, then print the flooding table
  gnutella launch topology-configs/quickstart.json --run-workload --report report.json
      wait for the overlay, run the config's workload, wait for answers to settle,
      write the report and exit
  gnutella launch topology-configs/ring-16.json --processes --run-workload
      one OS process per peer (the parent collects every child's counts)
  gnutella launch topology-configs/random-50.json --shards 4 --run-workload
      spread the peers over 4 processes (each process has its own open-file limit)
  gnutella launch topology-configs/quickstart.json --run-workload --json
      only the JSON report on stdout; the other lines go to stderr
  gnutella launch topology-configs/quickstart.json --run-workload --trace live.jsonl
      also write a flood trace of the workload's searches (gnutella view draws it)
  gnutella launch topology-configs/quickstart.json --control 127.0.0.1:6380
      serve the control API until Ctrl-C: curl http://127.0.0.1:6380/peers lists the
      peers; POST /peers/p3/kill, POST /peers/p3/revive, POST /search with
      {\"from\": \"p0\", \"words\": \"jazz\", \"ttl\": 7}, GET /report (see the README)
  gnutella launch topology-configs/quickstart.json --ui 127.0.0.1:6381
      the same API plus the live page: open http://127.0.0.1:6381/ to watch peers and
      links, search from a form and see each flood drawn as it spreads, kill and revive
      peers with a button, read per-peer counters; until Ctrl-C

Ports 0 in the config mean ephemeral ports. The report is JSON:
  {\"network\": {name, peers, links, overlay_up_ms, queue_drops, ...},
   \"queries\": [{guid, query, origin, strategy, ttl, messages, duplicates, reforwards,
                refused, lost, peers_reached, hits, responders, first_hit_hops,
                first_hit_ms, hit_messages, success, ...}]}
A child process (--shards, --processes) that dies is announced on stderr and left out:
the launch goes on with the others, still writes the report with what they recorded,
names the lost ones in network.lost_shards ([{shard, peers, at_ms, why, stderr,
queries_not_run}]) and exits with status 3 (other errors: 1).
Every Query copy sent is counted once: messages = peers_reached + duplicates +
reforwards + refused + lost (reforwards: later copies with more TTL left, a timing effect;
lost: dropped by a full queue, a link gone, or still travelling at the end).
Logging (stderr): RUST_LOG=debug shows every link up and down and every refused
handshake or failed dial; RUST_LOG=trace also every routing decision (see the README).";

/// Arguments of `gnutella launch`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The topology config (JSON).
    pub config: PathBuf,
    /// Run one OS process per peer.
    #[arg(long, conflicts_with = "shards")]
    pub processes: bool,
    /// Spread the peers over this many OS processes.
    #[arg(long)]
    pub shards: Option<usize>,
    /// Run the config's workload once the overlay is up, write the report and exit.
    #[arg(long)]
    pub run_workload: bool,
    /// Write the JSON report here (on exit).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write one JSON line of statistics per peer here (on exit): messages in and out
    /// by type, duplicates, queries answered (own files, cache), drops, bytes served
    /// (see the README's "Per-peer statistics").
    #[arg(long, value_name = "FILE.jsonl")]
    pub peer_stats: Option<PathBuf>,
    /// Seconds to wait for every configured link.
    #[arg(long, default_value_t = 30.0)]
    pub overlay_timeout: f64,
    /// Milliseconds without any message after which a flood counts as settled.
    #[arg(long, default_value_t = 300)]
    pub quiet_ms: u64,
    /// Offer deflate stream compression on links (off by default: on loopback it only
    /// costs memory, about 0.2 MiB of zlib state per compressed direction).
    #[arg(long)]
    pub deflate: bool,
    /// Print the report to stdout as JSON instead of the table (stdout then holds only
    /// the report; the other lines go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Serve the control API (HTTP/JSON) on this loopback address while the network runs:
    /// list peers, stop and revive them, search, read the report (see the README). Port 0
    /// picks a free port; the launch prints the URL. The launch then runs until Ctrl-C,
    /// after its workload too.
    #[arg(long, value_name = "IP:PORT", value_parser = gnutella::net::control_http::parse_control_addr)]
    pub control: Option<std::net::SocketAddr>,
    /// Serve the live page of the network on this loopback address (and the control API
    /// on the same port): peers up and down, links, each query's flood as it happens, a
    /// search form, kill and revive buttons, per-peer counters. Open the printed URL in a
    /// browser (with --shards or --processes too: the children send their peers' flood
    /// steps to the launch). Runs until Ctrl-C.
    #[arg(long, value_name = "IP:PORT", conflicts_with = "control", value_parser = gnutella::net::control_http::parse_control_addr)]
    pub ui: Option<std::net::SocketAddr>,
    /// Worker threads per process. The default, 1, runs every peer of a process on one
    /// event loop in FIFO order: floods then advance breadth-first, as over links of
    /// equal latency (what the simulator models). More threads use more cores, but a
    /// descheduled thread lets longer paths win races.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[command(flatten)]
    pub trace: super::trace::TraceArgs,
    /// (internal) Run as a child shard holding these config indices.
    #[arg(long, hide = true, value_delimiter = ',')]
    pub shard_members: Option<Vec<usize>>,
    /// (internal) The parent's clock epoch, µs since the Unix epoch.
    #[arg(long, hide = true, default_value_t = 0)]
    pub epoch_us: u64,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(members) = args.shard_members {
        let child = ChildOptions {
            config: args.config,
            members,
            epoch_us: args.epoch_us,
            deflate: args.deflate,
            overlay_timeout: Duration::from_secs_f64(args.overlay_timeout.max(0.1)),
        };
        return runtime(args.threads)?.block_on(run_child(child));
    }
    if let Some(path) = &args.report {
        gnutella::validate::check_output_file(path).map_err(|e| format!("--report: {e}"))?;
    }
    if let Some(path) = &args.peer_stats {
        gnutella::validate::check_output_file(path).map_err(|e| format!("--peer-stats: {e}"))?;
    }
    let shards = if args.processes {
        Some(usize::MAX)
    } else {
        args.shards
    };
    args.trace.check()?;
    let trace = args.trace.live_request();
    let options = LaunchOptions {
        config: args.config,
        shards,
        threads: Some(args.threads),
        run_workload: args.run_workload,
        report: args.report,
        overlay_timeout: Duration::from_secs_f64(args.overlay_timeout.max(0.1)),
        quiet: Duration::from_millis(args.quiet_ms),
        deflate: args.deflate,
        json: args.json,
        exe: Arc::new(std::env::current_exe()?),
        control: args.control.or(args.ui),
        trace,
        ui: None,
        peer_stats: args.peer_stats,
    };
    let ui = args.ui.is_some();
    runtime(args.threads)?.block_on(launch(options, ui))?;
    Ok(())
}

/// Runs the launch in this process or over child processes (with the live page when
/// `ui`).
async fn launch(mut options: LaunchOptions, ui: bool) -> Result<(), LaunchError> {
    let config = TopologyConfig::load(&options.config)?;
    if ui {
        options.ui = Some(Arc::new(super::ui::live_page(&config)));
    }
    match options.shards {
        Some(k) if k > 1 || config.peers.len() == 1 && k == 1 => {
            launch_sharded(config, options).await
        }
        _ => launch_in_process(config, options).await,
    }
}

/// The tokio runtime with the requested number of worker threads.
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}
