//! Removal experiments: a share of the peers goes offline for good at one point of virtual
//! time, picked at random (failure) or highest degree first (attack), as in Albert, Jeong
//! and Barabási, "Error and attack tolerance of complex networks" (Nature 2000).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::node::identity::mix;

use super::links::Links;

/// How the removed peers are picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalKind {
    /// A seeded random sample of the peers (random failure).
    Random,
    /// The peers of highest degree in the overlay as built (before any churn), ties by
    /// lower index first (targeted attack; degrees are not recomputed between removals).
    Targeted,
}

/// A removal: `fraction` of all peers, picked per `kind`, leave for good at `at_us`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Removal {
    pub kind: RemovalKind,
    /// Share of all peers removed, in [0, 1] (rounded to the nearest whole peer).
    pub fraction: f64,
    /// Virtual time of the removal, µs (0: before the first query starts).
    pub at_us: u64,
}

impl Removal {
    /// Parses `random:F` or `targeted:F` (F a fraction in [0, 1]); the time is set apart.
    pub fn parse(s: &str) -> Result<Removal, String> {
        let (kind, fraction) = s.split_once(':').ok_or_else(|| {
            format!("\"{s}\" is not KIND:FRACTION (e.g. random:0.1 or targeted:0.05)")
        })?;
        let kind = match kind.trim() {
            "random" => RemovalKind::Random,
            "targeted" => RemovalKind::Targeted,
            other => {
                return Err(format!(
                    "unknown removal kind \"{other}\" in \"{s}\" (expected random or targeted)"
                ))
            }
        };
        let fraction = match fraction.trim().parse::<f64>() {
            Ok(f) if (0.0..=1.0).contains(&f) => f,
            _ => {
                return Err(format!(
                    "\"{fraction}\" in \"{s}\" is not a fraction of peers in [0, 1]"
                ))
            }
        };
        Ok(Removal {
            kind,
            fraction,
            at_us: 0,
        })
    }

    /// How many of `n` peers go.
    pub fn count(&self, n: u32) -> u32 {
        ((self.fraction * f64::from(n)).round() as u32).min(n)
    }

    /// The peers removed from `links`, in removal order; the random pick is a pure
    /// function of `seed`.
    pub fn pick(&self, links: &Links, seed: u64) -> Vec<u32> {
        let n = links.node_count();
        let count = self.count(n) as usize;
        let mut peers: Vec<u32> = (0..n).collect();
        match self.kind {
            RemovalKind::Random => {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 0x7265_6d6f_7665));
                let (chosen, _) = peers.partial_shuffle(&mut rng, count);
                chosen.to_vec()
            }
            RemovalKind::Targeted => {
                peers.sort_by_key(|&u| (std::cmp::Reverse(links.degree(u)), u));
                peers.truncate(count);
                peers
            }
        }
    }
}

impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            RemovalKind::Random => "random",
            RemovalKind::Targeted => "targeted",
        };
        write!(f, "{kind}:{}", self.fraction)
    }
}

/// Mean degree and largest connected component of the overlay among online peers (a link
/// counts when both its ends are online).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct OverlayShape {
    pub online: u32,
    /// Mean over online peers of their links to online peers (0 with none online).
    pub mean_degree: f64,
    /// Peers in the largest connected component of online peers, divided by all peers
    /// (online or not), so removing half the network caps it at 0.5.
    pub largest_component_fraction: f64,
}

/// The shape of the overlay of `links` restricted to the peers with `online[u]` (see
/// [`shape_of`]).
pub fn overlay_shape(links: &Links, online: &[bool]) -> OverlayShape {
    shape_of(
        links.node_count() as usize,
        |u| links.neighbours(u).iter().copied(),
        online,
    )
}

