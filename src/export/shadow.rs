//! `gnutella export shadow`: a topology config as a Shadow simulation of real peers.
//!
//! [Shadow](https://shadow.github.io) runs unmodified Linux binaries over a simulated
//! network, deterministically. The export gives every peer of the config a Shadow host
//! with a fixed IP running `gnutella peer` with its share, its identity (`--seed` and
//! `--index`, as `launch` and `sim` derive it), its routing settings and its neighbours;
//! the workload runs in the origin peers themselves (`--search-at`), so a search starts
//! at the config's peer with the config's TTL, exactly as in `launch` and `sim` (a separate
//! searcher host would add a hop that every relay's `max_ttl` would then trim). Each peer
//! is stopped with SIGTERM once the workload has settled and prints its `counters` line,
//! which `gnutella report shadow` sums into the report.
//!
//! The network graph carries the config's [`LinkModel`]: when every link has the same
//! latency and loss, one vertex with a self-loop holds all hosts (Shadow then has one path
//! to compute, so tens of thousands of peers fit); otherwise every peer gets its own vertex
//! and every config link an edge. Shadow routes by shortest path, so an edge is what its
//! peers see only if no detour through other peers is faster: the export checks that and
//! says so. Pitfalls met running the real binary under Shadow 3.3 are avoided here: GML
//! blocks one key per line, explicit IPs, explicit seeds (Shadow's clock starts in 2000),
//! absolute paths.

use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::experiment::atomic_write;
use crate::node::{OverlayMode, Strategy};
use crate::topology::{BootstrapHost, LinkModel, Scenario, TopologyConfig, DEFAULT_LATENCY_MS};

/// When the first peer starts, in ms of Shadow's clock (Shadow's own start-up first).
pub const PEERS_START_MS: u64 = 1000;
/// Between two peers' starts: peer `i` dials its lower-numbered neighbours, which are
/// then already listening.
pub const STAGGER_MS: u64 = 1;
/// The port of peers whose config address has port 0.
pub const DEFAULT_PORT: u16 = 6346;
/// Bandwidth of every host, high enough that sending a descriptor adds next to nothing
/// (the simulator models no bandwidth).
const BANDWIDTH: &str = "1 Gbit";
/// Latency of the self-loop of a peer's own vertex (used by nothing the export starts;
/// Shadow requires one per vertex).
const SELF_LOOP_NS: u64 = 1_000_000;
/// How long peers get between SIGTERM and the end of the simulation to print their
/// counts and close their links.
const SHUTDOWN_MS: u64 = 10_000;

/// What the export needs besides the config.
#[derive(Clone, Debug)]
pub struct ShadowOptions {
    /// Absolute path of the `gnutella` binary the hosts run.
    pub binary: PathBuf,
    /// Absolute path of the folder the files go to.
    pub out: PathBuf,
    /// Time from the last peer's start to the workload's time 0; `None`: 5 s or 10 times
    /// the largest link latency, whichever is longer.
    pub warmup_ms: Option<u64>,
    /// Time from the last search's start until the peers are stopped; `None`: 5 s or
    /// 4 × TTL × the largest link latency (plus the rounds of an expanding ring).
    pub settle_ms: Option<u64>,
}

/// Why a config could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("peer \"{peer}\": shared folder {path}: {source}")]
    ShareDir {
        peer: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("peer \"{peer}\": the synthetic file \"{name}\" has the name of a file in its shared folder")]
    NameClash { peer: String, name: String },
    #[error("{what} must be an absolute path, not {}", path.display())]
    NotAbsolute { what: &'static str, path: PathBuf },
    #[error("the config has {0} peers: more than the IPv4 addresses the export hands out")]
    TooManyPeers(usize),
}

/// A host of the simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Shadow's host name (the peer's id when it is a valid host name).
    pub name: String,
    pub ip: Ipv4Addr,
    pub port: u16,
    /// The GML vertex the host is attached to.
    pub vertex: usize,
    /// When the process starts, in ms of Shadow's clock.
    pub start_ms: u64,
}

