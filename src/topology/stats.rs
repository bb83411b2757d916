//! Statistics of a topology: the shape facts that explain flooding results (degree
//! spread drives duplicates, diameter bounds the TTL needed, clustering wastes messages
//! on triangles, components cap the reach).
//!
//! Exact where it is cheap; on large graphs diameter, mean distance and clustering are
//! estimated (seeded, so repeatable) and every such figure says so.

use std::collections::BTreeMap;
use std::fmt;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::topology::Graph;

/// How much work the statistics may do.
#[derive(Clone, Debug)]
pub struct StatsOptions {
    /// Most BFS work (nodes × (nodes + 2·links) of the largest component) spent on an
    /// exact diameter; above it the diameter is estimated by double sweeps.
    pub exact_diameter_work: u64,
    /// Sources of the BFS runs that estimate the mean distance (all nodes when fewer).
    pub distance_sources: usize,
    /// BFS work (node and link visits) the sampled estimates may spend on a large graph;
    /// fewer sources and sweeps are used when one BFS is expensive.
    pub estimate_work: u64,
    /// Largest graph whose clustering is exact; above it, this many nodes are sampled.
    pub clustering_sample: usize,
    /// Seed of every sample.
    pub seed: u64,
}

impl Default for StatsOptions {
    fn default() -> Self {
        StatsOptions {
            exact_diameter_work: 400_000_000,
            distance_sources: 200,
            clustering_sample: 20_000,
            estimate_work: 100_000_000,
            seed: 1,
        }
    }
}

/// A figure and whether it is exact.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measure {
    pub value: f64,
    pub exact: bool,
    /// How it was obtained, e.g. "BFS from every node" or "double sweep from 16 nodes (lower bound)".
    pub method: String,
}

/// Degree figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DegreeStats {
    pub min: usize,
    pub mean: f64,
    pub max: usize,
    /// `(degree, number of nodes)`, ascending by degree, only degrees that occur.
    pub histogram: Vec<(usize, usize)>,
}

/// Everything `gnutella topology stats` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    pub nodes: usize,
    pub links: usize,
    pub degree: DegreeStats,
    pub components: usize,
    pub largest_component: usize,
    /// Nodes without any link.
    pub isolated: usize,
    /// Longest shortest path within the largest component (hops).
    pub diameter: Measure,
    /// Mean shortest-path length between connected nodes (hops).
    pub mean_distance: Measure,
    /// Average local clustering coefficient (nodes of degree < 2 count as 0).
    pub clustering: Measure,
}

impl Stats {
    /// Computes every statistic of a graph.
    pub fn of(graph: &Graph, options: &StatsOptions) -> Stats {
        Stats::of_with_progress(graph, options, &mut |_| {})
    }

    /// Like [`Stats::of`], telling `progress` after each breadth-first search (the bulk
    /// of the work on a large graph) how far its phase is.
    pub fn of_with_progress(
        graph: &Graph,
        options: &StatsOptions,
        progress: &mut dyn FnMut(StatsProgress),
    ) -> Stats {
        let n = graph.node_count();
        let components = components(graph);
        let largest_label = largest_component_label(&components.sizes);
        let largest = components
            .sizes
            .get(largest_label as usize)
            .copied()
            .unwrap_or(0);
        Stats {
            nodes: n,
            links: graph.link_count(),
            degree: degree_stats(graph),
            components: components.sizes.len(),
            largest_component: largest,
            isolated: (0..n as u32).filter(|&v| graph.degree(v) == 0).count(),
            diameter: diameter(graph, &components, largest_label, options, progress),
            mean_distance: mean_distance(graph, options, progress),
            clustering: clustering(graph, options),
        }
    }
}

/// Degree minimum, mean, maximum and histogram.
pub fn degree_stats(graph: &Graph) -> DegreeStats {
    let n = graph.node_count();
    let mut histogram: BTreeMap<usize, usize> = BTreeMap::new();
    for v in 0..n as u32 {
        *histogram.entry(graph.degree(v)).or_default() += 1;
    }
    DegreeStats {
        min: histogram.keys().next().copied().unwrap_or(0),
        mean: if n == 0 {
            0.0
        } else {
            2.0 * graph.link_count() as f64 / n as f64
        },
        max: histogram.keys().next_back().copied().unwrap_or(0),
        histogram: histogram.into_iter().collect(),
    }
}

/// Connected components: a label per node and each label's size.
pub struct Components {
    pub label: Vec<u32>,
    pub sizes: Vec<usize>,
}