/// The shape of the overlay over peers `0..n` whose links `neighbours(u)` lists (each
/// link from both ends), restricted to the peers with `online[u]` (a peer past the end of
/// `online` is online: empty means all are): the static table or the live links of a
/// dynamic run.
pub fn shape_of<I: Iterator<Item = u32>>(
    n: usize,
    neighbours: impl Fn(u32) -> I,
    online: &[bool],
) -> OverlayShape {
    let is_on = |u: u32| online.get(u as usize).copied().unwrap_or(true);
    let mut on = 0u32;
    let mut degree_sum = 0u64;
    // One bit per peer: a million peers' marks stay in the L2 cache, where a byte each
    // would not (this walk is a tenth of a million-peer flood's CPU).
    let mut seen = vec![0u64; n.div_ceil(64)];
    let mut mark = |u: u32| -> bool {
        let (word, bit) = (u as usize / 64, 1u64 << (u % 64));
        let fresh = seen[word] & bit == 0;
        seen[word] |= bit;
        fresh
    };
    let mut largest = 0u32;
    let mut stack: Vec<u32> = Vec::new();
    for start in 0..n as u32 {
        if !is_on(start) || !mark(start) {
            continue;
        }
        stack.push(start);
        let mut size = 0u32;
        // Every online peer is popped exactly once, so its links are counted here
        // rather than in a second pass over all of them.
        while let Some(u) = stack.pop() {
            size += 1;
            for v in neighbours(u) {
                if is_on(v) {
                    degree_sum += 1;
                    if mark(v) {
                        stack.push(v);
                    }
                }
            }
        }
        on += size;
        largest = largest.max(size);
    }
    OverlayShape::from_counts(n, on, degree_sum, largest)
}

impl OverlayShape {
    /// The shape of `n` peers of which `online` are online, with `degree_sum` link ends
    /// between online peers and `largest` peers in the largest component.
    fn from_counts(n: usize, online: u32, degree_sum: u64, largest: u32) -> OverlayShape {
        OverlayShape {
            online,
            mean_degree: if online == 0 {
                0.0
            } else {
                degree_sum as f64 / f64::from(online)
            },
            largest_component_fraction: if n == 0 {
                0.0
            } else {
                f64::from(largest) / n as f64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The shape by union-find over every link: a different algorithm to check the walk.
    fn reference(n: usize, edges: &[(u32, u32)], online: &[bool]) -> OverlayShape {
        let on = |u: u32| online.get(u as usize).copied().unwrap_or(true);
        let mut parent: Vec<usize> = (0..n).collect();
        fn root(parent: &mut [usize], mut u: usize) -> usize {
            while parent[u] != u {
                u = parent[u];
            }
            u
        }
        let mut degree_sum = 0u64;
        for &(a, b) in edges {
            if on(a) && on(b) {
                degree_sum += 2;
                let (ra, rb) = (root(&mut parent, a as usize), root(&mut parent, b as usize));
                parent[ra] = rb;
            }
        }
        let mut sizes = vec![0u32; n];
        let mut online_count = 0u32;
        for u in 0..n {
            if on(u as u32) {
                online_count += 1;
                sizes[root(&mut parent, u)] += 1;
            }
        }
        let largest = sizes.into_iter().max().unwrap_or(0);
        OverlayShape::from_counts(n, online_count, degree_sum, largest)
    }

    proptest! {
        #[test]
        fn the_walk_agrees_with_union_find(
            n in 0usize..150,
            raw in prop::collection::vec((0u32..150, 0u32..150), 0..300),
            offline in prop::collection::vec(any::<bool>(), 0..150),
        ) {
            let edges: Vec<(u32, u32)> = raw
                .into_iter()
                .filter(|&(a, b)| (a as usize) < n && (b as usize) < n)
                .collect();
            let links = Links::from_edges(n as u32, edges.iter().copied());
            let kept: Vec<(u32, u32)> = (0..n as u32)
                .flat_map(|u| links.neighbours(u).iter().map(move |&v| (u, v)))
                .filter(|&(u, v)| u < v)
                .collect();
            let online: Vec<bool> = offline.iter().map(|&off| !off).collect();
            prop_assert_eq!(overlay_shape(&links, &online), reference(n, &kept, &online));
        }
    }
}