/// What the export wrote, for the command to tell.
#[derive(Clone, Debug, Default)]
pub struct Exported {
    pub hosts: usize,
    pub vertices: usize,
    pub edges: usize,
    pub synthetic_files: usize,
    pub searches: usize,
    pub stop_ms: u64,
    /// Things the user should know (links Shadow will route around, loss under TCP, ...).
    pub notes: Vec<String>,
}

/// The export: file contents and the files to materialise, computed before anything is
/// written.
struct Plan {
    hosts: Vec<Host>,
    yaml: String,
    gml: String,
    vertices: usize,
    edges: usize,
    searches: usize,
    stop_ms: u64,
    notes: Vec<String>,
}

/// Writes `shadow.yaml`, `network.gml`, routing files and materialised shares of
/// `config` into `options.out`.
pub fn export(config: &TopologyConfig, options: &ShadowOptions) -> Result<Exported, ExportError> {
    for (what, path) in [("--binary", &options.binary), ("--out", &options.out)] {
        if !path.is_absolute() {
            return Err(ExportError::NotAbsolute {
                what,
                path: path.clone(),
            });
        }
    }
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|source| ExportError::Write {
        path: out.clone(),
        source,
    })?;
    let scenario = Scenario::from_config(config);
    let hosts = hosts_of(config)?;
    let shares = write_shares(config, &hosts, out)?;
    let routing = write_routing(&scenario, &hosts, out)?;
    let plan = plan(config, &scenario, hosts, &shares, &routing, options);
    let write = |name: &str, text: &str| {
        let path = out.join(name);
        atomic_write(&path, text).map_err(|source| ExportError::Write { path, source })
    };
    write("network.gml", &plan.gml)?;
    write("shadow.yaml", &plan.yaml)?;
    Ok(Exported {
        hosts: plan.hosts.len(),
        vertices: plan.vertices,
        edges: plan.edges,
        synthetic_files: config.peers.iter().map(|p| p.share.files.len()).sum(),
        searches: plan.searches,
        stop_ms: plan.stop_ms,
        notes: plan.notes,
    })
}

/// A host per peer: names, addresses, start times (vertices are set by the graph).
fn hosts_of(config: &TopologyConfig) -> Result<Vec<Host>, ExportError> {
    let mut taken: std::collections::HashSet<String> = config
        .peers
        .iter()
        .filter(|p| is_host_name(&p.id))
        .map(|p| p.id.clone())
        .collect();
    let mut hosts = Vec::with_capacity(config.peers.len());
    let mut ip = u32::from(Ipv4Addr::new(11, 0, 0, 9));
    for (i, peer) in config.peers.iter().enumerate() {
        let name = if is_host_name(&peer.id) {
            peer.id.clone()
        } else {
            let mut name = format!("peer{i}");
            while !taken.insert(name.clone()) {
                name.push('x');
            }
            name
        };
        // Shadow skips .0 and .255 when it hands out addresses; so do we.
        loop {
            ip = ip
                .checked_add(1)
                .filter(|&a| a < u32::from(Ipv4Addr::new(100, 0, 0, 0)))
                .ok_or(ExportError::TooManyPeers(config.peers.len()))?;
            if !matches!(ip & 0xff, 0 | 255) {
                break;
            }
        }
        hosts.push(Host {
            name,
            ip: Ipv4Addr::from(ip),
            port: match peer.listen.port() {
                0 => DEFAULT_PORT,
                p => p,
            },
            vertex: 0,
            start_ms: PEERS_START_MS + i as u64 * STAGGER_MS,
        });
    }
    Ok(hosts)
}

