//! Figures over virtual time: how an overlay heals after a removal, or holds up under
//! churn.
//!
//! A summary gives one number per run, but a removal at 60 s or a stream of departures
//! is a story in time: the mean degree drops, then (in a dynamic overlay) climbs back as
//! survivors dial. With `"over_time": {"bucket_secs": 5}` in a spec every run records the
//! simulator's per-second rows ([`SimReport::timeseries`](crate::sim::SimReport)) and
//! folds them into buckets of that many virtual seconds:
//!
//! - `online_peers`, `mean_degree`, `largest_component_fraction`: the mean over the
//!   bucket's seconds of the state at the end of each second;
//! - `queries_started`, `queries_succeeded`: the searches that started in the bucket, and
//!   those of them that found a hit (by the end of the run), so the two divide into the
//!   bucket's success rate.
//!
//! The sweep then writes `over_time.csv` (one row per run and bucket), `over_time` in
//! `summary.json` (per line, the means over seeds with their standard deviation) and
//! `over_time.svg` (mean degree, success rate and largest component against time).

use serde::{Deserialize, Serialize};

use crate::sim::SecondRow;

use super::params::Params;
use super::sweep::RunResult;

/// The spec's `over_time` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverTimeSpec {
    /// Virtual seconds per bucket (at least 1).
    pub bucket_secs: u64,
}

/// One bucket of one run (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The bucket covers virtual seconds `from_s..to_s`.
    pub from_s: u64,
    pub to_s: u64,
    pub online_peers: f64,
    pub mean_degree: f64,
    pub largest_component_fraction: f64,
    pub queries_started: u64,
    pub queries_succeeded: u64,
}

impl Bucket {
    /// Succeeded / started; `None` when no search started in the bucket.
    pub fn success_rate(&self) -> Option<f64> {
        (self.queries_started > 0)
            .then(|| self.queries_succeeded as f64 / self.queries_started as f64)
    }
}

/// The per-second rows of a run folded into buckets of `bucket_secs` (a last bucket
/// the run ended in may be shorter).
pub fn buckets(rows: &[SecondRow], bucket_secs: u64) -> Vec<Bucket> {
    let size = bucket_secs.max(1) as usize;
    rows.chunks(size)
        .map(|chunk| {
            let n = chunk.len() as f64;
            let mean = |f: fn(&SecondRow) -> f64| chunk.iter().map(f).sum::<f64>() / n;
            Bucket {
                from_s: chunk.first().map_or(0, |r| r.second),
                to_s: chunk.last().map_or(0, |r| r.second + 1),
                online_peers: mean(|r| f64::from(r.overlay.online)),
                mean_degree: mean(|r| r.overlay.mean_degree),
                largest_component_fraction: mean(|r| r.overlay.largest_component_fraction),
                queries_started: chunk.iter().map(|r| r.queries_started).sum(),
                queries_succeeded: chunk.iter().map(|r| r.queries_succeeded).sum(),
            }
        })
        .collect()
}

/// A mean over seeds with its sample standard deviation (`None` from fewer than two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub std: Option<f64>,
}

impl Spread {
    fn of(values: &[f64]) -> Option<Spread> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = (n > 1).then(|| {
            let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (squares / (n - 1) as f64).sqrt()
        });
        Some(Spread { mean, std })
    }

    /// The deviation to draw as an error bar (0: none).
    pub fn sd(&self) -> f64 {
        self.std.unwrap_or(0.0)
    }
}

/// One bucket of a line, over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinePoint {
    pub from_s: u64,
    pub to_s: u64,
    pub mean_degree: Option<Spread>,
    pub largest_component_fraction: Option<Spread>,
    /// Over the seeds where a search started in the bucket.
    pub success_rate: Option<Spread>,
    /// Searches started in the bucket, all seeds together.
    pub queries_started: u64,
}

/// The runs over seeds of one topology x strategy x TTL x swept values, bucket by bucket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub topology: String,
    pub strategy: String,
    pub ttl: u8,
    #[serde(skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    pub seeds: usize,
    pub points: Vec<LinePoint>,
}

