//! Running a sweep: every topology x strategy x TTL x seed x swept value of a spec
//! through the simulator, then `results.csv`, `summary.json` and the plots.
//!
//! For one topology, seed and replica count, every strategy, TTL and swept link or node
//! setting runs on the same graph, the same file placement and the same queries, so
//! differences between rows come from what the sweep varies alone. Runs are independent and spread over worker threads (spare ones go to runs that can split their searches, see `crate::sim::parallel`); results
//! are put back in sweep order, so the output bytes do not depend on scheduling.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::node::{StrategySpec, Time};
use crate::sim::parallel;
use crate::sim::{
    Latency, Links, Placement, PlannedQuery, Removal, SimConfig, SimFile, Simulation,
};
use crate::topology::Graph;

use super::aggregate::aggregate;
use super::atomic_write;
use super::charts::{self, PlotOutcome};
use super::over_time::{self, Bucket};
use super::params::{self, Param, Params};
use super::plan::{self, PlannedRun};
use super::plot::PlotError;
use super::spec::{ResolvedSpec, TopologySource};
use super::summary::{write_csv_row, Summary};
use super::workload::{Workload, WorkloadError};

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
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunResult {
    pub topology: String,
    pub nodes: usize,
    pub links: usize,
    /// The strategy run (with a swept walker count: `walk:` that count).
    pub strategy: String,
    pub ttl: u8,
    pub seed: u64,
    /// The swept values of this run (absent when nothing is swept).
    #[serde(skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    pub summary: Summary,
    /// The run's figures over virtual time, when the spec asks for them (`over_time`);
    /// written to `over_time.csv`, not to `summary.json`'s runs.
    #[serde(skip)]
    pub over_time: Vec<Bucket>,
}

/// One simulation to run on a graph and workload: what it varies.
#[derive(Clone, Debug)]
struct Case {
    strategy: StrategySpec,
    ttl: u8,
    params: Params,
}