/// A name Shadow and DNS both take as it is: lower-case letters, digits and dashes.
fn is_host_name(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Each peer's `--share` folder: its own folder (absolute) when it has only that;
/// `shares/<host>/` with its synthetic files (and a copy of its folder) otherwise.
fn write_shares(
    config: &TopologyConfig,
    hosts: &[Host],
    out: &Path,
) -> Result<Vec<Option<PathBuf>>, ExportError> {
    let seed = config.defaults.seed;
    let mut shares = Vec::with_capacity(hosts.len());
    for (i, (peer, host)) in config.peers.iter().zip(hosts).enumerate() {
        let dir = config
            .share_dir(i)
            .map(|d| {
                std::fs::canonicalize(&d).map_err(|source| ExportError::ShareDir {
                    peer: peer.id.clone(),
                    path: d.clone(),
                    source,
                })
            })
            .transpose()?;
        if peer.share.files.is_empty() {
            shares.push(dir);
            continue;
        }
        let target = out.join("shares").join(&host.name);
        let written = |source| ExportError::Write {
            path: target.clone(),
            source,
        };
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(written)?;
        }
        std::fs::create_dir_all(&target).map_err(written)?;
        if let Some(dir) = &dir {
            copy_tree(dir, &target).map_err(|source| ExportError::ShareDir {
                peer: peer.id.clone(),
                path: dir.clone(),
                source,
            })?;
        }
        for file in &peer.share.files {
            let path = target.join(&file.name);
            if path.exists() {
                return Err(ExportError::NameClash {
                    peer: peer.id.clone(),
                    name: file.name.clone(),
                });
            }
            write_synthetic(&path, file, seed).map_err(|source| ExportError::Write {
                path: path.clone(),
                source,
            })?;
        }
        shares.push(Some(target));
    }
    Ok(shares)
}

/// A synthetic file's bytes, streamed to a temporary file renamed into place.
fn write_synthetic(
    path: &Path,
    file: &crate::topology::FileSpec,
    seed: u64,
) -> std::io::Result<()> {
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(path.file_name().unwrap_or_default());
    temp_name.push(".tmp");
    let temp = path.with_file_name(temp_name);
    let result = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&temp)?);
        std::io::copy(&mut file.reader(seed), &mut out)?;
        std::io::Write::flush(&mut out)?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Copies a folder's files into `to` (hard links where the file system allows).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else if kind.is_file() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// `routing.json` for the peers that keep the defaults, `routing/<host>.json` for each
