//! The experiment spec: which topologies, strategies, TTLs and seeds a sweep crosses, with
//! which workload and link model, as a JSON file users write.
//!
//! ```json
//! { "name": "walkers",
//!   "topologies": ["random:n=2000,d=4", "file:../shared/data/topologies/p2p-Gnutella08.txt"],
//!   "strategies": ["flood", "ring", "walk:16", "flood+cache"],
//!   "ttls": [2, 3, 4, 5],
//!   "ttls_by_strategy": { "walk:16": [64, 128] },
//!   "seeds": [1, 2],
//!   "workload": { "files": 100, "placement": {"kind": "replicas", "per_file": 20}, "queries": 100 },
//!   "sim": { "latency_ms": 10 } }
//! ```
//!
//! Strategy names are the ones `gnutella sim --strategy` takes, parsed by [`StrategyChoice`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::node::{CacheConfig, CacheMode, Strategy};
use crate::topology::GenSpec;

use super::workload::{WorkloadError, WorkloadSpec};

/// Why a spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Json { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Most random walkers one query may send (`walk:K`): each walker is a message the origin
/// queues at once, so a typo such as `walk:1000000000` must be refused, not allocated.
pub const MAX_WALKERS: u32 = 1024;

/// A search strategy as users name it: `flood`, `ring`, `walk:K` or `flood+cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyChoice {
    /// Every neighbour but the sender, no result cache.
    Flood,
    /// TTL 1, 2, 4, ... up to the search TTL until a hit arrives.
    Ring,
    /// K random walkers with periodic check-back.
    Walk { walkers: u32 },
    /// Flooding with every peer's LRU result cache on (answer and forward).
    FloodCache,
}

impl StrategyChoice {
    /// Parses `flood`, `ring`, `walk:K` (1 <= K <= [`MAX_WALKERS`]) or `flood+cache`.
    pub fn parse(text: &str) -> Result<StrategyChoice, String> {
        match text.trim() {
            "flood" => Ok(StrategyChoice::Flood),
            "ring" => Ok(StrategyChoice::Ring),
            "flood+cache" => Ok(StrategyChoice::FloodCache),
            other => match other.strip_prefix("walk:") {
                Some(k) => match k.parse::<u32>() {
                    Ok(walkers) if (1..=MAX_WALKERS).contains(&walkers) => {
                        Ok(StrategyChoice::Walk { walkers })
                    }
                    _ => Err(format!(
                        "`{other}`: K in walk:K must be a whole number from 1 to {MAX_WALKERS}"
                    )),
                },
                None => Err(format!(
                    "unknown strategy `{other}` (expected flood, ring, walk:K or flood+cache)"
                )),
            },
        }
    }

    /// The node strategy and cache settings this choice runs with.
    pub fn node_settings(&self, sim: &SimSettings) -> (Strategy, CacheConfig) {
        let cache_off = CacheConfig {
            mode: CacheMode::Off,
            ..sim.cache()
        };
        match *self {
            StrategyChoice::Flood => (Strategy::Flood, cache_off),
            StrategyChoice::Ring => (
                Strategy::ExpandingRing {
                    wait_ms: sim.ring_wait_ms,
                },
                cache_off,
            ),
            StrategyChoice::Walk { walkers } => (
                Strategy::RandomWalk {
                    walkers,
                    check_every: sim.walk_check_every,
                },
                cache_off,
            ),
            StrategyChoice::FloodCache => (Strategy::Flood, sim.cache()),
        }
    }
}

impl fmt::Display for StrategyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyChoice::Flood => f.write_str("flood"),
            StrategyChoice::Ring => f.write_str("ring"),
            StrategyChoice::Walk { walkers } => write!(f, "walk:{walkers}"),
            StrategyChoice::FloodCache => f.write_str("flood+cache"),
        }
    }
}

