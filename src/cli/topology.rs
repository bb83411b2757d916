//! `gnutella topology gen|stats`: write generated networks as topology configs that
//! `launch` and `sim` load, and print the shape of any topology file.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use gnutella::sim::memory;
use gnutella::topology::graph_export::{self, GraphFormat};
use gnutella::topology::stats::{Stats, StatsOptions};

use super::memory_check::check_memory;
use super::progress;
use gnutella::topology::{self, ConfigOptions, Defaults, GenSpec, Graph, LatencySpec};

const GEN_EXAMPLES: &str = "\
Kinds and keys (KIND:key=value,...):
  ring:n  line:n  star:n  complete:n  grid:w,h (or n)  torus:w,h (or n)  tree:n,k=2
  random:n,d=4 (mean degree)  gnp:n,p  regular:n,d=4  ba:n,m=2  ws:n,k=4,beta=0.1
  plrg:n,exp=2.1,min=1,max=n^(1/exp)
  two-tier:n,up=0.1 (share or count of ultrapeers),leaf_links=3,up_degree=10

Examples:
  gnutella topology gen ring:n=16 --out ring-16.json
  gnutella topology gen tree:n=364,k=3 --seed 7 --out tree.json
  gnutella topology gen random:n=1000,d=4 --seed 1 --port-zero --out random-1000.json
  gnutella topology gen ba --nodes 100000 --m 2 --port-zero --out ba.json
  gnutella topology gen ws --nodes 1000 --param k=6 --param beta=0.2 --out ws.json
  gnutella topology gen grid:w=5,h=5 --base-port 7000 --latency-ms 20 --out grid.json";

const STATS_EXAMPLES: &str = "\
Examples:
  gnutella topology stats topology-configs/quickstart.json
  gnutella topology stats data/topologies/p2p-Gnutella08.txt --json
  gnutella topology stats --gen ba:n=1000000,m=2 --seed 3
      about 5 s: most of it breadth-first searches for the distance estimates (a bar
      shows them on a terminal; --quiet hides it)";

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate a topology and write it as a topology config.
    #[command(after_help = GEN_EXAMPLES)]
    Gen(Box<GenArgs>),
    /// Print statistics of a topology (config or SNAP edge list).
    #[command(after_help = STATS_EXAMPLES)]
    Stats(StatsArgs),
    /// Write a topology (config or SNAP edge list) for graph tools: GraphML, GEXF or DOT.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
}

const EXPORT_EXAMPLES: &str = "\
Examples:
  gnutella topology export topology-configs/quickstart.json --format graphml
      to standard output: GraphML for yEd, Gephi, NetworkX (nx.read_graphml) or igraph
  gnutella topology export data/topologies/p2p-Gnutella08.txt --format gexf --out /tmp/g08.gexf
  gnutella topology export topology-configs/tree-31.json --format dot --out /tmp/tree.dot
      Graphviz: `dot -Tsvg /tmp/tree.dot`, or `sfdp` for large graphs
  gnutella sim --topology topology-configs/quickstart.json --trace flood.jsonl
  gnutella topology export topology-configs/quickstart.json --format gexf --trace flood.jsonl --out flood.gexf
      the first traced query's flood as node attributes (--query GUID for another):
      colour the nodes by first_hop in Gephi
Nodes carry their name and, from a config, their address and the number of synthetic
files it lists; with --trace also first_hop (the hop at which the query first reached
them, absent where it never did), origin and holder (answered from its own files);
edges carry their latency when the topology gives one.";

/// A graph file format of `gnutella topology export`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ExportFormat {
    Graphml,
    Gexf,
    Dot,
}

/// Arguments of `gnutella topology export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A topology config (JSON) or a SNAP edge list.
    pub file: PathBuf,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where to write it (standard output when absent).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// A flood trace (`--trace` of sim, launch or demo) of this topology: its query's
    /// first hop, origin and holders become node attributes (peers matched by name).
    #[arg(long, value_name = "TRACE.jsonl")]
    pub trace: Option<PathBuf>,
    /// The traced query to mark (32 hex digits; default: the trace's first query).
    #[arg(long, value_name = "GUID", requires = "trace")]
    pub query: Option<String>,
}

