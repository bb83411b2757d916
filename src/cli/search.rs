//! `gnutella search`: join a network for a moment, flood a query, print (and fetch) hits.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gnutella::net::clock;
use gnutella::net::download::{
    check_file_name, download, sanitize_file_name, DownloadOptions, DownloadRequest, Downloaded,
};
use gnutella::net::hits::{describe, files_of, FoundFile};
use gnutella::net::network::{bind_all, Network, PeerPlan, RemoteLink};
use gnutella::net::report::{report_json, NetworkSummary};
use gnutella::net::share::Share;
use gnutella::net::solo::{resolve_v4, SoloFactory};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;
use gnutella::node::SearchRequest;
use gnutella::node::{CacheMode, PeerIdentity, RoutingConfig};

const EXAMPLES: &str = "\
Examples:
  gnutella search debian netinst --via 127.0.0.1:6346
      join through that peer, flood the query (TTL 7), print hits for 3 seconds
  gnutella search debian --via 127.0.0.1:6346 --ttl 2 --wait 1
  gnutella search debian --via 127.0.0.1:6346 --download 1 --to ~/Downloads
      fetch the first hit straight from the peer that holds it, verified by SHA-1
      (a hit that carries no SHA-1 is fetched by index and only its size is checked)
  gnutella search urn:sha1:QD66NULYLNDT2I6JF7GWPXITDVWUJ476 --via 127.0.0.1:6346
      search by content hash (this one is the quickstart's debian-12-netinst.iso)
  gnutella search debian --via 127.0.0.1:6346 --json
      the searcher's own view (hits, responders, first hit) in the report's record shape

The examples search the quickstart network: start it first in another terminal with
`gnutella launch topology-configs/quickstart.json` (its peer p0 listens on 127.0.0.1:6346).

Each hit line shows: name, size, SHA-1 URN, holder address, hops, milliseconds since the
query left. A hit answered from a peer's result cache is labelled cached, with how far
that peer was and how far the holder was from it: its holder may lie beyond the TTL.";

/// Arguments of `gnutella search`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Keywords (all must match), or one `urn:sha1:...`.
    #[arg(required = true)]
    pub words: Vec<String>,
    /// A peer of the network to join through (host:port).
    #[arg(long)]
    pub via: String,
    /// TTL of the query.
    #[arg(long, default_value_t = 7)]
    pub ttl: u8,
    /// Seconds to wait for hits.
    #[arg(long, default_value_t = 3.0)]
    pub wait: f64,
    /// Print the searcher's view as JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Download the N-th hit (1 = first) once the wait is over.
    #[arg(long, value_name = "N")]
    pub download: Option<usize>,
    /// Folder for the download.
    #[arg(long, default_value = ".")]
    pub to: PathBuf,
    /// Our own listening address (the handshake advertises it).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub listen: SocketAddrV4,
    /// Seed of the searcher's GUIDs (default: from the clock, so two searches differ).
    #[arg(long)]
    pub seed: Option<u64>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(search(args))
}

async fn search(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let via = resolve_v4(&args.via)?;
    let words = args.words.join(" ");
    if args.ttl == 0 {
        return Err("--ttl must be at least 1".into());
    }
    let seed = args.seed.unwrap_or_else(gnutella::net::solo::clock_seed);
    let identity = PeerIdentity::of_seed(seed);
    // A searcher relays nothing and keeps no cache: only its own query's TTL matters.
    let mut routing = RoutingConfig {
        max_ttl: args.ttl.max(7),
        ..RoutingConfig::default()
    };
    routing.cache.mode = CacheMode::Off;
    let mut plans = vec![PeerPlan {
        id: "searcher".into(),
        listen: args.listen,
        max_ttl: routing.max_ttl,
        seed: identity.seed,
        record_as: 0,
        advertise: None,
    }];
    let listeners = bind_all(&mut plans).await?;
    let mut factory = SoloFactory {
        share: Arc::new(Share::new()),
        routing: Arc::new(routing),
        identity,
        serve: false,
    };
    let remote = vec![RemoteLink {
        local: 0,
        addr: via,
        dial: true,
    }];
    let mut network = Network::start(
        plans,
        listeners,
        Vec::new(),
        remote,
        &mut factory,
        NetConfig::default(),
        Recorder::searcher("searcher"),
    );
    if network.wait_overlay(Duration::from_secs(10)).await.is_err() {
        network.shutdown().await;
        return Err(format!(
            "could not join the network via {via} within 10 s (is a peer listening there?)"
        )
        .into());
    }
    let (tap, mut events) = tokio::sync::mpsc::unbounded_channel();
    network.set_tap(tap);
    let started = clock::now();
    network
        .search(0, SearchRequest::from_words(&words, args.ttl))
        .await?;
    if !args.json {
        eprintln!(
            "searching for {words:?} via {via} (TTL {}) for {:.1} s",
            args.ttl, args.wait
        );
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait.max(0.0));
    let mut found: Vec<FoundFile> = Vec::new();
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = tokio::time::sleep_until(deadline.into()) => None,
        };
        let Some(event) = event else { break };
        for file in files_of(&event) {
            found.push(file);
            if !args.json {
                if let Some(file) = found.last() {
                    println!("{}", describe(found.len(), file, started));
                }
            }
        }
    }
    let records = network.records().await;
    network.shutdown().await;
    if args.json {
        let summary = NetworkSummary {
            name: format!("search via {via}"),
            peers: 1,
            links: 1,
            processes: 1,
            ..Default::default()
        };
        let mut report = report_json(&summary, &records);
        if let Some(map) = report.as_object_mut() {
            map.insert(
                "hits".into(),
                found.iter().map(|f| f.to_json(started)).collect(),
            );
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let responders: std::collections::HashSet<_> = found.iter().map(|f| f.servent).collect();
        println!("{} results from {} peers", found.len(), responders.len());
    }
    if let Some(n) = args.download {
        let file = n
            .checked_sub(1)
            .and_then(|i| found.get(i))
            .ok_or_else(|| format!("there is no hit number {n} ({} hits)", found.len()))?;
        let mut options = DownloadOptions::new(&args.to);
        options.progress = !args.json;
        // A name from the network that is unsafe on disk (separators, control
        // characters) is saved under a sanitised name rather than refused.
        if check_file_name(&file.record.name).is_err() {
            options.save_as = Some(sanitize_file_name(&file.record.name)?);
        }
        let request = DownloadRequest::from_hit(file.holder_addr(), &file.record);
        let done = download(&request, &options).await?;
        let line = download_line(&done);
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// What a finished download says: "verified" only when the bytes were compared with a
/// SHA-1 the hit carried.
fn download_line(done: &Downloaded) -> String {
    if done.verified {
        format!(
            "downloaded {} ({} bytes, {} verified)",
            done.path.display(),
            done.bytes_transferred,
            done.sha1.to_urn()
        )
    } else {
        format!(
            "downloaded {} ({} bytes, not verified: the hit carried no SHA-1)",
            done.path.display(),
            done.bytes_transferred
        )
    }
}
