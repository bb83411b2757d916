//! Running a config's workload on a live network: each query from its peer at its time,
//! then waiting for the answers to settle. In a two-tier network the workload first waits
//! for the QRP tables, as the simulator's searches start after its tables arrived.

use std::time::{Duration, Instant};

use super::network::{Network, NetworkError};
use crate::protocol::Guid;
use crate::topology::{Scenario, TopologyConfig};

/// How long to wait for a flood to settle.
#[derive(Clone, Copy, Debug)]
pub struct Settle {
    /// No frame anywhere for this long means the answers are in.
    pub quiet: Duration,
    /// Upper bound on the wait after the last query started.
    pub max: Duration,
}

impl Default for Settle {
    fn default() -> Self {
        Settle {
            quiet: Duration::from_millis(300),
            max: Duration::from_secs(10),
        }
    }
}

/// Starts every workload query at its `at_ms` (from now), then waits for quiescence.
/// Returns the GUIDs in workload order.
pub async fn run_workload(
    network: &Network,
    config: &TopologyConfig,
    settle: Settle,
) -> Result<Vec<Guid>, NetworkError> {
    let scenario = Scenario::from_config(config);
    let mut queries: Vec<_> = scenario.queries.iter().collect();
    queries.sort_by_key(|q| q.at);
    let started = Instant::now();
    let mut guids = Vec::with_capacity(queries.len());
    for q in queries {
        let at = started + Duration::from_micros(q.at.0);
        tokio::time::sleep_until(at.into()).await;
        let id = scenario
            .peers
            .get(q.origin as usize)
            .map_or("", |p| p.id.as_str());
        let index = network.peer_index(id)?;
        guids.push(network.search(index, q.request()).await?);
    }
    network.settle(settle.quiet, settle.max).await;
    Ok(guids)
}

/// Whether some peer of `config` runs a two-tier role, so QRP tables travel once the
/// links are up.
pub fn has_roles(config: &TopologyConfig) -> bool {
    (0..config.peers.len()).any(|i| config.routing_of(i).role.is_some())
}

/// How often [`wait_for_tables`] asks, and how long a "none owed" must hold: a leaf's
/// table still on the wire makes its ultrapeer owe a merged one only once it arrives.
const TABLES_POLL: Duration = Duration::from_millis(250);

/// Peers that can say how many of them still owe a neighbour a QRP table: one
/// process's [`Network`], or a sharded launch's children.
pub(super) trait OwesTables {
    async fn tables_due(&mut self) -> usize;
}

impl OwesTables for &Network {
    async fn tables_due(&mut self) -> usize {
        Network::tables_due(self).await
    }
}

/// Waits until no peer owes a QRP table on two asks in a row, so the merged tables
/// ultrapeers send `MERGE_DELAY` after their leaves' tables are in place before the first
/// query, as in the simulator; then for `travel` (the config's longest link latency), the
/// time the last table sent may still be on its way. Gives up after `max` (a peer whose
/// leaves keep changing). Returns how long it waited and whether the tables settled.
pub(super) async fn wait_for_tables(
    peers: &mut impl OwesTables,
    travel: Duration,
    max: Duration,
) -> (Duration, bool) {
    let started = Instant::now();
    let mut quiet_asks = 0;
    loop {
        tokio::time::sleep(TABLES_POLL).await;
        quiet_asks = if peers.tables_due().await == 0 {
            quiet_asks + 1
        } else {
            0
        };
        if quiet_asks >= 2 {
            tokio::time::sleep(travel).await;
            return (started.elapsed(), true);
        }
        if started.elapsed() >= max {
            return (started.elapsed(), false);
        }
    }
}

/// How long a table just sent may still be on its way in `config`'s network: its
/// longest link latency (loopback itself is far below one poll).
pub fn tables_travel(config: &TopologyConfig) -> Duration {
    let ms = crate::topology::LinkModel::of(config).max_latency_ms();
    Duration::from_secs_f64((ms / 1000.0).clamp(0.0, 60.0))
}

/// The longest [`wait_for_tables`] waits: one merge pause and time for the tables to
/// travel.
pub fn tables_wait_max() -> Duration {
    Duration::from_micros(crate::node::MERGE_DELAY.0) + Duration::from_secs(10)
}

/// Says how the wait for the tables went.
pub fn tables_waited(waited: Duration, settled: bool) -> String {
    if settled {
        format!(
            "QRP tables in place after {:.0} ms",
            waited.as_secs_f64() * 1000.0
        )
    } else {
        format!(
            "QRP tables still changing after {:.0} s; starting the workload anyway",
            waited.as_secs_f64()
        )
    }
}