/// Arguments of `gnutella topology gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// `KIND:key=value,...` (e.g. `random:n=1000,d=4`), or just `KIND` with `--nodes`
    /// and parameters as flags.
    pub spec: String,
    /// Number of nodes (`n`).
    #[arg(long, short = 'n')]
    pub nodes: Option<String>,
    /// Any generator key, repeatable: `--param k=3`.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Degree (`d`) of random and regular graphs.
    #[arg(long, short = 'd')]
    pub degree: Option<String>,
    /// Links per new node (`m`) of Barabási–Albert graphs.
    #[arg(long)]
    pub m: Option<String>,
    /// Branching of trees, neighbours of Watts–Strogatz lattices (`k`).
    #[arg(long)]
    pub k: Option<String>,
    /// Link probability (`p`) of G(n,p).
    #[arg(long)]
    pub p: Option<String>,
    /// Rewiring probability (`beta`) of Watts–Strogatz graphs.
    #[arg(long)]
    pub beta: Option<String>,
    /// Power-law exponent (`exp`) of PLRG graphs.
    #[arg(long)]
    pub exp: Option<String>,
    /// Grid and torus width (`w`).
    #[arg(long)]
    pub width: Option<String>,
    /// Grid and torus height (`h`).
    #[arg(long)]
    pub height: Option<String>,
    /// Seed of the generator; also written as the config's `defaults.seed`.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the config (standard output when absent).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// First listening port; peer i gets base+i (so at most 65536-base peers: for more,
    /// --port-zero).
    #[arg(long, default_value_t = 6346)]
    pub base_port: u16,
    /// Give every peer port 0 (the launcher picks free ports).
    #[arg(long, conflicts_with = "base_port")]
    pub port_zero: bool,
    /// Address every peer listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: Ipv4Addr,
    /// The config's name (default: the spec).
    #[arg(long)]
    pub name: Option<String>,
    /// Default one-way link latency in milliseconds (`defaults.latency_ms`).
    #[arg(long)]
    pub latency_ms: Option<f64>,
    /// Default fraction of messages lost on a link, 0 to 1 (`defaults.loss`).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Default query TTL written to the config, 1 to 255.
    #[arg(long, value_parser = gnutella::validate::parse_ttl)]
    pub ttl: Option<u8>,
    /// Generate even when the memory estimate is larger than the memory available.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `gnutella topology stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// A topology config (JSON) or a SNAP edge list.
    #[arg(required_unless_present = "gen", conflicts_with = "gen")]
    pub file: Option<PathBuf>,
    /// Generate the graph from a spec instead of reading a file.
    #[arg(long, value_name = "SPEC")]
    pub gen: Option<String>,
    /// Seed of `--gen` and of the samples behind estimates.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Compute the diameter exactly (a BFS from every node) however large the graph.
    #[arg(long)]
    pub exact: bool,
    /// Generate even when the memory estimate is larger than the memory available.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cmd: Command) -> Result<(), Box<dyn std::error::Error>> {
    match cmd {
        Command::Gen(args) => run_gen(*args),
        Command::Stats(args) => run_stats(args),
        Command::Export(args) => run_export(args),
    }
}

fn run_export(args: ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(out) = &args.out {
        gnutella::validate::check_output_file(out).map_err(|e| format!("--out: {e}"))?;
    }
    let topology = progress::with_spinner(format!("loading {}", args.file.display()), || {
        topology::load(&args.file)
    })?;
    let format = match args.format {
        ExportFormat::Graphml => GraphFormat::Graphml,
        ExportFormat::Gexf => GraphFormat::Gexf,
        ExportFormat::Dot => GraphFormat::Dot,
    };
    let flood = match &args.trace {
        Some(path) => Some(flood_attributes(&topology, path, args.query.as_deref())?),
        None => None,
    };
    let text = graph_export::export_with(&topology, format, flood.as_ref());
    match &args.out {
        Some(path) => gnutella::experiment::atomic_write(path, text)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// The marks of the traced query on `topology`'s nodes: trace peers are matched to nodes
/// by name; a trace with no peer of the topology is refused.
fn flood_attributes(
    topology: &topology::Topology,
    path: &std::path::Path,
    query: Option<&str>,
) -> Result<graph_export::FloodAttributes, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(path).map_err(|e| format!("--trace {}: {e}", path.display()))?;
    let trace = gnutella::trace::read_trace(std::io::BufReader::new(file))
        .map_err(|e| format!("--trace {}: {e}", path.display()))?;
    let marks = gnutella::trace::flood_marks(&trace, query)
        .map_err(|e| format!("--trace {}: {e}", path.display()))?;
    let n = topology.graph.node_count();
    let name_of = |i: usize| {
        topology
            .names
            .get(i)
            .cloned()
            .unwrap_or_else(|| i.to_string())
    };
    let index: std::collections::HashMap<String, usize> = (0..n).map(|i| (name_of(i), i)).collect();
    let mut flood = graph_export::FloodAttributes {
        first_hop: vec![None; n],
        origin: vec![false; n],
        holder: vec![false; n],
    };
    let mut matched = 0usize;
    for (t, peer) in trace.header.peers.iter().enumerate() {
        let Some(&i) = index.get(&peer.id) else {
            continue;
        };
        matched += 1;
        flood.first_hop[i] = marks.first_hop.get(t).copied().flatten();
        flood.origin[i] = marks.origin == Some(t as u32);
        flood.holder[i] = marks.holder.get(t).copied().unwrap_or(false);
    }
    if matched == 0 {
        return Err(format!(
            "--trace {}: none of its {} peers is a node of {} (peers are matched by name)",
            path.display(),
            trace.header.peers.len(),
            topology.graph.node_count()
        )
        .into());
    }
    if matched < trace.header.peers.len() {
        eprintln!(
            "note: {} of the trace's {} peers are not nodes of this topology",
            trace.header.peers.len() - matched,
            trace.header.peers.len()
        );
    }
    eprintln!(
        "marked query {} ({} peers reached)",
        marks.guid,
        flood
            .first_hop
            .iter()
            .filter(|h| h.is_some_and(|h| h > 0))
            .count()
    );
    Ok(flood)
}

/// Turns the `KIND[:k=v,...]` argument and the flags into one spec.
fn spec_of(args: &GenArgs) -> Result<GenSpec, Box<dyn std::error::Error>> {
    let (kind, rest) = args.spec.split_once(':').unwrap_or((&args.spec, ""));
    let mut params: Vec<(String, String)> = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        params.push(key_value(part)?);
    }
    for part in &args.params {
        params.push(key_value(part)?);
    }
    let flags = [
        ("n", &args.nodes),
        ("d", &args.degree),
        ("m", &args.m),
        ("k", &args.k),
        ("p", &args.p),
        ("beta", &args.beta),
        ("exp", &args.exp),
        ("w", &args.width),
        ("h", &args.height),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            params.push((key.to_string(), v.clone()));
        }
    }
    Ok(GenSpec::from_parts(kind, &params)?)
}

