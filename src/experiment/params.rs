//! Swept parameters: the dimensions a sweep crosses beyond topology x strategy x TTL x
//! seed (link loss, link latency, churn, replicas per file, result-cache capacity, the
//! number of random walkers, which share of the peers a removal takes and how, and
//! whether the overlay is static or dynamic).
//!
//! A spec lists several values under `sweep`:
//!
//! ```json
//! "sweep": { "loss": [0, 0.01, 0.05], "replicas": [10, 50],
//!            "churn": [null, {"mean_session_ms": 60000, "mean_downtime_ms": 20000}] }
//! ```
//!
//! Each listed value replaces the base setting (`sim.loss`, `workload.placement`, ...) for
//! its runs, and the lists are crossed with each other and with the rest of the sweep. A
//! parameter a strategy does not use is not crossed with it: `walkers` only multiplies the
//! `walk:K` strategies (it sets K) and `cache_capacity` only the `+cache` ones, so a flood
//! is not run five times over for five walker counts. Such a run's cell is left empty.
//!
//! The parameters live here, as one closed enum, so the spec checks, the run loop, the CSV
//! columns and the plots that put a parameter on the x axis all see the same list.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::node::{Forwarding, OverlayMode, StrategySpec, MAX_WALKERS};
use crate::sim::{Churn, RemovalKind};

use super::spec::SimSettings;
use super::workload::{Placement, WorkloadSpec};

/// A parameter a sweep can vary, in the order its columns appear in `results.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Param {
    /// Probability that a message put on a link is lost (`sim.loss`).
    Loss,
    /// One-way delay of every link in milliseconds (`sim.latency_ms`).
    LatencyMs,
    /// Peers leaving and rejoining (`sim.churn`), or none.
    Churn,
    /// Copies per file: `per_file` of a `replicas` placement, or on average (`copies` =
    /// replicas x files) for the copy-budget placements.
    Replicas,
    /// Entries of every peer's result cache (`sim.cache_capacity`); `+cache` strategies.
    CacheCapacity,
    /// Random walkers per query: the K of `walk:K` strategies.
    Walkers,
    /// How removed peers are picked (`sim.remove_kind`): `random` or `targeted`.
    RemoveKind,
    /// Share of all peers removed for good (`sim.remove_fraction`), within 0..=1.
    RemoveFraction,
    /// How the overlay is kept (`sim.overlay.mode`): `static` or `dynamic`.
    Overlay,
}

impl Param {
    /// Every parameter, in column order.
    pub const ALL: [Param; 9] = [
        Param::Loss,
        Param::LatencyMs,
        Param::Churn,
        Param::Replicas,
        Param::CacheCapacity,
        Param::Walkers,
        Param::RemoveKind,
        Param::RemoveFraction,
        Param::Overlay,
    ];

