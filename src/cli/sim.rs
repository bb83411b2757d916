//! `gnutella sim`: run searches over a generated or loaded topology in the discrete-event
//! simulator and print per-query records and their summary.
//!
//! This file only turns flags into a [`Simulation`]'s inputs (graph, node settings, files
//! and planned queries) and its report into text; the routing is the real node's and the
//! figures are the experiment layer's summary.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use gnutella::experiment::spec::MAX_WALKERS;
use gnutella::experiment::summary::{write_records_csv, write_report_json, Summary};
use gnutella::experiment::sweep::placement_of;
use gnutella::experiment::workload::{Workload, WorkloadSpec};
use gnutella::node::{CacheMode, Strategy, Time};
use gnutella::sim::{
    Churn, Latency, Links, Placement, PlannedQuery, SimConfig, SimFile, Simulation,
};
use gnutella::topology::{load, synthetic, GenSpec, Graph, TopologyConfig};

const EXAMPLES: &str = "\
Examples:
  gnutella sim --gen ring:n=12 --ttl 12 --queries 5
  gnutella sim --gen tree:n=364,k=3 --strategy flood --ttl 7 --queries 100 --csv
  gnutella sim --gen random:n=10000,d=10 --strategy walk:16 --ttl 255 --replicas 20 --json
  gnutella sim --gen ba:n=100000,m=2 --strategy flood+cache --zipf 1.0 --queries 1000
  gnutella sim --topology ../shared/data/topologies/p2p-Gnutella08.txt --ttl 5 --queries 200
  gnutella sim --topology topology-configs/quickstart.json --json
  gnutella sim --gen random:n=2000,d=6 --churn 60000:20000 --loss 0.01 --latency 5..50

Topology SPECs are KIND:key=value,... (ring, line, star, complete, grid, torus, tree,
random, gnp, regular, ba, ws, plrg). The same seed and inputs give byte-identical output.";

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
    /// Search strategy: flood, ring (expanding ring), walk:K (K random walkers) or
    /// flood+cache (flooding with the LRU result cache).
    #[arg(long, default_value = "flood", value_parser = parse_strategy)]
    pub strategy: StrategyArg,
    /// TTL of each query (a random walk's length limit for walk:K).
    #[arg(long, default_value_t = 7)]
    pub ttl: u8,
    /// Broadcast limit (hops + TTL) enforced by every node; defaults to max(7, --ttl).
    #[arg(long)]
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
    /// Seed of everything random: topology, placement, queries, latencies, churn, nodes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Link latency in ms: a constant (10) or a per-link uniform range (5..50).
    #[arg(long, default_value = "10", value_parser = parse_latency)]
    pub latency: LatencyArg,
    /// Draw a range latency afresh for every message instead of once per link.
    #[arg(long)]
    pub latency_per_message: bool,
    /// Probability that a message is lost on a link.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Per-message processing delay at each peer, in microseconds.
    #[arg(long, default_value_t = 0)]
    pub processing_us: u64,
    /// Churn: exponential mean session and downtime lengths, SESSION_MS:DOWNTIME_MS.
    #[arg(long, value_name = "SESSION_MS:DOWNTIME_MS", value_parser = parse_churn)]
    pub churn: Option<Churn>,
    /// What a node does with a query its result cache answers (flood+cache):
    /// answer-and-stop saves messages; answer-and-forward only speeds up the first hit.
    #[arg(long, default_value = "answer-and-stop", value_parser = parse_cache_mode)]
    pub cache_mode: CacheMode,
    /// Result-cache capacity per node (flood+cache).
    #[arg(long, default_value_t = 256)]
    pub cache_capacity: usize,
    /// Result-cache entry lifetime in seconds (flood+cache).
    #[arg(long, default_value_t = 300)]
    pub cache_age_secs: u64,
    /// Duplicate/route table capacity per node: at least the searches in flight at once.
    #[arg(long, default_value_t = 64)]
    pub seen_capacity: usize,
    /// Virtual seconds after the last query starts during which hits are still collected.
    #[arg(long, default_value_t = 60)]
    pub settle_secs: u64,
    /// Print `{"summary": {...}, "queries": [...]}`.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print one CSV row per query.
    #[arg(long)]
    pub csv: bool,
}

