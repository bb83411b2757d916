//! `gnutella demo`: the quickstart network, three searches, one verified download, a
//! flooding table, in a few seconds.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnutella::net::clock;
use gnutella::net::control;
use gnutella::net::control_http::ControlServer;
use gnutella::net::control_local::LocalControl;
use gnutella::net::download::{download, DownloadOptions, DownloadRequest};
use gnutella::net::hits::{describe, files_of, FoundFile};
use gnutella::net::launch::start_with_factory;
use gnutella::net::launch_options::net_config;
use gnutella::net::report::flooding_table;
use gnutella::net::report::NetworkSummary;
use gnutella::net::signal::stop_signal;
use gnutella::net::trace::start_tracing;
use gnutella::node::SearchRequest;
use gnutella::protocol::Sha1;
use gnutella::topology::TopologyConfig;

const EXAMPLES: &str = "\
Examples:
  gnutella demo
      launch topology-configs/quickstart.json on ephemeral ports, run its searches (a file
      3+ hops away, a file several peers hold, a word nothing matches), download one hit
      straight from its holder and verify its SHA-1, print the flooding table, exit
  RUST_LOG=debug gnutella demo
      the same, logging on stderr every link up and down (address, user agent, the
      handshake headers that shaped it, why it ended) and every refused handshake
  RUST_LOG=trace gnutella demo
      also every routing decision, one line per descriptor a peer receives: forwarded to
      which neighbours, duplicate, re-forwarded, dropped and why, answered, hit routed back
      or delivered to the search
  gnutella demo --trace demo.jsonl
      the same, also writing a flood trace of its searches
  gnutella view demo.jsonl --out demo.html
      a page that replays them hop by hop (open demo.html in a browser)
  gnutella demo --ui 127.0.0.1:6381
      the same, then keeps the network up until Ctrl-C and serves its live page on
      http://127.0.0.1:6381/ (the demo's floods, a search form, kill and revive buttons;
      the control API on the same port)
  gnutella demo --peer-stats demo-peers.jsonl
      the same, also writing one JSON line of statistics per peer (messages in and out by
      type, duplicates, queries answered, drops, bytes served: the download shows there)";

/// Arguments of `gnutella demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The config to demonstrate (default: topology-configs/quickstart.json).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub trace: super::trace::TraceArgs,
    /// After the demo, keep the network up until Ctrl-C and serve its live page (and the
    /// control API) on this loopback address (see `launch --ui`).
    #[arg(long, value_name = "IP:PORT", value_parser = gnutella::net::control_http::parse_control_addr)]
    pub ui: Option<std::net::SocketAddr>,
    /// Write one JSON line of statistics per peer here when the demo ends (see
    /// `launch --peer-stats`).
    #[arg(long, value_name = "FILE.jsonl")]
    pub peer_stats: Option<PathBuf>,
}

