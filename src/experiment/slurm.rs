//! A sweep as a Slurm job array: `gnutella experiment SPEC --emit-slurm DIR` writes
//!
//! - `DIR/sweep.sbatch`: a job array of N tasks (`--array=0-(N-1)`); task `I` runs
//!   `gnutella experiment SPEC --shard I/N --out DIR/shard-I`;
//! - `DIR/merge.sbatch`: `gnutella experiment merge DIR/shard-0 ... --out OUT`;
//! - `DIR/submit.sh`: submits the array, then the merge with
//!   `--dependency=afterok:ARRAY_JOB_ID`, so the merge starts once every task succeeded
//!   (extra arguments go to both `sbatch` calls: `--partition=...`, `--account=...`).
//!
//! Every path in them is absolute (the program, the spec, DIR, OUT), and the jobs run in
//! the folder the scripts were written from (`--chdir`), where the spec's relative `file:`
//! topologies were found. Task logs go to `DIR/logs/`.
//!
//! Resources are estimated from the spec, for the largest topology and the largest shard:
//!
//! - memory: the simulator's upper bound ([`crate::sim::memory`]: every search reaching
//!   every peer) for each run at once on the task's CPUs, plus generating the graph, plus
//!   256 MiB for the program, rounded up to 64 MiB;
//! - time: query messages at most (a flood sends at most two per link and query, an
//!   expanding ring repeats floods, walkers send about K x TTL) at a pessimistic
//!   [`MESSAGES_PER_SECOND`], plus [`SECONDS_PER_RUN`] for graph, workload and summary,
//!   for the runs one task runs one after another; doubled, and at least 10 minutes;
//! - CPUs: `--jobs J` runs J simulations of a task at once on J CPUs (default 1: the
//!   array is what spreads a sweep over a cluster).
//!
//! They are estimates: options given to `sbatch` (or to `submit.sh`) override the
//! script's `#SBATCH` lines.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::node::Forwarding;
use crate::sim::memory::{graph_bytes, SimShape};

use super::atomic_write;
use super::params::{Param, ParamValue};
use super::plan::{self, Shard};
use super::shard::spec_digest;
use super::spec::{ResolvedSpec, TopologySource};

/// Query messages the simulator delivers per second, at least (a release build does
/// 1 to 3 million on one core of a 2-core development VM: `sim --gen
/// random:n=100000,d=4 --ttl 7 --queries 200`, 4 million messages in 3 s with generation).
pub const MESSAGES_PER_SECOND: u64 = 500_000;
/// Fixed time per run: graph, workload, summary.
pub const SECONDS_PER_RUN: u64 = 30;
/// Memory of the program itself, beyond the simulation's estimate.
pub const BASE_BYTES: u64 = 256 << 20;
/// Slurm's default largest job array (`MaxArraySize` = 1001 allows indices 0 to 1000).
pub const MAX_DEFAULT_SHARDS: usize = 1000;

/// Why the scripts cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("topology `{label}`: {message}")]
    Topology { label: String, message: String },
    #[error("{what} {path}: {message}")]
    Path {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("--shards {0}: a job array needs at least one task")]
    NoShards(usize),
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What one array task asks Slurm for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    pub shards: usize,
    /// Runs in the largest shard.
    pub runs_per_task: usize,
    pub cpus_per_task: usize,
    /// Per task, in MiB.
    pub mem_mib: u64,
    /// Per task, in seconds.
    pub time_secs: u64,
}

/// Nodes and links of the largest topology (by the memory its runs need), generated
/// topologies from their spec, files by loading them.
fn topology_sizes(spec: &ResolvedSpec) -> Result<Vec<(u64, u64, bool)>, SlurmError> {
    spec.topologies
        .iter()
        .map(|t| match &t.source {
            TopologySource::Generated(gen) => Ok((
                u64::from(gen.node_count()),
                gen.link_estimate(),
                matches!(gen, crate::topology::GenSpec::TwoTier { .. }),
            )),
            TopologySource::File(path) => crate::topology::load(path)
                .map(|l| {
                    (
                        l.graph.node_count() as u64,
                        l.graph.link_count() as u64,
                        l.graph.ultrapeers().is_some(),
                    )
                })
                .map_err(|e| SlurmError::Topology {
                    label: t.label.clone(),
                    message: e.to_string(),
                }),
        })
        .collect()
}

