//! `gnutella peer`: one peer, sharing a folder, until Ctrl-C.

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gnutella::export::counters::PeerCounters;
use gnutella::net::clock;
use gnutella::net::host_file;
use gnutella::net::link_shaper::{LinkShape, LinkShaper};
use gnutella::net::network::{bind_all, Network, PeerPlan, RemoteLink};
use gnutella::net::node_core::OverlayStart;
use gnutella::net::share::Share;
use gnutella::net::signal::stop_signal;
use gnutella::net::solo::{resolve_v4, SoloFactory};
use gnutella::net::NetConfig;
use gnutella::node::record::Recorder;
use gnutella::node::role::DEFAULT_ULTRAPEER_DEGREE;
use gnutella::node::{
    CacheMode, OverlayConfig, OverlayMode, PeerIdentity, Role, RoleSetting, RoutingConfig,
    SearchRequest, StrategyParams, StrategySpec,
};

/// How often a dynamic peer saves its host cache (and once more when it stops).
const SAVE_EVERY: Duration = Duration::from_secs(30);

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
  gnutella peer --listen 127.0.0.1:6348 --share ./films --bootstrap 127.0.0.1:6346 --min-degree 2 --max-degree 4
      a peer of a dynamic overlay: it knows one host, learns others from Pongs and X-Try
      headers, keeps 2 to 4 links and replaces a neighbour that leaves; its host cache
      is saved to ./films.hosts, so the same command without --bootstrap rejoins
  gnutella peer --listen 127.0.0.1:6349 --connect 127.0.0.1:6346 --seed 1 --index 3 --search-at 2000:7:jazz --json-counters
      peer 3 of a network whose seed is 1 (the identity `launch` gives it), searching
      for jazz 2 s after it starts; when stopped it prints its `counters {...}` line

Dynamic overlay: --bootstrap, --min-degree, --max-degree, --hosts-file or
--overlay dynamic make the peer dynamic, and so does an existing <share>.hosts file
(unless --overlay static). A dynamic peer dials hosts from its cache while it has fewer
than --min-degree links, answers handshakes beyond --max-degree with 503 and a list of
hosts to try (X-Try), and gives up a --connect link once it has dropped (the policy
replaces it). The host cache is written every 30 s and on Ctrl-C, one host per line:
`ip:port failures age_secs source`; a line it cannot read is reported and skipped.

Link model: --latency-ms MS holds every descriptor MS milliseconds before it leaves on
any link, and --loss P loses that fraction of them (counted as lost on the link), so
peers on separate hosts or namespaces see the latency and loss `sim` models
(scripts/netns-launch.sh uses them).

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
    /// Most links this peer holds; further inbound handshakes get 503 (a dynamic peer
    /// holds at most --max-degree instead).
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
    /// Search strategy of this peer's own searches and relays: flood, ring, walk:K, dq
    /// or dq:N (dynamic querying), each optionally +cache (overrides the cache mode)
    /// [default: flood; dq for --role ultrapeer or auto].
    #[arg(long)]
    pub strategy: Option<StrategySpec>,
    /// Role in a two-tier network: ultrapeer, leaf or auto (an ultrapeer offering
    /// itself as one). Without it the peer is an equal relay of a flat network.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<RoleSetting>,
    /// Seed of this peer's GUIDs and jitter (default: from the clock, so peers differ).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not offer deflate stream compression.
    #[arg(long)]
    pub no_deflate: bool,
    /// Static: only the --connect links. Dynamic: discover hosts and keep
    /// --min-degree..--max-degree links [default: dynamic when any option below is given
    /// or <share>.hosts exists, else static].
    #[arg(long, value_enum)]
    pub overlay: Option<OverlayArg>,
    /// A host to start a dynamic overlay from (repeatable, or comma-separated); host:port.
    #[arg(long, value_delimiter = ',')]
    pub bootstrap: Vec<String>,
    /// Fewest links a dynamic peer keeps: below it, it dials hosts it knows [default: 4,
    /// or --max-degree if lower].
    #[arg(long)]
    pub min_degree: Option<usize>,
    /// Most links a dynamic peer holds, and its X-Degree [default: 8, 32 for an ultrapeer,
    /// or --min-degree if higher].
    #[arg(long)]
    pub max_degree: Option<usize>,
    /// Where a dynamic peer keeps its host cache [default: <share>.hosts beside the
    /// shared folder; none without --share].
    #[arg(long, value_name = "PATH")]
    pub hosts_file: Option<PathBuf>,
    /// With --seed: be peer N of a network whose seed is --seed, with the servent GUID and
    /// random streams `launch` and `sim` give peer N of a config with that seed.
    #[arg(long, value_name = "N", requires = "seed")]
    pub index: Option<u32>,
    /// Start a search of our own MS milliseconds after the peer started, with this TTL
    /// (repeatable), e.g. 9000:7:deep space. Its hits are in the --json-counters line.
    #[arg(long, value_name = "MS:TTL:WORDS", value_parser = parse_search_at)]
    pub search_at: Vec<SearchAt>,
    /// When the peer stops (Ctrl-C, SIGTERM), print one line `counters {JSON}`: its
    /// share of every query it took part in (record shape of reports, relayed queries
    /// with origin null) and its totals, for reports gathered from peers' outputs
    /// (`gnutella report shadow`).
    #[arg(long)]
    pub json_counters: bool,
    /// Hold every descriptor sent on any link this many milliseconds before it leaves
    /// (a modelled one-way latency, as `sim` and a launch of a config with `latency_ms`).
    #[arg(long, value_name = "MS", value_parser = parse_latency)]
    pub latency_ms: Option<f64>,
    /// Lose this fraction (0 to 1) of the descriptors sent on any link, counted as lost on
    /// the link (as `sim` counts a config's `loss`).
    #[arg(long, value_name = "FRACTION", value_parser = parse_loss)]
    pub loss: Option<f64>,
}

