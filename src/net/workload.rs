//! Running a config's workload on a live network: each query from its peer at its time,
//! then waiting for the answers to settle.

use std::time::{Duration, Instant};

use super::network::{Network, NetworkError};
use crate::node::SearchRequest;
use crate::protocol::{Guid, Sha1};
use crate::topology::TopologyConfig;

/// A search request from what a user typed: `urn:sha1:...` searches by hash, anything else
/// by keywords.
pub fn request_of(words: &str, ttl: u8) -> SearchRequest {
    match Sha1::from_urn(words.trim()) {
        Some(sha1) => SearchRequest {
            words: String::new(),
            sha1: Some(sha1),
            ttl,
        },
        None => SearchRequest {
            words: words.to_string(),
            sha1: None,
            ttl,
        },
    }
}

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
    let mut queries: Vec<_> = config.workload.queries.iter().collect();
    queries.sort_by_key(|q| q.at_ms);
    let started = Instant::now();
    let mut guids = Vec::with_capacity(queries.len());
    for q in queries {
        let at = started + Duration::from_millis(q.at_ms);
        tokio::time::sleep_until(at.into()).await;
        let index = network.peer_index(&q.from)?;
        guids.push(
            network
                .search(index, request_of(&q.words, config.ttl_of(q)))
                .await?,
        );
    }
    network.settle(settle.quiet, settle.max).await;
    Ok(guids)
}
