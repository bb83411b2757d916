//! `gnutella sim`: run searches over a generated or loaded topology in the discrete-event
//! simulator and print per-query records and their summary.
//!
//! This file only turns flags into a [`Simulation`]'s inputs (graph, node settings, files
//! and planned queries) and its report into text; the routing is the real node's and the
//! figures are the experiment layer's summary.

use std::io::Write;
use std::path::PathBuf;

use gnutella::experiment::summary::{write_records_csv, write_report_json, Summary};
use gnutella::experiment::sweep::placement_of;
use gnutella::experiment::workload::{Workload, WorkloadSpec};
use std::sync::Arc;

use std::net::SocketAddrV4;

use gnutella::node::{
    CacheMode, OverlayConfig, OverlayMode, Role, RoutingConfig, StrategyParams, StrategySpec,
};
use gnutella::sim::memory::{self, DynamicShape, SimShape};
use gnutella::sim::parallel;
use gnutella::sim::{
    peer_addr, wants_roles, Churn, Latency, Links, Placement, PlannedQuery, Removal, SimConfig,
    SimReport, Simulation,
};
use gnutella::topology::BootstrapHost;

use super::memory_check::{available_note, check_memory};
use super::progress;
use super::trace::TraceArgs;
use gnutella::topology::config::DEFAULT_SEED;
use gnutella::topology::{load, synthetic_placement, GenSpec, Graph, Scenario as TopologyScenario};
use gnutella::trace::schema::World;
use gnutella::trace::TracePeer;

const EXAMPLES: &str = "\
Examples:
  gnutella sim --gen ring:n=12 --ttl 12 --queries 5
  gnutella sim --gen tree:n=364,k=3 --strategy flood --ttl 7 --queries 100 --csv
  gnutella sim --gen random:n=10000,d=10 --strategy walk:16 --ttl 255 --replicas 20 --json
  gnutella sim --gen ba:n=100000,m=2 --strategy flood+cache --zipf 1.0 --queries 1000
  gnutella sim --topology data/topologies/p2p-Gnutella08.txt --ttl 5 --queries 200
  gnutella sim --topology topology-configs/quickstart.json --json
  gnutella sim --gen random:n=2000,d=6 --churn 60000:20000 --loss 0.01 --latency 5..50
  gnutella sim --gen ba:n=2000,m=2 --remove targeted:0.05 --ttl 5 --queries 50
  gnutella sim --gen random:n=2000,d=4 --overlay dynamic --remove random:0.3 --remove-at 20000 --queries 60
  gnutella sim --topology topology-configs/quickstart.json --trace flood.jsonl
      also write a flood trace of the first 10 searches (--trace-queries N for more,
      --trace-guid GUID for one); `gnutella view flood.jsonl --out flood.html` draws it

Topology SPECs are KIND:key=value,... (ring, line, star, complete, grid, torus, tree,
random, gnp, regular, ba, ws, plrg). The same seed and inputs give byte-identical output.

How long (release build, one core of a 2-core machine): every example above takes under
2 s except the ba:n=100000 one, about 10 minutes and 2 GB (each of its 1,000 floods
reaches all 100,000 peers; --queries 100 takes 36 s). On a terminal a bar shows searches
started, messages delivered and an ETA (--quiet hides it). A run whose memory estimate
(an upper bound: every search reaching every peer) exceeds the memory available is
refused before it allocates; --force runs it anyway.";