fn parse_latency(text: &str) -> Result<f64, String> {
    let ms: f64 = text
        .parse()
        .map_err(|_| format!("not a number of milliseconds: {text:?}"))?;
    gnutella::topology::link_model::LatencySpec::Fixed(ms)
        .problem()
        .map_or(Ok(ms), Err)
}

fn parse_loss(text: &str) -> Result<f64, String> {
    let loss: f64 = text
        .parse()
        .map_err(|_| format!("not a fraction: {text:?}"))?;
    gnutella::topology::link_model::loss_problem(loss).map_or(Ok(loss), Err)
}

/// A search `--search-at` starts.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchAt {
    pub after: Duration,
    pub ttl: u8,
    pub words: String,
}

fn parse_search_at(text: &str) -> Result<SearchAt, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(ms), Some(ttl), Some(words)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "\"{text}\" is not MS:TTL:WORDS (e.g. 9000:7:deep space)"
        ));
    };
    let ms: u64 = ms
        .trim()
        .parse()
        .map_err(|_| format!("\"{ms}\" is not a number of milliseconds"))?;
    let ttl = gnutella::validate::parse_ttl(ttl).map_err(|e| e.to_string())?;
    gnutella::validate::check_search_words(words).map_err(|e| e.to_string())?;
    Ok(SearchAt {
        after: Duration::from_millis(ms),
        ttl,
        words: words.to_string(),
    })
}

/// `--overlay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlayArg {
    Static,
    Dynamic,
}

/// A dynamic peer's overlay: its start and where its hosts are kept.
struct Dynamic {
    start: OverlayStart,
    hosts_file: Option<PathBuf>,
}

/// Whether the peer runs a dynamic overlay, and how it starts (reads its hosts file).
fn dynamic_of(
    args: &Args,
    routing: &RoutingConfig,
) -> Result<Option<Dynamic>, Box<dyn std::error::Error>> {
    let hosts_file = args
        .hosts_file
        .clone()
        .or_else(|| args.share.as_deref().and_then(host_file::default_path));
    let asked = args.overlay == Some(OverlayArg::Dynamic)
        || !args.bootstrap.is_empty()
        || args.min_degree.is_some()
        || args.max_degree.is_some()
        || args.hosts_file.is_some();
    if args.overlay == Some(OverlayArg::Static) {
        if asked {
            return Err(
                "--overlay static cannot be combined with --bootstrap, --min-degree, \
                        --max-degree or --hosts-file"
                    .into(),
            );
        }
        return Ok(None);
    }
    let saved_exists = hosts_file.as_deref().is_some_and(Path::exists);
    if !asked && !saved_exists {
        return Ok(None);
    }
    let mut defaults = OverlayConfig::default();
    if routing.node_role() == Some(Role::Ultrapeer) {
        // An ultrapeer keeps LimeWire's 32 ultrapeer links, and says so in X-Degree
        // (a gtk-gnutella leaf wants at least 16).
        defaults.max_degree = DEFAULT_ULTRAPEER_DEGREE;
    }
    let min_degree = args.min_degree.unwrap_or_else(|| {
        args.max_degree
            .map_or(defaults.min_degree, |max| defaults.min_degree.min(max))
    });
    let policy = OverlayConfig {
        mode: OverlayMode::Dynamic,
        min_degree,
        max_degree: args
            .max_degree
            .unwrap_or_else(|| defaults.max_degree.max(min_degree)),
        ..defaults
    };
    policy
        .validate()
        .map_err(|e| e.replace("overlay.", "--").replace('_', "-"))?;
    let mut bootstrap = Vec::new();
    for host in &args.bootstrap {
        bootstrap.push(resolve_v4(host.trim()).map_err(|e| format!("--bootstrap: {e}"))?);
    }
    let mut saved = Vec::new();
    if let Some(path) = &hosts_file {
        let loaded = host_file::load(path)
            .map_err(|e| format!("cannot read the hosts file {}: {e}", path.display()))?;
        for warning in &loaded.warnings {
            eprintln!("warning: {warning}");
        }
        if !loaded.hosts.is_empty() {
            println!("read {} hosts from {}", loaded.hosts.len(), path.display());
        }
        saved = loaded.for_core();
    }
    Ok(Some(Dynamic {
        start: OverlayStart {
            policy,
            bootstrap,
            saved,
        },
        hosts_file,
    }))
}

