//! Running a sweep: every topology x strategy x TTL x seed of a spec through the
//! simulator, then `results.csv`, `summary.json` and the plots.
//!
//! For one topology and seed, every strategy and TTL runs on the same graph, the same
//! file placement and the same queries, so differences between rows come from the
//! strategy and TTL alone. Runs are independent and spread over worker threads; results
//! are put back in sweep order, so the output bytes do not depend on scheduling.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::node::Time;
use crate::sim::{Latency, Links, Placement, PlannedQuery, SimConfig, SimFile, Simulation};
use crate::topology::Graph;

use super::atomic_write;
use super::plot::{self, Bars, PlotError, Series, YScale};
use super::spec::{ResolvedSpec, TopologySource};
use super::summary::{write_csv_row, Summary};
use super::workload::{Workload, WorkloadError};
use crate::node::StrategySpec;

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("topology `{label}`: {message}")]
    Topology { label: String, message: String },
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// One simulation of the sweep and its summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub topology: String,
    pub nodes: usize,
    pub links: usize,
    pub strategy: String,
    pub ttl: u8,
    pub seed: u64,
    pub summary: Summary,
}

/// The mean over seeds of one topology x strategy x TTL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateRow {
    pub topology: String,
    pub strategy: String,
    pub ttl: u8,
    pub seeds: usize,
    /// Every figure is the mean of the runs' figures (undefined ones left out).
    pub summary: Summary,
}

/// Runs every simulation of `spec` on `jobs` threads (at least one), calling `progress`
/// after each run finishes.
pub fn run_sweep(
    spec: &ResolvedSpec,
    jobs: usize,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Result<Vec<RunResult>, SweepError> {
    let mut results = Vec::with_capacity(spec.run_count());
    for topology in &spec.topologies {
        let mut file_graph: Option<Graph> = None;
        for &seed in &spec.spec.seeds {
            let graph = match &topology.source {
                TopologySource::Generated(gen) => {
                    gen.generate(seed).map_err(|e| SweepError::Topology {
                        label: topology.label.clone(),
                        message: e.to_string(),
                    })?
                }
                TopologySource::File(path) => match &file_graph {
                    Some(graph) => graph.clone(),
                    None => {
                        let loaded =
                            crate::topology::load(path).map_err(|e| SweepError::Topology {
                                label: topology.label.clone(),
                                message: e.to_string(),
                            })?;
                        file_graph = Some(loaded.graph.clone());
                        loaded.graph
                    }
                },
            };
            let nodes = graph.node_count();
            let workload = Workload::generate(&spec.spec.workload, nodes, seed)?;
            let placement = placement_of(&workload);
            let links = Links::from_graph(&graph);
            let mut cases = Vec::new();
            for (strategy, ttls) in &spec.strategies {
                for &ttl in ttls {
                    cases.push((*strategy, ttl));
                }
            }
            let ctx = RunContext {
                spec,
                label: &topology.label,
                nodes,
                link_count: graph.link_count(),
                links: &links,
                placement: &placement,
                workload: &workload,
                seed,
            };
            results.extend(run_parallel(&ctx, &cases, jobs, progress));
        }
    }
    Ok(results)
}

struct RunContext<'a> {
    spec: &'a ResolvedSpec,
    label: &'a str,
    nodes: usize,
    link_count: usize,
    links: &'a Links,
    placement: &'a Placement,
    workload: &'a Workload,
    seed: u64,
}