/// Arguments of `gnutella sim`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
#[command(group(clap::ArgGroup::new("network").required(true).args(["topology", "gen"])))]
pub struct Args {
    /// A topology config (its files and workload are used) or a SNAP edge list.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Generate the topology: KIND:key=value,... e.g. random:n=10000,d=10.
    #[arg(long, value_name = "SPEC")]
    pub gen: Option<String>,
    /// Search strategy: flood, ring (expanding ring), walk:K (K random walkers), qrp
    /// (two-tier flooding with QRP; roles from a two-tier graph), dq or dq:N (dynamic
    /// querying until N results; dq: 150, 50 for a leaf's query), each optionally
    /// +cache (peers answer from their LRU result cache), e.g. flood+cache. Default: a
    /// topology config's own settings, else flood.
    #[arg(long)]
    pub strategy: Option<StrategySpec>,
    /// TTL of each query, 1 to 255 (a random walk's length limit for walk:K).
    #[arg(long, default_value_t = 7, value_parser = gnutella::validate::parse_ttl)]
    pub ttl: u8,
    /// Broadcast limit (hops + TTL) enforced by every node; default: a topology config's
    /// own, else max(7, --ttl).
    #[arg(long, value_parser = gnutella::validate::parse_ttl)]
    pub max_ttl: Option<u8>,
    /// Number of queries (generated workloads).
    #[arg(long, default_value_t = 100)]
    pub queries: usize,
    /// Copies of each catalogue file, placed on random peers (generated workloads).
    #[arg(long, conflicts_with = "workload")]
    pub replicas: Option<usize>,
    /// Files in the generated catalogue.
    #[arg(long, default_value_t = 100, conflicts_with = "workload")]
    pub files: usize,
    /// Zipf exponent of query popularity (default: uniform popularity).
    #[arg(long, conflicts_with = "workload")]
    pub zipf: Option<f64>,
    /// A workload description (JSON: files, placement, popularity, queries, arrival...).
    #[arg(long, value_name = "FILE")]
    pub workload: Option<PathBuf>,
    /// Milliseconds between query starts (generated workloads).
    #[arg(long, default_value_t = 1000.0, conflicts_with = "workload")]
    pub every_ms: f64,
    /// Seed of everything random: topology, placement, queries, latencies, churn, peers'
    /// identities [default: a topology config's seed, else 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Link latency in ms: a constant (10) or a per-link uniform range (5..50).
    #[arg(long, default_value = "10", value_parser = parse_latency)]
    pub latency: LatencyArg,
    /// Draw a range latency afresh for every message instead of once per link.
    #[arg(long)]
    pub latency_per_message: bool,
    /// Probability that a message is lost on a link, on every link [default: a topology
    /// config's `loss` per link (its link model), else 0].
    #[arg(long)]
    pub loss: Option<f64>,
    /// Per-message processing delay at each peer, in microseconds.
    #[arg(long, default_value_t = 0)]
    pub processing_us: u64,
    /// Churn: exponential mean session and downtime lengths, SESSION_MS:DOWNTIME_MS.
    #[arg(long, value_name = "SESSION_MS:DOWNTIME_MS", value_parser = parse_churn)]
    pub churn: Option<Churn>,
    /// Removes a share of the peers for good: `random:F` (a seeded random F of them) or
    /// `targeted:F` (highest degree first, ties by lower index), F in [0, 1]. Removed
    /// peers' links go down at both ends; queries they would have started are skipped and
    /// counted.
    #[arg(long, value_name = "random:F|targeted:F", value_parser = Removal::parse)]
    pub remove: Option<Removal>,
    /// Virtual time of the removal in milliseconds (0: before the first query).
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "remove")]
    pub remove_at: u64,
    /// How the overlay is kept: `static` links exactly the topology's links (the default,
    /// or a topology config's `overlay.mode`); `dynamic` makes them a start: every peer
    /// keeps a host cache (its graph neighbours and a config's `overlay.bootstrap` hosts,
    /// then what Pongs, hits and refusals name) and dials from it to keep between
    /// --min-degree and --max-degree links, so survivors of churn or a removal relink and
    /// a returning peer rejoins through its saved host cache.
    #[arg(long, value_name = "static|dynamic", value_parser = parse_overlay)]
    pub overlay: Option<OverlayMode>,
    /// Dynamic overlay: below this many links a peer dials [default: a config's
    /// `overlay.min_degree`, else 4].
    #[arg(long, value_name = "N")]
    pub min_degree: Option<usize>,
    /// Dynamic overlay: a peer with this many links refuses more (the 503 with X-Try of
    /// the live network) [default: a config's `overlay.max_degree`, else 8].
    #[arg(long, value_name = "M")]
    pub max_degree: Option<usize>,
    /// Writes, per virtual second, online peers, mean degree, largest component fraction,
    /// queries started and those of them that succeeded, as CSV (see the header). The
    /// largest component is recomputed only in seconds where a peer left or joined.
    #[arg(long, value_name = "FILE.csv")]
    pub timeseries: Option<PathBuf>,
    /// Writes one JSON line per peer: messages in and out by type, duplicates, queries
    /// answered (own files, cache), drops (see the README's "Per-peer statistics"). Off
    /// by default: a million-peer run writes no per-peer rows unless asked.
    #[arg(long, value_name = "FILE.jsonl")]
    pub peer_stats: Option<PathBuf>,
    /// What a node does with a query its result cache answers (+cache strategies):
    /// answer-and-stop saves messages; answer-and-forward only speeds up the first hit
    /// [default: a topology config's own, else answer-and-stop].
    #[arg(long, value_parser = parse_cache_mode)]
    pub cache_mode: Option<CacheMode>,
    /// Result-cache capacity per node [default: a topology config's own, else 256].
    #[arg(long)]
    pub cache_capacity: Option<usize>,
    /// Result-cache entry lifetime in seconds [default: a topology config's own, else 300].
    #[arg(long)]
    pub cache_age_secs: Option<u64>,
    /// Duplicate/route table capacity per node: at least the searches in flight at once
    /// [default: a topology config's own, else 64].
    #[arg(long)]
    pub seen_capacity: Option<usize>,
    /// Virtual seconds after the last query starts during which hits are still collected.
    #[arg(long, default_value_t = 60)]
    pub settle_secs: u64,
    /// Print `{"summary": {...}, "queries": [...]}`.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV row per query.
    #[arg(long)]
    pub csv: bool,
    /// Run even when the memory estimate is larger than the memory available (the run
    /// may then be killed or abort when an allocation fails).
    #[arg(long)]
    pub force: bool,
    /// Threads to run the searches on [default: the cores available]. The output is
    /// the same bytes for any number: searches run in parallel only when they provably
    /// cannot affect one another (plain flood, one delay on every link, no cache, loss,
    /// churn, removal or dynamic overlay, no trace, and a duplicate table large enough
    /// for the searches in flight), split by origin; otherwise on one thread (the log,
    /// RUST_LOG=info, says why).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// A latency given in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyArg {
    Constant(f64),
    Range(f64, f64),
}

