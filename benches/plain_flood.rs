//! Baseline for the simulator's scale benchmark (scripts/bench-sim.sh): the cheapest
//! correct flood, a breadth-first wave over the topology's CSR arrays with a seen bitmap,
//! on the very graph `gnutella sim --gen SPEC --seed S` builds.
//!
//! It follows Gnutella's forwarding rule (a peer passes the first copy to every neighbour
//! but the sender; later copies are duplicates) so its message and reach counts must equal
//! the simulator's for a constant-latency flood: the ratio of their times is the price of
//! running the real routing code in an event-driven simulator.
//!
//! `cargo bench --bench plain_flood -- SPEC SEED ORIGIN TTL`
//! (defaults: random:n=1000000,d=4 1 0 255)
//!
//! `cargo bench --bench plain_flood -- SPEC SEED --edges-out FILE` writes the generated
//! graph's links instead, for the C baseline (benches/plain_flood.c): "GNE1", u32 nodes,
//! u64 links, then each link as two u32 (little-endian), ascending.
//!
//! `... --queries-out FILE --files F --replicas R --queries Q` (with or without
//! `--edges-out`) also writes the queries `gnutella sim --gen SPEC --seed SEED --files F
//! --replicas R --queries Q` plans, from the same workload generator, for the Gnutella floor
//! (benches/gnutella_floor.c): one line per query, its origin then the peers holding the
//! file it asks for (defaults: 100 files, 10 replicas, 100 queries, the simulator's).

use std::time::Instant;

use gnutella::experiment::workload::{Workload, WorkloadSpec};
use gnutella::topology::GenSpec;

struct Flood {
    messages: u64,
    duplicates: u64,
    reached: u64,
}

fn flood(offsets: &[usize], neighbours: &[u32], origin: u32, ttl: u8) -> Flood {
    let n = offsets.len() - 1;
    let mut seen = vec![false; n];
    let mut result = Flood {
        messages: 0,
        duplicates: 0,
        reached: 0,
    };
    if origin as usize >= n {
        return result;
    }
    seen[origin as usize] = true;
    let mut frontier: Vec<(u32, u32)> = vec![(origin, u32::MAX)];
    let mut next = Vec::new();
    for _ in 0..ttl {
        for &(node, sender) in &frontier {
            let node = node as usize;
            for &v in &neighbours[offsets[node]..offsets[node + 1]] {
                if v == sender {
                    continue;
                }
                result.messages += 1;
                let slot = &mut seen[v as usize];
                if *slot {
                    result.duplicates += 1;
                } else {
                    *slot = true;
                    result.reached += 1;
                    next.push((v, node as u32));
                }
            }
        }
        if next.is_empty() {
            break;
        }
        std::mem::swap(&mut frontier, &mut next);
        next.clear();
    }
    result
}

/// Writes the graph's links in the binary form benches/plain_flood.c reads.
fn write_edges(graph: &gnutella::topology::Graph, path: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"GNE1")?;
    out.write_all(&(graph.node_count() as u32).to_le_bytes())?;
    out.write_all(&(graph.link_count() as u64).to_le_bytes())?;
    for (a, b) in graph.links() {
        out.write_all(&a.to_le_bytes())?;
        out.write_all(&b.to_le_bytes())?;
    }
    out.flush()
}

/// Writes the simulator's planned queries for `spec` as benches/gnutella_floor.c reads
/// them: per query its origin, then the peers holding the file it asks for.
fn write_queries(
    spec: &WorkloadSpec,
    peers: usize,
    seed: u64,
    path: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    let workload = Workload::generate(spec, peers, seed)?;
    let mut holders = vec![Vec::new(); workload.catalogue.len()];
    for (peer, files) in workload.holdings.iter().enumerate() {
        for &file in files {
            holders[file].push(peer);
        }
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for query in &workload.queries {
        write!(out, "{}", query.origin)?;
        for peer in query.target.map_or(&[][..], |file| &holders[file]) {
            write!(out, " {peer}")?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

fn main() {
    // `cargo bench` passes `--bench`; keep only our positional arguments.
    let all: Vec<String> = std::env::args().skip(1).collect();
    // Flags with a value; every other argument not starting with `--` is positional.
    let valued = [
        "--edges-out",
        "--queries-out",
        "--files",
        "--replicas",
        "--queries",
    ];
    let flag = |name: &str| {
        all.iter()
            .position(|a| a == name)
            .and_then(|i| all.get(i + 1).cloned())
    };
    let edges_out = flag("--edges-out");
    let queries_out = flag("--queries-out");
    let count = |name: &str, default: usize| match flag(name) {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            eprintln!("error: {name} takes a number, not {text}");
            std::process::exit(1);
        }),
    };
    let workload = WorkloadSpec {
        files: count("--files", 100),
        queries: count("--queries", 100),
        ..WorkloadSpec::with_replicas(count("--replicas", 10), 0)
    };
    let args: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|&(i, a)| {
            !a.starts_with("--") && (i == 0 || !valued.contains(&all[i - 1].as_str()))
        })
        .map(|(_, a)| a.clone())
        .collect();
    let spec = args.first().map_or("random:n=1000000,d=4", String::as_str);
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let origin: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let ttl: u8 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(255);

    let started = Instant::now();
    let graph = match GenSpec::parse(spec).and_then(|g| g.generate(seed)) {
        Ok(graph) => graph,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let generated = started.elapsed();
    if let Some(path) = &queries_out {
        if let Err(e) = write_queries(&workload, graph.node_count(), seed, path) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
    if let Some(path) = &edges_out {
        if let Err(e) = write_edges(&graph, path) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }
    if edges_out.is_some() || queries_out.is_some() {
        return;
    }
    let (offsets, neighbours) = graph.csr();
    let flood_start = Instant::now();
    let result = flood(offsets, neighbours, origin, ttl);
    let flooded = flood_start.elapsed();
    println!(
        "plain_flood spec={spec} seed={seed} origin={origin} ttl={ttl} nodes={} links={}",
        graph.node_count(),
        graph.link_count()
    );
    println!(
        "messages={} duplicates={} peers_reached={}",
        result.messages, result.duplicates, result.reached
    );
    println!(
        "generate_s={:.3} flood_s={:.4} total_s={:.3}",
        generated.as_secs_f64(),
        flooded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
