//! The experiment spec: which topologies, strategies, TTLs and seeds a sweep crosses, with
//! which workload and link model, and which further parameters it varies (`sweep`, see
//! [`super::params`]), as a JSON file users write.
//!
//! ```json
//! { "name": "walkers",
//!   "topologies": ["random:n=2000,d=4", "file:../data/topologies/p2p-Gnutella08.txt"],
//!   "strategies": ["flood", "ring", "walk:16", "flood+cache"],
//!   "ttls": [2, 3, 4, 5],
//!   "ttls_by_strategy": { "walk:16": [64, 128] },
//!   "seeds": [1, 2],
//!   "workload": { "files": 100, "placement": {"kind": "replicas", "per_file": 20}, "queries": 100 },
//!   "sim": { "latency_ms": 10 },
//!   "sweep": { "loss": [0, 0.01, 0.05] } }
//! ```
//!
//! Strategy names are the ones `gnutella sim --strategy` takes: [`StrategySpec`]'s grammar.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::node::{CacheMode, OverlayConfig, RoutingConfig, StrategyParams, StrategySpec};
use crate::sim::{Churn, RemovalKind};
use crate::topology::GenSpec;

use super::over_time::OverTimeSpec;
use super::params::{check_churn, Param, ParamValue, SweepSpec};
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

/// Link model and node settings shared by every run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// One-way delay of every link, in milliseconds.
    pub latency_ms: f64,
    /// Probability that a message is lost on a link.
    pub loss: f64,
    /// Peers leaving and rejoining (`{"mean_session_ms": S, "mean_downtime_ms": D}`);
    /// `null`, the default, keeps every peer online. Queries whose origin is offline
    /// when they are due are not issued (and not counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<Churn>,
    /// The nodes' broadcast limit (hops+TTL above it is trimmed); raise it for walkers.
    #[serde(deserialize_with = "crate::validate::ttl")]
    pub max_ttl: u8,
    /// How long an expanding ring waits for a hit before the next, wider round (and a
    /// dynamic query, `dq`, after each step).
    pub ring_wait_ms: u64,
    /// Walkers check back with the origin every this many hops.
    pub walk_check_every: u8,
    /// Result cache settings for `flood+cache`: `answer-and-forward` (the default, as in
    /// the live network) only shortens the way back; `answer-and-stop` also saves the
    /// query messages beyond the answering peer.
    pub cache_mode: CacheMode,
    pub cache_capacity: usize,
    pub cache_max_age_secs: u64,
    /// Duplicate-table and reverse-route capacity per node: it only has to cover the
    /// searches in flight at once, and a sweep over large graphs holds one table per
    /// peer reached. The routing default (100,000) suits a long-lived live peer.
    pub seen_capacity: usize,
    /// How long after the last query a run keeps collecting hits, in milliseconds.
    pub settle_ms: u64,
    /// How removed peers are picked: `random` (a seeded sample) or `targeted` (highest
    /// degree first), as `gnutella sim --remove`.
    #[serde(skip_serializing_if = "is_random")]
    pub remove_kind: RemovalKind,
    /// Share of all peers removed for good (0, the default, removes nobody).
    #[serde(skip_serializing_if = "is_zero")]
    pub remove_fraction: f64,
    /// Virtual time of the removal, ms (0: before the first query).
    #[serde(skip_serializing_if = "is_zero_ms")]
    pub remove_at_ms: u64,
    /// How the overlay is kept, as a topology config's `overlay` block (without its
    /// bootstrap list): `{"mode": "static"}` (the default) links exactly the graph's
    /// links; `{"mode": "dynamic", "min_degree": 4, "max_degree": 8, "host_cache": 100}`
    /// makes them a start that every peer maintains by dialling from its host cache, as
    /// `gnutella sim --overlay dynamic`.
    #[serde(skip_serializing_if = "is_default_overlay")]
    pub overlay: OverlayConfig,
}

fn is_default_overlay(overlay: &OverlayConfig) -> bool {
    *overlay == OverlayConfig::default()
}

fn is_random(kind: &RemovalKind) -> bool {
    *kind == RemovalKind::Random
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_ms(v: &u64) -> bool {
    *v == 0
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            latency_ms: 10.0,
            loss: 0.0,
            churn: None,
            max_ttl: 7,
            ring_wait_ms: 300,
            walk_check_every: 4,
            cache_mode: CacheMode::AnswerAndForward,
            cache_capacity: 1024,
            cache_max_age_secs: 3600,
            seen_capacity: 64,
            settle_ms: 30_000,
            remove_kind: RemovalKind::Random,
            remove_fraction: 0.0,
            remove_at_ms: 0,
            overlay: OverlayConfig::default(),
        }
    }
}