    /// The key under `sweep`, the `results.csv` column and the plot file's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Param::Loss => "loss",
            Param::LatencyMs => "latency_ms",
            Param::Churn => "churn",
            Param::Replicas => "replicas",
            Param::CacheCapacity => "cache_capacity",
            Param::Walkers => "walkers",
            Param::RemoveKind => "remove_kind",
            Param::RemoveFraction => "remove_fraction",
            Param::Overlay => "overlay",
        }
    }

    /// The x-axis description when a plot runs along this parameter.
    pub fn axis_label(self) -> &'static str {
        match self {
            Param::Loss => "probability a message is lost on a link",
            Param::LatencyMs => "link latency (ms, one way)",
            Param::Churn => "churn (mean session : mean downtime, ms)",
            Param::Replicas => "copies per file",
            Param::CacheCapacity => "result cache entries per peer",
            Param::Walkers => "random walkers per query",
            Param::RemoveKind => "removal (random failure or targeted attack)",
            Param::RemoveFraction => "share of peers removed",
            Param::Overlay => "overlay (static links, or dynamic: peers dial to keep their degree)",
        }
    }

    /// Whether runs of `strategy` depend on this parameter (and so are crossed with it).
    pub fn applies_to(self, strategy: StrategySpec) -> bool {
        match self {
            Param::Walkers => matches!(strategy.forwarding, Forwarding::Walk { .. }),
            Param::CacheCapacity => strategy.cache,
            Param::Loss
            | Param::LatencyMs
            | Param::Churn
            | Param::Replicas
            | Param::RemoveKind
            | Param::RemoveFraction
            | Param::Overlay => true,
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value of a swept parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamValue {
    /// `loss`, `latency_ms`.
    Number(f64),
    /// `replicas`, `cache_capacity`, `walkers`.
    Count(u64),
    /// `churn`: `None` keeps every peer online.
    Churn(Option<Churn>),
    /// `remove_kind`.
    Kind(RemovalKind),
    /// `overlay`.
    Overlay(OverlayMode),
}

impl ParamValue {
    /// Where the value sits on a numeric x axis; `None` for churn, which is plotted as
    /// labelled categories (a session and a downtime are two numbers, not one).
    pub fn as_number(&self) -> Option<f64> {
        match *self {
            ParamValue::Number(v) => Some(v),
            ParamValue::Count(v) => Some(v as f64),
            ParamValue::Churn(_) | ParamValue::Kind(_) | ParamValue::Overlay(_) => None,
        }
    }
}

/// `results.csv` cell: `0.01`, `50`, `none` or `SESSION_MS:DOWNTIME_MS` (the grammar of
/// `gnutella sim --churn`).
impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Number(v) => write!(f, "{v}"),
            ParamValue::Count(v) => write!(f, "{v}"),
            ParamValue::Churn(None) => f.write_str("none"),
            ParamValue::Kind(RemovalKind::Random) => f.write_str("random"),
            ParamValue::Kind(RemovalKind::Targeted) => f.write_str("targeted"),
            ParamValue::Overlay(OverlayMode::Static) => f.write_str("static"),
            ParamValue::Overlay(OverlayMode::Dynamic) => f.write_str("dynamic"),
            ParamValue::Churn(Some(c)) => {
                write!(f, "{}:{}", c.mean_session_ms, c.mean_downtime_ms)
            }
        }
    }
}

impl Serialize for ParamValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ParamValue::Number(v) => s.serialize_f64(*v),
            ParamValue::Count(v) => s.serialize_u64(*v),
            ParamValue::Churn(c) => c.serialize(s),
            ParamValue::Kind(k) => k.serialize(s),
            ParamValue::Overlay(m) => m.serialize(s),
        }
    }
}

/// The swept values one run used, in [`Param`] order; parameters the sweep does not vary,
/// or that the run's strategy does not use, are absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(pub Vec<(Param, ParamValue)>);

impl Params {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This run's value of `param`, if it has one.
    pub fn get(&self, param: Param) -> Option<ParamValue> {
        self.0.iter().find(|(p, _)| *p == param).map(|(_, v)| *v)
    }

    /// The same values without `param` (the key of a series that runs along `param`).
    pub fn without(&self, param: Param) -> Params {
        Params(
            self.0
                .iter()
                .filter(|(p, _)| *p != param)
                .copied()
                .collect(),
        )
    }

    /// The same values with `param` set to `value`, kept in [`Param`] order.
    pub fn with(&self, param: Param, value: ParamValue) -> Params {
        let mut out = self.without(param);
        let at = out.0.partition_point(|(p, _)| *p < param);
        out.0.insert(at, (param, value));
        out
    }

    /// Applies the values to a run's link and node settings and returns them.
    pub fn apply_sim(&self, base: &SimSettings) -> SimSettings {
        let mut sim = base.clone();
        for (param, value) in &self.0 {
            match (param, value) {
                (Param::Loss, ParamValue::Number(v)) => sim.loss = *v,
                (Param::LatencyMs, ParamValue::Number(v)) => sim.latency_ms = *v,
                (Param::Churn, ParamValue::Churn(c)) => sim.churn = *c,
                (Param::RemoveKind, ParamValue::Kind(k)) => sim.remove_kind = *k,
                (Param::RemoveFraction, ParamValue::Number(v)) => sim.remove_fraction = *v,
                (Param::Overlay, ParamValue::Overlay(m)) => sim.overlay.mode = *m,
                (Param::CacheCapacity, ParamValue::Count(v)) => {
                    sim.cache_capacity = usize::try_from(*v).unwrap_or(usize::MAX)
                }
                _ => {}
            }
        }
        sim
    }

