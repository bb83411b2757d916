//! `gnutella export shadow`: a topology config as a Shadow simulation of real peers.

use std::path::{Path, PathBuf};

use gnutella::export::shadow::{self, ShadowOptions};
use gnutella::topology::TopologyConfig;

/// Engines a config can be exported to.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write shadow.yaml and network.gml: every peer a Shadow host running `gnutella
    /// peer`, the workload started in its origin peers, links from the config's link model.
    Shadow(ShadowArgs),
}

/// Arguments of `gnutella export shadow`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gnutella export shadow topology-configs/quickstart.json --out /tmp/quickstart-shadow
      then: shadow /tmp/quickstart-shadow/shadow.yaml > /tmp/quickstart-shadow/shadow.log
      and:  gnutella report shadow /tmp/quickstart-shadow/shadow.data

Writes DIR/shadow.yaml (a host per peer with a fixed IP from 11.0.0.10 up, named by its
id; general.data_directory is DIR/shadow.data), DIR/network.gml (one vertex when every
link has the same latency and loss, else a vertex per peer and an edge per link),
DIR/routing.json (and DIR/routing/<host>.json for peers with their own settings) and
DIR/shares/<host>/ for peers with synthetic files (their bytes written out; a shared
folder is referenced by its absolute path). Each peer runs
  gnutella peer --listen 0.0.0.0:PORT --seed SEED --index I --routing FILE [--share DIR]
                --connect <its lower-numbered neighbours> [--search-at MS:TTL:WORDS]...
                --json-counters
starting 1 ms after the previous one; the workload starts after a warm-up, the peers get
SIGTERM once it has settled and print their counts, which `gnutella report shadow` reads.
Shadow itself is not part of this project: see README.md (Real peers under Shadow).")]
pub struct ShadowArgs {
    /// The topology config (JSON).
    pub config: PathBuf,
    /// Folder for the files (created if missing; files of an earlier export are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The gnutella binary the hosts run [default: this one].
    #[arg(long, value_name = "PATH")]
    pub binary: Option<PathBuf>,
    /// Seconds from the last peer's start to the workload's time 0 [default: 5, or 10
    /// times the largest link latency].
    #[arg(long, value_name = "SECS")]
    pub warmup_secs: Option<f64>,
    /// Seconds from the last search's start until the peers are stopped [default: 5, or
    /// 4 x TTL x the largest link latency, plus an expanding ring's rounds].
    #[arg(long, value_name = "SECS")]
    pub settle_secs: Option<f64>,
}

pub fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Shadow(args) => run_shadow(args),
    }
}

fn absolute(path: &Path) -> Result<PathBuf, std::io::Error> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

fn millis(secs: Option<f64>, flag: &str) -> Result<Option<u64>, String> {
    match secs {
        Some(s) if !(s.is_finite() && s >= 0.0) => {
            Err(format!("{flag} {s} is not a number of seconds >= 0"))
        }
        Some(s) => Ok(Some((s * 1000.0).round() as u64)),
        None => Ok(None),
    }
}

fn run_shadow(args: ShadowArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = TopologyConfig::load(&args.config)?;
    let binary = match &args.binary {
        Some(path) => absolute(path)?,
        None => std::env::current_exe()?,
    };
    if !binary.is_file() {
        eprintln!(
            "note: {} is not a file here; the hosts will run it as given",
            binary.display()
        );
    }
    let out = absolute(&args.out)?;
    let options = ShadowOptions {
        binary,
        out: out.clone(),
        warmup_ms: millis(args.warmup_secs, "--warmup-secs")?,
        settle_ms: millis(args.settle_secs, "--settle-secs")?,
    };
    let done = shadow::export(&config, &options)?;
    println!(
        "wrote {}: {} hosts, {} searches, {:.1} s of simulated time",
        out.join("shadow.yaml").display(),
        done.hosts,
        done.searches,
        done.stop_ms as f64 / 1000.0
    );
    println!(
        "wrote {}: {} vertices, {} edges",
        out.join("network.gml").display(),
        done.vertices,
        done.edges
    );
    if done.synthetic_files > 0 {
        println!(
            "wrote {} synthetic files under {}",
            done.synthetic_files,
            out.join("shares").display()
        );
    }
    for note in &done.notes {
        println!("note: {note}");
    }
    println!(
        "run: shadow {}\nthen: gnutella report shadow {}",
        out.join("shadow.yaml").display(),
        out.join("shadow.data").display()
    );
    Ok(())
}
