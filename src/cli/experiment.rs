//! `gnutella experiment`: run a sweep spec through the simulator and write its results
//! and plots.

use std::path::PathBuf;

use gnutella::experiment::spec::ExperimentSpec;
use gnutella::experiment::sweep::{run_sweep, write_outputs};

/// Arguments of `gnutella experiment`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gnutella experiment experiments/walkers-vs-flooding.json --out out/walkers
      about 4 s on a 2-core machine
  gnutella experiment experiments/duplicates-vs-degree.json --out out/degree --jobs 1
      about 1.5 s

Writes DIR/results.csv (one row per run, a column per swept parameter), DIR/summary.json
(the spec, every run, the means over seeds with their standard deviation) and the SVG
plots the sweep has something to compare in; it lists the plots it skipped and why.
See experiments/README.md for the spec format and the plots.")]
pub struct Args {
    /// The sweep spec (JSON): topologies x strategies x TTLs x seeds x swept parameters,
    /// workload, link model.
    pub spec: PathBuf,
    /// Directory for results.csv, summary.json and the plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Simulations run at the same time (default: the number of CPU cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let spec = ExperimentSpec::load(&args.spec)?;
    gnutella::validate::check_output_dir(&args.out, true).map_err(|e| format!("--out: {e}"))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bar = super::progress::bar(spec.run_count() as u64, "runs");
    let results = run_sweep(&spec, jobs, &|run| {
        bar.set_message(format!(
            "{} {} ttl={} seed={}",
            run.topology, run.strategy, run.ttl, run.seed
        ));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let written = write_outputs(&spec, &results, &args.out)?;
    println!(
        "{} runs of `{}` done; wrote:",
        results.len(),
        spec.spec.name
    );
    for path in &written.files {
        println!("  {}", path.display());
    }
    if !written.skipped.is_empty() {
        println!("skipped plots:");
        for (file, why) in &written.skipped {
            println!("  {file}: {why}");
        }
    }
    Ok(())
}
