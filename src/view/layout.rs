//! Where each peer is drawn: computed here, not in the page, so the same trace and seed
//! give the same picture (and the same bytes) every time.
//!
//! Up to [`CIRCLE_UP_TO`] peers sit on a circle in index order. Larger overlays get a force-directed layout (Fruchterman and Reingold 1991):
//! links pull, every pair of nearby peers pushes, a mild pull to the centre keeps
//! components together, and the temperature falls linearly over a fixed number of
//! rounds. Repulsion only counts peers in the neighbouring cells of a grid, so one round
//! costs O(peers + links): 10,000 peers lay out in a few seconds. Start positions are
//! drawn from the seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Overlays this small are drawn on a circle.
pub const CIRCLE_UP_TO: usize = 3;

/// Positions are integers in `0..=SCALE` on both axes.
pub const SCALE: f64 = 1000.0;

/// Positions of `n` peers joined by `links`, in `0..=1000` (x, y).
pub fn layout(n: usize, links: &[[u32; 2]], seed: u64) -> Vec<(u32, u32)> {
    if n == 0 {
        return Vec::new();
    }
    let points = if n <= CIRCLE_UP_TO {
        circle(n)
    } else {
        force(n, links, seed)
    };
    fit(&points)
}

fn circle(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            // Peer 0 at the top, clockwise.
            let a = std::f64::consts::TAU * i as f64 / n as f64 - std::f64::consts::FRAC_PI_2;
            (a.cos(), a.sin())
        })
        .collect()
}

/// Rounds of the force-directed layout: fewer for large overlays, whose rounds cost more.
fn rounds(n: usize) -> usize {
    match n {
        0..=500 => 400,
        501..=5000 => 200,
        _ => 120,
    }
}

fn force(n: usize, links: &[[u32; 2]], seed: u64) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6c61_796f_7574);
    let side = (n as f64).sqrt();
    let mut pos: Vec<(f64, f64)> = (0..n)
        .map(|_| (rng.gen_range(0.0..side), rng.gen_range(0.0..side)))
        .collect();
    // Ideal distance 1: the area is side², n peers.
    let k = 1.0f64;
    let cell = 2.0 * k;
    let rounds = rounds(n);
    let mut disp = vec![(0.0f64, 0.0f64); n];
    let centre = side / 2.0;
    for round in 0..rounds {
        let temperature = side * 0.1 * (1.0 - round as f64 / rounds as f64) + 0.01;
        disp.iter_mut().for_each(|d| *d = (0.0, 0.0));
        // Repulsion between peers within `cell` of each other, via a grid.
        let (min_x, min_y) = pos.iter().fold((f64::MAX, f64::MAX), |(mx, my), &(x, y)| {
            (mx.min(x), my.min(y))
        });
        let key = |x: f64, y: f64| -> (i64, i64) {
            (
                ((x - min_x) / cell).floor() as i64,
                ((y - min_y) / cell).floor() as i64,
            )
        };
        let mut order: Vec<(i64, i64, u32)> = pos
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                let (cx, cy) = key(x, y);
                (cx, cy, i as u32)
            })
            .collect();
        order.sort_unstable();
        let find = |cx: i64, cy: i64| -> &[(i64, i64, u32)] {
            let start = order.partition_point(|e| (e.0, e.1) < (cx, cy));
            let end = order.partition_point(|e| (e.0, e.1) <= (cx, cy));
            &order[start..end]
        };
        for (v, &(x, y)) in pos.iter().enumerate() {
            let (cx, cy) = key(x, y);
            let mut d = (0.0, 0.0);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for &(_, _, u) in find(cx + dx, cy + dy) {
                        let u = u as usize;
                        if u == v {
                            continue;
                        }
                        let (ux, uy) = pos[u];
                        let (mut ex, mut ey) = (x - ux, y - uy);
                        let mut dist2 = ex * ex + ey * ey;
                        if dist2 < 1e-9 {
                            // Same spot: push apart along a direction fixed by the indices.
                            let a = (v * 31 + u * 17) as f64;
                            ex = a.cos() * 1e-3;
                            ey = a.sin() * 1e-3;
                            dist2 = 1e-6;
                        }
                        if dist2 < cell * cell {
                            let f = k * k / dist2;
                            d.0 += ex * f;
                            d.1 += ey * f;
                        }
                    }
                }
            }
            disp[v] = d;
        }
        // Attraction along links.
        for &[a, b] in links {
            let (a, b) = (a as usize, b as usize);
            if a >= n || b >= n || a == b {
                continue;
            }
            let (ex, ey) = (pos[a].0 - pos[b].0, pos[a].1 - pos[b].1);
            let dist = (ex * ex + ey * ey).sqrt().max(1e-6);
            let f = dist / k;
            disp[a].0 -= ex * f / dist * dist.min(4.0);
            disp[a].1 -= ey * f / dist * dist.min(4.0);
            disp[b].0 += ex * f / dist * dist.min(4.0);
            disp[b].1 += ey * f / dist * dist.min(4.0);
        }
        for (p, d) in pos.iter_mut().zip(&disp) {
            // A mild pull to the centre keeps separate components near each other.
            let (gx, gy) = ((centre - p.0) * 0.02, (centre - p.1) * 0.02);
            let (dx, dy) = (d.0 + gx, d.1 + gy);
            let len = (dx * dx + dy * dy).sqrt();
            if len > 0.0 {
                let step = len.min(temperature);
                p.0 += dx / len * step;
                p.1 += dy / len * step;
            }
        }
    }
    pos
}