fn run_parallel(
    ctx: &RunContext<'_>,
    cases: &[(StrategySpec, u8)],
    jobs: usize,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Vec<RunResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cases.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(strategy, ttl)) = cases.get(i) else {
                    break;
                };
                let result = run_one(ctx, strategy, ttl);
                progress(&result);
                if let Ok(mut slots) = slots.lock() {
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn run_one(ctx: &RunContext<'_>, strategy: StrategySpec, ttl: u8) -> RunResult {
    let settings = &ctx.spec.spec.sim;
    let config = SimConfig {
        latency: Latency::Constant {
            micros: (settings.latency_ms * 1000.0).round() as u64,
        },
        loss: settings.loss,
        settle_us: settings.settle_ms.saturating_mul(1000),
        routing: settings.routing(strategy, ttl),
        ..SimConfig::default()
    };
    let queries: Vec<PlannedQuery> = ctx
        .workload
        .queries
        .iter()
        .map(|q| PlannedQuery {
            at: Time(q.at.0),
            origin: q.origin,
            words: q.words.clone(),
            sha1: None,
            ttl,
        })
        .collect();
    let simulation = Simulation::new(ctx.links.clone(), config, ctx.placement.clone(), ctx.seed);
    let report = simulation.run(&queries);
    let mut per_node = report.messages_per_peer;
    per_node.resize(ctx.nodes.max(per_node.len()), 0);
    RunResult {
        topology: ctx.label.to_string(),
        nodes: ctx.nodes,
        links: ctx.link_count,
        strategy: strategy.to_string(),
        ttl,
        seed: ctx.seed,
        summary: Summary::from_records(&report.records, &per_node),
    }
}

/// The simulator's placement for a workload: each peer's files, with URNs from their names.
pub fn placement_of(workload: &Workload) -> Placement {
    let mut placement = Placement::new();
    for (peer, files) in workload.holdings.iter().enumerate() {
        if files.is_empty() {
            continue;
        }
        let shared = workload
            .files_of(peer)
            .into_iter()
            .map(|(name, size)| SimFile::named(name, u64::from(size)))
            .collect();
        placement.insert(peer as u32, shared);
    }
    placement
}

/// Means over seeds, in first-appearance order of (topology, strategy, TTL).
pub fn aggregate(results: &[RunResult]) -> Vec<AggregateRow> {
    let mut order: Vec<(String, String, u8)> = Vec::new();
    let mut groups: BTreeMap<(String, String, u8), Vec<&Summary>> = BTreeMap::new();
    for r in results {
        let key = (r.topology.clone(), r.strategy.clone(), r.ttl);
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(&r.summary);
    }
    order
        .into_iter()
        .map(|key| {
            let summaries = groups.get(&key).cloned().unwrap_or_default();
            let (topology, strategy, ttl) = key;
            AggregateRow {
                topology,
                strategy,
                ttl,
                seeds: summaries.len(),
                summary: mean_summary(&summaries),
            }
        })
        .collect()
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
    }
}