    /// The strategy a run executes: `walk:K` gets this run's walker count.
    pub fn apply_strategy(&self, mut strategy: StrategySpec) -> StrategySpec {
        if let (Some(ParamValue::Count(k)), Forwarding::Walk { .. }) =
            (self.get(Param::Walkers), strategy.forwarding)
        {
            strategy.forwarding = Forwarding::Walk {
                walkers: u32::try_from(k).unwrap_or(MAX_WALKERS),
            };
        }
        strategy
    }
}

/// `{"loss": 0.01, "replicas": 50}` in summary.json's runs and means.
impl Serialize for Params {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (param, value) in &self.0 {
            map.serialize_entry(param.name(), value)?;
        }
        map.end()
    }
}

/// The workload of runs with `replicas` copies per file (see [`Param::Replicas`]).
pub fn with_replicas(base: &WorkloadSpec, replicas: Option<ParamValue>) -> WorkloadSpec {
    let mut workload = base.clone();
    if let Some(ParamValue::Count(r)) = replicas {
        let r = usize::try_from(r).unwrap_or(usize::MAX);
        let total = r.saturating_mul(workload.files);
        workload.placement = match workload.placement {
            Placement::Replicas { .. } => Placement::Replicas { per_file: r },
            Placement::Uniform { .. } => Placement::Uniform { copies: total },
            Placement::Proportional { .. } => Placement::Proportional { copies: total },
            Placement::SquareRoot { .. } => Placement::SquareRoot { copies: total },
        };
    }
    workload
}

/// The `sweep` object of a spec: for each parameter, the values to cross (each list
/// replaces the base setting of `sim` or `workload`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<Vec<f64>>,
    /// `null` for no churn, or `{"mean_session_ms": S, "mean_downtime_ms": D}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<Vec<Option<Churn>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_capacity: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walkers: Option<Vec<u64>>,
    /// `"random"` or `"targeted"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_kind: Option<Vec<RemovalKind>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_fraction: Option<Vec<f64>>,
    /// `"static"` or `"dynamic"` (the rest of the policy comes from `sim.overlay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<Vec<OverlayMode>>,
}

impl SweepSpec {
    /// Nothing swept (the spec has no `sweep`, or an empty one).
    pub fn is_empty(&self) -> bool {
        *self == SweepSpec::default()
    }

