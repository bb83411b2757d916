//! `gnutella peer`: one peer, sharing a folder, until Ctrl-C.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gnutella::net::launch::stop_signal;
use gnutella::net::network::{bind_all, Network, PeerPlan, RemoteLink};
use gnutella::net::share::Share;
use gnutella::net::solo::{resolve_v4, SoloFactory};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;

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
that understand it get a Bye. Logging: RUST_LOG=info gnutella peer ...";

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
    /// Largest hops+TTL this peer relays (higher TTLs are trimmed).
    #[arg(long, default_value_t = 7)]
    pub ttl: u8,
    /// Result-cache capacity in queries (0 = off).
    #[arg(long, default_value_t = 1024)]
    pub cache: usize,
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
    let seed = args.seed.unwrap_or_else(gnutella::net::solo::clock_seed);
    let mut plans = vec![PeerPlan {
        id: "peer".into(),
        listen: args.listen,
        max_ttl: args.ttl,
        seed,
        record_as: 0,
        advertise: args.advertise,
    }];
    let listeners = bind_all(&mut plans).await?;
    let listen = plans.first().map(|p| p.listen).unwrap_or(args.listen);
    println!("listening on {listen}, sharing {} files", share.len());
    let mut factory = SoloFactory {
        share: Arc::new(share),
        max_ttl: args.ttl,
        cache: args.cache,
        seed,
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
    let stop = stop_signal();
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