/// Labels the connected components by breadth-first search.
pub fn components(graph: &Graph) -> Components {
    let n = graph.node_count();
    let mut label = vec![u32::MAX; n];
    let mut sizes = Vec::new();
    let mut queue: Vec<u32> = Vec::new();
    for start in 0..n as u32 {
        if label[start as usize] != u32::MAX {
            continue;
        }
        let c = sizes.len() as u32;
        label[start as usize] = c;
        queue.clear();
        queue.push(start);
        let mut head = 0;
        while let Some(&v) = queue.get(head) {
            head += 1;
            for &u in graph.neighbours(v) {
                if label[u as usize] == u32::MAX {
                    label[u as usize] = c;
                    queue.push(u);
                }
            }
        }
        sizes.push(queue.len());
    }
    Components { label, sizes }
}

fn largest_component_label(sizes: &[usize]) -> u32 {
    sizes
        .iter()
        .enumerate()
        .max_by_key(|&(i, &s)| (s, std::cmp::Reverse(i)))
        .map_or(0, |(i, _)| i as u32)
}

/// Hop distances from `source` (`u32::MAX` = unreachable), reusing the buffers.
pub fn bfs(graph: &Graph, source: u32, dist: &mut Vec<u32>, queue: &mut Vec<u32>) {
    dist.clear();
    dist.resize(graph.node_count(), u32::MAX);
    queue.clear();
    if (source as usize) >= graph.node_count() {
        return;
    }
    dist[source as usize] = 0;
    queue.push(source);
    let mut head = 0;
    while let Some(&v) = queue.get(head) {
        head += 1;
        let next = dist[v as usize] + 1;
        for &u in graph.neighbours(v) {
            if dist[u as usize] == u32::MAX {
                dist[u as usize] = next;
                queue.push(u);
            }
        }
    }
}

/// Eccentricity of `source` and the farthest node (the last one the BFS reached).
fn eccentricity(
    graph: &Graph,
    source: u32,
    dist: &mut Vec<u32>,
    queue: &mut Vec<u32>,
) -> (u32, u32) {
    bfs(graph, source, dist, queue);
    let far = queue.last().copied().unwrap_or(source);
    (dist[far as usize], far)
}

/// How far [`Stats::of_with_progress`] is: `done` of `total` searches of `phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsProgress {
    pub phase: &'static str,
    pub done: u64,
    pub total: u64,
}

fn diameter(
    graph: &Graph,
    comps: &Components,
    largest: u32,
    options: &StatsOptions,
    progress: &mut dyn FnMut(StatsProgress),
) -> Measure {
    let members: Vec<u32> = (0..graph.node_count() as u32)
        .filter(|&v| comps.label[v as usize] == largest)
        .collect();
    let (mut dist, mut queue) = (Vec::new(), Vec::new());
    let work = members.len() as u64 * (graph.node_count() as u64 + 2 * graph.link_count() as u64);
    if work <= options.exact_diameter_work {
        let total = members.len() as u64;
        let mut d = 0;
        for (i, &v) in members.iter().enumerate() {
            d = d.max(eccentricity(graph, v, &mut dist, &mut queue).0);
            progress(StatsProgress {
                phase: "diameter: BFS from every node",
                done: i as u64 + 1,
                total,
            });
        }
        return Measure {
            value: f64::from(d),
            exact: true,
            method: "BFS from every node of the largest component".into(),
        };
    }
    // Double sweep: the farthest node from anywhere is usually near a diameter end; the
    // best of several sweeps is a tight lower bound on real-world graphs.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let sweeps = (options.estimate_work / (3 * bfs_cost(graph))).clamp(4, 16) as usize;
    let starts: Vec<u32> = members.choose_multiple(&mut rng, sweeps).copied().collect();
    let mut best = 0;
    for (i, &s) in starts.iter().enumerate() {
        let (_, far) = eccentricity(graph, s, &mut dist, &mut queue);
        let (e, far2) = eccentricity(graph, far, &mut dist, &mut queue);
        let (e2, _) = eccentricity(graph, far2, &mut dist, &mut queue);
        best = best.max(e).max(e2);
        progress(StatsProgress {
            phase: "diameter: double sweeps",
            done: i as u64 + 1,
            total: starts.len() as u64,
        });
    }
    Measure {
        value: f64::from(best),
        exact: false,
        method: format!(
            "estimate: double sweeps from {} nodes (a lower bound)",
            starts.len()
        ),
    }
}

/// Node and link visits of one BFS over the whole graph.
fn bfs_cost(graph: &Graph) -> u64 {
    (graph.node_count() as u64 + 2 * graph.link_count() as u64).max(1)
}