/// Where the quickstart config is: beside the current directory or the crate's sources.
fn find_quickstart() -> Option<PathBuf> {
    let rel = Path::new("topology-configs").join("quickstart.json");
    [
        PathBuf::from(&rel),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    args.trace.check()?;
    if let Some(path) = &args.peer_stats {
        gnutella::validate::check_output_file(path).map_err(|e| format!("--peer-stats: {e}"))?;
    }
    let trace = args.trace.live_request();
    let path = match args.config {
        Some(p) => p,
        None => find_quickstart().ok_or("cannot find topology-configs/quickstart.json (run from the crate folder or pass --config)")?,
    };
    // One event loop for the whole network: the flood advances breadth-first (see
    // `launch --threads`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(demo(&path, trace, args.ui, args.peer_stats.as_deref()))
}

async fn demo(
    path: &Path,
    trace: Option<gnutella::net::trace::TraceRequest>,
    ui: Option<std::net::SocketAddr>,
    peer_stats: Option<&Path>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = TopologyConfig::load(path)?;
    // A busy port must not break the demo: every peer gets an ephemeral port.
    for peer in &mut config.peers {
        peer.listen.set_port(0);
    }
    if config.workload.queries.is_empty() {
        return Err(format!("{} has no workload to demonstrate", path.display()).into());
    }
    let config = Arc::new(config);
    // The page's server first: a port taken fails the demo before any peer starts.
    let (controller, mut calls) = control::channel();
    let page = ui.map(|_| Arc::new(super::ui::live_page(&config)));
    let server = match ui {
        Some(addr) => Some(ControlServer::start_with_ui(addr, controller, page.clone()).await?),
        None => None,
    };
    let started = Instant::now();
    let (mut network, mut factory) = start_with_factory(config.clone(), net_config(true)).await?;
    let feed = page.as_ref().map(|p| &p.feed);
    let mut outcome = run_demo(&network, &config, started, trace.as_ref(), feed).await;
    if let (Some(server), true) = (&server, outcome.is_ok()) {
        // Installed before the line that says we are ready: a Ctrl-C right after it stops
        // the demo cleanly.
        let stop = stop_signal();
        println!(
            "\nlive page on {}/ (and the control API); running until Ctrl-C",
            server.url()
        );
        let mut control = LocalControl {
            network: &mut network,
            factory: &mut factory,
            config: &config,
            summary: NetworkSummary {
                name: config.name.clone(),
                peers: config.peers.len(),
                processes: 1,
                ..NetworkSummary::default()
            },
            quiet: Duration::from_millis(200),
        };
        tokio::select! {
            _ = calls.serve(&mut control) => {}
            _ = stop => {}
        }
        if let Some(trace) = &trace {
            let records = network.records().await;
            outcome = network
                .finish_trace(&records)
                .await
                .map(|_| println!("flood trace written to {}", trace.path.display()))
                .map_err(|e| format!("--trace {}: {e}", trace.path.display()).into());
        }
    }
    if let (Some(path), true) = (peer_stats, outcome.is_ok()) {
        let rows = network.peer_stats(&factory).await;
        outcome = gnutella::experiment::atomic_write::atomic_write(
            path,
            gnutella::node::peer_stats::to_json_lines(&rows),
        )
        .map(|_| println!("per-peer statistics written to {}", path.display()))
        .map_err(|e| format!("--peer-stats {}: {e}", path.display()).into());
    }
    network.shutdown().await;
    outcome
}

async fn run_demo(
    network: &gnutella::net::network::Network,
    config: &TopologyConfig,
    started: Instant,
    trace: Option<&gnutella::net::trace::TraceRequest>,
    feed: Option<&gnutella::net::live_feed::LiveFeed>,
) -> Result<(), Box<dyn std::error::Error>> {
    network.wait_overlay(Duration::from_secs(10)).await?;
    start_tracing(network, Some(config.name.clone()), trace, feed).map_err(|e| match trace {
        Some(trace) => format!("--trace {}: {e}", trace.path.display()),
        None => format!("the live page's feed: {e}"),
    })?;
    println!(
        "overlay up: {} peers, {} links on 127.0.0.1 in {:.0} ms ({})",
        config.peers.len(),
        network.links().len(),
        started.elapsed().as_secs_f64() * 1000.0,
        config.name
    );
    let (tap, mut events) = tokio::sync::mpsc::unbounded_channel();
    network.set_tap(tap);
    let mut first_found: Option<FoundFile> = None;
    for q in &config.workload.queries {
        let origin = network.peer_index(&q.from)?;
        let ttl = config.ttl_of(q);
        let t0 = clock::now();
        let guid = network
            .search(origin, SearchRequest::from_words(&q.words, ttl))
            .await?;
        network
            .settle(Duration::from_millis(200), Duration::from_secs(5))
            .await;
        println!("\nsearch {:?} from {} (TTL {ttl}):", q.words, q.from);
        let mut n = 0;
        while let Ok(event) = events.try_recv() {
            for file in files_of(&event).into_iter().filter(|f| f.guid == guid) {
                n += 1;
                println!("{}", describe(n, &file, t0));
                if first_found.is_none() {
                    first_found = Some(file);
                }
            }
        }
        if n == 0 {
            println!("  no results");
        }
    }
    if let Some(file) = first_found {
        let dir = std::env::temp_dir().join(format!("gnutella-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let result = fetch_and_verify(&file, &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        result?;
    }
    let records = network.records().await;
    // With the live page the trace goes on (its feed is the page's), and ends at Ctrl-C.
    if let (Some(trace), None) = (trace, feed) {
        network
            .finish_trace(&records)
            .await
            .map_err(|e| format!("--trace {}: {e}", trace.path.display()))?;
        println!("\nflood trace written to {}", trace.path.display());
    }
    println!("\nflooding, per query (messages = Query descriptors on links, network-wide):");
    print!("{}", flooding_table(&records));
    Ok(())
}

async fn fetch_and_verify(file: &FoundFile, dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let request = DownloadRequest::from_hit(file.holder_addr(), &file.record);
    let done = download(&request, &DownloadOptions::new(dir)).await?;
    let on_disk = Sha1::of_reader(std::fs::File::open(&done.path)?)?;
    let expected = file.record.sha1().ok_or("the hit carried no SHA-1")?;
    if on_disk != expected {
        return Err(format!(
            "downloaded {} but its SHA-1 is {on_disk}, not {expected}",
            file.record.name
        )
        .into());
    }
    println!(
        "\ndownloaded {} ({} bytes) straight from {}: SHA-1 verified ({})",
        file.record.name,
        done.bytes_transferred,
        file.holder,
        expected.to_urn()
    );
    Ok(())
}
