//! Uniformly random graphs: a fixed number of random links (mean degree d), G(n,p), and
//! random d-regular graphs. The textbook baselines for unstructured overlays.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{edge_key, EdgeSet, GenError};

/// G(n, m) with m = round(n·d/2): m distinct links drawn uniformly among all pairs, so
/// the mean degree is d (some nodes may be isolated when d is small, as in any G(n,m)).
pub fn random_mean_degree(
    n: u32,
    d: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(u32, u32)>, GenError> {
    let pairs = u64::from(n) * u64::from(n).saturating_sub(1) / 2;
    let target = (f64::from(n) * d / 2.0).round() as u64;
    if target > pairs {
        return Err(GenError::value(
            "d",
            format!("{d} is more than n-1 = {} allows", n.saturating_sub(1)),
        ));
    }
    super::check_link_budget(target)?;
    if target * 2 <= pairs {
        return Ok(distinct_pairs(n, target as usize, rng));
    }
    // Dense: choose the pairs to leave out instead, so sampling never crawls through
    // mostly repeated draws.
    let left_out: EdgeSet = distinct_pairs(n, (pairs - target) as usize, rng)
        .into_iter()
        .map(|(a, b)| edge_key(a, b))
        .collect();
    Ok(super::lattice::complete(n)
        .into_iter()
        .filter(|&(a, b)| !left_out.contains(&edge_key(a, b)))
        .collect())
}

/// `count` distinct uniform random pairs, `count` at most half of all pairs.
fn distinct_pairs(n: u32, count: usize, rng: &mut ChaCha8Rng) -> Vec<(u32, u32)> {
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(count + count / 16 + 16);
    // Draw what is missing, drop repeats, repeat: uniform sampling without replacement.
    while edges.len() < count {
        let missing = count - edges.len();
        for _ in 0..missing {
            loop {
                let a = rng.gen_range(0..n);
                let b = rng.gen_range(0..n);
                if a != b {
                    edges.push((a.min(b), a.max(b)));
                    break;
                }
            }
        }
        // Drop repeats by sorting (a pass over contiguous memory, where a hash set
        // costs a cache miss per draw at millions of links). Which copy of a repeat is
        // kept and in what order the pairs end up does not matter: the graph sorts its
        // links, and the number of repeats, which decides the next round's draws, is the
        // same either way. A radix sort: for millions of integer keys it does in a few
        // linear passes what a comparison sort needs ~20 for (7 % of a million-peer
        // flood's CPU went to this sort).
        radsort::sort_by_key(&mut edges, |&(a, b)| edge_key(a, b));
        edges.dedup();
    }
    edges
}

/// G(n, p): each pair linked independently with probability p, in O(n + m) by skipping
/// over the pairs left out (Batagelj & Brandes 2005).
pub fn gnp(n: u32, p: f64, rng: &mut ChaCha8Rng) -> Result<Vec<(u32, u32)>, GenError> {
    if !(0.0..=1.0).contains(&p) || p.is_nan() {
        return Err(GenError::value(
            "p",
            format!("{p} is not a probability in [0, 1]"),
        ));
    }
    let pairs = u64::from(n) * u64::from(n).saturating_sub(1) / 2;
    super::check_link_budget((pairs as f64 * p) as u64)?;
    if p == 0.0 {
        return Ok(Vec::new());
    }
    if p == 1.0 {
        return Ok(super::lattice::complete(n));
    }
    let mut edges = Vec::with_capacity((pairs as f64 * p * 1.05) as usize + 16);
    let log_q = (1.0 - p).ln();
    let (n, mut v, mut w) = (i64::from(n), 1i64, -1i64);
    while v < n {
        let r: f64 = rng.gen();
        let skip = ((1.0 - r).ln() / log_q).floor();
        // A skip beyond every remaining pair ends the graph.
        w = w.saturating_add(1).saturating_add(if skip > 1e15 {
            i64::MAX / 4
        } else {
            skip as i64
        });
        while w >= v && v < n {
            w -= v;
            v += 1;
        }
        if v < n {
            edges.push((w as u32, v as u32));
        }
    }
    Ok(edges)
}

/// A random d-regular graph: stubs paired at random, keeping only pairs that make a
/// simple graph and re-pairing the rest (Steger & Wormald 1999, as networkx does);
/// restarts when the leftover stubs cannot be paired.
pub fn regular(n: u32, d: u32, rng: &mut ChaCha8Rng) -> Result<Vec<(u32, u32)>, GenError> {
    if d >= n && !(d == 0 && n == 0) {
        return Err(GenError::value(
            "d",
            format!("{d} must be less than n = {n}"),
        ));
    }
    if (u64::from(n) * u64::from(d)) % 2 != 0 {
        return Err(GenError::value(
            "d",
            format!("n·d = {n}·{d} is odd: no {d}-regular graph on {n} nodes"),
        ));
    }
    super::check_link_budget(u64::from(n) * u64::from(d) / 2)?;
    const ATTEMPTS: usize = 1000;
    for _ in 0..ATTEMPTS {
        if let Some(edges) = try_regular(n, d, rng) {
            return Ok(edges);
        }
    }
    Err(GenError::value(
        "d",
        format!("no {d}-regular graph on {n} nodes found in {ATTEMPTS} attempts"),
    ))
}

fn try_regular(n: u32, d: u32, rng: &mut ChaCha8Rng) -> Option<Vec<(u32, u32)>> {
    use rand::seq::SliceRandom;
    let mut stubs: Vec<u32> = (0..n)
        .flat_map(|v| std::iter::repeat(v).take(d as usize))
        .collect();
    let mut edges = Vec::with_capacity(stubs.len() / 2);
    let mut set = EdgeSet::with_capacity_and_hasher(stubs.len() / 2, Default::default());
    while !stubs.is_empty() {
        stubs.shuffle(rng);
        let mut left = Vec::new();
        for pair in stubs.chunks_exact(2) {
            let (a, b) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            if a != b && set.insert(edge_key(a, b)) {
                edges.push((a, b));
            } else {
                left.push(a);
                left.push(b);
            }
        }
        if !left.is_empty() && !pairable(&left, &set) {
            return None;
        }
        stubs = left;
    }
    Some(edges)
}

/// Whether any two distinct leftover nodes are not yet linked.
fn pairable(left: &[u32], set: &EdgeSet) -> bool {
    let mut nodes = left.to_vec();
    nodes.sort_unstable();
    nodes.dedup();
    nodes.iter().enumerate().any(|(i, &a)| {
        nodes[i + 1..]
            .iter()
            .any(|&b| !set.contains(&edge_key(a, b)))
    })
}
