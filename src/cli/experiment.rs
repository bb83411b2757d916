//! `gnutella experiment`: run a sweep spec through the simulator and write its results
//! and plots; or list its runs, run one shard of them, merge shards, or write the Slurm
//! job array that runs the shards on a cluster.

use std::io::Write;
use std::path::{Path, PathBuf};

use gnutella::experiment::plan::{self, Shard};
use gnutella::experiment::shard::{self, write_shard};
use gnutella::experiment::slurm::{self, Paths};
use gnutella::experiment::spec::{ExperimentSpec, ResolvedSpec};
use gnutella::experiment::sweep::{run_planned, write_outputs, RunResult, Written};

/// Arguments of `gnutella experiment`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:
  gnutella experiment experiments/walkers-vs-flooding.json --out out/walkers
      about 4 s on a 2-core machine
  gnutella experiment experiments/duplicates-vs-degree.json --out out/degree --jobs 1
      about 1.5 s
  gnutella experiment experiments/duplicates-vs-degree.json --list-runs
      one line per run: index, topology, strategy, TTL, seed, swept values (tab-separated)
  gnutella experiment experiments/duplicates-vs-degree.json --shard 0/2 --out out/degree-0
      runs 0, 2, 4, ...: run i belongs to shard i mod N, shards count from 0
  gnutella experiment experiments/duplicates-vs-degree.json --emit-slurm out/slurm --shards 4
      writes out/slurm/sweep.sbatch, merge.sbatch and submit.sh (run submit.sh on the cluster)

Writes DIR/results.csv (one row per run, a column per swept parameter), DIR/summary.json
(the spec, every run, the means over seeds with their standard deviation) and the SVG
plots the sweep has something to compare in; it lists the plots it skipped and why.
With --shard I/N it writes only shard I's rows, the spec and shard.json into DIR;
`gnutella experiment merge` puts the N shard folders together into the outputs of the
whole sweep, byte for byte. See experiments/README.md for the spec format and the plots,
and README.md (Sweeps on a cluster) for Slurm."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Sub>,
    /// The sweep spec (JSON): topologies x strategies x TTLs x seeds x swept parameters,
    /// workload, link model.
    #[arg(required = true)]
    pub spec: Option<PathBuf>,
    /// Directory for results.csv, summary.json and the plots (created if missing); with
    /// --shard, for the shard's part; with --emit-slurm, where the merge job writes the
    /// sweep's outputs (default: DIR/merged of --emit-slurm).
    #[arg(long, value_name = "DIR", required_unless_present_any = ["list_runs", "emit_slurm"])]
    pub out: Option<PathBuf>,
    /// Simulations run at the same time (default: the number of CPU cores); with
    /// --emit-slurm, the CPUs of each array task (default 1). When a graph has fewer
    /// runs than jobs, the spare jobs become threads of those runs (as `sim --threads`;
    /// same results).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the sweep's runs, one a line, in sweep order (the rows of results.csv), and
    /// run nothing: index, topology, strategy, TTL, seed and the swept values
    /// (`name=value,...`, `-` for none), tab-separated. With --shard, that shard's runs.
    #[arg(long, conflicts_with = "emit_slurm")]
    pub list_runs: bool,
    /// Run only shard I of N (I from 0 to N-1, as Slurm's --array=0-(N-1) numbers its
    /// tasks): the runs whose index modulo N is I. More shards than runs is allowed (the
    /// extra shards are empty).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Write a Slurm job array for the sweep into DIR: sweep.sbatch (one task per shard),
    /// merge.sbatch (a job that merges them) and submit.sh (submits both, the merge after
    /// the array succeeded). Runs nothing.
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    pub emit_slurm: Option<PathBuf>,
    /// With --emit-slurm: the number of array tasks (default: one per run, at most 1000).
    #[arg(long, value_name = "N", requires = "emit_slurm")]
    pub shards: Option<usize>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Merge the shard folders of one sweep into its results, summary and plots.
    Merge(MergeArgs),
}

/// Arguments of `gnutella experiment merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gnutella experiment experiments/duplicates-vs-degree.json --shard 0/2 --out out/degree-0
  gnutella experiment experiments/duplicates-vs-degree.json --shard 1/2 --out out/degree-1
  gnutella experiment merge out/degree-0 out/degree-1 --out out/degree