/// Link model and node settings shared by every run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// One-way delay of every link, in milliseconds.
    pub latency_ms: f64,
    /// Probability that a message is lost on a link.
    pub loss: f64,
    /// The nodes' broadcast limit (hops+TTL above it is trimmed); raise it for walkers.
    pub max_ttl: u8,
    /// How long an expanding ring waits for a hit before the next, wider round.
    pub ring_wait_ms: u64,
    /// Walkers check back with the origin every this many hops.
    pub walk_check_every: u8,
    /// Result cache settings for `flood+cache`: `answer-and-forward` (the default, as in
    /// the live network) only shortens the way back; `answer-and-stop` also saves the
    /// query messages beyond the answering peer.
    pub cache_mode: CacheMode,
    pub cache_capacity: usize,
    pub cache_max_age_secs: u64,
    /// How long after the last query a run keeps collecting hits, in milliseconds.
    pub settle_ms: u64,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            latency_ms: 10.0,
            loss: 0.0,
            max_ttl: 7,
            ring_wait_ms: 300,
            walk_check_every: 4,
            cache_mode: CacheMode::AnswerAndForward,
            cache_capacity: 1024,
            cache_max_age_secs: 3600,
            settle_ms: 30_000,
        }
    }
}

impl SimSettings {
    fn cache(&self) -> CacheConfig {
        CacheConfig {
            capacity: self.cache_capacity,
            max_age_secs: self.cache_max_age_secs,
            mode: self.cache_mode,
        }
    }
}

/// Where a sweep's topology comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum TopologySource {
    /// A generator spec (`random:n=1000,d=4`), generated from each run's seed.
    Generated(GenSpec),
    /// A topology config or SNAP edge list; the same graph for every seed.
    File(PathBuf),
}

/// One topology of the sweep, with the label used in results and plots.
#[derive(Clone, Debug, PartialEq)]
pub struct TopologyEntry {
    pub label: String,
    pub source: TopologySource,
}

/// A sweep as written in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// A short name, used in plot titles.
    #[serde(default = "default_name")]
    pub name: String,
    /// What the experiment shows (free text, copied to summary.json).
    #[serde(default)]
    pub description: String,
    /// Generator specs (`random:n=1000,d=4`) or `file:PATH` (a topology config or SNAP
    /// edge list; a relative PATH is tried from the current directory, then from the
    /// spec's own directory). A `label=...` suffix after `|` names it in plots:
    /// `file:p2p-Gnutella08.txt|label=gnutella08`.
    pub topologies: Vec<String>,
    /// `flood`, `ring`, `walk:K`, `flood+cache`.
    pub strategies: Vec<String>,
    /// The TTLs every strategy runs with.
    pub ttls: Vec<u8>,
    /// Per-strategy TTL lists that replace `ttls` (walkers need far larger TTLs).
    #[serde(default)]
    pub ttls_by_strategy: BTreeMap<String, Vec<u8>>,
    /// One run per seed: the seed picks the generated graph, the workload and the
    /// simulator's random choices.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub sim: SimSettings,
}

fn default_name() -> String {
    "experiment".to_string()
}

fn default_seeds() -> Vec<u64> {
    vec![1]
}

/// A spec with its strings parsed, ready to run.
#[derive(Clone, Debug)]
pub struct ResolvedSpec {
    pub spec: ExperimentSpec,
    pub topologies: Vec<TopologyEntry>,
    /// Strategies with the TTLs each runs with, in spec order.
    pub strategies: Vec<(StrategyChoice, Vec<u8>)>,
}

impl ResolvedSpec {
    /// Runs in the sweep: topologies x strategies x TTLs x seeds.
    pub fn run_count(&self) -> usize {
        let per_seed: usize = self.strategies.iter().map(|(_, ttls)| ttls.len()).sum();
        self.topologies.len() * per_seed * self.spec.seeds.len()
    }
}