/// peer with its own settings; the path each peer reads.
fn write_routing(
    scenario: &Scenario,
    hosts: &[Host],
    out: &Path,
) -> Result<Vec<PathBuf>, ExportError> {
    let mut written: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut paths = Vec::with_capacity(hosts.len());
    for (peer, host) in scenario.peers.iter().zip(hosts) {
        let mut text = serde_json::to_string_pretty(peer.routing.as_ref()).unwrap_or_default();
        text.push('\n');
        if let Some(path) = written.get(&text) {
            paths.push(path.clone());
            continue;
        }
        let path = if written.is_empty() {
            out.join("routing.json")
        } else {
            out.join("routing").join(format!("{}.json", host.name))
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| ExportError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        atomic_write(&path, &text).map_err(|source| ExportError::Write {
            path: path.clone(),
            source,
        })?;
        written.insert(text, path.clone());
        paths.push(path);
    }
    Ok(paths)
}

/// The graph, the timeline and the hosts' processes.
fn plan(
    config: &TopologyConfig,
    scenario: &Scenario,
    mut hosts: Vec<Host>,
    shares: &[Option<PathBuf>],
    routing: &[PathBuf],
    options: &ShadowOptions,
) -> Plan {
    let model = LinkModel::of(config);
    let links: Vec<(usize, usize, u64, f64)> = config
        .links()
        .into_iter()
        .map(|(a, b)| {
            let p = model.link(a, b);
            (a, b, latency_ns(p.latency_or_default()), p.loss)
        })
        .collect();
    let mut notes = Vec::new();
    if config
        .links_with_params()
        .iter()
        .any(|l| l.2.latency_or_default() * 1e6 < 1.0)
    {
        notes.push("links of latency 0 get 1 ns: Shadow refuses edges without latency".to_string());
    }
    if links.iter().any(|l| l.3 > 0.0) {
        notes.push(
            "Shadow drops packets below TCP, which sends them again: a lossy link delays \
             messages under Shadow where sim loses them"
                .to_string(),
        );
    }
    let max_latency_ns = links
        .iter()
        .map(|l| l.2)
        .max()
        .unwrap_or_else(|| latency_ns(DEFAULT_LATENCY_MS));
    let (gml, vertices, edges) = graph(&mut hosts, &links, &mut notes);

    // Timeline.
    let max_latency_ms = max_latency_ns.div_ceil(1_000_000);
    let last_start = hosts.last().map_or(PEERS_START_MS, |h| h.start_ms);
    let warmup = options
        .warmup_ms
        .unwrap_or_else(|| (10 * max_latency_ms).max(5000));
    let workload_start = last_start + warmup;
    let last_search = workload_start
        + config
            .workload
            .queries
            .iter()
            .map(|q| q.at_ms)
            .max()
            .unwrap_or(0);
    let settle = options.settle_ms.unwrap_or_else(|| {
        let ttl = scenario.queries.iter().map(|q| q.ttl).max().unwrap_or(0) as u64;
        let ring: u64 = scenario
            .peers
            .iter()
            .filter_map(|p| match p.routing.strategy {
                Strategy::ExpandingRing { wait_ms } => Some(wait_ms * ttl),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        (4 * ttl * max_latency_ms).max(5000) + ring
    });
    let shutdown_ms = last_search + settle;
    let stop_ms = shutdown_ms + SHUTDOWN_MS;

    let mut searches: Vec<Vec<String>> = vec![Vec::new(); hosts.len()];
    for q in &config.workload.queries {
        let Some(origin) = config.peer_index(&q.from) else {
            continue;
        };
        if let (Some(list), Some(host)) = (searches.get_mut(origin), hosts.get(origin)) {
            let at = workload_start + q.at_ms - host.start_ms;
            list.push(format!("{at}:{}:{}", config.ttl_of(q), q.words));
        }
    }
    let mut yaml = String::new();
    let _ = writeln!(
        yaml,
        "# Written by `gnutella export shadow` from the topology config \"{}\".\n\
         # Run: shadow {}   then: gnutella report shadow {}",
        config.name,
        options.out.join("shadow.yaml").display(),
        options.out.join("shadow.data").display()
    );
    let _ = writeln!(yaml, "general:");
    let _ = writeln!(yaml, "  stop_time: {stop_ms} ms");
    let _ = writeln!(yaml, "  seed: {}", config.defaults.seed);
    let _ = writeln!(yaml, "  model_unblocked_syscall_latency: true");
    let _ = writeln!(
        yaml,
        "  data_directory: {}",
        quote(&options.out.join("shadow.data").display().to_string())
    );
    let _ = writeln!(yaml, "network:\n  graph:\n    type: gml\n    file:");
    let _ = writeln!(
        yaml,
        "      path: {}",
        quote(&options.out.join("network.gml").display().to_string())
    );
    let _ = writeln!(yaml, "hosts:");
    let binary = quote(&options.binary.display().to_string());
    let adjacency = adjacency(config.peers.len(), &links);
    for (i, host) in hosts.iter().enumerate() {
        let mut args: Vec<String> = vec![
            "peer".into(),
            "--listen".into(),
            format!("0.0.0.0:{}", host.port),
            "--seed".into(),
            config.defaults.seed.to_string(),
            "--index".into(),
            i.to_string(),
            "--routing".into(),
            routing[i].display().to_string(),
            "--max-links".into(),
            (adjacency[i].len() + 1).max(32).to_string(),
        ];
        if let Some(dir) = &shares[i] {
            args.push("--share".into());
            args.push(dir.display().to_string());
        }
        for &j in adjacency[i].iter().filter(|&&j| j < i) {
            args.push("--connect".into());
            args.push(format!("{}:{}", hosts[j].ip, hosts[j].port));
        }
        overlay_args(config, scenario, &hosts, i, &mut args);
        for s in &searches[i] {
            args.push("--search-at".into());
            args.push(s.clone());
        }
        args.push("--json-counters".into());
        let _ = writeln!(yaml, "  {}:", host.name);
        let _ = writeln!(yaml, "    network_node_id: {}", host.vertex);
        let _ = writeln!(yaml, "    ip_addr: {}", host.ip);
        let _ = writeln!(yaml, "    processes:");
        let _ = writeln!(yaml, "    - path: {binary}");
        let _ = writeln!(yaml, "      args:");
        for a in &args {
            let _ = writeln!(yaml, "      - {}", quote(a));
        }
        let _ = writeln!(yaml, "      start_time: {} ms", host.start_ms);
        let _ = writeln!(yaml, "      shutdown_time: {shutdown_ms} ms");
        let _ = writeln!(yaml, "      shutdown_signal: SIGTERM");
        let _ = writeln!(yaml, "      expected_final_state:\n        exited: 0");
    }
    Plan {
        hosts,
        yaml,
        gml,
        vertices,
        edges,
        searches: scenario.queries.len(),
        stop_ms,
        notes,
    }
}

/// A dynamic overlay's flags: its degree policy and bootstrap hosts (static configs say
/// so, so that no saved host file turns a peer dynamic).
fn overlay_args(
    config: &TopologyConfig,
    scenario: &Scenario,
    hosts: &[Host],
    i: usize,
    args: &mut Vec<String>,
) {
    if scenario.overlay.mode != OverlayMode::Dynamic {
        args.extend(["--overlay".into(), "static".into()]);
        return;
    }
    args.extend([
        "--overlay".into(),
        "dynamic".into(),
        "--min-degree".into(),
        config.overlay.min_degree.to_string(),
        "--max-degree".into(),
        config.overlay.max_degree.to_string(),
        // In the host's own folder of Shadow's data directory.
        "--hosts-file".into(),
        "peer.hosts".into(),
    ]);
    for b in &scenario.bootstrap {
        let addr = match *b {
            BootstrapHost::Peer(j) if j == i => continue,
            BootstrapHost::Peer(j) => match hosts.get(j) {
                Some(h) => format!("{}:{}", h.ip, h.port),
                None => continue,
            },
            BootstrapHost::Addr(a) => a.to_string(),
        };
        args.extend(["--bootstrap".into(), addr]);
    }
}

/// Each peer's neighbours, ascending.
fn adjacency(n: usize, links: &[(usize, usize, u64, f64)]) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); n];
    for &(a, b, _, _) in links {
        adj[a].push(b);
        adj[b].push(a);
    }
    for list in &mut adj {
        list.sort_unstable();
    }
    adj
}