fn mean_distance(
    graph: &Graph,
    options: &StatsOptions,
    progress: &mut dyn FnMut(StatsProgress),
) -> Measure {
    let n = graph.node_count();
    let affordable = (options.estimate_work / bfs_cost(graph)).max(10) as usize;
    let wanted = options.distance_sources.min(affordable);
    let exact = n <= wanted;
    let sources: Vec<u32> = if exact {
        (0..n as u32).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x5eed);
        rand::seq::index::sample(&mut rng, n, wanted)
            .into_iter()
            .map(|i| i as u32)
            .collect()
    };
    let (mut dist, mut queue) = (Vec::new(), Vec::new());
    let (mut total, mut pairs) = (0u64, 0u64);
    for (i, &s) in sources.iter().enumerate() {
        bfs(graph, s, &mut dist, &mut queue);
        for &v in queue.iter().skip(1) {
            total += u64::from(dist[v as usize]);
            pairs += 1;
        }
        progress(StatsProgress {
            phase: "mean distance: BFS",
            done: i as u64 + 1,
            total: sources.len() as u64,
        });
    }
    Measure {
        value: if pairs == 0 {
            0.0
        } else {
            total as f64 / pairs as f64
        },
        exact,
        method: if exact {
            "BFS from every node".to_string()
        } else {
            format!("estimate: BFS from {} random nodes", sources.len())
        },
    }
}

/// Local clustering coefficient of `v`: the share of its neighbour pairs that are linked.
pub fn local_clustering(graph: &Graph, v: u32, mark: &mut [u32]) -> f64 {
    let nb = graph.neighbours(v);
    let d = nb.len();
    if d < 2 {
        return 0.0;
    }
    // mark[w] == v + 1 flags w as a neighbour of v without clearing between nodes.
    for &u in nb {
        mark[u as usize] = v + 1;
    }
    let mut twice_triangles = 0u64;
    for &u in nb {
        twice_triangles += graph
            .neighbours(u)
            .iter()
            .filter(|&&w| mark[w as usize] == v + 1)
            .count() as u64;
    }
    twice_triangles as f64 / (d as f64 * (d as f64 - 1.0))
}

fn clustering(graph: &Graph, options: &StatsOptions) -> Measure {
    let n = graph.node_count();
    let mut mark = vec![u32::MAX; n];
    let exact = n <= options.clustering_sample;
    let nodes: Vec<u32> = if exact {
        (0..n as u32).collect()
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0xc1u64);
        rand::seq::index::sample(&mut rng, n, options.clustering_sample)
            .into_iter()
            .map(|i| i as u32)
            .collect()
    };
    let sum: f64 = nodes
        .iter()
        .map(|&v| local_clustering(graph, v, &mut mark))
        .sum();
    Measure {
        value: if nodes.is_empty() {
            0.0
        } else {
            sum / nodes.len() as f64
        },
        exact,
        method: if exact {
            "average over every node".to_string()
        } else {
            format!("estimate: average over {} random nodes", nodes.len())
        },
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = if self.exact { "exact" } else { "estimate" };
        if self.value.fract() == 0.0 {
            write!(
                f,
                "{} ({label}: {})",
                self.value,
                self.method.trim_start_matches("estimate: ")
            )
        } else {
            write!(
                f,
                "{:.4} ({label}: {})",
                self.value,
                self.method.trim_start_matches("estimate: ")
            )
        }
    }
}

/// The human-readable report.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nodes              {}", self.nodes)?;
        writeln!(f, "links              {}", self.links)?;
        writeln!(
            f,
            "degree             min {}, mean {:.2}, max {}",
            self.degree.min, self.degree.mean, self.degree.max
        )?;
        writeln!(
            f,
            "components         {} (largest {} nodes, {} isolated)",
            self.components, self.largest_component, self.isolated
        )?;
        writeln!(f, "diameter           {}", self.diameter)?;
        writeln!(f, "mean distance      {}", self.mean_distance)?;
        writeln!(f, "clustering         {}", self.clustering)?;
        writeln!(f, "degree distribution (degree: nodes)")?;
        let rows = histogram_rows(&self.degree.histogram);
        let widest = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
        for (label, count) in rows {
            let bar = "#".repeat((count * 40).div_ceil(widest));
            writeln!(f, "  {label:>11}  {count:>9}  {bar}")?;
        }
        Ok(())
    }
}

/// One row per degree when there are few, else power-of-two buckets.
fn histogram_rows(histogram: &[(usize, usize)]) -> Vec<(String, usize)> {
    if histogram.len() <= 24 {
        return histogram.iter().map(|&(d, c)| (d.to_string(), c)).collect();
    }
    let mut buckets: BTreeMap<u32, usize> = BTreeMap::new();
    for &(d, c) in histogram {
        let b = if d == 0 {
            0
        } else {
            usize::BITS - d.leading_zeros()
        };
        *buckets.entry(b).or_default() += c;
    }
    buckets
        .into_iter()
        .map(|(b, c)| {
            let label = match b {
                0 => "0".to_string(),
                1 => "1".to_string(),
                b => format!("{}-{}", 1usize << (b - 1), (1usize << b) - 1),
            };
            (label, c)
        })
        .collect()
}
