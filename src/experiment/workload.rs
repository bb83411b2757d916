//! Workloads: which peer shares which file, and which peer searches for what, when.
//!
//! A workload is described in JSON (or built from the CLI's `--replicas`/`--queries`/
//! `--zipf` flags) and expanded, from a seed, into per-peer file lists and a timed list of
//! queries. Placement follows the replication schemes compared in the unstructured-search
//! literature (uniform, proportional and square-root replication over a Zipf-popular
//! catalogue, or a fixed number of replicas per file). File names are made of plain words
//! plus a unique tag, so the keyword query for a file matches that file and no other; a
//! configurable share of queries asks for a word nothing matches, to measure failures.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::node::Time;

/// Most queries one workload plans: every planned query is held in memory before the run,
/// so `--queries 100000000000` is refused with a message instead of aborting the process.
pub const MAX_QUERIES: usize = 10_000_000;

/// Most files in one catalogue (each one is named and sized up front).
pub const MAX_FILES: usize = 10_000_000;

/// Why a workload description cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("workload JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("workload: {0}")]
    Invalid(String),
}

/// How copies of the catalogue's files are spread over the peers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Placement {
    /// Every file on exactly `per_file` distinct peers chosen uniformly at random.
    Replicas { per_file: usize },
    /// `copies` copies in all, the same number for every file (uniform replication).
    Uniform { copies: usize },
    /// `copies` copies in all, in proportion to each file's query popularity.
    Proportional { copies: usize },
    /// `copies` copies in all, in proportion to the square root of each file's popularity
    /// (the allocation that minimises expected random-search size, Cohen & Shenker 2002).
    SquareRoot { copies: usize },
}

/// How often each file of the catalogue is asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Popularity {
    /// Every file equally often.
    Uniform,
    /// File of rank i (from 1) asked for in proportion to 1 / i^alpha.
    Zipf { alpha: f64 },
}

/// Which peers start queries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Origins {
    /// A peer chosen uniformly at random for every query.
    Uniform,
    /// These peers (by index), in turn.
    Fixed { peers: Vec<u32> },
}

/// When queries start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrival {
    /// One query every `every_ms` milliseconds.
    Fixed { every_ms: f64 },
    /// A Poisson process: exponential gaps with mean `mean_ms` milliseconds.
    Poisson { mean_ms: f64 },
}

/// A workload as written in JSON; every field has a default.
///
/// ```json
/// { "files": 200, "placement": {"kind": "square_root", "copies": 2000},
///   "popularity": {"kind": "zipf", "alpha": 1.0}, "queries": 500,
///   "origins": {"kind": "uniform"}, "arrival": {"kind": "poisson", "mean_ms": 50},
///   "miss_rate": 0.1 }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    /// Files in the catalogue.
    pub files: usize,
    pub placement: Placement,
    pub popularity: Popularity,
    /// Queries to issue.
    pub queries: usize,
    pub origins: Origins,
    pub arrival: Arrival,
    /// Share of queries (0..=1) that ask for a word no file matches.
    pub miss_rate: f64,
    /// Smallest and largest file size in bytes (sizes are log-uniform in between).
    pub min_size: u32,
    pub max_size: u32,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            files: 100,
            placement: Placement::Replicas { per_file: 10 },
            popularity: Popularity::Uniform,
            queries: 100,
            origins: Origins::Uniform,
            arrival: Arrival::Fixed { every_ms: 1000.0 },
            miss_rate: 0.0,
            min_size: 1024,
            max_size: 16 * 1024 * 1024,
        }
    }
}

impl WorkloadSpec {
    /// The common CLI case: `queries` queries over a catalogue with `replicas` copies per file.
    pub fn with_replicas(replicas: usize, queries: usize) -> WorkloadSpec {
        WorkloadSpec {
            placement: Placement::Replicas { per_file: replicas },
            queries,
            ..WorkloadSpec::default()
        }
    }

    /// The same workload with Zipf(alpha) query popularity (`--zipf A`).
    pub fn zipf(mut self, alpha: f64) -> WorkloadSpec {
        self.popularity = Popularity::Zipf { alpha };
        self
    }