/// Runs every simulation of `spec` on `jobs` threads (at least one), calling `progress`
/// after each run finishes.
pub fn run_sweep(
    spec: &ResolvedSpec,
    jobs: usize,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Result<Vec<RunResult>, SweepError> {
    let runs = plan::plan(spec);
    let all: Vec<&PlannedRun> = runs.iter().collect();
    run_planned(spec, &all, jobs, progress)
}

/// Runs `runs` (some of [`plan::plan`]'s, in sweep order: a shard's, or all) and returns
/// their results in that order. A graph and a workload are built only for the groups
/// (topology, seed, replicas) that `runs` has runs in, exactly as the full sweep builds
/// them, so a run gives the same result in a shard as in the full sweep.
pub fn run_planned(
    spec: &ResolvedSpec,
    runs: &[&PlannedRun],
    jobs: usize,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Result<Vec<RunResult>, SweepError> {
    let mut results = Vec::with_capacity(runs.len());
    // A file topology is the same graph for every seed: loaded once while its runs last.
    let mut file_graph: Option<(usize, Graph)> = None;
    for group in runs.chunk_by(|a, b| a.group() == b.group()) {
        let Some(first) = group.first() else {
            continue;
        };
        let Some(topology) = spec.topologies.get(first.topology) else {
            continue;
        };
        let seed = first.seed;
        let graph = match &topology.source {
            TopologySource::Generated(gen) => {
                gen.generate(seed).map_err(|e| SweepError::Topology {
                    label: topology.label.clone(),
                    message: e.to_string(),
                })?
            }
            TopologySource::File(path) => match &file_graph {
                Some((at, graph)) if *at == first.topology => graph.clone(),
                _ => {
                    let loaded = crate::topology::load(path).map_err(|e| SweepError::Topology {
                        label: topology.label.clone(),
                        message: e.to_string(),
                    })?;
                    file_graph = Some((first.topology, loaded.graph.clone()));
                    loaded.graph
                }
            },
        };
        let nodes = graph.node_count();
        let links = Links::from_graph(&graph);
        // One workload per replica count; everything else is crossed on top of it.
        let workload_spec = params::with_replicas(&spec.spec.workload, first.replicas);
        let workload = Workload::generate(&workload_spec, nodes, seed)?;
        let placement = placement_of(&workload);
        let cases: Vec<Case> = group
            .iter()
            .map(|run| Case {
                strategy: run.strategy,
                ttl: run.ttl,
                params: run.params.clone(),
            })
            .collect();
        let ctx = RunContext {
            spec,
            label: &topology.label,
            nodes,
            link_count: graph.link_count(),
            links: &links,
            ultrapeers: graph.ultrapeers(),
            placement: &placement,
            workload: &workload,
            seed,
        };
        results.extend(run_parallel(&ctx, &cases, jobs, progress));
    }
    Ok(results)
}

struct RunContext<'a> {
    spec: &'a ResolvedSpec,
    label: &'a str,
    nodes: usize,
    link_count: usize,
    links: &'a Links,
    /// The graph's roles, when it is a two-tier overlay.
    ultrapeers: Option<&'a [bool]>,
    placement: &'a Placement,
    workload: &'a Workload,
    seed: u64,
}

fn run_parallel(
    ctx: &RunContext<'_>,
    cases: &[Case],
    jobs: usize,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Vec<RunResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<RunResult>>> = Mutex::new(vec![None; cases.len()]);
    let workers = jobs.clamp(1, cases.len().max(1));
    // Fewer runs than jobs: the spare cores go to the runs' own threads (`sim::parallel`,
    // same results), never more threads than jobs in all.
    let threads_per_run = (jobs / workers).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else {
                    break;
                };
                let result = run_one(ctx, case, threads_per_run);
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

fn run_one(ctx: &RunContext<'_>, case: &Case, threads: usize) -> RunResult {
    let settings = case.params.apply_sim(&ctx.spec.spec.sim);
    let (strategy, ttl) = (case.strategy, case.ttl);
    let config = SimConfig {
        latency: Latency::Constant {
            micros: (settings.latency_ms * 1000.0).round() as u64,
        },
        loss: settings.loss,
        churn: settings.churn,
        settle_us: settings.settle_ms.saturating_mul(1000),
        routing: settings.routing(strategy, ttl),
        removal: (settings.remove_fraction > 0.0).then_some(Removal {
            kind: settings.remove_kind,
            fraction: settings.remove_fraction,
            at_us: settings.remove_at_ms.saturating_mul(1000),
        }),
        overlay: settings.overlay,
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
    let dynamic = config.overlay.is_dynamic();
    let bucket_secs = ctx.spec.spec.over_time.map(|o| o.bucket_secs);
    let build = |config: SimConfig| {
        let mut simulation =
            Simulation::new(ctx.links.clone(), config, ctx.placement.clone(), ctx.seed);
        if bucket_secs.is_some() {
            simulation.record_timeseries();
        }
        if let Some(ultrapeers) = ctx.ultrapeers {
            simulation.set_roles(ultrapeers);
        }
        simulation
    };
    let report = parallel::execute(threads, &config, &queries, &build, &mut |_| {}).report;
    let mut per_node = report.messages_per_peer;
    per_node.resize(ctx.nodes.max(per_node.len()), 0);
    let mut summary = Summary::from_records(&report.records, &per_node)
        .with_overlay(&report.overlay_start, &report.overlay_end);
    if dynamic {
        summary = summary.with_dials(&report.stats);
    }
    if let Some(tiers) = &report.tiers {
        summary = summary.with_tiers(&tiers.received, &tiers.ultrapeer);
    }
    RunResult {
        topology: ctx.label.to_string(),
        nodes: ctx.nodes,
        links: ctx.link_count,
        strategy: strategy.to_string(),
        ttl,
        seed: ctx.seed,
        params: case.params.clone(),
        summary,
        over_time: bucket_secs.map_or_else(Vec::new, |b| over_time::buckets(&report.timeseries, b)),
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

/// What [`write_outputs`] did: the files written, and the plots the sweep had nothing to
/// show in (with why).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// (plot file name, why it was not drawn).
    pub skipped: Vec<(String, String)>,
}

/// Writes `results.csv` (one row per run), `summary.json` (the spec, every run, the means
/// and spreads over seeds, and which plots were drawn) and the plots into `dir`. A plot
/// the sweep has nothing to compare in is not drawn, and a copy an earlier sweep left in
/// `dir` is removed, so every plot in `dir` belongs to these results.
pub fn write_outputs(
    spec: &ResolvedSpec,
    results: &[RunResult],
    dir: &Path,
) -> Result<Written, SweepError> {
    std::fs::create_dir_all(dir).map_err(|source| SweepError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();

    let csv_path = dir.join("results.csv");
    let mut csv = Vec::new();
    let columns: Vec<Param> = spec.swept.iter().map(|(p, _)| *p).collect();
    write_results_csv(&mut csv, &columns, results).map_err(|source| SweepError::Write {
        path: csv_path.clone(),
        source,
    })?;
    atomic_write(&csv_path, csv).map_err(|source| SweepError::Write {
        path: csv_path.clone(),
        source,
    })?;
    written.push(csv_path);

    let rows = aggregate(results);
    let lines = over_time::lines(results);
    let mut plan = charts::plan(spec, &rows);
    plan.push(charts::over_time_plot(spec, &lines));
    let over_time_path = dir.join("over_time.csv");
    if spec.spec.over_time.is_some() {
        let mut csv = Vec::new();
        write_over_time_csv(&mut csv, &columns, results).map_err(|source| SweepError::Write {
            path: over_time_path.clone(),
            source,
        })?;
        atomic_write(&over_time_path, csv).map_err(|source| SweepError::Write {
            path: over_time_path.clone(),
            source,
        })?;
        written.push(over_time_path);
    } else if over_time_path.is_file() {
        // An earlier sweep's, which these results do not go with.
        std::fs::remove_file(&over_time_path).map_err(|source| SweepError::Write {
            path: over_time_path.clone(),
            source,
        })?;
    }
    let plots = serde_json::json!({
        "drawn": plan.iter().filter_map(|p| match &p.outcome {
            PlotOutcome::Draw(_) => Some(p.file.clone()),
            PlotOutcome::Skip(_) => None,
        }).collect::<Vec<_>>(),
        "skipped": plan.iter().filter_map(|p| match &p.outcome {
            PlotOutcome::Skip(why) => Some(serde_json::json!({"file": p.file, "why": why})),
            PlotOutcome::Draw(_) => None,
        }).collect::<Vec<_>>(),
    });
    let summary_path = dir.join("summary.json");
    let mut summary = serde_json::json!({
        "name": spec.spec.name,
        "description": spec.spec.description,
        "spec": spec.spec,
        "plots": plots,
        "means": rows,
        "runs": results,
    });
    if spec.spec.over_time.is_some() {
        summary["over_time"] = serde_json::to_value(&lines).unwrap_or_default();
    }
    let mut text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    text.push('\n');
    atomic_write(&summary_path, text).map_err(|source| SweepError::Write {
        path: summary_path.clone(),
        source,
    })?;
    written.push(summary_path);

    let mut skipped = Vec::new();
    let remove_stale = |path: PathBuf| -> Result<(), SweepError> {
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|source| SweepError::Write { path, source })?;
        }
        Ok(())
    };
    for file in charts::possible_files() {
        if !plan.iter().any(|p| p.file == file) {
            remove_stale(dir.join(file))?;
        }
    }
    for entry in &plan {
        let path = dir.join(&entry.file);
        match &entry.outcome {
            PlotOutcome::Draw(chart) => {
                chart.draw(&path)?;
                written.push(path);
            }
            PlotOutcome::Skip(why) => {
                remove_stale(path)?;
                skipped.push((entry.file.clone(), why.clone()));
            }
        }
    }
    Ok(Written {
        files: written,
        skipped,
    })
}

/// Writes `over_time.csv`: one row per run and bucket, the run's columns as in
/// `results.csv` (topology ... seed, the swept values), then the bucket's figures.
pub fn write_over_time_csv<W: Write>(
    out: &mut W,
    columns: &[Param],
    results: &[RunResult],
) -> std::io::Result<()> {
    write_csv_row(out, run_header(columns, &over_time::CSV_COLUMNS))?;
    for r in results {
        for bucket in &r.over_time {
            write_csv_row(out, run_cells(r, columns).chain(bucket.csv_values()))?;
        }
    }
    Ok(())
}

/// The columns that say which run a CSV row belongs to, before the swept parameters.
const RUN_COLUMNS: [&str; 6] = ["topology", "nodes", "links", "strategy", "ttl", "seed"];

/// A header: [`RUN_COLUMNS`], the swept parameters in `columns`, then `figures`.
fn run_header<'a>(
    columns: &'a [Param],
    figures: &'a [&'a str],
) -> impl Iterator<Item = String> + 'a {
    RUN_COLUMNS
        .into_iter()
        .chain(columns.iter().map(|p| p.name()))
        .chain(figures.iter().copied())
        .map(str::to_string)
}