/// Writes `results.csv` (one row per run), `summary.json` (the spec, every run and the
/// means over seeds) and the plots into `dir`; returns the files written.
pub fn write_outputs(
    spec: &ResolvedSpec,
    results: &[RunResult],
    dir: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    std::fs::create_dir_all(dir).map_err(|source| SweepError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();

    let csv_path = dir.join("results.csv");
    let mut csv = Vec::new();
    write_results_csv(&mut csv, results).map_err(|source| SweepError::Write {
        path: csv_path.clone(),
        source,
    })?;
    atomic_write(&csv_path, csv).map_err(|source| SweepError::Write {
        path: csv_path.clone(),
        source,
    })?;
    written.push(csv_path);

    let rows = aggregate(results);
    let summary_path = dir.join("summary.json");
    let summary = serde_json::json!({
        "name": spec.spec.name,
        "description": spec.spec.description,
        "spec": spec.spec,
        "means": rows,
        "runs": results,
    });
    let mut text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    text.push('\n');
    atomic_write(&summary_path, text).map_err(|source| SweepError::Write {
        path: summary_path.clone(),
        source,
    })?;
    written.push(summary_path);

    written.extend(write_plots(&spec.spec.name, &rows, dir)?);
    Ok(written)
}

/// Writes one row per run: topology, nodes, links, strategy, ttl, seed, then the summary.
pub fn write_results_csv<W: Write>(out: &mut W, results: &[RunResult]) -> std::io::Result<()> {
    let header = ["topology", "nodes", "links", "strategy", "ttl", "seed"]
        .into_iter()
        .chain(Summary::CSV_COLUMNS)
        .map(str::to_string);
    write_csv_row(out, header)?;
    for r in results {
        let cells = [
            r.topology.clone(),
            r.nodes.to_string(),
            r.links.to_string(),
            r.strategy.clone(),
            r.ttl.to_string(),
            r.seed.to_string(),
        ]
        .into_iter()
        .chain(r.summary.csv_values());
        write_csv_row(out, cells)?;
    }
    Ok(())
}

/// The plots of a sweep, from its means over seeds.
pub fn write_plots(
    name: &str,
    rows: &[AggregateRow],
    dir: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    let mut written = Vec::new();
    let topologies = distinct(rows.iter().map(|r| r.topology.clone()));
    let strategies = distinct(rows.iter().map(|r| r.strategy.clone()));
    let line_name = |t: &str, s: &str| match (topologies.len(), strategies.len()) {
        (1, _) => s.to_string(),
        (_, 1) => t.to_string(),
        _ => format!("{t} / {s}"),
    };
    let series_of = |figure: fn(&Summary) -> f64| -> Vec<Series> {
        let mut out = Vec::new();
        for t in &topologies {
            for s in &strategies {
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| &r.topology == t && &r.strategy == s)
                    .map(|r| (f64::from(r.ttl), figure(&r.summary)))
                    .collect();
                if !points.is_empty() {
                    out.push(Series {
                        name: line_name(t, s),
                        points,
                    });
                }
            }
        }
        out
    };

    let path = dir.join("messages_vs_ttl.svg");
    plot::line_chart(
        &path,
        &format!("{name}: query messages per query"),
        "TTL",
        "messages per query",
        &series_of(|s| s.messages_per_query),
        YScale::Log,
    )?;
    written.push(path);

    let path = dir.join("success_vs_ttl.svg");
    plot::line_chart(
        &path,
        &format!("{name}: success rate"),
        "TTL",
        "share of queries with a hit",
        &series_of(|s| s.success_rate),
        YScale::Fraction,
    )?;
    written.push(path);

    let path = dir.join("duplicates_vs_ttl.svg");
    plot::line_chart(
        &path,
        &format!("{name}: duplicate share of query messages"),
        "TTL",
        "duplicates / messages",
        &series_of(|s| s.duplicates_fraction),
        YScale::Fraction,
    )?;
    written.push(path);

    let path = dir.join("success_vs_messages.svg");
    let tradeoff: Vec<Series> = series_of(|s| s.messages_per_query)
        .into_iter()
        .zip(series_of(|s| s.success_rate))
        .map(|(cost, success)| Series {
            name: cost.name,
            points: cost
                .points
                .iter()
                .zip(&success.points)
                .map(|(c, s)| (c.1, s.1))
                .collect(),
        })
        .collect();
    plot::line_chart_with(
        &path,
        &format!("{name}: success against cost (one point per TTL)"),
        "query messages per query",
        "share of queries with a hit",
        &tradeoff,
        true,
        YScale::Fraction,
    )?;
    written.push(path);

    // Bars compare each topology x strategy at its largest TTL (the full reach it was
    // given), which is where duplicates and costs differ most.
    let at_max_ttl = |t: &str, s: &str| -> Option<&AggregateRow> {
        rows.iter()
            .filter(|r| r.topology == t && r.strategy == s)
            .max_by_key(|r| r.ttl)
    };
    let bars_of = |categories: &[String],
                   series: &[String],
                   by_topology: bool,
                   figure: fn(&Summary) -> f64| Bars {
        categories: categories.to_vec(),
        series: series
            .iter()
            .map(|name| {
                let values = categories
                    .iter()
                    .map(|cat| {
                        let (t, s) = if by_topology {
                            (cat, name)
                        } else {
                            (name, cat)
                        };
                        at_max_ttl(t, s).map(|r| figure(&r.summary))
                    })
                    .collect();
                (name.clone(), values)
            })
            .collect(),
    };

    let path = dir.join("duplicates_by_topology.svg");
    plot::bar_chart(
        &path,
        &format!("{name}: share of query messages that were duplicates (largest TTL)"),
        "duplicates / messages",
        &bars_of(&topologies, &strategies, true, |s| s.duplicates_fraction),
        YScale::Fraction,
    )?;
    written.push(path);

    let path = dir.join("strategies.svg");
    plot::bar_panels(
        &path,
        &format!("{name}: strategies side by side (largest TTL)"),
        &[
            (
                "messages per query".to_string(),
                "messages per query".to_string(),
                bars_of(&strategies, &topologies, false, |s| s.messages_per_query),
                YScale::Log,
            ),
            (
                "success rate".to_string(),
                "share of queries with a hit".to_string(),
                bars_of(&strategies, &topologies, false, |s| s.success_rate),
                YScale::Fraction,
            ),
        ],
    )?;
    written.push(path);
    Ok(written)
}

fn distinct(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
