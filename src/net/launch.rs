//! `launch` in one process: every peer of a topology config, overlay-up detection, the
//! workload, the report, and clean shutdown on Ctrl-C or SIGTERM. (Peers spread over
//! child processes are `shard`'s; what both share is `launch_options`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::NetConfig;
use super::control;
use super::control_http::ControlServer;
use super::control_local::LocalControl;
use super::from_config::ConfigFactory;
use super::launch_options::{
    finish_report, net_config, write_peer_stats, LaunchError, LaunchOptions, MAX_LISTED_PEERS,
};
use super::network::{bind_all, Network};
use super::report::{peak_rss_bytes, NetworkSummary};
use super::signal::stop_signal;
use super::trace::start_tracing;
use super::workload::{
    has_roles, run_workload, tables_travel, tables_wait_max, tables_waited, wait_for_tables, Settle,
};
use crate::node::record::Recorder;
use crate::topology::TopologyConfig;

/// Starts every peer of `config` in this process (ports 0 become ephemeral ports).
pub async fn start_in_process(
    config: Arc<TopologyConfig>,
    net: NetConfig,
) -> Result<Network, LaunchError> {
    Ok(start_with_factory(config, net).await?.0)
}

/// [`start_in_process`], keeping the factory that built the peers (to start a stopped
/// one again as the same peer).
pub async fn start_with_factory(
    config: Arc<TopologyConfig>,
    net: NetConfig,
) -> Result<(Network, ConfigFactory), LaunchError> {
    let members: Vec<usize> = (0..config.peers.len()).collect();
    let mut factory = ConfigFactory::new(config.clone(), members)?;
    let mut plans = factory.plans();
    let listeners = bind_all(&mut plans).await?;
    factory.set_addresses(&plans.iter().map(|p| p.listen).collect::<Vec<_>>());
    let names = plans.iter().map(|p| p.id.clone()).collect();
    let recorder = Recorder::with_names(names);
    let network = Network::start(
        plans,
        listeners,
        config.links(),
        Vec::new(),
        &mut factory,
        net,
        recorder,
    );
    Ok((network, factory))
}

/// Runs `launch` with every peer of `config` in this process.
pub async fn launch_in_process(
    config: TopologyConfig,
    options: LaunchOptions,
) -> Result<(), LaunchError> {
    let config = Arc::new(config);
    let started = Instant::now();
    // The control API first: a port taken fails the launch before any peer starts.
    let (controller, mut calls) = control::channel();
    let server = match options.control {
        Some(addr) => {
            Some(ControlServer::start_with_ui(addr, controller, options.ui.clone()).await?)
        }
        None => None,
    };
    let (mut network, mut factory) =
        start_with_factory(config.clone(), net_config(options.deflate)).await?;
    // One stop signal for the whole run, installed before the first line we print.
    let stop = stop_signal();
    tokio::pin!(stop);
    if let Some(server) = &server {
        options.say(format_args!("control API on {}", server.url()));
        if options.ui.is_some() {
            options.say(format_args!("live page on {}/", server.url()));
        }
    }
    if network.peers().len() <= MAX_LISTED_PEERS {
        for p in network.peers() {
            options.say(format_args!("peer {:<8} listening on {}", p.id, p.listen));
        }
    }
    let overlay = tokio::select! {
        up = network.wait_overlay(options.overlay_timeout) => Some(up),
        _ = &mut stop => None,
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
            // A dynamic overlay's links are the ones its peers grew, not the config's.
            if network.peers().iter().any(|p| p.overlay().is_some()) {
                summary.links = network.live_links();
            }
            options.say(format_args!(
                "overlay up: {} peers, {} links in {ms:.0} ms",
                summary.peers, summary.links
            ));
            let feed = options.ui.as_ref().map(|ui| &ui.feed);
            if let Err(source) = start_tracing(
                &network,
                Some(config.name.clone()),
                options.trace.as_ref(),
                feed,
            ) {
                network.shutdown().await;
                return Err(options.trace_failed(source));
            }
        }
        Some(Err(e)) => {
            network.shutdown().await;
            return Err(e.into());
        }
        None => {}
    }
    if overlay.is_some() {
        let mut stopped = false;
        if options.run_workload {
            let settle = Settle {
                quiet: options.quiet,
                ..Settle::default()
            };
            let work = async {
                if has_roles(&config) {
                    let (waited, settled) =
                        wait_for_tables(&mut &network, tables_travel(&config), tables_wait_max())
                            .await;
                    options.say(tables_waited(waited, settled));
                }
                run_workload(&network, &config, settle).await
            };
            tokio::select! {
                done = work => { done?; }
                _ = &mut stop => { stopped = true; }
            }
        }
        // With the control API the launch stays up after its workload, until Ctrl-C.
        if !stopped && (server.is_some() || !options.run_workload) {
            options.say("running until Ctrl-C");
            if server.is_some() {
                let mut control = LocalControl {
                    network: &mut network,
                    factory: &mut factory,
                    config: &config,
                    summary: summary.clone(),
                    quiet: options.quiet,
                };
                tokio::select! {
                    _ = calls.serve(&mut control) => {}
                    _ = &mut stop => {}
                }
            } else {
                (&mut stop).await;
            }
            network
                .settle(Duration::from_millis(50), Duration::from_millis(500))
                .await;
        }
    }
    summary.totals = network.totals();
    summary.rss_peak_bytes = peak_rss_bytes();
    let records = network.records().await;
    let traced = network.finish_trace(&records).await;
    let peer_stats = match options.peer_stats {
        Some(_) => network.peer_stats(&factory).await,
        None => Vec::new(),
    };
    network.shutdown().await;
    write_peer_stats(&options, &peer_stats)?;
    if let (Some(trace), Err(source)) = (&options.trace, traced) {
        return Err(LaunchError::Trace {
            path: trace.path.clone(),
            source,
        });
    }
    finish_report(&options, &summary, &records)
}
