//! The runs of a sweep, in sweep order, and the shards that split them.
//!
//! A sweep is one list of runs (topology x seed x replicas x strategy x swept values x
//! TTL, in that nesting) that the full sweep, `--list-runs`, `--shard I/N` and `merge`
//! all read from this one function, so a run's index means the same thing in each of
//! them. Runs sharing a topology, seed and replica count form a *group*: they share one
//! generated graph and one workload, which is built once per group (and only for the
//! groups a shard has runs in).
//!
//! Shards deal runs out round-robin: run `i` belongs to shard `i mod N`. Neighbouring runs
//! differ in TTL or strategy, and runs of one topology sit together, so dealing them out
//! spreads cheap and expensive runs (and small and large topologies) evenly over the
//! shards, where contiguous slices would give one shard all the largest graph's runs.
//! Shards are numbered from 0, as Slurm numbers the tasks of `--array=0-(N-1)`; with more
//! shards than runs, the last shards are empty (and still valid, so a job array of fixed
//! size works for any sweep).

use std::fmt;
use std::str::FromStr;

use crate::node::StrategySpec;

use super::params::{self, Param, ParamValue, Params};
use super::spec::ResolvedSpec;

/// One run of a sweep: where it sits in sweep order and what it varies.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// Position in sweep order (0-based): the row of `results.csv` it becomes.
    pub index: usize,
    /// Index into [`ResolvedSpec::topologies`].
    pub topology: usize,
    pub seed: u64,
    /// The replica count of the run's workload, when the sweep varies it.
    pub replicas: Option<ParamValue>,
    /// The strategy run (a swept walker count already applied).
    pub strategy: StrategySpec,
    pub ttl: u8,
    /// The run's swept values (the replica count included).
    pub params: Params,
}

impl PlannedRun {
    /// Runs with equal groups share one graph and one workload.
    pub fn group(&self) -> (usize, u64, Option<ParamValue>) {
        (self.topology, self.seed, self.replicas)
    }

    /// `index<TAB>topology<TAB>strategy<TAB>ttl<TAB>seed<TAB>params`, the line
    /// `--list-runs` prints: params as `name=value` joined by `,`, or `-` when the
    /// sweep varies nothing else.
    pub fn line(&self, spec: &ResolvedSpec) -> String {
        let label = spec
            .topologies
            .get(self.topology)
            .map_or("", |t| t.label.as_str());
        let params = if self.params.is_empty() {
            "-".to_string()
        } else {
            self.params
                .0
                .iter()
                .map(|(p, v)| format!("{p}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{}\t{label}\t{}\t{}\t{}\t{params}",
            self.index, self.strategy, self.ttl, self.seed
        )
    }
}

/// Every run of `spec`, in sweep order (the order of `results.csv`).
pub fn plan(spec: &ResolvedSpec) -> Vec<PlannedRun> {
    let mut runs = Vec::with_capacity(spec.run_count());
    let replicas: Vec<Option<ParamValue>> = match spec.values_of(Param::Replicas) {
        Some(values) => values.iter().copied().map(Some).collect(),
        None => vec![None],
    };
    for topology in 0..spec.topologies.len() {
        for &seed in &spec.spec.seeds {
            for &replica in &replicas {
                let base = match replica {
                    Some(v) => Params::default().with(Param::Replicas, v),
                    None => Params::default(),
                };
                for (strategy, ttls) in &spec.strategies {
                    for combo in
                        params::combinations(&spec.swept, *strategy, &base, Param::Replicas)
                    {
                        for &ttl in ttls {
                            runs.push(PlannedRun {
                                index: runs.len(),
                                topology,
                                seed,
                                replicas: replica,
                                strategy: combo.apply_strategy(*strategy),
                                ttl,
                                params: combo.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    runs
}

/// One of `count` slices of a sweep, `--shard INDEX/COUNT`, numbered from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The shard `index` of `count`; `count` at least 1 and `index` below it.
    pub fn new(index: usize, count: usize) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards N must be at least 1".into());
        }
        if index >= count {
            let last = count - 1;
            let range = if last == 0 {
                "I must be 0".to_string()
            } else {
                format!("I is 0 to {last}")
            };
            return Err(format!(
                "there is no shard {index} of {count}: shards are numbered from 0, so {range} \
                 (as Slurm's --array=0-{last})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether run number `run` (its sweep-order index) belongs to this shard.
    pub fn holds(&self, run: usize) -> bool {
        run % self.count == self.index
    }

    /// The runs of `runs` that belong to this shard, in sweep order.
    pub fn select<'a>(&self, runs: &'a [PlannedRun]) -> Vec<&'a PlannedRun> {
        runs.iter().filter(|r| self.holds(r.index)).collect()
    }

    /// How many of `total` runs this shard holds.
    pub fn len_of(&self, total: usize) -> usize {
        (0..total).filter(|&i| self.holds(i)).count()
    }
}

/// `I/N`, as `--shard` takes it.
impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let expected =
            || format!("expected I/N such as 0/4 (shard I of N, I from 0), not `{text}`");
        let (i, n) = text.trim().split_once('/').ok_or_else(expected)?;
        let index: usize = i.trim().parse().map_err(|_| expected())?;
        let count: usize = n.trim().parse().map_err(|_| expected())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_text_round_trips_and_bad_text_is_explained() {
        let shard: Shard = "2/3".parse().unwrap();
        assert_eq!(shard, Shard { index: 2, count: 3 });
        assert_eq!(shard.to_string(), "2/3");
        let err = "3/3".parse::<Shard>().unwrap_err();
        assert!(
            err.contains("numbered from 0") && err.contains("0 to 2"),
            "{err}"
        );
        assert!("0/0".parse::<Shard>().unwrap_err().contains("at least 1"));
        assert!("1-3".parse::<Shard>().unwrap_err().contains("expected I/N"));
        assert!("-1/3"
            .parse::<Shard>()
            .unwrap_err()
            .contains("expected I/N"));
    }

    #[test]
    fn shards_deal_runs_round_robin_and_cover_each_run_once() {
        for count in 1..8 {
            let mut seen = vec![0; 20];
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                for (run, times) in seen.iter_mut().enumerate() {
                    if shard.holds(run) {
                        *times += 1;
                    }
                }
                assert_eq!(
                    shard.len_of(20),
                    (0..20).filter(|r| shard.holds(*r)).count()
                );
            }
            assert!(seen.iter().all(|&n| n == 1), "{count} shards: {seen:?}");
        }
        // More shards than runs: the last ones are empty.
        assert_eq!(Shard::new(4, 5).unwrap().len_of(3), 0);
    }
}