fn key_value(part: &str) -> Result<(String, String), String> {
    part.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("\"{part}\" is not KEY=VALUE"))
}

fn run_gen(args: GenArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec = spec_of(&args)?;
    if let Some(path) = &args.out {
        gnutella::validate::check_output_file(path).map_err(|e| format!("--out: {e}"))?;
    }
    let graph = generate(&spec, args.seed, args.force)?;
    let mut defaults = Defaults {
        seed: args.seed,
        latency_ms: args.latency_ms.map(LatencySpec::Fixed),
        loss: args.loss,
        ..Defaults::default()
    };
    if let Some(ttl) = args.ttl {
        defaults.ttl = ttl;
    }
    let options = ConfigOptions {
        name: args.name.clone().unwrap_or_else(|| spec.to_string()),
        host: args.host,
        base_port: if args.port_zero {
            None
        } else {
            Some(args.base_port)
        },
        defaults,
    };
    let json = progress::with_spinner("writing the config", || {
        let config = graph.to_config(&options)?;
        config.validate()?;
        Ok::<_, Box<dyn std::error::Error>>(config.to_json_pretty())
    })?;
    match &args.out {
        Some(path) => {
            gnutella::experiment::atomic_write(path, json + "\n")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!(
                "wrote {}: {} ({} peers, {} links, seed {})",
                path.display(),
                spec,
                graph.node_count(),
                graph.link_count(),
                args.seed
            );
        }
        None => write_stdout(&(json + "\n"))?,
    }
    Ok(())
}

/// Generates `spec` under a spinner, after checking that the graph fits in memory.
fn generate(spec: &GenSpec, seed: u64, force: bool) -> Result<Graph, Box<dyn std::error::Error>> {
    let (nodes, links) = (u64::from(spec.node_count()), spec.link_estimate());
    check_memory(
        memory::graph_bytes(nodes, links),
        "generating this graph",
        force,
    )?;
    let message = format!("generating {spec} ({nodes} nodes, about {links} links)");
    Ok(progress::with_spinner(message, || spec.generate(seed))?)
}

fn run_stats(args: StatsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let graph: Graph = match (&args.gen, &args.file) {
        (Some(spec), _) => {
            let spec = GenSpec::parse(spec)?;
            let started = std::time::Instant::now();
            let graph = generate(&spec, args.seed, args.force)?;
            eprintln!(
                "generated {spec} (seed {}) in {:.2} s",
                args.seed,
                started.elapsed().as_secs_f64()
            );
            graph
        }
        (None, Some(file)) => {
            progress::with_spinner(format!("loading {}", file.display()), || {
                topology::load(file)
            })?
            .graph
        }
        (None, None) => return Err("give a topology FILE or --gen SPEC".into()),
    };
    let options = StatsOptions {
        seed: args.seed,
        exact_diameter_work: if args.exact {
            u64::MAX
        } else {
            StatsOptions::default().exact_diameter_work
        },
        ..StatsOptions::default()
    };
    let bar = progress::bar(1, "searches");
    bar.set_message("degrees and components");
    let mut phase = "";
    let stats = Stats::of_with_progress(&graph, &options, &mut |p| {
        if p.phase != phase {
            phase = p.phase;
            bar.reset();
            bar.set_length(p.total);
            bar.set_message(p.phase);
        }
        bar.set_position(p.done);
    });
    bar.finish_and_clear();
    let text = if args.json {
        serde_json::to_string_pretty(&stats)? + "\n"
    } else {
        stats.to_string()
    };
    write_stdout(&text)
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn write_stdout(text: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
