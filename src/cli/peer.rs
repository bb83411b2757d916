//! `gnutella peer`: one peer, sharing a folder, until Ctrl-C.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::network::{bind_all, Network, PeerPlan, RemoteLink};
use gnutella::net::share::Share;
use gnutella::net::signal::stop_signal;
use gnutella::net::solo::{resolve_v4, SoloFactory};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;
use gnutella::node::{CacheMode, PeerIdentity, RoutingConfig, StrategyParams, StrategySpec};

const EXAMPLES: &str = "\
Examples:
  gnutella peer --listen 127.0.0.1:6346 --share ./music
      a first peer, waiting for others
  gnutella peer --listen 127.0.0.1:6347 --share ./films --connect 127.0.0.1:6346
      a second peer, linked to the first (the link is retried with backoff until it is up)
  gnutella peer --listen 0.0.0.0:6346 --share ./pub --connect 192.0.2.7:6346 --connect 192.0.2.8:6346
      a peer on a real machine, reachable from others (each link tells the neighbour the
      address it reached us at; hits carry it too)
  gnutella peer --listen 0.0.0.0:6346 --advertise 203.0.113.5:6346 --share ./pub
      the same behind a port forward: neighbours and downloaders are told 203.0.113.5

The same port speaks Gnutella 0.6 and HTTP: other peers download from it
(GET /uri-res/N2R?urn:sha1:... or /get/<index>/<name>). Stop with Ctrl-C; neighbours
that understand it get a Bye. Logging: RUST_LOG=debug gnutella peer ... shows every link
up and down and every refused handshake; RUST_LOG=trace every routing decision.

Clients that misbehave lose only their own sockets: at most 64 sockets wait for their
handshake (32 per address, 3 s to send a first line) and 64 HTTP connections stay open
(8 per address); when all are taken, the one idle the longest is closed for a newcomer.
Pings are answered from a pong cache (one per link per 3 s), never relayed.";

/// Arguments of `gnutella peer`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Address to listen on (Gnutella and HTTP on the same port).
    #[arg(long)]
    pub listen: SocketAddrV4,
    /// Address to tell others (handshakes, hits) when it is not --listen: a public address
    /// behind NAT, say. Default: --listen, or, listening on 0.0.0.0, the address each
    /// neighbour reached us at.
    #[arg(long)]
    pub advertise: Option<SocketAddrV4>,
    /// Most links this peer holds; further inbound handshakes get 503.
    #[arg(long, default_value_t = 32)]
    pub max_links: usize,
    /// Folder to share (scanned recursively; symlinks out of it are ignored).
    #[arg(long)]
    pub share: Option<PathBuf>,
    /// A neighbour to link with (repeatable); host:port.
    #[arg(long)]
    pub connect: Vec<String>,
    /// Routing settings as JSON (max_ttl, cache, strategy, seen_capacity, ...: the keys
    /// of a topology config's "defaults"); missing keys take the documented defaults.
    #[arg(long, value_name = "FILE")]
    pub routing: Option<PathBuf>,
    /// Largest hops+TTL this peer relays (higher TTLs are trimmed) [default: 7].
    #[arg(long, value_parser = gnutella::validate::parse_ttl)]
    pub ttl: Option<u8>,
    /// Result-cache capacity in queries, 0 = off [default: 1024].
    #[arg(long)]
    pub cache: Option<usize>,
    /// Search strategy of this peer's own searches and relays: flood, ring, walk:K,
    /// each optionally +cache (overrides the cache mode).
    #[arg(long)]
    pub strategy: Option<StrategySpec>,
    /// Seed of this peer's GUIDs and jitter (default: from the clock, so peers differ).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not offer deflate stream compression.
    #[arg(long)]
    pub no_deflate: bool,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(peer(args))
}

async fn peer(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let share = match &args.share {
        Some(dir) => Share::scan_dir_async(dir.clone()).await?,
        None => Share::new(),
    };
    let mut remote = Vec::new();
    for c in &args.connect {
        remote.push(RemoteLink {
            local: 0,
            addr: resolve_v4(c)?,
            dial: true,
        });
    }
    let routing = routing_of(&args)?;
    let seed = args.seed.unwrap_or_else(gnutella::net::solo::clock_seed);
    let identity = PeerIdentity::of_seed(seed);
    let mut plans = vec![PeerPlan {
        id: "peer".into(),
        listen: args.listen,
        max_ttl: routing.max_ttl,
        seed: identity.seed,
        record_as: 0,
        advertise: args.advertise,
    }];
    let listeners = bind_all(&mut plans).await?;
    let listen = plans.first().map(|p| p.listen).unwrap_or(args.listen);
    // Before saying we listen, so Ctrl-C from then on always stops us cleanly.
    let stop = stop_signal();
    println!("listening on {listen}, sharing {} files", share.len());
    let mut factory = SoloFactory {
        share: Arc::new(share),
        routing: Arc::new(routing),
        identity,
        serve: true,
    };
    let net = NetConfig {
        deflate: !args.no_deflate,
        max_links: args.max_links,
        ..NetConfig::default()
    };
    let mut network = Network::start(
        plans,
        listeners,
        Vec::new(),
        remote,
        &mut factory,
        net,
        Recorder::new(),
    );
    let mut last = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let mut now: Vec<_> = network.peers().iter().flat_map(|p| p.peer.shared.linked()).collect();
                now.sort();
                if now != last {
                    let list: Vec<String> = now.iter().map(|a| a.to_string()).collect();
                    println!("neighbours: {}", if list.is_empty() { "(none)".to_string() } else { list.join(", ") });
                    last = now;
                }
            }
        }
    }
    println!("shutting down");
    network.shutdown().await;
    Ok(())
}

/// The peer's routing configuration: the file's, or the defaults, with the flags on top.
fn routing_of(args: &Args) -> Result<RoutingConfig, Box<dyn std::error::Error>> {
    let mut routing = match &args.routing {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str::<RoutingConfig>(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => RoutingConfig::default(),
    };
    if let Some(ttl) = args.ttl {
        routing.max_ttl = ttl;
    }
    if let Some(capacity) = args.cache {
        routing.cache.capacity = capacity;
        if capacity == 0 {
            routing.cache.mode = CacheMode::Off;
        }
    }
    if let Some(strategy) = args.strategy {
        let params = StrategyParams {
            cache_mode: match routing.cache.mode {
                CacheMode::Off => StrategyParams::default().cache_mode,
                mode => mode,
            },
            ..StrategyParams::default()
        };
        strategy.apply(&mut routing, &params);
    }
    routing.validate()?;
    Ok(routing)
}