/// The strategy named on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StrategyArg {
    Flood,
    Ring,
    Walk(u32),
    FloodCache,
}

impl StrategyArg {
    fn label(self) -> String {
        match self {
            StrategyArg::Flood => "flood".into(),
            StrategyArg::Ring => "ring".into(),
            StrategyArg::Walk(k) => format!("walk:{k}"),
            StrategyArg::FloodCache => "flood+cache".into(),
        }
    }
}

fn parse_strategy(s: &str) -> Result<StrategyArg, String> {
    match s {
        "flood" => Ok(StrategyArg::Flood),
        "ring" => Ok(StrategyArg::Ring),
        "flood+cache" | "cache" => Ok(StrategyArg::FloodCache),
        _ => match s.strip_prefix("walk:") {
            Some(k) => match k.parse::<u32>() {
                Ok(k) if (1..=MAX_WALKERS).contains(&k) => Ok(StrategyArg::Walk(k)),
                _ => Err(format!(
                    "walk:K needs a number of walkers from 1 to {MAX_WALKERS}, not \"{k}\""
                )),
            },
            None => Err(format!(
                "unknown strategy \"{s}\" (expected flood, ring, walk:K or flood+cache)"
            )),
        },
    }
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

/// The network, its files and its queries, whichever way they were given.
struct Scenario {
    graph: Graph,
    placement: Placement,
    queries: Vec<PlannedQuery>,
    /// Peer names of a loaded topology (config ids, SNAP labels), for the records.
    names: Option<Vec<String>>,
    /// Latency from the config's defaults, when it sets one.
    config_latency_ms: Option<f64>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if !(0.0..=1.0).contains(&args.loss) {
        return Err(format!("--loss {} is not a probability in [0, 1]", args.loss).into());
    }
    // Phase timings go to the log (RUST_LOG=info), never to the deterministic output.
    let clock = std::time::Instant::now();
    let scenario = scenario(&args)?;
    log::info!(
        "topology and workload ready in {:.3}s",
        clock.elapsed().as_secs_f64()
    );
    let links = Links::from_graph(&scenario.graph);
    log::info!("link table ready in {:.3}s", clock.elapsed().as_secs_f64());
    let config = sim_config(&args, &scenario);
    let mut simulation = Simulation::new(links, config, scenario.placement, args.seed);
    simulation.set_strategy_label(args.strategy.label());
    if let Some(names) = scenario.names.clone() {
        simulation.set_peer_names(names);
    }

    let bar = progress_bar(scenario.queries.len());
    let run_clock = std::time::Instant::now();
    let report = simulation.execute(&scenario.queries, &mut |started| {
        if let Some(bar) = &bar {
            bar.set_position(started as u64);
        }
    });
    // The process ends right after printing: the OS takes the nodes back at once, where
    // dropping them would free up to a million nodes one allocation at a time.
    std::mem::forget(simulation);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    log::info!(
        "simulation done in {:.3}s (event loop run_s={:.4}): {} messages delivered, {} nodes created",
        clock.elapsed().as_secs_f64(),
        run_clock.elapsed().as_secs_f64(),
        report.stats.delivered,
        report.stats.nodes_created
    );
    let summary = Summary::from_records(&report.records, &report.messages_per_peer);

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
            scenario.graph.node_count(),
            scenario.graph.link_count(),
            args.strategy.label(),
            args.ttl,
            args.seed
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
        if stats.check_backs > 0 {
            // Each check-back is a message to the origin and its answer.
            let per_query = stats.check_backs as f64 * 2.0 / summary.queries.max(1) as f64;
            writeln!(out, "check_back_msgs_per_query {per_query:.1}")?;
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

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if total < 50 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} queries started ({eta})")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn sim_config(args: &Args, scenario: &Scenario) -> SimConfig {
    let mut config = SimConfig::default();
    let base = match (scenario.config_latency_ms, args.latency) {
        (Some(ms), LatencyArg::Constant(_)) => LatencyArg::Constant(ms),
        (_, given) => given,
    };
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
    let hop_ms = match base {
        LatencyArg::Constant(ms) => ms,
        LatencyArg::Range(_, b) => b,
    } + args.processing_us as f64 / 1000.0;
    config.loss = args.loss;
    config.processing_us = args.processing_us;
    config.churn = args.churn;
    config.settle_us = args.settle_secs.saturating_mul(1_000_000);
    let node = &mut config.node;
    let largest_ttl = scenario.queries.iter().map(|q| q.ttl).max().unwrap_or(0);
    node.max_ttl = args.max_ttl.unwrap_or(args.ttl.max(7).max(largest_ttl));
    node.seen_capacity = args.seen_capacity;
    node.route_capacity = args.seen_capacity;
    node.cache.capacity = args.cache_capacity;
    node.cache.max_age_secs = args.cache_age_secs;
    node.cache.mode = CacheMode::Off;
    node.strategy = match args.strategy {
        StrategyArg::Flood => Strategy::Flood,
        StrategyArg::FloodCache => {
            node.cache.mode = args.cache_mode;
            Strategy::Flood
        }
        // A round has to wait for the farthest hit to come back: a round trip at full TTL.
        StrategyArg::Ring => Strategy::ExpandingRing {
            wait_ms: (2.0 * f64::from(args.ttl) * hop_ms).ceil().max(1.0) as u64,
        },
        StrategyArg::Walk(k) => Strategy::RandomWalk {
            walkers: k,
            check_every: 4,
        },
    };
    config
}

fn scenario(args: &Args) -> Result<Scenario, Box<dyn std::error::Error>> {
    let (graph, topology_config, names) = match (&args.topology, &args.gen) {
        (Some(path), _) => {
            let topology = load::load(path)?;
            (topology.graph, topology.config, Some(topology.names))
        }
        (None, Some(spec)) => (GenSpec::parse(spec)?.generate(args.seed)?, None, None),
        (None, None) => return Err("give --topology FILE or --gen SPEC".into()),
    };
    if graph.node_count() == 0 {
        return Err("the topology has no peers".into());
    }
    let generated_workload_asked = args.workload.is_some() || args.replicas.is_some();
    if let Some(config) = topology_config.as_ref() {
        if !config.workload.is_empty() && !generated_workload_asked {
            return Ok(from_config(config, graph, names));
        }
    }
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
    let workload = Workload::generate(&spec, graph.node_count(), args.seed)?;
    let placement = placement_of(&workload);
    let queries = workload
        .queries
        .iter()
        .map(|q| PlannedQuery {
            at: q.at.time(),
            origin: q.origin,
            words: q.words.clone(),
            sha1: None,
            ttl: args.ttl,
        })
        .collect();
    let config_latency_ms = topology_config.and_then(|c| c.defaults.latency_ms);
    Ok(Scenario {
        graph,
        placement,
        queries,
        names,
        config_latency_ms,
    })
}

/// A topology config's own files and workload (synthetic files keep the URN the live
/// network would compute for them; shared folders are not read by the simulator).
fn from_config(config: &TopologyConfig, graph: Graph, names: Option<Vec<String>>) -> Scenario {
    let seed = config.defaults.seed;
    let mut placement = Placement::new();
    for (i, peer) in config.peers.iter().enumerate() {
        if peer.share.files.is_empty() {
            continue;
        }
        let files = peer
            .share
            .files
            .iter()
            .map(|f| SimFile {
                name: f.name.clone(),
                size: f.size,
                sha1: synthetic::sha1_of(seed, &f.name, f.size),
            })
            .collect();
        placement.insert(i as u32, files);
    }
    let queries = config
        .workload
        .queries
        .iter()
        .filter_map(|q| {
            Some(PlannedQuery {
                at: Time::from_millis(q.at_ms),
                origin: config.peer_index(&q.from)? as u32,
                words: q.words.clone(),
                sha1: None,
                ttl: config.ttl_of(q),
            })
        })
        .collect();
    Scenario {
        graph,
        placement,
        queries,
        names,
        config_latency_ms: config.defaults.latency_ms,
    }
}
