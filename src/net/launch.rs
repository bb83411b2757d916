//! `launch`: every peer of a topology config, in this process or spread over child
//! processes; overlay-up detection, the workload, the report, and clean shutdown on
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::NetConfig;
use super::from_config::{ConfigFactory, PrepareError};
use super::network::{bind_all, Network, NetworkError};
use super::report::{flooding_table, peak_rss_bytes, report_json, write_report, NetworkSummary};
use super::shard;
use super::workload::{run_workload, Settle};
use crate::node::record::Recorder;
use crate::topology::{ConfigError, TopologyConfig};

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
    Shard(#[from] shard::ShardError),
    #[error("cannot write the report to {path}: {source}")]
    Report {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Resolves when the user asks us to stop (Ctrl-C or SIGTERM).
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `launch` to the end.
pub async fn launch(options: LaunchOptions) -> Result<(), LaunchError> {
    let config = TopologyConfig::load(&options.config)?;
    match options.shards {
        Some(k) if k > 1 || config.peers.len() == 1 && k == 1 => {
            shard::launch_sharded(config, options).await
        }
        _ => launch_in_process(config, options).await,
    }
}

/// Net settings for a launch.
pub fn net_config(deflate: bool) -> NetConfig {
    NetConfig {
        deflate,
        ..NetConfig::default()
    }
}

/// Starts every peer of `config` in this process (ports 0 become ephemeral ports).
pub async fn start_in_process(
    config: Arc<TopologyConfig>,
    net: NetConfig,
) -> Result<Network, LaunchError> {
    let members: Vec<usize> = (0..config.peers.len()).collect();
    let mut factory = ConfigFactory::new(config.clone(), members)?;
    let mut plans = factory.plans();
    let listeners = bind_all(&mut plans).await?;
    let names = plans.iter().map(|p| p.id.clone()).collect();
    let recorder = Recorder::with_names(names);
    Ok(Network::start(
        plans,
        listeners,
        config.links(),
        Vec::new(),
        &mut factory,
        net,
        recorder,
    ))
}

async fn launch_in_process(
    config: TopologyConfig,
    options: LaunchOptions,
) -> Result<(), LaunchError> {
    let config = Arc::new(config);
    let started = Instant::now();
    let mut network = start_in_process(config.clone(), net_config(options.deflate)).await?;
    if network.peers().len() <= MAX_LISTED_PEERS {
        for p in network.peers() {
            println!("peer {:<8} listening on {}", p.id, p.listen);
        }
    }
    let overlay = tokio::select! {
        up = network.wait_overlay(options.overlay_timeout) => Some(up),
        _ = stop_signal() => None,
    };
    let mut summary = NetworkSummary {
        name: config.name.clone(),
        peers: config.peers.len(),
        links: network.links().len(),
        processes: 1,
        ..NetworkSummary::default()
    };
    match overlay {
        Some(Ok(_)) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            summary.overlay_up_ms = Some(ms);
            println!(
                "overlay up: {} peers, {} links in {ms:.0} ms",
                summary.peers, summary.links
            );
        }
        Some(Err(e)) => {
            network.shutdown().await;
            return Err(e.into());
        }
        None => {}
    }
    if overlay.is_some() {
        if options.run_workload {
            let settle = Settle {
                quiet: options.quiet,
                ..Settle::default()
            };
            tokio::select! {
                done = run_workload(&network, &config, settle) => { done?; }
                _ = stop_signal() => {}
            }
        } else {
            println!("running until Ctrl-C");
            stop_signal().await;
            network
                .settle(Duration::from_millis(50), Duration::from_millis(500))
                .await;
        }
    }
    summary.totals = network.totals();
    summary.rss_peak_bytes = peak_rss_bytes();
    let records = network.records().await;
    network.shutdown().await;
    finish_report(&options, &summary, &records)
}

/// Prints the table (or the JSON) and writes the report file.
pub fn finish_report(
    options: &LaunchOptions,
    summary: &NetworkSummary,
    records: &[crate::node::record::QueryRecord],
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
        println!("report written to {}", path.display());
    }
    Ok(())
}