The folders may come in any order, each shard (0 to N-1) exactly once, all from the same
spec and split; anything else is refused with what is wrong. The merged results.csv,
summary.json and plots are byte for byte those of the unsharded sweep.")]
pub struct MergeArgs {
    /// The shard folders (written by `gnutella experiment SPEC --shard I/N --out DIR`).
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Directory for results.csv, summary.json and the plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Sub::Merge(merge)) = args.command {
        return run_merge(merge);
    }
    let Some(spec_path) = args.spec.clone() else {
        return Err("give a sweep spec (or `merge`)".into());
    };
    let spec = ExperimentSpec::load(&spec_path)?;
    if args.list_runs {
        let runs = plan::plan(&spec);
        let shard = args.shard.unwrap_or(Shard { index: 0, count: 1 });
        let mut out = String::new();
        for run in shard.select(&runs) {
            out.push_str(&run.line(&spec));
            out.push('\n');
        }
        // `--list-runs | head` closes the pipe early: not an error.
        let mut stdout = std::io::stdout().lock();
        return match stdout
            .write_all(out.as_bytes())
            .and_then(|_| stdout.flush())
        {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        };
    }
    if let Some(dir) = &args.emit_slurm {
        return emit_slurm(&spec, &spec_path, dir, &args);
    }
    let Some(out) = &args.out else {
        return Err("--out DIR is needed to run the sweep".into());
    };
    gnutella::validate::check_output_dir(out, true).map_err(|e| format!("--out: {e}"))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let runs = plan::plan(&spec);
    let shard = args.shard.unwrap_or(Shard { index: 0, count: 1 });
    let mine = shard.select(&runs);
    let results = run_with_progress(&spec, &mine, jobs)?;
    match args.shard {
        Some(shard) => {
            let text = std::fs::read(&spec_path)
                .map_err(|e| format!("cannot read {}: {e}", spec_path.display()))?;
            let files = write_shard(&spec, &text, shard, &results, out)?;
            println!(
                "shard {shard}: {} of the {} runs of `{}` done; wrote:",
                results.len(),
                runs.len(),
                spec.spec.name
            );
            for path in &files {
                println!("  {}", path.display());
            }
            println!(
                "merge all {} shards with `gnutella experiment merge`",
                shard.count
            );
            Ok(())
        }
        None => {
            let written = write_outputs(&spec, &results, out)?;
            println!(
                "{} runs of `{}` done; wrote:",
                results.len(),
                spec.spec.name
            );
            print_written(&written);
            Ok(())
        }
    }
}

fn run_with_progress(
    spec: &ResolvedSpec,
    runs: &[&plan::PlannedRun],
    jobs: usize,
) -> Result<Vec<RunResult>, Box<dyn std::error::Error>> {
    let bar = super::progress::bar(runs.len() as u64, "runs");
    let results = run_planned(spec, runs, jobs, &|run| {
        bar.set_message(format!(
            "{} {} ttl={} seed={}",
            run.topology, run.strategy, run.ttl, run.seed
        ));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    Ok(results)
}

fn print_written(written: &Written) {
    for path in &written.files {
        println!("  {}", path.display());
    }
    if !written.skipped.is_empty() {
        println!("skipped plots:");
        for (file, why) in &written.skipped {
            println!("  {file}: {why}");
        }
    }
}

fn run_merge(args: MergeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let out = absolute(&args.out)?;
    for dir in &args.dirs {
        if dir.is_dir() && absolute(dir)? == out {
            return Err(format!(
                "--out {} is one of the shard folders: merge into another folder",
                args.out.display()
            )
            .into());
        }
    }
    let merged = shard::merge(&args.dirs)?;
    gnutella::validate::check_output_dir(&args.out, true).map_err(|e| format!("--out: {e}"))?;
    let written = write_outputs(&merged.spec, &merged.results, &args.out)?;
    println!(
        "merged {} shards: {} runs of `{}`; wrote:",
        args.dirs.len(),
        merged.results.len(),
        merged.spec.spec.name
    );
    print_written(&written);
    Ok(())
}

fn emit_slurm(
    spec: &ResolvedSpec,
    spec_path: &Path,
    dir: &Path,
    args: &Args,
) -> Result<(), Box<dyn std::error::Error>> {
    let given = dir;
    let dir = absolute(dir)?;
    let out = match &args.out {
        Some(out) => absolute(out)?,
        None => dir.join("merged"),
    };
    let program =
        std::env::current_exe().map_err(|e| format!("cannot tell where this program is: {e}"))?;
    let workdir =
        std::env::current_dir().map_err(|e| format!("cannot tell the current folder: {e}"))?;
    let paths = Paths {
        program: absolute(&program)?,
        workdir: absolute(&workdir)?,
        spec: absolute(spec_path)?,
        dir: dir.clone(),
        out,
    };
    let shards = args.shards.unwrap_or_else(|| slurm::default_shards(spec));
    let res = slurm::resources(spec, shards, args.jobs.unwrap_or(1))?;
    let scripts = slurm::scripts(spec, &paths, &res)?;
    // Only once the scripts can be written: a refused path or count leaves no folder.
    gnutella::validate::check_output_dir(given, true).map_err(|e| format!("--emit-slurm: {e}"))?;
    let files = slurm::write_scripts(&scripts, &dir)?;
    let runs = spec.run_count();
    println!(
        "{runs} runs of `{}` as a job array of {shards} tasks (up to {} runs each): \
         {} CPU, {} MiB, {} per task; wrote:",
        spec.spec.name,
        res.runs_per_task,
        res.cpus_per_task,
        res.mem_mib,
        slurm::slurm_time(res.time_secs)
    );
    for path in &files {
        println!("  {}", path.display());
    }
    if shards > runs {
        println!(
            "note: {} of the {shards} tasks have no run (more shards than runs)",
            shards - runs
        );
    }
    println!(
        "submit on the cluster with {} (the merge writes {})",
        dir.join("submit.sh").display(),
        paths.out.display()
    );
    Ok(())
}

/// `path` from the root, without requiring it to exist (its existing part is resolved).
fn absolute(path: &Path) -> Result<PathBuf, String> {
    if let Ok(real) = path.canonicalize() {
        return Ok(real);
    }
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}