impl SimSettings {
    /// The routing configuration of every node in a run of `strategy` at TTL `ttl`: the
    /// routing defaults with this sweep's settings.
    pub fn routing(&self, strategy: StrategySpec, ttl: u8) -> RoutingConfig {
        let mut routing = RoutingConfig {
            max_ttl: self.max_ttl.max(ttl),
            seen_capacity: self.seen_capacity,
            route_capacity: self.seen_capacity,
            ..RoutingConfig::default()
        };
        routing.cache.capacity = self.cache_capacity;
        routing.cache.max_age_secs = self.cache_max_age_secs;
        let params = StrategyParams {
            ring_wait_ms: self.ring_wait_ms,
            walk_check_every: self.walk_check_every,
            cache_mode: self.cache_mode,
            // A dynamic query's step waits for the hits of the last one, as a ring round.
            dq_wait_ms: self.ring_wait_ms,
        };
        strategy.apply(&mut routing, &params);
        routing
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
    #[serde(deserialize_with = "crate::validate::ttls")]
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
    /// Further parameters to vary, each a list crossed with the rest of the sweep:
    /// `loss`, `latency_ms`, `churn`, `replicas`, `cache_capacity`, `walkers`,
    /// `remove_kind`, `remove_fraction`, `overlay` (see `params`).
    #[serde(default, skip_serializing_if = "SweepSpec::is_empty")]
    pub sweep: SweepSpec,
    /// Figures against virtual time (`{"bucket_secs": 5}`): every run records them and
    /// the sweep writes `over_time.csv` and `over_time.svg` (see `over_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_time: Option<OverTimeSpec>,
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
    pub strategies: Vec<(StrategySpec, Vec<u8>)>,
    /// The swept parameters and their values, in [`Param`] order (empty: none swept).
    pub swept: Vec<(Param, Vec<ParamValue>)>,
}

impl ResolvedSpec {
    /// Runs in the sweep: topologies x seeds x, per strategy, TTLs x the swept values
    /// that apply to it.
    pub fn run_count(&self) -> usize {
        let per_seed: usize = self
            .strategies
            .iter()
            .map(|(strategy, ttls)| {
                let crossed: usize = self
                    .swept
                    .iter()
                    .filter(|(p, _)| p.applies_to(*strategy))
                    .map(|(_, values)| values.len())
                    .product();
                ttls.len() * crossed
            })
            .sum();
        self.topologies.len() * per_seed * self.spec.seeds.len()
    }

    /// The values of `param` this sweep varies, if it varies it.
    pub fn values_of(&self, param: Param) -> Option<&[ParamValue]> {
        self.swept
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, v)| v.as_slice())
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
        self.resolve_locating(&|file| find_file(file, base))
    }

    /// Checks and parses the spec as [`ExperimentSpec::resolve`] does, but takes each
    /// `file:` topology path as written, without looking for the file: for work that needs
    /// the labels and the runs but reads no graph (merging a sweep's shards, which may
    /// happen on another machine or in another folder than the runs did).
    pub fn resolve_without_reading(self) -> Result<ResolvedSpec, SpecError> {
        self.resolve_locating(&|file| Ok(PathBuf::from(file)))
    }

    fn resolve_locating(
        self,
        locate: &dyn Fn(&str) -> Result<PathBuf, String>,
    ) -> Result<ResolvedSpec, SpecError> {
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
        if !(0.0..=1.0).contains(&self.sim.remove_fraction) {
            return Err(invalid(format!(
                "`sim.remove_fraction` must be a share of peers within 0..=1, not {}",
                self.sim.remove_fraction
            )));
        }
        if let Some(churn) = &self.sim.churn {
            check_churn(churn).map_err(|m| invalid(format!("`sim.churn`: {m}")))?;
        }
        self.sim
            .overlay
            .validate()
            .map_err(|m| invalid(format!("sim.{m}")))?;
        if self.over_time.is_some_and(|o| o.bucket_secs == 0) {
            return Err(invalid("`over_time.bucket_secs` must be at least 1".into()));
        }
        let mut topologies = Vec::new();
        for (i, text) in self.topologies.iter().enumerate() {
            let entry = parse_topology(text, locate)
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
            let choice = text
                .parse::<StrategySpec>()
                .map_err(|m| invalid(format!("`strategies[{i}]`: {m}")))?;
            let ttls = self
                .ttls_by_strategy
                .get(text)
                .unwrap_or(&self.ttls)
                .clone();
            if ttls.is_empty() {
                return Err(invalid(format!("strategy `{text}` has no TTLs to run")));
            }
            if let Some(e) = ttls
                .iter()
                .find_map(|&t| crate::validate::check_ttl(t).err())
            {
                return Err(invalid(format!("`{text}`: {e}")));
            }
            strategies.push((choice, ttls));
        }
        let chosen: Vec<StrategySpec> = strategies.iter().map(|(s, _)| *s).collect();
        let swept = self.sweep.resolve(&chosen).map_err(invalid)?;
        Ok(ResolvedSpec {
            spec: self,
            topologies,
            strategies,
            swept,
        })
    }
}

/// Where a `file:` topology is: the path as given when it exists (from the current
/// directory), else beside the spec.
fn find_file(file: &str, base: Option<&Path>) -> Result<PathBuf, String> {
    let given = PathBuf::from(file);
    if given.exists() {
        Ok(given)
    } else if given.is_absolute() {
        Err(format!("file `{file}` not found"))
    } else {
        match base.map(|b| b.join(&given)) {
            Some(beside) if beside.exists() => Ok(beside),
            _ => Err(format!("file `{file}` not found")),
        }
    }
}

fn parse_topology(
    text: &str,
    locate: &dyn Fn(&str) -> Result<PathBuf, String>,
) -> Result<TopologyEntry, String> {
    let (body, label) = match text.split_once('|') {
        Some((body, rest)) => match rest.trim().strip_prefix("label=") {
            Some(label) if !label.is_empty() => (body.trim(), Some(label.to_string())),
            _ => return Err("after `|` expected `label=NAME`".into()),
        },
        None => (text.trim(), None),
    };
    if let Some(file) = body.strip_prefix("file:") {
        let path = locate(file)?;
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
