//! Scale-free graphs, whose few highly connected hubs shape how floods and walkers
//! spread: Barabási–Albert preferential attachment and the power-law random graph (PLRG)
//! with a chosen exponent, the model Gnutella crawls were compared with.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::GenError;

/// Barabási–Albert: start from a complete graph on m+1 nodes, then each new node links
/// to m distinct nodes chosen with probability proportional to degree. A node appears
/// in `ends` once per link end, so a uniform pick from it is a degree-weighted pick:
/// O(m·n). Mean degree tends to 2m.
pub fn barabasi_albert(n: u32, m: u32, rng: &mut ChaCha8Rng) -> Result<Vec<(u32, u32)>, GenError> {
    if m == 0 {
        return Err(GenError::value("m", "must be at least 1".to_string()));
    }
    if m >= n {
        return Err(GenError::value(
            "m",
            format!("{m} must be less than n = {n}"),
        ));
    }
    let total = u64::from(m) * u64::from(m + 1) / 2 + u64::from(m) * u64::from(n - m - 1);
    super::check_link_budget(total)?;
    let mut edges = super::lattice::complete(m + 1);
    edges.reserve(total as usize - edges.len());
    let mut ends: Vec<u32> = Vec::with_capacity(2 * total as usize);
    for &(a, b) in &edges {
        ends.push(a);
        ends.push(b);
    }
    let mut targets: Vec<u32> = Vec::with_capacity(m as usize);
    for v in m + 1..n {
        targets.clear();
        while targets.len() < m as usize {
            let t = ends[rng.gen_range(0..ends.len())];
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for &t in &targets {
            edges.push((t, v));
            ends.push(t);
            ends.push(v);
        }
    }
    Ok(edges)
}

/// The default largest degree of a PLRG: Aiello–Chung–Lu's e^(α/β) with e^α ≈ n, i.e.
/// n^(1/exp), and never below `min`.
pub fn plrg_default_max(n: u32, exp: f64, min: u32) -> u32 {
    let max = f64::from(n).powf(1.0 / exp).round() as u32;
    max.max(min).min(n.saturating_sub(1).max(min))
}

/// Power-law random graph (Aiello, Chung & Lu 2000): every node draws a degree k in
/// [min, max] with P(k) ∝ k^-exp, then stubs are paired at random (configuration model)
/// and self loops and repeated links are dropped, so realised degrees can be a little
/// lower than drawn ones.
pub fn plrg(
    n: u32,
    exp: f64,
    min: u32,
    max: u32,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<(u32, u32)>, GenError> {
    if !(exp.is_finite() && exp > 1.0) {
        return Err(GenError::value(
            "exp",
            format!("{exp} must be a number greater than 1"),
        ));
    }
    if min == 0 {
        return Err(GenError::value("min", "must be at least 1".to_string()));
    }
    if max < min {
        return Err(GenError::value(
            "max",
            format!("{max} is below min = {min}"),
        ));
    }
    if min >= n {
        return Err(GenError::value(
            "min",
            format!("{min} must be less than n = {n}"),
        ));
    }
    if max >= n {
        return Err(GenError::value(
            "max",
            format!("{max} must be less than n = {n}"),
        ));
    }
    super::check_link_budget(u64::from(min) * u64::from(n) / 2)?;
    // Cumulative weights of k = min..=max, for inverse-transform sampling.
    let mut cumulative = Vec::with_capacity((max - min + 1) as usize);
    let mut sum = 0.0;
    for k in min..=max {
        sum += f64::from(k).powf(-exp);
        cumulative.push(sum);
    }
    let mut stubs: Vec<u32> = Vec::new();
    for v in 0..n {
        let u: f64 = rng.gen::<f64>() * sum;
        let i = cumulative
            .partition_point(|&c| c < u)
            .min(cumulative.len() - 1);
        let k = min + i as u32;
        stubs.extend(std::iter::repeat(v).take(k as usize));
        super::check_link_budget(stubs.len() as u64 / 2)?;
    }
    stubs.shuffle(rng);
    // An odd stub count leaves one stub unpaired; chunks_exact drops it.
    Ok(stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect())
}