/// Estimates one task's resources for `spec` split into `shards` tasks of `cpus` CPUs.
pub fn resources(spec: &ResolvedSpec, shards: usize, cpus: usize) -> Result<Resources, SlurmError> {
    if shards == 0 {
        return Err(SlurmError::NoShards(shards));
    }
    let cpus = cpus.max(1);
    let total = plan::plan(spec).len();
    let runs_per_task = Shard::new(0, shards).map_or(0, |s| s.len_of(total));
    let queries = spec.spec.workload.queries as u64;
    let caching = spec.strategies.iter().any(|(s, _)| s.cache);
    // Peers build QRP tables only with a role: `qrp` gives every peer one, `dq` only on a
    // two-tier graph (as the simulator decides, `sim::wants_roles`); flat `dq` has none.
    let qrp = spec
        .strategies
        .iter()
        .any(|(s, _)| s.forwarding == crate::node::Forwarding::Qrp);
    let dq = spec
        .strategies
        .iter()
        .any(|(s, _)| matches!(s.forwarding, crate::node::Forwarding::Dynamic { .. }));
    let cache_capacity = if caching {
        let swept = spec
            .values_of(Param::CacheCapacity)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                ParamValue::Count(c) => Some(*c),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        swept.max(spec.spec.sim.cache_capacity as u64)
    } else {
        0
    };
    let walkers = spec
        .values_of(Param::Walkers)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| match v {
            ParamValue::Count(c) => Some(*c),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut mem = 0u64;
    let mut per_run_secs = 0u64;
    for (nodes, links, two_tier) in topology_sizes(spec)? {
        let roles = qrp || (dq && two_tier);
        let shape = SimShape {
            peers: nodes,
            links,
            queries,
            seen_capacity: spec.spec.sim.seen_capacity as u64,
            cache_capacity,
            dynamic: None,
            // With roles, at most every peer an ultrapeer: its own and merged tables and
            // one at each end of every link (a two-tier graph holds fewer).
            qrp_tables: if roles { 2 * (nodes + links) } else { 0 },
        };
        let bytes = graph_bytes(nodes, links)
            .saturating_add(shape.estimate_bytes().saturating_mul(cpus as u64));
        mem = mem.max(bytes);
        let per_query = spec
            .strategies
            .iter()
            .map(|(strategy, ttls)| {
                let ttl = u64::from(ttls.iter().copied().max().unwrap_or(1));
                match strategy.forwarding {
                    Forwarding::Flood | Forwarding::Qrp | Forwarding::Dynamic { .. } => 2 * links,
                    Forwarding::Ring => 4 * links,
                    Forwarding::Walk { walkers: k } => 2 * ttl * u64::from(k).max(walkers),
                }
            })
            .max()
            .unwrap_or(0);
        let secs = SECONDS_PER_RUN
            + per_query.saturating_mul(queries) / MESSAGES_PER_SECOND
            + nodes / 1_000_000;
        per_run_secs = per_run_secs.max(secs);
    }
    let mem = mem.saturating_add(BASE_BYTES);
    let mib = 1u64 << 20;
    let mem_mib = mem.div_ceil(64 * mib) * 64;
    let rounds = runs_per_task.div_ceil(cpus) as u64;
    let time_secs = (per_run_secs.saturating_mul(rounds).saturating_mul(2)).max(600);
    Ok(Resources {
        shards,
        runs_per_task,
        cpus_per_task: cpus,
        mem_mib,
        time_secs,
    })
}

/// `D-HH:MM:SS`, as `sbatch --time` takes it (whole minutes, rounded up).
pub fn slurm_time(secs: u64) -> String {
    let minutes = secs.div_ceil(60);
    let (days, rest) = (minutes / (24 * 60), minutes % (24 * 60));
    format!("{days}-{:02}:{:02}:00", rest / 60, rest % 60)
}

/// Where the scripts point.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The `gnutella` program the jobs run.
    pub program: PathBuf,
    /// The spec file.
    pub spec: PathBuf,
    /// Where the jobs run (`--chdir`): the folder the scripts were written from, so a
    /// spec's `file:` topologies are found as they were then.
    pub workdir: PathBuf,
    /// The folder of the scripts, the shards and the logs.
    pub dir: PathBuf,
    /// The merged sweep's folder.
    pub out: PathBuf,
}