/// Scales points into `0..=SCALE`, keeping the aspect ratio, centred.
fn fit(points: &[(f64, f64)]) -> Vec<(u32, u32)> {
    let (mut lo_x, mut lo_y, mut hi_x, mut hi_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(x, y) in points {
        lo_x = lo_x.min(x);
        lo_y = lo_y.min(y);
        hi_x = hi_x.max(x);
        hi_y = hi_y.max(y);
    }
    let span = (hi_x - lo_x).max(hi_y - lo_y).max(1e-9);
    let (off_x, off_y) = ((span - (hi_x - lo_x)) / 2.0, (span - (hi_y - lo_y)) / 2.0);
    points
        .iter()
        .map(|&(x, y)| {
            let sx = ((x - lo_x + off_x) / span * SCALE).round();
            let sy = ((y - lo_y + off_y) / span * SCALE).round();
            (sx.clamp(0.0, SCALE) as u32, sy.clamp(0.0, SCALE) as u32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_positions_and_all_inside_the_frame() {
        let links: Vec<[u32; 2]> = (0..99).map(|i| [i, i + 1]).collect();
        let a = layout(100, &links, 7);
        let b = layout(100, &links, 7);
        assert_eq!(a, b);
        assert!(a.iter().all(|&(x, y)| x <= 1000 && y <= 1000));
        let c = layout(100, &links, 8);
        assert_ne!(a, c, "another seed, another start");
    }

    #[test]
    fn linked_peers_end_closer_than_unlinked_ones() {
        // Two rings of 20, no link between them... joined by one link.
        let mut links: Vec<[u32; 2]> = Vec::new();
        for i in 0..20u32 {
            links.push([i, (i + 1) % 20]);
            links.push([20 + i, 20 + (i + 1) % 20]);
        }
        links.push([0, 20]);
        let p = layout(40, &links, 1);
        let d = |a: usize, b: usize| {
            let (dx, dy) = (p[a].0 as f64 - p[b].0 as f64, p[a].1 as f64 - p[b].1 as f64);
            (dx * dx + dy * dy).sqrt()
        };
        let linked: f64 = links
            .iter()
            .map(|l| d(l[0] as usize, l[1] as usize))
            .sum::<f64>()
            / links.len() as f64;
        let far = d(10, 30);
        assert!(linked < far, "links {linked:.0} vs across {far:.0}");
    }

    #[test]
    fn small_overlays_sit_on_a_circle() {
        let p = layout(2, &[[0, 1]], 1);
        assert_eq!(p, [(500, 0), (500, 1000)]);
    }
}