/// A run's [`RUN_COLUMNS`] cells, then one per swept parameter in `columns` (empty where
/// the run's strategy does not use it).
fn run_cells<'a>(r: &'a RunResult, columns: &'a [Param]) -> impl Iterator<Item = String> + 'a {
    [
        r.topology.clone(),
        r.nodes.to_string(),
        r.links.to_string(),
        r.strategy.clone(),
        r.ttl.to_string(),
        r.seed.to_string(),
    ]
    .into_iter()
    .chain(
        columns
            .iter()
            .map(|p| r.params.get(*p).map(|v| v.to_string()).unwrap_or_default()),
    )
}

/// Writes one row per run: topology, nodes, links, strategy, ttl, seed, one column per
/// swept parameter in `columns` (empty where the run's strategy does not use it), then
/// the summary.
pub fn write_results_csv<W: Write>(
    out: &mut W,
    columns: &[Param],
    results: &[RunResult],
) -> std::io::Result<()> {
    // The per-tier loads only when some run is two-tier: a flat sweep's file is unchanged.
    let two_tier = results.iter().any(|r| r.summary.is_two_tier());
    let figures: Vec<&str> = if two_tier {
        Summary::CSV_COLUMNS
            .iter()
            .chain(&Summary::TWO_TIER_CSV_COLUMNS)
            .copied()
            .collect()
    } else {
        Summary::CSV_COLUMNS.to_vec()
    };
    write_csv_row(out, run_header(columns, &figures))?;
    for r in results {
        let mut cells = r.summary.csv_values();
        if two_tier {
            cells.extend(r.summary.two_tier_csv_values());
        }
        write_csv_row(out, run_cells(r, columns).chain(cells))?;
    }
    Ok(())
}