/// The three files and their contents.
#[derive(Clone, Debug, PartialEq)]
pub struct Scripts {
    pub sweep: String,
    pub merge: String,
    pub submit: String,
}

/// A path for a script: absolute, UTF-8, and free of what `#SBATCH` lines cannot hold.
fn script_path(what: &'static str, path: &Path) -> Result<String, SlurmError> {
    let bad = |message: &str| SlurmError::Path {
        what,
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    if !path.is_absolute() {
        return Err(bad("must be absolute in a job script"));
    }
    let text = path
        .to_str()
        .ok_or_else(|| bad("is not UTF-8, which a job script cannot name"))?;
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "'\"\\$`%".contains(c))
    {
        return Err(bad(
            "holds a space, quote, `$`, `%` or backslash, which #SBATCH lines cannot carry: pick a path without",
        ));
    }
    Ok(text.to_string())
}

/// The job scripts for `spec`.
pub fn scripts(spec: &ResolvedSpec, paths: &Paths, res: &Resources) -> Result<Scripts, SlurmError> {
    let program = script_path("the program", &paths.program)?;
    let spec_path = script_path("the spec", &paths.spec)?;
    let workdir = script_path("the current folder", &paths.workdir)?;
    let dir = script_path("--emit-slurm", &paths.dir)?;
    let out = script_path("--out", &paths.out)?;
    let n = res.shards;
    let last = n - 1;
    let total = plan::plan(spec).len();
    let name: String = spec
        .spec
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let digest = spec_digest(&spec.spec);

    let mut sweep = String::new();
    let _ = writeln!(sweep, "#!/bin/bash");
    let _ = writeln!(
        sweep,
        "# The sweep `{}` ({total} runs, spec digest {digest}) as {n} array tasks:",
        spec.spec.name.replace('\n', " ")
    );
    let _ = writeln!(
        sweep,
        "# task I runs shard I/{n} (up to {} runs) into {dir}/shard-I.",
        res.runs_per_task
    );
    let _ = writeln!(
        sweep,
        "# Written by `gnutella experiment --emit-slurm`; submit with {dir}/submit.sh."
    );
    let _ = writeln!(
        sweep,
        "# Memory and time are estimates from the spec; sbatch options override them."
    );
    let _ = writeln!(sweep, "#SBATCH --job-name=gnutella-{name}");
    let _ = writeln!(sweep, "#SBATCH --array=0-{last}");
    let _ = writeln!(sweep, "#SBATCH --ntasks=1");
    let _ = writeln!(sweep, "#SBATCH --cpus-per-task={}", res.cpus_per_task);
    let _ = writeln!(sweep, "#SBATCH --mem={}M", res.mem_mib);
    let _ = writeln!(sweep, "#SBATCH --time={}", slurm_time(res.time_secs));
    let _ = writeln!(sweep, "#SBATCH --chdir={workdir}");
    let _ = writeln!(sweep, "#SBATCH --output={dir}/logs/shard-%a.out");
    let _ = writeln!(sweep, "set -euo pipefail");
    let _ = writeln!(
        sweep,
        ": \"${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}\""
    );
    let _ = writeln!(
        sweep,
        "exec {program} --quiet experiment {spec_path} --shard \"$SLURM_ARRAY_TASK_ID/{n}\" \
         --out \"{dir}/shard-$SLURM_ARRAY_TASK_ID\" --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\"",
        res.cpus_per_task
    );

    let shard_dirs: Vec<String> = (0..n).map(|i| format!("{dir}/shard-{i}")).collect();
    let mut merge = String::new();
    let _ = writeln!(merge, "#!/bin/bash");
    let _ = writeln!(
        merge,
        "# Merges the {n} shards of `{}` into {out}: results.csv, summary.json and plots,",
        spec.spec.name.replace('\n', " ")
    );
    let _ = writeln!(
        merge,
        "# byte for byte those of the unsharded sweep. submit.sh starts it after the array."
    );
    let _ = writeln!(merge, "#SBATCH --job-name=gnutella-{name}-merge");
    let _ = writeln!(merge, "#SBATCH --ntasks=1");
    let _ = writeln!(merge, "#SBATCH --cpus-per-task=1");
    let _ = writeln!(merge, "#SBATCH --mem=1024M");
    let _ = writeln!(merge, "#SBATCH --time=0-00:30:00");
    let _ = writeln!(merge, "#SBATCH --chdir={workdir}");
    let _ = writeln!(merge, "#SBATCH --output={dir}/logs/merge.out");
    let _ = writeln!(merge, "set -euo pipefail");
    let _ = writeln!(
        merge,
        "exec {program} --quiet experiment merge {} --out {out}",
        shard_dirs.join(" ")
    );

    let mut submit = String::new();
    let _ = writeln!(submit, "#!/bin/bash");
    let _ = writeln!(
        submit,
        "# Submits the job array of `{}`, then its merge, which starts once every task succeeded.",
        spec.spec.name.replace('\n', " ")
    );
    let _ = writeln!(
        submit,
        "# Arguments go to both sbatch calls, e.g.: {dir}/submit.sh --partition=short --account=lab"
    );
    let _ = writeln!(submit, "set -euo pipefail");
    let _ = writeln!(submit, "mkdir -p {dir}/logs");
    let _ = writeln!(
        submit,
        "array=$(sbatch --parsable \"$@\" {dir}/sweep.sbatch)"
    );
    let _ = writeln!(submit, "array=${{array%%;*}}");
    let _ = writeln!(
        submit,
        "merge=$(sbatch --parsable \"$@\" --dependency=afterok:\"$array\" {dir}/merge.sbatch)"
    );
    let _ = writeln!(submit, "merge=${{merge%%;*}}");
    let _ = writeln!(
        submit,
        "echo \"submitted job array $array ({n} tasks, logs in {dir}/logs) and merge job $merge (writes {out})\""
    );
    Ok(Scripts {
        sweep,
        merge,
        submit,
    })
}