fn parse_latency(s: &str) -> Result<LatencyArg, String> {
    let number = |t: &str| match t.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("\"{t}\" is not a latency in milliseconds")),
    };
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("latency range {s} is empty"));
            }
            Ok(LatencyArg::Range(a, b))
        }
        None => Ok(LatencyArg::Constant(number(s)?)),
    }
}

fn parse_cache_mode(s: &str) -> Result<CacheMode, String> {
    match s {
        "answer-and-stop" => Ok(CacheMode::AnswerAndStop),
        "answer-and-forward" => Ok(CacheMode::AnswerAndForward),
        _ => Err(format!(
            "unknown cache mode \"{s}\" (expected answer-and-stop or answer-and-forward)"
        )),
    }
}

fn parse_overlay(s: &str) -> Result<OverlayMode, String> {
    match s {
        "static" => Ok(OverlayMode::Static),
        "dynamic" => Ok(OverlayMode::Dynamic),
        _ => Err(format!(
            "unknown overlay \"{s}\" (expected static or dynamic)"
        )),
    }
}

fn parse_churn(s: &str) -> Result<Churn, String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("\"{s}\" is not SESSION_MS:DOWNTIME_MS"))?;
    let number = |t: &str| match t.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("\"{t}\" is not a positive number of milliseconds")),
    };
    Ok(Churn {
        mean_session_ms: number(a)?,
        mean_downtime_ms: number(b)?,
    })
}

fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