/// The GML graph (and its vertex and edge counts); sets each host's vertex.
fn graph(
    hosts: &mut [Host],
    links: &[(usize, usize, u64, f64)],
    notes: &mut Vec<String>,
) -> (String, usize, usize) {
    let mut gml = String::from("graph [\n  directed 0\n");
    let node = |gml: &mut String, id: usize| {
        let _ = write!(
            gml,
            "  node [\n    id {id}\n    host_bandwidth_down \"{BANDWIDTH}\"\n    \
             host_bandwidth_up \"{BANDWIDTH}\"\n  ]\n"
        );
    };
    let edge = |gml: &mut String, a: usize, b: usize, ns: u64, loss: f64| {
        let _ = write!(
            gml,
            "  edge [\n    source {a}\n    target {b}\n    latency \"{}\"\n    \
             packet_loss {}\n  ]\n",
            latency_text(ns),
            loss_text(loss)
        );
    };
    let first = links.first().map(|l| (l.2, l.3));
    let uniform = links.iter().all(|l| Some((l.2, l.3)) == first);
    if uniform {
        // One vertex: every host on it, every path its self-loop.
        let (ns, loss) = first.unwrap_or((latency_ns(DEFAULT_LATENCY_MS), 0.0));
        node(&mut gml, 0);
        edge(&mut gml, 0, 0, ns, loss);
        gml.push_str("]\n");
        return (gml, 1, 1);
    }
    let n = hosts.len();
    for (i, host) in hosts.iter_mut().enumerate() {
        host.vertex = i;
        node(&mut gml, i);
    }
    for i in 0..n {
        edge(&mut gml, i, i, SELF_LOOP_NS, 0.0);
    }
    for &(a, b, ns, loss) in links {
        edge(&mut gml, a, b, ns, loss);
    }
    // Shadow needs a connected graph: link the components with edges slower than any
    // path through links, so that no peer's path uses one.
    let bridge_ns = links.iter().map(|l| l.2).sum::<u64>() + 1_000_000_000;
    let roots = components(n, links);
    for &root in roots.iter().skip(1) {
        edge(&mut gml, roots[0], root, bridge_ns, 0.0);
    }
    gml.push_str("]\n");
    let detours = detours(n, links);
    if detours > 0 {
        notes.push(format!(
            "{detours} links have a faster path through other peers: Shadow routes by \
             shortest path, so their messages take that path's latency and loss"
        ));
    }
    (gml, n, n + links.len() + roots.len().saturating_sub(1))
}

