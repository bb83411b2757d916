//! Clap subcommands that wire the layers together; no logic of their own.
//!
//! One file per subcommand: each defines its `Args` (with examples in `--help`) and a
//! `run` that returns an error for `main` to print.

pub mod demo;
pub mod experiment;
pub mod export;
pub mod launch;
pub mod memory_check;
pub mod peer;
pub mod progress;
pub mod report;
pub mod search;
pub mod sim;
pub mod topology;
pub mod trace;
pub mod ui;
pub mod view;

use clap::{Parser, Subcommand};
use gnutella::net::download::DownloadError;
use gnutella::net::launch_options::LaunchError;
use gnutella::net::shard_protocol::ShardError;

/// Exit status of `launch --shards`/`--processes` when child processes were lost: the
/// launch went on without them and wrote its report (see `network.lost_shards`).
pub const EXIT_SHARDS_LOST: i32 = 3;
/// Exit status of an interrupted download (Ctrl-C): the partial file is kept, and the
/// same command resumes it (128 + SIGINT, as shells report a Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// An unstructured Gnutella 0.6 search network, and the tools to study flooding search.
#[derive(Debug, Parser)]
#[command(name = "gnutella", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bars, spinners or memory notes on stderr (they are never drawn when
    /// stderr is not a terminal).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Launch the quickstart network, search, download, print a flooding table, exit.
    Demo(demo::Args),
    /// Run one peer: listen, connect to neighbours, share a folder.
    Peer(peer::Args),
    /// Launch every peer of a topology config.
    Launch(launch::Args),
    /// Join a network as a short-lived peer, flood a query, print (and download) hits.
    Search(search::Args),
    /// Simulate searches over a topology, deterministically, at any scale.
    Sim(Box<sim::Args>),
    /// Run a sweep of simulations and write results and plots.
    Experiment(experiment::Args),
    /// Generate topologies and print their statistics.
    #[command(subcommand)]
    Topology(topology::Command),
    /// Write a topology config as another engine's input (Shadow).
    #[command(subcommand)]
    Export(export::Command),
    /// Read another engine's outputs into the report `launch` writes (Shadow).
    #[command(subcommand)]
    Report(report::Command),
    /// Draw a flood trace as one self-contained HTML page that replays it.
    View(view::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    progress::set_quiet(cli.quiet);
    progress::observe_library_tasks();
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Peer(args) => peer::run(args),
        Command::Launch(args) => launch::run(args),
        Command::Search(args) => search::run(args),
        Command::Sim(args) => sim::run(*args),
        Command::Experiment(args) => experiment::run(args),
        Command::Topology(cmd) => topology::run(cmd),
        Command::Export(cmd) => export::run(cmd),
        Command::Report(cmd) => report::run(cmd),
        Command::View(args) => view::run(args),
    }
}

/// Prints why a command failed and returns the process's exit status: 3 when shards of a
/// launch were lost, 130 when a download was interrupted, 1 for every other error (and
/// clap's 2 for a bad command line, before this).
pub fn fail(e: &(dyn std::error::Error + 'static)) -> i32 {
    if let Some(DownloadError::Interrupted { part, kept, size }) = e.downcast_ref() {
        eprintln!("{}", search::interrupted_line(part, *kept, *size));
        return EXIT_INTERRUPTED;
    }
    eprintln!("error: {e}");
    match e.downcast_ref() {
        Some(LaunchError::Shard(ShardError::Lost { .. })) => EXIT_SHARDS_LOST,
        _ => 1,
    }
}
