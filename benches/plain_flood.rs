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

use std::time::Instant;

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

fn main() {
    // `cargo bench` passes `--bench`; keep only our positional arguments.
    let all: Vec<String> = std::env::args().skip(1).collect();
    let edges_out = all
        .iter()
        .position(|a| a == "--edges-out")
        .and_then(|i| all.get(i + 1).cloned());
    let args: Vec<String> = all
        .iter()
        .filter(|a| !a.starts_with("--") && Some(*a) != edges_out.as_ref())
        .cloned()
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
    if let Some(path) = edges_out {
        if let Err(e) = write_edges(&graph, &path) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1);
        }
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