    /// The swept parameters with their checked values, in [`Param`] order; errors name
    /// the key and the index (`` `sweep.loss[2]` must be within 0..=1, not 1.5 ``).
    /// `strategies` are the spec's, to check that a parameter has a strategy to act on.
    pub fn resolve(
        &self,
        strategies: &[StrategySpec],
    ) -> Result<Vec<(Param, Vec<ParamValue>)>, String> {
        let mut out = Vec::new();
        let numbers = |param: Param, list: &[f64], ok: fn(f64) -> bool, what: &str| {
            list.iter()
                .enumerate()
                .map(|(i, &v)| {
                    if ok(v) {
                        Ok(ParamValue::Number(v))
                    } else {
                        Err(format!("`sweep.{param}[{i}]` must be {what}, not {v}"))
                    }
                })
                .collect::<Result<Vec<_>, String>>()
        };
        let counts = |param: Param, list: &[u64], max: u64| {
            list.iter()
                .enumerate()
                .map(|(i, &v)| {
                    if (1..=max).contains(&v) {
                        Ok(ParamValue::Count(v))
                    } else {
                        Err(format!(
                            "`sweep.{param}[{i}]` must be within 1..={max}, not {v}"
                        ))
                    }
                })
                .collect::<Result<Vec<_>, String>>()
        };
        for param in Param::ALL {
            let values = match param {
                Param::Loss => self.loss.as_deref().map(|l| {
                    numbers(
                        param,
                        l,
                        |v| (0.0..=1.0).contains(&v),
                        "a probability within 0..=1",
                    )
                }),
                Param::LatencyMs => self.latency_ms.as_deref().map(|l| {
                    numbers(
                        param,
                        l,
                        |v| v.is_finite() && v >= 0.0,
                        "a number of milliseconds >= 0",
                    )
                }),
                Param::Churn => self.churn.as_deref().map(|list| {
                    list.iter()
                        .enumerate()
                        .map(|(i, c)| match c {
                            Some(churn) => check_churn(churn)
                                .map(|()| ParamValue::Churn(Some(*churn)))
                                .map_err(|m| format!("`sweep.churn[{i}]`: {m}")),
                            None => Ok(ParamValue::Churn(None)),
                        })
                        .collect()
                }),
                Param::Replicas => self
                    .replicas
                    .as_deref()
                    .map(|l| counts(param, l, u64::from(u32::MAX))),
                Param::CacheCapacity => self
                    .cache_capacity
                    .as_deref()
                    .map(|l| counts(param, l, u64::from(u32::MAX))),
                Param::Walkers => self
                    .walkers
                    .as_deref()
                    .map(|l| counts(param, l, u64::from(MAX_WALKERS))),
                Param::RemoveKind => self
                    .remove_kind
                    .as_deref()
                    .map(|l| Ok(l.iter().map(|k| ParamValue::Kind(*k)).collect())),
                Param::RemoveFraction => self.remove_fraction.as_deref().map(|l| {
                    numbers(
                        param,
                        l,
                        |v| (0.0..=1.0).contains(&v),
                        "a share of peers within 0..=1",
                    )
                }),
                Param::Overlay => self
                    .overlay
                    .as_deref()
                    .map(|l| Ok(l.iter().map(|m| ParamValue::Overlay(*m)).collect())),
            };
            let Some(values) = values else { continue };
            let values = values?;
            if values.is_empty() {
                return Err(format!("`sweep.{param}` must list at least one value"));
            }
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    return Err(format!("`sweep.{param}` lists {v} twice"));
                }
            }
            if !strategies.iter().any(|s| param.applies_to(*s)) {
                let needs = match param {
                    Param::Walkers => "a `walk:K` strategy (it sets K)",
                    _ => "a `+cache` strategy",
                };
                return Err(format!("`sweep.{param}` needs {needs} in `strategies`"));
            }
            out.push((param, values));
        }
        if self.walkers.is_some() {
            // Every walk:K becomes walk:<each value>: two that differ only in K would run twice.
            let walks: Vec<&StrategySpec> = strategies
                .iter()
                .filter(|s| matches!(s.forwarding, Forwarding::Walk { .. }))
                .collect();
            for (i, a) in walks.iter().enumerate() {
                if let Some(b) = walks[..i].iter().find(|b| b.cache == a.cache) {
                    return Err(format!(
                        "`sweep.walkers` sets K of every walk strategy: `{b}` and `{a}` would run the same walks; list one of them"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The checks a churn setting needs before it reaches the simulator.
pub fn check_churn(churn: &Churn) -> Result<(), String> {
    if !(churn.mean_session_ms.is_finite() && churn.mean_session_ms > 0.0) {
        return Err(format!(
            "`mean_session_ms` must be a number of milliseconds > 0, not {}",
            churn.mean_session_ms
        ));
    }
    if !(churn.mean_downtime_ms.is_finite() && churn.mean_downtime_ms >= 0.0) {
        return Err(format!(
            "`mean_downtime_ms` must be a number of milliseconds >= 0, not {}",
            churn.mean_downtime_ms
        ));
    }
    Ok(())
}

/// Every combination of the swept values that applies to `strategy`, in [`Param`] order
/// with the last parameter varying fastest, starting from `base`; `except` leaves one
/// parameter out (the run loop crosses replicas itself, one workload per value).
pub fn combinations(
    swept: &[(Param, Vec<ParamValue>)],
    strategy: StrategySpec,
    base: &Params,
    except: Param,
) -> Vec<Params> {
    let mut out = vec![base.clone()];
    for (param, values) in swept {
        if *param == except || !param.applies_to(strategy) {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|prefix| values.iter().map(move |v| prefix.with(*param, *v)))
            .collect();
    }
    out
}