/// Writes `sweep.sbatch`, `merge.sbatch` and `submit.sh` (executable) into `paths.dir`,
/// and creates `logs/` there (Slurm does not create the folder of `--output`).
pub fn write_scripts(scripts: &Scripts, dir: &Path) -> Result<Vec<PathBuf>, SlurmError> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|source| SlurmError::Write {
        path: logs.clone(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, text) in [
        ("sweep.sbatch", &scripts.sweep),
        ("merge.sbatch", &scripts.merge),
        ("submit.sh", &scripts.submit),
    ] {
        let path = dir.join(name);
        let fail = |source| SlurmError::Write {
            path: path.clone(),
            source,
        };
        atomic_write(&path, text).map_err(fail)?;
        set_executable(&path).map_err(fail)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The default number of tasks: one per run, at most [`MAX_DEFAULT_SHARDS`].
pub fn default_shards(spec: &ResolvedSpec) -> usize {
    spec.run_count().clamp(1, MAX_DEFAULT_SHARDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_of(topology: &str, strategies: &str) -> u64 {
        let json = format!(
            r#"{{"name": "m", "topologies": ["{topology}"], "strategies": [{strategies}],
                "ttls": [4], "seeds": [1], "workload": {{"files": 10, "queries": 10}}}}"#
        );
        let spec: crate::experiment::spec::ExperimentSpec = serde_json::from_str(&json).unwrap();
        resources(&spec.resolve(None).unwrap(), 1, 1)
            .unwrap()
            .mem_mib
    }

    #[test]
    fn qrp_tables_are_charged_only_to_runs_whose_peers_have_roles() {
        let flat = "random:n=200000,d=4";
        let two_tier = "two-tier:n=200000,up=0.1,leaf_links=3,up_degree=10";
        // Flat `dq` builds no tables (no roles, as in the simulator); `qrp` gives every
        // peer a role and its tables, 16 KiB each.
        assert_eq!(memory_of(flat, r#""dq""#), memory_of(flat, r#""flood""#));
        assert!(memory_of(flat, r#""qrp""#) > memory_of(flat, r#""flood""#) + 1000);
        // On a two-tier graph `dq` runs with roles and pays for its tables.
        assert!(memory_of(two_tier, r#""dq""#) > memory_of(two_tier, r#""flood""#) + 1000);
    }

    #[test]
    fn times_are_whole_minutes_in_slurm_form() {
        assert_eq!(slurm_time(600), "0-00:10:00");
        assert_eq!(slurm_time(601), "0-00:11:00");
        assert_eq!(slurm_time(90_000), "1-01:00:00");
    }
}
