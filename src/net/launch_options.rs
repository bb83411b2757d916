//! What a launch is asked to do and how it ends, shared by a launch in one process
//! (`launch`) and one over child processes (`shard`), so neither needs the other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::config::NetConfig;
use super::control_http::ControlBindError;
use super::from_config::PrepareError;
use super::network::NetworkError;
use super::report::{flooding_table, report_json, write_report, NetworkSummary};
use super::shard_protocol::ShardError;
use crate::node::peer_stats::{to_json_lines, PeerStats};
use crate::node::record::QueryRecord;
use crate::topology::ConfigError;

/// Larger networks are not listed peer by peer on the terminal.
pub const MAX_LISTED_PEERS: usize = 64;

/// What `launch` was asked to do.
#[derive(Clone, Debug)]
pub struct LaunchOptions {
    pub config: PathBuf,
    /// `None`: every peer in this process; `Some(k)`: k child processes (capped at the
    /// number of peers, so `usize::MAX` means one process per peer).
    pub shards: Option<usize>,
    /// Worker threads per process (passed on to child processes).
    pub threads: Option<usize>,
    pub run_workload: bool,
    pub report: Option<PathBuf>,
    pub overlay_timeout: Duration,
    pub quiet: Duration,
    pub deflate: bool,
    /// Print the report as JSON on stdout instead of the table.
    pub json: bool,
    /// The binary to re-execute for child processes.
    pub exe: Arc<PathBuf>,
    /// Serve the control API here (loopback only); the launch then runs until Ctrl-C,
    /// after its workload too.
    pub control: Option<SocketAddr>,
    /// Write a flood trace (a launch in one process only).
    pub trace: Option<super::trace::TraceRequest>,
    /// Serve this live page beside the control API (which `control` then gives the
    /// address of); its feed gets the floods of a launch in one process.
    pub ui: Option<Arc<super::live_feed::UiPage>>,
    /// Write one JSON line of statistics per peer here (on exit).
    pub peer_stats: Option<PathBuf>,
}

/// Why a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Prepare(#[from] PrepareError),
    #[error("{0}")]
    Network(#[from] NetworkError),
    #[error("{0}")]
    Shard(#[from] ShardError),
    #[error("{0}")]
    Control(#[from] ControlBindError),
    #[error("cannot write the trace to {path}: {source}")]
    Trace {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the per-peer statistics to {path}: {source}")]
    PeerStats {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the report to {path}: {source}")]
    Report {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl LaunchOptions {
    /// Prints a line for the person watching ("listening on", "overlay up", ...): on
    /// stdout beside the table, on stderr when stdout holds the JSON report alone.
    pub fn say(&self, line: impl std::fmt::Display) {
        if self.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

impl LaunchOptions {
    /// The error of a trace that could not be written (at the requested path).
    pub fn trace_failed(&self, source: std::io::Error) -> LaunchError {
        LaunchError::Trace {
            path: self
                .trace
                .as_ref()
                .map(|t| t.path.clone())
                .unwrap_or_default(),
            source,
        }
    }
}

/// Net settings for a launch.
pub fn net_config(deflate: bool) -> NetConfig {
    NetConfig {
        deflate,
        ..NetConfig::default()
    }
}

/// Writes the per-peer statistics file, when one was asked for (`rows` in config order).
pub fn write_peer_stats(options: &LaunchOptions, rows: &[PeerStats]) -> Result<(), LaunchError> {
    let Some(path) = &options.peer_stats else {
        return Ok(());
    };
    crate::experiment::atomic_write::atomic_write(path, to_json_lines(rows)).map_err(|source| {
        LaunchError::PeerStats {
            path: path.clone(),
            source,
        }
    })?;
    options.say(format_args!(
        "per-peer statistics written to {}",
        path.display()
    ));
    Ok(())
}

/// Prints the table (or the JSON) and writes the report file.
pub fn finish_report(
    options: &LaunchOptions,
    summary: &NetworkSummary,
    records: &[QueryRecord],
) -> Result<(), LaunchError> {
    let report = report_json(summary, records);
    if options.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if !records.is_empty() {
        print!("{}", flooding_table(records));
    }
    if let Some(path) = &options.report {
        write_report(path, &report).map_err(|source| LaunchError::Report {
            path: path.clone(),
            source,
        })?;
        options.say(format_args!("report written to {}", path.display()));
    }
    Ok(())
}