/// Means over seeds of every line's buckets, in first-appearance order (as `means`).
pub fn lines(results: &[RunResult]) -> Vec<Line> {
    let mut groups: Vec<(Line, Vec<&RunResult>)> = Vec::new();
    for r in results.iter().filter(|r| !r.over_time.is_empty()) {
        let same = |l: &Line| {
            l.topology == r.topology
                && l.strategy == r.strategy
                && l.ttl == r.ttl
                && l.params == r.params
        };
        match groups.iter_mut().find(|(l, _)| same(l)) {
            Some((_, runs)) => runs.push(r),
            None => groups.push((
                Line {
                    topology: r.topology.clone(),
                    strategy: r.strategy.clone(),
                    ttl: r.ttl,
                    params: r.params.clone(),
                    seeds: 0,
                    points: Vec::new(),
                },
                vec![r],
            )),
        }
    }
    groups
        .into_iter()
        .map(|(mut line, runs)| {
            line.seeds = runs.len();
            let longest = runs.iter().map(|r| r.over_time.len()).max().unwrap_or(0);
            line.points = (0..longest)
                .map(|i| {
                    let at: Vec<&Bucket> = runs.iter().filter_map(|r| r.over_time.get(i)).collect();
                    let values = |f: fn(&Bucket) -> Option<f64>| {
                        at.iter().filter_map(|b| f(b)).collect::<Vec<_>>()
                    };
                    LinePoint {
                        from_s: at.first().map_or(0, |b| b.from_s),
                        to_s: at.iter().map(|b| b.to_s).max().unwrap_or(0),
                        mean_degree: Spread::of(&values(|b| Some(b.mean_degree))),
                        largest_component_fraction: Spread::of(&values(|b| {
                            Some(b.largest_component_fraction)
                        })),
                        success_rate: Spread::of(&values(Bucket::success_rate)),
                        queries_started: at.iter().map(|b| b.queries_started).sum(),
                    }
                })
                .collect();
            line
        })
        .collect()
}

/// The `over_time.csv` columns after the run's own (topology ... seed, swept values).
pub const CSV_COLUMNS: [&str; 8] = [
    "from_s",
    "to_s",
    "online_peers",
    "mean_degree",
    "largest_component_fraction",
    "queries_started",
    "queries_succeeded",
    "success_rate",
];

impl Bucket {
    /// The bucket's cells, in [`CSV_COLUMNS`] order (success empty when nothing started).
    pub fn csv_values(&self) -> Vec<String> {
        vec![
            self.from_s.to_string(),
            self.to_s.to_string(),
            self.online_peers.to_string(),
            self.mean_degree.to_string(),
            self.largest_component_fraction.to_string(),
            self.queries_started.to_string(),
            self.queries_succeeded.to_string(),
            self.success_rate()
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::OverlayShape;

    fn row(second: u64, degree: f64, started: u64, succeeded: u64) -> SecondRow {
        SecondRow {
            second,
            overlay: OverlayShape {
                online: 10,
                mean_degree: degree,
                largest_component_fraction: 1.0,
            },
            queries_started: started,
            queries_succeeded: succeeded,
        }
    }

    #[test]
    fn seconds_fold_into_buckets_with_means_and_sums() {
        let rows = [
            row(0, 4.0, 1, 1),
            row(1, 2.0, 1, 0),
            row(2, 3.0, 2, 1),
            row(3, 3.0, 0, 0),
            row(4, 5.0, 0, 0),
        ];
        let b = buckets(&rows, 2);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].from_s, b[0].to_s), (0, 2));
        assert_eq!(b[0].mean_degree, 3.0);
        assert_eq!(b[0].success_rate(), Some(0.5));
        assert_eq!(b[1].success_rate(), Some(0.5));
        assert_eq!((b[2].from_s, b[2].to_s), (4, 5), "the last one is shorter");
        assert_eq!(b[2].success_rate(), None, "nothing started");
    }
}
