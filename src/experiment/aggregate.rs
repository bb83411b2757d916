//! Means over seeds, with their spread: what `summary.json`'s `means` and every plot show.
//!
//! A mean alone hides whether two strategies differ by more than a reseeded graph and
//! workload would move them, so every mean comes with the sample standard deviation of
//! the runs it averages (`std`, with n - 1 in the denominator; `null` from a single run)
//! and how many runs had the figure at all (`n`: a run whose queries all failed has no
//! first-hit hops). Plots draw the deviation as error bars.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::params::Params;
use super::summary::{Figure, Summary};
use super::sweep::RunResult;

/// One value per [`Figure`]; serialised as a map in [`Figure::ALL`] order.
#[derive(Clone, Debug, PartialEq)]
pub struct PerFigure<T>(pub [T; Figure::ALL.len()]);

impl<T: Copy> PerFigure<T> {
    pub fn get(&self, figure: Figure) -> T {
        let i = Figure::ALL.iter().position(|f| *f == figure).unwrap_or(0);
        self.0[i]
    }
}

impl<T: Serialize> Serialize for PerFigure<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (figure, value) in Figure::ALL.iter().zip(&self.0) {
            map.serialize_entry(figure.name(), value)?;
        }
        map.end()
    }
}

/// The runs over seeds of one topology x strategy x TTL x swept values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggregateRow {
    pub topology: String,
    pub strategy: String,
    pub ttl: u8,
    /// The swept values of these runs (absent when nothing is swept).
    #[serde(skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    /// Runs averaged (one per seed).
    pub seeds: usize,
    /// Every figure is the mean of the runs' figures (undefined ones left out);
    /// `queries` is the total.
    pub summary: Summary,
    /// Sample standard deviation of each figure over the runs; `None` from fewer than two.
    pub std: PerFigure<Option<f64>>,
    /// How many runs each figure's mean and deviation are taken over.
    pub n: PerFigure<usize>,
}

impl AggregateRow {
    /// The mean of `figure`, if any run had it.
    pub fn mean(&self, figure: Figure) -> Option<f64> {
        figure.of(&self.summary)
    }

    /// The standard deviation of `figure` over seeds, 0 where there is none to draw.
    pub fn sd(&self, figure: Figure) -> f64 {
        self.std.get(figure).unwrap_or(0.0)
    }
}

/// Means and spreads over seeds, in first-appearance order of (topology, strategy, TTL,
/// swept values).
pub fn aggregate(results: &[RunResult]) -> Vec<AggregateRow> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for r in results {
        // Swept values are floats: their text is the key (the CSV shows the same text).
        let params: Vec<String> = r.params.0.iter().map(|(p, v)| format!("{p}={v}")).collect();
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            r.topology,
            r.strategy,
            r.ttl,
            params.join("\u{0}")
        );
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    order
        .iter()
        .filter_map(|key| groups.get(key))
        .filter_map(|runs| {
            let first = runs.first()?;
            let summaries: Vec<&Summary> = runs.iter().map(|r| &r.summary).collect();
            let stats = Figure::ALL.map(|f| spread(summaries.iter().filter_map(|s| f.of(s))));
            Some(AggregateRow {
                topology: first.topology.clone(),
                strategy: first.strategy.clone(),
                ttl: first.ttl,
                params: first.params.clone(),
                seeds: runs.len(),
                summary: mean_summary(&summaries),
                std: PerFigure(stats.map(|(_, sd)| sd)),
                n: PerFigure(stats.map(|(n, _)| n)),
            })
        })
        .collect()
}

/// Count and sample standard deviation (n - 1 denominator; `None` below two values).
fn spread(values: impl Iterator<Item = f64>) -> (usize, Option<f64>) {
    let values: Vec<f64> = values.collect();
    let n = values.len();
    if n < 2 {
        return (n, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let squares = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>();
    (n, Some((squares / (n - 1) as f64).sqrt()))
}

fn mean_summary(summaries: &[&Summary]) -> Summary {
    let n = summaries.len().max(1) as f64;
    let mean = |f: fn(&Summary) -> f64| summaries.iter().map(|s| f(s)).sum::<f64>() / n;
    let mean_opt = |f: fn(&Summary) -> Option<f64>| {
        let values: Vec<f64> = summaries.iter().filter_map(|s| f(s)).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    Summary {
        queries: summaries.iter().map(|s| s.queries).sum(),
        success_rate: mean(|s| s.success_rate),
        messages_per_query: mean(|s| s.messages_per_query),
        duplicates_fraction: mean(|s| s.duplicates_fraction),
        peers_reached_per_query: mean(|s| s.peers_reached_per_query),
        first_hit_hops_mean: mean_opt(|s| s.first_hit_hops_mean),
        latency_ms_mean: mean_opt(|s| s.latency_ms_mean),
        hits_per_query: mean(|s| s.hits_per_query),
        hit_messages_per_query: mean(|s| s.hit_messages_per_query),
        messages_per_node_mean: mean(|s| s.messages_per_node_mean),
        messages_per_node_max: (summaries
            .iter()
            .map(|s| s.messages_per_node_max as f64)
            .sum::<f64>()
            / n)
            .round() as u64,
        cache_hit_rate: mean(|s| s.cache_hit_rate),
        largest_component_fraction: mean_opt(|s| s.largest_component_fraction),
        mean_degree_start: mean_opt(|s| s.mean_degree_start),
        mean_degree_end: mean_opt(|s| s.mean_degree_end),
        dials: mean_count(summaries, |s| s.dials),
        dials_failed: mean_count(summaries, |s| s.dials_failed),
        links_made: mean_count(summaries, |s| s.links_made),
        ultrapeer_load_mean: mean_opt(|s| s.ultrapeer_load_mean),
        ultrapeer_load_max: mean_count(summaries, |s| s.ultrapeer_load_max),
        leaf_load_mean: mean_opt(|s| s.leaf_load_mean),
        leaf_load_max: mean_count(summaries, |s| s.leaf_load_max),
    }
}

/// The rounded mean of a count the runs may lack (dial counts of static runs).
fn mean_count(summaries: &[&Summary], f: fn(&Summary) -> Option<u64>) -> Option<u64> {
    let values: Vec<u64> = summaries.iter().filter_map(|s| f(s)).collect();
    (!values.is_empty())
        .then(|| (values.iter().sum::<u64>() as f64 / values.len() as f64).round() as u64)
}