/// Saves peer 0's host cache to `path`; a failure is reported, never fatal.
async fn save_hosts(network: &Network, path: &Path) -> Option<usize> {
    let hosts = network.known_hosts(0).await.ok()?;
    match host_file::save(path, &hosts, clock::now()) {
        Ok(()) => Some(hosts.len()),
        Err(e) => {
            eprintln!(
                "warning: cannot save the hosts file {}: {e}",
                path.display()
            );
            None
        }
    }
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(peer(args))
}

async fn peer(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = tokio::time::Instant::now();
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
    let dynamic = dynamic_of(&args, &routing)?;
    let seed = args.seed.unwrap_or_else(gnutella::net::solo::clock_seed);
    let identity = match args.index {
        Some(index) => PeerIdentity::derive(seed, index),
        None => PeerIdentity::of_seed(seed),
    };
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
    if let Some(d) = &dynamic {
        let kept = d.hosts_file.as_ref().map_or("not kept".to_string(), |p| {
            format!("kept in {}", p.display())
        });
        println!(
            "dynamic overlay: {} to {} links, {} bootstrap hosts, host cache {kept}",
            d.start.policy.min_degree,
            d.start.policy.max_degree,
            d.start.bootstrap.len()
        );
    }
    let hosts_file = dynamic.as_ref().and_then(|d| d.hosts_file.clone());
    let mut factory = SoloFactory {
        share: Arc::new(share),
        routing: Arc::new(routing),
        identity,
        serve: true,
        overlay: dynamic.map(|d| d.start),
        shaper: LinkShaper::uniform(
            LinkShape::new(args.latency_ms.unwrap_or(0.0), args.loss.unwrap_or(0.0)),
            identity.seed,
        )
        .map(Arc::new),
    };
    let net = NetConfig {
        deflate: !args.no_deflate,
        max_links: args.max_links,
        ..NetConfig::default()
    };
    let mut recorder = Recorder::new();
    if args.json_counters {
        recorder.keep_relayed();
    }
    let mut network = Network::start(
        plans,
        listeners,
        Vec::new(),
        remote,
        &mut factory,
        net,
        recorder,
    );
    let mut searches = args.search_at.clone();
    searches.sort_by_key(|s| s.after);
    let mut next_search = 0;
    let mut last = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut save = tokio::time::interval(SAVE_EVERY);
    save.tick().await;
    tokio::pin!(stop);
    loop {
        // Far enough never to come when no search is left.
        let search_due = searches
            .get(next_search)
            .map_or(started + Duration::from_secs(1 << 40), |s| {
                started + s.after
            });
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep_until(search_due), if next_search < searches.len() => {
                if let Some(s) = searches.get(next_search) {
                    match network.search(0, SearchRequest::from_words(&s.words, s.ttl)).await {
                        Ok(guid) => println!("search {}: {:?}, TTL {}", guid.to_hex(), s.words, s.ttl),
                        Err(e) => eprintln!("warning: search {:?} not started: {e}", s.words),
                    }
                }
                next_search += 1;
            }
            _ = save.tick(), if hosts_file.is_some() => {
                if let Some(path) = &hosts_file {
                    save_hosts(&network, path).await;
                }
            }
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
    if args.json_counters {
        let totals = serde_json::to_value(network.totals())
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        println!("{}", PeerCounters::new(network.records().await, totals));
    }
    println!("shutting down");
    if let Some(path) = &hosts_file {
        if let Some(n) = save_hosts(&network, path).await {
            println!("saved {n} hosts to {}", path.display());
        }
    }
    network.shutdown().await;
    Ok(())
}

/// The peer's routing configuration: the file's, or the defaults, with the flags on top.
fn routing_of(args: &Args) -> Result<RoutingConfig, Box<dyn std::error::Error>> {
    let mut strategy_given = args.strategy.is_some();
    let mut routing = match &args.routing {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let routing = serde_json::from_str::<RoutingConfig>(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            strategy_given |= serde_json::from_str::<serde_json::Value>(&text)
                .is_ok_and(|v| v.get("strategy").is_some());
            routing
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
    if let Some(role) = args.role {
        routing.role = Some(role);
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
    if !strategy_given {
        // An ultrapeer runs dynamic querying unless told otherwise (docs/interop.md).
        routing.default_strategy_for_role();
    }
    routing.validate()?;
    Ok(routing)
}
