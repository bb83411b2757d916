//! Watts–Strogatz small worlds: a ring lattice (high clustering, long paths) whose links
//! are rewired with probability beta, which shortens paths long before it destroys
//! clustering. Useful to see how flooding cost follows path length and clustering.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{edge_key, EdgeSet, GenError};

/// Each node links to its k/2 nearest neighbours on each side; then every lattice link
/// (u, u+j) is, with probability beta, moved to (u, w) for a uniform w that is neither u
/// nor already linked to u (as networkx's `watts_strogatz_graph`). Mean degree stays k.
pub fn watts_strogatz(
    n: u32,
    k: u32,
    beta: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(u32, u32)>, GenError> {
    if k % 2 != 0 || k == 0 {
        return Err(GenError::value(
            "k",
            format!("{k} must be even and at least 2"),
        ));
    }
    if k >= n {
        return Err(GenError::value(
            "k",
            format!("{k} must be less than n = {n}"),
        ));
    }
    if !(0.0..=1.0).contains(&beta) || beta.is_nan() {
        return Err(GenError::value(
            "beta",
            format!("{beta} is not a probability in [0, 1]"),
        ));
    }
    super::check_link_budget(u64::from(n) * u64::from(k) / 2)?;
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(n as usize * k as usize / 2);
    for j in 1..=k / 2 {
        for u in 0..n {
            edges.push((u, (u + j) % n));
        }
    }
    let mut set = EdgeSet::with_capacity_and_hasher(edges.len(), Default::default());
    for &(a, b) in &edges {
        set.insert(edge_key(a, b));
    }
    let mut degree = vec![k; n as usize];
    for e in edges.iter_mut() {
        if rng.gen::<f64>() >= beta {
            continue;
        }
        let (u, v) = *e;
        if degree[u as usize] >= n - 1 {
            continue;
        }
        let w = loop {
            let w = rng.gen_range(0..n);
            if w != u && !set.contains(&edge_key(u, w)) {
                break w;
            }
        };
        set.remove(&edge_key(u, v));
        set.insert(edge_key(u, w));
        degree[v as usize] -= 1;
        degree[w as usize] += 1;
        *e = (u, w);
    }
    Ok(edges)
}