impl ExperimentSpec {
    /// Reads and checks a spec file; errors name the file and the offending key.
    pub fn load(path: &Path) -> Result<ResolvedSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let spec = ExperimentSpec::parse(&text, &path.display().to_string())?;
        spec.resolve(path.parent())
    }

    /// Parses spec JSON; `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ExperimentSpec, SpecError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let at = err.path().to_string();
            let inner = err.into_inner();
            let place = if at == "." {
                String::new()
            } else {
                format!(" at `{at}`")
            };
            SpecError::Json {
                path: origin.to_string(),
                message: format!("{inner}{place}"),
            }
        })
    }

    /// Checks every value and parses topology and strategy names; `base` is the spec's
    /// directory for relative topology files.
    pub fn resolve(self, base: Option<&Path>) -> Result<ResolvedSpec, SpecError> {
        let invalid = |message: String| SpecError::Invalid {
            path: self.name.clone(),
            message,
        };
        if self.topologies.is_empty() {
            return Err(invalid(
                "`topologies` must list at least one topology".into(),
            ));
        }
        if self.strategies.is_empty() {
            return Err(invalid(
                "`strategies` must list at least one strategy".into(),
            ));
        }
        if self.seeds.is_empty() {
            return Err(invalid("`seeds` must list at least one seed".into()));
        }
        self.workload
            .validate()
            .map_err(|e: WorkloadError| invalid(e.to_string()))?;
        if !(0.0..=1.0).contains(&self.sim.loss) {
            return Err(invalid(format!(
                "`sim.loss` must be within 0..=1, not {}",
                self.sim.loss
            )));
        }
        if !(self.sim.latency_ms.is_finite() && self.sim.latency_ms >= 0.0) {
            return Err(invalid("`sim.latency_ms` must be a number >= 0".into()));
        }
        let mut topologies = Vec::new();
        for (i, text) in self.topologies.iter().enumerate() {
            let entry = parse_topology(text, base)
                .map_err(|m| invalid(format!("`topologies[{i}]` ({text}): {m}")))?;
            topologies.push(entry);
        }
        for name in self.ttls_by_strategy.keys() {
            if !self.strategies.contains(name) {
                return Err(invalid(format!(
                    "`ttls_by_strategy` names `{name}`, which is not in `strategies`"
                )));
            }
        }
        let mut strategies = Vec::new();
        for (i, text) in self.strategies.iter().enumerate() {
            let choice = StrategyChoice::parse(text)
                .map_err(|m| invalid(format!("`strategies[{i}]`: {m}")))?;
            let ttls = self
                .ttls_by_strategy
                .get(text)
                .unwrap_or(&self.ttls)
                .clone();
            if ttls.is_empty() {
                return Err(invalid(format!("strategy `{text}` has no TTLs to run")));
            }
            if let Some(bad) = ttls.iter().find(|&&t| t == 0) {
                return Err(invalid(format!(
                    "TTL {bad} for `{text}`: TTLs must be >= 1"
                )));
            }
            strategies.push((choice, ttls));
        }
        Ok(ResolvedSpec {
            spec: self,
            topologies,
            strategies,
        })
    }
}

fn parse_topology(text: &str, base: Option<&Path>) -> Result<TopologyEntry, String> {
    let (body, label) = match text.split_once('|') {
        Some((body, rest)) => match rest.trim().strip_prefix("label=") {
            Some(label) if !label.is_empty() => (body.trim(), Some(label.to_string())),
            _ => return Err("after `|` expected `label=NAME`".into()),
        },
        None => (text.trim(), None),
    };
    if let Some(file) = body.strip_prefix("file:") {
        let given = PathBuf::from(file);
        let path = if given.exists() {
            given
        } else if given.is_absolute() {
            return Err(format!("file `{file}` not found"));
        } else {
            match base.map(|b| b.join(&given)) {
                Some(beside) if beside.exists() => beside,
                _ => return Err(format!("file `{file}` not found")),
            }
        };
        let label = label.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        return Ok(TopologyEntry {
            label,
            source: TopologySource::File(path),
        });
    }
    let spec = GenSpec::parse(body).map_err(|e| e.to_string())?;
    Ok(TopologyEntry {
        label: label.unwrap_or_else(|| body.to_string()),
        source: TopologySource::Generated(spec),
    })
}