    /// Parses a JSON workload, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<WorkloadSpec, WorkloadError> {
        let spec: WorkloadSpec = serde_json::from_str(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the numbers that JSON types alone cannot.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        let invalid = |msg: String| Err(WorkloadError::Invalid(msg));
        if self.files == 0 {
            return invalid("`files` must be at least 1".into());
        }
        if self.files > MAX_FILES {
            return invalid(format!(
                "`files` ({}) must be at most {MAX_FILES}",
                self.files
            ));
        }
        if self.queries > MAX_QUERIES {
            return invalid(format!(
                "`queries` ({}) must be at most {MAX_QUERIES}",
                self.queries
            ));
        }
        match &self.placement {
            Placement::Replicas { per_file: 0 } => {
                return invalid("`placement.per_file` must be at least 1".into())
            }
            Placement::Uniform { copies }
            | Placement::Proportional { copies }
            | Placement::SquareRoot { copies }
                if *copies < self.files =>
            {
                return invalid(format!(
                    "`placement.copies` ({copies}) must be at least `files` ({}) so every file has a copy",
                    self.files
                ));
            }
            _ => {}
        }
        if let Popularity::Zipf { alpha } = self.popularity {
            if !(alpha.is_finite() && alpha >= 0.0) {
                return invalid(format!(
                    "`popularity.alpha` must be a number >= 0, not {alpha}"
                ));
            }
        }
        if let Origins::Fixed { peers } = &self.origins {
            if peers.is_empty() {
                return invalid("`origins.peers` must name at least one peer".into());
            }
        }
        match self.arrival {
            Arrival::Fixed { every_ms: ms } | Arrival::Poisson { mean_ms: ms }
                if !(ms.is_finite() && ms >= 0.0) =>
            {
                return invalid(format!(
                    "arrival interval must be a number >= 0 ms, not {ms}"
                ));
            }
            _ => {}
        }
        if !(0.0..=1.0).contains(&self.miss_rate) {
            return invalid(format!(
                "`miss_rate` must be within 0..=1, not {}",
                self.miss_rate
            ));
        }
        if self.min_size == 0 || self.min_size > self.max_size {
            return invalid(format!(
                "file sizes need 0 < min_size <= max_size, not {}..{}",
                self.min_size, self.max_size
            ));
        }
        Ok(())
    }
}

/// One file of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueFile {
    pub name: String,
    pub size: u32,
    /// The keyword query that finds this file and no other.
    pub keywords: String,
}

/// One query to start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedQuery {
    pub at: TimeMs,
    /// The index of the searching peer.
    pub origin: u32,
    pub words: String,
    /// The catalogue file asked for, or `None` for a query nothing matches.
    pub target: Option<usize>,
}

/// Milliseconds of driver time, kept as an integer of microseconds for determinism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeMs(pub u64);

impl TimeMs {
    pub fn time(self) -> Time {
        Time(self.0)
    }
}

/// A workload expanded for a network of a given size.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub catalogue: Vec<CatalogueFile>,
    /// For each peer, the catalogue indices of the files it shares.
    pub holdings: Vec<Vec<usize>>,
    /// Queries in start-time order.
    pub queries: Vec<PlannedQuery>,
}

impl Workload {
    /// Expands `spec` for `peers` peers; the same spec, size and seed give the same workload.
    /// Placement and queries draw from separate streams, so asking for more queries leaves
    /// the placement unchanged.
    pub fn generate(
        spec: &WorkloadSpec,
        peers: usize,
        seed: u64,
    ) -> Result<Workload, WorkloadError> {
        spec.validate()?;
        if peers == 0 {
            return Err(WorkloadError::Invalid("the network has no peers".into()));
        }
        if let Origins::Fixed { peers: fixed } = &spec.origins {
            if let Some(bad) = fixed.iter().find(|&&p| p as usize >= peers) {
                return Err(WorkloadError::Invalid(format!(
                    "origin peer {bad} does not exist (the network has {peers} peers)"
                )));
            }
        }
        let mut placement_rng = ChaCha8Rng::seed_from_u64(seed);
        placement_rng.set_stream(1);
        let mut query_rng = ChaCha8Rng::seed_from_u64(seed);
        query_rng.set_stream(2);

        let catalogue = catalogue(spec, &mut placement_rng);
        let popularity = popularity_weights(&spec.popularity, spec.files);
        let copies = copies_per_file(&spec.placement, &popularity, peers);
        let mut holdings = vec![Vec::new(); peers];
        for (file, &count) in copies.iter().enumerate() {
            for peer in sample(&mut placement_rng, peers, count.min(peers)) {
                if let Some(list) = holdings.get_mut(peer) {
                    list.push(file);
                }
            }
        }

        let cdf = cumulative(&popularity);
        let mut queries = Vec::with_capacity(spec.queries);
        let mut clock_us = 0f64;
        for n in 0..spec.queries {
            if n > 0 {
                clock_us += match spec.arrival {
                    Arrival::Fixed { every_ms } => every_ms * 1000.0,
                    Arrival::Poisson { mean_ms } => {
                        let u: f64 = query_rng.gen();
                        -mean_ms * 1000.0 * (1.0 - u).ln()
                    }
                };
            }
            let origin = match &spec.origins {
                Origins::Uniform => query_rng.gen_range(0..peers) as u32,
                Origins::Fixed { peers: fixed } => fixed.get(n % fixed.len()).copied().unwrap_or(0),
            };
            let miss = spec.miss_rate > 0.0 && query_rng.gen::<f64>() < spec.miss_rate;
            let (words, target) = if miss {
                (format!("zzmiss{n}"), None)
            } else {
                let u: f64 = query_rng.gen();
                let file = cdf.partition_point(|&c| c < u).min(spec.files - 1);
                let words = catalogue
                    .get(file)
                    .map(|f| f.keywords.clone())
                    .unwrap_or_default();
                (words, Some(file))
            };
            queries.push(PlannedQuery {
                at: TimeMs(clock_us as u64),
                origin,
                words,
                target,
            });
        }
        Ok(Workload {
            catalogue,
            holdings,
            queries,
        })
    }