/// The smallest peer of each connected component, ascending.
fn components(n: usize, links: &[(usize, usize, u64, f64)]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &(a, b, _, _) in links {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    (0..n).filter(|&v| find(&mut parent, v) == v).collect()
}

/// How many links have a path through other peers shorter than themselves (a Dijkstra
/// from one end, bounded by the link's own latency).
fn detours(n: usize, links: &[(usize, usize, u64, f64)]) -> usize {
    let mut adj: Vec<Vec<(usize, u64)>> = vec![Vec::new(); n];
    for &(a, b, ns, _) in links {
        adj[a].push((b, ns));
        adj[b].push((a, ns));
    }
    let mut count = 0;
    let mut dist: Vec<u64> = vec![u64::MAX; n];
    let mut touched = Vec::new();
    for &(a, b, ns, _) in links {
        let mut heap = BinaryHeap::new();
        dist[a] = 0;
        touched.push(a);
        heap.push(std::cmp::Reverse((0u64, a)));
        let mut shorter = false;
        while let Some(std::cmp::Reverse((d, v))) = heap.pop() {
            if d >= ns {
                break;
            }
            if v == b {
                shorter = true;
                break;
            }
            if d > dist[v] {
                continue;
            }
            for &(w, l) in &adj[v] {
                // Not the link itself.
                if (v == a && w == b) || (v == b && w == a) {
                    continue;
                }
                let nd = d + l;
                if nd < dist[w] && nd < ns {
                    if dist[w] == u64::MAX {
                        touched.push(w);
                    }
                    dist[w] = nd;
                    heap.push(std::cmp::Reverse((nd, w)));
                }
            }
        }
        for v in touched.drain(..) {
            dist[v] = u64::MAX;
        }
        count += usize::from(shorter);
    }
    count
}

/// Milliseconds as whole nanoseconds, at least 1 (Shadow refuses latency 0).
fn latency_ns(ms: f64) -> u64 {
    ((ms * 1e6).round() as u64).max(1)
}

/// A latency as Shadow reads it: an integer and the largest unit that keeps it exact.
fn latency_text(ns: u64) -> String {
    if ns % 1_000_000 == 0 {
        format!("{} ms", ns / 1_000_000)
    } else if ns % 1000 == 0 {
        format!("{} us", ns / 1000)
    } else {
        format!("{ns} ns")
    }
}

/// A loss rate as a GML float: always with a decimal point, never an exponent.
fn loss_text(loss: f64) -> String {
    let text = format!("{loss:.9}");
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_string()
    }
}

/// A YAML scalar in double quotes (JSON's escapes are YAML's).
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_shadow_reads_them() {
        assert_eq!(latency_text(latency_ns(20.0)), "20 ms");
        assert_eq!(latency_text(latency_ns(12.5)), "12500 us");
        assert_eq!(latency_text(latency_ns(0.0000015)), "2 ns");
        assert_eq!(latency_text(latency_ns(0.0)), "1 ns");
        assert_eq!(loss_text(0.0), "0.0");
        assert_eq!(loss_text(1.0), "1.0");
        assert_eq!(loss_text(0.015), "0.015");
        assert_eq!(loss_text(1e-7), "0.0000001");
    }

    #[test]
    fn host_names_are_ids_when_shadow_takes_them() {
        assert!(is_host_name("p0") && is_host_name("alice-2"));
        for bad in ["P0", "a_b", "", "-x", "a.b", "ünï"] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_detour_is_found_only_when_it_is_faster() {
        // 0-1 is 100 ms, 0-2-1 is 20 ms: a detour. 2-3 has none.
        let ms = 1_000_000;
        let links = [
            (0, 1, 100 * ms, 0.0),
            (0, 2, 10 * ms, 0.0),
            (1, 2, 10 * ms, 0.0),
            (2, 3, 10 * ms, 0.0),
        ];
        assert_eq!(detours(4, &links), 1);
        assert_eq!(components(6, &links), vec![0, 4, 5]);
    }
}