/// The network, its files, its peers' settings and its queries, whichever way they were
/// given.
struct Scenario {
    graph: Graph,
    placement: Placement,
    queries: Vec<PlannedQuery>,
    /// Peer names of a loaded topology (config ids, SNAP labels), for the records.
    names: Option<Vec<String>>,
    /// Latency from the config's defaults, when it sets one.
    config_latency_ms: Option<f64>,
    /// Every node's routing when all share one (generated or SNAP topologies).
    routing: RoutingConfig,
    /// A topology config's peers: identities from the config's seed and each peer's own
    /// routing, exactly as `launch` builds them.
    peers: Option<(u64, Vec<Arc<RoutingConfig>>)>,
    /// The run's seed.
    seed: u64,
    /// The degree policy every node runs (a config's `overlay` block, then the flags).
    overlay: OverlayConfig,
    /// A config's bootstrap hosts (its peers by their simulated addresses).
    bootstrap: Vec<SocketAddrV4>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(loss) = args.loss.filter(|l| !(0.0..=1.0).contains(l)) {
        return Err(format!("--loss {loss} is not a probability in [0, 1]").into());
    }
    if let Some(path) = &args.timeseries {
        check_output_path(path, "--timeseries")?;
    }
    if let Some(path) = &args.peer_stats {
        check_output_path(path, "--peer-stats")?;
    }
    args.trace.check()?;
    // Phase timings go to the log (RUST_LOG=info), never to the deterministic output.
    let clock = std::time::Instant::now();
    let phase = match (&args.topology, &args.gen) {
        (Some(path), _) => format!("loading {}", path.display()),
        (None, Some(spec)) => {
            let spec = GenSpec::parse(spec)?;
            let (nodes, links) = (u64::from(spec.node_count()), spec.link_estimate());
            // Refuse before generating (a minute for 50 million peers), from the flags;
            // the exact check follows once the workload is known.
            let cache = args.strategy.is_some_and(|s| s.cache);
            let planned = SimShape {
                peers: nodes,
                links,
                queries: if args.workload.is_some() {
                    1
                } else {
                    args.queries as u64
                },
                seen_capacity: args.seen_capacity.unwrap_or(64) as u64,
                cache_capacity: if cache {
                    args.cache_capacity.unwrap_or(256) as u64
                } else {
                    0
                },
                dynamic: match args.overlay {
                    Some(OverlayMode::Dynamic) => dynamic_shape(&OverlayConfig {
                        mode: OverlayMode::Dynamic,
                        max_degree: args
                            .max_degree
                            .unwrap_or(OverlayConfig::default().max_degree),
                        ..OverlayConfig::default()
                    }),
                    _ => None,
                },
                // Counted once the graph and its roles are known (`shape_of`).
                qrp_tables: 0,
            };
            let bytes = planned
                .estimate_bytes()
                .max(memory::graph_bytes(nodes, links));
            check_memory(bytes, "this simulation", args.force)?;
            format!("generating {spec} ({nodes} peers, about {links} links)")
        }
        (None, None) => String::new(),
    };
    let mut scenario = progress::with_spinner(phase, || scenario(&args))?;
    log::info!(
        "topology and workload ready in {:.3}s",
        clock.elapsed().as_secs_f64()
    );
    let shape = shape_of(&scenario);
    let estimate = shape.estimate_bytes();
    if estimate >= NOTE_ABOVE_BYTES && progress::notes() {
        eprintln!(
            "memory: up to {} for {} peers, {} links, {} searches ({})",
            memory::human_bytes(estimate),
            shape.peers,
            shape.links,
            shape.queries,
            available_note()
        );
    }
    check_memory(estimate, "this simulation", args.force)?;
    let links = progress::with_spinner("building the link table", || {
        Links::from_graph(&scenario.graph)
    });
    log::info!("link table ready in {:.3}s", clock.elapsed().as_secs_f64());
    let config = sim_config(&args, &scenario);
    let label = strategy_label(&scenario);
    let traced = args.trace.trace.is_some();
    let timeseries = args.timeseries.is_some();
    let peer_stats = args.peer_stats.is_some();
    // Kept apart from the graph, whose arrays are freed before the run.
    let ultrapeers: Option<Vec<bool>> = scenario.graph.ultrapeers().map(<[bool]>::to_vec);
    let build = |config: SimConfig| {
        let mut simulation = Simulation::new(
            links.clone(),
            config,
            scenario.placement.clone(),
            scenario.seed,
        );
        if let Some((network_seed, routing)) = scenario.peers.clone() {
            simulation.set_peers(network_seed, routing);
        }
        if let Some(names) = scenario.names.clone() {
            simulation.set_peer_names(names);
        }
        if let Some(ultrapeers) = &ultrapeers {
            simulation.set_roles(ultrapeers);
        }
        if timeseries {
            simulation.record_timeseries();
        }
        if peer_stats {
            simulation.count_peer_stats();
        }
        simulation
    };
    // A trace records events in the order they happen across searches: one thread.
    let threads = match args.threads {
        Some(n) => usize::from(n),
        None if traced => 1,
        None => parallel::default_threads(),
    };
    let threads = threads_that_fit(threads, &shape, args.threads.is_some());
    if traced && threads > 1 {
        log::info!("simulation on one thread: a flood trace is written in event order");
    }
    // What a trace needs from the graph, taken before the graph goes.
    let trace_graph = traced.then(|| {
        let names = scenario.names.as_ref();
        let peers: Vec<TracePeer> = (0..scenario.graph.node_count())
            .map(|i| TracePeer {
                id: names
                    .and_then(|n| n.get(i).cloned())
                    .unwrap_or_else(|| i.to_string()),
                addr: None,
            })
            .collect();
        let links: Vec<[u32; 2]> = scenario.graph.links().map(|(a, b)| [a, b]).collect();
        (peers, links)
    });
    // The link table (and the trace) have what the run needs from the graph: its arrays
    // (some 24 bytes a peer) go back to the OS before the nodes take their memory.
    let (node_count, link_count) = (scenario.graph.node_count(), scenario.graph.link_count());
    scenario.graph = gnutella::topology::Graph::from_edges(0, &[]);
    let bar = progress::bar(scenario.queries.len() as u64, "searches started");
    let run_clock = std::time::Instant::now();
    let mut show = |p: gnutella::sim::SimProgress| {
        bar.set_position(p.started as u64);
        bar.set_message(format!("{} messages delivered", p.delivered));
        if p.started == scenario.queries.len() && !p.search_started {
            bar.set_message(format!(
                "{} messages delivered; the last searches are settling",
                p.delivered
            ));
        }
    };
    let (report, simulations) = if traced {
        let mut simulation = build(config);
        let (peers, links) = trace_graph.unwrap_or_default();
        let name = match (&args.topology, &args.gen) {
            (Some(path), _) => path.file_stem().map(|s| s.to_string_lossy().into_owned()),
            (None, gen) => gen.clone(),
        };
        let tracer = args
            .trace
            .open(World::Sim, name, Some(scenario.seed), peers, links)?;
        if let Some(tracer) = tracer {
            simulation.trace(tracer);
        }
        let report = simulation.execute(&scenario.queries, &mut show);
        if let Some(tracer) = simulation.take_tracer() {
            tracer
                .finish(&report.records)
                .map_err(|e| args.trace.failed(e))?;
        }
        (report, vec![simulation])
    } else {
        let outcome = parallel::execute(threads, &config, &scenario.queries, &build, &mut show);
        (outcome.report, outcome.simulations)
    };
    if let Some(path) = &args.peer_stats {
        // Each thread's simulation counted the searches it ran: a peer's row is the sum.
        let mut rows: Vec<gnutella::node::peer_stats::PeerStats> = Vec::new();
        for simulation in &simulations {
            let stats = simulation.peer_stats();
            if rows.is_empty() {
                rows = stats;
            } else {
                for (row, more) in rows.iter_mut().zip(&stats) {
                    row.tally.merge(&more.tally);
                }
            }
        }
        let rows = gnutella::node::peer_stats::to_json_lines(&rows);
        gnutella::experiment::atomic_write::atomic_write(path, rows)
            .map_err(|e| format!("--peer-stats {}: {e}", path.display()))?;
    }
    // The process ends right after printing: the OS takes the nodes back at once, where
    // dropping them would free up to a million nodes one allocation at a time.
    std::mem::forget(simulations);
    bar.finish_and_clear();
    log::info!(
        "simulation done in {:.3}s (event loop run_s={:.4}): {} messages delivered, {} nodes created",
        clock.elapsed().as_secs_f64(),
        run_clock.elapsed().as_secs_f64(),
        report.stats.delivered,
        report.stats.nodes_created
    );
    let mut summary = Summary::from_records(&report.records, &report.messages_per_peer)
        .with_overlay(&report.overlay_start, &report.overlay_end);
    if scenario.overlay.is_dynamic() {
        summary = summary.with_dials(&report.stats);
    }
    if let Some(tiers) = &report.tiers {
        summary = summary.with_tiers(&tiers.received, &tiers.ultrapeer);
    }
    if let Some(path) = &args.timeseries {
        gnutella::experiment::atomic_write::atomic_write(path, timeseries_csv(&report))
            .map_err(|e| format!("--timeseries {}: {e}", path.display()))?;
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        write_report_json(&mut out, &summary, &report.records)?;
    } else if args.csv {
        write_records_csv(&mut out, &report.records)?;
    } else {
        let stats = &report.stats;
        writeln!(
            out,
            "{} peers, {} links, strategy {}, ttl {}, seed {}",
            node_count, link_count, label, args.ttl, scenario.seed
        )?;
        writeln!(out, "queries                  {}", summary.queries)?;
        writeln!(out, "success_rate             {:.3}", summary.success_rate)?;
        writeln!(
            out,
            "messages_per_query       {:.1}",
            summary.messages_per_query
        )?;
        writeln!(
            out,
            "duplicates_fraction      {:.3}",
            summary.duplicates_fraction
        )?;
        writeln!(
            out,
            "peers_reached_per_query  {:.1}",
            summary.peers_reached_per_query
        )?;
        writeln!(
            out,
            "first_hit_hops_mean      {}",
            fmt_opt(summary.first_hit_hops_mean, 2)
        )?;
        writeln!(
            out,
            "latency_ms_mean          {}",
            fmt_opt(summary.latency_ms_mean, 1)
        )?;
        writeln!(
            out,
            "hits_per_query           {:.2}",
            summary.hits_per_query
        )?;
        writeln!(
            out,
            "messages_per_node_mean   {:.2}",
            summary.messages_per_node_mean
        )?;
        writeln!(
            out,
            "messages_per_node_max    {}",
            summary.messages_per_node_max
        )?;
        writeln!(
            out,
            "cache_hit_rate           {:.3}",
            summary.cache_hit_rate
        )?;
        writeln!(
            out,
            "largest_component_fraction {}",
            fmt_opt(summary.largest_component_fraction, 3)
        )?;
        writeln!(
            out,
            "mean_degree_start        {}",
            fmt_opt(summary.mean_degree_start, 2)
        )?;
        writeln!(
            out,
            "mean_degree_end          {}",
            fmt_opt(summary.mean_degree_end, 2)
        )?;
        if let (Some(up_mean), Some(up_max), Some(leaf_mean), Some(leaf_max)) = (
            summary.ultrapeer_load_mean,
            summary.ultrapeer_load_max,
            summary.leaf_load_mean,
            summary.leaf_load_max,
        ) {
            writeln!(
                out,
                "ultrapeer_load           {up_mean:.1} mean, {up_max} max (Query+QueryHit received)"
            )?;
            writeln!(
                out,
                "leaf_load                {leaf_mean:.1} mean, {leaf_max} max"
            )?;
        }
        if stats.check_backs > 0 {
            // Each check-back is a message to the origin and its answer.
            let per_query = stats.check_backs as f64 * 2.0 / summary.queries.max(1) as f64;
            writeln!(out, "check_back_msgs_per_query {per_query:.1}")?;
        }
        if scenario.overlay.is_dynamic() {
            writeln!(
                out,
                "dynamic overlay (degree {}..={}): {} dials, {} failed ({} refused: full), {} links made",
                scenario.overlay.min_degree,
                scenario.overlay.max_degree,
                stats.dials,
                stats.dials_failed,
                stats.dials_refused,
                stats.links_made
            )?;
        }
        if stats.removed > 0 {
            writeln!(
                out,
                "removed {} peers; {} queries skipped (origin removed)",
                stats.removed, stats.skipped_removed
            )?;
        }
        if stats.lost + stats.lost_link_down + stats.churn_leaves + stats.skipped_offline > 0 {
            writeln!(
                out,
                "lost {} on links, {} to links gone; churn: {} leaves, {} joins; {} queries skipped (origin offline)",
                stats.lost, stats.lost_link_down, stats.churn_leaves, stats.churn_joins, stats.skipped_offline
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The threads to run on: each thread has its own nodes (the link table is shared), so
/// a default count is cut to what the memory estimate says fits; a count the user gave
/// is kept, with a warning when it may not fit.
fn threads_that_fit(threads: usize, shape: &SimShape, asked: bool) -> usize {
    let Some(available) = memory::available() else {
        return threads;
    };
    let total = shape.estimate_bytes();
    let per_thread = total
        .saturating_sub(shape.links.saturating_mul(memory::BYTES_PER_LINK))
        .max(1);
    let room = available.bytes.saturating_sub(total) / per_thread;
    let fit = usize::try_from(room.saturating_add(1)).unwrap_or(usize::MAX);
    if threads <= fit {
        return threads;
    }
    let needed = total.saturating_add(per_thread.saturating_mul(threads as u64 - 1));
    if asked {
        if progress::notes() {
            eprintln!(
                "warning: {threads} threads may need up to {} (each its own nodes), more than \
                 the {} available",
                memory::human_bytes(needed),
                memory::human_bytes(available.bytes)
            );
        }
        return threads;
    }
    log::info!(
        "{fit} thread(s) instead of {threads}: each thread has its own nodes, and {threads} \
         may need up to {} ({})",
        memory::human_bytes(needed),
        available_note()
    );
    fit.max(1)
}

/// Refuses an output path whose folder does not exist, before a long run.
fn check_output_path(path: &std::path::Path, flag: &str) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if path.file_name().is_none() || path.is_dir() {
        return Err(format!("{flag} {}: not a file name", path.display()));
    }
    if !dir.is_dir() {
        return Err(format!(
            "{flag} {}: folder {} does not exist",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// The `--timeseries` CSV: one row per virtual second of the run.
fn timeseries_csv(report: &SimReport) -> String {
    let mut out = String::from(
        "second,online_peers,mean_degree,largest_component_fraction,queries_started,queries_succeeded\n",
    );
    for row in &report.timeseries {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            row.second,
            row.overlay.online,
            row.overlay.mean_degree,
            row.overlay.largest_component_fraction,
            row.queries_started,
            row.queries_succeeded
        ));
    }
    out
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// Estimates of at least this size are shown before the run.
const NOTE_ABOVE_BYTES: u64 = 1_000_000_000;

/// What the run will hold, for the memory estimate: the largest tables any peer has.
fn shape_of(scenario: &Scenario) -> SimShape {
    let routings: Vec<&RoutingConfig> = match &scenario.peers {
        Some((_, peers)) => peers.iter().map(|r| r.as_ref()).collect(),
        None => vec![&scenario.routing],
    };
    let seen = routings
        .iter()
        .map(|r| r.seen_capacity.max(r.route_capacity))
        .max()
        .unwrap_or(0);
    let cache = routings
        .iter()
        .filter(|r| r.cache.mode != CacheMode::Off)
        .map(|r| r.cache.capacity)
        .max()
        .unwrap_or(0);
    SimShape {
        peers: scenario.graph.node_count() as u64,
        links: scenario.graph.link_count() as u64,
        queries: scenario.queries.len() as u64,
        seen_capacity: seen as u64,
        cache_capacity: cache as u64,
        dynamic: dynamic_shape(&scenario.overlay),
        qrp_tables: qrp_tables(scenario),
    }
}

/// The QRP tables a run with roles holds (`memory::qrp_tables`): the roles a topology
/// config's peers bring, else those a two-tier graph gives when the routing takes them.
fn qrp_tables(scenario: &Scenario) -> u64 {
    let graph = &scenario.graph;
    let ultrapeer: Vec<bool> = match &scenario.peers {
        Some((_, peers)) => {
            if peers.iter().all(|r| r.role.is_none()) {
                return 0;
            }
            peers
                .iter()
                .map(|r| r.role.is_some_and(|role| role.role() == Role::Ultrapeer))
                .collect()
        }
        None => match (graph.ultrapeers(), scenario.routing.role) {
            (Some(ups), _) if wants_roles(&scenario.routing) => ups.to_vec(),
            // A role without a two-tier graph (`qrp` on a flat one): every peer has it.
            (None, Some(role)) => vec![role.role() == Role::Ultrapeer; graph.node_count()],
            _ => return 0,
        },
    };
    memory::qrp_tables(&ultrapeer, graph.links())
}

/// A dynamic overlay's limits for the memory estimate (`None` when static).
fn dynamic_shape(overlay: &OverlayConfig) -> Option<DynamicShape> {
    overlay.is_dynamic().then_some(DynamicShape {
        max_degree: overlay.max_degree as u64,
        host_cache: overlay.host_cache as u64,
    })
}

/// The latency the run uses: a config's own constant unless a range was asked for.
fn base_latency(args: &Args, config_latency_ms: Option<f64>) -> LatencyArg {
    match (config_latency_ms, args.latency) {
        (Some(ms), LatencyArg::Constant(_)) => LatencyArg::Constant(ms),
        (_, given) => given,
    }
}

fn sim_config(args: &Args, scenario: &Scenario) -> SimConfig {
    let mut config = SimConfig::default();
    let base = base_latency(args, scenario.config_latency_ms);
    config.latency = match base {
        LatencyArg::Constant(ms) => Latency::Constant { micros: micros(ms) },
        LatencyArg::Range(a, b) if args.latency_per_message => Latency::UniformPerMessage {
            min: micros(a),
            max: micros(b),
        },
        LatencyArg::Range(a, b) => Latency::UniformPerLink {
            min: micros(a),
            max: micros(b),
        },
    };
    if scenario.graph.has_latencies() {
        let default = match base {
            LatencyArg::Constant(ms) => micros(ms),
            LatencyArg::Range(a, b) => micros((a + b) / 2.0),
        };
        config.latency = Latency::Topology { default };
    }
    config.loss = args.loss.unwrap_or(0.0);
    config.processing_us = args.processing_us;
    config.churn = args.churn;
    config.removal = args.remove.map(|r| Removal {
        at_us: args.remove_at.saturating_mul(1000),
        ..r
    });
    config.settle_us = args.settle_secs.saturating_mul(1_000_000);
    config.routing = scenario.routing.clone();
    config.overlay = scenario.overlay;
    config.bootstrap = scenario.bootstrap.clone();
    config
}

/// The routing of a run without a topology config: the routing defaults sized for a
/// simulation (small duplicate tables, a smaller cache, answer-and-stop when cached), a
/// broadcast limit that lets the workload's TTLs through, flooding unless asked otherwise.
fn generated_routing(largest_ttl: u8) -> RoutingConfig {
    let mut routing = RoutingConfig {
        max_ttl: largest_ttl.max(7),
        seen_capacity: 64,
        route_capacity: 64,
        ..RoutingConfig::default()
    };
    routing.cache.capacity = 256;
    routing.cache.max_age_secs = 300;
    routing.cache.mode = CacheMode::Off;
    routing
}

/// The command line's routing flags applied to `routing` (only the flags given; a
/// topology config's peers keep the rest of their own settings).
fn apply_flags(args: &Args, routing: &mut RoutingConfig, hop_ms: f64) {
    if let Some(max_ttl) = args.max_ttl {
        routing.max_ttl = max_ttl;
    }
    if let Some(capacity) = args.seen_capacity {
        routing.seen_capacity = capacity;
        routing.route_capacity = capacity;
    }
    if let Some(capacity) = args.cache_capacity {
        routing.cache.capacity = capacity;
    }
    if let Some(age) = args.cache_age_secs {
        routing.cache.max_age_secs = age;
    }
    if let (Some(mode), true) = (args.cache_mode, routing.cache.mode != CacheMode::Off) {
        routing.cache.mode = mode;
    }
    if let Some(strategy) = args.strategy {
        // A round (or a dynamic query's step) has to wait for the farthest hit to come
        // back: a round trip at full TTL.
        let round_trip_ms = (2.0 * f64::from(args.ttl) * hop_ms).ceil().max(1.0) as u64;
        let params = StrategyParams {
            ring_wait_ms: round_trip_ms,
            dq_wait_ms: round_trip_ms,
            walk_check_every: 4,
            cache_mode: match (args.cache_mode, routing.cache.mode) {
                (Some(mode), _) => mode,
                (None, CacheMode::Off) => CacheMode::AnswerAndStop,
                (None, mode) => mode,
            },
        };
        strategy.apply(routing, &params);
    }
}

/// The strategy the run's records carry, for the text summary's header line.
fn strategy_label(scenario: &Scenario) -> String {
    match &scenario.peers {
        Some((_, routing)) => {
            let mut labels: Vec<String> = routing.iter().map(|r| r.label()).collect();
            labels.sort();
            labels.dedup();
            labels.join("/")
        }
        None => scenario.routing.label(),
    }
}

fn scenario(args: &Args) -> Result<Scenario, Box<dyn std::error::Error>> {
    let (mut graph, topology_config, names) = match (&args.topology, &args.gen) {
        (Some(path), _) => {
            let topology = load::load(path)?;
            (topology.graph, topology.config, Some(topology.names))
        }
        (None, Some(spec)) => (
            GenSpec::parse(spec)?.generate(args.seed.unwrap_or(DEFAULT_SEED))?,
            None,
            None,
        ),
        (None, None) => return Err("give --topology FILE or --gen SPEC".into()),
    };
    if graph.node_count() == 0 {
        return Err("the topology has no peers".into());
    }
    // --loss sets every link's loss, the config's link model included.
    if args.loss.is_some() {
        graph.clear_losses();
    }
    let config_latency_ms = topology_config
        .as_ref()
        .and_then(|c| c.defaults.latency_ms.map(|l| l.max_ms()));
    let hop_ms = match base_latency(args, config_latency_ms) {
        LatencyArg::Constant(ms) => ms,
        LatencyArg::Range(_, b) => b,
    } + args.processing_us as f64 / 1000.0;
    // A config's peers run as `launch` runs them: the config's seed (unless --seed),
    // identities and per-peer routing from its scenario, the command line's flags on top.
    let mut config_scenario = topology_config.map(|mut config| {
        if let Some(seed) = args.seed {
            config.defaults.seed = seed;
        }
        (TopologyScenario::from_config(&config), config)
    });
    let seed = match &config_scenario {
        Some((scenario, _)) => scenario.seed,
        None => args.seed.unwrap_or(DEFAULT_SEED),
    };
    let peers = config_scenario.as_mut().map(|(scenario, _)| {
        let routing: Vec<Arc<RoutingConfig>> = scenario
            .peers
            .iter()
            .map(|p| {
                let mut routing = (*p.routing).clone();
                apply_flags(args, &mut routing, hop_ms);
                Arc::new(routing)
            })
            .collect();
        (scenario.seed, routing)
    });
    let generated_workload_asked = args.workload.is_some() || args.replicas.is_some();
    let (placement, queries) = match &config_scenario {
        Some((scenario, config)) if !config.workload.is_empty() && !generated_workload_asked => {
            (synthetic_placement(config), scenario.queries.clone())
        }
        _ => generated_workload(args, graph.node_count(), seed)?,
    };
    let largest_ttl = queries.iter().map(|q| q.ttl).max().unwrap_or(0);
    let mut routing = generated_routing(largest_ttl.max(args.ttl));
    apply_flags(args, &mut routing, hop_ms);
    let (overlay, bootstrap) = overlay_of(args, config_scenario.as_ref().map(|(s, _)| s))?;
    Ok(Scenario {
        graph,
        placement,
        queries,
        names,
        config_latency_ms,
        routing,
        peers,
        seed,
        overlay,
        bootstrap,
    })
}

/// The degree policy of the run: a config's `overlay` block (or the default, static),
/// with --overlay, --min-degree and --max-degree on top; and the config's bootstrap
/// hosts, its peers named by their simulated addresses.
fn overlay_of(
    args: &Args,
    config: Option<&TopologyScenario>,
) -> Result<(OverlayConfig, Vec<SocketAddrV4>), String> {
    let mut overlay = config.map(|c| c.overlay).unwrap_or_default();
    if let Some(mode) = args.overlay {
        overlay.mode = mode;
    }
    if let Some(min) = args.min_degree {
        overlay.min_degree = min;
    }
    if let Some(max) = args.max_degree {
        overlay.max_degree = max;
    }
    if !overlay.is_dynamic() && (args.min_degree.is_some() || args.max_degree.is_some()) {
        return Err(
            "--min-degree and --max-degree set the dynamic overlay's policy: add --overlay dynamic"
                .into(),
        );
    }
    overlay
        .validate()
        .map_err(|e| format!("{} (from --min-degree/--max-degree or the config)", e))?;
    let bootstrap = config
        .map(|c| {
            c.bootstrap
                .iter()
                .map(|host| match *host {
                    BootstrapHost::Peer(i) => peer_addr(i as u32),
                    BootstrapHost::Addr(addr) => addr,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((overlay, bootstrap))
}

/// A workload generated from the command line (or a workload file) over `nodes` peers.
fn generated_workload(
    args: &Args,
    nodes: usize,
    seed: u64,
) -> Result<(Placement, Vec<PlannedQuery>), Box<dyn std::error::Error>> {
    let spec = match &args.workload {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            WorkloadSpec::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => {
            let mut spec = WorkloadSpec::with_replicas(args.replicas.unwrap_or(10), args.queries);
            spec.files = args.files;
            spec.arrival = gnutella::experiment::workload::Arrival::Fixed {
                every_ms: args.every_ms,
            };
            match args.zipf {
                Some(alpha) => spec.zipf(alpha),
                None => spec,
            }
        }
    };
    let workload = Workload::generate(&spec, nodes, seed)?;
    let placement = placement_of(&workload);
    let queries = workload
        .queries
        .iter()
        .map(|q| PlannedQuery::new(q.at.time(), q.origin, &q.words, args.ttl))
        .collect();
    Ok((placement, queries))
}