    /// The files peer `peer` shares, as (name, size).
    pub fn files_of(&self, peer: usize) -> Vec<(String, u32)> {
        self.holdings
            .get(peer)
            .map(|list| {
                list.iter()
                    .filter_map(|&i| self.catalogue.get(i))
                    .map(|f| (f.name.clone(), f.size))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many peers hold each catalogue file.
    pub fn replica_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.catalogue.len()];
        for list in &self.holdings {
            for &file in list {
                if let Some(c) = counts.get_mut(file) {
                    *c += 1;
                }
            }
        }
        counts
    }
}

/// Plain words for file names; none starts with `x` (the unique tag) or `z` (misses).
const ADJECTIVES: [&str; 24] = [
    "amber", "bold", "calm", "dusty", "early", "fuzzy", "gentle", "hollow", "icy", "jolly", "kind",
    "lucky", "misty", "noble", "olive", "proud", "quiet", "rapid", "silent", "tidy", "urban",
    "vivid", "wild", "young",
];
const NOUNS: [&str; 24] = [
    "anchor", "breeze", "canyon", "desert", "ember", "forest", "garden", "harbor", "island",
    "jungle", "kettle", "lantern", "meadow", "night", "ocean", "planet", "river", "summit",
    "thunder", "valley", "willow", "meteor", "glacier", "prairie",
];
const EXTENSIONS: [&str; 5] = ["mp3", "ogg", "avi", "iso", "txt"];

fn catalogue(spec: &WorkloadSpec, rng: &mut ChaCha8Rng) -> Vec<CatalogueFile> {
    let width = (spec.files.saturating_sub(1)).to_string().len().max(4);
    let (lo, hi) = (f64::from(spec.min_size).ln(), f64::from(spec.max_size).ln());
    (0..spec.files)
        .map(|i| {
            let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
            let noun = NOUNS[rng.gen_range(0..NOUNS.len())];
            let extension = EXTENSIONS[i % EXTENSIONS.len()];
            // Fixed width, so no tag is a prefix of another and a query matches one file.
            let tag = format!("x{i:0width$}");
            let size = if hi > lo {
                rng.gen_range(lo..=hi).exp()
            } else {
                lo.exp()
            };
            CatalogueFile {
                name: format!("{adjective}-{noun}-{tag}.{extension}"),
                size: (size.round() as u32).clamp(spec.min_size, spec.max_size),
                keywords: format!("{adjective} {noun} {tag}"),
            }
        })
        .collect()
}

/// Relative query popularity of each file, summing to 1, most popular first.
fn popularity_weights(popularity: &Popularity, files: usize) -> Vec<f64> {
    let raw: Vec<f64> = match popularity {
        Popularity::Uniform => vec![1.0; files],
        Popularity::Zipf { alpha } => (1..=files).map(|rank| (rank as f64).powf(-alpha)).collect(),
    };
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

fn cumulative(weights: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

/// Integer copies per file: at least one each, the rest by largest remainder so the total
/// is exact and ties break by rank.
fn copies_per_file(placement: &Placement, popularity: &[f64], peers: usize) -> Vec<usize> {
    let files = popularity.len();
    let (total, shares): (usize, Vec<f64>) = match placement {
        Placement::Replicas { per_file } => return vec![(*per_file).min(peers); files],
        Placement::Uniform { copies } => (*copies, vec![1.0; files]),
        Placement::Proportional { copies } => (*copies, popularity.to_vec()),
        Placement::SquareRoot { copies } => {
            (*copies, popularity.iter().map(|p| p.sqrt()).collect())
        }
    };
    let sum: f64 = shares.iter().sum();
    let spare = total.saturating_sub(files) as f64;
    let ideal: Vec<f64> = shares.iter().map(|s| spare * s / sum).collect();
    let mut copies: Vec<usize> = ideal.iter().map(|x| 1 + x.floor() as usize).collect();
    let assigned: usize = copies.iter().sum();
    let mut order: Vec<usize> = (0..files).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (ideal[a] - ideal[a].floor(), ideal[b] - ideal[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &file in order.iter().take(total.saturating_sub(assigned)) {
        copies[file] += 1;
    }
    copies.into_iter().map(|c| c.min(peers)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_remainder_keeps_the_total() {
        let pop = popularity_weights(&Popularity::Zipf { alpha: 1.0 }, 10);
        for placement in [
            Placement::Uniform { copies: 57 },
            Placement::Proportional { copies: 57 },
            Placement::SquareRoot { copies: 57 },
        ] {
            let copies = copies_per_file(&placement, &pop, 1000);
            assert_eq!(copies.iter().sum::<usize>(), 57, "{placement:?}");
            assert!(copies.iter().all(|&c| c >= 1));
        }
        let sqrt = copies_per_file(&Placement::SquareRoot { copies: 57 }, &pop, 1000);
        let prop = copies_per_file(&Placement::Proportional { copies: 57 }, &pop, 1000);
        assert!(prop[0] > sqrt[0] && sqrt[0] > sqrt[9]);
    }
}
