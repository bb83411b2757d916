//! Running a config's workload on a live network: each query from its peer at its time,
//! then waiting for the answers to settle.

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
